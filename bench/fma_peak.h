/* The single-core FMA peak, measured at start-up: the ceiling every GFLOP/s
 * of the report can be read against. */
#ifndef COLCONV_BENCH_FMA_PEAK_H
#define COLCONV_BENCH_FMA_PEAK_H

#include <stddef.h>

/* Measures the peak of one core with the widest FMA loop the CPU runs
 * (AVX-512, AVX2, else plain C multiply-adds), on the calling thread, in
 * about 0.1 s. Stores the loop's name ("avx512", "avx2", "scalar") in isa.
 * Returns GFLOP/s (a multiply-add counts 2). */
double bench_fma_peak(char *isa, size_t isa_size);

/* The loops: `iterations` rounds of independent multiply-add chains, enough
 * of them to hide the FMA latency on two FMA ports. Return the FLOPs done.
 * The AVX ones may only be called when the CPU has the ISA. */
double bench_fma_loop_avx512(long iterations);
double bench_fma_loop_avx2(long iterations);

#endif
