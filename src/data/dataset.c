/* dataset.c — samples from manifest records: 2D slices (any axis) or 3D patches, placed uniformly,
 * on foreground, or class-balanced, with the source region recorded (provenance) and boxes
 * carried into sample coordinates. Decoded volumes come from the byte-bounded cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"
#include "tassl/augment.h"
#include "tassl/io.h"
#include "vcache.h"

struct tassl_dataset {
    tassl_manifest m;
    tassl_dataset_opts o;
    int nrec;
    int *recs; /* (nrec) manifest indices in use */
    vcache *cache;
    pthread_mutex_t mu;
    int have_shape;
    int64_t shape[4]; /* (C, D, H, W) of a sample */
    int have_norm;
    tassl_aug_config norm; /* the copy of o.image_norm */
};

tassl_dataset_opts tassl_dataset_opts_default(void) {
    tassl_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.dim = 2;
    o.axis = 0;
    o.patch[0] = 1;
    o.patch[1] = 128;
    o.patch[2] = 128;
    o.sampling = TASSL_SAMPLING_UNIFORM;
    o.fg_prob = 1.0f;
    o.samples_per_image = 1;
    o.split = TASSL_SPLIT_NONE;
    o.cache_bytes = (size_t)1 << 30;
    return o;
}

uint64_t tassl_sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)((uint64_t)index >> 32), (uint32_t)epoch,
                       (uint32_t)((uint64_t)epoch >> 32) ^ 0x5A3D1E00u};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    tassl_philox4x32(ctr, key, out);
    return ((uint64_t)out[1] << 32) | out[0];
}

/* ---- loading a record into the cache -------------------------------------------------------- */

static tassl_status build_index(tassl_dataset *ds, vc_entry *e) {
    int64_t nv = tassl_image_voxels(&e->img);
    const float *lab = e->mask.data;
    if (ds->o.sampling == TASSL_SAMPLING_UNIFORM) return TASSL_OK;
    if (ds->o.sampling == TASSL_SAMPLING_BALANCED && lab) {
        int maxv = 0;
        for (int64_t i = 0; i < nv; i++) {
            float v = lab[i];
            if (!(v >= 0 && v < 65536))
                return tassl_error(TASSL_ERR_FORMAT,
                                   "%s: label %g at voxel %lld: class-balanced sampling needs "
                                   "labels in 0..65535", e->mask.source, (double)v, (long long)i);
            if ((int)v > maxv) maxv = (int)v;
        }
        int64_t *cnt = calloc((size_t)maxv + 2, sizeof *cnt);
        if (!cnt) return tassl_error(TASSL_ERR_NOMEM, "out of memory indexing %s", e->mask.source);
        for (int64_t i = 0; i < nv; i++) cnt[(int)lab[i]]++;
        int ng = 0;
        for (int v = 0; v <= maxv; v++) ng += cnt[v] > 0;
        e->ngroups = ng;
        e->group_off = malloc((size_t)(ng + 1) * sizeof *e->group_off);
        e->idx = malloc((size_t)nv * sizeof *e->idx);
        int64_t *pos = calloc((size_t)maxv + 2, sizeof *pos);
        if (!e->group_off || !e->idx || !pos) {
            free(cnt);
            free(pos);
            return tassl_error(TASSL_ERR_NOMEM, "out of memory indexing %s", e->mask.source);
        }
        int g = 0;
        int64_t off = 0;
        for (int v = 0; v <= maxv; v++)
            if (cnt[v]) {
                e->group_off[g++] = off;
                pos[v] = off;
                off += cnt[v];
            }
        e->group_off[ng] = off;
        for (int64_t i = 0; i < nv; i++) e->idx[pos[(int)lab[i]]++] = (uint32_t)i;
        free(cnt);
        free(pos);
        return TASSL_OK;
    }
    /* foreground: mask > 0, else channel 0 > threshold */
    int64_t n = 0;
    for (int64_t i = 0; i < nv; i++) n += lab ? lab[i] > 0 : e->img.data[i] > ds->o.fg_threshold;
    e->ngroups = 1;
    e->group_off = malloc(2 * sizeof *e->group_off);
    e->idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *e->idx);
    if (!e->group_off || !e->idx) return tassl_error(TASSL_ERR_NOMEM, "out of memory indexing %s", e->img.source);
    int64_t k = 0;
    for (int64_t i = 0; i < nv; i++)
        if (lab ? lab[i] > 0 : e->img.data[i] > ds->o.fg_threshold) e->idx[k++] = (uint32_t)i;
    e->group_off[0] = 0;
    e->group_off[1] = n;
    return TASSL_OK;
}

static tassl_status load_record(void *ctx, int key, vc_entry *e) {
    tassl_dataset *ds = ctx;
    const tassl_record *r = &ds->m.rec[key];
    tassl_status st = tassl_image_read(r->image, NULL, &e->img, NULL);
    if (st != TASSL_OK) return st;
    if (ds->o.channels > 0 && e->img.channels != ds->o.channels)
        return tassl_error(TASSL_ERR_ARG, "%s: %d channels, the dataset expects %d", r->image,
                           e->img.channels, ds->o.channels);
    if (r->mask) {
        tassl_read_opts ro = tassl_read_opts_default();
        ro.is_label = 1;
        st = tassl_image_read(r->mask, &ro, &e->mask, NULL);
        if (st != TASSL_OK) return st;
        if (e->mask.channels != 1)
            return tassl_error(TASSL_ERR_FORMAT, "%s: a mask must have one channel, it has %d",
                               r->mask, e->mask.channels);
        st = tassl_image_same_grid(&e->img, &e->mask, 0);
        if (st != TASSL_OK)
            return tassl_error(st, "%s:%d: image and mask on different grids: %s", ds->m.source,
                               r->line, tassl_last_error());
    }
    /* the index reads raw values (foreground = image > fg_threshold), so it comes first; the
     * cache then holds the normalised image, so its statistics are computed once per load */
    if ((st = build_index(ds, e)) != TASSL_OK) return st;
    if (ds->have_norm && (st = tassl_aug_normalize(&ds->norm, &e->img, NULL)) != TASSL_OK)
        return tassl_error(st, "%s: whole-image normalisation: %s", r->image, tassl_last_error());
    return TASSL_OK;
}

/* ---- open/close ----------------------------------------------------------------------------- */

tassl_status tassl_dataset_open(tassl_dataset **out, const tassl_manifest *m,
                                const tassl_dataset_opts *opts) {
    *out = NULL;
    tassl_dataset_opts o = opts ? *opts : tassl_dataset_opts_default();
    if (o.dim != 2 && o.dim != 3)
        return tassl_error(TASSL_ERR_ARG, "dataset option dim = %d (expected 2 or 3)", o.dim);
    if (o.axis < 0 || o.axis > 2)
        return tassl_error(TASSL_ERR_ARG, "dataset option axis = %d (expected 0 D, 1 H or 2 W)", o.axis);
    if (o.dim == 2) o.patch[0] = 1;
    for (int k = 0; k < 3; k++)
        if (o.patch[k] < 0 || o.patch[k] > 65536)
            return tassl_error(TASSL_ERR_ARG, "dataset option patch[%d] = %lld (expected 0..65536)", k,
                               (long long)o.patch[k]);
    if (o.sampling < TASSL_SAMPLING_UNIFORM || o.sampling > TASSL_SAMPLING_BALANCED)
        return tassl_error(TASSL_ERR_ARG, "dataset option sampling = %d (expected 0..2)", o.sampling);
    if (!(o.fg_prob >= 0 && o.fg_prob <= 1))
        return tassl_error(TASSL_ERR_ARG, "dataset option fg_prob = %g (expected 0..1)", (double)o.fg_prob);
    if (o.samples_per_image < 1)
        return tassl_error(TASSL_ERR_ARG, "dataset option samples_per_image = %d (expected >= 1)",
                           o.samples_per_image);
    if (o.split < TASSL_SPLIT_NONE || o.split > TASSL_SPLIT_TEST)
        return tassl_error(TASSL_ERR_ARG, "dataset option split = %d", o.split);
    tassl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return tassl_error(TASSL_ERR_NOMEM, "dataset: out of memory");
    ds->o = o;
    if (o.image_norm) {
        ds->norm = *o.image_norm;
        ds->have_norm = 1;
    }
    ds->o.image_norm = NULL; /* the caller's pointer is not kept */
    tassl_status st = data_manifest_copy(&ds->m, m);
    if (st != TASSL_OK) {
        free(ds);
        return st;
    }
    ds->recs = malloc((size_t)(m->n + 1) * sizeof *ds->recs);
    if (!ds->recs) {
        tassl_manifest_free(&ds->m);
        free(ds);
        return tassl_error(TASSL_ERR_NOMEM, "dataset: out of memory");
    }
    for (int i = 0; i < m->n; i++)
        if (o.split == TASSL_SPLIT_NONE || m->rec[i].split == o.split) ds->recs[ds->nrec++] = i;
    if (ds->nrec == 0) {
        st = tassl_error(TASSL_ERR_ARG, "%s: no records in split '%s'", m->source,
                         tassl_split_name((tassl_split)o.split));
        tassl_dataset_close(ds);
        return st;
    }
    pthread_mutex_init(&ds->mu, NULL);
    ds->cache = vc_new(o.cache_bytes, load_record, ds);
    if (!ds->cache) {
        tassl_dataset_close(ds);
        return tassl_error(TASSL_ERR_NOMEM, "dataset: out of memory");
    }
    *out = ds;
    return TASSL_OK;
}

void tassl_dataset_close(tassl_dataset *ds) {
    if (!ds) return;
    if (ds->cache) {
        vc_free(ds->cache);
        pthread_mutex_destroy(&ds->mu);
    }
    tassl_manifest_free(&ds->m);
    free(ds->recs);
    free(ds);
}

int tassl_dataset_records(const tassl_dataset *ds) { return ds->nrec; }
int64_t tassl_dataset_len(const tassl_dataset *ds) {
    return (int64_t)ds->nrec * ds->o.samples_per_image;
}
const tassl_record *tassl_dataset_record(const tassl_dataset *ds, int r) {
    return &ds->m.rec[ds->recs[r]];
}
tassl_cache_stats tassl_dataset_cache_stats(tassl_dataset *ds) { return vc_stats(ds->cache); }

/* ---- sampling ------------------------------------------------------------------------------- */

/* Output axis k (0 = D, 1 = H, 2 = W of the sample) reads source axis srcax[k]. */
static void sample_axes(const tassl_dataset *ds, const tassl_image *img, int srcax[3], int *axis) {
    srcax[0] = 0, srcax[1] = 1, srcax[2] = 2;
    *axis = -1;
    if (ds->o.dim == 2 && img->d > 1) {
        *axis = ds->o.axis;
        if (ds->o.axis == 1) srcax[0] = 1, srcax[1] = 0, srcax[2] = 2;
        if (ds->o.axis == 2) srcax[0] = 2, srcax[1] = 0, srcax[2] = 1;
    }
}

static tassl_status sample_size(tassl_dataset *ds, const tassl_image *img, const int srcax[3],
                                int64_t osz[3]) {
    int64_t vsz[3] = {img->d, img->h, img->w};
    for (int k = 0; k < 3; k++) osz[k] = ds->o.patch[k] > 0 ? ds->o.patch[k] : vsz[srcax[k]];
    if (ds->o.dim == 2) osz[0] = 1;
    pthread_mutex_lock(&ds->mu);
    tassl_status st = TASSL_OK;
    if (!ds->have_shape) {
        ds->shape[0] = img->channels;
        for (int k = 0; k < 3; k++) ds->shape[k + 1] = osz[k];
        ds->have_shape = 1;
    } else if (ds->shape[0] != img->channels || ds->shape[1] != osz[0] || ds->shape[2] != osz[1] ||
               ds->shape[3] != osz[2])
        st = tassl_error(TASSL_ERR_ARG,
                         "%s: gives samples of %lld x %lld x %lld x %lld (C, D, H, W), the dataset's "
                         "first image gave %lld x %lld x %lld x %lld (set a fixed patch size, or use "
                         "images of one size and channel count)",
                         img->source, (long long)img->channels, (long long)osz[0], (long long)osz[1],
                         (long long)osz[2], (long long)ds->shape[0], (long long)ds->shape[1],
                         (long long)ds->shape[2], (long long)ds->shape[3]);
    pthread_mutex_unlock(&ds->mu);
    return st;
}

tassl_status tassl_dataset_shape(tassl_dataset *ds, int64_t shape[4]) {
    pthread_mutex_lock(&ds->mu);
    int have = ds->have_shape;
    pthread_mutex_unlock(&ds->mu);
    if (!have) {
        vc_entry *e;
        tassl_status st = vc_get(ds->cache, ds->recs[0], &e);
        if (st != TASSL_OK) return st;
        int srcax[3], axis;
        int64_t osz[3];
        sample_axes(ds, &e->img, srcax, &axis);
        st = sample_size(ds, &e->img, srcax, osz);
        vc_release(ds->cache, e);
        if (st != TASSL_OK) return st;
    }
    memcpy(shape, ds->shape, sizeof ds->shape);
    return TASSL_OK;
}

/* copy the region of src (C, D, H, W) starting at origin (source coordinates) into dst (C, osz) */
static void extract(const tassl_image *src, const int srcax[3], const int64_t origin[3],
                    const int64_t osz[3], float pad, float *dst) {
    int64_t vsz[3] = {src->d, src->h, src->w};
    int64_t sstr[3] = {src->h * src->w, src->w, 1};
    int64_t nv = tassl_image_voxels(src);
    int a0 = srcax[0], a1 = srcax[1], a2 = srcax[2];
    int64_t x0 = origin[a2] < 0 ? -origin[a2] : 0;
    int64_t x1 = vsz[a2] - origin[a2] < osz[2] ? vsz[a2] - origin[a2] : osz[2];
    for (int c = 0; c < src->channels; c++) {
        const float *s = src->data + (int64_t)c * nv;
        for (int64_t z = 0; z < osz[0]; z++) {
            int64_t sz = origin[a0] + z;
            for (int64_t y = 0; y < osz[1]; y++) {
                int64_t sy = origin[a1] + y;
                float *o = dst + ((c * osz[0] + z) * osz[1] + y) * osz[2];
                if (sz < 0 || sz >= vsz[a0] || sy < 0 || sy >= vsz[a1] || x1 <= x0) {
                    for (int64_t x = 0; x < osz[2]; x++) o[x] = pad;
                    continue;
                }
                for (int64_t x = 0; x < x0; x++) o[x] = pad;
                const float *row = s + sz * sstr[a0] + sy * sstr[a1] + origin[a2] * sstr[a2];
                if (sstr[a2] == 1) memcpy(o + x0, row + x0, (size_t)(x1 - x0) * sizeof(float));
                else
                    for (int64_t x = x0; x < x1; x++) o[x] = row[x * sstr[a2]];
                for (int64_t x = x1; x < osz[2]; x++) o[x] = pad;
            }
        }
    }
}

/* the sample's geometry from the source's: axes permuted, origin moved */
static void sample_geometry(const tassl_image *src, const int srcax[3], const int64_t origin[3],
                            tassl_image *dst) {
    /* affine columns are (w, h, d) = array axes (2, 1, 0) */
    for (int r = 0; r < 4; r++) {
        for (int k = 0; k < 3; k++) dst->affine[r][2 - k] = src->affine[r][2 - srcax[k]];
        dst->affine[r][3] = src->affine[r][3] + src->affine[r][0] * (double)origin[2] +
                            src->affine[r][1] * (double)origin[1] + src->affine[r][2] * (double)origin[0];
    }
    for (int k = 0; k < 3; k++) dst->spacing[k] = src->spacing[srcax[k]];
    memcpy(dst->source, src->source, sizeof dst->source);
}

tassl_status tassl_dataset_get(tassl_dataset *ds, int64_t index, uint64_t sample_seed,
                               tassl_sample *s) {
    memset(s, 0, sizeof *s);
    if (index < 0 || index >= tassl_dataset_len(ds))
        return tassl_error(TASSL_ERR_ARG, "sample index %lld outside 0..%lld", (long long)index,
                           (long long)tassl_dataset_len(ds) - 1);
    int rid = ds->recs[index / ds->o.samples_per_image];
    const tassl_record *rec = &ds->m.rec[rid];
    vc_entry *e;
    tassl_status st = vc_get(ds->cache, rid, &e);
    if (st != TASSL_OK) return st;
    int srcax[3], axis;
    int64_t osz[3];
    sample_axes(ds, &e->img, srcax, &axis);
    st = sample_size(ds, &e->img, srcax, osz);
    if (st != TASSL_OK) {
        vc_release(ds->cache, e);
        return st;
    }
    int64_t vsz[3] = {e->img.d, e->img.h, e->img.w};
    int64_t rsz[3]; /* region size in source axes */
    for (int k = 0; k < 3; k++) rsz[srcax[k]] = osz[k];

    /* where: uniform origin, or centred on a chosen voxel */
    srng r;
    srng_init(&r, sample_seed, 0, SRNG_TAG_POSITION);
    int64_t origin[3];
    int guided = 0;
    if (ds->o.sampling != TASSL_SAMPLING_UNIFORM && e->ngroups > 0 && srng_unif(&r) < ds->o.fg_prob) {
        int g = e->ngroups > 1 ? (int)srng_below(&r, e->ngroups) : 0;
        int64_t n = e->group_off[g + 1] - e->group_off[g];
        if (n > 0) {
            int64_t v = e->idx[e->group_off[g] + srng_below(&r, n)];
            int64_t c[3] = {v / (vsz[1] * vsz[2]), (v / vsz[2]) % vsz[1], v % vsz[2]};
            for (int a = 0; a < 3; a++) {
                int64_t o = c[a] - rsz[a] / 2;
                int64_t lo = vsz[a] - rsz[a] < 0 ? vsz[a] - rsz[a] : 0;
                int64_t hi = vsz[a] - rsz[a] > 0 ? vsz[a] - rsz[a] : 0;
                origin[a] = o < lo ? lo : (o > hi ? hi : o);
            }
            guided = 1;
        }
    }
    if (!guided)
        for (int a = 0; a < 3; a++)
            origin[a] = vsz[a] >= rsz[a] ? srng_below(&r, vsz[a] - rsz[a] + 1)
                                         : -((rsz[a] - vsz[a]) / 2);

    st = tassl_image_new(&s->image, e->img.channels, osz[0], osz[1], osz[2]);
    if (st == TASSL_OK && e->mask.data) st = tassl_image_new(&s->mask, 1, osz[0], osz[1], osz[2]);
    if (st != TASSL_OK) {
        vc_release(ds->cache, e);
        tassl_sample_free(s);
        return st;
    }
    extract(&e->img, srcax, origin, osz, ds->o.pad_value, s->image.data);
    sample_geometry(&e->img, srcax, origin, &s->image);
    if (e->mask.data) {
        extract(&e->mask, srcax, origin, osz, 0.0f, s->mask.data);
        sample_geometry(&e->mask, srcax, origin, &s->mask);
        s->mask.is_label = 1;
    }
    vc_release(ds->cache, e);

    s->label = rec->label;
    for (int b = 0; b < rec->nboxes; b++) {
        const tassl_box *in = &rec->boxes[b];
        tassl_box ob;
        memset(&ob, 0, sizeof ob);
        ob.label = in->label;
        int keep = 1;
        for (int k = 0; k < 3; k++) {
            int a = srcax[k];
            float lo = in->lo[a] - (float)origin[a], hi = in->hi[a] - (float)origin[a];
            if (lo < 0) lo = 0;
            if (hi > (float)osz[k]) hi = (float)osz[k];
            if (!(hi > lo)) keep = 0;
            ob.lo[k] = lo;
            ob.hi[k] = hi;
        }
        if (keep && s->nboxes < TASSL_MAX_BOXES) s->boxes[s->nboxes++] = ob;
    }
    s->prov.record = rid;
    s->prov.axis = axis;
    for (int a = 0; a < 3; a++) {
        s->prov.origin[a] = origin[a];
        s->prov.size[a] = rsz[a];
    }
    return TASSL_OK;
}

void tassl_sample_free(tassl_sample *s) {
    if (!s) return;
    tassl_image_free(&s->image);
    tassl_image_free(&s->mask);
    memset(s, 0, sizeof *s);
}
