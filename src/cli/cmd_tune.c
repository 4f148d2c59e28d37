/* cmd_tune.c — `tassl tune`: tune the GEMM of a device and store the result in the user's cache,
 * where every later tassl_device_open() of that device picks it up (src/backend/tune.h). */
#include <stdio.h>
#include <string.h>

#include "../backend/tune.h"
#include "cli.h"
#include "tassl/tassl.h"

void tassl_cmd_tune_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl tune [--device SPEC] [--quick] [--dry-run]\n\n"
        "Searches the GEMM parameters of the device (register-tile shape, k-block, unroll,\n"
        "work-item block; and clBLAST) on a few representative shapes, a minute or two, printing\n"
        "progress, and stores the best in $XDG_CACHE_HOME/tassl/tune/<device>.txt (or\n"
        "~/.cache/...), used automatically from then on. A file for another driver version or one\n"
        "that does not parse is ignored with a warning; delete it to return to the built-in row.\n"
        "TASSL_TUNE_CACHE=off ignores stored results.\n"
        "  --device SPEC   auto (default), gpu, cpu, opencl:P:D or an index\n"
        "  --quick         tiny shapes and search (seconds; a smoke test, not a real tuning)\n"
        "  --dry-run       search but do not store the result\n");
}

int tassl_cmd_tune(int argc, char **argv) {
    const char *spec = NULL;
    int quick = 0, dry = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing)))
            spec = v;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--dry-run") == 0)
            dry = 1;
        else {
            fprintf(stderr, "tassl tune: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl tune: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    tassl_device *dev;
    if (tassl_device_open(spec, &dev) != TASSL_OK) {
        fprintf(stderr, "tassl tune: %s\n", tassl_last_error());
        return 1;
    }
    const tassl_device_info *info = tassl_device_get_info(dev);
    char path[4096] = "(no cache directory)";
    tassl_tune_path(info, path, sizeof path, 0);
    printf("tuning GEMM on %s (driver %s)%s\n", info->name, info->driver_version,
           quick ? ", quick" : "");
    tassl_tune_options opt = {quick, 0, stdout};
    tassl_tune_entry best;
    tassl_status s = tassl_tune_run(dev, &opt, &best);
    if (s == TASSL_OK && !dry) {
        s = tassl_tune_store(info, &best);
        if (s == TASSL_OK) printf("stored %s\n", path);
    }
    if (s != TASSL_OK) fprintf(stderr, "tassl tune: %s\n", tassl_last_error());
    tassl_device_free(dev);
    return s == TASSL_OK ? 0 : 1;
}
