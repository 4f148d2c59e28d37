/* ref/loss.c — reference (plain C) loss kernels: softmax / log-softmax, cross-entropy and the
 * pointwise losses. Naive loops with double accumulators; the oracle for cl/loss.cl, written
 * independently of it (formulas as documented in kern_loss.h). */
#include <math.h>
#include "../kern_loss.h"
#include "ref.h"

/* ---- softmax -------------------------------------------------------------------------------- */

static tassl_status ref_softmax(tassl_device *dev, tassl_ptr xp, tassl_ptr yp, int64_t A, int64_t M,
                                int64_t B, int log_out) {
    (void)dev;
    const float *x = tassl_ref_f(xp); // (A, M, B)
    float *y = tassl_ref_f(yp);       // (A, M, B)
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < B; b++) {
            const float *xr = x + a * M * B + b;
            float *yr = y + a * M * B + b;
            double mx = -INFINITY, sum = 0;
            for (int64_t m = 0; m < M; m++)
                mx = fmax(mx, (double)xr[m * B]);
            for (int64_t m = 0; m < M; m++)
                sum += exp((double)xr[m * B] - mx);
            for (int64_t m = 0; m < M; m++) {
                double z = (double)xr[m * B] - mx;
                yr[m * B] = (float)(log_out ? z - log(sum) : exp(z) / sum);
            }
        }
    return TASSL_OK;
}

static tassl_status ref_softmax_bwd(tassl_device *dev, tassl_ptr yp, tassl_ptr dyp, tassl_ptr dxp,
                                    int64_t A, int64_t M, int64_t B, int log_out) {
    (void)dev;
    const float *y = tassl_ref_f(yp);   // (A, M, B)
    const float *dy = tassl_ref_f(dyp); // (A, M, B)
    float *dx = tassl_ref_f(dxp);       // (A, M, B)
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < B; b++) {
            int64_t base = a * M * B + b;
            double dot = 0;
            for (int64_t m = 0; m < M; m++)
                dot +=
                    log_out ? (double)dy[base + m * B] : (double)dy[base + m * B] * y[base + m * B];
            for (int64_t m = 0; m < M; m++) {
                int64_t i = base + m * B;
                double g = log_out ? dy[i] - exp((double)y[i]) * dot : y[i] * (dy[i] - dot);
                dx[i] += (float)g;
            }
        }
    return TASSL_OK;
}

/* ---- cross-entropy -------------------------------------------------------------------------- */

/* log-sum-exp of row x[c·S], c < C. */
static double lse_row(const float *x, int64_t C, int64_t S) {
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < C; c++)
        mx = fmax(mx, (double)x[c * S]);
    for (int64_t c = 0; c < C; c++)
        sum += exp((double)x[c * S] - mx);
    return mx + log(sum);
}

static tassl_status ref_ce(tassl_device *dev, tassl_ptr lp, tassl_ptr tp, tassl_ptr wp,
                           tassl_ptr lossp, tassl_ptr wtp, int64_t N, int64_t C, int64_t S,
                           float eps, int ignore) {
    (void)dev;
    const float *x = tassl_ref_f(lp);              // (N, C, S)
    const float *t = tassl_ref_f(tp);              // (N, S)
    const float *w = wp.buf ? tassl_ref_f(wp) : 0; // (C) or absent
    float *loss = tassl_ref_f(lossp);              // (N, S)
    float *wt = wtp.buf ? tassl_ref_f(wtp) : 0;    // (N, S) or absent
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            const float *xr = x + n * C * S + s;
            int64_t r = n * S + s;
            int tc = (int)t[r];
            if (tc == ignore) {
                loss[r] = 0;
                if (wt) wt[r] = 0;
                continue;
            }
            if (tc < 0 || tc >= C) {
                loss[r] = NAN;
                if (wt) wt[r] = NAN;
                continue;
            }
            double lse = lse_row(xr, C, S), smooth = 0;
            for (int64_t c = 0; c < C; c++)
                smooth -= (w ? w[c] : 1.0) * (xr[c * S] - lse);
            double wtc = w ? w[tc] : 1.0;
            double nll = -wtc * (xr[tc * S] - lse);
            loss[r] = (float)((1.0 - eps) * nll + eps / (double)C * smooth);
            if (wt) wt[r] = (float)wtc;
        }
    return TASSL_OK;
}

static tassl_status ref_ce_bwd(tassl_device *dev, tassl_ptr lp, tassl_ptr tp, tassl_ptr wp,
                               tassl_ptr dyp, int dy_stride, tassl_ptr denp, tassl_ptr dxp,
                               int64_t N, int64_t C, int64_t S, float eps, int ignore) {
    (void)dev;
    const float *x = tassl_ref_f(lp);              // (N, C, S)
    const float *t = tassl_ref_f(tp);              // (N, S)
    const float *w = wp.buf ? tassl_ref_f(wp) : 0; // (C) or absent
    const float *dy = tassl_ref_f(dyp);            // (N, S) or (1)
    double den = denp.buf ? tassl_ref_f(denp)[0] : 1.0;
    float *dx = tassl_ref_f(dxp); // (N, C, S)
    double wsum = 0;
    for (int64_t c = 0; c < C; c++)
        wsum += w ? w[c] : 1.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            const float *xr = x + n * C * S + s;
            float *dxr = dx + n * C * S + s;
            int64_t r = n * S + s;
            int tc = (int)t[r];
            if (tc == ignore) continue;
            double g = dy[r * dy_stride] / den;
            if (tc < 0 || tc >= C) g = NAN;
            double lse = lse_row(xr, C, S);
            double wt = (tc >= 0 && tc < C) ? (w ? w[tc] : 1.0) : NAN;
            for (int64_t c = 0; c < C; c++) {
                double p = exp(xr[c * S] - lse), wc = w ? w[c] : 1.0;
                double d = (1.0 - eps) * wt * (p - (c == tc)) + eps / (double)C * (p * wsum - wc);
                dxr[c * S] += (float)(g * d);
            }
        }
    return TASSL_OK;
}

/* ---- pointwise losses ----------------------------------------------------------------------- */

/* Element offset of the i-th (row-major) element of a strided view. */
static int64_t view_at(const tassl_kview *v, int64_t i) {
    int64_t o = v->off;
    for (int d = v->ndim - 1; d >= 0; d--) {
        o += (i % v->shape[d]) * v->stride[d];
        i /= v->shape[d];
    }
    return o;
}

/* softplus(−x) = −log σ(x), stable for any x. */
static double softplus_neg(double x) {
    return log1p(exp(-fabs(x))) + fmax(-x, 0.0);
}

static double pw_loss(tassl_loss_op op, double a, double b, double p, double beta) {
    double d = a - b;
    switch (op) {
    case TASSL_LOSS_MSE:
        return d * d;
    case TASSL_LOSS_L1:
        return fabs(d);
    case TASSL_LOSS_SMOOTH_L1:
        return fabs(d) < beta ? 0.5 * d * d / beta : fabs(d) - 0.5 * beta;
    case TASSL_LOSS_BCE:
        return (1 - b) * a + (1 + (p - 1) * b) * softplus_neg(a);
    default:
        return NAN;
    }
}

/* Partial derivatives of pw_loss by a, b and p. */
static void pw_grad(tassl_loss_op op, double a, double b, double p, double beta, double *ga,
                    double *gb, double *gp) {
    double d = a - b, sg = (d > 0) - (d < 0);
    *gp = 0;
    switch (op) {
    case TASSL_LOSS_MSE:
        *ga = 2 * d;
        break;
    case TASSL_LOSS_L1:
        *ga = sg;
        break;
    case TASSL_LOSS_SMOOTH_L1:
        *ga = fabs(d) < beta ? d / beta : sg;
        break;
    case TASSL_LOSS_BCE: {
        double sig = 1.0 / (1.0 + exp(-a)); // σ(a); exp overflow gives 0, which is right
        double sp = softplus_neg(a);
        *ga = (1 - b) + (1 + (p - 1) * b) * (sig - 1);
        *gb = -a + (p - 1) * sp;
        *gp = b * sp;
        return;
    }
    default:
        *ga = NAN;
        break;
    }
    *gb = -*ga;
}

static tassl_status ref_pointwise(tassl_device *dev, tassl_loss_op op, tassl_ptr ap, tassl_ptr bp,
                                  const tassl_kview *pw, tassl_ptr yp, int64_t n, float beta) {
    (void)dev;
    const float *a = tassl_ref_f(ap), *b = tassl_ref_f(bp); // (n)
    float *y = tassl_ref_f(yp);                             // (n)
    const float *p = pw && pw->buf ? pw->buf->data : 0;     // view broadcast to (n)
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)pw_loss(op, a[i], b[i], p ? p[view_at(pw, i)] : 1.0, beta);
    return TASSL_OK;
}

static tassl_status ref_pointwise_bwd(tassl_device *dev, tassl_loss_op op, tassl_ptr ap,
                                      tassl_ptr bp, const tassl_kview *pw, tassl_ptr dyp,
                                      int dy_stride, float scale, tassl_ptr dap, tassl_ptr dbp,
                                      tassl_ptr dpp, int64_t n, float beta) {
    (void)dev;
    const float *a = tassl_ref_f(ap), *b = tassl_ref_f(bp); // (n)
    const float *dy = tassl_ref_f(dyp);                     // (n) or (1)
    const float *p = pw && pw->buf ? pw->buf->data : 0;     // view broadcast to (n)
    float *da = dap.buf ? tassl_ref_f(dap) : 0, *db = dbp.buf ? tassl_ref_f(dbp) : 0;
    float *dp = dpp.buf ? tassl_ref_f(dpp) : 0;
    for (int64_t i = 0; i < n; i++) {
        double g = (double)scale * dy[i * dy_stride], ga, gb, gp;
        pw_grad(op, a[i], b[i], p ? p[view_at(pw, i)] : 1.0, beta, &ga, &gb, &gp);
        if (da) da[i] += (float)(g * ga);
        if (db) db[i] += (float)(g * gb);
        if (dp) dp[i] += (float)(g * gp);
    }
    return TASSL_OK;
}

const tassl_kern_loss tassl_ref_kern_loss = {
    /* .softmax = */ ref_softmax,
    /* .softmax_bwd = */ ref_softmax_bwd,
    /* .ce = */ ref_ce,
    /* .ce_bwd = */ ref_ce_bwd,
    /* .pointwise = */ ref_pointwise,
    /* .pointwise_bwd = */ ref_pointwise_bwd,
};
