/* ops/norm.c — batch, group, instance and layer normalisation (ops and their backward).
 *
 * All four are one op over a geometry (kern_norm.h): statistics per group s, affine per channel
 * c, fused into one forward kernel and two backward entries (affine_bwd for dgamma/dbeta,
 * backward_x for dx; batch norm in training takes backward_fused, one reduction for all three).
 * The ops differ only in how they fill the geometry and where the statistics come from (batch
 * statistics, or batch norm's running statistics in eval mode).
 * mean and rstd of the forward are saved on the node; x̂ is recomputed in backward rather than
 * stored (one tensor of x's size less per norm layer).
 */
#include "op.h"
#include "../backend/kern_norm.h"

#define KNORM(t) (DEV(t)->be->norm)

/* Node layout: in[0] = x, then gamma and/or beta if given. i[0..4] = geometry (n, s_inner,
 * s_count, c_inner, c_count), i[5] = batch statistics (1) or constant statistics (0),
 * i[6] / i[7] = index of gamma / beta in in[] (-1: absent). saved[0] = mean, saved[1] = rstd,
 * both (s_count). */

static tassl_ptr opt_ptr(const tassl_tensor *t) {
    tassl_ptr none = {NULL, 0};
    return t ? tassl_op_ptr(t) : none;
}

static void norm_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *y = nd->out;
    tassl_tensor *gamma = nd->i[6] >= 0 ? nd->in[nd->i[6]] : NULL;
    tassl_tensor *beta = nd->i[7] >= 0 ? nd->in[nd->i[7]] : NULL;
    tassl_tensor *mean = nd->saved[0], *rstd = nd->saved[1];
    tassl_norm_geom g = {nd->i[0], nd->i[1], nd->i[2], nd->i[3], nd->i[4]};
    int training = (int)nd->i[5];
    if (!y->grad) return;
    tassl_tensor *dy = tassl_contiguous(y->grad);               // x's shape
    tassl_tensor *dx = tassl_op_grad(x);                        // x's shape
    tassl_tensor *dgamma = gamma ? tassl_op_grad(gamma) : NULL; // (c_count)
    tassl_tensor *dbeta = beta ? tassl_op_grad(beta) : NULL;    // (c_count)
    tassl_ctx *ctx = x->ctx;
    if (training && g.c_inner == g.s_inner && g.c_count == g.s_count) { // batch norm
        int64_t ns = 2 * g.s_count;
        tassl_tensor *scratch = tassl_op_out(ctx, 1, &ns); // (2, s_count)
        OP_CALL(ctx, KNORM(x)->backward_fused(DEV(x), P(x), P(mean), P(rstd), opt_ptr(gamma),
                                              P(dy), opt_ptr(dx), opt_ptr(dgamma),
                                              opt_ptr(dbeta), P(scratch), &g));
        return;
    }
    if (dgamma || dbeta)
        OP_CALL(ctx, KNORM(x)->affine_bwd(DEV(x), P(x), P(mean), P(rstd), P(dy), opt_ptr(dgamma),
                                          opt_ptr(dbeta), &g));
    if (dx) {
        int64_t ns = 2 * g.s_count; // per-group sums, only with batch statistics
        tassl_tensor *scratch = training ? tassl_op_out(ctx, 1, &ns) : NULL; // (2, s_count)
        OP_CALL(ctx, KNORM(x)->backward_x(DEV(x), P(x), P(mean), P(rstd), opt_ptr(gamma), P(dy),
                                          P(dx), opt_ptr(scratch), &g, training));
    }
}

/* y = x̂·gamma + beta with given statistics, and the tape node. x, gamma, beta contiguous. */
static tassl_tensor *norm_apply(const char *op, tassl_tensor *x, tassl_tensor *gamma,
                                tassl_tensor *beta, const tassl_norm_geom *g, tassl_tensor *mean,
                                tassl_tensor *rstd, int use_batch) {
    tassl_ctx *ctx = x->ctx;
    tassl_tensor *y = tassl_op_out(ctx, x->ndim, x->shape);
    OP_CALL(ctx, KNORM(x)->forward(DEV(x), P(x), P(mean), P(rstd), opt_ptr(gamma), opt_ptr(beta),
                                   P(y), g));
    tassl_tensor *in[3] = {x};
    int nin = 1, ig = -1, ib = -1;
    if (gamma) in[ig = nin++] = gamma;
    if (beta) in[ib = nin++] = beta;
    tassl_node *nd = tassl_op_record(y, op, norm_backward, nin, in);
    if (nd) {
        nd->i[0] = g->n;
        nd->i[1] = g->s_inner;
        nd->i[2] = g->s_count;
        nd->i[3] = g->c_inner;
        nd->i[4] = g->c_count;
        nd->i[5] = use_batch;
        nd->i[6] = ig;
        nd->i[7] = ib;
        nd->saved[0] = mean;
        nd->saved[1] = rstd;
        nd->unread = TASSL_UNREAD_OUT; /* x̂ is recomputed from x */
    }
    return y;
}

/* Batch statistics of x for geometry g: mean, rstd (and the biased var) of shape (s_count). */
static void batch_stats(tassl_tensor *x, const tassl_norm_geom *g, float eps, tassl_tensor **mean,
                        tassl_tensor **var, tassl_tensor **rstd) {
    tassl_ctx *ctx = x->ctx;
    *mean = tassl_op_out(ctx, 1, &g->s_count);
    *var = tassl_op_out(ctx, 1, &g->s_count);
    *rstd = tassl_op_out(ctx, 1, &g->s_count);
    OP_CALL(ctx, KNORM(x)->stats(DEV(x), P(x), P(*mean), P(*var), P(*rstd), g, eps));
}

/* Checks that an optional per-channel tensor t (gamma, running stats) is 1-D of length c. */
static void check_vec(const char *op, const char *what, const tassl_tensor *t,
                      const tassl_tensor *x, int64_t c) {
    if (!t) return;
    char st[64], sx[64];
    TASSL_CHECK(t->ctx == x->ctx, "%s: %s belongs to another context", op, what);
    TASSL_CHECK(t->ndim == 1 && t->shape[0] == c, "%s: %s is %s, expected (%lld) for x %s", op,
                what, tassl_shape_str(t, st, sizeof st), (long long)c,
                tassl_shape_str(x, sx, sizeof sx));
}

static int64_t spatial(const tassl_tensor *x) {
    int64_t s = 1;
    for (int d = 2; d < x->ndim; d++)
        s *= x->shape[d];
    return s;
}

tassl_tensor *tassl_batch_norm(tassl_tensor *x, tassl_tensor *gamma, tassl_tensor *beta,
                               tassl_tensor *running_mean, tassl_tensor *running_var, bool training,
                               float momentum, float eps) {
    const char *op = "tassl_batch_norm";
    char sx[64];
    TASSL_CHECK(x->ndim >= 2 && tassl_numel(x) > 0,
                "%s: x is %s, expected (N, C), (N, C, H, W) or (N, C, D, H, W)", op,
                tassl_shape_str(x, sx, sizeof sx));
    int64_t n = x->shape[0], c = x->shape[1], s = spatial(x);
    check_vec(op, "gamma", gamma, x, c);
    check_vec(op, "beta", beta, x, c);
    check_vec(op, "running_mean", running_mean, x, c);
    check_vec(op, "running_var", running_var, x, c);
    TASSL_CHECK(!running_mean == !running_var,
                "%s: give both running_mean and running_var or "
                "neither",
                op);
    TASSL_CHECK(!running_mean ||
                    (tassl_is_contiguous(running_mean) && tassl_is_contiguous(running_var)),
                "%s: running statistics must be contiguous (they are updated in place)", op);
    x = tassl_contiguous(x);
    if (gamma) gamma = tassl_contiguous(gamma);
    if (beta) beta = tassl_contiguous(beta);
    tassl_ctx *ctx = x->ctx;
    tassl_norm_geom g = {tassl_numel(x), s, c, s, c};
    tassl_tensor *mean, *var, *rstd;
    // Without running statistics even eval mode normalises with batch statistics (PyTorch).
    int use_batch = training || !running_mean;
    if (use_batch) {
        TASSL_CHECK(n * s > 1,
                    "%s: x is %s: expected more than 1 value per channel when "
                    "training",
                    op, tassl_shape_str(x, sx, sizeof sx));
        batch_stats(x, &g, eps, &mean, &var, &rstd);
        if (training && running_mean) {
            double k = (double)(n * s);
            OP_CALL(ctx, KNORM(x)->running(DEV(x), P(mean), P(var), P(running_mean), P(running_var),
                                           c, momentum, (float)(k / (k - 1))));
        }
    } else {
        // Copy the running mean: backward must see the statistics of this forward even if a
        // later training step updates the running statistics in place.
        mean = tassl_op_out(ctx, 1, &c);
        tassl_copy_(mean, running_mean);
        rstd = tassl_op_out(ctx, 1, &c);
        OP_CALL(ctx, KNORM(x)->rstd(DEV(x), P(running_var), P(rstd), c, eps));
    }
    return norm_apply("batch_norm", x, gamma, beta, &g, mean, rstd, use_batch);
}

tassl_tensor *tassl_group_norm(tassl_tensor *x, int groups, tassl_tensor *gamma, tassl_tensor *beta,
                               float eps) {
    const char *op = "tassl_group_norm";
    char sx[64];
    TASSL_CHECK(x->ndim >= 2 && tassl_numel(x) > 0, "%s: x is %s, expected (N, C, ...)", op,
                tassl_shape_str(x, sx, sizeof sx));
    int64_t n = x->shape[0], c = x->shape[1], s = spatial(x);
    TASSL_CHECK(groups >= 1 && c % groups == 0, "%s: %d groups do not divide C of x %s", op, groups,
                tassl_shape_str(x, sx, sizeof sx));
    check_vec(op, "gamma", gamma, x, c);
    check_vec(op, "beta", beta, x, c);
    x = tassl_contiguous(x);
    if (gamma) gamma = tassl_contiguous(gamma);
    if (beta) beta = tassl_contiguous(beta);
    tassl_norm_geom g = {tassl_numel(x), (c / groups) * s, n * groups, s, c};
    tassl_tensor *mean, *var, *rstd;
    batch_stats(x, &g, eps, &mean, &var, &rstd);
    return norm_apply("group_norm", x, gamma, beta, &g, mean, rstd, 1);
}

tassl_tensor *tassl_instance_norm(tassl_tensor *x, tassl_tensor *gamma, tassl_tensor *beta,
                                  float eps) {
    char sx[64];
    TASSL_CHECK(x->ndim >= 2 && x->shape[1] <= INT32_MAX,
                "tassl_instance_norm: x is %s, expected (N, C, ...)",
                tassl_shape_str(x, sx, sizeof sx));
    return tassl_group_norm(x, (int)x->shape[1], gamma, beta, eps);
}

tassl_tensor *tassl_layer_norm(tassl_tensor *x, int nnorm, tassl_tensor *gamma, tassl_tensor *beta,
                               float eps) {
    const char *op = "tassl_layer_norm";
    char sx[64], st[64];
    TASSL_CHECK(nnorm >= 1 && nnorm <= x->ndim && tassl_numel(x) > 0,
                "%s: cannot normalise the last %d dims of x %s", op, nnorm,
                tassl_shape_str(x, sx, sizeof sx));
    int64_t d = 1;
    for (int k = x->ndim - nnorm; k < x->ndim; k++)
        d *= x->shape[k];
    tassl_tensor *aff[2] = {gamma, beta};
    for (int j = 0; j < 2; j++) {
        const tassl_tensor *t = aff[j];
        if (!t) continue;
        int ok = t->ndim == nnorm && t->ctx == x->ctx;
        for (int k = 0; ok && k < nnorm; k++)
            ok = t->shape[k] == x->shape[x->ndim - nnorm + k];
        TASSL_CHECK(ok, "%s: %s is %s, expected the last %d dims of x %s", op, j ? "beta" : "gamma",
                    tassl_shape_str(t, st, sizeof st), nnorm, tassl_shape_str(x, sx, sizeof sx));
    }
    x = tassl_contiguous(x);
    if (gamma) gamma = tassl_contiguous(gamma);
    if (beta) beta = tassl_contiguous(beta);
    int64_t n = tassl_numel(x);
    tassl_norm_geom g = {n, d, n / d, 1, d};
    tassl_tensor *mean, *var, *rstd;
    batch_stats(x, &g, eps, &mean, &var, &rstd);
    return norm_apply("layer_norm", x, gamma, beta, &g, mean, rstd, 1);
}
