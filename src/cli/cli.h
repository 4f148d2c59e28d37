/* cli.h — the tassl command-line program's commands. Each returns a process exit status
 * (0 ok, 1 failure, 2 usage error). */
#ifndef TASSL_CLI_H
#define TASSL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "tassl/config.h"

typedef struct tassl_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} tassl_cmd;

int tassl_cmd_devices(int argc, char **argv);
void tassl_cmd_devices_help(FILE *out);
int tassl_cmd_selftest(int argc, char **argv);
void tassl_cmd_selftest_help(FILE *out);
int tassl_cmd_demo(int argc, char **argv);
void tassl_cmd_demo_help(FILE *out);
int tassl_cmd_tune(int argc, char **argv);
void tassl_cmd_tune_help(FILE *out);
int tassl_cmd_bench(int argc, char **argv);
void tassl_cmd_bench_help(FILE *out);
int tassl_cmd_inspect(int argc, char **argv);
void tassl_cmd_inspect_help(FILE *out);
int tassl_cmd_config(int argc, char **argv);
void tassl_cmd_config_help(FILE *out);
int tassl_cmd_train(int argc, char **argv);
void tassl_cmd_train_help(FILE *out);
int tassl_cmd_export(int argc, char **argv);
void tassl_cmd_export_help(FILE *out);
int tassl_cmd_pretrain(int argc, char **argv);
void tassl_cmd_pretrain_help(FILE *out);

int tassl_cmd_bench_augment(int argc, char **argv);
void tassl_cmd_bench_augment_help(FILE *out);
int tassl_cmd_data(int argc, char **argv);
void tassl_cmd_data_help(FILE *out);
int tassl_cmd_bench_pretrain(int argc, char **argv);
void tassl_cmd_bench_pretrain_help(FILE *out);
int tassl_cmd_recommend(int argc, char **argv);
void tassl_cmd_recommend_help(FILE *out);
int tassl_cmd_report(int argc, char **argv);
void tassl_cmd_report_help(FILE *out);
int tassl_cmd_finetune(int argc, char **argv);
void tassl_cmd_finetune_help(FILE *out);
int tassl_cmd_eval(int argc, char **argv);
void tassl_cmd_eval_help(FILE *out);
int tassl_cmd_benchmark(int argc, char **argv);
void tassl_cmd_benchmark_help(FILE *out);

/* "--opt value" / "--opt=value" parsing: returns the value of argv[*i] if it is `name`, advancing
 * *i past a separate value; NULL if argv[*i] is not this option. Sets *missing if no value. */
const char *tassl_cli_opt(int argc, char **argv, int *i, const char *name, int *missing);
/* The options of commands that train into a run directory (train, pretrain). */
typedef struct tassl_cli_run_args {
    const char *run_dir, *resume;
    bool force, quiet;
    int64_t stop_after;
} tassl_cli_run_args;
/* Parse -c FILE | --resume RUN_DIR, --set, --device, --run, --force, --stop-after, --quiet and
 * resolve the configuration (file or RUN_DIR/config.yaml, then the overrides in order). Returns
 * 0 (*cfg is the caller's to free), 2 on a usage error or 1 on a configuration error (message
 * printed, prefixed "tassl CMD:"). Register extra config sections before calling. */
int tassl_cli_run_config(const char *cmd, int argc, char **argv, tassl_cli_run_args *a,
                         tassl_config **cfg);

/* true if argv has -h or --help */
int tassl_cli_wants_help(int argc, char **argv);

#endif
