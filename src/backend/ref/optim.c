/* ref/optim.c — reference optimiser kernels: plain loops over the runs of the flat buffers (see
 * kern_optim.h for the formulas). Sums of squares accumulate in double. */
#include <math.h>
#include "ref.h"
#include "../kern_optim.h"

/* The int32 table behind a device pointer (off counts int32 elements). */
static const int32_t *itab(tassl_ptr p) { return (const int32_t *)(const void *)p.buf->data + p.off; }

static tassl_status ref_sumsq_chunks(tassl_device *dev, tassl_ptr a, tassl_ptr b, tassl_ptr chunks,
                                     int64_t nchunks, tassl_ptr part) {
    (void)dev;
    const int32_t *ch = itab(chunks);
    const float *x = tassl_ref_f(a), *y = b.buf ? tassl_ref_f(b) : NULL;
    float *out = tassl_ref_f(part);
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t s = ch[2 * c], len = ch[2 * c + 1];
        double sa = 0, sb = 0;
        for (int64_t i = s; i < s + len; i++) {
            sa += (double)x[i] * x[i];
            if (y) sb += (double)y[i] * y[i];
        }
        out[2 * c] = (float)sa;
        out[2 * c + 1] = (float)sb;
    }
    return TASSL_OK;
}

static tassl_status ref_sumsq_gather(tassl_device *dev, tassl_ptr part, tassl_ptr cb, int64_t nseg,
                                     tassl_ptr out) {
    (void)dev;
    const int32_t *b = itab(cb);
    const float *p = tassl_ref_f(part);
    float *o = tassl_ref_f(out);
    for (int64_t s = 0; s < nseg; s++) {
        double sa = 0, sb = 0;
        for (int32_t c = b[s]; c < b[s + 1]; c++) {
            sa += p[2 * c];
            sb += p[2 * c + 1];
        }
        o[2 * s] = (float)sa;
        o[2 * s + 1] = (float)sb;
    }
    return TASSL_OK;
}

static tassl_status ref_clip_scale(tassl_device *dev, tassl_ptr g, int64_t n, tassl_ptr sumsq,
                                   float max_norm) {
    (void)dev;
    float norm = sqrtf(tassl_ref_f(sumsq)[0]);
    float coef = max_norm / (norm + 1e-6f);
    if (!(coef < 1.0f)) return TASSL_OK; /* nothing to do (a NaN norm leaves g alone here too) */
    float *x = tassl_ref_f(g);
    for (int64_t i = 0; i < n; i++) x[i] *= coef;
    return TASSL_OK;
}

/* The SGD momentum rule on an already formed direction d; returns the step direction. */
static inline float sgd_dir(float d, float *bufp, const tassl_optim_hp *hp) {
    if (hp->momentum == 0.0f) return d;
    float b = hp->first ? d : hp->momentum * *bufp + hp->one_m_dampening * d;
    *bufp = b;
    return hp->nesterov ? d + hp->momentum * b : b;
}

static tassl_status ref_sgd(tassl_device *dev, tassl_ptr pp, tassl_ptr gp, tassl_ptr bp,
                            tassl_ptr runs, int64_t nruns, int64_t n, const tassl_optim_hp *hp) {
    (void)dev;
    (void)n;
    const int32_t *r = itab(runs);
    float *p = tassl_ref_f(pp), *buf = hp->momentum != 0.0f ? tassl_ref_f(bp) : NULL;
    const float *g = tassl_ref_f(gp);
    for (int64_t k = 0; k < nruns; k++) {
        int32_t s = r[4 * k], e = r[4 * k + 1], f = r[4 * k + 2];
        if (!(f & TASSL_RUN_UPDATE)) continue;
        float wd = (f & TASSL_RUN_DECAY) ? hp->weight_decay : 0.0f;
        for (int32_t i = s; i < e; i++) {
            float d = g[i];
            if (wd != 0.0f) d = d + wd * p[i];
            float dir = sgd_dir(d, buf ? buf + i : NULL, hp);
            p[i] = p[i] - hp->lr * dir;
        }
    }
    return TASSL_OK;
}

static tassl_status ref_adamw(tassl_device *dev, tassl_ptr pp, tassl_ptr gp, tassl_ptr mp,
                              tassl_ptr vp, tassl_ptr runs, int64_t nruns, int64_t n,
                              const tassl_optim_hp *hp) {
    (void)dev;
    (void)n;
    const int32_t *r = itab(runs);
    float *p = tassl_ref_f(pp), *m = tassl_ref_f(mp), *v = tassl_ref_f(vp);
    const float *g = tassl_ref_f(gp);
    for (int64_t k = 0; k < nruns; k++) {
        int32_t s = r[4 * k], e = r[4 * k + 1], f = r[4 * k + 2];
        if (!(f & TASSL_RUN_UPDATE)) continue;
        float keep = (f & TASSL_RUN_DECAY) ? hp->decay_keep : 1.0f;
        for (int32_t i = s; i < e; i++) {
            float gi = g[i];
            float w = p[i] * keep;
            float mi = hp->beta1 * m[i] + hp->one_m_beta1 * gi;
            float vi = hp->beta2 * v[i] + hp->one_m_beta2 * gi * gi;
            float denom = sqrtf(vi) / hp->bc2_sqrt + hp->eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = w - hp->step_size * (mi / denom);
        }
    }
    return TASSL_OK;
}

static tassl_status ref_lars(tassl_device *dev, tassl_ptr pp, tassl_ptr gp, tassl_ptr bp,
                             tassl_ptr np, tassl_ptr runs, int64_t nruns, int64_t n,
                             const tassl_optim_hp *hp) {
    (void)dev;
    (void)n;
    const int32_t *r = itab(runs);
    float *p = tassl_ref_f(pp), *buf = hp->momentum != 0.0f ? tassl_ref_f(bp) : NULL;
    const float *g = tassl_ref_f(gp), *norms = tassl_ref_f(np);
    for (int64_t k = 0; k < nruns; k++) {
        int32_t s = r[4 * k], e = r[4 * k + 1], f = r[4 * k + 2], idx = r[4 * k + 3];
        if (!(f & TASSL_RUN_UPDATE)) continue;
        float wd = (f & TASSL_RUN_DECAY) ? hp->weight_decay : 0.0f;
        float trust = 1.0f;
        if (f & TASSL_RUN_ADAPT) {
            float wn = sqrtf(norms[2 * idx]), gn = sqrtf(norms[2 * idx + 1]);
            if (wn > 0.0f && gn > 0.0f) trust = hp->trust_coef * wn / (gn + wd * wn);
        }
        for (int32_t i = s; i < e; i++) {
            float d = g[i];
            if (wd != 0.0f) d = d + wd * p[i];
            d = d * trust;
            float dir = sgd_dir(d, buf ? buf + i : NULL, hp);
            p[i] = p[i] - hp->lr * dir;
        }
    }
    return TASSL_OK;
}

static tassl_status ref_ema(tassl_device *dev, tassl_ptr tp, tassl_ptr op, tassl_ptr runs,
                            int64_t nruns, int64_t n, float tau) {
    (void)dev;
    (void)n;
    const int32_t *r = itab(runs);
    float *t = tassl_ref_f(tp);
    const float *o = tassl_ref_f(op);
    for (int64_t k = 0; k < nruns; k++) {
        int32_t s = r[4 * k], e = r[4 * k + 1], f = r[4 * k + 2];
        if (f & TASSL_RUN_UPDATE)
            for (int32_t i = s; i < e; i++) t[i] = tau * t[i] + (1.0f - tau) * o[i];
        else if (f & TASSL_RUN_COPY)
            for (int32_t i = s; i < e; i++) t[i] = o[i];
    }
    return TASSL_OK;
}

const tassl_kern_optim tassl_ref_kern_optim = {
    /* .sumsq_chunks = */ ref_sumsq_chunks,
    /* .sumsq_gather = */ ref_sumsq_gather,
    /* .clip_scale   = */ ref_clip_scale,
    /* .sgd          = */ ref_sgd,
    /* .adamw        = */ ref_adamw,
    /* .lars         = */ ref_lars,
    /* .ema          = */ ref_ema,
};
