/* opencl/norm.c — host side of the OpenCL norm kernels (device code in cl/norm.cl).
 *
 * Each entry sets arguments and launches. Reductions run one work-group per row (group or
 * channel) with a local size picked per launch: the power of two covering the row length, at
 * most 256 (16 on CPUs) and at most what the kernel allows on the device; its local buffer is a
 * kernel argument. Optional pointers (NULL buf) become a flag 0 plus a dummy buffer never touched.
 * The elementwise kernels take NORM_CHUNK consecutive elements per work-item.
 */
#include "clrt.h"
#include "../kern_norm.h"

static cl_kernel norm_kernel(tassl_device *dev, const char *name) {
    return tassl_cl_kernel(dev, "norm", name, "");
}

/* Local size for rows of `len` elements: a power of two in [1, 256], >= len where possible. */
static size_t row_lws(tassl_device *dev, cl_kernel k, int64_t len) {
    /* CPUs: 16 items, each summing a long contiguous share (pocl runs the items of a group as
     * loops between the barriers; 256 were 2-3x slower on the SimCLR step's batch norms) */
    size_t max = dev->info.type == TASSL_DEVICE_CPU ? 16 : 256, kwg = 0;
    if (clGetKernelWorkGroupInfo(k, tassl_cl_of(dev)->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                 &kwg, NULL) == CL_SUCCESS &&
        kwg > 0 && kwg < max)
        max = kwg;
    size_t lws = 1;
    while (lws * 2 <= max && (int64_t)lws < len)
        lws *= 2;
    return lws;
}

/* The geometry's sizes as int kernel arguments (tassl_cl_arg_int checks they fit). */
static void arg_geom(tassl_cl_args *a, const tassl_norm_geom *g) {
    tassl_cl_arg_int(a, g->s_inner);
    tassl_cl_arg_int(a, g->s_count);
    tassl_cl_arg_int(a, g->c_inner);
    tassl_cl_arg_int(a, g->c_count);
}

/* An optional pointer: (buffer, offset, present). A missing one reuses `dummy`'s buffer. */
static void arg_opt(tassl_cl_args *a, tassl_ptr p, tassl_ptr dummy) {
    tassl_cl_arg_ptr(a, p.buf ? p : dummy);
    tassl_cl_arg_int(a, p.buf != NULL);
}

#define NORM_CHUNK 64 /* as in cl/norm.cl */

static tassl_status finish(tassl_device *dev, cl_kernel k, const tassl_cl_args *a, int64_t n) {
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, "norm: clSetKernelArg");
    return tassl_cl_launch_1d(dev, k, n);
}

/* Launch of an elementwise kernel over n elements, NORM_CHUNK per work-item. */
static tassl_status finish_chunks(tassl_device *dev, cl_kernel k, const tassl_cl_args *a,
                                  int64_t n) {
    return finish(dev, k, a, (n + NORM_CHUNK - 1) / NORM_CHUNK);
}

/* One work-group per row of `len` elements; the last argument is the local buffer. */
static tassl_status launch_rows(tassl_device *dev, cl_kernel k, tassl_cl_args *a, int64_t rows,
                                int64_t len) {
    size_t lws = row_lws(dev, k, len);
    tassl_cl_arg(a, lws * sizeof(cl_float), NULL);
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, "norm: clSetKernelArg");
    TASSL_CHECK(rows * (int64_t)lws < INT32_MAX, "norm: %lld rows too many for one launch",
                (long long)rows);
    size_t gws = (size_t)rows * lws;
    return tassl_cl_launch(dev, k, 1, &gws, &lws);
}

static tassl_status cl_stats(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr var,
                             tassl_ptr rstd, const tassl_norm_geom *g, float eps) {
    cl_kernel k = norm_kernel(dev, "norm_stats");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, mean);
    tassl_cl_arg_ptr(&a, var);
    tassl_cl_arg_ptr(&a, rstd);
    tassl_cl_arg_int(&a, g->n);
    tassl_cl_arg_int(&a, g->s_inner);
    tassl_cl_arg_int(&a, g->s_count);
    tassl_cl_arg_float(&a, eps);
    return launch_rows(dev, k, &a, g->s_count, g->n / g->s_count);
}

static tassl_status cl_rstd(tassl_device *dev, tassl_ptr var, tassl_ptr rstd, int64_t count,
                            float eps) {
    cl_kernel k = norm_kernel(dev, "norm_rstd");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, var);
    tassl_cl_arg_ptr(&a, rstd);
    tassl_cl_arg_int(&a, count);
    tassl_cl_arg_float(&a, eps);
    return finish(dev, k, &a, count);
}

static tassl_status cl_running(tassl_device *dev, tassl_ptr mean, tassl_ptr var, tassl_ptr rmean,
                               tassl_ptr rvar, int64_t count, float momentum, float unbias) {
    cl_kernel k = norm_kernel(dev, "norm_running");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, mean);
    tassl_cl_arg_ptr(&a, var);
    tassl_cl_arg_ptr(&a, rmean);
    tassl_cl_arg_ptr(&a, rvar);
    tassl_cl_arg_int(&a, count);
    tassl_cl_arg_float(&a, momentum);
    tassl_cl_arg_float(&a, unbias);
    return finish(dev, k, &a, count);
}

static tassl_status cl_forward(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                               tassl_ptr gamma, tassl_ptr beta, tassl_ptr y,
                               const tassl_norm_geom *g) {
    cl_kernel k = norm_kernel(dev, "norm_forward");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, mean);
    tassl_cl_arg_ptr(&a, rstd);
    arg_opt(&a, gamma, x);
    arg_opt(&a, beta, x);
    tassl_cl_arg_ptr(&a, y);
    tassl_cl_arg_int(&a, g->n);
    arg_geom(&a, g);
    return finish_chunks(dev, k, &a, g->n);
}

/* norm_bwd_reduce over rows (r_inner, r_count): out1 (+)= Σ w·dy, out2 (+)= Σ w·dy·x̂. */
static tassl_status bwd_reduce(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                               tassl_ptr gamma, tassl_ptr dy, tassl_ptr out1, tassl_ptr out2,
                               int acc, int64_t r_inner, int64_t r_count,
                               const tassl_norm_geom *g) {
    cl_kernel k = norm_kernel(dev, "norm_bwd_reduce");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, mean);
    tassl_cl_arg_ptr(&a, rstd);
    arg_opt(&a, gamma, x);
    tassl_cl_arg_ptr(&a, dy);
    arg_opt(&a, out1, dy); // never written when absent
    arg_opt(&a, out2, dy);
    tassl_cl_arg_int(&a, acc);
    tassl_cl_arg_int(&a, g->n);
    tassl_cl_arg_int(&a, r_inner);
    tassl_cl_arg_int(&a, r_count);
    arg_geom(&a, g);
    return launch_rows(dev, k, &a, r_count, g->n / r_count);
}

static tassl_status cl_affine_bwd(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                                  tassl_ptr dy, tassl_ptr dgamma, tassl_ptr dbeta,
                                  const tassl_norm_geom *g) {
    if (!dgamma.buf && !dbeta.buf) return TASSL_OK;
    tassl_ptr none = {NULL, 0};
    return bwd_reduce(dev, x, mean, rstd, none, dy, dbeta, dgamma, 1, g->c_inner, g->c_count, g);
}

/* norm_bwd_x: dx += the input gradient (sums: see the kernel). */
static tassl_status bwd_x(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                          tassl_ptr gamma, tassl_ptr dy, tassl_ptr sums, tassl_ptr dx,
                          int training, int sums_raw, const tassl_norm_geom *g) {
    cl_kernel k = norm_kernel(dev, "norm_bwd_x");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, x);
    tassl_cl_arg_ptr(&a, mean);
    tassl_cl_arg_ptr(&a, rstd);
    arg_opt(&a, gamma, x);
    tassl_cl_arg_ptr(&a, dy);
    tassl_cl_arg_ptr(&a, training ? sums : dy); // sums unused in eval
    tassl_cl_arg_ptr(&a, dx);
    tassl_cl_arg_int(&a, training);
    tassl_cl_arg_int(&a, sums_raw);
    tassl_cl_arg_int(&a, g->n);
    arg_geom(&a, g);
    return finish_chunks(dev, k, &a, g->n);
}

static tassl_status cl_backward_x(tassl_device *dev, tassl_ptr x, tassl_ptr mean, tassl_ptr rstd,
                                  tassl_ptr gamma, tassl_ptr dy, tassl_ptr dx, tassl_ptr scratch,
                                  const tassl_norm_geom *g, int training) {
    if (training) {
        tassl_ptr s2 = {scratch.buf, scratch.off + g->s_count};
        tassl_status st =
            bwd_reduce(dev, x, mean, rstd, gamma, dy, scratch, s2, 0, g->s_inner, g->s_count, g);
        if (st != TASSL_OK) return st;
    }
    return bwd_x(dev, x, mean, rstd, gamma, dy, scratch, dx, training, 0, g);
}

/* One reduction (Σ dy, Σ dy·x̂ per group = channel) serves dgamma, dbeta and dx. */
static tassl_status cl_backward_fused(tassl_device *dev, tassl_ptr x, tassl_ptr mean,
                                      tassl_ptr rstd, tassl_ptr gamma, tassl_ptr dy, tassl_ptr dx,
                                      tassl_ptr dgamma, tassl_ptr dbeta, tassl_ptr scratch,
                                      const tassl_norm_geom *g) {
    if (g->c_inner != g->s_inner || g->c_count != g->s_count)
        return tassl_error(TASSL_ERR_ARG,
                           "opencl norm backward_fused: channel (%lld, %lld) is not the group "
                           "(%lld, %lld)",
                           (long long)g->c_inner, (long long)g->c_count, (long long)g->s_inner,
                           (long long)g->s_count);
    const tassl_ptr none = {NULL, 0}, s2 = {scratch.buf, scratch.off + g->s_count};
    tassl_status st =
        bwd_reduce(dev, x, mean, rstd, none, dy, scratch, s2, 0, g->s_inner, g->s_count, g);
    if (st == TASSL_OK && (dgamma.buf || dbeta.buf)) {
        cl_kernel k = norm_kernel(dev, "norm_affine_sums");
        if (!k) return TASSL_ERR_DEVICE;
        tassl_cl_args a = tassl_cl_args_begin(k);
        tassl_cl_arg_ptr(&a, scratch);
        arg_opt(&a, dgamma, scratch);
        arg_opt(&a, dbeta, scratch);
        tassl_cl_arg_int(&a, g->s_count);
        st = finish(dev, k, &a, g->s_count);
    }
    if (st == TASSL_OK && dx.buf) st = bwd_x(dev, x, mean, rstd, gamma, dy, scratch, dx, 1, 1, g);
    return st;
}

const tassl_kern_norm tassl_cl_kern_norm = {
    /* .stats = */ cl_stats,
    /* .rstd = */ cl_rstd,
    /* .running = */ cl_running,
    /* .forward = */ cl_forward,
    /* .affine_bwd = */ cl_affine_bwd,
    /* .backward_x = */ cl_backward_x,
    /* .backward_fused = */ cl_backward_fused,
};
