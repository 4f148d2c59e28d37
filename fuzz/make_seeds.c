/* make_seeds.c — writes the seed corpus of the fuzz targets (tools/fuzz runs it): tiny PNGs of
 * every kind tassl writes and tiny NIfTI files (.nii and .nii.gz, float32/uint8/int16, oblique
 * affine, 4D), so fuzzing starts from valid files instead of from nothing.
 * usage: make_seeds PNG_DIR NIFTI_DIR */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tassl/io.h"

static int fail(void) {
    fprintf(stderr, "make_seeds: %s\n", tassl_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds PNG_DIR NIFTI_DIR\n");
        return 2;
    }
    char p[1024];
    for (int ch = 1; ch <= 4; ch++)
        for (int bits = 8; bits <= 16; bits += 8) {
            tassl_image img;
            if (tassl_image_new(&img, ch, 1, 5, 7)) return fail();
            for (int i = 0; i < ch * 35; i++) img.data[i] = (float)(i * 37 % 256);
            snprintf(p, sizeof p, "%s/seed_c%d_b%d.png", argv[1], ch, bits);
            if (tassl_png_write(p, &img, bits, TASSL_PNG_SCALE_CLAMP)) return fail();
            tassl_image_free(&img);
        }
    static const char *ext[2] = {".nii", ".nii.gz"};
    for (int z = 0; z < 2; z++)
        for (int dt = 0; dt < 3; dt++) {
            tassl_image img;
            if (tassl_image_new(&img, dt == 0 ? 2 : 1, 3, 4, 5)) return fail();
            for (int i = 0; i < img.channels * 60; i++) img.data[i] = (float)(i % 11);
            double c = cos(0.4), s = sin(0.4);
            double a[4][4] = {{-c, s, 0, 10}, {s, c, 0, -3}, {0, 0, 2, 1}, {0, 0, 0, 1}};
            memcpy(img.affine, a, sizeof a);
            img.spacing[0] = 2;
            snprintf(p, sizeof p, "%s/seed_t%d%s", argv[2], dt, ext[z]);
            if (tassl_nifti_write(p, &img, (tassl_nifti_dtype)dt, 2)) return fail();
            tassl_image_free(&img);
        }
    return 0;
}
