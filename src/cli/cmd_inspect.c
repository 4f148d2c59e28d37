/* cmd_inspect.c — `tassl inspect FILE`: what a user checks first about an image file.
 *
 * Prints one "key: value" line per fact (stable keys, so scripts and the tests can read it):
 * the header as stored (dims, pixdim, datatype, scaling, offsets, xform codes and matrices), the
 * orientation of the file and of the canonical image, the decoded image's size and spacing,
 * intensity statistics and, for integer data with at most TASSL_STATS_MAX_LABELS values, the
 * count of each label. `--montage OUT.png` writes a grid of axial slices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "tassl/io.h"

void tassl_cmd_inspect_help(FILE *out) {
    fprintf(out,
            "usage: tassl inspect FILE [--montage OUT.png] [--slices N] [--volume T] [--labels]\n"
            "                         [--header-only]\n\n"
            "Print what a PNG or NIfTI (.nii, .nii.gz) file holds: header dims, pixdim, datatype,\n"
            "scl_slope/scl_inter, vox_offset, qform/sform codes and matrices, orientation of the file\n"
            "and of the canonical (RAS) image tassl works on, spacing, intensity min/max/mean/std,\n"
            "percentiles 1/5/50/95/99, NaN/Inf count, and the count of each value when the data\n"
            "are integers with at most 128 distinct values (a label map).\n\n"
            "  --montage OUT.png  write a grid of N axial slices (8-bit grey, p1..p99 window,\n"
            "                     anterior up, patient's right on the right)\n"
            "  --slices N         slices in the montage (default 16)\n"
            "  --volume T         which volume of a 4D file (default 0)\n"
            "  --labels           list value counts up to 1024 distinct integer values\n"
            "  --header-only      print the header facts only, without decoding voxels\n");
}

static void print_mat(const char *key, double m[4][4]) {
    for (int r = 0; r < 3; r++)
        printf("%s_row%d: %.9g %.9g %.9g %.9g\n", key, r, m[r][0], m[r][1], m[r][2], m[r][3]);
}

static const char *units_name(int u) {
    switch (u) {
    case 1: return "m";
    case 2: return "mm";
    case 3: return "um";
    case 0: return "unknown";
    }
    return "other";
}

int tassl_cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *montage = NULL;
    int slices = 16, header_only = 0, all_labels = 0;
    long long volume = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = tassl_cli_opt(argc, argv, &i, "--montage", &missing))) {
            montage = v;
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--slices", &missing))) {
            char *end;
            slices = (int)strtol(v, &end, 10);
            if (*end || slices < 1) {
                fprintf(stderr, "tassl inspect: --slices %s: expected a positive integer\n", v);
                return 2;
            }
        } else if ((v = tassl_cli_opt(argc, argv, &i, "--volume", &missing))) {
            char *end;
            volume = strtoll(v, &end, 10);
            if (*end || volume < 0) {
                fprintf(stderr, "tassl inspect: --volume %s: expected an integer >= 0\n", v);
                return 2;
            }
        } else if (strcmp(argv[i], "--header-only") == 0) {
            header_only = 1;
        } else if (strcmp(argv[i], "--labels") == 0) {
            all_labels = 1;
        } else if (missing) {
            fprintf(stderr, "tassl inspect: %s needs a value\n", argv[i]);
            return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "tassl inspect: unknown option '%s' (see tassl inspect --help)\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "tassl inspect: one file at a time ('%s' and '%s')\n", path, argv[i]);
            return 2;
        }
    }
    if (!path) {
        tassl_cmd_inspect_help(stderr);
        return 2;
    }
    tassl_image_info info;
    tassl_image img;
    memset(&img, 0, sizeof img);
    tassl_status s;
    if (header_only) {
        s = tassl_image_read_info(path, &info);
    } else {
        tassl_read_opts o = tassl_read_opts_default();
        o.volume = volume;
        s = tassl_image_read(path, &o, &img, &info);
    }
    if (s) {
        fprintf(stderr, "tassl inspect: %s\n", tassl_last_error());
        return 1;
    }
    printf("file: %s\n", path);
    printf("format: %s\n", tassl_file_format_name(info.format));
    printf("ndim: %lld\n", (long long)info.dim[0]);
    printf("dims:");
    for (int i = 1; i <= info.dim[0]; i++) printf(" %lld", (long long)info.dim[i]);
    printf("\npixdim:");
    for (int i = 1; i <= info.dim[0]; i++) printf(" %.9g", info.pixdim[i]);
    printf("\n");
    if (info.format == TASSL_FORMAT_PNG) {
        printf("png_bit_depth: %d\n", info.png_bit_depth);
        printf("png_color_type: %d\n", info.png_color_type);
        printf("png_trns: %d\n", info.png_has_trns);
        printf("datatype: %s\n", info.datatype_name);
    } else {
        printf("datatype: %s\n", info.datatype_name);
        printf("datatype_code: %d\n", info.datatype);
        printf("bitpix: %d\n", info.bitpix);
        printf("scl_slope: %.9g\n", info.scl_slope);
        printf("scl_inter: %.9g\n", info.scl_inter);
        printf("vox_offset: %lld\n", (long long)info.vox_offset);
        printf("xyz_units: %s\n", units_name(info.xyz_units));
        printf("qform_code: %d\n", info.qform_code);
        printf("sform_code: %d\n", info.sform_code);
        print_mat("qform", info.qform);
        if (info.sform_code > 0) print_mat("sform", info.sform);
        printf("volumes: %lld\n", (long long)info.volumes);
    }
    printf("orientation_file: %s\n", info.orient_file);
    if (header_only) return 0;
    printf("orientation_image: %s\n", info.orient_image);
    printf("image_size: %d %lld %lld %lld (C D H W)\n", img.channels, (long long)img.d,
           (long long)img.h, (long long)img.w);
    printf("spacing: %.9g %.9g %.9g (D H W, mm)\n", img.spacing[0], img.spacing[1], img.spacing[2]);
    print_mat("image_affine", img.affine);

    tassl_image_stats *st = malloc(sizeof *st);
    if (!st || (s = tassl_image_stats_compute(&img, -1, st)) != TASSL_OK) {
        fprintf(stderr, "tassl inspect: %s\n", st ? tassl_last_error() : "out of memory");
        free(st);
        tassl_image_free(&img);
        return 1;
    }
    printf("nonfinite: %lld\n", (long long)st->nonfinite);
    printf("min: %.9g\nmax: %.9g\nmean: %.9g\nstd: %.9g\n", st->min, st->max, st->mean, st->std);
    printf("percentiles_1_5_50_95_99: %.9g %.9g %.9g %.9g %.9g\n", st->p1, st->p5, st->p50,
           st->p95, st->p99);
    printf("integer_valued: %s\n", st->all_integer ? "yes" : "no");
    if (st->nlabels > 0) {
        printf("distinct_values: %d\n", st->nlabels);
        /* a label map has few values; an integer-valued scan (uint8 T1) has hundreds */
        if (st->nlabels <= 128 || all_labels) {
            printf("label_counts:");
            for (int i = 0; i < st->nlabels; i++)
                printf(" %.9g:%lld", st->label_value[i], (long long)st->label_count[i]);
            printf("\n");
        } else {
            printf("label_counts: not listed (more than 128 values; --labels lists them)\n");
        }
    } else if (st->all_integer) {
        printf("distinct_values: more than %d\n", TASSL_STATS_MAX_LABELS);
    }
    free(st);
    int rc = 0;
    if (montage) {
        s = tassl_image_write_montage(montage, &img, slices);
        if (s) {
            fprintf(stderr, "tassl inspect: %s\n", tassl_last_error());
            rc = 1;
        } else {
            printf("montage: %s\n", montage);
        }
    }
    tassl_image_free(&img);
    return rc;
}
