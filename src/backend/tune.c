/* tune.c — per-device GEMM tuning (see tune.h): the cache file and the search.
 *
 * File format (text, one "key value" per line, every key required exactly once):
 *   tassl-gemm-tune 1
 *   device <name>            platform <name>          driver <version>
 *   impl tile|clblast        mr vw nv kc unroll rt nt small_mnk <int>     gflops <float>
 * The search is a coordinate descent from the device's current row: tile shape (mr × vw·nv),
 * k-block, unroll, then the work-item block (rt, nt), each step keeping the candidate with the
 * best geometric mean GFLOP/s over a few representative shapes (square, convolution-shaped,
 * transposed), timed as the fastest of several runs. On a shared machine timings are noisy, so a
 * candidate must win by 3 %, and the final winner must beat the starting row again in three
 * interleaved rounds. clBLAST is measured on the same shapes and wins if it is 3 % faster.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tune.h"

/* ---- cache file --------------------------------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u; /* field separator */
}

void tassl_tune_device_key(const tassl_device_info *info, char *out, size_t cap) {
    size_t n = 0;
    int dash = 0;
    for (const char *p = info->name; *p && n + 1 < cap && n < 64; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_';
        if (ok) {
            out[n++] = (char)c;
            dash = 0;
        } else if (!dash && n > 0) {
            out[n++] = '-';
            dash = 1;
        }
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    uint32_t h = fnv1a(fnv1a(fnv1a(2166136261u, info->platform_name), info->vendor), info->name);
    snprintf(out + n, cap - n, "%s%08x", n ? "-" : "", (unsigned)h);
}

static int mkdir_p(char *path) {
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = c;
        if (r != 0 && errno != EEXIST) return 0;
        if (c == 0) return 1;
    }
}

int tassl_tune_path(const tassl_device_info *info, char *out, size_t cap, int create) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3072];
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/tassl/tune", xdg);
    else if (home && *home)
        n = snprintf(dir, sizeof dir, "%s/.cache/tassl/tune", home);
    else
        return 0;
    if (n < 0 || (size_t)n >= sizeof dir) return 0;
    if (create && !mkdir_p(dir)) return 0;
    char key[128];
    tassl_tune_device_key(info, key, sizeof key);
    n = snprintf(out, cap, "%s/%s.txt", dir, key);
    return n > 0 && (size_t)n < cap;
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

/* Parse a tune file; NULL on success, else why it is unusable (static or in `why`). */
static const char *parse(FILE *f, tassl_tune_entry *e, char *device, char *platform, char *driver,
                         char *why, size_t whycap) {
    static const char *const ikeys[] = {"mr", "vw", "nv", "kc", "unroll", "rt", "nt", "small_mnk"};
    enum { NI = 8, NKEYS = NI + 5 };
    int seen[NKEYS] = {0};
    long long iv[NI] = {0};
    char line[512];
    if (!fgets(line, sizeof line, f)) return "empty file";
    trim(line);
    if (strcmp(line, "tassl-gemm-tune 1") != 0) return "not a tassl tune file (version 1)";
    memset(e, 0, sizeof *e);
    while (fgets(line, sizeof line, f)) {
        trim(line);
        if (!line[0] || line[0] == '#') continue;
        char *val = strchr(line, ' ');
        if (!val) {
            snprintf(why, whycap, "line \"%.60s\" has no value", line);
            return why;
        }
        *val++ = 0;
        int idx = -1;
        for (int i = 0; i < NI; i++)
            if (strcmp(line, ikeys[i]) == 0) idx = i;
        if (idx >= 0) {
            char *end;
            errno = 0;
            iv[idx] = strtoll(val, &end, 10);
            if (end == val || *end || errno || iv[idx] < INT32_MIN || iv[idx] > INT64_MAX / 4) {
                snprintf(why, whycap, "%s: \"%.40s\" is not an integer", line, val);
                return why;
            }
        } else if (strcmp(line, "device") == 0) {
            idx = NI;
            snprintf(device, 128, "%s", val);
        } else if (strcmp(line, "platform") == 0) {
            idx = NI + 1;
            snprintf(platform, 128, "%s", val);
        } else if (strcmp(line, "driver") == 0) {
            idx = NI + 2;
            snprintf(driver, 64, "%s", val);
        } else if (strcmp(line, "impl") == 0) {
            idx = NI + 3;
            snprintf(e->impl, sizeof e->impl, "%s", val);
        } else if (strcmp(line, "gflops") == 0) {
            idx = NI + 4;
            char *end;
            e->gflops = strtod(val, &end);
            if (end == val || *end) {
                snprintf(why, whycap, "gflops: \"%.40s\" is not a number", val);
                return why;
            }
        } else {
            snprintf(why, whycap, "unknown key \"%.40s\"", line);
            return why;
        }
        if (seen[idx]++) {
            snprintf(why, whycap, "key \"%.40s\" appears twice", line);
            return why;
        }
    }
    for (int i = 0; i < NKEYS; i++)
        if (!seen[i]) {
            snprintf(why, whycap, "key \"%s\" missing",
                     i < NI ? ikeys[i]
                            : (const char *[]){"device", "platform", "driver", "impl",
                                               "gflops"}[i - NI]);
            return why;
        }
    for (int i = 0; i < NI - 1; i++)
        if (iv[i] > 1000000) return "a parameter is out of range";
    e->params.mr = (int)iv[0];
    e->params.vw = (int)iv[1];
    e->params.nv = (int)iv[2];
    e->params.kc = (int)iv[3];
    e->params.unroll = (int)iv[4];
    e->params.rt = (int)iv[5];
    e->params.nt = (int)iv[6];
    e->params.small_mnk = iv[7];
    if (strcmp(e->impl, "tile") != 0 && strcmp(e->impl, "clblast") != 0)
        return "impl is neither tile nor clblast";
    const char *bad;
    if (strcmp(e->impl, "tile") == 0 && !tassl_gemm_params_valid(&e->params, &bad)) return bad;
    return NULL;
}

static int cache_off(void) {
    const char *v = getenv("TASSL_TUNE_CACHE");
    return v && (strcmp(v, "off") == 0 || strcmp(v, "0") == 0);
}

int tassl_tune_load(const tassl_device_info *info, tassl_tune_entry *out) {
    char path[4096];
    if (cache_off() || !tassl_tune_path(info, path, sizeof path, 0)) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0; /* never tuned: the normal case, no warning */
    char device[128] = "", platform[128] = "", driver[64] = "", why[160];
    tassl_tune_entry e;
    const char *bad = parse(f, &e, device, platform, driver, why, sizeof why);
    fclose(f);
    if (bad) {
        fprintf(stderr,
                "tassl: warning: ignoring corrupt GEMM tuning file %s (%s); using defaults\n", path,
                bad);
        return -1;
    }
    if (strcmp(device, info->name) != 0 || strcmp(platform, info->platform_name) != 0) {
        fprintf(stderr,
                "tassl: warning: ignoring GEMM tuning file %s: made for device \"%s\" "
                "(this is \"%s\"); using defaults\n",
                path, device, info->name);
        return -1;
    }
    if (strcmp(driver, info->driver_version) != 0) {
        fprintf(stderr,
                "tassl: warning: ignoring stale GEMM tuning file %s: tuned with driver %s, "
                "this is %s (run `tassl tune` again); using defaults\n",
                path, driver, info->driver_version);
        return -1;
    }
    *out = e;
    return 1;
}

tassl_status tassl_tune_store(const tassl_device_info *info, const tassl_tune_entry *e) {
    char path[4096], tmp[4200];
    if (!tassl_tune_path(info, path, sizeof path, 1))
        return tassl_error(TASSL_ERR_IO, "tassl tune: no usable cache directory (set "
                                         "XDG_CACHE_HOME or HOME, and make it writable)");
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    const tassl_gemm_params *p = &e->params;
    fprintf(f,
            "tassl-gemm-tune 1\n# written by `tassl tune`; delete this file to use the built-in "
            "row\ndevice %s\nplatform %s\ndriver %s\nimpl %s\nmr %d\nvw %d\nnv %d\nkc %d\n"
            "unroll %d\nrt %d\nnt %d\nsmall_mnk %lld\ngflops %.2f\n",
            info->name, info->platform_name, info->driver_version, e->impl, p->mr, p->vw, p->nv,
            p->kc, p->unroll, p->rt, p->nt, p->small_mnk, e->gflops);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return TASSL_OK;
}

#define NINTERN 64
static tassl_gemm_params interned[NINTERN];
static int ninterned;
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;

const tassl_gemm_params *tassl_tune_intern(const tassl_gemm_params *p) {
    const tassl_gemm_params *r = NULL;
    pthread_mutex_lock(&intern_lock);
    for (int i = 0; i < ninterned && !r; i++)
        if (tassl_gemm_params_equal(&interned[i], p)) r = &interned[i];
    if (!r && ninterned < NINTERN) {
        interned[ninterned] = *p;
        r = &interned[ninterned++];
    }
    pthread_mutex_unlock(&intern_lock);
    return r;
}

/* ---- search ------------------------------------------------------------------------------- */

#define MARGIN 1.03 /* a candidate must beat the incumbent by 3 % (noise) */

typedef struct shape {
    int64_t m, n, k;
    int ta, tb;
} shape;

typedef struct bufs {
    tassl_buf *a, *b, *c;
} bufs;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static tassl_gemm_args args_of(const shape *s, const bufs *b) {
    tassl_gemm_args g;
    memset(&g, 0, sizeof g);
    g.trans_a = s->ta;
    g.trans_b = s->tb;
    g.m = s->m;
    g.n = s->n;
    g.k = s->k;
    g.alpha = 1.0f;
    g.beta = 0.0f;
    g.a.buf = b->a;
    g.b.buf = b->b;
    g.c.buf = b->c;
    g.lda = s->ta ? s->m : s->k;
    g.ldb = s->tb ? s->k : s->n;
    g.ldc = s->n;
    g.batch = 1;
    return g;
}

/* GFLOP/s of impl(params) on one shape from the fastest of reps runs (the machine may be shared:
 * the minimum is the figure least disturbed by other work); 0 if it failed. */
static double measure(tassl_device *dev, const tassl_gemm_impl *im, const void *params,
                      const shape *s, const bufs *b, int reps) {
    tassl_gemm_args g = args_of(s, b);
    if (im->fn(dev, &g, params) != TASSL_OK || dev->be->sync(dev) != TASSL_OK) return 0;
    double t[16];
    if (reps > 16) reps = 16;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (im->fn(dev, &g, params) != TASSL_OK || dev->be->sync(dev) != TASSL_OK) return 0;
        t[r] = now_s() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return 2.0 * (double)s->m * (double)s->n * (double)s->k / t[0] * 1e-9;
}

/* Geometric mean GFLOP/s over the shapes (0 if any failed). */
static double score(tassl_device *dev, const tassl_gemm_impl *im, const void *params,
                    const shape *sh, int nsh, const bufs *b, int reps) {
    double lg = 0;
    for (int i = 0; i < nsh; i++) {
        double gf = measure(dev, im, params, &sh[i], b, reps);
        if (gf <= 0) {
            tassl_error_clear();
            return 0;
        }
        lg += log(gf);
    }
    return exp(lg / nsh);
}

static tassl_status alloc_fill(tassl_device *dev, size_t n, tassl_buf **out) {
    tassl_status s = dev->be->buf_alloc(dev, n * sizeof(float), out);
    if (s != TASSL_OK) return s;
    float *h = malloc(n * sizeof(float));
    if (!h) return tassl_error(TASSL_ERR_NOMEM, "tassl tune: out of host memory");
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        h[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
    }
    s = dev->be->write(dev, *out, 0, n * sizeof(float), h);
    free(h);
    return s;
}

static void say(const tassl_tune_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const tassl_tune_options *o, const char *fmt, ...) {
    if (!o->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->log, fmt, ap);
    va_end(ap);
    fflush(o->log);
}

static void describe(const tassl_gemm_params *p, char *out, size_t cap) {
    snprintf(out, cap, "mr %d vw %d nv %d kc %d unroll %d rt %d nt %d", p->mr, p->vw, p->nv, p->kc,
             p->unroll, p->rt, p->nt);
}

tassl_status tassl_tune_run(tassl_device *dev, const tassl_tune_options *opt,
                            tassl_tune_entry *best) {
    static const shape full[] = {
        {1024, 1024, 1024, 0, 0}, /* square */
        {64, 32768, 576, 0, 0},   /* convolution forward: weights · im2col columns */
        {576, 8192, 64, 1, 0},    /* convolution data gradient: Wᵀ · dY */
    };
    static const shape quick[] = {
        {96, 96, 96, 0, 0},
        {16, 1024, 72, 0, 1},
    };
    const shape *sh = opt->quick ? quick : full;
    int nsh = opt->quick ? 2 : 3, reps = opt->reps > 0 ? opt->reps : (opt->quick ? 1 : 5);
    if (dev->info.backend != TASSL_BACKEND_OPENCL)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "tassl tune: %s is not an OpenCL device; "
                           "nothing to tune",
                           dev->info.name);
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < nsh; i++) {
        size_t a = (size_t)(sh[i].m * sh[i].k), b = (size_t)(sh[i].k * sh[i].n),
               c = (size_t)(sh[i].m * sh[i].n);
        na = a > na ? a : na;
        nb = b > nb ? b : nb;
        nc = c > nc ? c : nc;
    }
    bufs b = {NULL, NULL, NULL};
    tassl_status s = alloc_fill(dev, na, &b.a);
    if (s == TASSL_OK) s = alloc_fill(dev, nb, &b.b);
    if (s == TASSL_OK) s = alloc_fill(dev, nc, &b.c);
    if (s != TASSL_OK) goto out;

    const tassl_gemm_impl *tile = tassl_gemm_find_impl("tile");
    const tassl_gemm_impl *clb = tassl_gemm_find_impl("clblast");
    tassl_gemm_params cur = TASSL_GEMM_PARAMS_CPU_DEFAULT;
    if (dev->gemm == tile && dev->gemm_params) cur = *(const tassl_gemm_params *)dev->gemm_params;
    const tassl_gemm_params start = cur;
    char d[160];
    describe(&cur, d, sizeof d);
    double t0 = now_s();
    double cur_score = score(dev, tile, &cur, sh, nsh, &b, reps);
    say(opt, "tune: start  %-52s %7.1f GFLOP/s\n", d, cur_score);

    /* candidate values per coordinate; tile shapes move together */
    static const int shapes[][3] = {{6, 8, 2},   {4, 8, 2},  {8, 8, 2},  {6, 16, 1}, {8, 16, 1},
                                    {12, 16, 1}, {4, 16, 2}, {6, 16, 2}, {4, 8, 3}};
    static const int kcs[] = {128, 256, 384, 512};
    static const int unrolls[] = {2, 4, 8};
    static const int rts[] = {4, 8, 16, 32};
    static const int nts[] = {2, 4, 8, 16};
    int nshapes = opt->quick ? 2 : (int)(sizeof shapes / sizeof shapes[0]);
    for (int coord = 0; coord < 5; coord++) {
        if (opt->quick && (coord == 1 || coord == 2)) continue; /* no extra kernel builds */
        int count = coord == 0 ? nshapes : coord == 1 ? (opt->quick ? 2 : 4) : coord == 2 ? 3 : 4;
        tassl_gemm_params base = cur;
        for (int i = 0; i < count; i++) {
            tassl_gemm_params c = base;
            if (coord == 0) {
                c.mr = shapes[i][0];
                c.vw = shapes[i][1];
                c.nv = shapes[i][2];
            } else if (coord == 1) {
                c.kc = kcs[i];
            } else if (coord == 2) {
                c.unroll = unrolls[i];
            } else if (coord == 3) {
                c.rt = rts[i];
            } else {
                c.nt = nts[i];
            }
            if (tassl_gemm_params_equal(&c, &base) || !tassl_gemm_params_valid(&c, NULL)) continue;
            if ((uint64_t)c.nt * ((uint64_t)c.kc * (uint64_t)(c.vw * c.nv) + 16) * 4 >
                dev->info.local_mem)
                continue;
            double sc = score(dev, tile, &c, sh, nsh, &b, reps);
            describe(&c, d, sizeof d);
            say(opt, "tune: [%5.1f s] %-52s %7.1f GFLOP/s%s\n", now_s() - t0, d, sc,
                sc > cur_score ? "  (best so far)" : "");
            if (sc > cur_score * MARGIN) {
                cur_score = sc;
                cur = c;
            }
        }
    }
    /* confirm against the starting row, interleaved (noise can crown a lucky candidate) */
    if (!tassl_gemm_params_equal(&cur, &start)) {
        double lw = 0, ls = 0;
        for (int round = 0; round < 3; round++) {
            lw += log(fmax(score(dev, tile, &cur, sh, nsh, &b, reps), 1e-9));
            ls += log(fmax(score(dev, tile, &start, sh, nsh, &b, reps), 1e-9));
        }
        say(opt, "tune: [%5.1f s] confirm: winner %.1f, start %.1f GFLOP/s\n", now_s() - t0,
            exp(lw / 3), exp(ls / 3));
        if (exp(lw / 3) > exp(ls / 3) * MARGIN) {
            cur_score = exp(lw / 3);
        } else {
            cur = start;
            cur_score = exp(ls / 3);
        }
    }
    memset(best, 0, sizeof *best);
    snprintf(best->impl, sizeof best->impl, "tile");
    best->params = cur;
    best->gflops = cur_score;
    if (!opt->quick || dev->info.type != TASSL_DEVICE_CPU) {
        double cs = score(dev, clb, NULL, sh, nsh, &b, reps);
        say(opt, "tune: [%5.1f s] clblast %45s %7.1f GFLOP/s\n", now_s() - t0, "", cs);
        if (cs > cur_score * MARGIN) {
            snprintf(best->impl, sizeof best->impl, "clblast");
            best->gflops = cs;
        }
    }
    describe(&best->params, d, sizeof d);
    say(opt, "tune: best: %s%s%s, %.1f GFLOP/s (geometric mean), %.1f s\n", best->impl,
        strcmp(best->impl, "tile") == 0 ? " " : "", strcmp(best->impl, "tile") == 0 ? d : "",
        best->gflops, now_s() - t0);
    if (cur_score <= 0 && strcmp(best->impl, "tile") == 0)
        s = tassl_error(TASSL_ERR_DEVICE, "tassl tune: every candidate failed on %s",
                        dev->info.name);
out:
    if (b.a) dev->be->buf_free(dev, b.a);
    if (b.b) dev->be->buf_free(dev, b.b);
    if (b.c) dev->be->buf_free(dev, b.c);
    return s;
}
