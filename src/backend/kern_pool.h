/* kern_pool.h — the pool kernel family: max/average pooling (windowed and global) and nearest /
 * (bi|tri)linear up-sampling, forward and backward. Reference: src/backend/ref/pool.c; OpenCL:
 * src/backend/opencl/pool.c + cl/pool.cl.
 *
 * Every kernel sees its tensors as nc = N·C contiguous planes of three spatial dims (D, H, W);
 * a 2D call passes D = 1 with kernel 1, stride 1, pad 0 in that dim, so one kernel serves both.
 * Backward kernels ACCUMULATE into dx (dx += ...). The OpenCL backward kernels are gathers (one
 * work-item per input element summing the outputs that read it: no atomics in OpenCL 1.2); the
 * reference ones are plain scatters, which keeps the two implementations independent.
 */
#ifndef TASSL_KERN_POOL_H
#define TASSL_KERN_POOL_H

#include "backend.h"

/* Geometry of one call. Pooling: out[d] = (in[d] + 2·p[d] − k[d]) / s[d] + 1, window of output o
 * covers input [o·s − p, o·s − p + k) (padding reads as −inf for max, 0 for average).
 * Up-sampling uses nc, in and out only. */
typedef struct tassl_pool_geom {
    int64_t nc;               /* planes: N·C */
    int64_t in[3], out[3];    /* (D, H, W) of the input and the output */
    int k[3], s[3], p[3];     /* pooling window, stride, padding per spatial dim */
} tassl_pool_geom;

typedef struct tassl_kern_pool {
    /* x (nc, iD, iH, iW) → y (nc, oD, oH, oW) = window max; idx (nc, oD, oH, oW) = flat index
     * (d·iH·iW + h·iW + w) of the first maximum within its input plane, as a float (exact: the
     * op layer keeps planes below 2^24 elements). idx.buf may be NULL (no gradient wanted). */
    tassl_status (*max_fwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                            tassl_ptr y, tassl_ptr idx);
    /* dx (nc, iD, iH, iW) += dy (nc, oD, oH, oW) routed to the argmax idx of each output. */
    tassl_status (*max_bwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                            tassl_ptr idx, tassl_ptr dx);
    /* y = Σ window / (kD·kH·kW): padding counts in the divisor (count_include_pad). */
    tassl_status (*avg_fwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                            tassl_ptr y);
    /* dx (nc, iD, iH, iW) += Σ over the outputs whose window holds the element dy / (kD·kH·kW). */
    tassl_status (*avg_bwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                            tassl_ptr dx);
    /* y (nc, oD, oH, oW)[o] = x (nc, iD, iH, iW)[src], src = floor(o·in / out) per dim (exact
     * integer arithmetic). */
    tassl_status (*nearest_fwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                                tassl_ptr y);
    /* dx (nc, iD, iH, iW) += Σ of dy (nc, oD, oH, oW) over the outputs that copied the element. */
    tassl_status (*nearest_bwd)(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                                tassl_ptr dx);
    /* Trilinear y (nc, oD, oH, oW) from x (nc, iD, iH, iW) (bilinear when iD = oD = 1), with
     * PyTorch's source index per dim (fp32):
     *   align_corners: src = o · (in − 1)/(out − 1)   (0 when out = 1)
     *   otherwise:     src = max(0, (o + ½) · in/out − ½)
     * i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1), weights 1 − (src − i0) and src − i0. */
    tassl_status (*linear_fwd)(tassl_device *dev, const tassl_pool_geom *g, int align_corners,
                               tassl_ptr x, tassl_ptr y);
    /* dx (nc, iD, iH, iW) += transpose of linear_fwd applied to dy (nc, oD, oH, oW). */
    tassl_status (*linear_bwd)(tassl_device *dev, const tassl_pool_geom *g, int align_corners,
                               tassl_ptr dy, tassl_ptr dx);
} tassl_kern_pool;

extern const tassl_kern_pool tassl_ref_kern_pool;
extern const tassl_kern_pool tassl_cl_kern_pool;

#endif
