/* norm.cl — batch / group / instance / layer normalisation, forward and backward.
 *
 * One geometry for all of them (see src/backend/kern_norm.h): element i of a contiguous x of n
 * elements is in statistic group s(i) = (i / s_inner) % s_count and affine channel
 * c(i) = (i / c_inner) % c_count. A per-row reduction ("row" = a group or a channel, picked by
 * the (inner, count) pair passed to it) runs as one work-group per row: each item strides over
 * the row's elements with a private accumulator, then a local-memory tree sums the partials.
 * The host picks the local size per launch (a power of two, up to 256, no larger than the row
 * needs), so short rows (layer norm of small vectors) do not leave most items idle; the local
 * buffer is a kernel argument of that size. No atomics: the same on pocl and GPUs.
 *
 * No division per element: a work-item of a reduction takes one contiguous range of its row's
 * elements (not every wg-th one), and the elementwise kernels take NORM_CHUNK consecutive
 * elements each; both walk their range in "pieces" — maximal runs of consecutive elements of x
 * with one group s and one channel c — and find s and c by division once per piece. For batch
 * norm a piece is a whole (n, c) plane, so the inner loops are plain streams (2-5x faster on
 * pocl than the per-element index arithmetic).
 */

#define NORM_CHUNK 64 /* elements per work-item of the elementwise kernels */

/* No a·b + c → fma contraction: in a group of one element g − mean(g) must be exactly 0 (the
 * reference's), and an fma leaves the product's rounding error, which 1/sqrt(eps) magnifies. */
#pragma OPENCL FP_CONTRACT OFF


/* Elements from i to the end of its piece: the next change of group or channel. */
inline int norm_piece(int i, int s_inner, int c_inner) {
    return min(s_inner - i % s_inner, c_inner - i % c_inner);
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

/* The contiguous share [*j0, *j1) of this work-item among the k elements of its row. */
inline void norm_share(int k, int *j0, int *j1) {
    int l = get_local_id(0), wg = get_local_size(0);
    int per = (k + wg - 1) / wg;
    *j0 = min(l * per, k);
    *j1 = min(*j0 + per, k);
}

/* Σ (x − m) (sq = 0) or Σ (x − m)² (sq = 1) over this item's share of row r of (inner, count). */
inline float norm_row_sum(__global const float *x, int n, int r, int inner, int count, float m,
                          int sq) {
    int j0, j1;
    norm_share(n / count, &j0, &j1);
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (int j = j0; j < j1;) {
        int a = j / inner, t = j - a * inner;
        int len = min(inner - t, j1 - j);
        __global const float *p = x + (a * count + r) * inner + t;
        int q = 0;
        if (sq) {
            for (; q + 4 <= len; q += 4) {
                float d0 = p[q] - m, d1 = p[q + 1] - m, d2 = p[q + 2] - m, d3 = p[q + 3] - m;
                a0 += d0 * d0;
                a1 += d1 * d1;
                a2 += d2 * d2;
                a3 += d3 * d3;
            }
            for (; q < len; q++) {
                float d = p[q] - m;
                a0 += d * d;
            }
        } else {
            for (; q + 4 <= len; q += 4) {
                a0 += p[q] - m;
                a1 += p[q + 1] - m;
                a2 += p[q + 2] - m;
                a3 += p[q + 3] - m;
            }
            for (; q < len; q++)
                a0 += p[q] - m;
        }
        j += len;
    }
    return (a0 + a1) + (a2 + a3);
}

/* Per group s: mean, biased variance (second pass around the mean), 1/sqrt(var + eps).
 * Launch: s_count work-groups. */
__kernel void norm_stats(__global const float *x, int xo, __global float *mean, int mo,
                         __global float *var, int vo, __global float *rstd, int ro, int n,
                         int inner, int count, float eps, __local float *buf) {
    int r = get_group_id(0), l = get_local_id(0);
    int k = n / count;
    float m = norm_wg_sum(norm_row_sum(x + xo, n, r, inner, count, 0.0f, 0), buf) / (float)k;
    float v = norm_wg_sum(norm_row_sum(x + xo, n, r, inner, count, m, 1), buf) / (float)k;
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

/* y = x̂·gamma[c] + beta[c]; has_gamma / has_beta = 0 means 1 / 0 (the buffer is a dummy).
 * Launch: ceil(n / NORM_CHUNK) items. */
__kernel void norm_forward(__global const float *x, int xo, __global const float *mean, int mo,
                           __global const float *rstd, int ro, __global const float *gamma, int go,
                           int has_gamma, __global const float *beta, int bo, int has_beta,
                           __global float *y, int yo, int n, int s_inner, int s_count, int c_inner,
                           int c_count) {
    int i0 = get_global_id(0) * NORM_CHUNK;
    if (i0 >= n) return;
    int i1 = min(i0 + NORM_CHUNK, n);
    for (int i = i0; i < i1;) {
        int len = min(norm_piece(i, s_inner, c_inner), i1 - i);
        int s = (i / s_inner) % s_count, c = (i / c_inner) % c_count;
        float m = mean[mo + s], rs = rstd[ro + s];
        float ga = has_gamma ? gamma[go + c] : 1.0f, be = has_beta ? beta[bo + c] : 0.0f;
        __global const float *px = x + xo + i;
        __global float *py = y + yo + i;
        for (int q = 0; q < len; q++)
            py[q] = (px[q] - m) * rs * ga + be;
        i += len;
    }
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
    int r = get_group_id(0), l = get_local_id(0);
    int j0, j1;
    norm_share(n / r_count, &j0, &j1);
    float a1 = 0.0f, a2 = 0.0f;
    for (int j = j0; j < j1;) {
        int a = j / r_inner, t = j - a * r_inner;
        int i = (a * r_count + r) * r_inner + t;
        int len = min(min(r_inner - t, j1 - j), norm_piece(i, s_inner, c_inner));
        int s = (i / s_inner) % s_count;
        float w = has_gamma ? gamma[go + (i / c_inner) % c_count] : 1.0f;
        float m = mean[mo + s], rs = rstd[ro + s];
        __global const float *px = x + xo + i, *pd = dy + dyo + i;
        /* Σ w·dy and Σ w·dy·x̂ = w·rs·Σ dy·(x − m) over the piece */
        float p1 = 0.0f, p2 = 0.0f, q1 = 0.0f, q2 = 0.0f;
        int q = 0;
        for (; q + 2 <= len; q += 2) {
            float g0 = pd[q], g1 = pd[q + 1];
            p1 += g0;
            q1 += g1;
            p2 += g0 * (px[q] - m);
            q2 += g1 * (px[q + 1] - m);
        }
        for (; q < len; q++) {
            p1 += pd[q];
            p2 += pd[q] * (px[q] - m);
        }
        a1 += w * (p1 + q1);
        a2 += w * rs * (p2 + q2);
        j += len;
    }
    float t1 = norm_wg_sum(a1, buf);
    float t2 = norm_wg_sum(a2, buf);
    if (l == 0) {
        if (want1) out1[o1 + r] = acc ? out1[o1 + r] + t1 : t1;
        if (want2) out2[o2 + r] = acc ? out2[o2 + r] + t2 : t2;
    }
}

/* dx += rstd·(g − Σg/k − x̂·Σ(g·x̂)/k) in training (sums from norm_bwd_reduce over groups, in
 * sums[s] and sums[s_count + s]; with sums_raw they are Σ dy and Σ dy·x̂, to be scaled by the
 * group's gamma), dx += rstd·g in eval (sums unused). Launch: ceil(n /
 * NORM_CHUNK) items. */
__kernel void norm_bwd_x(__global const float *x, int xo, __global const float *mean, int mo,
                         __global const float *rstd, int ro, __global const float *gamma, int go,
                         int has_gamma, __global const float *dy, int dyo,
                         __global const float *sums, int so, __global float *dx, int dxo,
                         int training, int sums_raw, int n, int s_inner, int s_count, int c_inner,
                         int c_count) {
    int i0 = get_global_id(0) * NORM_CHUNK;
    if (i0 >= n) return;
    int i1 = min(i0 + NORM_CHUNK, n);
    float k = (float)(n / s_count);
    for (int i = i0; i < i1;) {
        int len = min(norm_piece(i, s_inner, c_inner), i1 - i);
        int s = (i / s_inner) % s_count;
        float w = has_gamma ? gamma[go + (i / c_inner) % c_count] : 1.0f;
        float m = mean[mo + s], rs = rstd[ro + s];
        float mg = training ? sums[so + s] / k : 0.0f;
        float mgx = training ? sums[so + s_count + s] / k : 0.0f;
        if (sums_raw) { /* sums of dy, not of g = dy·w: w is the group's own gamma */
            mg *= w;
            mgx *= w;
        }
        __global const float *px = x + xo + i, *pd = dy + dyo + i;
        __global float *pdx = dx + dxo + i;
        if (training) {
            for (int q = 0; q < len; q++) {
                float xh = (px[q] - m) * rs;
                pdx[q] += rs * (pd[q] * w - mg - xh * mgx);
            }
        } else {
            for (int q = 0; q < len; q++)
                pdx[q] += rs * (pd[q] * w);
        }
        i += len;
    }
}

/* dgamma[c] += sums[count + c], dbeta[c] += sums[c] (the raw per-group sums of a fused batch-norm
 * backward); want_* = 0 skip the write (the buffer is a dummy). One item per channel. */
__kernel void norm_affine_sums(__global const float *sums, int so, __global float *dgamma, int go,
                               int want_g, __global float *dbeta, int bo, int want_b, int count) {
    int c = get_global_id(0);
    if (c >= count) return;
    if (want_g) dgamma[go + c] += sums[so + count + c];
    if (want_b) dbeta[bo + c] += sums[so + c];
}
