/* cases_linalg.c — self-check cases of matmul (all transpose combinations, batched, broadcast)
 * and linear layers. */
#include "check.h"

static tassl_tensor *f_mm(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_matmul_t(x[0], c->iparam[0], x[1], c->iparam[1]);
}
static tassl_tensor *f_linear(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_linear(x[0], x[1], c->nin > 2 ? x[2] : NULL);
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
    {.name = "linear", .op = "linear", .fn = f_linear, .nin = 3, .ndim = {2, 2, 1},
     .shape = {{8, 12}, {5, 12}, {5}}},
    {.name = "linear_nobias", .op = "linear", .fn = f_linear, .nin = 2, .ndim = {2, 2},
     .shape = {{8, 12}, {5, 12}}},
    {.name = "linear_3d_input", .op = "linear", .fn = f_linear, .nin = 3, .ndim = {3, 2, 1},
     .shape = {{2, 6, 12}, {5, 12}, {5}}},
};

const tassl_check_table tassl_cases_linalg = {"linalg", cases,
                                              (int)(sizeof cases / sizeof cases[0])};
