/* opencl/gemm_clblast.c — tassl_gemm() on OpenCL devices through clBLAST.
 *
 * Row-major, batched and strided exactly like gemm.h: batch 1 → CLBlastSgemm, otherwise
 * CLBlastSgemmStridedBatched (a stride of 0 reuses one matrix). clBLAST is given our in-order
 * queue and no event, so the product is ordered with the kernels around it and nothing blocks.
 * k = 0 is not a clBLAST case (it rejects zero sizes): C = beta·C is done here instead.
 * beta = 0 ignores C: clBLAST's kernels store alpha·AB without reading C when beta is zero
 * (verified by tests/test_device.c with C pre-filled with NaN, small and large, batched).
 * The first call for a device is slow (clBLAST compiles its kernels, seconds on pocl); clBLAST
 * caches them in memory for the rest of the process.
 */
#include "clrt.h" /* first: it sets CL_TARGET_OPENCL_VERSION for clblast_c.h too */
#include <clblast_c.h>
#include <stdio.h>

#include "../gemm.h"

static const struct {
    int code;
    const char *name;
} clblast_errors[] = {
    {CLBlastNotImplemented, "not implemented"},
    {CLBlastInvalidMatrixA, "invalid matrix A"},
    {CLBlastInvalidMatrixB, "invalid matrix B"},
    {CLBlastInvalidMatrixC, "invalid matrix C"},
    {CLBlastInvalidDimension, "invalid dimension"},
    {CLBlastInvalidLeadDimA, "leading dimension of A too small"},
    {CLBlastInvalidLeadDimB, "leading dimension of B too small"},
    {CLBlastInvalidLeadDimC, "leading dimension of C too small"},
    {CLBlastInsufficientMemoryA, "buffer of A too small"},
    {CLBlastInsufficientMemoryB, "buffer of B too small"},
    {CLBlastInsufficientMemoryC, "buffer of C too small"},
    {CLBlastInsufficientMemoryTemp, "temporary buffer too small"},
    {CLBlastInvalidBatchCount, "invalid batch count"},
    {CLBlastInvalidLocalMemUsage, "not enough local memory on this device"},
    {CLBlastDatabaseError, "no tuning database entry for this device"},
    {CLBlastUnknownError, "unknown error"},
    {CLBlastUnexpectedError, "unexpected error"},
};

static const char *clblast_name(CLBlastStatusCode s) {
    for (size_t i = 0; i < sizeof clblast_errors / sizeof clblast_errors[0]; i++)
        if (clblast_errors[i].code == (int)s) return clblast_errors[i].name;
    return tassl_cl_errname((cl_int)s); /* the OpenCL codes clBLAST passes through */
}

/* C_b = beta·C_b row by row (k = 0: the product is empty). Rare, so simplicity over speed. */
static tassl_status scale_c(tassl_device *dev, const tassl_gemm_args *g) {
    tassl_cl *cl = tassl_cl_of(dev);
    for (int64_t b = 0; b < g->batch; b++)
        for (int64_t r = 0; r < g->m; r++) {
            size_t off = (size_t)(g->c.off + b * g->stride_c + r * g->ldc);
            if (g->beta == 0.0f) {
                const cl_float zero = 0.0f;
                cl_int e = clEnqueueFillBuffer(cl->queue, g->c.buf->mem, &zero, sizeof zero,
                                               off * sizeof(float), (size_t)g->n * sizeof(float), 0,
                                               NULL, NULL);
                if (e != CL_SUCCESS) return tassl_cl_fail(e, "gemm (k = 0): clEnqueueFillBuffer");
            } else if (g->beta != 1.0f) {
                CLBlastStatusCode s =
                    CLBlastSscal((size_t)g->n, g->beta, g->c.buf->mem, off, 1, &cl->queue, NULL);
                if (s != CLBlastSuccess)
                    return tassl_error(TASSL_ERR_DEVICE, "clblast sscal (gemm with k = 0): %s (%d)",
                                       clblast_name(s), (int)s);
            }
        }
    return TASSL_OK;
}

tassl_status tassl_cl_gemm_clblast(tassl_device *dev, const tassl_gemm_args *g,
                                   const void *params) {
    (void)params; /* clBLAST has its own per-device tuning database */
    TASSL_CHECK(g->m >= 0 && g->n >= 0 && g->k >= 0 && g->batch >= 1 && g->lda >= 0 &&
                    g->ldb >= 0 && g->ldc >= 0 && g->stride_a >= 0 && g->stride_b >= 0 &&
                    g->stride_c >= 0 && g->a.off >= 0 && g->b.off >= 0 && g->c.off >= 0,
                "tassl_cl_gemm_clblast: negative size (m %lld n %lld k %lld batch %lld)",
                (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
    if (g->m == 0 || g->n == 0) return TASSL_OK;
    if (g->k == 0) return scale_c(dev, g);
    tassl_cl *cl = tassl_cl_of(dev);
    CLBlastTranspose ta = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s;
    if (g->batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k,
                         g->alpha, g->a.buf->mem, (size_t)g->a.off, (size_t)g->lda, g->b.buf->mem,
                         (size_t)g->b.off, (size_t)g->ldb, g->beta, g->c.buf->mem, (size_t)g->c.off,
                         (size_t)g->ldc, &cl->queue, NULL);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n,
                                       (size_t)g->k, g->alpha, g->a.buf->mem, (size_t)g->a.off,
                                       (size_t)g->lda, (size_t)g->stride_a, g->b.buf->mem,
                                       (size_t)g->b.off, (size_t)g->ldb, (size_t)g->stride_b,
                                       g->beta, g->c.buf->mem, (size_t)g->c.off, (size_t)g->ldc,
                                       (size_t)g->stride_c, (size_t)g->batch, &cl->queue, NULL);
    if (s == CLBlastSuccess) return TASSL_OK;
    tassl_status st = TASSL_ERR_DEVICE;
    if (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfResources ||
        s == CLBlastOpenCLOutOfHostMemory)
        st = TASSL_ERR_NOMEM;
    else if (s == CLBlastNotImplemented)
        st = TASSL_ERR_UNSUPPORTED;
    return tassl_error(st,
                       "clblast sgemm on %s: C[%lld x %lld] = %s(A) · %s(B), k %lld, lda %lld "
                       "ldb %lld ldc %lld, batch %lld (strides %lld %lld %lld): %s (%d)",
                       dev->info.name, (long long)g->m, (long long)g->n, g->trans_a ? "T" : "N",
                       g->trans_b ? "T" : "N", (long long)g->k, (long long)g->lda,
                       (long long)g->ldb, (long long)g->ldc, (long long)g->batch,
                       (long long)g->stride_a, (long long)g->stride_b, (long long)g->stride_c,
                       clblast_name(s), (int)s);
}
