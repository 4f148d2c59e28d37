/* monitor.c — the collapse monitor: per-dimension std of L2-normalised embeddings (SimSiam's
 * collapse indicator, Chen & He 2021 §4: ~1/√d healthy, 0 collapsed) and the effective rank
 * (RankMe, Garrido et al. 2023: exp of the entropy of the normalised singular values), with a
 * small cyclic Jacobi eigen-solver in double on the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_internal.h"

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int tassl_sym_eigenvalues(double *a, int n, double *w) {
    /* Cyclic Jacobi (Golub & Van Loan §8.5): rotate away each off-diagonal (p, q) in turn with
     * the stable tangent t = sign(θ)/(|θ| + √(θ² + 1)), θ = (a_qq − a_pp)/(2 a_pq). */
    double total = 0;
    for (int i = 0; i < n * n; i++)
        total += a[i] * a[i];
    int sweep = 0;
    for (; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                off += 2 * a[p * n + q] * a[p * n + q];
        if (off <= 1e-24 * total || off == 0) break;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++)
        w[i] = a[i * n + i];
    qsort(w, (size_t)n, sizeof *w, cmp_desc);
    return sweep < 100 ? sweep : -1;
}

tassl_status tassl_collapse_measure(const float *z, int64_t n, int64_t d,
                                    tassl_collapse_stats *out) {
    memset(out, 0, sizeof *out);
    if (n < 2 || d < 1 || d > 65536)
        return tassl_error(TASSL_ERR_ARG,
                           "collapse monitor: %lld embeddings of width %lld (need "
                           "at least 2, width 1..65536)",
                           (long long)n, (long long)d);
    double *u = malloc(sizeof(double) * (size_t)(n * d));
    int64_t k = n < d ? n : d;
    double *g = malloc(sizeof(double) * (size_t)(k * k)), *w = malloc(sizeof(double) * (size_t)k);
    tassl_status st = TASSL_OK;
    if (!u || !g || !w) {
        st = tassl_error(TASSL_ERR_NOMEM, "collapse monitor: out of host memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++) {
            double v = z[i * d + j];
            if (!isfinite(v)) {
                st = tassl_error(TASSL_ERR_NUMERIC,
                                 "collapse monitor: embedding %lld has a "
                                 "non-finite value",
                                 (long long)i);
                goto done;
            }
            ss += v * v;
        }
        double inv = 1 / fmax(sqrt(ss), 1e-12);
        for (int64_t j = 0; j < d; j++)
            u[i * d + j] = z[i * d + j] * inv;
    }
    double sstd = 0;
    for (int64_t j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++)
            m += u[i * d + j];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++)
            v += (u[i * d + j] - m) * (u[i * d + j] - m);
        sstd += sqrt(v / (double)(n - 1));
    }
    out->n = n, out->d = d;
    out->std = sstd / (double)d;
    out->std_scaled = out->std * sqrt((double)d);
    /* singular values² of U = eigenvalues of UᵀU (d×d) or UUᵀ (n×n): the smaller one */
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = a; b < k; b++) {
            double acc = 0;
            if (n < d)
                for (int64_t j = 0; j < d; j++)
                    acc += u[a * d + j] * u[b * d + j];
            else
                for (int64_t i = 0; i < n; i++)
                    acc += u[i * d + a] * u[i * d + b];
            g[a * k + b] = g[b * k + a] = acc;
        }
    if (tassl_sym_eigenvalues(g, (int)k, w) < 0) {
        st = tassl_error(TASSL_ERR_NUMERIC, "collapse monitor: the eigen-solver did not converge");
        goto done;
    }
    double ssum = 0, h = 0;
    for (int64_t i = 0; i < k; i++)
        ssum += sqrt(fmax(w[i], 0));
    for (int64_t i = 0; i < k && ssum > 0; i++) {
        double p = sqrt(fmax(w[i], 0)) / ssum + 1e-12; /* RankMe's ε keeps log finite */
        h -= p * log(p);
    }
    out->erank = exp(h);
done:
    free(u);
    free(g);
    free(w);
    return st;
}

bool tassl_collapse_check(tassl_collapse_stats *st, double min_std, double min_rank) {
    st->collapsed = st->std_scaled < min_std || st->erank < min_rank;
    return st->collapsed;
}
