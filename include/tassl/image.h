/* image.h — images and volumes in host memory, as every reader produces and every dataset,
 * augmentation and writer consumes.
 *
 * One type for 2D slices and 3D volumes: float voxels laid out (C, D, H, W) row-major — the
 * per-sample layout of a (N, C, D, H, W) tensor — with D = 1 for 2D images. Geometry follows
 * NIfTI: voxel index (i, j, k) = (w, h, d) maps to world millimetres (RAS+) by `affine`;
 * `spacing` is in (D, H, W) order, matching the array. Readers bring volumes to one canonical
 * orientation (see io/ for the exact convention) and keep the spacing; writers use the affine so
 * predictions overlay the source in any viewer.
 */
#ifndef TASSL_IMAGE_H
#define TASSL_IMAGE_H

#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tassl_image {
    int channels;            /* C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, or volumes of a 4D file */
    int64_t d, h, w;         /* D (1 for 2D), H, W */
    float *data;             /* (C, D, H, W), owned, malloc'd */
    double spacing[3];       /* mm along (D, H, W); 1 when unknown (PNG) */
    double affine[4][4];     /* (w, h, d, 1) voxel index → world mm (RAS+) */
    int is_label;            /* integer label map: resample with nearest, never interpolate */
    char source[256];        /* file it came from, for messages ("" if synthetic) */
} tassl_image;

/* Allocate an image of the given size with identity geometry (spacing 1) and zeroed data.
 * Fails with TASSL_ERR_ARG on non-positive or overflowing sizes, TASSL_ERR_NOMEM when memory
 * runs out. */
tassl_status tassl_image_new(tassl_image *img, int channels, int64_t d, int64_t h, int64_t w);
void tassl_image_free(tassl_image *img);
/* Number of voxels per channel (d·h·w). */
int64_t tassl_image_voxels(const tassl_image *img);

#ifdef __cplusplus
}
#endif
#endif
