/* unary.c — elementwise maps (activations, exp/log/sqrt/pow/clamp, affine) on one kernel pair. */
#include <math.h>
#include "op.h"
#include "../backend/kern_core.h"

/* Whether op's derivative is a function of y alone (relu's x > 0 is y > 0): then backward reads
 * the output in x's place and x's storage can go before the node runs (autograd.h:
 * tassl_backward_release), as PyTorch saves relu's output rather than its input. */
static bool df_from_y(tassl_unary_op op) {
    return op == TASSL_UNARY_RELU || op == TASSL_UNARY_SIGMOID || op == TASSL_UNARY_TANH ||
           op == TASSL_UNARY_EXP || op == TASSL_UNARY_SQRT;
}

static void unary_backward(tassl_node *nd) {
    tassl_tensor *x = nd->in[0], *y = nd->out, *dx = tassl_op_grad(x);
    if (!dx || tassl_numel(x) == 0) return;
    tassl_tensor *xv = nd->unread & TASSL_UNREAD_IN(0) ? y : x; // values read as x
    OP_CALL(x->ctx, KCORE(x)->unary_bwd(DEV(x), (tassl_unary_op)nd->i[0], P(xv), P(y),
                                        P(y->grad), P(dx), tassl_numel(x), nd->f[0], nd->f[1]));
}

static tassl_tensor *unary(tassl_tensor *x, tassl_unary_op op, float a, float b,
                           const char *name) {
    x = tassl_contiguous(x);
    tassl_tensor *y = tassl_op_out(x->ctx, x->ndim, x->shape);
    int64_t n = tassl_numel(x);
    if (n > 0 && y->buf) OP_CALL(x->ctx, KCORE(x)->unary(DEV(x), op, P(x), P(y), n, a, b));
    tassl_node *nd = tassl_op_record(y, name, unary_backward, 1, &x);
    if (nd) {
        nd->i[0] = op;
        nd->f[0] = a;
        nd->f[1] = b;
        if (df_from_y(op)) nd->unread = TASSL_UNREAD_IN(0);
    }
    return y;
}

tassl_tensor *tassl_relu(tassl_tensor *x) { return unary(x, TASSL_UNARY_RELU, 0, 0, "relu"); }
tassl_tensor *tassl_leaky_relu(tassl_tensor *x, float slope) {
    return unary(x, TASSL_UNARY_LEAKY_RELU, slope, 0, "leaky_relu");
}
tassl_tensor *tassl_gelu(tassl_tensor *x) { return unary(x, TASSL_UNARY_GELU, 0, 0, "gelu"); }
tassl_tensor *tassl_sigmoid(tassl_tensor *x) {
    return unary(x, TASSL_UNARY_SIGMOID, 0, 0, "sigmoid");
}
tassl_tensor *tassl_tanh(tassl_tensor *x) { return unary(x, TASSL_UNARY_TANH, 0, 0, "tanh"); }
tassl_tensor *tassl_exp(tassl_tensor *x) { return unary(x, TASSL_UNARY_EXP, 0, 0, "exp"); }
tassl_tensor *tassl_log(tassl_tensor *x) { return unary(x, TASSL_UNARY_LOG, 0, 0, "log"); }
tassl_tensor *tassl_sqrt(tassl_tensor *x) { return unary(x, TASSL_UNARY_SQRT, 0, 0, "sqrt"); }
tassl_tensor *tassl_abs(tassl_tensor *x) { return unary(x, TASSL_UNARY_ABS, 0, 0, "abs"); }
tassl_tensor *tassl_neg(tassl_tensor *x) { return unary(x, TASSL_UNARY_AFFINE, -1, 0, "neg"); }
tassl_tensor *tassl_pow_scalar(tassl_tensor *x, float p) {
    return unary(x, TASSL_UNARY_POW, p, 0, "pow");
}
tassl_tensor *tassl_clamp(tassl_tensor *x, float lo, float hi) {
    TASSL_CHECK(!(lo > hi), "tassl_clamp: lo %g > hi %g", lo, hi);
    return unary(x, TASSL_UNARY_CLAMP, lo, hi, "clamp");
}
tassl_tensor *tassl_scale(tassl_tensor *x, float a) {
    return unary(x, TASSL_UNARY_AFFINE, a, 0, "scale");
}
tassl_tensor *tassl_add_scalar(tassl_tensor *x, float b) {
    return unary(x, TASSL_UNARY_AFFINE, 1, b, "add_scalar");
}
