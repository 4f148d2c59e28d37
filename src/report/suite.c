/* suite.c — a suite directory's results as the report reads them: results.json (summary, runs,
 * cells) and results.csv (the table), docs/PROTOCOL.md. Budgets are label fractions and k-shot
 * values; a cell belongs to a budget by its (fraction, shots) pair. results.json stays loaded
 * (s->root) for the per-run table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

void rp_frac_label(char *out, size_t n, double f) {
    double p = f * 100;
    if (fabs(p - round(p)) < 1e-6)
        snprintf(out, n, "%.0f %%", p);
    else
        snprintf(out, n, "%.3g %%", p);
}

void rp_suite_free(rp_suite *s) {
    if (s->table != s->cells) free(s->table);
    free(s->cells);
    free(s->inits);
    free(s->bud);
    free(s->seeds);
    json_decref(s->root);
    memset(s, 0, sizeof *s);
}

bool rp_budget_match(const rp_budget *b, double fraction, int shots) {
    if (b->shots > 0 || shots > 0) return b->shots == shots;
    return fabs(b->fraction - fraction) <= 1e-9 * fmax(1, fabs(fraction));
}

const rp_cell *rp_cell_find(const rp_cell *c, int n, const char *init, const rp_budget *b,
                            const char *metric) {
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].init, init) && rp_budget_match(b, c[i].fraction, c[i].shots) &&
            !strcmp(c[i].metric, metric))
            return &c[i];
    return NULL;
}

tassl_status rp_each_metric(const rp_suite *s, const char *dir, const char *list,
                            bool skip_per_class,
                            tassl_status (*fn)(const char *metric, void *user), void *user) {
    const char *ms = list && *list ? list : s->primary;
    tassl_status st = TASSL_OK;
    if (!ms || !*ms) return TASSL_OK;
    if (!strcmp(ms, "all")) {
        for (int i = 0; i < s->ncells && st == TASSL_OK; i++) {
            bool seen = skip_per_class && strchr(s->cells[i].metric, '/') != NULL;
            for (int j = 0; j < i && !seen; j++) seen = !strcmp(s->cells[j].metric, s->cells[i].metric);
            if (!seen) st = fn(s->cells[i].metric, user);
        }
        return st;
    }
    for (const char *p = ms; *p && st == TASSL_OK; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t k = strcspn(p, ",");
        char m[48];
        snprintf(m, sizeof m, "%.*s", (int)(k < 47 ? k : 47), p);
        if (!m[0]) continue;
        bool known = false;
        for (int i = 0; i < s->ncells && !known; i++) known = !strcmp(s->cells[i].metric, m);
        st = known ? fn(m, user)
                   : tassl_error(TASSL_ERR_ARG, "%s/results.json: no cells of the metric '%s' (it has e.g. '%s')",
                                 dir, m, s->ncells ? s->cells[0].metric : s->primary);
    }
    return st;
}

static tassl_status need(const char *path, const char *what, const char *expected) {
    return tassl_error(TASSL_ERR_FORMAT, "%s: %s (expected %s; format in docs/PROTOCOL.md)", path,
                       what, expected);
}

/* Add budget (fraction, shots) to s->bud unless present (capacity cap). */
static void add_budget(rp_suite *s, int cap, double fraction, int shots) {
    if (!(shots > 0) && !(fraction > 0 && fraction <= 1)) return;
    for (int i = 0; i < s->nbud; i++)
        if (rp_budget_match(&s->bud[i], fraction, shots)) return;
    if (s->nbud >= cap) return;
    rp_budget *b = &s->bud[s->nbud++];
    b->shots = shots > 0 ? shots : 0;
    b->fraction = shots > 0 ? NAN : fraction;
    if (shots > 0)
        snprintf(b->label, sizeof b->label, "%d-shot", shots);
    else
        rp_frac_label(b->label, sizeof b->label, fraction);
}

static int cmp_budget(const void *pa, const void *pb) {
    const rp_budget *a = pa, *b = pb;
    if ((a->shots > 0) != (b->shots > 0)) return a->shots > 0 ? 1 : -1;
    double x = a->shots > 0 ? a->shots : a->fraction, y = b->shots > 0 ? b->shots : b->fraction;
    return (x > y) - (x < y);
}

static tassl_status read_csv_table(const char *path, rp_suite *s) {
    rp_csv c;
    tassl_status st = rp_csv_read(path, &c);
    if (st != TASSL_OK) return st;
    static const char *const cols[] = {"init",      "fraction",   "metric",    "n",
                                       "mean",      "std",        "ci_lo",     "ci_hi",
                                       "diff_mean", "diff_ci_lo", "diff_ci_hi"};
    int ci[11];
    for (int k = 0; k < 11; k++)
        if ((ci[k] = rp_csv_col(&c, cols[k])) < 0) {
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s:1: no column '%s' (expected init,fraction,metric,n,mean,std,"
                             "ci_lo,ci_hi,diff_mean,diff_ci_lo,diff_ci_hi[,shots,diff_n])",
                             path, cols[k]);
            rp_csv_free(&c);
            return st;
        }
    int cshots = rp_csv_col(&c, "shots"), cdn = rp_csv_col(&c, "diff_n");
    s->table = calloc((size_t)(c.nrows ? c.nrows : 1), sizeof *s->table);
    if (!s->table) {
        rp_csv_free(&c);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int r = 0; r < c.nrows && st == TASSL_OK; r++) {
        rp_cell *x = &s->table[r];
        double v[11];
        snprintf(x->init, sizeof x->init, "%s", rp_csv_get(&c, r, ci[0]));
        snprintf(x->metric, sizeof x->metric, "%s", rp_csv_get(&c, r, ci[2]));
        for (int k = 1; k < 11 && st == TASSL_OK; k++)
            if (k != 2 && !rp_parse_num(rp_csv_get(&c, r, ci[k]), &v[k]))
                st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: column '%s': '%s' is not a number", path,
                                 c.line[r], cols[k], rp_csv_get(&c, r, ci[k]));
        double shots = 0, dn = NAN;
        if (st == TASSL_OK && cshots >= 0 && !rp_parse_num(rp_csv_get(&c, r, cshots), &shots))
            st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: column 'shots': '%s' is not a number", path,
                             c.line[r], rp_csv_get(&c, r, cshots));
        if (st == TASSL_OK && cdn >= 0) rp_parse_num(rp_csv_get(&c, r, cdn), &dn);
        if (st == TASSL_OK && (!x->init[0] || !x->metric[0]))
            st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: empty init or metric", path, c.line[r]);
        if (st == TASSL_OK && !(isfinite(shots) && shots > 0) && !(v[1] > 0 && v[1] <= 1))
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s:%d: fraction '%s': expected a number in (0, 1] (or a k-shot "
                             "row with shots > 0)",
                             path, c.line[r], rp_csv_get(&c, r, ci[1]));
        if (st != TASSL_OK) break;
        x->shots = isfinite(shots) && shots > 0 ? (int)shots : 0;
        x->fraction = x->shots ? NAN : v[1];
        x->n = isfinite(v[3]) ? (int)v[3] : 0;
        x->mean = v[4], x->std = v[5], x->lo = v[6], x->hi = v[7];
        x->dmean = v[8], x->dlo = v[9], x->dhi = v[10];
        x->has_diff = isfinite(x->dmean);
        x->dn = isfinite(dn) ? (int)dn : x->n;
    }
    if (st == TASSL_OK) {
        s->ntable = c.nrows;
        s->table_from_csv = true;
    } else {
        free(s->table);
        s->table = NULL;
    }
    rp_csv_free(&c);
    return st;
}

tassl_status rp_suite_read(const char *dir, rp_suite *s) {
    memset(s, 0, sizeof *s);
    char *path = rp_join(dir, "results.json");
    if (!path) return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    tassl_status st = rp_json_load(path, &s->root);
    if (st != TASSL_OK) goto out;
    json_t *r = s->root;
    if (!json_is_object(r)) {
        st = need(path, "not a JSON object", "{\"suite\", \"task\", \"primary\", ...}");
        goto out;
    }
    s->name = json_string_value(json_object_get(r, "suite"));
    s->task = json_string_value(json_object_get(r, "task"));
    s->primary = json_string_value(json_object_get(r, "primary"));
    if (!s->name) s->name = "";
    if (!s->task) s->task = "";
    json_t *inits = json_object_get(r, "inits"), *fr = json_object_get(r, "fractions");
    json_t *sh = json_object_get(r, "shots"), *seeds = json_object_get(r, "seeds");
    json_t *cells = json_object_get(r, "cells");
    if (!json_is_array(inits) || !json_array_size(inits)) {
        st = need(path, "no \"inits\"", "a non-empty array of names");
        goto out;
    }
    if (!json_is_array(fr) && !json_is_array(sh)) {
        st = need(path, "no \"fractions\"", "an array of label fractions in (0, 1]");
        goto out;
    }
    if (!json_is_array(cells)) {
        st = need(path, "no \"cells\"", "an array of {init, fraction, metric, n, mean, ...}");
        goto out;
    }
    if (!s->primary && json_array_size(cells)) {
        st = need(path, "no \"primary\"", "a metric name");
        goto out;
    }
    if (!s->primary) s->primary = "";
    s->ninits = (int)json_array_size(inits);
    s->nseeds = json_is_array(seeds) ? (int)json_array_size(seeds) : 0;
    s->ncells = (int)json_array_size(cells);
    int cap = (int)(json_array_size(fr) + json_array_size(sh)) + s->ncells + 1;
    s->inits = calloc((size_t)s->ninits, sizeof *s->inits);
    s->bud = calloc((size_t)cap, sizeof *s->bud);
    s->seeds = calloc((size_t)s->nseeds + 1, sizeof *s->seeds);
    s->cells = calloc((size_t)s->ncells + 1, sizeof *s->cells);
    if (!s->inits || !s->bud || !s->seeds || !s->cells) {
        st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < s->ninits; i++)
        if (!(s->inits[i] = json_string_value(json_array_get(inits, (size_t)i)))) {
            st = need(path, "\"inits\" holds a non-string", "names");
            goto out;
        }
    for (size_t i = 0; i < json_array_size(fr); i++) {
        double f = rp_json_num(json_array_get(fr, i));
        if (!(f > 0 && f <= 1)) {
            st = need(path, "\"fractions\" holds a value outside (0, 1]", "numbers in (0, 1]");
            goto out;
        }
        add_budget(s, cap, f, 0);
    }
    for (size_t i = 0; i < json_array_size(sh); i++)
        add_budget(s, cap, NAN, (int)json_integer_value(json_array_get(sh, i)));
    for (int i = 0; i < s->nseeds; i++)
        s->seeds[i] = (int64_t)json_integer_value(json_array_get(seeds, (size_t)i));
    for (int i = 0; i < s->ncells; i++) {
        json_t *c = json_array_get(cells, (size_t)i);
        rp_cell *x = &s->cells[i];
        const char *init = json_string_value(json_object_get(c, "init"));
        const char *metric = json_string_value(json_object_get(c, "metric"));
        x->fraction = rp_json_num(json_object_get(c, "fraction"));
        x->shots = (int)json_integer_value(json_object_get(c, "shots"));
        if (x->shots < 0) x->shots = 0;
        if (!init || !metric || (!x->shots && !(x->fraction > 0 && x->fraction <= 1))) {
            char what[128];
            snprintf(what, sizeof what,
                     "cells[%d] lacks init, metric, or a fraction in (0, 1] / shots > 0", i);
            st = need(path, what, "{\"init\": str, \"fraction\": num, \"metric\": str, ...}");
            goto out;
        }
        if (x->shots) x->fraction = NAN;
        snprintf(x->init, sizeof x->init, "%s", init);
        snprintf(x->metric, sizeof x->metric, "%s", metric);
        x->n = (int)json_integer_value(json_object_get(c, "n"));
        x->mean = rp_json_num(json_object_get(c, "mean"));
        x->std = rp_json_num(json_object_get(c, "std"));
        json_t *ci = json_object_get(c, "ci95");
        x->lo = rp_json_num(json_array_get(ci, 0));
        x->hi = rp_json_num(json_array_get(ci, 1));
        json_t *d = json_object_get(c, "diff_scratch");
        if (json_is_object(d)) {
            x->has_diff = true;
            x->dn = (int)json_integer_value(json_object_get(d, "n"));
            x->dmean = rp_json_num(json_object_get(d, "mean"));
            json_t *dci = json_object_get(d, "ci95");
            x->dlo = rp_json_num(json_array_get(dci, 0));
            x->dhi = rp_json_num(json_array_get(dci, 1));
        } else
            x->dmean = x->dlo = x->dhi = NAN;
        add_budget(s, cap, x->fraction, x->shots);
    }
    qsort(s->bud, (size_t)s->nbud, sizeof *s->bud, cmp_budget);
    s->nmissing = (int)json_array_size(json_object_get(r, "missing"));
    free(path);
    path = rp_join(dir, "results.csv");
    if (!path) return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    if (rp_is_file(path)) {
        st = read_csv_table(path, s);
    } else {
        s->table = s->cells;
        s->ntable = s->ncells;
    }
out:
    free(path);
    if (st != TASSL_OK) rp_suite_free(s);
    return st;
}
