/* test_eval.c — frozen-encoder evaluation (include/tassl/eval.h):
 *   - accuracy and balanced accuracy on hand-worked cases, and their refusals;
 *   - the kNN classifier on hand-worked cases: cosine similarity (scale-free), the k nearest
 *     only, exp(s/T) vote weights (a close minority outvotes a far majority at small T), ties to
 *     the lower class, vote scores summing to 1; refusals (k, T, labels, NaN features);
 *   - evaluation sets: synthetic phantoms labelled by lesion presence (both classes present)
 *     and by lesion quadrant (labels agree with the lesion mask), deterministic per seed; a
 *     dataset's samples with the manifest's labels (unlabelled records refused);
 *   - pixel AUROC against hand-worked cases (ties count one half);
 *   - feature extraction is in eval mode (a sample's features do not depend on the batch it is
 *     in) and records no gradient; loading encoder.* from a checkpoint;
 *   - learning: SimCLR pretrained briefly on phantoms gives frozen features with a clearly
 *     higher kNN accuracy on held-out phantoms than the same encoder at initialisation.
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tassl/checkpoint.h"
#include "tassl/eval.h"
#include "tassl/ops.h"
#include "tassl/tassl.h"
#include "test_util.h"

static char tmp_root[] = "/tmp/tassl_test_eval_XXXXXX";
static char device[64];

/* the SimCLR learning configuration (and the base of the others) */
static const char *base_yaml = "seed: 7\n"
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

/* base_yaml + device + output dir + the NULL-terminated overrides */
static tassl_config *config(const char *first, ...) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, base_yaml, "base") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    char a[512];
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    return c;
}

static void test_accuracy(void **state) {
    (void)state;
    /* 3 classes: truth 0 0 0 0 1 1 2 2, pred 0 0 0 1 1 0 2 2:
     * accuracy 6/8, recalls 3/4, 1/2, 2/2 → balanced (0.75 + 0.5 + 1) / 3 */
    int32_t t[] = {0, 0, 0, 0, 1, 1, 2, 2}, p[] = {0, 0, 0, 1, 1, 0, 2, 2};
    double acc, bal;
    assert_int_equal(tassl_eval_accuracy(p, t, 8, 3, &acc, &bal), TASSL_OK);
    assert_float_equal(acc, 0.75, 1e-12);
    assert_float_equal(bal, 2.25 / 3, 1e-12);
    /* a class absent from the truth does not count in the balanced mean */
    assert_int_equal(tassl_eval_accuracy(p, t, 8, 5, &acc, &bal), TASSL_OK);
    assert_float_equal(bal, 2.25 / 3, 1e-12);
    /* refusals: a label out of range (named), nothing to score */
    t[3] = 3;
    assert_int_equal(tassl_eval_accuracy(p, t, 8, 3, &acc, &bal), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "sample 3"));
    assert_int_equal(tassl_eval_accuracy(p, t, 0, 3, &acc, NULL), TASSL_ERR_ARG);

    /* AUROC: scikit-learn's example (0.1, 0.4, 0.35, 0.8) vs (0, 0, 1, 1) → 0.75 */
    float sc[] = {0.1f, 0.4f, 0.35f, 0.8f};
    uint8_t y[] = {0, 0, 1, 1};
    double auc;
    assert_int_equal(tassl_eval_auroc(sc, y, 4, &auc), TASSL_OK);
    assert_float_equal(auc, 0.75, 1e-12);
    /* ties count one half: pairs (pos 0.5 vs neg 0.5) = 1/2, (pos 0.9 vs neg 0.5) = 1,
     * (pos 0.5 vs neg 0.9) = 0, (pos 0.9 vs neg 0.9) = 1/2 → 2 / 4 */
    float st[] = {0.5f, 0.5f, 0.9f, 0.9f};
    uint8_t yt[] = {1, 0, 1, 0};
    assert_int_equal(tassl_eval_auroc(st, yt, 4, &auc), TASSL_OK);
    assert_float_equal(auc, 0.5, 1e-12);
    /* perfect and reversed rankings */
    uint8_t yp[] = {0, 0, 1, 1}, yr[] = {1, 1, 0, 0};
    float sp[] = {1, 2, 3, 4};
    assert_int_equal(tassl_eval_auroc(sp, yp, 4, &auc), TASSL_OK);
    assert_float_equal(auc, 1.0, 1e-12);
    assert_int_equal(tassl_eval_auroc(sp, yr, 4, &auc), TASSL_OK);
    assert_float_equal(auc, 0.0, 1e-12);
    /* refusals: one class only, a label not 0/1, a NaN score */
    uint8_t y1[] = {1, 1, 1, 1};
    assert_int_equal(tassl_eval_auroc(sp, y1, 4, &auc), TASSL_ERR_ARG);
    y1[0] = 2;
    assert_int_equal(tassl_eval_auroc(sp, y1, 4, &auc), TASSL_ERR_ARG);
    sp[1] = NAN;
    assert_int_equal(tassl_eval_auroc(sp, yp, 4, &auc), TASSL_ERR_NUMERIC);
}

static void test_knn_hand(void **state) {
    (void)state;
    /* a bank in 2D: class 0 along +x (3 rows at different scales), class 1 at 60° (2 rows) */
    const float c60 = 0.5f, s60 = 0.8660254f;
    float bank[] = {1, 0, 5, 0, 0.2f, 0.01f, c60, s60, 3 * c60, 3 * s60};
    int32_t by[] = {0, 0, 0, 1, 1};
    /* query at 50°: closer to class 1 (10° away) than class 0 (50° / ~47°) */
    float q[] = {cosf(50 * 3.14159265f / 180), sinf(50 * 3.14159265f / 180)};
    tassl_knn_opts o = {.k = 5, .temperature = 0.07f, .nclasses = 2};
    int32_t pred;
    float sc[2];
    assert_int_equal(tassl_knn_classify(bank, by, 5, q, 1, 2, &o, &pred, sc), TASSL_OK);
    assert_int_equal(pred, 1); /* the close minority (2 votes) outweighs the far majority (3) */
    assert_float_equal(sc[0] + sc[1], 1.0f, 1e-6f);
    /* the expected weights by hand */
    double s0a = cos(50 * M_PI / 180),
           s0c = (0.2 * s0a + 0.01 * sin(50 * M_PI / 180)) / sqrt(0.04 + 0.0001),
           s1 = cos(10 * M_PI / 180);
    double w0 = 2 * exp(s0a / 0.07) + exp(s0c / 0.07), w1 = 2 * exp(s1 / 0.07);
    assert_float_equal(sc[1], (float)(w1 / (w0 + w1)), 1e-5f);
    /* a large temperature makes the votes near-uniform: the majority wins */
    o.temperature = 100;
    assert_int_equal(tassl_knn_classify(bank, by, 5, q, 1, 2, &o, &pred, sc), TASSL_OK);
    assert_int_equal(pred, 0);
    /* k = 1: the nearest (class 1) alone; k = 3 at T 100: the 3 nearest are 1, 1, and the
     * slightly tilted class-0 row (0.2, 0.01) */
    o.k = 1;
    assert_int_equal(tassl_knn_classify(bank, by, 5, q, 1, 2, &o, &pred, sc), TASSL_OK);
    assert_int_equal(pred, 1);
    assert_float_equal(sc[1], 1.0f, 1e-6f);
    o.k = 3;
    assert_int_equal(tassl_knn_classify(bank, by, 5, q, 1, 2, &o, &pred, sc), TASSL_OK);
    assert_int_equal(pred, 1);
    assert_true(sc[0] > 0.3f && sc[0] < 0.34f);
    /* k larger than the bank is clamped; an exact tie of votes goes to the lower class */
    float tb[] = {1, 0, 0, 1}, tq[] = {1, 1};
    int32_t ty[] = {1, 0};
    o = (tassl_knn_opts){.k = 50, .temperature = 0.07f, .nclasses = 0};
    assert_int_equal(tassl_knn_classify(tb, ty, 2, tq, 1, 2, &o, &pred, NULL), TASSL_OK);
    assert_int_equal(pred, 0);
    /* evaluate: two queries, one right one wrong */
    float q2[] = {1, 0.1f, 0.1f, 1};
    int32_t qy[] = {1, 1};
    tassl_knn_result r;
    o.k = 1;
    assert_int_equal(tassl_knn_evaluate(tb, ty, 2, q2, qy, 2, 2, &o, &r), TASSL_OK);
    assert_int_equal(r.n, 2);
    assert_float_equal(r.accuracy, 0.5, 1e-12);
    assert_float_equal(r.balanced_accuracy, 0.5, 1e-12);
    /* refusals */
    o.k = 0;
    assert_int_equal(tassl_knn_classify(tb, ty, 2, tq, 1, 2, &o, &pred, NULL), TASSL_ERR_ARG);
    o.k = 1, o.temperature = 0;
    assert_int_equal(tassl_knn_classify(tb, ty, 2, tq, 1, 2, &o, &pred, NULL), TASSL_ERR_ARG);
    o.temperature = 0.1f, o.nclasses = 1;
    assert_int_equal(tassl_knn_classify(tb, ty, 2, tq, 1, 2, &o, &pred, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "row 0"));
    o.nclasses = 0;
    tq[1] = NAN;
    assert_int_equal(tassl_knn_classify(tb, ty, 2, tq, 1, 2, &o, &pred, NULL), TASSL_ERR_NUMERIC);
    assert_non_null(strstr(tassl_last_error(), "query row 0"));
}

static void test_synth_sets(void **state) {
    (void)state;
    tassl_config *c = config(NULL);
    tassl_eval_set a, b;
    assert_int_equal(tassl_eval_synth_set(c, TASSL_EVAL_TASK_LESION, 99, 0, 40, &a), TASSL_OK);
    assert_int_equal(a.n, 40);
    assert_int_equal(a.nclasses, 2);
    assert_int_equal(a.sample[1], 1);
    assert_int_equal(a.sample[2], 32);
    int pos = 0;
    for (int i = 0; i < 40; i++)
        pos += a.labels[i];
    assert_true(pos >= 8 && pos <= 32); /* lesion_prob 0.5 */
    /* deterministic; a later range continues the same stream */
    assert_int_equal(tassl_eval_synth_set(c, TASSL_EVAL_TASK_LESION, 99, 10, 5, &b), TASSL_OK);
    assert_memory_equal(a.images + 10 * 32 * 32, b.images, sizeof(float) * 5 * 32 * 32);
    assert_memory_equal(a.labels + 10, b.labels, sizeof(int32_t) * 5);
    tassl_eval_set_free(&b);
    tassl_eval_set_free(&a);
    /* quadrant: the class is where the lesion mask is, every class appears */
    assert_int_equal(tassl_eval_synth_set(c, TASSL_EVAL_TASK_QUADRANT, 5, 0, 32, &a), TASSL_OK);
    assert_int_equal(a.nclasses, 4);
    int seen[4] = {0};
    tassl_synth_opts so = tassl_synth_opts_default(2);
    so.size[1] = so.size[2] = 32;
    so.seed = 5;
    so.radius_min = 2, so.radius_max = 32.0f / 6;
    so.lesion_prob = 1, so.max_lesions = 1;
    for (int i = 0; i < 32; i++) {
        seen[a.labels[i]]++;
        tassl_image im, mk;
        tassl_box bx[TASSL_MAX_BOXES];
        int nb, has;
        assert_int_equal(tassl_synth_case(&so, i, &im, &mk, bx, &nb, &has), TASSL_OK);
        double sy = 0, sx = 0, n = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                if (mk.data[y * 32 + x] > 0) sy += y + 0.5, sx += x + 0.5, n++;
        assert_true(n > 0);
        int want = (sy / n >= 16 ? 2 : 0) + (sx / n >= 16);
        assert_int_equal(a.labels[i], want);
        tassl_image_free(&im);
        tassl_image_free(&mk);
    }
    for (int k = 0; k < 4; k++)
        assert_true(seen[k] > 0);
    tassl_eval_set_free(&a);
    /* refusals name the key */
    tassl_config *bad = config("data.patch=[8, 8]", NULL);
    assert_int_equal(tassl_eval_synth_set(bad, TASSL_EVAL_TASK_LESION, 1, 0, 4, &a), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "data.patch"));
    assert_null(a.images);
    tassl_config_free(bad);
    tassl_config_free(c);
}

static void test_dataset_set(void **state) {
    (void)state;
    /* 6 phantoms written as files with a manifest (label = lesion present) */
    char dir[4200], csv[4300];
    snprintf(dir, sizeof dir, "%s/ds", tmp_root);
    tassl_synth_opts so = tassl_synth_opts_default(2);
    so.size[1] = so.size[2] = 32;
    so.seed = 4;
    assert_int_equal(tassl_synth_write(&so, 6, dir), TASSL_OK);
    snprintf(csv, sizeof csv, "%s/manifest.csv", dir);
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, csv, NULL), TASSL_OK);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.patch[0] = 1, o.patch[1] = o.patch[2] = 32;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    tassl_eval_set set;
    if (tassl_eval_dataset_set(ds, 0, 1, &set) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(set.n, 6);
    assert_int_equal(set.sample[0], 1);
    assert_int_equal(set.sample[3], 32);
    assert_null(set.masks);
    int maxl = 0;
    for (int i = 0; i < 6; i++) {
        /* in order: sample i is record i, its label the manifest's */
        assert_int_equal(set.labels[i], tassl_dataset_record(ds, i)->label);
        if (set.labels[i] > maxl) maxl = set.labels[i];
    }
    assert_int_equal(set.nclasses, maxl + 1);
    tassl_eval_set_free(&set);
    /* at most `max` samples */
    assert_int_equal(tassl_eval_dataset_set(ds, 4, 1, &set), TASSL_OK);
    assert_int_equal(set.n, 4);
    tassl_eval_set_free(&set);
    tassl_dataset_close(ds);
    /* a record without a label is refused, naming the sample */
    m.rec[2].label = -1;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    assert_int_equal(tassl_eval_dataset_set(ds, 0, 1, &set), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "sample 2"));
    assert_null(set.images);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

static void test_features(void **state) {
    (void)state;
    tassl_config *c = config(NULL);
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, 1);
    assert_int_equal(tassl_ssl_register_config(), TASSL_OK);
    tassl_ssl *s;
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    tassl_encoder *e = tassl_ssl_encoder(s);
    /* move the running statistics away from (0, 1) so that eval mode is visible */
    tassl_params *p = tassl_ssl_params(s);
    tassl_tensor *rm = tassl_params_find(p, "encoder.bn1.running_mean");
    assert_non_null(rm);
    tassl_fill_(rm, 0.3f);
    tassl_eval_set set;
    assert_int_equal(tassl_eval_synth_set(c, TASSL_EVAL_TASK_LESION, 3, 0, 7, &set), TASSL_OK);
    int64_t D = tassl_encoder_embed_dim(e);
    float *f7 = malloc(sizeof(float) * (size_t)(7 * D)),
          *f1 = malloc(sizeof(float) * (size_t)(7 * D));
    assert_int_equal(tassl_eval_features(e, ctx, &set, 7, f7), TASSL_OK);
    assert_int_equal(tassl_eval_features(e, ctx, &set, 1, f1), TASSL_OK);
    double err = 0, mag = 0;
    for (int64_t i = 0; i < 7 * D; i++)
        err = fmax(err, fabs(f7[i] - f1[i])), mag = fmax(mag, fabs(f7[i]));
    assert_true(mag > 0);
    assert_true(err <= 1e-4 * mag); /* batch-independent: eval-mode batch norm */
    /* the running statistics are untouched (a training-mode pass would update them) */
    float v[64];
    assert_int_equal(tassl_tensor_read(rm, v), TASSL_OK);
    assert_float_equal(v[0], 0.3f, 0);
    assert_true(tassl_grad_enabled(ctx)); /* the no-grad region was closed */

    /* load encoder.* from a checkpoint of changed weights: the features change back and forth */
    tassl_ckpt *ck = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(ck, "", p), TASSL_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/enc.safetensors", tmp_root);
    tassl_tensor *w = tassl_params_find(p, "encoder.conv1.weight");
    tassl_rand_(w, -0.5f, 0.5f);
    assert_int_equal(tassl_ckpt_write(ck, path), TASSL_OK);
    float *g = malloc(sizeof(float) * (size_t)(7 * D));
    assert_int_equal(tassl_eval_features(e, ctx, &set, 7, g), TASSL_OK);
    tassl_rand_(w, -0.5f, 0.5f);
    float *h = malloc(sizeof(float) * (size_t)(7 * D));
    assert_int_equal(tassl_eval_features(e, ctx, &set, 7, h), TASSL_OK);
    assert_memory_not_equal(g, h, sizeof(float) * (size_t)(7 * D));
    assert_int_equal(tassl_eval_load_encoder(p, path), TASSL_OK);
    assert_int_equal(tassl_eval_features(e, ctx, &set, 7, h), TASSL_OK);
    assert_memory_equal(g, h, sizeof(float) * (size_t)(7 * D));
    /* a file without the encoder is refused, the weights untouched */
    assert_int_not_equal(tassl_eval_load_encoder(p, "/nonexistent/x.safetensors"), TASSL_OK);
    free(g);
    free(h);
    tassl_ckpt_free(ck);
    free(f7);
    free(f1);
    tassl_eval_set_free(&set);
    tassl_ssl_free(s);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(c);
}

/* Pretrain with cfg, compare kNN (pretrained vs random init), print both and return them. */
static tassl_knn_compare knn_compare(tassl_config *c, const char *run, tassl_eval_task task) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, run);
    tassl_knn_compare_opts o = tassl_knn_compare_opts_default();
    o.task = task;
    o.run_dir = dir;
    tassl_knn_compare r;
    if (tassl_knn_compare_run(c, &o, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    printf("# %s: kNN accuracy (k %d, T %g) random init %.3f (balanced %.3f), pretrained %lld "
           "steps %.3f (balanced %.3f)\n",
           run, o.knn.k, (double)o.knn.temperature, r.random.accuracy, r.random.balanced_accuracy,
           (long long)r.steps, r.pretrained.accuracy, r.pretrained.balanced_accuracy);
    return r;
}

static void test_simclr_knn(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_config *c = config(NULL);
    tassl_knn_compare r = knn_compare(c, "simclr-knn", TASSL_EVAL_TASK_LESION);
    assert_int_equal(r.steps, 30);
    assert_true(r.pretrained.accuracy > r.random.accuracy + 0.08);
    tassl_config_free(c);
}

static int setup(void **state) {
    (void)state;
    if (tassl_ssl_register_config() != TASSL_OK) return -1;
    return tassl_test_tmp_setup(tmp_root, device, sizeof device);
}

static int teardown(void **state) {
    (void)state;
    return tassl_test_rm_rf(tmp_root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),   cmocka_unit_test(test_knn_hand),
        cmocka_unit_test(test_synth_sets), cmocka_unit_test(test_dataset_set),
        cmocka_unit_test(test_features),   cmocka_unit_test(test_simclr_knn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
