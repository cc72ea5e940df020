/* Inference batch normalisation, folded once into a per-channel multiply-add:
 * mul = scale / sqrt(var + eps), add = shift - mean * mul (in double, rounded
 * once), then out = x * mul[c] + add[c]. */
#include <math.h>

#include "kernels.h"

/* The index of the first non-finite value of a[0..count), or -1. */
static int first_non_finite(const float *a, int count)
{
    for (int i = 0; i < count; i++)
        if (!isfinite(a[i]))
            return i;
    return -1;
}

static cc_status check_array(const char *name, const float *a, int channels)
{
    if (a == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "batchnorm: %s must not be NULL", name);
    const int bad = first_non_finite(a, channels);
    if (bad >= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "batchnorm: %s[%d] must be finite (got %g)", name,
                        bad, (double)a[bad]);
    return CC_OK;
}

cc_status cc__batchnorm_check(const cc_batchnorm_params *p, int channels)
{
    if (p == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "batchnorm: params must not be NULL");
    if (channels <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "batchnorm: channels must be > 0 (got %d)",
                        channels);
    if (!isfinite(p->epsilon) || p->epsilon < 0.0f)
        return cc__fail(CC_ERR_INVALID_ARG, "batchnorm: epsilon must be finite and >= 0 (got %g)",
                        (double)p->epsilon);
    const char *const names[4] = {"scale", "shift", "mean", "variance"};
    const float *const arrays[4] = {p->scale, p->shift, p->mean, p->variance};
    for (int i = 0; i < 4; i++) {
        const cc_status status = check_array(names[i], arrays[i], channels);
        if (status != CC_OK)
            return status;
    }
    for (int c = 0; c < channels; c++)
        if (!((double)p->variance[c] + (double)p->epsilon > 0.0))
            return cc__fail(CC_ERR_INVALID_ARG,
                            "batchnorm: variance[%d] + epsilon must be > 0 (got %g + %g)", c,
                            (double)p->variance[c], (double)p->epsilon);
    return CC_OK;
}

void cc__batchnorm_coefficients(const cc_batchnorm_params *p, int channels, float *mul,
                                float *add)
{
    for (int c = 0; c < channels; c++) {
        const double m = (double)p->scale[c] / sqrt((double)p->variance[c] + (double)p->epsilon);
        mul[c] = (float)m;
        add[c] = (float)((double)p->shift[c] - (double)p->mean[c] * m);
    }
}

/* NHWC pixels per unit of work. */
#define BATCHNORM_PIXEL_BLOCK 64
/* The activation follows the affine sweep on pieces of at most this many
 * floats, still in L1 (a block of 64 pixels of DenseNet-121's 1024
 * channels is 256 KB: the second pass read it from L2). */
#define BATCHNORM_ACT_FLOATS ((size_t)4096)

void cc__batchnorm_run(const cc__dims *in, cc_layout layout, const float *mul,
                       const float *add, const float *input, float *output, int threads)
{
    cc__batchnorm_act_run(in, layout, mul, add, NULL, input, output, threads);
}

void cc__batchnorm_act_run(const cc__dims *in, cc_layout layout, const float *mul,
                           const float *add, const cc_activation *act, const float *input,
                           float *output, int threads)
{
    cc__batchnorm_act_gather_run(in, layout, mul, add, act, 1, &input, &in->c, output, threads);
}

/* NCHW: the input holding channel ch of image n, and that plane. */
static const float *gathered_plane(int count, const float *const *inputs, const int *channels,
                                   int n, int ch, size_t pixels)
{
    int k = 0;
    while (ch >= channels[k] && k + 1 < count)
        ch -= channels[k++];
    return inputs[k] + ((size_t)n * (size_t)channels[k] + (size_t)ch) * pixels;
}

/* NHWC: pixels [p0, p0 + len) of every input, each into its channels of
 * the output rows (c floats apart), then act on the rows. */
static void gathered_rows(const cc__layer_kernels *k, const float *mul, const float *add,
                          const cc_activation *act, int count, const float *const *inputs,
                          const int *channels, size_t c, size_t p0, size_t len, float *output)
{
    size_t first = 0;
    for (int i = 0; i < count; i++) {
        const size_t ci = (size_t)channels[i];
        k->affine_channels(inputs[i] + p0 * ci, ci, output + p0 * c + first, c, len, ci,
                           mul + first, add + first);
        first += ci;
    }
    if (act != NULL)
        cc__activation_span(act, output + p0 * c, output + p0 * c, len * c);
}

void cc__batchnorm_act_gather_run(const cc__dims *in, cc_layout layout, const float *mul,
                                  const float *add, const cc_activation *act, int count,
                                  const float *const *inputs, const int *channels,
                                  float *output, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in));
    if (layout == CC_NCHW) {
        const size_t planes = (size_t)in->n * c;
        CC__LAYER_FOR(u, planes, nt, {
            const int ch = (int)(u % c);
            const float *x = gathered_plane(count, inputs, channels, (int)(u / c), ch, pixels);
            k->affine(x, output + u * pixels, pixels, mul[ch], add[ch]);
            if (act != NULL)
                cc__activation_span(act, output + u * pixels, output + u * pixels, pixels);
        });
    } else {
        const size_t total = (size_t)in->n * pixels;
        const size_t units = cc__block_count(total, BATCHNORM_PIXEL_BLOCK);
        const size_t piece = act == NULL || c >= BATCHNORM_ACT_FLOATS ? BATCHNORM_PIXEL_BLOCK
                                                                     : BATCHNORM_ACT_FLOATS / c;
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * BATCHNORM_PIXEL_BLOCK;
            const size_t len = cc__block_len(total, p0, BATCHNORM_PIXEL_BLOCK);
            for (size_t q = 0; q < len; q += piece)
                gathered_rows(k, mul, add, act, count, inputs, channels, c, p0 + q,
                              len - q < piece ? len - q : piece, output);
        });
    }
}
