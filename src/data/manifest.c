/* manifest.c — CSV manifests: parse (RFC 4180 quoting, one record per line), resolve and confine
 * paths to the data root, validate every field with a message naming file:line and column; write
 * them back with paths relative to the manifest's folder. Format: docs/DATA.md. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data_internal.h"

/* ---- paths ---------------------------------------------------------------------------------- */

void data_path_normalize(char *p) {
    /* components of p, rebuilt on a stack of segment starts */
    size_t n = strlen(p);
    char *out = p; /* written in place: output never longer than input */
    size_t o = 0;
    size_t i = 0;
    size_t stack[PATH_MAX / 2 + 1];
    int depth = 0;
    out[o++] = '/';
    while (i < n) {
        while (i < n && p[i] == '/') i++;
        size_t s = i;
        while (i < n && p[i] != '/') i++;
        size_t len = i - s;
        if (len == 0 || (len == 1 && p[s] == '.')) continue;
        if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
            if (depth > 0) o = stack[--depth];
            continue;
        }
        if (depth < (int)(sizeof stack / sizeof stack[0])) stack[depth++] = o;
        if (o > 1) out[o++] = '/';
        memmove(out + o, p + s, len);
        o += len;
    }
    out[o] = 0;
    /* the stack stored positions before the separator; a ".." back to position 1 leaves "/" */
    if (o == 0) {
        out[0] = '/';
        out[1] = 0;
    }
}

char *data_path_join(const char *base_dir, const char *rel) {
    size_t nb = strlen(base_dir), nr = strlen(rel);
    char *r = malloc(nb + nr + 2);
    if (!r) return NULL;
    if (rel[0] == '/')
        memcpy(r, rel, nr + 1);
    else {
        memcpy(r, base_dir, nb);
        r[nb] = '/';
        memcpy(r + nb + 1, rel, nr + 1);
    }
    data_path_normalize(r);
    return r;
}

int data_path_inside(const char *p, const char *root) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return p[0] == '/';
    return strncmp(p, root, n) == 0 && (p[n] == 0 || p[n] == '/');
}

char *data_path_absolute(const char *p) {
    if (p[0] == '/') {
        char *r = strdup(p);
        if (r) data_path_normalize(r);
        return r;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    return data_path_join(cwd, p);
}

void data_path_dirname(const char *p, char *out, size_t cap) {
    const char *s = strrchr(p, '/');
    if (!s) {
        snprintf(out, cap, ".");
        return;
    }
    if (s == p) {
        snprintf(out, cap, "/");
        return;
    }
    snprintf(out, cap, "%.*s", (int)(s - p), p);
}

tassl_status data_mkdirs(const char *dir) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return tassl_error(TASSL_ERR_IO, "%s: path too long", dir);
    for (char *q = buf + 1;; q++) {
        if (*q == '/' || *q == 0) {
            char c = *q;
            *q = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return tassl_error(TASSL_ERR_IO, "%s: cannot create directory: %s", buf,
                                   strerror(errno));
            *q = c;
            if (c == 0) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tassl_error(TASSL_ERR_IO, "%s: not a directory", dir);
    return TASSL_OK;
}

int data_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap;
}

/* ---- records -------------------------------------------------------------------------------- */

const char *tassl_split_name(tassl_split s) {
    switch (s) {
    case TASSL_SPLIT_TRAIN: return "train";
    case TASSL_SPLIT_VAL: return "val";
    case TASSL_SPLIT_TEST: return "test";
    default: return "";
    }
}

static void record_free(tassl_record *r) {
    free(r->image);
    free(r->mask);
    free(r->subject);
    free(r->boxes);
    memset(r, 0, sizeof *r);
}

void tassl_manifest_free(tassl_manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) record_free(&m->rec[i]);
    free(m->rec);
    memset(m, 0, sizeof *m);
}

tassl_status tassl_manifest_add(tassl_manifest *m, const tassl_record *r) {
    if (m->n == 0 || (m->n >= 16 && (m->n & (m->n - 1)) == 0)) { /* capacity 16, 32, 64, ... */
        if (m->n >= (1 << 29)) return tassl_error(TASSL_ERR_ARG, "manifest: too many records");
        int cap = m->n ? 2 * m->n : 16;
        tassl_record *nr = realloc(m->rec, (size_t)cap * sizeof *nr);
        if (!nr) return tassl_error(TASSL_ERR_NOMEM, "manifest: out of memory");
        m->rec = nr;
    }
    tassl_record *d = &m->rec[m->n];
    memset(d, 0, sizeof *d);
    d->image = strdup(r->image);
    d->mask = r->mask ? strdup(r->mask) : NULL;
    d->subject = strdup(r->subject ? r->subject : r->image);
    d->label = r->label;
    d->split = r->split;
    d->line = r->line;
    d->nboxes = r->nboxes;
    d->box_dim = r->box_dim;
    if (r->nboxes > 0) {
        d->boxes = malloc((size_t)r->nboxes * sizeof(tassl_box));
        if (d->boxes) memcpy(d->boxes, r->boxes, (size_t)r->nboxes * sizeof(tassl_box));
    }
    if (!d->image || (r->mask && !d->mask) || !d->subject || (r->nboxes > 0 && !d->boxes)) {
        record_free(d);
        return tassl_error(TASSL_ERR_NOMEM, "manifest: out of memory");
    }
    m->n++;
    if (r->label >= 0) {
        m->has_label = 1;
        if (r->label + 1 > m->nclasses) m->nclasses = r->label + 1;
    }
    if (r->mask) m->has_mask = 1;
    if (r->nboxes > 0) m->has_boxes = 1;
    if (r->split != TASSL_SPLIT_NONE) m->has_split = 1;
    return TASSL_OK;
}

tassl_status data_manifest_copy(tassl_manifest *dst, const tassl_manifest *src) {
    memset(dst, 0, sizeof *dst);
    memcpy(dst->source, src->source, sizeof dst->source);
    memcpy(dst->root, src->root, sizeof dst->root);
    for (int i = 0; i < src->n; i++) {
        tassl_status st = tassl_manifest_add(dst, &src->rec[i]);
        if (st != TASSL_OK) {
            tassl_manifest_free(dst);
            return st;
        }
    }
    dst->has_label = src->has_label;
    dst->has_mask = src->has_mask;
    dst->has_boxes = src->has_boxes;
    dst->has_split = src->has_split;
    dst->nclasses = src->nclasses;
    return TASSL_OK;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

enum { COL_IMAGE, COL_LABEL, COL_MASK, COL_BOXES, COL_SUBJECT, COL_SPLIT, NCOLS };
static const char *col_names[NCOLS] = {"image", "label", "mask", "boxes", "subject", "split"};

#define MAX_FIELDS 16
#define MAX_FIELD 4096

typedef struct csv_line {
    int nf;
    char *f[MAX_FIELDS]; /* points into buf */
    char buf[MAX_FIELDS * (MAX_FIELD + 1)];
} csv_line;

/* Split one line [s, e) into fields. Returns TASSL_OK or a FORMAT error naming name:line. */
static tassl_status csv_split(const char *s, const char *e, csv_line *L, const char *name, int line) {
    L->nf = 0;
    char *o = L->buf;
    const char *p = s;
    for (;;) {
        if (L->nf == MAX_FIELDS)
            return tassl_error(TASSL_ERR_FORMAT, "%s:%d: more than %d fields", name, line, MAX_FIELDS);
        L->f[L->nf++] = o;
        size_t len = 0;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p < e && *p == '"') {
            p++;
            for (;;) {
                if (p >= e)
                    return tassl_error(TASSL_ERR_FORMAT,
                                       "%s:%d: field %d: unterminated quote (a quoted field must "
                                       "end on its line)", name, line, L->nf);
                if (*p == '"') {
                    if (p + 1 < e && p[1] == '"') {
                        p += 2;
                        if (len < MAX_FIELD) o[len++] = '"';
                        continue;
                    }
                    p++;
                    break;
                }
                if (len < MAX_FIELD) o[len++] = *p;
                p++;
            }
            while (p < e && (*p == ' ' || *p == '\t')) p++;
            if (p < e && *p != ',')
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s:%d: field %d: text after the closing quote (expected ',')",
                                   name, line, L->nf);
        } else {
            while (p < e && *p != ',') {
                if (*p == '"')
                    return tassl_error(TASSL_ERR_FORMAT,
                                       "%s:%d: field %d: a quote inside an unquoted field (quote the "
                                       "whole field and double inner quotes)", name, line, L->nf);
                if (len < MAX_FIELD) o[len++] = *p;
                p++;
            }
            while (len > 0 && (o[len - 1] == ' ' || o[len - 1] == '\t')) len--;
        }
        if (len >= MAX_FIELD)
            return tassl_error(TASSL_ERR_FORMAT, "%s:%d: field %d longer than %d characters", name,
                               line, L->nf, MAX_FIELD - 1);
        o[len] = 0;
        if (memchr(o, 0, len))
            return tassl_error(TASSL_ERR_FORMAT, "%s:%d: field %d contains a NUL byte", name, line,
                               L->nf);
        o += len + 1;
        if (p >= e) break;
        p++; /* the comma */
    }
    return TASSL_OK;
}

static int parse_int(const char *s, long lo, long hi, long *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

/* "cls: x0 y0 x1 y1; cls: x0 y0 z0 x1 y1 z1; ..." → boxes (D, H, W order). */
static tassl_status parse_boxes(const char *s, tassl_box *out, int *nout, int *dim, const char *name,
                               int line) {
    *nout = 0;
    *dim = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ';');
        if (!e) e = p + strlen(p);
        char seg[512];
        size_t len = (size_t)(e - p);
        if (len >= sizeof seg)
            return tassl_error(TASSL_ERR_FORMAT, "%s:%d: boxes: box %d too long", name, line, *nout + 1);
        memcpy(seg, p, len);
        seg[len] = 0;
        p = *e ? e + 1 : e;
        char *q = seg;
        while (isspace((unsigned char)*q)) q++;
        if (!*q) continue; /* empty segment (trailing ';') */
        if (*nout == TASSL_MAX_BOXES)
            return tassl_error(TASSL_ERR_FORMAT, "%s:%d: boxes: more than %d boxes", name, line,
                               TASSL_MAX_BOXES);
        tassl_box b;
        memset(&b, 0, sizeof b);
        char *colon = strchr(q, ':');
        if (colon) {
            *colon = 0;
            long c;
            char *t = q;
            while (isspace((unsigned char)*t)) t++;
            size_t tl = strlen(t);
            while (tl > 0 && isspace((unsigned char)t[tl - 1])) t[--tl] = 0;
            if (!parse_int(t, 0, 1000000, &c))
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s:%d: boxes: box %d: class '%s' is not an integer >= 0", name,
                                   line, *nout + 1, t);
            b.label = (int)c;
            q = colon + 1;
        }
        double v[7];
        int k = 0;
        for (;;) {
            while (isspace((unsigned char)*q)) q++;
            if (!*q) break;
            if (k == 7) break;
            char *end;
            v[k] = strtod(q, &end);
            if (end == q || !isfinite(v[k]) || (*end && !isspace((unsigned char)*end)))
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s:%d: boxes: box %d: '%s' is not a finite number", name, line,
                                   *nout + 1, q);
            k++;
            q = end;
        }
        if ((k == 4 || k == 6) && *dim && *dim != k / 2)
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s:%d: boxes: box %d has %d numbers, box 1 had %d (one row's boxes "
                               "are all 2D or all 3D)", name, line, *nout + 1, k, 2 * *dim);
        if (k == 4) {
            *dim = 2;
            b.lo[0] = 0, b.hi[0] = 1;
            b.lo[2] = (float)v[0], b.lo[1] = (float)v[1], b.hi[2] = (float)v[2], b.hi[1] = (float)v[3];
        } else if (k == 6) {
            *dim = 3;
            b.lo[2] = (float)v[0], b.lo[1] = (float)v[1], b.lo[0] = (float)v[2];
            b.hi[2] = (float)v[3], b.hi[1] = (float)v[4], b.hi[0] = (float)v[5];
        } else
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s:%d: boxes: box %d has %d numbers (expected 4: x0 y0 x1 y1, or 6: "
                               "x0 y0 z0 x1 y1 z1)", name, line, *nout + 1, k);
        for (int a = 0; a < 3; a++)
            if (!(b.hi[a] > b.lo[a]))
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s:%d: boxes: box %d is empty (each end must exceed its start)",
                                   name, line, *nout + 1);
        out[(*nout)++] = b;
    }
    return TASSL_OK;
}

/* Resolve a path field; confine it to root; optionally check it exists. */
static tassl_status resolve_path(const char *field, const char *what, const char *base_dir,
                                 const char *root, int flags, const char *name, int line, char **out) {
    *out = NULL;
    char *p = data_path_join(base_dir, field);
    if (!p) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", name);
    if (!data_path_inside(p, root)) {
        tassl_status st = tassl_error(TASSL_ERR_ARG,
                                      "%s:%d: %s '%s' resolves to %s, outside the data root %s",
                                      name, line, what, field, p, root);
        free(p);
        return st;
    }
    if (!(flags & TASSL_MANIFEST_NO_FS)) {
        char real[PATH_MAX], realroot[PATH_MAX];
        if (!realpath(p, real)) {
            tassl_status st = tassl_error(TASSL_ERR_IO, "%s:%d: %s '%s' (%s): %s", name, line, what,
                                          field, p, strerror(errno));
            free(p);
            return st;
        }
        if (!realpath(root, realroot)) {
            tassl_status st = tassl_error(TASSL_ERR_IO, "%s: data root %s: %s", name, root,
                                          strerror(errno));
            free(p);
            return st;
        }
        if (!data_path_inside(real, realroot)) {
            tassl_status st = tassl_error(TASSL_ERR_ARG,
                                          "%s:%d: %s '%s' is a link to %s, outside the data root %s",
                                          name, line, what, field, real, realroot);
            free(p);
            return st;
        }
        struct stat sb;
        if (stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            tassl_status st = tassl_error(TASSL_ERR_IO, "%s:%d: %s '%s' is not a regular file", name,
                                          line, what, field);
            free(p);
            return st;
        }
    }
    *out = p;
    return TASSL_OK;
}

static tassl_status parse_row(csv_line *L, const int *colidx, int ncol, const char *name, int line,
                              const char *base_dir, const char *root, int flags, tassl_manifest *m) {
    if (L->nf < ncol) {
        int missing = L->nf; /* first column without a field */
        int which = 0;
        for (int c = 0; c < NCOLS; c++)
            if (colidx[c] == missing) which = c;
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s:%d: row has %d field%s, the header has %d: column '%s' is missing "
                           "(write an empty field ',,' for no value)",
                           name, line, L->nf, L->nf == 1 ? "" : "s", ncol, col_names[which]);
    }
    if (L->nf > ncol)
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s:%d: row has %d fields, the header has %d (quote fields that contain "
                           "commas)", name, line, L->nf, ncol);
    tassl_record r;
    memset(&r, 0, sizeof r);
    r.label = -1;
    r.split = TASSL_SPLIT_NONE;
    r.line = line;
    tassl_box boxes[TASSL_MAX_BOXES];
    char *image = NULL, *mask = NULL;
    tassl_status st = TASSL_OK;
    const char *f_image = L->f[colidx[COL_IMAGE]];
    if (!*f_image) return tassl_error(TASSL_ERR_FORMAT, "%s:%d: column 'image' is empty", name, line);
    if (colidx[COL_LABEL] >= 0 && *L->f[colidx[COL_LABEL]]) {
        long v;
        if (!parse_int(L->f[colidx[COL_LABEL]], 0, 1000000, &v))
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s:%d: column 'label': '%s' is not an integer class in 0..1000000",
                               name, line, L->f[colidx[COL_LABEL]]);
        r.label = (int)v;
    }
    if (colidx[COL_BOXES] >= 0) {
        st = parse_boxes(L->f[colidx[COL_BOXES]], boxes, &r.nboxes, &r.box_dim, name, line);
        if (st != TASSL_OK) return st;
        r.boxes = boxes;
    }
    if (colidx[COL_SPLIT] >= 0) {
        const char *s = L->f[colidx[COL_SPLIT]];
        if (!*s) r.split = TASSL_SPLIT_NONE;
        else if (!strcmp(s, "train")) r.split = TASSL_SPLIT_TRAIN;
        else if (!strcmp(s, "val")) r.split = TASSL_SPLIT_VAL;
        else if (!strcmp(s, "test")) r.split = TASSL_SPLIT_TEST;
        else
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s:%d: column 'split': '%s' (expected train, val, test or empty)",
                               name, line, s);
    }
    st = resolve_path(f_image, "image", base_dir, root, flags, name, line, &image);
    if (st != TASSL_OK) return st;
    if (colidx[COL_MASK] >= 0 && *L->f[colidx[COL_MASK]]) {
        st = resolve_path(L->f[colidx[COL_MASK]], "mask", base_dir, root, flags, name, line, &mask);
        if (st != TASSL_OK) {
            free(image);
            return st;
        }
    }
    r.image = image;
    r.mask = mask;
    r.subject = (colidx[COL_SUBJECT] >= 0 && *L->f[colidx[COL_SUBJECT]]) ? L->f[colidx[COL_SUBJECT]]
                                                                         : image;
    st = tassl_manifest_add(m, &r);
    free(image);
    free(mask);
    return st;
}

tassl_status tassl_manifest_parse(tassl_manifest *m, const char *text, size_t len, const char *name,
                                  const char *base_dir, const char *root, int flags) {
    memset(m, 0, sizeof *m);
    if (!root || root[0] != '/' || !base_dir || base_dir[0] != '/')
        return tassl_error(TASSL_ERR_ARG, "%s: base folder and data root must be absolute paths",
                           name);
    snprintf(m->source, sizeof m->source, "%s", name);
    snprintf(m->root, sizeof m->root, "%s", root);
    data_path_normalize(m->root);
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", base_dir);
    data_path_normalize(base);

    csv_line *L = malloc(sizeof *L);
    if (!L) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", name);
    int colidx[NCOLS];
    for (int c = 0; c < NCOLS; c++) colidx[c] = -1;
    int ncol = 0, have_header = 0, line = 0;
    tassl_status st = TASSL_OK;
    const char *p = text, *end = text + len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte-order mark */
    while (p < end && st == TASSL_OK) {
        line++;
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        const char *le = e;
        if (le > p && le[-1] == '\r') le--;
        const char *q = p;
        p = e < end ? e + 1 : end;
        while (q < le && (*q == ' ' || *q == '\t')) q++;
        if (q == le || *q == '#') continue; /* blank line or comment */
        st = csv_split(q, le, L, name, line);
        if (st != TASSL_OK) break;
        if (!have_header) {
            have_header = 1;
            ncol = L->nf;
            for (int i = 0; i < L->nf && st == TASSL_OK; i++) {
                int c = 0;
                while (c < NCOLS && strcmp(L->f[i], col_names[c])) c++;
                if (c == NCOLS)
                    st = tassl_error(TASSL_ERR_FORMAT,
                                     "%s:%d: unknown column '%s' (expected a header naming some of: "
                                     "image, label, mask, boxes, subject, split)", name, line, L->f[i]);
                else if (colidx[c] >= 0)
                    st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: column '%s' appears twice", name, line,
                                     L->f[i]);
                else
                    colidx[c] = i;
            }
            if (st == TASSL_OK && colidx[COL_IMAGE] < 0)
                st = tassl_error(TASSL_ERR_FORMAT,
                                 "%s:%d: the header has no 'image' column (first line must name the "
                                 "columns, e.g. image,label,subject)", name, line);
            continue;
        }
        st = parse_row(L, colidx, ncol, name, line, base, m->root, flags, m);
    }
    free(L);
    if (st == TASSL_OK && !have_header)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: empty manifest (no header line)", name);
    if (st == TASSL_OK && m->n == 0)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: the manifest has a header but no rows", name);
    if (st == TASSL_OK) st = tassl_manifest_check_subjects(m);
    if (st != TASSL_OK) tassl_manifest_free(m);
    return st;
}

tassl_status tassl_manifest_read(tassl_manifest *m, const char *path, const char *root) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open manifest: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > ((size_t)1 << 30)) {
                free(buf);
                fclose(f);
                return tassl_error(TASSL_ERR_FORMAT, "%s: manifest larger than 1 GiB", path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    if (err) {
        free(buf);
        return tassl_error(TASSL_ERR_IO, "%s: read error", path);
    }
    char *abs = data_path_absolute(path);
    char dir[PATH_MAX], rootabs[PATH_MAX];
    tassl_status st;
    if (!abs) {
        free(buf);
        return tassl_error(TASSL_ERR_IO, "%s: cannot resolve the path", path);
    }
    data_path_dirname(abs, dir, sizeof dir);
    if (root) {
        char *r = data_path_absolute(root);
        if (!r) {
            free(abs);
            free(buf);
            return tassl_error(TASSL_ERR_IO, "%s: cannot resolve the data root", root);
        }
        snprintf(rootabs, sizeof rootabs, "%s", r);
        free(r);
    } else
        snprintf(rootabs, sizeof rootabs, "%s", dir);
    st = tassl_manifest_parse(m, buf, n, path, dir, rootabs, 0);
    free(abs);
    free(buf);
    return st;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void csv_put(FILE *f, const char *s) {
    int quote = s[0] == '#' || s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' ') ||
                strpbrk(s, ",\"\t") != NULL;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_path(FILE *f, const char *p, const char *dir) {
    size_t n = strlen(dir);
    if (strncmp(p, dir, n) == 0 && p[n] == '/')
        csv_put(f, p + n + 1);
    else
        csv_put(f, p);
}

tassl_status tassl_manifest_write(const tassl_manifest *m, const char *path) {
    char *abs = data_path_absolute(path);
    if (!abs) return tassl_error(TASSL_ERR_IO, "%s: cannot resolve the path", path);
    char dir[PATH_MAX], tmp[PATH_MAX + 8];
    data_path_dirname(abs, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", abs);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        tassl_status st = tassl_error(TASSL_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        free(abs);
        return st;
    }
    fputs("image", f);
    if (m->has_label) fputs(",label", f);
    if (m->has_mask) fputs(",mask", f);
    if (m->has_boxes) fputs(",boxes", f);
    fputs(",subject", f);
    if (m->has_split) fputs(",split", f);
    fputc('\n', f);
    for (int i = 0; i < m->n; i++) {
        const tassl_record *r = &m->rec[i];
        put_path(f, r->image, dir);
        if (m->has_label) {
            if (r->label >= 0) fprintf(f, ",%d", r->label);
            else fputc(',', f);
        }
        if (m->has_mask) {
            fputc(',', f);
            if (r->mask) put_path(f, r->mask, dir);
        }
        if (m->has_boxes) {
            fputc(',', f);
            for (int b = 0; b < r->nboxes; b++) {
                const tassl_box *x = &r->boxes[b];
                if (b) fputs("; ", f);
                if (r->box_dim == 3)
                    fprintf(f, "%d: %g %g %g %g %g %g", x->label, x->lo[2], x->lo[1], x->lo[0],
                            x->hi[2], x->hi[1], x->hi[0]);
                else
                    fprintf(f, "%d: %g %g %g %g", x->label, x->lo[2], x->lo[1], x->hi[2], x->hi[1]);
            }
        }
        fputc(',', f);
        if (strcmp(r->subject, r->image) != 0) csv_put(f, r->subject); /* empty: the image */
        if (m->has_split) fprintf(f, ",%s", tassl_split_name((tassl_split)r->split));
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, abs) != 0) {
        tassl_status st = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", abs, strerror(errno));
        remove(tmp);
        free(abs);
        return st;
    }
    free(abs);
    return TASSL_OK;
}
