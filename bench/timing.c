/* Repetitions timed one by one with CLOCK_MONOTONIC; the median is what the
 * report compares, min and max show the noise. */
#include "timing.h"

#include <stdlib.h>
#include <time.h>

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

bench_times bench_summarize(double *samples, int count)
{
    qsort(samples, (size_t)count, sizeof samples[0], compare_doubles);
    const double median = count % 2 ? samples[count / 2]
                                    : 0.5 * (samples[count / 2 - 1] + samples[count / 2]);
    return (bench_times){median, samples[0], samples[count - 1], count};
}

static int warm_up(bench_fn fn, void *context, const bench_plan *plan)
{
    const double start = bench_now_ms();
    for (int i = 0; i < plan->warmup; i++) {
        const int status = fn(context);
        if (status != 0)
            return status;
        if (plan->budget_ms > 0 && bench_now_ms() - start >= 0.5 * plan->budget_ms)
            return 0;
    }
    return 0;
}

static int out_of_time(const bench_plan *plan, double elapsed_ms, int done)
{
    if (plan->budget_ms <= 0)
        return 0;
    return (elapsed_ms >= plan->budget_ms && done >= 3) || elapsed_ms >= 2 * plan->budget_ms;
}

int bench_time(bench_fn fn, void *context, const bench_plan *plan, bench_times *times)
{
    double samples[BENCH_MAX_REPS];
    int reps = plan->reps < 1 ? 1 : plan->reps > BENCH_MAX_REPS ? BENCH_MAX_REPS : plan->reps;
    *times = (bench_times){0};
    int status = warm_up(fn, context, plan);
    const double start = bench_now_ms();
    int done = 0;
    while (status == 0 && done < reps) {
        const double t0 = bench_now_ms();
        status = fn(context);
        const double t1 = bench_now_ms();
        samples[done++] = t1 - t0;
        if (out_of_time(plan, t1 - start, done))
            break;
    }
    if (status == 0)
        *times = bench_summarize(samples, done);
    return status;
}
