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
 * activations until the step's scope ended.
 *
 * tassl_backward_release goes one step further for the forward activations: before the loop it
 * finds, for every buffer of the current scope the tape references, the last node (in backward
 * order) whose backward reads its values (nd->unread marks inputs and outputs a backward needs
 * only for their shape and gradient, as relu's input or a conv's output), and gives the buffer
 * back to the pool right after that node, or before the loop when no node reads it. The
 * activations then shrink while the gradients grow, so the step's peak is about the forward's
 * instead of forward + gradients. */
#include <limits.h>
#include <stdint.h>
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

/* ---- the release plan of tassl_backward_release ------------------------------------------- */

/* Open-addressing map from pointers (buffers, nodes) to non-negative ints. */
typedef struct ptrmap {
    const void **key;
    int *val;
    size_t mask;
} ptrmap;

static bool ptrmap_init(ptrmap *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->key = calloc(cap, sizeof *m->key);
    m->val = malloc(cap * sizeof *m->val);
    m->mask = cap - 1;
    return m->key && m->val;
}

static void ptrmap_free(ptrmap *m) {
    free(m->key);
    free(m->val);
}

static size_t ptrmap_slot(const ptrmap *m, const void *k) {
    size_t i = (size_t)(((uint64_t)(uintptr_t)k >> 4) * 0x9E3779B97F4A7C15ull >> 20) & m->mask;
    while (m->key[i] && m->key[i] != k)
        i = (i + 1) & m->mask;
    return i;
}

static void ptrmap_put(ptrmap *m, const void *k, int v) {
    size_t i = ptrmap_slot(m, k);
    m->key[i] = k;
    m->val[i] = v;
}

static int ptrmap_get(const ptrmap *m, const void *k) {
    size_t i = ptrmap_slot(m, k);
    return m->key[i] ? m->val[i] : -1;
}

/* free_at[] states besides a tape index (release right after that node is visited) */
#define RP_UNSEEN (-2)   /* no node of this backward references it: untouched */
#define RP_KEEP (-1)     /* kept: the root, a kept tensor, a gradient, or an unreached node's */
#define RP_START INT_MAX /* referenced but never read: released before the loop */

typedef struct release_plan {
    int lo;       /* owned buffers [lo, lo + n) of the current scope at the start */
    int *free_at; /* (n) */
    int *order;   /* candidates as (free_at, index) pairs, the first released first */
    int norder, next;
    ptrmap reach; /* nodes this backward reaches */
} release_plan;

static void plan_mark(release_plan *rp, const ptrmap *bufs, const tassl_tensor *t, bool read, int i,
                      bool reached) {
    if (!t) return;
    if (t->grad && t->grad->buf) {
        int jg = ptrmap_get(bufs, t->grad->buf);
        if (jg >= 0) rp->free_at[jg] = RP_KEEP;
    }
    int j = t->buf ? ptrmap_get(bufs, t->buf) : -1;
    if (j < 0 || rp->free_at[j] == RP_KEEP) return;
    if (!reached)
        rp->free_at[j] = RP_KEEP;
    else if (read) /* nodes are visited from the end: this one runs after the earlier readers */
        rp->free_at[j] = i;
    else if (rp->free_at[j] == RP_UNSEEN)
        rp->free_at[j] = RP_START;
}

static int cmp_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

static void plan_free(release_plan *rp) {
    ptrmap_free(&rp->reach);
    free(rp->free_at);
    free(rp->order);
    memset(rp, 0, sizeof *rp);
}

/* Plan the releases for a backward from root keeping keep[0..nkeep). false: out of host memory
 * (the backward then runs without releasing). */
static bool plan_make(tassl_ctx *ctx, release_plan *rp, const tassl_tensor *root, int nkeep,
                      tassl_tensor *const *keep) {
    memset(rp, 0, sizeof *rp);
    rp->lo = ctx->nscopes > 0 ? ctx->scopes[ctx->nscopes - 1].nbufs : 0;
    const int n = ctx->nbufs - rp->lo;
    ptrmap bufs = {0};
    rp->free_at = malloc((size_t)(n > 0 ? n : 1) * sizeof *rp->free_at);
    rp->order = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *rp->order);
    if (!rp->free_at || !rp->order || !ptrmap_init(&bufs, (size_t)n) ||
        !ptrmap_init(&rp->reach, (size_t)ctx->ntape)) {
        ptrmap_free(&bufs);
        plan_free(rp);
        return false;
    }
    for (int j = 0; j < n; j++) {
        rp->free_at[j] = RP_UNSEEN;
        if (ctx->bufs[rp->lo + j].buf) ptrmap_put(&bufs, ctx->bufs[rp->lo + j].buf, j);
    }
    if (root->node) ptrmap_put(&rp->reach, root->node, 1);
    for (int i = ctx->ntape - 1; i >= 0; i--) {
        tassl_node *nd = ctx->tape[i];
        if (!nd->backward) continue; /* differentiated before: never runs again */
        bool reached = ptrmap_get(&rp->reach, nd) >= 0;
        for (int k = 0; k < nd->nin; k++) {
            const tassl_tensor *x = nd->in[k];
            if (reached && x && x->requires_grad && x->node) ptrmap_put(&rp->reach, x->node, 1);
            plan_mark(rp, &bufs, x, !(nd->unread & TASSL_UNREAD_IN(k)), i, reached);
        }
        plan_mark(rp, &bufs, nd->out, !(nd->unread & TASSL_UNREAD_OUT), i, reached);
        for (int k = 0; k < 4; k++)
            plan_mark(rp, &bufs, nd->saved[k], true, i, reached);
    }
    /* what the caller still reads, and gradients of enclosing scopes' tensors kept here */
    for (int k = -1; k < nkeep; k++) {
        const tassl_tensor *t = k < 0 ? root : keep[k];
        int j = t && t->buf ? ptrmap_get(&bufs, t->buf) : -1;
        if (j >= 0) rp->free_at[j] = RP_KEEP;
    }
    for (int k = 0; k < ctx->ngrads; k++) {
        const tassl_tensor *g = ctx->grads[k]->grad;
        int j = g && g->buf ? ptrmap_get(&bufs, g->buf) : -1;
        if (j >= 0) rp->free_at[j] = RP_KEEP;
    }
    ptrmap_free(&bufs);
    for (int j = 0; j < n; j++)
        if (rp->free_at[j] >= 0) {
            rp->order[2 * rp->norder] = rp->free_at[j];
            rp->order[2 * rp->norder++ + 1] = j;
        }
    qsort(rp->order, (size_t)rp->norder, 2 * sizeof *rp->order, cmp_desc);
    return true;
}

/* Release the planned buffers whose last reader is at tape index >= i. */
static void plan_release(tassl_ctx *ctx, release_plan *rp, int i) {
    for (; rp->next < rp->norder && rp->order[2 * rp->next] >= i; rp->next++) {
        int j = rp->lo + rp->order[2 * rp->next + 1];
        if (ctx->bufs[j].buf) release_early(ctx, j);
    }
}

/* Every node the backward reached is spent: its inputs may be gone. */
static void plan_end(tassl_ctx *ctx, release_plan *rp) {
    for (int i = 0; i < ctx->ntape; i++)
        if (ptrmap_get(&rp->reach, ctx->tape[i]) >= 0) ctx->tape[i]->backward = NULL;
    plan_free(rp);
}

static tassl_status run_backward(tassl_ctx *ctx, release_plan *rp) {
    tassl_no_grad_begin(ctx);
    if (rp) plan_release(ctx, rp, INT_MAX);
    for (int i = ctx->ntape - 1; i >= 0 && ctx->status == TASSL_OK; i--) {
        tassl_node *nd = ctx->tape[i];
        if (nd->out->grad) {
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
        if (rp) plan_release(ctx, rp, i);
    }
    if (rp) plan_end(ctx, rp);
    tassl_no_grad_end(ctx);
    return ctx->status;
}

tassl_status tassl_backward_with(tassl_tensor *out, const tassl_tensor *grad_out) {
    TASSL_CHECK(out->requires_grad, "tassl_backward: the tensor does not require gradients "
                                    "(no input requires them, or it was computed under no-grad)");
    tassl_op_accum(out, (tassl_tensor *)grad_out);
    return run_backward(out->ctx, NULL);
}

tassl_status tassl_backward(tassl_tensor *out) {
    TASSL_CHECK(tassl_numel(out) == 1,
                "tassl_backward: output has %lld elements; use tassl_backward_with for non-scalars",
                (long long)tassl_numel(out));
    tassl_tensor *one = tassl_full(out->ctx, out->ndim, out->shape, 1.0f);
    return tassl_backward_with(out, one);
}

tassl_status tassl_backward_release(tassl_tensor *out, int nkeep, tassl_tensor *const *keep) {
    TASSL_CHECK(tassl_numel(out) == 1,
                "tassl_backward_release: output has %lld elements (expected a scalar loss)",
                (long long)tassl_numel(out));
    TASSL_CHECK(out->requires_grad, "tassl_backward_release: the tensor does not require "
                                    "gradients (no input requires them, or it was computed "
                                    "under no-grad)");
    TASSL_CHECK(nkeep >= 0 && (nkeep == 0 || keep), "tassl_backward_release: %d kept tensors",
                nkeep);
    tassl_ctx *ctx = out->ctx;
    release_plan rp;
    bool planned = plan_make(ctx, &rp, out, nkeep, keep);
    tassl_tensor *one = tassl_full(ctx, out->ndim, out->shape, 1.0f);
    tassl_op_accum(out, one);
    return run_backward(ctx, planned ? &rp : NULL);
}
