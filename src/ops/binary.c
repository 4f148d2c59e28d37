/* binary.c — elementwise binary ops with NumPy broadcasting. Inputs are read through strided
 * views (stride 0 on broadcast dims) so nothing is expanded in memory; the backward kernel
 * writes full-size partial gradients that are summed back to each input's shape. */
#include "op.h"
#include "../backend/kern_core.h"

static void binary_backward(tassl_node *nd) {
    tassl_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out;
    tassl_ctx *ctx = y->ctx;
    bool wa = a->requires_grad, wb = b->requires_grad;
    tassl_kview va = tassl_op_view_bcast(a, y->ndim, y->shape, nd->op);
    tassl_kview vb = tassl_op_view_bcast(b, y->ndim, y->shape, nd->op);
    tassl_tensor *ga = wa ? tassl_op_out(ctx, y->ndim, y->shape) : NULL;
    tassl_tensor *gb = wb ? tassl_op_out(ctx, y->ndim, y->shape) : NULL;
    tassl_ptr pa = {NULL, 0}, pb = {NULL, 0};
    if (ga) pa = P(ga);
    if (gb) pb = P(gb);
    if (tassl_numel(y) > 0 && ctx->status == TASSL_OK)
        OP_CALL(ctx, KCORE(y)->binary_bwd(DEV(y), (tassl_binary_op)nd->i[0], &va, &vb,
                                          P(y->grad), pa, pb));
    if (ga) tassl_op_accum(a, tassl_sum_to(ga, a->ndim, a->shape));
    if (gb) tassl_op_accum(b, tassl_sum_to(gb, b->ndim, b->shape));
}

static tassl_tensor *binary(tassl_tensor *a, tassl_tensor *b, tassl_binary_op op,
                            const char *name) {
    TASSL_CHECK(a->ctx == b->ctx, "%s: tensors from different contexts", name);
    int64_t shape[TASSL_MAX_DIMS];
    int nd_ = tassl_op_bcast_shape(a, b, shape, name);
    tassl_tensor *y = tassl_op_out(a->ctx, nd_, shape);
    if (tassl_numel(y) > 0 && y->buf && a->buf && b->buf) {
        tassl_kview va = tassl_op_view_bcast(a, nd_, shape, name);
        tassl_kview vb = tassl_op_view_bcast(b, nd_, shape, name);
        OP_CALL(y->ctx, KCORE(y)->binary(DEV(y), op, &va, &vb, P(y)));
    }
    tassl_tensor *in[2] = {a, b};
    tassl_node *nd = tassl_op_record(y, name, binary_backward, 2, in);
    if (nd) nd->i[0] = op;
    return y;
}

tassl_tensor *tassl_add(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_ADD, "add");
}
tassl_tensor *tassl_sub(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_SUB, "sub");
}
tassl_tensor *tassl_mul(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_MUL, "mul");
}
tassl_tensor *tassl_div(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_DIV, "div");
}
tassl_tensor *tassl_maximum(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_MAX, "maximum");
}
tassl_tensor *tassl_minimum(tassl_tensor *a, tassl_tensor *b) {
    return binary(a, b, TASSL_BINARY_MIN, "minimum");
}
