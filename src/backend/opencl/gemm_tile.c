/* opencl/gemm_tile.c — tassl_gemm() on CPU OpenCL devices through the register-tile kernels of
 * cl/gemm.cl (see there for the design).
 *
 * One GEMM = two launches on the in-order queue, no host sync: gemm_pack_a packs op(A)·alpha into
 * a pooled scratch buffer (returned to the pool right after the launch: anything that reuses it is
 * queued behind), then gemm_tile computes C with B packed inside the kernel. The parameter row
 * (gemm_params.h) picks the compiled variant (-D options) and the block each work-item owns; the
 * block shrinks for GEMMs too small to give every compute unit a few work-items.
 */
#include <limits.h>
#include <stdio.h>

#include "clrt.h"
#include "../gemm.h"
#include "../gemm_params.h"

#define PACK_KCHUNK 256 /* k values per gemm_pack_a work-item, as in cl/gemm.cl */

static const tassl_gemm_params cpu_default = TASSL_GEMM_PARAMS_CPU_DEFAULT;

int tassl_gemm_params_valid(const tassl_gemm_params *p, const char **why) {
    const char *w = NULL;
    if (p->mr < 1 || p->mr > 16)
        w = "mr must be in 1..16";
    else if (p->vw != 4 && p->vw != 8 && p->vw != 16)
        w = "vw must be 4, 8 or 16";
    else if (p->nv < 1 || p->nv > 4)
        w = "nv must be in 1..4";
    else if (p->unroll != 1 && p->unroll != 2 && p->unroll != 4 && p->unroll != 8)
        w = "unroll must be 1, 2, 4 or 8";
    else if (p->kc < 8 || p->kc > 4096 || p->kc % p->unroll != 0)
        w = "kc must be in 8..4096 and a multiple of unroll";
    else if (p->rt < 1 || p->rt > 256 || p->nt < 1 || p->nt > 256)
        w = "rt and nt must be in 1..256";
    else if ((long long)p->kc * p->nt * p->vw * p->nv > (1 << 22))
        w = "kc·nt·vw·nv (the B slab) must be at most 4 Mi floats";
    else if (p->small_mnk < 0)
        w = "small_mnk must be >= 0";
    if (why) *why = w;
    return w == NULL;
}

int tassl_gemm_params_equal(const tassl_gemm_params *a, const tassl_gemm_params *b) {
    return a->mr == b->mr && a->vw == b->vw && a->nv == b->nv && a->kc == b->kc &&
           a->unroll == b->unroll && a->rt == b->rt && a->nt == b->nt &&
           a->small_mnk == b->small_mnk;
}

/* Largest element index (+1) a batched matrix operand reaches; 0 if empty. */
static int64_t reach(int64_t off, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                     int64_t batch) {
    if (rows == 0 || cols == 0) return 0;
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

static int64_t cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

tassl_status tassl_cl_gemm_tile(tassl_device *dev, const tassl_gemm_args *g, const void *params) {
    const tassl_gemm_params *p = params ? (const tassl_gemm_params *)params : &cpu_default;
    const char *why;
    TASSL_CHECK(tassl_gemm_params_valid(p, &why), "tassl_cl_gemm_tile: bad parameters: %s", why);
    TASSL_CHECK(g->m >= 0 && g->n >= 0 && g->k >= 0 && g->batch >= 1 && g->stride_a >= 0 &&
                    g->stride_b >= 0 && g->stride_c >= 0 && g->a.off >= 0 && g->b.off >= 0 &&
                    g->c.off >= 0,
                "tassl_cl_gemm_tile: negative size (m %lld n %lld k %lld batch %lld)",
                (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
    if (g->m == 0 || g->n == 0) return TASSL_OK;
    if (p->small_mnk > 0 && g->m * g->n * g->k * g->batch < p->small_mnk)
        return tassl_cl_gemm_clblast(dev, g, NULL);
    if (g->batch > 1 && g->stride_c == 0) { /* every batch updates the same C: in order */
        tassl_gemm_args one = *g;
        one.batch = 1;
        for (int64_t b = 0; b < g->batch; b++) {
            one.a.off = g->a.off + b * g->stride_a;
            one.b.off = g->b.off + b * g->stride_b;
            tassl_status s = tassl_cl_gemm_tile(dev, &one, p);
            if (s != TASSL_OK) return s;
        }
        return TASSL_OK;
    }
    const int64_t m = g->m, n = g->n, k = g->k, batch = g->batch;
    const int nr = p->vw * p->nv;
    /* kernels index with int: every element they reach must fit */
    int64_t ra = g->trans_a ? reach(g->a.off, k, m, g->lda, g->stride_a, batch)
                            : reach(g->a.off, m, k, g->lda, g->stride_a, batch);
    int64_t rb = g->trans_b ? reach(g->b.off, n, k, g->ldb, g->stride_b, batch)
                            : reach(g->b.off, k, n, g->ldb, g->stride_b, batch);
    int64_t rc = reach(g->c.off, m, n, g->ldc, g->stride_c, batch);
    int64_t panels = cdiv(m, p->mr), apb = panels * p->mr * k; /* packed A floats per batch */
    int64_t abatch = g->stride_a ? batch : 1;
    TASSL_CHECK(ra <= INT_MAX && rb <= INT_MAX && rc <= INT_MAX && apb * abatch <= INT_MAX,
                "tassl_cl_gemm_tile: operands reach past 2^31 elements (A %lld, B %lld, C %lld, "
                "packed A %lld): split the GEMM",
                (long long)ra, (long long)rb, (long long)rc, (long long)(apb * abatch));

    /* block per work-item: the row's, shrunk until the compute units have a few items each */
    int64_t rt = p->rt, nt = p->nt;
    if (rt > panels) rt = panels;
    if (nt > cdiv(n, nr)) nt = cdiv(n, nr);
    int64_t want = 4 * (int64_t)(dev->info.compute_units > 0 ? dev->info.compute_units : 1);
    while (cdiv(m, rt * p->mr) * cdiv(n, nt * nr) * batch < want && (nt > 1 || rt > 1)) {
        if (nt > 1)
            nt = cdiv(nt, 2);
        else
            rt = cdiv(rt, 2);
    }
    /* even blocks: 171 panels in blocks of at most 32 → 6 blocks of 29, not 5 × 32 + 11 */
    rt = cdiv(panels, cdiv(panels, rt));
    nt = cdiv(cdiv(n, nr), cdiv(cdiv(n, nr), nt));
    /* B scratch: nt micro-panels of PANEL = kc·nr + 16 floats (cl/gemm.cl) */
    size_t local_bytes = (size_t)nt * ((size_t)p->kc * (size_t)nr + 16) * sizeof(float);
    if (dev->info.local_mem && local_bytes > dev->info.local_mem)
        return tassl_error(
            TASSL_ERR_UNSUPPORTED,
            "tassl_cl_gemm_tile: B slab of %zu bytes exceeds the %llu bytes of local "
            "memory of %s (lower kc or nt)",
            local_bytes, (unsigned long long)dev->info.local_mem, dev->info.name);

    char opts[128];
    snprintf(opts, sizeof opts, "-DMR=%d -DVW=%d -DNV=%d -DKC=%d -DUNROLL=%d", p->mr, p->vw, p->nv,
             p->kc, p->unroll);
    cl_kernel kpack = tassl_cl_kernel(dev, "gemm", "gemm_pack_a", opts);
    if (!kpack) return TASSL_ERR_DEVICE; /* message set by tassl_cl_kernel */
    cl_kernel ktile = tassl_cl_kernel(dev, "gemm", "gemm_tile", opts);
    if (!ktile) return TASSL_ERR_DEVICE;

    tassl_buf *scratch;
    int64_t soff;
    size_t sbytes;
    size_t need = (size_t)(apb * abatch > 0 ? apb * abatch : 1) * sizeof(float);
    tassl_status s = tassl_pool_get(dev, need, &scratch, &soff, &sbytes);
    if (s != TASSL_OK) return s;
    tassl_ptr ap = {scratch, soff};

    tassl_cl_args a = tassl_cl_args_begin(kpack);
    tassl_cl_arg_ptr(&a, g->a);
    tassl_cl_arg_int(&a, g->lda);
    tassl_cl_arg_int(&a, g->stride_a);
    tassl_cl_arg_int(&a, g->trans_a != 0);
    tassl_cl_arg_int(&a, m);
    tassl_cl_arg_int(&a, k);
    tassl_cl_arg_float(&a, g->alpha);
    tassl_cl_arg_ptr(&a, ap);
    tassl_cl_arg_int(&a, apb);
    tassl_cl_arg_int(&a, k * p->mr); /* panels back to back */
    const size_t one[3] = {1, 1, 1};
    if (a.err == CL_SUCCESS && k > 0) {
        size_t gws[3] = {(size_t)cdiv(k, PACK_KCHUNK), (size_t)panels, (size_t)abatch};
        s = tassl_cl_launch(dev, kpack, 3, gws, one);
    } else if (a.err != CL_SUCCESS) {
        s = tassl_cl_fail(a.err, "gemm_pack_a: clSetKernelArg");
    }

    if (s == TASSL_OK) {
        a = tassl_cl_args_begin(ktile);
        tassl_cl_arg_ptr(&a, ap);
        tassl_cl_arg_int(&a, g->stride_a ? apb : 0);
        tassl_cl_arg_ptr(&a, g->b);
        tassl_cl_arg_int(&a, g->ldb);
        tassl_cl_arg_int(&a, g->stride_b);
        tassl_cl_arg_int(&a, g->trans_b != 0);
        tassl_cl_arg_ptr(&a, g->c);
        tassl_cl_arg_int(&a, g->ldc);
        tassl_cl_arg_int(&a, g->stride_c);
        tassl_cl_arg_int(&a, m);
        tassl_cl_arg_int(&a, n);
        tassl_cl_arg_int(&a, k);
        tassl_cl_arg_float(&a, g->beta);
        tassl_cl_arg_int(&a, rt);
        tassl_cl_arg_int(&a, nt);
        int64_t nkb = k > 0 ? cdiv(k, p->kc) : 1; /* k-blocks of even length */
        int64_t kb = cdiv(cdiv(k > 0 ? k : 1, nkb), p->unroll) * p->unroll;
        tassl_cl_arg_int(&a, kb);
        tassl_cl_arg(&a, local_bytes, NULL);
        if (a.err != CL_SUCCESS) {
            s = tassl_cl_fail(a.err, "gemm_tile: clSetKernelArg");
        } else {
            size_t gws[3] = {(size_t)cdiv(n, nt * nr), (size_t)cdiv(m, rt * p->mr), (size_t)batch};
            char tag[80]; /* TASSL_PROFILE: the product's shape */
            snprintf(tag, sizeof tag, "%s%s %lldx%lldx%lld b%lld", g->trans_a ? "T" : "N",
                     g->trans_b ? "T" : "N", (long long)g->m, (long long)g->n, (long long)g->k,
                     (long long)g->batch);
            tassl_cl_prof_tag(tag);
            s = tassl_cl_launch(dev, ktile, 3, gws, one);
            tassl_cl_prof_tag(NULL);
        }
    }
    tassl_status ps = tassl_pool_put(dev, scratch, sbytes, soff ? need : 0);
    return s != TASSL_OK ? s : ps;
}
