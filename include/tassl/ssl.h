/* ssl.h — self-supervised pretraining: the method interface, the shared encoder, the data side,
 * the collapse monitor and the `tassl pretrain` driver.
 *
 * A METHOD is a small table of functions (tassl_ssl_method) plus the state it allocates. The
 * framework (src/ssl/) owns everything methods have in common:
 *   - one ENCODER (tassl_encoder: ResNet 2D/3D, ViT or the encoder half of a U-Net) declared as
 *     `encoder.*` in the trainable parameter set, shared by every member of a hybrid;
 *   - the DATA SIDE: per sample a `clean` image (normalised by the modality preset, nothing else)
 *     and up to TASSL_SSL_MAX_VIEWS augmented views, plus any per-sample arrays a method makes
 *     itself (`custom` inputs: a Models Genesis pair, a rotated image and its class...), prepared
 *     on the host with the augment API, deterministic per (seed, sample index, epoch), batched
 *     into device tensors;
 *   - the loop: optimiser and schedule, metrics.jsonl, progress, checkpoints, resume, signals,
 *     non-finite losses, the collapse monitor, preview PNGs.
 * A method only declares its heads, says which inputs it needs, computes a loss from a batch and,
 * if it has any, updates and exposes its extra state (EMA target, queue).
 *
 * Life cycle of one member (the framework calls, in this order):
 *     create(env, prefix, &inputs, &state)    declare heads into env->params (not yet finalized),
 *                                             fill `inputs`; may make other parameter sets
 *     init(state)                             after tassl_params_finalize: initialise the heads
 *                                             (seeded: tassl_module_init), copy EMA targets
 *     bind_state(state, ckpt)                 bind extra state (target params, queue) to the
 *                                             checkpoint under the member's prefix
 *     per sample (worker threads): prepare(state, sample, outs)   custom inputs only
 *     per step: loss(state, batch, &out)      scalar loss on the tape + named components
 *               backward, clip, optimiser step (the framework)
 *               after_step(state, step)       EMA update, queue enqueue (no grad)
 *     destroy(state)
 *
 * HYBRID = a weighted set of members sharing the encoder (method.name: hybrid, see
 * method.hybrid.*): member m gets prefix "<name>." for its heads, components and custom inputs,
 * its loss is multiplied by its weight and the total is their sum; the data side produces the
 * union of the members' inputs (the largest view count; clean if any member wants it; every
 * member's custom inputs). A single method runs with prefix "" (heads "projector.*").
 *
 * Names in the parameter set and checkpoints: encoder.* (torchvision / timm names under the
 * prefix), then heads under the member's prefix: projector.*, predictor.*, decoder.*, ...;
 * extra state under names the method chooses, prefixed likewise ("target.encoder.*", "queue").
 *
 * Randomness on the data side comes only from (data seed, sample index, epoch) through the augment
 * API's streams, never from the device context, so batches do not depend on threads or on which
 * other members run. A method's device-side randomness (masks drawn on the device, dropout) uses
 * the context stream, which checkpoints save and restore.
 *
 * See docs/SSL.md for how to add a method and the table of methods.
 */
#ifndef TASSL_SSL_H
#define TASSL_SSL_H

#include <stdbool.h>
#include <stdint.h>
#include "checkpoint.h"
#include "config.h"
#include "image.h"
#include "nn.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TASSL_SSL_MAX_VIEWS 4
#define TASSL_SSL_MAX_CUSTOM 8     /* custom inputs per member */
#define TASSL_SSL_MAX_COMPONENTS 8 /* named loss components per member */
#define TASSL_SSL_MAX_MEMBERS 8    /* members of a hybrid */

/* ---- the shared encoder --------------------------------------------------------------------- */

typedef enum tassl_encoder_arch {
    TASSL_ENCODER_RESNET = 0, /* model.arch resnet: ResNet-10/18/34, 2D/3D */
    TASSL_ENCODER_VIT,        /* model.arch vit: ViT 2D/3D (model.vit.*) */
    TASSL_ENCODER_UNET,       /* model.arch unet: the plain U-Net's encoder (model.unet.*); its
                                 decoder is declared too, as decoder.* */
} tassl_encoder_arch;

typedef struct tassl_encoder tassl_encoder;

/* Build the encoder the configuration describes (model.*) into p under "encoder" (the U-Net:
 * "encoder.*" and "decoder.*"), for samples of spatial size `size` ((D, H, W), D = 1 for 2D:
 * the ViT needs it, the others check divisibility). Declares entries only: finalize p, then
 * tassl_encoder_init. TASSL_ERR_ARG naming the key for a bad combination. */
tassl_status tassl_encoder_new(tassl_params *p, const tassl_config *cfg, const int64_t size[3],
                               tassl_encoder **out);
void tassl_encoder_free(tassl_encoder *e);
/* Run the seeded initialisers of every entry the encoder declared. */
tassl_status tassl_encoder_init(tassl_encoder *e);
tassl_encoder_arch tassl_encoder_arch_of(const tassl_encoder *e);
int tassl_encoder_dims(const tassl_encoder *e);
/* Width D of the pooled embedding. */
int64_t tassl_encoder_embed_dim(const tassl_encoder *e);
/* The module holding encoder.* (for the U-Net: its encoder half). */
tassl_module *tassl_encoder_module(const tassl_encoder *e);
/* Feature pyramid description (n = 0 for the ViT, which has none). */
tassl_feature_info tassl_encoder_features(const tassl_encoder *e);
/* x (N, C, S...) → pooled embedding (N, D): ResNet global average pool of layer4, U-Net pooled
 * bottleneck, ViT cls token (or the mean of the patch tokens without one). feats (NULL if
 * unwanted; not filled for the ViT) receives the multi-scale maps. */
tassl_tensor *tassl_encoder_forward(tassl_encoder *e, tassl_tensor *x, bool training,
                                    tassl_features *feats);
/* The underlying networks (NULL when the arch differs): masked forward of the ViT (MAE), etc. */
tassl_resnet *tassl_encoder_resnet(const tassl_encoder *e);
tassl_vit *tassl_encoder_vit(const tassl_encoder *e);
tassl_unet *tassl_encoder_unet(const tassl_encoder *e);

/* A dense decoder for generative methods: input image → (N, out_channels, S...) at the input's
 * size. ResNet: a U-Net decoder over the encoder's feature pyramid, declared under
 * prefix + "decoder" (blocks.*, head.*), its norm from model.norm. U-Net arch: the U-Net's own
 * decoder (decoder.*; out_channels must equal model.in_channels and only one member may claim
 * it). ViT: TASSL_ERR_UNSUPPORTED (use tassl_encoder_vit and a token decoder, as MAE does). */
typedef struct tassl_ssl_decoder tassl_ssl_decoder;
tassl_status tassl_ssl_decoder_new(tassl_encoder *e, tassl_params *p, const char *prefix,
                                   int out_channels, tassl_ssl_decoder **out);
void tassl_ssl_decoder_free(tassl_ssl_decoder *d);
tassl_status tassl_ssl_decoder_init(tassl_ssl_decoder *d); /* no-op for the U-Net's own */
/* x (N, C, S...) → (N, out_channels, S...): encoder forward with features, then the decoder.
 * embed (NULL if unwanted) receives the pooled embedding (N, D) of the same pass. */
tassl_tensor *tassl_ssl_decoder_forward(tassl_ssl_decoder *d, tassl_tensor *x, bool training,
                                        tassl_tensor **embed);

/* ---- what a method sees -----------------------------------------------------------------------
 */

/* Everything a member's create() may use. Valid for the whole run. */
typedef struct tassl_ssl_env {
    const tassl_config *cfg;
    tassl_ctx *ctx;
    tassl_params *params;   /* the trainable set (encoder + all heads); not finalized in create */
    tassl_encoder *encoder; /* shared by every member */
    int dims;               /* 2 or 3 */
    int64_t sample[4];      /* one sample as the data side makes it: (C, D, H, W), D 1 in 2D */
    int64_t batch;          /* samples per step */
    int64_t total_steps;    /* train.steps (EMA schedules) */
    uint64_t seed;          /* the run's seed */
} tassl_ssl_env;

/* Build another encoder exactly like env->encoder (same arch, config and initialisers) into
 * another parameter set: the EMA target of BYOL / MoCo. Declared under "encoder" in p. */
tassl_status tassl_ssl_encoder_clone(const tassl_ssl_env *env, tassl_params *p,
                                     tassl_encoder **out);

/* "<prefix><name>" into buf (prefix "" or "simclr."); returns buf. */
char *tassl_ssl_name(char *buf, size_t len, const char *prefix, const char *name);

/* A per-sample array a method makes on the host (see prepare). */
typedef struct tassl_ssl_custom {
    char name[32];    /* unique within the member: "input", "target", "label" */
    int64_t shape[4]; /* per sample, (C, D, H, W) floats; a class label: {1, 1, 1, 1}. The
                         batch tensor is (N, C, D, H, W), or (N, C, H, W) when D = 1 and the
                         run is 2D, or (N) for a {1, 1, 1, 1} label */
} tassl_ssl_custom;

/* What a member asks of the data side (zeroed by the framework before create). */
typedef struct tassl_ssl_inputs {
    int views;  /* augmented views per sample, 0..TASSL_SSL_MAX_VIEWS */
    bool clean; /* the normalised, un-augmented sample (reconstruction targets) */
    int ncustom;
    tassl_ssl_custom custom[TASSL_SSL_MAX_CUSTOM];
} tassl_ssl_inputs;

/* One sample on the host, as prepare() sees it. */
typedef struct tassl_ssl_sample {
    const tassl_image *clean; /* (C, D, H, W), normalised, the batch's sample size */
    uint64_t seed;            /* data seed of the run */
    uint64_t index;           /* sample index (global position in the stream / dataset) */
    uint64_t epoch;
} tassl_ssl_sample;

/* One step's inputs on the device, as loss() sees them. Images are (N, C, H, W) in 2D and
 * (N, C, D, H, W) in 3D. */
typedef struct tassl_ssl_batch {
    int64_t n;
    int nviews;
    tassl_tensor *view[TASSL_SSL_MAX_VIEWS];
    tassl_tensor *clean;                        /* NULL unless some member asked for it */
    tassl_tensor *custom[TASSL_SSL_MAX_CUSTOM]; /* this member's, in declaration order */
    int64_t step;                               /* optimiser steps done before this one */
} tassl_ssl_batch;

typedef struct tassl_ssl_component {
    const char *name;    /* static string: "nt_xent", "recon" (the framework adds the prefix) */
    tassl_tensor *value; /* scalar (detach it; it is only read) */
} tassl_ssl_component;

/* What loss() reports besides the scalar it returns. */
typedef struct tassl_ssl_loss_out {
    int ncomponents;
    tassl_ssl_component comp[TASSL_SSL_MAX_COMPONENTS];
    /* (N, D) embeddings for the collapse monitor (the projector output of one view), or NULL. */
    tassl_tensor *embedding;
    /* Generative methods: input, corrupted input, reconstruction (N, C, S...), or NULL.
     * Sample 0 of each is written as a preview PNG every ssl.preview_every steps. */
    tassl_tensor *preview[3];
} tassl_ssl_loss_out;

/* ---- the method table ------------------------------------------------------------------------ */

typedef struct tassl_ssl_method {
    const char *name;     /* method.name value: "simclr" */
    const char *paradigm; /* "contrastive", "non-contrastive", "predictive", "generative" */
    const char *summary;  /* one line for `tassl pretrain --help` and docs */
    /* Its configuration keys (method.<name>.*) and the `method.name` choice, or NULL. Registered
     * by tassl_ssl_register_config(). */
    const tassl_cfg_section *keys;

    /* Declare heads into env->params under prefix (via tassl_mlp_new(p, "<prefix>projector"...)),
     * fill *in, allocate *state. Read the config here. TASSL_ERR_ARG naming the key on a bad
     * value. Required. */
    tassl_status (*create)(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                           void **state);
    /* After finalize: initialise the heads (tassl_module_init), set up EMA targets. Required. */
    tassl_status (*init)(void *state);
    /* Bind extra state to the checkpoint (names under the prefix). Host-side state must be a
     * function of the step (the queue's write position is step·N mod K) or live in a bound
     * tensor, so that resume is exact. NULL: no extra state. */
    tassl_status (*bind_state)(void *state, tassl_ckpt *ck);
    /* Host side, called from worker threads (thread-safe, randomness only from the sample's
     * (seed, index, epoch), with streams from TASSL_STREAM_USER + 64 on to stay clear of the
     * views): write custom input k of one sample into out[k] (∏ shape floats). NULL if the
     * member has no custom inputs. */
    tassl_status (*prepare)(void *state, const tassl_ssl_sample *s, float *const *out);
    /* The member's loss for one batch: a scalar tensor on the tape (NULL on failure, with the
     * context's error set); out is zeroed by the framework. Required. */
    tassl_tensor *(*loss)(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out);
    /* After the optimiser step `step` (1-based count of steps done): EMA updates, queue
     * updates, in a no-grad region. NULL if nothing to do. */
    tassl_status (*after_step)(void *state, int64_t step);
    void (*destroy)(void *state);
} tassl_ssl_method;

/* Built-in methods (src/ssl/methods.c), then those added with tassl_ssl_method_register. */
int tassl_ssl_method_count(void);
const tassl_ssl_method *tassl_ssl_method_at(int i);
/* NULL if unknown. */
const tassl_ssl_method *tassl_ssl_method_find(const char *name);
/* Add a method at run time (tests, plugins); m must outlive the program. TASSL_ERR_ARG if the
 * name is taken or a required function is missing. Its keys are registered too. */
tassl_status tassl_ssl_method_register(const tassl_ssl_method *m);
/* Register the framework's keys (ssl.*, data.* of pretraining, model.vit.*, model.unet.*, the
 * hybrid) and every method's. Idempotent; call before reading a pretraining config (the CLI
 * does). */
tassl_status tassl_ssl_register_config(void);

/* ---- the framework instance ------------------------------------------------------------------ */

typedef struct tassl_ssl tassl_ssl;

/* From a resolved configuration, on a context: the data side (source, presets, sizes), the
 * encoder, every member (create), the parameter set finalized and initialised (seeded: call
 * tassl_rng_seed first), members' init. Errors name the key. */
tassl_status tassl_ssl_new(const tassl_config *cfg, tassl_ctx *ctx, tassl_ssl **out);
void tassl_ssl_free(tassl_ssl *s);
tassl_params *tassl_ssl_params(const tassl_ssl *s);
tassl_encoder *tassl_ssl_encoder(const tassl_ssl *s);
const tassl_ssl_env *tassl_ssl_env_of(const tassl_ssl *s);
int tassl_ssl_members(const tassl_ssl *s);
const tassl_ssl_method *tassl_ssl_member_method(const tassl_ssl *s, int m);
const char *tassl_ssl_member_prefix(const tassl_ssl *s, int m);
/* The union of the members' inputs (views, clean; custom counts the members' total). */
tassl_ssl_inputs tassl_ssl_inputs_of(const tassl_ssl *s);
/* Bind every member's extra state to ck. */
tassl_status tassl_ssl_bind_state(tassl_ssl *s, tassl_ckpt *ck);

/* The batch of optimiser step `step` (samples [step·B, (step+1)·B) of the stream), prepared on
 * the host and uploaded into the current scope. A pure function of (config, step). */
tassl_status tassl_ssl_load_batch(tassl_ssl *s, int64_t step, tassl_ssl_batch *b);

/* One step's forward: Σ_m weight_m · loss_m on the tape. comp_names/comp receive up to
 * `maxcomp` named components ("simclr.nt_xent" in a hybrid, "nt_xent" alone) as scalar
 * tensors; *ncomp their count. embedding / preview: the first member's that has one. */
tassl_tensor *tassl_ssl_loss(tassl_ssl *s, const tassl_ssl_batch *b, int maxcomp,
                             const char **comp_names, tassl_tensor **comp, int *ncomp,
                             tassl_tensor **embedding, tassl_tensor *preview[3]);
/* every member's after_step */
tassl_status tassl_ssl_after_step(tassl_ssl *s, int64_t step);

/* ---- collapse monitor ------------------------------------------------------------------------ */

typedef struct tassl_collapse_stats {
    int64_t n, d;
    double std;        /* mean over dims of the per-dimension std of the L2-normalised rows:
                          ~1/√d when healthy, → 0 at collapse (SimSiam, Chen & He 2021, §4) */
    double std_scaled; /* std·√d: ~1 healthy, → 0 collapsed */
    double erank;      /* effective rank (RankMe, Garrido et al. 2023): exp of the entropy of the
                          normalised singular values of the normalised embedding matrix; 1 for
                          identical rows, up to min(n, d) */
    bool collapsed;    /* std_scaled < min_std or erank < min_rank (tassl_collapse_check) */
} tassl_collapse_stats;

/* Statistics of z (n, d) row-major host floats (n ≥ 2, d ≥ 1). The eigenvalues come from the
 * smaller of the d×d covariance-like matrix ZᵀZ and the n×n Gram matrix ZZᵀ (same non-zero
 * spectrum), by cyclic Jacobi in double. TASSL_ERR_ARG on bad sizes, TASSL_ERR_NUMERIC on
 * non-finite input, TASSL_ERR_NOMEM. */
tassl_status tassl_collapse_measure(const float *z, int64_t n, int64_t d,
                                    tassl_collapse_stats *out);
/* Set out->collapsed from thresholds; returns it. */
bool tassl_collapse_check(tassl_collapse_stats *st, double min_std, double min_rank);

/* Eigenvalues of the symmetric n×n matrix a (row-major, destroyed) by cyclic Jacobi rotations
 * until the off-diagonal mass is below 1e-12 of the total (at most 100 sweeps); w receives them
 * in descending order. Returns the sweeps used, or -1 if it did not converge. */
int tassl_sym_eigenvalues(double *a, int n, double *w);

/* ---- the driver ------------------------------------------------------------------------------ */

typedef struct tassl_pretrain_opts {
    const char *run_dir; /* NULL: output.dir/output.name */
    const char *resume;  /* run directory to continue from its newest checkpoint, or NULL */
    bool force;          /* replace an existing run directory's files */
    bool quiet;          /* nothing on stdout */
    int64_t stop_after;  /* > 0: stop (with a checkpoint) after this many steps in total */
    bool no_signals;     /* do not install SIGINT/SIGTERM handlers */
    /* test hooks */
    int64_t nan_at_step; /* > 0: the loss of this step (1-based) is made NaN */
    void (*on_step)(void *user, int64_t step); /* after each completed step (1-based) */
    void *user;
    /* out */
    int interrupted; /* the signal that stopped the run (SIGINT, SIGTERM) or 0 */
    int64_t steps_done;
} tassl_pretrain_opts;

/* Pretrain as the configuration says into a run directory: metrics.jsonl (losses and their
 * components, lr, samples/s, memory, collapse statistics), progress, checkpoints every
 * train.ckpt_every steps and at the end (parameters and buffers, optimiser state and step,
 * method state, RNG, config), preview PNGs for generative methods. SIGINT/SIGTERM (unless
 * no_signals): the handler sets a flag; the step in flight finishes, a checkpoint is written and
 * TASSL_OK is returned with opts->interrupted set. A non-finite loss stops before the optimiser
 * step with TASSL_ERR_NUMERIC naming the step and the components, the last checkpoint intact.
 * With opts->resume: continues from the newest checkpoint; on the reference backend the result
 * equals an uninterrupted run bit for bit. */
tassl_status tassl_pretrain(const tassl_config *cfg, tassl_pretrain_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
