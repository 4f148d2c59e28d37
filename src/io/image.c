/* image.c — allocation and geometry defaults of tassl_image. */
#include <stdlib.h>
#include <string.h>
#include "tassl/image.h"

int64_t tassl_image_voxels(const tassl_image *img) { return img->d * img->h * img->w; }

tassl_status tassl_image_new(tassl_image *img, int channels, int64_t d, int64_t h, int64_t w) {
    memset(img, 0, sizeof *img);
    if (channels < 1 || d < 1 || h < 1 || w < 1)
        return tassl_error(TASSL_ERR_ARG, "image size %d x %lld x %lld x %lld: every size must be >= 1",
                           channels, (long long)d, (long long)h, (long long)w);
    /* refuse sizes whose byte count overflows or exceeds 2^31 - 1 elements (tensor limit) */
    double n = (double)channels * (double)d * (double)h * (double)w;
    if (n > 2147483647.0)
        return tassl_error(TASSL_ERR_ARG,
                           "image size %d x %lld x %lld x %lld has %.3g voxels (at most 2^31 - 1)",
                           channels, (long long)d, (long long)h, (long long)w, n);
    img->data = calloc((size_t)n, sizeof(float));
    if (!img->data)
        return tassl_error(TASSL_ERR_NOMEM, "out of memory for a %.3g-voxel image", n);
    img->channels = channels;
    img->d = d;
    img->h = h;
    img->w = w;
    for (int i = 0; i < 3; i++) img->spacing[i] = 1.0;
    for (int i = 0; i < 4; i++) img->affine[i][i] = 1.0;
    return TASSL_OK;
}

void tassl_image_free(tassl_image *img) {
    if (!img) return;
    free(img->data);
    img->data = NULL;
}
