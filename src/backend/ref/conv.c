/* ref/conv.c — reference (plain C) conv kernels: im2col, its gather adjoint col2im, the
 * (N, C, L) ↔ (C, N, L) swaps and the bias-gradient reduction. Naive loops written straight from
 * the formulas in kern_conv.h, with double accumulators; they never touch OpenCL. */
#include "../kern_conv.h"
#include "ref.h"

static int64_t geom_k(const tassl_conv_geom *g) {
    return (int64_t)g->k[0] * g->k[1] * g->k[2];
}
static int64_t geom_s(const tassl_conv_geom *g) {
    return g->in[0] * g->in[1] * g->in[2];
}

static tassl_status ref_im2col(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr x, int64_t nb,
                               int64_t l0, int64_t lc, tassl_ptr col) {
    (void)dev;
    const float *xp = tassl_ref_f(x); // (nb, c, in0, in1, in2)
    float *cp = tassl_ref_f(col);     // (c·K, nb·lc)
    const int64_t K = geom_k(g), S = geom_s(g);
    for (int64_t ch = 0; ch < g->c; ch++)
        for (int64_t kk = 0; kk < K; kk++) {
            const int64_t ka = kk / (g->k[1] * g->k[2]), kb = kk / g->k[2] % g->k[1],
                          ke = kk % g->k[2];
            float *row = cp + (ch * K + kk) * nb * lc;
            for (int64_t n = 0; n < nb; n++)
                for (int64_t l = l0; l < l0 + lc; l++) {
                    const int64_t oa = l / (g->out[1] * g->out[2]), ob = l / g->out[2] % g->out[1],
                                  oe = l % g->out[2];
                    const int64_t ia = oa * g->stride[0] - g->pad[0] + ka * g->dil[0];
                    const int64_t ib = ob * g->stride[1] - g->pad[1] + kb * g->dil[1];
                    const int64_t ie = oe * g->stride[2] - g->pad[2] + ke * g->dil[2];
                    const int inside = ia >= 0 && ia < g->in[0] && ib >= 0 && ib < g->in[1] &&
                                       ie >= 0 && ie < g->in[2];
                    row[n * lc + l - l0] =
                        inside ? xp[(n * g->c + ch) * S + (ia * g->in[1] + ib) * g->in[2] + ie]
                               : 0.0f;
                }
        }
    return TASSL_OK;
}

/* Output index o along one dim that reads input index i through kernel tap kk, or −1. */
static int64_t tap_source(int64_t i, int64_t kk, int stride, int pad, int dil, int64_t out) {
    const int64_t t = i + pad - kk * dil;
    if (t < 0 || t % stride != 0 || t / stride >= out) return -1;
    return t / stride;
}

static tassl_status ref_col2im(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr col,
                               int64_t nb, int64_t l0, int64_t lc, tassl_ptr x, int has_bias,
                               tassl_ptr bias, int accumulate) {
    (void)dev;
    const float *cp = tassl_ref_f(col);                    // (c·K, nb·lc)
    float *xp = tassl_ref_f(x);                            // (nb, c, in0, in1, in2)
    const float *bp = has_bias ? tassl_ref_f(bias) : NULL; // (c)
    const int64_t K = geom_k(g), S = geom_s(g);
    for (int64_t n = 0; n < nb; n++)
        for (int64_t ch = 0; ch < g->c; ch++)
            for (int64_t s = 0; s < S; s++) {
                const int64_t ia = s / (g->in[1] * g->in[2]), ib = s / g->in[2] % g->in[1],
                              ie = s % g->in[2];
                double acc = bp ? bp[ch] : 0.0;
                for (int64_t kk = 0; kk < K; kk++) {
                    const int64_t oa = tap_source(ia, kk / (g->k[1] * g->k[2]), g->stride[0],
                                                  g->pad[0], g->dil[0], g->out[0]);
                    const int64_t ob = tap_source(ib, kk / g->k[2] % g->k[1], g->stride[1],
                                                  g->pad[1], g->dil[1], g->out[1]);
                    const int64_t oe =
                        tap_source(ie, kk % g->k[2], g->stride[2], g->pad[2], g->dil[2], g->out[2]);
                    if (oa < 0 || ob < 0 || oe < 0) continue;
                    const int64_t l = (oa * g->out[1] + ob) * g->out[2] + oe;
                    if (l < l0 || l >= l0 + lc) continue;
                    acc += cp[(ch * K + kk) * nb * lc + n * lc + l - l0];
                }
                float *dst = xp + (n * g->c + ch) * S + s;
                *dst = (float)(accumulate ? *dst + acc : acc);
            }
    return TASSL_OK;
}

static tassl_status ref_from_cnl(tassl_device *dev, tassl_ptr t, tassl_ptr y, int64_t nb, int64_t c,
                                 int64_t l, int has_bias, tassl_ptr bias, int accumulate) {
    (void)dev;
    const float *tp = tassl_ref_f(t);                      // (c, nb, l)
    float *yp = tassl_ref_f(y);                            // (nb, c, l)
    const float *bp = has_bias ? tassl_ref_f(bias) : NULL; // (c)
    for (int64_t n = 0; n < nb; n++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < l; i++) {
                float v = tp[(ch * nb + n) * l + i] + (bp ? bp[ch] : 0.0f);
                float *dst = yp + (n * c + ch) * l + i;
                *dst = accumulate ? *dst + v : v;
            }
    return TASSL_OK;
}

static tassl_status ref_to_cnl(tassl_device *dev, tassl_ptr y, tassl_ptr t, int64_t nb, int64_t c,
                               int64_t l) {
    (void)dev;
    const float *yp = tassl_ref_f(y); // (nb, c, l)
    float *tp = tassl_ref_f(t);       // (c, nb, l)
    for (int64_t n = 0; n < nb; n++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < l; i++)
                tp[(ch * nb + n) * l + i] = yp[(n * c + ch) * l + i];
    return TASSL_OK;
}

static tassl_status ref_bias_grad(tassl_device *dev, tassl_ptr dy, tassl_ptr db, int64_t n,
                                  int64_t c, int64_t l) {
    (void)dev;
    const float *gp = tassl_ref_f(dy); // (n, c, l)
    float *bp = tassl_ref_f(db);       // (c)
    for (int64_t ch = 0; ch < c; ch++) {
        double acc = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < l; j++)
                acc += gp[(i * c + ch) * l + j];
        bp[ch] = (float)(bp[ch] + acc);
    }
    return TASSL_OK;
}

const tassl_kern_conv tassl_ref_kern_conv = {
    /* .im2col = */ ref_im2col,
    /* .col2im = */ ref_col2im,
    /* .from_cnl = */ ref_from_cnl,
    /* .to_cnl = */ ref_to_cnl,
    /* .bias_grad = */ ref_bias_grad,
};
