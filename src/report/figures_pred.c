/* figures_pred.c — figures of a finetune run's predictions/: the confusion matrix
 * (predictions.csv), image | truth | prediction overlays of segmentation records (index.csv and
 * the label maps it names), and detection boxes (boxes.csv, truth boxes from index.csv) drawn
 * on a slice of each image. Images are read with io.h (PNG, NIfTI). A volume shows the axial
 * slice with the most foreground (truth, else prediction); NIfTI slices are flipped so that
 * anterior is up, as `tassl inspect --montage` shows them. A record whose files are missing or
 * unreadable is left out with a note; only a corrupt CSV fails the report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"
#include "tassl/io.h"

static const rp_rgb ink = {0.15, 0.15, 0.18};

static void note_add(char *note, size_t n, const char *fmt, const char *a, const char *b) {
    size_t k = strlen(note);
    if (k + 8 >= n) return;
    snprintf(note + k, n - k, fmt, a, b);
}

static tassl_status save(rp_fig *fig, const char *out_dir, const char *name, rp_figure *e) {
    char path[4096];
    snprintf(e->file, sizeof e->file, "figures/%s.png", name);
    snprintf(path, sizeof path, "%s/%s", out_dir, e->file);
    tassl_status st = rp_fig_save(fig, path);
    rp_fig_free(fig);
    if (st != TASSL_OK) e->file[0] = 0;
    return st;
}

/* ---- confusion matrix ----------------------------------------------------------------------- */

#define MAX_CLASSES 64

static tassl_status fig_confusion(const char *out_dir, const char *prefix, const char *path,
                                  const char *label, rp_figure *e) {
    rp_csv c;
    tassl_status st = rp_csv_read(path, &c);
    if (st != TASSL_OK) return st;
    int ct = rp_csv_col(&c, "truth"), cp = rp_csv_col(&c, "pred");
    if (ct < 0 || cp < 0) {
        st = tassl_error(TASSL_ERR_FORMAT,
                         "%s:1: no '%s' column (expected record,truth,pred,score_0,...)", path,
                         ct < 0 ? "truth" : "pred");
        rp_csv_free(&c);
        return st;
    }
    int K = 0;
    for (int i = 0; i < c.ncols; i++)
        if (!strncmp(c.head[i], "score_", 6)) K++;
    int *t = malloc((size_t)(c.nrows + 1) * 2 * sizeof *t);
    if (!t) {
        rp_csv_free(&c);
        return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    }
    int *p = t + c.nrows + 1;
    for (int r = 0; r < c.nrows; r++) {
        double a, b;
        if (!rp_parse_num(rp_csv_get(&c, r, ct), &a) || !rp_parse_num(rp_csv_get(&c, r, cp), &b) ||
            !(a >= 0 && a < 100000 && a == floor(a)) || !(b >= 0 && b < 100000 && b == floor(b))) {
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s:%d: truth '%s' / pred '%s': expected class numbers >= 0", path,
                             c.line[r], rp_csv_get(&c, r, ct), rp_csv_get(&c, r, cp));
            break;
        }
        t[r] = (int)a, p[r] = (int)b;
        if (t[r] + 1 > K) K = t[r] + 1;
        if (p[r] + 1 > K) K = p[r] + 1;
    }
    int n = c.nrows;
    rp_csv_free(&c);
    if (st != TASSL_OK) {
        free(t);
        return st;
    }
    if (n == 0 || K > MAX_CLASSES) {
        snprintf(e->note, sizeof e->note, "%s: %s.", label,
                 n == 0 ? "predictions.csv has no rows"
                        : "more than 64 classes: the confusion matrix is not drawn");
        free(t);
        return TASSL_OK;
    }
    double *cnt = calloc((size_t)K * (size_t)K * 2, sizeof *cnt);
    char **text = calloc((size_t)K * (size_t)K, sizeof *text);
    char *tbuf = calloc((size_t)K * (size_t)K, 16);
    if (!cnt || !text || !tbuf) {
        free(t), free(cnt), free(text), free(tbuf);
        return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    }
    double *frac = cnt + K * K;
    int correct = 0;
    for (int r = 0; r < n; r++)
        cnt[t[r] * K + p[r]] += 1, correct += t[r] == p[r];
    for (int i = 0; i < K; i++) {
        double row = 0;
        for (int j = 0; j < K; j++)
            row += cnt[i * K + j];
        for (int j = 0; j < K; j++) {
            frac[i * K + j] = row > 0 ? cnt[i * K + j] / row : 0;
            text[i * K + j] = tbuf + 16 * (i * K + j);
            snprintf(text[i * K + j], 16, "%.0f", cnt[i * K + j]);
        }
    }
    /* the figure fits the matrix: cells of 110 px for few classes, down to 14 px for 64 */
    rp_fig fig;
    double cell = fmin(110, 640.0 / K);
    if (cell < 14) cell = 14;
    int fw = (int)(96 + K * cell + 150), fh = (int)(44 + K * cell + 70);
    if (fw < 600) fw = 600;
    st = rp_fig_new(&fig, fw, fh);
    if (st == TASSL_OK) {
        char title[160];
        snprintf(title, sizeof title, "Confusion matrix (n = %d, accuracy %.3f)", n,
                 (double)correct / n);
        rp_heatmap(&fig, 0, 0, fw, fh, K, K, frac, (const char *const *)text, 0, 1, title,
                   "predicted class", "true class", "fraction of the true class");
        char name[160];
        snprintf(name, sizeof name, "%sconfusion", prefix);
        snprintf(e->caption, sizeof e->caption,
                 "Confusion matrix of %s on the evaluated split (predictions/predictions.csv): "
                 "rows are the true class, columns the predicted one; each cell shows the count "
                 "and is shaded by its share of the true class (the diagonal is the recall).",
                 label);
        st = save(&fig, out_dir, name, e);
    }
    free(t), free(cnt), free(text), free(tbuf);
    return st;
}

/* ---- images --------------------------------------------------------------------------------- */

typedef struct slice {
    float *img;      /* (H, W) grey */
    int32_t *lab[2]; /* (H, W) truth, prediction or NULL */
    int64_t H, W, D, z;
    double sx, sy; /* pixel size (w, h) in mm */
    bool flip;     /* drawn flipped vertically (NIfTI) */
} slice;

static void slice_free(slice *s) {
    free(s->img);
    free(s->lab[0]);
    free(s->lab[1]);
    memset(s, 0, sizeof *s);
}

/* Copy plane z of channel-mean grey (or label channel 0) into a malloc'd (H, W) array, rows
 * reversed when flip. */
static float *plane_f(const tassl_image *im, int64_t z, bool flip) {
    int64_t H = im->h, W = im->w, V = tassl_image_voxels(im);
    float *o = malloc((size_t)(H * W) * sizeof *o);
    if (!o) return NULL;
    int C = im->channels >= 3 ? 3 : 1;
    for (int64_t i = 0; i < H; i++)
        for (int64_t j = 0; j < W; j++) {
            double s = 0;
            for (int c = 0; c < C; c++)
                s += im->data[c * V + (z * H + i) * W + j];
            o[(flip ? H - 1 - i : i) * W + j] = (float)(s / C);
        }
    return o;
}

static int32_t *plane_l(const tassl_image *im, int64_t z, bool flip) {
    int64_t H = im->h, W = im->w;
    int32_t *o = malloc((size_t)(H * W) * sizeof *o);
    if (!o) return NULL;
    for (int64_t i = 0; i < H; i++)
        for (int64_t j = 0; j < W; j++) {
            float v = im->data[(z * H + i) * W + j];
            o[(flip ? H - 1 - i : i) * W + j] = isfinite(v) ? (int32_t)lrintf(v) : 0;
        }
    return o;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The p1..p99 window of a slice. */
static void window(const float *v, int64_t n, double *lo, double *hi) {
    float *c = malloc((size_t)n * sizeof *c);
    int64_t k = 0;
    if (c)
        for (int64_t i = 0; i < n; i++)
            if (isfinite(v[i])) c[k++] = v[i];
    if (!k) {
        *lo = 0, *hi = 1;
        free(c);
        return;
    }
    qsort(c, (size_t)k, sizeof *c, cmpf);
    *lo = c[(int64_t)(0.01 * (double)(k - 1))];
    *hi = c[(int64_t)(0.99 * (double)(k - 1))];
    if (*hi <= *lo) *lo = c[0], *hi = c[k - 1];
    if (*hi <= *lo) *hi = *lo + 1;
    free(c);
}

/* Read an image and optional label maps (same grid), choose the slice (z_hint >= 0 wins, else
 * most foreground), fill *s. Returns false with a reason in why. */
static bool load_case(const char *img_path, const char *lab_path[2], int64_t z_hint, slice *s,
                      double *dice, char *why, size_t wn) {
    memset(s, 0, sizeof *s);
    *dice = NAN;
    tassl_image im = {0}, lab[2] = {{0}};
    tassl_image_info info;
    if (tassl_image_read(img_path, NULL, &im, &info) != TASSL_OK) {
        snprintf(why, wn, "%s", tassl_last_error());
        return false;
    }
    tassl_read_opts lo = tassl_read_opts_default();
    lo.is_label = 1;
    bool ok = true;
    for (int k = 0; k < 2 && ok; k++) {
        if (!lab_path[k]) continue;
        if (tassl_image_read(lab_path[k], &lo, &lab[k], NULL) != TASSL_OK) {
            snprintf(why, wn, "%s", tassl_last_error());
            ok = false;
        } else if (lab[k].d != im.d || lab[k].h != im.h || lab[k].w != im.w) {
            snprintf(why, wn, "%s: size %lldx%lldx%lld differs from the image's %lldx%lldx%lld",
                     lab_path[k], (long long)lab[k].d, (long long)lab[k].h, (long long)lab[k].w,
                     (long long)im.d, (long long)im.h, (long long)im.w);
            ok = false;
        }
    }
    if (ok) {
        int64_t H = im.h, W = im.w, D = im.d, z = D / 2;
        if (z_hint >= 0 && z_hint < D)
            z = z_hint;
        else if (D > 1) {
            const tassl_image *ref = lab[0].data ? &lab[0] : lab[1].data ? &lab[1] : NULL;
            int64_t best = -1;
            for (int64_t k = 0; ref && k < D; k++) {
                int64_t c = 0;
                for (int64_t i = 0; i < H * W; i++)
                    c += ref->data[k * H * W + i] > 0.5f;
                if (c > best) best = c, z = k;
            }
            if (best == 0) z = D / 2;
        }
        if (lab[0].data && lab[1].data) {
            double inter = 0, a = 0, b = 0;
            for (int64_t i = 0; i < D * H * W; i++) {
                float t = lab[0].data[i], p = lab[1].data[i];
                a += t > 0.5f, b += p > 0.5f, inter += t > 0.5f && t == p;
            }
            *dice = a + b > 0 ? 2 * inter / (a + b) : 1.0;
        }
        s->flip = info.format != TASSL_FORMAT_PNG;
        s->H = H, s->W = W, s->D = D, s->z = z;
        s->sx = im.spacing[2], s->sy = im.spacing[1];
        s->img = plane_f(&im, z, s->flip);
        for (int k = 0; k < 2; k++)
            if (lab[k].data) s->lab[k] = plane_l(&lab[k], z, s->flip);
        if (!s->img || (lab[0].data && !s->lab[0]) || (lab[1].data && !s->lab[1])) {
            snprintf(why, wn, "out of memory");
            slice_free(s);
            ok = false;
        }
    }
    tassl_image_free(&im);
    tassl_image_free(&lab[0]);
    tassl_image_free(&lab[1]);
    return ok;
}

/* ---- segmentation overlays ------------------------------------------------------------------ */

static tassl_status fig_segmentation(const char *out_dir, const char *prefix, const char *run_dir,
                                     const char *path, const char *label, int max_cases,
                                     rp_figure *e) {
    rp_csv c;
    tassl_status st = rp_csv_read(path, &c);
    if (st != TASSL_OK) return st;
    int cr = rp_csv_col(&c, "record"), ci = rp_csv_col(&c, "image"), ct = rp_csv_col(&c, "truth"),
        cp = rp_csv_col(&c, "prediction");
    if (ci < 0 || cp < 0) {
        st = tassl_error(TASSL_ERR_FORMAT,
                         "%s:1: no '%s' column (expected record,image,truth,prediction)", path,
                         ci < 0 ? "image" : "prediction");
        rp_csv_free(&c);
        return st;
    }
    slice cases[16];
    double dice[16];
    char names[16][96];
    int n = 0;
    char why[512];
    for (int r = 0; r < c.nrows && n < max_cases; r++) {
        char ip[4096], tp[4096], pp[4096];
        const char *rec =
            cr >= 0 && *rp_csv_get(&c, r, cr) ? rp_csv_get(&c, r, cr) : rp_csv_get(&c, r, ci);
        if (!rp_resolve(run_dir, rp_csv_get(&c, r, ci), ip, sizeof ip) ||
            !rp_resolve(run_dir, rp_csv_get(&c, r, cp), pp, sizeof pp)) {
            note_add(e->note, sizeof e->note, "Record %s: image or prediction file %s. ", rec,
                     "not found");
            continue;
        }
        const char *lp[2] = {NULL, pp};
        if (ct >= 0 && rp_resolve(run_dir, rp_csv_get(&c, r, ct), tp, sizeof tp)) lp[0] = tp;
        if (!load_case(ip, lp, -1, &cases[n], &dice[n], why, sizeof why)) {
            note_add(e->note, sizeof e->note, "Record %s left out: %s. ", rec, why);
            continue;
        }
        snprintf(names[n], sizeof names[n], "%s", rec);
        n++;
    }
    rp_csv_free(&c);
    if (!n) {
        size_t k = strlen(e->note);
        snprintf(e->note + k, sizeof e->note - k, "%sNo segmentation record could be drawn.",
                 k ? "" : "");
        return TASSL_OK;
    }
    const int W = 960, colw = 320, head = 34;
    int rowh[16], H = head;
    for (int i = 0; i < n; i++) {
        double asp = (cases[i].H * cases[i].sy) / (cases[i].W * cases[i].sx);
        double ph = colw * asp;
        ph = ph < 160 ? 160 : ph > 380 ? 380 : ph;
        rowh[i] = (int)ph + 34;
        H += rowh[i];
    }
    rp_fig fig;
    st = rp_fig_new(&fig, W, H + 8);
    if (st != TASSL_OK) {
        for (int i = 0; i < n; i++)
            slice_free(&cases[i]);
        return st;
    }
    static const char *const heads[3] = {"image", "truth", "prediction"};
    for (int k = 0; k < 3; k++)
        rp_text(&fig, colw * k + colw / 2.0, 20, heads[k], 15, true, RP_CENTER, RP_MIDDLE, ink, 0);
    int y = head;
    for (int i = 0; i < n; i++) {
        slice *s = &cases[i];
        double lo, hi, rect[4];
        window(s->img, s->H * s->W, &lo, &hi);
        char cap[256];
        if (s->D > 1)
            snprintf(cap, sizeof cap, "record %.160s  \xe2\x80\x94  axial slice %lld of %lld",
                     names[i], (long long)s->z, (long long)s->D);
        else
            snprintf(cap, sizeof cap, "record %.200s", names[i]);
        if (isfinite(dice[i])) {
            size_t k = strlen(cap);
            snprintf(cap + k, sizeof cap - k, "  \xe2\x80\x94  Dice %.3f (this case)", dice[i]);
        }
        rp_text(&fig, 8, y + 16, cap, 13, false, RP_LEFT, RP_MIDDLE, ink, 0);
        double ph = rowh[i] - 34;
        rp_rgb cls = {-1, 0, 0};
        rp_image_panel(&fig, 4, y + 28, colw - 8, ph, s->img, s->H, s->W, s->sx, s->sy, lo, hi,
                       NULL, NULL, cls, rect);
        if (s->lab[0])
            rp_image_panel(&fig, colw + 4, y + 28, colw - 8, ph, s->img, s->H, s->W, s->sx, s->sy,
                           lo, hi, s->lab[0], s->lab[0], cls, rect);
        else
            rp_text(&fig, colw * 1.5, y + 28 + ph / 2, "no truth", 13, false, RP_CENTER, RP_MIDDLE,
                    ink, 0);
        rp_image_panel(&fig, 2 * colw + 4, y + 28, colw - 8, ph, s->img, s->H, s->W, s->sx, s->sy,
                       lo, hi, s->lab[1], s->lab[1], cls, rect);
        y += rowh[i];
        slice_free(s);
    }
    char name[160];
    snprintf(name, sizeof name, "%ssegmentation", prefix);
    snprintf(e->caption, sizeof e->caption,
             "Segmentation of %s: %d record%s of predictions/index.csv; the image (grey, 1st-99th "
             "percentile window), the truth and the prediction as translucent class colours "
             "with outlines. Volumes show the axial slice with the most truth foreground, "
             "anterior up.",
             label, n, n == 1 ? "" : "s");
    return save(&fig, out_dir, name, e);
}

/* ---- detection ------------------------------------------------------------------------------ */

typedef struct dbox {
    int cls;
    double score;
    double lo[3], hi[3]; /* (z, y, x) */
} dbox;

/* Manifest boxes "[c:] x0 y0 x1 y1; [c:] x0 y0 z0 x1 y1 z1" (docs/DATA.md) → dbox. */
static int parse_truth_boxes(const char *s, dbox *out, int max) {
    int n = 0;
    while (*s && n < max) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char buf[256];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, s, len);
        buf[len] = 0;
        char *p = buf, *colon = strchr(buf, ':');
        int cls = 0;
        if (colon) {
            cls = atoi(buf);
            p = colon + 1;
        }
        double v[6];
        int k = 0;
        char *q;
        while (k < 6 && (v[k] = strtod(p, &q), q != p))
            k++, p = q;
        if (k == 4 || k == 6) {
            dbox *b = &out[n++];
            b->cls = cls;
            b->score = NAN;
            if (k == 4) {
                b->lo[0] = 0, b->hi[0] = 1;
                b->lo[2] = v[0], b->lo[1] = v[1], b->hi[2] = v[2], b->hi[1] = v[3];
            } else {
                b->lo[2] = v[0], b->lo[1] = v[1], b->lo[0] = v[2];
                b->hi[2] = v[3], b->hi[1] = v[4], b->hi[0] = v[5];
            }
        }
        if (!end) break;
        s = end + 1;
    }
    return n;
}

#define MAX_DRAW_BOXES 64

typedef struct drec {
    char record[128], image[2048];
    dbox truth[32], pred[MAX_DRAW_BOXES];
    int ntruth, npred;
    bool has_truth_col;
} drec;

static tassl_status fig_detection(const char *out_dir, const char *prefix, const char *run_dir,
                                  const char *boxes_path, const char *index_path, const char *label,
                                  int max_cases, rp_figure *e) {
    rp_csv b, ix;
    memset(&ix, 0, sizeof ix);
    tassl_status st = rp_csv_read(boxes_path, &b);
    if (st != TASSL_OK) return st;
    static const char *const cols[] = {"record", "image", "class", "score", "z0",
                                       "y0",     "x0",    "z1",    "y1",    "x1"};
    int bc[10];
    for (int k = 0; k < 10; k++)
        if ((bc[k] = rp_csv_col(&b, cols[k])) < 0) {
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s:1: no '%s' column (expected "
                             "record,image,class,score,z0,y0,x0,z1,y1,x1)",
                             boxes_path, cols[k]);
            rp_csv_free(&b);
            return st;
        }
    bool have_index = index_path && rp_is_file(index_path);
    if (have_index && (st = rp_csv_read(index_path, &ix)) != TASSL_OK) {
        rp_csv_free(&b);
        return st;
    }
    drec *recs = calloc((size_t)max_cases, sizeof *recs);
    if (!recs) {
        rp_csv_free(&b), rp_csv_free(&ix);
        return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    }
    int n = 0;
    /* records: index.csv rows first (their truth), else the records of boxes.csv */
    int ir = have_index ? rp_csv_col(&ix, "record") : -1,
        ii = have_index ? rp_csv_col(&ix, "image") : -1;
    int it = have_index ? rp_csv_col(&ix, "truth") : -1;
    if (have_index && (ir < 0 || ii < 0)) {
        st = tassl_error(TASSL_ERR_FORMAT, "%s:1: expected columns record,image,truth,prediction",
                         index_path);
        goto out;
    }
    if (have_index)
        for (int r = 0; r < ix.nrows && n < max_cases; r++) {
            drec *d = &recs[n++];
            snprintf(d->record, sizeof d->record, "%s", rp_csv_get(&ix, r, ir));
            snprintf(d->image, sizeof d->image, "%s", rp_csv_get(&ix, r, ii));
            d->has_truth_col = it >= 0;
            if (it >= 0) d->ntruth = parse_truth_boxes(rp_csv_get(&ix, r, it), d->truth, 32);
        }
    for (int r = 0; r < b.nrows; r++) {
        const char *rec = rp_csv_get(&b, r, bc[0]);
        drec *d = NULL;
        for (int k = 0; k < n && !d; k++)
            if (!strcmp(recs[k].record, rec)) d = &recs[k];
        if (!d && !have_index && n < max_cases) {
            d = &recs[n++];
            snprintf(d->record, sizeof d->record, "%s", rec);
            snprintf(d->image, sizeof d->image, "%s", rp_csv_get(&b, r, bc[1]));
        }
        if (!d) continue;
        double v[8];
        for (int k = 0; k < 8; k++)
            if (!rp_parse_num(rp_csv_get(&b, r, bc[k + 2]), &v[k]) || !isfinite(v[k])) {
                st = tassl_error(TASSL_ERR_FORMAT, "%s:%d: column '%s': '%s' is not a number",
                                 boxes_path, b.line[r], cols[k + 2], rp_csv_get(&b, r, bc[k + 2]));
                goto out;
            }
        dbox x = {(int)v[0], v[1], {v[2], v[3], v[4]}, {v[5], v[6], v[7]}};
        if (d->npred < MAX_DRAW_BOXES)
            d->pred[d->npred++] = x;
        else { /* keep the highest scores */
            int lo = 0;
            for (int k = 1; k < d->npred; k++)
                if (d->pred[k].score < d->pred[lo].score) lo = k;
            if (x.score > d->pred[lo].score) d->pred[lo] = x;
        }
    }
    int ntruth = 0;
    for (int k = 0; k < n; k++)
        ntruth += recs[k].ntruth;
    int drawn = 0;
    slice sl[16];
    int idx[16];
    char why[512];
    for (int k = 0; k < n; k++) {
        drec *d = &recs[k];
        char ip[4096];
        if (!rp_resolve(run_dir, d->image, ip, sizeof ip)) {
            note_add(e->note, sizeof e->note, "Record %s: image %s not found. ", d->record,
                     d->image);
            continue;
        }
        /* slice: centre of the first truth box, else of the best prediction */
        int64_t z = -1;
        const dbox *ref = d->ntruth ? &d->truth[0] : NULL;
        for (int j = 0; !d->ntruth && j < d->npred; j++)
            if (!ref || d->pred[j].score > ref->score) ref = &d->pred[j];
        if (ref) z = (int64_t)floor((ref->lo[0] + ref->hi[0]) / 2);
        const char *lp[2] = {NULL, NULL};
        double dice;
        if (!load_case(ip, lp, z, &sl[drawn], &dice, why, sizeof why)) {
            note_add(e->note, sizeof e->note, "Record %s left out: %s. ", d->record, why);
            continue;
        }
        idx[drawn++] = k;
    }
    if (!drawn) {
        size_t k = strlen(e->note);
        snprintf(e->note + k, sizeof e->note - k, "No detection record could be drawn.");
        goto out;
    }
    {
        int cols_n = drawn == 1 ? 1 : 2, rows = (drawn + cols_n - 1) / cols_n;
        const int W = 960, cw = W / cols_n;
        /* each row as tall as its tallest panel at the column width (160..620 px) */
        int rowy[17] = {40};
        for (int r = 0; r < rows; r++) {
            double ph = 160;
            for (int i = r * cols_n; i < drawn && i < (r + 1) * cols_n; i++) {
                double h = (cw - 8) * (sl[i].H * sl[i].sy) / (sl[i].W * sl[i].sx);
                ph = fmax(ph, fmin(h, 620));
            }
            rowy[r + 1] = rowy[r] + (int)ph + 40;
        }
        rp_fig fig;
        st = rp_fig_new(&fig, W, rowy[rows]);
        if (st != TASSL_OK) {
            for (int i = 0; i < drawn; i++)
                slice_free(&sl[i]);
            goto out;
        }
        /* legend line */
        double lx = 10;
        if (ntruth) {
            rp_text(&fig, lx, 20, "truth", 13, true, RP_LEFT, RP_MIDDLE, (rp_rgb){0.1, 0.75, 0.2},
                    0);
            lx += rp_text_width(&fig, "truth", 13, true) + 6;
            rp_text(&fig, lx, 20, "(dashed)", 13, false, RP_LEFT, RP_MIDDLE, ink, 0);
            lx += rp_text_width(&fig, "(dashed)", 13, false) + 24;
        }
        rp_text(&fig, lx, 20, "prediction", 13, true, RP_LEFT, RP_MIDDLE, (rp_rgb){0.95, 0.45, 0.1},
                0);
        lx += rp_text_width(&fig, "prediction", 13, true) + 6;
        rp_text(&fig, lx, 20,
                ntruth ? "(class:score, the 10 best per image)"
                       : "(class:score, the 10 best per image; no truth boxes in index.csv)",
                13, false, RP_LEFT, RP_MIDDLE, ink, 0);
        for (int i = 0; i < drawn; i++) {
            drec *d = &recs[idx[i]];
            slice *s = &sl[i];
            double x = (i % cols_n) * cw, y = rowy[i / cols_n], rect[4], lo, hi;
            double ch = rowy[i / cols_n + 1] - y - 8;
            char cap[256];
            if (s->D > 1)
                snprintf(cap, sizeof cap, "record %s \xe2\x80\x94 axial slice %lld of %lld",
                         d->record, (long long)s->z, (long long)s->D);
            else
                snprintf(cap, sizeof cap, "record %s", d->record);
            rp_text(&fig, x + 8, y + 12, cap, 13, false, RP_LEFT, RP_MIDDLE, ink, 0);
            window(s->img, s->H * s->W, &lo, &hi);
            rp_image_panel(&fig, x + 4, y + 26, cw - 8, ch - 32, s->img, s->H, s->W, s->sx, s->sy,
                           lo, hi, NULL, NULL, (rp_rgb){-1, 0, 0}, rect);
            double zc = (double)s->z + 0.5;
            for (int j = 0; j < d->ntruth; j++) {
                const dbox *t = &d->truth[j];
                if (zc < t->lo[0] || zc > t->hi[0]) continue;
                double y0 = t->lo[1], y1 = t->hi[1];
                if (s->flip) y0 = (double)s->H - t->hi[1], y1 = (double)s->H - t->lo[1];
                rp_panel_box(&fig, rect, s->H, s->W, t->lo[2], y0, t->hi[2], y1,
                             (rp_rgb){0.1, 0.85, 0.25}, true, NULL);
            }
            /* the 10 best predictions crossing the slice */
            for (int a = 0; a < d->npred; a++)
                for (int bb = a + 1; bb < d->npred; bb++)
                    if (d->pred[bb].score > d->pred[a].score) {
                        dbox tmp = d->pred[a];
                        d->pred[a] = d->pred[bb];
                        d->pred[bb] = tmp;
                    }
            int shown = 0;
            for (int j = d->npred - 1; j >= 0; j--) { /* best drawn last, on top */
                const dbox *p = &d->pred[j];
                if (zc < p->lo[0] || zc > p->hi[0]) continue;
                int rank = 0;
                for (int q = 0; q < j; q++)
                    rank += zc >= d->pred[q].lo[0] && zc <= d->pred[q].hi[0];
                if (rank >= 10) continue;
                char lab[32];
                snprintf(lab, sizeof lab, "%d:%.2f", p->cls, p->score);
                double y0 = p->lo[1], y1 = p->hi[1];
                if (s->flip) y0 = (double)s->H - p->hi[1], y1 = (double)s->H - p->lo[1];
                rp_panel_box(&fig, rect, s->H, s->W, p->lo[2], y0, p->hi[2], y1,
                             (rp_rgb){0.95, 0.45, 0.1}, false, lab);
                shown++;
            }
            (void)shown;
            slice_free(s);
        }
        char name[160];
        snprintf(name, sizeof name, "%sdetection", prefix);
        snprintf(e->caption, sizeof e->caption,
                 "Detection of %s: predicted boxes (predictions/boxes.csv, orange, labelled "
                 "class:score)%s on %d image%s; volumes show the axial slice through the centre "
                 "of the first truth box (else the best prediction), anterior up.",
                 label,
                 ntruth ? " and truth boxes (dashed green)"
                        : " (no truth boxes in predictions/index.csv)",
                 drawn, drawn == 1 ? "" : "s");
        st = save(&fig, out_dir, name, e);
    }
out:
    free(recs);
    rp_csv_free(&b);
    rp_csv_free(&ix);
    return st;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

tassl_status rp_fig_predictions(const char *out_dir, const char *prefix, const char *run_dir,
                                const char *label, int max_cases, rp_figlist *l) {
    rp_figure *e = rp_figlist_add(l);
    if (!e) return tassl_error(TASSL_ERR_NOMEM, "report: out of memory");
    if (max_cases < 1) max_cases = 1;
    if (max_cases > 16) max_cases = 16;
    char pd[4096], p1[4200], p2[4200], p3[4200];
    snprintf(pd, sizeof pd, "%s/predictions", run_dir);
    snprintf(p1, sizeof p1, "%s/predictions.csv", pd);
    snprintf(p2, sizeof p2, "%s/boxes.csv", pd);
    snprintf(p3, sizeof p3, "%s/index.csv", pd);
    if (rp_is_file(p1)) {
        snprintf(e->title, sizeof e->title, "Confusion matrix");
        return fig_confusion(out_dir, prefix, p1, label, e);
    }
    if (rp_is_file(p2)) {
        snprintf(e->title, sizeof e->title, "Detections");
        return fig_detection(out_dir, prefix, run_dir, p2, p3, label, max_cases, e);
    }
    if (rp_is_file(p3)) {
        snprintf(e->title, sizeof e->title, "Segmentation overlays");
        return fig_segmentation(out_dir, prefix, run_dir, p3, label, max_cases, e);
    }
    snprintf(e->title, sizeof e->title, "Predictions");
    snprintf(e->note, sizeof e->note,
             "No predictions for %s (%s: no predictions.csv, boxes.csv or index.csv), so no "
             "confusion matrix, overlays or boxes are shown.",
             label, rp_is_dir(pd) ? "predictions/ holds" : "no predictions/ directory;");
    return TASSL_OK;
}
