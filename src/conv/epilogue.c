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
    case CC_ACT_RELU6:
        for (size_t i = 0; i < count; i++)
            x[i] = x[i] < 0.0f ? 0.0f : x[i] > 6.0f ? 6.0f : x[i];
        break;
    case CC_ACT_NONE:
        break;
    }
}

static void add_span(float *x, const float *y, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] += y[i];
}

void cc__epilogue_rows(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act)
{
    if (bias == NULL && residual == NULL && act == CC_ACT_NONE)
        return;
    for (size_t r = 0; r < rows; r++) {
        float *row = block + r * ld;
        if (bias != NULL) {
            const float b = bias[r];
            for (size_t c = 0; c < cols; c++)
                row[c] += b;
        }
        if (residual != NULL)
            add_span(row, residual + r * ld, cols);
        activate_span(row, cols, act);
    }
}

void cc__epilogue_cols(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act)
{
    if (bias == NULL && residual == NULL && act == CC_ACT_NONE)
        return;
    for (size_t r = 0; r < rows; r++) {
        float *row = block + r * ld;
        if (bias != NULL)
            add_span(row, bias, cols);
        if (residual != NULL)
            add_span(row, residual + r * ld, cols);
        activate_span(row, cols, act);
    }
}

/* Chunks of the residual sweep: large enough to amortise a fork. */
#define RESIDUAL_CHUNK ((size_t)1 << 16)

void cc__epilogue_residual(float *out, const float *residual, size_t count, cc_act act,
                           int threads)
{
    const size_t chunks = (count + RESIDUAL_CHUNK - 1) / RESIDUAL_CHUNK;
#pragma omp parallel for num_threads(threads) if (threads > 1 && chunks > 1) schedule(static)
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        const size_t start = chunk * RESIDUAL_CHUNK;
        const size_t length = count - start < RESIDUAL_CHUNK ? count - start : RESIDUAL_CHUNK;
        add_span(out + start, residual + start, length);
        activate_span(out + start, length, act);
    }
}
