/* cmd_bench_augment.c — `tassl bench-augment`: throughput of the augmentation pipeline on one
 * thread, for tools/bench-data. Cases (issue 5):
 *   genesis2d  the full Models Genesis set (flip, shuffling, Bézier, in/out-painting) on 2D
 *              128×128 images, batch 128 — the reference Python takes ~20 s per such batch
 *              (ModelsGenesis issue #24); the target here is < 0.2 s;
 *   genesis3d  the same on 3D 64×64×32 patches;
 *   mri2d      the `mri` preset (z-score, flips, affine, elastic, bias, Rician, gamma, …) on 2D
 *              slices of 181×217 (the Colin27 grid);
 *   ct3d       the `ct` preset on 3D 64×64×32 patches.
 * Inputs are smooth synthetic phantoms (values in [0, 1], or MRI-like / HU-like ranges); each
 * sample uses its own (seed, sample index) stream, as the loader does. Reported: median seconds
 * per batch over --reps batches (wall clock, and this thread's CPU time, which a loaded machine
 * does not inflate), samples/s, and the ratio to the 20 s reference for genesis2d.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tassl/augment.h"
#include "tassl/tassl.h"

void tassl_cmd_bench_augment_help(FILE *out) {
    fprintf(out,
            "usage: tassl bench-augment [--only CASE] [--batch N] [--reps N] [--json FILE]\n\n"
            "One-thread throughput of the augmentation pipeline (median of N batches, default 5):\n"
            "  genesis2d  Models Genesis set, 2D 128x128, batch 128 (reference: ~20 s per batch)\n"
            "  genesis3d  Models Genesis set, 3D 64x64x32 patches\n"
            "  mri2d      the mri preset on 2D 181x217 slices\n"
            "  ct3d       the ct preset on 3D 64x64x32 patches\n"
            "  --only CASE  run one case\n"
            "  --batch N    samples per batch (default 128)\n"
            "  --json FILE  also write the results as JSON lines\n"
            "tools/bench-data runs this (and the loader benchmark).\n");
}

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now_s(void) {
    return clock_s(CLOCK_MONOTONIC);
}
/* this thread's CPU time: unaffected by other processes taking the core (shared machines) */
static double cpu_s(void) {
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* a smooth phantom: nested ellipsoids with a gentle texture, scaled to [lo, hi] */
static void phantom(tassl_image *im, uint64_t seed, float lo, float hi) {
    for (int64_t z = 0; z < im->d; z++)
        for (int64_t y = 0; y < im->h; y++)
            for (int64_t x = 0; x < im->w; x++) {
                double dz = im->d > 1 ? (double)z / im->d - 0.5 : 0, dy = (double)y / im->h - 0.5,
                       dx = (double)x / im->w - 0.5;
                double r = sqrt(dz * dz * 1.5 + dy * dy + dx * dx * 1.3);
                double v = r < 0.2 ? 0.8 : r < 0.35 ? 0.55 : r < 0.45 ? 0.3 : 0.02;
                v += 0.05 * sin(0.3 * (double)x + (double)seed) * cos(0.2 * (double)y);
                for (int c = 0; c < im->channels; c++)
                    im->data[((c * im->d + z) * im->h + y) * im->w + x] = lo + (hi - lo) * (float)v;
            }
}

typedef struct bcase {
    const char *name;
    int64_t d, h, w;
    const char *preset; /* NULL: Models Genesis */
    float lo, hi;
} bcase;

int tassl_cmd_bench_augment(int argc, char **argv) {
    const char *only = NULL, *json = NULL;
    int batch = 128, reps = 5;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--only", &missing)))
            only = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--json", &missing)))
            json = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--batch", &missing)))
            batch = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--reps", &missing)))
            reps = atoi(v);
        else {
            fprintf(stderr, "tassl bench-augment: unknown option '%s'\n", argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "tassl bench-augment: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (batch < 1 || reps < 1) {
        fprintf(stderr, "tassl bench-augment: --batch and --reps must be >= 1\n");
        return 2;
    }
    static const bcase cases[] = {
        {"genesis2d", 1, 128, 128, NULL, 0, 1},
        {"genesis3d", 32, 64, 64, NULL, 0, 1},
        {"mri2d", 1, 217, 181, "mri", 0, 900},
        {"ct3d", 32, 64, 64, "ct", -1000, 1500},
    };
    FILE *jf = NULL;
    if (json && !(jf = fopen(json, "w"))) {
        fprintf(stderr, "tassl bench-augment: %s: cannot open for writing\n", json);
        return 1;
    }
    printf("%-10s %-14s %6s %10s %10s %12s %10s\n", "case", "size (DxHxW)", "batch", "s/batch",
           "cpu s", "samples/s", "ms/sample");
    int ran = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bcase *bc = &cases[c];
        if (only && strcmp(only, bc->name) != 0) continue;
        ran++;
        tassl_image *src = calloc((size_t)batch, sizeof(tassl_image));
        tassl_image *in = calloc((size_t)batch, sizeof(tassl_image));
        tassl_image *tg = calloc((size_t)batch, sizeof(tassl_image));
        double *t = calloc((size_t)reps, sizeof(double)),
               *tc = calloc((size_t)reps, sizeof(double));
        if (!src || !in || !tg || !t || !tc) {
            fprintf(stderr, "tassl bench-augment: out of memory\n");
            return 1;
        }
        for (int b = 0; b < batch; b++) {
            if (tassl_image_new(&src[b], 1, bc->d, bc->h, bc->w)) {
                fprintf(stderr, "tassl bench-augment: %s\n", tassl_last_error());
                return 1;
            }
            phantom(&src[b], (uint64_t)b, bc->lo, bc->hi);
        }
        tassl_genesis_config gcfg;
        tassl_genesis_config_default(&gcfg);
        tassl_aug_config acfg;
        if (bc->preset) tassl_aug_preset(bc->preset, &acfg);
        int failed = 0;
        for (int r = -1; r < reps && !failed; r++) { /* r = -1: warm-up */
            double t0 = now_s(), c0 = cpu_s();
            for (int b = 0; b < batch && !failed; b++) {
                uint64_t sample = (uint64_t)(r + 1) * (uint64_t)batch + (uint64_t)b;
                if (!bc->preset) {
                    failed = tassl_genesis_apply(&gcfg, &src[b], &in[b], &tg[b], 1, sample, 0) != 0;
                } else {
                    /* the pipeline works in place: start from a fresh copy, as a loader does */
                    if (!in[b].data && tassl_image_new(&in[b], 1, bc->d, bc->h, bc->w)) failed = 1;
                    if (failed) break;
                    if (in[b].d != bc->d || in[b].h != bc->h || in[b].w != bc->w) {
                        tassl_image_free(&in[b]);
                        if (tassl_image_new(&in[b], 1, bc->d, bc->h, bc->w)) failed = 1;
                    }
                    if (failed) break;
                    memcpy(in[b].data, src[b].data,
                           (size_t)tassl_image_voxels(&src[b]) * sizeof(float));
                    tassl_aug_sample s = {&in[b], NULL, NULL, NULL, 0};
                    failed = tassl_aug_apply(&acfg, &s, 1, sample, 0, NULL) != 0;
                }
            }
            if (r >= 0) t[r] = now_s() - t0, tc[r] = cpu_s() - c0;
        }
        if (failed) {
            fprintf(stderr, "tassl bench-augment: %s: %s\n", bc->name, tassl_last_error());
            return 1;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp_double);
        qsort(tc, (size_t)reps, sizeof(double), cmp_double);
        double med = t[reps / 2], cmed = tc[reps / 2];
        char size[32];
        snprintf(size, sizeof size, "%lldx%lldx%lld", (long long)bc->d, (long long)bc->h,
                 (long long)bc->w);
        printf("%-10s %-14s %6d %10.4f %10.4f %12.0f %10.3f", bc->name, size, batch, med, cmed,
               batch / med, 1e3 * med / batch);
        if (!bc->preset && bc->d == 1 && bc->h == 128 && batch == 128)
            printf("   (reference Python ~20 s/batch: %.0fx faster)", 20.0 / med);
        printf("\n");
        if (jf)
            fprintf(jf,
                    "{\"case\": \"%s\", \"d\": %lld, \"h\": %lld, \"w\": %lld, \"batch\": %d, "
                    "\"threads\": 1, \"s_per_batch\": %.6f, \"cpu_s_per_batch\": %.6f, "
                    "\"samples_per_s\": %.1f}\n",
                    bc->name, (long long)bc->d, (long long)bc->h, (long long)bc->w, batch, med,
                    cmed, batch / med);
        for (int b = 0; b < batch; b++) {
            tassl_image_free(&src[b]);
            tassl_image_free(&in[b]);
            tassl_image_free(&tg[b]);
        }
        free(src), free(in), free(tg), free(t), free(tc);
    }
    if (jf) fclose(jf);
    if (!ran) {
        fprintf(stderr,
                "tassl bench-augment: no case named '%s' (genesis2d, genesis3d, mri2d, "
                "ct3d)\n",
                only);
        return 2;
    }
    return 0;
}
