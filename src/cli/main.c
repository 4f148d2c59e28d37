/* main.c — `tassl`: dispatches to commands; `--version`, `--help` and `help CMD`. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "tassl/tassl.h"

static const tassl_cmd cmds[] = {
    {"devices", "list OpenCL devices and the C reference backend", tassl_cmd_devices,
     tassl_cmd_devices_help},
    {"selftest", "check every op on a device against the reference (values and gradients)",
     tassl_cmd_selftest, tassl_cmd_selftest_help},
    {"demo", "train a small CNN on a synthetic task and print its loss falling", tassl_cmd_demo,
     tassl_cmd_demo_help},
    {"tune", "tune the GEMM for a device and store the result in the user's cache", tassl_cmd_tune,
     tassl_cmd_tune_help},
    {"bench", "benchmark GEMM and convolution (bench ops)", tassl_cmd_bench,
     tassl_cmd_bench_help},
    {"inspect", "print an image file's header, orientation, intensities and labels",
     tassl_cmd_inspect, tassl_cmd_inspect_help},
    {"config", "list configuration keys, validate a config file, show a resolved config",
     tassl_cmd_config, tassl_cmd_config_help},
    {"train", "train from a YAML config into a run directory (resumable)", tassl_cmd_train,
     tassl_cmd_train_help},
    {"export", "write a checkpoint's encoder as a standalone safetensors file", tassl_cmd_export,
     tassl_cmd_export_help},
    {"pretrain", "self-supervised pretraining from a YAML config (every method; resumable)",
     tassl_cmd_pretrain, tassl_cmd_pretrain_help},
    {"bench-augment", "one-thread throughput of augmentation and Models Genesis (tools/bench-data)",
     tassl_cmd_bench_augment, tassl_cmd_bench_augment_help},
    {"data", "prepare real datasets, write synthetic phantoms, check a manifest", tassl_cmd_data,
     tassl_cmd_data_help},
    {"bench-pretrain", "speed and memory of one SimCLR / Models Genesis 3D step (tools/bench-pretrain)",
     tassl_cmd_bench_pretrain, tassl_cmd_bench_pretrain_help},
    {"recommend", "recommend a method, augmentation, sizes and schedule, and write its config",
     tassl_cmd_recommend, tassl_cmd_recommend_help},
    {"report", "HTML report with figures of a suite or finetune run directory", tassl_cmd_report,
     tassl_cmd_report_help},
    {"finetune", "train a downstream task on a labelled subset and evaluate it (issue 7)",
     tassl_cmd_finetune, tassl_cmd_finetune_help},
    {"eval", "evaluate a finetuned checkpoint on a manifest's split", tassl_cmd_eval,
     tassl_cmd_eval_help},
    {"benchmark", "the evaluation protocol: inits x label fractions x seeds, results and table",
     tassl_cmd_benchmark, tassl_cmd_benchmark_help},
};
#define NCMDS ((int)(sizeof cmds / sizeof cmds[0]))

static void usage(FILE *out) {
    fprintf(out, "usage: tassl [--version] [--help] COMMAND [ARGS]\n\n"
                 "Task-aligned self-supervised learning for medical images, on any OpenCL device.\n\n"
                 "commands:\n");
    for (int i = 0; i < NCMDS; i++) fprintf(out, "  %-15s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "\n`tassl COMMAND --help` describes a command.\n"
                 "environment: TASSL_DEVICE (default device spec), TASSL_KERNEL_DIR (load cl/*.cl\n"
                 "from a directory), TASSL_KERNEL_CACHE=off (no on-disk kernel binaries).\n");
}

const char *tassl_cli_opt(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int tassl_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (strcmp(c, "--version") == 0 || strcmp(c, "version") == 0) {
        printf("tassl %s\n", tassl_version());
        return 0;
    }
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(c, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        c = argv[2];
        for (int i = 0; i < NCMDS; i++)
            if (strcmp(cmds[i].name, c) == 0) {
                cmds[i].help(stdout);
                return 0;
            }
        fprintf(stderr, "tassl: unknown command '%s' (see tassl --help)\n", c);
        return 2;
    }
    for (int i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, c) == 0) {
            if (tassl_cli_wants_help(argc - 1, argv + 1)) {
                cmds[i].help(stdout);
                return 0;
            }
            return cmds[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "tassl: unknown command '%s' (see tassl --help)\n", c);
    return 2;
}
