/* test_ops.c — every op case of the self-check harness as a cmocka test: on the OpenCL CPU
 * device (pocl) against the C reference, and the finite-difference gradient check on the
 * reference. Without any OpenCL device the device half is skipped (gradient checks still run).
 * TASSL_TEST_DEVICE overrides the device spec (default "cpu"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "../src/check/check.h"

static tassl_device *dev, *ref;

static void run_one(void **state) {
    const tassl_check_case *c = *state;
    tassl_check_result r;
    int ok = tassl_check_run(c, dev, ref, &r);
    if (!ok) fail_msg("%s: %s", c->name, r.msg);
}

int main(void) {
    const char *spec = getenv("TASSL_TEST_DEVICE");
    if (tassl_device_open("ref", &ref) != TASSL_OK) {
        fprintf(stderr, "cannot open ref: %s\n", tassl_last_error());
        return 1;
    }
    if (tassl_device_open(spec ? spec : "cpu", &dev) != TASSL_OK) {
        fprintf(stderr, "no OpenCL device (%s): device comparisons skipped, gradient checks only\n",
                tassl_last_error());
        dev = ref;
    }
    printf("device under test: %s\n", tassl_device_get_info(dev)->name);
    int total = 0;
    for (int t = 0; t < tassl_check_ntables; t++) total += tassl_check_tables[t]->count;
    struct CMUnitTest *tests = calloc((size_t)total, sizeof *tests);
    int k = 0;
    for (int t = 0; t < tassl_check_ntables; t++)
        for (int i = 0; i < tassl_check_tables[t]->count; i++) {
            const tassl_check_case *c = &tassl_check_tables[t]->cases[i];
            tests[k].name = c->name;
            tests[k].test_func = run_one;
            tests[k].initial_state = (void *)c;
            k++;
        }
    int failed = _cmocka_run_group_tests("ops", tests, (size_t)total, NULL, NULL);
    free(tests);
    if (dev != ref) tassl_device_free(dev);
    tassl_device_free(ref);
    return failed;
}
