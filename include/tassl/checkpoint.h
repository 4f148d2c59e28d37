/* checkpoint.h — checkpoints in the safetensors format, readable by PyTorch users.
 *
 * File layout (exactly the safetensors format): 8-byte little-endian header length N; N bytes of
 * JSON, padded with spaces to a multiple of 8 as the reference implementation does:
 *     {"__metadata__": {"key": "value", ...},
 *      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * then the raw little-endian tensor data; offsets are relative to the end of the header, tensors
 * are contiguous, without gaps or overlaps, and the last one ends at the end of the file.
 *
 * Names in a tassl checkpoint:
 *   <prefix><param name>                 parameters and buffers of a tassl_params set
 *   <prefix><param name>.<state suffix>  optimiser state (optim.h: momentum_buffer, exp_avg,
 *                                        exp_avg_sq); the prefix conventionally "optimizer."
 * __metadata__ (all values strings, as the format requires):
 *   format "tassl", tassl_version, and whatever the caller sets (conventionally config = the
 *   resolved YAML, step, epoch); with an optimiser bound: optimizer (sgd|adamw|lars),
 *   optimizer.state (comma-separated suffixes), optimizer.step, optimizer.hparams (JSON);
 *   with a context bound: rng.seed, rng.counter (decimal).
 *
 * Run directories keep the last N checkpoints as ckpt-000100.safetensors (the step, 6+ digits)
 * plus a text file `latest` holding the newest file's name and a newline (a file, not a symlink,
 * so it survives copies and file systems without links). Every write is atomic: a temporary file
 * in the same directory, fsync, rename over the target, fsync of the directory.
 */
#ifndef TASSL_CHECKPOINT_H
#define TASSL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "optim.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading any safetensors file ----------------------------------------------------------- */

typedef struct tassl_st tassl_st;

/* Open and fully validate a safetensors file: header length, JSON, dtypes, shapes, offsets (in
 * range, contiguous, no overlap, matching dtype × shape), file size. Any violation is a
 * TASSL_ERR_FORMAT naming the file and what is wrong (TASSL_ERR_IO if it cannot be read). */
tassl_status tassl_st_open(const char *path, tassl_st **out);
void tassl_st_close(tassl_st *st);
const char *tassl_st_path(const tassl_st *st);
/* Tensors, in the order of their data in the file. */
int tassl_st_count(const tassl_st *st);
const char *tassl_st_name(const tassl_st *st, int i);
const char *tassl_st_dtype(const tassl_st *st, int i);            /* "F32", "F16", "I64", ... */
int tassl_st_ndim(const tassl_st *st, int i);
const int64_t *tassl_st_shape(const tassl_st *st, int i);
int64_t tassl_st_nbytes(const tassl_st *st, int i);
int tassl_st_find(const tassl_st *st, const char *name);           /* index, or -1 */
/* __metadata__ entries (NULL if absent). */
int tassl_st_meta_count(const tassl_st *st);
const char *tassl_st_meta_key(const tassl_st *st, int i);
const char *tassl_st_meta(const tassl_st *st, const char *key);
/* Raw bytes of tensor i (tassl_st_nbytes of them, as stored: little-endian). */
tassl_status tassl_st_read_raw(const tassl_st *st, int i, void *dst);
/* An F32 tensor as host floats (numel of them); TASSL_ERR_FORMAT for another dtype. */
tassl_status tassl_st_read_f32(const tassl_st *st, int i, float *dst);

/* Copy the tensors of src whose names start with prefix into a new file dst (atomic write),
 * with the prefix removed from their names when strip is true ("encoder." → "layer1.0..."),
 * any dtype, bytes unchanged; metadata copied except optimiser and RNG keys, plus
 * "exported_from" = src and "export_prefix" = prefix. TASSL_ERR_ARG if nothing matches. */
tassl_status tassl_st_export(const char *src, const char *dst, const char *prefix, bool strip);

/* ---- checkpoints: what to save and restore -------------------------------------------------- */

/* A checkpoint binds named tensors (and optionally an optimiser and a context's RNG) to a file;
 * the same binding writes a checkpoint and reads it back. */
typedef struct tassl_ckpt tassl_ckpt;

tassl_ckpt *tassl_ckpt_new(void);
void tassl_ckpt_free(tassl_ckpt *c);
/* Bind one tensor (any strides; float32) under `name`. TASSL_ERR_ARG on a duplicate name. */
tassl_status tassl_ckpt_add_tensor(tassl_ckpt *c, const char *name, tassl_tensor *t);
/* Bind every entry (parameters and buffers) of a finalized set as prefix + name ("" for none). */
tassl_status tassl_ckpt_add_params(tassl_ckpt *c, const char *prefix, tassl_params *p);
/* Bind an optimiser: its state views as prefix + param + "." + suffix, its step count and name
 * (metadata). The optimiser's parameters are not bound by this call. */
tassl_status tassl_ckpt_add_optim(tassl_ckpt *c, const char *prefix, tassl_optim *o);
/* Bind a context's RNG state (rng.seed, rng.counter). */
void tassl_ckpt_add_rng(tassl_ckpt *c, tassl_ctx *ctx);
/* Metadata to write (copied; replaces an earlier value). After tassl_ckpt_read, tassl_ckpt_meta
 * returns the file's values instead. */
tassl_status tassl_ckpt_set_meta(tassl_ckpt *c, const char *key, const char *value);
tassl_status tassl_ckpt_set_meta_int(tassl_ckpt *c, const char *key, int64_t value);
const char *tassl_ckpt_meta(const tassl_ckpt *c, const char *key);
/* Integer metadata; TASSL_ERR_FORMAT if absent or not an integer (naming the key). */
tassl_status tassl_ckpt_meta_int(const tassl_ckpt *c, const char *key, int64_t *out);

/* Write every bound tensor and the metadata to path, atomically (the old file, if any, stays
 * intact until the new one is complete). Blocks on the device reads. */
tassl_status tassl_ckpt_write(tassl_ckpt *c, const char *path);

typedef struct tassl_ckpt_load_opts {
    /* strict: every selected bound tensor must be in the file and every file tensor under
     * file_prefix must be bound (PyTorch's strict=True); non-strict tolerates both and lists
     * them in tassl_ckpt_report(). Shape and dtype mismatches are errors in both modes. */
    bool strict;
    /* Only bound tensors whose names start with `select` are loaded ("encoder."; NULL: all). */
    const char *select;
    /* The file names of the selected tensors: file_prefix + (name without `select`). NULL: the
     * same as select (names unchanged). "" loads an export made with strip = true. */
    const char *file_prefix;
} tassl_ckpt_load_opts;

/* Read path into the bound tensors (opts NULL: strict, everything). Everything is checked
 * before anything is written: on any mismatch — listed exactly: "missing: a, b; unexpected: c;
 * shape: x is (2, 3) in the file, (3, 2) in the model; dtype: y is F16, expected F32" — the
 * tensors, the optimiser and the RNG are left as they were. On success an optimiser gets its
 * step count, a context its RNG state; metadata is available through tassl_ckpt_meta. */
tassl_status tassl_ckpt_read(tassl_ckpt *c, const char *path, const tassl_ckpt_load_opts *opts);
/* After a successful non-strict read: what was missing / unexpected ("" if nothing). */
const char *tassl_ckpt_report(const tassl_ckpt *c);

/* ---- run directories ------------------------------------------------------------------------ */

/* Write dir/ckpt-<step>.safetensors atomically, point dir/latest at it (atomic too), then delete
 * the oldest ckpt-*.safetensors beyond the newest `keep` (keep <= 0: keep all). The directory
 * must exist. path_out (may be NULL) receives the file written. */
tassl_status tassl_ckpt_save_in_dir(tassl_ckpt *c, const char *dir, int64_t step, int keep,
                                    char *path_out, size_t path_len);
/* The newest checkpoint of a run directory, from its `latest` file: "dir/ckpt-000100.safetensors".
 * TASSL_ERR_IO if there is none; TASSL_ERR_FORMAT if `latest` names something odd. `dir` may also
 * be a checkpoint file itself, which is returned unchanged. */
tassl_status tassl_ckpt_latest(const char *dir, char *path_out, size_t path_len);

#ifdef __cplusplus
}
#endif
#endif
