/* test_ssl_pretext.c — the predictive and generative SSL methods (src/ssl/rotation.c, jigsaw.c,
 * rpl.c, denoising.c, inpainting.c, genesis.c, simmim.c, mae.c):
 *   - targets and corruptions are what they claim, checked through each method's own prepare()
 *     on crafted samples: the rotation label is the turn applied (2D 4-way, 3D 10-way by the
 *     slice sums the turn keeps; all-rotations mode), the jigsaw label is the permutation of the
 *     tiles (cells of constant value), the RPL label is the neighbour's offset (coordinates
 *     encoded in the values), masked fractions match the ratios (SimMIM, MAE, in-painting),
 *     the denoising noise has the configured relative std, the Genesis input differs from its
 *     target and the target is the rescaled sample up to flips;
 *   - MAE's patchify matches the reference layout and unpatchify∘patchify is the identity, 2D
 *     and 3D;
 *   - a generative run writes the preview triplet as PNGs;
 *   - learning: for every method a short seeded run on synthetic phantoms lowers its loss
 *     (2D each; 3D rotation, Genesis and MAE), and the kNN accuracy of frozen features on a
 *     held-out phantom task beats the same encoder at its random initialisation by a margin:
 *     predictive, relative patch location on the lesion's quadrant (eval.h); generative,
 *     denoising on lesion presence. (The generative methods' gains in runs this short are
 *     small and vary with the seed — measured below — so denoising's margin is modest.)
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "test_util.h"
#include "test_ssl_util.h"
#include "../src/ssl/pretext.h"
#include "../src/ssl/ssl_internal.h"
#include "tassl/autograd.h"
#include "tassl/eval.h"
#include "tassl/io.h"
#include "tassl/ops.h"
#include "tassl/tassl.h"

static char tmp_root[] = "/tmp/tassl_test_ssl_pretext_XXXXXX";
static char device[64];

static const char *base_yaml = "seed: 5\n"
                               "data: {patch: [16, 16], threads: 2, aug: {preset: none}}\n"
                               "model: {depth: 10, width: 0.125, stem: small}\n"
                               "optim: {name: adamw, lr: 0.003}\n"
                               "schedule: {name: cosine, warmup_steps: 2}\n"
                               "train: {steps: 4, batch_size: 8, ckpt_every: 0}\n"
                               "ssl: {monitor_every: 0, preview_every: 0}\n"
                               "output: {log_every: 1, progress: none}\n";

/* base_yaml + device + output dir/name + method + the NULL-terminated overrides */
static tassl_config *config(const char *name, const char *method, ...) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_string(c, base_yaml, "base") != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    char a[512];
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.name=%s", name);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "method.name=%s", method);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    va_list ap;
    va_start(ap, method);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    return c;
}

/* ---- a method instance and its prepare() on crafted samples --------------------------------- */

typedef struct inst {
    tassl_device *dev;
    tassl_ctx *ctx;
    tassl_config *cfg;
    tassl_ssl *s;
    float *out[TASSL_SSL_MAX_CUSTOM];
} inst;

static void inst_open(inst *t, tassl_config *c) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    assert_int_equal(tassl_device_open(device, &t->dev), TASSL_OK);
    t->ctx = tassl_ctx_new(t->dev);
    tassl_rng_seed(t->ctx, 1);
    if (tassl_ssl_new(c, t->ctx, &t->s) != TASSL_OK) fail_msg("%s", tassl_last_error());
    const ssl_member *mb = &t->s->mem[0];
    for (int k = 0; k < mb->in.ncustom; k++) {
        const int64_t *sh = mb->in.custom[k].shape;
        t->out[k] = calloc((size_t)(sh[0] * sh[1] * sh[2] * sh[3]), sizeof(float));
    }
}

static const tassl_ssl_custom *inst_custom(inst *t, int k) {
    return &t->s->mem[0].in.custom[k];
}

static void inst_prepare(inst *t, const tassl_image *clean, uint64_t index) {
    const ssl_member *mb = &t->s->mem[0];
    tassl_ssl_sample smp = {.clean = clean, .seed = 77, .index = index, .epoch = 0};
    if (mb->m->prepare(mb->state, &smp, t->out) != TASSL_OK) fail_msg("%s", tassl_last_error());
}

static void inst_close(inst *t) {
    for (int k = 0; k < TASSL_SSL_MAX_CUSTOM; k++)
        free(t->out[k]);
    tassl_ssl_free(t->s);
    tassl_ctx_free(t->ctx);
    tassl_device_free(t->dev);
    tassl_config_free(t->cfg);
}

/* a random image (C, D, H, W) with values in [0, 1) */
static void random_image(tassl_image *im, int c, int64_t d, int64_t h, int64_t w, uint64_t seed) {
    assert_int_equal(tassl_image_new(im, c, d, h, w), TASSL_OK);
    for (int64_t i = 0; i < c * d * h * w; i++)
        im->data[i] = tassl_philox_uniform(seed, (uint64_t)i);
}

/* ---- targets --------------------------------------------------------------------------------- */

static void test_rotation_2d(void **state) {
    (void)state;
    inst t;
    inst_open(&t, config("rot2", "rotation", NULL));
    assert_int_equal(inst_custom(&t, 0)->shape[0], 1);
    tassl_image clean, rot = {0}, back = {0};
    random_image(&clean, 1, 1, 16, 16, 3);
    const size_t n = 256 * sizeof(float);
    int seen[4] = {0};
    for (uint64_t i = 0; i < 24; i++) {
        inst_prepare(&t, &clean, i);
        int k = (int)t.out[1][0];
        assert_true(k >= 0 && k < 4 && (float)k == t.out[1][0]);
        seen[k]++;
        /* the input is the clean image turned k times by 90°; turning it 4 − k more times gives
         * the clean image back */
        assert_int_equal(tassl_pretext_rotate(&clean, 4, k, &rot), TASSL_OK);
        assert_memory_equal(rot.data, t.out[0], n);
        assert_int_equal(tassl_pretext_rotate(&rot, 4, (4 - k) % 4, &back), TASSL_OK);
        assert_memory_equal(back.data, clean.data, n);
        if (k) assert_memory_not_equal(t.out[0], clean.data, n);
    }
    for (int k = 0; k < 4; k++)
        assert_true(seen[k] > 0);
    tassl_image_free(&clean), tassl_image_free(&rot), tassl_image_free(&back);
    inst_close(&t);

    /* all rotations: K·C channels, block k turned k times */
    inst_open(&t, config("rot2all", "rotation", "method.rotation.all=true", NULL));
    assert_int_equal(t.s->mem[0].in.ncustom, 1);
    assert_int_equal(inst_custom(&t, 0)->shape[0], 4);
    random_image(&clean, 1, 1, 16, 16, 4);
    inst_prepare(&t, &clean, 0);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(tassl_pretext_rotate(&clean, 4, k, &rot), TASSL_OK);
        assert_memory_equal(rot.data, t.out[0] + k * 256, n);
    }
    tassl_image_free(&clean), tassl_image_free(&rot);
    inst_close(&t);
}

/* sums of the slices across `axis` of a (1, n, n, n) image */
static void slice_sums(const float *x, int64_t n, int axis, double *s) {
    for (int64_t i = 0; i < n; i++)
        s[i] = 0;
    for (int64_t z = 0; z < n; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t w = 0; w < n; w++) {
                int64_t idx[3] = {z, y, w};
                s[idx[axis]] += x[(z * n + y) * n + w];
            }
}

static void test_rotation_3d(void **state) {
    (void)state;
    inst t;
    inst_open(&t, config("rot3", "rotation", "model.dims=3", "data.patch=[16, 16, 16]", NULL));
    tassl_image clean;
    random_image(&clean, 1, 16, 16, 16, 5);
    int seen[10] = {0};
    double a[16], b[16];
    for (uint64_t i = 0; i < 60; i++) {
        inst_prepare(&t, &clean, i);
        int c = (int)t.out[1][0];
        assert_true(c >= 0 && c < 10);
        seen[c]++;
        if (c == 0) {
            assert_memory_equal(t.out[0], clean.data, 4096 * sizeof(float));
            continue;
        }
        /* a turn about axis a keeps every slice across a in place; about another axis it
         * does not */
        int axis = (c - 1) / 3;
        slice_sums(clean.data, 16, axis, a);
        slice_sums(t.out[0], 16, axis, b);
        for (int s = 0; s < 16; s++)
            assert_float_equal(a[s], b[s], 1e-3);
        int other = (axis + 1) % 3;
        slice_sums(clean.data, 16, other, a);
        slice_sums(t.out[0], 16, other, b);
        double diff = 0;
        for (int s = 0; s < 16; s++)
            diff += fabs(a[s] - b[s]);
        assert_true(diff > 1e-2);
    }
    int distinct = 0;
    for (int c = 0; c < 10; c++)
        distinct += seen[c] > 0;
    assert_true(distinct >= 8);
    tassl_image_free(&clean);
    inst_close(&t);
    /* 10 classes need a cube */
    tassl_config *bad =
        config("rot3bad", "rotation", "model.dims=3", "data.patch=[16, 32, 32]", NULL);
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    tassl_ssl *s;
    assert_int_equal(tassl_ssl_new(bad, ctx, &s), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "data.patch"));
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
    tassl_config_free(bad);
}

/* each cell of a g-grid of a (1, d, h, w) image holds its cell index + 1 */
static void cell_image(tassl_image *im, int64_t d, int64_t h, int64_t w, int g, bool is3d) {
    assert_int_equal(tassl_image_new(im, 1, d, h, w), TASSL_OK);
    for (int64_t z = 0; z < d; z++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                int64_t cz = is3d ? z / (d / g) : 0, cy = y / (h / g), cx = x / (w / g);
                cz = cz >= g ? g - 1 : cz, cy = cy >= g ? g - 1 : cy, cx = cx >= g ? g - 1 : cx;
                im->data[(z * h + y) * w + x] = (float)((cz * g + cy) * g + cx + 1);
            }
}

static void jigsaw_check(int dims) {
    const int g = dims == 2 ? 3 : 2, T = dims == 2 ? 9 : 8, count = 30;
    inst t;
    inst_open(&t,
              dims == 2
                  ? config("jig2", "jigsaw", "data.patch=[24, 24]", "method.jigsaw.tile_norm=false",
                           "method.jigsaw.permutations=30", NULL)
                  : config("jig3", "jigsaw", "model.dims=3", "data.patch=[16, 16, 16]",
                           "method.jigsaw.tile_norm=false", "method.jigsaw.permutations=30", NULL));
    const tassl_ssl_custom *tc = inst_custom(&t, 0);
    assert_int_equal(tc->shape[0], T);
    const int64_t tv = tc->shape[1] * tc->shape[2] * tc->shape[3];
    uint8_t perms[30 * 9];
    int minham;
    assert_int_equal(tassl_jigsaw_perms(T, count, tassl_ssl_env_of(t.s)->seed, perms, &minham),
                     TASSL_OK);
    assert_true(minham >= 2);
    tassl_image clean;
    if (dims == 2)
        cell_image(&clean, 1, 24, 24, g, false);
    else
        cell_image(&clean, 16, 16, 16, g, true);
    int distinct = 0, seen[30] = {0};
    for (uint64_t i = 0; i < 40; i++) {
        inst_prepare(&t, &clean, i);
        int lab = (int)t.out[1][0];
        assert_true(lab >= 0 && lab < count);
        distinct += !seen[lab]++;
        /* tile k is all of cell perms[lab][k] */
        for (int k = 0; k < T; k++)
            for (int64_t v = 0; v < tv; v++)
                assert_float_equal(t.out[0][k * tv + v], perms[lab * T + k] + 1, 0);
    }
    assert_true(distinct >= 10);
    tassl_image_free(&clean);
    inst_close(&t);
}

static void test_jigsaw(void **state) {
    (void)state;
    jigsaw_check(2);
    jigsaw_check(3);
}

static void rpl_check(int dims) {
    inst t;
    inst_open(&t, dims == 2 ? config("rpl2", "rpl", "data.patch=[32, 32]",
                                     "method.rpl.patch_norm=false", NULL)
                            : config("rpl3", "rpl", "model.dims=3", "data.patch=[24, 24, 24]",
                                     "method.rpl.patch_norm=false", NULL));
    const tassl_ssl_custom *pc = inst_custom(&t, 0);
    assert_int_equal(pc->shape[0], 2);
    const int64_t pd = pc->shape[1], ph = pc->shape[2], pw = pc->shape[3], pv = pd * ph * pw;
    const int64_t n = dims == 2 ? 32 : 24, d = dims == 2 ? 1 : n;
    /* the patch of the auto size fits 3 patches, gaps and jitter */
    const int64_t gap = (int64_t)(0.5 * (double)ph), jit = (int64_t)(0.07 * (double)ph);
    assert_true(3 * ph + 2 * gap + 2 * jit <= n);
    tassl_image clean;
    assert_int_equal(tassl_image_new(&clean, 1, d, n, n), TASSL_OK);
    for (int64_t z = 0; z < d; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++)
                clean.data[(z * n + y) * n + x] = (float)(z * 10000 + y * 100 + x);
    int seen[26] = {0}, distinct = 0;
    const int classes = dims == 2 ? 8 : 26;
    for (uint64_t i = 0; i < 120; i++) {
        inst_prepare(&t, &clean, i);
        int lab = (int)t.out[1][0];
        assert_true(lab >= 0 && lab < classes);
        distinct += !seen[lab]++;
        int off[3];
        tassl_rpl_offset(dims, lab, off);
        /* the corners of the two patches, decoded from their first voxels */
        int64_t a = (int64_t)t.out[0][0], b = (int64_t)t.out[0][pv];
        int64_t ca[3] = {a / 10000, (a / 100) % 100, a % 100};
        int64_t cb[3] = {b / 10000, (b / 100) % 100, b % 100};
        for (int ax = 0; ax < 3; ax++) {
            int64_t stride = ax == 0 && dims == 2 ? 0 : (ax == 0 ? pd : ax == 1 ? ph : pw) + gap;
            int64_t delta = cb[ax] - ca[ax] - off[ax] * stride;
            assert_true(llabs(delta) <= jit);
        }
        /* the patches are contiguous windows: last voxel = corner + size − 1 per axis */
        int64_t last = (int64_t)t.out[0][pv - 1];
        assert_int_equal(last, a + (pd - 1) * 10000 + (ph - 1) * 100 + (pw - 1));
    }
    assert_true(distinct == classes);
    tassl_image_free(&clean);
    inst_close(&t);
}

static void test_rpl(void **state) {
    (void)state;
    rpl_check(2);
    rpl_check(3);
}

static double mean_of(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

static void test_masks(void **state) {
    (void)state;
    tassl_image clean;
    random_image(&clean, 1, 1, 16, 16, 9);
    /* SimMIM: 0.6 of a 8×8 grid of 2-pixel patches (round(38.4) = 38 of 64) */
    inst t;
    inst_open(&t, config("simmim-mask", "simmim", NULL));
    for (uint64_t i = 0; i < 4; i++) {
        inst_prepare(&t, &clean, i);
        assert_float_equal(mean_of(t.out[0], 256), 38.0 / 64.0, 1e-9);
        for (int64_t v = 0; v < 256; v++) /* constant on 2×2 patches */
            assert_true(t.out[0][v] == t.out[0][(v / 16 / 2 * 2) * 16 + (v % 16) / 2 * 2]);
    }
    inst_close(&t);
    /* in-painting: random blocks covering 1/4; the input keeps unmasked voxels and fills the
     * masked ones with the sample's mean */
    inst_open(&t, config("inp-mask", "inpainting", NULL));
    const double mu = mean_of(clean.data, 256);
    for (uint64_t i = 0; i < 4; i++) {
        inst_prepare(&t, &clean, i);
        assert_float_equal(mean_of(t.out[1], 256), 0.25, 1e-9);
        for (int64_t v = 0; v < 256; v++)
            assert_float_equal(t.out[0][v], t.out[1][v] > 0 ? (float)mu : clean.data[v], 1e-6);
    }
    inst_close(&t);
    inst_open(&t, config("inp-center", "inpainting", "method.inpainting.mask=center", NULL));
    inst_prepare(&t, &clean, 0);
    assert_float_equal(mean_of(t.out[1], 256), 0.25, 1e-9);
    assert_true(t.out[1][8 * 16 + 8] == 1.0f && t.out[1][0] == 0.0f);
    inst_close(&t);
    /* MAE: exactly round(0.75·16) = 12 of the 16 patches of a 4-pixel ViT grid */
    inst_open(&t,
              config("mae-mask", "mae", "model.arch=vit", "model.vit.patch=4", "model.vit.dim=48",
                     "model.vit.depth=1", "model.vit.heads=3", "method.mae.dec_dim=32",
                     "method.mae.dec_depth=1", "method.mae.dec_heads=4", NULL));
    assert_int_equal(inst_custom(&t, 0)->shape[3], 16);
    float first[16];
    for (uint64_t i = 0; i < 4; i++) {
        inst_prepare(&t, &clean, i);
        assert_float_equal(mean_of(t.out[0], 16), 0.75, 1e-9);
        if (i == 0) memcpy(first, t.out[0], sizeof first);
    }
    assert_memory_not_equal(first, t.out[0], sizeof first); /* a mask per sample */
    inst_close(&t);
    tassl_image_free(&clean);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_genesis_denoising(void **state) {
    (void)state;
    tassl_image clean;
    random_image(&clean, 1, 1, 16, 16, 11);
    for (int i = 0; i < 256; i++) /* a range other than [0, 1]: rescaled by the method */
        clean.data[i] = 3.0f * clean.data[i] - 1.0f;
    inst t;
    inst_open(&t, config("genesis-pair", "genesis", NULL));
    tassl_image ref;
    assert_int_equal(ssl_image_copy(&clean, &ref), TASSL_OK);
    ssl_image_minmax(&ref);
    qsort(ref.data, 256, sizeof(float), cmp_float);
    int differ = 0;
    float sorted[256];
    for (uint64_t i = 0; i < 8; i++) {
        inst_prepare(&t, &clean, i);
        differ += memcmp(t.out[0], t.out[1], sizeof sorted) != 0;
        /* the target is the rescaled sample, possibly flipped: the same values */
        memcpy(sorted, t.out[1], sizeof sorted);
        qsort(sorted, 256, sizeof(float), cmp_float);
        assert_memory_equal(sorted, ref.data, sizeof sorted);
        for (int v = 0; v < 256; v++)
            assert_true(t.out[0][v] >= -1e-6f && t.out[0][v] <= 1 + 1e-6f);
    }
    assert_true(differ >= 7); /* no transform at all has probability .5·.1·.1 */
    tassl_image_free(&ref);
    inst_close(&t);

    /* denoising: additive noise of 0.2 × the sample's std, zero mean */
    inst_open(&t, config("denoise-noise", "denoising", NULL));
    double m = mean_of(clean.data, 256), var = 0;
    for (int v = 0; v < 256; v++)
        var += (clean.data[v] - m) * (clean.data[v] - m) / 256;
    double s1 = 0, s2 = 0;
    const uint64_t reps = 8;
    for (uint64_t i = 0; i < reps; i++) {
        inst_prepare(&t, &clean, i);
        for (int v = 0; v < 256; v++) {
            double e = t.out[0][v] - clean.data[v];
            s1 += e, s2 += e * e;
        }
    }
    double nn = 256.0 * reps, em = s1 / nn, es = sqrt(s2 / nn - em * em);
    assert_true(fabs(em) < 0.05 * sqrt(var));
    assert_float_equal(es / sqrt(var), 0.2, 0.02);
    inst_close(&t);
    tassl_image_free(&clean);
}

/* ---- MAE patchify ------------------------------------------------------------------------------
 */

static void patchify_check(tassl_ctx *ctx, int dims) {
    const int p = 4;
    const int64_t N = 2, C = 2, size[3] = {8, dims == 2 ? 12 : 4, 12};
    const int64_t D = dims == 2 ? 1 : size[0], H = dims == 2 ? size[0] : size[1],
                  W = dims == 2 ? size[1] : size[2];
    const int64_t numel = N * C * D * H * W;
    float *x = malloc(sizeof(float) * (size_t)numel), *y = malloc(sizeof(float) * (size_t)numel);
    for (int64_t i = 0; i < numel; i++)
        x[i] = (float)i;
    tassl_scope_begin(ctx);
    tassl_tensor *t = dims == 2 ? tassl_from_host(ctx, TASSL_SHAPE(N, C, H, W), x)
                                : tassl_from_host(ctx, TASSL_SHAPE(N, C, D, H, W), x);
    tassl_tensor *pt = ssl_patchify(t, p);
    const int64_t gd = D / (dims == 2 ? 1 : p), gh = H / p, gw = W / p, T = gd * gh * gw;
    const int64_t pd = dims == 2 ? 1 : p, P = pd * p * p;
    assert_int_equal(pt->ndim, 3);
    assert_int_equal(pt->shape[1], T);
    assert_int_equal(pt->shape[2], P * C);
    assert_int_equal(tassl_tensor_read(pt, y), TASSL_OK);
    /* MAE's layout: token (td, th, tw) row-major, inside (zd, zh, zw, c) with c fastest */
    for (int64_t n = 0; n < N; n++)
        for (int64_t tk = 0; tk < T; tk++)
            for (int64_t q = 0; q < P * C; q++) {
                int64_t td = tk / (gh * gw), th = (tk / gw) % gh, tw = tk % gw;
                int64_t c = q % C, pix = q / C, zd = pix / (p * p), zh = (pix / p) % p,
                        zw = pix % p;
                int64_t src =
                    (((n * C + c) * D + td * pd + zd) * H + th * p + zh) * W + tw * p + zw;
                if (y[(n * T + tk) * P * C + q] != x[src])
                    fail_msg("%dD patchify: token %lld element %lld", dims, (long long)tk,
                             (long long)q);
            }
    const int64_t sz[3] = {dims == 2 ? H : D, dims == 2 ? W : H, W};
    tassl_tensor *back = ssl_unpatchify(pt, p, C, dims, sz);
    assert_int_equal(back->ndim, dims + 2);
    assert_int_equal(tassl_tensor_read(back, y), TASSL_OK);
    assert_memory_equal(x, y, sizeof(float) * (size_t)numel);
    /* the gradient of Σ w·patchify(x) reaches x unpermuted: d/dx = unpatchify(w) */
    tassl_tensor *xv = tassl_from_host(ctx, TASSL_SHAPE(numel), x);
    tassl_requires_grad_(xv, true);
    tassl_tensor *xs = dims == 2 ? tassl_reshape(xv, TASSL_SHAPE(N, C, H, W))
                                 : tassl_reshape(xv, TASSL_SHAPE(N, C, D, H, W));
    tassl_tensor *l = tassl_sum_all(tassl_mul(ssl_patchify(xs, p), pt));
    assert_int_equal(tassl_backward(l), TASSL_OK);
    assert_int_equal(tassl_tensor_read(tassl_grad(xv), y), TASSL_OK);
    assert_memory_equal(x, y, sizeof(float) * (size_t)numel);
    tassl_scope_end(ctx);
    free(x);
    free(y);
}

static void test_patchify(void **state) {
    (void)state;
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    patchify_check(ctx, 2);
    patchify_check(ctx, 3);
    assert_int_equal(tassl_ctx_status(ctx), TASSL_OK);
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static char *path_in(const char *run, const char *file) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s/%s", tmp_root, run, file);
    return buf[k];
}

static void test_preview(void **state) {
    (void)state;
    tassl_config *c = config("preview", "genesis", "ssl.preview_every=2", NULL);
    tassl_test_pretrain_ok(c, &(tassl_pretrain_opts){.no_signals = true});
    for (int step = 2; step <= 4; step += 2) {
        char name[64];
        snprintf(name, sizeof name, "preview-%06d.png", step);
        tassl_image im;
        assert_int_equal(tassl_png_read(path_in("preview", name), NULL, &im, NULL), TASSL_OK);
        assert_int_equal(im.h, 16);
        assert_int_equal(im.w, 3 * 16 + 2 * 2); /* input | corrupted | reconstruction */
        /* the three panels differ (the corrupted input is not the original) */
        double d01 = 0;
        for (int64_t y = 0; y < 16; y++)
            for (int64_t x = 0; x < 16; x++)
                d01 += fabs(im.data[y * im.w + x] - im.data[y * im.w + 18 + x]);
        assert_true(d01 > 0);
        tassl_image_free(&im);
    }
    tassl_config_free(c);
}

/* Run c for `steps` steps; the mean loss of the last 5 steps must be below (1 − drop) × that of
 * the first 5. */
static void loss_falls(tassl_config *c, const char *name, int steps, double drop) {
    tassl_test_pretrain_ok(c, &(tassl_pretrain_opts){.no_signals = true});
    double l[128];
    int n = tassl_test_read_losses(path_in(name, "metrics.jsonl"), l, 128);
    assert_int_equal(n, steps);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++)
        first += l[i] / 5, last += l[n - 5 + i] / 5;
    printf("# %-12s loss: first 5 steps %.4f, last 5 %.4f (%.0f%% lower; asserted > %.0f%%)\n",
           name, first, last, 100 * (1 - last / first), 100 * drop);
    assert_true(last < (1 - drop) * first);
    tassl_config_free(c);
}

#define STEPS(n) "train.steps=" #n

static void test_learn_rotation(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-rotation", "rotation", STEPS(25), NULL), "l-rotation", 25, 0.1);
}
static void test_learn_jigsaw(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-jigsaw", "jigsaw", STEPS(25), "data.patch=[24, 24]",
                      "method.jigsaw.permutations=10", NULL),
               "l-jigsaw", 25, 0.1);
}
static void test_learn_rpl(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(
        config("l-rpl", "rpl", STEPS(25), "data.patch=[32, 32]", "train.batch_size=16", NULL),
        "l-rpl", 25, 0.1);
}
static void test_learn_denoising(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-denoising", "denoising", STEPS(20), NULL), "l-denoising", 20, 0.3);
}
static void test_learn_inpainting(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-inpainting", "inpainting", STEPS(20), NULL), "l-inpainting", 20, 0.3);
}
static void test_learn_genesis(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-genesis", "genesis", STEPS(20), NULL), "l-genesis", 20, 0.12);
}
static void test_learn_simmim(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-simmim", "simmim", STEPS(20), NULL), "l-simmim", 20, 0.12);
}
static void test_learn_mae(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    loss_falls(config("l-mae", "mae", STEPS(25), "model.arch=vit", "model.vit.patch=4",
                      "model.vit.dim=48", "model.vit.depth=2", "model.vit.heads=3",
                      "method.mae.dec_dim=32", "method.mae.dec_depth=1", "method.mae.dec_heads=4",
                      NULL),
               "l-mae", 25, 0.1);
}
static void test_learn_3d(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    /* the 10 turns of Taleb et al., all of them for each of 2 samples per step */
    loss_falls(config("l-rotation3", "rotation", STEPS(30), "model.dims=3",
                      "data.patch=[16, 16, 16]", "model.stem=standard", "train.batch_size=2",
                      "method.rotation.all=true", NULL),
               "l-rotation3", 30, 0.1);
    loss_falls(config("l-genesis3", "genesis", STEPS(15), "model.dims=3", "data.patch=[16, 16, 16]",
                      "train.batch_size=4", NULL),
               "l-genesis3", 15, 0.12);
    loss_falls(config("l-mae3", "mae", STEPS(20), "model.dims=3", "data.patch=[16, 16, 16]",
                      "model.arch=vit", "model.vit.patch=8", "model.vit.dim=48",
                      "model.vit.depth=2", "model.vit.heads=3", "method.mae.dec_dim=24",
                      "method.mae.dec_depth=1", "method.mae.dec_heads=4", NULL),
               "l-mae3", 20, 0.1);
}

/* ---- kNN on frozen features: pretrained vs the same encoder at initialisation ---------------- */

/* ntrain / ntest: bank and query sizes, 0 for the defaults (192, 128) */
static tassl_knn_compare knn_compare(tassl_config *c, const char *name, tassl_eval_task task,
                                     int64_t ntrain, int64_t ntest) {
    tassl_knn_compare_opts o = tassl_knn_compare_opts_default();
    o.task = task;
    if (ntrain > 0) o.ntrain = ntrain;
    if (ntest > 0) o.ntest = ntest;
    o.run_dir = path_in(name, "");
    tassl_knn_compare r;
    if (tassl_knn_compare_run(c, &o, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    printf("# %-12s kNN accuracy: random init %.3f, pretrained %.3f (%lld steps)\n", name,
           r.random.accuracy, r.pretrained.accuracy, (long long)r.steps);
    tassl_config_free(c);
    return r;
}

/* relative patch location keeps where things are: the lesion's quadrant (4 classes, chance
 * 0.25) is read from the frozen features far better after 40 steps (seed 5: 0.23 → 0.41; seeds 6
 * and 7 after 60 steps: +8 and +13 points) */
static void test_knn_rpl(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_knn_compare r = knn_compare(config("knn-rpl", "rpl", STEPS(40), "data.patch=[32, 32]",
                                             "train.batch_size=32", "output.log_every=10", NULL),
                                      "knn-rpl", TASSL_EVAL_TASK_QUADRANT, 0, 0);
    assert_true(r.pretrained.accuracy > r.random.accuracy + 0.08);
}

/* denoising (generative) on lesion presence (2 classes), 120 steps of 16 samples; a kNN bank of
 * 384 phantoms and 256 queries (above the defaults, to keep the evaluation's own noise down).
 * Accuracy margins measured (pretrained − random, points) for seeds 5 / 6 / 7: pocl +4.7 / +3.1
 * / +10.5, ref +5.5 / +6.2 / +10.5, so the asserted 1.5 points is half the smallest. The other
 * generative methods and the quadrant task were tried and varied more with the seed (pocl:
 * in-painting on the quadrant +18.4 / −5.9 / +6.2, Models Genesis on lesions +5.9 / +3.1 /
 * +1.2). */
static void test_knn_denoising(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_knn_compare r = knn_compare(config("knn-denoising", "denoising", STEPS(120),
                                             "train.batch_size=16", "output.log_every=20", NULL),
                                      "knn-denoising", TASSL_EVAL_TASK_LESION, 384, 256);
    assert_int_equal(r.steps, 120);
    assert_true(r.pretrained.accuracy > r.random.accuracy + 0.015);
}

static int setup(void **state) {
    (void)state;
    if (tassl_ssl_register_config() != TASSL_OK) return -1;
    return tassl_test_tmp_setup(tmp_root, device, sizeof device);
}

static int teardown(void **state) {
    (void)state;
    return tassl_test_rm_rf(tmp_root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_2d),
        cmocka_unit_test(test_rotation_3d),
        cmocka_unit_test(test_jigsaw),
        cmocka_unit_test(test_rpl),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_genesis_denoising),
        cmocka_unit_test(test_patchify),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_learn_rotation),
        cmocka_unit_test(test_learn_jigsaw),
        cmocka_unit_test(test_learn_rpl),
        cmocka_unit_test(test_learn_denoising),
        cmocka_unit_test(test_learn_inpainting),
        cmocka_unit_test(test_learn_genesis),
        cmocka_unit_test(test_learn_simmim),
        cmocka_unit_test(test_learn_mae),
        cmocka_unit_test(test_learn_3d),
        cmocka_unit_test(test_knn_rpl),
        cmocka_unit_test(test_knn_denoising),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
