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
static inline kvec kv_gather(const float *p, int stride)
{
    const __m256i lanes = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(stride));
    return _mm256_i32gather_ps(p, lanes, 4);
}
/* maxps returns its second operand when either is NaN (so v when v is);
 * lanes where m is NaN keep m. */
static inline kvec kv_max(kvec m, kvec v)
{
    return _mm256_blendv_ps(_mm256_max_ps(m, v), m, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
}
static inline kvec kv_add(kvec a, kvec b) { return _mm256_add_ps(a, b); }
static inline kvec kv_mul(kvec a, kvec b) { return _mm256_mul_ps(a, b); }
static inline kvec kv_div(kvec a, kvec b) { return _mm256_div_ps(a, b); }
static inline kvec kv_sqrt(kvec a) { return _mm256_sqrt_ps(a); }

#define KB_KERNELS cc__layer_kernels_avx2
#include "kernels_body.h"
