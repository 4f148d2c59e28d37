/* cases_conv.c — self-check cases of the conv family: tassl_conv and tassl_conv_transpose in 2D
 * and 3D over stride, padding, dilation, groups (depthwise included), bias or none, output
 * padding, non-square shapes, 1×1 kernels, size-1 dims and batch 1, and the shapes that take the
 * implicit-GEMM kernels' special paths on pocl (rows of 8/16/24 outputs, several work-item
 * blocks, a split weight gradient). Shapes are small (a few hundred to a few thousand elements
 * per input) so the finite-difference check stays fast.
 *
 * iparam: [0] stride, [1] pad, [2] dilation, [3] groups, [4] output padding (transposed only),
 * [5] added to the last dim's stride, [6] added to the last dim's pad (non-square cases).
 * Zero means the default (stride 1, pad 0, dilation 1, groups 1). Inputs: x, w[, bias]. */
#include "check.h"

typedef struct case_args {
    int stride[3], pad[3], dil[3], outpad[3], groups;
} case_args;

static case_args args_of(const tassl_check_case *c, int nsp) {
    case_args a;
    for (int j = 0; j < nsp; j++) {
        const int last = j == nsp - 1;
        a.stride[j] = (c->iparam[0] ? c->iparam[0] : 1) + (last ? c->iparam[5] : 0);
        a.pad[j] = c->iparam[1] + (last ? c->iparam[6] : 0);
        a.dil[j] = c->iparam[2] ? c->iparam[2] : 1;
        a.outpad[j] = c->iparam[4];
    }
    a.groups = c->iparam[3] ? c->iparam[3] : 1;
    return a;
}

static tassl_tensor *run_conv(tassl_tensor **in, const tassl_check_case *c) {
    const case_args a = args_of(c, in[0]->ndim - 2);
    return tassl_conv(in[0], in[1], c->nin > 2 ? in[2] : NULL, a.stride, a.pad, a.dil, a.groups);
}

static tassl_tensor *run_conv_transpose(tassl_tensor **in, const tassl_check_case *c) {
    const case_args a = args_of(c, in[0]->ndim - 2);
    return tassl_conv_transpose(in[0], in[1], c->nin > 2 ? in[2] : NULL, a.stride, a.pad, a.outpad,
                                a.dil, a.groups);
}

#define CONV .op = "conv", .fn = run_conv
#define CONVT .op = "conv_transpose", .fn = run_conv_transpose
#define B2 .nin = 3, .ndim = {4, 4, 1} /* 2D with bias */
#define N2 .nin = 2, .ndim = {4, 4}    /* 2D without bias */
#define B3 .nin = 3, .ndim = {5, 5, 1}
#define N3 .nin = 2, .ndim = {5, 5}

/* clang-format off */
static const tassl_check_case cases[] = {
    /* ---- conv2d: x (N, C, H, W), w (Cout, C/groups, kh, kw) ---- */
    {.name = "conv2d_plain", CONV, B2, .shape = {{2, 3, 7, 7}, {4, 3, 3, 3}, {4}}},
    {.name = "conv2d_s2", CONV, B2, .shape = {{2, 3, 9, 9}, {4, 3, 3, 3}, {4}}, .iparam = {2}},
    {.name = "conv2d_p1", CONV, B2, .shape = {{2, 3, 6, 6}, {4, 3, 3, 3}, {4}}, .iparam = {1, 1}},
    {.name = "conv2d_s2_p1_b1", CONV, B2, .shape = {{1, 3, 8, 8}, {5, 3, 3, 3}, {5}},
     .iparam = {2, 1}},
    {.name = "conv2d_d2", CONV, B2, .shape = {{2, 2, 9, 9}, {3, 2, 3, 3}, {3}},
     .iparam = {1, 2, 2}},
    {.name = "conv2d_s2_d2_odd", CONV, N2, .shape = {{2, 2, 11, 10}, {3, 2, 3, 3}},
     .iparam = {2, 1, 2}},
    {.name = "conv2d_g2", CONV, B2, .shape = {{2, 4, 6, 6}, {6, 2, 3, 3}, {6}},
     .iparam = {1, 1, 1, 2}},
    {.name = "conv2d_depthwise", CONV, B2, .shape = {{2, 4, 7, 7}, {4, 1, 3, 3}, {4}},
     .iparam = {1, 1, 1, 4}},
    {.name = "conv2d_depthwise_x2_s2", CONV, N2, .shape = {{2, 3, 7, 6}, {6, 1, 3, 3}},
     .iparam = {2, 1, 1, 3}},
    {.name = "conv2d_nobias", CONV, N2, .shape = {{2, 3, 6, 6}, {4, 3, 3, 3}}},
    {.name = "conv2d_nonsquare", CONV, B2, .shape = {{2, 3, 5, 9}, {4, 3, 2, 3}, {4}},
     .iparam = {1, 0, 1, 1, 0, 1, 1}},
    {.name = "conv2d_1x1", CONV, B2, .shape = {{3, 5, 4, 4}, {6, 5, 1, 1}, {6}}},
    {.name = "conv2d_1x1_s2_b1", CONV, N2, .shape = {{1, 4, 5, 5}, {3, 4, 1, 1}}, .iparam = {2}},
    {.name = "conv2d_size1_dims", CONV, B2, .shape = {{1, 1, 1, 5}, {2, 1, 1, 3}, {2}},
     .iparam = {1, 0, 1, 1, 0, 0, 1}},
    {.name = "conv2d_full_kernel", CONV, B2, .shape = {{2, 3, 4, 4}, {5, 3, 4, 4}, {5}}},
    {.name = "conv2d_pad_gt_k", CONV, N2, .shape = {{2, 2, 3, 3}, {2, 2, 2, 2}},
     .iparam = {1, 2}},
    /* stride 1: the data gradient runs as a forward pass over dy with negated pad/dilation */
    {.name = "conv2d_s1_g2_d2_padx", CONV, B2, .shape = {{2, 4, 7, 6}, {6, 2, 3, 2}, {6}},
     .iparam = {1, 2, 2, 2, 0, 0, 1}},
    /* implicit-GEMM paths (pocl): output rows of 16 (whole-vector copies, masked row edges),
     * of 8 and 24 (8-wide copies), strided rows (element by element), Cout not a multiple of
     * the 6-row tile, two row blocks and two column blocks (Cout 200, 160 positions), and a
     * weight gradient whose position split crosses an image (3 × 100 positions in 2 ranges) */
    {.name = "conv2d_w16_p1", CONV, B2, .shape = {{2, 3, 3, 16}, {7, 3, 3, 3}, {7}},
     .iparam = {1, 1}},
    {.name = "conv2d_w8_p2_d2", CONV, N2, .shape = {{2, 2, 4, 8}, {5, 2, 3, 3}},
     .iparam = {1, 2, 2}},
    {.name = "conv2d_w24_g2_b1", CONV, B2, .shape = {{1, 4, 2, 24}, {6, 2, 3, 3}, {6}},
     .iparam = {1, 1, 1, 2}},
    {.name = "conv2d_w16_s2", CONV, N2, .shape = {{2, 2, 3, 32}, {3, 2, 3, 3}},
     .iparam = {2, 1}},
    {.name = "conv2d_m200_l160", CONV, B2, .shape = {{1, 2, 2, 80}, {200, 2, 1, 3}, {200}},
     .iparam = {1, 0, 1, 1, 0, 0, 1}},
    {.name = "conv2d_wsplit_3x100", CONV, N2, .shape = {{3, 2, 4, 25}, {3, 2, 3, 3}},
     .iparam = {1, 1}},
    {.name = "conv3d_w16_p1", CONV, B3, .shape = {{1, 3, 3, 3, 16}, {5, 3, 3, 3, 3}, {5}},
     .iparam = {1, 1}},
    /* ---- conv3d: x (N, C, D, H, W), w (Cout, C/groups, kd, kh, kw) ---- */
    {.name = "conv3d_plain", CONV, B3, .shape = {{2, 2, 5, 5, 5}, {3, 2, 3, 3, 3}, {3}}},
    {.name = "conv3d_s2_p1_b1", CONV, B3, .shape = {{1, 2, 6, 6, 6}, {3, 2, 3, 3, 3}, {3}},
     .iparam = {2, 1}},
    {.name = "conv3d_g2", CONV, N3, .shape = {{2, 4, 4, 4, 4}, {4, 2, 3, 3, 3}},
     .iparam = {1, 1, 1, 2}},
    {.name = "conv3d_d2", CONV, B3, .shape = {{1, 2, 6, 6, 6}, {2, 2, 2, 2, 2}, {2}},
     .iparam = {1, 0, 2}},
    {.name = "conv3d_depthwise_nonsquare", CONV, B3,
     .shape = {{2, 3, 3, 5, 6}, {3, 1, 3, 3, 2}, {3}}, .iparam = {1, 1, 1, 3, 0, 1, 0}},
    {.name = "conv3d_1x1", CONV, N3, .shape = {{2, 4, 2, 3, 3}, {3, 4, 1, 1, 1}}},
    {.name = "conv3d_s1_g2_d2_p0", CONV, B3, .shape = {{1, 4, 5, 4, 5}, {4, 2, 2, 2, 2}, {4}},
     .iparam = {1, 0, 2, 2}},
    /* ---- conv_transpose2d: x (N, C, H, W), w (C, Cout/groups, kh, kw) ---- */
    {.name = "convt2d_plain", CONVT, B2, .shape = {{2, 3, 5, 5}, {3, 4, 3, 3}, {4}}},
    {.name = "convt2d_s2", CONVT, B2, .shape = {{2, 3, 4, 4}, {3, 2, 3, 3}, {2}}, .iparam = {2}},
    {.name = "convt2d_s2_p1_op1", CONVT, B2, .shape = {{2, 3, 4, 4}, {3, 2, 3, 3}, {2}},
     .iparam = {2, 1, 1, 1, 1}},
    {.name = "convt2d_g2_s2_op1", CONVT, N2, .shape = {{2, 4, 3, 4}, {4, 3, 3, 3}},
     .iparam = {2, 1, 1, 2, 1}},
    {.name = "convt2d_k2s2_b1", CONVT, B2, .shape = {{1, 4, 5, 5}, {4, 3, 2, 2}, {3}},
     .iparam = {2}},
    {.name = "convt2d_d2_op1", CONVT, B2, .shape = {{2, 2, 4, 4}, {2, 3, 3, 3}, {3}},
     .iparam = {1, 1, 2, 1, 1}},
    {.name = "convt2d_depthwise", CONVT, B2, .shape = {{2, 3, 4, 4}, {3, 1, 3, 3}, {3}},
     .iparam = {2, 1, 1, 3}},
    {.name = "convt2d_nonsquare_nobias", CONVT, N2, .shape = {{2, 2, 3, 5}, {2, 3, 3, 2}},
     .iparam = {1, 0, 1, 1, 0, 1, 1}},
    /* ---- conv_transpose3d: x (N, C, D, H, W), w (C, Cout/groups, kd, kh, kw) ---- */
    {.name = "convt3d_plain", CONVT, B3, .shape = {{2, 2, 3, 4, 3}, {2, 3, 3, 3, 3}, {3}}},
    {.name = "convt3d_s2_p1_op1_b1", CONVT, B3, .shape = {{1, 3, 3, 3, 3}, {3, 2, 3, 3, 3}, {2}},
     .iparam = {2, 1, 1, 1, 1}},
    {.name = "convt3d_g2_k2s2", CONVT, N3, .shape = {{2, 4, 3, 3, 2}, {4, 2, 2, 2, 2}},
     .iparam = {2, 0, 1, 2}},
};
/* clang-format on */

const tassl_check_table tassl_cases_conv = {"conv", cases, (int)(sizeof cases / sizeof cases[0])};
