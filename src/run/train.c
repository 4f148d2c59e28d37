/* train.c — the training driver behind `tassl train`: configuration → device, model, optimiser,
 * schedule, data → a loop of steps that logs metrics, shows progress, evaluates on a held-out set
 * and writes checkpoints into the run directory; resume restores everything a step depends on.
 *
 * Supported for now (issue 4): method.name = supervised, data.source = synthetic (the
 * lesion-quadrant task), model.arch = resnet (2D). A step is a pure function of (parameters and
 * buffers, optimiser state and step count, step index): the batch of step s is samples
 * [s·B·A, (s+1)·B·A) of the seeded stream (or their images in a finite training set), and the
 * learning rate comes from the schedule at s. A checkpoint holds the first two, its metadata the
 * step, so N steps + resume + N steps equals 2N steps bit for bit on the reference backend.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "synth.h"
#include "tassl/checkpoint.h"
#include "tassl/nn.h"
#include "tassl/optim.h"
#include "tassl/run.h"
#include "tassl/tassl.h"

/* held-out samples start here in the synthetic stream; training indices stay below */
#define VAL_BASE ((uint64_t)1 << 40)

typedef struct trainer {
    const tassl_config *cfg;
    tassl_run *run;
    tassl_device *dev;
    tassl_ctx *ctx;
    tassl_params *p;
    tassl_resnet *enc;
    tassl_classifier *fc;
    tassl_optim *opt;
    tassl_schedule sched;
    tassl_ckpt *ck;
    synth_task task;
    int64_t bs, accum, train_size, val_size, total;
    float smoothing;
    float *img, *lab; /* host staging (bs images) */
} trainer;

static tassl_status cfg_error(const char *key, const char *fmt, const char *a) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a);
    return tassl_error(TASSL_ERR_UNSUPPORTED, "%s: %s", key, msg);
}

/* What this version can train: say exactly which key asks for something else. */
static tassl_status check_supported(const tassl_config *c) {
    if (strcmp(tassl_config_str(c, "method.name"), "supervised") != 0)
        return cfg_error("method.name", "'%s' cannot be trained by this version (supervised only)",
                         tassl_config_str(c, "method.name"));
    if (strcmp(tassl_config_str(c, "data.source"), "synthetic") != 0)
        return cfg_error("data.source", "'%s' is not supported by tassl train yet (synthetic)",
                         tassl_config_str(c, "data.source"));
    if (strcmp(tassl_config_str(c, "model.arch"), "resnet") != 0)
        return cfg_error("model.arch", "'%s' cannot be trained as a classifier yet (resnet)",
                         tassl_config_str(c, "model.arch"));
    if (tassl_config_int(c, "model.dims") != 2)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.dims: %lld, but the synthetic quadrant "
                           "task is 2D (set model.dims=2)",
                           (long long)tassl_config_int(c, "model.dims"));
    if (tassl_config_int(c, "model.in_channels") != 1)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.in_channels: %lld, but synthetic images "
                           "have 1 channel",
                           (long long)tassl_config_int(c, "model.in_channels"));
    int64_t k = tassl_config_int(c, "model.num_classes");
    if (k != 0 && k != SYNTH_QUADRANT_CLASSES)
        return tassl_error(TASSL_ERR_UNSUPPORTED,
                           "model.num_classes: %lld, but the quadrant task "
                           "has %d classes (0 = from the data)",
                           (long long)k, SYNTH_QUADRANT_CLASSES);
    return TASSL_OK;
}

static tassl_status build_optim(trainer *t) {
    return tassl_optim_from_config(t->cfg, t->p, t->total, &t->opt, &t->sched);
}

static tassl_status build_model(trainer *t) {
    const tassl_config *c = t->cfg;
    tassl_resnet_cfg rc = {0};
    rc.depth = (int)tassl_config_int(c, "model.depth");
    rc.dims = (int)tassl_config_int(c, "model.dims");
    rc.in_channels = (int)tassl_config_int(c, "model.in_channels");
    rc.width = (float)tassl_config_float(c, "model.width");
    rc.stem = strcmp(tassl_config_str(c, "model.stem"), "small") == 0 ? TASSL_STEM_SMALL
                                                                      : TASSL_STEM_STANDARD;
    tassl_status s = tassl_norm_kind_parse(tassl_config_str(c, "model.norm"), &rc.norm.kind);
    if (s != TASSL_OK) return s;
    rc.norm.groups = (int)tassl_config_int(c, "model.groups");
    rc.zero_init_residual = tassl_config_bool(c, "model.zero_init_residual");
    if ((s = tassl_resnet_new(t->p, "encoder", &rc, &t->enc)) != TASSL_OK) return s;
    if ((s = tassl_classifier_new(t->p, "fc", tassl_resnet_embed_dim(t->enc),
                                  SYNTH_QUADRANT_CLASSES, &t->fc)) != TASSL_OK)
        return s;
    if ((s = tassl_params_finalize(t->p)) != TASSL_OK) return s;
    if ((s = tassl_module_init(tassl_resnet_module(t->enc))) != TASSL_OK) return s;
    return tassl_module_init(tassl_classifier_module(t->fc));
}

/* Samples idx[0..n) of the stream (or of the finite training set) onto the device. */
static void load_batch(trainer *t, uint64_t first, int64_t n, bool val, tassl_tensor **x,
                       tassl_tensor **y) {
    const int64_t hw = (int64_t)t->task.size * t->task.size;
    for (int64_t i = 0; i < n; i++) {
        uint64_t idx = first + (uint64_t)i;
        if (!val && t->train_size > 0) idx %= (uint64_t)t->train_size;
        if (val) idx += VAL_BASE;
        t->lab[i] = (float)synth_quadrant(&t->task, idx, t->img + i * hw);
    }
    *x = tassl_from_host(t->ctx, TASSL_SHAPE(n, 1, t->task.size, t->task.size), t->img);
    *y = tassl_from_host(t->ctx, TASSL_SHAPE(n), t->lab);
}

static tassl_tensor *forward(trainer *t, tassl_tensor *x, bool training) {
    return tassl_classifier_forward(t->fc, tassl_resnet_forward(t->enc, x, training, NULL));
}

/* Held-out accuracy and mean loss (batches of bs, running statistics). */
static tassl_status evaluate(trainer *t, double *acc, double *loss) {
    int64_t correct = 0, done = 0;
    double lsum = 0;
    float logits[4096];
    while (done < t->val_size) {
        int64_t n = t->val_size - done < t->bs ? t->val_size - done : t->bs;
        if (n * SYNTH_QUADRANT_CLASSES > 4096) n = 4096 / SYNTH_QUADRANT_CLASSES;
        tassl_scope_begin(t->ctx);
        tassl_no_grad_begin(t->ctx);
        tassl_tensor *x, *y;
        load_batch(t, (uint64_t)done, n, true, &x, &y);
        tassl_tensor *lg = forward(t, x, false);
        tassl_tensor *l = tassl_cross_entropy(lg, y, NULL, 0.0f, -100, TASSL_REDUCE_SUM);
        tassl_status s = tassl_tensor_read(lg, logits);
        float ls = s == TASSL_OK ? tassl_item(l) : NAN;
        tassl_no_grad_end(t->ctx);
        tassl_scope_end(t->ctx);
        if (s != TASSL_OK) return s;
        if (tassl_ctx_status(t->ctx) != TASSL_OK) return tassl_ctx_status(t->ctx);
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < SYNTH_QUADRANT_CLASSES; k++)
                if (logits[i * SYNTH_QUADRANT_CLASSES + k] >
                    logits[i * SYNTH_QUADRANT_CLASSES + best])
                    best = k;
            correct += best == (int)t->lab[i];
        }
        lsum += ls;
        done += n;
    }
    *acc = (double)correct / (double)t->val_size;
    *loss = lsum / (double)t->val_size;
    return TASSL_OK;
}

static double epoch_of(const trainer *t, int64_t step) {
    return t->train_size > 0 ? (double)step * (double)(t->bs * t->accum) / (double)t->train_size
                             : NAN; /* an endless stream has no epochs: null in metrics.jsonl */
}

static tassl_status save(trainer *t, int64_t step) {
    char path[4096];
    char ep[64];
    snprintf(ep, sizeof ep, "%.6f", isfinite(epoch_of(t, step)) ? epoch_of(t, step) : 0.0);
    tassl_status s = tassl_ckpt_set_meta_int(t->ck, "step", step);
    if (s == TASSL_OK) s = tassl_ckpt_set_meta(t->ck, "epoch", ep);
    if (s == TASSL_OK)
        s = tassl_ckpt_save_in_dir(t->ck, tassl_run_dir(t->run), step,
                                   (int)tassl_config_int(t->cfg, "train.keep_last"), path,
                                   sizeof path);
    if (s == TASSL_OK) tassl_run_log(t->run, "checkpoint %s", path);
    return s;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static tassl_status train_loop(trainer *t, int64_t start, int64_t stop) {
    const tassl_config *c = t->cfg;
    int64_t log_every = tassl_config_int(c, "output.log_every");
    int64_t eval_every = tassl_config_int(c, "train.eval_every");
    int64_t ckpt_every = tassl_config_int(c, "train.ckpt_every");
    float clip = (float)tassl_config_float(c, "optim.grad_clip");
    double lsum = 0, t_int = now_s();
    int64_t nint = 0, last_saved = -1;
    for (int64_t step = start; step < stop; step++) {
        double lr = tassl_schedule_lr(&t->sched, step);
        float lstep = 0;
        tassl_scope_begin(t->ctx);
        tassl_params_zero_grad(t->p);
        for (int64_t a = 0; a < t->accum; a++) {
            tassl_tensor *x, *y;
            load_batch(t, (uint64_t)((step * t->accum + a) * t->bs), t->bs, false, &x, &y);
            tassl_tensor *loss = tassl_cross_entropy(forward(t, x, true), y, NULL, t->smoothing,
                                                     -100, TASSL_REDUCE_MEAN);
            if (t->accum > 1) loss = tassl_scale(loss, 1.0f / (float)t->accum);
            tassl_backward(loss);
            lstep += tassl_item(loss);
        }
        tassl_status s = TASSL_OK;
        if (clip > 0) s = tassl_clip_grad_norm(t->p, clip, NULL);
        if (s == TASSL_OK) s = tassl_optim_step(t->opt, (float)lr);
        /* the step's working set (activations, their gradients), before the scope returns it */
        uint64_t mem = tassl_device_pool_stats(t->dev).bytes_in_use;
        tassl_scope_end(t->ctx);
        if (s == TASSL_OK) s = tassl_ctx_status(t->ctx);
        if (s != TASSL_OK)
            return tassl_error(s, "step %lld: %s", (long long)step + 1,
                               tassl_ctx_status(t->ctx) ? tassl_ctx_error_message(t->ctx)
                                                        : tassl_last_error());
        if (!isfinite(lstep))
            return tassl_error(TASSL_ERR_NUMERIC,
                               "step %lld: the loss is %g; lower optim.lr (%g) or set "
                               "optim.grad_clip",
                               (long long)step + 1, lstep, tassl_config_float(c, "optim.lr"));
        int64_t done = step + 1;
        lsum += lstep;
        nint++;
        double tn = now_s(), sps = (double)(nint * t->bs * t->accum) / (tn - t_int + 1e-12);
        tassl_run_progress(t->run, done, t->total, lsum / (double)nint, sps);
        bool eval = (eval_every > 0 && done % eval_every == 0) || done == t->total;
        double acc = NAN, vloss = NAN;
        if (eval && (s = evaluate(t, &acc, &vloss)) != TASSL_OK) return s;
        if (done % log_every == 0 || done == stop || eval) {
            tassl_metric losses[] = {{"loss", lsum / (double)nint}};
            tassl_metric extra[] = {{"val_accuracy", acc}, {"val_loss", vloss}};
            tassl_run_record rec = {
                .step = done,
                .epoch = epoch_of(t, done),
                .nlosses = 1,
                .losses = losses,
                .lr = lr,
                .samples_per_s = sps,
                .mem_bytes = mem,
                .mem_peak_bytes = tassl_device_pool_stats(t->dev).peak_in_use,
                .nextra = eval ? 2 : 0,
                .extra = extra,
            };
            if ((s = tassl_run_metrics(t->run, &rec)) != TASSL_OK) return s;
            lsum = 0, nint = 0, t_int = now_s();
        }
        if (eval)
            tassl_run_log(t->run, "step %lld: held-out accuracy %.2f%% (%lld samples), loss %.4f",
                          (long long)done, 100 * acc, (long long)t->val_size, vloss);
        if ((ckpt_every > 0 && done % ckpt_every == 0) || done == stop) {
            if ((s = save(t, done)) != TASSL_OK) return s;
            last_saved = done;
        }
    }
    (void)last_saved;
    return TASSL_OK;
}

static void trainer_free(trainer *t) {
    tassl_ckpt_free(t->ck);
    tassl_optim_free(t->opt);
    tassl_classifier_free(t->fc);
    tassl_resnet_free(t->enc);
    tassl_params_free(t->p);
    tassl_ctx_free(t->ctx);
    tassl_device_free(t->dev);
    tassl_run_close(t->run);
    free(t->img);
    free(t->lab);
}

tassl_status tassl_train(const tassl_config *cfg, const tassl_train_opts *opts) {
    tassl_train_opts none = {0};
    if (!opts) opts = &none;
    trainer t = {.cfg = cfg};
    tassl_status s = check_supported(cfg);
    if (s != TASSL_OK) return s;
    t.bs = tassl_config_int(cfg, "train.batch_size");
    t.accum = tassl_config_int(cfg, "train.accum_steps");
    t.total = tassl_config_int(cfg, "train.steps");
    t.train_size = tassl_config_int(cfg, "data.synthetic.train_size");
    t.val_size = tassl_config_int(cfg, "data.synthetic.val_size");
    t.smoothing = (float)tassl_config_float(cfg, "method.label_smoothing");
    t.task = (synth_task){
        .seed = (uint64_t)tassl_config_int(cfg, "seed") ^ 0x5eed5eed0da7aULL,
        .size = (int)tassl_config_int(cfg, "data.synthetic.image_size"),
        .noise = (float)tassl_config_float(cfg, "data.synthetic.noise"),
        .radius = (float)tassl_config_float(cfg, "data.synthetic.lesion_radius"),
    };
    int64_t hw = (int64_t)t.task.size * t.task.size, nimg = t.bs > 1024 ? t.bs : 1024;
    t.img = malloc(sizeof(float) * (size_t)(nimg * hw));
    t.lab = malloc(sizeof(float) * (size_t)nimg);
    if (!t.img || !t.lab) {
        trainer_free(&t);
        return tassl_error(TASSL_ERR_NOMEM, "train: cannot allocate a batch of %lld images",
                           (long long)t.bs);
    }

    /* everything the configuration builds comes first: a bad value creates no run directory */
    const char *spec = tassl_config_str(cfg, "device");
    if ((s = tassl_device_open(spec, &t.dev)) != TASSL_OK) {
        s = tassl_error(s, "device: %s", tassl_last_error());
        goto done;
    }
    if (!(t.ctx = tassl_ctx_new(t.dev)) || !(t.p = tassl_params_new(t.ctx))) {
        s = tassl_error(TASSL_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    tassl_rng_seed(t.ctx, (uint64_t)tassl_config_int(cfg, "seed"));
    if ((s = build_model(&t)) != TASSL_OK || (s = build_optim(&t)) != TASSL_OK) goto done;

    /* what a checkpoint holds: parameters + buffers, optimiser state and step, RNG, config */
    char *cfg_text = tassl_config_to_string(cfg);
    if (!(t.ck = tassl_ckpt_new()) || !cfg_text) {
        free(cfg_text);
        s = tassl_error(TASSL_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    s = tassl_ckpt_add_params(t.ck, "", t.p);
    if (s == TASSL_OK) s = tassl_ckpt_add_optim(t.ck, "optimizer.", t.opt);
    if (s == TASSL_OK) s = tassl_ckpt_set_meta(t.ck, "config", cfg_text);
    if (s == TASSL_OK)
        s = tassl_ckpt_set_meta(t.ck, "method", tassl_config_str(cfg, "method.name"));
    free(cfg_text);
    if (s != TASSL_OK) goto done;
    tassl_ckpt_add_rng(t.ck, t.ctx);

    tassl_run_mode mode = opts->resume  ? TASSL_RUN_RESUME
                          : opts->force ? TASSL_RUN_FORCE
                                        : TASSL_RUN_NEW;
    const char *dir = opts->resume ? opts->resume : opts->run_dir;
    if ((s = tassl_run_open(cfg, dir, mode, opts->quiet, &t.run)) != TASSL_OK) goto done;
    int64_t start = 0;
    if (opts->resume) {
        char path[4096];
        if ((s = tassl_ckpt_latest(opts->resume, path, sizeof path)) != TASSL_OK) goto done;
        if ((s = tassl_ckpt_read(t.ck, path, NULL)) != TASSL_OK) goto done;
        if ((s = tassl_ckpt_meta_int(t.ck, "step", &start)) != TASSL_OK) goto done;
        if ((s = tassl_run_rewind_metrics(t.run, start)) != TASSL_OK) goto done;
        tassl_run_log(t.run, "resuming %s from %s (step %lld)", tassl_run_dir(t.run), path,
                      (long long)start);
    }
    const tassl_device_info *di = tassl_device_get_info(t.dev);
    tassl_run_log(t.run, "tassl %s train: run %s on %s", tassl_version(), tassl_run_dir(t.run),
                  di->name);
    tassl_run_log_config(t.run, t.cfg);
    tassl_run_log(
        t.run, "model: ResNet-%lld %dD encoder (%lld parameters) + linear classifier (%lld)",
        (long long)tassl_config_int(cfg, "model.depth"), (int)tassl_config_int(cfg, "model.dims"),
        (long long)tassl_module_numel(tassl_resnet_module(t.enc), false),
        (long long)tassl_module_numel(tassl_classifier_module(t.fc), false));
    int64_t stop = t.total;
    if (opts->stop_after > 0 && opts->stop_after < stop) stop = opts->stop_after;
    if (start >= stop) {
        tassl_run_log(t.run, "nothing to do: the run is at step %lld of %lld", (long long)start,
                      (long long)t.total);
        goto done;
    }
    double t0 = now_s();
    if ((s = train_loop(&t, start, stop)) != TASSL_OK) goto done;
    tassl_run_log(t.run, "%s at step %lld of %lld after %.1f s; run directory %s",
                  stop == t.total ? "finished" : "stopped", (long long)stop, (long long)t.total,
                  now_s() - t0, tassl_run_dir(t.run));
done:
    if (s != TASSL_OK && t.run) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", tassl_last_error());
        tassl_run_log(t.run, "error: %s", msg);
        tassl_error(s, "%s", msg);
    }
    trainer_free(&t);
    return s;
}
