/* Times every path of one conv layer, and SGEMM alone on its GEMM shape. */
#ifndef COLCONV_BENCH_CONV_BENCH_H
#define COLCONV_BENCH_CONV_BENCH_H

#include <stdbool.h>

#include "desc.h"
#include "timing.h"

enum { BENCH_PATHS = 5 };

typedef struct {
    cc_algo algo;
    bool ran;
    bench_times times;
    double gflops;
    size_t workspace_bytes;
    cc_threading threading;
    cc_algo picked; /* the path AUTO chose (for the auto row) */
} bench_path_result;

typedef struct {
    const char *net;
    bench_layer layer;
    cc_layout layout;
    double gflop;              /* 2 * MACs, in GFLOP */
    bench_times sgemm;         /* cblas_sgemm alone on the lowered shape(s) */
    double sgemm_gflops;
    bench_path_result paths[BENCH_PATHS];
    int fastest;               /* index into paths of the fastest that ran */
} bench_layer_result;

typedef struct {
    int warmup, reps;
    bool with_reference;
    bool paths[BENCH_PATHS]; /* indexed by cc_algo: which to time */
} bench_options;

/* 2 * N * OC * OH * OW * IC/g * KH * KW. */
double bench_layer_gflop(const cc_conv2d_params *p);

/* Times the layer; returns 0, or -1 with a message on stderr. */
int bench_conv_layer(const char *net, const bench_layer *layer, cc_layout layout,
                     const bench_options *options, bench_layer_result *result);

#endif
