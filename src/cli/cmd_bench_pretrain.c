/* cmd_bench_pretrain.c — `tassl bench-pretrain`: the speed and memory of one pretraining step, for
 * tools/bench-pretrain (issue 6). Cases:
 *   simclr     SimCLR: ResNet-18 (standard stem), 1×64×64, batch 64 (128 views), projector
 *              512 → 512 (BN, ReLU) → 128, NT-Xent τ 0.5, AdamW;
 *   genesis3d  Models Genesis: the plain 3D U-Net (4 levels, base 32, batch norm, transposed-conv
 *              up-sampling), patches of 64×64×32 (D 32, H 64, W 64), batch 4, sigmoid + MSE, AdamW.
 * A step is what `tassl pretrain` does per step — forward, loss, backward, optimiser — on one
 * fixed batch prepared beforehand (data preparation is benchmarked by bench-augment). Reported:
 * the median wall time of --steps timed steps after --warmup untimed ones, samples/s, the device
 * pool's peak bytes and the process's peak resident set (getrusage; with pocl the device memory
 * is host memory, so this is the figure to compare with PyTorch's). Run one case per process for a
 * clean peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/optim.h"
#include "tassl/run.h"
#include "tassl/ssl.h"
#include "tassl/tassl.h"

void tassl_cmd_bench_pretrain_help(FILE *out) {
    fprintf(out,
            "usage: tassl bench-pretrain [--case simclr|genesis3d] [--device SPEC] [--steps N]\n"
            "                            [--warmup N] [--json FILE]\n\n"
            "Median time of one pretraining step (forward, backward, AdamW) on a fixed batch:\n"
            "  simclr     ResNet-18 standard stem, 1x64x64, batch 64, NT-Xent\n"
            "  genesis3d  Models Genesis, 3D U-Net (4 levels, base 32), 64x64x32, batch 4\n"
            "  --steps N   timed steps (default 3); --warmup N untimed steps first (default 1)\n"
            "  --json FILE append the result as one JSON line\n"
            "Prints samples/s, the device pool's peak and the process's peak RSS.\n"
            "tools/bench-pretrain runs both cases and PyTorch's equivalents in one go.\n");
}

static const char *simclr_yaml =
    "seed: 1\n"
    "method: {name: simclr, simclr: {temperature: 0.5, proj_dim: 128, proj_norm: batch}}\n"
    "data: {source: synthetic, patch: [64, 64], threads: 2,\n"
    "       aug: {preset: none, set: [\"crop=resized\", \"crop_scale=0.3,1\"]}}\n"
    "model: {arch: resnet, dims: 2, depth: 18, width: 1, stem: standard}\n"
    "optim: {name: adamw, lr: 1.0e-3, weight_decay: 1.0e-6}\n"
    "schedule: {name: constant}\n"
    "train: {steps: 100, batch_size: 64}\n";

static const char *genesis_yaml =
    "seed: 1\n"
    "method: {name: genesis}\n"
    "data: {source: synthetic, patch: [32, 64, 64], threads: 2, aug: {preset: none}}\n"
    "model: {arch: unet, dims: 3, unet: {levels: 4, base: 32}, norm: batch}\n"
    "optim: {name: adamw, lr: 1.0e-3, weight_decay: 1.0e-6}\n"
    "schedule: {name: constant}\n"
    "train: {steps: 100, batch_size: 4}\n";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what) {
    fprintf(stderr, "tassl bench-pretrain: %s: %s\n", what, tassl_last_error());
    return 1;
}

int tassl_cmd_bench_pretrain(int argc, char **argv) {
    if (tassl_cli_wants_help(argc, argv)) {
        tassl_cmd_bench_pretrain_help(stdout);
        return 0;
    }
    const char *which = "simclr", *spec = NULL, *json = NULL;
    int steps = 3, warmup = 1;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--case", &missing)))
            which = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing)))
            spec = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--steps", &missing)))
            steps = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--warmup", &missing)))
            warmup = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--json", &missing)))
            json = v;
        else if (!missing) {
            fprintf(stderr, "tassl bench-pretrain: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl bench-pretrain: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    const char *yaml = strcmp(which, "simclr") == 0      ? simclr_yaml
                       : strcmp(which, "genesis3d") == 0 ? genesis_yaml
                                                         : NULL;
    if (!yaml || steps < 1 || steps > 1000 || warmup < 0 || warmup > 100) {
        fprintf(stderr, "tassl bench-pretrain: --case simclr|genesis3d, --steps 1..1000, "
                        "--warmup 0..100\n");
        return 2;
    }
    if (tassl_ssl_register_config() != TASSL_OK) return fail("configuration keys");
    tassl_config *cfg = NULL;
    tassl_device *dev = NULL;
    tassl_ctx *ctx = NULL;
    tassl_ssl *s = NULL;
    tassl_optim *opt = NULL;
    tassl_schedule sched;
    int rc = 1;
    double *t = calloc((size_t)steps, sizeof(double));
    if (!t || tassl_config_new(&cfg) != TASSL_OK ||
        tassl_config_load_string(cfg, yaml, which) != TASSL_OK) {
        rc = fail("configuration");
        goto done;
    }
    if (tassl_device_open(spec, &dev) != TASSL_OK) {
        rc = fail("device");
        goto done;
    }
    if (!(ctx = tassl_ctx_new(dev))) goto done;
    tassl_rng_seed(ctx, 1);
    if (tassl_ssl_new(cfg, ctx, &s) != TASSL_OK) {
        rc = fail(which);
        goto done;
    }
    if (tassl_optim_from_config(cfg, tassl_ssl_params(s), 100, &opt, &sched) != TASSL_OK) {
        rc = fail("optimiser");
        goto done;
    }
    const int64_t bs = tassl_config_int(cfg, "train.batch_size");
    tassl_scope_begin(ctx); /* the fixed batch lives here */
    tassl_ssl_batch b;
    if (tassl_ssl_load_batch(s, 0, &b) != TASSL_OK) {
        tassl_scope_end(ctx);
        rc = fail("batch");
        goto done;
    }
    tassl_params *p = tassl_ssl_params(s);
    float last = 0;
    for (int i = 0; i < warmup + steps; i++) {
        double t0 = now_s();
        tassl_scope_begin(ctx);
        tassl_params_zero_grad(p);
        const char *names[16];
        tassl_tensor *comp[16], *emb, *prev[3];
        int nc;
        tassl_tensor *loss = tassl_ssl_loss(s, &b, 16, names, comp, &nc, &emb, prev);
        tassl_status st = loss ? tassl_backward_release(loss, 0, NULL) : tassl_ctx_status(ctx);
        if (st == TASSL_OK) st = tassl_optim_step(opt, tassl_schedule_lr(&sched, i));
        if (st == TASSL_OK) last = tassl_item(loss); /* waits for the step (in-order queue) */
        if (st == TASSL_OK) st = tassl_ctx_status(ctx);
        tassl_scope_end(ctx);
        if (st != TASSL_OK) {
            tassl_scope_end(ctx);
            fprintf(stderr, "tassl bench-pretrain: step %d: %s\n", i + 1,
                    tassl_ctx_error_message(ctx));
            goto done;
        }
        if (i >= warmup) t[i - warmup] = now_s() - t0;
    }
    tassl_scope_end(ctx);
    qsort(t, (size_t)steps, sizeof *t, cmp_d);
    double med = steps % 2 ? t[steps / 2] : 0.5 * (t[steps / 2 - 1] + t[steps / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    double pool_mb = (double)tassl_device_pool_stats(dev).peak_in_use / (1024.0 * 1024.0);
    const char *devname = tassl_device_get_info(dev)->name;
    printf("%-10s %-28s median %.3f s/step (min %.3f, %d steps)  %.1f samples/s  loss %.4f  "
           "pool peak %.0f MB  peak RSS %.0f MB\n",
           which, devname, med, t[0], steps, (double)bs / med, (double)last, pool_mb, rss_mb);
    if (json) {
        FILE *f = fopen(json, "a");
        if (!f) {
            fprintf(stderr, "tassl bench-pretrain: cannot open %s\n", json);
            goto done;
        }
        fprintf(f,
                "{\"impl\": \"tassl\", \"case\": \"%s\", \"device\": \"%s\", \"median_s\": %.6f, "
                "\"min_s\": %.6f, \"steps\": %d, \"samples_per_s\": %.3f, \"pool_peak_mb\": %.1f, "
                "\"peak_rss_mb\": %.1f}\n",
                which, devname, med, t[0], steps, (double)bs / med, pool_mb, rss_mb);
        fclose(f);
    }
    rc = 0;
done:
    free(t);
    tassl_optim_free(opt);
    tassl_ssl_free(s);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(cfg);
    return rc;
}
