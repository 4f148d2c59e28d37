/* test_norm.c — tests of the norm family beyond the op harness: values worked out by hand
 * (running statistics after one and two training steps, eval mode with them, layer norm of a
 * known vector) and invariants (per-channel mean 0 / variance 1 after batch norm, group norm with
 * G = C equals instance norm, gradient of Σy through batch norm). Each test runs on the
 * reference backend and on the OpenCL CPU device (skipped when there is none).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>
#include "tassl/tassl.h"

typedef struct fixture {
    tassl_device *dev;
    tassl_ctx *ctx;
} fixture;

static int setup(void **state) {
    const char *spec = *state;
    fixture *f = calloc(1, sizeof *f);
    if (!f || tassl_device_open(spec, &f->dev) != TASSL_OK) {
        free(f);
        *state = NULL; // no such device here: the test skips
        return 0;
    }
    f->ctx = tassl_ctx_new(f->dev);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    tassl_ctx_free(f->ctx);
    tassl_device_free(f->dev);
    free(f);
    return 0;
}

static tassl_ctx *ctx_of(void **state) {
    fixture *f = *state;
    if (!f) skip();
    return f->ctx;
}

static void read_n(const tassl_tensor *t, float *dst, int n) {
    assert_int_equal(tassl_numel(t), n);
    assert_int_equal(tassl_tensor_read(t, dst), TASSL_OK);
}

static void expect_near(const float *got, const double *want, int n, double tol) {
    for (int i = 0; i < n; i++) {
        if (fabs(got[i] - want[i]) > tol) fail_msg("[%d]: got %.7f, want %.7f", i, got[i], want[i]);
    }
}

/* x (N=2, C=2, L=2): channel 0 holds {1, 2, 3, 6} (mean 3, Σ(x−mean)² = 14), channel 1 holds
 * {0, 4, 2, 2} (mean 2, Σ(x−mean)² = 8); unbiased variances 14/3 and 8/3. */
static const float X1[8] = {1, 2, 0, 4, 3, 6, 2, 2};

/* Running stats from (0, 1) after training on X1 then 2·X1 with momentum 0.1. */
static void running_steps(tassl_ctx *ctx, tassl_tensor **rm, tassl_tensor **rv) {
    float x2[8];
    for (int i = 0; i < 8; i++)
        x2[i] = 2 * X1[i];
    *rm = tassl_zeros(ctx, TASSL_SHAPE(2));
    *rv = tassl_full(ctx, TASSL_SHAPE(2), 1.0f);
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(2, 2, 2), X1);
    tassl_batch_norm(x, NULL, NULL, *rm, *rv, true, 0.1f, 1e-5f);
    float m[2], v[2];
    read_n(*rm, m, 2);
    read_n(*rv, v, 2);
    // rm = 0.9·0 + 0.1·(3, 2); rv = 0.9·1 + 0.1·(14/3, 8/3)
    expect_near(m, (double[]){0.3, 0.2}, 2, 1e-6);
    expect_near(v, (double[]){0.9 + 1.4 / 3, 0.9 + 0.8 / 3}, 2, 1e-6);
    x = tassl_from_host(ctx, TASSL_SHAPE(2, 2, 2), x2);
    tassl_batch_norm(x, NULL, NULL, *rm, *rv, true, 0.1f, 1e-5f);
    read_n(*rm, m, 2);
    read_n(*rv, v, 2);
    // 2·X1: means (6, 4), unbiased variances (56/3, 32/3).
    // rm = 0.9·(0.3, 0.2) + 0.1·(6, 4) = (0.87, 0.58)
    // rv = 0.9·(41/30, 35/30) + 0.1·(56/3, 32/3) = (1.23 + 1.8666…, 1.05 + 1.0666…)
    expect_near(m, (double[]){0.87, 0.58}, 2, 1e-6);
    expect_near(v, (double[]){3.0966667, 2.1166667}, 2, 1e-5);
}

static void test_running_stats(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    tassl_tensor *rm, *rv;
    running_steps(ctx, &rm, &rv);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
}

static void test_eval_uses_running_stats(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    tassl_tensor *rm, *rv;
    running_steps(ctx, &rm, &rv);
    const double m[2] = {0.87, 0.58}, v[2] = {3.0966667, 2.1166667};
    const double gm[2] = {2.0, 0.5}, bt[2] = {1.0, -1.0};
    tassl_tensor *g = tassl_from_host(ctx, TASSL_SHAPE(2), (float[]){2.0f, 0.5f});
    tassl_tensor *b = tassl_from_host(ctx, TASSL_SHAPE(2), (float[]){1.0f, -1.0f});
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(2, 2, 2), X1);
    tassl_tensor *y = tassl_batch_norm(x, g, b, rm, rv, false, 0.1f, 1e-5f);
    float got[8], rmv[2];
    double want[8];
    read_n(y, got, 8);
    for (int i = 0; i < 8; i++) {
        int c = (i / 2) % 2;
        want[i] = (X1[i] - m[c]) / sqrt(v[c] + 1e-5) * gm[c] + bt[c];
    }
    expect_near(got, want, 8, 1e-5);
    read_n(rm, rmv, 2); // eval leaves the running statistics alone
    expect_near(rmv, m, 2, 1e-6);
}

static void test_batch_norm_standardises(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    tassl_rng_seed(ctx, 7);
    tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(4, 3, 5, 5), 5.0f, 3.0f);
    tassl_tensor *y = tassl_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f);
    float v[300];
    read_n(y, v, 300);
    for (int c = 0; c < 3; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 25; k++)
                s += v[(n * 3 + c) * 25 + k];
        double mean = s / 100;
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 25; k++) {
                double d = v[(n * 3 + c) * 25 + k] - mean;
                q += d * d;
            }
        assert_true(fabs(mean) < 1e-5);
        assert_true(fabs(q / 100 - 1.0) < 1e-4); // biased variance; eps = 1e-5 on var ≈ 9
    }
}

/* Σy does not depend on x through a normalisation without affine; dbeta = elements per channel,
 * dgamma = Σx̂ = 0. */
static void test_batch_norm_grad_of_sum(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    tassl_rng_seed(ctx, 3);
    tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(3, 2, 4, 4), 1.0f, 2.0f);
    tassl_tensor *g = tassl_full(ctx, TASSL_SHAPE(2), 1.0f);
    tassl_tensor *b = tassl_zeros(ctx, TASSL_SHAPE(2));
    tassl_requires_grad_(x, true);
    tassl_requires_grad_(g, true);
    tassl_requires_grad_(b, true);
    tassl_tensor *y = tassl_batch_norm(x, g, b, NULL, NULL, true, 0.1f, 1e-5f);
    assert_int_equal(tassl_backward(tassl_sum_all(y)), TASSL_OK);
    float dx[96], dg[2], db[2];
    read_n(tassl_grad(x), dx, 96);
    read_n(tassl_grad(g), dg, 2);
    read_n(tassl_grad(b), db, 2);
    for (int i = 0; i < 96; i++)
        assert_true(fabs(dx[i]) < 1e-5);
    expect_near(dg, (double[]){0, 0}, 2, 1e-4);
    expect_near(db, (double[]){48, 48}, 2, 1e-4);
}

static void test_group_norm_gc_is_instance_norm(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    tassl_rng_seed(ctx, 11);
    tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(2, 4, 2, 3, 5), 0.5f, 2.0f);
    tassl_tensor *g = tassl_randn(ctx, TASSL_SHAPE(4), 1.0f, 0.5f);
    tassl_tensor *b = tassl_randn(ctx, TASSL_SHAPE(4), 0.0f, 1.0f);
    tassl_tensor *y1 = tassl_group_norm(x, 4, g, b, 1e-5f);
    tassl_tensor *y2 = tassl_instance_norm(x, g, b, 1e-5f);
    float a[240], c[240];
    read_n(y1, a, 240);
    read_n(y2, c, 240);
    for (int i = 0; i < 240; i++)
        assert_float_equal(a[i], c[i], 1e-6);
    // and instance statistics really are per (n, c): first instance has mean β₀ after affine
    double s = 0;
    for (int k = 0; k < 30; k++)
        s += a[k];
    float b0;
    read_n(tassl_slice(b, 0, 0, 1, 1), &b0, 1);
    assert_float_equal(s / 30, b0, 1e-5);
}

static void test_layer_norm_known_vector(void **state) {
    tassl_ctx *ctx = ctx_of(state);
    // x = (1, 2, 3, 4): mean 2.5, biased variance 1.25, x̂ = (−1.5, −0.5, 0.5, 1.5)/√1.25
    //   = (−1.3416408, −0.4472136, 0.4472136, 1.3416408); eps = 0.
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(2, 4), (float[]){1, 2, 3, 4, 4, 3, 2, 1});
    tassl_tensor *g = tassl_from_host(ctx, TASSL_SHAPE(4), (float[]){1, 2, 1, 2});
    tassl_tensor *b = tassl_from_host(ctx, TASSL_SHAPE(4), (float[]){0, 0, 1, 1});
    float got[8];
    read_n(tassl_layer_norm(x, 1, NULL, NULL, 0.0f), got, 8);
    expect_near(got,
                (double[]){-1.3416408, -0.4472136, 0.4472136, 1.3416408, 1.3416408, 0.4472136,
                           -0.4472136, -1.3416408},
                8, 1e-6);
    read_n(tassl_layer_norm(x, 1, g, b, 0.0f), got, 8);
    expect_near(got,
                (double[]){-1.3416408, -0.8944272, 1.4472136, 3.6832816, 1.3416408, 0.8944272,
                           0.5527864, -1.6832816},
                8, 1e-6);
    // Over both dims of (2, 4): mean 2.5 and variance 1.25 again, so the same x̂.
    read_n(tassl_layer_norm(x, 2, NULL, NULL, 0.0f), got, 8);
    expect_near(got,
                (double[]){-1.3416408, -0.4472136, 0.4472136, 1.3416408, 1.3416408, 0.4472136,
                           -0.4472136, -1.3416408},
                8, 1e-6);
}

/* A test on one device, named "test@device". */
#define ON(fn, spec)                                                                               \
    { #fn "@" spec, fn, setup, teardown, (void *)spec }
#define BOTH(fn) ON(fn, "ref"), ON(fn, "cpu")

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_running_stats),
        BOTH(test_eval_uses_running_stats),
        BOTH(test_batch_norm_standardises),
        BOTH(test_batch_norm_grad_of_sum),
        BOTH(test_group_norm_gc_is_instance_norm),
        BOTH(test_layer_norm_known_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
