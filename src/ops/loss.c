/* ops/loss.c — softmax, log-softmax and the losses (cross-entropy, BCE with logits, MSE, L1,
 * smooth L1), forward and backward.
 *
 * Each op is one node on the tape with a dedicated backward kernel (kern_loss.h): softmax backward
 * needs only the output, cross-entropy recomputes the row softmax in its backward instead of
 * storing an (N, C, S) probability tensor, and the pointwise losses take the upstream gradient as
 * a scalar with stride 0 for MEAN/SUM so nothing of the input's size is materialised for it.
 * MEAN/SUM of per-element losses use the core row-sum kernel over one row.
 * Semantics follow PyTorch 1.13 (torch.nn.functional), checked against its values in
 * tests/test_loss.c (tests/golden/loss_golden.py).
 */
#include "op.h"
#include "../backend/kern_loss.h"

#define KLOSS(t) (DEV(t)->be->loss)

static const tassl_ptr NO_PTR = {NULL, 0};

/* Sum of the n contiguous floats of src into the scalar dst, times scale. */
static void sum_into(tassl_tensor *src, tassl_tensor *dst, int64_t n, float scale) {
    OP_CALL(dst->ctx, KCORE(dst)->row_sum(DEV(dst), P(src), P(dst), 1, n, scale));
}

static void reduction_check(tassl_reduction red, const char *op) {
    TASSL_CHECK(red == TASSL_REDUCE_MEAN || red == TASSL_REDUCE_SUM || red == TASSL_REDUCE_NONE,
                "%s: unknown reduction %d", op, (int)red);
}

/* ---- softmax / log-softmax ------------------------------------------------------------------ */

/* x seen as (A, M, B) around `dim`. */
static void amb_dims(const tassl_tensor *x, int dim, int64_t *a, int64_t *m, int64_t *b) {
    *a = *b = 1;
    for (int i = 0; i < dim; i++)
        *a *= x->shape[i];
    for (int i = dim + 1; i < x->ndim; i++)
        *b *= x->shape[i];
    *m = x->ndim ? x->shape[dim] : 1;
}

static void softmax_backward(tassl_node *nd) {
    tassl_tensor *dx = tassl_op_grad(nd->in[0]), *y = nd->out;
    if (!dx || tassl_numel(y) == 0) return;
    OP_CALL(y->ctx, KLOSS(y)->softmax_bwd(DEV(y), P(y), P(y->grad), P(dx), nd->i[0], nd->i[1],
                                          nd->i[2], (int)nd->i[3]));
}

static tassl_tensor *softmax_op(tassl_tensor *x, int dim, int log_out, const char *name) {
    dim = tassl_op_axis(dim, x->ndim, name);
    x = tassl_contiguous(x);
    int64_t a, m, b;
    amb_dims(x, dim, &a, &m, &b);
    tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, x->shape); // x's shape
    if (a * m * b > 0) OP_CALL(y->ctx, KLOSS(y)->softmax(DEV(y), P(x), P(y), a, m, b, log_out));
    tassl_node *nd = tassl_op_record(y, name, softmax_backward, 1, &x);
    if (nd) {
        nd->i[0] = a;
        nd->i[1] = m;
        nd->i[2] = b;
        nd->i[3] = log_out;
    }
    return y;
}

tassl_tensor *tassl_softmax(tassl_tensor *x, int dim) {
    return softmax_op(x, dim, 0, "tassl_softmax");
}

tassl_tensor *tassl_log_softmax(tassl_tensor *x, int dim) {
    return softmax_op(x, dim, 1, "tassl_log_softmax");
}

/* ---- cross-entropy -------------------------------------------------------------------------- */

/* nd: in = {logits (N, C, S...), target (N, S...), weight (C) or NULL}; saved[0] = Σ wt (MEAN);
 * i = {N, C, S, ignore, red}; f = {ε}. */
static void ce_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *t = nd->in[1], *w = nd->in[2], *y = nd->out;
    tassl_tensor *dx = tassl_op_grad(x);
    if (!dx || nd->i[0] * nd->i[2] == 0) return;
    tassl_reduction red = (tassl_reduction)nd->i[4];
    OP_CALL(y->ctx, KLOSS(y)->ce_bwd(DEV(y), P(x), P(t), w ? P(w) : NO_PTR, P(y->grad),
                                     red == TASSL_REDUCE_NONE ? 1 : 0,
                                     red == TASSL_REDUCE_MEAN ? P(nd->saved[0]) : NO_PTR, P(dx),
                                     nd->i[0], nd->i[1], nd->i[2], nd->f[0], (int)nd->i[3]));
}

tassl_tensor *tassl_cross_entropy(tassl_tensor *logits, tassl_tensor *target, tassl_tensor *weight,
                                  float label_smoothing, int ignore_index, tassl_reduction red) {
    const char *op = "tassl_cross_entropy";
    reduction_check(red, op);
    char s1[64], s2[64];
    tassl_ctx *ctx = logits->ctx;
    TASSL_CHECK(logits->ndim >= 2, "%s: logits are %s, expected (N, C) or (N, C, S...)", op,
                tassl_shape_str(logits, s1, 64));
    bool tshape = target->ndim == logits->ndim - 1 && target->shape[0] == logits->shape[0];
    for (int i = 1; tshape && i < target->ndim; i++)
        tshape = target->shape[i] == logits->shape[i + 1];
    TASSL_CHECK(tshape, "%s: target is %s for logits %s, expected (N, S...)", op,
                tassl_shape_str(target, s1, 64), tassl_shape_str(logits, s2, 64));
    int64_t n = logits->shape[0], c = logits->shape[1], s = 1;
    for (int i = 2; i < logits->ndim; i++)
        s *= logits->shape[i];
    if (weight)
        TASSL_CHECK(weight->ndim == 1 && weight->shape[0] == c, "%s: weight is %s, expected (%lld)",
                    op, tassl_shape_str(weight, s1, 64), (long long)c);
    TASSL_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f,
                "%s: label_smoothing %g, expected in [0, 1]", op, (double)label_smoothing);
    TASSL_CHECK(!tassl_grad_enabled(ctx) ||
                    (!target->requires_grad && !(weight && weight->requires_grad)),
                "%s: no gradient flows to target or weight; detach them", op);

    tassl_tensor *x = tassl_contiguous(logits), *t = tassl_contiguous(target);
    tassl_tensor *w = weight ? tassl_contiguous(weight) : NULL;
    tassl_tensor *loss = tassl_op_out(ctx, t->ndim, t->shape); // (N, S...)
    tassl_tensor *wt = red == TASSL_REDUCE_MEAN ? tassl_op_out(ctx, t->ndim, t->shape) : NULL;
    if (n * s > 0)
        OP_CALL(ctx, KLOSS(x)->ce(DEV(x), P(x), P(t), w ? P(w) : NO_PTR, P(loss),
                                  wt ? P(wt) : NO_PTR, n, c, s, label_smoothing, ignore_index));
    tassl_tensor *y = loss, *den = NULL;
    if (red != TASSL_REDUCE_NONE) {
        y = tassl_op_out(ctx, 0, NULL);
        if (red == TASSL_REDUCE_SUM) {
            sum_into(loss, y, n * s, 1.0f);
        } else {
            // mean = Σ loss / Σ w_t over counted targets (PyTorch's weighted mean)
            tassl_tensor *lsum = tassl_op_out(ctx, 0, NULL);
            den = tassl_op_out(ctx, 0, NULL);
            sum_into(loss, lsum, n * s, 1.0f);
            sum_into(wt, den, n * s, 1.0f);
            tassl_kview va = tassl_op_view(lsum), vb = tassl_op_view(den);
            OP_CALL(ctx, KCORE(y)->binary(DEV(y), TASSL_BINARY_DIV, &va, &vb, P(y)));
        }
    }
    tassl_tensor *in[3] = {x, t, w};
    tassl_node *nd = tassl_op_record(y, "cross_entropy", ce_backward, 3, in);
    if (nd) {
        nd->saved[0] = den;
        nd->i[0] = n;
        nd->i[1] = c;
        nd->i[2] = s;
        nd->i[3] = ignore_index;
        nd->i[4] = red;
        nd->f[0] = label_smoothing;
    }
    return y;
}

/* ---- pointwise losses ----------------------------------------------------------------------- */

/* nd: in = {a, b, pos_weight or NULL}; i = {op, red}; f = {β}. */
static void pointwise_backward(tassl_node *nd) {
    tassl_tensor *a = nd->in[0], *b = nd->in[1], *pw = nd->in[2], *y = nd->out;
    int64_t n = tassl_numel(a);
    tassl_tensor *da = tassl_op_grad(a), *db = tassl_op_grad(b);
    tassl_tensor *dp = pw && pw->requires_grad ? tassl_zeros_like(a) : NULL; // a's shape
    if (n == 0 || (!da && !db && !dp)) return;
    tassl_reduction red = (tassl_reduction)nd->i[1];
    tassl_kview vp;
    if (pw) vp = tassl_op_view_bcast(pw, a->ndim, a->shape, nd->op);
    float scale = red == TASSL_REDUCE_MEAN ? 1.0f / (float)n : 1.0f;
    OP_CALL(y->ctx, KLOSS(y)->pointwise_bwd(
                        DEV(y), (tassl_loss_op)nd->i[0], P(a), P(b), pw ? &vp : NULL, P(y->grad),
                        red == TASSL_REDUCE_NONE ? 1 : 0, scale, da ? P(da) : NO_PTR,
                        db ? P(db) : NO_PTR, dp ? P(dp) : NO_PTR, n, nd->f[0]));
    if (dp) tassl_op_accum(pw, tassl_sum_to(dp, pw->ndim, pw->shape));
}

static tassl_tensor *pointwise_loss(tassl_loss_op lop, const char *op, tassl_tensor *a,
                                    tassl_tensor *b, tassl_tensor *pw, float beta,
                                    tassl_reduction red) {
    reduction_check(red, op);
    char s1[64], s2[64];
    TASSL_CHECK(tassl_same_shape(a, b), "%s: input is %s and target %s, expected equal shapes", op,
                tassl_shape_str(a, s1, 64), tassl_shape_str(b, s2, 64));
    tassl_ctx *ctx = a->ctx;
    a = tassl_contiguous(a);
    b = tassl_contiguous(b);
    int64_t n = tassl_numel(a);
    tassl_kview vp;
    if (pw) vp = tassl_op_view_bcast(pw, a->ndim, a->shape, op);
    tassl_tensor *per = tassl_op_out(ctx, a->ndim, a->shape); // a's shape
    if (n > 0)
        OP_CALL(ctx,
                KLOSS(a)->pointwise(DEV(a), lop, P(a), P(b), pw ? &vp : NULL, P(per), n, beta));
    tassl_tensor *y = per;
    if (red != TASSL_REDUCE_NONE) {
        y = tassl_op_out(ctx, 0, NULL);
        sum_into(per, y, n, red == TASSL_REDUCE_MEAN ? 1.0f / (float)n : 1.0f);
    }
    tassl_tensor *in[3] = {a, b, pw};
    tassl_node *nd = tassl_op_record(y, op, pointwise_backward, 3, in);
    if (nd) {
        nd->i[0] = lop;
        nd->i[1] = red;
        nd->f[0] = beta;
    }
    return y;
}

tassl_tensor *tassl_bce_with_logits(tassl_tensor *x, tassl_tensor *target, tassl_tensor *pos_weight,
                                    tassl_reduction red) {
    return pointwise_loss(TASSL_LOSS_BCE, "tassl_bce_with_logits", x, target, pos_weight, 0.0f,
                          red);
}

tassl_tensor *tassl_mse_loss(tassl_tensor *a, tassl_tensor *b, tassl_reduction red) {
    return pointwise_loss(TASSL_LOSS_MSE, "tassl_mse_loss", a, b, NULL, 0.0f, red);
}

tassl_tensor *tassl_l1_loss(tassl_tensor *a, tassl_tensor *b, tassl_reduction red) {
    return pointwise_loss(TASSL_LOSS_L1, "tassl_l1_loss", a, b, NULL, 0.0f, red);
}

tassl_tensor *tassl_smooth_l1_loss(tassl_tensor *a, tassl_tensor *b, float beta,
                                   tassl_reduction red) {
    TASSL_CHECK(beta >= 0.0f, "tassl_smooth_l1_loss: beta %g, expected >= 0", (double)beta);
    return pointwise_loss(TASSL_LOSS_SMOOTH_L1, "tassl_smooth_l1_loss", a, b, NULL, beta, red);
}
