/* tune.h — per-device GEMM tuning: the search (`tassl tune`) and its cache file.
 *
 * The result of a tuning run is one small text file per device under
 * $XDG_CACHE_HOME/tassl/tune/ (or ~/.cache/tassl/tune/), named by the device key (the device
 * name made file-safe plus a hash of platform, vendor and name). It records the driver version it
 * was measured with, the winning implementation and, for "tile", its parameter row.
 * tassl_gemm_select() loads it when a device is opened; a file for another driver version (stale)
 * or one that does not parse (corrupt) is ignored with a one-line warning on stderr.
 * TASSL_TUNE_CACHE=off ignores the cache (benchmarks of the built-in rows).
 */
#ifndef TASSL_TUNE_H
#define TASSL_TUNE_H

#include <stdio.h>
#include "gemm_params.h"

typedef struct tassl_tune_entry {
    char impl[32];            /* "tile" or "clblast" */
    tassl_gemm_params params; /* meaningful for "tile" */
    double gflops;            /* geometric mean over the tuning shapes (informational) */
} tassl_tune_entry;

/* File-safe device key ("pthread-skylake-avx512-AMD-EPYC-1a2b3c4d") into out. */
void tassl_tune_device_key(const tassl_device_info *info, char *out, size_t cap);

/* Path of the device's tune file (the directory is created when `create`). 0 when there is no
 * usable cache directory (no HOME/XDG_CACHE_HOME, or it cannot be created). */
int tassl_tune_path(const tassl_device_info *info, char *out, size_t cap, int create);

/* Load the device's entry: 1 = loaded into *out; 0 = no file (or TASSL_TUNE_CACHE=off);
 * -1 = a file exists but is stale or corrupt (one warning line printed on stderr). */
int tassl_tune_load(const tassl_device_info *info, tassl_tune_entry *out);

/* Write the entry atomically (temp file, fsync, rename). */
tassl_status tassl_tune_store(const tassl_device_info *info, const tassl_tune_entry *e);

/* A copy of *p in static storage that lives as long as the process (equal rows share one copy),
 * for dev->gemm_params; NULL when the (generous) table is full. Thread-safe. */
const tassl_gemm_params *tassl_tune_intern(const tassl_gemm_params *p);

typedef struct tassl_tune_options {
    int quick; /* smaller shapes and search (seconds): tests, smoke runs */
    int reps;  /* timed repetitions per candidate and shape (median); 0 = default */
    FILE *log; /* progress lines, or NULL */
} tassl_tune_options;

/* Search the tile parameters (and compare with clBLAST where it may win) on a few
 * representative shapes of dev; the best entry into *best. Does not store it. */
tassl_status tassl_tune_run(tassl_device *dev, const tassl_tune_options *opt,
                            tassl_tune_entry *best);

#endif
