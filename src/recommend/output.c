/* output.c — a recommendation for people (tassl_rec_print: each field, its value, and the reason
 * and source of the rule that set it) and for `tassl pretrain` (tassl_rec_config_yaml: only the
 * keys the recommendation sets, nested by section, each line naming its rule). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rec_result.h"

/* a growing string */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if (b->s && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)w + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

static const char *val(const tassl_recommendation *r, const char *name, const char *def) {
    const tassl_rec_item *it = tassl_rec_get(r, name);
    return it ? it->value : def;
}

static void labels_text(const tassl_recommendation *r, char *buf, size_t len) {
    if (r->q.label_fraction > 0)
        snprintf(buf, len, "%g %% of the labels", 100.0 * r->q.label_fraction);
    else
        snprintf(buf, len, "%lld labelled cases", (long long)r->q.label_count);
}

/* one "why" line per distinct rule among the named items */
static void whys(sbuf *b, const tassl_recommendation *r, const char *const *names, int n,
                 const char *indent) {
    const char *done[16];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        const tassl_rec_item *it = tassl_rec_get(r, names[i]);
        if (!it || !it->rule) continue;
        bool seen = false;
        for (int j = 0; j < nd; j++)
            seen = seen || strcmp(done[j], it->rule) == 0;
        if (seen || nd == 16) continue;
        done[nd++] = it->rule;
        if (it->line > 0)
            sb_printf(b, "%swhy: %s  [rule %s, %s:%d; %s]\n", indent, it->reason, it->rule,
                      r->origin, it->line, it->source);
        else
            sb_printf(b, "%swhy: %s  [%s]\n", indent, it->reason, it->source);
    }
}

static void header(sbuf *b, const tassl_recommendation *r, const char *pre) {
    char lab[64];
    labels_text(r, lab, sizeof lab);
    sb_printf(b, "%s%s %s, %dD, %s, target %s, memory %.2f GB", pre, r->q.modality, r->q.task,
              r->q.dims, lab, r->q.target, r->q.memory_bytes / 1e9);
    if (r->q.unlabelled > 0)
        sb_printf(b, ", %lld %s to pretrain on", (long long)r->q.unlabelled, r->q.dims == 3 ? "volumes" : "images");
    sb_printf(b, "\n");
    sb_printf(b, "%srules: %s (%d matched:", pre, r->origin, r->nmatched);
    for (int i = 0; i < r->nmatched; i++)
        sb_printf(b, " %s", r->matched[i]);
    sb_printf(b, ")\n");
}

static void body(sbuf *b, const tassl_recommendation *r, const char *pre) {
    const char *ind = strlen(pre) ? "#            " : "             ";
    const char *method = val(r, "method", "?");
    sb_printf(b, "%sparadigm     %s\n", pre, val(r, "paradigm", "?"));
    whys(b, r, (const char *[]){"paradigm"}, 1, ind);
    if (strcmp(method, "hybrid") == 0) {
        sb_printf(b, "%smethod       hybrid of %s, weights %s\n", pre, val(r, "members", "?"),
                  val(r, "weights", "[1 each]"));
        whys(b, r, (const char *[]){"method", "members", "weights"}, 3, ind);
    } else {
        sb_printf(b, "%smethod       %s\n", pre, method);
        whys(b, r, (const char *[]){"method"}, 1, ind);
    }
    sb_printf(b, "%saugment      preset %s", pre, val(r, "preset", "?"));
    if (tassl_rec_get(r, "aug_set")) sb_printf(b, ", views %s", val(r, "aug_set", ""));
    sb_printf(b, "\n");
    whys(b, r, (const char *[]){"preset", "aug_set"}, 2, ind);
    const char *arch = val(r, "encoder", "resnet");
    if (strcmp(arch, "resnet") == 0)
        sb_printf(b, "%sencoder      resnet-%s, width %s, %s stem, %s norm, %s channel(s), %dD\n",
                  pre, val(r, "depth", "10"), val(r, "width", "1"), val(r, "stem", "standard"),
                  val(r, "norm", "batch"), val(r, "in_channels", "1"), r->q.dims);
    else
        sb_printf(b, "%sencoder      %s, %s norm, %s channel(s), %dD\n", pre, arch,
                  val(r, "norm", "batch"), val(r, "in_channels", "1"), r->q.dims);
    whys(b, r, (const char *[]){"encoder", "depth", "width", "stem", "norm", "in_channels"}, 6,
         ind);
    const tassl_mem_estimate *m = &r->mem;
    sb_printf(b,
              "%spatch/batch  %s, batch %s (estimated peak %.2f GB: parameters and optimiser "
              "%.2f, activations %.2f, scratch %.2f)\n",
              pre, val(r, "data.patch", "?"), val(r, "train.batch_size", "?"),
              (double)m->total_bytes / 1e9, (double)m->param_bytes / 1e9,
              (double)m->act_bytes / 1e9, (double)m->scratch_bytes / 1e9);
    whys(b, r, (const char *[]){"patch", "batch"}, 2, ind);
    sb_printf(b, "%sschedule     %s lr %s, weight decay %s, %s, warm-up %s of %s steps\n", pre,
              val(r, "optimizer", "sgd"), val(r, "lr", "0.1"), val(r, "weight_decay", "0"),
              val(r, "schedule", "cosine"), val(r, "schedule.warmup_steps", "0"),
              val(r, "steps", "1000"));
    whys(b, r, (const char *[]){"optimizer", "lr", "weight_decay", "schedule", "warmup", "steps"},
         6, ind);
    if (tassl_rec_get(r, "baseline")) {
        sb_printf(b, "%sbaseline     %s\n", pre, val(r, "baseline", ""));
        whys(b, r, (const char *[]){"baseline"}, 1, ind);
    }
    for (int i = 0; i < r->nitems; i++) {
        const tassl_rec_item *it = &r->items[i];
        /* rules' configuration keys only (not computed items, fields or display items) */
        if (it->line == 0 || rec_field_find(it->name) || !strchr(it->name, '.')) continue;
        sb_printf(b, "%skey          %s: %s\n", pre, it->name, it->value);
        whys(b, r, (const char *[]){it->name}, 1, ind);
    }
    if (r->nnotes) sb_printf(b, "%snotes\n", pre);
    for (int i = 0; i < r->nnotes; i++)
        sb_printf(b, "%s  - %s  [rule %s, %s:%d; %s]\n", pre, r->notes[i].value, r->notes[i].rule,
                  r->origin, r->notes[i].line, r->notes[i].source);
}

void tassl_rec_print(const tassl_recommendation *r, FILE *out) {
    sbuf b = {0};
    sb_printf(&b, "Recommendation for ");
    header(&b, r, "");
    sb_printf(&b, "\n");
    body(&b, r, "");
    if (b.s) fputs(b.s, out);
    free(b.s);
}

/* ---- the configuration file ----------------------------------------------------------------- */

static const char *section_order[] = {"method",   "model", "data", "optim",
                                      "schedule", "train", "ssl",  "output"};

/* note text, unquoted for a YAML comment line (no newlines in rules' text) */
char *tassl_rec_config_yaml(const tassl_recommendation *r) {
    sbuf b = {0};
    sb_printf(&b, "# Written by `tassl recommend` for the query:\n");
    header(&b, r, "# ");
    sb_printf(&b, "# Every value below names the rule that set it; the reasons:\n#\n");
    body(&b, r, "# ");
    sb_printf(&b, "#\n# Run: tassl pretrain -c THIS_FILE   (tassl config validate THIS_FILE)\n");
    sb_printf(&b, "seed: 1\n");
    /* sections in a fixed order, then any other first segment in the order met */
    const char *secs[32];
    int nsec = 0;
    for (size_t i = 0; i < sizeof section_order / sizeof section_order[0]; i++)
        secs[nsec++] = section_order[i];
    for (int i = 0; i < r->nitems; i++) {
        const rec_field *f = rec_field_find(r->items[i].name);
        const char *key = f ? f->key : (strchr(r->items[i].name, '.') ? r->items[i].name : NULL);
        if (!key) continue;
        size_t len = (size_t)(strchr(key, '.') - key);
        bool have = false;
        for (int s = 0; s < nsec; s++)
            have = have || (strlen(secs[s]) == len && strncmp(secs[s], key, len) == 0);
        if (!have && nsec < 32) {
            /* point at the key itself: the segment is compared by length below */
            secs[nsec++] = key;
        }
    }
    for (int s = 0; s < nsec; s++) {
        const char *dot = strchr(secs[s], '.');
        size_t len = dot ? (size_t)(dot - secs[s]) : strlen(secs[s]);
        bool opened = false;
        for (int i = 0; i < r->nitems; i++) {
            const tassl_rec_item *it = &r->items[i];
            const rec_field *f = rec_field_find(it->name);
            const char *key = f ? f->key : (strchr(it->name, '.') ? it->name : NULL);
            if (!key || strncmp(key, secs[s], len) != 0 || key[len] != '.') continue;
            if (!opened) sb_printf(&b, "%.*s:\n", (int)len, secs[s]);
            opened = true;
            char line[2400];
            snprintf(line, sizeof line, "  %s: %s", key + len + 1, it->value);
            sb_printf(&b, "%-48s # %s\n", line, it->line > 0 ? it->rule : it->rule);
        }
    }
    /* the downstream task these settings aim at (task.* keys: include/tassl/task.h) */
    bool task_keys =
        tassl_config_key_find("task.kind") && tassl_config_key_find("task.label_fraction");
    bool kind_ok = strcmp(r->q.task, "mixed") != 0;
    const char *c = task_keys ? "" : "# ";
    if (!task_keys)
        sb_printf(&b,
                  "# the downstream task (the task.* keys are not registered in this build):\n");
    if (kind_ok || r->q.label_fraction > 0) sb_printf(&b, "%stask:\n", c);
    if (kind_ok)
        sb_printf(&b, "%s  kind: %s\n", c, r->q.task);
    else
        sb_printf(&b,
                  "# task.kind: several downstream tasks (mixed): set it per fine-tuning run\n");
    if (r->q.label_fraction > 0)
        sb_printf(&b, "%s  label_fraction: %.15g\n", c, r->q.label_fraction);
    else
        sb_printf(&b,
                  "# %lld labelled cases: set task.label_fraction (or task.shots) for your "
                  "dataset\n",
                  (long long)r->q.label_count);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
