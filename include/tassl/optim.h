/* optim.h — optimisers, learning-rate schedules, gradient clipping and accumulation, and the EMA
 * of parameters (BYOL / MoCo targets).
 *
 * Everything works on a finalized tassl_params set: one flat value buffer, one flat gradient
 * buffer, per-entry views. An optimiser step is ONE kernel launch over the flat buffer (two more
 * for LARS's per-parameter norms); which entries are updated and which get weight decay comes
 * from a small per-entry table built once. Entries made with tassl_params_add_buffer (running
 * statistics) are never updated, never decayed and never clipped.
 *
 * Optimiser state (momentum, Adam moments) lives in flat device buffers with the parameters'
 * layout. For checkpoints each state buffer has a suffix and per-entry views; the checkpoint
 * names are "<prefix><param name>.<suffix>" (see checkpoint.h):
 *   sgd    momentum_buffer            (only when momentum ≠ 0)
 *   adamw  exp_avg, exp_avg_sq        (PyTorch's state names)
 *   lars   momentum_buffer            (only when momentum ≠ 0)
 * plus the step count (tassl_optim_steps), which AdamW's bias correction and the first SGD step
 * depend on.
 */
#ifndef TASSL_OPTIM_H
#define TASSL_OPTIM_H

#include <stdbool.h>
#include <stdint.h>
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- optimisers ----------------------------------------------------------------------------- */

typedef enum tassl_optim_kind {
    TASSL_OPTIM_SGD = 0, /* torch.optim.SGD: momentum, dampening, Nesterov, L2 weight decay */
    TASSL_OPTIM_ADAMW,   /* torch.optim.AdamW: decoupled weight decay, bias correction */
    TASSL_OPTIM_LARS,    /* LARS (You et al. 2017) as in the SimCLR/BYOL PyTorch ports */
} tassl_optim_kind;

typedef struct tassl_optim_config {
    /* Doubles, as PyTorch's hyper-parameters are Python floats: 1 − β2 and the bias corrections
     * are formed in double and rounded once (β2 = 0.999 as a float would shift 1 − β2 by 1e-5). */
    tassl_optim_kind kind;
    double momentum;    /* SGD, LARS (0: plain SGD, no state) */
    double dampening;   /* SGD, LARS: buf = m·buf + (1 − dampening)·d after the first step */
    bool nesterov;      /* SGD, LARS: needs momentum > 0 and dampening 0 (as PyTorch) */
    double weight_decay; /* SGD, LARS: L2 added to the gradient; AdamW: decoupled p *= 1 − lr·wd */
    double beta1, beta2; /* AdamW */
    double eps;         /* AdamW: added outside the square root */
    double trust_coef;  /* LARS η: trust ratio η·‖w‖/(‖g‖ + wd·‖w‖) */
    /* Weight-decay exclusion (and, for LARS, exclusion from the trust ratio: norm and bias
     * parameters are neither decayed nor adapted, as SimCLR/BYOL do):
     *   no_decay       comma-separated name patterns; a pattern with * ? [ is an fnmatch glob
     *                  against the whole dotted name, otherwise a substring ("bias", "bn",
     *                  "norm"); NULL or "" for none. Copied at tassl_optim_new.
     *   no_decay_1d    also exclude every entry with ndim <= 1 (biases, norm scales). */
    const char *no_decay;
    bool no_decay_1d;
} tassl_optim_config;

/* PyTorch's defaults for a kind: SGD momentum 0, wd 0; AdamW β (0.9, 0.999), eps 1e-8, wd 1e-2;
 * LARS momentum 0.9, η 1e-3, wd 1e-6, no_decay_1d true. The learning rate is not part of the
 * configuration: every step takes it (see tassl_schedule_lr). */
tassl_optim_config tassl_optim_defaults(tassl_optim_kind kind);

/* "sgd", "adamw", "lars"; and back (TASSL_ERR_ARG naming the valid names). */
const char *tassl_optim_kind_name(tassl_optim_kind kind);
tassl_status tassl_optim_kind_parse(const char *name, tassl_optim_kind *out);

typedef struct tassl_optim tassl_optim;

/* An optimiser over a finalized parameter set (kept by pointer; must outlive the optimiser).
 * Checks the hyper-parameters (TASSL_ERR_ARG naming the bad one), allocates zeroed state buffers
 * of the parameters' layout and uploads the entry table. */
tassl_status tassl_optim_new(tassl_params *params, const tassl_optim_config *cfg,
                             tassl_optim **out);
void tassl_optim_free(tassl_optim *o);

/* One update from the parameters' flat gradient with learning rate lr, then the step count
 * increases by one. lr is a double like PyTorch's (1 − lr·wd and lr / (1 − β1^t) are formed in
 * double, then rounded). Queued on the device (no host sync); device errors go to the context too. */
tassl_status tassl_optim_step(tassl_optim *o, double lr);

const tassl_optim_config *tassl_optim_config_of(const tassl_optim *o);
tassl_params *tassl_optim_params(const tassl_optim *o);
/* Steps taken so far; set by checkpoint loading (resume) — the next step is number steps + 1. */
int64_t tassl_optim_steps(const tassl_optim *o);
void tassl_optim_set_steps(tassl_optim *o, int64_t steps);
/* Whether parameter entry i gets weight decay (false for buffers, excluded names and frozen
 * entries). */
bool tassl_optim_decays(const tassl_optim *o, int i);

/* Per-parameter learning rates (PyTorch's parameter groups, reduced to a multiplier): the
 * entries whose names match `patterns` (the no_decay syntax: comma-separated fnmatch globs or
 * substrings, e.g. "encoder.*") are updated with lr × mult from now on (default 1 for every
 * entry; AdamW's decoupled decay uses the scaled lr too). mult 0 freezes them: no update, no
 * decay, their optimiser state untouched. Call before the first step (typically right after
 * tassl_optim_new); each distinct multiplier is one more kernel launch per step (at most 8).
 * TASSL_ERR_ARG for a negative or non-finite mult or too many distinct multipliers (nothing
 * changed); any other failure (device memory) leaves the optimiser unusable: free it. */
tassl_status tassl_optim_set_lr_mult(tassl_optim *o, const char *patterns, double mult);
/* The multiplier of entry i (1 unless set; buffers report theirs but are never updated). */
double tassl_optim_lr_mult(const tassl_optim *o, int i);

/* State buffers: count, suffix k ("exp_avg"), the whole flat buffer (1-D, params' total length)
 * and the view of entry i (NULL for non-trainable entries, which have no state). */
int tassl_optim_nstate(const tassl_optim *o);
const char *tassl_optim_state_suffix(const tassl_optim *o, int k);
tassl_tensor *tassl_optim_state_flat(const tassl_optim *o, int k);
tassl_tensor *tassl_optim_state_view(const tassl_optim *o, int k, int i);

/* ---- gradients ------------------------------------------------------------------------------ */

/* Clip by global norm as torch.nn.utils.clip_grad_norm_ (L2 over every trainable entry's
 * gradient; one segmented reduction over the flat gradient, then one scaling kernel, no host
 * sync; this form uploads a small chunk table on every call, which syncs the queue): g *= min(1, max_norm / (‖g‖ + 1e-6)). If norm_out is not NULL the pre-clipping norm is
 * read back (blocks) and TASSL_ERR_NUMERIC is returned when it is not finite. */
tassl_status tassl_clip_grad_norm(tassl_params *p, float max_norm, float *norm_out);
/* The same with the reduction plan cached in the optimiser (no table upload per call): use this
 * one in training loops. */
tassl_status tassl_optim_clip_grad_norm(tassl_optim *o, float max_norm, float *norm_out);
/* Global L2 norm of the trainable gradients (blocks). */
tassl_status tassl_grad_norm(tassl_params *p, float *norm_out);
/* g *= s over the whole flat gradient (e.g. 1/k after k accumulated micro-batches). */
void tassl_grad_scale(tassl_params *p, float s);

/* Gradient accumulation bookkeeping. The flat gradient buffer accumulates across backward passes
 * by itself; this counts micro-batches. Typical loop:
 *     tassl_accum acc; tassl_accum_init(&acc, 4);
 *     for each micro-batch: loss = scale(loss, tassl_accum_loss_scale(&acc)); backward;
 *         if (tassl_accum_next(&acc)) { clip; tassl_optim_step; tassl_params_zero_grad; }
 *     at the end of an epoch with tassl_accum_pending(&acc) > 0: either drop the partial group
 *     (zero_grad, tassl_accum_reset) or step on it after tassl_grad_scale(p,
 *     tassl_accum_partial_scale(&acc)) so its mean uses the right count. */
typedef struct tassl_accum {
    int every;   /* micro-batches per optimiser step (>= 1) */
    int pending; /* backward passes accumulated since the last step */
} tassl_accum;
void tassl_accum_init(tassl_accum *a, int every);
float tassl_accum_loss_scale(const tassl_accum *a);     /* 1 / every */
bool tassl_accum_next(tassl_accum *a);                  /* count one; true (and reset) at every */
int tassl_accum_pending(const tassl_accum *a);
float tassl_accum_partial_scale(const tassl_accum *a);  /* every / pending (1 if none pending) */
void tassl_accum_reset(tassl_accum *a);

/* ---- learning-rate schedules ---------------------------------------------------------------- */

typedef enum tassl_sched_kind {
    TASSL_SCHED_CONSTANT = 0,
    TASSL_SCHED_COSINE,  /* min + (base − min)·(1 + cos(π·t))/2 */
    TASSL_SCHED_STEP,    /* base·γ^k: k = milestones passed, or ⌊(step − warmup)/step_size⌋ */
    TASSL_SCHED_POLY,    /* min + (base − min)·(1 − t)^power */
} tassl_sched_kind;

#define TASSL_SCHED_MAX_MILESTONES 8

/* A schedule is a pure function step → lr (steps count from 0). Linear warmup first: for
 * step < warmup_steps, lr = warmup_start + (base − warmup_start)·step/warmup_steps. Afterwards
 * t = (step − warmup_steps)/(total_steps − warmup_steps), clamped to [0, 1]. */
typedef struct tassl_schedule {
    tassl_sched_kind kind;
    double base_lr;
    int64_t warmup_steps;
    double warmup_start;   /* lr at step 0 of the warmup (default 0) */
    int64_t total_steps;   /* cosine/poly horizon, warmup included */
    double min_lr;         /* cosine/poly floor */
    double gamma;          /* step decay factor */
    int64_t step_size;     /* step: decay every step_size steps after warmup (if no milestones) */
    int nmilestones;       /* step: absolute steps at which lr *= γ (ascending) */
    int64_t milestones[TASSL_SCHED_MAX_MILESTONES];
    double power;          /* poly */
} tassl_schedule;

/* Ranges: base_lr > 0, warmup_steps >= 0, total_steps > warmup_steps for cosine/poly,
 * 0 <= min_lr <= base_lr, γ in (0, 1], step_size >= 1 (or milestones ascending), power > 0.
 * TASSL_ERR_ARG naming the field and the allowed range. */
tassl_status tassl_schedule_check(const tassl_schedule *s);
double tassl_schedule_lr(const tassl_schedule *s, int64_t step);
const char *tassl_sched_kind_name(tassl_sched_kind kind); /* "constant", "cosine", ... */
tassl_status tassl_sched_kind_parse(const char *name, tassl_sched_kind *out);

/* ---- EMA of parameters ---------------------------------------------------------------------- */

/* BYOL's target momentum at step k of K: τ = 1 − (1 − τ_base)·(cos(π·k/K) + 1)/2 (τ_base at
 * k = 0, 1 at k = K; k is clamped to [0, K]). MoCo uses a constant m (0.999): no function. */
double tassl_ema_byol_tau(double tau_base, int64_t k, int64_t total);

/* What happens to non-trainable entries (running statistics) in an EMA update. */
typedef enum tassl_ema_buffers {
    TASSL_EMA_BUFFERS_COPY = 0, /* target = online (default: the target sees the online statistics) */
    TASSL_EMA_BUFFERS_EMA,      /* averaged like parameters (timm's ModelEmaV2) */
    TASSL_EMA_BUFFERS_SKIP,     /* left alone: the target keeps its own statistics (MoCo, lightly) */
} tassl_ema_buffers;

typedef struct tassl_ema tassl_ema;

/* An EMA between two finalized parameter sets of identical layout (same names, shapes, order,
 * buffer flags; TASSL_ERR_ARG naming the first difference otherwise). Both are kept by pointer. */
tassl_status tassl_ema_new(tassl_params *target, const tassl_params *online,
                           tassl_ema_buffers buffers, tassl_ema **out);
void tassl_ema_free(tassl_ema *e);
/* target ← τ·target + (1 − τ)·online on trainable entries, buffers per the mode: one kernel. */
tassl_status tassl_ema_update(tassl_ema *e, float tau);
/* target ← online for every entry (initialisation of a BYOL / MoCo target). */
tassl_status tassl_ema_copy(tassl_ema *e);

#ifdef __cplusplus
}
#endif
#endif
