/* ref/pool.c — reference (plain C) pooling and up-sampling kernels: naive loops over the
 * outputs. Backward kernels scatter from each output into the inputs it read (the obvious
 * transpose of the forward loop), unlike the OpenCL gathers, so the two stay independent.
 * Sums accumulate in double. */
#include <math.h>
#include "ref.h"
#include "../kern_pool.h"

/* Walk of all (plane, od, oh, ow) outputs; o is the flat output index. */
#define FOR_OUTPUTS(g, pl, od, oh, ow, o)                                                        \
    for (int64_t pl = 0, o = 0; pl < (g)->nc; pl++)                                              \
        for (int64_t od = 0; od < (g)->out[0]; od++)                                             \
            for (int64_t oh = 0; oh < (g)->out[1]; oh++)                                         \
                for (int64_t ow = 0; ow < (g)->out[2]; ow++, o++)

static int64_t plane_in(const tassl_pool_geom *g) { return g->in[0] * g->in[1] * g->in[2]; }

/* Clipped window [lo, hi) in dim d of output position o. */
static void window(const tassl_pool_geom *g, int d, int64_t o, int64_t *lo, int64_t *hi) {
    int64_t a = o * g->s[d] - g->p[d], b = a + g->k[d];
    *lo = a < 0 ? 0 : a;
    *hi = b > g->in[d] ? g->in[d] : b;
}

static tassl_status max_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr xp,
                            tassl_ptr yp, tassl_ptr ip) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (nc, iD, iH, iW)
    float *y = tassl_ref_f(yp);       // (nc, oD, oH, oW)
    float *idx = ip.buf ? tassl_ref_f(ip) : NULL;
    int64_t H = g->in[1], W = g->in[2];
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t d0, d1, h0, h1, w0, w1;
        window(g, 0, od, &d0, &d1);
        window(g, 1, oh, &h0, &h1);
        window(g, 2, ow, &w0, &w1);
        const float *xs = x + pl * plane_in(g);
        float m = -INFINITY;
        int64_t mi = (d0 * H + h0) * W + w0;
        for (int64_t d = d0; d < d1; d++)
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    int64_t i = (d * H + h) * W + w;
                    if (xs[i] > m || isnan(xs[i])) m = xs[i], mi = i;
                }
        y[o] = m;
        if (idx) idx[o] = (float)mi;
    }
    return TASSL_OK;
}

static tassl_status max_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dyp,
                            tassl_ptr ip, tassl_ptr dxp) {
    (void)dev;
    const float *dy = tassl_ref_f(dyp), *idx = tassl_ref_f(ip); // (nc, oD, oH, oW)
    float *dx = tassl_ref_f(dxp);                               // (nc, iD, iH, iW)
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        (void)od, (void)oh, (void)ow;
        dx[pl * plane_in(g) + (int64_t)idx[o]] += dy[o];
    }
    return TASSL_OK;
}

static tassl_status avg_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr xp,
                            tassl_ptr yp) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (nc, iD, iH, iW)
    float *y = tassl_ref_f(yp);       // (nc, oD, oH, oW)
    int64_t H = g->in[1], W = g->in[2];
    double count = (double)g->k[0] * g->k[1] * g->k[2];
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t d0, d1, h0, h1, w0, w1;
        window(g, 0, od, &d0, &d1);
        window(g, 1, oh, &h0, &h1);
        window(g, 2, ow, &w0, &w1);
        const float *xs = x + pl * plane_in(g);
        double s = 0;
        for (int64_t d = d0; d < d1; d++)
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) s += xs[(d * H + h) * W + w];
        y[o] = (float)(s / count);
    }
    return TASSL_OK;
}

static tassl_status avg_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dyp,
                            tassl_ptr dxp) {
    (void)dev;
    const float *dy = tassl_ref_f(dyp); // (nc, oD, oH, oW)
    float *dx = tassl_ref_f(dxp);       // (nc, iD, iH, iW)
    int64_t H = g->in[1], W = g->in[2];
    float count = (float)g->k[0] * g->k[1] * g->k[2];
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t d0, d1, h0, h1, w0, w1;
        window(g, 0, od, &d0, &d1);
        window(g, 1, oh, &h0, &h1);
        window(g, 2, ow, &w0, &w1);
        float *dxs = dx + pl * plane_in(g);
        for (int64_t d = d0; d < d1; d++)
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) dxs[(d * H + h) * W + w] += dy[o] / count;
    }
    return TASSL_OK;
}

/* Nearest source: floor(o·in/out) in exact integer arithmetic. */
static int64_t nearest_src(int64_t o, int64_t in, int64_t out) { return o * in / out; }

static tassl_status nearest_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr xp,
                                tassl_ptr yp) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (nc, iD, iH, iW)
    float *y = tassl_ref_f(yp);       // (nc, oD, oH, oW)
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t d = nearest_src(od, g->in[0], g->out[0]), h = nearest_src(oh, g->in[1], g->out[1]),
                w = nearest_src(ow, g->in[2], g->out[2]);
        y[o] = x[pl * plane_in(g) + (d * g->in[1] + h) * g->in[2] + w];
    }
    return TASSL_OK;
}

static tassl_status nearest_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dyp,
                                tassl_ptr dxp) {
    (void)dev;
    const float *dy = tassl_ref_f(dyp); // (nc, oD, oH, oW)
    float *dx = tassl_ref_f(dxp);       // (nc, iD, iH, iW)
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t d = nearest_src(od, g->in[0], g->out[0]), h = nearest_src(oh, g->in[1], g->out[1]),
                w = nearest_src(ow, g->in[2], g->out[2]);
        dx[pl * plane_in(g) + (d * g->in[1] + h) * g->in[2] + w] += dy[o];
    }
    return TASSL_OK;
}

/* PyTorch's linear interpolation taps in one dim: inputs i[0], i[1] with weights l[0], l[1]. */
static void linear_taps(int64_t o, int64_t in, int64_t out, int align, int64_t i[2], float l[2]) {
    float src;
    if (align) {
        float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
        src = scale * (float)o;
    } else {
        float scale = (float)in / (float)out;
        src = scale * ((float)o + 0.5f) - 0.5f;
        if (src < 0) src = 0;
    }
    i[0] = (int64_t)src;
    i[1] = i[0] < in - 1 ? i[0] + 1 : i[0];
    l[1] = src - (float)i[0];
    l[0] = 1.0f - l[1];
}

/* The 8 taps (d, h, w) of output (od, oh, ow): flat plane indices and weights. */
static void linear_taps3(const tassl_pool_geom *g, int align, int64_t od, int64_t oh, int64_t ow,
                         int64_t at[8], float wt[8]) {
    int64_t id[2], ih[2], iw[2];
    float ld[2], lh[2], lw[2];
    linear_taps(od, g->in[0], g->out[0], align, id, ld);
    linear_taps(oh, g->in[1], g->out[1], align, ih, lh);
    linear_taps(ow, g->in[2], g->out[2], align, iw, lw);
    for (int t = 0; t < 8; t++) {
        int a = t >> 2, b = (t >> 1) & 1, c = t & 1;
        at[t] = (id[a] * g->in[1] + ih[b]) * g->in[2] + iw[c];
        wt[t] = ld[a] * lh[b] * lw[c];
    }
}

static tassl_status linear_fwd(tassl_device *dev, const tassl_pool_geom *g, int align,
                               tassl_ptr xp, tassl_ptr yp) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (nc, iD, iH, iW)
    float *y = tassl_ref_f(yp);       // (nc, oD, oH, oW)
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t at[8];
        float wt[8];
        linear_taps3(g, align, od, oh, ow, at, wt);
        double s = 0;
        for (int t = 0; t < 8; t++) s += (double)wt[t] * x[pl * plane_in(g) + at[t]];
        y[o] = (float)s;
    }
    return TASSL_OK;
}

static tassl_status linear_bwd(tassl_device *dev, const tassl_pool_geom *g, int align,
                               tassl_ptr dyp, tassl_ptr dxp) {
    (void)dev;
    const float *dy = tassl_ref_f(dyp); // (nc, oD, oH, oW)
    float *dx = tassl_ref_f(dxp);       // (nc, iD, iH, iW)
    FOR_OUTPUTS(g, pl, od, oh, ow, o) {
        int64_t at[8];
        float wt[8];
        linear_taps3(g, align, od, oh, ow, at, wt);
        for (int t = 0; t < 8; t++) dx[pl * plane_in(g) + at[t]] += wt[t] * dy[o];
    }
    return TASSL_OK;
}

const tassl_kern_pool tassl_ref_kern_pool = {
    /* .max_fwd = */ max_fwd,
    /* .max_bwd = */ max_bwd,
    /* .avg_fwd = */ avg_fwd,
    /* .avg_bwd = */ avg_bwd,
    /* .nearest_fwd = */ nearest_fwd,
    /* .nearest_bwd = */ nearest_bwd,
    /* .linear_fwd = */ linear_fwd,
    /* .linear_bwd = */ linear_bwd,
};
