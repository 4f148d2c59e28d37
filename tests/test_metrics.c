/* test_metrics.c — downstream evaluation metrics (include/tassl/metrics.h), host code, no device:
 *   - classification: a confusion matrix, accuracy, balanced accuracy, F1 with a class never
 *     predicted, one-vs-rest AUC with tied scores, a class absent everywhere, all worked by hand;
 *     refusals (labels out of range, NaN scores);
 *   - segmentation: Dice / IoU / HD95 on tiny 2D and 3D masks with anisotropic spacing, HD95
 *     worked by hand (surfaces, distances, numpy's linear percentile), the 2D surface rule (D = 1:
 *     in-plane neighbours only), empty-mask conventions; HD95 against a brute-force O(n²)
 *     implementation on random 3D masks; timing on a 181×217×56 volume; refusals;
 *   - detection: IoU, NMS, AP of a 3-prediction case and FROC worked by hand (ties of score, a
 *     class mismatch, a duplicate), the no-truth conventions; refusals;
 *   - fixtures of independent implementations (tests/golden/metrics/{cls,seg,det}.json written by
 *     tools/gen-metric-fixtures: scikit-learn, scipy.ndimage + medpy's HD95, a numpy COCOeval).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "tassl/metrics.h"

#define NAN_OK(x) assert_true(isnan(x))

static void near(double got, double want, double tol, const char *what) {
    if (isnan(want) && isnan(got)) return;
    if (!(fabs(got - want) <= tol * (1 + fabs(want))))
        fail_msg("%s: got %.17g, expected %.17g", what, got, want);
}

/* ---- classification, by hand ----------------------------------------------------------------- */

/* n = 8, K = 4 (class 3 appears nowhere: all its entries NaN, the macro means unchanged).
 *   truth  0 0 0 1 1 1 2 2
 *   pred   0 0 1 1 1 0 1 1      (class 2 is never predicted)
 * confusion (row truth, column prediction), class 3 all zero:
 *   [2 1 0]   accuracy = (2 + 2 + 0) / 8 = 0.5
 *   [1 2 0]   recall 2/3, 2/3, 0 → balanced accuracy 4/9
 *   [0 2 0]   F1 = 2TP / (row + column): 4/6, 4/8, 0/2 = 0 → macro (2/3 + 1/2 + 0) / 3 = 7/18
 * AUC, one-vs-rest, counting pairs (positive, negative), a tie counting one half:
 *   class 0: positives {.9 .5 .5}, negatives {.5 .2 .5 .1 .9}: .9 → 4.5, .5 → 3, .5 → 3;
 *            10.5 / 15 = 0.7
 *   class 1: positives {.8 .6 .3}, negatives {.1 .6 .2 .7 .3}: .8 → 5, .6 → 3.5, .3 → 2.5;
 *            11 / 15
 *   class 2: positives {.4 .1}, negatives {0 .3 .3 .1 .2 .4}: .4 → 5.5, .1 → 1.5; 7 / 12
 *   macro = (42 + 44 + 35) / 60 / 3 = 121/180 */
static void test_cls_hand(void **state) {
    (void)state;
    const int32_t truth[8] = {0, 0, 0, 1, 1, 1, 2, 2}, pred[8] = {0, 0, 1, 1, 1, 0, 1, 1};
    const float scores[8 * 4] = {
        0.9f, 0.1f, 0.0f, 0, /* row 0 */
        0.5f, 0.6f, 0.3f, 0, /* row 1 */
        0.5f, 0.2f, 0.3f, 0, /* row 2 */
        0.5f, 0.8f, 0.1f, 0, /* row 3 */
        0.2f, 0.6f, 0.2f, 0, /* row 4 */
        0.5f, 0.3f, 0.4f, 0, /* row 5 */
        0.1f, 0.7f, 0.4f, 0, /* row 6 */
        0.9f, 0.3f, 0.1f, 0, /* row 7 */
    };
    tassl_cls_metrics m;
    assert_int_equal(tassl_cls_metrics_compute(pred, scores, truth, 8, 4, &m), TASSL_OK);
    const int64_t cm[16] = {2, 1, 0, 0, 1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        assert_int_equal(m.confusion[i], cm[i]);
    near(m.accuracy, 0.5, 1e-15, "accuracy");
    near(m.balanced_accuracy, 4.0 / 9, 1e-15, "balanced accuracy");
    near(m.recall[0], 2.0 / 3, 1e-15, "recall 0");
    near(m.recall[2], 0, 0, "recall 2");
    NAN_OK(m.recall[3]);
    near(m.f1[0], 2.0 / 3, 1e-15, "f1 0");
    near(m.f1[1], 0.5, 1e-15, "f1 1");
    near(m.f1[2], 0, 0, "f1 2 (never predicted)");
    NAN_OK(m.f1[3]);
    near(m.macro_f1, 7.0 / 18, 1e-15, "macro f1");
    near(m.auc[0], 0.7, 1e-15, "auc 0");
    near(m.auc[1], 11.0 / 15, 1e-15, "auc 1");
    near(m.auc[2], 7.0 / 12, 1e-15, "auc 2");
    NAN_OK(m.auc[3]);
    near(m.macro_auc, 121.0 / 180, 1e-15, "macro auc");
    tassl_cls_metrics_free(&m);

    /* without scores: no AUC */
    assert_int_equal(tassl_cls_metrics_compute(pred, NULL, truth, 8, 3, &m), TASSL_OK);
    NAN_OK(m.macro_auc);
    NAN_OK(m.auc[0]);
    near(m.macro_f1, 7.0 / 18, 1e-15, "macro f1 (K = 3)");
    tassl_cls_metrics_free(&m);

    /* one class in the truth: its AUC is undefined (always present), so is the other's */
    const int32_t t1[3] = {0, 0, 0}, p1[3] = {0, 1, 0};
    const float s1[6] = {1, 0, 0, 1, 1, 0};
    assert_int_equal(tassl_cls_metrics_compute(p1, s1, t1, 3, 2, &m), TASSL_OK);
    NAN_OK(m.auc[0]);
    NAN_OK(m.auc[1]);
    NAN_OK(m.macro_auc);
    NAN_OK(m.recall[1]);
    near(m.balanced_accuracy, 2.0 / 3, 1e-15, "balanced (one class)");
    near(m.f1[1], 0, 0, "f1 of a class only predicted");
    near(m.macro_f1, (0.8 + 0) / 2, 1e-15, "macro f1 (one class)"); /* f1[0] = 4 / (3 + 2) */
    tassl_cls_metrics_free(&m);
}

static void test_cls_refusals(void **state) {
    (void)state;
    const int32_t truth[3] = {0, 1, 2}, pred[3] = {0, 1, 2}, bad[3] = {0, 3, 1},
                  neg[3] = {0, -1, 1};
    float s[9] = {0};
    tassl_cls_metrics m;
    assert_int_equal(tassl_cls_metrics_compute(bad, NULL, truth, 3, 3, &m), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "sample 1 has predicted class 3"));
    assert_int_equal(tassl_cls_metrics_compute(pred, NULL, neg, 3, 3, &m), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "sample 1 has true label -1"));
    assert_int_equal(tassl_cls_metrics_compute(pred, NULL, truth, 0, 3, &m), TASSL_ERR_ARG);
    assert_int_equal(tassl_cls_metrics_compute(pred, NULL, truth, 3, 0, &m), TASSL_ERR_ARG);
    s[2 * 3 + 1] = NAN;
    assert_int_equal(tassl_cls_metrics_compute(pred, s, truth, 3, 3, &m), TASSL_ERR_NUMERIC);
    assert_non_null(strstr(tassl_last_error(), "class 1 in row 2"));
    tassl_cls_metrics_free(&m); /* zeroed on failure: freeing is safe */
}

/* ---- segmentation, by hand ------------------------------------------------------------------- */

/* 2D, shape (1, 3, 6), spacing (1, 1.5, 2) mm (z unused, y 1.5, x 2), K = 5:
 *   truth         pred        class 1: T = {(1,0),(1,1)}, P = T ∪ {(1,2),(1,3),(0,0)}
 *   . . . . . .   1 . . . . .  all voxels are on the surfaces (no voxel has 4 mask neighbours)
 *   1 1 . . . 3   1 1 1 1 . 4  d(P→T): (1,0) 0, (1,1) 0, (1,2) 2, (1,3) 4, (0,0) 1.5
 *   . . . . . .   . . . . . .  d(T→P): 0, 0
 *   pooled sorted (N = 7): 0 0 0 0 1.5 2 4; h = 6 · 0.95 = 5.7 → 2 + 0.7 · (4 − 2) = 3.4
 *   Dice = 2·2 / (5 + 2) = 4/7, IoU = 2 / 5.
 *   class 2: empty in both → Dice 1, IoU 1, HD95 0;  class 3: only in truth → 0, 0, NaN;
 *   class 4: only in the prediction → 0, 0, NaN. */
static void test_seg_hand_2d(void **state) {
    (void)state;
    const int32_t truth[18] = {0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0};
    const int32_t pred[18] = {1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 4, 0, 0, 0, 0, 0, 0};
    const int64_t shape[3] = {1, 3, 6};
    const double sp[3] = {1, 1.5, 2};
    tassl_seg_case c;
    assert_int_equal(tassl_seg_case_compute(pred, truth, shape, sp, 5, &c), TASSL_OK);
    near(c.dice[1], 4.0 / 7, 1e-15, "dice 1");
    near(c.iou[1], 0.4, 1e-15, "iou 1");
    near(c.hd95[1], 3.4, 1e-12, "hd95 1");
    near(c.dice[2], 1, 0, "dice 2 (both empty)");
    near(c.iou[2], 1, 0, "iou 2");
    near(c.hd95[2], 0, 0, "hd95 2");
    near(c.dice[3], 0, 0, "dice 3 (prediction empty)");
    NAN_OK(c.hd95[3]);
    near(c.iou[4], 0, 0, "iou 4 (truth empty)");
    NAN_OK(c.hd95[4]);
    NAN_OK(c.dice[0]);
    assert_int_equal(c.voxels_pred[1], 5);
    assert_int_equal(c.voxels_true[1], 2);
    assert_int_equal(c.voxels_pred[4], 1);
    assert_int_equal(c.voxels_true[0], 15);
    tassl_seg_case_free(&c);
}

/* 3D, shape (3, 3, 4), spacing (2, 1, 0.5) mm, K = 2 (voxels (z, y, x)):
 *   T = {(0,1,1), (1,1,1)}; P = T ∪ {(2,1,1), (2,2,3)}; thin shapes: every voxel is on a surface.
 *   d(P→T): 0, 0; (2,1,1) → (1,1,1): 1 slice = 2 mm; (2,2,3) → (1,1,1): √(2² + 1² + (2·0.5)²) = √6
 *   d(T→P): 0, 0.   pooled sorted (N = 6): 0 0 0 0 2 √6; h = 5 · 0.95 = 4.75
 *   HD95 = 2 + 0.75 (√6 − 2) = 0.5 + 0.75 √6 ≈ 2.3371;  Dice = 4/6, IoU = 2/4. */
static void test_seg_hand_3d(void **state) {
    (void)state;
    int32_t truth[36] = {0}, pred[36] = {0};
#define AT(z, y, x) ((z)*12 + (y)*4 + (x))
    truth[AT(0, 1, 1)] = truth[AT(1, 1, 1)] = 1;
    pred[AT(0, 1, 1)] = pred[AT(1, 1, 1)] = pred[AT(2, 1, 1)] = pred[AT(2, 2, 3)] = 1;
#undef AT
    const int64_t shape[3] = {3, 3, 4};
    const double sp[3] = {2, 1, 0.5};
    tassl_seg_case c;
    assert_int_equal(tassl_seg_case_compute(pred, truth, shape, sp, 2, &c), TASSL_OK);
    near(c.dice[1], 2.0 / 3, 1e-15, "dice");
    near(c.iou[1], 0.5, 1e-15, "iou");
    near(c.hd95[1], 0.5 + 0.75 * sqrt(6.0), 1e-12, "hd95");
    tassl_seg_case_free(&c);
}

/* The 2D surface rule. shape (1, 5, 5), T = the 3×3 square of rows/columns 1..3, P = T without
 * its centre. In 2D the centre of T has its 4 in-plane neighbours in T: not on the surface, so
 * both surfaces are the same ring of 8 and HD95 = 0. (Had the missing z neighbours of a D = 1
 * image counted as background, the centre would be a surface voxel at 1 mm from P's ring:
 * pooled 16 zeros and one 1, h = 16 · 0.95 = 15.2 → 0.2.) Dice = 2·8 / (8 + 9) = 16/17.
 * The same slice as the middle of a (3, 5, 5) volume, with empty slices above and below: there
 * the centre is on the surface (its z neighbours are background) and HD95 = 0.2. */
static void test_seg_surface_2d(void **state) {
    (void)state;
    int32_t truth[75] = {0}, pred[75] = {0};
    for (int y = 1; y <= 3; y++)
        for (int x = 1; x <= 3; x++) {
            truth[25 + y * 5 + x] = 1;
            pred[25 + y * 5 + x] = (y != 2 || x != 2);
        }
    const double sp[3] = {1, 1, 1};
    tassl_seg_case c;
    const int64_t s2[3] = {1, 5, 5}, s3[3] = {3, 5, 5};
    assert_int_equal(tassl_seg_case_compute(pred + 25, truth + 25, s2, sp, 2, &c), TASSL_OK);
    near(c.hd95[1], 0, 0, "hd95 2D");
    near(c.dice[1], 16.0 / 17, 1e-15, "dice 2D");
    tassl_seg_case_free(&c);
    assert_int_equal(tassl_seg_case_compute(pred, truth, s3, sp, 2, &c), TASSL_OK);
    near(c.hd95[1], 0.2, 1e-12, "hd95 3D");
    tassl_seg_case_free(&c);
}

/* ---- segmentation: brute force --------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* medpy's HD95 by definition, O(surface²): 3D surfaces (D > 1) */
static double hd95_brute(const uint8_t *p, const uint8_t *t, const int n[3], const double sp[3]) {
    int nv = n[0] * n[1] * n[2], ns[2] = {0, 0};
    int *surf[2] = {malloc(sizeof(int) * (size_t)nv), malloc(sizeof(int) * (size_t)nv)};
    double *dist = malloc(sizeof(double) * 2 * (size_t)nv);
    const uint8_t *mk[2] = {p, t};
    for (int w = 0; w < 2; w++)
        for (int z = 0; z < n[0]; z++)
            for (int y = 0; y < n[1]; y++)
                for (int x = 0; x < n[2]; x++) {
                    int i = (z * n[1] + y) * n[2] + x;
                    if (!mk[w][i]) continue;
                    const int dz[6] = {-1, 1, 0, 0, 0, 0}, dy[6] = {0, 0, -1, 1, 0, 0},
                              dx[6] = {0, 0, 0, 0, -1, 1};
                    int edge = 0;
                    for (int k = 0; k < 6; k++) {
                        int zz = z + dz[k], yy = y + dy[k], xx = x + dx[k];
                        if (zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2] ||
                            !mk[w][(zz * n[1] + yy) * n[2] + xx])
                            edge = 1;
                    }
                    if (edge) surf[w][ns[w]++] = i;
                }
    int nd = 0;
    for (int w = 0; w < 2; w++)
        for (int a = 0; a < ns[w]; a++) {
            int i = surf[w][a], zi = i / (n[1] * n[2]), yi = i / n[2] % n[1], xi = i % n[2];
            double best = INFINITY;
            for (int b = 0; b < ns[1 - w]; b++) {
                int j = surf[1 - w][b], zj = j / (n[1] * n[2]), yj = j / n[2] % n[1], xj = j % n[2];
                double ddz = (zi - zj) * sp[0], ddy = (yi - yj) * sp[1], ddx = (xi - xj) * sp[2];
                double d = sqrt(ddz * ddz + ddy * ddy + ddx * ddx);
                if (d < best) best = d;
            }
            dist[nd++] = best;
        }
    qsort(dist, (size_t)nd, sizeof *dist, cmp_d);
    double h = (nd - 1) * 0.95, lo = floor(h), f = h - lo;
    int i = (int)lo;
    double r = i + 1 < nd ? dist[i] + f * (dist[i + 1] - dist[i]) : dist[nd - 1];
    free(surf[0]), free(surf[1]), free(dist);
    return r;
}

static void test_seg_brute(void **state) {
    (void)state;
    const int n[3] = {5, 7, 9};
    const double sp[3] = {2.2, 0.9, 0.6};
    int32_t pred[315], truth[315];
    uint8_t p[315], t[315];
    unsigned rng = 12345;
    for (int trial = 0; trial < 12; trial++) {
        /* random blobs: a box-ish core plus salt, different per trial */
        for (int i = 0; i < 315; i++) {
            int z = i / 63, y = i / 9 % 7, x = i % 9;
            rng = rng * 1103515245u + 12345u;
            int r = (int)(rng >> 16) % 100;
            int core =
                abs(z - 2) <= 1 + trial % 2 && abs(y - 3) <= 2 && abs(x - 4) <= 2 + trial % 3;
            truth[i] = core ? (r < 90) : (r < 8);
            rng = rng * 1103515245u + 12345u;
            r = (int)(rng >> 16) % 100;
            int core2 = abs(z - 2 - trial % 2) <= 1 && abs(y - 3) <= 3 && abs(x - 5) <= 2;
            pred[i] = core2 ? (r < 85) : (r < 5);
            p[i] = (uint8_t)pred[i], t[i] = (uint8_t)truth[i];
        }
        const int64_t shape[3] = {n[0], n[1], n[2]};
        tassl_seg_case c;
        assert_int_equal(tassl_seg_case_compute(pred, truth, shape, sp, 2, &c), TASSL_OK);
        char what[64];
        snprintf(what, sizeof what, "hd95 vs brute force, trial %d", trial);
        near(c.hd95[1], hd95_brute(p, t, n, sp), 1e-12, what);
        tassl_seg_case_free(&c);
    }
}

/* HD95 of two ellipsoids (the truth, and the prediction shifted by 3 voxels along x) on a
 * 181×217×56 volume: the transform is O(voxels), so this takes well under a second (measured
 * and printed; CPU time asserted < 5 s to leave room for sanitizers and a busy machine). The shift
 * bounds every surface distance: 0 < HD95 <= 3 · 1.2 mm. */
static void test_seg_timing(void **state) {
    (void)state;
    const int64_t shape[3] = {56, 217, 181};
    const double sp[3] = {2.5, 1.0, 1.2};
    int64_t nv = shape[0] * shape[1] * shape[2];
    int32_t *pred = malloc(sizeof(int32_t) * (size_t)nv),
            *truth = malloc(sizeof(int32_t) * (size_t)nv);
    assert_non_null(pred);
    assert_non_null(truth);
    for (int64_t z = 0, i = 0; z < shape[0]; z++)
        for (int64_t y = 0; y < shape[1]; y++)
            for (int64_t x = 0; x < shape[2]; x++, i++) {
                double a = (z - 28.0) / 22, b = (y - 108.0) / 80, e = (x - 88.0) / 65,
                       e2 = (x - 91.0) / 65;
                truth[i] = a * a + b * b + e * e <= 1;
                pred[i] = a * a + b * b + e2 * e2 <= 1 ? 1 : ((a * a + b * b <= 0.1) ? 2 : 0);
            }
    struct timespec t0, t1;
    clock_t c0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tassl_seg_case c;
    assert_int_equal(tassl_seg_case_compute(pred, truth, shape, sp, 3, &c), TASSL_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("# HD95 on 181x217x56 (2 classes): %.3f s CPU, %.3f s wall; hd95[1] = %.4f mm, "
           "dice %.4f\n",
           cpu, s, c.hd95[1], c.dice[1]);
    assert_true(c.hd95[1] > 0 && c.hd95[1] <= 3 * 1.2 + 1e-9);
    assert_true(c.dice[1] > 0.9);
    NAN_OK(c.hd95[2]);      /* class 2: only in the prediction */
    assert_true(cpu < 5.0); /* CPU time: the machine may be shared */
    tassl_seg_case_free(&c);
    free(pred);
    free(truth);
}

static void test_seg_refusals(void **state) {
    (void)state;
    int32_t p[4] = {0, 1, 2, 0}, t[4] = {0, 1, 1, -1};
    const int64_t shape[3] = {1, 2, 2}, bad_shape[3] = {1, 0, 2};
    const double sp[3] = {1, 1, 1}, bad_sp[3] = {1, 0, 1}, nan_sp[3] = {1, 1, NAN};
    tassl_seg_case c;
    assert_int_equal(tassl_seg_case_compute(p, t, shape, sp, 3, &c), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "voxel (0, 1, 1) has prediction 0 and truth -1"));
    t[3] = 0;
    assert_int_equal(tassl_seg_case_compute(p, t, shape, sp, 2, &c), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "voxel (0, 1, 0) has prediction 2"));
    assert_int_equal(tassl_seg_case_compute(p, t, shape, bad_sp, 3, &c), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "spacing[1] = 0"));
    assert_int_equal(tassl_seg_case_compute(p, t, shape, nan_sp, 3, &c), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "spacing[2]"));
    assert_int_equal(tassl_seg_case_compute(p, t, bad_shape, sp, 3, &c), TASSL_ERR_ARG);
    const double z_unused[3] = {0, 1, 1}; /* D = 1: the z spacing is not used, not checked */
    assert_int_equal(tassl_seg_case_compute(p, t, shape, z_unused, 3, &c), TASSL_OK);
    tassl_seg_case_free(&c);
    assert_int_equal(tassl_seg_case_compute(p, t, shape, sp, 1, &c), TASSL_ERR_ARG);
    tassl_seg_case_free(&c);
    assert_int_equal(tassl_seg_case_compute(p, t, shape, sp, 3, &c), TASSL_OK);
    tassl_seg_case_free(&c);
}

/* ---- detection, by hand ---------------------------------------------------------------------- */

/* a 2D box (z in [0, 1)) */
static tassl_det_box box2(int64_t image, int32_t cls, float score, float y0, float x0, float y1,
                          float x1) {
    return (tassl_det_box){image, cls, score, {0, y0, x0}, {1, y1, x1}};
}

static void test_det_iou(void **state) {
    (void)state;
    tassl_det_box a = box2(0, 0, 0, 0, 0, 2, 2), b = box2(0, 0, 0, 1, 1, 3, 3);
    near(tassl_det_iou(&a, &b), 1.0 / 7, 1e-15, "iou 2D"); /* 1 / (4 + 4 − 1) */
    near(tassl_det_iou(&a, &a), 1, 0, "iou self");
    tassl_det_box c = {0, 0, 0, {0, 0, 0}, {2, 2, 2}}, d = {0, 0, 0, {1, 1, 1}, {3, 3, 3}};
    near(tassl_det_iou(&c, &d), 1.0 / 15, 1e-15, "iou 3D"); /* 1 / (8 + 8 − 1) */
    tassl_det_box e = box2(0, 0, 0, 2, 0, 4, 2), f = box2(0, 0, 0, 1, 1, 1, 3);
    near(tassl_det_iou(&a, &e), 0, 0, "touching"); /* y [0, 2) and [2, 4) share no voxel */
    near(tassl_det_iou(&a, &f), 0, 0, "degenerate");
    near(tassl_det_iou(&f, &f), 0, 0, "degenerate self");
}

/* Image 0: A (class 0, .9) [0,10)×[0,10); B (class 0, .8) [0,10)×[1,11): IoU(A, B) = 90 / 110
 * = 0.818; C (class 0, .7) [0,10)×[20,30) disjoint; D (class 1, .85) = A's box (another class).
 * Image 1: E (class 0, .95) = B's box (another image). Input order C A E B D.
 *   threshold 0.5: B suppressed by A → image 0: A .9, D .85, C .7; image 1: E — 4 kept
 *   threshold 0.85: 0.818 does not exceed it → all 5 kept, image 0: A D B C; image 1: E */
static void test_det_nms(void **state) {
    (void)state;
    tassl_det_box in[5] = {
        box2(0, 0, 0.7f, 0, 20, 10, 30), box2(0, 0, 0.9f, 0, 0, 10, 10),
        box2(1, 0, 0.95f, 0, 1, 10, 11), box2(0, 0, 0.8f, 0, 1, 10, 11),
        box2(0, 1, 0.85f, 0, 0, 10, 10),
    };
    tassl_det_box b[5];
    memcpy(b, in, sizeof b);
    assert_int_equal(tassl_det_nms(b, 5, 0.5), 4);
    const float want[4] = {0.9f, 0.85f, 0.7f, 0.95f};
    const int64_t img[4] = {0, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        assert_true(b[i].score == want[i]);
        assert_int_equal(b[i].image, img[i]);
    }
    memcpy(b, in, sizeof b);
    assert_int_equal(tassl_det_nms(b, 5, 0.85), 5);
    const float want2[5] = {0.9f, 0.85f, 0.8f, 0.7f, 0.95f};
    for (int i = 0; i < 5; i++)
        assert_true(b[i].score == want2[i]);
    assert_int_equal(tassl_det_nms(b, 0, 0.5), 0);
}

/* AP of 3 predictions, one class, 2 images; truths G1 (image 0), G2 (image 1), both
 * [0,10)×[0,10), G = 2.
 *   P1 .9 image 0 = G1            IoU 1      → TP at every threshold
 *   P2 .8 image 0 [0,10)×[2,12)   IoU 80/120 with G1, which P1 took → FP
 *   P3 .7 image 1 [0,10)×[3,13)   IoU 70/130 = 0.538 with G2 → TP at 0.5, FP from 0.55 on
 * t = 0.5: recall .5 .5 1, precision 1 .5 2/3 → monotone 1 2/3 2/3; recall points 0 … 0.50 (51)
 *   take 1, points 0.51 … 1 (50) take 2/3: AP = (51 + 50 · 2/3) / 101 = 253/303
 * t >= 0.55: recall .5 .5 .5, precision 1 .5 1/3: 51 points take 1, 50 never reached: 51/101
 * mAP@0.5 = 253/303; mAP@0.5:0.95 = (253/303 + 9 · 153/303) / 10 = 163/303.
 * FROC (2 images): P1 TP, P2 FP, P3 TP: (FP, TP) = (0,1) (1,1) (1,2); FP budget f · 2 =
 *   0.25, 0.5 → 1 hit → 0.5; from f = 0.5 (1 FP) both hits → 1. Mean (0.5 · 2 + 5) / 7 = 6/7. */
static void test_det_ap_hand(void **state) {
    (void)state;
    tassl_det_box truth[2] = {box2(0, 0, 0, 0, 0, 10, 10), box2(1, 0, 0, 0, 0, 10, 10)};
    tassl_det_box pred[3] = {box2(0, 0, 0.9f, 0, 0, 10, 10), box2(0, 0, 0.8f, 0, 2, 10, 12),
                             box2(1, 0, 0.7f, 0, 3, 10, 13)};
    tassl_det_metrics m;
    assert_int_equal(tassl_det_metrics_compute(pred, 3, truth, 2, 2, 1, &m), TASSL_OK);
    assert_int_equal(m.nthresholds, 10);
    near(m.thresholds[9], 0.95, 1e-15, "last threshold");
    near(m.ap[0], 253.0 / 303, 1e-14, "AP@0.5");
    for (int t = 1; t < 10; t++)
        near(m.ap[t], 51.0 / 101, 1e-14, "AP@>=0.55");
    near(m.map50, 253.0 / 303, 1e-14, "mAP@0.5");
    near(m.map50_95, 163.0 / 303, 1e-14, "mAP@0.5:0.95");
    const double fr[7] = {0.5, 0.5, 1, 1, 1, 1, 1};
    for (int f = 0; f < 7; f++)
        near(m.froc[f], fr[f], 0, "froc");
    near(m.froc_mean, 6.0 / 7, 1e-15, "froc mean");
    tassl_det_metrics_free(&m);
}

/* FROC with classes pooled, 4 images, K = 3; truths (all [0,10)×[0,10)): A image 0 class 0,
 * B image 1 class 1, C image 2 class 0. Predictions (all the same box):
 *   q1 .9 image 0 class 0 → hits A            TP
 *   q2 .9 image 1 class 0 → B is class 1      FP  (tied with q1: one threshold)
 *   q3 .8 image 0 class 0 → A already hit     FP  (a duplicate)
 *   q4 .6 image 1 class 1 → hits B            TP
 *   q5 .5 image 3 class 0 → nothing there     FP
 *   q6 .5 image 2 class 0 → hits C            TP  (tied with q5)
 *   q7 .2 image 3 class 2                     FP
 * (FP, TP) per threshold: (0,0) (1,1) (2,1) (2,2) (3,3) (4,3); FP budget 4f = 0.5, 1, 2, 4, …:
 *   sensitivity 0 (the tie keeps q1 from counting alone), 1/3, 2/3, 1, 1, 1, 1 → mean 5/7.
 * AP class 0 (G = 2): q1 TP, q2 FP, q3 FP, q5 FP, q6 TP; precision 1 .5 1/3 .25 .4 → monotone
 *   1 .5 .4 .4 .4, recall .5 .5 .5 .5 1: AP = (51 + 50 · 0.4) / 101 = 71/101 at every threshold.
 * AP class 1: q4 TP, then nothing: AP 1. Class 2: no truth → NaN, left out of the means:
 *   mAP = (71/101 + 1) / 2 = 86/101. */
static void test_det_froc_hand(void **state) {
    (void)state;
    tassl_det_box truth[3] = {box2(0, 0, 0, 0, 0, 10, 10), box2(1, 1, 0, 0, 0, 10, 10),
                              box2(2, 0, 0, 0, 0, 10, 10)};
    tassl_det_box pred[7] = {
        box2(0, 0, 0.9f, 0, 0, 10, 10), box2(1, 0, 0.9f, 0, 0, 10, 10),
        box2(0, 0, 0.8f, 0, 0, 10, 10), box2(1, 1, 0.6f, 0, 0, 10, 10),
        box2(3, 0, 0.5f, 0, 0, 10, 10), box2(2, 0, 0.5f, 0, 0, 10, 10),
        box2(3, 2, 0.2f, 0, 0, 10, 10),
    };
    tassl_det_metrics m;
    assert_int_equal(tassl_det_metrics_compute(pred, 7, truth, 3, 4, 3, &m), TASSL_OK);
    const double fr[7] = {0, 1.0 / 3, 2.0 / 3, 1, 1, 1, 1};
    for (int f = 0; f < 7; f++)
        near(m.froc[f], fr[f], 1e-15, "froc");
    near(m.froc_mean, 5.0 / 7, 1e-15, "froc mean");
    for (int t = 0; t < 10; t++) {
        near(m.ap[t * 3 + 0], 71.0 / 101, 1e-14, "AP class 0");
        near(m.ap[t * 3 + 1], 1, 1e-15, "AP class 1");
        NAN_OK(m.ap[t * 3 + 2]);
    }
    near(m.map50, 86.0 / 101, 1e-14, "mAP@0.5");
    near(m.map50_95, 86.0 / 101, 1e-14, "mAP@0.5:0.95");
    tassl_det_metrics_free(&m);

    /* no ground truth at all: every AP, the means and the FROC are undefined */
    assert_int_equal(tassl_det_metrics_compute(pred, 7, NULL, 0, 4, 3, &m), TASSL_OK);
    NAN_OK(m.map50);
    NAN_OK(m.map50_95);
    NAN_OK(m.froc[3]);
    NAN_OK(m.froc_mean);
    tassl_det_metrics_free(&m);
    /* truth but no predictions: AP 0, sensitivity 0 */
    assert_int_equal(tassl_det_metrics_compute(NULL, 0, truth, 3, 4, 3, &m), TASSL_OK);
    near(m.map50, 0, 0, "mAP without predictions");
    near(m.froc_mean, 0, 0, "FROC without predictions");
    tassl_det_metrics_free(&m);
}

static void test_det_refusals(void **state) {
    (void)state;
    tassl_det_box t[1] = {box2(0, 0, 0, 0, 0, 10, 10)};
    tassl_det_box p[2] = {box2(0, 0, 0.5f, 0, 0, 10, 10), box2(1, 2, 0.5f, 0, 0, 10, 10)};
    tassl_det_metrics m;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "predicted box 1 has class 2"));
    p[1].cls = 1;
    p[1].image = 2;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "predicted box 1 is in image 2"));
    p[1].image = 1;
    p[1].score = NAN;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_ERR_NUMERIC);
    assert_non_null(strstr(tassl_last_error(), "predicted box 1 has score nan"));
    p[1].score = 0.5f;
    t[0].hi[2] = -1;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "ground-truth box 0 has hi -1 < lo 0 on axis 2"));
    t[0].hi[2] = INFINITY;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_ERR_NUMERIC);
    t[0].hi[2] = 10;
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 0, 2, &m), TASSL_ERR_ARG);
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 0, &m), TASSL_ERR_ARG);
    tassl_det_metrics_free(&m);
    assert_int_equal(tassl_det_metrics_compute(p, 2, t, 1, 2, 2, &m), TASSL_OK);
    tassl_det_metrics_free(&m);
}

/* ---- fixtures of independent implementations ------------------------------------------------ */

static json_t *load_fixture(const char *name) {
    char buf[4096];
    /* __FILE__ is relative to the build directory, where meson runs the tests */
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash)
        snprintf(slash, sizeof buf - (size_t)(slash - buf), "/golden/metrics/%s", name);
    else
        snprintf(buf, sizeof buf, "golden/metrics/%s", name);
    json_error_t err;
    json_t *doc = json_load_file(buf, 0, &err);
    if (!doc) fail_msg("%s: %s (line %d)", buf, err.text, err.line);
    return doc;
}

/* value of a number or null (NaN) */
static double jnum(const json_t *v) {
    if (json_is_null(v)) return NAN;
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static int check(double got, const json_t *want, double tol, const char *what, int cs, int i) {
    double w = jnum(want);
    if (isnan(w) && isnan(got)) return 0;
    if (fabs(got - w) <= tol * (1 + fabs(w))) return 0;
    printf("# case %d %s[%d]: got %.17g, reference %.17g\n", cs, what, i, got, w);
    return 1;
}

static int32_t *int_array(const json_t *a, size_t *n) {
    *n = json_array_size(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static void test_fixture_cls(void **state) {
    (void)state;
    json_t *doc = load_fixture("cls.json"), *cases = json_object_get(doc, "cases");
    int bad = 0, nvals = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        int nc = (int)json_integer_value(json_object_get(c, "nclasses"));
        size_t n, nt;
        int32_t *truth = int_array(json_object_get(c, "truth"), &nt);
        int32_t *pred = int_array(json_object_get(c, "pred"), &n);
        json_t *js = json_object_get(c, "scores");
        float *scores = malloc(sizeof(float) * json_array_size(js));
        for (size_t i = 0; i < json_array_size(js); i++)
            scores[i] = (float)json_number_value(json_array_get(js, i));
        assert_int_equal(n, nt);
        assert_int_equal(json_array_size(js), n * (size_t)nc);
        tassl_cls_metrics m;
        assert_int_equal(tassl_cls_metrics_compute(pred, scores, truth, (int64_t)n, nc, &m),
                         TASSL_OK);
        const double tol = 1e-12;
        int cs = (int)k;
        bad += check(m.accuracy, json_object_get(c, "accuracy"), tol, "accuracy", cs, 0);
        bad += check(m.balanced_accuracy, json_object_get(c, "balanced_accuracy"), tol,
                     "balanced_accuracy", cs, 0);
        bad += check(m.macro_f1, json_object_get(c, "macro_f1"), tol, "macro_f1", cs, 0);
        bad += check(m.macro_auc, json_object_get(c, "macro_auc"), tol, "macro_auc", cs, 0);
        nvals += 4;
        for (int i = 0; i < nc; i++) {
            bad += check(m.f1[i], json_array_get(json_object_get(c, "f1"), (size_t)i), tol, "f1",
                         cs, i);
            bad += check(m.recall[i], json_array_get(json_object_get(c, "recall"), (size_t)i), tol,
                         "recall", cs, i);
            bad += check(m.auc[i], json_array_get(json_object_get(c, "auc"), (size_t)i), tol, "auc",
                         cs, i);
            nvals += 3;
        }
        for (int i = 0; i < nc * nc; i++, nvals++)
            bad += check((double)m.confusion[i],
                         json_array_get(json_object_get(c, "confusion"), (size_t)i), 0, "confusion",
                         cs, i);
        tassl_cls_metrics_free(&m);
        free(truth), free(pred), free(scores);
    }
    printf("# cls fixtures: %zu cases, %d values, %d mismatching\n", json_array_size(cases), nvals,
           bad);
    assert_true(json_array_size(cases) >= 5);
    json_decref(doc);
    assert_int_equal(bad, 0);
}

static void test_fixture_seg(void **state) {
    (void)state;
    json_t *doc = load_fixture("seg.json"), *cases = json_object_get(doc, "cases");
    int bad = 0, nvals = 0, nhd = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        int nc = (int)json_integer_value(json_object_get(c, "nclasses"));
        int64_t shape[3];
        double sp[3];
        for (size_t a = 0; a < 3; a++) {
            shape[a] = json_integer_value(json_array_get(json_object_get(c, "shape"), a));
            sp[a] = json_number_value(json_array_get(json_object_get(c, "spacing"), a));
        }
        size_t n, nt;
        int32_t *truth = int_array(json_object_get(c, "truth"), &nt);
        int32_t *pred = int_array(json_object_get(c, "pred"), &n);
        assert_int_equal(n, (size_t)(shape[0] * shape[1] * shape[2]));
        assert_int_equal(nt, n);
        tassl_seg_case m;
        assert_int_equal(tassl_seg_case_compute(pred, truth, shape, sp, nc, &m), TASSL_OK);
        for (int i = 1; i < nc; i++) {
            bad += check(m.dice[i], json_array_get(json_object_get(c, "dice"), (size_t)i), 1e-12,
                         "dice", (int)k, i);
            bad += check(m.iou[i], json_array_get(json_object_get(c, "iou"), (size_t)i), 1e-12,
                         "iou", (int)k, i);
            json_t *h = json_array_get(json_object_get(c, "hd95"), (size_t)i);
            bad += check(m.hd95[i], h, 1e-9, "hd95", (int)k, i);
            nvals += 3;
            nhd += json_is_number(h) && json_number_value(h) > 0;
        }
        tassl_seg_case_free(&m);
        free(truth), free(pred);
    }
    printf("# seg fixtures: %zu cases, %d values (%d positive HD95), %d mismatching\n",
           json_array_size(cases), nvals, nhd, bad);
    assert_true(nhd >= 5);
    json_decref(doc);
    assert_int_equal(bad, 0);
}

static tassl_det_box *boxes(const json_t *a, size_t *n) {
    *n = json_array_size(a);
    tassl_det_box *b = calloc(*n ? *n : 1, sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < *n; i++) {
        const json_t *r = json_array_get(a, i);
        assert_int_equal(json_array_size(r), 9);
        b[i].image = json_integer_value(json_array_get(r, 0));
        b[i].cls = (int32_t)json_integer_value(json_array_get(r, 1));
        b[i].score = (float)json_number_value(json_array_get(r, 2));
        for (size_t k = 0; k < 3; k++) {
            b[i].lo[k] = (float)json_number_value(json_array_get(r, 3 + k));
            b[i].hi[k] = (float)json_number_value(json_array_get(r, 6 + k));
        }
    }
    return b;
}

static void test_fixture_det(void **state) {
    (void)state;
    json_t *doc = load_fixture("det.json"), *cases = json_object_get(doc, "cases");
    int bad = 0, nvals = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        int nc = (int)json_integer_value(json_object_get(c, "nclasses"));
        int64_t nimg = json_integer_value(json_object_get(c, "nimages"));
        size_t np, nt;
        tassl_det_box *p = boxes(json_object_get(c, "pred"), &np);
        tassl_det_box *t = boxes(json_object_get(c, "truth"), &nt);
        tassl_det_metrics m;
        assert_int_equal(tassl_det_metrics_compute(p, (int64_t)np, t, (int64_t)nt, nimg, nc, &m),
                         TASSL_OK);
        const double tol = 1e-12;
        for (int i = 0; i < 10 * nc; i++, nvals++)
            bad += check(m.ap[i], json_array_get(json_object_get(c, "ap"), (size_t)i), tol, "ap",
                         (int)k, i);
        bad += check(m.map50, json_object_get(c, "map50"), tol, "map50", (int)k, 0);
        bad += check(m.map50_95, json_object_get(c, "map50_95"), tol, "map50_95", (int)k, 0);
        for (int i = 0; i < 7; i++, nvals++)
            bad += check(m.froc[i], json_array_get(json_object_get(c, "froc"), (size_t)i), tol,
                         "froc", (int)k, i);
        bad += check(m.froc_mean, json_object_get(c, "froc_mean"), tol, "froc_mean", (int)k, 0);
        nvals += 3;
        tassl_det_metrics_free(&m);
        free(p), free(t);
    }
    printf("# det fixtures: %zu cases, %d values, %d mismatching\n", json_array_size(cases), nvals,
           bad);
    assert_true(json_array_size(cases) >= 4);
    json_decref(doc);
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_hand),       cmocka_unit_test(test_cls_refusals),
        cmocka_unit_test(test_seg_hand_2d),    cmocka_unit_test(test_seg_hand_3d),
        cmocka_unit_test(test_seg_surface_2d), cmocka_unit_test(test_seg_brute),
        cmocka_unit_test(test_seg_timing),     cmocka_unit_test(test_seg_refusals),
        cmocka_unit_test(test_det_iou),        cmocka_unit_test(test_det_nms),
        cmocka_unit_test(test_det_ap_hand),    cmocka_unit_test(test_det_froc_hand),
        cmocka_unit_test(test_det_refusals),   cmocka_unit_test(test_fixture_cls),
        cmocka_unit_test(test_fixture_seg),    cmocka_unit_test(test_fixture_det),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
