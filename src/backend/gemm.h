/* gemm.h — the one GEMM entry point.
 *
 * Every matrix product in tassl (linear layers, convolution via im2col, attention, Barlow Twins'
 * cross-correlation) goes through tassl_gemm(). Which implementation runs is chosen per device
 * when the device is opened (gemm.c: a table of implementations and a per-device parameter table
 * with a default row), so a faster kernel for one device slots in without touching any caller.
 *
 * Semantics (row-major, like cblas with CblasRowMajor), for each batch b < batch:
 *   C_b[M×N] = alpha · op(A_b) · op(B_b) + beta · C_b
 *   op(X) = X or Xᵀ; A_b = A + b·stride_a, with leading dimension lda (row pitch, in floats).
 */
#ifndef TASSL_GEMM_H
#define TASSL_GEMM_H

#include "backend.h"
#include "kern_conv.h"

typedef struct tassl_gemm_args {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    tassl_ptr a, b, c;
    int64_t lda, ldb, ldc;
    int64_t stride_a, stride_b, stride_c; /* between batches, floats (0 = same matrix) */
    int64_t batch;                        /* >= 1 */
} tassl_gemm_args;

typedef tassl_status (*tassl_gemm_fn)(tassl_device *dev, const tassl_gemm_args *args,
                                      const void *params);

typedef struct tassl_gemm_impl {
    const char *name;
    tassl_backend_kind backend;
    tassl_gemm_fn fn;
} tassl_gemm_impl;

/* Run C = alpha·op(A)·op(B) + beta·C on dev with its chosen implementation. beta = 0 ignores
 * C's previous contents (even NaN). */
tassl_status tassl_gemm(tassl_device *dev, const tassl_gemm_args *args);

/* Pick dev->gemm / dev->gemm_params (called by tassl_device_open). TASSL_GEMM=<name> overrides. */
tassl_status tassl_gemm_select(tassl_device *dev);

/* Implicit-GEMM convolution: the GEMM of a convolution pass with B gathered straight from the
 * image (no im2col column buffer, no layout swaps), per image and group. Geometry, layouts and
 * vocabulary (image (n, c, in...), matrix side (n, cmat, out...), weights (cmat, c/groups, k...),
 * signed pad/dil) as in kern_conv.h; every tensor contiguous.
 *   wgrad 0: mat (=|+=) W · im2col(img) [+ bias]   (conv forward, stride-1 data gradient,
 *                                                    conv_transpose's data gradient)
 *   wgrad 1: dw += mat · im2col(img)ᵀ               (weight gradient of both)
 * In the forward, accumulate adds to mat, has_bias adds bias (cmat). */
typedef struct tassl_conv_gemm_args {
    int wgrad;
    const tassl_conv_geom *g;
    int64_t n, groups, cmat;
    tassl_ptr img, mat, w, bias; /* wgrad: w is dW */
    int has_bias, accumulate;
} tassl_conv_gemm_args;

/* Whether dev runs tassl_conv_gemm (1: the register-tile GEMM is its implementation and
 * TASSL_CONV is not "im2col"), or callers should use im2col + tassl_gemm (0). */
int tassl_conv_gemm_available(const tassl_device *dev);

/* Run one implicit-GEMM convolution pass (see above) on dev. TASSL_ERR_UNSUPPORTED (message
 * set) when dev has no implicit path or a size does not fit the kernels' int indexing: the
 * caller then falls back to im2col + tassl_gemm. */
tassl_status tassl_conv_gemm(tassl_device *dev, const tassl_conv_gemm_args *args);

/* Implementations. */
tassl_status tassl_ref_gemm(tassl_device *dev, const tassl_gemm_args *args, const void *params);
tassl_status tassl_cl_gemm_clblast(tassl_device *dev, const tassl_gemm_args *args,
                                   const void *params);

#endif
