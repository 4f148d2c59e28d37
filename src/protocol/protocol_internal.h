/* protocol_internal.h — what the files of src/protocol share: small string and file helpers,
 * the eval.json reader of aggregation and the cell configuration builder. Not installed. */
#ifndef TASSL_PROTOCOL_INTERNAL_H
#define TASSL_PROTOCOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tassl/protocol.h"

/* malloc'd printf; NULL on out of memory */
char *proto_fmt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Write `len` bytes to path atomically: path.tmp, fsync, rename, fsync of the directory.
 * TASSL_ERR_IO naming the file; the previous file (if any) is intact on failure. */
tassl_status proto_write_atomic(const char *path, const char *data, size_t len);

/* mkdir -p; TASSL_ERR_IO naming the directory. */
tassl_status proto_mkdirs(const char *path);
bool proto_exists(const char *path);
/* true if path is a directory with at least one entry besides . and .. */
bool proto_dir_nonempty(const char *path);

/* The contents of one cell's eval.json. */
typedef struct proto_eval {
    char primary[48];
    int64_t train_labelled;
    double train_s, eval_s;
    double mem_peak_bytes;
    int n;
    char (*name)[48]; /* (n) metric names in file order */
    double *value;    /* (n) NaN for null */
} proto_eval;

/* Read dir/eval.json. TASSL_ERR_IO if it is missing or unreadable, TASSL_ERR_FORMAT naming the
 * file and the field when it is malformed. */
tassl_status proto_eval_read(const char *path, proto_eval *e);
void proto_eval_free(proto_eval *e);
double proto_eval_get(const proto_eval *e, const char *name); /* NaN when absent */

/* A suite's field as YAML text (double-quoted with escapes). */
void proto_yaml_quote(FILE *f, const char *s);

#endif
