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
 * TASSL_ERR_NUMERIC naming the row on a non-finite score. */
tassl_status tassl_cls_metrics_compute(const int32_t *pred, const float *scores,
                                       const int32_t *truth, int64_t n, int nclasses,
                                       tassl_cls_metrics *out);
void tassl_cls_metrics_free(tassl_cls_metrics *m);

/* ---- segmentation --------------------------------------------------------------------------- */

/* Per-class metrics of one case (one image/volume) for classes 1..nclasses-1 (0 = background).
 * Index c of each array is class c; entry 0 is unused (NaN).
 *   Dice = 2|P∩T| / (|P|+|T|), IoU = |P∩T| / |P∪T|; both masks empty → 1 (a correct "nothing").
 *   HD95: the 95th percentile of the pooled symmetric surface distances in mm (medpy's hd95:
 *   surface = the mask minus its erosion by the face-connected structuring element; distances by
 *   an exact Euclidean distance transform with the voxel spacing); both empty → 0, one empty →
 *   NaN (undefined; counted separately in the summary of a split). */
typedef struct tassl_seg_case {
    int nclasses;
    double *dice, *iou, *hd95; /* (nclasses) */
    int64_t *voxels_pred, *voxels_true;
} tassl_seg_case;

/* pred, truth: label maps of shape (D, H, W) (D = 1 for 2D) with values in [0, nclasses);
 * spacing (D, H, W) in mm. TASSL_ERR_ARG on a label out of range or a bad spacing. */
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
 * dropping any whose IoU with a kept one exceeds iou_threshold. Compacts `boxes` in place
 * (sorted by image, then decreasing score) and returns how many are kept. */
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
 * divides false positives by it). Allocates *out's arrays (tassl_det_metrics_free). */
tassl_status tassl_det_metrics_compute(const tassl_det_box *pred, int64_t npred,
                                       const tassl_det_box *truth, int64_t ntruth,
                                       int64_t nimages, int nclasses, tassl_det_metrics *out);
void tassl_det_metrics_free(tassl_det_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
