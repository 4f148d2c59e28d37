/* aug_util.c — small helpers of the augmentation layer: image allocation like another image,
 * per-channel minimum, percentiles by selection, separable Gaussian blur. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

tassl_status aug_image_like(const tassl_image *src, int channels, int64_t d, int64_t h, int64_t w,
                            tassl_image *out) {
    tassl_status st = tassl_image_new(out, channels, d, h, w);
    if (st) return st;
    memcpy(out->spacing, src->spacing, sizeof out->spacing);
    memcpy(out->affine, src->affine, sizeof out->affine);
    out->is_label = src->is_label;
    memcpy(out->source, src->source, sizeof out->source);
    return TASSL_OK;
}

void aug_image_replace(tassl_image *img, tassl_image *next) {
    tassl_image_free(img);
    *img = *next;
    next->data = NULL;
}

tassl_status aug_image_ensure(tassl_image *out, int channels, int64_t d, int64_t h, int64_t w) {
    if (out->data && out->channels == channels && out->d == d && out->h == h && out->w == w)
        return TASSL_OK;
    tassl_image_free(out);
    return tassl_image_new(out, channels, d, h, w);
}

float aug_channel_min(const float *x, int64_t n) {
    float m = INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] < m) m = x[i];
    return n ? m : 0.0f;
}

/* k-th smallest of a[0..n) (quickselect, Hoare partition with median of three); reorders a */
static float select_kth(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        float x = a[lo], y = a[mid], z = a[hi];
        float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

/* numpy-style linear-interpolated percentile of a (n values, reordered) */
static float percentile(float *a, int64_t n, float p) {
    double pos = (double)p / 100.0 * (double)(n - 1);
    int64_t k = (int64_t)floor(pos);
    if (k < 0) k = 0;
    if (k >= n - 1) return select_kth(a, n, n - 1);
    float v0 = select_kth(a, n, k);
    float v1 = a[k + 1]; /* after selection a[k+1..] >= v0: the next order statistic is their min */
    for (int64_t i = k + 2; i < n; i++)
        if (a[i] < v1) v1 = a[i];
    return v0 + (float)(pos - (double)k) * (v1 - v0);
}

int64_t aug_percentiles(const float *x, const uint8_t *sel, int64_t n, float p_lo, float p_hi,
                        float *lo, float *hi, float *scratch) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!sel || sel[i]) scratch[m++] = x[i];
    if (m == 0) {
        *lo = *hi = 0;
        return 0;
    }
    *lo = percentile(scratch, m, p_lo);
    *hi = percentile(scratch, m, p_hi);
    return m;
}

/* reflect an index into [0, n) (half-sample symmetric: ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...) */
static int64_t reflect(int64_t i, int64_t n) {
    if (n == 1) return 0;
    int64_t period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
}

/* blur along one axis of a (outer, n, inner) array from src into dst */
static void blur_axis(const float *src, float *dst, int64_t outer, int64_t n, int64_t inner,
                      float sigma) {
    int radius = (int)ceilf(3.0f * sigma);
    if (radius < 1) radius = 1;
    float kern[2 * 96 + 1];
    if (radius > 96) radius = 96;
    float sum = 0;
    for (int k = -radius; k <= radius; k++)
        sum += kern[k + radius] = expf(-0.5f * (float)(k * k) / (sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++)
        kern[k] /= sum;
    for (int64_t o = 0; o < outer; o++) {
        const float *s = src + o * n * inner;
        float *d = dst + o * n * inner;
        for (int64_t i = 0; i < n; i++) {
            float *di = d + i * inner;
            for (int64_t j = 0; j < inner; j++)
                di[j] = 0;
            for (int k = -radius; k <= radius; k++) {
                const float *si = s + reflect(i + k, n) * inner;
                float wk = kern[k + radius];
                for (int64_t j = 0; j < inner; j++)
                    di[j] += wk * si[j];
            }
        }
    }
}

void aug_blur_channel(float *x, int64_t d, int64_t h, int64_t w, const float sigma[3], float *tmp) {
    int64_t n[3] = {d, h, w};
    for (int a = 0; a < 3; a++) {
        if (sigma[a] <= 0 || n[a] == 1) continue;
        int64_t outer = 1, inner = 1;
        for (int b = 0; b < a; b++)
            outer *= n[b];
        for (int b = a + 1; b < 3; b++)
            inner *= n[b];
        blur_axis(x, tmp, outer, n[a], inner, sigma[a]);
        memcpy(x, tmp, (size_t)(d * h * w) * sizeof(float));
    }
}
