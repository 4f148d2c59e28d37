/* keys_core.c — configuration keys every run has: device, seed, the run directory (output.*),
 * the training loop (train.*), the method (method.*) and the synthetic data source (data.*).
 * Later layers register their own sections (src/config/sections.c); a new method or data
 * source adds its name to `method.name` / `data.source` with a tassl_cfg_choice. */
#include "cfg.h"

static const tassl_cfg_key keys[] = {
    {"device", TASSL_CFG_STRING, "auto", NULL, NULL,
     "compute device: auto ($TASSL_DEVICE, else GPU, else pocl CPU, else ref), gpu, cpu, ref, "
     "opencl:P:D or an index"},
    {"seed", TASSL_CFG_INT, "1", "[0, 9.2e18]", NULL,
     "random seed: initial weights, data order and augmentations"},

    {"output.dir", TASSL_CFG_STRING, "runs", NULL, NULL, "folder that holds run directories"},
    {"output.name", TASSL_CFG_STRING, "", NULL, NULL,
     "run directory name under output.dir; empty = <date>-<time>-<method.name>"},
    {"output.log_every", TASSL_CFG_INT, "10", "[1, 1e9]", NULL,
     "write a metrics.jsonl line (and a plain progress line) every N steps"},
    {"output.progress", TASSL_CFG_ENUM, "auto", NULL, "auto|bar|lines|none",
     "progress display: auto = a bar on a terminal, plain lines otherwise"},

    {"train.steps", TASSL_CFG_INT, "1000", "[1, 1e12]", NULL, "optimiser steps in the run"},
    {"train.batch_size", TASSL_CFG_INT, "32", "[1, 1048576]", NULL, "samples per step"},
    {"train.accum_steps", TASSL_CFG_INT, "1", "[1, 4096]", NULL,
     "gradient accumulation: micro-batches of batch_size per optimiser step"},
    {"train.eval_every", TASSL_CFG_INT, "0", "[0, 1e12]", NULL,
     "evaluate on the held-out set every N steps (0 = only at the end)"},
    {"train.ckpt_every", TASSL_CFG_INT, "500", "[0, 1e12]", NULL,
     "write a checkpoint every N steps (0 = only at the end; the last step is always saved)"},
    {"train.keep_last", TASSL_CFG_INT, "3", "[1, 1e6]", NULL,
     "checkpoints kept in the run directory (older ones are deleted)"},

    {"method.name", TASSL_CFG_ENUM, "supervised", NULL, "supervised",
     "training method: supervised = classification with labels"},
    {"method.label_smoothing", TASSL_CFG_FLOAT, "0", "[0, 1)", NULL,
     "supervised: label smoothing of the cross-entropy"},

    {"data.source", TASSL_CFG_ENUM, "synthetic", NULL, "synthetic",
     "where images come from: synthetic = generated on the fly from the seed"},
    {"data.synthetic.task", TASSL_CFG_ENUM, "quadrant", NULL, "quadrant",
     "synthetic task: quadrant = which quadrant of a noisy image holds a bright lesion (4 "
     "classes)"},
    {"data.synthetic.image_size", TASSL_CFG_INT, "32", "[8, 4096]", NULL,
     "synthetic image side in pixels"},
    {"data.synthetic.noise", TASSL_CFG_FLOAT, "0.3", "[0, 100]", NULL,
     "standard deviation of the Gaussian noise (lesion peak = 1)"},
    {"data.synthetic.lesion_radius", TASSL_CFG_FLOAT, "0.08", "(0, 1]", NULL,
     "lesion radius (Gaussian sigma) as a fraction of the image side"},
    {"data.synthetic.train_size", TASSL_CFG_INT, "0", "[0, 1e12]", NULL,
     "training set size (0 = a fresh sample for every draw)"},
    {"data.synthetic.val_size", TASSL_CFG_INT, "256", "[1, 1e9]", NULL,
     "held-out samples (disjoint from the training stream)"},
};

const tassl_cfg_section tassl_cfg_section_core = {
    .name = "core",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
};
