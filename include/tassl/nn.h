/* nn.h — networks on the tensor interface: a small module layer, initialisers, ResNet encoders,
 * U-Net decoders, MLP heads and a Vision Transformer, all 2D and 3D.
 *
 * Ownership (the one rule that matters): a network owns PARAMETERS, never ACTIVATIONS.
 *   - Parameters live in a caller's tassl_params set (one flat device allocation for the whole
 *     model: encoder, decoder and heads together), under stable dotted PyTorch-like names
 *     ("encoder.layer2.0.conv1.weight", "encoder.layer2.0.bn1.running_mean"). These are the names
 *     checkpoints use; a ResNet built with prefix "" has torchvision's state_dict names.
 *   - Activations come from the context's current scope (tassl_scope_begin/end), so one network
 *     runs several times per step (two views, online and target passes) and nothing it computed
 *     outlives the step.
 *
 * Life cycle:
 *     tassl_params *p = tassl_params_new(ctx);
 *     tassl_resnet *enc;  tassl_resnet_new(p, "encoder", &cfg, &enc);   // declares entries
 *     tassl_mlp *proj;    tassl_mlp_new(p, "projector", &mcfg, &proj);
 *     tassl_params_finalize(p);                                          // one allocation
 *     tassl_module_init(tassl_resnet_module(enc));                       // seeded initialisers
 *     tassl_module_init(tassl_mlp_module(proj));
 *     ... per step: scope_begin; forward; loss; backward; optimiser; scope_end ...
 *     tassl_mlp_free(proj); tassl_resnet_free(enc); tassl_params_free(p);
 *
 * A tassl_module is a network's view of the parameter set: the entries it declared (name, shape,
 * initialiser) and the slots its layers read them from. Slots can be rebound to views of another
 * flat tensor (tassl_module_bind): a functional forward with other weights (whole-network gradient
 * checks, fast weights), without copying.
 *
 * Initialisers draw from the context's Philox stream on the host (one draw per element, the
 * counter advanced by the element count, as tassl_randn_ does) and upload the result, so the same
 * seed gives bit-identical weights on every backend.
 *
 * Shapes: (N, C, H, W) for 2D images, (N, C, D, H, W) for 3D volumes; S = the spatial dims.
 * Configuration errors (depth 50, 0 input channels, a patch that does not divide the image...)
 * return TASSL_ERR_ARG with a message naming the key; a tensor of the wrong shape handed to a
 * forward is a programmer error and aborts naming the network and the shapes.
 */
#ifndef TASSL_NN_H
#define TASSL_NN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- initialisers --------------------------------------------------------------------------- */

typedef enum tassl_fan_mode {
    TASSL_FAN_IN = 0,  /* preserves the variance of activations in the forward pass */
    TASSL_FAN_OUT = 1, /* preserves it in the backward pass (torchvision's ResNet convs) */
} tassl_fan_mode;

typedef enum tassl_nonlinearity {
    TASSL_NL_LINEAR = 0, /* gain 1 (also conv, sigmoid) */
    TASSL_NL_RELU,       /* gain √2 */
    TASSL_NL_LEAKY_RELU, /* gain √(2 / (1 + a²)), a = negative slope */
    TASSL_NL_TANH,       /* gain 5/3 */
    TASSL_NL_SIGMOID,    /* gain 1 */
} tassl_nonlinearity;

/* PyTorch's calculate_gain; `param` is the leaky-ReLU slope (ignored otherwise). */
double tassl_init_gain(tassl_nonlinearity nl, double param);
/* Fans of a weight (out, in, k...) as PyTorch: fan_in = in·∏k, fan_out = out·∏k. ndim ≥ 2. */
void tassl_init_fans(const tassl_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* In-place initialisers of a contiguous tensor (a parameter after finalize). They draw from the
 * context's stream and return TASSL_OK or the context's device error. */
tassl_status tassl_init_constant_(tassl_tensor *t, float value);
tassl_status tassl_init_uniform_(tassl_tensor *t, double lo, double hi);
tassl_status tassl_init_normal_(tassl_tensor *t, double mean, double std);
/* N(mean, std²) restricted to [lo, hi] (absolute bounds, as PyTorch's trunc_normal_; pass
 * mean ± 2·std for ±2σ), by inverse-CDF sampling: one uniform per element, no rejection loop,
 * computed in double on the host — deterministic and identical on every backend. */
tassl_status tassl_init_trunc_normal_(tassl_tensor *t, double mean, double std, double lo,
                                      double hi);
/* Kaiming (He): std = gain(nl, a) / √fan, normal N(0, std²) or uniform ±√3·std. */
tassl_status tassl_init_kaiming_normal_(tassl_tensor *t, double a, tassl_fan_mode mode,
                                        tassl_nonlinearity nl);
tassl_status tassl_init_kaiming_uniform_(tassl_tensor *t, double a, tassl_fan_mode mode,
                                         tassl_nonlinearity nl);
/* Xavier (Glorot): std = gain·√(2 / (fan_in + fan_out)), normal or uniform ±√3·std. */
tassl_status tassl_init_xavier_normal_(tassl_tensor *t, double gain);
tassl_status tassl_init_xavier_uniform_(tassl_tensor *t, double gain);

/* Fixed sin-cos position table (T, D) as in MAE: for a grid of `ngrid` (2 or 3) dims
 * (gd, gh, gw) with token t = (d·gh + h)·gw + w, the channels are split into ngrid equal parts,
 * fastest axis first (w, then h, then d); each part holds sin(pos·ω_k) then cos(pos·ω_k) with
 * ω_k = 10000^(−k/(part/2)). MAE's 2D table is exactly this. With cls, row 0 is zeros and the
 * grid starts at row 1. D must be divisible by 2·ngrid. t: (1, T[+1], D) or (T[+1], D). */
tassl_status tassl_init_sincos_(tassl_tensor *t, int ngrid, const int64_t *grid, bool cls);

typedef enum tassl_init_kind {
    TASSL_INIT_NONE = 0,        /* left as finalize made it (zeros) */
    TASSL_INIT_CONSTANT,        /* a */
    TASSL_INIT_UNIFORM,         /* U(a, b) */
    TASSL_INIT_NORMAL,          /* N(a, b²) */
    TASSL_INIT_TRUNC_NORMAL,    /* N(0, a²) within ±b·a (b = 0: ±2σ) */
    TASSL_INIT_KAIMING_NORMAL,  /* a = slope, mode, nl */
    TASSL_INIT_KAIMING_UNIFORM, /* a = slope, mode, nl */
    TASSL_INIT_XAVIER_NORMAL,   /* a = gain (0: 1) */
    TASSL_INIT_XAVIER_UNIFORM,  /* a = gain (0: 1) */
    TASSL_INIT_SINCOS,          /* grid[ngrid], cls */
} tassl_init_kind;

/* How a module entry is initialised by tassl_module_init (a compound literal is the idiom:
 * (tassl_init){.kind = TASSL_INIT_KAIMING_NORMAL, .mode = TASSL_FAN_OUT, .nl = TASSL_NL_RELU}). */
typedef struct tassl_init {
    tassl_init_kind kind;
    double a, b;
    tassl_fan_mode mode;
    tassl_nonlinearity nl;
    bool matrix; /* Xavier/Kaiming fans of the weight seen as (out, in·∏k) (MAE's patch
                  * embedding): fan_out = out instead of out·∏k */
    int ngrid;   /* SINCOS */
    int64_t grid[3];
    bool cls;
} tassl_init;

/* Apply one initialiser to t. */
tassl_status tassl_init_apply_(tassl_tensor *t, const tassl_init *init);

/* ---- modules -------------------------------------------------------------------------------- */

typedef struct tassl_module tassl_module;

/* A module declaring entries into p under `prefix` ("" or NULL: no prefix). */
tassl_module *tassl_module_new(tassl_params *p, const char *prefix);
void tassl_module_free(tassl_module *m);
tassl_params *tassl_module_params(const tassl_module *m);
const char *tassl_module_prefix(const tassl_module *m);

/* Declare a trainable entry "prefix.name" (before tassl_params_finalize). The tensor is stored in
 * *slot (may be NULL) — the field the layer reads at forward time — and returned. */
tassl_tensor *tassl_module_param(tassl_module *m, tassl_tensor **slot, const char *name, int ndim,
                                 const int64_t *shape, tassl_init init);
/* Same for a non-trainable entry (running statistics, fixed position tables). */
tassl_tensor *tassl_module_buffer(tassl_module *m, tassl_tensor **slot, const char *name, int ndim,
                                  const int64_t *shape, tassl_init init);

/* After tassl_params_finalize: run every entry's initialiser in declaration order (so a seed
 * fixes every weight). Returns the first failure. */
tassl_status tassl_module_init(tassl_module *m);

int tassl_module_count(const tassl_module *m);
tassl_tensor *tassl_module_get(const tassl_module *m, int i);
const char *tassl_module_name(const tassl_module *m, int i); /* full dotted name */
bool tassl_module_is_buffer(const tassl_module *m, int i);
/* Elements of the module's trainable parameters (buffers = false) or of its buffers (true). */
int64_t tassl_module_numel(const tassl_module *m, bool buffers);
/* One line per entry (name, shape, elements, "buffer"), then totals, to `out`. */
void tassl_module_summary(const tassl_module *m, FILE *out);

/* Point every slot at the matching region of `values` — a 1-D tensor laid out like
 * tassl_params_flat() (same length): entry i becomes a reshaped slice of values, so gradients
 * flow to `values` and batch-norm running statistics are updated inside it. NULL restores the
 * parameters themselves. The views live in the current scope: restore before it ends if the
 * module is used afterwards. */
void tassl_module_bind(tassl_module *m, tassl_tensor *values);

/* ---- normalisation choice ------------------------------------------------------------------- */

typedef enum tassl_norm_kind {
    TASSL_NORM_BATCH = 0,    /* running statistics as buffers; poor at the small batches of 3D */
    TASSL_NORM_GROUP = 1,    /* `groups` groups (default 32; reduced to a divisor of C) */
    TASSL_NORM_INSTANCE = 2, /* per sample and channel, affine */
    TASSL_NORM_LAYER = 3,    /* MLP heads and ViT only: over the feature dim */
    TASSL_NORM_NONE = 4,     /* layers before it get a bias instead */
} tassl_norm_kind;

/* A zero-initialised config is batch norm with PyTorch's defaults. */
typedef struct tassl_norm_cfg {
    tassl_norm_kind kind;
    int groups;     /* GROUP: 0 → 32 */
    float eps;      /* 0 → 1e-5 */
    float momentum; /* BATCH: 0 → 0.1 (r = (1 − m)·r + m·batch) */
} tassl_norm_cfg;

/* "batch" | "group" | "instance" | "layer" | "none" ↔ kind. parse returns TASSL_ERR_ARG naming
 * the value and the accepted ones. */
const char *tassl_norm_kind_name(tassl_norm_kind k);
tassl_status tassl_norm_kind_parse(const char *s, tassl_norm_kind *out);

/* ---- feature pyramids (what an encoder hands a decoder) ------------------------------------- */

#define TASSL_MAX_FEATURES 8

/* Static description of an encoder's feature maps, shallowest first. */
typedef struct tassl_feature_info {
    int dims; /* 2 or 3 */
    int n;
    int64_t channels[TASSL_MAX_FEATURES];
    int stride[TASSL_MAX_FEATURES]; /* relative to the input (powers of 2) */
} tassl_feature_info;

/* The feature maps of one forward pass, shallowest first: f[i] (N, channels[i], S / stride[i]),
 * spatial sizes rounded up as strided convolutions round; in_size = the input's spatial size. */
typedef struct tassl_features {
    int n;
    tassl_tensor *f[TASSL_MAX_FEATURES];
    int64_t in_size[3];
} tassl_features;

/* ---- ResNet encoders ------------------------------------------------------------------------ */

typedef enum tassl_resnet_stem {
    TASSL_STEM_STANDARD = 0, /* 7×7 conv stride 2 + 3×3 max-pool stride 2 (torchvision) */
    TASSL_STEM_SMALL = 1,    /* 3×3 conv stride 1, no max-pool (small inputs, CIFAR-style) */
} tassl_resnet_stem;

typedef struct tassl_resnet_cfg {
    int depth;       /* 10 ([1,1,1,1]), 18 ([2,2,2,2]) or 34 ([3,4,6,3]) BasicBlocks */
    int dims;        /* 2 or 3 */
    int in_channels; /* ≥ 1 */
    float width;     /* multiplier of (64, 128, 256, 512); 0 → 1; channels ≥ 1 */
    tassl_resnet_stem stem;
    tassl_norm_cfg norm;     /* BATCH, GROUP, INSTANCE or NONE */
    bool zero_init_residual; /* torchvision's option: last norm of each block starts at γ = 0 */
} tassl_resnet_cfg;

typedef struct tassl_resnet tassl_resnet;

/* Declares torchvision's names under prefix: conv1.weight (64w, Cin, 7, 7), bn1.{weight, bias,
 * running_mean, running_var}, layer{1-4}.{b}.conv{1,2}.weight, .bn{1,2}.*, .downsample.0.weight,
 * .downsample.1.* (norm entries keep torchvision's "bn" names whatever the norm). Initialised as
 * torchvision: convs Kaiming normal fan_out ReLU, norm γ 1 β 0. */
tassl_status tassl_resnet_new(tassl_params *p, const char *prefix, const tassl_resnet_cfg *cfg,
                              tassl_resnet **out);
void tassl_resnet_free(tassl_resnet *r);
tassl_module *tassl_resnet_module(const tassl_resnet *r);
/* 5 features: stem output (after ReLU, before the max-pool; stride 2, or 1 for the small stem),
 * then layer1..layer4 (strides 4, 8, 16, 32 — or 1, 2, 4, 8 for the small stem). */
tassl_feature_info tassl_resnet_features(const tassl_resnet *r);
int64_t tassl_resnet_embed_dim(const tassl_resnet *r); /* channels of layer4 */
/* x (N, Cin, S...) → pooled embedding (N, embed_dim) by global average pooling of layer4;
 * feats (NULL if unwanted) receives the 5 feature maps. Batch norm uses batch statistics and
 * updates its running statistics when training, the running statistics otherwise. */
tassl_tensor *tassl_resnet_forward(tassl_resnet *r, tassl_tensor *x, bool training,
                                   tassl_features *feats);

/* ---- U-Net decoder and the plain U-Net ------------------------------------------------------ */

typedef enum tassl_upsample_mode {
    TASSL_UP_TRANSPOSED = 0, /* transposed conv, kernel = stride = factor (learned) */
    TASSL_UP_LINEAR = 1,     /* bilinear / trilinear, align_corners false */
} tassl_upsample_mode;

typedef struct tassl_unet_decoder_cfg {
    int classes; /* K ≥ 1 output channels of the final 1×1 conv */
    tassl_upsample_mode up;
    tassl_norm_cfg norm; /* BATCH, GROUP, INSTANCE or NONE */
    /* Output channels of each decoder block in the order they run (deepest first); 0 → the
     * channels of the skip it merges (the last, skip-less block: half the previous block's). */
    int64_t channels[TASSL_MAX_FEATURES];
} tassl_unet_decoder_cfg;

typedef struct tassl_unet_decoder tassl_unet_decoder;

/* A decoder for any encoder described by `enc` (≥ 2 features). Block j (j = 0 first, deepest)
 * up-samples the running map to the size of skip f[n−2−j] (nothing if the strides are equal),
 * concatenates the skip, then conv3×3–norm–ReLU twice. If f[0] has stride > 1, a last block
 * without skip up-samples to the input size. Names: blocks.{j}.up.{weight, bias} (transposed
 * mode), blocks.{j}.conv{1,2}.weight, blocks.{j}.norm{1,2}.*, head.{weight, bias}. */
tassl_status tassl_unet_decoder_new(tassl_params *p, const char *prefix,
                                    const tassl_feature_info *enc,
                                    const tassl_unet_decoder_cfg *cfg, tassl_unet_decoder **out);
void tassl_unet_decoder_free(tassl_unet_decoder *d);
tassl_module *tassl_unet_decoder_module(const tassl_unet_decoder *d);
/* feats from the encoder's forward → logits (N, K, in_size...). */
tassl_tensor *tassl_unet_decoder_forward(tassl_unet_decoder *d, const tassl_features *feats,
                                         bool training);

typedef struct tassl_unet_cfg {
    int dims;        /* 2 or 3 */
    int in_channels; /* ≥ 1 */
    int classes;     /* ≥ 1 */
    int levels;      /* resolution levels, 2..8; 0 → 4 */
    int base;        /* channels of level 0, doubled per level; 0 → 32 */
    tassl_norm_cfg norm;
    tassl_upsample_mode up;
} tassl_unet_cfg;

typedef struct tassl_unet tassl_unet;

/* The plain U-Net: encoder.{l}.conv{1,2}.weight + encoder.{l}.norm{1,2}.* (level l ≥ 1 starts
 * with a 2× max-pool), and a decoder named decoder.* as above. Spatial sizes must be divisible
 * by 2^(levels−1). */
tassl_status tassl_unet_new(tassl_params *p, const char *prefix, const tassl_unet_cfg *cfg,
                            tassl_unet **out);
void tassl_unet_free(tassl_unet *u);
/* Two modules: the encoder's and the decoder's. */
tassl_module *tassl_unet_encoder_module(const tassl_unet *u);
tassl_module *tassl_unet_decoder_module_of(const tassl_unet *u);
tassl_feature_info tassl_unet_features(const tassl_unet *u);
/* Encoder only (SSL pretraining of the U-Net's encoder): features of every level, returns the
 * pooled bottleneck (N, base·2^(levels−1)). */
tassl_tensor *tassl_unet_encode(tassl_unet *u, tassl_tensor *x, bool training,
                                tassl_features *feats);
/* x (N, Cin, S...) → logits (N, K, S...). */
tassl_tensor *tassl_unet_forward(tassl_unet *u, tassl_tensor *x, bool training);

/* ---- MLP heads ------------------------------------------------------------------------------ */

#define TASSL_MLP_MAX_LAYERS 8

typedef struct tassl_mlp_cfg {
    int layers;                             /* linear layers, 1..TASSL_MLP_MAX_LAYERS */
    int64_t dims[TASSL_MLP_MAX_LAYERS + 1]; /* in, hidden..., out */
    tassl_norm_kind norm;                   /* after hidden linears: BATCH (0), LAYER or NONE */
    float eps, momentum;                    /* 0 → 1e-5, 0.1 */
    bool last_norm;                         /* a norm after the last linear too (SimSiam) */
    bool last_norm_affine;                  /* ... with γ, β (SimSiam: false) */
    bool last_relu;                         /* a ReLU after the last linear */
} tassl_mlp_cfg;

typedef struct tassl_mlp tassl_mlp;

/* Linear–norm–ReLU stacks (SimCLR / BYOL / SimSiam projectors and predictors). Names:
 * layers.{i}.linear.weight (out, in), layers.{i}.linear.bias (only when no norm follows: the norm's
 * β replaces it), layers.{i}.norm.{weight, bias[, running_mean, running_var]}. Linears start as
 * PyTorch's default (Kaiming uniform a = √5, bias U(±1/√in)). Batch norm over (N, C) input. */
tassl_status tassl_mlp_new(tassl_params *p, const char *prefix, const tassl_mlp_cfg *cfg,
                           tassl_mlp **out);
void tassl_mlp_free(tassl_mlp *h);
tassl_module *tassl_mlp_module(const tassl_mlp *h);
/* x (N, dims[0]) → (N, dims[layers]). */
tassl_tensor *tassl_mlp_forward(tassl_mlp *h, tassl_tensor *x, bool training);

typedef struct tassl_classifier tassl_classifier;
/* A linear classifier: prefix.weight (classes, in), prefix.bias (classes), PyTorch's default
 * initialisation ("fc" gives torchvision's names). */
tassl_status tassl_classifier_new(tassl_params *p, const char *prefix, int64_t in, int64_t classes,
                                  tassl_classifier **out);
void tassl_classifier_free(tassl_classifier *c);
tassl_module *tassl_classifier_module(const tassl_classifier *c);
/* x (N, in) → logits (N, classes). */
tassl_tensor *tassl_classifier_forward(tassl_classifier *c, tassl_tensor *x);

/* ---- Vision Transformer --------------------------------------------------------------------- */

typedef enum tassl_pos_kind {
    TASSL_POS_LEARNED = 0, /* a parameter, truncated normal std 0.02 */
    TASSL_POS_SINCOS = 1,  /* fixed MAE table (a buffer) */
} tassl_pos_kind;

typedef struct tassl_vit_cfg {
    int dims;        /* 2 or 3 */
    int in_channels; /* ≥ 1 */
    int64_t img[3];  /* input spatial size (dims entries) */
    int patch;       /* isotropic patch size, dividing every img entry */
    int dim;         /* embedding width D, divisible by heads */
    int depth;       /* blocks ≥ 1 */
    int heads;       /* ≥ 1 */
    float mlp_ratio; /* hidden = ratio·D; 0 → 4 */
    bool cls_token;
    tassl_pos_kind pos; /* SINCOS needs D divisible by 4 (2D) / 6 (3D) */
    float eps;          /* layer-norm eps; 0 → 1e-6 (MAE/timm) */
} tassl_vit_cfg;

typedef struct tassl_vit tassl_vit;

/* timm/MAE names: patch_embed.proj.{weight (D, C, p...), bias}, cls_token (1, 1, D),
 * pos_embed (1, T[+1], D), blocks.{i}.norm1.*, blocks.{i}.attn.qkv.{weight (3D, D), bias},
 * blocks.{i}.attn.proj.*, blocks.{i}.norm2.*, blocks.{i}.mlp.fc{1,2}.*, norm.*. Initialised as
 * MAE: linears and the patch projection (as a matrix) Xavier uniform, biases 0, layer norms 1/0,
 * cls token and learned positions truncated normal std 0.02. */
tassl_status tassl_vit_new(tassl_params *p, const char *prefix, const tassl_vit_cfg *cfg,
                           tassl_vit **out);
void tassl_vit_free(tassl_vit *v);
tassl_module *tassl_vit_module(const tassl_vit *v);
int64_t tassl_vit_num_patches(const tassl_vit *v); /* T = ∏ img/patch */
/* x (N, C, img...) → tokens after the final layer norm, (N, [1 +] T, D) (cls first). */
tassl_tensor *tassl_vit_forward(tassl_vit *v, tassl_tensor *x, bool training);
/* MAE encoder: patch tokens get their positions, then only the visible ones are kept —
 * keep[n·nkeep + j] is the j-th visible patch of sample n (in [0, T)) — the cls token (with its
 * position) goes in front, and the blocks run on (N, [1 +] nkeep, D). */
tassl_tensor *tassl_vit_forward_masked(tassl_vit *v, tassl_tensor *x, const int64_t *keep,
                                       int64_t nkeep, bool training);

/* Row gather on the tape: x (N, T, D), idx[n·k + j] ∈ [0, T) → (N, k, D), y[n, j] = x[n, idx].
 * Done as a batched product with a one-hot (N, k, T) selection matrix (gradient = its
 * transpose); cheap next to attention. Useful for MAE masking and un-shuffling. */
tassl_tensor *tassl_nn_gather_rows(tassl_tensor *x, const int64_t *idx, int64_t k);

#ifdef __cplusplus
}
#endif
#endif
