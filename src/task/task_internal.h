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

#include "tassl/augment.h"
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
    /* --- added by the driver's engineer (fields only appended) --- */
    char protocol[16];     /* task.protocol: finetune | linear | knn | frozen */
    int64_t batch;         /* train.batch_size: also the batch of evaluation passes */
    tassl_aug_config norm; /* the evaluation input transform: the normalisation of
                              data.aug.preset, nothing else (task_eval_sample applies it) */
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
    /* Optional (NULL: nothing to do). Called once after init and after task.init was loaded,
     * with the labelled training dataset (the subset, opened with the training dataset_opts).
     * `steps` non-NULL (training): holds train.steps; a task may lower it (kNN sets 0: no
     * training). steps NULL (tassl_task_evaluate): only what evaluation needs (the kNN bank). */
    tassl_status (*prepare)(void *state, const task_env *env, tassl_dataset *train,
                            int64_t *steps);
    /* The kind's own configuration keys (task.<kind>.*), or NULL. The driver registers them with
     * the task keys, before any configuration is made (a config holds only keys registered
     * before it was created). */
    const tassl_cfg_section *keys;
} task_ops;

extern const task_ops task_classification;
extern const task_ops task_segmentation;
extern const task_ops task_detection;

/* tasks.c: the ops of a kind, or NULL for a value outside the enum (no error set). */
const task_ops *task_ops_of(tassl_task_kind k);

/* ---- what the driver gives the tasks (finetune.c) ------------------------------------------
 *
 * How the driver runs a task (for the authors of segmentation.c / detection.c):
 *  1. env filled (cfg, ctx, dims, sample = (C, D, H, W) from data.patch and the data's channels,
 *     nclasses = task.num_classes or from the data: classification 1 + the largest label of the
 *     manifest, detection 1 + the largest box class, segmentation 1 + the largest value in the
 *     labelled training masks), encoder declared under encoder.*; then create() (declare
 *     head.*), tassl_params_finalize, tassl_encoder_init then init() — all after
 *     tassl_rng_seed(ctx, seed), so one seed fixes every weight; then task.init loads encoder.*.
 *  2. frozen (linear / knn / frozen): every encoder.* entry gets requires_grad false (no tape,
 *     no gradient reaches it) and the optimiser's lr multiplier 0 (no update, no decay); pass
 *     training = !env->frozen to tassl_encoder_forward so batch norm uses running statistics.
 *  3. the training dataset = the labelled subset's records (samples_per_image, patch, sampling
 *     from dataset_opts(env, true, o); the driver's defaults: dim = model.dims, axis =
 *     data.axis, patch = data.patch, uniform, data.samples_per_image); a loader with batches of
 *     min(train.batch_size, samples) (drop_last: always full), shuffled per epoch, each sample
 *     passed through the training transform: normalisation + task.aug (mild: flips of the
 *     preset, light intensity jitter; task.aug_set overrides) applied to image, mask (as a label
 *     map: nearest) and boxes together; the batch's x[0], mask, label, boxes are what loss()
 *     sees. x[0] is (N, C, D, H, W) host floats even in 2D: upload with task_input().
 *  4. each step: scope, zero_grad, loss(), backward, clip (optim.grad_clip), optimiser step;
 *     loss parts go to metrics.jsonl under their names.
 *  5. evaluation: the eval split (task.eval_split) opened with dataset_opts(env, false, o) over
 *     the full manifest (or `tassl eval --data`); evaluate() reads samples itself with
 *     task_eval_sample() (normalised like training, never augmented), runs under
 *     tassl_no_grad_begin with training = false, writes predictions under pred_dir (created by
 *     the driver) including predictions/index.csv (task_index_* below), fills out->n metrics,
 *     primary and samples. The driver adds split, train_labelled, timings, memory and writes
 *     eval.json. The evaluation defaults: patch = data.patch, samples_per_image 1 (set patch 0
 *     for full images / sliding windows in dataset_opts(env, false, o)).
 *  6. env->sample is the training dataset's sample shape (what dataset_opts(env, true) gives,
 *     read from the first image); the encoder is built for it. tassl_task_evaluate rebuilds the
 *     same env from the run's config.yaml (task.num_classes is resolved there, so no training
 *     data is read unless the task has prepare() work to do for the kNN bank), then loads every
 *     parameter (encoder.* and head.*) from the checkpoint; create()/init() run as in training
 *     (their random init is overwritten), so a head must declare the same entries both times.
 *  7. Errors: return the status with tassl_error's message (or NULL from loss() with the
 *     context's error set); the driver prefixes the phase ("step 12: ...", "evaluating test:
 *     ..."). Nothing of a task may call exit() or print to stdout when env->quiet. */

/* Sample `index` of ds (0 <= index < tassl_dataset_len) for evaluation: drawn with a seed that
 * depends only on (env->seed, index), its image normalised with env->norm (mask, boxes, label
 * untouched). Free with tassl_sample_free. */
tassl_status task_eval_sample(const task_env *env, tassl_dataset *ds, int64_t index,
                              tassl_sample *s);

/* Host samples x (n, C, D, H, W) as the encoder's input: (n, C, H, W) in 2D, (n, C, D, H, W) in
 * 3D, in the current scope (shape from env->sample). */
tassl_tensor *task_input(const task_env *env, const float *x, int64_t n);

/* predictions/index.csv: open (header "record,image,truth,prediction") under pred_dir, one row
 * per evaluated record (fields CSV-quoted when needed), close (TASSL_ERR_IO naming the file if
 * any write failed). Written as PATH.tmp and renamed by close. */
typedef struct task_index task_index;
tassl_status task_index_open(const char *pred_dir, task_index **out);
void task_index_row(task_index *ix, int record, const char *image, const char *truth,
                    const char *pred);
tassl_status task_index_close(task_index *ix);

/* One CSV field (quoted if it holds a comma, quote or newline). */
void task_csv_field(FILE *f, const char *s);

/* The last error again with a printf-style prefix ("PREFIX: previous message"). */
tassl_status task_wrap(tassl_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
