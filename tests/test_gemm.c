/* test_gemm.c — the GEMM entry point below the op layer, and the tuning cache.
 *   - tassl_gemm on the OpenCL CPU device (pocl: the register-tile kernels) against the C
 *     reference implementation, element by element: all transposes, odd sizes (1×1×1, 7×300×9,
 *     M and N not multiples of the tile), several k-blocks of uneven length, alpha/beta not the
 *     defaults, beta 0 with C full of NaN, k = 0, leading dimensions larger than the matrix,
 *     batches with stride 0 for A, B or C, element offsets; every float of C outside the product
 *     (row padding, between batches) must keep its sentinel;
 *   - the same with several parameter rows (tile shapes, vector widths, unroll, k-block, block
 *     per work-item), so every -D variant of cl/gemm.cl is exercised;
 *   - the tuning cache: store/load round trip, a corrupt file or a stale driver version ignored
 *     with one warning line, a valid file used by tassl_device_open (dev->gemm_params), and a
 *     tiny tuning run.
 * The whole run uses a fresh XDG_CACHE_HOME. With TASSL_TEST_DEVICE=ref (the sanitizer build)
 * only the reference and the cache-file tests run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/backend/tune.h"
#include "tassl/tassl.h"

static char tmpdir[256];
static tassl_device *ref, *cl; /* cl NULL: no OpenCL CPU device, or TASSL_TEST_DEVICE=ref */

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tassl-test-gemm-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("XDG_CACHE_HOME", tmpdir, 1);
    unsetenv("TASSL_GEMM");
    unsetenv("TASSL_TUNE_CACHE");
    assert_int_equal(tassl_device_open("ref", &ref), TASSL_OK);
    const char *spec = getenv("TASSL_TEST_DEVICE");
    if (spec && strcmp(spec, "ref") == 0)
        printf("# TASSL_TEST_DEVICE=ref: reference and cache-file tests only\n");
    else if (tassl_device_open("cpu", &cl) != TASSL_OK)
        printf("# no OpenCL CPU device (%s): reference and cache-file tests only\n",
               tassl_last_error());
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tassl_device_free(cl);
    tassl_device_free(ref);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- GEMM against the reference --------------------------------------------------------- */

#define SENTINEL 1234.5f

typedef struct gcase {
    int ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int64_t pad_a, pad_b, pad_c; /* leading dimension = minimum + pad */
    int64_t batch;
    int share;   /* bit 0: stride_a 0, bit 1: stride_b 0, bit 2: stride_c 0 */
    int64_t off; /* element offset of every operand */
    int nan_c;   /* C starts as NaN (with beta 0) */
} gcase;

static void fill(float *v, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 7u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
}

/* Upload n floats to a new buffer of dev. */
static tassl_buf *upload(tassl_device *dev, const float *h, int64_t n) {
    tassl_buf *b = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    assert_int_equal(dev->be->buf_alloc(dev, bytes, &b), TASSL_OK);
    assert_int_equal(dev->be->write(dev, b, 0, bytes, h), TASSL_OK);
    return b;
}

/* Run c on dev with impl (dev's own when fn NULL) and return C (host, malloc'd). */
static float *run(tassl_device *dev, tassl_gemm_fn fn, const void *params, const gcase *c,
                  const float *A, int64_t na, const float *B, int64_t nb, const float *C,
                  int64_t ncf) {
    tassl_buf *ba = upload(dev, A, na), *bb = upload(dev, B, nb), *bc = upload(dev, C, ncf);
    tassl_gemm_args g;
    memset(&g, 0, sizeof g);
    g.trans_a = c->ta;
    g.trans_b = c->tb;
    g.m = c->m;
    g.n = c->n;
    g.k = c->k;
    g.alpha = c->alpha;
    g.beta = c->beta;
    g.lda = (c->ta ? c->m : c->k) + c->pad_a;
    g.ldb = (c->tb ? c->k : c->n) + c->pad_b;
    g.ldc = c->n + c->pad_c;
    int64_t ea = (c->ta ? c->k : c->m) * g.lda, eb = (c->tb ? c->n : c->k) * g.ldb,
            ec = c->m * g.ldc;
    g.stride_a = c->share & 1 ? 0 : ea;
    g.stride_b = c->share & 2 ? 0 : eb;
    g.stride_c = c->share & 4 ? 0 : ec;
    g.batch = c->batch;
    g.a.buf = ba;
    g.b.buf = bb;
    g.c.buf = bc;
    g.a.off = g.b.off = g.c.off = c->off;
    tassl_status s = fn ? fn(dev, &g, params) : tassl_gemm(dev, &g);
    if (s != TASSL_OK) print_message("gemm failed: %s\n", tassl_last_error());
    assert_int_equal(s, TASSL_OK);
    float *out = malloc((size_t)ncf * sizeof(float));
    assert_non_null(out);
    assert_int_equal(dev->be->read(dev, bc, 0, (size_t)ncf * sizeof(float), out), TASSL_OK);
    dev->be->buf_free(dev, ba);
    dev->be->buf_free(dev, bb);
    dev->be->buf_free(dev, bc);
    return out;
}

/* Device result of c (with fn/params, or the device's choice) against the reference. */
static void check_case(tassl_gemm_fn fn, const void *params, const gcase *c) {
    if (!cl) skip();
    int64_t lda = (c->ta ? c->m : c->k) + c->pad_a, ldb = (c->tb ? c->k : c->n) + c->pad_b,
            ldc = c->n + c->pad_c;
    int64_t ea = (c->ta ? c->k : c->m) * lda, eb = (c->tb ? c->n : c->k) * ldb, ec = c->m * ldc;
    int64_t na = c->off + (c->share & 1 ? 1 : c->batch) * ea,
            nb = c->off + (c->share & 2 ? 1 : c->batch) * eb,
            ncf = c->off + (c->share & 4 ? 1 : c->batch) * ec + 5;
    float *A = malloc((size_t)(na + 1) * sizeof(float)),
          *B = malloc((size_t)(nb + 1) * sizeof(float)), *C = malloc((size_t)ncf * sizeof(float));
    assert_true(A && B && C);
    fill(A, na, 1);
    fill(B, nb, 2);
    for (int64_t i = 0; i < ncf; i++)
        C[i] = SENTINEL;
    for (int64_t b = 0; b < (c->share & 4 ? 1 : c->batch); b++)
        for (int64_t i = 0; i < c->m; i++)
            for (int64_t j = 0; j < c->n; j++) {
                float *x = &C[c->off + b * ec + i * ldc + j];
                fill(x, 1, (uint32_t)(3 + b * 7919 + i * 131 + j));
                if (c->nan_c) *x = NAN;
            }
    float *want = run(ref, NULL, NULL, c, A, na, B, nb, C, ncf);
    float *got = run(cl, fn, params, c, A, na, B, nb, C, ncf);
    double scale = 1e-30;
    for (int64_t i = 0; i < ncf; i++)
        scale = fmax(scale, fabs(want[i]));
    int bad = 0;
    for (int64_t i = 0; i < ncf && bad < 5; i++) {
        int in = 0;
        int64_t j = i - c->off;
        if (j >= 0 && j < (c->share & 4 ? 1 : c->batch) * ec && (j % ec) % ldc < c->n) in = 1;
        double err = fabs((double)got[i] - want[i]) / scale;
        if (!in ? got[i] != SENTINEL : !(err <= 1e-5)) {
            print_message("%s%s m %lld n %lld k %lld batch %lld: C[%lld] = %g, reference %g%s\n",
                          c->ta ? "T" : "N", c->tb ? "T" : "N", (long long)c->m, (long long)c->n,
                          (long long)c->k, (long long)c->batch, (long long)i, got[i], want[i],
                          in ? "" : " (outside the product: must keep its sentinel)");
            bad++;
        }
    }
    free(A);
    free(B);
    free(C);
    free(want);
    free(got);
    assert_int_equal(bad, 0);
}

static void all_transposes(tassl_gemm_fn fn, const void *params, gcase c) {
    for (int t = 0; t < 4; t++) {
        c.ta = t & 1;
        c.tb = t >> 1;
        check_case(fn, params, &c);
    }
}

static void test_odd_sizes(void **state) {
    (void)state;
    static const int64_t sizes[][3] = {{1, 1, 1},    {7, 300, 9}, {300, 7, 9},  {5, 9, 300},
                                       {13, 37, 29}, {6, 16, 8},  {12, 32, 64}, {97, 131, 530},
                                       {1, 200, 17}, {200, 1, 17}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        gcase c = {0, 0, sizes[i][0], sizes[i][1], sizes[i][2], 1.0f, 0.0f, 0, 0, 0, 1, 0, 0, 0};
        all_transposes(NULL, NULL, c);
    }
}

static void test_alpha_beta_ld(void **state) {
    (void)state;
    /* alpha, beta, padded leading dimensions (lda > k etc.) and offsets */
    gcase c = {0, 0, 23, 45, 70, 0.5f, -1.5f, 3, 5, 7, 1, 0, 11, 0};
    all_transposes(NULL, NULL, c);
    c.beta = 1.0f; /* accumulate, as backward passes do */
    all_transposes(NULL, NULL, c);
    /* beta 0 never reads C: NaN in C must not leak */
    gcase n = {0, 0, 19, 40, 33, 2.0f, 0.0f, 0, 0, 2, 1, 0, 0, 1};
    all_transposes(NULL, NULL, n);
    /* k = 0: C = beta·C; and with beta 0 and NaN, zeros */
    gcase k0 = {0, 0, 9, 21, 0, 1.0f, 2.0f, 0, 0, 0, 2, 0, 0, 0};
    check_case(NULL, NULL, &k0);
    k0.beta = 0.0f;
    k0.nan_c = 1;
    check_case(NULL, NULL, &k0);
}

static void test_batched(void **state) {
    (void)state;
    gcase c = {0, 0, 17, 29, 41, 1.0f, 0.0f, 1, 2, 3, 4, 0, 5, 0};
    for (int share = 0; share < 8; share++) { /* stride 0 for any of A, B, C */
        c.share = share;
        c.beta = share & 4 ? 0.5f : 0.0f; /* shared C: each batch updates it in turn */
        all_transposes(NULL, NULL, c);
    }
}

static void test_param_rows(void **state) {
    (void)state;
    if (!cl) skip();
    static const tassl_gemm_params rows[] = {
        {4, 4, 1, 8, 1, 1, 1, 0},    /* tiny everything: many k-blocks and work-items */
        {8, 16, 1, 64, 8, 2, 3, 0},  /* float16 vectors, unroll 8 */
        {5, 8, 3, 40, 2, 3, 2, 0},   /* odd tile rows, three vectors per row */
        TASSL_GEMM_PARAMS_CPU_DEFAULT, /* the built-in row */
    };
    tassl_gemm_fn fn = tassl_gemm_find_impl("tile")->fn;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const char *why = NULL;
        assert_true(tassl_gemm_params_valid(&rows[r], &why));
        gcase c = {0, 0, 37, 75, 133, 1.25f, 0.75f, 2, 0, 1, 2, 0, 3, 0};
        all_transposes(fn, &rows[r], c);
        gcase e = {0, 0, 1, 1, 1, 1.0f, 0.0f, 0, 0, 0, 1, 0, 0, 1};
        all_transposes(fn, &rows[r], e);
    }
}

static void test_params_valid(void **state) {
    (void)state;
    tassl_gemm_params p = TASSL_GEMM_PARAMS_CPU_DEFAULT;
    const char *why = NULL;
    assert_true(tassl_gemm_params_valid(&p, &why));
    p.vw = 5;
    assert_false(tassl_gemm_params_valid(&p, &why));
    assert_non_null(why);
    p.vw = 8;
    p.kc = 254; /* not a multiple of unroll 4 */
    assert_false(tassl_gemm_params_valid(&p, &why));
    p.kc = 256;
    p.mr = 0;
    assert_false(tassl_gemm_params_valid(&p, &why));
}

/* ---- tuning cache ------------------------------------------------------------------------ */

static tassl_device_info fake_info(void) {
    tassl_device_info info;
    memset(&info, 0, sizeof info);
    info.backend = TASSL_BACKEND_OPENCL;
    snprintf(info.name, sizeof info.name, "pthread-test \"cpu\"/x");
    snprintf(info.platform_name, sizeof info.platform_name, "Portable Computing Language");
    snprintf(info.driver_version, sizeof info.driver_version, "9.9+test");
    return info;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* tassl_tune_load with stderr captured: returns its result, the warning text in err. */
static int load_capture(const tassl_device_info *info, tassl_tune_entry *e, char *err, size_t cap) {
    char path[300];
    snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    dup2(fileno(f), 2);
    int r = tassl_tune_load(info, e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    f = fopen(path, "r");
    size_t n = fread(err, 1, cap - 1, f);
    err[n] = 0;
    fclose(f);
    return r;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_cache_file(void **state) {
    (void)state;
    tassl_device_info info = fake_info();
    char path[4096], err[2048];
    assert_true(tassl_tune_path(&info, path, sizeof path, 1));
    assert_non_null(strstr(path, tmpdir));
    assert_null(strchr(strrchr(path, '/'), '"')); /* file-safe key */
    tassl_tune_entry e, got;
    unlink(path);
    assert_int_equal(load_capture(&info, &got, err, sizeof err), 0); /* absent: silent */
    assert_string_equal(err, "");

    memset(&e, 0, sizeof e);
    snprintf(e.impl, sizeof e.impl, "tile");
    tassl_gemm_params p = {4, 16, 1, 128, 2, 8, 4, 0};
    e.params = p;
    e.gflops = 42.5;
    assert_int_equal(tassl_tune_store(&info, &e), TASSL_OK);
    assert_int_equal(load_capture(&info, &got, err, sizeof err), 1);
    assert_string_equal(err, "");
    assert_string_equal(got.impl, "tile");
    assert_true(tassl_gemm_params_equal(&got.params, &p));

    /* stale: another driver version */
    tassl_device_info other = info;
    snprintf(other.driver_version, sizeof other.driver_version, "10.0");
    assert_int_equal(load_capture(&other, &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "stale"));
    assert_int_equal(count_lines(err), 1);

    /* corrupt files of several kinds */
    static const char *const corrupt[] = {
        "",
        "garbage\n",
        "tassl-gemm-tune 1\ndevice x\n", /* keys missing */
        "tassl-gemm-tune 1\nmr six\n",   /* not a number */
        "tassl-gemm-tune 1\nbogus 1\n",  /* unknown key */
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        write_text(path, corrupt[i]);
        assert_int_equal(load_capture(&info, &got, err, sizeof err), -1);
        assert_non_null(strstr(err, "corrupt"));
        assert_int_equal(count_lines(err), 1);
    }
    /* well-formed but out-of-range parameters are corrupt too */
    e.params.vw = 3;
    assert_int_equal(tassl_tune_store(&info, &e), TASSL_OK);
    assert_int_equal(load_capture(&info, &got, err, sizeof err), -1);
    assert_int_equal(count_lines(err), 1);

    /* TASSL_TUNE_CACHE=off ignores even a valid file */
    e.params = p;
    assert_int_equal(tassl_tune_store(&info, &e), TASSL_OK);
    setenv("TASSL_TUNE_CACHE", "off", 1);
    assert_int_equal(load_capture(&info, &got, err, sizeof err), 0);
    unsetenv("TASSL_TUNE_CACHE");
    unlink(path);
}

/* Open the CPU device again (fresh selection from the cache). */
static tassl_device *reopen(void) {
    tassl_device *d = NULL;
    assert_int_equal(tassl_device_open("cpu", &d), TASSL_OK);
    return d;
}

static void test_cache_used_by_open(void **state) {
    (void)state;
    if (!cl) skip();
    const tassl_device_info *info = tassl_device_get_info(cl);
    char path[4096], err[2048];
    assert_true(tassl_tune_path(info, path, sizeof path, 1));
    const tassl_gemm_params def = TASSL_GEMM_PARAMS_CPU_DEFAULT;

    /* no file: the built-in pocl row */
    unlink(path);
    tassl_device *d = reopen();
    assert_string_equal(d->gemm->name, "tile");
    assert_non_null(d->gemm_params);
    assert_true(tassl_gemm_params_equal(d->gemm_params, &def));
    tassl_device_free(d);

    /* a valid file is used */
    tassl_tune_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.impl, sizeof e.impl, "tile");
    tassl_gemm_params p = {4, 8, 2, 64, 2, 4, 2, 0};
    e.params = p;
    assert_int_equal(tassl_tune_store(info, &e), TASSL_OK);
    d = reopen();
    assert_string_equal(d->gemm->name, "tile");
    assert_true(tassl_gemm_params_equal(d->gemm_params, &p));
    gcase c = {0, 1, 31, 50, 77, 1.0f, 0.0f, 0, 0, 0, 2, 0, 0, 0};
    tassl_device *keep = cl;
    cl = d; /* tassl_gemm through the tuned row */
    check_case(NULL, NULL, &c);
    cl = keep;
    tassl_device_free(d);

    /* corrupt: warning, defaults */
    write_text(path, "tassl-gemm-tune 1\nmr 6\n");
    assert_int_equal(load_capture(info, &e, err, sizeof err), -1);
    d = reopen();
    assert_true(tassl_gemm_params_equal(d->gemm_params, &def));
    tassl_device_free(d);

    /* stale driver: warning, defaults */
    tassl_device_info old = *info;
    snprintf(old.driver_version, sizeof old.driver_version, "0.1-old");
    snprintf(e.impl, sizeof e.impl, "tile");
    e.params = p;
    assert_int_equal(tassl_tune_store(&old, &e), TASSL_OK); /* same file name, other driver */
    assert_int_equal(load_capture(info, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "stale"));
    d = reopen();
    assert_true(tassl_gemm_params_equal(d->gemm_params, &def));
    tassl_device_free(d);

    /* TASSL_GEMM=clblast still overrides; TASSL_GEMM=tile keeps the tile row */
    setenv("TASSL_GEMM", "clblast", 1);
    d = reopen();
    assert_string_equal(d->gemm->name, "clblast");
    assert_null(d->gemm_params);
    tassl_device_free(d);
    setenv("TASSL_GEMM", "tile", 1);
    d = reopen();
    assert_string_equal(d->gemm->name, "tile");
    assert_true(tassl_gemm_params_equal(d->gemm_params, &def));
    tassl_device_free(d);
    unsetenv("TASSL_GEMM");
    unlink(path);
}

static void test_tiny_tune(void **state) {
    (void)state;
    if (!cl) skip();
    tassl_tune_options o = {1, 1, NULL};
    tassl_tune_entry best;
    assert_int_equal(tassl_tune_run(cl, &o, &best), TASSL_OK);
    assert_true(best.gflops > 0);
    const char *why = NULL;
    assert_true(strcmp(best.impl, "clblast") == 0 || tassl_gemm_params_valid(&best.params, &why));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_valid),       cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_alpha_beta_ld),      cmocka_unit_test(test_batched),
        cmocka_unit_test(test_param_rows),         cmocka_unit_test(test_cache_file),
        cmocka_unit_test(test_cache_used_by_open), cmocka_unit_test(test_tiny_tune),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
