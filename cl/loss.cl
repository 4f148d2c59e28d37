/* loss.cl — softmax / log-softmax, fused cross-entropy and pointwise losses, forward and backward
 * side by side. Formulas and shapes: src/backend/kern_loss.h.
 *
 * Row kernels (softmax, cross-entropy) use one work-item per row and loop over the reduced dim:
 * rows are many (N·S positions, A·B softmax rows) and short (classes) in this library's uses, so
 * a work-group reduction would only add barriers. Work-items are numbered so that neighbours
 * handle neighbouring b / s, i.e. neighbouring addresses for the (A, M, B) / (N, C, S) layouts.
 * Pointer arguments come as (buffer, int element offset) pairs.
 *
 * Specialisation (-D, every one has a default so the file compiles alone):
 *   LOG_SOFTMAX  0/1  softmax kernels: log-softmax instead of softmax
 *   HAS_WEIGHT   0/1  cross-entropy class weights present
 *   HAS_WT       0/1  cross-entropy forward writes the per-row target weight
 *   HAS_DEN      0/1  cross-entropy backward divides the upstream gradient by den[0] (mean)
 *   LOSS_OP      0..3 pointwise loss (tassl_loss_op: MSE, L1, SMOOTH_L1, BCE)
 *   HAS_PW       0/1  BCE pos_weight present
 *   HAS_DA, HAS_DB, HAS_DP  0/1  which gradients the pointwise backward accumulates
 */
#ifndef LOG_SOFTMAX
#define LOG_SOFTMAX 0
#endif
#ifndef HAS_WEIGHT
#define HAS_WEIGHT 0
#endif
#ifndef HAS_WT
#define HAS_WT 0
#endif
#ifndef HAS_DEN
#define HAS_DEN 0
#endif
#ifndef LOSS_OP
#define LOSS_OP 0
#endif
#ifndef HAS_PW
#define HAS_PW 0
#endif
#ifndef HAS_DA
#define HAS_DA 1
#endif
#ifndef HAS_DB
#define HAS_DB 0
#endif
#ifndef HAS_DP
#define HAS_DP 0
#endif

/* ---- softmax over M of (A, M, B) ------------------------------------------------------------ */

/* One work-item per (a, b); max-subtracted so ±1000 logits stay finite. */
__kernel void softmax_fwd(__global const float *x, int xo, __global float *y, int yo, int A, int M,
                          int B) {
    int r = get_global_id(0);
    if (r >= A * B) return;
    int base = (r / B) * M * B + r % B;
    x += xo + base;
    y += yo + base;
    float mx = -INFINITY, sum = 0.0f;
    for (int m = 0; m < M; m++) mx = fmax(mx, x[m * B]);
    for (int m = 0; m < M; m++) sum += exp(x[m * B] - mx);
#if LOG_SOFTMAX
    float ls = log(sum);
    for (int m = 0; m < M; m++) y[m * B] = x[m * B] - mx - ls;
#else
    float inv = 1.0f / sum;
    for (int m = 0; m < M; m++) y[m * B] = exp(x[m * B] - mx) * inv;
#endif
}

/* dx += y·(dy − Σ dy·y)  (softmax)   or   dx += dy − exp(y)·Σ dy  (log-softmax). */
__kernel void softmax_bwd(__global const float *y, int yo, __global const float *dy, int dyo,
                          __global float *dx, int dxo, int A, int M, int B) {
    int r = get_global_id(0);
    if (r >= A * B) return;
    int base = (r / B) * M * B + r % B;
    y += yo + base;
    dy += dyo + base;
    dx += dxo + base;
    float dot = 0.0f;
#if LOG_SOFTMAX
    for (int m = 0; m < M; m++) dot += dy[m * B];
    for (int m = 0; m < M; m++) dx[m * B] += dy[m * B] - exp(y[m * B]) * dot;
#else
    for (int m = 0; m < M; m++) dot += dy[m * B] * y[m * B];
    for (int m = 0; m < M; m++) dx[m * B] += y[m * B] * (dy[m * B] - dot);
#endif
}

/* ---- cross-entropy over C of (N, C, S) ------------------------------------------------------ */

#if HAS_WEIGHT
#define CLASS_W(c) w[c]
#else
#define CLASS_W(c) 1.0f
#endif

/* log-sum-exp of x[c·S], c < C */
inline float lse_row(__global const float *x, int C, int S) {
    float mx = -INFINITY, sum = 0.0f;
    for (int c = 0; c < C; c++) mx = fmax(mx, x[c * S]);
    for (int c = 0; c < C; c++) sum += exp(x[c * S] - mx);
    return mx + log(sum);
}

/* One work-item per (n, s): loss = (1 − ε)·w_t·(lse − x_t) + (ε/C)·Σ_c w_c·(lse − x_c). */
__kernel void ce_fwd(__global const float *x, int xo, __global const float *t, int to,
                     __global const float *w, int wo, __global float *loss, int lo,
                     __global float *wt, int wto, int N, int C, int S, float eps, int ignore) {
    int r = get_global_id(0);
    if (r >= N * S) return;
    x += xo + (r / S) * C * S + r % S;
    w += wo;
    int tc = (int)t[to + r];
    float l, wr;
    if (tc == ignore) {
        l = 0.0f;
        wr = 0.0f;
    } else if (tc < 0 || tc >= C) {
        l = NAN;
        wr = NAN;
    } else {
        float lse = lse_row(x, C, S), smooth = 0.0f;
        for (int c = 0; c < C; c++) smooth += CLASS_W(c) * (lse - x[c * S]);
        wr = CLASS_W(tc);
        l = (1.0f - eps) * wr * (lse - x[tc * S]) + eps / (float)C * smooth;
    }
    loss[lo + r] = l;
#if HAS_WT
    wt[wto + r] = wr;
#endif
}

/* One work-item per (n, s), gathering over its own row only (no scatter):
 * dx_c += g·((1 − ε)·w_t·(p_c − [c = t]) + (ε/C)·(p_c·Σw − w_c)). */
__kernel void ce_bwd(__global const float *x, int xo, __global const float *t, int to,
                     __global const float *w, int wo, __global const float *dy, int dyo,
                     int dy_stride, __global const float *den, int deno, __global float *dx,
                     int dxo, int N, int C, int S, float eps, int ignore) {
    int r = get_global_id(0);
    if (r >= N * S) return;
    int base = (r / S) * C * S + r % S;
    x += xo + base;
    dx += dxo + base;
    w += wo;
    int tc = (int)t[to + r];
    if (tc == ignore) return;
    float g = dy[dyo + r * dy_stride];
#if HAS_DEN
    g /= den[deno];
#endif
    float wt = NAN;
    if (tc >= 0 && tc < C) wt = CLASS_W(tc);
    else g = NAN;
    float wsum = 0.0f;
    for (int c = 0; c < C; c++) wsum += CLASS_W(c);
    float lse = lse_row(x, C, S), a = (1.0f - eps) * wt, e = eps / (float)C;
    for (int c = 0; c < C; c++) {
        float p = exp(x[c * S] - lse);
        float d = a * (p - (c == tc ? 1.0f : 0.0f)) + e * (p * wsum - CLASS_W(c));
        dx[c * S] += g * d;
    }
}

/* ---- pointwise losses ----------------------------------------------------------------------- */

/* softplus(−x) = −log σ(x), stable for any x */
inline float softplus_neg(float x) { return log1p(exp(-fabs(x))) + fmax(-x, 0.0f); }

inline float pw_loss(float a, float b, float p, float beta) {
    float d = a - b;
#if LOSS_OP == 0
    return d * d;
#elif LOSS_OP == 1
    return fabs(d);
#elif LOSS_OP == 2
    return fabs(d) < beta ? 0.5f * d * d / beta : fabs(d) - 0.5f * beta;
#else
    return (1.0f - b) * a + (1.0f + (p - 1.0f) * b) * softplus_neg(a);
#endif
}

__kernel void pointwise_fwd(__global const float *a, int ao, __global const float *b, int bo,
                            __global const float *p, tview pv, __global float *y, int yo, int n,
                            float beta) {
    int i = get_global_id(0);
    if (i >= n) return;
#if HAS_PW
    float pi = p[tview_at(pv, i)];
#else
    float pi = 1.0f;
#endif
    y[yo + i] = pw_loss(a[ao + i], b[bo + i], pi, beta);
}

/* g = scale·dy[i·dy_stride]; da += g·∂l/∂a, db += g·∂l/∂b, dp += g·∂l/∂p (where enabled). */
__kernel void pointwise_bwd(__global const float *a, int ao, __global const float *b, int bo,
                            __global const float *p, tview pv, __global const float *dy, int dyo,
                            int dy_stride, float scale, __global float *da, int dao,
                            __global float *db, int dbo, __global float *dp, int dpo, int n,
                            float beta) {
    int i = get_global_id(0);
    if (i >= n) return;
    float x = a[ao + i], t = b[bo + i], d = x - t, g = scale * dy[dyo + i * dy_stride];
    float ga, gb, gp = 0.0f;
#if HAS_PW
    float pi = p[tview_at(pv, i)];
#else
    float pi = 1.0f;
#endif
#if LOSS_OP == 3
    float sig = x >= 0.0f ? 1.0f / (1.0f + exp(-x)) : exp(x) / (1.0f + exp(x));
    float sp = softplus_neg(x);
    ga = (1.0f - t) + (1.0f + (pi - 1.0f) * t) * (sig - 1.0f);
    gb = -x + (pi - 1.0f) * sp;
    gp = t * sp;
#else
#if LOSS_OP == 0
    ga = 2.0f * d;
#elif LOSS_OP == 1
    ga = sign(d);
#else
    ga = fabs(d) < beta ? d / beta : sign(d);
#endif
    gb = -ga;
#endif
#if HAS_DA
    da[dao + i] += g * ga;
#endif
#if HAS_DB
    db[dbo + i] += g * gb;
#endif
#if HAS_DP
    dp[dpo + i] += g * gp;
#endif
}
