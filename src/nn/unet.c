/* unet.c — a U-Net decoder that attaches to any encoder's feature pyramid (ResNet, the plain
 * U-Net encoder, anything describing its features with tassl_feature_info), and the plain U-Net
 * preset (double-conv encoder + that decoder), 2D and 3D.
 *
 * Decoder block: up-sample the running map to the skip's size (learned transposed conv or
 * bi/trilinear), concatenate the skip on channels, conv3×3–norm–ReLU twice. Encoders whose
 * finest feature is strided (ResNet's standard stem: stride 2) get a last block without skip
 * that returns to the input size; a 1×1 conv gives K class logits. */
#include <stdlib.h>
#include <string.h>
#include "nn_internal.h"

typedef struct dblock {
    int factor; /* up-sampling factor; 1 = none */
    int skip;   /* feature index merged, −1 = none (the last block of strided encoders) */
    nn_conv up; /* transposed mode with factor > 1 */
    nn_conv conv1, conv2;
    nn_norm norm1, norm2;
} dblock;

struct tassl_unet_decoder {
    tassl_module *m;
    tassl_feature_info enc;
    tassl_unet_decoder_cfg cfg;
    int nb;
    dblock b[TASSL_MAX_FEATURES];
    nn_conv head;
};

static tassl_status check_norm(const char *what, const tassl_norm_cfg *n) {
    if (n->kind == TASSL_NORM_LAYER || (unsigned)n->kind > TASSL_NORM_NONE)
        return tassl_error(TASSL_ERR_ARG, "%s: norm is %s, expected batch, group, instance or none",
                           what, tassl_norm_kind_name(n->kind));
    if (n->groups < 0) return nn_bad(what, "norm.groups", n->groups, ">= 0");
    return TASSL_OK;
}

static tassl_status dec_validate(const tassl_feature_info *e, const tassl_unet_decoder_cfg *c) {
    const char *w = "unet decoder";
    if (e->dims != 2 && e->dims != 3) return nn_bad(w, "encoder dims", e->dims, "2 or 3");
    if (e->n < 2 || e->n > TASSL_MAX_FEATURES)
        return nn_bad(w, "encoder features", e->n, "2 to 8 feature maps");
    for (int i = 0; i < e->n; i++) {
        if (e->channels[i] < 1) return nn_bad(w, "feature channels", e->channels[i], ">= 1");
        if (e->stride[i] < 1 || (i > 0 && e->stride[i] % e->stride[i - 1]))
            return nn_bad(w, "feature stride", e->stride[i],
                          "a positive multiple of the previous feature's stride");
    }
    if (c->classes < 1) return nn_bad(w, "classes", c->classes, ">= 1");
    if (c->up != TASSL_UP_TRANSPOSED && c->up != TASSL_UP_LINEAR)
        return nn_bad(w, "up", c->up, "transposed (0) or linear (1)");
    for (int i = 0; i < TASSL_MAX_FEATURES; i++)
        if (c->channels[i] < 0) return nn_bad(w, "channels", c->channels[i], ">= 0");
    return check_norm(w, &c->norm);
}

static void dblock_decl(tassl_module *m, dblock *k, int j, int dims, int64_t in, int64_t skipch,
                        int64_t out, int factor, int skip, const tassl_unet_decoder_cfg *cfg) {
    char base[NN_NAME], nm[NN_NAME];
    snprintf(base, sizeof base, "blocks.%d", j);
    k->factor = factor;
    k->skip = skip;
    int64_t cat = in + skipch;
    if (factor > 1 && cfg->up == TASSL_UP_TRANSPOSED) {
        nn_convt_decl(m, &k->up, nn_join(nm, base, "up"), dims, in, out, factor);
        cat = out + skipch;
    }
    const bool bias = cfg->norm.kind == TASSL_NORM_NONE;
    nn_conv_decl(m, &k->conv1, nn_join(nm, base, "conv1"), dims, cat, out, 3, 1, 1, bias,
                 nn_init_kaiming_out_relu());
    nn_norm_decl(m, &k->norm1, nn_join(nm, base, "norm1"), out, &cfg->norm, true, 1.0f);
    nn_conv_decl(m, &k->conv2, nn_join(nm, base, "conv2"), dims, out, out, 3, 1, 1, bias,
                 nn_init_kaiming_out_relu());
    nn_norm_decl(m, &k->norm2, nn_join(nm, base, "norm2"), out, &cfg->norm, true, 1.0f);
}

tassl_status tassl_unet_decoder_new(tassl_params *p, const char *prefix,
                                    const tassl_feature_info *enc,
                                    const tassl_unet_decoder_cfg *cfg, tassl_unet_decoder **out) {
    *out = NULL;
    tassl_status s = dec_validate(enc, cfg);
    if (s != TASSL_OK) return s;
    tassl_unet_decoder *d = calloc(1, sizeof *d);
    if (d) d->m = tassl_module_new(p, prefix);
    if (!d || !d->m) {
        free(d);
        return tassl_error(TASSL_ERR_NOMEM, "unet decoder: out of host memory");
    }
    d->enc = *enc;
    d->cfg = *cfg;
    const int n = enc->n, dims = enc->dims;
    int64_t in = enc->channels[n - 1];
    for (int j = 0; j < n - 1; j++) {
        int skip = n - 2 - j;
        int64_t o = cfg->channels[j] ? cfg->channels[j] : enc->channels[skip];
        dblock_decl(d->m, &d->b[j], j, dims, in, enc->channels[skip], o,
                    enc->stride[skip + 1] / enc->stride[skip], skip, cfg);
        in = o;
    }
    d->nb = n - 1;
    if (enc->stride[0] > 1) {
        int64_t o = cfg->channels[n - 1] ? cfg->channels[n - 1] : (in / 2 > 0 ? in / 2 : 1);
        dblock_decl(d->m, &d->b[n - 1], n - 1, dims, in, 0, o, enc->stride[0], -1, cfg);
        d->nb = n;
        in = o;
    }
    nn_conv_decl(d->m, &d->head, "head", dims, in, cfg->classes, 1, 1, 0, true,
                 nn_init_torch_default());
    *out = d;
    return TASSL_OK;
}

void tassl_unet_decoder_free(tassl_unet_decoder *d) {
    if (!d) return;
    tassl_module_free(d->m);
    free(d);
}

tassl_module *tassl_unet_decoder_module(const tassl_unet_decoder *d) {
    return d->m;
}

tassl_tensor *tassl_unet_decoder_forward(tassl_unet_decoder *d, const tassl_features *feats,
                                         bool training) {
    const int n = d->enc.n, dims = d->enc.dims;
    char s[64];
    TASSL_CHECK(feats->n == n, "tassl_unet_decoder_forward(%s): %d feature maps, expected %d",
                tassl_module_prefix(d->m), feats->n, n);
    for (int i = 0; i < n; i++)
        TASSL_CHECK(feats->f[i] && feats->f[i]->ndim == 2 + dims &&
                        feats->f[i]->shape[1] == d->enc.channels[i],
                    "tassl_unet_decoder_forward(%s): feature %d is %s, expected %lld channels "
                    "and %d spatial dims",
                    tassl_module_prefix(d->m), i,
                    feats->f[i] ? tassl_shape_str(feats->f[i], s, sizeof s) : "NULL",
                    (long long)d->enc.channels[i], dims);
    tassl_tensor *h = feats->f[n - 1]; // (N, C_{n−1}, S / stride_{n−1})
    for (int j = 0; j < d->nb; j++) {
        const dblock *k = &d->b[j];
        const int64_t *size = k->skip >= 0 ? feats->f[k->skip]->shape + 2 : feats->in_size;
        if (k->factor > 1) {
            if (d->cfg.up == TASSL_UP_TRANSPOSED)
                h = nn_convt_fwd(&k->up, h, size);
            else
                h = tassl_upsample_linear(h, size, false);
        }
        if (k->skip >= 0) {
            tassl_tensor *cat[2] = {h, feats->f[k->skip]};
            h = tassl_concat(2, cat, 1); // (N, C_up + C_skip, S / stride_skip)
        }
        h = tassl_relu(nn_norm_fwd(&k->norm1, nn_conv_fwd(&k->conv1, h), training));
        h = tassl_relu(nn_norm_fwd(&k->norm2, nn_conv_fwd(&k->conv2, h), training));
    }
    return nn_conv_fwd(&d->head, h); // (N, K, S)
}

/* ---- the plain U-Net ------------------------------------------------------------------------- */

struct tassl_unet {
    tassl_module *m;
    tassl_unet_cfg cfg;
    int levels;
    int64_t ch[8];
    nn_conv conv1[8], conv2[8];
    nn_norm norm1[8], norm2[8];
    tassl_unet_decoder *dec;
};

tassl_status tassl_unet_new(tassl_params *p, const char *prefix, const tassl_unet_cfg *cfg,
                            tassl_unet **out) {
    *out = NULL;
    const char *w = "unet";
    if (cfg->dims != 2 && cfg->dims != 3) return nn_bad(w, "dims", cfg->dims, "2 or 3");
    if (cfg->in_channels < 1) return nn_bad(w, "in_channels", cfg->in_channels, ">= 1");
    if (cfg->classes < 1) return nn_bad(w, "classes", cfg->classes, ">= 1");
    if (cfg->levels != 0 && (cfg->levels < 2 || cfg->levels > 8))
        return nn_bad(w, "levels", cfg->levels, "2 to 8");
    if (cfg->base < 0 || cfg->base > 4096) return nn_bad(w, "base", cfg->base, "1 to 4096");
    tassl_status s = check_norm(w, &cfg->norm);
    if (s != TASSL_OK) return s;
    tassl_unet *u = calloc(1, sizeof *u);
    if (u) u->m = tassl_module_new(p, prefix);
    if (!u || !u->m) {
        free(u);
        return tassl_error(TASSL_ERR_NOMEM, "unet: out of host memory");
    }
    u->cfg = *cfg;
    u->levels = cfg->levels ? cfg->levels : 4;
    int64_t base = cfg->base ? cfg->base : 32, in = cfg->in_channels;
    const bool bias = cfg->norm.kind == TASSL_NORM_NONE;
    for (int l = 0; l < u->levels; l++) {
        char b[NN_NAME], nm[NN_NAME];
        snprintf(b, sizeof b, "encoder.%d", l);
        u->ch[l] = base << l;
        nn_conv_decl(u->m, &u->conv1[l], nn_join(nm, b, "conv1"), cfg->dims, in, u->ch[l], 3, 1, 1,
                     bias, nn_init_kaiming_out_relu());
        nn_norm_decl(u->m, &u->norm1[l], nn_join(nm, b, "norm1"), u->ch[l], &cfg->norm, true, 1);
        nn_conv_decl(u->m, &u->conv2[l], nn_join(nm, b, "conv2"), cfg->dims, u->ch[l], u->ch[l], 3,
                     1, 1, bias, nn_init_kaiming_out_relu());
        nn_norm_decl(u->m, &u->norm2[l], nn_join(nm, b, "norm2"), u->ch[l], &cfg->norm, true, 1);
        in = u->ch[l];
    }
    tassl_feature_info fi = tassl_unet_features(u);
    tassl_unet_decoder_cfg dc = {.classes = cfg->classes, .up = cfg->up, .norm = cfg->norm};
    char dp[NN_NAME];
    s = tassl_unet_decoder_new(p, nn_join(dp, prefix, "decoder"), &fi, &dc, &u->dec);
    if (s != TASSL_OK) {
        tassl_unet_free(u);
        return s;
    }
    *out = u;
    return TASSL_OK;
}

void tassl_unet_free(tassl_unet *u) {
    if (!u) return;
    tassl_unet_decoder_free(u->dec);
    tassl_module_free(u->m);
    free(u);
}

tassl_module *tassl_unet_encoder_module(const tassl_unet *u) {
    return u->m;
}
tassl_module *tassl_unet_decoder_module_of(const tassl_unet *u) {
    return u->dec->m;
}

tassl_feature_info tassl_unet_features(const tassl_unet *u) {
    tassl_feature_info fi = {.dims = u->cfg.dims, .n = u->levels};
    for (int l = 0; l < u->levels; l++) {
        fi.channels[l] = u->ch[l];
        fi.stride[l] = 1 << l;
    }
    return fi;
}

static void encode(tassl_unet *u, tassl_tensor *x, bool training, tassl_features *feats) {
    const int dims = u->cfg.dims;
    char s[64];
    int64_t div = (int64_t)1 << (u->levels - 1);
    bool ok = x->ndim == 2 + dims && x->shape[1] == u->cfg.in_channels;
    for (int d = 0; ok && d < dims; d++)
        ok = x->shape[2 + d] % div == 0;
    TASSL_CHECK(ok, "tassl_unet(%s): x is %s, expected (N, %d, S...) with S divisible by %lld",
                tassl_module_prefix(u->m), tassl_shape_str(x, s, sizeof s), u->cfg.in_channels,
                (long long)div);
    feats->n = u->levels;
    for (int d = 0; d < 3; d++)
        feats->in_size[d] = d < dims ? x->shape[2 + d] : 1;
    tassl_tensor *h = x;
    const int two[3] = {2, 2, 2};
    for (int l = 0; l < u->levels; l++) {
        if (l > 0) h = tassl_max_pool(h, two, two, NULL); // (N, C_{l−1}, S / 2^l)
        h = tassl_relu(nn_norm_fwd(&u->norm1[l], nn_conv_fwd(&u->conv1[l], h), training));
        h = tassl_relu(nn_norm_fwd(&u->norm2[l], nn_conv_fwd(&u->conv2[l], h), training));
        feats->f[l] = h; // (N, base·2^l, S / 2^l)
    }
}

tassl_tensor *tassl_unet_encode(tassl_unet *u, tassl_tensor *x, bool training,
                                tassl_features *feats) {
    tassl_features local;
    if (!feats) feats = &local;
    encode(u, x, training, feats);
    return tassl_global_avg_pool(feats->f[u->levels - 1]); // (N, base·2^(levels−1))
}

tassl_tensor *tassl_unet_forward(tassl_unet *u, tassl_tensor *x, bool training) {
    tassl_features f;
    encode(u, x, training, &f);
    return tassl_unet_decoder_forward(u->dec, &f, training);
}
