/* The CSV report: the JSON's "layers" rows, one per line (bench/README.md). */
#ifndef COLCONV_BENCH_CSV_H
#define COLCONV_BENCH_CSV_H

#include <stdio.h>

#include "run.h"

/* The header line's column names, in order, comma-separated. */
extern const char bench_csv_header[];

/* Writes run's layer rows to path; 0, or -1 with a message on stderr. */
int bench_write_csv(const bench_run *run, const char *path);

#endif
