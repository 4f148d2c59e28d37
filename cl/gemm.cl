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
 * m zero. Work-item (k chunk, panel, batch). Panel p of batch b starts at b·ap_stride + p·k·MR. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
gemm_pack_a(__global const float *a, int a_off, int lda, int stride_a, int trans_a, int m, int k,
            float alpha, __global float *ap, int ap_off, int ap_stride) {
    int k0 = get_global_id(0) * PACK_KCHUNK, p = get_global_id(1), b = get_global_id(2);
    int k1 = min(k0 + PACK_KCHUNK, k);
    __global const float *A = a + a_off + b * stride_a;
    __global float *dst = ap + ap_off + b * ap_stride + (p * k + k0) * MR;
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
    int ntr = (rows + MR - 1) / MR, ntc = (cols + NR - 1) / NR;
    __global const float *A = ap + ap_off + bb * ap_stride + (i0 / MR) * k * MR;
    __global const float *B = b + b_off + bb * stride_b;
    __global float *C = c + c_off + bb * stride_c + i0 * ldc + j0;

    for (int k0 = 0; k0 < k || k0 == 0; k0 += kb) {
        int kc = min(kb, k - k0);
        gemm_pack_b(bl, B, ldb, trans_b, k0, kc, j0, cols, ntc);
        int first = k0 == 0;
        for (int tj = 0; tj < ntc; tj++) {
            int nc = min(NR, cols - tj * NR);
            for (int ti = 0; ti < ntr; ti++) {
                __global const float *pa = A + ti * k * MR + k0 * MR;
                __local const float *pb = bl + tj * PANEL;
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

                int nr = min(MR, rows - ti * MR);
                __global float *cp = C + ti * MR * ldc + tj * NR;
                if (nr == MR && nc == NR) {
#pragma unroll
                    for (int r = 0; r < MR; r++, cp += ldc)
#pragma unroll
                        for (int v = 0; v < NV; v++) {
                            VEC x = acc[r][v];
                            if (!first)
                                x += VLOAD(v, cp);
                            else if (beta != 0.0f)
                                x = beta * VLOAD(v, cp) + x;
                            VSTORE(x, v, cp);
                        }
                } else { /* edge tile: only the valid nr × nc corner */
#pragma unroll
                    for (int r = 0; r < MR; r++, cp += ldc) {
                        float row[NR];
#pragma unroll
                        for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, row);
                        for (int q = 0; q < nc && r < nr; q++) {
                            float x = row[q];
                            if (!first)
                                x += cp[q];
                            else if (beta != 0.0f)
                                x = beta * cp[q] + x;
                            cp[q] = x;
                        }
                    }
                }
            }
        }
    }
}
