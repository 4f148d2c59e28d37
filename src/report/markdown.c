/* markdown.c — tassl_report_markdown: a suite's results as Markdown tables for write-ups
 * (docs/RESULTS.md): per metric an init × budget table of mean ± 95 % CI half-width with the
 * paired difference to scratch, then runtime and memory per init from results.json's
 * "resources". The numbers are results.csv's (results.json's cells when it is absent), the same
 * as report.html's tables. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "report_internal.h"

/* Markdown table cells must not hold '|' or newlines; names come from files */
static void md_text(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", out);
        else if (*s == '\n' || *s == '\r') fputc(' ', out);
        else fputc(*s, out);
    }
}

/* the best finite mean of metric m at budget b over the inits (higher or lower is better) */
static double best_mean(const rp_suite *s, const rp_budget *b, const char *m) {
    bool low = rp_lower_is_better(m);
    double best = NAN;
    for (int i = 0; i < s->ninits; i++) {
        const rp_cell *c = rp_cell_find(s->table, s->ntable, s->inits[i], b, m);
        if (!c || c->n < 1 || !isfinite(c->mean)) continue;
        if (isnan(best) || (low ? c->mean < best : c->mean > best)) best = c->mean;
    }
    return best;
}

static void metric_table(FILE *out, const rp_suite *s, const char *m) {
    bool low = rp_lower_is_better(m);
    fprintf(out, "\n**");
    md_text(out, m);
    fprintf(out, "** (%s is better): mean ± 95 %% CI half-width over seeds (n); Δ: paired "
                 "difference to scratch [95 %% CI], bold when the interval excludes 0; the best "
                 "mean per budget in bold.\n\n| init |",
            low ? "lower" : "higher");
    for (int b = 0; b < s->nbud; b++) fprintf(out, " %s |", s->bud[b].label);
    fprintf(out, "\n|---|");
    for (int b = 0; b < s->nbud; b++) fprintf(out, "---|");
    fputc('\n', out);
    for (int i = 0; i < s->ninits; i++) {
        fprintf(out, "| ");
        md_text(out, s->inits[i]);
        fprintf(out, " |");
        for (int b = 0; b < s->nbud; b++) {
            const rp_cell *c = rp_cell_find(s->table, s->ntable, s->inits[i], &s->bud[b], m);
            if (!c || c->n < 1 || !isfinite(c->mean)) {
                fprintf(out, " – |");
                continue;
            }
            /* best as printed: a mean that rounds to the best one's three decimals */
            bool best = llround(c->mean * 1000) == llround(best_mean(s, &s->bud[b], m) * 1000);
            double hw = 0.5 * (c->hi - c->lo);
            fprintf(out, best ? " **%.3f**" : " %.3f", c->mean);
            if (isfinite(hw)) fprintf(out, " ± %.3f", hw);
            fprintf(out, " (%d)", c->n);
            if (c->has_diff && c->dn > 0 && isfinite(c->dmean)) {
                bool sig = isfinite(c->dlo) && isfinite(c->dhi) && (c->dlo > 0 || c->dhi < 0);
                fprintf(out, sig ? "<br>Δ **%+.3f** [%+.3f, %+.3f]" : "<br>Δ %+.3f [%+.3f, %+.3f]",
                        c->dmean, c->dlo, c->dhi);
            }
            fprintf(out, " |");
        }
        fputc('\n', out);
    }
}

static void mib(FILE *out, const json_t *v) {
    double x = rp_json_num(v);
    if (isfinite(x)) fprintf(out, " %.0f |", x / 1048576.0);
    else fprintf(out, " – |");
}

static void seconds(FILE *out, const json_t *v) {
    double x = rp_json_num(v);
    if (isfinite(x)) fprintf(out, " %.1f |", x);
    else fprintf(out, " – |");
}

static void resources_table(FILE *out, const rp_suite *s) {
    const json_t *res = json_object_get(s->root, "resources");
    if (!json_is_array(res) || !json_array_size(res)) return;
    fprintf(out, "\nRuntime and memory per init (wall seconds and device-pool peaks; the "
                 "pretraining's from its run's metrics.jsonl):\n\n| init | pretraining s | "
                 "pretraining peak MiB | finetune cells | finetune s/cell | finetune peak MiB "
                 "|\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < json_array_size(res); i++) {
        const json_t *r = json_array_get(res, i);
        const char *name = json_string_value(json_object_get(r, "init"));
        fprintf(out, "| ");
        md_text(out, name ? name : "?");
        fprintf(out, " |");
        seconds(out, json_object_get(r, "pretrain_s"));
        mib(out, json_object_get(r, "pretrain_mem_peak_bytes"));
        const json_t *k = json_object_get(r, "cells");
        fprintf(out, " %lld |", json_is_integer(k) ? (long long)json_integer_value(k) : 0LL);
        seconds(out, json_object_get(r, "train_s_mean"));
        mib(out, json_object_get(r, "mem_peak_bytes_max"));
        fputc('\n', out);
    }
}

typedef struct md_tables {
    FILE *out;
    const rp_suite *s;
} md_tables;

static tassl_status md_metric_table(const char *m, void *user) {
    md_tables *t = user;
    metric_table(t->out, t->s, m);
    return TASSL_OK;
}

tassl_status tassl_report_markdown(const char *dir, const tassl_report_opts *opts, FILE *out) {
    tassl_report_opts o = opts ? *opts : tassl_report_opts_default();
    char *rj = rp_join(dir, "results.json");
    if (!rj) return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    bool is_suite = rp_is_file(rj);
    free(rj);
    if (!is_suite)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: no results.json (the Markdown summary is for a suite directory "
                           "written by `tassl benchmark`; docs/PROTOCOL.md)",
                           dir);
    rp_suite s;
    tassl_status st = rp_suite_read(dir, &s);
    if (st != TASSL_OK) return st;
    fprintf(out, "Suite `");
    md_text(out, s.name);
    fprintf(out, "` (%s; %d init%s × %d budget%s × %d seed%s", s.task[0] ? s.task : "task unknown",
            s.ninits, s.ninits == 1 ? "" : "s", s.nbud, s.nbud == 1 ? "" : "s", s.nseeds,
            s.nseeds == 1 ? "" : "s");
    if (s.nmissing) fprintf(out, "; %d cell%s not finished", s.nmissing, s.nmissing == 1 ? "" : "s");
    fprintf(out, ").\n");
    const char *ms = o.metrics && *o.metrics ? o.metrics : s.primary;
    if (!ms || !*ms) {
        fprintf(out, "\nNo finished cells yet.\n");
        rp_suite_free(&s);
        return TASSL_OK;
    }
    md_tables t = {.out = out, .s = &s};
    st = rp_each_metric(&s, dir, ms, true, md_metric_table, &t);
    if (st == TASSL_OK) resources_table(out, &s);
    rp_suite_free(&s);
    if (st == TASSL_OK && ferror(out)) st = tassl_error(TASSL_ERR_IO, "report: writing the Markdown summary failed");
    return st;
}
