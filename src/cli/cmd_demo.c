/* cmd_demo.c — `tassl demo`: an end-to-end training run on a synthetic task.
 *
 * Task: 1×16×16 noisy images with one bright Gaussian "lesion" in one of four quadrants; the class
 * is the quadrant. Network: conv3×3(1→8)–BN–ReLU–maxpool2–conv3×3(8→16)–BN–ReLU–global avg pool–
 * linear(16→4), cross-entropy, SGD with momentum over the flat parameter buffer. It exercises the
 * whole foundation (device layer, GEMM, convolution, normalisation, pooling, losses, autograd,
 * scopes) and prints the loss falling and the held-out accuracy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/tassl.h"

#define IMG 16
#define NCLS 4

void tassl_cmd_demo_help(FILE *out) {
    fprintf(out, "usage: tassl demo [--device SPEC] [--steps N] [--batch N] [--lr X] [--seed N]\n\n"
                 "Trains a small CNN to find which quadrant of a noisy 16x16 image holds a bright\n"
                 "blob, printing the training loss and the held-out accuracy.\n"
                 "  --device SPEC  auto (default), gpu, cpu, ref, opencl:P:D or an index\n"
                 "  --steps N      training steps (default 300)\n"
                 "  --batch N      batch size (default 32)\n"
                 "  --lr X         SGD learning rate, momentum 0.9 (default 0.1)\n"
                 "  --seed N       random seed (default 1)\n");
}

/* One synthetic sample: image (IMG*IMG floats) and its class. */
static int make_sample(uint64_t seed, uint64_t idx, float *img) {
    uint64_t base = idx * 1024;
    int cls = (int)(tassl_philox_u32(seed, base) % NCLS);
    float cy = (cls / 2) * 8 + 2 + 4 * tassl_philox_uniform(seed, base + 1);
    float cx = (cls % 2) * 8 + 2 + 4 * tassl_philox_uniform(seed, base + 2);
    for (int y = 0; y < IMG; y++)
        for (int x = 0; x < IMG; x++) {
            float d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
            img[y * IMG + x] = expf(-d2 / 4.0f) + 0.3f * tassl_philox_normal(seed, base + 3 + (uint64_t)(y * IMG + x));
        }
    return cls;
}

typedef struct net {
    tassl_tensor *w1, *g1, *b1, *rm1, *rv1, *w2, *g2, *b2, *rm2, *rv2, *fw, *fb;
} net;

static tassl_tensor *forward(net *n, tassl_tensor *x, bool training) {
    const int s1[2] = {1, 1}, p1[2] = {1, 1}, d1[2] = {1, 1}, k2[2] = {2, 2};
    tassl_tensor *h = tassl_conv(x, n->w1, NULL, s1, p1, d1, 1);
    h = tassl_relu(tassl_batch_norm(h, n->g1, n->b1, n->rm1, n->rv1, training, 0.1f, 1e-5f));
    h = tassl_max_pool(h, k2, k2, (const int[]){0, 0});
    h = tassl_conv(h, n->w2, NULL, s1, p1, d1, 1);
    h = tassl_relu(tassl_batch_norm(h, n->g2, n->b2, n->rm2, n->rv2, training, 0.1f, 1e-5f));
    return tassl_linear(tassl_global_avg_pool(h), n->fw, n->fb);
}

static void load_batch(tassl_ctx *ctx, uint64_t seed, uint64_t first, int bs, tassl_tensor **x,
                       tassl_tensor **y) {
    float *img = malloc(sizeof(float) * (size_t)bs * IMG * IMG), *lab = malloc(sizeof(float) * (size_t)bs);
    for (int i = 0; i < bs; i++) lab[i] = (float)make_sample(seed, first + (uint64_t)i, img + i * IMG * IMG);
    *x = tassl_from_host(ctx, TASSL_SHAPE(bs, 1, IMG, IMG), img);
    *y = tassl_from_host(ctx, TASSL_SHAPE(bs), lab);
    free(img);
    free(lab);
}

int tassl_cmd_demo(int argc, char **argv) {
    const char *spec = NULL;
    int steps = 300, bs = 32;
    double lr = 0.1;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        char *end = NULL;
        if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing))) spec = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--steps", &missing))) steps = (int)strtol(v, &end, 10);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--batch", &missing))) bs = (int)strtol(v, &end, 10);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--lr", &missing))) lr = strtod(v, &end);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--seed", &missing))) seed = strtoull(v, &end, 10);
        else {
            fprintf(stderr, "tassl demo: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (missing || (end && *end) || steps < 1 || bs < 2 || !(lr > 0)) {
            fprintf(stderr, "tassl demo: bad value for %s (steps >= 1, batch >= 2, lr > 0)\n", argv[i]);
            return 2;
        }
    }
    tassl_device *dev;
    if (tassl_device_open(spec, &dev) != TASSL_OK) {
        fprintf(stderr, "tassl demo: %s\n", tassl_last_error());
        return 1;
    }
    printf("demo on %s: %d steps, batch %d, lr %g, seed %llu\n", tassl_device_get_info(dev)->name,
           steps, bs, lr, seed);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_rng_seed(ctx, seed);
    tassl_params *p = tassl_params_new(ctx), *mom = NULL;
    net n;
    n.w1 = tassl_params_add(p, "conv1.weight", TASSL_SHAPE(8, 1, 3, 3));
    n.g1 = tassl_params_add(p, "bn1.weight", TASSL_SHAPE(8));
    n.b1 = tassl_params_add(p, "bn1.bias", TASSL_SHAPE(8));
    n.w2 = tassl_params_add(p, "conv2.weight", TASSL_SHAPE(16, 8, 3, 3));
    n.g2 = tassl_params_add(p, "bn2.weight", TASSL_SHAPE(16));
    n.b2 = tassl_params_add(p, "bn2.bias", TASSL_SHAPE(16));
    n.fw = tassl_params_add(p, "fc.weight", TASSL_SHAPE(NCLS, 16));
    n.fb = tassl_params_add(p, "fc.bias", TASSL_SHAPE(NCLS));
    int rc = 1;
    if (tassl_params_finalize(p) != TASSL_OK) goto done;
    /* Kaiming-normal convolutions (fan-in, ReLU gain), unit BN scales, small classifier */
    tassl_randn_(n.w1, 0.0f, sqrtf(2.0f / 9.0f));
    tassl_randn_(n.w2, 0.0f, sqrtf(2.0f / 72.0f));
    tassl_randn_(n.fw, 0.0f, sqrtf(1.0f / 16.0f));
    tassl_fill_(n.g1, 1.0f);
    tassl_fill_(n.g2, 1.0f);
    n.rm1 = tassl_zeros(ctx, TASSL_SHAPE(8));
    n.rv1 = tassl_full(ctx, TASSL_SHAPE(8), 1.0f);
    n.rm2 = tassl_zeros(ctx, TASSL_SHAPE(16));
    n.rv2 = tassl_full(ctx, TASSL_SHAPE(16), 1.0f);
    tassl_tensor *flat = tassl_params_flat(p), *grad = tassl_params_flat_grad(p);
    tassl_tensor *vel = tassl_zeros_like(flat);
    double first = NAN, last = NAN, run = 0;
    int nrun = 0;
    for (int step = 0; step < steps; step++) {
        tassl_scope_begin(ctx);
        tassl_tensor *x, *y;
        load_batch(ctx, seed, (uint64_t)step * (uint64_t)bs, bs, &x, &y);
        tassl_params_zero_grad(p);
        tassl_tensor *loss = tassl_cross_entropy(forward(&n, x, true), y, NULL, 0.0f, -100,
                                                 TASSL_REDUCE_MEAN);
        tassl_backward(loss);
        /* SGD with momentum, over the one flat buffer: v = 0.9 v + g; w -= lr v */
        tassl_no_grad_begin(ctx);
        tassl_copy_(vel, tassl_add(tassl_scale(vel, 0.9f), grad));
        tassl_copy_(flat, tassl_sub(flat, tassl_scale(vel, (float)lr)));
        tassl_no_grad_end(ctx);
        float l = tassl_item(loss);
        tassl_scope_end(ctx);
        if (tassl_ctx_status(ctx) != TASSL_OK || !isfinite(l)) {
            fprintf(stderr, "tassl demo: step %d failed: %s\n", step,
                    tassl_ctx_status(ctx) ? tassl_ctx_error_message(ctx) : "loss is not finite");
            goto done;
        }
        if (step == 0) first = l;
        run += l;
        nrun++;
        if ((step + 1) % 10 == 0 || step == steps - 1) {
            last = run / nrun;
            printf("step %4d  loss %.4f\n", step + 1, last);
            fflush(stdout);
            run = 0;
            nrun = 0;
        }
    }
    /* held-out accuracy on samples never seen in training */
    int correct = 0, total = 256;
    tassl_scope_begin(ctx);
    tassl_no_grad_begin(ctx);
    tassl_tensor *x, *y;
    load_batch(ctx, seed, 1u << 30, total, &x, &y);
    tassl_tensor *logits = forward(&n, x, false);
    float *lg = malloc(sizeof(float) * (size_t)total * NCLS), *lab = malloc(sizeof(float) * (size_t)total);
    if (tassl_tensor_read(logits, lg) == TASSL_OK && tassl_tensor_read(y, lab) == TASSL_OK)
        for (int i = 0; i < total; i++) {
            int best = 0;
            for (int c = 1; c < NCLS; c++)
                if (lg[i * NCLS + c] > lg[i * NCLS + best]) best = c;
            correct += best == (int)lab[i];
        }
    free(lg);
    free(lab);
    tassl_no_grad_end(ctx);
    tassl_scope_end(ctx);
    printf("loss %.4f -> %.4f; held-out accuracy %.1f%% (%d/%d; chance 25%%)\n", first, last,
           100.0 * correct / total, correct, total);
    rc = tassl_ctx_status(ctx) == TASSL_OK ? 0 : 1;
done:
    if (rc) fprintf(stderr, "tassl demo: %s\n", tassl_ctx_status(ctx) ? tassl_ctx_error_message(ctx) : tassl_last_error());
    (void)mom;
    tassl_params_free(p);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    return rc;
}
