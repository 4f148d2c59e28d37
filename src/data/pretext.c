/* pretext.c — inputs and targets of the pretext tasks that are not losses on the image itself:
 * masks for masked image modelling (MAE / SimMIM patch grids, BEiT block-wise), rotation
 * prediction (2D 4-way, 3D 4-way or Taleb et al.'s 10-way), jigsaw puzzles with a greedy
 * max-min-Hamming permutation set (Noroozi & Favaro 2016), and relative patch location (Doersch
 * et al. 2015, 3D as Taleb et al. 2020). All draws come from the sample's Philox streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aug_internal.h"

/* ---- masking --------------------------------------------------------------------------------- */

#define F(field) offsetof(tassl_mask_config, field)
static const tassl_field mask_fields[] = {
    {"mode", TASSL_FIELD_ENUM, F(mode), "patch", NULL, "patch|block",
     "patch: uniform random patches (MAE/SimMIM); block: BEiT block-wise masking"},
    {"ratio", TASSL_FIELD_FLOAT, F(ratio), "0.6", "[0, 1]", NULL,
     "fraction of patches masked (SimMIM 0.6, MAE 0.75, BEiT 0.4)"},
    {"patch", TASSL_FIELD_INT3, F(patch), "[1, 32, 32]", "[1, 65536]", NULL,
     "mask patch size (D, H, W) in voxels"},
    {"block_min", TASSL_FIELD_INT, F(block_min), "16", "[1, 1000000]", NULL,
     "block mode: smallest block, in patches"},
    {"block_aspect", TASSL_FIELD_FLOAT, F(block_aspect), "0.3", "(0, 1]", NULL,
     "block mode: aspect ratios drawn log-uniformly in [a, 1/a]"},
};
#undef F

const tassl_field *tassl_mask_fields(int *n) {
    *n = (int)(sizeof mask_fields / sizeof mask_fields[0]);
    return mask_fields;
}

void tassl_mask_config_default(tassl_mask_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    int n;
    const tassl_field *t = tassl_mask_fields(&n);
    aug_field_defaults(t, n, cfg);
}

tassl_status tassl_mask_config_set(tassl_mask_config *cfg, const char *key, const char *value) {
    int n;
    const tassl_field *t = tassl_mask_fields(&n);
    return aug_field_set(t, n, cfg, key, value, "mask");
}

/* BEiT block-wise masking on a (gd, gh, gw) grid until `target` patches are masked; returns the
 * count reached (then topped up by the caller) */
static int64_t block_mask(uint8_t *g, const int64_t gs[3], int64_t target, int block_min,
                          float aspect, tassl_aug_rng *r) {
    int64_t count = 0;
    const int is2d = gs[0] == 1;
    const float la = logf(aspect);
    while (count < target) {
        int64_t room = target - count, delta = 0;
        for (int attempt = 0; attempt < 10 && delta == 0; attempt++) {
            float lo = (float)block_min < (float)room ? (float)block_min : (float)room;
            float area = tassl_aug_rng_range(r, lo, (float)room);
            float r1 = expf(tassl_aug_rng_range(r, la, -la)),
                  r2 = expf(tassl_aug_rng_range(r, la, -la));
            int64_t s[3];
            if (is2d) {
                s[0] = 1;
                s[1] = (int64_t)lroundf(sqrtf(area * r1));
                s[2] = (int64_t)lroundf(sqrtf(area / r1));
            } else {
                float h = cbrtf(area / (r1 * r2));
                s[0] = (int64_t)lroundf(r2 * h), s[1] = (int64_t)lroundf(h);
                s[2] = (int64_t)lroundf(r1 * h);
            }
            int fits = 1;
            for (int a = 0; a < 3; a++)
                if (s[a] < 1 || s[a] > gs[a]) fits = 0;
            if (!fits) continue;
            int64_t st[3];
            for (int a = 0; a < 3; a++)
                st[a] = tassl_aug_rng_int(r, 0, gs[a] - s[a]);
            int64_t fresh = 0;
            for (int64_t z = 0; z < s[0]; z++)
                for (int64_t y = 0; y < s[1]; y++)
                    for (int64_t x = 0; x < s[2]; x++)
                        fresh += !g[((st[0] + z) * gs[1] + st[1] + y) * gs[2] + st[2] + x];
            if (fresh == 0 || fresh > room) continue;
            for (int64_t z = 0; z < s[0]; z++)
                for (int64_t y = 0; y < s[1]; y++)
                    for (int64_t x = 0; x < s[2]; x++)
                        g[((st[0] + z) * gs[1] + st[1] + y) * gs[2] + st[2] + x] = 1;
            delta = fresh;
        }
        if (delta == 0) break;
        count += delta;
    }
    return count;
}

tassl_status tassl_mask_generate(const tassl_mask_config *cfg, int64_t d, int64_t h, int64_t w,
                                 uint64_t seed, uint64_t sample, uint64_t epoch, tassl_image *out,
                                 int *n_masked, int *n_patches) {
    if (d < 1 || h < 1 || w < 1)
        return tassl_error(TASSL_ERR_ARG, "mask size %lldx%lldx%lld: sizes must be >= 1",
                           (long long)d, (long long)h, (long long)w);
    if (!(cfg->ratio >= 0 && cfg->ratio <= 1))
        return tassl_error(TASSL_ERR_ARG, "mask key ratio: expected a number in [0, 1], got %g",
                           (double)cfg->ratio);
    const int64_t n[3] = {d, h, w};
    int64_t p[3], gs[3];
    for (int a = 0; a < 3; a++) {
        if (cfg->patch[a] < 1)
            return tassl_error(TASSL_ERR_ARG, "mask key patch: sizes must be >= 1");
        p[a] = cfg->patch[a] < n[a] ? cfg->patch[a] : n[a];
        gs[a] = (n[a] + p[a] - 1) / p[a];
    }
    int64_t np = gs[0] * gs[1] * gs[2];
    int64_t target = (int64_t)llround((double)cfg->ratio * (double)np);
    uint8_t *g = calloc((size_t)np, 1);
    int64_t *idx = malloc((size_t)np * sizeof(int64_t));
    tassl_status st = (!g || !idx) ? tassl_error(TASSL_ERR_NOMEM, "out of memory for a mask")
                                   : aug_image_ensure(out, 1, d, h, w);
    if (st) {
        free(g), free(idx);
        return st;
    }
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_MASK);
    int64_t count = 0;
    if (cfg->mode == TASSL_MASK_BLOCK)
        count = block_mask(g, gs, target, cfg->block_min, cfg->block_aspect, &r);
    /* uniform choice of the remaining patches (all of them in patch mode): partial Fisher–Yates
     * over the unmasked ones */
    int64_t m = 0;
    for (int64_t i = 0; i < np; i++)
        if (!g[i]) idx[m++] = i;
    for (int64_t k = 0; k < target - count && k < m; k++) {
        int64_t j = tassl_aug_rng_int(&r, k, m - 1);
        int64_t t = idx[k];
        idx[k] = idx[j];
        idx[j] = t;
        g[idx[k]] = 1;
    }
    int64_t masked = 0;
    for (int64_t i = 0; i < np; i++)
        masked += g[i];
    for (int64_t z = 0; z < d; z++)
        for (int64_t y = 0; y < h; y++) {
            const uint8_t *grow = g + ((z / p[0]) * gs[1] + y / p[1]) * gs[2];
            float *row = out->data + (z * h + y) * w;
            for (int64_t x = 0; x < w; x++)
                row[x] = grow[x / p[2]];
        }
    free(g), free(idx);
    if (n_masked) *n_masked = (int)masked;
    if (n_patches) *n_patches = (int)np;
    return TASSL_OK;
}

/* ---- rotation -------------------------------------------------------------------------------- */

static tassl_status copy_image(const tassl_image *src, tassl_image *out) {
    tassl_status st = aug_image_ensure(out, src->channels, src->d, src->h, src->w);
    if (st) return st;
    memcpy(out->data, src->data,
           (size_t)((int64_t)src->channels * tassl_image_voxels(src)) * sizeof(float));
    memcpy(out->spacing, src->spacing, sizeof out->spacing);
    memcpy(out->affine, src->affine, sizeof out->affine);
    out->is_label = src->is_label;
    memcpy(out->source, src->source, sizeof out->source);
    return TASSL_OK;
}

tassl_status tassl_pretext_rotate(const tassl_image *src, int classes, int cls, tassl_image *out) {
    const int is2d = src->d == 1;
    if (!(classes == 4 || (classes == 10 && !is2d)))
        return tassl_error(TASSL_ERR_ARG,
                           "rotation classes %d: expected 4 (2D or 3D about the D axis) or 10 "
                           "(3D only)",
                           classes);
    if (cls < 0 || cls >= classes)
        return tassl_error(TASSL_ERR_ARG, "rotation class %d outside [0, %d)", cls, classes);
    int axis = 0, k = cls;
    if (classes == 10) {
        if (cls == 0)
            k = 0;
        else
            axis = (cls - 1) / 3, k = (cls - 1) % 3 + 1;
    }
    static const int planes[3][2] = {{1, 2}, {0, 2}, {0, 1}}; /* plane turned about each axis */
    int a = planes[axis][0], b = planes[axis][1];
    const int64_t n[3] = {src->d, src->h, src->w};
    if ((k & 1) && n[a] != n[b])
        return tassl_error(TASSL_ERR_ARG,
                           "rotation by 90 degrees about axis %d needs equal extents, got %lld "
                           "and %lld",
                           axis, (long long)n[a], (long long)n[b]);
    tassl_status st = copy_image(src, out);
    if (!st && k) st = tassl_aug_rot90(out, a, b, k);
    return st;
}

tassl_status tassl_pretext_rotation(const tassl_image *src, int classes, uint64_t seed,
                                    uint64_t sample, uint64_t epoch, tassl_image *out, int *cls) {
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_ROTATION);
    int c = (int)tassl_aug_rng_int(&r, 0, classes > 0 ? classes - 1 : 0);
    tassl_status st = tassl_pretext_rotate(src, classes, c, out);
    if (!st) *cls = c;
    return st;
}

/* ---- jigsaw ---------------------------------------------------------------------------------- */

tassl_status tassl_jigsaw_perms(int tiles, int count, uint64_t seed, uint8_t *perms,
                                int *min_hamming) {
    if (tiles < 2 || tiles > 9)
        return tassl_error(TASSL_ERR_ARG, "jigsaw: %d tiles (expected 2..9)", tiles);
    int64_t total = 1;
    for (int i = 2; i <= tiles; i++)
        total *= i;
    if (count < 1 || count > total)
        return tassl_error(TASSL_ERR_ARG, "jigsaw: %d permutations of %d tiles (expected 1..%lld)",
                           count, tiles, (long long)total);
    uint8_t *all = malloc((size_t)(total * tiles));
    uint8_t *mind = malloc((size_t)total);
    int32_t *order = malloc((size_t)total * sizeof(int32_t));
    if (!all || !mind || !order) {
        free(all), free(mind), free(order);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory for %lld permutations",
                           (long long)total);
    }
    /* all permutations in lexicographic order (next_permutation) */
    uint8_t cur[9];
    for (int i = 0; i < tiles; i++)
        cur[i] = (uint8_t)i;
    for (int64_t p = 0; p < total; p++) {
        memcpy(all + p * tiles, cur, (size_t)tiles);
        int i = tiles - 2;
        while (i >= 0 && cur[i] > cur[i + 1])
            i--;
        if (i < 0) break;
        int j = tiles - 1;
        while (cur[j] < cur[i])
            j--;
        uint8_t t = cur[i];
        cur[i] = cur[j], cur[j] = t;
        for (int l = i + 1, h = tiles - 1; l < h; l++, h--)
            t = cur[l], cur[l] = cur[h], cur[h] = t;
    }
    /* seeded candidate order: ties go to the earliest in it */
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, 0, 0, TASSL_STREAM_JIGSAW);
    for (int64_t i = 0; i < total; i++)
        order[i] = (int32_t)i;
    for (int64_t i = total - 1; i > 0; i--) {
        int64_t j = tassl_aug_rng_int(&r, 0, i);
        int32_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    memset(mind, 0xFF, (size_t)total);
    int64_t pick = order[0];
    int best_min = tiles;
    for (int c = 0; c < count; c++) {
        const uint8_t *q = all + pick * tiles;
        memcpy(perms + (size_t)c * tiles, q, (size_t)tiles);
        if (c > 0 && mind[pick] < best_min) best_min = mind[pick];
        /* update each candidate's distance to the chosen set */
        for (int64_t p = 0; p < total; p++) {
            const uint8_t *x = all + p * tiles;
            int dist = 0;
            for (int i = 0; i < tiles; i++)
                dist += x[i] != q[i];
            if (dist < mind[p]) mind[p] = (uint8_t)dist;
        }
        if (c + 1 == count) break;
        int best = -1;
        for (int64_t i = 0; i < total; i++) {
            int64_t p = order[i];
            if (mind[p] > best) best = mind[p], pick = p;
        }
    }
    if (min_hamming) *min_hamming = count > 1 ? best_min : tiles;
    free(all), free(mind), free(order);
    return TASSL_OK;
}

tassl_status tassl_pretext_jigsaw(const tassl_image *src, const tassl_jigsaw_config *cfg,
                                  const uint8_t *perms, int count, uint64_t seed, uint64_t sample,
                                  uint64_t epoch, tassl_image *out, int *label) {
    const int is2d = src->d == 1;
    const int g = cfg->grid;
    const int64_t n[3] = {src->d, src->h, src->w};
    int gs[3] = {is2d ? 1 : g, g, g};
    int T = gs[0] * gs[1] * gs[2];
    if (g < 1 || T > 9 || T < 2)
        return tassl_error(TASSL_ERR_ARG, "jigsaw grid %d gives %d tiles (expected 2..9)", g, T);
    int64_t cell[3], tile[3];
    for (int a = 0; a < 3; a++) {
        cell[a] = n[a] / gs[a];
        tile[a] = gs[a] == 1 && is2d && a == 0 ? 1 : cell[a] - cfg->gap;
        if (tile[a] < 1)
            return tassl_error(TASSL_ERR_ARG,
                               "jigsaw: image %lldx%lldx%lld is too small for a %d-grid with gap "
                               "%lld",
                               (long long)n[0], (long long)n[1], (long long)n[2], g,
                               (long long)cfg->gap);
    }
    tassl_status st = aug_image_ensure(out, T * src->channels, tile[0], tile[1], tile[2]);
    if (st) return st;
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_JIGSAW);
    int lab = (int)tassl_aug_rng_int(&r, 0, count - 1);
    const uint8_t *perm = perms + (size_t)lab * T;
    const int64_t nv = tassl_image_voxels(src), tv = tile[0] * tile[1] * tile[2];
    for (int t = 0; t < T; t++) {
        int cellidx = perm[t];
        int ci[3] = {cellidx / (gs[1] * gs[2]), (cellidx / gs[2]) % gs[1], cellidx % gs[2]};
        int64_t st0[3];
        for (int a = 0; a < 3; a++) {
            int64_t slack = cell[a] - tile[a], off = slack / 2;
            off += tassl_aug_rng_int(&r, -cfg->jitter, cfg->jitter);
            off = off < 0 ? 0 : off > slack ? slack : off;
            st0[a] = ci[a] * cell[a] + off;
        }
        for (int c = 0; c < src->channels; c++) {
            float *dst = out->data + ((int64_t)t * src->channels + c) * tv;
            for (int64_t z = 0; z < tile[0]; z++)
                for (int64_t y = 0; y < tile[1]; y++)
                    memcpy(dst + (z * tile[1] + y) * tile[2],
                           src->data + c * nv + ((st0[0] + z) * n[1] + st0[1] + y) * n[2] + st0[2],
                           (size_t)tile[2] * sizeof(float));
        }
    }
    *label = lab;
    return TASSL_OK;
}

/* ---- relative patch location ----------------------------------------------------------------- */

void tassl_rpl_offset(int dims, int label, int off[3]) {
    if (dims == 2) {
        int k = label < 4 ? label : label + 1; /* skip the centre (index 4 of 9) */
        off[0] = 0, off[1] = k / 3 - 1, off[2] = k % 3 - 1;
        return;
    }
    int k = label < 13 ? label : label + 1; /* skip index 13 of 27 */
    off[0] = k / 9 - 1, off[1] = (k / 3) % 3 - 1, off[2] = k % 3 - 1;
}

tassl_status tassl_pretext_rpl(const tassl_image *src, const tassl_rpl_config *cfg, uint64_t seed,
                               uint64_t sample, uint64_t epoch, tassl_image *out, int *label,
                               int64_t start_a[3], int64_t start_b[3]) {
    const int is2d = src->d == 1;
    const int64_t n[3] = {src->d, src->h, src->w};
    int64_t p[3] = {is2d ? 1 : cfg->patch[0], cfg->patch[1], cfg->patch[2]};
    int64_t lo[3], hi[3], stride[3];
    for (int a = 0; a < 3; a++) {
        if (p[a] < 1)
            return tassl_error(TASSL_ERR_ARG, "relative patch location: patch sizes must be >= 1");
        stride[a] = p[a] + cfg->gap;
        int64_t reach = (is2d && a == 0) ? 0 : stride[a] + cfg->jitter;
        lo[a] = reach;
        hi[a] = n[a] - p[a] - reach;
        if (hi[a] < lo[a])
            return tassl_error(TASSL_ERR_ARG,
                               "relative patch location: image %lldx%lldx%lld is too small for "
                               "3 patches of %lld + gap %lld + jitter %lld per axis",
                               (long long)n[0], (long long)n[1], (long long)n[2], (long long)p[a],
                               (long long)cfg->gap, (long long)cfg->jitter);
    }
    tassl_status st = aug_image_ensure(out, 2 * src->channels, p[0], p[1], p[2]);
    if (st) return st;
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, sample, epoch, TASSL_STREAM_RPL);
    int classes = is2d ? 8 : 26;
    int lab = (int)tassl_aug_rng_int(&r, 0, classes - 1);
    int off[3];
    tassl_rpl_offset(is2d ? 2 : 3, lab, off);
    int64_t a0[3], b0[3];
    for (int a = 0; a < 3; a++)
        a0[a] = tassl_aug_rng_int(&r, lo[a], hi[a]);
    for (int a = 0; a < 3; a++) {
        int64_t j = (is2d && a == 0) ? 0 : tassl_aug_rng_int(&r, -cfg->jitter, cfg->jitter);
        b0[a] = a0[a] + off[a] * stride[a] + j;
    }
    const int64_t nv = tassl_image_voxels(src), pv = p[0] * p[1] * p[2];
    for (int which = 0; which < 2; which++) {
        const int64_t *s0 = which ? b0 : a0;
        for (int c = 0; c < src->channels; c++) {
            float *dst = out->data + ((int64_t)which * src->channels + c) * pv;
            for (int64_t z = 0; z < p[0]; z++)
                for (int64_t y = 0; y < p[1]; y++)
                    memcpy(dst + (z * p[1] + y) * p[2],
                           src->data + c * nv + ((s0[0] + z) * n[1] + s0[1] + y) * n[2] + s0[2],
                           (size_t)p[2] * sizeof(float));
        }
    }
    *label = lab;
    if (start_a) memcpy(start_a, a0, sizeof a0);
    if (start_b) memcpy(start_b, b0, sizeof b0);
    return TASSL_OK;
}
