/* layers.c — convolution, normalisation and linear layers: declaration into a module (names,
 * shapes, initialisers) and forward passes on the ops of ops.h. Each layer is a struct of slots;
 * nothing here holds activations. */
#include <math.h>
#include "nn_internal.h"

tassl_init nn_init_torch_default(void) {
    return (tassl_init){.kind = TASSL_INIT_KAIMING_UNIFORM,
                        .a = sqrt(5.0),
                        .mode = TASSL_FAN_IN,
                        .nl = TASSL_NL_LEAKY_RELU};
}

tassl_init nn_init_kaiming_out_relu(void) {
    return (tassl_init){
        .kind = TASSL_INIT_KAIMING_NORMAL, .mode = TASSL_FAN_OUT, .nl = TASSL_NL_RELU};
}

/* PyTorch's default bias: U(±1/√fan_in) with the weight's fan_in. */
static tassl_init bias_default(int64_t fan_in) {
    double b = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    return (tassl_init){.kind = TASSL_INIT_UNIFORM, .a = -b, .b = b};
}

static int64_t ipow(int64_t b, int e) {
    int64_t r = 1;
    while (e-- > 0)
        r *= b;
    return r;
}

void nn_conv_decl(tassl_module *m, nn_conv *c, const char *name, int dims, int64_t cin,
                  int64_t cout, int k, int stride, int pad, bool bias, tassl_init winit) {
    char nm[NN_NAME];
    int64_t shape[TASSL_MAX_DIMS] = {cout, cin, k, k, k};
    *c = (nn_conv){.dims = dims, .k = k, .stride = stride, .pad = pad};
    tassl_module_param(m, &c->weight, nn_join(nm, name, "weight"), 2 + dims, shape, winit);
    if (bias)
        tassl_module_param(m, &c->bias, nn_join(nm, name, "bias"), 1, &cout,
                           bias_default(cin * ipow(k, dims)));
}

void nn_convt_decl(tassl_module *m, nn_conv *c, const char *name, int dims, int64_t cin,
                   int64_t cout, int factor) {
    char nm[NN_NAME];
    int64_t shape[TASSL_MAX_DIMS] = {cin, cout, factor, factor, factor};
    *c = (nn_conv){.dims = dims, .k = factor, .stride = factor, .transposed = true};
    /* PyTorch computes the transposed weight's fan_in from dim 1 (Cout·∏k): same here */
    tassl_module_param(m, &c->weight, nn_join(nm, name, "weight"), 2 + dims, shape,
                       nn_init_torch_default());
    tassl_module_param(m, &c->bias, nn_join(nm, name, "bias"), 1, &cout,
                       bias_default(cout * ipow(factor, dims)));
}

tassl_tensor *nn_conv_fwd(const nn_conv *c, tassl_tensor *x) {
    int st[3] = {c->stride, c->stride, c->stride}, pd[3] = {c->pad, c->pad, c->pad};
    return tassl_conv(x, c->weight, c->bias, st, pd, NULL, 1);
}

tassl_tensor *nn_convt_fwd(const nn_conv *c, tassl_tensor *x, const int64_t *size) {
    int st[3], pd[3], op[3];
    int f = c->stride;
    for (int d = 0; d < c->dims; d++) {
        int64_t in = x->shape[2 + d], full = in * f, p = (full - size[d] + 1) / 2;
        int64_t o = size[d] - full + 2 * p;
        char s[64];
        TASSL_CHECK(size[d] <= full && p >= 0 && o >= 0 && o < f,
                    "nn: transposed conv (factor %d) cannot map x %s to size %lld in dim %d", f,
                    tassl_shape_str(x, s, sizeof s), (long long)size[d], d);
        st[d] = f;
        pd[d] = (int)p;
        op[d] = (int)o;
    }
    return tassl_conv_transpose(x, c->weight, c->bias, st, pd, op, NULL, 1);
}

void nn_norm_decl(tassl_module *m, nn_norm *n, const char *name, int64_t c,
                  const tassl_norm_cfg *cfg, bool affine, float gamma0) {
    char nm[NN_NAME];
    *n = (nn_norm){.kind = cfg->kind,
                   .eps = cfg->eps > 0 ? cfg->eps : 1e-5f,
                   .momentum = cfg->momentum > 0 ? cfg->momentum : 0.1f};
    if (n->kind == TASSL_NORM_NONE) return;
    if (n->kind == TASSL_NORM_GROUP) {
        /* the largest divisor of C not above the requested groups */
        int g = cfg->groups > 0 ? cfg->groups : 32;
        if (g > c) g = (int)c;
        while (c % g)
            g--;
        n->groups = g;
    }
    if (affine) {
        tassl_module_param(m, &n->weight, nn_join(nm, name, "weight"), 1, &c,
                           (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = gamma0});
        tassl_module_param(m, &n->bias, nn_join(nm, name, "bias"), 1, &c,
                           (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 0});
    }
    if (n->kind == TASSL_NORM_BATCH) {
        tassl_module_buffer(m, &n->running_mean, nn_join(nm, name, "running_mean"), 1, &c,
                            (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 0});
        tassl_module_buffer(m, &n->running_var, nn_join(nm, name, "running_var"), 1, &c,
                            (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 1});
    }
}

tassl_tensor *nn_norm_fwd(const nn_norm *n, tassl_tensor *x, bool training) {
    switch (n->kind) {
    case TASSL_NORM_BATCH:
        return tassl_batch_norm(x, n->weight, n->bias, n->running_mean, n->running_var, training,
                                n->momentum, n->eps);
    case TASSL_NORM_GROUP:
        return tassl_group_norm(x, n->groups, n->weight, n->bias, n->eps);
    case TASSL_NORM_INSTANCE:
        return tassl_instance_norm(x, n->weight, n->bias, n->eps);
    case TASSL_NORM_LAYER:
        return tassl_layer_norm(x, 1, n->weight, n->bias, n->eps);
    case TASSL_NORM_NONE:
        break;
    }
    return x;
}

void nn_linear_decl(tassl_module *m, nn_linear *l, const char *name, int64_t in, int64_t out,
                    bool bias, tassl_init winit, tassl_init binit) {
    char nm[NN_NAME];
    *l = (nn_linear){0};
    if (winit.kind == TASSL_INIT_NONE) {
        winit = nn_init_torch_default();
        binit = bias_default(in);
    }
    if (binit.kind == TASSL_INIT_NONE) binit = (tassl_init){.kind = TASSL_INIT_CONSTANT, .a = 0};
    tassl_module_param(m, &l->weight, nn_join(nm, name, "weight"), 2, (int64_t[]){out, in}, winit);
    if (bias) tassl_module_param(m, &l->bias, nn_join(nm, name, "bias"), 1, &out, binit);
}

tassl_tensor *nn_linear_fwd(const nn_linear *l, tassl_tensor *x) {
    return tassl_linear(x, l->weight, l->bias);
}
