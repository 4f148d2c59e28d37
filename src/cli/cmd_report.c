/* cmd_report.c — `tassl report DIR`: DIR/report.html (self-contained, figures embedded) and
 * DIR/figures/NAME.png for a benchmark suite directory or a finetune run directory
 * (include/tassl/report.h, docs/PROTOCOL.md "Reports"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/report.h"

void tassl_cmd_report_help(FILE *out) {
    fprintf(out,
            "usage: tassl report DIR [--metrics M1,M2|all] [--cases N] [--curves N]\n"
            "                        [--title TEXT] [--quiet]\n"
            "       tassl report SUITE_DIR --markdown [--metrics M1,M2|all]\n\n"
            "Writes DIR/report.html, one self-contained page (figures embedded, nothing loaded\n"
            "from the network) with DIR/figures/NAME.png beside it. DIR is a suite directory\n"
            "(results.json, results.csv, cells/ from `tassl benchmark`) or a finetune run\n"
            "directory (eval.json, metrics.jsonl, predictions/ from `tassl finetune`).\n"
            "Suite: summary, results tables (mean +- 95 %% CI, paired difference to scratch),\n"
            "label-efficiency curves, differences to scratch, training curves, predictions of\n"
            "a representative cell, all runs. Run: eval.json metrics, training curves, and a\n"
            "confusion matrix, segmentation overlays or detection boxes from predictions/.\n\n"
            "  --metrics LIST  suite figures for these metrics (default: the primary metric;\n"
            "                  'all': every metric in results.json)\n"
            "  --cases N       segmentation/detection records shown (default 4, at most 16)\n"
            "  --curves N      suite: label fractions with training curves (default 2:\n"
            "                  the smallest and the largest)\n"
            "  --title TEXT    page title\n"
            "  --markdown      print the suite's tables (mean +- CI, paired difference to\n"
            "                  scratch, runtime and memory per init) as Markdown on stdout\n"
            "                  instead of writing report.html\n"
            "  --quiet         print nothing on success\n");
}

int tassl_cmd_report(int argc, char **argv) {
    tassl_report_opts o = tassl_report_opts_default();
    const char *dir = NULL;
    int quiet = 0, markdown = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end;
        if ((v = tassl_cli_opt(argc, argv, &i, "--metrics", &missing)))
            o.metrics = v;
        else if (!missing && (v = tassl_cli_opt(argc, argv, &i, "--title", &missing)))
            o.title = v;
        else if (!missing && (v = tassl_cli_opt(argc, argv, &i, "--cases", &missing))) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 16) {
                fprintf(stderr, "tassl report: --cases '%s': expected an integer in 1..16\n", v);
                return 2;
            }
            o.max_cases = (int)n;
        } else if (!missing && (v = tassl_cli_opt(argc, argv, &i, "--curves", &missing))) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 64) {
                fprintf(stderr, "tassl report: --curves '%s': expected an integer in 1..64\n", v);
                return 2;
            }
            o.max_curves = (int)n;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (!missing && strcmp(argv[i], "--markdown") == 0)
            markdown = 1;
        else if (!missing && argv[i][0] != '-' && !dir)
            dir = argv[i];
        else if (!missing) {
            fprintf(stderr, "tassl report: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl report: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "tassl report: usage: tassl report DIR (see --help)\n");
        return 2;
    }
    if (markdown) {
        if (tassl_report_markdown(dir, &o, stdout) != TASSL_OK) {
            fprintf(stderr, "tassl report: %s\n", tassl_last_error());
            return 1;
        }
        return 0;
    }
    tassl_report_info info;
    if (tassl_report_write(dir, &o, &info) != TASSL_OK) {
        fprintf(stderr, "tassl report: %s\n", tassl_last_error());
        return 1;
    }
    if (!quiet)
        printf("%s: %s report, %d figure%s (in %s/figures/)%s%d skipped with a note\n", info.html,
               info.suite ? "suite" : "run", info.figures, info.figures == 1 ? "" : "s", dir, ", ",
               info.skipped);
    return 0;
}
