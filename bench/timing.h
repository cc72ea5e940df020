/* Wall-clock timing with repetitions: median, min and max, time-boxed. */
#ifndef COLCONV_BENCH_TIMING_H
#define COLCONV_BENCH_TIMING_H

typedef struct {
    double median_ms, min_ms, max_ms;
    int reps; /* timed repetitions actually run */
} bench_times;

/* How long to time something: `warmup` untimed runs, then up to `reps`
 * (<= BENCH_MAX_REPS) timed ones. With budget_ms > 0 the loop is time-boxed:
 * warm-up stops once it has taken budget_ms / 2, and timing stops once it
 * has taken budget_ms with at least 3 repetitions (or 2 * budget_ms with
 * fewer), so a slow path on a big layer costs seconds, not minutes. */
typedef struct {
    int warmup, reps;
    double budget_ms; /* 0: run exactly warmup + reps */
} bench_plan;

enum { BENCH_MAX_REPS = 1000 };

/* One run of what is timed: 0, or nonzero when the run failed. */
typedef int (*bench_fn)(void *context);

/* Runs fn as plan says and fills *times. Every run's status is checked,
 * warm-up included: the first that fails ends the timing and its status is
 * returned, with *times zeroed (a failed run has no time). Returns 0 when
 * every run succeeded. */
int bench_time(bench_fn fn, void *context, const bench_plan *plan, bench_times *times);

/* Median, min and max of count samples (sorted in place); count >= 1. */
bench_times bench_summarize(double *samples, int count);

double bench_now_ms(void);

#endif
