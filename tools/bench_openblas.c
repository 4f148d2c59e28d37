/* bench_openblas.c — the OpenBLAS side of tools/bench-ops: row-major sgemm C = A·B on the given
 * M N K triples, median of `reps` runs after one warm-up, as one JSON object per line:
 *   {"m": 1024, "n": 1024, "k": 1024, "ms": 12.3, "gflops": 174.6, "threads": 2}
 * Threads come from OPENBLAS_NUM_THREADS (tools/bench-ops sets 2).
 * Build: cc -O2 tools/bench_openblas.c -o bench_openblas -lopenblas
 * Usage: bench_openblas REPS M N K [M N K ...] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int openblas_get_num_threads(void);

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    if (argc < 5 || (argc - 2) % 3 != 0) {
        fprintf(stderr, "usage: %s REPS M N K [M N K ...]\n", argv[0]);
        return 2;
    }
    int reps = atoi(argv[1]);
    if (reps < 1 || reps > 64) reps = 5;
    for (int a = 2; a + 2 < argc; a += 3) {
        long m = atol(argv[a]), n = atol(argv[a + 1]), k = atol(argv[a + 2]);
        float *A = malloc(sizeof(float) * (size_t)(m * k)),
              *B = malloc(sizeof(float) * (size_t)(k * n)),
              *C = malloc(sizeof(float) * (size_t)(m * n));
        if (!A || !B || !C) {
            fprintf(stderr, "bench_openblas: out of memory\n");
            return 1;
        }
        unsigned s = 1;
        for (long i = 0; i < m * k; i++)
            A[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f;
        for (long i = 0; i < k * n; i++)
            B[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f;
        double t[64];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A,
                    (int)k, B, (int)n, 0.0f, C, (int)n);
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A,
                        (int)k, B, (int)n, 0.0f, C, (int)n);
            t[r] = now_s() - t0;
        }
        qsort(t, (size_t)reps, sizeof t[0], cmp_double);
        double med = t[reps / 2];
        printf("{\"m\": %ld, \"n\": %ld, \"k\": %ld, \"ms\": %.4f, \"gflops\": %.3f, \"threads\": "
               "%d}\n",
               m, n, k, med * 1e3, 2.0 * (double)m * (double)n * (double)k / med * 1e-9,
               openblas_get_num_threads());
        fflush(stdout);
        free(A);
        free(B);
        free(C);
    }
    return 0;
}
