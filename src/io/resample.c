/* resample.c — resampling to a target voxel size: trilinear for images, nearest neighbour for
 * label maps. The convention (extent kept, first voxel edges aligned) is in include/tassl/io.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io_internal.h"

/* per-axis sampling table: new index → two old indices and the weight of the second */
typedef struct axis_map {
    int64_t *i0, *i1;
    float *t;
} axis_map;

static int axis_map_make(axis_map *m, int64_t n_old, int64_t n_new, double r, int nearest) {
    m->i0 = malloc(sizeof(int64_t) * (size_t)n_new);
    m->i1 = malloc(sizeof(int64_t) * (size_t)n_new);
    m->t = malloc(sizeof(float) * (size_t)n_new);
    if (!m->i0 || !m->i1 || !m->t) return 0;
    for (int64_t i = 0; i < n_new; i++) {
        double x = (i + 0.5) * r - 0.5; /* old continuous index of the new voxel centre */
        if (x < 0) x = 0;
        if (x > n_old - 1) x = (double)(n_old - 1);
        if (nearest) {
            int64_t k = (int64_t)floor(x + 0.5);
            if (k > n_old - 1) k = n_old - 1;
            m->i0[i] = m->i1[i] = k;
            m->t[i] = 0;
        } else {
            int64_t k = (int64_t)floor(x);
            if (k > n_old - 1) k = n_old - 1;
            m->i0[i] = k;
            m->i1[i] = k + 1 < n_old ? k + 1 : k;
            m->t[i] = (float)(x - k);
        }
    }
    return 1;
}

static void axis_map_free(axis_map *m) {
    free(m->i0);
    free(m->i1);
    free(m->t);
}

tassl_status tassl_image_resample(const tassl_image *src, const double spacing[3],
                                  tassl_image *dst) {
    memset(dst, 0, sizeof *dst);
    const char *name = src->source[0] ? src->source : "(image)";
    int64_t n_old[3] = {src->d, src->h, src->w}, n_new[3];
    double r[3];
    for (int q = 0; q < 3; q++) { /* (D, H, W) */
        if (n_old[q] == 1) {
            n_new[q] = 1;
            r[q] = 1;
            continue;
        }
        if (!isfinite(spacing[q]) || spacing[q] <= 0 || !(src->spacing[q] > 0))
            return tassl_error(TASSL_ERR_ARG,
                               "%s: resampling from spacing %g to %g mm along axis %c: spacings "
                               "must be finite and > 0",
                               name, src->spacing[q], spacing[q], "DHW"[q]);
        double n = n_old[q] * src->spacing[q] / spacing[q];
        if (n > 1e9)
            return tassl_error(TASSL_ERR_ARG, "%s: resampling to %g mm gives %.3g voxels along %c",
                               name, spacing[q], n, "DHW"[q]);
        n_new[q] = (int64_t)floor(n + 0.5);
        if (n_new[q] < 1) n_new[q] = 1;
        r[q] = spacing[q] / src->spacing[q];
    }
    tassl_status s = tassl_image_new(dst, src->channels, n_new[0], n_new[1], n_new[2]);
    if (s) return tassl_error(s, "%s: resampling: %s", name, tassl_last_error());
    axis_map m[3];
    memset(m, 0, sizeof m);
    int ok = 1;
    for (int q = 0; q < 3; q++) ok = ok && axis_map_make(&m[q], n_old[q], n_new[q], r[q], src->is_label);
    if (!ok) {
        for (int q = 0; q < 3; q++) axis_map_free(&m[q]);
        tassl_image_free(dst);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory resampling", name);
    }
    int64_t ow = src->w, ohw = src->h * src->w, ovox = tassl_image_voxels(src);
    int64_t nvox = tassl_image_voxels(dst);
    for (int c = 0; c < src->channels; c++) { // (C, D, H, W)
        const float *x = src->data + c * ovox;
        float *y = dst->data + c * nvox;
        for (int64_t k = 0; k < n_new[0]; k++) {
            const float *z0 = x + m[0].i0[k] * ohw, *z1 = x + m[0].i1[k] * ohw;
            float tz = m[0].t[k];
            for (int64_t j = 0; j < n_new[1]; j++) {
                int64_t y0 = m[1].i0[j] * ow, y1 = m[1].i1[j] * ow;
                float ty = m[1].t[j];
                float *out = y + (k * n_new[1] + j) * n_new[2];
                for (int64_t i = 0; i < n_new[2]; i++) {
                    int64_t x0 = m[2].i0[i], x1 = m[2].i1[i];
                    if (src->is_label) {
                        out[i] = z0[y0 + x0];
                        continue;
                    }
                    float tx = m[2].t[i];
                    float a = z0[y0 + x0] + tx * (z0[y0 + x1] - z0[y0 + x0]);
                    float b = z0[y1 + x0] + tx * (z0[y1 + x1] - z0[y1 + x0]);
                    float cc = z1[y0 + x0] + tx * (z1[y0 + x1] - z1[y0 + x0]);
                    float d = z1[y1 + x0] + tx * (z1[y1 + x1] - z1[y1 + x0]);
                    float e = a + ty * (b - a), f = cc + ty * (d - cc);
                    out[i] = e + tz * (f - e);
                }
            }
        }
    }
    for (int q = 0; q < 3; q++) axis_map_free(&m[q]);

    /* geometry: voxel axis a (0 = w) is array axis q = 2 - a */
    memcpy(dst->affine, src->affine, sizeof dst->affine);
    for (int row = 0; row < 3; row++) {
        double t = src->affine[row][3];
        for (int a = 0; a < 3; a++) {
            double rq = r[2 - a];
            dst->affine[row][a] = src->affine[row][a] * rq;
            t += src->affine[row][a] * (0.5 * rq - 0.5);
        }
        dst->affine[row][3] = t;
    }
    for (int q = 0; q < 3; q++) dst->spacing[q] = src->spacing[q] * r[q];
    dst->is_label = src->is_label;
    memcpy(dst->source, src->source, sizeof dst->source);
    return TASSL_OK;
}
