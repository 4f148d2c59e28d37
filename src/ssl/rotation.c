/* rotation.c — rotation prediction (Gidaris, Singh & Komodakis, ICLR 2018): the clean sample is
 * turned by one of K rotations, the shared encoder embeds it and a head classifies which one.
 *
 * Classes (augment.h's tassl_pretext_rotate):
 *   - 2D: 4, k·90° in the H–W plane (the paper);
 *   - 3D: 10 by default — identity and 90°/180°/270° about each of the D, H, W axes (Taleb et al.,
 *     NeurIPS 2020, "3D self-supervised methods for medical imaging"); or 4, k·90° about the D
 *     axis (SwinUNETR's rotation pretext, Tang et al. 2022). 90° turns need equal extents.
 * Defaults and why:
 *   - one rotation per sample drawn from the sample's stream; method.rotation.all = true feeds
 *     all K rotations of every sample in the same batch instead (what the paper found better than
 * one random rotation per image: all four rotated copies in each mini-batch), at K times the
 *     compute;
 *   - head: Linear–BN–ReLU–Linear over the pooled embedding (the paper puts its classifier on
 *     conv features; a 2-layer head on the pooled embedding keeps the encoder interface), or a
 *     single linear layer (head: linear); cross-entropy loss. The arg-max accuracy on the batch
 *     is logged as `acc`. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

static const tassl_cfg_key keys[] = {
    {"method.rotation.classes", TASSL_CFG_INT, "0", NULL, "0|4|10",
     "rotation classes: 0 = 4 in 2D (Gidaris et al.) and 10 in 3D (Taleb et al.); 4 in 3D = "
     "turns about the D axis"},
    {"method.rotation.all", TASSL_CFG_BOOL, "false", NULL, NULL,
     "all K rotations of every sample in one batch (Gidaris et al.'s best setting; K x compute)"},
    {"method.rotation.head", TASSL_CFG_ENUM, "mlp", NULL, "mlp|linear",
     "classifier over the embedding: Linear-BN-ReLU-Linear or one linear layer"},
    {"method.rotation.hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "hidden width of the mlp head (0 = the encoder's embedding width)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "rotation"}};
static const tassl_cfg_section section = {
    .name = "rotation",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct rotation {
    const tassl_ssl_env *env;
    tassl_mlp *head;
    int classes;
    bool all;
} rotation;

static tassl_status rot_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                               void **state) {
    rotation *r = calloc(1, sizeof *r);
    if (!r) return tassl_error(TASSL_ERR_NOMEM, "rotation: out of host memory");
    *state = r;
    r->env = env;
    const int64_t *sm = env->sample; /* (C, D, H, W) */
    int k = (int)tassl_config_int(env->cfg, "method.rotation.classes");
    r->classes = k ? k : (env->dims == 2 ? 4 : 10);
    r->all = tassl_config_bool(env->cfg, "method.rotation.all");
    if (env->dims == 2 && r->classes != 4)
        return tassl_error(TASSL_ERR_ARG,
                           "method.rotation.classes: %d in 2D (expected 4, or 0 for the "
                           "default)",
                           r->classes);
    if (sm[2] != sm[3] || (r->classes == 10 && sm[1] != sm[2]))
        return tassl_error(TASSL_ERR_ARG,
                           "data.patch: rotation with %d classes turns by 90 degrees and needs "
                           "equal %s, got %lld x %lld x %lld",
                           r->classes, r->classes == 10 ? "D, H and W" : "H and W",
                           (long long)sm[1], (long long)sm[2], (long long)sm[3]);
    int64_t c = sm[0] * (r->all ? r->classes : 1);
    ssl_custom_add(in, "input", c, sm[1], sm[2], sm[3]);
    if (!r->all) ssl_custom_add(in, "label", 1, 1, 1, 1);
    return ssl_head_new(env, prefix, "head", tassl_encoder_embed_dim(env->encoder),
                        ssl_head_hidden(env, "rotation"), r->classes, &r->head);
}

static tassl_status rot_init(void *state) {
    rotation *r = state;
    return tassl_module_init(tassl_mlp_module(r->head));
}

static tassl_status rot_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    rotation *r = state;
    const size_t n = (size_t)(s->clean->channels * tassl_image_voxels(s->clean));
    tassl_image img = {0};
    tassl_status st = TASSL_OK;
    if (r->all) {
        for (int k = 0; k < r->classes && st == TASSL_OK; k++)
            if ((st = tassl_pretext_rotate(s->clean, r->classes, k, &img)) == TASSL_OK)
                memcpy(out[0] + (size_t)k * n, img.data, n * sizeof(float));
    } else {
        int cls = 0;
        st = tassl_pretext_rotation(s->clean, r->classes, s->seed, s->index, s->epoch, &img, &cls);
        if (st == TASSL_OK) {
            memcpy(out[0], img.data, n * sizeof(float));
            out[1][0] = (float)cls;
        }
    }
    tassl_image_free(&img);
    return st;
}

static tassl_tensor *rot_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    rotation *r = state;
    tassl_tensor *x = b->custom[0], *labels; /* (N, [K·]C, S...) */
    if (r->all) {
        const int64_t m = b->n * r->classes;
        int64_t shape[TASSL_MAX_DIMS];
        memcpy(shape, x->shape, sizeof shape);
        shape[0] = m;
        shape[1] = x->shape[1] / r->classes;
        x = tassl_reshape(x, x->ndim, shape); /* (N·K, C, S...) */
        float *lab = malloc(sizeof(float) * (size_t)m);
        if (!lab) {
            tassl_ctx_fail(r->env->ctx, tassl_error(TASSL_ERR_NOMEM, "rotation: out of memory"));
            return NULL;
        }
        for (int64_t i = 0; i < m; i++)
            lab[i] = (float)(i % r->classes);
        labels = tassl_from_host(r->env->ctx, TASSL_SHAPE(m), lab);
        free(lab);
    } else {
        labels = b->custom[1]; /* (N) */
    }
    tassl_tensor *h = tassl_encoder_forward(r->env->encoder, x, true, NULL); /* (M, D) */
    tassl_tensor *logits = tassl_mlp_forward(r->head, h, true);              /* (M, K) */
    tassl_tensor *loss = ssl_ce(logits, labels);
    out->ncomponents = 2;
    out->comp[0] = (tassl_ssl_component){"ce", tassl_detach(loss)};
    out->comp[1] = (tassl_ssl_component){"acc", ssl_accuracy(logits, labels)};
    out->embedding = tassl_detach(h);
    return loss;
}

static void rot_destroy(void *state) {
    rotation *r = state;
    tassl_mlp_free(r->head);
    free(r);
}

const tassl_ssl_method tassl_ssl_rotation = {
    .name = "rotation",
    .paradigm = "predictive",
    .summary = "rotation prediction: classify the turn applied to the sample (Gidaris et al. "
               "2018; 3D: Taleb et al. 2020)",
    .keys = &section,
    .create = rot_create,
    .init = rot_init,
    .bind_state = NULL,
    .prepare = rot_prepare,
    .loss = rot_loss,
    .after_step = NULL,
    .destroy = rot_destroy,
};
