/* ema.c — exponential moving average of parameters between two parameter sets of identical
 * layout (BYOL / MoCo target networks): one kernel over the flat value buffers, driven by a run
 * table (trainable entries averaged; buffers copied, averaged or skipped per the mode). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct tassl_ema {
    tassl_params *target;
    const tassl_params *online;
    tassl_device *dev;
    tassl_buf *runs, *copy_runs; /* the update table; "copy everything" table */
    int64_t nruns, span, ncopy, copy_span;
};

void tassl_ema_free(tassl_ema *e) {
    if (!e) return;
    if (e->runs) e->dev->be->buf_free(e->dev, e->runs);
    if (e->copy_runs) e->dev->be->buf_free(e->dev, e->copy_runs);
    free(e);
}

static tassl_status check_layout(const tassl_params *t, const tassl_params *o) {
    int n = tassl_params_count(t);
    if (n != tassl_params_count(o))
        return tassl_error(TASSL_ERR_ARG, "ema: target has %d entries, online %d", n,
                           tassl_params_count(o));
    for (int i = 0; i < n; i++) {
        const tassl_tensor *a = tassl_params_get(t, i), *b = tassl_params_get(o, i);
        char sa[96], sb[96];
        if (strcmp(a->name, b->name) != 0)
            return tassl_error(TASSL_ERR_ARG, "ema: entry %d is '%s' in the target, '%s' online",
                               i, a->name, b->name);
        if (!tassl_same_shape(a, b) || a->off != b->off)
            return tassl_error(TASSL_ERR_ARG, "ema: '%s' is %s in the target, %s online", a->name,
                               tassl_shape_str(a, sa, sizeof sa), tassl_shape_str(b, sb, sizeof sb));
        if (tassl_params_is_buffer(t, i) != tassl_params_is_buffer(o, i))
            return tassl_error(TASSL_ERR_ARG, "ema: '%s' is a buffer in one set only", a->name);
    }
    if (tassl_params_flat(t)->shape[0] > INT32_MAX)
        return tassl_error(TASSL_ERR_UNSUPPORTED, "ema: too many parameters for int32 indexing");
    if (tassl_ctx_device(tassl_params_flat(t)->ctx) != tassl_ctx_device(tassl_params_flat(o)->ctx))
        return tassl_error(TASSL_ERR_ARG, "ema: target and online sets live on different devices");
    return TASSL_OK;
}

/* Rows for every entry with the flags the mode gives it (copy_all: COPY for everything). */
static tassl_status upload_rows(tassl_ema *e, tassl_ema_buffers mode, bool copy_all,
                                tassl_buf **out, int64_t *nrows, int64_t *span) {
    int n = tassl_params_count(e->target), nr = 0;
    int32_t *rows = malloc(sizeof(int32_t) * 4 * (size_t)(n + 1));
    if (!rows) return tassl_error(TASSL_ERR_NOMEM, "ema: out of host memory");
    for (int i = 0; i < n; i++) {
        const tassl_tensor *t = tassl_params_get(e->target, i);
        int32_t f;
        if (copy_all) f = TASSL_RUN_COPY;
        else if (!tassl_params_is_buffer(e->target, i)) f = TASSL_RUN_UPDATE;
        else f = mode == TASSL_EMA_BUFFERS_EMA ? TASSL_RUN_UPDATE
                 : mode == TASSL_EMA_BUFFERS_COPY ? TASSL_RUN_COPY : 0;
        if (!f || tassl_numel(t) == 0) continue;
        rows[4 * nr] = (int32_t)t->off;
        rows[4 * nr + 1] = (int32_t)(t->off + tassl_numel(t));
        rows[4 * nr + 2] = f;
        rows[4 * nr + 3] = 0;
        nr++;
    }
    *nrows = nr;
    *span = nr ? rows[4 * (nr - 1) + 1] : 0;
    tassl_status s = tassl_optim_upload_i32(e->dev, rows, 4 * (int64_t)nr, out);
    free(rows);
    return s;
}

tassl_status tassl_ema_new(tassl_params *target, const tassl_params *online,
                           tassl_ema_buffers buffers, tassl_ema **out) {
    *out = NULL;
    if ((unsigned)buffers > TASSL_EMA_BUFFERS_SKIP)
        return tassl_error(TASSL_ERR_ARG, "ema: unknown buffer mode %d", (int)buffers);
    tassl_status s = check_layout(target, online);
    if (s != TASSL_OK) return s;
    tassl_ema *e = calloc(1, sizeof *e);
    if (!e) return tassl_error(TASSL_ERR_NOMEM, "ema: out of host memory");
    e->target = target;
    e->online = online;
    e->dev = tassl_ctx_device(tassl_params_flat(target)->ctx);
    s = upload_rows(e, buffers, false, &e->runs, &e->nruns, &e->span);
    if (s == TASSL_OK) s = upload_rows(e, buffers, true, &e->copy_runs, &e->ncopy, &e->copy_span);
    if (s != TASSL_OK) {
        tassl_ema_free(e);
        return s;
    }
    *out = e;
    return TASSL_OK;
}

static tassl_status run(tassl_ema *e, tassl_buf *runs, int64_t nruns, int64_t span, float tau) {
    tassl_ctx *ctx = tassl_params_flat(e->target)->ctx;
    if (tassl_ctx_status(ctx) != TASSL_OK) return tassl_ctx_status(ctx);
    if (nruns == 0) return TASSL_OK;
    tassl_status s = e->dev->be->optim->ema(e->dev, tassl_optim_ptr(tassl_params_flat(e->target)),
                                            tassl_optim_ptr(tassl_params_flat(e->online)),
                                            tassl_optim_bufptr(runs), nruns, span, tau);
    return tassl_ctx_fail(ctx, s);
}

tassl_status tassl_ema_update(tassl_ema *e, float tau) {
    if (!(tau >= 0 && tau <= 1))
        return tassl_error(TASSL_ERR_ARG, "ema: momentum %g must be in [0, 1]", tau);
    return run(e, e->runs, e->nruns, e->span, tau);
}

tassl_status tassl_ema_copy(tassl_ema *e) { return run(e, e->copy_runs, e->ncopy, e->copy_span, 0.0f); }
