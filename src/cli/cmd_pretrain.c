/* cmd_pretrain.c — `tassl pretrain -c CONFIG [--set KEY=VALUE ...] [--resume RUN] [--force]`:
 * register the SSL keys, resolve the configuration (file, then overrides in order) and hand it to
 * tassl_pretrain(), which makes the run directory, pretrains, logs and checkpoints. Exit status:
 * 0 done, 1 failure, 2 usage, 130 / 143 stopped by SIGINT / SIGTERM (with a checkpoint). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/config.h"
#include "tassl/ssl.h"

void tassl_cmd_pretrain_help(FILE *out) {
    fprintf(out,
            "usage: tassl pretrain -c CONFIG.yaml [--set KEY=VALUE ...] [--run DIR] [--force]\n"
            "       tassl pretrain --resume RUN_DIR [--set KEY=VALUE ...]\n\n"
            "Self-supervised pretraining of an encoder as the configuration says (method.name;\n"
            "see docs/SSL.md and configs/*-2d.yaml, *-3d.yaml) into a run directory:\n"
            "config.yaml, metrics.jsonl (losses and components, lr, samples/s, collapse\n"
            "statistics), train.log, ckpt-<step>.safetensors, preview-<step>.png (generative).\n"
            "Ctrl-C (SIGINT) or SIGTERM finishes the step, writes a checkpoint and exits.\n"
            "  -c, --config FILE  YAML configuration (see `tassl config keys`)\n"
            "  --set KEY=VALUE    override one key (repeatable), e.g. --set train.steps=50\n"
            "  --device SPEC      shorthand for --set device=SPEC\n"
            "  --run DIR          run directory (instead of output.dir/output.name)\n"
            "  --force            replace the files of an existing run directory\n"
            "  --resume RUN_DIR   continue a run from its newest checkpoint, with its config.yaml\n"
            "  --stop-after N     stop after step N with a checkpoint, as an interruption would\n"
            "  --quiet            print nothing (train.log still gets everything)\n\n"
            "methods:\n");
    if (tassl_ssl_register_config() != TASSL_OK) return;
    for (int i = 0; i < tassl_ssl_method_count(); i++) {
        const tassl_ssl_method *m = tassl_ssl_method_at(i);
        fprintf(out, "  %-10s %-16s %s\n", m->name, m->paradigm, m->summary);
    }
    fprintf(out, "  %-10s %-16s %s\n", "hybrid", "hybrid",
            "a weighted set of the above on one encoder (method.hybrid.*)");
}

int tassl_cmd_pretrain(int argc, char **argv) {
    const char *file = NULL;
    tassl_pretrain_opts opts = {0};
    tassl_config *cfg = NULL;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end = NULL;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing)) ||
            (v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
        } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
            if (file) {
                fprintf(stderr, "tassl pretrain: one configuration file only\n");
                return 2;
            }
            file = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--resume", &missing))) {
            opts.resume = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--run", &missing))) {
            opts.run_dir = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--stop-after", &missing))) {
            opts.stop_after = strtoll(v, &end, 10);
            if (*end || opts.stop_after < 1) {
                fprintf(stderr, "tassl pretrain: --stop-after needs a step >= 1, got '%s'\n", v);
                return 2;
            }
        } else if (!missing && strcmp(argv[i], "--force") == 0) {
            opts.force = true;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            opts.quiet = true;
        } else if (!missing) {
            fprintf(stderr, "tassl pretrain: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl pretrain: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!file && !opts.resume) {
        fprintf(stderr, "tassl pretrain: give a configuration (-c FILE) or --resume RUN_DIR\n");
        return 2;
    }
    if (file && opts.resume) {
        fprintf(stderr, "tassl pretrain: --resume uses the run's own config.yaml; change keys "
                        "with --set instead of -c\n");
        return 2;
    }
    if (opts.resume && (opts.run_dir || opts.force)) {
        fprintf(stderr, "tassl pretrain: --resume continues RUN_DIR itself (no --run / --force)\n");
        return 2;
    }
    if (tassl_ssl_register_config() != TASSL_OK || tassl_config_new(&cfg) != TASSL_OK) goto fail;
    char *resumed = NULL;
    if (opts.resume) {
        size_t n = strlen(opts.resume) + 16;
        if (!(resumed = malloc(n))) goto fail;
        snprintf(resumed, n, "%s/config.yaml", opts.resume);
    }
    tassl_status s = tassl_config_load_file(cfg, resumed ? resumed : file);
    free(resumed);
    if (s != TASSL_OK) goto fail;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing))) {
            if (tassl_config_set(cfg, v) != TASSL_OK) goto fail;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            char a[512];
            snprintf(a, sizeof a, "device=%s", v);
            if (tassl_config_set(cfg, a) != TASSL_OK) goto fail;
        }
    }
    rc = tassl_pretrain(cfg, &opts) == TASSL_OK ? 0 : 1;
    if (rc)
        fprintf(stderr, "tassl pretrain: %s\n", tassl_last_error());
    else if (opts.interrupted)
        rc = 128 + opts.interrupted;
    tassl_config_free(cfg);
    return rc;
fail:
    fprintf(stderr, "tassl pretrain: %s\n", tassl_last_error());
    tassl_config_free(cfg);
    return 1;
}
