/* moco.c — MoCo v2 (He, Fan, Wu, Xie & Girshick, CVPR 2020; v2: Chen, Fan, Girshick & He,
 * arXiv:2003.04297): a query network (the shared encoder + a projector MLP) and a key network
 * (their EMA copy, no gradient), InfoNCE of each query against its key (the other view of the
 * same sample) and a FIFO queue of K keys from earlier steps as negatives.
 *
 * Defaults and where they come from:
 *   - τ = 0.2: MoCo v2 §2 ("we use τ = 0.2", Table 1 with the MLP head);
 *   - m = 0.999: MoCo §3.2 / Table 4, the key encoder's momentum (constant, no schedule);
 *   - output dim 128: MoCo §3.3 ("128-D"); MLP head of v2: encoder dim → hidden (= encoder dim,
 *     2048 for a ResNet-50) → ReLU → 128, no batch norm (the official main_moco.py `--mlp`);
 *   - K = 4096 here, not the paper's 65536 (MoCo §4.1, ImageNet-1M): the queue should hold
 *     keys of a small fraction of the data — with a few thousand medical slices 65536 keys would
 *     be many epochs stale. Set method.moco.queue_size; it must hold a step's keys.
 * The query comes from view 0 and the key from view 1 (the paper's form, not symmetrised); the
 * key network runs in training mode (batch statistics) as the official code does. The
 * official code's shuffle-BN exists for multi-GPU batch norm; on one device the key network's
 * batch norm sees the whole batch and no shuffling would change it.
 *
 * State (bound to checkpoints): the key network "<prefix>target.*" (encoder.*, projector.*),
 * the queue "<prefix>queue" (K, D) of L2-normalised keys (initialised as the official code: a
 * normal draw, normalised per key) and its write position "<prefix>queue_ptr" (1). Keys of a
 * step are enqueued in after_step, not in loss(): the backward pass still needs the queue the
 * loss read. Order per step: loss (keys → pending), backward, optimiser, after_step (enqueue,
 * then momentum update) — the same sequence as the official loop, whose momentum update at the
 * start of step t+1 follows the optimiser step t.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ssl_target.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"
#include "tassl/ssl_loss.h"

static const tassl_cfg_key keys[] = {
    {"method.moco.temperature", TASSL_CFG_FLOAT, "0.2", "(0, 10]", NULL,
     "InfoNCE temperature tau (MoCo v2: 0.2)"},
    {"method.moco.momentum", TASSL_CFG_FLOAT, "0.999", "[0, 1]", NULL,
     "key network EMA momentum m (MoCo: 0.999)"},
    {"method.moco.queue_size", TASSL_CFG_INT, "4096", "[1, 16777216]", NULL,
     "keys in the queue K (paper 65536 on ImageNet; scale to the data; >= keys per step)"},
    {"method.moco.proj_hidden", TASSL_CFG_INT, "0", "[0, 65536]", NULL,
     "projector hidden width (0 = the encoder's embedding width, as MoCo v2)"},
    {"method.moco.proj_dim", TASSL_CFG_INT, "128", "[1, 65536]", NULL,
     "projector output width (MoCo: 128)"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "moco"}};
static const tassl_cfg_section section = {
    .name = "moco",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct moco {
    const tassl_ssl_env *env;
    char prefix[64];
    tassl_mlp *proj; /* online projector */
    ssl_target *key; /* key network */
    float tau, m;
    int64_t k, dim;      /* queue length, key width */
    tassl_params *state; /* queue (K, D), queue_ptr (1): bound */
    tassl_tensor *queue, *queue_ptr;
    tassl_params *staging; /* pending (cap, D): keys of this step's micro-batches, not bound */
    tassl_tensor *pending;
    int64_t cap, npending; /* rows of pending; rows filled since the last after_step */
    int64_t nloss;         /* loss() calls since the last after_step */
    int64_t ptr;           /* host copy of queue_ptr, valid when ptr_valid */
    bool ptr_valid;
} moco;

static tassl_status moco_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                                void **state) {
    const tassl_config *c = env->cfg;
    moco *s = calloc(1, sizeof *s);
    if (!s) return tassl_error(TASSL_ERR_NOMEM, "moco: out of host memory");
    *state = s;
    s->env = env;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->tau = (float)tassl_config_float(c, "method.moco.temperature");
    s->m = (float)tassl_config_float(c, "method.moco.momentum");
    s->k = tassl_config_int(c, "method.moco.queue_size");
    int64_t accum = tassl_config_int(c, "train.accum_steps");
    s->cap = env->batch * (accum > 0 ? accum : 1);
    if (s->k < s->cap)
        return tassl_error(TASSL_ERR_ARG,
                           "method.moco.queue_size: %lld keys cannot hold one step's %lld keys "
                           "(train.batch_size x train.accum_steps); expected >= %lld",
                           (long long)s->k, (long long)s->cap, (long long)s->cap);
    int64_t d = tassl_encoder_embed_dim(env->encoder);
    int64_t hidden = tassl_config_int(c, "method.moco.proj_hidden");
    tassl_mlp_cfg mc = {0};
    mc.layers = 2;
    mc.dims[0] = d;
    mc.dims[1] = hidden ? hidden : d;
    mc.dims[2] = s->dim = tassl_config_int(c, "method.moco.proj_dim");
    mc.norm = TASSL_NORM_NONE;
    in->views = 2;
    char name[128];
    tassl_status st = tassl_mlp_new(
        env->params, tassl_ssl_name(name, sizeof name, prefix, "projector"), &mc, &s->proj);
    if (st == TASSL_OK) st = ssl_target_new(env, prefix, &mc, &s->key);
    if (st != TASSL_OK) return st;
    if (!(s->state = tassl_params_new(env->ctx)) || !(s->staging = tassl_params_new(env->ctx)))
        return tassl_error(TASSL_ERR_NOMEM, "moco: out of host memory");
    s->queue = tassl_params_add_buffer(s->state, "queue", TASSL_SHAPE(s->k, s->dim));
    s->queue_ptr = tassl_params_add_buffer(s->state, "queue_ptr", TASSL_SHAPE(1));
    s->pending = tassl_params_add_buffer(s->staging, "pending", TASSL_SHAPE(s->cap, s->dim));
    if ((st = tassl_params_finalize(s->state)) != TASSL_OK) return st;
    return tassl_params_finalize(s->staging);
}

static tassl_status moco_init(void *state) {
    moco *s = state;
    tassl_ctx *ctx = s->env->ctx;
    tassl_status st = tassl_module_init(tassl_mlp_module(s->proj));
    if (st == TASSL_OK) st = ssl_target_init(s->key);
    if (st != TASSL_OK) return st;
    /* the official code: queue = normalize(randn(dim, K), dim=0), here (K, D) rows */
    tassl_scope_begin(ctx);
    tassl_no_grad_begin(ctx);
    tassl_randn_(s->queue, 0.0f, 1.0f);
    tassl_copy_(s->queue, tassl_l2_normalize(s->queue, 1, 1e-12f));
    tassl_no_grad_end(ctx);
    tassl_scope_end(ctx);
    tassl_fill_(s->queue_ptr, 0.0f);
    s->ptr = 0;
    s->ptr_valid = true;
    return tassl_ctx_status(ctx);
}

static tassl_status moco_bind(void *state, tassl_ckpt *ck) {
    moco *s = state;
    /* a checkpoint may be read into the bound tensors next: take the position from the device */
    s->ptr_valid = false;
    char name[128];
    tassl_status st = ssl_target_bind(s->key, s->prefix, ck);
    if (st == TASSL_OK)
        st = tassl_ckpt_add_tensor(ck, tassl_ssl_name(name, sizeof name, s->prefix, "queue"),
                                   s->queue);
    if (st == TASSL_OK)
        st = tassl_ckpt_add_tensor(ck, tassl_ssl_name(name, sizeof name, s->prefix, "queue_ptr"),
                                   s->queue_ptr);
    return st;
}

static tassl_tensor *moco_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    moco *s = state;
    tassl_tensor *h = tassl_encoder_forward(s->env->encoder, b->view[0], true, NULL); // (N, D)
    tassl_tensor *q = tassl_mlp_forward(s->proj, h, true);                            // (N, 128)
    tassl_tensor *k = ssl_target_forward(s->key, b->view[1]); // (N, 128), constant
    tassl_tensor *loss = tassl_loss_infonce(q, k, s->queue, s->tau);
    /* this micro-batch's normalised keys wait in `pending` for after_step (micro-batches beyond
     * the capacity — loss() called more often than train.accum_steps — overwrite cyclically) */
    int64_t n = b->n, slots = s->cap / n;
    if (n <= s->cap) {
        int64_t slot = s->nloss % slots;
        tassl_no_grad_begin(s->env->ctx);
        tassl_copy_(tassl_slice(s->pending, 0, slot * n, (slot + 1) * n, 1),
                    tassl_l2_normalize(k, 1, 1e-12f));
        tassl_no_grad_end(s->env->ctx);
        s->nloss++;
        s->npending = (s->nloss < slots ? s->nloss : slots) * n;
    }
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"infonce", tassl_detach(loss)};
    out->embedding = tassl_detach(q);
    return loss;
}

/* rows [0, n) of pending → queue rows [ptr, ptr + n) mod K */
static void enqueue(moco *s, int64_t n) {
    int64_t first = n < s->k - s->ptr ? n : s->k - s->ptr;
    tassl_copy_(tassl_slice(s->queue, 0, s->ptr, s->ptr + first, 1),
                tassl_slice(s->pending, 0, 0, first, 1));
    if (n > first)
        tassl_copy_(tassl_slice(s->queue, 0, 0, n - first, 1),
                    tassl_slice(s->pending, 0, first, n, 1));
    s->ptr = (s->ptr + n) % s->k;
}

static tassl_status moco_after(void *state, int64_t step) {
    (void)step;
    moco *s = state;
    tassl_ctx *ctx = s->env->ctx;
    if (!s->ptr_valid) {
        float p = tassl_item(s->queue_ptr);
        if (!(p >= 0.0f && p < (float)s->k && p == floorf(p)))
            return tassl_error(TASSL_ERR_FORMAT,
                               "moco: %squeue_ptr is %g, expected an integer in [0, %lld) "
                               "(method.moco.queue_size)",
                               s->prefix, p, (long long)s->k);
        s->ptr = (int64_t)p;
        s->ptr_valid = true;
    }
    if (s->npending > 0) {
        tassl_scope_begin(ctx);
        enqueue(s, s->npending);
        tassl_scope_end(ctx);
        tassl_fill_(s->queue_ptr, (float)s->ptr);
    }
    s->npending = s->nloss = 0;
    tassl_status st = tassl_ctx_status(ctx);
    return st == TASSL_OK ? ssl_target_update(s->key, s->m) : st;
}

static void moco_destroy(void *state) {
    moco *s = state;
    tassl_mlp_free(s->proj);
    ssl_target_free(s->key);
    tassl_params_free(s->state);
    tassl_params_free(s->staging);
    free(s);
}

ssl_target *ssl_moco_target(void *state) {
    return ((moco *)state)->key;
}

tassl_tensor *ssl_moco_queue_of(void *state, tassl_tensor **ptr_tensor) {
    moco *s = state;
    if (ptr_tensor) *ptr_tensor = s->queue_ptr;
    return s->queue;
}

const tassl_ssl_method tassl_ssl_moco = {
    .name = "moco",
    .paradigm = "contrastive",
    .summary = "MoCo v2: InfoNCE against a queue of keys from an EMA key encoder (He et al. 2020)",
    .keys = &section,
    .create = moco_create,
    .init = moco_init,
    .bind_state = moco_bind,
    .prepare = NULL,
    .loss = moco_loss,
    .after_step = moco_after,
    .destroy = moco_destroy,
};
