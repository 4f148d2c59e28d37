/* suite.c — reading a benchmark suite (the suite.* keys of a YAML file, --set overrides), checking
 * it, writing it back, and the grid: cells and their directories.
 *
 * The reader walks libyaml's document tree: nested mappings and dotted keys name the same key
 * ("suite: {synth: {n: 10}}" = "suite.synth.n: 10"). Every problem stops the read with
 * "ORIGIN:LINE:COL: suite.KEY: what was expected"; unknown keys suggest the closest known one. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "protocol_internal.h"
#include "tassl/task.h"

typedef enum ktype {
    K_STR,
    K_INT,
    K_FLOAT,
    K_STR_LIST,
    K_INT_LIST,
    K_FLOAT_LIST,
    K_OVERRIDES
} ktype;

typedef struct skey {
    const char *name;
    ktype type;
} skey;

static const skey keys[] = {
    {"suite.name", K_STR},
    {"suite.task", K_STR},
    {"suite.inits", K_STR_LIST},
    {"suite.pretrain_set", K_OVERRIDES},
    {"suite.fractions", K_FLOAT_LIST},
    {"suite.shots", K_INT_LIST},
    {"suite.seeds", K_INT_LIST},
    {"suite.set", K_OVERRIDES},
    {"suite.primary", K_STR},
    {"suite.out", K_STR},
    {"suite.synth.n", K_INT},
    {"suite.synth.dims", K_INT},
    {"suite.synth.size", K_INT_LIST},
    {"suite.synth.seed", K_INT},
    {"suite.synth.lesion_prob", K_FLOAT},
};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))
static const char *const sections[] = {"suite", "suite.synth"};

/* ---- small helpers -------------------------------------------------------------------------- */

char *proto_fmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void proto_yaml_quote(FILE *f, const char *s) {
    fputc('"', f);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if ((unsigned char)*p < 0x20)
            fprintf(f, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The closest suite key or section (or a leaf match in another section), NULL if none is close. */
static const char *suggest(const char *name) {
    const char *names[NKEYS + 2];
    for (int i = 0; i < NKEYS + 2; i++)
        names[i] = i < NKEYS ? keys[i].name : sections[i - NKEYS];
    return tassl_closest_name(name, names, NKEYS + 2);
}

tassl_status tassl_protocol_register_config(void) {
    return tassl_task_register_config(); /* task.*, and the SSL framework's model.* / data.* */
}

/* ---- the reader ----------------------------------------------------------------------------- */

typedef struct reader {
    yaml_document_t doc;
    const char *origin;
    tassl_suite *s;
    const char *seen[NKEYS];
    int seen_line[NKEYS];
    tassl_config *scratch; /* checks suite.set / pretrain_set overrides */
} reader;

static tassl_status at(reader *r, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static tassl_status at(reader *r, const yaml_node_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tassl_error(TASSL_ERR_ARG, "%s:%d:%d: %s", r->origin, (int)n->start_mark.line + 1,
                       (int)n->start_mark.column + 1, msg);
}

static bool scalar_quoted(const yaml_node_t *n) {
    return n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
           n->data.scalar.style != YAML_ANY_SCALAR_STYLE;
}

static const char *sval(const yaml_node_t *n) {
    return (const char *)n->data.scalar.value;
}

static tassl_status parse_int(reader *r, const yaml_node_t *n, const char *key, int idx,
                              int64_t *out) {
    char where[96];
    snprintf(where, sizeof where, idx >= 0 ? "%s[%d]" : "%s", key, idx);
    if (n->type != YAML_SCALAR_NODE) return at(r, n, "%s: expected an integer", where);
    const char *t = sval(n);
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (scalar_quoted(n) || !*t || *end || errno)
        return at(r, n, "%s: expected an integer, got '%s'", where, t);
    *out = v;
    return TASSL_OK;
}

static tassl_status parse_float(reader *r, const yaml_node_t *n, const char *key, int idx,
                                double *out) {
    char where[96];
    snprintf(where, sizeof where, idx >= 0 ? "%s[%d]" : "%s", key, idx);
    if (n->type != YAML_SCALAR_NODE) return at(r, n, "%s: expected a number", where);
    const char *t = sval(n);
    char *end;
    double v = strtod(t, &end);
    if (scalar_quoted(n) || !*t || *end || !isfinite(v))
        return at(r, n, "%s: expected a finite number, got '%s'", where, t);
    *out = v;
    return TASSL_OK;
}

/* A sequence node's items (a scalar counts as a one-element list). */
static int items(reader *r, yaml_node_t *n, yaml_node_t **out, int max) {
    if (n->type == YAML_SCALAR_NODE) {
        if (!*sval(n) && !scalar_quoted(n)) return 0; /* `key:` with no value: empty */
        out[0] = n;
        return 1;
    }
    int k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        if (k == max) return -1; /* too many */
        out[k++] = yaml_document_get_node(&r->doc, *it);
    }
    return k;
}

#define MAXITEMS 256

/* Append "prefix=value" overrides from a mapping (nested mappings flattened with dots) or a
 * sequence of "KEY=VALUE" strings; each is checked on the scratch configuration. */
static tassl_status add_override(reader *r, const yaml_node_t *at_node, const char *key,
                                 char ***list, int *n, const char *assignment) {
    if (tassl_config_set(r->scratch, assignment) != TASSL_OK)
        return at(r, at_node, "%s: %s", key, tassl_last_error());
    char **l = realloc(*list, sizeof(char *) * (size_t)(*n + 1));
    if (!l) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    *list = l;
    if (!(l[*n] = strdup(assignment))) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    (*n)++;
    return TASSL_OK;
}

/* YAML flow text of a scalar (quoted scalars stay strings) */
static void flow_scalar(const yaml_node_t *n, char *buf, size_t len) {
    if (!scalar_quoted(n)) {
        snprintf(buf, len, "%s", sval(n));
        return;
    }
    size_t k = 0;
    if (k + 1 < len) buf[k++] = '"';
    for (const char *p = sval(n); *p && k + 3 < len; p++) {
        if (*p == '"' || *p == '\\') buf[k++] = '\\';
        buf[k++] = *p;
    }
    if (k + 1 < len) buf[k++] = '"';
    buf[k] = 0;
}

static tassl_status overrides_from(reader *r, yaml_node_t *n, const char *key, const char *prefix,
                                   char ***list, int *cnt, int depth) {
    if (depth > 16) /* an alias can make the tree a cycle */
        return at(r, n, "%s: nested deeper than 16 levels (aliases are not supported)", key);
    char text[4096];
    if (n->type == YAML_SEQUENCE_NODE && !prefix) {
        yaml_node_t *it[MAXITEMS];
        int k = items(r, n, it, MAXITEMS);
        if (k < 0) return at(r, n, "%s: more than %d entries", key, MAXITEMS);
        for (int i = 0; i < k; i++) {
            if (it[i]->type != YAML_SCALAR_NODE || !strchr(sval(it[i]), '='))
                return at(r, it[i], "%s[%d]: expected \"KEY=VALUE\"", key, i);
            tassl_status s = add_override(r, it[i], key, list, cnt, sval(it[i]));
            if (s) return s;
        }
        return TASSL_OK;
    }
    if (n->type == YAML_SCALAR_NODE && !prefix && !*sval(n) && !scalar_quoted(n))
        return TASSL_OK; /* empty */
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "%s: expected a mapping {KEY: VALUE} or a list of \"KEY=VALUE\"", key);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(&r->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&r->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) return at(r, kn, "%s: keys must be names", key);
        char name[512];
        snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", sval(kn));
        if (vn->type == YAML_MAPPING_NODE) {
            tassl_status s = overrides_from(r, vn, key, name, list, cnt, depth + 1);
            if (s) return s;
            continue;
        }
        size_t k = (size_t)snprintf(text, sizeof text, "%s=", name);
        if (vn->type == YAML_SEQUENCE_NODE) {
            yaml_node_t *it[MAXITEMS];
            int m = items(r, vn, it, MAXITEMS);
            if (m < 0) return at(r, vn, "%s: %s: more than %d entries", key, name, MAXITEMS);
            k += (size_t)snprintf(text + k, sizeof text - k, "[");
            for (int i = 0; i < m && k < sizeof text; i++) {
                if (it[i]->type != YAML_SCALAR_NODE)
                    return at(r, it[i], "%s: %s: expected a list of scalars", key, name);
                char e[1024];
                flow_scalar(it[i], e, sizeof e);
                k += (size_t)snprintf(text + k, sizeof text - k, "%s%s", i ? ", " : "", e);
            }
            if (k < sizeof text) snprintf(text + k, sizeof text - k, "]");
        } else {
            flow_scalar(vn, text + k, sizeof text - k);
        }
        tassl_status s = add_override(r, kn, key, list, cnt, text);
        if (s) return s;
    }
    return TASSL_OK;
}

static bool valid_init_name(const char *s) {
    if (!*s || strlen(s) >= 64) return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void free_inits(tassl_suite *s) {
    for (int i = 0; i < s->ninits; i++)
        free(s->inits[i].path);
    free(s->inits);
    s->inits = NULL;
    s->ninits = 0;
}

static tassl_status parse_inits(reader *r, yaml_node_t *v, const char *key) {
    if (v->type == YAML_MAPPING_NODE)
        return at(r, v, "%s: expected a list of \"scratch\" / \"NAME=PATH\"", key);
    yaml_node_t *it[MAXITEMS];
    int k = items(r, v, it, MAXITEMS);
    if (k < 0) return at(r, v, "%s: more than %d entries", key, MAXITEMS);
    tassl_suite_init *in = calloc((size_t)(k ? k : 1), sizeof *in);
    if (!in) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    tassl_status st = TASSL_OK;
    bool scratch = false;
    for (int i = 0; i < k && !st; i++) {
        if (it[i]->type != YAML_SCALAR_NODE) {
            st = at(r, it[i], "%s[%d]: expected \"scratch\" or \"NAME=PATH\"", key, i);
            break;
        }
        const char *t = sval(it[i]), *eq = strchr(t, '=');
        size_t nl = eq ? (size_t)(eq - t) : strlen(t);
        if (nl >= sizeof in[i].name) nl = sizeof in[i].name - 1;
        memcpy(in[i].name, t, nl);
        in[i].name[nl] = 0;
        if (!eq) {
            if (strcmp(t, "scratch") != 0) {
                st = at(r, it[i],
                        "%s[%d]: '%s' is neither \"scratch\" nor \"NAME=PATH\" (a pretraining "
                        "config .yaml, a run directory or a checkpoint file)",
                        key, i, t);
                break;
            }
            in[i].kind = TASSL_SUITE_INIT_SCRATCH;
            scratch = true;
        } else if (!eq[1]) {
            st = at(r, it[i], "%s[%d]: '%s' has no path after '='", key, i, t);
        } else if (!valid_init_name(in[i].name) || strcmp(in[i].name, "scratch") == 0) {
            st = at(r, it[i],
                    "%s[%d]: init name '%s' must be [a-z0-9_-] (at most 63) and not \"scratch\"",
                    key, i, in[i].name);
        } else {
            in[i].kind = ends_with(eq + 1, ".yaml") || ends_with(eq + 1, ".yml")
                             ? TASSL_SUITE_INIT_PRETRAIN
                             : TASSL_SUITE_INIT_CHECKPOINT;
            if (!(in[i].path = strdup(eq + 1))) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        }
        for (int j = 0; j < i && !st; j++)
            if (strcmp(in[j].name, in[i].name) == 0)
                st = at(r, it[i], "%s[%d]: init '%s' given twice", key, i, in[i].name);
    }
    if (!st && k == 0) st = at(r, v, "%s: expected at least one init (\"scratch\" first)", key);
    if (!st && !scratch)
        st = at(r, v, "%s: the from-scratch baseline \"scratch\" must be one of the inits", key);
    if (st) {
        for (int i = 0; i < k; i++)
            free(in[i].path);
        free(in);
        return st;
    }
    free_inits(r->s);
    r->s->inits = in;
    r->s->ninits = k;
    return TASSL_OK;
}

static tassl_status set_str(char **dst, const char *v) {
    char *c = strdup(v);
    if (!c) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = c;
    return TASSL_OK;
}

/* The budgets are rebuilt from the fractions and shots kept here. */
typedef struct lists {
    int nf, ns;
    double f[MAXITEMS];
    int64_t k[MAXITEMS];
} lists;

static tassl_status value(reader *r, int ki, yaml_node_t *v, lists *L) {
    const char *key = keys[ki].name;
    tassl_suite *s = r->s;
    tassl_status st = TASSL_OK;
    yaml_node_t *it[MAXITEMS];
    switch (keys[ki].type) {
    case K_STR:
        if (v->type != YAML_SCALAR_NODE) return at(r, v, "%s: expected a string", key);
        if (strcmp(key, "suite.name") == 0) {
            const char *t = sval(v);
            for (const char *p = t; *p; p++)
                if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
                    return at(r, v, "%s: '%s' must be [A-Za-z0-9_.-]", key, t);
            if (!*t) return at(r, v, "%s: must not be empty", key);
            return set_str(&s->name, t);
        }
        if (strcmp(key, "suite.task") == 0) {
            if (!*sval(v)) return at(r, v, "%s: expected the path of a finetune config", key);
            return set_str(&s->task, sval(v));
        }
        if (strcmp(key, "suite.primary") == 0) return set_str(&s->primary, sval(v));
        return set_str(&s->out, sval(v));
    case K_INT: {
        int64_t x;
        if ((st = parse_int(r, v, key, -1, &x))) return st;
        if (strcmp(key, "suite.synth.n") == 0) {
            if (x < 5 || x > 1000000)
                return at(r, v, "%s: %lld is out of range [5, 1e6]", key, (long long)x);
            s->synth_n = x;
        } else if (strcmp(key, "suite.synth.dims") == 0) {
            if (x != 2 && x != 3) return at(r, v, "%s: %lld is not one of 2|3", key, (long long)x);
            s->synth_dims = (int)x;
        } else {
            if (x < 0) return at(r, v, "%s: %lld is out of range [0, inf)", key, (long long)x);
            s->synth_seed = (uint64_t)x;
        }
        s->synth = true;
        return TASSL_OK;
    }
    case K_FLOAT: {
        double x;
        if ((st = parse_float(r, v, key, -1, &x))) return st;
        if (x < 0 || x > 1) return at(r, v, "%s: %g is out of range [0, 1]", key, x);
        s->synth_lesion_prob = x;
        s->synth = true;
        return TASSL_OK;
    }
    case K_STR_LIST:
        return parse_inits(r, v, key);
    case K_OVERRIDES: {
        bool pre = strcmp(key, "suite.pretrain_set") == 0;
        char ***list = pre ? &s->pretrain_set : &s->set;
        int *cnt = pre ? &s->npretrain_set : &s->nset;
        for (int i = 0; i < *cnt; i++)
            free((*list)[i]);
        *cnt = 0;
        return overrides_from(r, v, key, NULL, list, cnt, 0);
    }
    case K_FLOAT_LIST: {
        if (v->type == YAML_MAPPING_NODE) return at(r, v, "%s: expected a list of numbers", key);
        int k = items(r, v, it, MAXITEMS);
        if (k < 0) return at(r, v, "%s: more than %d entries", key, MAXITEMS);
        for (int i = 0; i < k; i++) {
            if ((st = parse_float(r, it[i], key, i, &L->f[i]))) return st;
            if (!(L->f[i] > 0 && L->f[i] <= 1))
                return at(r, it[i],
                          "%s[%d]: %g is out of range (0, 1] (a fraction of the training "
                          "subjects: 0.05 = 5 %%)",
                          key, i, L->f[i]);
            for (int j = 0; j < i; j++)
                if (L->f[j] == L->f[i])
                    return at(r, it[i], "%s[%d]: %g given twice", key, i, L->f[i]);
        }
        L->nf = k;
        return TASSL_OK;
    }
    case K_INT_LIST: {
        if (v->type == YAML_MAPPING_NODE) return at(r, v, "%s: expected a list of integers", key);
        int k = items(r, v, it, MAXITEMS);
        if (k < 0) return at(r, v, "%s: more than %d entries", key, MAXITEMS);
        int64_t x[MAXITEMS];
        for (int i = 0; i < k; i++) {
            if ((st = parse_int(r, it[i], key, i, &x[i]))) return st;
            int64_t lo = strcmp(key, "suite.seeds") == 0 ? 0 : 1;
            if (x[i] < lo)
                return at(r, it[i], "%s[%d]: %lld is out of range [%lld, inf)", key, i,
                          (long long)x[i], (long long)lo);
            for (int j = 0; j < i && strcmp(key, "suite.synth.size") != 0; j++)
                if (x[j] == x[i])
                    return at(r, it[i], "%s[%d]: %lld given twice", key, i, (long long)x[i]);
        }
        if (strcmp(key, "suite.shots") == 0) {
            memcpy(L->k, x, sizeof(int64_t) * (size_t)k);
            L->ns = k;
        } else if (strcmp(key, "suite.seeds") == 0) {
            int64_t *sd = malloc(sizeof(int64_t) * (size_t)(k ? k : 1));
            if (!sd) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
            memcpy(sd, x, sizeof(int64_t) * (size_t)k);
            free(s->seeds);
            s->seeds = sd;
            s->nseeds = k;
        } else { /* synth.size */
            if (k < 1 || k > 3)
                return at(r, v, "%s: expected 1 to 3 sizes ([H, W] or [D, H, W]; one = every axis)",
                          key);
            if (k == 1) s->synth_size[0] = s->synth_size[1] = s->synth_size[2] = x[0];
            if (k == 2) s->synth_size[0] = 1, s->synth_size[1] = x[0], s->synth_size[2] = x[1];
            if (k == 3) memcpy(s->synth_size, x, sizeof(int64_t) * 3);
            for (int i = 0; i < 3; i++)
                if (s->synth_size[i] > 4096)
                    return at(r, v, "%s: %lld is out of range [1, 4096]", key,
                              (long long)s->synth_size[i]);
            s->synth = true;
        }
        return TASSL_OK;
    }
    }
    return TASSL_OK;
}

static tassl_status walk(reader *r, yaml_node_t *map, const char *prefix, lists *L) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&r->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&r->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) return at(r, kn, "keys must be names");
        char full[256];
        snprintf(full, sizeof full, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", sval(kn));
        int ki = -1;
        for (int i = 0; i < NKEYS; i++)
            if (strcmp(keys[i].name, full) == 0) ki = i;
        if (ki >= 0) {
            if (r->seen[ki])
                return at(r, kn, "duplicate key '%s' (first given at line %d)", full,
                          r->seen_line[ki]);
            r->seen[ki] = keys[ki].name;
            r->seen_line[ki] = (int)kn->start_mark.line + 1;
            tassl_status s = value(r, ki, vn, L);
            if (s) return s;
            continue;
        }
        bool section = false;
        for (int i = 0; i < 2; i++)
            section |= strcmp(sections[i], full) == 0;
        if (section) {
            if (vn->type != YAML_MAPPING_NODE)
                return at(r, vn, "'%s' is a section: expected a mapping of its keys", full);
            tassl_status s = walk(r, vn, full, L);
            if (s) return s;
            continue;
        }
        const char *sg = suggest(full);
        return at(r, kn, "unknown key '%s'%s%s%s", full, sg ? " (did you mean '" : "", sg ? sg : "",
                  sg ? "'?)" : "");
    }
    return TASSL_OK;
}

/* Rebuild the budgets from the fractions and shots lists (only those given this time). */
static tassl_status set_budgets(tassl_suite *s, const lists *L, bool have_f, bool have_k) {
    int nf = 0, nk = 0;
    double f[MAXITEMS];
    int64_t k[MAXITEMS];
    for (int i = 0; i < s->nbudgets; i++) {
        if (s->budgets[i].shots) {
            if (nk < MAXITEMS) k[nk++] = s->budgets[i].shots;
        } else if (nf < MAXITEMS) {
            f[nf++] = s->budgets[i].fraction;
        }
    }
    if (have_f) nf = L->nf, memcpy(f, L->f, sizeof(double) * (size_t)nf);
    if (have_k) nk = L->ns, memcpy(k, L->k, sizeof(int64_t) * (size_t)nk);
    tassl_suite_budget *b = calloc((size_t)(nf + nk ? nf + nk : 1), sizeof *b);
    if (!b) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nf; i++) {
        b[i].fraction = f[i];
        snprintf(b[i].label, sizeof b[i].label, "f%g", f[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(b[i].label, b[j].label) == 0) {
                tassl_status st = tassl_error(TASSL_ERR_ARG,
                                              "%s: suite.fractions: %.17g and %.17g share the "
                                              "directory name '%s' (give fewer digits)",
                                              s->file, f[j], f[i], b[i].label);
                free(b);
                return st;
            }
    }
    for (int i = 0; i < nk; i++) {
        b[nf + i].shots = (int)k[i];
        snprintf(b[nf + i].label, sizeof b[nf + i].label, "k%d", (int)k[i]);
    }
    free(s->budgets);
    s->budgets = b;
    s->nbudgets = nf + nk;
    return TASSL_OK;
}

/* Apply YAML text over s (keys given replace their values). */
static tassl_status apply(tassl_suite *s, const char *text, const char *origin) {
    tassl_status st = tassl_protocol_register_config();
    if (st) return st;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    reader r = {.origin = origin, .s = s};
    if (!yaml_parser_load(&p, &r.doc)) {
        st = tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: malformed YAML: %s %s", origin,
                         (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                         p.problem ? p.problem : "error", p.context ? p.context : "");
        yaml_parser_delete(&p);
        return st;
    }
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    lists L = {0};
    if (!root) {
        st = tassl_error(TASSL_ERR_ARG, "%s: empty suite file (expected a 'suite:' mapping)",
                         origin);
    } else if (root->type != YAML_MAPPING_NODE) {
        st = at(&r, root, "expected a mapping with the section 'suite'");
    } else if ((st = tassl_config_new(&r.scratch)) == TASSL_OK) {
        st = walk(&r, root, NULL, &L);
    }
    yaml_document_t extra;
    if (!st && root) { /* a second document is an error */
        if (!yaml_parser_load(&p, &extra)) {
            st = tassl_error(TASSL_ERR_FORMAT, "%s: malformed YAML after the first document",
                             origin);
        } else {
            if (yaml_document_get_root_node(&extra))
                st = tassl_error(TASSL_ERR_ARG, "%s: expected one YAML document", origin);
            yaml_document_delete(&extra);
        }
    }
    bool have_f = false, have_k = false;
    for (int i = 0; i < NKEYS; i++) {
        have_f |= r.seen[i] && strcmp(keys[i].name, "suite.fractions") == 0;
        have_k |= r.seen[i] && strcmp(keys[i].name, "suite.shots") == 0;
    }
    if (!st && (have_f || have_k)) st = set_budgets(s, &L, have_f, have_k);
    if (s->synth_dims == 2) s->synth_size[0] = 1; /* 2D: one slice */
    tassl_config_free(r.scratch);
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&p);
    return st;
}

/* Required keys and the whole grid. */
tassl_status tassl_suite_check(const tassl_suite *s) {
    if (!s->name) return tassl_error(TASSL_ERR_ARG, "%s: suite.name is required", s->file);
    if (!s->task)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: suite.task is required (the path of the base finetune config)",
                           s->file);
    if (!s->ninits)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: suite.inits is required (e.g. [scratch, \"simclr=configs/"
                           "simclr-2d.yaml\"])",
                           s->file);
    if (!s->nbudgets)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: suite.fractions / suite.shots: the grid is empty (give at least "
                           "one label fraction or k-shot value)",
                           s->file);
    if (!s->nseeds)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: suite.seeds: the grid is empty (give at least "
                           "one seed)",
                           s->file);
    return TASSL_OK;
}

static tassl_status defaults(tassl_suite *s, const char *origin) {
    memset(s, 0, sizeof *s);
    s->file = strdup(origin);
    s->primary = strdup("");
    s->out = strdup("");
    s->seeds = malloc(3 * sizeof(int64_t));
    if (!s->file || !s->primary || !s->out || !s->seeds) {
        tassl_suite_free(s);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 3; i++)
        s->seeds[i] = i;
    s->nseeds = 3;
    s->synth_n = 100;
    s->synth_dims = 2;
    s->synth_size[0] = 1, s->synth_size[1] = s->synth_size[2] = 64;
    s->synth_seed = 1;
    s->synth_lesion_prob = 0.5;
    return TASSL_OK;
}

tassl_status tassl_suite_load_string(const char *text, const char *origin, tassl_suite *out) {
    tassl_status st = defaults(out, origin);
    if (st) return st;
    st = apply(out, text, origin);
    if (!st) st = tassl_suite_check(out);
    if (st) tassl_suite_free(out);
    return st;
}

tassl_status tassl_suite_load(const char *path, tassl_suite *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tassl_error(TASSL_ERR_IO, "%s: cannot open the suite file: %s", path,
                           strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return tassl_error(TASSL_ERR_NOMEM, "out of memory");
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, 4096, f);
        n += k;
        if (k < 4096) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return tassl_error(TASSL_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    if (strlen(buf) != n) {
        free(buf);
        return tassl_error(TASSL_ERR_FORMAT, "%s: not a text file (NUL byte)", path);
    }
    tassl_status st = tassl_suite_load_string(buf, path, out);
    free(buf);
    return st;
}

tassl_status tassl_suite_override(tassl_suite *s, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return tassl_error(TASSL_ERR_ARG, "--set %s: expected KEY=VALUE", assignment);
    size_t kl = (size_t)(eq - assignment);
    if (kl < 6 || strncmp(assignment, "suite.", 6) != 0) {
        /* a configuration key: every cell gets it */
        tassl_config *c;
        tassl_status st = tassl_protocol_register_config();
        if (!st) st = tassl_config_new(&c);
        if (st) return st;
        st = tassl_config_set(c, assignment);
        tassl_config_free(c);
        if (st) return st;
        char **l = realloc(s->set, sizeof(char *) * (size_t)(s->nset + 1));
        if (!l) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
        s->set = l;
        if (!(l[s->nset] = strdup(assignment)))
            return tassl_error(TASSL_ERR_NOMEM, "out of memory");
        s->nset++;
        return TASSL_OK;
    }
    char *text = proto_fmt("%.*s: %s\n", (int)kl, assignment, eq + 1);
    char *origin = proto_fmt("--set %s", assignment);
    tassl_status st =
        text && origin ? apply(s, text, origin) : tassl_error(TASSL_ERR_NOMEM, "out of memory");
    free(text);
    free(origin);
    return st;
}

void tassl_suite_free(tassl_suite *s) {
    if (!s) return;
    free(s->file);
    free(s->name);
    free(s->task);
    free(s->primary);
    free(s->out);
    free_inits(s);
    free(s->budgets);
    free(s->seeds);
    for (int i = 0; i < s->nset; i++)
        free(s->set[i]);
    for (int i = 0; i < s->npretrain_set; i++)
        free(s->pretrain_set[i]);
    free(s->set);
    free(s->pretrain_set);
    memset(s, 0, sizeof *s);
}

tassl_status tassl_suite_write(const tassl_suite *s, FILE *f) {
    fprintf(f, "# the resolved benchmark suite (tassl benchmark; docs/TASKS.md)\nsuite:\n  name: ");
    proto_yaml_quote(f, s->name);
    fprintf(f, "\n  task: ");
    proto_yaml_quote(f, s->task);
    fprintf(f, "\n  inits: [");
    for (int i = 0; i < s->ninits; i++) {
        char buf[1200];
        if (s->inits[i].kind == TASSL_SUITE_INIT_SCRATCH)
            snprintf(buf, sizeof buf, "scratch");
        else
            snprintf(buf, sizeof buf, "%s=%s", s->inits[i].name, s->inits[i].path);
        fprintf(f, "%s", i ? ", " : "");
        proto_yaml_quote(f, buf);
    }
    int nf = 0, nk = 0;
    fprintf(f, "]\n  fractions: [");
    for (int i = 0; i < s->nbudgets; i++)
        if (!s->budgets[i].shots) fprintf(f, "%s%.17g", nf++ ? ", " : "", s->budgets[i].fraction);
    fprintf(f, "]\n  shots: [");
    for (int i = 0; i < s->nbudgets; i++)
        if (s->budgets[i].shots) fprintf(f, "%s%d", nk++ ? ", " : "", s->budgets[i].shots);
    fprintf(f, "]\n  seeds: [");
    for (int i = 0; i < s->nseeds; i++)
        fprintf(f, "%s%lld", i ? ", " : "", (long long)s->seeds[i]);
    fprintf(f, "]\n  set: [");
    for (int i = 0; i < s->nset; i++) {
        fprintf(f, "%s", i ? ", " : "");
        proto_yaml_quote(f, s->set[i]);
    }
    fprintf(f, "]\n  pretrain_set: [");
    for (int i = 0; i < s->npretrain_set; i++) {
        fprintf(f, "%s", i ? ", " : "");
        proto_yaml_quote(f, s->pretrain_set[i]);
    }
    fprintf(f, "]\n  primary: ");
    proto_yaml_quote(f, s->primary);
    fprintf(f, "\n  out: ");
    proto_yaml_quote(f, s->out);
    fprintf(f, "\n");
    if (s->synth)
        fprintf(f,
                "  synth: {n: %lld, dims: %d, size: [%lld, %lld, %lld], seed: %llu, "
                "lesion_prob: %.17g}\n",
                (long long)s->synth_n, s->synth_dims, (long long)s->synth_size[0],
                (long long)s->synth_size[1], (long long)s->synth_size[2],
                (unsigned long long)s->synth_seed, s->synth_lesion_prob);
    return ferror(f) ? tassl_error(TASSL_ERR_IO, "writing the suite failed") : TASSL_OK;
}

int tassl_suite_cells(const tassl_suite *s) {
    return s->ninits * s->nbudgets * s->nseeds;
}

void tassl_suite_cell_dir(const tassl_suite *s, int init, int budget, int seed, char *buf,
                          size_t len) {
    snprintf(buf, len, "cells/%s/%s/s%lld", s->inits[init].name, s->budgets[budget].label,
             (long long)s->seeds[seed]);
}
