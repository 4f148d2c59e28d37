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
 * cosine similarity / tau, self-similarity excluded, mean over the 2N anchors (as lightly and
 * MONAI; the SimCLR TF code's loss_a + loss_b is twice this). Symmetric in z1, z2. */
tassl_tensor *tassl_loss_nt_xent(tassl_tensor *z1, tassl_tensor *z2, float tau);

/* MoCo InfoNCE (He et al. 2020; v2: Chen et al. 2020): q (N, D) queries, k (N, D) keys, queue
 * (K, D) negatives or NULL; k and queue are detached inside (no gradient reaches them); q, k,
 * queue L2-normalised inside; logits [q·k, q·queueᵀ] / tau (N, 1 + K), cross-entropy with
 * target 0, mean over N. queue NULL: the batch's other keys are the negatives, logits q·kᵀ / tau
 * (N, N) with target i (MoCo v3's form without its 2·tau factor). */
tassl_tensor *tassl_loss_infonce(tassl_tensor *q, tassl_tensor *k, tassl_tensor *queue, float tau);

/* BYOL (Grill et al. 2020): 2 − 2·cos(p, z) averaged over N (one direction; the method sums
 * the two symmetric terms). p (N, D) online prediction, z (N, D) target projection (detached
 * inside as well: no gradient ever reaches z). */
tassl_tensor *tassl_loss_byol(tassl_tensor *p, tassl_tensor *z);

/* SimSiam (Chen & He 2021): −½·cos(p1, sg z2) − ½·cos(p2, sg z1), mean over N; the function
 * detaches z1, z2 itself. */
tassl_tensor *tassl_loss_simsiam(tassl_tensor *p1, tassl_tensor *p2, tassl_tensor *z1,
                                 tassl_tensor *z2);

/* Barlow Twins (Zbontar et al. 2021): z1, z2 (N, D); C = (z1 − μ1)ᵀ(z2 − μ2)/(N·σ1σ2) (D, D)
 * with batch statistics, σ = √(biased var + 1e-5) as the reference code's BatchNorm1d without
 * affine; loss = Σ(1 − Cᵢᵢ)² + λ·Σ_{i≠j} Cᵢⱼ² (paper λ 5e-3, reference code 0.0051). */
tassl_tensor *tassl_loss_barlow(tassl_tensor *z1, tassl_tensor *z2, float lambda);

/* VICReg (Bardes et al. 2022): z1, z2 (N, D), N >= 2; λ·MSE(z1, z2) + μ·[hinge(1 − √(Var z1 +
 * ε)) + same for z2]/2 (mean over dims) + ν·[off-diagonal Σ Cov(z1)² / D + same for z2]
 * (variance and covariance with N − 1). Reference defaults 25 / 25 / 1, ε 1e-4. */
tassl_tensor *tassl_loss_vicreg(tassl_tensor *z1, tassl_tensor *z2, float lambda, float mu,
                                float nu, float eps);

/* Reconstruction: mean squared / absolute error between pred and target (same shape), over the
 * elements where mask is 1 when mask is not NULL (mask broadcast to pred's shape, e.g. (N, 1, S...)
 * for (N, C, S...); the mean divides by the masked element count; an all-zero mask gives 0; no
 * gradient reaches the mask), else over all elements. Gradients flow to pred and target. */
tassl_tensor *tassl_loss_recon_mse(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask);
tassl_tensor *tassl_loss_recon_l1(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask);

/* MAE (He et al. 2022) loss on patch tokens: pred, target (N, T, P) (P = pixels per patch),
 * mask (N, T) 1 = masked (no gradient); with norm_pix, target normalised per patch (mean/var
 * over P, var unbiased as the reference code, eps 1e-6; P >= 2); MSE per patch, averaged over
 * masked patches (an all-zero mask gives 0). */
tassl_tensor *tassl_loss_mae(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask,
                             bool norm_pix);

#ifdef __cplusplus
}
#endif
#endif
