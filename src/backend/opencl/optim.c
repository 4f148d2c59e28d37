/* opencl/optim.c — host side of the optimiser kernels (cl/optim.cl): argument marshalling and
 * launches. Absent optional buffers are passed as NULL cl_mem (legal for __global pointers). */
#include "clrt.h"
#include "../kern_optim.h"

#define SUMSQ_WG 64
#define INT_MAX_ELEMS 2147483647LL

static cl_kernel K(tassl_device *dev, const char *name) {
    return tassl_cl_kernel(dev, "optim", name, "");
}

static tassl_status go(tassl_device *dev, cl_kernel k, tassl_cl_args *a, const char *what,
                       int64_t n) {
    if (a->err != CL_SUCCESS) return tassl_cl_fail(a->err, what);
    return tassl_cl_launch_1d(dev, k, n);
}

static tassl_status cl_sumsq_chunks(tassl_device *dev, tassl_ptr a, tassl_ptr b, tassl_ptr chunks,
                                    int64_t nchunks, tassl_ptr part) {
    if (nchunks <= 0) return TASSL_OK;
    cl_kernel k = K(dev, "sumsq_chunks");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args ar = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&ar, a);
    tassl_cl_arg_ptr(&ar, b);
    tassl_cl_arg_int(&ar, b.buf != NULL);
    tassl_cl_arg_ptr(&ar, chunks);
    tassl_cl_arg_ptr(&ar, part);
    if (ar.err != CL_SUCCESS) return tassl_cl_fail(ar.err, "sumsq_chunks: set args");
    size_t gws = (size_t)nchunks * SUMSQ_WG, lws = SUMSQ_WG;
    return tassl_cl_launch(dev, k, 1, &gws, &lws);
}

static tassl_status cl_sumsq_gather(tassl_device *dev, tassl_ptr part, tassl_ptr cb, int64_t nseg,
                                    tassl_ptr out) {
    cl_kernel k = K(dev, "sumsq_gather");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, part);
    tassl_cl_arg_ptr(&a, cb);
    tassl_cl_arg_int(&a, nseg);
    tassl_cl_arg_ptr(&a, out);
    return go(dev, k, &a, "sumsq_gather: set args", nseg);
}

static tassl_status cl_clip_scale(tassl_device *dev, tassl_ptr g, int64_t n, tassl_ptr sumsq,
                                  float max_norm) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "clip_scale: %lld elements exceed int indexing", (long long)n);
    cl_kernel k = K(dev, "clip_scale");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, g);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_ptr(&a, sumsq);
    tassl_cl_arg_float(&a, max_norm);
    return go(dev, k, &a, "clip_scale: set args", n);
}

static tassl_status cl_sgd(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr buf,
                           tassl_ptr runs, int64_t nruns, int64_t n, const tassl_optim_hp *hp) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "sgd: %lld elements exceed int indexing", (long long)n);
    cl_kernel k = K(dev, "sgd");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, p);
    tassl_cl_arg_ptr(&a, g);
    tassl_cl_arg_ptr(&a, buf);
    tassl_cl_arg_ptr(&a, runs);
    tassl_cl_arg_int(&a, nruns);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, hp->lr);
    tassl_cl_arg_float(&a, hp->momentum);
    tassl_cl_arg_float(&a, hp->one_m_dampening);
    tassl_cl_arg_int(&a, hp->nesterov);
    tassl_cl_arg_int(&a, hp->first);
    tassl_cl_arg_float(&a, hp->weight_decay);
    return go(dev, k, &a, "sgd: set args", n);
}

static tassl_status cl_adamw(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr m, tassl_ptr v,
                             tassl_ptr runs, int64_t nruns, int64_t n, const tassl_optim_hp *hp) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "adamw: %lld elements exceed int indexing", (long long)n);
    cl_kernel k = K(dev, "adamw");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, p);
    tassl_cl_arg_ptr(&a, g);
    tassl_cl_arg_ptr(&a, m);
    tassl_cl_arg_ptr(&a, v);
    tassl_cl_arg_ptr(&a, runs);
    tassl_cl_arg_int(&a, nruns);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, hp->beta1);
    tassl_cl_arg_float(&a, hp->beta2);
    tassl_cl_arg_float(&a, hp->one_m_beta1);
    tassl_cl_arg_float(&a, hp->one_m_beta2);
    tassl_cl_arg_float(&a, hp->eps);
    tassl_cl_arg_float(&a, hp->decay_keep);
    tassl_cl_arg_float(&a, hp->step_size);
    tassl_cl_arg_float(&a, hp->bc2_sqrt);
    return go(dev, k, &a, "adamw: set args", (n + 63) / 64); /* ADAM_CHUNK in cl/optim.cl */
}

static tassl_status cl_lars(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr buf,
                            tassl_ptr norms, tassl_ptr runs, int64_t nruns, int64_t n,
                            const tassl_optim_hp *hp) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "lars: %lld elements exceed int indexing", (long long)n);
    cl_kernel k = K(dev, "lars");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, p);
    tassl_cl_arg_ptr(&a, g);
    tassl_cl_arg_ptr(&a, buf);
    tassl_cl_arg_ptr(&a, norms);
    tassl_cl_arg_ptr(&a, runs);
    tassl_cl_arg_int(&a, nruns);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, hp->lr);
    tassl_cl_arg_float(&a, hp->momentum);
    tassl_cl_arg_float(&a, hp->one_m_dampening);
    tassl_cl_arg_int(&a, hp->nesterov);
    tassl_cl_arg_int(&a, hp->first);
    tassl_cl_arg_float(&a, hp->weight_decay);
    tassl_cl_arg_float(&a, hp->trust_coef);
    return go(dev, k, &a, "lars: set args", n);
}

static tassl_status cl_ema(tassl_device *dev, tassl_ptr t, tassl_ptr o, tassl_ptr runs,
                           int64_t nruns, int64_t n, float tau) {
    TASSL_CHECK(n <= INT_MAX_ELEMS, "ema: %lld elements exceed int indexing", (long long)n);
    cl_kernel k = K(dev, "ema");
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, t);
    tassl_cl_arg_ptr(&a, o);
    tassl_cl_arg_ptr(&a, runs);
    tassl_cl_arg_int(&a, nruns);
    tassl_cl_arg_int(&a, n);
    tassl_cl_arg_float(&a, tau);
    return go(dev, k, &a, "ema: set args", n);
}

const tassl_kern_optim tassl_cl_kern_optim = {
    /* .sumsq_chunks = */ cl_sumsq_chunks,
    /* .sumsq_gather = */ cl_sumsq_gather,
    /* .clip_scale   = */ cl_clip_scale,
    /* .sgd          = */ cl_sgd,
    /* .adamw        = */ cl_adamw,
    /* .lars         = */ cl_lars,
    /* .ema          = */ cl_ema,
};
