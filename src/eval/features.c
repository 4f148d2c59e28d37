/* features.c — frozen-encoder evaluation around the kNN classifier: labelled evaluation sets
 * (seeded synthetic phantoms normalised like the pretraining config's clean input, or a
 * dataset), batched feature extraction in eval mode without gradient recording, loading a
 * checkpoint's encoder.*, and the "pretrained vs random initialisation" comparison that the SSL
 * learning tests use (eval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/augment.h"
#include "tassl/checkpoint.h"
#include "tassl/eval.h"
#include "tassl/tassl.h"

void tassl_eval_set_free(tassl_eval_set *s) {
    if (!s) return;
    free(s->images);
    free(s->labels);
    free(s->masks);
    memset(s, 0, sizeof *s);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The clean input's normalisation as the SSL data side builds it: data.aug.preset, then the
 * data.aug.set overrides, and only the normalisation fields of the result. */
static tassl_status clean_config(const tassl_config *cfg, tassl_aug_config *clean) {
    tassl_aug_config v;
    tassl_status s = tassl_aug_preset(tassl_config_str(cfg, "data.aug.preset"), &v);
    if (s != TASSL_OK) return s;
    for (int i = 0; i < tassl_config_list_len(cfg, "data.aug.set"); i++) {
        const char *kv = tassl_config_list_str(cfg, "data.aug.set", i);
        const char *eq = strchr(kv, '=');
        char key[64];
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
            return tassl_error(TASSL_ERR_ARG, "data.aug.set[%d]: '%s' is not field=value", i, kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = 0;
        if ((s = tassl_aug_config_set(&v, key, eq + 1)) != TASSL_OK) return s;
    }
    tassl_aug_config_default(clean);
    clean->norm = v.norm;
    memcpy(clean->norm_window, v.norm_window, sizeof clean->norm_window);
    memcpy(clean->norm_percentiles, v.norm_percentiles, sizeof clean->norm_percentiles);
    clean->norm_nonzero = v.norm_nonzero;
    clean->norm_scale = v.norm_scale;
    return TASSL_OK;
}

tassl_status tassl_eval_synth_set(const tassl_config *cfg, tassl_eval_task task, uint64_t seed,
                                  int64_t first, int64_t n, tassl_eval_set *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || first < 0)
        return tassl_error(TASSL_ERR_ARG, "eval set: %lld cases from %lld", (long long)n,
                           (long long)first);
    if (task != TASSL_EVAL_TASK_LESION && task != TASSL_EVAL_TASK_QUADRANT)
        return tassl_error(TASSL_ERR_ARG, "eval set: unknown task %d", (int)task);
    int dims = (int)tassl_config_int(cfg, "model.dims");
    int np = tassl_config_list_len(cfg, "data.patch");
    if (np != 1 && np != dims)
        return tassl_error(TASSL_ERR_ARG, "data.patch: %d values for a %dD model", np, dims);
    if (tassl_config_int(cfg, "model.in_channels") != 1)
        return tassl_error(TASSL_ERR_ARG,
                           "model.in_channels: %lld, but synthetic phantoms have "
                           "1 channel",
                           (long long)tassl_config_int(cfg, "model.in_channels"));
    int64_t sz[3] = {1, 0, 0};
    for (int a = 0; a < dims; a++) {
        sz[3 - dims + a] = tassl_config_list_int(cfg, "data.patch", np == 1 ? 0 : a);
        if (sz[3 - dims + a] < 16)
            return tassl_error(TASSL_ERR_ARG,
                               "data.patch: synthetic phantoms need at least 16 "
                               "voxels per axis, got %lld",
                               (long long)sz[3 - dims + a]);
    }
    tassl_aug_config norm;
    tassl_status s = clean_config(cfg, &norm);
    if (s != TASSL_OK) return s;
    /* the generator as the SSL data side sets it up (src/ssl/data.c), on another seed */
    tassl_synth_opts so = tassl_synth_opts_default(dims);
    memcpy(so.size, sz, sizeof sz);
    so.seed = seed;
    int64_t side = sz[1] < sz[2] ? sz[1] : sz[2];
    so.radius_min = side >= 48 ? 3.0f : (float)side / 16.0f;
    so.radius_max = side >= 48 ? 8.0f : (float)side / 6.0f;
    if (task == TASSL_EVAL_TASK_QUADRANT) so.lesion_prob = 1, so.max_lesions = 1;
    const int64_t numel = sz[0] * sz[1] * sz[2];
    out->n = n;
    out->sample[0] = 1;
    memcpy(out->sample + 1, sz, sizeof sz);
    out->nclasses = task == TASSL_EVAL_TASK_LESION ? 2 : 4;
    out->images = malloc(sizeof(float) * (size_t)(n * numel));
    out->labels = malloc(sizeof(int32_t) * (size_t)n);
    out->masks = malloc(sizeof(float) * (size_t)(n * numel));
    if (!out->images || !out->labels || !out->masks) {
        tassl_eval_set_free(out);
        return tassl_error(TASSL_ERR_NOMEM, "eval set: out of host memory (%lld cases)",
                           (long long)n);
    }
    for (int64_t i = 0; i < n && s == TASSL_OK; i++) {
        tassl_image img = {0}, mask = {0};
        tassl_box boxes[TASSL_MAX_BOXES];
        int nb = 0, has = 0;
        s = tassl_synth_case(&so, first + i, &img, &mask, boxes, &nb, &has);
        if (s == TASSL_OK)
            for (int64_t v = 0; v < numel; v++)
                out->masks[i * numel + v] = mask.data[v] > 0 ? 1.0f : 0.0f;
        tassl_image_free(&mask);
        if (s != TASSL_OK) break;
        tassl_aug_sample as = {.image = &img};
        s = tassl_aug_apply(&norm, &as, seed, (uint64_t)(first + i), 0, NULL);
        if (s == TASSL_OK) memcpy(out->images + i * numel, img.data, sizeof(float) * (size_t)numel);
        tassl_image_free(&img);
        if (task == TASSL_EVAL_TASK_LESION) {
            out->labels[i] = has ? 1 : 0;
        } else if (nb < 1) {
            s = tassl_error(TASSL_ERR_ARG, "eval set: phantom %lld has no lesion",
                            (long long)(first + i));
        } else {
            float cy = 0.5f * (boxes[0].lo[1] + boxes[0].hi[1]);
            float cx = 0.5f * (boxes[0].lo[2] + boxes[0].hi[2]);
            out->labels[i] = (cy >= 0.5f * (float)sz[1] ? 2 : 0) + (cx >= 0.5f * (float)sz[2]);
        }
    }
    if (s != TASSL_OK) tassl_eval_set_free(out);
    return s;
}

tassl_status tassl_eval_dataset_set(tassl_dataset *ds, int64_t max, uint64_t seed,
                                    tassl_eval_set *out) {
    memset(out, 0, sizeof *out);
    int64_t n = tassl_dataset_len(ds);
    if (max > 0 && max < n) n = max;
    if (n < 1) return tassl_error(TASSL_ERR_ARG, "eval set: the dataset has no sample");
    tassl_status s = tassl_dataset_shape(ds, out->sample);
    if (s != TASSL_OK) return s;
    const int64_t numel = out->sample[0] * out->sample[1] * out->sample[2] * out->sample[3];
    out->n = n;
    out->images = malloc(sizeof(float) * (size_t)(n * numel));
    out->labels = malloc(sizeof(int32_t) * (size_t)n);
    if (!out->images || !out->labels) {
        tassl_eval_set_free(out);
        return tassl_error(TASSL_ERR_NOMEM, "eval set: out of host memory (%lld samples)",
                           (long long)n);
    }
    for (int64_t i = 0; i < n && s == TASSL_OK; i++) {
        tassl_sample smp;
        if ((s = tassl_dataset_get(ds, i, tassl_sample_seed(seed, 0, i), &smp)) != TASSL_OK) break;
        if (smp.label < 0)
            s = tassl_error(TASSL_ERR_ARG,
                            "eval set: sample %lld (manifest record %d) has no label", (long long)i,
                            smp.prov.record);
        else if (smp.image.channels * tassl_image_voxels(&smp.image) != numel)
            s = tassl_error(TASSL_ERR_ARG,
                            "eval set: sample %lld (manifest record %d) has another size",
                            (long long)i, smp.prov.record);
        if (s == TASSL_OK) {
            memcpy(out->images + i * numel, smp.image.data, sizeof(float) * (size_t)numel);
            out->labels[i] = smp.label;
            if (smp.label + 1 > out->nclasses) out->nclasses = smp.label + 1;
        }
        tassl_sample_free(&smp);
    }
    if (s != TASSL_OK) tassl_eval_set_free(out);
    return s;
}

tassl_status tassl_eval_features(tassl_encoder *e, tassl_ctx *ctx, const tassl_eval_set *set,
                                 int64_t batch, float *feats) {
    const int dims = tassl_encoder_dims(e);
    const int64_t *sm = set->sample, D = tassl_encoder_embed_dim(e);
    const int64_t numel = sm[0] * sm[1] * sm[2] * sm[3];
    if (batch < 1) batch = 32;
    if (dims == 2 && sm[1] != 1)
        return tassl_error(TASSL_ERR_ARG, "eval features: a 2D encoder, but samples of depth %lld",
                           (long long)sm[1]);
    tassl_status s = TASSL_OK;
    for (int64_t i = 0; i < set->n && s == TASSL_OK; i += batch) {
        int64_t b = set->n - i < batch ? set->n - i : batch;
        tassl_scope_begin(ctx);
        tassl_no_grad_begin(ctx);
        tassl_tensor *x =
            dims == 2
                ? tassl_from_host(ctx, TASSL_SHAPE(b, sm[0], sm[2], sm[3]), set->images + i * numel)
                : tassl_from_host(ctx, TASSL_SHAPE(b, sm[0], sm[1], sm[2], sm[3]),
                                  set->images + i * numel);
        tassl_tensor *h = x ? tassl_encoder_forward(e, x, false, NULL) : NULL; /* (b, D) */
        if ((s = tassl_ctx_status(ctx)) != TASSL_OK)
            s = tassl_error(s, "eval features: %s", tassl_ctx_error_message(ctx));
        else if (!h || h->ndim != 2 || h->shape[0] != b || h->shape[1] != D)
            s = tassl_error(TASSL_ERR_ARG,
                            "eval features: the encoder gave no (%lld, %lld) "
                            "embedding",
                            (long long)b, (long long)D);
        else
            s = tassl_tensor_read(h, feats + i * D);
        tassl_no_grad_end(ctx);
        tassl_scope_end(ctx);
    }
    return s;
}

tassl_status tassl_eval_load_encoder(tassl_params *p, const char *path) {
    tassl_ckpt *ck = tassl_ckpt_new();
    if (!ck) return tassl_error(TASSL_ERR_NOMEM, "load encoder: out of host memory");
    tassl_status s = tassl_ckpt_add_params(ck, "", p);
    tassl_ckpt_load_opts lo = {.strict = true, .select = "encoder.", .file_prefix = NULL};
    if (s == TASSL_OK) s = tassl_ckpt_read(ck, path, &lo);
    tassl_ckpt_free(ck);
    return s;
}

tassl_knn_compare_opts tassl_knn_compare_opts_default(void) {
    return (tassl_knn_compare_opts){.task = TASSL_EVAL_TASK_LESION,
                                    .ntrain = 192,
                                    .ntest = 128,
                                    .batch = 32,
                                    .knn = tassl_knn_opts_default()};
}

/* kNN of the encoder's features: bank = the first ntrain cases, queries the rest */
static tassl_status knn_of(tassl_encoder *e, tassl_ctx *ctx, const tassl_eval_set *set,
                           const tassl_knn_compare_opts *o, float *f, tassl_knn_result *r) {
    tassl_status s = tassl_eval_features(e, ctx, set, o->batch, f);
    if (s != TASSL_OK) return s;
    int64_t D = tassl_encoder_embed_dim(e);
    tassl_knn_opts k = o->knn;
    if (k.nclasses == 0) k.nclasses = set->nclasses;
    return tassl_knn_evaluate(f, set->labels, o->ntrain, f + o->ntrain * D, set->labels + o->ntrain,
                              o->ntest, D, &k, r);
}

tassl_status tassl_knn_compare_run(const tassl_config *cfg, const tassl_knn_compare_opts *o,
                                   tassl_knn_compare *out) {
    memset(out, 0, sizeof *out);
    if (!o || !o->run_dir || !*o->run_dir)
        return tassl_error(TASSL_ERR_ARG, "knn compare: a run directory is required");
    if (o->ntrain < 1 || o->ntest < 1)
        return tassl_error(TASSL_ERR_ARG, "knn compare: %lld bank and %lld query cases",
                           (long long)o->ntrain, (long long)o->ntest);
    if (strcmp(tassl_config_str(cfg, "data.source"), "synthetic") != 0)
        return tassl_error(TASSL_ERR_ARG,
                           "data.source: %s, but the kNN comparison evaluates on "
                           "synthetic phantoms (set data.source=synthetic)",
                           tassl_config_str(cfg, "data.source"));
    tassl_status s = tassl_ssl_register_config();
    if (s != TASSL_OK) return s;
    if (!o->skip_pretrain) {
        tassl_pretrain_opts po = {
            .run_dir = o->run_dir, .force = true, .quiet = true, .no_signals = true};
        if ((s = tassl_pretrain(cfg, &po)) != TASSL_OK) return s;
        out->steps = po.steps_done;
    }
    char ckpt[4096];
    if ((s = tassl_ckpt_latest(o->run_dir, ckpt, sizeof ckpt)) != TASSL_OK) return s;

    uint64_t seed = (uint64_t)tassl_config_int(cfg, "seed");
    uint64_t eseed = o->eval_seed ? o->eval_seed : mix64(seed ^ 0xe7a1e7a1c0ffee11ULL) | 1;
    tassl_eval_set set;
    if ((s = tassl_eval_synth_set(cfg, o->task, eseed, 0, o->ntrain + o->ntest, &set)) != TASSL_OK)
        return s;
    tassl_device *dev = NULL;
    tassl_ctx *ctx = NULL;
    tassl_ssl *ssl = NULL;
    float *f = NULL;
    const char *spec = tassl_config_str(cfg, "device");
    if ((s = tassl_device_open(spec, &dev)) != TASSL_OK)
        goto done;
    if (!(ctx = tassl_ctx_new(dev))) {
        s = tassl_error(TASSL_ERR_NOMEM, "knn compare: out of memory");
        goto done;
    }
    /* the very initialisation tassl_pretrain started from: same seed, same construction order */
    tassl_rng_seed(ctx, seed);
    if ((s = tassl_ssl_new(cfg, ctx, &ssl)) != TASSL_OK) goto done;
    tassl_encoder *e = tassl_ssl_encoder(ssl);
    f = malloc(sizeof(float) * (size_t)(set.n * tassl_encoder_embed_dim(e)));
    if (!f) {
        s = tassl_error(TASSL_ERR_NOMEM, "knn compare: out of host memory");
        goto done;
    }
    if ((s = knn_of(e, ctx, &set, o, f, &out->random)) != TASSL_OK) goto done;
    if ((s = tassl_eval_load_encoder(tassl_ssl_params(ssl), ckpt)) != TASSL_OK) goto done;
    s = knn_of(e, ctx, &set, o, f, &out->pretrained);
done:
    free(f);
    tassl_ssl_free(ssl);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_eval_set_free(&set);
    return s;
}
