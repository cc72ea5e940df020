/* Local response normalisation across channels (PyTorch's LocalResponseNorm,
 * Caffe's ACROSS_CHANNELS): out = x / (k + alpha/size * sum x^2)^beta, the
 * sum over channels c - size/2 .. c + (size-1)/2 clipped to [0, C),
 * accumulated in ascending channel order in both layouts. The loops are
 * kernels_body.h's: the sums vectorised over pixels (NCHW) or channels
 * (NHWC), the power by square roots for beta 0.75, 0.5 and 1. */
#include <math.h>

#include "kernels.h"

cc_status cc__lrn_check(const cc_lrn_params *p)
{
    if (p == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "lrn: params must not be NULL");
    if (p->size <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "lrn: size must be > 0 (got %d)", p->size);
    if (!isfinite(p->alpha) || p->alpha < 0.0f)
        return cc__fail(CC_ERR_INVALID_ARG, "lrn: alpha must be finite and >= 0 (got %g)",
                        (double)p->alpha);
    if (!isfinite(p->beta))
        return cc__fail(CC_ERR_INVALID_ARG, "lrn: beta must be finite (got %g)",
                        (double)p->beta);
    if (!isfinite(p->k) || p->k <= 0.0f)
        return cc__fail(CC_ERR_INVALID_ARG, "lrn: k must be finite and > 0 (got %g)",
                        (double)p->k);
    return CC_OK;
}

/* NCHW pixels per unit of work: the window's rows of the block stay in L1
 * while the channels go by. NHWC pixels per unit. */
#define LRN_PIXEL_BLOCK CC__LRN_PIXELS
#define LRN_VECTOR_BLOCK 16

void cc__lrn_run(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                 const float *input, float *output, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const size_t window = (size_t)p->size < c ? (size_t)p->size : c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in) * (window + 8));
    if (layout == CC_NCHW) {
        const size_t blocks = cc__block_count(pixels, LRN_PIXEL_BLOCK);
        const size_t units = (size_t)in->n * blocks;
        CC__LAYER_FOR(u, units, nt, {
            const size_t n = u / blocks;
            const size_t p0 = (u % blocks) * LRN_PIXEL_BLOCK;
            const size_t len = cc__block_len(pixels, p0, LRN_PIXEL_BLOCK);
            k->lrn_nchw_block(p, input + n * c * pixels, output + n * c * pixels, in->c, pixels,
                              p0, len);
        });
    } else {
        const size_t total = (size_t)in->n * pixels;
        const size_t units = cc__block_count(total, LRN_VECTOR_BLOCK);
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * LRN_VECTOR_BLOCK;
            const size_t len = cc__block_len(total, p0, LRN_VECTOR_BLOCK);
            k->lrn_nhwc(p, input + p0 * c, output + p0 * c, in->c, len);
        });
    }
}
