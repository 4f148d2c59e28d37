/* anomaly.h — the pathology-aware pretext task: synthetic anomalies blended into healthy tissue,
 * which a dense network must localise (method.name: anomaly, src/ssl/anomaly.c).
 *
 * Two kinds of anomaly, both confined to the foreground (the tissue, not the air around it):
 *   - BLOB: a lesion-like ellipsoid (random radii and orientation of its axes along the image
 *     axes, a border made irregular by low-frequency noise and soft over `border` of its radius),
 *     its intensity shifted up or down by `shift` foreground standard deviations and textured by
 *     smooth noise: x' = x + α·(s + t·n), α the soft mask — the idea of synthetic lesions for
 *     self-supervised anomaly localisation (e.g. Tan et al. 2021, "Detecting outliers with
 *     foreign patch interpolation"; Schlüter et al. 2022, NSA);
 *   - PATCH: a foreign patch — the same-shaped region from elsewhere in the image, optionally
 *     flipped — blended in with a soft mask and a random blend factor: x' = (1 − β·α)·x +
 *     β·α·x_src (FPI, Tan et al. 2021; CutPaste, Li et al. CVPR 2021, pastes without blending).
 * The target is the binary mask α·β ≥ 0.5 restricted to the foreground (1 where the anomaly is):
 * per-voxel BCE (optionally + soft Dice) on the logits of a U-Net decoder.
 *
 * Randomness comes only from (seed, sample, epoch) through augment.h's streams (stream
 * TASSL_STREAM_USER + 64 + 16 onwards), so a sample's anomalies are a pure function of them.
 */
#ifndef TASSL_ANOMALY_H
#define TASSL_ANOMALY_H

#include <stdint.h>
#include "image.h"
#include "ssl.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_anomaly_kind {
    TASSL_ANOMALY_MIXED = 0, /* each anomaly a blob or a patch with probability 1/2 */
    TASSL_ANOMALY_BLOB,
    TASSL_ANOMALY_PATCH,
} tassl_anomaly_kind;

typedef struct tassl_anomaly_config {
    tassl_anomaly_kind kind;
    float prob;         /* probability that a sample gets anomalies (others stay healthy) */
    int max_anomalies;  /* 1..max per anomalous sample (uniform) */
    float radius[2];    /* radius range, fraction of the smallest spatial side */
    float shift[2];     /* blob: |intensity shift| range, in foreground standard deviations */
    float texture;      /* blob: texture amplitude, fraction of the shift */
    float border;       /* soft border width, fraction of the radius (0: hard edge) */
    float blend[2];     /* patch: blend factor β range */
    float fg_threshold; /* foreground: channel 0 > min + fg_threshold·(max − min) */
} tassl_anomaly_config;

/* Defaults: mixed, prob 0.8, up to 2, radius 0.06–0.2, shift 0.8–2, texture 0.3, border 0.3,
 * blend 0.6–1, fg_threshold 0.15. */
void tassl_anomaly_config_default(tassl_anomaly_config *c);
/* One "field=value" (the field names above; kind blob|patch|mixed; ranges as "lo,hi").
 * TASSL_ERR_ARG naming the field and the expected values. */
tassl_status tassl_anomaly_config_set(tassl_anomaly_config *c, const char *field,
                                      const char *value);
/* TASSL_ERR_ARG naming the first field out of range. */
tassl_status tassl_anomaly_config_validate(const tassl_anomaly_config *c);

/* Blend anomalies into a copy of src (C, D, H, W): out (same shape, ∏ floats) receives the
 * corrupted image, mask (1, D, H, W floats, 0/1) the target; *count (may be NULL) the anomalies
 * placed (0 for a healthy sample, or when the foreground is too small to hold one). A pure
 * function of (cfg, src, seed, sample, epoch). TASSL_ERR_NOMEM only. */
tassl_status tassl_anomaly_apply(const tassl_anomaly_config *cfg, const tassl_image *src,
                                 uint64_t seed, uint64_t sample, uint64_t epoch, float *out,
                                 float *mask, int *count);

/* The anomaly member's heat-map of x (N, C, S...) → probabilities (N, 1, S...) in eval mode (no
 * gradient recorded) — for localisation metrics after pretraining. The framework s must have an
 * `anomaly` member (alone or in a hybrid); TASSL_ERR_ARG otherwise (*out NULL). The tensor lives
 * in the caller's scope. */
tassl_status tassl_anomaly_heatmap(tassl_ssl *s, tassl_tensor *x, tassl_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
