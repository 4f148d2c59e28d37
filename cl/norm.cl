/* norm.cl — batch / group / instance / layer normalisation, forward and backward.
 *
 * One geometry for all of them (see src/backend/kern_norm.h): element i of a contiguous x of n
 * elements is in statistic group s(i) = (i / s_inner) % s_count and affine channel
 * c(i) = (i / c_inner) % c_count. A per-row reduction ("row" = a group or a channel, picked by
 * the (inner, count) pair passed to it) runs as one work-group per row: each item strides over
 * the row's elements with a private accumulator, then a local-memory tree sums the partials.
 * The host picks the local size per launch (a power of two, up to 256, no larger than the row
 * needs), so short rows (layer norm of small vectors) do not leave most items idle; the local
 * buffer is a kernel argument of that size. No atomics: the same on pocl and GPUs. Elementwise
 * kernels are one work-item per element.
 */

/* Element index of the j-th element of row r for the (inner, count) row structure. */
inline int norm_elem(int j, int r, int inner, int count) {
    int a = j / inner;
    return (a * count + r) * inner + (j - a * inner);
}

/* Sum of v over the work-group (every item gets the result). The local size is a power of two;
 * buf holds one float per item. */
inline float norm_wg_sum(float v, __local float *buf) {
    int l = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE); /* buf may still be read from a previous call */
    buf[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = (int)get_local_size(0) / 2; h > 0; h >>= 1) {
        if (l < h) buf[l] += buf[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return buf[0];
}

/* Per group s: mean, biased variance (second pass around the mean), 1/sqrt(var + eps).
 * Launch: s_count work-groups. */
__kernel void norm_stats(__global const float *x, int xo, __global float *mean, int mo,
                         __global float *var, int vo, __global float *rstd, int ro, int n,
                         int inner, int count, float eps, __local float *buf) {
    int r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    int k = n / count;
    float acc = 0.0f;
    for (int j = l; j < k; j += wg)
        acc += x[xo + norm_elem(j, r, inner, count)];
    float m = norm_wg_sum(acc, buf) / (float)k;
    acc = 0.0f;
    for (int j = l; j < k; j += wg) {
        float d = x[xo + norm_elem(j, r, inner, count)] - m;
        acc += d * d;
    }
    float v = norm_wg_sum(acc, buf) / (float)k;
    if (l == 0) {
        mean[mo + r] = m;
        var[vo + r] = v;
        rstd[ro + r] = 1.0f / sqrt(v + eps);
    }
}

/* rstd[m] = 1/sqrt(var[m] + eps). One item per entry. */
__kernel void norm_rstd(__global const float *var, int vo, __global float *rstd, int ro, int count,
                        float eps) {
    int m = get_global_id(0);
    if (m >= count) return;
    rstd[ro + m] = 1.0f / sqrt(var[vo + m] + eps);
}

/* Running statistics, in place (PyTorch momentum): r = (1 − mom)·r + mom·batch. */
__kernel void norm_running(__global const float *mean, int mo, __global const float *var, int vo,
                           __global float *rmean, int rmo, __global float *rvar, int rvo, int count,
                           float mom, float unbias) {
    int m = get_global_id(0);
    if (m >= count) return;
    rmean[rmo + m] = (1.0f - mom) * rmean[rmo + m] + mom * mean[mo + m];
    rvar[rvo + m] = (1.0f - mom) * rvar[rvo + m] + mom * unbias * var[vo + m];
}

/* y = x̂·gamma[c] + beta[c]; has_gamma / has_beta = 0 means 1 / 0 (the buffer is a dummy). */
__kernel void norm_forward(__global const float *x, int xo, __global const float *mean, int mo,
                           __global const float *rstd, int ro, __global const float *gamma, int go,
                           int has_gamma, __global const float *beta, int bo, int has_beta,
                           __global float *y, int yo, int n, int s_inner, int s_count, int c_inner,
                           int c_count) {
    int i = get_global_id(0);
    if (i >= n) return;
    int s = (i / s_inner) % s_count, c = (i / c_inner) % c_count;
    float v = (x[xo + i] - mean[mo + s]) * rstd[ro + s];
    if (has_gamma) v *= gamma[go + c];
    if (has_beta) v += beta[bo + c];
    y[yo + i] = v;
}

/* Backward reductions, per row r of the (r_inner, r_count) structure, with w = gamma[c(i)]
 * (or 1 without gamma) and x̂ recomputed from x, mean, rstd:
 *   out1[r] (+)= Σ w·dy,  out2[r] (+)= Σ w·dy·x̂   (accumulate when acc != 0)
 * want1 / want2 = 0 skip the write (the buffer is a dummy). Rows = channels give dbeta/dgamma;
 * rows = groups give the two means the input gradient needs. Launch: r_count groups. */
__kernel void norm_bwd_reduce(__global const float *x, int xo, __global const float *mean, int mo,
                              __global const float *rstd, int ro, __global const float *gamma,
                              int go, int has_gamma, __global const float *dy, int dyo,
                              __global float *out1, int o1, int want1, __global float *out2, int o2,
                              int want2, int acc, int n, int r_inner, int r_count, int s_inner,
                              int s_count, int c_inner, int c_count, __local float *buf) {
    int r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    int k = n / r_count;
    float a1 = 0.0f, a2 = 0.0f;
    for (int j = l; j < k; j += wg) {
        int i = norm_elem(j, r, r_inner, r_count);
        int s = (i / s_inner) % s_count;
        float g = dy[dyo + i];
        if (has_gamma) g *= gamma[go + (i / c_inner) % c_count];
        a1 += g;
        a2 += g * (x[xo + i] - mean[mo + s]) * rstd[ro + s];
    }
    float t1 = norm_wg_sum(a1, buf);
    float t2 = norm_wg_sum(a2, buf);
    if (l == 0) {
        if (want1) out1[o1 + r] = acc ? out1[o1 + r] + t1 : t1;
        if (want2) out2[o2 + r] = acc ? out2[o2 + r] + t2 : t2;
    }
}

/* dx += rstd·(g − Σg/k − x̂·Σ(g·x̂)/k) in training (sums from norm_bwd_reduce over groups, in
 * sums[s] and sums[s_count + s]), dx += rstd·g in eval (sums unused). One item per element. */
__kernel void norm_bwd_x(__global const float *x, int xo, __global const float *mean, int mo,
                         __global const float *rstd, int ro, __global const float *gamma, int go,
                         int has_gamma, __global const float *dy, int dyo,
                         __global const float *sums, int so, __global float *dx, int dxo,
                         int training, int n, int s_inner, int s_count, int c_inner, int c_count) {
    int i = get_global_id(0);
    if (i >= n) return;
    int s = (i / s_inner) % s_count;
    float g = dy[dyo + i];
    if (has_gamma) g *= gamma[go + (i / c_inner) % c_count];
    float d = g;
    if (training) {
        float k = (float)(n / s_count);
        float xh = (x[xo + i] - mean[mo + s]) * rstd[ro + s];
        d = g - sums[so + s] / k - xh * sums[so + s_count + s] / k;
    }
    dx[dxo + i] += rstd[ro + s] * d;
}
