/* The text table of a bench run. */
#ifndef COLCONV_BENCH_REPORT_H
#define COLCONV_BENCH_REPORT_H

#include <stdio.h>

#include "conv_bench.h"

void bench_report_header(FILE *out);
void bench_report_layer(FILE *out, const bench_layer_result *r);
/* Per net: total ms of each path and of the fastest per layer, and the
 * median over its layers of im2col's speed as a fraction of the SGEMM roof. */
void bench_report_net(FILE *out, const char *net, const bench_layer_result *results, size_t count);

#endif
