/* AVX2 + FMA3 peak loop, compiled with -mavx2 -mfma (see CMakeLists.txt);
 * only called when the CPU has both. 12 chains of 8 floats: latency 4 x 2
 * ports needs 8 in flight, 12 leaves slack and fits in 16 registers. */
#include <immintrin.h>

#include "fma_peak.h"

enum { CHAINS = 12 };

double bench_fma_loop_avx2(long iterations)
{
    __m256 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
    __m256 sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = _mm256_add_ps(sum, acc[c]);
    volatile float sink = _mm256_cvtss_f32(sum); /* keeps the loop alive */
    (void)sink;
    return (double)iterations * CHAINS * 8 * 2;
}
