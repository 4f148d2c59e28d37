/* recommend.c — applying the rule table to a query: matching, priorities, the item each field
 * ends with and the rule it came from, the configuration those items make (validated key by key
 * against the registry, errors naming the rule's FILE:LINE), and the patch/batch fit to the
 * memory budget with the estimator of memory.c. Output (printing, the config file): output.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rec_result.h"
#include "tassl/dataset.h"
#include "tassl/io.h"

/* ---- the query ------------------------------------------------------------------------------ */

tassl_status tassl_rec_parse_labels(const char *text, double *fraction, int64_t *count) {
    *fraction = 0;
    *count = 0;
    if (!text || !*text)
        return tassl_error(TASSL_ERR_ARG, "--labels: expected a fraction (0.05 or 5%%) or a count "
                                          "of labelled cases (300)");
    char *e;
    errno = 0;
    double v = strtod(text, &e);
    bool pct = *e == '%' && e[1] == 0;
    if (e == text || (*e && !pct) || errno || !isfinite(v) || v <= 0)
        return tassl_error(TASSL_ERR_ARG,
                           "--labels: '%s' is not a positive fraction (0.05, 5%%) or count (300)",
                           text);
    if (pct) {
        if (v > 100) return tassl_error(TASSL_ERR_ARG, "--labels: '%s' is above 100%%", text);
        *fraction = v / 100.0;
        return TASSL_OK;
    }
    if (v <= 1) {
        *fraction = v;
        return TASSL_OK;
    }
    if (v != floor(v) || v > 1e12)
        return tassl_error(TASSL_ERR_ARG,
                           "--labels: '%s' is neither a fraction in (0, 1] nor a whole count of "
                           "labelled cases",
                           text);
    *count = (int64_t)v;
    return TASSL_OK;
}

tassl_status tassl_rec_query_check(const tassl_rec_query *q) {
    if (!q->modality || !rec_in_set(q->modality, tassl_rec_modalities))
        return tassl_error(TASSL_ERR_ARG, "--modality: '%s' is not one of %s",
                           q->modality ? q->modality : "(missing)", tassl_rec_modalities);
    if (!q->task || !rec_in_set(q->task, tassl_rec_tasks))
        return tassl_error(TASSL_ERR_ARG, "--task: '%s' is not one of %s",
                           q->task ? q->task : "(missing)", tassl_rec_tasks);
    if (q->target && !rec_in_set(q->target, tassl_rec_targets))
        return tassl_error(TASSL_ERR_ARG, "--target: '%s' is not one of %s", q->target,
                           tassl_rec_targets);
    if (q->dims != 2 && q->dims != 3)
        return tassl_error(TASSL_ERR_ARG, "--dims: %d is not 2 or 3", q->dims);
    bool frac = q->label_fraction > 0 && q->label_fraction <= 1, cnt = q->label_count > 0;
    if (frac == cnt)
        return tassl_error(TASSL_ERR_ARG, "--labels: give either a fraction in (0, 1] or a count "
                                          "> 1 of labelled cases");
    if (!(q->memory_bytes >= 64.0 * 1024 * 1024) || q->memory_bytes > 1e15)
        return tassl_error(TASSL_ERR_ARG,
                           "--memory: %.3g GB is not a usable budget (at least "
                           "0.0625 GB)",
                           q->memory_bytes / 1e9);
    return TASSL_OK;
}

/* ---- matching ------------------------------------------------------------------------------- */

static bool in_list(const char *v, const char *const *list, int n) {
    if (n == 0) return true;
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0) return true;
    return false;
}

static bool matches(const rec_rule *ru, const tassl_rec_query *q) {
    const rec_when *w = &ru->when;
    const char *target = q->target ? q->target : "unknown";
    if (!in_list(q->modality, w->modality, w->nmodality)) return false;
    if (!in_list(q->task, w->task, w->ntask)) return false;
    if (!in_list(target, w->target, w->ntarget)) return false;
    if (w->ndims && w->dims[0] != q->dims && (w->ndims < 2 || w->dims[1] != q->dims)) return false;
    if (w->has_unlabelled && (q->unlabelled <= 0 || (double)q->unlabelled < w->unlabelled[0] ||
                              (double)q->unlabelled > w->unlabelled[1]))
        return false;
    if (w->has_fraction || w->has_count) {
        if (q->label_fraction > 0)
            return w->has_fraction && q->label_fraction >= w->fraction[0] &&
                   q->label_fraction <= w->fraction[1];
        return w->has_count && (double)q->label_count >= w->count[0] &&
               (double)q->label_count <= w->count[1];
    }
    return true;
}

static int cmp_rules(const void *a, const void *b) {
    const rec_rule *x = *(const rec_rule *const *)a, *y = *(const rec_rule *const *)b;
    if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    return x->order - y->order;
}

/* ---- items ---------------------------------------------------------------------------------- */

static tassl_rec_item *item_slot(tassl_recommendation *r, const char *name) {
    for (int i = 0; i < r->nitems; i++)
        if (strcmp(r->items[i].name, name) == 0) return &r->items[i];
    if (r->nitems == REC_MAX_ITEMS) return NULL;
    tassl_rec_item *it = &r->items[r->nitems++];
    memset(it, 0, sizeof *it);
    it->name = name;
    return it;
}

const tassl_rec_item *tassl_rec_get(const tassl_recommendation *r, const char *name) {
    for (int i = 0; i < r->nitems; i++)
        if (strcmp(r->items[i].name, name) == 0) return &r->items[i];
    return NULL;
}

static void item_drop(tassl_recommendation *r, const char *name) {
    for (int i = 0; i < r->nitems; i++)
        if (strcmp(r->items[i].name, name) == 0) {
            memmove(&r->items[i], &r->items[i + 1],
                    (size_t)(r->nitems - i - 1) * sizeof r->items[0]);
            r->nitems--;
            return;
        }
}

/* a computed item (patch, batch, warm-up, data source): the value lives in r->owned */
static tassl_status computed(tassl_recommendation *r, const char *name, const char *value,
                             const char *rule, const char *reason, const char *source) {
    if (r->nowned == REC_MAX_OWNED)
        return tassl_error(TASSL_ERR_NOMEM, "recommend: too many items");
    char *v = r->owned[r->nowned++];
    snprintf(v, REC_OWNED_LEN, "%s", value);
    tassl_rec_item *it = item_slot(r, name);
    if (!it) return tassl_error(TASSL_ERR_NOMEM, "recommend: too many items");
    it->value = v;
    it->rule = rule;
    it->reason = reason;
    it->source = source;
    it->line = 0;
    return TASSL_OK;
}

static const char *field_key(const tassl_rec_item *it, bool *is_field) {
    const rec_field *f = rec_field_find(it->name);
    *is_field = f != NULL;
    if (f) return f->key;
    return strchr(it->name, '.') ? it->name : NULL; /* "patch", "batch": shown, not keys */
}

static long long item_int(const tassl_recommendation *r, const char *name, long long def) {
    const tassl_rec_item *it = tassl_rec_get(r, name);
    return it ? atoll(it->value) : def;
}

/* "[256, 192]" → ints */
static int parse_int_list(const char *s, int64_t *v, int max) {
    int n = 0;
    for (const char *p = s; *p && n < max;) {
        while (*p && !isdigit((unsigned char)*p))
            p++;
        if (!*p) break;
        v[n++] = strtoll(p, (char **)&p, 10);
    }
    return n;
}

/* is `m` one of the methods in use (the method or a hybrid member)? */
static bool method_used(const tassl_recommendation *r, const char *m, size_t len) {
    const tassl_rec_item *it = tassl_rec_get(r, "method");
    if (it && strlen(it->value) == len && strncmp(it->value, m, len) == 0) return true;
    const tassl_rec_item *mem = tassl_rec_get(r, "members");
    if (!mem || !it || strcmp(it->value, "hybrid") != 0) return false;
    for (const char *p = mem->value; (p = strstr(p, m)) != NULL; p++) {
        bool start =
            p == mem->value || p[-1] == '[' || p[-1] == ' ' || p[-1] == ',' || p[-1] == '"';
        char e = p[len];
        if (start && (e == ',' || e == ']' || e == '"' || e == ' ')) return true;
    }
    return false;
}

/* ---- the configuration ---------------------------------------------------------------------- */

/* apply one item to c; errors name the rule's line in the table */
static tassl_status apply_item(const tassl_recommendation *r, tassl_config *c,
                               const tassl_rec_item *it) {
    bool is_field;
    const char *key = field_key(it, &is_field);
    if (!key) return TASSL_OK;
    char a[2400];
    snprintf(a, sizeof a, "%s=%s", key, it->value);
    if (tassl_config_set(c, a) == TASSL_OK) return TASSL_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tassl_last_error());
    if (it->line > 0)
        return tassl_error(TASSL_ERR_ARG, "%s:%d: rule '%s' sets %s: %s", r->origin, it->line,
                           it->rule, is_field ? it->name : key, msg);
    return tassl_error(TASSL_ERR_ARG, "recommend (%s): %s", it->rule, msg);
}

static tassl_status build_config(const tassl_recommendation *r, tassl_config **out) {
    tassl_config *c;
    tassl_status s = tassl_config_new(&c);
    for (int i = 0; s == TASSL_OK && i < r->nitems; i++)
        s = apply_item(r, c, &r->items[i]);
    if (s != TASSL_OK) {
        tassl_config_free(c);
        return s;
    }
    *out = c;
    return TASSL_OK;
}

tassl_status tassl_rec_config(const tassl_recommendation *r, tassl_config **out) {
    return build_config(r, out);
}

/* ---- memory fit ----------------------------------------------------------------------------- */

static bool patch_ok(const tassl_config *c, int64_t side) {
    const char *arch = tassl_config_str(c, "model.arch");
    if (strcmp(arch, "unet") == 0)
        return side % ((int64_t)1 << (tassl_config_int(c, "model.unet.levels") - 1)) == 0;
    if (strcmp(arch, "vit") == 0) return side % tassl_config_int(c, "model.vit.patch") == 0;
    return true;
}

static tassl_status try_size(tassl_config *c, int dims, int64_t side, int64_t batch,
                             tassl_mem_estimate *e) {
    char a[128];
    if (dims == 2)
        snprintf(a, sizeof a, "data.patch=[%lld, %lld]", (long long)side, (long long)side);
    else
        snprintf(a, sizeof a, "data.patch=[%lld, %lld, %lld]", (long long)side, (long long)side,
                 (long long)side);
    tassl_status s = tassl_config_set(c, a);
    snprintf(a, sizeof a, "train.batch_size=%lld", (long long)batch);
    if (s == TASSL_OK) s = tassl_config_set(c, a);
    return s == TASSL_OK ? tassl_mem_estimate_config(c, e) : s;
}

static void fmt_gb(char *buf, size_t len, double bytes) {
    snprintf(buf, len, "%.2f GB", bytes / 1e9);
}

static tassl_status fit_memory(tassl_recommendation *r) {
    tassl_config *c;
    tassl_status s = build_config(r, &c);
    if (s != TASSL_OK) return s;
    const tassl_rec_item *pi = tassl_rec_get(r, "patches");
    int64_t sides[32];
    int ns = pi ? parse_int_list(pi->value, sides, 32) : 0;
    if (ns == 0) {
        tassl_config_free(c);
        return tassl_error(TASSL_ERR_ARG,
                           "%s: no rule sets 'patches' (candidate patch sides) for "
                           "this query",
                           r->origin);
    }
    long long minb = item_int(r, "min_batch", 1), maxb = item_int(r, "max_batch", 256);
    if (minb < 1) minb = 1;
    if (maxb < minb) maxb = minb;
    int64_t top = 1;
    while (top * 2 <= maxb)
        top *= 2;
    bool found = false, below_min = false;
    int64_t best_side = 0, best_batch = 0;
    tassl_mem_estimate best = {0}, smallest = {0};
    int64_t smallest_side = 0;
    for (int i = 0; i < ns && !found; i++) {
        if (!patch_ok(c, sides[i])) continue;
        for (int64_t b = top; b >= minb && !found; b /= 2) {
            tassl_mem_estimate e;
            if ((s = try_size(c, r->q.dims, sides[i], b, &e)) != TASSL_OK) goto done;
            if ((double)e.total_bytes <= r->q.memory_bytes) {
                found = true;
                best = e;
                best_side = sides[i];
                best_batch = b;
            }
        }
    }
    if (!found) { /* below the method's minimum batch, at the smallest usable patch */
        for (int i = ns - 1; i >= 0 && !found; i--) {
            if (!patch_ok(c, sides[i])) continue;
            for (int64_t b = minb; b >= 1 && !found; b = b > 1 ? b / 2 : 0) {
                tassl_mem_estimate e;
                if ((s = try_size(c, r->q.dims, sides[i], b, &e)) != TASSL_OK) goto done;
                if (b == 1 && !smallest_side) {
                    smallest = e;
                    smallest_side = sides[i];
                }
                if ((double)e.total_bytes <= r->q.memory_bytes) {
                    found = below_min = true;
                    best = e;
                    best_side = sides[i];
                    best_batch = b;
                }
            }
            break; /* only the smallest usable patch */
        }
    }
    if (!found) {
        char need[32], have[32];
        fmt_gb(need, sizeof need, (double)smallest.total_bytes);
        fmt_gb(have, sizeof have, r->q.memory_bytes);
        s = tassl_error(TASSL_ERR_NOMEM,
                        "--memory: nothing fits %s: the smallest candidate (patch %lld, batch 1) "
                        "needs about %s; give more memory or a table with smaller patches",
                        have, (long long)smallest_side, need);
        goto done;
    }
    r->mem = best;
    char v[128], why[REC_OWNED_LEN];
    if (r->q.dims == 2)
        snprintf(v, sizeof v, "[%lld, %lld]", (long long)best_side, (long long)best_side);
    else
        snprintf(v, sizeof v, "[%lld, %lld, %lld]", (long long)best_side, (long long)best_side,
                 (long long)best_side);
    char tot[32], have[32];
    fmt_gb(tot, sizeof tot, (double)best.total_bytes);
    fmt_gb(have, sizeof have, r->q.memory_bytes);
    snprintf(why, sizeof why,
             "%s: the largest candidate patch (of %s) with a batch of at least %lld that fits: "
             "estimated peak %s of %s",
             below_min ? "below the minimum batch" : "memory fit", pi->value, minb, tot, have);
    char *why_s = r->owned[r->nowned < REC_MAX_OWNED ? r->nowned++ : REC_MAX_OWNED - 1];
    snprintf(why_s, REC_OWNED_LEN, "%s", why);
    const char *src =
        "memory estimator (src/recommend/memory.c, docs/RECOMMEND.md \"Memory estimate\")";
    s = computed(r, "patch", v, "memory", why_s, src);
    snprintf(v, sizeof v, "%lld", (long long)best_batch);
    const tassl_rec_item *mb = tassl_rec_get(r, "min_batch");
    if (s == TASSL_OK && below_min)
        s = computed(r, "batch", v, "memory",
                     "even the smallest patch does not fit the method's minimum batch: expect "
                     "weaker pretraining (or use gradient accumulation, train.accum_steps)",
                     src);
    else if (s == TASSL_OK) {
        /* the largest power-of-two batch up to max_batch at this patch; at least min_batch,
         * for the reason of the rule that set it */
        s = computed(r, "batch", v, "memory", "the largest power-of-two batch that fits", src);
        tassl_rec_item *it = (tassl_rec_item *)tassl_rec_get(r, "batch");
        if (s == TASSL_OK && mb) {
            it->rule = mb->rule;
            it->reason = mb->reason;
            it->source = mb->source;
            it->line = mb->line;
        }
    }
    if (below_min && s == TASSL_OK) r->below_min = true;
done:
    tassl_config_free(c);
    return s;
}

/* ---- the recommendation --------------------------------------------------------------------- */

static const char *required[] = {"paradigm", "method", "preset", "encoder"};

tassl_status tassl_rec_count_unlabelled(const char *manifest, int dims, int64_t *out) {
    *out = 0;
    tassl_manifest m;
    tassl_status s = tassl_manifest_read(&m, manifest, NULL);
    if (s != TASSL_OK) return s;
    int64_t n = 0;
    for (int i = 0; i < m.n && s == TASSL_OK; i++) {
        if (dims == 3) {
            n++;
            continue;
        }
        tassl_image_info info;
        if ((s = tassl_image_read_info(m.rec[i].image, &info)) != TASSL_OK) break;
        int64_t k = 1; /* a PNG, or a file without a superior axis: one slice */
        for (int a = 0; a < 3 && info.format != TASSL_FORMAT_PNG; a++)
            if ((info.orient_file[a] == 'S' || info.orient_file[a] == 'I') && a + 1 <= info.dim[0])
                k = info.dim[a + 1];
        n += k > 0 ? k : 1;
    }
    tassl_manifest_free(&m);
    if (s == TASSL_OK) *out = n;
    return s;
}

tassl_status tassl_recommend(const tassl_rec_table *t, const tassl_rec_query *q,
                             tassl_recommendation **out) {
    *out = NULL;
    tassl_status s = tassl_rec_query_check(q);
    if (s != TASSL_OK) return s;
    if (!tassl_config_key_find("data.patch"))
        return tassl_error(TASSL_ERR_ARG, "recommend: register the pretraining keys first "
                                          "(tassl_ssl_register_config)");
    tassl_recommendation *r = calloc(1, sizeof *r);
    const rec_rule **order = calloc((size_t)t->n, sizeof *order);
    if (!r || !order) {
        free(r);
        free(order);
        return tassl_error(TASSL_ERR_NOMEM, "recommend: out of memory");
    }
    r->q = *q;
    snprintf(r->modality, sizeof r->modality, "%s", q->modality);
    snprintf(r->task, sizeof r->task, "%s", q->task);
    snprintf(r->target, sizeof r->target, "%s", q->target ? q->target : "unknown");
    snprintf(r->data, sizeof r->data, "%s", q->data ? q->data : "");
    r->q.modality = r->modality;
    r->q.task = r->task;
    r->q.target = r->target;
    r->q.data = q->data ? r->data : NULL;
    r->origin = t->origin;
    if (r->q.unlabelled == 0 && r->q.data &&
        (s = tassl_rec_count_unlabelled(r->q.data, r->q.dims, &r->q.unlabelled)) != TASSL_OK) {
        free(r);
        free(order);
        return tassl_error(s, "--data: %s", tassl_last_error());
    }

    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (matches(&t->rules[i], &r->q)) order[n++] = &t->rules[i];
    qsort(order, (size_t)n, sizeof *order, cmp_rules);
    for (int i = 0; i < n; i++) {
        const rec_rule *ru = order[i];
        if (r->nmatched < REC_MAX_MATCHED) r->matched[r->nmatched++] = ru->id;
        for (int k = 0; k < ru->nset; k++) {
            const rec_set *st = &ru->set[k];
            if (!st->is_key && strcmp(st->name, "note") == 0) {
                if (r->nnotes < REC_MAX_NOTES)
                    r->notes[r->nnotes++] = (tassl_rec_item){"note",     st->value,  ru->id,
                                                             ru->reason, ru->source, st->line};
                continue;
            }
            tassl_rec_item *it = item_slot(r, st->name);
            if (!it) {
                s = tassl_error(TASSL_ERR_ARG, "%s:%d: more than %d recommended fields and keys",
                                t->origin, st->line, REC_MAX_ITEMS);
                goto fail;
            }
            *it = (tassl_rec_item){st->name, st->value, ru->id, ru->reason, ru->source, st->line};
        }
    }
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!tassl_rec_get(r, required[i])) {
            s = tassl_error(TASSL_ERR_ARG,
                            "%s: no rule sets '%s' for %s %s %dD (add a rule that "
                            "matches every query, e.g. an empty 'when')",
                            t->origin, required[i], q->modality, q->task, q->dims);
            goto fail;
        }
    /* drop what does not apply to the chosen method: a hybrid's members/weights, and keys of
     * methods that are not used (method.<other>.*) */
    const tassl_rec_item *m = tassl_rec_get(r, "method");
    if (strcmp(m->value, "hybrid") != 0) {
        item_drop(r, "members");
        item_drop(r, "weights");
    } else if (!tassl_rec_get(r, "members")) {
        s = tassl_error(TASSL_ERR_ARG,
                        "%s:%d: rule '%s' recommends a hybrid but no rule sets its "
                        "members",
                        t->origin, m->line, m->rule);
        goto fail;
    }
    for (int i = 0; i < r->nitems;) {
        const char *k = r->items[i].name;
        if (strncmp(k, "method.", 7) == 0) {
            const char *seg = k + 7, *dot = strchr(seg, '.');
            size_t len = dot ? (size_t)(dot - seg) : 0;
            if (dot && !(len == 6 && strncmp(seg, "hybrid", 6) == 0) && !method_used(r, seg, len)) {
                item_drop(r, k);
                continue;
            }
        }
        i++;
    }
    /* what the query fixes, and the data */
    char v[64];
    snprintf(v, sizeof v, "%d", q->dims);
    s = computed(r, "model.dims", v, "query", "--dims", "the query");
    if (s == TASSL_OK && q->data) {
        s = computed(r, "data.source", "manifest", "query", "--data", "the query");
        char quoted[600];
        snprintf(quoted, sizeof quoted, "\"%s\"", q->data);
        if (s == TASSL_OK && strpbrk(q->data, "\"\\\n"))
            s = tassl_error(TASSL_ERR_ARG,
                            "--data: '%s': quotes, backslashes and newlines are not "
                            "supported in the path",
                            q->data);
        if (s == TASSL_OK) s = computed(r, "data.path", quoted, "query", "--data", "the query");
    } else if (s == TASSL_OK) {
        s = computed(r, "data.source", "synthetic", "query",
                     "no --data given: seeded phantoms, so the config runs as is (set data.source "
                     "and data.path for real data)",
                     "docs/SSL.md, data sources");
    }
    if (s != TASSL_OK) goto fail;
    /* every item must validate; errors name the rule's line */
    tassl_config *c;
    if ((s = build_config(r, &c)) != TASSL_OK) goto fail;
    tassl_config_free(c);
    if ((s = fit_memory(r)) != TASSL_OK) goto fail;
    /* the warm-up as steps */
    const tassl_rec_item *wu = tassl_rec_get(r, "warmup");
    long long steps = item_int(r, "steps", 1000);
    if (wu) {
        long long w = llround(atof(wu->value) * (double)steps);
        if (w >= steps) w = steps - 1;
        snprintf(v, sizeof v, "%lld", w);
        s = computed(r, "schedule.warmup_steps", v, wu->rule, wu->reason, wu->source);
    }
    if (s == TASSL_OK) {
        long long ck = steps / 10 > 0 ? steps / 10 : 1;
        snprintf(v, sizeof v, "%lld", ck);
        s = computed(r, "train.ckpt_every", v, "recommend", "ten checkpoints over the run",
                     "docs/CONFIG.md, run directories");
    }
    if (s == TASSL_OK) {
        /* the patch and batch go into the configuration under their keys */
        const tassl_rec_item *p = tassl_rec_get(r, "patch"), *b = tassl_rec_get(r, "batch");
        s = computed(r, "data.patch", p->value, p->rule, p->reason, p->source);
        if (s == TASSL_OK)
            s = computed(r, "train.batch_size", b->value, "memory", b->reason, b->source);
    }
    if (s == TASSL_OK && (s = build_config(r, &c)) == TASSL_OK) tassl_config_free(c);
    if (s != TASSL_OK) goto fail;
    free(order);
    *out = r;
    return TASSL_OK;
fail:
    free(order);
    free(r);
    return s;
}

void tassl_recommendation_free(tassl_recommendation *r) {
    free(r);
}

int tassl_rec_note_count(const tassl_recommendation *r) {
    return r->nnotes;
}
const tassl_rec_item *tassl_rec_note_at(const tassl_recommendation *r, int i) {
    return i >= 0 && i < r->nnotes ? &r->notes[i] : NULL;
}
int tassl_rec_matched_count(const tassl_recommendation *r) {
    return r->nmatched;
}
const char *tassl_rec_matched_at(const tassl_recommendation *r, int i) {
    return i >= 0 && i < r->nmatched ? r->matched[i] : NULL;
}
tassl_mem_estimate tassl_rec_memory(const tassl_recommendation *r, double *budget_bytes) {
    if (budget_bytes) *budget_bytes = r->q.memory_bytes;
    return r->mem;
}
