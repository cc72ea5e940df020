/* The text report on stdout: one row per layer and path, the fastest colconv
 * path marked, then a section per network. */
#ifndef COLCONV_BENCH_REPORT_H
#define COLCONV_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "conv_bench.h"
#include "net_bench.h"

typedef struct {
    double peak_gflops; /* single-core FMA peak; 0 hides the /peak1 column */
    bool peers;         /* show the "vs oneDNN" column */
    bool highlight;     /* bold the fastest row (a terminal) */
    bool measured;      /* --planning measure: the auto row gives its plan */
} bench_report_style;

/* What the columns mean, then their titles. */
void bench_report_header(FILE *out, const bench_report_style *style, int threads);
void bench_report_layer(FILE *out, const bench_report_style *style, const bench_layer_result *r);
/* The network section; layers are the net's conv layer results (may be 0). */
void bench_report_net(FILE *out, const bench_net_result *net, const bench_layer_result *layers,
                      size_t count);
/* The conv-layer totals of a net or layer set (also the first line of
 * bench_report_net), then on how many layers AUTO is within 10% of the
 * fastest eligible path, naming the misses. */
void bench_report_layer_totals(FILE *out, const char *net, const bench_layer_result *layers,
                               size_t count);
/* Under --planning measure: the time AUTO's creates took over the layers
 * (planning included), and the layers whose plan is not the cost rule's
 * pick. Nothing when no auto row ran. */
void bench_report_planning(FILE *out, const char *net, const bench_layer_result *layers,
                           size_t count);

#endif
