/* test_pool_ties.c — max pooling's argmax rule where the op harness cannot look: inputs full of
 * ties (values in {0, 1, 2}), NaNs and −inf, and planes that are −inf throughout. The rule
 * (kern_pool.h): each output takes the first maximum of its window in (d, h, w) scan order, or
 * the last NaN when the window holds any; padding is never taken (an all −inf window points at
 * its first in-plane element); the gradient goes to that element only, summed in output order.
 * Expected values come from a plain loop here, and are compared bit for bit on the reference
 * backend and on TASSL_TEST_DEVICE (default the OpenCL CPU device), for the 3×3 stride-2 padding-1 shapes the OpenCL backend
 * runs through its vectorised kernels (runs of 8 and 16 outputs per row, odd H) and one it
 * does not (7×7).
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
/* The device under test: TASSL_TEST_DEVICE (default "cpu"); "ref" leaves the reference group
 * alone (the sanitizer run). */
static int setup_dev(void **state) {
    const char *spec = getenv("TASSL_TEST_DEVICE");
    if (!spec || !*spec) spec = "cpu";
    if (strcmp(spec, "ref") == 0) {
        *state = NULL;
        return 0;
    }
    return open_fixture(state, spec);
}
static int teardown(void **state) {
    fixture *f = *state;
    if (f) {
        tassl_ctx_free(f->ctx);
        tassl_device_free(f->dev);
        free(f);
    }
    return 0;
}

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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_max_pool_ties_nan)};
    int fails = cmocka_run_group_tests_name("pool_ties_ref", tests, setup_ref, teardown);
    fails += cmocka_run_group_tests_name("pool_ties_device", tests, setup_dev, teardown);
    return fails;
}
