/* report.c — tassl_report_write: recognise the directory (a suite: results.json; a finetune run:
 * eval.json, or a run with only metrics.jsonl), draw its figures into DIR/figures/, and write
 * DIR/report.html (via report.html.tmp + rename, so a failure keeps an earlier page). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "report_internal.h"
#include "tassl/tassl.h"

tassl_report_opts tassl_report_opts_default(void) {
    return (tassl_report_opts){.title = NULL, .metrics = NULL, .max_cases = 4, .max_curves = 2};
}

static void mtime_str(const char *path, char *out, size_t n) {
    struct stat st;
    out[0] = 0;
    if (stat(path, &st) != 0) return;
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm);
}

static void now_str(char *out, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm);
}

static const char *base_name(const char *dir, char *buf, size_t n) {
    snprintf(buf, n, "%s", dir);
    size_t k = strlen(buf);
    while (k > 1 && buf[k - 1] == '/')
        buf[--k] = 0;
    const char *s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

/* ---- suite ---------------------------------------------------------------------------------- */

/* The run entry of results.json for (init, budget) with the smallest seed, or NULL. */
static json_t *find_run(const rp_suite *s, const char *init, const rp_budget *bud) {
    json_t *runs = json_object_get(s->root, "runs"), *best = NULL;
    size_t i;
    json_t *o;
    json_array_foreach(runs, i, o) {
        const char *in = json_string_value(json_object_get(o, "init"));
        double f = rp_json_num(json_object_get(o, "fraction"));
        int shots = (int)json_integer_value(json_object_get(o, "shots"));
        if (!in || strcmp(in, init) || !rp_budget_match(bud, f, shots) ||
            !json_string_value(json_object_get(o, "dir")))
            continue;
        if (!best || json_integer_value(json_object_get(o, "seed")) <
                         json_integer_value(json_object_get(best, "seed")))
            best = o;
    }
    return best;
}

/* rp_each_metric's callback: the label-efficiency and difference figures of one metric */
typedef struct suite_figs {
    const char *dir;
    const rp_suite *s;
    rp_figlist *figs;
} suite_figs;

static tassl_status suite_metric_figs(const char *m, void *user) {
    suite_figs *f = user;
    tassl_status st = rp_fig_label_efficiency(f->dir, f->s, m, f->figs);
    return st == TASSL_OK ? rp_fig_diff_scratch(f->dir, f->s, m, f->figs) : st;
}

static tassl_status suite_page(const char *dir, const tassl_report_opts *o, rp_buf *b,
                               rp_figlist *figs) {
    rp_suite s;
    tassl_status st = rp_suite_read(dir, &s);
    if (st != TASSL_OK) return st;
    char title[512], bn[1024], inits[1024] = "", fr[512] = "", seeds[256] = "", nruns[32],
                               written[64], now[64];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        snprintf(title, sizeof title, "tassl report \xe2\x80\x94 %s",
                 s.name[0] ? s.name : base_name(dir, bn, sizeof bn));
    for (int i = 0; i < s.ninits; i++) {
        size_t k = strlen(inits);
        snprintf(inits + k, sizeof inits - k, "%s%s", i ? ", " : "", s.inits[i]);
    }
    for (int i = 0; i < s.nbud; i++) {
        size_t k = strlen(fr);
        snprintf(fr + k, sizeof fr - k, "%s%s", i ? ", " : "", s.bud[i].label);
    }
    for (int i = 0; i < s.nseeds; i++) {
        size_t k = strlen(seeds);
        snprintf(seeds + k, sizeof seeds - k, "%s%lld", i ? ", " : "", (long long)s.seeds[i]);
    }
    snprintf(nruns, sizeof nruns, "%zu", json_array_size(json_object_get(s.root, "runs")));
    char *rj = rp_join(dir, "results.json");
    mtime_str(rj ? rj : dir, written, sizeof written);
    free(rj);
    now_str(now, sizeof now);
    rp_html_begin(b, title);
    rp_buf_add(b, "<h1>");
    rp_buf_esc(b, title);
    rp_buf_add(b, "</h1>\n<p>Benchmark suite: label efficiency of each initialisation against "
                  "training from scratch.</p>\n<h2>Summary</h2>\n");
    const char *kv[] = {"suite",
                        s.name,
                        "task",
                        s.task,
                        "primary metric",
                        s.primary,
                        "initialisations",
                        inits,
                        "label budgets",
                        fr,
                        "seeds",
                        seeds,
                        "runs",
                        nruns,
                        "results written",
                        written,
                        "report generated",
                        now,
                        "tassl version",
                        tassl_version(),
                        "directory",
                        dir,
                        NULL};
    rp_html_summary(b, kv);
    rp_buf_add(b, "<h2>Results</h2>\n<p>Mean \xc2\xb1 half-width of the 95 % confidence interval "
                  "over seeds; below it, the paired difference to scratch (\xce\x94, same "
                  "labelled subset and seed) with its 95 % CI, green or red when the interval "
                  "excludes zero. Bold: the best mean at each label budget.");
    if (!s.table_from_csv) rp_buf_add(b, " (results.csv is missing: values from results.json.)");
    if (s.nmissing)
        rp_buf_printf(b,
                      "</p>\n<p class=\"note\">%d cell run%s not finished yet (results.json "
                      "\"missing\"): the statistics cover the finished seeds only.",
                      s.nmissing, s.nmissing == 1 ? " is" : "s are");
    rp_buf_add(b, "</p>\n<h3>");
    rp_buf_esc(b, s.primary);
    rp_buf_add(b, " (primary)</h3>\n");
    rp_html_results_table(b, &s, s.primary);
    /* other metrics folded, one each; per-class metrics ("name/c") together in one fold */
    int nper = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && nper)
            rp_buf_printf(b, "<details><summary>per-class metrics (%d)</summary>\n", nper);
        for (int i = 0; i < s.ntable; i++) {
            const char *m = s.table[i].metric;
            bool seen = !strcmp(m, s.primary), per = strchr(m, '/') != NULL;
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(s.table[j].metric, m);
            if (seen) continue;
            if (pass == 0 && per) nper++;
            if (per != (pass == 1)) continue;
            rp_buf_add(b, per ? "<h3>" : "<details><summary>");
            rp_buf_esc(b, m);
            rp_buf_add(b, per ? "</h3>\n" : "</summary>\n");
            rp_html_results_table(b, &s, m);
            if (!per) rp_buf_add(b, "</details>\n");
        }
        if (pass == 1 && nper) rp_buf_add(b, "</details>\n");
    }
    /* figures: label efficiency and differences for the chosen metrics */
    if (st == TASSL_OK) {
        suite_figs sf = {.dir = dir, .s = &s, .figs = figs};
        st = rp_each_metric(&s, dir, o->metrics, false, suite_metric_figs, &sf);
    }
    /* training curves at the smallest and largest budgets (max_curves of them, evenly spread
     * over the budgets, which are sorted: fractions ascending, then k-shot ascending) */
    int ncur = o->max_curves < 1 ? 1 : o->max_curves;
    if (ncur > s.nbud) ncur = s.nbud;
    const char **dirs = calloc((size_t)s.ninits + 1, sizeof *dirs);
    const char **labels = calloc((size_t)s.ninits + 1, sizeof *labels);
    char **own = calloc((size_t)s.ninits + 1, sizeof *own);
    if (!dirs || !labels || !own) st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
    int prev = -1;
    for (int c = 0; c < ncur && st == TASSL_OK; c++) {
        int bi = ncur == 1 ? 0 : (int)lround((double)c * (s.nbud - 1) / (ncur - 1));
        if (bi == prev) continue;
        prev = bi;
        int n = 0;
        int64_t seed = 0;
        for (int i = 0; i < s.ninits; i++) {
            json_t *r = find_run(&s, s.inits[i], &s.bud[bi]);
            if (!r || !(own[n] = rp_join(dir, json_string_value(json_object_get(r, "dir")))))
                continue;
            seed = json_integer_value(json_object_get(r, "seed"));
            dirs[n] = own[n];
            labels[n] = s.inits[i];
            n++;
        }
        char name[64], t[160];
        snprintf(name, sizeof name, "training_b%d", bi);
        snprintf(t, sizeof t, "Training curves at %s%s (seed %lld)", s.bud[bi].label,
                 s.bud[bi].shots ? "" : " labels", (long long)seed);
        if (n)
            st = rp_fig_training(dir, name, t, n, dirs, labels, figs);
        else {
            rp_figure *e = rp_figlist_add(figs);
            if (e) {
                snprintf(e->title, sizeof e->title, "Training curves at %s", s.bud[bi].label);
                snprintf(e->note, sizeof e->note,
                         "results.json lists no finished runs at this budget yet.");
            }
        }
        for (int i = 0; i < n; i++)
            free(own[i]), own[i] = NULL;
    }
    free(own);
    free(dirs);
    free(labels);
    /* predictions of a representative cell: the best non-scratch init at the smallest budget,
     * and scratch there, smallest seed */
    if (st == TASSL_OK && s.nbud) {
        const rp_budget *b0 = &s.bud[0];
        const char *bi = NULL;
        double bv = NAN;
        bool low = rp_lower_is_better(s.primary);
        for (int i = 0; i < s.ninits; i++) {
            if (!strcmp(s.inits[i], "scratch")) continue;
            const rp_cell *c = rp_cell_find(s.cells, s.ncells, s.inits[i], b0, s.primary);
            if (c && isfinite(c->mean) && (!bi || (low ? c->mean < bv : c->mean > bv)))
                bi = s.inits[i], bv = c->mean;
        }
        const char *show[2] = {bi, "scratch"};
        for (int k = 0; k < 2 && st == TASSL_OK; k++) {
            if (!show[k]) continue;
            json_t *r = find_run(&s, show[k], b0);
            if (!r) continue;
            char *rd = rp_join(dir, json_string_value(json_object_get(r, "dir")));
            char label[160], prefix[96];
            snprintf(label, sizeof label, "%s at %s%s, seed %lld", show[k], b0->label,
                     b0->shots ? "" : " labels",
                     (long long)json_integer_value(json_object_get(r, "seed")));
            snprintf(prefix, sizeof prefix, "cell%d_", k);
            if (!rd)
                st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
            else
                st = rp_fig_predictions(dir, prefix, rd, label, o->max_cases, figs);
            if (st == TASSL_OK && figs->n) {
                rp_figure *e = &figs->v[figs->n - 1];
                size_t tl = strlen(e->title);
                snprintf(e->title + tl, sizeof e->title - tl, ": %s", label);
            }
            free(rd);
        }
    }
    if (st == TASSL_OK) {
        rp_buf_add(b, "<h2>Figures</h2>\n");
        st = rp_html_figures(b, dir, figs);
    }
    if (st == TASSL_OK) {
        rp_buf_add(b, "<h2>Runs</h2>\n");
        rp_html_resources_table(b, &s);
        rp_html_runs_table(b, &s);
        rp_html_end(b);
    }
    rp_suite_free(&s);
    return st;
}

/* ---- run ------------------------------------------------------------------------------------ */

static const char *infer_task(const char *dir, const json_t *eval) {
    const char *t = json_string_value(json_object_get(eval, "task"));
    if (t) return t;
    char p[4200];
    snprintf(p, sizeof p, "%s/predictions/predictions.csv", dir);
    if (rp_is_file(p)) return "classification";
    snprintf(p, sizeof p, "%s/predictions/boxes.csv", dir);
    if (rp_is_file(p)) return "detection";
    const char *pm = json_string_value(json_object_get(eval, "primary"));
    if (!pm) return "";
    if (!strncmp(pm, "dice", 4) || !strncmp(pm, "iou", 3) || !strncmp(pm, "hd95", 4))
        return "segmentation";
    if (!strncmp(pm, "map", 3) || !strncmp(pm, "froc", 4)) return "detection";
    if (strstr(pm, "acc") || strstr(pm, "auc") || strstr(pm, "f1")) return "classification";
    return "";
}

static tassl_status run_page(const char *dir, bool has_eval, const tassl_report_opts *o, rp_buf *b,
                             rp_figlist *figs) {
    json_t *eval = NULL;
    char *ep = rp_join(dir, "eval.json");
    if (!ep) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    tassl_status st = TASSL_OK;
    if (has_eval) {
        st = rp_json_load(ep, &eval);
        if (st == TASSL_OK &&
            (!json_is_object(eval) || !json_is_object(json_object_get(eval, "metrics"))))
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s: no \"metrics\" object (expected {\"split\", \"samples\", "
                             "\"primary\", \"metrics\": {name: value}}; docs/PROTOCOL.md)",
                             ep);
    }
    if (st != TASSL_OK) {
        json_decref(eval);
        free(ep);
        return st;
    }
    char title[512], bn[1024], written[64], now[64], samples[32] = "", labelled[32] = "",
                                                     ts[32] = "", es[32] = "", mem[32] = "";
    const char *name = base_name(dir, bn, sizeof bn);
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        snprintf(title, sizeof title, "tassl report \xe2\x80\x94 %s", name);
    mtime_str(has_eval ? ep : dir, written, sizeof written);
    now_str(now, sizeof now);
    free(ep);
    if (eval) {
        json_t *x;
        if (json_is_integer(x = json_object_get(eval, "samples")))
            snprintf(samples, sizeof samples, "%lld", (long long)json_integer_value(x));
        if (json_is_integer(x = json_object_get(eval, "train_labelled")))
            snprintf(labelled, sizeof labelled, "%lld", (long long)json_integer_value(x));
        if (json_is_number(x = json_object_get(eval, "train_s")))
            snprintf(ts, sizeof ts, "%.1f s", json_number_value(x));
        if (json_is_number(x = json_object_get(eval, "eval_s")))
            snprintf(es, sizeof es, "%.1f s", json_number_value(x));
        if (json_is_number(x = json_object_get(eval, "mem_peak_bytes")))
            snprintf(mem, sizeof mem, "%.1f MiB", json_number_value(x) / 1048576.0);
    }
    rp_html_begin(b, title);
    rp_buf_add(b, "<h1>");
    rp_buf_esc(b, title);
    rp_buf_add(b, has_eval ? "</h1>\n<p>Finetune run: evaluation, training curves and "
                             "predictions.</p>\n<h2>Summary</h2>\n"
                           : "</h1>\n<p>Run without eval.json: training curves only.</p>\n"
                             "<h2>Summary</h2>\n");
    const char *kv[] = {"run",
                        name,
                        "task",
                        eval ? infer_task(dir, eval) : "",
                        "primary metric",
                        json_string_value(json_object_get(eval, "primary")),
                        "evaluated split",
                        json_string_value(json_object_get(eval, "split")),
                        "evaluated samples",
                        samples,
                        "labelled training records",
                        labelled,
                        "training time",
                        ts,
                        "evaluation time",
                        es,
                        "device memory peak",
                        mem,
                        "results written",
                        written,
                        "report generated",
                        now,
                        "tassl version",
                        tassl_version(),
                        "directory",
                        dir,
                        NULL};
    rp_html_summary(b, kv);
    if (eval) {
        rp_buf_add(b, "<h2>Evaluation (eval.json)</h2>\n");
        rp_html_eval_table(b, eval);
    }
    const char *dirs[1] = {dir}, *labels[1] = {name};
    st = rp_fig_training(dir, "training", "Training curves", 1, dirs, labels, figs);
    if (st == TASSL_OK && has_eval)
        st = rp_fig_predictions(dir, "", dir, "this run", o->max_cases, figs);
    if (st == TASSL_OK) {
        rp_buf_add(b, "<h2>Figures</h2>\n");
        st = rp_html_figures(b, dir, figs);
    }
    if (st == TASSL_OK) rp_html_end(b);
    json_decref(eval);
    return st;
}

/* ---- entry ---------------------------------------------------------------------------------- */

tassl_status tassl_report_write(const char *dir, const tassl_report_opts *opts,
                                tassl_report_info *info) {
    tassl_report_opts o = opts ? *opts : tassl_report_opts_default();
    if (o.max_cases <= 0) o.max_cases = 4;
    if (o.max_cases > 16) o.max_cases = 16;
    if (o.max_curves <= 0) o.max_curves = 2;
    if (info) memset(info, 0, sizeof *info);
    if (!dir || !*dir) return tassl_error(TASSL_ERR_ARG, "report: no directory given");
    if (!rp_is_dir(dir))
        return tassl_error(TASSL_ERR_ARG,
                           "%s: not a directory (expected a suite directory or "
                           "a finetune run directory)",
                           dir);
    char *rj = rp_join(dir, "results.json"), *ej = rp_join(dir, "eval.json"),
         *mj = rp_join(dir, "metrics.jsonl"), *fd = rp_join(dir, "figures"),
         *html = rp_join(dir, "report.html");
    tassl_status st = TASSL_OK;
    rp_buf b = {0};
    rp_figlist figs = {0};
    if (!rj || !ej || !mj || !fd || !html) {
        st = tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
        goto out;
    }
    bool suite = rp_is_file(rj), run = rp_is_file(ej), log = rp_is_file(mj);
    if (!suite && !run && !log) {
        st = tassl_error(TASSL_ERR_ARG,
                         "%s: neither a suite directory (no results.json, written by `tassl "
                         "benchmark`) nor a finetune run directory (no eval.json or "
                         "metrics.jsonl, written by `tassl finetune`); see docs/PROTOCOL.md",
                         dir);
        goto out;
    }
    if (mkdir(fd, 0777) != 0 && errno != EEXIST) {
        st = tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", fd, strerror(errno));
        goto out;
    }
    st = suite ? suite_page(dir, &o, &b, &figs) : run_page(dir, run, &o, &b, &figs);
    if (st == TASSL_OK && b.oom) st = tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    if (st == TASSL_OK) st = rp_write_file(html, b.s, b.n);
    if (st == TASSL_OK && info) {
        info->suite = suite;
        for (int i = 0; i < figs.n; i++) {
            if (figs.v[i].file[0]) info->figures++;
            if (figs.v[i].note[0] && !figs.v[i].file[0]) info->skipped++;
        }
        snprintf(info->html, sizeof info->html, "%s", html);
    }
out:
    rp_buf_free(&b);
    rp_figlist_free(&figs);
    free(rj), free(ej), free(mj), free(fd), free(html);
    return st;
}
