/* ref/gemm.c — reference GEMM: the textbook triple loop with a double accumulator. */
#include "ref.h"
#include "../gemm.h"

tassl_status tassl_ref_gemm(tassl_device *dev, const tassl_gemm_args *g, const void *params) {
    (void)dev;
    (void)params;
    for (int64_t b = 0; b < g->batch; b++) {
        const float *A = tassl_ref_f(g->a) + b * g->stride_a;
        const float *B = tassl_ref_f(g->b) + b * g->stride_b;
        float *C = tassl_ref_f(g->c) + b * g->stride_c;
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < g->k; p++) {
                    float av = g->trans_a ? A[p * g->lda + i] : A[i * g->lda + p];
                    float bv = g->trans_b ? B[j * g->ldb + p] : B[p * g->ldb + j];
                    acc += (double)av * bv;
                }
                float *c = &C[i * g->ldc + j];
                *c = g->beta == 0.0f ? g->alpha * (float)acc : g->alpha * (float)acc + g->beta * *c;
            }
    }
    return TASSL_OK;
}
