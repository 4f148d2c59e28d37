/* opencl/backend.c — the "opencl" backend table: buffers, blocking transfers, sync, close, and
 * the kernel families (src/backend/opencl/<family>.c). Buffers are plain read-write cl_mem
 * objects; pocl does not zero them, so nothing may assume fresh memory is zero. */
#include <stdlib.h>

#include "clrt.h"
#include "../kern_core.h"
#include "../kern_conv.h"
#include "../kern_pool.h"
#include "../kern_norm.h"
#include "../kern_loss.h"
#include "../kern_optim.h"

static tassl_status cl_buf_alloc(tassl_device *dev, size_t bytes, tassl_buf **out) {
    tassl_cl *cl = tassl_cl_of(dev);
    *out = NULL;
    if (bytes > dev->info.max_alloc)
        return tassl_error(TASSL_ERR_NOMEM,
                           "opencl: cannot allocate %zu bytes on %s: the device's largest single "
                           "buffer is %llu bytes",
                           bytes, dev->info.name, (unsigned long long)dev->info.max_alloc);
    tassl_buf *b = malloc(sizeof *b);
    if (!b) return tassl_error(TASSL_ERR_NOMEM, "opencl: out of host memory");
    cl_int e;
    /* A zero-byte cl_mem is illegal; empty tensors still get a (tiny) buffer. */
    b->mem = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &e);
    b->bytes = bytes;
    if (e != CL_SUCCESS) {
        free(b);
        if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES ||
            e == CL_OUT_OF_HOST_MEMORY)
            return tassl_error(TASSL_ERR_NOMEM,
                               "opencl: cannot allocate %zu bytes on %s: %s (device memory %llu "
                               "bytes)",
                               bytes, dev->info.name, tassl_cl_errname(e),
                               (unsigned long long)dev->info.global_mem);
        return tassl_cl_fail(e, "clCreateBuffer");
    }
    *out = b;
    return TASSL_OK;
}

static void cl_buf_free(tassl_device *dev, tassl_buf *buf) {
    (void)dev;
    if (!buf) return;
    clReleaseMemObject(buf->mem);
    free(buf);
}

static tassl_status cl_write(tassl_device *dev, tassl_buf *buf, size_t off, size_t bytes,
                             const void *src) {
    if (bytes == 0) return TASSL_OK;
    TASSL_CHECK(off + bytes <= buf->bytes, "opencl write: bytes %zu..%zu of a %zu-byte buffer", off,
                off + bytes, buf->bytes);
    cl_int e = clEnqueueWriteBuffer(tassl_cl_of(dev)->queue, buf->mem, CL_TRUE, off, bytes, src, 0,
                                    NULL, NULL);
    return e == CL_SUCCESS ? TASSL_OK : tassl_cl_fail(e, "clEnqueueWriteBuffer");
}

static tassl_status cl_read(tassl_device *dev, tassl_buf *buf, size_t off, size_t bytes,
                            void *dst) {
    if (bytes == 0) return TASSL_OK;
    TASSL_CHECK(off + bytes <= buf->bytes, "opencl read: bytes %zu..%zu of a %zu-byte buffer", off,
                off + bytes, buf->bytes);
    cl_int e = clEnqueueReadBuffer(tassl_cl_of(dev)->queue, buf->mem, CL_TRUE, off, bytes, dst, 0,
                                   NULL, NULL);
    return e == CL_SUCCESS ? TASSL_OK : tassl_cl_fail(e, "clEnqueueReadBuffer");
}

static tassl_status cl_sync(tassl_device *dev) {
    cl_int e = clFinish(tassl_cl_of(dev)->queue);
    return e == CL_SUCCESS ? TASSL_OK : tassl_cl_fail(e, "clFinish");
}

/* Releases the queue (after draining it), every cached kernel and program, and the context.
 * (clBLAST keeps its own per-context program cache for the life of the process.) */
static void cl_close(tassl_device *dev) {
    tassl_cl *cl = tassl_cl_of(dev);
    if (!cl) return;
    tassl_cl_prof_report();
    if (cl->queue) {
        clFinish(cl->queue);
        clReleaseCommandQueue(cl->queue);
    }
    for (int i = 0; i < cl->nprograms; i++) {
        tassl_cl_program *p = &cl->programs[i];
        for (int j = 0; j < p->nkernels; j++) {
            clReleaseKernel(p->kernels[j].kernel);
            free(p->kernels[j].name);
        }
        free(p->kernels);
        clReleaseProgram(p->program);
        free(p->file);
        free(p->options);
    }
    free(cl->programs);
    if (cl->context) clReleaseContext(cl->context);
    free(cl);
    dev->impl = NULL;
}

const tassl_backend tassl_cl_backend = {
    .name = "opencl",
    .buf_alloc = cl_buf_alloc,
    .buf_free = cl_buf_free,
    .write = cl_write,
    .read = cl_read,
    .sync = cl_sync,
    .close = cl_close,
    .core = &tassl_cl_kern_core,
    .conv = &tassl_cl_kern_conv,
    .pool = &tassl_cl_kern_pool,
    .norm = &tassl_cl_kern_norm,
    .loss = &tassl_cl_kern_loss,
    .optim = &tassl_cl_kern_optim,
};
