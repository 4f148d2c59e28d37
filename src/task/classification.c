/* classification.c — the classification task kind (task_internal.h's vtable) and its three
 * protocols:
 *   finetune  the encoder + a linear head ("head.weight" (K, D), "head.bias" (K)) trained end to
 *             end with cross-entropy (frozen: the same with the encoder frozen, in eval mode);
 *   linear    the frozen encoder's pooled features of every labelled sample, computed once
 *             without augmentation (prepare), then only the linear head trains on them — each
 *             step a (B, D) upload, no encoder pass;
 *   knn       no training: the labelled features are the bank of tassl_knn_classify (cosine,
 *             k task.knn.k, temperature task.knn.temperature); its vote weights are the scores.
 * Evaluation: every sample of the split in order (normalised, never augmented), batch by batch in
 * eval mode without gradients; softmax scores (finetune, linear) or vote weights (knn); metrics by
 * tassl_cls_metrics_compute: accuracy (primary), balanced_accuracy, macro_f1, macro_auc,
 * auc/<c>, f1/<c>; predictions/predictions.csv and predictions/index.csv (docs/PROTOCOL.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/eval.h"
#include "tassl/nn.h"
#include "tassl/ops.h"
#include "task_internal.h"

typedef enum cls_proto { PROTO_TRAIN = 0, PROTO_LINEAR, PROTO_KNN } cls_proto;

typedef struct cls {
    cls_proto proto;
    tassl_classifier *head; /* NULL for knn */
    int64_t D;              /* embedding width */
    int K;
    float *feats;    /* (nfeat, D) linear: features of the training samples; knn: the bank */
    int32_t *labels; /* (nfeat) */
    int64_t nfeat;
    tassl_knn_opts knn;
} cls;

static tassl_status cls_create(const task_env *env, void **state) {
    cls *c = calloc(1, sizeof *c);
    if (!c) return tassl_error(TASSL_ERR_NOMEM, "classification: out of memory");
    c->proto = strcmp(env->protocol, "linear") == 0 ? PROTO_LINEAR
               : strcmp(env->protocol, "knn") == 0  ? PROTO_KNN
                                                    : PROTO_TRAIN;
    c->D = tassl_encoder_embed_dim(env->encoder);
    c->K = env->nclasses;
    c->knn = tassl_knn_opts_default();
    c->knn.k = (int)tassl_config_int(env->cfg, "task.knn.k");
    c->knn.temperature = (float)tassl_config_float(env->cfg, "task.knn.temperature");
    c->knn.nclasses = c->K;
    tassl_status s = TASSL_OK;
    if (c->proto != PROTO_KNN) s = tassl_classifier_new(env->params, "head", c->D, c->K, &c->head);
    if (s != TASSL_OK) {
        free(c);
        return s;
    }
    *state = c;
    return TASSL_OK;
}

static tassl_status cls_init(void *state) {
    cls *c = state;
    return c->head ? tassl_module_init(tassl_classifier_module(c->head)) : TASSL_OK;
}

static void cls_destroy(void *state) {
    cls *c = state;
    if (!c) return;
    tassl_classifier_free(c->head);
    free(c->feats);
    free(c->labels);
    free(c);
}

/* The label of a sample, checked against the class count. */
static tassl_status check_label(const cls *c, int label, int record, const char *image) {
    if (label >= 0 && label < c->K) return TASSL_OK;
    return tassl_error(TASSL_ERR_ARG,
                       "%s (manifest record %d): label %d, expected a class in [0, %d) "
                       "(task.num_classes)",
                       image ? image : "sample", record, label, c->K);
}

/* Pass every sample of ds through the frozen encoder (and the head unless feats_only) in
 * batches: out (n, D) features or (n, K) softmax scores; labels, records (n). */
static tassl_status forward_all(cls *c, const task_env *env, tassl_dataset *ds, bool feats_only,
                                float **out, int32_t **labels, int **records, int64_t *nout) {
    const int64_t n = tassl_dataset_len(ds), *sm = env->sample;
    const int64_t numel = sm[0] * sm[1] * sm[2] * sm[3], w = feats_only ? c->D : c->K;
    const int64_t B = env->batch > 0 ? env->batch : 32;
    float *x = malloc(sizeof(float) * (size_t)(B * numel));
    *out = malloc(sizeof(float) * (size_t)(n * w));
    *labels = malloc(sizeof(int32_t) * (size_t)n);
    if (records) *records = malloc(sizeof(int) * (size_t)n);
    *nout = n;
    tassl_status s = TASSL_OK;
    if (!x || !*out || !*labels || (records && !*records))
        s = tassl_error(TASSL_ERR_NOMEM, "classification: out of host memory (%lld samples)",
                        (long long)n);
    for (int64_t i = 0; i < n && s == TASSL_OK; i += B) {
        int64_t b = n - i < B ? n - i : B;
        for (int64_t j = 0; j < b && s == TASSL_OK; j++) {
            tassl_sample smp;
            if ((s = task_eval_sample(env, ds, i + j, &smp)) != TASSL_OK) break;
            if (smp.image.channels * tassl_image_voxels(&smp.image) != numel)
                s = tassl_error(TASSL_ERR_ARG,
                                "%s: the sample is (%d, %lld, %lld, %lld), the model takes (%lld, "
                                "%lld, %lld, %lld)",
                                smp.image.source, smp.image.channels, (long long)smp.image.d,
                                (long long)smp.image.h, (long long)smp.image.w, (long long)sm[0],
                                (long long)sm[1], (long long)sm[2], (long long)sm[3]);
            if (s == TASSL_OK) s = check_label(c, smp.label, smp.prov.record, smp.image.source);
            if (s == TASSL_OK) {
                memcpy(x + j * numel, smp.image.data, sizeof(float) * (size_t)numel);
                (*labels)[i + j] = smp.label;
                if (records) (*records)[i + j] = smp.prov.record;
            }
            tassl_sample_free(&smp);
        }
        if (s != TASSL_OK) break;
        tassl_scope_begin(env->ctx);
        tassl_no_grad_begin(env->ctx);
        tassl_tensor *h = tassl_encoder_forward(env->encoder, task_input(env, x, b), false, NULL);
        tassl_tensor *y = feats_only ? h : tassl_softmax(tassl_classifier_forward(c->head, h), 1);
        s = tassl_ctx_status(env->ctx);
        if (s == TASSL_OK) s = tassl_tensor_read(y, *out + i * w);
        tassl_no_grad_end(env->ctx);
        tassl_scope_end(env->ctx);
    }
    free(x);
    if (s != TASSL_OK) {
        free(*out), free(*labels);
        if (records) free(*records);
        *out = NULL, *labels = NULL;
        if (records) *records = NULL;
    }
    return s;
}

static tassl_status cls_prepare(void *state, const task_env *env, tassl_dataset *train,
                                int64_t *steps) {
    cls *c = state;
    if (c->proto == PROTO_TRAIN) return TASSL_OK;
    if (c->proto == PROTO_LINEAR && !steps) return TASSL_OK; /* evaluation: the head suffices */
    free(c->feats), free(c->labels);
    c->feats = NULL, c->labels = NULL;
    tassl_status s = forward_all(c, env, train, true, &c->feats, &c->labels, NULL, &c->nfeat);
    if (s != TASSL_OK) return task_wrap(s, "features of the labelled training samples");
    if (c->proto == PROTO_KNN && steps) *steps = 0;
    return TASSL_OK;
}

static tassl_tensor *cls_loss(void *state, const task_env *env, const tassl_batch *b,
                              tassl_metric *parts, int *nparts) {
    cls *c = state;
    (void)parts;
    *nparts = 0;
    if (!c->head) {
        tassl_ctx_fail(env->ctx, tassl_error(TASSL_ERR_ARG, "classification: knn does not train"));
        return NULL;
    }
    float *y = malloc(sizeof(float) * (size_t)b->n);
    float *f = c->proto == PROTO_LINEAR ? malloc(sizeof(float) * (size_t)(b->n * c->D)) : NULL;
    if (!y || (c->proto == PROTO_LINEAR && !f)) {
        free(y), free(f);
        tassl_ctx_fail(env->ctx, tassl_error(TASSL_ERR_NOMEM, "classification: out of memory"));
        return NULL;
    }
    tassl_status s = TASSL_OK;
    for (int i = 0; i < b->n && s == TASSL_OK; i++) {
        s = check_label(c, b->label[i], b->prov[i].record, NULL);
        y[i] = (float)b->label[i];
        if (s == TASSL_OK && f) {
            int64_t k = b->index[i];
            if (k < 0 || k >= c->nfeat)
                s = tassl_error(TASSL_ERR_ARG, "classification: sample %lld has no cached feature",
                                (long long)k);
            else
                memcpy(f + i * c->D, c->feats + k * c->D, sizeof(float) * (size_t)c->D);
        }
    }
    if (s != TASSL_OK) {
        free(y), free(f);
        tassl_ctx_fail(env->ctx, s);
        return NULL;
    }
    tassl_tensor *h = f ? tassl_from_host(env->ctx, TASSL_SHAPE(b->n, c->D), f)
                        : tassl_encoder_forward(env->encoder, task_input(env, b->x[0], b->n),
                                                !env->frozen, NULL); /* (N, D) */
    tassl_tensor *target = tassl_from_host(env->ctx, TASSL_SHAPE(b->n), y);
    free(y), free(f);
    return tassl_cross_entropy(tassl_classifier_forward(c->head, h), target, NULL, 0.0f, -100,
                               TASSL_REDUCE_MEAN);
}

/* predictions.csv (record,truth,pred,score_0..) and index.csv, atomically. */
static tassl_status write_predictions(const cls *c, tassl_dataset *ds, const char *dir,
                                      const int *records, const int32_t *truth, const int32_t *pred,
                                      const float *scores, int64_t n) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/predictions.csv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot be written: %s", tmp, strerror(errno));
    fputs("record,truth,pred", f);
    for (int k = 0; k < c->K; k++)
        fprintf(f, ",score_%d", k);
    fputc('\n', f);
    for (int64_t i = 0; i < n; i++) {
        fprintf(f, "%d,%d,%d", records[i], truth[i], pred[i]);
        for (int k = 0; k < c->K; k++)
            fprintf(f, ",%.9g", scores[i * c->K + k]);
        fputc('\n', f);
    }
    bool bad = ferror(f) != 0;
    bad = fclose(f) != 0 || bad;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: write failed", path);
    }
    task_index *ix;
    tassl_status s = task_index_open(dir, &ix);
    if (s != TASSL_OK) return s;
    /* sample i comes from used record i / samples_per_image (dataset.h) */
    const int64_t spi = n / (tassl_dataset_records(ds) > 0 ? tassl_dataset_records(ds) : 1);
    for (int64_t i = 0; i < n; i++) {
        const tassl_record *rec = tassl_dataset_record(ds, (int)(i / (spi > 0 ? spi : 1)));
        const char *image = rec ? rec->image : "";
        char t[32], p[32];
        snprintf(t, sizeof t, "%d", truth[i]);
        snprintf(p, sizeof p, "%d", pred[i]);
        task_index_row(ix, records[i], image, t, p);
    }
    return task_index_close(ix);
}

static tassl_status cls_evaluate(void *state, const task_env *env, tassl_dataset *ds,
                                 const char *pred_dir, tassl_task_result *out) {
    cls *c = state;
    float *y = NULL, *scores = NULL;
    int32_t *truth = NULL, *pred = NULL;
    int *records = NULL;
    int64_t n = 0;
    tassl_cls_metrics cm;
    memset(&cm, 0, sizeof cm);
    tassl_status s = forward_all(c, env, ds, c->proto == PROTO_KNN, &y, &truth, &records, &n);
    if (s == TASSL_OK) {
        pred = malloc(sizeof(int32_t) * (size_t)n);
        scores = c->proto == PROTO_KNN ? malloc(sizeof(float) * (size_t)(n * c->K)) : y;
        if (!pred || !scores)
            s = tassl_error(TASSL_ERR_NOMEM, "classification: out of host memory");
    }
    if (s == TASSL_OK && c->proto == PROTO_KNN) {
        if (!c->feats) s = tassl_error(TASSL_ERR_ARG, "classification: knn without a bank");
        if (s == TASSL_OK)
            s = tassl_knn_classify(c->feats, c->labels, c->nfeat, y, n, c->D, &c->knn, pred,
                                   scores);
    } else if (s == TASSL_OK) {
        for (int64_t i = 0; i < n; i++) { /* argmax, ties to the lower class */
            int best = 0;
            for (int k = 1; k < c->K; k++)
                if (scores[i * c->K + k] > scores[i * c->K + best]) best = k;
            pred[i] = best;
        }
    }
    if (s == TASSL_OK) s = tassl_cls_metrics_compute(pred, scores, truth, n, c->K, &cm);
    if (s == TASSL_OK) {
        tassl_task_result_set(out, "accuracy", cm.accuracy);
        tassl_task_result_set(out, "balanced_accuracy", cm.balanced_accuracy);
        tassl_task_result_set(out, "macro_f1", cm.macro_f1);
        tassl_task_result_set(out, "macro_auc", cm.macro_auc);
        for (int k = 0; k < c->K && s == TASSL_OK; k++) {
            char name[48];
            snprintf(name, sizeof name, "auc/%d", k);
            s = tassl_task_result_set(out, name, cm.auc[k]);
            snprintf(name, sizeof name, "f1/%d", k);
            if (s == TASSL_OK) s = tassl_task_result_set(out, name, cm.f1[k]);
        }
        snprintf(out->primary, sizeof out->primary, "accuracy");
        out->samples = n;
    }
    if (s == TASSL_OK && pred_dir)
        s = write_predictions(c, ds, pred_dir, records, truth, pred, scores, n);
    tassl_cls_metrics_free(&cm);
    if (scores != y) free(scores);
    free(y), free(truth), free(pred), free(records);
    return s;
}

const task_ops task_classification = {
    .kind = TASSL_TASK_CLASSIFICATION,
    .name = "classification",
    .create = cls_create,
    .init = cls_init,
    .loss = cls_loss,
    .evaluate = cls_evaluate,
    .dataset_opts = NULL,
    .destroy = cls_destroy,
    .prepare = cls_prepare,
    .keys = NULL,
};
