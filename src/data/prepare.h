/* prepare.h — internals of `tassl data prepare` (src/data/prepare*.c). */
#ifndef TASSL_PREPARE_H
#define TASSL_PREPARE_H

#include <stdio.h>
#include "tassl/dataset.h"
#include "tassl/image.h"

/* InVesalius .inv3 project (gzip'd tar, raw int16 HU) → (1, D, H, W). */
tassl_status prepare_read_inv3(const char *path, tassl_image *img);
/* First array of a NumPy .npz (3D, C order) → (1, D, H, W). */
tassl_status prepare_read_npz(const char *path, tassl_image *img);

/* Slab labels along z (D) of Colin27, per task layout. */
enum { SLAB_OUT = -2, SLAB_GAP = -1 }; /* else a tassl_split */

/* Build the Colin27 tasks under DIR/colin27; fills z_ok[z] = 1 for rows that are training rows (or
 * outside the brain) in every layout, for the pool. z_ok has room for the volume's D. */
tassl_status prepare_colin(const tassl_prepare_opts *o, unsigned char *z_ok, int64_t *nz);

/* Crop rows [z0, z1) of img (all H, W) into *out with the affine moved accordingly. */
tassl_status prepare_crop_z(const tassl_image *img, int64_t z0, int64_t z1, tassl_image *out);
/* Crop an arbitrary box (origin (D, H, W), size) — inside the image — with its geometry. */
tassl_status prepare_crop(const tassl_image *img, const int64_t org[3], const int64_t size[3],
                          tassl_image *out);

#define PREP_LOG(o, ...)                                                                         \
    do {                                                                                         \
        if ((o)->log) {                                                                          \
            fprintf((FILE *)(o)->log, __VA_ARGS__);                                                      \
            fflush((FILE *)(o)->log);                                                                    \
        }                                                                                        \
    } while (0)

#endif
