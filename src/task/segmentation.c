/* segmentation.c — the segmentation task kind (task_ops, task_internal.h): a U-Net decoder over
 * the encoder's feature pyramid (head.decoder.*, 2D and 3D), the soft Dice + cross-entropy loss
 * (seg_loss.c), foreground-oversampled training patches, and evaluation by sliding windows over
 * every whole image/volume of the split (window.c) with Dice, IoU and HD95 per class
 * (tassl_seg_case_compute) and predictions on the input's grid (seg_write.c).
 *
 * Choices and why:
 *   - the head is the same U-Net decoder the generative SSL methods use (tassl_ssl_decoder_new
 *     with prefix "head." declares these very names): transposed-conv up-sampling, model.norm,
 *     logits (N, K, S...) at the input size. It is built here from the feature description so
 *     that a frozen encoder can run in eval mode while the decoder trains, and so that the U-Net
 *     arch gets a K-class decoder of its own (its decoder.* reconstructs the input);
 *   - training patches: with probability task.seg.fg_prob (0.5) centred on a foreground voxel
 *     (nnU-Net oversamples foreground with p = 0.33; small lesions need more), else uniform;
 *     `balanced` centres on a class drawn uniformly among those present (background included);
 *   - inference windows are the training patch size, overlap 0.5, Gaussian weights σ = patch/8
 *     (nnU-Net); each window is intensity-normalised exactly as a training sample is, so the
 *     network sees the input distribution it was trained on: with norm_scope patch (default)
 *     the window itself is normalised (data.aug.preset + data.aug.set); with norm_scope image
 *     the whole image/volume is normalised once before the windows are cut (as the dataset
 *     normalises each training record's whole image), and windows are not re-normalised;
 *   - metrics per case on the full grid with the image's voxel spacing; a split's value of a
 *     class is the mean over cases, the headline value the mean over foreground classes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "seg_internal.h"
#include "task_internal.h"
#include "tassl/augment.h"
#include "tassl/io.h"
#include "tassl/nn.h"
#include "tassl/ops.h"
#include "window.h"

static const tassl_cfg_key keys[] = {
    {"task.seg.dice_weight", TASSL_CFG_FLOAT, "1", "[0, 1e6]", NULL,
     "segmentation loss: weight of the soft Dice term (foreground classes, batch Dice)"},
    {"task.seg.ce_weight", TASSL_CFG_FLOAT, "1", "[0, 1e6]", NULL,
     "segmentation loss: weight of the cross-entropy term"},
    {"task.seg.smooth", TASSL_CFG_FLOAT, "1e-5", "(0, 1e6]", NULL,
     "soft Dice smoothing added to numerator and denominator (MONAI / nnU-Net 1e-5)"},
    {"task.seg.sampling", TASSL_CFG_ENUM, "foreground", NULL, "foreground|balanced|uniform",
     "training patches: centred on a foreground voxel / on a voxel of a class drawn uniformly "
     "among those present, with probability fg_prob; or uniform"},
    {"task.seg.fg_prob", TASSL_CFG_FLOAT, "0.5", "[0, 1]", NULL,
     "probability that a training patch is centred by the sampling rule (else uniform)"},
    {"task.seg.overlap", TASSL_CFG_FLOAT, "0.5", "[0, 1)", NULL,
     "sliding-window inference: fraction of a window shared with its neighbour"},
    {"task.seg.blend", TASSL_CFG_ENUM, "gaussian", NULL, "gaussian|constant",
     "sliding-window blending: Gaussian importance (sigma = patch/8, nnU-Net) or plain mean"},
    {"task.seg.sw_batch", TASSL_CFG_INT, "4", "[1, 4096]", NULL,
     "sliding-window inference: windows per network call"},
};
static const tassl_cfg_section section = {
    .name = "task.seg",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
};

typedef struct seg_state {
    tassl_unet_decoder *dec;
    int K, dims, axis;
    int64_t patch[3];
    double w_dice, w_ce, smooth, overlap;
    task_blend blend;
    int sw_batch;
} seg_state;

static tassl_status seg_create(const task_env *env, void **state) {
    *state = NULL;
    if (env->nclasses < 2)
        return tassl_error(TASSL_ERR_ARG,
                           "segmentation: %d classes; a mask needs background 0 and at least one "
                           "foreground class",
                           env->nclasses);
    if (!tassl_config_key_find(keys[0].name))
        return tassl_error(TASSL_ERR_ARG, "segmentation: the task.seg.* keys are not registered "
                                          "(register task_segmentation.keys before the config)");
    tassl_feature_info fi = tassl_encoder_features(env->encoder);
    if (fi.n < 2)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "segmentation: model.arch %s has no feature pyramid for a U-Net "
                           "decoder (use resnet or unet)",
                           tassl_config_str(env->cfg, "model.arch"));
    seg_state *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "segmentation: out of host memory");
    const tassl_config *c = env->cfg;
    s->K = env->nclasses;
    s->dims = env->dims;
    s->axis = (int)tassl_config_int(c, "data.axis");
    for (int a = 0; a < 3; a++)
        s->patch[a] = env->sample[1 + a];
    s->w_dice = tassl_config_float(c, "task.seg.dice_weight");
    s->w_ce = tassl_config_float(c, "task.seg.ce_weight");
    s->smooth = tassl_config_float(c, "task.seg.smooth");
    s->overlap = tassl_config_float(c, "task.seg.overlap");
    s->blend = strcmp(tassl_config_str(c, "task.seg.blend"), "constant") == 0 ? TASK_BLEND_CONSTANT
                                                                              : TASK_BLEND_GAUSSIAN;
    s->sw_batch = (int)tassl_config_int(c, "task.seg.sw_batch");
    if (s->w_dice == 0 && s->w_ce == 0) {
        free(s);
        return tassl_error(TASSL_ERR_ARG,
                           "task.seg.dice_weight and task.seg.ce_weight are both 0: no loss");
    }
    tassl_unet_decoder_cfg dc = {.classes = s->K, .up = TASSL_UP_TRANSPOSED};
    tassl_status st = tassl_norm_kind_parse(tassl_config_str(c, "model.norm"), &dc.norm.kind);
    dc.norm.groups = (int)tassl_config_int(c, "model.groups");
    if (st == TASSL_OK && dc.norm.kind == TASSL_NORM_LAYER) dc.norm.kind = TASSL_NORM_BATCH;
    if (st == TASSL_OK) st = tassl_unet_decoder_new(env->params, "head.decoder", &fi, &dc, &s->dec);
    if (st != TASSL_OK) {
        free(s);
        return task_wrap(st, "segmentation head");
    }
    *state = s;
    return TASSL_OK;
}

static tassl_status seg_init(void *state) {
    seg_state *s = state;
    return tassl_module_init(tassl_unet_decoder_module(s->dec));
}

static void seg_destroy(void *state) {
    seg_state *s = state;
    if (!s) return;
    tassl_unet_decoder_free(s->dec);
    free(s);
}

/* x (N, C, S...) → logits (N, K, S...). A frozen encoder runs in eval mode without a tape. */
static tassl_tensor *seg_forward(seg_state *s, const task_env *env, tassl_tensor *x,
                                 bool training) {
    tassl_features f = {0};
    if (env->frozen) tassl_no_grad_begin(env->ctx);
    tassl_encoder_forward(env->encoder, x, training && !env->frozen, &f);
    if (env->frozen) tassl_no_grad_end(env->ctx);
    return tassl_unet_decoder_forward(s->dec, &f, training);
}

static tassl_tensor *seg_loss(void *state, const task_env *env, const tassl_batch *b,
                              tassl_metric *parts, int *nparts) {
    seg_state *s = state;
    *nparts = 0;
    if (!b->mask) {
        tassl_error(TASSL_ERR_ARG, "segmentation: the training data have no masks (the manifest "
                                   "needs a mask column)");
        return NULL;
    }
    tassl_tensor *x = task_input(env, b->x[0], b->n);    /* (N, C, S...) */
    tassl_tensor *logits = seg_forward(s, env, x, true); /* (N, K, S...) */
    tassl_tensor *dice = NULL, *ce = NULL;
    tassl_tensor *loss = task_seg_loss(logits, b->mask, s->w_dice, s->w_ce, s->smooth, &dice, &ce);
    if (!loss) return NULL;
    if (tassl_ctx_status(env->ctx) != TASSL_OK) {
        tassl_error(tassl_ctx_status(env->ctx), "segmentation loss: %s",
                    tassl_ctx_error_message(env->ctx));
        return NULL;
    }
    parts[0] = (tassl_metric){"dice", tassl_item(dice)};
    parts[1] = (tassl_metric){"ce", tassl_item(ce)};
    *nparts = 2;
    return loss;
}

static void seg_dataset_opts(const task_env *env, bool training, tassl_dataset_opts *o) {
    if (!training) { /* evaluation reads whole images itself; one sample per record */
        o->sampling = TASSL_SAMPLING_UNIFORM;
        o->samples_per_image = 1;
        return;
    }
    const char *smp = tassl_config_str(env->cfg, "task.seg.sampling");
    o->sampling = strcmp(smp, "balanced") == 0  ? TASSL_SAMPLING_BALANCED
                  : strcmp(smp, "uniform") == 0 ? TASSL_SAMPLING_UNIFORM
                                                : TASSL_SAMPLING_FOREGROUND;
    o->fg_prob = (float)tassl_config_float(env->cfg, "task.seg.fg_prob");
}

/* ---- evaluation ----------------------------------------------------------------------------- */

typedef struct seg_eval {
    seg_state *s;
    const task_env *env;
} seg_eval;

/* the network as a sliding-window callback: normalise each window as a training sample (nothing
 * to do for norm_scope image: eval_case normalised the whole image), forward
 * in eval mode without a tape, softmax, back to the host */
static tassl_status window_fn(void *user, const float *win, int64_t n, const int64_t shape[4],
                              float *probs) {
    seg_eval *e = user;
    const task_env *env = e->env;
    int64_t per = shape[0] * shape[1] * shape[2] * shape[3];
    float *x = malloc((size_t)(n * per) * sizeof(float));
    if (!x) return tassl_error(TASSL_ERR_NOMEM, "segmentation: out of host memory");
    tassl_status st = TASSL_OK;
    for (int64_t i = 0; i < n && st == TASSL_OK; i++) {
        tassl_image im;
        st = tassl_image_new(&im, (int)shape[0], shape[1], shape[2], shape[3]);
        if (st != TASSL_OK) break;
        memcpy(im.data, win + i * per, (size_t)per * sizeof(float));
        tassl_aug_sample as = {.image = &im};
        st = tassl_aug_apply(&env->norm, &as, 0, (uint64_t)i, 0, NULL);
        if (st == TASSL_OK) memcpy(x + i * per, im.data, (size_t)per * sizeof(float));
        tassl_image_free(&im);
    }
    if (st != TASSL_OK) {
        free(x);
        return st;
    }
    tassl_ctx *ctx = env->ctx;
    tassl_scope_begin(ctx);
    tassl_no_grad_begin(ctx);
    tassl_tensor *in = task_input(env, x, n);
    tassl_tensor *p = tassl_softmax(seg_forward(e->s, env, in, false), 1); /* (n, K, S...) */
    st = tassl_ctx_status(ctx);
    if (st == TASSL_OK) st = tassl_tensor_read(p, probs);
    if (st == TASSL_OK) st = tassl_ctx_status(ctx);
    if (st != TASSL_OK)
        st = tassl_error(st, "segmentation inference: %s", tassl_ctx_error_message(ctx));
    tassl_no_grad_end(ctx);
    tassl_scope_end(ctx);
    free(x);
    return st;
}

/* mkdir DIR if it does not exist */
static tassl_status ensure_dir(const char *dir) {
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) return TASSL_OK;
    return tassl_error(TASSL_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
}

typedef struct seg_sums {
    double *dice, *iou, *hd; /* (K) sums over cases */
    int64_t *hd_n;           /* (K) defined HD95s */
    int64_t undefined;       /* NaN HD95s (one mask empty) */
    int64_t *tp, *np, *nt;   /* (K) voxels over all cases: correct, predicted, true */
} seg_sums;

static bool name_taken(const char *name, char *const *taken, int ntaken) {
    for (int i = 0; i < ntaken; i++)
        if (strcmp(taken[i], name) == 0) return true;
    return false;
}

/* One case: read, infer, score, write. pred_name receives the prediction's file name (unique
 * among the ntaken names already written). */
static tassl_status eval_case(seg_eval *e, const tassl_record *rec, const char *pred_dir,
                              char *pred_name, size_t pred_len, char *const *taken, int ntaken,
                              seg_sums *sums) {
    seg_state *s = e->s;
    const int K = s->K;
    pred_name[0] = 0;
    if (!rec->mask)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: no mask in the manifest row (line %d); "
                           "segmentation is evaluated against masks",
                           rec->image, rec->line);
    tassl_image img = {0}, mask = {0};
    tassl_image_info info;
    tassl_read_opts ro = tassl_read_opts_default();
    tassl_status st = tassl_image_read(rec->image, &ro, &img, &info);
    if (st != TASSL_OK) return st;
    ro.is_label = 1;
    st = tassl_image_read(rec->mask, &ro, &mask, NULL);
    if (st == TASSL_OK) st = tassl_image_same_grid(&img, &mask, 0);
    if (st == TASSL_OK && img.channels != e->env->sample[0])
        st = tassl_error(TASSL_ERR_ARG, "%s: %d channels, the model takes %lld", rec->image,
                         img.channels, (long long)e->env->sample[0]);
    int64_t nv = tassl_image_voxels(&img);
    int32_t *pred = NULL, *truth = NULL;
    if (st == TASSL_OK) {
        pred = malloc((size_t)nv * sizeof(int32_t));
        truth = malloc((size_t)nv * sizeof(int32_t));
        if (!pred || !truth)
            st = tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", rec->image);
    }
    for (int64_t v = 0; st == TASSL_OK && v < nv; v++) {
        float l = mask.data[v];
        if (!(l >= 0 && l < (float)K))
            st = tassl_error(TASSL_ERR_ARG,
                             "%s: label %g outside the task's classes 0..%d (voxel %lld)",
                             rec->mask, (double)l, K - 1, (long long)v);
        else
            truth[v] = (int32_t)l;
    }
    /* norm_scope image: the whole image once, as the training dataset does per record (the
     * windows then pass through window_fn's tassl_aug_apply without re-normalisation) */
    if (st == TASSL_OK && e->env->norm.norm_scope == TASSL_NORM_SCOPE_IMAGE &&
        (st = tassl_aug_normalize(&e->env->norm, &img, NULL)) != TASSL_OK)
        st = task_wrap(st, "%s: whole-image normalisation", rec->image);
    if (st == TASSL_OK) {
        task_window_opts wo = {.dim = s->dims,
                               .axis = s->axis,
                               .overlap = s->overlap,
                               .blend = s->blend,
                               .batch = s->sw_batch,
                               .pad_value = 0.0f,
                               .nclasses = K};
        memcpy(wo.patch, s->patch, sizeof wo.patch);
        st = task_window_run(&img, &wo, window_fn, e, NULL, pred);
    }
    tassl_seg_case sc = {0};
    if (st == TASSL_OK) {
        const int64_t shape[3] = {img.d, img.h, img.w};
        st = tassl_seg_case_compute(pred, truth, shape, img.spacing, K, &sc);
        if (st != TASSL_OK) st = task_wrap(st, "%s", rec->image);
    }
    if (st == TASSL_OK) {
        const int64_t V = img.d * img.h * img.w;
        for (int64_t v = 0; v < V; v++)
            if (pred[v] == truth[v]) sums->tp[truth[v]]++;
        for (int c = 1; c < K; c++) {
            sums->np[c] += sc.voxels_pred[c], sums->nt[c] += sc.voxels_true[c];
            sums->dice[c] += sc.dice[c];
            sums->iou[c] += sc.iou[c];
            if (isnan(sc.hd95[c]))
                sums->undefined++;
            else
                sums->hd[c] += sc.hd95[c], sums->hd_n[c]++;
        }
        tassl_seg_case_free(&sc);
    }
    if (st == TASSL_OK && pred_dir) {
        char path[4096], base[1024];
        task_seg_pred_name(rec->image, info.format, base, sizeof base);
        snprintf(pred_name, pred_len, "%s", base);
        snprintf(path, sizeof path, "%s/%s", pred_dir, pred_name);
        /* another record of this evaluation with the same file name (subject folders): a
         * numbered name (files of an earlier evaluation are overwritten) */
        char *dot = strstr(base, "_pred.");
        const char *ext = dot ? dot + 5 : "";
        for (int k = 2; k < 100000 && name_taken(pred_name, taken, ntaken); k++) {
            snprintf(pred_name, pred_len, "%.*s-%d_pred%s",
                     dot ? (int)(dot - base) : (int)strlen(base), base, k, ext);
            snprintf(path, sizeof path, "%s/%s", pred_dir, pred_name);
        }
        st = task_seg_write_pred(path, pred, &img, &info, K);
    }
    free(pred);
    free(truth);
    tassl_image_free(&img);
    tassl_image_free(&mask);
    return st;
}

static tassl_status seg_evaluate(void *state, const task_env *env, tassl_dataset *ds,
                                 const char *pred_dir, tassl_task_result *out) {
    seg_state *s = state;
    const int K = s->K;
    int nrec = tassl_dataset_records(ds);
    if (nrec < 1) return tassl_error(TASSL_ERR_ARG, "segmentation: no record to evaluate");
    seg_sums sums = {0};
    sums.dice = calloc((size_t)K, sizeof(double));
    sums.iou = calloc((size_t)K, sizeof(double));
    sums.hd = calloc((size_t)K, sizeof(double));
    sums.hd_n = calloc((size_t)K, sizeof(int64_t));
    sums.tp = calloc((size_t)K, sizeof(int64_t));
    sums.np = calloc((size_t)K, sizeof(int64_t));
    sums.nt = calloc((size_t)K, sizeof(int64_t));
    char **names = calloc((size_t)nrec, sizeof(char *));
    int *records = calloc((size_t)nrec, sizeof(int));
    tassl_status st = TASSL_OK;
    if (!sums.dice || !sums.iou || !sums.hd || !sums.hd_n || !sums.tp || !sums.np || !sums.nt ||
        !names || !records)
        st = tassl_error(TASSL_ERR_NOMEM, "segmentation: out of host memory");
    if (st == TASSL_OK && pred_dir) st = ensure_dir(pred_dir);
    seg_eval e = {.s = s, .env = env};
    for (int r = 0; r < nrec && st == TASSL_OK; r++) {
        names[r] = calloc(1, 1024);
        if (!names[r]) {
            st = tassl_error(TASSL_ERR_NOMEM, "segmentation: out of host memory");
            break;
        }
        /* the manifest row of record r (the index.csv "record", as the other kinds write it):
         * the provenance of its sample (samples_per_image is 1 for evaluation) */
        tassl_sample smp;
        st = tassl_dataset_get(ds, (int64_t)r * (tassl_dataset_len(ds) / nrec), 0, &smp);
        if (st != TASSL_OK) break;
        records[r] = smp.prov.record;
        tassl_sample_free(&smp);
        st = eval_case(&e, tassl_dataset_record(ds, r), pred_dir, names[r], 1024, names, r, &sums);
        if (!env->quiet && st == TASSL_OK && (r + 1) % 10 == 0)
            fprintf(stderr, "segmentation: evaluated %d / %d cases\n", r + 1, nrec);
    }

    if (st == TASSL_OK && pred_dir) {
        task_index *ix = NULL;
        st = task_index_open(pred_dir, &ix);
        for (int r = 0; r < nrec && st == TASSL_OK; r++) {
            const tassl_record *rec = tassl_dataset_record(ds, r);
            task_index_row(ix, records[r], rec->image, rec->mask ? rec->mask : "", names[r]);
        }
        tassl_status cs = task_index_close(ix);
        if (st == TASSL_OK) st = cs;
    }
    if (st == TASSL_OK) {
        /* means over cases per class, then over the foreground classes */
        bool per_class = 3 * (K - 1) + 5 <= TASSL_TASK_MAX_METRICS;
        double md = 0, mi = 0, mh = 0;
        int nh = 0;
        char name[48];
        for (int c = 1; c < K && st == TASSL_OK; c++) {
            double d = sums.dice[c] / nrec, i = sums.iou[c] / nrec;
            double h = sums.hd_n[c] > 0 ? sums.hd[c] / (double)sums.hd_n[c] : NAN;
            md += d, mi += i;
            if (!isnan(h)) mh += h, nh++;
            if (!per_class) continue;
            snprintf(name, sizeof name, "dice/%d", c);
            st = tassl_task_result_set(out, name, d);
            snprintf(name, sizeof name, "iou/%d", c);
            if (st == TASSL_OK) st = tassl_task_result_set(out, name, i);
            snprintf(name, sizeof name, "hd95/%d", c);
            if (st == TASSL_OK) st = tassl_task_result_set(out, name, h);
        }
        if (st == TASSL_OK) st = tassl_task_result_set(out, "dice", md / (K - 1));
        if (st == TASSL_OK) st = tassl_task_result_set(out, "iou", mi / (K - 1));
        if (st == TASSL_OK) st = tassl_task_result_set(out, "hd95", nh > 0 ? mh / nh : NAN);
        if (st == TASSL_OK)
            st = tassl_task_result_set(out, "hd95_undefined", (double)sums.undefined);
        /* Dice of the voxels pooled over all cases (BraTS / LiTS "global Dice"), per class then
         * averaged: cases without the class do not count as perfect, unlike the case mean */
        double dg = 0;
        for (int c = 1; c < K; c++)
            dg += sums.np[c] + sums.nt[c] > 0 ? 2.0 * (double)sums.tp[c] / (double)(sums.np[c] + sums.nt[c]) : 1.0;
        if (st == TASSL_OK) st = tassl_task_result_set(out, "dice_global", dg / (K - 1));
        if (st == TASSL_OK) {
            snprintf(out->primary, sizeof out->primary, "dice");
            out->samples = nrec;
        }
    }
    for (int r = 0; names && r < nrec; r++)
        free(names[r]);
    free(names);
    free(records);
    free(sums.dice);
    free(sums.iou);
    free(sums.hd);
    free(sums.hd_n);
    free(sums.tp);
    free(sums.np);
    free(sums.nt);
    return st;
}

const task_ops task_segmentation = {
    .kind = TASSL_TASK_SEGMENTATION,
    .name = "segmentation",
    .create = seg_create,
    .init = seg_init,
    .loss = seg_loss,
    .evaluate = seg_evaluate,
    .dataset_opts = seg_dataset_opts,
    .destroy = seg_destroy,
    .keys = &section,
};
