/* run_args.c — the command line shared by the commands that train into a run directory
 * (`tassl train`, `tassl pretrain`): -c FILE | --resume RUN_DIR, --set KEY=VALUE (repeatable),
 * --device SPEC, --out DIR (--run DIR is the same option: its first name, kept so existing scripts
 * run; --out is what finetune and benchmark call theirs), --force, --stop-after N, --quiet. The
 * configuration is resolved as
 * the file (or RUN_DIR/config.yaml), then every --set / --device in command-line order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static int usage(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "tassl %s: ", cmd);
    fprintf(stderr, msg, arg);
    fputc('\n', stderr);
    return 2;
}

/* Pass 1: everything but the overrides. */
static int parse(const char *cmd, int argc, char **argv, tassl_cli_run_args *a, const char **file) {
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end = NULL;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing)) ||
            (v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            /* applied in pass 2, after the file */
        } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
            if (*file) return usage(cmd, "one configuration file only%s", "");
            *file = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--resume", &missing))) {
            a->resume = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &missing)) ||
                   (v = tassl_cli_opt(argc, argv, &i, "--run", &missing))) {
            if (a->run_dir) return usage(cmd, "one run directory only (--out DIR; --run is the same option)%s", "");
            a->run_dir = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--stop-after", &missing))) {
            a->stop_after = strtoll(v, &end, 10);
            if (*end || a->stop_after < 1)
                return usage(cmd, "--stop-after needs a step >= 1, got '%s'", v);
        } else if (!missing && strcmp(argv[i], "--force") == 0) {
            a->force = true;
        } else if (!missing && strcmp(argv[i], "--quiet") == 0) {
            a->quiet = true;
        } else if (!missing) {
            return usage(cmd, "unknown argument '%s' (see --help)", argv[i]);
        }
        if (missing) return usage(cmd, "%s needs a value", argv[i]);
    }
    if (!*file && !a->resume)
        return usage(cmd, "give a configuration (-c FILE) or --resume RUN_DIR%s", "");
    if (*file && a->resume)
        return usage(cmd, "--resume uses the run's own config.yaml; change keys with --set "
                          "instead of -c%s", "");
    if (a->resume && (a->run_dir || a->force))
        return usage(cmd, "--resume continues RUN_DIR itself (no --out / --force)%s", "");
    return 0;
}

/* Pass 2: load the file, then apply the overrides in order. */
static tassl_status resolve(int argc, char **argv, const tassl_cli_run_args *a, const char *file,
                            tassl_config *cfg) {
    char *resumed = NULL;
    if (a->resume) {
        size_t n = strlen(a->resume) + 16;
        if (!(resumed = malloc(n))) return tassl_error(TASSL_ERR_NOMEM, "out of memory");
        snprintf(resumed, n, "%s/config.yaml", a->resume);
    }
    tassl_status s = tassl_config_load_file(cfg, resumed ? resumed : file);
    free(resumed);
    for (int i = 1; i < argc && s == TASSL_OK; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing))) {
            s = tassl_config_set(cfg, v);
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) {
            char kv[512];
            snprintf(kv, sizeof kv, "device=%s", v);
            s = tassl_config_set(cfg, kv);
        }
    }
    return s;
}

int tassl_cli_run_config(const char *cmd, int argc, char **argv, tassl_cli_run_args *a,
                         tassl_config **cfg) {
    const char *file = NULL;
    memset(a, 0, sizeof *a);
    *cfg = NULL;
    int rc = parse(cmd, argc, argv, a, &file);
    if (rc) return rc;
    if (tassl_config_new(cfg) != TASSL_OK || resolve(argc, argv, a, file, *cfg) != TASSL_OK) {
        fprintf(stderr, "tassl %s: %s\n", cmd, tassl_last_error());
        tassl_config_free(*cfg);
        *cfg = NULL;
        return 1;
    }
    return 0;
}
