/* test_util.h — helpers shared by the test programs. */
#ifndef TASSL_TEST_UTIL_H
#define TASSL_TEST_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tassl/config.h"
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

/* Group setup of the programs that write run directories: mkdtemp(root) (a "..._XXXXXX"
 * template), the device spec as tassl_test_device_spec gives it, one "# device" line. 0 / -1. */
static inline int tassl_test_tmp_setup(char *root, char *device, size_t len) {
    if (!mkdtemp(root)) return -1;
    tassl_test_device_spec(device, len);
    printf("# device %s, run directories under %s\n", device, root);
    return 0;
}

/* Group teardown: rm -rf DIR. 0 / -1. */
static inline int tassl_test_rm_rf(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A loaded test configuration pointed at the test's device and run folder: device=DEVICE,
 * output.dir=DIR, output.name=NAME, then the NULL-terminated "key=value" overrides of ap.
 * TASSL_OK, or the first failing setting's status (tassl_last_error names it). */
static inline tassl_status tassl_test_config_point(tassl_config *c, const char *device,
                                                   const char *dir, const char *name, va_list ap) {
    char a[4300];
    const char *fmt[3] = {"device=%s", "output.dir=%s", "output.name=%s"};
    const char *val[3] = {device, dir, name};
    for (int k = 0; k < 3; k++) {
        snprintf(a, sizeof a, fmt[k], val[k]);
        tassl_status s = tassl_config_set(c, a);
        if (s != TASSL_OK) return s;
    }
    for (const char *s; (s = va_arg(ap, const char *));) {
        tassl_status st = tassl_config_set(c, s);
        if (st != TASSL_OK) return st;
    }
    return TASSL_OK;
}

#endif
