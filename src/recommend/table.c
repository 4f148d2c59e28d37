/* table.c — reading the recommendation rule table (configs/recommend.yaml; docs/RECOMMEND.md)
 * with libyaml's document API, so every error names the FILE:LINE:COL of the offending node.
 *
 *   version: 1
 *   rules:
 *     - id: segmentation-generative        # unique
 *       priority: 10                       # applied in ascending order; ties in file order
 *       when: {task: segmentation, dims: [2, 3], labels: {fraction: [0, 0.1], count: [0, 1000]},
 *              unlabelled: [1, 999]}           # images/volumes to pretrain on, when known
 *       set: {paradigm: generative, method: genesis, config: {method.genesis.rescale: true}}
 *       reason: "one line"                 # required
 *       source: "where it comes from"      # required
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "recommend_internal.h"

const char *const tassl_rec_modalities = "ct|mri|xray|ultrasound|histology|fundus";
const char *const tassl_rec_tasks = "classification|segmentation|detection|mixed";
const char *const tassl_rec_targets = "lesion|anatomy|unknown";
static const char *const paradigms =
    "contrastive|non-contrastive|predictive|generative|hybrid|pathology-aware";

const rec_field rec_fields[] = {
    {"paradigm", REC_T_STRING, NULL, "the paradigm named to the user"},
    {"method", REC_T_STRING, "method.name", "the method (method.name)"},
    {"members", REC_T_LIST, "method.hybrid.members", "hybrid members"},
    {"weights", REC_T_LIST, "method.hybrid.weights", "hybrid loss weights"},
    {"preset", REC_T_STRING, "data.aug.preset", "modality augmentation preset"},
    {"aug_set", REC_T_LIST, "data.aug.set", "augmentation overrides of the views"},
    {"encoder", REC_T_STRING, "model.arch", "encoder architecture"},
    {"depth", REC_T_INT, "model.depth", "ResNet depth"},
    {"width", REC_T_FLOAT, "model.width", "width multiplier"},
    {"stem", REC_T_STRING, "model.stem", "ResNet stem"},
    {"norm", REC_T_STRING, "model.norm", "normalisation layers"},
    {"in_channels", REC_T_INT, "model.in_channels", "input channels"},
    {"optimizer", REC_T_STRING, "optim.name", "optimiser"},
    {"lr", REC_T_FLOAT, "optim.lr", "learning rate"},
    {"weight_decay", REC_T_FLOAT, "optim.weight_decay", "weight decay"},
    {"schedule", REC_T_STRING, "schedule.name", "learning-rate schedule"},
    {"warmup", REC_T_FLOAT, NULL, "warm-up as a fraction of the steps"},
    {"steps", REC_T_INT, "train.steps", "optimiser steps"},
    {"patches", REC_T_LIST, NULL, "candidate patch sides, largest first"},
    {"min_batch", REC_T_INT, NULL, "smallest batch the method should run with"},
    {"max_batch", REC_T_INT, NULL, "largest batch worth using"},
    {"baseline", REC_T_STRING, NULL, "the baseline to run next to it"},
    {"note", REC_T_STRING, NULL, "a remark printed with the recommendation"},
};
const int rec_nfields = (int)(sizeof rec_fields / sizeof rec_fields[0]);

const rec_field *rec_field_find(const char *name) {
    for (int i = 0; i < rec_nfields; i++)
        if (strcmp(rec_fields[i].name, name) == 0) return &rec_fields[i];
    return NULL;
}

bool rec_in_set(const char *value, const char *set) {
    size_t n = strlen(value);
    for (const char *p = set; *p;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct reader {
    yaml_document_t doc;
    const char *origin;
    tassl_rec_table *t;
} reader;

static tassl_status at(reader *r, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tassl_status at(reader *r, const yaml_node_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: %s", r->origin, (int)n->start_mark.line + 1,
                       (int)n->start_mark.column + 1, msg);
}

static char *keep(reader *r, const char *s, size_t n) {
    tassl_rec_table *t = r->t;
    if (t->nstrings == t->capstrings) {
        int cap = t->capstrings ? 2 * t->capstrings : 64;
        char **ns = realloc(t->strings, (size_t)cap * sizeof *ns);
        if (!ns) return NULL;
        t->strings = ns;
        t->capstrings = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    t->strings[t->nstrings++] = c;
    return c;
}

static const char *scalar(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool parse_num(const char *s, double *v) {
    if (!s || !*s) return false;
    if (strcmp(s, "inf") == 0 || strcmp(s, ".inf") == 0) {
        *v = INFINITY;
        return true;
    }
    char *e;
    errno = 0;
    *v = strtod(s, &e);
    return *e == 0 && errno == 0 && isfinite(*v);
}

static bool parse_int(const char *s, long long *v) {
    if (!s || !*s) return false;
    char *e;
    errno = 0;
    *v = strtoll(s, &e, 10);
    return *e == 0 && errno == 0;
}

/* a scalar as YAML flow text: plain scalars as they are, quoted ones double-quoted */
static bool flow_scalar(const yaml_node_t *n, char *buf, size_t len, size_t *pos) {
    const char *v = scalar(n);
    int w;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        w = snprintf(buf + *pos, len - *pos, "%s", v);
    } else {
        w = snprintf(buf + *pos, len - *pos, "\"");
        for (const char *p = v; w >= 0 && *p && *pos + (size_t)w + 3 < len; p++) {
            if (*p == '"' || *p == '\\') buf[*pos + (size_t)w++] = '\\';
            buf[*pos + (size_t)w++] = *p;
        }
        if (*pos + (size_t)w + 2 >= len) return false;
        buf[*pos + (size_t)w++] = '"';
        buf[*pos + (size_t)w] = 0;
    }
    if (w < 0 || *pos + (size_t)w >= len) return false;
    *pos += (size_t)w;
    return true;
}

/* a scalar or a sequence of scalars as flow text ("simclr", "[simclr, genesis]") */
static tassl_status flow(reader *r, const yaml_node_t *n, const char *what, char **out) {
    char buf[2048];
    size_t pos = 0;
    buf[0] = 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (!flow_scalar(n, buf, sizeof buf, &pos)) return at(r, n, "%s: value too long", what);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        buf[pos++] = '[';
        buf[pos] = 0;
        int i = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++, i++) {
            const yaml_node_t *e = yaml_document_get_node(&r->doc, *it);
            if (e->type != YAML_SCALAR_NODE)
                return at(r, e, "%s: expected a list of plain values", what);
            if (i && pos + 2 < sizeof buf) {
                memcpy(buf + pos, ", ", 3);
                pos += 2;
            }
            if (!flow_scalar(e, buf, sizeof buf, &pos)) return at(r, e, "%s: value too long", what);
        }
        if (pos + 2 >= sizeof buf) return at(r, n, "%s: value too long", what);
        buf[pos++] = ']';
        buf[pos] = 0;
    } else {
        return at(r, n, "%s: expected a value or a list of values, not a mapping", what);
    }
    *out = keep(r, buf, pos);
    return *out ? TASSL_OK : tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
}

/* a string (or a list of strings) from the allowed set into vals */
static tassl_status str_list(reader *r, const yaml_node_t *n, const char *what, const char *allowed,
                             const char **vals, int *nvals) {
    const yaml_node_t *one[1] = {n};
    int count = 1;
    const yaml_node_t *items[REC_MAX_VALUES];
    if (n->type == YAML_SEQUENCE_NODE) {
        count = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            if (count == REC_MAX_VALUES)
                return at(r, n, "%s: more than %d values", what, REC_MAX_VALUES);
            items[count++] = yaml_document_get_node(&r->doc, *it);
        }
        if (count == 0)
            return at(r, n, "%s: empty list (leave the condition out to match any)", what);
    } else {
        items[0] = one[0];
    }
    for (int i = 0; i < count; i++) {
        const char *v = scalar(items[i]);
        if (!v) return at(r, items[i], "%s: expected one of %s", what, allowed);
        if (!rec_in_set(v, allowed))
            return at(r, items[i], "%s: '%s' is not one of %s", what, v, allowed);
        vals[i] = keep(r, v, strlen(v));
        if (!vals[i]) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
    }
    *nvals = count;
    return TASSL_OK;
}

static tassl_status range2(reader *r, const yaml_node_t *n, const char *what, double lo_min,
                           double *v) {
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return at(r, n, "%s: expected a range [lo, hi]", what);
    for (int i = 0; i < 2; i++) {
        const yaml_node_t *e = yaml_document_get_node(&r->doc, n->data.sequence.items.start[i]);
        if (!parse_num(scalar(e), &v[i]) || v[i] < lo_min)
            return at(r, e, "%s: expected a number >= %g (or inf)", what, lo_min);
    }
    if (v[0] > v[1]) return at(r, n, "%s: lo %g is above hi %g", what, v[0], v[1]);
    return TASSL_OK;
}

static tassl_status read_when(reader *r, const yaml_node_t *n, rec_when *w) {
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n,
                  "when: expected a mapping of conditions (modality, task, dims, target, labels, unlabelled)");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const char *key = scalar(k);
        tassl_status s = TASSL_OK;
        if (!key) return at(r, k, "when: expected a condition name");
        if (strcmp(key, "modality") == 0)
            s = str_list(r, v, "when.modality", tassl_rec_modalities, w->modality, &w->nmodality);
        else if (strcmp(key, "task") == 0)
            s = str_list(r, v, "when.task", tassl_rec_tasks, w->task, &w->ntask);
        else if (strcmp(key, "target") == 0)
            s = str_list(r, v, "when.target", tassl_rec_targets, w->target, &w->ntarget);
        else if (strcmp(key, "dims") == 0) {
            const char *vals[REC_MAX_VALUES];
            int nv = 0;
            s = str_list(r, v, "when.dims", "2|3", vals, &nv);
            if (s == TASSL_OK && nv > 2) return at(r, v, "when.dims: at most [2, 3]");
            for (int i = 0; s == TASSL_OK && i < nv; i++)
                w->dims[i] = atoi(vals[i]);
            w->ndims = nv;
        } else if (strcmp(key, "unlabelled") == 0) {
            s = range2(r, v, "when.unlabelled", 0, w->unlabelled);
            w->has_unlabelled = true;
        } else if (strcmp(key, "labels") == 0) {
            if (v->type != YAML_MAPPING_NODE)
                return at(r, v, "when.labels: expected {fraction: [lo, hi], count: [lo, hi]}");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                const yaml_node_t *lk = yaml_document_get_node(&r->doc, q->key);
                const yaml_node_t *lv = yaml_document_get_node(&r->doc, q->value);
                const char *l = scalar(lk);
                if (l && strcmp(l, "fraction") == 0) {
                    s = range2(r, lv, "when.labels.fraction", 0, w->fraction);
                    if (s == TASSL_OK && w->fraction[1] > 1 && isfinite(w->fraction[1]))
                        return at(r, lv, "when.labels.fraction: fractions are in [0, 1]");
                    w->has_fraction = true;
                } else if (l && strcmp(l, "count") == 0) {
                    s = range2(r, lv, "when.labels.count", 0, w->count);
                    w->has_count = true;
                } else {
                    return at(r, lk, "when.labels: unknown field '%s' (expected fraction, count)",
                              l ? l : "?");
                }
                if (s != TASSL_OK) return s;
            }
            if (!w->has_fraction && !w->has_count)
                return at(r, v, "when.labels: give fraction: [lo, hi] and/or count: [lo, hi]");
        } else {
            return at(
                r, k,
                "when: unknown condition '%s' (expected modality, task, dims, target, labels, unlabelled)",
                key);
        }
        if (s != TASSL_OK) return s;
    }
    return TASSL_OK;
}

static tassl_status check_type(reader *r, const yaml_node_t *v, const rec_field *f,
                               const char *text) {
    long long i;
    double d;
    switch (f->type) {
    case REC_T_INT:
        if (v->type != YAML_SCALAR_NODE || !parse_int(text, &i) || i < 0)
            return at(r, v, "set.%s: expected a non-negative integer, got %s", f->name, text);
        break;
    case REC_T_FLOAT:
        if (v->type != YAML_SCALAR_NODE || !parse_num(text, &d))
            return at(r, v, "set.%s: expected a number, got %s", f->name, text);
        if (strcmp(f->name, "warmup") == 0 && (d < 0 || d >= 1))
            return at(r, v, "set.warmup: %g is not a fraction of the steps in [0, 1)", d);
        break;
    case REC_T_LIST:
        if (v->type != YAML_SEQUENCE_NODE)
            return at(r, v, "set.%s: expected a list [a, b, ...]", f->name);
        break;
    case REC_T_BOOL:
    case REC_T_STRING:
        if (v->type != YAML_SCALAR_NODE)
            return at(r, v, "set.%s: expected a single value", f->name);
        break;
    }
    if (strcmp(f->name, "paradigm") == 0 && !rec_in_set(text, paradigms))
        return at(r, v, "set.paradigm: '%s' is not one of %s", text, paradigms);
    if (strcmp(f->name, "patches") == 0)
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            const yaml_node_t *e = yaml_document_get_node(&r->doc, *it);
            if (!parse_int(scalar(e), &i) || i < 4 || i > 4096)
                return at(r, e, "set.patches: expected patch sides in [4, 4096]");
        }
    return TASSL_OK;
}

static tassl_status add_set(reader *r, rec_rule *ru, const yaml_node_t *at_node, const char *name,
                            char *value, bool is_key) {
    for (int i = 0; i < ru->nset; i++)
        if (strcmp(ru->set[i].name, name) == 0 && ru->set[i].is_key == is_key &&
            strcmp(name, "note") != 0)
            return at(r, at_node, "set: '%s' given twice in rule '%s'", name, ru->id);
    if (ru->nset == REC_MAX_SETS) return at(r, at_node, "set: more than %d entries", REC_MAX_SETS);
    rec_set *s = &ru->set[ru->nset++];
    s->name = keep(r, name, strlen(name));
    s->value = value;
    s->is_key = is_key;
    s->line = (int)at_node->start_mark.line + 1;
    return s->name ? TASSL_OK : tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
}

static tassl_status read_set(reader *r, const yaml_node_t *n, rec_rule *ru) {
    if (n->type != YAML_MAPPING_NODE) return at(r, n, "set: expected a mapping of fields");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const char *key = scalar(k);
        if (!key) return at(r, k, "set: expected a field name");
        if (strcmp(key, "config") == 0) {
            if (v->type != YAML_MAPPING_NODE)
                return at(r, v, "set.config: expected a mapping of configuration keys");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                const yaml_node_t *ck = yaml_document_get_node(&r->doc, q->key);
                const yaml_node_t *cv = yaml_document_get_node(&r->doc, q->value);
                const char *cname = scalar(ck);
                if (!cname || !strchr(cname, '.'))
                    return at(r, ck,
                              "set.config: expected a dotted configuration key "
                              "(method.simclr.temperature)");
                char *text;
                tassl_status s = flow(r, cv, cname, &text);
                if (s == TASSL_OK) s = add_set(r, ru, ck, cname, text, true);
                if (s != TASSL_OK) return s;
            }
            continue;
        }
        const rec_field *f = rec_field_find(key);
        if (!f) {
            char list[1024];
            size_t pos = 0;
            for (int i = 0; i < rec_nfields && pos < sizeof list; i++)
                pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s, ", rec_fields[i].name);
            return at(r, k, "set: unknown field '%s' (expected %sconfig)", key, list);
        }
        char *text;
        tassl_status s = flow(r, v, key, &text);
        if (s == TASSL_OK) s = check_type(r, v, f, text);
        /* text fields that are not configuration values (note, baseline): the plain text */
        if (s == TASSL_OK && !f->key && f->type == REC_T_STRING &&
            !(text = keep(r, scalar(v), strlen(scalar(v)))))
            s = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
        if (s == TASSL_OK) s = add_set(r, ru, k, f->name, text, false);
        if (s != TASSL_OK) return s;
    }
    return TASSL_OK;
}

static tassl_status read_rule(reader *r, const yaml_node_t *n, rec_rule *ru) {
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "rules: each rule is a mapping (id, priority, when, set, reason, source)");
    ru->line = (int)n->start_mark.line + 1;
    bool has_set = false;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const char *key = scalar(k), *val = scalar(v);
        tassl_status s = TASSL_OK;
        if (!key) return at(r, k, "rule: expected a field name");
        if (strcmp(key, "id") == 0) {
            if (!val || !*val) return at(r, v, "id: expected a name");
            ru->id = keep(r, val, strlen(val));
        } else if (strcmp(key, "priority") == 0) {
            if (!parse_num(val, &ru->priority) || !isfinite(ru->priority))
                return at(r, v, "priority: expected a number");
        } else if (strcmp(key, "when") == 0) {
            s = read_when(r, v, &ru->when);
        } else if (strcmp(key, "set") == 0) {
            s = read_set(r, v, ru);
            has_set = true;
        } else if (strcmp(key, "reason") == 0 || strcmp(key, "source") == 0) {
            if (!val || !*val) return at(r, v, "%s: expected one line of text", key);
            if (strchr(val, '\n')) return at(r, v, "%s: must be one line", key);
            char *c = keep(r, val, strlen(val));
            if (key[0] == 'r')
                ru->reason = c;
            else
                ru->source = c;
        } else {
            return at(r, k,
                      "rule: unknown field '%s' (expected id, priority, when, set, reason, source)",
                      key);
        }
        if (s != TASSL_OK) return s;
    }
    if (!ru->id) return at(r, n, "rule: missing 'id'");
    if (!has_set) return at(r, n, "rule '%s': missing 'set' (what the rule recommends)", ru->id);
    if (!ru->reason) return at(r, n, "rule '%s': missing 'reason' (one line: why)", ru->id);
    if (!ru->source)
        return at(r, n, "rule '%s': missing 'source' (the guideline it comes from)", ru->id);
    return TASSL_OK;
}

static tassl_status read_doc(reader *r) {
    const yaml_node_t *root = yaml_document_get_root_node(&r->doc);
    if (!root) return tassl_error(TASSL_ERR_FORMAT, "%s: empty rule table", r->origin);
    if (root->type != YAML_MAPPING_NODE)
        return at(r, root, "the rule table is a mapping: version: 1, rules: [...]");
    const yaml_node_t *rules = NULL;
    bool version = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const char *key = scalar(k);
        if (key && strcmp(key, "version") == 0) {
            if (!scalar(v) || strcmp(scalar(v), "1") != 0)
                return at(r, v, "version: expected 1 (this tassl reads version 1 tables)");
            version = true;
        } else if (key && strcmp(key, "rules") == 0) {
            rules = v;
        } else {
            return at(r, k, "unknown field '%s' (expected version, rules)", key ? key : "?");
        }
    }
    if (!version) return at(r, root, "missing 'version: 1'");
    if (!rules || rules->type != YAML_SEQUENCE_NODE)
        return at(r, rules ? rules : root, "'rules' must be a list of rules");
    int n = (int)(rules->data.sequence.items.top - rules->data.sequence.items.start);
    if (n == 0) return at(r, rules, "rules: the list is empty");
    r->t->rules = calloc((size_t)n, sizeof(rec_rule));
    if (!r->t->rules) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
    for (int i = 0; i < n; i++) {
        const yaml_node_t *rn =
            yaml_document_get_node(&r->doc, rules->data.sequence.items.start[i]);
        rec_rule *ru = &r->t->rules[i];
        ru->order = i;
        r->t->n = i + 1;
        tassl_status s = read_rule(r, rn, ru);
        if (s != TASSL_OK) return s;
        for (int j = 0; j < i; j++)
            if (strcmp(r->t->rules[j].id, ru->id) == 0)
                return at(r, rn, "rule id '%s' is used twice (first at line %d)", ru->id,
                          r->t->rules[j].line);
    }
    return TASSL_OK;
}

tassl_status tassl_rec_table_parse(const char *text, size_t len, const char *origin,
                                   tassl_rec_table **out) {
    *out = NULL;
    tassl_rec_table *t = calloc(1, sizeof *t);
    if (!t || !(t->origin = strdup(origin))) {
        free(t);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", origin);
    }
    reader r = {.origin = t->origin, .t = t};
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    tassl_status s;
    if (!yaml_parser_load(&p, &r.doc)) {
        s = tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: malformed YAML: %s%s%s", origin,
                        (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1,
                        p.problem ? p.problem : "error", p.context ? " " : "",
                        p.context ? p.context : "");
        yaml_parser_delete(&p);
        tassl_rec_table_free(t);
        return s;
    }
    s = read_doc(&r);
    if (s == TASSL_OK) { /* a second document is an error */
        yaml_document_t more;
        if (yaml_parser_load(&p, &more)) {
            if (yaml_document_get_root_node(&more))
                s = tassl_error(TASSL_ERR_FORMAT, "%s: more than one YAML document", origin);
            yaml_document_delete(&more);
        }
    }
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&p);
    if (s != TASSL_OK) {
        tassl_rec_table_free(t);
        return s;
    }
    *out = t;
    return TASSL_OK;
}

tassl_status tassl_rec_table_load(const char *path, tassl_rec_table **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tassl_error(TASSL_ERR_IO, "%s: cannot open the rule table: %s", path,
                           strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                return tassl_error(TASSL_ERR_FORMAT, "%s: larger than 64 MB", path);
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return tassl_error(TASSL_ERR_IO, "%s: read error", path);
    }
    tassl_status s = tassl_rec_table_parse(buf, len, path, out);
    free(buf);
    return s;
}

void tassl_rec_table_free(tassl_rec_table *t) {
    if (!t) return;
    for (int i = 0; i < t->nstrings; i++)
        free(t->strings[i]);
    free(t->strings);
    free(t->rules);
    free(t->origin);
    free(t);
}

int tassl_rec_table_count(const tassl_rec_table *t) {
    return t->n;
}

const char *tassl_rec_table_origin(const tassl_rec_table *t) {
    return t->origin;
}
