/* common.c — helpers shared by every op: device pointers, kernel views, broadcasting, axes. */
#include <string.h>
#include "op.h"

tassl_ptr tassl_op_ptr(const tassl_tensor *t) {
    char b[64];
    TASSL_CHECK(tassl_is_contiguous(t), "tassl: kernel needs a contiguous tensor, got %s strided",
                tassl_shape_str(t, b, 64));
    tassl_ptr p = {t->buf, t->off};
    return p;
}

tassl_kview tassl_op_view(const tassl_tensor *t) { return tassl_kview_of(t); }

int tassl_op_bcast_shape(const tassl_tensor *a, const tassl_tensor *b, int64_t *out,
                         const char *op) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    char sa[64], sb[64];
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        TASSL_CHECK(da == db || da == 1 || db == 1, "%s: shapes %s and %s do not broadcast", op,
                    tassl_shape_str(a, sa, 64), tassl_shape_str(b, sb, 64));
        out[i] = da == 1 ? db : da;
    }
    return n;
}

tassl_kview tassl_op_view_bcast(const tassl_tensor *t, int ndim, const int64_t *shape,
                                const char *op) {
    char s[64];
    TASSL_CHECK(t->ndim <= ndim, "%s: cannot broadcast %s to %d dims", op,
                tassl_shape_str(t, s, 64), ndim);
    tassl_kview v;
    memset(&v, 0, sizeof v);
    v.buf = t->buf;
    v.off = t->off;
    v.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        int it = i - (ndim - t->ndim);
        int64_t d = it >= 0 ? t->shape[it] : 1;
        TASSL_CHECK(d == shape[i] || d == 1, "%s: cannot broadcast %s (dim %d)", op,
                    tassl_shape_str(t, s, 64), i);
        v.shape[i] = shape[i];
        v.stride[i] = (it >= 0 && d != 1) ? t->stride[it] : 0;
    }
    return v;
}

int tassl_op_axis(int axis, int ndim, const char *op) {
    int a = axis < 0 ? axis + ndim : axis;
    TASSL_CHECK(a >= 0 && a < (ndim ? ndim : 1), "%s: axis %d out of range for %d dims", op, axis,
                ndim);
    return a;
}
