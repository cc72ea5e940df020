/* Softmax over channels at every (n, h, w): out = exp(x - max) / sum, the max
 * subtracted so that inputs like 1000 do not overflow expf. A NaN at a pixel
 * makes every output of that pixel NaN, as in PyTorch. The loops, with a
 * vectorised exp, are kernels_body.h's. */
#include "kernels.h"

/* NHWC (or 1x1) pixels per unit of work. */
#define SOFTMAX_VECTOR_BLOCK 16

void cc__softmax_run(const cc__dims *in, cc_layout layout, const float *input,
                     float *output, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in) * 4);
    if (layout == CC_NHWC || pixels == 1) {
        const size_t total = (size_t)in->n * pixels;
        const size_t units = cc__block_count(total, SOFTMAX_VECTOR_BLOCK);
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * SOFTMAX_VECTOR_BLOCK;
            const size_t len = cc__block_len(total, p0, SOFTMAX_VECTOR_BLOCK);
            k->softmax_vectors(input + p0 * c, output + p0 * c, c, len);
        });
    } else {
        const size_t blocks = (pixels + CC__SOFTMAX_PIXELS - 1) / CC__SOFTMAX_PIXELS;
        const size_t units = (size_t)in->n * blocks;
        CC__LAYER_FOR(u, units, nt, {
            const size_t n = u / blocks;
            const size_t p0 = (u % blocks) * CC__SOFTMAX_PIXELS;
            const size_t len =
                pixels - p0 < CC__SOFTMAX_PIXELS ? pixels - p0 : CC__SOFTMAX_PIXELS;
            const size_t offset = n * c * pixels + p0;
            k->softmax_pixels(input + offset, output + offset, c, pixels, len);
        });
    }
}
