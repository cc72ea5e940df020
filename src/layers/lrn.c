/* Local response normalisation across channels (PyTorch's LocalResponseNorm,
 * Caffe's ACROSS_CHANNELS): out = x / (k + alpha/size * sum x^2)^beta, the
 * sum over channels c - size/2 .. c + (size-1)/2 clipped to [0, C). The
 * output buffer first holds the sums, accumulated in ascending channel order
 * in both layouts, then is overwritten with the result. */
#include <math.h>

#include "layers.h"

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

/* The window of channel c: [*lo, *hi], clipped to [0, channels). */
static void channel_window(int64_t c, int64_t size, int64_t channels, int64_t *lo,
                           int64_t *hi)
{
    *lo = c - size / 2 < 0 ? 0 : c - size / 2;
    *hi = c + (size - 1) / 2 >= channels ? channels - 1 : c + (size - 1) / 2;
}

static void normalise(const cc_lrn_params *p, const float *x, float *out, size_t len)
{
    const float scale = p->alpha / (float)p->size;
    for (size_t i = 0; i < len; i++)
        out[i] = x[i] * powf(p->k + scale * out[i], -p->beta);
}

/* NCHW: channel c of one image [C][pixels]; out is that channel's plane. */
static void lrn_plane(const cc_lrn_params *p, const float *image, float *out, int c,
                      int channels, size_t pixels)
{
    int64_t lo, hi;
    channel_window(c, p->size, channels, &lo, &hi);
    for (size_t i = 0; i < pixels; i++)
        out[i] = 0.0f;
    for (int64_t j = lo; j <= hi; j++) {
        const float *plane = image + (size_t)j * pixels;
        for (size_t i = 0; i < pixels; i++)
            out[i] += plane[i] * plane[i];
    }
    normalise(p, image + (size_t)c * pixels, out, pixels);
}

/* NHWC: one pixel's channel vector; offset d adds channel c + d to channel c. */
static void lrn_vector(const cc_lrn_params *p, const float *x, float *out, int channels)
{
    const int64_t c = channels;
    const int64_t d_lo = -(p->size / 2) < -(c - 1) ? -(c - 1) : -(p->size / 2);
    const int64_t d_hi = (p->size - 1) / 2 > c - 1 ? c - 1 : (p->size - 1) / 2;
    for (int64_t i = 0; i < c; i++)
        out[i] = 0.0f;
    for (int64_t d = d_lo; d <= d_hi; d++) {
        const int64_t begin = d < 0 ? -d : 0;
        const int64_t end = d > 0 ? c - d : c;
        for (int64_t i = begin; i < end; i++)
            out[i] += x[i + d] * x[i + d];
    }
    normalise(p, x, out, (size_t)c);
}

void cc__lrn_run(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                 const float *input, float *output, int threads)
{
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const size_t window = (size_t)p->size < c ? (size_t)p->size : c;
    const int nt = cc__layer_threads(threads, cc__dims_count(in) * (window + 8));
    if (layout == CC_NCHW) {
        const size_t planes = (size_t)in->n * c;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t u = 0; u < planes; u++) {
            const size_t n = u / c;
            lrn_plane(p, input + n * c * pixels, output + u * pixels, (int)(u % c), in->c,
                      pixels);
        }
    } else {
        const size_t units = (size_t)in->n * pixels;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (size_t u = 0; u < units; u++)
            lrn_vector(p, input + u * c, output + u * c, in->c);
    }
}
