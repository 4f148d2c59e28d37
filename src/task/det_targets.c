/* det_targets.c — CenterNet's training targets and box decoding on the host (see det.h):
 * Gaussian heat-map peaks at box centres with CornerNet/CenterNet's radius, extent and offset at
 * the centre voxels; decoding by the 3×3(×3) max-pool peak test and top-k. 2D and 3D alike: a 2D
 * map is a 3D one with D = 1 whose neighbourhood does not extend along D. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "det.h"
#include "tassl/status.h"

double det_gaussian_radius(double h, double w, double o) {
    /* CenterNet/src/lib/utils/image.py gaussian_radius, verbatim (including its r = (b + √Δ)/2
     * forms, which the paper's authors kept although the exact roots divide by 2a) */
    double b1 = h + w, c1 = w * h * (1 - o) / (1 + o);
    double r1 = (b1 + sqrt(b1 * b1 - 4 * c1)) / 2;
    double b2 = 2 * (h + w), c2 = (1 - o) * w * h;
    double r2 = (b2 + sqrt(b2 * b2 - 16 * c2)) / 2;
    double a3 = 4 * o, b3 = -2 * o * (h + w), c3 = (o - 1) * w * h;
    double r3 = (b3 + sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
    double r = r1 < r2 ? r1 : r2;
    return r < r3 ? r : r3;
}

int det_box_radius(const tassl_box *b, int dims, double min_overlap) {
    double e[3];
    for (int a = 0; a < 3; a++)
        e[a] = ceil((double)b->hi[a] - (double)b->lo[a]);
    double r;
    if (dims == 2) {
        r = det_gaussian_radius(e[1], e[2], min_overlap);
    } else {
        r = det_gaussian_radius(e[1], e[2], min_overlap);
        double r2 = det_gaussian_radius(e[0], e[2], min_overlap);
        double r3 = det_gaussian_radius(e[0], e[1], min_overlap);
        if (r2 < r) r = r2;
        if (r3 < r) r = r3;
    }
    int ri = (int)r;
    return ri > 0 ? ri : 0;
}

void det_targets_free(det_targets *t) {
    if (!t) return;
    free(t->heat);
    free(t->pos);
    free(t->negw);
    free(t->reg);
    free(t->mask);
    memset(t, 0, sizeof *t);
}

/* Maximum-merge the Gaussian of radius r centred at voxel ct into one class map (D, H, W). */
static void draw_gaussian(float *map, const int64_t size[3], const int64_t ct[3], int r, int dims) {
    int diam = 2 * r + 1;
    double sigma = diam / 6.0;
    double cut = DBL_EPSILON; /* np.finfo(float64).eps · peak (peak = 1) */
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; a++) {
        int ra = (dims == 2 && a == 0) ? 0 : r;
        lo[a] = ct[a] - ra < 0 ? 0 : ct[a] - ra;
        hi[a] = ct[a] + ra + 1 > size[a] ? size[a] : ct[a] + ra + 1;
    }
    for (int64_t z = lo[0]; z < hi[0]; z++)
        for (int64_t y = lo[1]; y < hi[1]; y++)
            for (int64_t x = lo[2]; x < hi[2]; x++) {
                double dz = (double)(z - ct[0]), dy = (double)(y - ct[1]), dx = (double)(x - ct[2]);
                double g = exp(-(dx * dx + dy * dy + dz * dz) / (2 * sigma * sigma));
                if (g < cut) g = 0;
                float *v = &map[(z * size[1] + y) * size[2] + x];
                if ((float)g > *v) *v = (float)g;
            }
}

tassl_status det_targets_build(det_targets *t, int dims, int nclasses, int64_t n,
                               const int64_t size[3], const int32_t *nboxes, const tassl_box *boxes,
                               double min_overlap) {
    memset(t, 0, sizeof *t);
    TASSL_CHECK(dims == 2 || dims == 3, "det_targets_build: dims %d", dims);
    TASSL_CHECK(dims == 3 || size[0] == 1, "det_targets_build: 2D maps need D = 1");
    int64_t s = size[0] * size[1] * size[2];
    int64_t nk = n * nclasses * s;
    t->dims = dims;
    t->nclasses = nclasses;
    t->n = n;
    memcpy(t->size, size, sizeof t->size);
    t->heat = calloc((size_t)nk, sizeof(float));
    t->pos = calloc((size_t)nk, sizeof(float));
    t->negw = calloc((size_t)nk, sizeof(float));
    t->reg = calloc((size_t)(n * 2 * dims * s), sizeof(float));
    t->mask = calloc((size_t)(n * s), sizeof(float));
    if (!t->heat || !t->pos || !t->negw || !t->reg || !t->mask) {
        det_targets_free(t);
        return tassl_error(TASSL_ERR_NOMEM, "detection targets: out of host memory");
    }
    int a0 = 3 - dims; /* first spatial axis of the maps in tassl_box order */
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < nboxes[i]; j++) {
            const tassl_box *b = &boxes[i * TASSL_MAX_BOXES + j];
            if (b->label < 0 || b->label >= nclasses) {
                tassl_status st = tassl_error(TASSL_ERR_ARG,
                                              "detection targets: sample %lld box %d has class %d; "
                                              "expected 0..%d (the task's box classes)",
                                              (long long)i, j, b->label, nclasses - 1);
                det_targets_free(t);
                return st;
            }
            bool empty = false;
            for (int a = a0; a < 3; a++)
                if (!(b->hi[a] > b->lo[a])) empty = true;
            if (empty) continue;
            int64_t ct[3] = {0, 0, 0};
            double c[3] = {0, 0, 0};
            for (int a = a0; a < 3; a++) {
                c[a] = ((double)b->lo[a] + (double)b->hi[a]) / 2;
                int64_t v = (int64_t)floor(c[a]);
                ct[a] = v < 0 ? 0 : (v >= size[a] ? size[a] - 1 : v);
            }
            int r = det_box_radius(b, dims, min_overlap);
            draw_gaussian(&t->heat[(i * nclasses + b->label) * s], size, ct, r, dims);
            int64_t at = (ct[0] * size[1] + ct[1]) * size[2] + ct[2];
            if (t->mask[i * s + at] == 0) t->nobj++;
            t->mask[i * s + at] = 1;
            for (int a = a0; a < 3; a++) {
                int k = a - a0;
                t->reg[(i * 2 * dims + k) * s + at] = b->hi[a] - b->lo[a];
                t->reg[(i * 2 * dims + dims + k) * s + at] = (float)(c[a] - (double)ct[a]);
            }
        }
    }
    for (int64_t e = 0; e < nk; e++) {
        float h = t->heat[e];
        if (h == 1.0f) {
            t->pos[e] = 1;
            t->npos++;
        } else {
            float q = 1 - h;
            t->negw[e] = q * q * q * q;
        }
    }
    return TASSL_OK;
}

/* The focal loss of a constant logit b with np peaks and Σ negw = w (det_focal_constant). */
static double focal_const(double np, double w, double b) {
    double p = 1 / (1 + exp(-b));
    p = p < 1e-4 ? 1e-4 : (p > 1 - 1e-4 ? 1 - 1e-4 : p);
    return -(np * (1 - p) * (1 - p) * log(p) + w * p * p * log(1 - p)) / (np > 0 ? np : 1);
}

static double negw_sum(const det_targets *t) {
    double w = 0;
    int64_t nk = t->n * t->nclasses * t->size[0] * t->size[1] * t->size[2];
    for (int64_t e = 0; e < nk; e++)
        w += t->negw[e];
    return w;
}

double det_focal_constant(const det_targets *t, double b) {
    return focal_const((double)t->npos, negw_sum(t), b);
}

double det_heat_prior(const det_targets *t) {
    if (t->npos <= 0) return NAN;
    /* f(b) = A·(1−p)²·(−log p) + W·p²·(−log(1−p)): the first term falls, the second rises with b,
     * and their sum has one minimum; golden-section search on b over the clamp's logit range */
    double np = (double)t->npos, w = negw_sum(t);
    double lo = -log((1 - 1e-4) / 1e-4), hi = -lo;
    const double g = (sqrt(5.0) - 1) / 2;
    double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
    double f1 = focal_const(np, w, x1), f2 = focal_const(np, w, x2);
    for (int it = 0; it < 80; it++) {
        if (f1 <= f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = focal_const(np, w, x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = focal_const(np, w, x2);
        }
    }
    return (lo + hi) / 2;
}

/* ---- decoding ------------------------------------------------------------------------------- */

typedef struct peak {
    float score;
    int cls;
    int64_t at;
} peak;

static int peak_cmp(const void *pa, const void *pb) {
    const peak *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    return a->at < b->at ? -1 : (a->at > b->at);
}

static bool is_peak(const float *m, const int64_t size[3], int dims, int64_t z, int64_t y,
                    int64_t x) {
    float v = m[(z * size[1] + y) * size[2] + x];
    int rz = dims == 3 ? 1 : 0;
    for (int64_t dz = -rz; dz <= rz; dz++)
        for (int64_t dy = -1; dy <= 1; dy++)
            for (int64_t dx = -1; dx <= 1; dx++) {
                int64_t zz = z + dz, yy = y + dy, xx = x + dx;
                if (zz < 0 || yy < 0 || xx < 0 || zz >= size[0] || yy >= size[1] || xx >= size[2])
                    continue;
                if (m[(zz * size[1] + yy) * size[2] + xx] > v) return false;
            }
    return true;
}

int64_t det_decode(const float *heat, const float *reg, int dims, int nclasses,
                   const int64_t size[3], int64_t image, const det_decode_opts *o,
                   tassl_det_box *out) {
    int64_t s = size[0] * size[1] * size[2];
    int64_t cap = o->max_boxes > 0 ? o->max_boxes : 0, n = 0;
    if (cap == 0) return 0;
    peak *pk = malloc((size_t)(cap + 1) * sizeof *pk); /* a sorted top-k, one slot spare */
    if (!pk) return 0;
    for (int k = 0; k < nclasses; k++) {
        const float *m = heat + (int64_t)k * s;
        for (int64_t z = 0; z < size[0]; z++)
            for (int64_t y = 0; y < size[1]; y++)
                for (int64_t x = 0; x < size[2]; x++) {
                    int64_t at = (z * size[1] + y) * size[2] + x;
                    float v = m[at];
                    if (!(v >= o->score_threshold)) continue; /* also drops NaN */
                    if (n == cap && v <= pk[n - 1].score) continue;
                    if (!is_peak(m, size, dims, z, y, x)) continue;
                    /* insert keeping pk sorted by (score desc, class, index) */
                    peak p = {v, k, at};
                    int64_t j = n < cap ? n : cap - 1;
                    if (n == cap && peak_cmp(&p, &pk[cap - 1]) > 0) continue;
                    while (j > 0 && peak_cmp(&p, &pk[j - 1]) < 0) {
                        pk[j] = pk[j - 1];
                        j--;
                    }
                    pk[j] = p;
                    if (n < cap) n++;
                }
    }
    int a0 = 3 - dims;
    for (int64_t i = 0; i < n; i++) {
        tassl_det_box *b = &out[i];
        memset(b, 0, sizeof *b);
        b->image = image;
        b->cls = pk[i].cls;
        b->score = pk[i].score;
        int64_t at = pk[i].at;
        int64_t idx[3] = {at / (size[1] * size[2]), (at / size[2]) % size[1], at % size[2]};
        b->lo[0] = 0;
        b->hi[0] = 1;
        for (int a = a0; a < 3; a++) {
            int k = a - a0;
            float ext = reg[(int64_t)k * s + at];
            float off = reg[(int64_t)(dims + k) * s + at];
            if (!(ext > 0)) ext = 0;
            if (!isfinite(off)) off = 0.5f;
            float c = (float)idx[a] + off;
            float lo = c - ext / 2, hi = c + ext / 2;
            b->lo[a] = lo < 0 ? 0 : (lo > (float)size[a] ? (float)size[a] : lo);
            b->hi[a] = hi > (float)size[a] ? (float)size[a] : (hi < 0 ? 0 : hi);
        }
    }
    free(pk);
    return n;
}
