/* ref/norm.c — reference (plain C) norm kernels: the test oracle for cl/norm.cl.
 *
 * Naive loops straight from the definitions in kern_norm.h: every element i finds its group
 * s(i) and channel c(i) by division, and per-group sums go to double accumulators (malloc'd,
 * s_count or c_count of them). Variance is two-pass. No attempt at speed.
 */
#include <math.h>
#include <stdlib.h>
#include "ref.h"
#include "../kern_norm.h"

static int64_t grp(const tassl_norm_geom *g, int64_t i) {
    return (i / g->s_inner) % g->s_count;
}
static int64_t chn(const tassl_norm_geom *g, int64_t i) {
    return (i / g->c_inner) % g->c_count;
}

/* Optional pointer: host data or NULL. */
static float *opt(tassl_ptr p) {
    return p.buf ? tassl_ref_f(p) : NULL;
}

static tassl_status ref_stats(tassl_device *dev, tassl_ptr xp, tassl_ptr meanp, tassl_ptr varp,
                              tassl_ptr rstdp, const tassl_norm_geom *g, float eps) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (n)
    float *mean = tassl_ref_f(meanp); // (s_count)
    float *var = tassl_ref_f(varp), *rstd = tassl_ref_f(rstdp);
    double *acc = calloc((size_t)g->s_count, sizeof(double));
    if (!acc) return tassl_error(TASSL_ERR_NOMEM, "ref norm stats: out of host memory");
    double k = (double)(g->n / g->s_count); // elements per group
    for (int64_t i = 0; i < g->n; i++)
        acc[grp(g, i)] += x[i];
    for (int64_t s = 0; s < g->s_count; s++) {
        mean[s] = (float)(acc[s] / k);
        acc[s] = 0;
    }
    // Second pass around the (float) mean that the forward will use.
    for (int64_t i = 0; i < g->n; i++) {
        double d = (double)x[i] - mean[grp(g, i)];
        acc[grp(g, i)] += d * d;
    }
    for (int64_t s = 0; s < g->s_count; s++) {
        var[s] = (float)(acc[s] / k);
        rstd[s] = (float)(1.0 / sqrt(acc[s] / k + (double)eps));
    }
    free(acc);
    return TASSL_OK;
}

static tassl_status ref_rstd(tassl_device *dev, tassl_ptr varp, tassl_ptr rstdp, int64_t count,
                             float eps) {
    (void)dev;
    const float *var = tassl_ref_f(varp);
    float *rstd = tassl_ref_f(rstdp);
    for (int64_t m = 0; m < count; m++)
        rstd[m] = (float)(1.0 / sqrt((double)var[m] + eps));
    return TASSL_OK;
}

static tassl_status ref_running(tassl_device *dev, tassl_ptr meanp, tassl_ptr varp,
                                tassl_ptr rmeanp, tassl_ptr rvarp, int64_t count, float momentum,
                                float unbias) {
    (void)dev;
    const float *mean = tassl_ref_f(meanp), *var = tassl_ref_f(varp);
    float *rmean = tassl_ref_f(rmeanp), *rvar = tassl_ref_f(rvarp);
    double m = momentum;
    for (int64_t c = 0; c < count; c++) {
        rmean[c] = (float)((1.0 - m) * rmean[c] + m * mean[c]);
        rvar[c] = (float)((1.0 - m) * rvar[c] + m * (double)unbias * var[c]);
    }
    return TASSL_OK;
}

static tassl_status ref_forward(tassl_device *dev, tassl_ptr xp, tassl_ptr meanp, tassl_ptr rstdp,
                                tassl_ptr gammap, tassl_ptr betap, tassl_ptr yp,
                                const tassl_norm_geom *g) {
    (void)dev;
    const float *x = tassl_ref_f(xp), *mean = tassl_ref_f(meanp), *rstd = tassl_ref_f(rstdp);
    const float *gamma = opt(gammap), *beta = opt(betap);
    float *y = tassl_ref_f(yp);
    for (int64_t i = 0; i < g->n; i++) {
        int64_t s = grp(g, i), c = chn(g, i);
        double v = ((double)x[i] - mean[s]) * rstd[s];
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        y[i] = (float)v;
    }
    return TASSL_OK;
}

static tassl_status ref_affine_bwd(tassl_device *dev, tassl_ptr xp, tassl_ptr meanp,
                                   tassl_ptr rstdp, tassl_ptr dyp, tassl_ptr dgp, tassl_ptr dbp,
                                   const tassl_norm_geom *g) {
    (void)dev;
    const float *x = tassl_ref_f(xp), *mean = tassl_ref_f(meanp), *rstd = tassl_ref_f(rstdp);
    const float *dy = tassl_ref_f(dyp);
    float *dgamma = opt(dgp), *dbeta = opt(dbp);
    double *acc = calloc((size_t)(2 * g->c_count), sizeof(double)); // (2, c_count)
    if (!acc) return tassl_error(TASSL_ERR_NOMEM, "ref norm affine_bwd: out of host memory");
    for (int64_t i = 0; i < g->n; i++) {
        int64_t s = grp(g, i), c = chn(g, i);
        double xh = ((double)x[i] - mean[s]) * rstd[s];
        acc[c] += dy[i] * xh;
        acc[g->c_count + c] += dy[i];
    }
    for (int64_t c = 0; c < g->c_count; c++) {
        if (dgamma) dgamma[c] = (float)(dgamma[c] + acc[c]);
        if (dbeta) dbeta[c] = (float)(dbeta[c] + acc[g->c_count + c]);
    }
    free(acc);
    return TASSL_OK;
}

static tassl_status ref_backward_x(tassl_device *dev, tassl_ptr xp, tassl_ptr meanp,
                                   tassl_ptr rstdp, tassl_ptr gammap, tassl_ptr dyp, tassl_ptr dxp,
                                   tassl_ptr scratch, const tassl_norm_geom *g, int training) {
    (void)dev;
    (void)scratch; // double accumulators instead
    const float *x = tassl_ref_f(xp), *mean = tassl_ref_f(meanp), *rstd = tassl_ref_f(rstdp);
    const float *gamma = opt(gammap), *dy = tassl_ref_f(dyp);
    float *dx = tassl_ref_f(dxp);
    if (!training) {
        for (int64_t i = 0; i < g->n; i++) {
            double gi = gamma ? (double)dy[i] * gamma[chn(g, i)] : dy[i];
            dx[i] = (float)(dx[i] + gi * rstd[grp(g, i)]);
        }
        return TASSL_OK;
    }
    double *acc = calloc((size_t)(2 * g->s_count), sizeof(double)); // Σg, Σg·x̂ (2, s_count)
    if (!acc) return tassl_error(TASSL_ERR_NOMEM, "ref norm backward_x: out of host memory");
    for (int64_t i = 0; i < g->n; i++) {
        int64_t s = grp(g, i);
        double gi = gamma ? (double)dy[i] * gamma[chn(g, i)] : dy[i];
        double xh = ((double)x[i] - mean[s]) * rstd[s];
        acc[s] += gi;
        acc[g->s_count + s] += gi * xh;
    }
    double k = (double)(g->n / g->s_count);
    for (int64_t i = 0; i < g->n; i++) {
        int64_t s = grp(g, i);
        double gi = gamma ? (double)dy[i] * gamma[chn(g, i)] : dy[i];
        double xh = ((double)x[i] - mean[s]) * rstd[s];
        double d = rstd[s] * (gi - acc[s] / k - xh * acc[g->s_count + s] / k);
        dx[i] = (float)(dx[i] + d);
    }
    free(acc);
    return TASSL_OK;
}

static tassl_status ref_backward_fused(tassl_device *dev, tassl_ptr x, tassl_ptr mean,
                                       tassl_ptr rstd, tassl_ptr gamma, tassl_ptr dy, tassl_ptr dx,
                                       tassl_ptr dgamma, tassl_ptr dbeta, tassl_ptr scratch,
                                       const tassl_norm_geom *g) {
    if (g->c_inner != g->s_inner || g->c_count != g->s_count)
        return tassl_error(TASSL_ERR_ARG,
                           "ref norm backward_fused: channel (%lld, %lld) is not the group "
                           "(%lld, %lld)",
                           (long long)g->c_inner, (long long)g->c_count, (long long)g->s_inner,
                           (long long)g->s_count);
    tassl_status s = TASSL_OK;
    if (dgamma.buf || dbeta.buf) s = ref_affine_bwd(dev, x, mean, rstd, dy, dgamma, dbeta, g);
    if (s == TASSL_OK && dx.buf)
        s = ref_backward_x(dev, x, mean, rstd, gamma, dy, dx, scratch, g, 1);
    return s;
}

const tassl_kern_norm tassl_ref_kern_norm = {
    /* .stats = */ ref_stats,
    /* .rstd = */ ref_rstd,
    /* .running = */ ref_running,
    /* .forward = */ ref_forward,
    /* .affine_bwd = */ ref_affine_bwd,
    /* .backward_x = */ ref_backward_x,
    /* .backward_fused = */ ref_backward_fused,
};
