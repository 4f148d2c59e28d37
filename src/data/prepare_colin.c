/* prepare_colin.c — labelled tasks on the Colin27 T1 (mricron's ch2), all derived from files of
 * this very subject: brain-mask segmentation (ch2bet > 0), lobe segmentation (AAL's 116 regions
 * grouped by the lobe digit of their code in aal.nii.txt), patch classification by lobe (24³
 * patches, and their central axial slices for 2D encoders), and detection of subcortical
 * structures (boxes on axial slices, full and cut to their region of interest). Splits are
 * spatial, with gaps, so no voxel of a val/test row is in any training sample (docs/DATA.md):
 * slabs along z for the 3D tasks and the 2D segmentation manifests, an interleaved layout of
 * short row blocks for detection and the *_2d_il segmentation manifests (prepare_seg.c). Within
 * the training rows the subjects are finer — one per lobe patch, per detection slice, and
 * (prepare_seg.c) per 2D slice / 3D in-plane block — so label fractions select real subsets;
 * val/test subjects stay the slabs / blocks. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"
#include "prepare.h"
#include "tassl/io.h"

tassl_status prepare_crop(const tassl_image *img, const int64_t org[3], const int64_t size[3],
                          tassl_image *out) {
    tassl_status st = tassl_image_new(out, img->channels, size[0], size[1], size[2]);
    if (st != TASSL_OK) return st;
    for (int c = 0; c < img->channels; c++)
        for (int64_t z = 0; z < size[0]; z++)
            for (int64_t y = 0; y < size[1]; y++)
                memcpy(out->data + ((c * size[0] + z) * size[1] + y) * size[2],
                       img->data + ((c * img->d + org[0] + z) * img->h + org[1] + y) * img->w + org[2],
                       (size_t)size[2] * sizeof(float));
    memcpy(out->affine, img->affine, sizeof out->affine);
    memcpy(out->spacing, img->spacing, sizeof out->spacing);
    for (int r = 0; r < 3; r++)
        out->affine[r][3] = img->affine[r][3] + img->affine[r][0] * (double)org[2] +
                            img->affine[r][1] * (double)org[1] + img->affine[r][2] * (double)org[0];
    out->is_label = img->is_label;
    memcpy(out->source, img->source, sizeof out->source);
    return TASSL_OK;
}

tassl_status prepare_crop_z(const tassl_image *img, int64_t z0, int64_t z1, tassl_image *out) {
    int64_t org[3] = {z0, 0, 0}, size[3] = {z1 - z0, img->h, img->w};
    return prepare_crop(img, org, size, out);
}

static const char *lobe_names[9] = {"background", "frontal", "insula", "limbic", "occipital",
                                    "parietal", "subcortical", "temporal", "cerebellum"};

/* detection classes: AAL indices (L, R) of each structure */
static const int det_aal[6][2] = {{37, 38}, {41, 42}, {71, 72}, {73, 74}, {75, 76}, {77, 78}};
static const char *det_names[6] = {"hippocampus", "amygdala", "caudate", "putamen", "pallidum",
                                   "thalamus"};

/* The boxes of the six structures on axial slice z (L and R each a box of the structure's
 * class; a structure needs >= 10 voxels on the slice — slivers are not objects). */
static int det_boxes(const tassl_image *aal, int64_t z, tassl_box boxes[12]) {
    int nb = 0;
    const float *sl = aal->data + z * aal->h * aal->w;
    for (int k = 0; k < 6; k++)
        for (int side = 0; side < 2; side++) {
            int64_t y0 = INT64_MAX, y1 = -1, x0 = INT64_MAX, x1 = -1, cnt = 0;
            for (int64_t y = 0; y < aal->h; y++)
                for (int64_t x = 0; x < aal->w; x++)
                    if (sl[y * aal->w + x] == (float)det_aal[k][side]) {
                        cnt++;
                        if (y < y0) y0 = y;
                        if (y > y1) y1 = y;
                        if (x < x0) x0 = x;
                        if (x > x1) x1 = x;
                    }
            if (cnt < 10) continue;
            tassl_box b = {{0, (float)y0, (float)x0}, {1, (float)(y1 + 1), (float)(x1 + 1)}, k};
            boxes[nb++] = b;
        }
    return nb;
}

/* The detection region of interest: the hull of the training slices' boxes widened by a margin
 * of 16 voxels, each side rounded up to a multiple of 32 (the encoder's stride) and kept inside
 * the slice. Only training rows decide it; val/test boxes that reach past it are clipped. */
static void det_roi(const tassl_image *t1, const int *layd, const tassl_box (*dbox)[12],
                    const int *dnb, int64_t org[3], int64_t size[3]) {
    float lo[3] = {0, 1e30f, 1e30f}, hi[3] = {1, -1, -1};
    for (int64_t z = 0; z < t1->d; z++)
        if (layd[z] == TASSL_SPLIT_TRAIN)
            for (int b = 0; b < dnb[z]; b++)
                for (int k = 1; k < 3; k++) {
                    if (dbox[z][b].lo[k] < lo[k]) lo[k] = dbox[z][b].lo[k];
                    if (dbox[z][b].hi[k] > hi[k]) hi[k] = dbox[z][b].hi[k];
                }
    int64_t ext[3] = {1, t1->h, t1->w};
    org[0] = 0, size[0] = 1;
    for (int k = 1; k < 3; k++) {
        if (hi[k] < 0) lo[k] = 0, hi[k] = (float)ext[k]; /* no training box: the whole slice */
        int64_t a = (int64_t)lo[k] - 16, b = (int64_t)ceilf(hi[k]) + 16, n = (b - a + 31) / 32 * 32;
        if (n > ext[k]) n = ext[k];
        a -= (n - (b - a)) / 2;
        if (a < 0) a = 0;
        if (a + n > ext[k]) a = ext[k] - n;
        org[k] = a, size[k] = n;
    }
}

tassl_status prepare_write_u8(const char *path, const tassl_image *img) {
    /* ch2 is 8-bit and the label maps hold at most 9 classes: uint8 is exact */
    return tassl_nifti_write(path, img, TASSL_NIFTI_UINT8, 1);
}

tassl_status prepare_add_row(tassl_manifest *m, const char *img, const char *mask, int label,
                             const tassl_box *boxes, int nb, const char *subject, int split) {
    tassl_record r;
    memset(&r, 0, sizeof r);
    r.image = (char *)img;
    r.mask = (char *)mask;
    r.label = label;
    r.boxes = (tassl_box *)boxes;
    r.nboxes = nb;
    r.box_dim = 2;
    r.subject = (char *)subject;
    r.split = split;
    return tassl_manifest_add(m, &r);
}

tassl_status prepare_colin(const tassl_prepare_opts *o, unsigned char *z_ok, int64_t *nz) {
    char p[PATH_MAX], q[PATH_MAX], base[PATH_MAX];
    tassl_image t1, bet, aal, brain, lobes;
    memset(&t1, 0, sizeof t1), memset(&bet, 0, sizeof bet), memset(&aal, 0, sizeof aal);
    memset(&brain, 0, sizeof brain), memset(&lobes, 0, sizeof lobes);
    tassl_read_opts lab = tassl_read_opts_default();
    lab.is_label = 1;
    tassl_status st;
    data_fmt(p, sizeof p, "%s/ch2.nii.gz", o->mricron_dir);
    st = tassl_image_read(p, NULL, &t1, NULL);
    data_fmt(p, sizeof p, "%s/ch2bet.nii.gz", o->mricron_dir);
    if (st == TASSL_OK) st = tassl_image_read(p, NULL, &bet, NULL);
    data_fmt(p, sizeof p, "%s/aal.nii.gz", o->mricron_dir);
    if (st == TASSL_OK) st = tassl_image_read(p, &lab, &aal, NULL);
    if (st == TASSL_OK) st = tassl_image_same_grid(&t1, &bet, 0);
    if (st == TASSL_OK) st = tassl_image_same_grid(&t1, &aal, 0);
    /* lobe of each AAL index from the code in aal.nii.txt ("37 Hippocampus_L 4101") */
    int lut[256] = {0};
    if (st == TASSL_OK) {
        data_fmt(p, sizeof p, "%s/aal.nii.txt", o->mricron_dir);
        FILE *f = fopen(p, "r");
        if (!f) st = tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
        char line[256];
        int n = 0;
        while (f && fgets(line, sizeof line, f)) {
            int idx, code;
            char name[128];
            if (sscanf(line, "%d %127s %d", &idx, name, &code) != 3) continue;
            if (idx < 1 || idx > 255 || code / 1000 < 2 || code / 1000 > 9) {
                st = tassl_error(TASSL_ERR_FORMAT, "%s: line '%s': expected 'index name code' with a "
                                 "code of 2000..9999", p, line);
                break;
            }
            lut[idx] = code / 1000 - 1;
            n++;
        }
        if (f) fclose(f);
        if (st == TASSL_OK && n != 116)
            st = tassl_error(TASSL_ERR_FORMAT, "%s: %d regions, expected the 116 of AAL", p, n);
    }
    if (st == TASSL_OK && t1.d > 4096)
        st = tassl_error(TASSL_ERR_ARG, "%s/ch2.nii.gz: %lld slices (at most 4096)", o->mricron_dir,
                         (long long)t1.d);
    if (st == TASSL_OK) st = tassl_image_new(&brain, 1, t1.d, t1.h, t1.w);
    if (st == TASSL_OK) st = tassl_image_new(&lobes, 1, t1.d, t1.h, t1.w);
    if (st != TASSL_OK) goto done;
    int64_t nv = tassl_image_voxels(&t1), plane = t1.h * t1.w;
    memcpy(brain.affine, t1.affine, sizeof t1.affine), memcpy(lobes.affine, t1.affine, sizeof t1.affine);
    memcpy(brain.spacing, t1.spacing, sizeof t1.spacing), memcpy(lobes.spacing, t1.spacing, sizeof t1.spacing);
    brain.is_label = lobes.is_label = 1;
    int64_t z0 = -1, z1 = -1;
    for (int64_t i = 0; i < nv; i++) {
        brain.data[i] = bet.data[i] > 0 ? 1.0f : 0.0f;
        int a = (int)aal.data[i];
        lobes.data[i] = a > 0 && a < 256 ? (float)lut[a] : 0.0f;
        if (brain.data[i] > 0) {
            if (z0 < 0) z0 = i / plane;
            z1 = i / plane;
        }
    }
    /* layouts */
    int64_t P = o->patch, D = t1.d, ext = z1 - z0 + 1;
    int64_t T = (int64_t)llround(0.2 * (double)(ext - 2 * P));
    if (T < P) T = P;
    if (z0 < 0 || ext < 2 * T + 3 * P) {
        st = tassl_error(TASSL_ERR_ARG,
                         "ch2bet: brain spans %lld rows in z; slabs of patch %lld need at least %lld",
                         (long long)ext, (long long)P, (long long)(5 * P));
        goto done;
    }
    int *lay3 = malloc((size_t)D * sizeof *lay3), *layd = malloc((size_t)D * sizeof *layd);
    int *layi = malloc((size_t)D * sizeof *layi);
    if (!lay3 || !layd || !layi) {
        free(lay3), free(layd), free(layi);
        st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        goto done;
    }
    int64_t s3[3][2] = {{z0 + T + P, z1 + 1 - T - P}, {z0, z0 + T}, {z1 + 1 - T, z1 + 1}};
    /* detection rows: the z range of the six structures */
    int64_t d0 = -1, d1 = -1;
    for (int64_t i = 0; i < nv; i++) {
        int a = (int)aal.data[i];
        for (int k = 0; k < 6; k++)
            if (a == det_aal[k][0] || a == det_aal[k][1]) {
                if (d0 < 0) d0 = i / plane;
                d1 = i / plane;
            }
    }
    /* the interleaved layout along z over the brain: blocks of DT train, g gap, DV val, g gap,
     * DV test, g gap rows, phase anchored at the first detection row. Detection uses it over the
     * structures' rows, the interleaved 2D segmentation manifests over the brain. Short blocks on
     * purpose: every split samples the whole z range (the structures' sizes change fast with z:
     * with blocks of 12/4/4 the validation hippocampus was larger than on any training slice) */
    enum { DT = 6, DV = 2 };
    int g = o->det_gap, cyc = DT + 2 * DV + 3 * g;
    int64_t anchor = d0 >= 0 ? d0 : z0;
    for (int64_t z = 0; z < D; z++) {
        lay3[z] = layd[z] = layi[z] = SLAB_OUT;
        if (z >= z0 && z <= z1) {
            lay3[z] = SLAB_GAP;
            for (int s = 0; s < 3; s++)
                if (z >= s3[s][0] && z < s3[s][1]) lay3[z] = s;
            int c = (int)(((z - anchor) % cyc + cyc) % cyc);
            layi[z] = c < DT ? TASSL_SPLIT_TRAIN
                             : c < DT + g ? SLAB_GAP
                                          : c < DT + DV + g ? TASSL_SPLIT_VAL
                                                            : c < DT + DV + 2 * g ? SLAB_GAP
                                                                                  : c < DT + 2 * DV + 2 * g ? TASSL_SPLIT_TEST
                                                                                                            : SLAB_GAP;
        }
        if (d0 >= 0 && z >= d0 && z <= d1) layd[z] = layi[z];
        z_ok[z] = (lay3[z] == TASSL_SPLIT_TRAIN || lay3[z] == SLAB_OUT) &&
                  (layi[z] == TASSL_SPLIT_TRAIN || layi[z] == SLAB_OUT);
    }
    *nz = D;
    if (!o->colin) goto layout_only;
    data_fmt(base, sizeof base, "%s/colin27", o->dir);
    const char *subs[] = {"seg", "seg2d", "seg_il", "cls_lobe", "cls_lobe2d", "cls_lobe2d_il", "det", "det_roi"};
    for (int k = 0; k < 8 && st == TASSL_OK; k++) {
        data_fmt(p, sizeof p, "%s/%s", base, subs[k]);
        st = data_mkdirs(p);
    }
    /* layout.csv */
    if (st == TASSL_OK) {
        data_fmt(p, sizeof p, "%s/layout.csv", base);
        FILE *f = fopen(p, "w");
        if (!f) st = tassl_error(TASSL_ERR_IO, "%s: cannot write: %s", p, strerror(errno));
        else {
            static const char *nm[] = {"out", "gap", "train", "val", "test"};
            fprintf(f, "z,task3d,detection,interleaved\n");
            for (int64_t z = 0; z < D; z++)
                fprintf(f, "%lld,%s,%s,%s\n", (long long)z, nm[lay3[z] + 2], nm[layd[z] + 2], nm[layi[z] + 2]);
            if (fclose(f) != 0) st = tassl_error(TASSL_ERR_IO, "%s: write failed", p);
        }
    }
    /* cls_lobe.csv, cls_lobe_2d.csv, cls_lobe_2d_il.csv, det_subcortical.csv, det_subcortical_roi.csv */
    tassl_manifest mc, mc2, mci, md, mdr;
    memset(&mc, 0, sizeof mc), memset(&mc2, 0, sizeof mc2), memset(&mci, 0, sizeof mci);
    memset(&md, 0, sizeof md), memset(&mdr, 0, sizeof mdr);
    /* segmentation: 3D blocks and 2D slices of the training slab, val/test slab volumes */
    if (st == TASSL_OK) st = prepare_colin_seg(o, base, &t1, &brain, &lobes, (const int64_t(*)[2])s3, layi);
    /* lobe patches: centre voxel's lobe. Variant 0: 24³ patches inside a slab (cls_lobe.csv) and
     * their central axial slices (cls_lobe_2d.csv); variant 1: 2D patches centred on the rows of
     * the interleaved layout (cls_lobe_2d_il.csv) */
    int64_t *cand = malloc((size_t)nv * sizeof *cand);
    if (!cand && st == TASSL_OK) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
    int counts[2][3][9] = {{{0}}};
    for (int v = 0; v < 2; v++)
        for (int s = 0; s < 3 && st == TASSL_OK; s++) {
            int want = s == TASSL_SPLIT_TRAIN ? o->cls_per_class : (o->cls_per_class + 3) / 4;
            char subj[64], slab[64];
            if (v == 0)
                snprintf(slab, sizeof slab, "colin27-z%lld-%lld", (long long)s3[s][0], (long long)s3[s][1]);
            else
                snprintf(slab, sizeof slab, "colin27-il-%s", tassl_split_name((tassl_split)s));
            const char *tag = v == 0 ? "" : "_il";
            for (int c = 1; c <= 8 && st == TASSL_OK; c++) {
                int64_t n = 0;
                for (int64_t z = 0; z < D; z++) {
                    if (v == 0 ? z < s3[s][0] + P / 2 || z + (P - P / 2) > s3[s][1] : layi[z] != s) continue;
                    for (int64_t y = P / 2; y + (P - P / 2) <= t1.h; y++)
                        for (int64_t x = P / 2; x + (P - P / 2) <= t1.w; x++)
                            if (lobes.data[z * plane + y * t1.w + x] == (float)c) cand[n++] = z * plane + y * t1.w + x;
                }
                srng r;
                srng_init(&r, o->seed, (uint64_t)(v * 1000 + s * 16 + c), SRNG_TAG_PREPARE);
                for (int k = 0; k < want && k < n && st == TASSL_OK; k++) {
                    int64_t j = k + srng_below(&r, n - k), t = cand[j];
                    cand[j] = cand[k];
                    cand[k] = t;
                    int64_t org[3] = {t / plane - P / 2, (t / t1.w) % t1.h - P / 2, t % t1.w - P / 2};
                    int64_t size[3] = {P, P, P};
                    /* training patches: each its own subject, so label fractions pick patches
                     * (stratified by lobe); val/test patches: the slab / the split (docs/DATA.md) */
                    if (s == TASSL_SPLIT_TRAIN)
                        snprintf(subj, sizeof subj, "colin27-lobe%s-%s-%03d", tag, lobe_names[c], k);
                    else
                        snprintf(subj, sizeof subj, "%s", slab);
                    tassl_image a;
                    if (v == 0) {
                        st = prepare_crop(&t1, org, size, &a);
                        if (st != TASSL_OK) break;
                        data_fmt(p, sizeof p, "%s/cls_lobe/%s_%s_%03d.nii.gz", base,
                                 tassl_split_name((tassl_split)s), lobe_names[c], k);
                        st = prepare_write_u8(p, &a);
                        tassl_image_free(&a);
                        if (st == TASSL_OK) st = prepare_add_row(&mc, p, NULL, c - 1, NULL, 0, subj, s);
                    }
                    /* the axial slice through the labelled voxel, for 2D encoders (variant 0:
                     * the 3D patch's central slice, same label and subject) */
                    int64_t org2[3] = {t / plane, org[1], org[2]}, size2[3] = {1, P, P};
                    if (st == TASSL_OK) st = prepare_crop(&t1, org2, size2, &a);
                    if (st != TASSL_OK) break;
                    data_fmt(p, sizeof p, "%s/cls_lobe2d%s/%s_%s_%03d.nii.gz", base, tag,
                             tassl_split_name((tassl_split)s), lobe_names[c], k);
                    st = prepare_write_u8(p, &a);
                    tassl_image_free(&a);
                    if (st == TASSL_OK) st = prepare_add_row(v == 0 ? &mc2 : &mci, p, NULL, c - 1, NULL, 0, subj, s);
                    counts[v][s][c]++;
                }
            }
        }
    free(cand);
    for (int v = 0; v < 2; v++) {
        int tot[3] = {0};
        for (int s = 0; s < 3; s++)
            for (int c = 1; c <= 8; c++) tot[s] += counts[v][s][c];
        PREP_LOG(o, "colin27: lobe patches (%s) %d train, %d val, %d test (per lobe up to %d / %d)\n",
                 v == 0 ? "slabs" : "interleaved, 2D", tot[0], tot[1], tot[2], o->cls_per_class,
                 (o->cls_per_class + 3) / 4);
    }
    /* detection: axial slices with boxes of the six structures (L and R boxes, one class) */
    tassl_box(*dbox)[12] = calloc((size_t)D, sizeof *dbox);
    int *dnb = calloc((size_t)D, sizeof *dnb);
    if ((!dbox || !dnb) && st == TASSL_OK) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
    for (int64_t z = 0; z < D && st == TASSL_OK; z++)
        if (layd[z] >= 0) dnb[z] = det_boxes(&aal, z, dbox[z]);
    int64_t roi_org[3] = {0, 0, 0}, roi_size[3] = {1, 0, 0};
    if (st == TASSL_OK) det_roi(&t1, layd, (const tassl_box(*)[12])dbox, dnb, roi_org, roi_size);
    int ndet[3] = {0}, nclip = 0;
    for (int64_t z = 0; z < D && st == TASSL_OK; z++) {
        int s = layd[z], nb = dnb[z];
        if (s < 0 || nb == 0) continue;
        tassl_image a;
        st = prepare_crop_z(&t1, z, z + 1, &a);
        if (st != TASSL_OK) break;
        data_fmt(p, sizeof p, "%s/det/%s_z%03lld.nii.gz", base, tassl_split_name((tassl_split)s), (long long)z);
        st = prepare_write_u8(p, &a);
        tassl_image_free(&a);
        /* training slices: one subject each (the two blocks of training rows would give label
         * fractions only 1 or 2 subjects); val/test: their block */
        char subj[64];
        if (s == TASSL_SPLIT_TRAIN)
            snprintf(subj, sizeof subj, "colin27-z%03lld", (long long)z);
        else
            snprintf(subj, sizeof subj, "colin27-detblock%lld-%s", (long long)((z - d0) / cyc),
                     tassl_split_name((tassl_split)s));
        if (st == TASSL_OK) st = prepare_add_row(&md, p, NULL, -1, dbox[z], nb, subj, s);
        /* the same slice cut to the region of interest, boxes moved into it (clipped to it) */
        int64_t org[3] = {z, roi_org[1], roi_org[2]};
        if (st == TASSL_OK) st = prepare_crop(&t1, org, roi_size, &a);
        if (st != TASSL_OK) break;
        data_fmt(p, sizeof p, "%s/det_roi/%s_z%03lld.nii.gz", base, tassl_split_name((tassl_split)s), (long long)z);
        st = prepare_write_u8(p, &a);
        tassl_image_free(&a);
        tassl_box rb[12];
        int nr = 0;
        for (int b = 0; b < nb; b++) {
            tassl_box x = dbox[z][b];
            int in = 1;
            for (int k = 1; k < 3; k++) {
                float lo = x.lo[k] - (float)roi_org[k], hi = x.hi[k] - (float)roi_org[k];
                if (lo < 0 || hi > (float)roi_size[k]) nclip++;
                x.lo[k] = lo < 0 ? 0 : lo;
                x.hi[k] = hi > (float)roi_size[k] ? (float)roi_size[k] : hi;
                in &= x.hi[k] > x.lo[k];
            }
            if (in) rb[nr++] = x;
        }
        if (st == TASSL_OK) st = prepare_add_row(&mdr, p, NULL, -1, rb, nr, subj, s);
        ndet[s]++;
    }
    free(dbox);
    free(dnb);
    PREP_LOG(o, "colin27: detection slices %d train, %d val, %d test (%s, ...); region of interest "
             "%lld x %lld at (%lld, %lld), %d box edges clipped\n", ndet[0], ndet[1], ndet[2], det_names[0],
             (long long)roi_size[1], (long long)roi_size[2], (long long)roi_org[1], (long long)roi_org[2], nclip);
    if (st == TASSL_OK) {
        data_fmt(q, sizeof q, "%s/cls_lobe.csv", base);
        st = tassl_manifest_write(&mc, q);
    }
    if (st == TASSL_OK) {
        data_fmt(q, sizeof q, "%s/cls_lobe_2d.csv", base);
        st = tassl_manifest_write(&mc2, q);
    }
    if (st == TASSL_OK) {
        data_fmt(q, sizeof q, "%s/cls_lobe_2d_il.csv", base);
        st = tassl_manifest_write(&mci, q);
    }
    if (st == TASSL_OK) {
        data_fmt(q, sizeof q, "%s/det_subcortical.csv", base);
        st = tassl_manifest_write(&md, q);
    }
    if (st == TASSL_OK) {
        data_fmt(q, sizeof q, "%s/det_subcortical_roi.csv", base);
        st = tassl_manifest_write(&mdr, q);
    }
    tassl_manifest_free(&mc), tassl_manifest_free(&mc2), tassl_manifest_free(&mci);
    tassl_manifest_free(&md), tassl_manifest_free(&mdr);
layout_only:
    free(lay3);
    free(layd);
    free(layi);
done:
    tassl_image_free(&t1), tassl_image_free(&bet), tassl_image_free(&aal);
    tassl_image_free(&brain), tassl_image_free(&lobes);
    return st;
}
