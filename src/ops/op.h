/* op.h — what every op implementation (the files of src/ops) uses: kernel tables, device pointers, tape
 * recording and gradient accumulation.
 *
 * The pattern of an op:
 *
 *   tassl_tensor *tassl_relu(tassl_tensor *x) {
 *       x = tassl_contiguous(x);                       // kernels take contiguous data
 *       tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, x->shape);
 *       OP_CALL(y->ctx, core(y)->unary(DEV(y), TASSL_UNARY_RELU, P(x), P(y), n, 0, 0));
 *       tassl_node *nd = tassl_op_record(y, "relu", relu_backward, 1, &x);
 *       return y;                                      // nd == NULL: no gradient wanted
 *   }
 *   static void relu_backward(tassl_node *nd) {
 *       tassl_tensor *x = nd->in[0], *y = nd->out;
 *       tassl_tensor *dx = tassl_op_grad(x);           // NULL if x needs no gradient
 *       if (dx) OP_CALL(... unary_bwd(..., P(nd->out->grad), P(dx), ...));  // accumulates
 *   }
 *
 * Backward functions may call other ops (they run with recording off) and allocate temporaries
 * in the current scope. Gradients are always contiguous tensors of the input's shape.
 */
#ifndef TASSL_OP_H
#define TASSL_OP_H

#include "tassl/tassl.h"
#include "../backend/backend.h"
#include "../backend/gemm.h"
#include "../backend/kern_core.h"
#include "../core/ctx.h"

typedef void (*tassl_backward_fn)(tassl_node *nd);

#define TASSL_NODE_MAX_IN 4

struct tassl_node {
    tassl_backward_fn backward;
    const char *op;                       /* op name, for messages */
    tassl_tensor *out;
    int nin;
    tassl_tensor *in[TASSL_NODE_MAX_IN];  /* inputs (as the op used them) */
    tassl_tensor *saved[4];               /* extra tensors kept for backward */
    unsigned unread;                      /* TASSL_UNREAD_* bits: values backward never reads */
    int64_t i[16];                        /* integer parameters */
    float f[8];                           /* float parameters */
};

/* nd->unread bits: the backward needs these tensors only for their shape and gradient, never
 * their values, so tassl_backward_release may give their storage back before the node runs.
 * in[k] is bit k; saved[] tensors are always read. Default 0: everything is read. */
#define TASSL_UNREAD_IN(k) (1u << (k))
#define TASSL_UNREAD_OUT (1u << TASSL_NODE_MAX_IN)

/* Output tensor of the op (fresh pooled storage in the current scope). */
static inline tassl_tensor *tassl_op_out(tassl_ctx *ctx, int ndim, const int64_t *shape) {
    return tassl_tensor_alloc(ctx, ndim, shape);
}

/* Record a tape node if gradients are enabled and some input requires them; sets
 * out->requires_grad and out->node. Returns the node (fill nd->i/f/saved) or NULL. */
tassl_node *tassl_op_record(tassl_tensor *out, const char *op, tassl_backward_fn bw, int nin,
                            tassl_tensor *const *in);

/* Gradient of t for accumulation, allocated zero-filled on first use; NULL if t needs none. */
tassl_tensor *tassl_op_grad(tassl_tensor *t);

/* Add g (any strides, t's shape) into t's gradient; no-op if t needs none. */
void tassl_op_accum(tassl_tensor *t, tassl_tensor *g);

/* Device pointer of a contiguous tensor (aborts if t is not contiguous). */
tassl_ptr tassl_op_ptr(const tassl_tensor *t);
/* Kernel view of any tensor. */
tassl_kview tassl_op_view(const tassl_tensor *t);
/* t's view broadcast to (ndim, shape) (NumPy rules; aborts naming op if incompatible). */
tassl_kview tassl_op_view_bcast(const tassl_tensor *t, int ndim, const int64_t *shape,
                                const char *op);
/* Broadcast shape of a and b into out (returns ndim; aborts naming op if incompatible). */
int tassl_op_bcast_shape(const tassl_tensor *a, const tassl_tensor *b, int64_t *out,
                         const char *op);

/* Normalise a possibly negative axis. */
int tassl_op_axis(int axis, int ndim, const char *op);

#define DEV(t) ((t)->ctx->dev)
#define P(t) tassl_op_ptr(t)
#define KCORE(t) (DEV(t)->be->core)
/* Run a kernel call unless the context already failed; record its failure. */
#define OP_CALL(ctx, call)                                                                        \
    do {                                                                                          \
        if ((ctx)->status == TASSL_OK) tassl_ctx_check((ctx), (call));                            \
    } while (0)

#endif
