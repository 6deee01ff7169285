/* One env step of a population of plastic spiking networks (plasticagents.PlasticSNN), one
 * individual and episode at a time: plasticagents/native.py builds, loads and checks it.
 *
 * Why a hand-written loop: torch.compile fuses the step into one kernel, but each of its loops
 * runs over the whole population before the next starts, so the [P, B, N, I] fast weights,
 * the slow weights and alpha (3 x 7.6 MB for P=64, I=233, N=128) stream from L3 about nine
 * times per env step. Here each (individual, episode) runs all of its simulation steps while
 * its ~360 KB of synapses stay in L2.
 *
 * Two entry points: snn_step stores everything as float32; snn_step_f16
 * (agent.plasticity.storage: float16) stores raw, alpha and hebb as IEEE half, which halves
 * the bytes an env step streams (arithmetic stays float32; a fast weight is rounded when
 * stored). Both are one body, native_snn_step.inc, included once per storage type.
 *
 * Layouts (float32 but for the storage above, C-contiguous as written): x [P,B,D];
 * scale, bias [P,D]; raw [P,N,I] (post-major: the I inputs of neuron n contiguous);
 * alpha [P,N,R] and hebb [P,B,N,R] over the plastic rows only (PlasticitySpec.rows: the run
 * [r0, r0 + R) of the I presynaptic rows; R = I, r0 = 0 for rows 'all');
 * eta [P,E] with E in {1, N, N*R}, and the abcd rule's coefficients A, B, C, D [P,E] alike
 * (never read under the hebbian rule); w_mod [P,N,K] ([P,D+C,K] when the neuromodulator
 * reads the inputs, mod_input); fanout [P,K,N]; b_mod [P,K] (the gates' biases, gated mode);
 * w_out [P,N,O];
 * v, i, z, post_trace, spikes [P,B,N]; pre_trace [P,B,I]; ro_v, ro_i [P,B,O]; out [P,B,O].
 * Per-neuron decays: a_syn, a_mem [N]; readout ro_a_syn, ro_a_mem [O]. The presynaptic rows:
 * the D encoded inputs, C constant units (always 1: PlasticSNN's constant_input), then the N
 * spikes when recurrent, so I = D + C (+ N). dims->order may hold slots still (see snn_dims).
 * State arrays are read from the *_in and written to
 * the *_out pointers: each pair either apart or the same array (a state updated in place:
 * each value is read before it is written); scratch [P*B, 2I+5N+O+K] is each slot's working
 * memory. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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

/* AVX-512 rows (when the compiler targets it): the synapse loops run in blocks of 16 lanes
 * with the row's tail masked (I = 233 would leave 9 scalar iterations per row), two
 * accumulators for the current, and half rows converted by F16C/AVX-512 (GCC does not
 * vectorise _Float16 conversions without AVX512-FP16). The fast-weight updates compute what
 * the scalar macros below compute, operation for operation (no fused multiply-add); only the
 * current's sum runs in another order. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define SNN_SIMD 1

/* lanes [0, left) of a block of 16 */
static inline __mmask16 tail16_(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* 16 values as floats, the lanes outside m zero (m all ones: a plain load; masked stores
 * and loads cost more, on AMD's cores most) */
static inline __m512 ldf16_(const float *p, __mmask16 m) {
    return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

/* v stored in the lanes m of p; returns the values stored */
static inline __m512 stf16_(float *p, __mmask16 m, __m512 v) {
    if (m == 0xFFFF)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, m, v);
    return v;
}

#if defined(__FLT16_MAX__)
static inline __m512 ldh16_(const _Float16 *p, __mmask16 m) {
    return _mm512_cvtph_ps(m == 0xFFFF ? _mm256_loadu_si256((const __m256i *)(const void *)p)
                                       : _mm256_maskz_loadu_epi16(m, p));
}

/* v rounded to half (to nearest even), stored; returns the stored values as floats */
static inline __m512 sth16_(_Float16 *p, __mmask16 m, __m512 v) {
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (m == 0xFFFF)
        _mm256_storeu_si256((__m256i *)(void *)p, h);
    else
        _mm256_mask_storeu_epi16(p, m, h);
    return _mm512_cvtph_ps(h);
}
#define LD16_(p, m) \
    _Generic((p), const float *: ldf16_, float *: ldf16_, const _Float16 *: ldh16_, \
             _Float16 *: ldh16_)(p, m)
#define ST16_(p, m, v) _Generic((p), float *: stf16_, _Float16 *: sth16_)(p, m, v)
#else
#define LD16_(p, m) ldf16_(p, m)
#define ST16_(p, m, v) stf16_(p, m, v)
#endif

/* clampf_ per lane: MAX and MIN return their second operand when either is NaN */
static inline __m512 clamp16_(__m512 x, __m512 lo, __m512 hi) {
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
}

/* lerpf_ per lane */
static inline __m512 lerp16_(__m512 start, __m512 end, __m512 w) {
    const __m512 d = _mm512_sub_ps(end, start);
    const __m512 near = _mm512_add_ps(start, _mm512_mul_ps(w, d));
    const __m512 far = _mm512_sub_ps(end, _mm512_mul_ps(d, _mm512_sub_ps(_mm512_set1_ps(1.0f), w)));
    const __mmask16 low = _mm512_cmp_ps_mask(_mm512_abs_ps(w), _mm512_set1_ps(0.5f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(low, far, near);
}
#else
#define SNN_SIMD 0
#endif

/* Subnormal floats flushed to zero (FTZ) and read as zero (DAZ) while a thread runs the step.
 * A silent neuron's trace decays geometrically, and the fast weights it drives decay with it
 * through the subnormal range (below 1.2e-38), where every operation on x86 takes a
 * microcode assist of about a hundred cycles: a population's step measured 2.3x slower once a
 * few percent of its fast weights were subnormal. Flushing changes a value only where its
 * magnitude is below 1.2e-38. The caller's MXCSR is restored on leaving (OpenMP's threads
 * are pooled and may run torch's kernels next). */
#if defined(__SSE__)
#include <xmmintrin.h>
static inline unsigned snn_csr_enter_(void) {
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return csr;
}
static inline void snn_csr_leave_(unsigned csr) { _mm_setcsr(csr); }
#else
static inline unsigned snn_csr_enter_(void) { return 0u; }
static inline void snn_csr_leave_(unsigned csr) { (void)csr; }
#endif

/* memcpy, or nothing where the state array is its own output (updated in place) */
static inline void copy_state_(void *dst, const void *src, size_t bytes) {
    if (dst != src) memcpy(dst, src, bytes);
}

/* the fast-weight update's cases (see NEW_H_* in native_snn_step.inc) */
enum { H_MOD_SYN, H_MOD, H_SYN, H_GSYN, H_LOW, H_HIGH };

#define CAT2_(a, b) a##b
#define CAT_(a, b) CAT2_(a, b)

typedef struct {
    int64_t P, B, D, N, O, K, I, E, steps, C, r0, R;
    int recurrent, modulated, reset_zero, tanh_out, mod_input, gated, n_threads, abcd;
    float v_th, v_reset, trace_a, clip_lo, clip_hi;
    /* NULL: every slot runs. Otherwise a permutation of the P*B slots whose first n_run run
     * the step; the rest are held (their state copied through, spikes and output 0): slots
     * whose episodes ended, which a rollout no longer steps */
    const int64_t *order;
    int64_t n_run;
} snn_dims;

/* float32 storage: the step every population runs by default */
#define SNN_FN snn_step
#define W_T float
#define H_T float
#include "native_snn_step.inc"
#undef SNN_FN
#undef W_T
#undef H_T

/* float16 storage (agent.plasticity.storage: float16): raw, alpha and the fast weights
 * stored as IEEE half (round to nearest even), half the memory traffic per env step */
#if defined(__FLT16_MAX__) /* a compiler with _Float16 (GCC >= 12, Clang >= 15 on x86) */
#define SNN_FN snn_step_f16
#define W_T _Float16
#define H_T _Float16
#include "native_snn_step.inc"
#undef SNN_FN
#undef W_T
#undef H_T
#endif

/* The step with its 37 array pointers packed in snn_step's order (x, the 13 parameter
 * arrays, the 8 state inputs, the 10 outputs, scratch, the abcd rule's 4 coefficient arrays):
 * ctypes converts one array instead of 37 arguments per call. half: the float16-storage
 * step. */
#define SNN_UNPACK_(a)                                                                  \
    a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], \
        a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23], a[24], a[25], \
        a[26], a[27], a[28], a[29], a[30], a[31], a[32], a[33], a[34], a[35], a[36]
int snn_step_packed(const snn_dims *d, void *const *a, int half) {
    if (half) {
#if defined(__FLT16_MAX__)
        snn_step_f16(d, SNN_UNPACK_(a));
        return 0;
#else
        return -1; /* no float16 step in this build: nothing was computed */
#endif
    }
    snn_step(d, SNN_UNPACK_(a));
    return 0;
}

/* 1 when the synapse loops are the AVX-512 blocks, 0 for the portable loops */
int snn_simd(void) { return SNN_SIMD; }

/* The float mode (MXCSR) of each thread of a team of n_threads, as the step's calls would
 * get them, written to out[thread]; returns the team's size (0 without SSE: nothing to
 * read). The tests check with it that a step's threads leave their mode as they found it. */
int snn_team_csr(int n_threads, unsigned *out) {
#if defined(__SSE__) && defined(_OPENMP)
    int size = 0;
#pragma omp parallel num_threads(n_threads)
    {
        const int t = omp_get_thread_num();
        out[t] = _mm_getcsr();
#pragma omp single
        size = omp_get_num_threads();
    }
    return size;
#elif defined(__SSE__)
    (void)n_threads;
    out[0] = _mm_getcsr();
    return 1;
#else
    (void)n_threads;
    (void)out;
    return 0;
#endif
}
