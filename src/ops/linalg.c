/* linalg.c — matmul (batched, with transposes) and linear layers on the GEMM entry point.
 * Backward passes accumulate straight into the gradients with beta = 1: no temporaries. */
#include "op.h"

/* Matrix operand as stored: ptr, rows × cols of the stored matrix, batch stride (0 = shared). */
typedef struct mat {
    tassl_ptr p;
    int64_t rows, cols, bstride;
} mat;

static mat mat_of(const tassl_tensor *t) {
    mat m = {P(t), t->shape[t->ndim - 2], t->shape[t->ndim - 1], 0};
    if (t->ndim == 3) m.bstride = m.rows * m.cols;
    return m;
}

/* C (+)= op(A)·op(B) over `batch`; C's batch stride must be nonzero unless batch == 1.
 * When C is shared across the batch (cbstride 0) the batches run one at a time with beta 1. */
static void gemm(tassl_ctx *ctx, int ta, mat A, int tb, mat B, tassl_ptr C, int64_t ldc,
                 int64_t cbstride, int64_t batch, float beta) {
    tassl_gemm_args g = {0};
    g.trans_a = ta;
    g.trans_b = tb;
    g.m = ta ? A.cols : A.rows;
    g.k = ta ? A.rows : A.cols;
    g.n = tb ? B.rows : B.cols;
    g.alpha = 1.0f;
    g.beta = beta;
    g.a = A.p;
    g.b = B.p;
    g.c = C;
    g.lda = A.cols;
    g.ldb = B.cols;
    g.ldc = ldc;
    g.stride_a = A.bstride;
    g.stride_b = B.bstride;
    g.stride_c = cbstride;
    g.batch = batch;
    if (batch > 1 && cbstride == 0) {
        g.batch = 1;
        for (int64_t b = 0; b < batch; b++) {
            g.a.off = A.p.off + b * A.bstride;
            g.b.off = B.p.off + b * B.bstride;
            OP_CALL(ctx, tassl_gemm(ctx->dev, &g));
        }
        return;
    }
    OP_CALL(ctx, tassl_gemm(ctx->dev, &g));
}

static void matmul_backward(tassl_node *nd) {
    tassl_tensor *a = nd->in[0], *b = nd->in[1], *c = nd->out;
    int ta = (int)nd->i[0], tb = (int)nd->i[1];
    int64_t batch = nd->i[2];
    tassl_ctx *ctx = c->ctx;
    mat A = mat_of(a), B = mat_of(b), dC = mat_of(c->grad);
    tassl_tensor *da = tassl_op_grad(a), *db = tassl_op_grad(b);
    if (da) {
        int64_t dbs = a->ndim == 3 ? A.rows * A.cols : 0;
        if (!ta) /* dA (M,K) = dC · op(B)ᵀ */
            gemm(ctx, 0, dC, !tb, B, P(da), A.cols, dbs, batch, 1.0f);
        else /* A stored (K,M): dA = op(B) · dCᵀ */
            gemm(ctx, tb, B, 1, dC, P(da), A.cols, dbs, batch, 1.0f);
    }
    if (db) {
        int64_t dbs = b->ndim == 3 ? B.rows * B.cols : 0;
        if (!tb) /* dB (K,N) = op(A)ᵀ · dC */
            gemm(ctx, !ta, A, 0, dC, P(db), B.cols, dbs, batch, 1.0f);
        else /* B stored (N,K): dB = dCᵀ · op(A) */
            gemm(ctx, 1, dC, ta, A, P(db), B.cols, dbs, batch, 1.0f);
    }
}

tassl_tensor *tassl_matmul_t(tassl_tensor *a, bool ta, tassl_tensor *b, bool tb) {
    char sa[64], sb[64];
    TASSL_CHECK((a->ndim == 2 || a->ndim == 3) && (b->ndim == 2 || b->ndim == 3),
                "tassl_matmul: a %s, b %s: expected 2 or 3 dims", tassl_shape_str(a, sa, 64),
                tassl_shape_str(b, sb, 64));
    /* (B, M, K) @ (K, N) is one (B·M, K) @ (K, N) product */
    if (a->ndim == 3 && b->ndim == 2 && !ta) {
        int64_t B = a->shape[0], M = a->shape[1];
        tassl_tensor *a2 = tassl_reshape(a, TASSL_SHAPE(B * M, a->shape[2]));
        tassl_tensor *c2 = tassl_matmul_t(a2, false, b, tb);
        return tassl_reshape(c2, TASSL_SHAPE(B, M, c2->shape[1]));
    }
    a = tassl_contiguous(a);
    b = tassl_contiguous(b);
    mat A = mat_of(a), B = mat_of(b);
    int64_t M = ta ? A.cols : A.rows, K = ta ? A.rows : A.cols;
    int64_t Kb = tb ? B.cols : B.rows, N = tb ? B.rows : B.cols;
    int64_t ba = a->ndim == 3 ? a->shape[0] : 0, bb = b->ndim == 3 ? b->shape[0] : 0;
    TASSL_CHECK(K == Kb && (!ba || !bb || ba == bb),
                "tassl_matmul: a %s%s, b %s%s: inner dims or batches differ",
                tassl_shape_str(a, sa, 64), ta ? "ᵀ" : "", tassl_shape_str(b, sb, 64),
                tb ? "ᵀ" : "");
    int64_t batch = ba ? ba : (bb ? bb : 1);
    tassl_tensor *c = (ba || bb) ? tassl_op_out(a->ctx, TASSL_SHAPE(batch, M, N))
                                 : tassl_op_out(a->ctx, TASSL_SHAPE(M, N));
    if (c->buf && a->buf && b->buf && M * N > 0) {
        if (K == 0) tassl_fill_(c, 0.0f);
        else gemm(a->ctx, ta, A, tb, B, P(c), N, M * N, batch, 0.0f);
    }
    tassl_tensor *in[2] = {a, b};
    tassl_node *nd = tassl_op_record(c, "matmul", matmul_backward, 2, in);
    if (nd) {
        nd->i[0] = ta;
        nd->i[1] = tb;
        nd->i[2] = batch;
    }
    return c;
}

tassl_tensor *tassl_matmul(tassl_tensor *a, tassl_tensor *b) {
    return tassl_matmul_t(a, false, b, false);
}

tassl_tensor *tassl_linear(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias) {
    char sx[64], sw[64];
    TASSL_CHECK(w->ndim == 2 && x->ndim >= 1 && x->shape[x->ndim - 1] == w->shape[1],
                "tassl_linear: x %s, w %s: expected x (..., in) and w (out, in)",
                tassl_shape_str(x, sx, 64), tassl_shape_str(w, sw, 64));
    int64_t in = w->shape[1], out = w->shape[0];
    int64_t lead[TASSL_MAX_DIMS];
    int nl = x->ndim - 1;
    for (int i = 0; i < nl; i++) lead[i] = x->shape[i];
    tassl_tensor *x2 = x->ndim == 2 ? x : tassl_reshape(x, TASSL_SHAPE(-1, in));
    tassl_tensor *y = tassl_matmul_t(x2, false, w, true);
    if (bias) {
        TASSL_CHECK(bias->ndim == 1 && bias->shape[0] == out,
                    "tassl_linear: bias %s, expected (%lld)", tassl_shape_str(bias, sx, 64),
                    (long long)out);
        y = tassl_add(y, bias);
    }
    if (x->ndim != 2) {
        lead[nl] = out;
        y = tassl_reshape(y, nl + 1, lead);
    }
    return y;
}
