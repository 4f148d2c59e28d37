/* views.c — pieces the two-view joint-embedding methods (SimCLR, BYOL, SimSiam, Barlow Twins,
 * VICReg) share: both views through the encoder and projector in one pass, and the wide
 * batch-normalised projector of Barlow Twins and VICReg. */
#include <stdio.h>
#include "ssl_internal.h"
#include "tassl/nn.h"
#include "tassl/ops.h"

tassl_tensor *ssl_two_view_project(const tassl_ssl_env *env, tassl_mlp *proj,
                                   const tassl_ssl_batch *b, tassl_tensor **x) {
    tassl_tensor *views[2] = {b->view[0], b->view[1]};
    tassl_tensor *xx = tassl_concat(2, views, 0);                       /* (2N, C, S...) */
    tassl_tensor *h = tassl_encoder_forward(env->encoder, xx, true, NULL); /* (2N, D) */
    if (x) *x = xx;
    return tassl_mlp_forward(proj, h, true); /* (2N, P) */
}

void ssl_split_views(tassl_tensor *z, int64_t n, tassl_tensor **z1, tassl_tensor **z2) {
    *z1 = tassl_slice(z, 0, 0, n, 1);
    *z2 = tassl_slice(z, 0, n, 2 * n, 1);
}

tassl_status ssl_wide_projector_new(const tassl_ssl_env *env, const char *prefix,
                                    const char *method, tassl_mlp **out) {
    char key[96], name[128];
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    snprintf(key, sizeof key, "method.%s.proj_dim", method);
    int64_t dim = tassl_config_int(env->cfg, key);
    snprintf(key, sizeof key, "method.%s.proj_hidden", method);
    int64_t hidden = tassl_config_int(env->cfg, key);
    if (!dim) dim = 4 * d; /* the papers' 8192 / 2048 ratio, scaled to the encoder */
    if (!hidden) hidden = dim;
    tassl_mlp_cfg pc = {.layers = 3, .dims = {d, hidden, hidden, dim}, .norm = TASSL_NORM_BATCH};
    return tassl_mlp_new(env->params, tassl_ssl_name(name, sizeof name, prefix, "projector"), &pc,
                         out);
}
