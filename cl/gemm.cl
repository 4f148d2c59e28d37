/* gemm.cl — register-tile GEMM for CPU OpenCL devices (pocl): C = op(A)·op(B)·alpha + beta·C.
 *
 * Why this shape: pocl compiles one work-item into a plain CPU loop nest, so the fast design is a
 * CPU BLAS micro-kernel, not a GPU one (vectorising across work-items left pocl at 0.1× OpenBLAS).
 * Each work-item owns a block of C of RT × NT micro-tiles; a micro-tile is MR rows × NR = VW·NV
 * columns held in MR·NV vector accumulators (6 × 2 float8 = 12 AVX2 registers by default). Per k
 * step: NV vector loads of B, MR broadcasts of A, MR·NV multiply-adds, pointers advanced (no
 * index arithmetic in the inner loop), k unrolled UNROLL times. Loop order: k-blocks (at most KC
 * long) outermost, then micro-tile columns, then micro-tile rows, so the kb × NR micro-panel of B
 * stays in L1 while A streams from L2.
 *
 * Operands are packed so the inner loop reads both contiguously with zero-padded edges:
 *   - A by gemm_pack_a (a separate pass: A is small next to B in convolutions) into panels of MR
 *     rows, k-major: ap[panel][k][MR], alpha folded in, trans_a absorbed;
 *   - B inside gemm_tile: each work-item copies its KC × NT·NR slab into __local scratch as
 *     micro-panels bl[tile][kk][NR] (trans_b absorbed). A separate pack pass over a huge B
 *     (im2col columns) cost ~40 % of the time; packing in the kernel reads B once, while cached.
 * Multiply-adds are written a·b + c (contracted to FMA by the compiler): the fma() builtin kept
 * pocl's LLVM from vectorising. Work-group size is 1 (reqd_work_group_size) so no work-item loop
 * is wrapped around the code and __local memory is private scratch.
 */
#ifndef MR
#define MR 6 /* rows of a micro-tile */
#endif
#ifndef VW
#define VW 8 /* floats per vector: 4, 8 or 16 */
#endif
#ifndef NV
#define NV 2 /* vectors per micro-tile row */
#endif
#ifndef KC
#define KC 256 /* k-block length */
#endif
#ifndef UNROLL
#define UNROLL 4 /* k-loop unroll (KC is a multiple of it) */
#endif
#ifndef PACK_KCHUNK
#define PACK_KCHUNK 256 /* k values one gemm_pack_a work-item copies (host: same value) */
#endif

#define NR (VW * NV) /* columns of a micro-tile */
/* Offset of slab column c (≥ 0) in the B scratch: micro-panel c / NR, column c % NR. */
#define SLAB_AT(c) (((uint)(c) / NR) * PANEL + (uint)(c) % NR)
/* Floats between B micro-panels in __local scratch: KC·NR is a power of two times NR, and panels
 * 16 KB apart alias in L1 (4K aliasing, set conflicts) while the pack writes one row to every
 * panel; a 64-byte pad breaks that. The host sizes the scratch with the same formula. */
#define PANEL (KC * NR + 16)
#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define VEC GEMM_CAT(float, VW)
#define VLOAD GEMM_CAT(vload, VW)
#define VSTORE GEMM_CAT(vstore, VW)

/* Pack op(A)·alpha (m × k, batch along dim 2) into MR-row panels: ap[panel][kk][MR], rows past
 * m zero. Work-item (k chunk, panel, batch). Panel p of batch b starts at b·ap_stride + p·ap_pk
 * (ap_pk ≥ k·MR: the GEMM packs them back to back; the weight gradient of the implicit conv pads
 * them so that its panels, read side by side, do not sit a multiple of 4 KB apart). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
gemm_pack_a(__global const float *a, int a_off, int lda, int stride_a, int trans_a, int m, int k,
            float alpha, __global float *ap, int ap_off, int ap_stride, int ap_pk) {
    int k0 = get_global_id(0) * PACK_KCHUNK, p = get_global_id(1), b = get_global_id(2);
    int k1 = min(k0 + PACK_KCHUNK, k);
    __global const float *A = a + a_off + b * stride_a;
    __global float *dst = ap + ap_off + b * ap_stride + p * ap_pk + k0 * MR;
    int i0 = p * MR, nr = min(MR, m - i0);
    if (!trans_a) {
        for (int r = 0; r < MR; r++) {
            __global float *d = dst + r;
            if (r < nr) {
                __global const float *s = A + (i0 + r) * lda;
                for (int kk = k0; kk < k1; kk++, d += MR) *d = alpha * s[kk];
            } else {
                for (int kk = k0; kk < k1; kk++, d += MR) *d = 0.0f;
            }
        }
    } else { /* A stored k × m: a row of it holds MR consecutive panel rows */
        for (int kk = k0; kk < k1; kk++, dst += MR) {
            __global const float *s = A + kk * lda + i0;
            for (int r = 0; r < MR; r++) dst[r] = r < nr ? alpha * s[r] : 0.0f;
        }
    }
}

/* o[q][c] = r[c][q]: an 8 × 8 transpose in three rounds of two-input shuffles. */
static inline __attribute__((always_inline)) void gemm_transpose8(const float8 *r, float8 *o) {
    const uint8 lo = (uint8)(0, 8, 1, 9, 4, 12, 5, 13), hi = (uint8)(2, 10, 3, 11, 6, 14, 7, 15);
    const uint8 plo = (uint8)(0, 1, 8, 9, 4, 5, 12, 13), phi = (uint8)(2, 3, 10, 11, 6, 7, 14, 15);
    const uint8 qlo = (uint8)(0, 1, 2, 3, 8, 9, 10, 11), qhi = (uint8)(4, 5, 6, 7, 12, 13, 14, 15);
    float8 t[8], u[8];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        t[2 * i] = shuffle2(r[2 * i], r[2 * i + 1], lo);
        t[2 * i + 1] = shuffle2(r[2 * i], r[2 * i + 1], hi);
    }
#pragma unroll
    for (int h = 0; h < 2; h++) { /* rows 0-3 and 4-7 */
        u[4 * h + 0] = shuffle2(t[4 * h], t[4 * h + 2], plo);
        u[4 * h + 1] = shuffle2(t[4 * h], t[4 * h + 2], phi);
        u[4 * h + 2] = shuffle2(t[4 * h + 1], t[4 * h + 3], plo);
        u[4 * h + 3] = shuffle2(t[4 * h + 1], t[4 * h + 3], phi);
    }
#pragma unroll
    for (int q = 0; q < 4; q++) {
        o[q] = shuffle2(u[q], u[4 + q], qlo);
        o[q + 4] = shuffle2(u[q], u[4 + q], qhi);
    }
}

/* Copy B[k0 .. k0+kc) × [j0 .. j0+cols) into micro-panels bl[t][kk][NR] (t < ntc), columns past
 * cols zero. B is k × n (trans_b 0) or n × k (trans_b 1) with leading dimension ldb. */
static inline __attribute__((always_inline)) void gemm_pack_b(__local float *bl, __global const float *B, int ldb, int trans_b, int k0,
                        int kc, int j0, int cols, int ntc) {
    if (!trans_b) { /* row by row: each B row segment is read contiguously (prefetch-friendly) */
        int full = cols / NR;
        __global const float *s = B + k0 * ldb + j0;
        for (int kk = 0; kk < kc; kk++, s += ldb) {
            __local float *d = bl + kk * NR;
            for (int t = 0; t < full; t++)
#pragma unroll
                for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, s + t * NR), v, d + t * PANEL);
            for (int t = full; t < ntc; t++) {
                int nc = cols - t * NR;
                for (int c = 0; c < NR; c++) d[t * PANEL + c] = c < nc ? s[t * NR + c] : 0.0f;
            }
        }
        return;
    }
    /* trans_b: column jt + c of op(B) is row jt + c of the stored B, contiguous along k */
    for (int t = 0; t < ntc; t++) {
        __local float *d = bl + t * PANEL;
        int jt = j0 + t * NR, nc = min(NR, cols - t * NR), kk = 0;
#if NR % 8 == 0
        if (nc == NR) /* 8 columns × 8 k at a time, transposed in registers */
            for (; kk + 8 <= kc; kk += 8)
                for (int c8 = 0; c8 < NR; c8 += 8) {
                    __global const float *s = B + (jt + c8) * ldb + k0 + kk;
                    float8 r[8], o[8];
#pragma unroll
                    for (int q = 0; q < 8; q++) r[q] = vload8(0, s + q * ldb);
                    gemm_transpose8(r, o);
#pragma unroll
                    for (int q = 0; q < 8; q++) vstore8(o[q], 0, d + (kk + q) * NR + c8);
                }
#endif
        for (int c = 0; c < NR; c++) { /* the rest (all of it for an edge tile) */
            __local float *dc = d + kk * NR + c;
            __global const float *s = B + (jt + c) * ldb + k0;
            for (int q = kk; q < kc; q++, dc += NR) *dc = c < nc ? s[q] : 0.0f;
        }
    }
}

/* One k step of the micro-kernel: NV loads of B, MR broadcasts of A, MR·NV multiply-adds. */
#define GEMM_STEP()                                                                              \
    do {                                                                                         \
        VEC bv[NV];                                                                              \
        _Pragma("unroll") for (int v = 0; v < NV; v++) bv[v] = VLOAD(v, pb);                     \
        _Pragma("unroll") for (int r = 0; r < MR; r++) {                                         \
            VEC av = (VEC)(pa[r]);                                                               \
            _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = av * bv[v] + acc[r][v];   \
        }                                                                                        \
        pa += MR;                                                                                \
        pb += NR;                                                                                \
    } while (0)

/* One micro-tile: C (nr × nc corner of MR × NR, row pitch ldc) = A panel pa · B micro-panel pb
 * over kc values of k (first: + beta·C [+ bias[r]], beta 0 never reads C; later: + C). */
static inline __attribute__((always_inline)) void
gemm_micro(__global const float *pa, __local const float *pb, __global float *cp, int ldc, int nr,
           int nc, int kc, int first, float beta, __global const float *bias, int has_bias) {
    VEC acc[MR][NV];
#pragma unroll
    for (int r = 0; r < MR; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = (VEC)(0.0f);
    int kk = 0;
    for (; kk + UNROLL <= kc; kk += UNROLL) {
#pragma unroll
        for (int u = 0; u < UNROLL; u++) GEMM_STEP();
    }
    for (; kk < kc; kk++) GEMM_STEP();

    if (nr == MR && nc == NR) {
#pragma unroll
        for (int r = 0; r < MR; r++, cp += ldc) {
            float add = first && has_bias ? bias[r] : 0.0f;
#pragma unroll
            for (int v = 0; v < NV; v++) {
                VEC x = acc[r][v];
                if (!first)
                    x += VLOAD(v, cp);
                else if (beta != 0.0f)
                    x = beta * VLOAD(v, cp) + x + add;
                else
                    x += add;
                VSTORE(x, v, cp);
            }
        }
    } else { /* edge tile: only the valid nr × nc corner */
#pragma unroll
        for (int r = 0; r < MR; r++, cp += ldc) {
            float row[NR];
#pragma unroll
            for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, row);
            float add = first && has_bias && r < nr ? bias[r] : 0.0f;
            for (int q = 0; q < nc && r < nr; q++) {
                float x = row[q];
                if (!first)
                    x += cp[q];
                else if (beta != 0.0f)
                    x = beta * cp[q] + x + add;
                else
                    x += add;
                cp[q] = x;
            }
        }
    }
}

/* One k-block of a work-item's C block: C (rows × cols, row pitch ldc) = A·B over kc values of k
 * (see gemm_micro for first, beta, bias: one value per row). A points at the block's first panel
 * at its k0 (panels apanel floats apart), bl at the packed B slab. B micro-panels outer: each
 * stays in L1 while the A panels stream from L2. (A-panel-outer measured the same for the
 * weight gradient, whose A is fresh from memory.) */
static inline __attribute__((always_inline)) void
gemm_block(__global const float *A, int apanel, __local const float *bl, __global float *C, int ldc,
           int rows, int cols, int kc, int first, float beta, __global const float *bias,
           int has_bias) {
    int ntr = (rows + MR - 1) / MR, ntc = (cols + NR - 1) / NR;
    for (int tj = 0; tj < ntc; tj++)
        for (int ti = 0; ti < ntr; ti++)
            gemm_micro(A + ti * apanel, bl + tj * PANEL, C + ti * MR * ldc + tj * NR, ldc,
                       min(MR, rows - ti * MR), min(NR, cols - tj * NR), kc, first, beta,
                       bias + ti * MR, has_bias);
}

/* C[i0.., j0..] of one batch = A·B (alpha already in A) + beta·C. Work-item (column block, row
 * block, batch) owns rows [bi·rt·MR, +rt·MR) × columns [bj·nt·NR, +nt·NR). bl: nt·PANEL floats.
 * kb <= KC: the k-block length, chosen by the host to split k evenly (576 = 3 × 192, not
 * 256 + 256 + 64).
 * k = 0 still makes one pass (acc = 0), so C = beta·C. beta = 0 never reads C. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
gemm_tile(__global const float *ap, int ap_off, int ap_stride, __global const float *b, int b_off,
          int ldb, int stride_b, int trans_b, __global float *c, int c_off, int ldc, int stride_c,
          int m, int n, int k, float beta, int rt, int nt, int kb, __local float *bl) {
    int bj = get_global_id(0), bi = get_global_id(1), bb = get_global_id(2);
    int i0 = bi * rt * MR, j0 = bj * nt * NR;
    int rows = min(rt * MR, m - i0), cols = min(nt * NR, n - j0);
    if (rows <= 0 || cols <= 0) return;
    int ntc = (cols + NR - 1) / NR;
    __global const float *A = ap + ap_off + bb * ap_stride + (i0 / MR) * k * MR;
    __global const float *B = b + b_off + bb * stride_b;
    __global float *C = c + c_off + bb * stride_c + i0 * ldc + j0;

    for (int k0 = 0; k0 < k || k0 == 0; k0 += kb) {
        int kc = min(kb, k - k0);
        gemm_pack_b(bl, B, ldb, trans_b, k0, kc, j0, cols, ntc);
        gemm_block(A + k0 * MR, k * MR, bl, C, ldc, rows, cols, kc, k0 == 0, beta, C, 0);
    }
}

/* ---- implicit-GEMM convolution ---------------------------------------------------------------
 * The same micro-kernel with B gathered straight from the image instead of read from an im2col
 * column buffer (no column buffer, no layout swaps). Vocabulary and formulas as in
 * src/backend/kern_conv.h: an "image" (n, c, in...) and a "matrix side" (n, cmat, out...), weights
 * (cmat, c/G, k...), col[ch·K + kk, l] = image[ch, o(l)·stride − pad + kk·dil] (0 outside; pad
 * and dil signed, so a stride-1 data gradient runs as a forward pass with −pad, −dil). */

/* Same layout as conv_cgeom in src/backend/opencl/conv.c. */
typedef struct gconv_geom {
    int c;
    int in[3], out[3];
    int k[3], stride[3], pad[3], dil[3];
} gconv_geom;

/* src[ie .. ie + 8) of an image row of in2 floats, lanes outside the row zero. One vector load
 * when the span lies inside the row, or inside [lo, hi) (the image chunk: memory that may be read)
 * with the lanes outside the row masked; lane by lane only at the chunk's two ends. */
static inline __attribute__((always_inline)) float8
conv_load8(__global const float *src, int ie, int in2, __global const float *lo,
           __global const float *hi) {
    if (ie >= 0 && ie + 8 <= in2) return vload8(0, src + ie);
    __global const float *p = src + ie;
    if (p >= lo && p + 8 <= hi) {
        const int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7) + ie;
        return select((float8)(0.0f), vload8(0, p), (lane >= 0) & (lane < (int8)(in2)));
    }
    float t[8];
    for (int e = 0; e < 8; e++) t[e] = ie + e >= 0 && ie + e < in2 ? src[ie + e] : 0.0f;
    return vload8(0, t);
}

/* conv_load8 16 floats wide (one AVX-512 register). */
static inline __attribute__((always_inline)) float16
conv_load16(__global const float *src, int ie, int in2, __global const float *lo,
            __global const float *hi) {
    if (ie >= 0 && ie + 16 <= in2) return vload16(0, src + ie);
    __global const float *p = src + ie;
    if (p >= lo && p + 16 <= hi) {
        const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) + ie;
        return select((float16)(0.0f), vload16(0, p), (lane >= 0) & (lane < (int16)(in2)));
    }
    float t[16];
    for (int e = 0; e < 16; e++) t[e] = ie + e >= 0 && ie + e < in2 ? src[ie + e] : 0.0f;
    return vload16(0, t);
}

/* Copy positions [l, l + cnt) of image row-of-taps (da, db, de) of one channel xr into d
 * (consecutive floats, step dstep): cnt ≤ what remains of the output row at (oa, ob, oe).
 * [lo, hi): the image chunk (see conv_load8). */
static inline __attribute__((always_inline)) void
conv_gather_seg(__local float *d, int dstep, __global const float *xr, const gconv_geom *g, int oa,
                int ob, int oe, int da, int db, int de, int cnt, __global const float *lo,
                __global const float *hi) {
    int ia = oa * g->stride[0] - g->pad[0] + da, ib = ob * g->stride[1] - g->pad[1] + db;
    if (ia < 0 || ia >= g->in[0] || ib < 0 || ib >= g->in[1]) {
        for (int q = 0; q < cnt; q++) d[q * dstep] = 0.0f;
        return;
    }
    __global const float *src = xr + (ia * g->in[1] + ib) * g->in[2];
    int ie = oe * g->stride[2] - g->pad[2] + de, s2 = g->stride[2], in2 = g->in[2];
    if (dstep == 1 && cnt == NR && s2 == 1 && ie >= 0 && ie + NR <= in2) {
#pragma unroll
        for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, src + ie), v, d);
        return;
    }
#if NR % 8 == 0
    if (dstep == 1 && cnt == NR && s2 == 1) { /* a row edge: masked vector loads */
#pragma unroll
        for (int h = 0; h < NR / 8; h++)
            vstore8(conv_load8(src, ie + 8 * h, in2, lo, hi), 0, d + 8 * h);
        return;
    }
#endif
    if (s2 == 1) {
        for (int q = 0; q < cnt; q++, ie++) d[q * dstep] = ie >= 0 && ie < in2 ? src[ie] : 0.0f;
    } else {
        for (int q = 0; q < cnt; q++, ie += s2)
            d[q * dstep] = ie >= 0 && ie < in2 ? src[ie] : 0.0f;
    }
}

/* Forward B slab: rows [k0, k0 + kc) of col (rows ch·K + kk of this group's channels, xb at its
 * first channel) × positions [j0, j0 + cols) → micro-panels bl[t][kk][NR], zero past cols. */
static inline __attribute__((always_inline)) void
conv_pack_fwd(__local float *bl, __global const float *xb, const gconv_geom *g, int S, int k0,
              int kc, int j0, int cols, int ntc, __global const float *lo,
              __global const float *hi) {
    const int K = g->k[0] * g->k[1] * g->k[2], o1 = g->out[1], o2 = g->out[2];
    int ci = k0 / K, kr = k0 - ci * K;
    int ka = kr / (g->k[1] * g->k[2]), kb = kr / g->k[2] % g->k[1], ke = kr % g->k[2];
    int p0 = j0, oe0 = p0 % o2, ob0 = p0 / o2 % o1, oa0 = p0 / o2 / o1;
#if NR % 8 == 0
    if (g->stride[2] == 1 && o2 % 8 == 0) {
        /* Output rows of a multiple of 8 (so every row starts 8-aligned in the slab): each
         * row segment is copied 8 floats at a time (conv_load8), with per-row index work only. */
        const int in0 = g->in[0], in1 = g->in[1], in2 = g->in[2];
        for (int kk = 0; kk < kc; kk++) {
            __global const float *xr = xb + ci * S;
            __local float *d = bl + kk * NR;
            int da = ka * g->dil[0], db = kb * g->dil[1], de = ke * g->dil[2];
            int oa = oa0, ob = ob0, oe = oe0, c = 0;
            while (c < cols) {
                int seg = min(cols - c, o2 - oe);
                int ia = oa * g->stride[0] - g->pad[0] + da;
                int ib = ob * g->stride[1] - g->pad[1] + db;
                if (ia >= 0 && ia < in0 && ib >= 0 && ib < in1) {
                    __global const float *src = xr + (ia * in1 + ib) * in2;
                    int ie = oe - g->pad[2] + de, h = 0;
#if NR % 16 == 0
                    if (o2 % 16 == 0) /* then c and seg are multiples of 16 too */
                        for (; h < seg; h += 16, c += 16)
                            vstore16(conv_load16(src, ie + h, in2, lo, hi), 0,
                                     d + SLAB_AT(c));
#endif
                    for (; h < seg; h += 8, c += 8)
                        vstore8(conv_load8(src, ie + h, in2, lo, hi), 0,
                                d + SLAB_AT(c));
                } else {
                    for (int h = 0; h < seg; h += 8, c += 8)
                        vstore8((float8)(0.0f), 0, d + SLAB_AT(c));
                }
                oe += seg;
                if (oe == o2) {
                    oe = 0;
                    if (++ob == o1) ob = 0, oa++;
                }
            }
            for (; c < ntc * NR; c += 8) vstore8((float8)(0.0f), 0, d + SLAB_AT(c));
            if (++ke == g->k[2]) {
                ke = 0;
                if (++kb == g->k[1]) {
                    kb = 0;
                    if (++ka == g->k[0]) ka = 0, ci++;
                }
            }
        }
        return;
    }
#endif
    for (int kk = 0; kk < kc; kk++) {
        __global const float *xr = xb + ci * S;
        int da = ka * g->dil[0], db = kb * g->dil[1], de = ke * g->dil[2];
        int oa = oa0, ob = ob0, oe = oe0;
        for (int t = 0; t < ntc; t++) {
            __local float *d = bl + t * PANEL + kk * NR;
            int nc = min(NR, cols - t * NR), c = 0;
            while (c < nc) {
                int seg = min(nc - c, o2 - oe);
                conv_gather_seg(d + c, 1, xr, g, oa, ob, oe, da, db, de, seg, lo, hi);
                c += seg;
                oe += seg;
                if (oe == o2) {
                    oe = 0;
                    if (++ob == o1) ob = 0, oa++;
                }
            }
            for (; c < NR; c++) d[c] = 0.0f;
        }
        if (++ke == g->k[2]) {
            ke = 0;
            if (++kb == g->k[1]) {
                kb = 0;
                if (++ka == g->k[0]) ka = 0, ci++;
            }
        }
    }
}

/* Matrix side (n, G·m, L) (=|+=) W (G·m, cg·K) · im2col(image) [+ bias], per image and group:
 * a GEMM with M = m (rows of a group), N = L positions, K = cg·K. ap: the weights packed by
 * gemm_pack_a (batch = group, ap_stride apart); x holds nimg images. Work-item (column block,
 * row block, n·G + group);
 * bl: nt·PANEL floats. beta 1 accumulates into y, 0 overwrites it. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
conv_gemm_fwd(const gconv_geom g, int groups, __global const float *ap, int ap_off, int ap_stride,
              __global const float *x, int x_off, int nimg, __global float *y, int y_off, int m,
              int k,
              float beta, int has_bias, __global const float *bias, int b_off, int rt, int nt,
              int kb, __local float *bl) {
    int bj = get_global_id(0), bi = get_global_id(1), bb = get_global_id(2);
    int grp = bb % groups, img = bb / groups;
    int L = g.out[0] * g.out[1] * g.out[2], S = g.in[0] * g.in[1] * g.in[2], cg = g.c / groups;
    int i0 = bi * rt * MR, j0 = bj * nt * NR;
    int rows = min(rt * MR, m - i0), cols = min(nt * NR, L - j0);
    if (rows <= 0 || cols <= 0) return;
    int ntc = (cols + NR - 1) / NR;
    __global const float *A = ap + ap_off + grp * ap_stride + (i0 / MR) * k * MR;
    __global const float *xb = x + x_off + (img * g.c + grp * cg) * S;
    __global float *C = y + y_off + (bb * m + i0) * L + j0;
    __global const float *bp = bias + b_off + grp * m + i0;
    __global const float *lo = x + x_off, *hi = lo + nimg * g.c * S;
    for (int k0 = 0; k0 < k; k0 += kb) {
        int kc = min(kb, k - k0);
        conv_pack_fwd(bl, xb, &g, S, k0, kc, j0, cols, ntc, lo, hi);
        gemm_block(A + k0 * MR, k * MR, bl, C, L, rows, cols, kc, k0 == 0, beta, bp, has_bias);
    }
}

/* Weight-gradient B slab: positions [q0, q0 + kc) (one image, xb at its group's first channel) ×
 * col rows [j0, j0 + cols) → micro-panels bl[t][kk][NR] (the transpose of the forward slab).
 * Eight columns × eight positions of one output row at a time, loaded as eight vectors (one per
 * column, conv_load8) and transposed in registers; the rest of a row element by element. */
static inline __attribute__((always_inline)) void
conv_pack_wgrad(__local float *bl, __global const float *xb, const gconv_geom *g, int S, int q0,
                int kc, int j0, int cols, int ntc, __global const float *lo,
                __global const float *hi) {
    const int K = g->k[0] * g->k[1] * g->k[2], o1 = g->out[1], o2 = g->out[2];
    const int in0 = g->in[0], in1 = g->in[1], in2 = g->in[2], s2 = g->stride[2];
    int ci = j0 / K, kr = j0 - ci * K;
    int ka = kr / (g->k[1] * g->k[2]), kb = kr / g->k[2] % g->k[1], ke = kr % g->k[2];
    int oe0 = q0 % o2, ob0 = q0 / o2 % o1, oa0 = q0 / o2 / o1;
#if NR % 8 == 0
    for (int j8 = 0; j8 < ntc * NR; j8 += 8) {
        int off[8], da[8], db[8], de[8];
#pragma unroll
        for (int c = 0; c < 8; c++) {
            int ok = j8 + c < cols;
            off[c] = ci * S;
            da[c] = ok ? ka * g->dil[0] : -(1 << 29); /* a column past cols: always outside */
            db[c] = kb * g->dil[1];
            de[c] = ke * g->dil[2];
            if (++ke == g->k[2]) {
                ke = 0;
                if (++kb == g->k[1]) {
                    kb = 0;
                    if (++ka == g->k[0]) ka = 0, ci++;
                }
            }
        }
        __local float *d = bl + (j8 / NR) * PANEL + j8 % NR;
        int oa = oa0, ob = ob0, oe = oe0, q = 0;
        while (q < kc) {
            int seg = min(kc - q, o2 - oe);
            int iab = oa * g->stride[0] - g->pad[0], ibb = ob * g->stride[1] - g->pad[1];
            int ieb = oe * s2 - g->pad[2];
            __global const float *src[8];
            int inside[8];
#pragma unroll
            for (int c = 0; c < 8; c++) {
                int ia = iab + da[c], ib = ibb + db[c];
                inside[c] = ia >= 0 && ia < in0 && ib >= 0 && ib < in1;
                src[c] = xb + off[c] + (inside[c] ? (ia * in1 + ib) * in2 : 0);
            }
            int qq = 0;
            if (s2 == 1)
                for (; qq + 8 <= seg; qq += 8) {
                    float8 r[8], o[8];
#pragma unroll
                    for (int c = 0; c < 8; c++)
                        r[c] = inside[c] ? conv_load8(src[c], ieb + qq + de[c], in2, lo, hi)
                                         : (float8)(0.0f);
                    gemm_transpose8(r, o);
#pragma unroll
                    for (int e = 0; e < 8; e++) vstore8(o[e], 0, d + (q + qq + e) * NR);
                }
            for (; qq < seg; qq++) {
                __local float *dq = d + (q + qq) * NR;
#pragma unroll
                for (int c = 0; c < 8; c++) {
                    int ie = ieb + qq * s2 + de[c];
                    dq[c] = inside[c] && ie >= 0 && ie < in2 ? src[c][ie] : 0.0f;
                }
            }
            q += seg;
            oe += seg;
            if (oe == o2) {
                oe = 0;
                if (++ob == o1) ob = 0, oa++;
            }
        }
    }
#else
    for (int j = 0; j < ntc * NR; j++) {
        __local float *d = bl + (j / NR) * PANEL + j % NR;
        if (j >= cols) {
            for (int q = 0; q < kc; q++) d[q * NR] = 0.0f;
            continue;
        }
        __global const float *xr = xb + ci * S;
        int da = ka * g->dil[0], db = kb * g->dil[1], de = ke * g->dil[2];
        int oa = oa0, ob = ob0, oe = oe0, q = 0;
        while (q < kc) {
            int seg = min(kc - q, o2 - oe);
            conv_gather_seg(d + q * NR, NR, xr, g, oa, ob, oe, da, db, de, seg, lo, hi);
            q += seg;
            oe += seg;
            if (oe == o2) {
                oe = 0;
                if (++ob == o1) ob = 0, oa++;
            }
        }
        if (++ke == g->k[2]) {
            ke = 0;
            if (++kb == g->k[1]) {
                kb = 0;
                if (++ka == g->k[0]) ka = 0, ci++;
            }
        }
    }
#endif
}

/* Partial weight gradients: part[s·G + grp] (m × k, k = cg·K) = Σ over the positions of split s
 * of dy (m × positions) · im2col(image)ᵀ. The (image, position) pairs, flattened over nimg·L, are
 * split into nsplit ranges of qs; k-blocks never cross an image. ap: dy packed by gemm_pack_a
 * (batch = image·G + group, ap_stride apart, k = L, panels ap_pk apart). Work-item (column
 * block, row block, s·G + group). conv_gemm_wsum adds the partials to dW. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
conv_gemm_wgrad(const gconv_geom g, int groups, __global const float *ap, int ap_off,
                int ap_stride, int ap_pk, __global const float *x, int x_off, __global float *part,
                int part_off, int m, int k, int nimg, int qs, int rt, int nt, int kb,
                __local float *bl) {
    int bj = get_global_id(0), bi = get_global_id(1), bs = get_global_id(2);
    int grp = bs % groups, s = bs / groups;
    int L = g.out[0] * g.out[1] * g.out[2], S = g.in[0] * g.in[1] * g.in[2], cg = g.c / groups;
    int i0 = bi * rt * MR, j0 = bj * nt * NR;
    int rows = min(rt * MR, m - i0), cols = min(nt * NR, k - j0);
    if (rows <= 0 || cols <= 0) return;
    int ntc = (cols + NR - 1) / NR;
    __global float *C = part + part_off + bs * m * k + i0 * k + j0;
    int q = s * qs, q1 = min(q + qs, nimg * L), first = 1;
    __global const float *lo = x + x_off, *hi = lo + nimg * g.c * S;
    while (q < q1 || first) {
        int img = q / L, l = q - img * L;
        int kc = max(0, min(min(kb, q1 - q), L - l));
        __global const float *A =
            ap + ap_off + (img * groups + grp) * ap_stride + (i0 / MR) * ap_pk + l * MR;
        __global const float *xb = x + x_off + (img * g.c + grp * cg) * S;
        if (kc > 0) conv_pack_wgrad(bl, xb, &g, S, l, kc, j0, cols, ntc, lo, hi);
        gemm_block(A, ap_pk, bl, C, k, rows, cols, kc, first, 0.0f, C, 0);
        first = 0;
        q += kc;
        if (kc == 0) break;
    }
}

/* dw[i] += Σ_s part[s][i] over nsplit partials of size len (per group: all groups together,
 * part[s] = (G, m, k) contiguous); one item per dw element, in order (deterministic). */
__kernel void conv_gemm_wsum(__global const float *part, int part_off, int nsplit, int len,
                             __global float *dw, int dw_off) {
    int i = get_global_id(0);
    if (i >= len) return;
    float acc = 0.0f;
    for (int s = 0; s < nsplit; s++) acc += part[part_off + s * len + i];
    dw[dw_off + i] += acc;
}
