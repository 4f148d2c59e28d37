/* ssl_target.h — the EMA target network that BYOL (its "target") and MoCo (its "key encoder")
 * share: a clone of the shared encoder plus a clone of the member's projector, in their own
 * parameter set, kept as an exponential moving average of the online encoder and projector.
 *
 * Why not tassl_ema directly: tassl_ema needs two parameter sets of identical layout, and the
 * online encoder and projector are only part of the trainable set (which also holds the
 * predictor, other hybrid members' heads, a U-Net decoder...). The target therefore maps each of
 * its entries to the online entry of the same name (its "projector.*" to the member's
 * "<prefix>projector.*"), merges neighbours into runs of contiguous storage on both sides, and
 * updates run by run with tensor ops in a no-grad scope:
 *     target ← τ·target + (1 − τ)·online          (trainable entries; MoCo eq. 2, BYOL eq. 1)
 * Running statistics (batch norm buffers) are left alone: the target keeps its own, updated by
 * its own training-mode forward passes, as MoCo's and lightly's momentum updates (which walk
 * parameters() only) do. init copies everything, buffers included.
 * Not installed; tests include it to inspect a member's target (ssl_member_target).
 */
#ifndef TASSL_SSL_TARGET_H
#define TASSL_SSL_TARGET_H

#include "ssl_internal.h"
#include "tassl/checkpoint.h"

typedef struct ssl_run {
    int64_t t_off, o_off, len; /* target flat offset, online flat offset, floats */
} ssl_run;

typedef struct ssl_target {
    tassl_ctx *ctx;
    tassl_params *params;       /* encoder.* (+ decoder.* of a U-Net arch), projector.* */
    tassl_encoder *enc;         /* clone of env->encoder */
    tassl_mlp *proj;            /* same configuration as the online projector */
    const tassl_params *online; /* env->params */
    char proj_prefix[96];       /* the online projector's name prefix: "<prefix>projector." */
    ssl_run *upd, *copy;        /* trainable runs (EMA) / every entry (init copy) */
    int64_t nupd, ncopy;
} ssl_target;

/* In create(): declare and finalize the target set (encoder clone + a projector built from
 * proj_cfg under "projector"); `prefix` is the member's ("" or "byol."), whose
 * "<prefix>projector.*" in env->params is the online projector. */
tassl_status ssl_target_new(const tassl_ssl_env *env, const char *prefix,
                            const tassl_mlp_cfg *proj_cfg, ssl_target **out);
void ssl_target_free(ssl_target *t);
/* In init() (online set finalized and initialised): map the entries (TASSL_ERR_ARG naming the
 * first target entry without an online twin of the same shape) and copy online → target. */
tassl_status ssl_target_init(ssl_target *t);
/* target ← tau·target + (1 − tau)·online on trainable entries, tau in [0, 1]; no gradient is
 * recorded (own scope, no-grad region). */
tassl_status ssl_target_update(ssl_target *t, float tau);
/* x (N, C, S...) → projector(encoder(x)) (N, P) of the target, training-mode batch norm, no
 * gradient recorded (the result is a constant for the tape), in the current scope. */
tassl_tensor *ssl_target_forward(ssl_target *t, tassl_tensor *x);
/* Bind the target set as "<prefix>target.*". */
tassl_status ssl_target_bind(ssl_target *t, const char *prefix, tassl_ckpt *ck);

/* The EMA target of member m (BYOL's target, MoCo's key network), or NULL for a method without
 * one. For tests and tools. */
ssl_target *ssl_member_target(const tassl_ssl *s, int m);
/* MoCo's queue (K, D) and (ptr_tensor, may be NULL) its write position "queue_ptr" (1); NULL
 * when member m is not MoCo. */
tassl_tensor *ssl_moco_queue(const tassl_ssl *s, int m, tassl_tensor **ptr_tensor);

/* accessors implemented by the methods (state → target) */
ssl_target *ssl_byol_target(void *state);
ssl_target *ssl_moco_target(void *state);
tassl_tensor *ssl_moco_queue_of(void *state, tassl_tensor **ptr_tensor);

#endif
