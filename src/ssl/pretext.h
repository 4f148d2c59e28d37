/* pretext.h — what the predictive and generative methods share (src/ssl/rotation.c, jigsaw.c,
 * rpl.c, denoising.c, inpainting.c, genesis.c, simmim.c, mae.c): classification heads over the
 * encoder's embedding, custom-input declarations, "field=value" lists applied to augment.h's
 * tables, host helpers on one sample, the preview triplet of the dense methods, and MAE's
 * patchify / unpatchify (strided reshape/permute sequences that stay within five dims). Not
 * installed; tests/test_ssl_pretext.c includes it for the patchify round trip. */
#ifndef TASSL_SSL_PRETEXT_H
#define TASSL_SSL_PRETEXT_H

#include <stdbool.h>
#include <stdint.h>
#include "tassl/augment.h"
#include "tassl/ssl.h"

/* ---- predictive heads ------------------------------------------------------------------------ */

/* A classifier from `in` features to `classes` logits under "<prefix><name>": with hidden = 0 one
 * linear layer, else Linear(in, hidden)–BN–ReLU–Linear(hidden, classes) (tassl_mlp names). */
tassl_status ssl_head_new(const tassl_ssl_env *env, const char *prefix, const char *name,
                          int64_t in, int64_t hidden, int64_t classes, tassl_mlp **out);
/* The head keys every predictive method has: method.<m>.head (linear|mlp) and method.<m>.hidden
 * (0 = the encoder's width) → the hidden width ssl_head_new takes (0 for linear). */
int64_t ssl_head_hidden(const tassl_ssl_env *env, const char *method);

/* Mean cross-entropy of logits (N, K) against class labels (N) (floats, as the data side makes
 * them). */
tassl_tensor *ssl_ce(tassl_tensor *logits, tassl_tensor *labels);
/* Fraction of rows whose arg-max equals the label, as a new scalar tensor (read on the host: a
 * logged component, not differentiable). */
tassl_tensor *ssl_accuracy(tassl_tensor *logits, tassl_tensor *labels);

/* ---- inputs and host helpers ----------------------------------------------------------------- */

/* Append custom input `name` of per-sample shape (c, d, h, w) to in (a class: 1, 1, 1, 1). */
void ssl_custom_add(tassl_ssl_inputs *in, const char *name, int64_t c, int64_t d, int64_t h,
                    int64_t w);

/* Apply each "field=value" of the string-list key `key` with set(obj, field, value); errors name
 * key[i]. */
typedef tassl_status (*ssl_field_setter)(void *obj, const char *field, const char *value);
tassl_status ssl_apply_set(const tassl_config *cfg, const char *key, ssl_field_setter set,
                           void *obj);

/* A copy of img (allocated here). */
tassl_status ssl_image_copy(const tassl_image *src, tassl_image *dst);
/* Per channel z-score in place: (x − mean) / max(std, 1e-6). */
void ssl_image_zscore(tassl_image *img);
/* Whole image min–max to [0, 1] in place (a constant image becomes 0). */
void ssl_image_minmax(tassl_image *img);

/* Methods that encode pieces of a sample (jigsaw tiles, relative-location patches) need an encoder
 * that takes another input size: the ResNet does, the U-Net if every side of `size` ((D, H, W))
 * divides by its deepest stride, the ViT never (its positions are fixed to the sample size).
 * TASSL_ERR_UNSUPPORTED / TASSL_ERR_ARG naming model.arch or the method's key otherwise. */
tassl_status ssl_check_piece_size(const tassl_ssl_env *env, const char *method, const char *what,
                                  const int64_t size[3]);

/* The smallest spatial side of one sample (H, W in 2D; D, H, W in 3D). */
int64_t ssl_min_side(const tassl_ssl_env *env);

/* ---- dense (generative) methods -------------------------------------------------------------- */

/* out->preview = input, corrupted, reconstruction (detached); out->embedding = emb (detached, or
 * NULL). */
void ssl_set_preview(tassl_ssl_loss_out *out, tassl_tensor *input, tassl_tensor *corrupted,
                     tassl_tensor *recon, tassl_tensor *emb);

/* ---- MAE patches ------------------------------------------------------------------------------
 */

/* x (N, C, H, W) or (N, C, D, H, W), every spatial side divisible by p → (N, T, p^dims·C): patches
 * in row-major grid order, pixels inside a patch ordered (pd, ph, pw, c) with c fastest — MAE's
 * patchify (einsum 'nchpwq->nhwpqc'), and its 3D extension. At most five dims at every step. */
tassl_tensor *ssl_patchify(tassl_tensor *x, int p);
/* The inverse: t (N, T, p^dims·C) → (N, C, size...) for the spatial size `size` (dims entries). */
tassl_tensor *ssl_unpatchify(tassl_tensor *t, int p, int64_t c, int dims, const int64_t *size);

#endif
