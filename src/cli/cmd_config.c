/* cmd_config.c — `tassl config keys|validate|show`: list the registered configuration keys, check a
 * file (and --set overrides) without running anything, print a resolved configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/task.h"
#include "tassl/config.h"
#include "tassl/ssl.h"

void tassl_cmd_config_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl config keys [PREFIX]\n"
        "       tassl config validate FILE [--set KEY=VALUE ...]\n"
        "       tassl config show [-c FILE] [--set KEY=VALUE ...]\n\n"
        "  keys      every configuration key (or those under PREFIX, e.g. optim): name, type,\n"
        "            default, allowed values or range, description\n"
        "  validate  check FILE and the overrides; errors name FILE:LINE:COLUMN (or the --set)\n"
        "            and suggest the closest key for an unknown one. Exit 0 if valid, 1 if not\n"
        "  show      the fully resolved configuration (every key) as YAML\n"
        "See docs/CONFIG.md.\n");
}

static void default_text(const tassl_cfg_key *k, char *buf, size_t n) {
    if (k->type == TASSL_CFG_STRING)
        snprintf(buf, n, "\"%s\"", k->def);
    else
        snprintf(buf, n, "%s", k->def);
}

static int keys(int argc, char **argv) {
    const char *prefix = argc > 2 ? argv[2] : NULL;
    size_t pl = prefix ? strlen(prefix) : 0;
    int shown = 0;
    printf("%-34s %-15s %-14s %s\n", "KEY", "TYPE", "DEFAULT", "DESCRIPTION");
    for (int i = 0; i < tassl_config_key_count(); i++) {
        const tassl_cfg_key *k = tassl_config_key_at(i);
        if (prefix &&
            !(strncmp(k->name, prefix, pl) == 0 && (k->name[pl] == 0 || k->name[pl] == '.')))
            continue;
        char def[64];
        default_text(k, def, sizeof def);
        const char *ch = tassl_config_key_choices(k);
        printf("%-34s %-15s %-14s %s", k->name, tassl_cfg_type_name(k->type), def, k->help);
        if (ch) printf(" [one of %s]", ch);
        if (k->range) printf(" [range %s]", k->range);
        printf("\n");
        shown++;
    }
    if (!shown) {
        fprintf(stderr, "tassl config keys: no key under '%s'", prefix);
        const char *s = tassl_config_suggest(prefix);
        if (s) fprintf(stderr, " (did you mean '%s'?)", s);
        fprintf(stderr, "\n");
        return 1;
    }
    return 0;
}

/* -c FILE and --set KEY=VALUE from argv[first..]; a positional FILE if allow_positional. */
static int resolve(int argc, char **argv, int first, int allow_positional, const char *what,
                   tassl_config **out) {
    const char *file = NULL;
    tassl_config *c;
    if (tassl_config_new(&c) != TASSL_OK) {
        fprintf(stderr, "tassl config %s: %s\n", what, tassl_last_error());
        return 1;
    }
    /* the file first, then the overrides in order, whatever their position on the line */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && file && tassl_config_load_file(c, file) != TASSL_OK) goto bad;
        for (int i = first; i < argc; i++) {
            int missing = 0;
            const char *v;
            if ((v = tassl_cli_opt(argc, argv, &i, "--set", &missing))) {
                if (pass == 1 && tassl_config_set(c, v) != TASSL_OK) goto bad;
            } else if ((v = tassl_cli_opt(argc, argv, &i, "-c", &missing)) ||
                       (v = tassl_cli_opt(argc, argv, &i, "--config", &missing))) {
                if (pass == 0) {
                    if (file) goto twice;
                    file = v;
                }
            } else if (!missing && allow_positional && argv[i][0] != '-') {
                if (pass == 0) {
                    if (file) goto twice;
                    file = argv[i];
                }
            } else if (!missing) {
                fprintf(stderr, "tassl config %s: unknown argument '%s' (see --help)\n", what,
                        argv[i]);
                tassl_config_free(c);
                return 2;
            }
            if (missing) {
                fprintf(stderr, "tassl config %s: %s needs a value\n", what, argv[i]);
                tassl_config_free(c);
                return 2;
            }
        }
    }
    if (allow_positional && !file) {
        fprintf(stderr, "tassl config %s: which file? (see --help)\n", what);
        tassl_config_free(c);
        return 2;
    }
    *out = c;
    return 0;
twice:
    fprintf(stderr, "tassl config %s: one configuration file only\n", what);
    tassl_config_free(c);
    return 2;
bad:
    fprintf(stderr, "%s\n", tassl_last_error());
    tassl_config_free(c);
    return 1;
}

int tassl_cmd_config(int argc, char **argv) {
    tassl_task_register_config(); /* method.*, ssl.*, data.* of the SSL layer; task.* */
    if (argc < 2) {
        tassl_cmd_config_help(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "keys") == 0) return keys(argc, argv);
    tassl_config *c = NULL;
    int rc;
    if (strcmp(sub, "validate") == 0) {
        if ((rc = resolve(argc, argv, 2, 1, "validate", &c)) != 0) return rc;
        printf("ok: valid configuration\n");
    } else if (strcmp(sub, "show") == 0) {
        if ((rc = resolve(argc, argv, 2, 0, "show", &c)) != 0) return rc;
        if (tassl_config_write(c, stdout) != TASSL_OK) {
            fprintf(stderr, "tassl config show: %s\n", tassl_last_error());
            rc = 1;
        }
    } else {
        fprintf(stderr, "tassl config: unknown subcommand '%s' (keys, validate, show)\n", sub);
        return 2;
    }
    tassl_config_free(c);
    return rc;
}
