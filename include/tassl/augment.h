/* augment.h — augmentation, modality presets, Models Genesis transforms, masking and pretext
 * targets on host images (tassl_image: float (C, D, H, W), D = 1 for 2D).
 *
 * Determinism: every random choice is drawn from a Philox-4x32-10 stream keyed by
 * (seed, sample index, epoch) and a sub-stream per transform, so a sample's augmentation is a pure
 * function of those numbers — never of thread scheduling, batch composition or which other
 * transforms are enabled. All functions are thread-safe (no global state).
 *
 * The pipeline (tassl_aug_apply) runs, in order:
 *   1. spatial: crop / resized crop, flips, 90° rotations, affine (rotation, scale, shear,
 *      translation), elastic — composed into ONE output→source map and sampled once (trilinear
 *      for the image, nearest for label maps and masks; boxes follow axis-aligned maps);
 *   2. acquisition-like intensity on raw values: bias field, Rician noise;
 *   3. normalisation (CT window, MRI percentile clip + z-score, percentile rescale, scale);
 *   4. intensity on normalised values: gamma, contrast, brightness, histogram shift, Gaussian
 *      noise, Gaussian blur, RGB colour jitter, H&E stain (HED) jitter, optional clamp.
 * Each step has a probability (`*_p`) and ranges. Modality presets (tassl_aug_preset) fill the
 * whole config; single fields are then overridden by name (tassl_aug_config_set). Every field is
 * listed with its key, type, default and one-line description in tassl_aug_fields(), so config
 * keys can be generated from the table. docs/MODALITIES.md explains each preset.
 *
 * Coordinates: voxel index (d, h, w); boxes use continuous voxel-edge coordinates, voxel i
 * spanning [i, i+1), so a box covering voxels 3..7 on an axis has lo 3, hi 8.
 *
 * Output images: functions documented as "allocated here" overwrite *out without freeing it;
 * those documented as "reused if sized" take either a zeroed struct (first call) or an image from
 * an earlier call, reused when its size matches and reallocated otherwise (no malloc per sample in
 * a loop). Free every result with tassl_image_free.
 */
#ifndef TASSL_AUGMENT_H
#define TASSL_AUGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- per-sample random stream ---------------------------------------------------------------- */

/* Sub-stream ids: each transform draws from its own stream, so enabling one transform never
 * changes the numbers another one draws. */
typedef enum tassl_aug_stream {
    TASSL_STREAM_CROP = 1,
    TASSL_STREAM_FLIP,
    TASSL_STREAM_ROT90,
    TASSL_STREAM_AFFINE,
    TASSL_STREAM_ELASTIC,
    TASSL_STREAM_BIAS,
    TASSL_STREAM_RICIAN,
    TASSL_STREAM_GAMMA,
    TASSL_STREAM_CONTRAST,
    TASSL_STREAM_BRIGHTNESS,
    TASSL_STREAM_HIST,
    TASSL_STREAM_NOISE,
    TASSL_STREAM_BLUR,
    TASSL_STREAM_JITTER,
    TASSL_STREAM_HED,
    TASSL_STREAM_GENESIS_FLIP = 32,
    TASSL_STREAM_GENESIS_SHUFFLE,
    TASSL_STREAM_GENESIS_NONLINEAR,
    TASSL_STREAM_GENESIS_PAINT,
    TASSL_STREAM_MASK = 48,
    TASSL_STREAM_ROTATION,
    TASSL_STREAM_JIGSAW,
    TASSL_STREAM_RPL,
    TASSL_STREAM_USER = 1024, /* first id free for callers (views of multi-view methods: +view) */
} tassl_aug_stream;

/* A Philox stream: counter (block, stream, lo32(sample), lo32(epoch)), key = seed mixed with the
 * high halves of sample and epoch. Each block yields four 32-bit words, used in order. */
typedef struct tassl_aug_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int left; /* unused words left in buf */
} tassl_aug_rng;

void tassl_aug_rng_init(tassl_aug_rng *r, uint64_t seed, uint64_t sample, uint64_t epoch,
                        uint32_t stream);
uint32_t tassl_aug_rng_u32(tassl_aug_rng *r);
float tassl_aug_rng_uniform(tassl_aug_rng *r);                   /* [0, 1), 24 bits */
float tassl_aug_rng_range(tassl_aug_rng *r, float lo, float hi); /* [lo, hi) */
float tassl_aug_rng_normal(tassl_aug_rng *r);                    /* N(0, 1), Box–Muller */
/* Uniform integer in [lo, hi] inclusive (hi >= lo). */
int64_t tassl_aug_rng_int(tassl_aug_rng *r, int64_t lo, int64_t hi);
/* true with probability p */
int tassl_aug_rng_bernoulli(tassl_aug_rng *r, float p);

/* ---- boxes and a sample ---------------------------------------------------------------------- */

typedef struct tassl_box {
    float lo[3], hi[3]; /* (d, h, w) voxel-edge coordinates, lo < hi; 2D: lo[0] 0, hi[0] 1 */
    int label;          /* class index */
} tassl_box;

/* What the pipeline transforms together. `image` is required; the others are optional (NULL /
 * 0). label and mask must have the image's d, h, w (any channel count) and are resampled with
 * nearest neighbour. Images may be replaced by ones of another size (crops): their `data` is
 * freed and reallocated, geometry (affine, spacing) updated for the linear part of the map.
 * Boxes are moved with axis-aligned maps (crops, resized crops, flips, 90° rotations, axis scale);
 * with rotation/shear they become the enclosing box of the mapped corners. Boxes left with no
 * volume inside the output are dropped (n_boxes shrinks). Elastic deformation is not applied to
 * samples that carry boxes (their extent would be ill-defined); `elastic_applied` says if it ran.
 */
typedef struct tassl_aug_sample {
    tassl_image *image;
    tassl_image *label;
    tassl_image *mask;
    tassl_box *boxes;
    int n_boxes;
} tassl_aug_sample;

/* ---- configuration --------------------------------------------------------------------------- */

typedef enum tassl_intensity_norm {
    TASSL_INTENSITY_NONE = 0, /* values as read */
    TASSL_INTENSITY_WINDOW,   /* CT: clamp((x − (center − width/2)) / width, 0, 1) */
    TASSL_INTENSITY_ZSCORE,   /* MRI: clip to percentiles, then (x − mean) / std (per channel) */
    TASSL_INTENSITY_PERCENTILE, /* clip to percentiles and rescale linearly to [0, 1] (per channel)
                                 */
    TASSL_INTENSITY_SCALE,      /* x / norm_scale (8-bit RGB → [0, 1]) */
} tassl_intensity_norm;

typedef enum tassl_crop_mode {
    TASSL_CROP_NONE = 0,
    TASSL_CROP_RANDOM,  /* a crop_size window at a random position (padded if the image is small) */
    TASSL_CROP_RESIZED, /* random region (crop_scale of the area/volume, crop_ratio aspect),
                           resized to crop_size (Inception / torchvision RandomResizedCrop) */
    TASSL_CROP_CENTER,  /* the centred crop_size window */
} tassl_crop_mode;

typedef enum tassl_pad_mode {
    TASSL_PAD_MIN = 0, /* each channel's minimum (air in CT, background in MRI) */
    TASSL_PAD_ZERO,
    TASSL_PAD_EDGE, /* replicate the border voxel */
} tassl_pad_mode;

/* Where normalisation statistics come from (nnU-Net normalises the whole image, then crops). */
typedef enum tassl_norm_scope {
    TASSL_NORM_SCOPE_PATCH = 0, /* each sample/window on its own, inside tassl_aug_apply */
    TASSL_NORM_SCOPE_IMAGE,     /* the data source normalised each record's whole image once
                                   (tassl_aug_normalize); tassl_aug_apply then skips it */
} tassl_norm_scope;

typedef struct tassl_aug_config {
    /* normalisation */
    tassl_intensity_norm norm;
    float norm_window[2];      /* CT window (center, width) in HU */
    float norm_percentiles[2]; /* clip percentiles (lo, hi) in % for zscore / percentile */
    int norm_nonzero;          /* statistics over voxels whose channel 0 is != 0 (or the mask) */
    float norm_scale;          /* divisor for TASSL_INTENSITY_SCALE */
    /* where the statistics come from: patch (default) or image, see tassl_norm_scope */
    tassl_norm_scope norm_scope;
    /* spatial */
    tassl_crop_mode crop;
    int64_t crop_size[3]; /* (D, H, W) output size; 0 = keep that axis's size */
    float crop_scale[2];  /* resized crop: fraction of the area (2D) / volume (3D) */
    float crop_ratio[2];  /* resized crop: aspect ratio range (W/H; also D/H in 3D) */
    float flip_p[3];      /* probability of flipping each axis (D, H, W) */
    float rot90_p;        /* probability of a 90°·k rotation (k 1..3) in a random square plane */
    float affine_p;       /* probability of a random affine transform */
    float affine_rotate[3]; /* max |angle| in degrees about the D, H, W axes (2D: D only) */
    float affine_scale[2];  /* scale factor range (>1 zooms in) */
    int affine_isotropic;   /* one scale factor for all axes */
    float affine_shear;     /* max |shear| factor per off-diagonal term */
    float affine_translate; /* max |shift| as a fraction of each axis's size */
    float elastic_p;        /* probability of an elastic deformation */
    int elastic_points;     /* B-spline control points per axis (>= 4) */
    float elastic_max;      /* max displacement of a control point, in voxels */
    tassl_pad_mode pad;     /* value for voxels mapped from outside the image */
    int nearest;            /* sample the image with nearest neighbour instead of (tri)linear */
    /* acquisition-like intensity, before normalisation */
    float bias_p;        /* multiplicative bias field exp(Σ c·P_i P_j P_k), Legendre */
    int bias_degree;     /* total polynomial degree (1..5) */
    float bias_coeff;    /* coefficients uniform in [−coeff, coeff] */
    float rician_p;      /* Rician noise sqrt((x + n1)² + n2²) */
    float rician_std[2]; /* noise std range, relative to the image's std */
    /* intensity, after normalisation */
    float gamma_p; /* x' = min + range·((x − min)/range)^γ (per channel) */
    float gamma_range[2];
    float gamma_invert_p; /* probability of applying gamma to the inverted image (nnU-Net) */
    float contrast_p;     /* x' = mean + f·(x − mean) */
    float contrast_range[2];
    float brightness_p; /* x' = f·x */
    float brightness_range[2];
    float hist_shift_p;    /* monotone piecewise-linear remap with jittered control points */
    int hist_shift_points; /* number of control points (>= 3) */
    float noise_p;         /* additive Gaussian noise */
    float noise_std[2];    /* std range (normalised units) */
    float blur_p;          /* Gaussian blur */
    float blur_sigma[2];   /* sigma range in voxels */
    float jitter_p;        /* RGB colour jitter (3-channel images in [0, 1]), random order */
    float jitter_brightness, jitter_contrast, jitter_saturation, jitter_hue;
    float hed_p;     /* H&E stain jitter in HED space (Tellez et al.) */
    float hed_sigma; /* per-stain scale 1 ± σ and shift ± σ */
    float clamp[2];  /* clamp the result to [lo, hi]; lo == hi: no clamp */
} tassl_aug_config;

/* Neutral config: no normalisation, no augmentation (every probability 0; ranges at the table's
 * defaults). */
void tassl_aug_config_default(tassl_aug_config *cfg);

/* Field table. Types: "float", "int", "bool", "enum", "float2", "float3", "int3". */
typedef enum tassl_field_type {
    TASSL_FIELD_FLOAT = 0,
    TASSL_FIELD_INT,
    TASSL_FIELD_BOOL,
    TASSL_FIELD_ENUM,
    TASSL_FIELD_FLOAT2,
    TASSL_FIELD_FLOAT3,
    TASSL_FIELD_INT3,
} tassl_field_type;

typedef struct tassl_field {
    const char *name; /* key: "flip_p" */
    tassl_field_type type;
    size_t offset;       /* into the config struct */
    const char *def;     /* default in YAML flow syntax: "0.5", "[0.7, 1.5]", "none", "true" */
    const char *range;   /* numeric interval "[0, 1]", "(0, inf)"; NULL = any */
    const char *choices; /* ENUM: "none|window|zscore|percentile|scale"; NULL otherwise */
    const char *help;    /* one line */
} tassl_field;

/* The table of tassl_aug_config fields (static). */
const tassl_field *tassl_aug_fields(int *n);

/* Set one field from text ("0.5", "[0.7, 1.5]", "0.7,1.5", "zscore", "true"). Unknown key, wrong
 * type, wrong count or a value out of range → TASSL_ERR_ARG naming the key and what was
 * expected; cfg unchanged on error. */
tassl_status tassl_aug_config_set(tassl_aug_config *cfg, const char *key, const char *value);
/* The field's current value as YAML flow text into buf (NUL-terminated); returns buf, or NULL for
 * an unknown key. */
char *tassl_aug_config_get(const tassl_aug_config *cfg, const char *key, char *buf, size_t len);
/* Check every field against its range and cross-field rules (lo <= hi). */
tassl_status tassl_aug_config_validate(const tassl_aug_config *cfg);

/* ---- modality presets ------------------------------------------------------------------------ */

/* "none", "ct", "mri", "xray", "ultrasound", "histology", "fundus": fills cfg completely
 * (normalisation + default augmentation policy; see docs/MODALITIES.md). Unknown name →
 * TASSL_ERR_ARG listing the known ones. Override single fields afterwards with
 * tassl_aug_config_set. */
tassl_status tassl_aug_preset(const char *name, tassl_aug_config *cfg);
/* Names of the presets, NULL-terminated. */
const char *const *tassl_aug_preset_names(void);

/* ---- the pipeline ---------------------------------------------------------------------------- */

/* Apply cfg to one sample (see tassl_aug_sample), in place. The result depends only on
 * (cfg, input, seed, sample, epoch). `elastic_applied` (may be NULL) reports whether the elastic
 * step ran. cfg is not re-validated here (validate once: tassl_aug_config_validate; presets and
 * tassl_aug_config_set keep it valid). Errors: no image or label/mask grids that differ from the
 * image's → TASSL_ERR_ARG, sample untouched; out of memory → TASSL_ERR_NOMEM (the images are
 * left valid and consistent with each other, possibly partly transformed). */
tassl_status tassl_aug_apply(const tassl_aug_config *cfg, tassl_aug_sample *s, uint64_t seed,
                             uint64_t sample, uint64_t epoch, int *elastic_applied);

/* The configured normalisation (cfg->norm and its parameters, whatever cfg->norm_scope says) of
 * a whole image in place; `mask` as for tassl_aug_zscore (may be NULL). The data sources call it
 * once per record for TASSL_NORM_SCOPE_IMAGE. Errors: mask grid differs → TASSL_ERR_ARG; out of
 * memory → TASSL_ERR_NOMEM. */
tassl_status tassl_aug_normalize(const tassl_aug_config *cfg, tassl_image *img,
                                 const tassl_image *mask);

/* ---- single transforms: the pipeline's building blocks, deterministic given their arguments */

/* Flip axis 0 (D), 1 (H) or 2 (W), in place. */
void tassl_aug_flip(tassl_image *img, int axis);
/* Rotate by k·90° in the plane (a, b) of axes (0 D, 1 H, 2 W), a != b; positive k turns axis a
 * towards axis b: out[.., i_a, i_b] = in[.., n_b − 1 − i_b', ...] (see aug_spatial.c). The two
 * extents swap when k is odd (the data is reallocated). */
tassl_status tassl_aug_rot90(tassl_image *img, int a, int b, int k);
/* Copy the window starting at (d0, h0, w0) of size `size` (may extend past the image: padded with
 * `pad`) into a new image *out (allocated here; geometry shifted). */
tassl_status tassl_aug_crop(const tassl_image *img, const int64_t start[3], const int64_t size[3],
                            tassl_pad_mode pad, tassl_image *out);

/* Output→source voxel map: src = M · (out + disp(out)) + t, coordinates at voxel centres in
 * (d, h, w) order. disp is an optional (3, D, H, W) field on the output grid (NULL = none). */
typedef struct tassl_aug_map {
    double m[3][3];
    double t[3];
} tassl_aug_map;

/* Resample src through map into *out of size out_size (allocated here). nearest: nearest
 * neighbour (labels), else (tri)linear; 2D images (d = 1) interpolate in H, W only. */
tassl_status tassl_aug_warp(const tassl_image *src, const tassl_aug_map *map, const float *disp,
                            const int64_t out_size[3], int nearest, tassl_pad_mode pad,
                            tassl_image *out);
/* A smooth random displacement field (3, D, H, W) on a d×h×w grid: `points` control points per
 * axis, each displaced uniformly in [−max, max] voxels, interpolated by cubic B-spline (D axis
 * zero for 2D). *disp is malloc'd here. */
tassl_status tassl_aug_elastic_field(int64_t d, int64_t h, int64_t w, int points, float max,
                                     tassl_aug_rng *r, float **disp);

/* Intensity, in place. `mask` (may be NULL) is a same-grid image whose channel 0 > 0 marks the
 * voxels that enter statistics. */
void tassl_aug_window(tassl_image *img, float center, float width);
tassl_status tassl_aug_zscore(tassl_image *img, const tassl_image *mask, int nonzero, float p_lo,
                              float p_hi);
tassl_status tassl_aug_percentile(tassl_image *img, const tassl_image *mask, int nonzero,
                                  float p_lo, float p_hi);
void tassl_aug_gamma(tassl_image *img, float gamma, int invert);
void tassl_aug_contrast(tassl_image *img, float factor);
void tassl_aug_brightness(tassl_image *img, float factor);
void tassl_aug_noise(tassl_image *img, float std, tassl_aug_rng *r);
void tassl_aug_rician(tassl_image *img, float std, tassl_aug_rng *r);
tassl_status tassl_aug_blur(tassl_image *img, float sigma);
void tassl_aug_bias_field(tassl_image *img, int degree, float coeff, tassl_aug_rng *r);
void tassl_aug_hist_shift(tassl_image *img, int points, tassl_aug_rng *r);
/* Colour jitter on a 3-channel image in [0, 1]: factors drawn like torchvision's ColorJitter
 * (brightness/contrast/saturation in [1 − x, 1 + x], hue shift in [−hue, hue] turns), applied in
 * a random order. No-op (returns TASSL_ERR_ARG) for channels != 3. */
tassl_status tassl_aug_color_jitter(tassl_image *img, float brightness, float contrast,
                                    float saturation, float hue, tassl_aug_rng *r);
tassl_status tassl_aug_hed_jitter(tassl_image *img, float sigma, tassl_aug_rng *r);

/* ---- Models Genesis (Zhou et al., MICCAI 2019 / MedIA 2021) ---------------------------------- */

typedef struct tassl_genesis_config {
    float flip_p;           /* repeat up to 3×: with p flip a random axis (input and target) */
    float shuffle_p;        /* local pixel shuffling */
    int shuffle_blocks;     /* windows shuffled per image */
    float shuffle_max_frac; /* window side at most this fraction of each axis (≥ 1 voxel) */
    float nonlinear_p;      /* Bézier intensity curve */
    float nonlinear_flip_p; /* of those, the decreasing (inverted) curve */
    float paint_p;          /* in- or out-painting */
    float inpaint_p;        /* of those, in-painting (else out-painting) */
} tassl_genesis_config;

/* p: flip .4, shuffle .5 (10000 windows, ≤ 1/10 of each side), nonlinear .9 (inverted .5),
 * paint .9 (in .2 / out .8) — the original ModelsGenesis defaults. */
void tassl_genesis_config_default(tassl_genesis_config *cfg);
const tassl_field *tassl_genesis_fields(int *n);
tassl_status tassl_genesis_config_set(tassl_genesis_config *cfg, const char *key,
                                      const char *value);

/* Make one (input, target) pair from src (values expected in [0, 1]): target = flipped src,
 * input = target with shuffling, Bézier curve and in/out-painting applied. input and target:
 * reused if sized. */
tassl_status tassl_genesis_apply(const tassl_genesis_config *cfg, const tassl_image *src,
                                 tassl_image *input, tassl_image *target, uint64_t seed,
                                 uint64_t sample, uint64_t epoch);

/* The Bézier remap: control points (0,0), p1, p2, (1,1); curve sampled, x and y sorted
 * (monotone increasing), y reversed if `invert` (decreasing: maps 0→1, 1→0); values interpolated,
 * clamped at the ends. */
void tassl_genesis_bezier(tassl_image *img, const float p1[2], const float p2[2], int invert);
/* Shuffle the values inside `blocks` random windows (sides 1..max(1, ⌊frac·n⌋)), one window after
 * the other, in place (as the paper describes; the reference code reads every window from an
 * unshuffled copy, which duplicates values where windows overlap). Preserves the multiset of
 * values; channels move together. */
tassl_status tassl_genesis_shuffle(tassl_image *img, int blocks, float frac, tassl_aug_rng *r);
/* In-painting: up to 5 boxes (continue with p .95) of sides n/6..n/3 filled with U[0,1) noise.
 * Out-painting: everything replaced by noise except up to 5 kept boxes (sides n − 3n/7..4n/7).
 * The boxes used are written to `regions` (room for 5) and their count to *n_regions. */
void tassl_genesis_inpaint(tassl_image *img, tassl_aug_rng *r, tassl_box *regions, int *n_regions);
tassl_status tassl_genesis_outpaint(tassl_image *img, tassl_aug_rng *r, tassl_box *regions,
                                    int *n_regions);

/* ---- masking for masked image modelling ------------------------------------------------------ */

typedef enum tassl_mask_mode {
    TASSL_MASK_PATCH = 0, /* exactly round(ratio·N) of the N grid patches, uniformly (MAE/SimMIM) */
    TASSL_MASK_BLOCK,     /* rectangular / cuboid blocks of patches until the ratio is reached
                             (BEiT block-wise masking), topped up with single patches */
} tassl_mask_mode;

typedef struct tassl_mask_config {
    tassl_mask_mode mode;
    float ratio;        /* fraction of patches masked: SimMIM 0.6, MAE 0.75, BEiT 0.4 */
    int64_t patch[3];   /* mask patch size (D, H, W) in voxels (SimMIM: 32) */
    int block_min;      /* block mode: smallest block, in patches (BEiT 16) */
    float block_aspect; /* block mode: aspect ratios in [a, 1/a] (BEiT 0.3) */
} tassl_mask_config;

void tassl_mask_config_default(tassl_mask_config *cfg); /* patch, 0.6, [1, 32, 32], 16, 0.3 */
const tassl_field *tassl_mask_fields(int *n);
tassl_status tassl_mask_config_set(tassl_mask_config *cfg, const char *key, const char *value);

/* A 1-channel mask image of size d×h×w (1 = masked, 0 = visible), constant on each patch. The
 * grid covers ⌈d/pd⌉×⌈h/ph⌉×⌈w/pw⌉ patches (the last ones cut at the border). *out: reused if
 * sized. *n_masked (may be NULL) = masked patches, *n_patches the grid.
 */
tassl_status tassl_mask_generate(const tassl_mask_config *cfg, int64_t d, int64_t h, int64_t w,
                                 uint64_t seed, uint64_t sample, uint64_t epoch, tassl_image *out,
                                 int *n_masked, int *n_patches);

/* ---- pretext targets ------------------------------------------------------------------------- */

/* Rotation prediction. 2D (d = 1): 4 classes, k·90° in the H–W plane (Gidaris et al. 2018).
 * 3D, classes = 4: k·90° about the D axis (the H–W plane; SwinUNETR pretraining, Tang et al.
 * 2022). 3D, classes = 10: identity, and 90°/180°/270° about each of the D, H, W axes (Taleb et al.
 * 2020, "3D self-supervised methods for medical imaging"): class 0 identity, 1+3·axis+(k−1) for
 * axis 0 D / 1 H / 2 W and k 1..3. Rotations about an axis need the other two extents equal
 * (TASSL_ERR_ARG otherwise; 180° turns need no equal extents). *out: reused if sized. */
tassl_status tassl_pretext_rotate(const tassl_image *src, int classes, int cls, tassl_image *out);
/* Draw the class from the sample's stream and rotate; returns the class in *cls. */
tassl_status tassl_pretext_rotation(const tassl_image *src, int classes, uint64_t seed,
                                    uint64_t sample, uint64_t epoch, tassl_image *out, int *cls);

/* Jigsaw permutation set (Noroozi & Favaro 2016): `count` permutations of `tiles` (9 for a 3×3
 * grid, 8 for 2×2×2; tiles <= 9) chosen greedily — a seeded random first one, then each time the
 * permutation whose minimum Hamming distance to those already chosen is largest (ties: the first
 * in a seeded random order). perms: (count, tiles) bytes. *min_hamming (may be NULL) = the set's
 * minimum pairwise distance. */
tassl_status tassl_jigsaw_perms(int tiles, int count, uint64_t seed, uint8_t *perms,
                                int *min_hamming);

typedef struct tassl_jigsaw_config {
    int grid;       /* tiles per axis: 3 (2D: 3×3) or 2 (3D: 2×2×2) */
    int64_t gap;    /* voxels left out between tiles (edge continuity is a shortcut) */
    int64_t jitter; /* each tile's position jitters by up to ± jitter inside its cell */
} tassl_jigsaw_config;

/* Cut src into grid^dims cells (dims 2 if d = 1 else 3), take a tile of side ⌊n/grid⌋ − gap from
 * each (jittered), and output them in the order of permutation `label` of perms: out has
 * (T·C, td, th, tw) layout (reused if sized) = T tiles of (C, td, th, tw); tile t is cell
 * perms[label·T + t] (cells in row-major (d, h, w) order). label drawn uniformly in
 * [0, count). */
tassl_status tassl_pretext_jigsaw(const tassl_image *src, const tassl_jigsaw_config *cfg,
                                  const uint8_t *perms, int count, uint64_t seed, uint64_t sample,
                                  uint64_t epoch, tassl_image *out, int *label);

/* Relative patch location (Doersch et al. 2015; 3D: Taleb et al. 2020): a centre patch and one of
 * its 8 (2D) / 26 (3D) neighbours, neighbours `patch + gap` voxels apart plus a jitter up to
 * ± jitter per axis. Label = index of the offset (od, oh, ow) ∈ {−1,0,1}^3 \ {0} in row-major
 * order, skipping the centre (2D: od = 0 only, 8 classes). out (reused if sized): (2·C, pd, ph,
 * pw) — the centre patch's channels, then the neighbour's. start_a / start_b (may be NULL) receive
 * the patches' corners. */
typedef struct tassl_rpl_config {
    int64_t patch[3]; /* patch size (D, H, W); D 1 for 2D */
    int64_t gap;
    int64_t jitter;
} tassl_rpl_config;

tassl_status tassl_pretext_rpl(const tassl_image *src, const tassl_rpl_config *cfg, uint64_t seed,
                               uint64_t sample, uint64_t epoch, tassl_image *out, int *label,
                               int64_t start_a[3], int64_t start_b[3]);
/* The offset (od, oh, ow) of a relative-patch-location label (2D: dims 2, 3D: dims 3). */
void tassl_rpl_offset(int dims, int label, int off[3]);

#ifdef __cplusplus
}
#endif
#endif
