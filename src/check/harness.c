/* harness.c — runs self-check cases: device vs reference (outputs and gradients, with NaN-filled
 * outputs and guard regions), then finite-difference gradients on the reference backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#define FD_SAMPLES 16

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int64_t prod(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Host inputs of a case, deterministic in the case name. */
static float *make_input(const tassl_check_case *c, int k, uint64_t seed) {
    int64_t n = prod(c->shape[k], c->ndim[k]);
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) return NULL;
    uint64_t s = seed + 7919u * (uint64_t)(k + 1);
    for (int64_t i = 0; i < n; i++) {
        float u = tassl_philox_uniform(s, (uint64_t)i);
        switch (c->domain[k]) {
        case TASSL_DOM_NORMAL: x[i] = tassl_philox_normal(s, (uint64_t)i); break;
        case TASSL_DOM_POS: x[i] = 0.5f + 1.5f * u; break;
        case TASSL_DOM_UNIT: x[i] = u; break;
        case TASSL_DOM_LABELS: x[i] = floorf(u * (float)(c->labels > 0 ? c->labels : 2)); break;
        case TASSL_DOM_SPREAD: x[i] = (float)i; break;
        }
    }
    if (c->domain[k] == TASSL_DOM_SPREAD) {
        /* a seeded shuffle of a grid 0.05 apart: no ties, and a finite-difference step below
         * half the spacing never changes which element is the maximum */
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(tassl_philox_u32(s, (uint64_t)i) % (uint64_t)(i + 1));
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
        for (int64_t i = 0; i < n; i++) x[i] = (x[i] - (float)n / 2) * 0.05f;
    }
    return x;
}

typedef struct run_out {
    float *y;
    int64_t ny;
    int ydim;
    int64_t yshape[TASSL_MAX_DIMS];
    float *grad[TASSL_CHECK_MAX_IN];
} run_out;

static void run_out_free(run_out *r) {
    free(r->y);
    for (int k = 0; k < TASSL_CHECK_MAX_IN; k++) free(r->grad[k]);
    memset(r, 0, sizeof *r);
}

static int wants_grad(const tassl_check_case *c, int k) {
    return c->domain[k] != TASSL_DOM_LABELS && !(c->nograd & (1u << k));
}

/* Run the case once on dev. loss (if not NULL) gets Σ y·g in double; with backward, the input
 * gradients of d(Σ y·g)/d(input) are read too. */
static int run_case(const tassl_check_case *c, tassl_device *dev, float *const *inputs,
                    const float *g, int backward, uint64_t seed, run_out *out, double *loss,
                    char *msg, size_t msglen) {
    memset(out, 0, sizeof *out);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    if (!ctx) {
        snprintf(msg, msglen, "out of memory");
        return 0;
    }
    tassl_rng_seed(ctx, seed);
    int ok = 1;
    tassl_scope_begin(ctx);
    tassl_tensor *in[TASSL_CHECK_MAX_IN] = {0};
    for (int k = 0; k < c->nin; k++) {
        in[k] = tassl_from_host(ctx, c->ndim[k], c->shape[k], inputs[k]);
        if (backward && wants_grad(c, k)) tassl_requires_grad_(in[k], true);
    }
    if (!backward) tassl_no_grad_begin(ctx);
    tassl_tensor *y = c->fn(in, c);
    if (!backward) tassl_no_grad_end(ctx);
    out->ny = tassl_numel(y);
    out->ydim = y->ndim;
    memcpy(out->yshape, y->shape, sizeof out->yshape);
    out->y = malloc((size_t)(out->ny > 0 ? out->ny : 1) * sizeof(float));
    if (out->y && tassl_tensor_read(y, out->y) == TASSL_OK && loss && g) {
        double l = 0;
        for (int64_t i = 0; i < out->ny; i++) l += (double)out->y[i] * g[i];
        *loss = l;
    }
    if (backward && tassl_ctx_status(ctx) == TASSL_OK && y->requires_grad) {
        tassl_tensor *gt = tassl_from_host(ctx, y->ndim, y->shape, g);
        tassl_backward_with(y, gt);
        for (int k = 0; k < c->nin; k++) {
            if (!wants_grad(c, k)) continue;
            int64_t n = prod(c->shape[k], c->ndim[k]);
            out->grad[k] = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
            if (out->grad[k] && in[k]->grad) tassl_tensor_read(in[k]->grad, out->grad[k]);
        }
    }
    tassl_scope_end(ctx); /* guard regions are verified here */
    if (tassl_ctx_status(ctx) != TASSL_OK) {
        snprintf(msg, msglen, "%s on %s: %s", tassl_status_name(tassl_ctx_status(ctx)),
                 tassl_device_get_info(dev)->name, tassl_ctx_error_message(ctx));
        ok = 0;
    }
    tassl_ctx_free(ctx);
    if (!out->y) ok = 0;
    return ok;
}

/* max |a − b| / max(max |b|, 1e-6); infinite if NaN/Inf disagree */
static double rel_err(const float *a, const float *b, int64_t n) {
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(b[i]) || (!isfinite(b[i]) && a[i] != b[i])) return INFINITY;
        if (!isfinite(b[i])) continue;
        double d = fabs((double)a[i] - b[i]);
        if (d > md) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-6 ? mb : 1e-6);
}

static int compare_device(const tassl_check_case *c, tassl_device *dev, tassl_device *ref,
                          float *const *inputs, const float *g, uint64_t seed,
                          tassl_check_result *res) {
    run_out r, d;
    char msg[512] = "";
    float tol = c->tol > 0 ? c->tol : 1e-4f;
    int ok = run_case(c, ref, inputs, g, 1, seed, &r, NULL, msg, sizeof msg);
    if (!ok) {
        snprintf(res->msg, sizeof res->msg, "reference run failed: %s", msg);
        run_out_free(&r);
        return 0;
    }
    ok = run_case(c, dev, inputs, g, 1, seed, &d, NULL, msg, sizeof msg);
    if (!ok) {
        snprintf(res->msg, sizeof res->msg, "device run failed: %s", msg);
    } else {
        res->out_err = rel_err(d.y, r.y, r.ny);
        for (int k = 0; k < c->nin; k++)
            if (r.grad[k] && d.grad[k]) {
                double e = rel_err(d.grad[k], r.grad[k], prod(c->shape[k], c->ndim[k]));
                if (e > res->grad_err) res->grad_err = e;
            }
        if (!(res->out_err <= tol) || !(res->grad_err <= tol)) {
            snprintf(res->msg, sizeof res->msg,
                     "device vs reference: output error %.3g, gradient error %.3g (tolerance %.3g)",
                     res->out_err, res->grad_err, tol);
            ok = 0;
        }
    }
    run_out_free(&r);
    run_out_free(&d);
    return ok;
}

/* Central differences of L = Σ y·g on ref for FD_SAMPLES elements of each differentiable input. */
static int grad_check(const tassl_check_case *c, tassl_device *ref, float *const *inputs,
                      const float *g, uint64_t seed, tassl_check_result *res) {
    run_out base;
    char msg[512] = "";
    if (!run_case(c, ref, inputs, g, 1, seed, &base, NULL, msg, sizeof msg)) {
        snprintf(res->msg, sizeof res->msg, "reference run failed: %s", msg);
        run_out_free(&base);
        return 0;
    }
    float eps = c->eps > 0 ? c->eps : 1e-2f, gtol = c->gtol > 0 ? c->gtol : 2e-2f;
    int ok = 1;
    for (int k = 0; k < c->nin && ok; k++) {
        if (!base.grad[k]) continue;
        int64_t n = prod(c->shape[k], c->ndim[k]);
        double gmax = 0;
        for (int64_t i = 0; i < n; i++)
            if (fabs(base.grad[k][i]) > gmax) gmax = fabs(base.grad[k][i]);
        for (int s = 0; s < FD_SAMPLES && s < n && ok; s++) {
            int64_t i = n <= FD_SAMPLES ? s : (int64_t)(tassl_philox_u32(seed ^ 0xfdu, (uint64_t)(s + 64 * k)) % (uint64_t)n);
            float x0 = inputs[k][i];
            double lp = 0, lm = 0;
            run_out o;
            inputs[k][i] = x0 + eps;
            int r1 = run_case(c, ref, inputs, g, 0, seed, &o, &lp, msg, sizeof msg);
            run_out_free(&o);
            inputs[k][i] = x0 - eps;
            int r2 = run_case(c, ref, inputs, g, 0, seed, &o, &lm, msg, sizeof msg);
            run_out_free(&o);
            inputs[k][i] = x0;
            if (!r1 || !r2) {
                snprintf(res->msg, sizeof res->msg, "finite-difference run failed: %s", msg);
                ok = 0;
                break;
            }
            /* the perturbation is what float actually represents: (x0+eps) − (x0−eps) */
            double h = (double)(x0 + eps) - (double)(x0 - eps);
            double num = (lp - lm) / h, ana = base.grad[k][i];
            double scale = fmax(fmax(fabs(num), fabs(ana)), fmax(1e-1 * gmax, 1e-3));
            double e = fabs(num - ana) / scale;
            if (e > res->fd_err) res->fd_err = e;
            if (!(e <= gtol)) {
                snprintf(res->msg, sizeof res->msg,
                         "gradient check: input %d element %lld: analytic %.6g, numeric %.6g "
                         "(error %.3g > %.3g)",
                         k, (long long)i, ana, num, e, gtol);
                ok = 0;
            }
        }
    }
    run_out_free(&base);
    return ok;
}

int tassl_check_run(const tassl_check_case *c, tassl_device *dev, tassl_device *ref,
                    tassl_check_result *res) {
    memset(res, 0, sizeof *res);
    uint64_t seed = fnv1a(c->name);
    float *inputs[TASSL_CHECK_MAX_IN] = {0};
    float *g = NULL;
    int ok = 1;
    for (int k = 0; k < c->nin && ok; k++) ok = (inputs[k] = make_input(c, k, seed)) != NULL;
    /* probe the output size with a forward run on ref, then draw the upstream gradient */
    run_out probe;
    char msg[512] = "";
    if (ok && !run_case(c, ref, inputs, NULL, 0, seed, &probe, NULL, msg, sizeof msg)) {
        snprintf(res->msg, sizeof res->msg, "reference run failed: %s", msg);
        ok = 0;
    }
    if (ok) {
        g = malloc((size_t)(probe.ny > 0 ? probe.ny : 1) * sizeof *g);
        for (int64_t i = 0; g && i < probe.ny; i++)
            g[i] = tassl_philox_normal(seed ^ 0x9e3779b97f4a7c15ull, (uint64_t)i);
        ok = g != NULL;
    }
    run_out_free(&probe);
    int dev_is_ref = tassl_device_get_info(dev)->backend == TASSL_BACKEND_REF;
    res->skipped_device = dev_is_ref;
    if (ok && !dev_is_ref) {
        tassl_device_set_debug(dev, 1);
        tassl_device_set_debug(ref, 1);
        ok = compare_device(c, dev, ref, inputs, g, seed, res);
        tassl_device_set_debug(dev, 0);
    }
    if (ok) {
        tassl_device_set_debug(ref, 1); /* NaN fill + guards on the reference too */
        ok = grad_check(c, ref, inputs, g, seed, res);
        tassl_device_set_debug(ref, 0);
    }
    for (int k = 0; k < c->nin; k++) free(inputs[k]);
    free(g);
    return ok;
}

int tassl_check_all(tassl_device *dev, tassl_device *ref, const char *filter, void *out_) {
    FILE *out = out_;
    int passed = 0, failed = 0;
    for (int t = 0; t < tassl_check_ntables; t++) {
        const tassl_check_table *tab = tassl_check_tables[t];
        for (int i = 0; i < tab->count; i++) {
            const tassl_check_case *c = &tab->cases[i];
            if (filter && !strstr(c->name, filter) && !strstr(tab->family, filter)) continue;
            tassl_check_result r;
            int ok = tassl_check_run(c, dev, ref, &r);
            if (ok) passed++;
            else failed++;
            if (out) {
                if (ok)
                    fprintf(out, "ok    %-8s %-34s out %.1e  grad %.1e  fd %.1e\n", tab->family,
                            c->name, r.out_err, r.grad_err, r.fd_err);
                else
                    fprintf(out, "FAIL  %-8s %-34s %s\n", tab->family, c->name, r.msg);
                fflush(out);
            }
        }
    }
    if (out) fprintf(out, "%d passed, %d failed\n", passed, failed);
    return failed;
}
