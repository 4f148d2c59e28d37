/* test_conv.c — tests of the conv family beyond the op harness (which already compares device vs
 * reference and checks gradients by finite differences):
 *   - hand-computed values (window sums, identity kernels, stride picking, transposed spreading);
 *   - output shape formulas of conv and conv_transpose;
 *   - tassl_conv / tassl_conv_transpose against direct loops written here (no im2col), 2D and 3D,
 *     stride, padding, dilation, groups, bias;
 *   - adjointness: <conv(x), y> == <x, conv_transpose(y)> with the same weight;
 *   - batch chunking: a tiny TASSL_CONV_CHUNK gives the same forward and backward results;
 *   - the stride-1 data gradient (a forward pass over dy) agrees with the general col2im path;
 *   - the implicit-GEMM convolution (pocl CPU devices) agrees with the im2col + GEMM path
 *     (TASSL_CONV=im2col) and the reference on every output and gradient, on shapes that take
 *     its special paths and on benchmark-like ones.
 * Every test runs on ref and, when one opens, on the OpenCL CPU device. The chunking and data
 * gradient tests force the im2col path (TASSL_CONV=im2col), which is the one they are about. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tassl/tassl.h"

/* ---- devices ------------------------------------------------------------------------------- */

static tassl_device *devs[2];
static int ndevs;

static int setup(void **state) {
    (void)state;
    assert_int_equal(tassl_device_open("ref", &devs[ndevs]), TASSL_OK);
    ndevs++;
    if (tassl_device_open("cpu", &devs[ndevs]) == TASSL_OK)
        ndevs++;
    else
        printf("# no OpenCL CPU device (%s): testing ref only\n", tassl_last_error());
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < ndevs; i++)
        tassl_device_free(devs[i]);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void fill_random(float *v, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((s >> 8) & 0xFFFF) / 32768.0f - 1.0f; /* [-1, 1) */
    }
}

static int64_t prod(int n, const int64_t *s) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= s[i];
    return p;
}

static float *read_all(const tassl_tensor *t) {
    float *h = malloc((size_t)tassl_numel(t) * sizeof(float));
    assert_non_null(h);
    assert_int_equal(tassl_tensor_read(t, h), TASSL_OK);
    return h;
}

static void assert_close(const float *got, const float *want, int64_t n, double tol,
                         const char *what) {
    double scale = 1e-6;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * scale)) {
            printf("# %s: element %lld is %.7g, expected %.7g\n", what, (long long)i, got[i],
                   want[i]);
            fail();
        }
}

/* ---- a convolution configuration, spatial dims padded to 3 (2D: D = 1) ---------------------- */

typedef struct cfg {
    const char *name;
    int nsp;                     /* 2 or 3 */
    int64_t n, cin, cout;        /* conv_transpose: cin = x channels, cout = y channels */
    int64_t in[3], k[3];         /* spatial size of x and of the kernel */
    int s[3], p[3], d[3], op[3]; /* op: output padding (transposed only) */
    int groups, bias;
} cfg;

/* Spatial parameters as the op takes them (the last nsp entries). */
static const int *sp(const cfg *c, const int *v) {
    return v + 3 - c->nsp;
}

static void shapes(const cfg *c, int transposed, int64_t *xs, int64_t *ws, int64_t *ys) {
    xs[0] = ys[0] = c->n;
    xs[1] = c->cin;
    ys[1] = c->cout;
    ws[0] = transposed ? c->cin : c->cout;
    ws[1] = transposed ? c->cout / c->groups : c->cin / c->groups;
    for (int j = 0; j < c->nsp; j++) {
        const int d = j + 3 - c->nsp;
        xs[2 + j] = c->in[d];
        ws[2 + j] = c->k[d];
        ys[2 + j] =
            transposed
                ? (c->in[d] - 1) * c->s[d] - 2 * c->p[d] + c->d[d] * (c->k[d] - 1) + c->op[d] + 1
                : (c->in[d] + 2 * c->p[d] - c->d[d] * (c->k[d] - 1) - 1) / c->s[d] + 1;
    }
}

/* Direct loops over (image, group, output channel, input channel, grid position, tap), in double.
 * conv:            y[n, o, P] = b[o] + Σ x[n, g·cg + i, P·s − p + K·d] · w[o, i, K]
 * conv_transpose:  y[n, g·og + o, P·s − p + K·d] += x[n, c, P] · w[c, o, K], P over x's grid */
static void direct(const cfg *c, int transposed, const float *x, const float *w, const float *b,
                   float *y) {
    int64_t xs[5], ws[5], ys[5];
    shapes(c, transposed, xs, ws, ys);
    const int nd = 2 + c->nsp;
    int64_t xin[3] = {1, 1, 1}, yout[3] = {1, 1, 1};
    for (int j = 0; j < c->nsp; j++) {
        xin[j + 3 - c->nsp] = xs[2 + j];
        yout[j + 3 - c->nsp] = ys[2 + j];
    }
    /* taps start on the "small" grid (y's for conv, x's for conv_transpose) and land on "big" */
    const int64_t *small = transposed ? xin : yout, *big = transposed ? yout : xin;
    const int64_t nsmall = small[0] * small[1] * small[2], nbig = big[0] * big[1] * big[2];
    const int64_t ksp = c->k[0] * c->k[1] * c->k[2], ny = prod(nd, ys);
    const int64_t cg = c->cin / c->groups, og = c->cout / c->groups;
    double *acc = calloc((size_t)ny, sizeof(double));
    assert_non_null(acc);
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t o = 0; o < og; o++)
                for (int64_t i = 0; i < cg; i++)
                    for (int64_t sm = 0; sm < nsmall; sm++)
                        for (int64_t kk = 0; kk < ksp; kk++) {
                            const int64_t at[3] = {sm / (small[1] * small[2]),
                                                   sm / small[2] % small[1], sm % small[2]};
                            const int64_t tap[3] = {kk / (c->k[1] * c->k[2]),
                                                    kk / c->k[2] % c->k[1], kk % c->k[2]};
                            int64_t lg = 0, inside = 1;
                            for (int d = 0; d < 3; d++) {
                                const int64_t q = at[d] * c->s[d] - c->p[d] + tap[d] * c->d[d];
                                inside &= q >= 0 && q < big[d];
                                lg = lg * big[d] + q;
                            }
                            if (!inside) continue;
                            const int64_t ci = g * cg + i, co = g * og + o;
                            if (!transposed)
                                acc[(n * c->cout + co) * nsmall + sm] +=
                                    (double)x[(n * c->cin + ci) * nbig + lg] *
                                    w[(co * cg + i) * ksp + kk];
                            else
                                acc[(n * c->cout + co) * nbig + lg] +=
                                    (double)x[(n * c->cin + ci) * nsmall + sm] *
                                    w[(ci * og + o) * ksp + kk];
                        }
    const int64_t ysp = transposed ? nbig : nsmall;
    for (int64_t i = 0; i < ny; i++)
        y[i] = (float)(acc[i] + (b ? b[i / ysp % c->cout] : 0.0));
    free(acc);
}

/* Run the op on dev with the given host data; returns y on the host (malloc'd). */
static float *run_op(tassl_device *dev, const cfg *c, int transposed, const float *x,
                     const float *w, const float *b, int64_t *yshape_out) {
    int64_t xs[5], ws[5], ys[5];
    shapes(c, transposed, xs, ws, ys);
    const int nd = 2 + c->nsp;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_tensor *tx = tassl_from_host(ctx, nd, xs, x);
    tassl_tensor *tw = tassl_from_host(ctx, nd, ws, w);
    tassl_tensor *tb = b ? tassl_from_host(ctx, 1, &c->cout, b) : NULL;
    tassl_tensor *ty =
        transposed ? tassl_conv_transpose(tx, tw, tb, sp(c, c->s), sp(c, c->p), sp(c, c->op),
                                          sp(c, c->d), c->groups)
                   : tassl_conv(tx, tw, tb, sp(c, c->s), sp(c, c->p), sp(c, c->d), c->groups);
    assert_int_equal(ty->ndim, nd);
    for (int i = 0; i < nd; i++) {
        assert_int_equal(ty->shape[i], ys[i]);
        if (yshape_out) yshape_out[i] = ty->shape[i];
    }
    float *y = read_all(ty);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
    return y;
}

/* ---- hand-computed values ------------------------------------------------------------------ */

static void test_hand_values(void **state) {
    (void)state;
    float x16[16], ones9[9], center[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        x16[i] = (float)(i + 1); /* 4×4 grid 1..16 */
    for (int i = 0; i < 9; i++)
        ones9[i] = 1.0f;
    const float bias = 0.5f;
    for (int di = 0; di < ndevs; di++) {
        /* 3×3 window sums of 1..16 (no padding): 54, 63, 90, 99 (+ bias). */
        cfg c = {"sum", 2, 1, 1, 1, {1, 4, 4}, {1, 3, 3}, {1, 1, 1}, {0}, {1, 1, 1}, {0}, 1, 1};
        float *y = run_op(devs[di], &c, 0, x16, ones9, &bias, NULL);
        const float want[4] = {54.5f, 63.5f, 90.5f, 99.5f};
        assert_close(y, want, 4, 1e-6, "window sums");
        free(y);
        /* Centre-tap kernel with pad 1 is the identity. */
        c.p[1] = c.p[2] = 1;
        y = run_op(devs[di], &c, 0, x16, center, NULL, NULL);
        assert_close(y, x16, 16, 0, "identity");
        free(y);
        /* 1×1 kernel (weight 2), stride 2: picks x[0,0], x[0,2], x[2,0], x[2,2], doubled. */
        cfg s2 = {"pick", 2, 1, 1, 1, {1, 4, 4}, {1, 1, 1}, {1, 2, 2}, {0}, {1, 1, 1}, {0}, 1, 0};
        const float two = 2.0f;
        y = run_op(devs[di], &s2, 0, x16, &two, NULL, NULL);
        const float pick[4] = {2, 6, 18, 22};
        assert_close(y, pick, 4, 0, "stride pick");
        free(y);
        /* Dilation 2 on a 5×5 grid of 0..24 with a 2×2 ones kernel: x[i][j] + x[i][j+2] +
         * x[i+2][j] + x[i+2][j+2] = 4·x[i][j] + 24 → out (3×3). */
        float x25[25];
        for (int i = 0; i < 25; i++)
            x25[i] = (float)i;
        cfg dl = {"dil", 2, 1, 1, 1, {1, 5, 5}, {1, 2, 2}, {1, 1, 1}, {0}, {1, 2, 2}, {0}, 1, 0};
        y = run_op(devs[di], &dl, 0, x25, ones9, NULL, NULL);
        float wd[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                wd[i * 3 + j] = 4.0f * x25[i * 5 + j] + 24.0f;
        assert_close(y, wd, 9, 0, "dilation");
        free(y);
        /* Transposed, 2×2 ones kernel, stride 2: each input spreads to its own 2×2 block. */
        cfg t = {"spread", 2, 1, 1, 1, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {0}, {1, 1, 1}, {0}, 1, 1};
        const float x4[4] = {1, 2, 3, 4};
        y = run_op(devs[di], &t, 1, x4, ones9, &bias, NULL);
        float spread[16];
        for (int i = 0; i < 16; i++)
            spread[i] = x4[(i / 8) * 2 + (i % 4) / 2] + bias;
        assert_close(y, spread, 16, 0, "transposed spread");
        free(y);
        /* Transposed, 3×3 ones, stride 1: overlapping sums; y[1][1] = 1+2+3+4 = 10, corners = x. */
        cfg t3 = {"overlap", 2,   1,         1,   1, {1, 2, 2}, {1, 3, 3},
                  {1, 1, 1}, {0}, {1, 1, 1}, {0}, 1, 0};
        y = run_op(devs[di], &t3, 1, x4, ones9, NULL, NULL);
        const float ov[16] = {1, 3, 3, 2, 4, 10, 10, 6, 4, 10, 10, 6, 3, 7, 7, 4};
        assert_close(y, ov, 16, 0, "transposed overlap");
        free(y);
    }
}

/* ---- output shapes ------------------------------------------------------------------------- */

static void test_shapes(void **state) {
    (void)state;
    /* conv: (in + 2p − d(k−1) − 1)/s + 1; transposed: (in−1)s − 2p + d(k−1) + op + 1 */
    const struct {
        int64_t in, k;
        int s, p, d, op;
        int64_t conv, convt;
    } t[] = {
        {7, 3, 1, 0, 1, 0, 5, 9},    {8, 3, 2, 1, 1, 1, 4, 16}, {9, 3, 2, 0, 1, 0, 4, 19},
        {10, 3, 1, 2, 2, 1, 10, 11}, {5, 1, 2, 0, 1, 1, 3, 10}, {4, 4, 1, 0, 1, 0, 1, 7},
        {6, 2, 3, 1, 2, 2, 2, 18},
    };
    tassl_ctx *ctx = tassl_ctx_new(devs[0]);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (int nsp = 2; nsp <= 3; nsp++) {
            int64_t xs[5] = {2, 2}, ws[5] = {3, 2};
            int s[3], p[3], d[3], op[3];
            for (int j = 0; j < nsp; j++) {
                xs[2 + j] = t[i].in + j; /* a different size per dim */
                ws[2 + j] = t[i].k;
                s[j] = t[i].s, p[j] = t[i].p, d[j] = t[i].d, op[j] = t[i].op;
            }
            tassl_scope_begin(ctx);
            tassl_tensor *x = tassl_zeros(ctx, 2 + nsp, xs);
            tassl_tensor *w = tassl_zeros(ctx, 2 + nsp, ws);
            tassl_tensor *y = tassl_conv(x, w, NULL, s, p, d, 1);
            ws[0] = 2, ws[1] = 3;
            tassl_tensor *w2 = tassl_zeros(ctx, 2 + nsp, ws);
            tassl_tensor *yt = tassl_conv_transpose(x, w2, NULL, s, p, op, d, 1);
            assert_int_equal(y->shape[1], 3);
            assert_int_equal(yt->shape[1], 3);
            for (int j = 0; j < nsp; j++) {
                const int64_t in = t[i].in + j;
                assert_int_equal(y->shape[2 + j],
                                 (in + 2 * t[i].p - t[i].d * (t[i].k - 1) - 1) / t[i].s + 1);
                assert_int_equal(yt->shape[2 + j], (in - 1) * t[i].s - 2 * t[i].p +
                                                       t[i].d * (t[i].k - 1) + t[i].op + 1);
            }
            assert_int_equal(y->shape[2], t[i].conv);
            assert_int_equal(yt->shape[2], t[i].convt);
            tassl_scope_end(ctx);
        }
    }
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
}

/* ---- against direct loops ------------------------------------------------------------------ */

/* clang-format off */
static const cfg direct_cfgs[] = {
    /* name, nsp, n, cin, cout, in, k, stride, pad, dil, outpad (transposed), groups, bias */
    {"2d plain", 2, 2, 3, 4, {1, 7, 6}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {0}, 1, 1},
    {"2d s2p1", 2, 3, 2, 5, {1, 8, 9}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, {0, 1, 1}, 1, 1},
    {"2d d2p2", 2, 2, 3, 2, {1, 9, 8}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 2, 2}, {0, 1, 1}, 1, 0},
    {"2d groups 2", 2, 2, 4, 6, {1, 6, 6}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, {0}, 2, 1},
    {"2d dw", 2, 2, 4, 4, {1, 7, 7}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, {0, 1, 1}, 4, 1},
    {"2d an", 2, 2, 3, 2, {1, 5, 9}, {1, 2, 3}, {1, 1, 2}, {0, 0, 1}, {1, 2, 1}, {0, 0, 1}, 1, 1},
    {"2d 1x1", 2, 4, 5, 3, {1, 3, 4}, {1, 1, 1}, {1, 1, 1}, {0}, {1, 1, 1}, {0}, 1, 1},
    {"3d plain", 3, 2, 2, 3, {4, 5, 4}, {3, 3, 3}, {1, 1, 1}, {0}, {1, 1, 1}, {0}, 1, 1},
    {"3d s2g2", 3, 2, 4, 4, {5, 4, 6}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 2, 1},
    {"3d an", 3, 1, 2, 3, {5, 6, 5}, {2, 2, 3}, {1, 2, 1}, {1, 0, 1}, {2, 1, 2}, {0, 1, 1}, 1, 0},
};
/* clang-format on */
static void test_direct(void **state) {
    (void)state;
    for (size_t ci = 0; ci < sizeof direct_cfgs / sizeof direct_cfgs[0]; ci++) {
        const cfg *c = &direct_cfgs[ci];
        for (int tr = 0; tr <= 1; tr++) {
            int64_t xs[5], ws[5], ys[5];
            shapes(c, tr, xs, ws, ys);
            const int nd = 2 + c->nsp;
            const int64_t nx = prod(nd, xs), nw = prod(nd, ws), ny = prod(nd, ys);
            float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
            float b[16], *want = malloc((size_t)ny * sizeof(float));
            fill_random(x, nx, (uint32_t)(ci * 7 + 1));
            fill_random(w, nw, (uint32_t)(ci * 7 + 2));
            fill_random(b, 16, (uint32_t)(ci * 7 + 3));
            direct(c, tr, x, w, c->bias ? b : NULL, want);
            for (int di = 0; di < ndevs; di++) {
                float *y = run_op(devs[di], c, tr, x, w, c->bias ? b : NULL, NULL);
                char what[192];
                snprintf(what, sizeof what, "%s%s on %s", tr ? "transposed " : "", c->name,
                         tassl_device_get_info(devs[di])->name);
                assert_close(y, want, ny, 1e-5, what);
                free(y);
            }
            free(x), free(w), free(want);
        }
    }
}

/* ---- adjointness --------------------------------------------------------------------------- */

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void test_adjoint(void **state) {
    (void)state;
    for (size_t ci = 0; ci < sizeof direct_cfgs / sizeof direct_cfgs[0]; ci++) {
        /* conv with w (Cout, C/g, k) maps x (N, C, in) → (N, Cout, out); conv_transpose with the
         * same w maps (N, Cout, out) → (N, C, in) when outpad makes up the rounding of stride. */
        const cfg *c = &direct_cfgs[ci];
        int64_t xs[5], ws[5], ys[5];
        shapes(c, 0, xs, ws, ys);
        const int nd = 2 + c->nsp;
        cfg t = *c;
        t.cin = c->cout, t.cout = c->cin, t.bias = 0;
        for (int j = 0; j < c->nsp; j++) {
            const int d = j + 3 - c->nsp;
            t.in[d] = ys[2 + j];
            t.op[d] = (int)((c->in[d] + 2 * c->p[d] - c->d[d] * (c->k[d] - 1) - 1) % c->s[d]);
        }
        const int64_t nx = prod(nd, xs), nw = prod(nd, ws), ny = prod(nd, ys);
        float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
        float *u = malloc((size_t)ny * sizeof(float));
        fill_random(x, nx, (uint32_t)ci + 100);
        fill_random(w, nw, (uint32_t)ci + 200);
        fill_random(u, ny, (uint32_t)ci + 300);
        for (int di = 0; di < ndevs; di++) {
            float *cx = run_op(devs[di], c, 0, x, w, NULL, NULL); // (N, Cout, out)
            int64_t ts[5];
            float *tu = run_op(devs[di], &t, 1, u, w, NULL, ts); // (N, C, in)
            for (int i = 0; i < nd; i++)
                assert_int_equal(ts[i], xs[i]);
            const double lhs = dot(cx, u, ny), rhs = dot(x, tu, nx);
            if (fabs(lhs - rhs) > 1e-4 * (fabs(lhs) + 1.0)) {
                printf("# adjoint %s: <conv(x), y> = %.8g, <x, conv_t(y)> = %.8g\n", c->name, lhs,
                       rhs);
                fail();
            }
            free(cx), free(tu);
        }
        free(x), free(w), free(u);
    }
}

/* ---- batch chunking ------------------------------------------------------------------------ */

/* Forward and all gradients of one op on dev; out[0] = y, out[1..3] = dx, dw, db (malloc'd). */
static void run_with_grads(tassl_device *dev, const cfg *c, int tr, const float *x, const float *w,
                           const float *b, const float *g, float **out) {
    int64_t xs[5], ws[5], ys[5];
    shapes(c, tr, xs, ws, ys);
    const int nd = 2 + c->nsp;
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_tensor *tx = tassl_from_host(ctx, nd, xs, x);
    tassl_tensor *tw = tassl_from_host(ctx, nd, ws, w);
    tassl_tensor *tb = tassl_from_host(ctx, 1, &c->cout, b);
    tassl_requires_grad_(tx, true);
    tassl_requires_grad_(tw, true);
    tassl_requires_grad_(tb, true);
    tassl_tensor *ty =
        tr ? tassl_conv_transpose(tx, tw, tb, sp(c, c->s), sp(c, c->p), sp(c, c->op), sp(c, c->d),
                                  c->groups)
           : tassl_conv(tx, tw, tb, sp(c, c->s), sp(c, c->p), sp(c, c->d), c->groups);
    tassl_tensor *tg = tassl_from_host(ctx, nd, ys, g);
    assert_int_equal(tassl_backward_with(ty, tg), TASSL_OK);
    out[0] = read_all(ty);
    out[1] = read_all(tassl_grad(tx));
    out[2] = read_all(tassl_grad(tw));
    out[3] = read_all(tassl_grad(tb));
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
}

static void test_chunking(void **state) {
    (void)state;
    /* N = 5 images. Budgets (TASSL_CONV_CHUNK, floats of scratch): two images' worth gives chunks
     * of 2, 2, 1 images (the last one takes the single-image path without layout swaps); two
     * output rows' worth splits each image into ranges of 2 rows (ragged at the end); 1 float
     * forces ranges of a single row. */
    /* clang-format off */
    const cfg cs[] = {
      {"2d g2", 2, 5, 4, 6, {1, 6, 7}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, {0, 1, 1}, 2, 1},
      {"3d p1", 3, 5, 2, 3, {3, 4, 3}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0}, 1, 1},
      {"3d s2", 3, 2, 2, 4, {5, 4, 5}, {3, 2, 3}, {2, 1, 2}, {1, 0, 1}, {1, 2, 1}, {1, 0, 1}, 2, 1},
    };
    /* clang-format on */
    const char *names[4] = {"y", "dx", "dw", "db"};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
        for (int tr = 0; tr <= 1; tr++) {
            const cfg *c = &cs[ci];
            int64_t xs[5], ws[5], ys[5];
            shapes(c, tr, xs, ws, ys);
            const int nd = 2 + c->nsp;
            const int64_t n[4] = {prod(nd, ys), prod(nd, xs), prod(nd, ws), c->cout};
            float *x = malloc((size_t)n[1] * sizeof(float));
            float *w = malloc((size_t)n[2] * sizeof(float));
            float *g = malloc((size_t)n[0] * sizeof(float)), b[8];
            fill_random(x, n[1], 11), fill_random(w, n[2], 12), fill_random(g, n[0], 13);
            fill_random(b, 8, 14);
            /* scratch per image: column (image channels · K · L) + matrix side (channels · L) */
            const int64_t img_c = tr ? c->cout : c->cin, mat_c = tr ? c->cin : c->cout;
            const int64_t K = c->k[0] * c->k[1] * c->k[2];
            const int64_t *msp = (tr ? xs : ys) + 2; /* matrix-side spatial dims */
            const int64_t L = prod(c->nsp, msp), row = msp[c->nsp - 1];
            char budgets[3][32];
            snprintf(budgets[0], 32, "%lld", (long long)(2 * (img_c * K + mat_c) * L + 1));
            snprintf(budgets[1], 32, "%lld", (long long)(2 * img_c * K * row + 1));
            snprintf(budgets[2], 32, "1");
            setenv("TASSL_CONV", "im2col", 1); /* chunks are the im2col path's */
            for (int di = 0; di < ndevs; di++) {
                float *whole[4], *chunked[4];
                unsetenv("TASSL_CONV_CHUNK");
                run_with_grads(devs[di], c, tr, x, w, b, g, whole);
                for (int bi = 0; bi < 3; bi++) {
                    setenv("TASSL_CONV_CHUNK", budgets[bi], 1);
                    run_with_grads(devs[di], c, tr, x, w, b, g, chunked);
                    unsetenv("TASSL_CONV_CHUNK");
                    for (int k = 0; k < 4; k++) {
                        char what[256];
                        snprintf(what, sizeof what, "%s%s, budget %s floats: %s",
                                 tr ? "transposed " : "", c->name, budgets[bi], names[k]);
                        assert_close(chunked[k], whole[k], n[k], 1e-5, what);
                        free(chunked[k]);
                    }
                }
                for (int k = 0; k < 4; k++)
                    free(whole[k]);
            }
            unsetenv("TASSL_CONV");
            free(x), free(w), free(g);
        }
}

/* ---- stride-1 data gradient: forward pass vs col2im ----------------------------------------- */

/* A stride-1 conv computes dx as an im2col of dy with negated padding and dilation times the
 * channel-swapped weights (src/ops/conv.c, conv_dgrad); TASSL_CONV_DGRAD=col2im forces the
 * general col2im path. Both must agree on every gradient, including groups, dilation, padding
 * beyond the kernel's reach, non-square kernels, 1×1 kernels and several chunks. */
static void test_dgrad_paths(void **state) {
    (void)state;
    /* clang-format off */
    const cfg cs[] = {
      {"2d g2 d2 p3", 2, 3, 4, 6, {1, 7, 6}, {1, 3, 2}, {1, 1, 1}, {0, 3, 1}, {1, 2, 3}, {0}, 2, 1},
      {"2d 1x1", 2, 2, 5, 3, {1, 4, 5}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {0}, 1, 1},
      {"2d p0 full", 2, 2, 3, 2, {1, 4, 4}, {1, 4, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {0}, 1, 0},
      {"3d g2 d2", 3, 2, 4, 2, {4, 5, 3}, {2, 3, 2}, {1, 1, 1}, {1, 2, 0}, {2, 1, 2}, {0}, 2, 1},
      {"3d dw", 3, 3, 3, 3, {3, 4, 5}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0}, 3, 0},
    };
    /* clang-format on */
    const char *names[4] = {"y", "dx", "dw", "db"};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        const cfg *c = &cs[ci];
        int64_t xs[5], ws[5], ys[5];
        shapes(c, 0, xs, ws, ys);
        const int nd = 2 + c->nsp;
        const int64_t n[4] = {prod(nd, ys), prod(nd, xs), prod(nd, ws), c->cout};
        float *x = malloc((size_t)n[1] * sizeof(float));
        float *w = malloc((size_t)n[2] * sizeof(float));
        float *g = malloc((size_t)n[0] * sizeof(float)), b[8];
        fill_random(x, n[1], 21), fill_random(w, n[2], 22), fill_random(g, n[0], 23);
        fill_random(b, 8, 24);
        setenv("TASSL_CONV", "im2col", 1); /* the data gradient paths of im2col + GEMM */
        for (int di = 0; di < ndevs; di++)
            for (int chunked = 0; chunked <= 1; chunked++) {
                float *fast[4], *gen[4];
                if (chunked) setenv("TASSL_CONV_CHUNK", "1", 1); /* single rows */
                run_with_grads(devs[di], c, 0, x, w, b, g, fast);
                setenv("TASSL_CONV_DGRAD", "col2im", 1);
                run_with_grads(devs[di], c, 0, x, w, b, g, gen);
                unsetenv("TASSL_CONV_DGRAD");
                unsetenv("TASSL_CONV_CHUNK");
                for (int k = 0; k < 4; k++) {
                    char what[256];
                    snprintf(what, sizeof what, "%s%s, %s: %s path vs col2im", c->name,
                             chunked ? " (row chunks)" : "", names[k], di == 0 ? "ref" : "cpu");
                    assert_close(fast[k], gen[k], n[k], 1e-5, what);
                    free(fast[k]), free(gen[k]);
                }
            }
        unsetenv("TASSL_CONV");
        free(x), free(w), free(g);
    }
}

/* ---- implicit GEMM vs im2col + GEMM vs reference -------------------------------------------- */

/* On the OpenCL CPU device conv forward, the stride-1 data gradient and both weight gradients
 * run as implicit GEMMs (no column buffer); TASSL_CONV=im2col forces the im2col path. Each
 * configuration runs forward + backward on ref and on cpu three ways — the default choice
 * (implicit from 64 output positions up, im2col + one batched GEMM below: src/ops/conv.c
 * implicit_worth), im2col everywhere, implicit everywhere (TASSL_CONV_IMPLICIT_MIN_L=0) — and all
 * outputs and gradients must agree. Shapes: output rows of 16, 32 and 64 (whole-vector copies of
 * the gather, masked at the padded edges), 8 and 24 (8-wide copies), 13 (element by element),
 * stride 2, dilation, groups, batch 1, channel counts that are not multiples of the 6 × 16 tile,
 * more rows than one work-item block (Cout 200), more positions than one (L > 128), and weight
 * gradients whose position split crosses images. */
static void test_implicit(void **state) {
    (void)state;
    /* clang-format off */
    const cfg cs[] = {
      {"2d w16 p1", 2, 2, 5, 7, {1, 6, 16}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, {0}, 1, 1},
      {"2d w8 d2", 2, 3, 3, 4, {1, 8, 8}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 2, 2}, {0}, 1, 1},
      {"2d w24 g2 b1", 2, 1, 4, 6, {1, 5, 24}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, {0}, 2, 1},
      {"2d w13", 2, 2, 3, 5, {1, 7, 13}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, {0}, 1, 0},
      {"2d s2 w32", 2, 2, 3, 4, {1, 9, 64}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, {0, 1, 1}, 1, 1},
      {"2d 1x1 w16", 2, 3, 6, 9, {1, 4, 16}, {1, 1, 1}, {1, 1, 1}, {0}, {1, 1, 1}, {0}, 1, 1},
      {"2d m200", 2, 1, 3, 200, {1, 3, 48}, {1, 1, 3}, {1, 1, 1}, {0, 0, 1}, {1, 1, 1}, {0}, 1, 1},
      {"2d bench-like", 2, 3, 16, 32, {1, 16, 64}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, {0}, 1, 0},
      {"3d w16 g2", 3, 1, 4, 6, {3, 4, 16}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0}, 2, 1},
      {"3d bench-like", 3, 2, 8, 12, {8, 8, 32}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0}, 1, 1},
    };
    /* clang-format on */
    const char *names[4] = {"y", "dx", "dw", "db"};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
        for (int tr = 0; tr <= 1; tr++) {
            const cfg *c = &cs[ci];
            if (tr && (c->groups > 1 || c->s[2] > 1)) continue; /* transposed: plain shapes */
            int64_t xs[5], ws[5], ys[5];
            shapes(c, tr, xs, ws, ys);
            const int nd = 2 + c->nsp;
            const int64_t n[4] = {prod(nd, ys), prod(nd, xs), prod(nd, ws), c->cout};
            float *x = malloc((size_t)n[1] * sizeof(float));
            float *w = malloc((size_t)n[2] * sizeof(float));
            float *g = malloc((size_t)n[0] * sizeof(float));
            float *b = malloc((size_t)c->cout * sizeof(float));
            fill_random(x, n[1], 31), fill_random(w, n[2], 32), fill_random(g, n[0], 33);
            fill_random(b, c->cout, 34);
            float *want[4];
            run_with_grads(devs[0], c, tr, x, w, b, g, want); /* ref */
            for (int di = 1; di < ndevs; di++)
                for (int path = 0; path <= 2; path++) {
                    /* 0: default (implicit from 64 output positions up, im2col below),
                     * 1: im2col everywhere, 2: implicit on every map size */
                    static const char *pname[3] = {"default", "im2col", "implicit-all"};
                    float *got[4];
                    if (path == 1) setenv("TASSL_CONV", "im2col", 1);
                    if (path == 2) setenv("TASSL_CONV_IMPLICIT_MIN_L", "0", 1);
                    run_with_grads(devs[di], c, tr, x, w, b, g, got);
                    unsetenv("TASSL_CONV");
                    unsetenv("TASSL_CONV_IMPLICIT_MIN_L");
                    for (int k = 0; k < 4; k++) {
                        char what[256];
                        snprintf(what, sizeof what, "%s%s, %s path: %s vs ref",
                                 tr ? "transposed " : "", c->name, pname[path], names[k]);
                        assert_close(got[k], want[k], n[k], 1e-5, what);
                        free(got[k]);
                    }
                }
            for (int k = 0; k < 4; k++)
                free(want[k]);
            free(x), free(w), free(g), free(b);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_values), cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_direct),      cmocka_unit_test(test_adjoint),
        cmocka_unit_test(test_chunking),    cmocka_unit_test(test_dgrad_paths),
        cmocka_unit_test(test_implicit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
