/* aggregate.c — from the cells' eval.json files to results.json, results.csv and the table:
 * per (init, budget, metric) the mean, sample std and 95 % Student-t interval over seeds, and
 * the paired difference init − scratch per seed (same labelled subset, same seed); per init the
 * runtime and peak memory of its cells (and of its pretraining). Formats: docs/PROTOCOL.md. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol_internal.h"

#define LEVEL 0.95

typedef struct agg {
    const tassl_suite *s;
    const char *dir;
    proto_eval *ev; /* (cells) */
    bool *have;     /* (cells) eval.json read */
    int nmetrics;
    char (*metric)[48];
    char primary[48];
} agg;

static int cell_index(const tassl_suite *s, int i, int b, int k) {
    return (i * s->nbudgets + b) * s->nseeds + k;
}

static json_t *jnum(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jci(double lo, double hi) {
    json_t *a = json_array();
    json_array_append_new(a, jnum(lo));
    json_array_append_new(a, jnum(hi));
    return a;
}

static json_t *budget_fraction(const tassl_suite_budget *b) {
    return b->shots ? json_null() : json_real(b->fraction);
}

/* values of metric m over the seeds of (init, budget); NaN where missing */
static void values(const agg *a, int i, int b, const char *m, double *x) {
    for (int k = 0; k < a->s->nseeds; k++) {
        int c = cell_index(a->s, i, b, k);
        x[k] = a->have[c] ? proto_eval_get(&a->ev[c], m) : NAN;
    }
}

static int scratch_index(const tassl_suite *s) {
    for (int i = 0; i < s->ninits; i++)
        if (s->inits[i].kind == TASSL_SUITE_INIT_SCRATCH) return i;
    return -1;
}

/* wall_s of the last line of a pretraining run's metrics.jsonl (NaN if none) */
/* The pretraining run behind init i — DIR/pretrain/<init> for a pretraining the suite made, the
 * directory itself for a checkpoint init that names a run directory — as a malloc'd path, or
 * NULL (scratch, a checkpoint file). */
static char *pretrain_run(const tassl_suite *s, const char *dir, int i) {
    if (s->inits[i].kind == TASSL_SUITE_INIT_PRETRAIN)
        return proto_fmt("%s/pretrain/%s", dir, s->inits[i].name);
    if (s->inits[i].kind == TASSL_SUITE_INIT_CHECKPOINT && s->inits[i].path) {
        char *m = proto_fmt("%s/metrics.jsonl", s->inits[i].path);
        bool run = m && proto_exists(m);
        free(m);
        if (run) return proto_fmt("%s", s->inits[i].path);
    }
    return NULL;
}

/* A pretraining run's wall time (the last wall_s of its metrics.jsonl, continued across
 * resumes) and device memory peak (the largest mem_peak_bytes); NaN when unknown. */
static void pretrain_stats(const char *run, double *wall, double *mem) {
    *wall = *mem = NAN;
    char *p = run ? proto_fmt("%s/metrics.jsonl", run) : NULL;
    FILE *f = p ? fopen(p, "rb") : NULL;
    free(p);
    if (!f) return;
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '{') continue;
        json_t *o = json_loads(line, 0, NULL);
        json_t *w = o ? json_object_get(o, "wall_s") : NULL, *m = o ? json_object_get(o, "mem_peak_bytes") : NULL;
        if (json_is_number(w)) *wall = json_number_value(w);
        if (json_is_number(m) && !(json_number_value(m) <= *mem)) *mem = json_number_value(m);
        json_decref(o);
    }
    fclose(f);
}

/* the task kind from the base config when its keys are registered (NULL otherwise) */
static char *task_kind(const tassl_suite *s) {
    if (!tassl_config_key_find("task.kind") || !proto_exists(s->task)) return NULL;
    tassl_config *c;
    if (tassl_config_new(&c) != TASSL_OK) return NULL;
    char *k = tassl_config_load_file(c, s->task) == TASSL_OK
                  ? strdup(tassl_config_str(c, "task.kind"))
                  : NULL;
    tassl_config_free(c);
    return k;
}

static tassl_status add_metric(agg *a, const char *name) {
    for (int m = 0; m < a->nmetrics; m++)
        if (strcmp(a->metric[m], name) == 0) return TASSL_OK;
    char(*mm)[48] = realloc(a->metric, sizeof *a->metric * (size_t)(a->nmetrics + 1));
    if (!mm) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    a->metric = mm;
    snprintf(mm[a->nmetrics++], sizeof mm[0], "%s", name);
    return TASSL_OK;
}

/* Read every cell's eval.json; the metric list is the union in order of first appearance. */
static tassl_status load(agg *a) {
    const tassl_suite *s = a->s;
    int n = tassl_suite_cells(s);
    a->ev = calloc((size_t)n, sizeof *a->ev);
    a->have = calloc((size_t)n, sizeof *a->have);
    if (!a->ev || !a->have) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    snprintf(a->primary, sizeof a->primary, "%s", s->primary);
    for (int i = 0; i < s->ninits; i++)
        for (int b = 0; b < s->nbudgets; b++)
            for (int k = 0; k < s->nseeds; k++) {
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                char *p = proto_fmt("%s/%s/eval.json", a->dir, rel);
                if (!p) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
                int c = cell_index(s, i, b, k);
                tassl_status st = TASSL_OK;
                if (proto_exists(p)) {
                    st = proto_eval_read(p, &a->ev[c]);
                    a->have[c] = st == TASSL_OK;
                }
                free(p);
                if (st) return st;
                if (!a->have[c]) continue;
                if (!a->primary[0] && a->ev[c].primary[0])
                    snprintf(a->primary, sizeof a->primary, "%s", a->ev[c].primary);
                if (a->primary[0] && (st = add_metric(a, a->primary))) return st;
                for (int m = 0; m < a->ev[c].n; m++)
                    if ((st = add_metric(a, a->ev[c].name[m]))) return st;
            }
    return TASSL_OK;
}

static void agg_free(agg *a) {
    int n = tassl_suite_cells(a->s);
    for (int c = 0; a->ev && c < n; c++)
        proto_eval_free(&a->ev[c]);
    free(a->ev);
    free(a->have);
    free(a->metric);
}

static json_t *summary_json(const tassl_stat_summary *t, bool with_std) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(t->n));
    json_object_set_new(o, "mean", jnum(t->mean));
    if (with_std) json_object_set_new(o, "std", jnum(t->std));
    json_object_set_new(o, "ci95", jci(t->ci_lo, t->ci_hi));
    return o;
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

/* Build results.json and results.csv in memory. */
static tassl_status build(const agg *a, json_t **out_json, char **csv, size_t *csvlen) {
    const tassl_suite *s = a->s;
    json_t *r = json_object();
    json_object_set_new(r, "suite", json_string(s->name));
    char *kind = task_kind(s);
    json_object_set_new(r, "task", kind ? json_string(kind) : json_null());
    free(kind);
    json_object_set_new(r, "task_config", json_string(s->task));
    json_object_set_new(r, "primary", a->primary[0] ? json_string(a->primary) : json_null());
    json_object_set_new(r, "level", json_real(LEVEL));
    json_t *inits = json_array(), *fr = json_array(), *sh = json_array(), *sd = json_array(),
           *bl = json_array();
    for (int i = 0; i < s->ninits; i++)
        json_array_append_new(inits, json_string(s->inits[i].name));
    for (int b = 0; b < s->nbudgets; b++) {
        if (s->budgets[b].shots)
            json_array_append_new(sh, json_integer(s->budgets[b].shots));
        else
            json_array_append_new(fr, json_real(s->budgets[b].fraction));
        json_array_append_new(bl, json_string(s->budgets[b].label));
    }
    for (int k = 0; k < s->nseeds; k++)
        json_array_append_new(sd, json_integer(s->seeds[k]));
    json_object_set_new(r, "inits", inits);
    json_object_set_new(r, "fractions", fr);
    json_object_set_new(r, "shots", sh);
    json_object_set_new(r, "budgets", bl);
    json_object_set_new(r, "seeds", sd);

    json_t *runs = json_array(), *missing = json_array();
    for (int i = 0; i < s->ninits; i++)
        for (int b = 0; b < s->nbudgets; b++)
            for (int k = 0; k < s->nseeds; k++) {
                int c = cell_index(s, i, b, k);
                char rel[512];
                tassl_suite_cell_dir(s, i, b, k, rel, sizeof rel);
                if (!a->have[c]) {
                    json_array_append_new(missing, json_string(rel));
                    continue;
                }
                const proto_eval *e = &a->ev[c];
                json_t *o = json_object(), *m = json_object();
                json_object_set_new(o, "init", json_string(s->inits[i].name));
                json_object_set_new(o, "fraction", budget_fraction(&s->budgets[b]));
                json_object_set_new(o, "shots", json_integer(s->budgets[b].shots));
                json_object_set_new(o, "budget", json_string(s->budgets[b].label));
                json_object_set_new(o, "seed", json_integer(s->seeds[k]));
                json_object_set_new(o, "dir", json_string(rel));
                json_object_set_new(o, "train_labelled",
                                    e->train_labelled >= 0 ? json_integer(e->train_labelled)
                                                           : json_null());
                json_object_set_new(o, "train_s", jnum(e->train_s));
                json_object_set_new(o, "eval_s", jnum(e->eval_s));
                json_object_set_new(o, "mem_peak_bytes", jnum(e->mem_peak_bytes));
                for (int j = 0; j < e->n; j++)
                    json_object_set_new(m, e->name[j], jnum(e->value[j]));
                json_object_set_new(o, "metrics", m);
                json_array_append_new(runs, o);
            }
    json_object_set_new(r, "runs", runs);
    json_object_set_new(r, "missing", missing);

    /* cells and the CSV */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) {
        json_decref(r);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    }
    fprintf(f, "init,fraction,metric,n,mean,std,ci_lo,ci_hi,diff_mean,diff_ci_lo,diff_ci_hi,"
               "shots,diff_n\n");
    int sc = scratch_index(s), ns = s->nseeds;
    double *x = malloc(sizeof(double) * (size_t)ns), *y = malloc(sizeof(double) * (size_t)ns);
    json_t *cells = json_array();
    for (int i = 0; x && y && i < s->ninits; i++)
        for (int b = 0; b < s->nbudgets; b++)
            for (int m = 0; m < a->nmetrics; m++) {
                const char *mn = a->metric[m];
                values(a, i, b, mn, x);
                tassl_stat_summary t = tassl_stat_summarise(x, ns, LEVEL);
                json_t *o = json_object();
                json_object_set_new(o, "init", json_string(s->inits[i].name));
                json_object_set_new(o, "fraction", budget_fraction(&s->budgets[b]));
                json_object_set_new(o, "shots", json_integer(s->budgets[b].shots));
                json_object_set_new(o, "budget", json_string(s->budgets[b].label));
                json_object_set_new(o, "metric", json_string(mn));
                json_object_set_new(o, "n", json_integer(t.n));
                json_object_set_new(o, "mean", jnum(t.mean));
                json_object_set_new(o, "std", jnum(t.std));
                json_object_set_new(o, "ci95", jci(t.ci_lo, t.ci_hi));
                tassl_stat_summary d = {0, NAN, NAN, NAN, NAN};
                if (sc >= 0 && i != sc) {
                    values(a, sc, b, mn, y);
                    d = tassl_stat_paired(x, y, ns, LEVEL);
                    json_object_set_new(o, "diff_scratch", summary_json(&d, true));
                }
                json_array_append_new(cells, o);
                /* CSV row */
                fprintf(f, "%s,", s->inits[i].name);
                if (!s->budgets[b].shots) csv_num(f, s->budgets[b].fraction);
                fprintf(f, ",%s,%d,", mn, t.n);
                csv_num(f, t.mean), fputc(',', f);
                csv_num(f, t.std), fputc(',', f);
                csv_num(f, t.ci_lo), fputc(',', f);
                csv_num(f, t.ci_hi), fputc(',', f);
                csv_num(f, d.mean), fputc(',', f);
                csv_num(f, d.ci_lo), fputc(',', f);
                csv_num(f, d.ci_hi);
                fprintf(f, ",%d,", s->budgets[b].shots);
                if (sc >= 0 && i != sc) fprintf(f, "%d", d.n);
                fputc('\n', f);
            }
    json_object_set_new(r, "cells", cells);

    /* runtime and memory per init */
    json_t *res = json_array();
    for (int i = 0; x && i < s->ninits; i++) {
        int k = 0;
        double tot = 0, mem = NAN;
        for (int b = 0; b < s->nbudgets; b++)
            for (int j = 0; j < ns; j++) {
                int c = cell_index(s, i, b, j);
                if (!a->have[c]) continue;
                k++;
                if (isfinite(a->ev[c].train_s)) tot += a->ev[c].train_s;
                if (isfinite(a->ev[c].mem_peak_bytes) && !(a->ev[c].mem_peak_bytes <= mem))
                    mem = a->ev[c].mem_peak_bytes;
            }
        json_t *o = json_object();
        json_object_set_new(o, "init", json_string(s->inits[i].name));
        json_object_set_new(o, "kind",
                            json_string(s->inits[i].kind == TASSL_SUITE_INIT_SCRATCH ? "scratch"
                                        : s->inits[i].kind == TASSL_SUITE_INIT_PRETRAIN
                                            ? "pretrain"
                                            : "checkpoint"));
        json_object_set_new(o, "cells", json_integer(k));
        json_object_set_new(o, "train_s_total", json_real(tot));
        json_object_set_new(o, "train_s_mean", k ? json_real(tot / k) : json_null());
        json_object_set_new(o, "mem_peak_bytes_max", jnum(mem));
        if (s->inits[i].kind == TASSL_SUITE_INIT_PRETRAIN) {
            char *pd = proto_fmt("pretrain/%s", s->inits[i].name);
            json_object_set_new(o, "pretrain_dir", json_string(pd ? pd : ""));
            free(pd);
        } else if (s->inits[i].kind == TASSL_SUITE_INIT_CHECKPOINT) {
            json_object_set_new(o, "checkpoint", json_string(s->inits[i].path));
        }
        char *run = pretrain_run(s, a->dir, i);
        if (run) {
            double pw, pm;
            pretrain_stats(run, &pw, &pm);
            json_object_set_new(o, "pretrain_s", jnum(pw));
            json_object_set_new(o, "pretrain_mem_peak_bytes", jnum(pm));
            free(run);
        }
        json_array_append_new(res, o);
    }
    json_object_set_new(r, "resources", res);
    free(x);
    free(y);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || !x || !y) {
        free(buf);
        json_decref(r);
        return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    }
    *out_json = r;
    *csv = buf;
    *csvlen = blen;
    return TASSL_OK;
}

/* The init × budget table of the primary metric. */
static void table(const agg *a, FILE *f) {
    const tassl_suite *s = a->s;
    if (!a->primary[0]) {
        fprintf(f, "no finished cells yet\n");
        return;
    }
    int ns = s->nseeds, sc = scratch_index(s);
    double *x = malloc(sizeof(double) * (size_t)ns), *y = malloc(sizeof(double) * (size_t)ns);
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    fprintf(f,
            "\n%s: mean ± 95%% CI half-width over seeds (n); Δ = paired mean difference to "
            "scratch [95%% CI]\n",
            a->primary);
    fprintf(f, "%-12s", "init");
    for (int b = 0; b < s->nbudgets; b++)
        fprintf(f, " %-34s", s->budgets[b].label);
    fputc('\n', f);
    for (int i = 0; i < s->ninits; i++) {
        fprintf(f, "%-12s", s->inits[i].name);
        for (int b = 0; b < s->nbudgets; b++) {
            values(a, i, b, a->primary, x);
            tassl_stat_summary t = tassl_stat_summarise(x, ns, LEVEL);
            char cell[128];
            if (!t.n) {
                snprintf(cell, sizeof cell, "-");
            } else {
                int k = snprintf(cell, sizeof cell, "%.4f ± %.4f (%d)", t.mean,
                                 0.5 * (t.ci_hi - t.ci_lo), t.n);
                if (sc >= 0 && i != sc) {
                    values(a, sc, b, a->primary, y);
                    tassl_stat_summary d = tassl_stat_paired(x, y, ns, LEVEL);
                    if (d.n) snprintf(cell + k, sizeof cell - (size_t)k, " Δ%+.4f", d.mean);
                }
            }
            /* pad by characters, not bytes (± and Δ are two bytes each) */
            int chars = 0;
            for (const char *p = cell; *p; p++)
                chars += ((unsigned char)*p & 0xC0) != 0x80;
            fprintf(f, " %s%*s", cell, chars < 34 ? 34 - chars : 0, "");
        }
        fputc('\n', f);
    }
    /* paired intervals on their own lines (the table stays narrow) */
    for (int i = 0; sc >= 0 && i < s->ninits; i++) {
        if (i == sc) continue;
        fprintf(f, "Δ %-10s", s->inits[i].name);
        for (int b = 0; b < s->nbudgets; b++) {
            values(a, i, b, a->primary, x);
            values(a, sc, b, a->primary, y);
            tassl_stat_summary d = tassl_stat_paired(x, y, ns, LEVEL);
            char cell[128];
            if (d.n)
                snprintf(cell, sizeof cell, "%+.4f [%+.4f, %+.4f]", d.mean, d.ci_lo, d.ci_hi);
            else
                snprintf(cell, sizeof cell, "-");
            fprintf(f, " %-34s", cell);
        }
        fputc('\n', f);
    }
    /* runtime and memory per init */
    fprintf(f, "\n%-12s %6s %12s %14s %12s %15s\n", "init", "cells", "train s/cell", "peak MiB",
            "pretrain s", "pretrain MiB");
    for (int i = 0; i < s->ninits; i++) {
        int k = 0;
        double tot = 0, mem = 0;
        for (int b = 0; b < s->nbudgets; b++)
            for (int j = 0; j < ns; j++) {
                int c = cell_index(s, i, b, j);
                if (!a->have[c]) continue;
                k++;
                if (isfinite(a->ev[c].train_s)) tot += a->ev[c].train_s;
                if (a->ev[c].mem_peak_bytes > mem) mem = a->ev[c].mem_peak_bytes;
            }
        double pw, pm;
        char *run = pretrain_run(s, a->dir, i);
        pretrain_stats(run, &pw, &pm);
        free(run);
        char pws[32] = "-", pms[32] = "-";
        if (isfinite(pw)) snprintf(pws, sizeof pws, "%.1f", pw);
        if (isfinite(pm)) snprintf(pms, sizeof pms, "%.1f", pm / 1048576.0);
        fprintf(f, "%-12s %6d %12.2f %14.1f %12s %15s\n", s->inits[i].name, k, k ? tot / k : 0.0,
                mem / 1048576.0, pws, pms);
    }
    free(x);
    free(y);
}

tassl_status tassl_bench_aggregate(const tassl_suite *s, const char *dir, FILE *tab) {
    agg a = {.s = s, .dir = dir};
    tassl_status st = load(&a);
    json_t *r = NULL;
    char *csv = NULL;
    size_t csvlen = 0;
    if (!st) st = build(&a, &r, &csv, &csvlen);
    if (!st) {
        char *js = json_dumps(r, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
        char *pj = proto_fmt("%s/results.json", dir), *pc = proto_fmt("%s/results.csv", dir);
        if (!js || !pj || !pc) {
            st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        } else {
            size_t jl = strlen(js);
            js[jl] = 0;
            st = proto_write_atomic(pc, csv, csvlen);
            if (!st) {
                char *jn = proto_fmt("%s\n", js);
                st = jn ? proto_write_atomic(pj, jn, strlen(jn))
                        : tassl_error(TASSL_ERR_NOMEM, "out of memory");
                free(jn);
            }
        }
        free(js);
        free(pj);
        free(pc);
        if (!st && tab) table(&a, tab);
    }
    json_decref(r);
    free(csv);
    agg_free(&a);
    return st;
}
