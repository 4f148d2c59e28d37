/* prepare.c — `tassl data prepare`: the unlabelled pretraining pool from every real volume on the
 * machine (volumes, 2D axial slices as 16-bit PNG, 3D patches as NIfTI, one manifest per modality
 * and kind) and the Colin27 tasks (prepare_colin.c). Colin27 enters the pool only through its
 * training rows, so pretraining never sees a validation or test voxel. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_internal.h"
#include "prepare.h"
#include "tassl/io.h"

tassl_prepare_opts tassl_prepare_opts_default(void) {
    tassl_prepare_opts o;
    memset(&o, 0, sizeof o);
    o.dir = "data";
    o.mricron_dir = "/usr/share/mricron/templates";
    o.itk_dir = "/usr/share/doc/insighttoolkit5-examples/examples/Data";
    o.cranium = "/usr/share/doc/invesalius-examples/examples/Cranium.inv3";
    o.stent = "/usr/lib/python3/dist-packages/imageio/resources/images/stent.npz";
    o.patch = 24;
    o.cls_per_class = 40;
    o.det_gap = 2;
    o.pool = o.colin = 1;
    return o;
}

static int exists(const char *p) {
    struct stat sb;
    return p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

typedef struct pool_out {
    tassl_manifest vol[2], sl[2], pa[2]; /* [0] MRI, [1] CT */
    char dir[PATH_MAX];
    int64_t nslices, npatches;
} pool_out;

/* smallest dtype that holds the values exactly */
static tassl_nifti_dtype dtype_for(const tassl_image *img) {
    int64_t n = tassl_image_voxels(img) * img->channels;
    int u8 = 1, i16 = 1;
    for (int64_t i = 0; i < n && (u8 || i16); i++) {
        float v = img->data[i];
        if (v != floorf(v)) return TASSL_NIFTI_FLOAT32;
        if (v < 0 || v > 255) u8 = 0;
        if (v < -32768 || v > 32767) i16 = 0;
    }
    return u8 ? TASSL_NIFTI_UINT8 : (i16 ? TASSL_NIFTI_INT16 : TASSL_NIFTI_FLOAT32);
}

static tassl_status add_plain(tassl_manifest *m, const char *img, const char *subject) {
    tassl_record r;
    memset(&r, 0, sizeof r);
    r.image = (char *)img;
    r.subject = (char *)subject;
    r.label = -1;
    r.split = TASSL_SPLIT_TRAIN;
    return tassl_manifest_add(m, &r);
}

/* foreground: CT > -500 HU (tissue, not air); MRI > 10 % of the 99th percentile */
static float fg_threshold(const tassl_image *img, int ct) {
    if (ct) return -500.0f;
    tassl_image_stats s;
    if (tassl_image_stats_compute(img, 0, &s) != TASSL_OK) return 0;
    return (float)(0.1 * s.p99);
}

static tassl_status pool_add(const tassl_prepare_opts *o, pool_out *po, const char *name, int ct,
                             const tassl_image *img) {
    char p[PATH_MAX];
    data_fmt(p, sizeof p, "%s/volumes/%s.nii.gz", po->dir, name);
    tassl_status st = tassl_nifti_write(p, img, dtype_for(img), 1);
    if (st == TASSL_OK) st = add_plain(&po->vol[ct], p, name);
    float thr = fg_threshold(img, ct);
    int64_t plane = img->h * img->w;
    /* axial slices: at most 24 evenly spaced, ≥ 20 % foreground */
    int64_t step = img->d > 24 ? img->d / 24 : 1, ns = 0;
    tassl_image sl;
    memset(&sl, 0, sizeof sl);
    for (int64_t z = step / 2; z < img->d && st == TASSL_OK; z += step) {
        int64_t fg = 0;
        for (int64_t i = 0; i < plane; i++) fg += img->data[z * plane + i] > thr;
        if (fg < plane / 5) continue;
        st = prepare_crop_z(img, z, z + 1, &sl);
        if (st != TASSL_OK) break;
        if (ct)
            for (int64_t i = 0; i < plane; i++) sl.data[i] += 1024.0f; /* HU + 1024 */
        data_fmt(p, sizeof p, "%s/slices/%s_z%03lld.png", po->dir, name, (long long)z);
        st = tassl_png_write(p, &sl, 16, TASSL_PNG_SCALE_CLAMP);
        tassl_image_free(&sl);
        if (st == TASSL_OK) st = add_plain(&po->sl[ct], p, name);
        ns++;
    }
    /* 3D patches (32, 64, 64) on a grid, ≥ 25 % foreground */
    int64_t ps[3] = {32, 64, 64}, np = 0;
    /* volumes thinner than a patch (2D slices, short runs) give none: every patch is 32x64x64 */
    for (int64_t z = 0; z + ps[0] <= img->d && st == TASSL_OK; z += ps[0])
        for (int64_t y = 0; y + ps[1] <= img->h && st == TASSL_OK; y += ps[1])
            for (int64_t x = 0; x + ps[2] <= img->w && st == TASSL_OK; x += ps[2]) {
                int64_t fg = 0;
                for (int64_t a = 0; a < ps[0]; a++)
                    for (int64_t b = 0; b < ps[1]; b++)
                        for (int64_t c = 0; c < ps[2]; c++)
                            fg += img->data[((z + a) * img->h + y + b) * img->w + x + c] > thr;
                if (fg < ps[0] * ps[1] * ps[2] / 4) continue;
                int64_t org[3] = {z, y, x};
                tassl_image pa;
                st = prepare_crop(img, org, ps, &pa);
                if (st != TASSL_OK) break;
                data_fmt(p, sizeof p, "%s/patches/%s_%03lld.nii.gz", po->dir, name, (long long)np);
                st = tassl_nifti_write(p, &pa, dtype_for(&pa), 1);
                tassl_image_free(&pa);
                if (st == TASSL_OK) st = add_plain(&po->pa[ct], p, name);
                np++;
            }
    po->nslices += ns;
    po->npatches += np;
    PREP_LOG(o, "pool: %-28s %s %lld x %lld x %lld → %lld slices, %lld patches\n", name,
             ct ? "CT " : "MRI", (long long)img->d, (long long)img->h, (long long)img->w,
             (long long)ns, (long long)np);
    return st;
}

static tassl_status pool_file(const tassl_prepare_opts *o, pool_out *po, const char *path,
                              const char *name, int ct, int kind) {
    if (!exists(path)) {
        PREP_LOG(o, "pool: %s not found, skipped\n", path ? path : name);
        return TASSL_OK;
    }
    tassl_image img;
    tassl_status st = kind == 1 ? prepare_read_inv3(path, &img)
                      : kind == 2 ? prepare_read_npz(path, &img)
                                  : tassl_image_read(path, NULL, &img, NULL);
    if (st != TASSL_OK) return st;
    if (img.channels == 3) { /* grey stored as RGB: keep one channel if R = G = B */
        int64_t n = tassl_image_voxels(&img), same = 1;
        for (int64_t i = 0; i < n && same; i++)
            same = img.data[i] == img.data[n + i] && img.data[i] == img.data[2 * n + i];
        if (same) img.channels = 1;
    }
    if (img.channels != 1) {
        tassl_image_free(&img);
        PREP_LOG(o, "pool: %s has %d channels, skipped\n", path, img.channels);
        return TASSL_OK;
    }
    st = pool_add(o, po, name, ct, &img);
    tassl_image_free(&img);
    return st;
}

static tassl_status prepare_in(const tassl_prepare_opts *o);

tassl_status tassl_data_prepare(const tassl_prepare_opts *opts) {
    if (!opts->dir || !*opts->dir) return tassl_error(TASSL_ERR_ARG, "prepare: no output folder");
    /* Every file is named from an absolute DIR: tassl_manifest_write stores a path under the
     * manifest's folder relative to it, and any other path as given — with a relative DIR that
     * was relative to the working directory, which the reader (resolving against the
     * manifest's folder) then doubled ("data/colin27/data/colin27/..."). */
    char *abs = data_path_absolute(opts->dir);
    if (!abs) return tassl_error(TASSL_ERR_IO, "%s: cannot resolve the output folder", opts->dir);
    tassl_prepare_opts o = *opts;
    o.dir = abs;
    tassl_status st = prepare_in(&o);
    free(abs);
    return st;
}

static tassl_status prepare_in(const tassl_prepare_opts *o) {
    if (o->patch < 4 || o->patch > 64)
        return tassl_error(TASSL_ERR_ARG, "prepare: patch = %lld (expected 4..64)", (long long)o->patch);
    if (o->cls_per_class < 1 || o->det_gap < 1)
        return tassl_error(TASSL_ERR_ARG, "prepare: cls_per_class and det_gap must be >= 1");
    tassl_status st = data_mkdirs(o->dir);
    if (st != TASSL_OK) return st;
    const char *need[] = {"ch2.nii.gz", "ch2bet.nii.gz", "aal.nii.gz", "aal.nii.txt"};
    for (int i = 0; i < 4; i++) {
        char p[PATH_MAX];
        data_fmt(p, sizeof p, "%s/%s", o->mricron_dir, need[i]);
        if (!exists(p))
            return tassl_error(TASSL_ERR_IO,
                               "%s: missing (Debian package mricron-data; `tassl data prepare` "
                               "installs it when run as root)", p);
    }
    /* Colin27 tasks (and the rows of ch2 that may enter the pool) */
    unsigned char z_ok[4096];
    int64_t nz = 0;
    st = prepare_colin(o, z_ok, &nz);
    if (st != TASSL_OK || !o->pool) return st;

    pool_out po;
    memset(&po, 0, sizeof po);
    data_fmt(po.dir, sizeof po.dir, "%s/pool", o->dir);
    const char *subs[] = {"volumes", "slices", "patches"};
    for (int k = 0; k < 3 && st == TASSL_OK; k++) {
        char p[PATH_MAX];
        data_fmt(p, sizeof p, "%s/%s", po.dir, subs[k]);
        st = data_mkdirs(p);
    }
    /* Colin27: runs of training rows of at least 6 slices (the interleaved layout's training blocks) */
    if (st == TASSL_OK) {
        char p[PATH_MAX];
        data_fmt(p, sizeof p, "%s/ch2.nii.gz", o->mricron_dir);
        tassl_image t1;
        st = tassl_image_read(p, NULL, &t1, NULL);
        for (int64_t z = 0; z < nz && st == TASSL_OK;) {
            if (!z_ok[z]) {
                z++;
                continue;
            }
            int64_t e = z;
            while (e < nz && z_ok[e]) e++;
            if (e - z >= 6) {
                tassl_image run;
                st = prepare_crop_z(&t1, z, e, &run);
                char name[64];
                data_fmt(name, sizeof name, "colin27_t1_z%03lld-%03lld", (long long)z, (long long)e - 1);
                if (st == TASSL_OK) st = pool_add(o, &po, name, 0, &run);
                tassl_image_free(&run);
            }
            z = e;
        }
        tassl_image_free(&t1);
    }
    char p[PATH_MAX];
    data_fmt(p, sizeof p, "%s/inia19-t1-brain.nii.gz", o->mricron_dir);
    if (st == TASSL_OK) st = pool_file(o, &po, p, "inia19_t1", 0, 0);
    if (st == TASSL_OK && o->itk_dir) {
        data_fmt(p, sizeof p, "%s/KmeansTest_T1UCharRaw.nii.gz", o->itk_dir);
        st = pool_file(o, &po, p, "itk_kmeans_t1", 0, 0);
        const char *slices[] = {"BrainT1Slice", "BrainProtonDensitySlice", "FatMRISlice"};
        for (int k = 0; k < 3 && st == TASSL_OK; k++) {
            data_fmt(p, sizeof p, "%s/%s.png", o->itk_dir, slices[k]);
            char name[64];
            data_fmt(name, sizeof name, "itk_%s", slices[k]);
            st = pool_file(o, &po, p, name, 0, 0);
        }
    }
    if (st == TASSL_OK && o->cranium) st = pool_file(o, &po, o->cranium, "invesalius_cranium_ct", 1, 1);
    if (st == TASSL_OK && o->stent) st = pool_file(o, &po, o->stent, "imageio_stent_ct", 1, 2);
    static const char *mod[2] = {"mri", "ct"};
    for (int c = 0; c < 2 && st == TASSL_OK; c++) {
        tassl_manifest *ms[3] = {&po.vol[c], &po.sl[c], &po.pa[c]};
        static const char *kind[3] = {"volumes", "slices", "patches"};
        for (int k = 0; k < 3 && st == TASSL_OK; k++) {
            if (ms[k]->n == 0) continue;
            data_fmt(p, sizeof p, "%s/%s_%s.csv", po.dir, kind[k], mod[c]);
            st = tassl_manifest_write(ms[k], p);
        }
    }
    PREP_LOG(o, "pool: %lld slices, %lld patches in %s\n", (long long)po.nslices,
             (long long)po.npatches, po.dir);
    for (int c = 0; c < 2; c++) {
        tassl_manifest_free(&po.vol[c]);
        tassl_manifest_free(&po.sl[c]);
        tassl_manifest_free(&po.pa[c]);
    }
    return st;
}
