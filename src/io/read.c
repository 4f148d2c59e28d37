/* read.c — format detection by content, dispatch to the PNG and NIfTI readers, and the checks
 * every reader ends with (size limits, NaN/Inf policy, integer labels). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "io_internal.h"

tassl_read_opts tassl_read_opts_default(void) {
    tassl_read_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

const char *tassl_file_format_name(tassl_file_format f) {
    switch (f) {
    case TASSL_FORMAT_PNG: return "png";
    case TASSL_FORMAT_NIFTI1: return "nifti1";
    case TASSL_FORMAT_NIFTI2: return "nifti2";
    case TASSL_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

void tassl_io_copy_path(char *dst, size_t n, const char *path) {
    size_t l = strlen(path);
    if (l < n) {
        memcpy(dst, path, l + 1);
    } else { /* keep the tail: the file name matters more than the directory */
        memcpy(dst, "...", 3);
        memcpy(dst + 3, path + l - (n - 4), n - 4);
        dst[n - 1] = 0;
    }
}

void tassl_io_tmp_name(char *tmp, size_t n, const char *path, const char *ext) {
    /* "dir/name.tmp12345" + ext, so the extension still tells nifticlib / viewers the type */
    size_t l = strlen(path), el = strlen(ext);
    size_t base = (l >= el && strcmp(path + l - el, ext) == 0) ? l - el : l;
    snprintf(tmp, n, "%.*s.tmp%ld%s", (int)base, path, (long)getpid(), ext);
}

int64_t tassl_io_byte_limit(const tassl_read_opts *opts) {
    if (opts && opts->max_bytes > 0) return opts->max_bytes;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0) return (int64_t)1 << 34; /* unknown: 16 GiB */
    return (int64_t)pages * psz / 2;
}

tassl_status tassl_io_check_size(const char *path, int64_t voxels, const tassl_read_opts *opts) {
    if (voxels > 2147483647LL)
        return tassl_error(TASSL_ERR_NOMEM,
                           "%s: %lld voxels to decode: more than the 2^31-1 a tassl image holds",
                           path, (long long)voxels);
    int64_t lim = tassl_io_byte_limit(opts);
    if (voxels * 4 > lim)
        return tassl_error(TASSL_ERR_NOMEM,
                           "%s: %lld voxels need %.3g GB as floats, over the limit of %.3g GB "
                           "(read option max_bytes; default half the physical memory)",
                           path, (long long)voxels, voxels * 4e-9, lim * 1e-9);
    return TASSL_OK;
}

tassl_status tassl_io_finish(const char *path, const tassl_read_opts *opts, tassl_image *img,
                             tassl_image_info *info) {
    int64_t n = tassl_image_voxels(img) * img->channels, bad = 0;
    float *x = img->data;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) bad++;
    if (info) info->nonfinite = bad;
    tassl_nonfinite_policy pol = opts ? opts->nonfinite : TASSL_NONFINITE_KEEP;
    if (bad && pol == TASSL_NONFINITE_REJECT)
        return tassl_error(TASSL_ERR_NUMERIC,
                           "%s: %lld of %lld voxels are NaN or Inf (the reader was asked to reject "
                           "non-finite values)",
                           path, (long long)bad, (long long)n);
    if (bad && pol == TASSL_NONFINITE_ZERO)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i])) x[i] = 0.0f;
    if (opts && opts->is_label) {
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i]) || x[i] != nearbyintf(x[i]))
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s: read as a label map, but voxel %lld holds %g (labels must "
                                   "be integers)",
                                   path, (long long)i, (double)x[i]);
        img->is_label = 1;
    }
    return TASSL_OK;
}

tassl_status tassl_image_sniff(const char *path, tassl_file_format *fmt) {
    *fmt = TASSL_FORMAT_UNKNOWN;
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t got = fread(m, 1, 8, f);
    fclose(f);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && memcmp(m, png_sig, 8) == 0) {
        *fmt = TASSL_FORMAT_PNG;
        return TASSL_OK;
    }
    /* NIfTI, plain or gzip: sizeof_hdr (348 or 540, either byte order) in the first 4 bytes */
    gzFile g = gzopen(path, "rb");
    if (!g) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char h[4] = {0};
    int n = gzread(g, h, 4);
    gzclose(g);
    if (n == 4) {
        uint32_t le = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                      (uint32_t)h[3] << 24;
        uint32_t be = (uint32_t)h[3] | (uint32_t)h[2] << 8 | (uint32_t)h[1] << 16 |
                      (uint32_t)h[0] << 24;
        if (le == 348 || be == 348) *fmt = TASSL_FORMAT_NIFTI1;
        if (le == 540 || be == 540) *fmt = TASSL_FORMAT_NIFTI2;
        if (*fmt != TASSL_FORMAT_UNKNOWN) return TASSL_OK;
    }
    if (got == 0) return tassl_error(TASSL_ERR_FORMAT, "%s: empty file", path);
    return tassl_error(TASSL_ERR_FORMAT,
                       "%s: not a PNG or NIfTI file: it starts with bytes %02x %02x %02x %02x "
                       "(expected the PNG signature 89 50 4e 47, or a NIfTI header size of 348 or "
                       "540, possibly gzip-compressed: 1f 8b)",
                       path, m[0], m[1], m[2], m[3]);
}

tassl_status tassl_image_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                              tassl_image_info *info) {
    memset(img, 0, sizeof *img);
    tassl_file_format fmt;
    tassl_status s = tassl_image_sniff(path, &fmt);
    if (s) return s;
    if (fmt == TASSL_FORMAT_PNG) return tassl_png_read(path, opts, img, info);
    return tassl_nifti_read(path, opts, img, info);
}

tassl_status tassl_image_read_info(const char *path, tassl_image_info *info) {
    tassl_file_format fmt;
    tassl_status s = tassl_image_sniff(path, &fmt);
    if (s) return s;
    if (fmt == TASSL_FORMAT_PNG) return tassl_io_png_info(path, info);
    return tassl_io_nifti_info(path, info);
}
