/* run.c — running a suite: check everything first (the base task config, every pretraining config,
 * every checkpoint, every override), then synthetic data once, pretraining (reused when complete,
 * resumed when interrupted), every unfinished cell as a tassl_finetune run with one progress line
 * each, and the aggregation. Cells run budget by budget, seed by seed, all inits of a (budget,
 * seed) together, so an interrupted suite already holds paired comparisons. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "protocol_internal.h"
#include "tassl/checkpoint.h"
#include "tassl/dataset.h"
#include "tassl/ssl.h"
#include "tassl/task.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static tassl_status set1(tassl_config *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static tassl_status set1(tassl_config *c, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return tassl_config_set(c, buf);
}

/* a string value as YAML flow text (double-quoted) */
static void quoted(char *out, size_t len, const char *s) {
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 3 < len; s++) {
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = 0;
}

typedef struct plan {
    const tassl_suite *s;
    char *dir;
    tassl_config *base; /* the cells' common configuration */
    tassl_config *
        *pretrain;    /* (ninits) pretraining configs (NULL unless TASSL_SUITE_INIT_PRETRAIN) */
    char **init_path; /* (ninits) what task.init gets ("" for scratch) */
    bool *pre_done;   /* (ninits) pretraining complete */
} plan;

static void plan_free(plan *p) {
    for (int i = 0; p->pretrain && i < p->s->ninits; i++) {
        tassl_config_free(p->pretrain[i]);
        free(p->init_path[i]);
    }
    free(p->pretrain);
    free(p->init_path);
    free(p->pre_done);
    tassl_config_free(p->base);
    free(p->dir);
}

/* The data keys of the suite's synthetic data, then the overrides (with the suite file named in
 * messages), then the device. */
static tassl_status overlay(const plan *p, tassl_config *c, char **set, int nset,
                            const tassl_bench_opts *o, bool pretraining) {
    const tassl_suite *s = p->s;
    tassl_status st = TASSL_OK;
    if (s->synth) {
        char q[4096];
        char *m = proto_fmt("%s/data/manifest.csv", p->dir);
        if (!m) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
        quoted(q, sizeof q, m);
        free(m);
        st = set1(c, "data.source=manifest");
        if (!st) st = set1(c, "data.path=%s", q);
        if (!st && pretraining) st = set1(c, "data.split=train"); /* no test image is seen */
    }
    for (int i = 0; !st && i < nset; i++)
        if (tassl_config_set(c, set[i]))
            st = tassl_error(TASSL_ERR_ARG, "%s: %s", s->file, tassl_last_error());
    if (!st && o->device) st = set1(c, "device=%s", o->device);
    return st;
}

/* step of "…/ckpt-000123.safetensors", -1 if the name has no step */
static int64_t ckpt_step(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    long long st;
    return sscanf(b, "ckpt-%lld", &st) == 1 ? (int64_t)st : -1;
}

static const char *config_differs(const tassl_config *want, const tassl_config *have);

/* A pretraining run the suite made earlier must have the configuration the suite gives it now
 * (its cells were finetuned from it). */
static tassl_status check_pretrain(const tassl_suite *s, const tassl_suite_init *in,
                                   const char *dir, const tassl_config *want) {
    char *path = proto_fmt("%s/config.yaml", dir);
    if (!path) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    tassl_status st = TASSL_OK;
    if (proto_exists(path)) {
        tassl_config *have;
        if ((st = tassl_config_new(&have))) {
            free(path);
            return st;
        }
        if (tassl_config_load_file(have, path) != TASSL_OK) {
            st = tassl_error(TASSL_ERR_FORMAT, "%s: %s (remove %s to pretrain again)", s->file,
                             tassl_last_error(), dir);
        } else {
            const char *key = config_differs(want, have);
            if (key)
                st = tassl_error(TASSL_ERR_ARG,
                                 "%s was pretrained with a different %s than the suite now gives "
                                 "init '%s': use another --out, or remove it and the cells of "
                                 "'%s' to pretrain again",
                                 dir, key, in->name, in->name);
        }
        tassl_config_free(have);
    }
    free(path);
    return st;
}

/* Everything checked before anything runs. */
static tassl_status prepare(plan *p, const tassl_bench_opts *o) {
    const tassl_suite *s = p->s;
    tassl_status st = tassl_protocol_register_config();
    if (st) return st;
    if (o->out && *o->out)
        p->dir = strdup(o->out);
    else if (*s->out)
        p->dir = strdup(s->out);
    else
        p->dir = proto_fmt("runs/suite-%s", s->name);
    p->pretrain = calloc((size_t)s->ninits, sizeof *p->pretrain);
    p->init_path = calloc((size_t)s->ninits, sizeof *p->init_path);
    p->pre_done = calloc((size_t)s->ninits, sizeof *p->pre_done);
    if (!p->dir || !p->pretrain || !p->init_path || !p->pre_done)
        return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    if ((st = tassl_config_new(&p->base))) return st;
    if ((st = tassl_config_load_file(p->base, s->task)))
        return tassl_error(st, "%s: suite.task: %s", s->file, tassl_last_error());
    if ((st = overlay(p, p->base, s->set, s->nset, o, false))) return st;
    /* the keys every cell sets must take the grid's values */
    tassl_config *probe;
    if ((st = tassl_config_copy(p->base, &probe))) return st;
    for (int b = 0; !st && b < s->nbudgets; b++) {
        st = s->budgets[b].shots ? set1(probe, "task.shots=%d", s->budgets[b].shots)
                                 : set1(probe, "task.label_fraction=%.17g", s->budgets[b].fraction);
        if (st) st = tassl_error(st, "%s: %s", s->file, tassl_last_error());
    }
    tassl_config_free(probe);
    for (int i = 0; !st && i < s->ninits; i++) {
        const tassl_suite_init *in = &s->inits[i];
        char path[4096];
        if (in->kind == TASSL_SUITE_INIT_SCRATCH) {
            p->init_path[i] = strdup("");
        } else if (in->kind == TASSL_SUITE_INIT_CHECKPOINT) {
            if (tassl_ckpt_latest(in->path, path, sizeof path) != TASSL_OK)
                return tassl_error(TASSL_ERR_IO,
                                   "%s: suite.inits: '%s=%s': not a checkpoint file or a run "
                                   "directory with a checkpoint (%s)",
                                   s->file, in->name, in->path, tassl_last_error());
            p->init_path[i] = strdup(in->path);
        } else {
            if ((st = tassl_config_new(&p->pretrain[i]))) return st;
            if ((st = tassl_config_load_file(p->pretrain[i], in->path)))
                return tassl_error(st, "%s: suite.inits: %s: %s", s->file, in->name,
                                   tassl_last_error());
            if ((st = overlay(p, p->pretrain[i], s->pretrain_set, s->npretrain_set, o, true)))
                return st;
            p->init_path[i] = proto_fmt("%s/pretrain/%s", p->dir, in->name);
            int64_t steps = tassl_config_int(p->pretrain[i], "train.steps");
            p->pre_done[i] = tassl_ckpt_latest(p->init_path[i], path, sizeof path) == TASSL_OK &&
                             ckpt_step(path) >= steps;
            if ((st = check_pretrain(s, in, p->init_path[i], p->pretrain[i]))) return st;
        }
        if (!p->init_path[i]) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    }
    return st;
}

/* The configuration of one cell. */
static tassl_status cell_config(const plan *p, int i, int b, int k, tassl_config **out) {
    const tassl_suite *s = p->s;
    tassl_status st = tassl_config_copy(p->base, out);
    if (st) return st;
    char q[4200];
    quoted(q, sizeof q, p->init_path[i]);
    st = set1(*out, "task.init=%s", q);
    if (!st && s->budgets[b].shots)
        st = set1(*out, "task.shots=%d", s->budgets[b].shots);
    else if (!st)
        st = set1(*out, "task.shots=0");
    if (!st && !s->budgets[b].shots)
        st = set1(*out, "task.label_fraction=%.17g", s->budgets[b].fraction);
    if (!st) st = set1(*out, "task.label_seed=%lld", (long long)s->seeds[k]);
    if (!st) st = set1(*out, "seed=%lld", (long long)s->seeds[k]);
    if (st) {
        tassl_config_free(*out);
        *out = NULL;
    }
    return st;
}

/* Keys that do not change a run's result: where it logs and checkpoints, the device, the host
 * threads preparing batches. */
static bool result_neutral(const char *n) {
    static const char *const keys[] = {"device", "data.threads", "train.ckpt_every",
                                       "train.keep_last"};
    if (strncmp(n, "output.", 7) == 0) return true;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(n, keys[i]) == 0) return true;
    return false;
}

/* The first key whose value differs between the configuration a run gets now (want) and the
 * one it ran with (have), or NULL. Result-neutral keys may differ, and task.num_classes when
 * want leaves it to the data (tassl_finetune resolves it). */
static const char *config_differs(const tassl_config *want, const tassl_config *have) {
    for (int i = 0; i < tassl_config_key_count(); i++) {
        const tassl_cfg_key *k = tassl_config_key_at(i);
        const char *n = k->name;
        if (result_neutral(n) ||
            (strcmp(n, "task.num_classes") == 0 && tassl_config_int(want, n) == 0))
            continue;
        bool same = true;
        switch (k->type) {
        case TASSL_CFG_INT:
            same = tassl_config_int(want, n) == tassl_config_int(have, n);
            break;
        case TASSL_CFG_FLOAT:
            same = tassl_config_float(want, n) == tassl_config_float(have, n);
            break;
        case TASSL_CFG_BOOL:
            same = tassl_config_bool(want, n) == tassl_config_bool(have, n);
            break;
        case TASSL_CFG_STRING:
        case TASSL_CFG_ENUM:
            same = strcmp(tassl_config_str(want, n), tassl_config_str(have, n)) == 0;
            break;
        default: {
            int m = tassl_config_list_len(want, n);
            same = m == tassl_config_list_len(have, n);
            for (int j = 0; same && j < m; j++)
                same =
                    k->type == TASSL_CFG_INT_LIST
                        ? tassl_config_list_int(want, n, j) == tassl_config_list_int(have, n, j)
                    : k->type == TASSL_CFG_FLOAT_LIST
                        ? tassl_config_list_float(want, n, j) == tassl_config_list_float(have, n, j)
                        : strcmp(tassl_config_list_str(want, n, j),
                                 tassl_config_list_str(have, n, j)) == 0;
        }
        }
        if (!same) return n;
    }
    return NULL;
}

/* A finished cell must have been run with the configuration the suite gives it now; otherwise
 * reusing it would mix two experiments in one table. TASSL_ERR_ARG naming the cell and key. */
static tassl_status check_finished(const plan *p, int i, int b, int k, const char *rel) {
    char *path = proto_fmt("%s/%s/config.yaml", p->dir, rel);
    if (!path) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    tassl_config *want = NULL, *have = NULL;
    tassl_status st = cell_config(p, i, b, k, &want);
    if (!st) st = tassl_config_new(&have);
    if (!st && tassl_config_load_file(have, path) != TASSL_OK)
        st = tassl_error(TASSL_ERR_FORMAT,
                         "%s/%s: has an eval.json but its config.yaml cannot be read (%s); "
                         "remove the cell directory to run it again",
                         p->dir, rel, tassl_last_error());
    const char *key = st ? NULL : config_differs(want, have);
    if (key)
        st = tassl_error(TASSL_ERR_ARG,
                         "%s/%s was run with a different %s than the suite now gives it: use "
                         "another --out, or remove the cell directory to run it again",
                         p->dir, rel, key);
    tassl_config_free(want);
    tassl_config_free(have);
    free(path);
    return st;
}

static void fmt_dur(char *buf, size_t len, double s) {
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void dry_run(const plan *p, FILE *log) {
    const tassl_suite *s = p->s;
    fprintf(log, "suite %s: %d inits × %d label budgets × %d seeds = %d cells in %s\n", s->name,
            s->ninits, s->nbudgets, s->nseeds, tassl_suite_cells(s), p->dir);
    for (int i = 0; i < s->ninits; i++) {
        const tassl_suite_init *in = &s->inits[i];
        if (in->kind == TASSL_SUITE_INIT_PRETRAIN)
            fprintf(log, "  init %-10s pretrain %s (%lld steps) into %s%s\n", in->name, in->path,
                    (long long)tassl_config_int(p->pretrain[i], "train.steps"), p->init_path[i],
                    p->pre_done[i] ? " [complete: reused]" : "");
        else if (in->kind == TASSL_SUITE_INIT_CHECKPOINT)
            fprintf(log, "  init %-10s checkpoint %s\n", in->name, in->path);
        else
            fprintf(log, "  init %-10s random initialisation (the baseline)\n", in->name);
    }
    int n = 0;
    for (int b = 0; b < s->nbudgets; b++)
        for (int k = 0; k < s->nseeds; k++)
            for (int i = 0; i < s->ninits; i++) {
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                char *e = proto_fmt("%s/%s/eval.json", p->dir, rel);
                bool done = e && proto_exists(e);
                free(e);
                fprintf(log, "  [%3d] %-40s %s%s, label seed %lld%s\n", ++n, rel,
                        s->budgets[b].shots ? "shots " : "fraction ", s->budgets[b].label + 1,
                        (long long)s->seeds[k], done ? "  [done: reused]" : "");
            }
}

static tassl_status run_pretrain(const plan *p, int i, tassl_bench_opts *o, FILE *log) {
    const tassl_suite_init *in = &p->s->inits[i];
    const char *pd = p->init_path[i];
    if (p->pre_done[i]) {
        o->pretrain_reused++;
        if (!o->quiet) fprintf(log, "pretrain %s: complete in %s (reused)\n", in->name, pd);
        return TASSL_OK;
    }
    char path[4096];
    tassl_pretrain_opts po = {0};
    po.run_dir = pd;
    po.quiet = true;
    if (tassl_ckpt_latest(pd, path, sizeof path) == TASSL_OK) {
        po.resume = pd; /* interrupted: continue from its newest checkpoint */
        po.run_dir = NULL;
    } else if (proto_dir_nonempty(pd)) {
        po.force = true; /* a start that wrote no checkpoint */
    }
    if (!o->quiet) {
        fprintf(log, "pretrain %s: %s, %lld steps into %s%s\n", in->name, in->path,
                (long long)tassl_config_int(p->pretrain[i], "train.steps"), pd,
                po.resume ? " (resuming)" : "");
        fflush(log);
    }
    double t0 = now_s();
    tassl_status st = tassl_pretrain(p->pretrain[i], &po);
    if (st) return tassl_error(st, "pretrain %s (%s): %s", in->name, pd, tassl_last_error());
    if (po.interrupted)
        return tassl_error(TASSL_ERR_ARG,
                           "pretrain %s interrupted (signal %d) with a checkpoint; run the suite "
                           "again with --resume to continue",
                           in->name, po.interrupted);
    o->pretrain_run++;
    if (!o->quiet) fprintf(log, "pretrain %s: done in %.1f s\n", in->name, now_s() - t0);
    return TASSL_OK;
}

tassl_status tassl_bench_run(const tassl_suite *s, tassl_bench_opts *o) {
    FILE *log = o->log ? o->log : stdout;
    o->cells_run = o->cells_reused = o->pretrain_run = o->pretrain_reused = 0;
    plan p = {.s = s};
    tassl_status st = tassl_suite_check(s);
    if (st) return st;
    st = prepare(&p, o);
    if (st) {
        plan_free(&p);
        return st;
    }
    if (o->dry_run) {
        dry_run(&p, log);
        plan_free(&p);
        return TASSL_OK;
    }
    if (proto_dir_nonempty(p.dir) && !o->resume) {
        st = tassl_error(TASSL_ERR_ARG,
                         "%s exists and is not empty: --resume continues it (finished cells are "
                         "reused), or choose another --out",
                         p.dir);
        plan_free(&p);
        return st;
    }
    /* every finished cell is checked before anything is written or run */
    for (int b = 0; !st && b < s->nbudgets; b++)
        for (int k = 0; !st && k < s->nseeds; k++)
            for (int i = 0; !st && i < s->ninits; i++) {
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                char *e = proto_fmt("%s/%s/eval.json", p.dir, rel);
                if (!e)
                    st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
                else if (proto_exists(e))
                    st = check_finished(&p, i, b, k, rel);
                free(e);
            }
    if (st) {
        plan_free(&p);
        return st;
    }
    char *sy = proto_fmt("%s/suite.yaml", p.dir);
    char *buf = NULL;
    size_t blen = 0;
    FILE *mf = open_memstream(&buf, &blen);
    if (!sy || !mf) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
    if (!st) st = tassl_suite_write(s, mf);
    if (mf) fclose(mf);
    if (!st) st = proto_mkdirs(p.dir);
    if (!st) st = proto_write_atomic(sy, buf, blen);
    free(sy);
    free(buf);

    /* synthetic data, once (the manifest is written last, so its presence means complete) */
    if (!st && s->synth) {
        char *dd = proto_fmt("%s/data", p.dir), *mm = proto_fmt("%s/data/manifest.csv", p.dir);
        if (!dd || !mm) {
            st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        } else if (!proto_exists(mm)) {
            tassl_synth_opts so = tassl_synth_opts_default(s->synth_dims);
            memcpy(so.size, s->synth_size, sizeof so.size);
            so.seed = s->synth_seed;
            so.lesion_prob = (float)s->synth_lesion_prob;
            if (!o->quiet) {
                fprintf(log, "synthetic data: %lld %dD cases %lldx%lldx%lld into %s\n",
                        (long long)s->synth_n, s->synth_dims, (long long)so.size[0],
                        (long long)so.size[1], (long long)so.size[2], dd);
                fflush(log);
            }
            st = tassl_synth_write(&so, s->synth_n, dd);
        }
        free(dd);
        free(mm);
    }
    for (int i = 0; !st && i < s->ninits; i++)
        if (s->inits[i].kind == TASSL_SUITE_INIT_PRETRAIN) st = run_pretrain(&p, i, o, log);

    /* the cells */
    int total = tassl_suite_cells(s), n = 0, todo = 0;
    for (int b = 0; b < s->nbudgets; b++)
        for (int k = 0; k < s->nseeds; k++)
            for (int i = 0; i < s->ninits; i++) {
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                char *e = proto_fmt("%s/%s/eval.json", p.dir, rel);
                todo += e && !proto_exists(e);
                free(e);
            }
    double spent = 0;
    tassl_status cell_st = TASSL_OK;
    for (int b = 0; !st && !cell_st && b < s->nbudgets; b++)
        for (int k = 0; !cell_st && k < s->nseeds; k++)
            for (int i = 0; !cell_st && i < s->ninits; i++) {
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                char *cd = proto_fmt("%s/%s", p.dir, rel),
                     *e = proto_fmt("%s/%s/eval.json", p.dir, rel);
                n++;
                if (!cd || !e) {
                    cell_st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
                } else if (proto_exists(e)) {
                    o->cells_reused++;
                    if (!o->quiet)
                        fprintf(log, "[%3d/%d] %-10s %-6s s%-4lld reused (%s)\n", n, total,
                                s->inits[i].name, s->budgets[b].label, (long long)s->seeds[k], rel);
                } else {
                    tassl_config *c = NULL;
                    tassl_task_result res;
                    memset(&res, 0, sizeof res);
                    tassl_finetune_opts fo = tassl_finetune_opts_default();
                    fo.run_dir = cd;
                    fo.force = true; /* a cell without eval.json did not finish: start it again */
                    fo.quiet = true;
                    double t0 = now_s();
                    cell_st = proto_mkdirs(cd);
                    if (!cell_st) cell_st = cell_config(&p, i, b, k, &c);
                    if (!cell_st) cell_st = tassl_finetune(c, &fo, &res);
                    tassl_config_free(c);
                    if (cell_st) {
                        cell_st = tassl_error(cell_st, "cell %s: %s", rel, tassl_last_error());
                    } else {
                        double dt = now_s() - t0;
                        spent += dt;
                        o->cells_run++;
                        if (!o->quiet) {
                            char eta[32];
                            fmt_dur(eta, sizeof eta, spent / o->cells_run * (todo - o->cells_run));
                            const char *pm = s->primary[0] ? s->primary : res.primary;
                            fprintf(log, "[%3d/%d] %-10s %-6s s%-4lld %s %.4f  %.1f s  ETA %s\n", n,
                                    total, s->inits[i].name, s->budgets[b].label,
                                    (long long)s->seeds[k], pm, tassl_task_result_get(&res, pm), dt,
                                    eta);
                            fflush(log);
                        }
                    }
                }
                free(cd);
                free(e);
            }
    /* what has finished is aggregated even when a cell failed */
    if (!st) {
        char *saved = cell_st ? strdup(tassl_last_error()) : NULL;
        st = tassl_bench_aggregate(s, p.dir, o->quiet ? NULL : log);
        if (!st && !o->quiet)
            fprintf(log, "results: %s/results.json, %s/results.csv\n", p.dir, p.dir);
        if (cell_st) st = tassl_error(cell_st, "%s", saved ? saved : "a cell failed");
        free(saved);
    }
    plan_free(&p);
    return st;
}
