/* aug_pipeline.c — tassl_aug_apply: one sample through the configured pipeline (see augment.h for
 * the order). Spatial transforms are composed into a single output→source map (4×4 homogeneous,
 * voxel-centre coordinates) and sampled once; each transform draws from its own Philox sub-stream
 * of (seed, sample, epoch). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

typedef double mat4[4][4];

static void mat_identity(mat4 m) {
    memset(m, 0, sizeof(mat4));
    for (int i = 0; i < 4; i++)
        m[i][i] = 1;
}

/* a ← a · b (apply b first, then a: for output→source maps, b is the map nearer the output) */
static void mat_mul(mat4 a, mat4 b) {
    mat4 r;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++)
                s += a[i][k] * b[k][j];
            r[i][j] = s;
        }
    memcpy(a, r, sizeof r);
}

static int mat_is_identity(mat4 m) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (fabs(m[i][j] - (i == j ? 1.0 : 0.0)) > 1e-12) return 0;
    return 1;
}

/* inverse of the affine part (3×3 + translation); returns 0 if singular */
static int mat_invert_affine(mat4 m, mat4 inv) {
    double a = m[0][0], b = m[0][1], c = m[0][2], d = m[1][0], e = m[1][1], f = m[1][2],
           g = m[2][0], h = m[2][1], k = m[2][2];
    double det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
    if (fabs(det) < 1e-12) return 0;
    double l[3][3] = {{(e * k - f * h) / det, (c * h - b * k) / det, (b * f - c * e) / det},
                      {(f * g - d * k) / det, (a * k - c * g) / det, (c * d - a * f) / det},
                      {(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det}};
    mat_identity(inv);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            inv[i][j] = l[i][j];
        inv[i][3] = -(l[i][0] * m[0][3] + l[i][1] * m[1][3] + l[i][2] * m[2][3]);
    }
    return 1;
}

/* the affine step: src = c + L·(x − c) + tr with L = R·Sh·diag(1/s) (scale > 1 zooms in) */
static void affine_step(const tassl_aug_config *cfg, const int64_t n[3], int is2d, tassl_aug_rng *r,
                        mat4 out) {
    const double deg = 3.14159265358979323846 / 180.0;
    double ang[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++) {
        float mx = cfg->affine_rotate[a];
        float v = tassl_aug_rng_range(r, -mx, mx);
        ang[a] = (is2d && a > 0) ? 0 : v * deg;
    }
    double s[3];
    float s0 = tassl_aug_rng_range(r, cfg->affine_scale[0], cfg->affine_scale[1]);
    for (int a = 0; a < 3; a++) {
        float sa = tassl_aug_rng_range(r, cfg->affine_scale[0], cfg->affine_scale[1]);
        s[a] = cfg->affine_isotropic ? s0 : sa;
    }
    if (is2d) s[0] = 1;
    double sh[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            if (i == j) continue;
            float v = tassl_aug_rng_range(r, -cfg->affine_shear, cfg->affine_shear);
            if (!(is2d && (i == 0 || j == 0))) sh[i][j] = v;
        }
    double tr[3];
    for (int a = 0; a < 3; a++) {
        float v = tassl_aug_rng_range(r, -cfg->affine_translate, cfg->affine_translate);
        tr[a] = (is2d && a == 0) ? 0 : v * (double)n[a];
    }
    /* rotations about the D axis (turns H–W), the H axis (D–W) and the W axis (D–H) */
    double rot[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int a = 0; a < 3; a++) {
        int p = a == 0 ? 1 : 0, q = a == 2 ? 1 : 2; /* the plane turned by axis a */
        double c = cos(ang[a]), sn = sin(ang[a]);
        double g[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        g[p][p] = c, g[p][q] = -sn, g[q][p] = sn, g[q][q] = c;
        double t[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double acc = 0;
                for (int k = 0; k < 3; k++)
                    acc += rot[i][k] * g[k][j];
                t[i][j] = acc;
            }
        memcpy(rot, t, sizeof t);
    }
    double l[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double acc = 0;
            for (int k = 0; k < 3; k++)
                acc += rot[i][k] * sh[k][j];
            l[i][j] = acc / s[j];
        }
    mat_identity(out);
    for (int i = 0; i < 3; i++) {
        double c_i = 0.5 * (double)(n[i] - 1), lc = 0;
        for (int j = 0; j < 3; j++) {
            out[i][j] = l[i][j];
            lc += l[i][j] * 0.5 * (double)(n[j] - 1);
        }
        out[i][3] = c_i - lc + tr[i];
    }
}

/* torchvision RandomResizedCrop region (2D) and its 3D analogue: integer size and start */
static void resized_region(const tassl_aug_config *cfg, const int64_t n[3], int is2d,
                           tassl_aug_rng *r, int64_t size[3], int64_t start[3]) {
    double total = (double)n[1] * (double)n[2] * (is2d ? 1.0 : (double)n[0]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = total * tassl_aug_rng_range(r, cfg->crop_scale[0], cfg->crop_scale[1]);
        double lr0 = log(cfg->crop_ratio[0]), lr1 = log(cfg->crop_ratio[1]);
        double r1 = exp(tassl_aug_rng_range(r, (float)lr0, (float)lr1)); /* W / H */
        double r2 = exp(tassl_aug_rng_range(r, (float)lr0, (float)lr1)); /* D / H */
        double h, w, d;
        if (is2d) {
            w = sqrt(target * r1), h = sqrt(target / r1), d = 1;
        } else {
            h = cbrt(target / (r1 * r2)), w = r1 * h, d = r2 * h;
        }
        int64_t s[3] = {(int64_t)llround(d), (int64_t)llround(h), (int64_t)llround(w)};
        if (s[0] >= 1 && s[1] >= 1 && s[2] >= 1 && s[0] <= n[0] && s[1] <= n[1] && s[2] <= n[2]) {
            for (int a = 0; a < 3; a++) {
                size[a] = s[a];
                start[a] = tassl_aug_rng_int(r, 0, n[a] - s[a]);
            }
            return;
        }
    }
    for (int a = 0; a < 3; a++)
        size[a] = n[a], start[a] = 0; /* fallback: the whole image */
}

static tassl_status check_grid(const tassl_image *img, const tassl_image *other, const char *what) {
    if (other->d == img->d && other->h == img->h && other->w == img->w) return TASSL_OK;
    return tassl_error(
        TASSL_ERR_ARG, "%s: %s grid %lldx%lldx%lld differs from the image's %lldx%lldx%lld (%s)",
        other->source[0] ? other->source : what, what, (long long)other->d, (long long)other->h,
        (long long)other->w, (long long)img->d, (long long)img->h, (long long)img->w,
        img->source[0] ? img->source : "image");
}

/* map boxes through the inverse of an output→source map (edge coordinates), clip to out */
static int map_boxes(tassl_box *boxes, int nb, mat4 m, const int64_t out[3]) {
    mat4 inv;
    if (!mat_invert_affine(m, inv)) return 0;
    /* edge coordinates: s_e = M q_e + t_e with t_e = t + 0.5 − M·0.5 */
    double te[3];
    for (int i = 0; i < 3; i++)
        te[i] = m[i][3] + 0.5 - 0.5 * (m[i][0] + m[i][1] + m[i][2]);
    int kept = 0;
    for (int b = 0; b < nb; b++) {
        double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        for (int corner = 0; corner < 8; corner++) {
            double s[3];
            for (int a = 0; a < 3; a++)
                s[a] = ((corner >> a) & 1 ? boxes[b].hi[a] : boxes[b].lo[a]) - te[a];
            for (int i = 0; i < 3; i++) {
                double q = inv[i][0] * s[0] + inv[i][1] * s[1] + inv[i][2] * s[2];
                if (q < lo[i]) lo[i] = q;
                if (q > hi[i]) hi[i] = q;
            }
        }
        int empty = 0;
        for (int a = 0; a < 3; a++) {
            if (lo[a] < 0) lo[a] = 0;
            if (hi[a] > (double)out[a]) hi[a] = (double)out[a];
            if (hi[a] - lo[a] <= 1e-6) empty = 1;
        }
        if (empty) continue;
        tassl_box nbx = boxes[b];
        for (int a = 0; a < 3; a++)
            nbx.lo[a] = (float)lo[a], nbx.hi[a] = (float)hi[a];
        boxes[kept++] = nbx;
    }
    return kept;
}

static tassl_status spatial(const tassl_aug_config *cfg, tassl_aug_sample *s, uint64_t seed,
                            uint64_t sample, uint64_t epoch, int *elastic_done) {
    tassl_image *img = s->image;
    const int64_t n[3] = {img->d, img->h, img->w};
    const int is2d = img->d == 1;
    tassl_aug_rng r;
    mat4 total, step;
    mat_identity(total);
    /* affine (nearest the source) */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_AFFINE);
    if (tassl_aug_rng_bernoulli(&r, cfg->affine_p)) {
        affine_step(cfg, n, is2d, &r, step);
        mat_mul(total, step);
    }
    /* 90° rotation in a random plane; non-square planes only turn by 180° (shape kept) */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_ROT90);
    if (tassl_aug_rng_bernoulli(&r, cfg->rot90_p)) {
        static const int planes[3][2] = {{1, 2}, {0, 2}, {0, 1}};
        int pi = is2d ? 0 : (int)tassl_aug_rng_int(&r, 0, 2);
        int k = (int)tassl_aug_rng_int(&r, 1, 3);
        int a = planes[pi][0], b = planes[pi][1];
        if (n[a] != n[b] && (k & 1)) k = 2;
        mat_identity(step);
        step[a][a] = step[b][b] = 0;
        if (k == 1) step[a][b] = 1, step[b][a] = -1, step[b][3] = (double)(n[b] - 1);
        if (k == 2) {
            step[a][a] = -1, step[a][3] = (double)(n[a] - 1);
            step[b][b] = -1, step[b][3] = (double)(n[b] - 1);
        }
        if (k == 3) step[a][b] = -1, step[a][3] = (double)(n[a] - 1), step[b][a] = 1;
        mat_mul(total, step);
    }
    /* flips */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_FLIP);
    for (int a = 0; a < 3; a++) {
        int f = tassl_aug_rng_bernoulli(&r, cfg->flip_p[a]);
        if (f && !(is2d && a == 0) && n[a] > 1) {
            mat_identity(step);
            step[a][a] = -1, step[a][3] = (double)(n[a] - 1);
            mat_mul(total, step);
        }
    }
    /* crop (nearest the output) */
    int64_t o[3] = {n[0], n[1], n[2]};
    if (cfg->crop != TASSL_CROP_NONE) {
        for (int a = 0; a < 3; a++)
            if (cfg->crop_size[a] > 0) o[a] = cfg->crop_size[a];
        if (is2d) o[0] = 1;
        tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_CROP);
        mat_identity(step);
        if (cfg->crop == TASSL_CROP_RESIZED) {
            int64_t rs[3], st[3];
            resized_region(cfg, n, is2d, &r, rs, st);
            for (int a = 0; a < 3; a++) { /* x = st + (q + 0.5)·rs/o − 0.5 */
                double f = (double)rs[a] / (double)o[a];
                step[a][a] = f;
                step[a][3] = (double)st[a] + 0.5 * f - 0.5;
            }
        } else
            for (int a = 0; a < 3; a++) {
                int64_t lo = n[a] - o[a] < 0 ? n[a] - o[a] : 0,
                        hi = n[a] - o[a] > 0 ? n[a] - o[a] : 0;
                step[a][3] = (double)(cfg->crop == TASSL_CROP_CENTER
                                          ? (n[a] - o[a]) / 2 -
                                                ((n[a] - o[a]) < 0 && (n[a] - o[a]) % 2 ? 1 : 0)
                                          : tassl_aug_rng_int(&r, lo, hi));
            }
        mat_mul(total, step);
    }
    /* elastic, on the output grid */
    float *disp = NULL;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_ELASTIC);
    if (tassl_aug_rng_bernoulli(&r, cfg->elastic_p) && s->n_boxes == 0 && cfg->elastic_max > 0) {
        tassl_status st = tassl_aug_elastic_field(o[0], o[1], o[2], cfg->elastic_points,
                                                  cfg->elastic_max, &r, &disp);
        if (st) return st;
        *elastic_done = 1;
    }
    if (!disp && mat_is_identity(total) && o[0] == n[0] && o[1] == n[1] && o[2] == n[2])
        return TASSL_OK;
    tassl_aug_map map;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            map.m[i][j] = total[i][j];
        map.t[i] = total[i][3];
    }
    tassl_image ni = {0}, nl = {0}, nm = {0};
    /* pad min = background. At image scope the image is already normalised: a z-score over the
     * nonzero voxels put the background (air) at 0, not at the minimum, so pad with 0 there (at
     * patch scope the raw minimum, air, becomes 0 the same way) */
    tassl_pad_mode pad = cfg->pad;
    if (pad == TASSL_PAD_MIN && cfg->norm_scope == TASSL_NORM_SCOPE_IMAGE &&
        cfg->norm == TASSL_INTENSITY_ZSCORE && cfg->norm_nonzero)
        pad = TASSL_PAD_ZERO;
    /* an image that is itself a label map is never interpolated */
    tassl_status st = tassl_aug_warp(img, &map, disp, o, cfg->nearest || img->is_label,
                                     img->is_label ? TASSL_PAD_ZERO : pad, &ni);
    if (!st && s->label) st = tassl_aug_warp(s->label, &map, disp, o, 1, TASSL_PAD_ZERO, &nl);
    if (!st && s->mask) st = tassl_aug_warp(s->mask, &map, disp, o, 1, TASSL_PAD_ZERO, &nm);
    free(disp);
    if (st) {
        tassl_image_free(&ni), tassl_image_free(&nl), tassl_image_free(&nm);
        return st;
    }
    aug_image_replace(img, &ni);
    if (s->label) aug_image_replace(s->label, &nl);
    if (s->mask) aug_image_replace(s->mask, &nm);
    if (s->boxes && s->n_boxes > 0) s->n_boxes = map_boxes(s->boxes, s->n_boxes, total, o);
    return TASSL_OK;
}

static float image_std(const tassl_image *img) {
    int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += img->data[i];
    double m = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        s2 += (img->data[i] - m) * (img->data[i] - m);
    return (float)sqrt(s2 / (double)n);
}

tassl_status tassl_aug_normalize(const tassl_aug_config *cfg, tassl_image *img,
                                 const tassl_image *mask) {
    switch (cfg->norm) {
    case TASSL_INTENSITY_NONE:
        break;
    case TASSL_INTENSITY_WINDOW:
        tassl_aug_window(img, cfg->norm_window[0], cfg->norm_window[1]);
        break;
    case TASSL_INTENSITY_ZSCORE:
        return tassl_aug_zscore(img, mask, cfg->norm_nonzero, cfg->norm_percentiles[0],
                                cfg->norm_percentiles[1]);
    case TASSL_INTENSITY_PERCENTILE:
        return tassl_aug_percentile(img, mask, cfg->norm_nonzero, cfg->norm_percentiles[0],
                                    cfg->norm_percentiles[1]);
    case TASSL_INTENSITY_SCALE:
        tassl_aug_brightness(img, 1.0f / cfg->norm_scale);
        break;
    }
    return TASSL_OK;
}

tassl_status tassl_aug_apply(const tassl_aug_config *cfg, tassl_aug_sample *s, uint64_t seed,
                             uint64_t sample, uint64_t epoch, int *elastic_applied) {
    if (elastic_applied) *elastic_applied = 0;
    if (!s || !s->image || !s->image->data)
        return tassl_error(TASSL_ERR_ARG, "augmentation: sample without an image");
    tassl_image *img = s->image;
    tassl_status st;
    if (s->label && (st = check_grid(img, s->label, "label"))) return st;
    if (s->mask && (st = check_grid(img, s->mask, "mask"))) return st;
    int el = 0;
    if ((st = spatial(cfg, s, seed, sample, epoch, &el))) return st;
    if (elastic_applied) *elastic_applied = el;
    tassl_aug_rng r;
    /* acquisition-like, on raw values */
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_BIAS);
    if (tassl_aug_rng_bernoulli(&r, cfg->bias_p))
        tassl_aug_bias_field(img, cfg->bias_degree, cfg->bias_coeff, &r);
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_RICIAN);
    if (tassl_aug_rng_bernoulli(&r, cfg->rician_p)) {
        float rel = tassl_aug_rng_range(&r, cfg->rician_std[0], cfg->rician_std[1]);
        tassl_aug_rician(img, rel * image_std(img), &r);
    }
    /* normalisation (image scope: the data source did it on the whole image) */
    st = cfg->norm_scope == TASSL_NORM_SCOPE_PATCH ? tassl_aug_normalize(cfg, img, s->mask)
                                                   : TASSL_OK;
    if (st) return st;
    /* intensity augmentation on normalised values: colour, global curves, blur, noise */
    if (img->channels == 3) {
        tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_JITTER);
        if (tassl_aug_rng_bernoulli(&r, cfg->jitter_p) &&
            (st = tassl_aug_color_jitter(img, cfg->jitter_brightness, cfg->jitter_contrast,
                                         cfg->jitter_saturation, cfg->jitter_hue, &r)))
            return st;
        tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_HED);
        if (tassl_aug_rng_bernoulli(&r, cfg->hed_p) &&
            (st = tassl_aug_hed_jitter(img, cfg->hed_sigma, &r)))
            return st;
    }
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_BRIGHTNESS);
    if (tassl_aug_rng_bernoulli(&r, cfg->brightness_p))
        tassl_aug_brightness(
            img, tassl_aug_rng_range(&r, cfg->brightness_range[0], cfg->brightness_range[1]));
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_CONTRAST);
    if (tassl_aug_rng_bernoulli(&r, cfg->contrast_p))
        tassl_aug_contrast(img,
                           tassl_aug_rng_range(&r, cfg->contrast_range[0], cfg->contrast_range[1]));
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_GAMMA);
    if (tassl_aug_rng_bernoulli(&r, cfg->gamma_p)) {
        int inv = tassl_aug_rng_bernoulli(&r, cfg->gamma_invert_p);
        tassl_aug_gamma(img, tassl_aug_rng_range(&r, cfg->gamma_range[0], cfg->gamma_range[1]),
                        inv);
    }
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_HIST);
    if (tassl_aug_rng_bernoulli(&r, cfg->hist_shift_p))
        tassl_aug_hist_shift(img, cfg->hist_shift_points, &r);
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_BLUR);
    if (tassl_aug_rng_bernoulli(&r, cfg->blur_p) &&
        (st = tassl_aug_blur(img, tassl_aug_rng_range(&r, cfg->blur_sigma[0], cfg->blur_sigma[1]))))
        return st;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_NOISE);
    if (tassl_aug_rng_bernoulli(&r, cfg->noise_p))
        tassl_aug_noise(img, tassl_aug_rng_range(&r, cfg->noise_std[0], cfg->noise_std[1]), &r);
    if (cfg->clamp[0] < cfg->clamp[1]) {
        int64_t n = (int64_t)img->channels * tassl_image_voxels(img);
        for (int64_t i = 0; i < n; i++)
            img->data[i] = img->data[i] < cfg->clamp[0]   ? cfg->clamp[0]
                           : img->data[i] > cfg->clamp[1] ? cfg->clamp[1]
                                                          : img->data[i];
    }
    return TASSL_OK;
}
