/* aug_rng.c — the per-sample Philox stream of the augmentation pipeline.
 *
 * Counter = (block, stream, lo32(sample), lo32(epoch)); key = seed with the high halves of sample
 * and epoch folded in (odd multipliers, so distinct (sample, epoch) give distinct keys/counters).
 * A stream is thus a pure function of (seed, sample, epoch, stream id); each Philox block gives
 * four words, consumed in order. */
#include <math.h>
#include "tassl/augment.h"
#include "tassl/tensor.h"

void tassl_aug_rng_init(tassl_aug_rng *r, uint64_t seed, uint64_t sample, uint64_t epoch,
                        uint32_t stream) {
    uint64_t k =
        seed ^ ((sample >> 32) * 0x9E3779B97F4A7C15ull) ^ ((epoch >> 32) * 0xC2B2AE3D27D4EB4Full);
    r->key[0] = (uint32_t)k;
    r->key[1] = (uint32_t)(k >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = stream;
    r->ctr[2] = (uint32_t)sample;
    r->ctr[3] = (uint32_t)epoch;
    r->left = 0;
}

uint32_t tassl_aug_rng_u32(tassl_aug_rng *r) {
    if (r->left == 0) {
        tassl_philox4x32(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->left = 4;
    }
    return r->buf[4 - r->left--];
}

float tassl_aug_rng_uniform(tassl_aug_rng *r) {
    return (float)(tassl_aug_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float tassl_aug_rng_range(tassl_aug_rng *r, float lo, float hi) {
    return lo + (hi - lo) * tassl_aug_rng_uniform(r);
}

float tassl_aug_rng_normal(tassl_aug_rng *r) {
    float u1 = (float)((tassl_aug_rng_u32(r) >> 8) + 1) * (1.0f / 16777216.0f); /* (0, 1] */
    float u2 = (float)(tassl_aug_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

int64_t tassl_aug_rng_int(tassl_aug_rng *r, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span <= 0xFFFFFFFFull) /* multiply-shift (Lemire), bias < span / 2^32 */
        return lo + (int64_t)(((uint64_t)tassl_aug_rng_u32(r) * span) >> 32);
    uint64_t x = ((uint64_t)tassl_aug_rng_u32(r) << 32) | tassl_aug_rng_u32(r);
    return lo + (int64_t)(x % span);
}

int tassl_aug_rng_bernoulli(tassl_aug_rng *r, float p) {
    if (p <= 0.0f) return 0;
    if (p >= 1.0f) return 1;
    return tassl_aug_rng_uniform(r) < p;
}
