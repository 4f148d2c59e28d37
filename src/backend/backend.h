/* backend.h — the device-abstraction layer, seen from inside the library.
 *
 * A backend is a small struct of function pointers (memory, transfers, sync) plus one table of
 * kernels per op family. Two backends exist: "ref" (plain C, never touches OpenCL: the test oracle
 * and last-resort fallback) and "opencl" (hand-written kernels in cl/ and clBLAST). The op layer
 * (src/ops) calls only these tables, so every op is written once. Kernels take raw device
 * pointers {buffer, element offset}: contiguous row-major data unless a tassl_kview (strided view)
 * is passed. Kernels never allocate tensors; scratch comes from the caller.
 *
 * Family tables (a family = one src/backend/<be>/<family>.c pair and one cl/<family>.cl file):
 *   core  fill, random, strided copy, unary, broadcast binary, row reductions   (kern_core.h)
 *   conv  im2col/col2im-style helpers for (transposed) convolution             (kern_conv.h)
 *   pool  pooling and up-sampling                                               (kern_pool.h)
 *   norm  batch/group/instance/layer normalisation                             (kern_norm.h)
 *   loss  softmax, log-softmax and losses                                      (kern_loss.h)
 *   optim optimiser updates, EMA, segmented norms (flat buffers + run table)   (kern_optim.h)
 * GEMM has its own entry point (gemm.h) with a per-device implementation choice.
 */
#ifndef TASSL_BACKEND_H
#define TASSL_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "tassl/device.h"
#include "tassl/tensor.h"

/* A device pointer: buffer + offset in floats. buf NULL never reaches a kernel. */
typedef struct tassl_ptr {
    tassl_buf *buf;
    int64_t off;
} tassl_ptr;

/* A strided view for kernels that accept arbitrary strides (copy, binary). */
typedef struct tassl_kview {
    tassl_buf *buf;
    int64_t off;
    int ndim;
    int64_t shape[TASSL_MAX_DIMS];
    int64_t stride[TASSL_MAX_DIMS];
} tassl_kview;

struct tassl_kern_core;
struct tassl_kern_conv;
struct tassl_kern_pool;
struct tassl_kern_norm;
struct tassl_kern_loss;
struct tassl_kern_optim;

typedef struct tassl_backend {
    const char *name;
    tassl_status (*buf_alloc)(tassl_device *dev, size_t bytes, tassl_buf **out);
    void (*buf_free)(tassl_device *dev, tassl_buf *buf);
    /* Blocking host→device / device→host copies; offsets and sizes in bytes. */
    tassl_status (*write)(tassl_device *dev, tassl_buf *buf, size_t off, size_t bytes,
                          const void *src);
    tassl_status (*read)(tassl_device *dev, tassl_buf *buf, size_t off, size_t bytes, void *dst);
    tassl_status (*sync)(tassl_device *dev);
    void (*close)(tassl_device *dev); /* release impl */
    const struct tassl_kern_core *core;
    const struct tassl_kern_conv *conv;
    const struct tassl_kern_pool *pool;
    const struct tassl_kern_norm *norm;
    const struct tassl_kern_loss *loss;
    const struct tassl_kern_optim *optim;
} tassl_backend;

/* Size-keyed buffer pool (src/device/pool.c). */
typedef struct tassl_pool_entry {
    tassl_buf *buf;
    size_t bytes;
} tassl_pool_entry;

typedef struct tassl_pool {
    tassl_pool_entry *free_list; /* cached buffers, most recently returned last */
    int nfree, capfree;
    uint64_t bytes_in_use, bytes_cached, peak_in_use, cache_limit;
    int64_t live;
} tassl_pool;

struct tassl_gemm_impl;

struct tassl_device {
    tassl_device_info info;
    const tassl_backend *be;
    void *impl;                          /* backend state (OpenCL context, queue, programs) */
    tassl_pool pool;
    const struct tassl_gemm_impl *gemm;  /* chosen per device at open (gemm.c) */
    const void *gemm_params;             /* row of the per-device parameter table, or NULL */
    int debug;                           /* NaN poison + guard regions on pooled buffers */
};

/* Guard region (floats) on each side of a pooled buffer in debug mode. */
#define TASSL_GUARD_FLOATS 64
#define TASSL_GUARD_BITS 0xFFBADBADu  /* a NaN with a payload no kernel produces */

/* Pool: get a buffer with at least `bytes` usable bytes; *base_off is where usable data starts
 * (floats; nonzero only in debug mode, when guards surround it); *alloc_bytes is what to hand
 * back to put, with guarded = the usable byte count if *base_off != 0, else 0. put returns
 * TASSL_ERR_CHECK if anything outside the usable bytes was overwritten. */
tassl_status tassl_pool_get(tassl_device *dev, size_t bytes, tassl_buf **out, int64_t *base_off,
                            size_t *alloc_bytes);
tassl_status tassl_pool_put(tassl_device *dev, tassl_buf *buf, size_t alloc_bytes,
                            size_t guarded);
void tassl_pool_release_all(tassl_device *dev);

/* Backend constructors (fill dev->be, dev->impl, dev->info). */
tassl_status tassl_ref_open(tassl_device *dev);
tassl_status tassl_cl_open(tassl_device *dev, int platform, int device);
/* Enumerate OpenCL devices (appends to a malloc'd array). */
tassl_status tassl_cl_enumerate(tassl_device_info **list, int *count);

extern const tassl_backend tassl_ref_backend;
extern const tassl_backend tassl_cl_backend;

#endif
