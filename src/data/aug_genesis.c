/* aug_genesis.c — the Models Genesis image transforms (Zhou et al., "Models Genesis: Generic
 * Autodidactic Models for 3D Medical Image Analysis", MICCAI 2019; MedIA 2021), re-implemented
 * from the reference code (MrGiovanni/ModelsGenesis, pytorch/utils.py) with the same
 * probabilities and size rules: flip (repeated up to 3×), local pixel shuffling (10000 windows of
 * sides 1..n/10, shuffled one after the other: see shuffle_inplace), a cubic Bézier intensity curve
 * (sorted x and y; the "flipped" branch keeps y in curve order, giving a decreasing map),
 * in-painting (up to 5 noise boxes of sides n/6..n/3) and out-painting (noise everywhere except up
 * to 5 boxes of sides n−4n/7..n−3n/7). 2D images (d = 1) apply the size rules to H and W only.
 *
 * Speed: the reference takes ~20 s for a batch of 128 2D 128×128 images (ModelsGenesis issue
 * #24); here the whole set runs in about a millisecond per image on one core (tools/bench-data).
 * Parameters come from the sample's Philox streams; per-voxel draws (window permutations, noise
 * fills) from SplitMix64 seeded by them (aug_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

#define F(field) offsetof(tassl_genesis_config, field)
static const tassl_field genesis_fields[] = {
    {"flip_p", TASSL_FIELD_FLOAT, F(flip_p), "0.4", "[0, 1]", NULL,
     "repeated up to 3 times: with this probability flip a random axis (input and target)"},
    {"shuffle_p", TASSL_FIELD_FLOAT, F(shuffle_p), "0.5", "[0, 1]", NULL,
     "probability of local pixel shuffling"},
    {"shuffle_blocks", TASSL_FIELD_INT, F(shuffle_blocks), "10000", "[0, 10000000]", NULL,
     "windows shuffled per image"},
    {"shuffle_max_frac", TASSL_FIELD_FLOAT, F(shuffle_max_frac), "0.1", "(0, 1]", NULL,
     "largest window side as a fraction of each axis (at least 1 voxel)"},
    {"nonlinear_p", TASSL_FIELD_FLOAT, F(nonlinear_p), "0.9", "[0, 1]", NULL,
     "probability of the non-linear (Bezier) intensity curve"},
    {"nonlinear_flip_p", TASSL_FIELD_FLOAT, F(nonlinear_flip_p), "0.5", "[0, 1]", NULL,
     "of those, probability of the decreasing (intensity-inverting) curve"},
    {"paint_p", TASSL_FIELD_FLOAT, F(paint_p), "0.9", "[0, 1]", NULL,
     "probability of in- or out-painting"},
    {"inpaint_p", TASSL_FIELD_FLOAT, F(inpaint_p), "0.2", "[0, 1]", NULL,
     "of those, probability of in-painting (else out-painting)"},
};
#undef F

const tassl_field *tassl_genesis_fields(int *n) {
    *n = (int)(sizeof genesis_fields / sizeof genesis_fields[0]);
    return genesis_fields;
}

void tassl_genesis_config_default(tassl_genesis_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    int n;
    const tassl_field *t = tassl_genesis_fields(&n);
    aug_field_defaults(t, n, cfg);
}

tassl_status tassl_genesis_config_set(tassl_genesis_config *cfg, const char *key,
                                      const char *value) {
    int n;
    const tassl_field *t = tassl_genesis_fields(&n);
    return aug_field_set(t, n, cfg, key, value, "genesis");
}

/* ---- Bézier curve ---------------------------------------------------------------------------- */

#define CURVE_N 1000 /* curve samples (the reference uses 100000; 1000 is smooth to ~1e-6) */
#define LUT_N 4096   /* lookup table over [0, 1] */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void tassl_genesis_bezier(tassl_image *img, const float p1[2], const float p2[2], int invert) {
    /* points (0,0), p1, p2, (1,1) with the reference's reversed Bernstein order:
     * B(t) = Σ_i C(3,i) t^(3−i) (1−t)^i P_i, so t = 0 gives (1,1) and t = 1 gives (0,0) */
    float xs[CURVE_N], ys[CURVE_N];
    const float px[4] = {0, p1[0], p2[0], 1}, py[4] = {0, p1[1], p2[1], 1};
    for (int k = 0; k < CURVE_N; k++) {
        float t = (float)k / (CURVE_N - 1), u = 1 - t;
        float b[4] = {t * t * t, 3 * t * t * u, 3 * t * u * u, u * u * u};
        xs[k] = ys[k] = 0;
        for (int i = 0; i < 4; i++)
            xs[k] += b[i] * px[i], ys[k] += b[i] * py[i];
    }
    qsort(xs, CURVE_N, sizeof(float), cmp_float);
    if (!invert) qsort(ys, CURVE_N, sizeof(float), cmp_float);
    /* np.interp(v, xs, ys) tabulated on a uniform grid: walk the sorted xs once */
    float lut[LUT_N + 1];
    int j = 0;
    for (int g = 0; g <= LUT_N; g++) {
        float v = (float)g / LUT_N;
        while (j < CURVE_N - 1 && xs[j + 1] < v)
            j++;
        if (v <= xs[0])
            lut[g] = ys[0];
        else if (v >= xs[CURVE_N - 1])
            lut[g] = ys[CURVE_N - 1];
        else {
            float dx = xs[j + 1] - xs[j];
            lut[g] = dx > 0 ? ys[j] + (v - xs[j]) / dx * (ys[j + 1] - ys[j]) : ys[j + 1];
        }
    }
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    float *x = img->data;
    for (int64_t i = 0; i < n; i++) {
        float u = x[i] * LUT_N;
        if (!(u > 0)) { /* also NaN → the curve's start */
            x[i] = lut[0];
            continue;
        }
        if (u >= LUT_N) {
            x[i] = lut[LUT_N];
            continue;
        }
        int k = (int)u;
        float f = u - (float)k;
        x[i] = lut[k] + f * (lut[k + 1] - lut[k]);
    }
}

/* ---- local pixel shuffling ------------------------------------------------------------------- */

/* Shuffle the voxels of `blocks` random windows of img, one window after the other, in place.
 * The paper describes exactly this ("shuffle the pixels inside each window sequentially"); the
 * reference code instead reads every window from an unshuffled copy, so where windows overlap
 * some values are duplicated and others lost. Sequential shuffling composes permutations: the
 * image keeps its multiset of values exactly, and no copy is needed. Channels move together. */
/* Fisher–Yates indices by multiply-shift: 16-bit quarters of a draw while the window has at most
 * 256 voxels (bias < 0.4 %), 32-bit halves up to 2^16, else 64-bit modulo */
typedef struct fy_src {
    aug_fast *f;
    uint64_t word;
    int left;
} fy_src;

static inline int64_t fy_index(fy_src *s, int64_t m, int64_t i) {
    int64_t j;
    if (m <= 256) {
        if (!s->left) s->word = aug_fast_next(s->f), s->left = 4;
        j = (int64_t)(((s->word & 0xFFFF) * (uint64_t)(i + 1)) >> 16);
        s->word >>= 16, s->left--;
    } else if (m <= 65536) {
        if (!s->left) s->word = aug_fast_next(s->f), s->left = 2;
        j = (int64_t)(((s->word & 0xFFFFFFFFull) * (uint64_t)(i + 1)) >> 32);
        s->word >>= 32, s->left--;
    } else
        j = (int64_t)(aug_fast_next(s->f) % (uint64_t)(i + 1));
    return j;
}

static tassl_status shuffle_inplace(tassl_image *img, int blocks, float frac, tassl_aug_rng *r) {
    const int64_t n[3] = {img->d, img->h, img->w};
    int64_t mx[3];
    int64_t cap = 1;
    for (int a = 0; a < 3; a++) {
        mx[a] = (int64_t)floorf(frac * (float)n[a]);
        if (mx[a] < 1) mx[a] = 1;
        if (mx[a] > n[a]) mx[a] = n[a];
        cap *= mx[a];
    }
    const int C = img->channels;
    /* window values (one channel at a time), and for C > 1 the shared permutation */
    float *tmp = malloc((size_t)cap * (C > 1 ? 2 : 1) * sizeof(float));
    int32_t *perm = C > 1 ? malloc((size_t)cap * sizeof(int32_t)) : NULL;
    if (!tmp || (C > 1 && !perm)) {
        free(tmp), free(perm);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory for pixel shuffling");
    }
    const int64_t nv = tassl_image_voxels(img), sd = n[1] * n[2], sh = n[2];
    aug_fast f;
    aug_fast_init(&f, r);
    for (int b = 0; b < blocks; b++) {
        /* window sides in [1, mx] and corner in [0, n − side]: 32-bit multiply-shift draws */
        int64_t sz[3], st[3];
        uint64_t w0 = aug_fast_next(&f), w1 = aug_fast_next(&f), w2 = aug_fast_next(&f);
        uint32_t u[6] = {(uint32_t)w0,         (uint32_t)(w0 >> 32), (uint32_t)w1,
                         (uint32_t)(w1 >> 32), (uint32_t)w2,         (uint32_t)(w2 >> 32)};
        for (int a = 0; a < 3; a++) {
            sz[a] = 1 + (int64_t)(((uint64_t)u[a] * (uint64_t)mx[a]) >> 32);
            st[a] = (int64_t)(((uint64_t)u[3 + a] * (uint64_t)(n[a] - sz[a] + 1)) >> 32);
        }
        const int64_t m = sz[0] * sz[1] * sz[2], row = sz[2];
        if (m < 2) continue;
        fy_src fs = {&f, 0, 0};
        if (C > 1) {
            for (int64_t i = 0; i < m; i++)
                perm[i] = (int32_t)i;
            for (int64_t i = m - 1; i > 0; i--) {
                int64_t j = fy_index(&fs, m, i);
                int32_t t = perm[i];
                perm[i] = perm[j], perm[j] = t;
            }
        }
        for (int c = 0; c < C; c++) {
            float *x = img->data + c * nv + st[0] * sd + st[1] * sh + st[2];
            float *t = tmp; /* gather the window's rows (short: plain loops beat memcpy) */
            for (int64_t z = 0; z < sz[0]; z++)
                for (int64_t y = 0; y < sz[1]; y++, t += row) {
                    const float *xr = x + z * sd + y * sh;
                    for (int64_t i = 0; i < row; i++)
                        t[i] = xr[i];
                }
            const float *res = tmp;
            if (C == 1 && m <= 256) { /* shuffle the values themselves, 4 indices per draw */
                int64_t i = m - 1;
                while (i > 0) {
                    uint64_t w = aug_fast_next(&f);
                    for (int q = 0; q < 4 && i > 0; q++, i--, w >>= 16) {
                        int64_t j = (int64_t)(((w & 0xFFFF) * (uint64_t)(i + 1)) >> 16);
                        float v = tmp[i];
                        tmp[i] = tmp[j], tmp[j] = v;
                    }
                }
            } else if (C == 1)
                for (int64_t i = m - 1; i > 0; i--) {
                    int64_t j = fy_index(&fs, m, i);
                    float v = tmp[i];
                    tmp[i] = tmp[j], tmp[j] = v;
                }
            else {
                float *t2 = tmp + cap;
                for (int64_t i = 0; i < m; i++)
                    t2[i] = tmp[perm[i]];
                res = t2;
            }
            for (int64_t z = 0; z < sz[0]; z++)
                for (int64_t y = 0; y < sz[1]; y++, res += row) {
                    float *xr = x + z * sd + y * sh;
                    for (int64_t i = 0; i < row; i++)
                        xr[i] = res[i];
                }
        }
    }
    free(tmp), free(perm);
    return TASSL_OK;
}

tassl_status tassl_genesis_shuffle(tassl_image *img, int blocks, float frac, tassl_aug_rng *r) {
    return shuffle_inplace(img, blocks, frac, r);
}

/* ---- in-painting and out-painting ------------------------------------------------------------ */

/* random int in [lo, hi] with the reference's bounds clamped to what fits */
static int64_t rint_fit(tassl_aug_rng *r, int64_t lo, int64_t hi) {
    if (hi < lo) hi = lo;
    return tassl_aug_rng_int(r, lo, hi);
}

static void fill_noise(tassl_image *img, const int64_t st[3], const int64_t sz[3],
                       tassl_aug_rng *r) {
    const int64_t nv = tassl_image_voxels(img), sd = img->h * img->w, sh = img->w;
    aug_fast f;
    aug_fast_init(&f, r);
    for (int c = 0; c < img->channels; c++)
        for (int64_t z = 0; z < sz[0]; z++)
            for (int64_t y = 0; y < sz[1]; y++) {
                float *row = img->data + c * nv + (st[0] + z) * sd + (st[1] + y) * sh + st[2];
                int64_t x = 0;
                for (; x + 1 < sz[2]; x += 2) {
                    uint64_t v = aug_fast_next(&f);
                    row[x] = aug_fast_unit((uint32_t)v);
                    row[x + 1] = aug_fast_unit((uint32_t)(v >> 32));
                }
                if (x < sz[2]) row[x] = aug_fast_unit((uint32_t)aug_fast_next(&f));
            }
}

static void copy_box(const tassl_image *src, tassl_image *dst, const int64_t st[3],
                     const int64_t sz[3]) {
    const int64_t nv = tassl_image_voxels(src), sd = src->h * src->w, sh = src->w;
    for (int c = 0; c < src->channels; c++)
        for (int64_t z = 0; z < sz[0]; z++)
            for (int64_t y = 0; y < sz[1]; y++) {
                int64_t o = c * nv + (st[0] + z) * sd + (st[1] + y) * sh + st[2];
                memcpy(dst->data + o, src->data + o, (size_t)sz[2] * sizeof(float));
            }
}

static void to_box(const int64_t st[3], const int64_t sz[3], tassl_box *b) {
    for (int a = 0; a < 3; a++)
        b->lo[a] = (float)st[a], b->hi[a] = (float)(st[a] + sz[a]);
    b->label = 0;
}

/* box of sides lo_frac..hi_frac (in the reference's integer form) placed 3 voxels from borders */
static void inpaint_box(const int64_t n[3], tassl_aug_rng *r, int64_t st[3], int64_t sz[3]) {
    for (int a = 0; a < 3; a++) {
        if (n[a] == 1) {
            sz[a] = 1, st[a] = 0;
            continue;
        }
        int64_t lo = n[a] / 6 > 0 ? n[a] / 6 : 1, hi = n[a] / 3 > lo ? n[a] / 3 : lo;
        sz[a] = tassl_aug_rng_int(r, lo, hi);
        int64_t plo = n[a] - sz[a] < 3 ? 0 : 3;
        st[a] = rint_fit(r, plo, n[a] - sz[a] - plo);
    }
}

static void outpaint_box(const int64_t n[3], tassl_aug_rng *r, int64_t st[3], int64_t sz[3]) {
    for (int a = 0; a < 3; a++) {
        if (n[a] == 1) {
            sz[a] = 1, st[a] = 0;
            continue;
        }
        sz[a] = n[a] - rint_fit(r, 3 * n[a] / 7, 4 * n[a] / 7);
        if (sz[a] < 1) sz[a] = 1;
        int64_t plo = n[a] - sz[a] < 6 ? 0 : 3;
        st[a] = rint_fit(r, plo, n[a] - sz[a] - plo);
    }
}

void tassl_genesis_inpaint(tassl_image *img, tassl_aug_rng *r, tassl_box *regions, int *n_regions) {
    const int64_t n[3] = {img->d, img->h, img->w};
    int cnt = 5, k = 0;
    while (cnt > 0 && tassl_aug_rng_uniform(r) < 0.95f) {
        int64_t st[3], sz[3];
        inpaint_box(n, r, st, sz);
        fill_noise(img, st, sz, r);
        if (regions) to_box(st, sz, &regions[k]);
        k++;
        cnt--;
    }
    if (n_regions) *n_regions = k;
}

/* out-painting with the original kept in `orig` (same size as img) */
static void outpaint_from(const tassl_image *orig, tassl_image *img, tassl_aug_rng *r,
                          tassl_box *regions, int *n_regions) {
    const int64_t n[3] = {img->d, img->h, img->w};
    int64_t zero[3] = {0, 0, 0};
    fill_noise(img, zero, n, r);
    int64_t st[3], sz[3];
    outpaint_box(n, r, st, sz);
    copy_box(orig, img, st, sz);
    int k = 0;
    if (regions) to_box(st, sz, &regions[k]);
    k++;
    int cnt = 4;
    while (cnt > 0 && tassl_aug_rng_uniform(r) < 0.95f) {
        outpaint_box(n, r, st, sz);
        copy_box(orig, img, st, sz);
        if (regions) to_box(st, sz, &regions[k]);
        k++;
        cnt--;
    }
    if (n_regions) *n_regions = k;
}

tassl_status tassl_genesis_outpaint(tassl_image *img, tassl_aug_rng *r, tassl_box *regions,
                                    int *n_regions) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    tassl_image orig = *img;
    orig.data = malloc((size_t)n * sizeof(float));
    if (!orig.data) return tassl_error(TASSL_ERR_NOMEM, "out of memory for out-painting");
    memcpy(orig.data, img->data, (size_t)n * sizeof(float));
    outpaint_from(&orig, img, r, regions, n_regions);
    free(orig.data);
    return TASSL_OK;
}

/* ---- the whole set --------------------------------------------------------------------------- */

static void copy_geometry(const tassl_image *src, tassl_image *dst) {
    memcpy(dst->spacing, src->spacing, sizeof dst->spacing);
    memcpy(dst->affine, src->affine, sizeof dst->affine);
    dst->is_label = 0;
    memcpy(dst->source, src->source, sizeof dst->source);
}

tassl_status tassl_genesis_apply(const tassl_genesis_config *cfg, const tassl_image *src,
                                 tassl_image *input, tassl_image *target, uint64_t seed,
                                 uint64_t sample, uint64_t epoch) {
    if (!src || !src->data) return tassl_error(TASSL_ERR_ARG, "genesis: no source image");
    tassl_status st = aug_image_ensure(target, src->channels, src->d, src->h, src->w);
    if (!st) st = aug_image_ensure(input, src->channels, src->d, src->h, src->w);
    if (st) return st;
    copy_geometry(src, target);
    copy_geometry(src, input);
    size_t bytes = (size_t)((int64_t)src->channels * tassl_image_voxels(src)) * sizeof(float);
    memcpy(target->data, src->data, bytes);
    tassl_aug_rng r;
    /* flip: input and target alike */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_GENESIS_FLIP);
    int first_axis = src->d > 1 ? 0 : 1;
    for (int cnt = 3; cnt > 0 && tassl_aug_rng_uniform(&r) < cfg->flip_p; cnt--)
        tassl_aug_flip(target, (int)tassl_aug_rng_int(&r, first_axis, 2));
    memcpy(input->data, target->data, bytes);
    /* local pixel shuffling */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_GENESIS_SHUFFLE);
    if (tassl_aug_rng_bernoulli(&r, cfg->shuffle_p) &&
        (st = shuffle_inplace(input, cfg->shuffle_blocks, cfg->shuffle_max_frac, &r)))
        return st;
    /* non-linear intensity curve */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_GENESIS_NONLINEAR);
    if (tassl_aug_rng_bernoulli(&r, cfg->nonlinear_p)) {
        float p1[2], p2[2];
        p1[0] = tassl_aug_rng_uniform(&r), p1[1] = tassl_aug_rng_uniform(&r);
        p2[0] = tassl_aug_rng_uniform(&r), p2[1] = tassl_aug_rng_uniform(&r);
        int inv = tassl_aug_rng_bernoulli(&r, cfg->nonlinear_flip_p);
        tassl_genesis_bezier(input, p1, p2, inv);
    }
    /* in- or out-painting; out-painting keeps boxes of the current input */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_GENESIS_PAINT);
    if (tassl_aug_rng_bernoulli(&r, cfg->paint_p)) {
        if (tassl_aug_rng_bernoulli(&r, cfg->inpaint_p))
            tassl_genesis_inpaint(input, &r, NULL, NULL);
        else {
            st = tassl_genesis_outpaint(input, &r, NULL, NULL);
            if (st) return st;
        }
    }
    return TASSL_OK;
}
