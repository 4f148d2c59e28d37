/* test_recommend.c — `tassl recommend`: the rule table (configs/recommend.yaml) applied to
 * queries, tables read from files (a custom table changes the answer), errors naming FILE:LINE or
 * the option, the memory fit, the memory estimator against measured pool peaks, and the written
 * config: it validates against the registry and a 2-step pretraining runs from it at a tiny size.
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "tassl/io.h"
#include "tassl/recommend.h"
#include "tassl/task.h"
#include "tassl/tassl.h"
#include "test_util.h"

static char tmp_root[] = "/tmp/tassl_test_recommend_XXXXXX";
static char device[64];
static tassl_rec_table *table; /* configs/recommend.yaml */

/* configs/<name> next to this file's folder (meson runs tests in the build directory) */
static const char *config_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash) {
        snprintf(slash, sizeof buf - (size_t)(slash - buf), "/../configs/%s", name);
        if (access(buf, R_OK) == 0) return buf;
    }
    const char *pre[] = {"../configs/", "configs/", "../../configs/"};
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s%s", pre[i], name);
        if (access(buf, R_OK) == 0) return buf;
    }
    fail_msg("configs/%s not found", name);
    return NULL;
}

static const char *tmp_file(const char *name, const char *text) {
    static char path[4][4200];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 4200, "%s/%s", tmp_root, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static tassl_rec_query query(const char *modality, const char *task, int dims, const char *labels,
                             double gb) {
    tassl_rec_query q = {
        .modality = modality, .task = task, .dims = dims, .memory_bytes = gb * 1e9};
    assert_int_equal(tassl_rec_parse_labels(labels, &q.label_fraction, &q.label_count), TASSL_OK);
    return q;
}

static tassl_recommendation *recommend(const tassl_rec_table *t, const tassl_rec_query *q) {
    tassl_recommendation *r = NULL;
    if (tassl_recommend(t, q, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    return r;
}

static const char *value(const tassl_recommendation *r, const char *name) {
    const tassl_rec_item *it = tassl_rec_get(r, name);
    if (!it) fail_msg("no '%s' in the recommendation", name);
    return it->value;
}

/* the item exists, names its rule, and carries a reason and a source */
static const tassl_rec_item *traced(const tassl_recommendation *r, const char *name) {
    const tassl_rec_item *it = tassl_rec_get(r, name);
    assert_non_null(it);
    assert_non_null(it->rule);
    assert_true(it->reason && strlen(it->reason) > 20);
    assert_true(it->source && strlen(it->source) > 5);
    return it;
}

static bool has_note(const tassl_recommendation *r, const char *needle) {
    for (int i = 0; i < tassl_rec_note_count(r); i++)
        if (strstr(tassl_rec_note_at(r, i)->value, needle)) return true;
    return false;
}

static void expect_error(tassl_status got, const char *needle1, const char *needle2) {
    assert_int_not_equal(got, TASSL_OK);
    const char *m = tassl_last_error();
    if (!strstr(m, needle1) || (needle2 && !strstr(m, needle2)))
        fail_msg("error '%s' does not contain '%s'%s%s", m, needle1, needle2 ? " and " : "",
                 needle2 ? needle2 : "");
}

/* ---- the default table ---------------------------------------------------------------------- */

static void test_two_queries_differ(void **state) {
    (void)state;
    tassl_rec_query a = query("mri", "segmentation", 3, "5%", 4);
    tassl_rec_query b = query("xray", "classification", 2, "0.01", 4);
    tassl_recommendation *ra = recommend(table, &a), *rb = recommend(table, &b);
    printf("# mri/segmentation/3D/5%%:\n");
    tassl_rec_print(ra, stdout);
    printf("# xray/classification/2D/1%%:\n");
    tassl_rec_print(rb, stdout);
    /* dense task → generative (Models Genesis); global classification → contrastive (SimCLR) */
    assert_string_equal(value(ra, "paradigm"), "generative");
    assert_string_equal(value(ra, "method"), "genesis");
    assert_string_equal(value(rb, "paradigm"), "contrastive");
    assert_string_equal(value(rb, "method"), "simclr");
    assert_string_equal(traced(ra, "paradigm")->rule, "segmentation-generative");
    assert_string_equal(traced(rb, "paradigm")->rule, "classification-contrastive");
    /* the reasons cite the review's guidelines */
    assert_non_null(strstr(traced(ra, "paradigm")->source, "dense"));
    assert_non_null(strstr(traced(rb, "paradigm")->source, "classification"));
    /* modality-specific augmentation, each traced to its preset's rationale */
    assert_string_equal(value(ra, "preset"), "mri");
    assert_string_equal(value(rb, "preset"), "xray");
    assert_non_null(strstr(traced(rb, "preset")->source, "MODALITIES.md"));
    assert_string_equal(value(rb, "aug_set"), "[\"crop=resized\", \"crop_scale=0.6,1\"]");
    /* 3D: lighter encoder and group norm; 2D: ResNet-18 */
    assert_string_equal(value(ra, "depth"), "10");
    assert_string_equal(value(ra, "norm"), "group");
    assert_string_equal(value(rb, "depth"), "18");
    traced(ra, "encoder");
    traced(ra, "steps");
    /* low labels: SSL pays most, scratch stays in the table */
    assert_true(has_note(ra, "low-label"));
    assert_true(has_note(rb, "low-label"));
    /* method keys of the chosen method only */
    assert_non_null(tassl_rec_get(rb, "method.simclr.temperature"));
    assert_null(tassl_rec_get(ra, "method.simclr.temperature"));
    assert_null(tassl_rec_get(rb, "method.genesis.rescale"));
    /* sizes: 3D patch of three equal sides, the 2D one of two; both fit */
    double budget;
    tassl_mem_estimate ea = tassl_rec_memory(ra, &budget);
    assert_true(ea.total_bytes > 0 && (double)ea.total_bytes <= budget);
    assert_int_equal(value(ra, "data.patch")[0], '[');
    int64_t s0, s1, s2;
    assert_int_equal(sscanf(value(ra, "data.patch"), "[%ld, %ld, %ld]", &s0, &s1, &s2), 3);
    assert_true(s0 == s1 && s1 == s2);
    assert_int_equal(sscanf(value(rb, "data.patch"), "[%ld, %ld]", &s0, &s1), 2);
    assert_true(atoi(value(rb, "train.batch_size")) >= 32); /* contrastive minimum */
    tassl_recommendation_free(ra);
    tassl_recommendation_free(rb);
}

static void test_high_labels_scratch(void **state) {
    (void)state;
    tassl_rec_query q = query("ct", "segmentation", 3, "20000", 8);
    assert_int_equal(q.label_count, 20000);
    tassl_recommendation *r = recommend(table, &q);
    const tassl_rec_item *b = traced(r, "baseline");
    assert_string_equal(b->rule, "high-labels");
    assert_non_null(strstr(b->value, "scratch"));
    assert_true(has_note(r, "scratch as the baseline"));
    assert_false(has_note(r, "low-label"));
    /* 100 % of the labels as a fraction too */
    tassl_rec_query f = query("ct", "segmentation", 3, "100%", 8);
    tassl_recommendation *rf = recommend(table, &f);
    assert_string_equal(traced(rf, "baseline")->rule, "high-labels");
    /* CT: the window preset, and Genesis without its min-max rescale */
    assert_string_equal(value(r, "preset"), "ct");
    assert_string_equal(value(r, "method.genesis.rescale"), "false");
    /* a middle budget: neither regime */
    tassl_rec_query m = query("ct", "segmentation", 3, "0.25", 8);
    tassl_recommendation *rm = recommend(table, &m);
    assert_null(tassl_rec_get(rm, "baseline"));
    tassl_recommendation_free(r);
    tassl_recommendation_free(rf);
    tassl_recommendation_free(rm);
}

static void test_lesion_pathology_aware(void **state) {
    (void)state;
    tassl_rec_query q = query("mri", "segmentation", 3, "0.05", 4);
    q.target = "lesion";
    tassl_recommendation *r = recommend(table, &q);
    assert_string_equal(value(r, "paradigm"), "pathology-aware");
    assert_string_equal(value(r, "method"), "anomaly");
    assert_string_equal(traced(r, "method")->rule, "lesion-dense");
    assert_null(tassl_rec_get(r, "method.genesis.rescale")); /* genesis is not used any more */
    /* classification of lesions: contrastive + the pathology-aware pretext */
    tassl_rec_query c = query("histology", "classification", 2, "0.01", 4);
    c.target = "lesion";
    tassl_recommendation *rc = recommend(table, &c);
    assert_string_equal(value(rc, "paradigm"), "pathology-aware");
    assert_string_equal(value(rc, "method"), "hybrid");
    assert_string_equal(value(rc, "members"), "[simclr, anomaly]");
    assert_string_equal(value(rc, "in_channels"), "3"); /* RGB */
    /* anatomy target: the task's paradigm stands */
    q.target = "anatomy";
    tassl_recommendation *ra = recommend(table, &q);
    assert_string_equal(value(ra, "paradigm"), "generative");
    /* mixed / unknown downstream task: hybrid */
    tassl_rec_query mx = query("mri", "mixed", 2, "0.1", 4);
    tassl_recommendation *rm = recommend(table, &mx);
    assert_string_equal(value(rm, "paradigm"), "hybrid");
    assert_string_equal(value(rm, "members"), "[simclr, genesis]");
    tassl_recommendation_free(r);
    tassl_recommendation_free(rc);
    tassl_recommendation_free(ra);
    tassl_recommendation_free(rm);
}

/* ---- tables from files ---------------------------------------------------------------------- */

static const char *tiny_table =
    "version: 1\n"
    "rules:\n"
    "  - id: everything\n"
    "    set: {paradigm: predictive, method: rotation, preset: none, encoder: resnet, depth: 10,\n"
    "          width: 0.25, patches: [64], min_batch: 1, max_batch: 512, optimizer: adamw,\n"
    "          lr: 0.001, steps: 100, warmup: 0.1}\n"
    "    reason: \"a test table that always says rotation\"\n"
    "    source: \"tests/test_recommend.c\"\n"
    "  - id: volumes-jigsaw\n"
    "    priority: 2\n"
    "    when: {dims: 3, modality: [ct, mri]}\n"
    "    set: {method: jigsaw}\n"
    "    reason: \"a test rule for volumes\"\n"
    "    source: \"tests/test_recommend.c\"\n";

/* How much there is to pretrain on: with few unlabelled images (2D: < 1000, 3D: < 100 volumes)
 * the few-unlabelled rules say scratch first; an unknown count (0) or a large one leaves the
 * low-label advice alone. A query's data is counted (3D: records; 2D: their axial slices), by
 * the library and so by the CLI. */
static void test_few_unlabelled(void **state) {
    (void)state;
    const struct {
        int dims;
        int64_t unlabelled;
        const char *rule; /* the baseline's rule */
    } cases[] = {{2, 0, "low-labels"},
                 {2, 104, "few-unlabelled-slices"},
                 {2, 999, "few-unlabelled-slices"},
                 {2, 5000, "low-labels"},
                 {3, 8, "few-unlabelled-volumes"},
                 {3, 500, "low-labels"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tassl_rec_query q = query("mri", "segmentation", cases[k].dims, "5%", 4);
        q.unlabelled = cases[k].unlabelled;
        tassl_recommendation *r = recommend(table, &q);
        const tassl_rec_item *b = traced(r, "baseline");
        if (strcmp(b->rule, cases[k].rule) != 0)
            fail_msg("%dD, %lld unlabelled: baseline from rule %s, expected %s", cases[k].dims,
                     (long long)cases[k].unlabelled, b->rule, cases[k].rule);
        bool few = strncmp(cases[k].rule, "few-", 4) == 0;
        assert_int_equal(has_note(r, "unlabelled images to pretrain on") || has_note(r, "unlabelled volumes to pretrain on"), few);
        assert_true(has_note(r, "low-label")); /* the low-label advice stays */
        tassl_recommendation_free(r);
    }
    /* the condition in a custom table: a range with lo above hi is refused */
    tassl_rec_table *t = NULL;
    const char *p = tmp_file("bad_unl.yaml", "version: 1\nrules:\n  - id: a\n    when: {unlabelled: [10, 1]}\n"
                                              "    set: {method: simclr}\n    reason: r\n    source: s\n");
    expect_error(tassl_rec_table_load(p, &t), "above hi", ":4:");
    /* the CLI's count from a manifest: a PNG (one slice) and a 5-slice NIfTI volume */
    tassl_image a, v;
    assert_int_equal(tassl_image_new(&a, 1, 1, 8, 8), TASSL_OK);
    assert_int_equal(tassl_image_new(&v, 1, 5, 8, 8), TASSL_OK);
    char png[4300], nii[4300], cmd[9000];
    snprintf(png, sizeof png, "%s/u0.png", tmp_root);
    snprintf(nii, sizeof nii, "%s/u1.nii.gz", tmp_root);
    assert_int_equal(tassl_png_write(png, &a, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
    assert_int_equal(tassl_nifti_write(nii, &v, TASSL_NIFTI_UINT8, 1), TASSL_OK);
    tassl_image_free(&a), tassl_image_free(&v);
    const char *man = tmp_file("unl.csv", "image\nu0.png\nu1.nii.gz\n");
    const int want[2] = {6, 2};
    for (int d = 2; d <= 3; d++) {
        int64_t n = -1;
        assert_int_equal(tassl_rec_count_unlabelled(man, d, &n), TASSL_OK);
        assert_int_equal(n, want[d - 2]);
        /* a query with data and no count: counted, and the rule sees the count */
        tassl_rec_query q = query("mri", "segmentation", d, "5%", 4);
        q.data = man;
        tassl_recommendation *r = recommend(table, &q);
        assert_string_equal(traced(r, "baseline")->rule, d == 2 ? "few-unlabelled-slices" : "few-unlabelled-volumes");
        tassl_recommendation_free(r);
        snprintf(cmd, sizeof cmd, "'%s' recommend --rules '%s' --modality mri --task segmentation --dims %d "
                 "--labels 5%% --data '%s' 2>&1", tassl_exe(), config_path("recommend.yaml"), d, man);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char line[4096] = "", expect[64];
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        pclose(f);
        snprintf(expect, sizeof expect, ", %d %s to pretrain on\n", want[d - 2], d == 2 ? "images" : "volumes");
        if (!strstr(line, expect)) fail_msg("%dD: '%s' lacks '%s'", d, line, expect);
    }
    snprintf(cmd, sizeof cmd, "'%s' recommend --modality mri --task segmentation --dims 2 --labels 5%% "
             "--unlabelled 0 > /dev/null 2>&1", tassl_exe());
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    int64_t n = -1;
    expect_error(tassl_rec_count_unlabelled(tmp_file("unl_missing.csv", "image\nnope.png\n"), 2, &n),
                 "nope.png", NULL);
    assert_int_equal(n, 0);
}

static void test_custom_table(void **state) {
    (void)state;
    tassl_rec_table *t;
    const char *path = tmp_file("tiny.yaml", tiny_table);
    if (tassl_rec_table_load(path, &t) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(tassl_rec_table_count(t), 2);
    tassl_rec_query q = query("mri", "segmentation", 3, "5%", 4);
    tassl_recommendation *r = recommend(t, &q);
    assert_string_equal(value(r, "method"), "jigsaw"); /* the default table said genesis */
    assert_string_equal(traced(r, "method")->rule, "volumes-jigsaw");
    assert_int_equal(tassl_rec_matched_count(r), 2);
    tassl_rec_query q2 = query("xray", "classification", 2, "1%", 4);
    tassl_recommendation *r2 = recommend(t, &q2);
    assert_string_equal(value(r2, "method"), "rotation"); /* the default table said simclr */
    assert_string_equal(value(r2, "data.patch"), "[64, 64]");
    assert_string_equal(value(r2, "schedule.warmup_steps"), "10");
    tassl_recommendation_free(r);
    tassl_recommendation_free(r2);
    tassl_rec_table_free(t);
}

static void test_table_errors(void **state) {
    (void)state;
    tassl_rec_table *t = NULL;
    /* malformed YAML */
    const char *p = tmp_file("bad1.yaml", "version: 1\nrules:\n  - id: a\n    set: {method: [x\n");
    expect_error(tassl_rec_table_load(p, &t), p, "malformed YAML");
    assert_null(t);
    /* unknown field in set: file:line:col of the key */
    char want[4300];
    p = tmp_file("bad2.yaml", "version: 1\nrules:\n  - id: a\n    set:\n      methd: simclr\n"
                              "    reason: r\n    source: s\n");
    snprintf(want, sizeof want, "%s:5:7:", p);
    expect_error(tassl_rec_table_load(p, &t), want, "unknown field 'methd'");
    /* unknown condition */
    p = tmp_file("bad3.yaml", "version: 1\nrules:\n  - id: a\n    when: {modaliti: ct}\n"
                              "    set: {method: simclr}\n    reason: r\n    source: s\n");
    snprintf(want, sizeof want, "%s:4:12:", p);
    expect_error(tassl_rec_table_load(p, &t), want, "unknown condition 'modaliti'");
    /* a value outside its set */
    p = tmp_file("bad4.yaml", "version: 1\nrules:\n  - id: a\n    when: {modality: pet}\n"
                              "    set: {method: simclr}\n    reason: r\n    source: s\n");
    expect_error(tassl_rec_table_load(p, &t), "'pet' is not one of", ":4:");
    /* a rule without a source */
    p = tmp_file("bad5.yaml", "version: 1\nrules:\n  - id: a\n    set: {method: simclr}\n"
                              "    reason: r\n");
    expect_error(tassl_rec_table_load(p, &t), "missing 'source'", ":3:");
    /* wrong type, duplicate id, unknown top-level field, missing file */
    p = tmp_file("bad6.yaml", "version: 1\nrules:\n  - id: a\n    set: {depth: deep}\n"
                              "    reason: r\n    source: s\n");
    expect_error(tassl_rec_table_load(p, &t), "set.depth: expected a non-negative integer", ":4:");
    p = tmp_file("bad7.yaml",
                 "version: 1\nrules:\n  - {id: a, set: {depth: 10}, reason: r, source: s}\n"
                 "  - {id: a, set: {depth: 18}, reason: r, source: s}\n");
    expect_error(tassl_rec_table_load(p, &t), "'a' is used twice", ":4:");
    p = tmp_file("bad8.yaml", "version: 1\nrulez: []\n");
    expect_error(tassl_rec_table_load(p, &t), "unknown field 'rulez'", ":2:1:");
    p = tmp_file("bad11.yaml", "");
    expect_error(tassl_rec_table_load(p, &t), p, "empty rule table");
    p = tmp_file("bad12.yaml", "- version: 1\n");
    expect_error(tassl_rec_table_load(p, &t), "version: 1, rules", ":1:1:");
    p = tmp_file("bad13.yaml", "version: 1\nrules:\n  - id: a\n    set: {method: simclr}\n"
                               "    reason: r\n    source: s\n    {x: 1}: 2\n");
    expect_error(tassl_rec_table_load(p, &t), "expected a field name", ":7:");
    p = tmp_file("bad14.yaml",
                 "version: 1\nrules:\n  - id: a\n    when: {labels: {fraction: [0.5, 0.1]}}\n"
                 "    set: {method: simclr}\n    reason: r\n    source: s\n");
    expect_error(tassl_rec_table_load(p, &t), "above hi", ":4:");
    p = tmp_file("bad15.yaml", "version: 2\nrules: []\n");
    expect_error(tassl_rec_table_load(p, &t), "version: expected 1", ":1:10:");
    p = tmp_file("bad16.yaml", "\x01\x02\xff\xfe garbage: [\n");
    expect_error(tassl_rec_table_load(p, &t), p, NULL);
    assert_null(t);
    expect_error(tassl_rec_table_load("/nonexistent/recommend.yaml", &t),
                 "/nonexistent/recommend.yaml", "cannot open");
    /* a configuration key that does not validate: named with the rule's line when applied */
    p = tmp_file(
        "bad9.yaml",
        "version: 1\nrules:\n  - id: all\n    set: {paradigm: contrastive, method: simclr,\n"
        "          preset: mri, encoder: resnet, patches: [32]}\n"
        "    reason: r\n    source: s\n"
        "  - id: typo\n    set:\n      config: {method.simclr.temprature: 0.5}\n"
        "    reason: r\n    source: s\n");
    assert_int_equal(tassl_rec_table_load(p, &t), TASSL_OK);
    tassl_rec_query q = query("mri", "classification", 2, "0.1", 4);
    tassl_recommendation *r = NULL;
    snprintf(want, sizeof want, "%s:10:", p);
    expect_error(tassl_recommend(t, &q, &r), want, "did you mean 'method.simclr.temperature'");
    assert_null(r);
    tassl_rec_table_free(t);
    /* a table that never sets the method */
    p = tmp_file("bad10.yaml",
                 "version: 1\nrules:\n  - {id: a, set: {depth: 10}, reason: r, source: s}\n");
    assert_int_equal(tassl_rec_table_load(p, &t), TASSL_OK);
    expect_error(tassl_recommend(t, &q, &r), "no rule sets 'paradigm'", p);
    tassl_rec_table_free(t);
}

static void test_bad_arguments(void **state) {
    (void)state;
    double f;
    int64_t n;
    expect_error(tassl_rec_parse_labels("abc", &f, &n), "--labels", "'abc'");
    expect_error(tassl_rec_parse_labels("0", &f, &n), "--labels", NULL);
    expect_error(tassl_rec_parse_labels("150%", &f, &n), "--labels", "above 100");
    expect_error(tassl_rec_parse_labels("12.5", &f, &n), "--labels", "whole count");
    assert_int_equal(tassl_rec_parse_labels("1", &f, &n), TASSL_OK);
    assert_true(f == 1 && n == 0);
    assert_int_equal(tassl_rec_parse_labels("5%", &f, &n), TASSL_OK);
    assert_true(fabs(f - 0.05) < 1e-15 && n == 0);
    assert_int_equal(tassl_rec_parse_labels("300", &f, &n), TASSL_OK);
    assert_true(f == 0 && n == 300);
    tassl_rec_query q = query("mri", "segmentation", 3, "5%", 4);
    tassl_recommendation *r = NULL;
    q.modality = "pet";
    expect_error(tassl_recommend(table, &q, &r), "--modality", "'pet' is not one of");
    q.modality = "mri";
    q.task = "registration";
    expect_error(tassl_recommend(table, &q, &r), "--task", "registration");
    q.task = "segmentation";
    q.dims = 4;
    expect_error(tassl_recommend(table, &q, &r), "--dims", NULL);
    q.dims = 3;
    q.target = "tumour";
    expect_error(tassl_recommend(table, &q, &r), "--target", "lesion|anatomy|unknown");
    q.target = NULL;
    q.memory_bytes = 1e6;
    expect_error(tassl_recommend(table, &q, &r), "--memory", NULL);
    q.memory_bytes = 0.1e9; /* valid, but nothing fits */
    expect_error(tassl_recommend(table, &q, &r), "--memory: nothing fits", "batch 1");
    assert_null(r);
}

/* ---- memory --------------------------------------------------------------------------------- */

static void test_memory_fit(void **state) {
    (void)state;
    /* one patch candidate: less memory → a smaller batch */
    tassl_rec_table *t;
    assert_int_equal(tassl_rec_table_parse(tiny_table, strlen(tiny_table), "tiny", &t), TASSL_OK);
    tassl_rec_query big = query("xray", "classification", 2, "0.01", 2);
    tassl_rec_query small = query("xray", "classification", 2, "0.01", 0.3);
    tassl_recommendation *rb = recommend(t, &big), *rs = recommend(t, &small);
    int bb = atoi(value(rb, "train.batch_size")), bs = atoi(value(rs, "train.batch_size"));
    printf("# patch 64x64 rotation: batch %d at 2 GB, %d at 0.3 GB\n", bb, bs);
    assert_true(bs < bb);
    double budget;
    assert_true((double)tassl_rec_memory(rs, &budget).total_bytes <= 0.3e9);
    tassl_recommendation_free(rb);
    tassl_recommendation_free(rs);
    tassl_rec_table_free(t);
    /* the default table: less memory → a smaller patch·batch product */
    tassl_rec_query q8 = query("mri", "segmentation", 3, "0.05", 8),
                    q1 = query("mri", "segmentation", 3, "0.05", 1);
    tassl_recommendation *r8 = recommend(table, &q8), *r1 = recommend(table, &q1);
    int64_t s8, s1;
    assert_int_equal(sscanf(value(r8, "data.patch"), "[%ld", &s8), 1);
    assert_int_equal(sscanf(value(r1, "data.patch"), "[%ld", &s1), 1);
    double v8 = (double)s8 * s8 * s8 * atoi(value(r8, "train.batch_size"));
    double v1 = (double)s1 * s1 * s1 * atoi(value(r1, "train.batch_size"));
    printf("# mri 3D genesis: %s x %s at 8 GB, %s x %s at 1 GB\n", value(r8, "data.patch"),
           value(r8, "train.batch_size"), value(r1, "data.patch"), value(r1, "train.batch_size"));
    assert_true(v1 < v8);
    tassl_recommendation_free(r8);
    tassl_recommendation_free(r1);
}

/* The estimator against device-pool peaks that `tassl pretrain` logged (metrics.jsonl
 * mem_peak_bytes, 2 steps, pocl CPU; docs/RECOMMEND.md "Calibration"). The estimate must stay
 * within [-5 %, +50 %] of each: a budget estimate may be generous, not short. */
static void test_estimator_calibration(void **state) {
    (void)state;
    static const struct {
        const char *file, *sets[6];
        double measured;
    } runs[] = {
        {"simclr-2d.yaml", {NULL}, 205479680},
        {"genesis-3d.yaml", {NULL}, 145351168},
        {"simclr-2d.yaml",
         {"model.depth=18", "model.width=0.5", "model.stem=standard", "data.patch=[64,64]",
          "train.batch_size=16", NULL},
         111929344},
        {"hybrid-simclr-genesis-2d.yaml", {NULL}, 194440192},
        {"genesis-3d.yaml",
         {"train.batch_size=2", "model.width=0.5", "data.patch=[48,48,48]", NULL},
         356756992},
        {"byol-2d.yaml", {NULL}, 282548224},
        /* what `tassl recommend --memory 1` picks for xray classification 2D and for mri
         * segmentation 3D, run for one step */
        {"simclr-2d.yaml",
         {"model.depth=18", "model.width=1", "model.stem=standard", "data.patch=[64,64]",
          "train.batch_size=64", NULL},
         802433792},
        {"genesis-3d.yaml",
         {"model.width=1", "model.norm=group", "data.patch=[32,32,32]", NULL},
         407140096},
        /* the ViT (MAE: visible tokens through the encoder, all of them through the decoder) */
        {"mae-2d.yaml", {NULL}, 286808320},
        {"mae-3d.yaml", {NULL}, 98882048},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        tassl_config *c;
        assert_int_equal(tassl_config_new(&c), TASSL_OK);
        if (tassl_config_load_file(c, config_path(runs[i].file)) != TASSL_OK)
            fail_msg("%s", tassl_last_error());
        for (int k = 0; runs[i].sets[k]; k++)
            assert_int_equal(tassl_config_set(c, runs[i].sets[k]), TASSL_OK);
        tassl_mem_estimate e;
        if (tassl_mem_estimate_config(c, &e) != TASSL_OK) fail_msg("%s", tassl_last_error());
        double ratio = (double)e.pool_bytes / runs[i].measured;
        printf("# %-30s measured %6.1f MB, estimated pool %6.1f MB (%.2fx), params %lld\n",
               runs[i].file, runs[i].measured / 1e6, (double)e.pool_bytes / 1e6, ratio,
               (long long)e.params);
        assert_true(ratio > 0.95 && ratio < 1.5);
        assert_true(e.total_bytes == e.pool_bytes + e.param_bytes);
        /* a larger batch never needs less */
        char twice[64];
        snprintf(twice, sizeof twice, "train.batch_size=%lld",
                 2 * (long long)tassl_config_int(c, "train.batch_size"));
        assert_int_equal(tassl_config_set(c, twice), TASSL_OK);
        tassl_mem_estimate e2;
        assert_int_equal(tassl_mem_estimate_config(c, &e2), TASSL_OK);
        assert_true(e2.act_bytes > e.act_bytes);
        tassl_config_free(c);
    }
    /* exact parameter count of a known network: ResNet-18 (torchvision, 1 input channel, no fc)
     * = 11,170,240 + projector; checked through simclr-2d at width 1, standard stem */
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    assert_int_equal(tassl_config_load_file(c, config_path("simclr-2d.yaml")), TASSL_OK);
    assert_int_equal(tassl_config_set(c, "model.depth=18"), TASSL_OK);
    assert_int_equal(tassl_config_set(c, "model.width=1"), TASSL_OK);
    assert_int_equal(tassl_config_set(c, "model.stem=standard"), TASSL_OK);
    tassl_mem_estimate e;
    assert_int_equal(tassl_mem_estimate_config(c, &e), TASSL_OK);
    /* encoder 11,170,240; heads estimated as 512² + 512·256 */
    assert_int_equal(e.params, 11170240 + 512 * 512 + 512 * 256);
    /* a 2D patch given for a 3D model is refused, naming the key */
    assert_int_equal(tassl_config_set(c, "model.dims=3"), TASSL_OK);
    expect_error(tassl_mem_estimate_config(c, &e), "data.patch", NULL);
    tassl_config_free(c);
}

/* ---- the written config --------------------------------------------------------------------- */

static void test_written_config_runs(void **state) {
    (void)state;
    tassl_rec_query q = query("mri", "segmentation", 3, "5%", 4);
    tassl_recommendation *r = recommend(table, &q);
    char *yaml = tassl_rec_config_yaml(r);
    assert_non_null(yaml);
    printf("# the written config:\n%s", yaml);
    /* every line of the header is a comment; keys name their rule */
    assert_non_null(strstr(yaml, "name: genesis"));
    assert_non_null(strstr(yaml, "# segmentation-generative"));
    assert_non_null(strstr(yaml, "preset: mri"));
    assert_non_null(strstr(yaml, "source: synthetic"));
    /* the task keys: real keys when the task.* section is registered, comments otherwise */
    bool task_keys = tassl_config_key_find("task.kind") != NULL;
    assert_non_null(
        strstr(yaml, task_keys ? "\ntask:\n  kind: segmentation" : "#   kind: segmentation"));
    assert_non_null(strstr(yaml, "label_fraction: 0.05"));
    /* it validates against the registry and equals tassl_rec_config */
    tassl_config *c, *ref;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, yaml, "written") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_int_equal(tassl_rec_config(r, &ref), TASSL_OK);
    if (!task_keys) assert_true(tassl_config_equal(c, ref));
    assert_string_equal(tassl_config_str(c, "method.name"), "genesis");
    assert_int_equal(tassl_config_int(c, "model.dims"), 3);
    assert_int_equal(tassl_config_list_len(c, "data.patch"), 3);
    /* write it as `tassl recommend --out` would, read it back from the file */
    const char *path = tmp_file("recommended.yaml", yaml);
    tassl_config *fromfile;
    assert_int_equal(tassl_config_new(&fromfile), TASSL_OK);
    if (tassl_config_load_file(fromfile, path) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_true(tassl_config_equal(fromfile, c));
    /* a 2-step pretraining from it, at a tiny size */
    char a[512];
    const char *sets[] = {
        "train.steps=2",         "schedule.warmup_steps=0", "train.ckpt_every=0",
        "data.patch=[16,16,16]", "train.batch_size=2",      "model.width=0.125",
        "ssl.preview_every=0",   "ssl.monitor_every=0",     "output.progress=none",
        "output.name=rec",       "data.threads=0",          NULL};
    for (int i = 0; sets[i]; i++)
        assert_int_equal(tassl_config_set(fromfile, sets[i]), TASSL_OK);
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(fromfile, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(fromfile, a), TASSL_OK);
    tassl_pretrain_opts o = {.quiet = true, .no_signals = true};
    if (tassl_pretrain(fromfile, &o) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(o.steps_done, 2);
    snprintf(a, sizeof a, "%s/rec/metrics.jsonl", tmp_root);
    assert_int_equal(access(a, R_OK), 0);
    tassl_config_free(fromfile);
    tassl_config_free(ref);
    tassl_config_free(c);
    free(yaml);
    /* the 2D classification config validates too (hybrid members and a count of labels) */
    tassl_rec_query h = query("fundus", "classification", 2, "300", 2);
    h.target = "lesion";
    tassl_recommendation *rh = recommend(table, &h);
    yaml = tassl_rec_config_yaml(rh);
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, yaml, "written-2d") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_string_equal(tassl_config_list_str(c, "method.hybrid.members", 1), "anomaly");
    assert_int_equal(tassl_config_int(c, "model.in_channels"), 3);
    assert_non_null(strstr(yaml, "300 labelled cases"));
    tassl_config_free(c);
    free(yaml);
    tassl_recommendation_free(rh);
    /* with the downstream task's keys registered (tassl finetune's registry) the task lines
     * become real keys, and the file still validates */
    assert_int_equal(tassl_task_register_config(), TASSL_OK);
    yaml = tassl_rec_config_yaml(r);
    assert_non_null(strstr(yaml, "\ntask:\n  kind: segmentation\n  label_fraction: 0.05\n"));
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, yaml, "written-task") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_string_equal(tassl_config_str(c, "task.kind"), "segmentation");
    assert_true(fabs(tassl_config_float(c, "task.label_fraction") - 0.05) < 1e-15);
    tassl_config_free(c);
    free(yaml);
    tassl_recommendation_free(r);
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(tmp_root)) return -1;
    if (tassl_ssl_register_config() != TASSL_OK) return -1;
    tassl_test_device_spec(device, sizeof device);
    if (tassl_rec_table_load(config_path("recommend.yaml"), &table) != TASSL_OK) {
        printf("# %s\n", tassl_last_error());
        return -1;
    }
    printf("# device %s, files under %s, %d rules\n", device, tmp_root,
           tassl_rec_table_count(table));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tassl_rec_table_free(table);
    return tassl_test_rm_rf(tmp_root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_queries_differ),
        cmocka_unit_test(test_high_labels_scratch),
        cmocka_unit_test(test_lesion_pathology_aware),
        cmocka_unit_test(test_few_unlabelled),
        cmocka_unit_test(test_custom_table),
        cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_memory_fit),
        cmocka_unit_test(test_estimator_calibration),
        cmocka_unit_test(test_written_config_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
