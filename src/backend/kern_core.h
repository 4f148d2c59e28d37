/* kern_core.h — the core kernel family: fills, random numbers, strided copies, elementwise
 * unary/binary maps and row reductions. Reference: src/backend/ref/core.c; OpenCL:
 * src/backend/opencl/core.c + cl/core.cl. */
#ifndef TASSL_KERN_CORE_H
#define TASSL_KERN_CORE_H

#include "backend.h"

/* Unary maps y = f(x; a, b) and their derivative rule, dx += dy · f'(x) (uses x and/or y). */
typedef enum tassl_unary_op {
    TASSL_UNARY_RELU,
    TASSL_UNARY_LEAKY_RELU, /* a = slope */
    TASSL_UNARY_GELU,       /* exact erf form */
    TASSL_UNARY_SIGMOID,
    TASSL_UNARY_TANH,
    TASSL_UNARY_EXP,
    TASSL_UNARY_LOG,
    TASSL_UNARY_SQRT,
    TASSL_UNARY_ABS,
    TASSL_UNARY_POW,        /* x^a */
    TASSL_UNARY_CLAMP,      /* clamp to [a, b]; gradient passes where a <= x <= b */
    TASSL_UNARY_AFFINE,     /* a·x + b */
    TASSL_UNARY_COUNT
} tassl_unary_op;

typedef enum tassl_binary_op {
    TASSL_BINARY_ADD,
    TASSL_BINARY_SUB,
    TASSL_BINARY_MUL,
    TASSL_BINARY_DIV,
    TASSL_BINARY_MAX,
    TASSL_BINARY_MIN,
    TASSL_BINARY_COUNT
} tassl_binary_op;

typedef enum tassl_rng_dist {
    TASSL_RNG_UNIFORM,   /* a + (b − a)·u, u in [0, 1) */
    TASSL_RNG_NORMAL,    /* a + b·n */
    TASSL_RNG_BERNOULLI, /* 1 with probability a, else 0 (b unused) */
} tassl_rng_dist;

typedef struct tassl_kern_core {
    /* y[i] = v, i < n */
    tassl_status (*fill)(tassl_device *dev, tassl_ptr y, int64_t n, float v);
    /* y[i] = dist(philox(seed, counter + i)), i < n */
    tassl_status (*rng)(tassl_device *dev, tassl_ptr y, int64_t n, tassl_rng_dist dist,
                        uint64_t seed, uint64_t counter, float a, float b);
    /* dst = src (or dst += src when accumulate) elementwise over equal shapes, any strides
     * (src strides may be 0 for broadcast; dst must not overlap itself). */
    tassl_status (*copy)(tassl_device *dev, const tassl_kview *src, const tassl_kview *dst,
                         int accumulate);
    /* y[i] = f(x[i]), i < n (y may equal x) */
    tassl_status (*unary)(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                          int64_t n, float a, float b);
    /* dx[i] += dy[i] · f'(x[i]) — y is f(x) (some rules use it) */
    tassl_status (*unary_bwd)(tassl_device *dev, tassl_unary_op op, tassl_ptr x, tassl_ptr y,
                              tassl_ptr dy, tassl_ptr dx, int64_t n, float a, float b);
    /* c = a ∘ b with a, b views of c's shape (stride 0 = broadcast); c contiguous. */
    tassl_status (*binary)(tassl_device *dev, tassl_binary_op op, const tassl_kview *a,
                           const tassl_kview *b, tassl_ptr c);
    /* Rows of a contiguous (rows, cols) matrix: y[r] = scale · Σ_c x[r, c] (sum) or
     * y[r] = max_c x[r, c] with idx[r] = first argmax as a float (max; idx may be NULL buf). */
    tassl_status (*row_sum)(tassl_device *dev, tassl_ptr x, tassl_ptr y, int64_t rows,
                            int64_t cols, float scale);
    tassl_status (*row_max)(tassl_device *dev, tassl_ptr x, tassl_ptr y, tassl_ptr idx,
                            int64_t rows, int64_t cols);
    /* dx[r, idx[r]] += dy[r] for each row of a contiguous (rows, cols) dx. */
    tassl_status (*row_scatter)(tassl_device *dev, tassl_ptr dy, tassl_ptr idx, tassl_ptr dx,
                                int64_t rows, int64_t cols);
    /* Binary backward with the chain rule folded in, over c's shape (views as in binary):
     * ga_full = dy · ∂c/∂a, gb_full = dy · ∂c/∂b, both contiguous of c's shape; either output
     * may have a NULL buf (not needed). The op layer sums them back to a's and b's shapes. */
    tassl_status (*binary_bwd)(tassl_device *dev, tassl_binary_op op, const tassl_kview *a,
                               const tassl_kview *b, tassl_ptr dy, tassl_ptr ga, tassl_ptr gb);
} tassl_kern_core;

extern const tassl_kern_core tassl_ref_kern_core;
extern const tassl_kern_core tassl_cl_kern_core;

#endif
