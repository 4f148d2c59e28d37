/* test_ssl_methods.c — MoCo v2, BYOL, SimSiam, Barlow Twins and VICReg (src/ssl/<method>.c) on
 * the SSL framework:
 *   - the table knows them, their keys are registered, bad values are refused naming the key;
 *   - MoCo's queue: after each step the rows [ptr, ptr + N) mod K hold exactly the step's
 *     L2-normalised keys (recomputed here by an independent copy of the key network), every
 *     other row is unchanged, the pointer advances and wraps around;
 *   - the EMA target (BYOL's target, MoCo's key network): a copy of the online network at init;
 *     after a step target = τ·target + (1 − τ)·online on every trainable entry, read back and
 *     compared with the formula (BYOL's cosine τ schedule, MoCo's constant m); backward and the
 *     optimiser leave it alone and its gradients stay zero while the online heads get some; its
 *     batch-norm statistics are not averaged;
 *   - method state (target, queue, queue_ptr) survives a checkpoint round trip, and N steps +
 *     resume + N steps == 2N steps bit for bit on the reference backend (MoCo with the queue
 *     wrapping after the resume, BYOL);
 *   - learning: for each method a short seeded run on synthetic phantoms lowers its loss by a
 *     margin (MoCo: measured after the queue holds only real keys, and below log(K + 1), the
 *     loss of a query that cannot tell its key from the queue);
 *   - kNN: BYOL's frozen features after a short pretraining classify a held-out synthetic task
 *     better than the same encoder at its random initialisation (include/tassl/eval.h).
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref (resume uses ref). */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "test_util.h"
#include "test_ssl_util.h"
#include "tassl/autograd.h"
#include "tassl/checkpoint.h"
#include "tassl/config.h"
#include "tassl/eval.h"
#include "tassl/ops.h"
#include "tassl/optim.h"
#include "tassl/ssl.h"
#include "tassl/tassl.h"
#include "../src/ssl/ssl_target.h"

#define PI 3.14159265358979323846

static char tmp_root[] = "/tmp/tassl_test_ssl_methods_XXXXXX";
static char device[64];

/* ---- helpers --------------------------------------------------------------------------------- */

/* 16×16 phantoms, a ResNet-10 of width 0.125 (embedding 64), views from resized crops and flips */
static const char *tiny_yaml = "seed: 3\n"
                               "method: {name: byol}\n"
                               "data: {patch: [16, 16], threads: 2,\n"
                               "       aug: {preset: none, set: [\"crop=resized\", "
                               "\"crop_scale=0.5,1\", \"flip_p=0,0.5,0.5\"]}}\n"
                               "model: {depth: 10, width: 0.125, stem: small}\n"
                               "optim: {name: adamw, lr: 0.003}\n"
                               "schedule: {name: cosine, warmup_steps: 3}\n"
                               "train: {steps: 4, batch_size: 6, ckpt_every: 0, keep_last: 10}\n"
                               "ssl: {monitor_every: 10}\n"
                               "output: {log_every: 1, progress: none}\n";

/* tiny_yaml + device + output.dir/name + the NULL-terminated overrides */
static tassl_config *tiny(const char *name, ...) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, tiny_yaml, "tiny") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    va_list ap;
    va_start(ap, name);
    tassl_status st = tassl_test_config_point(c, device, tmp_root, name, ap);
    va_end(ap);
    if (st != TASSL_OK) fail_msg("%s", tassl_last_error());
    return c;
}

static char *path_in(const char *run, const char *file) {
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s%s", tmp_root, run, *file ? "/" : "", file);
    return buf[k];
}

static double mean_of(const double *x, int from, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[from + i];
    return s / n;
}

/* a host copy of a tensor */
static float *host(const tassl_tensor *t) {
    float *h = malloc(sizeof(float) * (size_t)tassl_numel(t) + 1);
    assert_non_null(h);
    assert_int_equal(tassl_tensor_read(t, h), TASSL_OK);
    return h;
}

/* the online entry a target entry mirrors: projector.* ↔ <prefix>projector.*, the rest by name */
static tassl_tensor *online_twin(tassl_ssl *s, const char *prefix, const char *name) {
    char buf[256];
    if (strncmp(name, "projector.", 10) == 0)
        snprintf(buf, sizeof buf, "%s%s", prefix, name);
    else
        snprintf(buf, sizeof buf, "%s", name);
    tassl_tensor *t = tassl_params_find(tassl_ssl_params(s), buf);
    if (!t) fail_msg("no online entry %s", buf);
    return t;
}

typedef struct fixture {
    tassl_device *dev;
    tassl_ctx *ctx;
    tassl_config *cfg;
    tassl_ssl *s;
    tassl_optim *opt;
} fixture;

static void fixture_open(fixture *f, tassl_config *c) {
    memset(f, 0, sizeof *f);
    assert_int_equal(tassl_device_open(device, &f->dev), TASSL_OK);
    f->ctx = tassl_ctx_new(f->dev);
    tassl_rng_seed(f->ctx, 11);
    f->cfg = c;
    if (tassl_ssl_new(c, f->ctx, &f->s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    tassl_optim_config oc = tassl_optim_defaults(TASSL_OPTIM_SGD);
    oc.momentum = 0.9;
    assert_int_equal(tassl_optim_new(tassl_ssl_params(f->s), &oc, &f->opt), TASSL_OK);
}

static void fixture_close(fixture *f) {
    tassl_optim_free(f->opt);
    tassl_ssl_free(f->s);
    tassl_config_free(f->cfg);
    tassl_ctx_free(f->ctx);
    tassl_device_free(f->dev);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_table_and_keys(void **state) {
    (void)state;
    static const char *names[] = {"moco", "byol", "simsiam", "barlow", "vicreg"};
    static const char *paradigms[] = {"contrastive", "non-contrastive", "non-contrastive",
                                      "non-contrastive", "non-contrastive"};
    for (int i = 0; i < 5; i++) {
        const tassl_ssl_method *m = tassl_ssl_method_find(names[i]);
        assert_non_null(m);
        assert_string_equal(m->paradigm, paradigms[i]);
        assert_true(strstr(tassl_config_key_choices(tassl_config_key_find("method.name")),
                           names[i]) != NULL);
    }
    /* defaults as the papers give them (see the files' header comments) */
    tassl_config *c = tiny("keys", NULL);
    assert_float_equal(tassl_config_float(c, "method.moco.temperature"), 0.2, 1e-12);
    assert_float_equal(tassl_config_float(c, "method.moco.momentum"), 0.999, 1e-12);
    assert_int_equal(tassl_config_int(c, "method.moco.proj_dim"), 128);
    assert_float_equal(tassl_config_float(c, "method.byol.tau_base"), 0.99, 1e-12);
    assert_int_equal(tassl_config_int(c, "method.byol.proj_dim"), 256);
    assert_float_equal(tassl_config_float(c, "method.barlow.lambda"), 0.005, 1e-12);
    assert_float_equal(tassl_config_float(c, "method.vicreg.sim_coeff"), 25, 1e-12);
    assert_float_equal(tassl_config_float(c, "method.vicreg.std_coeff"), 25, 1e-12);
    assert_float_equal(tassl_config_float(c, "method.vicreg.cov_coeff"), 1, 1e-12);
    assert_float_equal(tassl_config_float(c, "method.vicreg.eps"), 1e-4, 1e-12);
    /* out of range and unknown keys name the key */
    assert_int_equal(tassl_config_set(c, "method.moco.momentum=1.5"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "method.moco.momentum"));
    assert_int_equal(tassl_config_set(c, "method.byol.tau=0.9"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "method.byol.tau"));
    tassl_config_free(c);
    /* a queue that cannot hold one step's keys is refused before anything is written */
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    c = tiny("small-queue", "method.name=moco", "method.moco.queue_size=4", NULL);
    tassl_ssl *s = NULL;
    assert_int_equal(tassl_ssl_new(c, ctx, &s), TASSL_ERR_ARG);
    assert_null(s);
    assert_non_null(strstr(tassl_last_error(), "method.moco.queue_size"));
    tassl_config_free(c);
    /* batch statistics need two samples */
    c = tiny("batch-1", "method.name=vicreg", "train.batch_size=1", NULL);
    assert_int_equal(tassl_ssl_new(c, ctx, &s), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "train.batch_size"));
    tassl_config_free(c);
    /* head names, alone and in a hybrid */
    c = tiny("names", "method.name=hybrid", "method.hybrid.members=[byol, moco, simsiam]",
             "method.moco.queue_size=16", NULL);
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    tassl_params *p = tassl_ssl_params(s);
    assert_non_null(tassl_params_find(p, "byol.projector.layers.0.linear.weight"));
    assert_non_null(tassl_params_find(p, "byol.predictor.layers.1.linear.weight"));
    assert_non_null(tassl_params_find(p, "moco.projector.layers.1.linear.bias"));
    assert_non_null(tassl_params_find(p, "simsiam.projector.layers.2.linear.weight"));
    assert_null(tassl_params_find(p, "simsiam.projector.layers.2.norm.weight")); /* no affine */
    assert_int_equal(tassl_params_find(p, "simsiam.predictor.layers.0.linear.weight")->shape[0],
                     16); /* the bottleneck: encoder width 64 / 4 */
    assert_non_null(ssl_member_target(s, 0));
    assert_non_null(ssl_member_target(s, 1));
    assert_null(ssl_member_target(s, 2));
    assert_non_null(ssl_moco_queue(s, 1, NULL));
    assert_null(ssl_moco_queue(s, 0, NULL));
    tassl_ckpt *ck = tassl_ckpt_new();
    assert_int_equal(tassl_ssl_bind_state(s, ck), TASSL_OK);
    const char *path = path_in("names.safetensors", "");
    assert_int_equal(tassl_ckpt_write(ck, path), TASSL_OK);
    tassl_st *st;
    assert_int_equal(tassl_st_open(path, &st), TASSL_OK);
    assert_true(tassl_st_find(st, "byol.target.encoder.conv1.weight") >= 0);
    assert_true(tassl_st_find(st, "byol.target.projector.layers.0.linear.weight") >= 0);
    assert_true(tassl_st_find(st, "moco.target.projector.layers.1.linear.weight") >= 0);
    assert_true(tassl_st_find(st, "moco.queue") >= 0);
    assert_true(tassl_st_find(st, "moco.queue_ptr") >= 0);
    assert_int_equal(tassl_st_shape(st, tassl_st_find(st, "moco.queue"))[0], 16);
    assert_int_equal(tassl_st_shape(st, tassl_st_find(st, "moco.queue"))[1], 128);
    tassl_st_close(st);
    tassl_ckpt_free(ck);
    tassl_ssl_free(s);
    tassl_config_free(c);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

/* every value of the target's flat gradient is 0 */
static void expect_zero_grads(const ssl_target *t) {
    tassl_tensor *g = tassl_params_flat_grad(t->params);
    float *h = host(g);
    for (int64_t i = 0; i < tassl_numel(g); i++)
        if (h[i] != 0.0f) fail_msg("target gradient %lld is %g", (long long)i, h[i]);
    free(h);
}

/* Σ|g| over the online entries whose names start with prefix */
static double grad_mass(tassl_ssl *s, const char *prefix) {
    tassl_params *p = tassl_ssl_params(s);
    tassl_tensor *g = tassl_params_flat_grad(p);
    float *h = host(g);
    double m = 0;
    for (int i = 0; i < tassl_params_count(p); i++) {
        const tassl_tensor *x = tassl_params_get(p, i);
        if (strncmp(x->name, prefix, strlen(prefix)) != 0 || tassl_params_is_buffer(p, i)) continue;
        for (int64_t k = 0; k < tassl_numel(x); k++)
            m += fabs(h[x->off + k]);
    }
    free(h);
    return m;
}

/* MoCo with m = 1: the key network stays the initial network, so an independent copy of it made
 * here gives the keys every step must enqueue. K = 16, N = 6: the third step wraps around. */
static void test_moco_queue(void **state) {
    (void)state;
    enum { N = 6, K = 16, P = 16 };
    fixture f;
    fixture_open(&f, tiny("moco-queue", "method.name=moco", "method.moco.queue_size=16",
                          "method.moco.momentum=1", "method.moco.proj_dim=16", NULL));
    ssl_target *t = ssl_member_target(f.s, 0);
    assert_non_null(t);
    tassl_tensor *ptr_t, *queue = ssl_moco_queue(f.s, 0, &ptr_t);
    assert_non_null(queue);
    assert_int_equal(queue->shape[0], K);
    assert_int_equal(queue->shape[1], P);
    assert_float_equal(tassl_item(ptr_t), 0.0f, 0.0f);

    /* the key network at init equals the online one, entry by entry, bit for bit */
    for (int i = 0; i < tassl_params_count(t->params); i++) {
        tassl_tensor *x = tassl_params_get(t->params, i);
        tassl_tensor *o = online_twin(f.s, "", x->name);
        float *a = host(x), *b = host(o);
        assert_memory_equal(a, b, sizeof(float) * (size_t)tassl_numel(x));
        free(a);
        free(b);
    }
    /* the initial queue: unit rows */
    float *q0 = host(queue);
    for (int r = 0; r < K; r++) {
        double n2 = 0;
        for (int j = 0; j < P; j++)
            n2 += (double)q0[r * P + j] * q0[r * P + j];
        assert_float_equal(n2, 1.0, 1e-5);
    }

    /* an independent copy of the initial network: encoder + MoCo's head (D → D → 16, no norm) */
    const tassl_ssl_env *env = tassl_ssl_env_of(f.s);
    tassl_params *p0 = tassl_params_new(f.ctx);
    tassl_encoder *e0;
    assert_int_equal(tassl_encoder_new(p0, f.cfg, env->sample + 1, &e0), TASSL_OK);
    int64_t d = tassl_encoder_embed_dim(e0);
    tassl_mlp_cfg mc = {.layers = 2, .dims = {d, d, P}, .norm = TASSL_NORM_NONE};
    tassl_mlp *h0;
    assert_int_equal(tassl_mlp_new(p0, "projector", &mc, &h0), TASSL_OK);
    assert_int_equal(tassl_params_finalize(p0), TASSL_OK);
    for (int i = 0; i < tassl_params_count(p0); i++) {
        tassl_tensor *x = tassl_params_get(p0, i);
        tassl_copy_(x, online_twin(f.s, "", x->name));
    }

    for (int64_t step = 0; step < 3; step++) {
        tassl_scope_begin(f.ctx);
        tassl_params_zero_grad(tassl_ssl_params(f.s));
        tassl_ssl_batch b;
        assert_int_equal(tassl_ssl_load_batch(f.s, step, &b), TASSL_OK);
        /* the keys this step must enqueue */
        tassl_no_grad_begin(f.ctx);
        tassl_tensor *k = tassl_l2_normalize(
            tassl_mlp_forward(h0, tassl_encoder_forward(e0, b.view[1], true, NULL), true), 1,
            1e-12f);
        tassl_no_grad_end(f.ctx);
        float *want = host(k);
        const char *names[4];
        tassl_tensor *comp[4], *emb, *prev[3];
        int nc;
        tassl_tensor *loss = tassl_ssl_loss(f.s, &b, 4, names, comp, &nc, &emb, prev);
        assert_non_null(loss);
        assert_string_equal(names[0], "infonce");
        assert_int_equal(tassl_backward(loss), TASSL_OK);
        expect_zero_grads(t);
        assert_true(grad_mass(f.s, "projector.") > 0);
        assert_int_equal(tassl_optim_step(f.opt, 0.05), TASSL_OK);
        tassl_scope_end(f.ctx);
        float *before = host(queue);
        assert_int_equal(tassl_ssl_after_step(f.s, step + 1), TASSL_OK);
        float *after = host(queue);
        int64_t start = (step * N) % K;
        assert_float_equal(tassl_item(ptr_t), (float)(((step + 1) * N) % K), 0.0f);
        for (int r = 0; r < K; r++) {
            int64_t slot = (r - start + K) % K; /* position in this step's keys, if < N */
            for (int j = 0; j < P; j++) {
                float got = after[r * P + j];
                if (slot < N) {
                    if (fabsf(got - want[slot * P + j]) > 1e-5f)
                        fail_msg("step %lld: queue row %d col %d is %g, key %lld has %g",
                                 (long long)step + 1, r, j, got, (long long)slot,
                                 want[slot * P + j]);
                } else if (got != before[r * P + j]) {
                    fail_msg("step %lld: queue row %d changed but was not written",
                             (long long)step + 1, r);
                }
            }
        }
        free(want);
        free(before);
        free(after);
    }
    /* m = 1: the key network never moved although the online network did */
    tassl_tensor *w = tassl_params_find(t->params, "projector.layers.0.linear.weight");
    float *tw = host(w), *w0 = host(tassl_params_find(p0, "projector.layers.0.linear.weight"));
    float *ow = host(online_twin(f.s, "", "projector.layers.0.linear.weight"));
    assert_memory_equal(tw, w0, sizeof(float) * (size_t)tassl_numel(w));
    assert_memory_not_equal(ow, w0, sizeof(float) * (size_t)tassl_numel(w));
    free(tw);
    free(w0);
    free(ow);
    free(q0);
    tassl_mlp_free(h0);
    tassl_encoder_free(e0);
    tassl_params_free(p0);
    fixture_close(&f);
}

/* One step of member 0 with the EMA check: target untouched by loss/backward/optimiser, zero
 * target gradients, then after_step gives τ·target + (1 − τ)·online on trainable entries and
 * leaves the buffers as they were. */
static void ema_step(fixture *f, const char *prefix, int64_t step, float tau) {
    ssl_target *t = ssl_member_target(f->s, 0);
    tassl_params *tp = t->params;
    tassl_tensor *tflat = tassl_params_flat(tp);
    float *t0 = host(tflat);
    tassl_scope_begin(f->ctx);
    tassl_params_zero_grad(tassl_ssl_params(f->s));
    tassl_ssl_batch b;
    assert_int_equal(tassl_ssl_load_batch(f->s, step - 1, &b), TASSL_OK);
    const char *names[4];
    tassl_tensor *comp[4], *emb, *prev[3];
    int nc;
    tassl_tensor *loss = tassl_ssl_loss(f->s, &b, 4, names, comp, &nc, &emb, prev);
    assert_non_null(loss);
    assert_int_equal(tassl_backward(loss), TASSL_OK);
    expect_zero_grads(t);
    char pre[64];
    snprintf(pre, sizeof pre, "%sprojector.", prefix);
    assert_true(grad_mass(f->s, pre) > 0);
    assert_true(grad_mass(f->s, "encoder.") > 0);
    assert_int_equal(tassl_optim_step(f->opt, 0.05), TASSL_OK);
    tassl_scope_end(f->ctx);
    float *t1 = host(tflat);
    /* trainable entries: untouched so far (the target's batch norm statistics moved with its
     * training-mode forward pass: buffers are not compared here) */
    for (int i = 0; i < tassl_params_count(tp); i++) {
        const tassl_tensor *x = tassl_params_get(tp, i);
        if (tassl_params_is_buffer(tp, i)) continue;
        if (memcmp(t0 + x->off, t1 + x->off, sizeof(float) * (size_t)tassl_numel(x)) != 0)
            fail_msg("step %lld: target %s changed before the EMA update", (long long)step,
                     x->name);
    }
    assert_int_equal(tassl_ssl_after_step(f->s, step), TASSL_OK);
    float *t2 = host(tflat);
    const float keep = tau, take = 1.0f - tau;
    const bool exact = strcmp(device, "ref") == 0;
    int64_t checked = 0;
    for (int i = 0; i < tassl_params_count(tp); i++) {
        const tassl_tensor *x = tassl_params_get(tp, i);
        int64_t n = tassl_numel(x);
        if (tassl_params_is_buffer(tp, i)) {
            if (memcmp(t1 + x->off, t2 + x->off, sizeof(float) * (size_t)n) != 0)
                fail_msg("step %lld: the EMA update changed buffer %s", (long long)step, x->name);
            continue;
        }
        float *o = host(online_twin(f->s, prefix, x->name));
        for (int64_t k = 0; k < n; k++) {
            float a = keep * t1[x->off + k];
            float c = take * o[k];
            float want = a + c, got = t2[x->off + k];
            float tol = exact ? 0.0f : 1e-6f * (fabsf(a) + fabsf(c)) + 1e-30f;
            if (!(fabsf(got - want) <= tol))
                fail_msg("step %lld: target %s[%lld] is %.9g, tau·target + (1 − tau)·online "
                         "= %.9g (tau %.9g)",
                         (long long)step, x->name, (long long)k, got, want, tau);
            checked++;
        }
        free(o);
    }
    assert_true(checked > 1000);
    free(t0);
    free(t1);
    free(t2);
}

static void test_byol_ema(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, tiny("byol-ema", "method.name=byol", "method.byol.tau_base=0.9",
                          "method.byol.proj_dim=32", "train.steps=4", NULL));
    /* the cosine schedule: τ(k) = 1 − (1 − 0.9)(cos(πk/4) + 1)/2, k = steps done before */
    ema_step(&f, "", 1, 0.9f);
    ema_step(&f, "", 2, (float)(1.0 - 0.1 * (cos(PI / 4) + 1) / 2));
    assert_float_equal(tassl_ema_byol_tau(0.9, 1, 4), 1.0 - 0.1 * (cos(PI / 4) + 1) / 2, 1e-15);
    fixture_close(&f);
}

static void test_moco_ema(void **state) {
    (void)state;
    fixture f;
    /* in a hybrid, so that the name mapping (moco.projector.*) and foreign heads take part */
    fixture_open(&f, tiny("moco-ema", "method.name=hybrid", "method.hybrid.members=[moco, vicreg]",
                          "method.moco.momentum=0.9", "method.moco.queue_size=12",
                          "method.moco.proj_dim=16", "method.vicreg.proj_dim=32", NULL));
    ema_step(&f, "moco.", 1, 0.9f);
    ema_step(&f, "moco.", 2, 0.9f);
    fixture_close(&f);
}

/* all tensors of two safetensors files identical, bit for bit */
static void expect_same_ckpt(const char *a, const char *b) {
    tassl_st *sa, *sb;
    assert_int_equal(tassl_st_open(a, &sa), TASSL_OK);
    assert_int_equal(tassl_st_open(b, &sb), TASSL_OK);
    assert_int_equal(tassl_st_count(sa), tassl_st_count(sb));
    for (int i = 0; i < tassl_st_count(sa); i++) {
        int j = tassl_st_find(sb, tassl_st_name(sa, i));
        if (j < 0) fail_msg("%s missing in %s", tassl_st_name(sa, i), b);
        int64_t n = tassl_st_nbytes(sa, i);
        assert_int_equal(n, tassl_st_nbytes(sb, j));
        unsigned char *x = malloc((size_t)n + 1), *y = malloc((size_t)n + 1);
        assert_int_equal(tassl_st_read_raw(sa, i, x), TASSL_OK);
        assert_int_equal(tassl_st_read_raw(sb, j, y), TASSL_OK);
        if (memcmp(x, y, (size_t)n) != 0) fail_msg("%s differs", tassl_st_name(sa, i));
        free(x);
        free(y);
    }
    assert_string_equal(tassl_st_meta(sa, "step"), tassl_st_meta(sb, "step"));
    tassl_st_close(sa);
    tassl_st_close(sb);
}

/* one tensor of a checkpoint file, as host floats (n of them) */
static float *ckpt_tensor(const char *path, const char *name, int64_t *n) {
    tassl_st *st;
    assert_int_equal(tassl_st_open(path, &st), TASSL_OK);
    int i = tassl_st_find(st, name);
    if (i < 0) fail_msg("%s: no tensor %s", path, name);
    *n = tassl_st_nbytes(st, i) / 4;
    float *x = malloc(sizeof(float) * (size_t)*n + 1);
    assert_int_equal(tassl_st_read_f32(st, i, x), TASSL_OK);
    tassl_st_close(st);
    return x;
}

/* N steps + resume + N steps == 2N steps, bit for bit (ref), method state included */
static void resume_case(const char *method, const char *extra1, const char *extra2,
                        const char *state_name) {
    char saved[64];
    snprintf(saved, sizeof saved, "%s", device);
    snprintf(device, sizeof device, "ref");
    char straight[64], resumed[64], m[64];
    snprintf(straight, sizeof straight, "%s-straight", method);
    snprintf(resumed, sizeof resumed, "%s-resumed", method);
    snprintf(m, sizeof m, "method.name=%s", method);
    tassl_config *a = tiny(straight, m, extra1, extra2, NULL);
    tassl_test_pretrain_ok(a, NULL);
    tassl_config *b = tiny(resumed, m, extra1, extra2, NULL);
    tassl_pretrain_opts o = {.stop_after = 2};
    tassl_test_pretrain_ok(b, &o);
    assert_int_equal(o.steps_done, 2);
    /* the method state is in the checkpoint of step 2 ... */
    int64_t n;
    float *st2 = ckpt_tensor(path_in(resumed, "ckpt-000002.safetensors"), state_name, &n);
    tassl_config *rc;
    assert_int_equal(tassl_config_new(&rc), TASSL_OK);
    assert_int_equal(tassl_config_load_file(rc, path_in(resumed, "config.yaml")), TASSL_OK);
    tassl_pretrain_opts r = {.resume = path_in(resumed, "")};
    tassl_test_pretrain_ok(rc, &r);
    expect_same_ckpt(path_in(straight, "ckpt-000004.safetensors"),
                     path_in(resumed, "ckpt-000004.safetensors"));
    /* ... and it moved between steps 2 and 4 (the comparison above covers it) */
    int64_t n4;
    float *st4 = ckpt_tensor(path_in(resumed, "ckpt-000004.safetensors"), state_name, &n4);
    assert_int_equal(n, n4);
    assert_memory_not_equal(st2, st4, sizeof(float) * (size_t)n);
    double l1[8], l2[8];
    assert_int_equal(tassl_test_read_losses(path_in(straight, "metrics.jsonl"), l1, 8), 4);
    assert_int_equal(tassl_test_read_losses(path_in(resumed, "metrics.jsonl"), l2, 8), 4);
    for (int i = 0; i < 4; i++)
        assert_true(l1[i] == l2[i]);
    free(st2);
    free(st4);
    tassl_config_free(a);
    tassl_config_free(b);
    tassl_config_free(rc);
    snprintf(device, sizeof device, "%s", saved);
}

static void test_resume_moco(void **state) {
    (void)state;
    /* K = 16, N = 6: positions 0, 6, 12, then 2 (the wrap happens after the resume) */
    resume_case("moco", "method.moco.queue_size=16", "method.moco.momentum=0.9", "queue");
    int64_t n;
    float *p = ckpt_tensor(path_in("moco-resumed", "ckpt-000002.safetensors"), "queue_ptr", &n);
    assert_int_equal(n, 1);
    assert_float_equal(p[0], 12.0f, 0.0f);
    free(p);
    p = ckpt_tensor(path_in("moco-resumed", "ckpt-000004.safetensors"), "queue_ptr", &n);
    assert_float_equal(p[0], 8.0f, 0.0f);
    free(p);
}

static void test_resume_byol(void **state) {
    (void)state;
    resume_case("byol", "method.byol.proj_dim=32", "method.byol.tau_base=0.9",
                "target.projector.layers.0.linear.weight");
}

/* a short seeded run of `method` (16 samples per step); its losses into l, returns the count */
static int learn(const char *name, double *l, int max, ...) {
    tassl_config *c = tiny(name, "train.batch_size=16", "ssl.monitor_every=10", NULL);
    va_list ap;
    va_start(ap, max);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    tassl_test_pretrain_ok(c, NULL);
    int n = tassl_test_read_losses(path_in(name, "metrics.jsonl"), l, max);
    assert_int_equal(n, tassl_config_int(c, "train.steps"));
    tassl_config_free(c);
    return n;
}

/* The margins below are about half the drops measured with seeds 3, 5 and 7 on pocl and ref. */
static void test_learning_moco(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* K = 32 = two batches of keys: after step 2 the queue holds only real keys and the loss
     * sits near log(K + 1) (a query that cannot tell its key apart); then it falls (measured:
     * 3.25–3.37 over steps 6–10 → 3.05–3.11 over the last 5) */
    double l[64];
    int n = learn("learn-moco", l, 64, "method.name=moco", "method.moco.queue_size=32",
                  "method.moco.momentum=0.99", "optim.lr=0.01", "train.steps=40", NULL);
    double early = mean_of(l, 5, 5), last = mean_of(l, n - 5, 5), chance = log(33.0);
    printf("# MoCo InfoNCE: steps 6-10 %.4f, last 5 %.4f (log(K+1) = %.4f)\n", early, last, chance);
    assert_true(last < early - 0.1);
    assert_true(last < chance - 0.2);
}

static void test_learning_byol(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* 2 − 2cos summed over both directions: ~4 at random, measured 3.4–3.6 → 1.6–1.8 */
    double l[64];
    int n = learn("learn-byol", l, 64, "method.name=byol", "method.byol.proj_dim=64",
                  "train.steps=30", NULL);
    double first = mean_of(l, 0, 5), last = mean_of(l, n - 5, 5);
    printf("# BYOL loss: first 5 %.4f, last 5 %.4f\n", first, last);
    assert_true(last < first - 0.8);
}

static void test_learning_simsiam(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* −cos in [−1, 1]: ~0 at random, measured −0.01..0.00 → −0.25..−0.63 in 40 steps */
    double l[64];
    int n = learn("learn-simsiam", l, 64, "method.name=simsiam", "optim.lr=0.01", "train.steps=40",
                  NULL);
    double first = mean_of(l, 0, 5), last = mean_of(l, n - 5, 5);
    printf("# SimSiam loss: first 5 %.4f, last 5 %.4f\n", first, last);
    assert_true(last < first - 0.12);
}

static void test_learning_barlow(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* 128 projection dims: measured 125–140 → 52–59 */
    double l[64];
    int n = learn("learn-barlow", l, 64, "method.name=barlow", "method.barlow.proj_dim=128",
                  "train.steps=30", NULL);
    double first = mean_of(l, 0, 5), last = mean_of(l, n - 5, 5);
    printf("# Barlow Twins loss: first 5 %.4f, last 5 %.4f\n", first, last);
    assert_true(last < 0.75 * first);
}

static void test_learning_vicreg(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* 128 expander dims: measured 22.1–22.4 → 19.2–19.3 */
    double l[64];
    int n = learn("learn-vicreg", l, 64, "method.name=vicreg", "method.vicreg.proj_dim=128",
                  "optim.lr=0.01", "train.steps=30", NULL);
    double first = mean_of(l, 0, 5), last = mean_of(l, n - 5, 5);
    printf("# VICReg loss: first 5 %.4f, last 5 %.4f\n", first, last);
    assert_true(last < first - 1.5);
}

/* kNN on frozen features (eval.h): pretrain briefly (40 steps of 16) on 32×32 phantoms (crops +
 * noise; at 16×16 the lesions are too small for a clear margin), then classify a held-out
 * synthetic task ("does the phantom hold a lesion") with the pretrained encoder and with the
 * same encoder at its random initialisation. */
static tassl_knn_compare knn_case(const char *run, ...) {
    tassl_config *c = tiny(run, "data.patch=[32, 32]", "train.batch_size=16", "train.steps=40",
                           "ssl.monitor_every=0", "output.log_every=10",
                           "data.aug.set=[\"crop=resized\", \"crop_scale=0.5,1\", "
                           "\"noise_p=0.5\", \"noise_std=0,0.1\"]",
                           NULL);
    va_list ap;
    va_start(ap, run);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    tassl_knn_compare_opts o = tassl_knn_compare_opts_default();
    o.task = TASSL_EVAL_TASK_LESION;
    o.run_dir = path_in(run, "");
    tassl_knn_compare r;
    if (tassl_knn_compare_run(c, &o, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    printf("# %s: kNN accuracy (k %d, T %g) random init %.3f (balanced %.3f), pretrained %lld "
           "steps %.3f (balanced %.3f)\n",
           run, o.knn.k, (double)o.knn.temperature, r.random.accuracy, r.random.balanced_accuracy,
           (long long)r.steps, r.pretrained.accuracy, r.pretrained.balanced_accuracy);
    assert_int_equal(r.steps, tassl_config_int(c, "train.steps"));
    tassl_config_free(c);
    return r;
}

static void test_knn_byol(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* measured on pocl with seeds 7, 3, 5: random init 0.539, 0.484, 0.648 → pretrained 0.750,
     * 0.750, 0.734 (+0.09 to +0.27); seed 7 on ref: 0.539 → 0.758 */
    tassl_knn_compare r =
        knn_case("knn-byol", "method.name=byol", "method.byol.proj_dim=64", "seed=7", NULL);
    assert_true(r.pretrained.accuracy > r.random.accuracy + 0.08);
    /* it was BYOL that ran: its loss (≈ 4 at random, 0 at best) fell */
    double l[8];
    int n = tassl_test_read_losses(path_in("knn-byol", "metrics.jsonl"), l, 8);
    assert_int_equal(n, 4);
    assert_true(l[0] > 2.5 && l[n - 1] < l[0] - 0.5);
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
        cmocka_unit_test(test_table_and_keys),   cmocka_unit_test(test_moco_queue),
        cmocka_unit_test(test_byol_ema),         cmocka_unit_test(test_moco_ema),
        cmocka_unit_test(test_resume_moco),      cmocka_unit_test(test_resume_byol),
        cmocka_unit_test(test_learning_moco),    cmocka_unit_test(test_learning_byol),
        cmocka_unit_test(test_learning_simsiam), cmocka_unit_test(test_learning_barlow),
        cmocka_unit_test(test_learning_vicreg),  cmocka_unit_test(test_knn_byol),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
