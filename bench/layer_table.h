/* The conv layers of the classic networks, as benchdnn descriptors: the one
 * table the bench, its tests and bench/vs_torch.py share. */
#ifndef COLCONV_BENCH_LAYER_TABLE_H
#define COLCONV_BENCH_LAYER_TABLE_H

#include <stddef.h>

typedef struct {
    const char *net;  /* a zoo name, or "googlenet1x1" (a layer set) */
    const char *desc; /* at batch 1 */
    int count;        /* times the layer occurs in the network */
} bench_table_entry;

/* Every entry, grouped by net in the order of the default report. */
const bench_table_entry *bench_table(size_t *count);

/* Nonzero when the table has layers of net. */
int bench_table_has(const char *net);

/* Nonzero when the table lists every conv of the zoo network `net` (with
 * counts), so that their times add up to the network's conv time. */
int bench_table_complete(const char *net);

#endif
