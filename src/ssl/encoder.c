/* encoder.c — the encoder every SSL method shares (ResNet 2D/3D, ViT, the plain U-Net's encoder
 * half), built from model.* keys, and the dense decoder that generative methods put on it (a
 * U-Net decoder over the ResNet's feature pyramid, or the U-Net's own decoder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/ops.h"

struct tassl_encoder {
    tassl_encoder_arch arch;
    int dims;
    int64_t size[3];
    tassl_resnet *resnet;
    tassl_vit *vit;
    tassl_unet *unet;
    bool vit_cls;
    bool unet_decoder_claimed;
    tassl_norm_cfg norm; /* model.norm, for decoders put on this encoder */
};

struct tassl_ssl_decoder {
    tassl_encoder *enc;
    tassl_unet_decoder *dec; /* NULL: the U-Net's own decoder */
};

static tassl_status norm_of(const tassl_config *c, tassl_norm_cfg *n) {
    memset(n, 0, sizeof *n);
    tassl_status s = tassl_norm_kind_parse(tassl_config_str(c, "model.norm"), &n->kind);
    if (s != TASSL_OK) return ssl_wrap(s, "model.norm");
    n->groups = (int)tassl_config_int(c, "model.groups");
    return TASSL_OK;
}

static tassl_status build_resnet(tassl_params *p, const tassl_config *c, tassl_encoder *e) {
    tassl_resnet_cfg rc = {0};
    rc.depth = (int)tassl_config_int(c, "model.depth");
    rc.dims = e->dims;
    rc.in_channels = (int)tassl_config_int(c, "model.in_channels");
    rc.width = (float)tassl_config_float(c, "model.width");
    rc.stem = strcmp(tassl_config_str(c, "model.stem"), "small") == 0 ? TASSL_STEM_SMALL
                                                                      : TASSL_STEM_STANDARD;
    tassl_status s = norm_of(c, &rc.norm);
    if (s != TASSL_OK) return s;
    e->norm = rc.norm;
    if (rc.norm.kind == TASSL_NORM_LAYER)
        return tassl_error(TASSL_ERR_ARG, "model.norm: 'layer' is for the ViT; a ResNet takes "
                                          "batch, group, instance or none");
    rc.zero_init_residual = tassl_config_bool(c, "model.zero_init_residual");
    return tassl_resnet_new(p, "encoder", &rc, &e->resnet);
}

static tassl_status build_vit(tassl_params *p, const tassl_config *c, tassl_encoder *e) {
    tassl_vit_cfg vc = {0};
    vc.dims = e->dims;
    vc.in_channels = (int)tassl_config_int(c, "model.in_channels");
    for (int i = 0; i < e->dims; i++)
        vc.img[i] = e->size[3 - e->dims + i];
    vc.patch = (int)tassl_config_int(c, "model.vit.patch");
    vc.dim = (int)tassl_config_int(c, "model.vit.dim");
    vc.depth = (int)tassl_config_int(c, "model.vit.depth");
    vc.heads = (int)tassl_config_int(c, "model.vit.heads");
    vc.mlp_ratio = (float)tassl_config_float(c, "model.vit.mlp_ratio");
    vc.cls_token = tassl_config_bool(c, "model.vit.cls_token");
    vc.pos = strcmp(tassl_config_str(c, "model.vit.pos"), "learned") == 0 ? TASSL_POS_LEARNED
                                                                          : TASSL_POS_SINCOS;
    for (int i = 0; i < e->dims; i++)
        if (vc.img[i] % vc.patch != 0)
            return tassl_error(TASSL_ERR_ARG,
                               "model.vit.patch: %d does not divide the sample size %lld "
                               "(data.patch)",
                               vc.patch, (long long)vc.img[i]);
    if (vc.dim % vc.heads != 0)
        return tassl_error(TASSL_ERR_ARG,
                           "model.vit.dim: %d is not divisible by model.vit.heads "
                           "(%d)",
                           vc.dim, vc.heads);
    e->vit_cls = vc.cls_token;
    return tassl_vit_new(p, "encoder", &vc, &e->vit);
}

static tassl_status build_unet(tassl_params *p, const tassl_config *c, tassl_encoder *e) {
    tassl_unet_cfg uc = {0};
    uc.dims = e->dims;
    uc.in_channels = (int)tassl_config_int(c, "model.in_channels");
    uc.classes = uc.in_channels; /* its own decoder reconstructs the input */
    uc.levels = (int)tassl_config_int(c, "model.unet.levels");
    uc.base = (int)tassl_config_int(c, "model.unet.base");
    tassl_status s = norm_of(c, &uc.norm);
    if (s != TASSL_OK) return s;
    e->norm = uc.norm;
    int64_t div = (int64_t)1 << (uc.levels - 1);
    for (int i = 3 - e->dims; i < 3; i++)
        if (e->size[i] % div != 0)
            return tassl_error(TASSL_ERR_ARG,
                               "data.patch: %lld is not divisible by 2^(model.unet.levels - 1) "
                               "= %lld",
                               (long long)e->size[i], (long long)div);
    return tassl_unet_new(p, "", &uc, &e->unet);
}

tassl_status tassl_encoder_new(tassl_params *p, const tassl_config *cfg, const int64_t size[3],
                               tassl_encoder **out) {
    *out = NULL;
    tassl_encoder *e = calloc(1, sizeof *e);
    if (!e) return tassl_error(TASSL_ERR_NOMEM, "encoder: out of host memory");
    e->dims = (int)tassl_config_int(cfg, "model.dims");
    memcpy(e->size, size, sizeof e->size);
    const char *arch = tassl_config_str(cfg, "model.arch");
    tassl_status s;
    if (strcmp(arch, "resnet") == 0) {
        e->arch = TASSL_ENCODER_RESNET;
        s = build_resnet(p, cfg, e);
    } else if (strcmp(arch, "vit") == 0) {
        e->arch = TASSL_ENCODER_VIT;
        s = build_vit(p, cfg, e);
    } else if (strcmp(arch, "unet") == 0) {
        e->arch = TASSL_ENCODER_UNET;
        s = build_unet(p, cfg, e);
    } else {
        s = tassl_error(TASSL_ERR_UNSUPPORTED,
                        "model.arch: '%s' cannot be pretrained (resnet, "
                        "vit or unet)",
                        arch);
    }
    if (s != TASSL_OK) {
        tassl_encoder_free(e);
        return s;
    }
    *out = e;
    return TASSL_OK;
}

void tassl_encoder_free(tassl_encoder *e) {
    if (!e) return;
    tassl_resnet_free(e->resnet);
    tassl_vit_free(e->vit);
    tassl_unet_free(e->unet);
    free(e);
}

tassl_module *tassl_encoder_module(const tassl_encoder *e) {
    switch (e->arch) {
    case TASSL_ENCODER_RESNET:
        return tassl_resnet_module(e->resnet);
    case TASSL_ENCODER_VIT:
        return tassl_vit_module(e->vit);
    default:
        return tassl_unet_encoder_module(e->unet);
    }
}

tassl_status tassl_encoder_init(tassl_encoder *e) {
    tassl_status s = tassl_module_init(tassl_encoder_module(e));
    if (s == TASSL_OK && e->arch == TASSL_ENCODER_UNET)
        s = tassl_module_init(tassl_unet_decoder_module_of(e->unet));
    return s;
}

tassl_encoder_arch tassl_encoder_arch_of(const tassl_encoder *e) {
    return e->arch;
}
int tassl_encoder_dims(const tassl_encoder *e) {
    return e->dims;
}
tassl_resnet *tassl_encoder_resnet(const tassl_encoder *e) {
    return e->resnet;
}
tassl_vit *tassl_encoder_vit(const tassl_encoder *e) {
    return e->vit;
}
tassl_unet *tassl_encoder_unet(const tassl_encoder *e) {
    return e->unet;
}

int64_t tassl_encoder_embed_dim(const tassl_encoder *e) {
    switch (e->arch) {
    case TASSL_ENCODER_RESNET:
        return tassl_resnet_embed_dim(e->resnet);
    case TASSL_ENCODER_VIT: {
        /* the width of the tokens: the first entry of the final norm's weight */
        tassl_module *m = tassl_vit_module(e->vit);
        for (int i = tassl_module_count(m) - 1; i >= 0; i--)
            if (strcmp(tassl_module_name(m, i), "encoder.norm.weight") == 0)
                return tassl_module_get(m, i)->shape[0];
        return 0;
    }
    default: {
        tassl_feature_info fi = tassl_unet_features(e->unet);
        return fi.channels[fi.n - 1];
    }
    }
}

tassl_feature_info tassl_encoder_features(const tassl_encoder *e) {
    tassl_feature_info none = {.dims = e->dims, .n = 0};
    switch (e->arch) {
    case TASSL_ENCODER_RESNET:
        return tassl_resnet_features(e->resnet);
    case TASSL_ENCODER_VIT:
        return none;
    default:
        return tassl_unet_features(e->unet);
    }
}

tassl_tensor *tassl_encoder_forward(tassl_encoder *e, tassl_tensor *x, bool training,
                                    tassl_features *feats) {
    switch (e->arch) {
    case TASSL_ENCODER_RESNET:
        return tassl_resnet_forward(e->resnet, x, training, feats);
    case TASSL_ENCODER_UNET:
        return tassl_unet_encode(e->unet, x, training, feats);
    default:
        break;
    }
    if (feats) feats->n = 0;
    tassl_tensor *tok = tassl_vit_forward(e->vit, x, training); /* (N, [1 +] T, D) */
    if (e->vit_cls) {
        tassl_tensor *cls = tassl_contiguous(tassl_slice(tok, 1, 0, 1, 1)); /* (N, 1, D) */
        return tassl_reshape(cls, TASSL_SHAPE(tok->shape[0], tok->shape[2]));
    }
    int ax = 1;
    return tassl_mean(tok, 1, &ax, false); /* (N, D) */
}

tassl_status tassl_ssl_encoder_clone(const tassl_ssl_env *env, tassl_params *p,
                                     tassl_encoder **out) {
    return tassl_encoder_new(p, env->cfg, env->encoder->size, out);
}

/* ---- decoder -------------------------------------------------------------------------------- */

tassl_status tassl_ssl_decoder_new(tassl_encoder *e, tassl_params *p, const char *prefix,
                                   int out_channels, tassl_ssl_decoder **out) {
    *out = NULL;
    if (e->arch == TASSL_ENCODER_VIT)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.arch: vit has no feature pyramid for a U-Net decoder; use a "
                           "token decoder (as MAE does) or model.arch resnet/unet");
    tassl_ssl_decoder *d = calloc(1, sizeof *d);
    if (!d) return tassl_error(TASSL_ERR_NOMEM, "decoder: out of host memory");
    d->enc = e;
    if (e->arch == TASSL_ENCODER_UNET) {
        tassl_module *em = tassl_encoder_module(e);
        int64_t in = tassl_module_get(em, 0)->shape[1]; /* encoder.0.conv1.weight (C0, Cin, k) */
        if (e->unet_decoder_claimed || out_channels != in) {
            free(d);
            return tassl_error(TASSL_ERR_ARG,
                               "model.arch: unet has one decoder (decoder.*) with %lld output "
                               "channels; %s",
                               (long long)in,
                               e->unet_decoder_claimed ? "another member already uses it"
                                                       : "a member asked for a different count");
        }
        e->unet_decoder_claimed = true;
        *out = d;
        return TASSL_OK;
    }
    tassl_feature_info fi = tassl_encoder_features(e);
    tassl_unet_decoder_cfg dc = {
        .classes = out_channels, .up = TASSL_UP_TRANSPOSED, .norm = e->norm};
    char name[256];
    tassl_status s = tassl_unet_decoder_new(p, tassl_ssl_name(name, sizeof name, prefix, "decoder"),
                                            &fi, &dc, &d->dec);
    if (s != TASSL_OK) {
        free(d);
        return s;
    }
    *out = d;
    return TASSL_OK;
}

void tassl_ssl_decoder_free(tassl_ssl_decoder *d) {
    if (!d) return;
    tassl_unet_decoder_free(d->dec);
    free(d);
}

tassl_status tassl_ssl_decoder_init(tassl_ssl_decoder *d) {
    return d->dec ? tassl_module_init(tassl_unet_decoder_module(d->dec)) : TASSL_OK;
}

tassl_tensor *tassl_ssl_decoder_forward(tassl_ssl_decoder *d, tassl_tensor *x, bool training,
                                        tassl_tensor **embed) {
    if (!d->dec) {
        /* the U-Net's own forward; it does not return the pooled bottleneck */
        if (embed) *embed = NULL;
        return tassl_unet_forward(d->enc->unet, x, training);
    }
    tassl_features f = {0};
    tassl_tensor *e = tassl_encoder_forward(d->enc, x, training, &f);
    if (embed) *embed = e;
    return tassl_unet_decoder_forward(d->dec, &f, training);
}
