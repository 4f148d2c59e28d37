/* cmd_bench.c — `tassl bench ops`: times the GEMM and convolution shapes that decide training
 * speed on a device, as GFLOP/s and milliseconds (median of several runs after a warm-up, the
 * device synced around every timed run), optionally as JSON for tools/bench-ops, which runs the
 * same shapes in PyTorch and OpenBLAS and hands their timings back through --baseline (JSON lines
 * {"source": "pytorch", "name": "sgemm_1024", "ms": 12.3} or, for convolutions, "ms_fwd" and
 * "ms_fwd_bwd"), so this command prints one table with the ratios tassl/baseline (> 1: tassl is
 * faster) and writes everything to the JSON file.
 *
 * Shapes (issue 3): sgemm 512³, 1024³, 2048³ and the convolution-shaped 64 × 131072 × 576
 * (weights (Cout, Cin·9) · im2col columns (Cin·9, N·H·W) for the conv2d below); conv2d 3×3
 * 64→64 on 64×64, batch 32 and conv3d 3×3×3 32→32 on 32³, batch 2, forward and
 * forward + backward (data and weight gradients).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backend/gemm.h"
#include "../backend/gemm_params.h"
#include "cli.h"
#include "tassl/tassl.h"

void tassl_cmd_bench_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl bench ops [--device SPEC] [--json FILE] [--reps N] [--only TEXT]\n"
        "                       [--baseline FILE]\n\n"
        "Times sgemm 512³, 1024³, 2048³ and 64 × 131072 × 576 (M × N × K, convolution-shaped),\n"
        "conv2d 3×3 64→64 on 64×64 batch 32 and conv3d 3×3×3 32→32 on 32³ batch 2 (forward,\n"
        "and forward + backward): median of N runs (default 5) after a warm-up run.\n"
        "  --device SPEC   auto (default), gpu, cpu, ref, opencl:P:D or an index\n"
        "  --json FILE     also write the results as JSON\n"
        "  --reps N        timed runs per case (median reported)\n"
        "  --only TEXT     only cases whose name contains TEXT\n"
        "  --baseline FILE other implementations' timings of the same cases (JSON lines with\n"
        "                  source, name, ms or ms_fwd/ms_fwd_bwd): adds ratio columns\n"
        "tools/bench-ops runs this and the same shapes in PyTorch and OpenBLAS.\n");
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct result {
    char name[64];
    const char *kind; /* "gemm" or "conv" */
    int64_t m, n, k;  /* gemm */
    double flop;      /* of one forward (conv) or one product (gemm) */
    double ms;        /* gemm: one product; conv: forward */
    double ms_fb;     /* conv: forward + backward */
} result;

/* Timings of the same cases by other implementations (--baseline). */
#define MAX_SOURCES 4
typedef struct baseline {
    int nsrc;
    char src[MAX_SOURCES][32];
    int n;
    struct {
        int src;
        char name[64];
        double ms, ms_fb; /* 0 = absent */
    } e[64];
} baseline;

typedef struct bench {
    tassl_device *dev;
    tassl_ctx *ctx;
    int reps;
    int failed;
} bench;

/* Median seconds of fn over reps runs after one warm-up; device synced before and after each. */
typedef void (*run_fn)(void *arg);
static double time_median(bench *b, run_fn fn, void *arg) {
    double t[64];
    int reps = b->reps < 64 ? b->reps : 64;
    tassl_device_sync(b->dev);
    fn(arg); /* warm-up: kernel builds, pool fills */
    tassl_device_sync(b->dev);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        fn(arg);
        tassl_device_sync(b->dev);
        t[r] = now_s() - t0;
    }
    if (tassl_ctx_status(b->ctx) != TASSL_OK) return -1;
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

typedef struct gemm_case {
    tassl_device *dev;
    tassl_gemm_args g;
    tassl_status st;
} gemm_case;

static void run_gemm(void *arg) {
    gemm_case *c = arg;
    tassl_status s = tassl_gemm(c->dev, &c->g);
    if (s != TASSL_OK && c->st == TASSL_OK) c->st = s;
}

static tassl_ptr ptr_of(const tassl_tensor *t) {
    tassl_ptr p = {t->buf, t->off};
    return p;
}

static int bench_gemm(bench *b, const char *name, int64_t m, int64_t n, int64_t k, result *r) {
    tassl_scope_begin(b->ctx);
    tassl_tensor *A = tassl_randn(b->ctx, TASSL_SHAPE(m, k), 0.0f, 1.0f);
    tassl_tensor *B = tassl_randn(b->ctx, TASSL_SHAPE(k, n), 0.0f, 1.0f);
    tassl_tensor *C = tassl_empty(b->ctx, TASSL_SHAPE(m, n));
    gemm_case c = {b->dev, {0}, TASSL_OK};
    c.g.m = m;
    c.g.n = n;
    c.g.k = k;
    c.g.alpha = 1.0f;
    c.g.a = ptr_of(A);
    c.g.b = ptr_of(B);
    c.g.c = ptr_of(C);
    c.g.lda = k;
    c.g.ldb = n;
    c.g.ldc = n;
    c.g.batch = 1;
    double t = tassl_ctx_status(b->ctx) == TASSL_OK ? time_median(b, run_gemm, &c) : -1;
    tassl_scope_end(b->ctx);
    if (t < 0 || c.st != TASSL_OK) {
        fprintf(stderr, "tassl bench: %s failed: %s\n", name, tassl_last_error());
        tassl_ctx_clear_error(b->ctx);
        b->failed++;
        return 0;
    }
    snprintf(r->name, sizeof r->name, "%s", name);
    r->kind = "gemm";
    r->m = m;
    r->n = n;
    r->k = k;
    r->flop = 2.0 * (double)m * (double)n * (double)k;
    r->ms = t * 1e3;
    printf("%-28s %10.2f ms %9.1f GFLOP/s\n", name, r->ms, r->flop / t * 1e-9);
    fflush(stdout);
    return 1;
}

typedef struct conv_case {
    tassl_ctx *ctx;
    tassl_tensor *x, *w, *gy;
    int nd;
    int backward;
} conv_case;

static void run_conv(void *arg) {
    conv_case *c = arg;
    static const int one[3] = {1, 1, 1};
    tassl_scope_begin(c->ctx);
    if (!c->backward) tassl_no_grad_begin(c->ctx);
    tassl_tensor *y = tassl_conv(c->x, c->w, NULL, one, one, one, 1);
    if (c->backward)
        tassl_backward_with(y, c->gy);
    else
        tassl_no_grad_end(c->ctx);
    tassl_device_sync(tassl_ctx_device(c->ctx)); /* inside the scope: buffers still alive */
    tassl_scope_end(c->ctx);
}

/* conv 3×3(×3), stride 1, pad 1, no bias: x (N, C, S...) → (N, Cout, S...). */
static int bench_conv(bench *b, const char *name, int nd, int64_t batch, int64_t cin, int64_t cout,
                      int64_t size, result *r) {
    int64_t xs[5] = {batch, cin, size, size, size}, ws[5] = {cout, cin, 3, 3, 3},
            ys[5] = {batch, cout, size, size, size};
    tassl_scope_begin(b->ctx);
    conv_case c = {b->ctx, NULL, NULL, NULL, nd, 0};
    c.x = tassl_randn(b->ctx, nd + 2, xs, 0.0f, 1.0f);
    c.w = tassl_randn(b->ctx, nd + 2, ws, 0.0f, 0.05f);
    c.gy = tassl_randn(b->ctx, nd + 2, ys, 0.0f, 1.0f);
    tassl_requires_grad_(c.x, true);
    tassl_requires_grad_(c.w, true);
    double tf = tassl_ctx_status(b->ctx) == TASSL_OK ? time_median(b, run_conv, &c) : -1;
    c.backward = 1;
    double tfb = tf >= 0 ? time_median(b, run_conv, &c) : -1;
    tassl_scope_end(b->ctx);
    if (tf < 0 || tfb < 0) {
        fprintf(stderr, "tassl bench: %s failed: %s\n", name, tassl_ctx_error_message(b->ctx));
        tassl_ctx_clear_error(b->ctx);
        b->failed++;
        return 0;
    }
    double vox = 1;
    for (int d = 0; d < nd; d++)
        vox *= (double)size;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->kind = "conv";
    r->flop = 2.0 * (double)batch * (double)cout * vox * (double)cin * (nd == 2 ? 9.0 : 27.0);
    r->ms = tf * 1e3;
    r->ms_fb = tfb * 1e3;
    printf("%-28s %10.2f ms %9.1f GFLOP/s   fwd+bwd %10.2f ms %9.1f GFLOP/s\n", name, r->ms,
           r->flop / tf * 1e-9, r->ms_fb, 3 * r->flop / tfb * 1e-9);
    fflush(stdout);
    return 1;
}

static int read_baseline(const char *path, baseline *bl) {
    memset(bl, 0, sizeof *bl);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 0;
    }
    char line[1024];
    int lineno = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == 0) continue;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        const char *src = o ? json_string_value(json_object_get(o, "source")) : NULL;
        const char *name = o ? json_string_value(json_object_get(o, "name")) : NULL;
        if (!src || !name) {
            fprintf(stderr, "%s:%d: expected {\"source\": ..., \"name\": ..., ...}%s%s\n", path,
                    lineno, o ? "" : ": ", o ? "" : err.text);
            ok = 0;
        } else if (bl->n < 64) {
            int k = 0;
            while (k < bl->nsrc && strcmp(bl->src[k], src) != 0)
                k++;
            if (k == bl->nsrc && k < MAX_SOURCES) snprintf(bl->src[bl->nsrc++], 32, "%s", src);
            if (k < bl->nsrc) {
                bl->e[bl->n].src = k;
                snprintf(bl->e[bl->n].name, 64, "%s", name);
                json_t *ms = json_object_get(o, "ms"), *mf = json_object_get(o, "ms_fwd"),
                       *mb = json_object_get(o, "ms_fwd_bwd");
                bl->e[bl->n].ms = ms ? json_number_value(ms) : mf ? json_number_value(mf) : 0;
                bl->e[bl->n].ms_fb = mb ? json_number_value(mb) : 0;
                bl->n++;
            }
        }
        json_decref(o);
    }
    fclose(f);
    return ok;
}

/* The baseline entry of source k for a case, or NULL. */
static const double *find_base(const baseline *bl, int k, const char *name, int fb) {
    for (int i = 0; i < bl->n; i++)
        if (bl->e[i].src == k && strcmp(bl->e[i].name, name) == 0) {
            const double *v = fb ? &bl->e[i].ms_fb : &bl->e[i].ms;
            return *v > 0 ? v : NULL;
        }
    return NULL;
}

static void print_table(const result *res, int nres, const baseline *bl) {
    printf("\n%-36s %10s %9s", "case", "tassl ms", "GFLOP/s");
    for (int k = 0; k < bl->nsrc; k++)
        printf(" | %9.9s ms %9s %6s", bl->src[k], "GFLOP/s", "ratio");
    printf("\n");
    for (int i = 0; i < nres; i++)
        for (int fb = 0; fb < (strcmp(res[i].kind, "conv") == 0 ? 2 : 1); fb++) {
            char label[96];
            snprintf(label, sizeof label, "%.63s%s", res[i].name,
                     strcmp(res[i].kind, "conv") ? ""
                     : fb                        ? " fwd+bwd"
                                                 : " fwd");
            double ms = fb ? res[i].ms_fb : res[i].ms, flop = res[i].flop * (fb ? 3 : 1);
            printf("%-36s %10.2f %9.1f", label, ms, flop / ms * 1e-6);
            for (int k = 0; k < bl->nsrc; k++) {
                const double *b = find_base(bl, k, res[i].name, fb);
                if (b)
                    printf(" | %12.2f %9.1f %5.2fx", *b, flop / *b * 1e-6, *b / ms);
                else
                    printf(" | %12s %9s %6s", "-", "-", "-");
            }
            printf("\n");
        }
    if (bl->nsrc) printf("ratio = baseline time / tassl time (> 1: tassl is faster)\n");
}

static json_t *base_json(const baseline *bl, const char *name, int fb) {
    json_t *o = json_object();
    for (int k = 0; k < bl->nsrc; k++) {
        const double *b = find_base(bl, k, name, fb);
        if (b) json_object_set_new(o, bl->src[k], json_real(*b));
    }
    return o;
}

static int write_json(const char *path, const tassl_device_info *info, const tassl_device *dev,
                      int reps, const result *res, int nres, const baseline *bl) {
    char params[160] = "";
    if (dev->gemm && strcmp(dev->gemm->name, "tile") == 0 && dev->gemm_params) {
        const tassl_gemm_params *p = dev->gemm_params;
        snprintf(params, sizeof params, "mr %d vw %d nv %d kc %d unroll %d rt %d nt %d", p->mr,
                 p->vw, p->nv, p->kc, p->unroll, p->rt, p->nt);
    }
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "tool", json_string("tassl bench ops"));
    json_object_set_new(root, "version", json_string(tassl_version()));
    json_object_set_new(root, "device", json_string(info->name));
    json_object_set_new(root, "driver", json_string(info->driver_version));
    json_object_set_new(root, "gemm", json_string(dev->gemm ? dev->gemm->name : "?"));
    json_object_set_new(root, "gemm_params", json_string(params));
    json_object_set_new(root, "conv",
                        json_string(tassl_conv_gemm_available(dev) ? "implicit" : "im2col"));
    json_object_set_new(root, "reps", json_integer(reps));
    json_object_set_new(root, "ratio", json_string("baseline ms / tassl ms (> 1: tassl faster)"));
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "kind", json_string(r->kind));
        if (strcmp(r->kind, "gemm") == 0) {
            json_object_set_new(o, "m", json_integer(r->m));
            json_object_set_new(o, "n", json_integer(r->n));
            json_object_set_new(o, "k", json_integer(r->k));
            json_object_set_new(o, "flop", json_real(r->flop));
            json_object_set_new(o, "ms", json_real(r->ms));
            json_object_set_new(o, "gflops", json_real(r->flop / r->ms * 1e-6));
            json_object_set_new(o, "baseline_ms", base_json(bl, r->name, 0));
        } else {
            json_object_set_new(o, "flop_fwd", json_real(r->flop));
            json_object_set_new(o, "ms_fwd", json_real(r->ms));
            json_object_set_new(o, "gflops_fwd", json_real(r->flop / r->ms * 1e-6));
            json_object_set_new(o, "ms_fwd_bwd", json_real(r->ms_fb));
            json_object_set_new(o, "gflops_fwd_bwd", json_real(3 * r->flop / r->ms_fb * 1e-6));
            json_object_set_new(o, "baseline_ms_fwd", base_json(bl, r->name, 0));
            json_object_set_new(o, "baseline_ms_fwd_bwd", base_json(bl, r->name, 1));
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "results", arr);
    int ok = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0;
    if (!ok) fprintf(stderr, "tassl bench ops: cannot write %s\n", path);
    json_decref(root);
    return ok;
}

static int bench_ops(int argc, char **argv) {
    const char *spec = NULL, *json = NULL, *only = NULL, *base = NULL;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end = NULL;
        if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing)))
            spec = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--json", &missing)))
            json = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--only", &missing)))
            only = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--baseline", &missing)))
            base = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--reps", &missing))) {
            reps = (int)strtol(v, &end, 10);
            if (*end || reps < 1 || reps > 64) {
                fprintf(stderr, "tassl bench ops: --reps %s: expected 1..64\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "tassl bench ops: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl bench ops: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    static baseline bl;
    if (base && !read_baseline(base, &bl)) return 1;
    if (!base) memset(&bl, 0, sizeof bl);
    tassl_device *dev;
    if (tassl_device_open(spec, &dev) != TASSL_OK) {
        fprintf(stderr, "tassl bench ops: %s\n", tassl_last_error());
        return 1;
    }
    const tassl_device_info *info = tassl_device_get_info(dev);
    printf("bench ops on %s (driver %s), GEMM %s, convolution %s, median of %d runs\n", info->name,
           info->driver_version, dev->gemm ? dev->gemm->name : "?",
           tassl_conv_gemm_available(dev) ? "implicit GEMM" : "im2col + GEMM", reps);
    bench b = {dev, tassl_ctx_new(dev), reps, 0};
    static const struct {
        const char *name;
        int64_t m, n, k;
    } gemms[] = {
        {"sgemm_512", 512, 512, 512},
        {"sgemm_1024", 1024, 1024, 1024},
        {"sgemm_2048", 2048, 2048, 2048},
        {"sgemm_conv_64x131072x576", 64, 131072, 576},
    };
    result res[8];
    int nres = 0;
    for (size_t i = 0; i < sizeof gemms / sizeof gemms[0]; i++)
        if (!only || strstr(gemms[i].name, only))
            nres += bench_gemm(&b, gemms[i].name, gemms[i].m, gemms[i].n, gemms[i].k, &res[nres]);
    if (!only || strstr("conv2d_3x3_64to64_64x64_b32", only))
        nres += bench_conv(&b, "conv2d_3x3_64to64_64x64_b32", 2, 32, 64, 64, 64, &res[nres]);
    if (!only || strstr("conv3d_3x3x3_32to32_32c_b2", only))
        nres += bench_conv(&b, "conv3d_3x3x3_32to32_32c_b2", 3, 2, 32, 32, 32, &res[nres]);
    print_table(res, nres, &bl);
    int ok = !json || write_json(json, info, dev, reps, res, nres, &bl);
    if (json && ok) printf("wrote %s\n", json);
    tassl_ctx_free(b.ctx);
    tassl_device_free(dev);
    return b.failed || !ok ? 1 : 0;
}

int tassl_cmd_bench(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "ops") != 0) {
        fprintf(stderr, "tassl bench: expected a subcommand: ops (see tassl bench --help)\n");
        return 2;
    }
    return bench_ops(argc - 1, argv + 1);
}
