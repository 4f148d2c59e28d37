/* synth.h — the seeded synthetic classification task `tassl train` uses until real data sources
 * land (internal to src/run). */
#ifndef TASSL_RUN_SYNTH_H
#define TASSL_RUN_SYNTH_H

#include <stdint.h>

#define SYNTH_QUADRANT_CLASSES 4

typedef struct synth_task {
    uint64_t seed;
    int size;     /* image side */
    float noise;  /* noise standard deviation */
    float radius; /* lesion sigma, fraction of the side */
} synth_task;

/* Sample `idx` of the stream: a (size, size) image into img, returns its class in [0, 4): the
 * quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) holding the centre of a
 * bright Gaussian lesion (peak 1) placed uniformly inside the middle half of that quadrant, plus
 * N(0, noise²) per pixel. A pure function of (seed, idx). */
int synth_quadrant(const synth_task *t, uint64_t idx, float *img);

#endif
