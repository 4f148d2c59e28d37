/* gemm.c — the GEMM entry point: per-device choice of implementation.
 *
 * A table maps devices to an implementation and a parameter row (first match wins; the last row
 * of each backend is its default). Issue #3 adds a pocl register-tile kernel and tuned rows here;
 * callers never change. TASSL_GEMM=<impl name> forces an implementation (benchmarks, debugging). */
#include <stdlib.h>
#include <string.h>
#include "gemm.h"

static const tassl_gemm_impl impls[] = {
    {"ref", TASSL_BACKEND_REF, tassl_ref_gemm},
    {"clblast", TASSL_BACKEND_OPENCL, tassl_cl_gemm_clblast},
};
#define NIMPLS ((int)(sizeof impls / sizeof impls[0]))

typedef struct device_row {
    tassl_backend_kind backend;
    const char *name_contains; /* substring of the device name, NULL = any (default row) */
    const char *impl;
    const void *params;
} device_row;

static const device_row table[] = {
    {TASSL_BACKEND_REF, NULL, "ref", NULL},
    {TASSL_BACKEND_OPENCL, NULL, "clblast", NULL},
};

static const tassl_gemm_impl *find_impl(const char *name) {
    for (int i = 0; i < NIMPLS; i++)
        if (strcmp(impls[i].name, name) == 0) return &impls[i];
    return NULL;
}

tassl_status tassl_gemm_select(tassl_device *dev) {
    dev->gemm = NULL;
    dev->gemm_params = NULL;
    const char *force = getenv("TASSL_GEMM");
    if (force && *force) {
        const tassl_gemm_impl *im = find_impl(force);
        if (!im || im->backend != dev->info.backend)
            return tassl_error(TASSL_ERR_ARG,
                               "TASSL_GEMM=%s: no such GEMM implementation for a %s device "
                               "(ref devices: ref; OpenCL devices: clblast)",
                               force, dev->be->name);
        dev->gemm = im;
        return TASSL_OK;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const device_row *r = &table[i];
        if (r->backend != dev->info.backend) continue;
        if (r->name_contains && !strstr(dev->info.name, r->name_contains)) continue;
        dev->gemm = find_impl(r->impl);
        dev->gemm_params = r->params;
        return TASSL_OK;
    }
    return tassl_error(TASSL_ERR_UNSUPPORTED, "no GEMM implementation for device %s",
                       dev->info.name);
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
