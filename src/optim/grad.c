/* grad.c — gradient-side helpers of the optimiser layer: device int32 tables, the segmented
 * sum-of-squares plan (LARS norms, global gradient norm), clipping by global norm, gradient
 * scaling and the gradient-accumulation counter. */
#include <math.h>
#include <stdlib.h>
#include "internal.h"
#include "../backend/kern_core.h"

tassl_status tassl_optim_upload_i32(tassl_device *dev, const int32_t *v, int64_t n, tassl_buf **out) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(int32_t);
    tassl_status s = dev->be->buf_alloc(dev, bytes, out);
    if (s != TASSL_OK) return s;
    if (n > 0) s = dev->be->write(dev, *out, 0, (size_t)n * sizeof(int32_t), v);
    if (s != TASSL_OK) {
        dev->be->buf_free(dev, *out);
        *out = NULL;
    }
    return s;
}

tassl_status tassl_optim_alloc_zero(tassl_device *dev, int64_t n, tassl_buf **out) {
    tassl_status s = dev->be->buf_alloc(dev, (size_t)(n > 0 ? n : 1) * sizeof(float), out);
    if (s != TASSL_OK) return s;
    s = dev->be->core->fill(dev, tassl_optim_bufptr(*out), n > 0 ? n : 1, 0.0f);
    if (s != TASSL_OK) {
        dev->be->buf_free(dev, *out);
        *out = NULL;
    }
    return s;
}

tassl_status tassl_sumsq_plan_init(tassl_sumsq_plan *pl, tassl_device *dev, int nranges,
                                   const int64_t *start, const int64_t *len, const int *group,
                                   int ngroups) {
    *pl = (tassl_sumsq_plan){.dev = dev, .ngroups = ngroups};
    int64_t nch = 0;
    for (int r = 0; r < nranges; r++) nch += (len[r] + TASSL_SUMSQ_CHUNK - 1) / TASSL_SUMSQ_CHUNK;
    int32_t *ch = malloc(sizeof(int32_t) * (size_t)(2 * nch + 1));
    int32_t *cb = malloc(sizeof(int32_t) * (size_t)(ngroups + 1));
    if (!ch || !cb) {
        free(ch);
        free(cb);
        return tassl_error(TASSL_ERR_NOMEM, "optimiser: out of host memory for a norm plan");
    }
    int64_t c = 0;
    int g = 0;
    cb[0] = 0;
    for (int r = 0; r < nranges; r++) {
        TASSL_CHECK(group[r] >= g && group[r] < ngroups, "sumsq plan: groups out of order");
        while (g < group[r]) cb[++g] = (int32_t)c;
        for (int64_t o = 0; o < len[r]; o += TASSL_SUMSQ_CHUNK) {
            int64_t l = len[r] - o < TASSL_SUMSQ_CHUNK ? len[r] - o : TASSL_SUMSQ_CHUNK;
            ch[2 * c] = (int32_t)(start[r] + o);
            ch[2 * c + 1] = (int32_t)l;
            c++;
        }
    }
    while (g < ngroups) cb[++g] = (int32_t)c;
    pl->nchunks = nch;
    tassl_status s = tassl_optim_upload_i32(dev, ch, 2 * nch, &pl->chunks);
    if (s == TASSL_OK) s = tassl_optim_upload_i32(dev, cb, ngroups + 1, &pl->cb);
    if (s == TASSL_OK) s = tassl_optim_alloc_zero(dev, 2 * nch, &pl->part);
    if (s == TASSL_OK) s = tassl_optim_alloc_zero(dev, 2 * (int64_t)ngroups, &pl->out);
    free(ch);
    free(cb);
    if (s != TASSL_OK) tassl_sumsq_plan_free(pl);
    return s;
}

void tassl_sumsq_plan_free(tassl_sumsq_plan *pl) {
    tassl_buf *b[4] = {pl->chunks, pl->cb, pl->part, pl->out};
    for (int i = 0; i < 4; i++)
        if (b[i]) pl->dev->be->buf_free(pl->dev, b[i]);
    pl->chunks = pl->cb = pl->part = pl->out = NULL;
}

tassl_status tassl_sumsq_plan_run(tassl_sumsq_plan *pl, tassl_ptr a, tassl_ptr b) {
    const tassl_kern_optim *k = pl->dev->be->optim;
    tassl_status s = k->sumsq_chunks(pl->dev, a, b, tassl_optim_bufptr(pl->chunks), pl->nchunks,
                                     tassl_optim_bufptr(pl->part));
    if (s != TASSL_OK) return s;
    return k->sumsq_gather(pl->dev, tassl_optim_bufptr(pl->part), tassl_optim_bufptr(pl->cb),
                           pl->ngroups, tassl_optim_bufptr(pl->out));
}

tassl_status tassl_grad_plan_init(tassl_sumsq_plan *pl, const tassl_params *p) {
    int n = tassl_params_count(p), m = 0;
    int64_t *st = malloc(sizeof(int64_t) * (size_t)(n + 1)), *ln = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int *gr = calloc((size_t)n + 1, sizeof(int));
    tassl_status s = TASSL_OK;
    if (!st || !ln || !gr) s = tassl_error(TASSL_ERR_NOMEM, "clip: out of host memory");
    for (int i = 0; s == TASSL_OK && i < n; i++) {
        if (tassl_params_is_buffer(p, i)) continue;
        const tassl_tensor *t = tassl_params_get(p, i);
        st[m] = t->off;
        ln[m] = tassl_numel(t);
        m++;
    }
    if (s == TASSL_OK) s = tassl_sumsq_plan_init(pl, tassl_ctx_device(tassl_params_flat(p)->ctx), m,
                                                 st, ln, gr, 1);
    free(st);
    free(ln);
    free(gr);
    return s;
}

tassl_status tassl_clip_with_plan(tassl_params *p, tassl_sumsq_plan *pl, float max_norm,
                                  float *norm_out) {
    tassl_tensor *g = tassl_params_flat_grad(p);
    tassl_ctx *ctx = g->ctx;
    if (tassl_ctx_status(ctx) != TASSL_OK) return tassl_ctx_status(ctx);
    if (!(max_norm > 0) && max_norm != INFINITY)
        return tassl_error(TASSL_ERR_ARG, "clip_grad_norm: max_norm %g must be > 0", max_norm);
    tassl_ptr none = {NULL, 0};
    tassl_status s = tassl_sumsq_plan_run(pl, tassl_optim_ptr(g), none);
    if (s == TASSL_OK && max_norm != INFINITY)
        s = pl->dev->be->optim->clip_scale(pl->dev, tassl_optim_ptr(g), g->shape[0],
                                           tassl_optim_bufptr(pl->out), max_norm);
    if (s == TASSL_OK && norm_out) {
        float sq[2];
        s = pl->dev->be->read(pl->dev, pl->out, 0, sizeof sq, sq);
        *norm_out = sqrtf(sq[0]);
        if (s == TASSL_OK && !isfinite(*norm_out))
            return tassl_error(TASSL_ERR_NUMERIC, "clip_grad_norm: the gradient norm is %g",
                               *norm_out);
    }
    return tassl_ctx_fail(ctx, s);
}

tassl_status tassl_clip_grad_norm(tassl_params *p, float max_norm, float *norm_out) {
    tassl_sumsq_plan pl;
    tassl_status s = tassl_grad_plan_init(&pl, p);
    if (s != TASSL_OK) return tassl_ctx_fail(tassl_params_flat(p)->ctx, s);
    s = tassl_clip_with_plan(p, &pl, max_norm, norm_out);
    tassl_sumsq_plan_free(&pl);
    return s;
}

tassl_status tassl_grad_norm(tassl_params *p, float *norm_out) {
    return tassl_clip_grad_norm(p, INFINITY, norm_out);
}

void tassl_grad_scale(tassl_params *p, float s) {
    tassl_tensor *g = tassl_params_flat_grad(p);
    tassl_device *dev = tassl_ctx_device(g->ctx);
    if (tassl_ctx_status(g->ctx) != TASSL_OK) return;
    tassl_ctx_fail(g->ctx, dev->be->core->unary(dev, TASSL_UNARY_AFFINE, tassl_optim_ptr(g),
                                                tassl_optim_ptr(g), g->shape[0], s, 0.0f));
}

/* ---- accumulation ------------------------------------------------------------------------- */

void tassl_accum_init(tassl_accum *a, int every) {
    TASSL_CHECK(every >= 1, "tassl_accum_init: every = %d, must be >= 1", every);
    a->every = every;
    a->pending = 0;
}
float tassl_accum_loss_scale(const tassl_accum *a) { return 1.0f / (float)a->every; }
bool tassl_accum_next(tassl_accum *a) {
    if (++a->pending < a->every) return false;
    a->pending = 0;
    return true;
}
int tassl_accum_pending(const tassl_accum *a) { return a->pending; }
float tassl_accum_partial_scale(const tassl_accum *a) {
    return a->pending > 0 ? (float)a->every / (float)a->pending : 1.0f;
}
void tassl_accum_reset(tassl_accum *a) { a->pending = 0; }
