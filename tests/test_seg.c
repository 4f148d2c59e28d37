/* test_seg.c — the segmentation task: the Dice + CE loss against PyTorch (value and gradient,
 * tests/golden/seg/seg_golden.h from tools/gen-seg-fixtures), sliding-window inference with fake
 * networks (exact blending in 2D, 2D-on-volume and 3D, images not a multiple of / smaller than
 * the window, the Gaussian weights themselves, errors), the prediction writers (NIfTI and PNG
 * keep the input's geometry), evaluation of an untrained head on synthetic phantoms (metrics,
 * predictions, index.csv), and a short finetune on synthetic 2D lesions that must beat the
 * all-background Dice. Runs on $TASSL_TEST_DEVICE, else pocl, else ref.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tassl/augment.h"
#include "tassl/dataset.h"
#include "tassl/metrics.h"
#include "tassl/task.h"
#include "tassl/tassl.h"
#include "../src/task/seg_internal.h"
#include "../src/task/task_internal.h"
#include "../src/task/window.h"
#include "golden/seg/seg_golden.h"
#include "test_util.h"

static char device[64];
static char tmp_root[] = "/tmp/tassl_test_seg_XXXXXX";

static tassl_device *open_device(void) {
    tassl_device *dev;
    if (tassl_device_open(device, &dev) != TASSL_OK) fail_msg("%s", tassl_last_error());
    return dev;
}

/* ---- loss ----------------------------------------------------------------------------------- */

static void test_loss_fixtures(void **state) {
    (void)state;
    tassl_device *dev = open_device();
    tassl_ctx *ctx = tassl_ctx_new(dev);
    double tol = strcmp(device, "ref") == 0 ? 2e-5 : 1e-4;
    for (size_t i = 0; i < sizeof seg_goldens / sizeof seg_goldens[0]; i++) {
        const seg_golden *g = &seg_goldens[i];
        tassl_scope_begin(ctx);
        int64_t shape[5];
        int64_t n = 1;
        for (int k = 0; k < g->ndim; k++)
            shape[k] = g->shape[k], n *= shape[k];
        tassl_tensor *x = tassl_from_host(ctx, g->ndim, shape, g->logits);
        tassl_requires_grad_(x, true);
        tassl_tensor *dice = NULL, *ce = NULL;
        tassl_tensor *loss = task_seg_loss(x, g->labels, g->w_dice, g->w_ce, 1e-5, &dice, &ce);
        assert_non_null(loss);
        assert_int_equal(loss->ndim, 0);
        double lv = tassl_item(loss), dv = tassl_item(dice), cv = tassl_item(ce);
        if (fabs(lv - g->loss) > tol * fabs(g->loss) || fabs(dv - g->dice) > tol ||
            fabs(cv - g->ce) > tol * fabs(g->ce))
            fail_msg("%s: loss %.8g dice %.8g ce %.8g, PyTorch %.8g %.8g %.8g", g->name, lv, dv, cv,
                     g->loss, g->dice, g->ce);
        assert_int_equal(tassl_backward(loss), TASSL_OK);
        assert_non_null(x->grad);
        float *gr = malloc((size_t)n * sizeof(float));
        assert_int_equal(tassl_tensor_read(x->grad, gr), TASSL_OK);
        double mx = 0, err = 0;
        for (int64_t j = 0; j < n; j++)
            mx = fmax(mx, fabs(g->grad[j]));
        for (int64_t j = 0; j < n; j++)
            err = fmax(err, fabs(gr[j] - g->grad[j]) / mx);
        free(gr);
        if (!(err <= tol))
            fail_msg("%s: gradient error %.3g (relative to max %.3g)", g->name, err, mx);
        tassl_scope_end(ctx);
    }
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

static void test_loss_perfect_and_bad(void **state) {
    (void)state;
    tassl_device *dev = open_device();
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_scope_begin(ctx);
    /* (2, 3, 4, 4): a label map with every class, logits ±15 at the right class */
    enum { N = 2, K = 3, S = 16 };
    float lab[N * S], lg[N * K * S];
    for (int n = 0; n < N; n++)
        for (int v = 0; v < S; v++) {
            int c = (v + n) % K;
            lab[n * S + v] = (float)c;
            for (int k = 0; k < K; k++)
                lg[(n * K + k) * S + v] = k == c ? 15.0f : -15.0f;
        }
    tassl_tensor *x = tassl_from_host(ctx, TASSL_SHAPE(N, K, 4, 4), lg);
    tassl_tensor *dice, *ce;
    tassl_tensor *loss = task_seg_loss(x, lab, 1.0, 1.0, 1e-5, &dice, &ce);
    assert_non_null(loss);
    assert_true(tassl_item(loss) < 1e-5);
    assert_true(tassl_item(dice) >= -1e-6 && tassl_item(ce) >= 0);
    /* the wrong class everywhere: Dice loss near 1 */
    for (int i = 0; i < N * K * S; i++)
        lg[i] = -lg[i];
    x = tassl_from_host(ctx, TASSL_SHAPE(N, K, 4, 4), lg);
    loss = task_seg_loss(x, lab, 1.0, 0.0, 1e-5, &dice, NULL);
    assert_true(tassl_item(dice) > 0.99);
    /* a label outside 0..K-1 and a fractional one: refused, naming the value */
    lab[5] = 3;
    assert_null(task_seg_loss(x, lab, 1.0, 1.0, 1e-5, NULL, NULL));
    assert_non_null(strstr(tassl_last_error(), "mask value 3"));
    lab[5] = 0.5f;
    assert_null(task_seg_loss(x, lab, 1.0, 1.0, 1e-5, NULL, NULL));
    tassl_scope_end(ctx);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

/* ---- sliding windows ------------------------------------------------------------------------ */

static void test_window_steps(void **state) {
    (void)state;
    int64_t st[16];
    /* nnU-Net's compute_steps_for_sliding_window: 100 / 64 at 0.5 → target 32, 3 steps of 18 */
    assert_int_equal(task_window_nsteps(100, 64, 0.5), 3);
    task_window_steps(100, 64, 0.5, st);
    assert_int_equal(st[0], 0), assert_int_equal(st[1], 18), assert_int_equal(st[2], 36);
    assert_int_equal(task_window_nsteps(128, 64, 0.5), 3);
    task_window_steps(128, 64, 0.5, st);
    assert_int_equal(st[1], 32), assert_int_equal(st[2], 64);
    assert_int_equal(task_window_nsteps(130, 64, 0.0), 3);
    task_window_steps(130, 64, 0.0, st);
    assert_int_equal(st[1], 33), assert_int_equal(st[2], 66);
    /* 11 / 6 at 0.5: 3 steps of 2.5, rounded half to even as np.round: 0, 2, 5 */
    assert_int_equal(task_window_nsteps(11, 6, 0.5), 3);
    task_window_steps(11, 6, 0.5, st);
    assert_int_equal(st[0], 0), assert_int_equal(st[1], 2), assert_int_equal(st[2], 5);
    /* exactly the window, and smaller: one window, centred */
    assert_int_equal(task_window_nsteps(64, 64, 0.5), 1);
    task_window_steps(64, 64, 0.5, st);
    assert_int_equal(st[0], 0);
    task_window_steps(50, 64, 0.5, st);
    assert_int_equal(st[0], -7);
    /* a 1-voxel axis never gets two windows at one position */
    assert_int_equal(task_window_nsteps(5, 1, 0.5), 5);

    /* Gaussian importance, σ = patch / 8, 1 at the centre patch / 2 */
    float w[1 * 16 * 12];
    task_window_importance((int64_t[]){1, 16, 12}, TASK_BLEND_GAUSSIAN, w);
    assert_float_equal(w[8 * 12 + 6], 1.0, 1e-7);
    /* (y, x) = (0, 6): exp(−8² / (2·2²)) = exp(−8) */
    assert_float_equal(w[0 * 12 + 6], exp(-8.0), 1e-9);
    /* (8, 0): σ = 1.5 → exp(−36 / 4.5) */
    assert_float_equal(w[8 * 12 + 0], exp(-36.0 / 4.5), 1e-9);
    assert_float_equal(w[3 * 12 + 4], exp(-25.0 / 8.0) * exp(-4.0 / 4.5), 1e-7);
    task_window_importance((int64_t[]){1, 16, 12}, TASK_BLEND_CONSTANT, w);
    for (int i = 0; i < 16 * 12; i++)
        assert_float_equal(w[i], 1.0, 0);
}

/* A pointwise fake network: the image's channels hold the voxel's (d, h, w) coordinates (or
 * -1000 when padded), the logits are smooth functions of them. */
#define FK 3
typedef struct fake_net {
    int64_t calls, windows;
    int64_t shape[4];
    bool fail, nan;
    int ax[3];     /* image axis (0 d, 1 h, 2 w) expected along window axes (D, H, W) */
    bool bad_axes; /* a window's axes did not follow ax (the dataset's 2D sample layout) */
} fake_net;

/* neighbours along window axis k differ by one along image axis f->ax[k] */
static void check_axes(fake_net *f, const float *x, const int64_t shape[4]) {
    int64_t pv = shape[1] * shape[2] * shape[3], st[3] = {shape[2] * shape[3], shape[3], 1};
    for (int k = 0; k < 3; k++)
        for (int64_t v = 0; v + st[k] < pv; v++) {
            int64_t pos = k == 0 ? v / st[0] : (k == 1 ? (v / st[1]) % shape[2] : v % shape[3]);
            if (pos + 1 >= shape[1 + k] || x[v] < -1 || x[v + st[k]] < -1) continue; /* pad */
            if (x[f->ax[k] * pv + v + st[k]] != x[f->ax[k] * pv + v] + 1) f->bad_axes = true;
        }
}

static void fake_logits(double d, double h, double w, double lg[FK]) {
    lg[0] = sin(0.31 * h) + 0.2 * d;
    lg[1] = cos(0.17 * w + 0.05 * h);
    lg[2] = 0.02 * (h - w) + 0.3 * sin(0.5 * d);
}

static void fake_softmax(const double lg[FK], double p[FK]) {
    double m = fmax(lg[0], fmax(lg[1], lg[2])), s = 0;
    for (int k = 0; k < FK; k++)
        s += p[k] = exp(lg[k] - m);
    for (int k = 0; k < FK; k++)
        p[k] /= s;
}

static tassl_status fake_fn(void *user, const float *win, int64_t n, const int64_t shape[4],
                            float *probs) {
    fake_net *f = user;
    f->calls++;
    f->windows += n;
    memcpy(f->shape, shape, sizeof f->shape);
    if (f->fail) return tassl_error(TASSL_ERR_DEVICE, "fake network failed");
    int64_t pv = shape[1] * shape[2] * shape[3];
    for (int64_t b = 0; b < n; b++)
        for (int64_t v = 0; v < pv; v++) {
            const float *x = win + b * shape[0] * pv;
            if (v == 0) check_axes(f, x, shape);
            double lg[FK], p[FK];
            fake_logits(x[v], x[pv + v], x[2 * pv + v], lg);
            fake_softmax(lg, p);
            for (int k = 0; k < FK; k++)
                probs[(b * FK + k) * pv + v] = (float)p[k];
        }
    if (f->nan) probs[0] = NAN;
    return TASSL_OK;
}

/* Run windows over a coordinate image of (d, h, w) and check the blended probabilities and
 * labels against the fake network applied to every voxel directly. */
static void check_exact(int64_t d, int64_t h, int64_t w, int dim, int axis, const int64_t patch[3],
                        task_blend blend, int64_t expect_windows) {
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 3, d, h, w), TASSL_OK);
    int64_t nv = d * h * w;
    for (int64_t z = 0; z < d; z++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                int64_t v = (z * h + y) * w + x;
                img.data[v] = (float)z, img.data[nv + v] = (float)y,
                img.data[2 * nv + v] = (float)x;
            }
    task_window_opts o = {.dim = dim,
                          .axis = axis,
                          .overlap = 0.5,
                          .blend = blend,
                          .batch = 3,
                          .pad_value = -1000.0f,
                          .nclasses = FK};
    memcpy(o.patch, patch, sizeof o.patch);
    float *probs = malloc((size_t)(FK * nv) * sizeof(float));
    int32_t *lab = malloc((size_t)nv * sizeof(int32_t));
    fake_net f = {.ax = {0, 1, 2}};
    if (dim == 2 && d > 1 && axis == 1) f.ax[0] = 1, f.ax[1] = 0, f.ax[2] = 2;
    if (dim == 2 && d > 1 && axis == 2) f.ax[0] = 2, f.ax[1] = 0, f.ax[2] = 1;
    if (task_window_run(&img, &o, fake_fn, &f, probs, lab) != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_false(f.bad_axes);
    if (expect_windows > 0) assert_int_equal(f.windows, expect_windows);
    assert_true(f.calls == (f.windows + 2) / 3);
    assert_int_equal(f.shape[0], 3);
    if (dim == 2) assert_int_equal(f.shape[1], 1);
    double err = 0;
    for (int64_t v = 0; v < nv; v++) {
        double lg[FK], p[FK];
        fake_logits((double)img.data[v], (double)img.data[nv + v], (double)img.data[2 * nv + v],
                    lg);
        fake_softmax(lg, p);
        int best = 0;
        for (int k = 0; k < FK; k++) {
            err = fmax(err, fabs(probs[k * nv + v] - p[k]));
            if (p[k] > p[best]) best = k;
        }
        double margin = 1;
        for (int k = 0; k < FK; k++)
            if (k != best) margin = fmin(margin, p[best] - p[k]);
        if (margin > 1e-5) assert_int_equal(lab[v], best);
    }
    if (!(err < 2e-6)) fail_msg("blended probabilities differ by %.3g", err);
    free(probs);
    free(lab);
    tassl_image_free(&img);
}

static void test_window_exact(void **state) {
    (void)state;
    /* 2D image 37×45, window 16×16: H steps ceil(21/8)+1 = 4, W ceil(29/8)+1 = 5 */
    check_exact(1, 37, 45, 2, 0, (int64_t[]){1, 16, 16}, TASK_BLEND_GAUSSIAN, 20);
    check_exact(1, 37, 45, 2, 0, (int64_t[]){1, 16, 16}, TASK_BLEND_CONSTANT, 20);
    /* a 2D image smaller than the window on one axis (padded) */
    check_exact(1, 11, 40, 2, 0, (int64_t[]){1, 16, 16}, TASK_BLEND_GAUSSIAN, 4);
    /* 2D windows over every slice of a volume, across each axis */
    check_exact(5, 20, 23, 2, 0, (int64_t[]){1, 16, 16}, TASK_BLEND_GAUSSIAN, 5 * 2 * 2);
    check_exact(5, 20, 23, 2, 1, (int64_t[]){1, 16, 16}, TASK_BLEND_GAUSSIAN, 20 * 1 * 2);
    check_exact(5, 20, 23, 2, 2, (int64_t[]){1, 16, 16}, TASK_BLEND_GAUSSIAN, 23 * 1 * 2);
    /* 3D, not a multiple of the window: D ceil(11/4)+1 = 4, H ceil(7/8)+1 = 2, W ceil(14/8)+1 = 3
     */
    check_exact(19, 23, 30, 3, 0, (int64_t[]){8, 16, 16}, TASK_BLEND_GAUSSIAN, 4 * 2 * 3);
    /* 3D smaller than the window on every axis: one padded window */
    check_exact(5, 9, 7, 3, 0, (int64_t[]){8, 16, 16}, TASK_BLEND_GAUSSIAN, 1);
}

/* Each window answers a constant: the blend is the importance-weighted mean of the windows that
 * cover a voxel. Image 1×1×24, window 16, overlap 0.5: windows at 0 and 8. */
static tassl_status const_fn(void *user, const float *win, int64_t n, const int64_t shape[4],
                             float *probs) {
    (void)user;
    int64_t pv = shape[1] * shape[2] * shape[3];
    for (int64_t b = 0; b < n; b++) {
        float a = win[b * pv] < 4 ? 0.9f : 0.2f; /* first voxel: the window's start */
        for (int64_t v = 0; v < pv; v++) {
            probs[(b * 2 + 0) * pv + v] = a;
            probs[(b * 2 + 1) * pv + v] = 1 - a;
        }
    }
    return TASSL_OK;
}

static void test_window_weights(void **state) {
    (void)state;
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 1, 1, 24), TASSL_OK);
    for (int x = 0; x < 24; x++)
        img.data[x] = (float)x;
    task_window_opts o = {.dim = 2, .patch = {1, 1, 16}, .overlap = 0.5, .batch = 1, .nclasses = 2};
    float p[2 * 24];
    assert_int_equal(task_window_run(&img, &o, const_fn, NULL, p, NULL), TASSL_OK);
    for (int x = 0; x < 24; x++) {
        /* w(i) = exp(−(i − 8)² / (2·2²)) */
        double w0 = x < 16 ? exp(-(x - 8.0) * (x - 8.0) / 8.0) : 0;
        double w1 = x >= 8 ? exp(-(x - 16.0) * (x - 16.0) / 8.0) : 0;
        double want = (0.9 * w0 + 0.2 * w1) / (w0 + w1);
        assert_float_equal(p[x], want, 1e-6);
        assert_float_equal(p[24 + x], 1 - want, 1e-6);
    }
    assert_float_equal(p[12], 0.55, 1e-6); /* equal weights half way */
    o.blend = TASK_BLEND_CONSTANT;
    assert_int_equal(task_window_run(&img, &o, const_fn, NULL, p, NULL), TASSL_OK);
    assert_float_equal(p[4], 0.9, 1e-6);
    assert_float_equal(p[10], 0.55, 1e-6);
    assert_float_equal(p[20], 0.2, 1e-6);
    tassl_image_free(&img);

    /* errors: the callback's, a non-finite probability, bad options */
    assert_int_equal(tassl_image_new(&img, 3, 1, 20, 20), TASSL_OK);
    task_window_opts q = {
        .dim = 2, .patch = {1, 16, 16}, .overlap = 0.5, .batch = 2, .nclasses = FK};
    int32_t lab[400];
    fake_net f = {.fail = true};
    assert_int_equal(task_window_run(&img, &q, fake_fn, &f, NULL, lab), TASSL_ERR_DEVICE);
    assert_int_equal(f.calls, 1);
    fake_net g = {.nan = true};
    assert_int_equal(task_window_run(&img, &q, fake_fn, &g, NULL, lab), TASSL_ERR_NUMERIC);
    assert_non_null(strstr(tassl_last_error(), "non-finite"));
    q.overlap = 1.0;
    assert_int_equal(task_window_run(&img, &q, fake_fn, &g, NULL, lab), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "task.seg.overlap"));
    tassl_image_free(&img);
}

/* ---- writers -------------------------------------------------------------------------------- */

static void path_in(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", tmp_root, name);
}

static void test_writer_geometry(void **state) {
    (void)state;
    char name[256];
    task_seg_pred_name("/data/sub-01/case_007.nii.gz", TASSL_FORMAT_NIFTI1, name, sizeof name);
    assert_string_equal(name, "case_007_pred.nii.gz");
    task_seg_pred_name("slice.PNG", TASSL_FORMAT_PNG, name, sizeof name);
    assert_string_equal(name, "slice_pred.png");

    /* a NIfTI volume stored LPS-ish (x and y flipped, anisotropic, offset origin) */
    tassl_image src;
    assert_int_equal(tassl_image_new(&src, 1, 4, 5, 6), TASSL_OK);
    double sp[3] = {2.0, 0.8, 1.5}; /* (D, H, W) */
    memset(src.affine, 0, sizeof src.affine);
    src.affine[0][0] = -sp[2], src.affine[1][1] = -sp[1], src.affine[2][2] = sp[0];
    src.affine[0][3] = 30, src.affine[1][3] = -12, src.affine[2][3] = 7, src.affine[3][3] = 1;
    memcpy(src.spacing, sp, sizeof sp);
    for (int64_t v = 0; v < 120; v++)
        src.data[v] = (float)v;
    char in[512], out[512];
    path_in(in, sizeof in, "vol.nii.gz");
    assert_int_equal(tassl_nifti_write(in, &src, TASSL_NIFTI_FLOAT32, 2), TASSL_OK);
    tassl_image img, back, raw_in, raw_out;
    tassl_image_info info, info2;
    assert_int_equal(tassl_image_read(in, NULL, &img, &info), TASSL_OK);
    int32_t lab[120];
    for (int64_t v = 0; v < 120; v++)
        lab[v] = (int32_t)((int64_t)img.data[v] % 3);
    task_seg_pred_name(in, info.format, name, sizeof name);
    path_in(out, sizeof out, name);
    if (task_seg_write_pred(out, lab, &img, &info, 3) != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    /* canonical read: same grid, same labels at the same voxels */
    tassl_read_opts ro = tassl_read_opts_default();
    ro.is_label = 1;
    assert_int_equal(tassl_image_read(out, &ro, &back, &info2), TASSL_OK);
    assert_int_equal(tassl_image_same_grid(&img, &back, 1e-4), TASSL_OK);
    assert_string_equal(info2.datatype_name, "UINT8");
    assert_int_equal(info2.sform_code, 2);
    for (int64_t v = 0; v < 120; v++)
        assert_int_equal((int)back.data[v], lab[v]);
    /* file order: the prediction is stored in the input's own voxel order and affine */
    ro.keep_file_order = 1;
    assert_int_equal(tassl_image_read(in, &ro, &raw_in, NULL), TASSL_OK);
    assert_int_equal(tassl_image_read(out, &ro, &raw_out, NULL), TASSL_OK);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            assert_float_equal(raw_out.affine[r][c], raw_in.affine[r][c], 1e-4);
    for (int64_t v = 0; v < 120; v++)
        assert_int_equal((int)raw_out.data[v], (int)((int64_t)raw_in.data[v] % 3));
    tassl_image_free(&back), tassl_image_free(&raw_in), tassl_image_free(&raw_out);
    tassl_image_free(&img), tassl_image_free(&src);

    /* PNG in → PNG out with the same size, pixel spacing and labels */
    tassl_image p;
    assert_int_equal(tassl_image_new(&p, 1, 1, 7, 9), TASSL_OK);
    p.spacing[1] = 0.5, p.spacing[2] = 0.25;
    for (int64_t v = 0; v < 63; v++)
        p.data[v] = (float)(v * 4 % 256);
    path_in(in, sizeof in, "slice.png");
    assert_int_equal(tassl_png_write(in, &p, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
    assert_int_equal(tassl_image_read(in, NULL, &img, &info), TASSL_OK);
    int32_t l2[63];
    for (int v = 0; v < 63; v++)
        l2[v] = v % 5;
    task_seg_pred_name(in, info.format, name, sizeof name);
    path_in(out, sizeof out, name);
    assert_int_equal(task_seg_write_pred(out, l2, &img, &info, 5), TASSL_OK);
    assert_int_equal(tassl_image_read(out, &ro, &back, &info2), TASSL_OK);
    assert_int_equal(info2.format, TASSL_FORMAT_PNG);
    assert_int_equal(back.h, 7), assert_int_equal(back.w, 9);
    assert_float_equal(back.spacing[1], img.spacing[1], 1e-3);
    assert_float_equal(back.spacing[2], img.spacing[2], 1e-3);
    for (int v = 0; v < 63; v++)
        assert_int_equal((int)back.data[v], l2[v]);
    /* refusals: an unknown extension, a PNG for a volume */
    path_in(out, sizeof out, "x.tif");
    assert_int_equal(task_seg_write_pred(out, l2, &img, &info, 5), TASSL_ERR_ARG);
    tassl_image_free(&back), tassl_image_free(&img), tassl_image_free(&p);
}

/* ---- evaluation and training ---------------------------------------------------------------- */

static const char *seg_yaml = "seed: 3\n"
                              "task: {kind: segmentation, eval_split: test}\n"
                              "data: {source: manifest, patch: [32, 32], threads: 1,\n"
                              "       aug: {preset: none}}\n"
                              "model: {dims: 2, depth: 10, width: 0.25, stem: small}\n"
                              "output: {log_every: 20, progress: none}\n";

static tassl_config *seg_config(const char *manifest, const char *first, ...) {
    assert_int_equal(tassl_task_register_config(), TASSL_OK);
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, seg_yaml, "seg") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    char a[768];
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "data.path=%s", manifest);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    return c;
}

/* synthetic 2D phantoms 48×48, every case with lesions, under tmp_root/NAME */
static void write_synth(const char *name, int64_t n, char *manifest, size_t len) {
    char dir[512];
    path_in(dir, sizeof dir, name);
    tassl_synth_opts so = tassl_synth_opts_default(2);
    so.size[0] = 1, so.size[1] = 48, so.size[2] = 48;
    so.seed = 11;
    so.lesion_prob = 1.0f;
    so.radius_min = 3, so.radius_max = 6;
    so.contrast_min = 0.6f, so.contrast_max = 1.0f;
    if (tassl_synth_write(&so, n, dir) != TASSL_OK) fail_msg("%s", tassl_last_error());
    snprintf(manifest, len, "%s/manifest.csv", dir);
}

/* An untrained head through the task ops by hand: predictions on the input's grid, one index row
 * per case, every metric present and in range. */
static void test_evaluate_untrained(void **state) {
    (void)state;
    char manifest[640];
    write_synth("eval", 10, manifest, sizeof manifest);
    tassl_config *cfg = seg_config(manifest, "task.seg.sw_batch=3", NULL);
    tassl_device *dev = open_device();
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, 5);
    tassl_params *p = tassl_params_new(ctx);
    tassl_encoder *enc;
    assert_int_equal(tassl_encoder_new(p, cfg, (int64_t[]){1, 32, 32}, &enc), TASSL_OK);
    task_env env = {.cfg = cfg,
                    .ctx = ctx,
                    .params = p,
                    .encoder = enc,
                    .kind = TASSL_TASK_SEGMENTATION,
                    .dims = 2,
                    .sample = {1, 1, 32, 32},
                    .nclasses = 2,
                    .quiet = true,
                    .seed = 5};
    tassl_aug_config_default(&env.norm);
    void *st;
    if (task_segmentation.create(&env, &st) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_non_null(tassl_params_find(p, "head.decoder.head.weight"));
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    assert_int_equal(tassl_encoder_init(enc), TASSL_OK);
    assert_int_equal(task_segmentation.init(st), TASSL_OK);

    /* training patches: foreground-centred with fg_prob 0.5 (defaults) */
    tassl_dataset_opts to = tassl_dataset_opts_default();
    task_segmentation.dataset_opts(&env, true, &to);
    assert_int_equal(to.sampling, TASSL_SAMPLING_FOREGROUND);
    assert_float_equal(to.fg_prob, 0.5, 1e-7);

    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, manifest, NULL), TASSL_OK);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.patch[1] = o.patch[2] = 32;
    o.split = TASSL_SPLIT_TEST;
    task_segmentation.dataset_opts(&env, false, &o);
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    int nrec = tassl_dataset_records(ds);
    assert_true(nrec >= 1);
    char pred[512];
    path_in(pred, sizeof pred, "eval_pred");
    tassl_task_result r;
    memset(&r, 0, sizeof r);
    if (task_segmentation.evaluate(st, &env, ds, pred, &r) != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    assert_string_equal(r.primary, "dice");
    assert_int_equal(r.samples, nrec);
    double d = tassl_task_result_get(&r, "dice"), d1 = tassl_task_result_get(&r, "dice/1");
    assert_true(d >= 0 && d <= 1);
    assert_float_equal(d, d1, 1e-12);
    double iou = tassl_task_result_get(&r, "iou");
    assert_true(iou >= 0 && iou <= d + 1e-12); /* IoU ≤ Dice case by case */
    assert_false(isnan(tassl_task_result_get(&r, "hd95_undefined")));

    /* index.csv: header + one row per case; each prediction on its image's grid */
    char path[700], line[2048];
    snprintf(path, sizeof path, "%s/index.csv", pred);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "record,image,truth,prediction\n");
    int rows = 0;
    int64_t g_tp = 0, g_np = 0, g_nt = 0;
    while (fgets(line, sizeof line, f)) {
        const tassl_record *rec = tassl_dataset_record(ds, rows);
        char *c3 = strrchr(line, ',');
        assert_non_null(c3);
        c3[strcspn(c3, "\n")] = 0;
        assert_non_null(strstr(line, rec->image));
        assert_non_null(strstr(line, rec->mask));
        char pp[1200];
        snprintf(pp, sizeof pp, "%s/%s", pred, c3 + 1);
        tassl_image a, b;
        tassl_read_opts ro = tassl_read_opts_default();
        ro.is_label = 1;
        assert_int_equal(tassl_image_read(rec->image, NULL, &a, NULL), TASSL_OK);
        if (tassl_image_read(pp, &ro, &b, NULL) != TASSL_OK) fail_msg("%s", tassl_last_error());
        assert_int_equal(tassl_image_same_grid(&a, &b, 1e-4), TASSL_OK);
        for (int64_t v = 0; v < tassl_image_voxels(&b); v++)
            assert_true(b.data[v] == 0 || b.data[v] == 1);
        /* pool the voxels for the global Dice */
        tassl_image t;
        assert_int_equal(tassl_image_read(rec->mask, &ro, &t, NULL), TASSL_OK);
        for (int64_t v = 0; v < tassl_image_voxels(&b); v++) {
            g_tp += b.data[v] == 1 && t.data[v] == 1;
            g_np += b.data[v] == 1;
            g_nt += t.data[v] == 1;
        }
        tassl_image_free(&a), tassl_image_free(&b), tassl_image_free(&t);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, nrec);
    /* dice_global: 2·TP / (P + T) over the voxels of all cases, from the written predictions */
    double want_g = g_np + g_nt > 0 ? 2.0 * (double)g_tp / (double)(g_np + g_nt) : 1.0;
    assert_float_equal(tassl_task_result_get(&r, "dice_global"), want_g, 1e-12);

    tassl_dataset_close(ds);
    tassl_manifest_free(&m);

    /* a mask label beyond the task's classes stops the evaluation naming the mask file; no
     * index.csv is written for a failed evaluation */
    tassl_image im;
    assert_int_equal(tassl_image_new(&im, 1, 1, 20, 20), TASSL_OK);
    char img_path[600], mask_path[600], man[600], bad_pred[600];
    path_in(img_path, sizeof img_path, "bad_img.nii.gz");
    path_in(mask_path, sizeof mask_path, "bad_mask.nii.gz");
    path_in(man, sizeof man, "bad.csv");
    path_in(bad_pred, sizeof bad_pred, "bad_pred");
    assert_int_equal(tassl_nifti_write(img_path, &im, TASSL_NIFTI_FLOAT32, 1), TASSL_OK);
    im.data[7] = 2;
    assert_int_equal(tassl_nifti_write(mask_path, &im, TASSL_NIFTI_UINT8, 1), TASSL_OK);
    tassl_image_free(&im);
    f = fopen(man, "w");
    assert_non_null(f);
    fprintf(f, "image,mask,split\nbad_img.nii.gz,bad_mask.nii.gz,test\n");
    fclose(f);
    assert_int_equal(tassl_manifest_read(&m, man, NULL), TASSL_OK);
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    memset(&r, 0, sizeof r);
    assert_int_equal(task_segmentation.evaluate(st, &env, ds, bad_pred, &r), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "bad_mask.nii.gz"));
    assert_non_null(strstr(tassl_last_error(), "label 2"));
    snprintf(path, sizeof path, "%s/index.csv", bad_pred);
    assert_null(fopen(path, "r"));
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
    task_segmentation.destroy(st);
    tassl_encoder_free(enc);
    tassl_params_free(p);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(cfg);
}

/* The head on each encoder family: logits at the input size, a finite loss whose gradient
 * reaches the head (and the encoder unless frozen); the ViT (no feature pyramid) is refused. */
static void run_head(const char *arch, int dims, bool frozen, const char *extra) {
    tassl_config *cfg =
        seg_config("unused.csv", arch, dims == 3 ? "model.dims=3" : "model.dims=2",
                   dims == 3 ? "data.patch=[8,16,16]" : "data.patch=[16,16]", extra, NULL);
    tassl_device *dev = open_device();
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, 9);
    tassl_params *p = tassl_params_new(ctx);
    int64_t sz[3] = {dims == 3 ? 8 : 1, 16, 16};
    tassl_encoder *enc;
    if (tassl_encoder_new(p, cfg, sz, &enc) != TASSL_OK) fail_msg("%s", tassl_last_error());
    task_env env = {.cfg = cfg,
                    .ctx = ctx,
                    .params = p,
                    .encoder = enc,
                    .kind = TASSL_TASK_SEGMENTATION,
                    .dims = dims,
                    .sample = {1, sz[0], sz[1], sz[2]},
                    .nclasses = 3,
                    .frozen = frozen,
                    .quiet = true,
                    .seed = 9,
                    .batch = 2};
    tassl_aug_config_default(&env.norm);
    void *st;
    if (task_segmentation.create(&env, &st) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_int_equal(tassl_params_finalize(p), TASSL_OK);
    assert_int_equal(tassl_encoder_init(enc), TASSL_OK);
    assert_int_equal(task_segmentation.init(st), TASSL_OK);
    if (frozen)
        for (int i = 0; i < tassl_params_count(p); i++) {
            tassl_tensor *t = tassl_params_get(p, i);
            if (strncmp(t->name, "encoder.", 8) == 0) tassl_requires_grad_(t, false);
        }
    enum { N = 2 };
    int64_t nv = sz[0] * sz[1] * sz[2];
    float *x = malloc((size_t)(N * nv) * sizeof(float)),
          *m = malloc((size_t)(N * nv) * sizeof(float));
    for (int64_t i = 0; i < N * nv; i++) {
        m[i] = (float)((i / 5) % 3);
        x[i] = m[i] + 0.1f * (float)sin((double)i);
    }
    tassl_batch b = {.n = N, .c = 1, .d = sz[0], .h = sz[1], .w = sz[2], .nviews = 1};
    b.x[0] = x, b.mask = m;
    tassl_scope_begin(ctx);
    tassl_params_zero_grad(p);
    tassl_metric parts[4];
    int np = 0;
    tassl_tensor *loss = task_segmentation.loss(st, &env, &b, parts, &np);
    if (!loss) fail_msg("%s", tassl_last_error());
    assert_int_equal(np, 2);
    assert_string_equal(parts[0].name, "dice");
    assert_string_equal(parts[1].name, "ce");
    double lv = tassl_item(loss);
    assert_true(isfinite(lv) && lv > 0);
    assert_float_equal(lv, parts[0].value + parts[1].value, 1e-4); /* weights 1 / 1 */
    assert_int_equal(tassl_backward(loss), TASSL_OK);
    float *g = malloc((size_t)tassl_numel(tassl_params_flat_grad(p)) * sizeof(float));
    assert_int_equal(tassl_tensor_read(tassl_params_flat_grad(p), g), TASSL_OK);
    double ghead = 0, genc = 0;
    tassl_tensor *flat = tassl_params_flat(p);
    for (int i = 0; i < tassl_params_count(p); i++) {
        tassl_tensor *t = tassl_params_get(p, i);
        if (tassl_params_is_buffer(p, i)) continue;
        int64_t off = t->off - flat->off;
        double s2 = 0;
        for (int64_t j = 0; j < tassl_numel(t); j++)
            s2 += fabs(g[off + j]);
        if (strncmp(t->name, "head.", 5) == 0)
            ghead += s2;
        else
            genc += s2;
    }
    assert_true(ghead > 0);
    if (frozen)
        assert_true(genc == 0);
    else
        assert_true(genc > 0);
    free(g), free(x), free(m);
    tassl_scope_end(ctx);
    task_segmentation.destroy(st);
    tassl_encoder_free(enc);
    tassl_params_free(p);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(cfg);
}

static void test_head_archs(void **state) {
    (void)state;
    run_head("model.arch=resnet", 2, false, "model.stem=standard");
    run_head("model.arch=resnet", 3, false, "model.norm=group");
    run_head("model.arch=unet", 2, false, "model.unet.levels=3");
    run_head("model.arch=resnet", 2, true, "model.stem=small");
    /* ViT: no feature pyramid */
    tassl_config *cfg =
        seg_config("unused.csv", "model.arch=vit", "model.vit.patch=8", "model.vit.dim=16",
                   "model.vit.depth=1", "model.vit.heads=2", NULL);
    tassl_device *dev = open_device();
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_params *p = tassl_params_new(ctx);
    tassl_encoder *enc;
    assert_int_equal(tassl_encoder_new(p, cfg, (int64_t[]){1, 32, 32}, &enc), TASSL_OK);
    task_env env = {.cfg = cfg,
                    .ctx = ctx,
                    .params = p,
                    .encoder = enc,
                    .dims = 2,
                    .sample = {1, 1, 32, 32},
                    .nclasses = 2};
    void *st;
    assert_int_equal(task_segmentation.create(&env, &st), TASSL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tassl_last_error(), "model.arch"));
    env.encoder = enc;
    env.nclasses = 1;
    assert_int_equal(task_segmentation.create(&env, &st), TASSL_ERR_ARG);
    tassl_encoder_free(enc);
    tassl_params_free(p);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(cfg);
}

/* A short finetune on synthetic 2D lesions: the test Dice must clearly beat predicting all
 * background (0: every case has a lesion). */
static void test_finetune_learns(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    char manifest[640];
    write_synth("learn", 60, manifest, sizeof manifest);
    tassl_config *cfg = seg_config(manifest, "train.steps=40", "train.batch_size=8",
                                   "optim.name=adamw", "optim.lr=0.003", "output.name=learn", NULL);
    tassl_finetune_opts fo = tassl_finetune_opts_default();
    fo.quiet = true;
    fo.force = true;
    tassl_task_result r;
    if (tassl_finetune(cfg, &fo, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    double d = tassl_task_result_get(&r, "dice");
    printf("synthetic 2D lesions: test Dice %.3f IoU %.3f HD95 %.2f mm (%lld cases)\n", d,
           tassl_task_result_get(&r, "iou"), tassl_task_result_get(&r, "hd95"),
           (long long)r.samples);
    assert_true(d > 0.4);
    tassl_config_free(cfg);
}

/* ---- norm_scope image: a training crop and an inference window see the same values --------- */

typedef struct win_log {
    const tassl_aug_config *norm;
    float *seen; /* (nwin, ph, pw): each window after window_fn's transform */
    int64_t n, per;
} win_log;

/* as window_fn: each window through the evaluation transform (image scope: no re-normalisation) */
static tassl_status log_fn(void *user, const float *win, int64_t n, const int64_t shape[4],
                           float *probs) {
    win_log *l = user;
    for (int64_t i = 0; i < n; i++) {
        tassl_image im;
        assert_int_equal(tassl_image_new(&im, 1, shape[1], shape[2], shape[3]), TASSL_OK);
        memcpy(im.data, win + i * l->per, (size_t)l->per * sizeof(float));
        tassl_aug_sample as = {.image = &im};
        assert_int_equal(tassl_aug_apply(l->norm, &as, 0, (uint64_t)i, 0, NULL), TASSL_OK);
        memcpy(l->seen + l->n++ * l->per, im.data, (size_t)l->per * sizeof(float));
        tassl_image_free(&im);
    }
    for (int64_t j = 0; j < n * 2 * l->per; j++)
        probs[j] = 0.5f;
    return TASSL_OK;
}

static void test_image_norm_crop_equals_window(void **state) {
    (void)state;
    /* 3 axial slices of 20 x 24: air (0) around a head of distinct values, one bright outlier
     * (clipped by the 99.5th percentile) */
    const int64_t D = 3, H = 20, W = 24, nv = D * H * W;
    tassl_image vol;
    assert_int_equal(tassl_image_new(&vol, 1, D, H, W), TASSL_OK);
    for (int64_t v = 0; v < nv; v++) {
        int64_t y = (v / W) % H, x = v % W;
        int inside = y >= 3 && y < H - 3 && x >= 2 && x < W - 4;
        vol.data[v] = inside ? 40.0f + (float)((v * 37) % 101) + 0.001f * (float)v : 0.0f;
    }
    vol.data[(1 * H + 10) * W + 12] = 5000.0f;
    char img_path[600], man[600];
    path_in(img_path, sizeof img_path, "norm_vol.nii.gz");
    path_in(man, sizeof man, "norm.csv");
    assert_int_equal(tassl_nifti_write(img_path, &vol, TASSL_NIFTI_FLOAT32, 1), TASSL_OK);
    FILE *f = fopen(man, "w");
    assert_non_null(f);
    fprintf(f, "image,subject\nnorm_vol.nii.gz,a\n");
    fclose(f);
    /* the mri preset's normalisation at image scope */
    tassl_aug_config pre, nc;
    assert_int_equal(tassl_aug_preset("mri", &pre), TASSL_OK);
    tassl_aug_config_default(&nc);
    nc.norm = pre.norm;
    memcpy(nc.norm_percentiles, pre.norm_percentiles, sizeof nc.norm_percentiles);
    nc.norm_nonzero = pre.norm_nonzero;
    assert_int_equal(tassl_aug_config_set(&nc, "norm_scope", "image"), TASSL_OK);

    /* inference: the whole volume normalised once (as eval_case), then 2D windows */
    tassl_image img;
    assert_int_equal(tassl_image_read(img_path, NULL, &img, NULL), TASSL_OK);
    assert_int_equal(tassl_aug_normalize(&nc, &img, NULL), TASSL_OK);
    task_window_opts wo = {.dim = 2,
                           .axis = 0,
                           .overlap = 0.25,
                           .blend = TASK_BLEND_GAUSSIAN,
                           .batch = 3,
                           .pad_value = 0.0f,
                           .nclasses = 2};
    wo.patch[0] = 1, wo.patch[1] = 8, wo.patch[2] = 10;
    const int64_t ny = task_window_nsteps(H, 8, 0.25), nx = task_window_nsteps(W, 10, 0.25);
    win_log lg = {.norm = &nc, .per = 80};
    lg.seen = malloc((size_t)(D * ny * nx * 80) * sizeof(float));
    assert_non_null(lg.seen);
    assert_int_equal(task_window_run(&img, &wo, log_fn, &lg, NULL, NULL), TASSL_OK);
    assert_int_equal(lg.n, D * ny * nx);
    int64_t sy[8], sx[8];
    task_window_steps(H, 8, 0.25, sy);
    task_window_steps(W, 10, 0.25, sx);
    /* the values differ from a per-window z-score: the statistics are the volume's */
    assert_float_equal(lg.seen[0], 0.0, 0);

    /* training: crops from the dataset with the same normalisation at image scope */
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, man, NULL), TASSL_OK);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = 2;
    o.axis = 0;
    o.patch[1] = 8, o.patch[2] = 10;
    o.samples_per_image = 12;
    o.image_norm = &nc;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    int64_t compared = 0;
    for (int64_t i = 0; i < 12; i++) {
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(5, 0, i), &s), TASSL_OK);
        /* the training transform at image scope leaves the values alone too */
        tassl_aug_sample as = {.image = &s.image};
        assert_int_equal(tassl_aug_apply(&nc, &as, 1, (uint64_t)i, 0, NULL), TASSL_OK);
        const int64_t *org = s.prov.origin;
        for (int64_t y = 0; y < 8; y++)
            for (int64_t x = 0; x < 10; x++) {
                int64_t z = org[0], vy = org[1] + y, vx = org[2] + x;
                float got = s.image.data[y * 10 + x];
                /* every window that covers this voxel saw exactly this value */
                for (int64_t a = 0; a < ny; a++)
                    for (int64_t b = 0; b < nx; b++) {
                        int64_t wy = vy - sy[a], wx = vx - sx[b];
                        if (wy < 0 || wy >= 8 || wx < 0 || wx >= 10) continue;
                        float w = lg.seen[((z * ny + a) * nx + b) * 80 + wy * 10 + wx];
                        if (w != got)
                            fail_msg("voxel (%lld, %lld, %lld): crop %g, window %g", (long long)z,
                                     (long long)vy, (long long)vx, (double)got, (double)w);
                        compared++;
                    }
                assert_float_equal(got, img.data[(z * H + vy) * W + vx], 0);
            }
        tassl_sample_free(&s);
    }
    assert_true(compared > 12 * 80);
    /* and at patch scope the same crop is normalised on its own: different values */
    nc.norm_scope = TASSL_NORM_SCOPE_PATCH;
    tassl_image crop;
    int64_t start[3] = {1, 0, 0}, size[3] = {1, 8, 10};
    assert_int_equal(tassl_aug_crop(&vol, start, size, TASSL_PAD_ZERO, &crop), TASSL_OK);
    tassl_aug_sample as = {.image = &crop};
    assert_int_equal(tassl_aug_apply(&nc, &as, 1, 0, 0, NULL), TASSL_OK);
    int differ = 0;
    for (int64_t y = 0; y < 8; y++)
        for (int64_t x = 0; x < 10; x++)
            differ += fabsf(crop.data[y * 10 + x] - img.data[(1 * H + y) * W + x]) > 1e-3f;
    assert_true(differ > 0);
    tassl_image_free(&crop);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
    free(lg.seen);
    tassl_image_free(&img);
    tassl_image_free(&vol);
}

int main(void) {
    tassl_test_device_spec(device, sizeof device);
    if (!mkdtemp(tmp_root)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_fixtures),
        cmocka_unit_test(test_loss_perfect_and_bad),
        cmocka_unit_test(test_window_steps),
        cmocka_unit_test(test_window_exact),
        cmocka_unit_test(test_window_weights),
        cmocka_unit_test(test_writer_geometry),
        cmocka_unit_test(test_head_archs),
        cmocka_unit_test(test_evaluate_untrained),
        cmocka_unit_test(test_finetune_learns),
        cmocka_unit_test(test_image_norm_crop_equals_window),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    return rc;
}
