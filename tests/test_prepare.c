/* test_prepare.c — `tassl data prepare` on the real Colin27 files (skipped with a message when
 * mricron-data is absent): every task's manifest loads, and no voxel of a validation or test slab
 * appears in any training sample of that task, nor anywhere in the pretraining pool (provenance of
 * every sample mapped back to Colin27's z rows through the files' affines); the training splits
 * hold several subjects, so label fractions choose real, nested, stratified subsets; the data are
 * prepared into a RELATIVE folder and read from another working directory (manifest paths are
 * relative to the manifest's folder). Also bad input to prepare. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "tassl/dataset.h"
#include "tassl/io.h"
#include "tassl/task.h"

#define MRICRON "/usr/share/mricron/templates"
static char dir[256];
static int have_data;
enum { PER_CLASS = 20 }; /* lobe patches per class in training (val/test: 5) */
static char lay3[4096], layd[4096], layi[4096]; /* 't' train, 'v' val, 'x' test, '-' gap/out */

static int setup(void **state) {
    (void)state;
    struct stat sb;
    have_data = stat(MRICRON "/ch2.nii.gz", &sb) == 0 && stat(MRICRON "/aal.nii.txt", &sb) == 0;
    if (!have_data) {
        printf("test_prepare: %s/ch2.nii.gz absent (Debian mricron-data): real-data tests skipped\n", MRICRON);
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/tassl-test-prepare-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    tassl_prepare_opts o = tassl_prepare_opts_default();
    /* a relative output folder (from /tmp), then every read from another working directory */
    char rel[300];
    snprintf(rel, sizeof rel, "%s/data", dir + strlen("/tmp/"));
    o.dir = rel;
    o.itk_dir = o.cranium = o.stent = NULL; /* the pool from mricron only: fast */
    o.cls_per_class = PER_CLASS;
    if (chdir("/tmp") != 0) return -1;
    tassl_status st = tassl_data_prepare(&o);
    if (chdir("/") != 0) return -1;
    if (st != TASSL_OK) {
        printf("prepare failed: %s\n", tassl_last_error());
        return -1;
    }
    strcat(dir, "/data");
    char p[512];
    snprintf(p, sizeof p, "%s/colin27/layout.csv", dir);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char line[128];
    memset(lay3, '-', sizeof lay3), memset(layd, '-', sizeof layd);
    while (fgets(line, sizeof line, f)) {
        int z;
        char a[16], b[16], c[16];
        if (sscanf(line, "%d,%15[^,],%15[^,],%15s", &z, a, b, c) != 4 || z < 0 || z >= 4096) continue;
        lay3[z] = !strcmp(a, "train") ? 't' : !strcmp(a, "val") ? 'v' : !strcmp(a, "test") ? 'x' : '-';
        layd[z] = !strcmp(b, "train") ? 't' : !strcmp(b, "val") ? 'v' : !strcmp(b, "test") ? 'x' : '-';
        layi[z] = !strcmp(c, "train") ? 't' : !strcmp(c, "val") ? 'v' : !strcmp(c, "test") ? 'x' : '-';
        /* detection is the interleaved layout over the structures' rows */
        if (layd[z] != '-' && layd[z] != layi[z]) fail_msg("layout.csv: row %d: detection %s, interleaved %s", z, b, c);
    }
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (!have_data) return 0;
    char cmd[300];
    *strrchr(dir, '/') = 0; /* the mkdtemp folder above data/ */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Colin27 z rows [lo, hi] covered by a sample: its region's corners through the file's affine
 * (Colin27's own affine maps row z to world z = z - 71, see ch2.nii.gz's sform). */
static void sample_rows(const tassl_image *src_affine_img, const tassl_provenance *pv, int64_t *lo,
                        int64_t *hi) {
    double zmin = 1e9, zmax = -1e9;
    for (int k = 0; k < 8; k++) {
        double v[3]; /* (w, h, d) voxel index of a corner */
        v[0] = (double)pv->origin[2] + ((k & 1) ? (double)pv->size[2] - 1 : 0);
        v[1] = (double)pv->origin[1] + ((k & 2) ? (double)pv->size[1] - 1 : 0);
        v[2] = (double)pv->origin[0] + ((k & 4) ? (double)pv->size[0] - 1 : 0);
        const double(*A)[4] = (const double(*)[4])src_affine_img->affine;
        double wz = A[2][0] * v[0] + A[2][1] * v[1] + A[2][2] * v[2] + A[2][3];
        double z = wz + 71.0; /* Colin27 row */
        zmin = fmin(zmin, z);
        zmax = fmax(zmax, z);
    }
    *lo = (int64_t)floor(zmin + 0.5);
    *hi = (int64_t)floor(zmax + 0.5);
}

/* every sample of every record in `split` of a manifest avoids rows marked in `bad` */
static void check_manifest(const char *name, int split, int dim, const char *layout, const char *bad,
                           int64_t patch) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tassl_manifest m;
    if (tassl_manifest_read(&m, p, NULL) != TASSL_OK) fail_msg("%s", tassl_last_error());
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = dim;
    o.split = split;
    o.patch[0] = dim == 3 ? patch : 1;
    o.patch[1] = o.patch[2] = patch;
    o.samples_per_image = 40;
    o.pad_value = 0;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    int64_t checked = 0;
    for (int64_t i = 0; i < tassl_dataset_len(ds); i++) {
        tassl_sample s;
        if (tassl_dataset_get(ds, i, tassl_sample_seed(9, 0, i), &s) != TASSL_OK) fail_msg("%s", tassl_last_error());
        /* clip the region to the file (padding is not data) */
        tassl_image img;
        assert_int_equal(tassl_image_read(m.rec[s.prov.record].image, NULL, &img, NULL), TASSL_OK);
        tassl_provenance pv = s.prov;
        int64_t vsz[3] = {img.d, img.h, img.w};
        for (int a = 0; a < 3; a++) {
            int64_t e = pv.origin[a] + pv.size[a];
            if (pv.origin[a] < 0) pv.origin[a] = 0;
            if (e > vsz[a]) e = vsz[a];
            pv.size[a] = e - pv.origin[a];
        }
        int64_t lo, hi;
        sample_rows(&img, &pv, &lo, &hi);
        for (int64_t z = lo; z <= hi; z++) {
            assert_true(z >= 0 && z < 4096);
            if (strchr(bad, layout[z])) fail_msg("%s: sample %lld covers Colin27 row %lld (slab '%c')", name, (long long)i, (long long)z, layout[z]);
        }
        checked++;
        tassl_image_free(&img);
        tassl_sample_free(&s);
    }
    assert_true(checked > 0);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

static void no_test_voxel_in_training(void **state) {
    (void)state;
    if (!have_data) skip();
    /* the slabs exist, are separated by gaps of at least the patch size (24) */
    int64_t last_train = -1, first_test = -1, first_val = -1, last_val = -1;
    for (int z = 0; z < 4096; z++) {
        if (lay3[z] == 't') last_train = z;
        if (lay3[z] == 'x' && first_test < 0) first_test = z;
        if (lay3[z] == 'v') last_val = z, first_val = first_val < 0 ? z : first_val;
    }
    assert_true(last_train > 0 && first_test > 0 && last_val > 0);
    int64_t first_train = 0;
    while (lay3[first_train] != 't') first_train++;
    assert_true(first_test - last_train - 1 >= 24);
    assert_true(first_train - last_val - 1 >= 24);
    check_manifest("colin27/seg_brain.csv", TASSL_SPLIT_TRAIN, 3, lay3, "vx", 24);
    check_manifest("colin27/seg_lobes.csv", TASSL_SPLIT_TRAIN, 3, lay3, "vx", 32);
    check_manifest("colin27/seg_lobes.csv", TASSL_SPLIT_TRAIN, 2, lay3, "vx", 64);
    check_manifest("colin27/seg_lobes.csv", TASSL_SPLIT_TEST, 3, lay3, "tv", 24);
    check_manifest("colin27/seg_brain_2d.csv", TASSL_SPLIT_TRAIN, 2, lay3, "vx", 96);
    check_manifest("colin27/seg_lobes_2d.csv", TASSL_SPLIT_TRAIN, 2, lay3, "vx", 64);
    check_manifest("colin27/seg_lobes_2d.csv", TASSL_SPLIT_TEST, 2, lay3, "tv", 64);
    check_manifest("colin27/seg_brain_2d.csv", TASSL_SPLIT_VAL, 3, lay3, "tx", 24);
    check_manifest("colin27/cls_lobe.csv", TASSL_SPLIT_TRAIN, 3, lay3, "vx", 0);
    check_manifest("colin27/cls_lobe_2d.csv", TASSL_SPLIT_TRAIN, 2, lay3, "vx", 0);
    check_manifest("colin27/det_subcortical.csv", TASSL_SPLIT_TRAIN, 2, layd, "vx", 0);
    check_manifest("colin27/det_subcortical.csv", TASSL_SPLIT_TEST, 2, layd, "tv", 0);
    check_manifest("colin27/det_subcortical_roi.csv", TASSL_SPLIT_TRAIN, 2, layd, "vx", 0);
    check_manifest("colin27/det_subcortical_roi.csv", TASSL_SPLIT_VAL, 2, layd, "tx", 0);
    check_manifest("colin27/seg_brain_2d_il.csv", TASSL_SPLIT_TRAIN, 2, layi, "vx", 64);
    check_manifest("colin27/seg_lobes_2d_il.csv", TASSL_SPLIT_VAL, 2, layi, "tx", 64);
    check_manifest("colin27/seg_lobes_2d_il.csv", TASSL_SPLIT_TEST, 2, layi, "tv", 64);
    check_manifest("colin27/cls_lobe_2d_il.csv", TASSL_SPLIT_TRAIN, 2, layi, "vx", 0);
    check_manifest("colin27/cls_lobe_2d_il.csv", TASSL_SPLIT_TEST, 2, layi, "tv", 0);
    /* the pool's Colin27 volumes avoid validation and test rows of every layout */
    char p[512];
    snprintf(p, sizeof p, "%s/pool/volumes_mri.csv", dir);
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, p, NULL), TASSL_OK);
    int colin = 0;
    for (int i = 0; i < m.n; i++) {
        if (!strstr(m.rec[i].image, "colin27")) continue;
        colin++;
        tassl_image img;
        assert_int_equal(tassl_image_read(m.rec[i].image, NULL, &img, NULL), TASSL_OK);
        tassl_provenance pv = {0, -1, {0, 0, 0}, {img.d, img.h, img.w}};
        int64_t lo, hi;
        sample_rows(&img, &pv, &lo, &hi);
        for (int64_t z = lo; z <= hi; z++) assert_true(!strchr("vx", lay3[z]) && !strchr("vx", layi[z]));
        tassl_image_free(&img);
    }
    assert_true(colin > 0);
    tassl_manifest_free(&m);
}

static void labels_are_derived(void **state) {
    (void)state;
    if (!have_data) skip();
    char p[512];
    /* the training blocks' lobe maps hold labels 0..8, at least 7 lobes among them */
    tassl_read_opts ro = tassl_read_opts_default();
    ro.is_label = 1;
    tassl_manifest ml;
    snprintf(p, sizeof p, "%s/colin27/seg_lobes.csv", dir);
    assert_int_equal(tassl_manifest_read(&ml, p, NULL), TASSL_OK);
    int present[9] = {0}, blocks = 0;
    for (int i = 0; i < ml.n; i++) {
        if (ml.rec[i].split != TASSL_SPLIT_TRAIN) continue;
        tassl_image lob;
        assert_int_equal(tassl_image_read(ml.rec[i].mask, &ro, &lob, NULL), TASSL_OK);
        for (int64_t v = 0; v < tassl_image_voxels(&lob); v++) {
            float x = lob.data[v];
            assert_true(x == floorf(x) && x >= 0 && x <= 8);
            present[(int)x] = 1;
        }
        assert_true(lob.d >= 32 && lob.h >= 48 && lob.w >= 48); /* a 3D patch fits */
        tassl_image_free(&lob);
        blocks++;
    }
    int nlobes = 0;
    for (int c = 1; c <= 8; c++) nlobes += present[c];
    assert_true(blocks >= 3 && nlobes >= 7 && present[0]);
    tassl_manifest_free(&ml);
    /* a 2D training record is one axial slice, its mask = ch2bet > 0 on that Colin27 row;
     * val/test records of the 2D manifests are the slab volumes */
    tassl_manifest m2;
    snprintf(p, sizeof p, "%s/colin27/seg_brain_2d.csv", dir);
    assert_int_equal(tassl_manifest_read(&m2, p, NULL), TASSL_OK);
    tassl_image bet;
    assert_int_equal(tassl_image_read(MRICRON "/ch2bet.nii.gz", NULL, &bet, NULL), TASSL_OK);
    int slices = 0;
    for (int i = 0; i < m2.n; i++) {
        tassl_image im, mk;
        assert_int_equal(tassl_image_read(m2.rec[i].image, NULL, &im, NULL), TASSL_OK);
        if (m2.rec[i].split != TASSL_SPLIT_TRAIN) {
            assert_true(im.d >= 24);
            tassl_image_free(&im);
            continue;
        }
        assert_int_equal(im.d, 1);
        assert_true(im.h == bet.h && im.w == bet.w);
        int64_t z = (int64_t)llround(im.affine[2][3] + 71.0); /* Colin27 row, as sample_rows */
        assert_int_equal(lay3[z], 't');
        assert_int_equal(tassl_image_read(m2.rec[i].mask, &ro, &mk, NULL), TASSL_OK);
        int64_t plane = bet.h * bet.w, fg = 0;
        for (int64_t v = 0; v < plane; v++) {
            assert_true(mk.data[v] == (bet.data[z * plane + v] > 0 ? 1.0f : 0.0f));
            fg += mk.data[v] > 0;
        }
        assert_true(fg > 0);
        tassl_image_free(&im), tassl_image_free(&mk);
        slices++;
    }
    int rows = 0;
    for (int z = 0; z < 4096; z++) rows += lay3[z] == 't';
    assert_int_equal(slices, rows); /* every row of the training slab */
    tassl_image_free(&bet);
    tassl_manifest_free(&m2);
    /* the interleaved lobe patches: every lobe in every split, as many as asked for (the slab
     * split's val/test slabs hold only some lobes) */
    {
        snprintf(p, sizeof p, "%s/colin27/cls_lobe_2d_il.csv", dir);
        tassl_manifest mi;
        assert_int_equal(tassl_manifest_read(&mi, p, NULL), TASSL_OK);
        int per[3][8] = {{0}};
        for (int i = 0; i < mi.n; i++) {
            assert_true(mi.rec[i].label >= 0 && mi.rec[i].label < 8 && mi.rec[i].split >= 0 && mi.rec[i].split < 3);
            per[mi.rec[i].split][mi.rec[i].label]++;
        }
        for (int sp = 0; sp < 3; sp++)
            for (int c = 0; c < 8; c++)
                if (per[sp][c] != (sp == TASSL_SPLIT_TRAIN ? PER_CLASS : (PER_CLASS + 3) / 4))
                    fail_msg("cls_lobe_2d_il.csv: split %d lobe %d: %d patches", sp, c, per[sp][c]);
        tassl_manifest_free(&mi);
    }
    /* detection boxes: classes 0..5 inside 217 x 181 slices */
    snprintf(p, sizeof p, "%s/colin27/det_subcortical.csv", dir);
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, p, NULL), TASSL_OK);
    int seen[6] = {0};
    for (int i = 0; i < m.n; i++)
        for (int b = 0; b < m.rec[i].nboxes; b++) {
            const tassl_box *x = &m.rec[i].boxes[b];
            assert_true(x->label >= 0 && x->label < 6);
            seen[x->label]++;
            assert_true(x->lo[1] >= 0 && x->hi[1] <= 217 && x->lo[2] >= 0 && x->hi[2] <= 181);
        }
    for (int k = 0; k < 6; k++) assert_true(seen[k] > 0);
    /* the region-of-interest slices: the same rows, cut from the same slice (the file's affine
     * places it inside the full slice, voxel for voxel), the same boxes moved by that offset */
    snprintf(p, sizeof p, "%s/colin27/det_subcortical_roi.csv", dir);
    tassl_manifest r;
    assert_int_equal(tassl_manifest_read(&r, p, NULL), TASSL_OK);
    assert_int_equal(r.n, m.n);
    for (int i = 0; i < m.n; i++) {
        tassl_image full, roi;
        assert_int_equal(tassl_image_read(m.rec[i].image, NULL, &full, NULL), TASSL_OK);
        assert_int_equal(tassl_image_read(r.rec[i].image, NULL, &roi, NULL), TASSL_OK);
        assert_string_equal(r.rec[i].subject, m.rec[i].subject);
        assert_int_equal(r.rec[i].split, m.rec[i].split);
        assert_true(roi.h <= full.h && roi.w <= full.w && roi.h % 32 == 0 && roi.w % 32 == 0);
        /* voxel offsets of the ROI in the full slice, from the affines (axis-aligned grid) */
        int64_t oy = llround((roi.affine[1][3] - full.affine[1][3]) / full.affine[1][1]);
        int64_t ox = llround((roi.affine[0][3] - full.affine[0][3]) / full.affine[0][0]);
        assert_true(oy >= 0 && ox >= 0 && oy + roi.h <= full.h && ox + roi.w <= full.w);
        for (int64_t y = 0; y < roi.h; y += 7)
            for (int64_t x = 0; x < roi.w; x += 5)
                assert_true(roi.data[y * roi.w + x] == full.data[(y + oy) * full.w + x + ox]);
        assert_int_equal(r.rec[i].nboxes, m.rec[i].nboxes); /* nothing clipped away on Colin27 */
        for (int b = 0; b < r.rec[i].nboxes; b++) {
            const tassl_box *a = &m.rec[i].boxes[b], *c = &r.rec[i].boxes[b];
            assert_int_equal(c->label, a->label);
            assert_true(c->lo[1] == a->lo[1] - (float)oy && c->hi[1] == a->hi[1] - (float)oy);
            assert_true(c->lo[2] == a->lo[2] - (float)ox && c->hi[2] == a->hi[2] - (float)ox);
        }
        tassl_image_free(&full), tassl_image_free(&roi);
    }
    tassl_manifest_free(&r);
    tassl_manifest_free(&m);
}

/* Label fractions 0.05 / 0.25 / 1 on the training splits: exactly max(1, round(f·N)) subjects,
 * three different, nested row sets (f = 1: every training record); in cls_lobe.csv the strata
 * are the lobes, so each fraction takes the same number of patches from every lobe. */
static void fractions_choose_subsets(void **state) {
    (void)state;
    if (!have_data) skip();
    int rows = 0;
    for (int z = 0; z < 4096; z++) rows += lay3[z] == 't';
    const struct {
        const char *name;
        int subjects; /* training subjects N (-1: one per training record) */
    } man[] = {{"cls_lobe.csv", 8 * PER_CLASS}, {"cls_lobe_2d.csv", 8 * PER_CLASS}, {"seg_brain_2d.csv", rows}, {"seg_lobes_2d.csv", rows},
               {"seg_brain.csv", 6}, {"seg_lobes.csv", 6}, {"det_subcortical.csv", -1},
               {"det_subcortical_roi.csv", -1}, {"seg_lobes_2d_il.csv", -1},
               {"cls_lobe_2d_il.csv", 8 * PER_CLASS}};
    const double f[3] = {0.05, 0.25, 1.0};
    for (size_t k = 0; k < sizeof man / sizeof man[0]; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/colin27/%s", dir, man[k].name);
        tassl_manifest m;
        assert_int_equal(tassl_manifest_read(&m, p, NULL), TASSL_OK);
        int ntrain = 0;
        for (int i = 0; i < m.n; i++) ntrain += m.rec[i].split == TASSL_SPLIT_TRAIN;
        int *r[3], nr[3], ns[3];
        for (int j = 0; j < 3; j++) {
            assert_int_equal(tassl_label_subset(&m, TASSL_SPLIT_TRAIN, f[j], 0, 7, &r[j], &nr[j], &ns[j]), TASSL_OK);
            int N = man[k].subjects > 0 ? man[k].subjects : ntrain;
            int want = (int)floor(f[j] * N + 0.5);
            if (want < 1) want = 1;
            if (ns[j] != want) fail_msg("%s: fraction %g: %d subjects, expected %d", man[k].name, f[j], ns[j], want);
            for (int i = 0; i < nr[j]; i++) assert_int_equal(m.rec[r[j][i]].split, TASSL_SPLIT_TRAIN);
        }
        assert_true(nr[0] < nr[1] && nr[1] < nr[2]); /* three different subsets */
        assert_int_equal(nr[2], ntrain);
        for (int j = 0; j < 2; j++) /* nested: rows of the smaller fraction are in the larger */
            for (int i = 0, q = 0; i < nr[j]; i++) {
                while (q < nr[j + 1] && r[j + 1][q] < r[j][i]) q++;
                assert_true(q < nr[j + 1] && r[j + 1][q] == r[j][i]);
            }
        if (!strncmp(man[k].name, "cls_lobe", 8))
            for (int j = 0; j < 3; j++) { /* stratified: equal counts per lobe */
                int per[8] = {0};
                for (int i = 0; i < nr[j]; i++) per[m.rec[r[j][i]].label]++;
                for (int c = 0; c < 8; c++)
                    if (per[c] != nr[j] / 8) fail_msg("cls_lobe: fraction %g: lobe %d has %d patches, expected %d", f[j], c, per[c], nr[j] / 8);
            }
        for (int j = 0; j < 3; j++) free(r[j]);
        tassl_manifest_free(&m);
    }
}

/* cls_lobe_2d.csv is cls_lobe.csv row for row (label, subject, split), and each 2D record is the
 * central axial slice (the labelled voxel's) of the corresponding 24³ patch */
static void lobe_slices_match_patches(void **state) {
    (void)state;
    if (!have_data) skip();
    char p3[512], p2[512];
    snprintf(p3, sizeof p3, "%s/colin27/cls_lobe.csv", dir);
    snprintf(p2, sizeof p2, "%s/colin27/cls_lobe_2d.csv", dir);
    tassl_manifest m3, m2;
    assert_int_equal(tassl_manifest_read(&m3, p3, NULL), TASSL_OK);
    assert_int_equal(tassl_manifest_read(&m2, p2, NULL), TASSL_OK);
    assert_int_equal(m2.n, m3.n);
    assert_true(m3.n >= 8 * PER_CLASS);
    for (int i = 0; i < m3.n; i++) {
        assert_int_equal(m2.rec[i].label, m3.rec[i].label);
        assert_int_equal(m2.rec[i].split, m3.rec[i].split);
        assert_string_equal(m2.rec[i].subject, m3.rec[i].subject);
        if (i % 7) continue; /* compare every 7th pair's voxels */
        tassl_image a, b;
        assert_int_equal(tassl_image_read(m3.rec[i].image, NULL, &a, NULL), TASSL_OK);
        assert_int_equal(tassl_image_read(m2.rec[i].image, NULL, &b, NULL), TASSL_OK);
        assert_int_equal(b.d, 1);
        assert_int_equal(b.h, a.h);
        assert_int_equal(b.w, a.w);
        const float *mid = a.data + (a.d / 2) * a.h * a.w;
        for (int64_t v = 0; v < b.h * b.w; v++)
            if (b.data[v] != mid[v]) fail_msg("%s: voxel %lld is %g, the patch's central slice has %g", m2.rec[i].image, (long long)v, (double)b.data[v], (double)mid[v]);
        tassl_image_free(&a), tassl_image_free(&b);
    }
    tassl_manifest_free(&m3), tassl_manifest_free(&m2);
}

/* the manifests name their files relative to their own folder (prepared from a relative DIR) */
static void manifest_paths_relative(void **state) {
    (void)state;
    if (!have_data) skip();
    const char *names[] = {"colin27/seg_brain.csv", "colin27/seg_lobes_2d.csv", "colin27/cls_lobe.csv",
                           "colin27/det_subcortical.csv", "pool/volumes_mri.csv"};
    for (int k = 0; k < 5; k++) {
        char p[512], line[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        int n = 0;
        assert_non_null(fgets(line, sizeof line, f)); /* header */
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '/' || strstr(line, "data/") || strstr(line, "tassl-test-prepare"))
                fail_msg("%s: '%s' is not relative to the manifest's folder", names[k], line);
            n++;
        }
        fclose(f);
        assert_true(n > 0);
    }
}

static void prepare_bad_input(void **state) {
    (void)state;
    /* missing mricron files */
    tassl_prepare_opts o = tassl_prepare_opts_default();
    o.dir = "/tmp/tassl-test-prepare-never";
    o.mricron_dir = "/nonexistent";
    assert_int_equal(tassl_data_prepare(&o), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "/nonexistent/ch2.nii.gz"));
    assert_non_null(strstr(tassl_last_error(), "mricron-data"));
    rmdir("/tmp/tassl-test-prepare-never");
    o = tassl_prepare_opts_default();
    o.patch = 1000;
    assert_int_equal(tassl_data_prepare(&o), TASSL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_test_voxel_in_training),
        cmocka_unit_test(labels_are_derived),
        cmocka_unit_test(fractions_choose_subsets),
        cmocka_unit_test(lobe_slices_match_patches),
        cmocka_unit_test(manifest_paths_relative),
        cmocka_unit_test(prepare_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
