/* fuzz_nifti.c — libFuzzer target for the NIfTI reader (tassl_nifti_read, header-only info).
 *
 * nifticlib opens files by name, so each input is written to a file in /dev/shm (or /tmp) named
 * .nii.gz when it starts with the gzip magic, .nii otherwise, then read with the canonical
 * reorientation, as all volumes as channels, and header-only. Reads must succeed or fail with a
 * message; never crash, leak, overflow or allocate past the 64 MiB limit set here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "tassl/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_read(const char *path, const tassl_read_opts *o) {
    tassl_image img;
    tassl_image_info info;
    if (tassl_nifti_read(path, o, &img, &info) != TASSL_OK) {
        if (img.data || !tassl_last_error()[0]) abort();
        return;
    }
    if (img.channels < 1 || img.d < 1 || img.h < 1 || img.w < 1) abort();
    /* the canonical image keeps every voxel: reorienting back must work */
    if (tassl_image_to_file_order(&img, &info) != TASSL_OK) abort();
    tassl_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[96];
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    snprintf(path, sizeof path, "%s/tassl-fuzz-%ld%s",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid(),
             gz ? ".nii.gz" : ".nii");
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    tassl_read_opts o = tassl_read_opts_default();
    o.max_bytes = (int64_t)64 << 20;
    check_read(path, &o);
    o.volumes_as_channels = 1;
    o.nonfinite = TASSL_NONFINITE_ZERO;
    check_read(path, &o);
    tassl_image_info info;
    (void)tassl_image_read_info(path, &info);
    unlink(path);
    return 0;
}
