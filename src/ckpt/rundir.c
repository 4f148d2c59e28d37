/* rundir.c — checkpoints in a run directory: ckpt-<step>.safetensors files, the `latest` pointer
 * file (the newest file's name and a newline, replaced atomically) and keeping the last N. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

#define CKPT_PREFIX "ckpt-"
#define CKPT_SUFFIX ".safetensors"

/* Step of a file name "ckpt-<digits>.safetensors", or -1. */
static int64_t ckpt_step(const char *name) {
    size_t pl = strlen(CKPT_PREFIX), sl = strlen(CKPT_SUFFIX), len = strlen(name);
    if (len <= pl + sl || strncmp(name, CKPT_PREFIX, pl) != 0 ||
        strcmp(name + len - sl, CKPT_SUFFIX) != 0 || len - pl - sl > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = pl; i < len - sl; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

typedef struct found {
    int64_t step;
    char *name;
} found;

static int cmp_found_desc(const void *a, const void *b) {
    const found *x = a, *y = b;
    return x->step > y->step ? -1 : x->step < y->step;
}

/* Checkpoint files of dir, newest first. */
static tassl_status scan(const char *dir, found **out, int *count) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return tassl_error(TASSL_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    found *f = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    tassl_status s = TASSL_OK;
    while ((de = readdir(d))) {
        int64_t step = ckpt_step(de->d_name);
        if (step < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            found *nf = realloc(f, (size_t)cap * sizeof *nf);
            if (!nf) {
                s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dir);
                break;
            }
            f = nf;
        }
        f[n].step = step;
        f[n].name = strdup(de->d_name);
        if (!f[n].name) {
            s = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (s != TASSL_OK) {
        for (int i = 0; i < n; i++) free(f[i].name);
        free(f);
        return s;
    }
    if (n) qsort(f, (size_t)n, sizeof *f, cmp_found_desc);
    *out = f;
    *count = n;
    return TASSL_OK;
}

static void free_found(found *f, int n) {
    for (int i = 0; i < n; i++) free(f[i].name);
    free(f);
}

tassl_status tassl_ckpt_save_in_dir(tassl_ckpt *c, const char *dir, int64_t step, int keep,
                                    char *path_out, size_t path_len) {
    if (step < 0)
        return tassl_error(TASSL_ERR_ARG, "%s: checkpoint step %" PRId64 " must be >= 0", dir, step);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tassl_error(TASSL_ERR_IO, "%s: not a directory%s%s", dir, errno ? ": " : "",
                           errno ? strerror(errno) : "");
    char name[64], *path = NULL, *latest = NULL;
    snprintf(name, sizeof name, CKPT_PREFIX "%06" PRId64 CKPT_SUFFIX, step);
    size_t len = strlen(dir) + sizeof name + 16;
    path = malloc(len);
    latest = malloc(len);
    if (!path || !latest) {
        free(path);
        free(latest);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dir);
    }
    snprintf(path, len, "%s/%s", dir, name);
    snprintf(latest, len, "%s/latest", dir);
    tassl_status s = tassl_ckpt_write(c, path);
    if (s == TASSL_OK) {
        tassl_atomic_file af;
        s = tassl_atomic_open(latest, &af);
        if (s == TASSL_OK) {
            if (fprintf(af.f, "%s\n", name) < 0) {
                s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", latest, strerror(errno));
                tassl_atomic_abort(&af);
            } else {
                s = tassl_atomic_commit(&af);
            }
        }
    }
    if (s == TASSL_OK && path_out) snprintf(path_out, path_len, "%s", path);
    if (s == TASSL_OK && keep > 0) {
        found *f;
        int n;
        s = scan(dir, &f, &n);
        bool removed = false;
        for (int i = 0; s == TASSL_OK && i < n; i++) {
            if (i < keep || strcmp(f[i].name, name) == 0) continue; /* never the one just written */
            snprintf(path, len, "%s/%s", dir, f[i].name);
            if (unlink(path) != 0 && errno != ENOENT)
                s = tassl_error(TASSL_ERR_IO, "%s: cannot remove an old checkpoint: %s", path,
                                strerror(errno));
            removed = true;
        }
        if (n) free_found(f, n);
        if (s == TASSL_OK && removed) s = tassl_fsync_dir(dir);
    }
    free(path);
    free(latest);
    return s;
}

tassl_status tassl_ckpt_latest(const char *dir, char *path_out, size_t path_len) {
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return tassl_error(TASSL_ERR_IO, "%s: %s", dir, strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        snprintf(path_out, path_len, "%s", dir);
        return TASSL_OK;
    }
    size_t len = strlen(dir) + 300;
    char *p = malloc(len);
    if (!p) return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dir);
    snprintf(p, len, "%s/latest", dir);
    FILE *f = fopen(p, "rb");
    tassl_status s = TASSL_OK;
    if (f) {
        char name[258] = "";
        size_t n = fread(name, 1, sizeof name - 1, f);
        fclose(f);
        name[n] = 0;
        while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\r' || name[n - 1] == ' '))
            name[--n] = 0;
        if (n == 0 || n > 255 || strchr(name, '/') || strlen(name) != n || strcmp(name, "..") == 0 ||
            strcmp(name, ".") == 0)
            s = tassl_error(TASSL_ERR_FORMAT, "%s: expected the name of a checkpoint file in this "
                            "directory and a newline", p);
        else {
            snprintf(p, len, "%s/%s", dir, name);
            if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
                s = tassl_error(TASSL_ERR_IO, "%s/latest names %s, which does not exist", dir, name);
            else
                snprintf(path_out, path_len, "%s", p);
        }
    } else {
        /* no pointer file (an older or copied run): the highest-numbered checkpoint */
        found *fd;
        int n;
        s = scan(dir, &fd, &n);
        if (s == TASSL_OK && n == 0)
            s = tassl_error(TASSL_ERR_IO, "%s: no checkpoint (no 'latest' file and no "
                            "ckpt-*.safetensors)", dir);
        if (s == TASSL_OK) snprintf(path_out, path_len, "%s/%s", dir, fd[0].name);
        if (n) free_found(fd, n);
    }
    free(p);
    return s;
}
