/* pool.c — size-keyed device buffer pool.
 *
 * Training steps allocate the same sizes every step, so a free list keyed by size (rounded to
 * 256 bytes) gives near-perfect reuse: an exact size is served first, else the smallest cached
 * buffer of at most twice the size (so sizes no longer asked for do not pile up). Reuse is safe
 * without host syncs because each device has one in-order queue: a kernel reading a recycled
 * buffer is queued after every kernel that used it before. Debug mode fills buffers with NaN
 * and surrounds them with guard regions checked on release (ggml's sentinel habit), and fills
 * released buffers with NaN again.
 *
 * Reserved memory (in use + cached) is what the process holds, so on a miss the pool first
 * frees the oldest cached buffers until the new allocation keeps the reservation within the
 * highest use seen so far: cached buffers of sizes the step no longer asks for (or asks for
 * later than now) would otherwise pile up on top of the peak — about 270 MB, 20% of the pool,
 * in the 3D U-Net step of tools/bench-pretrain. In a steady loop the sizes repeat and misses
 * are rare, so little is freed and allocated again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../backend/backend.h"

static size_t round_size(size_t bytes) {
    if (bytes < 256) bytes = 256;
    return (bytes + 255) & ~(size_t)255;
}

/* Take entry i out of the cache list, keeping the others in the order they were returned. */
static void unlist(tassl_pool *p, int i) {
    p->bytes_cached -= p->free_list[i].bytes;
    memmove(p->free_list + i, p->free_list + i + 1,
            (size_t)(p->nfree - i - 1) * sizeof *p->free_list);
    p->nfree--;
}

static void drop_cached(tassl_device *dev, int i) {
    tassl_buf *buf = dev->pool.free_list[i].buf;
    unlist(&dev->pool, i);
    dev->be->buf_free(dev, buf);
}

/* Before allocating `want` new bytes: free the oldest cached buffers while the reservation
 * would exceed the larger of the peak use so far and the use this allocation makes. */
static void make_room(tassl_device *dev, size_t want) {
    tassl_pool *p = &dev->pool;
    uint64_t use = p->bytes_in_use + want, limit = p->peak_in_use > use ? p->peak_in_use : use;
    int synced = 0;
    while (p->nfree > 0 && p->bytes_in_use + p->bytes_cached + want > limit) {
        if (!synced) { /* queued kernels may still use a cached buffer: OpenCL (pocl) frees a
                        * released buffer only when they finish, so the memory would come back
                        * late and the peak rise; wait for them once */
            (void)dev->be->sync(dev);
            synced = 1;
        }
        drop_cached(dev, 0);
    }
}

void tassl_device_pool_trim(tassl_device *dev) {
    while (dev->pool.nfree > 0) drop_cached(dev, dev->pool.nfree - 1);
}

/* TASSL_POOL_STATS=1: at device close, print to stderr the peak bytes in use, what the cache
 * still holds (bytes in use + cached = reserved) and the largest cached sizes. */
static void print_stats(const tassl_device *dev) {
    const char *e = getenv("TASSL_POOL_STATS");
    if (!e || !*e || strcmp(e, "0") == 0) return;
    const tassl_pool *p = &dev->pool;
    const double mb = 1024.0 * 1024.0;
    fprintf(stderr,
            "tassl pool: peak in use %.1f MB; at close %.1f MB in use, %.1f MB cached in %d "
            "buffers\n",
            (double)p->peak_in_use / mb, (double)p->bytes_in_use / mb,
            (double)p->bytes_cached / mb, p->nfree);
    size_t done = (size_t)-1; /* sizes printed so far are all >= done */
    for (int k = 0; k < 5; k++) {
        size_t size = 0;
        for (int i = 0; i < p->nfree; i++)
            if (p->free_list[i].bytes < done && p->free_list[i].bytes > size)
                size = p->free_list[i].bytes;
        if (size == 0) break;
        int n = 0;
        for (int i = 0; i < p->nfree; i++) n += p->free_list[i].bytes == size;
        fprintf(stderr, "  cached: %d x %zu bytes\n", n, size);
        done = size;
    }
}

void tassl_pool_release_all(tassl_device *dev) {
    print_stats(dev);
    tassl_device_pool_trim(dev);
    free(dev->pool.free_list);
    dev->pool.free_list = NULL;
    dev->pool.capfree = 0;
}

tassl_pool_stats tassl_device_pool_stats(const tassl_device *dev) {
    tassl_pool_stats s = {dev->pool.bytes_in_use, dev->pool.bytes_cached, dev->pool.peak_in_use,
                          dev->pool.live};
    return s;
}

/* Debug layout: [guard G floats][usable][guard up to the end of the rounded buffer]. */
static tassl_status fill_debug(tassl_device *dev, tassl_buf *buf, size_t bytes, size_t usable) {
    size_t n = bytes / sizeof(float), u = usable / sizeof(float);
    uint32_t *h = malloc(bytes);
    if (!h) return tassl_error(TASSL_ERR_NOMEM, "tassl pool: out of host memory");
    for (size_t i = 0; i < n; i++)
        h[i] = (i >= TASSL_GUARD_FLOATS && i < TASSL_GUARD_FLOATS + u)
                   ? 0x7FC00000u /* quiet NaN: outputs a kernel forgot to write show up */
                   : TASSL_GUARD_BITS;
    tassl_status s = dev->be->write(dev, buf, 0, n * sizeof(float), h);
    free(h);
    return s;
}

tassl_status tassl_pool_get(tassl_device *dev, size_t bytes, tassl_buf **out, int64_t *base_off,
                           size_t *alloc_bytes) {
    tassl_pool *p = &dev->pool;
    size_t usable = (bytes + 3) & ~(size_t)3;
    if (dev->debug) bytes = usable + 2 * TASSL_GUARD_FLOATS * sizeof(float);
    size_t want = round_size(bytes);
    *out = NULL;
    *base_off = dev->debug ? TASSL_GUARD_FLOATS : 0;
    tassl_buf *buf = NULL;
    /* exact size first (newest first); else the smallest cached buffer of at most twice the
     * size, so sizes the step no longer asks for are reused instead of piling up */
    int best = -1;
    for (int i = p->nfree - 1; i >= 0; i--) {
        size_t b = p->free_list[i].bytes;
        if (b == want) {
            best = i;
            break;
        }
        if (b > want && b / 2 <= want && (best < 0 || b < p->free_list[best].bytes)) best = i;
    }
    if (best >= 0) {
        buf = p->free_list[best].buf;
        want = p->free_list[best].bytes;
        unlist(p, best);
    }
    if (!buf) {
        make_room(dev, want);
        tassl_status s = dev->be->buf_alloc(dev, want, &buf);
        if (s == TASSL_ERR_NOMEM && p->nfree > 0) { /* give the cache back and try once more */
            tassl_device_pool_trim(dev);
            s = dev->be->buf_alloc(dev, want, &buf);
        }
        if (s != TASSL_OK) return s;
    }
    if (dev->debug) {
        /* the guard sits at the end of the rounded buffer, so kernels see `bytes` usable */
        tassl_status s = fill_debug(dev, buf, want, usable);
        if (s != TASSL_OK) {
            dev->be->buf_free(dev, buf);
            return s;
        }
    }
    p->bytes_in_use += want;
    if (p->bytes_in_use > p->peak_in_use) p->peak_in_use = p->bytes_in_use;
    p->live++;
    *out = buf;
    *alloc_bytes = want;
    return TASSL_OK;
}

static tassl_status check_guards(tassl_device *dev, tassl_buf *buf, size_t want, size_t usable) {
    size_t n = want / sizeof(float), u = usable / sizeof(float);
    uint32_t *h = malloc(want);
    if (!h) return tassl_error(TASSL_ERR_NOMEM, "tassl pool: out of host memory");
    tassl_status s = dev->be->read(dev, buf, 0, want, h);
    for (size_t i = 0; i < n && s == TASSL_OK; i++) {
        if (i == TASSL_GUARD_FLOATS) i += u;
        if (i < n && h[i] != TASSL_GUARD_BITS)
            s = tassl_error(TASSL_ERR_CHECK,
                            "out-of-bounds write: guard %s a %zu-byte tensor overwritten "
                            "(float %lld %s it holds 0x%08x)",
                            i < TASSL_GUARD_FLOATS ? "before" : "after", usable,
                            i < TASSL_GUARD_FLOATS ? (long long)(TASSL_GUARD_FLOATS - i)
                                                   : (long long)(i - TASSL_GUARD_FLOATS - u + 1),
                            i < TASSL_GUARD_FLOATS ? "before the start:" : "past the end:", h[i]);
    }
    free(h);
    return s;
}

tassl_status tassl_pool_put(tassl_device *dev, tassl_buf *buf, size_t want, size_t guarded) {
    tassl_pool *p = &dev->pool;
    if (!buf) return TASSL_OK;
    tassl_status s = guarded ? check_guards(dev, buf, want, guarded) : TASSL_OK;
    /* debug: poison what goes back, so a kernel still reading it (a tensor released too early,
     * autograd.h: tassl_backward_release) reads NaN instead of the old values */
    if (guarded && s == TASSL_OK) s = fill_debug(dev, buf, want, guarded);
    p->bytes_in_use -= want;
    p->live--;
    if (p->bytes_cached + want > p->cache_limit) {
        dev->be->buf_free(dev, buf);
        return s;
    }
    if (p->nfree == p->capfree) {
        int cap = p->capfree ? 2 * p->capfree : 64;
        tassl_pool_entry *nl = realloc(p->free_list, (size_t)cap * sizeof *nl);
        if (!nl) {
            dev->be->buf_free(dev, buf);
            return s;
        }
        p->free_list = nl;
        p->capfree = cap;
    }
    p->free_list[p->nfree].buf = buf;
    p->free_list[p->nfree].bytes = want;
    p->nfree++;
    p->bytes_cached += want;
    return s;
}
