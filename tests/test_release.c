/* test_release.c — tassl_backward_release (src/autograd/tape.c): a backward that gives forward
 * activations back to the pool as soon as the last backward function reading them has run.
 *   - the gradients are bit for bit those of tassl_backward on a small conv net that uses every
 *     kind of node the release plan treats specially (conv and batch norm, whose outputs
 *     backward never reads; relu and sigmoid, which read their output instead of their input;
 *     reshape, concat and slice, which read nothing; mul, which reads both inputs), run twice
 *     per step like an SSL method's two views;
 *   - the activations are gone afterwards (the pool holds far less than after tassl_backward),
 *     while the root, the kept tensors (and a view sharing their storage), tensors computed
 *     outside the tape, activations of enclosing scopes and the values an unreached branch
 *     needs are intact;
 *   - the pool runs in debug mode (TASSL_DEBUG_POOL: released buffers are filled with NaN), so
 *     a backward reading a buffer released too early would give NaN gradients.
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "test_util.h"
#include "tassl/tassl.h"

static tassl_device *dev;

typedef struct net {
    tassl_tensor *w1, *g1, *b1, *w2, *rm, *rv; /* parameters and batch-norm running stats */
} net;

/* Leaves of the same values in every context (seeded by the context's stream). */
static net net_new(tassl_ctx *ctx) {
    net n;
    tassl_rng_seed(ctx, 3);
    n.w1 = tassl_randn(ctx, TASSL_SHAPE(6, 2, 3, 3), 0, 0.3f);
    n.g1 = tassl_rand(ctx, TASSL_SHAPE(6), 0.5f, 1.5f);
    n.b1 = tassl_randn(ctx, TASSL_SHAPE(6), 0, 0.1f);
    n.w2 = tassl_randn(ctx, TASSL_SHAPE(3, 12, 3, 3), 0, 0.2f);
    n.rm = tassl_zeros(ctx, TASSL_SHAPE(6));
    n.rv = tassl_full(ctx, TASSL_SHAPE(6), 1.0f);
    tassl_requires_grad_(n.w1, true);
    tassl_requires_grad_(n.g1, true);
    tassl_requires_grad_(n.b1, true);
    tassl_requires_grad_(n.w2, true);
    return n;
}

/* One view: conv → BN → relu, concat with its own negation, conv, sigmoid; (N, 3·H·W). */
static tassl_tensor *view(const net *n, tassl_tensor *x) {
    const int pad[2] = {1, 1};
    tassl_tensor *h = tassl_conv(x, n->w1, NULL, NULL, pad, NULL, 1); // (N, 6, H, W)
    h = tassl_relu(tassl_batch_norm(h, n->g1, n->b1, n->rm, n->rv, true, 0.1f, 1e-5f));
    tassl_tensor *cat[2] = {h, tassl_scale(h, -0.5f)};
    h = tassl_concat(2, cat, 1);                                       // (N, 12, H, W)
    h = tassl_sigmoid(tassl_conv(h, n->w2, NULL, NULL, pad, NULL, 1)); // (N, 3, H, W)
    return tassl_flatten(h, 1);
}

typedef struct step {
    tassl_tensor *loss, *z1, *z2, *kept_view, *side;
} step;

/* Two views of x, a product of them (both inputs read), a slice, the mean. */
static step forward(const net *n, tassl_tensor *x) {
    step s;
    s.z1 = view(n, x);
    s.z2 = view(n, tassl_scale(x, 0.7f));
    s.kept_view = tassl_reshape(s.z1, TASSL_SHAPE(-1));
    tassl_tensor *p = tassl_mul(s.z1, s.z2); // (N, 3·H·W)
    s.loss = tassl_mean_all(tassl_slice(p, 1, 0, 40, 1));
    tassl_no_grad_begin(x->ctx);
    s.side = tassl_scale(s.z2, 2.0f); /* outside the tape */
    tassl_no_grad_end(x->ctx);
    return s;
}

static void read_all(const tassl_tensor *t, float *v) {
    assert_int_equal(tassl_tensor_read(t, v), TASSL_OK);
}

#define NG 4
static int64_t grads_of(const net *n, float *out) {
    const tassl_tensor *p[NG] = {n->w1, n->g1, n->b1, n->w2};
    int64_t at = 0;
    for (int k = 0; k < NG; k++) {
        read_all(p[k]->grad, out + at);
        at += tassl_numel(p[k]);
    }
    return at;
}

static void same_gradients_less_memory(void **state) {
    (void)state;
    float ga[2][512], z1[2][384], side[2][384], lv[2]; // z (2, 192)
    uint64_t after[2];
    for (int mode = 0; mode < 2; mode++) {
        tassl_ctx *ctx = tassl_ctx_new(dev);
        net n = net_new(ctx);
        tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(2, 2, 8, 8), 0, 1);
        tassl_scope_begin(ctx);
        step s = forward(&n, x);
        float before_z1[384];
        read_all(s.z1, before_z1);
        if (mode == 0) {
            assert_int_equal(tassl_backward(s.loss), TASSL_OK);
        } else {
            tassl_tensor *keep[1] = {s.z1};
            assert_int_equal(tassl_backward_release(s.loss, 1, keep), TASSL_OK);
        }
        assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
        after[mode] = tassl_device_pool_stats(dev).bytes_in_use;
        assert_true(grads_of(&n, ga[mode]) <= 512);
        lv[mode] = tassl_item(s.loss);
        read_all(s.kept_view, z1[mode]); /* shares z1's storage: kept */
        read_all(s.side, side[mode]);
        assert_memory_equal(z1[mode], before_z1, sizeof before_z1);
        tassl_scope_end(ctx);
        tassl_ctx_free(ctx);
    }
    int64_t ng = 6 * 2 * 9 + 6 + 6 + 3 * 12 * 9;
    assert_memory_equal(ga[0], ga[1], (size_t)ng * sizeof(float));
    assert_memory_equal(side[0], side[1], sizeof side[0]);
    assert_true(lv[0] == lv[1]);
    for (int64_t i = 0; i < ng; i++)
        assert_true(isfinite(ga[1][i]));
    printf("# pool in use after backward: %llu bytes (tassl_backward), %llu (release)\n",
           (unsigned long long)after[0], (unsigned long long)after[1]);
    /* every (N, 6 or 12, 8, 8) activation of both views is gone: more than 10 of 1.5-3 KB */
    assert_true(after[1] + 10 * 1536 < after[0]);
}

/* What the release must not touch: an enclosing scope's activations, and the values of a
 * branch the backward does not reach (its values stay readable; its nodes, spent, are not run
 * again). */
static void outer_scope_and_unreached_branch(void **state) {
    (void)state;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    net n = net_new(ctx);
    tassl_tensor *x = tassl_randn(ctx, TASSL_SHAPE(2, 2, 8, 8), 0, 1);
    tassl_scope_begin(ctx);
    tassl_tensor *outer = view(&n, x); /* (2, 192), enclosing scope */
    float o0[384], o1[384];
    read_all(outer, o0);
    tassl_scope_begin(ctx);
    tassl_tensor *a = tassl_relu(tassl_scale(outer, 3.0f));
    tassl_tensor *l1 = tassl_mean_all(tassl_mul(a, a));
    tassl_tensor *b = tassl_exp(tassl_scale(a, -1.0f));
    tassl_tensor *l2 = tassl_sum_all(b); /* a branch l1 does not reach */
    float b0[384], b1[384], l2v = tassl_item(l2);
    read_all(b, b0);
    assert_int_equal(tassl_backward_release(l1, 0, NULL), TASSL_OK);
    read_all(outer, o1);
    read_all(b, b1);
    assert_memory_equal(o0, o1, sizeof o0);
    assert_memory_equal(b0, b1, sizeof b0);
    assert_true(tassl_item(l2) == l2v);
    /* d l1 / d w1 reached the parameters through the enclosing scope's graph */
    float g[108];
    read_all(n.w1->grad, g);
    double norm = 0;
    for (int i = 0; i < 108; i++)
        norm += fabs(g[i]);
    assert_true(norm > 0 && isfinite(norm));
    tassl_scope_end(ctx);
    tassl_scope_end(ctx);
    tassl_ctx_free(ctx);
}

static int setup(void **state) {
    (void)state;
    char spec[64];
    tassl_test_device_spec(spec, sizeof spec);
    setenv("TASSL_DEBUG_POOL", "1", 1);
    printf("# device %s\n", spec);
    return tassl_device_open(spec, &dev) == TASSL_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tassl_device_free(dev);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_gradients_less_memory),
        cmocka_unit_test(outer_scope_and_unreached_branch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
