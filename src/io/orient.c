/* orient.c — voxel-axis permutations and flips (the canonical RAS reorientation and its
 * inverse), and the check that two images lie on the same grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io_internal.h"

tassl_status tassl_image_permute(tassl_image *img, const int perm[3], const int flip[3]) {
    int seen = 0;
    for (int a = 0; a < 3; a++) {
        if (perm[a] < 0 || perm[a] > 2)
            return tassl_error(TASSL_ERR_ARG, "%s: axis permutation %d %d %d is not one of 0,1,2",
                               img->source, perm[0], perm[1], perm[2]);
        seen |= 1 << perm[a];
    }
    if (seen != 7)
        return tassl_error(TASSL_ERR_ARG, "%s: axis permutation %d %d %d repeats an axis",
                           img->source, perm[0], perm[1], perm[2]);
    int identity = 1;
    for (int a = 0; a < 3; a++)
        if (perm[a] != a || flip[a]) identity = 0;
    if (identity) return TASSL_OK;

    /* axis a: 0 = w (fastest), 1 = h, 2 = d */
    int64_t on[3] = {img->w, img->h, img->d};
    int64_t ostride[3] = {1, img->w, img->w * img->h};
    int64_t nn[3], step[3], start = 0;
    for (int a = 0; a < 3; a++) {
        nn[a] = on[perm[a]];
        /* moving +1 along new axis a moves ±1 along old axis perm[a] */
        step[a] = flip[a] ? -ostride[perm[a]] : ostride[perm[a]];
        if (flip[a]) start += (nn[a] - 1) * ostride[perm[a]];
    }
    int64_t vox = tassl_image_voxels(img);
    float *out = malloc((size_t)(vox * img->channels) * sizeof(float));
    if (!out)
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory reorienting %lld voxels",
                           img->source, (long long)vox);
    for (int c = 0; c < img->channels; c++) { // (C, D, H, W)
        const float *src = img->data + (int64_t)c * vox;
        float *dst = out + (int64_t)c * vox;
        for (int64_t k = 0; k < nn[2]; k++)
            for (int64_t j = 0; j < nn[1]; j++) {
                int64_t o = start + k * step[2] + j * step[1];
                float *row = dst + (k * nn[1] + j) * nn[0];
                for (int64_t i = 0; i < nn[0]; i++, o += step[0]) row[i] = src[o];
            }
    }
    free(img->data);
    img->data = out;

    /* geometry: old index along perm[a] = flip ? n-1-new : new */
    double A[4][4], sp[3];
    memcpy(A, img->affine, sizeof A);
    for (int a = 0; a < 3; a++) sp[a] = img->spacing[2 - a]; /* per axis a */
    for (int r = 0; r < 3; r++) {
        double t = A[r][3];
        for (int a = 0; a < 3; a++) {
            double col = A[r][perm[a]];
            img->affine[r][a] = flip[a] ? -col : col;
            if (flip[a]) t += col * (double)(nn[a] - 1);
        }
        img->affine[r][3] = t;
    }
    for (int a = 0; a < 3; a++) img->spacing[2 - a] = sp[perm[a]];
    img->w = nn[0];
    img->h = nn[1];
    img->d = nn[2];
    return TASSL_OK;
}

tassl_status tassl_image_to_file_order(tassl_image *img, const tassl_image_info *info) {
    int inv[3], iflip[3];
    for (int a = 0; a < 3; a++) {
        if (info->perm[a] < 0 || info->perm[a] > 2)
            return tassl_error(TASSL_ERR_ARG, "%s: info holds no valid axis permutation", img->source);
        inv[info->perm[a]] = a;
        iflip[info->perm[a]] = info->flip[a];
    }
    return tassl_image_permute(img, inv, iflip);
}

tassl_status tassl_image_same_grid(const tassl_image *a, const tassl_image *b, double tol_mm) {
    if (tol_mm <= 0) tol_mm = 1e-3;
    char msg[1536];
    size_t len = 0;
    int ndiff = 0;
#define ADD(...)                                                                                  \
    do {                                                                                          \
        if (len < sizeof msg) len += (size_t)snprintf(msg + len, sizeof msg - len, __VA_ARGS__);  \
        ndiff++;                                                                                  \
    } while (0)
    if (a->d != b->d || a->h != b->h || a->w != b->w)
        ADD("; size (D,H,W) %lldx%lldx%lld vs %lldx%lldx%lld", (long long)a->d, (long long)a->h,
            (long long)a->w, (long long)b->d, (long long)b->h, (long long)b->w);
    int sp_diff = 0;
    for (int i = 0; i < 3; i++)
        if (!(fabs(a->spacing[i] - b->spacing[i]) <= tol_mm)) sp_diff = 1;
    if (sp_diff)
        ADD("; spacing (D,H,W) %g,%g,%g mm vs %g,%g,%g mm", a->spacing[0], a->spacing[1],
            a->spacing[2], b->spacing[0], b->spacing[1], b->spacing[2]);
    int aff_diff = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            if (!(fabs(a->affine[r][c] - b->affine[r][c]) <= tol_mm)) {
                if (aff_diff++ < 4)
                    ADD("; affine[%d][%d] %g vs %g", r, c, a->affine[r][c], b->affine[r][c]);
                else
                    ndiff++;
            }
    char oa[4], ob[4];
    tassl_image_axcodes(a, oa);
    tassl_image_axcodes(b, ob);
    if (strcmp(oa, ob) != 0) ADD("; orientation %s vs %s", oa, ob);
#undef ADD
    if (!ndiff) return TASSL_OK;
    return tassl_error(TASSL_ERR_ARG, "%s vs %s: not on the same grid (tolerance %g mm)%s",
                       a->source[0] ? a->source : "(image)", b->source[0] ? b->source : "(image)",
                       tol_mm, msg);
}
