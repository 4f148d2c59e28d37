/* test_dataset.c — manifests (format and every bad-input case), folder scans, subject splits,
 * slice/patch sampling with provenance, foreground and class-balanced sampling, the volume cache,
 * loader repeatability across thread counts, and the synthetic phantom generator. Host only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tassl/augment.h"
#include "tassl/dataset.h"
#include "tassl/io.h"

static char tmp[256];

static void write_text(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* a (1, d, h, w) NIfTI whose voxel value is its flat index (or a label function) */
static void write_vol(const char *rel, int64_t d, int64_t h, int64_t w, int label_kind, double shift) {
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, d, h, w), TASSL_OK);
    for (int64_t i = 0; i < d * h * w; i++) {
        int64_t z = i / (h * w), y = (i / w) % h, x = i % w;
        if (label_kind == 0) img.data[i] = (float)i;
        else if (label_kind == 1) /* a small foreground block */
            img.data[i] = (z >= 2 && z < 4 && y >= 3 && y < 5 && x >= 10 && x < 12) ? 1.0f : 0.0f;
        else /* three classes of very different sizes */
            img.data[i] = x < 2 ? 2.0f : (x < 4 && y < 2 ? 1.0f : 0.0f);
    }
    img.affine[0][3] = shift;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    assert_int_equal(tassl_nifti_write(p, &img, label_kind ? TASSL_NIFTI_UINT8 : TASSL_NIFTI_FLOAT32, 1),
                     TASSL_OK);
    tassl_image_free(&img);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/tassl-test-dataset-XXXXXX");
    if (!mkdtemp(tmp)) return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/sub", tmp);
    mkdir(p, 0755);
    write_vol("vol.nii.gz", 6, 8, 16, 0, 0);
    write_vol("fg.nii.gz", 6, 8, 16, 1, 0);
    write_vol("cls.nii.gz", 6, 8, 16, 2, 0);
    write_vol("shifted.nii.gz", 6, 8, 16, 1, 5.0);
    write_vol("small.nii.gz", 3, 8, 16, 1, 0);
    write_vol("sub/a.nii.gz", 6, 8, 16, 0, 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static tassl_status read_text(tassl_manifest *m, const char *text) {
    write_text("m.csv", text);
    char p[512];
    snprintf(p, sizeof p, "%s/m.csv", tmp);
    return tassl_manifest_read(m, p, NULL);
}

/* ---- manifest format ------------------------------------------------------------------------ */

static void manifest_good(void **state) {
    (void)state;
    tassl_manifest m;
    tassl_status st = read_text(&m,
        "# a comment\n"
        "image,label,mask,boxes,subject,split\r\n"
        "vol.nii.gz,1,fg.nii.gz,\"0: 10 3 12 5; 2: 1 1 3 3\",s1,train\n"
        "\n"
        "./sub/../vol.nii.gz,,,,\"s, 2\",test\n"
        "  sub/a.nii.gz , 0 , , 1: 0 0 0 4 4 2 , s3 ,\n");
    assert_int_equal(st, TASSL_OK);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.rec[0].label, 1);
    assert_non_null(m.rec[0].mask);
    assert_int_equal(m.rec[0].nboxes, 2);
    assert_int_equal(m.rec[0].box_dim, 2);
    assert_int_equal(m.rec[0].boxes[0].label, 0);
    assert_true(m.rec[0].boxes[0].lo[2] == 10 && m.rec[0].boxes[0].lo[1] == 3);
    assert_true(m.rec[0].boxes[0].hi[2] == 12 && m.rec[0].boxes[0].hi[1] == 5);
    assert_true(m.rec[0].boxes[0].lo[0] == 0 && m.rec[0].boxes[0].hi[0] == 1);
    assert_int_equal(m.rec[0].split, TASSL_SPLIT_TRAIN);
    assert_string_equal(m.rec[1].subject, "s, 2");
    assert_int_equal(m.rec[1].label, -1);
    assert_null(m.rec[1].mask);
    assert_string_equal(m.rec[1].image, m.rec[0].image); /* normalised */
    assert_int_equal(m.rec[2].split, TASSL_SPLIT_NONE);
    assert_int_equal(m.rec[2].box_dim, 3);
    assert_true(m.rec[2].boxes[0].hi[0] == 2 && m.rec[2].boxes[0].hi[2] == 4);
    assert_int_equal(m.nclasses, 2);
    /* write → read gives the same records */
    char p[512];
    snprintf(p, sizeof p, "%s/m2.csv", tmp);
    assert_int_equal(tassl_manifest_write(&m, p), TASSL_OK);
    tassl_manifest m2;
    assert_int_equal(tassl_manifest_read(&m2, p, NULL), TASSL_OK);
    assert_int_equal(m2.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(m.rec[i].image, m2.rec[i].image);
        assert_string_equal(m.rec[i].subject, m2.rec[i].subject);
        assert_int_equal(m.rec[i].label, m2.rec[i].label);
        assert_int_equal(m.rec[i].split, m2.rec[i].split);
        assert_int_equal(m.rec[i].nboxes, m2.rec[i].nboxes);
        assert_memory_equal(m.rec[i].boxes, m2.rec[i].boxes, (size_t)m.rec[i].nboxes * sizeof(tassl_box));
    }
    tassl_manifest_free(&m2);
    tassl_manifest_free(&m);
}

static void expect_error(const char *text, tassl_status want, const char *needle) {
    tassl_manifest m;
    tassl_status st = read_text(&m, text);
    if (st != want || !strstr(tassl_last_error(), needle))
        fail_msg("expected %s with '%s', got %s: %s", tassl_status_name(want), needle,
                 tassl_status_name(st), tassl_last_error());
    assert_int_equal(m.n, 0);
    assert_null(m.rec);
}

static void manifest_bad_input(void **state) {
    (void)state;
    /* missing file */
    expect_error("image\nnope.nii.gz\n", TASSL_ERR_IO, "m.csv:2: image 'nope.nii.gz'");
    /* a row with a missing column */
    expect_error("image,label,mask\nvol.nii.gz,1\n", TASSL_ERR_FORMAT, "column 'mask' is missing");
    /* path outside the data root (lexically and through a link) */
    expect_error("image\n../../etc/passwd\n", TASSL_ERR_ARG, "outside the data root");
    expect_error("image\n/etc/passwd\n", TASSL_ERR_ARG, "outside the data root");
    char lp[512];
    snprintf(lp, sizeof lp, "%s/link.nii.gz", tmp);
    unlink(lp);
    assert_int_equal(symlink("/etc/hostname", lp), 0);
    expect_error("image\nlink.nii.gz\n", TASSL_ERR_ARG, "outside the data root");
    unlink(lp);
    /* a subject in two splits */
    expect_error("image,subject,split\nvol.nii.gz,s1,train\nfg.nii.gz,s1,test\n", TASSL_ERR_ARG,
                 "subject 's1' is in two splits: train (line 2) and test (line 3)");
    /* header and syntax */
    expect_error("image,colour\nvol.nii.gz,red\n", TASSL_ERR_FORMAT, "unknown column 'colour'");
    expect_error("label\n1\n", TASSL_ERR_FORMAT, "no 'image' column");
    expect_error("image,image\nvol.nii.gz,vol.nii.gz\n", TASSL_ERR_FORMAT, "appears twice");
    expect_error("image,label\nvol.nii.gz,cat\n", TASSL_ERR_FORMAT, "not an integer class");
    expect_error("image,boxes\nvol.nii.gz,0: 1 2 3\n", TASSL_ERR_FORMAT, "has 3 numbers");
    expect_error("image,boxes\nvol.nii.gz,0: 5 5 1 9\n", TASSL_ERR_FORMAT, "is empty");
    expect_error("image,boxes\nvol.nii.gz,0: 1 2 3 4; 1 2 3 4 5 6\n", TASSL_ERR_FORMAT, "all 2D or all 3D");
    expect_error("image,subject\nvol.nii.gz,\"open\n", TASSL_ERR_FORMAT, "unterminated quote");
    expect_error("image,split\nvol.nii.gz,holdout\n", TASSL_ERR_FORMAT, "'holdout'");
    expect_error("image\nvol.nii.gz,extra\n", TASSL_ERR_FORMAT, "row has 2 fields, the header has 1");
    expect_error("image\n", TASSL_ERR_FORMAT, "no rows");
    expect_error("", TASSL_ERR_FORMAT, "empty manifest");
    /* a missing manifest */
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, "/nonexistent/m.csv", NULL), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "/nonexistent/m.csv"));
}

static void manifest_scan_folder(void **state) {
    (void)state;
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/scan", tmp);
    mkdir(d, 0755);
    snprintf(p, sizeof p, "%s/scan/p1", tmp);
    mkdir(p, 0755);
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 1, 4, 4), TASSL_OK);
    const char *files[] = {"scan/b.nii.gz", "scan/b_mask.nii.gz", "scan/p1/x.png", "scan/p1/y.png",
                           "scan/.hidden.png"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
        if (strstr(p, ".png")) assert_int_equal(tassl_png_write(p, &img, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
        else assert_int_equal(tassl_nifti_write(p, &img, TASSL_NIFTI_UINT8, 1), TASSL_OK);
    }
    tassl_image_free(&img);
    tassl_manifest m;
    assert_int_equal(tassl_manifest_scan(&m, d), TASSL_OK);
    assert_int_equal(m.n, 3);
    assert_non_null(strstr(m.rec[0].image, "scan/b.nii.gz"));
    assert_non_null(m.rec[0].mask);
    assert_string_equal(m.rec[0].subject, "b");
    assert_string_equal(m.rec[1].subject, "p1");
    assert_string_equal(m.rec[2].subject, "p1");
    assert_null(m.rec[1].mask);
    tassl_manifest_free(&m);
    /* a mask without its image */
    snprintf(p, sizeof p, "%s/scan/b.nii.gz", tmp);
    unlink(p);
    assert_int_equal(tassl_manifest_scan(&m, d), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "a mask without its image"));
    assert_int_equal(tassl_manifest_scan(&m, "/nonexistent-dir"), TASSL_ERR_IO);
}

/* ---- splits --------------------------------------------------------------------------------- */

static void build_subjects(tassl_manifest *m, int nsub) {
    memset(m, 0, sizeof *m);
    snprintf(m->source, sizeof m->source, "generated");
    for (int s = 0; s < nsub; s++)
        for (int k = 0; k < 3; k++) {
            char img[64], subj[32];
            snprintf(img, sizeof img, "/d/s%03d_%d.png", s, k);
            snprintf(subj, sizeof subj, "s%03d", s);
            tassl_record r;
            memset(&r, 0, sizeof r);
            r.image = img;
            r.subject = subj;
            r.label = s % 4 == 0 ? 1 : 0; /* 25 % positive subjects */
            r.split = TASSL_SPLIT_NONE;
            assert_int_equal(tassl_manifest_add(m, &r), TASSL_OK);
        }
}

static void splits_by_subject(void **state) {
    (void)state;
    tassl_manifest m, m2;
    build_subjects(&m, 80);
    m.rec[5].split = TASSL_SPLIT_TEST; /* a preassigned row pulls its subject (s001) to test */
    assert_int_equal(tassl_manifest_split(&m, 0.25, 0.25, 7), TASSL_OK);
    assert_int_equal(tassl_manifest_check_subjects(&m), TASSL_OK);
    int count[3][2] = {{0}};
    for (int i = 0; i < m.n; i += 3) {
        assert_int_equal(m.rec[i].split, m.rec[i + 1].split);
        assert_int_equal(m.rec[i].split, m.rec[i + 2].split);
        count[m.rec[i].split][m.rec[i].label]++;
    }
    assert_int_equal(m.rec[3].split, TASSL_SPLIT_TEST);
    /* stratified: 20 positive subjects → 5/5/10; 59 free negatives → 15/15/29 (+1 preassigned) */
    assert_int_equal(count[TASSL_SPLIT_TEST][1], 5);
    assert_int_equal(count[TASSL_SPLIT_VAL][1], 5);
    assert_int_equal(count[TASSL_SPLIT_TRAIN][1], 10);
    assert_int_equal(count[TASSL_SPLIT_TEST][0], 15 + 1);
    assert_int_equal(count[TASSL_SPLIT_VAL][0], 15);
    /* same seed, any record order → same assignment; another seed → another one */
    build_subjects(&m2, 80);
    m2.rec[5].split = TASSL_SPLIT_TEST;
    tassl_record t = m2.rec[0];
    m2.rec[0] = m2.rec[m2.n - 1];
    m2.rec[m2.n - 1] = t;
    assert_int_equal(tassl_manifest_split(&m2, 0.25, 0.25, 7), TASSL_OK);
    for (int i = 0; i < m.n; i++)
        for (int j = 0; j < m2.n; j++)
            if (!strcmp(m.rec[i].image, m2.rec[j].image)) assert_int_equal(m.rec[i].split, m2.rec[j].split);
    tassl_manifest_free(&m2);
    build_subjects(&m2, 80);
    assert_int_equal(tassl_manifest_split(&m2, 0.25, 0.25, 8), TASSL_OK);
    int differ = 0;
    for (int i = 0; i < m.n; i++) differ += m.rec[i].split != m2.rec[i].split;
    assert_true(differ > 0);
    tassl_manifest_free(&m2);
    /* bad fractions; a subject already in two splits */
    assert_int_equal(tassl_manifest_split(&m, 0.6, 0.5, 1), TASSL_ERR_ARG);
    m.rec[0].split = TASSL_SPLIT_TRAIN;
    m.rec[1].split = TASSL_SPLIT_TEST;
    assert_int_equal(tassl_manifest_split(&m, 0.2, 0.2, 1), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "subject 's000' is in two splits"));
    tassl_manifest_free(&m);
}

/* ---- sampling ------------------------------------------------------------------------------- */

static void one_record(tassl_manifest *m, const char *img, const char *mask) {
    memset(m, 0, sizeof *m);
    snprintf(m->source, sizeof m->source, "test");
    snprintf(m->root, sizeof m->root, "%s", tmp);
    char ip[512], mp[512];
    snprintf(ip, sizeof ip, "%s/%s", tmp, img);
    if (mask) snprintf(mp, sizeof mp, "%s/%s", tmp, mask);
    tassl_record r;
    memset(&r, 0, sizeof r);
    r.image = ip;
    r.mask = mask ? mp : NULL;
    r.label = 3;
    r.split = TASSL_SPLIT_NONE;
    tassl_box b = {{1, 2, 9}, {3, 5, 13}, 4}; /* (D, H, W) voxels z 1..2, y 2..4, x 9..12 */
    r.boxes = &b;
    r.nboxes = 1;
    r.box_dim = 3;
    assert_int_equal(tassl_manifest_add(m, &r), TASSL_OK);
}

/* every sample must equal its source region (value = flat index) */
static void check_region(const tassl_sample *s, int64_t D, int64_t H, int64_t W) {
    int64_t vsz[3] = {D, H, W};
    int ax = s->prov.axis;
    int srcax[3] = {0, 1, 2};
    if (ax == 1) srcax[0] = 1, srcax[1] = 0, srcax[2] = 2;
    if (ax == 2) srcax[0] = 2, srcax[1] = 0, srcax[2] = 1;
    int64_t osz[3] = {s->image.d, s->image.h, s->image.w};
    for (int64_t z = 0; z < osz[0]; z++)
        for (int64_t y = 0; y < osz[1]; y++)
            for (int64_t x = 0; x < osz[2]; x++) {
                int64_t o[3] = {z, y, x}, c[3];
                int inside = 1;
                for (int k = 0; k < 3; k++) {
                    c[srcax[k]] = s->prov.origin[srcax[k]] + o[k];
                    inside &= c[srcax[k]] >= 0 && c[srcax[k]] < vsz[srcax[k]];
                }
                float want = inside ? (float)((c[0] * H + c[1]) * W + c[2]) : -1.0f;
                assert_float_equal(s->image.data[(z * osz[1] + y) * osz[2] + x], want, 0);
            }
}

static void sampling_regions_and_boxes(void **state) {
    (void)state;
    tassl_manifest m;
    one_record(&m, "vol.nii.gz", NULL);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.pad_value = -1;
    o.samples_per_image = 50;
    /* 3D patches, one larger than the volume along D (padded) */
    o.dim = 3;
    o.patch[0] = 8, o.patch[1] = 4, o.patch[2] = 5;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    int64_t shape[4];
    assert_int_equal(tassl_dataset_shape(ds, shape), TASSL_OK);
    assert_true(shape[0] == 1 && shape[1] == 8 && shape[2] == 4 && shape[3] == 5);
    for (int64_t i = 0; i < 50; i++) {
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(1, 0, i), &s), TASSL_OK);
        assert_int_equal(s.prov.axis, -1);
        assert_int_equal(s.prov.origin[0], -1); /* centred padding: (8 - 6) / 2 */
        check_region(&s, 6, 8, 16);
        /* the box, moved and clipped */
        assert_int_equal(s.label, 3);
        float lo[3] = {1, 2, 9}, hi[3] = {3, 5, 13};
        int vis = 1;
        for (int a = 0; a < 3; a++) {
            float l = fmaxf(lo[a] - (float)s.prov.origin[a], 0);
            float h = fminf(hi[a] - (float)s.prov.origin[a], (float)s.prov.size[a]);
            vis &= h > l;
        }
        assert_int_equal(s.nboxes, vis);
        if (vis) assert_int_equal(s.boxes[0].label, 4);
        tassl_sample_free(&s);
    }
    /* the same seed gives the same sample */
    tassl_sample a, b;
    assert_int_equal(tassl_dataset_get(ds, 3, 99, &a), TASSL_OK);
    assert_int_equal(tassl_dataset_get(ds, 3, 99, &b), TASSL_OK);
    assert_memory_equal(a.prov.origin, b.prov.origin, sizeof a.prov.origin);
    tassl_sample_free(&a);
    tassl_sample_free(&b);
    tassl_cache_stats cs = tassl_dataset_cache_stats(ds);
    assert_int_equal(cs.misses, 1); /* decoded once */
    assert_true(cs.hits >= 50);
    tassl_dataset_close(ds);

    /* 2D slices across each axis */
    for (int axis = 0; axis < 3; axis++) {
        o = tassl_dataset_opts_default();
        o.pad_value = -1;
        o.samples_per_image = 20;
        o.axis = axis;
        o.patch[1] = 4, o.patch[2] = 6;
        assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
        for (int64_t i = 0; i < 20; i++) {
            tassl_sample s;
            assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(2, 0, i), &s), TASSL_OK);
            assert_int_equal(s.image.d, 1);
            assert_int_equal(s.prov.axis, axis);
            assert_int_equal(s.prov.size[axis], 1);
            check_region(&s, 6, 8, 16);
            for (int b2 = 0; b2 < s.nboxes; b2++) {
                assert_true(s.boxes[b2].lo[0] == 0 && s.boxes[b2].hi[0] == 1);
                /* a box appears only on slices that cross it */
                float lo[3] = {1, 2, 9}, hi[3] = {3, 5, 13};
                assert_true(s.prov.origin[axis] >= lo[axis] && s.prov.origin[axis] < hi[axis]);
            }
            tassl_sample_free(&s);
        }
        tassl_dataset_close(ds);
    }
    tassl_manifest_free(&m);
}

static void sampling_foreground_and_balanced(void **state) {
    (void)state;
    tassl_manifest m;
    one_record(&m, "vol.nii.gz", "fg.nii.gz");
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = 3;
    o.patch[0] = 2, o.patch[1] = 2, o.patch[2] = 2;
    o.sampling = TASSL_SAMPLING_FOREGROUND;
    o.samples_per_image = 100;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    for (int64_t i = 0; i < 100; i++) {
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(3, 0, i), &s), TASSL_OK);
        float fg = 0;
        for (int k = 0; k < 8; k++) fg += s.mask.data[k];
        assert_true(fg > 0); /* foreground is 2·2·2 voxels of 768: uniform would miss it */
        tassl_sample_free(&s);
    }
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);

    /* balanced: classes 0 (~85 %), 1 (~3 %), 2 (~12 %) picked about equally as patch centres */
    one_record(&m, "vol.nii.gz", "cls.nii.gz");
    o.sampling = TASSL_SAMPLING_BALANCED;
    o.patch[0] = o.patch[1] = o.patch[2] = 1;
    o.samples_per_image = 3000;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    int count[3] = {0};
    for (int64_t i = 0; i < 3000; i++) {
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(4, 0, i), &s), TASSL_OK);
        count[(int)s.mask.data[0]]++;
        tassl_sample_free(&s);
    }
    for (int c = 0; c < 3; c++) assert_true(count[c] > 850 && count[c] < 1150);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

static void dataset_bad_input(void **state) {
    (void)state;
    tassl_manifest m;
    /* image and mask on different grids (origin shifted by 5 mm; sizes differ) */
    const char *masks[] = {"shifted.nii.gz", "small.nii.gz"};
    for (int k = 0; k < 2; k++) {
        one_record(&m, "vol.nii.gz", masks[k]);
        tassl_dataset *ds;
        tassl_dataset_opts o = tassl_dataset_opts_default();
        o.patch[1] = o.patch[2] = 4;
        assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, 0, 1, &s), TASSL_ERR_ARG);
        assert_non_null(strstr(tassl_last_error(), "different grids"));
        assert_non_null(strstr(tassl_last_error(), masks[k]));
        tassl_dataset_close(ds);
        tassl_manifest_free(&m);
    }
    /* an image gone missing after the manifest was read: the loader reports it by name */
    one_record(&m, "gone.nii.gz", NULL);
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, NULL), TASSL_OK);
    int64_t shape[4];
    assert_int_equal(tassl_dataset_shape(ds, shape), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "gone.nii.gz"));
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
    /* bad options */
    one_record(&m, "vol.nii.gz", NULL);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = 4;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_ERR_ARG);
    o = tassl_dataset_opts_default();
    o.split = TASSL_SPLIT_TEST;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "no records in split 'test'"));
    tassl_manifest_free(&m);
}

static void cache_evicts_by_bytes(void **state) {
    (void)state;
    tassl_manifest m;
    memset(&m, 0, sizeof m);
    const char *imgs[] = {"vol.nii.gz", "fg.nii.gz", "cls.nii.gz"};
    for (int i = 0; i < 3; i++) {
        tassl_manifest one;
        one_record(&one, imgs[i], NULL);
        assert_int_equal(tassl_manifest_add(&m, &one.rec[0]), TASSL_OK);
        tassl_manifest_free(&one);
    }
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.patch[1] = o.patch[2] = 4;
    o.cache_bytes = 6 * 8 * 16 * 4 + 1024; /* room for one volume */
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < 3; i++) {
            tassl_sample s;
            assert_int_equal(tassl_dataset_get(ds, i, 5, &s), TASSL_OK);
            tassl_sample_free(&s);
        }
    tassl_cache_stats cs = tassl_dataset_cache_stats(ds);
    assert_int_equal(cs.misses, 6);
    assert_int_equal(cs.evictions, 5);
    assert_true(cs.bytes <= o.cache_bytes);
    tassl_dataset_close(ds);
    o.cache_bytes = (size_t)1 << 30;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < 3; i++) {
            tassl_sample s;
            assert_int_equal(tassl_dataset_get(ds, i, 5, &s), TASSL_OK);
            tassl_sample_free(&s);
        }
    cs = tassl_dataset_cache_stats(ds);
    assert_int_equal(cs.misses, 3);
    assert_int_equal(cs.hits, 3);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

/* ---- loader --------------------------------------------------------------------------------- */

/* a transform whose output depends on the sample's stream: adds seeded noise, two views */
static tassl_status noisy(void *user, tassl_sample *s, tassl_sample_out *out, uint64_t seed,
                          int64_t index, int64_t epoch) {
    (void)user;
    size_t n = (size_t)(s->image.channels * tassl_image_voxels(&s->image));
    for (int v = 0; v < out->nviews; v++) {
        tassl_aug_rng r;
        tassl_aug_rng_init(&r, seed, (uint64_t)index, (uint64_t)epoch, TASSL_STREAM_USER + (uint32_t)v);
        for (size_t i = 0; i < n; i++) out->view[v][i] = s->image.data[i] + tassl_aug_rng_normal(&r);
    }
    out->pretext = (int32_t)(index % 4);
    return TASSL_OK;
}

static void loader_repeatable_across_threads(void **state) {
    (void)state;
    tassl_manifest m;
    memset(&m, 0, sizeof m);
    const char *imgs[][2] = {{"vol.nii.gz", "fg.nii.gz"}, {"sub/a.nii.gz", "cls.nii.gz"}};
    for (int i = 0; i < 2; i++) {
        tassl_manifest one;
        one_record(&one, imgs[i][0], imgs[i][1]);
        assert_int_equal(tassl_manifest_add(&m, &one.rec[0]), TASSL_OK);
        tassl_manifest_free(&one);
    }
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = 3;
    o.patch[0] = 4, o.patch[1] = 4, o.patch[2] = 8;
    o.samples_per_image = 37;
    o.sampling = TASSL_SAMPLING_FOREGROUND;
    o.fg_prob = 0.5f;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    enum { NB = 11, PER = 4 * 4 * 8 };
    static float ref[2][NB][7][2][PER];
    static int32_t refpre[2][NB][7];
    int threads[] = {0, 1, 4};
    for (int t = 0; t < 3; t++) {
        tassl_loader_opts lo = tassl_loader_opts_default();
        lo.batch = 7;
        lo.threads = threads[t];
        lo.seed = 42;
        lo.nviews = 2;
        lo.transform = noisy;
        lo.prefetch = t == 2 ? 3 : 0;
        tassl_loader *ld;
        assert_int_equal(tassl_loader_open(&ld, ds, &lo), TASSL_OK);
        assert_int_equal(tassl_loader_batches(ld), NB); /* 74 samples → 11 batches, the last of 4 */
        for (int epoch = 0; epoch < 2; epoch++) {
            assert_int_equal(tassl_loader_start(ld, epoch), TASSL_OK);
            int64_t seen[74] = {0};
            for (int b = 0;; b++) {
                const tassl_batch *bt;
                int done;
                assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_OK);
                if (done) {
                    assert_int_equal(b, NB);
                    break;
                }
                assert_int_equal(bt->n, b == NB - 1 ? 4 : 7);
                assert_non_null(bt->mask);
                for (int j = 0; j < bt->n; j++) {
                    seen[bt->index[j]]++;
                    assert_int_equal(bt->pretext[j], bt->index[j] % 4);
                    for (int v = 0; v < 2; v++) {
                        if (t == 0) memcpy(ref[epoch][b][j][v], bt->x[v] + j * PER, sizeof(float) * PER);
                        else assert_memory_equal(ref[epoch][b][j][v], bt->x[v] + j * PER, sizeof(float) * PER);
                    }
                    if (t == 0) refpre[epoch][b][j] = bt->pretext[j];
                    else assert_int_equal(refpre[epoch][b][j], bt->pretext[j]);
                }
            }
            for (int i = 0; i < 74; i++) assert_int_equal(seen[i], 1); /* each sample once */
        }
        tassl_loader_close(ld);
    }
    /* epochs differ (order and draws) */
    assert_true(memcmp(ref[0], ref[1], sizeof ref[0]) != 0);
    /* stopping an epoch halfway and restarting it gives the same first batch */
    tassl_loader_opts lo = tassl_loader_opts_default();
    lo.batch = 7;
    lo.threads = 2;
    lo.seed = 42;
    lo.nviews = 2;
    lo.transform = noisy;
    tassl_loader *ld;
    assert_int_equal(tassl_loader_open(&ld, ds, &lo), TASSL_OK);
    const tassl_batch *bt;
    int done;
    assert_int_equal(tassl_loader_start(ld, 1), TASSL_OK);
    for (int k = 0; k < 3; k++) assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_OK);
    assert_int_equal(tassl_loader_start(ld, 1), TASSL_OK);
    assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_OK);
    assert_memory_equal(ref[1][0][0][0], bt->x[0], sizeof(float) * PER);
    tassl_loader_close(ld);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

static void loader_reports_errors(void **state) {
    (void)state;
    tassl_manifest m;
    memset(&m, 0, sizeof m);
    const char *imgs[] = {"vol.nii.gz", "vol.nii.gz", "vol.nii.gz", "missing.nii.gz"};
    for (int i = 0; i < 4; i++) {
        tassl_manifest one;
        one_record(&one, imgs[i], NULL);
        assert_int_equal(tassl_manifest_add(&m, &one.rec[0]), TASSL_OK);
        tassl_manifest_free(&one);
    }
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.patch[1] = o.patch[2] = 4;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    tassl_loader_opts lo = tassl_loader_opts_default();
    lo.batch = 1;
    lo.threads = 2;
    lo.shuffle = 0;
    tassl_loader *ld;
    assert_int_equal(tassl_loader_open(&ld, ds, &lo), TASSL_OK);
    const tassl_batch *bt;
    int done;
    for (int b = 0; b < 3; b++) assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_OK);
    assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "missing.nii.gz"));
    assert_int_equal(tassl_loader_next(ld, &bt, &done), TASSL_OK);
    assert_int_equal(done, 1);
    tassl_loader_close(ld);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

/* ---- synthetic data --------------------------------------------------------------------------- */

static void synth_ground_truth(void **state) {
    (void)state;
    for (int dim = 2; dim <= 3; dim++) {
        tassl_synth_opts o = tassl_synth_opts_default(dim);
        if (dim == 3) o.size[0] = o.size[1] = o.size[2] = 32;
        else o.size[1] = o.size[2] = 64;
        o.radius_min = 2, o.radius_max = 4;
        o.seed = 11;
        int positives = 0;
        for (int64_t i = 0; i < 24; i++) {
            tassl_image img, mask, img2, mask2;
            tassl_box boxes[TASSL_MAX_BOXES], boxes2[TASSL_MAX_BOXES];
            int nb, pos, nb2, pos2;
            assert_int_equal(tassl_synth_case(&o, i, &img, &mask, boxes, &nb, &pos), TASSL_OK);
            assert_int_equal(tassl_synth_case(&o, i, &img2, &mask2, boxes2, &nb2, &pos2), TASSL_OK);
            int64_t n = tassl_image_voxels(&img);
            assert_memory_equal(img.data, img2.data, (size_t)n * sizeof(float)); /* pure function */
            assert_int_equal(nb, nb2);
            positives += pos;
            /* mask voxels lie inside some box; every box is tight around lesion voxels */
            int64_t inmask = 0;
            for (int64_t v = 0; v < n; v++) {
                if (mask.data[v] == 0) continue;
                inmask++;
                int64_t c[3] = {v / (img.h * img.w), (v / img.w) % img.h, v % img.w};
                int in = 0;
                for (int b = 0; b < nb; b++) {
                    int ok = 1;
                    for (int a = 0; a < 3; a++) ok &= c[a] >= boxes[b].lo[a] && c[a] < boxes[b].hi[a];
                    in |= ok;
                }
                assert_true(in);
            }
            assert_int_equal(pos, inmask > 0);
            for (int b = 0; b < nb; b++) {
                double r = dim == 2 ? 0 : 1;
                (void)r;
                for (int a = dim == 2 ? 1 : 0; a < 3; a++) {
                    double ext = boxes[b].hi[a] - boxes[b].lo[a];
                    assert_true(ext >= 1 && ext <= 2 * 4 * 1.25 + 1);
                }
            }
            /* the lesion changes intensity: contrast is visible in the mean over the mask */
            tassl_image_free(&img), tassl_image_free(&mask), tassl_image_free(&img2), tassl_image_free(&mask2);
        }
        assert_true(positives >= 6 && positives <= 18);
        /* another seed, another phantom */
        tassl_synth_opts o2 = o;
        o2.seed = 12;
        tassl_image a, am, b, bm;
        tassl_box bx[TASSL_MAX_BOXES];
        int nb, pos;
        assert_int_equal(tassl_synth_case(&o, 0, &a, &am, bx, &nb, &pos), TASSL_OK);
        assert_int_equal(tassl_synth_case(&o2, 0, &b, &bm, bx, &nb, &pos), TASSL_OK);
        assert_true(memcmp(a.data, b.data, (size_t)tassl_image_voxels(&a) * sizeof(float)) != 0);
        tassl_image_free(&a), tassl_image_free(&am), tassl_image_free(&b), tassl_image_free(&bm);
    }
    /* a lesion's contrast shows: with noise off, voxels inside differ from a lesion-free twin */
    tassl_synth_opts o = tassl_synth_opts_default(2);
    o.noise = 0;
    o.lesion_prob = 1;
    o.contrast_min = o.contrast_max = 0.5f;
    tassl_image img, mask;
    tassl_box bx[TASSL_MAX_BOXES];
    int nb, pos;
    assert_int_equal(tassl_synth_case(&o, 3, &img, &mask, bx, &nb, &pos), TASSL_OK);
    assert_int_equal(pos, 1);
    tassl_synth_opts o0 = o;
    o0.contrast_min = o0.contrast_max = 0;
    tassl_image img0, mask0;
    assert_int_equal(tassl_synth_case(&o0, 3, &img0, &mask0, bx, &nb, &pos), TASSL_OK);
    double diff = 0;
    int64_t cnt = 0;
    for (int64_t v = 0; v < tassl_image_voxels(&img); v++)
        if (mask.data[v] > 0) {
            diff += fabs(img.data[v] - img0.data[v]);
            cnt++;
        }
    assert_true(cnt > 0);
    assert_true(diff / cnt > 0.3); /* 0.5 · white-matter level (0.85) times the bias field */
    tassl_image_free(&img), tassl_image_free(&mask), tassl_image_free(&img0), tassl_image_free(&mask0);
    /* bad options */
    o.dim = 5;
    assert_int_equal(tassl_synth_case(&o, 0, &img, &mask, bx, &nb, &pos), TASSL_ERR_ARG);
}

static void synth_writes_a_manifest(void **state) {
    (void)state;
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/synth", tmp);
    tassl_synth_opts o = tassl_synth_opts_default(2);
    o.size[1] = o.size[2] = 32;
    o.radius_min = 2, o.radius_max = 3;
    assert_int_equal(tassl_synth_write(&o, 10, d), TASSL_OK);
    snprintf(p, sizeof p, "%s/manifest.csv", d);
    tassl_manifest m;
    assert_int_equal(tassl_manifest_read(&m, p, NULL), TASSL_OK);
    assert_int_equal(m.n, 10);
    assert_true(m.has_mask && m.has_label && m.has_split);
    int nsplit[3] = {0};
    for (int i = 0; i < m.n; i++) nsplit[m.rec[i].split]++;
    assert_true(nsplit[0] >= 4 && nsplit[1] >= 1 && nsplit[2] >= 1);
    /* a loader reads it: the boxes in the batch are the generator's */
    tassl_dataset_opts dopt = tassl_dataset_opts_default();
    dopt.patch[1] = dopt.patch[2] = 0; /* whole images */
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &dopt), TASSL_OK);
    tassl_loader *ld;
    tassl_loader_opts lo = tassl_loader_opts_default();
    lo.batch = 10;
    lo.shuffle = 0;
    assert_int_equal(tassl_loader_open(&ld, ds, &lo), TASSL_OK);
    const tassl_batch *b;
    int done;
    assert_int_equal(tassl_loader_next(ld, &b, &done), TASSL_OK);
    for (int j = 0; j < 10; j++) {
        tassl_image img, mask;
        tassl_box bx[TASSL_MAX_BOXES];
        int nb, pos;
        assert_int_equal(tassl_synth_case(&o, j, &img, &mask, bx, &nb, &pos), TASSL_OK);
        assert_int_equal(b->label[j], pos);
        assert_int_equal(b->nboxes[j], nb);
        for (int k = 0; k < nb; k++)
            assert_memory_equal(b->boxes[j * TASSL_MAX_BOXES + k].lo, bx[k].lo, sizeof bx[k].lo);
        for (int64_t v = 0; v < 32 * 32; v++) assert_float_equal(b->x[0][j * 1024 + v], img.data[v], 1e-6);
        tassl_image_free(&img), tassl_image_free(&mask);
    }
    tassl_loader_close(ld);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

/* norm_scope image: the dataset z-scores each record's whole image once (statistics of the
 * record, not of the patch), and the foreground index still reads raw values */
static void image_norm_whole_record(void **state) {
    (void)state;
    tassl_manifest m;
    assert_int_equal(read_text(&m, "image,subject\nvol.nii.gz,a\n"), TASSL_OK);
    /* vol.nii.gz: 6 x 8 x 16 voxels, value = flat index 0..767. By hand, over the nonzero
     * voxels 1..767 with no clipping: mean 384, population variance (767² − 1) / 12 */
    const int64_t n = 6 * 8 * 16;
    const double mean = 384.0, sd = sqrt(((double)(n - 1) * (double)(n - 1) - 1.0) / 12.0);
    tassl_aug_config nc;
    tassl_aug_config_default(&nc);
    assert_int_equal(tassl_aug_config_set(&nc, "norm", "zscore"), TASSL_OK);
    assert_int_equal(tassl_aug_config_set(&nc, "norm_percentiles", "[0, 100]"), TASSL_OK);
    assert_int_equal(tassl_aug_config_set(&nc, "norm_nonzero", "true"), TASSL_OK);
    assert_int_equal(tassl_aug_config_set(&nc, "norm_scope", "image"), TASSL_OK);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = 3;
    o.patch[0] = 2, o.patch[1] = 3, o.patch[2] = 5;
    o.samples_per_image = 8;
    o.sampling = TASSL_SAMPLING_FOREGROUND;
    o.fg_threshold = 700.0f; /* raw values: only the last 67 voxels are foreground */
    o.image_norm = &nc;
    tassl_dataset *ds;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    nc.norm = TASSL_INTENSITY_NONE; /* the dataset keeps its own copy */
    for (int64_t i = 0; i < 8; i++) {
        tassl_sample s;
        assert_int_equal(tassl_dataset_get(ds, i, tassl_sample_seed(3, 0, i), &s), TASSL_OK);
        const int64_t *org = s.prov.origin;
        int64_t hi = -1;
        for (int64_t z = 0; z < 2; z++)
            for (int64_t y = 0; y < 3; y++)
                for (int64_t x = 0; x < 5; x++) {
                    int64_t raw = ((org[0] + z) * 8 + org[1] + y) * 16 + org[2] + x;
                    double want = raw == 0 ? 0.0 : ((double)raw - mean) / sd;
                    assert_float_equal(s.image.data[(z * 3 + y) * 5 + x], want, 1e-5);
                    if (raw > hi) hi = raw;
                }
        /* centred on a raw foreground voxel (> 700): the patch reaches past 700 */
        assert_true(hi > 700);
        tassl_sample_free(&s);
    }
    tassl_dataset_close(ds);
    /* without image_norm: raw values, as before */
    o.image_norm = NULL;
    assert_int_equal(tassl_dataset_open(&ds, &m, &o), TASSL_OK);
    tassl_sample s;
    assert_int_equal(tassl_dataset_get(ds, 0, tassl_sample_seed(3, 0, 0), &s), TASSL_OK);
    const int64_t *org = s.prov.origin;
    assert_float_equal(s.image.data[0], (double)((org[0] * 8 + org[1]) * 16 + org[2]), 0);
    tassl_sample_free(&s);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
}

/* at image scope a warp pads with normalised air (0 for a z-score over nonzero voxels), not
 * with the normalised minimum, as patch scope does when it pads raw air before normalising */
static void image_norm_pads_with_air(void **state) {
    (void)state;
    tassl_aug_config c;
    assert_int_equal(tassl_aug_preset("mri", &c), TASSL_OK);
    assert_int_equal(c.pad, TASSL_PAD_MIN);
    c.affine_p = 1;
    c.affine_scale[0] = c.affine_scale[1] = 0.5f; /* zoom out: the border comes from outside */
    memset(c.affine_rotate, 0, sizeof c.affine_rotate);
    c.elastic_p = c.bias_p = c.rician_p = c.noise_p = c.blur_p = 0;
    c.brightness_p = c.contrast_p = c.gamma_p = 0;
    memset(c.flip_p, 0, sizeof c.flip_p);
    assert_int_equal(tassl_aug_config_set(&c, "norm_scope", "image"), TASSL_OK);
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 1, 16, 16), TASSL_OK);
    for (int i = 0; i < 256; i++)
        img.data[i] = (float)(i % 16) - 7.5f; /* normalised-like */
    tassl_aug_sample as = {.image = &img};
    assert_int_equal(tassl_aug_apply(&c, &as, 1, 0, 0, NULL), TASSL_OK);
    assert_float_equal(img.data[0], 0.0, 0); /* corner: padded */
    assert_float_equal(img.data[255], 0.0, 0);
    assert_true(fabsf(img.data[8 * 16 + 9]) > 0.1f); /* inside: the image */
    tassl_image_free(&img);
}

/* a bad norm_scope value names the field and the choices */
static void image_norm_bad_value(void **state) {
    (void)state;
    tassl_aug_config c;
    tassl_aug_config_default(&c);
    assert_int_equal(c.norm_scope, TASSL_NORM_SCOPE_PATCH); /* default: per patch, as before */
    assert_int_not_equal(tassl_aug_config_set(&c, "norm_scope", "volume"), TASSL_OK);
    assert_non_null(strstr(tassl_last_error(), "norm_scope"));
    assert_non_null(strstr(tassl_last_error(), "patch|image"));
    assert_int_equal(c.norm_scope, TASSL_NORM_SCOPE_PATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_good),
        cmocka_unit_test(manifest_bad_input),
        cmocka_unit_test(manifest_scan_folder),
        cmocka_unit_test(splits_by_subject),
        cmocka_unit_test(sampling_regions_and_boxes),
        cmocka_unit_test(sampling_foreground_and_balanced),
        cmocka_unit_test(dataset_bad_input),
        cmocka_unit_test(image_norm_whole_record),
        cmocka_unit_test(image_norm_pads_with_air),
        cmocka_unit_test(image_norm_bad_value),
        cmocka_unit_test(cache_evicts_by_bytes),
        cmocka_unit_test(loader_repeatable_across_threads),
        cmocka_unit_test(loader_reports_errors),
        cmocka_unit_test(synth_ground_truth),
        cmocka_unit_test(synth_writes_a_manifest),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
