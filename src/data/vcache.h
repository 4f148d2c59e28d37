/* vcache.h — a thread-safe cache of decoded volumes (and their sampling indexes), least recently
 * used first out once the bytes held pass a budget. Entries in use are pinned (reference count)
 * and never evicted; a volume being decoded by one thread is waited for by the others. */
#ifndef TASSL_VCACHE_H
#define TASSL_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "tassl/dataset.h"
#include "tassl/image.h"

typedef struct vc_entry {
    int key;                /* record index */
    tassl_image img;        /* (C, D, H, W) */
    tassl_image mask;       /* (1, D, H, W) or data NULL */
    /* sampling index: voxel indices (d·H·W + h·W + w) grouped by class; for FOREGROUND one
     * group (the foreground), for BALANCED one group per class present */
    int ngroups;
    int64_t *group_off;     /* (ngroups + 1) */
    uint32_t *idx;          /* (group_off[ngroups]) */
    size_t bytes;
    /* cache bookkeeping */
    int refs, state;
    struct vc_entry *prev, *next;
} vc_entry;

typedef struct vcache vcache;

/* Fills e->img, e->mask, e->group_off/idx/ngroups for key; returns status (message set). */
typedef tassl_status (*vc_load_fn)(void *ctx, int key, vc_entry *e);

vcache *vc_new(size_t budget, vc_load_fn load, void *ctx);
void vc_free(vcache *c);
/* Pinned entry for key (loading it if needed). */
tassl_status vc_get(vcache *c, int key, vc_entry **e);
void vc_release(vcache *c, vc_entry *e);
tassl_cache_stats vc_stats(vcache *c);

#endif
