/* files.c — the protocol's file helpers: atomic writes (temporary file, fsync, rename, fsync of
 * the directory), mkdir -p, and the reader of a cell's eval.json (docs/PROTOCOL.md). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "protocol_internal.h"

tassl_status proto_write_atomic(const char *path, const char *data, size_t len) {
    char *tmp = proto_fmt("%s.tmp.%ld", path, (long)getpid());
    if (!tmp) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        tassl_status s = tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        tassl_status s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    /* the rename itself durable: fsync the directory */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = !slash ? "." : slash == dir ? "/" : (*slash = 0, dir);
        int fd = open(d, O_RDONLY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        free(dir);
    }
    return TASSL_OK;
}

tassl_status proto_mkdirs(const char *path) {
    char *p = strdup(path);
    if (!p) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    for (char *q = p + 1;; q++) {
        if (*q == '/' || !*q) {
            char c = *q;
            *q = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                tassl_status s = tassl_error(TASSL_ERR_IO, "%s: cannot create the directory: %s", p,
                                             strerror(errno));
                free(p);
                return s;
            }
            *q = c;
            if (!c) break;
        }
    }
    struct stat st;
    bool isdir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return isdir ? TASSL_OK : tassl_error(TASSL_ERR_IO, "%s: exists and is not a directory", path);
}

bool proto_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool proto_dir_nonempty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return false;
    struct dirent *e;
    bool any = false;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

/* ---- eval.json ------------------------------------------------------------------------------ */

static double num(json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

tassl_status proto_eval_read(const char *path, proto_eval *e) {
    memset(e, 0, sizeof *e);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (!proto_exists(path))
            return tassl_error(TASSL_ERR_IO, "%s: missing (the cell has not finished)", path);
        return tassl_error(TASSL_ERR_FORMAT, "%s:%d: malformed JSON: %s", path, jerr.line,
                           jerr.text);
    }
    tassl_status st = TASSL_OK;
    json_t *m = json_object_get(root, "metrics"), *pr = json_object_get(root, "primary");
    if (!json_is_object(root) || !json_is_object(m)) {
        st = tassl_error(TASSL_ERR_FORMAT, "%s: expected an object with \"metrics\": {...}", path);
    } else if (pr && !json_is_string(pr)) {
        st = tassl_error(TASSL_ERR_FORMAT, "%s: \"primary\" must be a metric name", path);
    } else {
        if (pr) snprintf(e->primary, sizeof e->primary, "%s", json_string_value(pr));
        json_t *tl = json_object_get(root, "train_labelled");
        e->train_labelled = json_is_integer(tl) ? (int64_t)json_integer_value(tl) : -1;
        e->train_s = num(json_object_get(root, "train_s"));
        e->eval_s = num(json_object_get(root, "eval_s"));
        e->mem_peak_bytes = num(json_object_get(root, "mem_peak_bytes"));
        size_t n = json_object_size(m);
        e->name = calloc(n ? n : 1, sizeof *e->name);
        e->value = calloc(n ? n : 1, sizeof *e->value);
        if (!e->name || !e->value) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) {
            if (st) break;
            if (!json_is_number(v) && !json_is_null(v)) {
                st = tassl_error(TASSL_ERR_FORMAT, "%s: metrics.%s: expected a number or null",
                                 path, k);
                break;
            }
            snprintf(e->name[e->n], sizeof e->name[0], "%s", k);
            e->value[e->n++] = num(v);
        }
        if (!st && e->primary[0] && isnan(proto_eval_get(e, e->primary)) &&
            !json_object_get(m, e->primary))
            st = tassl_error(TASSL_ERR_FORMAT, "%s: the primary metric '%s' is not in \"metrics\"",
                             path, e->primary);
    }
    json_decref(root);
    if (st) proto_eval_free(e);
    return st;
}

void proto_eval_free(proto_eval *e) {
    free(e->name);
    free(e->value);
    memset(e, 0, sizeof *e);
}

double proto_eval_get(const proto_eval *e, const char *name) {
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0) return e->value[i];
    return NAN;
}
