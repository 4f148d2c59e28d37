/* test_task.c — the downstream-task driver and the classification task (include/tassl/task.h):
 *   - the labelled-subset sampler: exact subject counts per fraction, stratified within one
 *     subject of the quota, subject-level (two records of a subject always together), nested
 *     across fractions and shot counts, deterministic per seed and independent of row order,
 *     k-shot counts per class, refusals;
 *   - eval.json round trip (NaN as null) and refusals of broken files;
 *   - per-parameter learning rates of the optimiser (lr multiplier, frozen entries) by hand;
 *   - the shipped configs/tasks/cls-*.yaml read, and the 2D one fits configs/simclr-2d.yaml;
 *   - task.init really loads the pretrained encoder (a weight of the finetune run equals the
 *     pretraining checkpoint's and differs from the scratch initialisation); a missing init
 *     path or an encoder of another shape is a clear error naming task.init and the tensor, and
 *     creates no run directory;
 *   - learning (seeded, on 32×32 synthetic phantoms labelled "lesion present"): finetune from
 *     scratch beats chance by a margin; after a brief SimCLR pretraining the knn and linear
 *     protocols run end to end and evaluate; tassl_task_evaluate on the finetuned run
 *     reproduces the run's eval.json; predictions files have one row per evaluated sample.
 * Data are generated at test time (tassl_synth_write) into a temporary directory. The device is
 * $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref. */
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
#include "tassl/checkpoint.h"
#include "tassl/dataset.h"
#include "tassl/optim.h"
#include "tassl/ssl.h"
#include "tassl/task.h"
#include "tassl/tassl.h"
#include "test_util.h"

static char tmp_root[] = "/tmp/tassl_test_task_XXXXXX";
static char device[64];
static char manifest[4400];

/* ---- the sampler ---------------------------------------------------------------------------- */

/* n subjects in train (subject "sNNN"), labels: subject i has class (i % 10 < 7 ? 0 : 1) (70/30);
 * every third subject has two records; a few val/test subjects too. Rows shuffled by `rot`. */
static void make_manifest(tassl_manifest *m, int n, int rot) {
    memset(m, 0, sizeof *m);
    snprintf(m->source, sizeof m->source, "memory");
    int total = 0;
    tassl_record recs[1024];
    char names[1024][32], images[1024][32];
    for (int i = 0; i < n + 10; i++) {
        int copies = i % 3 == 0 ? 2 : 1;
        for (int c = 0; c < copies; c++) {
            snprintf(names[total], sizeof names[0], "s%03d", i);
            snprintf(images[total], sizeof images[0], "/img/s%03d_%d.png", i, c);
            recs[total] = (tassl_record){.image = images[total],
                                         .label = i % 10 < 7 ? 0 : 1,
                                         .subject = names[total],
                                         .split = i < n   ? TASSL_SPLIT_TRAIN
                                                  : i % 2 ? TASSL_SPLIT_VAL
                                                          : TASSL_SPLIT_TEST};
            total++;
        }
    }
    for (int k = 0; k < total; k++)
        assert_int_equal(tassl_manifest_add(m, &recs[(k + rot) % total]), TASSL_OK);
}

/* the chosen subjects (sorted names) of a subset */
static int subjects_of(const tassl_manifest *m, const int *rows, int nrows, char out[][32]) {
    int n = 0;
    for (int i = 0; i < nrows; i++) {
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen = seen || strcmp(out[j], m->rec[rows[i]].subject) == 0;
        if (!seen) snprintf(out[n++], 32, "%s", m->rec[rows[i]].subject);
    }
    qsort(out, (size_t)n, 32, (int (*)(const void *, const void *))strcmp);
    return n;
}

static bool contains(char set[][32], int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(set[i], s) == 0) return true;
    return false;
}

static void test_subset_fractions(void **state) {
    (void)state;
    tassl_manifest m;
    make_manifest(&m, 100, 0); /* 70 subjects of class 0, 30 of class 1 */
    const double fr[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0};
    char prev[128][32];
    int nprev = 0;
    for (int f = 0; f < 6; f++) {
        int *rows, nrows, ns;
        assert_int_equal(
            tassl_label_subset(&m, TASSL_SPLIT_TRAIN, fr[f], 0, 42, &rows, &nrows, &ns), TASSL_OK);
        int want = (int)floor(fr[f] * 100 + 0.5);
        assert_int_equal(ns, want < 1 ? 1 : want);
        char subj[128][32];
        assert_int_equal(subjects_of(&m, rows, nrows, subj), ns);
        int per[2] = {0, 0};
        for (int j = 0; j < ns; j++)
            per[atoi(subj[j] + 1) % 10 < 7 ? 0 : 1]++;
        /* stratified: within one subject of the quota, one per class once the count allows */
        for (int c = 0; c < 2; c++) {
            double quota = ns * (c == 0 ? 0.7 : 0.3);
            assert_true(fabs(per[c] - quota) < 1.0 + 1e-9);
            if (ns >= 2) assert_true(per[c] >= 1);
        }
        /* subject-level, train only, ascending rows; every record of a chosen subject is in */
        int expect_rows = 0;
        for (int i = 0; i < m.n; i++)
            expect_rows +=
                m.rec[i].split == TASSL_SPLIT_TRAIN && contains(subj, ns, m.rec[i].subject);
        assert_int_equal(nrows, expect_rows);
        for (int i = 0; i < nrows; i++) {
            assert_int_equal(m.rec[rows[i]].split, TASSL_SPLIT_TRAIN);
            if (i) assert_true(rows[i] > rows[i - 1]);
        }
        /* nested */
        for (int j = 0; j < nprev; j++)
            assert_true(contains(subj, ns, prev[j]));
        memcpy(prev, subj, sizeof subj);
        nprev = ns;
        /* deterministic, and independent of the manifest's row order */
        int *rows2, nrows2, ns2;
        tassl_manifest m2;
        make_manifest(&m2, 100, 37);
        assert_int_equal(
            tassl_label_subset(&m2, TASSL_SPLIT_TRAIN, fr[f], 0, 42, &rows2, &nrows2, &ns2),
            TASSL_OK);
        char subj2[128][32];
        assert_int_equal(subjects_of(&m2, rows2, nrows2, subj2), ns);
        for (int j = 0; j < ns; j++)
            assert_string_equal(subj[j], subj2[j]);
        free(rows2);
        tassl_manifest_free(&m2);
        /* another seed gives another subset (for the middle fractions) */
        if (fr[f] == 0.25) {
            assert_int_equal(
                tassl_label_subset(&m, TASSL_SPLIT_TRAIN, fr[f], 0, 43, &rows2, &nrows2, &ns2),
                TASSL_OK);
            assert_int_equal(ns2, ns);
            subjects_of(&m, rows2, nrows2, subj2);
            int same = 0;
            for (int j = 0; j < ns; j++)
                same += contains(subj, ns, subj2[j]);
            assert_true(same < ns);
            free(rows2);
        }
        free(rows);
    }
    tassl_manifest_free(&m);
}

static void test_subset_shots(void **state) {
    (void)state;
    tassl_manifest m;
    make_manifest(&m, 40, 5); /* 28 + 12 subjects */
    char prev[128][32];
    int nprev = 0;
    const int shots[] = {1, 3, 5, 20};
    for (int k = 0; k < 4; k++) {
        int *rows, nrows, ns;
        assert_int_equal(
            tassl_label_subset(&m, TASSL_SPLIT_TRAIN, 1.0, shots[k], 9, &rows, &nrows, &ns),
            TASSL_OK);
        char subj[128][32];
        assert_int_equal(subjects_of(&m, rows, nrows, subj), ns);
        int per[2] = {0, 0};
        for (int j = 0; j < ns; j++)
            per[atoi(subj[j] + 1) % 10 < 7 ? 0 : 1]++;
        assert_int_equal(per[0], shots[k] < 28 ? shots[k] : 28);
        assert_int_equal(per[1], shots[k] < 12 ? shots[k] : 12); /* all when fewer */
        for (int j = 0; j < nprev; j++)
            assert_true(contains(subj, ns, prev[j]));
        memcpy(prev, subj, sizeof subj);
        nprev = ns;
        free(rows);
    }
    /* refusals */
    int *rows, nrows, ns;
    assert_int_equal(tassl_label_subset(&m, TASSL_SPLIT_TRAIN, 0.0, 0, 1, &rows, &nrows, &ns),
                     TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "task.label_fraction"));
    assert_int_equal(tassl_label_subset(&m, TASSL_SPLIT_TRAIN, 1.5, 0, 1, &rows, &nrows, &ns),
                     TASSL_ERR_ARG);
    assert_int_equal(tassl_label_subset(&m, TASSL_SPLIT_TRAIN, 0.5, -1, 1, &rows, &nrows, &ns),
                     TASSL_ERR_ARG);
    tassl_manifest empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(tassl_label_subset(&empty, TASSL_SPLIT_TRAIN, 0.5, 0, 1, &rows, &nrows, &ns),
                     TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "train"));
    tassl_manifest_free(&m);
}

/* ---- per-parameter learning rates (tassl_optim_set_lr_mult) --------------------------------- */

/* One step of kind over entries a.w, b.w, c.w and a buffer, with a.* at lr × 0.5 and b.* frozen:
 * every entry's new value against the update rule by hand. */
static void lr_mult_case(tassl_optim_kind kind) {
    tassl_device *d;
    assert_int_equal(tassl_device_open(device, &d), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(d);
    tassl_params *p = tassl_params_new(ctx);
    const char *names[] = {"a.w", "b.w", "c.w"};
    for (int k = 0; k < 3; k++)
        tassl_params_add(p, names[k], TASSL_SHAPE(4));
    tassl_params_add_buffer(p, "a.running_mean", TASSL_SHAPE(4));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    float w[4] = {1, -2, 3, 0.5f}, g[4] = {0.5f, 0.25f, -1, 2};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(tassl_tensor_write(tassl_params_find(p, names[k]), w), TASSL_OK);
        assert_int_equal(tassl_tensor_write(tassl_grad(tassl_params_find(p, names[k])), g),
                         TASSL_OK);
    }
    assert_int_equal(tassl_tensor_write(tassl_params_find(p, "a.running_mean"), w), TASSL_OK);
    tassl_optim_config oc = tassl_optim_defaults(kind);
    oc.weight_decay = 0.1;
    tassl_optim *o;
    assert_int_equal(tassl_optim_new(p, &oc, &o), TASSL_OK);
    assert_int_equal(tassl_optim_set_lr_mult(o, "a.*", 0.5), TASSL_OK);
    assert_int_equal(tassl_optim_set_lr_mult(o, "b.", 0.0), TASSL_OK); /* substring form */
    assert_int_equal(tassl_optim_set_lr_mult(o, "c.*", -1), TASSL_ERR_ARG);
    assert_true(tassl_optim_lr_mult(o, 0) == 0.5 && tassl_optim_lr_mult(o, 1) == 0.0 &&
                tassl_optim_lr_mult(o, 2) == 1.0);
    assert_false(tassl_optim_decays(o, 1)); /* frozen: no decay either */
    const double lr = 0.1, mult[3] = {0.5, 0.0, 1.0};
    assert_int_equal(tassl_optim_step(o, lr), TASSL_OK);
    for (int k = 0; k < 3; k++) {
        float got[4];
        assert_int_equal(tassl_tensor_read(tassl_params_find(p, names[k]), got), TASSL_OK);
        for (int i = 0; i < 4; i++) {
            double l = lr * mult[k], want;
            if (kind == TASSL_OPTIM_SGD) /* L2 decay in the gradient */
                want = w[i] - l * (g[i] + 0.1 * w[i]);
            else /* AdamW, first step: m̂/√v̂ = sign(g) */
                want = w[i] * (1 - l * 0.1) - l * g[i] / (fabs(g[i]) + 1e-8);
            if (k == 1) want = w[i]; /* frozen */
            assert_float_equal(got[i], want, 1e-6);
        }
    }
    float rm[4];
    assert_int_equal(tassl_tensor_read(tassl_params_find(p, "a.running_mean"), rm), TASSL_OK);
    assert_memory_equal(rm, w, sizeof w); /* buffers are never updated */
    tassl_optim_free(o);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
    tassl_device_free(d);
}

static void test_optim_lr_mult(void **state) {
    (void)state;
    lr_mult_case(TASSL_OPTIM_SGD);
    lr_mult_case(TASSL_OPTIM_ADAMW);
}

/* ---- eval.json ------------------------------------------------------------------------------ */

static void test_result_roundtrip(void **state) {
    (void)state;
    tassl_task_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.split, sizeof r.split, "test");
    snprintf(r.primary, sizeof r.primary, "accuracy");
    r.samples = 40;
    r.train_labelled = 12;
    r.train_s = 3.25;
    r.eval_s = 0.5;
    r.mem_peak_bytes = 123456789;
    assert_int_equal(tassl_task_result_set(&r, "accuracy", 0.8125), TASSL_OK);
    assert_int_equal(tassl_task_result_set(&r, "macro_auc", 1.0 / 3.0), TASSL_OK);
    assert_int_equal(tassl_task_result_set(&r, "auc/1", NAN), TASSL_OK);
    assert_int_equal(tassl_task_result_set(&r, "accuracy", 0.875), TASSL_OK); /* replaces */
    assert_int_equal(r.n, 3);
    assert_true(isnan(tassl_task_result_get(&r, "nope")));
    char path[4200];
    snprintf(path, sizeof path, "%s/eval.json", tmp_root);
    assert_int_equal(tassl_task_result_write(&r, path), TASSL_OK);
    tassl_task_result b;
    assert_int_equal(tassl_task_result_read(&b, path), TASSL_OK);
    assert_string_equal(b.split, "test");
    assert_string_equal(b.primary, "accuracy");
    assert_int_equal(b.samples, 40);
    assert_int_equal(b.train_labelled, 12);
    assert_int_equal(b.mem_peak_bytes, 123456789);
    assert_true(b.train_s == 3.25 && b.eval_s == 0.5);
    assert_int_equal(b.n, 3);
    assert_true(tassl_task_result_get(&b, "accuracy") == 0.875);
    assert_true(tassl_task_result_get(&b, "macro_auc") == 1.0 / 3.0); /* exact */
    assert_true(isnan(tassl_task_result_get(&b, "auc/1")));
    /* broken files: not JSON, a missing field, a string metric, no file */
    FILE *f = fopen(path, "w");
    fputs("{\"split\": \"test\", ", f);
    fclose(f);
    assert_int_equal(tassl_task_result_read(&b, path), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), path));
    f = fopen(path, "w");
    fputs("{\"split\": \"test\", \"primary\": \"accuracy\", \"metrics\": {}}", f);
    fclose(f);
    assert_int_equal(tassl_task_result_read(&b, path), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "samples"));
    f = fopen(path, "w");
    fputs("{\"split\": \"test\", \"primary\": \"a\", \"samples\": 1, \"metrics\": {\"a\": \"x\"}}",
          f);
    fclose(f);
    assert_int_equal(tassl_task_result_read(&b, path), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "metrics.a"));
    remove(path);
    assert_int_equal(tassl_task_result_read(&b, path), TASSL_ERR_IO);
}

/* ---- the shipped configurations ------------------------------------------------------------- */

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

/* configs/tasks/cls-*.yaml read without error, and the 2D one builds the encoder of
 * configs/simclr-2d.yaml (same model.* and normalisation), so that run's checkpoint fits it */
static void test_shipped_configs(void **state) {
    (void)state;
    assert_int_equal(tassl_task_register_config(), TASSL_OK);
    tassl_config *t2, *t3, *pre;
    assert_int_equal(tassl_config_new(&t2), TASSL_OK);
    assert_int_equal(tassl_config_new(&t3), TASSL_OK);
    assert_int_equal(tassl_config_new(&pre), TASSL_OK);
    if (tassl_config_load_file(t2, config_path("tasks/cls-synth-2d.yaml")) != TASSL_OK ||
        tassl_config_load_file(t3, config_path("tasks/cls-lobe-3d.yaml")) != TASSL_OK ||
        tassl_config_load_file(pre, config_path("simclr-2d.yaml")) != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_string_equal(tassl_config_str(t2, "task.kind"), "classification");
    assert_string_equal(tassl_config_str(t3, "data.path"), "data/colin27/cls_lobe.csv");
    assert_int_equal(tassl_config_int(t3, "model.dims"), 3);
    const char *same_str[] = {"model.arch", "model.stem", "model.norm", "data.aug.preset"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(tassl_config_str(t2, same_str[i]), tassl_config_str(pre, same_str[i]));
    const char *same_int[] = {"model.depth", "model.dims", "model.in_channels"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tassl_config_int(t2, same_int[i]), tassl_config_int(pre, same_int[i]));
    assert_true(tassl_config_float(t2, "model.width") == tassl_config_float(pre, "model.width"));
    assert_int_equal(tassl_config_list_len(t2, "data.patch"),
                     tassl_config_list_len(pre, "data.patch"));
    for (int i = 0; i < tassl_config_list_len(t2, "data.patch"); i++)
        assert_int_equal(tassl_config_list_int(t2, "data.patch", i),
                         tassl_config_list_int(pre, "data.patch", i));
    tassl_config_free(t2);
    tassl_config_free(t3);
    tassl_config_free(pre);
}

/* ---- finetune runs -------------------------------------------------------------------------- */

static const char *ft_yaml = "seed: 3\n"
                             "task: {kind: classification, protocol: finetune}\n"
                             "data: {source: manifest, patch: [32, 32], threads: 2,\n"
                             "       aug: {preset: none}}\n"
                             "model: {depth: 10, width: 0.125, stem: small}\n"
                             "optim: {name: adamw, lr: 0.003, weight_decay: 0.0001}\n"
                             "schedule: {name: cosine, warmup_steps: 3}\n"
                             "train: {steps: 40, batch_size: 16, ckpt_every: 0}\n"
                             "output: {log_every: 10, progress: none}\n";

static const char *pre_yaml = "seed: 7\n"
                              "method: {name: simclr, simclr: {proj_dim: 32}}\n"
                              "data: {patch: [32, 32], threads: 2, aug: {preset: none,\n"
                              "       set: [\"crop=resized\", \"crop_scale=0.5,1\",\n"
                              "             \"noise_p=0.5\", \"noise_std=0,0.1\"]}}\n"
                              "model: {depth: 10, width: 0.125, stem: small}\n"
                              "optim: {name: adamw, lr: 0.003}\n"
                              "schedule: {name: cosine, warmup_steps: 3}\n"
                              "train: {steps: 30, batch_size: 24, ckpt_every: 0}\n"
                              "ssl: {monitor_every: 0}\n"
                              "output: {log_every: 10, progress: none}\n";

/* yaml + device + data.path + the NULL-terminated overrides */
static tassl_config *config(const char *yaml, const char *first, ...) {
    tassl_config *c;
    assert_int_equal(tassl_task_register_config(), TASSL_OK);
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, yaml, "test") != TASSL_OK) fail_msg("%s", tassl_last_error());
    char a[9000];
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "data.path=%s", manifest);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    if (tassl_test_quick() && strstr(yaml, "task:")) { /* the sanitizer run: the same paths, less */
        assert_int_equal(tassl_config_set(c, "train.steps=4"), TASSL_OK);
        assert_int_equal(tassl_config_set(c, "schedule.warmup_steps=1"), TASSL_OK);
        assert_int_equal(tassl_config_set(c, "task.label_fraction=0.2"), TASSL_OK);
    }
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    return c;
}

static char *path_in(const char *run, const char *name) {
    static char buf[4][4400];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s/%s", tmp_root, run, name);
    return b;
}

static bool exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static tassl_task_result finetune_ok(tassl_config *c, const char *run) {
    tassl_finetune_opts o = tassl_finetune_opts_default();
    o.quiet = true;
    o.force = true;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, run);
    o.run_dir = dir;
    tassl_task_result r;
    if (tassl_finetune(c, &o, &r) != TASSL_OK) fail_msg("finetune %s: %s", run, tassl_last_error());
    return r;
}

/* a weight of a checkpoint */
static float *read_weight(const char *ckpt, const char *name, int64_t *n) {
    tassl_st *st;
    if (tassl_st_open(ckpt, &st) != TASSL_OK) fail_msg("%s", tassl_last_error());
    int i = tassl_st_find(st, name);
    assert_true(i >= 0);
    *n = tassl_st_nbytes(st, i) / 4;
    float *w = malloc(sizeof(float) * (size_t)*n);
    assert_int_equal(tassl_st_read_f32(st, i, w), TASSL_OK);
    tassl_st_close(st);
    return w;
}

static char pre_run[4200];

/* a brief SimCLR pretraining, made once */
static void pretrain_once(int steps) {
    if (*pre_run) return;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/simclr", tmp_root);
    tassl_config *c = config(pre_yaml, "data.source=synthetic", NULL);
    char kv[64];
    snprintf(kv, sizeof kv, "train.steps=%d", steps);
    assert_int_equal(tassl_config_set(c, kv), TASSL_OK);
    if (tassl_test_quick()) assert_int_equal(tassl_config_set(c, "train.batch_size=8"), TASSL_OK);
    tassl_pretrain_opts po = {.run_dir = dir, .force = true, .quiet = true, .no_signals = true};
    if (tassl_pretrain(c, &po) != TASSL_OK) fail_msg("pretrain: %s", tassl_last_error());
    tassl_config_free(c);
    snprintf(pre_run, sizeof pre_run, "%s", dir);
}

static void test_init_loads_encoder(void **state) {
    (void)state;
    pretrain_once(tassl_test_quick() ? 5 : 30);
    char kv[4400];
    snprintf(kv, sizeof kv, "task.init=%s", pre_run);
    /* knn trains nothing: its checkpoint holds exactly the model as loaded */
    tassl_config *c = config(ft_yaml, "task.protocol=knn", kv, NULL);
    tassl_task_result r = finetune_ok(c, "init_knn");
    tassl_config_free(c);
    assert_true(r.samples > 0);
    c = config(ft_yaml, "task.protocol=knn", NULL);
    finetune_ok(c, "scratch_knn");
    tassl_config_free(c);
    char pre_ckpt[4200];
    assert_int_equal(tassl_ckpt_latest(pre_run, pre_ckpt, sizeof pre_ckpt), TASSL_OK);
    const char *names[] = {"encoder.conv1.weight", "encoder.layer4.0.conv2.weight",
                           "encoder.bn1.running_mean"};
    for (int k = 0; k < 3; k++) {
        int64_t n1, n2, n3;
        float *a = read_weight(pre_ckpt, names[k], &n1);
        float *b = read_weight(path_in("init_knn", "ckpt-000000.safetensors"), names[k], &n2);
        float *z = read_weight(path_in("scratch_knn", "ckpt-000000.safetensors"), names[k], &n3);
        assert_int_equal(n1, n2);
        assert_int_equal(n1, n3);
        assert_memory_equal(a, b, sizeof(float) * (size_t)n1);
        bool differs = false;
        for (int64_t i = 0; i < n1; i++)
            differs = differs || a[i] != z[i];
        assert_true(differs);
        free(a), free(b), free(z);
    }
}

static void test_init_errors(void **state) {
    (void)state;
    pretrain_once(tassl_test_quick() ? 5 : 30);
    /* no such path */
    char kv[4400];
    snprintf(kv, sizeof kv, "task.init=%s/nothing-here", tmp_root);
    tassl_config *c = config(ft_yaml, kv, NULL);
    tassl_finetune_opts o = tassl_finetune_opts_default();
    o.quiet = true;
    o.run_dir = path_in("bad_init", "");
    assert_int_not_equal(tassl_finetune(c, &o, NULL), TASSL_OK);
    assert_non_null(strstr(tassl_last_error(), "task.init"));
    assert_non_null(strstr(tassl_last_error(), "nothing-here"));
    assert_false(exists(path_in("bad_init", "")));
    tassl_config_free(c);
    /* an encoder of another width: the tensor and both shapes are named */
    snprintf(kv, sizeof kv, "task.init=%s", pre_run);
    c = config(ft_yaml, kv, "model.width=0.25", NULL);
    assert_int_not_equal(tassl_finetune(c, &o, NULL), TASSL_OK);
    const char *msg = tassl_last_error();
    assert_non_null(strstr(msg, "task.init"));
    assert_non_null(strstr(msg, "encoder."));
    assert_non_null(strstr(msg, "shape"));
    assert_false(exists(path_in("bad_init", "")));
    tassl_config_free(c);
    /* a task the manifest cannot serve, an unknown protocol combination */
    c = config(ft_yaml, "task.kind=classification", "task.protocol=linear", "data.source=synthetic",
               NULL);
    assert_int_equal(tassl_finetune(c, &o, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "data.source"));
    tassl_config_free(c);
}

/* rows of a CSV file (header excluded) */
static int csv_rows(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = -1, ch, last = '\n';
    while ((ch = fgetc(f)) != EOF) {
        if (ch == '\n') n++;
        last = ch;
    }
    fclose(f);
    assert_int_equal(last, '\n');
    return n;
}

static void test_finetune_learns(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_config *c = config(ft_yaml, NULL);
    tassl_task_result r = finetune_ok(c, "ft");
    tassl_config_free(c);
    double acc = tassl_task_result_get(&r, "accuracy");
    print_message("finetune from scratch: accuracy %.3f, balanced %.3f, macro AUC %.3f on %lld "
                  "test samples (%lld labelled)\n",
                  acc, tassl_task_result_get(&r, "balanced_accuracy"),
                  tassl_task_result_get(&r, "macro_auc"), (long long)r.samples,
                  (long long)r.train_labelled);
    assert_true(acc >= 0.75); /* chance is ~0.5 (lesion_prob 0.5) */
    assert_true(tassl_task_result_get(&r, "macro_auc") >= 0.8);
    assert_string_equal(r.primary, "accuracy");
    assert_string_equal(r.split, "test");
    /* the files of docs/PROTOCOL.md */
    tassl_task_result j;
    assert_int_equal(tassl_task_result_read(&j, path_in("ft", "eval.json")), TASSL_OK);
    assert_true(tassl_task_result_get(&j, "accuracy") == acc);
    assert_int_equal(csv_rows(path_in("ft", "predictions/predictions.csv")), (int)r.samples);
    assert_int_equal(csv_rows(path_in("ft", "predictions/index.csv")), (int)r.samples);
    /* evaluating the run again reproduces eval.json */
    tassl_task_result e;
    if (tassl_task_evaluate(NULL, path_in("ft", ""), NULL, NULL, path_in("ft_eval", ""), true,
                            &e) != TASSL_OK)
        fail_msg("evaluate: %s", tassl_last_error());
    assert_int_equal(e.samples, r.samples);
    assert_int_equal(e.n, r.n);
    for (int i = 0; i < r.n; i++) {
        double a = r.value[i], b = tassl_task_result_get(&e, r.name[i]);
        assert_true((isnan(a) && isnan(b)) || fabs(a - b) <= 1e-9);
    }
    assert_true(exists(path_in("ft_eval", "eval.json")));
    /* another split of the same manifest, through the same path */
    assert_int_equal(tassl_task_evaluate(NULL, path_in("ft", ""), manifest, "val", NULL, true, &e),
                     TASSL_OK);
    assert_string_equal(e.split, "val");
    /* a checkpoint file alone: the configuration comes from its metadata */
    char ck[4200];
    assert_int_equal(tassl_ckpt_latest(path_in("ft", ""), ck, sizeof ck), TASSL_OK);
    assert_int_equal(tassl_task_evaluate(NULL, ck, NULL, NULL, NULL, true, &e), TASSL_OK);
    assert_true(tassl_task_result_get(&e, "accuracy") == acc);
}

static void test_frozen_protocols(void **state) {
    (void)state;
    pretrain_once(tassl_test_quick() ? 5 : 30);
    char kv[4400];
    snprintf(kv, sizeof kv, "task.init=%s", pre_run);
    tassl_config *c = config(ft_yaml, "task.protocol=knn", kv, "task.knn.k=10", NULL);
    tassl_task_result knn = finetune_ok(c, "knn");
    tassl_config_free(c);
    c = config(ft_yaml, "task.protocol=linear", kv, "optim.lr=0.03",
               tassl_test_quick() ? "task.label_fraction=0.1" : "task.label_fraction=0.5", NULL);
    tassl_task_result lin = finetune_ok(c, "linear");
    tassl_config_free(c);
    print_message("after SimCLR: knn accuracy %.3f (AUC %.3f), linear accuracy %.3f (AUC %.3f, "
                  "%lld labelled)\n",
                  tassl_task_result_get(&knn, "accuracy"), tassl_task_result_get(&knn, "macro_auc"),
                  tassl_task_result_get(&lin, "accuracy"), tassl_task_result_get(&lin, "macro_auc"),
                  (long long)lin.train_labelled);
    for (int k = 0; k < 2; k++) {
        const tassl_task_result *r = k ? &lin : &knn;
        double acc = tassl_task_result_get(r, "accuracy");
        assert_true(acc >= 0 && acc <= 1);
        assert_true(isfinite(tassl_task_result_get(r, "macro_auc")));
        assert_true(isfinite(tassl_task_result_get(r, "f1/1")));
    }
    assert_true(lin.train_labelled < knn.train_labelled); /* fewer subjects */
    /* linear trains only the head: the encoder is the pretrained one, bit for bit */
    char pre_ckpt[4200];
    assert_int_equal(tassl_ckpt_latest(pre_run, pre_ckpt, sizeof pre_ckpt), TASSL_OK);
    char lin_ckpt[4200];
    assert_int_equal(tassl_ckpt_latest(path_in("linear", ""), lin_ckpt, sizeof lin_ckpt), TASSL_OK);
    int64_t n1, n2;
    float *a = read_weight(pre_ckpt, "encoder.layer1.0.conv1.weight", &n1);
    float *b = read_weight(lin_ckpt, "encoder.layer1.0.conv1.weight", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, sizeof(float) * (size_t)n1);
    free(a), free(b);
    a = read_weight(pre_ckpt, "encoder.bn1.running_var", &n1); /* eval mode: statistics kept */
    b = read_weight(lin_ckpt, "encoder.bn1.running_var", &n2);
    assert_memory_equal(a, b, sizeof(float) * (size_t)n1);
    free(a), free(b);
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(tmp_root)) return -1;
    tassl_test_device_spec(device, sizeof device);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/synth", tmp_root);
    tassl_synth_opts so = tassl_synth_opts_default(2);
    so.size[0] = 1, so.size[1] = 32, so.size[2] = 32;
    so.seed = 11;
    so.radius_min = 2.0f, so.radius_max = 5.0f;
    if (tassl_synth_write(&so, tassl_test_quick() ? 80 : 200, dir) != TASSL_OK) {
        fprintf(stderr, "synth: %s\n", tassl_last_error());
        return -1;
    }
    snprintf(manifest, sizeof manifest, "%s/manifest.csv", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tassl_test_rm_rf(tmp_root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subset_fractions), cmocka_unit_test(test_subset_shots),
        cmocka_unit_test(test_result_roundtrip), cmocka_unit_test(test_optim_lr_mult),
        cmocka_unit_test(test_shipped_configs),  cmocka_unit_test(test_init_loads_encoder),
        cmocka_unit_test(test_init_errors),      cmocka_unit_test(test_finetune_learns),
        cmocka_unit_test(test_frozen_protocols),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
