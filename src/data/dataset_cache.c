/* dataset_cache.c — LRU cache of decoded volumes, bounded by bytes (see vcache.h). A hash map
 * would be faster for huge datasets; a linear scan of a few thousand entries costs microseconds
 * next to the decode it saves, so the list is kept simple. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "vcache.h"

enum { VC_LOADING, VC_READY };

struct vcache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t budget, bytes;
    vc_entry *head, *tail; /* head = most recently used */
    vc_load_fn load;
    void *ctx;
    int64_t hits, misses, evictions;
};

vcache *vc_new(size_t budget, vc_load_fn load, void *ctx) {
    vcache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->budget = budget;
    c->load = load;
    c->ctx = ctx;
    return c;
}

static void entry_free(vc_entry *e) {
    tassl_image_free(&e->img);
    tassl_image_free(&e->mask);
    free(e->group_off);
    free(e->idx);
    free(e);
}

void vc_free(vcache *c) {
    if (!c) return;
    for (vc_entry *e = c->head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void unlink_e(vcache *c, vc_entry *e) {
    if (e->prev) e->prev->next = e->next;
    else c->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(vcache *c, vc_entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

/* evict unpinned entries from the tail while over budget (lock held) */
static void evict(vcache *c) {
    vc_entry *e = c->tail;
    while (c->bytes > c->budget && e) {
        vc_entry *p = e->prev;
        if (e->refs == 0 && e->state == VC_READY) {
            unlink_e(c, e);
            c->bytes -= e->bytes;
            c->evictions++;
            entry_free(e);
        }
        e = p;
    }
}

tassl_status vc_get(vcache *c, int key, vc_entry **out) {
    pthread_mutex_lock(&c->mu);
    for (;;) {
        vc_entry *e = c->head;
        while (e && e->key != key) e = e->next;
        if (e && e->state == VC_READY) {
            e->refs++;
            c->hits++;
            unlink_e(c, e);
            push_front(c, e);
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return TASSL_OK;
        }
        if (e) { /* another thread decodes it */
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&c->mu);
            return tassl_error(TASSL_ERR_NOMEM, "volume cache: out of memory");
        }
        e->key = key;
        e->state = VC_LOADING;
        e->refs = 1;
        push_front(c, e);
        c->misses++;
        pthread_mutex_unlock(&c->mu);

        tassl_status st = c->load(c->ctx, key, e);

        pthread_mutex_lock(&c->mu);
        if (st != TASSL_OK) { /* forget it: a waiter will retry and report the same error */
            unlink_e(c, e);
            entry_free(e);
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            return st;
        }
        e->bytes = sizeof *e + (size_t)e->img.channels * (size_t)tassl_image_voxels(&e->img) * 4;
        if (e->mask.data) e->bytes += (size_t)tassl_image_voxels(&e->mask) * 4;
        if (e->group_off) e->bytes += (size_t)(e->ngroups + 1) * 8 + (size_t)e->group_off[e->ngroups] * 4;
        e->state = VC_READY;
        c->bytes += e->bytes;
        evict(c);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        *out = e;
        return TASSL_OK;
    }
}

void vc_release(vcache *c, vc_entry *e) {
    pthread_mutex_lock(&c->mu);
    e->refs--;
    if (e->refs == 0) evict(c);
    pthread_mutex_unlock(&c->mu);
}

tassl_cache_stats vc_stats(vcache *c) {
    pthread_mutex_lock(&c->mu);
    tassl_cache_stats s = {c->hits, c->misses, c->evictions, c->bytes};
    pthread_mutex_unlock(&c->mu);
    return s;
}
