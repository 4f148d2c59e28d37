/* opencl/pool.c — host side of the OpenCL pooling and up-sampling kernels (cl/pool.cl): packs the
 * geometry into the kernels' pgeom struct, sets arguments and launches one work-item per output
 * element (forward) or per input element (backward gathers); max pooling one per output row
 * (forward) or input row (backward), or in the 3×3 stride-2 case one per run of 8 outputs
 * (forward) or 16 inputs (backward). */
#include "clrt.h"
#include "../kern_pool.h"

/* Same layout as `pgeom` in cl/pool.cl: 16 ints, no padding. */
typedef struct tassl_cl_pgeom {
    cl_int nc;
    cl_int in[3], out[3];
    cl_int k[3], s[3], p[3];
} tassl_cl_pgeom;

/* The kernels index with int: every element count must fit. */
static tassl_status pgeom_of(const tassl_pool_geom *g, tassl_cl_pgeom *pg) {
    int64_t nin = g->nc * g->in[0] * g->in[1] * g->in[2];
    int64_t nout = g->nc * g->out[0] * g->out[1] * g->out[2];
    /* nearest/linear index products o·in and i·out stay below in·out per dim */
    int64_t prod = 1;
    for (int d = 0; d < 3; d++) prod = g->in[d] * g->out[d] > prod ? g->in[d] * g->out[d] : prod;
    if (nin > INT32_MAX || nout > INT32_MAX || prod > INT32_MAX)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "pool kernels: %lld planes of %lldx%lldx%lld -> %lldx%lldx%lld exceed "
                           "32-bit indexing",
                           (long long)g->nc, (long long)g->in[0], (long long)g->in[1],
                           (long long)g->in[2], (long long)g->out[0], (long long)g->out[1],
                           (long long)g->out[2]);
    pg->nc = (cl_int)g->nc;
    for (int d = 0; d < 3; d++) {
        pg->in[d] = (cl_int)g->in[d];
        pg->out[d] = (cl_int)g->out[d];
        pg->k[d] = g->k[d];
        pg->s[d] = g->s[d];
        pg->p[d] = g->p[d];
    }
    return TASSL_OK;
}

static int64_t n_in(const tassl_pool_geom *g) { return g->nc * g->in[0] * g->in[1] * g->in[2]; }
static int64_t n_out(const tassl_pool_geom *g) {
    return g->nc * g->out[0] * g->out[1] * g->out[2];
}

/* Kernel `name` with the geometry as its first argument (align_corners second when align >= 0),
 * then the device pointers ptrs[0..nptr), launched over n work-items. */
static tassl_status launch(tassl_device *dev, const char *name, const char *options,
                           const tassl_pool_geom *g, int align, int nptr, const tassl_ptr *ptrs,
                           int64_t n) {
    tassl_cl_pgeom pg;
    tassl_status st = pgeom_of(g, &pg);
    if (st != TASSL_OK) return st;
    if (n == 0) return TASSL_OK;
    cl_kernel k = tassl_cl_kernel(dev, "pool", name, options);
    if (!k) return TASSL_ERR_DEVICE;
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg(&a, sizeof pg, &pg);
    if (align >= 0) tassl_cl_arg_int(&a, align);
    for (int i = 0; i < nptr; i++) tassl_cl_arg_ptr(&a, ptrs[i]);
    if (a.err != CL_SUCCESS) return tassl_cl_fail(a.err, name);
    return tassl_cl_launch_1d(dev, k, n);
}

/* The case max_pool_fwd_k3s2 and max_pool_bwd_k3s2 serve (the ResNet stem): 2D, 3×3 window,
 * stride 2 and padding 1 in H and W, an even W (= 2·oW) and oW a multiple of 8. */
static int stem_case(const tassl_pool_geom *g) {
    return g->in[0] == 1 && g->k[0] == 1 && g->s[0] == 1 && g->p[0] == 0 && g->k[1] == 3 &&
           g->s[1] == 2 && g->p[1] == 1 && g->k[2] == 3 && g->s[2] == 2 && g->p[2] == 1 &&
           g->in[2] == 2 * g->out[2] && g->out[2] % 8 == 0;
}

static tassl_status max_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                            tassl_ptr y, tassl_ptr idx) {
    /* Without idx the kernel is built with POOL_IDX=0; y stands in for the unused argument. */
    tassl_ptr p[3] = {x, y, idx.buf ? idx : y};
    if (stem_case(g))
        return launch(dev, "max_pool_fwd_k3s2", idx.buf ? "" : "-DPOOL_IDX=0", g, -1, 3, p,
                      g->nc * g->out[1] * (g->out[2] / 8)); // runs of 8 outputs
    /* one work-item per output row */
    return launch(dev, "max_pool_fwd", idx.buf ? "" : "-DPOOL_IDX=0", g, -1, 3, p,
                  g->nc * g->out[0] * g->out[1]);
}

static tassl_status max_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                            tassl_ptr idx, tassl_ptr dx) {
    tassl_ptr p[3] = {dy, idx, dx};
    if (stem_case(g))
        return launch(dev, "max_pool_bwd_k3s2", "", g, -1, 3, p,
                      g->nc * g->in[1] * (g->out[2] / 8)); // runs of 16 inputs
    return launch(dev, "max_pool_bwd", "", g, -1, 3, p, g->nc * g->in[0] * g->in[1]); // per row
}

static tassl_status avg_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                            tassl_ptr y) {
    tassl_ptr p[2] = {x, y};
    return launch(dev, "avg_pool_fwd", "", g, -1, 2, p, n_out(g));
}

static tassl_status avg_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                            tassl_ptr dx) {
    tassl_ptr p[2] = {dy, dx};
    return launch(dev, "avg_pool_bwd", "", g, -1, 2, p, n_in(g));
}

static tassl_status nearest_fwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr x,
                                tassl_ptr y) {
    tassl_ptr p[2] = {x, y};
    return launch(dev, "nearest_fwd", "", g, -1, 2, p, n_out(g));
}

static tassl_status nearest_bwd(tassl_device *dev, const tassl_pool_geom *g, tassl_ptr dy,
                                tassl_ptr dx) {
    tassl_ptr p[2] = {dy, dx};
    return launch(dev, "nearest_bwd", "", g, -1, 2, p, n_in(g));
}

static tassl_status linear_fwd(tassl_device *dev, const tassl_pool_geom *g, int align_corners,
                               tassl_ptr x, tassl_ptr y) {
    tassl_ptr p[2] = {x, y};
    return launch(dev, "linear_fwd", "", g, align_corners != 0, 2, p, n_out(g));
}

static tassl_status linear_bwd(tassl_device *dev, const tassl_pool_geom *g, int align_corners,
                               tassl_ptr dy, tassl_ptr dx) {
    tassl_ptr p[2] = {dy, dx};
    return launch(dev, "linear_bwd", "", g, align_corners != 0, 2, p, n_in(g));
}

const tassl_kern_pool tassl_cl_kern_pool = {
    /* .max_fwd = */ max_fwd,
    /* .max_bwd = */ max_bwd,
    /* .avg_fwd = */ avg_fwd,
    /* .avg_bwd = */ avg_bwd,
    /* .nearest_fwd = */ nearest_fwd,
    /* .nearest_bwd = */ nearest_bwd,
    /* .linear_fwd = */ linear_fwd,
    /* .linear_bwd = */ linear_bwd,
};
