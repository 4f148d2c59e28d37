/* conv.cl — the conv family's data movement: im2col, its adjoint col2im, the (N, C, L) ↔ (C, N, L)
 * swaps around the GEMMs, and the bias-gradient reduction. Formulas and layouts: kern_conv.h.
 * 2D runs as 3D with D = 1, so every kernel has one code path; the geometry arrives as a struct
 * argument rather than -D defines, so one program build serves every layer shape (a pocl build
 * costs about a second; a network has many conv shapes).
 *
 * col2im is a gather: one work-item per image element sums the ≤ K column entries that read it
 * (OpenCL 1.2 has no float atomics, and the gather is deterministic). */
#ifndef CONV_WG
#define CONV_WG 64 /* work-group size of conv_bias_grad; a power of two */
#endif
#ifndef CONV_ROW_LOOP
#define CONV_ROW_LOOP 0 /* im2col: 1 = one work-item per output row (CPUs), 0 = per element */
#endif

/* Same layout as conv_cgeom in src/backend/opencl/conv.c. */
typedef struct cgeom {
    int c;
    int in[3], out[3];
    int k[3], stride[3], pad[3], dil[3];
} cgeom;

/* x (nb, c, in...) → col (c·K, nb·lc) for positions [l0, l0 + lc) (whole rows of out[2]); zeros
 * outside the image. NDRange (out[2] or 1, ceil(lc / out[2] / rpi), ceil(c·K·nb / npi)). With
 * CONV_ROW_LOOP each item writes rpi whole output rows of npi consecutive column rows (image n
 * fastest): on CPUs (pocl) that is ~5× faster than one item per element, as the index divisions
 * are paid once per column row and two per output row; rpi, npi > 1 matter for small maps
 * (rows of 2–8 outputs, a few per image). On GPUs one item per element (dim 0 = out[2], rpi =
 * npi = 1) keeps the writes coalesced. */
__kernel void conv_im2col(const cgeom g, __global const float *x, int xoff, int nb, int l0,
                          int lc, __global float *col, int coloff, int rpi, int npi) {
    const int K = g.k[0] * g.k[1] * g.k[2];
    const int oab0 = l0 / g.out[2] + get_global_id(1) * rpi;
    const int oab1 = min(oab0 + rpi, (l0 + lc) / g.out[2]);
    const int rn0 = get_global_id(2) * npi, rn1 = min(rn0 + npi, g.c * K * nb);
#if CONV_ROW_LOOP
    const int oe0 = 0, oe1 = g.out[2];
#else
    const int oe0 = get_global_id(0), oe1 = oe0 + 1;
    if (oe0 >= g.out[2]) return;
#endif
    if (oab0 >= oab1) return;
    for (int rn = rn0; rn < rn1; rn++) {
        const int row = rn / nb, n = rn - row * nb;
        const int ch = row / K, kk = row - ch * K;
        const int ka = kk / (g.k[1] * g.k[2]), kb = kk / g.k[2] % g.k[1], ke = kk % g.k[2];
        __global const float *xc = x + xoff + (n * g.c + ch) * g.in[0] * g.in[1] * g.in[2];
        for (int oab = oab0; oab < oab1; oab++) {
            const int oa = oab / g.out[1], ob = oab - oa * g.out[1];
            const int ia = oa * g.stride[0] - g.pad[0] + ka * g.dil[0];
            const int ib = ob * g.stride[1] - g.pad[1] + kb * g.dil[1];
            const int inside = ia >= 0 && ia < g.in[0] && ib >= 0 && ib < g.in[1];
            __global const float *src =
                xc + ((inside ? ia : 0) * g.in[1] + (inside ? ib : 0)) * g.in[2];
            __global float *dst = col + coloff + rn * lc + oab * g.out[2] - l0;
            for (int oe = oe0; oe < oe1; oe++) {
                const int ie = oe * g.stride[2] - g.pad[2] + ke * g.dil[2];
                dst[oe] = inside && ie >= 0 && ie < g.in[2] ? src[ie] : 0.0f;
            }
        }
    }
}

/* Output index along one dim that reads input index i through tap kk, or −1. */
inline int conv_tap_source(int i, int kk, int stride, int pad, int dil, int out) {
    const int t = i + pad - kk * dil;
    if (t < 0 || t % stride != 0) return -1;
    const int o = t / stride;
    return o < out ? o : -1;
}

/* col (c·K, nb·lc) → x (nb, c, in...), positions [l0, l0 + lc) only; one item per image element
 * (gather, no atomics). NDRange (in[2], niab, nb·c) over image rows iab0 + [0, niab) — the host
 * narrows that to the rows the position range reaches when skipping the others is allowed. */
__kernel void conv_col2im(const cgeom g, __global const float *col, int coloff, int nb, int l0,
                          int lc, int iab0, int niab, __global float *x, int xoff, int has_bias,
                          __global const float *bias, int boff, int accumulate) {
    const int K = g.k[0] * g.k[1] * g.k[2], NL = nb * lc;
    const int ie = get_global_id(0), iab = iab0 + get_global_id(1), nc = get_global_id(2);
    if (ie >= g.in[2] || iab >= iab0 + niab || nc >= nb * g.c) return;
    const int n = nc / g.c, ch = nc - n * g.c;
    const int ia = iab / g.in[1], ib = iab - ia * g.in[1];
    const int i = (nc * g.in[0] * g.in[1] + iab) * g.in[2] + ie;
    float acc = has_bias ? bias[boff + ch] : 0.0f;
    const int base = coloff + ch * K * NL + n * lc - l0; /* + kk·NL + l */
    for (int ka = 0; ka < g.k[0]; ka++) {
        const int oa = conv_tap_source(ia, ka, g.stride[0], g.pad[0], g.dil[0], g.out[0]);
        if (oa < 0) continue;
        for (int kb = 0; kb < g.k[1]; kb++) {
            const int ob = conv_tap_source(ib, kb, g.stride[1], g.pad[1], g.dil[1], g.out[1]);
            if (ob < 0) continue;
            for (int ke = 0; ke < g.k[2]; ke++) {
                const int oe = conv_tap_source(ie, ke, g.stride[2], g.pad[2], g.dil[2], g.out[2]);
                if (oe < 0) continue;
                const int l = (oa * g.out[1] + ob) * g.out[2] + oe;
                if (l < l0 || l >= l0 + lc) continue;
                acc += col[base + ((ka * g.k[1] + kb) * g.k[2] + ke) * NL + l];
            }
        }
    }
    if (accumulate) acc += x[xoff + i];
    x[xoff + i] = acc;
}

/* t (c, nb, l) → y (nb, c, l) [+ bias] [+ y]; one item per y element (t may alias y if nb == 1). */
__kernel void conv_from_cnl(__global const float *t, int toff, __global float *y, int yoff,
                            int nb, int c, int l, int has_bias, __global const float *bias,
                            int boff, int accumulate) {
    const int i = get_global_id(0);
    if (i >= nb * c * l) return;
    const int nc = i / l, j = i - nc * l;
    const int n = nc / c, ch = nc - n * c;
    float v = t[toff + (ch * nb + n) * l + j];
    if (has_bias) v += bias[boff + ch];
    if (accumulate) v += y[yoff + i];
    y[yoff + i] = v;
}

/* y (nb, c, l) → t (c, nb, l); one item per t element (contiguous writes). */
__kernel void conv_to_cnl(__global const float *y, int yoff, __global float *t, int toff, int nb,
                          int c, int l) {
    const int i = get_global_id(0);
    if (i >= nb * c * l) return;
    const int cn = i / l, j = i - cn * l;
    const int ch = cn / nb, n = cn - ch * nb;
    t[toff + i] = y[yoff + (n * c + ch) * l + j];
}

/* db[ch] += Σ_{n, l} dy[n, ch, l]; one work-group of CONV_WG items per channel, each item a
 * compensated (Kahan) partial sum, then a tree in local memory. */
__kernel __attribute__((reqd_work_group_size(CONV_WG, 1, 1)))
void conv_bias_grad(__global const float *dy, int dyoff, __global float *db, int dboff, int n,
                    int c, int l) {
    __local float part[CONV_WG];
    const int ch = get_group_id(0), t = get_local_id(0);
    float acc = 0.0f, comp = 0.0f;
    for (int j = t; j < n * l; j += CONV_WG) {
        const int b = j / l;
        const float v = dy[dyoff + (b * c + ch) * l + (j - b * l)] - comp;
        const float s = acc + v;
        comp = (s - acc) - v;
        acc = s;
    }
    part[t] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = CONV_WG / 2; h > 0; h >>= 1) {
        if (t < h) part[t] += part[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) db[dboff + ch] += part[0];
}
