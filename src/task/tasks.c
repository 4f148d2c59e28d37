/* tasks.c — the table of task kinds: task_ops_of(kind) → the vtable the driver runs, and the
 * kind names. Classification is always built; segmentation and detection are referenced only
 * when their files exist (task_kinds.h, written by src/task/meson.build at configure time), so
 * the tree links while they are being written. A static library pulls an object in only for a
 * strong reference, so weak symbols would not do here. */
#include <string.h>
#include "src/task/task_kinds.h" /* generated into the build tree (TASK_HAVE_*) */
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
#if TASK_HAVE_SEGMENTATION
        return &task_segmentation;
#else
        return NULL;
#endif
    case TASSL_TASK_DETECTION:
#if TASK_HAVE_DETECTION
        return &task_detection;
#else
        return NULL;
#endif
    }
    return NULL;
}
