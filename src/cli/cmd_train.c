/* cmd_train.c — `tassl train -c CONFIG [--set KEY=VALUE ...] [--resume RUN] [--force]`: resolve
 * the configuration (file, then overrides in order), then hand it to tassl_train(), which makes
 * the run directory, trains, logs and checkpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/config.h"
#include "tassl/run.h"

void tassl_cmd_train_help(FILE *out) {
    fprintf(out,
            "usage: tassl train -c CONFIG.yaml [--set KEY=VALUE ...] [--run DIR] [--force]\n"
            "       tassl train --resume RUN_DIR [--set KEY=VALUE ...]\n\n"
            "Trains as the configuration says (for now: supervised classification with a ResNet\n"
            "on the synthetic lesion-quadrant task) into a run directory (output.dir/output.name,\n"
            "default runs/<date>-<time>-<method>/): config.yaml (resolved), metrics.jsonl,\n"
            "train.log and ckpt-<step>.safetensors (the last train.keep_last).\n"
            "  -c, --config FILE  YAML configuration (see `tassl config keys`, docs/CONFIG.md)\n"
            "  --set KEY=VALUE    override one key (repeatable), e.g. --set model.depth=18\n"
            "  --device SPEC      shorthand for --set device=SPEC\n"
            "  --run DIR          run directory (instead of output.dir/output.name)\n"
            "  --force            replace the files of an existing run directory\n"
            "  --resume RUN_DIR   continue a run from its newest checkpoint, with its config.yaml\n"
            "                     (--set may change keys such as train.steps)\n"
            "  --stop-after N     stop after step N with a checkpoint, as an interruption would\n"
            "  --quiet            print nothing (train.log still gets everything)\n");
}

int tassl_cmd_train(int argc, char **argv) {
    const char *file = NULL;
    tassl_train_opts opts = {0};
    tassl_config *cfg = NULL;
    int rc = 2;
    /* pass 0: options; pass 1: overrides, applied after the file in command-line order */
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end = NULL;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing)) ||
            (v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
        } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
            if (file) {
                fprintf(stderr, "tassl train: one configuration file only\n");
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
                fprintf(stderr, "tassl train: --stop-after needs a step >= 1, got '%s'\n", v);
                return 2;
            }
        } else if (!missing && strcmp(argv[i], "--force") == 0) {
            opts.force = true;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            opts.quiet = true;
        } else if (!missing) {
            fprintf(stderr, "tassl train: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl train: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!file && !opts.resume) {
        fprintf(stderr, "tassl train: give a configuration (-c FILE) or --resume RUN_DIR\n");
        return 2;
    }
    if (file && opts.resume) {
        fprintf(stderr, "tassl train: --resume uses the run's own config.yaml; change keys with "
                        "--set instead of -c\n");
        return 2;
    }
    if (opts.resume && (opts.run_dir || opts.force)) {
        fprintf(stderr, "tassl train: --resume continues RUN_DIR itself (no --run / --force)\n");
        return 2;
    }
    if (tassl_config_new(&cfg) != TASSL_OK) goto fail;
    char *resumed = NULL;
    if (opts.resume) {
        size_t n = strlen(opts.resume) + 16;
        resumed = malloc(n);
        if (!resumed) goto fail;
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
    rc = tassl_train(cfg, &opts) == TASSL_OK ? 0 : 1;
    if (rc) fprintf(stderr, "tassl train: %s\n", tassl_last_error());
    tassl_config_free(cfg);
    return rc;
fail:
    fprintf(stderr, "tassl train: %s\n", tassl_last_error());
    tassl_config_free(cfg);
    return 1;
}
