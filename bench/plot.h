/* The chart: GFLOP/s per layer and path as bars, the SGEMM roof as marks and
 * the FMA peak as lines, one panel per thread count, drawn by gnuplot from
 * the CSV report. */
#ifndef COLCONV_BENCH_PLOT_H
#define COLCONV_BENCH_PLOT_H

#include "run.h"

/* Writes the gnuplot script next to png_path (same name, ".gp") and runs
 * gnuplot on it. csv_path must hold run's CSV. Returns 0, or -1 after
 * saying why on stderr (gnuplot missing: how to install it). */
int bench_plot(const bench_run *run, const char *csv_path, const char *png_path);

#endif
