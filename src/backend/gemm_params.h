/* gemm_params.h — the tunable parameters of the register-tile GEMM (cl/gemm.cl), shared by the
 * kernel's host code (opencl/gemm_tile.c), the per-device table (gemm.c) and the tuner (tune.c).
 *
 * The kernel computes C in micro-tiles of MR rows × (VW·NV) columns held in MR·NV vector
 * registers of VW floats; K is walked in blocks of KC. A work-item owns a block of RT micro-tile
 * rows × NT micro-tile columns of C and packs its B slab (KC × NT·VW·NV) into __local scratch.
 * Compile-time parameters (mr, vw, nv, kc, unroll) become -D options; rt and nt are run-time
 * arguments (the host shrinks them when a GEMM is too small to give every core work).
 */
#ifndef TASSL_GEMM_PARAMS_H
#define TASSL_GEMM_PARAMS_H

#include "gemm.h"

typedef struct tassl_gemm_params {
    int mr;     /* rows of a micro-tile (1..16) */
    int vw;     /* floats per vector: 4, 8 or 16 */
    int nv;     /* vectors per micro-tile row (1..4): micro-tile is mr × vw·nv */
    int kc;     /* k-block length (multiple of unroll) */
    int unroll; /* k-loop unroll factor: 1, 2, 4 or 8 */
    int rt;     /* micro-tile rows per work-item */
    int nt;     /* micro-tile columns per work-item */
    /* GEMMs with m·n·k below this go to clBLAST instead (0: never). */
    long long small_mnk;
} tassl_gemm_params;

/* The default row for CPU devices (pocl): 6 × 16 tiles, KC 256, blocks of up to 192 × 128 per
 * work-item (measured on a 2-core EPYC with pocl 3.1: docs/PERFORMANCE.md). */
#define TASSL_GEMM_PARAMS_CPU_DEFAULT                                                              \
    { 6, 8, 2, 256, 4, 32, 8, 0 }

/* Parameters in range (1) or not (0); when not, why (a static string) in *why. */
int tassl_gemm_params_valid(const tassl_gemm_params *p, const char **why);

/* Same row (field by field: the struct has padding, so never memcmp it). */
int tassl_gemm_params_equal(const tassl_gemm_params *a, const tassl_gemm_params *b);

/* The register-tile implementation (opencl/gemm_tile.c); params: a tassl_gemm_params row, or
 * NULL for the CPU default row. Same contract as tassl_gemm(). */
tassl_status tassl_cl_gemm_tile(tassl_device *dev, const tassl_gemm_args *args, const void *params);

/* Implicit-GEMM convolution with the register-tile kernels (opencl/conv.c, cl/gemm.cl); params
 * as for tassl_cl_gemm_tile. Same contract as tassl_conv_gemm(). */
tassl_status tassl_cl_conv_gemm(tassl_device *dev, const tassl_conv_gemm_args *args,
                                const tassl_gemm_params *params);

/* The implementation called `name` ("ref", "clblast", "tile"), or NULL (gemm.c). */
const tassl_gemm_impl *tassl_gemm_find_impl(const char *name);

#endif
