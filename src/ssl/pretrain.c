/* pretrain.c — the driver behind `tassl pretrain`: configuration → device, framework (encoder,
 * members, data side), optimiser, schedule → a loop of steps that logs metrics (losses with their
 * components, lr, samples/s, memory, collapse statistics), shows progress, writes preview PNGs
 * for generative methods and atomic checkpoints; resume restores everything a step depends on;
 * SIGINT/SIGTERM end the run cleanly with a checkpoint; a non-finite loss stops it before the
 * optimiser touches the weights.
 *
 * A step is a pure function of (parameters and buffers, optimiser state and step count, method
 * state, context RNG, step index): the batch of step s comes from the data side as a function of
 * s, the learning rate from the schedule at s. A checkpoint holds all of it, so N steps + resume +
 * N steps equals 2N steps bit for bit on the reference backend. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/io.h"
#include "tassl/ops.h"
#include "tassl/optim.h"
#include "tassl/run.h"
#include "tassl/tassl.h"

typedef struct pretrainer {
    const tassl_config *cfg;
    tassl_pretrain_opts *opts;
    tassl_run *run;
    tassl_device *dev;
    tassl_ctx *ctx;
    tassl_ssl *ssl;
    tassl_optim *opt;
    tassl_schedule sched;
    tassl_ckpt *ck;
    int64_t bs, accum, total;
    char last_ckpt[4096];
} pretrainer;

/* ---- signals: the handler only sets a flag ------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
    got_signal = sig;
}

typedef struct saved_handlers {
    struct sigaction intr, term;
    bool installed;
} saved_handlers;

static void install_handlers(saved_handlers *h) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    got_signal = 0;
    h->installed = sigaction(SIGINT, &sa, &h->intr) == 0;
    if (h->installed && sigaction(SIGTERM, &sa, &h->term) != 0) {
        sigaction(SIGINT, &h->intr, NULL);
        h->installed = false;
    }
}

static void restore_handlers(saved_handlers *h) {
    if (!h->installed) return;
    sigaction(SIGINT, &h->intr, NULL);
    sigaction(SIGTERM, &h->term, NULL);
    h->installed = false;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* The optimiser and schedule from optim.* / schedule.* (the same keys and rules as tassl train). */
static tassl_status build_optim(pretrainer *t) {
    return tassl_optim_from_config(t->cfg, tassl_ssl_params(t->ssl), t->total, &t->opt, &t->sched);
}

static tassl_status save(pretrainer *t, int64_t step) {
    tassl_status s = tassl_ckpt_set_meta_int(t->ck, "step", step);
    if (s == TASSL_OK)
        s = tassl_ckpt_save_in_dir(t->ck, tassl_run_dir(t->run), step,
                                   (int)tassl_config_int(t->cfg, "train.keep_last"), t->last_ckpt,
                                   sizeof t->last_ckpt);
    if (s == TASSL_OK) tassl_run_log(t->run, "checkpoint %s", t->last_ckpt);
    return s;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- previews -------------------------------------------------------------------------------- */

/* Channel 0 of sample 0 (the middle slice in 3D) of each of the three tensors, side by side with
 * a 2-pixel gap, one min–max scale for all three: RUN/preview-<step>.png. */
static tassl_status write_preview(pretrainer *t, tassl_tensor *const prev[3], int64_t step) {
    const tassl_tensor *x = prev[0];
    int nd = x->ndim;
    int64_t h = x->shape[nd - 2], w = x->shape[nd - 1], d = nd == 5 ? x->shape[2] : 1;
    int64_t per = tassl_numel(x) / x->shape[0], gap = 2, W = 3 * w + 2 * gap;
    tassl_image im;
    tassl_status s = tassl_image_new(&im, 1, 1, h, W);
    if (s != TASSL_OK) return s;
    float *buf = malloc(sizeof(float) * (size_t)tassl_numel(x));
    float lo = INFINITY;
    if (!buf) {
        tassl_image_free(&im);
        return tassl_error(TASSL_ERR_NOMEM, "preview: out of host memory");
    }
    for (int k = 0; k < 3 && s == TASSL_OK; k++) {
        if (!prev[k] || tassl_numel(prev[k]) != tassl_numel(x)) continue;
        if ((s = tassl_tensor_read(prev[k], buf)) != TASSL_OK) break;
        const float *src = buf + (d / 2) * h * w; /* sample 0, channel 0, middle slice */
        (void)per;
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                float v = src[i * w + j];
                im.data[i * W + k * (w + gap) + j] = v;
                if (isfinite(v) && v < lo) lo = v;
            }
    }
    free(buf);
    for (int64_t i = 0; i < h && s == TASSL_OK; i++) /* gaps at the darkest value */
        for (int g = 0; g < 2; g++)
            for (int64_t j = 0; j < gap; j++)
                im.data[i * W + (g + 1) * w + g * gap + j] = isfinite(lo) ? lo : 0;
    char name[64];
    snprintf(name, sizeof name, "preview-%06lld.png", (long long)step);
    char *path = tassl_run_path(t->run, name);
    if (s == TASSL_OK && path) s = tassl_png_write(path, &im, 8, TASSL_PNG_SCALE_MINMAX);
    free(path);
    tassl_image_free(&im);
    return s;
}

/* ---- the loop -------------------------------------------------------------------------------- */

#define MAXCOMP (TASSL_SSL_MAX_MEMBERS * TASSL_SSL_MAX_COMPONENTS)

static tassl_status train_loop(pretrainer *t, int64_t start, int64_t stop) {
    const tassl_config *c = t->cfg;
    tassl_pretrain_opts *o = t->opts;
    const int64_t log_every = tassl_config_int(c, "output.log_every");
    const int64_t ckpt_every = tassl_config_int(c, "train.ckpt_every");
    const int64_t mon_every = tassl_config_int(c, "ssl.monitor_every");
    const int64_t prev_every = tassl_config_int(c, "ssl.preview_every");
    const double min_std = tassl_config_float(c, "ssl.collapse_min_std");
    const double min_rank = tassl_config_float(c, "ssl.collapse_min_rank");
    const float clip = (float)tassl_config_float(c, "optim.grad_clip");
    tassl_params *p = tassl_ssl_params(t->ssl);
    double lsum = 0, csum[MAXCOMP] = {0}, t_int = now_s();
    int64_t nint = 0;
    const char *cname[MAXCOMP];
    int ncomp = 0;
    float *emb = NULL;
    for (int64_t step = start; step < stop; step++) {
        const int64_t done = step + 1;
        double lr = tassl_schedule_lr(&t->sched, step);
        bool monitor = mon_every > 0 && (done % mon_every == 0 || done == stop);
        bool preview = prev_every > 0 && (done % prev_every == 0 || done == stop);
        tassl_collapse_stats cs = {0};
        bool have_cs = false;
        float lstep = 0, cstep[MAXCOMP] = {0};
        tassl_status s = TASSL_OK;
        tassl_scope_begin(t->ctx);
        tassl_params_zero_grad(p);
        for (int64_t a = 0; a < t->accum && s == TASSL_OK; a++) {
            tassl_ssl_batch b;
            if ((s = tassl_ssl_load_batch(t->ssl, step * t->accum + a, &b)) != TASSL_OK) break;
            tassl_tensor *comp[MAXCOMP], *embedding, *prev[3];
            tassl_tensor *loss =
                tassl_ssl_loss(t->ssl, &b, MAXCOMP, cname, comp, &ncomp, &embedding, prev);
            if (!loss) {
                s = tassl_ctx_status(t->ctx) ? tassl_ctx_status(t->ctx) : TASSL_ERR_ARG;
                break;
            }
            if (o->nan_at_step == done) loss = tassl_add_scalar(loss, NAN); /* test hook */
            if (t->accum > 1) loss = tassl_scale(loss, 1.0f / (float)t->accum);
            /* activations go back to the pool during backward; keep what is read after it */
            tassl_tensor *keep[MAXCOMP + 4];
            int nkeep = 0;
            for (int k = 0; k < ncomp; k++) keep[nkeep++] = comp[k];
            if (embedding) keep[nkeep++] = embedding;
            for (int k = 0; k < 3; k++)
                if (prev[k]) keep[nkeep++] = prev[k];
            if ((s = tassl_backward_release(loss, nkeep, keep)) != TASSL_OK) break;
            lstep += tassl_item(loss);
            for (int k = 0; k < ncomp; k++)
                cstep[k] += tassl_item(comp[k]) / (float)t->accum;
            if (a == 0 && monitor && embedding && embedding->ndim == 2) {
                int64_t n = embedding->shape[0], d = embedding->shape[1];
                float *e = realloc(emb, sizeof(float) * (size_t)(n * d));
                if (!e) {
                    s = tassl_error(TASSL_ERR_NOMEM, "collapse monitor: out of host memory");
                    break;
                }
                emb = e;
                if ((s = tassl_tensor_read(embedding, emb)) != TASSL_OK) break;
                have_cs = tassl_collapse_measure(emb, n, d, &cs) == TASSL_OK;
            }
            if (a == 0 && preview && prev[0] && (s = write_preview(t, prev, done)) != TASSL_OK)
                break;
        }
        bool finite = isfinite(lstep);
        for (int k = 0; k < ncomp; k++)
            finite = finite && isfinite(cstep[k]);
        if (s == TASSL_OK && finite) {
            if (clip > 0) s = tassl_optim_clip_grad_norm(t->opt, clip, NULL);
            if (s == TASSL_OK) s = tassl_optim_step(t->opt, lr);
        }
        uint64_t mem = tassl_device_pool_stats(t->dev).bytes_in_use;
        tassl_scope_end(t->ctx);
        if (s == TASSL_OK && finite) s = tassl_ssl_after_step(t->ssl, done);
        if (s == TASSL_OK) s = tassl_ctx_status(t->ctx);
        if (s != TASSL_OK) {
            free(emb);
            return tassl_ctx_status(t->ctx) ? tassl_error(s, "step %lld: %s", (long long)done,
                                                          tassl_ctx_error_message(t->ctx))
                                            : ssl_wrap(s, "step %lld", (long long)done);
        }
        if (!finite) {
            char parts[1024] = "";
            for (int k = 0; k < ncomp; k++) {
                size_t n = strlen(parts);
                snprintf(parts + n, sizeof parts - n, "%s%s %g", k ? ", " : "", cname[k], cstep[k]);
            }
            free(emb);
            return tassl_error(TASSL_ERR_NUMERIC,
                               "step %lld: the loss is %g (%s); stopped before the optimiser "
                               "step. The last good checkpoint is %s; lower optim.lr (%g) or set "
                               "optim.grad_clip, then --resume",
                               (long long)done, lstep, ncomp ? parts : "no components",
                               *t->last_ckpt ? t->last_ckpt : "none (no checkpoint yet)",
                               tassl_config_float(c, "optim.lr"));
        }
        lsum += lstep;
        for (int k = 0; k < ncomp; k++)
            csum[k] += cstep[k];
        nint++;
        double tn = now_s(), sps = (double)(nint * t->bs * t->accum) / (tn - t_int + 1e-12);
        tassl_run_progress_lr(t->run, done, t->total, lsum / (double)nint, lr, sps);
        if (have_cs) {
            tassl_collapse_check(&cs, min_std, min_rank);
            if (cs.collapsed)
                tassl_run_log(t->run,
                              "warning: step %lld: the embeddings are collapsing: std*sqrt(d) "
                              "%.3f (healthy ~1, threshold %g), effective rank %.2f of %lld "
                              "(threshold %g)",
                              (long long)done, cs.std_scaled, min_std, cs.erank,
                              (long long)(cs.n < cs.d ? cs.n : cs.d), min_rank);
        }
        if (done % log_every == 0 || done == stop || have_cs) {
            tassl_metric losses[1 + MAXCOMP];
            losses[0] = (tassl_metric){"loss", lsum / (double)nint};
            for (int k = 0; k < ncomp; k++)
                losses[1 + k] = (tassl_metric){cname[k], csum[k] / (double)nint};
            tassl_metric extra[] = {{"collapse_std", cs.std},
                                    {"collapse_std_scaled", cs.std_scaled},
                                    {"collapse_erank", cs.erank}};
            const ssl_data *dd = &t->ssl->data;
            int64_t len = dd->source == SSL_SRC_DATASET ? dd->ds_len : dd->synth_train;
            tassl_run_record rec = {
                .step = done,
                /* samples seen / data set size; an endless synthetic stream has none (null) */
                .epoch = len > 0 ? (double)(done * t->bs * t->accum) / (double)len : NAN,
                .nlosses = 1 + ncomp,
                .losses = losses,
                .lr = lr,
                .samples_per_s = sps,
                .mem_bytes = mem,
                .mem_peak_bytes = tassl_device_pool_stats(t->dev).peak_in_use,
                .nextra = have_cs ? 3 : 0,
                .extra = extra,
            };
            if ((s = tassl_run_metrics(t->run, &rec)) != TASSL_OK) {
                free(emb);
                return s;
            }
            lsum = 0, nint = 0, t_int = now_s();
            memset(csum, 0, sizeof csum);
        }
        o->steps_done = done;
        bool saved = false;
        if ((ckpt_every > 0 && done % ckpt_every == 0) || done == stop || got_signal) {
            if ((s = save(t, done)) != TASSL_OK) {
                free(emb);
                return s;
            }
            saved = true;
        }
        if (o->on_step) o->on_step(o->user, done);
        if (got_signal && !saved && (s = save(t, done)) != TASSL_OK) { /* raised in on_step */
            free(emb);
            return s;
        }
        if (got_signal) {
            o->interrupted = got_signal;
            tassl_run_log(t->run,
                          "%s at step %lld: checkpoint written; continue with "
                          "`tassl pretrain --resume %s`",
                          got_signal == SIGTERM ? "SIGTERM" : "SIGINT", (long long)done,
                          tassl_run_dir(t->run));
            break;
        }
    }
    free(emb);
    return TASSL_OK;
}

static void pretrainer_free(pretrainer *t) {
    tassl_ckpt_free(t->ck);
    tassl_optim_free(t->opt);
    tassl_ssl_free(t->ssl);
    tassl_ctx_free(t->ctx);
    tassl_device_free(t->dev);
    tassl_run_close(t->run);
}

tassl_status tassl_pretrain(const tassl_config *cfg, tassl_pretrain_opts *opts) {
    tassl_pretrain_opts none = {0};
    if (!opts) opts = &none;
    opts->interrupted = 0;
    opts->steps_done = 0;
    pretrainer t = {.cfg = cfg, .opts = opts};
    tassl_status s = tassl_ssl_register_config();
    if (s != TASSL_OK) return s;
    if (strcmp(tassl_config_str(cfg, "method.name"), "supervised") == 0)
        return tassl_error(TASSL_ERR_ARG, "method.name: supervised is trained by `tassl train`; "
                                          "pretraining needs a self-supervised method (e.g. "
                                          "simclr)");
    t.bs = tassl_config_int(cfg, "train.batch_size");
    t.accum = tassl_config_int(cfg, "train.accum_steps");
    t.total = tassl_config_int(cfg, "train.steps");

    /* everything the configuration builds comes first: a bad value creates no run directory */
    const char *spec = tassl_config_str(cfg, "device");
    if ((s = tassl_device_open(spec, &t.dev)) != TASSL_OK) {
        s = ssl_wrap(s, "device");
        goto done;
    }
    if (!(t.ctx = tassl_ctx_new(t.dev))) {
        s = tassl_error(TASSL_ERR_NOMEM, "pretrain: out of memory");
        goto done;
    }
    tassl_rng_seed(t.ctx, (uint64_t)tassl_config_int(cfg, "seed"));
    if ((s = tassl_ssl_new(cfg, t.ctx, &t.ssl)) != TASSL_OK || (s = build_optim(&t)) != TASSL_OK)
        goto done;

    /* a checkpoint: parameters + buffers, optimiser state and step, method state, RNG, config */
    char *cfg_text = tassl_config_to_string(cfg);
    if (!(t.ck = tassl_ckpt_new()) || !cfg_text) {
        free(cfg_text);
        s = tassl_error(TASSL_ERR_NOMEM, "pretrain: out of memory");
        goto done;
    }
    s = tassl_ckpt_add_params(t.ck, "", tassl_ssl_params(t.ssl));
    if (s == TASSL_OK) s = tassl_ckpt_add_optim(t.ck, "optimizer.", t.opt);
    if (s == TASSL_OK) s = tassl_ssl_bind_state(t.ssl, t.ck);
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
        if ((s = tassl_ckpt_latest(opts->resume, t.last_ckpt, sizeof t.last_ckpt)) != TASSL_OK)
            goto done;
        if ((s = tassl_ckpt_read(t.ck, t.last_ckpt, NULL)) != TASSL_OK) goto done;
        if ((s = tassl_ckpt_meta_int(t.ck, "step", &start)) != TASSL_OK) goto done;
        if ((s = tassl_run_rewind_metrics(t.run, start)) != TASSL_OK) goto done;
        tassl_run_log(t.run, "resuming %s from %s (step %lld)", tassl_run_dir(t.run), t.last_ckpt,
                      (long long)start);
    }
    const tassl_device_info *di = tassl_device_get_info(t.dev);
    tassl_run_log(t.run, "tassl %s pretrain: run %s on %s", tassl_version(), tassl_run_dir(t.run),
                  di->name);
    tassl_run_log_config(t.run, t.cfg);
    const tassl_ssl_env *env = tassl_ssl_env_of(t.ssl);
    tassl_ssl_inputs in = tassl_ssl_inputs_of(t.ssl);
    tassl_run_log(t.run,
                  "encoder: %s %dD, %lld parameters, embedding %lld; sample (%lld, %lld, "
                  "%lld, %lld); %d view(s)%s, %d custom input(s)",
                  tassl_config_str(cfg, "model.arch"), env->dims,
                  (long long)tassl_module_numel(tassl_encoder_module(env->encoder), false),
                  (long long)tassl_encoder_embed_dim(env->encoder), (long long)env->sample[0],
                  (long long)env->sample[1], (long long)env->sample[2], (long long)env->sample[3],
                  in.views, in.clean ? " + clean" : "", in.ncustom);
    for (int m = 0; m < tassl_ssl_members(t.ssl); m++)
        tassl_run_log(t.run, "method: %s (%s)%s%s", tassl_ssl_member_method(t.ssl, m)->name,
                      tassl_ssl_member_method(t.ssl, m)->paradigm,
                      *tassl_ssl_member_prefix(t.ssl, m) ? ", heads under " : "",
                      tassl_ssl_member_prefix(t.ssl, m));
    int64_t stop = t.total;
    if (opts->stop_after > 0 && opts->stop_after < stop) stop = opts->stop_after;
    if (start >= stop) {
        tassl_run_log(t.run, "nothing to do: the run is at step %lld of %lld", (long long)start,
                      (long long)t.total);
        goto done;
    }
    double t0 = now_s();
    saved_handlers h = {0};
    if (!opts->no_signals) install_handlers(&h);
    s = train_loop(&t, start, stop);
    restore_handlers(&h);
    if (s != TASSL_OK) goto done;
    if (!opts->interrupted)
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
    pretrainer_free(&t);
    return s;
}
