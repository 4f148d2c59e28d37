/* test_tensor.c — tensors, scopes, the buffer pool, parameters, Philox and sticky errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tassl/tassl.h"

static tassl_device *devs[2];
static int ndevs;

static void philox_known_answers(void **state) {
    (void)state;
    /* Known-answer vectors of Random123 (kat_vectors, philox4x32_10) */
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    tassl_philox4x32(c0, k0, out);
    assert_int_equal(out[0], 0x6627e8d5u);
    assert_int_equal(out[1], 0xe169c58du);
    assert_int_equal(out[2], 0xbc57ac4cu);
    assert_int_equal(out[3], 0x9b00dbd8u);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                   k1[2] = {0xffffffffu, 0xffffffffu};
    tassl_philox4x32(c1, k1, out);
    assert_int_equal(out[0], 0x408f276du);
    assert_int_equal(out[1], 0x41c83b0eu);
    assert_int_equal(out[2], 0xa20bc7c6u);
    assert_int_equal(out[3], 0x6d5451fdu);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                   k2[2] = {0xa4093822u, 0x299f31d0u};
    tassl_philox4x32(c2, k2, out);
    assert_int_equal(out[0], 0xd16cfe09u);
    assert_int_equal(out[1], 0x94fdccebu);
    assert_int_equal(out[2], 0x5001e420u);
    assert_int_equal(out[3], 0x24126ea1u);
}

static void rng_same_on_every_backend(void **state) {
    (void)state;
    enum { N = 4099 };
    float u[2][N], g[2][N], b[2][N];
    for (int d = 0; d < ndevs; d++) {
        tassl_ctx *ctx = tassl_ctx_new(devs[d]);
        tassl_rng_seed(ctx, 1234);
        tassl_tensor *t = tassl_rand(ctx, TASSL_SHAPE(N), -1.0f, 3.0f);
        tassl_tensor *n = tassl_randn(ctx, TASSL_SHAPE(N), 0.0f, 1.0f);
        tassl_tensor *m = tassl_dropout(tassl_full(ctx, TASSL_SHAPE(N), 1.0f), 0.25f, true);
        assert_int_equal(tassl_tensor_read(t, u[d]), TASSL_OK);
        assert_int_equal(tassl_tensor_read(n, g[d]), TASSL_OK);
        assert_int_equal(tassl_tensor_read(m, b[d]), TASSL_OK);
        assert_int_equal(tassl_rng_get(ctx).counter, 3 * N);
        tassl_ctx_free(ctx);
    }
    /* host stream matches the device stream */
    for (int i = 0; i < N; i++) {
        float h = -1.0f + 4.0f * tassl_philox_uniform(1234, (uint64_t)i);
        assert_memory_equal(&h, &u[0][i], sizeof h);
        assert_true(u[0][i] >= -1.0f && u[0][i] < 3.0f);
    }
    double mean = 0, var = 0, kept = 0;
    for (int i = 0; i < N; i++) mean += g[0][i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (g[0][i] - mean) * (g[0][i] - mean);
    var /= N;
    for (int i = 0; i < N; i++) kept += b[0][i] != 0;
    assert_true(fabs(mean) < 0.06 && fabs(var - 1) < 0.08);
    assert_true(fabs(kept / N - 0.75) < 0.03);
    if (ndevs == 2) {
        assert_memory_equal(u[0], u[1], sizeof u[0]); /* bit-identical */
        assert_memory_equal(b[0], b[1], sizeof b[0]);
        for (int i = 0; i < N; i++) assert_true(fabsf(g[0][i] - g[1][i]) <= 1e-5f * (1 + fabsf(g[0][i])));
    }
}

static void strided_views_read_back(void **state) {
    (void)state;
    for (int d = 0; d < ndevs; d++) {
        tassl_ctx *ctx = tassl_ctx_new(devs[d]);
        float h[24], r[24];
        for (int i = 0; i < 24; i++) h[i] = (float)i;
        tassl_tensor *t = tassl_from_host(ctx, TASSL_SHAPE(2, 3, 4), h);
        assert_true(tassl_is_contiguous(t));
        tassl_tensor *p = tassl_permute(t, (int[]){2, 0, 1}); /* (4, 2, 3) */
        assert_false(tassl_is_contiguous(p));
        assert_int_equal(tassl_tensor_read(p, r), TASSL_OK);
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < 3; c++) assert_float_equal(r[a * 6 + b * 3 + c], h[b * 12 + c * 4 + a], 0);
        tassl_tensor *s = tassl_slice(t, 2, 1, 4, 2); /* (2, 3, 2): columns 1 and 3 */
        assert_int_equal(tassl_tensor_read(s, r), TASSL_OK);
        assert_float_equal(r[0], 1, 0);
        assert_float_equal(r[1], 3, 0);
        assert_float_equal(r[11], 23, 0);
        /* writing through a strided view touches only its elements */
        tassl_fill_(s, -1.0f);
        assert_int_equal(tassl_tensor_read(t, r), TASSL_OK);
        for (int i = 0; i < 24; i++) assert_float_equal(r[i], (i % 4 == 1 || i % 4 == 3) ? -1.0f : h[i], 0);
        tassl_tensor *c = tassl_concat(2, (tassl_tensor *[]){t, t}, 1);
        assert_int_equal(c->shape[1], 6);
        assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
        tassl_ctx_free(ctx);
    }
}

static void scopes_recycle_buffers(void **state) {
    (void)state;
    for (int d = 0; d < ndevs; d++) {
        tassl_ctx *ctx = tassl_ctx_new(devs[d]);
        tassl_pool_stats s0 = tassl_device_pool_stats(devs[d]);
        for (int step = 0; step < 5; step++) {
            tassl_scope_begin(ctx);
            tassl_tensor *a = tassl_zeros(ctx, TASSL_SHAPE(64, 64));
            tassl_tensor *b = tassl_relu(tassl_add(a, a));
            assert_non_null(b->buf);
            tassl_scope_end(ctx);
            tassl_pool_stats s = tassl_device_pool_stats(devs[d]);
            assert_int_equal(s.live_buffers, s0.live_buffers);
            assert_int_equal(s.bytes_in_use, s0.bytes_in_use);
        }
        /* every step reuses the cached buffers: peak stays at one step's worth */
        tassl_pool_stats s = tassl_device_pool_stats(devs[d]);
        assert_true(s.peak_in_use <= s0.peak_in_use + 4 * 64 * 64 * 4 + 4096);
        tassl_ctx_free(ctx);
    }
}

static void guard_catches_out_of_bounds_write(void **state) {
    (void)state;
    for (int d = 0; d < ndevs; d++) {
        tassl_device_set_debug(devs[d], 1);
        tassl_ctx *ctx = tassl_ctx_new(devs[d]);
        tassl_scope_begin(ctx);
        tassl_tensor *t = tassl_empty(ctx, TASSL_SHAPE(10));
        float v[10];
        assert_int_equal(tassl_tensor_read(t, v), TASSL_OK);
        for (int i = 0; i < 10; i++) assert_true(isnan(v[i])); /* poisoned, not zero */
        tassl_tensor bad = *t;
        bad.shape[0] = 11; /* one float past the end: into the guard */
        tassl_fill_(&bad, 1.0f);
        tassl_scope_end(ctx);
        assert_int_equal(tassl_ctx_status(ctx), TASSL_ERR_CHECK);
        assert_non_null(strstr(tassl_ctx_error_message(ctx), "out-of-bounds"));
        tassl_ctx_free(ctx);
        tassl_device_set_debug(devs[d], 0);
    }
}

static void sticky_errors_make_ops_noops(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(devs[0]);
    tassl_tensor *a = tassl_full(ctx, TASSL_SHAPE(3, 4), 2.0f);
    tassl_error(TASSL_ERR_DEVICE, "simulated device failure");
    tassl_ctx_fail(ctx, TASSL_ERR_DEVICE);
    tassl_tensor *b = tassl_matmul(a, tassl_transpose(a, 0, 1)); /* shapes still right */
    assert_int_equal(b->ndim, 2);
    assert_int_equal(b->shape[0], 3);
    assert_int_equal(b->shape[1], 3);
    assert_null(b->buf);
    float v[9];
    assert_int_not_equal(tassl_tensor_read(b, v), TASSL_OK);
    assert_string_equal(tassl_ctx_error_message(ctx), "simulated device failure");
    tassl_ctx_clear_error(ctx);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
}

static void params_are_one_flat_buffer(void **state) {
    (void)state;
    for (int d = 0; d < ndevs; d++) {
        tassl_ctx *ctx = tassl_ctx_new(devs[d]);
        tassl_params *p = tassl_params_new(ctx);
        tassl_tensor *w = tassl_params_add(p, "layer.weight", TASSL_SHAPE(3, 5));
        tassl_tensor *b = tassl_params_add(p, "layer.bias", TASSL_SHAPE(3));
        tassl_tensor *rm = tassl_params_add_buffer(p, "bn.running_mean", TASSL_SHAPE(2));
        assert_int_equal(tassl_params_finalize(p), TASSL_OK);
        assert_int_equal(tassl_params_count(p), 3);
        assert_false(rm->requires_grad);
        assert_null(rm->grad);
        assert_true(tassl_params_is_buffer(p, 2));
        assert_false(tassl_params_is_buffer(p, 1));
        assert_true(w->requires_grad && w->grad != NULL);
        assert_ptr_equal(tassl_params_find(p, "layer.bias"), b);
        assert_null(tassl_params_find(p, "layer.nope"));
        assert_ptr_equal(w->buf, b->buf);
        assert_int_equal(b->off % 16, 0);
        assert_int_equal(tassl_numel(tassl_params_flat(p)), 48); /* 15 → 16, 3 → 16, 2 → 16 */
        tassl_fill_(w, 2.0f);
        tassl_fill_(b, 3.0f);
        float flat[48];
        assert_int_equal(tassl_tensor_read(tassl_params_flat(p), flat), TASSL_OK);
        for (int i = 0; i < 32; i++)
            assert_float_equal(flat[i], i < 15 ? 2.0f : (i >= 16 && i < 19 ? 3.0f : 0.0f), 0);
        tassl_params_free(p);
        tassl_ctx_free(ctx);
    }
}

static void device_spec_errors_are_clear(void **state) {
    (void)state;
    tassl_device *d = NULL;
    assert_int_equal(tassl_device_open("banana", &d), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "banana"));
    assert_int_equal(tassl_device_open("opencl:9:9", &d), TASSL_ERR_DEVICE);
    assert_non_null(strstr(tassl_last_error(), "opencl:9:9"));
    assert_int_equal(tassl_device_open("77", &d), TASSL_ERR_DEVICE);
    assert_int_equal(tassl_device_open("ref", &d), TASSL_OK);
    assert_int_equal(tassl_device_get_info(d)->backend, TASSL_BACKEND_REF);
    tassl_device_free(d);
    setenv("TASSL_DEVICE", "ref", 1);
    assert_int_equal(tassl_device_open(NULL, &d), TASSL_OK);
    assert_int_equal(tassl_device_get_info(d)->backend, TASSL_BACKEND_REF);
    tassl_device_free(d);
    unsetenv("TASSL_DEVICE");
}

int main(void) {
    assert_int_equal(tassl_device_open("ref", &devs[0]), TASSL_OK);
    ndevs = 1;
    if (tassl_device_open("cpu", &devs[1]) == TASSL_OK) ndevs = 2;
    else fprintf(stderr, "no OpenCL CPU device: testing the reference backend only\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(philox_known_answers),
        cmocka_unit_test(rng_same_on_every_backend),
        cmocka_unit_test(strided_views_read_back),
        cmocka_unit_test(scopes_recycle_buffers),
        cmocka_unit_test(guard_catches_out_of_bounds_write),
        cmocka_unit_test(sticky_errors_make_ops_noops),
        cmocka_unit_test(params_are_one_flat_buffer),
        cmocka_unit_test(device_spec_errors_are_clear),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < ndevs; i++) tassl_device_free(devs[i]);
    return failed;
}
