/* test_config.c — configuration: registry, YAML parsing (types, defaults, ranges, enums, lists),
 * every error path with its FILE:LINE:COL and "did you mean", --set parsing and errors, the
 * resolved-config round trip, and sections registered at run time. No device needed. */
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
#include "tassl/config.h"

static tassl_config *fresh(void) {
    tassl_config *c;
    assert_int_equal(tassl_config_new(&c), TASSL_OK);
    return c;
}

/* Loading `text` must fail with a message containing every one of the NULL-terminated strings,
 * and must leave the configuration unchanged. */
static void expect_error(const char *text, ...) {
    tassl_config *c = fresh(), *before;
    assert_int_equal(tassl_config_copy(c, &before), TASSL_OK);
    tassl_status s = tassl_config_load_string(c, text, "t.yaml");
    const char *msg = tassl_last_error();
    if (s == TASSL_OK) fail_msg("accepted:\n%s", text);
    va_list ap;
    va_start(ap, text);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(msg, want)) fail_msg("message \"%s\" lacks \"%s\" for:\n%s", msg, want, text);
    va_end(ap);
    assert_true(tassl_config_equal(c, before));
    tassl_config_free(before);
    tassl_config_free(c);
}

static void expect_set_error(const char *assignment, ...) {
    tassl_config *c = fresh();
    tassl_status s = tassl_config_set(c, assignment);
    const char *msg = tassl_last_error();
    if (s == TASSL_OK) fail_msg("--set accepted: %s", assignment);
    va_list ap;
    va_start(ap, assignment);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(msg, want)) fail_msg("message \"%s\" lacks \"%s\"", msg, want);
    va_end(ap);
    tassl_config_free(c);
}

static void test_registry(void **state) {
    (void)state;
    int n = tassl_config_key_count();
    assert_true(n >= 40);
    for (int i = 0; i < n; i++) {
        const tassl_cfg_key *k = tassl_config_key_at(i);
        assert_non_null(k->help);
        assert_true(strlen(k->help) > 5);
        assert_ptr_equal(tassl_config_key_find(k->name), k);
        if (i) { /* sorted segment by segment: a section's keys are contiguous */
            const char *p = tassl_config_key_at(i - 1)->name;
            assert_true(strcmp(p, k->name) != 0);
        }
    }
    const char *sections[] = {"data.",     "model.", "method.", "optim.",
                              "schedule.", "train.", "output."};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        int first = -1, last = -1;
        for (int i = 0; i < n; i++)
            if (strncmp(tassl_config_key_at(i)->name, sections[s], strlen(sections[s])) == 0) {
                if (first < 0) first = i;
                last = i;
            }
        assert_true(first >= 0);
        for (int i = first; i <= last; i++)
            assert_memory_equal(tassl_config_key_at(i)->name, sections[s], strlen(sections[s]));
    }
    assert_non_null(tassl_config_key_find("device"));
    assert_non_null(tassl_config_key_find("seed"));
    assert_null(tassl_config_key_find("model"));
    assert_string_equal(tassl_config_suggest("model.dpeth"), "model.depth");
    assert_string_equal(tassl_config_suggest("train.lr"), "optim.lr");
    assert_null(tassl_config_suggest("completely.unrelated.thing"));
}

static void test_defaults(void **state) {
    (void)state;
    tassl_config *c = fresh();
    assert_int_equal(tassl_config_int(c, "model.depth"), 10);
    assert_true(tassl_config_float(c, "optim.lr") == 0.1);
    assert_false(tassl_config_bool(c, "optim.nesterov"));
    assert_string_equal(tassl_config_str(c, "optim.name"), "sgd");
    assert_string_equal(tassl_config_str(c, "output.name"), "");
    assert_string_equal(tassl_config_str(c, "device"), "auto");
    assert_int_equal(tassl_config_list_len(c, "optim.betas"), 2);
    assert_true(tassl_config_list_float(c, "optim.betas", 1) == 0.999);
    assert_int_equal(tassl_config_list_len(c, "schedule.milestones"), 0);
    assert_false(tassl_config_is_set(c, "model.depth"));
    tassl_config_free(c);
}

static void test_parse_types(void **state) {
    (void)state;
    tassl_config *c = fresh();
    const char *text = "# a comment\n"
                       "model:\n"
                       "  depth: 18\n"
                       "  width: 2          # an integer literal for a float key\n"
                       "  stem: small\n"
                       "optim:\n"
                       "  name: adamw\n"
                       "  lr: 3e-4\n"
                       "  nesterov: yes\n"
                       "  betas: [0.8, 0.95]\n"
                       "  no_decay:\n"
                       "    - bias\n"
                       "    - 'encoder.*.bn?.weight'\n"
                       "schedule.milestones: [100, 200]\n"
                       "output:\n"
                       "  name: \"my run: 1\"\n"
                       "device: ref\n"
                       "seed: 42\n";
    assert_int_equal(tassl_config_load_string(c, text, "t.yaml"), TASSL_OK);
    assert_int_equal(tassl_config_int(c, "model.depth"), 18);
    assert_true(tassl_config_float(c, "model.width") == 2.0);
    assert_string_equal(tassl_config_str(c, "model.stem"), "small");
    assert_string_equal(tassl_config_str(c, "optim.name"), "adamw");
    assert_true(tassl_config_float(c, "optim.lr") == 3e-4);
    assert_true(tassl_config_bool(c, "optim.nesterov"));
    assert_int_equal(tassl_config_list_len(c, "optim.betas"), 2);
    assert_true(tassl_config_list_float(c, "optim.betas", 0) == 0.8);
    assert_int_equal(tassl_config_list_len(c, "optim.no_decay"), 2);
    assert_string_equal(tassl_config_list_str(c, "optim.no_decay", 1), "encoder.*.bn?.weight");
    assert_int_equal(tassl_config_list_int(c, "schedule.milestones", 1), 200);
    assert_string_equal(tassl_config_str(c, "output.name"), "my run: 1");
    assert_string_equal(tassl_config_str(c, "device"), "ref");
    assert_int_equal(tassl_config_int(c, "seed"), 42);
    assert_true(tassl_config_is_set(c, "model.depth"));
    assert_false(tassl_config_is_set(c, "train.steps"));
    /* a later file overrides only what it names */
    assert_int_equal(tassl_config_load_string(c, "model: {depth: 34}\n", "u.yaml"), TASSL_OK);
    assert_int_equal(tassl_config_int(c, "model.depth"), 34);
    assert_string_equal(tassl_config_str(c, "model.stem"), "small");
    /* empty documents are all defaults */
    assert_int_equal(tassl_config_load_string(c, "", "e.yaml"), TASSL_OK);
    assert_int_equal(tassl_config_load_string(c, "# only a comment\n", "e.yaml"), TASSL_OK);
    assert_int_equal(tassl_config_load_string(c, "---\n", "e.yaml"), TASSL_OK);
    /* bools: true/false/on/off in any case; empty list */
    assert_int_equal(tassl_config_load_string(c,
                                              "optim: {nesterov: Off}\nschedule: "
                                              "{milestones: []}\n",
                                              "b.yaml"),
                     TASSL_OK);
    assert_false(tassl_config_bool(c, "optim.nesterov"));
    assert_int_equal(tassl_config_list_len(c, "schedule.milestones"), 0);
    tassl_config_free(c);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("model:\n  dpeth: 18\n", "t.yaml:2:3:", "unknown key 'model.dpeth'",
                 "did you mean 'model.depth'", NULL);
    expect_error("modle:\n  depth: 18\n", "t.yaml:1:1:", "unknown key 'modle'",
                 "did you mean 'model'", NULL);
    expect_error("train:\n  lr: 0.1\n", "t.yaml:2:3:", "did you mean 'optim.lr'", NULL);
    expect_error("zzzzzz: 1\n", "t.yaml:1:1:", "unknown key 'zzzzzz'", NULL);
    expect_error("model:\n  depth: abc\n", "t.yaml:2:10:", "model.depth: expected an integer",
                 "'abc'", NULL);
    expect_error("model:\n  depth: 50\n", "t.yaml:2:10:", "50 is not one of 10|18|34", NULL);
    expect_error("model:\n  depth: 1.5\n", "t.yaml:2:10:", "expected an integer", NULL);
    expect_error("model:\n  depth: 99999999999999999999\n", "t.yaml:2:10:", "64-bit", NULL);
    expect_error("optim:\n  lr: 0\n", "t.yaml:2:7:", "optim.lr: 0 is out of range (0, 1000]", NULL);
    expect_error("optim:\n  lr: .nan\n", "t.yaml:2:7:", "optim.lr", NULL);
    expect_error("optim:\n  lr: nan\n", "t.yaml:2:7:", "finite", NULL);
    expect_error("optim:\n  name: adam\n", "t.yaml:2:9:", "'adam' is not one of sgd|adamw|lars",
                 NULL);
    expect_error("optim:\n  nesterov: maybe\n", "t.yaml:2:13:", "expected true or false", NULL);
    expect_error("optim:\n  betas: [0.9, 2]\n",
                 "t.yaml:2:16:", "optim.betas[1]: 2 is out of range [0, 1)", NULL);
    expect_error("optim:\n  betas: 0.9\n", "t.yaml:2:10:", "expected a list of floats", NULL);
    expect_error("optim:\n  betas: [[0.9], 0.9]\n", "t.yaml:2:11:", "lists do not nest", NULL);
    expect_error("model:\n  depth: [10]\n", "t.yaml:2:10:", "expected an int, got a list", NULL);
    expect_error("model: 5\n", "t.yaml:1:8:", "'model' is a section", NULL);
    expect_error("model:\n  depth:\n    x: 1\n",
                 "t.yaml:3:5:", "'model.depth' is a single int value, not a section", NULL);
    expect_error("model:\n  depth: 18\n  depth: 34\n",
                 "t.yaml:3:3:", "duplicate key 'model.depth' (first given at line 2)", NULL);
    expect_error("model.depth: 18\nmodel:\n  depth: 10\n", "t.yaml:3:3:", "duplicate key", NULL);
    expect_error("model:\n  depth: 18\nmodel:\n  stem: small\n",
                 "t.yaml:3:1:", "duplicate key 'model'", NULL);
    expect_error("model:\n  depth: \"18\"\n", "t.yaml:2:10:", "remove the quotes", NULL);
    expect_error("model:\n  depth:\n", "t.yaml:", "expected an integer, got nothing", NULL);
    expect_error("model:\n  stem:\n", "t.yaml:", "'' is not one of standard|small", NULL);
    expect_error("optim:\n  betas: [0.9, 0.99\n", "t.yaml:", "malformed YAML", NULL);
    expect_error("model: {depth: 18\n", "t.yaml:", "malformed YAML", NULL);
    expect_error("model:\n  depth: 18\n bad indentation\n", "t.yaml:", "malformed YAML", NULL);
    expect_error("- a\n- b\n", "t.yaml:1:1:", "expected a mapping of sections", NULL);
    expect_error("model: &a {depth: 18}\noptim: *a\n", "t.yaml:2:8:", "aliases", NULL);
    expect_error("model: {depth: 18}\n---\nseed: 2\n", "t.yaml:2:1:", "one YAML document", NULL);
    expect_error("? [a, b]\n: 1\n", "t.yaml:1:3:", "expected a key name", NULL);
    /* the first error wins and nothing is applied (checked inside expect_error) */
    expect_error("seed: 5\nmodel:\n  depth: 11\n", "t.yaml:3:10:", NULL);
}

static void test_files(void **state) {
    (void)state;
    tassl_config *c = fresh();
    assert_int_equal(tassl_config_load_file(c, "/nonexistent/dir/x.yaml"), TASSL_ERR_IO);
    assert_non_null(strstr(tassl_last_error(), "/nonexistent/dir/x.yaml"));
    char path[] = "/tmp/tassl_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "model:\n  depth: 18\n  widht: 2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(tassl_config_load_file(c, path), TASSL_ERR_ARG);
    char want[128];
    snprintf(want, sizeof want, "%s:3:3: unknown key 'model.widht' (did you mean 'model.width'?)",
             path);
    assert_string_equal(tassl_last_error(), want);
    unlink(path);
    tassl_config_free(c);
}

static void test_set(void **state) {
    (void)state;
    tassl_config *c = fresh();
    assert_int_equal(tassl_config_set(c, "model.depth=18"), TASSL_OK);
    assert_int_equal(tassl_config_int(c, "model.depth"), 18);
    assert_true(tassl_config_is_set(c, "model.depth"));
    assert_int_equal(tassl_config_set(c, "optim.betas=0.8,0.99"), TASSL_OK);
    assert_true(tassl_config_list_float(c, "optim.betas", 1) == 0.99);
    assert_int_equal(tassl_config_set(c, "optim.betas=[0.5, 0.6]"), TASSL_OK);
    assert_true(tassl_config_list_float(c, "optim.betas", 0) == 0.5);
    assert_int_equal(tassl_config_set(c, "schedule.milestones=[]"), TASSL_OK);
    assert_int_equal(tassl_config_list_len(c, "schedule.milestones"), 0);
    assert_int_equal(tassl_config_set(c, "optim.no_decay=bias"), TASSL_OK);
    assert_int_equal(tassl_config_list_len(c, "optim.no_decay"), 1);
    assert_int_equal(tassl_config_set(c, "output.name=a b=c"), TASSL_OK);
    assert_string_equal(tassl_config_str(c, "output.name"), "a b=c");
    assert_int_equal(tassl_config_set(c, "output.name="), TASSL_OK);
    assert_string_equal(tassl_config_str(c, "output.name"), "");
    assert_int_equal(tassl_config_set(c, "optim.nesterov=true"), TASSL_OK);
    assert_true(tassl_config_bool(c, "optim.nesterov"));
    assert_int_equal(tassl_config_set(c, "optim.lr=0.5"), TASSL_OK);
    assert_true(tassl_config_float(c, "optim.lr") == 0.5);
    tassl_config_free(c);

    expect_set_error("model.depth", "--set model.depth:", "expected KEY=VALUE", NULL);
    expect_set_error("=3", "expected KEY=VALUE", NULL);
    expect_set_error("model.dpth=18", "--set model.dpth=18: unknown key 'model.dpth'",
                     "did you mean 'model.depth'", NULL);
    expect_set_error("model.depth=abc", "--set model.depth=abc: model.depth: expected an integer",
                     NULL);
    expect_set_error("model.depth=12", "--set model.depth=12:", "not one of 10|18|34", NULL);
    expect_set_error("optim.lr=-1", "--set optim.lr=-1:", "out of range", NULL);
    expect_set_error("optim.name=adam", "--set optim.name=adam:", "not one of", NULL);
    expect_set_error("model=3", "--set model=3: 'model' is a section", NULL);
    expect_set_error("optim.betas=[0.9, 1.5]", "optim.betas[1]: 1.5 is out of range", NULL);
    expect_set_error("optim.betas=[0.9", "--set optim.betas=[0.9:", "malformed", NULL);
    expect_set_error("model.depth={a: 1}", "got a mapping", NULL);
    expect_set_error("model.depth=", "expected an integer, got nothing", NULL);
}

static void test_round_trip(void **state) {
    (void)state;
    tassl_config *c = fresh(), *d = fresh();
    /* defaults round-trip */
    char *s = tassl_config_to_string(c);
    assert_non_null(s);
    assert_int_equal(tassl_config_load_string(d, s, "resolved"), TASSL_OK);
    assert_true(tassl_config_equal(c, d));
    free(s);
    /* awkward values */
    const char *sets[] = {"optim.lr=0.1",
                          "optim.eps=1.2345678901234567e-9",
                          "optim.weight_decay=0.30000000000000004",
                          "model.width=3",
                          "optim.betas=[0.1, 0.7]",
                          "optim.no_decay=[\"a: b\", 'it''s', \"tab\\there\", \"#x\", yes, \"10\"]",
                          "output.name=\"quo\\\"te \\\\ back\\nslash é\"",
                          "output.dir=/tmp/some where",
                          "device=opencl:0:0",
                          "seed=9000000000000000000",
                          "schedule.milestones=[5, 10, 20]",
                          "optim.nesterov=true",
                          "optim.name=lars"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (tassl_config_set(c, sets[i]) != TASSL_OK) fail_msg("%s", tassl_last_error());
    assert_string_equal(tassl_config_list_str(c, "optim.no_decay", 1), "it's");
    assert_string_equal(tassl_config_list_str(c, "optim.no_decay", 4), "yes");
    assert_string_equal(tassl_config_str(c, "output.name"), "quo\"te \\ back\nslash é");
    assert_false(tassl_config_equal(c, d));
    s = tassl_config_to_string(c);
    assert_non_null(s);
    assert_non_null(strstr(s, "# ResNet depth"));
    tassl_config_free(d);
    d = fresh();
    if (tassl_config_load_string(d, s, "resolved") != TASSL_OK)
        fail_msg("%s\n---\n%s", tassl_last_error(), s);
    assert_true(tassl_config_equal(c, d));
    assert_true(tassl_config_float(d, "optim.eps") == 1.2345678901234567e-9);
    /* short floats stay short */
    assert_non_null(strstr(s, "lr: 0.1 "));
    free(s);
    /* through a file */
    char path[] = "/tmp/tassl_test_cfgsave_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tassl_config_save(c, path), TASSL_OK);
    tassl_config *e = fresh();
    assert_int_equal(tassl_config_load_file(e, path), TASSL_OK);
    assert_true(tassl_config_equal(c, e));
    unlink(path);
    tassl_config_free(e);
    tassl_config_free(d);
    tassl_config_free(c);
}

/* A section registered at run time, as a later layer would. */
static const tassl_cfg_key extra_keys[] = {
    {"testsec.alpha", TASSL_CFG_INT, "3", "[1, 5]", NULL, "a test key"},
    {"testsec.mode", TASSL_CFG_ENUM, "x", NULL, "x|y", "a test enum"},
    {"testsec.sub.tau", TASSL_CFG_FLOAT, "0.5", "(0, 1)", NULL, "a nested test key"},
};
static const tassl_cfg_choice extra_choices[] = {{"method.name", "testmethod"},
                                                 {"testsec.mode", "z"}};
static const tassl_cfg_section extra = {"testsec", extra_keys, 3, extra_choices, 2};

static const tassl_cfg_key dup_keys[] = {{"model.depth", TASSL_CFG_INT, "10", NULL, NULL, "dup"}};
static const tassl_cfg_key bad_default[] = {
    {"testbad.k", TASSL_CFG_INT, "7", "[0, 5]", NULL, "default out of range"}};
static const tassl_cfg_key bad_range[] = {
    {"testbad.r", TASSL_CFG_INT, "1", "0..5", NULL, "malformed range"}};
static const tassl_cfg_key bad_name[] = {{"Test.Upper", TASSL_CFG_INT, "1", NULL, NULL, "name"}};
static const tassl_cfg_key leaf_section[] = {{"model", TASSL_CFG_INT, "1", NULL, NULL, "clash"}};
static const tassl_cfg_choice bad_choice[] = {{"model.depth", "50"}};

static void test_register(void **state) {
    (void)state;
    int before = tassl_config_key_count();
    assert_int_equal(tassl_config_register(&extra), TASSL_OK);
    assert_int_equal(tassl_config_key_count(), before + 3);
    const tassl_cfg_section bads[] = {
        {"dup", dup_keys, 1, NULL, 0},        {"bad_default", bad_default, 1, NULL, 0},
        {"bad_range", bad_range, 1, NULL, 0}, {"bad_name", bad_name, 1, NULL, 0},
        {"leaf", leaf_section, 1, NULL, 0},   {"choice", NULL, 0, bad_choice, 1},
        {"again", extra_keys, 3, NULL, 0},
    };
    const char *why[] = {"already registered",       "out of range",
                         "malformed range",          "malformed key name",
                         "both a key and a section", "not a registered enum",
                         "already registered"};
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        assert_int_equal(tassl_config_register(&bads[i]), TASSL_ERR_ARG);
        if (!strstr(tassl_last_error(), why[i]))
            fail_msg("%s: \"%s\" lacks \"%s\"", bads[i].name, tassl_last_error(), why[i]);
    }
    assert_int_equal(tassl_config_key_count(), before + 3);
    tassl_config *c = fresh();
    assert_int_equal(tassl_config_int(c, "testsec.alpha"), 3);
    assert_int_equal(tassl_config_load_string(c,
                                              "method:\n  name: testmethod\ntestsec:\n  mode: z\n"
                                              "  sub:\n    tau: 0.25\n",
                                              "t.yaml"),
                     TASSL_OK);
    assert_string_equal(tassl_config_str(c, "method.name"), "testmethod");
    assert_true(tassl_config_float(c, "testsec.sub.tau") == 0.25);
    assert_non_null(strstr(tassl_config_key_choices(tassl_config_key_find("method.name")),
                           "supervised|testmethod"));
    expect_error("testsec:\n  sub:\n    tua: 0.5\n",
                 "t.yaml:3:5:", "did you mean 'testsec.sub.tau'", NULL);
    char *s = tassl_config_to_string(c);
    tassl_config *d = fresh();
    assert_int_equal(tassl_config_load_string(d, s, "resolved"), TASSL_OK);
    assert_true(tassl_config_equal(c, d));
    assert_non_null(strstr(s, "testsec:\n  alpha: 3"));
    assert_non_null(strstr(s, "  sub:\n    tau: 0.25"));
    free(s);
    tassl_config_free(d);
    tassl_config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),    cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_types), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_files),       cmocka_unit_test(test_set),
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_register),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
