/* seg_internal.h — what the segmentation files share (segmentation.c, seg_loss.c, seg_write.c)
 * and what tests/test_seg.c checks directly: the Dice + cross-entropy loss and the prediction
 * writer. Not installed. */
#ifndef TASSL_TASK_SEG_INTERNAL_H
#define TASSL_TASK_SEG_INTERNAL_H

#include <stdint.h>
#include "tassl/image.h"
#include "tassl/io.h"
#include "tassl/tensor.h"

/* Soft Dice + cross-entropy of logits (N, K, S...) (K ≥ 2) against label maps `labels` (N, S...)
 * in host memory (integer values in [0, K) stored as floats):
 *   p = softmax(logits, 1), t = one-hot(labels);
 *   dice_c = (2 Σ p_c t_c + smooth) / (Σ p_c + Σ t_c + smooth), sums over the batch and every
 *   voxel ("batch Dice");  L_dice = 1 − mean_{c = 1..K−1} dice_c  (background excluded);
 *   L_ce = mean over voxels of −log p_label;
 *   loss = w_dice · L_dice + w_ce · L_ce.
 * This is MONAI's DiceCELoss(softmax=True, to_onehot_y=True, include_background=False,
 * batch=True, smooth_nr=smooth_dr=smooth) and, up to the constant 1, nnU-Net's
 * SoftDiceLoss(batch_dice=True, do_bg=False, smooth=1e-5) + CE (Isensee et al. 2021). Built from
 * ops, so autograd gives the gradient. dice / ce (may be NULL) receive the two terms (scalars).
 * Returns NULL with TASSL_ERR_ARG when a label is not an integer in [0, K) (naming the batch
 * element and value). */
tassl_tensor *task_seg_loss(tassl_tensor *logits, const float *labels, double w_dice, double w_ce,
                            double smooth, tassl_tensor **dice, tassl_tensor **ce);

/* Write a predicted label map `labels` (D, H, W) with the geometry of `like` (the image it was
 * predicted from, as read canonically; `info` its reader's info, or NULL): a NIfTI input gives a
 * NIfTI file (uint8, int16 when nclasses > 256) in the input's own voxel order with its affine; a
 * PNG input gives an 8-bit grey PNG (16-bit when nclasses > 256) with its pixel spacing.
 * path must end in .nii.gz / .nii or .png accordingly. Atomic (the io writers). */
tassl_status task_seg_write_pred(const char *path, const int32_t *labels, const tassl_image *like,
                                 const tassl_image_info *info, int nclasses);

/* The file name of the prediction of image `path`: "<stem>_pred.nii.gz" (NIfTI inputs) or
 * "<stem>_pred.png" (PNG inputs), stem = the base name without .nii.gz / .nii / .png. */
void task_seg_pred_name(const char *path, tassl_file_format fmt, char *out, size_t len);

#endif
