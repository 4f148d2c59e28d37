/* keys.c — the task.* configuration section of the downstream tasks (docs/TASKS.md): which task
 * and protocol, where the encoder comes from, the labelled subset, the evaluation split, the
 * training augmentation and the kNN protocol's parameters. Registered by tassl_finetune and
 * tassl_task_evaluate (tassl_task_register_config) together with the pretraining framework's keys,
 * whose model.* and data.* a finetune configuration shares. */
#include <pthread.h>
#include "task_internal.h"

static const tassl_cfg_key keys[] = {
    {"task.kind", TASSL_CFG_ENUM, "classification", NULL, "classification|segmentation|detection",
     "downstream task"},
    {"task.protocol", TASSL_CFG_ENUM, "finetune", NULL, "finetune|linear|knn|frozen",
     "finetune = encoder + head end to end; linear = a linear head on frozen features; knn = "
     "k nearest neighbours of frozen features; frozen = only the head trains (any task)"},
    {"task.init", TASSL_CFG_STRING, "", NULL, NULL,
     "encoder initialisation: empty = scratch (seeded random), else a checkpoint file or a run "
     "directory (its newest checkpoint) whose encoder.* are loaded"},
    {"task.encoder_lr_mult", TASSL_CFG_FLOAT, "1", "[0, 1e6]", NULL,
     "finetune: the encoder's learning rate is optim.lr times this (0 freezes it)"},
    {"task.label_fraction", TASSL_CFG_FLOAT, "1", "(0, 1]", NULL,
     "fraction of the training subjects whose labels are used (subject-level, stratified)"},
    {"task.shots", TASSL_CFG_INT, "0", "[0, 1e9]", NULL,
     "> 0: k labelled subjects per class instead of a fraction"},
    {"task.label_seed", TASSL_CFG_INT, "0", "[0, 9.2e18]", NULL,
     "seed of the labelled-subset sampler (the same subset for every init and run seed)"},
    {"task.eval_split", TASSL_CFG_ENUM, "test", NULL, "val|test",
     "manifest split evaluated at the end of the run"},
    {"task.num_classes", TASSL_CFG_INT, "0", "[0, 1000000]", NULL,
     "classes of the task (0 = from the data: labels, mask values or box classes)"},
    {"task.aug", TASSL_CFG_ENUM, "mild", NULL, "none|mild",
     "training augmentation: none = normalisation only; mild = normalisation, the preset's "
     "flips and light intensity jitter"},
    {"task.aug_set", TASSL_CFG_STRING_LIST, "[]", NULL, NULL,
     "augmentation fields overriding task.aug for training, as \"field=value\" (augment.h)"},
    {"task.knn.k", TASSL_CFG_INT, "20", "[1, 1e6]", NULL, "knn: neighbours"},
    {"task.knn.temperature", TASSL_CFG_FLOAT, "0.07", "(0, 1e6]", NULL,
     "knn: vote weight exp(cosine / T)"},
};

static const tassl_cfg_section section = {
    .name = "task",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool registered;

tassl_status tassl_task_register_config(void) {
    tassl_status s = tassl_ssl_register_config();
    if (s != TASSL_OK) return s;
    pthread_mutex_lock(&lock);
    if (!registered && tassl_config_key_find("task.kind")) registered = true;
    if (!registered) {
        s = tassl_config_register(&section);
        /* each built task kind's own keys (task.seg.*, task.det.*) */
        for (int k = 0; s == TASSL_OK && k <= TASSL_TASK_DETECTION; k++) {
            const task_ops *ops = task_ops_of((tassl_task_kind)k);
            if (ops && ops->keys && !tassl_config_key_find(ops->keys->keys[0].name))
                s = tassl_config_register(ops->keys);
        }
        registered = s == TASSL_OK;
    }
    pthread_mutex_unlock(&lock);
    return s;
}
