/* The epilogue's row sweeps, compiled once per ISA family: the includer
 * defines EP_NAME(x), the instance's name for x, and EP_ISA, its ISA
 * family (epilogue.c, the portable one; epilogue_avx2.c and
 * epilogue_avx512.c, compiled with those ISAs).
 * Each combination of activation and operands is its own loop (sweep,
 * inlined with constant arguments), so that each vectorises; the curves
 * (sigmoid, tanh) follow the sweep as a pass of their own over the row. */
#include "epilogue.h"

/* x[i] = act(x[i] + bias[i * bias_step] + residual[i]) over n values;
 * bias and residual may be NULL. */
static inline __attribute__((always_inline)) void sweep(float *x, const float *bias,
                                                        size_t bias_step, const float *residual,
                                                        size_t n, cc_act act)
{
    if (bias != NULL && residual != NULL) {
        for (size_t i = 0; i < n; i++)
            x[i] = cc__activate(x[i] + bias[i * bias_step] + residual[i], act);
    } else if (bias != NULL) {
        for (size_t i = 0; i < n; i++)
            x[i] = cc__activate(x[i] + bias[i * bias_step], act);
    } else if (residual != NULL) {
        for (size_t i = 0; i < n; i++)
            x[i] = cc__activate(x[i] + residual[i], act);
    } else if (act != CC_ACT_NONE) {
        for (size_t i = 0; i < n; i++)
            x[i] = cc__activate(x[i], act);
    }
}

static inline __attribute__((always_inline)) void sweep_act(float *x, const float *bias,
                                                            size_t bias_step,
                                                            const float *residual, size_t n,
                                                            cc_act act)
{
    switch (act) {
    case CC_ACT_RELU:
        sweep(x, bias, bias_step, residual, n, CC_ACT_RELU);
        break;
    case CC_ACT_SIGMOID:
    case CC_ACT_TANH:
        sweep(x, bias, bias_step, residual, n, CC_ACT_NONE);
        cc__activate_curve(x, n, act, EP_ISA);
        break;
    case CC_ACT_RELU6:
        sweep(x, bias, bias_step, residual, n, CC_ACT_RELU6);
        break;
    case CC_ACT_NONE:
        sweep(x, bias, bias_step, residual, n, CC_ACT_NONE);
        break;
    }
}

void EP_NAME(cc__epilogue_row_bias)(float *x, const float *bias, const float *residual,
                                    size_t n, cc_act act)
{
    sweep_act(x, bias, 0, residual, n, act);
}

void EP_NAME(cc__epilogue_col_bias)(float *x, const float *bias, const float *residual,
                                    size_t n, cc_act act)
{
    sweep_act(x, bias, 1, residual, n, act);
}

#undef EP_NAME
#undef EP_ISA
