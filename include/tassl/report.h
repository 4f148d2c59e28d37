/* report.h — `tassl report DIR`: one self-contained HTML page with tables and figures of a
 * benchmark suite directory or of a single finetune run directory (formats: docs/PROTOCOL.md).
 *
 * Writes DIR/report.html and DIR/figures/NAME.png (cairo). The figures are also embedded in the
 * page as base64 data URIs and the page links nothing outside itself (no CDN, no web fonts), so
 * report.html alone can be mailed or opened offline in any browser.
 *
 * What a page holds:
 *   suite (DIR/results.json): summary (suite, task, primary metric, inits, fractions, seeds, date,
 *     tassl version), the results table of the primary metric (mean ± 95 % CI per init and label
 *     fraction, paired Δ vs scratch with its CI, best mean per fraction in bold) and of every other
 *     metric (folded), label-efficiency curves (metric vs label fraction, log x, CI bands), the
 *     paired difference to scratch with CI error bars, training curves of representative cells,
 *     the predictions of one representative cell, and the per-run metrics;
 *   run (DIR/eval.json, or only DIR/metrics.jsonl): summary, eval.json metrics, training curves
 *     (losses and val_* values vs step), and what predictions/ holds: a confusion matrix
 *     (classification), image | truth | prediction overlays (segmentation), boxes on the image
 *     (detection).
 * A missing optional piece (no predictions/, no metrics.jsonl) skips that figure with a note on
 * the page. report.html and each figure are written to a temporary name and renamed. Budgets
 * are label fractions and k-shot values (each kind gets its own label-efficiency figure).
 * Format details and conventions (lower-is-better metrics, [0, 1] axes, slice choice):
 * docs/PROTOCOL.md, "Reports".
 */
#ifndef TASSL_REPORT_H
#define TASSL_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tassl_report_opts {
    const char *title;   /* page title; NULL: "tassl report — <suite name or directory name>" */
    const char *metrics; /* comma-separated metrics for the label-efficiency and difference
                            figures of a suite; NULL or "": the primary metric; "all": every
                            metric of results.json's cells */
    int max_cases;       /* segmentation / detection records shown (default 4, at most 16) */
    int max_curves;      /* suite: label budgets whose training curves are drawn (default 2:
                            the smallest and the largest) */
} tassl_report_opts;

/* Defaults: title NULL, metrics NULL (primary), max_cases 4, max_curves 2. */
tassl_report_opts tassl_report_opts_default(void);

/* What tassl_report_write made (may be NULL). */
typedef struct tassl_report_info {
    bool suite;      /* DIR was a suite directory (else a run directory) */
    int figures;     /* figures written */
    int skipped;     /* figures skipped with a note on the page */
    char html[4096]; /* path of report.html */
} tassl_report_info;

/* Write DIR/report.html and DIR/figures/ for a suite directory (results.json) or a finetune run
 * directory (eval.json; a run with only metrics.jsonl gets its training curves). opts NULL:
 * defaults. Errors: TASSL_ERR_ARG when DIR is neither kind (the message names what was
 * expected), TASSL_ERR_FORMAT naming file and line for corrupt JSON / CSV / metrics.jsonl or a
 * missing required field, TASSL_ERR_IO on unreadable inputs or failed writes; a report that fails
 * leaves any earlier report.html in place. */
tassl_status tassl_report_write(const char *dir, const tassl_report_opts *opts,
                                tassl_report_info *info);

/* The results of a suite directory (results.json; results.csv's numbers when present) as
 * Markdown on out, for write-ups such as docs/RESULTS.md (`tassl report DIR --markdown`): one
 * line naming the suite, then for each metric of opts->metrics (NULL: the primary; "all": every
 * metric but the per-class ones) an init × budget table — mean ± 95 % CI half-width (n), the
 * paired difference Δ to scratch with its interval (bold when it excludes 0), the best mean per
 * budget in bold — and a table of runtime and memory per init (results.json "resources").
 * Errors: TASSL_ERR_ARG when DIR has no results.json or a metric is unknown, TASSL_ERR_FORMAT /
 * TASSL_ERR_IO as tassl_report_write. Writes nothing under DIR. */
tassl_status tassl_report_markdown(const char *dir, const tassl_report_opts *opts, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
