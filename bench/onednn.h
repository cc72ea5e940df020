/* oneDNN's convolution on the same layer, for the side-by-side columns.
 * Compiled from onednn.c with -DCOLCONV_WITH_ONEDNN=ON (Debian's libdnnl-dev,
 * oneDNN 2.x C API), from onednn_none.c otherwise. */
#ifndef COLCONV_BENCH_ONEDNN_H
#define COLCONV_BENCH_ONEDNN_H

#include <stdbool.h>
#include <stddef.h>

#include "conv_bench.h"

/* The linked oneDNN's version ("2.6.3"), or NULL when built without it. */
const char *bench_onednn_version(void);

/* Times oneDNN's forward-inference convolution of p (with bias, no
 * activation, like colconv's rows) on `threads` OpenMP threads, as `peer`
 * (BENCH_ONEDNN_*) says: its direct or Winograd algorithm; on the formats
 * oneDNN picks for the source, weights and destination, the inputs
 * reordered once, outside the timed loop, or on plain tensors in p's layout
 * with OIHW (GOIHW) weights. Returns 0 (result filled: times,
 * workspace_bytes = its scratchpad, impl), BENCH_ONEDNN_NOT_IMPLEMENTED
 * when oneDNN has no implementation of that algorithm for the layer (or,
 * on plain tensors, only its reference loops), or -1
 * with a reason in error. */
enum { BENCH_ONEDNN_NOT_IMPLEMENTED = 1 };
int bench_onednn_time(const cc_conv2d_params *p, int peer, int threads, const bench_plan *plan,
                      bench_peer_result *result, char *error, size_t error_size);

#endif
