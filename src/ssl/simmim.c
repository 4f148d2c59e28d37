/* simmim.c — masked image modelling on CNNs in the manner of SimMIM (Xie et al., CVPR 2022): a
 * random patch grid of the clean sample is masked, masked voxels are replaced by zero or a
 * learnable mask token, the shared encoder and a U-Net decoder on its feature maps predict the
 * voxels, and the loss is L1 on the masked voxels only.
 *
 * Defaults and why:
 *   - mask ratio 0.6 and uniformly random mask patches (the paper's defaults, its Table 1:
 *     random masking, ratio 0.6, 32-pixel patches on 192-pixel inputs); the patch side here is
 *     1/8 of the sample's side (method.simmim.patch 0; 1/6 in the paper) so that a small sample
 *     still has a grid of patches;
 *   - a learnable mask token (the paper's, there a vector in the patch-embedding space; on a CNN
 *     it is one learnable value per input channel written into the masked voxels, initialised
 *     truncated-normal std 0.02 as the paper's), or zeros (method.simmim.token zero);
 *   - L1 on the masked voxels, averaged over them and the channels (the paper's loss: (|x − y|·m)
 *     summed / (Σm · C)). The paper's one-layer prediction head is a linear map of the last
 *     stage; with a CNN encoder here the framework's U-Net decoder predicts the voxels (the
 *     skips carry only the masked input, so the masked content is not visible to it).
 * Preview: clean input, masked input, prediction. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/nn.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.simmim.ratio", TASSL_CFG_FLOAT, "0.6", "(0, 1)", NULL,
     "fraction of mask patches masked (the paper: 0.6)"},
    {"method.simmim.patch", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "mask patch side in voxels (0 = 1/8 of the sample's side; the paper: 32 of 192)"},
    {"method.simmim.token", TASSL_CFG_ENUM, "learned", NULL, "learned|zero",
     "masked voxels: a learnable value per channel (the paper's mask token) or 0"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "simmim"}};
static const tassl_cfg_section section = {
    .name = "simmim",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

#define SIMMIM_SEED_MIX 0x5133a1b2c3d4e5f7ULL /* masks independent of other mask users' */

typedef struct simmim {
    const tassl_ssl_env *env;
    tassl_ssl_decoder *dec;
    tassl_module *tok_m; /* NULL with token zero */
    tassl_tensor *token; /* (1, C, 1, 1[, 1]) */
    tassl_mask_config mc;
} simmim;

static tassl_status sm_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                              void **state) {
    simmim *m = calloc(1, sizeof *m);
    if (!m) return tassl_error(TASSL_ERR_NOMEM, "simmim: out of host memory");
    *state = m;
    m->env = env;
    const tassl_config *c = env->cfg;
    const int64_t *sm = env->sample;
    tassl_mask_config_default(&m->mc);
    m->mc.mode = TASSL_MASK_PATCH;
    m->mc.ratio = (float)tassl_config_float(c, "method.simmim.ratio");
    int64_t p = tassl_config_int(c, "method.simmim.patch");
    if (p == 0) p = ssl_min_side(env) / 8 > 0 ? ssl_min_side(env) / 8 : 1;
    m->mc.patch[0] = env->dims == 2 ? 1 : p;
    m->mc.patch[1] = m->mc.patch[2] = p;
    if (strcmp(tassl_config_str(c, "method.simmim.token"), "learned") == 0) {
        char name[128];
        if (!(m->tok_m = tassl_module_new(env->params, NULL)))
            return tassl_error(TASSL_ERR_NOMEM, "simmim: out of host memory");
        int64_t shape[5] = {1, sm[0], 1, 1, 1};
        tassl_module_param(m->tok_m, &m->token,
                           tassl_ssl_name(name, sizeof name, prefix, "mask_token"), env->dims + 2,
                           shape, (tassl_init){.kind = TASSL_INIT_TRUNC_NORMAL, .a = 0.02});
    }
    in->clean = true;
    ssl_custom_add(in, "mask", 1, sm[1], sm[2], sm[3]);
    tassl_status st = tassl_ssl_decoder_new(env->encoder, env->params, prefix, (int)sm[0], &m->dec);
    return st == TASSL_OK ? st : ssl_wrap(st, "method simmim");
}

static tassl_status sm_init(void *state) {
    simmim *m = state;
    tassl_status st = m->tok_m ? tassl_module_init(m->tok_m) : TASSL_OK;
    return st == TASSL_OK ? tassl_ssl_decoder_init(m->dec) : st;
}

static tassl_status sm_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    simmim *m = state;
    const tassl_image *im = s->clean;
    tassl_image mask = {0};
    tassl_status st = tassl_mask_generate(&m->mc, im->d, im->h, im->w, s->seed ^ SIMMIM_SEED_MIX,
                                          s->index, s->epoch, &mask, NULL, NULL);
    if (st == TASSL_OK) memcpy(out[0], mask.data, sizeof(float) * (size_t)tassl_image_voxels(im));
    tassl_image_free(&mask);
    return st;
}

static tassl_tensor *sm_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    simmim *m = state;
    tassl_tensor *mask = b->custom[0];                            /* (N, 1, S) */
    tassl_tensor *keep = tassl_add_scalar(tassl_neg(mask), 1.0f); /* (N, 1, S) */
    tassl_tensor *x = tassl_mul(b->clean, keep);                  /* (N, C, S) */
    if (m->token) x = tassl_add(x, tassl_mul(mask, m->token));    /* token in masked voxels */
    tassl_tensor *emb;
    tassl_tensor *y = tassl_ssl_decoder_forward(m->dec, x, true, &emb); /* (N, C, S) */
    tassl_tensor *loss = tassl_loss_recon_l1(y, b->clean, mask);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"l1", tassl_detach(loss)};
    ssl_set_preview(out, b->clean, x, y, emb);
    return loss;
}

static void sm_destroy(void *state) {
    simmim *m = state;
    tassl_ssl_decoder_free(m->dec);
    if (m->tok_m) tassl_module_free(m->tok_m);
    free(m);
}

const tassl_ssl_method tassl_ssl_simmim = {
    .name = "simmim",
    .paradigm = "generative",
    .summary = "masked image modelling on CNNs, SimMIM-style: L1 on randomly masked patches (Xie "
               "et al. 2022)",
    .keys = &section,
    .create = sm_create,
    .init = sm_init,
    .bind_state = NULL,
    .prepare = sm_prepare,
    .loss = sm_loss,
    .after_step = NULL,
    .destroy = sm_destroy,
};
