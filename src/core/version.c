/* version.c — the library version string (set by meson from project()). */
#include "tassl/tassl.h"

const char *tassl_version(void) { return TASSL_VERSION; }
