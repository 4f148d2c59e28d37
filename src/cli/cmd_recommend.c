/* cmd_recommend.c — `tassl recommend`: modality, task, dimensionality, label budget and memory in;
 * the recommended paradigm, method, augmentation, encoder, patch/batch and schedule out, each
 * with the reason and source of the rule that chose it (configs/recommend.yaml), and a
 * ready-to-run pretraining config (--out). Exit status: 0 done, 1 failure (rule table, nothing
 * fits, writing), 2 usage (a missing or bad option, named). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "tassl/task.h"
#include "tassl/device.h"
#include "tassl/recommend.h"
#include "tassl/ssl.h"

void tassl_cmd_recommend_help(FILE *out) {
    fprintf(
        out,
        "usage: tassl recommend --modality M --task T --dims 2|3 --labels FRACTION_OR_COUNT\n"
        "                       [--target lesion|anatomy|unknown] [--memory GB] [--device SPEC]\n"
        "                       [--data MANIFEST] [--unlabelled N] [--out config.yaml] [--force]\n"
        "                       [--rules FILE]\n"
        "       tassl recommend --estimate CONFIG [--set KEY=VALUE ...]\n\n"
        "Turns the review's design guidelines (a rule table, configs/recommend.yaml; see\n"
        "docs/RECOMMEND.md) into a pretraining recommendation: paradigm and method, modality\n"
        "augmentation, encoder, the patch and batch that fit the memory, and the schedule, each\n"
        "with the reason and source of the rule that chose it.\n"
        "  --modality M   %s\n"
        "  --task T       %s (mixed = several or not yet known)\n"
        "  --dims D       2 (slices) or 3 (volumes)\n"
        "  --labels L     the label budget: a fraction (0.05 or 5%%) or a count of labelled\n"
        "                 cases (an integer > 1, e.g. 300)\n"
        "  --target T     %s (default unknown): lesion = pathology-aware pretext\n"
        "  --memory GB    memory for one training step (default: --device's memory, else 4)\n"
        "  --device SPEC  take the memory budget from this device (tassl devices)\n"
        "  --data FILE    a manifest for data.source: manifest (default: synthetic phantoms)\n"
        "  --unlabelled N images (2D) or volumes (3D) there are to pretrain on (default: the\n"
        "                 --data manifest's records, else unknown)\n"
        "  --out FILE     write the ready-to-run config (tassl pretrain -c FILE)\n"
        "  --force        replace an existing --out file\n"
        "  --rules FILE   the rule table (default: $TASSL_RECOMMEND_RULES, configs/recommend.yaml\n"
        "                 in the current folder or next to the program's source tree)\n"
        "  --estimate CONFIG  only print the memory estimate of a pretraining config\n",
        tassl_rec_modalities, tassl_rec_tasks, tassl_rec_targets);
}

/* the default rule table: the environment, ./configs, then relative to the executable */
static const char *find_rules(char *buf, size_t len) {
    const char *env = getenv("TASSL_RECOMMEND_RULES");
    if (env && *env) return env;
    if (access("configs/recommend.yaml", R_OK) == 0) return "configs/recommend.yaml";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[] = {"/../configs/recommend.yaml", "/../share/tassl/recommend.yaml",
                             "/../../configs/recommend.yaml"};
        for (int i = 0; i < 3; i++) {
            snprintf(buf, len, "%s%s", exe, rel[i]);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    return "configs/recommend.yaml"; /* the error will name it */
}

static int usage_err(const char *fmt, const char *a) {
    fprintf(stderr, "tassl recommend: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, " (see tassl recommend --help)\n");
    return 2;
}

/* write atomically next to the target; never replace an existing file without --force */
static int write_out(const char *path, const char *text, bool force) {
    struct stat st;
    if (!force && stat(path, &st) == 0) {
        fprintf(stderr, "tassl recommend: --out %s exists (use --force to replace it)\n", path);
        return 1;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "tassl recommend: --out %s: cannot write: %s\n", path, strerror(errno));
        return 1;
    }
    bool ok = fputs(text, f) >= 0;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "tassl recommend: --out %s: cannot write: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

/* `tassl recommend --estimate CONFIG [--set KEY=VALUE ...]`: the memory estimate of a config */
static int estimate(int argc, char **argv) {
    tassl_cli_run_args a;
    tassl_config *cfg;
    if (tassl_task_register_config() != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        return 1;
    }
    /* the run-config parser takes -c FILE and --set; --estimate is its -c */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return 1;
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "--estimate") == 0 ? (char *)"-c" : argv[i];
    int rc = tassl_cli_run_config("recommend", argc, args, &a, &cfg);
    free(args);
    if (rc) return rc;
    tassl_mem_estimate e;
    if (tassl_mem_estimate_config(cfg, &e) != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        tassl_config_free(cfg);
        return 1;
    }
    printf("params %lld  param_bytes %lld  act_elems %lld  act_bytes %lld  scratch_bytes %lld  "
           "pool_bytes %lld  total_bytes %lld\n",
           (long long)e.params, (long long)e.param_bytes, (long long)e.act_elems,
           (long long)e.act_bytes, (long long)e.scratch_bytes, (long long)e.pool_bytes,
           (long long)e.total_bytes);
    tassl_config_free(cfg);
    return 0;
}

int tassl_cmd_recommend(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--estimate") == 0) return estimate(argc, argv);
    tassl_rec_query q = {0};
    const char *labels = NULL, *memory = NULL, *device = NULL, *out = NULL, *rules = NULL,
               *dims = NULL, *unlabelled = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--modality", &missing)))
            q.modality = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--task", &missing)))
            q.task = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--dims", &missing)))
            dims = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--labels", &missing)))
            labels = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--target", &missing)))
            q.target = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--memory", &missing)))
            memory = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--device", &missing)))
            device = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--data", &missing)))
            q.data = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--unlabelled", &missing)))
            unlabelled = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &missing)))
            out = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--rules", &missing)))
            rules = v;
        else if (!missing && strcmp(argv[i], "--force") == 0)
            force = true;
        else if (!missing)
            return usage_err("unknown argument '%s'", argv[i]);
        if (missing) return usage_err("%s needs a value", argv[i]);
    }
    if (!q.modality) return usage_err("--modality is required (%s)", tassl_rec_modalities);
    if (!q.task) return usage_err("--task is required (%s)", tassl_rec_tasks);
    if (!dims) return usage_err("--dims is required (%s)", "2 or 3");
    if (!labels)
        return usage_err("--labels is required (%s)", "a fraction like 0.05 or 5%, or a count");
    char *e;
    long d = strtol(dims, &e, 10);
    if (*e || (d != 2 && d != 3)) return usage_err("--dims: '%s' is not 2 or 3", dims);
    q.dims = (int)d;
    if (tassl_rec_parse_labels(labels, &q.label_fraction, &q.label_count) != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        return 2;
    }
    q.memory_bytes = 4e9;
    if (memory) {
        double gb = strtod(memory, &e);
        if (e == memory || *e || !(gb > 0) || gb > 1e6)
            return usage_err("--memory: '%s' is not a size in GB (e.g. 4 or 0.5)", memory);
        q.memory_bytes = gb * 1e9;
    } else if (device) {
        tassl_device *dev;
        if (tassl_device_open(device, &dev) != TASSL_OK) {
            fprintf(stderr, "tassl recommend: --device %s: %s\n", device, tassl_last_error());
            return 1;
        }
        q.memory_bytes = (double)tassl_device_get_info(dev)->global_mem;
        tassl_device_free(dev);
    }
    if (unlabelled) {
        long long n = strtoll(unlabelled, &e, 10);
        if (e == unlabelled || *e || n < 1)
            return usage_err("--unlabelled: '%s' is not a count of images (an integer >= 1)", unlabelled);
        q.unlabelled = n;
    }
    if (tassl_rec_query_check(&q) != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        return 2;
    }
    if (tassl_task_register_config() != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        return 1;
    }
    char buf[PATH_MAX + 64];
    if (!rules) rules = find_rules(buf, sizeof buf);
    tassl_rec_table *t;
    if (tassl_rec_table_load(rules, &t) != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        return 1;
    }
    tassl_recommendation *r;
    if (tassl_recommend(t, &q, &r) != TASSL_OK) {
        fprintf(stderr, "tassl recommend: %s\n", tassl_last_error());
        tassl_rec_table_free(t);
        return 1;
    }
    tassl_rec_print(r, stdout);
    int rc = 0;
    if (out) {
        char *yaml = tassl_rec_config_yaml(r);
        tassl_config *c = NULL;
        if (!yaml) {
            fprintf(stderr, "tassl recommend: out of memory\n");
            rc = 1;
        } else if (tassl_config_new(&c) != TASSL_OK ||
                   tassl_config_load_string(c, yaml, out) != TASSL_OK) {
            /* never write a config that does not validate */
            fprintf(stderr, "tassl recommend: the written config would not validate: %s\n",
                    tassl_last_error());
            rc = 1;
        } else {
            rc = write_out(out, yaml, force);
            if (rc == 0) printf("\nconfig written to %s (run: tassl pretrain -c %s)\n", out, out);
        }
        tassl_config_free(c);
        free(yaml);
    }
    tassl_recommendation_free(r);
    tassl_rec_table_free(t);
    return rc;
}
