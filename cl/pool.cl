/* pool.cl — pooling and up-sampling kernels, forward and backward side by side.
 *
 * Tensors are nc contiguous planes of (D, H, W); 2D callers pass D = 1 (kernel 1, stride 1,
 * pad 0). Forward kernels: one work-item per output element. Backward kernels are gathers: one
 * work-item per input element sums the outputs that read it, so no atomics are needed (OpenCL
 * 1.2 has none for floats) and dx is accumulated (+=) without races. For pooling the range of
 * outputs whose window holds input i is computed in closed form; for linear up-sampling it is
 * found by bisection on the (monotone) fp32 source-index map, so it agrees with the forward
 * kernel bit for bit instead of risking an off-by-one from inverting a rounded formula.
 *
 * Specialisation: POOL_IDX (1) — max_pool_fwd(_k3s2) also writes the argmax plane index.
 */
#ifndef POOL_IDX
#define POOL_IDX 1
#endif

/* Keep a·b + c as two roundings: the reference computes source indices that way. */
#pragma OPENCL FP_CONTRACT OFF

/* Geometry, same layout as tassl_cl_pgeom in src/backend/opencl/pool.c. */
typedef struct pgeom {
    int nc;
    int in[3], out[3];
    int k[3], s[3], p[3];
} pgeom;

/* Split a flat index over (nc, n0, n1, n2) into plane and coordinates. */
inline int split4(int gid, int n0, int n1, int n2, int *c0, int *c1, int *c2) {
    *c2 = gid % n2;
    gid /= n2;
    *c1 = gid % n1;
    gid /= n1;
    *c0 = gid % n0;
    return gid / n0;
}

/* ---- max / average pooling ------------------------------------------------------------------ */

/* Clipped input window [lo, hi) of output o. */
inline int win_lo(int o, int s, int p) { return max(o * s - p, 0); }
inline int win_hi(int o, int k, int s, int p, int in) { return min(o * s - p + k, in); }

/* Outputs whose window [o·s − p, o·s − p + k) holds input i: o·s ≤ i + p < o·s + k, so
 * o ∈ [⌈(i + p − k + 1)/s⌉, ⌊(i + p)/s⌋] ∩ [0, out − 1]. Returns lo; *hi is inclusive. */
inline int outs_of(int i, int k, int s, int p, int out, int *hi) {
    int t = i + p - k + 1;
    *hi = min((i + p) / s, out - 1);
    return t <= 0 ? 0 : (t + s - 1) / s;
}

/* x (nc, iD, iH, iW) → y, idx (nc, oD, oH, oW). One work-item per output row (plane, od, oh):
 * the row's indices come from one split, the windows along W by multiplication. */
__kernel void max_pool_fwd(const pgeom g, __global const float *x, int xo, __global float *y,
                           int yo, __global float *idx, int io) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.out[0] * g.out[1]) return;
    int od = 0, oh = 0, unused;
    int pl = split4(gid, 1, g.out[0], g.out[1], &unused, &od, &oh);
    int H = g.in[1], W = g.in[2];
    int d0 = win_lo(od, g.s[0], g.p[0]), d1 = win_hi(od, g.k[0], g.s[0], g.p[0], g.in[0]);
    int h0 = win_lo(oh, g.s[1], g.p[1]), h1 = win_hi(oh, g.k[1], g.s[1], g.p[1], H);
    __global const float *xs = x + xo + pl * g.in[0] * H * W;
    int orow = gid * g.out[2];
    for (int ow = 0; ow < g.out[2]; ow++) {
        int w0 = win_lo(ow, g.s[2], g.p[2]), w1 = win_hi(ow, g.k[2], g.s[2], g.p[2], W);
        float m = -INFINITY;
        int mi = (d0 * H + h0) * W + w0;
        for (int d = d0; d < d1; d++)
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) {
                    int i = (d * H + h) * W + w;
                    float v = xs[i];
                    if (v > m || isnan(v)) {
                        m = v;
                        mi = i;
                    }
                }
        y[yo + orow + ow] = m;
#if POOL_IDX
        idx[io + orow + ow] = (float)mi;
#endif
    }
}

/* The ResNet stem's case, 2D 3×3 windows at stride 2 with padding 1, W = 2·oW and oW a multiple
 * of 8: x (nc, H, W) → y, idx (nc, oH, oW). One work-item per run of 8 outputs of a row, in
 * float8 vectors: for each of the (up to) 3 input rows one 16-float load gives the centre
 * (even) and right (odd) taps, the left taps are the right ones shifted by one. Taps in the
 * reference's scan order (row by row, left to right) with the same rule (first maximum, last
 * NaN); padding is never taken. */
__kernel void max_pool_fwd_k3s2(const pgeom g, __global const float *x, int xo,
                                __global float *y, int yo, __global float *idx, int io) {
    int gid = get_global_id(0);
    int runs = g.out[2] / 8;
    if (gid >= g.nc * g.out[1] * runs) return;
    int r = gid / runs, ow0 = (gid - r * runs) * 8; /* r: output row (plane, oh) */
    int pl = r / g.out[1], oh = r - pl * g.out[1];
    int H = g.in[1], W = g.in[2];
    __global const float *xs = x + xo + pl * H * W;
    int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    int8 col = 2 * (ow0 + lane); /* centre tap column of each output */
    int hs = 2 * oh - 1;
    float8 m = (float8)(-INFINITY);
    int8 mi = max(hs, 0) * W + max(col - 1, 0);
    for (int b = 0; b < 3; b++) {
        int h = hs + b;
        if (h < 0 || h >= H) continue;
        __global const float *row = xs + h * W + 2 * ow0;
        float16 v = vload16(0, row);
        float8 c = v.even, rt = v.odd;
        float l0 = ow0 > 0 ? row[-1] : -INFINITY;
        float8 lf = (float8)(l0, rt.s0, rt.s1, rt.s2, rt.s3, rt.s4, rt.s5, rt.s6);
        int8 i = h * W + col;
        int8 take = isgreater(lf, m) | isnan(lf);
        m = select(m, lf, take);
        mi = select(mi, i - 1, take);
        take = isgreater(c, m) | isnan(c);
        m = select(m, c, take);
        mi = select(mi, i, take);
        take = isgreater(rt, m) | isnan(rt);
        m = select(m, rt, take);
        mi = select(mi, i + 1, take);
    }
    int o = r * g.out[2] + ow0;
    vstore8(m, 0, y + yo + o);
#if POOL_IDX
    vstore8(convert_float8(mi), 0, idx + io + o);
#endif
}

/* dx (nc, iD, iH, iW) += dy (nc, oD, oH, oW) at each output's argmax. One work-item per input
 * row (plane, d, h), which no other item writes: it walks the output rows whose windows reach
 * it and adds every output whose argmax falls in the row, in output order (the reference's
 * order of the additions). */
__kernel void max_pool_bwd(const pgeom g, __global const float *dy, int dyo,
                           __global const float *idx, int io, __global float *dx, int dxo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.in[0] * g.in[1]) return;
    int d = 0, h = 0, unused;
    int pl = split4(gid, 1, g.in[0], g.in[1], &unused, &d, &h);
    int W = g.in[2], row = (d * g.in[1] + h) * W; /* the row's first index in the plane */
    int d1, h1;
    int d0 = outs_of(d, g.k[0], g.s[0], g.p[0], g.out[0], &d1);
    int h0 = outs_of(h, g.k[1], g.s[1], g.p[1], g.out[1], &h1);
    __global float *dxr = dx + dxo + gid * W;
    int base = pl * g.out[0] * g.out[1] * g.out[2];
    for (int od = d0; od <= d1; od++)
        for (int oh = h0; oh <= h1; oh++) {
            int o = base + (od * g.out[1] + oh) * g.out[2];
            for (int ow = 0; ow < g.out[2]; ow++) {
                int t = (int)idx[io + o + ow] - row;
                if (t >= 0 && t < W) dxr[t] += dy[dyo + o + ow];
            }
        }
}

/* Backward of max_pool_fwd_k3s2 (same geometry): dx (nc, H, W) += dy (nc, oH, oW) at each
 * output's argmax. One work-item per run of 16 inputs of a row (columns 2·ow0 … 2·ow0 + 15),
 * which no other item writes: even column 2j is the centre tap of output j only, odd column
 * 2j + 1 the right tap of j and the left tap of j + 1, so 9 outputs per covering output row (at
 * most 2) are read as float8 vectors plus one scalar. Additions go in output order, as in the
 * reference, each a select of v + dy over v (bit for bit the reference's sums). */
__kernel void max_pool_bwd_k3s2(const pgeom g, __global const float *dy, int dyo,
                                __global const float *idx, int io, __global float *dx, int dxo) {
    int gid = get_global_id(0);
    int runs = g.out[2] / 8;
    if (gid >= g.nc * g.in[1] * runs) return;
    int r = gid / runs, ow0 = (gid - r * runs) * 8; /* r: input row (plane, h) */
    int pl = r / g.in[1], h = r - pl * g.in[1];
    int W = g.in[2], oH = g.out[1], oW = g.out[2];
    int8 col = h * W + 2 * (ow0 + (int8)(0, 1, 2, 3, 4, 5, 6, 7)); /* even inputs, plane index */
    __global float *dxr = dx + dxo + r * W + 2 * ow0;
    float16 cur = vload16(0, dxr);
    float8 ev = cur.even, od = cur.odd;
    int oh0 = h <= 0 ? 0 : h / 2, oh1 = min((h + 1) / 2, oH - 1); /* ⌈(h−1)/2⌉, ⌊(h+1)/2⌋ */
    int nxt = ow0 + 8 < oW;
    for (int oh = oh0; oh <= oh1; oh++) {
        int o = (pl * oH + oh) * oW + ow0;
        int8 i8 = convert_int8(vload8(0, idx + io + o));
        float8 d8 = vload8(0, dy + dyo + o);
        int in8 = nxt ? (int)idx[io + o + 8] : -1;
        float dn8 = nxt ? dy[dyo + o + 8] : 0.0f;
        int8 il = (int8)(i8.s1, i8.s2, i8.s3, i8.s4, i8.s5, i8.s6, i8.s7, in8);
        float8 dl = (float8)(d8.s1, d8.s2, d8.s3, d8.s4, d8.s5, d8.s6, d8.s7, dn8);
        ev = select(ev, ev + d8, i8 == col);     /* centre tap of j */
        od = select(od, od + d8, i8 == col + 1); /* right tap of j */
        od = select(od, od + dl, il == col + 1); /* left tap of j + 1 */
    }
    vstore16(shuffle2(ev, od, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)), 0,
             dxr);
}

/* y (nc, oD, oH, oW) = window sum (nc, iD, iH, iW) / (kD·kH·kW) (padding counts). */
__kernel void avg_pool_fwd(const pgeom g, __global const float *x, int xo, __global float *y,
                           int yo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.out[0] * g.out[1] * g.out[2]) return;
    int od, oh, ow;
    int pl = split4(gid, g.out[0], g.out[1], g.out[2], &od, &oh, &ow);
    int H = g.in[1], W = g.in[2];
    int d0 = win_lo(od, g.s[0], g.p[0]), d1 = win_hi(od, g.k[0], g.s[0], g.p[0], g.in[0]);
    int h0 = win_lo(oh, g.s[1], g.p[1]), h1 = win_hi(oh, g.k[1], g.s[1], g.p[1], H);
    int w0 = win_lo(ow, g.s[2], g.p[2]), w1 = win_hi(ow, g.k[2], g.s[2], g.p[2], W);
    __global const float *xs = x + xo + pl * g.in[0] * H * W;
    float acc = 0.0f;
    for (int d = d0; d < d1; d++)
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) acc += xs[(d * H + h) * W + w];
    y[yo + gid] = acc / (float)(g.k[0] * g.k[1] * g.k[2]);
}

/* dx (nc, iD, iH, iW) += Σ dy (nc, oD, oH, oW) / (kD·kH·kW) over windows holding the element. */
__kernel void avg_pool_bwd(const pgeom g, __global const float *dy, int dyo, __global float *dx,
                           int dxo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.in[0] * g.in[1] * g.in[2]) return;
    int d, h, w;
    int pl = split4(gid, g.in[0], g.in[1], g.in[2], &d, &h, &w);
    int d1, h1, w1;
    int d0 = outs_of(d, g.k[0], g.s[0], g.p[0], g.out[0], &d1);
    int h0 = outs_of(h, g.k[1], g.s[1], g.p[1], g.out[1], &h1);
    int w0 = outs_of(w, g.k[2], g.s[2], g.p[2], g.out[2], &w1);
    __global const float *dys = dy + dyo + pl * g.out[0] * g.out[1] * g.out[2];
    float acc = 0.0f;
    for (int od = d0; od <= d1; od++)
        for (int oh = h0; oh <= h1; oh++)
            for (int ow = w0; ow <= w1; ow++) acc += dys[(od * g.out[1] + oh) * g.out[2] + ow];
    dx[dxo + gid] += acc / (float)(g.k[0] * g.k[1] * g.k[2]);
}

/* ---- nearest up-sampling -------------------------------------------------------------------- */

/* y (nc, oD, oH, oW) = x (nc, iD, iH, iW) at ⌊o·in/out⌋ per dim. */
__kernel void nearest_fwd(const pgeom g, __global const float *x, int xo, __global float *y,
                          int yo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.out[0] * g.out[1] * g.out[2]) return;
    int od, oh, ow;
    int pl = split4(gid, g.out[0], g.out[1], g.out[2], &od, &oh, &ow);
    int d = od * g.in[0] / g.out[0], h = oh * g.in[1] / g.out[1], w = ow * g.in[2] / g.out[2];
    y[yo + gid] = x[xo + ((pl * g.in[0] + d) * g.in[1] + h) * g.in[2] + w];
}

/* Outputs copying input i: ⌊o·in/out⌋ = i ⇔ o ∈ [⌈i·out/in⌉, ⌈(i+1)·out/in⌉ − 1]. */
inline int near_lo(int i, int in, int out) { return (i * out + in - 1) / in; }

/* dx (nc, iD, iH, iW) += Σ dy (nc, oD, oH, oW) over the outputs that copied the element. */
__kernel void nearest_bwd(const pgeom g, __global const float *dy, int dyo, __global float *dx,
                          int dxo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.in[0] * g.in[1] * g.in[2]) return;
    int d, h, w;
    int pl = split4(gid, g.in[0], g.in[1], g.in[2], &d, &h, &w);
    int d0 = near_lo(d, g.in[0], g.out[0]), d1 = near_lo(d + 1, g.in[0], g.out[0]);
    int h0 = near_lo(h, g.in[1], g.out[1]), h1 = near_lo(h + 1, g.in[1], g.out[1]);
    int w0 = near_lo(w, g.in[2], g.out[2]), w1 = near_lo(w + 1, g.in[2], g.out[2]);
    __global const float *dys = dy + dyo + pl * g.out[0] * g.out[1] * g.out[2];
    float acc = 0.0f;
    for (int od = d0; od < d1; od++)
        for (int oh = h0; oh < h1; oh++)
            for (int ow = w0; ow < w1; ow++) acc += dys[(od * g.out[1] + oh) * g.out[2] + ow];
    dx[dxo + gid] += acc;
}

/* ---- linear up-sampling --------------------------------------------------------------------- */

/* PyTorch's source coordinate of output o (fp32, as the reference). */
inline float lin_src(int o, int in, int out, int align) {
    if (align) {
        float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
        return scale * (float)o;
    }
    float scale = (float)in / (float)out;
    float src = scale * ((float)o + 0.5f) - 0.5f;
    return src < 0.0f ? 0.0f : src;
}

/* Taps of output o: inputs *i0, *i1 = min(i0 + 1, in − 1); returns the weight of i1. */
inline float lin_tap(int o, int in, int out, int align, int *i0, int *i1) {
    float src = lin_src(o, in, out, align);
    *i0 = (int)src;
    *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
    return src - (float)*i0;
}

/* Weight of input i in output o (both taps may be i at the border: they add). */
inline float lin_weight(int o, int i, int in, int out, int align) {
    int i0, i1;
    float l1 = lin_tap(o, in, out, align, &i0, &i1);
    return (i0 == i ? 1.0f - l1 : 0.0f) + (i1 == i ? l1 : 0.0f);
}

/* First output o with ⌊src(o)⌋ ≥ t (out if none); src is non-decreasing in o. */
inline int lin_first(int t, int in, int out, int align) {
    int lo = 0, hi = out;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if ((int)lin_src(mid, in, out, align) >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* y (nc, oD, oH, oW) = trilinear interpolation of x (nc, iD, iH, iW). */
__kernel void linear_fwd(const pgeom g, int align, __global const float *x, int xo,
                         __global float *y, int yo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.out[0] * g.out[1] * g.out[2]) return;
    int od, oh, ow;
    int pl = split4(gid, g.out[0], g.out[1], g.out[2], &od, &oh, &ow);
    int id[2], ih[2], iw[2];
    float ld = lin_tap(od, g.in[0], g.out[0], align, &id[0], &id[1]);
    float lh = lin_tap(oh, g.in[1], g.out[1], align, &ih[0], &ih[1]);
    float lw = lin_tap(ow, g.in[2], g.out[2], align, &iw[0], &iw[1]);
    float wd[2] = {1.0f - ld, ld}, wh[2] = {1.0f - lh, lh}, ww[2] = {1.0f - lw, lw};
    __global const float *xs = x + xo + pl * g.in[0] * g.in[1] * g.in[2];
    float acc = 0.0f;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++)
                acc += wd[a] * wh[b] * ww[c] * xs[(id[a] * g.in[1] + ih[b]) * g.in[2] + iw[c]];
    y[yo + gid] = acc;
}

/* dx (nc, iD, iH, iW) += Σ weight · dy (nc, oD, oH, oW) over the outputs with a tap on the
 * element: exactly those with ⌊src⌋ ∈ {i − 1, i}, a contiguous range of o. */
__kernel void linear_bwd(const pgeom g, int align, __global const float *dy, int dyo,
                         __global float *dx, int dxo) {
    int gid = get_global_id(0);
    if (gid >= g.nc * g.in[0] * g.in[1] * g.in[2]) return;
    int d, h, w;
    int pl = split4(gid, g.in[0], g.in[1], g.in[2], &d, &h, &w);
    int d0 = lin_first(d - 1, g.in[0], g.out[0], align);
    int d1 = lin_first(d + 1, g.in[0], g.out[0], align);
    int h0 = lin_first(h - 1, g.in[1], g.out[1], align);
    int h1 = lin_first(h + 1, g.in[1], g.out[1], align);
    int w0 = lin_first(w - 1, g.in[2], g.out[2], align);
    int w1 = lin_first(w + 1, g.in[2], g.out[2], align);
    __global const float *dys = dy + dyo + pl * g.out[0] * g.out[1] * g.out[2];
    float acc = 0.0f;
    for (int od = d0; od < d1; od++) {
        float wd = lin_weight(od, d, g.in[0], g.out[0], align);
        for (int oh = h0; oh < h1; oh++) {
            float wdh = wd * lin_weight(oh, h, g.in[1], g.out[1], align);
            for (int ow = w0; ow < w1; ow++)
                acc += wdh * lin_weight(ow, w, g.in[2], g.out[2], align) *
                       dys[(od * g.out[1] + oh) * g.out[2] + ow];
        }
    }
    dx[dxo + gid] += acc;
}
