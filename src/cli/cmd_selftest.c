/* cmd_selftest.c — `tassl selftest`: every op case on a device against the reference. */
#include <stdio.h>
#include <string.h>
#include "../check/check.h"
#include "cli.h"

void tassl_cmd_selftest_help(FILE *out) {
    fprintf(out, "usage: tassl selftest [--device SPEC] [--filter TEXT] [--list]\n\n"
                 "Runs every op check on the device: output and input gradients against the C\n"
                 "reference (outputs pre-filled with NaN, guard regions around every buffer), and a\n"
                 "finite-difference gradient check on the reference. Ends with 'N passed, N failed'.\n"
                 "  --device SPEC   auto (default), gpu, cpu, ref, opencl:P:D or an index\n"
                 "  --filter TEXT   only cases whose name or family contains TEXT\n"
                 "  --list          list the cases and exit\n");
}

int tassl_cmd_selftest(int argc, char **argv) {
    const char *spec = NULL, *filter = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) spec = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--filter", &missing))) filter = v;
        else if (strcmp(argv[i], "--list") == 0) list = 1;
        else {
            fprintf(stderr, "tassl selftest: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl selftest: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (list) {
        for (int t = 0; t < tassl_check_ntables; t++)
            for (int i = 0; i < tassl_check_tables[t]->count; i++)
                printf("%-8s %s\n", tassl_check_tables[t]->family,
                       tassl_check_tables[t]->cases[i].name);
        return 0;
    }
    tassl_device *dev = NULL, *ref = NULL;
    if (tassl_device_open(spec, &dev) != TASSL_OK || tassl_device_open("ref", &ref) != TASSL_OK) {
        fprintf(stderr, "tassl selftest: %s\n", tassl_last_error());
        tassl_device_free(dev);
        return 1;
    }
    printf("selftest on [%d] %s (%s) against the C reference\n", tassl_device_get_info(dev)->index,
           tassl_device_get_info(dev)->name,
           tassl_device_get_info(dev)->backend == TASSL_BACKEND_REF ? "ref" : "opencl");
    int failed = tassl_check_all(dev, ref, filter, stdout);
    tassl_device_free(dev);
    tassl_device_free(ref);
    return failed ? 1 : 0;
}
