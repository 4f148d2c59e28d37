/* internal.h — shared by the optimiser layer (src/optim): device-side int32 tables (run tables,
 * chunk tables) and the segmented sum-of-squares plan behind LARS norms and gradient clipping.
 * See src/backend/kern_optim.h for what the kernels do with them. */
#ifndef TASSL_OPTIM_INTERNAL_H
#define TASSL_OPTIM_INTERNAL_H

#include "tassl/optim.h"
#include "../core/ctx.h"
#include "../backend/kern_optim.h"

/* Elements per chunk of a sum-of-squares reduction (one OpenCL work-group each). */
#define TASSL_SUMSQ_CHUNK 16384

/* An int32 table copied to a new device buffer (blocking write; done once per object). */
tassl_status tassl_optim_upload_i32(tassl_device *dev, const int32_t *v, int64_t n, tassl_buf **out);

/* Allocate n floats on the device, zero-filled. */
tassl_status tassl_optim_alloc_zero(tassl_device *dev, int64_t n, tassl_buf **out);

/* Sums of squares of a (and b) over groups of ranges of a flat buffer: out[2g], out[2g + 1]. */
typedef struct tassl_sumsq_plan {
    tassl_device *dev;
    tassl_buf *chunks, *cb, *part, *out;
    int64_t nchunks, ngroups;
} tassl_sumsq_plan;

/* Ranges {start, len} with their group (groups numbered 0..ngroups−1, ranges in ascending group
 * order); every range is split into chunks of at most TASSL_SUMSQ_CHUNK elements. */
tassl_status tassl_sumsq_plan_init(tassl_sumsq_plan *pl, tassl_device *dev, int nranges,
                                   const int64_t *start, const int64_t *len, const int *group,
                                   int ngroups);
void tassl_sumsq_plan_free(tassl_sumsq_plan *pl);
/* Queue the two reduction kernels; results in pl->out (2·ngroups floats). */
tassl_status tassl_sumsq_plan_run(tassl_sumsq_plan *pl, tassl_ptr a, tassl_ptr b);

/* A plan over every trainable entry of p, as one group (the global gradient norm). */
tassl_status tassl_grad_plan_init(tassl_sumsq_plan *pl, const tassl_params *p);
/* Clip using a prepared global plan (see tassl_clip_grad_norm). */
tassl_status tassl_clip_with_plan(tassl_params *p, tassl_sumsq_plan *pl, float max_norm,
                                  float *norm_out);

/* Pointer to the start of a tensor's storage. */
static inline tassl_ptr tassl_optim_ptr(const tassl_tensor *t) {
    tassl_ptr q = {t->buf, t->off};
    return q;
}
static inline tassl_ptr tassl_optim_bufptr(tassl_buf *b) {
    tassl_ptr q = {b, 0};
    return q;
}

#endif
