/* optim.c — SGD, AdamW and LARS over a flat parameter buffer.
 *
 * At creation the entries of the parameter set become a run table (kern_optim.h): one row per
 * entry {offset, offset + numel, flags, norm index}; non-trainable entries get no row, excluded
 * names no DECAY (and, for LARS, no ADAPT). Per-parameter learning rates
 * (tassl_optim_set_lr_mult) order the rows by multiplier: each group is a slice of the table,
 * launched with its own lr; frozen entries (multiplier 0) get no row. A step is then one kernel
 * launch per group, one in all by default (LARS: two reduction kernels for the per-parameter
 * norms first). State buffers have the parameters'
 * layout, zero-filled, with per-entry views for checkpoints. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define MAX_STATE 2
#define MAX_GROUPS 8 /* distinct learning-rate multipliers */

/* Rows of the run table with one learning-rate multiplier: a contiguous slice of the table
 * (rows [first, first + nrows), sorted by start within it), launched as one kernel. */
typedef struct lr_group {
    double mult;
    int64_t first, nrows, span;
} lr_group;

struct tassl_optim {
    tassl_params *params;
    tassl_ctx *ctx;
    tassl_device *dev;
    tassl_optim_config cfg;
    char *no_decay;          /* owned copy of cfg.no_decay */
    int64_t steps;
    int n;                   /* entries */
    bool *decay;             /* per entry */
    double *mult;            /* per entry: learning-rate multiplier (1; 0 = frozen) */
    tassl_buf *runs;
    int64_t nruns, span;     /* rows; end of the last row */
    int ngroups;
    lr_group group[MAX_GROUPS];
    int nstate;
    const char *suffix[MAX_STATE];
    tassl_buf *state[MAX_STATE];
    tassl_tensor flat[MAX_STATE];
    tassl_tensor *views[MAX_STATE]; /* n per state, header only for trainable entries */
    tassl_sumsq_plan lars;   /* per-parameter norms (LARS) */
    bool has_lars;
    tassl_sumsq_plan clip;   /* global gradient norm, built on first use */
    bool has_clip;
};

tassl_optim_config tassl_optim_defaults(tassl_optim_kind kind) {
    tassl_optim_config c = {0};
    c.kind = kind;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.trust_coef = 1e-3;
    if (kind == TASSL_OPTIM_ADAMW) c.weight_decay = 1e-2;
    if (kind == TASSL_OPTIM_LARS) {
        c.momentum = 0.9;
        c.weight_decay = 1e-6;
        c.no_decay_1d = true;
    }
    return c;
}

static const char *const kind_names[] = {"sgd", "adamw", "lars"};

const char *tassl_optim_kind_name(tassl_optim_kind kind) {
    return (unsigned)kind < 3 ? kind_names[kind] : "?";
}

tassl_status tassl_optim_kind_parse(const char *name, tassl_optim_kind *out) {
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *out = (tassl_optim_kind)i;
            return TASSL_OK;
        }
    return tassl_error(TASSL_ERR_ARG, "unknown optimiser '%s' (expected sgd, adamw or lars)",
                       name ? name : "(null)");
}

/* Does `name` match one of the comma-separated patterns? */
static bool name_excluded(const char *patterns, const char *name) {
    if (!patterns) return false;
    const char *p = patterns;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        size_t len = (size_t)(e - p);
        while (len > 0 && p[len - 1] == ' ') len--;
        if (len > 0 && len < 256) {
            char pat[256];
            memcpy(pat, p, len);
            pat[len] = 0;
            bool glob = strpbrk(pat, "*?[") != NULL;
            if (glob ? fnmatch(pat, name, 0) == 0 : strstr(name, pat) != NULL) return true;
        }
        p = e;
    }
    return false;
}

static tassl_status check_config(const tassl_optim_config *c) {
    const char *k = tassl_optim_kind_name(c->kind);
    if ((unsigned)c->kind > TASSL_OPTIM_LARS)
        return tassl_error(TASSL_ERR_ARG, "optimiser: unknown kind %d", (int)c->kind);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return tassl_error(TASSL_ERR_ARG, "%s: weight_decay %g must be >= 0", k, c->weight_decay);
    if (c->kind == TASSL_OPTIM_ADAMW) {
        if (!(c->beta1 >= 0 && c->beta1 < 1))
            return tassl_error(TASSL_ERR_ARG, "adamw: beta1 %g must be in [0, 1)", c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            return tassl_error(TASSL_ERR_ARG, "adamw: beta2 %g must be in [0, 1)", c->beta2);
        if (!(c->eps >= 0 && isfinite(c->eps)))
            return tassl_error(TASSL_ERR_ARG, "adamw: eps %g must be >= 0", c->eps);
        return TASSL_OK;
    }
    if (!(c->momentum >= 0 && c->momentum < 1))
        return tassl_error(TASSL_ERR_ARG, "%s: momentum %g must be in [0, 1)", k, c->momentum);
    if (!(c->dampening >= 0 && c->dampening <= 1))
        return tassl_error(TASSL_ERR_ARG, "%s: dampening %g must be in [0, 1]", k, c->dampening);
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return tassl_error(TASSL_ERR_ARG, "%s: nesterov needs momentum > 0 and dampening 0 "
                           "(momentum %g, dampening %g)", k, c->momentum, c->dampening);
    if (c->kind == TASSL_OPTIM_LARS && !(c->trust_coef > 0) )
        return tassl_error(TASSL_ERR_ARG, "lars: trust_coef %g must be > 0", c->trust_coef);
    return TASSL_OK;
}

void tassl_optim_free(tassl_optim *o) {
    if (!o) return;
    for (int k = 0; k < o->nstate; k++) {
        if (o->state[k]) o->dev->be->buf_free(o->dev, o->state[k]);
        free(o->views[k]);
    }
    if (o->runs) o->dev->be->buf_free(o->dev, o->runs);
    if (o->has_lars) tassl_sumsq_plan_free(&o->lars);
    if (o->has_clip) tassl_sumsq_plan_free(&o->clip);
    free(o->decay);
    free(o->mult);
    free(o->no_decay);
    free(o);
}

static tassl_status build(tassl_optim *o) {
    tassl_params *p = o->params;
    int n = o->n;
    int64_t total = tassl_params_flat(p)->shape[0];
    if (total > INT32_MAX)
        return tassl_error(TASSL_ERR_UNSUPPORTED, "optimiser: %lld parameters exceed the int32 "
                           "indexing of the update kernels", (long long)total);
    int32_t *rows = malloc(sizeof(int32_t) * 4 * (size_t)(n + 1));
    int64_t *st = malloc(sizeof(int64_t) * (size_t)(n + 1)), *ln = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int *gr = malloc(sizeof(int) * (size_t)(n + 1));
    if (!rows || !st || !ln || !gr) {
        free(rows), free(st), free(ln), free(gr);
        return tassl_error(TASSL_ERR_NOMEM, "optimiser: out of host memory");
    }
    /* the distinct multipliers of the updated entries, in order of first appearance */
    o->ngroups = 0;
    for (int i = 0; i < n; i++) {
        if (tassl_params_is_buffer(p, i) || o->mult[i] == 0.0) continue;
        int g = 0;
        while (g < o->ngroups && o->group[g].mult != o->mult[i]) g++;
        if (g == o->ngroups) {
            if (g == MAX_GROUPS) {
                free(rows), free(st), free(ln), free(gr);
                return tassl_error(TASSL_ERR_ARG, "optimiser: more than %d distinct learning-rate "
                                   "multipliers", MAX_GROUPS);
            }
            o->group[o->ngroups++] = (lr_group){.mult = o->mult[i]};
        }
    }
    int nr = 0, ng = 0;
    for (int g = 0; g < o->ngroups; g++) {
        o->group[g].first = nr;
        for (int i = 0; i < n; i++) {
            const tassl_tensor *t = tassl_params_get(p, i);
            if (tassl_params_is_buffer(p, i) || tassl_numel(t) == 0 ||
                o->mult[i] != o->group[g].mult)
                continue;
            bool excl = name_excluded(o->no_decay, t->name) || (o->cfg.no_decay_1d && t->ndim <= 1);
            int32_t f = TASSL_RUN_UPDATE | (excl ? 0 : TASSL_RUN_DECAY);
            int32_t idx = 0;
            if (o->cfg.kind == TASSL_OPTIM_LARS && !excl) {
                f |= TASSL_RUN_ADAPT;
                st[ng] = t->off;
                ln[ng] = tassl_numel(t);
                gr[ng] = ng;
                idx = ng++;
            }
            rows[4 * nr] = (int32_t)t->off;
            rows[4 * nr + 1] = (int32_t)(t->off + tassl_numel(t));
            rows[4 * nr + 2] = f;
            rows[4 * nr + 3] = idx;
            nr++;
        }
        o->group[g].nrows = nr - o->group[g].first;
        o->group[g].span = o->group[g].nrows ? rows[4 * (nr - 1) + 1] : 0;
    }
    for (int i = 0; i < n; i++) { /* weight decay: trainable, not excluded, not frozen */
        const tassl_tensor *t = tassl_params_get(p, i);
        bool excl = name_excluded(o->no_decay, t->name) || (o->cfg.no_decay_1d && t->ndim <= 1);
        o->decay[i] = !tassl_params_is_buffer(p, i) && !excl && o->mult[i] != 0.0;
    }
    o->nruns = nr;
    o->span = 0;
    for (int g = 0; g < o->ngroups; g++)
        if (o->group[g].span > o->span) o->span = o->group[g].span;
    tassl_status s = nr ? tassl_optim_upload_i32(o->dev, rows, 4 * (int64_t)nr, &o->runs) : TASSL_OK;
    if (s == TASSL_OK && o->cfg.kind == TASSL_OPTIM_LARS && ng > 0) {
        s = tassl_sumsq_plan_init(&o->lars, o->dev, ng, st, ln, gr, ng);
        o->has_lars = s == TASSL_OK;
    }
    free(rows), free(st), free(ln), free(gr);
    return s;
}

static tassl_status add_state(tassl_optim *o, const char *suffix) {
    int k = o->nstate++;
    o->suffix[k] = suffix;
    int64_t total = tassl_params_flat(o->params)->shape[0];
    tassl_status s = tassl_optim_alloc_zero(o->dev, total, &o->state[k]);
    if (s != TASSL_OK) return s;
    o->flat[k] = *tassl_params_flat(o->params);
    o->flat[k].buf = o->state[k];
    o->flat[k].off = 0;
    o->flat[k].name = suffix;
    o->flat[k].requires_grad = false;
    o->flat[k].grad = NULL;
    o->views[k] = calloc((size_t)(o->n > 0 ? o->n : 1), sizeof(tassl_tensor));
    if (!o->views[k]) return tassl_error(TASSL_ERR_NOMEM, "optimiser: out of host memory");
    for (int i = 0; i < o->n; i++) {
        if (tassl_params_is_buffer(o->params, i)) continue;
        const tassl_tensor *t = tassl_params_get(o->params, i);
        tassl_tensor *v = &o->views[k][i];
        v->ctx = t->ctx;
        v->buf = o->state[k];
        v->off = t->off;
        v->ndim = t->ndim;
        memcpy(v->shape, t->shape, sizeof v->shape);
        memcpy(v->stride, t->stride, sizeof v->stride);
        v->name = t->name;
    }
    return TASSL_OK;
}

tassl_status tassl_optim_new(tassl_params *params, const tassl_optim_config *cfg,
                             tassl_optim **out) {
    *out = NULL;
    tassl_status s = check_config(cfg);
    if (s != TASSL_OK) return s;
    tassl_optim *o = calloc(1, sizeof *o);
    if (!o) return tassl_error(TASSL_ERR_NOMEM, "optimiser: out of host memory");
    o->params = params;
    o->ctx = tassl_params_flat(params)->ctx;
    o->dev = tassl_ctx_device(o->ctx);
    o->cfg = *cfg;
    o->n = tassl_params_count(params);
    o->decay = calloc((size_t)(o->n > 0 ? o->n : 1), sizeof(bool));
    o->mult = malloc(sizeof(double) * (size_t)(o->n > 0 ? o->n : 1));
    for (int i = 0; o->mult && i < o->n; i++)
        o->mult[i] = 1.0;
    if (cfg->no_decay && cfg->no_decay[0]) o->no_decay = strdup(cfg->no_decay);
    o->cfg.no_decay = o->no_decay;
    if (!o->decay || !o->mult || (cfg->no_decay && cfg->no_decay[0] && !o->no_decay))
        s = tassl_error(TASSL_ERR_NOMEM, "optimiser: out of host memory");
    if (s == TASSL_OK) s = build(o);
    if (s == TASSL_OK) {
        if (cfg->kind == TASSL_OPTIM_ADAMW) {
            s = add_state(o, "exp_avg");
            if (s == TASSL_OK) s = add_state(o, "exp_avg_sq");
        } else if (cfg->momentum != 0.0) {
            s = add_state(o, "momentum_buffer");
        }
    }
    if (s != TASSL_OK) {
        tassl_optim_free(o);
        return s;
    }
    *out = o;
    return TASSL_OK;
}

tassl_status tassl_optim_step(tassl_optim *o, double lr) {
    if (tassl_ctx_status(o->ctx) != TASSL_OK) return tassl_ctx_status(o->ctx);
    if (!(lr >= 0) || !isfinite(lr))
        return tassl_error(TASSL_ERR_ARG, "%s step: learning rate %g must be finite and >= 0",
                           tassl_optim_kind_name(o->cfg.kind), lr);
    const tassl_optim_config *c = &o->cfg;
    int64_t t = o->steps + 1;
    tassl_optim_hp hp = {0};
    hp.momentum = (float)c->momentum;
    hp.dampening = (float)c->dampening;
    hp.one_m_dampening = (float)(1.0 - c->dampening);
    hp.nesterov = c->nesterov;
    hp.first = o->steps == 0;
    hp.weight_decay = (float)c->weight_decay;
    hp.beta1 = (float)c->beta1;
    hp.beta2 = (float)c->beta2;
    hp.one_m_beta1 = (float)(1.0 - c->beta1);
    hp.one_m_beta2 = (float)(1.0 - c->beta2);
    hp.eps = (float)c->eps;
    hp.bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)t));
    hp.trust_coef = (float)c->trust_coef;
    tassl_ptr pp = tassl_optim_ptr(tassl_params_flat(o->params));
    tassl_ptr gp = tassl_optim_ptr(tassl_params_flat_grad(o->params));
    tassl_ptr none = {NULL, 0};
    tassl_ptr s0 = o->nstate > 0 ? tassl_optim_bufptr(o->state[0]) : none;
    const tassl_kern_optim *k = o->dev->be->optim;
    tassl_status s = TASSL_OK;
    if (c->kind == TASSL_OPTIM_LARS && o->has_lars) s = tassl_sumsq_plan_run(&o->lars, pp, gp);
    /* one launch per learning-rate group: its slice of the run table, its own lr */
    for (int g = 0; g < o->ngroups && s == TASSL_OK; g++) {
        const lr_group *gr = &o->group[g];
        if (gr->nrows == 0) continue;
        double glr = lr * gr->mult;
        hp.lr = (float)glr;
        hp.decay_keep = (float)(1.0 - glr * c->weight_decay);
        hp.step_size = (float)(glr / (1.0 - pow(c->beta1, (double)t)));
        tassl_ptr runs = {o->runs, 4 * gr->first};
        switch (c->kind) {
        case TASSL_OPTIM_SGD:
            s = k->sgd(o->dev, pp, gp, s0, runs, gr->nrows, gr->span, &hp);
            break;
        case TASSL_OPTIM_ADAMW:
            s = k->adamw(o->dev, pp, gp, s0, tassl_optim_bufptr(o->state[1]), runs, gr->nrows,
                         gr->span, &hp);
            break;
        case TASSL_OPTIM_LARS: {
            tassl_ptr norms = o->has_lars ? tassl_optim_bufptr(o->lars.out) : none;
            s = k->lars(o->dev, pp, gp, s0, norms, runs, gr->nrows, gr->span, &hp);
            break;
        }
        }
    }
    if (s != TASSL_OK) return tassl_ctx_fail(o->ctx, s);
    o->steps = t;
    return TASSL_OK;
}

const tassl_optim_config *tassl_optim_config_of(const tassl_optim *o) { return &o->cfg; }
tassl_params *tassl_optim_params(const tassl_optim *o) { return o->params; }
int64_t tassl_optim_steps(const tassl_optim *o) { return o->steps; }
void tassl_optim_set_steps(tassl_optim *o, int64_t steps) {
    TASSL_CHECK(steps >= 0, "tassl_optim_set_steps: %lld < 0", (long long)steps);
    o->steps = steps;
}
bool tassl_optim_decays(const tassl_optim *o, int i) {
    TASSL_CHECK(i >= 0 && i < o->n, "tassl_optim_decays: entry %d of %d", i, o->n);
    return o->decay[i];
}
tassl_status tassl_optim_set_lr_mult(tassl_optim *o, const char *patterns, double mult) {
    if (!(mult >= 0) || !isfinite(mult))
        return tassl_error(TASSL_ERR_ARG, "%s: learning-rate multiplier %g for '%s' must be "
                           "finite and >= 0", tassl_optim_kind_name(o->cfg.kind), mult,
                           patterns ? patterns : "");
    /* check the group count first: the only failure a caller can cause */
    double seen[MAX_GROUPS];
    int nseen = 0;
    for (int i = 0; i < o->n; i++) {
        double m = name_excluded(patterns, tassl_params_get(o->params, i)->name) ? mult : o->mult[i];
        if (tassl_params_is_buffer(o->params, i) || m == 0.0) continue;
        int g = 0;
        while (g < nseen && seen[g] != m) g++;
        if (g < nseen) continue;
        if (nseen == MAX_GROUPS)
            return tassl_error(TASSL_ERR_ARG, "optimiser: more than %d distinct learning-rate "
                               "multipliers", MAX_GROUPS);
        seen[nseen++] = m;
    }
    for (int i = 0; i < o->n; i++)
        if (name_excluded(patterns, tassl_params_get(o->params, i)->name)) o->mult[i] = mult;
    /* rebuild the run table (and LARS's norm plan) with the new groups */
    if (o->runs) o->dev->be->buf_free(o->dev, o->runs);
    if (o->has_lars) tassl_sumsq_plan_free(&o->lars);
    o->runs = NULL;
    o->has_lars = false;
    return build(o);
}

double tassl_optim_lr_mult(const tassl_optim *o, int i) {
    TASSL_CHECK(i >= 0 && i < o->n, "tassl_optim_lr_mult: entry %d of %d", i, o->n);
    return o->mult[i];
}

int tassl_optim_nstate(const tassl_optim *o) { return o->nstate; }
const char *tassl_optim_state_suffix(const tassl_optim *o, int k) {
    TASSL_CHECK(k >= 0 && k < o->nstate, "optimiser state %d of %d", k, o->nstate);
    return o->suffix[k];
}
tassl_tensor *tassl_optim_state_flat(const tassl_optim *o, int k) {
    TASSL_CHECK(k >= 0 && k < o->nstate, "optimiser state %d of %d", k, o->nstate);
    return (tassl_tensor *)&o->flat[k];
}
tassl_tensor *tassl_optim_state_view(const tassl_optim *o, int k, int i) {
    TASSL_CHECK(k >= 0 && k < o->nstate, "optimiser state %d of %d", k, o->nstate);
    TASSL_CHECK(i >= 0 && i < o->n, "optimiser state view: entry %d of %d", i, o->n);
    return tassl_params_is_buffer(o->params, i) ? NULL : &o->views[k][i];
}

tassl_status tassl_optim_clip_grad_norm(tassl_optim *o, float max_norm, float *norm_out) {
    if (!o->has_clip) {
        tassl_status s = tassl_grad_plan_init(&o->clip, o->params);
        if (s != TASSL_OK) return tassl_ctx_fail(o->ctx, s);
        o->has_clip = true;
    }
    return tassl_clip_with_plan(o->params, &o->clip, max_norm, norm_out);
}
