/* cmd_pretrain.c — `tassl pretrain -c CONFIG [--set KEY=VALUE ...] [--resume RUN] [--force]`:
 * register the SSL keys, resolve the configuration (file, then overrides in order) and hand it to
 * tassl_pretrain(), which makes the run directory, pretrains, logs and checkpoints. Exit status:
 * 0 done, 1 failure, 2 usage, 130 / 143 stopped by SIGINT / SIGTERM (with a checkpoint). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/task.h"
#include "tassl/config.h"
#include "tassl/ssl.h"

void tassl_cmd_pretrain_help(FILE *out) {
    fprintf(out,
            "usage: tassl pretrain -c CONFIG.yaml [--set KEY=VALUE ...] [--out DIR] [--force]\n"
            "       tassl pretrain --resume RUN_DIR [--set KEY=VALUE ...]\n\n"
            "Self-supervised pretraining of an encoder as the configuration says (method.name;\n"
            "see docs/SSL.md and configs/*-2d.yaml, *-3d.yaml) into a run directory:\n"
            "config.yaml, metrics.jsonl (losses and components, lr, samples/s, collapse\n"
            "statistics), train.log, ckpt-<step>.safetensors, preview-<step>.png (generative).\n"
            "Ctrl-C (SIGINT) or SIGTERM finishes the step, writes a checkpoint and exits.\n"
            "  -c, --config FILE  YAML configuration (see `tassl config keys`)\n"
            "  --set KEY=VALUE    override one key (repeatable), e.g. --set train.steps=50\n"
            "  --device SPEC      shorthand for --set device=SPEC\n"
            "  --out DIR          run directory (instead of output.dir/output.name); --run DIR: the same\n"
            "  --force            replace the files of an existing run directory\n"
            "  --resume RUN_DIR   continue a run from its newest checkpoint, with its config.yaml\n"
            "  --stop-after N     stop after step N with a checkpoint, as an interruption would\n"
            "  --quiet            print nothing (train.log still gets everything)\n\n"
            "methods:\n");
    if (tassl_task_register_config() != TASSL_OK) return;
    for (int i = 0; i < tassl_ssl_method_count(); i++) {
        const tassl_ssl_method *m = tassl_ssl_method_at(i);
        fprintf(out, "  %-10s %-16s %s\n", m->name, m->paradigm, m->summary);
    }
    fprintf(out, "  %-10s %-16s %s\n", "hybrid", "hybrid",
            "a weighted set of the above on one encoder (method.hybrid.*)");
}

int tassl_cmd_pretrain(int argc, char **argv) {
    if (tassl_task_register_config() != TASSL_OK) {
        fprintf(stderr, "tassl pretrain: %s\n", tassl_last_error());
        return 1;
    }
    tassl_cli_run_args a;
    tassl_config *cfg;
    int rc = tassl_cli_run_config("pretrain", argc, argv, &a, &cfg);
    if (rc) return rc;
    tassl_pretrain_opts opts = {0};
    opts.run_dir = a.run_dir;
    opts.resume = a.resume;
    opts.force = a.force;
    opts.quiet = a.quiet;
    opts.stop_after = a.stop_after;
    rc = tassl_pretrain(cfg, &opts) == TASSL_OK ? 0 : 1;
    if (rc)
        fprintf(stderr, "tassl pretrain: %s\n", tassl_last_error());
    else if (opts.interrupted)
        rc = 128 + opts.interrupted;
    tassl_config_free(cfg);
    return rc;
}
