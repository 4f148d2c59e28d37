/* test_pool.c — tests of the pool family beyond the op harness: small examples whose results are
 * derived by hand (ramps max/avg-pooled, a 2×2 image bilinearly up-sampled with both
 * align_corners settings, PyTorch's nearest index rule), output-size formulae and gradients
 * (max pooling routes to the argmax, overlapping windows add up), and the argmax rule under ties,
 * NaN and −inf bit for bit (the vectorised 3×3/2 kernels). Every test runs on the
 * reference backend and, when one is present, on the OpenCL CPU device.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/tassl.h"

typedef struct fixture {
    tassl_device *dev;
    tassl_ctx *ctx;
} fixture;

static int open_fixture(void **state, const char *spec) {
    *state = NULL;
    tassl_device *dev = NULL;
    if (tassl_device_open(spec, &dev) != TASSL_OK) {
        fprintf(stdout, "# no '%s' device (%s): its tests are skipped\n", spec, tassl_last_error());
        return 0;
    }
    fixture *f = calloc(1, sizeof *f);
    f->dev = dev;
    f->ctx = tassl_ctx_new(dev);
    *state = f;
    return 0;
}
static int setup_ref(void **state) { return open_fixture(state, "ref"); }
static int setup_cl(void **state) { return open_fixture(state, "cpu"); }
static int teardown(void **state) {
    fixture *f = *state;
    if (f) {
        tassl_ctx_free(f->ctx);
        tassl_device_free(f->dev);
        free(f);
    }
    return 0;
}

/* Context of the test in a fresh scope, or skip when the device is missing. */
static tassl_ctx *begin(void **state) {
    fixture *f = *state;
    if (!f) skip();
    tassl_scope_begin(f->ctx);
    return f->ctx;
}
static void end(tassl_ctx *ctx) {
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_scope_end(ctx);
}
/* A fresh scope (and tape) so the next backward pass sees only its own graph. */
static void rescope(tassl_ctx *ctx) {
    end(ctx);
    tassl_scope_begin(ctx);
}

/* 0, 1, 2, ... in row-major order. */
static tassl_tensor *ramp(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = (float)i;
    tassl_tensor *t = tassl_from_host(ctx, ndim, shape, v);
    free(v);
    return t;
}

static void expect_shape(const tassl_tensor *t, int ndim, const int64_t *shape) {
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(t->shape[i], shape[i]);
}

/* t has `shape` and holds `want` (row-major) within tol. */
static void expect_values(const tassl_tensor *t, int ndim, const int64_t *shape, const float *want,
                          float tol) {
    expect_shape(t, ndim, shape);
    int64_t n = tassl_numel(t);
    float *got = malloc(sizeof(float) * (size_t)n);
    assert_int_equal(tassl_tensor_read(t, got), TASSL_OK);
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            if (bad++ < 8) printf("# [%lld] got %.6f, want %.6f\n", (long long)i, got[i], want[i]);
        }
    free(got);
    assert_int_equal(bad, 0);
}

/* Backward through y with upstream gradient g (y's shape, row-major). */
static void backward_with(tassl_ctx *ctx, tassl_tensor *y, const float *g) {
    tassl_tensor *gy = tassl_from_host(ctx, y->ndim, y->shape, g);
    assert_int_equal(tassl_backward_with(y, gy), TASSL_OK);
}

/* ---- pooling values ------------------------------------------------------------------------ */

/* x = 4×4 ramp 0..15 (x[h][w] = 4h + w). */
static void test_max_pool_ramp(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 4, 4));
    /* 2×2 s2: the bottom-right element of each block */
    expect_values(tassl_max_pool(x, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}),
                  TASSL_SHAPE(1, 1, 2, 2), (float[]){5, 7, 13, 15}, 0);
    /* 3×3 s2 p1: windows rows/cols {-1..1} and {1..3}; padding never wins */
    expect_values(tassl_max_pool(x, (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}),
                  TASSL_SHAPE(1, 1, 2, 2), (float[]){5, 7, 13, 15}, 0);
    /* stride NULL = kernel, pad NULL = 0; negated ramp: top-left of each block */
    tassl_tensor *nx = tassl_from_host(ctx, TASSL_SHAPE(1, 1, 2, 4),
                                       (float[]){0, -1, -2, -3, -4, -5, -6, -7});
    expect_values(tassl_max_pool(nx, (int[]){2, 2}, NULL, NULL), TASSL_SHAPE(1, 1, 1, 2),
                  (float[]){0, -2}, 0);
    end(ctx);
}

static void test_avg_pool_ramp(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 4, 4));
    /* (0+1+4+5)/4, (2+3+6+7)/4, (8+9+12+13)/4, (10+11+14+15)/4 */
    expect_values(tassl_avg_pool(x, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}),
                  TASSL_SHAPE(1, 1, 2, 2), (float[]){2.5f, 4.5f, 10.5f, 12.5f}, 1e-6f);
    /* 3×3 s2 p1, padding counted in the divisor 9: (0+1+4+5)/9, (1+2+3+5+6+7)/9,
     * (4+5+8+9+12+13)/9, (5+6+7+9+10+11+13+14+15)/9 */
    expect_values(tassl_avg_pool(x, (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}),
                  TASSL_SHAPE(1, 1, 2, 2), (float[]){10 / 9.f, 24 / 9.f, 51 / 9.f, 90 / 9.f},
                  1e-5f);
    end(ctx);
}

static void test_pool_3d(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 2, 2, 2));
    expect_values(tassl_max_pool(x, (int[]){2, 2, 2}, NULL, NULL), TASSL_SHAPE(1, 1, 1, 1, 1),
                  (float[]){7}, 0);
    expect_values(tassl_avg_pool(x, (int[]){2, 2, 2}, NULL, NULL), TASSL_SHAPE(1, 1, 1, 1, 1),
                  (float[]){3.5f}, 1e-6f);
    /* 4×4×4 ramp (16d + 4h + w), 2×2×2 s2: max at (2od+1, 2oh+1, 2ow+1) */
    tassl_tensor *x4 = ramp(ctx, TASSL_SHAPE(1, 1, 4, 4, 4));
    float want[8];
    for (int od = 0; od < 2; od++)
        for (int oh = 0; oh < 2; oh++)
            for (int ow = 0; ow < 2; ow++)
                want[od * 4 + oh * 2 + ow] =
                    (float)(16 * (2 * od + 1) + 4 * (2 * oh + 1) + 2 * ow + 1);
    expect_values(tassl_max_pool(x4, (int[]){2, 2, 2}, NULL, NULL), TASSL_SHAPE(1, 1, 2, 2, 2),
                  want, 0);
    end(ctx);
}

/* out = ⌊(in + 2p − k)/s⌋ + 1 per dim; global pools → (N, C); up-sampling → size. */
static void test_output_sizes(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = tassl_zeros(ctx, TASSL_SHAPE(2, 3, 7, 7));
    expect_shape(tassl_max_pool(x, (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}),
                 TASSL_SHAPE(2, 3, 4, 4));
    expect_shape(tassl_avg_pool(x, (int[]){2, 2}, NULL, NULL), TASSL_SHAPE(2, 3, 3, 3));
    expect_shape(tassl_avg_pool(x, (int[]){3, 2}, (int[]){2, 3}, (int[]){1, 0}),
                 TASSL_SHAPE(2, 3, 4, 2));
    tassl_tensor *v = tassl_zeros(ctx, TASSL_SHAPE(1, 2, 8, 9, 10));
    expect_shape(tassl_max_pool(v, (int[]){3, 3, 3}, (int[]){2, 2, 2}, (int[]){1, 1, 1}),
                 TASSL_SHAPE(1, 2, 4, 5, 5));
    expect_shape(tassl_avg_pool(v, (int[]){2, 2, 2}, NULL, NULL), TASSL_SHAPE(1, 2, 4, 4, 5));
    expect_shape(tassl_global_avg_pool(v), TASSL_SHAPE(1, 2));
    expect_shape(tassl_global_max_pool(x), TASSL_SHAPE(2, 3));
    expect_shape(tassl_upsample_nearest(v, (int64_t[]){3, 17, 4}), TASSL_SHAPE(1, 2, 3, 17, 4));
    expect_shape(tassl_upsample_linear(x, (int64_t[]){5, 14}, false), TASSL_SHAPE(2, 3, 5, 14));
    end(ctx);
}

/* ---- pooling gradients ----------------------------------------------------------------------- */

static void test_max_pool_grad_routes_to_argmax(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 4, 4));
    tassl_requires_grad_(x, true);
    tassl_tensor *y = tassl_max_pool(x, (int[]){2, 2}, NULL, NULL);
    backward_with(ctx, y, (float[]){1, 2, 3, 4});
    float want[16] = {0};
    want[5] = 1, want[7] = 2, want[13] = 3, want[15] = 4;
    expect_values(tassl_grad(x), TASSL_SHAPE(1, 1, 4, 4), want, 0);
    rescope(ctx);

    /* Overlapping 3×3 s1 p1 on a 3×3 ramp: the window maxima are 4 (output (0,0)), 5 ((0,1),
     * (0,2)), 7 ((1,0), (2,0)) and 8 (the four windows holding the corner); the gradients of
     * all windows sharing an argmax add up. */
    tassl_tensor *x3 = ramp(ctx, TASSL_SHAPE(1, 1, 3, 3));
    tassl_requires_grad_(x3, true);
    tassl_tensor *y3 = tassl_max_pool(x3, (int[]){3, 3}, (int[]){1, 1}, (int[]){1, 1});
    expect_values(y3, TASSL_SHAPE(1, 1, 3, 3), (float[]){4, 5, 5, 7, 8, 8, 7, 8, 8}, 0);
    backward_with(ctx, y3, (float[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
    expect_values(tassl_grad(x3), TASSL_SHAPE(1, 1, 3, 3), (float[]){0, 0, 0, 0, 1, 2, 0, 2, 4},
                  0);
    end(ctx);
}

static void test_avg_pool_grad_overlapping(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = tassl_zeros(ctx, TASSL_SHAPE(1, 1, 3, 3));
    tassl_requires_grad_(x, true);
    tassl_tensor *y = tassl_avg_pool(x, (int[]){3, 3}, (int[]){1, 1}, (int[]){1, 1});
    backward_with(ctx, y, (float[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
    /* element gets (number of 3×3 windows holding it) / 9: corners 4, edges 6, centre 9 */
    expect_values(tassl_grad(x), TASSL_SHAPE(1, 1, 3, 3),
                  (float[]){4 / 9.f, 6 / 9.f, 4 / 9.f, 6 / 9.f, 1, 6 / 9.f, 4 / 9.f, 6 / 9.f,
                            4 / 9.f},
                  1e-6f);
    end(ctx);
}

static void test_global_pools(void **state) {
    tassl_ctx *ctx = begin(state);
    /* planes p = 0..5 of (2, 3, 2, 2) hold 4p .. 4p + 3 */
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(2, 3, 2, 2));
    tassl_requires_grad_(x, true);
    tassl_tensor *m = tassl_global_max_pool(x);
    expect_values(m, TASSL_SHAPE(2, 3), (float[]){3, 7, 11, 15, 19, 23}, 0);
    backward_with(ctx, m, (float[]){1, 2, 3, 4, 5, 6});
    float want[24];
    for (int i = 0; i < 24; i++) want[i] = i % 4 == 3 ? (float)(i / 4 + 1) : 0;
    expect_values(tassl_grad(x), TASSL_SHAPE(2, 3, 2, 2), want, 0);
    rescope(ctx);

    x = ramp(ctx, TASSL_SHAPE(2, 3, 2, 2));
    tassl_requires_grad_(x, true);
    tassl_tensor *a = tassl_global_avg_pool(x);
    expect_values(a, TASSL_SHAPE(2, 3), (float[]){1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}, 1e-6f);
    backward_with(ctx, a, (float[]){4, 8, 4, 4, 4, 4});
    for (int i = 0; i < 24; i++) want[i] = i / 4 == 1 ? 2 : 1;
    expect_values(tassl_grad(x), TASSL_SHAPE(2, 3, 2, 2), want, 1e-6f);
    /* 3D */
    tassl_tensor *v = ramp(ctx, TASSL_SHAPE(1, 2, 2, 2, 2));
    expect_values(tassl_global_avg_pool(v), TASSL_SHAPE(1, 2), (float[]){3.5f, 11.5f}, 1e-6f);
    expect_values(tassl_global_max_pool(v), TASSL_SHAPE(1, 2), (float[]){7, 15}, 0);
    end(ctx);
}

/* ---- up-sampling ------------------------------------------------------------------------------ */

/* PyTorch 'nearest': src = ⌊dst·in/out⌋. 5→7: 0 0 1 2 2 3 4; 7→5: 0 1 2 4 5. */
static void test_upsample_nearest(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x5 = ramp(ctx, TASSL_SHAPE(1, 1, 1, 5));
    tassl_requires_grad_(x5, true);
    tassl_tensor *y7 = tassl_upsample_nearest(x5, (int64_t[]){1, 7});
    expect_values(y7, TASSL_SHAPE(1, 1, 1, 7), (float[]){0, 0, 1, 2, 2, 3, 4}, 0);
    backward_with(ctx, y7, (float[]){1, 1, 1, 1, 1, 1, 1});
    expect_values(tassl_grad(x5), TASSL_SHAPE(1, 1, 1, 5), (float[]){2, 1, 2, 1, 1}, 0);
    rescope(ctx);

    tassl_tensor *x7 = ramp(ctx, TASSL_SHAPE(1, 1, 7, 1));
    tassl_requires_grad_(x7, true);
    tassl_tensor *y5 = tassl_upsample_nearest(x7, (int64_t[]){5, 1});
    expect_values(y5, TASSL_SHAPE(1, 1, 5, 1), (float[]){0, 1, 2, 4, 5}, 0);
    backward_with(ctx, y5, (float[]){1, 2, 3, 4, 5});
    expect_values(tassl_grad(x7), TASSL_SHAPE(1, 1, 7, 1), (float[]){1, 2, 3, 0, 4, 5, 0}, 0);
    rescope(ctx);

    /* ×2 in 3D: every element becomes a 2×2×2 block */
    tassl_tensor *v = ramp(ctx, TASSL_SHAPE(1, 1, 1, 2, 1));
    expect_values(tassl_upsample_nearest(v, (int64_t[]){2, 4, 2}), TASSL_SHAPE(1, 1, 2, 4, 2),
                  (float[]){0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, 0);
    end(ctx);
}

/* x = [[0, 1], [2, 5]] → 4×4. Bilinear at source coordinates (sh, sw) in [0, 1]² gives
 * f = sw + 2·sh + 2·sh·sw. Source coordinates of outputs 0..3 (in = 2, out = 4):
 *   align_corners: o·(in−1)/(out−1) = 0, 1/3, 2/3, 1
 *   otherwise:     (o + ½)·in/out − ½ = −¼ → 0 (clamped), ¼, ¾, 1¼ → tap 1 only, i.e. 1. */
static void check_bilinear_2x2(tassl_ctx *ctx, bool align, const float c[4]) {
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(1, 1, 2, 2), (float[]){0, 1, 2, 5});
    tassl_requires_grad_(x, true);
    tassl_tensor *y = tassl_upsample_linear(x, (int64_t[]){4, 4}, align);
    float want[16];
    for (int h = 0; h < 4; h++)
        for (int w = 0; w < 4; w++) want[h * 4 + w] = c[w] + 2 * c[h] + 2 * c[h] * c[w];
    expect_values(y, TASSL_SHAPE(1, 1, 4, 4), want, 1e-6f);
    /* Upstream one-hot at output (1, 1): dx = (1 − c1, c1) ⊗ (1 − c1, c1). */
    float g[16] = {0};
    g[5] = 1;
    backward_with(ctx, y, g);
    float a = 1 - c[1], b = c[1];
    expect_values(tassl_grad(x), TASSL_SHAPE(1, 1, 2, 2), (float[]){a * a, a * b, b * a, b * b},
                  1e-6f);
}

static void test_upsample_bilinear_2x2(void **state) {
    tassl_ctx *ctx = begin(state);
    check_bilinear_2x2(ctx, true, (float[]){0, 1 / 3.f, 2 / 3.f, 1});
    rescope(ctx);
    check_bilinear_2x2(ctx, false, (float[]){0, 0.25f, 0.75f, 1});
    rescope(ctx);
    /* PyTorch's documented output for arange(4).view(1, 1, 2, 2), size 4, align_corners=False */
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 2, 2));
    expect_values(tassl_upsample_linear(x, (int64_t[]){4, 4}, false), TASSL_SHAPE(1, 1, 4, 4),
                  (float[]){0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f,
                            2.5f, 2, 2.25f, 2.75f, 3},
                  1e-6f);
    end(ctx);
}

/* Down-sampling 4 → 2: align_corners takes the ends (src 0, 3); otherwise src = 2o + ½. */
static void test_upsample_linear_down(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 1, 4));
    expect_values(tassl_upsample_linear(x, (int64_t[]){1, 2}, true), TASSL_SHAPE(1, 1, 1, 2),
                  (float[]){0, 3}, 1e-6f);
    expect_values(tassl_upsample_linear(x, (int64_t[]){1, 2}, false), TASSL_SHAPE(1, 1, 1, 2),
                  (float[]){0.5f, 2.5f}, 1e-6f);
    end(ctx);
}

/* Trilinear on the 2×2×2 ramp 4d + 2h + w (linear, so exact at any source coordinate c):
 * value 4·cd + 2·ch + cw. */
static void test_upsample_trilinear(void **state) {
    tassl_ctx *ctx = begin(state);
    tassl_tensor *x = ramp(ctx, TASSL_SHAPE(1, 1, 2, 2, 2));
    const float ac[3] = {0, 0.5f, 1}, pc[4] = {0, 0.25f, 0.75f, 1};
    float want[64];
    for (int i = 0; i < 27; i++) want[i] = 4 * ac[i / 9] + 2 * ac[i / 3 % 3] + ac[i % 3];
    expect_values(tassl_upsample_linear(x, (int64_t[]){3, 3, 3}, true),
                  TASSL_SHAPE(1, 1, 3, 3, 3), want, 1e-6f);
    for (int i = 0; i < 64; i++) want[i] = 4 * pc[i / 16] + 2 * pc[i / 4 % 4] + pc[i % 4];
    expect_values(tassl_upsample_linear(x, (int64_t[]){4, 4, 4}, false),
                  TASSL_SHAPE(1, 1, 4, 4, 4), want, 1e-6f);
    end(ctx);
}

/* ---- max pooling's argmax rule where the op harness cannot look: inputs full of ties (values
 * in {0, 1, 2}), NaNs and −inf, and planes that are −inf throughout. The rule (kern_pool.h): each
 * output takes the first maximum of its window in (d, h, w) scan order, or the last NaN when the
 * window holds any; padding is never taken (an all −inf window points at its first in-plane
 * element); the gradient goes to that element only, summed in output order. Expected values
 * come from a plain loop, compared bit for bit, for the 3×3 stride-2 padding-1 shapes the
 * OpenCL backend runs through its vectorised kernels (runs of 8 and 16 outputs per row, odd H)
 * and one it does not (7×7). ---- */

/* Deterministic pseudo-random integers (a 64-bit LCG). */
static uint32_t next(uint64_t *s) {
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(*s >> 33);
}

/* x (nc, H, W) full of ties: {0, 1, 2} with 1 in 40 NaN and 1 in 50 −inf; plane `inf_plane`
 * −inf throughout. g (nc, oH, oW): upstream gradient, distinct values. */
static void make_inputs(float *x, int64_t nc, int64_t hw, float *g, int64_t nout, int inf_plane,
                        uint64_t seed) {
    for (int64_t i = 0; i < nc * hw; i++) {
        uint32_t r = next(&seed);
        x[i] = (float)(r % 3);
        if (r / 3 % 40 == 0) x[i] = NAN;
        if (r / 120 % 50 == 0) x[i] = -INFINITY;
        if (i / hw == inf_plane) x[i] = -INFINITY;
    }
    for (int64_t o = 0; o < nout; o++) g[o] = (float)(next(&seed) % 1000) / 7.0f;
}

/* The rule, 2D 3×3 windows at stride 2 with padding 1: y and dx (accumulated in output order). */
static void expected(const float *x, const float *g, int64_t nc, int64_t H, int64_t W, float *y,
                     float *dx) {
    int64_t oH = (H - 1) / 2 + 1, oW = (W - 1) / 2 + 1;
    memset(dx, 0, sizeof(float) * (size_t)(nc * H * W));
    for (int64_t p = 0, o = 0; p < nc; p++)
        for (int64_t oh = 0; oh < oH; oh++)
            for (int64_t ow = 0; ow < oW; ow++, o++) {
                const float *xs = x + p * H * W;
                int64_t best = -1;
                float m = -INFINITY;
                for (int64_t h = 2 * oh - 1; h <= 2 * oh + 1; h++)
                    for (int64_t w = 2 * ow - 1; w <= 2 * ow + 1; w++) {
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        float v = xs[h * W + w];
                        if (best < 0) best = h * W + w; /* first in-plane element */
                        if (isnan(v) || (!isnan(m) && v > m)) {
                            m = v;
                            best = h * W + w;
                        }
                    }
                y[o] = m;
                dx[p * H * W + best] += g[o];
            }
}

/* Bitwise equality, NaNs equal to any NaN. */
static int same(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_shape(tassl_ctx *ctx, int64_t n, int64_t c, int64_t H, int64_t W,
                        uint64_t seed) {
    int64_t nc = n * c, oH = (H - 1) / 2 + 1, oW = (W - 1) / 2 + 1;
    int64_t nin = nc * H * W, nout = nc * oH * oW;
    float *x = malloc(sizeof(float) * (size_t)nin), *g = malloc(sizeof(float) * (size_t)nout);
    float *y = malloc(sizeof(float) * (size_t)nout), *dx = malloc(sizeof(float) * (size_t)nin);
    float *wy = malloc(sizeof(float) * (size_t)nout), *wdx = malloc(sizeof(float) * (size_t)nin);
    make_inputs(x, nc, H * W, g, nout, (int)(nc - 1), seed);
    expected(x, g, nc, H, W, wy, wdx);

    tassl_scope_begin(ctx);
    const int k[2] = {3, 3}, s[2] = {2, 2}, p[2] = {1, 1};
    tassl_tensor *xt = tassl_from_host(ctx, 4, (int64_t[]){n, c, H, W}, x);
    tassl_requires_grad_(xt, true);
    tassl_tensor *yt = tassl_max_pool(xt, k, s, p); // (n, c, oH, oW)
    assert_int_equal(tassl_numel(yt), nout);
    tassl_tensor *gt = tassl_from_host(ctx, 4, yt->shape, g);
    assert_int_equal(tassl_backward_with(yt, gt), TASSL_OK);
    assert_int_equal(tassl_tensor_read(yt, y), TASSL_OK);
    assert_int_equal(tassl_tensor_read(tassl_grad(xt), dx), TASSL_OK);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_scope_end(ctx);

    for (int64_t o = 0; o < nout; o++)
        if (!same(y[o], wy[o]))
            fail_msg("%lldx%lld: y[%lld] = %g, expected %g", (long long)H, (long long)W,
                     (long long)o, (double)y[o], (double)wy[o]);
    for (int64_t i = 0; i < nin; i++)
        if (!same(dx[i], wdx[i]))
            fail_msg("%lldx%lld: dx[%lld] = %g, expected %g", (long long)H, (long long)W,
                     (long long)i, (double)dx[i], (double)wdx[i]);
    free(x), free(g), free(y), free(dx), free(wy), free(wdx);
}

static void test_max_pool_ties_nan(void **state) {
    fixture *f = *state;
    if (!f) skip();
    check_shape(f->ctx, 2, 3, 16, 16, 1); /* one run of 8 outputs per row */
    check_shape(f->ctx, 1, 2, 9, 32, 2);  /* two runs, odd H (bottom padding) */
    check_shape(f->ctx, 2, 2, 32, 32, 3); /* the stem's row length */
    check_shape(f->ctx, 1, 3, 7, 7, 4);   /* the generic kernel */
}

#define DEVICE_TESTS                                                                             \
    cmocka_unit_test(test_max_pool_ramp), cmocka_unit_test(test_avg_pool_ramp),                  \
        cmocka_unit_test(test_pool_3d), cmocka_unit_test(test_output_sizes),                     \
        cmocka_unit_test(test_max_pool_grad_routes_to_argmax),                                   \
        cmocka_unit_test(test_avg_pool_grad_overlapping), cmocka_unit_test(test_global_pools),   \
        cmocka_unit_test(test_upsample_nearest), cmocka_unit_test(test_upsample_bilinear_2x2),   \
        cmocka_unit_test(test_upsample_linear_down), cmocka_unit_test(test_upsample_trilinear),  \
        cmocka_unit_test(test_max_pool_ties_nan)

int main(void) {
    const struct CMUnitTest tests[] = {DEVICE_TESTS};
    int fails = cmocka_run_group_tests_name("pool_ref", tests, setup_ref, teardown);
    fails += cmocka_run_group_tests_name("pool_opencl_cpu", tests, setup_cl, teardown);
    return fails;
}
