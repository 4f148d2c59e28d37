/* figures.c — the figures drawn from a suite's results (suite.c) and from metrics.jsonl:
 * label-efficiency curves with 95 % CI bands (one figure for the label fractions, one for k-shot
 * budgets if any), the paired difference to scratch with CI error bars, and training curves
 * (losses and val_* values vs step). Predictions figures are in figures_pred.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

static const rp_rgb scratch_col = {0.30, 0.30, 0.32};

rp_figure *rp_figlist_add(rp_figlist *l) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        rp_figure *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        l->v = v;
        l->cap = cap;
    }
    rp_figure *f = &l->v[l->n++];
    memset(f, 0, sizeof *f);
    return f;
}

void rp_figlist_free(rp_figlist *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- shared --------------------------------------------------------------------------------- */

static rp_figure *new_fig(rp_figlist *l) {
    rp_figure *f = rp_figlist_add(l);
    if (!f) tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    return f;
}

/* Save fig as out_dir/figures/<name>.png and record it in e. */
static tassl_status save(rp_fig *fig, const char *out_dir, const char *name, rp_figure *e) {
    char path[4096];
    snprintf(e->file, sizeof e->file, "figures/%s.png", name);
    snprintf(path, sizeof path, "%s/%s", out_dir, e->file);
    tassl_status st = rp_fig_save(fig, path);
    rp_fig_free(fig);
    if (st != TASSL_OK) e->file[0] = 0;
    return st;
}

/* "metric" file-name safe: [A-Za-z0-9_-], others '_'. */
static void safe_name(char *out, size_t n, const char *s) {
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        out[k++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                  (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
                              ? *s
                              : '_');
    out[k] = 0;
}

static bool is_scratch(const char *init) {
    return !strcmp(init, "scratch");
}

/* The colour of init i: grey for scratch, the palette in order for the others (so every figure
 * gives an init the same colour). */
static rp_rgb init_color(const rp_suite *s, int i) {
    if (is_scratch(s->inits[i])) return scratch_col;
    int k = 0;
    for (int j = 0; j < i; j++)
        k += !is_scratch(s->inits[j]);
    return rp_color(k);
}

/* The budgets of one kind (fractions: shots false; k-shot values: shots true) as x values and
 * their budget indices; returns how many (at most RP_MAX_TICKS). */
static int budget_axis(const rp_suite *s, bool shots, double *x, int *idx) {
    int n = 0;
    for (int b = 0; b < s->nbud && n < RP_MAX_TICKS; b++)
        if ((s->bud[b].shots > 0) == shots) {
            x[n] = shots ? s->bud[b].shots : s->bud[b].fraction;
            idx[n++] = b;
        }
    return n;
}

/* log x axis over the budgets with a tick (its label) at each */
static void budget_ticks(rp_axes *a, const rp_suite *s, int n, const double *x, const int *idx) {
    const char *lp[RP_MAX_TICKS];
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        lp[i] = s->bud[idx[i]].label;
        lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    }
    rp_axes_xrange(a, lo, hi, true);
    rp_axes_xticks(a, n, x, lp);
}

static const char *axis_title(bool shots) {
    return shots ? "labelled subjects per class (k-shot, log scale)"
                 : "labelled fraction of the training subjects (log scale)";
}

/* ---- label efficiency ----------------------------------------------------------------------- */

static tassl_status label_efficiency(const char *out_dir, const rp_suite *s, const char *metric,
                                     bool shots, rp_figlist *l) {
    double x[RP_MAX_TICKS];
    int idx[RP_MAX_TICKS];
    int nb = budget_axis(s, shots, x, idx);
    if (!nb) return TASSL_OK;
    rp_figure *e = new_fig(l);
    if (!e) return TASSL_ERR_NOMEM;
    snprintf(e->title, sizeof e->title, "Label efficiency: %s%s", metric, shots ? " (k-shot)" : "");
    double ylo = INFINITY, yhi = -INFINITY;
    int found = 0;
    for (int i = 0; i < s->ninits; i++)
        for (int j = 0; j < nb; j++) {
            const rp_cell *c =
                rp_cell_find(s->cells, s->ncells, s->inits[i], &s->bud[idx[j]], metric);
            if (!c) continue;
            double v[3] = {c->mean, c->lo, c->hi};
            for (int k = 0; k < 3; k++)
                if (isfinite(v[k])) ylo = fmin(ylo, v[k]), yhi = fmax(yhi, v[k]), found++;
        }
    if (!found) {
        snprintf(e->note, sizeof e->note,
                 "results.json has no finite cells for the metric \"%s\" yet.", metric);
        return TASSL_OK;
    }
    rp_fig fig;
    tassl_status st = rp_fig_new(&fig, 960, 560);
    if (st != TASSL_OK) return st;
    rp_axes a;
    rp_axes_init(&a, &fig, 0, 0, 960, 560);
    budget_ticks(&a, s, nb, x, idx);
    bool clipped = false;
    if (rp_unit_range(metric)) { /* keep the axis on [0, 1]; a band beyond it is clipped */
        clipped = ylo < 0 || yhi > 1;
        ylo = fmax(ylo, 0), yhi = fmin(yhi, 1);
    }
    double pad = (yhi - ylo) * 0.06;
    double ya = ylo - pad, yb = yhi + pad;
    if (rp_unit_range(metric)) ya = fmax(ya, 0), yb = fmin(yb, 1);
    rp_axes_yrange(&a, ya, yb);
    char title[160];
    snprintf(title, sizeof title, "%s vs %s (mean and 95 %% CI over seeds)", metric,
             shots ? "labelled subjects per class" : "label fraction");
    rp_axes_draw(&a, title, axis_title(shots), metric);
    rp_legend_item items[32];
    double m[RP_MAX_TICKS], lo[RP_MAX_TICKS], hi[RP_MAX_TICKS];
    int ni = 0, k = 0;
    for (int pass = 0; pass < 2; pass++) /* bands first, then lines over every band */
        for (int i = 0; i < s->ninits && i < 32; i++) {
            rp_rgb col = init_color(s, i);
            for (int j = 0; j < nb; j++) {
                const rp_cell *c =
                    rp_cell_find(s->cells, s->ncells, s->inits[i], &s->bud[idx[j]], metric);
                m[j] = c ? c->mean : NAN;
                lo[j] = c ? c->lo : NAN;
                hi[j] = c ? c->hi : NAN;
            }
            if (pass == 0) {
                rp_band(&a, nb, x, lo, hi, col, 0.16);
                continue;
            }
            bool sc = is_scratch(s->inits[i]);
            int shape = sc ? RP_MARK_SQUARE : (k++ % RP_MARK_COUNT);
            if (shape == RP_MARK_SQUARE && !sc) shape = RP_MARK_DIAMOND;
            rp_line(&a, nb, x, m, col, 2.2, sc);
            rp_markers(&a, nb, x, m, col, shape, 5);
            items[ni++] = (rp_legend_item){s->inits[i], col, shape, true, true, sc};
        }
    rp_legend(&a, ni, items, -1);
    char nm[64], file[96];
    safe_name(nm, sizeof nm, metric);
    snprintf(file, sizeof file, "label_efficiency_%s%s", nm, shots ? "_shots" : "");
    snprintf(e->caption, sizeof e->caption,
             "%s (%s) against the %s, one curve per initialisation: mean over %d seed%s "
             "(markers) with the 95 %% Student-t confidence interval shaded. %s is better.",
             metric, !strcmp(metric, s->primary) ? "primary metric" : "secondary metric",
             shots ? "number of labelled subjects per class"
                   : "fraction of labelled training subjects",
             s->nseeds, s->nseeds == 1 ? "" : "s", rp_lower_is_better(metric) ? "Lower" : "Higher");
    if (clipped) {
        size_t k = strlen(e->caption);
        snprintf(e->caption + k, sizeof e->caption - k,
                 " Some intervals reach beyond [0, 1] (few seeds) and are cut at the axis.");
    }
    return save(&fig, out_dir, file, e);
}

tassl_status rp_fig_label_efficiency(const char *out_dir, const rp_suite *s, const char *metric,
                                     rp_figlist *l) {
    tassl_status st = label_efficiency(out_dir, s, metric, false, l);
    return st == TASSL_OK ? label_efficiency(out_dir, s, metric, true, l) : st;
}

/* ---- paired difference to scratch ----------------------------------------------------------- */

static tassl_status diff_scratch(const char *out_dir, const rp_suite *s, const char *metric,
                                 bool shots, rp_figlist *l) {
    double x[RP_MAX_TICKS];
    int idx[RP_MAX_TICKS];
    int nb = budget_axis(s, shots, x, idx);
    if (!nb) return TASSL_OK;
    rp_figure *e = new_fig(l);
    if (!e) return TASSL_ERR_NOMEM;
    snprintf(e->title, sizeof e->title, "Paired difference to scratch: %s%s", metric,
             shots ? " (k-shot)" : "");
    int nin = 0;
    double ylo = 0, yhi = 0;
    for (int i = 0; i < s->ninits; i++) {
        bool any = false;
        for (int j = 0; j < nb; j++) {
            const rp_cell *c =
                rp_cell_find(s->cells, s->ncells, s->inits[i], &s->bud[idx[j]], metric);
            if (!c || !c->has_diff) continue;
            double v[3] = {c->dmean, c->dlo, c->dhi};
            for (int k = 0; k < 3; k++)
                if (isfinite(v[k])) ylo = fmin(ylo, v[k]), yhi = fmax(yhi, v[k]), any = true;
        }
        nin += any;
    }
    if (!nin) {
        snprintf(e->note, sizeof e->note,
                 "No paired differences to scratch for \"%s\" in results.json (the suite has no "
                 "scratch baseline, no other initialisation, or no finished pairs yet).",
                 metric);
        return TASSL_OK;
    }
    rp_fig fig;
    tassl_status st = rp_fig_new(&fig, 960, 520);
    if (st != TASSL_OK) return st;
    rp_axes a;
    rp_axes_init(&a, &fig, 0, 0, 960, 520);
    budget_ticks(&a, s, nb, x, idx);
    bool clipped = false;
    if (rp_unit_range(metric)) { /* a difference of [0, 1] values lies in [-1, 1] */
        clipped = ylo < -1 || yhi > 1;
        ylo = fmax(ylo, -1), yhi = fmin(yhi, 1);
    }
    double pad = (yhi - ylo) * 0.08 + 1e-12;
    double ya = ylo - pad, yb = yhi + pad;
    if (rp_unit_range(metric)) ya = fmax(ya, -1), yb = fmin(yb, 1);
    rp_axes_yrange(&a, ya, yb);
    char title[160], ylab[96];
    snprintf(title, sizeof title, "%s: initialisation minus scratch, paired by seed (95 %% CI)",
             metric);
    snprintf(ylab, sizeof ylab, "\xce\x94 %s vs scratch", metric);
    rp_axes_draw(&a, title, axis_title(shots), ylab);
    rp_hline(&a, 0, scratch_col, true);
    double m[RP_MAX_TICKS], lo[RP_MAX_TICKS], hi[RP_MAX_TICKS], xs[RP_MAX_TICKS];
    rp_legend_item items[33];
    int ni = 0, k = 0;
    for (int i = 0; i < s->ninits && ni < 32; i++) {
        if (is_scratch(s->inits[i])) continue;
        bool any = false;
        for (int j = 0; j < nb; j++) {
            const rp_cell *c =
                rp_cell_find(s->cells, s->ncells, s->inits[i], &s->bud[idx[j]], metric);
            m[j] = c && c->has_diff ? c->dmean : NAN;
            lo[j] = c && c->has_diff ? c->dlo : NAN;
            hi[j] = c && c->has_diff ? c->dhi : NAN;
            any = any || isfinite(m[j]);
        }
        if (!any) continue;
        rp_rgb col = init_color(s, i);
        /* series side by side: each shifted dx pixels, converted back to the log x axis */
        double dx = (k - (nin - 1) / 2.0) * 9;
        for (int j = 0; j < nb; j++) {
            double t = (rp_px(&a, x[j]) + dx - a.px) / a.pw;
            xs[j] = exp(log(a.x0) + t * (log(a.x1) - log(a.x0)));
        }
        int shape = (k % RP_MARK_COUNT) == RP_MARK_SQUARE ? RP_MARK_DIAMOND : k % RP_MARK_COUNT;
        rp_errorbars(&a, nb, xs, lo, hi, col, 0);
        rp_line(&a, nb, xs, m, col, 1.4, false);
        rp_markers(&a, nb, xs, m, col, shape, 5.5);
        items[ni++] = (rp_legend_item){s->inits[i], col, shape, true, false, false};
        k++;
    }
    items[ni++] = (rp_legend_item){"scratch (0)", scratch_col, -1, true, false, true};
    rp_legend(&a, ni, items, -1);
    char nm[64], file[96];
    safe_name(nm, sizeof nm, metric);
    snprintf(file, sizeof file, "diff_scratch_%s%s", nm, shots ? "_shots" : "");
    snprintf(e->caption, sizeof e->caption,
             "Paired difference in %s between each initialisation and training from scratch on "
             "the same labelled subset and seed: mean with its 95 %% t interval. An interval "
             "that excludes the dashed zero line is a difference the seeds support; %s values "
             "favour the pretrained encoder.",
             metric, rp_lower_is_better(metric) ? "negative" : "positive");
    if (clipped) {
        size_t k = strlen(e->caption);
        snprintf(e->caption + k, sizeof e->caption - k,
                 " Some intervals reach beyond [\xe2\x88\x92"
                 "1, 1] (few seeds) and are cut at "
                 "the axis.");
    }
    return save(&fig, out_dir, file, e);
}

tassl_status rp_fig_diff_scratch(const char *out_dir, const rp_suite *s, const char *metric,
                                 rp_figlist *l) {
    tassl_status st = diff_scratch(out_dir, s, metric, false, l);
    return st == TASSL_OK ? diff_scratch(out_dir, s, metric, true, l) : st;
}

/* ---- training curves ------------------------------------------------------------------------ */

typedef struct series {
    char name[96];
    int n, cap;
    double *x, *y;
    int run;
} series;

typedef struct serieslist {
    series *v;
    int n, cap;
} serieslist;

static series *series_get(serieslist *l, const char *name, int run) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, name) && l->v[i].run == run) return &l->v[i];
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        series *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        l->v = v;
        l->cap = cap;
    }
    series *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->run = run;
    return s;
}

static bool series_push(series *s, double x, double y) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return false;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return false;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return true;
}

static void serieslist_free(serieslist *l) {
    for (int i = 0; i < l->n; i++)
        free(l->v[i].x), free(l->v[i].y);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Read run_dir/metrics.jsonl into loss series ("losses" members) and val series (top-level keys
 * starting with "val_"). Returns TASSL_ERR_IO if the file does not exist. */
static tassl_status read_metrics(const char *run_dir, int run, serieslist *loss, serieslist *val) {
    char *path = rp_join(run_dir, "metrics.jsonl");
    if (!path) return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    unsigned char *data;
    size_t n;
    tassl_status st = rp_is_file(path) ? rp_read_file(path, &data, &n)
                                       : tassl_error(TASSL_ERR_IO, "%s: no such file", path);
    if (st != TASSL_OK) {
        free(path);
        return st;
    }
    int lineno = 0;
    for (char *line = (char *)data; line && *line && st == TASSL_OK;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        const char *q = line;
        while (*q == ' ' || *q == '\t' || *q == '\r')
            q++;
        if (*q) {
            json_error_t e;
            json_t *o = json_loads(line, 0, &e);
            json_t *js = o ? json_object_get(o, "step") : NULL;
            if (!o)
                st = tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", path, lineno,
                                 e.column, e.text);
            else if (!json_is_object(o) || !json_is_number(js))
                st = tassl_error(TASSL_ERR_FORMAT,
                                 "%s:%d: expected an object with a numeric \"step\" (run.h)", path,
                                 lineno);
            else {
                double step = json_number_value(js);
                json_t *losses = json_object_get(o, "losses");
                const char *k;
                json_t *v;
                json_object_foreach(losses, k, v) {
                    series *s = series_get(loss, k, run);
                    if (!s || !series_push(s, step, rp_json_num(v)))
                        st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
                }
                json_object_foreach(o, k, v) {
                    if (strncmp(k, "val_", 4) != 0 || !(json_is_number(v) || json_is_null(v)))
                        continue;
                    series *s = series_get(val, k, run);
                    if (!s || !series_push(s, step, rp_json_num(v)))
                        st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
                }
            }
            json_decref(o);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    free(path);
    return st;
}

static void draw_series_panel(rp_fig *fig, double x, double y, double w, double h,
                              const serieslist *l, const char *title, const char *ylabel,
                              bool by_run, const char *const *labels, int nruns) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < l->v[i].n; j++) {
            if (!isfinite(l->v[i].y[j])) continue;
            xlo = fmin(xlo, l->v[i].x[j]), xhi = fmax(xhi, l->v[i].x[j]);
            ylo = fmin(ylo, l->v[i].y[j]), yhi = fmax(yhi, l->v[i].y[j]);
        }
    rp_axes a;
    rp_axes_init(&a, fig, x, y, w, h);
    if (!isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    rp_axes_xrange(&a, xlo, xhi, false);
    double pad = (yhi - ylo) * 0.04;
    /* a non-negative series (losses, Dice) gets no axis below 0 */
    rp_axes_yrange(&a, ylo >= 0 ? fmax(ylo - pad, 0) : ylo - pad, yhi + pad);
    rp_axes_draw(&a, title, "step", ylabel);
    rp_legend_item items[16];
    int ni = 0;
    for (int i = 0; i < l->n; i++) {
        const series *s = &l->v[i];
        rp_rgb col = rp_color(i);
        if (by_run && s->run < nruns) { /* as init_color: scratch grey, others in order */
            int k = 0;
            for (int r = 0; r < s->run; r++)
                k += !is_scratch(labels[r]);
            col = is_scratch(labels[s->run]) ? scratch_col : rp_color(k);
        }
        rp_line(&a, s->n, s->x, s->y, col, 1.8, false);
        if (s->n <= 30) rp_markers(&a, s->n, s->x, s->y, col, RP_MARK_CIRCLE, 3);
        if (ni < 16) {
            const char *lab = by_run && s->run < nruns ? labels[s->run] : s->name;
            items[ni++] = (rp_legend_item){lab, col, -1, true, false, false};
        }
    }
    rp_legend(&a, ni, items, -1);
}

tassl_status rp_fig_training(const char *out_dir, const char *name, const char *title, int n,
                             const char *const *run_dirs, const char *const *labels,
                             rp_figlist *l) {
    rp_figure *e = new_fig(l);
    if (!e) return TASSL_ERR_NOMEM;
    snprintf(e->title, sizeof e->title, "%s", title);
    serieslist loss = {0}, val = {0};
    tassl_status st = TASSL_OK;
    int have = 0;
    char missing[512] = "";
    for (int r = 0; r < n && st == TASSL_OK; r++) {
        char *p = rp_join(run_dirs[r], "metrics.jsonl");
        bool exists = p && rp_is_file(p);
        free(p);
        if (!exists) {
            size_t k = strlen(missing);
            snprintf(missing + k, sizeof missing - k, "%s%s", k ? ", " : "", labels[r]);
            continue;
        }
        st = read_metrics(run_dirs[r], r, &loss, &val);
        have++;
    }
    if (st != TASSL_OK) {
        serieslist_free(&loss);
        serieslist_free(&val);
        return st;
    }
    if (!have || loss.n + val.n == 0) {
        snprintf(e->note, sizeof e->note, "%s",
                 !have ? "there is no metrics.jsonl in the run directory."
                       : "metrics.jsonl has no losses or val_* values.");
        serieslist_free(&loss);
        serieslist_free(&val);
        return TASSL_OK;
    }
    /* Several runs: one loss (the total "loss", else the first) and one val_* per run. */
    bool by_run = n > 1;
    if (by_run) {
        for (serieslist *L = &loss; L; L = (L == &loss ? &val : NULL)) {
            const char *keep = NULL;
            for (int i = 0; i < L->n; i++)
                if (!strcmp(L->v[i].name, "loss")) keep = "loss";
            if (!keep && L->n) keep = L->v[0].name;
            char kn[96];
            snprintf(kn, sizeof kn, "%s", keep ? keep : "");
            int w = 0;
            for (int i = 0; i < L->n; i++) {
                if (!strcmp(L->v[i].name, kn))
                    L->v[w++] = L->v[i];
                else
                    free(L->v[i].x), free(L->v[i].y);
            }
            L->n = w;
        }
    }
    rp_fig fig;
    st = rp_fig_new(&fig, 960, 440);
    if (st == TASSL_OK) {
        bool two = val.n > 0 && loss.n > 0;
        char lt[160], vt[160];
        snprintf(lt, sizeof lt, "training loss%s", by_run && loss.n ? "" : "es");
        if (by_run && loss.n) snprintf(lt, sizeof lt, "training %s", loss.v[0].name);
        snprintf(vt, sizeof vt, "validation%s%s", by_run && val.n ? ": " : "",
                 by_run && val.n ? val.v[0].name + 4 : "");
        if (loss.n)
            draw_series_panel(&fig, 0, 0, two ? 480 : 960, 440, &loss, lt, "loss", by_run, labels,
                              n);
        if (val.n)
            draw_series_panel(&fig, two ? 480 : 0, 0, two ? 480 : 960, 440, &val, vt,
                              by_run ? val.v[0].name + 4 : "value", by_run, labels, n);
        snprintf(e->caption, sizeof e->caption,
                 "Training curves from metrics.jsonl against the optimiser step: %s%s%s%s%s",
                 loss.n ? "training loss" : "", loss.n && val.n ? " (left) and " : "",
                 val.n ? "validation values logged during training (val_*)" : "",
                 by_run ? ", one line per run" : "", ".");
        if (missing[0]) {
            size_t k = strlen(e->caption);
            snprintf(e->caption + k, sizeof e->caption - k, " No metrics.jsonl for: %s.", missing);
        }
        st = save(&fig, out_dir, name, e);
    }
    serieslist_free(&loss);
    serieslist_free(&val);
    return st;
}
