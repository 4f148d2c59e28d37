/* value.c — configuration values: parsing one scalar against a key (type, range, allowed values),
 * the config object (every registered key with a value) and typed access. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cfg.h"

void cfg_value_free(cfg_value *v) {
    if (v->s)
        for (int j = 0; j < v->n; j++)
            free(v->s[j]);
    free(v->i);
    free(v->f);
    free(v->s);
    memset(v, 0, sizeof *v);
}

bool cfg_value_copy(cfg_value *dst, const cfg_value *src) {
    memset(dst, 0, sizeof *dst);
    size_t n = (size_t)(src->n ? src->n : 1);
    if (src->i && !(dst->i = malloc(sizeof(int64_t) * n))) goto fail;
    if (src->f && !(dst->f = malloc(sizeof(double) * n))) goto fail;
    if (src->s && !(dst->s = calloc(n, sizeof(char *)))) goto fail;
    dst->n = src->n;
    if (src->i) memcpy(dst->i, src->i, sizeof(int64_t) * (size_t)src->n);
    if (src->f) memcpy(dst->f, src->f, sizeof(double) * (size_t)src->n);
    if (src->s)
        for (int j = 0; j < src->n; j++)
            if (!(dst->s[j] = strdup(src->s[j]))) goto fail;
    return true;
fail:
    cfg_value_free(dst);
    return false;
}

bool cfg_value_equal(tassl_cfg_type t, const cfg_value *a, const cfg_value *b) {
    if (a->n != b->n) return false;
    for (int j = 0; j < a->n; j++) {
        switch (t) {
        case TASSL_CFG_INT:
        case TASSL_CFG_INT_LIST:
        case TASSL_CFG_BOOL:
            if (a->i[j] != b->i[j]) return false;
            break;
        case TASSL_CFG_FLOAT:
        case TASSL_CFG_FLOAT_LIST:
            if (a->f[j] != b->f[j]) return false;
            break;
        default:
            if (strcmp(a->s[j], b->s[j]) != 0) return false;
        }
    }
    return true;
}

/* Is `val` one of "a|b|c"? */
static bool in_choices(const char *choices, const char *val) {
    size_t n = strlen(val);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, val, n) == 0) return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Numeric range check; writes the message and returns false when outside. */
static bool check_range(const tassl_cfg_key *k, double x, const char *what, const char *text,
                        char *err, size_t errlen) {
    if (!k->range) return true;
    char *end;
    const char *r = k->range;
    bool lo_open = *r == '(';
    double lo = strtod(r + 1, &end);
    while (*end == ' ' || *end == ',')
        end++;
    double hi = strtod(end, &end);
    while (*end == ' ')
        end++;
    bool hi_open = *end == ')';
    bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    if (!ok) snprintf(err, errlen, "%s: %s is out of range %s", what, text, k->range);
    return ok;
}

static bool grow(cfg_value *v, tassl_cfg_type t) {
    size_t n = (size_t)v->n + 1;
    if (t == TASSL_CFG_FLOAT || t == TASSL_CFG_FLOAT_LIST) {
        double *f = realloc(v->f, sizeof(double) * n);
        if (!f) return false;
        v->f = f;
    } else if (t == TASSL_CFG_STRING || t == TASSL_CFG_ENUM || t == TASSL_CFG_STRING_LIST) {
        char **s = realloc(v->s, sizeof(char *) * n);
        if (!s) return false;
        v->s = s;
    } else {
        int64_t *i = realloc(v->i, sizeof(int64_t) * n);
        if (!i) return false;
        v->i = i;
    }
    return true;
}

bool cfg_parse_elem(const tassl_cfg_key *k, const char *text, bool quoted, bool null_plain, int idx,
                    cfg_value *v, char *err, size_t errlen) {
    char what[160];
    if (idx >= 0)
        snprintf(what, sizeof what, "%s[%d]", k->name, idx);
    else
        snprintf(what, sizeof what, "%s", k->name);
    tassl_cfg_type t = k->type;
    const char *choices = cfg_choices(k);
    if (!grow(v, t)) {
        snprintf(err, errlen, "%s: out of memory", what);
        return false;
    }
    const char *expect = t == TASSL_CFG_INT || t == TASSL_CFG_INT_LIST       ? "an integer"
                         : t == TASSL_CFG_FLOAT || t == TASSL_CFG_FLOAT_LIST ? "a number"
                         : t == TASSL_CFG_BOOL                               ? "true or false"
                                                                             : "a string";
    if (t == TASSL_CFG_STRING || t == TASSL_CFG_STRING_LIST) {
        if (!(v->s[v->n] = strdup(null_plain ? "" : text))) {
            snprintf(err, errlen, "%s: out of memory", what);
            return false;
        }
        v->n++;
        return true;
    }
    if (t == TASSL_CFG_ENUM) {
        if (null_plain || !in_choices(choices, text)) {
            snprintf(err, errlen, "%s: '%s' is not one of %s", what, null_plain ? "" : text,
                     choices);
            return false;
        }
        if (!(v->s[v->n] = strdup(text))) {
            snprintf(err, errlen, "%s: out of memory", what);
            return false;
        }
        v->n++;
        return true;
    }
    if (null_plain || quoted) {
        snprintf(err, errlen, "%s: expected %s, got %s%s%s", what, expect,
                 null_plain ? "nothing" : "the string \"", null_plain ? "" : text,
                 null_plain ? "" : "\" (remove the quotes)");
        return false;
    }
    char *end = NULL;
    errno = 0;
    if (t == TASSL_CFG_BOOL) {
        static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
        int b = -1;
        for (int j = 0; j < 3; j++) {
            if (strcasecmp(text, yes[j]) == 0) b = 1;
            if (strcasecmp(text, no[j]) == 0) b = 0;
        }
        if (b < 0) {
            snprintf(err, errlen, "%s: expected %s, got '%s'", what, expect, text);
            return false;
        }
        v->i[v->n++] = b;
        return true;
    }
    if (t == TASSL_CFG_INT || t == TASSL_CFG_INT_LIST) {
        long long x = strtoll(text, &end, 10);
        if (!*text || isspace((unsigned char)*text) || *end) {
            snprintf(err, errlen, "%s: expected %s, got '%s'", what, expect, text);
            return false;
        }
        if (errno == ERANGE) {
            snprintf(err, errlen, "%s: %s does not fit a 64-bit integer", what, text);
            return false;
        }
        if (!check_range(k, (double)x, what, text, err, errlen)) return false;
        char num[32];
        snprintf(num, sizeof num, "%lld", x);
        if (choices && !in_choices(choices, num)) {
            snprintf(err, errlen, "%s: %s is not one of %s", what, text, choices);
            return false;
        }
        v->i[v->n++] = x;
        return true;
    }
    /* float */
    double x = strtod(text, &end);
    if (!*text || isspace((unsigned char)*text) || *end) {
        snprintf(err, errlen, "%s: expected %s, got '%s'", what, expect, text);
        return false;
    }
    if (!isfinite(x)) {
        snprintf(err, errlen, "%s: expected a finite number, got '%s'", what, text);
        return false;
    }
    if (!check_range(k, x, what, text, err, errlen)) return false;
    v->f[v->n++] = x;
    return true;
}

/* ---- the config object ---------------------------------------------------------------------- */

tassl_status tassl_config_new(tassl_config **out) {
    *out = NULL;
    int n = tassl_config_key_count();
    tassl_config *c = calloc(1, sizeof *c);
    if (!c) return tassl_error(TASSL_ERR_NOMEM, "config: out of memory");
    c->key = calloc((size_t)n + 1, sizeof *c->key);
    c->val = calloc((size_t)n + 1, sizeof *c->val);
    c->set = calloc((size_t)n + 1, sizeof *c->set);
    if (!c->key || !c->val || !c->set) {
        tassl_config_free(c);
        return tassl_error(TASSL_ERR_NOMEM, "config: out of memory");
    }
    for (int i = 0; i < n; i++) {
        char err[512];
        c->key[i] = tassl_config_key_at(i);
        c->n = i + 1;
        if (!cfg_parse_text(c->key[i], c->key[i]->def, &c->val[i], err, sizeof err)) {
            tassl_config_free(c);
            return tassl_error(TASSL_ERR_ARG, "config: default of %s", err);
        }
    }
    *out = c;
    return TASSL_OK;
}

void tassl_config_free(tassl_config *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++)
        cfg_value_free(&c->val[i]);
    free(c->key);
    free(c->val);
    free(c->set);
    free(c);
}

tassl_status tassl_config_copy(const tassl_config *c, tassl_config **out) {
    *out = NULL;
    tassl_config *d = calloc(1, sizeof *d);
    if (!d) return tassl_error(TASSL_ERR_NOMEM, "config: out of memory");
    d->key = calloc((size_t)c->n + 1, sizeof *d->key);
    d->val = calloc((size_t)c->n + 1, sizeof *d->val);
    d->set = calloc((size_t)c->n + 1, sizeof *d->set);
    if (!d->key || !d->val || !d->set) {
        tassl_config_free(d);
        return tassl_error(TASSL_ERR_NOMEM, "config: out of memory");
    }
    for (int i = 0; i < c->n; i++) {
        d->key[i] = c->key[i];
        d->set[i] = c->set[i];
        d->n = i + 1;
        if (!cfg_value_copy(&d->val[i], &c->val[i])) {
            tassl_config_free(d);
            return tassl_error(TASSL_ERR_NOMEM, "config: out of memory");
        }
    }
    *out = d;
    return TASSL_OK;
}

bool tassl_config_equal(const tassl_config *a, const tassl_config *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->key[i] != b->key[i] || !cfg_value_equal(a->key[i]->type, &a->val[i], &b->val[i]))
            return false;
    return true;
}

int cfg_find(const tassl_config *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->key[i]->name, name) == 0) return i;
    return -1;
}

bool tassl_config_is_set(const tassl_config *c, const char *key) {
    int i = cfg_find(c, key);
    return i >= 0 && c->set[i];
}

/* The value of `key`, which must exist with one of the given types (programmer error if not). */
static const cfg_value *get(const tassl_config *c, const char *key, tassl_cfg_type t1,
                            tassl_cfg_type t2) {
    int i = cfg_find(c, key);
    TASSL_CHECK(i >= 0,
                "config key '%s' is not registered (or was registered after the config "
                "was made)",
                key);
    TASSL_CHECK(c->key[i]->type == t1 || c->key[i]->type == t2,
                "config key '%s' is a %s, read as a %s", key, tassl_cfg_type_name(c->key[i]->type),
                tassl_cfg_type_name(t1));
    return &c->val[i];
}

int64_t tassl_config_int(const tassl_config *c, const char *key) {
    return get(c, key, TASSL_CFG_INT, TASSL_CFG_INT)->i[0];
}
double tassl_config_float(const tassl_config *c, const char *key) {
    return get(c, key, TASSL_CFG_FLOAT, TASSL_CFG_FLOAT)->f[0];
}
bool tassl_config_bool(const tassl_config *c, const char *key) {
    return get(c, key, TASSL_CFG_BOOL, TASSL_CFG_BOOL)->i[0] != 0;
}
const char *tassl_config_str(const tassl_config *c, const char *key) {
    return get(c, key, TASSL_CFG_STRING, TASSL_CFG_ENUM)->s[0];
}

static const cfg_value *get_list(const tassl_config *c, const char *key) {
    int i = cfg_find(c, key);
    TASSL_CHECK(i >= 0, "config key '%s' is not registered", key);
    TASSL_CHECK(cfg_is_list(c->key[i]->type), "config key '%s' is a %s, read as a list", key,
                tassl_cfg_type_name(c->key[i]->type));
    return &c->val[i];
}
int tassl_config_list_len(const tassl_config *c, const char *key) {
    return get_list(c, key)->n;
}
int64_t tassl_config_list_int(const tassl_config *c, const char *key, int i) {
    const cfg_value *v = get(c, key, TASSL_CFG_INT_LIST, TASSL_CFG_INT_LIST);
    TASSL_CHECK(i >= 0 && i < v->n, "config key '%s': index %d of %d", key, i, v->n);
    return v->i[i];
}
double tassl_config_list_float(const tassl_config *c, const char *key, int i) {
    const cfg_value *v = get(c, key, TASSL_CFG_FLOAT_LIST, TASSL_CFG_FLOAT_LIST);
    TASSL_CHECK(i >= 0 && i < v->n, "config key '%s': index %d of %d", key, i, v->n);
    return v->f[i];
}
const char *tassl_config_list_str(const tassl_config *c, const char *key, int i) {
    const cfg_value *v = get(c, key, TASSL_CFG_STRING_LIST, TASSL_CFG_STRING_LIST);
    TASSL_CHECK(i >= 0 && i < v->n, "config key '%s': index %d of %d", key, i, v->n);
    return v->s[i];
}
