/* keys_optim.c — configuration keys of the optimiser (optim.*) and of the learning-rate schedule
 * (schedule.*). */
#include "cfg.h"

static const tassl_cfg_key keys[] = {
    {"optim.name", TASSL_CFG_ENUM, "sgd", NULL, "sgd|adamw|lars", "optimiser"},
    {"optim.lr", TASSL_CFG_FLOAT, "0.1", "(0, 1000]", NULL,
     "peak learning rate (after warmup, before decay)"},
    {"optim.momentum", TASSL_CFG_FLOAT, "0.9", "[0, 1)", NULL, "sgd/lars: momentum (0 = none)"},
    {"optim.dampening", TASSL_CFG_FLOAT, "0", "[0, 1)", NULL, "sgd/lars: momentum dampening"},
    {"optim.nesterov", TASSL_CFG_BOOL, "false", NULL, NULL,
     "sgd/lars: Nesterov momentum (needs momentum > 0, dampening 0)"},
    {"optim.weight_decay", TASSL_CFG_FLOAT, "0", "[0, 10]", NULL,
     "weight decay: decoupled for adamw, L2 added to the gradient for sgd/lars"},
    {"optim.betas", TASSL_CFG_FLOAT_LIST, "[0.9, 0.999]", "[0, 1)", NULL, "adamw: beta1, beta2"},
    {"optim.eps", TASSL_CFG_FLOAT, "1e-8", "(0, 1)", NULL, "adamw: epsilon"},
    {"optim.trust_coef", TASSL_CFG_FLOAT, "0.001", "(0, 1]", NULL, "lars: trust coefficient eta"},
    {"optim.no_decay", TASSL_CFG_STRING_LIST, "[]", NULL, NULL,
     "parameter-name patterns (substring, or fnmatch glob with * ? [) with no weight decay and "
     "no LARS adaptation"},
    {"optim.no_decay_1d", TASSL_CFG_BOOL, "true", NULL, NULL,
     "also exclude every 1-D parameter (biases, norm scales) from weight decay and LARS"},
    {"optim.grad_clip", TASSL_CFG_FLOAT, "0", "[0, 1e9]", NULL,
     "clip gradients to this global L2 norm (0 = off)"},

    {"schedule.name", TASSL_CFG_ENUM, "cosine", NULL, "constant|cosine|step|poly",
     "learning-rate schedule after warmup (horizon: train.steps)"},
    {"schedule.warmup_steps", TASSL_CFG_INT, "0", "[0, 1e12]", NULL,
     "linear warmup from schedule.warmup_start to optim.lr over this many steps"},
    {"schedule.warmup_start", TASSL_CFG_FLOAT, "0", "[0, 1000]", NULL,
     "learning rate at step 0 of the warmup"},
    {"schedule.min_lr", TASSL_CFG_FLOAT, "0", "[0, 1000]", NULL,
     "cosine/poly: learning rate reached at the last step"},
    {"schedule.step_size", TASSL_CFG_INT, "0", "[0, 1e12]", NULL,
     "step: multiply by gamma every N steps after warmup (when no milestones are given)"},
    {"schedule.milestones", TASSL_CFG_INT_LIST, "[]", "[1, 1e12]", NULL,
     "step: multiply the learning rate by gamma at each of these steps (at most 8, ascending)"},
    {"schedule.gamma", TASSL_CFG_FLOAT, "0.1", "(0, 1]", NULL, "step: decay factor"},
    {"schedule.power", TASSL_CFG_FLOAT, "1", "(0, 100]", NULL, "poly: exponent"},
};

const tassl_cfg_section tassl_cfg_section_optim = {
    .name = "optim",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
};
