/* ckpt.c — checkpoints: named tensors (parameters, buffers, optimiser state), metadata and the
 * RNG state bound to a safetensors file, written atomically and read back with every mismatch
 * named before anything is changed. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

typedef struct ck_item {
    char *name;
    tassl_tensor *t;
} ck_item;

typedef struct ck_kv {
    char *k, *v;
} ck_kv;

struct tassl_ckpt {
    ck_item *items;
    int n, cap;
    ck_kv *meta;
    int nmeta, capmeta;
    tassl_optim *optim;
    tassl_ctx *rng;
    char *report;
};

tassl_ckpt *tassl_ckpt_new(void) { return calloc(1, sizeof(tassl_ckpt)); }

static void clear_meta(tassl_ckpt *c) {
    for (int i = 0; i < c->nmeta; i++) {
        free(c->meta[i].k);
        free(c->meta[i].v);
    }
    c->nmeta = 0;
}

void tassl_ckpt_free(tassl_ckpt *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->items[i].name);
    clear_meta(c);
    free(c->items);
    free(c->meta);
    free(c->report);
    free(c);
}

static int find_item(const tassl_ckpt *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0) return i;
    return -1;
}

/* Bind `t` as a + b + c (pieces may be ""). */
static tassl_status add3(tassl_ckpt *c, const char *a, const char *b, const char *d, tassl_tensor *t) {
    size_t len = strlen(a) + strlen(b) + strlen(d) + 1;
    char *name = malloc(len);
    if (!name) return tassl_error(TASSL_ERR_NOMEM, "checkpoint: out of host memory");
    snprintf(name, len, "%s%s%s", a, b, d);
    if (!*name || find_item(c, name) >= 0) {
        tassl_status s = tassl_error(TASSL_ERR_ARG, "checkpoint: %s tensor name '%s'",
                                     *name ? "duplicate" : "empty", name);
        free(name);
        return s;
    }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        ck_item *ni = realloc(c->items, (size_t)cap * sizeof *ni);
        if (!ni) {
            free(name);
            return tassl_error(TASSL_ERR_NOMEM, "checkpoint: out of host memory");
        }
        c->items = ni;
        c->cap = cap;
    }
    c->items[c->n].name = name;
    c->items[c->n].t = t;
    c->n++;
    return TASSL_OK;
}

tassl_status tassl_ckpt_add_tensor(tassl_ckpt *c, const char *name, tassl_tensor *t) {
    return add3(c, name, "", "", t);
}

tassl_status tassl_ckpt_add_params(tassl_ckpt *c, const char *prefix, tassl_params *p) {
    tassl_status s = TASSL_OK;
    for (int i = 0; s == TASSL_OK && i < tassl_params_count(p); i++) {
        tassl_tensor *t = tassl_params_get(p, i);
        s = add3(c, prefix ? prefix : "", t->name, "", t);
    }
    return s;
}

tassl_status tassl_ckpt_add_optim(tassl_ckpt *c, const char *prefix, tassl_optim *o) {
    tassl_params *p = tassl_optim_params(o);
    tassl_status s = TASSL_OK;
    for (int k = 0; k < tassl_optim_nstate(o); k++) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, ".%s", tassl_optim_state_suffix(o, k));
        for (int i = 0; s == TASSL_OK && i < tassl_params_count(p); i++) {
            tassl_tensor *v = tassl_optim_state_view(o, k, i);
            if (v) s = add3(c, prefix ? prefix : "", v->name, suffix, v);
        }
    }
    if (s == TASSL_OK) c->optim = o;
    return s;
}

void tassl_ckpt_add_rng(tassl_ckpt *c, tassl_ctx *ctx) { c->rng = ctx; }

tassl_status tassl_ckpt_set_meta(tassl_ckpt *c, const char *key, const char *value) {
    for (int i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].k, key) == 0) {
            char *v = strdup(value);
            if (!v) return tassl_error(TASSL_ERR_NOMEM, "checkpoint: out of host memory");
            free(c->meta[i].v);
            c->meta[i].v = v;
            return TASSL_OK;
        }
    if (c->nmeta == c->capmeta) {
        int cap = c->capmeta ? 2 * c->capmeta : 16;
        ck_kv *nm = realloc(c->meta, (size_t)cap * sizeof *nm);
        if (!nm) return tassl_error(TASSL_ERR_NOMEM, "checkpoint: out of host memory");
        c->meta = nm;
        c->capmeta = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return tassl_error(TASSL_ERR_NOMEM, "checkpoint: out of host memory");
    }
    c->meta[c->nmeta].k = k;
    c->meta[c->nmeta].v = v;
    c->nmeta++;
    return TASSL_OK;
}

tassl_status tassl_ckpt_set_meta_int(tassl_ckpt *c, const char *key, int64_t value) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return tassl_ckpt_set_meta(c, key, buf);
}

const char *tassl_ckpt_meta(const tassl_ckpt *c, const char *key) {
    for (int i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].k, key) == 0) return c->meta[i].v;
    return NULL;
}

/* Strict decimal parse of a signed (or, with u, unsigned) 64-bit integer. */
static bool parse_i64(const char *s, int64_t *out, bool u, uint64_t *uout) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    if (u) {
        if (*s == '-') return false;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end) return false;
        *uout = v;
    } else {
        long long v = strtoll(s, &end, 10);
        if (errno || *end) return false;
        *out = v;
    }
    return true;
}

tassl_status tassl_ckpt_meta_int(const tassl_ckpt *c, const char *key, int64_t *out) {
    const char *v = tassl_ckpt_meta(c, key);
    if (!v) return tassl_error(TASSL_ERR_FORMAT, "checkpoint metadata has no '%s'", key);
    if (!parse_i64(v, out, false, NULL))
        return tassl_error(TASSL_ERR_FORMAT, "checkpoint metadata '%s' = '%s' is not an integer",
                           key, v);
    return TASSL_OK;
}

const char *tassl_ckpt_report(const tassl_ckpt *c) { return c->report ? c->report : ""; }

/* ---- write -------------------------------------------------------------------------------- */

typedef struct write_ctx {
    tassl_ckpt *c;
    float *buf;
} write_ctx;

static tassl_status write_data(void *ud, int i, FILE *f, const char *path) {
    write_ctx *w = ud;
    tassl_tensor *t = w->c->items[i].t;
    int64_t n = tassl_numel(t);
    if (n == 0) return TASSL_OK;
    tassl_status s = tassl_tensor_read(t, w->buf);
    if (s != TASSL_OK)
        return tassl_error(s, "%s: cannot read '%s' from the device: %s", path, w->c->items[i].name,
                           tassl_last_error());
    tassl_le32(w->buf, (size_t)n);
    if (fwrite(w->buf, sizeof(float), (size_t)n, f) != (size_t)n)
        return tassl_error(TASSL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return TASSL_OK;
}

static json_t *optim_hparams(const tassl_optim *o) {
    const tassl_optim_config *cf = tassl_optim_config_of(o);
    return json_pack("{s:s, s:f, s:f, s:b, s:f, s:f, s:f, s:f, s:f, s:s, s:b}", "name",
                     tassl_optim_kind_name(cf->kind), "momentum", (double)cf->momentum,
                     "dampening", (double)cf->dampening, "nesterov", (int)cf->nesterov,
                     "weight_decay", (double)cf->weight_decay, "beta1", (double)cf->beta1, "beta2",
                     (double)cf->beta2, "eps", (double)cf->eps, "trust_coef",
                     (double)cf->trust_coef, "no_decay", cf->no_decay ? cf->no_decay : "",
                     "no_decay_1d", (int)cf->no_decay_1d);
}

tassl_status tassl_ckpt_write(tassl_ckpt *c, const char *path) {
    json_t *root = json_object(), *meta = json_object();
    if (!root || !meta) {
        json_decref(root);
        json_decref(meta);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    }
    json_object_set_new(meta, "format", json_string("tassl"));
    json_object_set_new(meta, "tassl_version", json_string(TASSL_VERSION));
    for (int i = 0; i < c->nmeta; i++) json_object_set_new(meta, c->meta[i].k, json_string(c->meta[i].v));
    char num[32];
    if (c->optim) {
        const tassl_optim *o = c->optim;
        char states[256] = "";
        for (int k = 0; k < tassl_optim_nstate(o); k++) {
            size_t l = strlen(states);
            snprintf(states + l, sizeof states - l, "%s%s", k ? "," : "",
                     tassl_optim_state_suffix(o, k));
        }
        json_object_set_new(meta, "optimizer",
                            json_string(tassl_optim_kind_name(tassl_optim_config_of(o)->kind)));
        json_object_set_new(meta, "optimizer.state", json_string(states));
        snprintf(num, sizeof num, "%" PRId64, tassl_optim_steps(o));
        json_object_set_new(meta, "optimizer.step", json_string(num));
        json_t *hp = optim_hparams(o);
        char *hs = hp ? json_dumps(hp, JSON_COMPACT) : NULL;
        if (hs) json_object_set_new(meta, "optimizer.hparams", json_string(hs));
        free(hs);
        json_decref(hp);
    }
    if (c->rng) {
        tassl_rng_state r = tassl_rng_get(c->rng);
        snprintf(num, sizeof num, "%" PRIu64, r.seed);
        json_object_set_new(meta, "rng.seed", json_string(num));
        snprintf(num, sizeof num, "%" PRIu64, r.counter);
        json_object_set_new(meta, "rng.counter", json_string(num));
    }
    json_object_set_new(root, "__metadata__", meta);
    int64_t pos = 0, maxn = 1;
    for (int i = 0; i < c->n; i++) {
        const tassl_tensor *t = c->items[i].t;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        int64_t nb = tassl_numel(t) * 4;
        json_object_set_new(root, c->items[i].name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
                                      "data_offsets", (json_int_t)pos, (json_int_t)(pos + nb)));
        pos += nb;
        if (tassl_numel(t) > maxn) maxn = tassl_numel(t);
    }
    write_ctx w = {c, malloc(sizeof(float) * (size_t)maxn)};
    tassl_status s = w.buf ? tassl_st_write(path, root, c->n, write_data, &w)
                           : tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    free(w.buf);
    json_decref(root);
    return s;
}

/* ---- read --------------------------------------------------------------------------------- */

/* A growing message: "missing (2): a, b; unexpected (1): c; ..." with at most LIST_MAX names per
 * category. */
#define LIST_MAX 8
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) return;
        b->s = ns;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void shape_str(int nd, const int64_t *sh, char *buf, size_t len) {
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < nd && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? ", " : "", (long long)sh[d]);
    if (o < len) snprintf(buf + o, len - o, ")");
}

/* Append a category of names to msg: "; what (count): n1, n2, ... and N more". */
static void list_names(strbuf *msg, const char *what, const char **names, int count) {
    if (count == 0) return;
    sb_printf(msg, "%s%s (%d): ", msg->len ? "; " : "", what, count);
    for (int i = 0; i < count && i < LIST_MAX; i++) sb_printf(msg, "%s%s", i ? ", " : "", names[i]);
    if (count > LIST_MAX) sb_printf(msg, " and %d more", count - LIST_MAX);
}

tassl_status tassl_ckpt_read(tassl_ckpt *c, const char *path, const tassl_ckpt_load_opts *opts) {
    tassl_ckpt_load_opts def = {true, NULL, NULL};
    if (!opts) opts = &def;
    const char *sel = opts->select ? opts->select : "";
    const char *fpre = opts->file_prefix ? opts->file_prefix : sel;
    size_t sl = strlen(sel), fl = strlen(fpre);
    free(c->report);
    c->report = NULL;

    tassl_st *st;
    tassl_status s = tassl_st_open(path, &st);
    if (s != TASSL_OK) return s;
    int nf = tassl_st_count(st);
    int *match = malloc(sizeof(int) * (size_t)(c->n + 1));
    char *used = calloc((size_t)nf + 1, 1);
    const char **missing = malloc(sizeof(char *) * (size_t)(c->n + 1));
    const char **unexpected = malloc(sizeof(char *) * (size_t)(nf + 1));
    float **data = calloc((size_t)c->n + 1, sizeof(float *));
    strbuf err = {0}, rep = {0};
    int nmiss = 0, nunexp = 0, nbad = 0;
    char *fname = NULL;
    if (!match || !used || !missing || !unexpected || !data) {
        s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
        goto out;
    }
    /* names, shapes, dtypes */
    strbuf mism = {0};
    for (int i = 0; i < c->n; i++) {
        match[i] = -1;
        const char *name = c->items[i].name;
        if (strncmp(name, sel, sl) != 0) continue;
        size_t need = fl + strlen(name + sl) + 1;
        char *fn = realloc(fname, need);
        if (!fn) continue;
        fname = fn;
        snprintf(fname, need, "%s%s", fpre, name + sl);
        int j = tassl_st_find(st, fname);
        if (j < 0) {
            missing[nmiss++] = name;
            continue;
        }
        used[j] = 1;
        match[i] = j;
        const tassl_tensor *t = c->items[i].t;
        int nd = tassl_st_ndim(st, j);
        const int64_t *sh = tassl_st_shape(st, j);
        bool same = nd == t->ndim;
        for (int d = 0; same && d < nd; d++) same = sh[d] == t->shape[d];
        char a[160], b[160];
        if (!same) {
            shape_str(nd, sh, a, sizeof a);
            shape_str(t->ndim, t->shape, b, sizeof b);
            if (nbad < LIST_MAX)
                sb_printf(&mism, "%s%s is %s in the file, %s in the model", nbad ? ", " : "",
                          fname, a, b);
            nbad++;
        } else if (strcmp(tassl_st_dtype(st, j), "F32") != 0) {
            if (nbad < LIST_MAX)
                sb_printf(&mism, "%s%s is %s in the file, expected F32", nbad ? ", " : "", fname,
                          tassl_st_dtype(st, j));
            nbad++;
        }
    }
    for (int j = 0; j < nf; j++)
        if (!used[j] && strncmp(tassl_st_name(st, j), fpre, fl) == 0)
            unexpected[nunexp++] = tassl_st_name(st, j);
    if (nbad) {
        sb_printf(&err, "shape/dtype (%d): %s", nbad, mism.s);
        if (nbad > LIST_MAX) sb_printf(&err, " and %d more", nbad - LIST_MAX);
    }
    free(mism.s);
    list_names(opts->strict ? &err : &rep, "missing", missing, nmiss);
    list_names(opts->strict ? &err : &rep, "unexpected", unexpected, nunexp);

    /* optimiser and RNG metadata */
    int64_t ostep = -1;
    tassl_rng_state rng = {0, 0};
    bool have_rng = false;
    if (c->optim) {
        const char *name = tassl_st_meta(st, "optimizer"), *step = tassl_st_meta(st, "optimizer.step");
        const char *want = tassl_optim_kind_name(tassl_optim_config_of(c->optim)->kind);
        strbuf *dst = opts->strict ? &err : &rep;
        if (!name || !step)
            sb_printf(dst, "%sno optimizer state in the metadata (optimizer, optimizer.step)",
                      dst->len ? "; " : "");
        else if (strcmp(name, want) != 0)
            sb_printf(dst, "%soptimizer is %s in the file, %s in this run", dst->len ? "; " : "",
                      name, want);
        else if (!parse_i64(step, &ostep, false, NULL) || ostep < 0)
            sb_printf(&err, "%smetadata optimizer.step = '%s' is not a step count",
                      err.len ? "; " : "", step);
    }
    if (c->rng) {
        const char *sd = tassl_st_meta(st, "rng.seed"), *ct = tassl_st_meta(st, "rng.counter");
        if (!sd || !ct) {
            strbuf *dst = opts->strict ? &err : &rep;
            sb_printf(dst, "%sno RNG state in the metadata (rng.seed, rng.counter)",
                      dst->len ? "; " : "");
        } else if (!parse_i64(sd, NULL, true, &rng.seed) || !parse_i64(ct, NULL, true, &rng.counter)) {
            sb_printf(&err, "%smetadata rng.seed/rng.counter ('%s', '%s') are not unsigned integers",
                      err.len ? "; " : "", sd, ct);
        } else {
            have_rng = true;
        }
    }
    if (err.len) {
        s = tassl_error(TASSL_ERR_FORMAT, "%s: does not match %s: %s", path,
                        opts->strict ? "(strict)" : "(non-strict)", err.s);
        goto out;
    }
    /* everything checks out: read all data to host first, then write to the devices */
    for (int i = 0; s == TASSL_OK && i < c->n; i++) {
        if (match[i] < 0) continue;
        int64_t n = tassl_numel(c->items[i].t);
        data[i] = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (!data[i]) s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
        else s = tassl_st_read_f32(st, match[i], data[i]);
    }
    for (int i = 0; s == TASSL_OK && i < c->n; i++)
        if (match[i] >= 0 && tassl_numel(c->items[i].t) > 0) {
            s = tassl_tensor_write(c->items[i].t, data[i]);
            if (s != TASSL_OK)
                s = tassl_error(s, "%s: cannot write '%s' to the device: %s", path,
                                c->items[i].name, tassl_last_error());
        }
    if (s != TASSL_OK) goto out;
    if (c->optim && ostep >= 0) tassl_optim_set_steps(c->optim, ostep);
    if (c->rng && have_rng) tassl_rng_set(c->rng, rng);
    clear_meta(c);
    for (int i = 0; s == TASSL_OK && i < tassl_st_meta_count(st); i++)
        s = tassl_ckpt_set_meta(c, tassl_st_meta_key(st, i), tassl_st_meta(st, tassl_st_meta_key(st, i)));
    c->report = rep.s ? rep.s : strdup("");
    rep.s = NULL;
out:
    for (int i = 0; data && i < c->n; i++) free(data[i]);
    free(data);
    free(match);
    free(used);
    free(missing);
    free(unexpected);
    free(fname);
    free(err.s);
    free(rep.s);
    tassl_st_close(st);
    return s;
}
