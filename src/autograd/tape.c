/* tape.c — recording nodes and running the tape backward.
 *
 * The tape is the context's array of nodes in creation order, which is a topological order of
 * the graph. Backward visits it from the end; a node runs if its output received a gradient.
 * Backward functions run with recording off and accumulate into their inputs' gradients.
 * Like PyTorch, a graph can be differentiated once: visited nodes are consumed and the gradients
 * of intermediate tensors are dropped (those of leaves and parameters stay).
 *
 * Memory: as in PyTorch, a node's consumed output gradient and the temporaries its backward
 * allocated go back to the device pool as soon as the node has run (their owned-buffer entries
 * are emptied, so the scope's end skips them); only the gradients it produced for its inputs
 * stay. Without this every intermediate gradient of the step piled up on top of the
 * activations until the step's scope ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ops/op.h"

tassl_node *tassl_op_record(tassl_tensor *out, const char *op, tassl_backward_fn bw, int nin,
                            tassl_tensor *const *in) {
    tassl_ctx *ctx = out->ctx;
    TASSL_CHECK(nin >= 0 && nin <= TASSL_NODE_MAX_IN, "%s: %d inputs recorded (at most %d)", op,
                nin, TASSL_NODE_MAX_IN);
    if (ctx->no_grad) return NULL;
    bool any = false;
    for (int i = 0; i < nin; i++) any |= in[i] && in[i]->requires_grad;
    if (!any) return NULL;
    tassl_node *nd = tassl_arena_alloc(ctx, sizeof *nd);
    nd->backward = bw;
    nd->op = op;
    nd->out = out;
    nd->nin = nin;
    for (int i = 0; i < nin; i++) nd->in[i] = in[i];
    if (ctx->ntape == ctx->captape) {
        int cap = ctx->captape ? 2 * ctx->captape : 256;
        tassl_node **nt = realloc(ctx->tape, (size_t)cap * sizeof *nt);
        TASSL_CHECK(nt != NULL, "tassl: out of host memory (tape)");
        ctx->tape = nt;
        ctx->captape = cap;
    }
    ctx->tape[ctx->ntape++] = nd;
    out->requires_grad = true;
    out->node = nd;
    return nd;
}

tassl_tensor *tassl_op_grad(tassl_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = tassl_zeros(t->ctx, t->ndim, t->shape);
        tassl_ctx_note_grad(t->ctx, t);
    }
    return t->grad;
}

tassl_tensor *tassl_grad(tassl_tensor *t) { return tassl_op_grad(t); }

void tassl_op_accum(tassl_tensor *t, tassl_tensor *g) {
    tassl_tensor *d = tassl_op_grad(t);
    if (!d) return;
    char a[64], b[64];
    TASSL_CHECK(tassl_same_shape(d, g), "backward of %s: gradient %s for a tensor of shape %s",
                t->node ? t->node->op : "leaf", tassl_shape_str(g, a, 64),
                tassl_shape_str(d, b, 64));
    if (t->ctx->status != TASSL_OK || tassl_numel(d) == 0) return;
    tassl_kview src = tassl_op_view(g), dst = tassl_op_view(d);
    OP_CALL(t->ctx, KCORE(t)->copy(DEV(t), &src, &dst, 1));
}

void tassl_requires_grad_(tassl_tensor *t, bool on) {
    TASSL_CHECK(t->node == NULL, "tassl_requires_grad_: only leaf tensors (not op outputs)");
    t->requires_grad = on;
}

tassl_tensor *tassl_detach(tassl_tensor *x) {
    tassl_tensor *y = tassl_arena_alloc(x->ctx, sizeof *y);
    *y = *x;
    y->requires_grad = false;
    y->grad = NULL;
    y->node = NULL;
    y->scope_id = x->ctx->scope_id;
    return y;
}

int tassl_tape_size(const tassl_ctx *ctx) { return ctx->ntape; }

/* Whether buf holds the gradient of one of nd's inputs (kept after its backward). */
static bool is_input_grad(const tassl_node *nd, const tassl_buf *buf) {
    for (int k = 0; k < nd->nin; k++)
        if (nd->in[k] && nd->in[k]->grad && nd->in[k]->grad->buf == buf) return true;
    return false;
}

/* Give owned buffer j back to the pool now; its entry stays, empty, for the scope's end. */
static void release_early(tassl_ctx *ctx, int j) {
    tassl_owned_buf *ob = &ctx->bufs[j];
    tassl_status s = tassl_pool_put(ctx->dev, ob->buf, ob->bytes, ob->guarded);
    ob->buf = NULL;
    if (s != TASSL_OK && ctx->status == TASSL_OK) {
        ctx->status = s;
        snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", tassl_last_error());
    }
}

/* After nd's backward: release the temporaries it allocated (owned buffers nb0..) and its
 * consumed output gradient g, keeping the gradients of its inputs. Gradients never alias
 * other tensors' storage except through their inputs' gradients, which are checked. */
static void release_after(tassl_ctx *ctx, const tassl_node *nd, int nb0, tassl_tensor *g) {
    for (int j = nb0; j < ctx->nbufs; j++)
        if (ctx->bufs[j].buf && !is_input_grad(nd, ctx->bufs[j].buf)) release_early(ctx, j);
    if (!g || !g->buf || is_input_grad(nd, g->buf)) return;
    for (int j = (nb0 < ctx->nbufs ? nb0 : ctx->nbufs) - 1; j >= 0; j--)
        if (ctx->bufs[j].buf == g->buf) {
            release_early(ctx, j);
            break;
        }
}

static tassl_status run_backward(tassl_ctx *ctx) {
    tassl_no_grad_begin(ctx);
    for (int i = ctx->ntape - 1; i >= 0 && ctx->status == TASSL_OK; i--) {
        tassl_node *nd = ctx->tape[i];
        if (!nd->out->grad) continue;
        TASSL_CHECK(nd->backward != NULL,
                    "tassl_backward: the graph through %s was already differentiated once",
                    nd->op);
        int nb0 = ctx->nbufs;
        nd->backward(nd);
        nd->backward = NULL;
        tassl_tensor *g = nd->out->grad;
        nd->out->grad = NULL; /* intermediate gradient consumed */
        release_after(ctx, nd, nb0, g);
    }
    tassl_no_grad_end(ctx);
    return ctx->status;
}

tassl_status tassl_backward_with(tassl_tensor *out, const tassl_tensor *grad_out) {
    TASSL_CHECK(out->requires_grad, "tassl_backward: the tensor does not require gradients "
                                    "(no input requires them, or it was computed under no-grad)");
    tassl_op_accum(out, (tassl_tensor *)grad_out);
    return run_backward(out->ctx);
}

tassl_status tassl_backward(tassl_tensor *out) {
    TASSL_CHECK(tassl_numel(out) == 1,
                "tassl_backward: output has %lld elements; use tassl_backward_with for non-scalars",
                (long long)tassl_numel(out));
    tassl_tensor *one = tassl_full(out->ctx, out->ndim, out->shape, 1.0f);
    return tassl_backward_with(out, one);
}
