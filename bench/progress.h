/* Progress on stderr for long runs. On a terminal: one line rewritten per
 * layer ("layer i of n", elapsed, estimate left). Otherwise (a log, CI):
 * one line per network. Nothing with --quiet. */
#ifndef COLCONV_BENCH_PROGRESS_H
#define COLCONV_BENCH_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    bool quiet, tty;
    double start_ms;
    double total_work, done_work; /* any unit; the estimate is proportional */
    int layer, layers;
} bench_progress;

void bench_progress_start(bench_progress *p, FILE *out, bool quiet, int layers, double work);
/* A network (or layer set) starts: the one line shown when not a terminal. */
void bench_progress_net(bench_progress *p, const char *net, int threads, int layers);
/* A layer starts. */
void bench_progress_layer(bench_progress *p, const char *net, const char *layer);
/* Work finished since the last call. */
void bench_progress_advance(bench_progress *p, double work);
/* Clears the terminal line before the report prints over it. */
void bench_progress_clear(bench_progress *p);

#endif
