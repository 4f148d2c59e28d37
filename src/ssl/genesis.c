/* genesis.c — Models Genesis (Zhou et al., MICCAI 2019; MedIA 2021): the sample is corrupted by
 * augment.h's Genesis transforms — non-linear Bézier intensity remap, local pixel shuffling,
 * in- or out-painting — after a random flip applied to input and target alike, and the shared
 * encoder with a U-Net decoder on its feature maps restores the (flipped) original.
 *
 * Defaults and why:
 *   - the transforms and their probabilities are the original ModelsGenesis code's (flip .4,
 *     shuffle .5, non-linear .9, paint .9 of which in-painting .2 / out-painting .8); change them
 *     with method.genesis.set: ["field=value", ...] over augment.h's Genesis field table;
 *   - the transforms expect intensities in [0, 1] (the paper windows CT to [−1000, 1000] HU and
 *     scales to [0, 1]): the clean sample is min–max scaled to [0, 1] per sample first
 *     (method.genesis.rescale; turn it off when the preset already gives [0, 1], e.g. ct);
 *   - a sigmoid on the decoder's output (the reference network ends in one) and MSE between the
 *     restoration and the original (the paper's loss; method.genesis.output linear for
 *     targets outside [0, 1]).
 * Preview: original (flipped target), transformed input, restoration. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.genesis.set", TASSL_CFG_STRING_LIST, "[]", NULL, NULL,
     "Genesis transform fields as \"field=value\" over the ModelsGenesis defaults (flip_p, "
     "shuffle_p, shuffle_blocks, shuffle_max_frac, nonlinear_p, nonlinear_flip_p, paint_p, "
     "inpaint_p)"},
    {"method.genesis.rescale", TASSL_CFG_BOOL, "true", NULL, NULL,
     "min-max scale every sample to [0, 1] before the transforms (they expect [0, 1])"},
    {"method.genesis.output", TASSL_CFG_ENUM, "sigmoid", NULL, "sigmoid|linear",
     "decoder output activation (the reference network: sigmoid)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "genesis"}};
static const tassl_cfg_section section = {
    .name = "genesis",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct genesis {
    const tassl_ssl_env *env;
    tassl_ssl_decoder *dec;
    tassl_genesis_config gc;
    bool rescale, sigmoid;
} genesis;

static tassl_status set_field(void *obj, const char *field, const char *value) {
    return tassl_genesis_config_set(obj, field, value);
}

static tassl_status gen_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                               void **state) {
    genesis *g = calloc(1, sizeof *g);
    if (!g) return tassl_error(TASSL_ERR_NOMEM, "genesis: out of host memory");
    *state = g;
    g->env = env;
    tassl_genesis_config_default(&g->gc);
    tassl_status st = ssl_apply_set(env->cfg, "method.genesis.set", set_field, &g->gc);
    if (st != TASSL_OK) return st;
    g->rescale = tassl_config_bool(env->cfg, "method.genesis.rescale");
    g->sigmoid = strcmp(tassl_config_str(env->cfg, "method.genesis.output"), "sigmoid") == 0;
    const int64_t *sm = env->sample;
    ssl_custom_add(in, "input", sm[0], sm[1], sm[2], sm[3]);
    ssl_custom_add(in, "target", sm[0], sm[1], sm[2], sm[3]);
    st = tassl_ssl_decoder_new(env->encoder, env->params, prefix, (int)sm[0], &g->dec);
    return st == TASSL_OK ? st : ssl_wrap(st, "method genesis");
}

static tassl_status gen_init(void *state) {
    genesis *g = state;
    return tassl_ssl_decoder_init(g->dec);
}

static tassl_status gen_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    genesis *g = state;
    tassl_image src = {0}, input = {0}, target = {0};
    tassl_status st = ssl_image_copy(s->clean, &src);
    if (st != TASSL_OK) return st;
    if (g->rescale) ssl_image_minmax(&src);
    st = tassl_genesis_apply(&g->gc, &src, &input, &target, s->seed, s->index, s->epoch);
    if (st == TASSL_OK) {
        const size_t n = (size_t)(src.channels * tassl_image_voxels(&src)) * sizeof(float);
        memcpy(out[0], input.data, n);
        memcpy(out[1], target.data, n);
    }
    tassl_image_free(&src);
    tassl_image_free(&input);
    tassl_image_free(&target);
    return st;
}

static tassl_tensor *gen_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    genesis *g = state;
    tassl_tensor *emb;
    tassl_tensor *y = tassl_ssl_decoder_forward(g->dec, b->custom[0], true, &emb); /* (N, C, S) */
    if (g->sigmoid) y = tassl_sigmoid(y);
    tassl_tensor *loss = tassl_loss_recon_mse(y, b->custom[1], NULL);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"mse", tassl_detach(loss)};
    ssl_set_preview(out, b->custom[1], b->custom[0], y, emb);
    return loss;
}

static void gen_destroy(void *state) {
    genesis *g = state;
    tassl_ssl_decoder_free(g->dec);
    free(g);
}

const tassl_ssl_method tassl_ssl_genesis = {
    .name = "genesis",
    .paradigm = "generative",
    .summary = "Models Genesis: restore the sample from non-linear intensity, local shuffling, "
               "in/out-painting and flips (Zhou et al. 2019)",
    .keys = &section,
    .create = gen_create,
    .init = gen_init,
    .bind_state = NULL,
    .prepare = gen_prepare,
    .loss = gen_loss,
    .after_step = NULL,
    .destroy = gen_destroy,
};
