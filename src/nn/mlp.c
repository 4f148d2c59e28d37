/* mlp.c — MLP heads (projectors and predictors of SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins,
 * VICReg: Linear–norm–ReLU stacks) and the linear classifier (linear probe, fine-tuning head). */
#include <stdlib.h>
#include "nn_internal.h"

struct tassl_mlp {
    tassl_module *m;
    tassl_mlp_cfg cfg;
    nn_linear lin[TASSL_MLP_MAX_LAYERS];
    nn_norm norm[TASSL_MLP_MAX_LAYERS];
    bool relu[TASSL_MLP_MAX_LAYERS];
};

tassl_status tassl_mlp_new(tassl_params *p, const char *prefix, const tassl_mlp_cfg *cfg,
                           tassl_mlp **out) {
    *out = NULL;
    const char *w = "mlp";
    if (cfg->layers < 1 || cfg->layers > TASSL_MLP_MAX_LAYERS)
        return nn_bad(w, "layers", cfg->layers, "1 to 8");
    for (int i = 0; i <= cfg->layers; i++)
        if (cfg->dims[i] < 1)
            return nn_bad(w, "dims entry", cfg->dims[i], ">= 1 (layers + 1 dims)");
    if (cfg->norm != TASSL_NORM_BATCH && cfg->norm != TASSL_NORM_LAYER &&
        cfg->norm != TASSL_NORM_NONE)
        return tassl_error(TASSL_ERR_ARG, "mlp: norm is %s, expected batch, layer or none",
                           tassl_norm_kind_name(cfg->norm));
    tassl_mlp *h = calloc(1, sizeof *h);
    if (h) h->m = tassl_module_new(p, prefix);
    if (!h || !h->m) {
        free(h);
        return tassl_error(TASSL_ERR_NOMEM, "mlp: out of host memory");
    }
    h->cfg = *cfg;
    tassl_norm_cfg nc = {.kind = cfg->norm, .eps = cfg->eps, .momentum = cfg->momentum};
    for (int i = 0; i < cfg->layers; i++) {
        bool last = i == cfg->layers - 1;
        bool norm = cfg->norm != TASSL_NORM_NONE && (!last || cfg->last_norm);
        char b[NN_NAME], nm[NN_NAME];
        snprintf(b, sizeof b, "layers.%d", i);
        nn_linear_decl(h->m, &h->lin[i], nn_join(nm, b, "linear"), cfg->dims[i], cfg->dims[i + 1],
                       !norm, (tassl_init){0}, (tassl_init){0});
        tassl_norm_cfg ni = nc;
        if (!norm) ni.kind = TASSL_NORM_NONE;
        nn_norm_decl(h->m, &h->norm[i], nn_join(nm, b, "norm"), cfg->dims[i + 1], &ni,
                     !last || cfg->last_norm_affine, 1.0f);
        h->relu[i] = !last || cfg->last_relu;
    }
    *out = h;
    return TASSL_OK;
}

void tassl_mlp_free(tassl_mlp *h) {
    if (!h) return;
    tassl_module_free(h->m);
    free(h);
}

tassl_module *tassl_mlp_module(const tassl_mlp *h) {
    return h->m;
}

tassl_tensor *tassl_mlp_forward(tassl_mlp *h, tassl_tensor *x, bool training) {
    char s[64];
    TASSL_CHECK(x->ndim == 2 && x->shape[1] == h->cfg.dims[0],
                "tassl_mlp_forward(%s): x is %s, expected (N, %lld)", tassl_module_prefix(h->m),
                tassl_shape_str(x, s, sizeof s), (long long)h->cfg.dims[0]);
    for (int i = 0; i < h->cfg.layers; i++) {
        x = nn_norm_fwd(&h->norm[i], nn_linear_fwd(&h->lin[i], x), training); // (N, dims[i+1])
        if (h->relu[i]) x = tassl_relu(x);
    }
    return x;
}

struct tassl_classifier {
    tassl_module *m;
    nn_linear fc;
    int64_t in;
};

tassl_status tassl_classifier_new(tassl_params *p, const char *prefix, int64_t in, int64_t classes,
                                  tassl_classifier **out) {
    *out = NULL;
    if (in < 1) return nn_bad("classifier", "in", in, ">= 1");
    if (classes < 1) return nn_bad("classifier", "classes", classes, ">= 1");
    tassl_classifier *c = calloc(1, sizeof *c);
    if (c) c->m = tassl_module_new(p, prefix);
    if (!c || !c->m) {
        free(c);
        return tassl_error(TASSL_ERR_NOMEM, "classifier: out of host memory");
    }
    c->in = in;
    nn_linear_decl(c->m, &c->fc, "", in, classes, true, (tassl_init){0}, (tassl_init){0});
    *out = c;
    return TASSL_OK;
}

void tassl_classifier_free(tassl_classifier *c) {
    if (!c) return;
    tassl_module_free(c->m);
    free(c);
}

tassl_module *tassl_classifier_module(const tassl_classifier *c) {
    return c->m;
}

tassl_tensor *tassl_classifier_forward(tassl_classifier *c, tassl_tensor *x) {
    char s[64];
    TASSL_CHECK(x->ndim == 2 && x->shape[1] == c->in,
                "tassl_classifier_forward(%s): x is %s, expected (N, %lld)",
                tassl_module_prefix(c->m), tassl_shape_str(x, s, sizeof s), (long long)c->in);
    return nn_linear_fwd(&c->fc, x);
}
