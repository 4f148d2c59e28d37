/* run.c — run directories: creation rules (never overwrite unless asked), config.yaml,
 * metrics.jsonl (jansson), train.log, the progress bar / plain progress lines. Checkpoint files
 * themselves are written, listed and pruned by src/ckpt (tassl_ckpt_save_in_dir). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tassl/run.h"

struct tassl_run {
    char *dir;
    FILE *log, *metrics;
    bool quiet;
    tassl_progress progress;
    int64_t log_every;
    double t0;          /* monotonic seconds at open */
    double wall_offset; /* wall_s of the last metrics line kept on resume */
    bool bar_shown;     /* a bar line is on the terminal (needs clearing before other output) */
    char bar[400];      /* the current bar text, redrawn after log lines */
    double last_draw;
    int64_t first_step; /* first step seen by progress in this process (for the ETA) */
    double first_t;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

char *tassl_run_path(const tassl_run *r, const char *name) {
    return join(r->dir, name);
}
const char *tassl_run_dir(const tassl_run *r) {
    return r->dir;
}

/* mkdir -p */
static tassl_status make_dirs(const char *path) {
    char *p = strdup(path);
    if (!p) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                tassl_status st = tassl_error(TASSL_ERR_IO, "%s: cannot create directory: %s", p,
                                              strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return TASSL_OK;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static bool dir_empty(const char *p) {
    DIR *d = opendir(p);
    if (!d) return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
    closedir(d);
    return empty;
}

/* ckpt-<digits>.safetensors (checkpoint.h's names in a run directory) */
static bool is_ckpt(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0) return false;
    const char *p = name + 5;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > name + 5 && strcmp(p, ".safetensors") == 0;
}

/* --force: remove what a run writes (the rest of the directory is left alone). */
static tassl_status clear_run_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    struct dirent *e;
    tassl_status st = TASSL_OK;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strcmp(n, "config.yaml") && strcmp(n, "metrics.jsonl") && strcmp(n, "train.log") &&
            strcmp(n, "latest") && !is_ckpt(n))
            continue;
        char *p = join(dir, n);
        if (!p || unlink(p) != 0)
            st = tassl_error(TASSL_ERR_IO, "%s/%s: cannot remove: %s", dir, n, strerror(errno));
        free(p);
        if (st != TASSL_OK) break;
    }
    closedir(d);
    return st;
}

static tassl_status default_dir(const tassl_config *cfg, char **out) {
    const char *base = tassl_config_str(cfg, "output.dir");
    const char *name = tassl_config_str(cfg, "output.name");
    if (*name) {
        *out = join(*base ? base : ".", name);
        return *out ? TASSL_OK : tassl_error(TASSL_ERR_NOMEM, "out of memory");
    }
    char stamp[64], gen[160];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            snprintf(gen, sizeof gen, "%s-%s", stamp, tassl_config_str(cfg, "method.name"));
        else
            snprintf(gen, sizeof gen, "%s-%s-%d", stamp, tassl_config_str(cfg, "method.name"), k);
        char *p = join(*base ? base : ".", gen);
        if (!p) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
        if (!exists(p)) {
            *out = p;
            return TASSL_OK;
        }
        free(p);
    }
    return tassl_error(TASSL_ERR_IO, "%s: cannot find a free run name for %s", base, stamp);
}

tassl_status tassl_run_open(const tassl_config *cfg, const char *dir, tassl_run_mode mode,
                            bool quiet, tassl_run **out) {
    *out = NULL;
    tassl_run *r = calloc(1, sizeof *r);
    if (!r) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
    tassl_status st = TASSL_OK;
    r->quiet = quiet;
    r->log_every = tassl_config_int(cfg, "output.log_every");
    const char *pm = tassl_config_str(cfg, "output.progress");
    r->progress = !strcmp(pm, "bar")     ? TASSL_PROGRESS_BAR
                  : !strcmp(pm, "lines") ? TASSL_PROGRESS_LINES
                  : !strcmp(pm, "none")  ? TASSL_PROGRESS_NONE
                                         : TASSL_PROGRESS_AUTO;
    if (r->progress == TASSL_PROGRESS_AUTO)
        r->progress = isatty(STDOUT_FILENO) ? TASSL_PROGRESS_BAR : TASSL_PROGRESS_LINES;
    r->t0 = now_s();
    r->first_step = -1;
    if (dir)
        r->dir = strdup(dir);
    else if ((st = default_dir(cfg, &r->dir)) != TASSL_OK)
        goto fail;
    if (!r->dir) {
        st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (mode == TASSL_RUN_RESUME) {
        char *cp = join(r->dir, "config.yaml");
        bool ok = cp && exists(cp);
        free(cp);
        if (!is_dir(r->dir) || !ok) {
            st = tassl_error(TASSL_ERR_IO, "%s: not a run directory (no config.yaml) to resume",
                             r->dir);
            goto fail;
        }
    } else if (exists(r->dir)) {
        if (!is_dir(r->dir)) {
            st = tassl_error(TASSL_ERR_IO, "%s: exists and is not a directory", r->dir);
            goto fail;
        }
        if (!dir_empty(r->dir)) {
            if (mode != TASSL_RUN_FORCE) {
                st = tassl_error(TASSL_ERR_IO,
                                 "%s: run directory exists; continue it with --resume %s or "
                                 "replace it with --force",
                                 r->dir, r->dir);
                goto fail;
            }
            if ((st = clear_run_files(r->dir)) != TASSL_OK) goto fail;
        }
    } else if ((st = make_dirs(r->dir)) != TASSL_OK) {
        goto fail;
    }
    char *p = join(r->dir, "config.yaml");
    if (!p) {
        st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    st = tassl_config_save(cfg, p);
    free(p);
    if (st != TASSL_OK) goto fail;
    char *lp = join(r->dir, "train.log"), *mp = join(r->dir, "metrics.jsonl");
    if (lp) r->log = fopen(lp, "a");
    if (mp) r->metrics = fopen(mp, "a");
    if (!r->log || !r->metrics)
        st = tassl_error(TASSL_ERR_IO, "%s: cannot open for appending: %s",
                         !r->log ? (lp ? lp : "train.log") : (mp ? mp : "metrics.jsonl"),
                         strerror(errno));
    free(lp);
    free(mp);
    if (st != TASSL_OK) goto fail;
    *out = r;
    return TASSL_OK;
fail:
    tassl_run_close(r);
    return st;
}

static void clear_bar(tassl_run *r) {
    if (r->bar_shown && !r->quiet) {
        fputs("\r\033[K", stdout);
        r->bar_shown = false;
    }
}

void tassl_run_close(tassl_run *r) {
    if (!r) return;
    if (r->bar_shown && !r->quiet) {
        fputc('\n', stdout);
        fflush(stdout);
    }
    if (r->log) fclose(r->log);
    if (r->metrics) fclose(r->metrics);
    free(r->dir);
    free(r);
}

void tassl_run_log_config(tassl_run *r, const tassl_config *cfg) {
    char *text = tassl_config_to_string(cfg);
    if (!text) return;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        tassl_run_log(r, "%s", line);
    }
    free(text);
}

void tassl_run_log(tassl_run *r, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->log) {
        fprintf(r->log, "%s\n", line);
        fflush(r->log);
    }
    if (r->quiet || r->progress == TASSL_PROGRESS_NONE) return;
    bool had_bar = r->bar_shown;
    clear_bar(r);
    printf("%s\n", line);
    if (had_bar) {
        fputs(r->bar, stdout);
        r->bar_shown = true;
    }
    fflush(stdout);
}

/* ---- metrics -------------------------------------------------------------------------------- */

static json_t *num(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

tassl_status tassl_run_metrics(tassl_run *r, const tassl_run_record *rec) {
    json_t *o = json_object(), *losses = json_object();
    if (!o || !losses) {
        json_decref(o);
        json_decref(losses);
        return tassl_error(TASSL_ERR_NOMEM, "metrics: out of memory");
    }
    json_object_set_new(o, "step", json_integer(rec->step));
    json_object_set_new(o, "epoch", num(rec->epoch));
    for (int i = 0; i < rec->nlosses; i++)
        json_object_set_new(losses, rec->losses[i].name, num(rec->losses[i].value));
    json_object_set_new(o, "losses", losses);
    json_object_set_new(o, "lr", num(rec->lr));
    json_object_set_new(o, "samples_per_s", num(rec->samples_per_s));
    json_object_set_new(o, "mem_bytes", json_integer((json_int_t)rec->mem_bytes));
    json_object_set_new(o, "mem_peak_bytes", json_integer((json_int_t)rec->mem_peak_bytes));
    json_object_set_new(o, "wall_s", json_real(r->wall_offset + now_s() - r->t0));
    for (int i = 0; i < rec->nextra; i++)
        json_object_set_new(o, rec->extra[i].name, num(rec->extra[i].value));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "metrics: out of memory");
    fprintf(r->metrics, "%s\n", s);
    free(s);
    if (fflush(r->metrics) != 0 || ferror(r->metrics))
        return tassl_error(TASSL_ERR_IO, "%s/metrics.jsonl: write failed: %s", r->dir,
                           strerror(errno));
    return TASSL_OK;
}

tassl_status tassl_run_rewind_metrics(tassl_run *r, int64_t step) {
    char *path = join(r->dir, "metrics.jsonl"), *tmp = join(r->dir, "metrics.jsonl.tmp");
    tassl_status st = TASSL_OK;
    FILE *in = NULL, *out = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (!path || !tmp) {
        st = tassl_error(TASSL_ERR_NOMEM, "out of memory");
        goto done;
    }
    fflush(r->metrics);
    if (!(in = fopen(path, "r")) || !(out = fopen(tmp, "w"))) {
        st = tassl_error(TASSL_ERR_IO, "%s: cannot rewrite: %s", path, strerror(errno));
        goto done;
    }
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        lineno++;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        json_t *js = o ? json_object_get(o, "step") : NULL;
        if (!json_is_integer(js)) {
            json_decref(o);
            /* a torn last line from an interrupted write is dropped; anything else is kept */
            if (line[n - 1] != '\n') continue;
            fputs(line, out);
            continue;
        }
        if (json_integer_value(js) <= step) {
            fputs(line, out);
            json_t *w = json_object_get(o, "wall_s");
            if (json_is_number(w)) r->wall_offset = json_number_value(w);
        }
        json_decref(o);
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
        st = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    fclose(out);
    out = NULL;
    if (rename(tmp, path) != 0) {
        st = tassl_error(TASSL_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
        goto done;
    }
    fclose(r->metrics);
    if (!(r->metrics = fopen(path, "a")))
        st = tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    r->t0 = now_s();
done:
    if (in) fclose(in);
    if (out) {
        fclose(out);
        unlink(tmp);
    }
    free(line);
    free(path);
    free(tmp);
    return st;
}

/* ---- progress ------------------------------------------------------------------------------- */

static void fmt_time(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void tassl_run_progress(tassl_run *r, int64_t step, int64_t total, double loss,
                        double samples_per_s) {
    tassl_run_progress_lr(r, step, total, loss, NAN, samples_per_s);
}

void tassl_run_progress_lr(tassl_run *r, int64_t step, int64_t total, double loss, double lr,
                           double samples_per_s) {
    double t = now_s();
    if (r->first_step < 0) r->first_step = step - 1, r->first_t = t;
    double per_step =
        step > r->first_step ? (t - r->first_t) / (double)(step - r->first_step) : NAN;
    char eta[32], line[200], lrs[40] = "";
    fmt_time(per_step * (double)(total - step), eta, sizeof eta);
    if (!isnan(lr)) snprintf(lrs, sizeof lrs, "  lr %.3g", lr);
    snprintf(line, sizeof line, "step %lld/%lld  loss %.4f%s  %.1f samples/s  ETA %s",
             (long long)step, (long long)total, loss, lrs, samples_per_s, eta);
    bool periodic = step % r->log_every == 0 || step == total;
    if (r->progress == TASSL_PROGRESS_BAR) {
        if (periodic && r->log) {
            fprintf(r->log, "%s\n", line);
            fflush(r->log);
        }
        if (r->quiet || (t - r->last_draw < 0.1 && step != total)) return;
        r->last_draw = t;
        int width = 30, fill = total > 0 ? (int)((double)width * (double)step / (double)total) : 0;
        char bar[40];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        snprintf(r->bar, sizeof r->bar, "\r[%s] %3d%% %s\033[K", bar,
                 total > 0 ? (int)(100 * step / total) : 0, line);
        fputs(r->bar, stdout);
        fflush(stdout);
        r->bar_shown = true;
    } else if (periodic) {
        tassl_run_log(r, "%s", line);
    }
}
