/* Wall-clock timing with repetitions: median, min and max. */
#ifndef COLCONV_BENCH_TIMING_H
#define COLCONV_BENCH_TIMING_H

typedef struct {
    double median_ms, min_ms, max_ms;
} bench_times;

typedef void (*bench_fn)(void *context);

/* Runs fn warmup times untimed, then reps (<= 1000) times timed. */
bench_times bench_time(bench_fn fn, void *context, int warmup, int reps);

double bench_now_ms(void);

#endif
