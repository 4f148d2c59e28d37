/* nifti.c — NIfTI-1 and NIfTI-2 (.nii, .nii.gz) reading and NIfTI-1 writing.
 *
 * Reading goes in three steps:
 *   1. our own header check (zlib reads the first 540 bytes, plain or gzip): magic, dims (every
 *      used one >= 1, product without overflow, within the memory limit), datatype, vox_offset,
 *      and for uncompressed files that the file holds all the data the header promises. nifticlib
 *      is only handed headers that pass, so it never sees absurd sizes; it never exits (libnifti2
 *      imports no exit/abort) but prints to stderr, which the debug level 0 mostly silences.
 *   2. nifticlib reads the header (qto_xyz/sto_xyz matrices, extensions, names, orientation).
 *   3. the voxels of the requested volume(s) are read here with zlib, byte-swapped with
 *      nifticlib's helpers, converted to float with scl_slope/scl_inter, then reoriented to the
 *      canonical RAS order. (nifticlib's own data reading would, for "x.nii.gz", read "x.nii"
 *      when both exist; see read_voxels.) A short read is diagnosed: truncated data, truncated or
 *      corrupt gzip.
 *      (include/tassl/io.h explains the convention).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>
#include <nifti2_io.h>
#include "io_internal.h"

/* nifticlib's settings are process-wide; set once. TASSL_NIFTI_DEBUG=N turns its own stderr
 * diagnostics back on (levels as nifti_set_debug_level) when a header puzzles. */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void nifti_quiet(void) {
    nifti_set_debug_level(getenv("TASSL_NIFTI_DEBUG") ? atoi(getenv("TASSL_NIFTI_DEBUG")) : 0);
    nifti_set_allow_upper_fext(1); /* accept .NII / .NII.GZ as well */
}

/* ------------------------------------------------------------------------------------------ */
/* Raw header check                                                                          */

typedef struct raw_header {
    int version; /* 1 or 2 */
    int gz;      /* the file is gzip-compressed */
    int swapped; /* the header (and data) are in the other byte order */
    int64_t dim[8];
    double pixdim[8];
    int datatype, nbyper;
    int64_t vox_offset;
    double slope, inter;
    int64_t nvox;     /* product of dim[1..dim[0]] */
    int64_t volumes;  /* product of dim[4..dim[0]] */
} raw_header;

static int ends_with(const char *s, const char *suf) {
    size_t l = strlen(s), n = strlen(suf);
    return l >= n && strcasecmp(s + l - n, suf) == 0;
}

/* bytes per voxel of the datatypes we convert; 0 for the others */
static int dtype_bytes(int dt) {
    switch (dt) {
    case DT_UINT8: case DT_INT8: return 1;
    case DT_INT16: case DT_UINT16: return 2;
    case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
    case DT_INT64: case DT_UINT64: case DT_FLOAT64: return 8;
    default: return 0;
    }
}

static int dtype_is_int(int dt) { return dt != DT_FLOAT32 && dt != DT_FLOAT64; }

static tassl_status check_header(const char *path, raw_header *rh, const tassl_read_opts *opts,
                                 int check_limit) {
    memset(rh, 0, sizeof *rh);
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[2] = {0};
    size_t got = fread(m, 1, 2, f);
    fclose(f);
    rh->gz = got == 2 && m[0] == 0x1f && m[1] == 0x8b;
    if (ends_with(path, ".hdr") || ends_with(path, ".img") || ends_with(path, ".hdr.gz") ||
        ends_with(path, ".img.gz"))
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "%s: two-file NIfTI/Analyze (.hdr + .img) is not supported; convert it "
                           "to a single .nii or .nii.gz",
                           path);
    if (!ends_with(path, ".nii") && !ends_with(path, ".nii.gz"))
        return tassl_error(TASSL_ERR_ARG,
                           "%s: a NIfTI file must be named .nii or .nii.gz (nifticlib finds the "
                           "file by its extension)",
                           path);
    if (rh->gz && !ends_with(path, ".gz"))
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: the file is gzip-compressed but named .nii: rename it to .nii.gz",
                           path);

    unsigned char buf[540];
    memset(buf, 0, sizeof buf);
    gzFile g = gzopen(path, "rb");
    if (!g) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int n = gzread(g, buf, 348);
    int zerr = 0;
    const char *zmsg = gzerror(g, &zerr);
    char zbuf[128];
    snprintf(zbuf, sizeof zbuf, "%s", zmsg ? zmsg : "");
    if (n < 0 || (n < 348 && zerr != Z_OK)) {
        gzclose(g);
        return tassl_error(TASSL_ERR_FORMAT, "%s: corrupt or truncated gzip stream in the header: %s",
                           path, zbuf);
    }
    if (n < 4) {
        gzclose(g);
        return tassl_error(TASSL_ERR_FORMAT, "%s: %d bytes: too short for a NIfTI header", path, n);
    }
    int32_t sz;
    memcpy(&sz, buf, 4);
    int swapped = 0;
    if (sz == 1543569408 || sz == 469893120) { /* 348 or 540 byte-swapped */
        swapped = 1;
        rh->swapped = 1;
        sz = (int32_t)__builtin_bswap32((uint32_t)sz);
    }
    if (sz != 348 && sz != 540) {
        gzclose(g);
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: not a NIfTI file: header size field is %d (expected 348 for "
                           "NIfTI-1 or 540 for NIfTI-2)",
                           path, (int)sz);
    }
    if (sz == 540) {
        int n2 = gzread(g, buf + 348, 540 - 348);
        if (n2 > 0) n += n2;
    }
    gzclose(g);
    if (n < sz)
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: truncated header: %d bytes, a NIfTI-%d header has %d", path, n,
                           sz == 348 ? 1 : 2, (int)sz);

    if (sz == 348) {
        nifti_1_header h;
        memcpy(&h, buf, sizeof h);
        if (swapped) nifti_swap_as_nifti1(&h);
        if (memcmp(h.magic, "n+1", 4) != 0) {
            if (memcmp(h.magic, "ni1", 4) == 0)
                return tassl_error(TASSL_ERR_UNSUPPORTED,
                                   "%s: magic 'ni1' (header of a two-file .hdr/.img pair): only "
                                   "single-file NIfTI is supported",
                                   path);
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s: bad NIfTI-1 magic %02x %02x %02x %02x (expected 'n+1\\0'; an "
                               "Analyze 7.5 file?)",
                               path, (unsigned char)h.magic[0], (unsigned char)h.magic[1],
                               (unsigned char)h.magic[2], (unsigned char)h.magic[3]);
        }
        rh->version = 1;
        for (int i = 0; i < 8; i++) {
            rh->dim[i] = h.dim[i];
            rh->pixdim[i] = h.pixdim[i];
        }
        rh->datatype = h.datatype;
        if (!isfinite(h.vox_offset) || h.vox_offset < 0 || h.vox_offset > 1e12)
            return tassl_error(TASSL_ERR_FORMAT, "%s: vox_offset %g is not a valid file offset",
                               path, (double)h.vox_offset);
        rh->vox_offset = (int64_t)h.vox_offset;
        rh->slope = h.scl_slope;
        rh->inter = h.scl_inter;
    } else {
        nifti_2_header h;
        memcpy(&h, buf, sizeof h);
        if (swapped) nifti_swap_as_nifti2(&h);
        static const char magic2[8] = {'n', '+', '2', 0, '\r', '\n', 0x1a, '\n'};
        if (memcmp(h.magic, magic2, 4) != 0) {
            if (memcmp(h.magic, "ni2", 4) == 0)
                return tassl_error(TASSL_ERR_UNSUPPORTED,
                                   "%s: magic 'ni2' (two-file NIfTI-2): only single-file NIfTI is "
                                   "supported",
                                   path);
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s: bad NIfTI-2 magic %02x %02x %02x %02x (expected 'n+2\\0')",
                               path, (unsigned char)h.magic[0], (unsigned char)h.magic[1],
                               (unsigned char)h.magic[2], (unsigned char)h.magic[3]);
        }
        rh->version = 2;
        for (int i = 0; i < 8; i++) {
            rh->dim[i] = h.dim[i];
            rh->pixdim[i] = h.pixdim[i];
        }
        rh->datatype = h.datatype;
        if (h.vox_offset < 0 || h.vox_offset > (int64_t)1e12)
            return tassl_error(TASSL_ERR_FORMAT, "%s: vox_offset %lld is not a valid file offset",
                               path, (long long)h.vox_offset);
        rh->vox_offset = h.vox_offset;
        rh->slope = h.scl_slope;
        rh->inter = h.scl_inter;
    }
    if (rh->vox_offset < sz)
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: vox_offset %lld lies inside the %d-byte header (single-file NIfTI "
                           "data starts at or after byte %d)",
                           path, (long long)rh->vox_offset, (int)sz, (int)sz + 4);
    /* scaling: slope 0 or non-finite means none (NIfTI standard / nibabel) */
    if (!isfinite(rh->slope) || rh->slope == 0) {
        rh->slope = 1;
        rh->inter = 0;
    } else if (!isfinite(rh->inter)) {
        rh->inter = 0;
    }

    /* dims */
    int64_t nd = rh->dim[0];
    if (nd < 1 || nd > 7)
        return tassl_error(TASSL_ERR_FORMAT, "%s: dim[0] = %lld: the number of dimensions must be 1..7",
                           path, (long long)nd);
    int64_t nvox = 1, vols = 1;
    for (int i = 1; i <= nd; i++) {
        if (rh->dim[i] < 1)
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s: dim[%d] = %lld: every size must be >= 1 (header dims %lld x "
                               "%lld x %lld)",
                               path, i, (long long)rh->dim[i], (long long)rh->dim[1],
                               (long long)rh->dim[2], (long long)rh->dim[3]);
        if (__builtin_mul_overflow(nvox, rh->dim[i], &nvox))
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s: the product of the header dims overflows 64 bits (dim[%d] = %lld)",
                               path, i, (long long)rh->dim[i]);
        if (i >= 4) vols *= rh->dim[i]; /* <= nvox, cannot overflow */
    }
    for (int i = (int)nd + 1; i < 8; i++) rh->dim[i] = 1;
    rh->nvox = nvox;
    rh->volumes = vols;

    int dt = rh->datatype;
    rh->nbyper = dtype_bytes(dt);
    if (!rh->nbyper)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "%s: datatype %d (%s) is not supported (expected an integer type of 8..64 "
                           "bits, FLOAT32 or FLOAT64)",
                           path, dt, nifti_datatype_string(dt));
    int64_t bytes;
    if (__builtin_mul_overflow(nvox, (int64_t)rh->nbyper, &bytes) || bytes > ((int64_t)1 << 50))
        return tassl_error(TASSL_ERR_FORMAT, "%s: header dims give %lld voxels of %d bytes: too large",
                           path, (long long)nvox, rh->nbyper);
    if (check_limit) {
        int64_t vol = rh->dim[1] * rh->dim[2] * rh->dim[3];
        int64_t want = (opts && opts->volumes_as_channels) ? nvox : vol;
        tassl_status s = tassl_io_check_size(path, want, opts);
        if (s) return s;
        /* the raw bytes nifticlib holds at the same time */
        int64_t lim = tassl_io_byte_limit(opts);
        if (want * rh->nbyper > lim)
            return tassl_error(TASSL_ERR_NOMEM, "%s: %lld bytes of raw data exceed the limit of %lld",
                               path, (long long)(want * rh->nbyper), (long long)lim);
    }
    if (!rh->gz && check_limit) { /* the whole promised data must be in the file */
        struct stat st;
        if (stat(path, &st) == 0 && (int64_t)st.st_size < rh->vox_offset + bytes)
            return tassl_error(TASSL_ERR_FORMAT,
                               "%s: truncated: the header promises %lld bytes of voxel data after "
                               "offset %lld, the file has %lld bytes in all",
                               path, (long long)bytes, (long long)rh->vox_offset,
                               (long long)st.st_size);
    }
    return TASSL_OK;
}

/* Read the whole (gzip or plain) stream ourselves: its decompressed length and zlib's verdict
 * (a gzip stream is only known intact, CRC and length, once read to its end). */
static tassl_status scan_stream(const char *path, int64_t *total, int *zerr, char *zbuf, size_t zn) {
    gzFile g = gzopen(path, "rb");
    if (!g) return tassl_error(TASSL_ERR_IO, "%s: cannot reopen: %s", path, strerror(errno));
    char *chunk = malloc(1 << 16);
    if (!chunk) {
        gzclose(g);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    }
    *total = 0;
    int n;
    while ((n = gzread(g, chunk, 1 << 16)) > 0) *total += n;
    free(chunk);
    *zerr = Z_OK;
    const char *zm = gzerror(g, zerr);
    snprintf(zbuf, zn, "%s", zm ? zm : "");
    gzclose(g);
    return TASSL_OK;
}

/* After nifticlib failed to read data, or to check a gzip stream it read: say what is wrong. */
static tassl_status diagnose_data(const char *path, const raw_header *rh) {
    int64_t total = 0;
    int zerr = Z_OK;
    char zbuf[160] = "";
    tassl_status s = scan_stream(path, &total, &zerr, zbuf, sizeof zbuf);
    if (s) return s;
    int64_t need = rh->vox_offset + rh->nvox * rh->nbyper;
    if (zerr != Z_OK && zerr != Z_STREAM_END)
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: corrupt or truncated gzip stream (zlib: %s) after %lld "
                           "decompressed bytes; the header promises %lld",
                           path, zbuf, (long long)total, (long long)need);
    if (total < need)
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: truncated: the header promises %lld bytes of voxel data after "
                           "offset %lld, the %s ends after %lld bytes in all",
                           path, (long long)(rh->nvox * rh->nbyper), (long long)rh->vox_offset,
                           rh->gz ? "gzip stream" : "file", (long long)total);
    return TASSL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Geometry                                                                                  */

static double det3(double a[4][4]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
           a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

static int affine_usable(double a[4][4]) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (!isfinite(a[r][c])) return 0;
    return fabs(det3(a)) > 1e-12;
}

static void dmat_to(double out[4][4], const nifti_dmat44 *m) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) out[r][c] = m->m[r][c];
}

/* codes of nifti_dmat44_to_orientation → letter of the direction the axis increases toward */
static char orient_letter(int code) {
    switch (code) {
    case NIFTI_L2R: return 'R';
    case NIFTI_R2L: return 'L';
    case NIFTI_P2A: return 'A';
    case NIFTI_A2P: return 'P';
    case NIFTI_I2S: return 'S';
    case NIFTI_S2I: return 'I';
    }
    return '?';
}

static int orient_codes(double a[4][4], int cod[3]) {
    nifti_dmat44 m;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) m.m[r][c] = a[r][c];
    nifti_dmat44_to_orientation(m, &cod[0], &cod[1], &cod[2]);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        if (cod[i] < 1 || cod[i] > 6) return 0;
        seen |= 1 << ((cod[i] - 1) / 2);
    }
    return seen == 7;
}

void tassl_image_axcodes(const tassl_image *img, char out[4]) {
    int cod[3];
    double a[4][4];
    memcpy(a, img->affine, sizeof a);
    if (!orient_codes(a, cod)) {
        memcpy(out, "???", 4);
        return;
    }
    for (int i = 0; i < 3; i++) out[i] = orient_letter(cod[i]);
    out[3] = 0;
}

/* Fill the header part of info from the raw check and nifticlib's nim. */
static void fill_info(tassl_image_info *info, const char *path, const raw_header *rh,
                      const nifti_image *nim) {
    memset(info, 0, sizeof *info);
    info->format = rh->version == 2 ? TASSL_FORMAT_NIFTI2 : TASSL_FORMAT_NIFTI1;
    tassl_io_copy_path(info->path, sizeof info->path, path);
    for (int i = 0; i < 8; i++) {
        info->dim[i] = rh->dim[i];
        info->pixdim[i] = rh->pixdim[i];
    }
    info->datatype = rh->datatype;
    snprintf(info->datatype_name, sizeof info->datatype_name, "%s",
             nifti_datatype_string(rh->datatype));
    info->bitpix = rh->nbyper * 8;
    info->scl_slope = nim->scl_slope;
    info->scl_inter = nim->scl_inter;
    info->vox_offset = rh->vox_offset;
    info->qform_code = nim->qform_code;
    info->sform_code = nim->sform_code;
    dmat_to(info->qform, &nim->qto_xyz);
    if (nim->sform_code > 0) dmat_to(info->sform, &nim->sto_xyz);
    /* the matrix in use: sform when its code is set, else qform (method 1 when code 0) */
    if (nim->sform_code > 0 && affine_usable(info->sform))
        memcpy(info->file_affine, info->sform, sizeof info->file_affine);
    else if (affine_usable(info->qform))
        memcpy(info->file_affine, info->qform, sizeof info->file_affine);
    else { /* degenerate header: fall back to diag(|pixdim|) */
        memset(info->file_affine, 0, sizeof info->file_affine);
        for (int i = 0; i < 3; i++) {
            double p = fabs(rh->pixdim[i + 1]);
            info->file_affine[i][i] = (isfinite(p) && p > 0) ? p : 1.0;
        }
        info->file_affine[3][3] = 1;
    }
    info->xyz_units = nim->xyz_units;
    info->time_units = nim->time_units;
    int cod[3];
    if (orient_codes(info->file_affine, cod)) {
        for (int a = 0; a < 3; a++) {
            int world = (cod[a] - 1) / 2, pos = cod[a] & 1; /* odd codes: L2R, P2A, I2S */
            info->perm[world] = a;
            info->flip[world] = !pos;
            info->orient_file[a] = orient_letter(cod[a]);
        }
        info->orient_file[3] = 0;
    } else {
        for (int a = 0; a < 3; a++) info->perm[a] = a;
        memcpy(info->orient_file, "???", 4);
    }
    memcpy(info->orient_image, info->orient_file, 4);
    info->volumes = rh->volumes;
    info->is_integer_type = dtype_is_int(rh->datatype);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                   */

/* stored values → float: v·slope + inter */
static void convert(const void *src, int dt, int64_t n, float *dst, double slope, double inter) {
#define CONV(T)                                                                                   \
    do {                                                                                          \
        const T *p = (const T *)src;                                                              \
        if (slope == 1 && inter == 0)                                                             \
            for (int64_t i = 0; i < n; i++) dst[i] = (float)p[i];                                 \
        else                                                                                      \
            for (int64_t i = 0; i < n; i++) dst[i] = (float)((double)p[i] * slope + inter);       \
    } while (0)
    switch (dt) {
    case DT_UINT8: CONV(uint8_t); break;
    case DT_INT8: CONV(int8_t); break;
    case DT_INT16: CONV(int16_t); break;
    case DT_UINT16: CONV(uint16_t); break;
    case DT_INT32: CONV(int32_t); break;
    case DT_UINT32: CONV(uint32_t); break;
    case DT_INT64: CONV(int64_t); break;
    case DT_UINT64: CONV(uint64_t); break;
    case DT_FLOAT32: CONV(float); break;
    case DT_FLOAT64: CONV(double); break;
    default: break; /* excluded by check_header */
    }
#undef CONV
}

/* Read `count` volumes starting at volume `first` straight from the file with zlib (plain or
 * gzip), convert them to float into out (count · vol floats). nifticlib's own data path is not
 * used: it looks for the data of "x.nii.gz" in "x.nii" first when both exist
 * (nifti_findimgname), which would silently read another file's voxels. A gzip stream is read
 * on to its end, so zlib checks its CRC and length, when little of it is left (<= 16 MiB). */
static tassl_status read_voxels(const char *path, const raw_header *rh, int64_t first,
                                int64_t count, float *out) {
    int64_t vol = rh->dim[1] * rh->dim[2] * rh->dim[3];
    int64_t vbytes = vol * rh->nbyper;
    int64_t off = rh->vox_offset + first * vbytes;
    gzFile g = gzopen(path, "rb");
    if (!g) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    unsigned char *buf = malloc((size_t)vbytes);
    if (!buf) {
        gzclose(g);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory for %lld bytes", path,
                           (long long)vbytes);
    }
    int ok = gzseek(g, (z_off_t)off, SEEK_SET) == (z_off_t)off;
    for (int64_t c = 0; ok && c < count; c++) {
        int64_t got = 0;
        while (got < vbytes) {
            int64_t want = vbytes - got > (1 << 30) ? (1 << 30) : vbytes - got;
            int n = gzread(g, buf + got, (unsigned)want);
            if (n <= 0) break;
            got += n;
        }
        if (got < vbytes) {
            ok = 0;
            break;
        }
        if (rh->swapped && rh->nbyper > 1) nifti_swap_Nbytes(vol, rh->nbyper, buf);
        convert(buf, rh->datatype, vol, out + c * vol, rh->slope, rh->inter);
    }
    free(buf);
    int64_t rest = (rh->volumes - first - count) * vbytes;
    if (ok && rh->gz && rest <= ((int64_t)16 << 20)) { /* on to the end: CRC and length */
        char tail[4096];
        while (gzread(g, tail, sizeof tail) > 0) {
        }
        int zerr = Z_OK;
        gzerror(g, &zerr);
        if (zerr != Z_OK) ok = 0;
    }
    gzclose(g);
    if (ok) return TASSL_OK;
    tassl_status s = diagnose_data(path, rh);
    return s ? s : tassl_error(TASSL_ERR_FORMAT, "%s: could not read the voxel data", path);
}

tassl_status tassl_io_nifti_info(const char *path, tassl_image_info *info) {
    pthread_once(&quiet_once, nifti_quiet);
    raw_header rh;
    tassl_status s = check_header(path, &rh, NULL, 0);
    if (s) return s;
    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim) return tassl_error(TASSL_ERR_FORMAT, "%s: nifticlib could not read the header", path);
    fill_info(info, path, &rh, nim);
    nifti_image_free(nim);
    return TASSL_OK;
}

tassl_status tassl_nifti_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                              tassl_image_info *info) {
    pthread_once(&quiet_once, nifti_quiet);
    memset(img, 0, sizeof *img);
    tassl_read_opts defaults = tassl_read_opts_default();
    if (!opts) opts = &defaults;
    tassl_image_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);

    raw_header rh;
    tassl_status s = check_header(path, &rh, opts, 1);
    if (s) return s;
    if (!opts->volumes_as_channels && (opts->volume < 0 || opts->volume >= rh.volumes))
        return tassl_error(TASSL_ERR_ARG, "%s: volume %lld requested, the file has %lld (0..%lld)",
                           path, (long long)opts->volume, (long long)rh.volumes,
                           (long long)rh.volumes - 1);

    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim) return tassl_error(TASSL_ERR_FORMAT, "%s: nifticlib could not read the header", path);
    int64_t nx = rh.dim[1], ny = rh.dim[2], nz = rh.dim[3];
    if (nim->nx != nx || nim->ny != ny || nim->nz != nz || nim->datatype != rh.datatype ||
        nim->iname_offset != rh.vox_offset) {
        nifti_image_free(nim);
        return tassl_error(TASSL_ERR_FORMAT,
                           "%s: nifticlib's reading of the header disagrees with the header itself",
                           path);
    }
    fill_info(info, path, &rh, nim);
    nifti_image_free(nim);
    int channels = opts->volumes_as_channels ? (int)rh.volumes : 1;
    s = tassl_image_new(img, channels, nz, ny, nx);
    if (s) return tassl_error(s, "%s: %s", path, tassl_last_error());
    int64_t first = opts->volumes_as_channels ? 0 : opts->volume;
    s = read_voxels(path, &rh, first, channels, img->data);
    if (s) {
        tassl_image_free(img);
        return s;
    }

    /* geometry in file order, then canonical */
    memcpy(img->affine, info->file_affine, sizeof img->affine);
    for (int a = 0; a < 3; a++) { /* spacing of voxel axis a = |column a| */
        double n = sqrt(img->affine[0][a] * img->affine[0][a] + img->affine[1][a] * img->affine[1][a] +
                        img->affine[2][a] * img->affine[2][a]);
        img->spacing[2 - a] = n > 0 ? n : 1.0;
    }
    tassl_io_copy_path(img->source, sizeof img->source, path);
    if (!opts->keep_file_order) {
        s = tassl_image_permute(img, info->perm, info->flip);
        if (s) {
            tassl_image_free(img);
            return s;
        }
        tassl_image_axcodes(img, info->orient_image);
    } else {
        for (int a = 0; a < 3; a++) {
            info->perm[a] = a;
            info->flip[a] = 0;
        }
    }
    s = tassl_io_finish(path, opts, img, info);
    if (s) tassl_image_free(img);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                   */

tassl_status tassl_nifti_write(const char *path, const tassl_image *img, tassl_nifti_dtype dtype,
                               int xform_code) {
    pthread_once(&quiet_once, nifti_quiet);
    int gz = ends_with(path, ".nii.gz");
    if (!gz && !ends_with(path, ".nii"))
        return tassl_error(TASSL_ERR_ARG, "%s: a NIfTI output must be named .nii or .nii.gz", path);
    if (!img->data || img->channels < 1 || img->d < 1 || img->h < 1 || img->w < 1)
        return tassl_error(TASSL_ERR_ARG, "%s: nothing to write (empty image)", path);
    if (img->d > 32767 || img->h > 32767 || img->w > 32767 || img->channels > 32767)
        return tassl_error(TASSL_ERR_ARG, "%s: NIfTI-1 sizes are at most 32767 per axis", path);
    int dt = dtype == TASSL_NIFTI_UINT8 ? DT_UINT8 : dtype == TASSL_NIFTI_INT16 ? DT_INT16 : DT_FLOAT32;
    int64_t n = tassl_image_voxels(img) * img->channels;
    if (dt != DT_FLOAT32) {
        double lo = dt == DT_UINT8 ? 0 : -32768, hi = dt == DT_UINT8 ? 255 : 32767;
        for (int64_t i = 0; i < n; i++) {
            float v = img->data[i];
            if (!(v >= lo && v <= hi) || v != nearbyintf(v))
                return tassl_error(TASSL_ERR_ARG,
                                   "%s: voxel %lld holds %g: a %s label file holds integers in "
                                   "[%g, %g]",
                                   path, (long long)i, (double)v, dt == DT_UINT8 ? "UINT8" : "INT16",
                                   lo, hi);
        }
    }
    int64_t dims[8] = {img->channels > 1 ? 4 : 3, img->w, img->h, img->d, img->channels, 1, 1, 1};
    nifti_1_header *h = nifti_make_new_n1_header(dims, dt);
    if (!h) return tassl_error(TASSL_ERR_NOMEM, "%s: cannot make a NIfTI header", path);
    nifti_dmat44 R;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) R.m[r][c] = img->affine[r][c];
    double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
    nifti_dmat44_to_quatern(R, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
    if (xform_code <= 0) xform_code = NIFTI_XFORM_SCANNER_ANAT;
    h->pixdim[0] = (float)qfac;
    h->pixdim[1] = (float)img->spacing[2];
    h->pixdim[2] = (float)img->spacing[1];
    h->pixdim[3] = (float)img->spacing[0];
    h->pixdim[4] = 1;
    h->xyzt_units = NIFTI_UNITS_MM;
    h->qform_code = (short)xform_code;
    h->sform_code = (short)xform_code;
    h->quatern_b = (float)qb;
    h->quatern_c = (float)qc;
    h->quatern_d = (float)qd;
    h->qoffset_x = (float)qx;
    h->qoffset_y = (float)qy;
    h->qoffset_z = (float)qz;
    for (int c = 0; c < 4; c++) {
        h->srow_x[c] = (float)img->affine[0][c];
        h->srow_y[c] = (float)img->affine[1][c];
        h->srow_z[c] = (float)img->affine[2][c];
    }
    h->scl_slope = 1;
    h->scl_inter = 0;
    h->vox_offset = 352;
    snprintf(h->descrip, sizeof h->descrip, "tassl");

    char tmp[1100];
    if (strlen(path) > 1000) {
        free(h);
        return tassl_error(TASSL_ERR_ARG, "%s: path too long", path);
    }
    tassl_io_tmp_name(tmp, sizeof tmp, path, gz ? ".nii.gz" : ".nii");
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = malloc(CHUNK * 4);
    gzFile g = buf ? gzopen(tmp, gz ? "wb6" : "wbT") : NULL;
    if (!g) {
        int e = errno;
        free(h);
        free(buf);
        return buf ? tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(e))
                   : tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    }
    int ok = gzwrite(g, h, sizeof *h) == (int)sizeof *h;
    free(h);
    static const char ext[4] = {0, 0, 0, 0};
    ok = ok && gzwrite(g, ext, 4) == 4;
    int bpv = dt == DT_UINT8 ? 1 : dt == DT_INT16 ? 2 : 4;
    for (int64_t i0 = 0; ok && i0 < n; i0 += CHUNK) {
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        const float *x = img->data + i0;
        for (int64_t i = 0; i < m; i++) {
            if (dt == DT_UINT8) {
                buf[i] = (uint8_t)x[i];
            } else if (dt == DT_INT16) {
                int16_t v = (int16_t)x[i];
                memcpy(buf + 2 * i, &v, 2);
            } else {
                memcpy(buf + 4 * i, &x[i], 4);
            }
        }
        unsigned len = (unsigned)(m * bpv);
        ok = gzwrite(g, buf, len) == (int)len;
    }
    int zerr = Z_OK;
    char zbuf[160];
    snprintf(zbuf, sizeof zbuf, "%s", ok ? "" : gzerror(g, &zerr));
    if (gzclose(g) != Z_OK) ok = 0;
    free(buf);
    if (!ok) {
        remove(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: write failed (%s%s%s)", path, zbuf,
                           zbuf[0] ? "; " : "", strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                           strerror(e));
    }
    return TASSL_OK;
}
