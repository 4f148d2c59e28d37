/* cases_net.c — whole-network gradient checks: small networks composed of many ops, checked
 * end to end (device vs reference and finite differences through every layer). */
#include "check.h"

/* MLP with a projection head: linear → GELU → linear → L2-normalise, run on two views with
 * shared weights, then their cosine-similarity matrix — the shape of a contrastive loss.
 * (No stop-gradient here: finite differences see every path; detach is tested on its own.) */
static tassl_tensor *f_mlp(tassl_tensor **x, const tassl_check_case *c) {
    (void)c;
    tassl_tensor *h = tassl_gelu(tassl_linear(x[0], x[2], NULL));
    tassl_tensor *z = tassl_l2_normalize(tassl_linear(h, x[3], NULL), 1, 1e-12f);
    tassl_tensor *h2 = tassl_gelu(tassl_linear(x[1], x[2], NULL));
    tassl_tensor *z2 = tassl_l2_normalize(tassl_linear(h2, x[3], NULL), 1, 1e-12f);
    tassl_tensor *sim = tassl_matmul_t(z, false, z2, true);
    return tassl_mean(sim, 1, (int[]){1}, false);
}

static const tassl_check_case cases[] = {
    {.name = "net_mlp_two_views", .op = "net", .fn = f_mlp, .nin = 4, .ndim = {2, 2, 2, 2},
     .shape = {{6, 10}, {6, 10}, {16, 10}, {8, 16}}, .gtol = 3e-2f},
};

const tassl_check_table tassl_cases_net = {"net", cases, (int)(sizeof cases / sizeof cases[0])};
