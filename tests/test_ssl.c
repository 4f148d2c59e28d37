/* test_ssl.c — the SSL framework and `tassl pretrain` (tassl_pretrain), with SimCLR as the
 * method that proves the design:
 *   - the method table: lookup, run-time registration and its refusals;
 *   - head names in the parameter set, alone ("projector.*") and in a hybrid ("simclr.*",
 *     "probe.*"), and the union of the members' inputs;
 *   - a member's extra state (bound with bind_state, updated in after_step) survives a
 *     checkpoint round trip;
 *   - resume: N steps + resume + N steps == 2N steps, bit for bit, on the reference backend;
 *   - SIGINT raised in-process after step k: a checkpoint of step k, a clean return;
 *   - a non-finite loss (test hook) stops with a message naming the step and the components,
 *     the last checkpoint intact and nothing written after it;
 *   - the collapse monitor: identical embeddings → rank 1 + collapsed, random → high rank;
 *     the Jacobi eigen-solver against known spectra;
 *   - learning: a short seeded SimCLR run on synthetic phantoms lowers its loss.
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref (resume uses ref). */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "test_util.h"
#include "test_ssl_util.h"
#include "tassl/autograd.h"
#include "tassl/checkpoint.h"
#include "tassl/config.h"
#include "tassl/io.h"
#include "tassl/ops.h"
#include "tassl/ssl.h"
#include "tassl/tassl.h"

static char tmp_root[] = "/tmp/tassl_test_ssl_XXXXXX";
static char device[64];

/* ---- a second method, for the framework tests: "probe" ----------------------------------------
 * One view, the clean image and a custom per-sample input (the clean image's mean, as a label);
 * a linear head regresses the label from the view's embedding; its extra state is an EMA of the
 * head's weight, updated after every step and bound to checkpoints as "<prefix>state.ema". */
static const tassl_cfg_choice probe_choices[] = {{"method.name", "probe"}};
static const tassl_cfg_section probe_section = {"probe", NULL, 0, probe_choices, 1};

typedef struct probe {
    const tassl_ssl_env *env;
    char prefix[64];
    tassl_classifier *head;
    tassl_params *st; /* its own set: the EMA buffer */
    tassl_tensor *ema;
    int64_t steps_seen;
} probe;

static tassl_status probe_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                                 void **state) {
    probe *p = calloc(1, sizeof *p);
    *state = p;
    p->env = env;
    snprintf(p->prefix, sizeof p->prefix, "%s", prefix);
    in->views = 1;
    in->clean = true;
    in->ncustom = 1;
    snprintf(in->custom[0].name, sizeof in->custom[0].name, "mean");
    in->custom[0].shape[0] = in->custom[0].shape[1] = in->custom[0].shape[2] =
        in->custom[0].shape[3] = 1;
    char name[128];
    return tassl_classifier_new(env->params, tassl_ssl_name(name, sizeof name, prefix, "head"),
                                tassl_encoder_embed_dim(env->encoder), 1, &p->head);
}

static tassl_status probe_init(void *state) {
    probe *p = state;
    tassl_status s = tassl_module_init(tassl_classifier_module(p->head));
    if (s != TASSL_OK) return s;
    p->st = tassl_params_new(p->env->ctx);
    p->ema = tassl_params_add_buffer(p->st, "ema",
                                     TASSL_SHAPE(tassl_encoder_embed_dim(p->env->encoder)));
    if ((s = tassl_params_finalize(p->st)) != TASSL_OK) return s;
    tassl_fill_(p->ema, 0.0f);
    return TASSL_OK;
}

static tassl_status probe_bind(void *state, tassl_ckpt *ck) {
    probe *p = state;
    char name[128];
    return tassl_ckpt_add_params(ck, tassl_ssl_name(name, sizeof name, p->prefix, "state."), p->st);
}

static tassl_status probe_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    (void)state;
    int64_t n = s->clean->channels * tassl_image_voxels(s->clean);
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m += s->clean->data[i];
    out[0][0] = (float)(m / (double)n);
    return TASSL_OK;
}

static tassl_tensor *probe_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    probe *p = state;
    assert_non_null(b->clean);
    assert_non_null(b->custom[0]);
    assert_int_equal(b->custom[0]->ndim, 1);
    tassl_tensor *h = tassl_encoder_forward(p->env->encoder, b->view[0], true, NULL);
    tassl_tensor *y = tassl_classifier_forward(p->head, h); /* (N, 1) */
    tassl_tensor *t = tassl_reshape(b->custom[0], TASSL_SHAPE(b->n, 1));
    tassl_tensor *l = tassl_mse_loss(y, t, TASSL_REDUCE_MEAN);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"mse", tassl_detach(l)};
    /* as a generative method would: input, corrupted input, reconstruction */
    out->preview[0] = b->clean;
    out->preview[1] = b->view[0];
    out->preview[2] = b->clean;
    return l;
}

static tassl_status probe_after(void *state, int64_t step) {
    probe *p = state;
    p->steps_seen = step;
    tassl_module *m = tassl_classifier_module(p->head);
    tassl_tensor *w = tassl_module_get(m, 0); /* weight (1, D) */
    tassl_tensor *row = tassl_reshape(w, TASSL_SHAPE(w->shape[1]));
    tassl_copy_(p->ema, tassl_add(tassl_scale(p->ema, 0.5f), tassl_scale(row, 0.5f)));
    return TASSL_OK;
}

static void probe_destroy(void *state) {
    probe *p = state;
    tassl_classifier_free(p->head);
    tassl_params_free(p->st);
    free(p);
}

static const tassl_ssl_method probe_method = {
    .name = "probe",
    .paradigm = "predictive",
    .summary = "test method",
    .keys = &probe_section,
    .create = probe_create,
    .init = probe_init,
    .bind_state = probe_bind,
    .prepare = probe_prepare,
    .loss = probe_loss,
    .after_step = probe_after,
    .destroy = probe_destroy,
};

/* ---- helpers -----------------------------------------------------------------------------------
 */

static const char *tiny_yaml = "seed: 3\n"
                               "method: {name: simclr, simclr: {proj_dim: 16}}\n"
                               "data: {patch: [16, 16], threads: 2,\n"
                               "       aug: {preset: mri, set: [\"crop=resized\", "
                               "\"crop_scale=0.4,1\", \"elastic_p=0\"]}}\n"
                               "model: {depth: 10, width: 0.125, stem: small}\n"
                               "optim: {name: adamw, lr: 0.003}\n"
                               "schedule: {name: cosine, warmup_steps: 1}\n"
                               "train: {steps: 4, batch_size: 6, ckpt_every: 2, keep_last: 10}\n"
                               "ssl: {monitor_every: 2}\n"
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

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- tests -------------------------------------------------------------------------------------
 */

static void test_method_table(void **state) {
    (void)state;
    const tassl_ssl_method *m = tassl_ssl_method_find("simclr");
    assert_non_null(m);
    assert_string_equal(m->paradigm, "contrastive");
    assert_null(tassl_ssl_method_find("no-such-method"));
    assert_non_null(tassl_ssl_method_find("probe"));
    bool seen = false;
    for (int i = 0; i < tassl_ssl_method_count(); i++)
        seen = seen || tassl_ssl_method_at(i) == &probe_method;
    assert_true(seen);
    /* refusals: a taken name, a reserved one, missing functions */
    assert_int_equal(tassl_ssl_method_register(&probe_method), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "already registered"));
    tassl_ssl_method bad = probe_method;
    bad.name = "hybrid";
    assert_int_equal(tassl_ssl_method_register(&bad), TASSL_ERR_ARG);
    bad.name = "probe2";
    bad.loss = NULL;
    assert_int_equal(tassl_ssl_method_register(&bad), TASSL_ERR_ARG);
    assert_null(tassl_ssl_method_find("probe2"));
    /* the keys are registered: method.simclr.*, ssl.*, data.patch; method.name knows simclr */
    assert_non_null(tassl_config_key_find("method.simclr.temperature"));
    assert_non_null(tassl_config_key_find("ssl.monitor_every"));
    assert_non_null(
        strstr(tassl_config_key_choices(tassl_config_key_find("method.name")), "simclr"));
    /* an unknown method in a hybrid is named */
    tassl_config *c =
        tiny("bad-hybrid", "method.name=hybrid", "method.hybrid.members=[simclr, nope]", NULL);
    tassl_pretrain_opts o = {.quiet = true};
    assert_int_equal(tassl_pretrain(c, &o), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "method.hybrid.members[1]"));
    assert_false(exists(path_in("bad-hybrid", ""))); /* refused before anything is created */
    tassl_config_free(c);
}

static bool has_param(tassl_params *p, const char *name) {
    return tassl_params_find(p, name) != NULL;
}

static void test_head_names(void **state) {
    (void)state;
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, 1);

    tassl_config *c = tiny("names", NULL);
    tassl_ssl *s;
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    tassl_params *p = tassl_ssl_params(s);
    assert_true(has_param(p, "encoder.conv1.weight"));
    assert_true(has_param(p, "encoder.layer4.0.bn2.running_var"));
    assert_true(has_param(p, "projector.layers.0.linear.weight"));
    assert_true(has_param(p, "projector.layers.0.norm.weight"));
    assert_true(has_param(p, "projector.layers.1.linear.weight"));
    assert_int_equal(tassl_params_find(p, "projector.layers.1.linear.weight")->shape[0], 16);
    tassl_ssl_inputs in = tassl_ssl_inputs_of(s);
    assert_int_equal(in.views, 2);
    assert_false(in.clean);
    assert_int_equal(in.ncustom, 0);
    tassl_ssl_free(s);
    tassl_config_free(c);

    /* a hybrid: prefixes per member, the union of inputs, weighted components */
    c = tiny("names-hybrid", "method.name=hybrid", "method.hybrid.members=[simclr, probe]",
             "method.hybrid.weights=[1, 0.5]", NULL);
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    p = tassl_ssl_params(s);
    assert_true(has_param(p, "encoder.conv1.weight"));
    assert_true(has_param(p, "simclr.projector.layers.0.linear.weight"));
    assert_true(has_param(p, "probe.head.weight"));
    assert_false(has_param(p, "projector.layers.0.linear.weight"));
    assert_int_equal(tassl_ssl_members(s), 2);
    assert_string_equal(tassl_ssl_member_prefix(s, 1), "probe.");
    in = tassl_ssl_inputs_of(s);
    assert_int_equal(in.views, 2);
    assert_true(in.clean);
    assert_int_equal(in.ncustom, 1);
    tassl_scope_begin(ctx);
    tassl_ssl_batch b;
    if (tassl_ssl_load_batch(s, 0, &b) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(b.nviews, 2);
    assert_int_equal(b.view[0]->ndim, 4);
    assert_int_equal(b.view[0]->shape[0], 6);
    assert_int_equal(b.view[0]->shape[2], 16);
    const char *names[16];
    tassl_tensor *comp[16], *emb, *prev[3];
    int nc;
    tassl_tensor *loss = tassl_ssl_loss(s, &b, 16, names, comp, &nc, &emb, prev);
    assert_non_null(loss);
    assert_int_equal(nc, 2);
    assert_string_equal(names[0], "simclr.nt_xent");
    assert_string_equal(names[1], "probe.mse");
    assert_non_null(emb);
    assert_int_equal(emb->shape[1], 16);
    float total = tassl_item(loss), a = tassl_item(comp[0]), m = tassl_item(comp[1]);
    assert_float_equal(total, a + 0.5f * m, 1e-4f * (1 + fabsf(total)));
    /* the batch is a pure function of the step: the same views again */
    float *v1 = malloc(sizeof(float) * 6 * 256), *v2 = malloc(sizeof(float) * 6 * 256);
    assert_int_equal(tassl_tensor_read(b.view[1], v1), TASSL_OK);
    tassl_ssl_batch b2;
    assert_int_equal(tassl_ssl_load_batch(s, 0, &b2), TASSL_OK);
    assert_int_equal(tassl_tensor_read(b2.view[1], v2), TASSL_OK);
    assert_memory_equal(v1, v2, sizeof(float) * 6 * 256);
    assert_int_equal(tassl_tensor_read(b2.view[0], v2), TASSL_OK); /* views differ */
    assert_memory_not_equal(v1, v2, sizeof(float) * 6 * 256);
    free(v1);
    free(v2);
    tassl_scope_end(ctx);
    tassl_ssl_free(s);
    tassl_config_free(c);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

static void test_state_roundtrip(void **state) {
    (void)state;
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, 1);
    tassl_config *c = tiny("state", "method.name=probe", NULL);
    tassl_ssl *s;
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    /* change the head, then let after_step move the EMA state twice */
    tassl_tensor *w = tassl_params_find(tassl_ssl_params(s), "head.weight");
    assert_non_null(w);
    tassl_rand_(w, -1, 1);
    assert_int_equal(tassl_ssl_after_step(s, 1), TASSL_OK);
    assert_int_equal(tassl_ssl_after_step(s, 2), TASSL_OK);
    tassl_ckpt *ck = tassl_ckpt_new();
    assert_int_equal(tassl_ssl_bind_state(s, ck), TASSL_OK);
    const char *path = path_in("state.safetensors", "");
    assert_int_equal(tassl_ckpt_write(ck, path), TASSL_OK);
    tassl_st *st;
    assert_int_equal(tassl_st_open(path, &st), TASSL_OK);
    int i = tassl_st_find(st, "state.ema");
    assert_true(i >= 0);
    int64_t d = tassl_st_shape(st, i)[0];
    float *want = malloc(sizeof(float) * (size_t)d), *got = malloc(sizeof(float) * (size_t)d);
    assert_int_equal(tassl_st_read_f32(st, i, want), TASSL_OK);
    tassl_st_close(st);
    /* the expected EMA after two steps: 0.75·w */
    float *wv = malloc(sizeof(float) * (size_t)d);
    assert_int_equal(tassl_tensor_read(w, wv), TASSL_OK);
    for (int64_t k = 0; k < d; k++)
        assert_float_equal(want[k], 0.75f * wv[k], 1e-6f);
    /* one more step changes it; reading the checkpoint restores it */
    assert_int_equal(tassl_ssl_after_step(s, 3), TASSL_OK);
    assert_int_equal(tassl_ckpt_read(ck, path, NULL), TASSL_OK);
    tassl_ckpt_free(ck);
    ck = tassl_ckpt_new();
    assert_int_equal(tassl_ssl_bind_state(s, ck), TASSL_OK);
    const char *path2 = path_in("state2.safetensors", "");
    assert_int_equal(tassl_ckpt_write(ck, path2), TASSL_OK);
    assert_int_equal(tassl_st_open(path2, &st), TASSL_OK);
    assert_int_equal(tassl_st_read_f32(st, tassl_st_find(st, "state.ema"), got), TASSL_OK);
    tassl_st_close(st);
    assert_memory_equal(want, got, sizeof(float) * (size_t)d);
    free(want);
    free(got);
    free(wv);
    tassl_ckpt_free(ck);
    tassl_ssl_free(s);
    tassl_config_free(c);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
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
    assert_string_equal(tassl_st_meta(sa, "rng.counter"), tassl_st_meta(sb, "rng.counter"));
    tassl_st_close(sa);
    tassl_st_close(sb);
}

static void test_resume(void **state) {
    (void)state;
    char saved[64];
    snprintf(saved, sizeof saved, "%s", device);
    snprintf(device, sizeof device, "ref");
    /* a hybrid, so that a member's extra state (probe.state.ema) takes part too */
    tassl_config *a = tiny("straight", "method.name=hybrid",
                           "method.hybrid.members=[simclr, probe]", "train.ckpt_every=0", NULL);
    tassl_test_pretrain_ok(a, NULL);
    tassl_config *b = tiny("resumed", "method.name=hybrid", "method.hybrid.members=[simclr, probe]",
                           "train.ckpt_every=0", NULL);
    tassl_pretrain_opts o = {.stop_after = 2};
    tassl_test_pretrain_ok(b, &o);
    assert_int_equal(o.steps_done, 2);
    assert_true(exists(path_in("resumed", "ckpt-000002.safetensors")));
    tassl_config *rc;
    assert_int_equal(tassl_config_new(&rc), TASSL_OK);
    assert_int_equal(tassl_config_load_file(rc, path_in("resumed", "config.yaml")), TASSL_OK);
    tassl_pretrain_opts r = {.resume = path_in("resumed", "")};
    tassl_test_pretrain_ok(rc, &r);
    expect_same_ckpt(path_in("straight", "ckpt-000004.safetensors"),
                     path_in("resumed", "ckpt-000004.safetensors"));
    double l1[8], l2[8];
    assert_int_equal(tassl_test_read_losses(path_in("straight", "metrics.jsonl"), l1, 8), 4);
    assert_int_equal(tassl_test_read_losses(path_in("resumed", "metrics.jsonl"), l2, 8), 4);
    for (int i = 0; i < 4; i++)
        assert_true(l1[i] == l2[i]);
    /* the probe member reports preview tensors: the last step wrote a 3-panel PNG */
    tassl_image im;
    assert_int_equal(tassl_png_read(path_in("straight", "preview-000004.png"), NULL, &im, NULL),
                     TASSL_OK);
    assert_int_equal(im.h, 16);
    assert_int_equal(im.w, 3 * 16 + 2 * 2);
    tassl_image_free(&im);
    tassl_config_free(a);
    tassl_config_free(b);
    tassl_config_free(rc);
    snprintf(device, sizeof device, "%s", saved);
}

static void raise_at_2(void *user, int64_t step) {
    int *count = user;
    ++*count;
    if (step == 2) raise(SIGINT);
}

static void test_sigint(void **state) {
    (void)state;
    tassl_config *c = tiny("sigint", "train.steps=5", "train.ckpt_every=0", NULL);
    int calls = 0;
    struct sigaction before, after;
    sigaction(SIGINT, NULL, &before);
    tassl_pretrain_opts o = {.quiet = true, .on_step = raise_at_2, .user = &calls};
    assert_int_equal(tassl_pretrain(c, &o), TASSL_OK);
    assert_int_equal(o.interrupted, SIGINT);
    assert_int_equal(o.steps_done, 2);
    assert_int_equal(calls, 2);
    assert_true(exists(path_in("sigint", "ckpt-000002.safetensors")));
    assert_false(exists(path_in("sigint", "ckpt-000003.safetensors")));
    char latest[4096];
    assert_int_equal(tassl_ckpt_latest(path_in("sigint", ""), latest, sizeof latest), TASSL_OK);
    assert_non_null(strstr(latest, "ckpt-000002.safetensors"));
    /* the previous handler is back */
    sigaction(SIGINT, NULL, &after);
    assert_true(after.sa_handler == before.sa_handler);
    tassl_config_free(c);
}

static void test_nonfinite(void **state) {
    (void)state;
    tassl_config *c = tiny("nan", "train.steps=5", "train.ckpt_every=1", NULL);
    tassl_pretrain_opts o = {.quiet = true, .nan_at_step = 3};
    assert_int_equal(tassl_pretrain(c, &o), TASSL_ERR_NUMERIC);
    const char *msg = tassl_last_error();
    assert_non_null(strstr(msg, "step 3"));
    assert_non_null(strstr(msg, "nan"));
    assert_non_null(strstr(msg, "nt_xent"));
    assert_non_null(strstr(msg, "ckpt-000002.safetensors"));
    /* the last good checkpoint is intact and newest; nothing was written for step 3 */
    tassl_st *st;
    assert_int_equal(tassl_st_open(path_in("nan", "ckpt-000002.safetensors"), &st), TASSL_OK);
    assert_string_equal(tassl_st_meta(st, "step"), "2");
    tassl_st_close(st);
    assert_false(exists(path_in("nan", "ckpt-000003.safetensors")));
    char latest[4096];
    assert_int_equal(tassl_ckpt_latest(path_in("nan", ""), latest, sizeof latest), TASSL_OK);
    assert_non_null(strstr(latest, "ckpt-000002.safetensors"));
    tassl_config_free(c);
}

static void test_jacobi(void **state) {
    (void)state;
    double a[4] = {2, 1, 1, 2}, w[4];
    assert_true(tassl_sym_eigenvalues(a, 2, w) >= 0);
    assert_float_equal(w[0], 3, 1e-12);
    assert_float_equal(w[1], 1, 1e-12);
    /* Q·diag(5, 3, 1, 0.5)·Qᵀ with an orthogonal Q (Householder of v): eigenvalues back */
    double v[4] = {1, 2, -1, 0.5}, vv = 0, d[4] = {3, 0.5, 5, 1}, m[16];
    for (int i = 0; i < 4; i++)
        vv += v[i] * v[i];
    double q[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            q[i * 4 + j] = (i == j) - 2 * v[i] * v[j] / vv;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double acc = 0;
            for (int k = 0; k < 4; k++)
                acc += q[i * 4 + k] * d[k] * q[j * 4 + k];
            m[i * 4 + j] = acc;
        }
    assert_true(tassl_sym_eigenvalues(m, 4, w) >= 0);
    assert_float_equal(w[0], 5, 1e-10);
    assert_float_equal(w[1], 3, 1e-10);
    assert_float_equal(w[2], 1, 1e-10);
    assert_float_equal(w[3], 0.5, 1e-10);
}

static void test_collapse(void **state) {
    (void)state;
    enum { N = 64, D = 32 };
    float *z = malloc(sizeof(float) * N * D);
    /* identical rows: std 0, effective rank 1, collapsed */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            z[i * D + j] = (float)(j % 5) - 1.5f;
    tassl_collapse_stats cs;
    assert_int_equal(tassl_collapse_measure(z, N, D, &cs), TASSL_OK);
    assert_true(cs.std < 1e-6);
    assert_float_equal(cs.erank, 1.0, 1e-3);
    assert_true(tassl_collapse_check(&cs, 0.1, 1.5));
    /* Gaussian rows: std·√d ≈ 1, effective rank close to d */
    for (int i = 0; i < N * D; i++)
        z[i] = tassl_philox_normal(42, (uint64_t)i);
    assert_int_equal(tassl_collapse_measure(z, N, D, &cs), TASSL_OK);
    assert_true(cs.std_scaled > 0.8 && cs.std_scaled < 1.2);
    assert_true(cs.erank > 0.75 * D);
    assert_false(tassl_collapse_check(&cs, 0.1, 1.5));
    /* the same through the Gram side (n < d): 8 random rows of width 32 → rank near 8 */
    assert_int_equal(tassl_collapse_measure(z, 8, D, &cs), TASSL_OK);
    assert_true(cs.erank > 6.0 && cs.erank <= 8.0 + 1e-6);
    /* two distinct directions only: rank about 2 */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            z[i * D + j] = (i % 2) ? (j == 0) : (j == 1);
    assert_int_equal(tassl_collapse_measure(z, N, D, &cs), TASSL_OK);
    assert_float_equal(cs.erank, 2.0, 1e-3);
    /* refusals */
    assert_int_equal(tassl_collapse_measure(z, 1, D, &cs), TASSL_ERR_ARG);
    z[5] = NAN;
    assert_int_equal(tassl_collapse_measure(z, N, D, &cs), TASSL_ERR_NUMERIC);
    free(z);
}

static void test_learning(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* SimCLR on 16×16 phantoms (views: resized crops and flips): the NT-Xent loss of the last
     * steps is clearly below that of the first (seeds 3 and 5 drop by 0.3–0.5 in 30 steps) */
    tassl_config *c = tiny("learn", "train.steps=30", "train.batch_size=16", "train.ckpt_every=0",
                           "optim.lr=0.003", "schedule.warmup_steps=3", "ssl.monitor_every=10",
                           "data.aug.preset=none",
                           "data.aug.set=[\"crop=resized\", \"crop_scale=0.5,1\", "
                           "\"flip_p=0,0.5,0.5\"]",
                           NULL);
    tassl_test_pretrain_ok(c, NULL);
    double l[64];
    int n = tassl_test_read_losses(path_in("learn", "metrics.jsonl"), l, 64);
    assert_int_equal(n, 30);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++)
        first += l[i] / 5, last += l[n - 5 + i] / 5;
    printf("# SimCLR loss: first 5 steps %.4f, last 5 %.4f (log(2N-1) = %.4f)\n", first, last,
           log(31.0));
    assert_true(last < first - 0.15);
    tassl_config_free(c);
}

static int setup(void **state) {
    (void)state;
    if (tassl_ssl_register_config() != TASSL_OK) return -1;
    if (tassl_ssl_method_register(&probe_method) != TASSL_OK) return -1;
    return tassl_test_tmp_setup(tmp_root, device, sizeof device);
}

static int teardown(void **state) {
    (void)state;
    return tassl_test_rm_rf(tmp_root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_table),    cmocka_unit_test(test_head_names),
        cmocka_unit_test(test_state_roundtrip), cmocka_unit_test(test_resume),
        cmocka_unit_test(test_sigint),          cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_jacobi),          cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_learning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
