/* The reference convolution: nested loops written for obviousness, summing,
 * adding the bias and activating in double and rounding once. It is the
 * oracle of every test, so it shares no code with the kernels it checks:
 * not even their activation (epilogue.h's cc__activate). */
#include <math.h>

#include "conv_internal.h"

/* Offset of element (n, c, y, x) of a tensor of shape [n][c][h][w] stored in
 * `layout`. */
static size_t tensor_offset(cc_layout layout, int c_count, int h, int w, int n, int c,
                            int y, int x)
{
    if (layout == CC_NCHW)
        return (((size_t)n * c_count + c) * h + y) * w + x;
    return (((size_t)n * h + y) * w + x) * c_count + c;
}

static double output_value(const cc__conv_geom *g, const float *weights, const float *input,
                           int n, int oc, int oy, int ox)
{
    const int group = oc / g->ocg;
    double sum = 0.0;
    for (int ci = 0; ci < g->cg; ci++) {
        const int c = group * g->cg + ci;
        for (int ky = 0; ky < g->kh; ky++) {
            const long long y = (long long)oy * g->sh - g->pt + (long long)ky * g->dh;
            if (y < 0 || y >= g->h)
                continue;
            for (int kx = 0; kx < g->kw; kx++) {
                const long long x = (long long)ox * g->sw - g->pl + (long long)kx * g->dw;
                if (x < 0 || x >= g->w)
                    continue;
                const size_t w_index = (((size_t)oc * g->cg + ci) * g->kh + ky) * g->kw + kx;
                const size_t in_index =
                    tensor_offset(g->layout, g->c, g->h, g->w, n, c, (int)y, (int)x);
                sum += (double)weights[w_index] * (double)input[in_index];
            }
        }
    }
    return sum;
}

double cc__reference_activate(double x, cc_act act)
{
    switch (act) {
    case CC_ACT_RELU:
        return x < 0.0 ? 0.0 : x;
    case CC_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case CC_ACT_TANH:
        return tanh(x);
    case CC_ACT_RELU6:
        return x < 0.0 ? 0.0 : x > 6.0 ? 6.0 : x;
    case CC_ACT_NONE:
        break;
    }
    return x;
}

void cc__reference_run(const cc__conv_geom *g, const float *weights, const float *bias,
                       const float *input, float *output)
{
    for (int n = 0; n < g->n; n++)
        for (int oc = 0; oc < g->oc; oc++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double sum = output_value(g, weights, input, n, oc, oy, ox);
                    if (bias != NULL)
                        sum += (double)bias[oc];
                    output[tensor_offset(g->layout, g->oc, g->oh, g->ow, n, oc, oy, ox)] =
                        (float)cc__reference_activate(sum, g->act);
                }
}
