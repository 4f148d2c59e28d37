/* kern_loss.h — the loss kernel family: softmax / log-softmax, fused cross-entropy and the
 * pointwise losses (BCE with logits, MSE, L1, smooth L1). Reference: src/backend/ref/loss.c;
 * OpenCL: src/backend/opencl/loss.c + cl/loss.cl.
 *
 * Shapes. Softmax runs over the middle dim M of a contiguous (A, M, B) view of x: any dim of any
 * tensor maps to that (A = product of the dims before it, B = product of the dims after it).
 * Cross-entropy sees logits as a contiguous (N, C, S) view (S = product of spatial dims, 1 for
 * (N, C) logits) and targets as (N, S), class indices stored as floats.
 *
 * Backward entries ACCUMULATE (+=) into their gradient outputs, like every backward kernel. A
 * tassl_ptr whose buf is NULL means "absent" (no weight, gradient not wanted). Upstream
 * gradients come as a pointer plus a stride (1: one value per element, reduction NONE; 0: one
 * scalar for all, reductions MEAN/SUM) so no broadcast tensor is ever materialised.
 */
#ifndef TASSL_KERN_LOSS_H
#define TASSL_KERN_LOSS_H

#include "backend.h"

/* Pointwise losses l(a, b) of two tensors of one shape (a = prediction, b = target). */
typedef enum tassl_loss_op {
    TASSL_LOSS_MSE,       /* (a − b)² */
    TASSL_LOSS_L1,        /* |a − b| */
    TASSL_LOSS_SMOOTH_L1, /* |d| < β ? ½d²/β : |d| − ½β, d = a − b; β = 0 is L1 */
    TASSL_LOSS_BCE,       /* a = logits x, b = target t, pos_weight p (1 if absent):
                           * (1 − t)·x + (1 + (p − 1)·t)·(log(1 + e^−|x|) + max(−x, 0)) */
    TASSL_LOSS_COUNT
} tassl_loss_op;

typedef struct tassl_kern_loss {
    /* y = softmax(x) (or log_softmax when log) over M of contiguous x, y (A, M, B); max-subtracted
     * so large logits stay finite. */
    tassl_status (*softmax)(tassl_device *dev, tassl_ptr x, tassl_ptr y, int64_t a, int64_t m,
                            int64_t b, int log);
    /* dx += dL/dx given y = the forward output, dy = dL/dy, all (A, M, B):
     *   softmax:     dx += y·(dy − Σ_m dy·y)
     *   log_softmax: dx += dy − exp(y)·Σ_m dy */
    tassl_status (*softmax_bwd)(tassl_device *dev, tassl_ptr y, tassl_ptr dy, tassl_ptr dx,
                                int64_t a, int64_t m, int64_t b, int log);

    /* Cross-entropy, one work-item per (n, s) row over the class dim, with label smoothing ε
     * as PyTorch: with logp = log_softmax(logits[n, :, s]), t = target[n, s], w = weight (or 1),
     *   loss[n, s] = (1 − ε)·w_t·(−logp_t) + (ε/C)·(−Σ_c w_c·logp_c),   0 where t == ignore
     *   wt[n, s]   = w_t (0 where t == ignore): the mean's denominator is Σ wt.
     * logits (N, C, S), target (N, S), weight (C) or absent, loss (N, S), wt (N, S) or absent.
     * A target outside [0, C) that is not `ignore` gives a NaN loss (no device-side abort). */
    tassl_status (*ce)(tassl_device *dev, tassl_ptr logits, tassl_ptr target, tassl_ptr weight,
                       tassl_ptr loss, tassl_ptr wt, int64_t n, int64_t c, int64_t s, float eps,
                       int ignore);
    /* dlogits[n, :, s] += g·((1 − ε)·w_t·(p − onehot_t) + (ε/C)·(p·Σ_c w_c − w)), p = softmax,
     * with g = dy[(n·S + s)·dy_stride] / (den ? den[0] : 1); nothing where t == ignore.
     * dy (N, S) or (1) with dy_stride 0; den (1) or absent; dx (N, C, S). */
    tassl_status (*ce_bwd)(tassl_device *dev, tassl_ptr logits, tassl_ptr target, tassl_ptr weight,
                           tassl_ptr dy, int dy_stride, tassl_ptr den, tassl_ptr dx, int64_t n,
                           int64_t c, int64_t s, float eps, int ignore);

    /* y[i] = l(a[i], b[i]), i < n; a, b, y contiguous of one shape; pw = BCE pos_weight as a
     * view broadcast to that shape (NULL or buf NULL: absent, also for the other losses). */
    tassl_status (*pointwise)(tassl_device *dev, tassl_loss_op op, tassl_ptr a, tassl_ptr b,
                              const tassl_kview *pw, tassl_ptr y, int64_t n, float beta);
    /* With g = scale·dy[i·dy_stride]: da[i] += g·∂l/∂a, db[i] += g·∂l/∂b, dpw[i] += g·∂l/∂p
     * (dpw contiguous of a's shape; the op sums it back to pos_weight's shape). Any of da, db,
     * dpw may be absent. */
    tassl_status (*pointwise_bwd)(tassl_device *dev, tassl_loss_op op, tassl_ptr a, tassl_ptr b,
                                  const tassl_kview *pw, tassl_ptr dy, int dy_stride, float scale,
                                  tassl_ptr da, tassl_ptr db, tassl_ptr dpw, int64_t n, float beta);
} tassl_kern_loss;

extern const tassl_kern_loss tassl_ref_kern_loss;
extern const tassl_kern_loss tassl_cl_kern_loss;

#endif
