/* data.c — the data side of pretraining: samples from synthetic phantoms (the `tassl data synth`
 * generator, made on the fly), a CSV manifest or a scanned folder; per sample the clean image
 * (normalisation only), the augmented views and the members' custom inputs, prepared on host
 * threads into staging buffers.
 *
 * Determinism: sample j of step s is global sample g = s·B + j. Synthetic: case g (or g mod
 * data.synthetic.train_size, epoch g div train_size). Datasets: epoch e = g div len, position
 * g mod len in a Philox permutation keyed by (seed, e). Every random draw then comes from
 * (seed, index, epoch) streams, so a batch is a pure function of (config, step) whatever the
 * thread count — resume is exact. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"

#define VIEW_SEED_MIX 0x9e3779b97f4a7c15ULL

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static tassl_status build_aug(ssl_data *d, const tassl_config *cfg) {
    const char *preset = tassl_config_str(cfg, "data.aug.preset");
    tassl_status s = tassl_aug_preset(preset, &d->view_cfg);
    if (s != TASSL_OK) return ssl_wrap(s, "data.aug.preset");
    for (int i = 0; i < tassl_config_list_len(cfg, "data.aug.set"); i++) {
        const char *kv = tassl_config_list_str(cfg, "data.aug.set", i);
        const char *eq = strchr(kv, '=');
        char key[64];
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
            return tassl_error(TASSL_ERR_ARG, "data.aug.set[%d]: '%s' is not field=value", i, kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = 0;
        if ((s = tassl_aug_config_set(&d->view_cfg, key, eq + 1)) != TASSL_OK)
            return ssl_wrap(s, "data.aug.set[%d]", i);
    }
    if ((s = tassl_aug_config_validate(&d->view_cfg)) != TASSL_OK) return ssl_wrap(s, "data.aug");
    /* clean = the same normalisation, nothing else */
    tassl_aug_config_default(&d->clean_cfg);
    d->clean_cfg.norm = d->view_cfg.norm;
    memcpy(d->clean_cfg.norm_window, d->view_cfg.norm_window, sizeof d->clean_cfg.norm_window);
    memcpy(d->clean_cfg.norm_percentiles, d->view_cfg.norm_percentiles,
           sizeof d->clean_cfg.norm_percentiles);
    d->clean_cfg.norm_nonzero = d->view_cfg.norm_nonzero;
    d->clean_cfg.norm_scale = d->view_cfg.norm_scale;
    d->clean_cfg.norm_scope = d->view_cfg.norm_scope;
    return TASSL_OK;
}

tassl_status ssl_data_open(ssl_data *d, const tassl_config *cfg, int dims, int64_t sample[4]) {
    memset(d, 0, sizeof *d);
    d->perm_epoch[0] = d->perm_epoch[1] = -1;
    d->seed = mix64((uint64_t)tassl_config_int(cfg, "seed") ^ 0x55117a7a5eedULL);
    d->threads = (int)tassl_config_int(cfg, "data.threads");
    int np = tassl_config_list_len(cfg, "data.patch");
    if (np != 1 && np != dims)
        return tassl_error(TASSL_ERR_ARG,
                           "data.patch: %d values for a %dD model (give %s or one value)", np, dims,
                           dims == 2 ? "[H, W]" : "[D, H, W]");
    int64_t sz[3] = {1, 0, 0};
    for (int a = 0; a < dims; a++)
        sz[3 - dims + a] = tassl_config_list_int(cfg, "data.patch", np == 1 ? 0 : a);
    tassl_status s = build_aug(d, cfg);
    if (s != TASSL_OK) return s;

    const char *src = tassl_config_str(cfg, "data.source");
    int64_t channels = 1;
    if (strcmp(src, "synthetic") == 0) {
        d->source = SSL_SRC_SYNTHETIC;
        for (int a = 3 - dims; a < 3; a++)
            if (sz[a] < 16)
                return tassl_error(TASSL_ERR_ARG,
                                   "data.patch: synthetic phantoms need at least 16 voxels per "
                                   "axis, got %lld",
                                   (long long)sz[a]);
        d->synth = tassl_synth_opts_default(dims);
        memcpy(d->synth.size, sz, sizeof sz);
        d->synth.seed = d->seed;
        int64_t side = sz[1] < sz[2] ? sz[1] : sz[2];
        d->synth.radius_min = side >= 48 ? 3.0f : (float)side / 16.0f;
        d->synth.radius_max = side >= 48 ? 8.0f : (float)side / 6.0f;
        d->synth_train = tassl_config_int(cfg, "data.synthetic.train_size");
    } else {
        d->source = SSL_SRC_DATASET;
        const char *path = tassl_config_str(cfg, "data.path");
        if (!*path)
            return tassl_error(TASSL_ERR_ARG, "data.path: data.source is %s but no path is given",
                               src);
        tassl_manifest m;
        s = strcmp(src, "folder") == 0 ? tassl_manifest_scan(&m, path)
                                       : tassl_manifest_read(&m, path, NULL);
        if (s != TASSL_OK) return ssl_wrap(s, "data.path");
        tassl_dataset_opts o = tassl_dataset_opts_default();
        o.dim = dims;
        o.axis = (int)tassl_config_int(cfg, "data.axis");
        memcpy(o.patch, sz, sizeof sz);
        o.samples_per_image = (int)tassl_config_int(cfg, "data.samples_per_image");
        /* norm_scope image: the dataset normalises each record's whole image once */
        if (d->view_cfg.norm_scope == TASSL_NORM_SCOPE_IMAGE) o.image_norm = &d->view_cfg;
        const char *split = tassl_config_str(cfg, "data.split");
        o.split = strcmp(split, "train") == 0  ? TASSL_SPLIT_TRAIN
                  : strcmp(split, "val") == 0  ? TASSL_SPLIT_VAL
                  : strcmp(split, "test") == 0 ? TASSL_SPLIT_TEST
                                               : TASSL_SPLIT_NONE;
        s = tassl_dataset_open(&d->ds, &m, &o);
        tassl_manifest_free(&m);
        if (s != TASSL_OK) return ssl_wrap(s, "data");
        d->ds_len = tassl_dataset_len(d->ds);
        if (d->ds_len < 1)
            return tassl_error(TASSL_ERR_ARG, "data.split: no record of %s is in split '%s'", path,
                               split);
        int64_t shape[4];
        if ((s = tassl_dataset_shape(d->ds, shape)) != TASSL_OK) return s;
        channels = shape[0];
    }
    int64_t cin = tassl_config_int(cfg, "model.in_channels");
    if (channels != cin)
        return tassl_error(TASSL_ERR_ARG,
                           "model.in_channels: %lld, but the data has %lld "
                           "channel(s)",
                           (long long)cin, (long long)channels);
    sample[0] = channels;
    memcpy(sample + 1, sz, sizeof sz);
    return TASSL_OK;
}

tassl_status ssl_data_alloc(tassl_ssl *s) {
    ssl_data *d = &s->data;
    size_t n = (size_t)(s->env.batch * s->sample_numel);
    for (int v = 0; v < s->all.views; v++)
        if (!(d->view[v] = malloc(n * sizeof(float)))) goto nomem;
    bool need_clean = s->all.clean;
    if (need_clean && !(d->clean = malloc(n * sizeof(float)))) goto nomem;
    d->ncustom = 0;
    for (int m = 0; m < s->nmembers; m++) {
        ssl_member *mb = &s->mem[m];
        mb->custom_base = d->ncustom;
        for (int k = 0; k < mb->in.ncustom; k++) {
            const int64_t *sh = mb->in.custom[k].shape;
            int64_t numel = sh[0] * sh[1] * sh[2] * sh[3];
            if (numel < 1)
                return tassl_error(TASSL_ERR_ARG,
                                   "method %s: custom input %s has shape (%lld, "
                                   "%lld, %lld, %lld)",
                                   mb->m->name, mb->in.custom[k].name, (long long)sh[0],
                                   (long long)sh[1], (long long)sh[2], (long long)sh[3]);
            d->custom_numel[d->ncustom] = numel;
            d->custom[d->ncustom] = malloc((size_t)(numel * s->env.batch) * sizeof(float));
            if (!d->custom[d->ncustom++]) goto nomem;
        }
    }
    return TASSL_OK;
nomem:
    return tassl_error(TASSL_ERR_NOMEM, "data: cannot allocate a batch of %lld samples",
                       (long long)s->env.batch);
}

void ssl_data_close(ssl_data *d) {
    tassl_dataset_close(d->ds);
    for (int i = 0; i < 2; i++)
        free(d->perm[i]);
    for (int v = 0; v < TASSL_SSL_MAX_VIEWS; v++)
        free(d->view[v]);
    free(d->clean);
    for (int k = 0; k < d->ncustom; k++)
        free(d->custom[k]);
    memset(d, 0, sizeof *d);
}

/* the permutation of epoch e (Fisher–Yates driven by Philox of (seed, e)) */
static const int64_t *perm_of(ssl_data *d, int64_t e) {
    for (int i = 0; i < 2; i++)
        if (d->perm_epoch[i] == e) return d->perm[i];
    int slot = d->perm_epoch[0] < d->perm_epoch[1] ? 0 : 1;
    if (!d->perm[slot] && !(d->perm[slot] = malloc((size_t)d->ds_len * sizeof(int64_t))))
        return NULL;
    int64_t *p = d->perm[slot];
    for (int64_t i = 0; i < d->ds_len; i++)
        p[i] = i;
    uint64_t key = mix64(d->seed ^ mix64((uint64_t)e + 1));
    for (int64_t i = d->ds_len - 1; i > 0; i--) {
        uint64_t r = ((uint64_t)tassl_philox_u32(key, (uint64_t)(2 * i)) << 32) |
                     tassl_philox_u32(key, (uint64_t)(2 * i + 1));
        int64_t j = (int64_t)(r % (uint64_t)(i + 1)), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    d->perm_epoch[slot] = e;
    return p;
}

typedef struct job {
    tassl_ssl *s;
    int64_t n, first; /* samples of the batch, global index of sample 0 */
    uint64_t *index, *epoch;
    int tid, nthreads;
    tassl_status st;
    char msg[1024];
} job;

static tassl_status copy_image(const tassl_image *src, tassl_image *dst) {
    tassl_status s = tassl_image_new(dst, src->channels, src->d, src->h, src->w);
    if (s != TASSL_OK) return s;
    memcpy(dst->data, src->data, sizeof(float) * (size_t)(src->channels * tassl_image_voxels(src)));
    memcpy(dst->spacing, src->spacing, sizeof dst->spacing);
    memcpy(dst->affine, src->affine, sizeof dst->affine);
    return TASSL_OK;
}

static tassl_status check_size(const tassl_ssl *s, const tassl_image *im, const char *what) {
    const int64_t *sm = s->env.sample;
    if (im->channels == sm[0] && im->d == sm[1] && im->h == sm[2] && im->w == sm[3])
        return TASSL_OK;
    return tassl_error(TASSL_ERR_ARG,
                       "data: the %s is (%d, %lld, %lld, %lld), the batch needs (%lld, %lld, "
                       "%lld, %lld): use data.aug.set crop_size or a square data.patch",
                       what, im->channels, (long long)im->d, (long long)im->h, (long long)im->w,
                       (long long)sm[0], (long long)sm[1], (long long)sm[2], (long long)sm[3]);
}

/* One sample j: raw image → clean, views, custom inputs, into the staging buffers. */
static tassl_status one_sample(tassl_ssl *s, int64_t j, uint64_t index, uint64_t epoch) {
    ssl_data *d = &s->data;
    tassl_image raw = {0}, img = {0};
    tassl_status st;
    if (d->source == SSL_SRC_SYNTHETIC) {
        tassl_image mask;
        tassl_box boxes[TASSL_MAX_BOXES];
        int nb, has;
        st = tassl_synth_case(&d->synth, (int64_t)index, &raw, &mask, boxes, &nb, &has);
        tassl_image_free(&mask);
        /* norm_scope image: a phantom is its own whole image (a dataset normalises records) */
        if (st == TASSL_OK && d->view_cfg.norm_scope == TASSL_NORM_SCOPE_IMAGE)
            st = tassl_aug_normalize(&d->view_cfg, &raw, NULL);
    } else {
        tassl_sample smp;
        st = tassl_dataset_get(d->ds, (int64_t)index,
                               tassl_sample_seed(d->seed, (int64_t)epoch, (int64_t)index), &smp);
        if (st == TASSL_OK) {
            raw = smp.image;
            smp.image.data = NULL;
            tassl_sample_free(&smp);
        }
    }
    if (st != TASSL_OK) return st;
    if ((st = check_size(s, &raw, "sample")) != TASSL_OK) goto done;
    const size_t numel = (size_t)s->sample_numel;
    for (int v = 0; v < s->all.views; v++) {
        if ((st = copy_image(&raw, &img)) != TASSL_OK) goto done;
        tassl_aug_sample as = {.image = &img};
        st = tassl_aug_apply(&d->view_cfg, &as, d->seed ^ mix64(VIEW_SEED_MIX * (uint64_t)(v + 1)),
                             index, epoch, NULL);
        if (st == TASSL_OK) st = check_size(s, &img, "augmented view");
        if (st == TASSL_OK) memcpy(d->view[v] + (size_t)j * numel, img.data, numel * sizeof(float));
        tassl_image_free(&img);
        if (st != TASSL_OK) goto done;
    }
    if (s->all.clean || d->ncustom > 0) {
        tassl_aug_sample as = {.image = &raw};
        if ((st = tassl_aug_apply(&d->clean_cfg, &as, d->seed, index, epoch, NULL)) != TASSL_OK)
            goto done;
        if (d->clean) memcpy(d->clean + (size_t)j * numel, raw.data, numel * sizeof(float));
        tassl_ssl_sample smp = {.clean = &raw, .seed = d->seed, .index = index, .epoch = epoch};
        for (int m = 0; m < s->nmembers && st == TASSL_OK; m++) {
            ssl_member *mb = &s->mem[m];
            if (mb->in.ncustom == 0) continue;
            float *outs[TASSL_SSL_MAX_CUSTOM];
            for (int k = 0; k < mb->in.ncustom; k++) {
                int c = mb->custom_base + k;
                outs[k] = d->custom[c] + (size_t)j * (size_t)d->custom_numel[c];
            }
            st = mb->m->prepare(mb->state, &smp, outs);
            if (st != TASSL_OK)
                st = ssl_wrap(st, "method %s: preparing sample %llu", mb->m->name,
                              (unsigned long long)index);
        }
    }
done:
    tassl_image_free(&raw);
    return st;
}

static void *worker(void *arg) {
    job *jb = arg;
    for (int64_t j = jb->tid; j < jb->n; j += jb->nthreads) {
        tassl_status st = one_sample(jb->s, j, jb->index[j], jb->epoch[j]);
        if (st != TASSL_OK) {
            jb->st = st;
            snprintf(jb->msg, sizeof jb->msg, "%s", tassl_last_error());
            break;
        }
    }
    return NULL;
}

tassl_status ssl_data_fill(tassl_ssl *s, int64_t step) {
    ssl_data *d = &s->data;
    int64_t n = s->env.batch, first = step * n;
    uint64_t *index = malloc((size_t)n * 2 * sizeof(uint64_t));
    if (!index) return tassl_error(TASSL_ERR_NOMEM, "data: out of host memory");
    uint64_t *epoch = index + n;
    for (int64_t j = 0; j < n; j++) {
        uint64_t g = (uint64_t)(first + j);
        if (d->source == SSL_SRC_SYNTHETIC) {
            uint64_t len = (uint64_t)d->synth_train;
            index[j] = len ? g % len : g;
            epoch[j] = len ? g / len : 0;
        } else {
            epoch[j] = g / (uint64_t)d->ds_len;
            const int64_t *p = perm_of(d, (int64_t)epoch[j]);
            if (!p) {
                free(index);
                return tassl_error(TASSL_ERR_NOMEM, "data: out of host memory");
            }
            index[j] = (uint64_t)p[g % (uint64_t)d->ds_len];
        }
    }
    int nt = d->threads < 1 ? 1 : d->threads;
    if (nt > n) nt = (int)n;
    job jobs[256];
    pthread_t th[256];
    bool started[256] = {0};
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){.s = s,
                        .n = n,
                        .first = first,
                        .index = index,
                        .epoch = epoch,
                        .tid = t,
                        .nthreads = nt};
        if (t > 0 && d->threads > 0)
            started[t] = pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    }
    /* the calling thread takes share 0 and any share a thread could not be started for */
    for (int t = 0; t < nt; t++)
        if (!started[t]) worker(&jobs[t]);
    for (int t = 0; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    free(index);
    for (int t = 0; t < nt; t++)
        if (jobs[t].st != TASSL_OK) return tassl_error(jobs[t].st, "%s", jobs[t].msg);
    return TASSL_OK;
}
