/* metrics_seg.c — segmentation metrics of one case (include/tassl/metrics.h): Dice, IoU and the
 * 95th-percentile Hausdorff distance in mm per class.
 *
 * HD95 is medpy's (medpy.metric.binary.hd95), re-stated here so that it can be checked:
 *   surface(M)  = M minus its binary erosion by the face-connected structuring element, with
 *                 everything outside the image counting as background (scipy's border_value 0);
 *                 a case with D = 1 is a 2D image: only the 4 in-plane neighbours count;
 *   d(P → T)    = for every voxel of surface(P), the Euclidean distance in mm (voxel spacing)
 *                 to the nearest voxel of surface(T); likewise d(T → P);
 *   HD95        = the 95th percentile of d(P → T) ∪ d(T → P) pooled, numpy.percentile's default
 *                 ("linear": sorted a (N), position h = (N − 1)·0.95, a[⌊h⌋] + (h − ⌊h⌋)·(a[⌊h⌋+1]
 *                 − a[⌊h⌋]), evaluated the way numpy's _lerp does).
 * The distances come from an exact squared Euclidean distance transform with anisotropic
 * spacing: the separable lower-envelope-of-parabolas algorithm of P. F. Felzenszwalb and
 * D. P. Huttenlocher, "Distance Transforms of Sampled Functions", Theory of Computing 8 (2012)
 * 415–428, one 1D pass per axis, O(voxels). It runs on the bounding box of P ∪ T only: every
 * feature (a surface voxel of T or P) and every query (a surface voxel of the other mask) lies
 * inside it, and the distance between two voxels does not depend on what lies around them, so the
 * cropped transform is exact at every query. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/metrics.h"

void tassl_seg_case_free(tassl_seg_case *c) {
    if (!c) return;
    free(c->dice);
    free(c->iou);
    free(c->hd95);
    free(c->voxels_pred);
    free(c->voxels_true);
    c->dice = c->iou = c->hd95 = NULL;
    c->voxels_pred = c->voxels_true = NULL;
}

/* ---- exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012) ------------------- */

typedef struct edt_scratch {
    double *f, *d, *z; /* (n), (n), (n + 1) */
    int64_t *v;        /* (n) */
} edt_scratch;

/* 1D squared distance transform of f (n) sampled at positions x_q = w·q:
 * d[q] = min_p (w(q − p))² + f[p]. Samples with f = +inf take no part (the envelope is built from
 * the finite ones); a line without any finite sample stays +inf. */
static void edt_1d(const double *f, double *d, int64_t n, double w, int64_t *v, double *z) {
    int64_t k = -1;
    for (int64_t q = 0; q < n; q++) {
        if (isinf(f[q])) continue;
        double xq = w * (double)q, s = 0;
        /* intersection of the parabolas rooted at q and at v[k]; pop those it hides */
        while (k >= 0) {
            double xp = w * (double)v[k];
            s = ((f[q] + xq * xq) - (f[v[k]] + xp * xp)) / (2 * (xq - xp));
            if (s > z[k]) break;
            k--;
        }
        k++;
        v[k] = q;
        z[k] = k == 0 ? -INFINITY : s;
        z[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (int64_t q = 0; q < n; q++)
            d[q] = INFINITY;
        return;
    }
    k = 0;
    for (int64_t q = 0; q < n; q++) {
        double xq = w * (double)q;
        while (z[k + 1] < xq)
            k++;
        double dx = xq - w * (double)v[k];
        d[q] = dx * dx + f[v[k]];
    }
}

/* g (nz, ny, nx): on entry 0 at the features and +inf elsewhere; on return the squared distance
 * in mm² to the nearest feature. One pass per axis (x, then y, then z). */
static void edt_3d(double *g, const int64_t n[3], const double sp[3], edt_scratch *s) {
    int64_t nz = n[0], ny = n[1], nx = n[2];
    for (int64_t zi = 0; zi < nz; zi++) /* x: rows are contiguous */
        for (int64_t yi = 0; yi < ny; yi++) {
            double *row = g + (zi * ny + yi) * nx;
            memcpy(s->f, row, (size_t)nx * sizeof(double));
            edt_1d(s->f, row, nx, sp[2], s->v, s->z);
        }
    if (ny > 1)
        for (int64_t zi = 0; zi < nz; zi++)
            for (int64_t xi = 0; xi < nx; xi++) {
                double *col = g + zi * ny * nx + xi;
                for (int64_t yi = 0; yi < ny; yi++)
                    s->f[yi] = col[yi * nx];
                edt_1d(s->f, s->d, ny, sp[1], s->v, s->z);
                for (int64_t yi = 0; yi < ny; yi++)
                    col[yi * nx] = s->d[yi];
            }
    if (nz > 1)
        for (int64_t yi = 0; yi < ny; yi++)
            for (int64_t xi = 0; xi < nx; xi++) {
                double *col = g + yi * nx + xi;
                int64_t st = ny * nx;
                for (int64_t zi = 0; zi < nz; zi++)
                    s->f[zi] = col[zi * st];
                edt_1d(s->f, s->d, nz, sp[0], s->v, s->z);
                for (int64_t zi = 0; zi < nz; zi++)
                    col[zi * st] = s->d[zi];
            }
}

/* ---- surfaces and the percentile ------------------------------------------------------------- */

/* bit 0: voxel in P, bit 1: in T; bit 2: on surface(P), bit 3: on surface(T) */
enum { IN_P = 1, IN_T = 2, SURF_P = 4, SURF_T = 8 };

/* Marks the surface voxels of both masks in m (nz, ny, nx), the bounding box of P ∪ T: a mask
 * voxel with a face neighbour outside the box (outside it nothing belongs to either mask) or not
 * in the mask. plane2d: ignore the z neighbours (a 2D image). */
static void mark_surfaces(uint8_t *m, const int64_t n[3], int plane2d) {
    int64_t nz = n[0], ny = n[1], nx = n[2];
    for (int64_t zi = 0; zi < nz; zi++)
        for (int64_t yi = 0; yi < ny; yi++)
            for (int64_t xi = 0; xi < nx; xi++) {
                int64_t i = (zi * ny + yi) * nx + xi;
                uint8_t in = m[i] & (IN_P | IN_T);
                if (!in) continue;
                uint8_t all = IN_P | IN_T; /* masks every neighbour is in */
                all &= xi > 0 ? m[i - 1] : 0;
                all &= xi + 1 < nx ? m[i + 1] : 0;
                all &= yi > 0 ? m[i - nx] : 0;
                all &= yi + 1 < ny ? m[i + nx] : 0;
                if (!plane2d) {
                    all &= zi > 0 ? m[i - nx * ny] : 0;
                    all &= zi + 1 < nz ? m[i + nx * ny] : 0;
                }
                uint8_t edge = in & (uint8_t)~all; /* in the mask, some neighbour is not */
                m[i] |= (uint8_t)(edge << 2);      /* IN_P → SURF_P, IN_T → SURF_T */
            }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile(a, q) with the default method "linear", as numpy computes it: h = (N−1)·q/100,
 * lerp(a[⌊h⌋], a[⌊h⌋+1], h − ⌊h⌋) where numpy's _lerp uses b − (b − a)(1 − t) for t ≥ 0.5.
 * Sorts a. */
static double percentile_linear(double *a, int64_t n, double q) {
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    double h = (double)(n - 1) * (q / 100.0);
    double lo = floor(h), t = h - lo;
    int64_t i = (int64_t)lo;
    if (i >= n - 1) return a[n - 1];
    double x = a[i], y = a[i + 1], diff = y - x;
    return t >= 0.5 ? y - diff * (1 - t) : x + diff * t;
}

/* HD95 of one class with both masks non-empty: m (nz, ny, nx) the bounding box of P ∪ T with
 * IN_P / IN_T set; g (box) and dist (2 · box) scratch. */
static double hd95_box(uint8_t *m, const int64_t n[3], const double sp[3], int plane2d, double *g,
                       double *dist, edt_scratch *s) {
    int64_t nv = n[0] * n[1] * n[2], nd = 0;
    mark_surfaces(m, n, plane2d);
    /* d(P → T): transform of surface(T), read at surface(P); then the other way round */
    for (int pass = 0; pass < 2; pass++) {
        uint8_t feat = pass == 0 ? SURF_T : SURF_P, query = pass == 0 ? SURF_P : SURF_T;
        for (int64_t i = 0; i < nv; i++)
            g[i] = (m[i] & feat) ? 0.0 : INFINITY;
        edt_3d(g, n, sp, s);
        for (int64_t i = 0; i < nv; i++)
            if (m[i] & query) dist[nd++] = sqrt(g[i]);
    }
    return percentile_linear(dist, nd, 95.0);
}

/* ---- the case -------------------------------------------------------------------------------- */

tassl_status tassl_seg_case_compute(const int32_t *pred, const int32_t *truth,
                                    const int64_t shape[3], const double spacing[3], int nclasses,
                                    tassl_seg_case *out) {
    memset(out, 0, sizeof *out);
    if (nclasses < 2)
        return tassl_error(TASSL_ERR_ARG,
                           "segmentation metrics: %d classes, expected >= 2 (background + one)",
                           nclasses);
    for (int a = 0; a < 3; a++) {
        if (shape[a] < 1 || shape[a] > ((int64_t)1 << 30))
            return tassl_error(TASSL_ERR_ARG,
                               "segmentation metrics: shape[%d] = %lld, expected (D, H, W) in "
                               "[1, 2^30]",
                               a, (long long)shape[a]);
        if (a == 0 && shape[0] == 1) continue; /* a 2D image: no distance along z */
        if (!isfinite(spacing[a]) || !(spacing[a] > 0))
            return tassl_error(TASSL_ERR_ARG,
                               "segmentation metrics: spacing[%d] = %g mm, expected a finite "
                               "value > 0 (D, H, W)",
                               a, spacing[a]);
    }
    int64_t nz = shape[0], ny = shape[1], nx = shape[2];
    if (nz * ny > (((int64_t)1 << 40) / nx)) /* each factor <= 2^30: nz·ny cannot overflow */
        return tassl_error(TASSL_ERR_ARG,
                           "segmentation metrics: volume %lld x %lld x %lld is too large",
                           (long long)nz, (long long)ny, (long long)nx);
    int64_t nv = nz * ny * nx;
    for (int64_t i = 0; i < nv; i++)
        if (pred[i] < 0 || pred[i] >= nclasses || truth[i] < 0 || truth[i] >= nclasses) {
            int64_t x = i % nx, y = i / nx % ny, z = i / nx / ny;
            return tassl_error(TASSL_ERR_ARG,
                               "segmentation metrics: voxel (%lld, %lld, %lld) has prediction %d "
                               "and truth %d, expected labels in [0, %d)",
                               (long long)z, (long long)y, (long long)x, pred[i], truth[i],
                               nclasses);
        }
    size_t k = (size_t)nclasses;
    out->nclasses = nclasses;
    out->dice = malloc(k * sizeof(double));
    out->iou = malloc(k * sizeof(double));
    out->hd95 = malloc(k * sizeof(double));
    out->voxels_pred = calloc(k, sizeof(int64_t));
    out->voxels_true = calloc(k, sizeof(int64_t));
    int64_t *inter = calloc(k, sizeof(int64_t));    /* (K) |P ∩ T| */
    int64_t *box = malloc(k * 6 * sizeof(int64_t)); /* (K, 6) z0 y0 x0 z1 y1 x1 of P ∪ T */
    if (!out->dice || !out->iou || !out->hd95 || !out->voxels_pred || !out->voxels_true || !inter ||
        !box)
        goto nomem;
    for (int c = 0; c < nclasses; c++) {
        int64_t *b = box + 6 * c;
        b[0] = nz, b[1] = ny, b[2] = nx, b[3] = b[4] = b[5] = -1;
    }
    /* one pass: counts, intersections and the bounding box of P ∪ T of every class */
    for (int64_t z = 0, i = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++, i++) {
                int p = pred[i], t = truth[i];
                out->voxels_pred[p]++;
                out->voxels_true[t]++;
                inter[p] += p == t;
                for (int r = 0; r < 2; r++) {
                    int64_t *b = box + 6 * (r ? t : p);
                    if (z < b[0]) b[0] = z;
                    if (y < b[1]) b[1] = y;
                    if (x < b[2]) b[2] = x;
                    if (z > b[3]) b[3] = z;
                    if (y > b[4]) b[4] = y;
                    if (x > b[5]) b[5] = x;
                }
            }
    out->dice[0] = out->iou[0] = out->hd95[0] = NAN; /* background: unused */
    int64_t nbox_max = 0;
    for (int c = 1; c < nclasses; c++) {
        int64_t np = out->voxels_pred[c], nt = out->voxels_true[c];
        out->dice[c] = np + nt ? 2.0 * (double)inter[c] / (double)(np + nt) : 1.0;
        out->iou[c] = np + nt ? (double)inter[c] / (double)(np + nt - inter[c]) : 1.0;
        out->hd95[c] = np + nt == 0 ? 0.0 : NAN; /* both empty: 0; one empty: undefined */
        if (np && nt) {
            const int64_t *b = box + 6 * c;
            int64_t vol = (b[3] - b[0] + 1) * (b[4] - b[1] + 1) * (b[5] - b[2] + 1);
            if (vol > nbox_max) nbox_max = vol;
        }
    }
    if (nbox_max > 0) {
        /* scratch sized for the largest box: mask bits, the transform, pooled distances */
        uint8_t *m = malloc((size_t)nbox_max);
        double *g = malloc((size_t)nbox_max * sizeof(double));
        double *dist = malloc((size_t)nbox_max * 2 * sizeof(double));
        int64_t lmax = nz > ny ? nz : ny;
        lmax = lmax > nx ? lmax : nx;
        edt_scratch s = {
            malloc((size_t)lmax * sizeof(double)), malloc((size_t)lmax * sizeof(double)),
            malloc((size_t)(lmax + 1) * sizeof(double)), malloc((size_t)lmax * sizeof(int64_t))};
        int ok = m && g && dist && s.f && s.d && s.z && s.v;
        for (int c = 1; ok && c < nclasses; c++) {
            if (!out->voxels_pred[c] || !out->voxels_true[c]) continue;
            const int64_t *b = box + 6 * c;
            int64_t n[3] = {b[3] - b[0] + 1, b[4] - b[1] + 1, b[5] - b[2] + 1};
            for (int64_t z = 0, j = 0; z < n[0]; z++)
                for (int64_t y = 0; y < n[1]; y++) {
                    int64_t i = ((b[0] + z) * ny + b[1] + y) * nx + b[2];
                    for (int64_t x = 0; x < n[2]; x++, j++)
                        m[j] = (uint8_t)((pred[i + x] == c ? IN_P : 0) |
                                         (truth[i + x] == c ? IN_T : 0));
                }
            out->hd95[c] = hd95_box(m, n, spacing, nz == 1, g, dist, &s);
        }
        free(m), free(g), free(dist), free(s.f), free(s.d), free(s.z), free(s.v);
        if (!ok) goto nomem;
    }
    free(inter);
    free(box);
    return TASSL_OK;
nomem:
    free(inter);
    free(box);
    tassl_seg_case_free(out);
    return tassl_error(TASSL_ERR_NOMEM, "segmentation metrics: out of host memory");
}
