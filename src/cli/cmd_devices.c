/* cmd_devices.c — `tassl devices`: every OpenCL device and the reference backend. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "tassl/tassl.h"

void tassl_cmd_devices_help(FILE *out) {
    fprintf(out, "usage: tassl devices\n\n"
                 "Lists every device tassl can run on: index, backend, type, name, memory and\n"
                 "compute units. Select one with --device INDEX, opencl:P:D, gpu, cpu, ref or auto\n"
                 "(or TASSL_DEVICE). auto = first OpenCL GPU, else the OpenCL CPU device (pocl),\n"
                 "else the C reference.\n");
}

static const char *type_name(tassl_device_type t) {
    return t == TASSL_DEVICE_GPU ? "gpu" : (t == TASSL_DEVICE_CPU ? "cpu" : "accel");
}

int tassl_cmd_devices(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "tassl devices: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    tassl_device_info *list;
    int n;
    if (tassl_devices_list(&list, &n) != TASSL_OK) {
        fprintf(stderr, "tassl devices: %s\n", tassl_last_error());
        return 1;
    }
    printf("%-5s %-11s %-5s %-44s %10s %5s\n", "index", "backend", "type", "name", "memory", "CUs");
    for (int i = 0; i < n; i++) {
        const tassl_device_info *d = &list[i];
        char be[32], mem[32];
        if (d->backend == TASSL_BACKEND_OPENCL)
            snprintf(be, sizeof be, "opencl:%d:%d", d->platform, d->device);
        else
            snprintf(be, sizeof be, "ref");
        if (d->global_mem)
            snprintf(mem, sizeof mem, "%.1f GiB", (double)d->global_mem / (1u << 30));
        else
            snprintf(mem, sizeof mem, "host");
        printf("%-5d %-11s %-5s %-44.44s %10s %5d\n", d->index, be, type_name(d->type), d->name,
               mem, d->compute_units);
        if (d->backend == TASSL_BACKEND_OPENCL)
            printf("      platform: %s; driver %s; %s\n", d->platform_name, d->driver_version,
                   d->cl_version);
    }
    free(list);
    return 0;
}
