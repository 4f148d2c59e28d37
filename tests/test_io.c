/* test_io.c — PNG and NIfTI readers/writers, canonical orientation, resampling, grid checks,
 * statistics, `tassl inspect` against every NIfTI of mricron-data, and every bad-input case.
 *
 * Fixtures are generated at run time in a temporary directory: PNGs through libpng directly
 * (every colour type, bit depth, palette, tRNS), NIfTI files through nifticlib directly (every
 * datatype, NIfTI-1 and -2, .nii and .nii.gz, extensions that move vox_offset, oblique and
 * permuted sforms, qform-only headers, 4D), so the reader is checked against an independent
 * writer. Real files (mricron-data, insighttoolkit5-examples) are used when installed (tools/setup
 * installs them); their tests skip with a message when they are absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <nifti2_io.h>
#include <cmocka.h>
#include "test_util.h"
#include "tassl/io.h"

static char tmpdir[256];
#define MRICRON "/usr/share/mricron/templates"
#define ITKDATA "/usr/share/doc/insighttoolkit5-examples/examples/Data"

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tassl-test-io-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    nifti_set_debug_level(0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (getenv("TASSL_TEST_KEEP")) return 0; /* keep the fixtures for a look */
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') unlink(tmp(e->d_name));
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* ------------------------------------------------------------------------------------------ */
/* PNG fixtures through libpng                                                                */

/* Write a PNG with libpng: `samples` interleaved per pixel, in the file's bit depth (values <
 * 2^depth; for palette, indices). trns_n > 0 sets a tRNS chunk: palette alphas, or a colour key
 * (key[0] grey or key[0..2] RGB). */
static void write_png_raw(const char *path, int w, int h, int depth, int ctype,
                          const unsigned *samples, int ch, const png_color *pal, int npal,
                          const png_byte *pal_alpha, int trns_n, const unsigned *key) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop pi = png_create_info_struct(png);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_init_io(png, f);
    png_set_IHDR(png, pi, w, h, depth, ctype, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, pi, pal, npal);
    if (trns_n > 0) {
        png_color_16 k;
        memset(&k, 0, sizeof k);
        if (key) {
            k.gray = (png_uint_16)key[0];
            k.red = (png_uint_16)key[0];
            k.green = (png_uint_16)key[1];
            k.blue = (png_uint_16)key[2];
        }
        png_set_tRNS(png, pi, pal_alpha, pal_alpha ? trns_n : 0, key ? &k : NULL);
    }
    png_write_info(png, pi);
    /* pack each row into the file's bit layout */
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    unsigned char *row = calloc(rowbytes, 1);
    for (int y = 0; y < h; y++) {
        memset(row, 0, rowbytes);
        for (int x = 0; x < w * ch; x++) {
            unsigned v = samples[(size_t)y * w * ch + x];
            if (depth == 16) {
                row[2 * x] = (unsigned char)(v >> 8);
                row[2 * x + 1] = (unsigned char)v;
            } else if (depth == 8) {
                row[x] = (unsigned char)v;
            } else {
                int per = 8 / depth, shift = 8 - depth * (x % per + 1);
                row[x / per] |= (unsigned char)(v << shift);
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, pi);
    png_destroy_write_struct(&png, &pi);
    free(row);
    fclose(f);
}

static void png_every_color_type(void **state) {
    (void)state;
    enum { W = 5, H = 3 };
    unsigned s[W * H * 4];
    static const struct {
        int depth, ctype, ch;
    } kinds[] = {
        {1, PNG_COLOR_TYPE_GRAY, 1},       {2, PNG_COLOR_TYPE_GRAY, 1},
        {4, PNG_COLOR_TYPE_GRAY, 1},       {8, PNG_COLOR_TYPE_GRAY, 1},
        {16, PNG_COLOR_TYPE_GRAY, 1},      {8, PNG_COLOR_TYPE_GRAY_ALPHA, 2},
        {16, PNG_COLOR_TYPE_GRAY_ALPHA, 2}, {8, PNG_COLOR_TYPE_RGB, 3},
        {16, PNG_COLOR_TYPE_RGB, 3},       {8, PNG_COLOR_TYPE_RGB_ALPHA, 4},
        {16, PNG_COLOR_TYPE_RGB_ALPHA, 4},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        unsigned maxv = (1u << kinds[k].depth) - 1;
        int ch = kinds[k].ch;
        for (int i = 0; i < W * H * ch; i++) s[i] = (unsigned)(i * 2654435761u) % (maxv + 1);
        const char *p = tmp("kind.png");
        write_png_raw(p, W, H, kinds[k].depth, kinds[k].ctype, s, ch, NULL, 0, NULL, 0, NULL);
        tassl_image img;
        tassl_image_info info;
        assert_int_equal(tassl_image_read(p, NULL, &img, &info), TASSL_OK);
        assert_int_equal(info.format, TASSL_FORMAT_PNG);
        assert_int_equal(info.png_bit_depth, kinds[k].depth);
        assert_int_equal(img.channels, ch);
        assert_int_equal(img.d, 1);
        assert_int_equal(img.h, H);
        assert_int_equal(img.w, W);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < ch; c++)
                    assert_true(img.data[(c * H + y) * W + x] == (float)s[(y * W + x) * ch + c]);
        /* write back at 8 or 16 bits and read the same values */
        if (kinds[k].depth >= 8) {
            const char *q = tmp("back.png");
            assert_int_equal(tassl_png_write(q, &img, kinds[k].depth, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
            tassl_image back;
            tassl_image_info bi;
            assert_int_equal(tassl_png_read(q, NULL, &back, &bi), TASSL_OK);
            assert_int_equal(bi.png_color_type, kinds[k].ctype);
            assert_int_equal(bi.png_bit_depth, kinds[k].depth);
            assert_int_equal(back.channels, ch);
            assert_memory_equal(back.data, img.data, sizeof(float) * W * H * ch);
            tassl_image_free(&back);
        }
        tassl_image_free(&img);
    }
}

static void png_palette_and_trns(void **state) {
    (void)state;
    enum { W = 4, H = 2 };
    png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {0, 255, 7}};
    png_byte alpha[2] = {0, 128}; /* entry 2: opaque (no alpha given) */
    unsigned idx[W * H] = {0, 1, 2, 0, 2, 2, 1, 0};
    const char *p = tmp("pal.png");
    write_png_raw(p, W, H, 8, PNG_COLOR_TYPE_PALETTE, idx, 1, pal, 3, NULL, 0, NULL);
    tassl_image img;
    assert_int_equal(tassl_image_read(p, NULL, &img, NULL), TASSL_OK);
    assert_int_equal(img.channels, 3);
    for (int i = 0; i < W * H; i++) {
        assert_true(img.data[i] == pal[idx[i]].red);
        assert_true(img.data[W * H + i] == pal[idx[i]].green);
        assert_true(img.data[2 * W * H + i] == pal[idx[i]].blue);
    }
    tassl_image_free(&img);
    /* palette + tRNS → RGBA */
    write_png_raw(p, W, H, 4, PNG_COLOR_TYPE_PALETTE, idx, 1, pal, 3, alpha, 2, NULL);
    assert_int_equal(tassl_image_read(p, NULL, &img, NULL), TASSL_OK);
    assert_int_equal(img.channels, 4);
    for (int i = 0; i < W * H; i++) {
        assert_true(img.data[i] == pal[idx[i]].red);
        float a = idx[i] < 2 ? alpha[idx[i]] : 255;
        assert_true(img.data[3 * W * H + i] == a);
    }
    tassl_image_free(&img);
    /* 2-bit grey with a tRNS key: values kept 0..3, alpha 0 where the value is the key */
    unsigned g[W * H] = {0, 1, 2, 3, 3, 2, 1, 0}, key[3] = {2, 0, 0};
    write_png_raw(p, W, H, 2, PNG_COLOR_TYPE_GRAY, g, 1, NULL, 0, NULL, 1, key);
    tassl_image_info info;
    assert_int_equal(tassl_image_read(p, NULL, &img, &info), TASSL_OK);
    assert_true(info.png_has_trns);
    assert_int_equal(img.channels, 2);
    for (int i = 0; i < W * H; i++) {
        assert_true(img.data[i] == g[i]);
        assert_true(img.data[W * H + i] == (g[i] == 2 ? 0.0f : 3.0f));
    }
    tassl_image_free(&img);
    /* 16-bit RGB with a tRNS key */
    unsigned rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned)(i * 4099) % 65536;
    unsigned key3[3] = {rgb[3], rgb[4], rgb[5]}; /* pixel 1 is transparent */
    write_png_raw(p, W, H, 16, PNG_COLOR_TYPE_RGB, rgb, 3, NULL, 0, NULL, 1, key3);
    assert_int_equal(tassl_image_read(p, NULL, &img, NULL), TASSL_OK);
    assert_int_equal(img.channels, 4);
    for (int i = 0; i < W * H; i++) {
        assert_true(img.data[W * H + i] == rgb[3 * i + 1]);
        assert_true(img.data[3 * W * H + i] == (i == 1 ? 0.0f : 65535.0f));
    }
    tassl_image_free(&img);
}

static void png_write_scaling(void **state) {
    (void)state;
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 1, 2, 3), TASSL_OK);
    float v[6] = {-5, 0.4f, 0.6f, 254.5f, 300, NAN};
    memcpy(img.data, v, sizeof v);
    img.spacing[1] = 0.5; /* pHYs keeps the pixel size (to the integer pixels per metre) */
    img.spacing[2] = 0.25;
    const char *p = tmp("scale.png");
    assert_int_equal(tassl_png_write(p, &img, 8, TASSL_PNG_SCALE_CLAMP), TASSL_OK);
    tassl_image b;
    assert_int_equal(tassl_png_read(p, NULL, &b, NULL), TASSL_OK);
    float want[6] = {0, 0, 1, 254, 255, 0}; /* rounding to nearest even at .5 */
    assert_memory_equal(b.data, want, sizeof want);
    assert_true(fabs(b.spacing[1] - 0.5) < 1e-9 && fabs(b.spacing[2] - 0.25) < 1e-9);
    assert_true(fabs(b.affine[0][0] - 0.25) < 1e-9 && fabs(b.affine[1][1] - 0.5) < 1e-9);
    tassl_image_free(&b);
    float u[6] = {0, 0.5f, 1, 2, -1, 0.25f};
    memcpy(img.data, u, sizeof u);
    assert_int_equal(tassl_png_write(p, &img, 16, TASSL_PNG_SCALE_UNIT), TASSL_OK);
    assert_int_equal(tassl_png_read(p, NULL, &b, NULL), TASSL_OK);
    float wu[6] = {0, 32768, 65535, 65535, 0, 16384};
    assert_memory_equal(b.data, wu, sizeof wu);
    tassl_image_free(&b);
    float m[6] = {10, 20, 30, 40, 50, 60};
    memcpy(img.data, m, sizeof m);
    assert_int_equal(tassl_png_write(p, &img, 8, TASSL_PNG_SCALE_MINMAX), TASSL_OK);
    assert_int_equal(tassl_png_read(p, NULL, &b, NULL), TASSL_OK);
    float wm[6] = {0, 51, 102, 153, 204, 255};
    assert_memory_equal(b.data, wm, sizeof wm);
    tassl_image_free(&b);
    /* a 3D image is not a PNG */
    tassl_image v3;
    assert_int_equal(tassl_image_new(&v3, 1, 2, 2, 2), TASSL_OK);
    assert_int_equal(tassl_png_write(p, &v3, 8, TASSL_PNG_SCALE_CLAMP), TASSL_ERR_ARG);
    assert_int_equal(tassl_png_write(p, &img, 12, TASSL_PNG_SCALE_CLAMP), TASSL_ERR_ARG);
    tassl_image_free(&v3);
    tassl_image_free(&img);
}

/* ------------------------------------------------------------------------------------------ */
/* NIfTI fixtures through nifticlib                                                           */

typedef struct nii_spec {
    int version;      /* 1 or 2 */
    int dt;
    int64_t dims[8];
    double slope, inter;
    int qcode, scode;
    double sform[3][4];
    double quat[6];   /* b c d x y z */
    double qfac;
    double pixdim[4];
    int ext_bytes;    /* size of a comment extension (moves vox_offset) */
} nii_spec;

/* stored value i of a test pattern, as double, and its bytes */
static double pattern(int dt, int64_t i) {
    switch (dt) {
    case DT_UINT8: return (double)(i * 7 % 251);
    case DT_INT8: return (double)(i * 7 % 251) - 125;
    case DT_INT16: return (double)(i * 37 % 60001) - 30000;
    case DT_UINT16: return (double)(i * 37 % 65521);
    case DT_INT32: return (double)(i * 7919 % 2000003) - 1000000;
    case DT_UINT32: return (double)(i * 7919 % 4000037) + 3000000000.0;
    case DT_INT64: return (double)(i * 104729 % 1000003) - 500000;
    case DT_UINT64: return (double)(i * 104729 % 1000003) + 1e12;
    case DT_FLOAT32: return (double)(float)((double)i * 0.37 - 11.5);
    case DT_FLOAT64: return (double)i * 0.37 - 11.5;
    }
    return 0;
}

static void store(void *buf, int dt, int64_t i, double v) {
    switch (dt) {
    case DT_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
    case DT_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
    case DT_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
    case DT_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
    case DT_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case DT_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
    case DT_INT64: ((int64_t *)buf)[i] = (int64_t)v; break;
    case DT_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; break;
    case DT_FLOAT32: ((float *)buf)[i] = (float)v; break;
    case DT_FLOAT64: ((double *)buf)[i] = v; break;
    }
}

static nii_spec spec_default(int dt, int64_t nx, int64_t ny, int64_t nz) {
    nii_spec s;
    memset(&s, 0, sizeof s);
    s.version = 1;
    s.dt = dt;
    s.dims[0] = 3;
    s.dims[1] = nx;
    s.dims[2] = ny;
    s.dims[3] = nz;
    for (int i = 4; i < 8; i++) s.dims[i] = 1;
    s.slope = 1;
    s.qfac = 1;
    s.pixdim[1] = s.pixdim[2] = s.pixdim[3] = 1;
    return s;
}

/* Write through nifticlib; data = pattern(dt, i) for every voxel i (file order). */
static void write_nii(const char *path, const nii_spec *s) {
    nifti_image *nim = nifti_make_new_nim(s->dims, s->dt, 1);
    assert_non_null(nim);
    for (int64_t i = 0; i < nim->nvox; i++) store(nim->data, s->dt, i, pattern(s->dt, i));
    nim->scl_slope = s->slope;
    nim->scl_inter = s->inter;
    nim->qform_code = s->qcode;
    nim->sform_code = s->scode;
    nim->dx = nim->pixdim[1] = s->pixdim[1];
    nim->dy = nim->pixdim[2] = s->pixdim[2];
    nim->dz = nim->pixdim[3] = s->pixdim[3];
    nim->quatern_b = s->quat[0];
    nim->quatern_c = s->quat[1];
    nim->quatern_d = s->quat[2];
    nim->qoffset_x = s->quat[3];
    nim->qoffset_y = s->quat[4];
    nim->qoffset_z = s->quat[5];
    nim->qfac = s->qfac;
    memset(&nim->sto_xyz, 0, sizeof nim->sto_xyz);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) nim->sto_xyz.m[r][c] = s->sform[r][c];
    nim->sto_xyz.m[3][3] = 1;
    nim->xyz_units = NIFTI_UNITS_MM;
    if (s->ext_bytes > 0) {
        char *e = calloc((size_t)s->ext_bytes, 1);
        memset(e, 'x', (size_t)s->ext_bytes - 1);
        nifti_add_extension(nim, e, s->ext_bytes, NIFTI_ECODE_COMMENT);
        free(e);
    }
    if (s->version == 1) {
        assert_int_equal(nifti_set_filenames(nim, path, 0, 1), 0);
        nifti_image_write(nim);
        nifti_image_free(nim);
        assert_true(file_exists(path));
        return;
    }
    /* NIfTI-2: nifticlib 3.0.1 writes single-file NIfTI-2 without its header (iname_offset 0),
     * so the header comes from nifticlib's converter and the file is assembled here */
    nifti_2_header h;
    nim->nifti_type = NIFTI_FTYPE_NIFTI2_1; /* single file: magic "n+2" */
    assert_int_equal(nifti_convert_nim2n2hdr(nim, &h), 0);
    int64_t esize = s->ext_bytes > 0 ? (8 + s->ext_bytes + 15) / 16 * 16 : 0;
    h.vox_offset = 544 + esize;
    size_t total = (size_t)(544 + esize + nim->nvox * nim->nbyper);
    unsigned char *b = calloc(total, 1);
    memcpy(b, &h, sizeof h);
    if (esize) {
        b[540] = 1;
        int32_t ehdr[2] = {(int32_t)esize, NIFTI_ECODE_COMMENT};
        memcpy(b + 544, ehdr, 8);
        memset(b + 552, 'x', (size_t)s->ext_bytes - 1);
    }
    memcpy(b + 544 + esize, nim->data, (size_t)(nim->nvox * nim->nbyper));
    size_t l = strlen(path);
    gzFile g = gzopen(path, l > 3 && strcmp(path + l - 3, ".gz") == 0 ? "wb" : "wbT");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, b, (unsigned)total), (int)total);
    assert_int_equal(gzclose(g), Z_OK);
    free(b);
    nifti_image_free(nim);
}

static void nifti_every_datatype(void **state) {
    (void)state;
    static const int dts[] = {DT_UINT8, DT_INT8,  DT_INT16,   DT_UINT16,  DT_INT32,
                              DT_UINT32, DT_INT64, DT_UINT64, DT_FLOAT32, DT_FLOAT64};
    static const char *names[] = {"t.nii", "t.nii.gz"};
    int ncase = 0;
    for (int ver = 1; ver <= 2; ver++)
        for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++)
            for (int z = 0; z < 2; z++) {
                nii_spec s = spec_default(dts[k], 5, 4, 3);
                s.version = ver;
                /* alternate: no scaling (slope 0 = none), slope/inter, and extensions that push
                 * vox_offset to odd places */
                s.slope = (k % 3 == 0) ? 0 : (k % 3 == 1) ? 1 : 2.5;
                s.inter = (k % 3 == 2) ? -7 : 0;
                s.ext_bytes = (int)(k * 40 + z * 100);
                s.pixdim[1] = 0.5;
                s.pixdim[2] = 0.75;
                s.pixdim[3] = 2;
                char nm[64];
                snprintf(nm, sizeof nm, "v%d_dt%d_%s", ver, dts[k], names[z]);
                const char *p = tmp(nm);
                write_nii(p, &s);
                tassl_read_opts o = tassl_read_opts_default();
                o.keep_file_order = 1;
                tassl_image img;
                tassl_image_info info;
                tassl_status st = tassl_image_read(p, &o, &img, &info);
                if (st) print_error("v%d dt %d z %d ext %d: %s\n", ver, dts[k], z, s.ext_bytes, tassl_last_error());
                assert_int_equal(st, TASSL_OK);
                assert_int_equal(info.format, ver == 2 ? TASSL_FORMAT_NIFTI2 : TASSL_FORMAT_NIFTI1);
                assert_int_equal(info.datatype, dts[k]);
                assert_true(info.vox_offset >= (ver == 2 ? 544 : 352) + s.ext_bytes);
                assert_int_equal(img.d, 3);
                assert_int_equal(img.h, 4);
                assert_int_equal(img.w, 5);
                assert_true(img.spacing[0] == 2 && img.spacing[1] == 0.75 && img.spacing[2] == 0.5);
                double slope = s.slope == 0 ? 1 : s.slope, inter = s.slope == 0 ? 0 : s.inter;
                for (int64_t i = 0; i < 60; i++) {
                    float want = (float)(pattern(dts[k], i) * slope + inter);
                    if (img.data[i] != want) {
                        print_error("%s v%d dt %d voxel %lld: %.9g want %.9g\n", p, ver, dts[k],
                                    (long long)i, (double)img.data[i], (double)want);
                        fail();
                    }
                }
                tassl_image_free(&img);
                ncase++;
            }
    assert_int_equal(ncase, 40);
}

/* world coordinate of voxel (i, j, k) under a 4x4 affine */
static void world(double a[4][4], double i, double j, double k, double out[3]) {
    for (int r = 0; r < 3; r++) out[r] = a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3];
}

/* Every voxel of the canonical image sits at the world position of the file voxel with the same
 * value (values are unique), and the canonical axes point R, A, S. */
static void check_canonical(const char *p, const char *want_file_codes) {
    tassl_image raw, can;
    tassl_image_info ri, ci;
    tassl_read_opts o = tassl_read_opts_default();
    o.keep_file_order = 1;
    assert_int_equal(tassl_image_read(p, &o, &raw, &ri), TASSL_OK);
    assert_int_equal(tassl_image_read(p, NULL, &can, &ci), TASSL_OK);
    assert_string_equal(ci.orient_file, want_file_codes);
    assert_string_equal(ci.orient_image, "RAS");
    char codes[4];
    tassl_image_axcodes(&can, codes);
    assert_string_equal(codes, "RAS");
    assert_int_equal(raw.d * raw.h * raw.w, can.d * can.h * can.w);
    /* index of each value in the raw image */
    int64_t n = raw.d * raw.h * raw.w;
    for (int64_t q = 0; q < n; q++) {
        int64_t i = q % can.w, j = q / can.w % can.h, k = q / (can.w * can.h);
        double wc[3], wr[3];
        world(can.affine, (double)i, (double)j, (double)k, wc);
        /* find the raw voxel with this value (pattern is unique and increasing for float64) */
        int64_t r = -1;
        for (int64_t t = 0; t < n; t++)
            if (raw.data[t] == can.data[q]) r = t;
        assert_true(r >= 0);
        world(raw.affine, (double)(r % raw.w), (double)(r / raw.w % raw.h),
              (double)(r / (raw.w * raw.h)), wr);
        for (int c = 0; c < 3; c++) assert_true(fabs(wc[c] - wr[c]) < 1e-6);
    }
    /* spacing (D, H, W) = norms of the affine's columns (d, h, w) */
    for (int a = 0; a < 3; a++) {
        double nn = sqrt(can.affine[0][a] * can.affine[0][a] + can.affine[1][a] * can.affine[1][a] +
                         can.affine[2][a] * can.affine[2][a]);
        assert_true(fabs(nn - can.spacing[2 - a]) < 1e-9);
    }
    /* back to file order: identical to the raw read */
    assert_int_equal(tassl_image_to_file_order(&can, &ci), TASSL_OK);
    assert_int_equal(can.w, raw.w);
    assert_int_equal(can.d, raw.d);
    assert_memory_equal(can.data, raw.data, sizeof(float) * (size_t)n);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) assert_true(fabs(can.affine[r][c] - raw.affine[r][c]) < 1e-9);
    tassl_image_free(&raw);
    tassl_image_free(&can);
}

static void nifti_orientation(void **state) {
    (void)state;
    /* sform: i → -y (P), j → -z (I), k → +x (R), with spacings 2, 3, 0.5 and an offset */
    nii_spec s = spec_default(DT_FLOAT64, 4, 3, 5);
    s.scode = 2;
    double sf[3][4] = {{0, 0, 0.5, 10}, {-2, 0, 0, 20}, {0, -3, 0, 30}};
    memcpy(s.sform, sf, sizeof sf);
    s.pixdim[1] = 2;
    s.pixdim[2] = 3;
    s.pixdim[3] = 0.5;
    write_nii(tmp("o1.nii.gz"), &s);
    check_canonical(tmp("o1.nii.gz"), "PIR");
    tassl_image img;
    tassl_image_info info;
    assert_int_equal(tassl_image_read(tmp("o1.nii.gz"), NULL, &img, &info), TASSL_OK);
    /* canonical: W = file k (5, 0.5 mm), H = file i (4, 2 mm), D = file j (3, 3 mm) */
    assert_int_equal(img.w, 5);
    assert_int_equal(img.h, 4);
    assert_int_equal(img.d, 3);
    assert_true(img.spacing[0] == 3 && img.spacing[1] == 2 && img.spacing[2] == 0.5);
    tassl_image_free(&img);

    /* qform only (sform_code 0): 90° rotation about z with qfac -1 */
    nii_spec q = spec_default(DT_FLOAT64, 3, 4, 2);
    q.qcode = 1;
    q.quat[2] = sqrt(0.5); /* d: rotation of 90° about z */
    q.quat[0] = 0;
    q.quat[1] = 0;
    q.quat[3] = -5;
    q.qfac = -1;
    write_nii(tmp("o2.nii"), &q);
    check_canonical(tmp("o2.nii"), "ALI");

    /* both set: the sform wins */
    nii_spec b = q;
    b.scode = 4;
    double sf2[3][4] = {{-1, 0, 0, 1}, {0, 1, 0, 2}, {0, 0, 1, 3}};
    memcpy(b.sform, sf2, sizeof sf2);
    write_nii(tmp("o3.nii"), &b);
    check_canonical(tmp("o3.nii"), "LAS");
    assert_int_equal(tassl_image_read_info(tmp("o3.nii"), &info), TASSL_OK);
    assert_int_equal(info.sform_code, 4);
    assert_true(info.file_affine[0][0] == -1);

    /* neither: diag(pixdim) ("method 1"), already RAS */
    nii_spec m = spec_default(DT_FLOAT64, 3, 2, 2);
    m.pixdim[1] = 1.5;
    write_nii(tmp("o4.nii"), &m);
    check_canonical(tmp("o4.nii"), "RAS");
}

/* "x.nii" and "x.nii.gz" side by side: each read gives its own file's data (nifticlib alone
 * would read the .nii's data for the .nii.gz header) */
static void nifti_sibling_files(void **state) {
    (void)state;
    nii_spec a = spec_default(DT_UINT8, 4, 4, 4), b = spec_default(DT_INT16, 4, 4, 4);
    b.ext_bytes = 200;
    b.slope = 3;
    write_nii(tmp("sib.nii"), &a);
    write_nii(tmp("sib.nii.gz"), &b);
    tassl_image x, y;
    tassl_image_info xi, yi;
    assert_int_equal(tassl_image_read(tmp("sib.nii"), NULL, &x, &xi), TASSL_OK);
    assert_int_equal(tassl_image_read(tmp("sib.nii.gz"), NULL, &y, &yi), TASSL_OK);
    assert_int_equal(xi.datatype, DT_UINT8);
    assert_int_equal(yi.datatype, DT_INT16);
    for (int i = 0; i < 64; i++) {
        assert_true(x.data[i] == (float)pattern(DT_UINT8, i));
        assert_true(y.data[i] == (float)(3 * pattern(DT_INT16, i)));
    }
    tassl_image_free(&x);
    tassl_image_free(&y);
}

static void nifti_4d_volumes(void **state) {
    (void)state;
    nii_spec s = spec_default(DT_INT16, 3, 2, 2);
    s.dims[0] = 4;
    s.dims[4] = 3;
    s.scode = 1;
    double sf[3][4] = {{-1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    memcpy(s.sform, sf, sizeof sf);
    const char *p = tmp("v4.nii.gz");
    write_nii(p, &s);
    for (int t = 0; t < 3; t++) {
        tassl_read_opts o = tassl_read_opts_default();
        o.volume = t;
        o.keep_file_order = 1;
        tassl_image img;
        tassl_image_info info;
        assert_int_equal(tassl_image_read(p, &o, &img, &info), TASSL_OK);
        assert_int_equal(info.volumes, 3);
        assert_int_equal(img.channels, 1);
        for (int i = 0; i < 12; i++) assert_true(img.data[i] == (float)pattern(DT_INT16, t * 12 + i));
        tassl_image_free(&img);
    }
    tassl_read_opts o = tassl_read_opts_default();
    o.volumes_as_channels = 1;
    tassl_image all;
    assert_int_equal(tassl_image_read(p, &o, &all, NULL), TASSL_OK);
    assert_int_equal(all.channels, 3);
    /* canonical: x flipped; channel t, voxel (0,0,0) = file voxel (2,0,0) of volume t */
    for (int t = 0; t < 3; t++) assert_true(all.data[t * 12] == (float)pattern(DT_INT16, t * 12 + 2));
    tassl_image_free(&all);
    o = tassl_read_opts_default();
    o.volume = 3;
    tassl_image img;
    assert_int_equal(tassl_image_read(p, &o, &img, NULL), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "v4.nii.gz"));
    assert_non_null(strstr(tassl_last_error(), "volume 3"));
}

static void nifti_write_round_trip(void **state) {
    (void)state;
    /* oblique, non-canonical geometry written and read back */
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 4, 5, 6), TASSL_OK);
    for (int i = 0; i < 120; i++) img.data[i] = (float)i * 0.5f - 3;
    double c = cos(0.3), sn = sin(0.3);
    double aff[4][4] = {{1.5 * c, -2 * sn, 0, -10}, {1.5 * sn, 2 * c, 0, 5}, {0, 0, 2.5, 7}, {0, 0, 0, 1}};
    memcpy(img.affine, aff, sizeof aff);
    img.spacing[0] = 2.5;
    img.spacing[1] = 2;
    img.spacing[2] = 1.5;
    snprintf(img.source, sizeof img.source, "synthetic");
    static const char *names[] = {"w.nii", "w.nii.gz"};
    for (int z = 0; z < 2; z++) {
        const char *p = tmp(names[z]);
        assert_int_equal(tassl_nifti_write(p, &img, TASSL_NIFTI_FLOAT32, 2), TASSL_OK);
        tassl_image back;
        tassl_image_info info;
        assert_int_equal(tassl_image_read(p, NULL, &back, &info), TASSL_OK);
        assert_int_equal(info.sform_code, 2);
        assert_int_equal(info.qform_code, 2);
        assert_string_equal(info.datatype_name, "FLOAT32");
        assert_int_equal(back.d, 4);
        assert_memory_equal(back.data, img.data, sizeof(float) * 120);
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 4; k++) {
                assert_true(fabs(back.affine[r][k] - aff[r][k]) < 1e-5);
                /* the qform says the same thing as the sform */
                assert_true(fabs(info.qform[r][k] - aff[r][k]) < 1e-4);
            }
        for (int k = 0; k < 3; k++) assert_true(fabs(back.spacing[k] - img.spacing[k]) < 1e-5);
        assert_int_equal(tassl_image_same_grid(&img, &back, 1e-4), TASSL_OK);
        tassl_image_free(&back);
    }
    /* labels: integers only, range checked */
    img.is_label = 1;
    for (int i = 0; i < 120; i++) img.data[i] = (float)(i % 5);
    assert_int_equal(tassl_nifti_write(tmp("l.nii.gz"), &img, TASSL_NIFTI_UINT8, 1), TASSL_OK);
    tassl_read_opts o = tassl_read_opts_default();
    o.is_label = 1;
    tassl_image lab;
    tassl_image_info li;
    assert_int_equal(tassl_image_read(tmp("l.nii.gz"), &o, &lab, &li), TASSL_OK);
    assert_true(lab.is_label);
    assert_int_equal(li.datatype, DT_UINT8);
    assert_memory_equal(lab.data, img.data, sizeof(float) * 120);
    tassl_image_free(&lab);
    img.data[7] = 2.5f;
    assert_int_equal(tassl_nifti_write(tmp("bad.nii.gz"), &img, TASSL_NIFTI_UINT8, 1), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "2.5"));
    assert_false(file_exists(tmp("bad.nii.gz")));
    img.data[7] = -40000;
    assert_int_equal(tassl_nifti_write(tmp("bad.nii.gz"), &img, TASSL_NIFTI_INT16, 1), TASSL_ERR_ARG);
    img.data[7] = -400;
    assert_int_equal(tassl_nifti_write(tmp("l16.nii"), &img, TASSL_NIFTI_INT16, 1), TASSL_OK);
    assert_int_equal(tassl_nifti_write(tmp("x.png"), &img, TASSL_NIFTI_INT16, 1), TASSL_ERR_ARG);
    /* a failed write leaves an existing file intact */
    assert_int_equal(tassl_nifti_write(tmp("w.nii"), &img, TASSL_NIFTI_UINT8, 1), TASSL_ERR_ARG);
    tassl_image keep;
    assert_int_equal(tassl_image_read(tmp("w.nii"), NULL, &keep, NULL), TASSL_OK);
    assert_true(keep.data[1] == -2.5f);
    tassl_image_free(&keep);
    tassl_image_free(&img);
}

/* Real data: read an atlas in LAS order, write it, read back: same grid and values. */
static void nifti_real_round_trip(void **state) {
    (void)state;
    const char *p = MRICRON "/AICHAmc.nii.gz";
    if (!file_exists(p)) {
        print_message("skipped: %s absent (tools/setup installs mricron-data)\n", p);
        skip();
    }
    tassl_read_opts o = tassl_read_opts_default();
    o.is_label = 1;
    tassl_image a, b;
    tassl_image_info ai;
    assert_int_equal(tassl_image_read(p, &o, &a, &ai), TASSL_OK);
    assert_string_equal(ai.orient_file, "LAS");
    assert_int_equal(tassl_nifti_write(tmp("aicha.nii.gz"), &a, TASSL_NIFTI_UINT8, ai.sform_code), TASSL_OK);
    assert_int_equal(tassl_image_read(tmp("aicha.nii.gz"), &o, &b, NULL), TASSL_OK);
    assert_int_equal(tassl_image_same_grid(&a, &b, 1e-4), TASSL_OK);
    assert_memory_equal(a.data, b.data, sizeof(float) * (size_t)tassl_image_voxels(&a));
    /* and in the file's own voxel order, voxel for voxel like nifticlib's reading */
    assert_int_equal(tassl_image_to_file_order(&b, &ai), TASSL_OK);
    nifti_image *nim = nifti_image_read(p, 1);
    assert_non_null(nim);
    assert_int_equal(nim->nvox, tassl_image_voxels(&b));
    for (int64_t i = 0; i < nim->nvox; i++) assert_true(b.data[i] == ((uint8_t *)nim->data)[i]);
    nifti_image_free(nim);
    tassl_image_free(&a);
    tassl_image_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Resampling, grids, statistics, montage                                                     */

static void resample_linear_and_nearest(void **state) {
    (void)state;
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 6, 8, 10), TASSL_OK);
    img.spacing[0] = 3;
    img.spacing[1] = 2;
    img.spacing[2] = 1;
    double aff[4][4] = {{-1, 0, 0, 50}, {0, 2, 0, -20}, {0, 0, 3, 4}, {0, 0, 0, 1}};
    memcpy(img.affine, aff, sizeof aff);
    /* value = a linear function of world coordinates: trilinear reproduces it inside */
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 10; i++) {
                double w[3];
                world(aff, i, j, k, w);
                img.data[(k * 8 + j) * 10 + i] = (float)(0.5 * w[0] - 0.25 * w[1] + w[2]);
            }
    double sp[3] = {1.5, 1, 2};
    tassl_image r;
    assert_int_equal(tassl_image_resample(&img, sp, &r), TASSL_OK);
    /* extent kept: 6*3/1.5 = 12, 8*2/1 = 16, 10*1/2 = 5 */
    assert_int_equal(r.d, 12);
    assert_int_equal(r.h, 16);
    assert_int_equal(r.w, 5);
    assert_true(r.spacing[0] == 1.5 && r.spacing[1] == 1 && r.spacing[2] == 2);
    int checked = 0;
    for (int k = 0; k < 12; k++)
        for (int j = 0; j < 16; j++)
            for (int i = 0; i < 5; i++) {
                /* interior only: edge voxels replicate (clamped) */
                double ok_ = (k * 1.5 + 0.75 >= 1.5 && k * 1.5 + 0.75 <= 16.5) &&
                             (j + 0.5 >= 1 && j + 0.5 <= 15) && (i * 2 + 1 >= 0.5 && i * 2 + 1 <= 9.5);
                if (!ok_) continue;
                double w[3];
                world(r.affine, i, j, k, w);
                double want = 0.5 * w[0] - 0.25 * w[1] + w[2];
                assert_true(fabs(r.data[(k * 16 + j) * 5 + i] - want) < 1e-4);
                checked++;
            }
    assert_true(checked > 300);
    /* the resampled grid covers the same box: first voxel edge stays put */
    double e0[3], e1[3];
    world(aff, -0.5, -0.5, -0.5, e0);
    world(r.affine, -0.5, -0.5, -0.5, e1);
    for (int c = 0; c < 3; c++) assert_true(fabs(e0[c] - e1[c]) < 1e-9);
    tassl_image_free(&r);

    /* labels: nearest, only existing values */
    img.is_label = 1;
    for (int q = 0; q < 480; q++) img.data[q] = (float)((q / 7) % 4 * 10);
    assert_int_equal(tassl_image_resample(&img, sp, &r), TASSL_OK);
    assert_true(r.is_label);
    for (int64_t q = 0; q < tassl_image_voxels(&r); q++) {
        float v = r.data[q];
        assert_true(v == 0 || v == 10 || v == 20 || v == 30);
    }
    tassl_image_free(&r);
    /* identity spacing: identical image */
    double same[3] = {3, 2, 1};
    assert_int_equal(tassl_image_resample(&img, same, &r), TASSL_OK);
    assert_memory_equal(r.data, img.data, sizeof(float) * 480);
    assert_int_equal(tassl_image_same_grid(&img, &r, 0), TASSL_OK);
    tassl_image_free(&r);
    double bad[3] = {1, 0, 1};
    assert_int_equal(tassl_image_resample(&img, bad, &r), TASSL_ERR_ARG);
    bad[1] = NAN;
    assert_int_equal(tassl_image_resample(&img, bad, &r), TASSL_ERR_ARG);
    tassl_image_free(&img);
    /* a 2D image keeps D = 1 */
    assert_int_equal(tassl_image_new(&img, 3, 1, 4, 4), TASSL_OK);
    double sp2[3] = {5, 0.5, 0.5};
    assert_int_equal(tassl_image_resample(&img, sp2, &r), TASSL_OK);
    assert_int_equal(r.d, 1);
    assert_int_equal(r.h, 8);
    assert_int_equal(r.channels, 3);
    tassl_image_free(&r);
    tassl_image_free(&img);
}

static void grid_mismatch_is_listed(void **state) {
    (void)state;
    tassl_image a, b;
    assert_int_equal(tassl_image_new(&a, 1, 4, 5, 6), TASSL_OK);
    assert_int_equal(tassl_image_new(&b, 1, 4, 5, 7), TASSL_OK);
    snprintf(a.source, sizeof a.source, "img.nii.gz");
    snprintf(b.source, sizeof b.source, "mask.nii.gz");
    b.spacing[0] = 2;
    b.affine[2][2] = 2;
    b.affine[0][3] = 1;
    assert_int_equal(tassl_image_same_grid(&a, &b, 0), TASSL_ERR_ARG);
    const char *m = tassl_last_error();
    assert_non_null(strstr(m, "img.nii.gz vs mask.nii.gz"));
    assert_non_null(strstr(m, "size (D,H,W) 4x5x6 vs 4x5x7"));
    assert_non_null(strstr(m, "spacing"));
    assert_non_null(strstr(m, "affine[0][3] 0 vs 1"));
    assert_non_null(strstr(m, "affine[2][2] 1 vs 2"));
    b.affine[0][0] = -1; /* a flip shows as an orientation difference too */
    assert_int_equal(tassl_image_same_grid(&a, &b, 0), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "orientation RAS vs LAS"));
    assert_int_equal(tassl_image_same_grid(&a, &a, 0), TASSL_OK);
    tassl_image_free(&a);
    tassl_image_free(&b);
}

static void stats_values(void **state) {
    (void)state;
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 2, 1, 1, 101), TASSL_OK);
    /* channel 0: 100, 99, ..., 0 → percentiles = p exactly; channel 1: labels + a NaN */
    for (int i = 0; i <= 100; i++) img.data[i] = (float)(100 - i);
    for (int i = 0; i <= 100; i++) img.data[101 + i] = (float)(i % 3 == 0 ? 7 : i % 3 == 1 ? 2 : -1);
    img.data[101 + 50] = NAN;
    tassl_image_stats *st = malloc(sizeof *st);
    assert_int_equal(tassl_image_stats_compute(&img, 0, st), TASSL_OK);
    assert_int_equal(st->count, 101);
    assert_true(st->min == 0 && st->max == 100 && st->mean == 50);
    assert_true(fabs(st->std - sqrt(850.0)) < 1e-9); /* population std of 0..100 */
    assert_true(st->p1 == 1 && st->p5 == 5 && st->p50 == 50 && st->p95 == 95 && st->p99 == 99);
    assert_true(st->all_integer);
    assert_int_equal(st->nlabels, 101);
    assert_int_equal(tassl_image_stats_compute(&img, 1, st), TASSL_OK);
    assert_int_equal(st->nonfinite, 1);
    assert_int_equal(st->count, 100);
    assert_int_equal(st->nlabels, 3);
    assert_true(st->label_value[0] == -1 && st->label_value[1] == 2 && st->label_value[2] == 7);
    assert_int_equal(st->label_count[0] + st->label_count[1] + st->label_count[2], 100);
    assert_int_equal(st->label_count[2], 34);
    /* numpy.percentile([0, 10], 5, method='linear') = 0.5 */
    img.data[0] = 0;
    img.data[1] = 10;
    tassl_image two = img;
    two.w = 2;
    two.channels = 1;
    assert_int_equal(tassl_image_stats_compute(&two, 0, st), TASSL_OK);
    assert_true(fabs(st->p5 - 0.5) < 1e-12 && fabs(st->p50 - 5) < 1e-12);
    assert_int_equal(st->nlabels, 2);
    img.data[1] = 0.5f;
    assert_int_equal(tassl_image_stats_compute(&two, 0, st), TASSL_OK);
    assert_false(st->all_integer);
    assert_int_equal(st->nlabels, 0);
    assert_int_equal(tassl_image_stats_compute(&img, 2, st), TASSL_ERR_ARG);
    free(st);
    tassl_image_free(&img);
    /* the two percentile paths agree: integers (from value counts) vs the same + 0.25 (select) */
    tassl_image r;
    assert_int_equal(tassl_image_new(&r, 2, 1, 1, 997), TASSL_OK);
    uint32_t h = 12345;
    for (int i = 0; i < 997; i++) {
        h = h * 1664525u + 1013904223u;
        r.data[i] = (float)((h >> 16) % 50);
        r.data[997 + i] = r.data[i] + 0.25f;
    }
    tassl_image_stats *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_int_equal(tassl_image_stats_compute(&r, 0, a), TASSL_OK);
    assert_int_equal(tassl_image_stats_compute(&r, 1, b), TASSL_OK);
    assert_true(a->nlabels > 0 && b->nlabels == 0);
    assert_true(fabs(b->p1 - a->p1 - 0.25) < 1e-9 && fabs(b->p5 - a->p5 - 0.25) < 1e-9);
    assert_true(fabs(b->p50 - a->p50 - 0.25) < 1e-9 && fabs(b->p95 - a->p95 - 0.25) < 1e-9);
    assert_true(fabs(b->p99 - a->p99 - 0.25) < 1e-9);
    assert_true(fabs(b->std - a->std) < 1e-9);
    free(a);
    free(b);
    tassl_image_free(&r);
}

static void montage_layout(void **state) {
    (void)state;
    tassl_image img;
    assert_int_equal(tassl_image_new(&img, 1, 5, 3, 4), TASSL_OK);
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 4; i++) img.data[(k * 3 + j) * 4 + i] = (float)(k * 10 + j);
    img.is_label = 1; /* window = min..max: 0..42 */
    const char *p = tmp("montage.png");
    assert_int_equal(tassl_image_write_montage(p, &img, 5), TASSL_OK);
    tassl_image m;
    assert_int_equal(tassl_png_read(p, NULL, &m, NULL), TASSL_OK);
    /* 5 slices → 3 columns x 2 rows of 3x4 tiles */
    assert_int_equal(m.h, 6);
    assert_int_equal(m.w, 12);
    /* tile 4 (row 1, col 1) is slice 4, flipped vertically: its top row is j = 2 */
    float want = nearbyintf((float)((4 * 10 + 2) * 255.0 / 42.0));
    assert_true(m.data[3 * 12 + 4] == want);
    assert_true(m.data[0] == nearbyintf((float)(2 * 255.0 / 42.0)));
    assert_true(m.data[5 * 12 + 11] == 0); /* unused tile stays black */
    tassl_image_free(&m);
    tassl_image_free(&img);
}

/* ------------------------------------------------------------------------------------------ */
/* Bad input                                                                                  */

static void expect_error(tassl_status got, tassl_status want, const char *path, const char *what) {
    if (got != want)
        print_error("got %s want %s: %s\n", tassl_status_name(got), tassl_status_name(want),
                    tassl_last_error());
    assert_int_equal(got, want);
    const char *m = tassl_last_error();
    const char *base = strrchr(path, '/');
    assert_non_null(strstr(m, base ? base + 1 : path));
    if (what && !strstr(m, what)) {
        print_error("message '%s' lacks '%s'\n", m, what);
        fail();
    }
}

static void write_bytes(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void bad_missing_and_magic(void **state) {
    (void)state;
    tassl_image img;
    expect_error(tassl_image_read(tmp("nope.nii.gz"), NULL, &img, NULL), TASSL_ERR_IO,
                 tmp("nope.nii.gz"), "No such file");
    expect_error(tassl_png_read(tmp("nope.png"), NULL, &img, NULL), TASSL_ERR_IO, "nope.png", NULL);
    write_bytes(tmp("junk.nii"), "GIF89a this is not an image at all", 34);
    expect_error(tassl_image_read(tmp("junk.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "junk.nii",
                 "not a PNG or NIfTI");
    expect_error(tassl_nifti_read(tmp("junk.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "junk.nii",
                 "header size");
    expect_error(tassl_png_read(tmp("junk.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "junk.nii",
                 "signature");
    write_bytes(tmp("empty.png"), "", 0);
    expect_error(tassl_image_read(tmp("empty.png"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "empty.png", "empty");
    /* a NIfTI-1 header with the wrong magic (Analyze) and two-file magic */
    nii_spec s = spec_default(DT_UINT8, 2, 2, 2);
    write_nii(tmp("m.nii"), &s);
    size_t n;
    unsigned char *b = read_bytes(tmp("m.nii"), &n);
    memcpy(b + 344, "xyz", 4);
    write_bytes(tmp("magic.nii"), b, n);
    expect_error(tassl_image_read(tmp("magic.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "magic.nii",
                 "magic");
    memcpy(b + 344, "ni1", 4);
    write_bytes(tmp("ni1.nii"), b, n);
    expect_error(tassl_image_read(tmp("ni1.nii"), NULL, &img, NULL), TASSL_ERR_UNSUPPORTED,
                 "ni1.nii", "two-file");
    /* gzip content named .nii, and a NIfTI without a NIfTI name */
    write_nii(tmp("gz.nii.gz"), &s);
    unsigned char *g = read_bytes(tmp("gz.nii.gz"), &n);
    write_bytes(tmp("gz.nii"), g, n);
    expect_error(tassl_image_read(tmp("gz.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "gz.nii",
                 "rename it to .nii.gz");
    write_bytes(tmp("scan.dat"), g, n);
    expect_error(tassl_image_read(tmp("scan.dat"), NULL, &img, NULL), TASSL_ERR_ARG, "scan.dat",
                 ".nii or .nii.gz");
    free(g);
    free(b);
}

static void bad_truncated(void **state) {
    (void)state;
    tassl_image img;
    nii_spec s = spec_default(DT_INT16, 40, 30, 20);
    s.scode = 1;
    s.sform[0][0] = s.sform[1][1] = s.sform[2][2] = 1;
    write_nii(tmp("full.nii"), &s);
    write_nii(tmp("full.nii.gz"), &s);
    size_t n;
    unsigned char *b = read_bytes(tmp("full.nii"), &n);
    /* data cut short */
    write_bytes(tmp("cut.nii"), b, n - 1000);
    expect_error(tassl_image_read(tmp("cut.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "cut.nii",
                 "truncated");
    /* header cut short */
    write_bytes(tmp("hdr.nii"), b, 200);
    expect_error(tassl_image_read(tmp("hdr.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "hdr.nii",
                 "truncated header");
    free(b);
    /* gzip cut in the middle of the data and in the middle of the header */
    b = read_bytes(tmp("full.nii.gz"), &n);
    write_bytes(tmp("cut.nii.gz"), b, n / 2);
    expect_error(tassl_image_read(tmp("cut.nii.gz"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "cut.nii.gz", "gzip");
    write_bytes(tmp("cuthdr.nii.gz"), b, 30);
    tassl_status st = tassl_image_read(tmp("cuthdr.nii.gz"), NULL, &img, NULL);
    assert_true(st == TASSL_ERR_FORMAT);
    assert_non_null(strstr(tassl_last_error(), "cuthdr.nii.gz"));
    /* corrupt deflate data */
    for (size_t i = n / 3; i < n / 3 + 64; i++) b[i] ^= 0x5a;
    write_bytes(tmp("bits.nii.gz"), b, n);
    expect_error(tassl_image_read(tmp("bits.nii.gz"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "bits.nii.gz", NULL);
    free(b);
    /* a gzip stream that is complete but holds too little data */
    b = read_bytes(tmp("full.nii"), &n);
    gzFile g = gzopen(tmp("short.nii.gz"), "wb");
    gzwrite(g, b, (unsigned)(n - 5000));
    gzclose(g);
    expect_error(tassl_image_read(tmp("short.nii.gz"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "short.nii.gz", "truncated");
    free(b);
}

/* Patch a NIfTI-1 header field of an existing .nii and write it under another name. */
static void patch_n1(const char *src, const char *dst, void (*fn)(nifti_1_header *h)) {
    size_t n;
    unsigned char *b = read_bytes(src, &n);
    nifti_1_header h;
    memcpy(&h, b, sizeof h);
    fn(&h);
    memcpy(b, &h, sizeof h);
    write_bytes(dst, b, n);
    free(b);
}
static void p_neg(nifti_1_header *h) { h->dim[2] = -4; }
static void p_zero(nifti_1_header *h) { h->dim[3] = 0; }
static void p_ndim(nifti_1_header *h) { h->dim[0] = 9; }
static void p_huge(nifti_1_header *h) { h->dim[1] = h->dim[2] = h->dim[3] = 32767; }
static void p_cplx(nifti_1_header *h) { h->datatype = DT_COMPLEX64; h->bitpix = 64; }
static void p_off(nifti_1_header *h) { h->vox_offset = 100; }
static void p_offnan(nifti_1_header *h) { h->vox_offset = NAN; }

static void bad_header_values(void **state) {
    (void)state;
    tassl_image img;
    nii_spec s = spec_default(DT_UINT8, 4, 4, 4);
    write_nii(tmp("h.nii"), &s);
    patch_n1(tmp("h.nii"), tmp("neg.nii"), p_neg);
    expect_error(tassl_image_read(tmp("neg.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "neg.nii",
                 "dim[2] = -4");
    patch_n1(tmp("h.nii"), tmp("zero.nii"), p_zero);
    expect_error(tassl_image_read(tmp("zero.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "zero.nii",
                 "dim[3] = 0");
    patch_n1(tmp("h.nii"), tmp("ndim.nii"), p_ndim);
    expect_error(tassl_image_read(tmp("ndim.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "ndim.nii",
                 "dim[0] = 9");
    /* 32767^3 voxels: more than memory / the 2^31-1 voxel limit, refused before any allocation */
    patch_n1(tmp("h.nii"), tmp("huge.nii"), p_huge);
    expect_error(tassl_image_read(tmp("huge.nii"), NULL, &img, NULL), TASSL_ERR_NOMEM, "huge.nii",
                 "voxels");
    tassl_image_info info;
    assert_int_equal(tassl_image_read_info(tmp("huge.nii"), &info), TASSL_OK); /* header is fine */
    assert_int_equal(info.dim[1], 32767);
    /* a small explicit limit */
    tassl_read_opts o = tassl_read_opts_default();
    o.max_bytes = 100;
    expect_error(tassl_image_read(tmp("h.nii"), &o, &img, NULL), TASSL_ERR_NOMEM, "h.nii", "limit");
    patch_n1(tmp("h.nii"), tmp("cplx.nii"), p_cplx);
    expect_error(tassl_image_read(tmp("cplx.nii"), NULL, &img, NULL), TASSL_ERR_UNSUPPORTED,
                 "cplx.nii", "COMPLEX64");
    patch_n1(tmp("h.nii"), tmp("off.nii"), p_off);
    expect_error(tassl_image_read(tmp("off.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "off.nii",
                 "vox_offset 100");
    patch_n1(tmp("h.nii"), tmp("offnan.nii"), p_offnan);
    expect_error(tassl_image_read(tmp("offnan.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "offnan.nii", "vox_offset");
    /* NIfTI-2: dims whose product overflows 64 bits */
    nii_spec s2 = spec_default(DT_UINT8, 4, 4, 4);
    s2.version = 2;
    write_nii(tmp("h2.nii"), &s2);
    size_t n;
    unsigned char *b = read_bytes(tmp("h2.nii"), &n);
    nifti_2_header h2;
    memcpy(&h2, b, sizeof h2);
    h2.dim[1] = h2.dim[2] = (int64_t)1 << 40;
    memcpy(b, &h2, sizeof h2);
    write_bytes(tmp("ovf.nii"), b, n);
    expect_error(tassl_image_read(tmp("ovf.nii"), NULL, &img, NULL), TASSL_ERR_FORMAT, "ovf.nii",
                 "overflows");
    free(b);
    /* byte-swapped (big-endian) header and data read the same as native */
    nii_spec sw = spec_default(DT_INT16, 3, 2, 2);
    write_nii(tmp("le.nii"), &sw);
    b = read_bytes(tmp("le.nii"), &n);
    nifti_1_header h;
    memcpy(&h, b, sizeof h);
    nifti_swap_as_nifti1(&h);
    memcpy(b, &h, sizeof h);
    nifti_swap_2bytes(12, b + 352);
    write_bytes(tmp("be.nii"), b, n);
    free(b);
    tassl_image le, be;
    assert_int_equal(tassl_image_read(tmp("le.nii"), NULL, &le, NULL), TASSL_OK);
    assert_int_equal(tassl_image_read(tmp("be.nii"), NULL, &be, NULL), TASSL_OK);
    assert_memory_equal(le.data, be.data, 12 * sizeof(float));
    tassl_image_free(&le);
    tassl_image_free(&be);
}

static void bad_nonfinite_and_labels(void **state) {
    (void)state;
    nii_spec s = spec_default(DT_FLOAT32, 4, 3, 2);
    write_nii(tmp("f.nii"), &s);
    size_t n;
    unsigned char *b = read_bytes(tmp("f.nii"), &n);
    float v[3] = {NAN, INFINITY, -INFINITY};
    memcpy(b + 352 + 4 * 5, v, sizeof v);
    write_bytes(tmp("nan.nii"), b, n);
    free(b);
    tassl_image img;
    tassl_image_info info;
    tassl_read_opts o = tassl_read_opts_default();
    o.keep_file_order = 1;
    tassl_status st = tassl_image_read(tmp("nan.nii"), &o, &img, &info);
    if (st) print_error("%s\n", tassl_last_error());
    assert_int_equal(st, TASSL_OK);
    assert_int_equal(info.nonfinite, 3);
    assert_true(isnan(img.data[5]) && isinf(img.data[6]));
    tassl_image_free(&img);
    o.nonfinite = TASSL_NONFINITE_REJECT;
    expect_error(tassl_image_read(tmp("nan.nii"), &o, &img, &info), TASSL_ERR_NUMERIC, "nan.nii",
                 "3 of 24 voxels");
    o.nonfinite = TASSL_NONFINITE_ZERO;
    assert_int_equal(tassl_image_read(tmp("nan.nii"), &o, &img, &info), TASSL_OK);
    assert_int_equal(info.nonfinite, 3);
    assert_true(img.data[5] == 0 && img.data[6] == 0 && img.data[7] == 0);
    assert_true(img.data[8] == (float)pattern(DT_FLOAT32, 8));
    tassl_image_free(&img);
    /* non-integer values where a label map is expected */
    o = tassl_read_opts_default();
    o.is_label = 1;
    expect_error(tassl_image_read(tmp("f.nii"), &o, &img, NULL), TASSL_ERR_FORMAT, "f.nii",
                 "label");
}

static void bad_png(void **state) {
    (void)state;
    enum { W = 32, H = 16 };
    unsigned s[W * H];
    for (int i = 0; i < W * H; i++) s[i] = (unsigned)(i * 31 % 256);
    write_png_raw(tmp("ok.png"), W, H, 8, PNG_COLOR_TYPE_GRAY, s, 1, NULL, 0, NULL, 0, NULL);
    size_t n;
    unsigned char *b = read_bytes(tmp("ok.png"), &n);
    tassl_image img;
    /* truncated at several places: in IHDR, in IDAT, before IEND */
    size_t cuts[3] = {20, n / 2, n - 6};
    for (int k = 0; k < 3; k++) {
        write_bytes(tmp("cut.png"), b, cuts[k]);
        expect_error(tassl_image_read(tmp("cut.png"), NULL, &img, NULL), TASSL_ERR_FORMAT,
                     "cut.png", NULL);
        assert_null(img.data);
    }
    /* corrupt CRC of IHDR (bytes 29..32) */
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    c[30] ^= 0xff;
    write_bytes(tmp("crc.png"), c, n);
    expect_error(tassl_image_read(tmp("crc.png"), NULL, &img, NULL), TASSL_ERR_FORMAT, "crc.png",
                 "CRC");
    /* corrupt CRC of IDAT (the chunk after IHDR, at byte 33) */
    memcpy(c, b, n);
    assert_memory_equal(c + 37, "IDAT", 4);
    size_t ilen = (size_t)c[33] << 24 | (size_t)c[34] << 16 | (size_t)c[35] << 8 | c[36];
    c[41 + ilen] ^= 0x01;
    write_bytes(tmp("idat.png"), c, n);
    expect_error(tassl_image_read(tmp("idat.png"), NULL, &img, NULL), TASSL_ERR_FORMAT, "idat.png",
                 "CRC");
    /* corrupt compressed data inside IDAT: zlib or the CRC check speaks, never a crash */
    memcpy(c, b, n);
    for (int i = 0; i < 8; i++) c[41 + 2 + i] ^= 0x55;
    write_bytes(tmp("zdat.png"), c, n);
    expect_error(tassl_image_read(tmp("zdat.png"), NULL, &img, NULL), TASSL_ERR_FORMAT, "zdat.png",
                 "corrupt PNG");
    /* a width of zero in IHDR (with its CRC fixed, so libpng's own check speaks) */
    memcpy(c, b, n);
    memset(c + 16, 0, 4);
    uint32_t crc = (uint32_t)crc32(0, c + 12, 17);
    c[29] = (unsigned char)(crc >> 24);
    c[30] = (unsigned char)(crc >> 16);
    c[31] = (unsigned char)(crc >> 8);
    c[32] = (unsigned char)crc;
    write_bytes(tmp("w0.png"), c, n);
    expect_error(tassl_image_read(tmp("w0.png"), NULL, &img, NULL), TASSL_ERR_FORMAT, "w0.png",
                 "width");
    /* memory limit */
    tassl_read_opts o = tassl_read_opts_default();
    o.max_bytes = 1000;
    expect_error(tassl_png_read(tmp("ok.png"), &o, &img, NULL), TASSL_ERR_NOMEM, "ok.png", "limit");
    /* from memory, as the fuzzer does */
    assert_int_equal(tassl_png_read_mem(b, n, "mem.png", NULL, &img, NULL), TASSL_OK);
    assert_int_equal(img.w, W);
    tassl_image_free(&img);
    expect_error(tassl_png_read_mem(b, n - 30, "mem.png", NULL, &img, NULL), TASSL_ERR_FORMAT,
                 "mem.png", NULL);
    free(c);
    free(b);
}

/* ------------------------------------------------------------------------------------------ */
/* Real files: `tassl inspect` agrees with nifticlib's raw header, for every mricron NIfTI     */


/* "key: v1 v2 ..." → up to n numbers; returns how many were parsed, -1 if the key is missing */
static int get_nums(const char *out, const char *key, double *v, int n) {
    char k[64];
    snprintf(k, sizeof k, "\n%s: ", key);
    const char *p = strstr(out, k);
    if (!p) return -1;
    p += strlen(k);
    int m = 0;
    while (m < n) {
        char *end;
        double x = strtod(p, &end);
        if (end == p) break;
        v[m++] = x;
        p = end;
    }
    return m;
}

static const char *get_str(const char *out, const char *key, char *buf, size_t n) {
    char k[64];
    snprintf(k, sizeof k, "\n%s: ", key);
    const char *p = strstr(out, k);
    if (!p) return NULL;
    p += strlen(k);
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) {
        buf[i] = p[i];
        i++;
    }
    buf[i] = 0;
    return buf;
}

static char *run_inspect(const char *file, const char *extra) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' %s", tassl_exe(), file, extra);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 20, n = 1;
    char *out = malloc(cap);
    out[0] = '\n'; /* so every key, the first too, follows a newline */
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, f)) > 0) n += got;
    out[n] = 0;
    int rc = pclose(f);
    if (rc != 0) print_error("%s → exit %d\n%s\n", cmd, rc, out);
    assert_int_equal(rc, 0);
    return out;
}

static void near(double a, double b, double tol, const char *what, const char *file) {
    if (!(fabs(a - b) <= tol * (1 + fabs(b)))) {
        print_error("%s: %s = %.9g, header/reference says %.9g\n", file, what, a, b);
        fail();
    }
}

static void inspect_matches_every_mricron_nifti(void **state) {
    (void)state;
    DIR *d = opendir(MRICRON);
    if (!d || access(tassl_exe(), X_OK) != 0) {
        if (d) closedir(d);
        print_message("skipped: %s or %s absent (tools/setup installs mricron-data)\n", MRICRON,
                      tassl_exe());
        skip();
    }
    struct dirent *e;
    int nfiles = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 7, ".nii.gz") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", MRICRON, e->d_name);
        char *out = run_inspect(path, "");
        /* the raw header, read independently through nifticlib */
        int ver = 0;
        void *raw = nifti_read_header(path, &ver, 1);
        assert_non_null(raw);
        assert_int_equal(ver, 1); /* every mricron file is NIfTI-1 */
        nifti_1_header h;
        memcpy(&h, raw, sizeof h);
        free(raw);
        double v[16] = {0};
        char s[64];
        assert_string_equal(get_str(out, "format", s, sizeof s), "nifti1");
        int nd = get_nums(out, "dims", v, 8);
        assert_int_equal(nd, h.dim[0]);
        for (int i = 0; i < nd; i++) near(v[i], h.dim[i + 1], 0, "dim", path);
        assert_int_equal(get_nums(out, "pixdim", v, 8), h.dim[0]);
        for (int i = 0; i < nd; i++) near(v[i], h.pixdim[i + 1], 1e-7, "pixdim", path);
        get_nums(out, "datatype_code", v, 1);
        near(v[0], h.datatype, 0, "datatype", path);
        assert_string_equal(get_str(out, "datatype", s, sizeof s), nifti_datatype_string(h.datatype));
        get_nums(out, "vox_offset", v, 1);
        near(v[0], h.vox_offset, 0, "vox_offset", path);
        get_nums(out, "scl_slope", v, 1);
        near(v[0], h.scl_slope, 1e-7, "scl_slope", path);
        get_nums(out, "scl_inter", v, 1);
        near(v[0], h.scl_inter, 1e-7, "scl_inter", path);
        get_nums(out, "qform_code", v, 1);
        near(v[0], h.qform_code, 0, "qform_code", path);
        get_nums(out, "sform_code", v, 1);
        near(v[0], h.sform_code, 0, "sform_code", path);
        if (h.sform_code > 0) {
            const float *rows[3] = {h.srow_x, h.srow_y, h.srow_z};
            for (int r = 0; r < 3; r++) {
                char key[32];
                snprintf(key, sizeof key, "sform_row%d", r);
                assert_int_equal(get_nums(out, key, v, 4), 4);
                for (int c = 0; c < 4; c++) near(v[c], rows[r][c], 1e-6, key, path);
            }
        }
        /* orientation of the matrix in use (sform if its code is set, else qform) */
        nifti_image *nim = nifti_image_read(path, 1);
        assert_non_null(nim);
        nifti_dmat44 M = h.sform_code > 0 ? nim->sto_xyz : nim->qto_xyz;
        int ic, jc, kc;
        nifti_dmat44_to_orientation(M, &ic, &jc, &kc);
        char want[4] = {0, 0, 0, 0};
        /* nifticlib's strings name both ends: "Left-to-Right" → the axis points R */
        const char *names[3] = {nifti_orientation_string(ic), nifti_orientation_string(jc),
                                nifti_orientation_string(kc)};
        for (int a = 0; a < 3; a++) {
            const char *to = strstr(names[a], "-to-");
            assert_non_null(to);
            want[a] = to[4];
        }
        assert_string_equal(get_str(out, "orientation_file", s, sizeof s), want);
        assert_string_equal(get_str(out, "orientation_image", s, sizeof s), "RAS");
        /* intensity statistics against the data nifticlib decodes, scaled as the header says */
        double slope = (h.scl_slope != 0 && isfinite(h.scl_slope)) ? h.scl_slope : 1;
        double inter = (h.scl_slope != 0 && isfinite(h.scl_slope)) ? h.scl_inter : 0;
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < nim->nvox; i++) {
            double x;
            switch (nim->datatype) {
            case DT_UINT8: x = ((uint8_t *)nim->data)[i]; break;
            case DT_INT16: x = ((int16_t *)nim->data)[i]; break;
            case DT_FLOAT32: x = ((float *)nim->data)[i]; break;
            default: x = NAN; fail_msg("%s: unexpected datatype %d", path, nim->datatype);
            }
            x = (double)(float)(x * slope + inter);
            if (x < mn) mn = x;
            if (x > mx) mx = x;
            sum += x;
        }
        get_nums(out, "min", v, 1);
        near(v[0], mn, 1e-7, "min", path);
        get_nums(out, "max", v, 1);
        near(v[0], mx, 1e-7, "max", path);
        get_nums(out, "mean", v, 1);
        near(v[0], sum / (double)nim->nvox, 1e-7, "mean", path);
        assert_int_equal(get_nums(out, "percentiles_1_5_50_95_99", v, 5), 5);
        for (int i = 0; i < 4; i++) assert_true(v[i] <= v[i + 1]);
        assert_true(v[0] >= mn && v[4] <= mx);
        /* image size = header dims permuted; spacing = |columns| of the matrix in use */
        assert_int_equal(get_nums(out, "image_size", v, 4), 4);
        near(v[1] * v[2] * v[3], (double)nim->nvox, 0, "voxels", path);
        nifti_image_free(nim);
        free(out);
        nfiles++;
    }
    closedir(d);
    assert_true(nfiles >= 13); /* mricron-data 1.2.20211006 ships 13 .nii.gz */
    print_message("checked inspect against %d mricron-data NIfTI files\n", nfiles);
}

static void inspect_labels_and_montage(void **state) {
    (void)state;
    const char *p = MRICRON "/aal.nii.gz";
    if (!file_exists(p) || access(tassl_exe(), X_OK) != 0) {
        print_message("skipped: %s absent (tools/setup installs mricron-data)\n", p);
        skip();
    }
    char extra[600];
    snprintf(extra, sizeof extra, "--montage '%s' --slices 9", tmp("aal.png"));
    char *out = run_inspect(p, extra);
    double v[4] = {0, 0, 0, 0};
    get_nums(out, "distinct_values", v, 1);
    near(v[0], 117, 0, "distinct values (116 regions + background)", p);
    /* counts of labels 0 and 1 against nifticlib's data */
    nifti_image *nim = nifti_image_read(p, 1);
    assert_non_null(nim);
    int64_t c0 = 0, c1 = 0;
    for (int64_t i = 0; i < nim->nvox; i++) {
        uint8_t x = ((uint8_t *)nim->data)[i];
        c0 += x == 0;
        c1 += x == 1;
    }
    nifti_image_free(nim);
    char want[64];
    snprintf(want, sizeof want, " 0:%lld 1:%lld ", (long long)c0, (long long)c1);
    assert_non_null(strstr(out, want));
    free(out);
    tassl_image m;
    assert_int_equal(tassl_png_read(tmp("aal.png"), NULL, &m, NULL), TASSL_OK);
    assert_int_equal(m.h, 3 * 217);
    assert_int_equal(m.w, 3 * 181);
    tassl_image_free(&m);
    /* a bad file: exit status 1 and the message on stderr */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' 2>/dev/null", tassl_exe(), tmp("missing.nii"));
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
}

static void itk_examples(void **state) {
    (void)state;
    static const char *pngs[] = {"BrainT1Slice.png", "BrainProtonDensitySlice.png",
                                 "FatMRISlice.png", "VisibleWomanEyeSlice.png", "BinaryImage.png"};
    char p[512];
    snprintf(p, sizeof p, "%s/KmeansTest_T1UCharRaw.nii.gz", ITKDATA);
    if (!file_exists(p)) {
        print_message("skipped: %s absent (tools/setup installs insighttoolkit5-examples)\n", p);
        skip();
    }
    for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", ITKDATA, pngs[i]);
        if (!file_exists(p)) continue;
        /* libpng's own reading of the header and pixels, for comparison */
        png_image pi;
        memset(&pi, 0, sizeof pi);
        pi.version = PNG_IMAGE_VERSION;
        assert_true(png_image_begin_read_from_file(&pi, p));
        tassl_image img;
        tassl_image_info info;
        assert_int_equal(tassl_image_read(p, NULL, &img, &info), TASSL_OK);
        assert_int_equal(img.w, pi.width);
        assert_int_equal(img.h, pi.height);
        png_image_free(&pi);
        tassl_image_free(&img);
    }
    snprintf(p, sizeof p, "%s/KmeansTest_T1UCharRaw.nii.gz", ITKDATA);
    {
        tassl_image img;
        tassl_image_info info;
        assert_int_equal(tassl_image_read(p, NULL, &img, &info), TASSL_OK);
        assert_string_equal(info.orient_file, "LSA");
        assert_int_equal(img.w, 128);
        assert_int_equal(img.h, 62);
        assert_int_equal(img.d, 128);
        assert_true(img.spacing[0] == 2 && img.spacing[1] == 3 && img.spacing[2] == 2);
        /* resample to 1 mm isotropic */
        double one[3] = {1, 1, 1};
        tassl_image r;
        assert_int_equal(tassl_image_resample(&img, one, &r), TASSL_OK);
        assert_int_equal(r.d, 256);
        assert_int_equal(r.h, 186);
        assert_int_equal(r.w, 256);
        tassl_image_free(&r);
        tassl_image_free(&img);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_every_color_type),
        cmocka_unit_test(png_palette_and_trns),
        cmocka_unit_test(png_write_scaling),
        cmocka_unit_test(nifti_every_datatype),
        cmocka_unit_test(nifti_orientation),
        cmocka_unit_test(nifti_sibling_files),
        cmocka_unit_test(nifti_4d_volumes),
        cmocka_unit_test(nifti_write_round_trip),
        cmocka_unit_test(nifti_real_round_trip),
        cmocka_unit_test(resample_linear_and_nearest),
        cmocka_unit_test(grid_mismatch_is_listed),
        cmocka_unit_test(stats_values),
        cmocka_unit_test(montage_layout),
        cmocka_unit_test(bad_missing_and_magic),
        cmocka_unit_test(bad_truncated),
        cmocka_unit_test(bad_header_values),
        cmocka_unit_test(bad_nonfinite_and_labels),
        cmocka_unit_test(bad_png),
        cmocka_unit_test(inspect_matches_every_mricron_nifti),
        cmocka_unit_test(inspect_labels_and_montage),
        cmocka_unit_test(itk_examples),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
