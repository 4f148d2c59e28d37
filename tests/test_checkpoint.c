/* test_checkpoint.c — safetensors checkpoints.
 *
 * - A tassl-written file is read back by a tiny independent reader here (8-byte length, JSON via
 *   jansson, offsets, raw little-endian bytes compared with the tensors).
 * - Loading restores parameters, buffers, optimiser state and step, RNG state; mismatches are
 *   listed exactly (missing, unexpected, shape (2, 3) vs (3, 2), dtype) in strict mode and
 *   reported in non-strict mode; select/file_prefix load a sub-network; export of a prefix.
 * - Every malformed file gives a TASSL_ERR_FORMAT naming the file and the problem, and leaves the
 *   model untouched.
 * - Run directories: ckpt-<step>.safetensors, `latest`, keep the last N.
 * - Exact resume: N steps + save + load + N steps == 2N steps, bit for bit on ref (SGD with
 *   Nesterov momentum, AdamW; conv + batch norm + dropout, data drawn from the context's RNG),
 *   within float tolerance on the device under test (TASSL_TEST_DEVICE, default cpu).
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "tassl/tassl.h"
#include "tassl/checkpoint.h"

static tassl_device *ref, *dev;
static char tmpdir[256];

static char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* ---- a small model ------------------------------------------------------------------------ */

typedef struct model {
    tassl_ctx *ctx;
    tassl_params *p;
    tassl_tensor *cw, *cb, *g, *b, *rm, *rv, *fw, *fb;
} model;

static void model_init(model *m, tassl_ctx *ctx, uint64_t seed) {
    m->ctx = ctx;
    m->p = tassl_params_new(ctx);
    m->cw = tassl_params_add(m->p, "encoder.conv.weight", TASSL_SHAPE(4, 1, 3, 3));
    m->cb = tassl_params_add(m->p, "encoder.conv.bias", TASSL_SHAPE(4));
    m->g = tassl_params_add(m->p, "encoder.bn.weight", TASSL_SHAPE(4));
    m->b = tassl_params_add(m->p, "encoder.bn.bias", TASSL_SHAPE(4));
    m->rm = tassl_params_add_buffer(m->p, "encoder.bn.running_mean", TASSL_SHAPE(4));
    m->rv = tassl_params_add_buffer(m->p, "encoder.bn.running_var", TASSL_SHAPE(4));
    m->fw = tassl_params_add(m->p, "head.weight", TASSL_SHAPE(3, 4));
    m->fb = tassl_params_add(m->p, "head.bias", TASSL_SHAPE(3));
    assert_int_equal(tassl_params_finalize(m->p), TASSL_OK);
    tassl_rng_seed(ctx, seed);
    tassl_randn_(m->cw, 0.0f, 0.4f);
    tassl_randn_(m->fw, 0.0f, 0.5f);
    tassl_fill_(m->g, 1.0f);
    tassl_fill_(m->rv, 1.0f);
}

static void model_free(model *m) { tassl_params_free(m->p); }

/* One training step: data and dropout from the context's RNG; lr from a cosine schedule. */
static void train_step(model *m, tassl_optim *o, int64_t step) {
    tassl_ctx *ctx = m->ctx;
    tassl_scope_begin(ctx);
    tassl_params_zero_grad(m->p);
    tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(6, 1, 6, 6), 0.0f, 1.0f);
    tassl_tensor *y = tassl_rand(ctx, TASSL_SHAPE(6), 0.0f, 2.99f);
    y = tassl_contiguous(tassl_add_scalar(tassl_scale(y, 1.0f), 0.0f));
    float lab[6];
    assert_int_equal(tassl_tensor_read(y, lab), TASSL_OK);
    for (int i = 0; i < 6; i++) lab[i] = floorf(lab[i]);
    y = tassl_from_host(ctx, TASSL_SHAPE(6), lab);
    const int s1[2] = {1, 1}, p1[2] = {1, 1}, d1[2] = {1, 1};
    tassl_tensor *h = tassl_conv(x, m->cw, m->cb, s1, p1, d1, 1);
    h = tassl_relu(tassl_batch_norm(h, m->g, m->b, m->rm, m->rv, true, 0.1f, 1e-5f));
    h = tassl_dropout(tassl_global_avg_pool(h), 0.25f, true);
    tassl_tensor *loss = tassl_cross_entropy(tassl_linear(h, m->fw, m->fb), y, NULL, 0.0f, -100,
                                             TASSL_REDUCE_MEAN);
    assert_int_equal(tassl_backward(loss), TASSL_OK);
    tassl_schedule sc = {.kind = TASSL_SCHED_COSINE, .base_lr = 0.05, .warmup_steps = 2,
                         .total_steps = 20};
    assert_int_equal(tassl_optim_clip_grad_norm(o, 5.0f, NULL), TASSL_OK);
    assert_int_equal(tassl_optim_step(o, tassl_schedule_lr(&sc, step)), TASSL_OK);
    tassl_scope_end(ctx);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
}

static tassl_ckpt *bind_all(model *m, tassl_optim *o) {
    tassl_ckpt *c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", m->p), TASSL_OK);
    if (o) assert_int_equal(tassl_ckpt_add_optim(c, "optimizer.", o), TASSL_OK);
    tassl_ckpt_add_rng(c, m->ctx);
    return c;
}

static void read_flat(tassl_params *p, float **out, int64_t *n) {
    *n = tassl_params_flat(p)->shape[0];
    *out = malloc(sizeof(float) * (size_t)*n);
    assert_int_equal(tassl_tensor_read(tassl_params_flat(p), *out), TASSL_OK);
}

/* ---- exact resume ------------------------------------------------------------------------- */

static void resume_on(tassl_device *d, tassl_optim_kind kind, bool exact) {
    enum { N = 4 };
    tassl_optim_config cfg = tassl_optim_defaults(kind);
    if (kind == TASSL_OPTIM_SGD) {
        cfg.momentum = 0.9;
        cfg.nesterov = true;
        cfg.weight_decay = 1e-3;
        cfg.no_decay = "bias,bn";
    }
    /* straight: 2N steps */
    tassl_ctx *c1 = tassl_ctx_new(d);
    model a;
    model_init(&a, c1, 42);
    tassl_optim *oa;
    assert_int_equal(tassl_optim_new(a.p, &cfg, &oa), TASSL_OK);
    for (int s = 0; s < 2 * N; s++) train_step(&a, oa, s);
    /* N steps, save, a fresh context/model/optimiser, load, N more */
    tassl_ctx *c2 = tassl_ctx_new(d);
    model b;
    model_init(&b, c2, 42);
    tassl_optim *ob;
    assert_int_equal(tassl_optim_new(b.p, &cfg, &ob), TASSL_OK);
    for (int s = 0; s < N; s++) train_step(&b, ob, s);
    tassl_ckpt *ck = bind_all(&b, ob);
    assert_int_equal(tassl_ckpt_set_meta_int(ck, "step", N), TASSL_OK);
    assert_int_equal(tassl_ckpt_set_meta(ck, "config", "optim:\n  name: x\n"), TASSL_OK);
    assert_int_equal(tassl_ckpt_save_in_dir(ck, tmpdir, N, 2, NULL, 0), TASSL_OK);
    tassl_ckpt_free(ck);
    tassl_optim_free(ob);
    model_free(&b);
    tassl_ctx_free(c2);

    tassl_ctx *c3 = tassl_ctx_new(d);
    model r;
    model_init(&r, c3, 999); /* different init and seed: everything must come from the file */
    tassl_optim *orr;
    assert_int_equal(tassl_optim_new(r.p, &cfg, &orr), TASSL_OK);
    char path[512];
    assert_int_equal(tassl_ckpt_latest(tmpdir, path, sizeof path), TASSL_OK);
    ck = bind_all(&r, orr);
    assert_int_equal(tassl_ckpt_read(ck, path, NULL), TASSL_OK);
    int64_t step;
    assert_int_equal(tassl_ckpt_meta_int(ck, "step", &step), TASSL_OK);
    assert_int_equal(step, N);
    assert_string_equal(tassl_ckpt_meta(ck, "config"), "optim:\n  name: x\n");
    assert_int_equal(tassl_optim_steps(orr), N);
    tassl_ckpt_free(ck);
    for (int64_t s = step; s < 2 * N; s++) train_step(&r, orr, s);

    float *va, *vr;
    int64_t na, nr;
    read_flat(a.p, &va, &na);
    read_flat(r.p, &vr, &nr);
    assert_int_equal(na, nr);
    if (exact) {
        for (int64_t i = 0; i < na; i++)
            if (memcmp(&va[i], &vr[i], 4) != 0)
                fail_msg("%s resume not bit-identical at %lld: %.9g vs %.9g",
                         tassl_optim_kind_name(kind), (long long)i, va[i], vr[i]);
    } else {
        for (int64_t i = 0; i < na; i++) assert_float_equal(va[i], vr[i], 1e-5 + 1e-4 * fabs(va[i]));
    }
    tassl_rng_state ra = tassl_rng_get(c1), rr = tassl_rng_get(c3);
    assert_true(ra.seed == rr.seed && ra.counter == rr.counter);
    free(va);
    free(vr);
    tassl_optim_free(oa);
    tassl_optim_free(orr);
    model_free(&a);
    model_free(&r);
    tassl_ctx_free(c1);
    tassl_ctx_free(c3);
}

static void test_resume_ref(void **st) {
    (void)st;
    resume_on(ref, TASSL_OPTIM_SGD, true);
    resume_on(ref, TASSL_OPTIM_ADAMW, true);
}

static void test_resume_device(void **st) {
    (void)st;
    if (dev == ref) skip();
    resume_on(dev, TASSL_OPTIM_SGD, false);
    resume_on(dev, TASSL_OPTIM_ADAMW, false);
}

/* ---- independent reader --------------------------------------------------------------------- */

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len + 1);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static void test_independent_reader(void **st) {
    (void)st;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    model m;
    model_init(&m, ctx, 3);
    tassl_optim_config cfg = tassl_optim_defaults(TASSL_OPTIM_ADAMW);
    tassl_optim *o;
    assert_int_equal(tassl_optim_new(m.p, &cfg, &o), TASSL_OK);
    train_step(&m, o, 0);
    tassl_ckpt *c = bind_all(&m, o);
    assert_int_equal(tassl_ckpt_set_meta_int(c, "epoch", 7), TASSL_OK);
    const char *path = tpath("indep.safetensors");
    assert_int_equal(tassl_ckpt_write(c, path), TASSL_OK);
    const char *keep = getenv("TASSL_TEST_KEEP_CKPT"); /* for checking with other readers */
    if (keep) assert_int_equal(tassl_ckpt_write(c, keep), TASSL_OK);
    long len;
    unsigned char *b = slurp(path, &len);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)b[i] << (8 * i);
    assert_true(n % 8 == 0 && 8 + n <= (uint64_t)len);
    json_error_t err;
    json_t *root = json_loadb((const char *)b + 8, n, 0, &err);
    assert_non_null(root);
    /* padding is spaces, data starts right after */
    assert_true(b[8 + n - 1] == ' ' || b[8 + n - 1] == '}');
    json_t *meta = json_object_get(root, "__metadata__");
    assert_string_equal(json_string_value(json_object_get(meta, "format")), "tassl");
    assert_string_equal(json_string_value(json_object_get(meta, "tassl_version")), tassl_version());
    assert_string_equal(json_string_value(json_object_get(meta, "epoch")), "7");
    assert_string_equal(json_string_value(json_object_get(meta, "optimizer")), "adamw");
    assert_string_equal(json_string_value(json_object_get(meta, "optimizer.state")),
                        "exp_avg,exp_avg_sq");
    assert_string_equal(json_string_value(json_object_get(meta, "optimizer.step")), "1");
    assert_non_null(json_object_get(meta, "rng.seed"));
    /* every parameter, buffer and state tensor, bytes compared */
    int count = 0;
    for (int k = -1; k < tassl_optim_nstate(o); k++)
        for (int i = 0; i < tassl_params_count(m.p); i++) {
            tassl_tensor *t = k < 0 ? tassl_params_get(m.p, i) : tassl_optim_state_view(o, k, i);
            if (!t) continue;
            char name[256];
            if (k < 0) snprintf(name, sizeof name, "%s", t->name);
            else snprintf(name, sizeof name, "optimizer.%s.%s", t->name,
                          tassl_optim_state_suffix(o, k));
            json_t *e = json_object_get(root, name);
            if (!e) fail_msg("%s missing from the header", name);
            assert_string_equal(json_string_value(json_object_get(e, "dtype")), "F32");
            json_t *shape = json_object_get(e, "shape");
            assert_int_equal(json_array_size(shape), t->ndim);
            for (int d = 0; d < t->ndim; d++)
                assert_int_equal(json_integer_value(json_array_get(shape, (size_t)d)), t->shape[d]);
            json_t *off = json_object_get(e, "data_offsets");
            int64_t beg = json_integer_value(json_array_get(off, 0)),
                    end = json_integer_value(json_array_get(off, 1));
            assert_int_equal(end - beg, 4 * tassl_numel(t));
            assert_true((int64_t)(8 + n) + end <= len);
            float v[64];
            assert_true(tassl_numel(t) <= 64);
            assert_int_equal(tassl_tensor_read(t, v), TASSL_OK);
            unsigned char le[256];
            for (int64_t j = 0; j < tassl_numel(t); j++) {
                uint32_t u;
                memcpy(&u, &v[j], 4);
                for (int q = 0; q < 4; q++) le[4 * j + q] = (unsigned char)(u >> (8 * q));
            }
            assert_memory_equal(b + 8 + n + beg, le, (size_t)(end - beg));
            count++;
        }
    assert_int_equal(json_object_size(root), (size_t)count + 1);
    json_decref(root);
    free(b);
    /* and our own reader agrees */
    tassl_st *sf;
    assert_int_equal(tassl_st_open(path, &sf), TASSL_OK);
    assert_int_equal(tassl_st_count(sf), count);
    assert_string_equal(tassl_st_meta(sf, "epoch"), "7");
    tassl_st_close(sf);
    tassl_ckpt_free(c);
    tassl_optim_free(o);
    model_free(&m);
    tassl_ctx_free(ctx);
}

/* ---- mismatches ----------------------------------------------------------------------------- */

static void test_mismatch(void **st) {
    (void)st;
    tassl_ctx *ctx = tassl_ctx_new(ref);
    tassl_params *p = tassl_params_new(ctx);
    tassl_tensor *w = tassl_params_add(p, "encoder.w", TASSL_SHAPE(2, 3));
    tassl_params_add(p, "encoder.b", TASSL_SHAPE(3));
    tassl_params_add(p, "head.w", TASSL_SHAPE(4));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    tassl_randn_(tassl_params_flat(p), 0.0f, 1.0f);
    tassl_ckpt *c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", p), TASSL_OK);
    assert_int_equal(tassl_ckpt_add_params(c, "", p), TASSL_ERR_ARG); /* duplicate names */
    assert_non_null(strstr(tassl_last_error(), "duplicate tensor name 'encoder.w'"));
    const char *path = tpath("m.safetensors");
    assert_int_equal(tassl_ckpt_write(c, path), TASSL_OK);
    tassl_ckpt_free(c);

    /* another model: w transposed, b missing from the file's view, an extra tensor */
    tassl_params *q = tassl_params_new(ctx);
    tassl_tensor *qw = tassl_params_add(q, "encoder.w", TASSL_SHAPE(3, 2));
    tassl_params_add(q, "encoder.extra", TASSL_SHAPE(5));
    tassl_params_add(q, "head.w", TASSL_SHAPE(4));
    assert_int_equal(tassl_params_finalize(q), TASSL_OK);
    tassl_fill_(tassl_params_flat(q), 0.5f);
    c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", q), TASSL_OK);
    assert_int_equal(tassl_ckpt_read(c, path, NULL), TASSL_ERR_FORMAT);
    const char *e = tassl_last_error();
    printf("strict: %s\n", e);
    assert_non_null(strstr(e, path));
    assert_non_null(strstr(e, "encoder.w is (2, 3) in the file, (3, 2) in the model"));
    assert_non_null(strstr(e, "missing (1): encoder.extra"));
    assert_non_null(strstr(e, "unexpected (1): encoder.b"));
    float v[6];
    assert_int_equal(tassl_tensor_read(qw, v), TASSL_OK); /* untouched */
    for (int i = 0; i < 6; i++) assert_true(v[i] == 0.5f);
    /* non-strict: shape mismatch is still an error */
    tassl_ckpt_load_opts ns = {false, NULL, NULL};
    assert_int_equal(tassl_ckpt_read(c, path, &ns), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "(2, 3) in the file, (3, 2)"));
    assert_null(strstr(tassl_last_error(), "missing"));
    /* select only head.: loads, and the encoder stays */
    tassl_ckpt_load_opts sel = {true, "head.", NULL};
    assert_int_equal(tassl_ckpt_read(c, path, &sel), TASSL_OK);
    float hw[4], want[4];
    assert_int_equal(tassl_tensor_read(tassl_params_find(q, "head.w"), hw), TASSL_OK);
    assert_int_equal(tassl_tensor_read(tassl_params_find(p, "head.w"), want), TASSL_OK);
    assert_memory_equal(hw, want, sizeof hw);
    assert_int_equal(tassl_tensor_read(qw, v), TASSL_OK);
    assert_true(v[0] == 0.5f);
    tassl_ckpt_free(c);

    /* non-strict with missing/unexpected only: loads what matches and reports the rest */
    tassl_params *r = tassl_params_new(ctx);
    tassl_tensor *rw = tassl_params_add(r, "encoder.w", TASSL_SHAPE(2, 3));
    tassl_params_add(r, "encoder.extra", TASSL_SHAPE(5));
    assert_int_equal(tassl_params_finalize(r), TASSL_OK);
    c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", r), TASSL_OK);
    assert_int_equal(tassl_ckpt_read(c, path, &ns), TASSL_OK);
    printf("non-strict report: %s\n", tassl_ckpt_report(c));
    assert_non_null(strstr(tassl_ckpt_report(c), "missing (1): encoder.extra"));
    assert_non_null(strstr(tassl_ckpt_report(c), "unexpected (2): "));
    float a[6], bw[6];
    assert_int_equal(tassl_tensor_read(rw, a), TASSL_OK);
    assert_int_equal(tassl_tensor_read(w, bw), TASSL_OK);
    assert_memory_equal(a, bw, sizeof a);
    tassl_ckpt_free(c);

    /* export encoder. stripped, load into a bare encoder through file_prefix "" */
    const char *ex = tpath("enc.safetensors");
    assert_int_equal(tassl_st_export(path, ex, "encoder.", true), TASSL_OK);
    tassl_st *sf;
    assert_int_equal(tassl_st_open(ex, &sf), TASSL_OK);
    assert_int_equal(tassl_st_count(sf), 2);
    assert_true(tassl_st_find(sf, "w") >= 0 && tassl_st_find(sf, "b") >= 0);
    assert_string_equal(tassl_st_meta(sf, "export_prefix"), "encoder.");
    tassl_st_close(sf);
    tassl_params *en = tassl_params_new(ctx);
    tassl_tensor *ew = tassl_params_add(en, "encoder.w", TASSL_SHAPE(2, 3));
    tassl_params_add(en, "encoder.b", TASSL_SHAPE(3));
    tassl_params_add(en, "cls.w", TASSL_SHAPE(2));
    assert_int_equal(tassl_params_finalize(en), TASSL_OK);
    c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", en), TASSL_OK);
    tassl_ckpt_load_opts fp = {true, "encoder.", ""};
    assert_int_equal(tassl_ckpt_read(c, ex, &fp), TASSL_OK);
    assert_int_equal(tassl_tensor_read(ew, a), TASSL_OK);
    assert_memory_equal(a, bw, sizeof a);
    tassl_ckpt_free(c);
    assert_int_equal(tassl_st_export(path, ex, "nothing.", true), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "nothing."));

    /* an optimiser of another kind, and no RNG in the file: strict errors */
    tassl_optim_config sc = tassl_optim_defaults(TASSL_OPTIM_SGD);
    sc.momentum = 0.9;
    tassl_optim *o;
    assert_int_equal(tassl_optim_new(p, &sc, &o), TASSL_OK);
    c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", p), TASSL_OK);
    assert_int_equal(tassl_ckpt_add_optim(c, "optimizer.", o), TASSL_OK);
    tassl_ckpt_add_rng(c, ctx);
    assert_int_equal(tassl_ckpt_read(c, path, NULL), TASSL_ERR_FORMAT);
    e = tassl_last_error();
    assert_non_null(strstr(e, "missing (3): optimizer.encoder.w.momentum_buffer"));
    assert_non_null(strstr(e, "no optimizer state in the metadata"));
    assert_non_null(strstr(e, "no RNG state"));
    tassl_ckpt_free(c);
    tassl_optim_free(o);

    tassl_params_free(en);
    tassl_params_free(r);
    tassl_params_free(q);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
}

/* ---- malformed files ------------------------------------------------------------------------ */

/* Write 8-byte length + header (+ padding to `pad` if > 0) + data bytes. */
static const char *craft(const char *name, uint64_t hlen_override, const char *header,
                         const void *data, size_t dlen) {
    const char *path = tpath(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = hlen_override ? hlen_override : strlen(header);
    unsigned char h8[8];
    for (int i = 0; i < 8; i++) h8[i] = (unsigned char)(n >> (8 * i));
    fwrite(h8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
    return path;
}

static void expect_bad(const char *path, const char *what) {
    tassl_st *st = NULL;
    tassl_status s = tassl_st_open(path, &st);
    printf("  %-28s -> %s\n", what, tassl_last_error());
    if (s != TASSL_ERR_FORMAT) fail_msg("%s: status %s", path, tassl_status_name(s));
    assert_null(st);
    assert_non_null(strstr(tassl_last_error(), path));
    if (!strstr(tassl_last_error(), what))
        fail_msg("message '%s' lacks '%s'", tassl_last_error(), what);
}

static void test_bad_files(void **st) {
    (void)st;
    float d[6] = {1, 2, 3, 4, 5, 6};
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    tassl_st *sf;
    assert_int_equal(tassl_st_open(craft("ok.st", 0, ok, d, 24), &sf), TASSL_OK);
    float back[6];
    assert_int_equal(tassl_st_read_f32(sf, 0, back), TASSL_OK);
    assert_memory_equal(back, d, sizeof d);
    tassl_st_close(sf);

    FILE *f = fopen(tpath("empty.st"), "wb");
    fclose(f);
    expect_bad(tpath("empty.st"), "too short");
    f = fopen(tpath("short.st"), "wb");
    fwrite("\x10\0\0", 1, 3, f);
    fclose(f);
    expect_bad(tpath("short.st"), "too short");
    expect_bad(craft("huge.st", 0xFFFFFFFFFFFFull, ok, d, 24), "bad header length");
    expect_bad(craft("long.st", strlen(ok) + 100, ok, d, 24), "truncated: header length");
    expect_bad(craft("json.st", 0, "{\"a\":{\"dtype\":\"F32\",", d, 24), "not valid JSON");
    expect_bad(craft("arr.st", 0, "[1,2,3]", d, 0), "header does not start with '{'");
    expect_bad(craft("dup.st", 0, "{\"a\":{},\"a\":{}}", d, 0), "not valid JSON");
    expect_bad(craft("dtype.st", 0,
                     "{\"a\":{\"dtype\":\"F33\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", d, 24),
               "unknown dtype 'F33'");
    expect_bad(craft("trunc.st", 0, ok, d, 20), "truncated: the tensors need 24 bytes");
    float d7[7] = {0};
    expect_bad(craft("trail.st", 0, ok, d7, 28), "4 unexpected bytes after the last tensor");
    expect_bad(craft("range.st", 0,
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,48]}}", d,
                     24),
               "gap in the data");
    expect_bad(craft("overlap.st", 0,
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}}",
                     d, 24),
               "overlaps");
    expect_bad(craft("span.st", 0,
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,24]}}", d, 24),
               "span 24 bytes, but F32 with 9 elements needs 36");
    expect_bad(craft("neg.st", 0,
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,3],\"data_offsets\":[0,24]}}", d, 24),
               "shape entry 0 is not a non-negative integer");
    expect_bad(craft("offs.st", 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0]}}",
                     d, 24),
               "data_offsets must be [begin, end]");
    expect_bad(craft("meta.st", 0, "{\"__metadata__\":{\"step\":3}}", d, 0),
               "__metadata__ value of 'step' is not a string");
    expect_bad(craft("entry.st", 0, "{\"a\":5}", d, 0), "header entry 'a' is not an object");
    tassl_st *none;
    assert_int_equal(tassl_st_open(tpath("does-not-exist.st"), &none), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "does-not-exist.st: cannot open"));

    /* a valid file with an F16 tensor: readable, but not into a float tensor */
    uint16_t h[6] = {0};
    const char *f16 = craft("f16.st", 0,
                            "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", h, 12);
    tassl_ctx *ctx = tassl_ctx_new(ref);
    tassl_params *p = tassl_params_new(ctx);
    tassl_tensor *w = tassl_params_add(p, "w", TASSL_SHAPE(2, 3));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    tassl_ckpt *c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", p), TASSL_OK);
    assert_int_equal(tassl_ckpt_read(c, f16, NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "w is F16 in the file, expected F32"));
    /* a corrupt file leaves the model as it was */
    tassl_fill_(w, 2.0f);
    assert_int_equal(tassl_ckpt_read(c, tpath("trunc.st"), NULL), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "truncated"));
    float v[6];
    assert_int_equal(tassl_tensor_read(w, v), TASSL_OK);
    for (int i = 0; i < 6; i++) assert_true(v[i] == 2.0f);
    /* the good one loads */
    const char *okw = craft("okw.st", 0,
                            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", d, 24);
    assert_int_equal(tassl_ckpt_read(c, okw, NULL), TASSL_OK);
    assert_int_equal(tassl_tensor_read(w, v), TASSL_OK);
    assert_memory_equal(v, d, sizeof d);
    tassl_ckpt_free(c);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
}

/* ---- run directories ------------------------------------------------------------------------ */

static int count_files(const char *dir, const char *substr) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -1 '%s' | grep -c -- '%s'", dir, substr);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1) n = -1;
        pclose(f);
    }
    return n;
}

static void test_run_dir(void **st) {
    (void)st;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    tassl_ctx *ctx = tassl_ctx_new(ref);
    tassl_params *p = tassl_params_new(ctx);
    tassl_tensor *w = tassl_params_add(p, "w", TASSL_SHAPE(3));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    tassl_ckpt *c = tassl_ckpt_new();
    assert_int_equal(tassl_ckpt_add_params(c, "", p), TASSL_OK);
    char path[600], latest[600];
    for (int s = 1; s <= 5; s++) {
        tassl_fill_(w, (float)s);
        assert_int_equal(tassl_ckpt_save_in_dir(c, dir, 100 * s, 3, path, sizeof path), TASSL_OK);
    }
    assert_non_null(strstr(path, "/ckpt-000500.safetensors"));
    assert_int_equal(count_files(dir, "^ckpt-"), 3);
    assert_int_equal(count_files(dir, "ckpt-000100"), 0);
    assert_int_equal(count_files(dir, "ckpt-000300"), 1);
    assert_int_equal(count_files(dir, "tmp"), 0);
    assert_int_equal(tassl_ckpt_latest(dir, latest, sizeof latest), TASSL_OK);
    assert_string_equal(latest, path);
    long len;
    snprintf(cmd, sizeof cmd, "%s/latest", dir);
    unsigned char *b = slurp(cmd, &len);
    assert_int_equal(len, (long)strlen("ckpt-000500.safetensors\n"));
    assert_memory_equal(b, "ckpt-000500.safetensors\n", (size_t)len);
    free(b);
    assert_int_equal(tassl_ckpt_latest(path, latest, sizeof latest), TASSL_OK); /* a file itself */
    assert_string_equal(latest, path);
    /* a broken pointer */
    FILE *f = fopen(cmd, "w");
    fputs("../../etc/passwd\n", f);
    fclose(f);
    assert_int_equal(tassl_ckpt_latest(dir, latest, sizeof latest), TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "latest"));
    f = fopen(cmd, "w");
    fputs("ckpt-000999.safetensors\n", f);
    fclose(f);
    assert_int_equal(tassl_ckpt_latest(dir, latest, sizeof latest), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "ckpt-000999.safetensors, which does not exist"));
    /* no pointer: the highest step */
    unlink(cmd);
    assert_int_equal(tassl_ckpt_latest(dir, latest, sizeof latest), TASSL_OK);
    assert_string_equal(latest, path);
    /* keep <= 0 keeps everything */
    assert_int_equal(tassl_ckpt_save_in_dir(c, dir, 600, 0, NULL, 0), TASSL_OK);
    assert_int_equal(count_files(dir, "^ckpt-"), 4);
    /* a missing directory: an error naming it, nothing written */
    assert_int_equal(tassl_ckpt_save_in_dir(c, tpath("nope"), 1, 3, NULL, 0), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "nope"));
    assert_int_equal(tassl_ckpt_write(c, tpath("nope/x.safetensors")), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "nope/x.safetensors"));
    /* read the newest back */
    tassl_fill_(w, 0.0f);
    assert_int_equal(tassl_ckpt_read(c, path, NULL), TASSL_OK);
    float v[3];
    assert_int_equal(tassl_tensor_read(w, v), TASSL_OK);
    assert_true(v[0] == 5.0f);
    tassl_ckpt_free(c);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
}

int main(void) {
    const char *spec = getenv("TASSL_TEST_DEVICE");
    if (tassl_device_open("ref", &ref) != TASSL_OK) return 1;
    if (tassl_device_open(spec ? spec : "cpu", &dev) != TASSL_OK) {
        fprintf(stderr, "no device '%s' (%s): reference only\n", spec ? spec : "cpu",
                tassl_last_error());
        dev = ref;
    }
    printf("device under test: %s\n", tassl_device_get_info(dev)->name);
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tassl-ckpt-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_reader), cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_bad_files),          cmocka_unit_test(test_run_dir),
        cmocka_unit_test(test_resume_ref),         cmocka_unit_test(test_resume_device),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    if (dev != ref) tassl_device_free(dev);
    tassl_device_free(ref);
    return rc;
}
