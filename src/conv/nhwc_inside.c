/* NCHW layers computed in NHWC: the rule that chooses them, and the
 * reorders of their tensors in the workspace. */
#include "../core/parallel.h"
#include "conv_internal.h"

/* Output pixels of an image up to which, and bytes of the reordered
 * tensors up to which, the rule computes an NCHW layer in NHWC. Measured
 * on an AMD EPYC Zen 5 with the AVX-512 kernels, 1 / 2 threads, ms, NCHW
 * -> NHWC with the reorders, each path against itself: Winograd 3x3
 * layers 128 x 28x28 0.67 -> 0.46 / 0.69 -> 0.47, 256 x 14x14 0.89 -> 0.56
 * / 0.45 -> 0.36, 512 x 7x7 1.29 -> 0.81, 512 x 14x14 3.26 -> 2.17, 512 x
 * 28x28 8.4 -> 6.5 / 5.2 -> 3.7; direct 3x3 256 -> 384 at 13x13 1.37 ->
 * 0.78, stride 2 256 x 28x28 1.75 -> 1.38, 512 x 14x14 1.88 -> 1.47;
 * im2col stride 2 512 x 14x14 1.49 -> 1.28 / 0.98 -> 0.73, 256 x 28x28
 * 1.66 -> 1.21 / 1.16 -> 0.76, 128 x 56x56 1.55 -> 1.20 / 1.33 -> 1.11;
 * AlexNet's 5x5 conv2 (27x27) 0.92-1.08x. At 56x56 outputs the reorders,
 * of tensors that come from memory, took what NHWC saved (Winograd 256 x
 * 56x56 7.6 / 7.5 ms, 64 x 56x56 0.42 -> 0.52 at 2 threads), and 1x1
 * layers, whose NCHW kernels are as fast as the NHWC ones, only lost (64
 * -> 256 at 56x56 0.48 -> 0.70). Strided 1x1 layers gain where their
 * input, which the reorder moves whole though they read a quarter of it,
 * is within the same pixels (ResNet-50's downsample layers, NCHW GEMM1X1
 * -> NHWC, 1 / 2 threads, medians: 1024 -> 2048 from 14x14 1.55 -> 1.32 /
 * 0.98 -> 0.83, 512 -> 1024 from 28x28 1.73 -> 1.50 / 0.80 -> 0.75; 256
 * -> 512 from 56x56 lost, 1.30 -> 1.48 / 0.71 -> 0.83), and so do 1x1
 * layers on images of fewer pixels than the unpacked GEMM's 64-column
 * panel, where the NCHW GEMM transposes its product into the output
 * (7x7: 512 -> 2048 0.95 -> 0.67 / 0.47 -> 0.34, 832 -> 384 0.180 ->
 * 0.169 / 0.117 -> 0.111, 2048 -> 512 0.63 -> 0.60 / 0.35 -> 0.37; at
 * 14x14 1024 -> 256 lost, 0.67 -> 0.70 / 0.34 -> 0.38). With the AVX2
 * kernels the same layers ranged from 0.84x to 1.2x of their NCHW time:
 * AVX2 keeps NCHW.
 * Since the NHWC Winograd path runs its products on the layer GEMM, its
 * layers gain at any image size until the reorders move tensors of L3's
 * size (Zen 5, 1 / 2 threads, ms, NCHW -> NHWC with the reorders, medians
 * of alternating runs): 64 x 56x56 0.89 -> 0.58 / 0.53 -> 0.37, 256 x
 * 56x56 8.7 -> 6.4 / 6.1 -> 4.3 (after 64 MB of other traffic 8.8 -> 6.9 /
 * 6.2 -> 4.3), 128 -> 256 at 56x56 4.5 -> 3.4 / 3.3 -> 2.2, 128 x 112x112
 * (19 MB reordered) 8.3 -> 7.1 / 6.0 -> 4.6, F(6x6) 256 x 56x56 9.7 -> 6.2;
 * 64 x 224x224 (38 MB) 10.3 -> 10.3 / 7.7 -> 6.7: the 32 MiB bound. */
#define MAX_PIXELS 784
#define MAX_BYTES ((size_t)16 << 20)
#define MAX_WINOGRAD_BYTES ((size_t)32 << 20)
/* Stride-1 1x1 layers: images of fewer pixels than this. */
#define MAX_POINTWISE_PIXELS 64
/* Fewer channels per group than this fill too few lanes of the NHWC
 * kernels' channel vectors. */
#define MIN_GROUP_CHANNELS 16
/* But the direct path's NCHW kernels are slower still on fewer input
 * channels per group than this, where the NHWC kernels' lanes run over
 * the output channels: stride-1 layers (not 1x1) with 16 or more filters
 * per group go through NHWC (Zen 5, 1 thread, direct, NCHW -> NHWC with
 * the reorders, ms: LeNet-5's 6 -> 16 5x5 at 14x14 0.010 -> 0.006, 6 ->
 * 32 5x5 at 28x28 0.101 -> 0.032, 7 -> 16 5x5 at 28x28 0.056 -> 0.022, 4
 * -> 32 3x3 at 14x14 0.007 -> 0.003, 1 -> 32 3x3 padded at 28x28 0.022 ->
 * 0.008; from 8 inputs within 0.83-1.07x either way; strided layers
 * gained at one thread and lost at two, 3 -> 64 3x3/2 from 56x56 0.024 ->
 * 0.038). AUTO keeps first layers of 4 inputs or fewer on im2col (auto.c).
 * Unpadded layers of one input stay NCHW: their rows tiles have no border
 * and few taps, so the reorders cost more than the NHWC kernels save (Zen
 * 4, 1 / 2 threads, NCHW / through NHWC, ms: LeNet's 1 -> 20 5x5 at 28x28
 * 0.014 / 0.018, 0.011 / 0.014; 1 -> 32 3x3 at 28x28 0.011 / 0.014, 0.009
 * / 0.010; 1 -> 32 5x5 at 32x32 0.018 / 0.021, 0.021 / 0.024; from 2
 * inputs or with padding NHWC as before, 2 -> 32 5x5 at 28x28 0.027 /
 * 0.021). */
#define DIRECT_NCHW_MIN_GROUP_INPUTS 8

static cc__nhwc_inside_mode mode = CC__NHWC_INSIDE_RULE;

void cc__set_nhwc_inside(cc__nhwc_inside_mode m) { mode = m; }

/* The floats of the reordered input and of an output-shaped tensor in the
 * workspace, rounded up to whole cache lines so that each starts on one;
 * the workspace holds the input, the output, the residual, then the inner
 * operator's. */
static void tensor_floats(const cc__conv_geom *g, size_t *in, size_t *out)
{
    *in = (cc__geom_input_floats(g) + 15) / 16 * 16;
    *out = (cc__geom_output_floats(g) + 15) / 16 * 16;
}

size_t cc__nhwc_inside_bytes(const cc__conv_geom *g)
{
    size_t in, out, bytes;
    tensor_floats(g, &in, &out);
    /* Each count's bytes fit in size_t, so their sum fits in floats. */
    return cc__mul_sizes(&bytes, 2, in + 2 * out, sizeof(float)) ? bytes : SIZE_MAX;
}

bool cc__nchw_in_nhwc(const cc__conv_geom *g, cc_algo algo, cc__isa isa)
{
    const bool pointwise = cc__geom_is_pointwise(g);
    const bool strided_1x1 = pointwise && (g->sh > 1 || g->sw > 1);
    const size_t in_pixels = (size_t)g->h * (size_t)g->w;
    const bool eligible = g->layout == CC_NCHW && !(g->cg == 1 && g->ocg == 1) &&
                          algo != CC_ALGO_REFERENCE && algo != CC_ALGO_AUTO;
    if (!eligible || mode == CC__NHWC_INSIDE_NEVER)
        return false;
    if (mode == CC__NHWC_INSIDE_ALWAYS)
        return true;
    if (isa != CC__ISA_AVX512 || g->ocg < MIN_GROUP_CHANNELS)
        return false;
    if (algo == CC_ALGO_DIRECT && g->cg < DIRECT_NCHW_MIN_GROUP_INPUTS)
        return !pointwise && g->sh == 1 && g->sw == 1 &&
               (g->cg > 1 || cc__geom_is_padded(g)) && cc__geom_pixels(g) <= MAX_PIXELS &&
               cc__nhwc_inside_bytes(g) <= MAX_BYTES;
    if (g->cg < MIN_GROUP_CHANNELS)
        return false;
    if (algo == CC_ALGO_WINOGRAD || algo == CC_ALGO_WINOGRAD_F6X6)
        return cc__nhwc_inside_bytes(g) <= MAX_WINOGRAD_BYTES;
    const bool small_enough = !pointwise    ? cc__geom_pixels(g) <= MAX_PIXELS
                              : strided_1x1 ? in_pixels <= MAX_PIXELS
                                            : in_pixels < MAX_POINTWISE_PIXELS;
    return small_enough && cc__nhwc_inside_bytes(g) <= MAX_BYTES;
}

cc__nhwc_inside_tensors cc__nhwc_inside_split(const cc__conv_geom *g, float *workspace)
{
    size_t in, out;
    tensor_floats(g, &in, &out);
    const cc__nhwc_inside_tensors t = {workspace, workspace + in, workspace + in + out,
                                       workspace + in + 2 * out};
    return t;
}

/* A unit of the reorders: a few whole blocks of the widest family's 16
 * lanes along the pixels and along the channels, so that units are many
 * and each moves whole blocks. Channel blocks too: a 7x7 image's 49 pixels
 * made one unit, so one thread moved ResNet-50's 2048 x 49 input while the
 * other waited (Zen 5, 2 threads, its 2048 -> 512 1x1 NCHW through NHWC
 * 0.376-0.382 -> 0.331-0.336 ms; NHWC alone 0.26). */
#define UNIT_PIXELS ((size_t)64)
#define UNIT_CHANNELS ((size_t)256)

void cc__reorder_images(cc__isa isa, const float *from, float *to, size_t n, size_t channels,
                        size_t pixels, bool to_nhwc, int threads)
{
    const size_t pixel_units = (pixels + UNIT_PIXELS - 1) / UNIT_PIXELS;
    const size_t channel_units = (channels + UNIT_CHANNELS - 1) / UNIT_CHANNELS;
    const size_t per_image = pixel_units * channel_units, units = n * per_image;
    const size_t image = channels * pixels;
    /* Small reorders on one thread (cc__parallel_threads): LeNet's 20 -> 50
     * 5x5 at 12x12, NCHW through NHWC, three forks, ran 0.021 ms on 2
     * threads as on one (Zen 5). */
    CC__PARALLEL_FOR(size_t, u, units, cc__parallel_threads(threads, n * image), {
        const size_t i = u / per_image, within = u % per_image;
        const size_t p0 = within % pixel_units * UNIT_PIXELS;
        const size_t c0 = within / pixel_units * UNIT_CHANNELS;
        const size_t count = cc__min_size(pixels - p0, UNIT_PIXELS);
        const size_t depth = cc__min_size(channels - c0, UNIT_CHANNELS);
        const float *src = from + i * image;
        float *dst = to + i * image;
        if (to_nhwc)
            cc__direct_transpose(isa, src + c0 * pixels + p0, (ptrdiff_t)pixels, depth, count,
                                 dst + p0 * channels + c0, (ptrdiff_t)channels);
        else
            cc__direct_transpose(isa, src + p0 * channels + c0, (ptrdiff_t)channels, count, depth,
                                 dst + c0 * pixels + p0, (ptrdiff_t)pixels);
    });
}
