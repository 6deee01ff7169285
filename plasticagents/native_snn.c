/* One env step of a population of plastic spiking networks (plasticagents.PlasticSNN), one
 * individual and episode at a time: plasticagents/native.py builds, loads and checks it.
 *
 * Why a hand-written loop: torch.compile fuses the step into one kernel, but each of its loops
 * runs over the whole population before the next starts, so the [P, B, N, I] fast weights,
 * the slow weights and alpha (3 x 7.6 MB for P=64, I=233, N=128) stream from L3 about nine
 * times per env step. Here each (individual, episode) runs all of its simulation steps while
 * its ~360 KB of synapses stay in L2.
 *
 * Layouts (all float32, C-contiguous as written): x [P,B,D]; scale, bias [P,D];
 * raw, alpha [P,N,I] (post-major: the I inputs of neuron n contiguous); hebb [P,B,N,I];
 * eta [P,E] with E in {1, N, N*I}; w_mod [P,N,K]; fanout [P,K,N]; w_out [P,N,O];
 * v, i, z, post_trace, spikes [P,B,N]; pre_trace [P,B,I]; ro_v, ro_i [P,B,O]; out [P,B,O].
 * Per-neuron decays: a_syn, a_mem [N]; readout ro_a_syn, ro_a_mem [O]. I = D + N when
 * recurrent, else D. State arrays are read from the *_in and written to the *_out pointers
 * (which may not alias); scratch [P*B, 2I+3N+O+K] is each slot's working memory. */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* torch.clamp's (NaN stays NaN) */
static inline float clampf_(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* torch.lerp's formula, so that both paths round alike. */
static inline float lerpf_(float start, float end, float w) {
    float d = end - start;
    return (fabsf(w) < 0.5f) ? start + w * d : end - d * (1.0f - w);
}

/* One fast weight's update by the term t = pre_k q_n: modulated h + eta t, plain
 * lerp(h, t, eta) (Miconi's decay), then clamped to [lo, hi]. */
static inline float update_(float h, float t, float eta, int modulated, float lo, float hi) {
    return clampf_(modulated ? h + eta * t : lerpf_(h, t, eta), lo, hi);
}

typedef struct {
    int64_t P, B, D, N, O, K, I, E, steps;
    int recurrent, modulated, reset_zero, tanh_out, n_threads;
    float v_th, v_reset, trace_a, clip_lo, clip_hi;
} snn_dims;

void snn_step(
    const snn_dims *d, const float *x, const float *scale, const float *bias,
    const float *raw, const float *alpha, const float *eta, const float *w_mod,
    const float *fanout, const float *w_out, const float *a_syn, const float *a_mem,
    const float *ro_a_syn, const float *ro_a_mem,
    const float *hebb_in, const float *v_in, const float *i_in, const float *z_in,
    const float *pre_tr_in, const float *post_tr_in, const float *ro_v_in, const float *ro_i_in,
    float *hebb, float *v_out, float *i_out, float *z_out, float *pre_tr_out,
    float *post_tr_out, float *ro_v_out, float *ro_i_out, float *spikes_out, float *out,
    float *scratch) {
    const int64_t P = d->P, B = d->B, D = d->D, N = d->N, O = d->O, K = d->K, I = d->I;
    const int64_t E = d->E;
    const float ta = d->trace_a, tb = 1.0f - d->trace_a, jump = d->v_th - d->v_reset;
#pragma omp parallel for schedule(static) num_threads(d->n_threads)
    for (int64_t pb = 0; pb < P * B; pb++) {
        const int64_t p = pb / B;
        float *pre = scratch + pb * (2 * I + 3 * N + O + K); /* this slot's own rows */
        float *pre_tr = pre + I, *cur = pre_tr + I, *post_tr = cur + N, *m = post_tr + N;
        float *vv = m + N, *mk = vv + O;
        const float *xs = x + pb * D, *sc = scale + p * D, *bi = bias + p * D;
        const float *W = raw + p * N * I, *A = alpha + p * N * I, *et = eta + p * E;
        const float *Wo = w_out + p * N * O;
        float *H = hebb + pb * N * I;
        float *v = v_out + pb * N, *ii = i_out + pb * N, *z = z_out + pb * N;
        float *rv = ro_v_out + pb * O, *ri = ro_i_out + pb * O, *sp = spikes_out + pb * N;
        memcpy(v, v_in + pb * N, sizeof(float) * (size_t)N);
        memcpy(ii, i_in + pb * N, sizeof(float) * (size_t)N);
        memcpy(z, z_in + pb * N, sizeof(float) * (size_t)N);
        memcpy(pre_tr, pre_tr_in + pb * I, sizeof(float) * (size_t)I);
        memcpy(post_tr, post_tr_in + pb * N, sizeof(float) * (size_t)N);
        memcpy(rv, ro_v_in + pb * O, sizeof(float) * (size_t)O);
        memcpy(ri, ro_i_in + pb * O, sizeof(float) * (size_t)O);
        for (int64_t n = 0; n < N; n++) sp[n] = 0.0f;
        for (int64_t k = 0; k < D; k++) pre[k] = xs[k] * sc[k] + bi[k];
        if (d->recurrent) memcpy(pre + D, z, sizeof(float) * (size_t)N);
        const float *H0 = hebb_in + pb * N * I; /* the fast weights before this call */
        const int per_synapse = E == N * I;
        const float lo = d->clip_lo, hi = d->clip_hi;
        /* current of the first simulation step: pre @ (W + alpha * hebb) */
        for (int64_t n = 0; n < N; n++) {
            const float *w = W + n * I, *a = A + n * I, *h = H0 + n * I;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < I; k++) acc += pre[k] * (w[k] + a[k] * h[k]);
            cur[n] = acc;
        }
        for (int64_t s = 0; s < d->steps; s++) {
            /* LIF */
            for (int64_t n = 0; n < N; n++) {
                float i_new = lerpf_(cur[n], ii[n], a_syn[n]);
                float vn = lerpf_(i_new, v[n], a_mem[n]);
                float zn = (vn - d->v_th > 0.0f) ? 1.0f : 0.0f;
                vn = d->reset_zero ? vn * (1.0f - zn) + zn * d->v_reset : vn - zn * jump;
                ii[n] = i_new, v[n] = vn, z[n] = zn, sp[n] += zn;
            }
            /* traces */
            for (int64_t k = 0; k < I; k++) pre_tr[k] = ta * pre_tr[k] + tb * pre[k];
            for (int64_t n = 0; n < N; n++) post_tr[n] = ta * post_tr[n] + tb * z[n];
            /* the factor q_n of the Hebbian term pre_k q_n: post_n (plain) or post_n M_n */
            if (d->modulated) {
                const float *wm = w_mod + p * N * K, *fo = fanout + p * K * N;
                for (int64_t k = 0; k < K; k++) {
                    float acc = 0.0f;
                    for (int64_t n = 0; n < N; n++) acc += post_tr[n] * wm[n * K + k];
                    mk[k] = tanhf(acc);
                }
                for (int64_t n = 0; n < N; n++) {
                    float acc = 0.0f;
                    for (int64_t k = 0; k < K; k++) acc += mk[k] * fo[k * N + n];
                    m[n] = post_tr[n] * acc;
                }
            } else {
                memcpy(m, post_tr, sizeof(float) * (size_t)N);
            }
            /* leaky-integrator readout of z @ w_out */
            for (int64_t o = 0; o < O; o++) vv[o] = 0.0f;
            for (int64_t n = 0; n < N; n++)
                if (z[n] != 0.0f)
                    for (int64_t o = 0; o < O; o++) vv[o] += z[n] * Wo[n * O + o];
            for (int64_t o = 0; o < O; o++) {
                float i_new = lerpf_(vv[o], ri[o], ro_a_syn[o]);
                ri[o] = i_new, rv[o] = lerpf_(i_new, rv[o], ro_a_mem[o]);
            }
            /* this step's plasticity, fused with the next step's current (one pass) */
            const int last = s == d->steps - 1;
            if (!last && d->recurrent) memcpy(pre + D, z, sizeof(float) * (size_t)N);
            for (int64_t n = 0; n < N; n++) {
                const float *src = (s == 0 ? H0 : H) + n * I;
                const float *w = W + n * I, *a = A + n * I, *e = et + n * I;
                const float en = E == 1 ? et[0] : (E == N ? et[n] : 0.0f), q = m[n];
                const float low = fabsf(en) < 0.5f, rest = 1.0f - en;
                float *h = H + n * I;
                float acc = 0.0f;
                /* one loop per case, so that each vectorises without selects */
#define NEW_H_MOD_SYN clampf_(src[k] + e[k] * (pre_tr[k] * q), lo, hi)
#define NEW_H_MOD clampf_(src[k] + en * (pre_tr[k] * q), lo, hi)
#define NEW_H_SYN clampf_(lerpf_(src[k], pre_tr[k] * q, e[k]), lo, hi)
#define NEW_H_LOW clampf_(src[k] + en * (pre_tr[k] * q - src[k]), lo, hi)
#define NEW_H_HIGH clampf_(pre_tr[k] * q - (pre_tr[k] * q - src[k]) * rest, lo, hi)
#define FUSED(NEW_H)                                                                  \
    if (last) {                                                                       \
        _Pragma("omp simd") for (int64_t k = 0; k < I; k++) h[k] = NEW_H;             \
    } else {                                                                          \
        _Pragma("omp simd reduction(+ : acc)") for (int64_t k = 0; k < I; k++) {      \
            const float hk = NEW_H;                                                   \
            h[k] = hk;                                                                \
            acc += pre[k] * (w[k] + a[k] * hk);                                       \
        }                                                                             \
    }
                if (d->modulated && per_synapse) {
                    FUSED(NEW_H_MOD_SYN)
                } else if (d->modulated) {
                    FUSED(NEW_H_MOD)
                } else if (per_synapse) {
                    FUSED(NEW_H_SYN)
                } else if (low) {
                    FUSED(NEW_H_LOW)
                } else {
                    FUSED(NEW_H_HIGH)
                }
                cur[n] = acc;
            }
        }
        memcpy(pre_tr_out + pb * I, pre_tr, sizeof(float) * (size_t)I);
        memcpy(post_tr_out + pb * N, post_tr, sizeof(float) * (size_t)N);
        for (int64_t o = 0; o < O; o++) out[pb * O + o] = d->tanh_out ? tanhf(rv[o]) : rv[o];
    }
}
