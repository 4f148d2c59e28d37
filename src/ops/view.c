/* view.c — views and layout: reshape, permute, slice, expand share storage; contiguous and
 * concat copy. Each records a node whose backward maps the gradient back through the same
 * transform (views are applied to the contiguous gradient of the source). */
#include <string.h>
#include "op.h"

/* The backward of every op here moves gradients only: no input's or output's values are read. */
#define UNREAD_ALL                                                                                \
    (TASSL_UNREAD_OUT | TASSL_UNREAD_IN(0) | TASSL_UNREAD_IN(1) | TASSL_UNREAD_IN(2) |            \
     TASSL_UNREAD_IN(3))

/* A header sharing x's storage (no node, no gradient). */
static tassl_tensor *alias(tassl_tensor *x) {
    tassl_tensor *y = tassl_arena_alloc(x->ctx, sizeof *y);
    *y = *x;
    y->requires_grad = false;
    y->grad = NULL;
    y->node = NULL;
    y->name = NULL;
    y->scope_id = x->ctx->scope_id;
    return y;
}

/* ---- reshape ---- */

static void reshape_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0];
    tassl_tensor *g = alias(nd->out->grad);
    g->ndim = x->ndim;
    memcpy(g->shape, x->shape, sizeof g->shape);
    tassl_contiguous_strides(x->ndim, x->shape, g->stride);
    tassl_op_accum(x, g);
}

tassl_tensor *tassl_reshape(tassl_tensor *x, int ndim, const int64_t *shape) {
    TASSL_CHECK(ndim >= 0 && ndim <= TASSL_MAX_DIMS, "tassl_reshape: %d dims", ndim);
    int64_t sh[TASSL_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1) {
            TASSL_CHECK(infer < 0, "tassl_reshape: more than one -1");
            infer = i;
        } else {
            known *= shape[i];
        }
    }
    int64_t n = tassl_numel(x);
    char b[64];
    if (infer >= 0) {
        TASSL_CHECK(known > 0 && n % known == 0, "tassl_reshape: cannot infer -1 for %s",
                    tassl_shape_str(x, b, 64));
        sh[infer] = n / known;
        known *= sh[infer];
    }
    TASSL_CHECK(known == n, "tassl_reshape: %s has %lld elements, new shape %lld",
                tassl_shape_str(x, b, 64), (long long)n, (long long)known);
    x = tassl_contiguous(x);
    tassl_tensor *y = alias(x);
    y->ndim = ndim;
    memcpy(y->shape, sh, sizeof(int64_t) * (size_t)ndim);
    tassl_contiguous_strides(ndim, sh, y->stride);
    tassl_node *nd = tassl_op_record(y, "reshape", reshape_backward, 1, &x);
    if (nd) nd->unread = UNREAD_ALL;
    return y;
}

tassl_tensor *tassl_flatten(tassl_tensor *x, int start_dim) {
    int s = tassl_op_axis(start_dim, x->ndim, "tassl_flatten");
    int64_t sh[TASSL_MAX_DIMS], rest = 1;
    for (int i = 0; i < s; i++) sh[i] = x->shape[i];
    for (int i = s; i < x->ndim; i++) rest *= x->shape[i];
    sh[s] = rest;
    return tassl_reshape(x, s + 1, sh);
}

/* ---- permute ---- */

static tassl_tensor *permute_view(tassl_tensor *x, const int *perm) {
    tassl_tensor *y = alias(x);
    for (int i = 0; i < x->ndim; i++) {
        y->shape[i] = x->shape[perm[i]];
        y->stride[i] = x->stride[perm[i]];
    }
    return y;
}

static void permute_backward(tassl_node *nd) {
    int inv[TASSL_MAX_DIMS];
    for (int i = 0; i < nd->in[0]->ndim; i++) inv[nd->i[i]] = i;
    tassl_op_accum(nd->in[0], permute_view(nd->out->grad, inv));
}

tassl_tensor *tassl_permute(tassl_tensor *x, const int *perm) {
    int seen[TASSL_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        TASSL_CHECK(perm[i] >= 0 && perm[i] < x->ndim && !seen[perm[i]],
                    "tassl_permute: not a permutation of %d dims", x->ndim);
        seen[perm[i]] = 1;
    }
    tassl_tensor *y = permute_view(x, perm);
    tassl_node *nd = tassl_op_record(y, "permute", permute_backward, 1, &x);
    if (nd) {
        for (int i = 0; i < x->ndim; i++) nd->i[i] = perm[i];
        nd->unread = UNREAD_ALL;
    }
    return y;
}

tassl_tensor *tassl_transpose(tassl_tensor *x, int d0, int d1) {
    int perm[TASSL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    d0 = tassl_op_axis(d0, x->ndim, "tassl_transpose");
    d1 = tassl_op_axis(d1, x->ndim, "tassl_transpose");
    perm[d0] = d1;
    perm[d1] = d0;
    return tassl_permute(x, perm);
}

/* ---- slice ---- */

static tassl_tensor *slice_view(tassl_tensor *x, int dim, int64_t start, int64_t len, int64_t step) {
    tassl_tensor *y = alias(x);
    y->off += start * x->stride[dim];
    y->shape[dim] = len;
    y->stride[dim] = x->stride[dim] * step;
    return y;
}

static void slice_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *dx = tassl_op_grad(x);
    if (!dx) return;
    tassl_tensor *dst = slice_view(dx, (int)nd->i[0], nd->i[1], nd->out->shape[nd->i[0]], nd->i[2]);
    tassl_kview s = tassl_op_view(nd->out->grad), d = tassl_op_view(dst);
    if (tassl_numel(dst) > 0) OP_CALL(x->ctx, KCORE(x)->copy(DEV(x), &s, &d, 1));
}

tassl_tensor *tassl_slice(tassl_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    dim = tassl_op_axis(dim, x->ndim, "tassl_slice");
    int64_t n = x->shape[dim];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (end > n) end = n;
    TASSL_CHECK(step >= 1 && start >= 0 && start <= n && end >= start,
                "tassl_slice: dim %d of size %lld: [%lld:%lld:%lld] out of range", dim,
                (long long)n, (long long)start, (long long)end, (long long)step);
    int64_t len = (end - start + step - 1) / step;
    tassl_tensor *y = slice_view(x, dim, start, len, step);
    tassl_node *nd = tassl_op_record(y, "slice", slice_backward, 1, &x);
    if (nd) {
        nd->i[0] = dim;
        nd->i[1] = start;
        nd->i[2] = step;
        nd->unread = UNREAD_ALL;
    }
    return y;
}

/* ---- expand ---- */

static void expand_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0];
    tassl_op_accum(x, tassl_sum_to(nd->out->grad, x->ndim, x->shape));
}

tassl_tensor *tassl_expand(tassl_tensor *x, int ndim, const int64_t *shape) {
    tassl_kview v = tassl_op_view_bcast(x, ndim, shape, "tassl_expand");
    tassl_tensor *y = alias(x);
    y->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        y->shape[i] = v.shape[i];
        y->stride[i] = v.stride[i];
    }
    tassl_node *nd = tassl_op_record(y, "expand", expand_backward, 1, &x);
    if (nd) nd->unread = UNREAD_ALL;
    return y;
}

/* ---- contiguous ---- */

static void contiguous_backward(tassl_node *nd) { tassl_op_accum(nd->in[0], nd->out->grad); }

tassl_tensor *tassl_contiguous(tassl_tensor *x) {
    if (tassl_is_contiguous(x)) return x;
    tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, x->shape);
    tassl_kview s = tassl_op_view(x), d = tassl_op_view(y);
    if (tassl_numel(y) > 0 && y->buf) OP_CALL(x->ctx, KCORE(x)->copy(DEV(x), &s, &d, 0));
    tassl_node *nd = tassl_op_record(y, "contiguous", contiguous_backward, 1, &x);
    if (nd) nd->unread = UNREAD_ALL;
    return y;
}

/* ---- concat ---- */

static void concat_backward(tassl_node *nd) {
    int dim = (int)nd->i[0];
    int64_t at = 0;
    for (int k = 0; k < nd->nin; k++) {
        tassl_tensor *x = nd->in[k];
        int64_t len = x->shape[dim];
        if (x->requires_grad) tassl_op_accum(x, slice_view(nd->out->grad, dim, at, len, 1));
        at += len;
    }
}

tassl_tensor *tassl_concat(int n, tassl_tensor *const *xs, int dim) {
    TASSL_CHECK(n >= 1, "tassl_concat: no inputs");
    TASSL_CHECK(n <= TASSL_NODE_MAX_IN || !tassl_grad_enabled(xs[0]->ctx),
                "tassl_concat: at most %d differentiable inputs (got %d); concat in stages",
                TASSL_NODE_MAX_IN, n);
    tassl_tensor *x0 = xs[0];
    dim = tassl_op_axis(dim, x0->ndim, "tassl_concat");
    int64_t shape[TASSL_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[dim] = 0;
    char a[64], b[64];
    for (int k = 0; k < n; k++) {
        TASSL_CHECK(xs[k]->ndim == x0->ndim, "tassl_concat: input %d is %s, input 0 is %s", k,
                    tassl_shape_str(xs[k], a, 64), tassl_shape_str(x0, b, 64));
        for (int i = 0; i < x0->ndim; i++)
            TASSL_CHECK(i == dim || xs[k]->shape[i] == x0->shape[i],
                        "tassl_concat: input %d is %s, input 0 is %s (dim %d differs)", k,
                        tassl_shape_str(xs[k], a, 64), tassl_shape_str(x0, b, 64), i);
        shape[dim] += xs[k]->shape[dim];
    }
    tassl_tensor *y = tassl_op_out(x0->ctx, x0->ndim, shape);
    int64_t at = 0;
    for (int k = 0; k < n; k++) {
        tassl_tensor *dst = slice_view(y, dim, at, xs[k]->shape[dim], 1);
        if (tassl_numel(dst) > 0 && y->buf) {
            tassl_kview s = tassl_op_view(xs[k]), d = tassl_op_view(dst);
            OP_CALL(y->ctx, KCORE(y)->copy(DEV(y), &s, &d, 0));
        }
        at += xs[k]->shape[dim];
    }
    tassl_node *nd =
        n <= TASSL_NODE_MAX_IN ? tassl_op_record(y, "concat", concat_backward, n, xs) : NULL;
    if (nd) {
        nd->i[0] = dim;
        nd->unread = UNREAD_ALL;
    }
    return y;
}
