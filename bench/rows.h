/* One row of the report per layer and path (colconv's paths, the SGEMM
 * roof, the peers): the unit the text table, the JSON "layers" array, the
 * CSV and --merge all share. bench/README.md documents every field. */
#ifndef COLCONV_BENCH_ROWS_H
#define COLCONV_BENCH_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "conv_bench.h"

typedef struct {
    char net[32];
    char layer[64];
    char desc[192];        /* benchdnn-style, canonical, with n"name" */
    char path[24];         /* direct, im2col, gemm1x1, winograd, winograd-f6x6, auto,
                              reference, sgemm, onednn_any, ... */
    char layout[8];        /* nchw, nhwc */
    char threading[8];     /* blas, tiles, single; "" for non-colconv and failed rows */
    char auto_pick[16];    /* the auto row: the path AUTO chose; else "" */
    char estimate_pick[16]; /* the auto row: the cost rule's pick; else "" */
    char impl[64];         /* peers: the implementation they chose; else "" */
    int threads, batch, count, reps, index;
    double gflop, ms_median, ms_min, ms_max, gflops;
    double ratio_to_sgemm;   /* gflops / the roof's gflops (1 for the roof) */
    double fraction_of_peak; /* gflops / single-core FMA peak; 0 if unknown */
    double auto_vs_fastest;  /* the auto row: bench_auto_vs_fastest; else 0 */
    int plan_threads;        /* the auto row: the threads its plan runs on; else 0 */
    double plan_ms;          /* the auto row: its create's time, planning included; else 0 */
    long long workspace_bytes; /* -1 where it does not apply (the roof) */
    bool fastest;            /* the fastest colconv path of its layer */
    /* A path or peer whose create or run failed: error says why, and the
     * row has no measurement (times, reps, gflops, ratios, workspace all
     * zero, workspace_bytes -1, threading ""): the writers print "failed"
     * and leave the figures out. */
    bool failed;
    char error[BENCH_ERROR_SIZE];
} bench_row;

/* The most rows one layer gives. */
enum { BENCH_MAX_ROWS_PER_LAYER = 1 + BENCH_PATHS + BENCH_PEERS };

/* Rows of r in report order: sgemm, reference, direct, im2col, gemm1x1,
 * winograd, winograd-f6x6, auto, then the peers, each if it ran or failed.
 * Returns the number written. */
size_t bench_layer_rows(const bench_layer_result *r, double peak_gflops,
                        bench_row rows[BENCH_MAX_ROWS_PER_LAYER]);

/* Nonzero for rows that are a roof, not a convolution ("sgemm", "torch_mm"). */
int bench_row_is_roof(const bench_row *row);

#endif
