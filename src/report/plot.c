/* plot.c — a small plotting layer on cairo for the report's figures: a white canvas, axes with
 * nice ticks (linear, or log x at 1-2-5 per decade, or given ticks), lines, markers, translucent
 * bands, error bars, reference lines, legends, text, heat maps with a colour bar and numbers in
 * the cells, and image panels with label overlays, contours and boxes.
 *
 * Everything is drawn in pixels of the figure (cairo user space = device space, origin top left).
 * Text uses cairo's toy font API with "DejaVu Sans" (fontconfig falls back to any sans font).
 * Nothing here fails: cairo latches errors in its context, checked once when saving.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

static const rp_rgb ink = {0.15, 0.15, 0.18};
static const rp_rgb grid = {0.90, 0.90, 0.92};
static const rp_rgb frame = {0.55, 0.55, 0.58};

rp_rgb rp_color(int i) {
    static const rp_rgb tab10[] = {
        {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
        {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.737, 0.741, 0.133},
        {0.090, 0.745, 0.812}, {0.498, 0.498, 0.498}};
    return tab10[((i % 10) + 10) % 10];
}

rp_rgb rp_class_color(int c) {
    /* bright colours that read on grey images: red, green, blue, yellow, magenta, cyan ... */
    static const rp_rgb v[] = {{0.95, 0.20, 0.20}, {0.20, 0.85, 0.25}, {0.25, 0.50, 1.00},
                               {1.00, 0.85, 0.10}, {0.95, 0.30, 0.95}, {0.10, 0.90, 0.90},
                               {1.00, 0.55, 0.10}, {0.60, 0.40, 1.00}};
    return v[((c - 1) % 8 + 8) % 8];
}

static void set_rgb(cairo_t *cr, rp_rgb c) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

tassl_status rp_fig_new(rp_fig *f, int w, int h) {
    memset(f, 0, sizeof *f);
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(f->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(f->surf);
        f->surf = NULL;
        return tassl_error(TASSL_ERR_NOMEM, "report: cannot create a %dx%d figure", w, h);
    }
    f->cr = cairo_create(f->surf);
    f->w = w;
    f->h = h;
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);
    cairo_select_font_face(f->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return TASSL_OK;
}

void rp_fig_free(rp_fig *f) {
    if (f->cr) cairo_destroy(f->cr);
    if (f->surf) cairo_surface_destroy(f->surf);
    memset(f, 0, sizeof *f);
}

tassl_status rp_fig_save(rp_fig *f, const char *path) {
    cairo_status_t cs = cairo_status(f->cr);
    if (cs != CAIRO_STATUS_SUCCESS)
        return tassl_error(TASSL_ERR_IO, "%s: drawing failed: %s", path,
                           cairo_status_to_string(cs));
    cairo_surface_flush(f->surf);
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp", path);
    cs = cairo_surface_write_to_png(f->surf, tmp);
    if (cs != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: cannot write the PNG: %s", path,
                           cs != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(cs)
                                                      : "rename failed");
    }
    free(tmp);
    return TASSL_OK;
}

/* ---- text ----------------------------------------------------------------------------------- */

static void font(cairo_t *cr, double size, bool bold) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double rp_text_width(rp_fig *f, const char *s, double size, bool bold) {
    font(f->cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(f->cr, s, &e);
    return e.x_advance;
}

void rp_text(rp_fig *f, double x, double y, const char *s, double size, bool bold, int halign,
             int valign, rp_rgb c, double angle) {
    cairo_t *cr = f->cr;
    font(cr, size, bold);
    cairo_text_extents_t e;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, s, &e);
    cairo_font_extents(cr, &fe);
    double dx = halign == RP_CENTER ? -e.x_advance / 2 : halign == RP_RIGHT ? -e.x_advance : 0;
    /* vertical anchors from the font's ascent so that rows of labels line up */
    double asc = fe.ascent * 0.78; /* cap height of DejaVu is ~0.73 em, ascent ~0.93 */
    double dy = valign == RP_TOP      ? asc
                : valign == RP_MIDDLE ? asc / 2
                : valign == RP_BOTTOM ? -fe.descent
                                      : 0;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle * M_PI / 180.0);
    cairo_move_to(cr, dx, dy);
    set_rgb(cr, c);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

/* ---- axes ----------------------------------------------------------------------------------- */

void rp_axes_init(rp_axes *a, rp_fig *f, double x, double y, double w, double h) {
    memset(a, 0, sizeof *a);
    a->fig = f;
    a->px = x + 78;
    a->py = y + 36;
    a->pw = w - 78 - 18;
    a->ph = h - 36 - 56;
    a->x0 = a->y0 = 0;
    a->x1 = a->y1 = 1;
}

static double nice_step(double range, int target) {
    double raw = range / target;
    double e = pow(10, floor(log10(raw)));
    double m = raw / e;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * e;
}

static void fmt_tick(char *out, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4))
        snprintf(out, 24, "%.2g", v);
    else
        snprintf(out, 24, "%.*f", dec, v);
}

/* Linear ticks over [lo, hi], widened to whole steps. */
static void lin_ticks(double *lo, double *hi, double *t, char (*tl)[24], int *nt) {
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi < *lo) {
        double s = *lo;
        *lo = *hi;
        *hi = s;
    }
    if (*hi - *lo < 1e-12 * (fabs(*lo) + 1)) {
        double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
        *lo -= d;
        *hi += d;
    }
    double step = nice_step(*hi - *lo, 5);
    double a = floor(*lo / step + 1e-9) * step, b = ceil(*hi / step - 1e-9) * step;
    *lo = a;
    *hi = b;
    int n = 0;
    for (double v = a; v <= b + step * 1e-6 && n < RP_MAX_TICKS; v += step) {
        t[n] = v;
        fmt_tick(tl[n], v, step);
        n++;
    }
    *nt = n;
}

void rp_axes_xrange(rp_axes *a, double lo, double hi, bool logx) {
    a->logx = logx && lo > 0 && hi > 0 && isfinite(lo) && isfinite(hi);
    if (!a->logx) {
        lin_ticks(&lo, &hi, a->xt, a->xtl, &a->nxt);
        a->x0 = lo;
        a->x1 = hi;
        return;
    }
    if (hi <= lo) hi = lo * 10;
    a->x0 = lo / 1.3;
    a->x1 = hi * 1.3;
    a->nxt = 0;
    for (int e = (int)floor(log10(a->x0)) - 1; e <= (int)ceil(log10(a->x1)); e++)
        for (int m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
            double v = m * pow(10, e);
            if (v < a->x0 || v > a->x1 || a->nxt >= RP_MAX_TICKS) continue;
            a->xt[a->nxt] = v;
            snprintf(a->xtl[a->nxt], 24, "%g", v);
            a->nxt++;
        }
}

void rp_axes_yrange(rp_axes *a, double lo, double hi) {
    lin_ticks(&lo, &hi, a->yt, a->ytl, &a->nyt);
    a->y0 = lo;
    a->y1 = hi;
}

void rp_axes_xticks(rp_axes *a, int n, const double *v, const char *const *labels) {
    a->nxt = 0;
    for (int i = 0; i < n && i < RP_MAX_TICKS; i++) {
        a->xt[a->nxt] = v[i];
        snprintf(a->xtl[a->nxt], 24, "%s", labels[i]);
        a->nxt++;
    }
}

double rp_px(const rp_axes *a, double x) {
    double t =
        a->logx ? (log(x) - log(a->x0)) / (log(a->x1) - log(a->x0)) : (x - a->x0) / (a->x1 - a->x0);
    return a->px + t * a->pw;
}

double rp_py(const rp_axes *a, double y) {
    return a->py + a->ph - (y - a->y0) / (a->y1 - a->y0) * a->ph;
}

void rp_axes_draw(rp_axes *a, const char *title, const char *xlabel, const char *ylabel) {
    cairo_t *cr = a->fig->cr;
    cairo_save(cr);
    cairo_set_line_width(cr, 1);
    set_rgb(cr, grid);
    for (int i = 0; i < a->nyt; i++) {
        double y = round(rp_py(a, a->yt[i])) + 0.5;
        cairo_move_to(cr, a->px, y);
        cairo_line_to(cr, a->px + a->pw, y);
    }
    for (int i = 0; i < a->nxt; i++) {
        double x = round(rp_px(a, a->xt[i])) + 0.5;
        cairo_move_to(cr, x, a->py);
        cairo_line_to(cr, x, a->py + a->ph);
    }
    cairo_stroke(cr);
    set_rgb(cr, frame);
    cairo_rectangle(cr, round(a->px) + 0.5, round(a->py) + 0.5, round(a->pw), round(a->ph));
    cairo_stroke(cr);
    /* ticks */
    for (int i = 0; i < a->nyt; i++) {
        double y = round(rp_py(a, a->yt[i])) + 0.5;
        cairo_move_to(cr, a->px - 5, y);
        cairo_line_to(cr, a->px, y);
    }
    for (int i = 0; i < a->nxt; i++) {
        double x = round(rp_px(a, a->xt[i])) + 0.5;
        cairo_move_to(cr, x, a->py + a->ph);
        cairo_line_to(cr, x, a->py + a->ph + 5);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
    double maxw = 0;
    for (int i = 0; i < a->nyt; i++) {
        rp_text(a->fig, a->px - 9, rp_py(a, a->yt[i]), a->ytl[i], 13, false, RP_RIGHT, RP_MIDDLE,
                ink, 0);
        double w = rp_text_width(a->fig, a->ytl[i], 13, false);
        if (w > maxw) maxw = w;
    }
    for (int i = 0; i < a->nxt; i++)
        rp_text(a->fig, rp_px(a, a->xt[i]), a->py + a->ph + 10, a->xtl[i], 13, false, RP_CENTER,
                RP_TOP, ink, 0);
    if (xlabel && *xlabel)
        rp_text(a->fig, a->px + a->pw / 2, a->py + a->ph + 34, xlabel, 14, false, RP_CENTER, RP_TOP,
                ink, 0);
    if (ylabel && *ylabel) {
        double x = a->px - 9 - maxw - 12;
        if (x < a->px - 76) x = a->px - 76;
        rp_text(a->fig, x, a->py + a->ph / 2, ylabel, 14, false, RP_CENTER, RP_BOTTOM, ink, -90);
    }
    if (title && *title)
        rp_text(a->fig, a->px, a->py - 14, title, 15, true, RP_LEFT, RP_BASELINE, ink, 0);
}

static void clip_plot(rp_axes *a) {
    cairo_save(a->fig->cr);
    cairo_rectangle(a->fig->cr, a->px, a->py, a->pw, a->ph);
    cairo_clip(a->fig->cr);
}

/* Mark the occupancy cell of pixel (X, Y). */
static void occ_mark(rp_axes *a, double X, double Y) {
    int i = (int)floor((Y - a->py) / a->ph * 12), j = (int)floor((X - a->px) / a->pw * 16);
    if (i >= 0 && i < 12 && j >= 0 && j < 16) a->occ[i][j] = 1;
}

/* Mark the cells along a segment (sampled every 3 pixels). */
static void occ_segment(rp_axes *a, double X0, double Y0, double X1, double Y1) {
    double len = hypot(X1 - X0, Y1 - Y0);
    int n = (int)(len / 3) + 1;
    for (int k = 0; k <= n; k++)
        occ_mark(a, X0 + (X1 - X0) * k / n, Y0 + (Y1 - Y0) * k / n);
}

void rp_line(rp_axes *a, int n, const double *x, const double *y, rp_rgb c, double width,
             bool dashed) {
    cairo_t *cr = a->fig->cr;
    clip_plot(a);
    bool pen = false;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || (a->logx && x[i] <= 0)) {
            pen = false;
            continue;
        }
        if (pen) {
            double X0, Y0;
            cairo_get_current_point(cr, &X0, &Y0);
            occ_segment(a, X0, Y0, rp_px(a, x[i]), rp_py(a, y[i]));
            cairo_line_to(cr, rp_px(a, x[i]), rp_py(a, y[i]));
        } else {
            occ_mark(a, rp_px(a, x[i]), rp_py(a, y[i]));
            cairo_move_to(cr, rp_px(a, x[i]), rp_py(a, y[i]));
        }
        pen = true;
    }
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    if (dashed) {
        double d[] = {6, 4};
        cairo_set_dash(cr, d, 2, 0);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void marker_path(cairo_t *cr, double x, double y, int shape, double s) {
    switch (shape) {
    case RP_MARK_SQUARE:
        cairo_rectangle(cr, x - s * 0.85, y - s * 0.85, s * 1.7, s * 1.7);
        break;
    case RP_MARK_TRIANGLE:
        cairo_move_to(cr, x, y - s * 1.15);
        cairo_line_to(cr, x + s, y + s * 0.75);
        cairo_line_to(cr, x - s, y + s * 0.75);
        cairo_close_path(cr);
        break;
    case RP_MARK_DIAMOND:
        cairo_move_to(cr, x, y - s * 1.2);
        cairo_line_to(cr, x + s * 1.2, y);
        cairo_line_to(cr, x, y + s * 1.2);
        cairo_line_to(cr, x - s * 1.2, y);
        cairo_close_path(cr);
        break;
    default:
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, s, 0, 2 * M_PI);
    }
}

void rp_markers(rp_axes *a, int n, const double *x, const double *y, rp_rgb c, int shape,
                double size) {
    cairo_t *cr = a->fig->cr;
    clip_plot(a);
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                occ_mark(a, rp_px(a, x[i]) + dx * size, rp_py(a, y[i]) + dy * size);
        marker_path(cr, rp_px(a, x[i]), rp_py(a, y[i]), shape, size);
        set_rgb(cr, c);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1.2);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}

void rp_band(rp_axes *a, int n, const double *x, const double *lo, const double *hi, rp_rgb c,
             double alpha) {
    cairo_t *cr = a->fig->cr;
    clip_plot(a);
    int i = 0;
    while (i < n) {
        while (i < n && !(isfinite(x[i]) && isfinite(lo[i]) && isfinite(hi[i])))
            i++;
        int j = i;
        while (j < n && isfinite(x[j]) && isfinite(lo[j]) && isfinite(hi[j]))
            j++;
        if (j > i) {
            cairo_move_to(cr, rp_px(a, x[i]), rp_py(a, hi[i]));
            for (int k = i + 1; k < j; k++)
                cairo_line_to(cr, rp_px(a, x[k]), rp_py(a, hi[k]));
            for (int k = j - 1; k >= i; k--)
                cairo_line_to(cr, rp_px(a, x[k]), rp_py(a, lo[k]));
            for (int k = i; k + 1 < j; k++) /* the band's area, sampled on vertical lines */
                for (int t = 0; t <= 8; t++) {
                    double X = rp_px(a, x[k]) + (rp_px(a, x[k + 1]) - rp_px(a, x[k])) * t / 8;
                    double L = rp_py(a, lo[k]) + (rp_py(a, lo[k + 1]) - rp_py(a, lo[k])) * t / 8;
                    double H = rp_py(a, hi[k]) + (rp_py(a, hi[k + 1]) - rp_py(a, hi[k])) * t / 8;
                    occ_segment(a, X, L, X, H);
                }
            cairo_close_path(cr);
            cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
            cairo_fill(cr);
        }
        i = j;
    }
    cairo_restore(cr);
}

void rp_errorbars(rp_axes *a, int n, const double *x, const double *lo, const double *hi, rp_rgb c,
                  double dx) {
    cairo_t *cr = a->fig->cr;
    clip_plot(a);
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(lo[i]) || !isfinite(hi[i])) continue;
        double X = rp_px(a, x[i]) + dx, y0 = rp_py(a, lo[i]), y1 = rp_py(a, hi[i]);
        occ_segment(a, X, y0, X, y1);
        cairo_move_to(cr, X, y0);
        cairo_line_to(cr, X, y1);
        cairo_move_to(cr, X - 4, y0);
        cairo_line_to(cr, X + 4, y0);
        cairo_move_to(cr, X - 4, y1);
        cairo_line_to(cr, X + 4, y1);
    }
    set_rgb(cr, c);
    cairo_set_line_width(cr, 1.6);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void rp_hline(rp_axes *a, double y, rp_rgb c, bool dashed) {
    cairo_t *cr = a->fig->cr;
    clip_plot(a);
    double Y = round(rp_py(a, y)) + 0.5;
    cairo_move_to(cr, a->px, Y);
    cairo_line_to(cr, a->px + a->pw, Y);
    if (dashed) {
        double d[] = {5, 4};
        cairo_set_dash(cr, d, 2, 0);
    }
    set_rgb(cr, c);
    cairo_set_line_width(cr, 1.2);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void rp_legend(rp_axes *a, int n, const rp_legend_item *it, int corner) {
    if (n <= 0) return;
    rp_fig *f = a->fig;
    cairo_t *cr = f->cr;
    const double fs = 13, row = 20, sw = 28, pad = 8;
    double tw = 0;
    for (int i = 0; i < n; i++) {
        double w = rp_text_width(f, it[i].label, fs, false);
        if (w > tw) tw = w;
    }
    double w = pad * 2 + sw + 8 + tw, h = pad * 2 + row * n - 4;
    if (corner < 0) { /* the corner covering the fewest drawn cells */
        static const int pref[4] = {1, 0, 3, 2};
        int best = -1;
        for (int q = 0; q < 4; q++) {
            int c = pref[q], hits = 0;
            double bx = (c & 1) ? a->px + a->pw - w - 10 : a->px + 10;
            double by = (c & 2) ? a->py + a->ph - h - 10 : a->py + 10;
            for (int i = 0; i < 12; i++)
                for (int j = 0; j < 16; j++) {
                    double cx0 = a->px + a->pw * j / 16, cx1 = a->px + a->pw * (j + 1) / 16;
                    double cy0 = a->py + a->ph * i / 12, cy1 = a->py + a->ph * (i + 1) / 12;
                    if (a->occ[i][j] && cx1 > bx && cx0 < bx + w && cy1 > by && cy0 < by + h)
                        hits++;
                }
            if (best < 0 || hits < best) best = hits, corner = c;
        }
    }
    double x = (corner & 1) ? a->px + a->pw - w - 10 : a->px + 10;
    double y = (corner & 2) ? a->py + a->ph - h - 10 : a->py + 10;
    cairo_save(cr);
    cairo_rectangle(cr, x + 0.5, y + 0.5, w, h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill_preserve(cr);
    set_rgb(cr, grid);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double cy = y + pad + row * i + 8, cx = x + pad;
        rp_rgb c = it[i].color;
        if (it[i].band) {
            cairo_rectangle(cr, cx, cy - 7, sw, 14);
            cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.2);
            cairo_fill(cr);
        }
        if (it[i].line) {
            cairo_move_to(cr, cx, cy);
            cairo_line_to(cr, cx + sw, cy);
            set_rgb(cr, c);
            cairo_set_line_width(cr, 2.2);
            if (it[i].dashed) {
                double d[] = {5, 3};
                cairo_set_dash(cr, d, 2, 0);
            }
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        if (it[i].marker >= 0) {
            marker_path(cr, cx + sw / 2, cy, it[i].marker, 4.5);
            set_rgb(cr, c);
            cairo_fill_preserve(cr);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_set_line_width(cr, 1);
            cairo_stroke(cr);
        }
        rp_text(f, cx + sw + 8, cy, it[i].label, fs, false, RP_LEFT, RP_MIDDLE, ink, 0);
    }
    cairo_restore(cr);
}

/* ---- heat map ------------------------------------------------------------------------------- */

/* White → dark blue, perceptually even enough for counts. */
static rp_rgb blues(double t) {
    static const rp_rgb s[] = {{0.97, 0.98, 1.00},
                               {0.78, 0.86, 0.94},
                               {0.42, 0.68, 0.84},
                               {0.13, 0.44, 0.71},
                               {0.03, 0.19, 0.42}};
    if (!isfinite(t)) return (rp_rgb){0.85, 0.85, 0.85};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double u = t * 4;
    int i = (int)u;
    if (i >= 4) return s[4];
    double r = u - i;
    return (rp_rgb){s[i].r + (s[i + 1].r - s[i].r) * r, s[i].g + (s[i + 1].g - s[i].g) * r,
                    s[i].b + (s[i + 1].b - s[i].b) * r};
}

void rp_heatmap(rp_fig *f, double x, double y, double w, double h, int rows, int cols,
                const double *v, const char *const *text, double vmin, double vmax,
                const char *title, const char *xlabel, const char *ylabel, const char *bar_label) {
    cairo_t *cr = f->cr;
    const double left = 96, top = 44, bottom = 64, right = 110;
    double cell = fmin((w - left - right) / cols, (h - top - bottom) / rows);
    if (cell > 110) cell = 110;
    double mw = cell * cols, mh = cell * rows;
    double mx = x + left + (w - left - right - mw) / 2, my = y + top;
    if (title && *title) rp_text(f, x + 8, y + 22, title, 15, true, RP_LEFT, RP_BASELINE, ink, 0);
    double span = vmax > vmin ? vmax - vmin : 1;
    double fs = fmin(14, cell * 0.32);
    char buf[32];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double val = v[r * cols + c];
            double t = (val - vmin) / span;
            rp_rgb col = blues(t);
            cairo_rectangle(cr, mx + c * cell, my + r * cell, cell, cell);
            set_rgb(cr, col);
            cairo_fill(cr);
            const char *s = text ? text[r * cols + c] : NULL;
            if (!s) {
                snprintf(buf, sizeof buf, "%g", val);
                s = buf;
            }
            if (fs >= 6)
                rp_text(f, mx + (c + 0.5) * cell, my + (r + 0.5) * cell, s, fs, false, RP_CENTER,
                        RP_MIDDLE, t > 0.55 ? (rp_rgb){1, 1, 1} : ink, 0);
        }
    cairo_rectangle(cr, mx + 0.5, my + 0.5, mw, mh);
    set_rgb(cr, frame);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    int step = rows > 24 ? (rows + 23) / 24 : 1;
    for (int r = 0; r < rows; r += step) {
        snprintf(buf, sizeof buf, "%d", r);
        rp_text(f, mx - 8, my + (r + 0.5) * cell, buf, 13, false, RP_RIGHT, RP_MIDDLE, ink, 0);
    }
    step = cols > 24 ? (cols + 23) / 24 : 1;
    for (int c = 0; c < cols; c += step) {
        snprintf(buf, sizeof buf, "%d", c);
        rp_text(f, mx + (c + 0.5) * cell, my + mh + 8, buf, 13, false, RP_CENTER, RP_TOP, ink, 0);
    }
    if (xlabel) rp_text(f, mx + mw / 2, my + mh + 32, xlabel, 14, false, RP_CENTER, RP_TOP, ink, 0);
    if (ylabel) rp_text(f, mx - 40, my + mh / 2, ylabel, 14, false, RP_CENTER, RP_BOTTOM, ink, -90);
    /* colour bar */
    double bx = mx + mw + 24, bw = 18;
    for (int i = 0; i < (int)mh; i++) {
        rp_rgb col = blues(1.0 - (double)i / mh);
        cairo_rectangle(cr, bx, my + i, bw, 1.2);
        set_rgb(cr, col);
        cairo_fill(cr);
    }
    cairo_rectangle(cr, bx + 0.5, my + 0.5, bw, mh);
    set_rgb(cr, frame);
    cairo_stroke(cr);
    double lo = vmin, hi = vmax > vmin ? vmax : vmin + 1;
    double t[RP_MAX_TICKS];
    char tl[RP_MAX_TICKS][24];
    int nt;
    double a = lo, b = hi;
    lin_ticks(&a, &b, t, tl, &nt);
    for (int i = 0; i < nt; i++) {
        if (t[i] < lo - 1e-9 || t[i] > hi + 1e-9) continue;
        double Y = my + mh - (t[i] - lo) / (hi - lo) * mh;
        cairo_move_to(cr, bx + bw, round(Y) + 0.5);
        cairo_line_to(cr, bx + bw + 4, round(Y) + 0.5);
        set_rgb(cr, frame);
        cairo_stroke(cr);
        rp_text(f, bx + bw + 7, Y, tl[i], 12, false, RP_LEFT, RP_MIDDLE, ink, 0);
    }
    if (bar_label)
        rp_text(f, bx + bw + 62, my + mh / 2, bar_label, 13, false, RP_CENTER, RP_BOTTOM, ink, -90);
}

/* ---- image panels --------------------------------------------------------------------------- */

void rp_image_panel(rp_fig *f, double x, double y, double w, double h, const float *img, int64_t H,
                    int64_t W, double sx, double sy, double lo, double hi, const int32_t *fill,
                    const int32_t *contour, rp_rgb contour_color, double rect[4]) {
    cairo_t *cr = f->cr;
    if (!(sx > 0)) sx = 1;
    if (!(sy > 0)) sy = 1;
    double s = fmin(w / (W * sx), h / (H * sy));
    double dw = W * sx * s, dh = H * sy * s, ox = x + (w - dw) / 2,
           oy = y; /* top-aligned: captions sit right above */
    rect[0] = ox, rect[1] = oy, rect[2] = dw, rect[3] = dh;
    cairo_surface_t *im = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)W, (int)H);
    if (cairo_surface_status(im) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(im);
        return;
    }
    cairo_surface_flush(im);
    unsigned char *px = cairo_image_surface_get_data(im);
    int stride = cairo_image_surface_get_stride(im);
    double span = hi > lo ? hi - lo : 1;
    for (int64_t i = 0; i < H; i++) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)i * (size_t)stride);
        for (int64_t j = 0; j < W; j++) {
            double v = img[i * W + j];
            double g = isfinite(v) ? (v - lo) / span : 0;
            g = g < 0 ? 0 : g > 1 ? 1 : g;
            double r = g, gg = g, b = g;
            int32_t c = fill ? fill[i * W + j] : 0;
            if (c > 0) {
                rp_rgb k = rp_class_color(c);
                const double al = 0.45;
                r = r * (1 - al) + k.r * al;
                gg = gg * (1 - al) + k.g * al;
                b = b * (1 - al) + k.b * al;
            }
            row[j] = (uint32_t)lround(r * 255) << 16 | (uint32_t)lround(gg * 255) << 8 |
                     (uint32_t)lround(b * 255);
        }
    }
    cairo_surface_mark_dirty(im);
    cairo_save(cr);
    cairo_translate(cr, ox, oy);
    cairo_scale(cr, dw / W, dh / H);
    cairo_set_source_surface(cr, im, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr),
                             dw / W > 2 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_rectangle(cr, 0, 0, (double)W, (double)H);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(im);
    if (contour) {
        int32_t maxc = 0;
        for (int64_t i = 0; i < H * W; i++)
            if (contour[i] > maxc) maxc = contour[i];
        if (maxc > 64) maxc = 64;
        double cw = dw / W, ch = dh / H;
        for (int32_t c = 1; c <= maxc; c++) {
            bool any = false;
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    if (contour[i * W + j] != c) continue;
                    double X = ox + j * cw, Y = oy + i * ch;
                    if (j == 0 || contour[i * W + j - 1] != c)
                        cairo_move_to(cr, X, Y), cairo_line_to(cr, X, Y + ch), any = true;
                    if (j == W - 1 || contour[i * W + j + 1] != c)
                        cairo_move_to(cr, X + cw, Y), cairo_line_to(cr, X + cw, Y + ch), any = true;
                    if (i == 0 || contour[(i - 1) * W + j] != c)
                        cairo_move_to(cr, X, Y), cairo_line_to(cr, X + cw, Y), any = true;
                    if (i == H - 1 || contour[(i + 1) * W + j] != c)
                        cairo_move_to(cr, X, Y + ch), cairo_line_to(cr, X + cw, Y + ch), any = true;
                }
            if (!any) continue;
            rp_rgb k = contour_color.r < 0 ? rp_class_color(c) : contour_color;
            set_rgb(cr, k);
            cairo_set_line_width(cr, 1.6);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
            cairo_stroke(cr);
        }
    }
    cairo_rectangle(cr, ox + 0.5, oy + 0.5, dw - 1, dh - 1);
    set_rgb(cr, frame);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
}

void rp_panel_box(rp_fig *f, const double rect[4], int64_t H, int64_t W, double x0, double y0,
                  double x1, double y1, rp_rgb c, bool dashed, const char *label) {
    cairo_t *cr = f->cr;
    double X0 = rect[0] + x0 * rect[2] / W, X1 = rect[0] + x1 * rect[2] / W;
    double Y0 = rect[1] + y0 * rect[3] / H, Y1 = rect[1] + y1 * rect[3] / H;
    cairo_save(cr);
    cairo_rectangle(cr, rect[0], rect[1], rect[2], rect[3]);
    cairo_clip(cr);
    cairo_rectangle(cr, X0, Y0, X1 - X0, Y1 - Y0);
    set_rgb(cr, c);
    cairo_set_line_width(cr, 2);
    if (dashed) {
        double d[] = {5, 3};
        cairo_set_dash(cr, d, 2, 0);
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (label && *label) {
        double tw = rp_text_width(f, label, 11, true);
        double ty = Y0 - 15 < rect[1] ? Y1 : Y0 - 15;
        cairo_rectangle(cr, X0, ty, tw + 6, 15);
        set_rgb(cr, c);
        cairo_fill(cr);
        rp_text(f, X0 + 3, ty + 7.5, label, 11, true, RP_LEFT, RP_MIDDLE, (rp_rgb){0, 0, 0}, 0);
    }
    cairo_restore(cr);
}
