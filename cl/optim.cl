/* optim.cl — optimiser kernels: SGD, AdamW, LARS and EMA updates over a whole flat parameter
 * buffer in one launch, plus segmented sums of squares (LARS norms, global gradient norm) and the
 * clipping scale. Formulas and the run table are documented in src/backend/kern_optim.h.
 *
 * Why one launch with a binary search per element: a ResNet-18 has ~100 parameter entries; a
 * launch per entry costs 2–7 µs each on pocl, the search is ~7 loads from a table that stays in
 * L1, and the kernels are memory-bound anyway (AdamW streams 7 floats per element). */
#ifndef WG
#define WG 64
#endif

#define RUN_UPDATE 1
#define RUN_DECAY 2
#define RUN_ADAPT 4
#define RUN_COPY 8

/* Index of the run holding element i, or -1 (padding, gap, past the end). runs: int4 rows
 * {start, end, flags, index} sorted by start. */
inline int find_run(__global const int *runs, int nruns, int i) {
    int lo = 0, hi = nruns - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (runs[4 * mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return (nruns > 0 && runs[4 * lo] <= i && i < runs[4 * lo + 1]) ? lo : -1;
}

/* One work-group per chunk {start, len}: part[2c] = Σ a², part[2c + 1] = Σ b². */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sumsq_chunks(__global const float *a, int ao, __global const float *b, int bo, int has_b,
                  __global const int *chunks, int co, __global float *part, int po) {
    __local float la[WG], lb[WG];
    int c = get_group_id(0), l = get_local_id(0);
    int s = chunks[co + 2 * c], len = chunks[co + 2 * c + 1];
    float sa = 0.0f, sb = 0.0f;
    for (int i = l; i < len; i += WG) {
        float x = a[ao + s + i];
        sa += x * x;
        if (has_b) {
            float y = b[bo + s + i];
            sb += y * y;
        }
    }
    la[l] = sa;
    lb[l] = sb;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = WG / 2; k > 0; k >>= 1) {
        if (l < k) {
            la[l] += la[l + k];
            lb[l] += lb[l + k];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        part[po + 2 * c] = la[0];
        part[po + 2 * c + 1] = lb[0];
    }
}

/* One work-item per segment, chunks summed in order (deterministic). */
__kernel void sumsq_gather(__global const float *part, int po, __global const int *cb, int cbo,
                           int nseg, __global float *out, int oo) {
    int s = get_global_id(0);
    if (s >= nseg) return;
    float sa = 0.0f, sb = 0.0f;
    for (int c = cb[cbo + s]; c < cb[cbo + s + 1]; c++) {
        sa += part[po + 2 * c];
        sb += part[po + 2 * c + 1];
    }
    out[oo + 2 * s] = sa;
    out[oo + 2 * s + 1] = sb;
}

__kernel void clip_scale(__global float *g, int go, int n, __global const float *sumsq, int so,
                         float max_norm) {
    int i = get_global_id(0);
    if (i >= n) return;
    float coef = max_norm / (sqrt(sumsq[so]) + 1e-6f);
    if (coef < 1.0f) g[go + i] *= coef;
}

/* SGD momentum rule on direction d (see kern_optim.h). */
inline float sgd_dir(float d, __global float *bufp, float momentum, float one_m_damp,
                     int nesterov, int first) {
    if (momentum == 0.0f) return d;
    float b = first ? d : momentum * *bufp + one_m_damp * d;
    *bufp = b;
    return nesterov ? d + momentum * b : b;
}

__kernel void sgd(__global float *p, int po, __global const float *g, int go, __global float *buf,
                  int bo, __global const int *runs, int ro, int nruns, int n, float lr,
                  float momentum, float one_m_damp, int nesterov, int first, float wd) {
    int i = get_global_id(0);
    if (i >= n) return;
    int r = find_run(runs + ro, nruns, i);
    if (r < 0) return;
    int f = runs[ro + 4 * r + 2];
    if (!(f & RUN_UPDATE)) return;
    float w = (f & RUN_DECAY) ? wd : 0.0f;
    float x = p[po + i], d = g[go + i];
    if (w != 0.0f) d = d + w * x;
    float dir = sgd_dir(d, buf + bo + i, momentum, one_m_damp, nesterov, first);
    p[po + i] = x - lr * dir;
}

/* AdamW over ADAM_CHUNK consecutive elements per work-item: the run is looked up once per piece
 * of the chunk that lies in one run (not per element). Launch: ceil(n / ADAM_CHUNK) items. */
#define ADAM_CHUNK 64
__kernel void adamw(__global float *p, int po, __global const float *g, int go, __global float *m,
                    int mo, __global float *v, int vo, __global const int *runs, int ro, int nruns,
                    int n, float beta1, float beta2, float one_m_beta1, float one_m_beta2,
                    float eps, float decay_keep, float step_size, float bc2_sqrt) {
    int i = get_global_id(0) * ADAM_CHUNK;
    if (i >= n) return;
    int i1 = min(i + ADAM_CHUNK, n);
    while (i < i1) {
        int r = find_run(runs + ro, nruns, i);
        if (r < 0) { /* padding or a gap between runs */
            i++;
            continue;
        }
        int end = min(runs[ro + 4 * r + 1], i1);
        int f = runs[ro + 4 * r + 2];
        if (!(f & RUN_UPDATE)) {
            i = end;
            continue;
        }
        float keep = (f & RUN_DECAY) ? decay_keep : 1.0f;
        for (; i < end; i++) {
            float gi = g[go + i];
            float w = p[po + i] * keep;
            float mi = beta1 * m[mo + i] + one_m_beta1 * gi;
            float vi = beta2 * v[vo + i] + one_m_beta2 * gi * gi;
            float denom = sqrt(vi) / bc2_sqrt + eps;
            m[mo + i] = mi;
            v[vo + i] = vi;
            p[po + i] = w - step_size * (mi / denom);
        }
    }
}

__kernel void lars(__global float *p, int po, __global const float *g, int go, __global float *buf,
                   int bo, __global const float *norms, int no, __global const int *runs, int ro,
                   int nruns, int n, float lr, float momentum, float one_m_damp, int nesterov,
                   int first, float wd, float trust_coef) {
    int i = get_global_id(0);
    if (i >= n) return;
    int r = find_run(runs + ro, nruns, i);
    if (r < 0) return;
    int f = runs[ro + 4 * r + 2], idx = runs[ro + 4 * r + 3];
    if (!(f & RUN_UPDATE)) return;
    float w = (f & RUN_DECAY) ? wd : 0.0f;
    float trust = 1.0f;
    if (f & RUN_ADAPT) {
        float wn = sqrt(norms[no + 2 * idx]), gn = sqrt(norms[no + 2 * idx + 1]);
        if (wn > 0.0f && gn > 0.0f) trust = trust_coef * wn / (gn + w * wn);
    }
    float x = p[po + i], d = g[go + i];
    if (w != 0.0f) d = d + w * x;
    d = d * trust;
    float dir = sgd_dir(d, buf + bo + i, momentum, one_m_damp, nesterov, first);
    p[po + i] = x - lr * dir;
}

__kernel void ema(__global float *t, int to, __global const float *o, int oo,
                  __global const int *runs, int ro, int nruns, int n, float tau) {
    int i = get_global_id(0);
    if (i >= n) return;
    int r = find_run(runs + ro, nruns, i);
    if (r < 0) return;
    int f = runs[ro + 4 * r + 2];
    if (f & RUN_UPDATE) t[to + i] = tau * t[to + i] + (1.0f - tau) * o[oo + i];
    else if (f & RUN_COPY) t[to + i] = o[oo + i];
}
