/* byol.c — BYOL (Grill et al., NeurIPS 2020, "Bootstrap your own latent"): an online network
 * (the shared encoder, a projector and a predictor) predicts the projection of the other view
 * made by a target network (encoder + projector), which is an EMA of the online one and gets no
 * gradient. Loss (eq. 2, symmetrised as §3.1 "L + L̃"): Σ over the two directions of
 * 2 − 2·cos(q(z₁), sg z′₂), each a mean over the batch (tassl_loss_byol).
 *
 * Defaults and where they come from:
 *   - projector and predictor: Linear(→ hidden) – BN – ReLU – Linear(→ 256), no BN on the output
 *     (paper §3.3 "Architecture": hidden 4096, output 256; the predictor has the projector's
 *     architecture). Hidden 0 = 2 × the encoder width, the paper's 4096 / 2048 for a ResNet-50;
 *   - target momentum: τ = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2 from τ_base to 1 over the K steps
 *     (§3.3, tassl_ema_byol_tau), k = the number of optimiser steps done before this update
 *     (0 on the first, as the official code's global step). τ_base = 0.99: the value of the
 *     official configs (deepmind-research byol/configs/byol.py) for runs of 300 epochs or less;
 *     the paper's headline 0.996 belongs to 1000-epoch ImageNet runs. Set method.byol.tau_base;
 *   - both views through each network in one pass (a batch of 2N), like SimCLR here.
 * The target keeps its own batch-norm statistics (ssl_target.h). State bound to checkpoints:
 * "<prefix>target.*".
 */
#include <stdlib.h>
#include <string.h>
#include "ssl_target.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/optim.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.byol.tau_base", TASSL_CFG_FLOAT, "0.99", "[0, 1]", NULL,
     "target EMA base momentum, raised to 1 by a cosine over train.steps (paper 0.996 for "
     "1000 epochs, 0.99 for 300)"},
    {"method.byol.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projector and predictor hidden width (0 = 2 x the encoder width; paper 4096)"},
    {"method.byol.proj_dim", TASSL_CFG_INT, "256", "[1, 65536]", NULL,
     "projection and prediction width (paper 256)"},
    {"method.byol.pred_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "predictor hidden width (0 = method.byol.proj_hidden)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "byol"}};
static const tassl_cfg_section section = {
    .name = "byol",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct byol {
    const tassl_ssl_env *env;
    char prefix[64];
    tassl_mlp *proj, *pred;
    ssl_target *target;
    double tau_base;
} byol;

static tassl_status byol_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                                void **state) {
    const tassl_config *c = env->cfg;
    byol *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "byol: out of host memory");
    *state = s;
    s->env = env;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->tau_base = tassl_config_float(c, "method.byol.tau_base");
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    int64_t hidden = tassl_config_int(c, "method.byol.proj_hidden");
    int64_t phidden = tassl_config_int(c, "method.byol.pred_hidden");
    int64_t out = tassl_config_int(c, "method.byol.proj_dim");
    if (!hidden) hidden = 2 * d;
    if (!phidden) phidden = hidden;
    tassl_mlp_cfg pc = {.layers = 2, .dims = {d, hidden, out}, .norm = TASSL_NORM_BATCH};
    tassl_mlp_cfg qc = {.layers = 2, .dims = {out, phidden, out}, .norm = TASSL_NORM_BATCH};
    in->views = 2;
    char name[128];
    tassl_status st = tassl_mlp_new(
        env->params, tassl_ssl_name(name, sizeof name, prefix, "projector"), &pc, &s->proj);
    if (st == TASSL_OK)
        st = tassl_mlp_new(env->params, tassl_ssl_name(name, sizeof name, prefix, "predictor"), &qc,
                           &s->pred);
    if (st == TASSL_OK) st = ssl_target_new(env, prefix, &pc, &s->target);
    return st;
}

static tassl_status byol_init(void *state) {
    byol *s = state;
    tassl_status st = tassl_module_init(tassl_mlp_module(s->proj));
    if (st == TASSL_OK) st = tassl_module_init(tassl_mlp_module(s->pred));
    if (st == TASSL_OK) st = ssl_target_init(s->target);
    return st;
}

static tassl_status byol_bind(void *state, tassl_ckpt *ck) {
    byol *s = state;
    return ssl_target_bind(s->target, s->prefix, ck);
}

static tassl_tensor *byol_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    byol *s = state;
    int64_t n = b->n;
    tassl_tensor *x;                                              /* (2N, C, S...) */
    tassl_tensor *z = ssl_two_view_project(s->env, s->proj, b, &x); /* (2N, P) */
    tassl_tensor *p = tassl_mlp_forward(s->pred, z, true);        /* (2N, P) */
    tassl_tensor *zt = ssl_target_forward(s->target, x);          /* (2N, P) const */
    tassl_tensor *p1, *p2, *t1, *t2;
    ssl_split_views(p, n, &p1, &p2);
    ssl_split_views(zt, n, &t1, &t2);
    tassl_tensor *loss = tassl_add(tassl_loss_byol(p1, t2), tassl_loss_byol(p2, t1));
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"byol", tassl_detach(loss)};
    out->embedding = tassl_detach(tassl_slice(z, 0, 0, n, 1));
    return loss;
}

static tassl_status byol_after(void *state, int64_t step) {
    byol *s = state;
    double tau = tassl_ema_byol_tau(s->tau_base, step - 1, s->env->total_steps);
    return ssl_target_update(s->target, (float)tau);
}

static void byol_destroy(void *state) {
    byol *s = state;
    tassl_mlp_free(s->proj);
    tassl_mlp_free(s->pred);
    ssl_target_free(s->target);
    free(s);
}

ssl_target *ssl_byol_target(void *state) {
    return ((byol *)state)->target;
}

const tassl_ssl_method tassl_ssl_byol = {
    .name = "byol",
    .paradigm = "non-contrastive",
    .summary = "BYOL: predict an EMA target's projection of the other view (Grill et al. 2020)",
    .keys = &section,
    .create = byol_create,
    .init = byol_init,
    .bind_state = byol_bind,
    .prepare = NULL,
    .loss = byol_loss,
    .after_step = byol_after,
    .destroy = byol_destroy,
};
