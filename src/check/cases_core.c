/* cases_core.c — self-check cases of the core family: unary maps, broadcast binary ops,
 * reductions, views/layout, L2 normalisation and dropout. */
#include <math.h>
#include "check.h"

#define IN1(d0) .nin = 1, .ndim = {d0}
#define CASE(nm, f) .name = nm, .op = nm, .fn = f

static tassl_tensor *f_relu(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_relu(x[0]); }
static tassl_tensor *f_leaky(tassl_tensor **x, const tassl_check_case *c) { return tassl_leaky_relu(x[0], c->fparam[0]); }
static tassl_tensor *f_gelu(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_gelu(x[0]); }
static tassl_tensor *f_sigmoid(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_sigmoid(x[0]); }
static tassl_tensor *f_tanh(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_tanh(x[0]); }
static tassl_tensor *f_exp(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_exp(x[0]); }
static tassl_tensor *f_log(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_log(x[0]); }
static tassl_tensor *f_sqrt(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_sqrt(x[0]); }
static tassl_tensor *f_abs(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_abs(x[0]); }
static tassl_tensor *f_neg(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_neg(x[0]); }
static tassl_tensor *f_pow(tassl_tensor **x, const tassl_check_case *c) { return tassl_pow_scalar(x[0], c->fparam[0]); }
static tassl_tensor *f_clamp(tassl_tensor **x, const tassl_check_case *c) { return tassl_clamp(x[0], c->fparam[0], c->fparam[1]); }
static tassl_tensor *f_scale(tassl_tensor **x, const tassl_check_case *c) { return tassl_add_scalar(tassl_scale(x[0], c->fparam[0]), c->fparam[1]); }
static tassl_tensor *f_relu_strided(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    return tassl_relu(tassl_transpose(x[0], 0, 2));
}

static tassl_tensor *f_add(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_add(x[0], x[1]); }
static tassl_tensor *f_sub(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_sub(x[0], x[1]); }
static tassl_tensor *f_mul(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_mul(x[0], x[1]); }
static tassl_tensor *f_div(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_div(x[0], x[1]); }
static tassl_tensor *f_maximum(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_maximum(x[0], x[1]); }
static tassl_tensor *f_minimum(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_minimum(x[0], x[1]); }
static tassl_tensor *f_mul_strided(tassl_tensor **x, const tassl_check_case *c) {
    (void)c; /* a transposed view times a broadcast row */
    return tassl_mul(tassl_transpose(x[0], 0, 1), x[1]);
}

static int axes_of(const tassl_check_case *c, int *axes) {
    int n = c->iparam[0];
    for (int i = 0; i < n; i++) axes[i] = c->iparam[2 + i];
    return n;
}
static tassl_tensor *f_sum(tassl_tensor **x, const tassl_check_case *c) {
    int a[5], n = axes_of(c, a);
    return tassl_sum(x[0], n, a, c->iparam[1]);
}
static tassl_tensor *f_mean(tassl_tensor **x, const tassl_check_case *c) {
    int a[5], n = axes_of(c, a);
    return tassl_mean(x[0], n, a, c->iparam[1]);
}
static tassl_tensor *f_max(tassl_tensor **x, const tassl_check_case *c) {
    int a[5], n = axes_of(c, a);
    return tassl_max(x[0], n, a, c->iparam[1]);
}
static tassl_tensor *f_var(tassl_tensor **x, const tassl_check_case *c) {
    int a[5], n = axes_of(c, a);
    return tassl_var(x[0], n, a, c->iparam[7], c->iparam[1]);
}
static tassl_tensor *f_sum_all(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_sum_all(x[0]); }
static tassl_tensor *f_mean_all(tassl_tensor **x, const tassl_check_case *c) { (void)c; return tassl_mean_all(x[0]); }
static tassl_tensor *f_sum_to(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    return tassl_sum_to(x[0], TASSL_SHAPE(3, 1, 5));
}

static tassl_tensor *f_reshape(tassl_tensor **x, const tassl_check_case *c) {
    (void)c; /* reshape of a non-contiguous view, then a nonlinearity so gradients differ */
    tassl_tensor *t = tassl_permute(x[0], (int[]){2, 0, 1});
    return tassl_tanh(tassl_reshape(t, TASSL_SHAPE(-1, 6)));
}
static tassl_tensor *f_flatten(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    return tassl_sigmoid(tassl_flatten(x[0], 1));
}
static tassl_tensor *f_permute(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    return tassl_contiguous(tassl_permute(x[0], (int[]){3, 1, 0, 2}));
}
static tassl_tensor *f_swap_rows(tassl_tensor **x, const tassl_check_case *c) {
    (void)c; /* a conv weight's channel swap: rows of 9 taps copied (opencl copy_rows), and a
              * strided-source residual-style add */
    tassl_tensor *t = tassl_contiguous(tassl_transpose(x[0], 1, 2)); // (2, 4, 3, 9)
    return tassl_add(t, tassl_transpose(x[1], 1, 2));
}
static tassl_tensor *f_slice(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    tassl_tensor *s = tassl_slice(x[0], 1, 1, 7, 2);
    return tassl_mul(s, tassl_slice(x[0], -1, 0, 6, 2)); /* two interleaved views of one input */
}
static tassl_tensor *f_expand(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    return tassl_mul(tassl_expand(x[0], TASSL_SHAPE(2, 3, 4)), x[1]);
}
static tassl_tensor *f_concat(tassl_tensor **x, const tassl_check_case *c) {
    tassl_tensor *t[3] = {x[0], x[1], x[2]};
    return tassl_exp(tassl_concat(3, t, c->iparam[0]));
}
static tassl_tensor *f_l2n(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_l2_normalize(x[0], c->iparam[0], 1e-12f);
}
static tassl_tensor *f_dropout(tassl_tensor **x, const tassl_check_case *c) {
    return tassl_dropout(x[0], c->fparam[0], true);
}

static const tassl_check_case cases[] = {
    {CASE("relu", f_relu), IN1(4), .shape = {{2, 3, 4, 5}}},
    /* 111 elements: six 16-element float8 chunks of the CPU kernel and a tail of 15 */
    {CASE("relu_tail", f_relu), IN1(2), .shape = {{3, 37}}},
    {CASE("leaky_relu", f_leaky), IN1(2), .shape = {{7, 9}}, .fparam = {0.1f}},
    {CASE("gelu", f_gelu), IN1(3), .shape = {{3, 4, 5}}},
    {CASE("sigmoid", f_sigmoid), IN1(2), .shape = {{6, 7}}},
    {CASE("tanh", f_tanh), IN1(2), .shape = {{6, 7}}},
    {CASE("exp", f_exp), IN1(2), .shape = {{5, 8}}},
    {CASE("log", f_log), IN1(2), .shape = {{5, 8}}, .domain = {TASSL_DOM_POS}},
    {CASE("sqrt", f_sqrt), IN1(2), .shape = {{5, 8}}, .domain = {TASSL_DOM_POS}},
    {CASE("abs", f_abs), IN1(1), .shape = {{33}}},
    {CASE("neg", f_neg), IN1(1), .shape = {{33}}},
    {CASE("pow_2.5", f_pow), IN1(2), .shape = {{4, 6}}, .domain = {TASSL_DOM_POS}, .fparam = {2.5f}},
    {CASE("pow_-1", f_pow), IN1(2), .shape = {{4, 6}}, .domain = {TASSL_DOM_POS}, .fparam = {-1.0f}},
    {CASE("clamp", f_clamp), IN1(2), .shape = {{8, 8}}, .fparam = {-0.5f, 0.7f}},
    {CASE("affine", f_scale), IN1(5), .shape = {{2, 2, 2, 3, 2}}, .fparam = {-1.5f, 0.25f}},
    {CASE("relu_strided", f_relu_strided), IN1(3), .shape = {{3, 4, 5}}},
    {CASE("add", f_add), .nin = 2, .ndim = {3, 3}, .shape = {{2, 3, 4}, {2, 3, 4}}},
    {CASE("add_bcast", f_add), .nin = 2, .ndim = {3, 2}, .shape = {{2, 3, 4}, {3, 1}}},
    {CASE("add_scalar_tensor", f_add), .nin = 2, .ndim = {2, 0}, .shape = {{3, 4}, {0}}},
    {CASE("sub_bcast", f_sub), .nin = 2, .ndim = {2, 2}, .shape = {{4, 1}, {1, 5}}},
    {CASE("mul_bcast_5d", f_mul), .nin = 2, .ndim = {5, 4}, .shape = {{2, 3, 2, 2, 3}, {3, 1, 1, 1}}},
    {CASE("mul_strided", f_mul_strided), .nin = 2, .ndim = {2, 1}, .shape = {{5, 4}, {5}}},
    {CASE("div_bcast", f_div), .nin = 2, .ndim = {2, 1}, .shape = {{3, 5}, {5}},
     .domain = {TASSL_DOM_NORMAL, TASSL_DOM_POS}},
    {CASE("maximum", f_maximum), .nin = 2, .ndim = {2, 2}, .shape = {{4, 5}, {4, 5}},
     .domain = {TASSL_DOM_SPREAD, TASSL_DOM_NORMAL}},
    {CASE("minimum_bcast", f_minimum), .nin = 2, .ndim = {2, 1}, .shape = {{4, 5}, {5}},
     .domain = {TASSL_DOM_SPREAD, TASSL_DOM_NORMAL}},
    {CASE("sum_axis1", f_sum), IN1(3), .shape = {{3, 4, 5}}, .iparam = {1, 0, 1}},
    {CASE("sum_axes02_keep", f_sum), IN1(3), .shape = {{3, 4, 5}}, .iparam = {2, 1, 0, 2}},
    {CASE("sum_last_long", f_sum), IN1(2), .shape = {{3, 1000}}, .iparam = {1, 0, -1}},
    {CASE("mean_axes_5d", f_mean), IN1(5), .shape = {{2, 3, 2, 3, 4}}, .iparam = {3, 0, 0, 2, 4}},
    {CASE("max_axis1", f_max), IN1(3), .shape = {{3, 7, 5}}, .domain = {TASSL_DOM_SPREAD},
     .iparam = {1, 0, 1}},
    {CASE("max_axes_keep", f_max), IN1(3), .shape = {{3, 7, 5}}, .domain = {TASSL_DOM_SPREAD},
     .iparam = {2, 1, 0, 2}},
    {CASE("var_unbiased", f_var), IN1(2), .shape = {{4, 9}}, .iparam = {1, 0, 1, 0, 0, 0, 0, 1}},
    {CASE("var_axes_biased", f_var), IN1(3), .shape = {{4, 3, 5}}, .iparam = {2, 1, 0, 2}},
    {CASE("sum_all", f_sum_all), IN1(4), .shape = {{2, 3, 4, 5}}},
    {CASE("mean_all_long", f_mean_all), IN1(1), .shape = {{5000}}},
    {CASE("sum_to", f_sum_to), IN1(4), .shape = {{2, 3, 4, 5}}},
    {CASE("reshape", f_reshape), IN1(3), .shape = {{2, 3, 4}}},
    {CASE("flatten", f_flatten), IN1(4), .shape = {{2, 3, 2, 2}}},
    {CASE("permute", f_permute), IN1(4), .shape = {{2, 3, 4, 5}}},
    {CASE("slice_step", f_slice), IN1(2), .shape = {{3, 8}}},
    {CASE("swap_rows", f_swap_rows), .nin = 2, .ndim = {4, 4},
     .shape = {{2, 3, 4, 9}, {2, 3, 4, 9}}},
    {CASE("expand", f_expand), .nin = 2, .ndim = {2, 3}, .shape = {{3, 1}, {2, 3, 4}}},
    {CASE("concat_dim1", f_concat), .nin = 3, .ndim = {3, 3, 3},
     .shape = {{2, 1, 3}, {2, 4, 3}, {2, 2, 3}}, .iparam = {1}},
    {CASE("concat_dim0", f_concat), .nin = 3, .ndim = {2, 2, 2},
     .shape = {{1, 5}, {3, 5}, {2, 5}}, .iparam = {0}},
    {CASE("l2_normalize", f_l2n), IN1(2), .shape = {{6, 16}}, .iparam = {1}},
    {CASE("l2_normalize_dim0", f_l2n), IN1(3), .shape = {{5, 3, 2}}, .iparam = {0}},
    {CASE("dropout", f_dropout), IN1(2), .shape = {{16, 32}}, .fparam = {0.3f}},
};

const tassl_check_table tassl_cases_core = {"core", cases, (int)(sizeof cases / sizeof cases[0])};
