/* kern_conv.h — the conv kernel family: the data-movement half of (transposed) convolution.
 * Reference: src/backend/ref/conv.c; OpenCL: src/backend/opencl/conv.c + cl/conv.cl. The
 * arithmetic half is tassl_gemm (gemm.h); src/ops/conv.c strings the two together.
 *
 * Vocabulary. A convolution links an "image" side and a "matrix" side:
 *   conv:            image = x (input),  matrix side = y (output)
 *   conv_transpose:  image = y (output), matrix side = x (input)
 * The image has `c` channels of spatial size `in`; the matrix side has spatial size `out`, with
 * out = (in + 2·pad − dil·(k − 1) − 1) / stride + 1 per dim. Every kernel treats 2D as 3D with
 * D = 1 (in[0] = out[0] = k[0] = stride[0] = dil[0] = 1, pad[0] = 0), so there is one code path.
 *
 * Chunks. The op layer works on nb images at a time and, when one image's columns would not fit
 * the scratch budget (large 3D volumes), on a range of matrix-side positions [l0, l0 + lc) of a
 * single image; l0 and lc are whole rows (multiples of out[2]). Without spatial chunking l0 = 0
 * and lc = L = out[0]·out[1]·out[2]. K = k[0]·k[1]·k[2]. Layouts:
 *   image    (nb, c, in[0], in[1], in[2])                   contiguous, as the tensor
 *   col      (c·K, nb·lc): row (ch·K + kk), column (n·lc + l − l0) — the rows of group g are one
 *            contiguous block, so a batched GEMM over groups reads them with one stride, and the
 *            whole chunk is one GEMM per group (nb·lc columns) instead of one per image.
 *   cnl      (C, nb, L): a matrix-side tensor (nb, C, L) with its first two axes swapped, the
 *            layout GEMM reads and writes when nb > 1.
 */
#ifndef TASSL_KERN_CONV_H
#define TASSL_KERN_CONV_H

#include "backend.h"

typedef struct tassl_conv_geom {
    int64_t c;      /* image channels (all groups) */
    int64_t in[3];  /* image spatial size (D, H, W) */
    int64_t out[3]; /* matrix-side spatial size (D, H, W) */
    int k[3], stride[3], pad[3], dil[3];
} tassl_conv_geom;

typedef struct tassl_kern_conv {
    /* col[ch·K + kk, n·lc + l − l0] = image[n, ch, o(l)·stride − pad + kk·dil] (0 outside the
     * image) for l in [l0, l0 + lc): x (nb, c, in...) → col (c·K, nb·lc). Writes all of col.
     * pad and dil may be negative here (a stride-1 conv's data gradient: −pad, −dil flip the
     * kernel), so implementations must use the signed formula as written. */
    tassl_status (*im2col)(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr x, int64_t nb,
                           int64_t l0, int64_t lc, tassl_ptr col);
    /* The adjoint of im2col, as a gather (one item per image element, no atomics), over the
     * positions l in [l0, l0 + lc) only: col (c·K, nb·lc) → x (nb, c, in...),
     *   x[n, ch, i] = (accumulate ? x : 0) + (has_bias ? bias[ch] : 0)
     *               + Σ col[ch·K + kk, n·lc + l − l0] over (kk, l): o(l)·stride − pad + kk·dil = i.
     * bias (c) is read only if has_bias. With accumulate and no bias, elements that no position
     * in the range reads may be skipped (they would not change). */
    tassl_status (*col2im)(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr col, int64_t nb,
                           int64_t l0, int64_t lc, tassl_ptr x, int has_bias, tassl_ptr bias,
                           int accumulate);
    /* y[n, ch, l] = (accumulate ? y : 0) + t[ch, n, l] + (has_bias ? bias[ch] : 0):
     * t (c, nb, l) → y (nb, c, l). t may equal y when nb == 1 (then it is elementwise). */
    tassl_status (*from_cnl)(tassl_device *dev, tassl_ptr t, tassl_ptr y, int64_t nb, int64_t c,
                             int64_t l, int has_bias, tassl_ptr bias, int accumulate);
    /* t[ch, n, l] = y[n, ch, l]: y (nb, c, l) → t (c, nb, l). */
    tassl_status (*to_cnl)(tassl_device *dev, tassl_ptr y, tassl_ptr t, int64_t nb, int64_t c,
                           int64_t l);
    /* db[ch] += Σ_n Σ_l dy[n, ch, l]: dy (n, c, l) → db (c). */
    tassl_status (*bias_grad)(tassl_device *dev, tassl_ptr dy, tassl_ptr db, int64_t n, int64_t c,
                              int64_t l);
} tassl_kern_conv;

extern const tassl_kern_conv tassl_ref_kern_conv;
extern const tassl_kern_conv tassl_cl_kern_conv;

#endif
