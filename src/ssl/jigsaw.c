/* jigsaw.c — jigsaw puzzles (Noroozi & Favaro, ECCV 2016; 3D: Taleb et al., NeurIPS 2020): the
 * clean sample is cut into a 3×3 (2D) or 2×2×2 (3D) grid, one tile is taken from each cell, the
 * tiles are shuffled by one permutation of a fixed set, each tile goes through the SHARED encoder
 * (siamese: one batch of N·T tiles), the T embeddings are concatenated in the shuffled order and
 * a head classifies which permutation of the set was used.
 *
 * Defaults and why:
 *   - the permutation set: augment.h's greedy maximal-minimum-Hamming selection (the paper's
 *     Algorithm 1), seeded by the run's seed; 100 permutations (the paper's final model uses 1000
 *     and its Table 3 compares 100 to 1000: more classes make a harder task. 100 keeps the
 *     head and the greedy search small; method.jigsaw.permutations 1000 reproduces the paper);
 *   - a gap between tiles so that edges do not line up (the paper: 64-pixel tiles in 75-pixel
 *     cells, i.e. ~15 % of a cell left out) and a random position of the tile inside its cell
 *     (jitter up to half the gap);
 *   - each tile z-scored on its own (the paper normalises tiles independently so that mean
 *     intensity and contrast are no shortcut);
 *   - head Linear–BN–ReLU–Linear over the T·D concatenation (the paper's fc7–fc8), CE loss.
 * The ViT cannot take tiles (its positions are fixed to data.patch): refused with a message. */
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

static const tassl_cfg_key keys[] = {
    {"method.jigsaw.grid", TASSL_CFG_INT, "0", NULL, "0|2|3",
     "tiles per axis: 0 = 3 in 2D (3x3, Noroozi & Favaro) and 2 in 3D (2x2x2, Taleb et al.)"},
    {"method.jigsaw.permutations", TASSL_CFG_INT, "100", "[2, 100000]", NULL,
     "size of the max-Hamming permutation set = classes (the paper: 1000; Table 3: 100-1000)"},
    {"method.jigsaw.gap", TASSL_CFG_FLOAT, "0.15", "[0, 0.9]", NULL,
     "fraction of each cell left out between tiles (the paper: 64-px tiles in 75-px cells)"},
    {"method.jigsaw.tile_norm", TASSL_CFG_BOOL, "true", NULL, NULL,
     "z-score every tile on its own (no mean-intensity shortcut)"},
    {"method.jigsaw.head", TASSL_CFG_ENUM, "mlp", NULL, "mlp|linear",
     "classifier over the concatenated tile embeddings: Linear-BN-ReLU-Linear or linear"},
    {"method.jigsaw.hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "hidden width of the mlp head (0 = the encoder's embedding width)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "jigsaw"}};
static const tassl_cfg_section section = {
    .name = "jigsaw",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct jigsaw {
    const tassl_ssl_env *env;
    tassl_mlp *head;
    tassl_jigsaw_config jc;
    int tiles, count;
    int64_t tile[3]; /* (D, H, W) of one tile */
    bool tile_norm;
    uint8_t *perms; /* (count, tiles) */
} jigsaw;

static tassl_status jig_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                               void **state) {
    jigsaw *j = calloc(1, sizeof *j);
    if (!j) return tassl_error(TASSL_ERR_NOMEM, "jigsaw: out of host memory");
    *state = j;
    j->env = env;
    const tassl_config *c = env->cfg;
    const int64_t *sm = env->sample;
    int g = (int)tassl_config_int(c, "method.jigsaw.grid");
    g = g ? g : (env->dims == 2 ? 3 : 2);
    j->tiles = env->dims == 2 ? g * g : g * g * g;
    if (j->tiles > 9)
        return tassl_error(TASSL_ERR_ARG,
                           "method.jigsaw.grid: %d in 3D gives %d tiles; at most 9 are supported "
                           "(use 2)",
                           g, j->tiles);
    j->count = (int)tassl_config_int(c, "method.jigsaw.permutations");
    int64_t fact = 1;
    for (int i = 2; i <= j->tiles; i++)
        fact *= i;
    if (j->count > fact)
        return tassl_error(TASSL_ERR_ARG,
                           "method.jigsaw.permutations: %d, but %d tiles have only %lld "
                           "permutations",
                           j->count, j->tiles, (long long)fact);
    /* the tile size: cells of n / g, a gap of ⌊gap·cell⌋ left out, jitter up to half of it */
    double gap = tassl_config_float(c, "method.jigsaw.gap");
    int64_t cell = INT64_MAX;
    for (int a = 3 - env->dims; a < 3; a++)
        cell = sm[1 + a] / g < cell ? sm[1 + a] / g : cell;
    j->jc.grid = g;
    j->jc.gap = (int64_t)(gap * (double)cell);
    j->jc.jitter = j->jc.gap / 2;
    j->tile[0] = 1;
    for (int a = 3 - env->dims; a < 3; a++) {
        j->tile[a] = sm[1 + a] / g - j->jc.gap;
        if (j->tile[a] < 1)
            return tassl_error(TASSL_ERR_ARG,
                               "data.patch: %lld voxels along axis %d are too few for a %d-grid "
                               "of jigsaw tiles",
                               (long long)sm[1 + a], a, g);
    }
    tassl_status st = ssl_check_piece_size(env, "jigsaw", "tiles", j->tile);
    if (st != TASSL_OK) return st;
    j->tile_norm = tassl_config_bool(c, "method.jigsaw.tile_norm");
    if (!(j->perms = malloc((size_t)j->count * (size_t)j->tiles)))
        return tassl_error(TASSL_ERR_NOMEM, "jigsaw: out of host memory");
    if ((st = tassl_jigsaw_perms(j->tiles, j->count, env->seed, j->perms, NULL)) != TASSL_OK)
        return ssl_wrap(st, "method.jigsaw.permutations");
    ssl_custom_add(in, "tiles", j->tiles * sm[0], j->tile[0], j->tile[1], j->tile[2]);
    ssl_custom_add(in, "label", 1, 1, 1, 1);
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    return ssl_head_new(env, prefix, "head", j->tiles * d, ssl_head_hidden(env, "jigsaw"), j->count,
                        &j->head);
}

static tassl_status jig_init(void *state) {
    jigsaw *j = state;
    return tassl_module_init(tassl_mlp_module(j->head));
}

static tassl_status jig_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    jigsaw *j = state;
    tassl_image img = {0};
    int label = 0;
    tassl_status st = tassl_pretext_jigsaw(s->clean, &j->jc, j->perms, j->count, s->seed, s->index,
                                           s->epoch, &img, &label);
    if (st == TASSL_OK) {
        const int c = s->clean->channels;
        const int64_t tv = j->tile[0] * j->tile[1] * j->tile[2];
        if (j->tile_norm)
            for (int t = 0; t < j->tiles; t++) {
                tassl_image view = {.channels = c,
                                    .d = j->tile[0],
                                    .h = j->tile[1],
                                    .w = j->tile[2],
                                    .data = img.data + (int64_t)t * c * tv};
                ssl_image_zscore(&view); /* a view of one tile: not freed */
            }
        memcpy(out[0], img.data, sizeof(float) * (size_t)(j->tiles * c * tv));
        out[1][0] = (float)label;
    }
    tassl_image_free(&img);
    return st;
}

static tassl_tensor *jig_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    jigsaw *j = state;
    tassl_tensor *x = b->custom[0]; /* (N, T·C, tile...) */
    int64_t shape[TASSL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = b->n * j->tiles;
    shape[1] = x->shape[1] / j->tiles;
    x = tassl_reshape(x, x->ndim, shape); /* (N·T, C, tile...) */
    tassl_tensor *h = tassl_encoder_forward(j->env->encoder, x, true, NULL); /* (N·T, D) */
    tassl_tensor *cat = tassl_reshape(h, TASSL_SHAPE(b->n, -1));             /* (N, T·D) */
    tassl_tensor *logits = tassl_mlp_forward(j->head, cat, true);            /* (N, count) */
    tassl_tensor *loss = ssl_ce(logits, b->custom[1]);
    out->ncomponents = 2;
    out->comp[0] = (tassl_ssl_component){"ce", tassl_detach(loss)};
    out->comp[1] = (tassl_ssl_component){"acc", ssl_accuracy(logits, b->custom[1])};
    out->embedding = tassl_detach(h);
    return loss;
}

static void jig_destroy(void *state) {
    jigsaw *j = state;
    tassl_mlp_free(j->head);
    free(j->perms);
    free(j);
}

const tassl_ssl_method tassl_ssl_jigsaw = {
    .name = "jigsaw",
    .paradigm = "predictive",
    .summary = "jigsaw puzzles: classify the permutation of 3x3 / 2x2x2 tiles from a "
               "max-Hamming set (Noroozi & Favaro 2016; 3D: Taleb et al. 2020)",
    .keys = &section,
    .create = jig_create,
    .init = jig_init,
    .bind_state = NULL,
    .prepare = jig_prepare,
    .loss = jig_loss,
    .after_step = NULL,
    .destroy = jig_destroy,
};
