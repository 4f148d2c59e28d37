/* tasks.c — the table of task kinds: task_ops_of(kind) → the vtable the driver runs, and the
 * kind names. */
#include <string.h>
#include "task_internal.h"

static const char *const kind_names[] = {"classification", "segmentation", "detection"};

const char *tassl_task_kind_name(tassl_task_kind k) {
    return (unsigned)k <= TASSL_TASK_DETECTION ? kind_names[k] : "?";
}

const task_ops *task_ops_of(tassl_task_kind k) {
    switch (k) {
    case TASSL_TASK_CLASSIFICATION:
        return &task_classification;
    case TASSL_TASK_SEGMENTATION:
        return &task_segmentation;
    case TASSL_TASK_DETECTION:
        return &task_detection;
    }
    return NULL;
}
