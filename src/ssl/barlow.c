/* barlow.c — Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021): the cross-correlation
 * matrix C of the batch-standardised projections of two views is pushed towards the identity:
 * loss = Σᵢ(1 − Cᵢᵢ)² + λ·Σᵢ≠ⱼ Cᵢⱼ² (eq. 1–2, tassl_loss_barlow). No negatives, no predictor, no
 * stop-gradient, no momentum network: redundancy reduction prevents collapse.
 *
 * Defaults and where they come from:
 *   - λ = 5·10⁻³ (paper §2 and Fig. 4; the official code's default is 0.0051);
 *   - projector: 3 linear layers, BN + ReLU after the first two, 8192 wide in the paper
 *     (§2 "Implementation details", ResNet-50 width 2048) — 4 × the encoder width. Here 0 = that
 *     4× ratio; small runs set method.barlow.proj_dim (the configs use 256–512). The paper's
 *     Fig. 5 shows the method keeps improving with width, so scale it down knowingly. The
 *     output linear has a bias here (the official one has none): the loss standardises every
 *     dimension over the batch, so a constant shift cancels and the bias gets no gradient;
 *   - both views through the network in one pass (a batch of 2N); the loss's own batch
 *     standardisation is per view, as the official code's affine-free BatchNorm1d.
 * Barlow Twins has no extra state.
 */
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.barlow.lambda", TASSL_CFG_FLOAT, "0.005", "[0, 100]", NULL,
     "weight of the off-diagonal (redundancy) term (paper 5e-3)"},
    {"method.barlow.proj_dim", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projection width (0 = 4 x the encoder's width; paper 8192 for a ResNet-50)"},
    {"method.barlow.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projector hidden width (0 = method.barlow.proj_dim)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "barlow"}};
static const tassl_cfg_section section = {
    .name = "barlow",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct barlow {
    const tassl_ssl_env *env;
    tassl_mlp *proj;
    float lambda;
} barlow;

static tassl_status barlow_create(const tassl_ssl_env *env, const char *prefix,
                                  tassl_ssl_inputs *in, void **state) {
    const tassl_config *c = env->cfg;
    barlow *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "barlow: out of host memory");
    *state = s;
    s->env = env;
    s->lambda = (float)tassl_config_float(c, "method.barlow.lambda");
    if (env->batch < 2)
        return tassl_error(TASSL_ERR_ARG,
                           "train.batch_size: Barlow Twins standardises over the batch; "
                           "expected >= 2, got %lld",
                           (long long)env->batch);
    in->views = 2;
    return ssl_wide_projector_new(env, prefix, "barlow", &s->proj);
}

static tassl_status barlow_init(void *state) {
    barlow *s = state;
    return tassl_module_init(tassl_mlp_module(s->proj));
}

static tassl_tensor *barlow_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    barlow *s = state;
    int64_t n = b->n;
    tassl_tensor *z = ssl_two_view_project(s->env, s->proj, b, NULL); /* (2N, dim) */
    tassl_tensor *z1, *z2;
    ssl_split_views(z, n, &z1, &z2);
    tassl_tensor *loss = tassl_loss_barlow(z1, z2, s->lambda);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"barlow", tassl_detach(loss)};
    out->embedding = tassl_detach(z1);
    return loss;
}

static void barlow_destroy(void *state) {
    barlow *s = state;
    tassl_mlp_free(s->proj);
    free(s);
}

const tassl_ssl_method tassl_ssl_barlow = {
    .name = "barlow",
    .paradigm = "non-contrastive",
    .summary = "Barlow Twins: cross-correlation of two views towards the identity (Zbontar et al. "
               "2021)",
    .keys = &section,
    .create = barlow_create,
    .init = barlow_init,
    .bind_state = NULL,
    .prepare = NULL,
    .loss = barlow_loss,
    .after_step = NULL,
    .destroy = barlow_destroy,
};
