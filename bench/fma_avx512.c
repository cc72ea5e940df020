/* AVX-512F peak loop, compiled with -mavx512f (see CMakeLists.txt); only
 * called when the CPU has AVX-512F. 16 chains of 16 floats. */
#include <immintrin.h>

#include "fma_peak.h"

enum { CHAINS = 16 };

double bench_fma_loop_avx512(long iterations)
{
    __m512 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
    __m512 sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = _mm512_add_ps(sum, acc[c]);
    volatile float sink = _mm512_reduce_add_ps(sum); /* keeps the loop alive */
    (void)sink;
    return (double)iterations * CHAINS * 16 * 2;
}
