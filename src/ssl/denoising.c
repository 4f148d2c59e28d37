/* denoising.c — denoising autoencoder (Vincent, Larochelle, Bengio & Manzagol, ICML 2008): the
 * clean sample plus Gaussian noise goes through the shared encoder and a U-Net decoder on its
 * feature maps (tassl_ssl_decoder), which must give back the clean sample.
 *
 * Defaults and why:
 *   - additive Gaussian noise, σ = method.denoising.noise_std × the sample's own standard
 *     deviation (0.2): relative, so the same value fits z-scored MRI, windowed CT in [0, 1] and
 *     raw phantoms (the paper corrupts by masking noise; additive Gaussian noise is the variant
 *     its follow-up, Vincent et al. JMLR 2010, uses for real-valued inputs);
 *   - loss MSE over every voxel (the squared-error reconstruction of real-valued inputs in
 *     both papers), or L1 (method.denoising.loss);
 *   - linear output (the targets are normalised intensities, not probabilities).
 * Preview: clean input, noisy input, reconstruction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.denoising.noise_std", TASSL_CFG_FLOAT, "0.2", "(0, 100]", NULL,
     "std of the additive Gaussian noise, relative to the sample's own std"},
    {"method.denoising.loss", TASSL_CFG_ENUM, "mse", NULL, "mse|l1",
     "reconstruction loss over every voxel"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "denoising"}};
static const tassl_cfg_section section = {
    .name = "denoising",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

/* a stream of our own, clear of the views (docs/SSL.md) and of the other methods' */
#define DENOISE_STREAM (TASSL_STREAM_USER + 64 + 1)

typedef struct denoising {
    const tassl_ssl_env *env;
    tassl_ssl_decoder *dec;
    float std;
    bool l1;
} denoising;

static tassl_status dn_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                              void **state) {
    denoising *d = calloc(1, sizeof *d);
    if (!d) return tassl_error(TASSL_ERR_NOMEM, "denoising: out of host memory");
    *state = d;
    d->env = env;
    d->std = (float)tassl_config_float(env->cfg, "method.denoising.noise_std");
    d->l1 = strcmp(tassl_config_str(env->cfg, "method.denoising.loss"), "l1") == 0;
    const int64_t *sm = env->sample;
    in->clean = true;
    ssl_custom_add(in, "input", sm[0], sm[1], sm[2], sm[3]);
    tassl_status st = tassl_ssl_decoder_new(env->encoder, env->params, prefix, (int)sm[0], &d->dec);
    return st == TASSL_OK ? st : ssl_wrap(st, "method denoising");
}

static tassl_status dn_init(void *state) {
    denoising *d = state;
    return tassl_ssl_decoder_init(d->dec);
}

static tassl_status dn_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    denoising *d = state;
    const tassl_image *im = s->clean;
    const int64_t n = im->channels * tassl_image_voxels(im);
    double sum = 0, ss = 0;
    for (int64_t i = 0; i < n; i++)
        sum += im->data[i], ss += (double)im->data[i] * im->data[i];
    double mean = sum / (double)n, var = ss / (double)n - mean * mean;
    float sigma = d->std * (float)sqrt(var > 1e-12 ? var : 1e-12);
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, s->seed, s->index, s->epoch, DENOISE_STREAM);
    for (int64_t i = 0; i < n; i++)
        out[0][i] = im->data[i] + sigma * tassl_aug_rng_normal(&r);
    return TASSL_OK;
}

static tassl_tensor *dn_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    denoising *d = state;
    tassl_tensor *emb;
    tassl_tensor *y = tassl_ssl_decoder_forward(d->dec, b->custom[0], true, &emb); /* (N, C, S) */
    tassl_tensor *loss =
        d->l1 ? tassl_loss_recon_l1(y, b->clean, NULL) : tassl_loss_recon_mse(y, b->clean, NULL);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){d->l1 ? "l1" : "mse", tassl_detach(loss)};
    ssl_set_preview(out, b->clean, b->custom[0], y, emb);
    return loss;
}

static void dn_destroy(void *state) {
    denoising *d = state;
    tassl_ssl_decoder_free(d->dec);
    free(d);
}

const tassl_ssl_method tassl_ssl_denoising = {
    .name = "denoising",
    .paradigm = "generative",
    .summary = "denoising autoencoder: reconstruct the clean sample from a noisy one (Vincent et "
               "al. 2008)",
    .keys = &section,
    .create = dn_create,
    .init = dn_init,
    .bind_state = NULL,
    .prepare = dn_prepare,
    .loss = dn_loss,
    .after_step = NULL,
    .destroy = dn_destroy,
};
