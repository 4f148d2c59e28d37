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
            "usage: tassl train -c CONFIG.yaml [--set KEY=VALUE ...] [--out DIR] [--force]\n"
            "       tassl train --resume RUN_DIR [--set KEY=VALUE ...]\n\n"
            "Trains as the configuration says (for now: supervised classification with a ResNet\n"
            "on the synthetic lesion-quadrant task) into a run directory (output.dir/output.name,\n"
            "default runs/<date>-<time>-<method>/): config.yaml (resolved), metrics.jsonl,\n"
            "train.log and ckpt-<step>.safetensors (the last train.keep_last).\n"
            "  -c, --config FILE  YAML configuration (see `tassl config keys`, docs/CONFIG.md)\n"
            "  --set KEY=VALUE    override one key (repeatable), e.g. --set model.depth=18\n"
            "  --device SPEC      shorthand for --set device=SPEC\n"
            "  --out DIR          run directory (instead of output.dir/output.name); --run DIR: the same\n"
            "  --force            replace the files of an existing run directory\n"
            "  --resume RUN_DIR   continue a run from its newest checkpoint, with its config.yaml\n"
            "                     (--set may change keys such as train.steps)\n"
            "  --stop-after N     stop after step N with a checkpoint, as an interruption would\n"
            "  --quiet            print nothing (train.log still gets everything)\n");
}

int tassl_cmd_train(int argc, char **argv) {
    tassl_cli_run_args a;
    tassl_config *cfg;
    int rc = tassl_cli_run_config("train", argc, argv, &a, &cfg);
    if (rc) return rc;
    tassl_train_opts opts = {0};
    opts.run_dir = a.run_dir;
    opts.resume = a.resume;
    opts.force = a.force;
    opts.quiet = a.quiet;
    opts.stop_after = a.stop_after;
    rc = tassl_train(cfg, &opts) == TASSL_OK ? 0 : 1;
    if (rc) fprintf(stderr, "tassl train: %s\n", tassl_last_error());
    tassl_config_free(cfg);
    return rc;
}
