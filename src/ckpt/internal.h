/* internal.h — shared by the checkpoint layer (src/ckpt): atomic file writes, the safetensors
 * writer (header + data callback) and byte-order helpers. */
#ifndef TASSL_CKPT_INTERNAL_H
#define TASSL_CKPT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>
#include "tassl/checkpoint.h"

/* Largest header the reference implementation accepts (100 MB). */
#define TASSL_ST_MAX_HEADER 100000000LL

/* A file written under a temporary name in the target's directory and renamed over the target
 * only when complete (fsync of the file before, of the directory after). */
typedef struct tassl_atomic_file {
    FILE *f;
    char *tmp, *path;
} tassl_atomic_file;
tassl_status tassl_atomic_open(const char *path, tassl_atomic_file *af);
tassl_status tassl_atomic_commit(tassl_atomic_file *af); /* closes; on failure removes tmp */
void tassl_atomic_abort(tassl_atomic_file *af);          /* closes and removes tmp */
/* fsync a directory (after a rename or unlink in it). */
tassl_status tassl_fsync_dir(const char *dir);
/* The directory part of a path ("." if none); malloc'd. */
char *tassl_path_dir(const char *path);

/* Write a safetensors file atomically: `root` is the whole header object (tensors with their
 * data_offsets, __metadata__), serialised compactly and padded with spaces to a multiple of 8;
 * then data(ud, i, f) is called for i = 0..n−1 and must write tensor i's bytes in offset order. */
typedef tassl_status (*tassl_st_data_fn)(void *ud, int i, FILE *f, const char *path);
tassl_status tassl_st_write(const char *path, json_t *root, int n, tassl_st_data_fn data, void *ud);

/* 4-byte words between host order and little-endian (in place; no-op on little-endian hosts). */
void tassl_le32(void *p, size_t nwords);

#endif
