/* ops/conv.c — convolution and transposed convolution (2D and 3D, stride, padding, dilation,
 * groups, optional bias), forward and backward, as im2col/col2im kernels around tassl_gemm.
 *
 * Both ops link an "image" side to a "matrix" side through a weight of shape
 * (Cmat, Cimg/groups, k...) (kern_conv.h): conv's image is its input, conv_transpose's image is
 * its output. Every pass is one of three products, done per chunk of the batch by conv_run():
 *   matrix ← W · im2col(image)            conv forward, conv_transpose data gradient
 *   image  ← col2im(Wᵀ · matrix)          conv_transpose forward, conv data gradient
 *   dW    += matrix · im2col(image)ᵀ       weight gradient of both
 * except that a stride-1 conv's data gradient runs as the first product over dy (conv_dgrad:
 * negated padding and dilation, channel-swapped weights), which avoids the col2im gather.
 * On devices with an implicit-GEMM convolution (gemm.h: tassl_conv_gemm; pocl CPUs) the first
 * and third products run as that instead, whole batch at once, with no column buffer and no
 * layout swaps (conv_run_implicit); only col2im passes take the chunked path there.
 * A chunk holds as many images as fit chunk_floats() of scratch (column buffer plus the
 * channel-major copy of the matrix side), so memory stays bounded for any batch, while small
 * images still get one GEMM per group for the whole chunk. An image too large for the budget on
 * its own (a 3D volume) is split further into ranges of whole output rows. Scratch lives in a
 * nested scope that ends with the call. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "op.h"
#include "../backend/kern_conv.h"

#define CONV_CHUNK_FLOATS ((int64_t)16 << 20) /* 64 MB of scratch per chunk */

/* Scratch budget per chunk, in floats. TASSL_CONV_CHUNK=<floats> overrides it so that tests can
 * split small batches into several chunks. */
static int64_t chunk_floats(void) {
    const char *e = getenv("TASSL_CONV_CHUNK");
    const long long v = e ? atoll(e) : 0;
    return v > 0 ? (int64_t)v : CONV_CHUNK_FLOATS;
}

typedef struct conv_plan {
    tassl_conv_geom g; /* image side: channels, in = image spatial, out = matrix spatial */
    int64_t n;         /* batch */
    int64_t groups;
    int64_t cmat;    /* matrix-side channels */
    int64_t K, L, S; /* kernel taps, matrix-side and image spatial sizes */
    int64_t nb;      /* images per chunk */
    int64_t lc;      /* matrix-side positions per chunk: L, or whole rows of one image (nb = 1) */
} conv_plan;

/* What conv_run computes; NULL members are skipped. Tensors contiguous. */
typedef struct conv_io {
    tassl_tensor *w;       /* (cmat, c/groups, k...) */
    tassl_tensor *img_in;  /* (n, c, in...): read through im2col */
    tassl_tensor *mat_in;  /* (n, cmat, out...): read channel-major */
    tassl_tensor *dw;      /* dw += mat_in · im2col(img_in)ᵀ */
    tassl_tensor *mat_out; /* mat_out (=|+=) W · im2col(img_in) [+ bias] */
    tassl_tensor *img_out; /* img_out (=|+=) col2im(Wᵀ · mat_in) [+ bias] */
    tassl_tensor *bias;    /* (channels of the output) or NULL */
    int accumulate;
} conv_io;

/* ---- geometry ------------------------------------------------------------------------------ */

/* Spatial parameters normalised to 3 dims (a 2D op gets D-dim defaults); NULL = defaults. */
typedef struct conv_args {
    int nsp;
    int stride[3], pad[3], dil[3], outpad[3];
} conv_args;

static conv_args conv_args_make(const char *op, int nsp, const int *stride, const int *pad,
                                const int *dil, const int *outpad) {
    conv_args a;
    a.nsp = nsp;
    for (int d = 0; d < 3; d++) {
        const int j = d - (3 - nsp); /* index into the caller's arrays, < 0 for 2D's D */
        a.stride[d] = j >= 0 && stride ? stride[j] : 1;
        a.pad[d] = j >= 0 && pad ? pad[j] : 0;
        a.dil[d] = j >= 0 && dil ? dil[j] : 1;
        a.outpad[d] = j >= 0 && outpad ? outpad[j] : 0;
        TASSL_CHECK(
            a.stride[d] >= 1 && a.pad[d] >= 0 && a.dil[d] >= 1 && a.outpad[d] >= 0,
            "%s: spatial dim %d has stride %d, pad %d, dil %d, outpad %d (need stride >= 1, "
            "pad >= 0, dil >= 1, outpad >= 0)",
            op, j, a.stride[d], a.pad[d], a.dil[d], a.outpad[d]);
    }
    return a;
}

/* Spatial size of a (ndim ≥ 3) tensor as 3 dims. */
static void spatial3(const tassl_tensor *t, int64_t *s) {
    const int nsp = t->ndim - 2;
    for (int d = 0; d < 3; d++)
        s[d] = d < 3 - nsp ? 1 : t->shape[2 + d - (3 - nsp)];
}

/* Chunking of a plan (nb, lc) from its geometry, channels and batch. */
static void conv_plan_chunks(conv_plan *pl) {
    /* scratch per image: column + channel-major matrix copy */
    const int64_t budget = chunk_floats(), per_image = (pl->g.c * pl->K + pl->cmat) * pl->L;
    pl->nb = per_image > 0 ? budget / per_image : pl->n;
    pl->lc = pl->L;
    if (pl->nb < 1) { /* one image is too big: ranges of output rows (no matrix copy needed) */
        const int64_t row = pl->g.out[2], rows = budget / (pl->g.c * pl->K * row);
        pl->nb = 1;
        pl->lc = rows < 1 ? row : rows * row < pl->L ? rows * row : pl->L;
    }
    if (pl->nb > pl->n) pl->nb = pl->n;
    TASSL_CHECK(pl->g.c * pl->K * pl->lc * pl->nb <= INT_MAX &&
                    pl->cmat * pl->L * pl->nb <= INT_MAX,
                "conv: one output row needs a column buffer of %lld floats (limit %d)",
                (long long)(pl->g.c * pl->K * pl->g.out[2]), INT_MAX);
}

/* Plan for image tensor shape (n, c, in...), matrix-side shape (n, cmat, out...), weight w. */
static conv_plan conv_plan_make(const tassl_tensor *img, const tassl_tensor *mat,
                                const tassl_tensor *w, const conv_args *a, int64_t groups) {
    conv_plan pl;
    pl.n = img->shape[0];
    pl.groups = groups;
    pl.cmat = mat->shape[1];
    pl.g.c = img->shape[1];
    spatial3(img, pl.g.in);
    spatial3(mat, pl.g.out);
    int64_t k[3];
    spatial3(w, k);
    for (int d = 0; d < 3; d++) {
        pl.g.k[d] = (int)k[d];
        pl.g.stride[d] = a->stride[d];
        pl.g.pad[d] = a->pad[d];
        pl.g.dil[d] = a->dil[d];
    }
    pl.K = k[0] * k[1] * k[2];
    pl.L = pl.g.out[0] * pl.g.out[1] * pl.g.out[2];
    pl.S = pl.g.in[0] * pl.g.in[1] * pl.g.in[2];
    conv_plan_chunks(&pl);
    return pl;
}

/* ---- the chunked driver -------------------------------------------------------------------- */

static tassl_ptr ptr_at(const tassl_tensor *t, int64_t off) {
    tassl_ptr p = P(t);
    p.off += off;
    return p;
}

/* C_g = op(A_g) · op(B_g) + beta · C_g for g < groups (row-major, strided between groups). */
static void gemm_groups(tassl_ctx *ctx, int64_t groups, int ta, int tb, int64_t m, int64_t n,
                        int64_t k, float beta, tassl_ptr a, int64_t lda, int64_t sa, tassl_ptr b,
                        int64_t ldb, int64_t sb, tassl_ptr c, int64_t ldc, int64_t sc) {
    const tassl_gemm_args args = {
        .trans_a = ta,
        .trans_b = tb,
        .m = m,
        .n = n,
        .k = k,
        .alpha = 1.0f,
        .beta = beta,
        .a = a,
        .b = b,
        .c = c,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .stride_a = sa,
        .stride_b = sb,
        .stride_c = sc,
        .batch = groups,
    };
    OP_CALL(ctx, tassl_gemm(ctx->dev, &args));
}

/* Whether the implicit kernels pay on this plan: the forward runs one GEMM per image with the
 * output positions as columns, so maps of fewer positions than CONV_IMPLICIT_MIN_L (ResNet's 4×4
 * and 2×2 stages at 64² input) leave most of each 16-column micro-tile empty, and the weight
 * gradient's gather cuts its 8-position vectors at every image; the chunked path folds the
 * whole batch into the GEMM's columns instead (its column buffer is small there). SimCLR step:
 * −12 % CPU time from the forward, a little more from the weight gradient.
 * TASSL_CONV_IMPLICIT_MIN_L=<positions> overrides the threshold. */
#define CONV_IMPLICIT_MIN_L 64
static int implicit_worth(const conv_plan *pl) {
    const char *e = getenv("TASSL_CONV_IMPLICIT_MIN_L");
    const long long v = e ? atoll(e) : CONV_IMPLICIT_MIN_L;
    return pl->L >= v || pl->nb < pl->n;
}

/* The passes of io that an implicit GEMM can do (mat_out, dw) on devices that have one
 * (gemm.h: tassl_conv_gemm), whole batch at once; each pass done is cleared from *rest, which
 * keeps what the chunked im2col path must still do (img_out, the col2im pass of a strided data
 * gradient, and a pass whose sizes the implicit kernels cannot index). */
static void conv_run_implicit(tassl_ctx *ctx, const conv_plan *pl, const conv_io *io,
                              conv_io *rest) {
    *rest = *io;
    if (!tassl_conv_gemm_available(ctx->dev)) return;
    tassl_conv_gemm_args a = {.g = &pl->g, .n = pl->n, .groups = pl->groups, .cmat = pl->cmat};
    if (io->mat_out && implicit_worth(pl)) {
        a.wgrad = 0;
        a.img = P(io->img_in);
        a.mat = P(io->mat_out);
        a.w = P(io->w);
        a.has_bias = io->bias != NULL;
        a.bias = io->bias ? P(io->bias) : a.mat;
        a.accumulate = io->accumulate;
        const tassl_status s = tassl_conv_gemm(ctx->dev, &a);
        if (s != TASSL_ERR_UNSUPPORTED) {
            OP_CALL(ctx, s);
            rest->mat_out = NULL;
        }
    }
    if (io->dw && ctx->status == TASSL_OK && implicit_worth(pl)) {
        a.wgrad = 1;
        a.img = P(io->img_in);
        a.mat = P(io->mat_in);
        a.w = P(io->dw);
        a.has_bias = 0;
        a.bias = a.w;
        a.accumulate = 1;
        const tassl_status s = tassl_conv_gemm(ctx->dev, &a);
        if (s != TASSL_ERR_UNSUPPORTED) {
            OP_CALL(ctx, s);
            rest->dw = NULL;
            if (!rest->mat_out) rest->img_in = NULL; /* no im2col left to do */
        }
    }
}

static void conv_run(tassl_ctx *ctx, const conv_plan *pl, const conv_io *io_all) {
    TASSL_CHECK(!(io_all->mat_out && io_all->img_out), "conv_run: one output side per pass");
    if (ctx->status != TASSL_OK || pl->n == 0) return;
    conv_io rest;
    conv_run_implicit(ctx, pl, io_all, &rest);
    const conv_io *io = &rest;
    if (ctx->status != TASSL_OK || (!io->mat_out && !io->img_out && !io->dw)) return;
    tassl_device *dev = ctx->dev;
    const tassl_kern_conv *kc = dev->be->conv;
    const int64_t G = pl->groups, K = pl->K, L = pl->L;
    const int64_t cg = pl->g.c / G, mg = pl->cmat / G, cgk = cg * K; /* per group */
    const int has_bias = io->bias != NULL;
    const tassl_ptr wp = P(io->w); // (cmat, cg·K): group g = rows g·mg...
    const tassl_ptr bp = has_bias ? P(io->bias) : wp;

    tassl_scope_begin(ctx);
    tassl_tensor *col =
        tassl_empty(ctx, TASSL_SHAPE(pl->g.c * K * pl->nb * pl->lc)); // (c·K, nb·lc)
    tassl_tensor *tcn = pl->nb > 1 ? tassl_empty(ctx, TASSL_SHAPE(pl->cmat * pl->nb * L)) : NULL;
    const tassl_ptr colp = P(col);
    for (int64_t n0 = 0; n0 < pl->n && ctx->status == TASSL_OK; n0 += pl->nb) {
        const int64_t nb = pl->n - n0 < pl->nb ? pl->n - n0 : pl->nb;
        /* One image: the matrix side (1, cmat, L) is already channel-major, so GEMMs read and
         * write it in place (row pitch L); several: through the (cmat, nb, L) copy tcn. */
        const int direct = nb == 1;
        const int64_t img_off = n0 * pl->g.c * pl->S, mat_off = n0 * pl->cmat * L;
        const int64_t tld = direct ? L : nb * L; /* row pitch of T, the matrix side */
        /* T read (mat_in: dW, image output) and T written (mat_out), at l0 = 0 */
        tassl_ptr tin0 = direct ? colp : P(tcn), tout0 = tin0;
        if (io->mat_in) {
            if (direct)
                tin0 = ptr_at(io->mat_in, mat_off);
            else
                OP_CALL(ctx, kc->to_cnl(dev, ptr_at(io->mat_in, mat_off), tin0, nb, pl->cmat, L));
        }
        if (direct && io->mat_out) tout0 = ptr_at(io->mat_out, mat_off);
        for (int64_t l0 = 0; l0 < L && ctx->status == TASSL_OK; l0 += pl->lc) {
            const int64_t lc = L - l0 < pl->lc ? L - l0 : pl->lc, NL = nb * lc;
            tassl_ptr tin = tin0, tout = tout0; // (cmat, nb·lc) with row pitch tld
            tin.off += l0;
            tout.off += l0;
            if (io->img_in)
                OP_CALL(ctx,
                        kc->im2col(dev, &pl->g, ptr_at(io->img_in, img_off), nb, l0, lc, colp));
            if (io->dw) /* dW_g (mg, cg·K) += T_g (mg, NL) · col_gᵀ */
                gemm_groups(ctx, G, 0, 1, mg, cgk, NL, 1.0f, tin, tld, mg * tld, colp, NL, cgk * NL,
                            P(io->dw), cgk, mg * cgk);
            if (io->mat_out) /* T_g (mg, NL) = W_g (mg, cg·K) · col_g */
                gemm_groups(ctx, G, 0, 0, mg, NL, cgk, direct && io->accumulate ? 1.0f : 0.0f, wp,
                            cgk, mg * cgk, colp, NL, cgk * NL, tout, tld, mg * tld);
            if (io->img_out) { /* col_g (cg·K, NL) = W_gᵀ · T_g, then the gather */
                gemm_groups(ctx, G, 1, 0, cgk, NL, mg, 0.0f, wp, cgk, mg * cgk, tin, tld, mg * tld,
                            colp, NL, cgk * NL);
                /* the first range writes (or accumulates) and adds the bias; the rest add */
                OP_CALL(ctx, kc->col2im(dev, &pl->g, colp, nb, l0, lc, ptr_at(io->img_out, img_off),
                                        has_bias && l0 == 0, bp, l0 > 0 || io->accumulate));
            }
        }
        if (io->mat_out) {
            const tassl_ptr dst = ptr_at(io->mat_out, mat_off);
            if (!direct)
                OP_CALL(ctx, kc->from_cnl(dev, tout0, dst, nb, pl->cmat, L, has_bias, bp,
                                          io->accumulate));
            else if (has_bias) /* in place, elementwise */
                OP_CALL(ctx, kc->from_cnl(dev, dst, dst, 1, pl->cmat, L, 1, bp, 0));
        }
    }
    tassl_scope_end(ctx);
}

/* ---- shape checks -------------------------------------------------------------------------- */

static void check_inputs(const char *op, const tassl_tensor *x, const tassl_tensor *w,
                         const tassl_tensor *bias, int groups) {
    char sx[64], sw[64];
    tassl_shape_str(x, sx, sizeof sx);
    tassl_shape_str(w, sw, sizeof sw);
    TASSL_CHECK(x->ndim == 4 || x->ndim == 5,
                "%s: x is %s, expected (N, C, H, W) or (N, C, D, H, W)", op, sx);
    TASSL_CHECK(w->ndim == x->ndim, "%s: w is %s, expected %d dims like x %s", op, sw, x->ndim, sx);
    TASSL_CHECK(w->ctx == x->ctx && (!bias || bias->ctx == x->ctx),
                "%s: x, w and bias belong to different contexts", op);
    TASSL_CHECK(groups >= 1, "%s: groups = %d, expected >= 1", op, groups);
    for (int d = 0; d < x->ndim; d++)
        TASSL_CHECK((d == 0 || x->shape[d] >= 1) && w->shape[d] >= 1,
                    "%s: x %s and w %s need nonzero channel and spatial dims", op, sx, sw);
}

/* ---- conv ---------------------------------------------------------------------------------- */

static conv_args node_args(const tassl_node *nd) {
    conv_args a;
    a.nsp = (int)nd->i[0];
    for (int d = 0; d < 3; d++) {
        a.stride[d] = (int)nd->i[1 + d];
        a.pad[d] = (int)nd->i[4 + d];
        a.dil[d] = (int)nd->i[7 + d];
        a.outpad[d] = (int)nd->i[11 + d];
    }
    return a;
}

static void node_store(tassl_node *nd, const conv_args *a, int groups) {
    nd->i[0] = a->nsp;
    for (int d = 0; d < 3; d++) {
        nd->i[1 + d] = a->stride[d];
        nd->i[4 + d] = a->pad[d];
        nd->i[7 + d] = a->dil[d];
        nd->i[11 + d] = a->outpad[d];
    }
    nd->i[10] = groups;
}

/* Data gradient of a stride-1 conv as a forward pass (im2col + one GEMM per chunk) instead of
 * Wᵀ·dY into a column buffer and a col2im gather, which costs several times the forward here.
 * With stride 1, dx[i] = Σ_kk Wᵀ[kk] · dy[i + pad − kk·dil]: an im2col of dy with padding −pad
 * and dilation −dil (the kernel flip folded into the negative dilation; the im2col kernels take
 * signed geometry) times the weights with the channel dims swapped per group,
 * w (G·mg, cg, K) → (G·cg, mg, K). TASSL_CONV_DGRAD=col2im forces the old path, so tests cover
 * both. */
static int dgrad_as_conv(const conv_plan *pl) {
    const char *e = getenv("TASSL_CONV_DGRAD");
    if (e && strcmp(e, "col2im") == 0) return 0;
    for (int d = 0; d < 3; d++)
        if (pl->g.stride[d] != 1) return 0;
    return 1;
}

/* dx += conv(dy, swapped w) as above; pl is the plan of the conv (image x, matrix dy). */
static void conv_dgrad(tassl_ctx *ctx, const conv_plan *pl, tassl_tensor *dy, tassl_tensor *w,
                       tassl_tensor *dx) {
    tassl_scope_begin(ctx);
    const int64_t G = pl->groups, mg = pl->cmat / G, cg = pl->g.c / G;
    const int64_t s4[4] = {G, mg, cg, pl->K};
    tassl_tensor *wt = tassl_contiguous(tassl_transpose(tassl_reshape(w, 4, s4), 1, 2));
    conv_plan dp = *pl; /* image dy (n, cmat, out...), matrix dx (n, c, in...) */
    dp.g.c = pl->cmat;
    dp.cmat = pl->g.c;
    for (int d = 0; d < 3; d++) {
        dp.g.in[d] = pl->g.out[d];
        dp.g.out[d] = pl->g.in[d];
        dp.g.pad[d] = -pl->g.pad[d];
        dp.g.dil[d] = -pl->g.dil[d];
    }
    dp.L = pl->S;
    dp.S = pl->L;
    conv_plan_chunks(&dp);
    if (ctx->status == TASSL_OK) {
        const conv_io io = {.w = wt, .img_in = dy, .mat_out = dx, .accumulate = 1};
        conv_run(ctx, &dp, &io);
    }
    tassl_scope_end(ctx);
}

static void conv_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->nin > 2 ? nd->in[2] : NULL;
    if (!nd->out->grad) return;
    tassl_tensor *dy = tassl_contiguous(nd->out->grad); // (N, Cout, out...)
    tassl_tensor *dx = tassl_op_grad(x), *dw = tassl_op_grad(w);
    tassl_tensor *db = b ? tassl_op_grad(b) : NULL;
    const conv_args a = node_args(nd);
    const conv_plan pl = conv_plan_make(x, dy, w, &a, nd->i[10]);
    tassl_ctx *ctx = x->ctx;
    if (db && pl.n > 0)
        OP_CALL(ctx, DEV(x)->be->conv->bias_grad(DEV(x), P(dy), P(db), pl.n, pl.cmat, pl.L));
    const int dx_as_conv = dx && dgrad_as_conv(&pl);
    if (dx_as_conv) conv_dgrad(ctx, &pl, dy, w, dx);
    if ((dx && !dx_as_conv) || dw) {
        const conv_io io = {.w = w,
                            .img_in = dw ? x : NULL,
                            .mat_in = dy,
                            .dw = dw,
                            .img_out = dx_as_conv ? NULL : dx,
                            .accumulate = 1};
        conv_run(ctx, &pl, &io);
    }
}

tassl_tensor *tassl_conv(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias, const int *stride,
                         const int *pad, const int *dil, int groups) {
    static const char op[] = "tassl_conv";
    check_inputs(op, x, w, bias, groups);
    const conv_args a = conv_args_make(op, x->ndim - 2, stride, pad, dil, NULL);
    char sx[64], sw[64];
    tassl_shape_str(x, sx, sizeof sx);
    tassl_shape_str(w, sw, sizeof sw);
    const int64_t cout = w->shape[0];
    TASSL_CHECK(x->shape[1] % groups == 0 && w->shape[1] * groups == x->shape[1] &&
                    cout % groups == 0,
                "%s: x %s, w %s, groups %d: expected w (Cout, C/groups, k...) with C and Cout "
                "divisible by groups",
                op, sx, sw, groups);
    if (bias) {
        char sb[64];
        TASSL_CHECK(bias->ndim == 1 && bias->shape[0] == cout, "%s: bias is %s, expected (%lld)",
                    op, tassl_shape_str(bias, sb, sizeof sb), (long long)cout);
    }
    int64_t shape[TASSL_MAX_DIMS] = {x->shape[0], cout};
    for (int j = 0; j < a.nsp; j++) {
        const int d = j + 3 - a.nsp;
        const int64_t span = (int64_t)a.dil[d] * (w->shape[2 + j] - 1) + 1;
        const int64_t padded = x->shape[2 + j] + 2 * (int64_t)a.pad[d];
        TASSL_CHECK(padded >= span,
                    "%s: x %s, w %s: spatial dim %d is %lld with padding, smaller than the "
                    "dilated kernel (%lld)",
                    op, sx, sw, j, (long long)padded, (long long)span);
        shape[2 + j] = (padded - span) / a.stride[d] + 1;
    }
    x = tassl_contiguous(x);
    w = tassl_contiguous(w);
    if (bias) bias = tassl_contiguous(bias);
    tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, shape); // (N, Cout, out...)
    if (x->ctx->status == TASSL_OK) {
        const conv_plan pl = conv_plan_make(x, y, w, &a, groups);
        const conv_io io = {.w = w, .img_in = x, .mat_out = y, .bias = bias};
        conv_run(x->ctx, &pl, &io);
    }
    tassl_tensor *in[3] = {x, w, bias};
    tassl_node *nd = tassl_op_record(y, "conv", conv_backward, bias ? 3 : 2, in);
    if (nd) node_store(nd, &a, groups);
    if (nd) nd->unread = TASSL_UNREAD_OUT | TASSL_UNREAD_IN(2); /* needs x and w only */
    return y;
}

/* ---- conv_transpose ------------------------------------------------------------------------ */

static void conv_transpose_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->nin > 2 ? nd->in[2] : NULL;
    if (!nd->out->grad) return;
    tassl_tensor *dy = tassl_contiguous(nd->out->grad); // (N, Cout, out...)
    tassl_tensor *dx = tassl_op_grad(x), *dw = tassl_op_grad(w);
    tassl_tensor *db = b ? tassl_op_grad(b) : NULL;
    const conv_args a = node_args(nd);
    const conv_plan pl = conv_plan_make(dy, x, w, &a, nd->i[10]);
    tassl_ctx *ctx = x->ctx;
    if (db && pl.n > 0)
        OP_CALL(ctx, DEV(x)->be->conv->bias_grad(DEV(x), P(dy), P(db), pl.n, pl.g.c, pl.S));
    if (dx || dw) {
        const conv_io io = {.w = w,
                            .img_in = dy,
                            .mat_in = dw ? x : NULL,
                            .dw = dw,
                            .mat_out = dx,
                            .accumulate = 1};
        conv_run(ctx, &pl, &io);
    }
}

tassl_tensor *tassl_conv_transpose(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias,
                                   const int *stride, const int *pad, const int *outpad,
                                   const int *dil, int groups) {
    static const char op[] = "tassl_conv_transpose";
    check_inputs(op, x, w, bias, groups);
    const conv_args a = conv_args_make(op, x->ndim - 2, stride, pad, dil, outpad);
    char sx[64], sw[64];
    tassl_shape_str(x, sx, sizeof sx);
    tassl_shape_str(w, sw, sizeof sw);
    const int64_t cout = w->shape[1] * groups;
    TASSL_CHECK(x->shape[1] % groups == 0 && w->shape[0] == x->shape[1],
                "%s: x %s, w %s, groups %d: expected w (C, Cout/groups, k...) with C divisible "
                "by groups",
                op, sx, sw, groups);
    if (bias) {
        char sb[64];
        TASSL_CHECK(bias->ndim == 1 && bias->shape[0] == cout, "%s: bias is %s, expected (%lld)",
                    op, tassl_shape_str(bias, sb, sizeof sb), (long long)cout);
    }
    int64_t shape[TASSL_MAX_DIMS] = {x->shape[0], cout};
    for (int j = 0; j < a.nsp; j++) {
        const int d = j + 3 - a.nsp;
        TASSL_CHECK(a.outpad[d] < a.stride[d] || a.outpad[d] < a.dil[d],
                    "%s: outpad %d must be smaller than stride %d or dilation %d (dim %d)", op,
                    a.outpad[d], a.stride[d], a.dil[d], j);
        shape[2 + j] = (x->shape[2 + j] - 1) * a.stride[d] - 2 * (int64_t)a.pad[d] +
                       (int64_t)a.dil[d] * (w->shape[2 + j] - 1) + a.outpad[d] + 1;
        TASSL_CHECK(shape[2 + j] >= 1, "%s: x %s, w %s: output spatial dim %d would be %lld", op,
                    sx, sw, j, (long long)shape[2 + j]);
    }
    x = tassl_contiguous(x);
    w = tassl_contiguous(w);
    if (bias) bias = tassl_contiguous(bias);
    tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, shape); // (N, Cout, out...)
    if (x->ctx->status == TASSL_OK) {
        const conv_plan pl = conv_plan_make(y, x, w, &a, groups);
        const conv_io io = {.w = w, .mat_in = x, .img_out = y, .bias = bias};
        conv_run(x->ctx, &pl, &io);
    }
    tassl_tensor *in[3] = {x, w, bias};
    tassl_node *nd =
        tassl_op_record(y, "conv_transpose", conv_transpose_backward, bias ? 3 : 2, in);
    if (nd) node_store(nd, &a, groups);
    if (nd) nd->unread = TASSL_UNREAD_OUT | TASSL_UNREAD_IN(2); /* needs x and w only */
    return y;
}
