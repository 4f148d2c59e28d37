/* data_internal.h — helpers shared by src/data: a counter-based host random stream (Philox, so a
 * sample's draws depend only on its key), path normalisation and containment, small strings. */
#ifndef TASSL_DATA_INTERNAL_H
#define TASSL_DATA_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "tassl/dataset.h"
#include "tassl/tensor.h"

/* Stream tags: one Philox stream per purpose, so (seed, key) never collide across uses. */
enum {
    SRNG_TAG_POSITION = 0x51A7, /* where a sample is taken from */
    SRNG_TAG_EPOCH = 0xE90C,    /* the epoch permutation */
    SRNG_TAG_SPLIT = 0x5B17,    /* subject splits */
    SRNG_TAG_SYNTH = 0x5E7A,    /* synthetic phantoms */
    SRNG_TAG_PREPARE = 0x9E9A,  /* prepared real datasets */
};

typedef struct srng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int left;
} srng;

static inline void srng_init(srng *r, uint64_t seed, uint64_t stream, uint32_t tag) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = tag;
    r->ctr[2] = (uint32_t)stream;
    r->ctr[3] = (uint32_t)(stream >> 32);
    r->left = 0;
}

static inline uint32_t srng_u32(srng *r) {
    if (r->left == 0) {
        tassl_philox4x32(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->left = 4;
    }
    return r->buf[--r->left];
}

/* uniform in (0, 1), 24-bit resolution */
static inline float srng_unif(srng *r) {
    return ((float)(srng_u32(r) >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

static inline float srng_range(srng *r, float lo, float hi) { return lo + (hi - lo) * srng_unif(r); }

/* uniform integer in [0, n), n >= 1 (rejection: unbiased) */
static inline int64_t srng_below(srng *r, int64_t n) {
    uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un;
    for (;;) {
        uint64_t x = ((uint64_t)srng_u32(r) << 32) | srng_u32(r);
        if (x < limit) return (int64_t)(x % un);
    }
}

static inline float srng_normal(srng *r) {
    float u = srng_unif(r), v = srng_unif(r);
    return sqrtf(-2.0f * logf(u)) * cosf(6.28318530718f * v);
}

/* SplitMix64 finaliser: decorrelates derived seeds. */
static inline uint64_t data_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Lexically normalise an absolute path in place: collapse "//", "." and ".." (".." above "/"
 * stays at "/"), no trailing slash. */
void data_path_normalize(char *p);
/* base_dir + "/" + rel unless rel is absolute; then normalised. Returns malloc'd or NULL. */
char *data_path_join(const char *base_dir, const char *rel);
/* 1 if p equals root or lies below it (both normalised absolute paths). */
int data_path_inside(const char *p, const char *root);
/* Absolute, normalised form of p (relative to the working directory). malloc'd or NULL. */
char *data_path_absolute(const char *p);
/* Folder part of a path ("." if none) into out. */
void data_path_dirname(const char *p, char *out, size_t cap);
/* Create a directory and its parents (mode 0755). TASSL_ERR_IO naming it on failure. */
tassl_status data_mkdirs(const char *dir);

/* snprintf for paths (a wrapper, so building paths from PATH_MAX buffers does not trip
 * -Wformat-truncation); returns 1 if the result was truncated. */
int data_fmt(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Deep copy of a manifest's records, root and source. */
tassl_status data_manifest_copy(tassl_manifest *dst, const tassl_manifest *src);

#endif
