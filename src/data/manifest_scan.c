/* manifest_scan.c — a manifest from a folder of images: recursive, sorted, masks paired by name
 * (STEM_mask / STEM_seg beside STEM), subject = first-level subfolder or file stem. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_internal.h"

typedef struct strvec {
    char **s;
    int n, cap;
} strvec;

static int vec_push(strvec *v, const char *s) {
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 64;
        char **ns = realloc(v->s, (size_t)cap * sizeof *ns);
        if (!ns) return 0;
        v->s = ns;
        v->cap = cap;
    }
    v->s[v->n] = strdup(s);
    return v->s[v->n++] != NULL;
}

static void vec_free(strvec *v) {
    for (int i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* length of the extension (".png", ".nii", ".nii.gz") or 0 */
static size_t image_ext(const char *name) {
    size_t n = strlen(name);
    if (n > 7 && !strcmp(name + n - 7, ".nii.gz")) return 7;
    if (n > 4 && (!strcmp(name + n - 4, ".nii") || !strcmp(name + n - 4, ".png"))) return 4;
    return 0;
}

static tassl_status walk(const char *dir, const char *root, strvec *out, int depth) {
    if (depth > 32) return tassl_error(TASSL_ERR_ARG, "%s: folders nested deeper than 32", dir);
    DIR *d = opendir(dir);
    if (!d) return tassl_error(TASSL_ERR_IO, "%s: cannot read folder: %s", dir, strerror(errno));
    strvec names = {0};
    struct dirent *e;
    tassl_status st = TASSL_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* hidden, . and .. */
        if (!vec_push(&names, e->d_name)) {
            st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
    }
    closedir(d);
    qsort(names.s, (size_t)names.n, sizeof *names.s, cmp_str);
    for (int i = 0; i < names.n && st == TASSL_OK; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, names.s[i]) >= (int)sizeof p) continue;
        struct stat sb;
        if (stat(p, &sb) != 0) continue; /* dangling link */
        char real[PATH_MAX];
        if (!realpath(p, real) || !data_path_inside(real, root)) {
            st = tassl_error(TASSL_ERR_ARG, "%s: a link to %s, outside the scanned folder %s", p,
                             real, root);
            break;
        }
        if (S_ISDIR(sb.st_mode)) st = walk(p, root, out, depth + 1);
        else if (S_ISREG(sb.st_mode) && image_ext(names.s[i]) && !vec_push(out, p))
            st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", dir);
    }
    vec_free(&names);
    return st;
}

/* "/a/b/STEM_mask.nii.gz" → is it a mask name? then base image path "/a/b/STEM.nii.gz" */
static int mask_of(const char *p, char *img, size_t cap) {
    size_t ext = image_ext(p), n = strlen(p);
    static const char *suf[] = {"_mask", "_seg"};
    for (int k = 0; k < 2; k++) {
        size_t ls = strlen(suf[k]);
        if (n > ext + ls && !strncmp(p + n - ext - ls, suf[k], ls)) {
            snprintf(img, cap, "%.*s%s", (int)(n - ext - ls), p, p + n - ext);
            return 1;
        }
    }
    return 0;
}

tassl_status tassl_manifest_scan(tassl_manifest *m, const char *dir) {
    memset(m, 0, sizeof *m);
    char root[PATH_MAX];
    if (!realpath(dir, root))
        return tassl_error(TASSL_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    strvec files = {0};
    tassl_status st = walk(root, root, &files, 0);
    if (st != TASSL_OK) {
        vec_free(&files);
        return st;
    }
    snprintf(m->source, sizeof m->source, "%s", dir);
    snprintf(m->root, sizeof m->root, "%s", root);
    qsort(files.s, (size_t)files.n, sizeof *files.s, cmp_str);
    size_t nroot = strlen(root);
    for (int i = 0; i < files.n && st == TASSL_OK; i++) {
        char base[PATH_MAX];
        if (mask_of(files.s[i], base, sizeof base)) {
            char *key = base;
            if (!bsearch(&key, files.s, (size_t)files.n, sizeof *files.s, cmp_str))
                st = tassl_error(TASSL_ERR_ARG, "%s: a mask without its image (expected %s)",
                                 files.s[i], base);
            continue;
        }
        tassl_record r;
        memset(&r, 0, sizeof r);
        r.label = -1;
        r.split = TASSL_SPLIT_NONE;
        r.image = files.s[i];
        /* its mask, if any */
        size_t ext = image_ext(files.s[i]), n = strlen(files.s[i]);
        static const char *suf[] = {"_mask", "_seg"};
        char mp[PATH_MAX];
        for (int k = 0; k < 2 && !r.mask; k++) {
            snprintf(mp, sizeof mp, "%.*s%s%s", (int)(n - ext), files.s[i], suf[k],
                     files.s[i] + n - ext);
            char *key = mp;
            if (bsearch(&key, files.s, (size_t)files.n, sizeof *files.s, cmp_str)) r.mask = mp;
        }
        /* subject: first-level folder, or the stem */
        char subject[PATH_MAX];
        const char *rel = files.s[i] + nroot + 1;
        const char *slash = strchr(rel, '/');
        if (slash) snprintf(subject, sizeof subject, "%.*s", (int)(slash - rel), rel);
        else snprintf(subject, sizeof subject, "%.*s", (int)(strlen(rel) - ext), rel);
        r.subject = subject;
        st = tassl_manifest_add(m, &r);
    }
    vec_free(&files);
    if (st == TASSL_OK && m->n == 0)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: no images (*.png, *.nii, *.nii.gz) found", dir);
    if (st != TASSL_OK) tassl_manifest_free(m);
    return st;
}
