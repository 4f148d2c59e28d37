/* ref.h — the reference backend's buffer: plain host memory. Reference kernels are naive loops
 * over float arrays; they never touch OpenCL and serve as the test oracle. */
#ifndef TASSL_REF_H
#define TASSL_REF_H

#include "../backend.h"

struct tassl_buf {
    float *data;
    size_t bytes;
};

/* Host pointer of a device pointer on the reference backend. */
static inline float *tassl_ref_f(tassl_ptr p) { return p.buf->data + p.off; }

#endif
