/* result.c — the named results of one evaluation (tassl_task_result) and their file, eval.json
 * (docs/PROTOCOL.md): written atomically with jansson, non-finite values as null, read back with
 * every field checked (a missing or mistyped field is a TASSL_ERR_FORMAT naming the file and the
 * field). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ckpt/internal.h" /* tassl_atomic_*: temp file, fsync, rename */
#include "task_internal.h"

tassl_finetune_opts tassl_finetune_opts_default(void) {
    return (tassl_finetune_opts){.write_predictions = true};
}

tassl_status tassl_task_result_set(tassl_task_result *r, const char *name, double value) {
    if (!name || !*name || strlen(name) >= sizeof r->name[0])
        return tassl_error(TASSL_ERR_ARG, "task result: metric name '%s' (1 to %zu characters)",
                           name ? name : "(null)", sizeof r->name[0] - 1);
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0) {
            r->value[i] = value;
            return TASSL_OK;
        }
    if (r->n >= TASSL_TASK_MAX_METRICS)
        return tassl_error(TASSL_ERR_ARG, "task result: more than %d metrics (adding '%s')",
                           TASSL_TASK_MAX_METRICS, name);
    snprintf(r->name[r->n], sizeof r->name[0], "%s", name);
    r->value[r->n++] = value;
    return TASSL_OK;
}

double tassl_task_result_get(const tassl_task_result *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0) return r->value[i];
    return NAN;
}

static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

tassl_status tassl_task_result_write(const tassl_task_result *r, const char *path) {
    json_t *o = json_object(), *m = json_object();
    if (!o || !m) {
        json_decref(o), json_decref(m);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    }
    json_object_set_new(o, "split", json_string(r->split));
    json_object_set_new(o, "samples", json_integer(r->samples));
    json_object_set_new(o, "primary", json_string(r->primary));
    json_object_set_new(o, "train_labelled", json_integer(r->train_labelled));
    json_object_set_new(o, "train_s", num(r->train_s));
    json_object_set_new(o, "eval_s", num(r->eval_s));
    json_object_set_new(o, "mem_peak_bytes", json_integer((json_int_t)r->mem_peak_bytes));
    for (int i = 0; i < r->n; i++)
        json_object_set_new(m, r->name[i], num(r->value[i]));
    json_object_set_new(o, "metrics", m);
    /* 17 significant digits: a value read back is the same double */
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text) return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    tassl_atomic_file af;
    tassl_status s = tassl_atomic_open(path, &af);
    if (s == TASSL_OK) {
        if (fputs(text, af.f) < 0 || fputc('\n', af.f) < 0) {
            tassl_atomic_abort(&af);
            s = tassl_error(TASSL_ERR_IO, "%s: write failed", path);
        } else {
            s = tassl_atomic_commit(&af);
        }
    }
    free(text);
    return s;
}

/* a number or null (NaN) */
static tassl_status get_num(json_t *v, const char *path, const char *field, double *out) {
    if (json_is_null(v)) {
        *out = NAN;
        return TASSL_OK;
    }
    if (!json_is_number(v))
        return tassl_error(TASSL_ERR_FORMAT, "%s: \"%s\" is not a number or null", path, field);
    *out = json_number_value(v);
    return TASSL_OK;
}

tassl_status tassl_task_result_read(tassl_task_result *r, const char *path) {
    memset(r, 0, sizeof *r);
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!o) {
        FILE *f = fopen(path, "r");
        if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot be read", path);
        fclose(f);
        return tassl_error(TASSL_ERR_FORMAT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    tassl_status s = TASSL_OK;
    json_t *split = json_object_get(o, "split"), *prim = json_object_get(o, "primary");
    json_t *samples = json_object_get(o, "samples"), *m = json_object_get(o, "metrics");
    if (!json_is_object(o))
        s = tassl_error(TASSL_ERR_FORMAT, "%s: not a JSON object", path);
    else if (!json_is_string(split) || strlen(json_string_value(split)) >= sizeof r->split)
        s = tassl_error(TASSL_ERR_FORMAT, "%s: \"split\" missing or not a short string", path);
    else if (!json_is_string(prim) || strlen(json_string_value(prim)) >= sizeof r->primary)
        s = tassl_error(TASSL_ERR_FORMAT, "%s: \"primary\" missing or not a metric name", path);
    else if (!json_is_integer(samples))
        s = tassl_error(TASSL_ERR_FORMAT, "%s: \"samples\" missing or not an integer", path);
    else if (!json_is_object(m))
        s = tassl_error(TASSL_ERR_FORMAT, "%s: \"metrics\" missing or not an object", path);
    if (s == TASSL_OK) {
        snprintf(r->split, sizeof r->split, "%s", json_string_value(split));
        snprintf(r->primary, sizeof r->primary, "%s", json_string_value(prim));
        r->samples = json_integer_value(samples);
        json_t *v;
        if ((v = json_object_get(o, "train_labelled")) && json_is_integer(v))
            r->train_labelled = json_integer_value(v);
        if ((v = json_object_get(o, "mem_peak_bytes")) && json_is_integer(v))
            r->mem_peak_bytes = (uint64_t)json_integer_value(v);
        r->train_s = r->eval_s = NAN;
        if ((v = json_object_get(o, "train_s"))) s = get_num(v, path, "train_s", &r->train_s);
        if (s == TASSL_OK && (v = json_object_get(o, "eval_s")))
            s = get_num(v, path, "eval_s", &r->eval_s);
        const char *key;
        json_object_foreach(m, key, v) {
            if (s != TASSL_OK) break;
            double x = NAN;
            char field[96];
            snprintf(field, sizeof field, "metrics.%s", key);
            if ((s = get_num(v, path, field, &x)) != TASSL_OK) break;
            if ((s = tassl_task_result_set(r, key, x)) != TASSL_OK)
                s = tassl_error(TASSL_ERR_FORMAT, "%s: %s", path, tassl_last_error());
        }
    }
    json_decref(o);
    if (s != TASSL_OK) memset(r, 0, sizeof *r);
    return s;
}
