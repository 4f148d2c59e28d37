/* kern_norm.h — the norm kernel family: batch, group, instance and layer normalisation.
 * Reference: src/backend/ref/norm.c; OpenCL: src/backend/opencl/norm.c + cl/norm.cl.
 *
 * Every normalisation is one geometry over a contiguous x of n elements. Element i belongs to
 * the statistic group s(i) = (i / s_inner) % s_count (mean and rstd are per group) and to the
 * affine channel c(i) = (i / c_inner) % c_count (gamma and beta are per channel):
 *
 *   batch norm     x (N, C, S)   s_inner = S,        s_count = C,    c_inner = S, c_count = C
 *   group norm     x (N, C, S)   s_inner = (C/G)·S,  s_count = N·G,  c_inner = S, c_count = C
 *   instance norm  = group norm with G = C
 *   layer norm     x (R, D)      s_inner = D,        s_count = R,    c_inner = 1, c_count = D
 *
 * (S = product of the spatial dims, D = product of the normalised dims.) A group holds
 * n / s_count elements: i = (a·s_count + s)·s_inner + b for a < n / (s_count·s_inner),
 * b < s_inner; a channel likewise with c_*. With x̂ = (x − mean[s])·rstd[s]:
 *
 *   y  = x̂·gamma[c] + beta[c]
 *   training (batch statistics, g = dy·gamma[c]):
 *     dx = rstd[s]·(g − mean_s(g) − x̂·mean_s(g·x̂))
 *   eval (statistics are constants): dx = rstd[s]·g
 *   dgamma[c] = Σ_c dy·x̂,  dbeta[c] = Σ_c dy
 *
 * Pointers marked "optional" may have a NULL buf (gamma NULL means 1, beta NULL means 0; an
 * optional output with NULL buf is not computed). Everything else is contiguous and non-NULL.
 */
#ifndef TASSL_KERN_NORM_H
#define TASSL_KERN_NORM_H

#include "backend.h"

typedef struct tassl_norm_geom {
    int64_t n;                /* elements of x */
    int64_t s_inner, s_count; /* statistic group of element i: (i / s_inner) % s_count */
    int64_t c_inner, c_count; /* affine channel of element i:  (i / c_inner) % c_count */
} tassl_norm_geom;

typedef struct tassl_kern_norm {
    /* Per group s < s_count: mean[s], var[s] = biased variance (two passes, not E[x²]−E[x]²),
     * rstd[s] = 1/sqrt(var[s] + eps).  x (n); mean, var, rstd (s_count). */
    tassl_status (*stats)(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr var,
                          tassl_ptr rstd, const tassl_norm_geom *g, float eps);
    /* rstd[m] = 1/sqrt(var[m] + eps), m < count (eval mode from running variance). */
    tassl_status (*rstd)(tassl_device *dev, tassl_ptr var, tassl_ptr rstd, int64_t count,
                         float eps);
    /* In place, m < count: rmean[m] = (1−mom)·rmean[m] + mom·mean[m],
     *                      rvar[m]  = (1−mom)·rvar[m]  + mom·unbias·var[m]
     * (unbias = k/(k−1) turns the biased variance of k values into the unbiased one). */
    tassl_status (*running)(tassl_device *dev, tassl_ptr mean, tassl_ptr var, tassl_ptr rmean,
                            tassl_ptr rvar, int64_t count, float momentum, float unbias);
    /* y[i] = (x[i] − mean[s])·rstd[s]·gamma[c] + beta[c].  x, y (n); mean, rstd (s_count);
     * gamma, beta (c_count), optional. */
    tassl_status (*forward)(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                            tassl_ptr gamma, tassl_ptr beta, tassl_ptr y, const tassl_norm_geom *g);
    /* Per channel c: dgamma[c] += Σ dy·x̂, dbeta[c] += Σ dy over the channel's elements.
     * x, dy (n); mean, rstd (s_count); dgamma, dbeta (c_count), optional outputs. */
    tassl_status (*affine_bwd)(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                               tassl_ptr dy, tassl_ptr dgamma, tassl_ptr dbeta,
                               const tassl_norm_geom *g);
    /* dx[i] += the gradient through the normalisation (formulas above; `training` selects
     * batch statistics, which also flow gradient, or constant statistics).  x, dy, dx (n);
     * mean, rstd (s_count); gamma (c_count), optional; scratch (2·s_count), caller-owned,
     * needed when training (optional otherwise). */
    tassl_status (*backward_x)(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                               tassl_ptr gamma, tassl_ptr dy, tassl_ptr dx, tassl_ptr scratch,
                               const tassl_norm_geom *g, int training);
    /* Batch norm's whole training backward with one reduction, for geometries whose affine
     * channel is the statistic group (c_inner == s_inner, c_count == s_count): per group
     * scratch = (Σ dy, Σ dy·x̂), then dgamma += Σ dy·x̂, dbeta += Σ dy and dx += the training
     * gradient of backward_x (gamma is constant over a group, so Σ g = gamma·Σ dy). Same
     * results as affine_bwd + backward_x(training = 1).  x, dy (n); dx (n), optional; mean, rstd
     * (s_count); gamma, dgamma, dbeta (c_count), optional; scratch (2·s_count), caller-owned. */
    tassl_status (*backward_fused)(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                                   tassl_ptr gamma, tassl_ptr dy, tassl_ptr dx, tassl_ptr dgamma,
                                   tassl_ptr dbeta, tassl_ptr scratch, const tassl_norm_geom *g);
} tassl_kern_norm;

extern const tassl_kern_norm tassl_ref_kern_norm;
extern const tassl_kern_norm tassl_cl_kern_norm;

#endif
