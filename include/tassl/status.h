/* status.h — error reporting at the library boundary.
 *
 * Library functions that can fail for reasons outside the caller's control (files, devices, memory,
 * bad configuration) return a tassl_status; the human-readable message — naming the file, key or
 * device and what was expected — lives in a thread-local buffer read with tassl_last_error().
 * Programmer errors inside the library (a shape mismatch between two tensors handed to an op) are
 * not statuses: TASSL_CHECK aborts with file:line and the message. Library code never calls exit().
 */
#ifndef TASSL_STATUS_H
#define TASSL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_status {
    TASSL_OK = 0,
    TASSL_ERR_ARG,         /* invalid argument or configuration value */
    TASSL_ERR_IO,          /* a file could not be opened, read or written */
    TASSL_ERR_FORMAT,      /* a file or string is malformed, truncated or corrupt */
    TASSL_ERR_DEVICE,      /* the compute device or its driver failed */
    TASSL_ERR_NOMEM,       /* host or device memory exhausted */
    TASSL_ERR_UNSUPPORTED, /* valid request that this build or device cannot do */
    TASSL_ERR_NUMERIC,     /* NaN/Inf or another numerical failure */
    TASSL_ERR_CHECK,       /* a self-check failed (guard overwritten, result mismatch) */
} tassl_status;

/* Short upper-case name of a status ("TASSL_ERR_IO"). */
const char *tassl_status_name(tassl_status s);

/* Message of the last error set on this thread ("" if none). */
const char *tassl_last_error(void);

/* Set the thread's error message (printf-style) and return s, so callers can write
 * `return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));` */
tassl_status tassl_error(tassl_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear the thread's error message. */
void tassl_error_clear(void);

/* Abort with file:line and a message: for violated preconditions (programmer errors). */
_Noreturn void tassl_abort(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define TASSL_CHECK(cond, ...)                                                                   \
    do {                                                                                         \
        if (!(cond)) tassl_abort(__FILE__, __LINE__, __VA_ARGS__);                               \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
