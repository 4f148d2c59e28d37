/* ctx.h — the context's insides: host arena, owned buffers, tape and scope marks.
 *
 * Everything a scope creates is on three stacks (arena bytes, owned device buffers, tape nodes);
 * tassl_scope_end() pops them back to the marks taken by tassl_scope_begin(). */
#ifndef TASSL_CTX_H
#define TASSL_CTX_H

#include "tassl/tensor.h"
#include "../backend/backend.h"

typedef struct tassl_arena_block {
    struct tassl_arena_block *prev;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} tassl_arena_block;

typedef struct tassl_owned_buf {
    tassl_buf *buf;
    size_t bytes; /* as allocated by the pool */
    size_t guarded; /* usable bytes when surrounded by guards, else 0 */
} tassl_owned_buf;

typedef struct tassl_scope_mark {
    tassl_arena_block *block;
    size_t used;
    int nbufs, ntape, ngrads;
    uint64_t id;
} tassl_scope_mark;

#define TASSL_MAX_SCOPES 64

struct tassl_ctx {
    tassl_device *dev;
    tassl_status status;
    char errmsg[1024];
    tassl_arena_block *arena;
    tassl_owned_buf *bufs;
    int nbufs, capbufs;
    tassl_node **tape;
    int ntape, captape;
    tassl_scope_mark scopes[TASSL_MAX_SCOPES];
    int nscopes;
    uint64_t scope_id, next_scope_id; /* innermost scope (0: none) */
    /* tensors from enclosing scopes whose gradient was allocated in the current one: their
     * .grad is cleared when it ends, so it never points into released storage */
    tassl_tensor **grads;
    int ngrads, capgrads;
    int no_grad;
    tassl_rng_state rng;
};

/* Bump-allocate zeroed host memory that lives until the enclosing scope ends. */
void *tassl_arena_alloc(tassl_ctx *ctx, size_t bytes);

/* A new tensor struct (contiguous strides) without storage / with fresh pooled storage. */
tassl_tensor *tassl_tensor_header(tassl_ctx *ctx, int ndim, const int64_t *shape);
tassl_tensor *tassl_tensor_alloc(tassl_ctx *ctx, int ndim, const int64_t *shape);

/* Record a device status on the context; returns the context status. */
tassl_status tassl_ctx_check(tassl_ctx *ctx, tassl_status s);

/* Note that t's gradient was just allocated in the current scope (see ctx->grads). */
void tassl_ctx_note_grad(tassl_ctx *ctx, tassl_tensor *t);

/* Kernel view of any tensor (size-1 dims get stride 0). */
tassl_kview tassl_kview_of(const tassl_tensor *t);

/* Contiguous row-major strides for shape. */
void tassl_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

#endif
