/* prepare_seg.c — the Colin27 segmentation manifests of `tassl data prepare` (prepare_colin.c
 * makes the label maps and the slab layout, this file cuts and writes them):
 *   seg_brain.csv, seg_lobes.csv     3D. val / test: the slab volumes seg/{t1,brain,lobes}_{split}.
 *                                    train: the training slab cut IN-PLANE into blocks (full slab
 *                                    height, H and W split into up to 3 × 2 parts of ≥ 2P voxels),
 *                                    seg/{t1,brain,lobes}_train_bK, each block its own subject;
 *   seg_brain_2d.csv, seg_lobes_2d.csv
 *                                    2D. val / test: the same slab volumes (a 2D model is evaluated
 *                                    slice by slice by sliding windows). train: every axial slice
 *                                    of the training slab as a (1, 1, H, W) NIfTI with its mask,
 *                                    seg2d/{t1,brain,lobes}_zNNN, one subject per slice.
 * Why: the slab split leaves one training "subject" (the slab), and the label sampler works on
 * subjects; finer training subjects make label fractions real subsets while the val/test slabs —
 * and so the leak guarantee — stay exactly as they were. Blocks rather than thinner z sub-slabs
 * because the slab (56 rows at P = 24) holds at most one sub-slab of the 3D patch height (32);
 * slices in 2D because a slice is what an annotator labels. docs/DATA.md, "Label fractions". */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "data_internal.h"
#include "prepare.h"

enum { SEG_BLOCKS_Y = 3, SEG_BLOCKS_X = 2 }; /* at most; fewer when a part would be < 2P */

/* crop src at (org, size) and write it to path */
static tassl_status crop_write(const tassl_image *src, const int64_t org[3], const int64_t size[3],
                               const char *path) {
    tassl_image a;
    tassl_status st = prepare_crop(src, org, size, &a);
    if (st != TASSL_OK) return st;
    st = prepare_write_u8(path, &a);
    tassl_image_free(&a);
    return st;
}

/* the paths base/dir/{t1,brain,lobes}_STEM.nii.gz of one region */
static void region_paths(const char *base, const char *dir, const char *stem, char pi[PATH_MAX],
                         char pb[PATH_MAX], char pl[PATH_MAX]) {
    data_fmt(pi, PATH_MAX, "%s/%s/t1_%s.nii.gz", base, dir, stem);
    data_fmt(pb, PATH_MAX, "%s/%s/brain_%s.nii.gz", base, dir, stem);
    data_fmt(pl, PATH_MAX, "%s/%s/lobes_%s.nii.gz", base, dir, stem);
}

/* the T1, brain mask and lobe map of one region, written as base/dir/{t1,brain,lobes}_STEM */
static tassl_status write_region(const char *base, const char *dir, const char *stem,
                                 const tassl_image *t1, const tassl_image *brain,
                                 const tassl_image *lobes, const int64_t org[3],
                                 const int64_t size[3], char pi[PATH_MAX], char pb[PATH_MAX],
                                 char pl[PATH_MAX]) {
    region_paths(base, dir, stem, pi, pb, pl);
    tassl_status st = crop_write(t1, org, size, pi);
    if (st == TASSL_OK) st = crop_write(brain, org, size, pb);
    if (st == TASSL_OK) st = crop_write(lobes, org, size, pl);
    return st;
}

/* parts of n voxels into k ≤ kmax pieces of at least `min` each: boundaries round(i·n/k) */
static int parts(int64_t n, int kmax, int64_t min) {
    int k = kmax;
    while (k > 1 && n / k < min)
        k--;
    return k;
}

/* The 2D segmentation manifests on the interleaved layout (seg_{brain,lobes}_2d_il.csv): training
 * = the axial slice of every training row (seg2d/…_zNNN, one subject each — the same files as
 * the slab manifests' where a row is in both), val/test = each block of rows as one volume
 * seg_il/{t1,brain,lobes}_{split}_zA-B (subject colin27-zA-B), evaluated slice by slice. */
static tassl_status seg_interleaved(const char *base, const tassl_image *t1,
                                    const tassl_image *brain, const tassl_image *lobes,
                                    const int *layi, const int64_t train_slab[2]) {
    tassl_manifest m[2];
    memset(m, 0, sizeof m);
    char pi[PATH_MAX], pb[PATH_MAX], pl[PATH_MAX], subj[64], stem[48];
    tassl_status st = TASSL_OK;
    for (int64_t z = 0; z < t1->d && st == TASSL_OK;) {
        int s = layi[z];
        int64_t e = z + 1;
        if (s == TASSL_SPLIT_VAL || s == TASSL_SPLIT_TEST)
            while (e < t1->d && layi[e] == s) e++;
        if (s < 0) {
            z = e;
            continue;
        }
        int64_t org[3] = {z, 0, 0}, size[3] = {e - z, t1->h, t1->w};
        if (s == TASSL_SPLIT_TRAIN) {
            snprintf(stem, sizeof stem, "z%03lld", (long long)z);
            snprintf(subj, sizeof subj, "colin27-z%03lld", (long long)z);
            if (z >= train_slab[0] && z < train_slab[1]) /* written by the slab manifests */
                region_paths(base, "seg2d", stem, pi, pb, pl);
            else
                st = write_region(base, "seg2d", stem, t1, brain, lobes, org, size, pi, pb, pl);
        } else {
            snprintf(stem, sizeof stem, "%s_z%03lld-%03lld", tassl_split_name((tassl_split)s),
                     (long long)z, (long long)e - 1);
            snprintf(subj, sizeof subj, "colin27-z%lld-%lld", (long long)z, (long long)e);
            st = write_region(base, "seg_il", stem, t1, brain, lobes, org, size, pi, pb, pl);
        }
        if (st == TASSL_OK) st = prepare_add_row(&m[0], pi, pb, -1, NULL, 0, subj, s);
        if (st == TASSL_OK) st = prepare_add_row(&m[1], pi, pl, -1, NULL, 0, subj, s);
        z = e;
    }
    static const char *names[2] = {"seg_brain_2d_il", "seg_lobes_2d_il"};
    for (int k = 0; k < 2 && st == TASSL_OK; k++) {
        char q[PATH_MAX];
        data_fmt(q, sizeof q, "%s/%s.csv", base, names[k]);
        st = tassl_manifest_write(&m[k], q);
    }
    tassl_manifest_free(&m[0]), tassl_manifest_free(&m[1]);
    return st;
}

tassl_status prepare_colin_seg(const tassl_prepare_opts *o, const char *base, const tassl_image *t1,
                               const tassl_image *brain, const tassl_image *lobes,
                               const int64_t slab[3][2], const int *layi) {
    /* [0] seg_brain, [1] seg_lobes (3D); [2] seg_brain_2d, [3] seg_lobes_2d */
    tassl_manifest m[4];
    memset(m, 0, sizeof m);
    static const char *names[4] = {"seg_brain", "seg_lobes", "seg_brain_2d", "seg_lobes_2d"};
    char pi[PATH_MAX], pb[PATH_MAX], pl[PATH_MAX], subj[96];
    tassl_status st = TASSL_OK;
    int ny = parts(t1->h, SEG_BLOCKS_Y, 2 * o->patch),
        nx = parts(t1->w, SEG_BLOCKS_X, 2 * o->patch);
    int64_t nslices = 0;
    for (int s = 0; s < 3 && st == TASSL_OK; s++) {
        const char *sn = tassl_split_name((tassl_split)s);
        int64_t z0 = slab[s][0], z1 = slab[s][1];
        if (s != TASSL_SPLIT_TRAIN) { /* the slab volume, in all four manifests */
            int64_t org[3] = {z0, 0, 0}, size[3] = {z1 - z0, t1->h, t1->w};
            snprintf(subj, sizeof subj, "colin27-z%lld-%lld", (long long)z0, (long long)z1);
            st = write_region(base, "seg", sn, t1, brain, lobes, org, size, pi, pb, pl);
            for (int k = 0; k < 4 && st == TASSL_OK; k++)
                st = prepare_add_row(&m[k], pi, k % 2 ? pl : pb, -1, NULL, 0, subj, s);
            continue;
        }
        /* 3D: in-plane blocks of the training slab (y, x boundaries round(i·n/k)) */
        for (int by = 0; by < ny && st == TASSL_OK; by++)
            for (int bx = 0; bx < nx && st == TASSL_OK; bx++) {
                int64_t y0 = (by * t1->h + ny / 2) / ny, y1 = ((by + 1) * t1->h + ny / 2) / ny;
                int64_t x0 = (bx * t1->w + nx / 2) / nx, x1 = ((bx + 1) * t1->w + nx / 2) / nx;
                int64_t org[3] = {z0, y0, x0}, size[3] = {z1 - z0, y1 - y0, x1 - x0};
                char stem[32];
                snprintf(stem, sizeof stem, "train_b%d", by * nx + bx);
                snprintf(subj, sizeof subj, "colin27-z%lld-%lld-y%lld-%lld-x%lld-%lld",
                         (long long)z0, (long long)z1, (long long)y0, (long long)y1, (long long)x0,
                         (long long)x1);
                st = write_region(base, "seg", stem, t1, brain, lobes, org, size, pi, pb, pl);
                if (st == TASSL_OK) st = prepare_add_row(&m[0], pi, pb, -1, NULL, 0, subj, s);
                if (st == TASSL_OK) st = prepare_add_row(&m[1], pi, pl, -1, NULL, 0, subj, s);
            }
        /* 2D: every axial slice of the training slab */
        for (int64_t z = z0; z < z1 && st == TASSL_OK; z++) {
            int64_t org[3] = {z, 0, 0}, size[3] = {1, t1->h, t1->w};
            char stem[32];
            snprintf(stem, sizeof stem, "z%03lld", (long long)z);
            snprintf(subj, sizeof subj, "colin27-z%03lld", (long long)z);
            st = write_region(base, "seg2d", stem, t1, brain, lobes, org, size, pi, pb, pl);
            if (st == TASSL_OK) st = prepare_add_row(&m[2], pi, pb, -1, NULL, 0, subj, s);
            if (st == TASSL_OK) st = prepare_add_row(&m[3], pi, pl, -1, NULL, 0, subj, s);
            nslices++;
        }
    }
    for (int k = 0; k < 4 && st == TASSL_OK; k++) {
        char q[PATH_MAX];
        data_fmt(q, sizeof q, "%s/%s.csv", base, names[k]);
        st = tassl_manifest_write(&m[k], q);
    }
    for (int k = 0; k < 4; k++)
        tassl_manifest_free(&m[k]);
    if (st == TASSL_OK) st = seg_interleaved(base, t1, brain, lobes, layi, slab[TASSL_SPLIT_TRAIN]);
    if (st == TASSL_OK)
        PREP_LOG(o,
                 "colin27: segmentation slabs (z) train %lld-%lld, val %lld-%lld, test %lld-%lld; "
                 "training subjects: %d blocks (3D, %d x %d in-plane), %lld slices (2D)\n",
                 (long long)slab[0][0], (long long)slab[0][1] - 1, (long long)slab[1][0],
                 (long long)slab[1][1] - 1, (long long)slab[2][0], (long long)slab[2][1] - 1,
                 ny * nx, ny, nx, (long long)nslices);
    return st;
}
