/* test_augment.c — augmentation, modality presets, Models Genesis transforms, masking and pretext
 * targets (include/tassl/augment.h): each transform's invariants, image/label/box consistency,
 * determinism per (seed, sample, epoch), 2D and 3D. Host-only: no device needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tassl/tassl.h"
#include "tassl/augment.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static void img_new(tassl_image *im, int c, int64_t d, int64_t h, int64_t w) {
    assert_int_equal(tassl_image_new(im, c, d, h, w), TASSL_OK);
}

static int64_t numel(const tassl_image *im) {
    return im->channels * tassl_image_voxels(im);
}

/* distinct values: value = linear index (exact in float for small images) */
static void fill_index(tassl_image *im) {
    for (int64_t i = 0; i < numel(im); i++)
        im->data[i] = (float)i;
}

static void fill_uniform(tassl_image *im, uint64_t seed) {
    for (int64_t i = 0; i < numel(im); i++)
        im->data[i] = tassl_philox_uniform(seed, (uint64_t)i);
}

static void img_copy(tassl_image *dst, const tassl_image *src) {
    img_new(dst, src->channels, src->d, src->h, src->w);
    memcpy(dst->data, src->data, (size_t)numel(src) * sizeof(float));
    memcpy(dst->affine, src->affine, sizeof dst->affine);
    memcpy(dst->spacing, src->spacing, sizeof dst->spacing);
}

static int img_equal(const tassl_image *a, const tassl_image *b) {
    if (a->channels != b->channels || a->d != b->d || a->h != b->h || a->w != b->w) return 0;
    return memcmp(a->data, b->data, (size_t)numel(a) * sizeof(float)) == 0;
}

static float at(const tassl_image *im, int c, int64_t z, int64_t y, int64_t x) {
    return im->data[((c * im->d + z) * im->h + y) * im->w + x];
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* label map of nested blobs: integer classes 0..3 */
static void fill_labels(tassl_image *im) {
    for (int64_t z = 0; z < im->d; z++)
        for (int64_t y = 0; y < im->h; y++)
            for (int64_t x = 0; x < im->w; x++) {
                double dz = im->d > 1 ? (z - im->d * 0.45) / im->d : 0,
                       dy = (y - im->h * 0.5) / im->h, dx = (x - im->w * 0.55) / im->w;
                double r = sqrt(dz * dz + dy * dy + dx * dx);
                im->data[(z * im->h + y) * im->w + x] = r < 0.12   ? 3
                                                        : r < 0.25 ? 2
                                                        : r < 0.4  ? 1
                                                                   : 0;
            }
}

/* ---- random stream --------------------------------------------------------------------------- */

static void rng_deterministic(void **state) {
    (void)state;
    tassl_aug_rng a, b, c, e;
    tassl_aug_rng_init(&a, 7, 3, 1, TASSL_STREAM_FLIP);
    tassl_aug_rng_init(&b, 7, 3, 1, TASSL_STREAM_FLIP);
    tassl_aug_rng_init(&c, 7, 4, 1, TASSL_STREAM_FLIP);
    tassl_aug_rng_init(&e, 7, 3, 2, TASSL_STREAM_FLIP);
    int same_c = 0, same_e = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t x = tassl_aug_rng_u32(&a);
        assert_int_equal(x, tassl_aug_rng_u32(&b));
        same_c += x == tassl_aug_rng_u32(&c);
        same_e += x == tassl_aug_rng_u32(&e);
    }
    assert_true(same_c < 2 && same_e < 2);
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t k = tassl_aug_rng_int(&a, -3, 5);
        assert_true(k >= -3 && k <= 5);
        float g = tassl_aug_rng_normal(&a);
        s += g, s2 += g * g;
    }
    assert_true(fabs(s / 20000) < 0.05 && fabs(s2 / 20000 - 1) < 0.05);
}

/* ---- spatial --------------------------------------------------------------------------------- */

static void flip_twice_identity(void **state) {
    (void)state;
    tassl_image a, ref;
    img_new(&a, 2, 5, 6, 7);
    fill_index(&a);
    img_copy(&ref, &a);
    for (int ax = 0; ax < 3; ax++) {
        tassl_aug_flip(&a, ax);
        assert_false(img_equal(&a, &ref));
        tassl_aug_flip(&a, ax);
        assert_true(img_equal(&a, &ref));
    }
    tassl_aug_flip(&a, 2); /* the W flip reverses rows */
    assert_true(at(&a, 1, 2, 3, 0) == at(&ref, 1, 2, 3, 6));
    tassl_image_free(&a), tassl_image_free(&ref);
}

static void rot90_four_identity(void **state) {
    (void)state;
    /* 2D, square */
    tassl_image a, ref;
    img_new(&a, 1, 1, 4, 4);
    fill_index(&a);
    img_copy(&ref, &a);
    assert_int_equal(tassl_aug_rot90(&a, 1, 2, 1), TASSL_OK);
    /* numpy.rot90(m): out[i][j] = m[j][n-1-i] */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            assert_true(at(&a, 0, 0, i, j) == at(&ref, 0, 0, j, 3 - i));
    for (int k = 0; k < 3; k++)
        assert_int_equal(tassl_aug_rot90(&a, 1, 2, 1), TASSL_OK);
    assert_true(img_equal(&a, &ref));
    tassl_image_free(&a), tassl_image_free(&ref);
    /* 3D, non-square planes: extents swap on odd k, four turns give the original */
    img_new(&a, 2, 3, 4, 5);
    fill_index(&a);
    img_copy(&ref, &a);
    static const int planes[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(tassl_aug_rot90(&a, planes[p][0], planes[p][1], 1), TASSL_OK);
        int64_t n[3] = {a.d, a.h, a.w}, r[3] = {ref.d, ref.h, ref.w};
        assert_true(n[planes[p][0]] == r[planes[p][1]] && n[planes[p][1]] == r[planes[p][0]]);
        for (int k = 0; k < 3; k++)
            assert_int_equal(tassl_aug_rot90(&a, planes[p][0], planes[p][1], 1), TASSL_OK);
        assert_true(img_equal(&a, &ref));
        /* k = 1 then k = 3 (= −1) is the identity too */
        assert_int_equal(tassl_aug_rot90(&a, planes[p][0], planes[p][1], 1), TASSL_OK);
        assert_int_equal(tassl_aug_rot90(&a, planes[p][0], planes[p][1], -1), TASSL_OK);
        assert_true(img_equal(&a, &ref));
    }
    tassl_image_free(&a), tassl_image_free(&ref);
}

static void crop_sizes_and_padding(void **state) {
    (void)state;
    tassl_image a, c;
    img_new(&a, 1, 4, 6, 8);
    fill_index(&a);
    int64_t st[3] = {1, 2, 3}, sz[3] = {2, 3, 4};
    assert_int_equal(tassl_aug_crop(&a, st, sz, TASSL_PAD_ZERO, &c), TASSL_OK);
    assert_true(c.d == 2 && c.h == 3 && c.w == 4);
    for (int z = 0; z < 2; z++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                assert_true(at(&c, 0, z, y, x) == at(&a, 0, z + 1, y + 2, x + 3));
    assert_true(c.affine[0][3] == 3 && c.affine[1][3] == 2 && c.affine[2][3] == 1);
    tassl_image_free(&c);
    /* window past the border: pad with the minimum (0 here) or the edge value */
    int64_t st2[3] = {-1, 4, 6}, sz2[3] = {2, 4, 4};
    a.data[0] = 5; /* the minimum becomes 1 */
    assert_int_equal(tassl_aug_crop(&a, st2, sz2, TASSL_PAD_MIN, &c), TASSL_OK);
    assert_true(at(&c, 0, 0, 0, 0) == 1);
    assert_true(at(&c, 0, 1, 0, 0) == at(&a, 0, 0, 4, 6));
    assert_true(at(&c, 0, 1, 3, 3) == 1);
    tassl_image_free(&c);
    assert_int_equal(tassl_aug_crop(&a, st2, sz2, TASSL_PAD_EDGE, &c), TASSL_OK);
    assert_true(at(&c, 0, 0, 1, 1) == at(&a, 0, 0, 5, 7));
    tassl_image_free(&c), tassl_image_free(&a);
}

static void pipeline_crop_modes(void **state) {
    (void)state;
    tassl_aug_config cfg;
    tassl_aug_config_default(&cfg);
    const char *modes[] = {"random", "center", "resized"};
    for (int dim = 2; dim <= 3; dim++)
        for (int m = 0; m < 3; m++) {
            tassl_image a;
            img_new(&a, 1, dim == 3 ? 20 : 1, 24, 28);
            fill_uniform(&a, 5);
            assert_int_equal(tassl_aug_config_set(&cfg, "crop", modes[m]), TASSL_OK);
            assert_int_equal(tassl_aug_config_set(&cfg, "crop_size", "[8, 12, 16]"), TASSL_OK);
            tassl_aug_sample s = {&a, NULL, NULL, NULL, 0};
            assert_int_equal(tassl_aug_apply(&cfg, &s, 1, 2, 3, NULL), TASSL_OK);
            assert_true(a.d == (dim == 3 ? 8 : 1) && a.h == 12 && a.w == 16);
            tassl_image_free(&a);
        }
    /* a centre crop is an exact copy of the middle */
    tassl_image a, ref;
    img_new(&a, 1, 1, 10, 10);
    fill_index(&a);
    img_copy(&ref, &a);
    assert_int_equal(tassl_aug_config_set(&cfg, "crop", "center"), TASSL_OK);
    assert_int_equal(tassl_aug_config_set(&cfg, "crop_size", "0,4,6"), TASSL_OK);
    tassl_aug_sample s = {&a, NULL, NULL, NULL, 0};
    assert_int_equal(tassl_aug_apply(&cfg, &s, 1, 0, 0, NULL), TASSL_OK);
    assert_true(a.h == 4 && a.w == 6);
    assert_true(at(&a, 0, 0, 0, 0) == at(&ref, 0, 0, 3, 2));
    tassl_image_free(&a), tassl_image_free(&ref);
}

static void set_all(tassl_aug_config *cfg, const char *const kv[][2]) {
    for (int i = 0; kv[i][0]; i++) {
        tassl_status st = tassl_aug_config_set(cfg, kv[i][0], kv[i][1]);
        if (st) fprintf(stderr, "%s\n", tassl_last_error());
        assert_int_equal(st, TASSL_OK);
    }
}

/* An image equal to its label map, transformed with nearest sampling, stays equal to the label
 * map; with trilinear sampling the label stays integer and agrees with the rounded image almost
 * everywhere. */
static void image_label_consistency(void **state) {
    (void)state;
    static const char *const kv[][2] = {{"crop", "resized"},
                                        {"crop_size", "[12, 20, 24]"},
                                        {"crop_scale", "[0.3, 1]"},
                                        {"flip_p", "[0.5, 0.5, 0.5]"},
                                        {"rot90_p", "0.5"},
                                        {"affine_p", "1"},
                                        {"affine_rotate", "[30, 20, 20]"},
                                        {"affine_shear", "0.1"},
                                        {"affine_translate", "0.1"},
                                        {"elastic_p", "1"},
                                        {"elastic_max", "3"},
                                        {"pad", "zero"},
                                        {NULL, NULL}};
    for (int dim = 2; dim <= 3; dim++)
        for (uint64_t sample = 0; sample < 6; sample++) {
            tassl_aug_config cfg;
            tassl_aug_config_default(&cfg);
            set_all(&cfg, kv);
            for (int nearest = 1; nearest >= 0; nearest--) {
                cfg.nearest = nearest;
                tassl_image im, lab, mask;
                img_new(&lab, 1, dim == 3 ? 16 : 1, 30, 32);
                fill_labels(&lab);
                lab.is_label = 1;
                img_copy(&im, &lab);
                img_copy(&mask, &lab);
                tassl_aug_sample s = {&im, &lab, &mask, NULL, 0};
                int el = 0;
                assert_int_equal(tassl_aug_apply(&cfg, &s, 11, sample, 0, &el), TASSL_OK);
                assert_true(el);
                assert_true(lab.d == im.d && lab.h == im.h && lab.w == im.w);
                assert_true(im.d == (dim == 3 ? 12 : 1) && im.h == 20 && im.w == 24);
                assert_true(img_equal(&lab, &mask));
                int64_t n = numel(&lab), agree = 0, fg = 0;
                for (int64_t i = 0; i < n; i++) {
                    assert_true(lab.data[i] == floorf(lab.data[i]));
                    assert_true(lab.data[i] >= 0 && lab.data[i] <= 3);
                    fg += lab.data[i] > 0;
                    agree += fabsf(im.data[i] - lab.data[i]) < 0.5f;
                }
                assert_true(fg > 0);
                if (nearest)
                    assert_true(img_equal(&im, &lab));
                else
                    assert_true(agree >= (int64_t)(0.93 * (double)n));
                tassl_image_free(&im), tassl_image_free(&lab), tassl_image_free(&mask);
            }
        }
}

/* Boxes follow flips, 90° rotations and crops exactly: compare with the bounding box of the
 * transformed foreground. */
static void boxes_follow_axis_aligned_maps(void **state) {
    (void)state;
    static const char *const kv[][2] = {{"crop", "random"},
                                        {"crop_size", "[10, 18, 18]"},
                                        {"flip_p", "[0.5, 0.5, 0.5]"},
                                        {"rot90_p", "0.7"},
                                        {"elastic_p", "1"},
                                        {NULL, NULL}};
    for (int dim = 2; dim <= 3; dim++)
        for (uint64_t sample = 0; sample < 12; sample++) {
            tassl_aug_config cfg;
            tassl_aug_config_default(&cfg);
            set_all(&cfg, kv);
            tassl_image im;
            int64_t D = dim == 3 ? 14 : 1;
            img_new(&im, 1, D, 20, 20);
            /* one box of ones: d 3..8 (3D), h 4..11, w 9..14 */
            tassl_box box = {{dim == 3 ? 3.0f : 0.0f, 4, 9}, {dim == 3 ? 9.0f : 1.0f, 12, 15}, 2};
            for (int64_t z = (int64_t)box.lo[0]; z < (int64_t)box.hi[0]; z++)
                for (int64_t y = 4; y < 12; y++)
                    for (int64_t x = 9; x < 15; x++)
                        im.data[(z * 20 + y) * 20 + x] = 1;
            tassl_aug_sample s = {&im, NULL, NULL, &box, 1};
            int el = 1;
            assert_int_equal(tassl_aug_apply(&cfg, &s, 3, sample, 0, &el), TASSL_OK);
            assert_false(el); /* no elastic with boxes */
            int64_t lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {-1, -1, -1};
            for (int64_t z = 0; z < im.d; z++)
                for (int64_t y = 0; y < im.h; y++)
                    for (int64_t x = 0; x < im.w; x++)
                        if (at(&im, 0, z, y, x) > 0.5f) {
                            int64_t p[3] = {z, y, x};
                            for (int a = 0; a < 3; a++) {
                                if (p[a] < lo[a]) lo[a] = p[a];
                                if (p[a] + 1 > hi[a]) hi[a] = p[a] + 1;
                            }
                        }
            if (hi[0] < 0) {
                assert_int_equal(s.n_boxes, 0); /* cropped away */
            } else {
                assert_int_equal(s.n_boxes, 1);
                assert_int_equal(box.label, 2);
                for (int a = 0; a < 3; a++) {
                    assert_true(fabsf(box.lo[a] - (float)lo[a]) < 1e-4f);
                    assert_true(fabsf(box.hi[a] - (float)hi[a]) < 1e-4f);
                }
            }
            tassl_image_free(&im);
        }
}

static void warp_identity_and_affine_geometry(void **state) {
    (void)state;
    tassl_image a, b;
    img_new(&a, 2, 6, 7, 8);
    fill_uniform(&a, 9);
    tassl_aug_map id = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, {0, 0, 0}};
    int64_t sz[3] = {6, 7, 8};
    assert_int_equal(tassl_aug_warp(&a, &id, NULL, sz, 0, TASSL_PAD_ZERO, &b), TASSL_OK);
    assert_true(img_equal(&a, &b));
    tassl_image_free(&b);
    /* half-voxel shift along W: trilinear averages neighbours */
    tassl_aug_map sh = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, {0, 0, 0.5}};
    assert_int_equal(tassl_aug_warp(&a, &sh, NULL, sz, 0, TASSL_PAD_EDGE, &b), TASSL_OK);
    assert_true(fabsf(at(&b, 1, 2, 3, 4) - 0.5f * (at(&a, 1, 2, 3, 4) + at(&a, 1, 2, 3, 5))) <
                1e-6f);
    assert_true(fabs(b.affine[0][3] - 0.5) < 1e-12); /* world origin moved half a voxel in x */
    tassl_image_free(&b), tassl_image_free(&a);
}

/* ---- intensity ------------------------------------------------------------------------------- */

static void ct_window(void **state) {
    (void)state;
    tassl_image a;
    img_new(&a, 1, 1, 1, 5);
    float v[5] = {-1000, -160, 40, 240, 3000};
    memcpy(a.data, v, sizeof v);
    tassl_aug_window(&a, 40, 400);
    assert_true(a.data[0] == 0 && a.data[1] == 0 && fabsf(a.data[2] - 0.5f) < 1e-6f);
    assert_true(a.data[3] == 1 && a.data[4] == 1);
    tassl_image_free(&a);
}

static void zscore_within_mask(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++) {
        tassl_image a, m;
        img_new(&a, 1, dim == 3 ? 8 : 1, 32, 32);
        img_new(&m, 1, a.d, 32, 32);
        fill_uniform(&a, 21);
        fill_labels(&m);
        for (int64_t i = 0; i < numel(&a); i++)
            a.data[i] = 300 + 80 * a.data[i] * (1 + m.data[i]);
        assert_int_equal(tassl_aug_zscore(&a, &m, 0, 0, 100), TASSL_OK);
        double s = 0, s2 = 0;
        int64_t k = 0;
        for (int64_t i = 0; i < numel(&a); i++)
            if (m.data[i] > 0)
                s += a.data[i], s2 += a.data[i] * a.data[i], k++;
            else
                assert_true(a.data[i] == 0);
        double mean = s / k, sd = sqrt(s2 / k - mean * mean);
        assert_true(fabs(mean) < 1e-4 && fabs(sd - 1) < 1e-3);
        tassl_image_free(&m);
        /* percentile clipping: values beyond the percentiles are clipped before the statistics */
        fill_uniform(&a, 22);
        a.data[5] = 1e6f;
        assert_int_equal(tassl_aug_percentile(&a, NULL, 0, 1, 99), TASSL_OK);
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < numel(&a); i++)
            lo = fminf(lo, a.data[i]), hi = fmaxf(hi, a.data[i]);
        assert_true(lo == 0 && fabsf(hi - 1) < 1e-6f && a.data[5] == hi);
        tassl_image_free(&a);
    }
}

static void intensity_invariants(void **state) {
    (void)state;
    tassl_image a, ref;
    img_new(&a, 1, 4, 16, 16);
    fill_uniform(&a, 31);
    img_copy(&ref, &a);
    tassl_aug_gamma(&a, 1.0f, 0);
    for (int64_t i = 0; i < numel(&a); i++)
        assert_true(fabsf(a.data[i] - ref.data[i]) < 1e-5f);
    /* gamma (also on the inverted image) keeps each channel's min, max and order */
    for (int inv = 0; inv < 2; inv++) {
        tassl_aug_gamma(&a, inv ? 0.5f : 2.0f, inv);
        float lo0 = INFINITY, hi0 = -INFINITY, lo1 = INFINITY, hi1 = -INFINITY;
        for (int64_t i = 0; i < numel(&a); i++) {
            lo0 = fminf(lo0, ref.data[i]), hi0 = fmaxf(hi0, ref.data[i]);
            lo1 = fminf(lo1, a.data[i]), hi1 = fmaxf(hi1, a.data[i]);
            if (i && ref.data[i] > ref.data[i - 1]) assert_true(a.data[i] >= a.data[i - 1] - 1e-6f);
        }
        assert_true(fabsf(lo0 - lo1) < 1e-5f && fabsf(hi0 - hi1) < 1e-5f);
        assert_false(img_equal(&a, &ref));
        memcpy(a.data, ref.data, (size_t)numel(&a) * sizeof(float));
    }
    /* contrast keeps the mean */
    double before = 0, after = 0;
    for (int64_t i = 0; i < numel(&a); i++)
        before += a.data[i];
    tassl_aug_contrast(&a, 1.7f);
    for (int64_t i = 0; i < numel(&a); i++)
        after += a.data[i];
    assert_true(fabs(before - after) < 1e-2);
    /* blur keeps a constant image constant and the mean of any image (reflect borders) */
    for (int64_t i = 0; i < numel(&a); i++)
        a.data[i] = 2.5f;
    assert_int_equal(tassl_aug_blur(&a, 1.3f), TASSL_OK);
    for (int64_t i = 0; i < numel(&a); i++)
        assert_true(fabsf(a.data[i] - 2.5f) < 1e-5f);
    /* noise: std as asked */
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, 1, 2, 3, TASSL_STREAM_NOISE);
    tassl_aug_noise(&a, 0.2f, &r);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < numel(&a); i++)
        s += a.data[i] - 2.5, s2 += (a.data[i] - 2.5) * (a.data[i] - 2.5);
    assert_true(fabs(sqrt(s2 / numel(&a)) - 0.2) < 0.01);
    /* Rician: non-negative */
    tassl_aug_rician(&a, 1.0f, &r);
    for (int64_t i = 0; i < numel(&a); i++)
        assert_true(a.data[i] >= 0);
    /* bias field: coefficient 0 → identity; otherwise positive, smooth multiplicative */
    tassl_image_free(&a);
    img_copy(&a, &ref);
    tassl_aug_bias_field(&a, 3, 0.0f, &r);
    assert_true(img_equal(&a, &ref));
    tassl_aug_bias_field(&a, 3, 0.3f, &r);
    for (int64_t i = 0; i < numel(&a); i++) {
        float f = a.data[i] / ref.data[i];
        assert_true(ref.data[i] == 0 || (f > expf(-0.3f * 20) && f < expf(0.3f * 20)));
    }
    /* histogram shift: monotone, keeps min and max */
    tassl_image_free(&a);
    img_copy(&a, &ref);
    tassl_aug_hist_shift(&a, 8, &r);
    for (int64_t i = 1; i < numel(&a); i++)
        if (ref.data[i] > ref.data[i - 1]) assert_true(a.data[i] >= a.data[i - 1] - 1e-6f);
    tassl_image_free(&a), tassl_image_free(&ref);
}

static void colour_jitter_and_hed(void **state) {
    (void)state;
    tassl_image a, ref;
    img_new(&a, 3, 1, 16, 16);
    fill_uniform(&a, 41);
    for (int64_t i = 0; i < numel(&a); i++)
        a.data[i] = 0.05f + 0.9f * a.data[i];
    img_copy(&ref, &a);
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, 1, 0, 0, TASSL_STREAM_JITTER);
    assert_int_equal(tassl_aug_color_jitter(&a, 0, 0, 0, 0, &r), TASSL_OK);
    assert_true(img_equal(&a, &ref));
    assert_int_equal(tassl_aug_color_jitter(&a, 0.4f, 0.4f, 0.4f, 0.1f, &r), TASSL_OK);
    for (int64_t i = 0; i < numel(&a); i++)
        assert_true(a.data[i] >= 0 && a.data[i] <= 1);
    assert_false(img_equal(&a, &ref));
    /* hue only: the grey pixels stay grey */
    for (int c = 0; c < 3; c++)
        a.data[c * 256] = 0.4f;
    assert_int_equal(tassl_aug_color_jitter(&a, 0, 0, 0, 0.3f, &r), TASSL_OK);
    assert_true(fabsf(a.data[0] - 0.4f) < 1e-5f && fabsf(a.data[256] - 0.4f) < 1e-5f);
    /* HED with sigma 0: the colour deconvolution round trip is the identity */
    tassl_image_free(&a);
    img_copy(&a, &ref);
    assert_int_equal(tassl_aug_hed_jitter(&a, 0, &r), TASSL_OK);
    for (int64_t i = 0; i < numel(&a); i++)
        assert_true(fabsf(a.data[i] - ref.data[i]) < 1e-4f);
    assert_int_equal(tassl_aug_hed_jitter(&a, 0.05f, &r), TASSL_OK);
    assert_false(img_equal(&a, &ref));
    /* grey images: a clear error */
    tassl_image g;
    img_new(&g, 1, 1, 4, 4);
    assert_int_equal(tassl_aug_color_jitter(&g, 0.4f, 0, 0, 0, &r), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "3 channels"));
    tassl_image_free(&g), tassl_image_free(&a), tassl_image_free(&ref);
}

/* ---- Models Genesis -------------------------------------------------------------------------- */

static void bezier_endpoints_monotone(void **state) {
    (void)state;
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, 5, 0, 0, TASSL_STREAM_GENESIS_NONLINEAR);
    for (int trial = 0; trial < 20; trial++) {
        float p1[2] = {tassl_aug_rng_uniform(&r), tassl_aug_rng_uniform(&r)};
        float p2[2] = {tassl_aug_rng_uniform(&r), tassl_aug_rng_uniform(&r)};
        for (int inv = 0; inv < 2; inv++) {
            tassl_image a;
            img_new(&a, 1, 1, 1, 101);
            for (int i = 0; i <= 100; i++)
                a.data[i] = i / 100.0f;
            tassl_genesis_bezier(&a, p1, p2, inv);
            if (!inv) {
                assert_true(fabsf(a.data[0]) < 1e-6f && fabsf(a.data[100] - 1) < 1e-6f);
                for (int i = 1; i <= 100; i++)
                    assert_true(a.data[i] >= a.data[i - 1]);
            } else {
                assert_true(fabsf(a.data[0] - 1) < 1e-6f && fabsf(a.data[100]) < 1e-6f);
            }
            for (int i = 0; i <= 100; i++)
                assert_true(a.data[i] >= -1e-6f && a.data[i] <= 1 + 1e-6f);
            tassl_image_free(&a);
        }
    }
    /* control points on the diagonal: the identity */
    tassl_image a;
    img_new(&a, 1, 1, 1, 11);
    for (int i = 0; i <= 10; i++)
        a.data[i] = i / 10.0f;
    float q1[2] = {0.3f, 0.3f}, q2[2] = {0.7f, 0.7f};
    tassl_genesis_bezier(&a, q1, q2, 0);
    for (int i = 0; i <= 10; i++)
        assert_true(fabsf(a.data[i] - i / 10.0f) < 1e-3f);
    tassl_image_free(&a);
}

static void shuffle_preserves_multiset(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++) {
        tassl_image a, ref;
        img_new(&a, 2, dim == 3 ? 16 : 1, 40, 40);
        fill_index(&a);
        img_copy(&ref, &a);
        tassl_aug_rng r;
        tassl_aug_rng_init(&r, 9, 1, 0, TASSL_STREAM_GENESIS_SHUFFLE);
        assert_int_equal(tassl_genesis_shuffle(&a, 500, 0.1f, &r), TASSL_OK);
        assert_false(img_equal(&a, &ref));
        int64_t nv = tassl_image_voxels(&a), moved = 0;
        /* each channel keeps its values; channels move together (same permutation) */
        for (int64_t i = 0; i < nv; i++) {
            assert_true(a.data[nv + i] - a.data[i] == (float)nv);
            moved += a.data[i] != ref.data[i];
        }
        assert_true(moved > nv / 20);
        qsort(a.data, (size_t)numel(&a), sizeof(float), cmpf);
        for (int64_t i = 0; i < numel(&a); i++)
            assert_true(a.data[i] == (float)i);
        /* values stay local: each moved at most a window side (4 voxels) per axis */
        tassl_image_free(&a), tassl_image_free(&ref);
    }
}

static int inside_any(const tassl_box *b, int n, int64_t z, int64_t y, int64_t x) {
    for (int i = 0; i < n; i++)
        if (z >= b[i].lo[0] && z < b[i].hi[0] && y >= b[i].lo[1] && y < b[i].hi[1] &&
            x >= b[i].lo[2] && x < b[i].hi[2])
            return 1;
    return 0;
}

static void painting_touches_only_its_regions(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++)
        for (uint64_t sample = 0; sample < 8; sample++) {
            tassl_image a, ref;
            img_new(&a, 1, dim == 3 ? 21 : 1, 42, 42);
            for (int64_t i = 0; i < numel(&a); i++)
                a.data[i] = 2.0f; /* outside the noise range */
            img_copy(&ref, &a);
            tassl_aug_rng r;
            tassl_aug_rng_init(&r, 4, sample, 0, TASSL_STREAM_GENESIS_PAINT);
            tassl_box reg[5];
            int nreg = -1;
            tassl_genesis_inpaint(&a, &r, reg, &nreg);
            assert_true(nreg >= 0 && nreg <= 5);
            int64_t changed_in = 0, in = 0;
            for (int64_t z = 0; z < a.d; z++)
                for (int64_t y = 0; y < a.h; y++)
                    for (int64_t x = 0; x < a.w; x++) {
                        float v = at(&a, 0, z, y, x);
                        if (inside_any(reg, nreg, z, y, x)) {
                            in++;
                            changed_in += v != 2.0f;
                            assert_true(v >= 0 && v < 1);
                        } else
                            assert_true(v == 2.0f);
                    }
            assert_int_equal(changed_in, in);
            for (int i = 0; i < nreg; i++) /* sides n/6..n/3 */
                for (int ax = 1; ax < 3; ax++) {
                    float side = reg[i].hi[ax] - reg[i].lo[ax];
                    assert_true(side >= 7 && side <= 14);
                }
            /* out-painting: inside the kept boxes unchanged, everything else noise */
            memcpy(a.data, ref.data, (size_t)numel(&a) * sizeof(float));
            assert_int_equal(tassl_genesis_outpaint(&a, &r, reg, &nreg), TASSL_OK);
            assert_true(nreg >= 1 && nreg <= 5);
            for (int64_t z = 0; z < a.d; z++)
                for (int64_t y = 0; y < a.h; y++)
                    for (int64_t x = 0; x < a.w; x++) {
                        float v = at(&a, 0, z, y, x);
                        if (inside_any(reg, nreg, z, y, x))
                            assert_true(v == 2.0f);
                        else
                            assert_true(v >= 0 && v < 1);
                    }
            tassl_image_free(&a), tassl_image_free(&ref);
        }
}

static void genesis_pair_deterministic(void **state) {
    (void)state;
    tassl_genesis_config cfg;
    tassl_genesis_config_default(&cfg);
    assert_true(cfg.flip_p == 0.4f && cfg.shuffle_p == 0.5f && cfg.nonlinear_p == 0.9f &&
                cfg.paint_p == 0.9f && cfg.inpaint_p == 0.2f && cfg.shuffle_blocks == 10000);
    for (int dim = 2; dim <= 3; dim++) {
        tassl_image src;
        img_new(&src, 1, dim == 3 ? 16 : 1, 32, 32);
        fill_uniform(&src, 77);
        tassl_image in1 = {0}, t1 = {0}, in2 = {0}, t2 = {0};
        int differs = 0;
        for (uint64_t sample = 0; sample < 6; sample++) {
            assert_int_equal(tassl_genesis_apply(&cfg, &src, &in1, &t1, 5, sample, 1), TASSL_OK);
            assert_int_equal(tassl_genesis_apply(&cfg, &src, &in2, &t2, 5, sample, 1), TASSL_OK);
            assert_true(img_equal(&in1, &in2) && img_equal(&t1, &t2));
            assert_int_equal(tassl_genesis_apply(&cfg, &src, &in2, &t2, 5, sample + 100, 1),
                             TASSL_OK);
            differs += !img_equal(&in1, &in2);
            /* the target is the source up to flips: same values */
            float *a = malloc((size_t)numel(&src) * sizeof(float)),
                  *b = malloc((size_t)numel(&src) * sizeof(float));
            memcpy(a, src.data, (size_t)numel(&src) * sizeof(float));
            memcpy(b, t1.data, (size_t)numel(&src) * sizeof(float));
            qsort(a, (size_t)numel(&src), sizeof(float), cmpf);
            qsort(b, (size_t)numel(&src), sizeof(float), cmpf);
            assert_memory_equal(a, b, (size_t)numel(&src) * sizeof(float));
            free(a), free(b);
        }
        assert_true(differs >= 5);
        /* everything off: input = target = source */
        tassl_genesis_config off = cfg;
        off.flip_p = off.shuffle_p = off.nonlinear_p = off.paint_p = 0;
        assert_int_equal(tassl_genesis_apply(&off, &src, &in1, &t1, 5, 0, 0), TASSL_OK);
        assert_true(img_equal(&in1, &src) && img_equal(&t1, &src));
        tassl_image_free(&src), tassl_image_free(&in1), tassl_image_free(&t1);
        tassl_image_free(&in2), tassl_image_free(&t2);
    }
    assert_int_equal(tassl_genesis_config_set(&cfg, "paint_p", "1.5"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "paint_p"));
}

/* ---- masking --------------------------------------------------------------------------------- */

static void mask_ratio(void **state) {
    (void)state;
    tassl_mask_config cfg;
    tassl_mask_config_default(&cfg);
    struct {
        const char *mode;
        float ratio;
        int64_t d, h, w, pd, ph, pw;
    } cases[] = {{"patch", 0.6f, 1, 192, 192, 1, 32, 32}, {"patch", 0.75f, 1, 224, 224, 1, 16, 16},
                 {"block", 0.4f, 1, 224, 224, 1, 16, 16}, {"patch", 0.75f, 64, 64, 64, 16, 16, 16},
                 {"block", 0.6f, 64, 64, 32, 8, 8, 8},    {"patch", 0.5f, 1, 30, 30, 1, 8, 8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(tassl_mask_config_set(&cfg, "mode", cases[c].mode), TASSL_OK);
        cfg.ratio = cases[c].ratio;
        cfg.patch[0] = cases[c].pd, cfg.patch[1] = cases[c].ph, cfg.patch[2] = cases[c].pw;
        tassl_image m = {0};
        int nm, np;
        for (uint64_t sample = 0; sample < 4; sample++) {
            assert_int_equal(tassl_mask_generate(&cfg, cases[c].d, cases[c].h, cases[c].w, 1,
                                                 sample, 0, &m, &nm, &np),
                             TASSL_OK);
            assert_int_equal(nm, (int)lround(cases[c].ratio * np));
            /* constant on each patch, 0/1 */
            int64_t ones = 0;
            for (int64_t z = 0; z < m.d; z++)
                for (int64_t y = 0; y < m.h; y++)
                    for (int64_t x = 0; x < m.w; x++) {
                        float v = at(&m, 0, z, y, x);
                        assert_true(v == 0 || v == 1);
                        assert_true(v == at(&m, 0, z - z % cfg.patch[0], y - y % cfg.patch[1],
                                            x - x % cfg.patch[2]));
                        ones += v == 1;
                    }
            if (m.h % cfg.patch[1] == 0 && m.w % cfg.patch[2] == 0 && m.d % cfg.patch[0] == 0)
                assert_true(fabs((double)ones / numel(&m) - (double)nm / np) < 1e-9);
        }
        tassl_image_free(&m);
    }
    /* block masking makes blocks: masked patches have more masked neighbours than uniform */
    tassl_mask_config_set(&cfg, "mode", "block");
    cfg.ratio = 0.4f, cfg.patch[0] = 1, cfg.patch[1] = cfg.patch[2] = 1;
    tassl_image m = {0};
    int nm, np;
    assert_int_equal(tassl_mask_generate(&cfg, 1, 14, 14, 3, 0, 0, &m, &nm, &np), TASSL_OK);
    int64_t pairs = 0, same = 0;
    for (int64_t y = 0; y < 14; y++)
        for (int64_t x = 0; x + 1 < 14; x++)
            if (at(&m, 0, 0, y, x) == 1) pairs++, same += at(&m, 0, 0, y, x + 1) == 1;
    assert_true((double)same / pairs > 0.6);
    tassl_image_free(&m);
}

/* ---- pretext targets ------------------------------------------------------------------------- */

static int hamming(const uint8_t *a, const uint8_t *b, int n) {
    int d = 0;
    for (int i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

static void jigsaw_permutation_set(void **state) {
    (void)state;
    struct {
        int tiles, count, expect_min;
    } cases[] = {{9, 100, 6}, {8, 64, 6}, {4, 24, 2}, {9, 30, 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int T = cases[c].tiles, K = cases[c].count, mh = -1, mh2 = -1;
        uint8_t *p = malloc((size_t)(T * K)), *q = malloc((size_t)(T * K));
        assert_int_equal(tassl_jigsaw_perms(T, K, 42, p, &mh), TASSL_OK);
        assert_int_equal(tassl_jigsaw_perms(T, K, 42, q, &mh2), TASSL_OK);
        assert_memory_equal(p, q, (size_t)(T * K)); /* seeded-deterministic */
        int brute = T;
        for (int i = 0; i < K; i++) {
            int seen = 0; /* each row a permutation */
            for (int t = 0; t < T; t++)
                seen |= 1 << p[i * T + t];
            assert_int_equal(seen, (1 << T) - 1);
            for (int j = 0; j < i; j++) {
                int d = hamming(p + i * T, p + j * T, T);
                if (d < brute) brute = d;
            }
        }
        assert_int_equal(mh, brute);
        assert_true(mh >= cases[c].expect_min);
        assert_int_equal(tassl_jigsaw_perms(T, K, 43, q, NULL), TASSL_OK);
        if (K < 24) assert_true(memcmp(p, q, (size_t)(T * K)) != 0);
        free(p), free(q);
    }
    assert_int_equal(tassl_jigsaw_perms(10, 5, 1, NULL, NULL), TASSL_ERR_ARG);
}

static void jigsaw_tiles_follow_permutation(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++) {
        int g = dim == 2 ? 3 : 2, T = dim == 2 ? 9 : 8;
        tassl_image src, out = {0};
        int64_t n = dim == 2 ? 36 : 24;
        img_new(&src, 1, dim == 3 ? n : 1, n, n);
        int64_t cell = n / g;
        for (int64_t z = 0; z < src.d; z++) /* value = cell index (row-major over d, h, w) */
            for (int64_t y = 0; y < n; y++)
                for (int64_t x = 0; x < n; x++)
                    src.data[(z * n + y) * n + x] =
                        (float)(((dim == 3 ? z / cell : 0) * g + y / cell) * g + x / cell);
        uint8_t perms[20 * 9];
        assert_int_equal(tassl_jigsaw_perms(T, 20, 1, perms, NULL), TASSL_OK);
        tassl_jigsaw_config jc = {g, 2, 1};
        for (uint64_t sample = 0; sample < 5; sample++) {
            int label = -1;
            assert_int_equal(tassl_pretext_jigsaw(&src, &jc, perms, 20, 1, sample, 0, &out, &label),
                             TASSL_OK);
            assert_true(label >= 0 && label < 20);
            assert_int_equal(out.channels, T);
            assert_true(out.h == cell - 2 && out.w == cell - 2);
            int64_t tv = tassl_image_voxels(&out);
            for (int t = 0; t < T; t++)
                for (int64_t i = 0; i < tv; i++)
                    assert_true(out.data[t * tv + i] == (float)perms[label * T + t]);
        }
        tassl_image_free(&src), tassl_image_free(&out);
    }
}

static void rpl_labels_match_geometry(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++) {
        tassl_image src, out = {0};
        int64_t n = dim == 2 ? 64 : 40;
        img_new(&src, 1, dim == 3 ? n : 1, n, n);
        for (int64_t z = 0; z < src.d; z++) /* value encodes the position */
            for (int64_t y = 0; y < n; y++)
                for (int64_t x = 0; x < n; x++)
                    src.data[(z * n + y) * n + x] = (float)((z * 100 + y) * 100 + x);
        tassl_rpl_config rc = {{8, 8, 8}, 3, 2};
        int seen[26] = {0};
        for (uint64_t sample = 0; sample < 200; sample++) {
            int label;
            int64_t a0[3], b0[3];
            assert_int_equal(tassl_pretext_rpl(&src, &rc, 2, sample, 0, &out, &label, a0, b0),
                             TASSL_OK);
            assert_true(label >= 0 && label < (dim == 2 ? 8 : 26));
            seen[label]++;
            int off[3];
            tassl_rpl_offset(dim, label, off);
            for (int a = (dim == 2 ? 1 : 0); a < 3; a++) {
                int64_t delta = b0[a] - a0[a] - off[a] * (8 + 3);
                assert_true(delta >= -2 && delta <= 2);
            }
            /* the patches hold the image at those corners */
            int64_t pv = tassl_image_voxels(&out);
            assert_true(out.data[0] == (float)((a0[0] * 100 + a0[1]) * 100 + a0[2]));
            assert_true(out.data[pv] == (float)((b0[0] * 100 + b0[1]) * 100 + b0[2]));
            /* the label's direction is the sign of the centre offset */
            for (int a = 0; a < 3; a++) {
                int64_t dlt = b0[a] - a0[a];
                int sign = dlt > 2 ? 1 : dlt < -2 ? -1 : 0;
                assert_int_equal(sign, off[a]);
            }
        }
        for (int l = 0; l < (dim == 2 ? 8 : 26); l++)
            assert_true(seen[l] > 0);
        tassl_image_free(&src), tassl_image_free(&out);
    }
    int off[3];
    tassl_rpl_offset(2, 0, off);
    assert_true(off[0] == 0 && off[1] == -1 && off[2] == -1);
    tassl_rpl_offset(2, 4, off);
    assert_true(off[1] == 0 && off[2] == 1);
    tassl_rpl_offset(3, 12, off);
    assert_true(off[0] == 0 && off[1] == 0 && off[2] == -1);
    tassl_rpl_offset(3, 13, off);
    assert_true(off[0] == 0 && off[1] == 0 && off[2] == 1);
}

static void rotation_classes(void **state) {
    (void)state;
    tassl_image cube, out = {0}, back = {0};
    img_new(&cube, 1, 6, 6, 6);
    fill_index(&cube);
    tassl_image outs[10];
    for (int c = 0; c < 10; c++) {
        memset(&outs[c], 0, sizeof outs[c]);
        assert_int_equal(tassl_pretext_rotate(&cube, 10, c, &outs[c]), TASSL_OK);
        for (int k = 0; k < c; k++)
            assert_false(img_equal(&outs[c], &outs[k])); /* all distinct */
    }
    /* class 1 + 3·axis + (k − 1) four times k = 1 → identity, and the 2D 4-way set */
    for (int axis = 0; axis < 3; axis++) {
        img_copy(&back, &cube);
        for (int t = 0; t < 4; t++) {
            assert_int_equal(tassl_pretext_rotate(&back, 10, 1 + 3 * axis, &out), TASSL_OK);
            memcpy(back.data, out.data, (size_t)numel(&out) * sizeof(float));
        }
        assert_true(img_equal(&back, &cube));
        tassl_image_free(&back);
    }
    for (int c = 0; c < 10; c++)
        tassl_image_free(&outs[c]);
    tassl_image flat;
    img_new(&flat, 1, 1, 5, 5);
    fill_index(&flat);
    int cls = -1;
    assert_int_equal(tassl_pretext_rotation(&flat, 4, 1, 7, 0, &out, &cls), TASSL_OK);
    assert_true(cls >= 0 && cls < 4);
    assert_int_equal(tassl_pretext_rotate(&flat, 10, 1, &out), TASSL_ERR_ARG);
    tassl_image slab;
    img_new(&slab, 1, 4, 6, 6);
    assert_int_equal(tassl_pretext_rotate(&slab, 10, 4, &out), TASSL_ERR_ARG); /* about H, k=1 */
    assert_int_equal(tassl_pretext_rotate(&slab, 10, 5, &out), TASSL_OK);      /* 180°: fine */
    tassl_image_free(&slab), tassl_image_free(&flat), tassl_image_free(&cube),
        tassl_image_free(&out);
}

/* ---- config, presets, determinism ------------------------------------------------------------ */

static void config_table_and_presets(void **state) {
    (void)state;
    int n;
    const tassl_field *t = tassl_aug_fields(&n);
    assert_true(n > 40);
    tassl_aug_config cfg;
    tassl_aug_config_default(&cfg);
    char buf[128];
    for (int i = 0; i < n; i++) { /* every field: described, default round-trips */
        assert_true(t[i].help && strlen(t[i].help) > 10);
        assert_non_null(tassl_aug_config_get(&cfg, t[i].name, buf, sizeof buf));
        tassl_aug_config c2 = cfg;
        assert_int_equal(tassl_aug_config_set(&c2, t[i].name, buf), TASSL_OK);
        assert_memory_equal(&c2, &cfg, sizeof cfg);
    }
    assert_int_equal(tassl_aug_config_validate(&cfg), TASSL_OK);
    assert_int_equal(tassl_aug_config_set(&cfg, "gamma_range", "[0.5, 2]"), TASSL_OK);
    assert_true(cfg.gamma_range[0] == 0.5f && cfg.gamma_range[1] == 2.0f);
    tassl_aug_config before = cfg;
    assert_int_equal(tassl_aug_config_set(&cfg, "flip_pp", "0.5"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "flip_pp"));
    assert_non_null(strstr(tassl_last_error(), "flip_p?"));
    assert_int_equal(tassl_aug_config_set(&cfg, "flip_p", "[0.5, 2, 0]"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "[0, 1]"));
    assert_int_equal(tassl_aug_config_set(&cfg, "gamma_range", "0.5"), TASSL_ERR_ARG);
    assert_int_equal(tassl_aug_config_set(&cfg, "norm", "zscor"), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "none|window|zscore"));
    assert_int_equal(tassl_aug_config_set(&cfg, "elastic_points", "6.5"), TASSL_ERR_ARG);
    assert_int_equal(tassl_aug_config_set(&cfg, "rot90_p", "nan"), TASSL_ERR_ARG);
    assert_memory_equal(&cfg, &before, sizeof cfg); /* unchanged on error */
    cfg.gamma_range[0] = 3;
    assert_int_equal(tassl_aug_config_validate(&cfg), TASSL_ERR_ARG);
    const char *const *names = tassl_aug_preset_names();
    int k = 0;
    for (; names[k]; k++) {
        assert_int_equal(tassl_aug_preset(names[k], &cfg), TASSL_OK);
        assert_int_equal(tassl_aug_config_validate(&cfg), TASSL_OK);
    }
    assert_int_equal(k, 7);
    assert_int_equal(tassl_aug_preset("pet", &cfg), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "histology"));
    /* override field by field */
    assert_int_equal(tassl_aug_preset("ct", &cfg), TASSL_OK);
    assert_int_equal(cfg.norm, TASSL_INTENSITY_WINDOW);
    assert_int_equal(tassl_aug_config_set(&cfg, "norm_window", "[40, 80]"), TASSL_OK);
    assert_true(cfg.norm_window[0] == 40 && cfg.norm_window[1] == 80 && cfg.flip_p[2] == 0.5f);
}

/* Each preset runs on its kind of image; same seed → same output, another sample or epoch →
 * another output. */
static void presets_deterministic(void **state) {
    (void)state;
    struct {
        const char *name;
        int c;
        int64_t d;
        float scale, offset;
    } cases[] = {{"ct", 1, 16, 1500, -1000},  {"mri", 1, 16, 400, 0},
                 {"xray", 1, 1, 4000, 0},     {"ultrasound", 1, 1, 255, 0},
                 {"histology", 3, 1, 255, 0}, {"fundus", 3, 1, 255, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tassl_aug_config cfg;
        assert_int_equal(tassl_aug_preset(cases[i].name, &cfg), TASSL_OK);
        /* switch every transform on, to exercise them all */
        cfg.affine_p = cfg.flip_p[1] = cfg.gamma_p = cfg.noise_p = cfg.blur_p = 1;
        tassl_image base, a, b;
        img_new(&base, cases[i].c, cases[i].d, 32, 32);
        fill_uniform(&base, 100 + i);
        for (int64_t k = 0; k < numel(&base); k++)
            base.data[k] = cases[i].offset + cases[i].scale * base.data[k];
        tassl_image outs[3];
        uint64_t samp[3][2] = {{4, 0}, {5, 0}, {4, 1}};
        for (int r = 0; r < 3; r++) {
            img_copy(&a, &base);
            img_copy(&b, &base);
            tassl_aug_sample sa = {&a, NULL, NULL, NULL, 0}, sb = {&b, NULL, NULL, NULL, 0};
            assert_int_equal(tassl_aug_apply(&cfg, &sa, 99, samp[r][0], samp[r][1], NULL),
                             TASSL_OK);
            assert_int_equal(tassl_aug_apply(&cfg, &sb, 99, samp[r][0], samp[r][1], NULL),
                             TASSL_OK);
            assert_true(img_equal(&a, &b));
            for (int64_t k = 0; k < numel(&a); k++)
                assert_true(isfinite(a.data[k]));
            outs[r] = a;
            tassl_image_free(&b);
        }
        assert_false(img_equal(&outs[0], &outs[1]));
        assert_false(img_equal(&outs[0], &outs[2]));
        if (cases[i].c == 3 || strcmp(cases[i].name, "xray") == 0 ||
            strcmp(cases[i].name, "ultrasound") == 0)
            for (int64_t k = 0; k < numel(&outs[0]); k++)
                assert_true(outs[0].data[k] >= 0 && outs[0].data[k] <= 1);
        for (int r = 0; r < 3; r++)
            tassl_image_free(&outs[r]);
        tassl_image_free(&base);
    }
}

static void bad_input(void **state) {
    (void)state;
    tassl_aug_config cfg;
    tassl_aug_config_default(&cfg);
    tassl_image a, l;
    img_new(&a, 1, 1, 8, 8);
    img_new(&l, 1, 1, 8, 9);
    snprintf(l.source, sizeof l.source, "lab.png");
    tassl_aug_sample s = {&a, &l, NULL, NULL, 0};
    assert_int_equal(tassl_aug_apply(&cfg, &s, 1, 0, 0, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "lab.png"));
    tassl_aug_sample none = {NULL, NULL, NULL, NULL, 0};
    assert_int_equal(tassl_aug_apply(&cfg, &none, 1, 0, 0, NULL), TASSL_ERR_ARG);
    tassl_rpl_config rc = {{1, 8, 8}, 4, 2};
    tassl_image out = {0};
    int lab;
    assert_int_equal(tassl_pretext_rpl(&a, &rc, 1, 0, 0, &out, &lab, NULL, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "too small"));
    tassl_image_free(&a), tassl_image_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_deterministic),
        cmocka_unit_test(flip_twice_identity),
        cmocka_unit_test(rot90_four_identity),
        cmocka_unit_test(crop_sizes_and_padding),
        cmocka_unit_test(pipeline_crop_modes),
        cmocka_unit_test(image_label_consistency),
        cmocka_unit_test(boxes_follow_axis_aligned_maps),
        cmocka_unit_test(warp_identity_and_affine_geometry),
        cmocka_unit_test(ct_window),
        cmocka_unit_test(zscore_within_mask),
        cmocka_unit_test(intensity_invariants),
        cmocka_unit_test(colour_jitter_and_hed),
        cmocka_unit_test(bezier_endpoints_monotone),
        cmocka_unit_test(shuffle_preserves_multiset),
        cmocka_unit_test(painting_touches_only_its_regions),
        cmocka_unit_test(genesis_pair_deterministic),
        cmocka_unit_test(mask_ratio),
        cmocka_unit_test(jigsaw_permutation_set),
        cmocka_unit_test(jigsaw_tiles_follow_permutation),
        cmocka_unit_test(rpl_labels_match_geometry),
        cmocka_unit_test(rotation_classes),
        cmocka_unit_test(config_table_and_presets),
        cmocka_unit_test(presets_deterministic),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
