/* util.c — the report's small helpers: a growing string with HTML escaping and base64, CSV and
 * JSON reading whose errors name file and line, path helpers and atomic writes. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "report_internal.h"

/* ---- string buffer -------------------------------------------------------------------------- */

static bool grow(rp_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->n + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void rp_buf_addn(rp_buf *b, const char *s, size_t n) {
    if (!grow(b, n)) return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void rp_buf_add(rp_buf *b, const char *s) {
    rp_buf_addn(b, s, strlen(s));
}

void rp_buf_printf(rp_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || !grow(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void rp_buf_esc(rp_buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            rp_buf_add(b, "&amp;");
            break;
        case '<':
            rp_buf_add(b, "&lt;");
            break;
        case '>':
            rp_buf_add(b, "&gt;");
            break;
        case '"':
            rp_buf_add(b, "&quot;");
            break;
        case '\'':
            rp_buf_add(b, "&#39;");
            break;
        default:
            rp_buf_addn(b, s, 1);
        }
    }
}

void rp_buf_base64(rp_buf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!grow(b, (n + 2) / 3 * 4)) return;
    char *o = b->s + b->n;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->n = (size_t)(o - b->s);
    b->s[b->n] = 0;
}

void rp_buf_free(rp_buf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- files ---------------------------------------------------------------------------------- */

char *rp_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

bool rp_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool rp_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool rp_resolve(const char *run_dir, const char *p, char *out, size_t len) {
    if (!p || !*p) return false;
    if (p[0] == '/') {
        snprintf(out, len, "%s", p);
        return rp_is_file(out);
    }
    snprintf(out, len, "%s/%s", run_dir, p);
    if (rp_is_file(out)) return true;
    snprintf(out, len, "%s/predictions/%s", run_dir, p);
    return rp_is_file(out);
}

tassl_status rp_read_file(const char *path, unsigned char **data, size_t *n) {
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *d = malloc(cap + 1);
    while (d) {
        size_t k = fread(d + len, 1, cap - len, f);
        len += k;
        if (len < cap) break;
        unsigned char *nd = realloc(d, cap * 2 + 1);
        if (!nd) {
            free(d);
            d = NULL;
            break;
        }
        d = nd;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!d) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory reading it", path);
    if (err) {
        free(d);
        return tassl_error(TASSL_ERR_IO, "%s: read failed", path);
    }
    d[len] = 0;
    *data = d;
    *n = len;
    return TASSL_OK;
}

tassl_status rp_write_file(const char *path, const void *data, size_t n) {
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    if (!tmp) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        tassl_status s = tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    bool ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        tassl_status s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    return TASSL_OK;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

tassl_status rp_json_load(const char *path, json_t **out) {
    *out = NULL;
    if (!rp_is_file(path)) return tassl_error(TASSL_ERR_IO, "%s: no such file", path);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        return tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", path, e.line, e.column,
                           e.text);
    *out = j;
    return TASSL_OK;
}

double rp_json_num(const json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

bool rp_parse_num(const char *s, double *out) {
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || !strcasecmp(s, "nan") || !strcasecmp(s, "null") || !strcmp(s, "NA")) {
        *out = NAN;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == s || *end) return false;
    *out = v;
    return true;
}

typedef struct fields {
    char **v;
    int n, cap;
} fields;

static bool fields_push(fields *f, const char *s, size_t n) {
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        char **v = realloc(f->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        f->v = v;
        f->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return false;
    memcpy(c, s, n);
    c[n] = 0;
    f->v[f->n++] = c;
    return true;
}

/* Split one line (without its newline) into fields. Returns 0 ok, 1 unterminated quote, 2 no
 * memory. */
static int split_line(const char *s, fields *out) {
    size_t len = strlen(s);
    char *tmp = malloc(len + 1);
    if (!tmp) return 2;
    const char *p = s;
    for (;;) {
        size_t k = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    free(tmp);
                    return 1;
                }
                if (*p == '"' && p[1] == '"') {
                    tmp[k++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    tmp[k++] = *p++;
            }
            while (*p == ' ' || *p == '\t')
                p++;
        } else {
            while (*p && *p != ',')
                tmp[k++] = *p++;
            while (k > 0 && (tmp[k - 1] == ' ' || tmp[k - 1] == '\t'))
                k--;
        }
        if (!fields_push(out, tmp, k)) {
            free(tmp);
            return 2;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p) { /* text after a closing quote */
            free(tmp);
            return 1;
        }
        break;
    }
    free(tmp);
    return 0;
}

static void fields_free(fields *f) {
    for (int i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

void rp_csv_free(rp_csv *c) {
    for (int i = 0; i < c->ncols; i++)
        free(c->head ? c->head[i] : NULL);
    if (c->cells)
        for (size_t i = 0; i < (size_t)c->nrows * (size_t)c->ncols; i++)
            free(c->cells[i]);
    free(c->head);
    free(c->cells);
    free(c->line);
    memset(c, 0, sizeof *c);
}

tassl_status rp_csv_read(const char *path, rp_csv *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    unsigned char *data;
    size_t n;
    tassl_status st = rp_read_file(path, &data, &n);
    if (st != TASSL_OK) return st;
    char *text = (char *)data;
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3;
    int lineno = 0, cap = 0;
    st = TASSL_OK;
    for (char *line = text; line && *line && st == TASSL_OK;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t L = strlen(line);
        if (L && line[L - 1] == '\r') line[L - 1] = 0;
        lineno++;
        const char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q && *q != '#') {
            fields f = {0};
            int r = split_line(line, &f);
            if (r == 1)
                st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: unterminated or misplaced quote", path,
                                 lineno);
            else if (r == 2)
                st = tassl_error(TASSL_ERR_NOMEM, "%s:%d: out of memory", path, lineno);
            else if (!out->head) {
                out->head = f.v;
                out->ncols = f.n;
                f.v = NULL;
                f.n = 0;
            } else if (f.n > out->ncols) {
                st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: row has %d fields, the header has %d",
                                 path, lineno, f.n, out->ncols);
            } else {
                if (out->nrows == cap) {
                    cap = cap ? cap * 2 : 64;
                    char **c = realloc(out->cells, (size_t)cap * (size_t)out->ncols * sizeof *c);
                    int *l = realloc(out->line, (size_t)cap * sizeof *l);
                    if (c) out->cells = c;
                    if (l) out->line = l;
                    if (!c || !l) st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
                }
                if (st == TASSL_OK) {
                    char **row = out->cells + (size_t)out->nrows * (size_t)out->ncols;
                    for (int i = 0; i < out->ncols; i++) {
                        row[i] = i < f.n ? f.v[i] : calloc(1, 1);
                        if (i < f.n) f.v[i] = NULL;
                    }
                    out->line[out->nrows++] = lineno;
                    for (int i = 0; i < out->ncols; i++)
                        if (!row[i]) st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
                }
            }
            fields_free(&f);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    if (st == TASSL_OK && !out->head)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: empty (expected a header line)", path);
    if (st != TASSL_OK) rp_csv_free(out);
    return st;
}

int rp_csv_col(const rp_csv *c, const char *name) {
    for (int i = 0; i < c->ncols; i++)
        if (!strcmp(c->head[i], name)) return i;
    return -1;
}

/* ---- metrics -------------------------------------------------------------------------------- */

bool rp_unit_range(const char *m) {
    static const char *const unit[] = {
        "accuracy", "balanced_accuracy", "macro_auc",   "macro_f1",    "auc",  "f1",
        "recall",   "precision",         "sensitivity", "specificity", "dice", "iou",
        "map50",    "map50_95",          "froc_mean",   "froc"};
    size_t n = strcspn(m, "/");
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (strlen(unit[i]) == n && !strncmp(m, unit[i], n)) return true;
    return false;
}

bool rp_lower_is_better(const char *m) {
    static const char *const low[] = {"hd95",  "hd",  "asd", "assd", "loss", "ece",
                                      "brier", "mae", "mse", "rmse", "fp",   "error"};
    size_t n = strcspn(m, "/");
    for (size_t i = 0; i < sizeof low / sizeof low[0]; i++)
        if (strlen(low[i]) == n && !strncmp(m, low[i], n)) return true;
    return false;
}
