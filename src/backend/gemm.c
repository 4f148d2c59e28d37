/* gemm.c — the GEMM entry point: per-device choice of implementation.
 *
 * A table maps devices to an implementation and a parameter row (first match wins; the last row
 * of each backend is its default): pocl CPU devices get the register-tile kernels (cl/gemm.cl),
 * other OpenCL devices clBLAST. A `tassl tune` result in the user's cache (tune.h) overrides the
 * row for its device. Callers never change. TASSL_GEMM=<impl name> forces an implementation
 * (benchmarks, debugging); a forced "tile" keeps the device's tile parameters if it has some.
 * Convolutions run as implicit GEMMs (tassl_conv_gemm) wherever the tile kernels are the GEMM;
 * TASSL_CONV=im2col forces the im2col + GEMM path there too. */
#include <stdlib.h>
#include <string.h>
#include "gemm.h"
#include "gemm_params.h"
#include "tune.h"

static const tassl_gemm_impl impls[] = {
    {"ref", TASSL_BACKEND_REF, tassl_ref_gemm},
    {"clblast", TASSL_BACKEND_OPENCL, tassl_cl_gemm_clblast},
    {"tile", TASSL_BACKEND_OPENCL, tassl_cl_gemm_tile},
};
#define NIMPLS ((int)(sizeof impls / sizeof impls[0]))

typedef struct device_row {
    tassl_backend_kind backend;
    const char *name_contains;     /* substring of the device name, NULL = any */
    const char *platform_contains; /* substring of the platform name, NULL = any */
    int cpu_only;                  /* only CPU-type devices */
    const char *impl;
    const void *params;
} device_row;

/* Measured on a 2-core AVX2/AVX-512 EPYC with pocl 3.1 (docs/PERFORMANCE.md). */
static const tassl_gemm_params pocl_cpu = TASSL_GEMM_PARAMS_CPU_DEFAULT;

static const device_row table[] = {
    {TASSL_BACKEND_REF, NULL, NULL, 0, "ref", NULL},
    {TASSL_BACKEND_OPENCL, "pthread", NULL, 1, "tile", &pocl_cpu},
    {TASSL_BACKEND_OPENCL, NULL, "Portable Computing Language", 1, "tile", &pocl_cpu},
    {TASSL_BACKEND_OPENCL, NULL, NULL, 0, "clblast", NULL},
};

const tassl_gemm_impl *tassl_gemm_find_impl(const char *name) {
    for (int i = 0; i < NIMPLS; i++)
        if (strcmp(impls[i].name, name) == 0) return &impls[i];
    return NULL;
}

static int is_tile(const tassl_gemm_impl *im) {
    return im && strcmp(im->name, "tile") == 0;
}

tassl_status tassl_gemm_select(tassl_device *dev) {
    dev->gemm = NULL;
    dev->gemm_params = NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0] && !dev->gemm; i++) {
        const device_row *r = &table[i];
        if (r->backend != dev->info.backend) continue;
        if (r->name_contains && !strstr(dev->info.name, r->name_contains)) continue;
        if (r->platform_contains && !strstr(dev->info.platform_name, r->platform_contains))
            continue;
        if (r->cpu_only && dev->info.type != TASSL_DEVICE_CPU) continue;
        dev->gemm = tassl_gemm_find_impl(r->impl);
        dev->gemm_params = r->params;
    }
    if (!dev->gemm)
        return tassl_error(TASSL_ERR_UNSUPPORTED, "no GEMM implementation for device %s",
                           dev->info.name);
    tassl_tune_entry e;
    if (dev->info.backend == TASSL_BACKEND_OPENCL && tassl_tune_load(&dev->info, &e) == 1) {
        const tassl_gemm_impl *im = tassl_gemm_find_impl(e.impl);
        const void *params = is_tile(im) ? (const void *)tassl_tune_intern(&e.params) : NULL;
        if (im && im->backend == dev->info.backend && (!is_tile(im) || params)) {
            dev->gemm = im;
            dev->gemm_params = params;
        }
    }
    const char *force = getenv("TASSL_GEMM");
    if (force && *force) {
        const tassl_gemm_impl *im = tassl_gemm_find_impl(force);
        if (!im || im->backend != dev->info.backend)
            return tassl_error(TASSL_ERR_ARG,
                               "TASSL_GEMM=%s: no such GEMM implementation for a %s device "
                               "(ref devices: ref; OpenCL devices: clblast, tile)",
                               force, dev->be->name);
        if (!is_tile(im) || !is_tile(dev->gemm)) dev->gemm_params = NULL;
        dev->gemm = im;
    }
    return TASSL_OK;
}

tassl_status tassl_gemm(tassl_device *dev, const tassl_gemm_args *a) {
    TASSL_CHECK(a->m >= 0 && a->n >= 0 && a->k >= 0 && a->batch >= 1,
                "tassl_gemm: m=%lld n=%lld k=%lld batch=%lld", (long long)a->m, (long long)a->n,
                (long long)a->k, (long long)a->batch);
    TASSL_CHECK(a->lda >= (a->trans_a ? a->m : a->k) && a->ldb >= (a->trans_b ? a->k : a->n) &&
                    a->ldc >= a->n,
                "tassl_gemm: leading dimension too small (lda=%lld ldb=%lld ldc=%lld)",
                (long long)a->lda, (long long)a->ldb, (long long)a->ldc);
    if (a->m == 0 || a->n == 0) return TASSL_OK;
    return dev->gemm->fn(dev, a, dev->gemm_params);
}

int tassl_conv_gemm_available(const tassl_device *dev) {
    const char *e = getenv("TASSL_CONV");
    if (e && strcmp(e, "im2col") == 0) return 0;
    return dev->info.backend == TASSL_BACKEND_OPENCL && is_tile(dev->gemm);
}

tassl_status tassl_conv_gemm(tassl_device *dev, const tassl_conv_gemm_args *a) {
    if (!tassl_conv_gemm_available(dev))
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "tassl_conv_gemm: no implicit-GEMM convolution on device %s (GEMM "
                           "implementation %s)",
                           dev->info.name, dev->gemm ? dev->gemm->name : "none");
    return tassl_cl_conv_gemm(dev, a, (const tassl_gemm_params *)dev->gemm_params);
}
