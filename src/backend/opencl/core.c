/* opencl/core.c — host side of the core kernels (cl/core.cl). */
#include <stdio.h>
#include "clrt.h"
#include "../kern_core.h"

#define ROW_WG 64

static cl_kernel K(tassl_device *dev, const char *name) {
    return tassl_cl_kernel(dev, "core", name, "");
}

static tassl_status finish_args(tassl_cl_args *a, const char *what) {
    return a->err == CL_SUCCESS ? TASSL_OK : tassl_cl_fail(a->err, what);
}

static tassl_status cl_fill(tassl_device *dev, tassl_ptr y, int64_t n, float v) {
    cl_kernel k = K(dev, "fill");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, v);
    tassl_status s = finish_args(&a, "fill: set args");
    char tag[32]; /* TASSL_PROFILE: the size */
    snprintf(tag, sizeof tag, "%s", n >= 1 << 20 ? ">=1M" : n >= 1 << 16 ? ">=64K" : "<64K");
    tassl_cl_prof_tag(tag);
    if (!s) s = tassl_cl_launch_1d(dev, k, n);
    tassl_cl_prof_tag(NULL);
    return s;
}

static tassl_status cl_rng(tassl_device *dev, tassl_ptr y, int64_t n, tassl_rng_dist dist,
                           uint64_t seed, uint64_t counter, float fa, float fb) {
    cl_kernel k = K(dev, "rng");
    if (!k) return TASSL_ERR_DEVICE;
    cl_uint w[4] = {(cl_uint)seed, (cl_uint)(seed >> 32), (cl_uint)counter,
                    (cl_uint)(counter >> 32)};
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_int(&a, (int)dist);
    for (int i = 0; i < 4; i++) tassl_cl_arg(&a, sizeof w[i], &w[i]);
    tassl_cl_arg_float(&a, fa);
    tassl_cl_arg_float(&a, fb);
    tassl_status s = finish_args(&a, "rng: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, n);
}

static int64_t view_numel(const tassl_kview *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

/* Row-major contiguous (strides are the suffix products of the shape; size-1 dims ignored). */
static int view_contiguous(const tassl_kview *v) {
    int64_t want = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->stride[d] != want) return 0;
        want *= v->shape[d];
    }
    return 1;
}

static tassl_status cl_copy(tassl_device *dev, const tassl_kview *src, const tassl_kview *dst,
                            int accumulate) {
    int64_t n = view_numel(dst);
    if (view_contiguous(src) && view_contiguous(dst) && view_numel(src) == n) {
        /* both plain arrays (e.g. the seed gradient of backward): 16 floats per work-item and no
         * index arithmetic; the strided kernel cost ~15 % of a conv forward+backward */
        cl_kernel kf = K(dev, "copy_flat");
        if (!kf) return TASSL_ERR_DEVICE;
        tassl_cl_args a = tassl_cl_args_begin(kf);
        tassl_cl_arg_ptr(&a, (tassl_ptr){src->buf, src->off});
        tassl_cl_arg_ptr(&a, (tassl_ptr){dst->buf, dst->off});
        tassl_cl_arg_int(&a, accumulate);
        tassl_cl_arg_int(&a, n);
        tassl_status s = finish_args(&a, "copy_flat: set args");
        return s ? s : tassl_cl_launch_1d(dev, kf, (n + 15) / 16);
    }
    /* rows of the last dim (both views have dst's shape): one index decomposition per row, e.g.
     * the channel-swapped weights of a convolution's data gradient (rows of k·k taps) */
    const int64_t len = dst->ndim > 0 ? dst->shape[dst->ndim - 1] : 1;
    const int rows = len >= 4 && src->ndim == dst->ndim && src->shape[src->ndim - 1] == len;
    cl_kernel k = K(dev, rows ? "copy_rows" : "copy");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_view(&a, src);
    tassl_cl_arg_view(&a, dst);
    tassl_cl_arg_int(&a, accumulate);
    tassl_cl_arg_int(&a, n);
    if (rows) tassl_cl_arg_int(&a, len);
    tassl_status s = finish_args(&a, "copy: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, rows ? n / len : n);
}

/* Elements per work-item of the chunked elementwise kernels: 16 on CPUs (fewer work-groups for
 * pocl to schedule; the unary kernels took ~5 % of a SimCLR step), 1 elsewhere. */
static int64_t elem_chunk(const tassl_device *dev) {
    return dev->info.type == TASSL_DEVICE_CPU ? 16 : 1;
}

/* ReLU on CPUs: the float8 kernels (cl/core.cl relu16, relu16_bwd) */
static bool relu16(const tassl_device *dev, tassl_unary_op op) {
    return op == TASSL_UNARY_RELU && dev->info.type == TASSL_DEVICE_CPU;
}

static tassl_status cl_unary(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                             int64_t n, float fa, float fb) {
    if (relu16(dev, op)) {
        cl_kernel k = K(dev, "relu16");
        if (!k) return TASSL_ERR_DEVICE;
        tassl_cl_args a = tassl_cl_args_begin(k);
        tassl_cl_arg_ptr(&a, x);
        tassl_cl_arg_ptr(&a, y);
        tassl_cl_arg_int(&a, n);
        tassl_status s = finish_args(&a, "relu16: set args");
        return s ? s : tassl_cl_launch_1d(dev, k, (n + 15) / 16);
    }
    cl_kernel k = K(dev, "unary");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_int(&a, (int)op);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, fa);
    tassl_cl_arg_float(&a, fb);
    const int64_t chunk = elem_chunk(dev);
    tassl_cl_arg_int(&a, chunk);
    tassl_status s = finish_args(&a, "unary: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, (n + chunk - 1) / chunk);
}

static tassl_status cl_unary_bwd(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                                 tassl_ptr dy, tassl_ptr dx, int64_t n, float fa, float fb) {
    if (relu16(dev, op)) {
        cl_kernel k = K(dev, "relu16_bwd");
        if (!k) return TASSL_ERR_DEVICE;
        tassl_cl_args a = tassl_cl_args_begin(k);
        tassl_cl_arg_ptr(&a, x);
        tassl_cl_arg_ptr(&a, dy);
        tassl_cl_arg_ptr(&a, dx);
        tassl_cl_arg_int(&a, n);
        tassl_status s = finish_args(&a, "relu16_bwd: set args");
        return s ? s : tassl_cl_launch_1d(dev, k, (n + 15) / 16);
    }
    cl_kernel k = K(dev, "unary_bwd");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_int(&a, (int)op);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, dx);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, fa);
    tassl_cl_arg_float(&a, fb);
    const int64_t chunk = elem_chunk(dev);
    tassl_cl_arg_int(&a, chunk);
    tassl_status s = finish_args(&a, "unary_bwd: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, (n + chunk - 1) / chunk);
}

static tassl_status cl_binary(tassl_device *dev, tassl_binary_op op, const tassl_kview *va,
                              const tassl_kview *vb, tassl_ptr c) {
    int64_t n = view_numel(va);
    /* plain arrays (a residual add): no index arithmetic */
    const int flat = view_contiguous(va) && view_contiguous(vb) && view_numel(vb) == n;
    cl_kernel k = K(dev, flat ? "binary_flat" : "binary");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_int(&a, (int)op);
    if (flat) {
        tassl_cl_arg_ptr(&a, (tassl_ptr){va->buf, va->off});
        tassl_cl_arg_ptr(&a, (tassl_ptr){vb->buf, vb->off});
    } else {
        tassl_cl_arg_view(&a, va);
        tassl_cl_arg_view(&a, vb);
    }
    tassl_cl_arg_ptr(&a, c);
    tassl_cl_arg_int(&a, n);
    tassl_status s = finish_args(&a, "binary: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, n);
}

static tassl_status cl_binary_bwd(tassl_device *dev, tassl_binary_op op, const tassl_kview *va,
                                  const tassl_kview *vb, tassl_ptr dy, tassl_ptr ga,
                                  tassl_ptr gb) {
    int64_t n = view_numel(va);
    const int flat = view_contiguous(va) && view_contiguous(vb) && view_numel(vb) == n;
    cl_kernel k = K(dev, flat ? "binary_bwd_flat" : "binary_bwd");
    if (!k) return TASSL_ERR_DEVICE;
    int want = (ga.buf ? 1 : 0) | (gb.buf ? 2 : 0);
    if (!ga.buf) ga = dy; /* never written: any valid buffer */
    if (!gb.buf) gb = dy;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_int(&a, (int)op);
    if (flat) {
        tassl_cl_arg_ptr(&a, (tassl_ptr){va->buf, va->off});
        tassl_cl_arg_ptr(&a, (tassl_ptr){vb->buf, vb->off});
    } else {
        tassl_cl_arg_view(&a, va);
        tassl_cl_arg_view(&a, vb);
    }
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, ga);
    tassl_cl_arg_ptr(&a, gb);
    tassl_cl_arg_int(&a, want);
    tassl_cl_arg_int(&a, n);
    tassl_status s = finish_args(&a, "binary_bwd: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, n);
}

static tassl_status launch_rows(tassl_device *dev, cl_kernel k, int64_t rows) {
    size_t gws = (size_t)rows * ROW_WG, lws = ROW_WG;
    return tassl_cl_launch(dev, k, 1, &gws, &lws);
}

static tassl_status cl_row_sum(tassl_device *dev, tassl_ptr x, tassl_ptr y, int64_t rows,
                               int64_t cols, float scale) {
    cl_kernel k = K(dev, "row_sum");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, cols);
    tassl_cl_arg_float(&a, scale);
    tassl_status s = finish_args(&a, "row_sum: set args");
    return s ? s : launch_rows(dev, k, rows);
}

static tassl_status cl_row_max(tassl_device *dev, tassl_ptr x, tassl_ptr y, tassl_ptr idx,
                               int64_t rows, int64_t cols) {
    cl_kernel k = K(dev, "row_max");
    if (!k) return TASSL_ERR_DEVICE;
    int want = idx.buf != NULL;
    if (!want) idx = y;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_ptr(&a, idx);
    tassl_cl_arg_int(&a, want);
    tassl_cl_arg_int(&a, cols);
    tassl_status s = finish_args(&a, "row_max: set args");
    return s ? s : launch_rows(dev, k, rows);
}

static tassl_status cl_row_scatter(tassl_device *dev, tassl_ptr dy, tassl_ptr idx, tassl_ptr dx,
                                   int64_t rows, int64_t cols) {
    cl_kernel k = K(dev, "row_scatter");
    if (!k) return TASSL_ERR_DEVICE;
    TASSL_CHECK(rows * cols < ((int64_t)1 << 31), "row_scatter: %lld x %lld too large",
                (long long)rows, (long long)cols);
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, idx);
    tassl_cl_arg_ptr(&a, dx);
    tassl_cl_arg_int(&a, rows);
    tassl_cl_arg_int(&a, cols);
    tassl_status s = finish_args(&a, "row_scatter: set args");
    return s ? s : tassl_cl_launch_1d(dev, k, rows);
}

const tassl_kern_core tassl_cl_kern_core = {
    /* .fill        = */ cl_fill,
    /* .rng         = */ cl_rng,
    /* .copy        = */ cl_copy,
    /* .unary       = */ cl_unary,
    /* .unary_bwd   = */ cl_unary_bwd,
    /* .binary      = */ cl_binary,
    /* .row_sum     = */ cl_row_sum,
    /* .row_max     = */ cl_row_max,
    /* .row_scatter = */ cl_row_scatter,
    /* .binary_bwd  = */ cl_binary_bwd,
};
