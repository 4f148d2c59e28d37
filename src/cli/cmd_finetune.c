/* cmd_finetune.c — `tassl finetune -c CONFIG [--set KEY=VALUE ...] [--out DIR] [--force]
 * [--quiet]` (train a downstream task on its labelled subset, then evaluate: tassl_finetune) and
 * `tassl eval --checkpoint CKPT_OR_RUN [--data MANIFEST] [--split test] [--out DIR]` (evaluate a
 * finetuned checkpoint: tassl_task_evaluate). Exit status: 0 done, 1 failure, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/config.h"
#include "tassl/task.h"

void tassl_cmd_finetune_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl finetune -c CONFIG.yaml [--set KEY=VALUE ...] [--out DIR] [--force]\n"
        "                      [--quiet]\n\n"
        "Train a downstream task (task.kind: classification, segmentation, detection) on the\n"
        "labelled subset of a manifest's training split (task.label_fraction or task.shots,\n"
        "task.label_seed), from scratch or from a pretrained encoder (task.init: a checkpoint\n"
        "or a pretraining run directory), with a protocol (task.protocol: finetune, linear,\n"
        "knn, frozen), then evaluate task.eval_split. The run directory gets config.yaml,\n"
        "metrics.jsonl, train.log, ckpt-<step>.safetensors, eval.json and predictions/\n"
        "(docs/TASKS.md, docs/PROTOCOL.md; examples in configs/tasks/).\n"
        "  -c, --config FILE  YAML configuration (see `tassl config keys`)\n"
        "  --set KEY=VALUE    override one key (repeatable), e.g. --set task.label_fraction=0.1\n"
        "  --device SPEC      shorthand for --set device=SPEC\n"
        "  --out DIR          run directory (instead of output.dir/output.name)\n"
        "  --force            replace the files of an existing run directory\n"
        "  --quiet            print nothing (train.log still gets everything)\n");
}

void tassl_cmd_eval_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl eval --checkpoint CKPT_OR_RUN [--data MANIFEST] [--split val|test|train]\n"
        "                  [--out DIR] [--device SPEC] [--quiet]\n\n"
        "Evaluate a finetuned model (a checkpoint file, or a run directory: its newest\n"
        "checkpoint and config.yaml) on a manifest's split and print the metrics. The model\n"
        "and task come from the run's configuration; --data defaults to its data.path and\n"
        "--split to its task.eval_split. With --out, DIR gets eval.json and predictions/.\n"
        "  --checkpoint PATH  checkpoint file or finetune run directory\n"
        "  --data MANIFEST    labelled CSV manifest (docs/DATA.md)\n"
        "  --split NAME       split to evaluate\n"
        "  --out DIR          write eval.json and predictions/ there\n"
        "  --device SPEC      evaluate on this device instead of the run's\n"
        "  --quiet            print nothing\n");
}

static int usage(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "tassl %s: ", cmd);
    fprintf(stderr, msg, arg);
    fputc('\n', stderr);
    return 2;
}

int tassl_cmd_finetune(int argc, char **argv) {
    if (tassl_task_register_config() != TASSL_OK) {
        fprintf(stderr, "tassl finetune: %s\n", tassl_last_error());
        return 1;
    }
    const char *file = NULL;
    tassl_finetune_opts o = tassl_finetune_opts_default();
    for (int i = 1; i < argc; i++) { /* pass 1: everything but the overrides */
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing)) ||
            (v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
        } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
            if (file) return usage("finetune", "one configuration file only%s", "");
            file = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &missing))) {
            o.run_dir = v;
        } else if (!missing && strcmp(argv[i], "--force") == 0) {
            o.force = true;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            o.quiet = true;
        } else if (!missing) {
            return usage("finetune", "unknown argument '%s' (see --help)", argv[i]);
        }
        if (missing) return usage("finetune", "%s needs a value", argv[i]);
    }
    if (!file) return usage("finetune", "give a configuration (-c FILE)%s", "");
    tassl_config *cfg = NULL;
    tassl_status s = tassl_config_new(&cfg);
    if (s == TASSL_OK) s = tassl_config_load_file(cfg, file);
    for (int i = 1; i < argc && s == TASSL_OK; i++) { /* pass 2: overrides in order */
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing))) {
            s = tassl_config_set(cfg, v);
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            char kv[512];
            snprintf(kv, sizeof kv, "device=%s", v);
            s = tassl_config_set(cfg, kv);
        }
    }
    tassl_task_result r;
    if (s == TASSL_OK) s = tassl_finetune(cfg, &o, &r);
    tassl_config_free(cfg);
    if (s != TASSL_OK) {
        fprintf(stderr, "tassl finetune: %s\n", tassl_last_error());
        return 1;
    }
    return 0;
}

int tassl_cmd_eval(int argc, char **argv) {
    if (tassl_task_register_config() != TASSL_OK) {
        fprintf(stderr, "tassl eval: %s\n", tassl_last_error());
        return 1;
    }
    const char *ckpt = NULL, *data = NULL, *split = NULL, *out = NULL, *device = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--checkpoint", &missing))) {
            ckpt = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--data", &missing))) {
            data = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--split", &missing))) {
            if (strcmp(v, "train") != 0 && strcmp(v, "val") != 0 && strcmp(v, "test") != 0)
                return usage("eval", "--split takes train, val or test, not '%s'", v);
            split = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &missing))) {
            out = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            device = v;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (!missing) {
            return usage("eval", "unknown argument '%s' (see --help)", argv[i]);
        }
        if (missing) return usage("eval", "%s needs a value", argv[i]);
    }
    if (!ckpt) return usage("eval", "give --checkpoint CKPT_OR_RUN%s", "");
    tassl_config *cfg = NULL;
    tassl_status s = TASSL_OK;
    if (device) { /* the run's configuration with another device */
        char path[4096];
        snprintf(path, sizeof path, "%s/config.yaml", ckpt);
        FILE *f = fopen(path, "r");
        if (!f)
            return usage("eval", "--device needs a run directory (with config.yaml), not '%s'",
                         ckpt);
        fclose(f);
        char kv[512];
        snprintf(kv, sizeof kv, "device=%s", device);
        s = tassl_config_new(&cfg);
        if (s == TASSL_OK) s = tassl_config_load_file(cfg, path);
        if (s == TASSL_OK) s = tassl_config_set(cfg, kv);
    }
    tassl_task_result r;
    if (s == TASSL_OK) s = tassl_task_evaluate(cfg, ckpt, data, split, out, quiet, &r);
    tassl_config_free(cfg);
    if (s != TASSL_OK) {
        fprintf(stderr, "tassl eval: %s\n", tassl_last_error());
        return 1;
    }
    return 0;
}
