/* opencl/conv.c — OpenCL conv kernels (host side; device code in cl/conv.cl). Each entry sets the
 * arguments of one cached kernel and enqueues it; nothing here syncs with the host. All index
 * arithmetic on the device is int, so every size is checked against INT_MAX first. */
#include <limits.h>
#include <stdio.h>
#include "clrt.h"
#include "../kern_conv.h"

/* Same layout as `cgeom` in cl/conv.cl (ints only, so no padding questions). */
typedef struct conv_cgeom {
    cl_int c;
    cl_int in[3], out[3];
    cl_int k[3], stride[3], pad[3], dil[3];
} conv_cgeom;

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
    return finish3(dev, k, &a, rows ? 1 : g->out[2], lc / g->out[2], g->c * geom_k(g) * nb);
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
