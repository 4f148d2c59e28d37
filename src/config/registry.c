/* registry.c — the table of every configuration key: registration, lookup, "did you mean".
 *
 * Sections (static tables of keys) are added whole; the registry keeps pointers to their keys
 * sorted by dotted name, compared segment by segment so that a section's keys stay together
 * ("model.depth" < "model.stem" < "model_x"). The built-in sections are registered on first use.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"

typedef struct entry {
    const tassl_cfg_key *k;
    char *choices; /* allowed values incl. those added by other sections; NULL if none */
} entry;

static entry *reg;
static int nreg, capreg;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* strcmp with '.' sorting before every other character */
static int name_cmp(const char *a, const char *b) {
    for (;; a++, b++) {
        int ca = *a == '.' ? 1 : (unsigned char)*a, cb = *b == '.' ? 1 : (unsigned char)*b;
        if (ca != cb || !ca) return ca - cb;
    }
}

static int entry_cmp(const void *a, const void *b) {
    return name_cmp(((const entry *)a)->k->name, ((const entry *)b)->k->name);
}

static int find_entry(const char *name) {
    int lo = 0, hi = nreg - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = name_cmp(reg[mid].k->name, name);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static bool valid_name(const char *s) {
    if (!*s || *s == '.') return false;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (p[1] == '.' || p[1] == 0) return false;
        } else if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) {
            return false;
        }
    }
    return true;
}

/* true if `a` is a proper dotted prefix of `b` ("model" of "model.depth") */
static bool is_prefix(const char *a, const char *b) {
    size_t n = strlen(a);
    return strncmp(a, b, n) == 0 && b[n] == '.';
}

/* Parse "[lo, hi)" etc. Returns false if malformed. */
static bool parse_range(const char *r, double *lo, double *hi, bool *lo_open, bool *hi_open) {
    if (!r) {
        *lo = -INFINITY, *hi = INFINITY, *lo_open = *hi_open = false;
        return true;
    }
    if (*r != '[' && *r != '(') return false;
    *lo_open = *r == '(';
    char *end;
    *lo = strtod(r + 1, &end);
    while (*end == ' ')
        end++;
    if (*end != ',') return false;
    *hi = strtod(end + 1, &end);
    while (*end == ' ')
        end++;
    if ((*end != ']' && *end != ')') || end[1]) return false;
    *hi_open = *end == ')';
    return *lo <= *hi;
}

static tassl_status add_section(const tassl_cfg_section *sec) {
    const char *sn = sec->name ? sec->name : "?";
    for (int i = 0; i < sec->nkeys; i++) {
        const tassl_cfg_key *k = &sec->keys[i];
        if (!k->name || !valid_name(k->name))
            return tassl_error(TASSL_ERR_ARG, "config section '%s': malformed key name '%s'", sn,
                               k->name ? k->name : "(null)");
        if (find_entry(k->name) >= 0)
            return tassl_error(TASSL_ERR_ARG, "config section '%s': key '%s' is already registered",
                               sn, k->name);
        for (int j = 0; j < nreg; j++)
            if (is_prefix(k->name, reg[j].k->name) || is_prefix(reg[j].k->name, k->name))
                return tassl_error(TASSL_ERR_ARG,
                                   "config section '%s': '%s' and '%s' would make one name both a "
                                   "key and a section",
                                   sn, k->name, reg[j].k->name);
        for (int j = 0; j < i; j++)
            if (strcmp(sec->keys[j].name, k->name) == 0)
                return tassl_error(TASSL_ERR_ARG, "config section '%s': key '%s' twice", sn,
                                   k->name);
        double lo, hi;
        bool lo_open, hi_open;
        if (!parse_range(k->range, &lo, &hi, &lo_open, &hi_open))
            return tassl_error(TASSL_ERR_ARG, "config section '%s': key '%s': malformed range '%s'",
                               sn, k->name, k->range);
        if (k->type == TASSL_CFG_ENUM && (!k->choices || !*k->choices))
            return tassl_error(TASSL_ERR_ARG, "config section '%s': enum key '%s' has no choices",
                               sn, k->name);
        if (!k->help || !k->def)
            return tassl_error(TASSL_ERR_ARG,
                               "config section '%s': key '%s' needs a default and a description",
                               sn, k->name);
    }
    for (int i = 0; i < sec->nchoices; i++) {
        const tassl_cfg_choice *ch = &sec->choices[i];
        bool found = false;
        for (int j = 0; j < sec->nkeys; j++)
            found |= strcmp(sec->keys[j].name, ch->key) == 0;
        int e = find_entry(ch->key);
        if (!found && (e < 0 || reg[e].k->type != TASSL_CFG_ENUM))
            return tassl_error(TASSL_ERR_ARG,
                               "config section '%s': choice '%s' added to '%s', which is not a "
                               "registered enum key",
                               sn, ch->value, ch->key);
    }
    /* every default must pass its own key's validation (before anything is added) */
    for (int i = 0; i < sec->nkeys; i++) {
        cfg_value v = {0};
        char err[512];
        if (!cfg_parse_text(&sec->keys[i], sec->keys[i].def, &v, err, sizeof err))
            return tassl_error(TASSL_ERR_ARG, "config section '%s': default of %s", sn, err);
        cfg_value_free(&v);
    }
    if (nreg + sec->nkeys > capreg) {
        int cap = capreg ? capreg : 64;
        while (cap < nreg + sec->nkeys)
            cap *= 2;
        entry *r = realloc(reg, sizeof(entry) * (size_t)cap);
        if (!r) return tassl_error(TASSL_ERR_NOMEM, "config registry: out of memory");
        reg = r, capreg = cap;
    }
    for (int i = 0; i < sec->nkeys; i++) {
        reg[nreg].k = &sec->keys[i];
        reg[nreg].choices = sec->keys[i].choices ? strdup(sec->keys[i].choices) : NULL;
        nreg++;
    }
    qsort(reg, (size_t)nreg, sizeof(entry), entry_cmp);
    for (int i = 0; i < sec->nchoices; i++) {
        entry *e = &reg[find_entry(sec->choices[i].key)];
        size_t n = strlen(e->choices) + strlen(sec->choices[i].value) + 2;
        char *c = malloc(n);
        if (!c) return tassl_error(TASSL_ERR_NOMEM, "config registry: out of memory");
        snprintf(c, n, "%s|%s", e->choices, sec->choices[i].value);
        free(e->choices);
        e->choices = c;
    }
    return TASSL_OK;
}

static void init_builtin(void) {
    for (int i = 0; tassl_cfg_builtin_sections[i]; i++) {
        tassl_status s = add_section(tassl_cfg_builtin_sections[i]);
        TASSL_CHECK(s == TASSL_OK, "%s", tassl_last_error());
    }
}

void cfg_registry_init(void) {
    pthread_once(&once, init_builtin);
}

tassl_status tassl_config_register(const tassl_cfg_section *sec) {
    cfg_registry_init();
    return add_section(sec);
}

int tassl_config_key_count(void) {
    cfg_registry_init();
    return nreg;
}

const tassl_cfg_key *tassl_config_key_at(int i) {
    cfg_registry_init();
    return i >= 0 && i < nreg ? reg[i].k : NULL;
}

const tassl_cfg_key *tassl_config_key_find(const char *name) {
    cfg_registry_init();
    int e = find_entry(name);
    return e >= 0 ? reg[e].k : NULL;
}

const char *cfg_choices(const tassl_cfg_key *k) {
    int e = find_entry(k->name);
    return e >= 0 && reg[e].k == k ? reg[e].choices : k->choices;
}

const char *tassl_config_key_choices(const tassl_cfg_key *k) {
    cfg_registry_init();
    int e = find_entry(k->name);
    return e >= 0 && reg[e].k == k ? reg[e].choices : k->choices;
}

bool cfg_is_section(const char *prefix) {
    cfg_registry_init();
    for (int i = 0; i < nreg; i++)
        if (is_prefix(prefix, reg[i].k->name)) return true;
    return false;
}

const char *tassl_cfg_type_name(tassl_cfg_type t) {
    switch (t) {
    case TASSL_CFG_INT:
        return "int";
    case TASSL_CFG_FLOAT:
        return "float";
    case TASSL_CFG_BOOL:
        return "bool";
    case TASSL_CFG_STRING:
        return "string";
    case TASSL_CFG_ENUM:
        return "enum";
    case TASSL_CFG_INT_LIST:
        return "list of ints";
    case TASSL_CFG_FLOAT_LIST:
        return "list of floats";
    case TASSL_CFG_STRING_LIST:
        return "list of strings";
    }
    return "?";
}

bool cfg_is_list(tassl_cfg_type t) {
    return t == TASSL_CFG_INT_LIST || t == TASSL_CFG_FLOAT_LIST || t == TASSL_CFG_STRING_LIST;
}

/* Levenshtein distance (short strings: key names) */
int tassl_name_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > 127 || nb > 127) return 1000;
    int prev[128], cur[128];
    for (size_t j = 0; j <= nb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (nb + 1));
    }
    return prev[nb];
}

static const char *leaf(const char *name) {
    const char *d = strrchr(name, '.');
    return d ? d + 1 : name;
}

const char *tassl_closest_name(const char *name, const char *const *cands, int n) {
    int best = 1 << 30;
    const char *out = NULL;
    for (int i = 0; i < n; i++) {
        const char *k = cands[i];
        int d = tassl_name_distance(name, k);
        /* the right key in the wrong section ("train.lr" for "optim.lr"): the leaf matches */
        int dl = tassl_name_distance(leaf(name), leaf(k));
        if (dl <= 1 && dl + 2 < d) d = dl + 2;
        if (d < best) best = d, out = k;
    }
    int len = (int)strlen(name), limit = len / 3 > 2 ? len / 3 : 2;
    return best <= limit ? out : NULL;
}

const char *tassl_config_suggest(const char *name) {
    cfg_registry_init();
    const char **names = malloc(sizeof *names * (size_t)(nreg > 0 ? nreg : 1));
    if (!names) return NULL;
    for (int i = 0; i < nreg; i++)
        names[i] = reg[i].k->name;
    const char *out = tassl_closest_name(name, names, nreg);
    free(names);
    return out;
}
