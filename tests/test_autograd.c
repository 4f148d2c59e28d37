/* test_autograd.c — the tape: gradients of known functions, accumulation, detach, no-grad,
 * scopes, parameters in the flat gradient buffer, and one network run twice per step. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>
#include "tassl/tassl.h"

static tassl_device *dev;

static void read_n(const tassl_tensor *t, float *v) { assert_int_equal(tassl_tensor_read(t, v), TASSL_OK); }

static void grad_of_known_function(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    const float h[4] = {1, -2, 3, 0.5f};
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(4), h);
    tassl_requires_grad_(x, true);
    /* f = Σ (x·x + x) → df/dx = 2x + 1 (x used twice: contributions accumulate) */
    tassl_tensor *f = tassl_sum_all(tassl_add(tassl_mul(x, x), x));
    assert_float_equal(tassl_item(f), 1 + 4 + 9 + 0.25f + 2.5f, 1e-5);
    assert_int_equal(tassl_backward(f), TASSL_OK);
    float g[4];
    read_n(x->grad, g);
    for (int i = 0; i < 4; i++) assert_float_equal(g[i], 2 * h[i] + 1, 1e-6);
    /* a second graph accumulates into the same gradient */
    tassl_backward(tassl_sum_all(tassl_scale(x, 3.0f)));
    read_n(x->grad, g);
    for (int i = 0; i < 4; i++) assert_float_equal(g[i], 2 * h[i] + 4, 1e-6);
    tassl_ctx_free(ctx);
}

static void detach_and_no_grad_stop_gradients(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_tensor *x = tassl_full(ctx, TASSL_SHAPE(3), 2.0f);
    tassl_requires_grad_(x, true);
    /* f = Σ x · sg(x) → df/dx = sg(x) = 2 (not 2x = 4) */
    tassl_tensor *f = tassl_sum_all(tassl_mul(x, tassl_detach(x)));
    tassl_backward(f);
    float g[3];
    read_n(x->grad, g);
    for (int i = 0; i < 3; i++) assert_float_equal(g[i], 2.0f, 0);
    int before = tassl_tape_size(ctx);
    tassl_no_grad_begin(ctx);
    tassl_tensor *y = tassl_relu(tassl_mul(x, x));
    tassl_no_grad_end(ctx);
    assert_false(y->requires_grad);
    assert_int_equal(tassl_tape_size(ctx), before);
    tassl_ctx_free(ctx);
}

static void scopes_release_the_tape(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_tensor *x = tassl_full(ctx, TASSL_SHAPE(8), 1.0f);
    tassl_requires_grad_(x, true);
    for (int step = 0; step < 3; step++) {
        int t0 = tassl_tape_size(ctx);
        tassl_scope_begin(ctx);
        tassl_tensor *f = tassl_sum_all(tassl_exp(x));
        assert_true(tassl_tape_size(ctx) > t0);
        tassl_backward(f);
        tassl_scope_end(ctx);
        assert_int_equal(tassl_tape_size(ctx), t0);
    }
    tassl_ctx_free(ctx);
}

/* A leaf from an outer scope differentiated inside an inner one: its gradient lives in the inner
 * scope and is dropped with it, never left pointing at released storage. */
static void leaf_grad_does_not_outlive_its_scope(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_tensor *x = tassl_full(ctx, TASSL_SHAPE(4), 3.0f);
    tassl_requires_grad_(x, true);
    for (int step = 0; step < 3; step++) {
        tassl_scope_begin(ctx);
        tassl_backward(tassl_sum_all(tassl_mul(x, x)));
        float g[4];
        read_n(x->grad, g);
        for (int i = 0; i < 4; i++) assert_float_equal(g[i], 6.0f, 0); /* fresh every step */
        tassl_scope_end(ctx);
        assert_null(x->grad);
    }
    tassl_ctx_free(ctx);
}

/* A linear model run on two views in one step (as SimCLR/BYOL do): the parameter gradient is
 * the sum of both passes, and lands in the flat gradient buffer. */
static void two_views_accumulate_into_params(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_params *p = tassl_params_new(ctx);
    tassl_tensor *w = tassl_params_add(p, "w", TASSL_SHAPE(2, 3));
    tassl_tensor *b = tassl_params_add(p, "b", TASSL_SHAPE(2));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    const float wh[6] = {0.5f, -1, 2, 1, 0, -0.5f}, x1h[3] = {1, 2, 3}, x2h[3] = {-1, 0.5f, 2};
    tassl_tensor_write(w, wh);
    tassl_fill_(b, 0.25f);
    for (int rep = 0; rep < 2; rep++) {
        tassl_params_zero_grad(p);
        tassl_scope_begin(ctx);
        tassl_tensor *x1 = tassl_from_host(ctx, TASSL_SHAPE(1, 3), x1h);
        tassl_tensor *x2 = tassl_from_host(ctx, TASSL_SHAPE(1, 3), x2h);
        /* f = Σ (W x1 + b) + Σ (W x2 + b)² */
        tassl_tensor *y1 = tassl_linear(x1, w, b), *y2 = tassl_linear(x2, w, b);
        tassl_tensor *f = tassl_add(tassl_sum_all(y1), tassl_sum_all(tassl_mul(y2, y2)));
        assert_int_equal(tassl_backward(f), TASSL_OK);
        tassl_scope_end(ctx);
        float gw[6], gb[2];
        read_n(w->grad, gw);
        read_n(b->grad, gb);
        for (int o = 0; o < 2; o++) {
            float y2o = 0.25f;
            for (int i = 0; i < 3; i++) y2o += wh[o * 3 + i] * x2h[i];
            assert_float_equal(gb[o], 1 + 2 * y2o, 1e-5);
            for (int i = 0; i < 3; i++)
                assert_float_equal(gw[o * 3 + i], x1h[i] + 2 * y2o * x2h[i], 1e-5);
        }
    }
    /* the flat gradient holds the same numbers */
    float flat[32];
    read_n(tassl_params_flat_grad(p), flat);
    float gb[2];
    read_n(b->grad, gb);
    assert_float_equal(flat[16], gb[0], 0);
    tassl_params_zero_grad(p);
    read_n(tassl_params_flat_grad(p), flat);
    for (int i = 0; i < 32; i++) assert_float_equal(flat[i], 0, 0);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
}

static void views_route_gradients(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    float h[6] = {1, 2, 3, 4, 5, 6}, g[6];
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(2, 3), h);
    tassl_requires_grad_(x, true);
    /* f = Σ xᵀ[1:, :] · 10 + Σ x[:, 2] */
    tassl_tensor *a = tassl_slice(tassl_transpose(x, 0, 1), 0, 1, 3, 1);
    tassl_tensor *f = tassl_add(tassl_sum_all(tassl_scale(a, 10.0f)),
                                tassl_sum_all(tassl_slice(x, 1, 2, 3, 1)));
    tassl_backward(f);
    read_n(x->grad, g);
    const float want[6] = {0, 10, 11, 0, 10, 11};
    for (int i = 0; i < 6; i++) assert_float_equal(g[i], want[i], 0);
    tassl_ctx_free(ctx);
}

int main(void) {
    if (tassl_device_open("cpu", &dev) != TASSL_OK) assert_int_equal(tassl_device_open("ref", &dev), TASSL_OK);
    printf("device: %s\n", tassl_device_get_info(dev)->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grad_of_known_function),
        cmocka_unit_test(detach_and_no_grad_stop_gradients),
        cmocka_unit_test(scopes_release_the_tape),
        cmocka_unit_test(leaf_grad_does_not_outlive_its_scope),
        cmocka_unit_test(two_views_accumulate_into_params),
        cmocka_unit_test(views_route_gradients),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tassl_device_free(dev);
    return failed;
}
