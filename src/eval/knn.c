/* knn.c — the k-nearest-neighbour classifier on frozen features (InstDisc / DINO protocol:
 * cosine similarity, the k most similar bank samples vote with weight exp(s / T)) and the
 * accuracy metrics it reports. Host code in double: evaluation sets are small (thousands of
 * rows), and a host loop is exact and identical on every device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tassl/eval.h"
#include "tassl/status.h"

tassl_status tassl_eval_accuracy(const int32_t *pred, const int32_t *truth, int64_t n, int nclasses,
                                 double *acc, double *bal) {
    if (n < 1 || nclasses < 1)
        return tassl_error(TASSL_ERR_ARG, "accuracy: %lld samples of %d classes (need >= 1 each)",
                           (long long)n, nclasses);
    int64_t *cnt = calloc((size_t)nclasses * 2, sizeof(int64_t)); /* per class: n, correct */
    if (!cnt) return tassl_error(TASSL_ERR_NOMEM, "accuracy: out of host memory");
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= nclasses || pred[i] < 0 || pred[i] >= nclasses) {
            free(cnt);
            return tassl_error(TASSL_ERR_ARG,
                               "accuracy: sample %lld has label %d and prediction %d, expected "
                               "classes in [0, %d)",
                               (long long)i, truth[i], pred[i], nclasses);
        }
        cnt[2 * truth[i]]++;
        if (pred[i] == truth[i]) cnt[2 * truth[i] + 1]++, correct++;
    }
    if (acc) *acc = (double)correct / (double)n;
    if (bal) {
        double sum = 0;
        int present = 0;
        for (int c = 0; c < nclasses; c++)
            if (cnt[2 * c] > 0) sum += (double)cnt[2 * c + 1] / (double)cnt[2 * c], present++;
        *bal = sum / present; /* present >= 1 since n >= 1 */
    }
    free(cnt);
    return TASSL_OK;
}

typedef struct scored {
    float s;
    uint8_t y;
} scored;

static int by_score(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

tassl_status tassl_eval_auroc(const float *scores, const uint8_t *labels, int64_t n, double *auc) {
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] > 1)
            return tassl_error(TASSL_ERR_ARG, "auroc: label %d at %lld, expected 0 or 1", labels[i],
                               (long long)i);
        if (!isfinite(scores[i]))
            return tassl_error(TASSL_ERR_NUMERIC, "auroc: score %g at %lld is not finite",
                               (double)scores[i], (long long)i);
        npos += labels[i];
    }
    if (npos == 0 || npos == n)
        return tassl_error(TASSL_ERR_ARG,
                           "auroc: %lld positives among %lld (both classes are "
                           "needed)",
                           (long long)npos, (long long)n);
    scored *v = malloc(sizeof(scored) * (size_t)n);
    if (!v) return tassl_error(TASSL_ERR_NOMEM, "auroc: out of host memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = (scored){scores[i], labels[i]};
    qsort(v, (size_t)n, sizeof *v, by_score);
    double rank_sum = 0; /* of the positives, mid-ranks (1-based) for ties */
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double mid = 0.5 * (double)(i + 1 + j), pos = 0;
        for (int64_t k = i; k < j; k++)
            pos += v[k].y;
        rank_sum += pos * mid;
        i = j;
    }
    free(v);
    double nneg = (double)(n - npos);
    *auc = (rank_sum - (double)npos * (double)(npos + 1) / 2) / ((double)npos * nneg);
    return TASSL_OK;
}

tassl_knn_opts tassl_knn_opts_default(void) {
    return (tassl_knn_opts){.k = 20, .temperature = 0.07f, .nclasses = 0};
}

/* rows of x (n, d) L2-normalised into y (double); a zero row stays zero */
static tassl_status normalise(const float *x, int64_t n, int64_t d, double *y, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++) {
            double v = x[i * d + j];
            if (!isfinite(v))
                return tassl_error(TASSL_ERR_NUMERIC,
                                   "knn: %s row %lld has a non-finite feature (%g at %lld)", what,
                                   (long long)i, v, (long long)j);
            y[i * d + j] = v;
            ss += v * v;
        }
        double inv = ss > 0 ? 1.0 / sqrt(ss) : 0;
        for (int64_t j = 0; j < d; j++)
            y[i * d + j] *= inv;
    }
    return TASSL_OK;
}

tassl_status tassl_knn_classify(const float *bank, const int32_t *bank_y, int64_t nb,
                                const float *query, int64_t nq, int64_t d,
                                const tassl_knn_opts *opts, int32_t *pred, float *scores) {
    tassl_knn_opts o = opts ? *opts : tassl_knn_opts_default();
    if (nb < 1 || nq < 1 || d < 1)
        return tassl_error(TASSL_ERR_ARG,
                           "knn: %lld bank rows, %lld queries of width %lld (need "
                           ">= 1 each)",
                           (long long)nb, (long long)nq, (long long)d);
    if (o.k < 1 || !(o.temperature > 0))
        return tassl_error(TASSL_ERR_ARG, "knn: k %d and temperature %g (need k >= 1, T > 0)", o.k,
                           (double)o.temperature);
    int nc = o.nclasses;
    for (int64_t i = 0; i < nb; i++) {
        if (bank_y[i] < 0 || (o.nclasses > 0 && bank_y[i] >= o.nclasses))
            return tassl_error(TASSL_ERR_ARG, "knn: bank label %d at row %lld, expected [0, %d)",
                               bank_y[i], (long long)i, o.nclasses);
        if (o.nclasses == 0 && bank_y[i] + 1 > nc) nc = bank_y[i] + 1;
    }
    int k = o.k < nb ? o.k : (int)nb;
    double *B = malloc(sizeof(double) * (size_t)(nb * d)), *q = malloc(sizeof(double) * (size_t)d);
    double *topv = malloc(sizeof(double) * (size_t)k), *votes = malloc(sizeof(double) * (size_t)nc);
    int64_t *topi = malloc(sizeof(int64_t) * (size_t)k);
    tassl_status s = TASSL_OK;
    if (!B || !q || !topv || !votes || !topi) {
        s = tassl_error(TASSL_ERR_NOMEM, "knn: out of host memory (bank of %lld x %lld)",
                        (long long)nb, (long long)d);
        goto done;
    }
    if ((s = normalise(bank, nb, d, B, "bank")) != TASSL_OK) goto done;
    for (int64_t i = 0; i < nq; i++) {
        if ((s = normalise(query + i * d, 1, d, q, "query")) != TASSL_OK) {
            s = tassl_error(s, "knn: query row %lld has a non-finite feature", (long long)i);
            goto done;
        }
        /* the k largest similarities, kept sorted descending; equal values keep the lower index */
        int have = 0;
        for (int64_t j = 0; j < nb; j++) {
            double sim = 0;
            for (int64_t t = 0; t < d; t++)
                sim += q[t] * B[j * d + t];
            if (have == k && sim <= topv[k - 1]) continue;
            int p = have < k ? have++ : k - 1;
            while (p > 0 && topv[p - 1] < sim) {
                topv[p] = topv[p - 1], topi[p] = topi[p - 1];
                p--;
            }
            topv[p] = sim, topi[p] = j;
        }
        for (int c = 0; c < nc; c++)
            votes[c] = 0;
        double tot = 0;
        for (int r = 0; r < have; r++) {
            double w = exp(topv[r] / (double)o.temperature);
            votes[bank_y[topi[r]]] += w;
            tot += w;
        }
        int best = 0;
        for (int c = 1; c < nc; c++)
            if (votes[c] > votes[best]) best = c;
        if (pred) pred[i] = best;
        if (scores)
            for (int c = 0; c < nc; c++)
                scores[i * nc + c] = (float)(votes[c] / tot);
    }
done:
    free(B);
    free(q);
    free(topv);
    free(votes);
    free(topi);
    return s;
}

tassl_status tassl_knn_evaluate(const float *bank, const int32_t *bank_y, int64_t nb,
                                const float *query, const int32_t *query_y, int64_t nq, int64_t d,
                                const tassl_knn_opts *opts, tassl_knn_result *out) {
    memset(out, 0, sizeof *out);
    tassl_knn_opts o = opts ? *opts : tassl_knn_opts_default();
    if (o.nclasses == 0 && nb > 0 && nq > 0) { /* classes of the bank and of the queries */
        for (int64_t i = 0; i < nb; i++)
            if (bank_y[i] + 1 > o.nclasses) o.nclasses = bank_y[i] + 1;
        for (int64_t i = 0; i < nq; i++)
            if (query_y[i] + 1 > o.nclasses) o.nclasses = query_y[i] + 1;
    }
    int32_t *pred = malloc(sizeof(int32_t) * (size_t)(nq > 0 ? nq : 1));
    if (!pred) return tassl_error(TASSL_ERR_NOMEM, "knn: out of host memory");
    tassl_status s = tassl_knn_classify(bank, bank_y, nb, query, nq, d, &o, pred, NULL);
    if (s == TASSL_OK)
        s = tassl_eval_accuracy(pred, query_y, nq, o.nclasses, &out->accuracy,
                                &out->balanced_accuracy);
    free(pred);
    if (s == TASSL_OK) out->n = nq, out->nclasses = o.nclasses;
    return s;
}
