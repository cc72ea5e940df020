/* Softmax over channels at every (n, h, w): out = exp(x - max) / sum, the max
 * subtracted so that inputs like 1000 do not overflow expf. A NaN at a pixel
 * makes every output of that pixel NaN, as in PyTorch. */
#include <math.h>

#include "layers.h"

/* NCHW pixels handled together: the per-pixel max and sum live on the stack
 * while the channel loops run over contiguous pixels. */
#define SOFTMAX_PIXEL_BLOCK 64

/* One pixel whose channels are contiguous (NHWC, or NCHW with h*w == 1). */
static void softmax_vector(const float *x, float *out, size_t c)
{
    float max = x[0];
    for (size_t i = 1; i < c; i++)
        max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (size_t i = 0; i < c; i++) {
        out[i] = expf(x[i] - max);
        sum += out[i];
    }
    const float inv = 1.0f / sum;
    for (size_t i = 0; i < c; i++)
        out[i] *= inv;
}

/* NCHW: pixels [0, len) of one image whose channel stride is `stride`. */
static void softmax_pixels(const float *x, float *out, size_t c, size_t stride, size_t len)
{
    float max[SOFTMAX_PIXEL_BLOCK], sum[SOFTMAX_PIXEL_BLOCK];
    for (size_t p = 0; p < len; p++) {
        max[p] = x[p];
        sum[p] = 0.0f;
    }
    for (size_t i = 1; i < c; i++)
        for (size_t p = 0; p < len; p++)
            max[p] = x[i * stride + p] > max[p] ? x[i * stride + p] : max[p];
    for (size_t i = 0; i < c; i++)
        for (size_t p = 0; p < len; p++) {
            out[i * stride + p] = expf(x[i * stride + p] - max[p]);
            sum[p] += out[i * stride + p];
        }
    for (size_t p = 0; p < len; p++)
        sum[p] = 1.0f / sum[p];
    for (size_t i = 0; i < c; i++)
        for (size_t p = 0; p < len; p++)
            out[i * stride + p] *= sum[p];
}

void cc__softmax_run(const cc__dims *in, cc_layout layout, const float *input,
                     float *output, int threads)
{
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const int nt = cc__layer_threads(threads, cc__dims_count(in) * 4);
    if (layout == CC_NHWC || pixels == 1) {
        const size_t units = (size_t)in->n * pixels;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t u = 0; u < units; u++)
            softmax_vector(input + u * c, output + u * c, c);
    } else {
        const size_t blocks = (pixels + SOFTMAX_PIXEL_BLOCK - 1) / SOFTMAX_PIXEL_BLOCK;
        const size_t units = (size_t)in->n * blocks;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t u = 0; u < units; u++) {
            const size_t n = u / blocks;
            const size_t p0 = (u % blocks) * SOFTMAX_PIXEL_BLOCK;
            const size_t len =
                pixels - p0 < SOFTMAX_PIXEL_BLOCK ? pixels - p0 : SOFTMAX_PIXEL_BLOCK;
            const size_t offset = n * c * pixels + p0;
            softmax_pixels(input + offset, output + offset, c, pixels, len);
        }
    }
}
