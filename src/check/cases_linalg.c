/* cases_linalg.c — self-check cases of matmul (all transpose combinations, batched, broadcast)
 * and linear layers. The GEMM cases also cover the fast device GEMMs (cl/gemm.cl on pocl): odd
 * sizes, sizes that are not multiples of the register tile, several k-blocks, batches sharing
 * one operand (stride 0), operands at an offset in their buffer (row slices), and gradients
 * accumulated into a nonzero gradient (beta 1) when an input feeds two products. */
#include "check.h"

static tassl_tensor *f_mm(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_matmul_t(x[0], c->iparam[0], x[1], c->iparam[1]);
}
static tassl_tensor *f_linear(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_linear(x[0], x[1], c->nin > 2 ? x[2] : NULL);
}

/* y = a[r0:] · op(b): a slice along dim 0 (rows, or batches) is contiguous at an offset.
 * iparam: ta, tb, r0. */
static tassl_tensor *f_mm_slice(tassl_tensor **x, const tassl_check_case *c) {
    tassl_tensor *a = tassl_slice(x[0], 0, c->iparam[2], x[0]->shape[0], 1);
    return tassl_matmul_t(a, c->iparam[0], x[1], c->iparam[1]);
}
/* y = a·b + a·c: a's gradient is accumulated by two backward GEMMs (the second with beta 1). */
static tassl_tensor *f_mm_shared(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_add(tassl_matmul_t(x[0], c->iparam[0], x[1], c->iparam[1]),
                     tassl_matmul_t(x[0], c->iparam[0], x[2], c->iparam[1]));
}

#define MM(nm, ta, tb, da, db, ...) \
    {.name = nm, .op = "matmul", .fn = f_mm, .nin = 2, .ndim = {da, db}, .shape = {__VA_ARGS__}, \
     .iparam = {ta, tb}}

static const tassl_check_case cases[] = {
    MM("matmul_nn", 0, 0, 2, 2, {7, 5}, {5, 6}),
    MM("matmul_nt", 0, 1, 2, 2, {7, 5}, {6, 5}),
    MM("matmul_tn", 1, 0, 2, 2, {5, 7}, {5, 6}),
    MM("matmul_tt", 1, 1, 2, 2, {5, 7}, {6, 5}),
    MM("matmul_batched", 0, 0, 3, 3, {3, 4, 5}, {3, 5, 2}),
    MM("matmul_batched_tt", 1, 1, 3, 3, {3, 5, 4}, {3, 2, 5}),
    MM("matmul_3d_2d", 0, 0, 3, 2, {3, 4, 5}, {5, 6}),
    MM("matmul_3d_2d_ta", 1, 1, 3, 2, {3, 5, 4}, {6, 5}),
    MM("matmul_2d_3d", 0, 0, 2, 3, {4, 5}, {3, 5, 6}),
    MM("matmul_2d_3d_tb", 0, 1, 2, 3, {4, 5}, {3, 6, 5}),
    MM("matmul_big_k", 0, 0, 2, 2, {9, 300}, {300, 7}),
    MM("matmul_1x1x1", 0, 0, 2, 2, {1, 1}, {1, 1}),
    MM("matmul_7x300x9_nn", 0, 0, 2, 2, {7, 9}, {9, 300}),
    MM("matmul_7x300x9_tt", 1, 1, 2, 2, {9, 7}, {300, 9}),
    MM("matmul_odd_nt", 0, 1, 2, 2, {13, 29}, {37, 29}),
    MM("matmul_odd_tn", 1, 0, 2, 2, {29, 13}, {29, 37}),
    /* k = 530: three k-blocks; n = 75: full and edge tiles; nt: the transposing B pack */
    MM("matmul_kblocks_nn", 0, 0, 2, 2, {37, 530}, {530, 75}),
    MM("matmul_kblocks_nt", 0, 1, 2, 2, {37, 530}, {75, 530}),
    MM("matmul_kblocks_tt", 1, 1, 2, 2, {530, 37}, {75, 530}),
    MM("matmul_batched_odd_nt", 0, 1, 3, 3, {3, 7, 70}, {3, 33, 70}),
    MM("matmul_shared_b_tn", 1, 0, 3, 2, {4, 19, 11}, {19, 23}),  /* B stride 0 */
    MM("matmul_shared_a_nt", 0, 1, 2, 3, {11, 19}, {4, 23, 19}),  /* A stride 0 */
    {.name = "matmul_offset_nn", .op = "matmul", .fn = f_mm_slice, .nin = 2, .ndim = {2, 2},
     .shape = {{12, 40}, {40, 21}}, .iparam = {0, 0, 3}},
    {.name = "matmul_offset_batched_tn", .op = "matmul", .fn = f_mm_slice, .nin = 2,
     .ndim = {3, 3}, .shape = {{4, 40, 9}, {3, 40, 21}}, .iparam = {1, 0, 1}},
    {.name = "matmul_accumulate_nn", .op = "matmul", .fn = f_mm_shared, .nin = 3,
     .ndim = {2, 2, 2}, .shape = {{17, 45}, {45, 30}, {45, 30}}, .iparam = {0, 0}},
    {.name = "matmul_accumulate_tt", .op = "matmul", .fn = f_mm_shared, .nin = 3,
     .ndim = {3, 3, 3}, .shape = {{2, 45, 17}, {2, 30, 45}, {2, 30, 45}}, .iparam = {1, 1}},
    {.name = "linear", .op = "linear", .fn = f_linear, .nin = 3, .ndim = {2, 2, 1},
     .shape = {{8, 12}, {5, 12}, {5}}},
    {.name = "linear_nobias", .op = "linear", .fn = f_linear, .nin = 2, .ndim = {2, 2},
     .shape = {{8, 12}, {5, 12}}},
    {.name = "linear_3d_input", .op = "linear", .fn = f_linear, .nin = 3, .ndim = {3, 2, 1},
     .shape = {{2, 6, 12}, {5, 12}, {5}}},
};

const tassl_check_table tassl_cases_linalg = {"linalg", cases,
                                              (int)(sizeof cases / sizeof cases[0])};
