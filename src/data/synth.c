/* synth.c — seeded phantoms with anatomy-like structure and inserted lesions of controlled size
 * and contrast. Case i is a pure function of (options, i): a head of nested ellipsoids (scalp,
 * skull, grey matter, white matter, two ventricles), a smooth texture, lesions, a multiplicative
 * bias field and Gaussian noise; ground truth by construction (lesion mask, boxes, presence). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"
#include "tassl/io.h"

tassl_synth_opts tassl_synth_opts_default(int dim) {
    tassl_synth_opts o;
    memset(&o, 0, sizeof o);
    o.dim = dim;
    if (dim == 3) o.size[0] = 64, o.size[1] = 64, o.size[2] = 64;
    else o.size[0] = 1, o.size[1] = 128, o.size[2] = 128;
    o.lesion_prob = 0.5f;
    o.max_lesions = 3;
    o.radius_min = 3;
    o.radius_max = 8;
    o.contrast_min = 0.3f;
    o.contrast_max = 0.8f;
    o.noise = 0.05f;
    o.bias = 0.2f;
    return o;
}

typedef struct ellipsoid {
    double c[3], r[3]; /* centre and radii in voxels, (D, H, W) */
} ellipsoid;

/* squared normalised distance; < 1 inside */
static double ell_d2(const ellipsoid *e, double z, double y, double x) {
    double dz = e->r[0] > 0 ? (z - e->c[0]) / e->r[0] : 0, dy = (y - e->c[1]) / e->r[1],
           dx = (x - e->c[2]) / e->r[2];
    return dz * dz + dy * dy + dx * dx;
}

/* value noise: a coarse lattice of uniform values, trilinearly interpolated */
typedef struct vnoise {
    int n[3];
    float *v;
} vnoise;

static int vnoise_init(vnoise *t, const int64_t size[3], int cells, srng *r) {
    for (int a = 0; a < 3; a++) t->n[a] = size[a] > 1 ? cells + 2 : 1;
    size_t N = (size_t)t->n[0] * t->n[1] * t->n[2];
    t->v = malloc(N * sizeof *t->v);
    if (!t->v) return 0;
    for (size_t i = 0; i < N; i++) t->v[i] = 2 * srng_unif(r) - 1;
    return 1;
}

static float vnoise_at(const vnoise *t, const int64_t size[3], int64_t z, int64_t y, int64_t x) {
    double p[3] = {(double)z, (double)y, (double)x};
    int i0[3];
    double f[3];
    for (int a = 0; a < 3; a++) {
        if (t->n[a] == 1) {
            i0[a] = 0, f[a] = 0;
            continue;
        }
        double u = p[a] / (double)size[a] * (t->n[a] - 2);
        i0[a] = (int)u;
        f[a] = u - i0[a];
    }
    double s = 0;
    for (int k = 0; k < 8; k++) {
        int o[3] = {k >> 2 & 1, k >> 1 & 1, k & 1};
        double w = 1;
        int idx[3];
        for (int a = 0; a < 3; a++) {
            if (t->n[a] == 1 && o[a]) w = 0;
            idx[a] = i0[a] + (t->n[a] == 1 ? 0 : o[a]);
            w *= o[a] ? f[a] : 1 - f[a];
        }
        if (w != 0) s += w * t->v[((size_t)idx[0] * t->n[1] + idx[1]) * t->n[2] + idx[2]];
    }
    return (float)s;
}

tassl_status tassl_synth_case(const tassl_synth_opts *o, int64_t index, tassl_image *image,
                              tassl_image *mask, tassl_box *boxes, int *nboxes, int *has_lesion) {
    memset(image, 0, sizeof *image);
    memset(mask, 0, sizeof *mask);
    *nboxes = 0;
    *has_lesion = 0;
    if (o->dim != 2 && o->dim != 3)
        return tassl_error(TASSL_ERR_ARG, "synth: dim = %d (expected 2 or 3)", o->dim);
    int64_t sz[3] = {o->dim == 2 ? 1 : o->size[0], o->size[1], o->size[2]};
    for (int a = 0; a < 3; a++)
        if (sz[a] < 1 || sz[a] > 4096 || (a > 0 && sz[a] < 16) || (o->dim == 3 && sz[a] < 16))
            return tassl_error(TASSL_ERR_ARG, "synth: size %lld x %lld x %lld (each axis 16..4096)",
                               (long long)sz[0], (long long)sz[1], (long long)sz[2]);
    if (o->max_lesions < 1 || o->max_lesions > TASSL_MAX_BOXES || !(o->radius_min > 0) ||
        !(o->radius_max >= o->radius_min) || !(o->contrast_max >= o->contrast_min) ||
        !(o->contrast_min >= 0) || !(o->lesion_prob >= 0 && o->lesion_prob <= 1) || !(o->noise >= 0) ||
        !(o->bias >= 0 && o->bias < 1))
        return tassl_error(TASSL_ERR_ARG,
                           "synth: options out of range (max_lesions 1..%d, 0 < radius_min <= "
                           "radius_max, 0 <= contrast_min <= contrast_max, lesion_prob in [0, 1], "
                           "noise >= 0, bias in [0, 1))", TASSL_MAX_BOXES);
    tassl_status st = tassl_image_new(image, 1, sz[0], sz[1], sz[2]);
    if (st == TASSL_OK) st = tassl_image_new(mask, 1, sz[0], sz[1], sz[2]);
    if (st != TASSL_OK) {
        tassl_image_free(image);
        tassl_image_free(mask);
        return st;
    }
    mask->is_label = 1;
    srng r;
    srng_init(&r, o->seed, (uint64_t)index, SRNG_TAG_SYNTH);

    /* anatomy: head → skull → brain (grey) → white matter, two ventricles */
    double ctr[3] = {(sz[0] - 1) / 2.0, (sz[1] - 1) / 2.0 + srng_range(&r, -0.03f, 0.03f) * sz[1],
                     (sz[2] - 1) / 2.0 + srng_range(&r, -0.03f, 0.03f) * sz[2]};
    double rad[3] = {sz[0] > 1 ? 0.46 * sz[0] * srng_range(&r, 0.9f, 1.0f) : 0,
                     0.46 * sz[1] * srng_range(&r, 0.9f, 1.0f), 0.40 * sz[2] * srng_range(&r, 0.85f, 1.0f)};
    ellipsoid head = {{ctr[0], ctr[1], ctr[2]}, {rad[0], rad[1], rad[2]}};
    ellipsoid skull = head, brain = head, wm = head, vl = head, vr = head;
    for (int a = 0; a < 3; a++) {
        skull.r[a] = head.r[a] * 0.93;
        brain.r[a] = head.r[a] * 0.85;
        wm.r[a] = head.r[a] * srng_range(&r, 0.55f, 0.65f);
    }
    double vs = srng_range(&r, 0.8f, 1.3f);
    for (int a = 0; a < 3; a++) vl.r[a] = vr.r[a] = head.r[a] * 0.12 * vs;
    vl.r[1] = vr.r[1] = head.r[1] * 0.25 * vs;
    vl.c[2] = ctr[2] - head.r[2] * 0.15;
    vr.c[2] = ctr[2] + head.r[2] * 0.15;
    const float I_SCALP = 0.55f, I_SKULL = 0.15f, I_GM = 0.6f, I_WM = 0.85f, I_CSF = 0.2f;

    vnoise tex, bias;
    memset(&tex, 0, sizeof tex);
    memset(&bias, 0, sizeof bias);
    if (!vnoise_init(&tex, sz, 8, &r) || !vnoise_init(&bias, sz, 2, &r)) {
        free(tex.v);
        free(bias.v);
        tassl_image_free(image);
        tassl_image_free(mask);
        return tassl_error(TASSL_ERR_NOMEM, "synth: out of memory");
    }

    /* lesions: inside the brain, away from each other */
    ellipsoid les[TASSL_MAX_BOXES];
    float lc[TASSL_MAX_BOXES];
    int nl = 0;
    if (srng_unif(&r) < o->lesion_prob) {
        int want = 1 + (int)srng_below(&r, o->max_lesions);
        for (int tries = 0; nl < want && tries < 200; tries++) {
            ellipsoid e;
            double rr = srng_range(&r, o->radius_min, o->radius_max);
            for (int a = 0; a < 3; a++) e.r[a] = rr * srng_range(&r, 0.75f, 1.25f);
            if (sz[0] == 1) e.r[0] = 0;
            for (int a = 0; a < 3; a++)
                e.c[a] = sz[a] == 1 ? 0 : ctr[a] + srng_range(&r, -1, 1) * brain.r[a];
            /* centre well inside the brain (lesion fits), not touching another lesion */
            double m = 0;
            for (int a = 0; a < 3; a++)
                if (brain.r[a] > 0) m = fmax(m, e.r[a] / brain.r[a]);
            if (ell_d2(&brain, e.c[0], e.c[1], e.c[2]) > (1 - m) * (1 - m) * 0.85) continue;
            int clash = 0;
            for (int k = 0; k < nl; k++) {
                double d2 = 0;
                for (int a = 0; a < 3; a++) d2 += (e.c[a] - les[k].c[a]) * (e.c[a] - les[k].c[a]);
                double lim = 0;
                for (int a = 0; a < 3; a++) lim = fmax(lim, e.r[a] + les[k].r[a]);
                if (d2 < (lim + 2) * (lim + 2)) clash = 1;
            }
            if (clash) continue;
            float c = srng_range(&r, o->contrast_min, o->contrast_max);
            lc[nl] = srng_unif(&r) < 0.5f ? -c : c;
            les[nl++] = e;
        }
    }
    double bias_amp = o->bias;
    int64_t box_lo[TASSL_MAX_BOXES][3], box_hi[TASSL_MAX_BOXES][3];
    for (int k = 0; k < nl; k++)
        for (int a = 0; a < 3; a++) box_lo[k][a] = INT64_MAX, box_hi[k][a] = -1;

    float *im = image->data, *mk = mask->data;
    for (int64_t z = 0; z < sz[0]; z++)
        for (int64_t y = 0; y < sz[1]; y++)
            for (int64_t x = 0; x < sz[2]; x++) {
                int64_t i = (z * sz[1] + y) * sz[2] + x;
                double v = 0;
                if (ell_d2(&head, z, y, x) < 1) {
                    v = I_SCALP;
                    if (ell_d2(&skull, z, y, x) < 1) v = I_SKULL;
                    if (ell_d2(&brain, z, y, x) < 1) {
                        /* smooth grey/white boundary with a textured wobble */
                        float t = vnoise_at(&tex, sz, z, y, x);
                        double dw = ell_d2(&wm, z, y, x) + 0.25 * t;
                        double fw = 1.0 / (1.0 + exp((dw - 1.0) * 12.0));
                        v = I_GM + (I_WM - I_GM) * fw + 0.04 * t;
                        if (ell_d2(&vl, z, y, x) < 1 || ell_d2(&vr, z, y, x) < 1) v = I_CSF;
                        for (int k = 0; k < nl; k++) {
                            double d2 = ell_d2(&les[k], z, y, x);
                            if (d2 < 1.6) {
                                /* soft edge over ~the outer quarter of the radius */
                                double d = sqrt(d2), w = d < 0.9 ? 1 : (d > 1.1 ? 0 : (1.1 - d) / 0.2);
                                v += lc[k] * I_WM * w;
                            }
                            if (d2 < 1) {
                                mk[i] = 1;
                                int64_t p[3] = {z, y, x};
                                for (int a = 0; a < 3; a++) {
                                    if (p[a] < box_lo[k][a]) box_lo[k][a] = p[a];
                                    if (p[a] > box_hi[k][a]) box_hi[k][a] = p[a];
                                }
                            }
                        }
                    }
                }
                double b = 1 + bias_amp * vnoise_at(&bias, sz, z, y, x);
                im[i] = (float)(v * b + o->noise * I_WM * srng_normal(&r));
            }
    free(tex.v);
    free(bias.v);
    for (int k = 0; k < nl; k++) {
        if (box_hi[k][1] < 0) continue; /* rasterised to nothing */
        tassl_box *bx = &boxes[*nboxes];
        memset(bx, 0, sizeof *bx);
        bx->label = 0;
        for (int a = 0; a < 3; a++) {
            bx->lo[a] = (float)box_lo[k][a];
            bx->hi[a] = (float)(box_hi[k][a] + 1);
        }
        (*nboxes)++;
    }
    *has_lesion = *nboxes > 0;
    snprintf(image->source, sizeof image->source, "synth:%d:%llu:%lld", o->dim,
             (unsigned long long)o->seed, (long long)index);
    memcpy(mask->source, image->source, sizeof mask->source);
    return TASSL_OK;
}

tassl_status tassl_synth_write(const tassl_synth_opts *o, int64_t n, const char *out_dir) {
    if (n < 1 || n > 1000000) return tassl_error(TASSL_ERR_ARG, "synth: n = %lld (expected 1..1000000)", (long long)n);
    char *root = data_path_absolute(out_dir);
    if (!root) return tassl_error(TASSL_ERR_IO, "%s: cannot resolve the path", out_dir);
    char dir[PATH_MAX];
    tassl_status st = TASSL_OK;
    snprintf(dir, sizeof dir, "%s/images", root);
    st = data_mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/masks", root);
    if (st == TASSL_OK) st = data_mkdirs(dir);
    tassl_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.source, sizeof m.source, "%s/manifest.csv", root);
    snprintf(m.root, sizeof m.root, "%s", root);
    for (int64_t i = 0; i < n && st == TASSL_OK; i++) {
        tassl_image img, mask;
        tassl_box boxes[TASSL_MAX_BOXES];
        int nb, pos;
        st = tassl_synth_case(o, i, &img, &mask, boxes, &nb, &pos);
        if (st != TASSL_OK) break;
        char ip[PATH_MAX], mp[PATH_MAX], subj[32];
        snprintf(ip, sizeof ip, "%s/images/case_%05lld.nii.gz", root, (long long)i);
        snprintf(mp, sizeof mp, "%s/masks/case_%05lld.nii.gz", root, (long long)i);
        snprintf(subj, sizeof subj, "case_%05lld", (long long)i);
        st = tassl_nifti_write(ip, &img, TASSL_NIFTI_FLOAT32, 1);
        if (st == TASSL_OK) st = tassl_nifti_write(mp, &mask, TASSL_NIFTI_UINT8, 1);
        tassl_image_free(&img);
        tassl_image_free(&mask);
        if (st != TASSL_OK) break;
        tassl_record r;
        memset(&r, 0, sizeof r);
        r.image = ip;
        r.mask = mp;
        r.label = pos;
        r.boxes = boxes;
        r.nboxes = nb;
        r.box_dim = o->dim;
        r.subject = subj;
        r.split = TASSL_SPLIT_NONE;
        st = tassl_manifest_add(&m, &r);
    }
    if (st == TASSL_OK) {
        m.has_boxes = 1; /* the column, even if no case drew a lesion */
        m.has_label = m.has_mask = 1;
        st = tassl_manifest_split(&m, 0.2, 0.2, o->seed);
    }
    if (st == TASSL_OK) st = tassl_manifest_write(&m, m.source);
    tassl_manifest_free(&m);
    free(root);
    return st;
}
