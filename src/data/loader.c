/* loader.c — batches from a dataset on worker threads (pthreads) with prefetch.
 *
 * Batch b of epoch e holds samples perm_e[b·B .. b·B + B), each drawn with the seed of its
 * (seed, e, index) stream, so which thread builds a batch never changes its content. Workers claim
 * batch numbers in order into a ring of `prefetch` slots; a slot is refilled only after the
 * consumer has moved past it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_ERROR };

typedef struct slot {
    tassl_batch b;
    int state;
    int64_t number;
    tassl_status err;
    char msg[1024];
} slot;

struct tassl_loader {
    tassl_dataset *ds;
    tassl_loader_opts o;
    int64_t len, nbatch;
    int64_t shape[4];
    int64_t *perm; /* (len) this epoch's order */
    int64_t epoch;
    int started;   /* an epoch is set */
    int nslot;
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    int64_t next_claim, next_deliver;
    int cur; /* slot handed to the caller, -1 if none */
    int stop, nthreads;
    pthread_t *th;
};

tassl_loader_opts tassl_loader_opts_default(void) {
    tassl_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 32;
    o.threads = 1;
    o.prefetch = 0; /* 0 → 2 per thread */
    o.shuffle = 1;
    o.nviews = 1;
    return o;
}

static void batch_free(tassl_batch *b) {
    for (int v = 0; v < TASSL_MAX_VIEWS; v++) free(b->x[v]);
    free(b->target);
    free(b->mask);
    free(b->label);
    free(b->pretext);
    free(b->nboxes);
    free(b->boxes);
    free(b->prov);
    free(b->index);
    memset(b, 0, sizeof *b);
}

static tassl_status batch_alloc(tassl_loader *ld, tassl_batch *b, int has_mask) {
    size_t B = (size_t)ld->o.batch;
    size_t per = (size_t)(ld->shape[0] * ld->shape[1] * ld->shape[2] * ld->shape[3]);
    size_t vox = (size_t)(ld->shape[1] * ld->shape[2] * ld->shape[3]);
    memset(b, 0, sizeof *b);
    int ok = 1;
    for (int v = 0; v < ld->o.nviews; v++) ok &= (b->x[v] = malloc(B * per * sizeof(float))) != NULL;
    if (ld->o.want_target) ok &= (b->target = malloc(B * per * sizeof(float))) != NULL;
    if (has_mask) ok &= (b->mask = malloc(B * vox * sizeof(float))) != NULL;
    ok &= (b->label = malloc(B * sizeof *b->label)) != NULL;
    ok &= (b->pretext = malloc(B * sizeof *b->pretext)) != NULL;
    ok &= (b->nboxes = malloc(B * sizeof *b->nboxes)) != NULL;
    ok &= (b->boxes = calloc(B * TASSL_MAX_BOXES, sizeof *b->boxes)) != NULL;
    ok &= (b->prov = malloc(B * sizeof *b->prov)) != NULL;
    ok &= (b->index = malloc(B * sizeof *b->index)) != NULL;
    if (!ok) {
        batch_free(b);
        return tassl_error(TASSL_ERR_NOMEM, "loader: out of memory for a batch of %d", ld->o.batch);
    }
    b->c = ld->shape[0], b->d = ld->shape[1], b->h = ld->shape[2], b->w = ld->shape[3];
    b->nviews = ld->o.nviews;
    return TASSL_OK;
}

/* Build batch `number` of `epoch` into b (no lock held; perm is stable while any slot fills). */
static tassl_status fill(tassl_loader *ld, tassl_batch *b, int64_t epoch, int64_t number) {
    int64_t first = number * ld->o.batch;
    int n = (int)(ld->len - first < ld->o.batch ? ld->len - first : ld->o.batch);
    size_t per = (size_t)(b->c * b->d * b->h * b->w), vox = (size_t)(b->d * b->h * b->w);
    b->n = n;
    b->epoch = epoch;
    b->number = number;
    for (int j = 0; j < n; j++) {
        int64_t idx = ld->perm[first + j];
        uint64_t seed = tassl_sample_seed(ld->o.seed, epoch, idx);
        tassl_sample s;
        tassl_status st = tassl_dataset_get(ld->ds, idx, seed, &s);
        if (st != TASSL_OK) return st;
        if (!!s.mask.data != !!b->mask) {
            tassl_sample_free(&s);
            return tassl_error(TASSL_ERR_ARG,
                               "%s: some records have a mask and others not; a batch needs all or none",
                               s.image.source[0] ? s.image.source : "dataset");
        }
        tassl_sample_out out;
        memset(&out, 0, sizeof out);
        out.nviews = ld->o.nviews;
        for (int v = 0; v < ld->o.nviews; v++) out.view[v] = b->x[v] + (size_t)j * per;
        out.target = b->target ? b->target + (size_t)j * per : NULL;
        out.pretext = -1;
        if (ld->o.transform) {
            st = ld->o.transform(ld->o.transform_user, &s, &out, ld->o.seed, idx, epoch);
            if (st != TASSL_OK) {
                tassl_sample_free(&s);
                return st;
            }
        } else {
            for (int v = 0; v < ld->o.nviews; v++) memcpy(out.view[v], s.image.data, per * sizeof(float));
            if (out.target) memcpy(out.target, s.image.data, per * sizeof(float));
        }
        if (b->mask) memcpy(b->mask + (size_t)j * vox, s.mask.data, vox * sizeof(float));
        b->label[j] = s.label;
        b->pretext[j] = out.pretext;
        b->nboxes[j] = s.nboxes;
        memcpy(b->boxes + (size_t)j * TASSL_MAX_BOXES, s.boxes, (size_t)s.nboxes * sizeof(tassl_box));
        b->prov[j] = s.prov;
        b->index[j] = idx;
        tassl_sample_free(&s);
    }
    return TASSL_OK;
}

static void *worker(void *arg) {
    tassl_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    while (!ld->stop) {
        int64_t b = ld->next_claim;
        slot *sl = ld->started && b < ld->nbatch ? &ld->slots[b % ld->nslot] : NULL;
        if (!sl || sl->state != SLOT_FREE) {
            pthread_cond_wait(&ld->cv_work, &ld->mu);
            continue;
        }
        ld->next_claim++;
        sl->state = SLOT_FILLING;
        sl->number = b;
        int64_t epoch = ld->epoch;
        pthread_mutex_unlock(&ld->mu);
        tassl_status st = fill(ld, &sl->b, epoch, b);
        pthread_mutex_lock(&ld->mu);
        sl->err = st;
        if (st != TASSL_OK) snprintf(sl->msg, sizeof sl->msg, "%s", tassl_last_error());
        sl->state = st == TASSL_OK ? SLOT_READY : SLOT_ERROR;
        pthread_cond_broadcast(&ld->cv_ready);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

tassl_status tassl_loader_open(tassl_loader **out, tassl_dataset *ds, const tassl_loader_opts *opts) {
    *out = NULL;
    tassl_loader_opts o = opts ? *opts : tassl_loader_opts_default();
    if (o.batch < 1) return tassl_error(TASSL_ERR_ARG, "loader option batch = %d (expected >= 1)", o.batch);
    if (o.threads < 0 || o.threads > 256)
        return tassl_error(TASSL_ERR_ARG, "loader option threads = %d (expected 0..256)", o.threads);
    if (o.nviews < 1 || o.nviews > TASSL_MAX_VIEWS)
        return tassl_error(TASSL_ERR_ARG, "loader option nviews = %d (expected 1..%d)", o.nviews,
                           TASSL_MAX_VIEWS);
    if (o.prefetch < 0) return tassl_error(TASSL_ERR_ARG, "loader option prefetch = %d", o.prefetch);
    tassl_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return tassl_error(TASSL_ERR_NOMEM, "loader: out of memory");
    ld->ds = ds;
    ld->o = o;
    ld->cur = -1;
    ld->len = tassl_dataset_len(ds);
    ld->nbatch = o.drop_last ? ld->len / o.batch : (ld->len + o.batch - 1) / o.batch;
    ld->nslot = o.threads == 0 ? 1 : (o.prefetch > 0 ? o.prefetch : 2 * o.threads);
    if (ld->nslot < o.threads) ld->nslot = o.threads; /* every worker can hold a slot */
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv_work, NULL);
    pthread_cond_init(&ld->cv_ready, NULL);
    tassl_status st = tassl_dataset_shape(ds, ld->shape);
    int has_mask = tassl_dataset_record(ds, 0)->mask != NULL;
    ld->perm = malloc((size_t)(ld->len > 0 ? ld->len : 1) * sizeof *ld->perm);
    ld->slots = calloc((size_t)ld->nslot, sizeof *ld->slots);
    if (st == TASSL_OK && (!ld->perm || !ld->slots))
        st = tassl_error(TASSL_ERR_NOMEM, "loader: out of memory");
    for (int i = 0; st == TASSL_OK && i < ld->nslot; i++) st = batch_alloc(ld, &ld->slots[i].b, has_mask);
    if (st == TASSL_OK && o.threads > 0) {
        ld->th = calloc((size_t)o.threads, sizeof *ld->th);
        if (!ld->th) st = tassl_error(TASSL_ERR_NOMEM, "loader: out of memory");
        for (int i = 0; st == TASSL_OK && i < o.threads; i++) {
            if (pthread_create(&ld->th[i], NULL, worker, ld) != 0)
                st = tassl_error(TASSL_ERR_NOMEM, "loader: cannot start worker thread %d", i);
            else
                ld->nthreads++;
        }
    }
    if (st != TASSL_OK) {
        tassl_loader_close(ld);
        return st;
    }
    *out = ld;
    return TASSL_OK;
}

int64_t tassl_loader_batches(const tassl_loader *ld) { return ld->nbatch; }

tassl_status tassl_loader_start(tassl_loader *ld, int64_t epoch) {
    pthread_mutex_lock(&ld->mu);
    /* wait for batches in flight of the previous epoch, then forget them */
    for (;;) {
        int busy = 0;
        for (int i = 0; i < ld->nslot; i++) busy |= ld->slots[i].state == SLOT_FILLING;
        if (!busy) break;
        pthread_cond_wait(&ld->cv_ready, &ld->mu);
    }
    for (int i = 0; i < ld->nslot; i++) ld->slots[i].state = SLOT_FREE;
    ld->cur = -1;
    for (int64_t i = 0; i < ld->len; i++) ld->perm[i] = i;
    if (ld->o.shuffle) {
        srng r;
        srng_init(&r, ld->o.seed, (uint64_t)epoch, SRNG_TAG_EPOCH);
        for (int64_t i = ld->len - 1; i > 0; i--) {
            int64_t j = srng_below(&r, i + 1);
            int64_t t = ld->perm[i];
            ld->perm[i] = ld->perm[j];
            ld->perm[j] = t;
        }
    }
    ld->epoch = epoch;
    ld->next_claim = ld->next_deliver = 0;
    ld->started = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    return TASSL_OK;
}

tassl_status tassl_loader_next(tassl_loader *ld, const tassl_batch **out, int *done) {
    *done = 0;
    *out = NULL;
    if (!ld->started) {
        tassl_status st = tassl_loader_start(ld, 0);
        if (st != TASSL_OK) return st;
    }
    pthread_mutex_lock(&ld->mu);
    if (ld->cur >= 0) { /* the caller is done with the previous batch */
        ld->slots[ld->cur].state = SLOT_FREE;
        ld->cur = -1;
        pthread_cond_broadcast(&ld->cv_work);
    }
    if (ld->next_deliver >= ld->nbatch) {
        pthread_mutex_unlock(&ld->mu);
        *done = 1;
        return TASSL_OK;
    }
    int64_t b = ld->next_deliver;
    int si = (int)(b % ld->nslot);
    slot *sl = &ld->slots[si];
    if (ld->nthreads == 0) { /* synchronous */
        sl->state = SLOT_FILLING;
        pthread_mutex_unlock(&ld->mu);
        tassl_status st = fill(ld, &sl->b, ld->epoch, b);
        pthread_mutex_lock(&ld->mu);
        sl->err = st;
        sl->state = st == TASSL_OK ? SLOT_READY : SLOT_ERROR;
        if (st != TASSL_OK) snprintf(sl->msg, sizeof sl->msg, "%s", tassl_last_error());
        sl->number = b;
    }
    while (!(sl->number == b && (sl->state == SLOT_READY || sl->state == SLOT_ERROR)))
        pthread_cond_wait(&ld->cv_ready, &ld->mu);
    ld->next_deliver++;
    if (sl->state == SLOT_ERROR) {
        tassl_status err = sl->err;
        char msg[1024];
        memcpy(msg, sl->msg, sizeof msg);
        sl->state = SLOT_FREE;
        pthread_cond_broadcast(&ld->cv_work);
        pthread_mutex_unlock(&ld->mu);
        return tassl_error(err, "%s", msg);
    }
    ld->cur = si;
    pthread_mutex_unlock(&ld->mu);
    *out = &sl->b;
    return TASSL_OK;
}

void tassl_loader_close(tassl_loader *ld) {
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    for (int i = 0; i < ld->nthreads; i++) pthread_join(ld->th[i], NULL);
    free(ld->th);
    for (int i = 0; ld->slots && i < ld->nslot; i++) batch_free(&ld->slots[i].b);
    free(ld->slots);
    free(ld->perm);
    pthread_cond_destroy(&ld->cv_work);
    pthread_cond_destroy(&ld->cv_ready);
    pthread_mutex_destroy(&ld->mu);
    free(ld);
}
