/* device.h — discovering and opening compute devices.
 *
 * A device is either an OpenCL device (any platform: pocl on CPUs, AMD/Intel/NVIDIA GPUs) or the
 * plain-C reference backend ("ref"), which is the test oracle and the last-resort fallback.
 * Device specs, as accepted by tassl_device_open() and --device / TASSL_DEVICE:
 *   auto         first OpenCL GPU, else the first OpenCL CPU device (pocl), else ref (warns)
 *   gpu | cpu    first OpenCL device of that type (error if none)
 *   ref          the C reference backend
 *   opencl:P:D   OpenCL platform P, device D (indices as `tassl devices` prints them)
 *   N            the N-th entry of `tassl devices`
 */
#ifndef TASSL_DEVICE_H
#define TASSL_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_backend_kind {
    TASSL_BACKEND_REF = 0,
    TASSL_BACKEND_OPENCL = 1,
} tassl_backend_kind;

typedef enum tassl_device_type {
    TASSL_DEVICE_CPU = 0,
    TASSL_DEVICE_GPU = 1,
    TASSL_DEVICE_ACCEL = 2,
} tassl_device_type;

typedef struct tassl_device_info {
    int index;                  /* position in tassl_devices_list() */
    tassl_backend_kind backend;
    tassl_device_type type;
    int platform, device;       /* OpenCL indices; -1 for ref */
    char name[128];
    char platform_name[128];
    char vendor[128];
    char driver_version[64];
    char cl_version[64];        /* "OpenCL C 1.2 ..." for OpenCL devices */
    uint64_t global_mem;        /* bytes */
    uint64_t max_alloc;         /* largest single buffer, bytes */
    uint64_t local_mem;         /* bytes */
    int compute_units;
    size_t max_work_group;
} tassl_device_info;

typedef struct tassl_device tassl_device;

/* All devices: every OpenCL device of every platform, then ref (always last).
 * *out is malloc'd; free it with free(). A platform that fails to enumerate is skipped with a
 * warning on stderr, never fatal. */
tassl_status tassl_devices_list(tassl_device_info **out, int *count);

/* Open a device from a spec (see above). spec NULL, "" or "auto" → $TASSL_DEVICE when set, else
 * the automatic choice (so a configuration's `device: auto` honours the environment). */
tassl_status tassl_device_open(const char *spec, tassl_device **out);
void tassl_device_free(tassl_device *dev);

const tassl_device_info *tassl_device_get_info(const tassl_device *dev);

/* Wait until all queued work on the device has finished. */
tassl_status tassl_device_sync(tassl_device *dev);

/* Debug mode for tests: every pooled allocation is filled with NaN and surrounded by guard
 * regions holding a sentinel pattern, verified when the buffer returns to the pool; an
 * overwritten guard becomes a TASSL_ERR_CHECK on the context that owned the buffer. */
void tassl_device_set_debug(tassl_device *dev, int poison_and_guard);

/* Pool statistics (bytes currently handed out, bytes cached, number of live buffers). */
typedef struct tassl_pool_stats {
    uint64_t bytes_in_use, bytes_cached, peak_in_use;
    int64_t live_buffers;
} tassl_pool_stats;
tassl_pool_stats tassl_device_pool_stats(const tassl_device *dev);

/* Release every cached (unused) buffer of the pool back to the driver. */
void tassl_device_pool_trim(tassl_device *dev);

#ifdef __cplusplus
}
#endif
#endif
