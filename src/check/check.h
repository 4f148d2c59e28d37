/* check.h — the op self-check harness, shared by `tassl selftest` and the test suite.
 *
 * A case builds one op (or a small network) from its inputs. The harness runs it twice:
 *   1. device vs reference: the same inputs (seeded) on the device under test and on ref, with
 *      the pool in debug mode (outputs pre-filled with NaN, guard regions checked); compares the
 *      output and every input gradient (upstream gradient random) by max relative error;
 *   2. gradient check on ref: central finite differences of L = Σ y·g, accumulated in double,
 *      against the analytic gradient for a random subset of input elements.
 * Cases are grouped in tables by family (cases_<family>.c), listed in tassl_check_tables[].
 */
#ifndef TASSL_CHECK_H
#define TASSL_CHECK_H

#include "tassl/tassl.h"

#define TASSL_CHECK_MAX_IN 4

typedef enum tassl_check_domain {
    TASSL_DOM_NORMAL = 0, /* N(0, 1) */
    TASSL_DOM_POS,        /* uniform [0.5, 2): log, sqrt, pow, div denominators */
    TASSL_DOM_UNIT,       /* uniform [0, 1): probabilities, BCE targets */
    TASSL_DOM_LABELS,     /* integers in [0, labels) as floats: class targets (no gradient) */
    TASSL_DOM_SPREAD,     /* distinct values (a shuffled grid + small noise): max/pool ties-free */
} tassl_check_domain;

typedef struct tassl_check_case tassl_check_case;
typedef tassl_tensor *(*tassl_check_fn)(tassl_tensor **in, const tassl_check_case *c);

struct tassl_check_case {
    const char *name;        /* unique, e.g. "conv2d_s2_p1_g2" */
    const char *op;          /* the op it covers, e.g. "conv" (for coverage listings) */
    tassl_check_fn fn;
    int nin;
    int ndim[TASSL_CHECK_MAX_IN];
    int64_t shape[TASSL_CHECK_MAX_IN][TASSL_MAX_DIMS];
    tassl_check_domain domain[TASSL_CHECK_MAX_IN];
    int labels;              /* for TASSL_DOM_LABELS */
    unsigned nograd;         /* bit k set: input k gets no gradient check (labels, running stats) */
    float tol;               /* device vs ref max relative error (0: 1e-4) */
    float gtol;              /* gradient check tolerance (0: 2e-2) */
    float eps;               /* finite-difference step (0: 1e-2) */
    int iparam[8];
    float fparam[4];
};

typedef struct tassl_check_table {
    const char *family;
    const tassl_check_case *cases;
    int count;
} tassl_check_table;

extern const tassl_check_table *const tassl_check_tables[];
extern const int tassl_check_ntables;

/* Per-family tables (each cases_<family>.c defines one). */
extern const tassl_check_table tassl_cases_core;
extern const tassl_check_table tassl_cases_linalg;
extern const tassl_check_table tassl_cases_conv;
extern const tassl_check_table tassl_cases_pool;
extern const tassl_check_table tassl_cases_norm;
extern const tassl_check_table tassl_cases_loss;
extern const tassl_check_table tassl_cases_net;
extern const tassl_check_table tassl_cases_nn;
extern const tassl_check_table tassl_cases_ssl;

typedef struct tassl_check_result {
    double out_err;          /* device vs ref, output */
    double grad_err;         /* device vs ref, worst input gradient */
    double fd_err;           /* finite differences vs analytic (ref) */
    int skipped_device;      /* dev is ref itself: only the gradient check ran */
    char msg[1024];          /* why it failed, "" if it passed */
} tassl_check_result;

/* Run one case: device `dev` against ref (`ref` may be NULL when dev is ref), then the gradient
 * check on ref. Returns 1 if it passed. */
int tassl_check_run(const tassl_check_case *c, tassl_device *dev, tassl_device *ref,
                    tassl_check_result *res);

/* Run every case whose name contains `filter` (NULL: all), print one line per case to `out`
 * (a FILE *, NULL for silence) and a final "N passed, N failed". Returns failures. */
int tassl_check_all(tassl_device *dev, tassl_device *ref, const char *filter, void *out);

#endif
