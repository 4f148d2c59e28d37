/* test_run.c — run directories and `tassl train` at the library level (tassl_train):
 *   - a tiny run (configs/tiny.yaml) leaves config.yaml (reading back to the same config),
 *     metrics.jsonl (every line JSON with step, epoch, losses, lr, samples_per_s, mem_bytes,
 *     wall_s; evaluation results on the last), train.log, and only the last train.keep_last
 *     checkpoints, the newest named by `latest`;
 *   - an existing run directory is never overwritten without --force / resume;
 *   - resume: 2N steps straight vs N steps, stop, resume to 2N give bit-identical checkpoints on
 *     the reference backend (parameters, running statistics, optimiser state), and metrics
 *     lines past the checkpoint (an interrupted run's) are dropped;
 *   - unsupported combinations are refused naming the key, before anything is created;
 *   - the encoder export holds exactly the encoder's tensors;
 *   - `tassl train` takes the run directory as --out DIR or --run DIR (the same option), once.
 * The device is $TASSL_TEST_DEVICE, else the OpenCL CPU device, else ref (the resume test always
 * uses ref, where bit-exactness is promised). */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "test_util.h"
#include "tassl/checkpoint.h"
#include "tassl/config.h"
#include "tassl/run.h"
#include "tassl/tassl.h"

static char tmp_root[] = "/tmp/tassl_test_run_XXXXXX";
static char device[64];

static const char *tiny_path(void) {
    /* __FILE__ is relative to the build directory, where meson runs the tests */
    static const char *cands[] = {"../configs/tiny.yaml", "configs/tiny.yaml",
                                  "../../configs/tiny.yaml"};
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash) {
        snprintf(slash, sizeof buf - (size_t)(slash - buf), "/../configs/tiny.yaml");
        if (access(buf, R_OK) == 0) return buf;
    }
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], R_OK) == 0) return cands[i];
    return NULL;
}

/* configs/tiny.yaml + device + output.dir = tmp_root + the NULL-terminated overrides */
static tassl_config *tiny(const char *name, ...) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    const char *path = tiny_path();
    assert_non_null(path);
    if (tassl_config_load_file(c, path) != TASSL_OK) fail_msg("%s", tassl_last_error());
    va_list ap;
    va_start(ap, name);
    tassl_status st = tassl_test_config_point(c, device, tmp_root, name, ap);
    va_end(ap);
    if (st != TASSL_OK) fail_msg("%s", tassl_last_error());
    return c;
}

static char *path_in(const char *run, const char *file) {
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s%s", tmp_root, run, *file ? "/" : "", file);
    return buf[k];
}

static void train_ok(const tassl_config *c, const tassl_train_opts *o) {
    tassl_train_opts q = o ? *o : (tassl_train_opts){0};
    q.quiet = true;
    if (tassl_train(c, &q) != TASSL_OK) fail_msg("tassl_train: %s", tassl_last_error());
}

/* checkpoint files of a run directory, sorted */
static int list_ckpts(const char *dir, char names[][64], int max) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && n < max && strlen(e->d_name) < 64)
            memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
    closedir(d);
    for (int i = 0; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            memcpy(t, names[j], 64);
            memcpy(names[j], names[j - 1], 64);
            memcpy(names[j - 1], t, 64);
        }
    return n;
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void test_run_dir(void **state) {
    (void)state;
    tassl_config *c = tiny("basic", "train.steps=6", "train.ckpt_every=2", "train.keep_last=2",
                           "train.eval_every=3", NULL);
    train_ok(c, NULL);

    /* config.yaml: the resolved configuration, reading back to the same values */
    tassl_config *back;
    assert_int_equal(tassl_config_new(&back), TASSL_OK);
    assert_int_equal(tassl_config_load_file(back, path_in("basic", "config.yaml")), TASSL_OK);
    assert_true(tassl_config_equal(c, back));
    tassl_config_free(back);

    /* metrics.jsonl: a line per step (log_every 1), each a JSON object with the fields */
    FILE *f = fopen(path_in("basic", "metrics.jsonl"), "r");
    assert_non_null(f);
    char line[4096];
    int n = 0, evals = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o) fail_msg("metrics.jsonl line %d: %s: %s", n + 1, err.text, line);
        assert_true(json_is_object(o));
        assert_int_equal(json_integer_value(json_object_get(o, "step")), n + 1);
        assert_true(json_is_number(json_object_get(o, "epoch")));
        /* 8 samples per step of a 256-sample training set */
        assert_true(fabs(json_number_value(json_object_get(o, "epoch")) - (n + 1) * 8.0 / 256) <
                    1e-9);
        json_t *losses = json_object_get(o, "losses");
        assert_true(json_is_object(losses));
        double loss = json_number_value(json_object_get(losses, "loss"));
        assert_true(isfinite(loss) && loss > 0 && loss < 10);
        /* warmup from 0 over 2 steps: lr 0 at the first step, then positive */
        assert_true(json_number_value(json_object_get(o, "lr")) >= 0);
        if (n > 0) assert_true(json_number_value(json_object_get(o, "lr")) > 0);
        assert_true(json_number_value(json_object_get(o, "samples_per_s")) > 0);
        assert_true(json_is_integer(json_object_get(o, "mem_bytes")));
        assert_true(json_integer_value(json_object_get(o, "mem_bytes")) > 0);
        assert_true(json_number_value(json_object_get(o, "wall_s")) >= 0);
        json_t *acc = json_object_get(o, "val_accuracy");
        if (acc) {
            evals++;
            assert_true(json_number_value(acc) >= 0 && json_number_value(acc) <= 1);
            assert_true(json_is_number(json_object_get(o, "val_loss")));
        }
        json_decref(o);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 6);
    assert_int_equal(evals, 2); /* steps 3 and 6 */

    /* train.log: the resolved config and the end */
    f = fopen(path_in("basic", "train.log"), "r");
    assert_non_null(f);
    char all[65536];
    size_t len = fread(all, 1, sizeof all - 1, f);
    all[len] = 0;
    fclose(f);
    assert_non_null(strstr(all, "depth: 10"));
    assert_non_null(strstr(all, "held-out accuracy"));
    assert_non_null(strstr(all, "finished at step 6"));

    /* keep-last-2 of checkpoints at 2, 4, 6; latest names the newest */
    char names[16][64];
    int k = list_ckpts(path_in("basic", ""), names, 16);
    assert_int_equal(k, 2);
    assert_string_equal(names[0], "ckpt-000004.safetensors");
    assert_string_equal(names[1], "ckpt-000006.safetensors");
    char latest[4096];
    assert_int_equal(tassl_ckpt_latest(path_in("basic", ""), latest, sizeof latest), TASSL_OK);
    assert_non_null(strstr(latest, "ckpt-000006.safetensors"));
    tassl_st *st;
    assert_int_equal(tassl_st_open(latest, &st), TASSL_OK);
    assert_true(tassl_st_find(st, "encoder.conv1.weight") >= 0);
    assert_true(tassl_st_find(st, "encoder.layer4.0.bn2.running_var") >= 0);
    assert_true(tassl_st_find(st, "fc.weight") >= 0);
    assert_true(tassl_st_find(st, "optimizer.fc.weight.momentum_buffer") >= 0);
    assert_string_equal(tassl_st_meta(st, "step"), "6");
    assert_non_null(strstr(tassl_st_meta(st, "config"), "depth: 10"));
    tassl_st_close(st);

    /* export: the encoder only, torchvision names */
    char *out = path_in("basic", "encoder.safetensors");
    assert_int_equal(tassl_st_export(latest, out, "encoder.", true), TASSL_OK);
    assert_int_equal(tassl_st_open(out, &st), TASSL_OK);
    assert_true(tassl_st_find(st, "conv1.weight") >= 0);
    for (int i = 0; i < tassl_st_count(st); i++) {
        const char *nm = tassl_st_name(st, i);
        assert_true(strncmp(nm, "fc.", 3) != 0 && strncmp(nm, "optimizer.", 10) != 0 &&
                    strncmp(nm, "encoder.", 8) != 0);
    }
    tassl_st_close(st);
    unlink(out);
    tassl_config_free(c);
}

static void test_no_overwrite(void **state) {
    (void)state;
    tassl_config *c = tiny("twice", "train.steps=2", "schedule.warmup_steps=0", NULL);
    train_ok(c, NULL);
    int lines = count_lines(path_in("twice", "metrics.jsonl"));
    assert_int_equal(lines, 2);
    tassl_train_opts o = {.quiet = true};
    assert_int_equal(tassl_train(c, &o), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "exists"));
    assert_non_null(strstr(tassl_last_error(), "--resume"));
    assert_int_equal(count_lines(path_in("twice", "metrics.jsonl")), lines);
    /* a stranger's file in the directory survives --force */
    FILE *f = fopen(path_in("twice", "notes.txt"), "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    o.force = true;
    train_ok(c, &o);
    assert_int_equal(count_lines(path_in("twice", "metrics.jsonl")), 2);
    assert_int_equal(count_lines(path_in("twice", "notes.txt")), 1);
    /* resuming a directory that is not a run */
    tassl_train_opts r = {.quiet = true, .resume = path_in("nothing-here", "")};
    assert_int_equal(tassl_train(c, &r), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "not a run directory"));
    tassl_config_free(c);
}

static void test_unsupported(void **state) {
    (void)state;
    tassl_config *c = tiny("never", "model.dims=3", NULL);
    tassl_train_opts o = {.quiet = true};
    assert_int_equal(tassl_train(c, &o), TASSL_ERR_UNSUPPORTED);
    assert_non_null(strstr(tassl_last_error(), "model.dims"));
    assert_int_equal(access(path_in("never", ""), F_OK), -1); /* nothing created */
    tassl_config_free(c);
    c = tiny("never", "schedule.name=step", NULL);
    assert_int_equal(tassl_train(c, &o), TASSL_ERR_ARG);
    assert_non_null(strstr(tassl_last_error(), "schedule.step_size"));
    tassl_config_free(c);
}

/* all tensors of two safetensors files identical, bit for bit */
static void expect_same_ckpt(const char *a, const char *b) {
    tassl_st *sa, *sb;
    assert_int_equal(tassl_st_open(a, &sa), TASSL_OK);
    assert_int_equal(tassl_st_open(b, &sb), TASSL_OK);
    assert_int_equal(tassl_st_count(sa), tassl_st_count(sb));
    int checked = 0;
    for (int i = 0; i < tassl_st_count(sa); i++) {
        int j = tassl_st_find(sb, tassl_st_name(sa, i));
        if (j < 0) fail_msg("%s missing in %s", tassl_st_name(sa, i), b);
        int64_t n = tassl_st_nbytes(sa, i);
        assert_int_equal(n, tassl_st_nbytes(sb, j));
        unsigned char *x = malloc((size_t)n + 1), *y = malloc((size_t)n + 1);
        assert_int_equal(tassl_st_read_raw(sa, i, x), TASSL_OK);
        assert_int_equal(tassl_st_read_raw(sb, j, y), TASSL_OK);
        if (memcmp(x, y, (size_t)n) != 0) fail_msg("%s differs", tassl_st_name(sa, i));
        free(x);
        free(y);
        checked++;
    }
    assert_true(checked > 20);
    assert_string_equal(tassl_st_meta(sa, "step"), tassl_st_meta(sb, "step"));
    assert_string_equal(tassl_st_meta(sa, "optimizer.step"), tassl_st_meta(sb, "optimizer.step"));
    tassl_st_close(sa);
    tassl_st_close(sb);
}

static void test_resume(void **state) {
    (void)state;
    char saved[64];
    snprintf(saved, sizeof saved, "%s", device);
    snprintf(device, sizeof device, "ref");
    /* AdamW exercises two state buffers and the step count (bias correction) */
    tassl_config *a = tiny("straight", "train.steps=6", "train.ckpt_every=0", "optim.name=adamw",
                           "optim.lr=0.003", "optim.weight_decay=0.01", NULL);
    train_ok(a, NULL);
    tassl_config *b = tiny("resumed", "train.steps=6", "train.ckpt_every=0", "optim.name=adamw",
                           "optim.lr=0.003", "optim.weight_decay=0.01", NULL);
    tassl_train_opts o = {.stop_after = 3};
    train_ok(b, &o);
    assert_int_equal(count_lines(path_in("resumed", "metrics.jsonl")), 3);
    /* an interrupted run may have logged past its last checkpoint: a line for step 4 */
    FILE *f = fopen(path_in("resumed", "metrics.jsonl"), "a");
    assert_non_null(f);
    fputs("{\"step\": 4, \"losses\": {\"loss\": 1}}\n{\"step\": 5, \"los", f);
    fclose(f);
    /* resume as the CLI does: the run's config.yaml */
    tassl_config *rc;
    assert_int_equal(tassl_config_new(&rc), TASSL_OK);
    assert_int_equal(tassl_config_load_file(rc, path_in("resumed", "config.yaml")), TASSL_OK);
    tassl_train_opts r = {.resume = path_in("resumed", "")};
    train_ok(rc, &r);
    expect_same_ckpt(path_in("straight", "ckpt-000006.safetensors"),
                     path_in("resumed", "ckpt-000006.safetensors"));
    /* metrics: steps 1..6 once each, the stale step-4 line and the torn line gone */
    f = fopen(path_in("resumed", "metrics.jsonl"), "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *o2 = json_loads(line, 0, &err);
        assert_non_null(o2);
        assert_int_equal(json_integer_value(json_object_get(o2, "step")), ++n);
        json_decref(o2);
    }
    fclose(f);
    assert_int_equal(n, 6);
    /* resuming a finished run does nothing */
    train_ok(rc, &r);
    assert_int_equal(count_lines(path_in("resumed", "metrics.jsonl")), 6);
    tassl_config_free(rc);
    tassl_config_free(a);
    tassl_config_free(b);
    snprintf(device, sizeof device, "%s", saved);
}

static int setup(void **state) {
    (void)state;
    return tassl_test_tmp_setup(tmp_root, device, sizeof device);
}

static int teardown(void **state) {
    (void)state;
    return tassl_test_rm_rf(tmp_root);
}

/* `tassl train` (and pretrain, same parser): --out DIR and --run DIR both name the run
 * directory; giving it twice is a usage error (exit 2) that creates nothing. */
static void test_cli_out(void **state) {
    (void)state;
    const char *exe = tassl_exe(), *cfg = tiny_path();
    if (access(exe, X_OK) != 0) fail_msg("%s: not executable (set TASSL_EXE)", exe);
    assert_non_null(cfg);
    char cmd[4096];
    const char *opt[2] = {"--out", "--run"}, *name[2] = {"cli-out", "cli-run"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "'%s' train -c '%s' --set device=%s --set train.steps=3 %s '%s' --quiet",
                 exe, cfg, device, opt[k], path_in(name[k], ""));
        assert_int_equal(WEXITSTATUS(system(cmd)), 0);
        assert_int_equal(access(path_in(name[k], "config.yaml"), R_OK), 0);
        assert_int_equal(access(path_in(name[k], "latest"), R_OK), 0);
    }
    snprintf(cmd, sizeof cmd, "'%s' train -c '%s' --out '%s' --run '%s' --quiet 2>/dev/null", exe, cfg,
             path_in("cli-both", ""), path_in("cli-both2", ""));
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    assert_int_equal(access(path_in("cli-both", ""), F_OK), -1);
    assert_int_equal(access(path_in("cli-both2", ""), F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_dir),
        cmocka_unit_test(test_no_overwrite),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_cli_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
