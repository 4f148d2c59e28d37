/* methods.c — the table of SSL methods: the built-in ones (one line each below; a method lives
 * in its own file and exports a `const tassl_ssl_method`), plus those registered at run time
 * (tests, plugins); lookup by method.name; registration of every method's config keys. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "ssl_internal.h"

/* Built-in methods, in the order docs/SSL.md lists them. Add one line per method. */
static const tassl_ssl_method *const builtin[] = {
    &tassl_ssl_simclr,
    &tassl_ssl_moco,
    &tassl_ssl_byol,
    &tassl_ssl_simsiam,
    &tassl_ssl_barlow,
    &tassl_ssl_vicreg,
    &tassl_ssl_rotation,
    &tassl_ssl_jigsaw,
    &tassl_ssl_rpl,
    &tassl_ssl_denoising,
    &tassl_ssl_inpainting,
    &tassl_ssl_genesis,
    &tassl_ssl_simmim,
    &tassl_ssl_mae,
    &tassl_ssl_anomaly,
};
#define NBUILTIN ((int)(sizeof builtin / sizeof builtin[0]))
#define MAX_EXTRA 32

static const tassl_ssl_method *extra[MAX_EXTRA];
static int nextra;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int tassl_ssl_method_count(void) {
    return NBUILTIN + nextra;
}

const tassl_ssl_method *tassl_ssl_method_at(int i) {
    if (i < 0 || i >= tassl_ssl_method_count()) return NULL;
    return i < NBUILTIN ? builtin[i] : extra[i - NBUILTIN];
}

const tassl_ssl_method *tassl_ssl_method_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < tassl_ssl_method_count(); i++)
        if (strcmp(tassl_ssl_method_at(i)->name, name) == 0) return tassl_ssl_method_at(i);
    return NULL;
}

/* A section is registered when its first key (or, keyless, its first choice) is known. */
static bool section_known(const tassl_cfg_section *sec) {
    if (sec->nkeys > 0) return tassl_config_key_find(sec->keys[0].name) != NULL;
    if (sec->nchoices > 0) {
        const tassl_cfg_key *k = tassl_config_key_find(sec->choices[0].key);
        if (!k) return false;
        const char *all = tassl_config_key_choices(k), *v = sec->choices[0].value;
        size_t n = strlen(v);
        for (const char *p = all; p && *p;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, v, n) == 0) return true;
            p = bar ? bar + 1 : NULL;
        }
    }
    return false;
}

static tassl_status register_section(const tassl_cfg_section *sec) {
    if (!sec || section_known(sec)) return TASSL_OK;
    return tassl_config_register(sec);
}

tassl_status tassl_ssl_register_config(void) {
    pthread_mutex_lock(&lock);
    tassl_status s = register_section(&tassl_cfg_section_ssl);
    for (int i = 0; s == TASSL_OK && i < tassl_ssl_method_count(); i++)
        s = register_section(tassl_ssl_method_at(i)->keys);
    pthread_mutex_unlock(&lock);
    return s;
}

tassl_status tassl_ssl_method_register(const tassl_ssl_method *m) {
    if (!m || !m->name || !*m->name)
        return tassl_error(TASSL_ERR_ARG, "ssl: a method needs a name");
    if (!m->create || !m->init || !m->loss || !m->destroy)
        return tassl_error(TASSL_ERR_ARG,
                           "ssl method %s: create, init, loss and destroy are required", m->name);
    if (strcmp(m->name, "hybrid") == 0 || strcmp(m->name, "supervised") == 0)
        return tassl_error(TASSL_ERR_ARG, "ssl method %s: the name is reserved", m->name);
    pthread_mutex_lock(&lock);
    tassl_status s = TASSL_OK;
    for (int i = 0; i < tassl_ssl_method_count(); i++)
        if (strcmp(tassl_ssl_method_at(i)->name, m->name) == 0)
            s = tassl_error(TASSL_ERR_ARG, "ssl method %s: already registered", m->name);
    if (s == TASSL_OK && nextra == MAX_EXTRA)
        s = tassl_error(TASSL_ERR_ARG, "ssl method %s: at most %d methods can be added", m->name,
                        MAX_EXTRA);
    if (s == TASSL_OK) s = register_section(m->keys);
    if (s == TASSL_OK) extra[nextra++] = m;
    pthread_mutex_unlock(&lock);
    return s;
}

char *tassl_ssl_name(char *buf, size_t len, const char *prefix, const char *name) {
    int k = snprintf(buf, len, "%s%s", prefix ? prefix : "", name);
    TASSL_CHECK(k >= 0 && (size_t)k < len, "ssl: name %s%s longer than %zu characters",
                prefix ? prefix : "", name, len - 1);
    return buf;
}

tassl_status ssl_wrap(tassl_status s, const char *fmt, ...) {
    char prev[2048], pre[512];
    snprintf(prev, sizeof prev, "%s", tassl_last_error());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    return tassl_error(s, "%s: %s", pre, prev);
}
