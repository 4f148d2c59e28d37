/* cmd_benchmark.c — `tassl benchmark -c SUITE.yaml [--set KEY=VALUE ...] [--out DIR] [--resume]
 * [--dry-run] [--quiet] [--device SPEC]`: read the suite (include/tassl/protocol.h), apply the
 * overrides in order (suite.* keys change the suite, other keys every cell), then run the grid
 * and aggregate it (tassl_bench_run). Exit status: 0 done, 1 failure, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/protocol.h"

void tassl_cmd_benchmark_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl benchmark -c SUITE.yaml [--set KEY=VALUE ...] [--out DIR] [--resume]\n"
        "                       [--dry-run] [--quiet] [--device SPEC]\n\n"
        "The evaluation protocol: fine-tune every initialisation (scratch, pretrained by the\n"
        "suite, or an existing checkpoint) at every label fraction / k-shot budget with every\n"
        "seed, on the same labelled subset per (budget, seed) for every init, then write\n"
        "results.json and results.csv (mean, std, 95%% Student-t interval over seeds, paired\n"
        "difference to scratch) and print the table. See docs/TASKS.md (Benchmark protocol),\n"
        "docs/PROTOCOL.md and configs/suites/.\n"
        "  -c, --config FILE  the suite file (suite.* keys)\n"
        "  --set KEY=VALUE    override a suite key (--set suite.seeds=[0,1]) or, for any other\n"
        "                     key, set it in every cell (--set train.steps=20); repeatable\n"
        "  --out DIR          the suite directory (default suite.out or runs/suite-<name>)\n"
        "  --resume           continue an existing suite directory: finished cells (eval.json)\n"
        "                     and complete pretraining runs are reused\n"
        "  --dry-run          print the grid (and what would be reused) and stop\n"
        "  --device SPEC      the device of every run (shorthand for --set device=SPEC)\n"
        "  --quiet            print nothing but errors\n");
}

static int usage(const char *msg, const char *arg) {
    fprintf(stderr, "tassl benchmark: ");
    fprintf(stderr, msg, arg);
    fputc('\n', stderr);
    return 2;
}

int tassl_cmd_benchmark(int argc, char **argv) {
    const char *file = NULL;
    tassl_bench_opts o = {0};
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing))) {
            /* applied after the file */
        } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
            if (file) return usage("one suite file only%s", "");
            file = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &missing))) {
            o.out = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            o.device = v;
        } else if (!missing && strcmp(argv[i], "--resume") == 0) {
            o.resume = true;
        } else if (!missing && strcmp(argv[i], "--dry-run") == 0) {
            o.dry_run = true;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            o.quiet = true;
        } else if (!missing) {
            return usage("unknown argument '%s' (see --help)", argv[i]);
        }
        if (missing) return usage("%s needs a value", argv[i]);
    }
    if (!file) return usage("give a suite file (-c SUITE.yaml)%s", "");
    tassl_suite s;
    if (tassl_suite_load(file, &s) != TASSL_OK) {
        fprintf(stderr, "tassl benchmark: %s\n", tassl_last_error());
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v = tassl_cli_opt(argc, argv, &i, "--set", &missing);
        if (v && tassl_suite_override(&s, v) != TASSL_OK) {
            fprintf(stderr, "tassl benchmark: %s\n", tassl_last_error());
            tassl_suite_free(&s);
            return 1;
        }
    }
    int rc = 0;
    if (tassl_suite_check(&s) != TASSL_OK || tassl_bench_run(&s, &o) != TASSL_OK) {
        fprintf(stderr, "tassl benchmark: %s\n", tassl_last_error());
        rc = 1;
    } else if (!o.quiet && !o.dry_run) {
        printf("cells: %d run, %d reused; pretraining: %d run, %d reused\n", o.cells_run,
               o.cells_reused, o.pretrain_run, o.pretrain_reused);
    }
    tassl_suite_free(&s);
    return rc;
}
