/* clrt.h — OpenCL runtime shared by the OpenCL kernel families (backend-internal; nothing above
 * src/backend includes CL/cl.h).
 *
 * Programs are built lazily from cl/<file>.cl (embedded at build time, or read from
 * $TASSL_KERNEL_DIR when set) with cl/common.cl prepended, cached in memory by (file, options),
 * and their binaries cached on disk under $XDG_CACHE_HOME/tassl/kernels (or ~/.cache/...) keyed by
 * a hash of source + options + device + driver version (atomic write; TASSL_KERNEL_CACHE=off
 * disables it). A failed build reports the build log through tassl_last_error().
 */
#ifndef TASSL_CLRT_H
#define TASSL_CLRT_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include "../backend.h"

struct tassl_buf {
    cl_mem mem;
    size_t bytes;
};

typedef struct tassl_cl_program {
    char *file, *options;
    cl_program program;
    int nkernels, capkernels;
    struct { char *name; cl_kernel kernel; } *kernels;
} tassl_cl_program;

typedef struct tassl_cl {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    tassl_cl_program *programs;
    int nprograms, capprograms;
    int is_pocl;
} tassl_cl;

static inline tassl_cl *tassl_cl_of(tassl_device *dev) { return (tassl_cl *)dev->impl; }

/* Status from an OpenCL error code, with "what" and the code's name in the message. */
tassl_status tassl_cl_fail(cl_int err, const char *what);
const char *tassl_cl_errname(cl_int err);

/* Kernel `name` from cl/<file>.cl built with `options` ("" or "-DTILE=8 ..."); NULL on failure
 * (message set). The kernel object is cached: set all its arguments before each launch. */
cl_kernel tassl_cl_kernel(tassl_device *dev, const char *file, const char *name,
                          const char *options);

/* Enqueue a launch (no host sync). lws may be NULL. gws is rounded up to a multiple of lws. */
tassl_status tassl_cl_launch(tassl_device *dev, cl_kernel k, int dims, const size_t *gws,
                             const size_t *lws);

/* Argument setter: accumulates the first failure. */
typedef struct tassl_cl_args {
    cl_kernel k;
    cl_uint i;
    cl_int err;
} tassl_cl_args;
static inline tassl_cl_args tassl_cl_args_begin(cl_kernel k) { tassl_cl_args a = {k, 0, 0}; return a; }
static inline void tassl_cl_arg(tassl_cl_args *a, size_t size, const void *p) {
    cl_int e = clSetKernelArg(a->k, a->i++, size, p);
    if (e != CL_SUCCESS && a->err == CL_SUCCESS) a->err = e;
}
/* A device pointer is two kernel arguments: the buffer and an int element offset. */
void tassl_cl_arg_ptr(tassl_cl_args *a, tassl_ptr p);
void tassl_cl_arg_int(tassl_cl_args *a, int64_t v);   /* checks the value fits an int */
void tassl_cl_arg_float(tassl_cl_args *a, float v);
/* A strided view: buffer + a struct tview {int off, ndim, shape[5], stride[5]} by value
 * (same layout as `tview` in cl/common.cl). */
void tassl_cl_arg_view(tassl_cl_args *a, const tassl_kview *v);

/* Profiler (TASSL_PROFILE=1, see runtime.c): tag the following launches ("" or NULL: none;
 * a tag containing "grad" marks them as backward); print and reset the table (stderr). */
void tassl_cl_prof_tag(const char *tag);
void tassl_cl_prof_report(void);

/* Launch helper for the common 1-D case: one work-item per element, n items. */
tassl_status tassl_cl_launch_1d(tassl_device *dev, cl_kernel k, int64_t n);

/* Embedded sources (generated at build time from the cl/ files). */
typedef struct tassl_cl_source {
    const char *name; /* "core" for cl/core.cl */
    const unsigned char *data;
    size_t len;
} tassl_cl_source;
extern const tassl_cl_source tassl_cl_sources[];
extern const int tassl_cl_nsources;

#endif
