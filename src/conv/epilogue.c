/* Bias + activation over a hot block of output. The activation switch sits
 * outside the inner loops so that each inner loop vectorises. */
#include "epilogue.h"

static void activate_span(float *x, size_t count, cc_act act)
{
    switch (act) {
    case CC_ACT_RELU:
        for (size_t i = 0; i < count; i++)
            x[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case CC_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++)
            x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case CC_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            x[i] = tanhf(x[i]);
        break;
    case CC_ACT_NONE:
        break;
    }
}

void cc__epilogue_rows(float *block, size_t rows, size_t cols, size_t ld,
                       const float *bias, cc_act act)
{
    if (bias == NULL && act == CC_ACT_NONE)
        return;
    for (size_t r = 0; r < rows; r++) {
        float *row = block + r * ld;
        if (bias != NULL) {
            const float b = bias[r];
            for (size_t c = 0; c < cols; c++)
                row[c] += b;
        }
        activate_span(row, cols, act);
    }
}

void cc__epilogue_cols(float *block, size_t rows, size_t cols, size_t ld,
                       const float *bias, cc_act act)
{
    if (bias == NULL && act == CC_ACT_NONE)
        return;
    for (size_t r = 0; r < rows; r++) {
        float *row = block + r * ld;
        if (bias != NULL)
            for (size_t c = 0; c < cols; c++)
                row[c] += bias[c];
        activate_span(row, cols, act);
    }
}
