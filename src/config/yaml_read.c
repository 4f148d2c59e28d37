/* yaml_read.c — reading configuration YAML (libyaml's event parser) and --set overrides.
 *
 * A file is one YAML document whose top level is a mapping; nested mappings are sections, so
 * `model: {depth: 18}` and `model.depth: 18` name the same key. Every key and value is checked
 * against the registry as it is read; the first problem stops the read with "ORIGIN:LINE:COL:
 * message". Values go into a copy of the config that replaces the caller's only on success.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "cfg.h"

typedef struct reader {
    yaml_parser_t p;
    const char *origin;
    tassl_config *c;
    char **seen; /* full names (keys and sections) met in this document */
    int *seen_line;
    int nseen, capseen;
} reader;

/* ---- messages ------------------------------------------------------------------------------- */

static tassl_status at(reader *r, yaml_mark_t m, tassl_status s, const char *fmt, const char *a,
                       const char *b) {
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    return tassl_error(s, "%s:%d:%d: %s", r->origin, (int)m.line + 1, (int)m.column + 1, msg);
}

static tassl_status parser_error(reader *r) {
    yaml_mark_t m = r->p.problem_mark;
    char msg[512];
    snprintf(msg, sizeof msg, "malformed YAML: %s%s%s", r->p.problem ? r->p.problem : "error",
             r->p.context ? " " : "", r->p.context ? r->p.context : "");
    return tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: %s", r->origin, (int)m.line + 1,
                       (int)m.column + 1, msg);
}

static bool next(reader *r, yaml_event_t *ev) {
    return yaml_parser_parse(&r->p, ev) != 0;
}

/* Closest registered key or section name with as many segments as `name`. */
static void suggest(const char *name, char *out, size_t len) {
    out[0] = 0;
    const char *k = tassl_config_suggest(name);
    int best = k ? tassl_name_distance(name, k) : 1 << 30;
    if (k) snprintf(out, len, "%s", k);
    int dots = 0;
    for (const char *p = name; *p; p++)
        dots += *p == '.';
    for (int i = 0; i < tassl_config_key_count(); i++) {
        const char *kn = tassl_config_key_at(i)->name;
        char pre[160];
        int d = 0;
        size_t j = 0;
        for (; kn[j] && j < sizeof pre - 1; j++) {
            if (kn[j] == '.' && d++ == dots) break;
            pre[j] = kn[j];
        }
        pre[j] = 0;
        if (!kn[j] || strcmp(pre, kn) == 0) continue; /* that is the key itself */
        int e = tassl_name_distance(name, pre);
        int limit = (int)strlen(name) / 3 > 2 ? (int)strlen(name) / 3 : 2;
        if (e < best && e <= limit) best = e, snprintf(out, len, "%s", pre);
    }
}

static tassl_status unknown(reader *r, yaml_mark_t m, const char *full) {
    char s[160], buf[200] = "";
    suggest(full, s, sizeof s);
    if (s[0]) snprintf(buf, sizeof buf, " (did you mean '%s'?)", s);
    return at(r, m, TASSL_ERR_ARG, "unknown key '%s'%s", full, buf);
}

/* ---- values --------------------------------------------------------------------------------- */

static bool is_null(const yaml_event_t *ev) {
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
            !strcmp(v, "NULL"));
}

static bool is_quoted(const yaml_event_t *ev) {
    return ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
           ev->data.scalar.style != YAML_ANY_SCALAR_STYLE;
}

/* Reads a value of key k whose first event is `ev` into v. Returns the mark of a problem in *bad
 * and the message in err, or true. `ev` is owned by the caller. */
static bool read_value(reader *r, const tassl_cfg_key *k, yaml_event_t *ev, cfg_value *v, char *err,
                       size_t errlen, yaml_mark_t *bad, bool *syntax) {
    *bad = ev->start_mark;
    *syntax = false;
    if (ev->type == YAML_ALIAS_EVENT) {
        snprintf(err, errlen, "%s: aliases (*name) are not supported in configurations", k->name);
        return false;
    }
    if (ev->type == YAML_MAPPING_START_EVENT) {
        snprintf(err, errlen, "'%s' is a single %s value, not a section", k->name,
                 tassl_cfg_type_name(k->type));
        return false;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        if (cfg_is_list(k->type)) {
            snprintf(err, errlen, "%s: expected a %s, e.g. [1, 2], got '%s'", k->name,
                     tassl_cfg_type_name(k->type), (const char *)ev->data.scalar.value);
            return false;
        }
        return cfg_parse_elem(k, (const char *)ev->data.scalar.value, is_quoted(ev), is_null(ev),
                              -1, v, err, errlen);
    }
    /* sequence */
    if (!cfg_is_list(k->type)) {
        snprintf(err, errlen, "%s: expected %s %s, got a list", k->name,
                 k->type == TASSL_CFG_INT ? "an" : "a", tassl_cfg_type_name(k->type));
        return false;
    }
    for (int idx = 0;; idx++) {
        yaml_event_t e;
        if (!next(r, &e)) {
            *syntax = true;
            return false;
        }
        if (e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            return true;
        }
        *bad = e.start_mark;
        bool ok = e.type == YAML_SCALAR_EVENT;
        if (!ok)
            snprintf(err, errlen, "%s[%d]: expected a single value (lists do not nest)", k->name,
                     idx);
        else
            ok = cfg_parse_elem(k, (const char *)e.data.scalar.value, is_quoted(&e), is_null(&e),
                                idx, v, err, errlen);
        yaml_event_delete(&e);
        if (!ok) return false;
    }
}

/* ---- documents ------------------------------------------------------------------------------ */

static tassl_status remember(reader *r, const char *full, yaml_mark_t m) {
    for (int i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i], full) == 0) {
            char line[32];
            snprintf(line, sizeof line, "%d", r->seen_line[i]);
            return at(r, m, TASSL_ERR_ARG, "duplicate key '%s' (first given at line %s)", full,
                      line);
        }
    if (r->nseen == r->capseen) {
        int cap = r->capseen ? 2 * r->capseen : 32;
        char **s = realloc(r->seen, sizeof(char *) * (size_t)cap);
        if (s) r->seen = s;
        int *l = realloc(r->seen_line, sizeof(int) * (size_t)cap);
        if (l) r->seen_line = l;
        if (!s || !l) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
        r->capseen = cap;
    }
    if (!(r->seen[r->nseen] = strdup(full)))
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", r->origin);
    r->seen_line[r->nseen++] = (int)m.line + 1;
    return TASSL_OK;
}

static tassl_status read_mapping(reader *r, const char *prefix) {
    for (;;) {
        yaml_event_t kev, vev;
        if (!next(r, &kev)) return parser_error(r);
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return TASSL_OK;
        }
        if (kev.type != YAML_SCALAR_EVENT || is_quoted(&kev) || is_null(&kev)) {
            tassl_status s =
                at(r, kev.start_mark, TASSL_ERR_ARG, "%s%sexpected a key name (a plain word)",
                   prefix, *prefix ? ": " : "");
            yaml_event_delete(&kev);
            return s;
        }
        char full[256];
        int fl = snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "",
                          (const char *)kev.data.scalar.value);
        yaml_mark_t km = kev.start_mark;
        yaml_event_delete(&kev);
        if (fl >= (int)sizeof full)
            return at(r, km, TASSL_ERR_ARG, "key '%s...' is too long", full, "");
        tassl_status s = remember(r, full, km);
        if (s != TASSL_OK) return s;
        if (!next(r, &vev)) return parser_error(r);
        if (vev.type == YAML_ALIAS_EVENT) {
            s = at(r, vev.start_mark, TASSL_ERR_ARG,
                   "%s: aliases (*name) are not supported in configurations%s", full, "");
            yaml_event_delete(&vev);
            return s;
        }
        int idx = cfg_find(r->c, full);
        if (idx < 0) {
            if (cfg_is_section(full)) {
                if (vev.type == YAML_MAPPING_START_EVENT) {
                    yaml_event_delete(&vev);
                    s = read_mapping(r, full);
                    if (s != TASSL_OK) return s;
                    continue;
                }
                s = at(r, vev.start_mark, TASSL_ERR_ARG,
                       "'%s' is a section: expected a mapping of its keys (see `tassl config keys "
                       "%s`)",
                       full, full);
            } else {
                s = unknown(r, km, full);
            }
            yaml_event_delete(&vev);
            return s;
        }
        const tassl_cfg_key *k = r->c->key[idx];
        cfg_value v = {0};
        char err[768];
        yaml_mark_t bad;
        bool syntax;
        bool ok = read_value(r, k, &vev, &v, err, sizeof err, &bad, &syntax);
        yaml_event_delete(&vev);
        if (!ok) {
            cfg_value_free(&v);
            if (syntax) return parser_error(r);
            return at(r, bad, TASSL_ERR_ARG, "%s%s", err, "");
        }
        cfg_value_free(&r->c->val[idx]);
        r->c->val[idx] = v;
        r->c->set[idx] = true;
    }
}

static tassl_status read_stream(reader *r) {
    yaml_event_t ev;
    if (!next(r, &ev)) return parser_error(r);
    yaml_event_delete(&ev); /* STREAM_START */
    if (!next(r, &ev)) return parser_error(r);
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return TASSL_OK; /* empty file: all defaults */
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */
    if (!next(r, &ev)) return parser_error(r);
    tassl_status s = TASSL_OK;
    if (ev.type == YAML_MAPPING_START_EVENT)
        s = read_mapping(r, "");
    else if (!(ev.type == YAML_SCALAR_EVENT && is_null(&ev)))
        s = at(r, ev.start_mark, TASSL_ERR_ARG,
               "expected a mapping of sections (data:, model:, optim:, ...)%s%s", "", "");
    yaml_event_delete(&ev);
    if (s != TASSL_OK) return s;
    if (!next(r, &ev)) return parser_error(r);
    yaml_event_delete(&ev); /* DOCUMENT_END */
    if (!next(r, &ev)) return parser_error(r);
    if (ev.type != YAML_STREAM_END_EVENT)
        s = at(r, ev.start_mark, TASSL_ERR_ARG,
               "a configuration is one YAML document (found a second one)%s%s", "", "");
    yaml_event_delete(&ev);
    return s;
}

tassl_status tassl_config_load_string(tassl_config *c, const char *text, const char *origin) {
    tassl_config *work;
    tassl_status s = tassl_config_copy(c, &work);
    if (s != TASSL_OK) return s;
    reader r = {.origin = origin ? origin : "<string>", .c = work};
    if (!yaml_parser_initialize(&r.p)) {
        tassl_config_free(work);
        return tassl_error(TASSL_ERR_NOMEM, "%s: cannot initialise the YAML parser", r.origin);
    }
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, strlen(text));
    s = read_stream(&r);
    yaml_parser_delete(&r.p);
    for (int i = 0; i < r.nseen; i++)
        free(r.seen[i]);
    free(r.seen);
    free(r.seen_line);
    if (s == TASSL_OK) { /* commit: swap contents */
        tassl_config tmp = *c;
        *c = *work;
        *work = tmp;
    }
    tassl_config_free(work);
    return s;
}

tassl_status tassl_config_load_file(tassl_config *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b, cap *= 2;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    if (rerr) {
        free(buf);
        return tassl_error(TASSL_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    if (strlen(buf) != n) {
        free(buf);
        return tassl_error(TASSL_ERR_FORMAT, "%s: not a text file (contains a NUL byte)", path);
    }
    tassl_status s = tassl_config_load_string(c, buf, path);
    free(buf);
    return s;
}

/* ---- single values: defaults and --set ------------------------------------------------------ */

bool cfg_parse_text(const tassl_cfg_key *k, const char *text, cfg_value *v, char *err,
                    size_t errlen) {
    memset(v, 0, sizeof *v);
    const char *t = text;
    while (*t == ' ')
        t++;
    char *wrapped = NULL;
    if (cfg_is_list(k->type) && *t != '[') { /* "64,128" → "[64,128]" */
        size_t n = strlen(t) + 3;
        if (!(wrapped = malloc(n))) {
            snprintf(err, errlen, "%s: out of memory", k->name);
            return false;
        }
        snprintf(wrapped, n, "[%s]", t);
        t = wrapped;
    }
    reader r = {.origin = k->name};
    bool ok = false;
    if (!yaml_parser_initialize(&r.p)) {
        free(wrapped);
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", k->name);
        return false;
    }
    yaml_parser_set_input_string(&r.p, (const unsigned char *)t, strlen(t));
    yaml_event_t ev;
    int stage = 0; /* events: stream start, [document start, value, document end], stream end */
    snprintf(err, errlen, "%s: expected a %s value, got '%s'", k->name,
             tassl_cfg_type_name(k->type), text);
    while (next(&r, &ev)) {
        yaml_event_type_t et = ev.type;
        if (et == YAML_STREAM_END_EVENT) {
            if (stage == 0) { /* empty text: a null scalar */
                yaml_event_t nul = {.type = YAML_SCALAR_EVENT};
                nul.data.scalar.value = (yaml_char_t *)"";
                nul.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
                yaml_mark_t bad;
                bool syntax;
                ok = read_value(&r, k, &nul, v, err, errlen, &bad, &syntax);
            }
            yaml_event_delete(&ev);
            break;
        }
        if (et == YAML_SCALAR_EVENT || et == YAML_SEQUENCE_START_EVENT ||
            et == YAML_MAPPING_START_EVENT || et == YAML_ALIAS_EVENT) {
            yaml_mark_t bad;
            bool syntax = false;
            ok = et != YAML_MAPPING_START_EVENT &&
                 read_value(&r, k, &ev, v, err, errlen, &bad, &syntax);
            if (et == YAML_MAPPING_START_EVENT)
                snprintf(err, errlen, "%s: expected a %s value, got a mapping", k->name,
                         tassl_cfg_type_name(k->type));
            if (syntax)
                snprintf(err, errlen, "%s: malformed value '%s': %s", k->name, text,
                         r.p.problem ? r.p.problem : "YAML error");
            stage = 1;
            yaml_event_delete(&ev);
            if (!ok) break;
            continue;
        }
        yaml_event_delete(&ev);
    }
    if (r.p.error != YAML_NO_ERROR) {
        ok = false;
        snprintf(err, errlen, "%s: malformed value '%s': %s", k->name, text,
                 r.p.problem ? r.p.problem : "YAML error");
    }
    yaml_parser_delete(&r.p);
    free(wrapped);
    if (!ok) cfg_value_free(v);
    return ok;
}

tassl_status tassl_config_set(tassl_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return tassl_error(TASSL_ERR_ARG, "--set %s: expected KEY=VALUE (e.g. model.depth=18)",
                           assignment);
    char key[256];
    size_t kl = (size_t)(eq - assignment);
    while (kl && assignment[kl - 1] == ' ')
        kl--;
    if (kl >= sizeof key) return tassl_error(TASSL_ERR_ARG, "--set %s: key too long", assignment);
    memcpy(key, assignment, kl);
    key[kl] = 0;
    int idx = cfg_find(c, key);
    if (idx < 0) {
        if (cfg_is_section(key))
            return tassl_error(TASSL_ERR_ARG,
                               "--set %s: '%s' is a section, not a key (see `tassl config keys "
                               "%s`)",
                               assignment, key, key);
        char s[160], buf[200] = "";
        suggest(key, s, sizeof s);
        if (s[0]) snprintf(buf, sizeof buf, " (did you mean '%s'?)", s);
        return tassl_error(TASSL_ERR_ARG, "--set %s: unknown key '%s'%s", assignment, key, buf);
    }
    cfg_value v;
    char err[768];
    if (!cfg_parse_text(c->key[idx], eq + 1, &v, err, sizeof err))
        return tassl_error(TASSL_ERR_ARG, "--set %s: %s", assignment, err);
    cfg_value_free(&c->val[idx]);
    c->val[idx] = v;
    c->set[idx] = true;
    return TASSL_OK;
}
