/* Bias + activation applied to a block of output while it is still in cache. */
#ifndef COLCONV_EPILOGUE_H
#define COLCONV_EPILOGUE_H

#include <math.h>

#include "../core/core.h"

/* One activation, IEEE-faithful: NaN stays NaN (relu keeps it too). */
static inline float cc__activate(float x, cc_act act)
{
    switch (act) {
    case CC_ACT_RELU:
        return x < 0.0f ? 0.0f : x;
    case CC_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case CC_ACT_TANH:
        return tanhf(x);
    case CC_ACT_RELU6:
        return x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x;
    case CC_ACT_NONE:
        break;
    }
    return x;
}

/* block[r][c] (row stride ld) = act(block[r][c] + bias[r] + residual[r][c]):
 * bias per row, as NCHW output channels are rows. bias and residual (laid
 * out as block, same ld) may be NULL. */
void cc__epilogue_rows(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act);

/* block[r][c] = act(block[r][c] + bias[c] + residual[r][c]): bias per
 * column, as NHWC output channels are columns. */
void cc__epilogue_cols(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act);

/* out[i] = act(out[i] + residual[i]) over count values on up to `threads`
 * threads: the residual add of paths whose kernels cannot take it. */
void cc__epilogue_residual(float *out, const float *residual, size_t count, cc_act act,
                           int threads);

#endif
