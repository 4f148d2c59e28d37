/* metrics_cls.c — classification metrics of a downstream evaluation (include/tassl/metrics.h):
 * confusion matrix, accuracy, balanced accuracy, per-class recall / F1 / one-vs-rest AUC and
 * their macro means. Host code in double; the definitions follow scikit-learn's
 * (confusion_matrix, balanced_accuracy_score, f1_score(average="macro"), roc_auc_score per class),
 * which tools/gen-metric-fixtures uses as the reference for tests/test_metrics.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/metrics.h"

void tassl_cls_metrics_free(tassl_cls_metrics *m) {
    if (!m) return;
    free(m->recall);
    free(m->f1);
    free(m->auc);
    free(m->confusion);
    m->recall = m->f1 = m->auc = NULL;
    m->confusion = NULL;
}

/* mean of the non-NaN entries of x (n); NaN when there are none */
static double mean_defined(const double *x, int n) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) s += x[i], k++;
    return k ? s / k : NAN;
}

typedef struct scored {
    double s;
    int y; /* 1: the sample belongs to the class */
} scored;

static int by_score(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* One-vs-rest AUC of class c: the Mann–Whitney U statistic of the positives' scores against the
 * negatives', tied scores counting one half (mid-ranks) — equal to the trapezoidal area under the
 * ROC curve that roc_auc_score computes. v (n) is scratch. NaN when the class has no positive or
 * no negative. */
static double auc_one_vs_rest(const float *scores, const int32_t *truth, int64_t n, int nclasses,
                              int c, scored *v) {
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        v[i] = (scored){scores[i * nclasses + c], truth[i] == c};
        npos += v[i].y;
    }
    if (npos == 0 || npos == n) return NAN;
    qsort(v, (size_t)n, sizeof *v, by_score);
    double rank_sum = 0; /* sum of the positives' 1-based ranks, mid-rank within a tie */
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos = 0;
        while (j < n && v[j].s == v[i].s)
            pos += v[j++].y;
        rank_sum += (double)pos * 0.5 * (double)(i + 1 + j);
        i = j;
    }
    double np = (double)npos, nn = (double)(n - npos);
    return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

tassl_status tassl_cls_metrics_compute(const int32_t *pred, const float *scores,
                                       const int32_t *truth, int64_t n, int nclasses,
                                       tassl_cls_metrics *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || nclasses < 1)
        return tassl_error(TASSL_ERR_ARG,
                           "classification metrics: %lld samples of %d classes (need >= 1 each)",
                           (long long)n, nclasses);
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= nclasses)
            return tassl_error(TASSL_ERR_ARG,
                               "classification metrics: sample %lld has true label %d, expected a "
                               "class in [0, %d)",
                               (long long)i, truth[i], nclasses);
        if (pred[i] < 0 || pred[i] >= nclasses)
            return tassl_error(TASSL_ERR_ARG,
                               "classification metrics: sample %lld has predicted class %d, "
                               "expected a class in [0, %d)",
                               (long long)i, pred[i], nclasses);
        if (scores)
            for (int c = 0; c < nclasses; c++)
                if (!isfinite(scores[i * nclasses + c]))
                    return tassl_error(TASSL_ERR_NUMERIC,
                                       "classification metrics: score of class %d in row %lld is "
                                       "%g, expected a finite value",
                                       c, (long long)i, (double)scores[i * nclasses + c]);
    }
    size_t k = (size_t)nclasses;
    out->nclasses = nclasses;
    out->n = n;
    out->recall = malloc(k * sizeof(double));
    out->f1 = malloc(k * sizeof(double));
    out->auc = malloc(k * sizeof(double));
    out->confusion = calloc(k * k, sizeof(int64_t)); // (K, K) row = truth, column = prediction
    scored *v = scores ? malloc((size_t)n * sizeof *v) : NULL;
    if (!out->recall || !out->f1 || !out->auc || !out->confusion || (scores && !v)) {
        free(v);
        tassl_cls_metrics_free(out);
        return tassl_error(TASSL_ERR_NOMEM, "classification metrics: out of host memory");
    }
    int64_t *cm = out->confusion, correct = 0;
    for (int64_t i = 0; i < n; i++) {
        cm[truth[i] * nclasses + pred[i]]++;
        correct += truth[i] == pred[i];
    }
    out->accuracy = (double)correct / (double)n;
    for (int c = 0; c < nclasses; c++) {
        int64_t tp = cm[c * nclasses + c], row = 0, col = 0; /* row: truth c; col: predicted c */
        for (int j = 0; j < nclasses; j++)
            row += cm[c * nclasses + j], col += cm[j * nclasses + c];
        out->recall[c] = row ? (double)tp / (double)row : NAN;
        /* F1 = 2TP / (2TP + FP + FN) = 2TP / (col + row); 0 for a class never predicted */
        out->f1[c] = row + col ? 2.0 * (double)tp / (double)(row + col) : NAN;
        out->auc[c] = scores ? auc_one_vs_rest(scores, truth, n, nclasses, c, v) : NAN;
    }
    free(v);
    out->balanced_accuracy = mean_defined(out->recall, nclasses);
    out->macro_f1 = mean_defined(out->f1, nclasses);
    out->macro_auc = mean_defined(out->auc, nclasses);
    return TASSL_OK;
}
