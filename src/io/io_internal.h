/* io_internal.h — helpers shared by the readers and writers in src/io (not public). */
#ifndef TASSL_IO_INTERNAL_H
#define TASSL_IO_INTERNAL_H

#include <stdint.h>
#include "tassl/image.h"
#include "tassl/io.h"

/* Byte limit for decoded floats: opts->max_bytes, or half the physical memory. */
int64_t tassl_io_byte_limit(const tassl_read_opts *opts);

/* Check that `voxels` floats fit the limits (2^31-1 voxels, byte limit); message names path. */
tassl_status tassl_io_check_size(const char *path, int64_t voxels, const tassl_read_opts *opts);

/* Count NaN/Inf in img, apply opts->nonfinite (reject / zero), store the count in info; and when
 * opts->is_label, check that every value is an integer and set img->is_label. */
tassl_status tassl_io_finish(const char *path, const tassl_read_opts *opts, tassl_image *img,
                             tassl_image_info *info);

/* Copy a path into a fixed buffer, keeping its tail when it is too long. */
void tassl_io_copy_path(char *dst, size_t n, const char *path);

/* Temporary name next to `path` ("dir/name.tmpPID" + ext) that the writers write first and
 * rename into place, so a failure never leaves a half-written file. */
void tassl_io_tmp_name(char *tmp, size_t n, const char *path, const char *ext);

/* Header-only readers behind tassl_image_read_info. */
tassl_status tassl_io_png_info(const char *path, tassl_image_info *info);
tassl_status tassl_io_nifti_info(const char *path, tassl_image_info *info);

#endif
