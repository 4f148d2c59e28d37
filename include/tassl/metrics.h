/* metrics.h — evaluation metrics of the downstream tasks, computed on the host in double from
 * predictions and ground truth: classification (accuracy, balanced accuracy, one-vs-rest AUC per
 * class and macro, F1 per class and macro, confusion matrix), segmentation (Dice, IoU, HD95 in mm
 * per class) and detection (AP per class at IoU thresholds, mAP@0.5 and mAP@0.5:0.95, FROC).
 *
 * Conventions (each tested against hand-worked cases and fixtures of an independent
 * implementation, tools/gen-metric-fixtures):
 *  - A metric that is undefined for the input (AUC of a class absent from the truth, HD95 when
 *    one of the two masks is empty) is NaN; macro means average the defined (non-NaN) entries and
 *    are NaN when none is defined.
 *  - Boxes and volumes use the (D, H, W) order of the rest of tassl; 2D is D = 1 / box z in [0, 1).
 */
#ifndef TASSL_METRICS_H
#define TASSL_METRICS_H

#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- classification ------------------------------------------------------------------------- */

typedef struct tassl_cls_metrics {
    int nclasses;
    int64_t n;
    double accuracy;
    double balanced_accuracy; /* mean recall over the classes present in the truth */
    double macro_f1;          /* mean F1 over the classes present in truth or prediction */
    double macro_auc;         /* mean of the defined one-vs-rest AUCs (NaN without scores) */
    double *recall;           /* (nclasses) NaN for a class absent from the truth */
    double *f1;               /* (nclasses) NaN for a class absent from truth and prediction */
    double *auc;              /* (nclasses) one-vs-rest; NaN: class absent or always present */
    int64_t *confusion;       /* (nclasses · nclasses), row = truth, column = prediction */
} tassl_cls_metrics;

/* pred, truth (n) in [0, nclasses); scores (n, nclasses) row-major class scores (probabilities or
 * logits; only their order within a column matters) or NULL. Allocates the arrays of *out
 * (tassl_cls_metrics_free). TASSL_ERR_ARG on n < 1, nclasses < 1 or a label out of range;
 * TASSL_ERR_NUMERIC naming the row on a non-finite score. *out is zeroed first, so freeing it
 * after a failure is safe.
 * Definitions (scikit-learn's; tests/golden/metrics/cls.json holds its values):
 *   recall_c = TP_c / |truth = c|;  F1_c = 2TP_c / (2TP_c + FP_c + FN_c) (0 for a class in the
 *   truth that is never predicted, or predicted but never true);  AUC_c = the Mann–Whitney
 *   statistic of the scores of column c, samples of class c against all others, a tie counting
 *   one half (= roc_auc_score(truth == c, scores[:, c])). */
tassl_status tassl_cls_metrics_compute(const int32_t *pred, const float *scores,
                                       const int32_t *truth, int64_t n, int nclasses,
                                       tassl_cls_metrics *out);
void tassl_cls_metrics_free(tassl_cls_metrics *m);

/* ---- segmentation --------------------------------------------------------------------------- */

/* Per-class metrics of one case (one image/volume) for classes 1..nclasses-1 (0 = background).
 * Index c of each array is class c; entry 0 of dice/iou/hd95 is unused (NaN); voxels_pred and
 * voxels_true count every class, background included.
 *   Dice = 2|P∩T| / (|P|+|T|), IoU = |P∩T| / |P∪T|; both masks empty → 1 (a correct "nothing").
 *   HD95: the 95th percentile of the pooled symmetric surface distances in mm (medpy's hd95:
 *   surface = the mask minus its erosion by the face-connected structuring element; distances by
 *   an exact Euclidean distance transform with the voxel spacing); both empty → 0, one empty →
 *   NaN (undefined; counted separately in the summary of a split).
 *   In full: surface(M) = voxels of M with a face neighbour outside M or outside the image (a
 *   D = 1 case is a 2D image: only the 4 in-plane neighbours count); the distances of every
 *   surface(P) voxel to the nearest surface(T) voxel and of every surface(T) voxel to the nearest
 *   surface(P) voxel, in mm, pooled (N values, sorted a); HD95 = numpy.percentile(a, 95) with its
 *   default linear interpolation: h = (N − 1)·0.95, a[⌊h⌋] + (h − ⌊h⌋)(a[⌊h⌋+1] − a[⌊h⌋]).
 *   O(voxels) per class present in both (the transform runs on the bounding box of P ∪ T). */
typedef struct tassl_seg_case {
    int nclasses;
    double *dice, *iou, *hd95; /* (nclasses) */
    int64_t *voxels_pred, *voxels_true;
} tassl_seg_case;

/* pred, truth: label maps of shape (D, H, W) (D = 1 for 2D) with values in [0, nclasses);
 * spacing (D, H, W) in mm, each finite and > 0 (spacing[0] is unused when D = 1). TASSL_ERR_ARG
 * naming the voxel on a label out of range, naming the axis on a bad spacing or shape, on
 * nclasses < 2. *out is zeroed first (freeing it after a failure is safe). */
tassl_status tassl_seg_case_compute(const int32_t *pred, const int32_t *truth,
                                    const int64_t shape[3], const double spacing[3], int nclasses,
                                    tassl_seg_case *out);
void tassl_seg_case_free(tassl_seg_case *c);

/* ---- detection ------------------------------------------------------------------------------ */

typedef struct tassl_det_box {
    int64_t image; /* which image (case) of the set the box belongs to */
    int32_t cls;   /* class in [0, nclasses) */
    float score;   /* confidence (ignored for ground truth) */
    float lo[3];   /* (z, y, x) = (D, H, W) voxel-edge coordinates, half-open [lo, hi) */
    float hi[3];   /* 2D: lo[0] = 0, hi[0] = 1 */
} tassl_det_box;

/* Intersection over union of two boxes (3 axes; a degenerate box has IoU 0). */
double tassl_det_iou(const tassl_det_box *a, const tassl_det_box *b);

/* Greedy non-maximum suppression within each (image, class): keeps boxes in decreasing score,
 * dropping any whose IoU with a kept one (same image and class) exceeds iou_threshold (strictly).
 * Compacts `boxes` in place (sorted by image, then decreasing score, NaN scores last, ties in
 * input order) and returns how many are kept; -1 (TASSL_ERR_NOMEM set) if scratch memory for n
 * boxes cannot be had. O(n log n + n · kept per image). */
int64_t tassl_det_nms(tassl_det_box *boxes, int64_t n, double iou_threshold);

typedef struct tassl_det_metrics {
    int nclasses, nthresholds;
    double *thresholds; /* IoU thresholds (0.5, 0.55, ..., 0.95) */
    double *ap;         /* (nthresholds · nclasses): AP of class c at threshold t, index t·K + c;
                           NaN for a class without ground truth */
    double map50;       /* mean over classes of AP at IoU 0.5 */
    double map50_95;    /* mean over thresholds and classes (COCO) */
    double froc[7];     /* sensitivity at 0.125, 0.25, 0.5, 1, 2, 4, 8 false positives per image
                           (IoU >= 0.5 hit criterion, classes pooled) */
    double froc_mean;   /* mean of froc[] (the LUNA16 / CPM score) */
} tassl_det_metrics;

/* AP per class and IoU threshold as COCO computes it: predictions of the class over all images
 * sorted by decreasing score (stable), each matched greedily to the unmatched ground-truth box
 * of its image with the highest IoU >= threshold; precision made monotone (running max from the
 * right) and sampled at the 101 recall points 0, 0.01, ..., 1. nimages: images in the set (FROC
 * divides false positives by it). Allocates *out's arrays (tassl_det_metrics_free).
 * Details: score ties keep input order; IoU ties go to the earlier ground-truth box; thresholds
 * are 0.5 + t·(0.45/9), bit-identical to COCO's numpy.linspace(0.5, 0.95, 10); the recall points
 * are j·0.01 (j < 100) and 1, numpy.linspace(0, 1, 101); AP at recall point ρ = the monotone
 * precision at the first prediction whose recall reaches ρ, 0 if none does. A class without
 * ground truth has AP NaN (left out of both means); with truth and no prediction, AP 0.
 * FROC: classes pooled, all predictions sorted by decreasing score (stable); a prediction is a
 * hit if it has IoU >= 0.5 with a not-yet-hit ground-truth box of its class in its image (the
 * one of highest IoU); every other prediction, duplicates included, is a false positive (LUNA16
 * ignores duplicates instead). A tied group of scores is one threshold. froc[i] = hits / truths
 * at the lowest threshold whose false positives / nimages <= f_i (the operating point with the
 * most predictions inside the budget; a step function, no interpolation between operating
 * points, unlike LUNA16's script); NaN without ground truth.
 * TASSL_ERR_ARG naming the box on an image or class out of range or hi < lo; TASSL_ERR_NUMERIC
 * on a non-finite coordinate or prediction score; nclasses, nimages >= 1; pred / truth may be
 * NULL when npred / ntruth is 0. *out is zeroed first (freeing it after a failure is safe).
 * Independent reference: tools/gen-metric-fixtures (a numpy COCOeval), tests/golden/metrics. */
tassl_status tassl_det_metrics_compute(const tassl_det_box *pred, int64_t npred,
                                       const tassl_det_box *truth, int64_t ntruth,
                                       int64_t nimages, int nclasses, tassl_det_metrics *out);
void tassl_det_metrics_free(tassl_det_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
