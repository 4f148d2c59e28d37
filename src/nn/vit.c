/* vit.c — a small Vision Transformer, 2D and 3D: strided-conv patch embedding, optional cls
 * token, learned or fixed sin-cos positions (MAE), pre-norm blocks of multi-head self-attention
 * and a GELU MLP, a final layer norm. The forward returns the whole token sequence; the masked
 * forward keeps only given patches (MAE encoder), so masked-autoencoder pretraining is possible.
 *
 * Attention is written with the batched matmul: qkv (N, L, 3D) is laid out as (3, N·H, L, d),
 * QKᵀ/√d → softmax over keys → ·V → (N, L, D) → output projection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nn_internal.h"

typedef struct vblock {
    nn_norm norm1, norm2;
    nn_linear qkv, proj, fc1, fc2;
} vblock;

struct tassl_vit {
    tassl_module *m;
    tassl_vit_cfg cfg;
    int64_t grid[3], T, hidden;
    nn_conv patch;
    tassl_tensor *cls; /* (1, 1, D) or NULL */
    tassl_tensor *pos; /* (1, [1 +] T, D) */
    vblock *b;
    nn_norm norm;
};

static tassl_status validate(const tassl_vit_cfg *c) {
    const char *w = "vit";
    if (c->dims != 2 && c->dims != 3) return nn_bad(w, "dims", c->dims, "2 or 3");
    if (c->in_channels < 1) return nn_bad(w, "in_channels", c->in_channels, ">= 1");
    if (c->patch < 1) return nn_bad(w, "patch", c->patch, ">= 1");
    for (int d = 0; d < c->dims; d++)
        if (c->img[d] < 1 || c->img[d] % c->patch)
            return tassl_error(TASSL_ERR_ARG,
                               "vit: img[%d] is %lld, expected a positive multiple "
                               "of patch %d",
                               d, (long long)c->img[d], c->patch);
    if (c->heads < 1) return nn_bad(w, "heads", c->heads, ">= 1");
    if (c->dim < 1 || c->dim % c->heads)
        return nn_bad(w, "dim", c->dim, "a positive multiple of heads");
    if (c->depth < 1 || c->depth > 256) return nn_bad(w, "depth", c->depth, "1 to 256");
    if (!(c->mlp_ratio >= 0) || c->mlp_ratio > 64)
        return tassl_error(TASSL_ERR_ARG, "vit: mlp_ratio is %g, expected in (0, 64]",
                           (double)c->mlp_ratio);
    if (c->pos != TASSL_POS_LEARNED && c->pos != TASSL_POS_SINCOS)
        return nn_bad(w, "pos", c->pos, "learned (0) or sincos (1)");
    if (c->pos == TASSL_POS_SINCOS && c->dim % (2 * c->dims))
        return nn_bad(w, "dim", c->dim,
                      c->dims == 2 ? "divisible by 4 for 2D sin-cos positions"
                                   : "divisible by 6 for 3D sin-cos positions");
    return TASSL_OK;
}

tassl_status tassl_vit_new(tassl_params *p, const char *prefix, const tassl_vit_cfg *cfg,
                           tassl_vit **out) {
    *out = NULL;
    tassl_status s = validate(cfg);
    if (s != TASSL_OK) return s;
    tassl_vit *v = calloc(1, sizeof *v);
    if (v) {
        v->m = tassl_module_new(p, prefix);
        v->b = calloc((size_t)cfg->depth, sizeof *v->b);
    }
    if (!v || !v->m || !v->b) {
        tassl_vit_free(v);
        return tassl_error(TASSL_ERR_NOMEM, "vit: out of host memory");
    }
    v->cfg = *cfg;
    const int64_t D = cfg->dim;
    v->T = 1;
    for (int d = 0; d < cfg->dims; d++) {
        v->grid[d] = cfg->img[d] / cfg->patch;
        v->T *= v->grid[d];
    }
    float ratio = cfg->mlp_ratio > 0 ? cfg->mlp_ratio : 4.0f;
    v->hidden = (int64_t)lroundf(ratio * (float)D);
    if (v->hidden < 1) v->hidden = 1;
    const tassl_init xav = {.kind = TASSL_INIT_XAVIER_UNIFORM, .matrix = true};
    const tassl_init zero = {.kind = TASSL_INIT_CONSTANT, .a = 0};
    const tassl_init tn02 = {.kind = TASSL_INIT_TRUNC_NORMAL, .a = 0.02};
    tassl_module *m = v->m;
    nn_conv_decl(m, &v->patch, "patch_embed.proj", cfg->dims, cfg->in_channels, D, cfg->patch,
                 cfg->patch, 0, false, xav);
    tassl_module_param(m, &v->patch.bias, "patch_embed.proj.bias", 1, &D, zero);
    if (cfg->cls_token) tassl_module_param(m, &v->cls, "cls_token", 3, (int64_t[]){1, 1, D}, tn02);
    int64_t rows = v->T + (cfg->cls_token ? 1 : 0);
    if (cfg->pos == TASSL_POS_LEARNED)
        tassl_module_param(m, &v->pos, "pos_embed", 3, (int64_t[]){1, rows, D}, tn02);
    else {
        tassl_init sc = {.kind = TASSL_INIT_SINCOS, .ngrid = cfg->dims, .cls = cfg->cls_token};
        memcpy(sc.grid, v->grid, sizeof sc.grid);
        tassl_module_buffer(m, &v->pos, "pos_embed", 3, (int64_t[]){1, rows, D}, sc);
    }
    tassl_norm_cfg ln = {.kind = TASSL_NORM_LAYER, .eps = cfg->eps > 0 ? cfg->eps : 1e-6f};
    for (int i = 0; i < cfg->depth; i++) {
        vblock *k = &v->b[i];
        char b[NN_NAME], nm[NN_NAME];
        snprintf(b, sizeof b, "blocks.%d", i);
        nn_norm_decl(m, &k->norm1, nn_join(nm, b, "norm1"), D, &ln, true, 1.0f);
        nn_linear_decl(m, &k->qkv, nn_join(nm, b, "attn.qkv"), D, 3 * D, true, xav, zero);
        nn_linear_decl(m, &k->proj, nn_join(nm, b, "attn.proj"), D, D, true, xav, zero);
        nn_norm_decl(m, &k->norm2, nn_join(nm, b, "norm2"), D, &ln, true, 1.0f);
        nn_linear_decl(m, &k->fc1, nn_join(nm, b, "mlp.fc1"), D, v->hidden, true, xav, zero);
        nn_linear_decl(m, &k->fc2, nn_join(nm, b, "mlp.fc2"), v->hidden, D, true, xav, zero);
    }
    nn_norm_decl(m, &v->norm, "norm", D, &ln, true, 1.0f);
    *out = v;
    return TASSL_OK;
}

void tassl_vit_free(tassl_vit *v) {
    if (!v) return;
    tassl_module_free(v->m);
    free(v->b);
    free(v);
}

tassl_module *tassl_vit_module(const tassl_vit *v) {
    return v->m;
}
int64_t tassl_vit_num_patches(const tassl_vit *v) {
    return v->T;
}

tassl_tensor *tassl_nn_gather_rows(tassl_tensor *x, const int64_t *idx, int64_t k) {
    char s[64];
    TASSL_CHECK(x->ndim == 3 && k >= 1,
                "tassl_nn_gather_rows: x is %s and k %lld, expected "
                "(N, T, D) and k >= 1",
                tassl_shape_str(x, s, sizeof s), (long long)k);
    const int64_t N = x->shape[0], T = x->shape[1];
    float *sel = calloc((size_t)(N * k * T), sizeof *sel);
    TASSL_CHECK(sel != NULL, "tassl_nn_gather_rows: out of host memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < k; j++) {
            int64_t t = idx[n * k + j];
            TASSL_CHECK(t >= 0 && t < T,
                        "tassl_nn_gather_rows: index [%lld] = %lld, expected "
                        "[0, %lld)",
                        (long long)(n * k + j), (long long)t, (long long)T);
            sel[(n * k + j) * T + t] = 1.0f;
        }
    tassl_tensor *S = tassl_from_host(x->ctx, TASSL_SHAPE(N, k, T), sel); // (N, k, T) one-hot
    free(sel);
    return tassl_matmul(S, x); // (N, k, D)
}

/* Multi-head self-attention of x (N, L, D). */
static tassl_tensor *attention(const tassl_vit *v, const vblock *k, tassl_tensor *x) {
    const int64_t N = x->shape[0], L = x->shape[1], D = v->cfg.dim, H = v->cfg.heads, d = D / H;
    tassl_tensor *qkv = nn_linear_fwd(&k->qkv, x); // (N, L, 3D)
    qkv = tassl_reshape(qkv, TASSL_SHAPE(N, L, 3, H, d));
    qkv = tassl_contiguous(tassl_permute(qkv, (int[]){2, 0, 3, 1, 4})); // (3, N, H, L, d)
    tassl_tensor *q = tassl_reshape(tassl_slice(qkv, 0, 0, 1, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *kk = tassl_reshape(tassl_slice(qkv, 0, 1, 2, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *vv = tassl_reshape(tassl_slice(qkv, 0, 2, 3, 1), TASSL_SHAPE(N * H, L, d));
    tassl_tensor *a = tassl_scale(tassl_matmul_t(q, false, kk, true), 1.0f / sqrtf((float)d));
    a = tassl_softmax(a, -1);              // (N·H, L, L)
    tassl_tensor *o = tassl_matmul(a, vv); // (N·H, L, d)
    o = tassl_permute(tassl_reshape(o, TASSL_SHAPE(N, H, L, d)), (int[]){0, 2, 1, 3});
    o = tassl_reshape(tassl_contiguous(o), TASSL_SHAPE(N, L, D)); // (N, L, D)
    return nn_linear_fwd(&k->proj, o);
}

static tassl_tensor *run(tassl_vit *v, tassl_tensor *x, const int64_t *keep, int64_t nkeep,
                         bool training) {
    const tassl_vit_cfg *c = &v->cfg;
    char s[64];
    bool ok = x->ndim == 2 + c->dims && x->shape[1] == c->in_channels;
    for (int d = 0; ok && d < c->dims; d++)
        ok = x->shape[2 + d] == c->img[d];
    TASSL_CHECK(ok, "tassl_vit_forward(%s): x is %s, expected (N, %d, %lld, %lld%s%s)",
                tassl_module_prefix(v->m), tassl_shape_str(x, s, sizeof s), c->in_channels,
                (long long)c->img[0], (long long)c->img[1], c->dims == 3 ? ", " : "",
                c->dims == 3 ? "D" : "");
    TASSL_CHECK(!keep || (nkeep >= 1 && nkeep <= v->T),
                "tassl_vit_forward_masked(%s): %lld visible patches of %lld",
                tassl_module_prefix(v->m), (long long)nkeep, (long long)v->T);
    const int64_t N = x->shape[0], D = c->dim, T = v->T, off = c->cls_token ? 1 : 0;
    tassl_tensor *h = nn_conv_fwd(&v->patch, x);                       // (N, D, grid...)
    h = tassl_transpose(tassl_reshape(h, TASSL_SHAPE(N, D, T)), 1, 2); // (N, T, D)
    h = tassl_add(h, tassl_slice(v->pos, 1, off, off + T, 1));
    if (keep) h = tassl_nn_gather_rows(h, keep, nkeep); // (N, nkeep, D)
    if (c->cls_token) {
        tassl_tensor *ct = tassl_add(v->cls, tassl_slice(v->pos, 1, 0, 1, 1)); // (1, 1, D)
        tassl_tensor *cat[2] = {tassl_expand(ct, TASSL_SHAPE(N, 1, D)), h};
        h = tassl_concat(2, cat, 1); // (N, 1 + L, D)
    }
    for (int i = 0; i < c->depth; i++) {
        const vblock *k = &v->b[i];
        h = tassl_add(h, attention(v, k, nn_norm_fwd(&k->norm1, h, training)));
        tassl_tensor *f = tassl_gelu(nn_linear_fwd(&k->fc1, nn_norm_fwd(&k->norm2, h, training)));
        h = tassl_add(h, nn_linear_fwd(&k->fc2, f));
    }
    return nn_norm_fwd(&v->norm, h, training);
}

tassl_tensor *tassl_vit_forward(tassl_vit *v, tassl_tensor *x, bool training) {
    return run(v, x, NULL, 0, training);
}

tassl_tensor *tassl_vit_forward_masked(tassl_vit *v, tassl_tensor *x, const int64_t *keep,
                                       int64_t nkeep, bool training) {
    TASSL_CHECK(keep != NULL, "tassl_vit_forward_masked: keep is NULL");
    return run(v, x, keep, nkeep, training);
}
