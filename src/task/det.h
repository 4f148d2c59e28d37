/* det.h — what the detection files share (src/task/detection.c, det_targets.c, det_write.c) and
 * what tests/test_det.c checks: CenterNet targets, its loss, decoding and the writers.
 * Not installed.
 *
 * CenterNet ("Objects as Points", Zhou, Wang & Krähenbühl, arXiv:1904.07850, 2019) at full
 * resolution (output stride 1) in 2D or 3D. The head's dense output has C = K + 2·dims channels:
 *   [0, K)             heat-map logits, one per box class;
 *   [K, K + dims)      box extent per spatial axis in voxels ((H, W) in 2D, (D, H, W) in 3D);
 *   [K + dims, K + 2d) sub-voxel centre offset per axis (centre − floor(centre), in [0, 1)).
 * The offset is CenterNet's `reg` head: with voxel-edge box coordinates a box of even extent has
 * its centre on a voxel edge, so without it decoding would be off by half a voxel.
 *
 * Coordinates follow tassl_box: (D, H, W) voxel-edge coordinates, voxel i spanning [i, i + 1);
 * in 2D lo[0] = 0, hi[0] = 1 and maps have D = 1.
 */
#ifndef TASSL_TASK_DET_H
#define TASSL_TASK_DET_H

#include <stdint.h>
#include "tassl/dataset.h"
#include "tassl/metrics.h"
#include "tassl/tensor.h"

/* ---- targets (det_targets.c) ---------------------------------------------------------------- */

/* CenterNet's gaussian_radius (CenterNet/src/lib/utils/image.py, from CornerNet): the smallest
 * of the three quadratic-root radii r such that a box whose corners move by r still has IoU ≥
 * min_overlap with (h, w). Returns the real radius (the caller truncates, as CenterNet does). */
double det_gaussian_radius(double h, double w, double min_overlap);

/* The integer radius of a box's Gaussian: max(0, (int)gaussian_radius(ceil h, ceil w)) in 2D;
 * in 3D the smallest radius of the three axis pairs (d, h), (d, w), (h, w) — a conservative
 * generalisation (CenterNet is 2D only). */
int det_box_radius(const tassl_box *b, int dims, double min_overlap);

/* Dense training targets of a batch. S = (D, H, W), D = 1 in 2D. */
typedef struct det_targets {
    int dims, nclasses;
    int64_t n, size[3];
    float *heat; /* (N, K, S) per class the max of the Gaussians (peak 1 at each centre voxel) */
    float *pos;  /* (N, K, S) 1 where heat == 1 (CenterNet's pos_inds) */
    float *negw; /* (N, K, S) (1 − heat)^4 where heat < 1 (neg_weights · neg_inds) */
    float *reg;  /* (N, 2·dims, S) extent per axis, then centre offset, at centre voxels; 0 else */
    float *mask; /* (N, 1, S) 1 at centre voxels */
    int64_t nobj; /* boxes drawn (centre voxels set; a box on an occupied centre overwrites) */
    int64_t npos; /* Σ pos */
} det_targets;

/* Build the targets of n samples of spatial size `size` from boxes (N, TASSL_MAX_BOXES) with
 * nboxes (N) each, CenterNet's ctdet way: centre c = (lo + hi) / 2 per axis, centre voxel
 * floor(c) (clamped into the map), Gaussian of radius r = det_box_radius, σ = (2r + 1) / 6, values
 * below DBL_EPSILON of its peak dropped, merged by maximum; extent hi − lo and offset c − floor(c)
 * at the centre voxel. Boxes with no extent on some axis are skipped. TASSL_ERR_ARG naming the
 * sample and box for a class outside [0, nclasses); TASSL_ERR_NOMEM. *t zeroed on failure. */
tassl_status det_targets_build(det_targets *t, int dims, int nclasses, int64_t n,
                               const int64_t size[3], const int32_t *nboxes, const tassl_box *boxes,
                               double min_overlap);
void det_targets_free(det_targets *t);

/* The focal loss (as det_loss's `focal`) of a constant heat-map logit b against t:
 *   −[npos·(1−p)²·log p + Σ negw·p²·log(1−p)] / max(npos, 1),
 *   p = clamp(sigmoid(b), 1e-4, 1 − 1e-4). */
double det_focal_constant(const det_targets *t, double b);

/* The constant heat-map logit that minimises det_focal_constant on t (golden-section search over
 * the clamp's range [logit 1e-4, logit(1 − 1e-4)]) — the best prediction that ignores the image.
 * At output stride 1 the negatives outnumber the peaks by ~10⁴ (a 224 × 192 map, 6 classes, ~10
 * boxes: 26 000 to 1) and this is about logit((3·ratio)^(−1/3)) ≈ −3.8, far below CenterNet's
 * −2.19 (tuned for stride 4 and long schedules): started there, the first hundreds of steps only
 * push the background down (measured, docs/TASKS.md). NAN when t has no peak (no information). */
double det_heat_prior(const det_targets *t);

/* ---- loss (detection.c) --------------------------------------------------------------------- */

/* The CenterNet loss of the head output `out` ((N, C, H, W) in 2D, (N, C, D, H, W) in 3D,
 * C = K + 2·dims) against t, composed from ops so autograd differentiates it:
 *   focal  = −Σ [pos·(1−p)²·log p + negw·p²·log(1−p)] / max(npos, 1),
 *            p = clamp(sigmoid(heat logits), 1e-4, 1 − 1e-4)          (CenterNet's _neg_loss)
 *   size   = Σ mask·|extent − target| / (dims·nobj + 1e-4)            (RegL1Loss)
 *   offset = Σ mask·|offset − target| / (dims·nobj + 1e-4)
 *   loss   = focal + size_weight·size + offset_weight·offset.
 * parts (may be NULL) receives the host values {focal, size, offset}. */
tassl_tensor *det_loss(tassl_tensor *out, const det_targets *t, float size_weight,
                       float offset_weight, double parts[3]);

/* ---- decoding (det_targets.c) --------------------------------------------------------------- */

typedef struct det_decode_opts {
    int max_boxes;         /* top-k peaks over all classes (CenterNet's K = 100) */
    float score_threshold; /* peaks below it are dropped */
    float nms_iou;         /* tassl_det_nms threshold; ≥ 1: no NMS */
} det_decode_opts;

/* Boxes of one image from its maps: heat (K, S) probabilities (sigmoid of the logits), reg
 * (2·dims, S) as in the head's layout. A peak is a voxel whose score equals the maximum of its
 * 3×3 (3×3×3) neighbourhood (the max-pool trick of CenterNet, -inf outside the image); the top
 * max_boxes peaks by score (ties: lower class, then lower voxel index) with score ≥ threshold
 * become boxes centred at peak + offset, extent max(extent, 0), clipped to [0, size). No NMS here.
 * out must hold max_boxes boxes; returns the count. Boxes are sorted by decreasing score. */
int64_t det_decode(const float *heat, const float *reg, int dims, int nclasses,
                   const int64_t size[3], int64_t image, const det_decode_opts *o,
                   tassl_det_box *out);

/* ---- writers (det_write.c) ------------------------------------------------------------------ */

typedef struct det_record_info {
    int record;        /* manifest row */
    const char *image; /* image path */
} det_record_info;

/* predictions/boxes.csv (record,image,class,score,z0,y0,x0,z1,y1,x1) and boxes.json
 * ([{"record", "image", "boxes": [{"class", "score", "lo": [z, y, x], "hi": [z, y, x]}]}]) and
 * index.csv (record,image,truth,prediction; truth and prediction empty for detection) in dir,
 * each written atomically. boxes[].image indexes recs (0 ≤ image < nrec); every record gets a
 * JSON entry, also without boxes. TASSL_ERR_IO naming the file. */
tassl_status det_write_predictions(const char *dir, const det_record_info *recs, int nrec,
                                   const tassl_det_box *boxes, int64_t nboxes);

#endif
