/* cases_loss.c — self-check cases of the loss family: softmax / log-softmax over inner and last
 * dims of 2D–5D inputs, cross-entropy ((N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W); class
 * weights, label smoothing, ignore_index present among the targets; each reduction), BCE with
 * logits with and without a broadcast pos_weight, MSE, L1 and smooth L1 (β 1, 0.5, 0).
 *
 * Parameters: softmax iparam[0] = dim. Losses iparam[0] = reduction; cross-entropy iparam[1] =
 * ignore_index, fparam[0] = label smoothing, weight = third input when nin == 3; smooth L1
 * fparam[0] = β. Targets are TASSL_DOM_LABELS / TASSL_DOM_UNIT with their nograd bit set; L1-like
 * cases use a smaller finite-difference step so the |d| kink at 0 is rarely straddled.
 */
#include "check.h"

static tassl_tensor *fn_softmax(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_softmax(in[0], c->iparam[0]);
}
static tassl_tensor *fn_log_softmax(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_log_softmax(in[0], c->iparam[0]);
}
static tassl_tensor *fn_ce(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_cross_entropy(in[0], in[1], c->nin > 2 ? in[2] : NULL, c->fparam[0], c->iparam[1],
                               (tassl_reduction)c->iparam[0]);
}
static tassl_tensor *fn_bce(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_bce_with_logits(in[0], in[1], c->nin > 2 ? in[2] : NULL,
                                 (tassl_reduction)c->iparam[0]);
}
static tassl_tensor *fn_mse(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_mse_loss(in[0], in[1], (tassl_reduction)c->iparam[0]);
}
static tassl_tensor *fn_l1(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_l1_loss(in[0], in[1], (tassl_reduction)c->iparam[0]);
}
static tassl_tensor *fn_smooth_l1(tassl_tensor **in, const tassl_check_case *c) {
    return tassl_smooth_l1_loss(in[0], in[1], c->fparam[0], (tassl_reduction)c->iparam[0]);
}

/* One case per line reads better than the formatter's layout. */
/* clang-format off */
#define MEAN TASSL_REDUCE_MEAN
#define SUM TASSL_REDUCE_SUM
#define NONE TASSL_REDUCE_NONE
#define NOIGN (-100) /* PyTorch's default ignore_index: never a class here */

/* Softmax and log-softmax over `dim` of one input of shape (__VA_ARGS__). */
#define SOFTMAX(nm, nd, dim, ...)                                                                  \
    {.name = "softmax_" nm, .op = "softmax", .fn = fn_softmax, .nin = 1, .ndim = {nd},             \
     .shape = {{__VA_ARGS__}}, .iparam = {dim}},                                                   \
    {.name = "log_softmax_" nm, .op = "log_softmax", .fn = fn_log_softmax, .nin = 1,               \
     .ndim = {nd}, .shape = {{__VA_ARGS__}}, .iparam = {dim}}

/* Cross-entropy: logits (N, C, S...) with C = `ncls`, target (N, S...) of `tnd` dims, class
 * weights when `w`, label smoothing `ls`, ignore_index `ign`. */
#define CE(nm, red, w, ls, ign, ncls, lnd, lshape, tnd, tshape)                                    \
    {.name = "cross_entropy_" nm, .op = "cross_entropy", .fn = fn_ce, .nin = (w) ? 3 : 2,         \
     .ndim = {lnd, tnd, 1}, .shape = {lshape, tshape, {ncls}},                                     \
     .domain = {TASSL_DOM_NORMAL, TASSL_DOM_LABELS, TASSL_DOM_POS}, .labels = ncls,               \
     .nograd = 6, .iparam = {red, ign}, .fparam = {ls}}
#define S(...) {__VA_ARGS__}

/* BCE with logits: x and target of one shape, pos_weight of shape pshape when pnd > 0
 * (its gradient is checked too). */
#define BCE(nm, red, nd, xshape, pnd, pshape)                                                      \
    {.name = "bce_with_logits_" nm, .op = "bce_with_logits", .fn = fn_bce,                        \
     .nin = (pnd) ? 3 : 2, .ndim = {nd, nd, pnd}, .shape = {xshape, xshape, pshape},              \
     .domain = {TASSL_DOM_NORMAL, TASSL_DOM_UNIT, TASSL_DOM_POS}, .nograd = 2, .iparam = {red}}

/* A two-input regression loss of inputs shaped (__VA_ARGS__); eps_: finite-difference step. */
#define REG(nm, opname, f, red, beta, eps_, nd, ...)                                               \
    {.name = nm, .op = opname, .fn = f, .nin = 2, .ndim = {nd, nd},                                \
     .shape = {{__VA_ARGS__}, {__VA_ARGS__}}, .nograd = 2, .eps = eps_, .iparam = {red},          \
     .fparam = {beta}}
#define MSE(nm, red, nd, ...) REG("mse_loss_" nm, "mse_loss", fn_mse, red, 0, 0, nd, __VA_ARGS__)
#define L1(nm, red, nd, ...) REG("l1_loss_" nm, "l1_loss", fn_l1, red, 0, 1e-3f, nd, __VA_ARGS__)
#define SL1(nm, red, beta, nd, ...)                                                                \
    REG("smooth_l1_loss_" nm, "smooth_l1_loss", fn_smooth_l1, red, beta, (beta) > 0 ? 0 : 1e-3f,  \
        nd, __VA_ARGS__)

static const tassl_check_case cases[] = {
    SOFTMAX("2d_dim1", 2, 1, 4, 7),
    SOFTMAX("2d_dim0", 2, 0, 5, 3),
    SOFTMAX("2d_size1", 2, 1, 3, 1),
    SOFTMAX("2d_batch1", 2, -1, 1, 9),
    SOFTMAX("3d_dim1", 3, 1, 2, 4, 5),
    SOFTMAX("3d_last", 3, -1, 3, 2, 5),
    SOFTMAX("4d_dim1", 4, 1, 2, 5, 3, 4),
    SOFTMAX("4d_last", 4, -1, 2, 3, 4, 6),
    SOFTMAX("5d_dim1", 5, 1, 2, 3, 2, 3, 4),
    SOFTMAX("5d_last", 5, -1, 1, 2, 3, 2, 5),

    CE("2d_mean", MEAN, 0, 0.0f, NOIGN, 5, 2, S(6, 5), 1, S(6)),
    CE("2d_sum", SUM, 0, 0.0f, NOIGN, 5, 2, S(6, 5), 1, S(6)),
    CE("2d_none", NONE, 0, 0.0f, NOIGN, 5, 2, S(6, 5), 1, S(6)),
    CE("2d_batch1", MEAN, 0, 0.0f, NOIGN, 3, 2, S(1, 3), 1, S(1)),
    CE("2d_weight_mean", MEAN, 1, 0.0f, NOIGN, 5, 2, S(7, 5), 1, S(7)),
    CE("2d_smooth_mean", MEAN, 0, 0.1f, NOIGN, 5, 2, S(7, 5), 1, S(7)),
    CE("2d_ignore_mean", MEAN, 0, 0.0f, 2, 4, 2, S(9, 4), 1, S(9)),
    CE("2d_all_mean", MEAN, 1, 0.1f, 1, 4, 2, S(9, 4), 1, S(9)),
    CE("2d_all_sum", SUM, 1, 0.1f, 1, 4, 2, S(9, 4), 1, S(9)),
    CE("2d_all_none", NONE, 1, 0.1f, 1, 4, 2, S(9, 4), 1, S(9)),
    CE("3d_mean", MEAN, 0, 0.0f, NOIGN, 4, 3, S(3, 4, 7), 2, S(3, 7)),
    CE("3d_all_mean", MEAN, 1, 0.1f, 0, 4, 3, S(3, 4, 7), 2, S(3, 7)),
    CE("3d_all_none", NONE, 1, 0.1f, 0, 4, 3, S(3, 4, 7), 2, S(3, 7)),
    CE("4d_mean", MEAN, 0, 0.0f, NOIGN, 3, 4, S(2, 3, 4, 5), 3, S(2, 4, 5)),
    CE("4d_all_mean", MEAN, 1, 0.1f, 0, 3, 4, S(2, 3, 4, 5), 3, S(2, 4, 5)),
    CE("4d_all_sum", SUM, 1, 0.1f, 0, 3, 4, S(2, 3, 4, 5), 3, S(2, 4, 5)),
    CE("4d_all_none", NONE, 1, 0.1f, 0, 3, 4, S(2, 3, 4, 5), 3, S(2, 4, 5)),
    CE("4d_smooth_sum", SUM, 0, 0.1f, 2, 5, 4, S(1, 5, 3, 3), 3, S(1, 3, 3)),
    CE("5d_all_mean", MEAN, 1, 0.1f, 1, 3, 5, S(2, 3, 2, 3, 2), 4, S(2, 2, 3, 2)),

    BCE("2d_mean", MEAN, 2, S(4, 5), 0, S(0)),
    BCE("2d_sum", SUM, 2, S(4, 5), 0, S(0)),
    BCE("2d_none", NONE, 2, S(4, 5), 0, S(0)),
    BCE("3d_sum", SUM, 3, S(2, 3, 5), 0, S(0)),
    BCE("pw_2d_mean", MEAN, 2, S(4, 5), 1, S(5)),
    BCE("pw_2d_sum", SUM, 2, S(4, 5), 1, S(5)),
    BCE("pw_2d_none", NONE, 2, S(4, 5), 1, S(5)),
    BCE("pw_4d_mean", MEAN, 4, S(2, 3, 2, 4), 3, S(3, 1, 1)),

    MSE("2d_mean", MEAN, 2, 4, 6),
    MSE("2d_sum", SUM, 2, 4, 6),
    MSE("2d_none", NONE, 2, 4, 6),
    MSE("4d_mean", MEAN, 4, 2, 3, 4, 3),
    /* both inputs differentiated (e.g. a reconstruction against another branch) */
    {.name = "mse_loss_both_grad",
     .op = "mse_loss",
     .fn = fn_mse,
     .nin = 2,
     .ndim = {3, 3},
     .shape = {{2, 3, 5}, {2, 3, 5}},
     .iparam = {MEAN}},
    L1("2d_mean", MEAN, 2, 4, 6),
    L1("2d_sum", SUM, 2, 4, 6),
    L1("2d_none", NONE, 2, 4, 6),
    L1("3d_mean", MEAN, 3, 2, 3, 5),
    SL1("b1_2d_mean", MEAN, 1.0f, 2, 4, 6),
    SL1("b1_2d_sum", SUM, 1.0f, 2, 4, 6),
    SL1("b1_2d_none", NONE, 1.0f, 2, 4, 6),
    SL1("b05_2d_mean", MEAN, 0.5f, 2, 4, 6),
    SL1("b05_3d_sum", SUM, 0.5f, 3, 2, 3, 5),
    SL1("b05_4d_none", NONE, 0.5f, 4, 2, 2, 3, 3),
    SL1("b0_2d_mean", MEAN, 0.0f, 2, 4, 6),
};
/* clang-format on */

const tassl_check_table tassl_cases_loss = {"loss", cases, (int)(sizeof cases / sizeof cases[0])};
