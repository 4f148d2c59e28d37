/* report_internal.h — what the files of src/report share. Not installed.
 *
 *   plot.c     a small plotting layer on cairo: figure canvas, axes with nice (or given) ticks,
 *              lines, markers, shaded bands, error bars, legend, text, heat maps with a colour
 *              bar and cell numbers, image panels with label overlays, contours and boxes
 *   util.c     string buffer, HTML escaping, base64, CSV and JSON reading with messages that
 *              name file and line, path helpers, atomic file writes
 *   figures.c  the report's figures (label efficiency, paired differences, training curves,
 *              confusion matrix, segmentation overlays, detection boxes)
 *   html.c     the page: summary, tables, embedded figures
 *   report.c   tassl_report_write: recognises the directory kind and puts it together
 *
 * Pixel coordinates are cairo user units of the figure (origin top left, y down). Images are
 * (H, W) slices of a tassl_image, row 0 drawn at the top.
 */
#ifndef TASSL_REPORT_INTERNAL_H
#define TASSL_REPORT_INTERNAL_H

#include <cairo.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tassl/report.h"
#include "tassl/status.h"

/* ---- util.c --------------------------------------------------------------------------------- */

/* A growing string; `oom` latches a failed allocation (every later append is a no-op). */
typedef struct rp_buf {
    char *s;
    size_t n, cap;
    bool oom;
} rp_buf;

void rp_buf_add(rp_buf *b, const char *s);
void rp_buf_addn(rp_buf *b, const char *s, size_t n);
void rp_buf_printf(rp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s with & < > " ' escaped for HTML text and attribute values. */
void rp_buf_esc(rp_buf *b, const char *s);
/* The bytes as standard base64 (RFC 4648, padded). */
void rp_buf_base64(rp_buf *b, const unsigned char *data, size_t n);
void rp_buf_free(rp_buf *b);

/* A CSV file (RFC 4180 quoting, one record per line, header first, '#' comment lines and blank
 * lines skipped, CRLF and a UTF-8 BOM accepted). */
typedef struct rp_csv {
    int ncols, nrows;
    char **head;  /* (ncols) */
    char **cells; /* (nrows · ncols) row-major; a short row's missing fields are "" */
    int *line;    /* (nrows) 1-based line in the file */
    char path[1024];
} rp_csv;

/* TASSL_ERR_IO when the file cannot be read, TASSL_ERR_FORMAT (file:line) on an unterminated
 * quote or a row with more fields than the header. */
tassl_status rp_csv_read(const char *path, rp_csv *out);
/* Column index of `name` or -1. */
int rp_csv_col(const rp_csv *c, const char *name);
static inline const char *rp_csv_get(const rp_csv *c, int row, int col) {
    return col < 0 ? "" : c->cells[(size_t)row * (size_t)c->ncols + (size_t)col];
}
void rp_csv_free(rp_csv *c);

/* A number from a CSV field: "" / nan / null / NA → NaN. false if the text is not a number. */
bool rp_parse_num(const char *s, double *out);

/* json_load_file with TASSL_ERR_FORMAT "PATH:LINE:COL: jansson's message" on corrupt JSON and
 * TASSL_ERR_IO when missing. */
tassl_status rp_json_load(const char *path, json_t **out);
/* A JSON number or null (→ NaN); NaN also for anything else. */
double rp_json_num(const json_t *v);

/* "<a>/<b>" into a malloc'd string. */
char *rp_join(const char *a, const char *b);
bool rp_is_file(const char *path);
bool rp_is_dir(const char *path);
/* Resolve a path from a predictions file: absolute as is, else relative to the run directory,
 * else relative to run/predictions. Writes into out; false if no candidate exists. */
bool rp_resolve(const char *run_dir, const char *p, char *out, size_t len);
/* Write bytes to PATH.tmp and rename it to PATH. */
tassl_status rp_write_file(const char *path, const void *data, size_t n);
/* Read a whole file (malloc'd, NUL-terminated). */
tassl_status rp_read_file(const char *path, unsigned char **data, size_t *n);

/* Metrics whose values lie in [0, 1] (accuracy, AUC, F1, Dice, IoU, mAP, FROC, ...; per-class
 * "name/c" too): their axes are clipped to that range (a t interval over few seeds can reach
 * far outside it). */
bool rp_unit_range(const char *metric);
/* Metrics where a lower value is better (hd95, loss, ...). */
bool rp_lower_is_better(const char *metric);

/* ---- plot.c --------------------------------------------------------------------------------- */

typedef struct rp_rgb {
    double r, g, b;
} rp_rgb;

/* The figure palette (Tableau 10, colour-blind friendly): colour i (cycled). */
rp_rgb rp_color(int i);
/* Colour of a label class c >= 1 in overlays. */
rp_rgb rp_class_color(int c);

typedef struct rp_fig {
    cairo_surface_t *surf;
    cairo_t *cr;
    int w, h;
} rp_fig;

/* A white ARGB figure of w × h pixels. TASSL_ERR_NOMEM when cairo cannot make one. */
tassl_status rp_fig_new(rp_fig *f, int w, int h);
/* Write the figure as PNG to PATH (via PATH.tmp + rename). */
tassl_status rp_fig_save(rp_fig *f, const char *path);
void rp_fig_free(rp_fig *f);

enum { RP_LEFT = 0, RP_CENTER = 1, RP_RIGHT = 2 };
enum { RP_TOP = 0, RP_MIDDLE = 1, RP_BASELINE = 2, RP_BOTTOM = 3 };
/* Text at (x, y), anchored by halign / valign; `angle` in degrees (−90: reading upward). */
void rp_text(rp_fig *f, double x, double y, const char *s, double size, bool bold, int halign,
             int valign, rp_rgb c, double angle);
double rp_text_width(rp_fig *f, const char *s, double size, bool bold);

#define RP_MAX_TICKS 24
typedef struct rp_axes {
    rp_fig *fig;
    double px, py, pw, ph; /* plot area in pixels */
    double x0, x1, y0, y1; /* data range */
    bool logx;
    int nxt, nyt;
    double xt[RP_MAX_TICKS], yt[RP_MAX_TICKS];
    char xtl[RP_MAX_TICKS][24], ytl[RP_MAX_TICKS][24];
    unsigned char occ[12][16]; /* plot-area cells something was drawn in (legend placement) */
} rp_axes;

/* Axes whose frame (plot area plus tick labels and axis titles) fills the rectangle
 * (x, y, w, h) of the figure. Set the ranges, then draw. */
void rp_axes_init(rp_axes *a, rp_fig *f, double x, double y, double w, double h);
/* Data range [lo, hi] of x: linear axes are widened to nice tick values; log axes (lo > 0) get
 * ticks at 1, 2, 5 × 10^k inside the range. */
void rp_axes_xrange(rp_axes *a, double lo, double hi, bool logx);
void rp_axes_yrange(rp_axes *a, double lo, double hi);
/* Replace the x ticks by given values and labels (e.g. the label fractions as "5 %"). */
void rp_axes_xticks(rp_axes *a, int n, const double *v, const char *const *labels);
/* Background, grid, frame, tick labels, axis titles and the panel title. */
void rp_axes_draw(rp_axes *a, const char *title, const char *xlabel, const char *ylabel);
double rp_px(const rp_axes *a, double x);
double rp_py(const rp_axes *a, double y);

/* A polyline through the finite points (a NaN breaks it), clipped to the plot area. */
void rp_line(rp_axes *a, int n, const double *x, const double *y, rp_rgb c, double width,
             bool dashed);
enum { RP_MARK_CIRCLE = 0, RP_MARK_SQUARE, RP_MARK_TRIANGLE, RP_MARK_DIAMOND, RP_MARK_COUNT };
void rp_markers(rp_axes *a, int n, const double *x, const double *y, rp_rgb c, int shape,
                double size);
/* The region between lo and hi over x (a translucent band; NaN entries split it). */
void rp_band(rp_axes *a, int n, const double *x, const double *lo, const double *hi, rp_rgb c,
             double alpha);
/* Vertical error bars lo..hi with caps at each x, shifted dx pixels (to separate series). */
void rp_errorbars(rp_axes *a, int n, const double *x, const double *lo, const double *hi, rp_rgb c,
                  double dx);
/* A horizontal reference line at y. */
void rp_hline(rp_axes *a, double y, rp_rgb c, bool dashed);

typedef struct rp_legend_item {
    const char *label;
    rp_rgb color;
    int marker; /* RP_MARK_* or -1 */
    bool line, band, dashed;
} rp_legend_item;
/* A legend box in the plot area's corner: 0 top left, 1 top right, 2 bottom left, 3 bottom
 * right; -1: the corner whose box covers the least of what was drawn so far (preferring the
 * order 1, 0, 3, 2). */
void rp_legend(rp_axes *a, int n, const rp_legend_item *items, int corner);

/* A heat map of rows × cols values (row-major) in the rectangle (x, y, w, h), with row and
 * column labels (NULL: the indices), axis titles, the numbers of `text` (or the values) in the
 * cells, and a colour bar of `vmin..vmax` on the right. */
void rp_heatmap(rp_fig *f, double x, double y, double w, double h, int rows, int cols,
                const double *v, const char *const *text, double vmin, double vmax,
                const char *title, const char *xlabel, const char *ylabel, const char *bar_label);

/* An (H, W) grey slice drawn into (x, y, w, h) keeping its aspect ratio (pixel aspect sx:sy;
 * centred horizontally, at the top),
 * intensities lo..hi → black..white, with an optional label map `fill` (H, W) shown as
 * translucent class colours and a label map `contour` drawn as outlines (NULL: none). Returns
 * the rectangle the image occupies in *rect (x, y, w, h) for boxes drawn on top. */
void rp_image_panel(rp_fig *f, double x, double y, double w, double h, const float *img, int64_t H,
                    int64_t W, double sx, double sy, double lo, double hi, const int32_t *fill,
                    const int32_t *contour, rp_rgb contour_color, double rect[4]);
/* A box [x0, x1) × [y0, y1) in image pixel coordinates drawn on a panel rectangle from
 * rp_image_panel, with an optional label above it. */
void rp_panel_box(rp_fig *f, const double rect[4], int64_t H, int64_t W, double x0, double y0,
                  double x1, double y1, rp_rgb c, bool dashed, const char *label);

/* ---- figures.c ------------------------------------------------------------------------------ */

/* A figure the page shows: PNG path (relative name under figures/), caption, or a note saying
 * why it was skipped. */
typedef struct rp_figure {
    char file[256]; /* "figures/xxx.png"; "" when skipped */
    char title[256];
    char caption[1024];
    char note[1024]; /* skipped: why */
} rp_figure;

typedef struct rp_figlist {
    rp_figure *v;
    int n, cap;
} rp_figlist;
rp_figure *rp_figlist_add(rp_figlist *l);
void rp_figlist_free(rp_figlist *l);

/* A labelled-data budget of a suite: a label fraction (shots 0) or k subjects per class
 * (shots > 0, fraction NaN). */
typedef struct rp_budget {
    double fraction;
    int shots;
    char label[32]; /* for people: "5 %", "10-shot" */
} rp_budget;

/* One cell (init, budget, metric) of results.json / results.csv. */
typedef struct rp_cell {
    char init[64];
    double fraction; /* NaN for a k-shot budget */
    int shots;       /* 0 for a fraction budget */
    char metric[48];
    int n;
    double mean, std, lo, hi;
    bool has_diff;
    int dn;
    double dmean, dlo, dhi;
} rp_cell;

typedef struct rp_suite {
    json_t *root; /* results.json */
    const char *name, *task, *primary;
    int ninits, nbud, nseeds;
    const char **inits;
    rp_budget *bud; /* fraction budgets ascending, then k-shot budgets ascending */
    int64_t *seeds;
    rp_cell *cells; /* from results.json */
    int ncells;
    rp_cell *table; /* from results.csv when present, else = cells */
    int ntable;
    bool table_from_csv;
    int nmissing; /* results.json "missing": cells without an eval.json yet */
} rp_suite;

/* Parse results.json (and results.csv when present) of a suite directory. */
tassl_status rp_suite_read(const char *dir, rp_suite *s);
void rp_suite_free(rp_suite *s);
/* Does a (fraction, shots) pair from a cell or run belong to budget b? */
bool rp_budget_match(const rp_budget *b, double fraction, int shots);
/* The cell of (init, budget, metric) in cells[0..n) or NULL. */
const rp_cell *rp_cell_find(const rp_cell *cells, int n, const char *init, const rp_budget *b,
                            const char *metric);
/* Walk the metrics a `--metrics` list names: NULL or "" → the primary; "all" → every metric of
 * the suite's cells once, in order of first appearance (per-class "name/c" ones left out when
 * skip_per_class); else the comma-separated names, each of which must have cells (TASSL_ERR_ARG
 * naming it and DIR/results.json otherwise). Calls fn(metric, user) for each; stops at the first
 * error and returns it. */
tassl_status rp_each_metric(const rp_suite *s, const char *dir, const char *list,
                            bool skip_per_class,
                            tassl_status (*fn)(const char *metric, void *user), void *user);
/* "5 %" for 0.05 */
void rp_frac_label(char *out, size_t n, double f);

/* Figures write figures/<name>.png under out_dir and append an entry (or a skipped note) to l.
 * They return an error only for what must fail the report (corrupt files, I/O errors). */
tassl_status rp_fig_label_efficiency(const char *out_dir, const rp_suite *s, const char *metric,
                                     rp_figlist *l);
tassl_status rp_fig_diff_scratch(const char *out_dir, const rp_suite *s, const char *metric,
                                 rp_figlist *l);
/* Training curves of n run directories (labels name them in the legend), one figure. */
tassl_status rp_fig_training(const char *out_dir, const char *name, const char *title, int n,
                             const char *const *run_dirs, const char *const *labels, rp_figlist *l);
/* Predictions of one finetune run directory: confusion matrix, segmentation overlays or
 * detection boxes, whichever its predictions/ holds (a note when none). */
tassl_status rp_fig_predictions(const char *out_dir, const char *prefix, const char *run_dir,
                                const char *label, int max_cases, rp_figlist *l);

/* ---- html.c --------------------------------------------------------------------------------- */

void rp_html_begin(rp_buf *b, const char *title);
void rp_html_end(rp_buf *b);
/* A definition table of key/value rows (NULL-terminated pairs). */
void rp_html_summary(rp_buf *b, const char *const *kv);
/* The suite's results table of one metric: init × fraction, mean ± CI, Δ vs scratch. */
void rp_html_results_table(rp_buf *b, const rp_suite *s, const char *metric);
/* eval.json's metrics as a table. */
void rp_html_eval_table(rp_buf *b, const json_t *eval);
/* Per-init cost of a suite (results.json "resources": cells, training seconds, pretraining
 * seconds, memory peak); nothing when absent. */
void rp_html_resources_table(rp_buf *b, const rp_suite *s);
/* Per-run metrics of a suite (results.json runs). */
void rp_html_runs_table(rp_buf *b, const rp_suite *s);
/* The figures, embedded as base64 PNG data URIs (read back from out_dir/<file>). */
tassl_status rp_html_figures(rp_buf *b, const char *out_dir, const rp_figlist *l);

#endif
