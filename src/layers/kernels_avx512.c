/* The layer kernels for AVX-512F (16 lanes): the vocabulary of
 * kernels_body.h mapped to 512-bit intrinsics, with mask registers for the
 * partial vectors. Compiled with -mavx512f -mavx512vl; called only when the
 * CPU has them. */
#include <immintrin.h>
#include <stdint.h>

typedef __m512 kvec;
#define KV 16

static inline __mmask16 first_lanes(int n) { return (__mmask16)((1u << n) - 1u); }

static inline kvec kv_set1(float x) { return _mm512_set1_ps(x); }
static inline kvec kv_load(const float *p) { return _mm512_loadu_ps(p); }
static inline kvec kv_load_n(const float *p, int n) { return _mm512_maskz_loadu_ps(first_lanes(n), p); }
static inline void kv_store(float *p, kvec v) { _mm512_storeu_ps(p, v); }
static inline void kv_store_n(float *p, kvec v, int n) { _mm512_mask_storeu_ps(p, first_lanes(n), v); }
static inline kvec kv_even(const float *p)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
}
static inline kvec kv_even2(kvec a, kvec b)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, even, b);
}
static inline kvec kv_odd2(kvec a, kvec b)
{
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, odd, b);
}
static inline kvec kv_next1(kvec a, kvec b)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 1));
}
static inline kvec kv_prev1(kvec a, kvec b)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 15));
}
static inline kvec kv_next2(kvec a, kvec b)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 2));
}
typedef __mmask16 kmask;
static inline kmask kv_mask_lanes(int lo, int hi) { return (kmask)(first_lanes(hi) & ~first_lanes(lo)); }
/* lane0 as an integer: it may fall before the array (C forbids that
 * pointer); masked-out lanes are never read. */
static inline kvec kv_load_mask(uintptr_t lane0, kmask m, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), m, (const float *)lane0);
}
static inline kvec kv_gather(const float *p, int stride)
{
    const __m512i lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(stride));
    return _mm512_i32gather_ps(lanes, p, 4);
}
/* maxps returns its second operand when either is NaN: max(v, m) keeps a
 * NaN m; lanes where v is NaN take v. The mask tests v, not m, so the
 * dependency chain through m (a pooling window's cells, one after the
 * other) is the max alone. */
static inline kvec kv_max(kvec m, kvec v)
{
    return _mm512_mask_max_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v, m);
}
static inline kvec kv_add(kvec a, kvec b) { return _mm512_add_ps(a, b); }
static inline kvec kv_mul(kvec a, kvec b) { return _mm512_mul_ps(a, b); }
static inline kvec kv_fma(kvec a, kvec b, kvec c) { return _mm512_fmadd_ps(a, b, c); }
static inline kvec kv_div(kvec a, kvec b) { return _mm512_div_ps(a, b); }
static inline kvec kv_sqrt(kvec a) { return _mm512_sqrt_ps(a); }
/* Relative error below 2^-14. */
static inline kvec kv_rsqrt_estimate(kvec a) { return _mm512_rsqrt14_ps(a); }
/* max(0, v) returns v when v is NaN (maxps returns its second operand). */
static inline kvec kv_relu(kvec v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
/* min(v, hi) returns v when v is NaN (minps returns its second operand). */
static inline kvec kv_cap(kvec v, float hi) { return _mm512_min_ps(_mm512_set1_ps(hi), v); }
static inline kvec kv_abs(kvec v) { return _mm512_abs_ps(v); }
static inline kvec kv_below(kvec x, float lo, kvec a, kvec b)
{
    return _mm512_mask_mov_ps(b, _mm512_cmp_ps_mask(x, _mm512_set1_ps(lo), _CMP_LT_OQ), a);
}
static inline kvec kv_keep_n(kvec v, int n, float fill)
{
    return _mm512_mask_mov_ps(_mm512_set1_ps(fill), first_lanes(n), v);
}
/* scalef: p * 2^floor(n). */
static inline kvec kv_scale2(kvec p, kvec n) { return _mm512_scalef_ps(p, n); }
/* The halves, then the 128-bit quarters, pairwise (NaN-aware for max). */
static inline __m128 kv_quarter_max(__m128 a, __m128 b)
{
    return _mm_blendv_ps(_mm_max_ps(a, b), a, _mm_cmpunord_ps(a, a));
}
static inline float kv_hmax(kvec v)
{
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    const __m256 m8 = _mm256_blendv_ps(_mm256_max_ps(lo, hi), lo, _mm256_cmp_ps(lo, lo, _CMP_UNORD_Q));
    __m128 m = kv_quarter_max(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m = kv_quarter_max(m, _mm_movehl_ps(m, m));
    m = kv_quarter_max(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
static inline float kv_hsum(kvec v)
{
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    const __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define KB_KERNELS cc__layer_kernels_avx512
#include "kernels_body.h"
