/* test_util.h — helpers shared by the test programs. */
#ifndef TASSL_TEST_UTIL_H
#define TASSL_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tassl/device.h"

/* The device spec tests run on: $TASSL_TEST_DEVICE, else the OpenCL CPU device (pocl) if one
 * opens, else the C reference. */
static inline void tassl_test_device_spec(char *buf, size_t len) {
    const char *env = getenv("TASSL_TEST_DEVICE");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return;
    }
    tassl_device *d;
    bool cpu = tassl_device_open("cpu", &d) == TASSL_OK;
    if (cpu) tassl_device_free(d);
    snprintf(buf, len, "%s", cpu ? "cpu" : "ref");
}

/* Learning tests (dozens of training steps, asserting that a loss falls or that features beat
 * random initialisation) run in the normal test run on the OpenCL device. The sanitizer run
 * (tools/check sets TASSL_TEST_QUICK=1, reference backend, -O0) checks memory safety, which the
 * short tests cover on the same code paths; there the learning tests are skipped, or they would
 * take most of CI's time. */
static inline int tassl_test_quick(void) {
    const char *q = getenv("TASSL_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}
#define TASSL_SKIP_LEARNING_IF_QUICK()                                                           \
    do {                                                                                         \
        if (tassl_test_quick()) {                                                                \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

/* The tassl executable: $TASSL_EXE, else the one beside the test's folder (build/tests/test_x →
 * build/tassl). */
static inline const char *tassl_exe(void) {
    static char path[1024];
    const char *e = getenv("TASSL_EXE");
    if (e) return e;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    if (n <= 0) return "tassl";
    path[n] = 0;
    char *slash = strrchr(path, '/');
    *slash = 0;
    slash = strrchr(path, '/');
    snprintf(slash, sizeof path - (size_t)(slash - path), "/tassl");
    return path;
}

#endif
