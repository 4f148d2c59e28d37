/* module.c — a network's view of a parameter set: the entries it declared (name, shape,
 * initialiser, trainable or buffer) and the slots its layers read them from.
 *
 * Networks never keep parameter tensors anywhere else than in their slots, so rebinding the
 * slots (tassl_module_bind) swaps every weight at once for a view of another flat tensor — the
 * functional forward the whole-network gradient checks use. Entries are initialised after
 * tassl_params_finalize, in declaration order, from the context's stream.
 */
#include <stdlib.h>
#include <string.h>
#include "nn_internal.h"

typedef struct entry {
    tassl_tensor *t;     /* the parameter (owned by the tassl_params set) */
    tassl_tensor **slot; /* where the layer reads it; may be NULL */
    tassl_init init;
    bool buffer;
} entry;

struct tassl_module {
    tassl_params *p;
    char *prefix;
    entry *e;
    int n, cap;
};

tassl_module *tassl_module_new(tassl_params *p, const char *prefix) {
    tassl_module *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->p = p;
    m->prefix = strdup(prefix ? prefix : "");
    if (!m->prefix) {
        free(m);
        return NULL;
    }
    return m;
}

void tassl_module_free(tassl_module *m) {
    if (!m) return;
    free(m->prefix);
    free(m->e);
    free(m);
}

tassl_params *tassl_module_params(const tassl_module *m) {
    return m->p;
}
const char *tassl_module_prefix(const tassl_module *m) {
    return m->prefix;
}

char *nn_join(char *buf, const char *a, const char *b) {
    int k = (a && *a) ? snprintf(buf, NN_NAME, "%s.%s", a, b) : snprintf(buf, NN_NAME, "%s", b);
    TASSL_CHECK(k >= 0 && k < NN_NAME, "nn: parameter name %s.%s longer than %d characters",
                a ? a : "", b, NN_NAME - 1);
    return buf;
}

static tassl_tensor *declare(tassl_module *m, tassl_tensor **slot, const char *name, int ndim,
                             const int64_t *shape, tassl_init init, bool buffer) {
    char full[NN_NAME];
    nn_join(full, m->prefix, name);
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 32;
        entry *ne = realloc(m->e, (size_t)cap * sizeof *ne);
        TASSL_CHECK(ne != NULL, "tassl_module: out of host memory declaring %s", full);
        m->e = ne;
        m->cap = cap;
    }
    tassl_tensor *t = buffer ? tassl_params_add_buffer(m->p, full, ndim, shape)
                             : tassl_params_add(m->p, full, ndim, shape);
    m->e[m->n++] = (entry){t, slot, init, buffer};
    if (slot) *slot = t;
    return t;
}

tassl_tensor *tassl_module_param(tassl_module *m, tassl_tensor **slot, const char *name, int ndim,
                                 const int64_t *shape, tassl_init init) {
    return declare(m, slot, name, ndim, shape, init, false);
}

tassl_tensor *tassl_module_buffer(tassl_module *m, tassl_tensor **slot, const char *name, int ndim,
                                  const int64_t *shape, tassl_init init) {
    return declare(m, slot, name, ndim, shape, init, true);
}

tassl_status tassl_module_init(tassl_module *m) {
    for (int i = 0; i < m->n; i++) {
        TASSL_CHECK(m->e[i].t->buf != NULL,
                    "tassl_module_init(%s): the parameter set is not finalized", m->e[i].t->name);
        tassl_status s = tassl_init_apply_(m->e[i].t, &m->e[i].init);
        if (s != TASSL_OK) return s;
    }
    return TASSL_OK;
}

int tassl_module_count(const tassl_module *m) {
    return m->n;
}

tassl_tensor *tassl_module_get(const tassl_module *m, int i) {
    TASSL_CHECK(i >= 0 && i < m->n, "tassl_module_get: index %d of %d", i, m->n);
    return m->e[i].t;
}

const char *tassl_module_name(const tassl_module *m, int i) {
    return tassl_module_get(m, i)->name;
}

bool tassl_module_is_buffer(const tassl_module *m, int i) {
    TASSL_CHECK(i >= 0 && i < m->n, "tassl_module_is_buffer: index %d of %d", i, m->n);
    return m->e[i].buffer;
}

int64_t tassl_module_numel(const tassl_module *m, bool buffers) {
    int64_t n = 0;
    for (int i = 0; i < m->n; i++)
        if (m->e[i].buffer == buffers) n += tassl_numel(m->e[i].t);
    return n;
}

void tassl_module_summary(const tassl_module *m, FILE *out) {
    if (!out) return;
    size_t w = 4;
    for (int i = 0; i < m->n; i++) {
        size_t l = strlen(m->e[i].t->name);
        if (l > w) w = l;
    }
    fprintf(out, "%-*s  %-22s %12s\n", (int)w, "name", "shape", "elements");
    for (int i = 0; i < m->n; i++) {
        char s[64];
        fprintf(out, "%-*s  %-22s %12lld%s\n", (int)w, m->e[i].t->name,
                tassl_shape_str(m->e[i].t, s, sizeof s), (long long)tassl_numel(m->e[i].t),
                m->e[i].buffer ? "  buffer" : "");
    }
    int64_t np = tassl_module_numel(m, false), nb = tassl_module_numel(m, true);
    fprintf(out, "%s: %d entries, %lld trainable parameters (%.2f M), %lld buffer elements\n",
            *m->prefix ? m->prefix : "module", m->n, (long long)np, (double)np / 1e6,
            (long long)nb);
}

void tassl_module_bind(tassl_module *m, tassl_tensor *values) {
    if (values) {
        tassl_tensor *flat = tassl_params_flat(m->p);
        char a[64], b[64];
        TASSL_CHECK(values->ndim == 1 && values->shape[0] == flat->shape[0] &&
                        values->ctx == flat->ctx,
                    "tassl_module_bind: values %s, expected %s like tassl_params_flat()",
                    tassl_shape_str(values, a, 64), tassl_shape_str(flat, b, 64));
    }
    for (int i = 0; i < m->n; i++) {
        entry *e = &m->e[i];
        if (!e->slot) continue;
        if (!values) {
            *e->slot = e->t;
            continue;
        }
        int64_t n = tassl_numel(e->t);
        tassl_tensor *v = tassl_slice(values, 0, e->t->off, e->t->off + n, 1);
        *e->slot = tassl_reshape(v, e->t->ndim, e->t->shape);
    }
}

/* ---- norm kinds ------------------------------------------------------------------------------ */

static const char *const norm_names[] = {"batch", "group", "instance", "layer", "none"};

const char *tassl_norm_kind_name(tassl_norm_kind k) {
    return (unsigned)k < sizeof norm_names / sizeof *norm_names ? norm_names[k] : "?";
}

tassl_status tassl_norm_kind_parse(const char *s, tassl_norm_kind *out) {
    for (int k = 0; k < (int)(sizeof norm_names / sizeof *norm_names); k++)
        if (s && strcmp(s, norm_names[k]) == 0) {
            *out = (tassl_norm_kind)k;
            return TASSL_OK;
        }
    return tassl_error(TASSL_ERR_ARG,
                       "norm \"%s\": expected one of batch, group, instance, layer, none",
                       s ? s : "(null)");
}

tassl_status nn_bad(const char *what, const char *key, long long value, const char *expect) {
    return tassl_error(TASSL_ERR_ARG, "%s: %s is %lld, expected %s", what, key, value, expect);
}
