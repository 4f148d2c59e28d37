/* finetune.c — the downstream-task driver behind `tassl finetune` and `tassl eval`
 * (include/tassl/task.h; how it runs a task kind is written out in task_internal.h).
 *
 * tassl_finetune: configuration → labelled subset of the manifest's training split
 * (tassl_label_subset) → training dataset, device, encoder (the pretraining builder, so a
 * pretrained checkpoint fits) + the task's head, seeded initialisation, task.init's encoder.*,
 * freezing for the frozen-feature protocols → optimiser (encoder at optim.lr ×
 * task.encoder_lr_mult) → step loop (progress, metrics.jsonl, checkpoints) → evaluation of
 * task.eval_split by the task kind → eval.json and predictions/. tassl_task_evaluate rebuilds the
 * same model from a run's configuration, loads every parameter of its checkpoint and evaluates
 * another manifest or split.
 *
 * Determinism: weights from tassl_rng_seed(seed) in a fixed declaration order, the subset from
 * task.label_seed, batches from the loader's (seed, epoch, index) streams, evaluation samples
 * from (seed, index): a run is a function of its configuration (bit for bit on the reference
 * backend). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "tassl/autograd.h"
#include "tassl/checkpoint.h"
#include "tassl/eval.h"
#include "tassl/ops.h"
#include "tassl/optim.h"
#include "tassl/run.h"
#include "task_internal.h"

#define EVAL_SEED_MIX 0xe5a1c0de5eed0001ULL

typedef struct ft {
    tassl_config *cfg; /* own copy, task.num_classes resolved */
    const task_ops *ops;
    void *state;
    task_env env;
    tassl_device *dev;
    tassl_ctx *ctx;
    tassl_params *p;
    tassl_encoder *enc;
    tassl_manifest m;   /* data.path */
    tassl_manifest sub; /* its labelled training subset */
    bool have_m, have_sub;
    int nsubjects;
    tassl_dataset *train;
    tassl_aug_config aug; /* training transform */
    tassl_optim *opt;
    tassl_schedule sched;
    tassl_ckpt *ck;
    tassl_run *run;
} ft;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

tassl_status task_wrap(tassl_status s, const char *fmt, ...) {
    char prev[2048], pre[512];
    snprintf(prev, sizeof prev, "%s", tassl_last_error());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    return tassl_error(s, "%s: %s", pre, prev);
}

/* ---- helpers the tasks use (task_internal.h) ------------------------------------------------ */

tassl_status task_eval_sample(const task_env *env, tassl_dataset *ds, int64_t index,
                              tassl_sample *s) {
    tassl_status st =
        tassl_dataset_get(ds, index, tassl_sample_seed(env->seed ^ EVAL_SEED_MIX, 0, index), s);
    if (st != TASSL_OK) return st;
    tassl_aug_sample as = {.image = &s->image};
    st = tassl_aug_apply(&env->norm, &as, env->seed ^ EVAL_SEED_MIX, (uint64_t)index, 0, NULL);
    if (st != TASSL_OK) tassl_sample_free(s);
    return st;
}

tassl_tensor *task_input(const task_env *env, const float *x, int64_t n) {
    const int64_t *sm = env->sample;
    return env->dims == 2
               ? tassl_from_host(env->ctx, TASSL_SHAPE(n, sm[0], sm[2], sm[3]), x)
               : tassl_from_host(env->ctx, TASSL_SHAPE(n, sm[0], sm[1], sm[2], sm[3]), x);
}

void task_csv_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

struct task_index {
    FILE *f;
    char path[4096], tmp[4112];
};

tassl_status task_index_open(const char *pred_dir, task_index **out) {
    *out = NULL;
    task_index *ix = calloc(1, sizeof *ix);
    if (!ix) return tassl_error(TASSL_ERR_NOMEM, "index.csv: out of memory");
    snprintf(ix->path, sizeof ix->path, "%s/index.csv", pred_dir);
    snprintf(ix->tmp, sizeof ix->tmp, "%s.tmp", ix->path);
    if (!(ix->f = fopen(ix->tmp, "w"))) {
        tassl_status s =
            tassl_error(TASSL_ERR_IO, "%s: cannot be written: %s", ix->tmp, strerror(errno));
        free(ix);
        return s;
    }
    fputs("record,image,truth,prediction\n", ix->f);
    *out = ix;
    return TASSL_OK;
}

void task_index_row(task_index *ix, int record, const char *image, const char *truth,
                    const char *pred) {
    fprintf(ix->f, "%d,", record);
    task_csv_field(ix->f, image);
    fputc(',', ix->f);
    task_csv_field(ix->f, truth);
    fputc(',', ix->f);
    task_csv_field(ix->f, pred);
    fputc('\n', ix->f);
}

tassl_status task_index_close(task_index *ix) {
    if (!ix) return TASSL_OK;
    bool bad = ferror(ix->f) != 0;
    bad = fclose(ix->f) != 0 || bad;
    tassl_status s = TASSL_OK;
    if (bad || rename(ix->tmp, ix->path) != 0) {
        remove(ix->tmp);
        s = tassl_error(TASSL_ERR_IO, "%s: write failed", ix->path);
    }
    free(ix);
    return s;
}

/* mkdir -p */
static tassl_status make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return tassl_error(TASSL_ERR_IO, "%s: cannot create the directory: %s", buf,
                                   strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return TASSL_OK;
}

/* ---- configuration -------------------------------------------------------------------------- */

static tassl_status parse_kind(const tassl_config *c, tassl_task_kind *k) {
    const char *v = tassl_config_str(c, "task.kind");
    for (int i = 0; i <= TASSL_TASK_DETECTION; i++)
        if (strcmp(v, tassl_task_kind_name((tassl_task_kind)i)) == 0) {
            *k = (tassl_task_kind)i;
            return TASSL_OK;
        }
    return tassl_error(TASSL_ERR_ARG, "task.kind: unknown '%s'", v);
}

/* Augmentation fields "field=value" of a string-list key over cfg. */
static tassl_status apply_sets(tassl_aug_config *a, const tassl_config *c, const char *key) {
    for (int i = 0; i < tassl_config_list_len(c, key); i++) {
        const char *kv = tassl_config_list_str(c, key, i);
        const char *eq = strchr(kv, '=');
        char field[64];
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof field)
            return tassl_error(TASSL_ERR_ARG, "%s[%d]: '%s' is not field=value", key, i, kv);
        memcpy(field, kv, (size_t)(eq - kv));
        field[eq - kv] = 0;
        tassl_status s = tassl_aug_config_set(a, field, eq + 1);
        if (s != TASSL_OK) return task_wrap(s, "%s[%d]", key, i);
    }
    return TASSL_OK;
}

/* Evaluation input = the preset's normalisation; training = that + task.aug (+ task.aug_set). */
static tassl_status build_transforms(ft *t) {
    const tassl_config *c = t->cfg;
    tassl_aug_config pre;
    tassl_status s = tassl_aug_preset(tassl_config_str(c, "data.aug.preset"), &pre);
    if (s != TASSL_OK) return task_wrap(s, "data.aug.preset");
    /* data.aug.set as pretraining applies it (e.g. norm_scope=image); only the normalisation
     * fields of the result are used here */
    if ((s = apply_sets(&pre, c, "data.aug.set")) != TASSL_OK) return s;
    if ((s = tassl_aug_config_validate(&pre)) != TASSL_OK) return task_wrap(s, "data.aug.set");
    tassl_aug_config *n = &t->env.norm;
    tassl_aug_config_default(n);
    n->norm = pre.norm;
    memcpy(n->norm_window, pre.norm_window, sizeof n->norm_window);
    memcpy(n->norm_percentiles, pre.norm_percentiles, sizeof n->norm_percentiles);
    n->norm_nonzero = pre.norm_nonzero;
    n->norm_scale = pre.norm_scale;
    n->norm_scope = pre.norm_scope;
    t->aug = *n;
    if (strcmp(tassl_config_str(c, "task.aug"), "mild") == 0) {
        /* mild: the preset's flips, light intensity jitter; no crops (the sample keeps its size,
         * masks and boxes stay aligned), no elastic or affine warps */
        memcpy(t->aug.flip_p, pre.flip_p, sizeof t->aug.flip_p);
        t->aug.brightness_p = 0.2f;
        t->aug.contrast_p = 0.2f;
        t->aug.noise_p = 0.2f;
        memcpy(t->aug.brightness_range, pre.brightness_range, sizeof t->aug.brightness_range);
        memcpy(t->aug.contrast_range, pre.contrast_range, sizeof t->aug.contrast_range);
        memcpy(t->aug.noise_std, pre.noise_std, sizeof t->aug.noise_std);
    }
    if ((s = apply_sets(&t->aug, c, "task.aug_set")) != TASSL_OK) return s;
    if ((s = tassl_aug_config_validate(&t->aug)) != TASSL_OK) return task_wrap(s, "task.aug_set");
    return TASSL_OK;
}

/* Sample size from data.patch: (D, H, W), D = 1 in 2D. */
static tassl_status patch_of(const tassl_config *c, int dims, int64_t sz[3]) {
    int np = tassl_config_list_len(c, "data.patch");
    if (np != 1 && np != dims)
        return tassl_error(TASSL_ERR_ARG,
                           "data.patch: %d values for a %dD model (give %s or one value)", np, dims,
                           dims == 2 ? "[H, W]" : "[D, H, W]");
    sz[0] = 1;
    for (int a = 0; a < dims; a++)
        sz[3 - dims + a] = tassl_config_list_int(c, "data.patch", np == 1 ? 0 : a);
    return TASSL_OK;
}

static tassl_dataset_opts dataset_opts(const ft *t, bool training) {
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = t->env.dims;
    o.axis = (int)tassl_config_int(t->cfg, "data.axis");
    o.patch[0] = t->env.sample[1];
    o.patch[1] = t->env.sample[2];
    o.patch[2] = t->env.sample[3];
    o.samples_per_image = training ? (int)tassl_config_int(t->cfg, "data.samples_per_image") : 1;
    o.channels = (int)t->env.sample[0];
    /* norm_scope image: each record's whole image normalised once (the transforms skip it) */
    if (t->env.norm.norm_scope == TASSL_NORM_SCOPE_IMAGE) o.image_norm = &t->env.norm;
    if (t->ops->dataset_opts) t->ops->dataset_opts(&t->env, training, &o);
    return o;
}

static tassl_status read_manifest(const char *path, tassl_manifest *m) {
    if (!path || !*path)
        return tassl_error(TASSL_ERR_ARG,
                           "data.path: the downstream tasks need a labelled manifest (data.source "
                           "manifest, data.path CSV)");
    tassl_status s = tassl_manifest_read(m, path, NULL);
    return s == TASSL_OK ? s : task_wrap(s, "data.path");
}

/* The labelled subset of the training split as a manifest of its own. */
static tassl_status make_subset(ft *t) {
    const tassl_config *c = t->cfg;
    int *rows = NULL, nrows = 0;
    tassl_status s = tassl_label_subset(
        &t->m, TASSL_SPLIT_TRAIN, tassl_config_float(c, "task.label_fraction"),
        (int)tassl_config_int(c, "task.shots"), (uint64_t)tassl_config_int(c, "task.label_seed"),
        &rows, &nrows, &t->nsubjects);
    if (s != TASSL_OK) return s;
    memset(&t->sub, 0, sizeof t->sub);
    snprintf(t->sub.source, sizeof t->sub.source, "%s", t->m.source);
    snprintf(t->sub.root, sizeof t->sub.root, "%s", t->m.root);
    t->have_sub = true;
    for (int i = 0; i < nrows && s == TASSL_OK; i++)
        s = tassl_manifest_add(&t->sub, &t->m.rec[rows[i]]);
    free(rows);
    return s;
}

/* Classes: task.num_classes, else from the data (see task_internal.h). */
static tassl_status count_classes(ft *t, int *k) {
    int64_t given = tassl_config_int(t->cfg, "task.num_classes");
    if (given > 0) {
        *k = (int)given;
        return TASSL_OK;
    }
    const tassl_manifest *m = &t->m;
    int n = 0;
    switch (t->env.kind) {
    case TASSL_TASK_CLASSIFICATION:
        n = m->nclasses;
        break;
    case TASSL_TASK_DETECTION:
        for (int i = 0; i < m->n; i++)
            for (int b = 0; b < m->rec[i].nboxes; b++)
                if (m->rec[i].boxes[b].label + 1 > n) n = m->rec[i].boxes[b].label + 1;
        break;
    case TASSL_TASK_SEGMENTATION:
        for (int i = 0; i < t->sub.n; i++) {
            if (!t->sub.rec[i].mask) continue;
            tassl_image im;
            tassl_status s = tassl_image_read(t->sub.rec[i].mask, NULL, &im, NULL);
            if (s != TASSL_OK) return task_wrap(s, "counting the mask labels");
            int64_t nv = (int64_t)im.channels * tassl_image_voxels(&im);
            for (int64_t v = 0; v < nv; v++)
                if (im.data[v] + 1 > (float)n) n = (int)im.data[v] + 1;
            tassl_image_free(&im);
        }
        break;
    }
    /* detection counts box classes (one is fine); the others need two, background included */
    int least = t->env.kind == TASSL_TASK_DETECTION ? 1 : 2;
    if (n < least)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: the data give %d class(es) for %s, which needs at least %d (set "
                           "task.num_classes)",
                           m->source, n, tassl_task_kind_name(t->env.kind), least);
    *k = n;
    return TASSL_OK;
}

/* The data a kind needs must be in the manifest. */
static tassl_status check_columns(const ft *t) {
    const tassl_manifest *m = &t->m;
    const char *need = NULL;
    if (t->env.kind == TASSL_TASK_CLASSIFICATION && !m->has_label) need = "label";
    if (t->env.kind == TASSL_TASK_SEGMENTATION && !m->has_mask) need = "mask";
    if (t->env.kind == TASSL_TASK_DETECTION && !m->has_boxes) need = "boxes";
    if (need)
        return tassl_error(TASSL_ERR_ARG, "%s: %s needs a '%s' column in the manifest", m->source,
                           tassl_task_kind_name(t->env.kind), need);
    return TASSL_OK;
}

static void ft_free(ft *t) {
    if (t->ops && t->state) t->ops->destroy(t->state);
    tassl_ckpt_free(t->ck);
    tassl_optim_free(t->opt);
    tassl_encoder_free(t->enc);
    tassl_params_free(t->p);
    tassl_dataset_close(t->train);
    if (t->have_sub) tassl_manifest_free(&t->sub);
    if (t->have_m) tassl_manifest_free(&t->m);
    tassl_ctx_free(t->ctx);
    tassl_device_free(t->dev);
    tassl_run_close(t->run);
    tassl_config_free(t->cfg);
    memset(t, 0, sizeof *t);
}

/* Everything up to an initialised model: configuration checks, the labelled subset and the
 * training dataset (when need_train), device, encoder + head, seeded init. No file written. */
static tassl_status ft_setup(ft *t, const tassl_config *cfg, bool need_train, bool quiet) {
    tassl_status s = tassl_task_register_config();
    if (s != TASSL_OK) return s;
    if ((s = tassl_config_copy(cfg, &t->cfg)) != TASSL_OK) return s;
    const tassl_config *c = t->cfg;
    task_env *e = &t->env;
    if ((s = parse_kind(c, &e->kind)) != TASSL_OK) return s;
    if (!(t->ops = task_ops_of(e->kind)))
        return tassl_error(TASSL_ERR_ARG, "task.kind: %d is not a task kind", (int)e->kind);
    snprintf(e->protocol, sizeof e->protocol, "%s", tassl_config_str(c, "task.protocol"));
    bool cls = e->kind == TASSL_TASK_CLASSIFICATION;
    if (!cls && (strcmp(e->protocol, "linear") == 0 || strcmp(e->protocol, "knn") == 0))
        return tassl_error(TASSL_ERR_ARG,
                           "task.protocol: %s is a classification protocol; %s takes finetune "
                           "or frozen",
                           e->protocol, tassl_task_kind_name(e->kind));
    e->frozen = strcmp(e->protocol, "finetune") != 0;
    e->cfg = c;
    e->quiet = quiet;
    e->seed = (uint64_t)tassl_config_int(c, "seed");
    e->batch = tassl_config_int(c, "train.batch_size");
    e->dims = (int)tassl_config_int(c, "model.dims");
    const char *src = tassl_config_str(c, "data.source");
    if (strcmp(src, "manifest") != 0)
        return tassl_error(TASSL_ERR_ARG,
                           "data.source: %s, but the downstream tasks read a labelled manifest "
                           "(set data.source: manifest and data.path)",
                           src);
    int64_t sz[3];
    if ((s = patch_of(c, e->dims, sz)) != TASSL_OK) return s;
    e->sample[0] = tassl_config_int(c, "model.in_channels");
    memcpy(e->sample + 1, sz, sizeof sz);
    if ((s = build_transforms(t)) != TASSL_OK) return s;

    /* classes: resolved in the run's config.yaml, so evaluation needs no training data */
    int64_t given = tassl_config_int(c, "task.num_classes");
    need_train = need_train || given == 0;
    if (need_train) {
        if ((s = read_manifest(tassl_config_str(c, "data.path"), &t->m)) != TASSL_OK) return s;
        t->have_m = true;
        if ((s = check_columns(t)) != TASSL_OK) return s;
        if ((s = make_subset(t)) != TASSL_OK) return s;
        if ((s = count_classes(t, &e->nclasses)) != TASSL_OK) return s;
        char kv[64];
        snprintf(kv, sizeof kv, "task.num_classes=%d", e->nclasses);
        if ((s = tassl_config_set(t->cfg, kv)) != TASSL_OK) return s;
        tassl_dataset_opts o = dataset_opts(t, true);
        o.split = TASSL_SPLIT_NONE; /* the subset's records are all training records */
        if ((s = tassl_dataset_open(&t->train, &t->sub, &o)) != TASSL_OK)
            return task_wrap(s, "training data");
        int64_t shape[4];
        if ((s = tassl_dataset_shape(t->train, shape)) != TASSL_OK) return s;
        if (shape[0] != e->sample[0])
            return tassl_error(TASSL_ERR_ARG,
                               "model.in_channels: %lld, but the data (%s) has %lld channel(s)",
                               (long long)e->sample[0], t->m.source, (long long)shape[0]);
        memcpy(e->sample, shape, sizeof shape);
    } else {
        e->nclasses = (int)given;
        /* the training sample size as the training dataset options give it */
        tassl_dataset_opts o = dataset_opts(t, true);
        for (int a = 0; a < 3; a++)
            if (o.patch[a] > 0) e->sample[1 + a] = o.patch[a];
    }

    /* the model: encoder.* then head.*, seeded */
    const char *spec = tassl_config_str(c, "device");
    if ((s = tassl_device_open(spec, &t->dev)) != TASSL_OK)
        return task_wrap(s, "device");
    if (!(t->ctx = tassl_ctx_new(t->dev)) || !(t->p = tassl_params_new(t->ctx)))
        return tassl_error(TASSL_ERR_NOMEM, "finetune: out of memory");
    tassl_rng_seed(t->ctx, e->seed);
    e->ctx = t->ctx;
    e->params = t->p;
    if ((s = tassl_encoder_new(t->p, c, e->sample + 1, &t->enc)) != TASSL_OK) return s;
    e->encoder = t->enc;
    if ((s = t->ops->create(e, &t->state)) != TASSL_OK)
        return task_wrap(s, "%s head", tassl_task_kind_name(e->kind));
    if ((s = tassl_params_finalize(t->p)) != TASSL_OK) return s;
    if ((s = tassl_encoder_init(t->enc)) != TASSL_OK) return s;
    if ((s = t->ops->init(t->state)) != TASSL_OK) return s;
    if (e->frozen) /* no tape, no gradient into the encoder */
        for (int i = 0; i < tassl_params_count(t->p); i++) {
            tassl_tensor *w = tassl_params_get(t->p, i);
            if (strncmp(w->name, "encoder.", 8) == 0 && !tassl_params_is_buffer(t->p, i))
                tassl_requires_grad_(w, false);
        }
    return TASSL_OK;
}

/* task.init: encoder.* from a checkpoint file or a run directory's newest checkpoint. */
static tassl_status load_init(ft *t, char *path, size_t len) {
    const char *init = tassl_config_str(t->cfg, "task.init");
    *path = 0;
    if (!*init) return TASSL_OK;
    tassl_status s = tassl_ckpt_latest(init, path, len);
    if (s != TASSL_OK) return task_wrap(s, "task.init");
    if ((s = tassl_eval_load_encoder(t->p, path)) != TASSL_OK)
        return task_wrap(s,
                         "task.init: %s does not fit this encoder (model.* must match the "
                         "pretraining run's)",
                         path);
    return TASSL_OK;
}

/* ---- training ------------------------------------------------------------------------------- */

static tassl_status train_transform(void *user, tassl_sample *s, tassl_sample_out *out,
                                    uint64_t seed, int64_t index, int64_t epoch) {
    const ft *t = user;
    tassl_aug_sample as = {.image = &s->image,
                           .label = s->mask.data ? &s->mask : NULL,
                           .boxes = s->boxes,
                           .n_boxes = s->nboxes};
    tassl_status st = tassl_aug_apply(&t->aug, &as, seed, (uint64_t)index, (uint64_t)epoch, NULL);
    if (st != TASSL_OK) return st;
    s->nboxes = as.n_boxes;
    const int64_t *sm = t->env.sample;
    if (s->image.channels != sm[0] || s->image.d != sm[1] || s->image.h != sm[2] ||
        s->image.w != sm[3])
        return tassl_error(TASSL_ERR_ARG,
                           "training augmentation: the sample became (%d, %lld, %lld, %lld), the "
                           "batch needs (%lld, %lld, %lld, %lld): no crops in task.aug_set",
                           s->image.channels, (long long)s->image.d, (long long)s->image.h,
                           (long long)s->image.w, (long long)sm[0], (long long)sm[1],
                           (long long)sm[2], (long long)sm[3]);
    memcpy(out->view[0], s->image.data, sizeof(float) * (size_t)(sm[0] * sm[1] * sm[2] * sm[3]));
    return TASSL_OK;
}

static tassl_status save(ft *t, int64_t step) {
    char path[4096];
    tassl_status s = tassl_ckpt_set_meta_int(t->ck, "step", step);
    if (s == TASSL_OK)
        s = tassl_ckpt_save_in_dir(t->ck, tassl_run_dir(t->run), step,
                                   (int)tassl_config_int(t->cfg, "train.keep_last"), path,
                                   sizeof path);
    if (s == TASSL_OK) tassl_run_log(t->run, "checkpoint %s", path);
    return s;
}

#define MAXPARTS 4

static tassl_status train_loop(ft *t, int64_t total) {
    const tassl_config *c = t->cfg;
    const int64_t log_every = tassl_config_int(c, "output.log_every");
    const int64_t ckpt_every = tassl_config_int(c, "train.ckpt_every");
    const float clip = (float)tassl_config_float(c, "optim.grad_clip");
    int64_t len = tassl_dataset_len(t->train);
    tassl_loader_opts lo = tassl_loader_opts_default();
    lo.batch = (int)(t->env.batch < len ? t->env.batch : len);
    lo.threads = (int)tassl_config_int(c, "data.threads");
    lo.seed = t->env.seed ^ 0x7a51f17e7a51f17eULL;
    lo.drop_last = 1;
    lo.transform = train_transform;
    lo.transform_user = t;
    tassl_loader *ld = NULL;
    tassl_status s = tassl_loader_open(&ld, t->train, &lo);
    if (s != TASSL_OK) return task_wrap(s, "training loader");
    int64_t epoch = 0;
    if ((s = tassl_loader_start(ld, epoch)) != TASSL_OK) {
        tassl_loader_close(ld);
        return s;
    }
    double lsum = 0, psum[MAXPARTS] = {0}, t_int = now_s();
    const char *pname[MAXPARTS] = {0};
    int npart = 0;
    int64_t nint = 0;
    for (int64_t step = 0; step < total && s == TASSL_OK; step++) {
        const int64_t done = step + 1;
        const tassl_batch *b;
        int end = 0;
        if ((s = tassl_loader_next(ld, &b, &end)) == TASSL_OK && end) {
            if ((s = tassl_loader_start(ld, ++epoch)) == TASSL_OK)
                s = tassl_loader_next(ld, &b, &end);
        }
        if (s != TASSL_OK) break;
        double lr = tassl_schedule_lr(&t->sched, step);
        tassl_metric parts[MAXPARTS];
        int np = 0;
        tassl_scope_begin(t->ctx);
        tassl_params_zero_grad(t->p);
        tassl_tensor *loss = t->ops->loss(t->state, &t->env, b, parts, &np);
        float lv = NAN;
        if (!loss) {
            s = tassl_ctx_status(t->ctx) ? tassl_ctx_status(t->ctx) : TASSL_ERR_ARG;
        } else {
            s = tassl_backward(loss);
            lv = tassl_item(loss);
        }
        if (s == TASSL_OK && isfinite(lv)) {
            if (clip > 0) s = tassl_optim_clip_grad_norm(t->opt, clip, NULL);
            if (s == TASSL_OK) s = tassl_optim_step(t->opt, lr);
        }
        uint64_t mem = tassl_device_pool_stats(t->dev).bytes_in_use;
        tassl_scope_end(t->ctx);
        if (s == TASSL_OK) s = tassl_ctx_status(t->ctx);
        if (s != TASSL_OK) {
            s = tassl_ctx_status(t->ctx) ? tassl_error(s, "step %lld: %s", (long long)done,
                                                       tassl_ctx_error_message(t->ctx))
                                         : task_wrap(s, "step %lld", (long long)done);
            break;
        }
        if (!isfinite(lv)) {
            s = tassl_error(TASSL_ERR_NUMERIC,
                            "step %lld: the loss is %g; stopped before the optimiser step (lower "
                            "optim.lr (%g) or set optim.grad_clip)",
                            (long long)done, lv, tassl_config_float(c, "optim.lr"));
            break;
        }
        if (np > MAXPARTS) np = MAXPARTS;
        if (step == 0 || np != npart) {
            npart = np;
            memset(psum, 0, sizeof psum);
        }
        for (int k = 0; k < np; k++) {
            pname[k] = parts[k].name;
            psum[k] += parts[k].value;
        }
        lsum += lv;
        nint++;
        double sps = (double)(nint * lo.batch) / (now_s() - t_int + 1e-12);
        tassl_run_progress_lr(t->run, done, total, lsum / (double)nint, lr, sps);
        if (done % log_every == 0 || done == total) {
            tassl_metric losses[1 + MAXPARTS];
            losses[0] = (tassl_metric){"loss", lsum / (double)nint};
            for (int k = 0; k < npart; k++)
                losses[1 + k] = (tassl_metric){pname[k], psum[k] / (double)nint};
            tassl_run_record rec = {
                .step = done,
                .epoch = (double)(done * lo.batch) / (double)len,
                .nlosses = 1 + npart,
                .losses = losses,
                .lr = lr,
                .samples_per_s = sps,
                .mem_bytes = mem,
                .mem_peak_bytes = tassl_device_pool_stats(t->dev).peak_in_use,
            };
            if ((s = tassl_run_metrics(t->run, &rec)) != TASSL_OK) break;
            lsum = 0, nint = 0, t_int = now_s();
            memset(psum, 0, sizeof psum);
        }
        if ((ckpt_every > 0 && done % ckpt_every == 0) || done == total) s = save(t, done);
    }
    tassl_loader_close(ld);
    return s;
}

/* ---- evaluation ----------------------------------------------------------------------------- */

/* Evaluate split `split` of manifest m; predictions under out_dir/predictions when out_dir. */
static tassl_status evaluate(ft *t, const tassl_manifest *m, int split, const char *out_dir,
                             tassl_task_result *r) {
    tassl_dataset_opts o = dataset_opts(t, false);
    o.split = split;
    tassl_dataset *ds = NULL;
    tassl_status s = tassl_dataset_open(&ds, m, &o);
    if (s != TASSL_OK) return task_wrap(s, "evaluation data");
    if (tassl_dataset_records(ds) < 1) {
        tassl_dataset_close(ds);
        return tassl_error(TASSL_ERR_ARG, "%s: no record is in split '%s' (task.eval_split)",
                           m->source, tassl_split_name((tassl_split)split));
    }
    char pred[4096];
    const char *pd = NULL;
    if (out_dir) {
        snprintf(pred, sizeof pred, "%s/predictions", out_dir);
        if ((s = make_dirs(pred)) != TASSL_OK) {
            tassl_dataset_close(ds);
            return s;
        }
        pd = pred;
    }
    double t0 = now_s();
    s = t->ops->evaluate(t->state, &t->env, ds, pd, r);
    r->eval_s = now_s() - t0;
    snprintf(r->split, sizeof r->split, "%s", tassl_split_name((tassl_split)split));
    r->mem_peak_bytes = tassl_device_pool_stats(t->dev).peak_in_use;
    tassl_dataset_close(ds);
    if (s == TASSL_OK) s = tassl_ctx_status(t->ctx);
    return s == TASSL_OK ? s : task_wrap(s, "evaluating %s", tassl_split_name((tassl_split)split));
}

static int split_of(const char *name) {
    return strcmp(name, "train") == 0  ? TASSL_SPLIT_TRAIN
           : strcmp(name, "val") == 0  ? TASSL_SPLIT_VAL
           : strcmp(name, "test") == 0 ? TASSL_SPLIT_TEST
                                       : TASSL_SPLIT_NONE;
}

static void log_result(ft *t, const tassl_task_result *r) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%s (%lld samples):", r->split, (long long)r->samples);
    for (int i = 0; i < r->n && n < (int)sizeof line - 40; i++)
        if (!strchr(r->name[i], '/'))
            n += snprintf(line + n, sizeof line - (size_t)n, " %s %.4f", r->name[i], r->value[i]);
    tassl_run_log(t->run, "%s", line);
}

tassl_status tassl_finetune(const tassl_config *cfg, const tassl_finetune_opts *opts,
                            tassl_task_result *out) {
    tassl_finetune_opts dflt = tassl_finetune_opts_default();
    if (!opts) opts = &dflt;
    ft t = {0};
    tassl_task_result r;
    memset(&r, 0, sizeof r);
    char init[4096] = "";
    /* everything the configuration builds comes first: a bad value creates no run directory */
    tassl_status s = ft_setup(&t, cfg, true, opts->quiet);
    if (s == TASSL_OK) s = load_init(&t, init, sizeof init);
    int64_t total = tassl_config_int(t.cfg ? t.cfg : cfg, "train.steps");
    if (s == TASSL_OK && t.ops->prepare) {
        s = t.ops->prepare(t.state, &t.env, t.train, &total);
        if (s != TASSL_OK)
            s = task_wrap(s, "preparing the %s task", tassl_task_kind_name(t.env.kind));
    }
    if (s == TASSL_OK) {
        /* no training (kNN): any valid horizon; the optimiser is only bound to the checkpoint */
        int64_t horizon = total > 0 ? total : tassl_config_int(t.cfg, "schedule.warmup_steps") + 1;
        s = tassl_optim_from_config(t.cfg, t.p, horizon, &t.opt, &t.sched);
        double mult = t.env.frozen ? 0.0 : tassl_config_float(t.cfg, "task.encoder_lr_mult");
        if (s == TASSL_OK && mult != 1.0) s = tassl_optim_set_lr_mult(t.opt, "encoder.*", mult);
    }
    char *cfg_text = s == TASSL_OK ? tassl_config_to_string(t.cfg) : NULL;
    if (s == TASSL_OK && (!(t.ck = tassl_ckpt_new()) || !cfg_text))
        s = tassl_error(TASSL_ERR_NOMEM, "finetune: out of memory");
    if (s == TASSL_OK) s = tassl_ckpt_add_params(t.ck, "", t.p);
    if (s == TASSL_OK) s = tassl_ckpt_add_optim(t.ck, "optimizer.", t.opt);
    if (s == TASSL_OK) s = tassl_ckpt_set_meta(t.ck, "config", cfg_text);
    if (s == TASSL_OK) s = tassl_ckpt_set_meta(t.ck, "task", tassl_task_kind_name(t.env.kind));
    free(cfg_text);
    if (s == TASSL_OK) tassl_ckpt_add_rng(t.ck, t.ctx);
    if (s == TASSL_OK)
        s = tassl_run_open(t.cfg, opts->run_dir, opts->force ? TASSL_RUN_FORCE : TASSL_RUN_NEW,
                           opts->quiet, &t.run);
    if (s != TASSL_OK) {
        ft_free(&t);
        return s;
    }
    const tassl_device_info *di = tassl_device_get_info(t.dev);
    tassl_run_log(t.run, "tassl %s finetune: run %s on %s", tassl_version(), tassl_run_dir(t.run),
                  di->name);
    tassl_run_log_config(t.run, t.cfg);
    tassl_run_log(t.run,
                  "task: %s, protocol %s, %d classes; encoder %s %dD (%lld parameters, "
                  "embedding %lld) from %s; sample (%lld, %lld, %lld, %lld)",
                  tassl_task_kind_name(t.env.kind), t.env.protocol, t.env.nclasses,
                  tassl_config_str(t.cfg, "model.arch"), t.env.dims,
                  (long long)tassl_module_numel(tassl_encoder_module(t.enc), false),
                  (long long)tassl_encoder_embed_dim(t.enc), *init ? init : "scratch",
                  (long long)t.env.sample[0], (long long)t.env.sample[1],
                  (long long)t.env.sample[2], (long long)t.env.sample[3]);
    tassl_run_log(t.run,
                  "labelled subset: %d of the training subjects (%d records; fraction %g, shots "
                  "%lld, label_seed %lld)",
                  t.nsubjects, t.sub.n, tassl_config_float(t.cfg, "task.label_fraction"),
                  (long long)tassl_config_int(t.cfg, "task.shots"),
                  (long long)tassl_config_int(t.cfg, "task.label_seed"));
    double t0 = now_s();
    if (total > 0)
        s = train_loop(&t, total);
    else
        s = save(&t, 0); /* no training (kNN): the model as evaluated */
    r.train_s = now_s() - t0;
    if (s == TASSL_OK && total > 0)
        tassl_run_log(t.run, "trained %lld steps in %.1f s", (long long)total, r.train_s);
    if (s == TASSL_OK) {
        int split = split_of(tassl_config_str(t.cfg, "task.eval_split"));
        s = evaluate(&t, &t.m, split, opts->write_predictions ? tassl_run_dir(t.run) : NULL, &r);
    }
    if (s == TASSL_OK) {
        r.train_labelled = t.sub.n;
        char *path = tassl_run_path(t.run, "eval.json");
        s = path ? tassl_task_result_write(&r, path)
                 : tassl_error(TASSL_ERR_NOMEM, "finetune: out of memory");
        free(path);
    }
    if (s == TASSL_OK) {
        log_result(&t, &r);
        tassl_run_log(t.run, "evaluated in %.1f s; run directory %s", r.eval_s,
                      tassl_run_dir(t.run));
        if (out) *out = r;
    } else {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", tassl_last_error());
        tassl_run_log(t.run, "error: %s", msg);
        tassl_error(s, "%s", msg);
    }
    ft_free(&t);
    return s;
}

/* ---- evaluating a finetuned checkpoint ------------------------------------------------------ */

/* The configuration of a run directory (config.yaml) or of a checkpoint file (its metadata). */
static tassl_status config_of(const char *checkpoint, const char *ckpt_path, tassl_config **out) {
    tassl_status s = tassl_task_register_config();
    if (s != TASSL_OK) return s;
    if ((s = tassl_config_new(out)) != TASSL_OK) return s;
    struct stat sb;
    if (stat(checkpoint, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/config.yaml", checkpoint);
        if ((s = tassl_config_load_file(*out, path)) == TASSL_OK) return s;
    } else {
        tassl_st *st = NULL;
        if ((s = tassl_st_open(ckpt_path, &st)) == TASSL_OK) {
            const char *text = tassl_st_meta(st, "config");
            s = text ? tassl_config_load_string(*out, text, ckpt_path)
                     : tassl_error(TASSL_ERR_FORMAT,
                                   "%s: no \"config\" in the metadata (not a tassl finetune "
                                   "checkpoint)",
                                   ckpt_path);
            tassl_st_close(st);
        }
    }
    if (s != TASSL_OK) {
        tassl_config_free(*out);
        *out = NULL;
    }
    return s;
}

/* Every parameter and buffer of the model from the checkpoint (optimiser state is ignored). */
static tassl_status load_all(ft *t, const char *path) {
    tassl_ckpt *ck = tassl_ckpt_new();
    if (!ck) return tassl_error(TASSL_ERR_NOMEM, "eval: out of memory");
    tassl_status s = tassl_ckpt_add_params(ck, "", t->p);
    tassl_ckpt_load_opts lo = {.strict = false};
    if (s == TASSL_OK) s = tassl_ckpt_read(ck, path, &lo);
    if (s == TASSL_OK) {
        const char *rep = tassl_ckpt_report(ck);
        const char *miss = strstr(rep, "missing:");
        if (miss) {
            char what[1024];
            snprintf(what, sizeof what, "%s", miss);
            char *semi = strchr(what, ';');
            if (semi) *semi = 0;
            s = tassl_error(TASSL_ERR_FORMAT, "%s: not a checkpoint of this model (%s)", path,
                            what);
        }
    }
    tassl_ckpt_free(ck);
    return s;
}

tassl_status tassl_task_evaluate(const tassl_config *cfg, const char *checkpoint,
                                 const char *manifest, const char *split, const char *out_dir,
                                 bool quiet, tassl_task_result *out) {
    if (!checkpoint || !*checkpoint)
        return tassl_error(TASSL_ERR_ARG, "eval: a checkpoint file or run directory is required");
    char path[4096];
    tassl_status s = tassl_ckpt_latest(checkpoint, path, sizeof path);
    if (s != TASSL_OK) return s;
    tassl_config *own = NULL;
    if (!cfg) {
        if ((s = config_of(checkpoint, path, &own)) != TASSL_OK) return s;
        cfg = own;
    }
    ft t = {0};
    tassl_task_result r;
    memset(&r, 0, sizeof r);
    tassl_manifest em;
    bool have_em = false;
    /* the kNN bank is the labelled training subset: only then is the training data needed */
    tassl_task_kind kind = TASSL_TASK_CLASSIFICATION;
    s = tassl_task_register_config();
    if (s == TASSL_OK) s = parse_kind(cfg, &kind);
    bool knn = s == TASSL_OK && strcmp(tassl_config_str(cfg, "task.protocol"), "knn") == 0;
    if (s == TASSL_OK) s = ft_setup(&t, cfg, knn, quiet);
    if (s == TASSL_OK) s = load_all(&t, path);
    if (s == TASSL_OK && t.ops->prepare && t.train)
        s = t.ops->prepare(t.state, &t.env, t.train, NULL);
    const char *mpath =
        manifest && *manifest ? manifest : tassl_config_str(t.cfg ? t.cfg : cfg, "data.path");
    const char *sp =
        split && *split ? split : tassl_config_str(t.cfg ? t.cfg : cfg, "task.eval_split");
    int spi = split_of(sp);
    if (s == TASSL_OK && spi == TASSL_SPLIT_NONE)
        s = tassl_error(TASSL_ERR_ARG, "eval: split '%s' (expected train, val or test)", sp);
    if (s == TASSL_OK) {
        s = tassl_manifest_read(&em, mpath, NULL);
        have_em = s == TASSL_OK;
    }
    if (s == TASSL_OK && out_dir) s = make_dirs(out_dir);
    if (s == TASSL_OK) s = evaluate(&t, &em, spi, out_dir, &r);
    if (s == TASSL_OK && out_dir) {
        char jp[4200];
        snprintf(jp, sizeof jp, "%s/eval.json", out_dir);
        s = tassl_task_result_write(&r, jp);
    }
    if (s == TASSL_OK && !quiet) {
        printf("%s on %s (%s, %lld samples):\n", path, mpath, r.split, (long long)r.samples);
        for (int i = 0; i < r.n; i++)
            printf("  %-24s %.6g\n", r.name[i], r.value[i]);
    }
    if (s == TASSL_OK && out) *out = r;
    if (have_em) tassl_manifest_free(&em);
    ft_free(&t);
    tassl_config_free(own);
    return s;
}
