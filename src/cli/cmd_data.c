/* cmd_data.c — `tassl data prepare | synth | check`: build the real datasets (installing the
 * Debian packages that ship them when missing), write synthetic phantoms, validate a manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include <time.h>
#include "tassl/augment.h"
#include "tassl/dataset.h"

void tassl_cmd_data_help(FILE *out) {
    fprintf(out,
            "usage: tassl data prepare [--dir DATA] [--no-install] [--patch P] [--per-class N] [--seed S]\n"
            "                          [--only pool|colin]\n"
            "       tassl data synth --out DIR [--dim 2|3] [--n N] [--seed S] [--size N]\n"
            "       tassl data check MANIFEST [--root DIR]\n\n"
            "prepare  install the Debian packages that ship real images when missing (mricron-data,\n"
            "         insighttoolkit5-examples, invesalius-examples, python3-imageio; needs root and\n"
            "         the package archive), then build DATA/pool (unlabelled pretraining pool) and\n"
            "         DATA/colin27 (brain mask and lobe segmentation, lobe classification, subcortical\n"
            "         detection; slab splits along z). DATA defaults to $TASSL_DATA_DIR or ./data.\n"
            "synth    seeded phantoms with inserted lesions: images/, masks/, manifest.csv with labels\n"
            "         (lesion present), masks and boxes, split 60/20/20 (default 2D 128x128 or 3D 64^3,\n"
            "         n 100, seed 0).\n"
            "check    read a manifest (format: docs/DATA.md), check every file and the splits, and\n"
            "         print a summary.\n");
}

static int pkg_installed(const char *pkg) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "dpkg-query -W -f='${Status}' %s 2>/dev/null | grep -q 'install ok installed'", pkg);
    return system(cmd) == 0;
}

/* install missing packages; returns 0 when all present afterwards (or only optional ones miss) */
static int ensure_packages(void) {
    static const char *pkgs[] = {"mricron-data", "insighttoolkit5-examples", "invesalius-examples",
                                 "python3-imageio"};
    char missing[512] = "";
    int nmiss = 0;
    for (int i = 0; i < 4; i++)
        if (!pkg_installed(pkgs[i])) {
            strcat(missing, " ");
            strcat(missing, pkgs[i]);
            nmiss++;
        }
    if (nmiss == 0) return 0;
    if (geteuid() != 0) {
        fprintf(stderr,
                "tassl data prepare: missing packages:%s\n"
                "  install them as root:  apt-get install --no-install-recommends%s\n"
                "  (continuing with the files that are present)\n", missing, missing);
        return 1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends%s", missing);
    fprintf(stderr, "tassl data prepare: installing%s\n", missing);
    if (system(cmd) != 0) {
        fprintf(stderr, "tassl data prepare: install failed; running apt-get update and retrying\n");
        if (system("apt-get update -q") != 0 || system(cmd) != 0) {
            fprintf(stderr,
                    "tassl data prepare: could not install%s (offline, or no Debian archive?);\n"
                    "  continuing with the files that are present\n", missing);
            return 1;
        }
    }
    return 0;
}

static int cmd_prepare(int argc, char **argv) {
    tassl_prepare_opts o = tassl_prepare_opts_default();
    const char *env = getenv("TASSL_DATA_DIR");
    if (env && *env) o.dir = env;
    int install = 1;
    for (int i = 1; i < argc; i++) {
        int miss = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--dir", &miss))) o.dir = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--patch", &miss))) o.patch = atoll(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--per-class", &miss))) o.cls_per_class = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--seed", &miss))) o.seed = strtoull(v, NULL, 10);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--only", &miss))) {
            if (!strcmp(v, "pool")) o.colin = 0;
            else if (!strcmp(v, "colin")) o.pool = 0;
            else {
                fprintf(stderr, "tassl data prepare: --only %s (expected pool or colin)\n", v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--no-install")) install = 0;
        else {
            fprintf(stderr, "tassl data prepare: unknown option '%s' (see tassl data --help)\n", argv[i]);
            return 2;
        }
        if (miss) {
            fprintf(stderr, "tassl data prepare: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (install) ensure_packages();
    o.log = stdout;
    tassl_status st = tassl_data_prepare(&o);
    if (st != TASSL_OK) {
        fprintf(stderr, "tassl data prepare: %s\n", tassl_last_error());
        return 1;
    }
    printf("data prepared under %s (manifests: %s/pool/*.csv, %s/colin27/*.csv)\n", o.dir, o.dir, o.dir);
    return 0;
}

static int cmd_synth(int argc, char **argv) {
    int dim = 2;
    long long n = 100, size = 0;
    unsigned long long seed = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        int miss = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--dim", &miss))) dim = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--n", &miss))) n = atoll(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--seed", &miss))) seed = strtoull(v, NULL, 10);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--size", &miss))) size = atoll(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--out", &miss))) out = v;
        else {
            fprintf(stderr, "tassl data synth: unknown option '%s'\n", argv[i]);
            return 2;
        }
        if (miss) {
            fprintf(stderr, "tassl data synth: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!out || (dim != 2 && dim != 3)) {
        fprintf(stderr, "tassl data synth: needs --out DIR, and --dim 2 or 3\n");
        return 2;
    }
    tassl_synth_opts o = tassl_synth_opts_default(dim);
    o.seed = seed;
    if (size > 0) {
        o.size[1] = o.size[2] = size;
        if (dim == 3) o.size[0] = size;
    }
    tassl_status st = tassl_synth_write(&o, n, out);
    if (st != TASSL_OK) {
        fprintf(stderr, "tassl data synth: %s\n", tassl_last_error());
        return 1;
    }
    printf("%lld %dD cases in %s (manifest.csv)\n", n, dim, out);
    return 0;
}

static int cmd_check(int argc, char **argv) {
    const char *path = NULL, *root = NULL;
    for (int i = 1; i < argc; i++) {
        int miss = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--root", &miss))) root = v;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "tassl data check: unexpected '%s'\n", argv[i]);
            return 2;
        }
        if (miss) return 2;
    }
    if (!path) {
        fprintf(stderr, "tassl data check: needs a MANIFEST\n");
        return 2;
    }
    tassl_manifest m;
    if (tassl_manifest_read(&m, path, root) != TASSL_OK) {
        fprintf(stderr, "tassl data check: %s\n", tassl_last_error());
        return 1;
    }
    int nsplit[4] = {0}, nbox = 0, nmask = 0;
    for (int i = 0; i < m.n; i++) {
        nsplit[m.rec[i].split + 1]++;
        nbox += m.rec[i].nboxes;
        nmask += m.rec[i].mask != NULL;
    }
    printf("%s: %d rows (train %d, val %d, test %d, unassigned %d), %d classes, %d masks, %d boxes\n",
           path, m.n, nsplit[1], nsplit[2], nsplit[3], nsplit[0], m.nclasses, nmask, nbox);
    printf("root %s; every file present; no subject in two splits\n", m.root);
    tassl_manifest_free(&m);
    return 0;
}

/* ---- hidden: `tassl data bench` (tools/bench-data) ---------------------------------------- */

typedef struct bench_tf {
    int genesis; /* 1: Models Genesis (input, target); 0: the augmentation config */
    tassl_genesis_config g;
    tassl_aug_config a;
} bench_tf;

static tassl_status bench_transform(void *user, tassl_sample *s, tassl_sample_out *out, uint64_t seed,
                                    int64_t index, int64_t epoch) {
    const bench_tf *t = user;
    size_t n = (size_t)(s->image.channels * tassl_image_voxels(&s->image));
    if (t->genesis) {
        for (size_t i = 0; i < n; i++) /* Genesis expects [0, 1] */
            s->image.data[i] = s->image.data[i] < 0 ? 0 : (s->image.data[i] > 1 ? 1 : s->image.data[i]);
        tassl_image in, tg;
        memset(&in, 0, sizeof in), memset(&tg, 0, sizeof tg);
        tassl_status st = tassl_genesis_apply(&t->g, &s->image, &in, &tg, seed, (uint64_t)index, (uint64_t)epoch);
        if (st == TASSL_OK) {
            memcpy(out->view[0], in.data, n * sizeof(float));
            if (out->target) memcpy(out->target, tg.data, n * sizeof(float));
        }
        tassl_image_free(&in), tassl_image_free(&tg);
        return st;
    }
    tassl_aug_sample as;
    memset(&as, 0, sizeof as);
    as.image = &s->image;
    if (s->mask.data) as.label = &s->mask;
    tassl_status st = tassl_aug_apply(&t->a, &as, seed, (uint64_t)index, (uint64_t)epoch, NULL);
    if (st == TASSL_OK) memcpy(out->view[0], s->image.data, n * sizeof(float));
    return st;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_bench(int argc, char **argv) {
    const char *manifest = NULL, *mode = "genesis";
    int dim = 2, threads = 1, batch = 128, batches = 4;
    for (int i = 1; i < argc; i++) {
        int miss = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--manifest", &miss))) manifest = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--mode", &miss))) mode = v;
        else if ((v = tassl_cli_opt(argc, argv, &i, "--dim", &miss))) dim = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--threads", &miss))) threads = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--batch", &miss))) batch = atoi(v);
        else if ((v = tassl_cli_opt(argc, argv, &i, "--batches", &miss))) batches = atoi(v);
        else {
            fprintf(stderr, "tassl data bench: unknown option '%s'\n", argv[i]);
            return 2;
        }
        if (miss) return 2;
    }
    char tmp[64] = "";
    if (!manifest) { /* synthetic volumes as the source */
        snprintf(tmp, sizeof tmp, "/tmp/tassl-bench-data-XXXXXX");
        if (!mkdtemp(tmp)) return 1;
        tassl_synth_opts so = tassl_synth_opts_default(3);
        so.size[0] = 64, so.size[1] = so.size[2] = 160;
        if (tassl_synth_write(&so, 4, tmp) != TASSL_OK) {
            fprintf(stderr, "tassl data bench: %s\n", tassl_last_error());
            return 1;
        }
    }
    char mp[128];
    snprintf(mp, sizeof mp, "%s/manifest.csv", tmp);
    tassl_manifest m;
    tassl_status st = tassl_manifest_read(&m, manifest ? manifest : mp, NULL);
    tassl_dataset_opts o = tassl_dataset_opts_default();
    o.dim = dim;
    if (dim == 3) o.patch[0] = 32, o.patch[1] = o.patch[2] = 64;
    o.samples_per_image = (batch * batches + m.n - 1) / (m.n ? m.n : 1);
    bench_tf tf;
    memset(&tf, 0, sizeof tf);
    tf.genesis = !strcmp(mode, "genesis");
    tassl_genesis_config_default(&tf.g);
    if (!tf.genesis) {
        tassl_aug_config_default(&tf.a);
        if (st == TASSL_OK) st = tassl_aug_preset(mode, &tf.a);
        tf.a.crop = TASSL_CROP_NONE; /* the loader's patch is the crop */
    }
    tassl_dataset *ds = NULL;
    tassl_loader *ld = NULL;
    if (st == TASSL_OK) st = tassl_dataset_open(&ds, &m, &o);
    tassl_loader_opts lo = tassl_loader_opts_default();
    lo.batch = batch;
    lo.threads = threads;
    lo.want_target = tf.genesis;
    lo.transform = bench_transform;
    lo.transform_user = &tf;
    if (st == TASSL_OK) st = tassl_loader_open(&ld, ds, &lo);
    double t0 = now_s(), first = 0;
    int64_t samples = 0;
    int nb = 0;
    while (st == TASSL_OK) {
        const tassl_batch *b;
        int done;
        st = tassl_loader_next(ld, &b, &done);
        if (st != TASSL_OK || done) break;
        if (nb == 0) first = now_s() - t0; /* includes decoding the volumes once */
        else samples += b->n;
        nb++;
    }
    double dt = now_s() - t0 - first;
    if (st == TASSL_OK)
        printf("loader %s %dD patch %lldx%lldx%lld batch %d threads %d: %.1f samples/s, %.3f s/batch "
               "(first batch %.2f s incl. decoding)\n", mode, dim, (long long)o.patch[0],
               (long long)o.patch[1], (long long)o.patch[2], batch, threads,
               samples / (dt > 0 ? dt : 1e-9), nb > 1 ? dt / (nb - 1) : 0.0, first);
    else
        fprintf(stderr, "tassl data bench: %s\n", tassl_last_error());
    tassl_loader_close(ld);
    tassl_dataset_close(ds);
    tassl_manifest_free(&m);
    if (tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "tassl data bench: could not remove %s\n", tmp);
    }
    return st == TASSL_OK ? 0 : 1;
}

int tassl_cmd_data(int argc, char **argv) {
    if (argc < 2) {
        tassl_cmd_data_help(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "prepare")) return cmd_prepare(argc - 1, argv + 1);
    if (!strcmp(argv[1], "synth")) return cmd_synth(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return cmd_bench(argc - 1, argv + 1); /* tools/bench-data */
    fprintf(stderr, "tassl data: unknown subcommand '%s' (prepare, synth, check)\n", argv[1]);
    return 2;
}
