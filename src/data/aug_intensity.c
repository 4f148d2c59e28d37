/* aug_intensity.c — intensity transforms: normalisation (CT window, percentile clip + z-score,
 * percentile rescale) and augmentation (gamma, contrast, brightness, Gaussian and Rician noise,
 * Gaussian blur, Legendre bias field, histogram shift, RGB colour jitter, HED stain jitter).
 * All act per channel on (C, D, H, W) data, in place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

void tassl_aug_window(tassl_image *img, float center, float width) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    float lo = center - 0.5f * width, inv = 1.0f / width;
    for (int64_t i = 0; i < n; i++) {
        float v = (img->data[i] - lo) * inv;
        img->data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
}

/* selection of voxels entering statistics: mask channel 0 > 0, else nonzero (any channel value
 * != 0 of channel c), else all (sel NULL) */
static tassl_status make_sel(const tassl_image *img, const tassl_image *mask, int nonzero,
                             uint8_t **sel) {
    *sel = NULL;
    int64_t nv = tassl_image_voxels(img);
    if (mask) {
        if (mask->d != img->d || mask->h != img->h || mask->w != img->w)
            return tassl_error(
                TASSL_ERR_ARG,
                "%s: mask grid %lldx%lldx%lld differs from the image's %lldx%lldx%lld",
                mask->source[0] ? mask->source : "mask", (long long)mask->d, (long long)mask->h,
                (long long)mask->w, (long long)img->d, (long long)img->h, (long long)img->w);
    } else if (!nonzero)
        return TASSL_OK;
    uint8_t *s = malloc((size_t)nv);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "out of memory for a normalisation mask");
    for (int64_t i = 0; i < nv; i++)
        s[i] = mask ? mask->data[i] > 0 : img->data[i] != 0;
    *sel = s;
    return TASSL_OK;
}

static tassl_status clip_stats(tassl_image *img, const tassl_image *mask, int nonzero, float p_lo,
                               float p_hi, int zscore) {
    int64_t nv = tassl_image_voxels(img);
    uint8_t *sel;
    tassl_status st = make_sel(img, mask, nonzero, &sel);
    if (st) return st;
    float *scratch = malloc((size_t)nv * sizeof(float));
    if (!scratch) {
        free(sel);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory for percentiles");
    }
    for (int c = 0; c < img->channels; c++) {
        float *x = img->data + c * nv;
        float lo, hi;
        const uint8_t *cs = sel; /* an empty selection falls back to every voxel */
        if (aug_percentiles(x, cs, nv, p_lo, p_hi, &lo, &hi, scratch) == 0) {
            cs = NULL;
            aug_percentiles(x, NULL, nv, p_lo, p_hi, &lo, &hi, scratch);
        }
        for (int64_t i = 0; i < nv; i++)
            x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        if (zscore) {
            double sum = 0, s2 = 0;
            int64_t k = 0;
            for (int64_t i = 0; i < nv; i++)
                if (!cs || cs[i]) sum += x[i], k++;
            double mean = sum / (double)k;
            for (int64_t i = 0; i < nv; i++)
                if (!cs || cs[i]) s2 += (x[i] - mean) * (x[i] - mean);
            double sd = sqrt(s2 / (double)k);
            float inv = (float)(1.0 / (sd > 1e-8 ? sd : 1.0));
            /* outside the selection: 0 (nnU-Net's use_mask_for_norm) */
            for (int64_t i = 0; i < nv; i++)
                x[i] = (!cs || cs[i]) ? ((float)(x[i] - mean)) * inv : 0.0f;
        } else {
            float range = hi - lo, inv = range > 0 ? 1.0f / range : 0.0f;
            for (int64_t i = 0; i < nv; i++)
                x[i] = (x[i] - lo) * inv;
        }
    }
    free(sel);
    free(scratch);
    return TASSL_OK;
}

tassl_status tassl_aug_zscore(tassl_image *img, const tassl_image *mask, int nonzero, float p_lo,
                              float p_hi) {
    return clip_stats(img, mask, nonzero, p_lo, p_hi, 1);
}

tassl_status tassl_aug_percentile(tassl_image *img, const tassl_image *mask, int nonzero,
                                  float p_lo, float p_hi) {
    return clip_stats(img, mask, nonzero, p_lo, p_hi, 0);
}

static void minmax(const float *x, int64_t n, float *lo, float *hi) {
    float a = INFINITY, b = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
    }
    *lo = a;
    *hi = b;
}

void tassl_aug_gamma(tassl_image *img, float gamma, int invert) {
    int64_t nv = tassl_image_voxels(img);
    for (int c = 0; c < img->channels; c++) {
        float *x = img->data + c * nv, lo, hi;
        minmax(x, nv, &lo, &hi);
        float range = hi - lo;
        if (!(range > 0)) continue;
        for (int64_t i = 0; i < nv; i++) {
            float u = (x[i] - lo) / range;
            if (invert) u = 1 - u;
            u = powf(u < 0 ? 0 : u, gamma);
            if (invert) u = 1 - u;
            x[i] = lo + range * u;
        }
    }
}

void tassl_aug_contrast(tassl_image *img, float factor) {
    int64_t nv = tassl_image_voxels(img);
    for (int c = 0; c < img->channels; c++) {
        float *x = img->data + c * nv;
        double s = 0;
        for (int64_t i = 0; i < nv; i++)
            s += x[i];
        float mean = (float)(s / (double)nv);
        for (int64_t i = 0; i < nv; i++)
            x[i] = mean + factor * (x[i] - mean);
    }
}

void tassl_aug_brightness(tassl_image *img, float factor) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    for (int64_t i = 0; i < n; i++)
        img->data[i] *= factor;
}

/* two normals per Box–Muller from one 64-bit bulk draw (24 bits each) */
static inline void normals(aug_fast *f, float *a, float *b) {
    uint64_t v = aug_fast_next(f);
    float u1 = (float)(((uint32_t)v >> 8) + 1) * (1.0f / 16777216.0f); /* (0, 1] */
    float u2 = (float)((uint32_t)(v >> 32) >> 8) * (1.0f / 16777216.0f);
    float rad = sqrtf(-2.0f * logf(u1)), th = 6.2831853071795864f * u2;
    *a = rad * cosf(th);
    *b = rad * sinf(th);
}

void tassl_aug_noise(tassl_image *img, float std, tassl_aug_rng *r) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    aug_fast f;
    aug_fast_init(&f, r);
    for (int64_t i = 0; i < n; i += 2) {
        float a, b;
        normals(&f, &a, &b);
        img->data[i] += std * a;
        if (i + 1 < n) img->data[i + 1] += std * b;
    }
}

void tassl_aug_rician(tassl_image *img, float std, tassl_aug_rng *r) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    aug_fast f;
    aug_fast_init(&f, r);
    for (int64_t i = 0; i < n; i++) {
        float a, b;
        normals(&f, &a, &b);
        float re = img->data[i] + std * a, im = std * b;
        img->data[i] = sqrtf(re * re + im * im);
    }
}

tassl_status tassl_aug_blur(tassl_image *img, float sigma) {
    int64_t nv = tassl_image_voxels(img);
    float *tmp = malloc((size_t)nv * sizeof(float));
    if (!tmp) return tassl_error(TASSL_ERR_NOMEM, "out of memory for a blur");
    float s[3] = {img->d > 1 ? sigma : 0, sigma, sigma};
    for (int c = 0; c < img->channels; c++)
        aug_blur_channel(img->data + c * nv, img->d, img->h, img->w, s, tmp);
    free(tmp);
    return TASSL_OK;
}

/* Legendre P_0..P_5 at x in [-1, 1] */
static void legendre(float x, float p[6]) {
    p[0] = 1;
    p[1] = x;
    for (int k = 2; k < 6; k++)
        p[k] = ((2 * k - 1) * x * p[k - 1] - (k - 1) * p[k - 2]) / k;
}

void tassl_aug_bias_field(tassl_image *img, int degree, float coeff, tassl_aug_rng *r) {
    if (degree < 1) degree = 1;
    if (degree > 5) degree = 5;
    int is3d = img->d > 1;
    float c[6][6][6] = {{{0}}};
    for (int i = 0; i <= (is3d ? degree : 0); i++)
        for (int j = 0; i + j <= degree; j++)
            for (int k = 0; i + j + k <= degree; k++)
                c[i][j][k] = (i + j + k == 0) ? 0.0f : tassl_aug_rng_range(r, -coeff, coeff);
    int64_t D = img->d, H = img->h, W = img->w, nv = D * H * W;
    float pz[6], py[6], px[6];
    float *pxs = malloc((size_t)W * 6 * sizeof(float));
    if (!pxs) return; /* tiny; on failure the field is skipped */
    for (int64_t x = 0; x < W; x++)
        legendre(W > 1 ? 2.0f * x / (W - 1) - 1 : 0, pxs + 6 * x);
    for (int64_t z = 0; z < D; z++) {
        legendre(D > 1 ? 2.0f * z / (D - 1) - 1 : 0, pz);
        for (int64_t y = 0; y < H; y++) {
            legendre(H > 1 ? 2.0f * y / (H - 1) - 1 : 0, py);
            /* fold the z and y factors: a_k = Σ_ij c_ijk pz_i py_j */
            float a[6] = {0};
            for (int i = 0; i <= degree; i++)
                for (int j = 0; i + j <= degree; j++)
                    for (int k = 0; i + j + k <= degree; k++)
                        a[k] += c[i][j][k] * pz[i] * py[j];
            for (int64_t x = 0; x < W; x++) {
                memcpy(px, pxs + 6 * x, sizeof px);
                float e = 0;
                for (int k = 0; k <= degree; k++)
                    e += a[k] * px[k];
                float f = expf(e);
                int64_t vi = (z * H + y) * W + x;
                for (int ch = 0; ch < img->channels; ch++)
                    img->data[ch * nv + vi] *= f;
            }
        }
    }
    free(pxs);
}

void tassl_aug_hist_shift(tassl_image *img, int points, tassl_aug_rng *r) {
    if (points < 3) points = 3;
    if (points > 256) points = 256;
    float flt[256]; /* control points move; the reference ones stay at i / (points − 1) */
    for (int i = 0; i < points; i++)
        flt[i] = (float)i / (float)(points - 1);
    /* MONAI RandHistogramShift: each inner point moves within its (moved) neighbours */
    for (int i = 1; i < points - 1; i++)
        flt[i] = tassl_aug_rng_range(r, flt[i - 1], flt[i + 1]);
    int64_t nv = tassl_image_voxels(img);
    for (int c = 0; c < img->channels; c++) {
        float *x = img->data + c * nv, lo, hi;
        minmax(x, nv, &lo, &hi);
        float range = hi - lo;
        if (!(range > 0)) continue;
        float seg = (float)(points - 1);
        for (int64_t i = 0; i < nv; i++) {
            float u = (x[i] - lo) / range * seg;
            int k = (int)u;
            if (k >= points - 1) k = points - 2;
            if (k < 0) k = 0;
            float f = u - (float)k;
            float v = flt[k] + f * (flt[k + 1] - flt[k]);
            x[i] = lo + range * v;
        }
    }
}

/* ---- colour ---------------------------------------------------------------------------------- */

static float clamp01(float v) {
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void rgb_to_hsv(float r, float g, float b, float *h, float *s, float *v) {
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
    *v = mx;
    *s = mx > 0 ? d / mx : 0;
    if (d <= 0) {
        *h = 0;
        return;
    }
    float hh;
    if (mx == r)
        hh = (g - b) / d;
    else if (mx == g)
        hh = 2 + (b - r) / d;
    else
        hh = 4 + (r - g) / d;
    hh /= 6;
    *h = hh < 0 ? hh + 1 : hh;
}

static void hsv_to_rgb(float h, float s, float v, float *r, float *g, float *b) {
    float hh = h * 6;
    int i = (int)floorf(hh);
    float f = hh - (float)i;
    i = ((i % 6) + 6) % 6;
    float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch (i) {
    case 0:
        *r = v, *g = t, *b = p;
        break;
    case 1:
        *r = q, *g = v, *b = p;
        break;
    case 2:
        *r = p, *g = v, *b = t;
        break;
    case 3:
        *r = p, *g = q, *b = v;
        break;
    case 4:
        *r = t, *g = p, *b = v;
        break;
    default:
        *r = v, *g = p, *b = q;
        break;
    }
}

tassl_status tassl_aug_color_jitter(tassl_image *img, float brightness, float contrast,
                                    float saturation, float hue, tassl_aug_rng *r) {
    if (img->channels != 3)
        return tassl_error(TASSL_ERR_ARG, "%s: colour jitter needs 3 channels (RGB), got %d",
                           img->source[0] ? img->source : "image", img->channels);
    int64_t nv = tassl_image_voxels(img);
    float *R = img->data, *G = R + nv, *B = G + nv;
    float fb = tassl_aug_rng_range(r, fmaxf(0, 1 - brightness), 1 + brightness);
    float fc = tassl_aug_rng_range(r, fmaxf(0, 1 - contrast), 1 + contrast);
    float fs = tassl_aug_rng_range(r, fmaxf(0, 1 - saturation), 1 + saturation);
    float fh = tassl_aug_rng_range(r, -hue, hue);
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) { /* Fisher–Yates: torchvision applies them in random order */
        int j = (int)tassl_aug_rng_int(r, 0, i);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int s = 0; s < 4; s++) {
        switch (order[s]) {
        case 0:
            if (brightness > 0)
                for (int64_t i = 0; i < 3 * nv; i++)
                    R[i] = clamp01(R[i] * fb);
            break;
        case 1:
            if (contrast > 0) {
                double m = 0; /* mean of the grey image (ITU-R 601 luma, as torchvision) */
                for (int64_t i = 0; i < nv; i++)
                    m += 0.299f * R[i] + 0.587f * G[i] + 0.114f * B[i];
                float mean = (float)(m / (double)nv);
                for (int64_t i = 0; i < 3 * nv; i++)
                    R[i] = clamp01(mean + fc * (R[i] - mean));
            }
            break;
        case 2:
            if (saturation > 0)
                for (int64_t i = 0; i < nv; i++) {
                    float g = 0.299f * R[i] + 0.587f * G[i] + 0.114f * B[i];
                    R[i] = clamp01(g + fs * (R[i] - g));
                    G[i] = clamp01(g + fs * (G[i] - g));
                    B[i] = clamp01(g + fs * (B[i] - g));
                }
            break;
        default:
            if (hue > 0)
                for (int64_t i = 0; i < nv; i++) {
                    float h, sat, v;
                    rgb_to_hsv(clamp01(R[i]), clamp01(G[i]), clamp01(B[i]), &h, &sat, &v);
                    h += fh;
                    h -= floorf(h);
                    hsv_to_rgb(h, sat, v, &R[i], &G[i], &B[i]);
                }
            break;
        }
    }
    return TASSL_OK;
}

/* Ruifrok & Johnston (2001) H&E-DAB stain vectors (rows: haematoxylin, eosin, DAB), as in
 * scikit-image's rgb_from_hed; hed_from_rgb is its inverse. */
static const float rgb_from_hed[3][3] = {
    {0.65f, 0.70f, 0.29f}, {0.07f, 0.99f, 0.11f}, {0.27f, 0.57f, 0.78f}};

static void invert3(float a[3][3], float inv[3][3]) {
    float det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
            inv[i][j] = (a[i1][j1] * a[i2][j2] - a[i1][j2] * a[i2][j1]) / det;
        }
}

tassl_status tassl_aug_hed_jitter(tassl_image *img, float sigma, tassl_aug_rng *r) {
    if (img->channels != 3)
        return tassl_error(TASSL_ERR_ARG, "%s: HED stain jitter needs 3 channels (RGB), got %d",
                           img->source[0] ? img->source : "image", img->channels);
    float m[3][3], inv[3][3];
    for (int i = 0; i < 3; i++) { /* normalise stain vectors to unit length */
        float n = sqrtf(rgb_from_hed[i][0] * rgb_from_hed[i][0] +
                        rgb_from_hed[i][1] * rgb_from_hed[i][1] +
                        rgb_from_hed[i][2] * rgb_from_hed[i][2]);
        for (int j = 0; j < 3; j++)
            m[i][j] = rgb_from_hed[i][j] / n;
    }
    invert3(m, inv);
    float alpha[3], beta[3];
    for (int k = 0; k < 3; k++) {
        alpha[k] = tassl_aug_rng_range(r, 1 - sigma, 1 + sigma);
        beta[k] = tassl_aug_rng_range(r, -sigma, sigma);
    }
    int64_t nv = tassl_image_voxels(img);
    float *R = img->data, *G = R + nv, *B = G + nv;
    const float eps = 1e-6f;
    for (int64_t i = 0; i < nv; i++) {
        /* optical density od = −log(I) (I in (0, 1]); od = hed · m; hed = od · m⁻¹ */
        float od[3] = {-logf(fmaxf(R[i], eps)), -logf(fmaxf(G[i], eps)), -logf(fmaxf(B[i], eps))};
        float hed[3];
        for (int k = 0; k < 3; k++)
            hed[k] =
                (od[0] * inv[0][k] + od[1] * inv[1][k] + od[2] * inv[2][k]) * alpha[k] + beta[k];
        float o2[3];
        for (int c = 0; c < 3; c++)
            o2[c] = hed[0] * m[0][c] + hed[1] * m[1][c] + hed[2] * m[2][c];
        R[i] = clamp01(expf(-o2[0]));
        G[i] = clamp01(expf(-o2[1]));
        B[i] = clamp01(expf(-o2[2]));
    }
    return TASSL_OK;
}
