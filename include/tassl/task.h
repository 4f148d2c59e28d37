/* task.h — downstream tasks on a (pretrained) encoder: classification, segmentation, detection;
 * `tassl finetune` (train a task head, optionally the encoder, on a labelled subset, then
 * evaluate) and `tassl eval` (evaluate a finetuned checkpoint on a dataset). The benchmark
 * protocol (protocol.h) runs tassl_finetune over a grid.
 *
 * Configuration (the task.* keys; docs/TASKS.md):
 *   task.kind            classification | segmentation | detection
 *   task.protocol        finetune | linear | knn (linear and knn: classification on frozen
 *                        features) | frozen (seg/det: train only the head, encoder frozen)
 *   task.init            "" = scratch (random init from the run seed); a checkpoint file or a
 *                        run directory (its newest checkpoint): encoder.* are loaded from it
 *   task.encoder_lr_mult finetune: the encoder's learning rate = optim.lr × this
 *   task.label_fraction  fraction of the training subjects whose labels are used, (0, 1]
 *   task.shots           > 0: k subjects per class instead (classification)
 *   task.label_seed      the labelled-subset sampler's seed (same subset for every init)
 *   task.eval_split      val | test: the split evaluated at the end
 * The data are a manifest (data.source manifest, data.path CSV) with label / mask / boxes
 * columns and train/val/test splits; model.* builds the encoder as for pretraining.
 *
 * A run directory gets, besides config.yaml / metrics.jsonl / train.log / checkpoints:
 *   eval.json            {"split":..., "n":..., "metrics": {name: value}, "primary": name}
 *   predictions/         classification predictions.csv (record, truth, pred, scores...);
 *                        segmentation <stem>_pred.nii.gz or .png with the input's geometry;
 *                        detection boxes.csv and boxes.json
 */
#ifndef TASSL_TASK_H
#define TASSL_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_task_kind {
    TASSL_TASK_CLASSIFICATION = 0,
    TASSL_TASK_SEGMENTATION,
    TASSL_TASK_DETECTION,
} tassl_task_kind;

/* "classification", "segmentation", "detection" ("?" otherwise). */
const char *tassl_task_kind_name(tassl_task_kind k);

/* Register the task.* keys (and those of each built task kind), plus the pretraining framework's
 * (model.*, data.*), whose values a finetune configuration shares. Idempotent; tassl_finetune
 * and tassl_task_evaluate call it; call it before reading a finetune config from a file. */
tassl_status tassl_task_register_config(void);

#define TASSL_TASK_MAX_METRICS 96

/* Named scalar results of one evaluation (e.g. "accuracy", "balanced_accuracy", "macro_auc",
 * "macro_f1", "auc/3", "dice", "dice/2", "hd95", "map50", "map50_95", "froc_mean"). primary is
 * the metric the protocol reports first for the task kind (accuracy / dice / map50). */
typedef struct tassl_task_result {
    int n;
    char name[TASSL_TASK_MAX_METRICS][48];
    double value[TASSL_TASK_MAX_METRICS];
    char primary[48];
    char split[8];
    int64_t samples;      /* evaluated samples (cases / images / patches) */
    int64_t train_labelled; /* labelled training records used (after the subset) */
    double train_s, eval_s; /* wall seconds */
    uint64_t mem_peak_bytes; /* device pool peak */
} tassl_task_result;

/* Add (or replace) a named value. TASSL_ERR_ARG when full. */
tassl_status tassl_task_result_set(tassl_task_result *r, const char *name, double value);
/* The value of `name`, or NaN when absent. */
double tassl_task_result_get(const tassl_task_result *r, const char *name);

typedef struct tassl_finetune_opts {
    const char *run_dir; /* NULL: output.dir / output.name of the config */
    bool force;          /* replace an existing run directory */
    bool quiet;          /* nothing on stdout */
    bool write_predictions; /* predictions/ in the run directory (default true) */
} tassl_finetune_opts;

tassl_finetune_opts tassl_finetune_opts_default(void);

/* Train the task the configuration describes on its labelled subset, evaluate on
 * task.eval_split, write the run directory and fill *out (may be NULL). Everything the
 * configuration builds (data, subset, model, task.init) is checked before the run directory is
 * made: a bad key or an init checkpoint that does not fit (the tensor and both shapes named)
 * leaves nothing behind. The run's config.yaml has task.num_classes resolved. */
tassl_status tassl_finetune(const tassl_config *cfg, const tassl_finetune_opts *opts,
                            tassl_task_result *out);

/* Evaluate a finetuned checkpoint (a file or a run directory: its config.yaml gives the task and
 * model unless cfg is given; a lone checkpoint file: its "config" metadata) on a manifest's split;
 * predictions and eval.json go to out_dir (NULL: nothing written; created if needed). manifest
 * NULL: the config's data.path; split NULL: its task.eval_split. Every parameter and buffer is
 * loaded (a missing one is TASSL_ERR_FORMAT naming it; optimiser state is ignored). The kNN
 * protocol rebuilds its bank from the config's labelled training subset. Unless quiet, the
 * metrics are printed on stdout. On the run's own manifest and split the result equals the
 * run's eval.json. */
tassl_status tassl_task_evaluate(const tassl_config *cfg, const char *checkpoint,
                                 const char *manifest, const char *split, const char *out_dir,
                                 bool quiet, tassl_task_result *out);

/* Write r as eval.json ({"split", "samples", "primary", "metrics": {...}}) atomically. */
tassl_status tassl_task_result_write(const tassl_task_result *r, const char *path);
/* Read an eval.json back. */
tassl_status tassl_task_result_read(tassl_task_result *r, const char *path);

/* ---- the labelled-subset sampler ------------------------------------------------------------ */

/* Choose the labelled training subset: among the records of `split` in manifest m (train), the
 * subjects are grouped by stratum (a subject's most frequent label, ties to the lower; one
 * stratum when the rows have no labels), each stratum's subjects sorted by name and shuffled with
 * `seed`; fraction f takes round(f · N) subjects in all (N subjects; at least 1), shared among
 * strata by largest remainder and at least one per stratum when f · N allows; shots k > 0 takes
 * k subjects per stratum instead (all when fewer). Nested: for one seed the subset of a smaller
 * fraction is a subset of a larger one's. (To keep that true the largest remainder is applied
 * one subject at a time — a fixed pick order: one subject per stratum, largest stratum first,
 * then always the stratum furthest below its quota t · N_s / N — so per-stratum counts stay
 * within one subject of the quota; subset.c.) *rows (malloc'd) receives the manifest row
 * indices of every record of the chosen subjects, ascending; *nsubjects the subjects chosen.
 * TASSL_ERR_ARG for f outside (0, 1] (when shots is 0), shots < 0, or no record in split. */
struct tassl_manifest;
tassl_status tassl_label_subset(const struct tassl_manifest *m, int split, double fraction,
                                int shots, uint64_t seed, int **rows, int *nrows, int *nsubjects);

#ifdef __cplusplus
}
#endif
#endif
