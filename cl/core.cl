/* core.cl — core kernels: fill, Philox random numbers, strided copy, unary and broadcast binary
 * maps with their backward rules, and row reductions.
 *
 * Elementwise kernels are one work-item per element: on pocl these measured as fast as
 * vectorised variants (memory bound), and on GPUs they coalesce. Row reductions use one
 * work-group of WG items per row with a local-memory tree: rows can be long (a global sum) or
 * many (a per-sample sum), and both shapes stay parallel. Op codes match kern_core.h. */
#ifndef WG
#define WG 64
#endif

enum { U_RELU, U_LEAKY, U_GELU, U_SIGMOID, U_TANH, U_EXP, U_LOG, U_SQRT, U_ABS, U_POW, U_CLAMP,
       U_AFFINE };
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN };
enum { R_UNIFORM, R_NORMAL, R_BERNOULLI };

__kernel void fill(__global float *y, int yo, int n, float v) {
    int i = get_global_id(0);
    if (i < n) y[yo + i] = v;
}

/* Philox-4x32-10, counter (lo32(g), hi32(g), 0, 0), key = seed; see src/tensor/rng.c. */
inline uint4 philox(ulong seed, ulong g) {
    uint c0 = (uint)g, c1 = (uint)(g >> 32), c2 = 0, c3 = 0;
    uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint hi0 = mul_hi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint hi1 = mul_hi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        uint n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return (uint4)(c0, c1, c2, c3);
}

__kernel void rng(__global float *y, int yo, int n, int dist, uint seed_lo, uint seed_hi,
                  uint ctr_lo, uint ctr_hi, float a, float b) {
    int i = get_global_id(0);
    if (i >= n) return;
    ulong seed = ((ulong)seed_hi << 32) | seed_lo;
    ulong g = (((ulong)ctr_hi << 32) | ctr_lo) + (ulong)i;
    uint4 w = philox(seed, g);
    const float s24 = 1.0f / 16777216.0f;
    float u = (float)(w.x >> 8) * s24, v;
    if (dist == R_UNIFORM) {
        v = a + (b - a) * u;
    } else if (dist == R_NORMAL) {
        float u1 = (float)((w.x >> 8) + 1) * s24, u2 = (float)(w.y >> 8) * s24;
        v = a + b * (sqrt(-2.0f * log(u1)) * cos(6.2831853071795864f * u2));
    } else {
        v = u < a ? 1.0f : 0.0f;
    }
    y[yo + i] = v;
}

/* d[i] (=|+=) s[i] for i < n, both contiguous; 16 elements per work-item. */
__kernel void copy_flat(__global const float *s, int soff, __global float *d, int doff,
                        int accumulate, int n) {
    int i0 = get_global_id(0) * 16;
    if (i0 >= n) return;
    s += soff + i0;
    d += doff + i0;
    if (i0 + 16 <= n) {
        float16 v = vload16(0, s);
        if (accumulate) v += vload16(0, d);
        vstore16(v, 0, d);
        return;
    }
    for (int i = 0; i < n - i0; i++) d[i] = accumulate ? d[i] + s[i] : s[i];
}

/* Strided copy by rows of the last dim (len elements, strides ss and ds there): one index
 * decomposition per row instead of per element. n = elements in all; one work-item per row. */
__kernel void copy_rows(__global const float *s, tview sv, __global float *d, tview dv,
                        int accumulate, int n, int len) {
    int r = get_global_id(0);
    if (r >= n / len) return;
    int ss = sv.stride[sv.ndim - 1], ds = dv.stride[dv.ndim - 1];
    __global const float *ps = s + tview_at(sv, r * len);
    __global float *pd = d + tview_at(dv, r * len);
    if (accumulate)
        for (int q = 0; q < len; q++) pd[q * ds] += ps[q * ss];
    else
        for (int q = 0; q < len; q++) pd[q * ds] = ps[q * ss];
}

__kernel void copy(__global const float *s, tview sv, __global float *d, tview dv, int accumulate,
                   int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = s[tview_at(sv, i)];
    int o = tview_at(dv, i);
    d[o] = accumulate ? d[o] + v : v;
}

inline float unary_f(int op, float x, float a, float b) {
    switch (op) {
    case U_RELU: return x > 0 ? x : 0.0f;
    case U_LEAKY: return x > 0 ? x : a * x;
    case U_GELU: return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
    case U_SIGMOID: return 1.0f / (1.0f + exp(-x));
    case U_TANH: return tanh(x);
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_ABS: return fabs(x);
    case U_POW: return pow(x, a);
    case U_CLAMP: return fmin(fmax(x, a), b);
    case U_AFFINE: return a * x + b;
    }
    return NAN;
}

inline float unary_df(int op, float x, float y, float a, float b) {
    switch (op) {
    case U_RELU: return x > 0 ? 1.0f : 0.0f;
    case U_LEAKY: return x > 0 ? 1.0f : a;
    case U_GELU:
        return 0.5f * (1.0f + erf(x * 0.70710678118654752f)) +
               x * exp(-0.5f * x * x) * 0.39894228040143268f;
    case U_SIGMOID: return y * (1.0f - y);
    case U_TANH: return 1.0f - y * y;
    case U_EXP: return y;
    case U_LOG: return 1.0f / x;
    case U_SQRT: return 0.5f / y;
    case U_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case U_POW: return a * pow(x, a - 1.0f);
    case U_CLAMP: return (x >= a && x <= b) ? 1.0f : 0.0f;
    case U_AFFINE: return a;
    }
    return NAN;
}

/* unary and unary_bwd: `chunk` consecutive elements per work-item (16 on CPUs, where the op
 * switch, loop-invariant, leaves the loop; 1 on GPUs, for coalescing). */
__kernel void unary(int op, __global const float *x, int xo, __global float *y, int yo, int n,
                    float a, float b, int chunk) {
    int i0 = get_global_id(0) * chunk;
    int i1 = min(i0 + chunk, n);
    for (int i = i0; i < i1; i++) y[yo + i] = unary_f(op, x[xo + i], a, b);
}

__kernel void unary_bwd(int op, __global const float *x, int xo, __global const float *y, int yo,
                        __global const float *dy, int dyo, __global float *dx, int dxo, int n,
                        float a, float b, int chunk) {
    int i0 = get_global_id(0) * chunk;
    int i1 = min(i0 + chunk, n);
    for (int i = i0; i < i1; i++)
        dx[dxo + i] += dy[dyo + i] * unary_df(op, x[xo + i], y[yo + i], a, b);
}

/* ReLU on CPUs: 16 elements per work-item as two float8 (pocl does not vectorise the scalar
 * loops above across work-items); the tail of n is done element by element. Same arithmetic as
 * unary_f / unary_df: y = x > 0 ? x : 0, dx += dy * (x > 0 ? 1 : 0). x may be the output y (the
 * backward reads y in x's place: x > 0 iff y > 0). */
__kernel void relu16(__global const float *x, int xo, __global float *y, int yo, int n) {
    int i0 = get_global_id(0) * 16;
    __global const float *xp = x + xo + i0;
    __global float *yp = y + yo + i0;
    if (i0 + 16 <= n) {
        for (int h = 0; h < 2; h++) {
            float8 v = vload8(h, xp);
            vstore8(select((float8)(0.0f), v, v > (float8)(0.0f)), h, yp);
        }
    } else {
        for (int i = 0; i < n - i0; i++) yp[i] = xp[i] > 0 ? xp[i] : 0.0f;
    }
}

__kernel void relu16_bwd(__global const float *x, int xo, __global const float *dy, int dyo,
                         __global float *dx, int dxo, int n) {
    int i0 = get_global_id(0) * 16;
    __global const float *xp = x + xo + i0, *gp = dy + dyo + i0;
    __global float *dp = dx + dxo + i0;
    if (i0 + 16 <= n) {
        for (int h = 0; h < 2; h++) {
            float8 m = select((float8)(0.0f), (float8)(1.0f), vload8(h, xp) > (float8)(0.0f));
            vstore8(vload8(h, dp) + vload8(h, gp) * m, h, dp);
        }
    } else {
        for (int i = 0; i < n - i0; i++) dp[i] += gp[i] * (xp[i] > 0 ? 1.0f : 0.0f);
    }
}

__kernel void binary(int op, __global const float *a, tview av, __global const float *b, tview bv,
                     __global float *c, int co, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float x = a[tview_at(av, i)], y = b[tview_at(bv, i)], r;
    switch (op) {
    case B_ADD: r = x + y; break;
    case B_SUB: r = x - y; break;
    case B_MUL: r = x * y; break;
    case B_DIV: r = x / y; break;
    case B_MAX: r = x >= y ? x : y; break;
    default: r = x <= y ? x : y; break;
    }
    c[co + i] = r;
}

/* binary on contiguous a, b, c of n elements (no index arithmetic). */
__kernel void binary_flat(int op, __global const float *a, int ao, __global const float *b, int bo,
                          __global float *c, int co, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float x = a[ao + i], y = b[bo + i], r;
    switch (op) {
    case B_ADD: r = x + y; break;
    case B_SUB: r = x - y; break;
    case B_MUL: r = x * y; break;
    case B_DIV: r = x / y; break;
    case B_MAX: r = x >= y ? x : y; break;
    default: r = x <= y ? x : y; break;
    }
    c[co + i] = r;
}

/* The gradients d·∂(x op y)/∂x and d·∂(x op y)/∂y of binary_bwd and binary_bwd_flat (max/min:
 * a tie splits d in halves). */
static void binary_grads(int op, float x, float y, float d, float *da, float *db) {
    switch (op) {
    case B_ADD: *da = d; *db = d; break;
    case B_SUB: *da = d; *db = -d; break;
    case B_MUL: *da = d * y; *db = d * x; break;
    case B_DIV: *da = d / y; *db = -d * x / (y * y); break;
    case B_MAX:
        *da = x > y ? d : (x == y ? 0.5f * d : 0.0f);
        *db = y > x ? d : (x == y ? 0.5f * d : 0.0f);
        break;
    default:
        *da = x < y ? d : (x == y ? 0.5f * d : 0.0f);
        *db = y < x ? d : (x == y ? 0.5f * d : 0.0f);
        break;
    }
}

/* want: bit 0 = write ga, bit 1 = write gb */
__kernel void binary_bwd(int op, __global const float *a, tview av, __global const float *b,
                         tview bv, __global const float *dy, int dyo, __global float *ga, int gao,
                         __global float *gb, int gbo, int want, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float x = a[tview_at(av, i)], y = b[tview_at(bv, i)], d = dy[dyo + i], da, db;
    binary_grads(op, x, y, d, &da, &db);
    if (want & 1) ga[gao + i] = da;
    if (want & 2) gb[gbo + i] = db;
}

/* binary_bwd on contiguous a, b (same rule; no index arithmetic). */
__kernel void binary_bwd_flat(int op, __global const float *a, int ao, __global const float *b,
                              int bo, __global const float *dy, int dyo, __global float *ga,
                              int gao, __global float *gb, int gbo, int want, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float x = a[ao + i], y = b[bo + i], d = dy[dyo + i], da, db;
    binary_grads(op, x, y, d, &da, &db);
    if (want & 1) ga[gao + i] = da;
    if (want & 2) gb[gbo + i] = db;
}

/* One work-group per row. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void row_sum(__global const float *x, int xo, __global float *y, int yo, int cols, float scale) {
    __local float part[WG];
    int r = get_group_id(0), l = get_local_id(0);
    __global const float *row = x + xo + (long)r * cols;
    float acc = 0.0f, comp = 0.0f; /* Kahan: keeps long rows close to the double reference */
    for (int c = l; c < cols; c += WG) {
        float t = row[c] - comp, s = acc + t;
        comp = (s - acc) - t;
        acc = s;
    }
    part[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (l < s) part[l] += part[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) y[yo + r] = part[0] * scale;
}

/* First maximum (NaN wins, as in the reference: a NaN row reports the last NaN). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void row_max(__global const float *x, int xo, __global float *y, int yo, __global float *idx,
             int io, int want_idx, int cols) {
    __local float bv[WG];
    __local int bi[WG];
    int r = get_group_id(0), l = get_local_id(0);
    __global const float *row = x + xo + (long)r * cols;
    float best = -INFINITY;
    int besti = -1;
    for (int c = l; c < cols; c += WG) {
        float v = row[c];
        if (besti < 0 || v > best || isnan(v)) {
            best = v;
            besti = c;
        }
    }
    bv[l] = best;
    bi[l] = besti;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (l < s && bi[l + s] >= 0) {
            float v = bv[l + s];
            int i = bi[l + s];
            bool take = bi[l] < 0 || (isnan(v) ? (!isnan(bv[l]) || i > bi[l])
                                               : (!isnan(bv[l]) && (v > bv[l] ||
                                                                    (v == bv[l] && i < bi[l]))));
            if (take) {
                bv[l] = v;
                bi[l] = i;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        y[yo + r] = bv[0];
        if (want_idx) idx[io + r] = (float)bi[0];
    }
}

__kernel void row_scatter(__global const float *dy, int dyo, __global const float *idx, int io,
                          __global float *dx, int dxo, int rows, int cols) {
    int r = get_global_id(0);
    if (r < rows) dx[dxo + r * cols + (int)idx[io + r]] += dy[dyo + r];
}
