/* Built without oneDNN (-DCOLCONV_WITH_ONEDNN=OFF): no peer to time. */
#include <stdio.h>

#include "onednn.h"

const char *bench_onednn_version(void) { return NULL; }

int bench_onednn_time(const cc_conv2d_params *p, int peer, int threads, const bench_plan *plan,
                      bench_peer_result *result, char *error, size_t error_size)
{
    (void)p, (void)peer, (void)threads, (void)plan, (void)result;
    snprintf(error, error_size, "colconv-bench was built without oneDNN "
                                "(configure with -DCOLCONV_WITH_ONEDNN=ON)");
    return -1;
}
