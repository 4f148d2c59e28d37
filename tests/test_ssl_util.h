/* test_ssl_util.h — helpers of the test programs that run `tassl_pretrain` (include after
 * cmocka.h): a quiet run that fails the test on error, and the losses a run logged. */
#ifndef TASSL_TEST_SSL_UTIL_H
#define TASSL_TEST_SSL_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include "tassl/ssl.h"

/* tassl_pretrain quietly with opts (or defaults); fails the test with the library's message. */
static inline void tassl_test_pretrain_ok(const tassl_config *c, tassl_pretrain_opts *o) {
    tassl_pretrain_opts q = o ? *o : (tassl_pretrain_opts){0};
    q.quiet = true;
    if (tassl_pretrain(c, &q) != TASSL_OK) fail_msg("tassl_pretrain: %s", tassl_last_error());
    if (o) *o = q;
}

/* losses.loss of every metrics.jsonl line, in order; returns the count (at most max). */
static inline int tassl_test_read_losses(const char *path, double *out, int max) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o) fail_msg("%s: %s", path, err.text);
        out[n++] = json_real_value(json_object_get(json_object_get(o, "losses"), "loss"));
        json_decref(o);
    }
    fclose(f);
    return n;
}

#endif
