/* test_hybrid.c — the hybrid presets in configs/ (weighted sets of methods on one encoder):
 *   - every preset loads and builds in 2D and 3D: the members, their weights and prefixes, the
 *     heads under "<member>.", one step's loss is the weighted sum of the members' losses with
 *     the components named per member (contrastive + Genesis restoration, TransVW/PCRL-like;
 *     rotation + contrastive + in-painting, Swin UNETR's recipe with weights 1/1/1; SimCLR +
 *     the pathology-aware anomaly task), and other weights given with --set are honoured;
 *   - learning: a short seeded run of the SimCLR + Genesis and SimCLR + anomaly presets lowers
 *     every member's loss, and the SimCLR + anomaly hybrid's frozen features beat random
 *     initialisation on held-out phantoms (kNN, eval.h).
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
#include <unistd.h>
#include <cmocka.h>
#include "tassl/eval.h"
#include "tassl/ops.h"
#include "tassl/tassl.h"
#include "test_util.h"

static char tmp_root[] = "/tmp/tassl_test_hybrid_XXXXXX";
static char device[64];

/* configs/<name> next to this file's folder (meson runs tests in the build directory) */
static const char *config_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash) {
        snprintf(slash, sizeof buf - (size_t)(slash - buf), "/../configs/%s", name);
        if (access(buf, R_OK) == 0) return buf;
    }
    const char *pre[] = {"../configs/", "configs/", "../../configs/"};
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s%s", pre[i], name);
        if (access(buf, R_OK) == 0) return buf;
    }
    fail_msg("configs/%s not found", name);
    return NULL;
}

/* a preset + device + output dir + the NULL-terminated overrides */
static tassl_config *preset(const char *file, ...) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    if (tassl_config_load_file(c, config_path(file)) != TASSL_OK)
        fail_msg("%s", tassl_last_error());
    char a[512];
    snprintf(a, sizeof a, "device=%s", device);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    snprintf(a, sizeof a, "output.dir=%s", tmp_root);
    assert_int_equal(tassl_config_set(c, a), TASSL_OK);
    assert_int_equal(tassl_config_set(c, "output.progress=none"), TASSL_OK);
    va_list ap;
    va_start(ap, file);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (tassl_config_set(c, s) != TASSL_OK) fail_msg("%s: %s", s, tassl_last_error());
    va_end(ap);
    return c;
}

typedef struct expect {
    const char *file;
    int nmembers;
    const char *members[3];
    const char *head[3];    /* a parameter each member's head declares */
    const char *loss[3];    /* the member's loss component (the others are diagnostics) */
    const char *extra_comp; /* another component that must be reported, or NULL */
} expect;

static const expect presets[] = {
    {"hybrid-simclr-genesis-2d.yaml",
     2,
     {"simclr", "genesis"},
     {"simclr.projector.layers.0.linear.weight", "genesis.decoder.head.weight"},
     {"simclr.nt_xent", "genesis.mse"},
     NULL},
    {"hybrid-simclr-genesis-3d.yaml",
     2,
     {"simclr", "genesis"},
     {"simclr.projector.layers.0.linear.weight", "genesis.decoder.head.weight"},
     {"simclr.nt_xent", "genesis.mse"},
     NULL},
    {"hybrid-swinunetr-2d.yaml",
     3,
     {"rotation", "simclr", "inpainting"},
     {NULL, "simclr.projector.layers.1.linear.weight", "inpainting.decoder.head.weight"},
     {"rotation.ce", "simclr.nt_xent", "inpainting.l1"},
     "rotation.acc"},
    {"hybrid-swinunetr-3d.yaml",
     3,
     {"rotation", "simclr", "inpainting"},
     {NULL, "simclr.projector.layers.1.linear.weight", "inpainting.decoder.head.weight"},
     {"rotation.ce", "simclr.nt_xent", "inpainting.l1"},
     "rotation.acc"},
    {"hybrid-simclr-anomaly-2d.yaml",
     2,
     {"simclr", "anomaly"},
     {"simclr.projector.layers.0.norm.weight", "anomaly.decoder.head.weight"},
     {"simclr.nt_xent", "anomaly.bce"},
     "anomaly.dice"},
};

/* one step of the preset: weighted sum, names; weights may be overridden ("" = the preset's) */
static void check_preset(tassl_ctx *ctx, const expect *e, const char *weights, const float *w) {
    char ws[128] = "output.name=x";
    if (*weights) snprintf(ws, sizeof ws, "method.hybrid.weights=%s", weights);
    /* smaller samples and batches than the preset: the structure is what is tested here */
    bool three = strstr(e->file, "-3d") != NULL;
    tassl_config *c = preset(e->file, ws, three ? "data.patch=[16, 32, 32]" : "data.patch=[32, 32]",
                             "train.batch_size=4", NULL);
    tassl_ssl *s;
    tassl_rng_seed(ctx, 1);
    if (tassl_ssl_new(c, ctx, &s) != TASSL_OK) fail_msg("%s: %s", e->file, tassl_last_error());
    assert_int_equal(tassl_ssl_members(s), e->nmembers);
    tassl_params *p = tassl_ssl_params(s);
    assert_non_null(tassl_params_find(p, "encoder.conv1.weight"));
    for (int m = 0; m < e->nmembers; m++) {
        assert_string_equal(tassl_ssl_member_method(s, m)->name, e->members[m]);
        char pre[64];
        snprintf(pre, sizeof pre, "%s.", e->members[m]);
        assert_string_equal(tassl_ssl_member_prefix(s, m), pre);
        if (e->head[m] && !tassl_params_find(p, e->head[m]))
            fail_msg("%s: no parameter %s", e->file, e->head[m]);
    }
    tassl_scope_begin(ctx);
    tassl_ssl_batch b;
    if (tassl_ssl_load_batch(s, 0, &b) != TASSL_OK) fail_msg("%s", tassl_last_error());
    const char *names[32];
    tassl_tensor *comp[32], *emb, *prev[3];
    int nc;
    tassl_tensor *loss = tassl_ssl_loss(s, &b, 32, names, comp, &nc, &emb, prev);
    if (!loss) fail_msg("%s: %s", e->file, tassl_ctx_error_message(ctx));
    double want = 0;
    bool extra = e->extra_comp == NULL;
    for (int m = 0; m < e->nmembers; m++) {
        int k = -1;
        for (int i = 0; i < nc; i++)
            if (strcmp(names[i], e->loss[m]) == 0) k = i;
        if (k < 0) fail_msg("%s: no component %s", e->file, e->loss[m]);
        double v = tassl_item(comp[k]);
        assert_true(isfinite(v));
        /* the anomaly member's loss is BCE + Dice */
        if (strcmp(e->members[m], "anomaly") == 0)
            for (int i = 0; i < nc; i++)
                if (strcmp(names[i], "anomaly.dice") == 0) v += tassl_item(comp[i]);
        want += w[m] * v;
    }
    for (int i = 0; i < nc; i++)
        extra = extra || strcmp(names[i], e->extra_comp) == 0;
    assert_true(extra);
    float total = tassl_item(loss);
    if (fabs(total - want) > 1e-4 * (1 + fabs(want)))
        fail_msg("%s (weights %s): loss %g, weighted sum of the members %g", e->file, weights,
                 (double)total, want);
    assert_non_null(emb);
    tassl_scope_end(ctx);
    tassl_ssl_free(s);
    tassl_config_free(c);
}

static void test_presets(void **state) {
    (void)state;
    tassl_device *dev;
    assert_int_equal(tassl_device_open(device, &dev), TASSL_OK);
    tassl_ctx *ctx = tassl_ctx_new(dev);
    const float ones[3] = {1, 1, 1}, other[3] = {0.5f, 2, 0.25f};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        check_preset(ctx, &presets[i], "", ones);
        if (strstr(presets[i].file, "-2d"))
            check_preset(ctx, &presets[i], presets[i].nmembers == 2 ? "[0.5, 2]" : "[0.5, 2, 0.25]",
                         other);
    }
    tassl_ctx_free(ctx);
    tassl_device_free(dev);
}

/* losses.<name> of the metrics.jsonl lines of run `run`: mean of the first and last k */
static void first_last(const char *run, const char *name, int k, double *first, double *last) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", tmp_root, run);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    double v[256];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 256) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o) fail_msg("%s: %s", path, err.text);
        json_t *x = json_object_get(json_object_get(o, "losses"), name);
        if (!x) fail_msg("%s: no losses.%s", path, name);
        v[n++] = json_real_value(x);
        json_decref(o);
    }
    fclose(f);
    assert_true(n >= 2 * k);
    *first = *last = 0;
    for (int i = 0; i < k; i++)
        *first += v[i] / k, *last += v[n - k + i] / k;
}

static void test_learning_simclr_genesis(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_config *c =
        preset("hybrid-simclr-genesis-2d.yaml", "output.name=sg", "seed=3", "train.steps=20",
               "train.batch_size=12", "train.ckpt_every=0", "model.width=0.125",
               "schedule.warmup_steps=3", "optim.lr=0.006", "output.log_every=1",
               "ssl.monitor_every=0", "ssl.preview_every=0", "data.aug.preset=none",
               "data.aug.set=[\"crop=resized\", \"crop_scale=0.5,1\", "
               "\"flip_p=0,0.5,0.5\"]",
               NULL);
    tassl_pretrain_opts o = {.quiet = true};
    if (tassl_pretrain(c, &o) != TASSL_OK) fail_msg("%s", tassl_last_error());
    double f0, l0, f1, l1;
    first_last("sg", "simclr.nt_xent", 5, &f0, &l0);
    first_last("sg", "genesis.mse", 5, &f1, &l1);
    printf("# simclr+genesis: nt_xent %.4f -> %.4f, genesis mse %.4f -> %.4f\n", f0, l0, f1, l1);
    assert_true(l0 < f0 - 0.1);
    assert_true(l1 < 0.8 * f1);
    tassl_config_free(c);
}

static void test_learning_simclr_anomaly(void **state) {
    (void)state;
    TASSL_SKIP_LEARNING_IF_QUICK();
    tassl_config *c = preset("hybrid-simclr-anomaly-2d.yaml", "seed=7", "train.steps=30",
                             "train.batch_size=12", "train.ckpt_every=0", "schedule.warmup_steps=3",
                             "optim.lr=0.005", "output.log_every=1", "ssl.monitor_every=0",
                             "ssl.preview_every=0", "model.width=0.125", "data.aug.preset=none",
                             "data.aug.set=[\"crop=resized\", \"crop_scale=0.5,1\", "
                             "\"noise_p=0.5\", \"noise_std=0,0.1\"]",
                             NULL);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sa", tmp_root);
    tassl_knn_compare_opts ko = tassl_knn_compare_opts_default();
    ko.run_dir = dir;
    tassl_knn_compare r;
    if (tassl_knn_compare_run(c, &ko, &r) != TASSL_OK) fail_msg("%s", tassl_last_error());
    double f0, l0, f1, l1;
    first_last("sa", "simclr.nt_xent", 5, &f0, &l0);
    first_last("sa", "anomaly.bce", 5, &f1, &l1);
    printf("# simclr+anomaly: nt_xent %.4f -> %.4f, anomaly bce %.4f -> %.4f; kNN lesion "
           "presence random %.3f, pretrained %.3f\n",
           f0, l0, f1, l1, r.random.accuracy, r.pretrained.accuracy);
    assert_true(l0 < f0 - 0.1);
    assert_true(l1 < 0.8 * f1);
    assert_true(r.pretrained.accuracy > r.random.accuracy + 0.08);
    tassl_config_free(c);
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
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_learning_simclr_genesis),
        cmocka_unit_test(test_learning_simclr_anomaly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
