/* framework.c — the SSL framework instance: resolves method.name (one method, or the members of
 * a hybrid), builds the shared encoder and every member's heads into one parameter set, merges
 * the members' input requests for the data side, uploads a step's batch and sums the members'
 * weighted losses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

tassl_params *tassl_ssl_params(const tassl_ssl *s) {
    return s->env.params;
}
tassl_encoder *tassl_ssl_encoder(const tassl_ssl *s) {
    return s->enc;
}
const tassl_ssl_env *tassl_ssl_env_of(const tassl_ssl *s) {
    return &s->env;
}
int tassl_ssl_members(const tassl_ssl *s) {
    return s->nmembers;
}
const tassl_ssl_method *tassl_ssl_member_method(const tassl_ssl *s, int m) {
    return m >= 0 && m < s->nmembers ? s->mem[m].m : NULL;
}
const char *tassl_ssl_member_prefix(const tassl_ssl *s, int m) {
    return m >= 0 && m < s->nmembers ? s->mem[m].prefix : NULL;
}
tassl_ssl_inputs tassl_ssl_inputs_of(const tassl_ssl *s) {
    return s->all;
}

static tassl_status unknown_method(const char *key, const char *name) {
    char known[512] = "";
    for (int i = 0; i < tassl_ssl_method_count(); i++) {
        size_t n = strlen(known);
        snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", tassl_ssl_method_at(i)->name);
    }
    return tassl_error(TASSL_ERR_ARG, "%s: '%s' is not a self-supervised method (known: %s)", key,
                       name, known);
}

/* method.name → members (names, weights, prefixes) */
static tassl_status resolve_members(tassl_ssl *s, const tassl_config *cfg) {
    const char *name = tassl_config_str(cfg, "method.name");
    if (strcmp(name, "hybrid") != 0) {
        const tassl_ssl_method *m = tassl_ssl_method_find(name);
        if (!m) return unknown_method("method.name", name);
        s->nmembers = 1;
        s->mem[0] = (ssl_member){.m = m, .weight = 1.0f};
        return TASSL_OK;
    }
    int n = tassl_config_list_len(cfg, "method.hybrid.members");
    int nw = tassl_config_list_len(cfg, "method.hybrid.weights");
    if (n < 1 || n > TASSL_SSL_MAX_MEMBERS)
        return tassl_error(TASSL_ERR_ARG,
                           "method.hybrid.members: a hybrid needs 1 to %d member methods, got %d",
                           TASSL_SSL_MAX_MEMBERS, n);
    if (nw != 0 && nw != n)
        return tassl_error(TASSL_ERR_ARG,
                           "method.hybrid.weights: %d weights for %d members (give one per "
                           "member, or none for 1 each)",
                           nw, n);
    for (int i = 0; i < n; i++) {
        const char *mn = tassl_config_list_str(cfg, "method.hybrid.members", i);
        char key[64];
        snprintf(key, sizeof key, "method.hybrid.members[%d]", i);
        const tassl_ssl_method *m = tassl_ssl_method_find(mn);
        if (!m) return unknown_method(key, mn);
        for (int j = 0; j < i; j++)
            if (s->mem[j].m == m)
                return tassl_error(TASSL_ERR_ARG, "%s: '%s' is listed twice", key, mn);
        s->mem[i] = (ssl_member){
            .m = m,
            .weight = nw ? (float)tassl_config_list_float(cfg, "method.hybrid.weights", i) : 1.0f};
        snprintf(s->mem[i].prefix, sizeof s->mem[i].prefix, "%s.", mn);
    }
    s->nmembers = n;
    return TASSL_OK;
}

/* Union of the members' inputs; custom input names checked. */
static tassl_status merge_inputs(tassl_ssl *s) {
    tassl_ssl_inputs *u = &s->all;
    memset(u, 0, sizeof *u);
    for (int m = 0; m < s->nmembers; m++) {
        const tassl_ssl_inputs *in = &s->mem[m].in;
        const char *mn = s->mem[m].m->name;
        if (in->views < 0 || in->views > TASSL_SSL_MAX_VIEWS || in->ncustom < 0 ||
            in->ncustom > TASSL_SSL_MAX_CUSTOM)
            return tassl_error(TASSL_ERR_ARG,
                               "method %s: asks for %d views and %d custom inputs "
                               "(at most %d and %d)",
                               mn, in->views, in->ncustom, TASSL_SSL_MAX_VIEWS,
                               TASSL_SSL_MAX_CUSTOM);
        if (in->ncustom > 0 && !s->mem[m].m->prepare)
            return tassl_error(TASSL_ERR_ARG, "method %s: custom inputs need a prepare function",
                               mn);
        for (int a = 0; a < in->ncustom; a++)
            for (int b = 0; b < a; b++)
                if (strcmp(in->custom[a].name, in->custom[b].name) == 0)
                    return tassl_error(TASSL_ERR_ARG,
                                       "method %s: custom input '%s' declared "
                                       "twice",
                                       mn, in->custom[a].name);
        if (in->views > u->views) u->views = in->views;
        u->clean = u->clean || in->clean;
        u->ncustom += in->ncustom;
    }
    return TASSL_OK;
}

tassl_status tassl_ssl_new(const tassl_config *cfg, tassl_ctx *ctx, tassl_ssl **out) {
    *out = NULL;
    tassl_status st = tassl_ssl_register_config();
    if (st != TASSL_OK) return st;
    tassl_ssl *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "ssl: out of host memory");
    s->env.cfg = cfg;
    s->env.ctx = ctx;
    s->env.dims = (int)tassl_config_int(cfg, "model.dims");
    s->env.batch = tassl_config_int(cfg, "train.batch_size");
    s->env.total_steps = tassl_config_int(cfg, "train.steps");
    s->env.seed = (uint64_t)tassl_config_int(cfg, "seed");
    if ((st = resolve_members(s, cfg)) != TASSL_OK) goto fail;
    if ((st = ssl_data_open(&s->data, cfg, s->env.dims, s->env.sample)) != TASSL_OK) goto fail;
    s->sample_numel = s->env.sample[0] * s->env.sample[1] * s->env.sample[2] * s->env.sample[3];
    if (!(s->env.params = tassl_params_new(ctx))) {
        st = tassl_error(TASSL_ERR_NOMEM, "ssl: out of memory");
        goto fail;
    }
    if ((st = tassl_encoder_new(s->env.params, cfg, s->env.sample + 1, &s->enc)) != TASSL_OK)
        goto fail;
    s->env.encoder = s->enc;
    for (int m = 0; m < s->nmembers; m++) {
        ssl_member *mb = &s->mem[m];
        memset(&mb->in, 0, sizeof mb->in);
        st = mb->m->create(&s->env, mb->prefix, &mb->in, &mb->state);
        if (st != TASSL_OK) goto fail;
    }
    if ((st = merge_inputs(s)) != TASSL_OK) goto fail;
    if ((st = tassl_params_finalize(s->env.params)) != TASSL_OK) goto fail;
    if ((st = tassl_encoder_init(s->enc)) != TASSL_OK) goto fail;
    for (int m = 0; m < s->nmembers; m++)
        if ((st = s->mem[m].m->init(s->mem[m].state)) != TASSL_OK) goto fail;
    if ((st = ssl_data_alloc(s)) != TASSL_OK) goto fail;
    *out = s;
    return TASSL_OK;
fail:
    tassl_ssl_free(s);
    return st;
}

void tassl_ssl_free(tassl_ssl *s) {
    if (!s) return;
    for (int m = 0; m < s->nmembers; m++)
        if (s->mem[m].state) s->mem[m].m->destroy(s->mem[m].state);
    tassl_encoder_free(s->enc);
    tassl_params_free(s->env.params);
    ssl_data_close(&s->data);
    free(s);
}

tassl_status tassl_ssl_bind_state(tassl_ssl *s, tassl_ckpt *ck) {
    for (int m = 0; m < s->nmembers; m++)
        if (s->mem[m].m->bind_state) {
            tassl_status st = s->mem[m].m->bind_state(s->mem[m].state, ck);
            if (st != TASSL_OK) return st;
        }
    return TASSL_OK;
}

/* (B, C, D, H, W) — or (B, C, H, W) in 2D — from host floats */
static tassl_tensor *upload_images(tassl_ssl *s, const int64_t *sh, const float *data) {
    int64_t b = s->env.batch;
    if (s->env.dims == 2 && sh[1] == 1)
        return tassl_from_host(s->env.ctx, TASSL_SHAPE(b, sh[0], sh[2], sh[3]), data);
    return tassl_from_host(s->env.ctx, TASSL_SHAPE(b, sh[0], sh[1], sh[2], sh[3]), data);
}

tassl_status tassl_ssl_load_batch(tassl_ssl *s, int64_t step, tassl_ssl_batch *b) {
    memset(b, 0, sizeof *b);
    tassl_status st = ssl_data_fill(s, step);
    if (st != TASSL_OK) return st;
    b->n = s->env.batch;
    b->step = step;
    b->nviews = s->all.views;
    for (int v = 0; v < s->all.views; v++)
        b->view[v] = upload_images(s, s->env.sample, s->data.view[v]);
    if (s->data.clean) b->clean = upload_images(s, s->env.sample, s->data.clean);
    return tassl_ctx_status(s->env.ctx);
}

static tassl_tensor *upload_custom(tassl_ssl *s, int c, const tassl_ssl_custom *spec) {
    const int64_t *sh = spec->shape;
    if (sh[0] == 1 && sh[1] == 1 && sh[2] == 1 && sh[3] == 1)
        return tassl_from_host(s->env.ctx, TASSL_SHAPE(s->env.batch), s->data.custom[c]);
    return upload_images(s, sh, s->data.custom[c]);
}

tassl_tensor *tassl_ssl_loss(tassl_ssl *s, const tassl_ssl_batch *b, int maxcomp,
                             const char **comp_names, tassl_tensor **comp, int *ncomp,
                             tassl_tensor **embedding, tassl_tensor *preview[3]) {
    tassl_tensor *total = NULL;
    *ncomp = 0;
    if (embedding) *embedding = NULL;
    if (preview) preview[0] = preview[1] = preview[2] = NULL;
    for (int m = 0; m < s->nmembers; m++) {
        ssl_member *mb = &s->mem[m];
        tassl_ssl_batch mbb = *b;
        for (int k = 0; k < mb->in.ncustom; k++)
            mbb.custom[k] = upload_custom(s, mb->custom_base + k, &mb->in.custom[k]);
        tassl_ssl_loss_out o;
        memset(&o, 0, sizeof o);
        tassl_tensor *l = mb->m->loss(mb->state, &mbb, &o);
        if (!l) {
            if (tassl_ctx_status(s->env.ctx) == TASSL_OK)
                tassl_ctx_fail(s->env.ctx,
                               ssl_wrap(TASSL_ERR_ARG, "method %s: no loss", mb->m->name));
            return NULL;
        }
        for (int k = 0; k < o.ncomponents && k < TASSL_SSL_MAX_COMPONENTS && *ncomp < maxcomp;
             k++) {
            /* via a local buffer: gcc cannot prove prefix and comp_name (one struct) disjoint */
            char name[sizeof mb->comp_name[k]];
            snprintf(name, sizeof name, "%s%s", mb->prefix, o.comp[k].name);
            memcpy(mb->comp_name[k], name, sizeof name);
            comp_names[*ncomp] = mb->comp_name[k];
            comp[(*ncomp)++] = o.comp[k].value;
        }
        if (embedding && !*embedding) *embedding = o.embedding;
        if (preview && !preview[0] && o.preview[0])
            for (int i = 0; i < 3; i++)
                preview[i] = o.preview[i];
        if (mb->weight != 1.0f) l = tassl_scale(l, mb->weight);
        total = total ? tassl_add(total, l) : l;
    }
    return total;
}

tassl_status tassl_ssl_after_step(tassl_ssl *s, int64_t step) {
    tassl_status st = TASSL_OK;
    tassl_no_grad_begin(s->env.ctx);
    for (int m = 0; m < s->nmembers && st == TASSL_OK; m++)
        if (s->mem[m].m->after_step) st = s->mem[m].m->after_step(s->mem[m].state, step);
    tassl_no_grad_end(s->env.ctx);
    if (st == TASSL_OK) st = tassl_ctx_status(s->env.ctx);
    return st;
}
