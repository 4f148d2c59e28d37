/* init.c — parameter initialisers (Kaiming, Xavier, truncated normal, uniform, normal, constants,
 * MAE's sin-cos position tables).
 *
 * Every random initialiser draws from the context's Philox stream ON THE HOST — element i uses
 * counter + i of the stream, exactly as tassl_rand_/tassl_randn_ do on a device — transforms in
 * double, uploads once and advances the counter by the element count. Initialisation runs once
 * per model, so the upload costs nothing that matters, and in exchange a seed gives bit-identical
 * weights on every backend (device normals would differ in the last bits of log/cos).
 */
#include <math.h>
#include <stdlib.h>
#include "tassl/nn.h"

double tassl_init_gain(tassl_nonlinearity nl, double param) {
    switch (nl) {
    case TASSL_NL_RELU:
        return sqrt(2.0);
    case TASSL_NL_LEAKY_RELU:
        return sqrt(2.0 / (1.0 + param * param));
    case TASSL_NL_TANH:
        return 5.0 / 3.0;
    case TASSL_NL_LINEAR:
    case TASSL_NL_SIGMOID:
        break;
    }
    return 1.0;
}

void tassl_init_fans(const tassl_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    char s[64];
    TASSL_CHECK(t->ndim >= 2, "tassl_init_fans: tensor %s has fewer than 2 dims",
                tassl_shape_str(t, s, sizeof s));
    int64_t rf = 1;
    for (int d = 2; d < t->ndim; d++)
        rf *= t->shape[d];
    *fan_in = t->shape[1] * rf;
    *fan_out = t->shape[0] * rf;
}

typedef enum dist { DIST_UNIFORM, DIST_NORMAL, DIST_TRUNC } dist;

/* Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error 1.2e-9), refined by one
 * Halley step on erfc — double precision throughout. */
static double norm_ppf(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double plow = 0.02425;
    double x;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - plow) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

static double norm_cdf(double x) {
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Fill t from the context's stream: uniform in [a, b), normal (mean a, std b), or normal
 * (mean a, std b) truncated to [lo, hi]. */
static tassl_status draw(tassl_tensor *t, dist kind, double a, double b, double lo, double hi) {
    char s[64];
    TASSL_CHECK(tassl_is_contiguous(t), "tassl_init: tensor %s is not contiguous",
                tassl_shape_str(t, s, sizeof s));
    int64_t n = tassl_numel(t);
    tassl_rng_state st = tassl_rng_get(t->ctx);
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    if (!h)
        return tassl_ctx_fail(t->ctx, tassl_error(TASSL_ERR_NOMEM,
                                                  "tassl_init: out of host memory for %lld floats",
                                                  (long long)n));
    double plo = 0, phi = 1;
    if (kind == DIST_TRUNC) {
        plo = norm_cdf((lo - a) / b);
        phi = norm_cdf((hi - a) / b);
    }
    for (int64_t i = 0; i < n; i++) {
        uint64_t idx = st.counter + (uint64_t)i;
        switch (kind) {
        case DIST_UNIFORM:
            h[i] = (float)(a + (b - a) * tassl_philox_uniform(st.seed, idx));
            break;
        case DIST_NORMAL:
            h[i] = (float)(a + b * tassl_philox_normal(st.seed, idx));
            break;
        case DIST_TRUNC: {
            /* centre of the 2⁻²⁴ cell keeps p strictly inside (Φ(α), Φ(β)) */
            double u = ((double)(tassl_philox_u32(st.seed, idx) >> 8) + 0.5) / 16777216.0;
            double x = a + b * norm_ppf(plo + u * (phi - plo));
            h[i] = (float)(x < lo ? lo : (x > hi ? hi : x));
            break;
        }
        }
    }
    st.counter += (uint64_t)n;
    tassl_rng_set(t->ctx, st);
    tassl_status r = tassl_tensor_write(t, h);
    free(h);
    return r;
}

tassl_status tassl_init_constant_(tassl_tensor *t, float value) {
    tassl_fill_(t, value);
    return tassl_ctx_status(t->ctx);
}

tassl_status tassl_init_uniform_(tassl_tensor *t, double lo, double hi) {
    return draw(t, DIST_UNIFORM, lo, hi, 0, 0);
}

tassl_status tassl_init_normal_(tassl_tensor *t, double mean, double std) {
    return draw(t, DIST_NORMAL, mean, std, 0, 0);
}

tassl_status tassl_init_trunc_normal_(tassl_tensor *t, double mean, double std, double lo,
                                      double hi) {
    TASSL_CHECK(std > 0 && lo < hi, "tassl_init_trunc_normal_: std %g, bounds [%g, %g]", std, lo,
                hi);
    return draw(t, DIST_TRUNC, mean, std, lo, hi);
}

static double kaiming_std(const tassl_tensor *t, double a, tassl_fan_mode mode,
                          tassl_nonlinearity nl, bool matrix) {
    int64_t fi, fo;
    tassl_init_fans(t, &fi, &fo);
    if (matrix) fo = t->shape[0];
    int64_t fan = mode == TASSL_FAN_IN ? fi : fo;
    return tassl_init_gain(nl, a) / sqrt((double)(fan > 0 ? fan : 1));
}

static double xavier_std(const tassl_tensor *t, double gain, bool matrix) {
    int64_t fi, fo;
    tassl_init_fans(t, &fi, &fo);
    if (matrix) fo = t->shape[0];
    return gain * sqrt(2.0 / (double)(fi + fo > 0 ? fi + fo : 1));
}

tassl_status tassl_init_kaiming_normal_(tassl_tensor *t, double a, tassl_fan_mode mode,
                                        tassl_nonlinearity nl) {
    return draw(t, DIST_NORMAL, 0, kaiming_std(t, a, mode, nl, false), 0, 0);
}

tassl_status tassl_init_kaiming_uniform_(tassl_tensor *t, double a, tassl_fan_mode mode,
                                         tassl_nonlinearity nl) {
    double bound = sqrt(3.0) * kaiming_std(t, a, mode, nl, false);
    return draw(t, DIST_UNIFORM, -bound, bound, 0, 0);
}

tassl_status tassl_init_xavier_normal_(tassl_tensor *t, double gain) {
    return draw(t, DIST_NORMAL, 0, xavier_std(t, gain, false), 0, 0);
}

tassl_status tassl_init_xavier_uniform_(tassl_tensor *t, double gain) {
    double bound = sqrt(3.0) * xavier_std(t, gain, false);
    return draw(t, DIST_UNIFORM, -bound, bound, 0, 0);
}

tassl_status tassl_init_sincos_(tassl_tensor *t, int ngrid, const int64_t *grid, bool cls) {
    char s[64];
    TASSL_CHECK(ngrid >= 1 && ngrid <= 3, "tassl_init_sincos_: %d grid dims", ngrid);
    TASSL_CHECK((t->ndim == 2 || t->ndim == 3) && tassl_is_contiguous(t),
                "tassl_init_sincos_: tensor %s, expected contiguous (1, T, D) or (T, D)",
                tassl_shape_str(t, s, sizeof s));
    int64_t D = t->shape[t->ndim - 1], rows = t->shape[t->ndim - 2], T = 1;
    for (int g = 0; g < ngrid; g++)
        T *= grid[g];
    TASSL_CHECK(D % (2 * ngrid) == 0 && rows == T + (cls ? 1 : 0) && tassl_numel(t) == rows * D,
                "tassl_init_sincos_: tensor %s for a %d-D grid of %lld tokens%s: expected rows "
                "T[+1] and D divisible by %d",
                tassl_shape_str(t, s, sizeof s), ngrid, (long long)T, cls ? " + cls" : "",
                2 * ngrid);
    float *h = calloc((size_t)(rows * D), sizeof *h);
    if (!h)
        return tassl_ctx_fail(
            t->ctx, tassl_error(TASSL_ERR_NOMEM, "tassl_init_sincos_: out of host memory"));
    int64_t part = D / ngrid, half = part / 2;
    for (int64_t tok = 0; tok < T; tok++) {
        float *row = h + (tok + (cls ? 1 : 0)) * D;
        int64_t rem = tok;
        for (int g = 0; g < ngrid; g++) {
            /* axis g counts from the fastest (w) */
            int64_t extent = grid[ngrid - 1 - g];
            double pos = (double)(rem % extent);
            rem /= extent;
            for (int64_t k = 0; k < half; k++) {
                double omega = 1.0 / pow(10000.0, (double)k / (double)half);
                row[g * part + k] = (float)sin(pos * omega);
                row[g * part + half + k] = (float)cos(pos * omega);
            }
        }
    }
    tassl_status r = tassl_tensor_write(t, h);
    free(h);
    return r;
}

tassl_status tassl_init_apply_(tassl_tensor *t, const tassl_init *in) {
    switch (in->kind) {
    case TASSL_INIT_NONE:
        return TASSL_OK;
    case TASSL_INIT_CONSTANT:
        return tassl_init_constant_(t, (float)in->a);
    case TASSL_INIT_UNIFORM:
        return tassl_init_uniform_(t, in->a, in->b);
    case TASSL_INIT_NORMAL:
        return tassl_init_normal_(t, in->a, in->b);
    case TASSL_INIT_TRUNC_NORMAL: {
        double k = in->b > 0 ? in->b : 2.0;
        return tassl_init_trunc_normal_(t, 0.0, in->a, -k * in->a, k * in->a);
    }
    case TASSL_INIT_KAIMING_NORMAL:
        return draw(t, DIST_NORMAL, 0, kaiming_std(t, in->a, in->mode, in->nl, in->matrix), 0, 0);
    case TASSL_INIT_KAIMING_UNIFORM: {
        double bound = sqrt(3.0) * kaiming_std(t, in->a, in->mode, in->nl, in->matrix);
        return draw(t, DIST_UNIFORM, -bound, bound, 0, 0);
    }
    case TASSL_INIT_XAVIER_NORMAL:
        return draw(t, DIST_NORMAL, 0, xavier_std(t, in->a > 0 ? in->a : 1.0, in->matrix), 0, 0);
    case TASSL_INIT_XAVIER_UNIFORM: {
        double bound = sqrt(3.0) * xavier_std(t, in->a > 0 ? in->a : 1.0, in->matrix);
        return draw(t, DIST_UNIFORM, -bound, bound, 0, 0);
    }
    case TASSL_INIT_SINCOS:
        return tassl_init_sincos_(t, in->ngrid, in->grid, in->cls);
    }
    return tassl_error(TASSL_ERR_ARG, "tassl_init_apply_: unknown initialiser kind %d",
                       (int)in->kind);
}
