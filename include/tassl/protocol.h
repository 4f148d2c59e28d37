/* protocol.h — the standardised evaluation protocol: `tassl benchmark -c SUITE.yaml` runs a grid
 * of downstream fine-tunings (initialisations × label budgets × seeds), each a tassl_finetune run
 * (task.h), and aggregates them into results.json / results.csv (docs/PROTOCOL.md): mean, sample
 * standard deviation and Student-t 95 % interval over seeds, and the paired difference to the
 * from-scratch baseline per seed (the same labelled subset and seed for every initialisation).
 *
 * A suite file (docs/TASKS.md, "Benchmark protocol"; configs/suites/):
 *   suite:
 *     name: lesion-cls-tiny            # [A-Za-z0-9_.-]
 *     task: configs/tasks/x.yaml       # the base finetune configuration of every cell
 *     inits: [scratch, "simclr=configs/simclr-2d.yaml", "mine=runs/x"]
 *     pretrain_set: {train.steps: 200} # overrides of every pretraining the suite runs
 *     fractions: [0.01, 0.05, 0.1, 0.25, 1.0]    # and/or
 *     shots: [1, 5]                    # k labelled subjects per class
 *     seeds: [0, 1, 2]
 *     set: {train.steps: 100}          # overrides of every cell (also a list of "KEY=VALUE")
 *     primary: ""                      # the metric of the table ("" = the task's primary)
 *     out: ""                          # the suite directory ("" = runs/suite-<name>)
 *     synth: {n: 120, dims: 2, size: [64, 64], seed: 7}   # optional synthetic data
 * Paths are relative to the working directory. Unknown keys, wrong types and bad values are
 * errors "FILE:LINE:COL: suite.KEY: ..." (an unknown key suggests the closest one).
 *
 * The suite's keys are read by this layer's own small reader (libyaml) rather than registered
 * in the configuration registry: registered keys would be part of every configuration written
 * in the process (each cell's config.yaml), which other processes could then not read back.
 */
#ifndef TASSL_PROTOCOL_H
#define TASSL_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "config.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- statistics (double; non-finite inputs are skipped) ------------------------------------- */

/* Regularised incomplete beta function I_x(a, b) (a, b > 0, x in [0, 1]) by the continued
 * fraction of Numerical Recipes (Press et al., 3rd ed., §6.4) evaluated with the modified Lentz
 * method, using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly;
 * the prefactor 1/B(a, b) from Stirling's series when max(a, b) ≥ 50 (lgamma's absolute error
 * grows with its argument).
 * NaN on bad arguments. */
double tassl_stat_betainc(double a, double b, double x);
/* Student-t cumulative distribution with df > 0 degrees of freedom:
 * F(t) = 1 − ½ I_{df/(df+t²)}(df/2, ½) for t ≥ 0, symmetric. Accurate to ~1e-13 up to df 1e5
 * and ~5e-12 at df 1e7 (tests/test_protocol.c). */
double tassl_stat_t_cdf(double t, double df);
/* Student-t quantile: the t with F(t) = p, p in (0, 1), df > 0, found by inverting
 * tassl_stat_t_cdf (bracketing, then bisection to machine precision); df = 1 and 2 in closed
 * form; df > 1e4 by the Cornish-Fisher expansion around the normal quantile (Abramowitz &
 * Stegun 26.7.5). Agrees with 40-digit mpmath values to 1e-12 relative (tests/golden/stats;
 * scipy.stats.t.ppf itself is off by up to ~2e-9). NaN on bad arguments. */
double tassl_stat_t_quantile(double p, double df);

/* Mean of the finite values of x (n); NaN when there is none. */
double tassl_stat_mean(const double *x, int n);
/* Sample standard deviation (n − 1 in the denominator, two-pass) of the finite values; NaN when
 * fewer than two. */
double tassl_stat_std(const double *x, int n);

typedef struct tassl_stat_summary {
    int n;            /* finite values used */
    double mean, std; /* std NaN when n < 2; mean NaN when n = 0 */
    double ci_lo, ci_hi; /* mean ∓ t_{(1+level)/2, n−1} · std / √n; n = 1 or std = 0: [mean, mean];
                            n = 0: NaN */
} tassl_stat_summary;

/* Summary of the finite values of x (n) with a `level` (e.g. 0.95) Student-t interval. */
tassl_stat_summary tassl_stat_summarise(const double *x, int n, double level);
/* Paired difference a[i] − b[i] over the i where both are finite, summarised the same way. */
tassl_stat_summary tassl_stat_paired(const double *a, const double *b, int n, double level);

/* ---- suites --------------------------------------------------------------------------------- */

typedef enum tassl_suite_init_kind {
    TASSL_SUITE_INIT_SCRATCH = 0, /* "scratch": random initialisation (task.init = "") */
    TASSL_SUITE_INIT_PRETRAIN, /* "name=CONFIG.yaml": pretrained by the suite into pretrain/<name>/
                                */
    TASSL_SUITE_INIT_CHECKPOINT, /* "name=PATH": an existing run directory or checkpoint file */
} tassl_suite_init_kind;

typedef struct tassl_suite_init {
    char name[64]; /* [a-z0-9_-]; "scratch" is the baseline */
    tassl_suite_init_kind kind;
    char *path; /* the pretraining config or the checkpoint / run directory; NULL for scratch */
} tassl_suite_init;

/* One label budget: a fraction of the training subjects, or k subjects per class. */
typedef struct tassl_suite_budget {
    double fraction; /* (0, 1]; 0 for a k-shot budget */
    int shots;       /* > 0 for a k-shot budget */
    char label[32];  /* the cell directory level: "f0.05", "f1", "k5" */
} tassl_suite_budget;

typedef struct tassl_suite {
    char *file; /* the suite file (for messages) */
    char *name, *task, *primary, *out;
    int ninits;
    tassl_suite_init *inits;
    int nbudgets; /* the fractions in file order, then the shots */
    tassl_suite_budget *budgets;
    int nseeds;
    int64_t *seeds;
    int nset, npretrain_set;
    char **set, **pretrain_set;     /* "KEY=VALUE" overrides */
    bool synth;                     /* suite.synth given: synthetic data under SUITE_DIR/data */
    int64_t synth_n, synth_size[3]; /* size (D, H, W), D = 1 in 2D */
    int synth_dims;
    uint64_t synth_seed;
    double synth_lesion_prob;
} tassl_suite;

/* Read a suite file. On error *out is left zeroed and the message names FILE:LINE:COL and the
 * key (unknown keys, wrong types, a fraction outside (0, 1], duplicate inits or seeds, an empty
 * grid, no "scratch" init). Overrides in suite.set / pretrain_set are checked against the
 * registered configuration keys (tassl_protocol_register_config first). */
tassl_status tassl_suite_load(const char *path, tassl_suite *out);
/* The same for YAML text; `origin` names it in messages. */
tassl_status tassl_suite_load_string(const char *text, const char *origin, tassl_suite *out);
/* The checks of the whole suite: suite.name, suite.task and suite.inits given, at least one label
 * budget and one seed (TASSL_ERR_ARG naming the file and key). */
tassl_status tassl_suite_check(const tassl_suite *s);
void tassl_suite_free(tassl_suite *s);
/* Apply one --set override to the suite (KEY=VALUE with a suite.* key, e.g. "suite.seeds=[0,1]")
 * with the file's validation of that key; a key that is not suite.* is added to suite.set (every
 * cell). The whole suite is checked by tassl_suite_check after the last override (so that
 * "suite.fractions=[]" then "suite.shots=[5]" works); tassl_bench_run checks it too. */
tassl_status tassl_suite_override(tassl_suite *s, const char *assignment);
/* The resolved suite as YAML (reads back to the same suite). */
tassl_status tassl_suite_write(const tassl_suite *s, FILE *f);

/* Cells: index = (init · nbudgets + budget) · nseeds + seed. */
int tassl_suite_cells(const tassl_suite *s);
/* The cell directory relative to the suite directory: "cells/<init>/<budget label>/s<seed>". */
void tassl_suite_cell_dir(const tassl_suite *s, int init, int budget, int seed, char *buf,
                          size_t len);

/* Register every configuration key a suite may override (SSL and task keys). Idempotent. */
tassl_status tassl_protocol_register_config(void);

/* ---- running and aggregation ---------------------------------------------------------------- */

typedef struct tassl_bench_opts {
    const char *out;    /* suite directory; NULL: suite.out or runs/suite-<name> */
    bool resume;        /* continue an existing suite directory (finished cells are reused) */
    bool dry_run;       /* print the grid (and what would be reused) and stop */
    bool quiet;         /* no progress lines or table on stdout */
    const char *device; /* NULL or a device spec for every run (--set device=...) */
    FILE *log;          /* progress and the table (NULL: stdout) */
    /* out */
    int cells_run, cells_reused, pretrain_run, pretrain_reused;
} tassl_bench_opts;

/* Run the suite. First everything is checked (the task config with the overrides and every
 * budget, each pretraining config, each checkpoint init; a finished cell's config.yaml and an
 * earlier pretraining's must equal what the suite gives them now, except result-neutral keys:
 * TASSL_ERR_ARG naming the directory and key); then synthetic data (once), pretraining of the
 * pretrain inits (reused when its newest checkpoint has reached train.steps, resumed when it has
 * not), every cell not yet finished (eval.json) with one progress line each, and
 * tassl_bench_aggregate (also after a failed cell, for what has finished). A suite directory
 * that exists and is not empty needs opts->resume. */
tassl_status tassl_bench_run(const tassl_suite *s, tassl_bench_opts *opts);

/* Read every cell's eval.json under dir (cells without one are left out of the statistics and
 * reported as missing) and write dir/results.json and dir/results.csv atomically
 * (docs/PROTOCOL.md). table (may be NULL) receives the init × budget table of the primary metric
 * (mean ± CI half-width, Δ vs scratch). TASSL_ERR_FORMAT naming the file on a malformed
 * eval.json. */
tassl_status tassl_bench_aggregate(const tassl_suite *s, const char *dir, FILE *table);

#ifdef __cplusplus
}
#endif
#endif
