/* simsiam.c — SimSiam (Chen & He, CVPR 2021, "Exploring simple Siamese representation
 * learning"): one network (the shared encoder + a projector) on both views, a predictor on top,
 * and the stop-gradient that prevents collapse without negatives or a momentum encoder:
 * loss = ½·D(p₁, sg z₂) + ½·D(p₂, sg z₁), D = −cos (eq. 3–4, tassl_loss_simsiam detaches z).
 *
 * Defaults and where they come from (paper §3 "Baseline settings", the official main_simsiam.py):
 *   - projector: 3 linear layers, BN after each, ReLU after the hidden two, the output BN
 *     without affine (the official `nn.BatchNorm1d(dim, affine=False)`), width 2048 for a
 *     ResNet-50 — here 0 = the encoder's width, which is 2048 for the ResNet-50;
 *   - predictor: Linear(dim → dim/4) – BN – ReLU – Linear(→ dim), the bottleneck of §3 ("h's
 *     hidden layer's dimension is 512", dim 2048), no BN on its output;
 *   - both views through the network in one pass (a batch of 2N).
 * SimSiam has no extra state.
 */
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.simsiam.proj_dim", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projection width (0 = the encoder's width; paper 2048 with a ResNet-50)"},
    {"method.simsiam.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projector hidden width (0 = method.simsiam.proj_dim)"},
    {"method.simsiam.pred_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "predictor bottleneck width (0 = proj_dim / 4, paper 512 for 2048)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "simsiam"}};
static const tassl_cfg_section section = {
    .name = "simsiam",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct simsiam {
    const tassl_ssl_env *env;
    tassl_mlp *proj, *pred;
} simsiam;

static tassl_status simsiam_create(const tassl_ssl_env *env, const char *prefix,
                                   tassl_ssl_inputs *in, void **state) {
    const tassl_config *c = env->cfg;
    simsiam *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "simsiam: out of host memory");
    *state = s;
    s->env = env;
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    int64_t dim = tassl_config_int(c, "method.simsiam.proj_dim");
    int64_t hidden = tassl_config_int(c, "method.simsiam.proj_hidden");
    int64_t bottleneck = tassl_config_int(c, "method.simsiam.pred_hidden");
    if (!dim) dim = d;
    if (!hidden) hidden = dim;
    if (!bottleneck) bottleneck = dim / 4 > 0 ? dim / 4 : 1;
    tassl_mlp_cfg pc = {.layers = 3,
                        .dims = {d, hidden, hidden, dim},
                        .norm = TASSL_NORM_BATCH,
                        .last_norm = true,
                        .last_norm_affine = false};
    tassl_mlp_cfg qc = {.layers = 2, .dims = {dim, bottleneck, dim}, .norm = TASSL_NORM_BATCH};
    in->views = 2;
    char name[128];
    tassl_status st = tassl_mlp_new(
        env->params, tassl_ssl_name(name, sizeof name, prefix, "projector"), &pc, &s->proj);
    if (st == TASSL_OK)
        st = tassl_mlp_new(env->params, tassl_ssl_name(name, sizeof name, prefix, "predictor"), &qc,
                           &s->pred);
    return st;
}

static tassl_status simsiam_init(void *state) {
    simsiam *s = state;
    tassl_status st = tassl_module_init(tassl_mlp_module(s->proj));
    return st == TASSL_OK ? tassl_module_init(tassl_mlp_module(s->pred)) : st;
}

static tassl_tensor *simsiam_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    simsiam *s = state;
    int64_t n = b->n;
    tassl_tensor *z = ssl_two_view_project(s->env, s->proj, b, NULL); /* (2N, dim) */
    tassl_tensor *p = tassl_mlp_forward(s->pred, z, true);          /* (2N, dim) */
    tassl_tensor *z1, *z2, *p1, *p2;
    ssl_split_views(z, n, &z1, &z2);
    ssl_split_views(p, n, &p1, &p2);
    tassl_tensor *loss = tassl_loss_simsiam(p1, p2, z1, z2);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"simsiam", tassl_detach(loss)};
    out->embedding = tassl_detach(z1);
    return loss;
}

static void simsiam_destroy(void *state) {
    simsiam *s = state;
    tassl_mlp_free(s->proj);
    tassl_mlp_free(s->pred);
    free(s);
}

const tassl_ssl_method tassl_ssl_simsiam = {
    .name = "simsiam",
    .paradigm = "non-contrastive",
    .summary = "SimSiam: predictor + stop-gradient between two views (Chen & He 2021)",
    .keys = &section,
    .create = simsiam_create,
    .init = simsiam_init,
    .bind_state = NULL,
    .prepare = NULL,
    .loss = simsiam_loss,
    .after_step = NULL,
    .destroy = simsiam_destroy,
};
