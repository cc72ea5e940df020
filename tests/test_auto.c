/* AUTO's rule (src/conv/auto.c), for what it promises rather than for
 * speed, which is the bench's business:
 * - eligibility: on seeded random layers (kernels up to 5x5, strides,
 *   dilations, uneven padding, groups, depthwise, both layouts), under every
 *   kernel family, the pick is a path that can run the layer: GEMM1X1 only
 *   for 1x1 kernels without padding, Winograd only for 3x3 stride 1
 *   dilation 1, never the reference nor the opt-in Winograd F(6x6,3x3); and
 *   a layer created with AUTO takes that pick and computes the reference's
 *   output;
 * - thresholds: every boundary that auto.c documents (the 1x1 rules, the
 *   channels per group, Winograd's channels and cost ratio 0.7, the interior
 *   width) with a layer on either side, under the scalar and both vector
 *   families, so that moving a boundary, or the rule across one, fails. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"
#include "../src/conv/gemm.h"

#define SEED 20261127u
#define RANDOM_LAYERS 300

static const char *isa_name(cc__isa isa)
{
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return names[isa];
}

/* ---- thresholds ----------------------------------------------------------- */

typedef struct {
    int batch, c, h, w, oc, k, stride, pad, dilation, groups;
    cc_layout layout;
} layer;

typedef struct {
    const char *name;
    layer l;
    cc_algo vector; /* the pick under AVX2 and AVX-512 */
    cc_algo scalar; /* the pick under the portable kernels */
} boundary_case;

static cc_conv2d_params params_of(const layer *l)
{
    return (cc_conv2d_params){.batch = l->batch, .in_channels = l->c, .in_h = l->h,
                              .in_w = l->w, .out_channels = l->oc, .kernel_h = l->k,
                              .kernel_w = l->k, .stride_h = l->stride, .stride_w = l->stride,
                              .pad_top = l->pad, .pad_bottom = l->pad, .pad_left = l->pad,
                              .pad_right = l->pad, .dilation_h = l->dilation,
                              .dilation_w = l->dilation, .groups = l->groups,
                              .layout = l->layout};
}

#define NCHW_1X1(c, hw, oc, stride) {1, c, hw, hw, oc, 1, stride, 0, 1, 1, CC_NCHW}
#define NHWC_1X1(c, hw, oc) {1, c, hw, hw, oc, 1, 1, 0, 1, 1, CC_NHWC}
/* 3x3, padding 1, NCHW. */
#define L3X3(batch, c, h, w, oc, stride, groups) \
    {batch, c, h, w, oc, 3, stride, 1, 1, groups, CC_NCHW}
/* 5x5, no padding, NCHW, one image. */
#define L5X5(c, hw, oc, stride) {1, c, hw, hw, oc, 5, stride, 0, 1, 1, CC_NCHW}

/* Pairs of layers, one on each side of a boundary of auto.c. The 3x3
 * layers of the channel pairs are 7x7, whose 5 interior outputs per row are
 * too few for the direct kernels' tiles: the GEMM side gives IM2COL. */
static const boundary_case boundaries[] = {
    /* 1x1 without padding: NCHW with more than one output per group goes to
     * the direct pointwise kind (any stride), NHWC to GEMM1X1 past 4 input
     * channels per group; without vector kernels, GEMM1X1. */
    {"1x1 NCHW, 2 outputs", NCHW_1X1(256, 14, 2, 1), CC_ALGO_DIRECT, CC_ALGO_GEMM1X1},
    {"1x1 NCHW, 1 output", NCHW_1X1(256, 14, 1, 1), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    {"1x1 NCHW stride 2", NCHW_1X1(256, 14, 64, 2), CC_ALGO_DIRECT, CC_ALGO_GEMM1X1},
    {"1x1 NHWC, 4 input channels", NHWC_1X1(4, 14, 64), CC_ALGO_DIRECT, CC_ALGO_GEMM1X1},
    {"1x1 NHWC, 5 input channels", NHWC_1X1(5, 14, 64), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    /* A padded 1x1 is no GEMM1X1 layer (its 14 interior outputs per row
     * suit the direct kernels). */
    {"1x1 NCHW padded", {1, 256, 14, 14, 64, 1, 1, 1, 1, 1, CC_NCHW}, CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    /* Input channels per group: at most 4, the direct kernels. */
    {"4 input channels", L3X3(1, 4, 7, 7, 32, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"5 input channels", L3X3(1, 5, 7, 7, 32, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    {"2 groups of 4 input channels", L3X3(1, 8, 7, 7, 32, 1, 2), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"2 groups of 5 input channels", L3X3(1, 10, 7, 7, 32, 1, 2), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    /* Output channels per group: at most 7, the direct kernels. */
    {"7 output channels", L3X3(1, 32, 7, 7, 7, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"8 output channels", L3X3(1, 32, 7, 7, 8, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    {"2 groups of 7 output channels", L3X3(1, 64, 7, 7, 14, 1, 2), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"2 groups of 8 output channels", L3X3(1, 64, 7, 7, 16, 1, 2), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    /* Winograd: at least 16 channels per group on both sides (28x28: cost
     * ratio 0.33; the other side has 26 interior outputs per row). */
    {"16 in, 16 out", L3X3(1, 16, 28, 28, 16, 1, 1), CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD},
    {"15 in, 16 out", L3X3(1, 15, 28, 28, 16, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"16 in, 15 out", L3X3(1, 16, 28, 28, 15, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"2 groups of 16 in, 16 out", L3X3(1, 32, 28, 28, 32, 1, 2), CC_ALGO_WINOGRAD,
     CC_ALGO_WINOGRAD},
    {"2 groups of 15 in, 16 out", L3X3(1, 30, 28, 28, 32, 1, 2), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    /* ... and only 3x3 stride 1 dilation 1, however many channels. */
    {"3x3 stride 2", L3X3(1, 64, 28, 28, 64, 2, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"3x3 dilation 2", {1, 64, 28, 28, 64, 3, 1, 2, 2, 1, CC_NCHW}, CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"5x5", {1, 64, 28, 28, 64, 5, 1, 2, 1, 1, CC_NCHW}, CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"3x3 NHWC", {1, 64, 28, 28, 64, 3, 1, 1, 1, 1, CC_NHWC}, CC_ALGO_WINOGRAD,
     CC_ALGO_WINOGRAD},
    /* Winograd's cost ratio 4 (tiles + 8) / outputs at most 0.7. */
    {"14x14, ratio 0.49", L3X3(1, 64, 14, 14, 64, 1, 1), CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD},
    {"13x13, ratio 0.57", L3X3(1, 64, 13, 13, 64, 1, 1), CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD},
    {"10x10, ratio 0.68", L3X3(1, 64, 10, 10, 64, 1, 1), CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD},
    {"9x10, ratio 0.76", L3X3(1, 64, 9, 10, 64, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"9x9 at batch 2, ratio 0.59", L3X3(2, 64, 9, 9, 64, 1, 1), CC_ALGO_WINOGRAD,
     CC_ALGO_WINOGRAD},
    {"7x7, ratio 0.98", L3X3(1, 64, 7, 7, 64, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    /* F(2x2,3x3) where F(4x4) has 8 tiles or fewer and 36 Cg OCg >= 2^20
     * floats of weights: with 12 tiles or more and 16 tiles / (9 outputs)
     * at most 0.7. */
    {"7x7, 170 -> 171, F(4x4)", L3X3(1, 170, 7, 7, 171, 1, 1), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    {"7x7, 171 -> 171, F(2x2)", L3X3(1, 171, 7, 7, 171, 1, 1), CC_ALGO_WINOGRAD,
     CC_ALGO_WINOGRAD},
    {"6x7, 12 F(2x2) tiles", L3X3(1, 512, 6, 7, 512, 1, 1), CC_ALGO_WINOGRAD,
     CC_ALGO_WINOGRAD},
    {"5x5, 9 F(2x2) tiles", L3X3(1, 512, 5, 5, 512, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    /* The direct kernels' tiles: at least 6 interior outputs per row. */
    {"interior width 6", L3X3(1, 8, 9, 8, 8, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"interior width 5", L3X3(1, 8, 9, 7, 8, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    {"stride 2, interior width 6", L3X3(1, 8, 14, 14, 8, 2, 1), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"stride 2, interior width 5", L3X3(1, 8, 12, 12, 8, 2, 1), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
};

static void expect_pick_on(const boundary_case *b, cc__isa isa, int threads, cc_algo want)
{
    const cc_conv2d_params p = params_of(&b->l);
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    const cc_algo got = cc__auto_choose(&g, isa, threads);
    if (got != want) {
        char text[256];
        tst_describe(&p, text, sizeof text);
        fail_msg("%s [%s] under %s, %d thread(s): AUTO picks %s, auto.c's rule says %s",
                 b->name, text, isa_name(isa), threads, cc_algo_name(got), cc_algo_name(want));
    }
}

/* The pick for runs on 2 threads: the rule's thresholds but the one below. */
static void expect_pick(const boundary_case *b, cc__isa isa, cc_algo want)
{
    expect_pick_on(b, isa, 2, want);
}

/* Where AVX-512's pick differs from AVX2's: NCHW 1x1 layers go to GEMM1X1
 * (colconv's unpacked GEMM) past 4 input channels per group, the direct
 * kernels need 7 interior outputs a row, not 6, stride-1 layers of few
 * input channels with 16 or more filters per group go to im2col, NHWC 1x1
 * layers of 32 outputs or fewer and 128 inputs or more go to direct, and
 * Winograd needs 32 input channels per group. */
static const boundary_case avx512_boundaries[] = {
    {"interior width 6", L3X3(1, 8, 9, 8, 8, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    {"interior width 7", L3X3(1, 8, 9, 9, 8, 1, 1), CC_ALGO_DIRECT, CC_ALGO_IM2COL},
    {"stride 2, interior width 6", L3X3(1, 8, 14, 14, 8, 2, 1), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    {"stride 2, interior width 7", L3X3(1, 8, 16, 16, 8, 2, 1), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"1x1 NCHW, 2 outputs", NCHW_1X1(256, 14, 2, 1), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    {"1x1 NCHW stride 2", NCHW_1X1(256, 14, 64, 2), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    {"1x1 NCHW, 5 input channels", NCHW_1X1(5, 14, 64, 1), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    {"1x1 NCHW, 4 input channels", NCHW_1X1(4, 14, 64, 1), CC_ALGO_DIRECT, CC_ALGO_GEMM1X1},
    /* NHWC 1x1 layers of 32 outputs or fewer and 128 inputs or more: direct. */
    {"1x1 NHWC, 32 outputs", NHWC_1X1(128, 14, 32), CC_ALGO_DIRECT, CC_ALGO_GEMM1X1},
    {"1x1 NHWC, 32 outputs, 127 inputs", NHWC_1X1(127, 14, 32), CC_ALGO_GEMM1X1,
     CC_ALGO_GEMM1X1},
    /* Winograd needs 32 input channels per group. */
    {"16 in, 16 out", L3X3(1, 16, 28, 28, 16, 1, 1), CC_ALGO_DIRECT, CC_ALGO_WINOGRAD},
    {"2 groups of 16 in, 16 out", L3X3(1, 32, 28, 28, 32, 1, 2), CC_ALGO_DIRECT,
     CC_ALGO_WINOGRAD},
    {"31 in, 16 out", L3X3(1, 31, 28, 28, 16, 1, 1), CC_ALGO_DIRECT, CC_ALGO_WINOGRAD},
    {"32 in, 16 out", L3X3(1, 32, 28, 28, 16, 1, 1), CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD},
    {"1x1 NHWC, 33 outputs", NHWC_1X1(128, 14, 33), CC_ALGO_GEMM1X1, CC_ALGO_GEMM1X1},
    /* Stride-1 first layers with 16 or more filters per group: im2col. */
    {"4 input channels", L3X3(1, 4, 7, 7, 32, 1, 1), CC_ALGO_IM2COL, CC_ALGO_IM2COL},
    {"2 groups of 4 input channels", L3X3(1, 8, 7, 7, 32, 1, 2), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    {"4 input channels, 16 filters", L3X3(1, 4, 28, 28, 16, 1, 1), CC_ALGO_IM2COL,
     CC_ALGO_IM2COL},
    {"4 input channels, 15 filters", L3X3(1, 4, 28, 28, 15, 1, 1), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
    {"4 input channels, 16 filters, stride 2", L3X3(1, 4, 28, 28, 16, 2, 1), CC_ALGO_DIRECT,
     CC_ALGO_IM2COL},
};

static const boundary_case *avx512_override(const boundary_case *b)
{
    for (size_t i = 0; i < sizeof avx512_boundaries / sizeof avx512_boundaries[0]; i++)
        if (strcmp(avx512_boundaries[i].name, b->name) == 0)
            return &avx512_boundaries[i];
    return NULL;
}

static void picks_change_at_the_documented_thresholds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        const boundary_case *avx512 = avx512_override(&boundaries[i]);
        expect_pick(&boundaries[i], CC__ISA_SCALAR, boundaries[i].scalar);
        expect_pick(&boundaries[i], CC__ISA_AVX2, boundaries[i].vector);
        expect_pick(&boundaries[i], CC__ISA_AVX512,
                    avx512 != NULL ? avx512->vector : boundaries[i].vector);
    }
    for (size_t i = 0; i < sizeof avx512_boundaries / sizeof avx512_boundaries[0]; i++) {
        expect_pick(&avx512_boundaries[i], CC__ISA_AVX512, avx512_boundaries[i].vector);
        expect_pick(&avx512_boundaries[i], CC__ISA_SCALAR, avx512_boundaries[i].scalar);
    }
}

/* A layer's expected pick under one ISA and thread count. */
typedef struct {
    const char *name;
    layer l;
    cc__isa isa;
    int threads;
    cc_algo want;
} pick_case;

static void expect_picks(const pick_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const boundary_case b = {cases[i].name, cases[i].l, cases[i].want, cases[i].want};
        expect_pick_on(&b, cases[i].isa, cases[i].threads, cases[i].want);
    }
}

/* AVX-512: NHWC layers of 16 to 31 input channels per group go to Winograd
 * on one thread only (the 2-thread threshold above is 32). */
#define NHWC_WINOGRAD(c) {1, c, 56, 56, 32, 3, 1, 1, 1, 1, CC_NHWC}

static void winograd_few_inputs_on_one_thread(void **state)
{
    (void)state;
    static const pick_case cases[] = {
        {"NHWC 16 in", NHWC_WINOGRAD(16), CC__ISA_AVX512, 1, CC_ALGO_WINOGRAD},
        {"NHWC 16 in", NHWC_WINOGRAD(16), CC__ISA_AVX512, 2, CC_ALGO_DIRECT},
        {"NHWC 15 in", NHWC_WINOGRAD(15), CC__ISA_AVX512, 1, CC_ALGO_DIRECT},
        {"NHWC 16 in", NHWC_WINOGRAD(16), CC__ISA_AVX2, 2, CC_ALGO_WINOGRAD},
    };
    expect_picks(cases, sizeof cases / sizeof cases[0]);
}

/* AVX-512, NCHW: first layers of one unpadded input go to the direct
 * kernels on two threads, and on one from 5x5 kernels; padded ones and
 * those of two inputs stay on im2col. */
#define ONE_INPUT_3X3(pad) {1, 1, 28, 28, 32, 3, 1, pad, 1, 1, CC_NCHW}

static void one_unpadded_input_on_direct(void **state)
{
    (void)state;
    static const pick_case cases[] = {
        {"LeNet's conv1", L5X5(1, 28, 20, 1), CC__ISA_AVX512, 1, CC_ALGO_DIRECT},
        {"LeNet's conv1", L5X5(1, 28, 20, 1), CC__ISA_AVX512, 2, CC_ALGO_DIRECT},
        {"1 input, 3x3 unpadded", ONE_INPUT_3X3(0), CC__ISA_AVX512, 1, CC_ALGO_IM2COL},
        {"1 input, 3x3 unpadded", ONE_INPUT_3X3(0), CC__ISA_AVX512, 2, CC_ALGO_DIRECT},
        {"1 input, 3x3 padded", ONE_INPUT_3X3(1), CC__ISA_AVX512, 2, CC_ALGO_IM2COL},
        {"2 inputs, 5x5", L5X5(2, 28, 20, 1), CC__ISA_AVX512, 2, CC_ALGO_IM2COL},
    };
    expect_picks(cases, sizeof cases / sizeof cases[0]);
}

/* AVX-512, NHWC: strided layers (not 1x1) to 196 output pixels or fewer an
 * image go to im2col from 96 input channels per group on one thread, 256 on
 * more. */
#define NHWC_STRIDED(c, hw) {1, c, hw, hw, 64, 3, 2, 1, 1, 1, CC_NHWC}

static void im2col_for_strided_layers_of_many_channels(void **state)
{
    (void)state;
    static const pick_case cases[] = {
        {"96 in to 14x14", NHWC_STRIDED(96, 28), CC__ISA_AVX512, 1, CC_ALGO_IM2COL},
        {"95 in to 14x14", NHWC_STRIDED(95, 28), CC__ISA_AVX512, 1, CC_ALGO_DIRECT},
        {"96 in to 14x14", NHWC_STRIDED(96, 28), CC__ISA_AVX512, 2, CC_ALGO_DIRECT},
        {"256 in to 14x14", NHWC_STRIDED(256, 28), CC__ISA_AVX512, 2, CC_ALGO_IM2COL},
        {"255 in to 14x14", NHWC_STRIDED(255, 28), CC__ISA_AVX512, 2, CC_ALGO_DIRECT},
        {"256 in to 15x15", NHWC_STRIDED(256, 29), CC__ISA_AVX512, 1, CC_ALGO_DIRECT},
        {"256 in to 14x14", NHWC_STRIDED(256, 28), CC__ISA_AVX2, 1, CC_ALGO_DIRECT},
        /* 15 outputs: not computed in NHWC (nhwc_inside.c), so NCHW's own pick. */
        {"NCHW 256 in to 14x14, 15 outputs", {1, 256, 28, 28, 15, 3, 2, 1, 1, 1, CC_NCHW},
         CC__ISA_AVX512, 1, CC_ALGO_DIRECT},
    };
    expect_picks(cases, sizeof cases / sizeof cases[0]);
}

/* ---- eligibility ---------------------------------------------------------- */

/* Whether `algo` can run the layer, from the public header's contract
 * (include/colconv/conv.h), not from the library's own check. */
static bool can_run(const cc_conv2d_params *p, cc_algo algo)
{
    const bool no_padding = p->pad_top == 0 && p->pad_bottom == 0 && p->pad_left == 0 &&
                            p->pad_right == 0;
    const int sh = p->stride_h > 0 ? p->stride_h : 1, sw = p->stride_w > 0 ? p->stride_w : 1;
    const int dh = p->dilation_h > 0 ? p->dilation_h : 1;
    const int dw = p->dilation_w > 0 ? p->dilation_w : 1;
    switch (algo) {
    case CC_ALGO_DIRECT:
    case CC_ALGO_IM2COL:
        return true;
    case CC_ALGO_GEMM1X1:
        return p->kernel_h == 1 && p->kernel_w == 1 && no_padding;
    case CC_ALGO_WINOGRAD:
        return p->kernel_h == 3 && p->kernel_w == 3 && sh == 1 && sw == 1 && dh == 1 &&
               dw == 1;
    default: /* AUTO, the reference, the opt-in F(6x6,3x3): never a pick */
        return false;
    }
}

/* A random valid layer. Every third is 1x1 (padded one time in two), every
 * third 3x3 with channels and images enough for Winograd to be in reach,
 * the rest any kernel up to 5x5; one in seven depthwise. */
static cc_conv2d_params random_layer(tst_rng *rng, int i)
{
    cc_conv2d_params p;
    int oh, ow;
    do {
        const int groups = tst_rng_int(rng, 1, 2);
        const bool wide = i % 3 == 1;
        const int cg_hi = wide ? 32 : 24, hw_lo = wide ? 8 : 1, hw_hi = wide ? 24 : 16;
        p = (cc_conv2d_params){
            .batch = tst_rng_int(rng, 1, 2),
            .in_channels = groups * tst_rng_int(rng, 1, cg_hi),
            .in_h = tst_rng_int(rng, hw_lo, hw_hi),
            .in_w = tst_rng_int(rng, hw_lo, hw_hi),
            .out_channels = groups * tst_rng_int(rng, 1, cg_hi),
            .kernel_h = tst_rng_int(rng, 1, 5),
            .kernel_w = tst_rng_int(rng, 1, 5),
            .stride_h = tst_rng_int(rng, 1, 3),
            .stride_w = tst_rng_int(rng, 1, 3),
            .pad_top = tst_rng_int(rng, 0, 2),
            .pad_bottom = tst_rng_int(rng, 0, 2),
            .pad_left = tst_rng_int(rng, 0, 2),
            .pad_right = tst_rng_int(rng, 0, 2),
            .dilation_h = tst_rng_int(rng, 1, 2),
            .dilation_w = tst_rng_int(rng, 1, 2),
            .groups = groups,
            .layout = tst_rng_int(rng, 0, 1) ? CC_NHWC : CC_NCHW,
        };
        if (i % 3 == 0) {
            p.kernel_h = p.kernel_w = 1;
            if (i % 2 == 0)
                p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
        } else if (wide) {
            p.kernel_h = p.kernel_w = 3;
            p.stride_h = p.stride_w = tst_rng_int(rng, 1, 4) == 4 ? 2 : 1;
            p.dilation_h = p.dilation_w = tst_rng_int(rng, 1, 4) == 4 ? 2 : 1;
        }
        if (i % 7 == 3)
            p.groups = p.in_channels = p.out_channels = tst_rng_int(rng, 1, 40);
    } while (cc_conv2d_output_size(&p, &oh, &ow) != CC_OK);
    return p;
}

/* A layer, its data and the reference's output. */
typedef struct {
    cc_conv2d_params p;
    cc__conv_geom g;
    tst_conv_counts counts;
    float *input, *weights, *expected;
    char text[256];
} layer_run;

static void layer_run_init(layer_run *r, const cc_conv2d_params *p, int i)
{
    r->p = *p;
    assert_int_equal(cc__conv_geom_init(p, &r->g), CC_OK);
    tst_describe(p, r->text, sizeof r->text);
    r->counts = tst_conv_sizes(p);
    r->input = malloc(r->counts.input * sizeof(float));
    r->weights = malloc(r->counts.weights * sizeof(float));
    r->expected = malloc(r->counts.output * sizeof(float));
    assert_non_null(r->input);
    assert_non_null(r->weights);
    assert_non_null(r->expected);
    tst_rng data;
    tst_rng_seed(&data, SEED + 1u + (unsigned)i);
    tst_fill(&data, r->input, r->counts.input, false);
    tst_fill(&data, r->weights, r->counts.weights, false);
    cc_conv2d *ref = NULL;
    assert_int_equal(cc_conv2d_create(p, CC_ALGO_REFERENCE, r->weights, NULL, &ref), CC_OK);
    assert_int_equal(cc_conv2d_run(ref, r->input, r->expected), CC_OK);
    cc_conv2d_destroy(ref);
}

static void layer_run_free(layer_run *r)
{
    free(r->input);
    free(r->weights);
    free(r->expected);
}

/* A layer created with AUTO under the current ISA cap takes the rule's pick
 * and computes what the reference computes. */
static void expect_auto_runs(const layer_run *r)
{
    const cc__isa isa = cc__cpu_isa();
    const cc_algo want = cc__auto_choose(&r->g, isa, cc__run_threads());
    cc_conv2d *op = NULL;
    if (cc_conv2d_create(&r->p, CC_ALGO_AUTO, r->weights, NULL, &op) != CC_OK)
        fail_msg("%s seed %u under %s: create with AUTO fails: %s", r->text, SEED,
                 isa_name(isa), cc_last_error());
    if (cc_conv2d_algo(op) != want)
        fail_msg("%s seed %u under %s: the operator runs %s, the rule picks %s", r->text, SEED,
                 isa_name(isa), cc_algo_name(cc_conv2d_algo(op)), cc_algo_name(want));
    tst_buffer got = tst_buffer_new(r->counts.output);
    tst_buffer_poison(&got);
    assert_int_equal(cc_conv2d_run(op, r->input, got.data), CC_OK);
    const double tolerance = tst_conv_tolerance(r->expected, r->counts.output);
    const size_t bad = tst_first_mismatch(got.data, r->expected, r->counts.output, tolerance);
    if (bad != r->counts.output || !tst_buffer_guards_intact(&got))
        fail_msg("%s seed %u under %s: AUTO (%s) differs from the reference at %zu", r->text,
                 SEED, isa_name(isa), cc_algo_name(want), bad);
    tst_buffer_free(&got);
    cc_conv2d_destroy(op);
}

static void picks_only_paths_that_run_the_layer(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    int picked[CC_ALGO_WINOGRAD_F6X6 + 1] = {0};
    for (int i = 0; i < RANDOM_LAYERS; i++) {
        const cc_conv2d_params p = random_layer(&rng, i);
        layer_run r;
        layer_run_init(&r, &p, i);
        for (int isa = CC__ISA_SCALAR; isa <= CC__ISA_AVX512; isa++) {
            const cc_algo pick = cc__auto_choose(&r.g, (cc__isa)isa, 1 + i % 2);
            if (!can_run(&p, pick) || cc__conv_check_algo(&r.g, pick) != CC_OK)
                fail_msg("%s seed %u under %s: AUTO picks %s, which cannot run it", r.text,
                         SEED, isa_name((cc__isa)isa), cc_algo_name(pick));
            picked[pick]++;
            cc__set_isa_cap((cc__isa)isa);
            if (cc__cpu_isa() == (cc__isa)isa)
                expect_auto_runs(&r);
            cc__set_isa_cap(CC__ISA_AVX512);
        }
        layer_run_free(&r);
    }
    /* The draws reach every path AUTO may pick. */
    const cc_algo paths[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1, CC_ALGO_WINOGRAD};
    for (size_t a = 0; a < sizeof paths / sizeof paths[0]; a++)
        if (picked[paths[a]] == 0)
            fail_msg("seed %u: no random layer got %s", SEED, cc_algo_name(paths[a]));
    print_message("AUTO on %d random layers: direct %d, im2col %d, gemm1x1 %d, winograd %d picks\n",
                  RANDOM_LAYERS, picked[CC_ALGO_DIRECT], picked[CC_ALGO_IM2COL],
                  picked[CC_ALGO_GEMM1X1], picked[CC_ALGO_WINOGRAD]);
}

/* ---- NCHW layers computed in NHWC (nhwc_inside.c) ------------------------- */

typedef struct {
    const char *name;
    layer l;
    cc_algo algo;
    cc__isa isa;
    bool inside;
} inside_case;

/* Pairs on each side of the rule's bounds: AVX-512 only, any path but the
 * reference, not depthwise, 16 or more channels per group each way (the
 * direct path: fewer than 8 inputs too, stride 1, not 1x1); then
 * Winograd up to 32 MiB of reordered tensors, any image size; the other
 * paths on outputs of 784 pixels or fewer an image (1x1: strided from
 * inputs of 784 pixels or fewer, stride 1 on images of fewer than 64), up
 * to 16 MiB of reordered tensors. */
static const inside_case inside_cases[] = {
    {"512 x 14x14 Winograd", L3X3(1, 512, 14, 14, 512, 1, 1), CC_ALGO_WINOGRAD,
     CC__ISA_AVX512, true},
    {"under AVX2", L3X3(1, 512, 14, 14, 512, 1, 1), CC_ALGO_WINOGRAD, CC__ISA_AVX2, false},
    {"under the portable kernels", L3X3(1, 512, 14, 14, 512, 1, 1), CC_ALGO_WINOGRAD,
     CC__ISA_SCALAR, false},
    {"F(6x6)", L3X3(1, 64, 28, 28, 64, 1, 1), CC_ALGO_WINOGRAD_F6X6, CC__ISA_AVX512, true},
    {"direct", L3X3(1, 64, 28, 28, 64, 2, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, true},
    {"im2col", L3X3(1, 64, 28, 28, 64, 1, 1), CC_ALGO_IM2COL, CC__ISA_AVX512, true},
    {"reference", L3X3(1, 64, 28, 28, 64, 1, 1), CC_ALGO_REFERENCE, CC__ISA_AVX512, false},
    {"NHWC", {1, 64, 28, 28, 64, 3, 1, 1, 1, 1, CC_NHWC}, CC_ALGO_DIRECT, CC__ISA_AVX512,
     false},
    {"1x1", NCHW_1X1(64, 28, 64, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"1x1 GEMM", NCHW_1X1(64, 28, 64, 1), CC_ALGO_GEMM1X1, CC__ISA_AVX512, false},
    {"1x1 GEMM on 7x7", NCHW_1X1(64, 7, 64, 1), CC_ALGO_GEMM1X1, CC__ISA_AVX512, true},
    {"1x1 GEMM on 8x8", NCHW_1X1(64, 8, 64, 1), CC_ALGO_GEMM1X1, CC__ISA_AVX512, false},
    {"1x1 stride 2 from 28x28", NCHW_1X1(64, 28, 64, 2), CC_ALGO_GEMM1X1, CC__ISA_AVX512,
     true},
    {"1x1 stride 2 from 29x29", NCHW_1X1(64, 29, 64, 2), CC_ALGO_GEMM1X1, CC__ISA_AVX512,
     false},
    {"1x1 padded", {1, 64, 26, 26, 64, 1, 1, 1, 1, 1, CC_NCHW}, CC_ALGO_DIRECT,
     CC__ISA_AVX512, true},
    {"depthwise", L3X3(1, 64, 28, 28, 64, 1, 64), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"16 channels per group", L3X3(1, 32, 28, 28, 32, 1, 2), CC_ALGO_DIRECT, CC__ISA_AVX512,
     true},
    {"15 inputs per group", L3X3(1, 30, 28, 28, 32, 1, 2), CC_ALGO_DIRECT, CC__ISA_AVX512,
     false},
    {"15 outputs per group", L3X3(1, 32, 28, 28, 30, 1, 2), CC_ALGO_DIRECT, CC__ISA_AVX512,
     false},
    /* The direct path on fewer than 8 inputs per group: stride 1, not 1x1,
     * 16 filters per group or more, 784 output pixels or fewer, not one
     * input without padding. */
    {"direct, 7 inputs per group", L5X5(7, 14, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, true},
    {"direct, 1 input, padded", {1, 1, 28, 28, 16, 5, 1, 2, 1, 1, CC_NCHW}, CC_ALGO_DIRECT,
     CC__ISA_AVX512, true},
    {"direct, 1 input, unpadded", L5X5(1, 32, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"direct, 2 inputs, unpadded", L5X5(2, 32, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, true},
    {"direct, 8 inputs per group", L5X5(8, 14, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"direct, 7 inputs, 15 filters", L5X5(7, 14, 15, 1), CC_ALGO_DIRECT, CC__ISA_AVX512,
     false},
    {"direct, 7 inputs, stride 2", L5X5(7, 14, 16, 2), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"direct, 7 inputs, 28x29 out", {1, 7, 32, 33, 16, 5, 1, 0, 1, 1, CC_NCHW},
     CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"direct, 7 inputs, 1x1", NCHW_1X1(7, 14, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"im2col, 7 inputs per group", L5X5(7, 14, 16, 1), CC_ALGO_IM2COL, CC__ISA_AVX512, false},
    {"direct, 7 inputs under AVX2", L5X5(7, 14, 16, 1), CC_ALGO_DIRECT, CC__ISA_AVX2, false},
    {"28x28 out", L3X3(1, 64, 28, 28, 64, 1, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, true},
    {"28x29 out", L3X3(1, 64, 28, 29, 64, 1, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"Winograd 28x29 out", L3X3(1, 64, 28, 29, 64, 1, 1), CC_ALGO_WINOGRAD, CC__ISA_AVX512,
     true},
    {"Winograd 256 x 56x56", L3X3(1, 256, 56, 56, 256, 1, 1), CC_ALGO_WINOGRAD,
     CC__ISA_AVX512, true},
    {"Winograd 256 x 56x56 under AVX2", L3X3(1, 256, 56, 56, 256, 1, 1), CC_ALGO_WINOGRAD,
     CC__ISA_AVX2, false},
    {"Winograd 15 inputs", L3X3(1, 15, 56, 56, 64, 1, 1), CC_ALGO_WINOGRAD, CC__ISA_AVX512,
     false},
    {"56x56 in, 28x28 out", L3X3(1, 64, 56, 56, 64, 2, 1), CC_ALGO_DIRECT, CC__ISA_AVX512,
     true},
    {"56x58 in, 28x29 out", L3X3(1, 64, 56, 58, 64, 2, 1), CC_ALGO_DIRECT, CC__ISA_AVX512,
     false},
    /* 7x7 at 512 channels: (1 + 2) x 98 KiB an image; 16 MiB hold 55,
     * 32 MiB 111. */
    {"55 images", L3X3(55, 512, 7, 7, 512, 1, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, true},
    {"56 images", L3X3(56, 512, 7, 7, 512, 1, 1), CC_ALGO_DIRECT, CC__ISA_AVX512, false},
    {"Winograd 111 images", L3X3(111, 512, 7, 7, 512, 1, 1), CC_ALGO_WINOGRAD, CC__ISA_AVX512,
     true},
    {"Winograd 112 images", L3X3(112, 512, 7, 7, 512, 1, 1), CC_ALGO_WINOGRAD, CC__ISA_AVX512,
     false},
    {"Winograd 64 x 224x224", L3X3(1, 64, 224, 224, 64, 1, 1), CC_ALGO_WINOGRAD,
     CC__ISA_AVX512, false},
};

static void nchw_in_nhwc_at_the_documented_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof inside_cases / sizeof inside_cases[0]; i++) {
        const inside_case *t = &inside_cases[i];
        const cc_conv2d_params p = params_of(&t->l);
        cc__conv_geom g;
        assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
        if (cc__nchw_in_nhwc(&g, t->algo, t->isa) != t->inside)
            fail_msg("%s: %s under %s %s computed in NHWC, the rule says %s", t->name,
                     cc_algo_name(t->algo), isa_name(t->isa),
                     t->inside ? "is not" : "is", t->inside ? "it is" : "not");
    }
}

/* ---- im2col's col tiles (gemm_conv.c) ------------------------------------ */

static size_t col_tile_bytes(const layer *l)
{
    const cc_conv2d_params p = params_of(l);
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    cc__gemm_plan plan;
    cc__gemm_plan_init(&g, false, cc__tile_budget_bytes(), &plan);
    return plan.tile_bytes;
}

/* On the unpacked GEMM (AVX-512 CPUs), NHWC layers and NCHW layers of 4
 * input channels per group or fewer copy col tiles of 1 MiB at most;
 * other NCHW layers keep tiles of up to the 4 MiB default. */
static void col_tiles_of_first_layers(void **state)
{
    (void)state;
    if (!cc__gemm_unpacked_wanted())
        skip();
    const size_t mib = (size_t)1 << 20;
    const layer four = L3X3(1, 4, 224, 224, 64, 1, 1), five = L3X3(1, 5, 224, 224, 64, 1, 1);
    const layer nhwc = {1, 16, 224, 224, 64, 3, 1, 1, 1, 1, CC_NHWC};
    assert_true(col_tile_bytes(&four) <= mib);
    assert_true(col_tile_bytes(&five) > mib);
    assert_true(col_tile_bytes(&nhwc) <= mib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(picks_change_at_the_documented_thresholds),
        cmocka_unit_test(winograd_few_inputs_on_one_thread),
        cmocka_unit_test(one_unpadded_input_on_direct),
        cmocka_unit_test(im2col_for_strided_layers_of_many_channels),
        cmocka_unit_test(picks_only_paths_that_run_the_layer),
        cmocka_unit_test(nchw_in_nhwc_at_the_documented_bounds),
        cmocka_unit_test(col_tiles_of_first_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
