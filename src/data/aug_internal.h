/* aug_internal.h — helpers shared by the augmentation files (src/data/aug_*.c, presets.c,
 * pretext.c): field tables, image helpers, separable Gaussian blur, percentiles. */
#ifndef TASSL_AUG_INTERNAL_H
#define TASSL_AUG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "tassl/augment.h"

/* Field tables: set / get / validate one config struct through its table. `what` names the
 * table in messages ("augmentation", "genesis", "mask"). */
tassl_status aug_field_set(const tassl_field *t, int n, void *cfg, const char *key,
                           const char *value, const char *what);
char *aug_field_get(const tassl_field *t, int n, const void *cfg, const char *key, char *buf,
                    size_t len);
tassl_status aug_field_validate(const tassl_field *t, int n, const void *cfg, const char *what);
/* Apply every field's default. */
void aug_field_defaults(const tassl_field *t, int n, void *cfg);

/* A new image with src's channels, geometry and flags but size (d, h, w); data uninitialised
 * contents are zero. */
tassl_status aug_image_like(const tassl_image *src, int channels, int64_t d, int64_t h, int64_t w,
                            tassl_image *out);
/* Replace *img by *next (frees img's data). */
void aug_image_replace(tassl_image *img, tassl_image *next);
/* Ensure *out is an image of the given size: reuses its buffer if it matches, else (re)allocates.
 */
tassl_status aug_image_ensure(tassl_image *out, int channels, int64_t d, int64_t h, int64_t w);

/* Per-channel minimum of (C, N) data. */
float aug_channel_min(const float *x, int64_t n);
/* Separable Gaussian blur of one channel (d, h, w) in place with per-axis sigma (0 = skip axis);
 * reflect borders. tmp: scratch of d·h·w floats. */
void aug_blur_channel(float *x, int64_t d, int64_t h, int64_t w, const float sigma[3], float *tmp);
/* Percentiles (in %) of the values of x (n of them) selected by sel (NULL = all): lo/hi out.
 * Uses a copy in scratch (n floats). Returns the number of selected values. */
int64_t aug_percentiles(const float *x, const uint8_t *sel, int64_t n, float p_lo, float p_hi,
                        float *lo, float *hi, float *scratch);

/* Bulk random numbers (one per voxel: shuffling, noise fills, noise): SplitMix64 (Steele et al.,
 * OOPSLA 2014) seeded with 64 bits drawn from the sample's Philox stream. The result is still a
 * pure function of (seed, sample, epoch, stream); SplitMix64 passes BigCrush and costs about a
 * tenth of a Philox block per 64 bits. */
typedef struct aug_fast {
    uint64_t s;
} aug_fast;

static inline void aug_fast_init(aug_fast *f, tassl_aug_rng *r) {
    uint64_t hi = tassl_aug_rng_u32(r);
    f->s = (hi << 32) | tassl_aug_rng_u32(r);
}

static inline uint64_t aug_fast_next(aug_fast *f) {
    uint64_t z = (f->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) from 24 bits */
static inline float aug_fast_unit(uint32_t bits) {
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

#endif
