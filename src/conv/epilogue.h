/* Bias, residual and activation applied to a block of output. */
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

static inline bool cc__act_is_curve(cc_act act)
{
    return act == CC_ACT_SIGMOID || act == CC_ACT_TANH;
}

/* x[i] = act(x[i]) in place over n values when act is a curve (sigmoid or
 * tanh), vectorised by the layer kernels of the ISA family; nothing for the
 * other activations. libm's tanhf, one value at a time, took 5 ns a value
 * on an AMD EPYC Zen 5: 2/3 of LeNet-5's first conv layer. */
void cc__activate_curve(float *x, size_t n, cc_act act, cc__isa isa);

/* block[r][c] (row stride ld) = act(block[r][c] + bias[r] + residual[r][c]):
 * bias per row, as NCHW output channels are rows. bias and residual (laid
 * out as block, same ld) may be NULL. Rows split over up to `threads`
 * threads (a GEMM path's unit whose product ran on several threads; its
 * output is too large for one core's cache). */
void cc__epilogue_rows(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act, cc__isa isa, int threads);

/* block[r][c] = act(block[r][c] + bias[c] + residual[r][c]): bias per
 * column, as NHWC output channels are columns. */
void cc__epilogue_cols(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act, cc__isa isa, int threads);

/* out[i] = act(out[i] + residual[i]) over count values on up to `threads`
 * threads: the residual add of paths whose kernels cannot take it. */
void cc__epilogue_residual(float *out, const float *residual, size_t count, cc_act act,
                           cc__isa isa, int threads);

/* The row sweeps of each ISA family (epilogue_body.h): x[i] = act(x[i] +
 * bias[0] (row_bias) or bias[i] (col_bias) + residual[i]) over n values,
 * bias and residual NULL or not. */
#define CC__EPILOGUE_SWEEPS(suffix)                                                        \
    void cc__epilogue_row_bias_##suffix(float *x, const float *bias, const float *residual, \
                                        size_t n, cc_act act);                              \
    void cc__epilogue_col_bias_##suffix(float *x, const float *bias, const float *residual, \
                                        size_t n, cc_act act);
CC__EPILOGUE_SWEEPS(portable)
CC__EPILOGUE_SWEEPS(avx2)
CC__EPILOGUE_SWEEPS(avx512)
#undef CC__EPILOGUE_SWEEPS

#endif
