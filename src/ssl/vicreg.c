/* vicreg.c — VICReg (Bardes, Ponce & LeCun, ICLR 2022, "Variance-Invariance-Covariance
 * Regularization"): the expander outputs of two views are pulled together (invariance, MSE)
 * while each branch keeps the std of every dimension above 1 (variance hinge) and decorrelates
 * its dimensions (covariance): loss = λ·s(Z, Z′) + μ·[v(Z) + v(Z′)] + ν·[c(Z) + c(Z′)] (eq. 6,
 * tassl_loss_vicreg; the reference code averages the two variance terms, see ssl_loss.h).
 *
 * Defaults and where they come from:
 *   - λ = μ = 25, ν = 1, ε = 10⁻⁴ (paper §4.1 / Appendix C "λ = μ = 25 and ν = 1", ε in eq. 1;
 *     the official main_vicreg.py sim-coeff 25, std-coeff 25, cov-coeff 1);
 *   - expander: 3 linear layers, BN + ReLU after the first two, 8192 wide (§4.1, the official
 *     `--mlp 8192-8192-8192` on a ResNet-50 of width 2048) — 4 × the encoder width. Here 0 = that
 *     ratio; small runs set method.vicreg.proj_dim (the configs use 256–512);
 *   - both views through the network in one pass (a batch of 2N).
 * VICReg has no extra state.
 */
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.vicreg.sim_coeff", TASSL_CFG_FLOAT, "25", "[0, 1000]", NULL,
     "lambda: weight of the invariance (MSE) term (paper 25)"},
    {"method.vicreg.std_coeff", TASSL_CFG_FLOAT, "25", "[0, 1000]", NULL,
     "mu: weight of the variance hinge (paper 25)"},
    {"method.vicreg.cov_coeff", TASSL_CFG_FLOAT, "1", "[0, 1000]", NULL,
     "nu: weight of the covariance term (paper 1)"},
    {"method.vicreg.eps", TASSL_CFG_FLOAT, "0.0001", "(0, 1]", NULL,
     "epsilon inside the std's square root (paper 1e-4)"},
    {"method.vicreg.proj_dim", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "expander output width (0 = 4 x the encoder's width; paper 8192 for a ResNet-50)"},
    {"method.vicreg.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "expander hidden width (0 = method.vicreg.proj_dim)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "vicreg"}};
static const tassl_cfg_section section = {
    .name = "vicreg",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct vicreg {
    const tassl_ssl_env *env;
    tassl_mlp *proj;
    float lambda, mu, nu, eps;
} vicreg;

static tassl_status vicreg_create(const tassl_ssl_env *env, const char *prefix,
                                  tassl_ssl_inputs *in, void **state) {
    const tassl_config *c = env->cfg;
    vicreg *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "vicreg: out of host memory");
    *state = s;
    s->env = env;
    s->lambda = (float)tassl_config_float(c, "method.vicreg.sim_coeff");
    s->mu = (float)tassl_config_float(c, "method.vicreg.std_coeff");
    s->nu = (float)tassl_config_float(c, "method.vicreg.cov_coeff");
    s->eps = (float)tassl_config_float(c, "method.vicreg.eps");
    if (env->batch < 2)
        return tassl_error(TASSL_ERR_ARG,
                           "train.batch_size: VICReg's variance and covariance are batch "
                           "statistics; expected >= 2, got %lld",
                           (long long)env->batch);
    in->views = 2;
    return ssl_wide_projector_new(env, prefix, "vicreg", &s->proj);
}

static tassl_status vicreg_init(void *state) {
    vicreg *s = state;
    return tassl_module_init(tassl_mlp_module(s->proj));
}

static tassl_tensor *vicreg_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    vicreg *s = state;
    int64_t n = b->n;
    tassl_tensor *z = ssl_two_view_project(s->env, s->proj, b, NULL); /* (2N, dim) */
    tassl_tensor *z1, *z2;
    ssl_split_views(z, n, &z1, &z2);
    tassl_tensor *loss = tassl_loss_vicreg(z1, z2, s->lambda, s->mu, s->nu, s->eps);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"vicreg", tassl_detach(loss)};
    out->embedding = tassl_detach(z1);
    return loss;
}

static void vicreg_destroy(void *state) {
    vicreg *s = state;
    tassl_mlp_free(s->proj);
    free(s);
}

const tassl_ssl_method tassl_ssl_vicreg = {
    .name = "vicreg",
    .paradigm = "non-contrastive",
    .summary = "VICReg: invariance + variance + covariance terms between two views (Bardes et al. "
               "2022)",
    .keys = &section,
    .create = vicreg_create,
    .init = vicreg_init,
    .bind_state = NULL,
    .prepare = NULL,
    .loss = vicreg_loss,
    .after_step = NULL,
    .destroy = vicreg_destroy,
};
