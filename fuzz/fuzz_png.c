/* fuzz_png.c — libFuzzer target for the PNG reader (tassl_png_read_mem).
 *
 * Any input must either decode or fail with a status and a message; never crash, leak, read
 * out of bounds or hang. On success the decoded image also goes through the statistics and the
 * writer (into memory-backed /dev/shm when present), which walk every voxel. Built and run by
 * tools/fuzz with -fsanitize=fuzzer,address,undefined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "tassl/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tassl_read_opts o = tassl_read_opts_default();
    o.max_bytes = (int64_t)64 << 20; /* stay inside libFuzzer's rss limit */
    tassl_image img;
    tassl_image_info info;
    if (tassl_png_read_mem(data, size, "fuzz.png", &o, &img, &info) != TASSL_OK) {
        if (img.data) abort(); /* a failed read must leave no image behind */
        if (!tassl_last_error()[0]) abort(); /* and must say why */
        return 0;
    }
    tassl_image_stats *st = malloc(sizeof *st);
    if (st && tassl_image_stats_compute(&img, -1, st) != TASSL_OK) abort();
    free(st);
    if (img.h * img.w <= 4096) {
        char path[64];
        snprintf(path, sizeof path, "%s/tassl-fuzz-%ld.png",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        if (tassl_png_write(path, &img, 16, TASSL_PNG_SCALE_CLAMP) == TASSL_OK) unlink(path);
    }
    tassl_image_free(&img);
    return 0;
}
