/* device.c — device discovery, the --device / TASSL_DEVICE spec, opening and closing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../backend/backend.h"
#include "../backend/gemm.h"

static void ref_info(tassl_device_info *info) {
    memset(info, 0, sizeof *info);
    info->backend = TASSL_BACKEND_REF;
    info->type = TASSL_DEVICE_CPU;
    info->platform = info->device = -1;
    snprintf(info->name, sizeof info->name, "C reference (single thread)");
    snprintf(info->platform_name, sizeof info->platform_name, "tassl");
    snprintf(info->vendor, sizeof info->vendor, "tassl");
    snprintf(info->driver_version, sizeof info->driver_version, "%s", TASSL_VERSION);
    info->compute_units = 1;
    info->max_work_group = 1;
}

tassl_status tassl_devices_list(tassl_device_info **out, int *count) {
    tassl_device_info *list = NULL;
    int n = 0;
    tassl_status s = tassl_cl_enumerate(&list, &n);
    if (s != TASSL_OK) {
        fprintf(stderr, "tassl: warning: OpenCL enumeration failed: %s\n", tassl_last_error());
        free(list);
        list = NULL;
        n = 0;
    }
    tassl_device_info *grown = realloc(list, (size_t)(n + 1) * sizeof *grown);
    if (!grown) {
        free(list);
        return tassl_error(TASSL_ERR_NOMEM, "tassl_devices_list: out of memory");
    }
    list = grown;
    ref_info(&list[n++]);
    for (int i = 0; i < n; i++) list[i].index = i;
    *out = list;
    *count = n;
    return TASSL_OK;
}

static tassl_status open_entry(const tassl_device_info *e, tassl_device **out) {
    tassl_device *dev = calloc(1, sizeof *dev);
    if (!dev) return tassl_error(TASSL_ERR_NOMEM, "tassl_device_open: out of memory");
    tassl_status s = e->backend == TASSL_BACKEND_REF ? tassl_ref_open(dev)
                                                      : tassl_cl_open(dev, e->platform, e->device);
    if (s == TASSL_OK) {
        dev->info.index = e->index;
        s = tassl_gemm_select(dev);
    }
    if (s != TASSL_OK) {
        if (dev->be && dev->be->close) dev->be->close(dev);
        free(dev);
        return s;
    }
    /* cache at most a quarter of device memory (or 4 GiB on ref) of unused buffers */
    dev->pool.cache_limit = dev->info.global_mem ? dev->info.global_mem / 4 : (4ull << 30);
    const char *dbg = getenv("TASSL_DEBUG_POOL");
    dev->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    *out = dev;
    return TASSL_OK;
}

static int parse_int(const char *s, int *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || x < 0 || x > 1000000) return 0;
    *v = (int)x;
    return (int)(end - s);
}

tassl_status tassl_device_open(const char *spec, tassl_device **out) {
    *out = NULL;
    const char *from = "--device";
    if (!spec || !*spec || strcmp(spec, "auto") == 0) { /* "auto" defers to $TASSL_DEVICE */
        const char *env = getenv("TASSL_DEVICE");
        spec = "auto";
        if (env && *env) spec = env, from = "TASSL_DEVICE";
    }
    tassl_device_info *list;
    int n;
    tassl_status s = tassl_devices_list(&list, &n);
    if (s != TASSL_OK) return s;
    const tassl_device_info *pick = NULL;
    int p, d, k;
    if (strcmp(spec, "auto") == 0) {
        for (int i = 0; i < n && !pick; i++)
            if (list[i].backend == TASSL_BACKEND_OPENCL && list[i].type == TASSL_DEVICE_GPU)
                pick = &list[i];
        for (int i = 0; i < n && !pick; i++)
            if (list[i].backend == TASSL_BACKEND_OPENCL && list[i].type == TASSL_DEVICE_CPU)
                pick = &list[i];
        if (!pick) {
            pick = &list[n - 1];
            fprintf(stderr, "tassl: warning: no OpenCL device found; using the C reference backend "
                            "(slow). Install pocl-opencl-icd for a fast CPU device.\n");
        }
    } else if (strcmp(spec, "gpu") == 0 || strcmp(spec, "cpu") == 0) {
        tassl_device_type want = spec[0] == 'g' ? TASSL_DEVICE_GPU : TASSL_DEVICE_CPU;
        for (int i = 0; i < n && !pick; i++)
            if (list[i].backend == TASSL_BACKEND_OPENCL && list[i].type == want) pick = &list[i];
        if (!pick) {
            free(list);
            return tassl_error(TASSL_ERR_DEVICE,
                               "%s=%s: no OpenCL %s device found (see `tassl devices`)", from, spec,
                               spec);
        }
    } else if (strcmp(spec, "ref") == 0) {
        pick = &list[n - 1];
    } else if (strncmp(spec, "opencl:", 7) == 0 && (k = parse_int(spec + 7, &p)) > 0 &&
               spec[7 + k] == ':' && parse_int(spec + 8 + k, &d) > 0 &&
               spec[8 + k + parse_int(spec + 8 + k, &d)] == 0) {
        for (int i = 0; i < n && !pick; i++)
            if (list[i].backend == TASSL_BACKEND_OPENCL && list[i].platform == p &&
                list[i].device == d)
                pick = &list[i];
        if (!pick) {
            free(list);
            return tassl_error(TASSL_ERR_DEVICE,
                               "%s=%s: no OpenCL platform %d device %d (see `tassl devices`)", from,
                               spec, p, d);
        }
    } else if (isdigit((unsigned char)spec[0]) && (k = parse_int(spec, &p)) > 0 && spec[k] == 0) {
        if (p >= n) {
            free(list);
            return tassl_error(TASSL_ERR_DEVICE, "%s=%s: only %d devices (0..%d, see `tassl devices`)",
                               from, spec, n, n - 1);
        }
        pick = &list[p];
    } else {
        free(list);
        return tassl_error(TASSL_ERR_ARG,
                           "%s=%s: expected auto, gpu, cpu, ref, opencl:P:D or a device index", from,
                           spec);
    }
    s = open_entry(pick, out);
    free(list);
    return s;
}

void tassl_device_free(tassl_device *dev) {
    if (!dev) return;
    tassl_pool_release_all(dev);
    if (dev->be && dev->be->close) dev->be->close(dev);
    free(dev);
}

const tassl_device_info *tassl_device_get_info(const tassl_device *dev) { return &dev->info; }

tassl_status tassl_device_sync(tassl_device *dev) { return dev->be->sync(dev); }

void tassl_device_set_debug(tassl_device *dev, int on) { dev->debug = on; }
