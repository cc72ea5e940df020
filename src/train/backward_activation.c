/* Activation backward: dx = dy * f'(x), with the slopes PyTorch's backward
 * functions take at the kinks. The piecewise-linear kinds read the input
 * (hard swish's output does not determine x); sigmoid and tanh read the
 * output, which spares an exp. The switch on the kind sits outside the
 * loops so that each vectorises. */
#include "backward.h"

/* Elements per unit of parallel work (as the forward's). */
#define ACTIVATION_BLOCK 4096

/* slope[i] = f'(x_i) from x_i and y_i, for n elements. */
static void slopes(const cc_activation *act, const float *x, const float *y, float *slope,
                   size_t n)
{
    const float alpha = act->alpha;
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
        for (size_t i = 0; i < n; i++)
            slope[i] = x[i] > 0.0f ? 1.0f : 0.0f;
        break;
    case CC_ACTIVATION_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            slope[i] = x[i] > 0.0f ? 1.0f : alpha;
        break;
    case CC_ACTIVATION_SIGMOID:
        for (size_t i = 0; i < n; i++)
            slope[i] = y[i] * (1.0f - y[i]);
        break;
    case CC_ACTIVATION_TANH:
        for (size_t i = 0; i < n; i++)
            slope[i] = 1.0f - y[i] * y[i];
        break;
    case CC_ACTIVATION_ELU:
        /* alpha * exp(x) = y + alpha where x <= 0. */
        for (size_t i = 0; i < n; i++)
            slope[i] = x[i] > 0.0f ? 1.0f : y[i] + alpha;
        break;
    case CC_ACTIVATION_RELU_CAP:
        /* PyTorch's hardtanh_backward: 0 at both ends of the range. */
        for (size_t i = 0; i < n; i++)
            slope[i] = x[i] > 0.0f && x[i] < alpha ? 1.0f : 0.0f;
        break;
    case CC_ACTIVATION_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            const float z = alpha * x[i] + 0.5f;
            slope[i] = z > 0.0f && z < 1.0f ? alpha : 0.0f;
        }
        break;
    case CC_ACTIVATION_HARD_SWISH:
        for (size_t i = 0; i < n; i++)
            slope[i] = x[i] < -3.0f ? 0.0f : x[i] <= 3.0f ? x[i] / 3.0f + 0.5f : 1.0f;
        break;
    }
}

/* Slopes in chunks of this many on the stack, so that the kind's switch is
 * taken once per chunk and the products vectorise. */
#define SLOPE_CHUNK 256

static void backward_span(const cc_activation *act, const float *x, const float *y,
                          const float *dy, float *dx, size_t n, bool accumulate)
{
    float slope[SLOPE_CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += SLOPE_CHUNK) {
        const size_t len = n - i0 < SLOPE_CHUNK ? n - i0 : SLOPE_CHUNK;
        slopes(act, x + i0, y + i0, slope, len);
        if (accumulate)
            for (size_t i = 0; i < len; i++)
                dx[i0 + i] += dy[i0 + i] * slope[i];
        else
            for (size_t i = 0; i < len; i++)
                dx[i0 + i] = dy[i0 + i] * slope[i];
    }
}

void cc__activation_backward(const cc_activation *act, const float *input, const float *output,
                             const float *dy, float *dx, size_t count, bool accumulate,
                             int threads)
{
    const size_t blocks = cc__block_count(count, ACTIVATION_BLOCK);
    const int nt = cc__parallel_threads(threads, count);
    CC__LAYER_FOR(b, blocks, nt, {
        const size_t begin = b * ACTIVATION_BLOCK;
        const size_t len = cc__block_len(count, begin, ACTIVATION_BLOCK);
        backward_span(act, input + begin, output + begin, dy + begin, dx + begin, len,
                      accumulate);
    });
}
