/* cmd_export.c — `tassl export --encoder RUN|CKPT OUT.safetensors`: the encoder's parameters (and
 * buffers) of a checkpoint as a standalone safetensors file, for fine-tuning elsewhere (PyTorch
 * loads it with safetensors.torch.load_file). */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "tassl/checkpoint.h"

void tassl_cmd_export_help(FILE *out) {
    fprintf(out,
            "usage: tassl export --encoder RUN_DIR|CHECKPOINT OUT.safetensors [--keep-prefix]\n\n"
            "Writes only the encoder's tensors of a checkpoint (a run directory means its newest\n"
            "checkpoint). Names lose their \"encoder.\" prefix, so a ResNet encoder has\n"
            "torchvision's state_dict names (conv1.weight, layer1.0.bn1.running_mean, ...);\n"
            "optimiser state is left out.\n"
            "  --keep-prefix  keep the \"encoder.\" prefix in the names\n");
}

int tassl_cmd_export(int argc, char **argv) {
    const char *src = NULL, *dst = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--encoder", &missing)))
            src = v;
        else if (!missing && strcmp(argv[i], "--keep-prefix") == 0)
            keep = 1;
        else if (!missing && argv[i][0] != '-' && !dst)
            dst = argv[i];
        else if (!missing) {
            fprintf(stderr, "tassl export: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl export: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!src || !dst) {
        fprintf(stderr, "tassl export: usage: tassl export --encoder RUN|CKPT OUT.safetensors\n");
        return 2;
    }
    char path[4096];
    if (tassl_ckpt_latest(src, path, sizeof path) != TASSL_OK ||
        tassl_st_export(path, dst, "encoder.", !keep) != TASSL_OK) {
        fprintf(stderr, "tassl export: %s\n", tassl_last_error());
        return 1;
    }
    tassl_st *st;
    if (tassl_st_open(dst, &st) != TASSL_OK) {
        fprintf(stderr, "tassl export: %s\n", tassl_last_error());
        return 1;
    }
    printf("%s: %d encoder tensors from %s\n", dst, tassl_st_count(st), path);
    tassl_st_close(st);
    return 0;
}
