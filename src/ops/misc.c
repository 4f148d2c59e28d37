/* misc.c — ops composed from others: L2 normalisation and dropout. */
#include <math.h>
#include "op.h"
#include "../backend/kern_core.h"

tassl_tensor *tassl_l2_normalize(tassl_tensor *x, int dim, float eps) {
    int d = tassl_op_axis(dim, x->ndim, "tassl_l2_normalize");
    tassl_tensor *n = tassl_sqrt(tassl_sum(tassl_mul(x, x), 1, &d, true));
    return tassl_div(x, tassl_clamp(n, eps, INFINITY)); /* x / max(‖x‖, eps), as F.normalize */
}

tassl_tensor *tassl_dropout(tassl_tensor *x, float p, bool training) {
    TASSL_CHECK(p >= 0.0f && p < 1.0f, "tassl_dropout: p = %g, expected 0 <= p < 1", p);
    if (!training || p == 0.0f) return x;
    tassl_ctx *ctx = x->ctx;
    tassl_tensor *mask = tassl_op_out(ctx, x->ndim, x->shape);
    int64_t n = tassl_numel(mask);
    uint64_t counter = ctx->rng.counter;
    ctx->rng.counter += (uint64_t)n;
    if (n > 0 && mask->buf) {
        /* keep with probability 1 − p, survivors scaled by 1/(1 − p) */
        OP_CALL(ctx, KCORE(x)->rng(DEV(x), P(mask), n, TASSL_RNG_BERNOULLI, ctx->rng.seed, counter,
                                   1.0f - p, 0.0f));
        OP_CALL(ctx, KCORE(x)->unary(DEV(x), TASSL_UNARY_AFFINE, P(mask), P(mask), n,
                                     1.0f / (1.0f - p), 0.0f));
    }
    return tassl_mul(x, mask);
}
