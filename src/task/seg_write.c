/* seg_write.c — segmentation predictions as files on the input's grid: NIfTI label maps with the
 * input's affine, in the input file's own voxel order (so a viewer overlays them on the input and
 * a voxel-wise comparison with the input file lines up too), or PNG label images for PNG inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "seg_internal.h"

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

void task_seg_pred_name(const char *path, tassl_file_format fmt, char *out, size_t len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (ends_with(base, ".nii.gz"))
        n -= 7;
    else if (ends_with(base, ".nii"))
        n -= 4;
    else if (ends_with(base, ".png"))
        n -= 4;
    snprintf(out, len, "%.*s_pred%s", (int)n, base, fmt == TASSL_FORMAT_PNG ? ".png" : ".nii.gz");
}

tassl_status task_seg_write_pred(const char *path, const int32_t *labels, const tassl_image *like,
                                 const tassl_image_info *info, int nclasses) {
    bool png = ends_with(path, ".png");
    if (!png && !ends_with(path, ".nii.gz") && !ends_with(path, ".nii"))
        return tassl_error(TASSL_ERR_ARG, "%s: a prediction is written as .nii.gz, .nii or .png",
                           path);
    if (png && like->d != 1)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: a PNG prediction needs a 2D input, %s has %lld slices", path,
                           like->source, (long long)like->d);
    tassl_image out;
    tassl_status st = tassl_image_new(&out, 1, like->d, like->h, like->w);
    if (st != TASSL_OK) return st;
    memcpy(out.spacing, like->spacing, sizeof out.spacing);
    memcpy(out.affine, like->affine, sizeof out.affine);
    snprintf(out.source, sizeof out.source, "%s", path);
    out.is_label = 1;
    int64_t nv = tassl_image_voxels(&out);
    for (int64_t v = 0; v < nv; v++)
        out.data[v] = (float)labels[v];
    if (png) {
        st = tassl_png_write(path, &out, nclasses > 256 ? 16 : 8, TASSL_PNG_SCALE_CLAMP);
    } else {
        int code = 1;
        if (info && info->format != TASSL_FORMAT_PNG) {
            /* back to the input file's voxel order (the reader made it canonical) */
            st = tassl_image_to_file_order(&out, info);
            code = info->sform_code > 0 ? info->sform_code
                                        : (info->qform_code > 0 ? info->qform_code : 1);
        }
        if (st == TASSL_OK)
            st = tassl_nifti_write(path, &out,
                                   nclasses > 256 ? TASSL_NIFTI_INT16 : TASSL_NIFTI_UINT8, code);
    }
    tassl_image_free(&out);
    return st;
}
