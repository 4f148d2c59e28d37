/* reduce.c — sum/mean/max/var over any set of axes.
 *
 * Every reduction is a row reduction: the reduced axes are permuted to the end and made
 * contiguous (a recorded copy, so gradients flow back through it), the tensor is seen as
 * (rows = kept elements, cols = reduced elements) and one kernel reduces each row. */
#include <math.h>
#include <string.h>
#include "op.h"
#include "../backend/kern_core.h"

enum { RED_SUM, RED_MAX };

static void rsum_backward(tassl_node *nd) {
    /* dxp[r, c] += dy[r] · scale: broadcast dy along the columns; scale folded by a unary
     * affine when it is not 1 */
    tassl_tensor *xp = nd->in[0], *dxp = tassl_op_grad(xp);
    if (!dxp) return;
    tassl_tensor *dy = nd->out->grad;
    float scale = nd->f[0];
    if (scale != 1.0f) dy = tassl_scale(dy, scale);
    int64_t rows = nd->i[0], cols = nd->i[1];
    tassl_kview s, d;
    memset(&s, 0, sizeof s);
    s.buf = dy->buf;
    s.off = dy->off;
    s.ndim = 2;
    s.shape[0] = rows;
    s.shape[1] = cols;
    s.stride[0] = 1;
    s.stride[1] = 0;
    d = s;
    d.buf = dxp->buf;
    d.off = dxp->off;
    d.stride[0] = cols;
    d.stride[1] = 1;
    if (rows * cols > 0) OP_CALL(xp->ctx, KCORE(xp)->copy(DEV(xp), &s, &d, 1));
}

static void rmax_backward(tassl_node *nd) {
    tassl_tensor *xp = nd->in[0], *dxp = tassl_op_grad(xp);
    if (!dxp || nd->i[0] * nd->i[1] == 0) return;
    OP_CALL(xp->ctx, KCORE(xp)->row_scatter(DEV(xp), P(nd->out->grad), P(nd->saved[0]), P(dxp),
                                            nd->i[0], nd->i[1]));
}

static tassl_tensor *reduce(tassl_tensor *x, int naxes, const int *axes, bool keepdim, int kind,
                            int mean, const char *name) {
    int red[TASSL_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        int a = tassl_op_axis(axes[i], x->ndim, name);
        TASSL_CHECK(!red[a], "%s: axis %d listed twice", name, a);
        red[a] = 1;
    }
    int perm[TASSL_MAX_DIMS], np = 0;
    int64_t rows = 1, cols = 1, oshape[TASSL_MAX_DIMS];
    int ond = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!red[i]) {
            perm[np++] = i;
            rows *= x->shape[i];
        }
    for (int i = 0; i < x->ndim; i++)
        if (red[i]) {
            perm[np++] = i;
            cols *= x->shape[i];
        }
    for (int i = 0; i < x->ndim; i++) {
        if (!red[i]) oshape[ond++] = x->shape[i];
        else if (keepdim) oshape[ond++] = 1;
    }
    TASSL_CHECK(kind != RED_MAX || cols > 0, "%s: max over an empty set", name);
    bool identity = true;
    for (int i = 0; i < x->ndim; i++) identity &= perm[i] == i;
    tassl_tensor *xp = identity ? x : tassl_permute(x, perm);
    xp = tassl_contiguous(xp);
    tassl_tensor *y = tassl_op_out(x->ctx, ond, oshape);
    tassl_ctx *ctx = x->ctx;
    tassl_node *nd;
    if (kind == RED_SUM) {
        float scale = mean ? (cols > 0 ? 1.0f / (float)cols : NAN) : 1.0f;
        if (rows > 0 && y->buf) {
            if (cols == 0) tassl_fill_(y, mean ? NAN : 0.0f);
            else OP_CALL(ctx, KCORE(x)->row_sum(DEV(x), P(xp), P(y), rows, cols, scale));
        }
        nd = tassl_op_record(y, name, rsum_backward, 1, &xp);
        if (nd) nd->f[0] = scale;
    } else {
        tassl_tensor *idx = tassl_op_out(ctx, ond, oshape);
        if (rows > 0 && y->buf && idx->buf)
            OP_CALL(ctx, KCORE(x)->row_max(DEV(x), P(xp), P(y), P(idx), rows, cols));
        nd = tassl_op_record(y, name, rmax_backward, 1, &xp);
        if (nd) nd->saved[0] = idx;
    }
    if (nd) {
        nd->i[0] = rows;
        nd->i[1] = cols;
    }
    return y;
}

tassl_tensor *tassl_sum(tassl_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(x, naxes, axes, keepdim, RED_SUM, 0, "sum");
}
tassl_tensor *tassl_mean(tassl_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(x, naxes, axes, keepdim, RED_SUM, 1, "mean");
}
tassl_tensor *tassl_max(tassl_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(x, naxes, axes, keepdim, RED_MAX, 0, "max");
}

static int all_axes(const tassl_tensor *x, int *axes) {
    for (int i = 0; i < x->ndim; i++) axes[i] = i;
    return x->ndim;
}

tassl_tensor *tassl_sum_all(tassl_tensor *x) {
    int axes[TASSL_MAX_DIMS];
    return reduce(x, all_axes(x, axes), axes, false, RED_SUM, 0, "sum_all");
}
tassl_tensor *tassl_mean_all(tassl_tensor *x) {
    int axes[TASSL_MAX_DIMS];
    return reduce(x, all_axes(x, axes), axes, false, RED_SUM, 1, "mean_all");
}

tassl_tensor *tassl_var(tassl_tensor *x, int naxes, const int *axes, int correction,
                        bool keepdim) {
    int64_t n = 1;
    int seen[TASSL_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        int a = tassl_op_axis(axes[i], x->ndim, "var");
        if (!seen[a]) n *= x->shape[a];
        seen[a] = 1;
    }
    TASSL_CHECK(n - correction > 0, "tassl_var: %lld elements with correction %d", (long long)n,
                correction);
    tassl_tensor *mu = tassl_mean(x, naxes, axes, true);
    tassl_tensor *d = tassl_sub(x, mu);
    tassl_tensor *ss = tassl_sum(tassl_mul(d, d), naxes, axes, keepdim);
    return tassl_scale(ss, 1.0f / (float)(n - correction));
}

tassl_tensor *tassl_sum_to(tassl_tensor *x, int ndim, const int64_t *shape) {
    char a[64];
    TASSL_CHECK(ndim <= x->ndim, "tassl_sum_to: cannot reduce %s to %d dims",
                tassl_shape_str(x, a, 64), ndim);
    int axes[TASSL_MAX_DIMS], n = 0, lead = x->ndim - ndim;
    for (int i = 0; i < x->ndim; i++) {
        int it = i - lead;
        if (it < 0) axes[n++] = i;
        else if (shape[it] == 1 && x->shape[i] != 1) axes[n++] = i;
        else
            TASSL_CHECK(shape[it] == x->shape[i], "tassl_sum_to: %s to dim %d of size %lld",
                        tassl_shape_str(x, a, 64), it, (long long)shape[it]);
    }
    if (n == 0) return ndim == x->ndim ? x : tassl_reshape(x, ndim, shape);
    tassl_tensor *s = tassl_sum(x, n, axes, true);
    return tassl_reshape(s, ndim, shape);
}
