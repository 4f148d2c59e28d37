/* aug_config.c — the augmentation config's field table (key, type, default, range, help), and
 * the generic set/get/validate used by every config table of this layer (augmentation, Models
 * Genesis, masking). The tables are the single source of the keys: the config layer generates
 * its `data.aug.*` keys from them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "aug_internal.h"

/* enum fields are stored through an int pointer */
_Static_assert(sizeof(tassl_intensity_norm) == sizeof(int), "enum size");
_Static_assert(sizeof(tassl_norm_scope) == sizeof(int), "enum size");

#define F(field) offsetof(tassl_aug_config, field)
#define NORM_CHOICES "none|window|zscore|percentile|scale"
#define CROP_CHOICES "none|random|resized|center"
#define PAD_CHOICES "min|zero|edge"

static const tassl_field aug_fields[] = {
    {"norm", TASSL_FIELD_ENUM, F(norm), "none", NULL, NORM_CHOICES,
     "intensity normalisation: CT window, percentile clip + z-score, percentile rescale, x/scale"},
    {"norm_window", TASSL_FIELD_FLOAT2, F(norm_window), "[40, 400]", NULL, NULL,
     "CT window (center, width) in HU, mapped to [0, 1]"},
    {"norm_percentiles", TASSL_FIELD_FLOAT2, F(norm_percentiles), "[0.5, 99.5]", "[0, 100]", NULL,
     "clip percentiles (lo, hi) for zscore and percentile normalisation"},
    {"norm_nonzero", TASSL_FIELD_BOOL, F(norm_nonzero), "false", NULL, NULL,
     "normalisation statistics over nonzero voxels (or the mask) only"},
    {"norm_scale", TASSL_FIELD_FLOAT, F(norm_scale), "255", "(0, inf)", NULL,
     "divisor for norm: scale"},
    {"norm_scope", TASSL_FIELD_ENUM, F(norm_scope), "patch", NULL, "patch|image",
     "normalisation statistics per sample/window (patch) or once per record's whole image "
     "before cropping (image, nnU-Net); the data source normalises for image"},
    {"crop", TASSL_FIELD_ENUM, F(crop), "none", NULL, CROP_CHOICES,
     "crop: random window, random resized region, or centred window of crop_size"},
    {"crop_size", TASSL_FIELD_INT3, F(crop_size), "[0, 0, 0]", "[0, 65536]", NULL,
     "crop output size (D, H, W); 0 keeps that axis's size"},
    {"crop_scale", TASSL_FIELD_FLOAT2, F(crop_scale), "[0.08, 1]", "(0, 1]", NULL,
     "resized crop: fraction of the area (2D) or volume (3D) kept"},
    {"crop_ratio", TASSL_FIELD_FLOAT2, F(crop_ratio), "[0.75, 1.3333333]", "(0, inf)", NULL,
     "resized crop: aspect ratio range (W/H, and D/H in 3D)"},
    {"flip_p", TASSL_FIELD_FLOAT3, F(flip_p), "[0, 0, 0]", "[0, 1]", NULL,
     "probability of flipping each axis (D, H, W)"},
    {"rot90_p", TASSL_FIELD_FLOAT, F(rot90_p), "0", "[0, 1]", NULL,
     "probability of a k*90 degree rotation (k 1..3) in a random square plane"},
    {"affine_p", TASSL_FIELD_FLOAT, F(affine_p), "0", "[0, 1]", NULL,
     "probability of a random affine transform (rotation, scale, shear, translation)"},
    {"affine_rotate", TASSL_FIELD_FLOAT3, F(affine_rotate), "[15, 15, 15]", "[0, 180]", NULL,
     "max |angle| in degrees about the D, H, W axes (2D uses the D axis: in-plane)"},
    {"affine_scale", TASSL_FIELD_FLOAT2, F(affine_scale), "[0.85, 1.25]", "(0, inf)", NULL,
     "scale factor range (> 1 zooms in)"},
    {"affine_isotropic", TASSL_FIELD_BOOL, F(affine_isotropic), "true", NULL, NULL,
     "one scale factor for all axes"},
    {"affine_shear", TASSL_FIELD_FLOAT, F(affine_shear), "0", "[0, 1]", NULL,
     "max |shear| factor of each off-diagonal term"},
    {"affine_translate", TASSL_FIELD_FLOAT, F(affine_translate), "0", "[0, 1]", NULL,
     "max |translation| as a fraction of each axis's size"},
    {"elastic_p", TASSL_FIELD_FLOAT, F(elastic_p), "0", "[0, 1]", NULL,
     "probability of an elastic deformation (B-spline of random control points)"},
    {"elastic_points", TASSL_FIELD_INT, F(elastic_points), "7", "[4, 64]", NULL,
     "control points per axis of the elastic deformation"},
    {"elastic_max", TASSL_FIELD_FLOAT, F(elastic_max), "4", "[0, inf)", NULL,
     "max displacement of a control point, in voxels"},
    {"pad", TASSL_FIELD_ENUM, F(pad), "min", NULL, PAD_CHOICES,
     "value of voxels mapped from outside the image: channel minimum, zero or edge"},
    {"nearest", TASSL_FIELD_BOOL, F(nearest), "false", NULL, NULL,
     "sample the image with nearest neighbour instead of (tri)linear"},
    {"bias_p", TASSL_FIELD_FLOAT, F(bias_p), "0", "[0, 1]", NULL,
     "probability of a multiplicative smooth bias field (before normalisation)"},
    {"bias_degree", TASSL_FIELD_INT, F(bias_degree), "3", "[1, 5]", NULL,
     "total degree of the bias field's Legendre polynomial"},
    {"bias_coeff", TASSL_FIELD_FLOAT, F(bias_coeff), "0.3", "[0, 2]", NULL,
     "bias field coefficients uniform in [-coeff, coeff] (field = exp(polynomial))"},
    {"rician_p", TASSL_FIELD_FLOAT, F(rician_p), "0", "[0, 1]", NULL,
     "probability of Rician noise (before normalisation)"},
    {"rician_std", TASSL_FIELD_FLOAT2, F(rician_std), "[0, 0.05]", "[0, inf)", NULL,
     "Rician noise std range, relative to the image's std"},
    {"gamma_p", TASSL_FIELD_FLOAT, F(gamma_p), "0", "[0, 1]", NULL,
     "probability of a gamma curve (on the channel's own range)"},
    {"gamma_range", TASSL_FIELD_FLOAT2, F(gamma_range), "[0.7, 1.5]", "(0, inf)", NULL,
     "gamma range"},
    {"gamma_invert_p", TASSL_FIELD_FLOAT, F(gamma_invert_p), "0", "[0, 1]", NULL,
     "probability that gamma acts on the inverted image"},
    {"contrast_p", TASSL_FIELD_FLOAT, F(contrast_p), "0", "[0, 1]", NULL,
     "probability of a contrast change about the mean"},
    {"contrast_range", TASSL_FIELD_FLOAT2, F(contrast_range), "[0.75, 1.25]", "[0, inf)", NULL,
     "contrast factor range"},
    {"brightness_p", TASSL_FIELD_FLOAT, F(brightness_p), "0", "[0, 1]", NULL,
     "probability of a multiplicative brightness change"},
    {"brightness_range", TASSL_FIELD_FLOAT2, F(brightness_range), "[0.75, 1.25]", "[0, inf)", NULL,
     "brightness factor range"},
    {"hist_shift_p", TASSL_FIELD_FLOAT, F(hist_shift_p), "0", "[0, 1]", NULL,
     "probability of a histogram shift (monotone remap through jittered control points)"},
    {"hist_shift_points", TASSL_FIELD_INT, F(hist_shift_points), "10", "[3, 256]", NULL,
     "control points of the histogram shift"},
    {"noise_p", TASSL_FIELD_FLOAT, F(noise_p), "0", "[0, 1]", NULL,
     "probability of additive Gaussian noise"},
    {"noise_std", TASSL_FIELD_FLOAT2, F(noise_std), "[0, 0.1]", "[0, inf)", NULL,
     "Gaussian noise std range (normalised units)"},
    {"blur_p", TASSL_FIELD_FLOAT, F(blur_p), "0", "[0, 1]", NULL, "probability of a Gaussian blur"},
    {"blur_sigma", TASSL_FIELD_FLOAT2, F(blur_sigma), "[0.5, 1]", "(0, 32]", NULL,
     "blur sigma range in voxels"},
    {"jitter_p", TASSL_FIELD_FLOAT, F(jitter_p), "0", "[0, 1]", NULL,
     "probability of RGB colour jitter (3-channel images in [0, 1])"},
    {"jitter_brightness", TASSL_FIELD_FLOAT, F(jitter_brightness), "0.4", "[0, 1]", NULL,
     "colour jitter: brightness factor in [1 - x, 1 + x]"},
    {"jitter_contrast", TASSL_FIELD_FLOAT, F(jitter_contrast), "0.4", "[0, 1]", NULL,
     "colour jitter: contrast factor in [1 - x, 1 + x]"},
    {"jitter_saturation", TASSL_FIELD_FLOAT, F(jitter_saturation), "0.4", "[0, 1]", NULL,
     "colour jitter: saturation factor in [1 - x, 1 + x]"},
    {"jitter_hue", TASSL_FIELD_FLOAT, F(jitter_hue), "0.1", "[0, 0.5]", NULL,
     "colour jitter: hue shift in [-x, x] turns"},
    {"hed_p", TASSL_FIELD_FLOAT, F(hed_p), "0", "[0, 1]", NULL,
     "probability of H&E stain jitter in HED colour space"},
    {"hed_sigma", TASSL_FIELD_FLOAT, F(hed_sigma), "0.05", "[0, 1]", NULL,
     "HED jitter: per-stain scale in 1 +- sigma and shift in +- sigma"},
    {"clamp", TASSL_FIELD_FLOAT2, F(clamp), "[0, 0]", NULL, NULL,
     "clamp the result to [lo, hi]; lo == hi: no clamp"},
};
#undef F

const tassl_field *tassl_aug_fields(int *n) {
    *n = (int)(sizeof aug_fields / sizeof aug_fields[0]);
    return aug_fields;
}

void tassl_aug_config_default(tassl_aug_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    int n;
    const tassl_field *t = tassl_aug_fields(&n);
    aug_field_defaults(t, n, cfg);
}

tassl_status tassl_aug_config_set(tassl_aug_config *cfg, const char *key, const char *value) {
    int n;
    const tassl_field *t = tassl_aug_fields(&n);
    return aug_field_set(t, n, cfg, key, value, "augmentation");
}

char *tassl_aug_config_get(const tassl_aug_config *cfg, const char *key, char *buf, size_t len) {
    int n;
    const tassl_field *t = tassl_aug_fields(&n);
    return aug_field_get(t, n, cfg, key, buf, len);
}

tassl_status tassl_aug_config_validate(const tassl_aug_config *cfg) {
    int n;
    const tassl_field *t = tassl_aug_fields(&n);
    tassl_status st = aug_field_validate(t, n, cfg, "augmentation");
    if (st) return st;
    if (cfg->norm_window[1] <= 0)
        return tassl_error(TASSL_ERR_ARG, "augmentation key norm_window: width must be > 0, got %g",
                           (double)cfg->norm_window[1]);
    return TASSL_OK;
}

/* ---- generic field machinery ----------------------------------------------------------------- */

static int field_count(tassl_field_type t) {
    switch (t) {
    case TASSL_FIELD_FLOAT2:
        return 2;
    case TASSL_FIELD_FLOAT3:
    case TASSL_FIELD_INT3:
        return 3;
    default:
        return 1;
    }
}

static const char *type_name(tassl_field_type t) {
    static const char *names[] = {"a number",
                                  "an integer",
                                  "true or false",
                                  "one of",
                                  "two numbers [lo, hi]",
                                  "three numbers [d, h, w]",
                                  "three integers [d, h, w]"};
    return names[t];
}

/* index of `word` in "a|b|c", -1 if absent */
static int choice_index(const char *choices, const char *word, size_t wlen) {
    int i = 0;
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == wlen && strncmp(p, word, l) == 0) return i;
        i++;
        if (!e) break;
        p = e + 1;
    }
    return -1;
}

static const char *choice_name(const char *choices, int idx, size_t *len) {
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) return NULL;
    const char *e = strchr(p, '|');
    *len = e ? (size_t)(e - p) : strlen(p);
    return p;
}

/* Does v lie in the interval text "[a, b]" / "(a, inf)"? NULL range: yes. */
static int in_range(const char *range, double v) {
    if (!range) return 1;
    char lo_c = range[0];
    char *end;
    double lo = strtod(range + 1, &end);
    while (*end == ' ' || *end == ',')
        end++;
    double hi = strtod(end, &end);
    char hi_c = *end;
    if (lo_c == '[' ? v < lo : v <= lo) return 0;
    if (hi_c == ']' ? v > hi : v >= hi) return 0;
    return 1;
}

static const tassl_field *find(const tassl_field *t, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, key) == 0) return &t[i];
    return NULL;
}

static tassl_status bad(const tassl_field *f, const char *what, const char *value,
                        const char *why) {
    if (f->type == TASSL_FIELD_ENUM)
        return tassl_error(TASSL_ERR_ARG, "%s key %s: expected one of %s, got '%s'", what, f->name,
                           f->choices, value);
    return tassl_error(TASSL_ERR_ARG, "%s key %s: expected %s%s%s, got '%s'%s%s", what, f->name,
                       type_name(f->type), f->range ? " in " : "", f->range ? f->range : "", value,
                       why ? ": " : "", why ? why : "");
}

/* Parse value into up to 3 doubles (or an enum index) without touching cfg. */
static tassl_status parse(const tassl_field *f, const char *value, double out[3],
                          const char *what) {
    int want = field_count(f->type);
    const char *p = value;
    while (isspace((unsigned char)*p))
        p++;
    if (f->type == TASSL_FIELD_ENUM) {
        size_t l = strlen(p);
        while (l && isspace((unsigned char)p[l - 1]))
            l--;
        int idx = choice_index(f->choices, p, l);
        if (idx < 0) return bad(f, what, value, NULL);
        out[0] = idx;
        return TASSL_OK;
    }
    if (f->type == TASSL_FIELD_BOOL) {
        static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
        size_t l = strlen(p);
        while (l && isspace((unsigned char)p[l - 1]))
            l--;
        for (int i = 0; i < 4; i++) {
            if (strlen(yes[i]) == l && strncasecmp(p, yes[i], l) == 0) return out[0] = 1, TASSL_OK;
            if (strlen(no[i]) == l && strncasecmp(p, no[i], l) == 0) return out[0] = 0, TASSL_OK;
        }
        return bad(f, what, value, NULL);
    }
    int bracket = 0;
    if (*p == '[') bracket = 1, p++;
    int got = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == ']') break;
        if (got == want) return bad(f, what, value, "too many values");
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno == ERANGE || !isfinite(v)) return bad(f, what, value, NULL);
        if ((f->type == TASSL_FIELD_INT || f->type == TASSL_FIELD_INT3) && v != floor(v))
            return bad(f, what, value, "not an integer");
        if (!in_range(f->range, v)) return bad(f, what, value, "out of range");
        out[got++] = v;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',')
            p++;
        else if (*p && *p != ']')
            return bad(f, what, value, NULL);
    }
    if (bracket != (*p == ']')) return bad(f, what, value, "unbalanced brackets");
    if (*p == ']') {
        p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p) return bad(f, what, value, "text after ']'");
    }
    if (got != want) return bad(f, what, value, got < want ? "too few values" : "too many values");
    return TASSL_OK;
}

static void store(const tassl_field *f, void *cfg, const double v[3]) {
    char *base = (char *)cfg + f->offset;
    int n = field_count(f->type);
    for (int i = 0; i < n; i++) {
        switch (f->type) {
        case TASSL_FIELD_FLOAT:
        case TASSL_FIELD_FLOAT2:
        case TASSL_FIELD_FLOAT3:
            ((float *)base)[i] = (float)v[i];
            break;
        case TASSL_FIELD_INT:
        case TASSL_FIELD_BOOL:
            *(int *)base = (int)v[0];
            break;
        case TASSL_FIELD_ENUM:
            *(int *)base = (int)v[0];
            break; /* C enums are int-sized here */
        case TASSL_FIELD_INT3:
            ((int64_t *)base)[i] = (int64_t)v[i];
            break;
        }
    }
}

tassl_status aug_field_set(const tassl_field *t, int n, void *cfg, const char *key,
                           const char *value, const char *what) {
    const tassl_field *f = find(t, n, key);
    if (!f) {
        /* list the keys sharing the longest prefix, for a useful hint */
        const char *best = NULL;
        size_t best_l = 0;
        for (int i = 0; i < n; i++) {
            size_t l = 0;
            while (key[l] && key[l] == t[i].name[l])
                l++;
            if (l > best_l) best_l = l, best = t[i].name;
        }
        return tassl_error(TASSL_ERR_ARG, "unknown %s key '%s'%s%s%s", what, key,
                           best && best_l >= 3 ? " (did you mean " : "",
                           best && best_l >= 3 ? best : "", best && best_l >= 3 ? "?)" : "");
    }
    if (!value) return bad(f, what, "(null)", NULL);
    double v[3];
    tassl_status st = parse(f, value, v, what);
    if (st) return st;
    store(f, cfg, v);
    return TASSL_OK;
}

void aug_field_defaults(const tassl_field *t, int n, void *cfg) {
    for (int i = 0; i < n; i++) {
        double v[3];
        tassl_status st = parse(&t[i], t[i].def, v, "default");
        TASSL_CHECK(st == TASSL_OK, "bad default of %s: %s", t[i].name, tassl_last_error());
        store(&t[i], cfg, v);
    }
}

/* shortest "%g" text that reads back as the same float (0.2, not 0.200000003) */
static const char *fmt_float(float v, char *out, size_t len) {
    if (v == floorf(v) && fabsf(v) < 1e7f) {
        snprintf(out, len, "%.0f", (double)v);
        return out;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, len, "%.*g", prec, (double)v);
        if (strtof(out, NULL) == v) break;
    }
    return out;
}

char *aug_field_get(const tassl_field *t, int n, const void *cfg, const char *key, char *buf,
                    size_t len) {
    char f0[24], f1[24], f2[24];
    const tassl_field *f = find(t, n, key);
    if (!f || len == 0) return NULL;
    const char *base = (const char *)cfg + f->offset;
    size_t l = 0;
    switch (f->type) {
    case TASSL_FIELD_FLOAT:
        snprintf(buf, len, "%s", fmt_float(*(const float *)base, f0, 24));
        break;
    case TASSL_FIELD_INT:
        snprintf(buf, len, "%d", *(const int *)base);
        break;
    case TASSL_FIELD_BOOL:
        snprintf(buf, len, "%s", *(const int *)base ? "true" : "false");
        break;
    case TASSL_FIELD_ENUM: {
        const char *c = choice_name(f->choices, *(const int *)base, &l);
        snprintf(buf, len, "%.*s", c ? (int)l : 1, c ? c : "?");
        break;
    }
    case TASSL_FIELD_FLOAT2: {
        const float *v = (const float *)base;
        snprintf(buf, len, "[%s, %s]", fmt_float(v[0], f0, 24), fmt_float(v[1], f1, 24));
        break;
    }
    case TASSL_FIELD_FLOAT3: {
        const float *v = (const float *)base;
        snprintf(buf, len, "[%s, %s, %s]", fmt_float(v[0], f0, 24), fmt_float(v[1], f1, 24),
                 fmt_float(v[2], f2, 24));
        break;
    }
    case TASSL_FIELD_INT3: {
        const int64_t *v = (const int64_t *)base;
        snprintf(buf, len, "[%lld, %lld, %lld]", (long long)v[0], (long long)v[1], (long long)v[2]);
        break;
    }
    }
    return buf;
}

tassl_status aug_field_validate(const tassl_field *t, int n, const void *cfg, const char *what) {
    for (int i = 0; i < n; i++) {
        const tassl_field *f = &t[i];
        char buf[128];
        aug_field_get(t, n, cfg, f->name, buf, sizeof buf);
        double v[3];
        tassl_status st = parse(f, buf, v, what); /* range, type, enum index */
        if (st) return st;
        if (f->type == TASSL_FIELD_FLOAT2 && v[0] > v[1] && strcmp(f->name, "norm_window") != 0)
            return tassl_error(TASSL_ERR_ARG, "%s key %s: expected lo <= hi, got %s", what, f->name,
                               buf);
    }
    return TASSL_OK;
}
