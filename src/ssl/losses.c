/* losses.c — the self-supervised losses as compositions of differentiable ops (ssl_loss.h).
 *
 * No backward code here: every loss is built from ops of ops.h, so the tape differentiates it and
 * each backend runs it. Stop-gradients are tassl_detach views. Each function cites the paper and
 * the reference code whose conventions it follows; tools/gen-ssl-fixtures writes the same
 * formulas in plain PyTorch and tests/test_ssl_loss.c compares values and gradients.
 *
 * Two building blocks recur:
 *   - cosine similarity of matching rows: l2_normalize both (eps 1e-12, F.normalize's) and sum
 *     the product; equal to F.cosine_similarity (eps 1e-8 on the norm product) except for rows of
 *     norm below 1e-8, where both are arbitrary;
 *   - the diagonal of a (D, D) matrix as a strided view (flatten, slice with step D + 1), so
 *     "sum of squared off-diagonal entries" is Σ C² − Σ diag(C)² with no D × D mask in memory;
 *     the two paths' gradients on the diagonal cancel exactly (the same float values), so the
 *     gradient is exact; the value carries the rounding of the larger sum (relative ~1e-6 of
 *     Σ diag², far below the loss's other terms once decorrelated).
 */
#include <math.h>
#include <stdlib.h>
#include "tassl/ops.h"
#include "tassl/autograd.h"
#include "tassl/ssl_loss.h"

#define NORM_EPS 1e-12f /* F.normalize's default */
#define BN_EPS 1e-5f    /* BatchNorm1d's default, as Barlow Twins' reference code */
#define MAE_EPS 1e-6f   /* models_mae.forward_loss */
#define EXCLUDE (-1e9f) /* SimCLR's LARGE_NUM: exp(−1e9 − max) is exactly 0 in float */

static void check_2d(const tassl_tensor *z, const char *fn, const char *arg) {
    char b[64];
    TASSL_CHECK(z && z->ndim == 2 && z->shape[0] >= 1 && z->shape[1] >= 1,
                "%s: %s must be (N, D) with N, D >= 1, got %s", fn, arg,
                z ? tassl_shape_str(z, b, 64) : "NULL");
}

static void check_same(const tassl_tensor *a, const tassl_tensor *b, const char *fn, const char *an,
                       const char *bn) {
    char x[64], y[64];
    TASSL_CHECK(tassl_same_shape(a, b), "%s: %s %s and %s %s differ", fn, an,
                tassl_shape_str(a, x, 64), bn, tassl_shape_str(b, y, 64));
}

/* A scalar NaN on a context that has just been marked failed (host allocation failure). */
static tassl_tensor *fail_nomem(tassl_ctx *ctx, const char *fn) {
    tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory for the targets", fn);
    tassl_ctx_fail(ctx, TASSL_ERR_NOMEM);
    return tassl_scalar(ctx, NAN);
}

/* Class targets t[i] = (i + shift) mod n as floats, shape (n). NULL on host allocation failure. */
static tassl_tensor *cyclic_targets(tassl_ctx *ctx, int64_t n, int64_t shift) {
    float *t = malloc((size_t)n * sizeof *t);
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++)
        t[i] = (float)((i + shift) % n);
    tassl_tensor *y = tassl_from_host(ctx, 1, (int64_t[]){n}, t);
    free(t);
    return y;
}

/* cos(a_i, b_i) per row: a, b (N, D) → (N). */
static tassl_tensor *cosine_rows(tassl_tensor *a, tassl_tensor *b) {
    tassl_tensor *an = tassl_l2_normalize(a, 1, NORM_EPS), *bn = tassl_l2_normalize(b, 1, NORM_EPS);
    return tassl_sum(tassl_mul(an, bn), 1, (int[]){1}, false);
}

/* The diagonal of a square (D, D) matrix as a (D) view (gradients scatter back through slice). */
static tassl_tensor *diagonal(tassl_tensor *c) {
    int64_t d = c->shape[0];
    tassl_tensor *flat = tassl_reshape(c, 1, (int64_t[]){d * d});
    return tassl_slice(flat, 0, 0, d * d, d + 1);
}

static tassl_tensor *sum_sq(tassl_tensor *x) {
    return tassl_sum_all(tassl_mul(x, x));
}

/* Σ_{i≠j} C_ij² of a square matrix. */
static tassl_tensor *off_diag_sq(tassl_tensor *c) {
    return tassl_sub(sum_sq(c), sum_sq(diagonal(c)));
}

/* ---- contrastive ----------------------------------------------------------------------------- */

/* SimCLR (Chen et al. 2020, eq. 1): ℓ(i, j) = −log exp(sim(z_i, z_j)/τ) / Σ_{k≠i} exp(sim(z_i,
 * z_k)/τ) over the 2N views, averaged over all 2N anchors — lightly's NTXentLoss and MONAI's
 * ContrastiveLoss; the SimCLR TF code's (loss_a + loss_b) is twice this. The self-similarity is
 * excluded as in the TF code: −1e9 added on the diagonal, whose softmax weight (and so gradient)
 * is exactly 0, which makes values and gradients those of removing the diagonal. */
tassl_tensor *tassl_loss_nt_xent(tassl_tensor *z1, tassl_tensor *z2, float tau) {
    static const char fn[] = "tassl_loss_nt_xent";
    check_2d(z1, fn, "z1");
    check_same(z1, z2, fn, "z1", "z2");
    TASSL_CHECK(tau > 0.0f && isfinite(tau), "%s: tau = %g, expected > 0", fn, tau);
    tassl_ctx *ctx = z1->ctx;
    int64_t n = z1->shape[0], m = 2 * n;
    tassl_tensor *views[2] = {z1, z2};
    tassl_tensor *z = tassl_l2_normalize(tassl_concat(2, views, 0), 1, NORM_EPS);   // (2N, D)
    tassl_tensor *sim = tassl_scale(tassl_matmul_t(z, false, z, true), 1.0f / tau); // (2N, 2N)
    tassl_tensor *mask = tassl_zeros(ctx, 1, (int64_t[]){m * m});
    tassl_fill_(tassl_slice(mask, 0, 0, m * m, m + 1), EXCLUDE); /* the diagonal */
    sim = tassl_add(sim, tassl_reshape(mask, 2, (int64_t[]){m, m}));
    tassl_tensor *target = cyclic_targets(ctx, m, n); /* view i's positive is i + N mod 2N */
    if (!target) return fail_nomem(ctx, fn);
    return tassl_cross_entropy(sim, target, NULL, 0.0f, -100, TASSL_REDUCE_MEAN);
}

/* MoCo (He et al. 2020, eq. 1; v2 Chen et al. 2020) as moco/builder.py: q and k normalised,
 * l_pos = q·k (N, 1), l_neg = q·queueᵀ (N, K), logits [l_pos, l_neg] / τ, cross-entropy with
 * class 0, mean over N. k and queue are detached here (the key encoder gets no gradient in MoCo)
 * and the queue is normalised too (a no-op for MoCo's queue of normalised keys). Without a queue,
 * the other keys of the batch are the negatives: logits q·kᵀ / τ (N, N), class i (MoCo v3's form,
 * without its 2τ factor). */
tassl_tensor *tassl_loss_infonce(tassl_tensor *q, tassl_tensor *k, tassl_tensor *queue, float tau) {
    static const char fn[] = "tassl_loss_infonce";
    check_2d(q, fn, "q");
    check_same(q, k, fn, "q", "k");
    TASSL_CHECK(tau > 0.0f && isfinite(tau), "%s: tau = %g, expected > 0", fn, tau);
    tassl_ctx *ctx = q->ctx;
    int64_t n = q->shape[0];
    tassl_tensor *qn = tassl_l2_normalize(q, 1, NORM_EPS);               // (N, D)
    tassl_tensor *kn = tassl_l2_normalize(tassl_detach(k), 1, NORM_EPS); // (N, D)
    tassl_tensor *logits, *target;
    if (queue) {
        char b[64];
        TASSL_CHECK(queue->ndim == 2 && queue->shape[1] == q->shape[1],
                    "%s: queue must be (K, %lld), got %s", fn, (long long)q->shape[1],
                    tassl_shape_str(queue, b, 64));
        tassl_tensor *qu = tassl_l2_normalize(tassl_detach(queue), 1, NORM_EPS); // (K, D)
        tassl_tensor *parts[2] = {
            tassl_sum(tassl_mul(qn, kn), 1, (int[]){1}, true), // (N, 1)
            tassl_matmul_t(qn, false, qu, true),               // (N, K)
        };
        logits = tassl_concat(2, parts, 1); // (N, 1 + K)
        target = tassl_zeros(ctx, 1, (int64_t[]){n});
    } else {
        logits = tassl_matmul_t(qn, false, kn, true); // (N, N)
        target = cyclic_targets(ctx, n, 0);
        if (!target) return fail_nomem(ctx, fn);
    }
    logits = tassl_scale(logits, 1.0f / tau);
    return tassl_cross_entropy(logits, target, NULL, 0.0f, -100, TASSL_REDUCE_MEAN);
}

/* ---- non-contrastive ------------------------------------------------------------------------- */

/* BYOL (Grill et al. 2020, eq. 2): ‖p̄ − z̄‖² = 2 − 2·⟨p, z⟩/(‖p‖‖z‖), mean over N, as
 * byol-pytorch's loss_fn. z is detached here too (the target network gets no gradient). */
tassl_tensor *tassl_loss_byol(tassl_tensor *p, tassl_tensor *z) {
    check_2d(p, "tassl_loss_byol", "p");
    check_same(p, z, "tassl_loss_byol", "p", "z");
    tassl_tensor *c = cosine_rows(p, tassl_detach(z)); // (N)
    return tassl_add_scalar(tassl_scale(tassl_mean_all(c), -2.0f), 2.0f);
}

/* SimSiam (Chen & He 2021, eq. 3–4 and Algorithm 1): D(p, z) = −cos(p, sg z), loss =
 * ½D(p1, z2) + ½D(p2, z1), each term a mean over N. */
tassl_tensor *tassl_loss_simsiam(tassl_tensor *p1, tassl_tensor *p2, tassl_tensor *z1,
                                 tassl_tensor *z2) {
    static const char fn[] = "tassl_loss_simsiam";
    check_2d(p1, fn, "p1");
    check_same(p1, p2, fn, "p1", "p2");
    check_same(p1, z1, fn, "p1", "z1");
    check_same(p1, z2, fn, "p1", "z2");
    tassl_tensor *a = tassl_mean_all(cosine_rows(p1, tassl_detach(z2)));
    tassl_tensor *b = tassl_mean_all(cosine_rows(p2, tassl_detach(z1)));
    return tassl_scale(tassl_add(a, b), -0.5f);
}

/* (z − μ) / √(σ² + eps) per column with the biased batch variance: BatchNorm1d without affine in
 * training mode. z (N, D) → (N, D). */
static tassl_tensor *standardise(tassl_tensor *z, float eps) {
    int ax = 0;
    tassl_tensor *mu = tassl_mean(z, 1, &ax, true);    // (1, D)
    tassl_tensor *var = tassl_var(z, 1, &ax, 0, true); // (1, D)
    return tassl_div(tassl_sub(z, mu), tassl_sqrt(tassl_add_scalar(var, eps)));
}

/* Barlow Twins (Zbontar et al. 2021, eq. 1–2) as facebookresearch/barlowtwins: C = bn(z1)ᵀ bn(z2)
 * / N with bn = BatchNorm1d(affine=False) (biased variance, eps 1e-5), loss = Σ_i (1 − C_ii)² +
 * λ·Σ_{i≠j} C_ij². */
tassl_tensor *tassl_loss_barlow(tassl_tensor *z1, tassl_tensor *z2, float lambda) {
    static const char fn[] = "tassl_loss_barlow";
    check_2d(z1, fn, "z1");
    check_same(z1, z2, fn, "z1", "z2");
    int64_t n = z1->shape[0];
    tassl_tensor *a = standardise(z1, BN_EPS), *b = standardise(z2, BN_EPS);           // (N, D)
    tassl_tensor *c = tassl_scale(tassl_matmul_t(a, true, b, false), 1.0f / (float)n); // (D, D)
    tassl_tensor *on = sum_sq(tassl_add_scalar(diagonal(c), -1.0f));
    return tassl_add(on, tassl_scale(off_diag_sq(c), lambda));
}

/* One branch of VICReg's regularisers: the variance hinge mean_j relu(1 − √(Var_j + eps)) and the
 * covariance term Σ_{i≠j} Cov_ij² / D, with the unbiased covariance of z (N, D). */
static void vicreg_branch(tassl_tensor *z, float eps, tassl_tensor **hinge, tassl_tensor **cov) {
    int64_t n = z->shape[0], d = z->shape[1];
    int ax = 0;
    tassl_tensor *zc = tassl_sub(z, tassl_mean(z, 1, &ax, true)); // (N, D)
    tassl_tensor *c = tassl_scale(tassl_matmul_t(zc, true, zc, false), 1.0f / (float)(n - 1));
    tassl_tensor *var = diagonal(c); /* the unbiased variance, the same values as torch.var */
    tassl_tensor *std = tassl_sqrt(tassl_add_scalar(var, eps));
    *hinge = tassl_mean_all(tassl_relu(tassl_add_scalar(tassl_neg(std), 1.0f)));
    *cov = tassl_scale(off_diag_sq(c), 1.0f / (float)d);
}

/* VICReg (Bardes et al. 2022, eq. 1–6) as facebookresearch/vicreg main_vicreg.py: λ·MSE(z1, z2) +
 * μ·(hinge(z1) + hinge(z2))/2 + ν·(cov(z1) + cov(z2)). */
tassl_tensor *tassl_loss_vicreg(tassl_tensor *z1, tassl_tensor *z2, float lambda, float mu,
                                float nu, float eps) {
    static const char fn[] = "tassl_loss_vicreg";
    check_2d(z1, fn, "z1");
    check_same(z1, z2, fn, "z1", "z2");
    TASSL_CHECK(z1->shape[0] >= 2, "%s: the covariance needs N >= 2 (got %lld)", fn,
                (long long)z1->shape[0]);
    tassl_tensor *h1, *h2, *c1, *c2;
    vicreg_branch(z1, eps, &h1, &c1);
    vicreg_branch(z2, eps, &h2, &c2);
    tassl_tensor *inv = tassl_scale(tassl_mse_loss(z1, z2, TASSL_REDUCE_MEAN), lambda);
    tassl_tensor *var = tassl_scale(tassl_add(h1, h2), 0.5f * mu);
    tassl_tensor *cov = tassl_scale(tassl_add(c1, c2), nu);
    return tassl_add(tassl_add(inv, var), cov);
}

/* ---- generative ------------------------------------------------------------------------------ */

/* Σ err·mask / (masked element count), err (S...) elementwise, mask broadcast to err's shape.
 * The count is Σ mask times the broadcast factor numel(err)/numel(mask); an empty mask gives 0
 * (the count is clamped to 1; SimMIM's "+ 1e-5" likewise gives 0). */
static tassl_tensor *masked_mean(tassl_tensor *err, tassl_tensor *mask, const char *fn) {
    char a[64], b[64];
    int ok = mask->ndim <= err->ndim;
    for (int i = 0; ok && i < mask->ndim; i++) {
        int64_t m = mask->shape[mask->ndim - 1 - i], e = err->shape[err->ndim - 1 - i];
        ok = m == e || m == 1;
    }
    TASSL_CHECK(ok, "%s: mask %s does not broadcast to %s", fn, tassl_shape_str(mask, a, 64),
                tassl_shape_str(err, b, 64));
    tassl_tensor *m = tassl_detach(mask);
    tassl_tensor *num = tassl_sum_all(tassl_mul(err, m));
    int64_t nm = tassl_numel(mask), ne = tassl_numel(err);
    tassl_tensor *count = tassl_sum_all(m);
    if (nm > 0 && ne != nm) count = tassl_scale(count, (float)(ne / nm));
    return tassl_div(num, tassl_clamp(count, 1.0f, INFINITY));
}

static tassl_tensor *recon(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask, int l1,
                           const char *fn) {
    check_same(pred, target, fn, "pred", "target");
    if (!mask)
        return l1 ? tassl_l1_loss(pred, target, TASSL_REDUCE_MEAN)
                  : tassl_mse_loss(pred, target, TASSL_REDUCE_MEAN);
    tassl_tensor *err = l1 ? tassl_l1_loss(pred, target, TASSL_REDUCE_NONE)
                           : tassl_mse_loss(pred, target, TASSL_REDUCE_NONE);
    return masked_mean(err, mask, fn);
}

/* Denoising / in-painting / Models Genesis restoration (MSE) and SimMIM (Xie et al. 2022, L1 over
 * the masked pixels divided by their count, as simmim.py up to its 1e-5 guard). */
tassl_tensor *tassl_loss_recon_mse(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask) {
    return recon(pred, target, mask, 0, "tassl_loss_recon_mse");
}

tassl_tensor *tassl_loss_recon_l1(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask) {
    return recon(pred, target, mask, 1, "tassl_loss_recon_l1");
}

/* MAE (He et al. 2022, §3) as models_mae.forward_loss: optional per-patch normalisation of the
 * target ((t − mean) / √(var + 1e-6), unbiased var over P), MSE per patch (mean over P), mean
 * over the masked patches. */
tassl_tensor *tassl_loss_mae(tassl_tensor *pred, tassl_tensor *target, tassl_tensor *mask,
                             bool norm_pix) {
    static const char fn[] = "tassl_loss_mae";
    char a[64], b[64];
    TASSL_CHECK(pred->ndim == 3, "%s: pred must be (N, T, P), got %s", fn,
                tassl_shape_str(pred, a, 64));
    check_same(pred, target, fn, "pred", "target");
    TASSL_CHECK(mask->ndim == 2 && mask->shape[0] == pred->shape[0] &&
                    mask->shape[1] == pred->shape[1],
                "%s: mask must be (N, T) = (%lld, %lld), got %s", fn, (long long)pred->shape[0],
                (long long)pred->shape[1], tassl_shape_str(mask, b, 64));
    int last = 2;
    tassl_tensor *t = target;
    if (norm_pix) {
        TASSL_CHECK(pred->shape[2] >= 2, "%s: norm_pix needs P >= 2 pixels per patch", fn);
        tassl_tensor *mu = tassl_mean(t, 1, &last, true);    // (N, T, 1)
        tassl_tensor *var = tassl_var(t, 1, &last, 1, true); // (N, T, 1)
        t = tassl_div(tassl_sub(t, mu), tassl_sqrt(tassl_add_scalar(var, MAE_EPS)));
    }
    tassl_tensor *per_patch = tassl_mean(tassl_mse_loss(pred, t, TASSL_REDUCE_NONE), 1, &last,
                                         false); // (N, T)
    return masked_mean(per_patch, mask, fn);
}
