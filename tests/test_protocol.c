/* test_protocol.c — the benchmark protocol (include/tassl/protocol.h): statistics against SciPy
 * (tests/golden/stats, tools/gen-stats-fixtures) and closed forms; suite files and their errors;
 * the grid and cell directories; aggregation of hand-written eval.json files into results.json /
 * results.csv (means, intervals, paired differences); reuse of finished cells; and an end-to-end
 * tiny suite (synthetic 2D classification, scratch + a few-step SimCLR pretraining, kNN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "golden/stats/stats_golden.h"
#include "tassl/protocol.h"
#include "tassl/task.h"
#include "test_util.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void close_rel(double got, double want, double rel, const char *what) {
    if (isnan(want)) {
        if (!isnan(got)) fail_msg("%s: got %.17g, want NaN", what, got);
        return;
    }
    double tol = rel * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol)) fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

/* ---- statistics ----------------------------------------------------------------------------- */

static void test_betainc_scipy(void **state) {
    (void)state;
    for (int i = 0; i < N(sg_betainc_cases); i++) {
        const sg_betainc *c = &sg_betainc_cases[i];
        char w[128];
        snprintf(w, sizeof w, "I_%g(%g, %g)", c->x, c->a, c->b);
        close_rel(tassl_stat_betainc(c->a, c->b, c->x), c->value, 1e-12, w);
    }
    assert_true(isnan(tassl_stat_betainc(-1, 1, 0.5)));
    assert_true(isnan(tassl_stat_betainc(1, 1, 1.5)));
}

static void test_t_quantile_scipy(void **state) {
    (void)state;
    for (int i = 0; i < N(sg_tq_cases); i++) {
        const sg_tq *c = &sg_tq_cases[i];
        char w[128];
        snprintf(w, sizeof w, "t(p=%g, df=%g)", c->p, c->df);
        close_rel(tassl_stat_t_quantile(c->p, c->df), c->q, 1e-12, w);
        /* the CDF inverts it (SciPy's own quantiles are only ~1e-9 exact in places, hence
         * mpmath's in the fixture and this check on ours) */
        close_rel(tassl_stat_t_cdf(tassl_stat_t_quantile(c->p, c->df), c->df), c->p,
                  c->df <= 1e5 ? 1e-12 : 1e-11, w);
    }
}

static void test_t_quantile_hand(void **state) {
    (void)state;
    /* df = 1 (Cauchy): tan(π(p − ½)); df = 2: (2p − 1) / sqrt(2p(1 − p)) */
    close_rel(tassl_stat_t_quantile(0.975, 1), tan(M_PI * 0.475), 1e-14, "df 1");
    close_rel(tassl_stat_t_quantile(0.975, 2), 0.95 / sqrt(2 * 0.975 * 0.025), 1e-14, "df 2");
    /* printed tables: t_{0.975} for df 4, 9, 29 */
    close_rel(tassl_stat_t_quantile(0.975, 4), 2.776445105, 1e-9, "df 4");
    close_rel(tassl_stat_t_quantile(0.975, 9), 2.262157163, 1e-9, "df 9");
    close_rel(tassl_stat_t_quantile(0.975, 29), 2.045229642, 1e-9, "df 29");
    /* the normal limit */
    /* large df: z + (z³ + z) / (4 df) to first order (z the normal quantile) */
    double z = 1.959963984540054;
    close_rel(tassl_stat_t_quantile(0.975, 1e9), z + (z * z * z + z) / 4e9, 1e-14, "df 1e9");
    close_rel(tassl_stat_t_quantile(0.995, 1e5), 2.5758784699083748, 1e-11, "df 1e5");
    close_rel(tassl_stat_t_quantile(0.995, 9999), 2.5763210958565974, 1e-11, "df 9999");
    assert_true(tassl_stat_t_quantile(0.5, 7) == 0);
    close_rel(tassl_stat_t_quantile(0.025, 5), -tassl_stat_t_quantile(0.975, 5), 1e-15, "sym");
    assert_true(isnan(tassl_stat_t_quantile(1.0, 3)));
    assert_true(isnan(tassl_stat_t_quantile(0.9, 0)));
}

static void test_summary_scipy(void **state) {
    (void)state;
    for (int i = 0; i < N(sg_samples); i++) {
        const sg_sample *c = &sg_samples[i];
        tassl_stat_summary s = tassl_stat_summarise(c->x, c->n, 0.95);
        assert_int_equal(s.n, c->n);
        close_rel(s.mean, c->mean, 1e-13, "mean");
        close_rel(s.std, c->std, 1e-12, "std");
        close_rel(s.ci_lo, c->lo, 1e-12, "ci_lo");
        close_rel(s.ci_hi, c->hi, 1e-12, "ci_hi");
    }
    for (int i = 0; i < N(sg_paired_cases); i++) {
        const sg_paired *c = &sg_paired_cases[i];
        tassl_stat_summary s = tassl_stat_paired(c->a, c->b, c->n, 0.95);
        assert_int_equal(s.n, c->n);
        close_rel(s.mean, c->mean, 1e-12, "paired mean");
        close_rel(s.std, c->std, 1e-9, "paired std");
        close_rel(s.ci_lo, c->lo, 1e-12, "paired lo");
        close_rel(s.ci_hi, c->hi, 1e-12, "paired hi");
    }
}

static void test_summary_hand(void **state) {
    (void)state;
    double x[] = {1, 2, 3, 4};
    close_rel(tassl_stat_mean(x, 4), 2.5, 1e-15, "mean");
    close_rel(tassl_stat_std(x, 4), sqrt(5.0 / 3.0), 1e-15, "std");
    /* non-finite values are skipped */
    double y[] = {1, NAN, 3, INFINITY};
    tassl_stat_summary s = tassl_stat_summarise(y, 4, 0.95);
    assert_int_equal(s.n, 2);
    close_rel(s.mean, 2, 1e-15, "mean skip");
    close_rel(s.std, sqrt(2.0), 1e-15, "std skip");
    close_rel(s.ci_hi - s.mean, tan(M_PI * 0.475) * sqrt(2.0) / sqrt(2.0), 1e-12, "df 1 ci");
    /* n = 1: the interval is the point; n = 0: NaN */
    s = tassl_stat_summarise(x, 1, 0.95);
    assert_int_equal(s.n, 1);
    assert_true(isnan(s.std) && s.ci_lo == 1 && s.ci_hi == 1);
    s = tassl_stat_summarise(y + 1, 1, 0.95);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.mean) && isnan(s.ci_lo));
    /* paired: a pair counts only when both sides are finite */
    double a[] = {0.8, 0.9, NAN, 0.7}, b[] = {0.7, 0.7, 0.5, NAN};
    s = tassl_stat_paired(a, b, 4, 0.95);
    assert_int_equal(s.n, 2);
    close_rel(s.mean, 0.15, 1e-14, "paired mean");
}

/* ---- suite files ---------------------------------------------------------------------------- */

static const char *good_suite = "suite:\n"
                                "  name: demo-1\n"
                                "  task: configs/tasks/x.yaml\n"
                                "  inits: [scratch, \"simclr=configs/simclr-2d.yaml\", "
                                "\"mine=runs/x\"]\n"
                                "  fractions: [0.05, 0.25, 1]\n"
                                "  shots: [5]\n"
                                "  seeds: [0, 1, 2]\n"
                                "  set: {train.steps: 7, optim: {lr: 0.01}}\n"
                                "  pretrain_set: [\"train.steps=3\"]\n"
                                "  synth: {n: 40, dims: 2, size: [32, 32]}\n";

static void test_suite_parse(void **state) {
    (void)state;
    tassl_suite s;
    assert_int_equal(tassl_suite_load_string(good_suite, "good.yaml", &s), TASSL_OK);
    assert_string_equal(s.name, "demo-1");
    assert_int_equal(s.ninits, 3);
    assert_int_equal(s.inits[0].kind, TASSL_SUITE_INIT_SCRATCH);
    assert_int_equal(s.inits[1].kind, TASSL_SUITE_INIT_PRETRAIN);
    assert_string_equal(s.inits[1].name, "simclr");
    assert_string_equal(s.inits[1].path, "configs/simclr-2d.yaml");
    assert_int_equal(s.inits[2].kind, TASSL_SUITE_INIT_CHECKPOINT);
    assert_int_equal(s.nbudgets, 4);
    assert_string_equal(s.budgets[0].label, "f0.05");
    assert_string_equal(s.budgets[2].label, "f1");
    assert_string_equal(s.budgets[3].label, "k5");
    assert_int_equal(s.budgets[3].shots, 5);
    assert_int_equal(s.nset, 2);
    assert_string_equal(s.set[0], "train.steps=7");
    assert_string_equal(s.set[1], "optim.lr=0.01");
    assert_int_equal(s.npretrain_set, 1);
    assert_true(s.synth && s.synth_n == 40 && s.synth_size[0] == 1 && s.synth_size[2] == 32);
    /* the grid */
    assert_int_equal(tassl_suite_cells(&s), 3 * 4 * 3);
    char d[256];
    tassl_suite_cell_dir(&s, 1, 0, 2, d, sizeof d);
    assert_string_equal(d, "cells/simclr/f0.05/s2");
    tassl_suite_cell_dir(&s, 0, 3, 0, d, sizeof d);
    assert_string_equal(d, "cells/scratch/k5/s0");
    /* --set overrides */
    assert_int_equal(tassl_suite_override(&s, "suite.seeds=[4, 5]"), TASSL_OK);
    assert_int_equal(s.nseeds, 2);
    assert_int_equal(s.seeds[1], 5);
    assert_int_equal(tassl_suite_override(&s, "suite.shots=[]"), TASSL_OK);
    assert_int_equal(s.nbudgets, 3);
    /* the grid may be empty between overrides, not at the end */
    assert_int_equal(tassl_suite_override(&s, "suite.fractions=[]"), TASSL_OK);
    assert_int_equal(tassl_suite_check(&s), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "suite.fractions / suite.shots"));
    assert_int_equal(tassl_suite_override(&s, "suite.fractions=[0.05, 0.25, 1]"), TASSL_OK);
    assert_int_equal(tassl_suite_check(&s), TASSL_OK);
    assert_int_equal(s.nbudgets, 3);
    assert_int_equal(tassl_suite_override(&s, "train.steps=9"), TASSL_OK);
    assert_string_equal(s.set[s.nset - 1], "train.steps=9");
    assert_int_equal(tassl_suite_override(&s, "suite.fractons=[0.5]"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "did you mean 'suite.fractions'"));
    assert_int_equal(tassl_suite_override(&s, "trian.steps=9"), TASSL_ERR_ARG);
    /* written and read back: the same suite */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tassl_suite_write(&s, f), TASSL_OK);
    fclose(f);
    tassl_suite r;
    assert_int_equal(tassl_suite_load_string(buf, "written", &r), TASSL_OK);
    assert_int_equal(r.nbudgets, s.nbudgets);
    assert_int_equal(r.nseeds, 2);
    assert_int_equal(r.nset, s.nset);
    assert_string_equal(r.set[2], "train.steps=9");
    assert_string_equal(r.inits[2].path, "runs/x");
    assert_true(r.synth && r.synth_n == 40 && r.synth_size[1] == 32);
    for (int b = 0; b < r.nbudgets; b++)
        assert_string_equal(r.budgets[b].label, s.budgets[b].label);
    free(buf);
    tassl_suite_free(&r);
    tassl_suite_free(&s);
}

/* a suite error: the message contains every fragment */
static void expect_error(const char *text, ...) {
    tassl_suite s;
    tassl_status st = tassl_suite_load_string(text, "bad.yaml", &s);
    if (st == TASSL_OK) fail_msg("accepted: %s", text);
    const char *msg = tassl_last_error();
    va_list ap;
    va_start(ap, text);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(msg, frag)) fail_msg("message '%s' lacks '%s'", msg, frag);
    va_end(ap);
}

static void test_suite_errors(void **state) {
    (void)state;
    const char *head = "suite:\n  name: x\n  task: t.yaml\n  inits: [scratch]\n";
    char t[2048];
    snprintf(t, sizeof t, "%s  fractons: [0.1]\n", head);
    expect_error(t, "bad.yaml:5:3:", "unknown key 'suite.fractons'",
                 "did you mean 'suite.fractions'", NULL);
    snprintf(t, sizeof t, "%s  fractions: [0.1, 1.5]\n", head);
    expect_error(t, "bad.yaml:5:", "suite.fractions[1]", "out of range (0, 1]", NULL);
    snprintf(t, sizeof t, "%s  fractions: [0, 1]\n", head);
    expect_error(t, "suite.fractions[0]", NULL);
    snprintf(t, sizeof t, "%s  fractions: [0.1, 0.1]\n", head);
    expect_error(t, "suite.fractions[1]", "twice", NULL);
    snprintf(t, sizeof t, "%s  fractions: []\n", head);
    expect_error(t, "suite.fractions", "grid is empty", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  seeds: []\n", head);
    expect_error(t, "suite.seeds", "grid is empty", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  seeds: [a]\n", head);
    expect_error(t, "suite.seeds[0]", "expected an integer", NULL);
    snprintf(t, sizeof t, "%s  shots: [0]\n", head);
    expect_error(t, "suite.shots[0]", NULL);
    expect_error("suite:\n  name: x\n  task: t.yaml\n  inits: [\"a=b.yaml\"]\n  fractions: [1]\n",
                 "suite.inits", "\"scratch\" must be one of the inits", NULL);
    expect_error("suite:\n  name: x\n  task: t.yaml\n  inits: [scratch, \"A b=c\"]\n",
                 "suite.inits[1]", "[a-z0-9_-]", NULL);
    expect_error("suite:\n  name: x\n  task: t.yaml\n  inits: {scratch: 1}\n", "suite.inits",
                 "expected a list", NULL);
    expect_error("suite:\n  name: x\n  task: t.yaml\n  inits: [scratch, simclr]\n",
                 "suite.inits[1]", "NAME=PATH", NULL);
    expect_error("suite:\n  name: x\n  task: t.yaml\n  inits: [scratch, \"a=x\", \"a=y\"]\n",
                 "suite.inits[2]", "twice", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  set: {train.stpes: 3}\n", head);
    expect_error(t, "bad.yaml:6:", "suite.set", "train.stpes", "did you mean 'train.steps'", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  pretrain_set: [\"train.steps=-4\"]\n", head);
    expect_error(t, "suite.pretrain_set", "train.steps", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  synth: {dims: 4}\n", head);
    expect_error(t, "suite.synth.dims", "2|3", NULL);
    snprintf(t, sizeof t, "%s  fractions: [1]\n  fractions: [1]\n", head);
    expect_error(t, "duplicate key 'suite.fractions'", NULL);
    expect_error("suite:\n  task: t.yaml\n  inits: [scratch]\n  fractions: [1]\n", "suite.name",
                 NULL);
    expect_error("suite:\n  name: x\n  inits: [scratch]\n  fractions: [1]\n", "suite.task", NULL);
    expect_error("sutie:\n  name: x\n", "unknown key 'sutie'", "did you mean 'suite'", NULL);
    expect_error("suite: [1, 2]\n", "'suite' is a section", NULL);
    expect_error("suite:\n  name: x\n  set: &a {b: *a}\n", "suite.set", "aliases", NULL);
    expect_error("suite:\n  name: [x\n", "malformed YAML", NULL);
}

/* ---- aggregation from hand-written cells ---------------------------------------------------- */

static char tmpdir[256];

static void write_file(const char *path, const char *text) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_eval(const char *suite_dir, const char *cell, double acc, const char *auc,
                       double train_s, long mem) {
    char p[2048], t[1024];
    snprintf(p, sizeof p, "%s/%s/eval.json", suite_dir, cell);
    snprintf(t, sizeof t,
             "{\"split\": \"test\", \"samples\": 20, \"primary\": \"accuracy\", "
             "\"train_labelled\": 4, \"train_s\": %g, \"eval_s\": 0.5, \"mem_peak_bytes\": %ld, "
             "\"metrics\": {\"accuracy\": %.17g, \"macro_auc\": %s}}\n",
             train_s, mem, acc, auc);
    write_file(p, t);
}

/* suite: scratch + mine (a checkpoint file), fractions 0.1 and 1, seeds 0..2 */
static void fake_suite(tassl_suite *s, char *dir, size_t len) {
    char task[512], ck[512], text[2048];
    snprintf(task, sizeof task, "%s/task.yaml", tmpdir);
    write_file(task, "task:\n  kind: classification\n  protocol: knn\n");
    snprintf(ck, sizeof ck, "%s/mine.safetensors", tmpdir);
    write_file(ck, "not read by the aggregation");
    snprintf(dir, len, "%s/suite", tmpdir);
    snprintf(text, sizeof text,
             "suite:\n  name: fake\n  task: %s\n  inits: [scratch, \"mine=%s\"]\n"
             "  fractions: [0.1, 1]\n  seeds: [0, 1, 2]\n  out: %s\n",
             task, ck, dir);
    assert_int_equal(tassl_suite_load_string(text, "fake.yaml", s), TASSL_OK);
}

static json_t *find_cell(json_t *cells, const char *init, double fraction, const char *metric) {
    size_t i;
    json_t *c;
    json_array_foreach(cells, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "init")), init) == 0 &&
            json_real_value(json_object_get(c, "fraction")) == fraction &&
            strcmp(json_string_value(json_object_get(c, "metric")), metric) == 0)
            return c;
    }
    fail_msg("no cell %s %g %s", init, fraction, metric);
    return NULL;
}

static double jget(json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static void test_aggregate(void **state) {
    (void)state;
    tassl_suite s;
    char dir[512];
    fake_suite(&s, dir, sizeof dir);
    /* scratch f0.1: 0.6 0.7 0.8; mine f0.1: 0.7 0.75 0.95 (paired diffs 0.1 0.05 0.15) */
    write_eval(dir, "cells/scratch/f0.1/s0", 0.6, "0.5", 2, 1000);
    write_eval(dir, "cells/scratch/f0.1/s1", 0.7, "null", 4, 3000);
    write_eval(dir, "cells/scratch/f0.1/s2", 0.8, "0.7", 6, 2000);
    write_eval(dir, "cells/mine/f0.1/s0", 0.7, "0.6", 1, 500);
    write_eval(dir, "cells/mine/f0.1/s1", 0.75, "0.8", 1, 500);
    write_eval(dir, "cells/mine/f0.1/s2", 0.95, "0.9", 1, 8000);
    /* f1: mine s2 missing */
    write_eval(dir, "cells/scratch/f1/s0", 0.9, "0.9", 2, 1000);
    write_eval(dir, "cells/scratch/f1/s1", 0.92, "0.9", 2, 1000);
    write_eval(dir, "cells/scratch/f1/s2", 0.94, "0.9", 2, 1000);
    write_eval(dir, "cells/mine/f1/s0", 0.91, "0.9", 2, 1000);
    write_eval(dir, "cells/mine/f1/s1", 0.95, "0.9", 2, 1000);
    char *tbuf = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&tbuf, &tlen);
    assert_int_equal(tassl_bench_aggregate(&s, dir, tf), TASSL_OK);
    fclose(tf);
    printf("%s", tbuf);
    assert_non_null(strstr(tbuf, "accuracy"));
    assert_non_null(strstr(tbuf, "0.7000 ± 0.2484 (3)"));
    free(tbuf);

    char p[2048];
    snprintf(p, sizeof p, "%s/results.json", dir);
    json_error_t e;
    json_t *r = json_load_file(p, 0, &e);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "suite")), "fake");
    assert_string_equal(json_string_value(json_object_get(r, "primary")), "accuracy");
    assert_int_equal(json_array_size(json_object_get(r, "runs")), 11);
    assert_int_equal(json_array_size(json_object_get(r, "missing")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "missing"), 0)),
                        "cells/mine/f1/s2");
    json_t *cells = json_object_get(r, "cells");
    assert_int_equal(json_array_size(cells), 2 * 2 * 2); /* inits × fractions × metrics */
    double t2 = 4.302652729749464;                       /* t_{0.975, 2} */
    json_t *c = find_cell(cells, "scratch", 0.1, "accuracy");
    assert_int_equal(json_integer_value(json_object_get(c, "n")), 3);
    close_rel(jget(c, "mean"), 0.7, 1e-12, "scratch mean");
    close_rel(jget(c, "std"), 0.1, 1e-12, "scratch std");
    close_rel(json_number_value(json_array_get(json_object_get(c, "ci95"), 0)),
              0.7 - t2 * 0.1 / sqrt(3), 1e-12, "scratch lo");
    assert_null(json_object_get(c, "diff_scratch"));
    c = find_cell(cells, "mine", 0.1, "accuracy");
    json_t *d = json_object_get(c, "diff_scratch");
    assert_non_null(d);
    assert_int_equal(json_integer_value(json_object_get(d, "n")), 3);
    close_rel(jget(d, "mean"), 0.1, 1e-12, "diff mean");
    close_rel(json_number_value(json_array_get(json_object_get(d, "ci95"), 1)),
              0.1 + t2 * 0.05 / sqrt(3), 1e-12, "diff hi");
    /* the null AUC is left out: n = 2 */
    c = find_cell(cells, "scratch", 0.1, "macro_auc");
    assert_int_equal(json_integer_value(json_object_get(c, "n")), 2);
    close_rel(jget(c, "mean"), 0.6, 1e-12, "auc mean");
    /* mine f1: two seeds; the paired difference over the two complete pairs */
    c = find_cell(cells, "mine", 1.0, "accuracy");
    assert_int_equal(json_integer_value(json_object_get(c, "n")), 2);
    d = json_object_get(c, "diff_scratch");
    assert_int_equal(json_integer_value(json_object_get(d, "n")), 2);
    close_rel(jget(d, "mean"), 0.02, 1e-12, "diff f1");
    /* resources: scratch 6 cells, train_s total 18, peak 3000 */
    json_t *res = json_array_get(json_object_get(r, "resources"), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "cells")), 6);
    close_rel(jget(res, "train_s_total"), 18, 1e-12, "train_s_total");
    close_rel(jget(res, "mem_peak_bytes_max"), 3000, 1e-12, "mem");
    json_decref(r);

    /* the CSV: header and the row of mine at 0.1 */
    snprintf(p, sizeof p, "%s/results.csv", dir);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "init,fraction,metric,n,mean,std,ci_lo,ci_hi,diff_mean,diff_ci_lo,"
                              "diff_ci_hi,shots,diff_n\n");
    bool found = false;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        rows++;
        if (strncmp(line, "mine,0.1,accuracy,3,", 20) == 0) {
            found = true;
            double v[9];
            assert_int_equal(sscanf(line + 20, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1],
                                    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]),
                             9);
            close_rel(v[0], 0.8, 1e-9, "csv mean");
            close_rel(v[4], 0.1, 1e-9, "csv diff");
            close_rel(v[5], 0.1 - t2 * 0.05 / sqrt(3), 1e-9, "csv diff lo");
            assert_true(v[7] == 0 && v[8] == 3);
        }
        if (strncmp(line, "scratch,", 8) == 0) assert_non_null(strstr(line, ",0,\n"));
    }
    fclose(f);
    assert_true(found);
    assert_int_equal(rows, 8);

    /* a malformed eval.json is named */
    snprintf(p, sizeof p, "%s/cells/mine/f1/s2/eval.json", dir);
    write_file(p, "{\"metrics\": {\"accuracy\": \"high\"}}");
    assert_int_equal(tassl_bench_aggregate(&s, dir, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "cells/mine/f1/s2/eval.json"));
    assert_non_null(strstr(tassl_last_error(), "metrics.accuracy"));
    write_file(p, "{\"metrics\": {\"accu");
    assert_int_equal(tassl_bench_aggregate(&s, dir, NULL), TASSL_ERR_FORMAT);
    remove(p);
    tassl_suite_free(&s);
}

/* The config.yaml a finished cell holds: the task file, then the grid's keys. */
static void write_cell_config(const char *dir, const char *cell, const char *init, double fraction,
                              int seed, const char *extra) {
    char p[2048];
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    snprintf(p, sizeof p, "%s/task.yaml", tmpdir);
    assert_int_equal(tassl_config_load_file(c, p), TASSL_OK);
    snprintf(p, sizeof p, "task.init=\"%s\"", init);
    assert_int_equal(tassl_config_set(c, p), TASSL_OK);
    snprintf(p, sizeof p, "task.label_fraction=%g", fraction);
    assert_int_equal(tassl_config_set(c, p), TASSL_OK);
    snprintf(p, sizeof p, "task.label_seed=%d", seed);
    assert_int_equal(tassl_config_set(c, p), TASSL_OK);
    snprintf(p, sizeof p, "seed=%d", seed);
    assert_int_equal(tassl_config_set(c, p), TASSL_OK);
    assert_int_equal(tassl_config_set(c, "task.num_classes=2"),
                     TASSL_OK); /* finetune resolves it */
    if (extra) assert_int_equal(tassl_config_set(c, extra), TASSL_OK);
    snprintf(p, sizeof p, "%s/%s/config.yaml", dir, cell);
    assert_int_equal(tassl_config_save(c, p), TASSL_OK);
    tassl_config_free(c);
}

/* Finished cells are reused: nothing is trained, no eval.json is touched, the results are
 * written; without --resume an existing suite directory is refused; --dry-run lists the grid; a
 * finished cell run with other settings than the suite now gives is refused, naming the key. */
static void test_reuse(void **state) {
    (void)state;
    tassl_suite s;
    char dir[512], ck[600];
    fake_suite(&s, dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/mine.safetensors", tmpdir);
    const char *names[] = {"scratch", "mine"}, *fr[] = {"f0.1", "f1"};
    const double fv[] = {0.1, 1};
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 3; k++) {
                char c[128];
                snprintf(c, sizeof c, "cells/%s/%s/s%d", names[i], fr[b], k);
                write_eval(dir, c, 0.5 + 0.1 * i + 0.01 * k, "0.5", 1, 100);
                write_cell_config(dir, c, i ? ck : "", fv[b], k, NULL);
            }
    char p[2048];
    snprintf(p, sizeof p, "%s/cells/mine/f1/s2/eval.json", dir);
    struct stat before, after;
    assert_int_equal(stat(p, &before), 0);
    tassl_bench_opts o = {0};
    o.quiet = true;
    assert_int_equal(tassl_bench_run(&s, &o), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "--resume"));
    char *buf = NULL;
    size_t len = 0;
    o.log = open_memstream(&buf, &len);
    o.dry_run = true;
    o.quiet = false;
    assert_int_equal(tassl_bench_run(&s, &o), TASSL_OK);
    fclose(o.log);
    assert_non_null(strstr(buf, "2 inits × 2 label budgets × 3 seeds = 12 cells"));
    assert_non_null(strstr(buf, "cells/mine/f1/s2"));
    assert_non_null(strstr(buf, "[done: reused]"));
    free(buf);
    /* a cell run with other settings */
    write_cell_config(dir, "cells/mine/f1/s1", ck, 1, 1, "train.steps=99");
    o = (tassl_bench_opts){0};
    o.resume = true;
    o.quiet = true;
    assert_int_equal(tassl_bench_run(&s, &o), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "cells/mine/f1/s1 was run with a different "
                                               "train.steps"));
    assert_int_equal(o.cells_run, 0);
    write_cell_config(dir, "cells/mine/f1/s1", ck, 1, 1, NULL);
    sleep(1);
    assert_int_equal(tassl_bench_run(&s, &o), TASSL_OK);
    assert_int_equal(o.cells_run, 0);
    assert_int_equal(o.cells_reused, 12);
    assert_int_equal(stat(p, &after), 0);
    assert_true(after.st_mtime == before.st_mtime);
    snprintf(p, sizeof p, "%s/results.json", dir);
    assert_true(access(p, R_OK) == 0);
    snprintf(p, sizeof p, "%s/suite.yaml", dir);
    tassl_suite r;
    assert_int_equal(tassl_suite_load(p, &r), TASSL_OK); /* the resolved suite reads back */
    assert_int_equal(tassl_suite_cells(&r), 12);
    tassl_suite_free(&r);
    tassl_suite_free(&s);
}

/* ---- end to end ----------------------------------------------------------------------------- */

static const char *e2e_task =
    "seed: 1\n"
    "task: {kind: classification, protocol: knn, knn: {k: 5}}\n"
    "data: {source: manifest, patch: [32, 32], threads: 1, aug: {preset: mri}}\n"
    "model: {arch: resnet, dims: 2, depth: 10, width: 0.25, stem: small}\n"
    "train: {steps: 1, batch_size: 8, ckpt_every: 0, keep_last: 1}\n";

static const char *e2e_pretrain =
    "seed: 1\n"
    "method: {name: simclr, simclr: {temperature: 0.5, proj_dim: 32}}\n"
    "data: {source: synthetic, patch: [32, 32], threads: 1, aug: {preset: mri}}\n"
    "model: {arch: resnet, dims: 2, depth: 10, width: 0.25, stem: small}\n"
    "optim: {name: adamw, lr: 1.0e-3}\n"
    "train: {steps: 20, batch_size: 8, ckpt_every: 0, keep_last: 1}\n"
    "ssl: {monitor_every: 0, preview_every: 0}\n";

/* Synthetic 2D lesion classification: scratch and a 3-step SimCLR pretraining made by the suite,
 * kNN on frozen features, 2 fractions × 2 seeds; then the same suite again reuses everything. */
static void test_end_to_end(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    char dev[64], task[512], pre[512], dir[512], text[4096];
    tassl_test_device_spec(dev, sizeof dev);
    snprintf(task, sizeof task, "%s/e2e_task.yaml", tmpdir);
    snprintf(pre, sizeof pre, "%s/e2e_simclr.yaml", tmpdir);
    snprintf(dir, sizeof dir, "%s/e2e", tmpdir);
    write_file(task, e2e_task);
    write_file(pre, e2e_pretrain);
    snprintf(text, sizeof text,
             "suite:\n  name: tiny-e2e\n  task: %s\n  inits: [scratch, \"simclr=%s\"]\n"
             "  pretrain_set: {train.steps: 3}\n  fractions: [0.5, 1]\n  seeds: [0, 1]\n"
             "  synth: {n: 40, dims: 2, size: [32, 32], seed: 3}\n",
             task, pre);
    tassl_suite s;
    assert_int_equal(tassl_suite_load_string(text, "e2e.yaml", &s), TASSL_OK);
    tassl_bench_opts o = {0};
    o.out = dir;
    o.device = dev;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tassl_status st = tassl_bench_run(&s, &o);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) fail_msg("%s", tassl_last_error());
    printf("end-to-end suite on %s: %.1f s\n", dev,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_int_equal(o.cells_run, 8);
    assert_int_equal(o.pretrain_run, 1);
    char p[2048];
    snprintf(p, sizeof p, "%s/results.json", dir);
    json_error_t e;
    json_t *r = json_load_file(p, 0, &e);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "task")), "classification");
    assert_string_equal(json_string_value(json_object_get(r, "primary")), "accuracy");
    assert_int_equal(json_array_size(json_object_get(r, "runs")), 8);
    assert_int_equal(json_array_size(json_object_get(r, "missing")), 0);
    json_t *c = find_cell(json_object_get(r, "cells"), "simclr", 0.5, "accuracy");
    assert_int_equal(json_integer_value(json_object_get(c, "n")), 2);
    double m = jget(c, "mean");
    assert_true(m >= 0 && m <= 1);
    json_t *d = json_object_get(c, "diff_scratch");
    assert_non_null(d);
    assert_int_equal(json_integer_value(json_object_get(d, "n")), 2);
    /* the labelled subset of a (fraction, seed) is the same for both inits */
    size_t i;
    json_t *run;
    long lab[2][2] = {{-1, -1}, {-1, -1}};
    json_array_foreach(json_object_get(r, "runs"), i, run) {
        if (json_real_value(json_object_get(run, "fraction")) != 0.5) continue;
        int sd = (int)json_integer_value(json_object_get(run, "seed"));
        int in = strcmp(json_string_value(json_object_get(run, "init")), "scratch") != 0;
        lab[in][sd] = (long)json_integer_value(json_object_get(run, "train_labelled"));
    }
    assert_true(lab[0][0] > 0 && lab[0][0] == lab[1][0] && lab[0][1] == lab[1][1]);
    /* resources: the pretraining's wall time and memory peak from its metrics.jsonl */
    json_t *res = json_array_get(json_object_get(r, "resources"), 1);
    assert_string_equal(json_string_value(json_object_get(res, "init")), "simclr");
    assert_true(jget(res, "pretrain_s") > 0);
    assert_true(jget(res, "pretrain_mem_peak_bytes") > 0);
    assert_null(json_object_get(json_array_get(json_object_get(r, "resources"), 0), "pretrain_s"));
    json_decref(r);
    /* again: everything is reused */
    o = (tassl_bench_opts){0};
    o.out = dir;
    o.device = dev;
    o.resume = true;
    o.quiet = true;
    assert_int_equal(tassl_bench_run(&s, &o), TASSL_OK);
    assert_int_equal(o.cells_run, 0);
    assert_int_equal(o.cells_reused, 8);
    assert_int_equal(o.pretrain_reused, 1);
    tassl_suite_free(&s);
    /* another suite naming that pretraining run directory as a checkpoint init reports its
     * pretraining time and memory too */
    char dir2[600];
    snprintf(dir2, sizeof dir2, "%s/e2e-ck", tmpdir);
    snprintf(text, sizeof text,
             "suite:\n  name: tiny-e2e-ck\n  task: %s\n  inits: [scratch, \"ck=%s/pretrain/simclr\"]\n"
             "  fractions: [1]\n  seeds: [0]\n"
             "  synth: {n: 40, dims: 2, size: [32, 32], seed: 3}\n",
             task, dir);
    if (tassl_suite_load_string(text, "e2e-ck.yaml", &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    o = (tassl_bench_opts){0};
    o.out = dir2;
    o.device = dev;
    o.quiet = true;
    if (tassl_bench_run(&s, &o) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(o.cells_run, 2);
    snprintf(p, sizeof p, "%s/results.json", dir2);
    r = json_load_file(p, 0, &e);
    assert_non_null(r);
    res = json_array_get(json_object_get(r, "resources"), 1);
    assert_string_equal(json_string_value(json_object_get(res, "kind")), "checkpoint");
    assert_true(jget(res, "pretrain_s") > 0);
    assert_true(jget(res, "pretrain_mem_peak_bytes") > 0);
    json_decref(r);
    tassl_suite_free(&s);
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tassl_protocol_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) return -1;
    return tassl_protocol_register_config() == TASSL_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_betainc_scipy),   cmocka_unit_test(test_t_quantile_scipy),
        cmocka_unit_test(test_t_quantile_hand), cmocka_unit_test(test_summary_scipy),
        cmocka_unit_test(test_summary_hand),    cmocka_unit_test(test_suite_parse),
        cmocka_unit_test(test_suite_errors),    cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_reuse),           cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
