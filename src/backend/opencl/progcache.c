/* opencl/progcache.c — building, caching and looking up OpenCL programs and kernels.
 *
 * A program is cl/<file>.cl with cl/common.cl in front, built with "-cl-std=CL1.2 <options>"
 * (no fast-math flags: device results must stay close to the C reference). Sources are the ones
 * embedded at build time, or $TASSL_KERNEL_DIR/<file>.cl when that is set (edit, rerun, no
 * rebuild). Three caches, fastest first:
 *   1. per device, in memory: (file, options) → cl_program, and per program name → cl_kernel;
 *   2. on disk: the program binary under $XDG_CACHE_HOME/tassl/kernels (or ~/.cache/...), named
 *      by a 128-bit hash of source, options, device, device version, driver and platform version,
 *      written atomically (temp file, fsync, rename) with a header {magic, key, length, checksum}
 *      that is verified on load; an unusable file is ignored (a warning under TASSL_VERBOSE) and
 *      replaced. TASSL_KERNEL_CACHE=off disables the disk cache;
 *   3. the compiler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clrt.h"

static int verbose(void) {
    const char *v = getenv("TASSL_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- sources ----------------------------------------------------------------------------- */

/* Whole file, NUL-terminated (malloc'd), or NULL with errno set. */
static char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *g = realloc(buf, cap = cap * 2 + 8192);
            if (!g) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = g;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Source text of one cl file (malloc'd), from $TASSL_KERNEL_DIR or the embedded table. */
static char *load_one(const char *file, size_t *len) {
    const char *dir = getenv("TASSL_KERNEL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, file);
        char *s = read_whole(path, len);
        if (!s)
            tassl_error(TASSL_ERR_IO, "%s: cannot read kernel source (TASSL_KERNEL_DIR): %s", path,
                        strerror(errno));
        return s;
    }
    for (int i = 0; i < tassl_cl_nsources; i++) {
        if (strcmp(tassl_cl_sources[i].name, file) != 0) continue;
        char *s = malloc(tassl_cl_sources[i].len + 1);
        if (!s) {
            tassl_error(TASSL_ERR_NOMEM, "cl/%s.cl: out of host memory", file);
            return NULL;
        }
        memcpy(s, tassl_cl_sources[i].data, tassl_cl_sources[i].len);
        s[tassl_cl_sources[i].len] = 0;
        *len = tassl_cl_sources[i].len;
        return s;
    }
    tassl_error(TASSL_ERR_ARG, "cl/%s.cl: no such embedded kernel source", file);
    return NULL;
}

/* common.cl + "#line 1" + <file>.cl, so build-log line numbers refer to <file>.cl. */
static char *load_program_source(const char *file) {
    size_t nc, nf;
    char *common = load_one("common", &nc);
    if (!common) return NULL;
    char *body = load_one(file, &nf);
    if (!body) {
        free(common);
        return NULL;
    }
    static const char sep[] = "\n#line 1\n";
    char *s = malloc(nc + sizeof sep + nf);
    if (s) {
        memcpy(s, common, nc);
        memcpy(s + nc, sep, sizeof sep - 1);
        memcpy(s + nc + sizeof sep - 1, body, nf + 1);
    } else {
        tassl_error(TASSL_ERR_NOMEM, "cl/%s.cl: out of host memory", file);
    }
    free(common);
    free(body);
    return s;
}

/* ---- disk cache -------------------------------------------------------------------------- */

typedef struct cache_key {
    uint64_t h[2];
} cache_key;

/* Two independent 64-bit FNV-1a-style streams (different bases and primes): a 128-bit key. */
static void hash_bytes(cache_key *k, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        k->h[0] = (k->h[0] ^ p[i]) * 0x100000001b3ull;
        k->h[1] = (k->h[1] ^ p[i]) * 0x9e3779b97f4a7c15ull;
        k->h[1] ^= k->h[1] >> 29;
    }
}

/* A field and its length, so ("ab", "c") and ("a", "bc") differ. */
static void hash_field(cache_key *k, const char *s) {
    uint64_t n = strlen(s);
    hash_bytes(k, &n, sizeof n);
    hash_bytes(k, s, (size_t)n);
}

static uint64_t checksum(const void *data, size_t n) {
    cache_key k = {{0xcbf29ce484222325ull, 0x84222325cbf29ce4ull}};
    hash_bytes(&k, data, n);
    return k.h[0] ^ k.h[1];
}

#define CACHE_MAGIC "TSSLCLB1"

typedef struct cache_header {
    char magic[8];
    uint64_t key[2];
    uint64_t len;      /* binary bytes following the header */
    uint64_t checksum; /* of those bytes */
} cache_header;

/* Directory of the disk cache (created), or 0 when disabled or unavailable. */
static int cache_dir(char *out, size_t cap) {
    const char *off = getenv("TASSL_KERNEL_CACHE");
    if (off && (strcmp(off, "off") == 0 || strcmp(off, "0") == 0)) return 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/tassl/kernels", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.cache/tassl/kernels", home);
    else
        return 0;
    if (n < 0 || (size_t)n >= cap) return 0;
    /* mkdir -p */
    for (char *p = out + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        int r = mkdir(out, 0755);
        *p = c;
        if (r != 0 && errno != EEXIST) {
            if (verbose())
                fprintf(stderr, "tassl: kernel cache disabled: cannot create %s: %s\n", out,
                        strerror(errno));
            return 0;
        }
        if (c == 0) break;
    }
    return 1;
}

static cache_key program_key(tassl_cl *cl, const char *src, const char *opts) {
    char dname[256] = "", dver[256] = "", drv[256] = "", pver[256] = "";
    clGetDeviceInfo(cl->device, CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
    clGetDeviceInfo(cl->device, CL_DEVICE_VERSION, sizeof dver - 1, dver, NULL);
    clGetDeviceInfo(cl->device, CL_DRIVER_VERSION, sizeof drv - 1, drv, NULL);
    clGetPlatformInfo(cl->platform, CL_PLATFORM_VERSION, sizeof pver - 1, pver, NULL);
    cache_key k = {{0xcbf29ce484222325ull, 0x6a09e667f3bcc909ull}};
    hash_field(&k, src);
    hash_field(&k, opts);
    hash_field(&k, dname);
    hash_field(&k, dver);
    hash_field(&k, drv);
    hash_field(&k, pver);
    return k;
}

static void cache_path(char *out, size_t cap, const char *dir, cache_key k) {
    snprintf(out, cap, "%s/%016llx%016llx.bin", dir, (unsigned long long)k.h[0],
             (unsigned long long)k.h[1]);
}

/* The cached program, built; NULL if absent or unusable (then it is rebuilt from source). */
static cl_program cache_load(tassl_cl *cl, const char *path, cache_key key, const char *opts) {
    size_t n;
    char *data = read_whole(path, &n);
    if (!data) return NULL; /* absent: the normal cold case, no warning */
    const char *why = NULL;
    cache_header h;
    if (n < sizeof h)
        why = "truncated header";
    else {
        memcpy(&h, data, sizeof h);
        if (memcmp(h.magic, CACHE_MAGIC, 8) != 0)
            why = "bad magic";
        else if (h.key[0] != key.h[0] || h.key[1] != key.h[1])
            why = "key mismatch";
        else if (h.len != n - sizeof h)
            why = "wrong length";
        else if (h.len == 0 || h.checksum != checksum(data + sizeof h, (size_t)h.len))
            why = "bad checksum";
    }
    cl_program prog = NULL;
    if (!why) {
        const unsigned char *bin = (const unsigned char *)data + sizeof h;
        size_t len = (size_t)h.len;
        cl_int e, binstatus = CL_SUCCESS;
        prog = clCreateProgramWithBinary(cl->context, 1, &cl->device, &len, &bin, &binstatus, &e);
        if (e != CL_SUCCESS || binstatus != CL_SUCCESS) {
            why = "rejected by the driver";
            if (prog) clReleaseProgram(prog);
            prog = NULL;
        } else if (clBuildProgram(prog, 1, &cl->device, opts, NULL, NULL) != CL_SUCCESS) {
            why = "does not build";
            clReleaseProgram(prog);
            prog = NULL;
        }
    }
    free(data);
    if (why && verbose())
        fprintf(stderr, "tassl: ignoring kernel cache file %s (%s); rebuilding\n", path, why);
    return prog;
}

/* Write the program's binary atomically; failures only warn (under TASSL_VERBOSE). */
static void cache_store(cl_program prog, const char *dir, const char *path, cache_key key) {
    size_t len = 0;
    unsigned char *bin = NULL;
    const char *why = NULL;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    int fd = -1;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0) {
        why = "no binary from the driver";
        goto out;
    }
    if (!(bin = malloc(len))) {
        why = "out of memory";
        goto out;
    }
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        why = "no binary from the driver";
        goto out;
    }
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key[0] = key.h[0];
    h.key[1] = key.h[1];
    h.len = len;
    h.checksum = checksum(bin, len);
    if ((fd = mkstemp(tmp)) < 0) {
        why = strerror(errno);
        goto out;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        why = strerror(errno);
        close(fd);
        unlink(tmp);
        goto out;
    }
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, len, f) == len && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        why = "write failed";
        unlink(tmp);
    }
out:
    free(bin);
    if (why && verbose())
        fprintf(stderr, "tassl: kernel cache file %s not written: %s\n", path, why);
}

/* ---- building ---------------------------------------------------------------------------- */

/* Build log (malloc'd, "" if unavailable). */
static char *build_log(tassl_cl *cl, cl_program prog) {
    size_t n = 0;
    clGetProgramBuildInfo(prog, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (!log) return NULL;
    if (clGetProgramBuildInfo(prog, cl->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
        n = 0;
    log[n] = 0;
    return log;
}

/* Print the source with line numbers (counted from the #line 1 marker), for TASSL_VERBOSE. */
static void print_source(const char *file, const char *src) {
    const char *body = strstr(src, "\n#line 1\n");
    body = body ? body + 9 : src;
    fprintf(stderr, "---- %s.cl ----\n", file);
    int line = 1;
    for (const char *p = body; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        fprintf(stderr, "%4d | %.*s\n", line++, len, p);
        p += len + (e ? 1 : 0);
    }
}

static cl_program build_program(tassl_device *dev, const char *file, const char *options) {
    tassl_cl *cl = tassl_cl_of(dev);
    char *src = load_program_source(file);
    if (!src) return NULL;
    size_t olen = strlen(options) + 32;
    char *opts = malloc(olen);
    if (!opts) {
        free(src);
        tassl_error(TASSL_ERR_NOMEM, "cl/%s.cl: out of host memory", file);
        return NULL;
    }
    snprintf(opts, olen, "-cl-std=CL1.2 %s", options);

    char dir[4096], path[4200];
    int use_cache = cache_dir(dir, sizeof dir);
    cache_key key = {{0, 0}};
    cl_program prog = NULL;
    if (use_cache) {
        key = program_key(cl, src, opts);
        cache_path(path, sizeof path, dir, key);
        prog = cache_load(cl, path, key, opts);
    }
    if (!prog) {
        cl_int e;
        size_t len = strlen(src);
        const char *s = src;
        prog = clCreateProgramWithSource(cl->context, 1, &s, &len, &e);
        if (e != CL_SUCCESS) {
            tassl_cl_fail(e, "clCreateProgramWithSource");
            prog = NULL;
        } else if ((e = clBuildProgram(prog, 1, &cl->device, opts, NULL, NULL)) != CL_SUCCESS) {
            char *log = build_log(cl, prog);
            const char *kdir = getenv("TASSL_KERNEL_DIR");
            char where[4200];
            if (kdir && *kdir)
                snprintf(where, sizeof where, "%s/%s.cl", kdir, file);
            else
                snprintf(where, sizeof where, "cl/%s.cl (embedded)", file);
            fprintf(stderr, "tassl: %s: build failed on %s with options \"%s\":\n%s\n", where,
                    dev->info.name, opts, log ? log : "");
            if (verbose()) print_source(file, src);
            tassl_error(TASSL_ERR_DEVICE, "%s: build failed (%s) with options \"%s\" on %s:\n%s",
                        where, tassl_cl_errname(e), opts, dev->info.name, log ? log : "");
            free(log);
            clReleaseProgram(prog);
            prog = NULL;
        } else if (use_cache) {
            cache_store(prog, dir, path, key);
        }
    }
    free(opts);
    free(src);
    return prog;
}

/* ---- lookup ------------------------------------------------------------------------------ */

cl_kernel tassl_cl_kernel(tassl_device *dev, const char *file, const char *name,
                          const char *options) {
    tassl_cl *cl = tassl_cl_of(dev);
    if (!options) options = "";
    tassl_cl_program *p = NULL;
    for (int i = 0; i < cl->nprograms && !p; i++)
        if (strcmp(cl->programs[i].file, file) == 0 &&
            strcmp(cl->programs[i].options, options) == 0)
            p = &cl->programs[i];
    if (!p) {
        if (cl->nprograms == cl->capprograms) {
            int cap = cl->capprograms ? 2 * cl->capprograms : 16;
            tassl_cl_program *g = realloc(cl->programs, (size_t)cap * sizeof *g);
            if (!g) goto nomem;
            cl->programs = g;
            cl->capprograms = cap;
        }
        cl_program prog = build_program(dev, file, options);
        if (!prog) return NULL;
        p = &cl->programs[cl->nprograms];
        memset(p, 0, sizeof *p);
        p->file = dup_str(file);
        p->options = dup_str(options);
        p->program = prog;
        if (!p->file || !p->options) {
            free(p->file);
            free(p->options);
            clReleaseProgram(prog);
            goto nomem;
        }
        cl->nprograms++;
    }
    for (int i = 0; i < p->nkernels; i++)
        if (strcmp(p->kernels[i].name, name) == 0) return p->kernels[i].kernel;
    if (p->nkernels == p->capkernels) {
        int cap = p->capkernels ? 2 * p->capkernels : 8;
        void *g = realloc(p->kernels, (size_t)cap * sizeof *p->kernels);
        if (!g) goto nomem;
        p->kernels = g;
        p->capkernels = cap;
    }
    cl_int e;
    cl_kernel k = clCreateKernel(p->program, name, &e);
    if (e != CL_SUCCESS) {
        tassl_error(TASSL_ERR_DEVICE, "cl/%s.cl: no kernel %s (options \"%s\"): %s (%d)", file,
                    name, options, tassl_cl_errname(e), (int)e);
        return NULL;
    }
    char *kname = dup_str(name);
    if (!kname) {
        clReleaseKernel(k);
        goto nomem;
    }
    p->kernels[p->nkernels].name = kname;
    p->kernels[p->nkernels].kernel = k;
    p->nkernels++;
    return k;
nomem:
    tassl_error(TASSL_ERR_NOMEM, "cl/%s.cl: out of host memory creating kernel %s", file, name);
    return NULL;
}
