/* pretext.c — helpers shared by the predictive and generative methods (see pretext.h): heads,
 * custom inputs, "field=value" lists, per-sample host helpers, previews, MAE patchify. */
#include "pretext.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

tassl_status ssl_head_new(const tassl_ssl_env *env, const char *prefix, const char *name,
                          int64_t in, int64_t hidden, int64_t classes, tassl_mlp **out) {
    tassl_mlp_cfg mc = {0};
    mc.layers = hidden > 0 ? 2 : 1;
    mc.dims[0] = in;
    if (hidden > 0) {
        mc.dims[1] = hidden;
        mc.dims[2] = classes;
    } else {
        mc.dims[1] = classes;
    }
    mc.norm = TASSL_NORM_BATCH;
    char full[128];
    return tassl_mlp_new(env->params, tassl_ssl_name(full, sizeof full, prefix, name), &mc, out);
}

int64_t ssl_head_hidden(const tassl_ssl_env *env, const char *method) {
    char key[96];
    snprintf(key, sizeof key, "method.%s.head", method);
    if (strcmp(tassl_config_str(env->cfg, key), "linear") == 0) return 0;
    snprintf(key, sizeof key, "method.%s.hidden", method);
    int64_t h = tassl_config_int(env->cfg, key);
    return h > 0 ? h : tassl_encoder_embed_dim(env->encoder);
}

tassl_tensor *ssl_ce(tassl_tensor *logits, tassl_tensor *labels) {
    return tassl_cross_entropy(logits, labels, NULL, 0.0f, -100, TASSL_REDUCE_MEAN);
}

tassl_tensor *ssl_accuracy(tassl_tensor *logits, tassl_tensor *labels) {
    const int64_t n = logits->shape[0], k = logits->shape[1];
    float *l = malloc(sizeof(float) * (size_t)(n * k + n));
    double hits = 0;
    if (l && tassl_tensor_read(logits, l) == TASSL_OK &&
        tassl_tensor_read(labels, l + n * k) == TASSL_OK)
        for (int64_t i = 0; i < n; i++) {
            int64_t best = 0;
            for (int64_t j = 1; j < k; j++)
                if (l[i * k + j] > l[i * k + best]) best = j;
            hits += (float)best == l[n * k + i];
        }
    free(l);
    return tassl_scalar(logits->ctx, (float)(hits / (double)(n > 0 ? n : 1)));
}

void ssl_custom_add(tassl_ssl_inputs *in, const char *name, int64_t c, int64_t d, int64_t h,
                    int64_t w) {
    TASSL_CHECK(in->ncustom < TASSL_SSL_MAX_CUSTOM, "ssl_custom_add: too many custom inputs");
    tassl_ssl_custom *k = &in->custom[in->ncustom++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->shape[0] = c, k->shape[1] = d, k->shape[2] = h, k->shape[3] = w;
}

tassl_status ssl_apply_set(const tassl_config *cfg, const char *key, ssl_field_setter set,
                           void *obj) {
    for (int i = 0; i < tassl_config_list_len(cfg, key); i++) {
        const char *kv = tassl_config_list_str(cfg, key, i);
        const char *eq = strchr(kv, '=');
        char field[64];
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof field)
            return tassl_error(TASSL_ERR_ARG, "%s[%d]: '%s' is not field=value", key, i, kv);
        memcpy(field, kv, (size_t)(eq - kv));
        field[eq - kv] = 0;
        tassl_status s = set(obj, field, eq + 1);
        if (s != TASSL_OK) return ssl_wrap(s, "%s[%d]", key, i);
    }
    return TASSL_OK;
}

tassl_status ssl_image_copy(const tassl_image *src, tassl_image *dst) {
    tassl_status s = tassl_image_new(dst, src->channels, src->d, src->h, src->w);
    if (s != TASSL_OK) return s;
    memcpy(dst->data, src->data, sizeof(float) * (size_t)(src->channels * tassl_image_voxels(src)));
    memcpy(dst->spacing, src->spacing, sizeof dst->spacing);
    memcpy(dst->affine, src->affine, sizeof dst->affine);
    return TASSL_OK;
}

void ssl_image_zscore(tassl_image *img) {
    const int64_t nv = tassl_image_voxels(img);
    for (int c = 0; c < img->channels; c++) {
        float *x = img->data + c * nv;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < nv; i++)
            s += x[i], ss += (double)x[i] * x[i];
        double mean = s / (double)nv, var = ss / (double)nv - mean * mean;
        double sd = sqrt(var > 0 ? var : 0);
        float inv = (float)(1.0 / (sd > 1e-6 ? sd : 1e-6));
        for (int64_t i = 0; i < nv; i++)
            x[i] = (x[i] - (float)mean) * inv;
    }
}

void ssl_image_minmax(tassl_image *img) {
    const int64_t n = img->channels * tassl_image_voxels(img);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        lo = img->data[i] < lo ? img->data[i] : lo;
        hi = img->data[i] > hi ? img->data[i] : hi;
    }
    float r = hi - lo;
    for (int64_t i = 0; i < n; i++)
        img->data[i] = r > 0 ? (img->data[i] - lo) / r : 0.0f;
}

tassl_status ssl_check_piece_size(const tassl_ssl_env *env, const char *method, const char *what,
                                  const int64_t size[3]) {
    switch (tassl_encoder_arch_of(env->encoder)) {
    case TASSL_ENCODER_VIT:
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.arch: %s encodes %s smaller than the sample, and the vit's "
                           "positions are fixed to data.patch; use model.arch resnet or unet",
                           method, what);
    case TASSL_ENCODER_UNET: {
        tassl_feature_info fi = tassl_encoder_features(env->encoder);
        int64_t div = fi.stride[fi.n - 1];
        for (int a = 3 - env->dims; a < 3; a++)
            if (size[a] % div != 0)
                return tassl_error(TASSL_ERR_ARG,
                                   "method.%s: its %s are %lld x %lld x %lld, not divisible by "
                                   "the unet's deepest stride %lld (change data.patch or "
                                   "model.unet.levels)",
                                   method, what, (long long)size[0], (long long)size[1],
                                   (long long)size[2], (long long)div);
        return TASSL_OK;
    }
    default:
        return TASSL_OK;
    }
}

int64_t ssl_min_side(const tassl_ssl_env *env) {
    int64_t m = env->sample[2] < env->sample[3] ? env->sample[2] : env->sample[3];
    if (env->dims == 3 && env->sample[1] < m) m = env->sample[1];
    return m;
}

void ssl_set_preview(tassl_ssl_loss_out *out, tassl_tensor *input, tassl_tensor *corrupted,
                     tassl_tensor *recon, tassl_tensor *emb) {
    out->preview[0] = tassl_detach(input);
    out->preview[1] = tassl_detach(corrupted);
    out->preview[2] = tassl_detach(recon);
    out->embedding = emb ? tassl_detach(emb) : NULL;
}

/* ---- MAE patchify ----------------------------------------------------------------------------
 * 2D: (N, C, H, W) → (N·C·gh, p, gw, p) → permute → (N·C·gh, gw, p, p) = [n c th tw ph pw]
 *     → (N, C, T, p²) → permute → (N, T, p², C) → (N, T, p²·C).
 * 3D: (N, C, D, H, W) → (N·C·gd, p, gh, p, W) → permute → (N·C·gd, gh, p, p, W)
 *     = [n c td th pd ph (tw pw)] → (N·C·gd·gh, p², gw, p) → permute → (N·C·gd·gh, gw, p², p)
 *     = [n c td th tw pd ph pw] → (N, C, T, p³) → permute → (N, T, p³, C) → (N, T, p³·C).
 * Every intermediate has at most five dims; each permute is made contiguous before the next
 * reshape. unpatchify runs the same steps backwards. */

static tassl_tensor *permuted(tassl_tensor *x, const int *perm) {
    return tassl_contiguous(tassl_permute(x, perm));
}

tassl_tensor *ssl_patchify(tassl_tensor *x, int p) {
    char s[64];
    const int dims = x->ndim - 2;
    TASSL_CHECK(dims == 2 || dims == 3, "ssl_patchify: x is %s, expected (N, C, S...)",
                tassl_shape_str(x, s, sizeof s));
    for (int a = 2; a < x->ndim; a++)
        TASSL_CHECK(x->shape[a] % p == 0, "ssl_patchify: %s is not divisible by patch %d",
                    tassl_shape_str(x, s, sizeof s), p);
    const int64_t N = x->shape[0], C = x->shape[1];
    x = tassl_contiguous(x);
    tassl_tensor *t;
    int64_t T, P;
    if (dims == 2) {
        const int64_t gh = x->shape[2] / p, gw = x->shape[3] / p;
        T = gh * gw, P = (int64_t)p * p;
        t = tassl_reshape(x, TASSL_SHAPE(N * C * gh, p, gw, p));
        t = permuted(t, (int[]){0, 2, 1, 3}); // (N·C·gh, gw, p, p)
    } else {
        const int64_t gd = x->shape[2] / p, gh = x->shape[3] / p, gw = x->shape[4] / p;
        T = gd * gh * gw, P = (int64_t)p * p * p;
        t = tassl_reshape(x, TASSL_SHAPE(N * C * gd, p, gh, p, x->shape[4]));
        t = permuted(t, (int[]){0, 2, 1, 3, 4}); // (N·C·gd, gh, p, p, W)
        t = tassl_reshape(t, TASSL_SHAPE(N * C * gd * gh, (int64_t)p * p, gw, p));
        t = permuted(t, (int[]){0, 2, 1, 3}); // (N·C·gd·gh, gw, p², p)
    }
    t = tassl_reshape(t, TASSL_SHAPE(N, C, T, P));
    t = permuted(t, (int[]){0, 2, 3, 1});              // (N, T, P, C)
    return tassl_reshape(t, TASSL_SHAPE(N, T, P * C)); // (N, T, P·C)
}

tassl_tensor *ssl_unpatchify(tassl_tensor *t, int p, int64_t c, int dims, const int64_t *size) {
    char s[64];
    int64_t T = 1, P = 1;
    for (int a = 0; a < dims; a++) {
        TASSL_CHECK(size[a] % p == 0, "ssl_unpatchify: size %lld not divisible by patch %d",
                    (long long)size[a], p);
        T *= size[a] / p;
        P *= p;
    }
    TASSL_CHECK(t->ndim == 3 && t->shape[1] == T && t->shape[2] == P * c,
                "ssl_unpatchify: t is %s, expected (N, %lld, %lld)",
                tassl_shape_str(t, s, sizeof s), (long long)T, (long long)(P * c));
    const int64_t N = t->shape[0];
    tassl_tensor *x = tassl_reshape(tassl_contiguous(t), TASSL_SHAPE(N, T, P, c));
    x = permuted(x, (int[]){0, 3, 1, 2}); // (N, C, T, P)
    if (dims == 2) {
        const int64_t gh = size[0] / p, gw = size[1] / p;
        x = tassl_reshape(x, TASSL_SHAPE(N * c * gh, gw, p, p));
        x = permuted(x, (int[]){0, 2, 1, 3}); // (N·C·gh, p, gw, p)
        return tassl_reshape(x, TASSL_SHAPE(N, c, size[0], size[1]));
    }
    const int64_t gd = size[0] / p, gh = size[1] / p, gw = size[2] / p;
    x = tassl_reshape(x, TASSL_SHAPE(N * c * gd * gh, gw, (int64_t)p * p, p));
    x = permuted(x, (int[]){0, 2, 1, 3}); // (N·C·gd·gh, p², gw, p)
    x = tassl_reshape(x, TASSL_SHAPE(N * c * gd, gh, p, p, size[2]));
    x = permuted(x, (int[]){0, 2, 1, 3, 4}); // (N·C·gd, p, gh, p, W)
    return tassl_reshape(x, TASSL_SHAPE(N, c, size[0], size[1], size[2]));
}
