/* ref/backend.c — the reference backend: host memory, synchronous, single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ref.h"
#include "../kern_core.h"
#include "../kern_conv.h"
#include "../kern_loss.h"
#include "../kern_optim.h"
#include "../kern_norm.h"
#include "../kern_pool.h"

static tassl_status ref_alloc(tassl_device *dev, size_t bytes, tassl_buf **out) {
    (void)dev;
    tassl_buf *b = malloc(sizeof *b);
    float *d = malloc(bytes ? bytes : 4);
    if (!b || !d) {
        free(b);
        free(d);
        return tassl_error(TASSL_ERR_NOMEM, "ref: cannot allocate %zu bytes of host memory", bytes);
    }
    b->data = d;
    b->bytes = bytes;
    *out = b;
    return TASSL_OK;
}

static void ref_free(tassl_device *dev, tassl_buf *b) {
    (void)dev;
    if (!b) return;
    free(b->data);
    free(b);
}

static tassl_status ref_write(tassl_device *dev, tassl_buf *b, size_t off, size_t bytes,
                              const void *src) {
    (void)dev;
    TASSL_CHECK(off + bytes <= b->bytes, "ref write: %zu+%zu past a %zu-byte buffer", off, bytes,
                b->bytes);
    memcpy((char *)b->data + off, src, bytes);
    return TASSL_OK;
}

static tassl_status ref_read(tassl_device *dev, tassl_buf *b, size_t off, size_t bytes,
                             void *dst) {
    (void)dev;
    TASSL_CHECK(off + bytes <= b->bytes, "ref read: %zu+%zu past a %zu-byte buffer", off, bytes,
                b->bytes);
    memcpy(dst, (char *)b->data + off, bytes);
    return TASSL_OK;
}

static tassl_status ref_sync(tassl_device *dev) {
    (void)dev;
    return TASSL_OK;
}

static void ref_close(tassl_device *dev) { (void)dev; }

const tassl_backend tassl_ref_backend = {
    /* .name      = */ "ref",
    /* .buf_alloc = */ ref_alloc,
    /* .buf_free  = */ ref_free,
    /* .write     = */ ref_write,
    /* .read      = */ ref_read,
    /* .sync      = */ ref_sync,
    /* .close     = */ ref_close,
    /* .core      = */ &tassl_ref_kern_core,
    /* .conv      = */ &tassl_ref_kern_conv,
    /* .pool      = */ &tassl_ref_kern_pool,
    /* .norm      = */ &tassl_ref_kern_norm,
    /* .loss      = */ &tassl_ref_kern_loss,
    /* .optim     = */ &tassl_ref_kern_optim,
};

tassl_status tassl_ref_open(tassl_device *dev) {
    dev->be = &tassl_ref_backend;
    dev->impl = NULL;
    memset(&dev->info, 0, sizeof dev->info);
    dev->info.backend = TASSL_BACKEND_REF;
    dev->info.type = TASSL_DEVICE_CPU;
    dev->info.platform = dev->info.device = -1;
    snprintf(dev->info.name, sizeof dev->info.name, "C reference (single thread)");
    snprintf(dev->info.platform_name, sizeof dev->info.platform_name, "tassl");
    snprintf(dev->info.vendor, sizeof dev->info.vendor, "tassl");
    snprintf(dev->info.driver_version, sizeof dev->info.driver_version, "%s", TASSL_VERSION);
    dev->info.compute_units = 1;
    dev->info.max_work_group = 1;
    return TASSL_OK;
}
