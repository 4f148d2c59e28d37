/* cases_pool.c — self-check cases of the pool family: max/average pooling (2D and 3D, strided,
 * padded, overlapping, non-square, size-1 dims), global pools, nearest and (bi|tri)linear
 * up-sampling to integer and non-integer ratios, both align_corners settings.
 *
 * Parameters: pooling cases keep one KSP(kernel, stride, pad) per spatial dim in iparam[0..2];
 * up-sampling cases keep the output size per spatial dim in iparam[0..2] and align_corners in
 * iparam[3]. Max pooling draws ties-free inputs (TASSL_DOM_SPREAD) so finite differences never
 * straddle a change of argmax.
 */
#include "check.h"

#define KSP(k, s, p) ((k) * 10000 + (s) * 100 + (p))

static void ksp_of(const tassl_check_case *c, int ns, int *k, int *s, int *p) {
    for (int i = 0; i < ns; i++) {
        k[i] = c->iparam[i] / 10000;
        s[i] = c->iparam[i] / 100 % 100;
        p[i] = c->iparam[i] % 100;
    }
}

static tassl_tensor *max_pool_case(tassl_tensor **in, const tassl_check_case *c) {
    int k[3], s[3], p[3];
    ksp_of(c, in[0]->ndim - 2, k, s, p);
    return tassl_max_pool(in[0], k, s, p);
}

static tassl_tensor *avg_pool_case(tassl_tensor **in, const tassl_check_case *c) {
    int k[3], s[3], p[3];
    ksp_of(c, in[0]->ndim - 2, k, s, p);
    return tassl_avg_pool(in[0], k, s, p);
}

/* Pool a non-contiguous view (H and W swapped) to cover the op's tassl_contiguous path. */
static tassl_tensor *max_pool_t_case(tassl_tensor **in, const tassl_check_case *c) {
    int k[3], s[3], p[3];
    ksp_of(c, 2, k, s, p);
    return tassl_max_pool(tassl_transpose(in[0], 2, 3), k, s, p);
}

static tassl_tensor *global_max_case(tassl_tensor **in, const tassl_check_case *c) {
    (void)c;
    return tassl_global_max_pool(in[0]);
}

static tassl_tensor *global_avg_case(tassl_tensor **in, const tassl_check_case *c) {
    (void)c;
    return tassl_global_avg_pool(in[0]);
}

static void size_of(const tassl_check_case *c, int ns, int64_t *size) {
    for (int i = 0; i < ns; i++) size[i] = c->iparam[i];
}

static tassl_tensor *nearest_case(tassl_tensor **in, const tassl_check_case *c) {
    int64_t size[3];
    size_of(c, in[0]->ndim - 2, size);
    return tassl_upsample_nearest(in[0], size);
}

static tassl_tensor *linear_case(tassl_tensor **in, const tassl_check_case *c) {
    int64_t size[3];
    size_of(c, in[0]->ndim - 2, size);
    return tassl_upsample_linear(in[0], size, c->iparam[3] != 0);
}

#define POOL(nm, opname, f, dom, nd, shp, ...)                                                   \
    {.name = nm, .op = opname, .fn = f, .nin = 1, .ndim = {nd}, .shape = {shp},                  \
     .domain = {dom}, .iparam = {__VA_ARGS__}}
#define S(...) {__VA_ARGS__}

static const tassl_check_case cases[] = {
    /* max pooling */
    POOL("max_pool2d_k2s2", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4, S(2, 3, 6, 6),
         KSP(2, 2, 0), KSP(2, 2, 0)),
    POOL("max_pool2d_k3s2p1", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4, S(2, 2, 7, 7),
         KSP(3, 2, 1), KSP(3, 2, 1)),
    /* the ResNet stem's case (the OpenCL backend's vectorised kernel): one and two runs of 8
     * outputs per row, padding at the top, left and (odd H) bottom */
    POOL("max_pool2d_k3s2p1_run8", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4,
         S(2, 2, 16, 16), KSP(3, 2, 1), KSP(3, 2, 1)),
    POOL("max_pool2d_k3s2p1_run16", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4,
         S(1, 2, 9, 32), KSP(3, 2, 1), KSP(3, 2, 1)),
    POOL("max_pool2d_k3s1p1", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4, S(1, 2, 5, 6),
         KSP(3, 1, 1), KSP(3, 1, 1)),
    POOL("max_pool2d_nonsquare", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4, S(2, 2, 5, 8),
         KSP(3, 2, 1), KSP(2, 1, 0)),
    POOL("max_pool2d_size1", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 4, S(3, 2, 1, 5),
         KSP(1, 1, 0), KSP(3, 2, 1)),
    POOL("max_pool2d_transposed", "max_pool", max_pool_t_case, TASSL_DOM_SPREAD, 4,
         S(1, 2, 6, 5), KSP(3, 2, 1), KSP(2, 2, 0)),
    POOL("max_pool3d_k2s2", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 5, S(1, 2, 4, 4, 4),
         KSP(2, 2, 0), KSP(2, 2, 0), KSP(2, 2, 0)),
    POOL("max_pool3d_k3s2p1", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 5, S(2, 1, 5, 5, 5),
         KSP(3, 2, 1), KSP(3, 2, 1), KSP(3, 2, 1)),
    POOL("max_pool3d_nonsquare", "max_pool", max_pool_case, TASSL_DOM_SPREAD, 5,
         S(1, 2, 3, 5, 4), KSP(1, 1, 0), KSP(3, 2, 1), KSP(2, 2, 0)),
    /* average pooling (count_include_pad) */
    POOL("avg_pool2d_k2s2", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 4, S(2, 3, 6, 6),
         KSP(2, 2, 0), KSP(2, 2, 0)),
    POOL("avg_pool2d_k3s2p1", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 4, S(2, 2, 7, 7),
         KSP(3, 2, 1), KSP(3, 2, 1)),
    POOL("avg_pool2d_k3s1p1", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 4, S(1, 2, 5, 6),
         KSP(3, 1, 1), KSP(3, 1, 1)),
    POOL("avg_pool2d_nonsquare", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 4, S(2, 2, 5, 8),
         KSP(3, 2, 1), KSP(2, 1, 0)),
    POOL("avg_pool2d_size1", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 4, S(3, 2, 1, 5),
         KSP(1, 1, 0), KSP(3, 2, 1)),
    POOL("avg_pool3d_k2s2", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 5, S(1, 2, 4, 4, 4),
         KSP(2, 2, 0), KSP(2, 2, 0), KSP(2, 2, 0)),
    POOL("avg_pool3d_k3s2p1", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 5, S(2, 1, 5, 5, 5),
         KSP(3, 2, 1), KSP(3, 2, 1), KSP(3, 2, 1)),
    POOL("avg_pool3d_nonsquare", "avg_pool", avg_pool_case, TASSL_DOM_NORMAL, 5,
         S(1, 2, 3, 5, 4), KSP(1, 1, 0), KSP(3, 2, 1), KSP(2, 2, 0)),
    /* global pools */
    POOL("global_max_pool2d", "global_max_pool", global_max_case, TASSL_DOM_SPREAD, 4,
         S(2, 3, 4, 5), 0),
    POOL("global_max_pool3d", "global_max_pool", global_max_case, TASSL_DOM_SPREAD, 5,
         S(2, 2, 3, 4, 3), 0),
    POOL("global_max_pool2d_1x1", "global_max_pool", global_max_case, TASSL_DOM_SPREAD, 4,
         S(1, 3, 1, 1), 0),
    POOL("global_avg_pool2d", "global_avg_pool", global_avg_case, TASSL_DOM_NORMAL, 4,
         S(2, 3, 4, 5), 0),
    POOL("global_avg_pool3d", "global_avg_pool", global_avg_case, TASSL_DOM_NORMAL, 5,
         S(2, 2, 3, 4, 3), 0),
    POOL("global_avg_pool2d_1x1", "global_avg_pool", global_avg_case, TASSL_DOM_NORMAL, 4,
         S(1, 3, 1, 1), 0),
    /* nearest up-sampling */
    POOL("upsample_nearest2d_x2", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 4,
         S(2, 2, 3, 4), 6, 8),
    POOL("upsample_nearest2d_5to7", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 4,
         S(1, 2, 5, 5), 7, 7),
    POOL("upsample_nearest2d_7to5", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 4,
         S(1, 2, 7, 7), 5, 5),
    POOL("upsample_nearest2d_mixed", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 4,
         S(1, 1, 5, 7), 7, 5),
    POOL("upsample_nearest3d_x2", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 5,
         S(1, 2, 2, 3, 2), 4, 6, 4),
    POOL("upsample_nearest3d_mixed", "upsample_nearest", nearest_case, TASSL_DOM_NORMAL, 5,
         S(2, 1, 3, 5, 4), 5, 3, 7),
    /* linear up-sampling */
    POOL("upsample_bilinear_x2", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(2, 2, 3, 4), 6, 8, 0, 0),
    POOL("upsample_bilinear_x2_ac", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(2, 2, 3, 4), 6, 8, 0, 1),
    POOL("upsample_bilinear_5to7", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(1, 2, 5, 5), 7, 7, 0, 0),
    POOL("upsample_bilinear_7to5_ac", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(1, 2, 7, 7), 5, 5, 0, 1),
    POOL("upsample_bilinear_mixed", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(1, 1, 5, 7), 7, 4, 0, 0),
    POOL("upsample_bilinear_to1_ac", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 4,
         S(1, 2, 4, 1), 1, 3, 0, 1),
    POOL("upsample_trilinear_x2", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 5,
         S(1, 2, 2, 3, 4), 4, 6, 8, 0),
    POOL("upsample_trilinear_x2_ac", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 5,
         S(1, 2, 2, 3, 4), 4, 6, 8, 1),
    POOL("upsample_trilinear_mixed", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 5,
         S(2, 1, 5, 4, 3), 3, 6, 5, 0),
    POOL("upsample_trilinear_mixed_ac", "upsample_linear", linear_case, TASSL_DOM_NORMAL, 5,
         S(2, 1, 5, 4, 3), 3, 6, 5, 1),
};

const tassl_check_table tassl_cases_pool = {"pool", cases, (int)(sizeof cases / sizeof cases[0])};
