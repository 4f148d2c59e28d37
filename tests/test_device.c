/* test_device.c — the OpenCL runtime below the op layer: discovery, opening, buffers, kernel
 * arguments and launches, program building (embedded sources, TASSL_KERNEL_DIR, build failures),
 * the on-disk binary cache (write, reload, corrupt files, disabled), and clBLAST GEMM against a
 * naive host loop. Skips (does not fail) when the machine has no OpenCL platform.
 *
 * The whole process runs with XDG_CACHE_HOME pointing at a fresh temporary directory, so it never
 * touches the user's kernel cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "../src/backend/opencl/clrt.h"
#include "../src/backend/gemm.h"

static char test_xdg[256]; /* XDG_CACHE_HOME of the whole run */

/* ---- helpers ----------------------------------------------------------------------------- */

/* Index of the device to test in tassl_cl_enumerate's list: first CPU device, else the first. */
static int pick_device(tassl_device_info *list, int n) {
    for (int i = 0; i < n; i++)
        if (list[i].type == TASSL_DEVICE_CPU) return i;
    return n > 0 ? 0 : -1;
}

/* Open the test device, or skip the test when there is no OpenCL device. */
static tassl_device *open_dev(void) {
    tassl_device_info *list = NULL;
    int n = 0;
    assert_int_equal(tassl_cl_enumerate(&list, &n), TASSL_OK);
    int i = pick_device(list, n);
    if (i < 0) {
        free(list);
        print_message("no OpenCL device: skipping\n");
        skip();
    }
    tassl_device *dev = calloc(1, sizeof *dev);
    assert_non_null(dev);
    tassl_status s = tassl_cl_open(dev, list[i].platform, list[i].device);
    if (s != TASSL_OK) print_message("open failed: %s\n", tassl_last_error());
    assert_int_equal(s, TASSL_OK);
    free(list);
    return dev;
}

static void close_dev(tassl_device *dev) {
    dev->be->close(dev);
    assert_null(dev->impl);
    free(dev);
}

static const tassl_cl_source *embedded(const char *name) {
    for (int i = 0; i < tassl_cl_nsources; i++)
        if (strcmp(tassl_cl_sources[i].name, name) == 0) return &tassl_cl_sources[i];
    return NULL;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A fresh temporary directory (static storage per call site is the caller's business). */
static void make_tmpdir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/tassl-test-device-XXXXXX");
    assert_non_null(mkdtemp(out));
}

/* A kernel directory for TASSL_KERNEL_DIR: a copy of the embedded common.cl plus <name>.cl. */
static void make_kernel_dir(char *dir, size_t cap, const char *name, const char *src) {
    make_tmpdir(dir, cap);
    const tassl_cl_source *common = embedded("common");
    assert_non_null(common);
    write_file(dir, "common.cl", common->data, common->len);
    char file[256];
    snprintf(file, sizeof file, "%s.cl", name);
    write_file(dir, file, src, strlen(src));
}

static void rm_rf(const char *path) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* Number of entries in dir whose name ends with suffix (or starts with prefix when suffix is
 * NULL); *last gets the path of the last one. -1 if dir does not exist. */
static int count_files(const char *dir, const char *prefix, const char *suffix, char *last,
                       size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        int hit =
            suffix ? len > strlen(suffix) && strcmp(e->d_name + len - strlen(suffix), suffix) == 0
                   : strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        if (!hit) continue;
        n++;
        if (last) snprintf(last, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static const char devtest_cl[] =
    "/* devtest.cl — kernels of tests/test_device.c */\n"
    "kernel void t_axpy(global const float *x, int xo, global float *y, int yo, float a, int n) {\n"
    "    int i = get_global_id(0);\n"
    "    if (i < n) y[yo + i] = a * x[xo + i] + (float)i;\n"
    "}\n"
    "kernel void t_view(global const float *x, tview v, global float *y, int yo, int n) {\n"
    "    int i = get_global_id(0);\n"
    "    if (i < n) y[yo + i] = x[tview_at(v, i)];\n"
    "}\n"
    "kernel void t_2d(global float *y, int yo, int rows, int cols) {\n"
    "    int c = get_global_id(0), r = get_global_id(1);\n"
    "    if (r < rows && c < cols) y[yo + r * cols + c] = (float)(r * 1000 + c);\n"
    "}\n"
    "#ifndef SCALE\n"
    "#define SCALE 1\n"
    "#endif\n"
    "kernel void t_def(global float *y, int yo) { y[yo + get_global_id(0)] = SCALE; }\n";

static tassl_buf *upload(tassl_device *dev, const float *x, size_t n) {
    tassl_buf *b = NULL;
    assert_int_equal(dev->be->buf_alloc(dev, n * sizeof(float), &b), TASSL_OK);
    assert_int_equal(dev->be->write(dev, b, 0, n * sizeof(float), x), TASSL_OK);
    return b;
}

static void download(tassl_device *dev, tassl_buf *b, float *x, size_t n) {
    assert_int_equal(dev->be->read(dev, b, 0, n * sizeof(float), x), TASSL_OK);
}

/* y[5 + i] = 2·x[3 + i] + i for an odd n through launch_1d; the rest of y stays NaN. */
static void run_axpy(tassl_device *dev, cl_kernel k) {
    enum { N = 1001, CAP = 1100 };
    static float x[CAP], y[CAP];
    for (int i = 0; i < CAP; i++)
        x[i] = (float)(i % 17) - 8.0f, y[i] = NAN;
    tassl_buf *bx = upload(dev, x, CAP), *by = upload(dev, y, CAP);
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, (tassl_ptr){bx, 3});
    tassl_cl_arg_ptr(&a, (tassl_ptr){by, 5});
    tassl_cl_arg_float(&a, 2.0f);
    tassl_cl_arg_int(&a, N);
    assert_int_equal(a.err, CL_SUCCESS);
    assert_int_equal(tassl_cl_launch_1d(dev, k, N), TASSL_OK);
    download(dev, by, y, CAP);
    for (int i = 0; i < CAP; i++) {
        if (i >= 5 && i < 5 + N)
            assert_float_equal(y[i], 2.0f * x[i - 2] + (float)(i - 5), 0);
        else
            assert_true(isnan(y[i]));
    }
    dev->be->buf_free(dev, bx);
    dev->be->buf_free(dev, by);
}

/* ---- discovery and buffers --------------------------------------------------------------- */

static void enumerate_lists_devices(void **state) {
    (void)state;
    tassl_device_info *list = NULL;
    int n = 0;
    assert_int_equal(tassl_cl_enumerate(&list, &n), TASSL_OK);
    if (n == 0) {
        print_message("no OpenCL platform/device: skipping\n");
        skip();
    }
    int cpus = 0;
    for (int i = 0; i < n; i++) {
        const tassl_device_info *d = &list[i];
        print_message("%d: opencl:%d:%d %s | %s | %s | driver %s | %s | %llu MiB, max alloc %llu "
                      "MiB, local %llu KiB, %d CUs, wg %zu\n",
                      d->index, d->platform, d->device, d->name, d->platform_name, d->vendor,
                      d->driver_version, d->cl_version, (unsigned long long)(d->global_mem >> 20),
                      (unsigned long long)(d->max_alloc >> 20),
                      (unsigned long long)(d->local_mem >> 10), d->compute_units,
                      d->max_work_group);
        assert_int_equal(d->index, i);
        assert_int_equal(d->backend, TASSL_BACKEND_OPENCL);
        assert_true(d->platform >= 0 && d->device >= 0);
        assert_true(strlen(d->name) > 0 && strlen(d->platform_name) > 0);
        assert_true(strncmp(d->cl_version, "OpenCL C ", 9) == 0);
        assert_true(d->global_mem > 0 && d->max_alloc > 0 && d->max_alloc <= d->global_mem);
        assert_true(d->local_mem > 0 && d->compute_units > 0 && d->max_work_group > 0);
        cpus += d->type == TASSL_DEVICE_CPU;
    }
    /* Appends: a second call extends the same array. */
    int n2 = n;
    assert_int_equal(tassl_cl_enumerate(&list, &n2), TASSL_OK);
    assert_int_equal(n2, 2 * n);
    assert_string_equal(list[n].name, list[0].name);
    assert_int_equal(list[n].index, n);
    free(list);
    if (cpus == 0) print_message("note: no OpenCL CPU device (pocl) on this machine\n");
}

static void open_and_close(void **state) {
    (void)state;
    tassl_device *dev = open_dev();
    tassl_cl *cl = tassl_cl_of(dev);
    assert_ptr_equal(dev->be, &tassl_cl_backend);
    assert_string_equal(dev->be->name, "opencl");
    assert_non_null(cl);
    assert_non_null(cl->context);
    assert_non_null(cl->queue);
    assert_int_equal(dev->info.backend, TASSL_BACKEND_OPENCL);
    assert_true(strlen(dev->info.name) > 0);
    if (strstr(dev->info.platform_name, "Portable Computing Language")) assert_true(cl->is_pocl);
    assert_int_equal(dev->be->sync(dev), TASSL_OK);
    close_dev(dev);

    /* Out-of-range indices are argument errors naming what exists. */
    tassl_device bad;
    memset(&bad, 0, sizeof bad);
    assert_int_equal(tassl_cl_open(&bad, 999, 0), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "no such platform"));
    assert_int_equal(tassl_cl_open(&bad, 0, 999), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "no such device"));
    assert_null(bad.impl);
}

/* "auto" (a configuration's default), NULL and "" defer to $TASSL_DEVICE when it is set; an
 * explicit spec does not; a bad $TASSL_DEVICE is named in the error. */
static void auto_spec_reads_env(void **state) {
    (void)state;
    const char *old = getenv("TASSL_DEVICE");
    char *saved = old ? strdup(old) : NULL;
    setenv("TASSL_DEVICE", "ref", 1);
    const char *specs[3] = {"auto", "", NULL};
    for (int k = 0; k < 3; k++) {
        tassl_device *d = NULL;
        assert_int_equal(tassl_device_open(specs[k], &d), TASSL_OK);
        assert_int_equal(d->info.backend, TASSL_BACKEND_REF);
        tassl_device_free(d);
    }
    setenv("TASSL_DEVICE", "opencl:99:99", 1);
    tassl_device *d = NULL;
    assert_int_not_equal(tassl_device_open("auto", &d), TASSL_OK);
    assert_null(d);
    assert_non_null(strstr(tassl_last_error(), "TASSL_DEVICE=opencl:99:99"));
    assert_int_equal(tassl_device_open("ref", &d), TASSL_OK); /* explicit: the env is not read */
    assert_int_equal(d->info.backend, TASSL_BACKEND_REF);
    tassl_device_free(d);
    if (saved) setenv("TASSL_DEVICE", saved, 1);
    else unsetenv("TASSL_DEVICE");
    free(saved);
}

static void buffer_round_trip(void **state) {
    (void)state;
    tassl_device *dev = open_dev();
    enum { N = 1024 };
    static float x[N], y[N], z[100];
    for (int i = 0; i < N; i++)
        x[i] = (float)i * 0.25f - 7.0f;
    tassl_buf *b = upload(dev, x, N);
    assert_int_equal(b->bytes, N * sizeof(float));
    download(dev, b, y, N);
    assert_memory_equal(x, y, sizeof x);
    /* partial write and read at byte offsets */
    for (int i = 0; i < 100; i++)
        z[i] = -(float)i;
    assert_int_equal(dev->be->write(dev, b, 400, sizeof z, z), TASSL_OK);
    assert_int_equal(dev->be->read(dev, b, 0, sizeof y, y), TASSL_OK);
    for (int i = 0; i < N; i++)
        assert_float_equal(y[i], (i >= 100 && i < 200) ? z[i - 100] : x[i], 0);
    assert_int_equal(dev->be->read(dev, b, 404, 8, z), TASSL_OK);
    assert_float_equal(z[0], -1.0f, 0);
    assert_float_equal(z[1], -2.0f, 0);
    assert_int_equal(dev->be->sync(dev), TASSL_OK);
    dev->be->buf_free(dev, b);

    /* an empty buffer is fine; one larger than the device allows is NOMEM naming the device */
    tassl_buf *e = NULL;
    assert_int_equal(dev->be->buf_alloc(dev, 0, &e), TASSL_OK);
    assert_non_null(e);
    dev->be->buf_free(dev, e);
    e = NULL;
    assert_int_equal(dev->be->buf_alloc(dev, (size_t)dev->info.max_alloc + 1, &e), TASSL_ERR_NOMEM);
    assert_null(e);
    assert_non_null(strstr(tassl_last_error(), dev->info.name));
    close_dev(dev);
}

/* ---- programs and kernels ---------------------------------------------------------------- */

static int is_ident(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Kernel names declared in an OpenCL source ("kernel void NAME(" / "__kernel void NAME("),
 * comments skipped; returns the count, names in out[]. */
static int scan_kernels(const char *src, size_t len, char out[][64], int cap) {
    char *s = malloc(len + 1);
    assert_non_null(s);
    size_t n = 0;
    for (size_t i = 0; i < len;) { /* strip comments */
        if (src[i] == '/' && i + 1 < len && src[i + 1] == '/') {
            while (i < len && src[i] != '\n')
                i++;
        } else if (src[i] == '/' && i + 1 < len && src[i + 1] == '*') {
            i += 2;
            while (i + 1 < len && !(src[i] == '*' && src[i + 1] == '/'))
                i++;
            i += 2;
            s[n++] = ' ';
        } else {
            s[n++] = src[i++];
        }
    }
    s[n] = 0;
    int count = 0;
    for (char *p = s; (p = strstr(p, "kernel")) && count < cap; p += 6) {
        char *q = p; /* start of "kernel" or "__kernel" */
        if (q - s >= 2 && q[-1] == '_' && q[-2] == '_') q -= 2;
        if (q > s && is_ident(q[-1])) continue;
        char name[64];
        if (sscanf(p + 6, " void %63[A-Za-z0-9_] (", name) == 1 && strncmp(p + 6, " void", 5) == 0)
            snprintf(out[count++], 64, "%s", name);
    }
    free(s);
    return count;
}

static void embedded_sources_build(void **state) {
    (void)state;
    tassl_device *dev = open_dev();
    static char names[256][64];
    int total = 0;
    for (int i = 0; i < tassl_cl_nsources; i++) {
        const tassl_cl_source *src = &tassl_cl_sources[i];
        if (strcmp(src->name, "common") == 0) continue;
        int n = scan_kernels((const char *)src->data, src->len, names, 256);
        for (int j = 0; j < n; j++) {
            cl_kernel k = tassl_cl_kernel(dev, src->name, names[j], "");
            if (!k) print_message("%s.cl: %s: %s\n", src->name, names[j], tassl_last_error());
            assert_non_null(k);
            assert_ptr_equal(tassl_cl_kernel(dev, src->name, names[j], ""), k); /* cached */
        }
        total += n;
        /* The program builds even when a kernel is missing: the error names the kernel. */
        assert_null(tassl_cl_kernel(dev, src->name, "no_such_kernel_xyz", ""));
        assert_non_null(strstr(tassl_last_error(), "no_such_kernel_xyz"));
        assert_non_null(strstr(tassl_last_error(), "CL_INVALID_KERNEL_NAME"));
    }
    print_message("built %d kernels from %d embedded files\n", total, tassl_cl_nsources - 1);
    assert_null(tassl_cl_kernel(dev, "no_such_file", "x", ""));
    assert_non_null(strstr(tassl_last_error(), "no_such_file"));
    close_dev(dev);
}

static void kernel_args_and_launch(void **state) {
    (void)state;
    char kdir[256];
    make_kernel_dir(kdir, sizeof kdir, "devtest", devtest_cl);
    setenv("TASSL_KERNEL_DIR", kdir, 1);
    tassl_device *dev = open_dev();

    cl_kernel k = tassl_cl_kernel(dev, "devtest", "t_axpy", "");
    assert_non_null(k);
    run_axpy(dev, k);

    /* A strided view: x is (4, 5, 6) contiguous, read as its (6, 4, 5) permutation plus offset 3.
     */
    enum { NX = 3 + 4 * 5 * 6, NV = 120 };
    static float x[NX], y[NV + 4];
    for (int i = 0; i < NX; i++)
        x[i] = (float)i;
    for (int i = 0; i < NV + 4; i++)
        y[i] = NAN;
    tassl_buf *bx = upload(dev, x, NX), *by = upload(dev, y, NV + 4);
    tassl_kview v = {.buf = bx, .off = 3, .ndim = 3, .shape = {6, 4, 5}, .stride = {1, 30, 6}};
    k = tassl_cl_kernel(dev, "devtest", "t_view", "");
    assert_non_null(k);
    tassl_cl_args a = tassl_cl_args_begin(k);
    tassl_cl_arg_view(&a, &v);
    tassl_cl_arg_ptr(&a, (tassl_ptr){by, 2});
    tassl_cl_arg_int(&a, NV);
    assert_int_equal(a.err, CL_SUCCESS);
    assert_int_equal(tassl_cl_launch_1d(dev, k, NV), TASSL_OK);
    download(dev, by, y, NV + 4);
    for (int i0 = 0, i = 0; i0 < 6; i0++)
        for (int i1 = 0; i1 < 4; i1++)
            for (int i2 = 0; i2 < 5; i2++, i++)
                assert_float_equal(y[2 + i], x[3 + i0 + 30 * i1 + 6 * i2], 0);
    assert_true(isnan(y[0]) && isnan(y[1]) && isnan(y[NV + 2]) && isnan(y[NV + 3]));
    dev->be->buf_free(dev, bx);
    dev->be->buf_free(dev, by);

    /* 2-D launch whose global size is no multiple of the local size. */
    enum { R = 13, C = 7 };
    static float z[R * C + 1];
    for (int i = 0; i < R * C + 1; i++)
        z[i] = NAN;
    tassl_buf *bz = upload(dev, z, R * C + 1);
    k = tassl_cl_kernel(dev, "devtest", "t_2d", "");
    assert_non_null(k);
    a = tassl_cl_args_begin(k);
    tassl_cl_arg_ptr(&a, (tassl_ptr){bz, 1});
    tassl_cl_arg_int(&a, R);
    tassl_cl_arg_int(&a, C);
    assert_int_equal(a.err, CL_SUCCESS);
    assert_int_equal(tassl_cl_launch(dev, k, 2, (size_t[]){C, R}, (size_t[]){4, 4}), TASSL_OK);
    assert_int_equal(tassl_cl_launch(dev, k, 2, (size_t[]){0, R}, NULL), TASSL_OK); /* no-op */
    download(dev, bz, z, R * C + 1);
    assert_true(isnan(z[0]));
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            assert_float_equal(z[1 + r * C + c], r * 1000 + c, 0);

    /* Options make a different program; the same options hit the in-memory cache. */
    cl_kernel k1 = tassl_cl_kernel(dev, "devtest", "t_def", "");
    cl_kernel k7 = tassl_cl_kernel(dev, "devtest", "t_def", "-DSCALE=7");
    assert_non_null(k1);
    assert_non_null(k7);
    assert_ptr_not_equal(k1, k7);
    assert_ptr_equal(tassl_cl_kernel(dev, "devtest", "t_def", "-DSCALE=7"), k7);
    a = tassl_cl_args_begin(k7);
    tassl_cl_arg_ptr(&a, (tassl_ptr){bz, 0});
    assert_int_equal(a.err, CL_SUCCESS);
    assert_int_equal(tassl_cl_launch(dev, k7, 1, (size_t[]){3}, NULL), TASSL_OK);
    assert_int_equal(dev->be->read(dev, bz, 0, 3 * sizeof(float), z), TASSL_OK);
    assert_float_equal(z[0], 7, 0);
    assert_float_equal(z[2], 7, 0);
    dev->be->buf_free(dev, bz);

    /* A launch error names the kernel and the sizes. */
    assert_int_equal(tassl_cl_launch(dev, k7, 1, (size_t[]){8}, (size_t[]){1u << 30}),
                     TASSL_ERR_DEVICE);
    assert_non_null(strstr(tassl_last_error(), "t_def"));

    close_dev(dev);
    unsetenv("TASSL_KERNEL_DIR");
    rm_rf(kdir);
}

static void broken_kernel_reports_build_log(void **state) {
    (void)state;
    char kdir[256];
    make_kernel_dir(kdir, sizeof kdir, "core",
                    "kernel void broken(global float *y) { y[0] = undeclared_thing_xyz; }\n");
    setenv("TASSL_KERNEL_DIR", kdir, 1);
    tassl_device *dev = open_dev();
    print_message("(a build log on stderr is expected here)\n");
    assert_null(tassl_cl_kernel(dev, "core", "broken", "-DFOO=3"));
    const char *msg = tassl_last_error();
    assert_non_null(strstr(msg, "core.cl"));
    assert_non_null(strstr(msg, kdir));
    assert_non_null(strstr(msg, "-DFOO=3"));
    assert_non_null(strstr(msg, "undeclared_thing_xyz")); /* from the compiler's log */
    /* not cached as a success: asking again fails again */
    assert_null(tassl_cl_kernel(dev, "core", "broken", "-DFOO=3"));
    assert_int_equal(tassl_cl_of(dev)->nprograms, 0);
    /* a file missing from the directory is an error naming its path */
    assert_null(tassl_cl_kernel(dev, "pool", "x", ""));
    assert_non_null(strstr(tassl_last_error(), "/pool.cl"));
    assert_non_null(strstr(tassl_last_error(), kdir));
    close_dev(dev);
    unsetenv("TASSL_KERNEL_DIR");
    rm_rf(kdir);
}

/* ---- disk cache -------------------------------------------------------------------------- */

static void disk_cache_write_reload_corrupt(void **state) {
    (void)state;
    char kdir[256], xdg[256], cdir[512], file[1024];
    make_kernel_dir(kdir, sizeof kdir, "devtest", devtest_cl);
    make_tmpdir(xdg, sizeof xdg);
    snprintf(cdir, sizeof cdir, "%s/tassl/kernels", xdg);
    setenv("TASSL_KERNEL_DIR", kdir, 1);
    setenv("XDG_CACHE_HOME", xdg, 1);

    /* 1. a cold build writes exactly one cache file (and no temp file) */
    tassl_device *dev = open_dev();
    assert_non_null(tassl_cl_kernel(dev, "devtest", "t_axpy", ""));
    close_dev(dev);
    assert_int_equal(count_files(cdir, NULL, ".bin", file, sizeof file), 1);
    assert_int_equal(count_files(cdir, ".tmp", NULL, NULL, 0), 0);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    off_t size = st.st_size;
    assert_true(size > 40);

    /* 2. a new device (empty in-memory cache) loads it: the file is not rewritten */
    struct utimbuf old = {.actime = 978307200, .modtime = 978307200}; /* 2001-01-01 */
    assert_int_equal(utime(file, &old), 0);
    dev = open_dev();
    cl_kernel k = tassl_cl_kernel(dev, "devtest", "t_axpy", "");
    assert_non_null(k);
    run_axpy(dev, k); /* the program from the binary works */
    close_dev(dev);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal((long long)st.st_mtime, 978307200LL);

    /* 3. a corrupted file (one byte flipped in the binary) is ignored, rebuilt and replaced */
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(size / 2), SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, (long)(size / 2), SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(utime(file, &old), 0);
    dev = open_dev();
    k = tassl_cl_kernel(dev, "devtest", "t_axpy", "");
    assert_non_null(k);
    run_axpy(dev, k);
    close_dev(dev);
    assert_int_equal(stat(file, &st), 0);
    assert_true(st.st_mtime != 978307200);
    assert_int_equal(st.st_size, size);

    /* 4. a truncated file, and one that is pure garbage, likewise */
    assert_int_equal(truncate(file, size / 3), 0);
    dev = open_dev();
    k = tassl_cl_kernel(dev, "devtest", "t_axpy", "");
    assert_non_null(k);
    run_axpy(dev, k);
    close_dev(dev);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_size, size);
    write_file(cdir, strrchr(file, '/') + 1, "garbage", 7);
    dev = open_dev();
    assert_non_null(tassl_cl_kernel(dev, "devtest", "t_axpy", ""));
    close_dev(dev);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_size, size);

    /* 5. other options or other source text are other files */
    dev = open_dev();
    assert_non_null(tassl_cl_kernel(dev, "devtest", "t_def", "-DSCALE=3"));
    close_dev(dev);
    assert_int_equal(count_files(cdir, NULL, ".bin", NULL, 0), 2);
    static char src2[sizeof devtest_cl + 32];
    snprintf(src2, sizeof src2, "%s// edited\n", devtest_cl);
    write_file(kdir, "devtest.cl", src2, strlen(src2));
    dev = open_dev();
    assert_non_null(tassl_cl_kernel(dev, "devtest", "t_axpy", ""));
    close_dev(dev);
    assert_int_equal(count_files(cdir, NULL, ".bin", NULL, 0), 3);
    assert_int_equal(count_files(cdir, ".tmp", NULL, NULL, 0), 0);

    unsetenv("TASSL_KERNEL_DIR");
    setenv("XDG_CACHE_HOME", test_xdg, 1);
    rm_rf(kdir);
    rm_rf(xdg);
}

static void disk_cache_off_writes_nothing(void **state) {
    (void)state;
    char xdg[256], cdir[512];
    make_tmpdir(xdg, sizeof xdg);
    snprintf(cdir, sizeof cdir, "%s/tassl/kernels", xdg);
    setenv("XDG_CACHE_HOME", xdg, 1);
    setenv("TASSL_KERNEL_CACHE", "off", 1);
    tassl_device *dev = open_dev();
    assert_null(tassl_cl_kernel(dev, "core", "no_such_kernel_xyz", "")); /* builds core.cl */
    assert_non_null(strstr(tassl_last_error(), "CL_INVALID_KERNEL_NAME"));
    close_dev(dev);
    int n = count_files(cdir, NULL, ".bin", NULL, 0);
    assert_true(n <= 0);
    unsetenv("TASSL_KERNEL_CACHE");
    /* the same build with the cache on does write */
    dev = open_dev();
    assert_null(tassl_cl_kernel(dev, "core", "no_such_kernel_xyz", ""));
    close_dev(dev);
    assert_int_equal(count_files(cdir, NULL, ".bin", NULL, 0), 1);
    setenv("XDG_CACHE_HOME", test_xdg, 1);
    rm_rf(xdg);
}

/* ---- GEMM -------------------------------------------------------------------------------- */

typedef struct gemm_case {
    int ta, tb;
    int m, n, k;
    int pad_a, pad_b, pad_c; /* leading dimension minus the minimum */
    int off_a, off_b, off_c; /* element offsets */
    int batch;
    int gap_a, gap_b, gap_c; /* batch stride minus the matrix size; -1 = stride 0 */
    float alpha, beta;
} gemm_case;

static uint32_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Run one case on the device and compare with a double-precision host loop; C's padding and
 * the space around C must be untouched, and with beta = 0, NaN in C must not leak. */
static void check_gemm(tassl_device *dev, gemm_case g) {
    int64_t ra = g.ta ? g.k : g.m, ca = g.ta ? g.m : g.k; /* stored shape of A */
    int64_t rb = g.tb ? g.n : g.k, cb = g.tb ? g.k : g.n;
    int64_t lda = ca + g.pad_a, ldb = cb + g.pad_b, ldc = g.n + g.pad_c;
    int64_t sa = g.gap_a < 0 ? 0 : ra * lda + g.gap_a;
    int64_t sb = g.gap_b < 0 ? 0 : rb * ldb + g.gap_b;
    int64_t sc = g.m * ldc + g.gap_c;
    size_t na = (size_t)(g.off_a + sa * (g.batch - 1) + ra * lda + 5);
    size_t nb = (size_t)(g.off_b + sb * (g.batch - 1) + rb * ldb + 5);
    size_t nc = (size_t)(g.off_c + sc * (g.batch - 1) + g.m * ldc + 5);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    float *out = malloc(nc * sizeof *out);
    assert_true(A && B && C && out);
    for (size_t i = 0; i < na; i++)
        A[i] = frand();
    for (size_t i = 0; i < nb; i++)
        B[i] = frand();
    for (size_t i = 0; i < nc; i++)
        C[i] = g.beta == 0.0f ? NAN : frand();
    tassl_buf *bA = upload(dev, A, na), *bB = upload(dev, B, nb), *bC = upload(dev, C, nc);
    tassl_gemm_args args = {
        .trans_a = g.ta,
        .trans_b = g.tb,
        .m = g.m,
        .n = g.n,
        .k = g.k,
        .alpha = g.alpha,
        .beta = g.beta,
        .a = {bA, g.off_a},
        .b = {bB, g.off_b},
        .c = {bC, g.off_c},
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .stride_a = sa,
        .stride_b = sb,
        .stride_c = sc,
        .batch = g.batch,
    };
    tassl_status s = tassl_cl_gemm_clblast(dev, &args, NULL);
    if (s != TASSL_OK) print_message("gemm: %s\n", tassl_last_error());
    assert_int_equal(s, TASSL_OK);
    download(dev, bC, out, nc);

    /* expected: start from C and overwrite the blocks */
    double maxerr = 0;
    char *inside = calloc(nc, 1);
    assert_non_null(inside);
    for (int b = 0; b < g.batch; b++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) {
                double acc = 0, mag = 0; /* the sum and the sum of magnitudes */
                for (int p = 0; p < g.k; p++) {
                    float av = A[g.off_a + b * sa + (g.ta ? p * lda + i : i * lda + p)];
                    float bv = B[g.off_b + b * sb + (g.tb ? j * ldb + p : p * ldb + j)];
                    acc += (double)av * bv;
                    mag += fabs((double)av * bv);
                }
                size_t ci = (size_t)(g.off_c + b * sc + i * ldc + j);
                double want = g.alpha * acc + (g.beta == 0.0f ? 0.0 : (double)g.beta * C[ci]);
                double scale =
                    1.0 + fabs(g.alpha) * mag + (g.beta == 0.0f ? 0.0 : fabs(g.beta * C[ci]));
                double err = fabs(out[ci] - want) / scale;
                if (!(err <= maxerr)) maxerr = err; /* NaN-proof */
                inside[ci] = 1;
            }
    for (size_t i = 0; i < nc; i++)
        if (!inside[i]) {
            if (isnan(C[i]))
                assert_true(isnan(out[i]));
            else
                assert_float_equal(out[i], C[i], 0);
        }
    print_message("gemm %c%c m %d n %d k %d batch %d alpha %g beta %g: max err %.2e (relative to 1 "
                  "+ sum |terms|)\n",
                  g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k, g.batch, g.alpha, g.beta,
                  maxerr);
    assert_true(maxerr < 1e-5);
    free(inside);
    dev->be->buf_free(dev, bA);
    dev->be->buf_free(dev, bB);
    dev->be->buf_free(dev, bC);
    free(A);
    free(B);
    free(C);
    free(out);
}

static void gemm_clblast_matches_host(void **state) {
    (void)state;
    tassl_device *dev = open_dev();
    for (int t = 0; t < 4; t++) /* NN NT TN TT, padded leading dims, offsets */
        check_gemm(dev, (gemm_case){.ta = t >> 1,
                                    .tb = t & 1,
                                    .m = 37,
                                    .n = 29,
                                    .k = 19,
                                    .pad_a = 3,
                                    .pad_b = 1,
                                    .pad_c = 2,
                                    .off_a = 5,
                                    .off_b = 7,
                                    .off_c = 11,
                                    .batch = 1,
                                    .alpha = 1.5f,
                                    .beta = 0.5f});
    /* beta = 0 with NaN in C: small (direct kernel) and large (indirect kernel) */
    check_gemm(dev, (gemm_case){.m = 8, .n = 8, .k = 8, .batch = 1, .alpha = 1, .beta = 0});
    check_gemm(dev, (gemm_case){.tb = 1,
                                .m = 400,
                                .n = 390,
                                .k = 420,
                                .pad_c = 3,
                                .off_c = 1,
                                .batch = 1,
                                .alpha = 1,
                                .beta = 0});
    /* batched with gaps between matrices, offsets, and a shared A (stride 0) */
    check_gemm(dev, (gemm_case){.tb = 1,
                                .m = 9,
                                .n = 10,
                                .k = 11,
                                .pad_a = 2,
                                .off_a = 3,
                                .off_b = 1,
                                .off_c = 2,
                                .batch = 3,
                                .gap_a = 4,
                                .gap_b = 5,
                                .gap_c = 6,
                                .alpha = 0.5f,
                                .beta = 1.0f});
    check_gemm(dev, (gemm_case){.ta = 1,
                                .m = 6,
                                .n = 5,
                                .k = 7,
                                .batch = 4,
                                .gap_a = -1,
                                .gap_c = 1,
                                .alpha = 1,
                                .beta = 0});
    /* k = 0: C = beta·C, and beta = 0 clears NaN */
    check_gemm(
        dev,
        (gemm_case){
            .m = 4, .n = 3, .k = 0, .pad_c = 2, .batch = 2, .gap_c = 1, .alpha = 1, .beta = 0.5f});
    check_gemm(dev,
               (gemm_case){.m = 4, .n = 3, .k = 0, .pad_c = 2, .batch = 1, .alpha = 1, .beta = 0});
    /* size 1 everywhere, and a vector-matrix product */
    check_gemm(dev, (gemm_case){.m = 1, .n = 1, .k = 1, .batch = 1, .alpha = 2, .beta = 0});
    check_gemm(
        dev,
        (gemm_case){
            .ta = 1, .tb = 1, .m = 1, .n = 33, .k = 17, .batch = 2, .alpha = 1, .beta = 0.25f});
    close_dev(dev);
}

int main(void) {
    /* Never touch the user's kernel cache or pick up a kernel directory from the environment. */
    snprintf(test_xdg, sizeof test_xdg, "/tmp/tassl-test-device-XXXXXX");
    if (!mkdtemp(test_xdg)) {
        perror(test_xdg);
        return 1;
    }
    setenv("XDG_CACHE_HOME", test_xdg, 1);
    unsetenv("TASSL_KERNEL_DIR");
    unsetenv("TASSL_KERNEL_CACHE");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enumerate_lists_devices),
        cmocka_unit_test(open_and_close),
        cmocka_unit_test(auto_spec_reads_env),
        cmocka_unit_test(buffer_round_trip),
        cmocka_unit_test(embedded_sources_build),
        cmocka_unit_test(kernel_args_and_launch),
        cmocka_unit_test(broken_kernel_reports_build_log),
        cmocka_unit_test(disk_cache_write_reload_corrupt),
        cmocka_unit_test(disk_cache_off_writes_nothing),
        cmocka_unit_test(gemm_clblast_matches_host),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_xdg);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", test_xdg);
    return failed;
}
