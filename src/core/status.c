/* status.c — thread-local error messages and status names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/status.h"

static _Thread_local char last_error[2048];

const char *tassl_status_name(tassl_status s) {
    switch (s) {
    case TASSL_OK: return "TASSL_OK";
    case TASSL_ERR_ARG: return "TASSL_ERR_ARG";
    case TASSL_ERR_IO: return "TASSL_ERR_IO";
    case TASSL_ERR_FORMAT: return "TASSL_ERR_FORMAT";
    case TASSL_ERR_DEVICE: return "TASSL_ERR_DEVICE";
    case TASSL_ERR_NOMEM: return "TASSL_ERR_NOMEM";
    case TASSL_ERR_UNSUPPORTED: return "TASSL_ERR_UNSUPPORTED";
    case TASSL_ERR_NUMERIC: return "TASSL_ERR_NUMERIC";
    case TASSL_ERR_CHECK: return "TASSL_ERR_CHECK";
    }
    return "TASSL_ERR_?";
}

const char *tassl_last_error(void) { return last_error; }

void tassl_error_clear(void) { last_error[0] = 0; }

tassl_status tassl_error(tassl_status s, const char *fmt, ...) {
    /* format into a scratch buffer first: callers may pass tassl_last_error() as an argument
     * ("%s: while loading: %s", path, tassl_last_error()) */
    char tmp[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_error, tmp, sizeof tmp);
    return s;
}

_Noreturn void tassl_abort(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "tassl: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
