/* anomaly.c — the pathology-aware pretext task (include/tassl/anomaly.h): synthetic anomalies —
 * lesion-like blobs or foreign patches — blended into the foreground of the clean sample on the
 * host, and a U-Net decoder on the shared encoder's feature maps that must localise them:
 * per-voxel BCE (plus a soft Dice term by default) between its logits and the anomaly mask.
 *
 * Why this task: the review names pathology-aware pretext tasks an open challenge — contrastive
 * features are global and may miss subtle lesions; restoration keeps anatomy but is not asked to
 * notice what is abnormal. Here the network is trained exactly to notice local deviations from
 * healthy tissue (the idea behind FPI, Tan et al. 2021, and CutPaste, Li et al. 2021), so its
 * features respond to lesions, and the heat-map localises real ones without labels
 * (tests/test_anomaly.c measures both).
 *
 * Defaults and why: anomalies in 80 % of samples (healthy samples teach that "nothing" is an
 * answer), 1–2 per sample, radius 6–20 % of the smallest side (small lesions to a lobe), blob
 * intensity ±0.8–2 foreground std (subtle to obvious), soft borders over 30 % of the radius
 * (real lesions have no hard edge, and hard edges would be a shortcut), patches blended with
 * β 0.6–1; Dice + BCE (nnU-Net's default pair; Dice keeps the rare positive voxels from being
 * drowned by the background). Preview: clean sample, corrupted sample, predicted heat-map.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pretext.h"
#include "ssl_internal.h"
#include "tassl/anomaly.h"
#include "tassl/autograd.h"
#include "tassl/ops.h"

/* ---- the anomaly generator ------------------------------------------------------------------ */

#define ANOMALY_STREAM (TASSL_STREAM_USER + 64 + 16)

void tassl_anomaly_config_default(tassl_anomaly_config *c) {
    memset(c, 0, sizeof *c);
    c->kind = TASSL_ANOMALY_MIXED;
    c->prob = 0.8f;
    c->max_anomalies = 2;
    c->radius[0] = 0.06f, c->radius[1] = 0.2f;
    c->shift[0] = 0.8f, c->shift[1] = 2.0f;
    c->texture = 0.3f;
    c->border = 0.3f;
    c->blend[0] = 0.6f, c->blend[1] = 1.0f;
    c->fg_threshold = 0.15f;
}

static tassl_status parse_float(const char *field, const char *v, float *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x))
        return tassl_error(TASSL_ERR_ARG, "anomaly field %s: '%s' is not a number", field, v);
    *out = (float)x;
    return TASSL_OK;
}

static tassl_status parse_range(const char *field, const char *v, float out[2]) {
    char *end;
    double a = strtod(v, &end);
    if (end == v || *end != ',')
        return tassl_error(TASSL_ERR_ARG, "anomaly field %s: '%s' is not a range \"lo,hi\"", field,
                           v);
    const char *p = end + 1;
    double b = strtod(p, &end);
    if (end == p || *end || !isfinite(a) || !isfinite(b))
        return tassl_error(TASSL_ERR_ARG, "anomaly field %s: '%s' is not a range \"lo,hi\"", field,
                           v);
    out[0] = (float)a, out[1] = (float)b;
    return TASSL_OK;
}

tassl_status tassl_anomaly_config_set(tassl_anomaly_config *c, const char *field,
                                      const char *value) {
    tassl_anomaly_config t = *c;
    tassl_status s = TASSL_OK;
    if (strcmp(field, "kind") == 0) {
        if (strcmp(value, "mixed") == 0)
            t.kind = TASSL_ANOMALY_MIXED;
        else if (strcmp(value, "blob") == 0)
            t.kind = TASSL_ANOMALY_BLOB;
        else if (strcmp(value, "patch") == 0)
            t.kind = TASSL_ANOMALY_PATCH;
        else
            return tassl_error(TASSL_ERR_ARG,
                               "anomaly field kind: '%s', expected mixed, blob or "
                               "patch",
                               value);
    } else if (strcmp(field, "prob") == 0) {
        s = parse_float(field, value, &t.prob);
    } else if (strcmp(field, "max_anomalies") == 0) {
        float f;
        s = parse_float(field, value, &f);
        if (s == TASSL_OK && f != floorf(f))
            s = tassl_error(TASSL_ERR_ARG, "anomaly field max_anomalies: '%s' is not an integer",
                            value);
        t.max_anomalies = (int)f;
    } else if (strcmp(field, "radius") == 0) {
        s = parse_range(field, value, t.radius);
    } else if (strcmp(field, "shift") == 0) {
        s = parse_range(field, value, t.shift);
    } else if (strcmp(field, "texture") == 0) {
        s = parse_float(field, value, &t.texture);
    } else if (strcmp(field, "border") == 0) {
        s = parse_float(field, value, &t.border);
    } else if (strcmp(field, "blend") == 0) {
        s = parse_range(field, value, t.blend);
    } else if (strcmp(field, "fg_threshold") == 0) {
        s = parse_float(field, value, &t.fg_threshold);
    } else {
        return tassl_error(TASSL_ERR_ARG,
                           "anomaly: unknown field '%s' (kind, prob, max_anomalies, radius, shift, "
                           "texture, border, blend, fg_threshold)",
                           field);
    }
    if (s == TASSL_OK) s = tassl_anomaly_config_validate(&t);
    if (s == TASSL_OK) *c = t;
    return s;
}

tassl_status tassl_anomaly_config_validate(const tassl_anomaly_config *c) {
    if (!(c->prob >= 0 && c->prob <= 1))
        return tassl_error(TASSL_ERR_ARG, "anomaly field prob: %g, expected [0, 1]",
                           (double)c->prob);
    if (c->max_anomalies < 1 || c->max_anomalies > 16)
        return tassl_error(TASSL_ERR_ARG, "anomaly field max_anomalies: %d, expected 1..16",
                           c->max_anomalies);
    if (!(c->radius[0] > 0 && c->radius[0] <= c->radius[1] && c->radius[1] <= 0.5f))
        return tassl_error(TASSL_ERR_ARG,
                           "anomaly field radius: %g,%g, expected 0 < lo <= hi "
                           "<= 0.5",
                           (double)c->radius[0], (double)c->radius[1]);
    if (!(c->shift[0] >= 0 && c->shift[0] <= c->shift[1] && c->shift[1] <= 100))
        return tassl_error(TASSL_ERR_ARG,
                           "anomaly field shift: %g,%g, expected 0 <= lo <= hi "
                           "<= 100",
                           (double)c->shift[0], (double)c->shift[1]);
    if (!(c->texture >= 0 && c->texture <= 10))
        return tassl_error(TASSL_ERR_ARG, "anomaly field texture: %g, expected [0, 10]",
                           (double)c->texture);
    if (!(c->border >= 0 && c->border <= 1))
        return tassl_error(TASSL_ERR_ARG, "anomaly field border: %g, expected [0, 1]",
                           (double)c->border);
    if (!(c->blend[0] > 0 && c->blend[0] <= c->blend[1] && c->blend[1] <= 1))
        return tassl_error(TASSL_ERR_ARG, "anomaly field blend: %g,%g, expected 0 < lo <= hi <= 1",
                           (double)c->blend[0], (double)c->blend[1]);
    if (!(c->fg_threshold >= 0 && c->fg_threshold < 1))
        return tassl_error(TASSL_ERR_ARG, "anomaly field fg_threshold: %g, expected [0, 1)",
                           (double)c->fg_threshold);
    return TASSL_OK;
}

/* value noise on a coarse L×L×L lattice of uniform [−1, 1] values over the unit cube,
 * trilinearly interpolated (flat along an axis of size 1) */
#define LAT 5
typedef struct lattice {
    float v[LAT * LAT * LAT];
} lattice;

static void lattice_init(lattice *l, tassl_aug_rng *r) {
    for (int i = 0; i < LAT * LAT * LAT; i++)
        l->v[i] = 2 * tassl_aug_rng_uniform(r) - 1;
}

/* u in [0, 1]^3 */
static float lattice_at(const lattice *l, const double u[3]) {
    int i0[3];
    double f[3];
    for (int a = 0; a < 3; a++) {
        double p = fmin(fmax(u[a], 0), 1) * (LAT - 1);
        i0[a] = (int)p;
        if (i0[a] > LAT - 2) i0[a] = LAT - 2;
        f[a] = p - i0[a];
    }
    double s = 0;
    for (int k = 0; k < 8; k++) {
        int o[3] = {k >> 2 & 1, k >> 1 & 1, k & 1};
        double w = 1;
        for (int a = 0; a < 3; a++)
            w *= o[a] ? f[a] : 1 - f[a];
        s += w * l->v[((i0[0] + o[0]) * LAT + i0[1] + o[1]) * LAT + i0[2] + o[2]];
    }
    return (float)s;
}

/* a uniformly drawn foreground voxel (at most 64 tries); false if none was hit */
static bool draw_fg(const uint8_t *fg, const int64_t sz[3], tassl_aug_rng *r, int64_t c[3]) {
    for (int t = 0; t < 64; t++) {
        for (int a = 0; a < 3; a++)
            c[a] = tassl_aug_rng_int(r, 0, sz[a] - 1);
        if (fg[(c[0] * sz[1] + c[1]) * sz[2] + c[2]]) return true;
    }
    return false;
}

tassl_status tassl_anomaly_apply(const tassl_anomaly_config *cfg, const tassl_image *src,
                                 uint64_t seed, uint64_t sample, uint64_t epoch, float *out,
                                 float *mask, int *count) {
    const int64_t sz[3] = {src->d, src->h, src->w}, nv = tassl_image_voxels(src);
    const int C = src->channels;
    memcpy(out, src->data, sizeof(float) * (size_t)(C * nv));
    memset(mask, 0, sizeof(float) * (size_t)nv);
    if (count) *count = 0;
    tassl_aug_rng r;
    tassl_aug_rng_init(&r, seed, sample, epoch, ANOMALY_STREAM);
    if (!tassl_aug_rng_bernoulli(&r, cfg->prob)) return TASSL_OK;
    int want = (int)tassl_aug_rng_int(&r, 1, cfg->max_anomalies);

    /* foreground from channel 0; per-channel foreground std (the blob's intensity unit) */
    uint8_t *fg = malloc((size_t)nv);
    double *fstd = malloc(sizeof(double) * (size_t)C);
    if (!fg || !fstd) {
        free(fg);
        free(fstd);
        return tassl_error(TASSL_ERR_NOMEM, "anomaly: out of host memory");
    }
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < nv; i++)
        lo = fminf(lo, src->data[i]), hi = fmaxf(hi, src->data[i]);
    const float thr = lo + cfg->fg_threshold * (hi - lo);
    int64_t nfg = 0;
    for (int64_t i = 0; i < nv; i++)
        nfg += fg[i] = src->data[i] > thr;
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        int64_t n = 0;
        for (int64_t i = 0; i < nv; i++)
            if (fg[i] || nfg < 2) {
                double v = src->data[c * nv + i];
                s += v, ss += v * v, n++;
            }
        double m = s / (double)n, var = ss / (double)n - m * m;
        fstd[c] = sqrt(var > 1e-12 ? var : 1e-12);
    }
    int64_t side = 0;
    for (int a = 0; a < 3; a++)
        if (sz[a] > 1 && (side == 0 || sz[a] < side)) side = sz[a];

    int placed = 0;
    for (int k = 0; k < want; k++) {
        bool blob = cfg->kind == TASSL_ANOMALY_BLOB ||
                    (cfg->kind == TASSL_ANOMALY_MIXED && tassl_aug_rng_bernoulli(&r, 0.5f));
        double rad = tassl_aug_rng_range(&r, cfg->radius[0], cfg->radius[1]) * (double)side;
        if (rad < 1) rad = 1;
        double ra[3];
        for (int a = 0; a < 3; a++)
            ra[a] = sz[a] > 1 ? rad * tassl_aug_rng_range(&r, 0.7f, 1.3f) : 1;
        lattice edge, tex;
        lattice_init(&edge, &r);
        lattice_init(&tex, &r);
        /* blob: signed shift per channel; patch: blend factor, source centre, flips */
        float shift = tassl_aug_rng_range(&r, cfg->shift[0], cfg->shift[1]) *
                      (tassl_aug_rng_bernoulli(&r, 0.5f) ? 1.0f : -1.0f);
        float beta = tassl_aug_rng_range(&r, cfg->blend[0], cfg->blend[1]);
        int flip[3];
        for (int a = 0; a < 3; a++)
            flip[a] = sz[a] > 1 && tassl_aug_rng_bernoulli(&r, 0.5f) ? -1 : 1;
        int64_t c0[3], cs[3];
        if (!draw_fg(fg, sz, &r, c0)) continue;
        if (!blob) {
            bool ok = false;
            for (int t = 0; t < 16 && !ok; t++) { /* a source at least one radius away */
                if (!draw_fg(fg, sz, &r, cs)) break;
                double d2 = 0;
                for (int a = 0; a < 3; a++)
                    d2 += (double)(cs[a] - c0[a]) * (double)(cs[a] - c0[a]);
                ok = d2 >= rad * rad;
            }
            if (!ok) continue;
        }
        int64_t b0[3], b1[3];
        for (int a = 0; a < 3; a++) {
            int64_t e = sz[a] > 1 ? (int64_t)ceil(ra[a] * 1.3) + 1 : 0;
            b0[a] = c0[a] - e < 0 ? 0 : c0[a] - e;
            b1[a] = c0[a] + e >= sz[a] ? sz[a] - 1 : c0[a] + e;
        }
        for (int64_t z = b0[0]; z <= b1[0]; z++)
            for (int64_t y = b0[1]; y <= b1[1]; y++)
                for (int64_t x = b0[2]; x <= b1[2]; x++) {
                    const int64_t p[3] = {z, y, x}, i = (z * sz[1] + y) * sz[2] + x;
                    if (!fg[i]) continue;
                    double d2 = 0, u[3];
                    for (int a = 0; a < 3; a++) {
                        double q = sz[a] > 1 ? (double)(p[a] - c0[a]) / ra[a] : 0;
                        d2 += q * q;
                        u[a] = 0.5 + q / 2.6; /* the bounding box → [0, 1] */
                    }
                    /* irregular border: the radius varies by ±20 % */
                    double d = sqrt(d2) * (1 + 0.2 * lattice_at(&edge, u));
                    double alpha = cfg->border > 0 ? (1 - d) / cfg->border : (d < 1 ? 1 : 0);
                    if (alpha <= 0) continue;
                    if (alpha > 1) alpha = 1;
                    alpha = alpha * alpha * (3 - 2 * alpha); /* smoothstep */
                    if (blob) {
                        float t = lattice_at(&tex, u);
                        for (int c = 0; c < C; c++)
                            out[c * nv + i] += (float)(alpha * fstd[c]) *
                                               (shift + cfg->texture * fabsf(shift) * t);
                        if (alpha >= 0.5) mask[i] = 1;
                    } else {
                        int64_t q[3];
                        for (int a = 0; a < 3; a++) {
                            q[a] = cs[a] + flip[a] * (p[a] - c0[a]);
                            q[a] = q[a] < 0 ? 0 : q[a] >= sz[a] ? sz[a] - 1 : q[a];
                        }
                        int64_t j = (q[0] * sz[1] + q[1]) * sz[2] + q[2];
                        double w = beta * alpha;
                        for (int c = 0; c < C; c++)
                            out[c * nv + i] =
                                (float)((1 - w) * out[c * nv + i] + w * src->data[c * nv + j]);
                        if (w >= 0.5) mask[i] = 1;
                    }
                }
        placed++;
    }
    free(fg);
    free(fstd);
    if (count) *count = placed;
    return TASSL_OK;
}

/* ---- the method ----------------------------------------------------------------------------- */

static const tassl_cfg_key keys[] = {
    {"method.anomaly.set", TASSL_CFG_STRING_LIST, "[]", NULL, NULL,
     "generator fields as \"field=value\" over the defaults (kind mixed|blob|patch, prob, "
     "max_anomalies, radius lo,hi, shift lo,hi, texture, border, blend lo,hi, fg_threshold)"},
    {"method.anomaly.loss", TASSL_CFG_ENUM, "dice_bce", NULL, "dice_bce|bce",
     "localisation loss on the decoder's logits: BCE + soft Dice (nnU-Net's pair) or BCE alone"},
};
static const tassl_cfg_choice choices[] = {{"method.name", "anomaly"}};
static const tassl_cfg_section section = {
    .name = "anomaly",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = 1,
};

typedef struct anomaly {
    const tassl_ssl_env *env;
    tassl_ssl_decoder *dec;
    tassl_anomaly_config ac;
    bool dice;
} anomaly;

static tassl_status set_field(void *obj, const char *field, const char *value) {
    return tassl_anomaly_config_set(obj, field, value);
}

static tassl_status an_create(const tassl_ssl_env *env, const char *prefix, tassl_ssl_inputs *in,
                              void **state) {
    anomaly *a = calloc(1, sizeof *a);
    if (!a) return tassl_error(TASSL_ERR_NOMEM, "anomaly: out of host memory");
    *state = a;
    a->env = env;
    tassl_anomaly_config_default(&a->ac);
    tassl_status st = ssl_apply_set(env->cfg, "method.anomaly.set", set_field, &a->ac);
    if (st != TASSL_OK) return st;
    a->dice = strcmp(tassl_config_str(env->cfg, "method.anomaly.loss"), "dice_bce") == 0;
    const int64_t *sm = env->sample;
    in->clean = true;
    ssl_custom_add(in, "input", sm[0], sm[1], sm[2], sm[3]);
    ssl_custom_add(in, "mask", 1, sm[1], sm[2], sm[3]);
    if (tassl_encoder_arch_of(env->encoder) == TASSL_ENCODER_UNET && sm[0] != 1)
        return tassl_error(TASSL_ERR_ARG,
                           "method anomaly: model.arch unet predicts the mask with "
                           "the U-Net's own decoder, which needs model.in_channels "
                           "1 (got %lld); use model.arch resnet",
                           (long long)sm[0]);
    st = tassl_ssl_decoder_new(env->encoder, env->params, prefix, 1, &a->dec);
    return st == TASSL_OK ? st : ssl_wrap(st, "method anomaly");
}

static tassl_status an_init(void *state) {
    anomaly *a = state;
    return tassl_ssl_decoder_init(a->dec);
}

static tassl_status an_prepare(void *state, const tassl_ssl_sample *s, float *const *out) {
    anomaly *a = state;
    return tassl_anomaly_apply(&a->ac, s->clean, s->seed, s->index, s->epoch, out[0], out[1], NULL);
}

/* 1 − (2Σpm + 1) / (Σp + Σm + 1) over the whole batch (smoothed soft Dice) */
static tassl_tensor *soft_dice(tassl_tensor *prob, tassl_tensor *mask) {
    tassl_tensor *inter = tassl_sum_all(tassl_mul(prob, mask));
    tassl_tensor *den = tassl_add_scalar(tassl_add(tassl_sum_all(prob), tassl_sum_all(mask)), 1);
    tassl_tensor *ratio = tassl_div(tassl_add_scalar(tassl_scale(inter, 2), 1), den);
    return tassl_add_scalar(tassl_neg(ratio), 1);
}

static tassl_tensor *an_loss(void *state, const tassl_ssl_batch *b, tassl_ssl_loss_out *out) {
    anomaly *a = state;
    tassl_tensor *emb;
    tassl_tensor *logits = tassl_ssl_decoder_forward(a->dec, b->custom[0], true, &emb);
    tassl_tensor *mask = b->custom[1]; /* (N, 1, S...) */
    if (!logits || !mask) return NULL;
    tassl_tensor *bce = tassl_bce_with_logits(logits, mask, NULL, TASSL_REDUCE_MEAN);
    tassl_tensor *prob = tassl_sigmoid(logits);
    tassl_tensor *loss = bce;
    out->ncomponents = 1;
    out->comp[0] = (tassl_ssl_component){"bce", tassl_detach(bce)};
    if (a->dice) {
        tassl_tensor *dice = soft_dice(prob, mask);
        loss = tassl_add(bce, dice);
        out->comp[out->ncomponents++] = (tassl_ssl_component){"dice", tassl_detach(dice)};
    }
    /* the heat-map drawn on the clean batch's intensity scale (the preview shares one min–max
     * scale between its three panels) */
    const int all[] = {0, 1, 2, 3, 4}, nd = b->clean->ndim;
    tassl_tensor *hi = tassl_max(tassl_detach(b->clean), nd, all, false);
    tassl_tensor *lo = tassl_neg(tassl_max(tassl_neg(tassl_detach(b->clean)), nd, all, false));
    tassl_tensor *shown = tassl_add(tassl_mul(tassl_detach(prob), tassl_sub(hi, lo)), lo);
    ssl_set_preview(out, b->clean, b->custom[0], shown, emb);
    return loss;
}

static void an_destroy(void *state) {
    anomaly *a = state;
    tassl_ssl_decoder_free(a->dec);
    free(a);
}

const tassl_ssl_method tassl_ssl_anomaly = {
    .name = "anomaly",
    .paradigm = "pathology-aware",
    .summary = "pathology-aware: localise synthetic lesion-like blobs and foreign patches blended "
               "into healthy tissue (FPI / CutPaste-style)",
    .keys = &section,
    .create = an_create,
    .init = an_init,
    .bind_state = NULL,
    .prepare = an_prepare,
    .loss = an_loss,
    .after_step = NULL,
    .destroy = an_destroy,
};

tassl_status tassl_anomaly_heatmap(tassl_ssl *s, tassl_tensor *x, tassl_tensor **out) {
    *out = NULL;
    for (int m = 0; m < s->nmembers; m++) {
        if (s->mem[m].m != &tassl_ssl_anomaly) continue;
        anomaly *a = s->mem[m].state;
        tassl_no_grad_begin(s->env.ctx);
        tassl_tensor *logits = tassl_ssl_decoder_forward(a->dec, x, false, NULL);
        tassl_tensor *p = logits ? tassl_sigmoid(logits) : NULL;
        tassl_no_grad_end(s->env.ctx);
        tassl_status st = tassl_ctx_status(s->env.ctx);
        if (st != TASSL_OK)
            return tassl_error(st, "anomaly heat-map: %s", tassl_ctx_error_message(s->env.ctx));
        *out = p;
        return p ? TASSL_OK : tassl_error(TASSL_ERR_ARG, "anomaly heat-map: no output");
    }
    return tassl_error(TASSL_ERR_ARG, "anomaly heat-map: the run has no anomaly member "
                                      "(method.name anomaly, or a hybrid listing it)");
}
