/* aug_spatial.c — spatial building blocks: exact flips / 90° rotations / crops, and one general
 * resampler (output→source affine map plus an optional displacement field) with trilinear or
 * nearest sampling, and the cubic B-spline elastic displacement field.
 *
 * Why one resampler: the pipeline composes crop, flips, rotations, affine and elastic into a
 * single map and interpolates once (each interpolation blurs); maps whose coordinates are all
 * integers (flips, rot90, plain crops) are detected and copied exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

void tassl_aug_flip(tassl_image *img, int axis) {
    TASSL_CHECK(axis >= 0 && axis < 3, "flip axis %d (expected 0 D, 1 H, 2 W)", axis);
    int64_t n[3] = {img->d, img->h, img->w};
    int64_t outer = img->channels, inner = 1;
    for (int a = 0; a < axis; a++)
        outer *= n[a];
    for (int a = axis + 1; a < 3; a++)
        inner *= n[a];
    int64_t len = n[axis];
    for (int64_t o = 0; o < outer; o++) {
        float *base = img->data + o * len * inner;
        for (int64_t i = 0; i < len / 2; i++) {
            float *p = base + i * inner, *q = base + (len - 1 - i) * inner;
            if (inner == 1) {
                float t = *p;
                *p = *q;
                *q = t;
            } else
                for (int64_t j = 0; j < inner; j++) {
                    float t = p[j];
                    p[j] = q[j];
                    q[j] = t;
                }
        }
    }
}

/* Gather: out[c, j] = in[c, i] with i[a] = off[a] + Σ_b perm[a][b]·j[b] (integer map, entries
 * -1/0/1). Out-of-range sources take the channel's pad value. */
static void gather_int(const tassl_image *in, tassl_image *out, int perm[3][3],
                       const int64_t off[3], tassl_pad_mode pad) {
    int64_t n[3] = {in->d, in->h, in->w}, o[3] = {out->d, out->h, out->w};
    int64_t st[3] = {in->h * in->w, in->w, 1};
    int64_t nin = tassl_image_voxels(in), nout = tassl_image_voxels(out);
    /* source index = base + j0·s0 + j1·s1 + j2·s2 along each axis; compute per output row */
    for (int c = 0; c < in->channels; c++) {
        const float *src = in->data + c * nin;
        float *dst = out->data + c * nout;
        float padv = pad == TASSL_PAD_MIN ? aug_channel_min(src, nin) : 0.0f;
        for (int64_t j0 = 0; j0 < o[0]; j0++)
            for (int64_t j1 = 0; j1 < o[1]; j1++) {
                int64_t i[3], di[3];
                for (int a = 0; a < 3; a++) {
                    i[a] = off[a] + perm[a][0] * j0 + perm[a][1] * j1;
                    di[a] = perm[a][2];
                }
                float *row = dst + (j0 * o[1] + j1) * o[2];
                for (int64_t j2 = 0; j2 < o[2]; j2++) {
                    int64_t x0 = i[0] + di[0] * j2, x1 = i[1] + di[1] * j2, x2 = i[2] + di[2] * j2;
                    int inside =
                        x0 >= 0 && x0 < n[0] && x1 >= 0 && x1 < n[1] && x2 >= 0 && x2 < n[2];
                    if (inside)
                        row[j2] = src[x0 * st[0] + x1 * st[1] + x2];
                    else if (pad == TASSL_PAD_EDGE) {
                        x0 = x0 < 0 ? 0 : x0 >= n[0] ? n[0] - 1 : x0;
                        x1 = x1 < 0 ? 0 : x1 >= n[1] ? n[1] - 1 : x1;
                        x2 = x2 < 0 ? 0 : x2 >= n[2] ? n[2] - 1 : x2;
                        row[j2] = src[x0 * st[0] + x1 * st[1] + x2];
                    } else
                        row[j2] = padv;
                }
            }
    }
}

/* Geometry of an output image whose voxel (d, h, w) centre maps to source centre M·q + t:
 * affine' = affine · [P M P, P t] with P the (d,h,w) ↔ (w,h,d) reversal; spacing from columns. */
static void update_geometry(const tassl_image *src, const tassl_aug_map *map, tassl_image *out) {
    double lin[4][4] = {{0}};
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++)
            lin[r][c] = map->m[2 - r][2 - c];
        lin[r][3] = map->t[2 - r];
    }
    lin[3][3] = 1;
    double a[4][4];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int k = 0; k < 4; k++)
                s += src->affine[r][k] * lin[k][c];
            a[r][c] = s;
        }
    memcpy(out->affine, a, sizeof a);
    for (int ax = 0; ax < 3; ax++) { /* ax in (d,h,w); affine column 2 - ax */
        int col = 2 - ax;
        double s = 0;
        for (int r = 0; r < 3; r++)
            s += a[r][col] * a[r][col];
        /* keep the source spacing where the affine carries no scale information (identity) */
        double sv = sqrt(s);
        out->spacing[ax] = sv > 0 ? sv : src->spacing[ax];
    }
    int identity_geom = 1; /* PNG images: affine identity, spacing stored separately */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            if (src->affine[r][c] != (r == c ? 1.0 : 0.0)) identity_geom = 0;
    if (identity_geom)
        for (int ax = 0; ax < 3; ax++) {
            double s = 0;
            for (int r = 0; r < 3; r++)
                s += map->m[r][ax] * map->m[r][ax];
            out->spacing[ax] = src->spacing[ax] * sqrt(s);
        }
}

tassl_status tassl_aug_rot90(tassl_image *img, int a, int b, int k) {
    TASSL_CHECK(a >= 0 && a < 3 && b >= 0 && b < 3 && a != b, "rot90 plane (%d, %d)", a, b);
    k = ((k % 4) + 4) % 4;
    if (k == 0) return TASSL_OK;
    int64_t n[3] = {img->d, img->h, img->w}, o[3] = {img->d, img->h, img->w};
    if (k % 2) {
        o[a] = n[b];
        o[b] = n[a];
    }
    /* source index as a function of output index j (numpy.rot90 with axes (a, b)):
     *   k=1: i_a = j_b,            i_b = n_b − 1 − j_a
     *   k=2: i_a = n_a − 1 − j_a,  i_b = n_b − 1 − j_b
     *   k=3: i_a = n_a − 1 − j_b,  i_b = j_a */
    int perm[3][3] = {{0}};
    int64_t off[3] = {0, 0, 0};
    for (int x = 0; x < 3; x++)
        if (x != a && x != b) perm[x][x] = 1;
    if (k == 1) {
        perm[a][b] = 1;
        perm[b][a] = -1, off[b] = n[b] - 1;
    } else if (k == 2) {
        perm[a][a] = -1, off[a] = n[a] - 1;
        perm[b][b] = -1, off[b] = n[b] - 1;
    } else {
        perm[a][b] = -1, off[a] = n[a] - 1;
        perm[b][a] = 1;
    }
    tassl_image out;
    tassl_status st = aug_image_like(img, img->channels, o[0], o[1], o[2], &out);
    if (st) return st;
    gather_int(img, &out, perm, off, TASSL_PAD_ZERO);
    tassl_aug_map map;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++)
            map.m[r][c] = perm[r][c];
        map.t[r] = (double)off[r];
    }
    update_geometry(img, &map, &out);
    aug_image_replace(img, &out);
    return TASSL_OK;
}

tassl_status tassl_aug_crop(const tassl_image *img, const int64_t start[3], const int64_t size[3],
                            tassl_pad_mode pad, tassl_image *out) {
    if (size[0] < 1 || size[1] < 1 || size[2] < 1)
        return tassl_error(TASSL_ERR_ARG, "crop size %lld x %lld x %lld: every size must be >= 1",
                           (long long)size[0], (long long)size[1], (long long)size[2]);
    tassl_status st = aug_image_like(img, img->channels, size[0], size[1], size[2], out);
    if (st) return st;
    int perm[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    gather_int(img, out, perm, start, pad);
    tassl_aug_map map = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}},
                         {(double)start[0], (double)start[1], (double)start[2]}};
    update_geometry(img, &map, out);
    return TASSL_OK;
}

/* map with integer entries in {-1,0,1} and integer translation, no displacement: exact gather */
static int map_is_integer(const tassl_aug_map *map, const float *disp) {
    if (disp) return 0;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) {
            double v = map->m[r][c];
            if (v != 0.0 && v != 1.0 && v != -1.0) return 0;
        }
        if (map->t[r] != floor(map->t[r])) return 0;
    }
    return 1;
}

tassl_status tassl_aug_warp(const tassl_image *src, const tassl_aug_map *map, const float *disp,
                            const int64_t out_size[3], int nearest, tassl_pad_mode pad,
                            tassl_image *out) {
    tassl_status st =
        aug_image_like(src, src->channels, out_size[0], out_size[1], out_size[2], out);
    if (st) return st;
    update_geometry(src, map, out);
    if (map_is_integer(map, disp)) {
        int perm[3][3];
        int64_t off[3];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++)
                perm[r][c] = (int)map->m[r][c];
            off[r] = (int64_t)map->t[r];
        }
        gather_int(src, out, perm, off, pad);
        return TASSL_OK;
    }
    const int64_t n[3] = {src->d, src->h, src->w};
    const int64_t D = out_size[0], H = out_size[1], W = out_size[2];
    const int64_t nin = tassl_image_voxels(src), nout = D * H * W;
    const int C = src->channels;
    const int is2d = src->d == 1;
    float padv[64];
    float *padp = C <= 64 ? padv : malloc((size_t)C * sizeof(float));
    if (!padp) {
        tassl_image_free(out);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory in warp");
    }
    for (int c = 0; c < C; c++)
        padp[c] = pad == TASSL_PAD_MIN ? aug_channel_min(src->data + c * nin, nin) : 0.0f;
    const int64_t sd = n[1] * n[2], sh = n[2];
    for (int64_t qd = 0; qd < D; qd++)
        for (int64_t qh = 0; qh < H; qh++)
            for (int64_t qw = 0; qw < W; qw++) {
                int64_t qi = (qd * H + qh) * W + qw;
                double q[3] = {(double)qd, (double)qh, (double)qw};
                if (disp) {
                    q[0] += disp[qi];
                    q[1] += disp[nout + qi];
                    q[2] += disp[2 * nout + qi];
                }
                double s[3];
                for (int r = 0; r < 3; r++)
                    s[r] =
                        map->m[r][0] * q[0] + map->m[r][1] * q[1] + map->m[r][2] * q[2] + map->t[r];
                if (is2d) s[0] = 0;
                if (nearest) {
                    int64_t i[3];
                    int inside = 1;
                    for (int r = 0; r < 3; r++) {
                        i[r] = (int64_t)floor(s[r] + 0.5);
                        if (i[r] < 0 || i[r] >= n[r]) {
                            inside = 0;
                            i[r] = i[r] < 0 ? 0 : n[r] - 1;
                        }
                    }
                    int64_t si = i[0] * sd + i[1] * sh + i[2];
                    for (int c = 0; c < C; c++)
                        out->data[c * nout + qi] =
                            (inside || pad == TASSL_PAD_EDGE) ? src->data[c * nin + si] : padp[c];
                    continue;
                }
                /* (tri)linear: 8 taps (2 in 2D), each inside or padded */
                int64_t i0[3];
                float f[3];
                for (int r = 0; r < 3; r++) {
                    double fl = floor(s[r]);
                    i0[r] = (int64_t)fl;
                    f[r] = (float)(s[r] - fl);
                }
                /* interior fast path: every tap inside, no checks */
                if (i0[1] >= 0 && i0[1] + 1 < n[1] && i0[2] >= 0 && i0[2] + 1 < n[2] &&
                    (is2d || (i0[0] >= 0 && i0[0] + 1 < n[0]))) {
                    const int64_t b = i0[0] * sd + i0[1] * sh + i0[2];
                    const float gy = f[1], gx = f[2];
                    for (int c = 0; c < C; c++) {
                        const float *p = src->data + c * nin + b;
                        float v0 = (1 - gy) * ((1 - gx) * p[0] + gx * p[1]) +
                                   gy * ((1 - gx) * p[sh] + gx * p[sh + 1]);
                        if (!is2d) {
                            const float *p1 = p + sd;
                            float v1 = (1 - gy) * ((1 - gx) * p1[0] + gx * p1[1]) +
                                       gy * ((1 - gx) * p1[sh] + gx * p1[sh + 1]);
                            v0 = (1 - f[0]) * v0 + f[0] * v1;
                        }
                        out->data[c * nout + qi] = v0;
                    }
                    continue;
                }
                int nz = is2d ? 1 : 2;
                for (int c = 0; c < C; c++)
                    out->data[c * nout + qi] = 0;
                for (int dz = 0; dz < nz; dz++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            float wgt = (is2d ? 1.0f : (dz ? f[0] : 1 - f[0])) *
                                        (dy ? f[1] : 1 - f[1]) * (dx ? f[2] : 1 - f[2]);
                            if (wgt == 0.0f) continue;
                            int64_t x[3] = {i0[0] + dz, i0[1] + dy, i0[2] + dx};
                            int inside = 1;
                            for (int r = 0; r < 3; r++)
                                if (x[r] < 0 || x[r] >= n[r]) {
                                    inside = 0;
                                    x[r] = x[r] < 0 ? 0 : n[r] - 1;
                                }
                            int64_t si = x[0] * sd + x[1] * sh + x[2];
                            for (int c = 0; c < C; c++)
                                out->data[c * nout + qi] += wgt * ((inside || pad == TASSL_PAD_EDGE)
                                                                       ? src->data[c * nin + si]
                                                                       : padp[c]);
                        }
            }
    if (padp != padv) free(padp);
    return TASSL_OK;
}

/* cubic B-spline weights and clamped control indices for n samples over `points` controls */
static void bspline_axis(int64_t n, int points, int64_t *idx, float *wts) {
    for (int64_t x = 0; x < n; x++) {
        double u = n > 1 ? (double)x * (points - 1) / (double)(n - 1) : 0.0;
        int64_t i = (int64_t)floor(u);
        float f = (float)(u - (double)i), f2 = f * f, f3 = f2 * f;
        float w[4] = {(1 - f) * (1 - f) * (1 - f) / 6.0f, (3 * f3 - 6 * f2 + 4) / 6.0f,
                      (-3 * f3 + 3 * f2 + 3 * f + 1) / 6.0f, f3 / 6.0f};
        for (int k = 0; k < 4; k++) {
            int64_t j = i - 1 + k;
            idx[x * 4 + k] = j < 0 ? 0 : j >= points ? points - 1 : j;
            wts[x * 4 + k] = w[k];
        }
    }
}

tassl_status tassl_aug_elastic_field(int64_t d, int64_t h, int64_t w, int points, float max,
                                     tassl_aug_rng *r, float **disp) {
    if (points < 4) points = 4;
    int pd = d > 1 ? points : 1, ph = points, pw = points;
    int64_t nv = d * h * w;
    int64_t ncoarse = (int64_t)pd * ph * pw;
    size_t tmp1 = (size_t)(pd * ph * w), tmp2 = (size_t)(pd * h * w);
    float *field = calloc((size_t)(3 * nv), sizeof(float));
    float *coarse = malloc((size_t)ncoarse * sizeof(float));
    float *t1 = malloc(tmp1 * sizeof(float)), *t2 = malloc(tmp2 * sizeof(float));
    int64_t *ix = malloc((size_t)(4 * (d + h + w)) * sizeof(int64_t));
    float *wx = malloc((size_t)(4 * (d + h + w)) * sizeof(float));
    if (!field || !coarse || !t1 || !t2 || !ix || !wx) {
        free(field), free(coarse), free(t1), free(t2), free(ix), free(wx);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory for a %lld-voxel elastic field",
                           (long long)nv);
    }
    int64_t *id_ = ix, *ih = ix + 4 * d, *iw = ix + 4 * (d + h);
    float *wd = wx, *wh = wx + 4 * d, *ww = wx + 4 * (d + h);
    bspline_axis(d, pd, id_, wd);
    bspline_axis(h, ph, ih, wh);
    bspline_axis(w, pw, iw, ww);
    for (int comp = (d > 1 ? 0 : 1); comp < 3; comp++) {
        for (int64_t i = 0; i < ncoarse; i++)
            coarse[i] = tassl_aug_rng_range(r, -max, max);
        /* along W: (pd, ph, pw) → (pd, ph, w) */
        for (int64_t a = 0; a < (int64_t)pd * ph; a++)
            for (int64_t x = 0; x < w; x++) {
                float s = 0;
                for (int k = 0; k < 4; k++)
                    s += ww[x * 4 + k] * coarse[a * pw + iw[x * 4 + k]];
                t1[a * w + x] = s;
            }
        /* along H: (pd, ph, w) → (pd, h, w) */
        for (int64_t a = 0; a < pd; a++)
            for (int64_t y = 0; y < h; y++) {
                float *dst = t2 + (a * h + y) * w;
                for (int64_t x = 0; x < w; x++)
                    dst[x] = 0;
                for (int k = 0; k < 4; k++) {
                    const float *srow = t1 + (a * ph + ih[y * 4 + k]) * w;
                    float wk = wh[y * 4 + k];
                    for (int64_t x = 0; x < w; x++)
                        dst[x] += wk * srow[x];
                }
            }
        /* along D: (pd, h, w) → (d, h, w) */
        float *out = field + comp * nv;
        if (pd == 1) {
            memcpy(out, t2, (size_t)(h * w) * sizeof(float));
            continue;
        }
        for (int64_t z = 0; z < d; z++) {
            float *dst = out + z * h * w;
            for (int k = 0; k < 4; k++) {
                const float *src = t2 + id_[z * 4 + k] * h * w;
                float wk = wd[z * 4 + k];
                for (int64_t i = 0; i < h * w; i++)
                    dst[i] += wk * src[i];
            }
        }
    }
    free(coarse), free(t1), free(t2), free(ix), free(wx);
    *disp = field;
    return TASSL_OK;
}
