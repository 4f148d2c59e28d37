/* schedule.c — learning-rate schedules as pure functions step → lr (linear warmup, then
 * constant / cosine / step / polynomial), and BYOL's EMA momentum schedule. */
#include <math.h>
#include <string.h>
#include "tassl/optim.h"

static const char *const sched_names[] = {"constant", "cosine", "step", "poly"};

const char *tassl_sched_kind_name(tassl_sched_kind kind) {
    return (unsigned)kind < 4 ? sched_names[kind] : "?";
}

tassl_status tassl_sched_kind_parse(const char *name, tassl_sched_kind *out) {
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, sched_names[i]) == 0) {
            *out = (tassl_sched_kind)i;
            return TASSL_OK;
        }
    return tassl_error(TASSL_ERR_ARG, "unknown schedule '%s' (expected constant, cosine, step or "
                       "poly)", name ? name : "(null)");
}

tassl_status tassl_schedule_check(const tassl_schedule *s) {
    const char *k = tassl_sched_kind_name(s->kind);
    if ((unsigned)s->kind > TASSL_SCHED_POLY)
        return tassl_error(TASSL_ERR_ARG, "schedule: unknown kind %d", (int)s->kind);
    if (!(s->base_lr > 0) || !isfinite(s->base_lr))
        return tassl_error(TASSL_ERR_ARG, "schedule %s: base_lr %g must be > 0", k, s->base_lr);
    if (s->warmup_steps < 0)
        return tassl_error(TASSL_ERR_ARG, "schedule %s: warmup_steps %lld must be >= 0", k,
                           (long long)s->warmup_steps);
    if (!(s->warmup_start >= 0 && s->warmup_start <= s->base_lr))
        return tassl_error(TASSL_ERR_ARG, "schedule %s: warmup_start %g must be in [0, base_lr "
                           "%g]", k, s->warmup_start, s->base_lr);
    if (s->kind == TASSL_SCHED_COSINE || s->kind == TASSL_SCHED_POLY) {
        if (s->total_steps <= s->warmup_steps)
            return tassl_error(TASSL_ERR_ARG, "schedule %s: total_steps %lld must be > "
                               "warmup_steps %lld", k, (long long)s->total_steps,
                               (long long)s->warmup_steps);
        if (!(s->min_lr >= 0 && s->min_lr <= s->base_lr))
            return tassl_error(TASSL_ERR_ARG, "schedule %s: min_lr %g must be in [0, base_lr %g]",
                               k, s->min_lr, s->base_lr);
    }
    if (s->kind == TASSL_SCHED_POLY && !(s->power > 0))
        return tassl_error(TASSL_ERR_ARG, "schedule poly: power %g must be > 0", s->power);
    if (s->kind == TASSL_SCHED_STEP) {
        if (!(s->gamma > 0 && s->gamma <= 1))
            return tassl_error(TASSL_ERR_ARG, "schedule step: gamma %g must be in (0, 1]",
                               s->gamma);
        if (s->nmilestones < 0 || s->nmilestones > TASSL_SCHED_MAX_MILESTONES)
            return tassl_error(TASSL_ERR_ARG, "schedule step: %d milestones (at most %d)",
                               s->nmilestones, TASSL_SCHED_MAX_MILESTONES);
        if (s->nmilestones == 0 && s->step_size < 1)
            return tassl_error(TASSL_ERR_ARG, "schedule step: step_size %lld must be >= 1 (or "
                               "give milestones)", (long long)s->step_size);
        for (int i = 1; i < s->nmilestones; i++)
            if (s->milestones[i] <= s->milestones[i - 1])
                return tassl_error(TASSL_ERR_ARG, "schedule step: milestones must ascend (%lld "
                                   "after %lld)", (long long)s->milestones[i],
                                   (long long)s->milestones[i - 1]);
    }
    return TASSL_OK;
}

double tassl_schedule_lr(const tassl_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (step < s->warmup_steps)
        return s->warmup_start +
               (s->base_lr - s->warmup_start) * (double)step / (double)s->warmup_steps;
    double t = 0;
    if (s->total_steps > s->warmup_steps) {
        t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    switch (s->kind) {
    case TASSL_SCHED_COSINE:
        return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * t));
    case TASSL_SCHED_POLY:
        return s->min_lr + (s->base_lr - s->min_lr) * pow(1.0 - t, s->power);
    case TASSL_SCHED_STEP: {
        int64_t k = 0;
        if (s->nmilestones > 0) {
            for (int i = 0; i < s->nmilestones; i++) k += step >= s->milestones[i];
        } else {
            k = (step - s->warmup_steps) / s->step_size;
        }
        return s->base_lr * pow(s->gamma, (double)k);
    }
    default:
        return s->base_lr;
    }
}

double tassl_ema_byol_tau(double tau_base, int64_t k, int64_t total) {
    if (total <= 0) return tau_base;
    if (k < 0) k = 0;
    if (k > total) k = total;
    return 1.0 - (1.0 - tau_base) * (cos(M_PI * (double)k / (double)total) + 1.0) / 2.0;
}
