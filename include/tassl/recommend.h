/* recommend.h — `tassl recommend`: the review's design guidelines as data, turned into a
 * ready-to-run pretraining configuration, and the memory estimator that sizes its patch and batch.
 *
 * The guidelines live in a RULE TABLE (configs/recommend.yaml, docs/RECOMMEND.md), not in code.
 * Each rule has an id, a condition (`when`: modality, task, dims, target, label range), a
 * priority, the fields it sets (`set`: paradigm, method, preset, encoder, schedule, ..., and raw
 * configuration keys under `config`), a one-line `reason` and the `source` it comes from. Every
 * matching rule is applied in order of priority (ties: file order); a later rule overrides the
 * fields it sets, and each field remembers the rule that set it last, so every line of the
 * recommendation is traced to a guideline.
 *
 * The patch and batch are then chosen by the memory estimator (tassl_mem_estimate_config): the
 * first patch side of the `patches` candidates (largest first) at which a batch of at least
 * `min_batch` fits the budget, with the largest power-of-two batch up to `max_batch` there.
 *
 * Usage:
 *     tassl_rec_table *t;  tassl_rec_table_load("configs/recommend.yaml", &t);
 *     tassl_rec_query q = {.modality = "mri", .task = "segmentation", .dims = 3,
 *                          .label_fraction = 0.05, .memory_bytes = 4e9};
 *     tassl_recommendation *r;  tassl_recommend(t, &q, &r);
 *     tassl_rec_print(r, stdout);  char *yaml = tassl_rec_config_yaml(r);
 *     tassl_recommendation_free(r);  tassl_rec_table_free(t);   // r points into t: free r first
 */
#ifndef TASSL_RECOMMEND_H
#define TASSL_RECOMMEND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "config.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory estimate ------------------------------------------------------------------------ */

/* Peak device memory of one pretraining step, from the model configuration (docs/RECOMMEND.md,
 * "Memory estimate", for the calibration against measured pool peaks). */
typedef struct tassl_mem_estimate {
    int64_t params;        /* trainable parameters (encoder, decoder, heads)                 */
    int64_t param_bytes;   /* parameters, gradients, optimiser state, EMA target copies      */
    int64_t act_elems;     /* floats of every tensor a step creates (outputs and gradients)  */
    int64_t act_bytes;     /* act_elems × 4 × the calibrated factor                          */
    int64_t scratch_bytes; /* the largest transient column buffer of a convolution           */
    int64_t pool_bytes;    /* act_bytes + scratch_bytes + a fixed part: the device pool's peak,
                              what `tassl pretrain` logs as mem_peak_bytes                      */
    int64_t total_bytes;   /* param_bytes + pool_bytes                                        */
} tassl_mem_estimate;

/* Estimate the step's peak for the configuration's method (method.name, hybrid members),
 * encoder (model.*: resnet, unet or vit), decoder of generative methods, data.patch,
 * train.batch_size and optimiser. TASSL_ERR_ARG naming the key on a combination it cannot
 * size (an unknown method, data.patch of the wrong length). */
tassl_status tassl_mem_estimate_config(const tassl_config *cfg, tassl_mem_estimate *out);

/* ---- the query ------------------------------------------------------------------------------ */

typedef struct tassl_rec_query {
    const char *modality;  /* ct | mri | xray | ultrasound | histology | fundus               */
    const char *task;      /* classification | segmentation | detection | mixed (unknown)    */
    const char *target;    /* lesion | anatomy | unknown; NULL = unknown                      */
    int dims;              /* 2 | 3                                                           */
    double label_fraction; /* (0, 1] when the labels were given as a fraction, else 0        */
    int64_t label_count;   /* > 0 when given as a count of labelled cases, else 0            */
    double memory_bytes;   /* the budget for one training step                               */
    const char *data;      /* a manifest for data.source: manifest; NULL = synthetic         */
    int64_t unlabelled;    /* images (2D) or volumes (3D) to pretrain on; 0 = count them in
                            * `data` (tassl_rec_count_unlabelled), or unknown without it     */
} tassl_rec_query;

/* What there is to pretrain on in a manifest, every record (the written config reads them all,
 * data.split: all): 3D, its records; 2D, its axial slices — each record's extent along the
 * superior axis from the file headers (a PNG is one slice). Errors name the manifest or file. */
tassl_status tassl_rec_count_unlabelled(const char *manifest, int dims, int64_t *out);

/* The allowed values, for messages and --help: "ct|mri|...". */
extern const char *const tassl_rec_modalities;
extern const char *const tassl_rec_tasks;
extern const char *const tassl_rec_targets;

/* "0.05", "5%" or "1" (a fraction; "1" and "100%" = every label) or "300" (an integer > 1: a
 * count of labelled cases) into *fraction / *count (the other set to 0). TASSL_ERR_ARG with a
 * message naming the value and what is expected. */
tassl_status tassl_rec_parse_labels(const char *text, double *fraction, int64_t *count);

/* Check every field of a query: TASSL_ERR_ARG naming the option ("--modality: 'pet' is not one
 * of ct|mri|...") on a bad one. */
tassl_status tassl_rec_query_check(const tassl_rec_query *q);

/* ---- the rule table ------------------------------------------------------------------------- */

typedef struct tassl_rec_table tassl_rec_table;

/* Read and check a rule table. Errors (malformed YAML, an unknown or misplaced field, a wrong
 * type, a value outside its set, a rule without reason or source, duplicate ids) read
 * "PATH:LINE:COL: ..." and nothing is returned. */
tassl_status tassl_rec_table_load(const char *path, tassl_rec_table **out);
/* The same from text; `origin` names it in messages. */
tassl_status tassl_rec_table_parse(const char *text, size_t len, const char *origin,
                                   tassl_rec_table **out);
void tassl_rec_table_free(tassl_rec_table *t);
int tassl_rec_table_count(const tassl_rec_table *t); /* rules */
const char *tassl_rec_table_origin(const tassl_rec_table *t);

/* ---- the recommendation --------------------------------------------------------------------- */

/* One recommended value and where it comes from. Strings point into the table (rule, reason,
 * source) or into the recommendation; `value` is YAML flow text ("simclr", "[simclr, genesis]"). */
typedef struct tassl_rec_item {
    const char *name; /* a field ("method", "preset", ...) or a configuration key */
    const char *value;
    const char *rule;   /* id of the rule that set it last; "memory" for the fitted sizes */
    const char *reason; /* one line */
    const char *source; /* the guideline it comes from */
    int line;           /* the rule's line in the table (0 for computed items) */
} tassl_rec_item;

typedef struct tassl_recommendation tassl_recommendation;

/* Apply the table to the query and fit patch and batch to q->memory_bytes. TASSL_ERR_ARG naming
 * the option on a bad query; naming the table's FILE:LINE when a rule's configuration key or
 * value does not validate against the registry, or when no rule sets a required field (method,
 * paradigm, preset, encoder); TASSL_ERR_NOMEM when nothing fits the budget (the message gives
 * the smallest estimate). Register the pretraining keys first (tassl_ssl_register_config). */
tassl_status tassl_recommend(const tassl_rec_table *t, const tassl_rec_query *q,
                             tassl_recommendation **out);
void tassl_recommendation_free(tassl_recommendation *r);

/* The item of a field ("paradigm", "method", "members", "preset", "encoder", "schedule",
 * "patch", "batch", "baseline", ...) or configuration key ("method.simclr.temperature"); NULL
 * if nothing set it. */
const tassl_rec_item *tassl_rec_get(const tassl_recommendation *r, const char *name);
/* Notes (rules' `note` fields) in the order applied. */
int tassl_rec_note_count(const tassl_recommendation *r);
const tassl_rec_item *tassl_rec_note_at(const tassl_recommendation *r, int i);
/* Rules that matched, in the order applied. */
int tassl_rec_matched_count(const tassl_recommendation *r);
const char *tassl_rec_matched_at(const tassl_recommendation *r, int i);
/* The memory estimate of the chosen patch and batch, and the budget it was fitted to. */
tassl_mem_estimate tassl_rec_memory(const tassl_recommendation *r, double *budget_bytes);
/* The resolved pretraining configuration (every registered key; the caller frees it). */
tassl_status tassl_rec_config(const tassl_recommendation *r, tassl_config **out);

/* Human-readable: one line per field with its value, reason and source; the notes. */
void tassl_rec_print(const tassl_recommendation *r, FILE *out);
/* The config file: a commented header (query, reasons), then only the keys the recommendation
 * sets, nested by section, each with the rule that set it; task.kind / task.label_fraction as
 * keys when the task.* section is registered, as comments otherwise. Reads back (and validates)
 * to the configuration of tassl_rec_config. malloc'd; NULL on out-of-memory. */
char *tassl_rec_config_yaml(const tassl_recommendation *r);

#ifdef __cplusplus
}
#endif
#endif
