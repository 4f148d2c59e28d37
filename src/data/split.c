/* split.c — subject-level splits: every record of a subject lands in one split, so no subject
 * leaks between train and test; seeded and stratified by label. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"

typedef struct subj {
    const char *name;
    int split;      /* TASSL_SPLIT_* or NONE */
    int first_line; /* line of the row that set split */
    int stratum;    /* most frequent label, -1 if none */
} subj;

static int cmp_str_idx(const void *a, const void *b, void *ctx) {
    const tassl_record *r = ctx;
    return strcmp(r[*(const int *)a].subject, r[*(const int *)b].subject);
}

/* qsort_r is a GNU extension; a tiny merge sort keeps this portable. */
static void sort_idx(int *idx, int n, const tassl_record *r, int *tmp) {
    if (n < 2) return;
    int h = n / 2;
    sort_idx(idx, h, r, tmp);
    sort_idx(idx + h, n - h, r, tmp);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_str_idx(&idx[i], &idx[j], (void *)r) <= 0 ? idx[i++] : idx[j++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* Records sorted by subject (stable), and the subject groups over them. */
static tassl_status group_subjects(const tassl_manifest *m, int **order, int **start, int *nsub) {
    int n = m->n;
    int *idx = malloc((size_t)(n + 1) * sizeof *idx), *tmp = malloc((size_t)(n + 1) * sizeof *tmp);
    int *st = malloc((size_t)(n + 1) * sizeof *st);
    if (!idx || !tmp || !st) {
        free(idx);
        free(tmp);
        free(st);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", m->source);
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    sort_idx(idx, n, m->rec, tmp);
    free(tmp);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(m->rec[idx[i]].subject, m->rec[idx[i - 1]].subject)) st[k++] = i;
    st[k] = n;
    *order = idx;
    *start = st;
    *nsub = k;
    return TASSL_OK;
}

tassl_status tassl_manifest_check_subjects(const tassl_manifest *m) {
    int *idx, *st, ns;
    tassl_status s = group_subjects(m, &idx, &st, &ns);
    if (s != TASSL_OK) return s;
    for (int g = 0; g < ns && s == TASSL_OK; g++) {
        const tassl_record *first = NULL;
        for (int i = st[g]; i < st[g + 1]; i++) {
            const tassl_record *r = &m->rec[idx[i]];
            if (r->split == TASSL_SPLIT_NONE) continue;
            if (!first) first = r;
            else if (r->split != first->split) {
                s = tassl_error(TASSL_ERR_ARG,
                                "%s: subject '%s' is in two splits: %s (line %d) and %s (line %d); "
                                "all rows of a subject must share one split so nothing leaks",
                                m->source, r->subject, tassl_split_name((tassl_split)first->split),
                                first->line, tassl_split_name((tassl_split)r->split), r->line);
                break;
            }
        }
    }
    free(idx);
    free(st);
    return s;
}

tassl_status tassl_manifest_split(tassl_manifest *m, double val_frac, double test_frac,
                                  uint64_t seed) {
    if (!(val_frac >= 0 && val_frac < 1 && test_frac >= 0 && test_frac < 1 &&
          val_frac + test_frac < 1))
        return tassl_error(TASSL_ERR_ARG,
                           "split fractions val %g, test %g: each must be in [0, 1) and their sum "
                           "below 1", val_frac, test_frac);
    tassl_status s = tassl_manifest_check_subjects(m);
    if (s != TASSL_OK) return s;
    int *idx, *st, ns;
    s = group_subjects(m, &idx, &st, &ns);
    if (s != TASSL_OK) return s;
    subj *sj = calloc((size_t)ns + 1, sizeof *sj);
    int maxlab = m->nclasses > 0 ? m->nclasses : 1;
    int *hist = calloc((size_t)maxlab, sizeof *hist);
    if (!sj || !hist) {
        free(idx), free(st), free(sj), free(hist);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", m->source);
    }
    /* subjects in name order; stratum = most frequent label (smallest on ties) */
    for (int g = 0; g < ns; g++) {
        sj[g].name = m->rec[idx[st[g]]].subject;
        sj[g].split = TASSL_SPLIT_NONE;
        sj[g].stratum = -1;
        memset(hist, 0, (size_t)maxlab * sizeof *hist);
        int best = 0;
        for (int i = st[g]; i < st[g + 1]; i++) {
            const tassl_record *r = &m->rec[idx[i]];
            if (r->split != TASSL_SPLIT_NONE) sj[g].split = r->split;
            if (r->label >= 0 && r->label < maxlab) {
                hist[r->label]++;
                if (hist[r->label] > best || (hist[r->label] == best && r->label < sj[g].stratum)) {
                    best = hist[r->label];
                    sj[g].stratum = r->label;
                }
            }
        }
    }
    /* per stratum (-1 .. maxlab-1): shuffle the unassigned subjects and deal them out */
    int *pool = malloc((size_t)(ns + 1) * sizeof *pool);
    if (!pool) {
        free(idx), free(st), free(sj), free(hist);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", m->source);
    }
    for (int k = -1; k < maxlab; k++) {
        int np = 0;
        for (int g = 0; g < ns; g++)
            if (sj[g].split == TASSL_SPLIT_NONE && sj[g].stratum == k) pool[np++] = g;
        if (np == 0) continue;
        srng r;
        srng_init(&r, seed, (uint64_t)(k + 1), SRNG_TAG_SPLIT);
        for (int i = np - 1; i > 0; i--) { /* Fisher–Yates */
            int j = (int)srng_below(&r, i + 1);
            int t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        int ntest = (int)lround(np * test_frac), nval = (int)lround(np * val_frac);
        if (ntest + nval > np) nval = np - ntest;
        for (int i = 0; i < np; i++)
            sj[pool[i]].split = i < ntest ? TASSL_SPLIT_TEST
                                          : (i < ntest + nval ? TASSL_SPLIT_VAL : TASSL_SPLIT_TRAIN);
    }
    for (int g = 0; g < ns; g++)
        for (int i = st[g]; i < st[g + 1]; i++) m->rec[idx[i]].split = sj[g].split;
    m->has_split = 1;
    free(pool), free(idx), free(st), free(sj), free(hist);
    return TASSL_OK;
}
