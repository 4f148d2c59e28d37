/* window.h — sliding-window inference over whole images and volumes (segmentation; reusable by
 * detection heat maps). Not installed.
 *
 * The network sees windows of its training patch size; an image of any size is covered by a
 * grid of windows, each window's per-voxel class probabilities are weighted by an importance map
 * and accumulated, and the sum is normalised by the summed weights (nnU-Net's
 * predict_sliding_window_return_logits; Isensee et al., Nature Methods 2021):
 *   - steps per axis (nnU-Net's compute_steps_for_sliding_window): target step = patch ·
 *     (1 − overlap); n = ceil((size − patch) / target) + 1 windows, spread evenly so that the first
 *     starts at 0 and the last ends at the border: start_i = round(i · (size − patch) / (n − 1));
 *   - an axis smaller than the patch gets one window centred on it, the outside padded with
 *     pad_value (as the dataset pads a too-small image, origin −(patch − size) / 2); only the
 *     voxels inside the image are accumulated;
 *   - Gaussian importance (nnU-Net's compute_gaussian): w(v) = Π_a exp(−(v_a − c_a)² / (2 σ_a²)),
 *     c_a = patch_a / 2 (integer division), σ_a = patch_a / 8, maximum 1 at the centre; entries
 *     that would be 0 get the smallest non-zero weight. (nnU-Net's scipy filter truncates the
 *     kernel at 4 σ, i.e. at the window border for σ = patch / 8: the same map inside the window.)
 *     Constant blending: w = 1 (plain averaging, MONAI's mode "constant").
 * 2D windows on a volume run over each slice across `axis`, with the same axis mapping as the
 * dataset's 2D samples (dataset.c: axis 1 → sample (H, W) = (D, W), axis 2 → (D, H)).
 *
 * The network is a callback on host memory, so the blending is tested with a fake network: a
 * pointwise callback makes the blended result equal its output exactly.
 */
#ifndef TASSL_TASK_WINDOW_H
#define TASSL_TASK_WINDOW_H

#include <stdint.h>
#include "tassl/image.h"
#include "tassl/status.h"

typedef enum task_blend {
    TASK_BLEND_GAUSSIAN = 0,
    TASK_BLEND_CONSTANT = 1,
} task_blend;

typedef struct task_window_opts {
    int dim;          /* 2: 2D windows (slices across `axis` of a volume, or a 2D image); 3: 3D */
    int axis;         /* dim 2 on a volume: 0 = D, 1 = H, 2 = W (as tassl_dataset_opts.axis) */
    int64_t patch[3]; /* window (D, H, W) in sample axes; patch[0] is taken as 1 for dim 2 */
    double overlap;   /* [0, 1): fraction of a window its neighbour shares (0.5) */
    task_blend blend;
    int batch;       /* windows per callback call (≥ 1) */
    float pad_value; /* input value outside the image */
    int nclasses;    /* K: channels the callback returns */
} task_window_opts;

/* The network: n windows (n, C, pd, ph, pw) (shape = (C, pd, ph, pw), pd = 1 for 2D) → per-voxel
 * class probabilities `probs` (n, K, pd, ph, pw), written by the callback. Any error status stops
 * the run and is returned as is. */
typedef tassl_status (*task_window_fn)(void *user, const float *windows, int64_t n,
                                       const int64_t shape[4], float *probs);

/* Number of window positions along an axis of `size` voxels for windows of `patch` (1 when
 * size <= patch). */
int64_t task_window_nsteps(int64_t size, int64_t patch, double overlap);
/* The window starts along that axis into steps (task_window_nsteps entries); negative (centred,
 * padded) when size < patch. */
void task_window_steps(int64_t size, int64_t patch, double overlap, int64_t *steps);
/* The importance map of a window (pd, ph, pw) into w (pd·ph·pw floats). */
void task_window_importance(const int64_t patch[3], task_blend blend, float *w);

/* Run the windows over img (C, D, H, W) and blend. probs (K, D, H, W) (NULL: not wanted) gets
 * the normalised probabilities, labels (D, H, W) (NULL: not wanted) their argmax (lowest class on
 * ties). TASSL_ERR_ARG for bad options (naming them), TASSL_ERR_NOMEM, TASSL_ERR_NUMERIC naming
 * the image when the callback returns a non-finite probability, or the callback's error. */
tassl_status task_window_run(const tassl_image *img, const task_window_opts *o, task_window_fn fn,
                             void *user, float *probs, int32_t *labels);

#endif
