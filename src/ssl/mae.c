/* mae.c — masked autoencoder on the ViT (He, Chen, Xie, Li, Dollár & Girshick, CVPR 2022), 2D and
 * 3D: 75 % of the patches are masked at random, the ViT encoder runs on the visible ones only
 * (tassl_vit_forward_masked), a light transformer decoder gets the encoded visible tokens plus
 * a shared learnable mask token for each masked patch, all with fixed sin-cos positions, and
 * predicts every patch's pixels; the loss is the per-patch normalised MSE on the masked patches
 * (tassl_loss_mae).
 *
 * Defaults and why (the paper's, its Table 1 and the reference code):
 *   - mask ratio 0.75, uniformly random patches per sample (drawn on the host from the sample's
 *     stream, so a batch is a pure function of the step);
 *   - norm_pix: targets normalised by each patch's mean and variance (Table 1(c): better
 *     features);
 *   - decoder: width 512 (2D; 516 in 3D, the nearest multiple of 6 that 3D sin-cos positions
 *     need), 8 blocks of 16 heads, MLP ratio 4, pre-norm, layer-norm eps 1e-6; linears Xavier
 *     uniform, biases 0, mask token normal std 0.02 (the reference code's initialisation). The
 *     configs use a smaller decoder (Table 1(a): even one block works for fine-tuning).
 * Names follow the reference code: decoder_embed.*, mask_token, decoder_pos_embed,
 * decoder_blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*, decoder_norm.*,
 * decoder_pred.*. Patchify is MAE's ('nchpwq->nhwpqc', channels fastest) and its 3D extension,
 * done by strided reshapes and permutes of at most five dims (pretext.c).
 * Preview: input, input with the masked patches blanked, reconstruction (un-normalised with the
 * patches' own statistics when norm_pix, visible patches pasted back as the paper's figures). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/nn.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.mae.ratio", TASSL_CFG_FLOAT, "0.75", "(0, 1)", NULL,
     "fraction of the patches masked (the paper: 0.75)"},
    {"method.mae.norm_pix", TASSL_CFG_BOOL, "true", NULL, NULL,
     "targets normalised per patch (mean / std of its pixels), as the paper's best setting"},
    {"method.mae.dec_dim", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "decoder width (0 = 512 in 2D as the paper, 516 in 3D: sin-cos needs a multiple of 6)"},
    {"method.mae.dec_depth", TASSL_CFG_INT, "8", "[1, 64]", NULL, "decoder blocks (the paper: 8)"},
    {"method.mae.dec_heads", TASSL_CFG_INT, "16", "[1, 1024]", NULL,
     "decoder attention heads (the paper: 16)"},
    {"method.mae.dec_mlp_ratio", TASSL_CFG_FLOAT, "4", "(0, 64]", NULL,
     "decoder MLP hidden width / decoder width"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "mae"}};
static const tassl_cfg_section section = {
    .name = "mae",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

#define MAE_SEED_MIX 0x3ae0c0de7a11b0b5ULL /* masks independent of other mask users' */
#define MAE_LN_EPS 1e-6f

typedef struct dblock {
    tassl_tensor *n1w, *n1b, *qkvw, *qkvb, *projw, *projb, *n2w, *n2b, *fc1w, *fc1b, *fc2w, *fc2b;
} dblock;

typedef struct mae {
    const tassl_ssl_env *env;
    tassl_vit *vit;
    tassl_module *m;
    tassl_tensor *embed_w, *embed_b; /* (Dd, D), (Dd) */
    tassl_tensor *mask_token;        /* (1, 1, Dd) */
    tassl_tensor *pos;               /* (1, [1 +] T, Dd) fixed */
    tassl_tensor *norm_w, *norm_b;   /* (Dd) */
    tassl_tensor *pred_w, *pred_b;   /* (P·C, Dd), (P·C) */
    dblock *blk;
    int depth, heads, patch;
    int64_t dd, T, P, C, nmask, size[3];
    bool cls, norm_pix;
    float ratio;
} mae;

static void decl_linear(tassl_module *m, const char *base, const char *name, int64_t in,
                        int64_t out, tassl_tensor **w, tassl_tensor **b) {
    char full[160];
    const tassl_init xav = {.kind = TASSL_INIT_XAVIER_UNIFORM};
    const tassl_init zero = {.kind = TASSL_INIT_CONSTANT, .a = 0};
    snprintf(full, sizeof full, "%s%s.weight", base, name);
    tassl_module_param(m, w, full, 2, (int64_t[]){out, in}, xav);
    snprintf(full, sizeof full, "%s%s.bias", base, name);
    tassl_module_param(m, b, full, 1, &out, zero);
}

static void decl_norm(tassl_module *m, const char *base, const char *name, int64_t d,
                      tassl_tensor **w, tassl_tensor **b) {
    char full[160];
    snprintf(full, sizeof full, "%s%s.weight", base, name);
    tassl_module_param(m, w, full, 1, &d, (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 1});
    snprintf(full, sizeof full, "%s%s.bias", base, name);
    tassl_module_param(m, b, full, 1, &d, (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 0});
}

static tassl_status mae_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                               void **state) {
    mae *a = calloc(1, sizeof *a);
    if (!a) return tassl_error(TASSL_ERR_NOMEM, "mae: out of host memory");
    *state = a;
    a->env = env;
    const tassl_config *c = env->cfg;
    if (!(a->vit = tassl_encoder_vit(env->encoder)))
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.arch: mae needs the vit encoder (model.arch: vit); on a CNN "
                           "use method simmim");
    a->patch = (int)tassl_config_int(c, "model.vit.patch");
    a->cls = tassl_config_bool(c, "model.vit.cls_token");
    a->ratio = (float)tassl_config_float(c, "method.mae.ratio");
    a->norm_pix = tassl_config_bool(c, "method.mae.norm_pix");
    a->depth = (int)tassl_config_int(c, "method.mae.dec_depth");
    a->heads = (int)tassl_config_int(c, "method.mae.dec_heads");
    a->dd = tassl_config_int(c, "method.mae.dec_dim");
    if (a->dd == 0) a->dd = env->dims == 2 ? 512 : 516;
    const int64_t *sm = env->sample;
    a->C = sm[0];
    a->T = tassl_vit_num_patches(a->vit);
    a->P = 1;
    int64_t grid[3] = {1, 1, 1};
    for (int i = 0; i < env->dims; i++) {
        a->size[i] = sm[4 - env->dims + i];
        grid[3 - env->dims + i] = a->size[i] / a->patch;
        a->P *= a->patch;
    }
    a->nmask = (int64_t)llround((double)a->ratio * (double)a->T);
    if (a->nmask < 1 || a->nmask >= a->T)
        return tassl_error(TASSL_ERR_ARG,
                           "method.mae.ratio: %g of %lld patches masks %lld; at least one patch "
                           "must be masked and one visible",
                           (double)a->ratio, (long long)a->T, (long long)a->nmask);
    if (a->dd % a->heads)
        return tassl_error(TASSL_ERR_ARG,
                           "method.mae.dec_dim: %lld is not divisible by method.mae.dec_heads "
                           "(%d)",
                           (long long)a->dd, a->heads);
    if (a->dd % (2 * env->dims))
        return tassl_error(TASSL_ERR_ARG,
                           "method.mae.dec_dim: %lld, but %dD sin-cos positions need a multiple "
                           "of %d",
                           (long long)a->dd, env->dims, 2 * env->dims);
    const int64_t D = tassl_encoder_embed_dim(env->encoder), Dd = a->dd;
    const int64_t hidden = (int64_t)lround(tassl_config_float(c, "method.mae.dec_mlp_ratio") * Dd);
    if (!(a->m = tassl_module_new(env->params, NULL)) ||
        !(a->blk = calloc((size_t)a->depth, sizeof *a->blk)))
        return tassl_error(TASSL_ERR_NOMEM, "mae: out of host memory");
    const char *base = prefix ? prefix : "";
    char nm[160];
    decl_linear(a->m, base, "decoder_embed", D, Dd, &a->embed_w, &a->embed_b);
    snprintf(nm, sizeof nm, "%smask_token", base);
    tassl_module_param(a->m, &a->mask_token, nm, 3, (int64_t[]){1, 1, Dd},
                       (tassl_init){.kind = TASSL_INIT_NORMAL, .a = 0, .b = 0.02});
    tassl_init sc = {.kind = TASSL_INIT_SINCOS, .ngrid = env->dims, .cls = a->cls};
    for (int i = 0; i < env->dims; i++)
        sc.grid[i] = grid[3 - env->dims + i];
    snprintf(nm, sizeof nm, "%sdecoder_pos_embed", base);
    tassl_module_buffer(a->m, &a->pos, nm, 3, (int64_t[]){1, a->T + (a->cls ? 1 : 0), Dd}, sc);
    for (int i = 0; i < a->depth; i++) {
        dblock *k = &a->blk[i];
        char b[96];
        snprintf(b, sizeof b, "%sdecoder_blocks.%d.", base, i);
        decl_norm(a->m, b, "norm1", Dd, &k->n1w, &k->n1b);
        decl_linear(a->m, b, "attn.qkv", Dd, 3 * Dd, &k->qkvw, &k->qkvb);
        decl_linear(a->m, b, "attn.proj", Dd, Dd, &k->projw, &k->projb);
        decl_norm(a->m, b, "norm2", Dd, &k->n2w, &k->n2b);
        decl_linear(a->m, b, "mlp.fc1", Dd, hidden, &k->fc1w, &k->fc1b);
        decl_linear(a->m, b, "mlp.fc2", hidden, Dd, &k->fc2w, &k->fc2b);
    }
    decl_norm(a->m, base, "decoder_norm", Dd, &a->norm_w, &a->norm_b);
    decl_linear(a->m, base, "decoder_pred", Dd, a->P * a->C, &a->pred_w, &a->pred_b);
    in->clean = true;
    ssl_custom_add(in, "mask", 1, 1, 1, a->T); /* 1 = masked, per patch in grid order */
    return TASSL_OK;
}

static tassl_status mae_init(void *state) {
    mae *a = state;
    return tassl_module_init(a->m);
}

/* exactly nmask of the T patches, uniformly, from the sample's stream (augment.h's patch-mode
 * mask on the patch grid) */
static tassl_status mae_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    mae *a = state;
    tassl_mask_config mc;
    tassl_mask_config_default(&mc);
    mc.mode = TASSL_MASK_PATCH;
    mc.ratio = (float)a->nmask / (float)a->T; /* rounds back to nmask */
    mc.patch[0] = mc.patch[1] = mc.patch[2] = 1;
    tassl_image m = {0};
    tassl_status st = tassl_mask_generate(&mc, 1, 1, a->T, s->seed ^ MAE_SEED_MIX, s->index,
                                          s->epoch, &m, NULL, NULL);
    if (st == TASSL_OK) memcpy(out[0], m.data, sizeof(float) * (size_t)a->T);
    tassl_image_free(&m);
    return st;
}

/* pre-norm transformer block on x (N, L, Dd) */
static tassl_tensor *block(const mae *a, const dblock *k, tassl_tensor *x) {
    const int64_t N = x->shape[0], L = x->shape[1], D = a->dd, H = a->heads, d = D / H;
    tassl_tensor *h = tassl_layer_norm(x, 1, k->n1w, k->n1b, MAE_LN_EPS);
    tassl_tensor *qkv = tassl_linear(h, k->qkvw, k->qkvb); // (N, L, 3Dd)
    qkv = tassl_reshape(qkv, TASSL_SHAPE(N, L, 3, H, d));
    qkv = tassl_contiguous(tassl_permute(qkv, (int[]){2, 0, 3, 1, 4})); // (3, N, H, L, d)
    tassl_tensor *q = tassl_reshape(tassl_slice(qkv, 0, 0, 1, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *kk = tassl_reshape(tassl_slice(qkv, 0, 1, 2, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *v = tassl_reshape(tassl_slice(qkv, 0, 2, 3, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *att = tassl_scale(tassl_matmul_t(q, false, kk, true), 1.0f / sqrtf((float)d));
    att = tassl_softmax(att, -1);           // (N·H, L, L)
    tassl_tensor *o = tassl_matmul(att, v); // (N·H, L, d)
    o = tassl_permute(tassl_reshape(o, TASSL_SHAPE(N, H, L, d)), (int[]){0, 2, 1, 3});
    o = tassl_reshape(tassl_contiguous(o), TASSL_SHAPE(N, L, D)); // (N, L, Dd)
    x = tassl_add(x, tassl_linear(o, k->projw, k->projb));
    h = tassl_layer_norm(x, 1, k->n2w, k->n2b, MAE_LN_EPS);
    h = tassl_gelu(tassl_linear(h, k->fc1w, k->fc1b));
    return tassl_add(x, tassl_linear(h, k->fc2w, k->fc2b));
}

static tassl_tensor *mae_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    mae *a = state;
    tassl_ctx *ctx = a->env->ctx;
    const int64_t N = b->n, T = a->T, nk = T - a->nmask, off = a->cls ? 1 : 0;
    tassl_tensor *x = b->clean;                                          /* (N, C, S) */
    tassl_tensor *mask = tassl_reshape(b->custom[0], TASSL_SHAPE(N, T)); /* (N, T) */
    /* visible patches (ascending) and, per grid position, its row in [visible, masked] */
    float *mh = malloc(sizeof(float) * (size_t)(N * T));
    int64_t *keep = malloc(sizeof(int64_t) * (size_t)(N * nk));
    int64_t *restore = malloc(sizeof(int64_t) * (size_t)(N * T));
    if (!mh || !keep || !restore || tassl_tensor_read(mask, mh) != TASSL_OK) {
        free(mh), free(keep), free(restore);
        if (tassl_ctx_status(ctx) == TASSL_OK)
            tassl_ctx_fail(ctx, tassl_error(TASSL_ERR_NOMEM, "mae: out of host memory"));
        return NULL;
    }
    for (int64_t n = 0; n < N; n++) {
        int64_t v = 0, m = nk;
        for (int64_t t = 0; t < T; t++) {
            if (mh[n * T + t] == 0.0f && v < nk) {
                keep[n * nk + v] = t;
                restore[n * T + t] = v++;
            } else {
                restore[n * T + t] = m++;
            }
        }
        if (v != nk || m != T) {
            free(mh), free(keep), free(restore);
            tassl_ctx_fail(ctx, tassl_error(TASSL_ERR_ARG,
                                            "mae: sample %lld has %lld visible patches, "
                                            "expected %lld",
                                            (long long)n, (long long)v, (long long)nk));
            return NULL;
        }
    }
    /* encoder on the visible patches */
    tassl_tensor *lat = tassl_vit_forward_masked(a->vit, x, keep, nk, true); /* (N, off+nk, D) */
    tassl_tensor *y = tassl_linear(lat, a->embed_w, a->embed_b);             /* (N, off+nk, Dd) */
    tassl_tensor *parts[2] = {
        tassl_slice(y, 1, off, off + nk, 1),
        tassl_contiguous(tassl_expand(a->mask_token, TASSL_SHAPE(N, T - nk, a->dd)))};
    tassl_tensor *full = tassl_concat(2, parts, 1); /* (N, T, Dd): visible, then masked */
    full = tassl_nn_gather_rows(full, restore, T);  /* (N, T, Dd) in grid order */
    if (a->cls) {
        tassl_tensor *c2[2] = {tassl_slice(y, 1, 0, 1, 1), full};
        full = tassl_concat(2, c2, 1); /* (N, 1 + T, Dd) */
    }
    full = tassl_add(full, a->pos);
    for (int i = 0; i < a->depth; i++)
        full = block(a, &a->blk[i], full);
    full = tassl_layer_norm(full, 1, a->norm_w, a->norm_b, MAE_LN_EPS);
    tassl_tensor *pred = tassl_linear(full, a->pred_w, a->pred_b); /* (N, off+T, P·C) */
    if (a->cls) pred = tassl_slice(pred, 1, 1, 1 + T, 1);
    tassl_tensor *target = ssl_patchify(x, a->patch); /* (N, T, P·C) */
    tassl_tensor *loss = tassl_loss_mae(pred, target, mask, a->norm_pix);
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"mae", tassl_detach(loss)};
    /* the embedding: the cls token, or the mean of the visible tokens */
    tassl_tensor *emb;
    if (a->cls) {
        emb = tassl_reshape(tassl_contiguous(tassl_slice(lat, 1, 0, 1, 1)),
                            TASSL_SHAPE(N, lat->shape[2]));
    } else {
        int ax = 1;
        emb = tassl_mean(lat, 1, &ax, false);
    }
    /* preview, off the tape */
    tassl_no_grad_begin(ctx);
    const int dims = a->env->dims;
    tassl_tensor *pm =
        tassl_expand(tassl_reshape(mask, TASSL_SHAPE(N, T, 1)), TASSL_SHAPE(N, T, a->P * a->C));
    tassl_tensor *pix = ssl_unpatchify(tassl_contiguous(pm), a->patch, a->C, dims, a->size);
    tassl_tensor *vis = tassl_add_scalar(tassl_neg(pix), 1.0f); /* (N, C, S) 1 = visible */
    tassl_tensor *rec = tassl_detach(pred);
    if (a->norm_pix) {
        int last = 2;
        tassl_tensor *mu = tassl_mean(target, 1, &last, true);
        tassl_tensor *var = tassl_var(target, 1, &last, 1, true);
        rec = tassl_add(tassl_mul(rec, tassl_sqrt(tassl_add_scalar(var, 1e-6f))), mu);
    }
    rec = ssl_unpatchify(rec, a->patch, a->C, dims, a->size);
    rec = tassl_add(tassl_mul(rec, pix), tassl_mul(x, vis));
    ssl_set_preview(out, x, tassl_mul(x, vis), rec, emb);
    tassl_no_grad_end(ctx);
    free(mh), free(keep), free(restore);
    return loss;
}

static void mae_destroy(void *state) {
    mae *a = state;
    if (a->m) tassl_module_free(a->m);
    free(a->blk);
    free(a);
}

const tassl_ssl_method tassl_ssl_mae = {
    .name = "mae",
    .paradigm = "generative",
    .summary = "masked autoencoder on the ViT: predict the pixels of 75% masked patches (He et "
               "al. 2022)",
    .keys = &section,
    .create = mae_create,
    .init = mae_init,
    .bind_state = NULL,
    .prepare = mae_prepare,
    .loss = mae_loss,
    .after_step = NULL,
    .destroy = mae_destroy,
};
