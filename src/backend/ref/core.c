/* ref/core.c — reference core kernels: plain loops, double accumulators, no OpenCL. */
#include <math.h>
#include "ref.h"
#include "../kern_core.h"

/* Element offset of the i-th element (row-major order) of a strided view. */
static int64_t kv_at(const tassl_kview *v, int64_t i) {
    int64_t o = v->off;
    for (int d = v->ndim - 1; d >= 0; d--) {
        o += (i % v->shape[d]) * v->stride[d];
        i /= v->shape[d];
    }
    return o;
}

static int64_t kv_numel(const tassl_kview *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

static tassl_status ref_fill(tassl_device *dev, tassl_ptr y, int64_t n, float v) {
    (void)dev;
    float *p = tassl_ref_f(y);
    for (int64_t i = 0; i < n; i++) p[i] = v;
    return TASSL_OK;
}

static tassl_status ref_rng(tassl_device *dev, tassl_ptr y, int64_t n, tassl_rng_dist dist,
                            uint64_t seed, uint64_t counter, float a, float b) {
    (void)dev;
    float *p = tassl_ref_f(y);
    for (int64_t i = 0; i < n; i++) {
        uint64_t g = counter + (uint64_t)i;
        switch (dist) {
        case TASSL_RNG_UNIFORM: p[i] = a + (b - a) * tassl_philox_uniform(seed, g); break;
        case TASSL_RNG_NORMAL: p[i] = a + b * tassl_philox_normal(seed, g); break;
        case TASSL_RNG_BERNOULLI: p[i] = tassl_philox_uniform(seed, g) < a ? 1.0f : 0.0f; break;
        }
    }
    return TASSL_OK;
}

static tassl_status ref_copy(tassl_device *dev, const tassl_kview *src, const tassl_kview *dst,
                             int accumulate) {
    (void)dev;
    const float *s = src->buf->data;
    float *d = dst->buf->data;
    int64_t n = kv_numel(dst);
    for (int64_t i = 0; i < n; i++) {
        float v = s[kv_at(src, i)];
        int64_t o = kv_at(dst, i);
        d[o] = accumulate ? d[o] + v : v;
    }
    return TASSL_OK;
}

static float unary_f(tassl_unary_op op, float x, float a, float b) {
    switch (op) {
    case TASSL_UNARY_RELU: return x > 0 ? x : 0.0f;
    case TASSL_UNARY_LEAKY_RELU: return x > 0 ? x : a * x;
    case TASSL_UNARY_GELU: return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case TASSL_UNARY_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)x)));
    case TASSL_UNARY_TANH: return tanhf(x);
    case TASSL_UNARY_EXP: return expf(x);
    case TASSL_UNARY_LOG: return logf(x);
    case TASSL_UNARY_SQRT: return sqrtf(x);
    case TASSL_UNARY_ABS: return fabsf(x);
    case TASSL_UNARY_POW: return powf(x, a);
    case TASSL_UNARY_CLAMP: return fminf(fmaxf(x, a), b);
    case TASSL_UNARY_AFFINE: return a * x + b;
    case TASSL_UNARY_COUNT: break;
    }
    return NAN;
}

/* d f / d x at x (y = f(x)) */
static float unary_df(tassl_unary_op op, float x, float y, float a, float b) {
    switch (op) {
    case TASSL_UNARY_RELU: return x > 0 ? 1.0f : 0.0f;
    case TASSL_UNARY_LEAKY_RELU: return x > 0 ? 1.0f : a;
    case TASSL_UNARY_GELU: {
        double cdf = 0.5 * (1.0 + erf(x / sqrt(2.0)));
        double pdf = exp(-0.5 * (double)x * x) / sqrt(2.0 * M_PI);
        return (float)(cdf + x * pdf);
    }
    case TASSL_UNARY_SIGMOID: return y * (1.0f - y);
    case TASSL_UNARY_TANH: return 1.0f - y * y;
    case TASSL_UNARY_EXP: return y;
    case TASSL_UNARY_LOG: return 1.0f / x;
    case TASSL_UNARY_SQRT: return 0.5f / y;
    case TASSL_UNARY_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case TASSL_UNARY_POW: return a * powf(x, a - 1.0f);
    case TASSL_UNARY_CLAMP: return (x >= a && x <= b) ? 1.0f : 0.0f;
    case TASSL_UNARY_AFFINE: return a;
    case TASSL_UNARY_COUNT: break;
    }
    return NAN;
}

static tassl_status ref_unary(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                              int64_t n, float a, float b) {
    (void)dev;
    const float *xs = tassl_ref_f(x);
    float *ys = tassl_ref_f(y);
    for (int64_t i = 0; i < n; i++) ys[i] = unary_f(op, xs[i], a, b);
    return TASSL_OK;
}

static tassl_status ref_unary_bwd(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                                  tassl_ptr dy, tassl_ptr dx, int64_t n, float a, float b) {
    (void)dev;
    const float *xs = tassl_ref_f(x), *ys = tassl_ref_f(y), *g = tassl_ref_f(dy);
    float *d = tassl_ref_f(dx);
    for (int64_t i = 0; i < n; i++) d[i] += g[i] * unary_df(op, xs[i], ys[i], a, b);
    return TASSL_OK;
}

static float binary_f(tassl_binary_op op, float a, float b) {
    switch (op) {
    case TASSL_BINARY_ADD: return a + b;
    case TASSL_BINARY_SUB: return a - b;
    case TASSL_BINARY_MUL: return a * b;
    case TASSL_BINARY_DIV: return a / b;
    case TASSL_BINARY_MAX: return a >= b ? a : b;
    case TASSL_BINARY_MIN: return a <= b ? a : b;
    case TASSL_BINARY_COUNT: break;
    }
    return NAN;
}

static tassl_status ref_binary(tassl_device *dev, tassl_binary_op op, const tassl_kview *a,
                               const tassl_kview *b, tassl_ptr c) {
    (void)dev;
    const float *as = a->buf->data, *bs = b->buf->data;
    float *cs = tassl_ref_f(c);
    int64_t n = kv_numel(a);
    for (int64_t i = 0; i < n; i++) cs[i] = binary_f(op, as[kv_at(a, i)], bs[kv_at(b, i)]);
    return TASSL_OK;
}

static tassl_status ref_binary_bwd(tassl_device *dev, tassl_binary_op op, const tassl_kview *a,
                                   const tassl_kview *b, tassl_ptr dy, tassl_ptr ga,
                                   tassl_ptr gb) {
    (void)dev;
    const float *as = a->buf->data, *bs = b->buf->data, *g = tassl_ref_f(dy);
    float *pa = ga.buf ? tassl_ref_f(ga) : NULL, *pb = gb.buf ? tassl_ref_f(gb) : NULL;
    int64_t n = kv_numel(a);
    for (int64_t i = 0; i < n; i++) {
        float x = as[kv_at(a, i)], y = bs[kv_at(b, i)], d = g[i], da = 0, db = 0;
        switch (op) {
        case TASSL_BINARY_ADD: da = d; db = d; break;
        case TASSL_BINARY_SUB: da = d; db = -d; break;
        case TASSL_BINARY_MUL: da = d * y; db = d * x; break;
        case TASSL_BINARY_DIV: da = d / y; db = -d * x / (y * y); break;
        case TASSL_BINARY_MAX: /* ties split the gradient, as PyTorch's maximum */
            da = x > y ? d : (x == y ? 0.5f * d : 0.0f);
            db = y > x ? d : (x == y ? 0.5f * d : 0.0f);
            break;
        case TASSL_BINARY_MIN:
            da = x < y ? d : (x == y ? 0.5f * d : 0.0f);
            db = y < x ? d : (x == y ? 0.5f * d : 0.0f);
            break;
        case TASSL_BINARY_COUNT: break;
        }
        if (pa) pa[i] = da;
        if (pb) pb[i] = db;
    }
    return TASSL_OK;
}

static tassl_status ref_row_sum(tassl_device *dev, tassl_ptr x, tassl_ptr y, int64_t rows,
                                int64_t cols, float scale) {
    (void)dev;
    const float *xs = tassl_ref_f(x);
    float *ys = tassl_ref_f(y);
    for (int64_t r = 0; r < rows; r++) {
        double acc = 0;
        for (int64_t c = 0; c < cols; c++) acc += xs[r * cols + c];
        ys[r] = (float)(acc * scale);
    }
    return TASSL_OK;
}

static tassl_status ref_row_max(tassl_device *dev, tassl_ptr x, tassl_ptr y, tassl_ptr idx,
                                int64_t rows, int64_t cols) {
    (void)dev;
    const float *xs = tassl_ref_f(x);
    float *ys = tassl_ref_f(y), *is = idx.buf ? tassl_ref_f(idx) : NULL;
    for (int64_t r = 0; r < rows; r++) {
        int64_t best = 0;
        for (int64_t c = 1; c < cols; c++)
            if (xs[r * cols + c] > xs[r * cols + best] || isnan(xs[r * cols + c])) best = c;
        ys[r] = xs[r * cols + best];
        if (is) is[r] = (float)best;
    }
    return TASSL_OK;
}

static tassl_status ref_row_scatter(tassl_device *dev, tassl_ptr dy, tassl_ptr idx, tassl_ptr dx,
                                    int64_t rows, int64_t cols) {
    (void)dev;
    const float *g = tassl_ref_f(dy), *is = tassl_ref_f(idx);
    float *d = tassl_ref_f(dx);
    for (int64_t r = 0; r < rows; r++) d[r * cols + (int64_t)is[r]] += g[r];
    return TASSL_OK;
}

const tassl_kern_core tassl_ref_kern_core = {
    /* .fill        = */ ref_fill,
    /* .rng         = */ ref_rng,
    /* .copy        = */ ref_copy,
    /* .unary       = */ ref_unary,
    /* .unary_bwd   = */ ref_unary_bwd,
    /* .binary      = */ ref_binary,
    /* .row_sum     = */ ref_row_sum,
    /* .row_max     = */ ref_row_max,
    /* .row_scatter = */ ref_row_scatter,
    /* .binary_bwd  = */ ref_binary_bwd,
};
