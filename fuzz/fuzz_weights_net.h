/* The small network whose weights files fuzz_weights loads: every tensor
 * kind of the format (conv weight and bias, batch norm statistics, dense
 * weight and bias), 181 floats in 8 tensors. */
#ifndef COLCONV_FUZZ_WEIGHTS_NET_H
#define COLCONV_FUZZ_WEIGHTS_NET_H

#include "colconv.h"

/* Input [1][2][5][5] NCHW: conv 3x3 to 3 maps, batch norm, dense to 4.
 * Weights initialised (He, seed 1); built when `build` is nonzero. Returns
 * NULL on failure. */
cc_net *fuzz_weights_net(int build);

#endif
