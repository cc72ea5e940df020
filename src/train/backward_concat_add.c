/* Concat and add backward: the gradient is only routed. Concat hands each
 * input its slice of the output gradient (NCHW: a contiguous block per image;
 * NHWC: a slice of every pixel's channel vector); add hands dy to every
 * input. */
#include <string.h>

#include "backward.h"

/* Elements per unit of add's parallel work; NHWC pixels per concat unit. */
#define ADD_BLOCK 4096
#define CONCAT_PIXEL_BLOCK 64

/* dst[r][0 .. cols) (+)= src[r][0 .. cols), rows dst_stride and src_stride
 * apart. */
static void route_rows(const float *src, size_t src_stride, float *dst, size_t dst_stride,
                       size_t rows, size_t cols, bool accumulate)
{
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * src_stride;
        float *d = dst + r * dst_stride;
        if (accumulate)
            for (size_t i = 0; i < cols; i++)
                d[i] += s[i];
        else
            memcpy(d, s, cols * sizeof(float));
    }
}

void cc__concat_backward(const cc__dims *out, cc_layout layout, int count,
                         float *const *dinputs, const int *channels, const float *dy,
                         bool accumulate, int threads)
{
    const size_t pixels = (size_t)out->h * (size_t)out->w;
    const size_t c = (size_t)out->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(out));
    if (layout == CC_NCHW) {
        /* A unit is one image: every input's block of it, in order. */
        CC__LAYER_FOR(n, (size_t)out->n, nt, {
            size_t offset = 0;
            for (int i = 0; i < count; i++) {
                const size_t block = (size_t)channels[i] * pixels;
                if (dinputs[i] != NULL)
                    route_rows(dy + n * c * pixels + offset, 0, dinputs[i] + n * block, 0, 1,
                               block, accumulate);
                offset += block;
            }
        });
    } else {
        const size_t total = (size_t)out->n * pixels;
        const size_t units = cc__block_count(total, CONCAT_PIXEL_BLOCK);
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * CONCAT_PIXEL_BLOCK;
            const size_t len = cc__block_len(total, p0, CONCAT_PIXEL_BLOCK);
            size_t offset = 0;
            for (int i = 0; i < count; i++) {
                const size_t ci = (size_t)channels[i];
                if (dinputs[i] != NULL)
                    route_rows(dy + p0 * c + offset, c, dinputs[i] + p0 * ci, ci, len, ci,
                               accumulate);
                offset += ci;
            }
        });
    }
}

void cc__add_backward(const float *dy, float *dx, size_t count, bool accumulate, int threads)
{
    if (dx == dy && !accumulate)
        return;
    const size_t blocks = cc__block_count(count, ADD_BLOCK);
    const int nt = cc__parallel_threads(threads, count);
    CC__LAYER_FOR(b, blocks, nt, {
        const size_t begin = b * ADD_BLOCK;
        route_rows(dy + begin, 0, dx + begin, 0, 1, cc__block_len(count, begin, ADD_BLOCK),
                   accumulate);
    });
}
