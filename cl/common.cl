/* common.cl — prepended to every tassl program: shared types and helpers.
 * Every kernel file must still compile with only this in front of it (dlprimitives habit:
 * specialisation through -D defines with #ifndef defaults). */
#ifndef TASSL_MAX_DIMS
#define TASSL_MAX_DIMS 5
#endif

/* Strided view passed by value; same layout as the host's struct in opencl/runtime.c. */
typedef struct tview {
    int off;
    int ndim;
    int shape[TASSL_MAX_DIMS];
    int stride[TASSL_MAX_DIMS];
} tview;

/* Element offset (in floats, including v.off) of the i-th element in row-major order. */
inline int tview_at(const tview v, int i) {
    int o = v.off;
    for (int d = v.ndim - 1; d >= 0; d--) {
        int s = v.shape[d];
        o += (i % s) * v.stride[d];
        i /= s;
    }
    return o;
}
