/* html.c — the report page: a self-contained HTML5 document (inline CSS, no scripts, no external
 * resources), a summary list, the results tables (mean ± CI half-width, paired Δ vs scratch,
 * best mean per fraction in bold), eval.json metrics (overall and a per-class pivot), the per-run
 * table of a suite, and the figures embedded as base64 PNG data URIs. All text is escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

static const char css[] =
    "body{font-family:-apple-system,'Segoe UI','DejaVu Sans',Helvetica,Arial,sans-serif;"
    "margin:0;color:#1f2328;background:#eef0f3;line-height:1.45}"
    "main{max-width:1080px;margin:0 auto;padding:20px 36px 48px;background:#fff;"
    "box-shadow:0 0 12px rgba(0,0,0,.06)}"
    "h1{font-size:26px;margin:10px 0 2px}h1+p{color:#57606a;margin:0 0 16px}"
    "h2{font-size:20px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin:34px 0 12px}"
    "h3{font-size:16px;margin:22px 0 8px}"
    "dl.summary{display:grid;grid-template-columns:max-content auto;gap:3px 18px;"
    "font-size:14px;margin:0}dl.summary dt{color:#57606a}dl.summary dd{margin:0}"
    "table{border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums;"
    "margin:6px 0 10px}"
    "th,td{padding:6px 12px;border-bottom:1px solid #e1e4e8;text-align:right;"
    "vertical-align:top}"
    "th{background:#f3f5f7;font-weight:600}td.l,th.l{text-align:left}"
    "tr:hover td{background:#fafbfc}"
    ".ci{color:#57606a;font-size:12px}.d{font-size:12px;color:#57606a}"
    ".up{color:#1a7f37}.down{color:#cf222e}"
    "figure{margin:18px 0 30px}figure img{max-width:100%;height:auto;border:1px solid #e1e4e8}"
    "figcaption{font-size:13px;color:#3d444d;max-width:940px;margin-top:6px}"
    ".note{background:#fff8e1;border-left:4px solid #e3b341;padding:8px 12px;font-size:14px;"
    "margin:10px 0}"
    "details{margin:8px 0}summary{cursor:pointer;font-weight:600;font-size:14px}"
    ".wide{overflow-x:auto}footer{margin-top:40px;font-size:12px;color:#57606a}";

void rp_html_begin(rp_buf *b, const char *title) {
    rp_buf_add(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"tassl report\">\n<title>");
    rp_buf_esc(b, title);
    rp_buf_add(b, "</title>\n<style>");
    rp_buf_add(b, css);
    rp_buf_add(b, "</style>\n</head>\n<body>\n<main>\n");
}

void rp_html_end(rp_buf *b) {
    rp_buf_add(b, "<footer>Written by <code>tassl report</code>. Confidence intervals: Student t "
                  "over seeds (docs/PROTOCOL.md). This page is self-contained: figures are "
                  "embedded; the PNG files are also in figures/.</footer>\n</main>\n</body>\n"
                  "</html>\n");
}

void rp_html_summary(rp_buf *b, const char *const *kv) {
    rp_buf_add(b, "<dl class=\"summary\">\n");
    for (int i = 0; kv[i]; i += 2) {
        if (!kv[i + 1] || !*kv[i + 1]) continue;
        rp_buf_add(b, "<dt>");
        rp_buf_esc(b, kv[i]);
        rp_buf_add(b, "</dt><dd>");
        rp_buf_esc(b, kv[i + 1]);
        rp_buf_add(b, "</dd>\n");
    }
    rp_buf_add(b, "</dl>\n");
}

/* A metric value with a precision that suits its size. */
static void fmt(char *o, size_t n, double v) {
    if (!isfinite(v))
        snprintf(o, n, "\xe2\x80\x94"); /* em dash */
    else if (fabs(v) >= 100)
        snprintf(o, n, "%.1f", v);
    else if (fabs(v) >= 10)
        snprintf(o, n, "%.2f", v);
    else
        snprintf(o, n, "%.3f", v);
}

static void fmt_signed(char *o, size_t n, double v) {
    char t[32];
    fmt(t, sizeof t, fabs(v));
    if (!isfinite(v))
        snprintf(o, n, "%s", t);
    else
        snprintf(o, n, "%s%.24s", v < 0 ? "\xe2\x88\x92" : "+", t); /* U+2212 minus */
}

void rp_html_results_table(rp_buf *b, const rp_suite *s, const char *metric) {
    bool low = rp_lower_is_better(metric);
    rp_buf_add(b, "<div class=\"wide\"><table>\n<tr><th class=\"l\">initialisation</th>");
    for (int j = 0; j < s->nbud; j++) {
        rp_buf_add(b, "<th>");
        rp_buf_esc(b, s->bud[j].label);
        rp_buf_add(b, s->bud[j].shots ? "</th>" : " labels</th>");
    }
    rp_buf_add(b, "</tr>\n");
    for (int i = 0; i < s->ninits; i++) {
        rp_buf_add(b, "<tr><td class=\"l\">");
        rp_buf_esc(b, s->inits[i]);
        rp_buf_add(b, "</td>");
        for (int j = 0; j < s->nbud; j++) {
            const rp_cell *c = rp_cell_find(s->table, s->ntable, s->inits[i], &s->bud[j], metric);
            if (!c || !isfinite(c->mean)) {
                rp_buf_add(b, "<td>\xe2\x80\x94</td>");
                continue;
            }
            bool best = true;
            for (int k = 0; k < s->ninits; k++) {
                const rp_cell *o =
                    rp_cell_find(s->table, s->ntable, s->inits[k], &s->bud[j], metric);
                if (o && isfinite(o->mean) && (low ? o->mean < c->mean : o->mean > c->mean))
                    best = false;
            }
            char m[32], h[32], lo[32], hi[32], sd[32];
            fmt(m, sizeof m, c->mean);
            fmt(h, sizeof h, (c->hi - c->lo) / 2);
            fmt(lo, sizeof lo, c->lo);
            fmt(hi, sizeof hi, c->hi);
            fmt(sd, sizeof sd, c->std);
            rp_buf_printf(b, "<td title=\"n = %d, std %s, 95 %% CI [%s, %s]\">%s%s%s", c->n, sd, lo,
                          hi, best ? "<b>" : "", m, best ? "</b>" : "");
            if (isfinite(c->hi) && isfinite(c->lo))
                rp_buf_printf(b, " <span class=\"ci\">\xc2\xb1 %s</span>", h);
            if (c->has_diff && isfinite(c->dmean)) {
                char dm[32], dl[32], dh[32];
                fmt_signed(dm, sizeof dm, c->dmean);
                fmt_signed(dl, sizeof dl, c->dlo);
                fmt_signed(dh, sizeof dh, c->dhi);
                const char *cls = "d";
                if (isfinite(c->dlo) && isfinite(c->dhi) && (c->dlo > 0 || c->dhi < 0)) {
                    bool better = (c->dlo > 0) != low;
                    cls = better ? "d up" : "d down";
                }
                rp_buf_printf(b, "<br><span class=\"%s\">\xce\x94 %s [%s, %s]</span>", cls, dm, dl,
                              dh);
            }
            rp_buf_add(b, "</td>");
        }
        rp_buf_add(b, "</tr>\n");
    }
    rp_buf_add(b, "</table></div>\n");
}

/* Split "dice/2" into base and class; false when there is no '/'. */
static bool split_name(const char *name, char *base, size_t bn, char *cls, size_t cn) {
    const char *sl = strchr(name, '/');
    if (!sl) return false;
    size_t k = (size_t)(sl - name);
    snprintf(base, bn, "%.*s", (int)(k < bn ? k : bn - 1), name);
    snprintf(cls, cn, "%s", sl + 1);
    return true;
}

void rp_html_eval_table(rp_buf *b, const json_t *eval) {
    json_t *m = json_object_get(eval, "metrics");
    const char *primary = json_string_value(json_object_get(eval, "primary"));
    const char *k;
    json_t *v;
    rp_buf_add(b, "<table>\n<tr><th class=\"l\">metric</th><th>value</th></tr>\n");
    int nper = 0;
    json_object_foreach(m, k, v) {
        if (strchr(k, '/')) {
            nper++;
            continue;
        }
        char t[32];
        fmt(t, sizeof t, rp_json_num(v));
        bool p = primary && !strcmp(primary, k);
        rp_buf_add(b, "<tr><td class=\"l\">");
        if (p) rp_buf_add(b, "<b>");
        rp_buf_esc(b, k);
        rp_buf_printf(b, "%s</td><td>%s%s%s</td></tr>\n", p ? " (primary)</b>" : "", p ? "<b>" : "",
                      t, p ? "</b>" : "");
    }
    rp_buf_add(b, "</table>\n");
    if (!nper) return;
    /* per-class pivot: rows = class, columns = base metric */
    char bases[16][48], classes[128][32];
    int nb = 0, nc = 0;
    json_object_foreach(m, k, v) {
        char base[48], cls[32];
        if (!split_name(k, base, sizeof base, cls, sizeof cls)) continue;
        int i;
        for (i = 0; i < nb && strcmp(bases[i], base); i++) {
        }
        if (i == nb && nb < 16) snprintf(bases[nb++], sizeof bases[0], "%s", base);
        for (i = 0; i < nc && strcmp(classes[i], cls); i++) {
        }
        if (i == nc && nc < 128) snprintf(classes[nc++], sizeof classes[0], "%s", cls);
    }
    rp_buf_add(b, "<h3>Per class</h3>\n<table>\n<tr><th class=\"l\">class</th>");
    for (int i = 0; i < nb; i++) {
        rp_buf_add(b, "<th>");
        rp_buf_esc(b, bases[i]);
        rp_buf_add(b, "</th>");
    }
    rp_buf_add(b, "</tr>\n");
    for (int c = 0; c < nc; c++) {
        rp_buf_add(b, "<tr><td class=\"l\">");
        rp_buf_esc(b, classes[c]);
        rp_buf_add(b, "</td>");
        for (int i = 0; i < nb; i++) {
            char name[96], t[32];
            snprintf(name, sizeof name, "%.47s/%.31s", bases[i], classes[c]);
            json_t *x = json_object_get(m, name);
            fmt(t, sizeof t, x ? rp_json_num(x) : NAN);
            rp_buf_printf(b, "<td>%s</td>", t);
        }
        rp_buf_add(b, "</tr>\n");
    }
    rp_buf_add(b, "</table>\n");
}

void rp_html_runs_table(rp_buf *b, const rp_suite *s) {
    json_t *runs = json_object_get(s->root, "runs");
    size_t n = json_array_size(runs);
    if (!n) {
        rp_buf_add(b, "<p class=\"note\">results.json lists no runs.</p>\n");
        return;
    }
    /* columns: the primary metric, then the other overall metrics of the first run (at most 8) */
    const char *cols[9];
    int nc = 0;
    cols[nc++] = s->primary;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_array_get(runs, 0), "metrics"), k, v) {
        if (nc < 9 && !strchr(k, '/') && strcmp(k, s->primary)) cols[nc++] = k;
    }
    rp_buf_printf(b,
                  "<details><summary>All %zu runs (eval.json of each cell and seed)</summary>\n"
                  "<div class=\"wide\"><table>\n<tr><th class=\"l\">init</th><th>labels</th>"
                  "<th>seed</th><th>labelled</th><th>train s</th>",
                  n);
    for (int i = 0; i < nc; i++) {
        rp_buf_add(b, "<th>");
        rp_buf_esc(b, cols[i]);
        rp_buf_add(b, "</th>");
    }
    rp_buf_add(b, "<th class=\"l\">directory</th></tr>\n");
    for (size_t r = 0; r < n; r++) {
        json_t *o = json_array_get(runs, r);
        char f[32], ts[32];
        int shots = (int)json_integer_value(json_object_get(o, "shots"));
        if (shots > 0)
            snprintf(f, sizeof f, "%d-shot", shots);
        else
            rp_frac_label(f, sizeof f, rp_json_num(json_object_get(o, "fraction")));
        fmt(ts, sizeof ts, rp_json_num(json_object_get(o, "train_s")));
        rp_buf_add(b, "<tr><td class=\"l\">");
        rp_buf_esc(b, json_string_value(json_object_get(o, "init")));
        json_t *seed = json_object_get(o, "seed"), *tl = json_object_get(o, "train_labelled");
        rp_buf_printf(b, "</td><td>%s</td><td>%lld</td><td>%lld</td><td>%s</td>", f,
                      (long long)json_integer_value(seed), (long long)json_integer_value(tl), ts);
        json_t *m = json_object_get(o, "metrics");
        for (int i = 0; i < nc; i++) {
            char t[32];
            json_t *x = json_object_get(m, cols[i]);
            fmt(t, sizeof t, x ? rp_json_num(x) : NAN);
            rp_buf_printf(b, "<td>%s</td>", t);
        }
        rp_buf_add(b, "<td class=\"l\"><code>");
        rp_buf_esc(b, json_string_value(json_object_get(o, "dir")));
        rp_buf_add(b, "</code></td></tr>\n");
    }
    rp_buf_add(b, "</table></div></details>\n");
}

tassl_status rp_html_figures(rp_buf *b, const char *out_dir, const rp_figlist *l) {
    for (int i = 0; i < l->n; i++) {
        const rp_figure *f = &l->v[i];
        rp_buf_add(b, "<h3>");
        rp_buf_esc(b, f->title);
        rp_buf_add(b, "</h3>\n");
        if (f->file[0]) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", out_dir, f->file);
            unsigned char *data;
            size_t n;
            tassl_status st = rp_read_file(path, &data, &n);
            if (st != TASSL_OK) return st;
            rp_buf_add(b, "<figure>\n<img alt=\"");
            rp_buf_esc(b, f->title);
            rp_buf_add(b, "\" src=\"data:image/png;base64,");
            rp_buf_base64(b, data, n);
            free(data);
            rp_buf_add(b, "\">\n<figcaption>");
            rp_buf_esc(b, f->caption);
            rp_buf_add(b, " <span class=\"ci\">(");
            rp_buf_esc(b, f->file);
            rp_buf_add(b, ")</span></figcaption>\n</figure>\n");
        }
        if (f->note[0]) {
            rp_buf_add(b, "<p class=\"note\">");
            rp_buf_esc(b, f->file[0] ? "Left out: " : "Not shown: ");
            rp_buf_esc(b, f->note);
            rp_buf_add(b, "</p>\n");
        }
    }
    return TASSL_OK;
}

void rp_html_resources_table(rp_buf *b, const rp_suite *s) {
    json_t *res = json_object_get(s->root, "resources");
    size_t n = json_array_size(res);
    if (!n) return;
    rp_buf_add(b, "<h3>Cost</h3>\n<table>\n<tr><th class=\"l\">init</th><th class=\"l\">kind"
                  "</th><th>cells</th><th>train s / cell</th><th>train s total</th>"
                  "<th>pretraining s</th><th>device memory peak</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(res, i);
        char c[32], m[32], t[32], p[32], mem[32];
        snprintf(c, sizeof c, "%lld", (long long)json_integer_value(json_object_get(o, "cells")));
        fmt(m, sizeof m, rp_json_num(json_object_get(o, "train_s_mean")));
        fmt(t, sizeof t, rp_json_num(json_object_get(o, "train_s_total")));
        fmt(p, sizeof p, rp_json_num(json_object_get(o, "pretrain_s")));
        double mb = rp_json_num(json_object_get(o, "mem_peak_bytes_max"));
        if (isfinite(mb))
            snprintf(mem, sizeof mem, "%.1f MiB", mb / 1048576.0);
        else
            snprintf(mem, sizeof mem, "\xe2\x80\x94");
        rp_buf_add(b, "<tr><td class=\"l\">");
        rp_buf_esc(b, json_string_value(json_object_get(o, "init")));
        rp_buf_add(b, "</td><td class=\"l\">");
        rp_buf_esc(b, json_string_value(json_object_get(o, "kind")));
        rp_buf_printf(b, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", c,
                      m, t, p, mem);
    }
    rp_buf_add(b, "</table>\n");
}
