/* opencl/runtime.c — OpenCL device discovery, opening, error names, kernel arguments, launches.
 *
 * Discovery walks every platform and every device (a platform or device that cannot be queried is
 * skipped with a warning, never fatal; no platform at all is simply zero devices). Opening makes
 * one context and ONE in-order queue per device: kernels enqueued by the op layer run in order,
 * and only reads, writes and sync block the host. Kernel arguments are set through small helpers
 * that turn 64-bit host sizes into the int indices the kernels use, checking that they fit.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clrt.h"

/* ---- error names ------------------------------------------------------------------------- */

static const struct {
    cl_int code;
    const char *name;
} cl_errors[] = {
    {0, "CL_SUCCESS"},
    {-1, "CL_DEVICE_NOT_FOUND"},
    {-2, "CL_DEVICE_NOT_AVAILABLE"},
    {-3, "CL_COMPILER_NOT_AVAILABLE"},
    {-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE"},
    {-5, "CL_OUT_OF_RESOURCES"},
    {-6, "CL_OUT_OF_HOST_MEMORY"},
    {-7, "CL_PROFILING_INFO_NOT_AVAILABLE"},
    {-8, "CL_MEM_COPY_OVERLAP"},
    {-9, "CL_IMAGE_FORMAT_MISMATCH"},
    {-10, "CL_IMAGE_FORMAT_NOT_SUPPORTED"},
    {-11, "CL_BUILD_PROGRAM_FAILURE"},
    {-12, "CL_MAP_FAILURE"},
    {-13, "CL_MISALIGNED_SUB_BUFFER_OFFSET"},
    {-14, "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"},
    {-15, "CL_COMPILE_PROGRAM_FAILURE"},
    {-16, "CL_LINKER_NOT_AVAILABLE"},
    {-17, "CL_LINK_PROGRAM_FAILURE"},
    {-18, "CL_DEVICE_PARTITION_FAILED"},
    {-19, "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"},
    {-30, "CL_INVALID_VALUE"},
    {-31, "CL_INVALID_DEVICE_TYPE"},
    {-32, "CL_INVALID_PLATFORM"},
    {-33, "CL_INVALID_DEVICE"},
    {-34, "CL_INVALID_CONTEXT"},
    {-35, "CL_INVALID_QUEUE_PROPERTIES"},
    {-36, "CL_INVALID_COMMAND_QUEUE"},
    {-37, "CL_INVALID_HOST_PTR"},
    {-38, "CL_INVALID_MEM_OBJECT"},
    {-39, "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR"},
    {-40, "CL_INVALID_IMAGE_SIZE"},
    {-41, "CL_INVALID_SAMPLER"},
    {-42, "CL_INVALID_BINARY"},
    {-43, "CL_INVALID_BUILD_OPTIONS"},
    {-44, "CL_INVALID_PROGRAM"},
    {-45, "CL_INVALID_PROGRAM_EXECUTABLE"},
    {-46, "CL_INVALID_KERNEL_NAME"},
    {-47, "CL_INVALID_KERNEL_DEFINITION"},
    {-48, "CL_INVALID_KERNEL"},
    {-49, "CL_INVALID_ARG_INDEX"},
    {-50, "CL_INVALID_ARG_VALUE"},
    {-51, "CL_INVALID_ARG_SIZE"},
    {-52, "CL_INVALID_KERNEL_ARGS"},
    {-53, "CL_INVALID_WORK_DIMENSION"},
    {-54, "CL_INVALID_WORK_GROUP_SIZE"},
    {-55, "CL_INVALID_WORK_ITEM_SIZE"},
    {-56, "CL_INVALID_GLOBAL_OFFSET"},
    {-57, "CL_INVALID_EVENT_WAIT_LIST"},
    {-58, "CL_INVALID_EVENT"},
    {-59, "CL_INVALID_OPERATION"},
    {-60, "CL_INVALID_GL_OBJECT"},
    {-61, "CL_INVALID_BUFFER_SIZE"},
    {-62, "CL_INVALID_MIP_LEVEL"},
    {-63, "CL_INVALID_GLOBAL_WORK_SIZE"},
    {-64, "CL_INVALID_PROPERTY"},
    {-65, "CL_INVALID_IMAGE_DESCRIPTOR"},
    {-66, "CL_INVALID_COMPILER_OPTIONS"},
    {-67, "CL_INVALID_LINKER_OPTIONS"},
    {-68, "CL_INVALID_DEVICE_PARTITION_COUNT"},
    {-69, "CL_INVALID_PIPE_SIZE"},
    {-70, "CL_INVALID_DEVICE_QUEUE"},
    {-71, "CL_INVALID_SPEC_ID"},
    {-72, "CL_MAX_SIZE_RESTRICTION_EXCEEDED"},
    {-1000, "CL_INVALID_GL_SHAREGROUP_REFERENCE_KHR"},
    {-1001, "CL_PLATFORM_NOT_FOUND_KHR"},
    {-1002, "CL_INVALID_D3D10_DEVICE_KHR"},
    {-1003, "CL_INVALID_D3D10_RESOURCE_KHR"},
    {-1004, "CL_D3D10_RESOURCE_ALREADY_ACQUIRED_KHR"},
    {-1005, "CL_D3D10_RESOURCE_NOT_ACQUIRED_KHR"},
    {-1057, "CL_DEVICE_PARTITION_FAILED_EXT"},
    {-1058, "CL_INVALID_PARTITION_COUNT_EXT"},
    {-1059, "CL_INVALID_PARTITION_NAME_EXT"},
    {-1093, "CL_INVALID_EGL_OBJECT_KHR"},
    {-1092, "CL_EGL_RESOURCE_NOT_ACQUIRED_KHR"},
    {-9999, "CL_NVIDIA_ILLEGAL_MEMORY_ACCESS"},
};

const char *tassl_cl_errname(cl_int err) {
    for (size_t i = 0; i < sizeof cl_errors / sizeof cl_errors[0]; i++)
        if (cl_errors[i].code == err) return cl_errors[i].name;
    return "unknown OpenCL error";
}

tassl_status tassl_cl_fail(cl_int err, const char *what) {
    /* Host/device memory exhaustion is NOMEM; CL_OUT_OF_RESOURCES stays DEVICE because GPU
     * drivers also report crashed kernels that way (buf_alloc maps it to NOMEM itself). */
    tassl_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY)
                         ? TASSL_ERR_NOMEM
                         : TASSL_ERR_DEVICE;
    return tassl_error(s, "opencl: %s: %s (%d)", what, tassl_cl_errname(err), (int)err);
}

/* ---- discovery --------------------------------------------------------------------------- */

/* Copy a string property into dst (truncated, trailing blanks trimmed); "" on failure. */
static cl_int get_string(cl_platform_id p, cl_device_id d, cl_uint param, char *dst, size_t cap) {
    size_t n = 0;
    cl_int e =
        d ? clGetDeviceInfo(d, param, 0, NULL, &n) : clGetPlatformInfo(p, param, 0, NULL, &n);
    dst[0] = 0;
    if (e != CL_SUCCESS) return e;
    char *tmp = malloc(n + 1);
    if (!tmp) return CL_OUT_OF_HOST_MEMORY;
    e = d ? clGetDeviceInfo(d, param, n, tmp, NULL) : clGetPlatformInfo(p, param, n, tmp, NULL);
    if (e == CL_SUCCESS) {
        tmp[n] = 0;
        size_t len = strlen(tmp);
        while (len > 0 && (tmp[len - 1] == ' ' || tmp[len - 1] == '\n'))
            tmp[--len] = 0;
        snprintf(dst, cap, "%s", tmp);
    }
    free(tmp);
    return e;
}

/* Fill everything but index/platform/device indices from the driver. */
static cl_int query_info(cl_platform_id p, cl_device_id d, tassl_device_info *info) {
    cl_int e;
    cl_device_type type = 0;
    cl_ulong global = 0, local = 0, maxalloc = 0;
    cl_uint units = 0;
    size_t wg = 0;
    info->backend = TASSL_BACKEND_OPENCL;
    if ((e = get_string(NULL, d, CL_DEVICE_NAME, info->name, sizeof info->name))) return e;
    if ((e = get_string(p, NULL, CL_PLATFORM_NAME, info->platform_name,
                        sizeof info->platform_name)))
        return e;
    if ((e = get_string(NULL, d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor))) return e;
    if ((e = get_string(NULL, d, CL_DRIVER_VERSION, info->driver_version,
                        sizeof info->driver_version)))
        return e;
    if ((e = get_string(NULL, d, CL_DEVICE_OPENCL_C_VERSION, info->cl_version,
                        sizeof info->cl_version)))
        return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL))) return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL))) return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL))) return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL)))
        return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL))) return e;
    if ((e = clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL))) return e;
    info->type = (type & CL_DEVICE_TYPE_GPU)   ? TASSL_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU) ? TASSL_DEVICE_CPU
                                               : TASSL_DEVICE_ACCEL;
    info->global_mem = global;
    info->local_mem = local;
    info->max_alloc = maxalloc;
    info->compute_units = (int)units;
    info->max_work_group = wg;
    return CL_SUCCESS;
}

/* All platform ids (malloc'd) — *n = 0 and CL_SUCCESS when there is no platform. */
static cl_int get_platforms(cl_platform_id **out, cl_uint *n) {
    *out = NULL;
    *n = 0;
    cl_int e = clGetPlatformIDs(0, NULL, n);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR (cl_ext.h) */ || (e == CL_SUCCESS && *n == 0)) {
        *n = 0;
        return CL_SUCCESS;
    }
    if (e != CL_SUCCESS) return e;
    *out = malloc(*n * sizeof **out);
    if (!*out) return CL_OUT_OF_HOST_MEMORY;
    e = clGetPlatformIDs(*n, *out, NULL);
    if (e != CL_SUCCESS) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return e;
}

/* Device ids of one platform (malloc'd); *n = 0 and CL_SUCCESS when it has none. */
static cl_int get_devices(cl_platform_id p, cl_device_id **out, cl_uint *n) {
    *out = NULL;
    *n = 0;
    cl_int e = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, n);
    if (e == CL_DEVICE_NOT_FOUND || (e == CL_SUCCESS && *n == 0)) {
        *n = 0;
        return CL_SUCCESS;
    }
    if (e != CL_SUCCESS) return e;
    *out = malloc(*n * sizeof **out);
    if (!*out) return CL_OUT_OF_HOST_MEMORY;
    e = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, *n, *out, NULL);
    if (e != CL_SUCCESS) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return e;
}

tassl_status tassl_cl_enumerate(tassl_device_info **list, int *count) {
    cl_platform_id *plats;
    cl_uint np;
    cl_int e = get_platforms(&plats, &np);
    if (e != CL_SUCCESS) {
        fprintf(stderr, "tassl: warning: OpenCL platforms cannot be listed: %s (%d)\n",
                tassl_cl_errname(e), (int)e);
        return TASSL_OK;
    }
    tassl_status st = TASSL_OK;
    for (cl_uint p = 0; p < np && st == TASSL_OK; p++) {
        cl_device_id *devs;
        cl_uint nd;
        e = get_devices(plats[p], &devs, &nd);
        if (e != CL_SUCCESS) {
            fprintf(
                stderr,
                "tassl: warning: OpenCL platform %u skipped: devices cannot be listed: %s (%d)\n",
                p, tassl_cl_errname(e), (int)e);
            continue;
        }
        for (cl_uint d = 0; d < nd; d++) {
            tassl_device_info info;
            memset(&info, 0, sizeof info);
            e = query_info(plats[p], devs[d], &info);
            if (e != CL_SUCCESS) {
                fprintf(stderr, "tassl: warning: OpenCL device %u:%u skipped: %s (%d)\n", p, d,
                        tassl_cl_errname(e), (int)e);
                continue;
            }
            info.index = *count;
            info.platform = (int)p;
            info.device = (int)d;
            tassl_device_info *grown = realloc(*list, (size_t)(*count + 1) * sizeof *grown);
            if (!grown) {
                st = tassl_error(TASSL_ERR_NOMEM, "opencl: out of host memory listing devices");
                break;
            }
            *list = grown;
            (*list)[(*count)++] = info;
        }
        free(devs);
    }
    free(plats);
    return st;
}

/* ---- opening ----------------------------------------------------------------------------- */

tassl_status tassl_cl_open(tassl_device *dev, int platform, int device) {
    cl_platform_id *plats;
    cl_device_id *devs = NULL;
    cl_uint np, nd = 0;
    cl_int e = get_platforms(&plats, &np);
    if (e != CL_SUCCESS) return tassl_cl_fail(e, "clGetPlatformIDs");
    if (np == 0)
        return tassl_error(TASSL_ERR_DEVICE,
                           "opencl:%d:%d: no OpenCL platform found (is an ICD such as pocl "
                           "installed and registered in /etc/OpenCL/vendors?)",
                           platform, device);
    if (platform < 0 || (cl_uint)platform >= np) {
        free(plats);
        return tassl_error(TASSL_ERR_ARG, "opencl:%d:%d: no such platform (there are %u)", platform,
                           device, np);
    }
    cl_platform_id pid = plats[platform];
    free(plats);
    e = get_devices(pid, &devs, &nd);
    if (e != CL_SUCCESS) return tassl_cl_fail(e, "clGetDeviceIDs");
    if (device < 0 || (cl_uint)device >= nd) {
        free(devs);
        return tassl_error(TASSL_ERR_ARG, "opencl:%d:%d: no such device (platform %d has %u)",
                           platform, device, platform, nd);
    }
    cl_device_id did = devs[device];
    free(devs);

    tassl_device_info info;
    memset(&info, 0, sizeof info);
    e = query_info(pid, did, &info);
    if (e != CL_SUCCESS) return tassl_cl_fail(e, "clGetDeviceInfo");
    info.index = dev->info.index; /* the position in tassl_devices_list() is the caller's */
    info.platform = platform;
    info.device = device;

    tassl_cl *cl = calloc(1, sizeof *cl);
    if (!cl) return tassl_error(TASSL_ERR_NOMEM, "opencl: out of host memory");
    cl->platform = pid;
    cl->device = did;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)pid, 0};
    cl->context = clCreateContext(props, 1, &did, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        free(cl);
        return tassl_cl_fail(e, "clCreateContext");
    }
    cl->queue = clCreateCommandQueue(cl->context, did, 0, &e); /* in order, no profiling */
    if (e != CL_SUCCESS) {
        clReleaseContext(cl->context);
        free(cl);
        return tassl_cl_fail(e, "clCreateCommandQueue");
    }
    char pver[128];
    get_string(pid, NULL, CL_PLATFORM_VERSION, pver, sizeof pver);
    cl->is_pocl = strcasestr(info.platform_name, "Portable Computing Language") != NULL ||
                  strcasestr(pver, "pocl") != NULL;
    dev->info = info;
    dev->be = &tassl_cl_backend;
    dev->impl = cl;
    return TASSL_OK;
}

/* ---- kernel arguments -------------------------------------------------------------------- */

static const char *kernel_name(cl_kernel k, char *buf, size_t cap) {
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, cap, buf, NULL) != CL_SUCCESS)
        snprintf(buf, cap, "?");
    return buf;
}

void tassl_cl_arg_int(tassl_cl_args *a, int64_t v) {
    if (v < INT_MIN || v > INT_MAX) {
        char name[128];
        tassl_abort(__FILE__, __LINE__,
                    "tassl_cl_arg_int: argument %u of kernel %s is %lld, which does not fit a "
                    "32-bit int (OpenCL kernels index with int: at most 2^31-1 elements)",
                    (unsigned)a->i, kernel_name(a->k, name, sizeof name), (long long)v);
    }
    cl_int x = (cl_int)v;
    tassl_cl_arg(a, sizeof x, &x);
}

void tassl_cl_arg_float(tassl_cl_args *a, float v) {
    cl_float x = v;
    tassl_cl_arg(a, sizeof x, &x);
}

void tassl_cl_arg_ptr(tassl_cl_args *a, tassl_ptr p) {
    cl_mem m = p.buf ? p.buf->mem : NULL; /* a NULL buffer is legal for optional outputs */
    tassl_cl_arg(a, sizeof m, &m);
    tassl_cl_arg_int(a, p.buf ? p.off : 0);
}

/* Host twin of `tview` in cl/common.cl: 12 ints, no padding on any OpenCL device. */
typedef struct tassl_cl_tview {
    cl_int off, ndim;
    cl_int shape[TASSL_MAX_DIMS];
    cl_int stride[TASSL_MAX_DIMS];
} tassl_cl_tview;

void tassl_cl_arg_view(tassl_cl_args *a, const tassl_kview *v) {
    char name[128];
    TASSL_CHECK(v->ndim >= 0 && v->ndim <= TASSL_MAX_DIMS,
                "tassl_cl_arg_view: kernel %s: view has %d dims (at most %d)",
                kernel_name(a->k, name, sizeof name), v->ndim, TASSL_MAX_DIMS);
    tassl_cl_tview t;
    memset(&t, 0, sizeof t);
    int64_t lo = v->off, hi = v->off; /* lowest and highest element the view reaches */
    int empty = 0;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] == 0) empty = 1;
        int64_t reach = (v->shape[d] - 1) * v->stride[d];
        if (reach > 0)
            hi += reach;
        else
            lo += reach;
        TASSL_CHECK(v->shape[d] >= 0 && v->shape[d] <= INT_MAX && v->stride[d] >= INT_MIN &&
                        v->stride[d] <= INT_MAX,
                    "tassl_cl_arg_view: kernel %s: dim %d has shape %lld stride %lld (must fit "
                    "a 32-bit int)",
                    kernel_name(a->k, name, sizeof name), d, (long long)v->shape[d],
                    (long long)v->stride[d]);
        t.shape[d] = (cl_int)v->shape[d];
        t.stride[d] = (cl_int)v->stride[d];
    }
    TASSL_CHECK(empty || (lo >= INT_MIN && hi <= INT_MAX),
                "tassl_cl_arg_view: kernel %s: view reaches elements %lld..%lld (must fit a "
                "32-bit int)",
                kernel_name(a->k, name, sizeof name), (long long)lo, (long long)hi);
    for (int d = v->ndim; d < TASSL_MAX_DIMS; d++)
        t.shape[d] = 1;
    t.off = (cl_int)v->off;
    t.ndim = v->ndim;
    cl_mem m = v->buf ? v->buf->mem : NULL;
    tassl_cl_arg(a, sizeof m, &m);
    tassl_cl_arg(a, sizeof t, &t);
}

/* ---- profiler (TASSL_PROFILE=1) ----------------------------------------------------------- */

/* Wall time per kernel, for finding where a training step goes: every launch is bracketed by
 * clFinish, so each kernel's time is its own (launches no longer overlap the host's work; the
 * total is an upper bound of the unprofiled run). Keys are the kernel name, the caller's tag
 * (tassl_cl_prof_tag) and the phase: "bwd" from the first backward-only kernel (a name with
 * "bwd" or "wgrad", or a tag with "grad") until the next optimiser kernel, "opt" for the
 * optimiser, "fwd" otherwise (a heuristic: a step's backward starts with the loss's *_bwd).
 * The gaps between launches (host work, transfers) are counted as "(host)". The table goes to
 * stderr when the device closes. Off (one getenv, then a flag test per launch) by default. */

#define PROF_MAX 256

static struct {
    int on, phase; /* phase 0 fwd, 1 bwd, 2 opt */
    double last_end;
    int n;
    struct { char key[96]; double ms; long count; } e[PROF_MAX];
} prof = {-1, 0, 0.0, 0, {{"", 0.0, 0}}};

static const char *prof_tag = "";

void tassl_cl_prof_tag(const char *tag) { prof_tag = tag ? tag : ""; }

static double prof_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static void prof_add(const char *key, double ms) {
    int i = 0;
    while (i < prof.n && strcmp(prof.e[i].key, key) != 0)
        i++;
    if (i == prof.n) {
        if (prof.n == PROF_MAX) return;
        snprintf(prof.e[prof.n++].key, sizeof prof.e[0].key, "%s", key);
    }
    prof.e[i].ms += ms;
    prof.e[i].count++;
}

static int prof_enabled(void) {
    if (prof.on < 0) {
        const char *v = getenv("TASSL_PROFILE");
        prof.on = v && *v && strcmp(v, "0") != 0;
    }
    return prof.on;
}

static int prof_cmp(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x < y) - (x > y);
}

void tassl_cl_prof_report(void) {
    if (prof.on <= 0 || prof.n == 0) return;
    double total = 0.0;
    struct { double ms; int i; } order[PROF_MAX];
    for (int i = 0; i < prof.n; i++) {
        order[i].ms = prof.e[i].ms;
        order[i].i = i;
        total += prof.e[i].ms;
    }
    qsort(order, (size_t)prof.n, sizeof order[0], prof_cmp);
    fprintf(stderr, "TASSL_PROFILE: %.1f ms in all (kernels + host gaps)\n", total);
    fprintf(stderr, "%10s %6s %8s  %s\n", "ms", "%", "launches", "phase/kernel[tag]");
    for (int j = 0; j < prof.n; j++) {
        int i = order[j].i;
        fprintf(stderr, "%10.1f %6.1f %8ld  %s\n", prof.e[i].ms, 100.0 * prof.e[i].ms / total,
                prof.e[i].count, prof.e[i].key);
    }
    prof.n = 0;
}

/* ---- launches ---------------------------------------------------------------------------- */

tassl_status tassl_cl_launch(tassl_device *dev, cl_kernel k, int dims, const size_t *gws,
                             const size_t *lws) {
    TASSL_CHECK(dims >= 1 && dims <= 3, "tassl_cl_launch: %d dims (1 to 3)", dims);
    size_t g[3];
    for (int i = 0; i < dims; i++) {
        TASSL_CHECK(!lws || lws[i] > 0, "tassl_cl_launch: local size 0 in dim %d", i);
        if (gws[i] == 0) return TASSL_OK; /* nothing to do (and illegal for OpenCL 1.2) */
        g[i] = lws ? (gws[i] + lws[i] - 1) / lws[i] * lws[i] : gws[i];
    }
    char name[128], what[320];
    double t0 = 0.0;
    if (prof_enabled()) {
        clFinish(tassl_cl_of(dev)->queue);
        t0 = prof_now_ms();
        if (prof.last_end > 0.0) prof_add("(host)", t0 - prof.last_end);
    }
    cl_int e = clEnqueueNDRangeKernel(tassl_cl_of(dev)->queue, k, (cl_uint)dims, NULL, g, lws, 0,
                                      NULL, NULL);
    if (prof.on > 0 && e == CL_SUCCESS) {
        clFinish(tassl_cl_of(dev)->queue);
        prof.last_end = prof_now_ms();
        kernel_name(k, name, sizeof name);
        if (strstr(name, "adamw") || strstr(name, "sgd") || strstr(name, "lars") ||
            strstr(name, "sumsq") || strstr(name, "clip_scale"))
            prof.phase = 2;
        else if (strstr(name, "bwd") || strstr(name, "wgrad") || strstr(prof_tag, "grad"))
            prof.phase = 1;
        else if (prof.phase == 2)
            prof.phase = 0;
        static const char *ph[] = {"fwd", "bwd", "opt"};
        snprintf(what, sizeof what, "%s %s%s%s%s", ph[prof.phase], name, *prof_tag ? "[" : "",
                 prof_tag, *prof_tag ? "]" : "");
        prof_add(what, prof.last_end - t0);
    }
    if (e == CL_SUCCESS) return TASSL_OK;
    snprintf(what, sizeof what,
             "launch of kernel %s (global %zu x %zu x %zu, local %zu x %zu x %zu)",
             kernel_name(k, name, sizeof name), g[0], dims > 1 ? g[1] : 1, dims > 2 ? g[2] : 1,
             lws ? lws[0] : 0, lws && dims > 1 ? lws[1] : 0, lws && dims > 2 ? lws[2] : 0);
    return tassl_cl_fail(e, what);
}

tassl_status tassl_cl_launch_1d(tassl_device *dev, cl_kernel k, int64_t n) {
    if (n <= 0) return TASSL_OK;
    /* One fixed local size per kernel (rather than NULL, which lets the driver pick a divisor of
     * n — 1 for a prime n — and makes pocl compile a work-group function per distinct size). */
    size_t lws = 256, kwg = 0;
    if (clGetKernelWorkGroupInfo(k, tassl_cl_of(dev)->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                 &kwg, NULL) == CL_SUCCESS &&
        kwg > 0 && kwg < lws)
        lws = kwg;
    size_t gws = (size_t)n;
    return tassl_cl_launch(dev, k, 1, &gws, &lws);
}
