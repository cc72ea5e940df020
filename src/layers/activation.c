/* Element-wise activations. The switch on the kind sits outside the loops so
 * that each loop vectorises; every function keeps NaN as NaN. */
#include <math.h>

#include "kernels.h"

/* Elements per unit of parallel work: long enough to vectorise and to
 * amortise scheduling, short enough to spread a small tensor over threads. */
#define ACTIVATION_BLOCK 4096

/* x clamped to [low, high] by comparisons that are false for NaN, which
 * therefore passes through. */
static inline float clamp(float x, float low, float high)
{
    return x < low ? low : x > high ? high : x;
}

cc_status cc__activation_check(const cc_activation *act)
{
    if (act == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "activation: act must not be NULL");
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
    case CC_ACTIVATION_SIGMOID:
    case CC_ACTIVATION_TANH:
        return CC_OK;
    case CC_ACTIVATION_LEAKY_RELU:
    case CC_ACTIVATION_ELU:
        if (!isfinite(act->alpha))
            return cc__fail(CC_ERR_INVALID_ARG, "activation: alpha must be finite (got %g)",
                            (double)act->alpha);
        return CC_OK;
    case CC_ACTIVATION_RELU_CAP:
        if (!(act->alpha > 0.0f) || !isfinite(act->alpha))
            return cc__fail(CC_ERR_INVALID_ARG,
                            "activation: a ReLU cap (alpha) must be finite and > 0 (got %g)",
                            (double)act->alpha);
        return CC_OK;
    case CC_ACTIVATION_HARD_SIGMOID:
        if (!isfinite(act->alpha))
            return cc__fail(CC_ERR_INVALID_ARG,
                            "activation: hard sigmoid alpha must be finite (got %g)",
                            (double)act->alpha);
        return CC_OK;
    case CC_ACTIVATION_HARD_SWISH:
        return CC_OK;
    }
    return cc__fail(CC_ERR_INVALID_ARG, "activation: kind %d is not a cc_activation_kind",
                    (int)act->kind);
}

void cc__activation_span(const cc_activation *act, const float *input, float *output,
                         size_t count)
{
    const float alpha = act->alpha;
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
        for (size_t i = 0; i < count; i++)
            output[i] = input[i] < 0.0f ? 0.0f : input[i];
        break;
    case CC_ACTIVATION_LEAKY_RELU:
        /* Written as max-like selects so that GCC vectorises it (a select of
         * alpha * x is control flow to it); NaN lands in `positive`. */
        for (size_t i = 0; i < count; i++) {
            const float x = input[i];
            const float negative = x < 0.0f ? x : 0.0f, positive = x < 0.0f ? 0.0f : x;
            output[i] = positive + alpha * negative;
        }
        break;
    case CC_ACTIVATION_SIGMOID:
        cc__layer_kernels_get()->sigmoid(input, output, count);
        break;
    case CC_ACTIVATION_TANH:
        cc__layer_kernels_get()->tanh(input, output, count);
        break;
    case CC_ACTIVATION_ELU:
        for (size_t i = 0; i < count; i++)
            output[i] = input[i] < 0.0f ? alpha * expm1f(input[i]) : input[i];
        break;
    case CC_ACTIVATION_RELU_CAP:
        for (size_t i = 0; i < count; i++)
            output[i] = clamp(input[i], 0.0f, alpha);
        break;
    case CC_ACTIVATION_HARD_SIGMOID:
        for (size_t i = 0; i < count; i++)
            output[i] = clamp(alpha * input[i] + 0.5f, 0.0f, 1.0f);
        break;
    case CC_ACTIVATION_HARD_SWISH:
        /* x / 6 as PyTorch computes it (a division, not x * (1/6)). */
        for (size_t i = 0; i < count; i++)
            output[i] = input[i] * clamp(input[i] / 6.0f + 0.5f, 0.0f, 1.0f);
        break;
    }
}

void cc__activation_run(const cc_activation *act, const float *input, float *output,
                        size_t count, int threads)
{
    /* ReLU, the networks' activation, on the ISA's kernel; the others here. */
    const cc__layer_kernels *k = act->kind == CC_ACTIVATION_RELU ? cc__layer_kernels_get() : NULL;
    const size_t blocks = cc__block_count(count, ACTIVATION_BLOCK);
    const int nt = cc__parallel_threads(threads, count);
    CC__LAYER_FOR(b, blocks, nt, {
        const size_t begin = b * ACTIVATION_BLOCK;
        const size_t len = cc__block_len(count, begin, ACTIVATION_BLOCK);
        if (k != NULL)
            k->relu(input + begin, output + begin, len);
        else
            cc__activation_span(act, input + begin, output + begin, len);
    });
}
