/* kern_optim.h — the optimiser kernel family: parameter updates (SGD, AdamW, LARS), EMA of
 * parameters, segmented sums of squares (per-parameter norms for LARS, the global gradient norm
 * for clipping) and the clipping scale. Reference: src/backend/ref/optim.c; OpenCL:
 * src/backend/opencl/optim.c + cl/optim.cl.
 *
 * Every update is ONE launch over a whole flat parameter buffer (tassl_params: one value buffer,
 * one gradient buffer, optimiser state in buffers of the same layout). Which elements are updated,
 * and how, comes from a small RUN TABLE: int32 rows {start, end, flags, index}, sorted by start and
 * not overlapping, covering [start, end) of the flat buffer; elements outside every run (alignment
 * padding, non-trainable buffers) are not touched. `n` (the end of the last run) is how many
 * elements a launch spans. `index` picks the run's entry of a per-parameter
 * array (LARS norms). On OpenCL each work-item finds its run by binary search in the table (a few
 * cached loads; measured as cheap as a plain elementwise kernel); the reference loops over runs.
 *
 * Tables are int32, not floats, stored in ordinary device buffers (tassl_ptr.off then counts int32
 * elements). Shapes below are in elements of the flat buffers.
 */
#ifndef TASSL_KERN_OPTIM_H
#define TASSL_KERN_OPTIM_H

#include "backend.h"

/* Run flags. */
enum {
    TASSL_RUN_UPDATE = 1, /* trainable: apply the update (EMA: average) */
    TASSL_RUN_DECAY = 2,  /* apply weight decay */
    TASSL_RUN_ADAPT = 4,  /* LARS: scale by the trust ratio */
    TASSL_RUN_COPY = 8,   /* EMA: target = online (buffers in copy mode) */
};

/* Hyper-parameters of one update step; host-computed scalars (bias corrections) included so
 * every backend rounds them identically. */
typedef struct tassl_optim_hp {
    float lr;
    float momentum, dampening; /* SGD, LARS */
    int nesterov;
    int first;                 /* SGD/LARS: first step, the momentum buffer becomes the gradient */
    float weight_decay;
    float beta1, beta2, eps;   /* AdamW */
    float one_m_beta1, one_m_beta2, one_m_dampening; /* 1 − x, rounded once from double */
    float decay_keep;          /* AdamW: 1 − lr·wd, rounded once from double */
    float step_size;           /* AdamW: lr / (1 − β1^t) */
    float bc2_sqrt;            /* AdamW: sqrt(1 − β2^t) */
    float trust_coef;          /* LARS η */
} tassl_optim_hp;

typedef struct tassl_kern_optim {
    /* Sums of squares over chunks: chunk c = int32 {start, len} at chunks[2c]; writes
     * part[2c] = Σ a[start + i]², part[2c + 1] = Σ b[start + i]² (0 when b.buf is NULL).
     * part (2·nchunks). One work-group per chunk on OpenCL. */
    tassl_status (*sumsq_chunks)(tassl_device *dev, tassl_ptr a, tassl_ptr b, tassl_ptr chunks,
                                 int64_t nchunks, tassl_ptr part);
    /* Segment totals in chunk order (deterministic): out[2s + k] = Σ_{c = cb[s]}^{cb[s+1]−1}
     * part[2c + k], k = 0, 1; cb int32 (nseg + 1), out (2·nseg). */
    tassl_status (*sumsq_gather)(tassl_device *dev, tassl_ptr part, tassl_ptr cb, int64_t nseg,
                                 tassl_ptr out);
    /* Clip by global norm without a host sync: with norm = sqrt(sumsq[0]),
     * g[i] *= min(1, max_norm / (norm + 1e-6)), i < n (PyTorch's clip_grad_norm_). */
    tassl_status (*clip_scale)(tassl_device *dev, tassl_ptr g, int64_t n, tassl_ptr sumsq,
                               float max_norm);
    /* SGD as torch.optim.SGD, per element of UPDATE runs (d = g + wd·p where DECAY):
     *   buf = first ? d : momentum·buf + (1 − dampening)·d      (only when momentum ≠ 0)
     *   d   = nesterov ? d + momentum·buf : buf
     *   p  -= lr·d
     * p, g, buf flat; buf unused when momentum is 0. */
    tassl_status (*sgd)(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr buf, tassl_ptr runs,
                        int64_t nruns, int64_t n, const tassl_optim_hp *hp);
    /* AdamW as torch.optim.AdamW (decoupled decay, bias correction, eps outside the sqrt):
     *   p *= 1 − lr·wd (DECAY);  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
     *   p -= step_size · m / (sqrt(v) / bc2_sqrt + eps) */
    tassl_status (*adamw)(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr m, tassl_ptr v,
                          tassl_ptr runs, int64_t nruns, int64_t n, const tassl_optim_hp *hp);
    /* LARS (You et al. 2017, in the PyTorch form of the SimCLR/BYOL ports): with the run's
     * norms[2·index] = ‖w‖², norms[2·index + 1] = ‖g‖² (from sumsq_*):
     *   d = g + wd·p (DECAY);  d *= η‖w‖/(‖g‖ + wd‖w‖) if ADAPT and ‖w‖ > 0 and ‖g‖ > 0
     *   then SGD momentum on d as in sgd (first step buf = d), p -= lr·(buf or nesterov form). */
    tassl_status (*lars)(tassl_device *dev, tassl_ptr p, tassl_ptr g, tassl_ptr buf,
                         tassl_ptr norms, tassl_ptr runs, int64_t nruns, int64_t n,
                         const tassl_optim_hp *hp);
    /* EMA between two flat buffers of one layout: t = τ·t + (1 − τ)·o on UPDATE runs, t = o on
     * COPY runs. */
    tassl_status (*ema)(tassl_device *dev, tassl_ptr t, tassl_ptr o, tassl_ptr runs, int64_t nruns,
                        int64_t n, float tau);
} tassl_kern_optim;

extern const tassl_kern_optim tassl_ref_kern_optim;
extern const tassl_kern_optim tassl_cl_kern_optim;

#endif
