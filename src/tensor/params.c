/* params.c — parameters in one flat device allocation (and gradients in a second), carved into
 * named views (llm.c's habit): an optimiser step, an EMA update or a checkpoint is one pass over
 * one buffer. Views are 16-float aligned so per-parameter kernels start on aligned addresses. */
#include <stdlib.h>
#include <string.h>
#include "../core/ctx.h"

typedef struct param {
    char *name;
    bool buffer;
    tassl_tensor value, grad;
} param;

struct tassl_params {
    tassl_ctx *ctx;
    param **items;
    int n, cap;
    int64_t total;            /* floats, including alignment padding */
    tassl_buf *values, *grads;
    tassl_tensor flat, flat_grad;
};

tassl_params *tassl_params_new(tassl_ctx *ctx) {
    tassl_params *p = calloc(1, sizeof *p);
    if (p) p->ctx = ctx;
    return p;
}

void tassl_params_free(tassl_params *p) {
    if (!p) return;
    tassl_device *dev = p->ctx->dev;
    if (p->values) dev->be->buf_free(dev, p->values);
    if (p->grads) dev->be->buf_free(dev, p->grads);
    for (int i = 0; i < p->n; i++) {
        free(p->items[i]->name);
        free(p->items[i]);
    }
    free(p->items);
    free(p);
}

static void set_header(tassl_tensor *t, tassl_ctx *ctx, int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    tassl_contiguous_strides(ndim, shape, t->stride);
}

tassl_tensor *tassl_params_add(tassl_params *p, const char *name, int ndim, const int64_t *shape) {
    TASSL_CHECK(!p->values, "tassl_params_add(%s): parameters already finalized", name);
    TASSL_CHECK(ndim >= 0 && ndim <= TASSL_MAX_DIMS, "tassl_params_add(%s): %d dims", name, ndim);
    TASSL_CHECK(!tassl_params_find(p, name), "tassl_params_add: duplicate name %s", name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        param **ni = realloc(p->items, (size_t)cap * sizeof *ni);
        TASSL_CHECK(ni != NULL, "tassl_params_add: out of host memory");
        p->items = ni;
        p->cap = cap;
    }
    param *it = calloc(1, sizeof *it);
    TASSL_CHECK(it && (it->name = strdup(name)), "tassl_params_add: out of host memory");
    set_header(&it->value, p->ctx, ndim, shape);
    set_header(&it->grad, p->ctx, ndim, shape);
    it->value.name = it->grad.name = it->name;
    it->value.requires_grad = true;
    it->value.grad = &it->grad;
    it->value.off = p->total;
    it->grad.off = p->total;
    int64_t n = tassl_numel(&it->value);
    p->total += (n + 15) / 16 * 16;
    p->items[p->n++] = it;
    return &it->value;
}

tassl_tensor *tassl_params_add_buffer(tassl_params *p, const char *name, int ndim,
                                      const int64_t *shape) {
    tassl_tensor *t = tassl_params_add(p, name, ndim, shape);
    param *it = p->items[p->n - 1];
    it->buffer = true;
    t->requires_grad = false;
    t->grad = NULL;
    return t;
}

bool tassl_params_is_buffer(const tassl_params *p, int i) {
    TASSL_CHECK(i >= 0 && i < p->n, "tassl_params_is_buffer: index %d of %d", i, p->n);
    return p->items[i]->buffer;
}

tassl_status tassl_params_finalize(tassl_params *p) {
    TASSL_CHECK(!p->values, "tassl_params_finalize: called twice");
    tassl_device *dev = p->ctx->dev;
    size_t bytes = (size_t)(p->total > 0 ? p->total : 16) * sizeof(float);
    tassl_status s = dev->be->buf_alloc(dev, bytes, &p->values);
    if (s == TASSL_OK) s = dev->be->buf_alloc(dev, bytes, &p->grads);
    if (s != TASSL_OK) return s;
    for (int i = 0; i < p->n; i++) {
        p->items[i]->value.buf = p->values;
        p->items[i]->grad.buf = p->grads;
    }
    int64_t shape[1] = {p->total};
    set_header(&p->flat, p->ctx, 1, shape);
    set_header(&p->flat_grad, p->ctx, 1, shape);
    p->flat.buf = p->values;
    p->flat_grad.buf = p->grads;
    /* deterministic start: zero values (initialisers overwrite) and gradients, padding included */
    tassl_fill_(&p->flat, 0.0f);
    tassl_fill_(&p->flat_grad, 0.0f);
    return tassl_ctx_status(p->ctx);
}

int tassl_params_count(const tassl_params *p) { return p->n; }

tassl_tensor *tassl_params_get(const tassl_params *p, int i) {
    TASSL_CHECK(i >= 0 && i < p->n, "tassl_params_get: index %d of %d", i, p->n);
    return &p->items[i]->value;
}

tassl_tensor *tassl_params_find(const tassl_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i]->name, name) == 0) return &p->items[i]->value;
    return NULL;
}

tassl_tensor *tassl_params_flat(const tassl_params *p) {
    TASSL_CHECK(p->values, "tassl_params_flat: not finalized");
    return (tassl_tensor *)&p->flat;
}

tassl_tensor *tassl_params_flat_grad(const tassl_params *p) {
    TASSL_CHECK(p->grads, "tassl_params_flat_grad: not finalized");
    return (tassl_tensor *)&p->flat_grad;
}

void tassl_params_zero_grad(tassl_params *p) {
    if (p->grads) tassl_fill_(&p->flat_grad, 0.0f);
}
