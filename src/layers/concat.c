/* Concatenation along channels. NCHW: each input's images are contiguous
 * blocks of channels[i] * h * w floats, copied whole. NHWC: each pixel's
 * channel vector is the concatenation of the inputs' channel vectors. */
#include <string.h>

#include "layers.h"

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
    const size_t pixels = (size_t)out->h * (size_t)out->w;
    const size_t c = (size_t)out->c;
    const int nt = cc__layer_threads(threads, cc__dims_count(out));
    if (layout == CC_NCHW) {
        /* A unit is one input's block of one image. */
        const size_t units = (size_t)out->n * (size_t)count;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t u = 0; u < units; u++) {
            const size_t n = u / (size_t)count;
            const int i = (int)(u % (size_t)count);
            const size_t block = (size_t)channels[i] * pixels;
            memcpy(output + (n * c + channel_offset(channels, i)) * pixels,
                   inputs[i] + n * block, block * sizeof(float));
        }
    } else {
        const size_t units = (size_t)out->n * pixels;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t p = 0; p < units; p++) {
            float *dst = output + p * c;
            for (int i = 0; i < count; i++) {
                const size_t ci = (size_t)channels[i];
                memcpy(dst, inputs[i] + p * ci, ci * sizeof(float));
                dst += ci;
            }
        }
    }
}
