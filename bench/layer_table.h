/* The conv layers of the classic networks, as benchdnn descriptors: the one
 * table the bench and the tests share. */
#ifndef COLCONV_BENCH_LAYER_TABLE_H
#define COLCONV_BENCH_LAYER_TABLE_H

#include <stddef.h>

typedef struct {
    const char *net;
    const char *desc;
} bench_table_entry;

/* The descriptors of net (NULL: every net), in order; *count is set. */
const bench_table_entry *bench_table(size_t *count);

#endif
