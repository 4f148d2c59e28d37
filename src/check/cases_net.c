/* cases_net.c — whole-network gradient checks: small networks composed of many ops, checked
 * end to end (device vs reference and finite differences through every layer). */
#include "check.h"

/* MLP with a projection head: linear → GELU → linear → L2-normalise, run on two views with
 * shared weights, then their cosine-similarity matrix — the shape of a contrastive loss.
 * (No stop-gradient here: finite differences see every path; detach is tested on its own.) */
static tassl_tensor *f_mlp(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    tassl_tensor *h = tassl_gelu(tassl_linear(x[0], x[2], NULL));
    tassl_tensor *z = tassl_l2_normalize(tassl_linear(h, x[3], NULL), 1, 1e-12f);
    tassl_tensor *h2 = tassl_gelu(tassl_linear(x[1], x[2], NULL));
    tassl_tensor *z2 = tassl_l2_normalize(tassl_linear(h2, x[3], NULL), 1, 1e-12f);
    tassl_tensor *sim = tassl_matmul_t(z, false, z2, true);
    return tassl_mean(sim, 1, (int[]){1}, false);
}

/* 2D CNN classifier: conv–BN(train)–ReLU–maxpool–conv(stride 2)–ReLU–global avg pool–linear–CE. */
static tassl_tensor *f_cnn2d(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    tassl_ctx *ctx = x[0]->ctx;
    const int one[2] = {1, 1}, two[2] = {2, 2}, zero[2] = {0, 0};
    tassl_tensor *h = tassl_conv(x[0], x[1], NULL, one, one, one, 1);
    tassl_tensor *rm = tassl_zeros(ctx, TASSL_SHAPE(4)), *rv = tassl_full(ctx, TASSL_SHAPE(4), 1);
    h = tassl_relu(tassl_batch_norm(h, NULL, NULL, rm, rv, true, 0.1f, 1e-5f));
    h = tassl_max_pool(h, two, two, zero);
    h = tassl_relu(tassl_conv(h, x[2], NULL, two, one, one, 1));
    tassl_tensor *w = tassl_reshape(tassl_slice(x[2], 0, 0, 3, 1), TASSL_SHAPE(3, -1));
    tassl_tensor *logits = tassl_linear(tassl_global_avg_pool(h), tassl_slice(w, 1, 0, 6, 1), NULL);
    return tassl_cross_entropy(logits, x[3], NULL, 0.0f, -100, TASSL_REDUCE_MEAN);
}

/* 3D encoder–decoder: conv3d(stride 2)–GroupNorm–GELU–transposed conv3d(stride 2)–skip add–
 * trilinear up-sampling–MSE against a target. */
static tassl_tensor *f_unet3d(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    const int one[3] = {1, 1, 1}, two[3] = {2, 2, 2}, zero[3] = {0, 0, 0};
    tassl_tensor *e = tassl_conv(x[0], x[1], NULL, two, one, one, 1);   /* (2, 4, 2, 2, 2) */
    e = tassl_gelu(tassl_group_norm(e, 2, NULL, NULL, 1e-5f));
    tassl_tensor *d = tassl_conv_transpose(e, x[2], NULL, two, zero, zero, one, 1); /* (2, 2, 4, 4, 4) */
    d = tassl_add(d, x[0]);
    d = tassl_upsample_linear(d, (const int64_t[]){6, 6, 6}, false);
    return tassl_mse_loss(d, x[3], TASSL_REDUCE_SUM);
}

static const tassl_check_case cases[] = {
    {.name = "net_mlp_two_views", .op = "net", .fn = f_mlp, .nin = 4, .ndim = {2, 2, 2, 2},
     .shape = {{6, 10}, {6, 10}, {16, 10}, {8, 16}}, .gtol = 3e-2f},
    {.name = "net_cnn2d_classifier", .op = "net", .fn = f_cnn2d, .nin = 4, .ndim = {4, 4, 4, 1},
     .shape = {{3, 2, 8, 8}, {4, 2, 3, 3}, {6, 4, 3, 3}, {3}}, .domain = {0, 0, 0, TASSL_DOM_LABELS},
     .labels = 3, .eps = 1e-3f, .gtol = 3e-2f},
    {.name = "net_unet3d_regression", .op = "net", .fn = f_unet3d, .nin = 4, .ndim = {5, 5, 5, 5},
     .shape = {{2, 2, 4, 4, 4}, {4, 2, 3, 3, 3}, {4, 2, 2, 2, 2}, {2, 2, 6, 6, 6}}},
};

const tassl_check_table tassl_cases_net = {"net", cases, (int)(sizeof cases / sizeof cases[0])};
