/* stats.c — intensity statistics of an image (range, moments, percentiles, label counts) and
 * the PNG montage of slices that `tassl inspect` writes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io_internal.h"

/* k-th smallest of a[lo..hi] (inclusive), partially reordering a; iterative quickselect */
static float select_k(float *a, int64_t lo, int64_t hi, int64_t k) {
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        /* median of three as pivot */
        float x = a[lo], y = a[mid], z = a[hi];
        float p = (x < y) ? ((y < z) ? y : (x < z ? z : x)) : ((x < z) ? x : (y < z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

tassl_status tassl_image_stats_compute(const tassl_image *img, int channel, tassl_image_stats *st) {
    memset(st, 0, sizeof *st);
    const char *name = img->source[0] ? img->source : "(image)";
    if (channel >= img->channels)
        return tassl_error(TASSL_ERR_ARG, "%s: channel %d of a %d-channel image", name, channel,
                           img->channels);
    int64_t vox = tassl_image_voxels(img);
    const float *x = img->data + (channel < 0 ? 0 : (int64_t)channel * vox);
    int64_t n = channel < 0 ? vox * img->channels : vox;
    /* pass 1: range, sum, integer-ness and the distinct values (sorted, binary search; the last
     * slot found is tried first, since label maps and scans come in runs of equal values) */
    int64_t m = 0;
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    int all_int = 1, nl = 0, too_many = 0, last = -1;
    for (int64_t i = 0; i < n; i++) {
        float f = x[i];
        if (!isfinite(f)) {
            st->nonfinite++;
            continue;
        }
        m++;
        sum += f;
        if (f < mn) mn = f;
        if (f > mx) mx = f;
        if (!all_int || too_many) continue;
        if (last >= 0 && st->label_value[last] == f) {
            st->label_count[last]++;
            continue;
        }
        if (f != nearbyintf(f)) {
            all_int = 0;
            continue;
        }
        int lo = 0, hi = nl;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (st->label_value[mid] < f) lo = mid + 1;
            else hi = mid;
        }
        if (lo < nl && st->label_value[lo] == f) {
            st->label_count[lo]++;
        } else if (nl == TASSL_STATS_MAX_LABELS) {
            too_many = 1;
            continue;
        } else {
            memmove(st->label_value + lo + 1, st->label_value + lo, sizeof(double) * (size_t)(nl - lo));
            memmove(st->label_count + lo + 1, st->label_count + lo, sizeof(int64_t) * (size_t)(nl - lo));
            st->label_value[lo] = f;
            st->label_count[lo] = 1;
            nl++;
        }
        last = lo;
    }
    st->count = m;
    st->all_integer = m > 0 && all_int;
    st->nlabels = (st->all_integer && !too_many) ? nl : 0;
    if (!st->nlabels) {
        memset(st->label_value, 0, sizeof st->label_value);
        memset(st->label_count, 0, sizeof st->label_count);
    }
    if (m == 0) {
        st->min = st->max = st->mean = st->std = NAN;
        st->p1 = st->p5 = st->p50 = st->p95 = st->p99 = NAN;
        return TASSL_OK;
    }
    st->min = mn;
    st->max = mx;
    st->mean = sum / m;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - st->mean) * (x[i] - st->mean);
    st->std = sqrt(ss / m);

    /* percentiles: numpy's "linear" — order statistics k = floor(pos) and k + 1, pos = p·(m−1) */
    static const double ps[5] = {1, 5, 50, 95, 99};
    double *out[5] = {&st->p1, &st->p5, &st->p50, &st->p95, &st->p99};
    if (st->nlabels > 0) { /* few distinct values: order statistics from the counts, exactly */
        for (int i = 0; i < 5; i++) {
            double pos = ps[i] / 100.0 * (double)(m - 1);
            int64_t k = (int64_t)floor(pos);
            double frac = pos - (double)k, a = 0, b = 0;
            int64_t cum = 0;
            int j = 0;
            for (; j < nl; j++) {
                cum += st->label_count[j];
                if (cum > k) break;
            }
            a = st->label_value[j];
            b = (cum > k + 1 || j + 1 >= nl) ? a : st->label_value[j + 1];
            *out[i] = a + frac * (b - a);
        }
        return TASSL_OK;
    }
    float *v = malloc(sizeof(float) * (size_t)m);
    if (!v) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory for statistics", name);
    int64_t w = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) v[w++] = x[i];
    int64_t lo = 0; /* percentiles ascending: each select narrows the range of the next */
    for (int i = 0; i < 5; i++) {
        double pos = ps[i] / 100.0 * (double)(m - 1);
        int64_t k = (int64_t)floor(pos);
        double frac = pos - (double)k;
        float a = select_k(v, lo, m - 1, k);
        double val = a;
        if (frac > 0 && k + 1 < m) { /* next order statistic = min of the part above k */
            float b = v[k + 1];
            for (int64_t j = k + 2; j < m; j++)
                if (v[j] < b) b = v[j];
            val = a + frac * ((double)b - a);
        }
        *out[i] = val;
        lo = k;
    }
    free(v);
    return TASSL_OK;
}

tassl_status tassl_image_write_montage(const char *path, const tassl_image *img, int nslices) {
    const char *name = img->source[0] ? img->source : "(image)";
    if (!img->data) return tassl_error(TASSL_ERR_ARG, "%s: empty image", name);
    if (nslices <= 0) nslices = 16;
    if (nslices > img->d) nslices = (int)img->d;
    int cols = (int)ceil(sqrt((double)nslices));
    int rows = (nslices + cols - 1) / cols;
    tassl_image_stats st;
    tassl_status s = tassl_image_stats_compute(img, 0, &st);
    if (s) return s;
    double lo = st.p1, hi = st.p99;
    if (img->is_label || st.nlabels > 0 || !(hi > lo)) {
        lo = st.min;
        hi = st.max;
    }
    double mul = hi > lo ? 255.0 / (hi - lo) : 0;
    tassl_image out;
    s = tassl_image_new(&out, 1, 1, (int64_t)rows * img->h, (int64_t)cols * img->w);
    if (s) return tassl_error(s, "%s: montage: %s", path, tassl_last_error());
    int64_t W = out.w, hw = img->h * img->w;
    for (int t = 0; t < nslices; t++) {
        int64_t z = (int64_t)floor((t + 0.5) * (double)img->d / nslices);
        if (z >= img->d) z = img->d - 1;
        const float *sl = img->data + z * hw; /* channel 0 */
        int64_t oy = (int64_t)(t / cols) * img->h, ox = (int64_t)(t % cols) * img->w;
        for (int64_t j = 0; j < img->h; j++) {
            const float *r = sl + (img->h - 1 - j) * img->w; /* flip: anterior up */
            float *o = out.data + (oy + j) * W + ox;
            for (int64_t i = 0; i < img->w; i++) {
                double v = isfinite(r[i]) ? (r[i] - lo) * mul : 0;
                o[i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    s = tassl_png_write(path, &out, 8, TASSL_PNG_SCALE_CLAMP);
    tassl_image_free(&out);
    return s;
}
