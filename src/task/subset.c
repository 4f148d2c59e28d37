/* subset.c — the labelled-subset sampler of the evaluation protocol (tassl_label_subset, task.h):
 * which training subjects' labels a finetune run may use. Subject-level (all records of a subject
 * together), stratified by each subject's most frequent label, exact in count, nested across
 * fractions and shot counts for one seed, deterministic per seed whatever the manifest's row
 * order.
 *
 * How: subjects are grouped by stratum; each stratum's subjects are sorted by name and shuffled
 * with Philox keyed by (seed, stratum). A PICK ORDER over all subjects is then fixed once: first
 * one subject of every stratum (largest stratum first, so "at least one per stratum" holds as
 * soon as the count allows), then one subject at a time to the stratum whose share falls furthest
 * below its quota t·N_s/N (largest remainder applied incrementally; ties to the larger stratum,
 * then the lower label). A fraction f takes the first round(f·N) subjects of that order, so a
 * smaller fraction's subset is a prefix — a subset — of a larger one's; the per-stratum counts
 * stay within one subject of their quota. Shots k take the first k of each stratum's shuffle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "task_internal.h"

typedef struct subj {
    const char *name;
    int stratum; /* index into the strata */
    int label;   /* most frequent label (-1 when none) */
} subj;

typedef struct stratum {
    int label;
    int n;     /* subjects */
    int *idx;  /* (n) subject indices, in shuffled order */
    int taken; /* during the pick order */
} stratum;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

tassl_status tassl_label_subset(const struct tassl_manifest *m, int split, double fraction,
                                int shots, uint64_t seed, int **rows, int *nrows, int *nsubjects) {
    *rows = NULL;
    *nrows = 0;
    if (nsubjects) *nsubjects = 0;
    if (shots < 0) return tassl_error(TASSL_ERR_ARG, "task.shots: %d (expected >= 0)", shots);
    if (shots == 0 && !(fraction > 0 && fraction <= 1))
        return tassl_error(TASSL_ERR_ARG, "task.label_fraction: %g (expected a value in (0, 1])",
                           fraction);
    /* the distinct subjects of the split, sorted by name */
    int nrec = 0;
    for (int i = 0; i < m->n; i++)
        nrec += m->rec[i].split == split;
    if (nrec == 0)
        return tassl_error(TASSL_ERR_ARG, "%s: no record is in split '%s'", m->source,
                           tassl_split_name((tassl_split)split));
    const char **names = malloc(sizeof(char *) * (size_t)nrec);
    int *rec_subj = malloc(sizeof(int) * (size_t)m->n);
    subj *sj = calloc((size_t)nrec, sizeof *sj);
    stratum *st = calloc((size_t)nrec, sizeof *st);
    int *order = malloc(sizeof(int) * (size_t)nrec);
    int *counts = NULL;
    int ns = 0, nst = 0;
    tassl_status s = TASSL_OK;
    if (!names || !rec_subj || !sj || !st || !order) {
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    int k = 0;
    for (int i = 0; i < m->n; i++)
        if (m->rec[i].split == split) names[k++] = m->rec[i].subject;
    qsort(names, (size_t)nrec, sizeof *names, cmp_str);
    for (int i = 0; i < nrec; i++)
        if (ns == 0 || strcmp(names[i], sj[ns - 1].name) != 0) sj[ns++].name = names[i];
    /* record → subject (binary search in the sorted names) */
    for (int i = 0; i < m->n; i++) {
        rec_subj[i] = -1;
        if (m->rec[i].split != split) continue;
        int lo = 0, hi = ns - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2, c = strcmp(m->rec[i].subject, sj[mid].name);
            if (c == 0) {
                rec_subj[i] = mid;
                break;
            }
            if (c < 0)
                hi = mid - 1;
            else
                lo = mid + 1;
        }
    }
    /* each subject's most frequent label (ties: the lower label; -1 = unlabelled) */
    int maxl = -1;
    for (int i = 0; i < m->n; i++)
        if (rec_subj[i] >= 0 && m->rec[i].label > maxl) maxl = m->rec[i].label;
    int nl = maxl + 2; /* slot 0 = label -1 */
    counts = calloc((size_t)nl, sizeof(int));
    if (!counts) {
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    /* the records of each subject: indices grouped by subject (counting sort) */
    int *byrec = malloc(sizeof(int) * (size_t)nrec);
    if (!byrec) {
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    int *start = calloc((size_t)ns + 1, sizeof(int));
    if (!start) {
        free(byrec);
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    for (int i = 0; i < m->n; i++)
        if (rec_subj[i] >= 0) start[rec_subj[i] + 1]++;
    for (int j = 0; j < ns; j++)
        start[j + 1] += start[j];
    {
        int *fill = malloc(sizeof(int) * (size_t)(ns > 0 ? ns : 1));
        if (!fill) {
            free(byrec), free(start);
            s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
            goto done;
        }
        memcpy(fill, start, sizeof(int) * (size_t)ns);
        for (int i = 0; i < m->n; i++)
            if (rec_subj[i] >= 0) byrec[fill[rec_subj[i]]++] = i;
        free(fill);
    }
    for (int j = 0; j < ns; j++) {
        for (int r = start[j]; r < start[j + 1]; r++)
            counts[m->rec[byrec[r]].label + 1]++;
        int best = 0;
        for (int l = 1; l < nl; l++)
            if (counts[l] > counts[best]) best = l;
        sj[j].label = best - 1;
        for (int r = start[j]; r < start[j + 1]; r++)
            counts[m->rec[byrec[r]].label + 1] = 0;
    }
    /* strata in ascending label; subjects in name order within each */
    for (int l = -1; l <= maxl; l++) {
        int n = 0;
        for (int j = 0; j < ns; j++)
            n += sj[j].label == l;
        if (n == 0) continue;
        stratum *t = &st[nst];
        t->label = l;
        t->idx = malloc(sizeof(int) * (size_t)n);
        if (!t->idx) {
            free(byrec), free(start);
            s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
            goto done;
        }
        for (int j = 0; j < ns; j++) /* sj is in name order */
            if (sj[j].label == l) {
                sj[j].stratum = nst;
                t->idx[t->n++] = j;
            }
        /* Fisher–Yates driven by Philox of (seed, stratum label) */
        uint64_t key = mix64(seed ^ mix64(0x5ab5e7ULL + (uint64_t)(int64_t)(l + 1)));
        for (int i = t->n - 1; i > 0; i--) {
            uint64_t r = ((uint64_t)tassl_philox_u32(key, (uint64_t)(2 * i)) << 32) |
                         tassl_philox_u32(key, (uint64_t)(2 * i + 1));
            int j = (int)(r % (uint64_t)(i + 1)), tmp = t->idx[i];
            t->idx[i] = t->idx[j];
            t->idx[j] = tmp;
        }
        nst++;
    }
    /* the chosen subjects, marked */
    bool *chosen = calloc((size_t)ns, sizeof(bool));
    if (!chosen) {
        free(byrec), free(start);
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    int nchosen = 0;
    if (shots > 0) {
        for (int t = 0; t < nst; t++)
            for (int i = 0; i < st[t].n && i < shots; i++)
                chosen[st[t].idx[i]] = true, nchosen++;
    } else {
        int total = (int)floor(fraction * (double)ns + 0.5);
        if (total < 1) total = 1;
        if (total > ns) total = ns;
        /* phase 1: one per stratum, largest first (ties: lower label) */
        int npick = 0;
        bool *first = calloc((size_t)nst, sizeof(bool));
        if (!first) {
            free(chosen), free(byrec), free(start);
            s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
            goto done;
        }
        while (npick < total && npick < nst) {
            int b = -1;
            for (int t = 0; t < nst; t++)
                if (!first[t] && (b < 0 || st[t].n > st[b].n)) b = t;
            first[b] = true;
            order[npick++] = st[b].idx[st[b].taken++];
        }
        free(first);
        /* phase 2: the stratum furthest below its quota t·N_s/N */
        while (npick < total) {
            int b = -1;
            double bd = 0;
            for (int t = 0; t < nst; t++) {
                if (st[t].taken >= st[t].n) continue;
                double d = (double)(npick + 1) * (double)st[t].n / (double)ns - (double)st[t].taken;
                if (b < 0 || d > bd + 1e-12 || (fabs(d - bd) <= 1e-12 && st[t].n > st[b].n)) {
                    b = t;
                    bd = d;
                }
            }
            order[npick++] = st[b].idx[st[b].taken++];
        }
        for (int i = 0; i < npick; i++)
            chosen[order[i]] = true;
        nchosen = npick;
    }
    int nr = 0;
    for (int i = 0; i < m->n; i++)
        nr += rec_subj[i] >= 0 && chosen[rec_subj[i]];
    int *out = malloc(sizeof(int) * (size_t)(nr > 0 ? nr : 1));
    if (!out) {
        free(chosen), free(byrec), free(start);
        s = tassl_error(TASSL_ERR_NOMEM, "label subset: out of host memory");
        goto done;
    }
    nr = 0;
    for (int i = 0; i < m->n; i++)
        if (rec_subj[i] >= 0 && chosen[rec_subj[i]]) out[nr++] = i;
    *rows = out;
    *nrows = nr;
    if (nsubjects) *nsubjects = nchosen;
    free(chosen), free(byrec), free(start);
done:
    for (int t = 0; st && t < nst; t++)
        free(st[t].idx);
    free(names), free(rec_subj), free(sj), free(st), free(order), free(counts);
    return s;
}
