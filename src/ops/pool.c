/* ops/pool.c — pooling and up-sampling ops: max/average pooling (windowed and global) and
 * nearest / (bi|tri)linear up-sampling of (N, C, H, W) and (N, C, D, H, W) tensors, with their
 * backward functions. Semantics follow PyTorch (see include/tassl/ops.h and kern_pool.h).
 *
 * All of them map onto the pool kernel family's 3-D geometry (2D tensors get a unit D dim). The
 * global pools are windowed pools whose window is the whole plane: their (N, C) output has the
 * memory layout of an (N, C, 1, 1[, 1]) one, so they reuse the same kernels and backward
 * functions. Each node keeps the output size, kernel, stride and pad in nd->i[0..11]
 * (align_corners in nd->i[12]); N·C and the input size come back from the input tensor.
 */
#include "op.h"
#include "../backend/kern_pool.h"

#define KPOOL(t) (DEV(t)->be->pool)

/* Planes larger than this cannot store an exact argmax index in a float. */
#define POOL_MAX_PLANE (INT64_C(1) << 24)

/* Spatial dims of x (N, C, S...): 2 or 3; aborts naming the op otherwise. */
static int spatial_dims(const tassl_tensor *x, const char *op) {
    char s[96];
    TASSL_CHECK(x->ndim == 4 || x->ndim == 5,
                "%s: x is %s, expected (N, C, H, W) or (N, C, D, H, W)", op,
                tassl_shape_str(x, s, sizeof s));
    return x->ndim - 2;
}

/* Geometry with x's planes and input size (2D: unit D dim in front), identity window, out = in. */
static tassl_pool_geom geom_of(const tassl_tensor *x) {
    tassl_pool_geom g;
    int ns = x->ndim - 2;
    g.nc = x->shape[0] * x->shape[1];
    for (int d = 0; d < 3; d++) {
        g.in[d] = g.out[d] = d < 3 - ns ? 1 : x->shape[2 + d - (3 - ns)];
        g.k[d] = g.s[d] = 1;
        g.p[d] = 0;
    }
    return g;
}

/* Output shape (N, C, out...) of g for x; 2D drops the unit D. */
static tassl_tensor *alloc_out(const tassl_tensor *x, const tassl_pool_geom *g) {
    int64_t shape[TASSL_MAX_DIMS] = {x->shape[0], x->shape[1]};
    int ns = x->ndim - 2;
    for (int i = 0; i < ns; i++) shape[2 + i] = g->out[3 - ns + i];
    return tassl_op_out(x->ctx, x->ndim, shape);
}

static void geom_save(tassl_node *nd, const tassl_pool_geom *g) {
    for (int d = 0; d < 3; d++) {
        nd->i[d] = g->out[d];
        nd->i[3 + d] = g->k[d];
        nd->i[6 + d] = g->s[d];
        nd->i[9 + d] = g->p[d];
    }
}

static tassl_pool_geom geom_load(const tassl_node *nd) {
    tassl_pool_geom g = geom_of(nd->in[0]);
    for (int d = 0; d < 3; d++) {
        g.out[d] = nd->i[d];
        g.k[d] = (int)nd->i[3 + d];
        g.s[d] = (int)nd->i[6 + d];
        g.p[d] = (int)nd->i[9 + d];
    }
    return g;
}

/* Windowed-pool geometry: kernel per spatial dim; stride NULL = kernel, pad NULL = 0 (PyTorch's
 * defaults). Checks the window as PyTorch does (pad at most half the kernel, output ≥ 1). */
static tassl_pool_geom pool_geom(const tassl_tensor *x, const int *kernel, const int *stride,
                                 const int *pad, const char *op) {
    int ns = spatial_dims(x, op);
    tassl_pool_geom g = geom_of(x);
    char s[96];
    TASSL_CHECK(kernel != NULL, "%s: kernel is NULL", op);
    for (int i = 0; i < ns; i++) {
        int d = 3 - ns + i;
        int k = kernel[i], st = stride ? stride[i] : k, p = pad ? pad[i] : 0;
        TASSL_CHECK(k >= 1 && st >= 1 && p >= 0 && 2 * p <= k,
                    "%s: spatial dim %d has kernel %d, stride %d, pad %d; expected kernel >= 1, "
                    "stride >= 1, 0 <= pad <= kernel/2",
                    op, i, k, st, p);
        TASSL_CHECK(g.in[d] + 2 * p >= k, "%s: x is %s, kernel %d with pad %d exceeds dim %d", op,
                    tassl_shape_str(x, s, sizeof s), k, p, 2 + i);
        g.k[d] = k;
        g.s[d] = st;
        g.p[d] = p;
        g.out[d] = (g.in[d] + 2 * p - k) / st + 1;
    }
    return g;
}

/* ---- max pooling ------------------------------------------------------------------------------ */

static void max_pool_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *dy = nd->out->grad;
    tassl_tensor *dx = tassl_op_grad(x);
    if (!dx || !dy) return;
    tassl_pool_geom g = geom_load(nd);
    OP_CALL(x->ctx, KPOOL(x)->max_bwd(DEV(x), &g, P(dy), P(nd->saved[0]), P(dx)));
}

/* Shared by max_pool and global_max_pool: y allocated by the caller with g's output size. The
 * argmax tensor (y's shape) is only made when a gradient will be wanted. */
static tassl_tensor *max_pool_run(tassl_tensor *x, tassl_tensor *y, const tassl_pool_geom *g,
                                  const char *op) {
    tassl_ctx *ctx = x->ctx;
    int64_t plane = g->in[0] * g->in[1] * g->in[2];
    bool want = tassl_grad_enabled(ctx) && x->requires_grad;
    tassl_tensor *idx = want ? tassl_op_out(ctx, y->ndim, y->shape) : NULL;
    if (want && plane > POOL_MAX_PLANE && ctx->status == TASSL_OK) {
        char s[96];
        tassl_ctx_fail(ctx, tassl_error(TASSL_ERR_UNSUPPORTED,
                                        "%s: x is %s; planes of more than 2^24 elements cannot "
                                        "keep an exact argmax for the gradient",
                                        op, tassl_shape_str(x, s, sizeof s)));
    }
    tassl_ptr pi = {0};
    if (idx && idx->buf) pi = P(idx);
    OP_CALL(ctx, KPOOL(x)->max_fwd(DEV(x), g, P(x), P(y), pi));
    tassl_node *nd = tassl_op_record(y, op, max_pool_backward, 1, &x);
    if (nd) {
        TASSL_CHECK(idx != NULL, "%s: gradient recorded without an argmax", op);
        geom_save(nd, g);
        nd->saved[0] = idx;
    }
    return y;
}

tassl_tensor *tassl_max_pool(tassl_tensor *x, const int *kernel, const int *stride,
                             const int *pad) {
    tassl_pool_geom g = pool_geom(x, kernel, stride, pad, "tassl_max_pool");
    x = tassl_contiguous(x);
    return max_pool_run(x, alloc_out(x, &g), &g, "max_pool");
}

tassl_tensor *tassl_global_max_pool(tassl_tensor *x) {
    spatial_dims(x, "tassl_global_max_pool");
    x = tassl_contiguous(x);
    tassl_pool_geom g = geom_of(x);
    for (int d = 0; d < 3; d++) g.k[d] = (int)g.in[d], g.out[d] = 1;
    return max_pool_run(x, tassl_op_out(x->ctx, 2, x->shape), &g, "global_max_pool");
}

/* ---- average pooling -------------------------------------------------------------------------- */

static void avg_pool_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *dy = nd->out->grad;
    tassl_tensor *dx = tassl_op_grad(x);
    if (!dx || !dy) return;
    tassl_pool_geom g = geom_load(nd);
    OP_CALL(x->ctx, KPOOL(x)->avg_bwd(DEV(x), &g, P(dy), P(dx)));
}

static tassl_tensor *avg_pool_run(tassl_tensor *x, tassl_tensor *y, const tassl_pool_geom *g,
                                  const char *op) {
    OP_CALL(x->ctx, KPOOL(x)->avg_fwd(DEV(x), g, P(x), P(y)));
    tassl_node *nd = tassl_op_record(y, op, avg_pool_backward, 1, &x);
    if (nd) geom_save(nd, g);
    return y;
}

tassl_tensor *tassl_avg_pool(tassl_tensor *x, const int *kernel, const int *stride,
                             const int *pad) {
    tassl_pool_geom g = pool_geom(x, kernel, stride, pad, "tassl_avg_pool");
    x = tassl_contiguous(x);
    return avg_pool_run(x, alloc_out(x, &g), &g, "avg_pool");
}

tassl_tensor *tassl_global_avg_pool(tassl_tensor *x) {
    spatial_dims(x, "tassl_global_avg_pool");
    x = tassl_contiguous(x);
    tassl_pool_geom g = geom_of(x);
    /* One work-item sums a whole plane: fine for the small planes at the end of an encoder. */
    for (int d = 0; d < 3; d++) g.k[d] = (int)g.in[d], g.out[d] = 1;
    return avg_pool_run(x, tassl_op_out(x->ctx, 2, x->shape), &g, "global_avg_pool");
}

/* ---- up-sampling ------------------------------------------------------------------------------ */

/* Up-sampling geometry: out = size per spatial dim (each ≥ 1). */
static tassl_pool_geom upsample_geom(const tassl_tensor *x, const int64_t *size, const char *op) {
    int ns = spatial_dims(x, op);
    tassl_pool_geom g = geom_of(x);
    TASSL_CHECK(size != NULL, "%s: size is NULL", op);
    for (int i = 0; i < ns; i++) {
        TASSL_CHECK(size[i] >= 1, "%s: size[%d] is %lld, expected >= 1", op, i,
                    (long long)size[i]);
        g.out[3 - ns + i] = size[i];
    }
    return g;
}

static void upsample_nearest_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *dy = nd->out->grad;
    tassl_tensor *dx = tassl_op_grad(x);
    if (!dx || !dy) return;
    tassl_pool_geom g = geom_load(nd);
    OP_CALL(x->ctx, KPOOL(x)->nearest_bwd(DEV(x), &g, P(dy), P(dx)));
}

tassl_tensor *tassl_upsample_nearest(tassl_tensor *x, const int64_t *size) {
    tassl_pool_geom g = upsample_geom(x, size, "tassl_upsample_nearest");
    x = tassl_contiguous(x);
    tassl_tensor *y = alloc_out(x, &g);
    OP_CALL(x->ctx, KPOOL(x)->nearest_fwd(DEV(x), &g, P(x), P(y)));
    tassl_node *nd = tassl_op_record(y, "upsample_nearest", upsample_nearest_backward, 1, &x);
    if (nd) geom_save(nd, &g);
    return y;
}

static void upsample_linear_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *dy = nd->out->grad;
    tassl_tensor *dx = tassl_op_grad(x);
    if (!dx || !dy) return;
    tassl_pool_geom g = geom_load(nd);
    OP_CALL(x->ctx, KPOOL(x)->linear_bwd(DEV(x), &g, (int)nd->i[12], P(dy), P(dx)));
}

tassl_tensor *tassl_upsample_linear(tassl_tensor *x, const int64_t *size, bool align_corners) {
    tassl_pool_geom g = upsample_geom(x, size, "tassl_upsample_linear");
    x = tassl_contiguous(x);
    tassl_tensor *y = alloc_out(x, &g);
    OP_CALL(x->ctx, KPOOL(x)->linear_fwd(DEV(x), &g, align_corners, P(x), P(y)));
    tassl_node *nd = tassl_op_record(y, "upsample_linear", upsample_linear_backward, 1, &x);
    if (nd) {
        geom_save(nd, &g);
        nd->i[12] = align_corners;
    }
    return y;
}
