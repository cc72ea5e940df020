/* Concatenation along channels. NCHW: each input's images are contiguous
 * blocks of channels[i] * h * w floats, copied whole. NHWC: each pixel's
 * channel vector is the concatenation of the inputs' channel vectors. A
 * network at batch 1 in NCHW computes its concats' inputs in place
 * (src/net/plan.c), and those are not copied (NULL inputs). */
#include <string.h>

#include "kernels.h"

/* NHWC pixels per unit of work. */
#define CONCAT_PIXEL_BLOCK 64

/* The channel offset of input i in the output. */
static size_t channel_offset(const int *channels, int i)
{
    size_t offset = 0;
    for (int j = 0; j < i; j++)
        offset += (size_t)channels[j];
    return offset;
}

void cc__concat_run(const cc__dims *out, cc_layout layout, int count,
                    const float *const *inputs, const int *channels, float *output,
                    int threads)
{
    /* Every input in place (an Inception block's concat): no parallel
     * region to open for nothing (2-3 us a concat at 2 threads). */
    int copied = 0;
    for (int i = 0; i < count; i++)
        copied += inputs[i] != NULL;
    if (copied == 0)
        return;
    const size_t pixels = (size_t)out->h * (size_t)out->w;
    const size_t c = (size_t)out->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(out));
    if (layout == CC_NCHW) {
        /* A unit is one input's block of one image. */
        const size_t units = (size_t)out->n * (size_t)count;
        CC__LAYER_FOR(u, units, nt, {
            const size_t n = u / (size_t)count;
            const int i = (int)(u % (size_t)count);
            const size_t block = (size_t)channels[i] * pixels;
            if (inputs[i] != NULL)
                memcpy(output + (n * c + channel_offset(channels, i)) * pixels,
                       inputs[i] + n * block, block * sizeof(float));
        });
    } else {
        /* A unit is a block of pixels; each input's channels go to their
         * slice of every pixel's channel vector. */
        const cc__layer_kernels *k = cc__layer_kernels_get();
        const size_t total = (size_t)out->n * pixels;
        const size_t units = cc__block_count(total, CONCAT_PIXEL_BLOCK);
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * CONCAT_PIXEL_BLOCK;
            const size_t len = cc__block_len(total, p0, CONCAT_PIXEL_BLOCK);
            size_t offset = 0;
            for (int i = 0; i < count; i++) {
                const size_t ci = (size_t)channels[i];
                if (inputs[i] != NULL)
                    k->copy_rows(inputs[i] + p0 * ci, ci, output + p0 * c + offset, c, len, ci);
                offset += ci;
            }
        });
    }
}
