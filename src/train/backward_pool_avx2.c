/* Max pooling's backward for 2x2 windows at stride 2, NCHW, AVX2: as
 * backward_pool_avx512.c, eight windows at a time. Within each 128-bit
 * half, shufps splits sixteen cells into the windows' left and right
 * cells in the order (0 1 4 5 2 3 6 7); the output gradients are put in
 * that order, and unpcklps/unpckhps of the winners' gradients give the
 * cells back in place (0-7 and 8-15). Compiled with -mavx2 -mfma (its
 * name); called only when the CPU has them. */
#include <immintrin.h>

#include "backward.h"

/* The first n lanes (0 <= n <= 8) as a maskload/maskstore mask. */
static inline __m256i first_lanes(int n)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

/* (v > best) | isnan(v): the forward's kb_max takes v (a later NaN too). */
static inline __m256 takes_max(__m256 v, __m256 best)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

static inline void put(float *p, __m256i lanes, __m256 v, bool accumulate)
{
    if (accumulate)
        v = _mm256_add_ps(_mm256_maskload_ps(p, lanes), v);
    _mm256_maskstore_ps(p, lanes, v);
}

/* Windows [0, n) of one row pair, as cc__max2x2_rows_avx512. */
void cc__max2x2_rows_avx2(const float *x0, const float *x1, const float *dy, float *d0,
                          float *d1, int n, bool accumulate)
{
    for (int j = 0; j < n; j += 8) {
        const int windows = n - j < 8 ? n - j : 8;
        const int cells = 2 * windows;
        const __m256i first = first_lanes(cells < 8 ? cells : 8);
        const __m256i second = first_lanes(cells > 8 ? cells - 8 : 0);
        const size_t at = 2 * (size_t)j;
        const __m256 t0 = _mm256_maskload_ps(x0 + at, first);
        const __m256 t1 = _mm256_maskload_ps(x0 + at + 8, second);
        const __m256 b0 = _mm256_maskload_ps(x1 + at, first);
        const __m256 b1 = _mm256_maskload_ps(x1 + at + 8, second);
        const __m256 a = _mm256_shuffle_ps(t0, t1, 0x88), b = _mm256_shuffle_ps(t0, t1, 0xdd);
        const __m256 c = _mm256_shuffle_ps(b0, b1, 0x88), d = _mm256_shuffle_ps(b0, b1, 0xdd);
        const __m256 took_b = takes_max(b, a);
        const __m256 after_b = _mm256_blendv_ps(a, b, took_b);
        const __m256 took_c = takes_max(c, after_b);
        const __m256 after_c = _mm256_blendv_ps(after_b, c, took_c);
        const __m256 took_d = takes_max(d, after_c);
        const __m256 bottom = _mm256_or_ps(took_c, took_d);
        const __m256 g = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_maskload_ps(dy + j, first_lanes(windows))), 0xd8));
        const __m256 top_g = _mm256_andnot_ps(bottom, g);
        const __m256 ga = _mm256_andnot_ps(took_b, top_g), gb = _mm256_and_ps(took_b, top_g);
        const __m256 gd = _mm256_and_ps(took_d, g);
        const __m256 gc = _mm256_andnot_ps(took_d, _mm256_and_ps(took_c, g));
        put(d0 + at, first, _mm256_unpacklo_ps(ga, gb), accumulate);
        put(d0 + at + 8, second, _mm256_unpackhi_ps(ga, gb), accumulate);
        put(d1 + at, first, _mm256_unpacklo_ps(gc, gd), accumulate);
        put(d1 + at + 8, second, _mm256_unpackhi_ps(gc, gd), accumulate);
    }
}
