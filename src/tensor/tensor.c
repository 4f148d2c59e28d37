/* tensor.c — tensor headers, storage from the scope, creation, host transfers, in-place fills. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../backend/kern_core.h"
#include "../core/ctx.h"

int64_t tassl_numel(const tassl_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void tassl_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

bool tassl_is_contiguous(const tassl_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool tassl_same_shape(const tassl_tensor *a, const tassl_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *tassl_shape_str(const tassl_tensor *t, char *buf, int len) {
    int k = snprintf(buf, (size_t)len, "(");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += snprintf(buf + k, (size_t)(len - k), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < len) snprintf(buf + k, (size_t)(len - k), ")");
    return buf;
}

tassl_tensor *tassl_tensor_header(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    TASSL_CHECK(ndim >= 0 && ndim <= TASSL_MAX_DIMS, "tassl: %d dims (at most %d)", ndim,
                TASSL_MAX_DIMS);
    tassl_tensor *t = tassl_arena_alloc(ctx, sizeof *t);
    t->ctx = ctx;
    t->ndim = ndim;
    t->scope_id = ctx->scope_id;
    for (int i = 0; i < ndim; i++) {
        TASSL_CHECK(shape[i] >= 0, "tassl: negative size %lld in dim %d", (long long)shape[i], i);
        t->shape[i] = shape[i];
    }
    tassl_contiguous_strides(ndim, shape, t->stride);
    return t;
}

tassl_tensor *tassl_tensor_alloc(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    tassl_tensor *t = tassl_tensor_header(ctx, ndim, shape);
    int64_t n = tassl_numel(t);
    TASSL_CHECK(n < ((int64_t)1 << 31), "tassl: tensor of %lld elements (at most 2^31 - 1)",
                (long long)n);
    if (ctx->status != TASSL_OK) return t; /* failed context: shapes only */
    if (ctx->nbufs == ctx->capbufs) {
        int cap = ctx->capbufs ? 2 * ctx->capbufs : 256;
        tassl_owned_buf *nb = realloc(ctx->bufs, (size_t)cap * sizeof *nb);
        TASSL_CHECK(nb != NULL, "tassl: out of host memory");
        ctx->bufs = nb;
        ctx->capbufs = cap;
    }
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    tassl_owned_buf *ob = &ctx->bufs[ctx->nbufs];
    tassl_status s = tassl_pool_get(ctx->dev, bytes, &ob->buf, &t->off, &ob->bytes);
    if (s != TASSL_OK) {
        tassl_ctx_fail(ctx, s);
        return t;
    }
    ob->guarded = t->off != 0 ? bytes : 0;
    ctx->nbufs++;
    t->buf = ob->buf;
    return t;
}

static tassl_ptr ptr_of(const tassl_tensor *t) {
    tassl_ptr p = {t->buf, t->off};
    return p;
}

tassl_kview tassl_kview_of(const tassl_tensor *t) {
    tassl_kview v;
    memset(&v, 0, sizeof v);
    v.buf = t->buf;
    v.off = t->off;
    v.ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) {
        v.shape[i] = t->shape[i];
        v.stride[i] = t->shape[i] == 1 ? 0 : t->stride[i];
    }
    return v;
}

static int usable(const tassl_tensor *t) { return t->ctx->status == TASSL_OK && t->buf; }

tassl_tensor *tassl_empty(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    return tassl_tensor_alloc(ctx, ndim, shape);
}

void tassl_fill_(tassl_tensor *t, float value) {
    if (!usable(t) || tassl_numel(t) == 0) return;
    tassl_ctx *ctx = t->ctx;
    if (tassl_is_contiguous(t)) {
        tassl_ctx_check(ctx, ctx->dev->be->core->fill(ctx->dev, ptr_of(t), tassl_numel(t), value));
        return;
    }
    /* strided: fill a scalar and broadcast-copy it */
    tassl_scope_begin(ctx);
    tassl_tensor *s = tassl_full(ctx, 0, NULL, value);
    if (usable(s)) {
        tassl_kview src = tassl_kview_of(t), dst = tassl_kview_of(t);
        src.buf = s->buf;
        src.off = s->off;
        for (int i = 0; i < src.ndim; i++) src.stride[i] = 0;
        tassl_ctx_check(ctx, ctx->dev->be->core->copy(ctx->dev, &src, &dst, 0));
    }
    tassl_scope_end(ctx);
}

tassl_tensor *tassl_full(tassl_ctx *ctx, int ndim, const int64_t *shape, float value) {
    tassl_tensor *t = tassl_tensor_alloc(ctx, ndim, shape);
    tassl_fill_(t, value);
    return t;
}

tassl_tensor *tassl_zeros(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    return tassl_full(ctx, ndim, shape, 0.0f);
}

tassl_tensor *tassl_scalar(tassl_ctx *ctx, float value) { return tassl_full(ctx, 0, NULL, value); }

tassl_tensor *tassl_empty_like(const tassl_tensor *t) {
    return tassl_tensor_alloc(t->ctx, t->ndim, t->shape);
}

tassl_tensor *tassl_zeros_like(const tassl_tensor *t) {
    return tassl_zeros(t->ctx, t->ndim, t->shape);
}

tassl_tensor *tassl_from_host(tassl_ctx *ctx, int ndim, const int64_t *shape, const float *data) {
    tassl_tensor *t = tassl_tensor_alloc(ctx, ndim, shape);
    tassl_tensor_write(t, data);
    return t;
}

tassl_status tassl_tensor_write(tassl_tensor *t, const float *src) {
    tassl_ctx *ctx = t->ctx;
    if (!usable(t)) return ctx->status ? ctx->status : TASSL_ERR_ARG;
    int64_t n = tassl_numel(t);
    if (n == 0) return TASSL_OK;
    if (tassl_is_contiguous(t))
        return tassl_ctx_check(ctx, ctx->dev->be->write(ctx->dev, t->buf, (size_t)t->off * 4,
                                                        (size_t)n * 4, src));
    tassl_scope_begin(ctx);
    tassl_tensor *tmp = tassl_from_host(ctx, t->ndim, t->shape, src);
    tassl_copy_(t, tmp);
    tassl_scope_end(ctx);
    return ctx->status;
}

void tassl_copy_(tassl_tensor *dst, const tassl_tensor *src) {
    char a[64], b[64];
    TASSL_CHECK(tassl_same_shape(dst, src), "tassl_copy_: dst %s, src %s: shapes differ",
                tassl_shape_str(dst, a, 64), tassl_shape_str(src, b, 64));
    if (!usable(dst) || !usable(src) || tassl_numel(dst) == 0) return;
    tassl_kview s = tassl_kview_of(src), d = tassl_kview_of(dst);
    tassl_ctx_check(dst->ctx, dst->ctx->dev->be->core->copy(dst->ctx->dev, &s, &d, 0));
}

tassl_status tassl_tensor_read(const tassl_tensor *t, float *dst) {
    tassl_ctx *ctx = t->ctx;
    if (!usable(t)) return ctx->status ? ctx->status : TASSL_ERR_ARG;
    int64_t n = tassl_numel(t);
    if (n == 0) return TASSL_OK;
    if (tassl_is_contiguous(t))
        return tassl_ctx_check(ctx, ctx->dev->be->read(ctx->dev, t->buf, (size_t)t->off * 4,
                                                       (size_t)n * 4, dst));
    tassl_scope_begin(ctx);
    tassl_tensor *tmp = tassl_tensor_alloc(ctx, t->ndim, t->shape);
    tassl_copy_(tmp, t);
    tassl_status s = ctx->status;
    if (s == TASSL_OK) s = tassl_tensor_read(tmp, dst);
    tassl_scope_end(ctx);
    return s;
}

float tassl_item(const tassl_tensor *t) {
    TASSL_CHECK(tassl_numel(t) == 1, "tassl_item: tensor has %lld elements, expected 1",
                (long long)tassl_numel(t));
    float v = NAN;
    if (tassl_tensor_read(t, &v) != TASSL_OK) return NAN;
    return v;
}

/* ---- random ---------------------------------------------------------------------------------- */

void tassl_rng_seed(tassl_ctx *ctx, uint64_t seed) {
    ctx->rng.seed = seed;
    ctx->rng.counter = 0;
}
tassl_rng_state tassl_rng_get(const tassl_ctx *ctx) { return ctx->rng; }
void tassl_rng_set(tassl_ctx *ctx, tassl_rng_state s) { ctx->rng = s; }

static void rand_fill(tassl_tensor *t, tassl_rng_dist dist, float a, float b) {
    tassl_ctx *ctx = t->ctx;
    int64_t n = tassl_numel(t);
    uint64_t counter = ctx->rng.counter;
    ctx->rng.counter += (uint64_t)n; /* advance even on failure: streams stay aligned */
    if (!usable(t) || n == 0) return;
    if (tassl_is_contiguous(t)) {
        tassl_ctx_check(ctx, ctx->dev->be->core->rng(ctx->dev, ptr_of(t), n, dist, ctx->rng.seed,
                                                     counter, a, b));
        return;
    }
    tassl_scope_begin(ctx);
    tassl_tensor *tmp = tassl_tensor_alloc(ctx, t->ndim, t->shape);
    if (usable(tmp))
        tassl_ctx_check(ctx, ctx->dev->be->core->rng(ctx->dev, ptr_of(tmp), n, dist,
                                                     ctx->rng.seed, counter, a, b));
    tassl_copy_(t, tmp);
    tassl_scope_end(ctx);
}

void tassl_rand_(tassl_tensor *t, float lo, float hi) { rand_fill(t, TASSL_RNG_UNIFORM, lo, hi); }
void tassl_randn_(tassl_tensor *t, float mean, float std) {
    rand_fill(t, TASSL_RNG_NORMAL, mean, std);
}

tassl_tensor *tassl_rand(tassl_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi) {
    tassl_tensor *t = tassl_tensor_alloc(ctx, ndim, shape);
    tassl_rand_(t, lo, hi);
    return t;
}

tassl_tensor *tassl_randn(tassl_ctx *ctx, int ndim, const int64_t *shape, float mean, float std) {
    tassl_tensor *t = tassl_tensor_alloc(ctx, ndim, shape);
    tassl_randn_(t, mean, std);
    return t;
}
