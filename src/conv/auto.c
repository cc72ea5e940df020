/* AUTO: a pure cost rule choosing the path predicted fastest for a layer,
 * fitted to colconv-bench's per-layer timings of the default report (LeNet,
 * AlexNet, VGG-16, GoogLeNet 1x1, ResNet-50; NCHW, batch 1, 1 and 2
 * threads; the note of the performance issue has the table):
 * - 1x1 without padding, NCHW, AVX2: the direct path's pointwise kernel (a
 *   GEMM with weights packed at create and the residual in its tiles): over
 *   ResNet-50's and GoogLeNet's 1x1 layers, SGEMM on the input itself took
 *   1.02x (1 thread) and 1.11x (2 threads) its time (medians; 0.81-1.29x
 *   layer by layer, which moves from run to run). AVX-512: GEMM1X1, whose
 *   products run on colconv's unpacked kernel there (gemm_unpacked.c): over
 *   the same layers, on an AMD EPYC Zen 5, 26.0 ms against the direct
 *   kernel's 27.6 at 1 thread, 16.7 against 19.8 at 2 (9 repetitions each);
 *   the direct kernel still wins a few layers by up to 10% (GoogLeNet's
 *   4a_1x1, ResNet's layer3.x.conv1). NHWC (where vectors run over
 *   channels, so the direct kernels have no pointwise kind): the GEMM, but
 *   on AVX-512 for 32 or fewer output channels per group and 128 or more
 *   input channels, too few columns for it: the direct ocvec kind (Zen 5,
 *   1 thread, the GEMM applying the epilogue in its stores: SqueezeNet's
 *   128 -> 16 at 55x55 0.081 ms against 0.085, MobileNet-v2's 144 -> 24
 *   at 56x56 0.154 against 0.163, 192 -> 32 at 28x28 0.049 against 0.053;
 *   with fewer inputs the GEMM wins: 32 -> 16 at 112x112 0.093 against
 *   0.105, 96 -> 24 at 56x56 0.090 against 0.105, 64 -> 16 at 55x55 0.041
 *   against 0.045; 2 threads alike; with the AVX2 kernels, 24 outputs were
 *   slower on direct).
 * - Few input channels per group (at most 4: first layers, depthwise) or
 *   few output channels (at most 7 per group): the direct kernels; im2col
 *   would copy KH*KW times the input for a GEMM too thin to pay for it.
 *   On AVX-512, where im2col's product runs on the unpacked kernel, a
 *   stride-1 NCHW first layer (not 1x1) with 16 or more filters per group
 *   goes to im2col:
 *   on an AMD EPYC Zen 5, 1 / 2 threads, LeNet's conv1 (1 -> 20, 5x5)
 *   took 0.012-0.018 / 0.012-0.016 ms on im2col against 0.018-0.024 /
 *   0.018-0.027 on direct, VGG's conv1_1 (3 -> 64) 1.16x less on im2col
 *   at 1 thread and 1.04x more at 2; LeNet-5's conv1 (6 filters) stays
 *   direct (0.008 against 0.011), and so do strided first layers
 *   (ResNet's 7x7/2 conv1: im2col 1.30 / 1.91x slower, AlexNet's 11x11/4
 *   1.47 / 1.39x).
 * - 3x3 stride 1 with enough channels: Winograd F(4x4,3x3) when its cost
 *   is under 0.7 of the direct multiply-adds: 36 products per 4x4 tile
 *   instead of 9 per output, plus a run's fixed cost, about 8 tiles' worth
 *   (4 (T + 8) / outputs, T tiles). Refitted when the products moved from
 *   SGEMM (which repacked each point's weights per call, 16 tiles' worth)
 *   to weights packed at create, on an AMD EPYC Zen 5 (AVX-512), 1 thread:
 *   AlexNet's 13x13 layers (ratio 0.57) ran 2.5-2.8x faster on Winograd
 *   than on direct, VGG's layers (0.25-0.49) keep Winograd, ResNet's 7x7
 *   ones (0.98) stay on im2col, the fastest there. Where the weights
 *   outweigh the work (F(4x4) would have 8 tiles or fewer and 1M floats of
 *   transformed weights or more, cc__winograd_tile), the path runs
 *   F(2x2,3x3), 16 products per 2x2 tile, and pays with 12 tiles or more
 *   and those products under 0.7 of the direct ones: on Zen 5, 1 thread,
 *   NHWC, ResNet's 512 x 7x7 took 0.71 ms against im2col's 1.18 (2
 *   threads 0.42 against 0.72; NCHW 1.09 against 1.32), 256 -> 128 at 7x7
 *   0.106 against 0.156, 512 x 8x8 0.81 against 1.58, while 512 x 4x4 (4
 *   tiles) took 0.74 against 0.39. On AVX-512 the
 *   products need 32 input channels per group (their K), but for NHWC
 *   layers run on one thread: 16 to 24 (Zen 5, after the GEMM's epilogue
 *   was unrolled) won there (16 -> 32 at 56x56 0.114 ms against direct's
 *   0.149, SqueezeNet's 16 -> 64 at 55x55 0.235 against 0.295, 24 -> 64 at
 *   56x56 0.303 against 0.457; SqueezeNet end to end 3.49 -> 3.36 ms) and
 *   lost at 2 threads (GoogLeNet's 16 -> 32 at 28x28 0.026 -> 0.053 ms,
 *   24 -> 64 at 14x14 0.021 -> 0.048; 16 -> 32 at 56x56 0.089 against
 *   0.082) and in NCHW (16 -> 32 at 56x56, 2 threads: 0.153 against
 *   0.089); with 32 it won (32 -> 128 at 27x27 NHWC 0.19 against 0.27).
 * - Otherwise the direct kernels, unless too few outputs of a row see no
 *   padding for their pixel tiles (6 wide): they then run their one-pixel
 *   edge code only (ResNet's 7x7 3x3 layers: 2x slower than im2col). On
 *   AVX-512, where im2col's products run on the unpacked kernel, 7 or more:
 *   ResNet-50's layer4.0.conv2 (3x3 stride 2 to 7x7, 512 channels, 6
 *   interior outputs a row) took 4.48 ms on direct and 2.29 on im2col at 1
 *   thread, 2.63 and 1.64 at 2 (Zen 5); the next widest layer of the
 *   report, AlexNet's 13x13 (11), stays on Winograd or direct. On
 *   AVX-512, NHWC strided layers to small images with many input channels
 *   go to im2col too (strided_for_im2col).
 * - An NCHW layer computed in NHWC (nhwc_inside.c: AVX-512; Winograd, or
 *   small images) is chosen as its NHWC twin is, the kernels being the
 *   NHWC ones. */
#include "conv_internal.h"

/* Up to this many input channels per group, the direct kernels win; up to
 * this many output channels per group too, but for the 1x1 layers that
 * the 1x1 rules have sent to a GEMM before. */
#define DIRECT_MAX_GROUP_CHANNELS 4
#define DIRECT_MAX_GROUP_OUTPUTS 7
/* AVX-512: NHWC 1x1 layers of up to this many outputs per group and at
 * least this many inputs: direct. */
#define DIRECT_MAX_NHWC_1X1_OUTPUTS_AVX512 32
#define DIRECT_MIN_NHWC_1X1_INPUTS_AVX512 128
/* AVX-512: stride-1 layers of few input channels with this many filters
 * per group or more go to im2col. */
#define IM2COL_MIN_FIRST_LAYER_OUTPUTS_AVX512 16
/* Winograd needs this many channels per group on both sides, and its cost
 * ratio (above) at most this. */
#define WINOGRAD_MIN_GROUP_CHANNELS 16
/* AVX-512: this many input channels per group (the products' K). */
#define WINOGRAD_MIN_GROUP_INPUTS_AVX512 32
#define WINOGRAD_MAX_COST_RATIO 0.7
#define WINOGRAD_FIXED_TILES 8.0
/* F(2x2,3x3) (cc__winograd_tile) needs this many tiles: each transformed
 * weight, read from memory, then serves 2 flops a tile, 6 a byte, the
 * FMA peak's flops per byte of memory bandwidth on one core. */
#define WINOGRAD_F2_MIN_TILES 12
/* The direct kernels' full pixel tiles need this many interior outputs
 * (AVX-512: one more, im2col being faster there). */
#define DIRECT_MIN_INTERIOR_WIDTH 6
#define DIRECT_MIN_INTERIOR_WIDTH_AVX512 7

static bool winograd_pays(const cc__conv_geom *g, cc__isa isa, int threads)
{
    const size_t outputs = (size_t)g->n * cc__geom_pixels(g);
    const bool few_inputs_pay = isa != CC__ISA_AVX512 || (g->layout == CC_NHWC && threads == 1);
    const int min_inputs =
        few_inputs_pay ? WINOGRAD_MIN_GROUP_CHANNELS : WINOGRAD_MIN_GROUP_INPUTS_AVX512;
    if (!cc__geom_is_winograd_shape(g) || g->cg < min_inputs ||
        g->ocg < WINOGRAD_MIN_GROUP_CHANNELS)
        return false;
    if (cc__winograd_tile(g) == 2) {
        const size_t tiles = (size_t)g->n * (((size_t)g->oh + 1) / 2) * (((size_t)g->ow + 1) / 2);
        return tiles >= WINOGRAD_F2_MIN_TILES &&
               16.0 * (double)tiles <= WINOGRAD_MAX_COST_RATIO * 9.0 * (double)outputs;
    }
    const size_t tiles = (size_t)g->n * (((size_t)g->oh + 3) / 4) * (((size_t)g->ow + 3) / 4);
    return 4.0 * ((double)tiles + WINOGRAD_FIXED_TILES) <=
           WINOGRAD_MAX_COST_RATIO * (double)outputs;
}

/* But one unpadded input runs on the direct kernels' NCHW rows tiles
 * (nhwc_inside.c), whose rows split over threads where im2col's small
 * products stay on one: on two threads always, on one from 5x5 kernels
 * (Zen 4, ms, direct / im2col, 1 thread, then 2: LeNet's 1 -> 20 5x5 at
 * 28x28 0.0112 / 0.0123-0.0131, 0.0067 / 0.0124; 1 -> 32 5x5 at 32x32
 * 0.0178 / 0.0201-0.0249, 0.0121 / 0.0197-0.0242; 1 -> 32 3x3 at 28x28
 * 0.0084 / 0.0077, 0.0052-0.0064 / 0.0077; 1 -> 64 3x3 at 28x28 0.022 /
 * 0.012-0.017, 0.0123 / 0.0124-0.0166). */
#define DIRECT_MIN_ONE_INPUT_TAPS 25

static bool one_unpadded_input_for_direct(const cc__conv_geom *g, int threads)
{
    return g->cg == 1 && !cc__geom_is_padded(g) &&
           (threads > 1 || g->kh * g->kw >= DIRECT_MIN_ONE_INPUT_TAPS);
}

/* A stride-1 NCHW layer, not 1x1, of few input channels and many filters
 * per group (the layers measured). */
static bool first_layer_for_im2col(const cc__conv_geom *g, int threads)
{
    return g->layout == CC_NCHW && !cc__geom_is_pointwise(g) &&
           g->cg <= DIRECT_MAX_GROUP_CHANNELS && g->sh == 1 && g->sw == 1 &&
           g->ocg >= IM2COL_MIN_FIRST_LAYER_OUTPUTS_AVX512 &&
           !one_unpadded_input_for_direct(g, threads);
}

/* AVX-512, NHWC: a strided layer (not 1x1) of small output images and
 * many input channels per group goes to im2col, whose products run on the
 * unpacked kernel at 190-210 GFLOP/s where the direct kernels' strided
 * tiles run at about 150-170 (Zen 5, 3x3 stride 2 to 14x14, ms, direct
 * against im2col, 1 thread: 64 channels 0.091 / 0.084, 96 0.202 / 0.171,
 * 128 0.372 / 0.293, ResNet-50's 256 1.47 / 1.11, 512 6.05 / 4.70; 2
 * threads: 128 0.183 / 0.199, 256 0.80 / 0.73, 512 3.13 / 2.83; to 28x28
 * within 5% either way: 128 1.19 / 1.17, 256 4.93 / 4.76 at 1 thread).
 * With the input padded for the direct kernels (direct.c), 1 thread: 96
 * 0.212 / 0.207, 128 0.359 / 0.332, 256 1.37 / 1.20, 512 5.22 / 4.66; 2
 * threads: 128 0.183 / 0.206, 256 0.746 / 0.785, 512 3.57 / 3.13. */
#define IM2COL_STRIDED_MAX_PIXELS 196
#define IM2COL_STRIDED_MIN_INPUTS_ONE_THREAD 96
#define IM2COL_STRIDED_MIN_INPUTS 256

static bool strided_for_im2col(const cc__conv_geom *g, cc__isa isa, int threads)
{
    const int min_inputs =
        threads == 1 ? IM2COL_STRIDED_MIN_INPUTS_ONE_THREAD : IM2COL_STRIDED_MIN_INPUTS;
    return isa == CC__ISA_AVX512 && g->layout == CC_NHWC && (g->sh > 1 || g->sw > 1) &&
           !cc__geom_is_pointwise(g) && cc__geom_pixels(g) <= IM2COL_STRIDED_MAX_PIXELS &&
           g->cg >= min_inputs;
}

/* Outputs of a row whose kernel window lies wholly inside the input (in
 * 64 bits: strides and pads may be near INT_MAX). */
static long long interior_width(const cc__conv_geom *g)
{
    const long long sw = g->sw, pl = g->pl;
    const long long first = (pl + sw - 1) / sw;
    const long long last_start = (long long)g->w - 1 - (long long)(g->kw - 1) * g->dw + pl;
    const long long last = last_start >= 0 ? last_start / sw : -1;
    return last >= first ? last - first + 1 : 0;
}

static cc_algo choose(const cc__conv_geom *g, cc__isa isa, int threads)
{
    const bool direct_is_fast = isa != CC__ISA_SCALAR;
    if (cc__geom_is_pointwise(g) && isa == CC__ISA_AVX2 && g->layout == CC_NCHW && g->ocg > 1)
        return CC_ALGO_DIRECT;
    if (cc__geom_is_pointwise(g) && isa == CC__ISA_AVX512 && g->layout == CC_NHWC &&
        g->ocg <= DIRECT_MAX_NHWC_1X1_OUTPUTS_AVX512 &&
        g->cg >= DIRECT_MIN_NHWC_1X1_INPUTS_AVX512)
        return CC_ALGO_DIRECT;
    if (cc__geom_is_pointwise(g) && (g->cg > DIRECT_MAX_GROUP_CHANNELS || !direct_is_fast))
        return CC_ALGO_GEMM1X1;
    if (direct_is_fast &&
        (g->cg <= DIRECT_MAX_GROUP_CHANNELS || g->ocg <= DIRECT_MAX_GROUP_OUTPUTS))
        return isa == CC__ISA_AVX512 && first_layer_for_im2col(g, threads) ? CC_ALGO_IM2COL
                                                                  : CC_ALGO_DIRECT;
    if (winograd_pays(g, isa, threads))
        return CC_ALGO_WINOGRAD;
    const long long min_width = isa == CC__ISA_AVX512 ? DIRECT_MIN_INTERIOR_WIDTH_AVX512
                                                      : DIRECT_MIN_INTERIOR_WIDTH;
    if (direct_is_fast && interior_width(g) >= min_width && !strided_for_im2col(g, isa, threads))
        return CC_ALGO_DIRECT;
    return CC_ALGO_IM2COL;
}

/* An NCHW layer that the path its NHWC twin takes computes in NHWC
 * (nhwc_inside.c) takes that path: it runs on the NHWC kernels. First
 * layers for im2col stay NCHW: its product there ran as fast as or faster
 * than the direct kernels through NHWC (Zen 5, 1 thread, ms: LeNet's 1 ->
 * 20 5x5 0.0085 against 0.0082, 3 -> 32 3x3 at 28x28 0.0103 / 0.0118, 1
 * -> 32 0.0040 / 0.0075, 3 -> 64 at 14x14 0.0072 / 0.0093). */
cc_algo cc__auto_choose(const cc__conv_geom *g, cc__isa isa, int threads)
{
    if (g->layout == CC_NCHW && !(isa == CC__ISA_AVX512 && first_layer_for_im2col(g, threads))) {
        cc__conv_geom nhwc = *g;
        nhwc.layout = CC_NHWC;
        const cc_algo pick = choose(&nhwc, isa, threads);
        if (cc__nchw_in_nhwc(g, pick, isa))
            return pick;
    }
    return choose(g, isa, threads);
}
