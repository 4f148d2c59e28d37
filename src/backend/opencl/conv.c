/* opencl/conv.c — OpenCL conv kernels (host side; device code in cl/conv.cl), and the
 * implicit-GEMM convolution (tassl_cl_conv_gemm, device code at the end of cl/gemm.cl). Each entry
 * sets the arguments of cached kernels and enqueues them; nothing here syncs with the host. All
 * index arithmetic on the device is int, so every size is checked against INT_MAX first. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "clrt.h"
#include "../gemm_params.h"
#include "../kern_conv.h"

/* Same layout as `cgeom` in cl/conv.cl (ints only, so no padding questions). */
typedef struct conv_cgeom {
    cl_int c;
    cl_int in[3], out[3];
    cl_int k[3], stride[3], pad[3], dil[3];
} conv_cgeom;

static int64_t cdiv64(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

static int64_t geom_k(const tassl_conv_geom *g) {
    return (int64_t)g->k[0] * g->k[1] * g->k[2];
}
static int64_t geom_s(const tassl_conv_geom *g) {
    return g->in[0] * g->in[1] * g->in[2];
}

static void fits_int(int64_t v, const char *what) {
    TASSL_CHECK(v >= 0 && v <= INT_MAX, "tassl conv (opencl): %s = %lld does not fit an int", what,
                (long long)v);
}

static conv_cgeom to_cgeom(const tassl_conv_geom *g, int64_t nb, int64_t l0, int64_t lc) {
    fits_int(nb * g->c * geom_s(g), "image chunk size");
    fits_int(g->c * geom_k(g) * nb * lc, "column buffer size");
    fits_int(g->out[0] * g->out[1] * g->out[2], "matrix-side spatial size");
    TASSL_CHECK(l0 % g->out[2] == 0 && lc % g->out[2] == 0 && lc > 0,
                "tassl conv (opencl): position range [%lld, +%lld) is not whole rows of %lld",
                (long long)l0, (long long)lc, (long long)g->out[2]);
    conv_cgeom cg;
    cg.c = (cl_int)g->c;
    for (int d = 0; d < 3; d++) {
        cg.in[d] = (cl_int)g->in[d];
        cg.out[d] = (cl_int)g->out[d];
        cg.k[d] = g->k[d];
        cg.stride[d] = g->stride[d];
        cg.pad[d] = g->pad[d];
        cg.dil[d] = g->dil[d];
    }
    return cg;
}

static tassl_status finish(tassl_device *dev, cl_kernel k, tassl_cl_args *a, int64_t n) {
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, "conv: clSetKernelArg");
    return tassl_cl_launch_1d(dev, k, n);
}

/* A 3-D launch (fastest dim first), as im2col and col2im use. */
static tassl_status finish3(tassl_device *dev, cl_kernel k, tassl_cl_args *a, int64_t d0,
                            int64_t d1, int64_t d2) {
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, "conv: clSetKernelArg");
    const size_t gws[3] = {(size_t)d0, (size_t)d1, (size_t)d2};
    return tassl_cl_launch(dev, k, 3, gws, NULL);
}

static tassl_status cl_im2col(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr x, int64_t nb,
                              int64_t l0, int64_t lc, tassl_ptr col) {
    conv_cgeom cg = to_cgeom(g, nb, l0, lc);
    /* CPUs: one work-item per output row (see conv_im2col); other devices: per element */
    const int rows = dev->info.type == TASSL_DEVICE_CPU;
    cl_kernel k = tassl_cl_kernel(dev, "conv", "conv_im2col", rows ? "-DCONV_ROW_LOOP=1" : "");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg(&a, sizeof cg, &cg);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_int(&a, nb);
    tassl_cl_arg_int(&a, l0);
    tassl_cl_arg_int(&a, lc);
    tassl_cl_arg_ptr(&a, col);
    /* CPUs: output rows and column rows per item, enough for ~64 outputs (small maps have rows
     * of 2–8 and a few rows per image) */
    const int64_t nrows = lc / g->out[2], ncol = g->c * geom_k(g) * nb;
    int64_t rpi = rows ? 64 / g->out[2] : 1;
    if (rpi < 1) rpi = 1;
    if (rpi > nrows) rpi = nrows;
    int64_t npi = rows ? 64 / (rpi * g->out[2]) : 1;
    if (npi < 1) npi = 1;
    tassl_cl_arg_int(&a, rpi);
    tassl_cl_arg_int(&a, npi);
    return finish3(dev, k, &a, rows ? 1 : g->out[2], cdiv64(nrows, rpi), cdiv64(ncol, npi));
}

/* Image rows (flat index over in[0]·in[1]) that positions [l0, l0 + lc) read, as [*r0, *r1):
 * the output rows' span along dims 0 and 1, widened by the kernel's reach and clipped. */
static void touched_rows(const tassl_conv_geom *g, int64_t l0, int64_t lc, int64_t *r0,
                         int64_t *r1) {
    const int64_t oab0 = l0 / g->out[2], oab1 = (l0 + lc) / g->out[2] - 1; /* inclusive */
    const int64_t oa0 = oab0 / g->out[1], oa1 = oab1 / g->out[1];
    int64_t ia0 = oa0 * g->stride[0] - g->pad[0];
    int64_t ia1 = oa1 * g->stride[0] - g->pad[0] + (int64_t)g->dil[0] * (g->k[0] - 1);
    int64_t ib0 = 0, ib1 = g->in[1] - 1;
    if (oa0 == oa1) { /* within one plane: the rows' own span along dim 1 */
        ib0 = (oab0 - oa0 * g->out[1]) * g->stride[1] - g->pad[1];
        ib1 = (oab1 - oa0 * g->out[1]) * g->stride[1] - g->pad[1] +
              (int64_t)g->dil[1] * (g->k[1] - 1);
    }
    if (ia0 < 0) ia0 = 0;
    if (ia1 > g->in[0] - 1) ia1 = g->in[0] - 1;
    if (ib0 < 0) ib0 = 0;
    if (ib1 > g->in[1] - 1) ib1 = g->in[1] - 1;
    if (ia0 > ia1 || ib0 > ib1) {
        *r0 = *r1 = 0;
        return;
    }
    if (ia0 != ia1) ib0 = 0, ib1 = g->in[1] - 1; /* several planes: a plain flat interval */
    *r0 = ia0 * g->in[1] + ib0;
    *r1 = ia1 * g->in[1] + ib1 + 1;
}

static tassl_status cl_col2im(tassl_device *dev, const tassl_conv_geom *g, tassl_ptr col,
                              int64_t nb, int64_t l0, int64_t lc, tassl_ptr x, int has_bias,
                              tassl_ptr bias, int accumulate) {
    conv_cgeom cg = to_cgeom(g, nb, l0, lc);
    int64_t r0 = 0, r1 = g->in[0] * g->in[1];
    if (accumulate && !has_bias) touched_rows(g, l0, lc, &r0, &r1); /* others would not change */
    if (r1 <= r0) return TASSL_OK;
    cl_kernel k = tassl_cl_kernel(dev, "conv", "conv_col2im", "");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg(&a, sizeof cg, &cg);
    tassl_cl_arg_ptr(&a, col);
    tassl_cl_arg_int(&a, nb);
    tassl_cl_arg_int(&a, l0);
    tassl_cl_arg_int(&a, lc);
    tassl_cl_arg_int(&a, r0);
    tassl_cl_arg_int(&a, r1 - r0);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_int(&a, has_bias != 0);
    tassl_cl_arg_ptr(&a, has_bias ? bias : x); /* x stands in for an absent bias; never read */
    tassl_cl_arg_int(&a, accumulate != 0);
    return finish3(dev, k, &a, g->in[2], r1 - r0, nb * g->c);
}

static tassl_status cl_from_cnl(tassl_device *dev, tassl_ptr t, tassl_ptr y, int64_t nb, int64_t c,
                                int64_t l, int has_bias, tassl_ptr bias, int accumulate) {
    fits_int(nb * c * l, "from_cnl size");
    cl_kernel k = tassl_cl_kernel(dev, "conv", "conv_from_cnl", "");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, t);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, nb);
    tassl_cl_arg_int(&a, c);
    tassl_cl_arg_int(&a, l);
    tassl_cl_arg_int(&a, has_bias != 0);
    tassl_cl_arg_ptr(&a, has_bias ? bias : y);
    tassl_cl_arg_int(&a, accumulate != 0);
    return finish(dev, k, &a, nb * c * l);
}

static tassl_status cl_to_cnl(tassl_device *dev, tassl_ptr y, tassl_ptr t, int64_t nb, int64_t c,
                              int64_t l) {
    fits_int(nb * c * l, "to_cnl size");
    cl_kernel k = tassl_cl_kernel(dev, "conv", "conv_to_cnl", "");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_ptr(&a, t);
    tassl_cl_arg_int(&a, nb);
    tassl_cl_arg_int(&a, c);
    tassl_cl_arg_int(&a, l);
    return finish(dev, k, &a, nb * c * l);
}

static tassl_status cl_bias_grad(tassl_device *dev, tassl_ptr dy, tassl_ptr db, int64_t n,
                                 int64_t c, int64_t l) {
    fits_int(n * c * l, "bias_grad size");
    size_t wg = 64; /* CONV_WG's default; smaller only on devices that cannot run 64 */
    while (wg > 1 && wg > dev->info.max_work_group)
        wg /= 2;
    char opts[32] = "";
    if (wg != 64) snprintf(opts, sizeof opts, "-DCONV_WG=%zu", wg);
    cl_kernel k = tassl_cl_kernel(dev, "conv", "conv_bias_grad", opts);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, db);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_int(&a, c);
    tassl_cl_arg_int(&a, l);
    if (a.err != CL_SUCCESS) return tassl_cl_fail(a.err, "conv_bias_grad: clSetKernelArg");
    const size_t gws = (size_t)c * wg;
    return tassl_cl_launch(dev, k, 1, &gws, &wg);
}

const tassl_kern_conv tassl_cl_kern_conv = {
    /* .im2col = */ cl_im2col,
    /* .col2im = */ cl_col2im,
    /* .from_cnl = */ cl_from_cnl,
    /* .to_cnl = */ cl_to_cnl,
    /* .bias_grad = */ cl_bias_grad,
};

/* ---- implicit-GEMM convolution ---------------------------------------------------------------
 * Forward (and the stride-1 data gradient): one gemm_pack_a of the weights (tiny), then
 * conv_gemm_fwd with one work-item per (position block, row block, image·group), B gathered from
 * the image into __local scratch inside the kernel. Weight gradient: gemm_pack_a of dy (the A
 * operand, k = positions), then conv_gemm_wgrad with the (image, position) pairs split into
 * ranges (its M × N, Cout × Cin·K, is too small to keep the cores busy otherwise), each range
 * writing a partial dW, and conv_gemm_wsum adding them to dW in a fixed order. */

#define CONV_GEMM_PART_FLOATS ((int64_t)16 << 20) /* partial dW scratch budget */


/* Work-item block (rt micro-tile rows, nt micro-tile columns) for an m × n product run `batch`
 * times: the parameter row's, shrunk until the compute units get `want` items, then evened. */
static void conv_blocks(const tassl_gemm_params *p, int64_t m, int64_t n, int64_t batch,
                        int64_t want, int64_t *rt_out, int64_t *nt_out) {
    const int64_t nr = p->vw * p->nv, panels = cdiv64(m, p->mr), ctiles = cdiv64(n, nr);
    int64_t rt = p->rt < panels ? p->rt : panels, nt = p->nt < ctiles ? p->nt : ctiles;
    while (cdiv64(panels, rt) * cdiv64(ctiles, nt) * batch < want && (nt > 1 || rt > 1)) {
        if (nt > 1)
            nt = cdiv64(nt, 2);
        else
            rt = cdiv64(rt, 2);
    }
    *rt_out = cdiv64(panels, cdiv64(panels, rt));
    *nt_out = cdiv64(ctiles, cdiv64(ctiles, nt));
}

/* Rows of the micro-tile for m rows of output channels: the parameter row's, except that the
 * default 6 × 16 tile becomes 8 × 16 when that pads m less (32 channels: 36 rows computed with 6,
 * 32 with 8; ~8 % less time for the 3D benchmark, the same for 64) and the device has AVX-512's 32
 * vector registers (pocl names its CPU device after the LLVM target: "...avx512..."); the 16
 * accumulators would spill on AVX2's 16. */
static int conv_rows_per_tile(const tassl_device *dev, const tassl_gemm_params *p, int64_t m) {
    if (p->mr != 6 || p->vw * p->nv != 16 || !strstr(dev->info.name, "avx512")) return p->mr;
    return cdiv64(m, 8) * 8 - m < cdiv64(m, 6) * 6 - m ? 8 : 6;
}

/* Enqueue gemm_pack_a: `batch` row-major (m × k) matrices `stride` apart → MR-row panels
 * pk floats apart, batches apb floats apart. */
static tassl_status conv_pack_a(tassl_device *dev, cl_kernel kpack, const tassl_gemm_params *p,
                                tassl_ptr a, int64_t lda, int64_t stride, int64_t m, int64_t k,
                                int64_t batch, tassl_ptr ap, int64_t apb, int64_t pk) {
    tassl_cl_args ar = tassl_cl_args_begin(kpack);
    tassl_cl_arg_ptr(&ar, a);
    tassl_cl_arg_int(&ar, lda);
    tassl_cl_arg_int(&ar, stride);
    tassl_cl_arg_int(&ar, 0);
    tassl_cl_arg_int(&ar, m);
    tassl_cl_arg_int(&ar, k);
    tassl_cl_arg_float(&ar, 1.0f);
    tassl_cl_arg_ptr(&ar, ap);
    tassl_cl_arg_int(&ar, apb);
    tassl_cl_arg_int(&ar, pk);
    if (ar.err != CL_SUCCESS) return tassl_cl_fail(ar.err, "gemm_pack_a: clSetKernelArg");
    const size_t one[3] = {1, 1, 1};
    const size_t gws[3] = {(size_t)cdiv64(k, 256), (size_t)cdiv64(m, p->mr), (size_t)batch};
    return tassl_cl_launch(dev, kpack, 3, gws, one);
}

tassl_status tassl_cl_conv_gemm(tassl_device *dev, const tassl_conv_gemm_args *a,
                                const tassl_gemm_params *params) {
    static const tassl_gemm_params cpu_default = TASSL_GEMM_PARAMS_CPU_DEFAULT;
    tassl_gemm_params pr = params ? *params : cpu_default;
    const tassl_gemm_params *p = &pr;
    const tassl_conv_geom *g = a->g;
    const int64_t n = a->n, G = a->groups, K = geom_k(g), S = geom_s(g);
    const int64_t L = g->out[0] * g->out[1] * g->out[2];
    const int64_t cg = g->c / G, mg = a->cmat / G, k = cg * K, nr = p->vw * p->nv;
    if (n == 0 || L == 0) return TASSL_OK;
    pr.mr = conv_rows_per_tile(dev, p, mg);
    const int64_t panels = cdiv64(mg, p->mr);
    /* packed A: the weights (G groups of mg × k) or dy (n·G blocks of mg × L; its panels are
     * read side by side at a distance of L·MR floats, a multiple of 4 KB for the usual L: 16
     * more positions of padding keep them off the same L1 sets) */
    const int64_t pk = p->mr * (a->wgrad ? L + 16 : k);
    const int64_t apb = panels * pk, abatch = a->wgrad ? n * G : G;
    if (n * g->c * S > INT_MAX || n * a->cmat * L > INT_MAX || apb * abatch > INT_MAX ||
        a->cmat * k > INT_MAX)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "tassl_cl_conv_gemm: sizes past 2^31 elements (image %lld, matrix "
                           "side %lld, packed operand %lld)",
                           (long long)(n * g->c * S), (long long)(n * a->cmat * L),
                           (long long)(apb * abatch));
    const int64_t cu = dev->info.compute_units > 0 ? dev->info.compute_units : 1;
    int64_t rt, nt;
    /* forward: m = mg rows × L positions per image·group; wgrad: mg × k per group, whole
     * blocks (the split of the positions below gives the cores their work: a narrower block
     * would stream the A panels, fresh from memory, once per 16 columns) */
    if (a->wgrad)
        conv_blocks(p, mg, k, G, 1, &rt, &nt);
    else
        conv_blocks(p, mg, L, n * G, 4 * cu, &rt, &nt);
    const size_t local_bytes = (size_t)nt * ((size_t)p->kc * (size_t)nr + 16) * sizeof(float);
    if (dev->info.local_mem && local_bytes > dev->info.local_mem)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "tassl_cl_conv_gemm: B slab of %zu bytes exceeds the %llu bytes of "
                           "local memory of %s",
                           local_bytes, (unsigned long long)dev->info.local_mem, dev->info.name);
    const int64_t kdim = a->wgrad ? L : k; /* GEMM k of one block: k-blocks of even length */
    const int64_t nkb = cdiv64(kdim, p->kc);
    const int64_t kb = cdiv64(cdiv64(kdim, nkb), p->unroll) * p->unroll;

    char opts[128];
    snprintf(opts, sizeof opts, "-DMR=%d -DVW=%d -DNV=%d -DKC=%d -DUNROLL=%d", p->mr, p->vw, p->nv,
             p->kc, p->unroll);
    cl_kernel kpack = tassl_cl_kernel(dev, "gemm", "gemm_pack_a", opts);
    if (!kpack) return TASSL_ERR_DEVICE;
    cl_kernel kconv =
        tassl_cl_kernel(dev, "gemm", a->wgrad ? "conv_gemm_wgrad" : "conv_gemm_fwd", opts);
    if (!kconv) return TASSL_ERR_DEVICE;
    cl_kernel ksum = NULL;
    if (a->wgrad && !(ksum = tassl_cl_kernel(dev, "gemm", "conv_gemm_wsum", opts)))
        return TASSL_ERR_DEVICE;

    /* weight gradient: split the n·L (image, position) pairs so that the blocks × splits
     * give the cores work, each split at least 256 positions, the partials within budget */
    int64_t nsplit = 1, qs = n * L;
    if (a->wgrad) {
        const int64_t blocks = cdiv64(panels, rt) * cdiv64(cdiv64(k, nr), nt) * G;
        const int64_t Q = n * L, wlen = G * mg * k;
        nsplit = cdiv64(16 * cu, blocks);
        if (nsplit > cdiv64(Q, 256)) nsplit = cdiv64(Q, 256);
        if (nsplit > CONV_GEMM_PART_FLOATS / wlen) nsplit = CONV_GEMM_PART_FLOATS / wlen;
        if (nsplit < 1) nsplit = 1;
        qs = cdiv64(Q, nsplit);
        nsplit = cdiv64(Q, qs);
        if (nsplit * wlen > INT_MAX)
            return tassl_error(TASSL_ERR_UNSUPPORTED,
                               "tassl_cl_conv_gemm: partial weight gradients past 2^31");
    }

    tassl_buf *sbuf = NULL, *pbuf = NULL;
    int64_t soff = 0, poff = 0;
    size_t sbytes = 0, pbytes = 0;
    const size_t need = (size_t)(apb * abatch) * sizeof(float);
    const size_t pneed = (size_t)(nsplit * G * mg * k) * sizeof(float);
    tassl_status s = tassl_pool_get(dev, need, &sbuf, &soff, &sbytes);
    if (s != TASSL_OK) return s;
    if (a->wgrad) {
        s = tassl_pool_get(dev, pneed, &pbuf, &poff, &pbytes);
        if (s != TASSL_OK) {
            tassl_pool_put(dev, sbuf, sbytes, soff ? need : 0);
            return s;
        }
    }
    const tassl_ptr ap = {sbuf, soff}, part = {pbuf, poff};
    char tag[64]; /* for TASSL_PROFILE: pass and shape */
    snprintf(tag, sizeof tag, "%s %lldx%lldx%lld",
             a->wgrad ? "wgrad" : g->dil[2] < 0 ? "dgrad" : "fwd", (long long)a->cmat,
             (long long)g->c, (long long)L);
    tassl_cl_prof_tag(tag);
    if (a->wgrad) /* dy (n, G·mg, L) as n·G blocks of mg × L */
        s = conv_pack_a(dev, kpack, p, a->mat, L, mg * L, mg, L, n * G, ap, apb, pk);
    else /* W (G·mg, cg·K) as G blocks of mg × k */
        s = conv_pack_a(dev, kpack, p, a->w, k, mg * k, mg, k, G, ap, apb, pk);

    conv_cgeom cgm = to_cgeom(g, 1, 0, g->out[2]);
    const size_t one[3] = {1, 1, 1};
    if (s == TASSL_OK) {
        tassl_cl_args ar = tassl_cl_args_begin(kconv);
        tassl_cl_arg(&ar, sizeof cgm, &cgm);
        tassl_cl_arg_int(&ar, G);
        tassl_cl_arg_ptr(&ar, ap);
        tassl_cl_arg_int(&ar, apb);
        if (a->wgrad) tassl_cl_arg_int(&ar, pk);
        tassl_cl_arg_ptr(&ar, a->img);
        if (a->wgrad) {
            tassl_cl_arg_ptr(&ar, part);
            tassl_cl_arg_int(&ar, mg);
            tassl_cl_arg_int(&ar, k);
            tassl_cl_arg_int(&ar, n);
            tassl_cl_arg_int(&ar, qs);
        } else {
            tassl_cl_arg_int(&ar, n);
            tassl_cl_arg_ptr(&ar, a->mat);
            tassl_cl_arg_int(&ar, mg);
            tassl_cl_arg_int(&ar, k);
            tassl_cl_arg_float(&ar, a->accumulate ? 1.0f : 0.0f);
            tassl_cl_arg_int(&ar, a->has_bias != 0);
            tassl_cl_arg_ptr(&ar, a->has_bias ? a->bias : a->mat); /* never read without bias */
        }
        tassl_cl_arg_int(&ar, rt);
        tassl_cl_arg_int(&ar, nt);
        tassl_cl_arg_int(&ar, kb);
        tassl_cl_arg(&ar, local_bytes, NULL);
        if (ar.err != CL_SUCCESS) {
            s = tassl_cl_fail(ar.err, "conv_gemm: clSetKernelArg");
        } else {
            const int64_t cols = a->wgrad ? k : L;
            const size_t gws[3] = {(size_t)cdiv64(cols, nt * nr), (size_t)cdiv64(mg, rt * p->mr),
                                   (size_t)((a->wgrad ? nsplit : n) * G)};
            s = tassl_cl_launch(dev, kconv, 3, gws, one);
        }
    }
    if (s == TASSL_OK && a->wgrad) {
        tassl_cl_args ar = tassl_cl_args_begin(ksum);
        tassl_cl_arg_ptr(&ar, part);
        tassl_cl_arg_int(&ar, nsplit);
        tassl_cl_arg_int(&ar, G * mg * k);
        tassl_cl_arg_ptr(&ar, a->w);
        s = finish(dev, ksum, &ar, G * mg * k);
    }
    tassl_cl_prof_tag(NULL);
    tassl_status ps = tassl_pool_put(dev, sbuf, sbytes, soff ? need : 0);
    if (pbuf) {
        tassl_status ps2 = tassl_pool_put(dev, pbuf, pbytes, poff ? pneed : 0);
        if (ps == TASSL_OK) ps = ps2;
    }
    return s != TASSL_OK ? s : ps;
}
