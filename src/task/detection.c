/* detection.c — the detection task kind (task_ops, task_internal.h): a CenterNet head ("Objects
 * as Points", Zhou, Wang & Krähenbühl 2019) on the encoder, 2D or 3D.
 *
 * Head: a U-Net decoder over the encoder's feature pyramid ("head.decoder.*", the decoder
 * generative SSL methods use) giving dense maps at the input's resolution with K + 2·dims
 * channels — K heat-map logits, box extent per axis, sub-voxel centre offset per axis (det.h).
 * The heat-map channels' bias starts at the best constant prediction for the first training
 * batch (task.det.heat_prior fit, det_heat_prior: about −4 at stride 1) or at task.det.heat_bias
 * (fixed; CenterNet's −2.19 = −log((1−π)/π), π ≈ 0.1, made for stride 4: at stride 1 the ~10⁴
 * negatives per peak make it a focal loss of ~20 whose descent to the constant optimum takes the
 * first hundreds of steps, and real data then stayed at that constant — docs/TASKS.md); the extent
 * channels' bias at task.det.size_prior (a typical extent: the L1 loss's gradient has a constant
 * magnitude, so with Adam an extent regressed from 0 would need thousands of steps to reach
 * object sizes — a prior of the same kind as the heat map's, not in CenterNet).
 * Loss: penalty-reduced focal loss (α 2, β 4) + size_weight·L1 extent + offset_weight·L1 offset
 * at the centres (det_loss). Inference: sliding windows of the training patch over each full
 * image (window.h, Gaussian blending), peaks by the 3×3(×3) max-pool test, top-k, threshold,
 * boxes clipped to the image, greedy NMS per class (tassl_det_nms); metrics by
 * tassl_det_metrics_compute: map50 (primary), map50_95, froc_mean, froc@F, ap50/<class>.
 *
 * Keys (task.det.*): this file's section, registered by the driver with the task keys
 * (tassl_task_register_config, through task_ops.keys). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "det.h"
#include "task_internal.h"
#include "tassl/augment.h"
#include "tassl/autograd.h"
#include "tassl/nn.h"
#include "tassl/ops.h"
#include "window.h"

/* ---- configuration -------------------------------------------------------------------------- */

static const tassl_cfg_key det_keys[] = {
    {"task.det.size_weight", TASSL_CFG_FLOAT, "0.1", "[0, 1e6]", NULL,
     "detection: weight of the L1 box-extent loss at the centres (CenterNet wh_weight)"},
    {"task.det.offset_weight", TASSL_CFG_FLOAT, "1", "[0, 1e6]", NULL,
     "detection: weight of the L1 sub-voxel centre-offset loss (CenterNet off_weight)"},
    {"task.det.min_overlap", TASSL_CFG_FLOAT, "0.7", "(0, 1)", NULL,
     "detection: IoU that fixes the radius of a target's Gaussian peak (CenterNet "
     "gaussian_radius)"},
    {"task.det.heat_prior", TASSL_CFG_ENUM, "fit", NULL, "fit|fixed",
     "detection: initial heat-map bias: fit = the constant logit minimising the focal loss on the "
     "first training batch (at stride 1 about -4; det.h det_heat_prior), fixed = "
     "task.det.heat_bias"},
    {"task.det.heat_bias", TASSL_CFG_FLOAT, "-2.19", "[-100, 100]", NULL,
     "detection: initial bias of the heat-map logits with task.det.heat_prior fixed (CenterNet: "
     "-2.19, prior 0.1)"},
    {"task.det.size_prior", TASSL_CFG_FLOAT, "8", "[0, 1e6]", NULL,
     "detection: initial bias of the box-extent outputs, a typical box extent in voxels (0 = "
     "CenterNet's zero init; with Adam a bias moves about lr per step)"},
    {"task.det.max_boxes", TASSL_CFG_INT, "100", "[1, 100000]", NULL,
     "detection: peaks kept per image before NMS (top-k over all classes)"},
    {"task.det.score_threshold", TASSL_CFG_FLOAT, "0.05", "[0, 1]", NULL,
     "detection: peaks with a lower score are dropped"},
    {"task.det.nms_iou", TASSL_CFG_FLOAT, "0.5", "(0, 1]", NULL,
     "detection: greedy per-class NMS IoU threshold (1 = no suppression)"},
    {"task.det.window_overlap", TASSL_CFG_FLOAT, "0.5", "[0, 0.95]", NULL,
     "detection: overlap of neighbouring windows when an image is larger than the patch"},
};

static const tassl_cfg_section det_section = {
    .name = "task.det",
    .keys = det_keys,
    .nkeys = (int)(sizeof det_keys / sizeof det_keys[0]),
};

/* ---- the loss ------------------------------------------------------------------------------- */

/* Upload a host array as a tensor of `like`'s spatial shape with c channels. */
static tassl_tensor *upload(tassl_ctx *ctx, const tassl_tensor *like, int64_t c, const float *v) {
    int64_t shape[TASSL_MAX_DIMS];
    memcpy(shape, like->shape, sizeof shape);
    shape[1] = c;
    return tassl_from_host(ctx, like->ndim, shape, v);
}

tassl_tensor *det_loss(tassl_tensor *out, const det_targets *t, float size_weight,
                       float offset_weight, double parts[3]) {
    tassl_ctx *ctx = out->ctx;
    int k = t->nclasses, d = t->dims;
    TASSL_CHECK(out->ndim == d + 2 && out->shape[0] == t->n && out->shape[1] == k + 2 * d,
                "det_loss: head output has %d dims, %lld channels; expected %d dims, %d channels",
                out->ndim, (long long)out->shape[1], d + 2, k + 2 * d);
    tassl_tensor *heat = tassl_slice(out, 1, 0, k, 1);            /* (N, K, S) */
    tassl_tensor *ext = tassl_slice(out, 1, k, k + d, 1);         /* (N, dims, S) */
    tassl_tensor *off = tassl_slice(out, 1, k + d, k + 2 * d, 1); /* (N, dims, S) */
    tassl_tensor *pos = upload(ctx, out, k, t->pos);
    tassl_tensor *negw = upload(ctx, out, k, t->negw);
    tassl_tensor *reg = upload(ctx, out, 2 * d, t->reg);
    tassl_tensor *mask = upload(ctx, out, 1, t->mask); /* (N, 1, S) broadcast */

    /* focal: CenterNet's _neg_loss on p = clamp(sigmoid(x), 1e-4, 1 − 1e-4) */
    tassl_tensor *p = tassl_clamp(tassl_sigmoid(heat), 1e-4f, 1 - 1e-4f);
    tassl_tensor *q = tassl_add_scalar(tassl_neg(p), 1); /* 1 − p */
    tassl_tensor *pos_t = tassl_mul(tassl_mul(tassl_log(p), tassl_mul(q, q)), pos);
    tassl_tensor *neg_t = tassl_mul(tassl_mul(tassl_log(q), tassl_mul(p, p)), negw);
    double npos = t->npos > 0 ? (double)t->npos : 1.0;
    tassl_tensor *focal = tassl_scale(tassl_sum_all(tassl_add(pos_t, neg_t)), (float)(-1 / npos));

    /* RegL1Loss: masked L1 over the dims·nobj centre entries */
    float norm = (float)(1 / ((double)d * (double)t->nobj + 1e-4));
    tassl_tensor *text = tassl_slice(reg, 1, 0, d, 1), *toff = tassl_slice(reg, 1, d, 2 * d, 1);
    tassl_tensor *l_ext =
        tassl_scale(tassl_sum_all(tassl_mul(tassl_abs(tassl_sub(ext, text)), mask)), norm);
    tassl_tensor *l_off =
        tassl_scale(tassl_sum_all(tassl_mul(tassl_abs(tassl_sub(off, toff)), mask)), norm);

    tassl_tensor *loss = tassl_add(
        focal, tassl_add(tassl_scale(l_ext, size_weight), tassl_scale(l_off, offset_weight)));
    if (parts) {
        parts[0] = tassl_item(focal);
        parts[1] = tassl_item(l_ext);
        parts[2] = tassl_item(l_off);
    }
    return loss;
}

/* ---- the task ------------------------------------------------------------------------------- */

typedef struct det_state {
    tassl_ctx *ctx;
    tassl_params *params;
    tassl_encoder *encoder;
    tassl_unet_decoder *dec;
    int dims, k;
    int64_t patch[3]; /* training sample (D, H, W) = the inference window */
    double size_weight, offset_weight, min_overlap, heat_bias, size_prior;
    double score_threshold, nms_iou, window_overlap;
    int max_boxes;
    bool fit_heat; /* heat_prior fit and not yet done: set the heat bias at the first batch */
    int axis;      /* 2D samples from volumes: data.axis (the windows' slicing) */
    int batch;     /* windows per forward pass */
} det_state;

static tassl_status det_create(const task_env *env, void **out) {
    *out = NULL;
    if (env->nclasses < 1)
        return tassl_error(TASSL_ERR_ARG,
                           "detection: the data have no box classes (a manifest with a boxes "
                           "column is needed)");
    tassl_feature_info fi = tassl_encoder_features(env->encoder);
    if (fi.n < 2)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.arch: detection needs an encoder with a feature pyramid "
                           "(resnet or unet), the ViT has none");
    det_state *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "detection: out of host memory");
    const tassl_config *c = env->cfg;
    s->ctx = env->ctx;
    s->params = env->params;
    s->encoder = env->encoder;
    s->dims = env->dims;
    s->k = env->nclasses;
    for (int a = 0; a < 3; a++)
        s->patch[a] = env->sample[1 + a];
    s->size_weight = tassl_config_float(c, "task.det.size_weight");
    s->offset_weight = tassl_config_float(c, "task.det.offset_weight");
    s->min_overlap = tassl_config_float(c, "task.det.min_overlap");
    s->heat_bias = tassl_config_float(c, "task.det.heat_bias");
    s->fit_heat = strcmp(tassl_config_str(c, "task.det.heat_prior"), "fit") == 0;
    s->size_prior = tassl_config_float(c, "task.det.size_prior");
    s->max_boxes = (int)tassl_config_int(c, "task.det.max_boxes");
    s->score_threshold = tassl_config_float(c, "task.det.score_threshold");
    s->nms_iou = tassl_config_float(c, "task.det.nms_iou");
    s->window_overlap = tassl_config_float(c, "task.det.window_overlap");
    s->axis = tassl_config_key_find("data.axis") ? (int)tassl_config_int(c, "data.axis") : 0;
    s->batch = env->batch > 0 ? (int)(env->batch < 16 ? env->batch : 16) : 1;

    tassl_unet_decoder_cfg dc = {.classes = s->k + 2 * s->dims, .up = TASSL_UP_TRANSPOSED};
    tassl_status st = tassl_norm_kind_parse(tassl_config_str(c, "model.norm"), &dc.norm.kind);
    if (st != TASSL_OK) {
        free(s);
        return st;
    }
    if (dc.norm.kind == TASSL_NORM_LAYER) dc.norm.kind = TASSL_NORM_GROUP;
    dc.norm.groups = (int)tassl_config_int(c, "model.groups");
    st = tassl_unet_decoder_new(env->params, "head.decoder", &fi, &dc, &s->dec);
    if (st != TASSL_OK) {
        free(s);
        return st;
    }
    *out = s;
    return TASSL_OK;
}

static tassl_status det_init(void *state) {
    det_state *s = state;
    tassl_status st = tassl_module_init(tassl_unet_decoder_module(s->dec));
    if (st != TASSL_OK) return st;
    tassl_tensor *bias = tassl_params_find(s->params, "head.decoder.head.bias");
    if (!bias) return tassl_error(TASSL_ERR_ARG, "detection head: no head.decoder.head.bias");
    int64_t n = tassl_numel(bias);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return tassl_error(TASSL_ERR_NOMEM, "detection head: out of host memory");
    st = tassl_tensor_read(bias, v);
    for (int i = 0; i < s->k + s->dims && i < n; i++)
        v[i] = (float)(i < s->k ? s->heat_bias : s->size_prior);
    if (st == TASSL_OK) st = tassl_tensor_write(bias, v);
    free(v);
    return st;
}

/* Set the K heat-map biases to b (the fitted prior). */
static tassl_status set_heat_bias(det_state *s, double b) {
    tassl_tensor *bias = tassl_params_find(s->params, "head.decoder.head.bias");
    if (!bias) return tassl_error(TASSL_ERR_ARG, "detection head: no head.decoder.head.bias");
    int64_t n = tassl_numel(bias);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return tassl_error(TASSL_ERR_NOMEM, "detection head: out of host memory");
    tassl_status st = tassl_tensor_read(bias, v);
    for (int i = 0; i < s->k && i < n; i++)
        v[i] = (float)b;
    if (st == TASSL_OK) st = tassl_tensor_write(bias, v);
    free(v);
    return st;
}

/* x (N, C, S...) → head output (N, K + 2·dims, S...). */
static tassl_tensor *det_forward(det_state *s, tassl_tensor *x, bool train_encoder, bool train) {
    tassl_features f = {0};
    tassl_encoder_forward(s->encoder, x, train_encoder, &f);
    return tassl_unet_decoder_forward(s->dec, &f, train);
}

static tassl_tensor *det_task_loss(void *state, const task_env *env, const tassl_batch *b,
                                   tassl_metric *parts, int *nparts) {
    det_state *s = state;
    if (nparts) *nparts = 0;
    int64_t size[3] = {b->d, b->h, b->w};
    det_targets t;
    tassl_status st =
        det_targets_build(&t, s->dims, s->k, b->n, size, b->nboxes, b->boxes, s->min_overlap);
    if (st != TASSL_OK) {
        tassl_ctx_fail(s->ctx, st);
        return NULL;
    }
    if (s->fit_heat) { /* before the first forward: a fresh head (training only calls this) */
        double hb = det_heat_prior(&t);
        if (isfinite(hb)) { /* a batch without boxes says nothing: try the next one */
            st = set_heat_bias(s, hb);
            if (st != TASSL_OK) {
                det_targets_free(&t);
                tassl_ctx_fail(s->ctx, st);
                return NULL;
            }
            s->fit_heat = false;
            if (!env->quiet)
                printf("detection: heat-map bias %.3f (score %.4f), the best constant on the first "
                       "batch (focal %.3f; at task.det.heat_bias %.2f: %.3f)\n",
                       hb, 1 / (1 + exp(-hb)), det_focal_constant(&t, hb), s->heat_bias,
                       det_focal_constant(&t, s->heat_bias));
        }
    }
    tassl_tensor *x = task_input(env, b->x[0], b->n);
    tassl_tensor *out = det_forward(s, x, !env->frozen, true);
    double v[3];
    tassl_tensor *loss =
        det_loss(out, &t, (float)s->size_weight, (float)s->offset_weight, parts ? v : NULL);
    det_targets_free(&t);
    if (parts && nparts) {
        static const char *names[3] = {"focal", "size", "offset"};
        for (int i = 0; i < 3; i++) {
            parts[i].name = names[i];
            parts[i].value = v[i];
        }
        *nparts = 3;
    }
    return loss;
}

/* The window callback: n windows → heat probabilities (K) and raw extent/offset (2·dims). */
typedef struct win_user {
    det_state *s;
} win_user;

static tassl_status det_window(void *user, const float *windows, int64_t n, const int64_t shape[4],
                               float *probs) {
    det_state *s = ((win_user *)user)->s;
    tassl_scope_begin(s->ctx);
    tassl_tensor *x =
        s->dims == 2
            ? tassl_from_host(s->ctx, TASSL_SHAPE(n, shape[0], shape[2], shape[3]), windows)
            : tassl_from_host(s->ctx, TASSL_SHAPE(n, shape[0], shape[1], shape[2], shape[3]),
                              windows);
    tassl_tensor *out = det_forward(s, x, false, false); /* (n, K + 2·dims, S) */
    int64_t c = out->shape[1];
    tassl_tensor *heat = tassl_sigmoid(tassl_slice(out, 1, 0, s->k, 1));
    tassl_tensor *rest = tassl_slice(out, 1, s->k, c, 1);
    tassl_tensor *parts[2] = {heat, rest};
    tassl_tensor *all = tassl_concat(2, parts, 1);
    tassl_status st = tassl_tensor_read(all, probs);
    if (st == TASSL_OK) st = tassl_ctx_status(s->ctx);
    tassl_scope_end(s->ctx);
    return st;
}

static tassl_status det_evaluate(void *state, const task_env *env, tassl_dataset *ds,
                                 const char *pred_dir, tassl_task_result *out) {
    det_state *s = state;
    int64_t n = tassl_dataset_len(ds);
    int nc = s->k, d = s->dims;
    int64_t cap_pred = 1024, npred = 0, cap_true = 256, ntrue = 0;
    tassl_det_box *pred = malloc((size_t)cap_pred * sizeof *pred);
    tassl_det_box *truth = malloc((size_t)cap_true * sizeof *truth);
    tassl_det_box *tmp = malloc((size_t)s->max_boxes * sizeof *tmp);
    det_record_info *recs = calloc((size_t)(n > 0 ? n : 1), sizeof *recs);
    tassl_status st = TASSL_OK;
    if (!pred || !truth || !tmp || !recs)
        st = tassl_error(TASSL_ERR_NOMEM, "detection: out of host memory");
    float *maps = NULL;
    det_decode_opts dopt = {.max_boxes = s->max_boxes,
                            .score_threshold = (float)s->score_threshold,
                            .nms_iou = (float)s->nms_iou};
    win_user wu = {s};
    tassl_no_grad_begin(s->ctx);
    for (int64_t i = 0; i < n && st == TASSL_OK; i++) {
        tassl_sample smp;
        st = task_eval_sample(env, ds, i, &smp);
        if (st != TASSL_OK) break;
        /* sample i comes from used record i / samples_per_image (1 from det_dataset_opts) */
        int64_t per = n / tassl_dataset_records(ds);
        const tassl_record *rec = tassl_dataset_record(ds, (int)(i / (per > 0 ? per : 1)));
        recs[i].record = smp.prov.record;
        recs[i].image = rec ? rec->image : "";
        int64_t size[3] = {smp.image.d, smp.image.h, smp.image.w};
        int64_t vox = size[0] * size[1] * size[2];
        float *m =
            st == TASSL_OK ? realloc(maps, (size_t)(vox * (nc + 2 * d)) * sizeof *maps) : NULL;
        if (st == TASSL_OK && !m)
            st = tassl_error(TASSL_ERR_NOMEM, "detection: out of host memory");
        if (st == TASSL_OK) {
            maps = m;
            /* pad as training pads: the dataset pads raw 0, which the normalisation keeps at 0
             * when it only uses the nonzero voxels (MRI z-score: background 0, not the minimum,
             * which is −2 there) or when there is none; otherwise the image's minimum (air) */
            float lo = INFINITY;
            int64_t nv = smp.image.channels * vox;
            if (env->norm.norm_nonzero || env->norm.norm == TASSL_INTENSITY_NONE)
                lo = 0;
            else
                for (int64_t e = 0; e < nv; e++)
                    if (smp.image.data[e] < lo) lo = smp.image.data[e];
            task_window_opts wo = {.dim = d,
                                   .axis = s->axis,
                                   .overlap = s->window_overlap,
                                   .blend = TASK_BLEND_GAUSSIAN,
                                   .batch = s->batch,
                                   .pad_value = isfinite(lo) ? lo : 0,
                                   .nclasses = nc + 2 * d};
            memcpy(wo.patch, s->patch, sizeof wo.patch);
            st = task_window_run(&smp.image, &wo, det_window, &wu, maps, NULL);
        }
        if (st == TASSL_OK) {
            int64_t k = det_decode(maps, maps + (int64_t)nc * vox, d, nc, size, i, &dopt, tmp);
            if (s->nms_iou < 1) k = tassl_det_nms(tmp, k, s->nms_iou);
            if (k < 0) {
                st = TASSL_ERR_NOMEM; /* message set by tassl_det_nms */
                k = 0;
            }
            if (npred + k > cap_pred || ntrue + smp.nboxes > cap_true) {
                while (npred + k > cap_pred)
                    cap_pred *= 2;
                while (ntrue + smp.nboxes > cap_true)
                    cap_true *= 2;
                tassl_det_box *p2 = realloc(pred, (size_t)cap_pred * sizeof *pred);
                if (p2) pred = p2;
                tassl_det_box *t2 = realloc(truth, (size_t)cap_true * sizeof *truth);
                if (t2) truth = t2;
                if (!p2 || !t2) st = tassl_error(TASSL_ERR_NOMEM, "detection: out of host memory");
            }
            if (st == TASSL_OK) {
                memcpy(pred + npred, tmp, (size_t)k * sizeof *tmp);
                npred += k;
                for (int j = 0; j < smp.nboxes; j++) {
                    const tassl_box *b = &smp.boxes[j];
                    tassl_det_box *t = &truth[ntrue++];
                    memset(t, 0, sizeof *t);
                    t->image = i;
                    t->cls = b->label;
                    t->score = 1;
                    memcpy(t->lo, b->lo, sizeof t->lo);
                    memcpy(t->hi, b->hi, sizeof t->hi);
                    if (d == 2) {
                        t->lo[0] = 0;
                        t->hi[0] = 1;
                    }
                    if (b->label < 0 || b->label >= nc)
                        st = tassl_error(TASSL_ERR_ARG,
                                         "%s: box %d has class %d; the task has %d box classes",
                                         recs[i].image, j, b->label, nc);
                }
            }
        }
        tassl_sample_free(&smp);
    }
    tassl_no_grad_end(s->ctx);
    free(maps);
    free(tmp);
    tassl_det_metrics m = {0};
    if (st == TASSL_OK && n > 0)
        st = tassl_det_metrics_compute(pred, npred, truth, ntrue, n, nc, &m);
    else if (st == TASSL_OK)
        st = tassl_error(TASSL_ERR_ARG, "detection: the evaluation split has no records");
    if (st == TASSL_OK) {
        static const char *fnames[7] = {"froc@0.125", "froc@0.25", "froc@0.5", "froc@1",
                                        "froc@2",     "froc@4",    "froc@8"};
        tassl_task_result_set(out, "map50", m.map50);
        tassl_task_result_set(out, "map50_95", m.map50_95);
        tassl_task_result_set(out, "froc_mean", m.froc_mean);
        for (int f = 0; f < 7; f++)
            tassl_task_result_set(out, fnames[f], m.froc[f]);
        for (int c = 0; c < nc; c++) {
            char name[48];
            snprintf(name, sizeof name, "ap50/%d", c);
            tassl_task_result_set(out, name, m.ap[c]); /* threshold 0 = IoU 0.5 */
        }
        snprintf(out->primary, sizeof out->primary, "map50");
        out->samples = n;
        tassl_det_metrics_free(&m);
    }
    if (st == TASSL_OK && pred_dir) {
        /* sorted by image, then decreasing score, as NMS leaves each image */
        st = det_write_predictions(pred_dir, recs, (int)n, pred, npred);
    }
    free(pred);
    free(truth);
    free(recs);
    return st;
}

static void det_dataset_opts(const task_env *env, bool training, tassl_dataset_opts *o) {
    if (training) return; /* the driver's patch sampling */
    /* evaluation: each record once, whole (sliding windows cover it) */
    o->patch[0] = env->dims == 2 ? 1 : 0;
    o->patch[1] = 0;
    o->patch[2] = 0;
    o->samples_per_image = 1;
    o->sampling = TASSL_SAMPLING_UNIFORM;
}

static void det_destroy(void *state) {
    det_state *s = state;
    if (!s) return;
    tassl_unet_decoder_free(s->dec);
    free(s);
}

const task_ops task_detection = {
    .kind = TASSL_TASK_DETECTION,
    .name = "detection",
    .create = det_create,
    .init = det_init,
    .loss = det_task_loss,
    .evaluate = det_evaluate,
    .dataset_opts = det_dataset_opts,
    .destroy = det_destroy,
    .keys = &det_section,
};
