/* fuzz_manifest.c — libFuzzer target for the CSV manifest reader: any bytes must give TASSL_OK or a
 * clean error, never a crash, leak or out-of-bounds access. Paths are checked lexically only
 * (TASSL_MANIFEST_NO_FS), so the run never touches the file system. Built by tools/fuzz. */
#include <stddef.h>
#include <stdint.h>
#include "tassl/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tassl_manifest m;
    if (tassl_manifest_parse(&m, (const char *)data, size, "fuzz.csv", "/data/set", "/data",
                             TASSL_MANIFEST_NO_FS) == TASSL_OK) {
        /* exercise the results: every record has an image inside the root and a subject */
        for (int i = 0; i < m.n; i++)
            if (!m.rec[i].image || !m.rec[i].subject || m.rec[i].nboxes > TASSL_MAX_BOXES) __builtin_trap();
        (void)tassl_manifest_split(&m, 0.2, 0.2, 1);
        tassl_manifest_free(&m);
    }
    return 0;
}
