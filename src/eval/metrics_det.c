/* metrics_det.c — detection metrics (include/tassl/metrics.h): box IoU, greedy per-class NMS,
 * COCO-style AP (101-point interpolated precision) per class at IoU 0.5:0.05:0.95, mAP@0.5,
 * mAP@0.5:0.95, and FROC sensitivities at 1/8 … 8 false positives per image.
 *
 * AP follows pycocotools' COCOeval (evaluateImg + accumulate) without its area ranges, crowd
 * boxes or per-image detection cap: per class, predictions of every image sorted by decreasing
 * score (ties: input order), each matched to the not-yet-matched ground-truth box of its image
 * with the highest IoU >= t (IoU ties: the earlier box); recall r_i = TP_i / G, precision
 * p_i = TP_i / (TP_i + FP_i) after the i-th prediction; p made non-increasing from the right;
 * AP = mean over the 101 recall points ρ_j = j · 0.01 (ρ_100 = 1, numpy.linspace(0, 1, 101)) of
 * p at the first i with r_i >= ρ_j, or 0 when recall never reaches ρ_j.
 * tools/gen-metric-fixtures holds an independent numpy implementation used as the reference.
 * Host code in double; O(predictions · boxes per image) per threshold. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/metrics.h"

/* The FROC operating points, false positives per image (LUNA16). */
static const double froc_fppi[7] = {0.125, 0.25, 0.5, 1, 2, 4, 8};

double tassl_det_iou(const tassl_det_box *a, const tassl_det_box *b) {
    double inter = 1, va = 1, vb = 1;
    for (int k = 0; k < 3; k++) {
        double alo = a->lo[k], ahi = a->hi[k], blo = b->lo[k], bhi = b->hi[k];
        if (!(ahi > alo) || !(bhi > blo)) return 0; /* degenerate (or NaN) box */
        double lo = alo > blo ? alo : blo, hi = ahi < bhi ? ahi : bhi;
        if (!(hi > lo)) return 0;
        inter *= hi - lo;
        va *= ahi - alo;
        vb *= bhi - blo;
    }
    return inter / (va + vb - inter);
}

/* ---- sorting helpers (qsort on index records: deterministic, ties by input order) ------------ */

typedef struct order {
    int64_t image, idx;
    int32_t cls;
    float score;
} order;

/* decreasing score, NaN last; then input order */
static int score_desc(float a, float b) {
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return (a < b) - (a > b);
}

static int by_image_score(const void *pa, const void *pb) {
    const order *a = pa, *b = pb;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    int s = score_desc(a->score, b->score);
    if (s) return s;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_cls_score(const void *pa, const void *pb) {
    const order *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    int s = score_desc(a->score, b->score);
    if (s) return s;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_score(const void *pa, const void *pb) {
    const order *a = pa, *b = pb;
    int s = score_desc(a->score, b->score);
    if (s) return s;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_cls_image(const void *pa, const void *pb) {
    const order *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static order *make_order(const tassl_det_box *b, int64_t n,
                         int (*cmp)(const void *, const void *)) {
    order *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) return NULL;
    for (int64_t i = 0; i < n; i++)
        o[i] = (order){b[i].image, i, b[i].cls, b[i].score};
    qsort(o, (size_t)n, sizeof *o, cmp);
    return o;
}

/* ---- NMS ------------------------------------------------------------------------------------- */

int64_t tassl_det_nms(tassl_det_box *boxes, int64_t n, double iou_threshold) {
    if (n <= 0) return 0;
    order *o = make_order(boxes, n, by_image_score);
    tassl_det_box *tmp = malloc((size_t)n * sizeof *tmp);
    if (!o || !tmp) {
        free(o);
        free(tmp);
        tassl_error(TASSL_ERR_NOMEM, "nms: out of host memory for %lld boxes", (long long)n);
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        tmp[i] = boxes[o[i].idx];
    free(o);
    int64_t kept = 0, first = 0; /* boxes[first, kept): the kept boxes of the current image */
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || tmp[i].image != tmp[i - 1].image) first = kept;
        int keep = 1;
        for (int64_t j = first; j < kept && keep; j++)
            if (boxes[j].cls == tmp[i].cls && tassl_det_iou(&boxes[j], &tmp[i]) > iou_threshold)
                keep = 0;
        if (keep) boxes[kept++] = tmp[i];
    }
    free(tmp);
    return kept;
}

/* ---- AP and FROC ----------------------------------------------------------------------------- */

void tassl_det_metrics_free(tassl_det_metrics *m) {
    if (!m) return;
    free(m->thresholds);
    free(m->ap);
    m->thresholds = m->ap = NULL;
}

static tassl_status check_boxes(const tassl_det_box *b, int64_t n, const char *what, int scored,
                                int64_t nimages, int nclasses) {
    for (int64_t i = 0; i < n; i++) {
        if (b[i].image < 0 || b[i].image >= nimages)
            return tassl_error(TASSL_ERR_ARG,
                               "detection metrics: %s box %lld is in image %lld, expected an image "
                               "in [0, %lld)",
                               what, (long long)i, (long long)b[i].image, (long long)nimages);
        if (b[i].cls < 0 || b[i].cls >= nclasses)
            return tassl_error(TASSL_ERR_ARG,
                               "detection metrics: %s box %lld has class %d, expected a class in "
                               "[0, %d)",
                               what, (long long)i, b[i].cls, nclasses);
        if (scored && !isfinite(b[i].score))
            return tassl_error(TASSL_ERR_NUMERIC,
                               "detection metrics: %s box %lld has score %g, expected a finite "
                               "value",
                               what, (long long)i, (double)b[i].score);
        for (int k = 0; k < 3; k++) {
            if (!isfinite(b[i].lo[k]) || !isfinite(b[i].hi[k]))
                return tassl_error(TASSL_ERR_NUMERIC,
                                   "detection metrics: %s box %lld has a non-finite coordinate on "
                                   "axis %d (lo %g, hi %g)",
                                   what, (long long)i, k, (double)b[i].lo[k], (double)b[i].hi[k]);
            if (b[i].hi[k] < b[i].lo[k])
                return tassl_error(TASSL_ERR_ARG,
                                   "detection metrics: %s box %lld has hi %g < lo %g on axis %d "
                                   "(expected lo <= hi, (z, y, x) order)",
                                   what, (long long)i, (double)b[i].hi[k], (double)b[i].lo[k], k);
        }
    }
    return TASSL_OK;
}

/* truth sorted by (class, image): the range [*a, *b) of class c in image img */
static void truth_range(const order *t, int64_t nt, int32_t c, int64_t img, int64_t *a,
                        int64_t *b) {
    int64_t lo = 0, hi = nt;
    while (lo < hi) { /* first entry >= (c, img) */
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid].cls < c || (t[mid].cls == c && t[mid].image < img))
            lo = mid + 1;
        else
            hi = mid;
    }
    *a = lo;
    while (lo < nt && t[lo].cls == c && t[lo].image == img)
        lo++;
    *b = lo;
}

/* The unmatched ground-truth box (position in t) of p's class and image with the highest
 * IoU >= thr (ties: the earlier), or -1. taken (nt) marks matched boxes. */
static int64_t match(const tassl_det_box *p, const tassl_det_box *truth, const order *t, int64_t nt,
                     const uint8_t *taken, double thr) {
    int64_t a, b, best = -1;
    double best_iou = 0;
    truth_range(t, nt, p->cls, p->image, &a, &b);
    for (int64_t g = a; g < b; g++) {
        if (taken[g]) continue;
        double iou = tassl_det_iou(p, &truth[t[g].idx]);
        if (iou >= thr && (best < 0 || iou > best_iou)) best = g, best_iou = iou;
    }
    return best;
}

/* COCO's accumulate for one (class, threshold): tp (nd) flags in score order, ng > 0 truths.
 * pr (nd) scratch. */
static double coco_ap(const uint8_t *tp, int64_t nd, int64_t ng, double *pr) {
    if (nd == 0) return 0;
    double ctp = 0;
    for (int64_t i = 0; i < nd; i++) {
        ctp += tp[i];
        pr[i] = ctp / (double)(i + 1);
    }
    for (int64_t i = nd - 1; i > 0; i--)
        if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    double sum = 0;
    int64_t i = 0, cum = tp[0]; /* cum: TP among the first i + 1 predictions */
    for (int r = 0; r <= 100; r++) {
        double rho = r == 100 ? 1.0 : (double)r * 0.01;
        while (i < nd && (double)cum / (double)ng < rho) { /* first i with recall_i >= rho */
            i++;
            if (i < nd) cum += tp[i];
        }
        if (i < nd) sum += pr[i];
    }
    return sum / 101;
}

static double mean_defined(const double *x, int64_t n) {
    double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) s += x[i], k++;
    return k ? s / (double)k : NAN;
}

tassl_status tassl_det_metrics_compute(const tassl_det_box *pred, int64_t npred,
                                       const tassl_det_box *truth, int64_t ntruth, int64_t nimages,
                                       int nclasses, tassl_det_metrics *out) {
    memset(out, 0, sizeof *out);
    if (nclasses < 1 || nimages < 1 || npred < 0 || ntruth < 0 || (npred && !pred) ||
        (ntruth && !truth))
        return tassl_error(TASSL_ERR_ARG,
                           "detection metrics: %d classes, %lld images, %lld predictions, %lld "
                           "truths (need >= 1 class and image, and the arrays)",
                           nclasses, (long long)nimages, (long long)npred, (long long)ntruth);
    tassl_status st = check_boxes(pred, npred, "predicted", 1, nimages, nclasses);
    if (st == TASSL_OK) st = check_boxes(truth, ntruth, "ground-truth", 0, nimages, nclasses);
    if (st != TASSL_OK) return st;

    enum { NT = 10 };
    out->nclasses = nclasses;
    out->nthresholds = NT;
    out->thresholds = malloc(NT * sizeof(double));
    out->ap = malloc((size_t)NT * (size_t)nclasses * sizeof(double)); // (T, K)
    order *po = make_order(pred, npred, by_cls_score);
    order *to = make_order(truth, ntruth, by_cls_image);
    uint8_t *taken = malloc((size_t)(ntruth > 0 ? ntruth : 1));
    uint8_t *tp = malloc((size_t)(npred > 0 ? npred : 1));
    double *pr = malloc((size_t)(npred > 0 ? npred : 1) * sizeof(double));
    int64_t *ng = calloc((size_t)nclasses, sizeof(int64_t));
    int64_t *gfp = malloc((size_t)(npred + 1) * 2 * sizeof(int64_t)); /* FROC (fp, tp) per group */
    if (!out->thresholds || !out->ap || !po || !to || !taken || !tp || !pr || !ng || !gfp) {
        free(po), free(to), free(taken), free(tp), free(pr), free(ng), free(gfp);
        tassl_det_metrics_free(out);
        return tassl_error(TASSL_ERR_NOMEM, "detection metrics: out of host memory");
    }
    for (int t = 0; t < NT; t++) /* bit-identical to COCO's numpy.linspace(0.5, 0.95, 10) */
        out->thresholds[t] = 0.5 + (double)t * ((0.95 - 0.5) / 9);
    for (int64_t i = 0; i < ntruth; i++)
        ng[truth[i].cls]++;

    /* AP: per class, the class's predictions in score order (po is sorted by class, score) */
    int64_t a = 0;
    for (int c = 0; c < nclasses; c++) {
        int64_t b = a;
        while (b < npred && po[b].cls == c)
            b++;
        for (int t = 0; t < NT; t++) {
            double *ap = &out->ap[t * nclasses + c];
            if (ng[c] == 0) {
                *ap = NAN;
                continue;
            }
            memset(taken, 0, (size_t)(ntruth > 0 ? ntruth : 1));
            for (int64_t i = a; i < b; i++) {
                int64_t g = match(&pred[po[i].idx], truth, to, ntruth, taken, out->thresholds[t]);
                tp[i - a] = g >= 0;
                if (g >= 0) taken[g] = 1;
            }
            *ap = coco_ap(tp, b - a, ng[c], pr);
        }
        a = b;
    }
    out->map50 = mean_defined(out->ap, nclasses);
    out->map50_95 = mean_defined(out->ap, (int64_t)NT * nclasses);

    /* FROC: classes pooled, all predictions in score order; a tied group of scores is one
     * threshold. gfp holds (FP, TP) after each group, starting with the empty set. */
    qsort(po, (size_t)npred, sizeof *po, by_score);
    memset(taken, 0, (size_t)(ntruth > 0 ? ntruth : 1));
    int64_t ngroups = 1, fp = 0, hits = 0;
    gfp[0] = gfp[1] = 0;
    for (int64_t i = 0; i < npred; i++) {
        int64_t g = match(&pred[po[i].idx], truth, to, ntruth, taken, 0.5);
        if (g >= 0)
            taken[g] = 1, hits++;
        else
            fp++;
        if (i + 1 == npred || po[i + 1].score != po[i].score) {
            gfp[2 * ngroups] = fp, gfp[2 * ngroups + 1] = hits;
            ngroups++;
        }
    }
    for (int f = 0; f < 7; f++) {
        /* the lowest threshold (most predictions kept) whose FP / image is within the budget;
         * FP grows with each group, so that is the last group inside it */
        int64_t best = 0;
        for (int64_t k = 0; k < ngroups && (double)gfp[2 * k] <= froc_fppi[f] * (double)nimages;
             k++)
            best = gfp[2 * k + 1];
        out->froc[f] = ntruth ? (double)best / (double)ntruth : NAN;
    }
    out->froc_mean = mean_defined(out->froc, 7); /* NaN without ground truth */
    free(po), free(to), free(taken), free(tp), free(pr), free(ng), free(gfp);
    return TASSL_OK;
}
