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
 * activation, like colconv's rows) on `threads` OpenMP threads. any_format:
 * oneDNN picks the source, weights and destination formats and the inputs
 * are reordered once, outside the timed loop; otherwise plain tensors in p's
 * layout with OIHW (GOIHW) weights. Returns 0 (result filled: times,
 * workspace_bytes = its scratchpad, impl), or -1 with a reason in error. */
int bench_onednn_time(const cc_conv2d_params *p, bool any_format, int threads,
                      const bench_plan *plan, bench_peer_result *result, char *error,
                      size_t error_size);

#endif
