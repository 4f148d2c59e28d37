/* task_internal.h — what the files of src/task share: the task environment the driver
 * (finetune.c) builds, and the vtable each task kind implements (classification.c,
 * segmentation.c, detection.c). Not installed.
 *
 * The driver owns: configuration, device/ctx, the parameter set (encoder.* then head.*), the
 * encoder (tassl_encoder, the same builder as pretraining), loading task.init, freezing, the
 * labelled subset, datasets and loaders for train/eval splits, the optimiser (encoder lr ×
 * task.encoder_lr_mult), the step loop, checkpoints, metrics.jsonl, eval.json. A task kind owns:
 * its head, the loss of a training batch, inference and metrics on a split, predictions. */
#ifndef TASSL_TASK_INTERNAL_H
#define TASSL_TASK_INTERNAL_H

#include "tassl/config.h"
#include "tassl/dataset.h"
#include "tassl/metrics.h"
#include "tassl/ssl.h"
#include "tassl/task.h"
#include "tassl/tassl.h"

typedef struct task_env {
    const tassl_config *cfg;
    tassl_ctx *ctx;
    tassl_params *params;  /* encoder.* and head.*; not finalized during create() */
    tassl_encoder *encoder;
    tassl_task_kind kind;
    int dims;              /* 2 or 3 */
    int64_t sample[4];     /* training sample (C, D, H, W), D = 1 in 2D */
    int nclasses;          /* classes of the task (classification labels, mask labels including
                              background 0, or box classes) */
    bool frozen;           /* encoder frozen (linear / knn / frozen protocols): eval mode */
    bool quiet;
    uint64_t seed;
} task_env;

typedef struct task_ops {
    tassl_task_kind kind;
    const char *name;
    /* Declare the head under "head." in env->params (state malloc'd by the task). */
    tassl_status (*create)(const task_env *env, void **state);
    /* Initialise the head's parameters (after tassl_params_finalize). */
    tassl_status (*init)(void *state);
    /* The loss of one host batch (b->x[0] inputs, b->label / b->mask / b->boxes targets) as a
     * scalar tensor recorded on the tape, or NULL with the error set. parts (up to 4 named
     * components, e.g. {"dice", ...}, {"ce", ...}) are filled as host values after the forward
     * (*nparts set; may be 0). */
    tassl_tensor *(*loss)(void *state, const task_env *env, const tassl_batch *b,
                          tassl_metric *parts, int *nparts);
    /* Inference and metrics on every record of `ds` (the evaluation split, opened with the
     * dataset options the task asked for via dataset_opts). Predictions go under pred_dir (NULL:
     * none written). Fills out's metrics, primary and samples. */
    tassl_status (*evaluate)(void *state, const task_env *env, tassl_dataset *ds,
                             const char *pred_dir, tassl_task_result *out);
    /* Dataset options for training / evaluation (sampling, patch, full images for sliding
     * windows...). NULL: the driver's defaults (patch = data.patch, uniform). */
    void (*dataset_opts)(const task_env *env, bool training, tassl_dataset_opts *o);
    void (*destroy)(void *state);
} task_ops;

extern const task_ops task_classification;
extern const task_ops task_segmentation;
extern const task_ops task_detection;

/* tasks.c: the ops of a kind (NULL if not built). */
const task_ops *task_ops_of(tassl_task_kind k);

/* The last error again with a printf-style prefix ("PREFIX: previous message"). */
tassl_status task_wrap(tassl_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
