/* The JSON report (schema in bench/README.md), written with libcjson. */
#ifndef COLCONV_BENCH_JSON_H
#define COLCONV_BENCH_JSON_H

#include "run.h"

#define BENCH_JSON_SCHEMA "colconv-bench-report/1"

/* Writes run to path; 0, or -1 with a message on stderr. */
int bench_write_json(const bench_run *run, const char *path);

/* The network's conv layers' SGEMM roof over its end-to-end time, or -1
 * when its conv layers were not all timed. Shared with the text report. */
double bench_net_ratio_to_sgemm(const bench_net_result *net, const bench_run *run);

#endif
