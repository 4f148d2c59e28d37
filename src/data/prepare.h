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

/* Colin27 segmentation manifests under base (= DIR/colin27): seg_brain.csv and seg_lobes.csv
 * (3D: the training slab cut in-plane into blocks, one subject each; val/test the slab volumes)
 * and seg_brain_2d.csv, seg_lobes_2d.csv (training = single axial slices of the training slab,
 * one subject per slice; val/test the same slab volumes), and seg_{brain,lobes}_2d_il.csv on the
 * interleaved layout. t1, brain, lobes: (1, D, H, W) on one grid; slab[s] = rows [z0, z1) of split
 * s; layi[z] = split of row z in the interleaved layout (< 0: gap/out). prepare_seg.c. */
tassl_status prepare_colin_seg(const tassl_prepare_opts *o, const char *base, const tassl_image *t1,
                               const tassl_image *brain, const tassl_image *lobes,
                               const int64_t slab[3][2], const int *layi);

/* Write a Colin27-derived image (8-bit values: images and label maps are exact) as uint8 NIfTI. */
tassl_status prepare_write_u8(const char *path, const tassl_image *img);
/* Append a manifest row (strings and boxes copied); boxes are 2D; label -1 = none. */
tassl_status prepare_add_row(tassl_manifest *m, const char *img, const char *mask, int label,
                             const tassl_box *boxes, int nb, const char *subject, int split);

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
