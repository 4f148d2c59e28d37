/* rng.c — Philox-4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11; constants from the paper / Random123).
 *
 * Element g of the stream with key `seed` is drawn from one Philox block with counter
 * (lo32(g), hi32(g), 0, 0): uniform = top 24 bits of word 0 · 2⁻²⁴; normal = Box–Muller on words
 * 0 and 1. cl/core.cl implements the same function, so every backend draws the same numbers. */
#include <math.h>
#include "tassl/tensor.h"

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void tassl_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void philox(uint64_t seed, uint64_t index, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), 0, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    tassl_philox4x32(ctr, key, out);
}

uint32_t tassl_philox_u32(uint64_t seed, uint64_t index) {
    uint32_t w[4];
    philox(seed, index, w);
    return w[0];
}

float tassl_philox_uniform(uint64_t seed, uint64_t index) {
    return (float)(tassl_philox_u32(seed, index) >> 8) * (1.0f / 16777216.0f);
}

float tassl_philox_normal(uint64_t seed, uint64_t index) {
    uint32_t w[4];
    philox(seed, index, w);
    float u1 = (float)((w[0] >> 8) + 1) * (1.0f / 16777216.0f); /* (0, 1]: log is finite */
    float u2 = (float)(w[1] >> 8) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}
