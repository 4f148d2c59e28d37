/* rpl.c — relative patch location (Doersch, Gupta & Efros, ICCV 2015; 3D: Taleb et al., NeurIPS
 * 2020): a centre patch and one of its 8 (2D) / 26 (3D) neighbours are cut from the clean sample,
 * both go through the SHARED encoder (one batch of 2N patches), their embeddings are concatenated
 * (centre first) and a head classifies the neighbour's position (augment.h's label order:
 * offsets (od, oh, ow) ∈ {−1, 0, 1}³ \ {0} in row-major order).
 *
 * Defaults and why:
 *   - patch size: the largest p with 3p + 2·gap + 2·jitter ≤ the sample's smallest side
 *     (method.rpl.patch 0), so the 3×3(×3) arrangement fits; the paper uses 96-pixel patches;
 *   - gap half a patch (the paper: 48 pixels between 96-pixel patches) and a jitter of up to
 *     7 % of a patch per axis (the paper: up to 7 pixels), so that continuing edges and exact
 *     alignment are no shortcut;
 *   - each patch z-scored on its own (the paper's remedies against low-level cues were
 *     colour-specific — projection, channel dropping; per-patch normalisation is their grey-level
 *     counterpart: no mean-intensity shortcut);
 *   - head Linear–BN–ReLU–Linear over the 2·D pair (the paper's fc7–fc8 after the fusion), CE.
 * The ViT cannot take patches smaller than data.patch: refused with a message. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

static const tassl_cfg_key keys[] = {
    {"method.rpl.patch", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "patch side (0 = the largest that fits 3 patches + gaps + jitter in the sample)"},
    {"method.rpl.gap", TASSL_CFG_FLOAT, "0.5", "[0, 4]", NULL,
     "gap between neighbouring patches as a fraction of the patch (the paper: 48 / 96)"},
    {"method.rpl.jitter", TASSL_CFG_FLOAT, "0.07", "[0, 1]", NULL,
     "largest random shift per axis as a fraction of the patch (the paper: 7 / 96)"},
    {"method.rpl.patch_norm", TASSL_CFG_BOOL, "true", NULL, NULL,
     "z-score every patch on its own (no mean-intensity shortcut)"},
    {"method.rpl.head", TASSL_CFG_ENUM, "mlp", NULL, "mlp|linear",
     "classifier over the concatenated pair: Linear-BN-ReLU-Linear or linear"},
    {"method.rpl.hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "hidden width of the mlp head (0 = the encoder's embedding width)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "rpl"}};
static const tassl_cfg_section section = {
    .name = "rpl",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct rpl {
    const tassl_ssl_env *env;
    tassl_mlp *head;
    tassl_rpl_config rc;
    int classes;
    bool patch_norm;
} rpl;

static tassl_status rpl_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                               void **state) {
    rpl *r = calloc(1, sizeof *r);
    if (!r) return tassl_error(TASSL_ERR_NOMEM, "rpl: out of host memory");
    *state = r;
    r->env = env;
    const tassl_config *c = env->cfg;
    const double gf = tassl_config_float(c, "method.rpl.gap");
    const double jf = tassl_config_float(c, "method.rpl.jitter");
    const int64_t side = ssl_min_side(env);
    int64_t p = tassl_config_int(c, "method.rpl.patch");
#define RPL_NEED(q) (3 * (q) + 2 * (int64_t)(gf * (double)(q)) + 2 * (int64_t)(jf * (double)(q)))
    if (p == 0)
        for (int64_t q = side / 3; q >= 1 && p == 0; q--)
            if (RPL_NEED(q) <= side) p = q;
    if (p < 1 || RPL_NEED(p) > side)
        return tassl_error(TASSL_ERR_ARG,
                           "method.rpl.patch: %lld voxels per side with gap %g and jitter %g do "
                           "not fit 3 patches into the sample's %lld (data.patch)",
                           (long long)p, gf, jf, (long long)side);
#undef RPL_NEED
    r->rc.patch[0] = env->dims == 2 ? 1 : p;
    r->rc.patch[1] = r->rc.patch[2] = p;
    r->rc.gap = (int64_t)(gf * (double)p);
    r->rc.jitter = (int64_t)(jf * (double)p);
    r->classes = env->dims == 2 ? 8 : 26;
    r->patch_norm = tassl_config_bool(c, "method.rpl.patch_norm");
    tassl_status st = ssl_check_piece_size(env, "rpl", "patches", r->rc.patch);
    if (st != TASSL_OK) return st;
    ssl_custom_add(in, "pair", 2 * env->sample[0], r->rc.patch[0], p, p);
    ssl_custom_add(in, "label", 1, 1, 1, 1);
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    return ssl_head_new(env, prefix, "head", 2 * d, ssl_head_hidden(env, "rpl"), r->classes,
                        &r->head);
}

static tassl_status rpl_init(void *state) {
    rpl *r = state;
    return tassl_module_init(tassl_mlp_module(r->head));
}

static tassl_status rpl_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    rpl *r = state;
    tassl_image img = {0};
    int label = 0;
    tassl_status st =
        tassl_pretext_rpl(s->clean, &r->rc, s->seed, s->index, s->epoch, &img, &label, NULL, NULL);
    if (st == TASSL_OK) {
        const int c = s->clean->channels;
        const int64_t pv = r->rc.patch[0] * r->rc.patch[1] * r->rc.patch[2];
        if (r->patch_norm)
            for (int k = 0; k < 2; k++) {
                tassl_image view = {.channels = c,
                                    .d = r->rc.patch[0],
                                    .h = r->rc.patch[1],
                                    .w = r->rc.patch[2],
                                    .data = img.data + (int64_t)k * c * pv};
                ssl_image_zscore(&view); /* a view of one patch: not freed */
            }
        memcpy(out[0], img.data, sizeof(float) * (size_t)(2 * c * pv));
        out[1][0] = (float)label;
    }
    tassl_image_free(&img);
    return st;
}

static tassl_tensor *rpl_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    rpl *r = state;
    tassl_tensor *x = b->custom[0]; /* (N, 2·C, patch...) */
    int64_t shape[TASSL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = 2 * b->n;
    shape[1] = x->shape[1] / 2;
    x = tassl_reshape(x, x->ndim, shape); /* (2N, C, patch...): centre, neighbour, centre, ... */
    tassl_tensor *h = tassl_encoder_forward(r->env->encoder, x, true, NULL); /* (2N, D) */
    tassl_tensor *pair = tassl_reshape(h, TASSL_SHAPE(b->n, -1));            /* (N, 2D) */
    tassl_tensor *logits = tassl_mlp_forward(r->head, pair, true);           /* (N, 8 | 26) */
    tassl_tensor *loss = ssl_ce(logits, b->custom[1]);
    out->ncomponents = 2;
    out->comp[0] = (tassl_ssl_component){"ce", tassl_detach(loss)};
    out->comp[1] = (tassl_ssl_component){"acc", ssl_accuracy(logits, b->custom[1])};
    out->embedding = tassl_detach(h);
    return loss;
}

static void rpl_destroy(void *state) {
    rpl *r = state;
    tassl_mlp_free(r->head);
    free(r);
}

const tassl_ssl_method tassl_ssl_rpl = {
    .name = "rpl",
    .paradigm = "predictive",
    .summary = "relative patch location: classify a neighbour's position, 8-way 2D / 26-way 3D "
               "(Doersch et al. 2015; 3D: Taleb et al. 2020)",
    .keys = &section,
    .create = rpl_create,
    .init = rpl_init,
    .bind_state = NULL,
    .prepare = rpl_prepare,
    .loss = rpl_loss,
    .after_step = NULL,
    .destroy = rpl_destroy,
};
