/* simclr.c — SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020): two augmented views of each
 * sample through the shared encoder and a projector MLP, NT-Xent over the 2N projections.
 *
 * Defaults and why:
 *   - projector: 2 layers, encoder dim → hidden (= encoder dim) → 128, ReLU between (paper §B.1
 *     / Fig. 8: "a MLP with one hidden layer", output 128); batch norm after the hidden linear as
 *     SimCLR v2 and lightly's SimCLRProjectionHead do (method.simclr.proj_norm none = v1);
 *   - τ = 0.5: the default of lightly's NTXentLoss and MONAI's ContrastiveLoss, and the value the
 *     paper's CIFAR-10 experiments (small batches, Appendix B.9) found best; the ImageNet setting
 *     τ = 0.1 needs batches of thousands. Set method.simclr.temperature to change it.
 * Both views go through the encoder in ONE forward pass (a batch of 2N), so batch norm sees the
 * statistics of both views as a "global BN" over the step's samples would.
 */
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.simclr.temperature", TASSL_CFG_FLOAT, "0.5", "(0, 10]", NULL,
     "NT-Xent temperature tau (0.5: lightly / MONAI default for small batches; 0.1 ImageNet)"},
    {"method.simclr.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projector hidden width (0 = the encoder's embedding width)"},
    {"method.simclr.proj_dim", TASSL_CFG_INT, "128", "[1, 65536]", NULL, "projector output width"},
    {"method.simclr.proj_norm", TASSL_CFG_ENUM, "batch", NULL, "batch|none",
     "norm after the projector's hidden linear: batch (SimCLR v2, lightly) or none (v1)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "simclr"}};
static const tassl_cfg_section section = {
    .name = "simclr",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct simclr {
    const tassl_ssl_env *env;
    tassl_mlp *proj;
    float tau;
} simclr;

static tassl_status simclr_create(const tassl_ssl_env *env, const char *prefix,
                                  tassl_ssl_inputs *in, void **state) {
    const tassl_config *c = env->cfg;
    simclr *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "simclr: out of host memory");
    *state = s;
    s->env = env;
    s->tau = (float)tassl_config_float(c, "method.simclr.temperature");
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    int64_t hidden = tassl_config_int(c, "method.simclr.proj_hidden");
    tassl_mlp_cfg mc = {0};
    mc.layers = 2;
    mc.dims[0] = d;
    mc.dims[1] = hidden ? hidden : d;
    mc.dims[2] = tassl_config_int(c, "method.simclr.proj_dim");
    mc.norm = strcmp(tassl_config_str(c, "method.simclr.proj_norm"), "none") == 0
                  ? TASSL_NORM_NONE
                  : TASSL_NORM_BATCH;
    char name[128];
    in->views = 2;
    return tassl_mlp_new(env->params, tassl_ssl_name(name, sizeof name, prefix, "projector"), &mc,
                         &s->proj);
}

static tassl_status simclr_init(void *state) {
    simclr *s = state;
    return tassl_module_init(tassl_mlp_module(s->proj));
}

static tassl_tensor *simclr_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    simclr *s = state;
    tassl_tensor *z = ssl_two_view_project(s->env, s->proj, b, NULL); /* (2N, 128) */
    tassl_tensor *z1, *z2;
    ssl_split_views(z, b->n, &z1, &z2);
    tassl_tensor *loss = tassl_loss_nt_xent(z1, z2, s->tau);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"nt_xent", tassl_detach(loss)};
    out->embedding = tassl_detach(z1);
    return loss;
}

static void simclr_destroy(void *state) {
    simclr *s = state;
    tassl_mlp_free(s->proj);
    free(s);
}

const tassl_ssl_method tassl_ssl_simclr = {
    .name = "simclr",
    .paradigm = "contrastive",
    .summary = "SimCLR: NT-Xent between two augmented views (Chen et al. 2020)",
    .keys = &section,
    .create = simclr_create,
    .init = simclr_init,
    .bind_state = NULL,
    .prepare = NULL,
    .loss = simclr_loss,
    .after_step = NULL,
    .destroy = simclr_destroy,
};
