/* cases_nn.c — whole-network gradient checks of the networks of src/nn (ResNet-10 2D/3D, ResNet
 * encoder + U-Net decoder, plain U-Net 2D/3D, ViT 2D/3D with masking, MLP heads), with batch,
 * group and instance norm, through the op harness: device vs reference and finite differences.
 *
 * Input 0 is the image. Input 1 is a perturbation δ of the whole flat parameter vector: the case
 * builds the network (seeded initialisation: the same weights on every run and backend), then
 * binds every slot to a view of  values = params + 0.05·δ  (tassl_module_bind), so the gradient
 * w.r.t. δ is 0.05 × the gradient of every weight and the harness checks weight gradients of
 * every layer, not only the gradient w.r.t. the image. Running statistics are updated inside
 * `values` (a scope tensor), and the parameter set is freed before the case returns: nothing the
 * tape references lives outside the scope. Shapes of δ are the networks' flat sizes (alignment
 * padding included); a mismatch aborts naming the expected size. */
#include "check.h"
#include "tassl/nn.h"

#define DELTA_SCALE 0.05f

typedef struct net {
    tassl_params *p;
    tassl_module *m[3];
    int nm;
} net;

/* Finalize, initialise and bind every module to params + DELTA_SCALE·δ. */
static void net_bind(net *n, tassl_tensor *delta, const char *who) {
    TASSL_CHECK(tassl_params_finalize(n->p) == TASSL_OK, "%s: finalize: %s", who,
                tassl_last_error());
    for (int i = 0; i < n->nm; i++)
        TASSL_CHECK(tassl_module_init(n->m[i]) == TASSL_OK, "%s: init: %s", who,
                    tassl_last_error());
    tassl_tensor *flat = tassl_params_flat(n->p);
    TASSL_CHECK(tassl_numel(delta) == tassl_numel(flat),
                "%s: the parameter input has %lld elements, the network %lld", who,
                (long long)tassl_numel(delta), (long long)tassl_numel(flat));
    tassl_tensor *base = tassl_empty_like(flat); // a scope copy: the tape never sees p
    tassl_copy_(base, flat);
    tassl_tensor *values = tassl_add(base, tassl_scale(delta, DELTA_SCALE));
    for (int i = 0; i < n->nm; i++)
        tassl_module_bind(n->m[i], values);
}

/* Σ-friendly output of a feature pyramid: the global average pools of every map and the
 * embedding, (N, ΣC). */
static tassl_tensor *pyramid(const tassl_features *f, tassl_tensor *emb) {
    tassl_tensor *a[4], *b[4];
    int na = 0, nb = 0;
    for (int i = 0; i < f->n; i++) {
        tassl_tensor *g = tassl_global_avg_pool(f->f[i]);
        if (na < 4)
            a[na++] = g;
        else
            b[nb++] = g;
    }
    b[nb++] = emb;
    tassl_tensor *parts[2] = {tassl_concat(na, a, 1), tassl_concat(nb, b, 1)};
    return tassl_concat(2, parts, 1);
}

static tassl_resnet_cfg resnet_cfg(const tassl_check_case *c, tassl_tensor *x) {
    tassl_resnet_cfg rc = {.depth = 10,
                           .dims = x->ndim - 2,
                           .in_channels = (int)x->shape[1],
                           .width = 1.0f / (float)(c->iparam[5] ? c->iparam[5] : 8)};
    rc.stem = (tassl_resnet_stem)c->iparam[0];
    rc.norm.kind = (tassl_norm_kind)c->iparam[1];
    rc.norm.groups = c->iparam[2];
    return rc;
}

/* ResNet-10 encoder: every feature map and the embedding. iparam: stem, norm, groups, -, -,
 * width divisor (0: 8). */
static tassl_tensor *f_resnet(tassl_tensor **x, const tassl_check_case *c) {
    net n = {.p = tassl_params_new(x[0]->ctx), .nm = 1};
    tassl_resnet_cfg rc = resnet_cfg(c, x[0]);
    tassl_resnet *r;
    TASSL_CHECK(tassl_resnet_new(n.p, "encoder", &rc, &r) == TASSL_OK, "%s", tassl_last_error());
    n.m[0] = tassl_resnet_module(r);
    net_bind(&n, x[1], c->name);
    tassl_features f;
    tassl_tensor *emb = tassl_resnet_forward(r, x[0], true, &f);
    tassl_tensor *y = pyramid(&f, emb);
    tassl_resnet_free(r);
    tassl_params_free(n.p);
    return y;
}

/* ResNet-10 encoder + U-Net decoder → logits. iparam: stem, norm, groups, up mode, classes,
 * width divisor (0: 8). */
static tassl_tensor *f_resnet_unet(tassl_tensor **x, const tassl_check_case *c) {
    net n = {.p = tassl_params_new(x[0]->ctx), .nm = 2};
    tassl_resnet_cfg rc = resnet_cfg(c, x[0]);
    tassl_resnet *r;
    tassl_unet_decoder *d;
    TASSL_CHECK(tassl_resnet_new(n.p, "encoder", &rc, &r) == TASSL_OK, "%s", tassl_last_error());
    tassl_feature_info fi = tassl_resnet_features(r);
    tassl_unet_decoder_cfg dc = {
        .classes = c->iparam[4], .up = (tassl_upsample_mode)c->iparam[3], .norm = rc.norm};
    TASSL_CHECK(tassl_unet_decoder_new(n.p, "decoder", &fi, &dc, &d) == TASSL_OK, "%s",
                tassl_last_error());
    n.m[0] = tassl_resnet_module(r);
    n.m[1] = tassl_unet_decoder_module(d);
    net_bind(&n, x[1], c->name);
    tassl_features f;
    tassl_resnet_forward(r, x[0], true, &f);
    tassl_tensor *y = tassl_unet_decoder_forward(d, &f, true);
    tassl_unet_decoder_free(d);
    tassl_resnet_free(r);
    tassl_params_free(n.p);
    return y;
}

/* Plain U-Net → logits. iparam: levels, base, norm, groups, up mode, classes. */
static tassl_tensor *f_unet(tassl_tensor **x, const tassl_check_case *c) {
    net n = {.p = tassl_params_new(x[0]->ctx), .nm = 2};
    tassl_unet_cfg uc = {.dims = x[0]->ndim - 2,
                         .in_channels = (int)x[0]->shape[1],
                         .levels = c->iparam[0],
                         .base = c->iparam[1],
                         .norm = {.kind = (tassl_norm_kind)c->iparam[2], .groups = c->iparam[3]},
                         .up = (tassl_upsample_mode)c->iparam[4],
                         .classes = c->iparam[5]};
    tassl_unet *u;
    TASSL_CHECK(tassl_unet_new(n.p, "unet", &uc, &u) == TASSL_OK, "%s", tassl_last_error());
    n.m[0] = tassl_unet_encoder_module(u);
    n.m[1] = tassl_unet_decoder_module_of(u);
    net_bind(&n, x[1], c->name);
    tassl_tensor *y = tassl_unet_forward(u, x[0], true);
    tassl_unet_free(u);
    tassl_params_free(n.p);
    return y;
}

/* ViT → tokens. iparam: patch, dim, depth, heads, cls, pos, visible patches kept (0: all). */
static tassl_tensor *f_vit(tassl_tensor **x, const tassl_check_case *c) {
    net n = {.p = tassl_params_new(x[0]->ctx), .nm = 1};
    tassl_vit_cfg vc = {.dims = x[0]->ndim - 2,
                        .in_channels = (int)x[0]->shape[1],
                        .patch = c->iparam[0],
                        .dim = c->iparam[1],
                        .depth = c->iparam[2],
                        .heads = c->iparam[3],
                        .cls_token = c->iparam[4] != 0,
                        .pos = (tassl_pos_kind)c->iparam[5],
                        .mlp_ratio = 2.0f};
    for (int d = 0; d < vc.dims; d++)
        vc.img[d] = x[0]->shape[2 + d];
    tassl_vit *v;
    TASSL_CHECK(tassl_vit_new(n.p, "vit", &vc, &v) == TASSL_OK, "%s", tassl_last_error());
    n.m[0] = tassl_vit_module(v);
    net_bind(&n, x[1], c->name);
    tassl_tensor *y;
    int64_t keep = c->iparam[6], N = x[0]->shape[0], T = tassl_vit_num_patches(v);
    if (keep > 0) {
        int64_t idx[64];
        TASSL_CHECK(N * keep <= 64, "%s: too many kept patches for the case", c->name);
        for (int64_t i = 0; i < N; i++) /* a different, unsorted subset per sample */
            for (int64_t j = 0; j < keep; j++)
                idx[i * keep + j] = (T - 1 - j * 3 - i) % T;
        y = tassl_vit_forward_masked(v, x[0], idx, keep, true);
    } else {
        y = tassl_vit_forward(v, x[0], true);
    }
    tassl_vit_free(v);
    tassl_params_free(n.p);
    return y;
}

/* BYOL-style projector (Linear–BN–ReLU ×2 → Linear), a SimSiam-style layer-norm predictor with a
 * non-affine last norm, and a linear classifier on the same input: outputs concatenated. */
static tassl_tensor *f_mlp(tassl_tensor **x, const tassl_check_case *c) {
    net n = {.p = tassl_params_new(x[0]->ctx), .nm = 3};
    int64_t in = x[0]->shape[1];
    tassl_mlp_cfg pc = {.layers = 3, .dims = {in, 16, 12, 8}};
    tassl_mlp_cfg qc = {
        .layers = 2, .dims = {8, 4, 8}, .norm = TASSL_NORM_LAYER, .last_norm = true};
    tassl_mlp *proj, *pred;
    tassl_classifier *fc;
    TASSL_CHECK(tassl_mlp_new(n.p, "projector", &pc, &proj) == TASSL_OK, "%s", tassl_last_error());
    TASSL_CHECK(tassl_mlp_new(n.p, "predictor", &qc, &pred) == TASSL_OK, "%s", tassl_last_error());
    TASSL_CHECK(tassl_classifier_new(n.p, "fc", in, 3, &fc) == TASSL_OK, "%s", tassl_last_error());
    n.m[0] = tassl_mlp_module(proj);
    n.m[1] = tassl_mlp_module(pred);
    n.m[2] = tassl_classifier_module(fc);
    net_bind(&n, x[1], c->name);
    tassl_tensor *z = tassl_mlp_forward(proj, x[0], true);
    tassl_tensor *parts[2] = {tassl_mlp_forward(pred, z, true), tassl_classifier_forward(fc, x[0])};
    tassl_tensor *y = tassl_concat(2, parts, 1);
    tassl_classifier_free(fc);
    tassl_mlp_free(pred);
    tassl_mlp_free(proj);
    tassl_params_free(n.p);
    return y;
}

/* Flat sizes of the networks below (tassl_numel(tassl_params_flat(p)), 16-float alignment
 * included); net_bind() aborts with the right number if a network changes. */
#define RESNET10_2D_BN 78352
#define RESNET10_2D_GN_SMALL 77328
#define RESNET10_3D_BN 58304
#define RESNET10_3D_IN_SMALL 56560
#define RESNET_UNET2D 128688
#define RESNET_UNET3D 96096
#define UNET2D 8016
#define UNET3D 5088
#define VIT2D 2976
#define VIT3D 2272
#define MLP_HEADS 672

enum { BN = TASSL_NORM_BATCH, GN = TASSL_NORM_GROUP, IN = TASSL_NORM_INSTANCE };
enum { STD = TASSL_STEM_STANDARD, SMALL = TASSL_STEM_SMALL };
enum { TRANSP = TASSL_UP_TRANSPOSED, LIN = TASSL_UP_LINEAR };

#define NET_TOL .tol = 1e-3f, .gtol = 5e-2f, .eps = 3e-3f
/* ReLU/max-pool networks: finite differences on single pixels cross kinks or sink into float
 * noise (measured: some pixel fails at every step from 1e-4 to 1e-2), while weight perturbations
 * (which reach conv1 only through the backward of every layer) pass on a wide plateau (every case
 * from eps 1e-3 to 1e-2; 1e-2 here, a weight step of 5e-4); so the image gets no gradient there.
 * The smooth networks (ViT, MLP) check the input gradient too. Batch norm over 2 values per
 * channel in the deepest stages amplifies summation-order differences: device tolerance 3e-3. */
#define CNN_TOL .tol = 3e-3f, .gtol = 5e-2f, .eps = 1e-2f, .nograd = 1u

static const tassl_check_case cases[] = {
    {.name = "nn_resnet10_2d_bn",
     .op = "nn",
     .fn = f_resnet,
     .nin = 2,
     .ndim = {4, 1},
     .shape = {{2, 1, 48, 48}, {RESNET10_2D_BN}},
     .iparam = {STD, BN},
     CNN_TOL},
    {.name = "nn_resnet10_2d_gn_small",
     .op = "nn",
     .fn = f_resnet,
     .nin = 2,
     .ndim = {4, 1},
     .shape = {{2, 2, 12, 12}, {RESNET10_2D_GN_SMALL}},
     .iparam = {SMALL, GN, 4},
     CNN_TOL},
    {.name = "nn_resnet10_3d_bn",
     .op = "nn",
     .fn = f_resnet,
     .nin = 2,
     .ndim = {5, 1},
     .shape = {{2, 1, 20, 20, 20}, {RESNET10_3D_BN}},
     .iparam = {STD, BN, 0, 0, 0, 16},
     CNN_TOL},
    {.name = "nn_resnet10_3d_in_small",
     .op = "nn",
     .fn = f_resnet,
     .nin = 2,
     .ndim = {5, 1},
     .shape = {{1, 1, 10, 10, 10}, {RESNET10_3D_IN_SMALL}},
     .iparam = {SMALL, IN, 0, 0, 0, 16},
     CNN_TOL},
    {.name = "nn_resnet_unet2d_odd",
     .op = "nn",
     .fn = f_resnet_unet,
     .nin = 2,
     .ndim = {4, 1},
     .shape = {{2, 1, 25, 23}, {RESNET_UNET2D}},
     .iparam = {STD, BN, 0, TRANSP, 2},
     CNN_TOL},
    {.name = "nn_resnet_unet3d_gn_linear",
     .op = "nn",
     .fn = f_resnet_unet,
     .nin = 2,
     .ndim = {5, 1},
     .shape = {{1, 1, 12, 12, 12}, {RESNET_UNET3D}},
     .iparam = {STD, GN, 2, LIN, 2, 16},
     CNN_TOL},
    {.name = "nn_unet2d_bn",
     .op = "nn",
     .fn = f_unet,
     .nin = 2,
     .ndim = {4, 1},
     .shape = {{2, 1, 8, 8}, {UNET2D}},
     .iparam = {3, 4, BN, 0, TRANSP, 3},
     CNN_TOL},
    {.name = "nn_unet3d_gn_linear",
     .op = "nn",
     .fn = f_unet,
     .nin = 2,
     .ndim = {5, 1},
     .shape = {{2, 1, 4, 4, 4}, {UNET3D}},
     .iparam = {2, 4, GN, 2, LIN, 2},
     CNN_TOL},
    {.name = "nn_vit2d_cls_learned",
     .op = "nn",
     .fn = f_vit,
     .nin = 2,
     .ndim = {4, 1},
     .shape = {{2, 1, 8, 8}, {VIT2D}},
     .iparam = {4, 12, 2, 2, 1, TASSL_POS_LEARNED, 0},
     NET_TOL},
    {.name = "nn_vit3d_sincos_masked",
     .op = "nn",
     .fn = f_vit,
     .nin = 2,
     .ndim = {5, 1},
     .shape = {{2, 1, 8, 8, 8}, {VIT3D}},
     .iparam = {4, 12, 1, 3, 1, TASSL_POS_SINCOS, 3},
     NET_TOL},
    {.name = "nn_mlp_heads",
     .op = "nn",
     .fn = f_mlp,
     .nin = 2,
     .ndim = {2, 1},
     .shape = {{4, 6}, {MLP_HEADS}},
     NET_TOL},
};

const tassl_check_table tassl_cases_nn = {"nn", cases, (int)(sizeof cases / sizeof cases[0])};
