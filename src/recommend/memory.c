/* memory.c — the peak device memory of one pretraining step, estimated from the configuration by
 * walking the networks layer by layer (no device, no allocation), for `tassl recommend`'s
 * patch/batch fit.
 *
 * What a step holds at its peak (docs/RECOMMEND.md, "Memory estimate"):
 *   - parameters, their gradients, the optimiser's state (AdamW: 2 moments; SGD/LARS: 1) and EMA
 *     target copies: separate allocations, counted exactly from the layer shapes;
 *   - the step's scope: every tensor the forward creates (conv, norm, ReLU, add, pool, concat
 *     outputs, the input batch) stays alive until the step ends, and the backward adds a gradient
 *     of each tensor on the gradient path. The walk counts those floats (act_elems); the measured
 *     device pool peak (metrics.jsonl mem_peak_bytes) is estimated as act_elems × 4 bytes ×
 *     ACT_FACTOR plus the largest im2col column buffer plus a fixed 32 MB; ACT_FACTOR and the
 *     fixed part were fitted to measured peaks (docs/RECOMMEND.md "Calibration": the estimate is
 *     +1 % to +39 % above each of ten measured runs, none under). Parameters, gradients and
 *     optimiser state are not in the pool; they are added exactly.
 * Forward passes under no-grad (EMA targets) keep their outputs but have no gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "recommend_internal.h"

/* Calibrated against `tassl pretrain` pool peaks (docs/RECOMMEND.md, table "Calibration"). */
#define ACT_FACTOR 1.06
#define CONV_CHUNK_FLOATS ((int64_t)16 << 20) /* src/ops/conv.c: 64 MB of scratch per chunk */
#define OVERHEAD_BYTES ((int64_t)32 << 20)    /* the pool's fixed part: small buffers, rounding */

typedef struct tally {
    int dims;
    int64_t params, fwd, grad, scratch;
    bool grad_on;   /* outputs get gradients (false inside an EMA target's forward) */
    bool count_par; /* count parameters (false for a second pass through the same network) */
} tally;

/* a feature map: channels and spatial size (unused axes 1) */
typedef struct fmap {
    int64_t c, s[3];
} fmap;

static int64_t vol(const fmap *f, int dims) {
    int64_t v = 1;
    for (int d = 0; d < dims; d++)
        v *= f->s[d];
    return v;
}

static void out(tally *t, int64_t n, const fmap *f) {
    int64_t e = n * f->c * vol(f, t->dims);
    t->fwd += e;
    if (t->grad_on) t->grad += e;
}

static int64_t ipow(int64_t b, int e) {
    int64_t r = 1;
    while (e-- > 0)
        r *= b;
    return r;
}

/* im2col scratch of one conv (src/ops/conv.c conv_plan_chunks): images per chunk × (column +
 * matrix copy), at most the budget; the forward/weight-gradient plan has cin·K column rows, the
 * data gradient of a stride-1 conv runs as a forward over dy with cout·K rows */
static void scratch(tally *t, int64_t n, int64_t cin, int64_t cout, int k, int64_t l_small,
                    bool stride1) {
    int64_t kk = ipow(k, t->dims), fwd = cin * kk + cout, bwd = cout * kk + cin;
    int64_t per = (stride1 && bwd > fwd ? bwd : fwd) * l_small;
    int64_t s = per * n < CONV_CHUNK_FLOATS ? per * n : CONV_CHUNK_FLOATS;
    if (per > CONV_CHUNK_FLOATS) s = CONV_CHUNK_FLOATS;
    if (s > t->scratch) t->scratch = s;
}

/* conv k, stride st, pad (k-1)/2 (1×1: 0): returns the output map */
static fmap conv(tally *t, int64_t n, const fmap *x, int64_t cout, int k, int st, bool bias) {
    fmap y = {cout, {1, 1, 1}};
    for (int d = 0; d < t->dims; d++)
        y.s[d] = (x->s[d] + st - 1) / st; /* ceil: pad (k-1)/2 */
    if (t->count_par) t->params += x->c * cout * ipow(k, t->dims) + (bias ? cout : 0);
    out(t, n, &y);
    scratch(t, n, x->c, cout, k, vol(&y, t->dims), st == 1);
    return y;
}

/* transposed conv, kernel = stride = f, to `size` */
static fmap convt(tally *t, int64_t n, const fmap *x, int64_t cout, int f, const int64_t *size) {
    fmap y = {cout, {1, 1, 1}};
    for (int d = 0; d < t->dims; d++)
        y.s[d] = size[d];
    if (t->count_par) t->params += x->c * cout * ipow(f, t->dims) + cout;
    out(t, n, &y);
    scratch(t, n, cout, x->c, f, vol(x, t->dims), false);
    return y;
}

static void norm(tally *t, int64_t n, const fmap *x, bool has) {
    if (!has) return;
    if (t->count_par) t->params += 2 * x->c;
    out(t, n, x);
}

/* conv → norm → ReLU */
static fmap cnr(tally *t, int64_t n, const fmap *x, int64_t cout, int k, int st, bool has_norm) {
    fmap y = conv(t, n, x, cout, k, st, !has_norm);
    norm(t, n, &y, has_norm);
    out(t, n, &y); /* relu */
    return y;
}

typedef struct pyramid {
    int n;
    fmap f[8];
    int64_t stride[8];
} pyramid;

/* ResNet (src/nn/resnet.c): returns the embedding width; fills the feature pyramid */
static int64_t resnet(tally *t, int64_t n, const fmap *x, const mem_model *m, pyramid *p) {
    static const int plan[3][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 4, 6, 3}};
    const int *nb = plan[m->depth == 10 ? 0 : m->depth == 18 ? 1 : 2];
    int64_t ch[4];
    for (int i = 0; i < 4; i++) {
        long c = lround(64.0 * m->width * (double)(1 << i));
        ch[i] = c < 1 ? 1 : c;
    }
    fmap h = cnr(t, n, x, ch[0], m->small_stem ? 3 : 7, m->small_stem ? 1 : 2, m->has_norm);
    int64_t s = m->small_stem ? 1 : 2;
    p->n = 5;
    p->f[0] = h;
    p->stride[0] = s;
    if (!m->small_stem) { /* max-pool 3, stride 2 */
        for (int d = 0; d < t->dims; d++)
            h.s[d] = (h.s[d] + 1) / 2;
        out(t, n, &h);
        s *= 2;
    }
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < nb[i]; b++) {
            int st = (i > 0 && b == 0) ? 2 : 1;
            fmap in = h;
            fmap y = cnr(t, n, &h, ch[i], 3, st, m->has_norm);
            y = conv(t, n, &y, ch[i], 3, 1, !m->has_norm);
            norm(t, n, &y, m->has_norm);
            if (st != 1 || in.c != ch[i]) {
                fmap dn = conv(t, n, &in, ch[i], 1, st, !m->has_norm);
                norm(t, n, &dn, m->has_norm);
            }
            out(t, n, &y); /* add */
            out(t, n, &y); /* relu */
            h = y;
        }
        if (i > 0) s *= 2;
        p->f[1 + i] = h;
        p->stride[1 + i] = s;
    }
    return ch[3];
}

/* the plain U-Net's encoder (src/nn/unet.c) */
static int64_t unet_encoder(tally *t, int64_t n, const fmap *x, const mem_model *m, pyramid *p) {
    fmap h = *x;
    p->n = m->unet_levels;
    for (int l = 0; l < m->unet_levels; l++) {
        if (l > 0) {
            for (int d = 0; d < t->dims; d++)
                h.s[d] /= 2;
            out(t, n, &h); /* max-pool */
        }
        h = cnr(t, n, &h, m->unet_base << l, 3, 1, m->has_norm);
        h = cnr(t, n, &h, m->unet_base << l, 3, 1, m->has_norm);
        p->f[l] = h;
        p->stride[l] = (int64_t)1 << l;
    }
    return h.c;
}

/* the U-Net decoder over a pyramid (src/nn/unet.c tassl_unet_decoder_new/forward) */
static void decoder(tally *t, int64_t n, const pyramid *p, const fmap *input, int64_t classes,
                    bool has_norm) {
    fmap h = p->f[p->n - 1];
    for (int j = 0; j < p->n - 1; j++) {
        int skip = p->n - 2 - j;
        const fmap *sk = &p->f[skip];
        int f = (int)(p->stride[skip + 1] / p->stride[skip]);
        if (f > 1) h = convt(t, n, &h, sk->c, f, sk->s);
        fmap cat = *sk;
        cat.c = h.c + sk->c;
        out(t, n, &cat);
        h = cnr(t, n, &cat, sk->c, 3, 1, has_norm);
        h = cnr(t, n, &h, sk->c, 3, 1, has_norm);
    }
    if (p->stride[0] > 1) {
        int64_t o = h.c / 2 > 0 ? h.c / 2 : 1;
        h = convt(t, n, &h, o, (int)p->stride[0], input->s);
        h = cnr(t, n, &h, o, 3, 1, has_norm);
        h = cnr(t, n, &h, o, 3, 1, has_norm);
    }
    fmap y = conv(t, n, &h, classes, 1, 1, true);
    for (int i = 0; i < 4; i++)
        out(t, n, &y); /* the reconstruction loss's temporaries */
}

/* a ViT over `tokens` tokens per sample (src/nn/vit.c): per block, tokens × width outputs of LN,
 * qkv (+ bias, + the head-major copy), attention output and its copy, projection (+ bias),
 * residual, LN, fc2 (+ bias), residual ≈ 20·dim; fc1 (+ bias) and GELU ≈ 3·hidden; the scores,
 * scaled scores and softmax, 3·heads·tokens². The backward of attention and layer norm makes
 * further temporaries of these sizes: VIT_BACKWARD, fitted on mae-2d and mae-3d
 * (docs/RECOMMEND.md). */
#define VIT_BACKWARD 1.8
static void vit(tally *t, int64_t n, int64_t tokens, int64_t dim, int depth, int heads,
                double mlp_ratio, int64_t patch_in) {
    int64_t hid = (int64_t)llround(mlp_ratio * (double)dim);
    if (t->count_par)
        t->params +=
            patch_in * dim + dim + (int64_t)depth * (4 * dim * dim + 2 * dim * hid + 13 * dim);
    double e = (double)n * (double)tokens * (double)(20 * dim + 3 * hid) +
               3.0 * (double)n * heads * (double)tokens * (double)tokens;
    int64_t all = (int64_t)llround(VIT_BACKWARD * (depth * e + (double)(n * tokens * dim)));
    t->fwd += all;
    if (t->grad_on) t->grad += all;
}

/* one pass of the encoder over n samples of size x; returns the embedding width */
static int64_t encoder_pass(tally *t, int64_t n, const fmap *x, const mem_model *m, pyramid *p) {
    out(t, n, x); /* the input batch */
    if (m->arch == MEM_ARCH_RESNET) return resnet(t, n, x, m, p);
    if (m->arch == MEM_ARCH_UNET) return unet_encoder(t, n, x, m, p);
    int64_t tok = 1, pin = x->c;
    for (int d = 0; d < t->dims; d++) {
        tok *= x->s[d] / m->vit_patch;
        pin *= m->vit_patch;
    }
    p->n = 0;
    vit(t, n, tok + 1, m->vit_dim, m->vit_depth, m->vit_heads, m->vit_mlp, pin);
    return m->vit_dim;
}

/* A member method's passes: how many encoder passes with and without gradients, at which sample
 * size, and whether it has a dense decoder or an EMA target. */
typedef struct method_facts {
    const char *name;
    int grad_passes, target_passes; /* encoder passes (views) with / without gradients */
    bool decoder, ema;
    int head_mlps; /* projector / predictor MLPs of width ≈ the embedding */
} method_facts;

static const method_facts facts[] = {
    {"simclr", 2, 0, false, false, 1},    {"moco", 1, 1, false, true, 1},
    {"byol", 2, 2, false, true, 2},       {"simsiam", 2, 0, false, false, 2},
    {"barlow", 2, 0, false, false, 3},    {"vicreg", 2, 0, false, false, 3},
    {"rotation", 1, 0, false, false, 1},  {"jigsaw", 1, 0, false, false, 1},
    {"rpl", 2, 0, false, false, 1},       {"denoising", 1, 0, true, false, 0},
    {"inpainting", 1, 0, true, false, 0}, {"genesis", 1, 0, true, false, 0},
    {"simmim", 1, 0, true, false, 0},     {"anomaly", 1, 0, true, false, 0},
    {"mae", 1, 0, false, false, 0},       {"supervised", 1, 0, false, false, 0},
};

const char *mem_method_known(const char *name) {
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (strcmp(facts[i].name, name) == 0) return facts[i].name;
    return NULL;
}

static const method_facts *facts_of(const char *name) {
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (strcmp(facts[i].name, name) == 0) return &facts[i];
    return NULL;
}

/* the sample a member's passes see: jigsaw tiles and rpl patches are smaller than the sample */
static fmap pass_input(const mem_model *m, const char *method, int *passes) {
    fmap x = {m->in_channels, {1, 1, 1}};
    for (int d = 0; d < m->dims; d++)
        x.s[d] = m->patch[d];
    if (strcmp(method, "jigsaw") == 0) {
        int g = m->dims == 2 ? 3 : 2;
        *passes = (int)ipow(g, m->dims);
        for (int d = 0; d < m->dims; d++) {
            int64_t s = (int64_t)floor(0.85 * (double)m->patch[d] / g);
            x.s[d] = s < 1 ? 1 : s;
        }
    } else if (strcmp(method, "rpl") == 0) {
        for (int d = 0; d < m->dims; d++)
            x.s[d] = m->patch[d] / 4 < 1 ? 1 : m->patch[d] / 4;
    }
    return x;
}

tassl_status mem_estimate(const mem_model *m, tassl_mem_estimate *e) {
    memset(e, 0, sizeof *e);
    tally t = {.dims = m->dims};
    int64_t emb = 0, enc_params = 0, head_params = 0;
    bool ema = false, have_decoder = false;
    for (int k = 0; k < m->nmembers; k++) {
        const method_facts *f = facts_of(m->members[k]);
        if (!f)
            return tassl_error(TASSL_ERR_ARG,
                               "method.name: no memory model for method '%s' (known: simclr, "
                               "moco, byol, simsiam, barlow, vicreg, rotation, jigsaw, rpl, "
                               "denoising, inpainting, genesis, simmim, anomaly, mae)",
                               m->members[k]);
        int passes = f->grad_passes;
        fmap x = pass_input(m, f->name, &passes);
        if (strcmp(f->name, "jigsaw") == 0) passes *= f->grad_passes;
        if (strcmp(f->name, "rotation") == 0 && m->rotation_all) passes = m->dims == 2 ? 4 : 10;
        if (strcmp(f->name, "mae") == 0) {
            /* the encoder sees the visible quarter of the tokens; the decoder all of them */
            int64_t tok = 1;
            for (int d = 0; d < m->dims; d++)
                tok *= m->patch[d] / m->vit_patch;
            int64_t pin = m->in_channels * ipow(m->vit_patch, m->dims);
            t.grad_on = true;
            t.count_par = enc_params == 0;
            fmap in = {m->in_channels, {m->patch[0], m->patch[1], m->patch[2]}};
            out(&t, m->batch, &in);
            int64_t before = t.params;
            int64_t vis = (int64_t)ceil((1.0 - m->mae_ratio) * (double)tok) + 1;
            vit(&t, m->batch, vis, m->vit_dim, m->vit_depth, m->vit_heads, m->vit_mlp, pin);
            if (t.count_par) enc_params = t.params - before;
            t.count_par = true;
            vit(&t, m->batch, tok + 1, m->mae_dec_dim, m->mae_dec_depth, m->mae_dec_heads,
                m->vit_mlp, 0);
            t.params += m->vit_dim * m->mae_dec_dim + m->mae_dec_dim * pin;
            emb = m->vit_dim;
            continue;
        }
        for (int pass = 0; pass < passes + f->target_passes; pass++) {
            t.grad_on = pass < passes;
            t.count_par = enc_params == 0 && pass == 0;
            pyramid p = {0};
            int64_t before = t.params;
            emb = encoder_pass(&t, m->batch, &x, m, &p);
            if (t.count_par) enc_params = t.params - before;
            if (pass == 0 && f->decoder) {
                if (p.n == 0)
                    return tassl_error(TASSL_ERR_ARG,
                                       "model.arch: vit has no feature pyramid "
                                       "for the decoder of '%s'",
                                       f->name);
                t.count_par = !(m->arch == MEM_ARCH_UNET && have_decoder);
                decoder(&t, m->batch, &p, &x, m->in_channels, m->has_norm);
                have_decoder = true;
            }
        }
        head_params += (int64_t)f->head_mlps * (emb * emb + emb * 256);
        ema = ema || f->ema;
    }
    /* parameters: values + gradients + optimiser state (+ an EMA copy of encoder and heads) */
    e->params = t.params + head_params;
    int copies = 2 + m->opt_states;
    e->param_bytes = 4 * ((int64_t)copies * e->params + (ema ? enc_params + head_params : 0));
    e->act_elems = t.fwd + t.grad;
    e->act_bytes = (int64_t)llround(4.0 * ACT_FACTOR * (double)e->act_elems);
    e->scratch_bytes = 4 * t.scratch;
    e->pool_bytes = e->act_bytes + e->scratch_bytes + OVERHEAD_BYTES;
    e->total_bytes = e->param_bytes + e->pool_bytes;
    return TASSL_OK;
}

static bool key_is(const char *k) {
    return tassl_config_key_find(k) != NULL;
}

tassl_status mem_model_from_config(const tassl_config *c, mem_model *m) {
    memset(m, 0, sizeof *m);
    m->dims = (int)tassl_config_int(c, "model.dims");
    m->in_channels = tassl_config_int(c, "model.in_channels");
    m->batch = tassl_config_int(c, "train.batch_size");
    if (!key_is("data.patch"))
        return tassl_error(TASSL_ERR_ARG, "data.patch: the pretraining keys are not registered "
                                          "(call tassl_ssl_register_config first)");
    int np = tassl_config_list_len(c, "data.patch");
    if (np != 1 && np != m->dims)
        return tassl_error(TASSL_ERR_ARG,
                           "data.patch: %d values for model.dims %d (expected 1 or %d)", np,
                           m->dims, m->dims);
    for (int d = 0; d < 3; d++)
        m->patch[d] = 1;
    for (int d = 0; d < m->dims; d++)
        m->patch[d] = tassl_config_list_int(c, "data.patch", np == 1 ? 0 : d);
    const char *arch = tassl_config_str(c, "model.arch");
    m->arch = strcmp(arch, "vit") == 0    ? MEM_ARCH_VIT
              : strcmp(arch, "unet") == 0 ? MEM_ARCH_UNET
                                          : MEM_ARCH_RESNET;
    m->depth = (int)tassl_config_int(c, "model.depth");
    m->width = tassl_config_float(c, "model.width");
    m->small_stem = strcmp(tassl_config_str(c, "model.stem"), "small") == 0;
    m->has_norm = strcmp(tassl_config_str(c, "model.norm"), "none") != 0;
    m->unet_levels = (int)tassl_config_int(c, "model.unet.levels");
    m->unet_base = tassl_config_int(c, "model.unet.base");
    m->vit_patch = tassl_config_int(c, "model.vit.patch");
    m->vit_dim = tassl_config_int(c, "model.vit.dim");
    m->vit_depth = (int)tassl_config_int(c, "model.vit.depth");
    m->vit_heads = (int)tassl_config_int(c, "model.vit.heads");
    m->vit_mlp = tassl_config_float(c, "model.vit.mlp_ratio");
    if (m->arch == MEM_ARCH_VIT)
        for (int d = 0; d < m->dims; d++)
            if (m->patch[d] % m->vit_patch)
                return tassl_error(TASSL_ERR_ARG,
                                   "model.vit.patch: %lld does not divide data.patch "
                                   "%lld",
                                   (long long)m->vit_patch, (long long)m->patch[d]);
    if (key_is("method.mae.ratio")) {
        m->mae_ratio = tassl_config_float(c, "method.mae.ratio");
        int64_t dd = tassl_config_int(c, "method.mae.dec_dim");
        m->mae_dec_dim = dd > 0 ? dd : 512;
        m->mae_dec_depth = (int)tassl_config_int(c, "method.mae.dec_depth");
        m->mae_dec_heads = (int)tassl_config_int(c, "method.mae.dec_heads");
    }
    if (key_is("method.rotation.all"))
        m->rotation_all = tassl_config_bool(c, "method.rotation.all");
    const char *opt = tassl_config_str(c, "optim.name");
    m->opt_states = strcmp(opt, "adamw") == 0 ? 2 : 1;
    const char *name = tassl_config_str(c, "method.name");
    if (strcmp(name, "hybrid") == 0) {
        int n = tassl_config_list_len(c, "method.hybrid.members");
        if (n < 1 || n > MEM_MAX_MEMBERS)
            return tassl_error(TASSL_ERR_ARG, "method.hybrid.members: %d members, expected 1 to %d",
                               n, MEM_MAX_MEMBERS);
        for (int i = 0; i < n; i++)
            m->members[i] = tassl_config_list_str(c, "method.hybrid.members", i);
        m->nmembers = n;
    } else {
        m->members[0] = name;
        m->nmembers = 1;
    }
    return TASSL_OK;
}

tassl_status tassl_mem_estimate_config(const tassl_config *cfg, tassl_mem_estimate *out) {
    mem_model m;
    memset(out, 0, sizeof *out);
    tassl_status s = mem_model_from_config(cfg, &m);
    return s == TASSL_OK ? mem_estimate(&m, out) : s;
}
