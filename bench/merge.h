/* --merge A.json B.json: two reports of the same schema (colconv-bench's,
 * bench/vs_torch.py's) side by side, layer by layer. */
#ifndef COLCONV_BENCH_MERGE_H
#define COLCONV_BENCH_MERGE_H

#include <stddef.h>
#include <stdio.h>

#include "rows.h"

typedef struct {
    char tool[64];  /* "colconv-bench", "vs_torch.py" */
    char label[160];/* tool, version, date */
    bench_row *rows;
    size_t count;
} bench_report_file;

/* Reads the "layers" rows of a report; 0, or -1 with a reason in error. */
int bench_read_report(const char *path, bench_report_file *file, char *error, size_t error_size);
void bench_report_file_free(bench_report_file *file);

/* Prints, for each layer (net, layer, threads, batch) in both, the row each
 * marks fastest (colconv's fastest path, torch's conv2d) and the speed
 * ratio A/B; then the geometric mean of the ratios. Returns 0, or -1 (with a message) when
 * a file cannot be read. */
int bench_merge(const char *path_a, const char *path_b, FILE *out);

#endif
