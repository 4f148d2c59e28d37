/* inpainting.c — in-painting / context encoder (Pathak, Krähenbühl, Donahue, Darrell & Efros,
 * CVPR 2016): regions of the clean sample are blanked out, the shared encoder and a U-Net decoder
 * on its feature maps reconstruct the sample, and the loss counts the blanked region only.
 *
 * Defaults and why:
 *   - masks (method.inpainting.mask): `blocks` — random rectangular / cuboid blocks (augment.h's
 *     block-wise masking on a grid of sample/8 cells) covering 1/4 of the sample (the paper's
 *     random-block masks, which with its random regions cover up to 1/4 of the image: a fixed
 *     central region lets the network latch onto the region's boundary, the paper reports);
 * `center` — the central block of half each side (the paper's central region: 64×64 of 128×128);
 *   - the blanked voxels take the sample's mean (the paper fills them with the mean pixel
 *     value), or zero, or uniform noise in the sample's range (method.inpainting.fill);
 *   - loss L2 on the masked region (the paper's reconstruction loss; its adversarial term,
 *     which needs a discriminator, is left out), or L1 (method.inpainting.loss).
 * The U-Net's skip connections see the blanked input, so the decoder has no access to the
 * content it must fill in. Preview: clean input, masked input, reconstruction. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.inpainting.mask", TASSL_CFG_ENUM, "blocks", NULL, "blocks|center",
     "random blocks covering `ratio` of the sample, or the central block of half each side"},
    {"method.inpainting.ratio", TASSL_CFG_FLOAT, "0.25", "(0, 0.9]", NULL,
     "blocks: fraction of the sample masked (the paper: up to 1/4)"},
    {"method.inpainting.fill", TASSL_CFG_ENUM, "mean", NULL, "mean|zero|noise",
     "value of masked voxels: the sample's mean (the paper), 0, or uniform noise in its range"},
    {"method.inpainting.loss", TASSL_CFG_ENUM, "l2", NULL, "l2|l1",
     "reconstruction loss on the masked region"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "inpainting"}};
static const tassl_cfg_section section = {
    .name = "inpainting",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

#define INPAINT_SEED_MIX 0x1a9a1b7c0ffee001ULL /* masks independent of other mask users' */
#define INPAINT_STREAM (TASSL_STREAM_USER + 64 + 2)

typedef enum { FILL_MEAN, FILL_ZERO, FILL_NOISE } fill_kind;

typedef struct inpainting {
    const tassl_ssl_env *env;
    tassl_ssl_decoder *dec;
    bool center, l1;
    fill_kind fill;
    tassl_mask_config mc;
} inpainting;

static tassl_status ip_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                              void **state) {
    inpainting *p = calloc(1, sizeof *p);
    if (!p) return tassl_error(TASSL_ERR_NOMEM, "inpainting: out of host memory");
    *state = p;
    p->env = env;
    const tassl_config *c = env->cfg;
    p->center = strcmp(tassl_config_str(c, "method.inpainting.mask"), "center") == 0;
    p->l1 = strcmp(tassl_config_str(c, "method.inpainting.loss"), "l1") == 0;
    const char *f = tassl_config_str(c, "method.inpainting.fill");
    p->fill = strcmp(f, "zero") == 0 ? FILL_ZERO : strcmp(f, "noise") == 0 ? FILL_NOISE : FILL_MEAN;
    tassl_mask_config_default(&p->mc);
    p->mc.mode = TASSL_MASK_BLOCK;
    p->mc.ratio = (float)tassl_config_float(c, "method.inpainting.ratio");
    p->mc.block_min = 4; /* blocks of at least 4 cells: several blocks per sample */
    const int64_t *sm = env->sample;
    for (int a = 0; a < 3; a++) {
        int64_t cell = sm[1 + a] / 8;
        p->mc.patch[a] = cell < 1 ? 1 : cell;
    }
    if (env->dims == 2) p->mc.patch[0] = 1;
    in->clean = true;
    ssl_custom_add(in, "input", sm[0], sm[1], sm[2], sm[3]);
    ssl_custom_add(in, "mask", 1, sm[1], sm[2], sm[3]);
    tassl_status st = tassl_ssl_decoder_new(env->encoder, env->params, prefix, (int)sm[0], &p->dec);
    return st == TASSL_OK ? st : ssl_wrap(st, "method inpainting");
}

static tassl_status ip_init(void *state) {
    inpainting *p = state;
    return tassl_ssl_decoder_init(p->dec);
}

static tassl_status ip_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    inpainting *p = state;
    const tassl_image *im = s->clean;
    const int64_t nv = tassl_image_voxels(im), d = im->d, h = im->h, w = im->w;
    float *mask = out[1];
    if (p->center) {
        const int64_t lo[3] = {d == 1 ? 0 : d / 4, h / 4, w / 4};
        const int64_t hi[3] = {d == 1 ? 1 : lo[0] + (d + 1) / 2, lo[1] + (h + 1) / 2,
                               lo[2] + (w + 1) / 2};
        for (int64_t z = 0; z < d; z++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++)
                    mask[(z * h + y) * w + x] = z >= lo[0] && z < hi[0] && y >= lo[1] &&
                                                y < hi[1] && x >= lo[2] && x < hi[2];
    } else {
        tassl_image m = {0};
        tassl_status st = tassl_mask_generate(&p->mc, d, h, w, s->seed ^ INPAINT_SEED_MIX, s->index,
                                              s->epoch, &m, NULL, NULL);
        if (st != TASSL_OK) return st;
        memcpy(mask, m.data, sizeof(float) * (size_t)nv);
        tassl_image_free(&m);
    }
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, s->seed, s->index, s->epoch, INPAINT_STREAM);
    for (int c = 0; c < im->channels; c++) {
        const float *x = im->data + c * nv;
        float *y = out[0] + c * nv;
        double sum = 0;
        float lo = x[0], hi = x[0];
        for (int64_t i = 0; i < nv; i++) {
            sum += x[i];
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        const float mean = (float)(sum / (double)nv);
        for (int64_t i = 0; i < nv; i++) {
            if (mask[i] == 0.0f) {
                y[i] = x[i];
                continue;
            }
            y[i] = p->fill == FILL_ZERO   ? 0.0f
                   : p->fill == FILL_MEAN ? mean
                                          : tassl_aug_rng_range(&r, lo, hi > lo ? hi : lo + 1);
        }
    }
    return TASSL_OK;
}

static tassl_tensor *ip_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    inpainting *p = state;
    tassl_tensor *emb;
    tassl_tensor *y = tassl_ssl_decoder_forward(p->dec, b->custom[0], true, &emb); /* (N, C, S) */
    tassl_tensor *mask = b->custom[1];                                             /* (N, 1, S) */
    tassl_tensor *loss =
        p->l1 ? tassl_loss_recon_l1(y, b->clean, mask) : tassl_loss_recon_mse(y, b->clean, mask);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){p->l1 ? "l1" : "l2", tassl_detach(loss)};
    ssl_set_preview(out, b->clean, b->custom[0], y, emb);
    return loss;
}

static void ip_destroy(void *state) {
    inpainting *p = state;
    tassl_ssl_decoder_free(p->dec);
    free(p);
}

const tassl_ssl_method tassl_ssl_inpainting = {
    .name = "inpainting",
    .paradigm = "generative",
    .summary = "in-painting / context encoder: reconstruct blanked regions (Pathak et al. 2016)",
    .keys = &section,
    .create = ip_create,
    .init = ip_init,
    .bind_state = NULL,
    .prepare = ip_prepare,
    .loss = ip_loss,
    .after_step = NULL,
    .destroy = ip_destroy,
};
