/* Picks the FMA loop at run time and times it: best of several short runs,
 * so a busy neighbour on a shared machine costs accuracy, not the result. */
#include "fma_peak.h"

#include <stdio.h>

#include "timing.h"

/* Plain C: 8 independent float multiply-add chains (no FMA ISA assumed). */
static double loop_scalar(long iterations)
{
    float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const float mul = 0.999999f, add = 1e-7f;
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < 8; c++)
            acc[c] = acc[c] * mul + add;
    volatile float sink = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
    (void)sink;
    return (double)iterations * 8 * 2;
}

typedef double (*fma_loop)(long iterations);

static fma_loop pick_loop(char *isa, size_t isa_size)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        snprintf(isa, isa_size, "avx512");
        return bench_fma_loop_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        snprintf(isa, isa_size, "avx2");
        return bench_fma_loop_avx2;
    }
    snprintf(isa, isa_size, "scalar");
    return loop_scalar;
}

double bench_fma_peak(char *isa, size_t isa_size)
{
    const fma_loop loop = pick_loop(isa, isa_size);
    /* Calibrate to ~10 ms a run, then keep the best of 8 runs. */
    long iterations = 1 << 14;
    double ms = 0;
    while (iterations < (1L << 40)) {
        const double start = bench_now_ms();
        loop(iterations);
        ms = bench_now_ms() - start;
        if (ms >= 2.0)
            break;
        iterations *= 4;
    }
    iterations = (long)((double)iterations * 10.0 / (ms > 0 ? ms : 1.0)) + 1;
    double best = 0;
    for (int run = 0; run < 8; run++) {
        const double start = bench_now_ms();
        const double flops = loop(iterations);
        const double gflops = flops / ((bench_now_ms() - start) * 1e6);
        if (gflops > best)
            best = gflops;
    }
    return best;
}
