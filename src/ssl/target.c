/* target.c — the EMA target network of BYOL and MoCo (see ssl_target.h): an encoder clone and a
 * projector clone in their own parameter set, mapped by name onto the online entries, updated
 * run by run with tensor ops under no-grad. */
#include <stdlib.h>
#include <string.h>
#include "ssl_target.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

tassl_status ssl_target_new(const tassl_ssl_env *env, const char *prefix,
                            const tassl_mlp_cfg *proj_cfg, ssl_target **out) {
    *out = NULL;
    ssl_target *t = calloc(1, sizeof *t);
    if (!t) return tassl_error(TASSL_ERR_NOMEM, "ssl target: out of host memory");
    t->ctx = env->ctx;
    t->online = env->params;
    tassl_ssl_name(t->proj_prefix, sizeof t->proj_prefix, prefix, "projector.");
    tassl_status s = TASSL_OK;
    if (!(t->params = tassl_params_new(env->ctx)))
        s = tassl_error(TASSL_ERR_NOMEM, "ssl target: out of host memory");
    if (s == TASSL_OK) s = tassl_ssl_encoder_clone(env, t->params, &t->enc);
    if (s == TASSL_OK) s = tassl_mlp_new(t->params, "projector", proj_cfg, &t->proj);
    if (s == TASSL_OK) s = tassl_params_finalize(t->params);
    if (s != TASSL_OK) {
        ssl_target_free(t);
        return s;
    }
    *out = t;
    return TASSL_OK;
}

void ssl_target_free(ssl_target *t) {
    if (!t) return;
    tassl_mlp_free(t->proj);
    tassl_encoder_free(t->enc);
    tassl_params_free(t->params);
    free(t->upd);
    free(t->copy);
    free(t);
}

/* padded length of an entry in a flat buffer (tassl_params_add rounds to 16 floats) */
static int64_t padded(const tassl_tensor *x) {
    return (tassl_numel(x) + 15) / 16 * 16;
}

/* append [t_off, o_off, len) to a run list, merging with the previous run when both sides
 * continue it exactly (pad included) */
static void add_run(ssl_run *runs, int64_t *n, int64_t t_off, int64_t o_off, int64_t len,
                    int64_t prev_pad_end_t, int64_t prev_pad_end_o) {
    if (*n > 0 && t_off == prev_pad_end_t && o_off == prev_pad_end_o) {
        runs[*n - 1].len = t_off + len - runs[*n - 1].t_off;
        return;
    }
    runs[(*n)++] = (ssl_run){t_off, o_off, len};
}

tassl_status ssl_target_init(ssl_target *t) {
    int n = tassl_params_count(t->params);
    t->upd = malloc(sizeof *t->upd * (size_t)(n + 1));
    t->copy = malloc(sizeof *t->copy * (size_t)(n + 1));
    if (!t->upd || !t->copy) return tassl_error(TASSL_ERR_NOMEM, "ssl target: out of host memory");
    t->nupd = t->ncopy = 0;
    /* where the previous entry of each list ended (padded), on both sides */
    int64_t up_t = -1, up_o = -1, cp_t = -1, cp_o = -1;
    for (int i = 0; i < n; i++) {
        const tassl_tensor *x = tassl_params_get(t->params, i);
        char name[256];
        if (strncmp(x->name, "projector.", 10) == 0)
            snprintf(name, sizeof name, "%s%s", t->proj_prefix, x->name + 10);
        else
            snprintf(name, sizeof name, "%s", x->name);
        const tassl_tensor *o = tassl_params_find(t->online, name);
        if (!o || !tassl_same_shape(o, x)) {
            char a[96], b[96];
            return tassl_error(TASSL_ERR_ARG,
                               "ssl target: entry %s (%s) has no online twin %s of that shape (%s)",
                               x->name, tassl_shape_str(x, a, sizeof a), name,
                               o ? tassl_shape_str(o, b, sizeof b) : "absent");
        }
        int64_t len = tassl_numel(x);
        if (len == 0) continue;
        add_run(t->copy, &t->ncopy, x->off, o->off, len, cp_t, cp_o);
        cp_t = x->off + padded(x);
        cp_o = o->off + padded(o);
        if (!tassl_params_is_buffer(t->params, i)) {
            add_run(t->upd, &t->nupd, x->off, o->off, len, up_t, up_o);
            up_t = x->off + padded(x);
            up_o = o->off + padded(o);
        }
    }
    tassl_ctx *ctx = t->ctx;
    tassl_scope_begin(ctx);
    tassl_no_grad_begin(ctx);
    tassl_tensor *tf = tassl_params_flat(t->params), *of = tassl_params_flat(t->online);
    for (int64_t r = 0; r < t->ncopy; r++) {
        const ssl_run *u = &t->copy[r];
        tassl_copy_(tassl_slice(tf, 0, u->t_off, u->t_off + u->len, 1),
                    tassl_slice(of, 0, u->o_off, u->o_off + u->len, 1));
    }
    tassl_no_grad_end(ctx);
    tassl_scope_end(ctx);
    return tassl_ctx_status(ctx);
}

tassl_status ssl_target_update(ssl_target *t, float tau) {
    if (!(tau >= 0.0f && tau <= 1.0f))
        return tassl_error(TASSL_ERR_ARG, "ssl target: momentum %g must be in [0, 1]", tau);
    tassl_ctx *ctx = t->ctx;
    if (tassl_ctx_status(ctx) != TASSL_OK) return tassl_ctx_status(ctx);
    const float keep = tau, take = 1.0f - tau;
    tassl_scope_begin(ctx);
    tassl_no_grad_begin(ctx);
    tassl_tensor *tf = tassl_params_flat(t->params), *of = tassl_params_flat(t->online);
    for (int64_t r = 0; r < t->nupd; r++) {
        const ssl_run *u = &t->upd[r];
        tassl_tensor *tv = tassl_slice(tf, 0, u->t_off, u->t_off + u->len, 1); // (len)
        tassl_tensor *ov = tassl_slice(of, 0, u->o_off, u->o_off + u->len, 1); // (len)
        tassl_copy_(tv, tassl_add(tassl_scale(tv, keep), tassl_scale(ov, take)));
    }
    tassl_no_grad_end(ctx);
    tassl_scope_end(ctx);
    return tassl_ctx_status(ctx);
}

tassl_tensor *ssl_target_forward(ssl_target *t, tassl_tensor *x) {
    tassl_no_grad_begin(t->ctx);
    tassl_tensor *h = tassl_encoder_forward(t->enc, x, true, NULL); // (N, D)
    tassl_tensor *z = tassl_mlp_forward(t->proj, h, true);          // (N, P)
    tassl_no_grad_end(t->ctx);
    return tassl_detach(z);
}

tassl_status ssl_target_bind(ssl_target *t, const char *prefix, tassl_ckpt *ck) {
    char name[128];
    return tassl_ckpt_add_params(ck, tassl_ssl_name(name, sizeof name, prefix, "target."),
                                 t->params);
}

ssl_target *ssl_member_target(const tassl_ssl *s, int m) {
    if (m < 0 || m >= s->nmembers) return NULL;
    if (s->mem[m].m == &tassl_ssl_byol) return ssl_byol_target(s->mem[m].state);
    if (s->mem[m].m == &tassl_ssl_moco) return ssl_moco_target(s->mem[m].state);
    return NULL;
}

tassl_tensor *ssl_moco_queue(const tassl_ssl *s, int m, tassl_tensor **ptr_tensor) {
    if (ptr_tensor) *ptr_tensor = NULL;
    if (m < 0 || m >= s->nmembers || s->mem[m].m != &tassl_ssl_moco) return NULL;
    return ssl_moco_queue_of(s->mem[m].state, ptr_tensor);
}
