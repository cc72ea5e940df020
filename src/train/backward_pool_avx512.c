/* Max pooling's backward for 2x2 windows at stride 2 (LeNet's, VGG's and
 * AlexNet-style pools), NCHW, AVX-512: sixteen windows at a time, each
 * window's four cells split into four vectors by permutes, the winner
 * chosen by mask registers in the forward's order, and the gradient
 * interleaved back into the two input rows: written over the input
 * gradient, not added to a zeroed one (the batch's gradient is larger than
 * L2, and a second pass over it cost as much as the rest). The scalar path (one window
 * at a time, the winner by selects) took 8-10% of a LeNet training step.
 * Compiled with -mavx512f (its name); called only when the CPU has it. */
#include <immintrin.h>

#include "backward.h"

/* (v > best) | isnan(v): the forward's kb_max takes v (a later NaN too). */
static inline __mmask16 takes_max(__m512 v, __m512 best)
{
    return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

/* Stores v into p's `lanes` lanes, or adds it to them when accumulate. */
static inline void put(float *p, __mmask16 lanes, __m512 v, bool accumulate)
{
    if (accumulate)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, p), v);
    _mm512_mask_storeu_ps(p, lanes, v);
}

/* Windows [0, n) of one row pair: x0/x1 the input rows, d0/d1 their
 * gradients (written, or added to when accumulate), dy the row of output
 * gradients. */
void cc__max2x2_rows_avx512(const float *x0, const float *x1, const float *dy, float *d0,
                            float *d1, int n, bool accumulate)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
    for (int j = 0; j < n; j += 16) {
        const int windows = n - j < 16 ? n - j : 16;
        const int cells = 2 * windows;
        const __mmask16 first = (__mmask16)(cells >= 16 ? 0xffffu : (1u << cells) - 1u);
        const __mmask16 second = (__mmask16)(cells <= 16 ? 0u : (1u << (cells - 16)) - 1u);
        const size_t at = 2 * (size_t)j;
        const __m512 t0 = _mm512_maskz_loadu_ps(first, x0 + at);
        const __m512 t1 = _mm512_maskz_loadu_ps(second, x0 + at + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(first, x1 + at);
        const __m512 b1 = _mm512_maskz_loadu_ps(second, x1 + at + 16);
        const __m512 a = _mm512_permutex2var_ps(t0, even, t1);
        const __m512 b = _mm512_permutex2var_ps(t0, odd, t1);
        const __m512 c = _mm512_permutex2var_ps(b0, even, b1);
        const __m512 d = _mm512_permutex2var_ps(b0, odd, b1);
        const __mmask16 took_b = takes_max(b, a);
        const __m512 after_b = _mm512_mask_mov_ps(a, took_b, b);
        const __mmask16 took_c = takes_max(c, after_b);
        const __m512 after_c = _mm512_mask_mov_ps(after_b, took_c, c);
        const __mmask16 took_d = takes_max(d, after_c);
        const __mmask16 top = (__mmask16)~(took_c | took_d);
        const __m512 g = _mm512_maskz_loadu_ps((__mmask16)((1u << windows) - 1u), dy + j);
        const __m512 ga = _mm512_maskz_mov_ps((__mmask16)(top & ~took_b), g);
        const __m512 gb = _mm512_maskz_mov_ps((__mmask16)(top & took_b), g);
        const __m512 gc = _mm512_maskz_mov_ps((__mmask16)(took_c & ~took_d), g);
        const __m512 gd = _mm512_maskz_mov_ps(took_d, g);
        put(d0 + at, first, _mm512_permutex2var_ps(ga, low, gb), accumulate);
        put(d0 + at + 16, second, _mm512_permutex2var_ps(ga, high, gb), accumulate);
        put(d1 + at, first, _mm512_permutex2var_ps(gc, low, gd), accumulate);
        put(d1 + at + 16, second, _mm512_permutex2var_ps(gc, high, gd), accumulate);
    }
}
