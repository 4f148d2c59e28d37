/* eval.h — evaluating a (pretrained) encoder with frozen features: feature extraction, a
 * k-nearest-neighbour classifier with temperature-weighted cosine votes, accuracy and balanced
 * accuracy, labelled evaluation sets (seeded synthetic phantoms, or a dataset), and the helper the
 * SSL learning tests use: "pretrain briefly, then compare the kNN accuracy of the pretrained
 * encoder with the same encoder at its random initialisation".
 *
 * The kNN protocol is the one of Wu et al. 2018 (InstDisc) and DINO (Caron et al. 2021,
 * eval_knn.py): features L2-normalised, cosine similarity s of a query to every bank sample, the
 * k most similar vote for their class with weight exp(s / T), the prediction is the class with
 * the largest summed weight. Defaults k = 20, T = 0.07 (DINO; the review's range is k 20–200).
 *
 * Adding a kNN learning test for a method (see tests/test_eval.c for SimCLR):
 *     tassl_config *c = ...;                          // a tiny pretraining config (method.name
 * ...) tassl_knn_compare_opts o = tassl_knn_compare_opts_default(); o.task =
 * TASSL_EVAL_TASK_LESION;                // or _QUADRANT (see below) o.run_dir = "/tmp/.../run"; //
 * where the brief pretraining runs tassl_knn_compare r; assert_int_equal(tassl_knn_compare_run(c,
 * &o, &r), TASSL_OK); assert_true(r.pretrained.accuracy > r.random.accuracy + 0.05);   // a margin,
 * seeded Both encoders are exactly the same network: the random one is the initialisation the
 * pretraining run starts from (same seed), the pretrained one its last checkpoint's encoder.*.
 * The evaluation phantoms come from a seed the pretraining stream never uses (held out).
 */
#ifndef TASSL_EVAL_H
#define TASSL_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "dataset.h"
#include "ssl.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- metrics -------------------------------------------------------------------------------- */

/* Accuracy (correct / n) and balanced accuracy (the mean over classes present in truth of the
 * per-class recall) of pred against truth, both (n) in [0, nclasses). bal may be NULL.
 * TASSL_ERR_ARG for n < 1, nclasses < 1 or a label outside [0, nclasses). */
tassl_status tassl_eval_accuracy(const int32_t *pred, const int32_t *truth, int64_t n, int nclasses,
                                 double *acc, double *bal);

/* Area under the ROC curve of scores (n) for binary labels (n, 0 or 1): the probability that a
 * random positive scores above a random negative, ties counting one half (Mann–Whitney U with
 * mid-ranks). TASSL_ERR_ARG when a class is absent or a label is not 0/1; TASSL_ERR_NUMERIC on a
 * non-finite score. */
tassl_status tassl_eval_auroc(const float *scores, const uint8_t *labels, int64_t n, double *auc);

/* ---- kNN classifier ------------------------------------------------------------------------- */

typedef struct tassl_knn_opts {
    int k;             /* neighbours (default 20; clamped to the bank size) */
    float temperature; /* vote weight exp(s / T) (default 0.07) */
    int nclasses;      /* classes; 0 = 1 + the largest bank label */
} tassl_knn_opts;

tassl_knn_opts tassl_knn_opts_default(void);

typedef struct tassl_knn_result {
    int64_t n; /* queries */
    int nclasses;
    double accuracy;          /* top-1 */
    double balanced_accuracy; /* mean per-class recall over the classes present in the queries */
} tassl_knn_result;

/* Classify query (nq, d) against bank (nb, d) with labels bank_y (nb) in [0, nclasses); rows are
 * row-major host floats (L2-normalised here, in double; a zero row has similarity 0 to
 * everything). pred (nq) receives the predicted classes; scores (nq, nclasses) (NULL if
 * unwanted) the normalised vote weights (rows sum to 1). Ties go to the lower class. Runs on the
 * host: O(nq·nb·d), fine for evaluation sets of thousands. TASSL_ERR_ARG on bad sizes, k < 1,
 * T <= 0, labels out of range; TASSL_ERR_NUMERIC on non-finite features (the row is named). */
tassl_status tassl_knn_classify(const float *bank, const int32_t *bank_y, int64_t nb,
                                const float *query, int64_t nq, int64_t d,
                                const tassl_knn_opts *opts, int32_t *pred, float *scores);

/* tassl_knn_classify, then accuracy and balanced accuracy against query_y (nq). */
tassl_status tassl_knn_evaluate(const float *bank, const int32_t *bank_y, int64_t nb,
                                const float *query, const int32_t *query_y, int64_t nq, int64_t d,
                                const tassl_knn_opts *opts, tassl_knn_result *out);

/* ---- labelled evaluation sets --------------------------------------------------------------- */

/* A labelled set on the host: images (n, C, D, H, W) (D = 1 in 2D), labels (n). */
typedef struct tassl_eval_set {
    int64_t n;
    int64_t sample[4]; /* (C, D, H, W) */
    int nclasses;
    float *images;
    int32_t *labels;
    float *masks; /* (n, 1, D, H, W) lesion masks (0/1) of synthetic sets; NULL for datasets */
} tassl_eval_set;

void tassl_eval_set_free(tassl_eval_set *s); /* NULL-safe; zeroes *s */

typedef enum tassl_eval_task {
    /* the phantom holds at least one lesion (2 classes, about balanced: lesion_prob 0.5) */
    TASSL_EVAL_TASK_LESION = 0,
    /* phantoms with exactly one lesion; the class is the quadrant (H, W halves; 0 top-left,
     * 1 top-right, 2 bottom-left, 3 bottom-right) of the lesion's centre (4 classes). Note that
     * flips in the pretraining views make features flip-invariant, which destroys this label:
     * use it for methods whose pretext keeps position (dense, in-painting, anomaly). */
    TASSL_EVAL_TASK_QUADRANT,
} tassl_eval_task;

/* Synthetic phantoms (the `tassl data synth` generator, sized and normalised as the pretraining
 * config's clean input: data.patch, model.dims, the normalisation of data.aug.preset, lesion radii
 * as the SSL data side uses) cases [first, first + n) of the stream keyed by `seed`, labelled for
 * `task`. Errors name the config key. */
tassl_status tassl_eval_synth_set(const tassl_config *cfg, tassl_eval_task task, uint64_t seed,
                                  int64_t first, int64_t n, tassl_eval_set *out);

/* Up to `max` samples (0 = all) of a dataset in order (sample seed from `seed`), with their
 * record labels; samples without a label (-1) are refused with TASSL_ERR_ARG naming the record.
 * nclasses = 1 + the largest label. */
tassl_status tassl_eval_dataset_set(tassl_dataset *ds, int64_t max, uint64_t seed,
                                    tassl_eval_set *out);

/* ---- features ------------------------------------------------------------------------------- */

/* The pooled embeddings (n, D) of set->images through the encoder, frozen: eval mode (batch norm
 * with its running statistics), no gradient recording, `batch` samples per forward pass, each
 * pass in its own scope. feats: n · tassl_encoder_embed_dim(e) floats. TASSL_ERR_ARG when the
 * sample shape does not suit the encoder's dimensionality. */
tassl_status tassl_eval_features(tassl_encoder *e, tassl_ctx *ctx, const tassl_eval_set *set,
                                 int64_t batch, float *feats);

/* Load encoder.* of a checkpoint (a pretraining or training checkpoint, or an exported
 * encoder.safetensors whose names start with "encoder.") into the matching entries of p; strict
 * on the encoder's entries (names and shapes listed on a mismatch), nothing else is touched. */
tassl_status tassl_eval_load_encoder(tassl_params *p, const char *path);

/* ---- pretrained vs random initialisation ---------------------------------------------------- */

typedef struct tassl_knn_compare_opts {
    tassl_eval_task task;
    int64_t ntrain, ntest; /* bank and query sizes (default 192, 128) */
    int64_t batch;         /* feature extraction batch (default 32) */
    tassl_knn_opts knn;    /* default k 20, T 0.07 */
    uint64_t eval_seed;    /* 0: derived from the config's seed, distinct from the training
                              stream's */
    const char *run_dir;   /* where the pretraining run goes (required; replaced if present) */
    bool skip_pretrain;    /* the run already exists in run_dir: only evaluate */
} tassl_knn_compare_opts;

tassl_knn_compare_opts tassl_knn_compare_opts_default(void);

typedef struct tassl_knn_compare {
    tassl_knn_result random;     /* the encoder at initialisation (the run's starting point) */
    tassl_knn_result pretrained; /* after the run (its newest checkpoint) */
    int64_t steps;               /* pretraining steps done */
} tassl_knn_compare;

/* Pretrain as cfg says (quietly) into o->run_dir, then evaluate both encoders with kNN on the
 * held-out synthetic task o->task (bank cases [0, ntrain), queries [ntrain, ntrain + ntest) of
 * the evaluation stream). Needs data.source synthetic. */
tassl_status tassl_knn_compare_run(const tassl_config *cfg, const tassl_knn_compare_opts *o,
                                   tassl_knn_compare *out);

#ifdef __cplusplus
}
#endif
#endif
