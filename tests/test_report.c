/* test_report.c — `tassl report` at the library level (tassl_report_write) on hand-written
 * fixture directories that follow docs/PROTOCOL.md, built in a temporary directory:
 *   - a suite (results.json, results.csv, cells/<init>/f<fraction>/s<seed>/ with metrics.jsonl,
 *     eval.json and classification predictions): report.html holds the summary, the table
 *     numbers (best per fraction in bold, Δ vs scratch), escaped text, no external resources,
 *     and every figure PNG both on disk (decoded with io.h: expected size, not blank) and
 *     embedded as a base64 data URI identical to the file;
 *   - a classification run (confusion matrix), a segmentation run (NIfTI volume + PNG slice;
 *     overlays with class colours), a detection run (boxes and truth boxes), a run with only
 *     metrics.jsonl, a run without predictions (figure skipped with a note);
 *   - errors: a directory of neither kind, a missing directory, corrupt results.json /
 *     metrics.jsonl / eval.json (file and line named), a bad CSV, an unknown --metrics name;
 *     a failed report keeps the earlier report.html.
 * No device is used; the whole program runs in well under a second or two. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "tassl/io.h"
#include "tassl/report.h"

static char root[] = "/tmp/tassl_test_report_XXXXXX";

/* ---- fixture helpers ------------------------------------------------------------------------ */

static char *P(const char *fmt, ...) {
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf[k], sizeof buf[k], "%s/", root);
    vsnprintf(buf[k] + n, sizeof buf[k] - (size_t)n, fmt, ap);
    va_end(ap);
    return buf[k];
}

static void mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    mkdir(tmp, 0777);
}

static void put(const char *path, const char *fmt, ...) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* metrics.jsonl of a short training run: losses loss/ce falling, val_accuracy every 5 steps */
static void write_metrics(const char *dir, double scale) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int s = 1; s <= 40; s++) {
        double l = scale * (0.3 + 1.5 * exp(-s / 10.0));
        fprintf(f,
                "{\"step\":%d,\"epoch\":%.3f,\"losses\":{\"loss\":%.6f,\"ce\":%.6f},"
                "\"lr\":0.001,\"samples_per_s\":120.5,\"mem_bytes\":1000,\"mem_peak_bytes\":2000,"
                "\"wall_s\":%.2f",
                s, s / 10.0, l, l * 0.9, s * 0.1);
        if (s % 5 == 0) fprintf(f, ",\"val_accuracy\":%.4f", 0.5 + 0.4 * (1 - exp(-s / 12.0)));
        fprintf(f, "}\n");
    }
    fclose(f);
}

/* predictions.csv of 3 classes, 30 records, a few mistakes */
static void write_cls_predictions(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/predictions", dir);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/predictions/predictions.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "record,truth,pred,score_0,score_1,score_2\n");
    for (int i = 0; i < 30; i++) {
        int t = i % 3, p = (i % 7 == 0) ? (t + 1) % 3 : t;
        fprintf(f, "%d,%d,%d,%.2f,%.2f,%.2f\n", i, t, p, p == 0 ? 0.8 : 0.1, p == 1 ? 0.8 : 0.1,
                p == 2 ? 0.8 : 0.1);
    }
    fclose(f);
}

static void write_eval(const char *dir, const char *primary, const char *metrics) {
    char path[4096];
    snprintf(path, sizeof path, "%s/eval.json", dir);
    put(path,
        "{\"split\": \"test\", \"samples\": 30, \"primary\": \"%s\", \"train_labelled\": 12,\n"
        " \"train_s\": 31.2, \"eval_s\": 4.1, \"mem_peak_bytes\": 123456789,\n"
        " \"metrics\": {%s}}\n",
        primary, metrics);
}

/* The suite: 3 inits × 3 fractions × 3 seeds, metrics accuracy and macro_f1. */
static const char *inits[3] = {"scratch", "simclr", "byol"};
static const double fracs[3] = {0.01, 0.1, 1.0};
static double acc_mean(int i, int j) {
    return 0.50 + 0.12 * j + (i == 1 ? 0.09 : i == 2 ? 0.05 : 0) * (2 - j) / 2.0;
}

static void build_suite(const char *name) {
    mkdirs(P("suite"));
    FILE *f = fopen(P("suite/results.json"), "w");
    assert_non_null(f);
    fprintf(f,
            "{\"suite\": \"%s\", \"task\": \"classification\", \"primary\": \"accuracy\",\n"
            " \"inits\": [\"scratch\", \"simclr\", \"byol\"], \"fractions\": [0.01, 0.1, 1.0],"
            " \"seeds\": [0, 1, 2],\n \"runs\": [\n",
            name);
    int first = 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int s = 0; s < 3; s++) {
                fprintf(f,
                        "%s  {\"init\": \"%s\", \"fraction\": %g, \"seed\": %d, \"dir\": "
                        "\"cells/%s/f%g/s%d\", \"train_labelled\": %d, \"train_s\": 12.5, "
                        "\"mem_peak_bytes\": 1234, \"metrics\": {\"accuracy\": %.4f, "
                        "\"macro_f1\": %.4f, \"auc/1\": null}}",
                        first ? "" : ",\n", inits[i], fracs[j], s, inits[i], fracs[j], s,
                        (int)(100 * fracs[j]), acc_mean(i, j) + 0.01 * (s - 1),
                        acc_mean(i, j) - 0.03);
                first = 0;
                if (s == 0) {
                    char *d = P("suite/cells/%s/f%g/s%d", inits[i], fracs[j], s);
                    mkdirs(d);
                    write_metrics(d, 1.0 + 0.2 * i);
                    write_eval(d, "accuracy", "\"accuracy\": 0.7");
                    if (j == 0 && i != 2) write_cls_predictions(d);
                }
            }
    fprintf(f, "],\n \"cells\": [\n");
    FILE *c = fopen(P("suite/results.csv"), "w");
    assert_non_null(c);
    fprintf(c, "init,fraction,metric,n,mean,std,ci_lo,ci_hi,diff_mean,diff_ci_lo,diff_ci_hi\n");
    first = 1;
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double mean = acc_mean(i, j) - (m ? 0.03 : 0), h = 0.025 + 0.01 * (2 - j);
                double d = mean - (acc_mean(0, j) - (m ? 0.03 : 0)), dh = 0.02;
                const char *metric = m ? "macro_f1" : "accuracy";
                fprintf(f,
                        "%s  {\"init\": \"%s\", \"fraction\": %g, \"metric\": \"%s\", \"n\": 3, "
                        "\"mean\": %.4f, \"std\": 0.0100, \"ci95\": [%.4f, %.4f]",
                        first ? "" : ",\n", inits[i], fracs[j], metric, mean, mean - h, mean + h);
                fprintf(c, "%s,%g,%s,3,%.4f,0.0100,%.4f,%.4f,", inits[i], fracs[j], metric, mean,
                        mean - h, mean + h);
                if (i > 0) {
                    fprintf(f,
                            ", \"diff_scratch\": {\"n\": 3, \"mean\": %.4f, \"ci95\": [%.4f, "
                            "%.4f]}",
                            d, d - dh, d + dh);
                    fprintf(c, "%.4f,%.4f,%.4f\n", d, d - dh, d + dh);
                } else
                    fprintf(c, ",,\n");
                fprintf(f, "}");
                first = 0;
            }
    fprintf(f, "],\n \"resources\": [{\"init\": \"simclr\", \"kind\": \"pretrain\", "
               "\"cells\": 9, \"train_s_total\": 112.5, \"train_s_mean\": 12.5, "
               "\"mem_peak_bytes_max\": 1048576, \"pretrain_s\": 412.0}]}\n");
    fclose(f);
    fclose(c);
}

/* ---- checks --------------------------------------------------------------------------------- */

/* Decode a figure with io.h's PNG reader: its size, and that it is not blank (grey-level spread
 * and enough non-white pixels). Returns the image for further checks (caller frees). */
static tassl_image check_png(const char *path, int64_t w, int64_t h) {
    tassl_image im;
    if (tassl_png_read(path, NULL, &im, NULL) != TASSL_OK) fail_msg("%s", tassl_last_error());
    if (w > 0) assert_int_equal(im.w, w);
    if (h > 0) assert_int_equal(im.h, h);
    assert_true(im.channels >= 3);
    int64_t V = im.h * im.w, nonwhite = 0;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < V; i++) {
        double g = (im.data[i] + im.data[V + i] + im.data[2 * V + i]) / 3;
        s += g, s2 += g * g;
        nonwhite += g < 250;
    }
    double var = s2 / V - (s / V) * (s / V);
    if (!(var > 100 && nonwhite > V / 100))
        fail_msg("%s looks blank: variance %.1f, %lld non-white pixels of %lld", path, var,
                 (long long)nonwhite, (long long)V);
    return im;
}

static int b64v(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The embedded images equal the files (in order), and there are as many as `expect`. */
static void check_embedded(const char *html, const char *dir, int expect) {
    int n = 0;
    const char *p = html;
    while ((p = strstr(p, "src=\"data:image/png;base64,"))) {
        p += strlen("src=\"data:image/png;base64,");
        const char *end = strchr(p, '"');
        assert_non_null(end);
        size_t len = (size_t)(end - p), k = 0;
        unsigned char *dec = malloc(len);
        assert_non_null(dec);
        unsigned v = 0;
        int bits = 0;
        for (size_t i = 0; i < len && p[i] != '='; i++) {
            int x = b64v(p[i]);
            assert_true(x >= 0);
            v = (v << 6) | (unsigned)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                dec[k++] = (unsigned char)(v >> bits);
            }
        }
        /* the figure file named in the caption after this image */
        const char *cap = strstr(end, "(figures/");
        assert_non_null(cap);
        char name[512];
        assert_int_equal(sscanf(cap + 1, "%511[^)]", name), 1);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char *file = slurp(path);
        assert_non_null(file);
        assert_int_equal(file_size(path), k);
        assert_memory_equal(file, dec, k);
        assert_memory_equal(dec, "\x89PNG", 4);
        free(file);
        free(dec);
        n++;
        p = end;
    }
    assert_int_equal(n, expect);
}

static void check_offline(const char *html) {
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "@import"));
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_suite(void **state) {
    (void)state;
    build_suite("demo <b>&</b>");
    tassl_report_info info;
    tassl_report_opts o = tassl_report_opts_default();
    o.metrics = "accuracy,macro_f1";
    if (tassl_report_write(P("suite"), &o, &info) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_true(info.suite);
    /* label efficiency + diff for 2 metrics, training curves at 1 % and 100 %, confusion of
     * simclr (best at 1 %) and of scratch */
    assert_int_equal(info.figures, 8);
    assert_int_equal(info.skipped, 0);
    char *html = slurp(P("suite/report.html"));
    assert_non_null(html);
    check_offline(html);
    assert_non_null(strstr(html, "demo &lt;b&gt;&amp;&lt;/b&gt;"));
    assert_null(strstr(html, "demo <b>"));
    assert_non_null(strstr(html, "tassl version"));
    assert_non_null(strstr(html, "classification"));
    /* table: best per fraction in bold: simclr at 1 % (0.590), all equal-ish at 100 %:
     * acc_mean(.., 2) = 0.74 for every init → all bold */
    assert_non_null(strstr(html, "<b>0.590</b>"));
    assert_non_null(strstr(html, "<b>0.740</b>"));
    assert_null(strstr(html, "<b>0.500</b>")); /* scratch at 1 % is not the best */
    assert_non_null(strstr(html, ">0.500<"));
    /* Δ of simclr at 1 %: +0.090 [+0.070, +0.110], significant and better → class up */
    assert_non_null(strstr(html, "\"d up\">\xce\x94 +0.090 [+0.070, +0.110]"));
    assert_non_null(strstr(html, "<summary>macro_f1</summary>"));
    assert_non_null(strstr(html, "cells/simclr/f0.01/s0"));
    assert_non_null(strstr(html, "<td>412.0</td><td>1.0 MiB</td>")); /* the cost table */
    static const char *const figs[][3] = {{"label_efficiency_accuracy", "960", "560"},
                                          {"diff_scratch_accuracy", "960", "520"},
                                          {"label_efficiency_macro_f1", "960", "560"},
                                          {"diff_scratch_macro_f1", "960", "520"},
                                          {"training_b0", "960", "440"},
                                          {"training_b2", "960", "440"},
                                          {"cell0_confusion", "600", "444"},
                                          {"cell1_confusion", "600", "444"}};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        char *path = P("suite/figures/%s.png", figs[i][0]);
        tassl_image im = check_png(path, atoi(figs[i][1]), atoi(figs[i][2]));
        tassl_image_free(&im);
    }
    check_embedded(html, P("suite"), 8);
    free(html);

    /* "all" plots every metric of the cells; the HTML is rewritten in place */
    o.metrics = "all";
    assert_int_equal(tassl_report_write(P("suite"), &o, &info), TASSL_OK);
    assert_int_equal(info.figures, 8);
    /* unknown metric */
    o.metrics = "dice";
    assert_int_equal(tassl_report_write(P("suite"), &o, &info), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "'dice'"));

    /* without results.csv the table comes from results.json, with a note */
    assert_int_equal(rename(P("suite/results.csv"), P("suite/results.csv.bak")), 0);
    assert_int_equal(tassl_report_write(P("suite"), NULL, &info), TASSL_OK);
    html = slurp(P("suite/report.html"));
    assert_non_null(strstr(html, "results.csv is missing"));
    assert_non_null(strstr(html, "<b>0.590</b>"));
    free(html);
    assert_int_equal(rename(P("suite/results.csv.bak"), P("suite/results.csv")), 0);
}

/* the Markdown summary: the same numbers as results.csv, Δ bold only when its interval excludes
 * 0, the best mean per budget bold, a '|' in a name escaped, the resources table; errors */
static char *markdown_of(const char *dir, const char *metrics, tassl_status *st) {
    FILE *f = tmpfile();
    assert_non_null(f);
    tassl_report_opts o = tassl_report_opts_default();
    o.metrics = metrics;
    *st = tassl_report_markdown(dir, &o, f);
    long n = ftell(f);
    assert_true(n >= 0);
    char *buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void test_suite_markdown(void **state) {
    (void)state;
    build_suite("demo|md");
    tassl_status st;
    char *md = markdown_of(P("suite"), NULL, &st);
    if (st != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_non_null(strstr(md, "Suite `demo\\|md` (classification; 3 inits × 3 budgets × 3 seeds)."));
    assert_non_null(strstr(md, "| init | 1 % | 10 % | 100 % |"));
    /* 1 %: scratch 0.50 ± 0.045, simclr 0.59 best, Δ +0.09 [0.07, 0.11] excludes 0 */
    assert_non_null(strstr(md, "| scratch | 0.500 ± 0.045 (3) |"));
    assert_non_null(strstr(md, "| simclr | **0.590** ± 0.045 (3)<br>Δ **+0.090** [+0.070, +0.110] |"));
    assert_non_null(strstr(md, "| byol | 0.550 ± 0.045 (3)<br>Δ **+0.050** [+0.030, +0.070] |"));
    /* 100 %: every init 0.74 (all best), Δ 0 with an interval across 0: not bold */
    assert_non_null(strstr(md, "**0.740** ± 0.025 (3)<br>Δ +0.000 [-0.020, +0.020] |"));
    assert_null(strstr(md, "macro_f1")); /* only the primary unless asked */
    assert_non_null(strstr(md, "| simclr | 412.0 | – | 9 | 12.5 | 1 |"));
    free(md);
    md = markdown_of(P("suite"), "macro_f1", &st);
    assert_int_equal(st, TASSL_OK);
    assert_non_null(strstr(md, "**macro_f1** (higher is better)"));
    assert_non_null(strstr(md, "| scratch | 0.470 ± 0.045 (3) |"));
    assert_null(strstr(md, "**accuracy**"));
    free(md);
    md = markdown_of(P("suite"), "all", &st);
    assert_int_equal(st, TASSL_OK);
    assert_non_null(strstr(md, "**accuracy**"));
    assert_non_null(strstr(md, "**macro_f1**"));
    free(md);
    md = markdown_of(P("suite"), "dice", &st);
    assert_int_equal(st, TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "'dice'"));
    free(md);
    mkdirs(P("notasuite"));
    md = markdown_of(P("notasuite"), NULL, &st);
    assert_int_equal(st, TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "results.json"));
    free(md);
}

static void test_suite_errors(void **state) {
    (void)state;
    build_suite("errors");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_OK);
    char *before = slurp(P("suite/report.html"));
    assert_non_null(before);
    /* corrupt results.json: file and line named, the earlier page kept */
    char *good = slurp(P("suite/results.json"));
    put(P("suite/results.json"), "{\"suite\": \"x\",\n \"task\": \"seg\",\n \"primary\": }\n");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "results.json:3:"));
    char *after = slurp(P("suite/report.html"));
    assert_string_equal(before, after);
    free(after);
    /* a required field missing */
    put(P("suite/results.json"), "{\"suite\": \"x\", \"primary\": \"dice\", \"cells\": []}");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "\"inits\""));
    put(P("suite/results.json"), "%s", good);
    /* results.csv with a bad number: file:line and column */
    char *csv = slurp(P("suite/results.csv"));
    put(P("suite/results.csv"),
        "init,fraction,metric,n,mean,std,ci_lo,ci_hi,diff_mean,diff_ci_lo,diff_ci_hi\n"
        "scratch,0.01,accuracy,3,abc,0.01,0.4,0.6,,,\n");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "results.csv:2: column 'mean'"));
    put(P("suite/results.csv"), "init,fraction,metric\nscratch,0.01,accuracy\n");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "no column 'n'"));
    put(P("suite/results.csv"), "%s", csv);
    /* corrupt metrics.jsonl of a cell: file and line */
    char *m = P("suite/cells/byol/f0.01/s0/metrics.jsonl");
    char *ml = slurp(m);
    put(m, "{\"step\": 1, \"losses\": {\"loss\": 1}}\n{\"step\": 2, \"losses\": {\"loss\": 0.9}}\n"
           "{\"step\": 3, \"losses\": {\"loss\": 0.8\n");
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "metrics.jsonl:3:"));
    put(m, "%s", ml);
    assert_int_equal(tassl_report_write(P("suite"), NULL, NULL), TASSL_OK);
    free(ml);
    free(csv);
    free(good);
    free(before);
}

/* k-shot budgets, a cell not finished, task null, a lower-is-better metric: the format the
 * protocol writes (fraction null + shots for k-shot cells; results.csv shots and diff_n). */
static void test_suite_kshot(void **state) {
    (void)state;
    mkdirs(P("kshot"));
    put(P("kshot/results.json"),
        "{\"suite\": \"k\", \"task\": null, \"primary\": \"dice\", \"level\": 0.95,\n"
        " \"inits\": [\"scratch\", \"mae\"], \"fractions\": [0.1], \"shots\": [1, 5],\n"
        " \"budgets\": [\"f0.1\", \"k1\", \"k5\"], \"seeds\": [0, 1], \"runs\": [],\n"
        " \"missing\": [\"cells/mae/k5/s1\"],\n \"cells\": [\n"
        "  {\"init\": \"scratch\", \"fraction\": 0.1, \"shots\": 0, \"budget\": \"f0.1\", "
        "\"metric\":"
        " \"dice\", \"n\": 2, \"mean\": 0.61, \"std\": 0.01, \"ci95\": [0.52, 0.70]},\n"
        "  {\"init\": \"scratch\", \"fraction\": null, \"shots\": 1, \"budget\": \"k1\", "
        "\"metric\":"
        " \"dice\", \"n\": 2, \"mean\": 0.31, \"std\": 0.01, \"ci95\": [0.22, 0.40]},\n"
        "  {\"init\": \"scratch\", \"fraction\": null, \"shots\": 5, \"budget\": \"k5\", "
        "\"metric\":"
        " \"dice\", \"n\": 2, \"mean\": 0.41, \"std\": 0.01, \"ci95\": [0.32, 0.50]},\n"
        "  {\"init\": \"mae\", \"fraction\": 0.1, \"shots\": 0, \"budget\": \"f0.1\", \"metric\":"
        " \"dice\", \"n\": 2, \"mean\": 0.66, \"std\": 0.01, \"ci95\": [0.57, 0.75],"
        " \"diff_scratch\": {\"n\": 2, \"mean\": 0.05, \"ci95\": [-0.1, 0.2]}},\n"
        "  {\"init\": \"mae\", \"fraction\": null, \"shots\": 1, \"budget\": \"k1\", \"metric\":"
        " \"dice\", \"n\": 2, \"mean\": 0.45, \"std\": 0.01, \"ci95\": [0.36, 0.54],"
        " \"diff_scratch\": {\"n\": 2, \"mean\": 0.14, \"ci95\": [0.05, 0.23]}},\n"
        "  {\"init\": \"mae\", \"fraction\": null, \"shots\": 5, \"budget\": \"k5\", \"metric\":"
        " \"dice\", \"n\": 1, \"mean\": 0.50, \"std\": null, \"ci95\": [null, null],"
        " \"diff_scratch\": {\"n\": 1, \"mean\": 0.09, \"ci95\": [null, null]}},\n"
        "  {\"init\": \"scratch\", \"fraction\": 0.1, \"shots\": 0, \"metric\": \"hd95\", \"n\": 2,"
        " \"mean\": 7.5, \"std\": 1, \"ci95\": [5, 10]},\n"
        "  {\"init\": \"mae\", \"fraction\": 0.1, \"shots\": 0, \"metric\": \"hd95\", \"n\": 2,"
        " \"mean\": 6.25, \"std\": 1, \"ci95\": [4, 8.5],"
        " \"diff_scratch\": {\"n\": 2, \"mean\": -1.25, \"ci95\": [-2, -0.5]}}]}\n");
    put(P("kshot/results.csv"),
        "init,fraction,metric,n,mean,std,ci_lo,ci_hi,diff_mean,diff_ci_lo,diff_ci_hi,shots,diff_n\n"
        "scratch,0.1,dice,2,0.61,0.01,0.52,0.7,,,,0,\n"
        "scratch,,dice,2,0.31,0.01,0.22,0.4,,,,1,\n"
        "scratch,,dice,2,0.41,0.01,0.32,0.5,,,,5,\n"
        "mae,0.1,dice,2,0.66,0.01,0.57,0.75,0.05,-0.1,0.2,0,2\n"
        "mae,,dice,2,0.45,0.01,0.36,0.54,0.14,0.05,0.23,1,2\n"
        "mae,,dice,1,0.5,,,,0.09,,,5,1\n"
        "scratch,0.1,hd95,2,7.5,1,5,10,,,,0,\n"
        "mae,0.1,hd95,2,6.25,1,4,8.5,-1.25,-2,-0.5,0,2\n");
    tassl_report_opts o = tassl_report_opts_default();
    o.metrics = "dice";
    tassl_report_info info;
    if (tassl_report_write(P("kshot"), &o, &info) != TASSL_OK) fail_msg("%s", tassl_last_error());
    /* fractions and k-shot each get a label-efficiency and a difference figure; no runs, so the
     * training curves at the two ends are notes */
    assert_int_equal(info.figures, 4);
    assert_int_equal(info.skipped, 2);
    tassl_image im = check_png(P("kshot/figures/label_efficiency_dice_shots.png"), 960, 560);
    tassl_image_free(&im);
    im = check_png(P("kshot/figures/diff_scratch_dice_shots.png"), 960, 520);
    tassl_image_free(&im);
    char *html = slurp(P("kshot/report.html"));
    assert_non_null(strstr(html, "<th>1-shot</th><th>5-shot</th>"));
    assert_non_null(strstr(html, "1 cell run is not finished"));
    assert_non_null(strstr(html, "<b>0.450</b>")); /* mae best at 1-shot */
    assert_non_null(strstr(html, "<b>6.250</b>")); /* hd95: lower is better */
    assert_null(strstr(html, "<b>7.500</b>"));
    /* hd95 Δ −1.25 with a CI below zero is an improvement: class "d up" */
    assert_non_null(strstr(html, "\"d up\">\xce\x94 \xe2\x88\x92"
                                 "1.250"));
    check_embedded(html, P("kshot"), 4);
    free(html);
}

static void test_classification_run(void **state) {
    (void)state;
    char d[3072];
    snprintf(d, sizeof d, "%s", P("cls"));
    mkdirs(d);
    write_metrics(d, 1.0);
    write_eval(d, "accuracy",
               "\"accuracy\": 0.8667, \"balanced_accuracy\": 0.8611, \"macro_f1\": 0.86, "
               "\"macro_auc\": null, \"auc/0\": 0.91, \"auc/1\": 0.88, \"f1/0\": 0.9, "
               "\"f1/1\": 0.8");
    write_cls_predictions(d);
    tassl_report_info info;
    if (tassl_report_write(d, NULL, &info) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_false(info.suite);
    assert_int_equal(info.figures, 2);
    char *html = slurp(P("cls/report.html"));
    check_offline(html);
    assert_non_null(strstr(html, "<b>0.867</b>")); /* primary in bold */
    assert_non_null(strstr(html, "<td>0.861</td>"));
    assert_non_null(strstr(html, "<td>0.910</td>")); /* per-class pivot: auc/0 */
    assert_non_null(strstr(html, "Per class"));
    assert_non_null(strstr(html, "classification"));
    assert_non_null(strstr(html, "117.7 MiB"));
    tassl_image im = check_png(P("cls/figures/training.png"), 960, 440);
    tassl_image_free(&im);
    im = check_png(P("cls/figures/confusion.png"), 600, 444);
    tassl_image_free(&im);
    check_embedded(html, d, 2);
    free(html);
}

/* A 3D volume (D, H, W) = (9, 40, 48) with a bright ball, its truth and a shifted prediction;
 * a PNG slice with a square. */
static void build_segmentation(const char *dir) {
    mkdirs(P("%s/predictions", dir));
    mkdirs(P("%s/data", dir));
    tassl_image img, lab, pred;
    assert_int_equal(tassl_image_new(&img, 1, 9, 40, 48), TASSL_OK);
    assert_int_equal(tassl_image_new(&lab, 1, 9, 40, 48), TASSL_OK);
    assert_int_equal(tassl_image_new(&pred, 1, 9, 40, 48), TASSL_OK);
    for (int z = 0; z < 9; z++)
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 48; x++) {
                int64_t i = ((int64_t)z * 40 + y) * 48 + x;
                double r = sqrt((z - 6.0) * (z - 6.0) * 4 + (y - 20.0) * (y - 20.0) +
                                (x - 24.0) * (x - 24.0));
                img.data[i] = (float)(100 + 50 * sin(x * 0.3) + (r < 10 ? 300 : 0));
                lab.data[i] = r < 10 ? (x < 24 ? 1.0f : 2.0f) : 0.0f;
                double r2 = sqrt((z - 6.0) * (z - 6.0) * 4 + (y - 22.0) * (y - 22.0) +
                                 (x - 26.0) * (x - 26.0));
                pred.data[i] = r2 < 9 ? 1.0f : 0.0f;
            }
    lab.is_label = pred.is_label = 1;
    assert_int_equal(
        tassl_nifti_write(P("%s/data/case1.nii.gz", dir), &img, TASSL_NIFTI_FLOAT32, 1), TASSL_OK);
    assert_int_equal(
        tassl_nifti_write(P("%s/data/case1_mask.nii.gz", dir), &lab, TASSL_NIFTI_UINT8, 1),
        TASSL_OK);
    assert_int_equal(
        tassl_nifti_write(P("%s/predictions/case1_pred.nii.gz", dir), &pred, TASSL_NIFTI_UINT8, 1),
        TASSL_OK);
    tassl_image_free(&img);
    tassl_image_free(&lab);
    tassl_image_free(&pred);
    /* 2D PNG case */
    tassl_image p, pm, pp;
    assert_int_equal(tassl_image_new(&p, 1, 1, 32, 32), TASSL_OK);
    assert_int_equal(tassl_image_new(&pm, 1, 1, 32, 32), TASSL_OK);
    assert_int_equal(tassl_image_new(&pp, 1, 1, 32, 32), TASSL_OK);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            bool in = x >= 8 && x < 20 && y >= 10 && y < 24;
            p.data[y * 32 + x] = (float)((x * 7 + y * 3) % 60 + (in ? 150 : 20));
            pm.data[y * 32 + x] = in;
            pp.data[y * 32 + x] = x >= 9 && x < 21 && y >= 10 && y < 22;
        }
    assert_int_equal(tassl_png_write(P("%s/data/slice2.png", dir), &p, 8, TASSL_PNG_SCALE_CLAMP),
                     TASSL_OK);
    assert_int_equal(
        tassl_png_write(P("%s/data/slice2_mask.png", dir), &pm, 8, TASSL_PNG_SCALE_CLAMP),
        TASSL_OK);
    assert_int_equal(
        tassl_png_write(P("%s/predictions/slice2_pred.png", dir), &pp, 8, TASSL_PNG_SCALE_CLAMP),
        TASSL_OK);
    tassl_image_free(&p);
    tassl_image_free(&pm);
    tassl_image_free(&pp);
    /* index.csv: run-directory-relative paths, an absolute one, a bare prediction name, and a
     * record whose files are missing (left out with a note) */
    put(P("%s/predictions/index.csv", dir),
        "record,image,truth,prediction\n"
        "3,data/case1.nii.gz,data/case1_mask.nii.gz,predictions/case1_pred.nii.gz\n"
        "7,%s,data/slice2_mask.png,slice2_pred.png\n"
        "9,data/gone.nii.gz,data/gone_mask.nii.gz,predictions/gone_pred.nii.gz\n",
        P("%s/data/slice2.png", dir));
}

static void test_segmentation_run(void **state) {
    (void)state;
    char d[3072];
    snprintf(d, sizeof d, "%s", P("seg"));
    mkdirs(d);
    build_segmentation("seg");
    write_eval(d, "dice",
               "\"dice\": 0.81, \"dice/1\": 0.8, \"dice/2\": 0.82, \"iou\": 0.7, "
               "\"hd95\": 3.5, \"hd95/1\": null, \"hd95/2\": 3.5");
    /* no metrics.jsonl: the training figure is skipped with a note */
    tassl_report_info info;
    if (tassl_report_write(d, NULL, &info) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(info.figures, 1);
    assert_int_equal(info.skipped, 1);
    char *html = slurp(P("seg/report.html"));
    check_offline(html);
    assert_non_null(strstr(html, "segmentation"));
    assert_non_null(strstr(html, "there is no metrics.jsonl"));
    assert_non_null(strstr(html, "Record 9")); /* the missing record is named in a note */
    assert_non_null(strstr(html, "<td>3.500</td>"));
    tassl_image im = check_png(P("seg/figures/segmentation.png"), 960, 0);
    assert_true(im.h > 400); /* two rows of panels */
    /* class colours drawn: a clearly red pixel (class 1) and a green one (class 2) */
    int64_t V = im.h * im.w, red = 0, green = 0;
    for (int64_t i = 0; i < V; i++) {
        double r = im.data[i], g = im.data[V + i], b = im.data[2 * V + i];
        red += r - g > 60 && r - b > 60;
        green += g - r > 60 && g - b > 40;
    }
    assert_true(red > 100);
    assert_true(green > 100);
    tassl_image_free(&im);
    check_embedded(html, d, 1);
    free(html);
}

static void test_detection_run(void **state) {
    (void)state;
    char d[3072];
    snprintf(d, sizeof d, "%s", P("det"));
    mkdirs(P("det/predictions"));
    tassl_image p;
    assert_int_equal(tassl_image_new(&p, 1, 1, 64, 80), TASSL_OK);
    for (int i = 0; i < 64 * 80; i++)
        p.data[i] = (float)((i * 37) % 97 + 60);
    assert_int_equal(tassl_png_write(P("det/img0.png"), &p, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
    assert_int_equal(tassl_png_write(P("det/img1.png"), &p, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
    tassl_image_free(&p);
    /* a volume (D, H, W) = (6, 40, 40) with a bright block inside the truth box of record 2 */
    tassl_image v;
    assert_int_equal(tassl_image_new(&v, 1, 6, 40, 40), TASSL_OK);
    for (int z = 0; z < 6; z++)
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 40; x++)
                v.data[(z * 40 + y) * 40 + x] =
                    (z >= 2 && z < 5 && y >= 5 && y < 15 && x >= 10 && x < 30) ? 200.0f : 20.0f;
    assert_int_equal(tassl_nifti_write(P("det/vol2.nii.gz"), &v, TASSL_NIFTI_FLOAT32, 1), TASSL_OK);
    tassl_image_free(&v);
    write_eval(d, "map50", "\"map50\": 0.5, \"map50_95\": 0.3, \"froc_mean\": 0.6");
    write_metrics(d, 2.0);
    put(P("det/predictions/index.csv"), "record,image,truth,prediction\n"
                                        "0,img0.png,\"0: 10 12 30 40; 1: 50 5 70 25\",\n"
                                        "1,img1.png,,\n"
                                        "2,vol2.nii.gz,\"1: 10 5 2 30 15 5\",\n");
    put(P("det/predictions/boxes.csv"), "record,image,class,score,z0,y0,x0,z1,y1,x1\n"
                                        "0,img0.png,0,0.93,0,13,11,1,41,29\n"
                                        "0,img0.png,1,0.55,0,4,48,1,22,69\n"
                                        "1,img1.png,0,0.40,0,30,30,1,50,60\n"
                                        "2,vol2.nii.gz,1,0.80,2,6,11,5,16,31\n");
    tassl_report_info info;
    if (tassl_report_write(d, NULL, &info) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(info.figures, 2);
    char *html = slurp(P("det/report.html"));
    assert_non_null(strstr(html, "detection"));
    assert_non_null(strstr(html, "truth boxes (dashed green)"));
    tassl_image im = check_png(P("det/figures/detection.png"), 960, 0);
    int64_t V = im.h * im.w, orange = 0;
    for (int64_t i = 0; i < V; i++)
        orange += im.data[i] > 200 && im.data[V + i] > 90 && im.data[V + i] < 150 &&
                  im.data[2 * V + i] < 60;
    assert_true(orange > 50);
    tassl_image_free(&im);
    check_embedded(html, d, 2);
    free(html);
    /* a corrupt boxes.csv fails naming the file and line */
    put(P("det/predictions/boxes.csv"),
        "record,image,class,score,z0,y0,x0,z1,y1,x1\n0,img0.png,0,high,0,1,1,1,2,2\n");
    assert_int_equal(tassl_report_write(d, NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "boxes.csv:2: column 'score'"));
}

static void test_run_variants_and_errors(void **state) {
    (void)state;
    /* only metrics.jsonl (a pretraining run): training curves */
    mkdirs(P("pre"));
    write_metrics(P("pre"), 1.0);
    tassl_report_info info;
    assert_int_equal(tassl_report_write(P("pre"), NULL, &info), TASSL_OK);
    assert_int_equal(info.figures, 1);
    /* eval.json but no predictions: note, not a failure */
    mkdirs(P("nopred"));
    write_eval(P("nopred"), "accuracy", "\"accuracy\": 0.5");
    write_metrics(P("nopred"), 1.0);
    assert_int_equal(tassl_report_write(P("nopred"), NULL, &info), TASSL_OK);
    assert_int_equal(info.figures, 1);
    assert_int_equal(info.skipped, 1);
    char *html = slurp(P("nopred/report.html"));
    assert_non_null(strstr(html, "No predictions for this run"));
    free(html);
    /* neither kind */
    mkdirs(P("empty"));
    assert_int_equal(tassl_report_write(P("empty"), NULL, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "results.json"));
    assert_non_null(strstr(tassl_last_error(), "eval.json"));
    assert_false(access(P("empty/report.html"), F_OK) == 0);
    assert_int_equal(tassl_report_write(P("does-not-exist"), NULL, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "not a directory"));
    /* corrupt eval.json: file:line */
    put(P("nopred/eval.json"), "{\"split\": \"test\",\n\"metrics\": {\"accuracy\": 0.5,}}\n");
    assert_int_equal(tassl_report_write(P("nopred"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "eval.json:2:"));
    put(P("nopred/eval.json"), "{\"split\": \"test\"}\n");
    assert_int_equal(tassl_report_write(P("nopred"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "\"metrics\""));
    /* predictions.csv without a pred column */
    mkdirs(P("badcls/predictions"));
    write_eval(P("badcls"), "accuracy", "\"accuracy\": 0.5");
    put(P("badcls/predictions/predictions.csv"), "record,truth,guess\n1,0,1\n");
    assert_int_equal(tassl_report_write(P("badcls"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "'pred'"));
    put(P("badcls/predictions/predictions.csv"), "record,truth,pred\n1,0,\"1\n");
    assert_int_equal(tassl_report_write(P("badcls"), NULL, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "predictions.csv:2:"));
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (getenv("TASSL_KEEP_TMP")) {
        printf("# fixtures kept in %s\n", root);
        return 0;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
        cmocka_unit_test(test_suite_errors),
        cmocka_unit_test(test_suite_markdown),
        cmocka_unit_test(test_suite_kshot),
        cmocka_unit_test(test_classification_run),
        cmocka_unit_test(test_segmentation_run),
        cmocka_unit_test(test_detection_run),
        cmocka_unit_test(test_run_variants_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
