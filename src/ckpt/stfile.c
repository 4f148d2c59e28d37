/* stfile.c — reading safetensors files with full validation (every malformed header, offset or
 * size is a TASSL_ERR_FORMAT naming the file, never a crash), and exporting a prefix of one.
 * Validation follows the reference implementation: header length within the file and at most
 * 100 MB, a JSON object (duplicate keys rejected), known dtypes, non-negative shapes, offsets
 * that tile the data section exactly (sorted, contiguous, no overlap) with end − begin equal to
 * numel × dtype size, and the data section ending at the end of the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

typedef struct st_entry {
    char *name;
    const char *dtype; /* static string */
    int dsize;
    int ndim;
    int64_t *shape;
    int64_t begin, end;
} st_entry;

struct tassl_st {
    char *path;
    FILE *f;
    int64_t data_start;
    st_entry *e;
    int n;
    char **mkeys, **mvals;
    int nmeta;
};

static const struct {
    const char *name;
    int size;
} dtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"F8_E5M2", 1}, {"F8_E4M3", 1},
              {"I16", 2},  {"U16", 2}, {"F16", 2},  {"BF16", 2},    {"I32", 4},
              {"U32", 4},  {"F32", 4}, {"F64", 8},  {"I64", 8},     {"U64", 8}};

void tassl_st_close(tassl_st *st) {
    if (!st) return;
    if (st->f) fclose(st->f);
    for (int i = 0; i < st->n; i++) {
        free(st->e[i].name);
        free(st->e[i].shape);
    }
    for (int i = 0; i < st->nmeta; i++) {
        free(st->mkeys[i]);
        free(st->mvals[i]);
    }
    free(st->e);
    free(st->mkeys);
    free(st->mvals);
    free(st->path);
    free(st);
}

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

#define BAD(...) (s = tassl_error(TASSL_ERR_FORMAT, __VA_ARGS__))

/* Parse one tensor entry `name: {dtype, shape, data_offsets}` into e. */
static tassl_status parse_entry(const char *path, const char *name, json_t *v, st_entry *e) {
    tassl_status s = TASSL_OK;
    if (!json_is_object(v))
        return BAD("%s: header entry '%s' is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return BAD("%s: tensor '%s' has no dtype string", path, name);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(json_string_value(dt), dtypes[i].name) == 0) {
            e->dtype = dtypes[i].name;
            e->dsize = dtypes[i].size;
        }
    if (!e->dtype)
        return BAD("%s: tensor '%s' has unknown dtype '%s'", path, name, json_string_value(dt));
    if (!json_is_array(sh))
        return BAD("%s: tensor '%s' has no shape array", path, name);
    e->ndim = (int)json_array_size(sh);
    if (e->ndim > 64) return BAD("%s: tensor '%s' has %d dims", path, name, e->ndim);
    e->shape = calloc((size_t)e->ndim + 1, sizeof(int64_t));
    if (!e->shape) return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    int64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        json_t *x = json_array_get(sh, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return BAD("%s: tensor '%s': shape entry %d is not a non-negative integer", path, name, d);
        e->shape[d] = json_integer_value(x);
        if (e->shape[d] > 0 && numel > INT64_MAX / 8 / e->shape[d])
            return BAD("%s: tensor '%s': shape too large", path, name);
        numel *= e->shape[d];
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)))
        return BAD("%s: tensor '%s': data_offsets must be [begin, end] integers", path, name);
    e->begin = json_integer_value(json_array_get(off, 0));
    e->end = json_integer_value(json_array_get(off, 1));
    if (e->begin < 0 || e->end < e->begin)
        return BAD("%s: tensor '%s': data_offsets [%lld, %lld] are not 0 <= begin <= end", path,
                   name, (long long)e->begin, (long long)e->end);
    if (e->end - e->begin != numel * e->dsize)
        return BAD("%s: tensor '%s': data_offsets [%lld, %lld] span %lld bytes, but %s with %lld "
                   "elements needs %lld", path, name, (long long)e->begin, (long long)e->end,
                   (long long)(e->end - e->begin), e->dtype, (long long)numel,
                   (long long)(numel * e->dsize));
    return TASSL_OK;
}

static tassl_status parse_header(tassl_st *st, const char *buf, size_t len, int64_t data_len) {
    const char *path = st->path;
    tassl_status s = TASSL_OK;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return BAD("%s: header is not valid JSON: %s (line %d, column %d)", path, jerr.text,
                   jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return BAD("%s: header is not a JSON object", path);
    }
    size_t cap = json_object_size(root);
    st->e = calloc(cap + 1, sizeof *st->e);
    if (!st->e) s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (s != TASSL_OK) break;
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                BAD("%s: __metadata__ is not an object", path);
                break;
            }
            size_t m = json_object_size(v);
            st->mkeys = calloc(m + 1, sizeof(char *));
            st->mvals = calloc(m + 1, sizeof(char *));
            if (!st->mkeys || !st->mvals) {
                s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
                break;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    BAD("%s: __metadata__ value of '%s' is not a string", path, mk);
                    break;
                }
                st->mkeys[st->nmeta] = strdup(mk);
                st->mvals[st->nmeta] = strdup(json_string_value(mv));
                st->nmeta++;
                if (!st->mkeys[st->nmeta - 1] || !st->mvals[st->nmeta - 1]) {
                    s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
                    break;
                }
            }
            continue;
        }
        st_entry *e = &st->e[st->n++];
        e->name = strdup(key);
        if (!e->name) s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
        else s = parse_entry(path, key, v, e);
    }
    json_decref(root);
    if (s != TASSL_OK) return s;
    qsort(st->e, (size_t)st->n, sizeof *st->e, cmp_begin);
    int64_t pos = 0;
    for (int i = 0; i < st->n; i++) {
        const st_entry *e = &st->e[i];
        if (e->begin < pos)
            return BAD("%s: tensor '%s' (bytes %lld..%lld) overlaps '%s' (ending at %lld)", path,
                       e->name, (long long)e->begin, (long long)e->end, st->e[i - 1].name,
                       (long long)pos);
        if (e->begin > pos)
            return BAD("%s: gap in the data: tensor '%s' begins at byte %lld, the previous data "
                       "ends at %lld", path, e->name, (long long)e->begin, (long long)pos);
        pos = e->end;
    }
    if (pos > data_len)
        return BAD("%s: truncated: the tensors need %lld bytes of data, the file holds %lld",
                   path, (long long)pos, (long long)data_len);
    if (pos < data_len)
        return BAD("%s: %lld unexpected bytes after the last tensor's data", path,
                   (long long)(data_len - pos));
    return TASSL_OK;
}

tassl_status tassl_st_open(const char *path, tassl_st **out) {
    *out = NULL;
    tassl_st *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    }
    tassl_status s = TASSL_OK;
    struct stat sb;
    st->f = fopen(path, "rb");
    if (!st->f || fstat(fileno(st->f), &sb) != 0) {
        s = tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        tassl_st_close(st);
        return s;
    }
    if (!S_ISREG(sb.st_mode)) {
        tassl_st_close(st);
        return tassl_error(TASSL_ERR_IO, "%s: not a regular file", path);
    }
    int64_t size = (int64_t)sb.st_size;
    unsigned char h8[8];
    char *hdr = NULL;
    if (size < 8 || fread(h8, 1, 8, st->f) != 8) {
        BAD("%s: %lld bytes is too short for a safetensors file (8-byte header length first)",
            path, (long long)size);
    } else {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++) n |= (uint64_t)h8[i] << (8 * i);
        if (n == 0 || n > (uint64_t)TASSL_ST_MAX_HEADER)
            BAD("%s: bad header length %llu (expected 1..%lld): not a safetensors file?", path,
                (unsigned long long)n, TASSL_ST_MAX_HEADER);
        else if ((int64_t)n > size - 8)
            BAD("%s: truncated: header length %llu, but only %lld bytes follow", path,
                (unsigned long long)n, (long long)(size - 8));
        else if (!(hdr = malloc(n)))
            s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory for the header", path);
        else if (fread(hdr, 1, n, st->f) != n)
            s = tassl_error(TASSL_ERR_IO, "%s: cannot read the header: %s", path, strerror(errno));
        else if (hdr[0] != '{')
            BAD("%s: header does not start with '{': not a safetensors file?", path);
        else {
            st->data_start = 8 + (int64_t)n;
            s = parse_header(st, hdr, n, size - st->data_start);
        }
    }
    free(hdr);
    if (s != TASSL_OK) {
        tassl_st_close(st);
        return s;
    }
    *out = st;
    return TASSL_OK;
}

const char *tassl_st_path(const tassl_st *st) { return st->path; }
int tassl_st_count(const tassl_st *st) { return st->n; }
#define IDX(i) TASSL_CHECK((i) >= 0 && (i) < st->n, "safetensors: tensor %d of %d", (i), st->n)
const char *tassl_st_name(const tassl_st *st, int i) { IDX(i); return st->e[i].name; }
const char *tassl_st_dtype(const tassl_st *st, int i) { IDX(i); return st->e[i].dtype; }
int tassl_st_ndim(const tassl_st *st, int i) { IDX(i); return st->e[i].ndim; }
const int64_t *tassl_st_shape(const tassl_st *st, int i) { IDX(i); return st->e[i].shape; }
int64_t tassl_st_nbytes(const tassl_st *st, int i) { IDX(i); return st->e[i].end - st->e[i].begin; }

int tassl_st_find(const tassl_st *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->e[i].name, name) == 0) return i;
    return -1;
}

int tassl_st_meta_count(const tassl_st *st) { return st->nmeta; }
const char *tassl_st_meta_key(const tassl_st *st, int i) {
    TASSL_CHECK(i >= 0 && i < st->nmeta, "safetensors: metadata %d of %d", i, st->nmeta);
    return st->mkeys[i];
}
const char *tassl_st_meta(const tassl_st *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->mkeys[i], key) == 0) return st->mvals[i];
    return NULL;
}

tassl_status tassl_st_read_raw(const tassl_st *st, int i, void *dst) {
    IDX(i);
    const st_entry *e = &st->e[i];
    size_t n = (size_t)(e->end - e->begin);
    if (n == 0) return TASSL_OK;
    if (fseeko(st->f, (off_t)(st->data_start + e->begin), SEEK_SET) != 0 ||
        fread(dst, 1, n, st->f) != n)
        return tassl_error(TASSL_ERR_IO, "%s: cannot read the data of '%s' (%zu bytes at %lld): %s",
                           st->path, e->name, n, (long long)(st->data_start + e->begin),
                           feof(st->f) ? "file shrank while open" : strerror(errno));
    return TASSL_OK;
}

tassl_status tassl_st_read_f32(const tassl_st *st, int i, float *dst) {
    IDX(i);
    if (strcmp(st->e[i].dtype, "F32") != 0)
        return tassl_error(TASSL_ERR_FORMAT, "%s: tensor '%s' is %s, expected F32", st->path,
                           st->e[i].name, st->e[i].dtype);
    tassl_status s = tassl_st_read_raw(st, i, dst);
    if (s == TASSL_OK) tassl_le32(dst, (size_t)(tassl_st_nbytes(st, i) / 4));
    return s;
}

/* ---- export ------------------------------------------------------------------------------- */

typedef struct export_ctx {
    const tassl_st *st;
    int *sel;
    void *buf;
} export_ctx;

static tassl_status export_data(void *ud, int i, FILE *f, const char *path) {
    export_ctx *x = ud;
    int j = x->sel[i];
    size_t n = (size_t)tassl_st_nbytes(x->st, j);
    tassl_status s = tassl_st_read_raw(x->st, j, x->buf);
    if (s == TASSL_OK && n && fwrite(x->buf, 1, n, f) != n)
        s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return s;
}

tassl_status tassl_st_export(const char *src, const char *dst, const char *prefix, bool strip) {
    if (!prefix) prefix = "";
    tassl_st *st;
    tassl_status s = tassl_st_open(src, &st);
    if (s != TASSL_OK) return s;
    size_t pl = strlen(prefix);
    export_ctx x = {st, calloc((size_t)st->n + 1, sizeof(int)), NULL};
    json_t *root = json_object(), *meta = json_object();
    int n = 0;
    int64_t pos = 0, maxb = 1;
    if (!x.sel || !root || !meta) s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dst);
    for (int i = 0; s == TASSL_OK && i < st->nmeta; i++) {
        const char *k = st->mkeys[i];
        if (strncmp(k, "optimizer", 9) == 0 || strncmp(k, "rng.", 4) == 0) continue;
        json_object_set_new(meta, k, json_string(st->mvals[i]));
    }
    json_object_set_new(meta, "exported_from", json_string(src));
    json_object_set_new(meta, "export_prefix", json_string(prefix));
    json_object_set(root, "__metadata__", meta);
    for (int i = 0; s == TASSL_OK && i < st->n; i++) {
        const st_entry *e = &st->e[i];
        if (strncmp(e->name, prefix, pl) != 0) continue;
        const char *name = strip ? e->name + pl : e->name;
        if (!*name) continue; /* a tensor named exactly like the prefix has no stripped name */
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) json_array_append_new(shape, json_integer(e->shape[d]));
        int64_t nb = e->end - e->begin;
        json_object_set_new(root, name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", e->dtype, "shape", shape,
                                      "data_offsets", (json_int_t)pos, (json_int_t)(pos + nb)));
        pos += nb;
        if (nb > maxb) maxb = nb;
        x.sel[n++] = i;
    }
    if (s == TASSL_OK && n == 0)
        s = tassl_error(TASSL_ERR_ARG, "%s: no tensor name starts with '%s' (nothing to export)",
                        src, prefix);
    if (s == TASSL_OK && !(x.buf = malloc((size_t)maxb)))
        s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dst);
    if (s == TASSL_OK) s = tassl_st_write(dst, root, n, export_data, &x);
    json_decref(meta);
    json_decref(root);
    free(x.sel);
    free(x.buf);
    tassl_st_close(st);
    return s;
}
