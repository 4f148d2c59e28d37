/* resnet.c — ResNet encoders (BasicBlock, depth 10/18/34), 2D and 3D, any width, two stems,
 * batch/group/instance norm, torchvision's parameter names and initialisation.
 *
 * The forward returns the pooled embedding and, for decoders, the multi-scale feature maps:
 * the stem output and each stage. Spatial sizes follow the strided convolutions (ceil(S/2) per
 * stride-2 step), so any input size the strides allow works. */
#include <math.h>
#include <stdlib.h>
#include "nn_internal.h"

typedef struct block {
    nn_conv conv1, conv2, down;
    nn_norm bn1, bn2, down_bn;
    bool has_down;
} block;

struct tassl_resnet {
    tassl_module *m;
    tassl_resnet_cfg cfg;
    nn_conv conv1;
    nn_norm bn1;
    int nblocks[4];
    block blocks[4][6]; /* fixed storage: slots must not move */
    int64_t ch[4], stem_ch;
};

static tassl_status validate(const tassl_resnet_cfg *c) {
    const char *w = "resnet";
    if (c->depth != 10 && c->depth != 18 && c->depth != 34)
        return nn_bad(w, "depth", c->depth, "10, 18 or 34");
    if (c->dims != 2 && c->dims != 3) return nn_bad(w, "dims", c->dims, "2 or 3");
    if (c->in_channels < 1) return nn_bad(w, "in_channels", c->in_channels, ">= 1");
    if (!(c->width >= 0) || c->width > 64)
        return tassl_error(TASSL_ERR_ARG, "resnet: width is %g, expected in (0, 64]",
                           (double)c->width);
    if (c->stem != TASSL_STEM_STANDARD && c->stem != TASSL_STEM_SMALL)
        return nn_bad(w, "stem", c->stem, "standard (0) or small (1)");
    if (c->norm.kind == TASSL_NORM_LAYER || (unsigned)c->norm.kind > TASSL_NORM_NONE)
        return tassl_error(TASSL_ERR_ARG,
                           "resnet: norm is %s, expected batch, group, instance "
                           "or none",
                           tassl_norm_kind_name(c->norm.kind));
    if (c->norm.groups < 0) return nn_bad(w, "norm.groups", c->norm.groups, ">= 0");
    return TASSL_OK;
}

tassl_status tassl_resnet_new(tassl_params *p, const char *prefix, const tassl_resnet_cfg *cfg,
                              tassl_resnet **out) {
    *out = NULL;
    tassl_status s = validate(cfg);
    if (s != TASSL_OK) return s;
    tassl_resnet *r = calloc(1, sizeof *r);
    if (r) r->m = tassl_module_new(p, prefix);
    if (!r || !r->m) {
        free(r);
        return tassl_error(TASSL_ERR_NOMEM, "resnet: out of host memory");
    }
    r->cfg = *cfg;
    float width = cfg->width > 0 ? cfg->width : 1.0f;
    static const int plan[3][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 4, 6, 3}};
    const int *nb = plan[cfg->depth == 10 ? 0 : cfg->depth == 18 ? 1 : 2];
    for (int i = 0; i < 4; i++) {
        long c = lroundf(64.0f * width * (float)(1 << i));
        r->ch[i] = c < 1 ? 1 : c;
        r->nblocks[i] = nb[i];
    }
    r->stem_ch = r->ch[0];
    const int dims = cfg->dims;
    const bool bias = cfg->norm.kind == TASSL_NORM_NONE;
    const tassl_init kin = nn_init_kaiming_out_relu();
    tassl_module *m = r->m;
    if (cfg->stem == TASSL_STEM_STANDARD)
        nn_conv_decl(m, &r->conv1, "conv1", dims, cfg->in_channels, r->stem_ch, 7, 2, 3, bias, kin);
    else
        nn_conv_decl(m, &r->conv1, "conv1", dims, cfg->in_channels, r->stem_ch, 3, 1, 1, bias, kin);
    nn_norm_decl(m, &r->bn1, "bn1", r->stem_ch, &cfg->norm, true, 1.0f);
    int64_t in = r->stem_ch;
    for (int st = 0; st < 4; st++) {
        for (int b = 0; b < nb[st]; b++) {
            block *k = &r->blocks[st][b];
            char base[NN_NAME], nm[NN_NAME];
            snprintf(base, sizeof base, "layer%d.%d", st + 1, b);
            int stride = (st > 0 && b == 0) ? 2 : 1;
            int64_t c = r->ch[st];
            nn_conv_decl(m, &k->conv1, nn_join(nm, base, "conv1"), dims, in, c, 3, stride, 1, bias,
                         kin);
            nn_norm_decl(m, &k->bn1, nn_join(nm, base, "bn1"), c, &cfg->norm, true, 1.0f);
            nn_conv_decl(m, &k->conv2, nn_join(nm, base, "conv2"), dims, c, c, 3, 1, 1, bias, kin);
            nn_norm_decl(m, &k->bn2, nn_join(nm, base, "bn2"), c, &cfg->norm, true,
                         cfg->zero_init_residual ? 0.0f : 1.0f);
            if (stride != 1 || in != c) {
                k->has_down = true;
                nn_conv_decl(m, &k->down, nn_join(nm, base, "downsample.0"), dims, in, c, 1, stride,
                             0, bias, kin);
                nn_norm_decl(m, &k->down_bn, nn_join(nm, base, "downsample.1"), c, &cfg->norm, true,
                             1.0f);
            }
            in = c;
        }
    }
    *out = r;
    return TASSL_OK;
}

void tassl_resnet_free(tassl_resnet *r) {
    if (!r) return;
    tassl_module_free(r->m);
    free(r);
}

tassl_module *tassl_resnet_module(const tassl_resnet *r) {
    return r->m;
}
int64_t tassl_resnet_embed_dim(const tassl_resnet *r) {
    return r->ch[3];
}

tassl_feature_info tassl_resnet_features(const tassl_resnet *r) {
    tassl_feature_info fi = {.dims = r->cfg.dims, .n = 5};
    int s = r->cfg.stem == TASSL_STEM_STANDARD ? 2 : 1;
    fi.channels[0] = r->stem_ch;
    fi.stride[0] = s;
    if (r->cfg.stem == TASSL_STEM_STANDARD) s *= 2; /* the max-pool */
    for (int i = 0; i < 4; i++) {
        if (i > 0) s *= 2;
        fi.channels[1 + i] = r->ch[i];
        fi.stride[1 + i] = s;
    }
    return fi;
}

static tassl_tensor *block_fwd(const block *k, tassl_tensor *x, bool training) {
    tassl_tensor *h = tassl_relu(nn_norm_fwd(&k->bn1, nn_conv_fwd(&k->conv1, x), training));
    h = nn_norm_fwd(&k->bn2, nn_conv_fwd(&k->conv2, h), training);
    tassl_tensor *id =
        k->has_down ? nn_norm_fwd(&k->down_bn, nn_conv_fwd(&k->down, x), training) : x;
    return tassl_relu(tassl_add(h, id));
}

tassl_tensor *tassl_resnet_forward(tassl_resnet *r, tassl_tensor *x, bool training,
                                   tassl_features *feats) {
    char s[64];
    const int dims = r->cfg.dims;
    TASSL_CHECK(x->ndim == 2 + dims && x->shape[1] == r->cfg.in_channels,
                "tassl_resnet_forward(%s): x is %s, expected (N, %d, %s)",
                tassl_module_prefix(r->m), tassl_shape_str(x, s, sizeof s), r->cfg.in_channels,
                dims == 2 ? "H, W" : "D, H, W");
    if (feats) {
        feats->n = 5;
        for (int d = 0; d < 3; d++)
            feats->in_size[d] = d < dims ? x->shape[2 + d] : 1;
    }
    // (N, C0, S/2) standard, (N, C0, S) small
    tassl_tensor *h = tassl_relu(nn_norm_fwd(&r->bn1, nn_conv_fwd(&r->conv1, x), training));
    if (feats) feats->f[0] = h;
    if (r->cfg.stem == TASSL_STEM_STANDARD) {
        const int k[3] = {3, 3, 3}, st[3] = {2, 2, 2}, pd[3] = {1, 1, 1};
        h = tassl_max_pool(h, k, st, pd); // (N, C0, S/4)
    }
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < r->nblocks[i]; b++)
            h = block_fwd(&r->blocks[i][b], h, training);
        if (feats) feats->f[1 + i] = h; // (N, C_i, S / stride_i)
    }
    return tassl_global_avg_pool(h); // (N, C3)
}
