/* tensor.h — fp32 tensors, contexts, scopes, parameters.
 *
 * A tensor is a non-owning strided view {buffer, offset, shape[], stride[]} of up to five dims,
 * by convention (N, C, D, H, W). Storage comes from one of two places:
 *   - a scope of the context: per-step activations, gradients of activations and temporaries.
 *     tassl_scope_end() releases everything created since the matching begin (tensor structs,
 *     device buffers back to the device's size-keyed pool, tape entries). No layer owns
 *     activations, so one network can run several times per step (two views, online/target).
 *   - a tassl_params set: every parameter in one flat device allocation (and every gradient in a
 *     second one), carved into named views; an optimiser step or a checkpoint is one pass.
 *
 * Errors from the device (allocation failure, a failed kernel) do not abort: the context records
 * the first one (sticky, like OpenCL's own error model), later ops become no-ops that still return
 * well-shaped tensors, and the caller checks tassl_ctx_status() once per step.
 */
#ifndef TASSL_TENSOR_H
#define TASSL_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include "device.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TASSL_MAX_DIMS 5

typedef struct tassl_ctx tassl_ctx;
typedef struct tassl_buf tassl_buf; /* backend-defined device buffer */
typedef struct tassl_node tassl_node;

typedef struct tassl_tensor {
    tassl_ctx *ctx;
    tassl_buf *buf;                  /* NULL only after a failed allocation */
    int64_t off;                     /* element offset of [0,...,0] in buf */
    int ndim;                        /* 0 = scalar */
    int64_t shape[TASSL_MAX_DIMS];
    int64_t stride[TASSL_MAX_DIMS];  /* in elements; 0 = broadcast */
    bool requires_grad;
    struct tassl_tensor *grad;       /* same shape; allocated on first accumulation */
    tassl_node *node;                /* tape entry that produced it; NULL for leaves */
    const char *name;                /* parameter name, or NULL */
    uint64_t scope_id;               /* internal: the scope it was created in */
} tassl_tensor;

/* Compound literal helper: tassl_zeros(ctx, TASSL_SHAPE(2, 3, 8, 8)). */
#define TASSL_SHAPE(...)                                                                         \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]) { __VA_ARGS__ }

/* ---- context -------------------------------------------------------------------------------- */

/* A context binds a device to a tape, a scope stack and a random stream (seed 0 by default). */
tassl_ctx *tassl_ctx_new(tassl_device *dev);
void tassl_ctx_free(tassl_ctx *ctx);
tassl_device *tassl_ctx_device(const tassl_ctx *ctx);

/* First error recorded since the last clear (TASSL_OK if none); message in tassl_last_error()
 * of the thread that hit it, and also kept in the context: tassl_ctx_error_message(). */
tassl_status tassl_ctx_status(const tassl_ctx *ctx);
const char *tassl_ctx_error_message(const tassl_ctx *ctx);
void tassl_ctx_clear_error(tassl_ctx *ctx);
/* Record an error on the context (first one wins); returns s. */
tassl_status tassl_ctx_fail(tassl_ctx *ctx, tassl_status s);

/* Scopes nest. Everything created after begin (tensors, buffers, tape) is released by end. */
void tassl_scope_begin(tassl_ctx *ctx);
void tassl_scope_end(tassl_ctx *ctx);

/* Gradient recording. Inside a no-grad region no tape entries are made. Nestable. */
void tassl_no_grad_begin(tassl_ctx *ctx);
void tassl_no_grad_end(tassl_ctx *ctx);
bool tassl_grad_enabled(const tassl_ctx *ctx);

/* ---- random numbers ------------------------------------------------------------------------- */
/* Counter-based Philox-4x32-10: element i of a draw is a pure function of (seed, counter + i),
 * so every backend produces the same uniform numbers bit for bit (normals within float rounding
 * of log/cos). Each draw advances the context's counter by the number of elements drawn. */
void tassl_rng_seed(tassl_ctx *ctx, uint64_t seed);
typedef struct tassl_rng_state {
    uint64_t seed, counter;
} tassl_rng_state;
tassl_rng_state tassl_rng_get(const tassl_ctx *ctx);
void tassl_rng_set(tassl_ctx *ctx, tassl_rng_state s);

/* The raw Philox-4x32-10 block function (for known-answer tests and custom streams). */
void tassl_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Host versions of the same stream (used by data pipelines and the reference backend). */
uint32_t tassl_philox_u32(uint64_t seed, uint64_t index);
float tassl_philox_uniform(uint64_t seed, uint64_t index);        /* [0, 1) with 24 bits */
float tassl_philox_normal(uint64_t seed, uint64_t index);         /* N(0, 1), Box–Muller */

/* ---- creation and transfer ------------------------------------------------------------------ */

int64_t tassl_numel(const tassl_tensor *t);
bool tassl_is_contiguous(const tassl_tensor *t);
bool tassl_same_shape(const tassl_tensor *a, const tassl_tensor *b);
/* "(2, 3, 8, 8)" into buf; returns buf. */
char *tassl_shape_str(const tassl_tensor *t, char *buf, int len);

tassl_tensor *tassl_empty(tassl_ctx *ctx, int ndim, const int64_t *shape);   /* uninitialised */
tassl_tensor *tassl_zeros(tassl_ctx *ctx, int ndim, const int64_t *shape);
tassl_tensor *tassl_full(tassl_ctx *ctx, int ndim, const int64_t *shape, float value);
tassl_tensor *tassl_scalar(tassl_ctx *ctx, float value);
tassl_tensor *tassl_empty_like(const tassl_tensor *t);
tassl_tensor *tassl_zeros_like(const tassl_tensor *t);
/* Copies n = prod(shape) floats from host memory. */
tassl_tensor *tassl_from_host(tassl_ctx *ctx, int ndim, const int64_t *shape, const float *data);
/* Uniform in [lo, hi) / normal(mean, std), from the context's stream. */
tassl_tensor *tassl_rand(tassl_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi);
tassl_tensor *tassl_randn(tassl_ctx *ctx, int ndim, const int64_t *shape, float mean, float std);

/* Copy a tensor (any strides) to host memory in row-major order: numel floats.
 * Blocks until the data is there. */
tassl_status tassl_tensor_read(const tassl_tensor *t, float *dst);
/* Overwrite a tensor's elements from host memory (row-major, numel floats). */
tassl_status tassl_tensor_write(tassl_tensor *t, const float *src);
/* Convenience for scalars and tests: element at a flat row-major index (blocks). */
float tassl_item(const tassl_tensor *t);

/* In-place, never recorded on the tape (initialisers, optimiser state). */
void tassl_fill_(tassl_tensor *t, float value);
void tassl_copy_(tassl_tensor *dst, const tassl_tensor *src);         /* shapes must match */
void tassl_rand_(tassl_tensor *t, float lo, float hi);
void tassl_randn_(tassl_tensor *t, float mean, float std);

/* ---- parameters ----------------------------------------------------------------------------- */

typedef struct tassl_params tassl_params;

/* Declare parameters, then finalize: one flat allocation for values, one for gradients. */
tassl_params *tassl_params_new(tassl_ctx *ctx);
void tassl_params_free(tassl_params *p);
/* Returns the parameter's tensor (valid until tassl_params_free; storage exists after finalize).
 * Names must be unique ("encoder.layer1.0.conv1.weight"). */
tassl_tensor *tassl_params_add(tassl_params *p, const char *name, int ndim, const int64_t *shape);
/* A non-trainable entry of the same flat buffer (batch-norm running statistics, EMA state):
 * saved in checkpoints like a parameter, but requires_grad is false, it has no gradient view and
 * optimisers skip it. */
tassl_tensor *tassl_params_add_buffer(tassl_params *p, const char *name, int ndim,
                                      const int64_t *shape);
tassl_status tassl_params_finalize(tassl_params *p);
/* true for entries made by tassl_params_add_buffer */
bool tassl_params_is_buffer(const tassl_params *p, int i);
int tassl_params_count(const tassl_params *p);
tassl_tensor *tassl_params_get(const tassl_params *p, int i);
tassl_tensor *tassl_params_find(const tassl_params *p, const char *name);
/* All values / all gradients as one 1-D tensor each (total elements). */
tassl_tensor *tassl_params_flat(const tassl_params *p);
tassl_tensor *tassl_params_flat_grad(const tassl_params *p);
void tassl_params_zero_grad(tassl_params *p);

#ifdef __cplusplus
}
#endif
#endif
