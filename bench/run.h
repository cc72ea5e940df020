/* Everything one colconv-bench run measured: what the writers read. */
#ifndef COLCONV_BENCH_RUN_H
#define COLCONV_BENCH_RUN_H

#include <stddef.h>

#include "conv_bench.h"
#include "env.h"
#include "net_bench.h"

enum { BENCH_MAX_THREAD_COUNTS = 8 };

typedef struct {
    bench_env env;
    int threads[BENCH_MAX_THREAD_COUNTS];
    int thread_count;
    bench_layer_result *layers;
    size_t layer_count, layer_capacity;
    bench_net_result *nets;
    size_t net_count, net_capacity;
} bench_run;

/* Append a copy; 0, or -1 when out of memory. */
int bench_run_add_layer(bench_run *run, const bench_layer_result *layer);
int bench_run_add_net(bench_run *run, const bench_net_result *net);
void bench_run_free(bench_run *run);

/* Failed paths, peers and networks in run (each marked failed in the report). */
int bench_run_failures(const bench_run *run);

#endif
