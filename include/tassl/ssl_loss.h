/* ssl_loss.h — the losses of the self-supervised methods, as differentiable compositions of ops.
 *
 * Every function takes embeddings/outputs of one context and returns a scalar tensor (shape ())
 * recorded on the tape, so methods never write backward code. Stop-gradients are the caller's:
 * pass tassl_detach(z) where the method's paper puts sg(·). Formulas follow the original papers
 * (cited per function in src/ssl/losses.c); values and gradients are tested against PyTorch
 * fixtures (tools/gen-ssl-fixtures). Shapes: z (N, D) embeddings; images (N, C, S...).
 */
#ifndef TASSL_SSL_LOSS_H
#define TASSL_SSL_LOSS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SimCLR NT-Xent (Chen et al. 2020) over the 2N views: z1, z2 (N, D), positives are (i, i+N);
 * cosine similarity / tau, self-similarity excluded, mean over the 2N anchors. */
tassl_tensor *tassl_loss_nt_xent(tassl_tensor *z1, tassl_tensor *z2, float tau);

/* MoCo InfoNCE (He et al. 2020; v2: Chen et al. 2020): q (N, D) queries, k (N, D) keys (pass
 * detached), queue (K, D) negatives (no gradient) or NULL; q, k, queue L2-normalised inside;
 * logits [q·k, q·queueᵀ] / tau, cross-entropy with target 0, mean over N. */
tassl_tensor *tassl_loss_infonce(tassl_tensor *q, tassl_tensor *k, tassl_tensor *queue, float tau);

/* BYOL (Grill et al. 2020): 2 − 2·cos(p, z) averaged over N (one direction; the method sums
 * the two symmetric terms). p (N, D) online prediction, z (N, D) target projection (detached). */
tassl_tensor *tassl_loss_byol(tassl_tensor *p, tassl_tensor *z);

/* SimSiam (Chen & He 2021): −½·cos(p1, sg z2) − ½·cos(p2, sg z1), mean over N; the function
 * detaches z1, z2 itself. */
tassl_tensor *tassl_loss_simsiam(tassl_tensor *p1, tassl_tensor *p2, tassl_tensor *z1,
                                 tassl_tensor *z2);

/* Barlow Twins (Zbontar et al. 2021): C = (z1 − μ1)ᵀ(z2 − μ2)/(N·σ1σ2) with batch statistics
 * (biased std as the reference code's BatchNorm without affine), loss = Σ(1 − Cᵢᵢ)² +
 * λ·Σ_{i≠j} Cᵢⱼ². */
tassl_tensor *tassl_loss_barlow(tassl_tensor *z1, tassl_tensor *z2, float lambda);

/* VICReg (Bardes et al. 2022): λ·MSE(z1, z2) + μ·[hinge(1 − √(Var z1 + ε)) + same for z2]/2
 * (mean over dims) + ν·[off-diagonal Σ Cov(z1)² / D + same for z2] (covariance with N − 1). */
tassl_tensor *tassl_loss_vicreg(tassl_tensor *z1, tassl_tensor *z2, float lambda, float mu,
                                float nu, float eps);

/* Reconstruction: mean squared / absolute error between pred and target (same shape), over the
 * elements where mask is 1 when mask is not NULL (mask broadcast to pred's shape; the mean
 * divides by the masked element count), else over all elements. */
tassl_tensor *tassl_loss_recon_mse(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask);
tassl_tensor *tassl_loss_recon_l1(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask);

/* MAE (He et al. 2022) loss on patch tokens: pred, target (N, T, P) (P = pixels per patch),
 * mask (N, T) 1 = masked; with norm_pix, target normalised per patch (mean/var over P,
 * var unbiased as the reference code, eps 1e-6); MSE per patch, averaged over masked patches. */
tassl_tensor *tassl_loss_mae(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask,
                             bool norm_pix);

#ifdef __cplusplus
}
#endif
#endif
