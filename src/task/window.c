/* window.c — sliding-window inference: window grid, importance map, batched callback, blending
 * (window.h says what and why). Everything here is host code on float arrays. */
#include "window.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int64_t task_window_nsteps(int64_t size, int64_t patch, double overlap) {
    if (size <= patch) return 1;
    double target = (double)patch * (1.0 - overlap);
    if (target < 1.0) target = 1.0; /* never two windows at one position (patch 1 axes) */
    return (int64_t)ceil((double)(size - patch) / target) + 1;
}

void task_window_steps(int64_t size, int64_t patch, double overlap, int64_t *steps) {
    int64_t n = task_window_nsteps(size, patch, overlap);
    if (size <= patch) {
        steps[0] = -((patch - size) / 2);
        return;
    }
    double actual = (double)(size - patch) / (double)(n - 1);
    for (int64_t i = 0; i < n; i++)
        steps[i] = (int64_t)nearbyint(actual * (double)i); /* np.round */
}

void task_window_importance(const int64_t patch[3], task_blend blend, float *w) {
    int64_t n = patch[0] * patch[1] * patch[2];
    if (blend == TASK_BLEND_CONSTANT) {
        for (int64_t i = 0; i < n; i++)
            w[i] = 1.0f;
        return;
    }
    double c[3], s2[3]; /* centre and 2σ² per axis */
    for (int a = 0; a < 3; a++) {
        double sigma = (double)patch[a] / 8.0;
        c[a] = (double)(patch[a] / 2);
        s2[a] = 2.0 * sigma * sigma;
    }
    float minpos = FLT_MAX;
    for (int64_t z = 0; z < patch[0]; z++)
        for (int64_t y = 0; y < patch[1]; y++)
            for (int64_t x = 0; x < patch[2]; x++) {
                double dz = (double)z - c[0], dy = (double)y - c[1], dx = (double)x - c[2];
                float v =
                    (float)(exp(-dz * dz / s2[0]) * exp(-dy * dy / s2[1]) * exp(-dx * dx / s2[2]));
                w[(z * patch[1] + y) * patch[2] + x] = v;
                if (v > 0 && v < minpos) minpos = v;
            }
    for (int64_t i = 0; i < n; i++)
        if (!(w[i] > 0)) w[i] = minpos;
}

/* The window grid in "view" axes: view axis k is image axis ax[k] (dataset.c's sample_axes). */
typedef struct wgrid {
    int ax[3];
    int64_t vsz[3];  /* view sizes */
    int64_t istr[3]; /* image stride of each view axis */
    int64_t p[3];    /* window */
    int64_t n[3];    /* steps per view axis */
    int64_t *st[3];  /* starts */
} wgrid;

/* copy window (origin o in view coordinates) of img into dst (C, p0, p1, p2) */
static void extract(const tassl_image *img, const wgrid *g, const int64_t o[3], float pad,
                    float *dst) {
    int64_t nv = tassl_image_voxels(img), pv = g->p[0] * g->p[1] * g->p[2];
    for (int c = 0; c < img->channels; c++) {
        const float *s = img->data + (int64_t)c * nv;
        float *d = dst + (int64_t)c * pv;
        for (int64_t z = 0; z < g->p[0]; z++) {
            int64_t vz = o[0] + z;
            for (int64_t y = 0; y < g->p[1]; y++) {
                int64_t vy = o[1] + y;
                float *row = d + (z * g->p[1] + y) * g->p[2];
                bool in = vz >= 0 && vz < g->vsz[0] && vy >= 0 && vy < g->vsz[1];
                for (int64_t x = 0; x < g->p[2]; x++) {
                    int64_t vx = o[2] + x;
                    row[x] = in && vx >= 0 && vx < g->vsz[2]
                                 ? s[vz * g->istr[0] + vy * g->istr[1] + vx * g->istr[2]]
                                 : pad;
                }
            }
        }
    }
}

/* acc (K, voxels of the image) += w · probs of a window; wsum likewise */
static void accumulate(const wgrid *g, const int64_t o[3], const float *w, const float *probs,
                       int K, int64_t nv, float *acc, float *wsum) {
    int64_t pv = g->p[0] * g->p[1] * g->p[2];
    for (int64_t z = 0; z < g->p[0]; z++) {
        int64_t vz = o[0] + z;
        if (vz < 0 || vz >= g->vsz[0]) continue;
        for (int64_t y = 0; y < g->p[1]; y++) {
            int64_t vy = o[1] + y;
            if (vy < 0 || vy >= g->vsz[1]) continue;
            for (int64_t x = 0; x < g->p[2]; x++) {
                int64_t vx = o[2] + x;
                if (vx < 0 || vx >= g->vsz[2]) continue;
                int64_t wi = (z * g->p[1] + y) * g->p[2] + x;
                int64_t ii = vz * g->istr[0] + vy * g->istr[1] + vx * g->istr[2];
                float ww = w[wi];
                wsum[ii] += ww;
                for (int k = 0; k < K; k++)
                    acc[(int64_t)k * nv + ii] += ww * probs[k * pv + wi];
            }
        }
    }
}

tassl_status task_window_run(const tassl_image *img, const task_window_opts *o, task_window_fn fn,
                             void *user, float *probs, int32_t *labels) {
    if (o->dim != 2 && o->dim != 3)
        return tassl_error(TASSL_ERR_ARG, "sliding window: dim %d (expected 2 or 3)", o->dim);
    if (o->axis < 0 || o->axis > 2)
        return tassl_error(TASSL_ERR_ARG, "sliding window: axis %d (expected 0, 1 or 2)", o->axis);
    if (!(o->overlap >= 0 && o->overlap < 1))
        return tassl_error(TASSL_ERR_ARG, "task.seg.overlap: %g (expected [0, 1))", o->overlap);
    if (o->batch < 1 || o->nclasses < 1)
        return tassl_error(TASSL_ERR_ARG, "sliding window: batch %d, classes %d (expected >= 1)",
                           o->batch, o->nclasses);
    for (int k = o->dim == 2 ? 1 : 0; k < 3; k++)
        if (o->patch[k] < 1)
            return tassl_error(TASSL_ERR_ARG, "sliding window: window size %lld on axis %d",
                               (long long)o->patch[k], k);
    if (!img->data || img->channels < 1 || tassl_image_voxels(img) < 1)
        return tassl_error(TASSL_ERR_ARG, "sliding window: %s: empty image",
                           img->source[0] ? img->source : "(image)");

    wgrid g;
    memset(&g, 0, sizeof g);
    g.ax[0] = 0, g.ax[1] = 1, g.ax[2] = 2;
    if (o->dim == 2 && img->d > 1) {
        if (o->axis == 1) g.ax[0] = 1, g.ax[1] = 0, g.ax[2] = 2;
        if (o->axis == 2) g.ax[0] = 2, g.ax[1] = 0, g.ax[2] = 1;
    }
    int64_t isz[3] = {img->d, img->h, img->w}, istr[3] = {img->h * img->w, img->w, 1};
    for (int k = 0; k < 3; k++) {
        g.vsz[k] = isz[g.ax[k]];
        g.istr[k] = istr[g.ax[k]];
        g.p[k] = o->patch[k];
    }
    if (o->dim == 2) g.p[0] = 1;
    const int K = o->nclasses, C = img->channels;
    const int64_t nv = tassl_image_voxels(img), pv = g.p[0] * g.p[1] * g.p[2];
    int64_t nwin = 1;
    for (int k = 0; k < 3; k++) {
        g.n[k] = task_window_nsteps(g.vsz[k], g.p[k], k == 0 && o->dim == 2 ? 0.0 : o->overlap);
        nwin *= g.n[k];
    }
    int64_t B = o->batch < nwin ? o->batch : nwin;

    float *acc = calloc((size_t)(K * nv), sizeof(float));
    float *wsum = calloc((size_t)nv, sizeof(float));
    float *w = malloc((size_t)pv * sizeof(float));
    float *win = malloc((size_t)(B * C * pv) * sizeof(float));
    float *out = malloc((size_t)(B * K * pv) * sizeof(float));
    int64_t *org = malloc((size_t)B * 3 * sizeof(int64_t));
    for (int k = 0; k < 3; k++)
        g.st[k] = malloc((size_t)g.n[k] * sizeof(int64_t));
    tassl_status st = TASSL_OK;
    if (!acc || !wsum || !w || !win || !out || !org || !g.st[0] || !g.st[1] || !g.st[2]) {
        st = tassl_error(TASSL_ERR_NOMEM,
                         "sliding window: %s: out of host memory (%lld voxels, %d classes)",
                         img->source, (long long)nv, K);
        goto done;
    }
    for (int k = 0; k < 3; k++)
        task_window_steps(g.vsz[k], g.p[k], k == 0 && o->dim == 2 ? 0.0 : o->overlap, g.st[k]);
    task_window_importance(g.p, o->blend, w);

    const int64_t shape[4] = {C, g.p[0], g.p[1], g.p[2]};
    int64_t nb = 0;
    for (int64_t i = 0; i < nwin && st == TASSL_OK; i++) {
        int64_t *oo = org + nb * 3;
        oo[0] = g.st[0][i / (g.n[1] * g.n[2])];
        oo[1] = g.st[1][(i / g.n[2]) % g.n[1]];
        oo[2] = g.st[2][i % g.n[2]];
        extract(img, &g, oo, o->pad_value, win + nb * C * pv);
        if (++nb < B && i + 1 < nwin) continue;
        st = fn(user, win, nb, shape, out);
        if (st != TASSL_OK) break;
        for (int64_t b = 0; b < nb && st == TASSL_OK; b++) {
            const float *pb = out + b * K * pv;
            for (int64_t j = 0; j < K * pv; j++)
                if (!isfinite(pb[j])) {
                    st =
                        tassl_error(TASSL_ERR_NUMERIC,
                                    "sliding window: %s: the network gave a non-finite "
                                    "probability (window at %lld, %lld, %lld)",
                                    img->source[0] ? img->source : "(image)", (long long)org[b * 3],
                                    (long long)org[b * 3 + 1], (long long)org[b * 3 + 2]);
                    break;
                }
            if (st == TASSL_OK) accumulate(&g, org + b * 3, w, pb, K, nv, acc, wsum);
        }
        nb = 0;
    }
    if (st != TASSL_OK) goto done;

    for (int64_t v = 0; v < nv; v++) {
        float inv = 1.0f / wsum[v]; /* every voxel lies in some window: wsum > 0 */
        int best = 0;
        float bp = acc[v] * inv;
        for (int k = 0; k < K; k++) {
            float p = acc[(int64_t)k * nv + v] * inv;
            if (probs) probs[(int64_t)k * nv + v] = p;
            if (p > bp) bp = p, best = k;
        }
        if (labels) labels[v] = best;
    }
done:
    free(acc);
    free(wsum);
    free(w);
    free(win);
    free(out);
    free(org);
    for (int k = 0; k < 3; k++)
        free(g.st[k]);
    return st;
}
