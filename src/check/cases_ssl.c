/* cases_ssl.c — self-check cases of the SSL losses (ssl_loss.h): NT-Xent (τ 0.5 / 0.1 / 0.05),
 * InfoNCE with and without a queue, BYOL, SimSiam, Barlow Twins (λ 5e-3 and 1), VICReg with the
 * variance hinge all active and all inactive, masked and unmasked MSE / L1 reconstruction (2D with
 * a broadcast (N, 1, H, W) mask, 3D with a full mask) and the MAE loss with and without norm_pix.
 *
 * Stop-gradient inputs (MoCo's k and queue, BYOL's z, SimSiam's z1 and z2) have their nograd bit
 * set: the loss depends on them but by design returns no gradient, so finite differences would
 * disagree. Masks are TASSL_DOM_LABELS with 2 labels (0/1, never differentiated).
 *
 * Parameters: fparam[0] = τ (NT-Xent, InfoNCE) or λ (Barlow Twins); VICReg fparam = λ, μ, ν, ε
 * and iparam[0] = percentage the inputs are scaled by first (50: stds near 0.5, under the
 * hinge's target 1; 300: near 3, over it; so finite differences stay clear of the kink);
 * reconstruction iparam[0] = 1 for L1; MAE iparam[0] = norm_pix.
 */
#include "check.h"
#include "tassl/ssl_loss.h"

static tassl_tensor *f_nt_xent(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_loss_nt_xent(in[0], in[1], c->fparam[0]);
}
static tassl_tensor *f_infonce(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_loss_infonce(in[0], in[1], c->nin > 2 ? in[2] : NULL, c->fparam[0]);
}
static tassl_tensor *f_byol(tassl_tensor **in, const tassl_check_case *c) {
    (void)c;
    return tassl_loss_byol(in[0], in[1]);
}
static tassl_tensor *f_simsiam(tassl_tensor **in, const tassl_check_case *c) {
    (void)c;
    return tassl_loss_simsiam(in[0], in[1], in[2], in[3]);
}
static tassl_tensor *f_barlow(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_loss_barlow(in[0], in[1], c->fparam[0]);
}
static tassl_tensor *f_vicreg(tassl_tensor **in, const tassl_check_case *c) {
    float s = (float)c->iparam[0] / 100.0f;
    return tassl_loss_vicreg(tassl_scale(in[0], s), tassl_scale(in[1], s), c->fparam[0],
                             c->fparam[1], c->fparam[2], c->fparam[3]);
}
static tassl_tensor *f_recon(tassl_tensor **in, const tassl_check_case *c) {
    tassl_tensor *mask = c->nin > 2 ? in[2] : NULL;
    return c->iparam[0] ? tassl_loss_recon_l1(in[0], in[1], mask)
                        : tassl_loss_recon_mse(in[0], in[1], mask);
}
static tassl_tensor *f_mae(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_loss_mae(in[0], in[1], in[2], c->iparam[0] != 0);
}

/* One case per line reads better than the formatter's layout. */
/* clang-format off */
#define S(...) {__VA_ARGS__}
#define LAB TASSL_DOM_LABELS

/* Two (N, D) views. */
#define PAIR(nm, opname, f, n, d, eps_, ...)                                                       \
    {.name = "ssl_" nm, .op = opname, .fn = f, .nin = 2, .ndim = {2, 2},                          \
     .shape = {{n, d}, {n, d}}, .eps = eps_, .fparam = {__VA_ARGS__}}

static const tassl_check_case cases[] = {
    PAIR("nt_xent_tau0.5", "loss_nt_xent", f_nt_xent, 4, 8, 0, 0.5f),
    PAIR("nt_xent_tau0.1", "loss_nt_xent", f_nt_xent, 5, 6, 3e-3f, 0.1f),
    PAIR("nt_xent_tau0.05", "loss_nt_xent", f_nt_xent, 3, 4, 1e-3f, 0.05f),
    {.name = "ssl_infonce_queue", .op = "loss_infonce", .fn = f_infonce, .nin = 3,
     .ndim = {2, 2, 2}, .shape = {{4, 6}, {4, 6}, {10, 6}}, .nograd = 6, .eps = 3e-3f,
     .fparam = {0.2f}},
    {.name = "ssl_infonce_no_queue", .op = "loss_infonce", .fn = f_infonce, .nin = 2,
     .ndim = {2, 2}, .shape = {{5, 6}, {5, 6}}, .nograd = 2, .eps = 3e-3f, .fparam = {0.2f}},
    {.name = "ssl_byol", .op = "loss_byol", .fn = f_byol, .nin = 2, .ndim = {2, 2},
     .shape = {{4, 6}, {4, 6}}, .nograd = 2},
    {.name = "ssl_simsiam", .op = "loss_simsiam", .fn = f_simsiam, .nin = 4,
     .ndim = {2, 2, 2, 2}, .shape = {{4, 6}, {4, 6}, {4, 6}, {4, 6}}, .nograd = 12},
    PAIR("barlow_l5e-3", "loss_barlow", f_barlow, 8, 5, 0, 5e-3f),
    PAIR("barlow_l1", "loss_barlow", f_barlow, 6, 4, 0, 1.0f),
    {.name = "ssl_vicreg_hinge_active", .op = "loss_vicreg", .fn = f_vicreg, .nin = 2,
     .ndim = {2, 2}, .shape = {{8, 6}, {8, 6}}, .eps = 3e-3f, .iparam = {50},
     .fparam = {25.0f, 25.0f, 1.0f, 1e-4f}},
    {.name = "ssl_vicreg_hinge_inactive", .op = "loss_vicreg", .fn = f_vicreg, .nin = 2,
     .ndim = {2, 2}, .shape = {{6, 5}, {6, 5}}, .eps = 3e-3f, .iparam = {300},
     .fparam = {25.0f, 25.0f, 1.0f, 1e-4f}},
    {.name = "ssl_recon_mse", .op = "loss_recon_mse", .fn = f_recon, .nin = 2, .ndim = {4, 4},
     .shape = {{2, 2, 3, 3}, {2, 2, 3, 3}}},
    {.name = "ssl_recon_mse_mask_bcast", .op = "loss_recon_mse", .fn = f_recon, .nin = 3,
     .ndim = {4, 4, 4}, .shape = {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 1, 4, 4}},
     .domain = {0, 0, LAB}, .labels = 2},
    {.name = "ssl_recon_l1_mask_3d", .op = "loss_recon_l1", .fn = f_recon, .nin = 3,
     .ndim = {5, 5, 5}, .shape = {{2, 1, 2, 3, 4}, {2, 1, 2, 3, 4}, {2, 1, 2, 3, 4}},
     .domain = {0, 0, LAB}, .labels = 2, .eps = 1e-3f, .iparam = {1}},
    {.name = "ssl_recon_l1", .op = "loss_recon_l1", .fn = f_recon, .nin = 2, .ndim = {3, 3},
     .shape = {{2, 3, 5}, {2, 3, 5}}, .eps = 1e-3f, .iparam = {1}},
    {.name = "ssl_mae_norm_pix", .op = "loss_mae", .fn = f_mae, .nin = 3, .ndim = {3, 3, 2},
     .shape = {{2, 6, 8}, {2, 6, 8}, {2, 6}}, .domain = {0, 0, LAB}, .labels = 2,
     .eps = 3e-3f, .iparam = {1}},
    {.name = "ssl_mae_plain", .op = "loss_mae", .fn = f_mae, .nin = 3, .ndim = {3, 3, 2},
     .shape = {{2, 5, 4}, {2, 5, 4}, {2, 5}}, .domain = {0, 0, LAB}, .labels = 2,
     .iparam = {0}},
};
/* clang-format on */

const tassl_check_table tassl_cases_ssl = {"ssl", cases, (int)(sizeof cases / sizeof cases[0])};
