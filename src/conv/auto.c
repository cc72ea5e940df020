/* AUTO: a pure cost rule choosing the path predicted fastest for a layer.
 * The rule follows the bench: GEMM wins once the reduction K and the output
 * channels are large enough for SGEMM's blocking; the direct kernels win
 * where im2col's copy dominates (few input channels per group, depthwise). */
#include "conv_internal.h"

/* Below this many input channels per group the im2col copy (KH*KW copies of
 * the input) costs more than the GEMM gains. */
#define DIRECT_MAX_GROUP_CHANNELS 4

cc_algo cc__auto_choose(const cc__conv_geom *g, cc__isa isa)
{
    const bool one_by_one = g->kh == 1 && g->kw == 1 && g->pt == 0 && g->pb == 0 &&
                            g->pl == 0 && g->pr == 0;
    if (one_by_one && g->cg > DIRECT_MAX_GROUP_CHANNELS)
        return CC_ALGO_GEMM1X1;
    if (isa != CC__ISA_SCALAR && (g->cg <= DIRECT_MAX_GROUP_CHANNELS || g->ocg < 8))
        return CC_ALGO_DIRECT;
    return one_by_one ? CC_ALGO_GEMM1X1 : CC_ALGO_IM2COL;
}
