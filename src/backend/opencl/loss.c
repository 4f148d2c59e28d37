/* opencl/loss.c — OpenCL loss kernels, host side: argument marshalling and -D specialisation of
 * cl/loss.cl (log vs plain softmax, which optional pointers are present, which pointwise loss).
 * Absent pointers are specialised away; a valid buffer is still passed in their argument slot. */
#include <stdio.h>
#include "clrt.h"
#include "../kern_loss.h"

#define INT_MAX_ELEMS 2147483647LL

/* Fetch kernel `name` of cl/loss.cl with the given options; NULL (message set) on failure. */
static cl_kernel loss_kernel(tassl_device *dev, const char *name, const char *opts) {
    return tassl_cl_kernel(dev, "loss", name, opts);
}

/* p if present, else fallback (a valid buffer for an argument the kernel never reads). */
static tassl_ptr or_ptr(tassl_ptr p, tassl_ptr fallback) {
    return p.buf ? p : fallback;
}

static tassl_status launch(tassl_device *dev, cl_kernel k, tassl_cl_args *a, int64_t n) {
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, "loss: clSetKernelArg");
    if (n == 0) return TASSL_OK;
    return tassl_cl_launch_1d(dev, k, n);
}

/* ---- softmax -------------------------------------------------------------------------------- */

static tassl_status cl_softmax(tassl_device *dev, tassl_ptr x, tassl_ptr y, int64_t A, int64_t M,
                               int64_t B, int log) {
    TASSL_CHECK(A * M * B <= INT_MAX_ELEMS, "softmax: %lld elements exceed int indexing",
                (long long)(A * M * B));
    cl_kernel k = loss_kernel(dev, "softmax_fwd", log ? "-DLOG_SOFTMAX=1" : "-DLOG_SOFTMAX=0");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, A);
    tassl_cl_arg_int(&a, M);
    tassl_cl_arg_int(&a, B);
    return launch(dev, k, &a, A * B);
}

static tassl_status cl_softmax_bwd(tassl_device *dev, tassl_ptr y, tassl_ptr dy, tassl_ptr dx,
                                   int64_t A, int64_t M, int64_t B, int log) {
    TASSL_CHECK(A * M * B <= INT_MAX_ELEMS, "softmax: %lld elements exceed int indexing",
                (long long)(A * M * B));
    cl_kernel k = loss_kernel(dev, "softmax_bwd", log ? "-DLOG_SOFTMAX=1" : "-DLOG_SOFTMAX=0");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, dx);
    tassl_cl_arg_int(&a, A);
    tassl_cl_arg_int(&a, M);
    tassl_cl_arg_int(&a, B);
    return launch(dev, k, &a, A * B);
}

/* ---- cross-entropy -------------------------------------------------------------------------- */

static tassl_status cl_ce(tassl_device *dev, tassl_ptr x, tassl_ptr t, tassl_ptr w, tassl_ptr loss,
                          tassl_ptr wt, int64_t N, int64_t C, int64_t S, float eps, int ignore) {
    TASSL_CHECK(N * C * S <= INT_MAX_ELEMS, "cross_entropy: %lld elements exceed int indexing",
                (long long)(N * C * S));
    char opts[64];
    snprintf(opts, sizeof opts, "-DHAS_WEIGHT=%d -DHAS_WT=%d", w.buf != NULL, wt.buf != NULL);
    cl_kernel k = loss_kernel(dev, "ce_fwd", opts);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, t);
    tassl_cl_arg_ptr(&a, or_ptr(w, x));
    tassl_cl_arg_ptr(&a, loss);
    tassl_cl_arg_ptr(&a, or_ptr(wt, loss));
    tassl_cl_arg_int(&a, N);
    tassl_cl_arg_int(&a, C);
    tassl_cl_arg_int(&a, S);
    tassl_cl_arg_float(&a, eps);
    tassl_cl_arg_int(&a, ignore);
    return launch(dev, k, &a, N * S);
}

static tassl_status cl_ce_bwd(tassl_device *dev, tassl_ptr x, tassl_ptr t, tassl_ptr w,
                              tassl_ptr dy, int dy_stride, tassl_ptr den, tassl_ptr dx, int64_t N,
                              int64_t C, int64_t S, float eps, int ignore) {
    TASSL_CHECK(N * C * S <= INT_MAX_ELEMS, "cross_entropy: %lld elements exceed int indexing",
                (long long)(N * C * S));
    char opts[64];
    snprintf(opts, sizeof opts, "-DHAS_WEIGHT=%d -DHAS_DEN=%d", w.buf != NULL, den.buf != NULL);
    cl_kernel k = loss_kernel(dev, "ce_bwd", opts);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, t);
    tassl_cl_arg_ptr(&a, or_ptr(w, x));
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_int(&a, dy_stride);
    tassl_cl_arg_ptr(&a, or_ptr(den, dy));
    tassl_cl_arg_ptr(&a, dx);
    tassl_cl_arg_int(&a, N);
    tassl_cl_arg_int(&a, C);
    tassl_cl_arg_int(&a, S);
    tassl_cl_arg_float(&a, eps);
    tassl_cl_arg_int(&a, ignore);
    return launch(dev, k, &a, N * S);
}

/* ---- pointwise losses ----------------------------------------------------------------------- */

/* pos_weight view to pass: the real one, or a 1-element dummy over `fallback` (never read). */
static tassl_kview pw_view(const tassl_kview *pw, tassl_ptr fallback) {
    if (pw && pw->buf) return *pw;
    tassl_kview v = {fallback.buf, fallback.off, 1, {1}, {1}};
    return v;
}

static tassl_status cl_pointwise(tassl_device *dev, tassl_loss_op op, tassl_ptr pa, tassl_ptr pb,
                                 const tassl_kview *pw, tassl_ptr y, int64_t n, float beta) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "loss: %lld elements exceed int indexing", (long long)n);
    char opts[64];
    int has_pw = pw && pw->buf;
    snprintf(opts, sizeof opts, "-DLOSS_OP=%d -DHAS_PW=%d", (int)op, has_pw);
    cl_kernel k = loss_kernel(dev, "pointwise_fwd", opts);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_kview v = pw_view(pw, pa);
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, pa);
    tassl_cl_arg_ptr(&a, pb);
    tassl_cl_arg_view(&a, &v);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, beta);
    return launch(dev, k, &a, n);
}

static tassl_status cl_pointwise_bwd(tassl_device *dev, tassl_loss_op op, tassl_ptr pa,
                                     tassl_ptr pb, const tassl_kview *pw, tassl_ptr dy,
                                     int dy_stride, float scale, tassl_ptr da, tassl_ptr db,
                                     tassl_ptr dp, int64_t n, float beta) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "loss: %lld elements exceed int indexing", (long long)n);
    if (!da.buf && !db.buf && !dp.buf) return TASSL_OK;
    char opts[128];
    int has_pw = pw && pw->buf;
    snprintf(opts, sizeof opts, "-DLOSS_OP=%d -DHAS_PW=%d -DHAS_DA=%d -DHAS_DB=%d -DHAS_DP=%d",
             (int)op, has_pw, da.buf != NULL, db.buf != NULL, dp.buf != NULL);
    cl_kernel k = loss_kernel(dev, "pointwise_bwd", opts);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_kview v = pw_view(pw, pa);
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, pa);
    tassl_cl_arg_ptr(&a, pb);
    tassl_cl_arg_view(&a, &v);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_int(&a, dy_stride);
    tassl_cl_arg_float(&a, scale);
    tassl_cl_arg_ptr(&a, or_ptr(da, pa));
    tassl_cl_arg_ptr(&a, or_ptr(db, pa));
    tassl_cl_arg_ptr(&a, or_ptr(dp, pa));
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, beta);
    return launch(dev, k, &a, n);
}

const tassl_kern_loss tassl_cl_kern_loss = {
    /* .softmax = */ cl_softmax,
    /* .softmax_bwd = */ cl_softmax_bwd,
    /* .ce = */ cl_ce,
    /* .ce_bwd = */ cl_ce_bwd,
    /* .pointwise = */ cl_pointwise,
    /* .pointwise_bwd = */ cl_pointwise_bwd,
};
