/* The layer kernels for AVX2 (8 lanes): the vocabulary of kernels_body.h
 * mapped to 256-bit intrinsics, maskload/maskstore for the partial vectors.
 * Compiled with -mavx2 -mfma; called only when the CPU has them. */
#include <immintrin.h>
#include <stdint.h>

typedef __m256 kvec;
#define KV 8

/* The 8 ints from index 8 - n have their first n set. */
static const int32_t lane_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i first_lanes(int n)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(lane_masks + 8 - n));
}

static inline kvec kv_set1(float x) { return _mm256_set1_ps(x); }
static inline kvec kv_load(const float *p) { return _mm256_loadu_ps(p); }
static inline kvec kv_load_n(const float *p, int n) { return _mm256_maskload_ps(p, first_lanes(n)); }
static inline void kv_store(float *p, kvec v) { _mm256_storeu_ps(p, v); }
static inline void kv_store_n(float *p, kvec v, int n) { _mm256_maskstore_ps(p, first_lanes(n), v); }
/* shuffle_ps takes a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit pairs go in order. */
static inline kvec kv_even(const float *p)
{
    const __m256 pairs = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8),
                                           _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline kvec kv_even2(kvec a, kvec b)
{
    const __m256 pairs = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline kvec kv_odd2(kvec a, kvec b)
{
    const __m256 pairs = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
}
/* a's upper half with b's lower, then each 128-bit lane's bytes shifted
 * along the pair. */
static inline kvec kv_next1(kvec a, kvec b)
{
    const __m256i mid = _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21));
    return _mm256_castsi256_ps(_mm256_alignr_epi8(mid, _mm256_castps_si256(a), 4));
}
static inline kvec kv_prev1(kvec a, kvec b)
{
    const __m256i mid = _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21));
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(b), mid, 12));
}
static inline kvec kv_next2(kvec a, kvec b)
{
    const __m256i mid = _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21));
    return _mm256_castsi256_ps(_mm256_alignr_epi8(mid, _mm256_castps_si256(a), 8));
}
typedef __m256i kmask;
static inline kmask kv_mask_lanes(int lo, int hi)
{
    return _mm256_andnot_si256(first_lanes(lo), first_lanes(hi));
}
/* lane0 as an integer: it may fall before the array (C forbids that
 * pointer); masked-out lanes are never read. */
static inline kvec kv_load_mask(uintptr_t lane0, kmask m, float fill)
{
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps((const float *)lane0, m),
                            _mm256_castsi256_ps(m));
}
static inline kvec kv_gather(const float *p, int stride)
{
    const __m256i lanes = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(stride));
    return _mm256_i32gather_ps(p, lanes, 4);
}
/* maxps returns its second operand when either is NaN: max(v, m) keeps a
 * NaN m; lanes where v is NaN take v. The compare tests v, not m, so the
 * dependency chain through m is the max and the blend. */
static inline kvec kv_max(kvec m, kvec v)
{
    return _mm256_blendv_ps(_mm256_max_ps(v, m), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
static inline kvec kv_add(kvec a, kvec b) { return _mm256_add_ps(a, b); }
static inline kvec kv_mul(kvec a, kvec b) { return _mm256_mul_ps(a, b); }
static inline kvec kv_fma(kvec a, kvec b, kvec c) { return _mm256_fmadd_ps(a, b, c); }
static inline kvec kv_div(kvec a, kvec b) { return _mm256_div_ps(a, b); }
static inline kvec kv_sqrt(kvec a) { return _mm256_sqrt_ps(a); }
/* Relative error below 1.5 * 2^-12. */
static inline kvec kv_rsqrt_estimate(kvec a) { return _mm256_rsqrt_ps(a); }
/* max(0, v) returns v when v is NaN (maxps returns its second operand). */
static inline kvec kv_relu(kvec v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
/* min(v, hi) returns v when v is NaN (minps returns its second operand). */
static inline kvec kv_cap(kvec v, float hi) { return _mm256_min_ps(_mm256_set1_ps(hi), v); }
static inline kvec kv_abs(kvec v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
static inline kvec kv_below(kvec x, float lo, kvec a, kvec b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_LT_OQ));
}
static inline kvec kv_keep_n(kvec v, int n, float fill)
{
    return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(first_lanes(n)));
}
/* p * 2^n for integer-valued n in [-126, 127] (n NaN: any finite scale). */
static inline kvec kv_scale2(kvec p, kvec n)
{
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
}
static inline __m128 kv_quarter_max(__m128 a, __m128 b)
{
    return _mm_blendv_ps(_mm_max_ps(a, b), a, _mm_cmpunord_ps(a, a));
}
/* The 128-bit halves, then pairwise (NaN-aware for max). */
static inline float kv_hmax(kvec v)
{
    __m128 m = kv_quarter_max(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = kv_quarter_max(m, _mm_movehl_ps(m, m));
    m = kv_quarter_max(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
static inline float kv_hsum(kvec v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define KB_KERNELS cc__layer_kernels_avx2
#include "kernels_body.h"
