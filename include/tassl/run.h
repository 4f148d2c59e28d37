/* run.h — run directories, metrics, progress, and the `tassl train` driver.
 *
 * A run directory (output.dir/output.name, default runs/<date>-<time>-<method>/) holds:
 *   config.yaml        the fully resolved configuration (every key; reading it back gives the run)
 *   metrics.jsonl      one JSON object per logged step: step, epoch, losses {name: value}, lr,
 *                      samples_per_s, mem_bytes / mem_peak_bytes (device pool), wall_s, and any
 * extra named values (val_accuracy ...) train.log          everything the run printed (also shown
 * on the terminal) ckpt-<step>.safetensors   checkpoints (checkpoint.h: the last train.keep_last
 * are kept, `latest` names the newest) An existing run directory is never overwritten unless asked:
 * resuming appends to it, --force replaces the files a run writes (other files are left alone).
 *
 * Progress: on a terminal (output.progress auto/bar) one line redrawn in place with a bar, step,
 * loss, samples/s and ETA; otherwise a plain line every output.log_every steps.
 */
#ifndef TASSL_RUN_H
#define TASSL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "optim.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tassl_run tassl_run;

typedef enum tassl_run_mode {
    TASSL_RUN_NEW = 0,    /* the directory must not exist (or be empty) */
    TASSL_RUN_FORCE = 1,  /* replace a previous run's files in it */
    TASSL_RUN_RESUME = 2, /* continue: the directory must hold a config.yaml */
} tassl_run_mode;

typedef enum tassl_progress {
    TASSL_PROGRESS_AUTO = 0, /* bar on a terminal, lines otherwise */
    TASSL_PROGRESS_BAR,
    TASSL_PROGRESS_LINES,
    TASSL_PROGRESS_NONE, /* nothing on stdout (the log file still gets everything) */
} tassl_progress;

/* Open (create) a run directory. dir NULL → output.dir/output.name from cfg (a generated name
 * when output.name is empty; "-2", "-3"... appended if it is taken). Writes config.yaml (atomic)
 * and opens train.log and metrics.jsonl for appending. `quiet` sends nothing to stdout. */
tassl_status tassl_run_open(const tassl_config *cfg, const char *dir, tassl_run_mode mode,
                            bool quiet, tassl_run **out);
/* Flushes and closes the files (finishing a progress bar line). NULL is fine. */
void tassl_run_close(tassl_run *r);

const char *tassl_run_dir(const tassl_run *r);
/* "<dir>/<name>" in a malloc'd string (free()). */
char *tassl_run_path(const tassl_run *r, const char *name);

/* printf-style line (a newline is added) to the terminal (unless quiet) and to train.log. */
void tassl_run_log(tassl_run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

typedef struct tassl_metric {
    const char *name;
    double value;
} tassl_metric;

typedef struct tassl_run_record {
    int64_t step; /* optimiser steps done */
    double epoch; /* samples seen / training-set size (or step·batch / val size) */
    int nlosses;
    const tassl_metric *losses; /* {"loss", 0.69}, {"ce", ...} */
    double lr;
    double samples_per_s;
    uint64_t mem_bytes;      /* device pool bytes in use at the end of the step, before its
                                scope is released (activations and their gradients) */
    uint64_t mem_peak_bytes; /* the pool's peak since the device was opened */
    int nextra;
    const tassl_metric *extra; /* evaluation results etc. (may be 0) */
} tassl_run_record;

/* Append one line to metrics.jsonl (wall_s is added: seconds since the run started, continued
 * across resumes). Non-finite values are written as null. */
tassl_status tassl_run_metrics(tassl_run *r, const tassl_run_record *rec);
/* Resume: drop metrics.jsonl lines with step > `step` (rewritten atomically) and continue wall_s
 * from the last line kept. */
tassl_status tassl_run_rewind_metrics(tassl_run *r, int64_t step);

/* Progress after `step` of `total` steps: redraws the bar (terminal) or prints a plain line
 * when step is a multiple of output.log_every or the last one. */
void tassl_run_progress(tassl_run *r, int64_t step, int64_t total, double loss,
                        double samples_per_s);
/* The same with the learning rate shown ("lr 0.003") unless lr is NaN (tassl_run_progress passes
 * NaN). */
void tassl_run_progress_lr(tassl_run *r, int64_t step, int64_t total, double loss, double lr,
                           double samples_per_s);

/* The resolved configuration, line by line, through tassl_run_log (the head of every train.log). */
void tassl_run_log_config(tassl_run *r, const tassl_config *cfg);

/* ---- optimiser and schedule from a configuration -------------------------------------------- */

/* The optimiser (optim.name and its hyper-parameters, optim.no_decay patterns) over p and the
 * learning-rate schedule (schedule.*, base optim.lr, horizon total_steps) a configuration
 * describes; the one reading of those keys that tassl train, tassl pretrain and the downstream
 * drivers share. TASSL_ERR_ARG naming the key on a bad value or combination (nothing allocated);
 * *opt is freed with tassl_optim_free. */
tassl_status tassl_optim_from_config(const tassl_config *cfg, tassl_params *p, int64_t total_steps,
                                     tassl_optim **opt, tassl_schedule *sched);

/* ---- training ------------------------------------------------------------------------------- */

typedef struct tassl_train_opts {
    const char *run_dir; /* NULL: from the config (output.dir / output.name) */
    const char *resume;  /* a run directory to continue from its newest checkpoint, or NULL */
    bool force;          /* replace an existing run directory */
    bool quiet;          /* nothing on stdout (tests) */
    int64_t stop_after;  /* > 0: stop (with a checkpoint) after this many steps in total,
                            as an interruption would; the run can be resumed */
} tassl_train_opts;

/* Train as the configuration says (method.name: supervised classification for now) into a run
 * directory, logging metrics and writing checkpoints every train.ckpt_every steps and at the end.
 * With opts->resume, training continues in that directory from its newest checkpoint (model,
 * optimiser state, step, RNG state): `cfg` should be the run's config.yaml, possibly with
 * overrides such as a longer train.steps (tassl train --resume does exactly that). On the
 * reference backend the result is bit-identical to an uninterrupted run. Returns the first
 * failure (device, numeric, I/O) with its message. */
tassl_status tassl_train(const tassl_config *cfg, const tassl_train_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
