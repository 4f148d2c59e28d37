/* ops.h — differentiable operations on tensors.
 *
 * Every op: takes tensors of one context, returns a new tensor allocated in the current scope,
 * records a tape node when gradients are wanted, and works on both backends (OpenCL kernels and
 * the C reference). Shapes are written (N, C, ...) with S = spatial dims (H, W) or (D, H, W).
 * A shape mismatch is a programmer error and aborts with a message naming the op and shapes.
 */
#ifndef TASSL_OPS_H
#define TASSL_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_reduction {
    TASSL_REDUCE_MEAN = 0,
    TASSL_REDUCE_SUM = 1,
    TASSL_REDUCE_NONE = 2,
} tassl_reduction;

/* ---- views and layout (share storage where possible) ---------------------------------------- */
tassl_tensor *tassl_reshape(tassl_tensor *x, int ndim, const int64_t *shape); /* one dim may be -1 */
tassl_tensor *tassl_flatten(tassl_tensor *x, int start_dim);  /* (N, C, H, W), 1 → (N, C*H*W) */
tassl_tensor *tassl_permute(tassl_tensor *x, const int *perm);
tassl_tensor *tassl_transpose(tassl_tensor *x, int d0, int d1);
tassl_tensor *tassl_slice(tassl_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
tassl_tensor *tassl_expand(tassl_tensor *x, int ndim, const int64_t *shape); /* broadcast view */
tassl_tensor *tassl_contiguous(tassl_tensor *x);          /* x itself if already contiguous */
tassl_tensor *tassl_concat(int n, tassl_tensor *const *xs, int dim);

/* ---- elementwise, unary --------------------------------------------------------------------- */
tassl_tensor *tassl_relu(tassl_tensor *x);
tassl_tensor *tassl_leaky_relu(tassl_tensor *x, float slope);
tassl_tensor *tassl_gelu(tassl_tensor *x);                 /* exact: x·Φ(x) */
tassl_tensor *tassl_sigmoid(tassl_tensor *x);
tassl_tensor *tassl_tanh(tassl_tensor *x);
tassl_tensor *tassl_exp(tassl_tensor *x);
tassl_tensor *tassl_log(tassl_tensor *x);
tassl_tensor *tassl_sqrt(tassl_tensor *x);
tassl_tensor *tassl_abs(tassl_tensor *x);
tassl_tensor *tassl_neg(tassl_tensor *x);
tassl_tensor *tassl_pow_scalar(tassl_tensor *x, float p);
tassl_tensor *tassl_clamp(tassl_tensor *x, float lo, float hi); /* ±INFINITY for one side */
tassl_tensor *tassl_scale(tassl_tensor *x, float a);             /* a·x */
tassl_tensor *tassl_add_scalar(tassl_tensor *x, float b);        /* x + b */

/* ---- elementwise, binary with NumPy broadcasting -------------------------------------------- */
tassl_tensor *tassl_add(tassl_tensor *a, tassl_tensor *b);
tassl_tensor *tassl_sub(tassl_tensor *a, tassl_tensor *b);
tassl_tensor *tassl_mul(tassl_tensor *a, tassl_tensor *b);
tassl_tensor *tassl_div(tassl_tensor *a, tassl_tensor *b);
tassl_tensor *tassl_maximum(tassl_tensor *a, tassl_tensor *b);
tassl_tensor *tassl_minimum(tassl_tensor *a, tassl_tensor *b);

/* ---- reductions (axes may be negative; keepdim keeps reduced axes as size 1) ----------------- */
tassl_tensor *tassl_sum(tassl_tensor *x, int naxes, const int *axes, bool keepdim);
tassl_tensor *tassl_mean(tassl_tensor *x, int naxes, const int *axes, bool keepdim);
tassl_tensor *tassl_max(tassl_tensor *x, int naxes, const int *axes, bool keepdim);
/* Variance with `correction` (0 biased, 1 unbiased). */
tassl_tensor *tassl_var(tassl_tensor *x, int naxes, const int *axes, int correction, bool keepdim);
tassl_tensor *tassl_sum_all(tassl_tensor *x);              /* → scalar */
tassl_tensor *tassl_mean_all(tassl_tensor *x);             /* → scalar */
/* Sum a broadcast result back to `shape` (the inverse of broadcasting). */
tassl_tensor *tassl_sum_to(tassl_tensor *x, int ndim, const int64_t *shape);

/* ---- linear algebra ------------------------------------------------------------------------- */
/* (M, K) @ (K, N) → (M, N); (B, M, K) @ (B, K, N) → (B, M, N); (B, M, K) @ (K, N) → (B, M, N). */
tassl_tensor *tassl_matmul(tassl_tensor *a, tassl_tensor *b);
/* Same with a and/or b transposed in their last two dims, without copying. */
tassl_tensor *tassl_matmul_t(tassl_tensor *a, bool ta, tassl_tensor *b, bool tb);
/* x (N, in) [or (..., in)], w (out, in), bias (out) or NULL → (N, out). */
tassl_tensor *tassl_linear(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias);

/* ---- convolution (2D: x (N, C, H, W); 3D: x (N, C, D, H, W)) -------------------------------- */
/* w (Cout, Cin/groups, k...), bias (Cout) or NULL. stride/pad/dil: one entry per spatial dim,
 * or NULL for 1 / 0 / 1. */
tassl_tensor *tassl_conv(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias, const int *stride,
                         const int *pad, const int *dil, int groups);
/* Transposed convolution: w (Cin, Cout/groups, k...); out = (in-1)·s − 2p + d·(k−1) + outpad + 1;
 * outpad < stride or < dil per dim (NULL = 0). */
tassl_tensor *tassl_conv_transpose(tassl_tensor *x, tassl_tensor *w, tassl_tensor *bias,
                                   const int *stride, const int *pad, const int *outpad,
                                   const int *dil, int groups);

/* ---- pooling and resampling ----------------------------------------------------------------- */
/* kernel/stride/pad: one entry per spatial dim; stride NULL = kernel, pad NULL = 0; pad ≤ kernel/2. */
tassl_tensor *tassl_max_pool(tassl_tensor *x, const int *kernel, const int *stride, const int *pad);
/* count_include_pad as in PyTorch's default (true). */
tassl_tensor *tassl_avg_pool(tassl_tensor *x, const int *kernel, const int *stride, const int *pad);
tassl_tensor *tassl_global_avg_pool(tassl_tensor *x);      /* (N, C, S...) → (N, C) */
tassl_tensor *tassl_global_max_pool(tassl_tensor *x);      /* (N, C, S...) → (N, C) */
/* Output spatial size per dim. nearest: src = floor(dst·in/out) in exact integer arithmetic
 * (PyTorch rounds in/out to float first and differs in rare non-integer ratios). */
tassl_tensor *tassl_upsample_nearest(tassl_tensor *x, const int64_t *size);
/* Bilinear (2D) / trilinear (3D). */
tassl_tensor *tassl_upsample_linear(tassl_tensor *x, const int64_t *size, bool align_corners);

/* ---- normalisation -------------------------------------------------------------------------- */
/* x (N, C, ...). Training: batch statistics, running stats updated in place (unbiased var,
 * momentum as PyTorch: r = (1−m)·r + m·batch). Eval: running stats. gamma/beta (C) or NULL. */
tassl_tensor *tassl_batch_norm(tassl_tensor *x, tassl_tensor *gamma, tassl_tensor *beta,
                               tassl_tensor *running_mean, tassl_tensor *running_var,
                               bool training, float momentum, float eps);
tassl_tensor *tassl_group_norm(tassl_tensor *x, int groups, tassl_tensor *gamma,
                               tassl_tensor *beta, float eps);
tassl_tensor *tassl_instance_norm(tassl_tensor *x, tassl_tensor *gamma, tassl_tensor *beta,
                                  float eps);
/* Normalise over the last `nnorm` dims; gamma/beta of those dims' shape or NULL. */
tassl_tensor *tassl_layer_norm(tassl_tensor *x, int nnorm, tassl_tensor *gamma, tassl_tensor *beta,
                               float eps);

/* ---- softmax and losses --------------------------------------------------------------------- */
tassl_tensor *tassl_softmax(tassl_tensor *x, int dim);
tassl_tensor *tassl_log_softmax(tassl_tensor *x, int dim);
/* logits (N, C) or (N, C, S...); target (N) or (N, S...) holding class indices as floats;
 * weight (C) or NULL. Per target, with label smoothing ε as PyTorch:
 *   (1 − ε)·w_t·(−log p_t) + (ε/C)·Σ_c w_c·(−log p_c).
 * Targets equal to ignore_index contribute nothing; MEAN divides by the sum of weights of the
 * counted targets, as PyTorch (NaN if none). NONE → (N, S...). A class outside [0, C) gives NaN.
 * No gradient flows to target or weight (aborts if they require one). */
tassl_tensor *tassl_cross_entropy(tassl_tensor *logits, tassl_tensor *target, tassl_tensor *weight,
                                  float label_smoothing, int ignore_index, tassl_reduction red);
/* x, target of one shape. Numerically stable; pos_weight broadcast to x's shape by NumPy rules
 * ((C) for (N, C), (C, 1, 1) for (N, C, H, W)) or NULL. Gradients flow to x, target, pos_weight. */
tassl_tensor *tassl_bce_with_logits(tassl_tensor *x, tassl_tensor *target, tassl_tensor *pos_weight,
                                    tassl_reduction red);
/* mse / l1 / smooth_l1: a and b of one shape (no broadcasting); smooth_l1 with beta 0 is L1. */
tassl_tensor *tassl_mse_loss(tassl_tensor *a, tassl_tensor *b, tassl_reduction red);
tassl_tensor *tassl_l1_loss(tassl_tensor *a, tassl_tensor *b, tassl_reduction red);
tassl_tensor *tassl_smooth_l1_loss(tassl_tensor *a, tassl_tensor *b, float beta,
                                   tassl_reduction red);

/* ---- misc ----------------------------------------------------------------------------------- */
/* x / max(‖x‖₂ over dim, eps). */
tassl_tensor *tassl_l2_normalize(tassl_tensor *x, int dim, float eps);
/* Inverted dropout: zero with probability p, scale survivors by 1/(1−p); identity if !training. */
tassl_tensor *tassl_dropout(tassl_tensor *x, float p, bool training);

#ifdef __cplusplus
}
#endif
#endif
