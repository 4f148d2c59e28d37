/* synth.c — the lesion-quadrant task: which quadrant of a noisy image holds a bright blob.
 * Every sample is a pure function of (seed, index) through the Philox stream, so a training run
 * needs no data on disk, any sample can be regenerated, and training and held-out indices are
 * disjoint ranges of the same stream. */
#include <math.h>
#include "synth.h"
#include "tassl/tensor.h"

int synth_quadrant(const synth_task *t, uint64_t idx, float *img) {
    const int s = t->size;
    /* each sample owns a block of counters: 3 for the label and position, then one per pixel */
    uint64_t base = idx * ((uint64_t)s * (uint64_t)s + 8);
    int cls = (int)(tassl_philox_u32(t->seed, base) % SYNTH_QUADRANT_CLASSES);
    float half = 0.5f * (float)s;
    float cy = (float)(cls / 2) * half + 0.25f * half +
               0.5f * half * tassl_philox_uniform(t->seed, base + 1);
    float cx = (float)(cls % 2) * half + 0.25f * half +
               0.5f * half * tassl_philox_uniform(t->seed, base + 2);
    float sig = t->radius * (float)s, inv = 1.0f / (2.0f * sig * sig);
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            float dy = (float)y + 0.5f - cy, dx = (float)x + 0.5f - cx;
            uint64_t k = base + 8 + (uint64_t)y * (uint64_t)s + (uint64_t)x;
            img[y * s + x] =
                expf(-(dy * dy + dx * dx) * inv) + t->noise * tassl_philox_normal(t->seed, k);
        }
    return cls;
}
