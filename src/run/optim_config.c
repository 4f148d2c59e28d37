/* optim_config.c — the optimiser and learning-rate schedule a configuration describes (optim.*,
 * schedule.*): one reading of those keys for every driver (tassl train, tassl pretrain, the
 * downstream tasks), so that the same config means the same optimiser everywhere. */
#include <stdio.h>
#include <string.h>
#include "tassl/optim.h"
#include "tassl/run.h"

/* the last error again, prefixed with the key it came from */
static tassl_status keyed(tassl_status s, const char *key) {
    char prev[2048];
    snprintf(prev, sizeof prev, "%s", tassl_last_error());
    return tassl_error(s, "%s: %s", key, prev);
}

tassl_status tassl_optim_from_config(const tassl_config *c, tassl_params *p, int64_t total_steps,
                                     tassl_optim **opt, tassl_schedule *sc) {
    *opt = NULL;
    tassl_optim_kind kind;
    tassl_status s = tassl_optim_kind_parse(tassl_config_str(c, "optim.name"), &kind);
    if (s != TASSL_OK) return keyed(s, "optim.name");
    tassl_optim_config oc = tassl_optim_defaults(kind);
    oc.momentum = tassl_config_float(c, "optim.momentum");
    oc.dampening = tassl_config_float(c, "optim.dampening");
    oc.nesterov = tassl_config_bool(c, "optim.nesterov");
    oc.weight_decay = tassl_config_float(c, "optim.weight_decay");
    if (tassl_config_list_len(c, "optim.betas") != 2)
        return tassl_error(TASSL_ERR_ARG, "optim.betas: expected two values (beta1, beta2), got %d",
                           tassl_config_list_len(c, "optim.betas"));
    oc.beta1 = tassl_config_list_float(c, "optim.betas", 0);
    oc.beta2 = tassl_config_list_float(c, "optim.betas", 1);
    oc.eps = tassl_config_float(c, "optim.eps");
    oc.trust_coef = tassl_config_float(c, "optim.trust_coef");
    oc.no_decay_1d = tassl_config_bool(c, "optim.no_decay_1d");
    char patterns[1024] = "";
    for (int i = 0; i < tassl_config_list_len(c, "optim.no_decay"); i++) {
        const char *pat = tassl_config_list_str(c, "optim.no_decay", i);
        if (strchr(pat, ','))
            return tassl_error(TASSL_ERR_ARG, "optim.no_decay[%d]: '%s' contains a comma", i, pat);
        size_t n = strlen(patterns);
        if (n + strlen(pat) + 2 > sizeof patterns)
            return tassl_error(TASSL_ERR_ARG, "optim.no_decay: the patterns exceed %zu characters",
                               sizeof patterns - 1);
        snprintf(patterns + n, sizeof patterns - n, "%s%s", n ? "," : "", pat);
    }
    oc.no_decay = patterns;

    memset(sc, 0, sizeof *sc);
    if ((s = tassl_sched_kind_parse(tassl_config_str(c, "schedule.name"), &sc->kind)) != TASSL_OK)
        return keyed(s, "schedule.name");
    sc->base_lr = tassl_config_float(c, "optim.lr");
    sc->warmup_steps = tassl_config_int(c, "schedule.warmup_steps");
    sc->warmup_start = tassl_config_float(c, "schedule.warmup_start");
    sc->total_steps = total_steps;
    sc->min_lr = tassl_config_float(c, "schedule.min_lr");
    sc->gamma = tassl_config_float(c, "schedule.gamma");
    sc->step_size = tassl_config_int(c, "schedule.step_size");
    sc->power = tassl_config_float(c, "schedule.power");
    int nm = tassl_config_list_len(c, "schedule.milestones");
    if (nm > TASSL_SCHED_MAX_MILESTONES)
        return tassl_error(TASSL_ERR_ARG, "schedule.milestones: %d given, at most %d", nm,
                           TASSL_SCHED_MAX_MILESTONES);
    sc->nmilestones = nm;
    for (int i = 0; i < nm; i++)
        sc->milestones[i] = tassl_config_list_int(c, "schedule.milestones", i);
    if (sc->kind == TASSL_SCHED_STEP && nm == 0 && sc->step_size == 0)
        return tassl_error(TASSL_ERR_ARG, "schedule.name is step: set schedule.step_size or "
                                          "schedule.milestones");
    if ((s = tassl_schedule_check(sc)) != TASSL_OK) return s;
    /* last: nothing to free on the error paths above */
    return tassl_optim_new(p, &oc, opt);
}
