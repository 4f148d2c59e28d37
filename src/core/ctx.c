/* ctx.c — contexts: sticky error state, host arena, owned device buffers, scopes, no-grad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctx.h"

#define ARENA_BLOCK (64 * 1024)

tassl_ctx *tassl_ctx_new(tassl_device *dev) {
    TASSL_CHECK(dev != NULL, "tassl_ctx_new: device is NULL");
    tassl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->dev = dev;
    return ctx;
}

tassl_device *tassl_ctx_device(const tassl_ctx *ctx) { return ctx->dev; }

static void release_to(tassl_ctx *ctx, const tassl_scope_mark *m) {
    for (int i = ctx->ngrads - 1; i >= m->ngrads; i--)
        if (ctx->grads[i]->scope_id != ctx->scope_id) ctx->grads[i]->grad = NULL;
    ctx->ngrads = m->ngrads;
    /* buffers back to the pool (newest first), checking guards in debug mode */
    for (int i = ctx->nbufs - 1; i >= m->nbufs; i--) {
        tassl_status s = tassl_pool_put(ctx->dev, ctx->bufs[i].buf, ctx->bufs[i].bytes,
                                        ctx->bufs[i].guarded);
        if (s != TASSL_OK && ctx->status == TASSL_OK) {
            ctx->status = s;
            snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", tassl_last_error());
        }
    }
    ctx->nbufs = m->nbufs;
    ctx->ntape = m->ntape;
    while (ctx->arena && ctx->arena != m->block) {
        tassl_arena_block *p = ctx->arena->prev;
        free(ctx->arena);
        ctx->arena = p;
    }
    if (ctx->arena) ctx->arena->used = m->used;
}

void tassl_ctx_free(tassl_ctx *ctx) {
    if (!ctx) return;
    tassl_scope_mark root = {0};
    ctx->scope_id = (uint64_t)-1; /* everything goes */
    release_to(ctx, &root);
    free(ctx->bufs);
    free(ctx->tape);
    free(ctx->grads);
    free(ctx);
}

tassl_status tassl_ctx_status(const tassl_ctx *ctx) { return ctx->status; }
const char *tassl_ctx_error_message(const tassl_ctx *ctx) { return ctx->errmsg; }

void tassl_ctx_clear_error(tassl_ctx *ctx) {
    ctx->status = TASSL_OK;
    ctx->errmsg[0] = 0;
}

tassl_status tassl_ctx_fail(tassl_ctx *ctx, tassl_status s) {
    if (s != TASSL_OK && ctx->status == TASSL_OK) {
        ctx->status = s;
        snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", tassl_last_error());
    }
    return ctx->status;
}

tassl_status tassl_ctx_check(tassl_ctx *ctx, tassl_status s) { return tassl_ctx_fail(ctx, s); }

void tassl_scope_begin(tassl_ctx *ctx) {
    TASSL_CHECK(ctx->nscopes < TASSL_MAX_SCOPES, "tassl_scope_begin: more than %d nested scopes",
                TASSL_MAX_SCOPES);
    tassl_scope_mark *m = &ctx->scopes[ctx->nscopes++];
    m->block = ctx->arena;
    m->used = ctx->arena ? ctx->arena->used : 0;
    m->nbufs = ctx->nbufs;
    m->ntape = ctx->ntape;
    m->ngrads = ctx->ngrads;
    m->id = ctx->scope_id; /* the enclosing scope, restored at end */
    ctx->scope_id = ++ctx->next_scope_id;
}

void tassl_scope_end(tassl_ctx *ctx) {
    TASSL_CHECK(ctx->nscopes > 0, "tassl_scope_end without tassl_scope_begin");
    tassl_scope_mark *m = &ctx->scopes[--ctx->nscopes];
    release_to(ctx, m);
    ctx->scope_id = m->id;
}

void tassl_ctx_note_grad(tassl_ctx *ctx, tassl_tensor *t) {
    if (t->scope_id == ctx->scope_id) return; /* released together with t */
    if (ctx->ngrads == ctx->capgrads) {
        int cap = ctx->capgrads ? 2 * ctx->capgrads : 64;
        tassl_tensor **ng = realloc(ctx->grads, (size_t)cap * sizeof *ng);
        TASSL_CHECK(ng != NULL, "tassl: out of host memory");
        ctx->grads = ng;
        ctx->capgrads = cap;
    }
    ctx->grads[ctx->ngrads++] = t;
}

void tassl_no_grad_begin(tassl_ctx *ctx) { ctx->no_grad++; }
void tassl_no_grad_end(tassl_ctx *ctx) {
    TASSL_CHECK(ctx->no_grad > 0, "tassl_no_grad_end without tassl_no_grad_begin");
    ctx->no_grad--;
}
bool tassl_grad_enabled(const tassl_ctx *ctx) { return ctx->no_grad == 0; }

void *tassl_arena_alloc(tassl_ctx *ctx, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    tassl_arena_block *b = ctx->arena;
    if (!b || b->used + bytes > b->size) {
        size_t size = bytes > ARENA_BLOCK ? bytes : ARENA_BLOCK;
        tassl_arena_block *nb = malloc(sizeof *nb + size);
        TASSL_CHECK(nb != NULL, "tassl: out of host memory (arena block of %zu bytes)", size);
        nb->prev = b;
        nb->size = size;
        nb->used = 0;
        ctx->arena = b = nb;
    }
    void *p = b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}
