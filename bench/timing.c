/* Repetitions timed one by one with CLOCK_MONOTONIC; the median is what the
 * report compares, min and max show the noise. */
#include "timing.h"

#include <stdlib.h>
#include <time.h>

#define MAX_REPS 1000

double bench_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_times bench_time(bench_fn fn, void *context, int warmup, int reps)
{
    double samples[MAX_REPS];
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    for (int i = 0; i < warmup; i++)
        fn(context);
    for (int i = 0; i < reps; i++) {
        const double start = bench_now_ms();
        fn(context);
        samples[i] = bench_now_ms() - start;
    }
    qsort(samples, (size_t)reps, sizeof samples[0], compare_doubles);
    const double median = reps % 2 ? samples[reps / 2]
                                   : 0.5 * (samples[reps / 2 - 1] + samples[reps / 2]);
    return (bench_times){median, samples[0], samples[reps - 1]};
}
