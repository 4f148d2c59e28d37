/* presets.c — modality presets: normalisation + default augmentation policy for ct, mri, xray,
 * ultrasound, histology and fundus. Each is the neutral config with a few fields changed; the
 * reasons and sources are in docs/MODALITIES.md (keep the two in step). */
#include <string.h>
#include "aug_internal.h"

static const char *const preset_names[] = {"none",       "ct",        "mri",    "xray",
                                           "ultrasound", "histology", "fundus", NULL};

const char *const *tassl_aug_preset_names(void) {
    return preset_names;
}

static void set2(float v[2], float a, float b) {
    v[0] = a, v[1] = b;
}
static void set3(float v[3], float a, float b, float c) {
    v[0] = a, v[1] = b, v[2] = c;
}

/* nnU-Net-like intensity policy on normalised values (Isensee et al. 2021, batchgenerators) */
static void nnunet_intensity(tassl_aug_config *c, float noise_std) {
    c->noise_p = 0.1f;
    set2(c->noise_std, 0, noise_std);
    c->blur_p = 0.2f;
    set2(c->blur_sigma, 0.5f, 1.0f);
    c->brightness_p = 0.15f;
    set2(c->brightness_range, 0.75f, 1.25f);
    c->contrast_p = 0.15f;
    set2(c->contrast_range, 0.75f, 1.25f);
    c->gamma_p = 0.3f;
    set2(c->gamma_range, 0.7f, 1.5f);
    c->gamma_invert_p = 0.1f;
}

tassl_status tassl_aug_preset(const char *name, tassl_aug_config *cfg) {
    tassl_aug_config c;
    tassl_aug_config_default(&c);
    if (!name || strcmp(name, "none") == 0) {
    } else if (strcmp(name, "ct") == 0) {
        c.norm = TASSL_INTENSITY_WINDOW;
        set2(c.norm_window, 0, 2000); /* [-1000, 1000] HU → [0, 1], as Models Genesis */
        set3(c.flip_p, 0.5f, 0.5f, 0.5f);
        c.affine_p = 0.2f;
        set3(c.affine_rotate, 15, 15, 15);
        set2(c.affine_scale, 0.85f, 1.25f);
        c.pad = TASSL_PAD_MIN; /* air */
        nnunet_intensity(&c, 0.05f);
    } else if (strcmp(name, "mri") == 0) {
        c.norm = TASSL_INTENSITY_ZSCORE;
        set2(c.norm_percentiles, 0.5f, 99.5f);
        c.norm_nonzero = 1;
        set3(c.flip_p, 0.5f, 0.5f, 0.5f);
        c.affine_p = 0.2f;
        set3(c.affine_rotate, 15, 15, 15);
        set2(c.affine_scale, 0.85f, 1.25f);
        c.elastic_p = 0.1f;
        c.elastic_points = 7;
        c.elastic_max = 3;
        c.bias_p = 0.3f;
        c.bias_degree = 3;
        c.bias_coeff = 0.3f;
        c.rician_p = 0.1f;
        set2(c.rician_std, 0, 0.05f);
        nnunet_intensity(&c, 0.1f);
    } else if (strcmp(name, "xray") == 0) {
        c.norm = TASSL_INTENSITY_PERCENTILE;
        set2(c.norm_percentiles, 0.5f, 99.5f);
        c.crop = TASSL_CROP_RESIZED; /* crop_size 0: output keeps the input size (a zoom) */
        set2(c.crop_scale, 0.6f, 1.0f);
        set2(c.crop_ratio, 0.75f, 1.3333333f);
        set3(c.flip_p, 0, 0, 0.5f);
        c.affine_p = 0.5f;
        set3(c.affine_rotate, 10, 0, 0);
        set2(c.affine_scale, 0.9f, 1.1f);
        c.pad = TASSL_PAD_ZERO;
        c.gamma_p = 0.3f;
        set2(c.gamma_range, 0.7f, 1.5f);
        c.contrast_p = 0.3f;
        set2(c.contrast_range, 0.75f, 1.25f);
        c.brightness_p = 0.3f;
        set2(c.brightness_range, 0.8f, 1.2f);
        c.hist_shift_p = 0.3f;
        c.hist_shift_points = 10;
        c.blur_p = 0.1f;
        set2(c.blur_sigma, 0.5f, 1.0f);
        c.noise_p = 0.1f;
        set2(c.noise_std, 0, 0.03f);
        set2(c.clamp, 0, 1);
    } else if (strcmp(name, "ultrasound") == 0) {
        c.norm = TASSL_INTENSITY_PERCENTILE;
        set2(c.norm_percentiles, 1, 99);
        set3(c.flip_p, 0, 0, 0.5f); /* probe left/right; never up/down (depth axis) */
        c.affine_p = 0.3f;
        set3(c.affine_rotate, 10, 0, 0);
        set2(c.affine_scale, 0.9f, 1.1f);
        c.pad = TASSL_PAD_ZERO;
        c.elastic_p = 0.2f;
        c.elastic_points = 5;
        c.elastic_max = 4;
        c.rician_p = 0.3f; /* speckle-like: Rician (Rayleigh envelope with a coherent part) */
        set2(c.rician_std, 0, 0.1f);
        c.gamma_p = 0.3f; /* gain / time-gain compensation */
        set2(c.gamma_range, 0.7f, 1.5f);
        c.brightness_p = 0.3f;
        set2(c.brightness_range, 0.75f, 1.25f);
        c.contrast_p = 0.3f;
        set2(c.contrast_range, 0.75f, 1.25f);
        c.blur_p = 0.2f;
        set2(c.blur_sigma, 0.5f, 1.5f);
        set2(c.clamp, 0, 1);
    } else if (strcmp(name, "histology") == 0) {
        c.norm = TASSL_INTENSITY_SCALE;
        c.norm_scale = 255;
        set3(c.flip_p, 0, 0.5f, 0.5f);
        c.rot90_p = 0.75f; /* no canonical orientation: the dihedral group */
        c.pad = TASSL_PAD_EDGE;
        c.jitter_p = 0.8f;
        c.jitter_brightness = 0.4f;
        c.jitter_contrast = 0.4f;
        c.jitter_saturation = 0.4f;
        c.jitter_hue = 0.1f;
        c.hed_p = 0.5f;
        c.hed_sigma = 0.05f;
        c.blur_p = 0.2f;
        set2(c.blur_sigma, 0.5f, 1.5f);
        c.noise_p = 0.1f;
        set2(c.noise_std, 0, 0.02f);
        set2(c.clamp, 0, 1);
    } else if (strcmp(name, "fundus") == 0) {
        c.norm = TASSL_INTENSITY_SCALE;
        c.norm_scale = 255;
        set3(c.flip_p, 0, 0.5f, 0.5f);
        c.affine_p = 0.5f;
        set3(c.affine_rotate, 180, 0, 0); /* circular field of view: any in-plane angle */
        set2(c.affine_scale, 0.9f, 1.1f);
        c.pad = TASSL_PAD_ZERO; /* the black surround of the field of view */
        c.jitter_p = 0.8f;
        c.jitter_brightness = 0.2f;
        c.jitter_contrast = 0.2f;
        c.jitter_saturation = 0.1f;
        c.jitter_hue = 0.02f; /* small: lesion colour (red vs yellow) carries the diagnosis */
        c.gamma_p = 0.3f;
        set2(c.gamma_range, 0.8f, 1.25f);
        c.blur_p = 0.1f;
        set2(c.blur_sigma, 0.5f, 1.0f);
        set2(c.clamp, 0, 1);
    } else {
        return tassl_error(TASSL_ERR_ARG,
                           "unknown modality preset '%s' (expected one of none, ct, mri, xray, "
                           "ultrasound, histology, fundus)",
                           name);
    }
    *cfg = c;
    return TASSL_OK;
}
