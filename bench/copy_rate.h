/* The machine's copy rate, the yardstick of the layers that only stream
 * memory (pooling, LRN, softmax, element-wise, concat, a batch-1 fully
 * connected layer): a layer is at memory speed when it moves its bytes in
 * and out about as fast as memcpy moves the same number of bytes. */
#ifndef COLCONV_BENCH_COPY_RATE_H
#define COLCONV_BENCH_COPY_RATE_H

#include <stddef.h>

/* The fastest of several memcpy calls that together read and write `bytes`
 * (bytes / 2 copied from one buffer to another, both warm: in a network a
 * layer reads what the previous one just wrote), split in equal parts over
 * `threads` OpenMP threads as a layer's work is. Milliseconds, or -1 when
 * the buffers cannot be allocated. */
double bench_copy_ms(size_t bytes, int threads);

/* The same from memory: before each timed copy the caches are flushed by
 * writing a buffer larger than any last-level cache here. The yardstick of
 * a layer that reads weights: inside a network they come from memory every
 * run (the other layers' data evicts them). */
double bench_copy_cold_ms(size_t bytes, int threads);

#endif
