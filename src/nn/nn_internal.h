/* nn_internal.h — the layers the networks of src/nn are built from: convolution, normalisation
 * and linear layers as structs of parameter slots, declared into a module before finalize and
 * applied with the ops of ops.h at forward time. Not public: networks are the public unit. */
#ifndef TASSL_NN_INTERNAL_H
#define TASSL_NN_INTERNAL_H

#include "tassl/nn.h"
#include "tassl/ops.h"

#define NN_NAME 256

/* "a.b" (or "b" when a is empty) into buf; aborts when it does not fit. */
char *nn_join(char *buf, const char *a, const char *b);

/* ---- convolution ---------------------------------------------------------------------------- */
typedef struct nn_conv {
    tassl_tensor *weight; /* (Cout, Cin, k...) — transposed: (Cin, Cout, k...) */
    tassl_tensor *bias;   /* (Cout) or NULL */
    int dims, k, stride, pad;
    bool transposed;
} nn_conv;

/* PyTorch's default conv/linear weight initialiser: Kaiming uniform with a = √5 (U(±1/√fan_in)). */
tassl_init nn_init_torch_default(void);
/* torchvision's ResNet conv initialiser: Kaiming normal, fan_out, ReLU. */
tassl_init nn_init_kaiming_out_relu(void);

/* Declare conv `name`.weight (+ .bias, initialised U(±1/√fan_in) as PyTorch). */
void nn_conv_decl(tassl_module *m, nn_conv *c, const char *name, int dims, int64_t cin,
                  int64_t cout, int k, int stride, int pad, bool bias, tassl_init winit);
/* Transposed conv with kernel = stride = factor; PyTorch's default initialisation. */
void nn_convt_decl(tassl_module *m, nn_conv *c, const char *name, int dims, int64_t cin,
                   int64_t cout, int factor);
tassl_tensor *nn_conv_fwd(const nn_conv *c, tassl_tensor *x);
/* Transposed conv to exactly `size` (per spatial dim): pads/output-pads the factor-f kernel so
 * that out = in·f − 2·pad + outpad, which covers size ∈ (in·f − f, in·f]. */
tassl_tensor *nn_convt_fwd(const nn_conv *c, tassl_tensor *x, const int64_t *size);

/* ---- normalisation -------------------------------------------------------------------------- */
typedef struct nn_norm {
    tassl_norm_kind kind;
    int groups; /* effective number of groups */
    float eps, momentum;
    tassl_tensor *weight, *bias, *running_mean, *running_var; /* (C) each, NULL where absent */
} nn_norm;

/* Declare `name`.weight/.bias (γ = gamma0, β = 0; none when !affine) and, for batch norm,
 * .running_mean (0) / .running_var (1). NONE declares nothing. */
void nn_norm_decl(tassl_module *m, nn_norm *n, const char *name, int64_t c,
                  const tassl_norm_cfg *cfg, bool affine, float gamma0);
/* x (N, C, ...) → normalised x; identity for NONE. LAYER normalises the last dim. */
tassl_tensor *nn_norm_fwd(const nn_norm *n, tassl_tensor *x, bool training);

/* ---- linear --------------------------------------------------------------------------------- */
typedef struct nn_linear {
    tassl_tensor *weight; /* (out, in) */
    tassl_tensor *bias;   /* (out) or NULL */
} nn_linear;

/* `name`.weight with winit; `name`.bias with binit (kind NONE → zeros) when bias. A winit of
 * kind NONE means PyTorch's default (weight and bias). */
void nn_linear_decl(tassl_module *m, nn_linear *l, const char *name, int64_t in, int64_t out,
                    bool bias, tassl_init winit, tassl_init binit);
tassl_tensor *nn_linear_fwd(const nn_linear *l, tassl_tensor *x);

/* Validation helper: TASSL_ERR_ARG "<what>: <key> is <value>, expected <expect>". */
tassl_status nn_bad(const char *what, const char *key, long long value, const char *expect);

#endif
