/* seg_loss.c — the segmentation loss: soft Dice over the foreground classes + cross-entropy,
 * composed from ops (softmax, mul, sum, div, cross_entropy) so the gradient comes from autograd.
 * Formula and references in seg_internal.h; tests/test_seg.c checks value and gradient against
 * PyTorch (tools/gen-seg-fixtures). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "seg_internal.h"
#include "tassl/ops.h"

tassl_tensor *task_seg_loss(tassl_tensor *logits, const float *labels, double w_dice, double w_ce,
                            double smooth, tassl_tensor **dice, tassl_tensor **ce) {
    TASSL_CHECK(logits->ndim == 4 || logits->ndim == 5, "seg loss: logits must be (N, K, S...)");
    tassl_ctx *ctx = logits->ctx;
    const int64_t N = logits->shape[0], K = logits->shape[1];
    TASSL_CHECK(K >= 2, "seg loss: %lld classes (need background + at least one)", (long long)K);
    int64_t S = 1;
    for (int i = 2; i < logits->ndim; i++)
        S *= logits->shape[i];

    /* one-hot targets and per-class target sums on the host */
    float *oh = calloc((size_t)(N * K * S), sizeof(float));
    float *tsum = calloc((size_t)K, sizeof(float));
    double *tsd = calloc((size_t)K, sizeof(double));
    if (!oh || !tsum || !tsd) {
        free(oh), free(tsum), free(tsd);
        tassl_error(TASSL_ERR_NOMEM, "seg loss: out of host memory");
        return NULL;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t v = 0; v < S; v++) {
            float l = labels[n * S + v];
            if (!(l >= 0 && l < (float)K && l == floorf(l))) {
                tassl_error(TASSL_ERR_ARG,
                            "segmentation: mask value %g in batch element %lld is not a class "
                            "0..%lld (set the task's class count to cover every mask label)",
                            (double)l, (long long)n, (long long)K - 1);
                free(oh), free(tsum), free(tsd);
                return NULL;
            }
            int64_t c = (int64_t)l;
            oh[(n * K + c) * S + v] = 1.0f;
            tsd[c] += 1.0;
        }
    for (int64_t c = 0; c < K; c++)
        tsum[c] = (float)tsd[c];

    int64_t shp[TASSL_MAX_DIMS], tshp[TASSL_MAX_DIMS];
    memcpy(shp, logits->shape, sizeof shp);
    tshp[0] = N;
    for (int i = 2; i < logits->ndim; i++)
        tshp[i - 1] = logits->shape[i];
    tassl_tensor *onehot = tassl_from_host(ctx, logits->ndim, shp, oh);          /* (N, K, S...) */
    tassl_tensor *target = tassl_from_host(ctx, logits->ndim - 1, tshp, labels); /* (N, S...) */
    tassl_tensor *ts = tassl_from_host(ctx, 1, &K, tsum);                        /* (K) */
    free(oh), free(tsum), free(tsd);

    /* soft Dice per class over batch and space */
    int axes[4] = {0, 2, 3, 4};
    int nax = logits->ndim - 1;
    tassl_tensor *p = tassl_softmax(logits, 1);                              /* (N, K, S...) */
    tassl_tensor *inter = tassl_sum(tassl_mul(p, onehot), nax, axes, false); /* (K) */
    tassl_tensor *psum = tassl_sum(p, nax, axes, false);                     /* (K) */
    tassl_tensor *num = tassl_add_scalar(tassl_scale(inter, 2.0f), (float)smooth);
    tassl_tensor *den = tassl_add_scalar(tassl_add(psum, ts), (float)smooth);
    tassl_tensor *dc = tassl_div(num, den);                                      /* (K) */
    tassl_tensor *fg = tassl_slice(dc, 0, 1, K, 1);                              /* (K − 1) */
    tassl_tensor *ldice = tassl_add_scalar(tassl_neg(tassl_mean_all(fg)), 1.0f); /* scalar */

    tassl_tensor *lce = tassl_cross_entropy(logits, target, NULL, 0.0f, -100, TASSL_REDUCE_MEAN);
    tassl_tensor *loss =
        tassl_add(tassl_scale(ldice, (float)w_dice), tassl_scale(lce, (float)w_ce));
    if (dice) *dice = ldice;
    if (ce) *ce = lce;
    return loss;
}
