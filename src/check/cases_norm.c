/* cases_norm.c — self-check cases of the norm family (batch, group, instance, layer norm).
 *
 * Each case: device vs reference on output and input gradients, then finite differences on ref.
 * Inputs are x first, then gamma and/or beta as iparam[1] says (AFF_*). Batch norm's running
 * statistics are made inside the case (tassl_full) or passed as inputs without gradient check;
 * the "then_eval" case normalises a second input with statistics updated by a training step on
 * the first, so the device's running-statistics update is compared against the reference's.
 */
#include "check.h"

enum { AFF_NONE = 0, AFF_BOTH = 1, AFF_GAMMA = 2, AFF_BETA = 3 };

/* Batch norm modes (iparam[0]). */
enum {
    BN_TRAIN,          /* running stats made inside, updated */
    BN_TRAIN_NOSTATS,  /* no running stats */
    BN_EVAL,           /* running stats made inside (full) */
    BN_EVAL_INPUTS,    /* x, running_mean, running_var as inputs (no affine) */
    BN_EVAL_NOSTATS,   /* eval without running stats: batch statistics, as PyTorch */
    BN_TRAIN_THEN_EVAL /* x, x2, running_mean, running_var: train on x, eval on x2 */
};

#define EPS 1e-5f

/* gamma and beta from in[first...] as c->iparam[1] says. */
static void affine_of(tassl_tensor **in, const tassl_check_case *c, int first, tassl_tensor **g,
                      tassl_tensor **b) {
    int aff = c->iparam[1];
    *g = (aff == AFF_BOTH || aff == AFF_GAMMA) ? in[first++] : NULL;
    *b = (aff == AFF_BOTH || aff == AFF_BETA) ? in[first] : NULL;
}

/* A private copy of t (the case must not mutate its inputs: it runs many times). */
static tassl_tensor *copy_of(tassl_tensor *t) {
    tassl_tensor *d = tassl_empty(t->ctx, t->ndim, t->shape);
    tassl_copy_(d, t);
    return d;
}

static tassl_tensor *bn_fn(tassl_tensor **in, const tassl_check_case *c) {
    tassl_tensor *x = in[0], *g, *b, *rm = NULL, *rv = NULL;
    tassl_ctx *ctx = x->ctx;
    int64_t ch = x->shape[1];
    int mode = c->iparam[0];
    float mom = 0.1f;
    affine_of(in, c, 1, &g, &b);
    switch (mode) {
    case BN_TRAIN:
    case BN_EVAL:
        rm = tassl_full(ctx, 1, &ch, 0.25f);
        rv = tassl_full(ctx, 1, &ch, 1.5f);
        return tassl_batch_norm(x, g, b, rm, rv, mode == BN_TRAIN, mom, EPS);
    case BN_TRAIN_NOSTATS:
    case BN_EVAL_NOSTATS:
        return tassl_batch_norm(x, g, b, NULL, NULL, mode == BN_TRAIN_NOSTATS, mom, EPS);
    case BN_EVAL_INPUTS:
        return tassl_batch_norm(x, NULL, NULL, in[1], in[2], false, mom, EPS);
    default: /* BN_TRAIN_THEN_EVAL */
        rm = copy_of(in[2]);
        rv = copy_of(in[3]);
        tassl_batch_norm(x, NULL, NULL, rm, rv, true, 0.3f, EPS);
        return tassl_batch_norm(in[1], NULL, NULL, rm, rv, false, mom, EPS);
    }
}

static tassl_tensor *gn_fn(tassl_tensor **in, const tassl_check_case *c) {
    tassl_tensor *g, *b;
    affine_of(in, c, 1, &g, &b);
    return tassl_group_norm(in[0], c->iparam[0], g, b, EPS);
}

static tassl_tensor *in_fn(tassl_tensor **in, const tassl_check_case *c) {
    tassl_tensor *g, *b;
    affine_of(in, c, 1, &g, &b);
    return tassl_instance_norm(in[0], g, b, EPS);
}

static tassl_tensor *ln_fn(tassl_tensor **in, const tassl_check_case *c) {
    tassl_tensor *g, *b;
    affine_of(in, c, 1, &g, &b);
    return tassl_layer_norm(in[0], c->iparam[0], g, b, EPS);
}

/* x of the given dims plus per-channel gamma, beta (length C = dim 1) for norms with affine. */
#define X2(n, c, h, w) .ndim = {4}, .shape = {{n, c, h, w}}
#define X3(n, c, d, h, w) .ndim = {5}, .shape = {{n, c, d, h, w}}
#define AFF2(n, c, h, w) .ndim = {4, 1, 1}, .shape = {{n, c, h, w}, {c}, {c}}
#define AFF3(n, c, d, h, w) .ndim = {5, 1, 1}, .shape = {{n, c, d, h, w}, {c}, {c}}

/* One case per two or three lines reads better as a table than clang-format's layout. */
// clang-format off
static const tassl_check_case cases[] = {
    /* ---- batch norm ---- */
    {.name = "bn2d_train_affine", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF2(4, 3, 5, 6), .iparam = {BN_TRAIN, AFF_BOTH}},
    {.name = "bn2d_train", .op = "batch_norm", .fn = bn_fn, .nin = 1, X2(2, 3, 4, 4),
     .iparam = {BN_TRAIN, AFF_NONE}},
    {.name = "bn2d_train_batch1_odd", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF2(1, 3, 5, 7), .iparam = {BN_TRAIN, AFF_BOTH}},
    {.name = "bn2d_train_large", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF2(4, 2, 20, 20), .iparam = {BN_TRAIN, AFF_BOTH}},
    {.name = "bn2d_train_gamma_only", .op = "batch_norm", .fn = bn_fn, .nin = 2,
     .ndim = {4, 1}, .shape = {{3, 2, 3, 3}, {2}}, .iparam = {BN_TRAIN, AFF_GAMMA}},
    {.name = "bn2d_train_nostats", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF2(2, 4, 3, 5), .iparam = {BN_TRAIN_NOSTATS, AFF_BOTH}},
    {.name = "bn3d_train_affine", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF3(2, 2, 3, 4, 5), .iparam = {BN_TRAIN, AFF_BOTH}},
    {.name = "bn3d_train", .op = "batch_norm", .fn = bn_fn, .nin = 1, X3(1, 3, 2, 3, 3),
     .iparam = {BN_TRAIN, AFF_NONE}},
    {.name = "bn1d_nc_train_affine", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     .ndim = {2, 1, 1}, .shape = {{8, 5}, {5}, {5}}, .iparam = {BN_TRAIN, AFF_BOTH}},
    {.name = "bn1d_nc_train", .op = "batch_norm", .fn = bn_fn, .nin = 1, .ndim = {2},
     .shape = {{6, 3}}, .iparam = {BN_TRAIN, AFF_NONE}},
    {.name = "bn2d_eval_affine", .op = "batch_norm", .fn = bn_fn, .nin = 3, AFF2(3, 4, 5, 5),
     .iparam = {BN_EVAL, AFF_BOTH}},
    {.name = "bn3d_eval_affine", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     AFF3(2, 3, 2, 3, 4), .iparam = {BN_EVAL, AFF_BOTH}},
    {.name = "bn2d_eval_running_inputs", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     .ndim = {4, 1, 1}, .shape = {{2, 3, 4, 4}, {3}, {3}},
     .domain = {TASSL_DOM_NORMAL, TASSL_DOM_NORMAL, TASSL_DOM_POS}, .nograd = 0x6,
     .iparam = {BN_EVAL_INPUTS, AFF_NONE}},
    {.name = "bn1d_nc_eval_nostats", .op = "batch_norm", .fn = bn_fn, .nin = 3,
     .ndim = {2, 1, 1}, .shape = {{7, 4}, {4}, {4}}, .iparam = {BN_EVAL_NOSTATS, AFF_BOTH}},
    {.name = "bn2d_train_then_eval", .op = "batch_norm", .fn = bn_fn, .nin = 4,
     .ndim = {4, 4, 1, 1}, .shape = {{3, 3, 4, 5}, {2, 3, 3, 3}, {3}, {3}},
     .domain = {TASSL_DOM_NORMAL, TASSL_DOM_NORMAL, TASSL_DOM_NORMAL, TASSL_DOM_POS},
     .nograd = 0xD, .iparam = {BN_TRAIN_THEN_EVAL, AFF_NONE}},
    /* ---- group norm ---- */
    {.name = "gn2d_g1_affine", .op = "group_norm", .fn = gn_fn, .nin = 3, AFF2(2, 4, 5, 5),
     .iparam = {1, AFF_BOTH}},
    {.name = "gn2d_g2_affine", .op = "group_norm", .fn = gn_fn, .nin = 3, AFF2(2, 4, 3, 5),
     .iparam = {2, AFF_BOTH}},
    {.name = "gn2d_gC_affine", .op = "group_norm", .fn = gn_fn, .nin = 3, AFF2(2, 4, 3, 3),
     .iparam = {4, AFF_BOTH}},
    {.name = "gn2d_g2_batch1_beta_only", .op = "group_norm", .fn = gn_fn, .nin = 2,
     .ndim = {4, 1}, .shape = {{1, 6, 3, 3}, {6}}, .iparam = {2, AFF_BETA}},
    {.name = "gn3d_g2", .op = "group_norm", .fn = gn_fn, .nin = 1, X3(2, 4, 2, 3, 4),
     .iparam = {2, AFF_NONE}},
    {.name = "gn3d_g3_affine_large", .op = "group_norm", .fn = gn_fn, .nin = 3,
     AFF3(1, 6, 4, 9, 10), .iparam = {3, AFF_BOTH}},
    {.name = "gn1d_nc_gC_groups_of_1", .op = "group_norm", .fn = gn_fn, .nin = 3,
     .ndim = {2, 1, 1}, .shape = {{3, 4}, {4}, {4}}, .iparam = {4, AFF_BOTH}},
    /* ---- instance norm ---- */
    {.name = "in2d_affine", .op = "instance_norm", .fn = in_fn, .nin = 3, AFF2(2, 3, 4, 5),
     .iparam = {0, AFF_BOTH}},
    {.name = "in2d_batch1", .op = "instance_norm", .fn = in_fn, .nin = 1, X2(1, 2, 7, 7),
     .iparam = {0, AFF_NONE}},
    {.name = "in3d", .op = "instance_norm", .fn = in_fn, .nin = 1, X3(2, 3, 2, 3, 4),
     .iparam = {0, AFF_NONE}},
    {.name = "in3d_affine", .op = "instance_norm", .fn = in_fn, .nin = 3, AFF3(1, 2, 3, 3, 3),
     .iparam = {0, AFF_BOTH}},
    /* ---- layer norm ---- */
    {.name = "ln1_affine", .op = "layer_norm", .fn = ln_fn, .nin = 3, .ndim = {3, 1, 1},
     .shape = {{4, 7, 10}, {10}, {10}}, .iparam = {1, AFF_BOTH}},
    {.name = "ln1", .op = "layer_norm", .fn = ln_fn, .nin = 1, .ndim = {2},
     .shape = {{3, 5}}, .iparam = {1, AFF_NONE}},
    {.name = "ln1_beta_only", .op = "layer_norm", .fn = ln_fn, .nin = 2, .ndim = {2, 1},
     .shape = {{5, 8}, {8}}, .iparam = {1, AFF_BETA}},
    {.name = "ln1_affine_large", .op = "layer_norm", .fn = ln_fn, .nin = 3, .ndim = {2, 1, 1},
     .shape = {{3, 600}, {600}, {600}}, .iparam = {1, AFF_BOTH}},
    {.name = "ln2_affine", .op = "layer_norm", .fn = ln_fn, .nin = 3, .ndim = {4, 2, 2},
     .shape = {{2, 3, 4, 5}, {4, 5}, {4, 5}}, .iparam = {2, AFF_BOTH}},
    {.name = "ln2", .op = "layer_norm", .fn = ln_fn, .nin = 1, .ndim = {3},
     .shape = {{2, 6, 3}}, .iparam = {2, AFF_NONE}},
    {.name = "ln3_gamma_only", .op = "layer_norm", .fn = ln_fn, .nin = 2, .ndim = {4, 3},
     .shape = {{2, 3, 2, 4}, {3, 2, 4}}, .iparam = {3, AFF_GAMMA}},
};
// clang-format on

const tassl_check_table tassl_cases_norm = {"norm", cases, (int)(sizeof cases / sizeof *cases)};
