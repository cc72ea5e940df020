/* Every optimised conv path against the float64 reference, on a seeded table
 * of random valid shapes that cover the odd cases on purpose; the whole
 * suite runs once per ISA the CPU has (tst_run_per_isa says which ran). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"
#include "../src/conv/gemm.h"

#define SHAPES 320
#define SEED 20261127u

/* The odd cases, one per flavour; shape i gets flavour i % FLAVOURS. */
enum {
    PLAIN,
    ONE_PIXEL_IMAGE,
    KERNEL_EQUALS_PADDED_INPUT,
    STRIDE_OVER_KERNEL,
    ASYMMETRIC_PADDING,
    DILATED,
    GROUPED,
    DEPTHWISE,
    DEPTHWISE_MULTIPLIER,
    POINTWISE,
    POINTWISE_STRIDED,
    RECTANGULAR,
    FLAVOURS
};

static int pick_groups(tst_rng *rng, int *channels, int *out_channels)
{
    const int groups = tst_rng_int(rng, 2, 3);
    *channels = groups * tst_rng_int(rng, 1, 5);
    *out_channels = groups * tst_rng_int(rng, 1, 5);
    return groups;
}

/* Grows the input where the dilated kernel would not fit the padded input. */
static void fit_input_to_kernel(cc_conv2d_params *p)
{
    const int dh = p->dilation_h > 0 ? p->dilation_h : 1, dw = p->dilation_w > 0 ? p->dilation_w : 1;
    const int need_h = dh * (p->kernel_h - 1) + 1 - p->pad_top - p->pad_bottom;
    const int need_w = dw * (p->kernel_w - 1) + 1 - p->pad_left - p->pad_right;
    if (p->in_h < need_h)
        p->in_h = need_h;
    if (p->in_w < need_w)
        p->in_w = need_w;
}

/* A valid parameter set of flavour `flavour`, small enough for the reference. */
static cc_conv2d_params random_params(tst_rng *rng, int flavour)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = tst_rng_int(rng, 1, 3);
    p.in_channels = tst_rng_int(rng, 1, 19);
    p.out_channels = tst_rng_int(rng, 1, 21);
    p.in_h = tst_rng_int(rng, 1, 11);
    p.in_w = tst_rng_int(rng, 1, 11);
    p.kernel_h = tst_rng_int(rng, 1, 3);
    p.kernel_w = p.kernel_h;
    p.stride_h = p.stride_w = tst_rng_int(rng, 0, 2); /* 0 means 1 */
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = tst_rng_int(rng, 0, 1);
    p.activation = (cc_act)tst_rng_int(rng, CC_ACT_NONE, CC_ACT_RELU6);
    switch (flavour) {
    case ONE_PIXEL_IMAGE:
        p.in_h = p.in_w = 1;
        p.kernel_h = p.kernel_w = tst_rng_int(rng, 1, 3);
        p.pad_top = p.pad_left = p.kernel_h / 2;
        p.pad_bottom = p.pad_right = p.kernel_h - 1 - p.kernel_h / 2;
        break;
    case KERNEL_EQUALS_PADDED_INPUT:
        p.kernel_h = p.in_h + p.pad_top + p.pad_bottom;
        p.kernel_w = p.in_w + p.pad_left + p.pad_right;
        break;
    case STRIDE_OVER_KERNEL:
        p.in_h = tst_rng_int(rng, 5, 13);
        p.in_w = tst_rng_int(rng, 5, 13);
        p.stride_h = p.kernel_h + tst_rng_int(rng, 1, 2);
        p.stride_w = p.kernel_w + tst_rng_int(rng, 1, 3);
        break;
    case ASYMMETRIC_PADDING:
        p.pad_top = tst_rng_int(rng, 0, 3);
        p.pad_bottom = tst_rng_int(rng, 0, 4);
        p.pad_left = tst_rng_int(rng, 0, 4);
        p.pad_right = tst_rng_int(rng, 0, 3);
        break;
    case DILATED:
        p.dilation_h = tst_rng_int(rng, 2, 3);
        p.dilation_w = tst_rng_int(rng, 1, 3);
        p.in_h = tst_rng_int(rng, 7, 13);
        p.in_w = tst_rng_int(rng, 7, 13);
        break;
    case GROUPED:
        p.groups = pick_groups(rng, &p.in_channels, &p.out_channels);
        break;
    case DEPTHWISE:
        p.in_channels = p.out_channels = p.groups = tst_rng_int(rng, 1, 19);
        break;
    case DEPTHWISE_MULTIPLIER:
        p.in_channels = p.groups = tst_rng_int(rng, 1, 9);
        p.out_channels = p.in_channels * tst_rng_int(rng, 2, 3);
        break;
    case POINTWISE:
        p.kernel_h = p.kernel_w = 1;
        p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
        p.stride_h = p.stride_w = 1;
        if (tst_rng_int(rng, 0, 2) == 0)
            p.groups = pick_groups(rng, &p.in_channels, &p.out_channels);
        break;
    case POINTWISE_STRIDED:
        p.kernel_h = p.kernel_w = 1;
        p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
        p.stride_h = tst_rng_int(rng, 2, 3);
        p.stride_w = tst_rng_int(rng, 1, 3);
        break;
    case RECTANGULAR:
        p.in_h = tst_rng_int(rng, 5, 12);
        p.in_w = tst_rng_int(rng, 5, 12);
        p.kernel_h = tst_rng_int(rng, 1, 5);
        p.kernel_w = tst_rng_int(rng, 1, 3);
        p.stride_h = tst_rng_int(rng, 1, 3);
        p.stride_w = tst_rng_int(rng, 1, 2);
        break;
    default:
        break;
    }
    fit_input_to_kernel(&p);
    return p;
}

/* Output of algo for (p, weights, bias, input), in a poisoned guarded buffer. */
static tst_buffer run_path(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                           const float *bias, const float *input, size_t out_count,
                           const char *what)
{
    cc_conv2d *op = NULL;
    const cc_status status = cc_conv2d_create(p, algo, weights, bias, &op);
    if (status != CC_OK)
        fail_msg("%s: create %s failed: %s (%s)", what, cc_algo_name(algo), cc_status_str(status),
                 cc_last_error());
    tst_buffer out = tst_buffer_new(out_count);
    assert_int_equal(cc_conv2d_run(op, input, out.data), CC_OK);
    if (!tst_buffer_guards_intact(&out))
        fail_msg("%s: %s wrote outside its output", what, cc_algo_name(algo));
    assert_true(algo == CC_ALGO_AUTO || cc_conv2d_algo(op) == algo);
    if (op->isa != tst_isa())
        fail_msg("%s: %s was created for %s, not %s", what, cc_algo_name(algo),
                 cc__isa_name(op->isa), cc__isa_name(tst_isa()));
    assert_true(cc_conv2d_algo(op) != CC_ALGO_REFERENCE || algo == CC_ALGO_REFERENCE);
    cc_conv2d_destroy(op);
    return out;
}

static bool is_pointwise(const cc_conv2d_params *p)
{
    return p->kernel_h == 1 && p->kernel_w == 1 && p->pad_top == 0 && p->pad_bottom == 0 &&
           p->pad_left == 0 && p->pad_right == 0;
}

/* 3x3, stride 1, dilation 1 (0 means 1). */
static bool is_winograd_shape(const cc_conv2d_params *p)
{
    return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h <= 1 && p->stride_w <= 1 &&
           p->dilation_h <= 1 && p->dilation_w <= 1;
}

/* Whether `algo` runs p; the Winograd paths are also covered on their own
 * table by test_winograd.c. */
static bool applies(cc_algo algo, const cc_conv2d_params *p)
{
    if (algo == CC_ALGO_GEMM1X1)
        return is_pointwise(p);
    if (algo == CC_ALGO_WINOGRAD)
        return is_winograd_shape(p);
    return true;
}

/* Checks every path on one parameter set with fresh data; integer data must
 * match exactly, real data within the contract's tolerance. */
static void check_all_paths(cc_conv2d_params p, tst_rng *rng, bool integers, const char *what)
{
    const tst_conv_counts counts = tst_conv_sizes(&p);
    const size_t in_count = counts.input, w_count = counts.weights, out_count = counts.output;
    float *input = malloc(in_count * sizeof(float));
    float *weights = malloc(w_count * sizeof(float));
    float *bias = malloc((size_t)p.out_channels * sizeof(float));
    assert_true(input && weights && bias);
    tst_fill(rng, input, in_count, integers);
    tst_fill(rng, weights, w_count, integers);
    tst_fill(rng, bias, (size_t)p.out_channels, integers);
    const float *maybe_bias = tst_rng_int(rng, 0, 1) ? bias : NULL;
    float *input_copy = malloc(in_count * sizeof(float));
    memcpy(input_copy, input, in_count * sizeof(float));

    char desc[256];
    tst_describe(&p, desc, sizeof desc);
    tst_buffer want = run_path(&p, CC_ALGO_REFERENCE, weights, maybe_bias, input, out_count, desc);
    /* The tolerance scales with the sums before the activation: an error in
     * a large sum that the activation maps near 0 (tanh, ReLU6's slope 1)
     * is still that error; every cc_act has a slope of at most 1. */
    cc_conv2d_params linear = p;
    linear.activation = CC_ACT_NONE;
    tst_buffer sums = run_path(&linear, CC_ALGO_REFERENCE, weights, maybe_bias, input, out_count,
                               desc);
    const double scaled_tolerance = tst_conv_tolerance(sums.data, out_count);
    tst_buffer_free(&sums);
    const cc_algo algos[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1, CC_ALGO_WINOGRAD,
                             CC_ALGO_AUTO};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        if (!applies(algos[a], &p))
            continue;
        /* Winograd's transforms have fractions: integers are not exact. */
        const bool exact = integers && p.activation == CC_ACT_NONE &&
                           algos[a] != CC_ALGO_WINOGRAD && algos[a] != CC_ALGO_AUTO;
        const double tolerance = exact ? 0.0 : scaled_tolerance;
        tst_buffer got = run_path(&p, algos[a], weights, maybe_bias, input, out_count, desc);
        const size_t bad = tst_first_mismatch(got.data, want.data, out_count, tolerance);
        if (bad != out_count)
            fail_msg("%s [%s] seed %u: %s differs at %zu: %.9g vs reference %.9g (tolerance %g)",
                     what, desc, SEED, cc_algo_name(algos[a]), bad, got.data[bad], want.data[bad],
                     tolerance);
        tst_buffer_free(&got);
    }
    assert_memory_equal(input, input_copy, in_count * sizeof(float));
    tst_buffer_free(&want);
    free(input_copy);
    free(input);
    free(weights);
    free(bias);
}

/* NCHW layers of the direct and Winograd paths either in their own NCHW
 * kernels (NEVER) or computed in NHWC (ALWAYS, whatever the ISA and size:
 * conv_internal.h), so that both stay checked whatever the rule picks. */
static void run_table_inside(cc_layout layout, bool integers, size_t tile_budget,
                             cc__nhwc_inside_mode inside)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED + (uint64_t)layout * 7919u + (integers ? 104729u : 0u));
    cc__set_tile_budget_bytes(tile_budget);
    cc__set_nhwc_inside(inside);
    for (int i = 0; i < SHAPES; i++) {
        cc_conv2d_params p = random_params(&rng, i % FLAVOURS);
        p.layout = layout;
        char what[64];
        snprintf(what, sizeof what, "shape %d flavour %d", i, i % FLAVOURS);
        check_all_paths(p, &rng, integers, what);
    }
    cc__set_tile_budget_bytes(0);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_RULE);
}

static void run_table(cc_layout layout, bool integers, size_t tile_budget)
{
    run_table_inside(layout, integers, tile_budget, CC__NHWC_INSIDE_NEVER);
}

static void nchw_reals(void **state) { (void)state; run_table(CC_NCHW, false, 0); }
static void nhwc_reals(void **state) { (void)state; run_table(CC_NHWC, false, 0); }
static void nchw_integers_exact(void **state) { (void)state; run_table(CC_NCHW, true, 0); }
static void nhwc_integers_exact(void **state) { (void)state; run_table(CC_NHWC, true, 0); }
static void nchw_reals_in_nhwc(void **state)
{
    (void)state;
    run_table_inside(CC_NCHW, false, 0, CC__NHWC_INSIDE_ALWAYS);
}
static void nchw_integers_exact_in_nhwc(void **state)
{
    (void)state;
    run_table_inside(CC_NCHW, true, 0, CC__NHWC_INSIDE_ALWAYS);
}

/* A 256-byte budget forces many tiles and K blocks that accumulate. */
static void nchw_tiny_tiles(void **state) { (void)state; run_table(CC_NCHW, false, 256); }
static void nhwc_tiny_tiles(void **state) { (void)state; run_table(CC_NHWC, false, 256); }

/* GEMM calls split as if OpenBLAS's int were 7: M, N, K chunks and leading
 * dimensions too large, on the whole table. */
static void split_gemm_calls(void **state)
{
    (void)state;
    cc__gemm_set_int_limit(7);
    run_table(CC_NCHW, false, 0);
    run_table(CC_NHWC, false, 0);
    cc__gemm_set_int_limit(0);
}

/* Multiply-adds of a run of p. */
static size_t work_of(const cc_conv2d_params *p)
{
    int oh = 0, ow = 0;
    assert_int_equal(cc_conv2d_output_size(p, &oh, &ow), CC_OK);
    const int groups = p->groups > 0 ? p->groups : 1;
    return (size_t)p->batch * p->out_channels * oh * ow * (p->in_channels / groups) *
           p->kernel_h * p->kernel_w;
}

/* Grows p of `flavour`, the flavour kept, until it has just the work of two
 * threads: a run takes one thread per 2^19 multiply-adds (conv.c), and the
 * seeded shapes have far less. The channels of each group first (more work
 * per output value, not more outputs), except in depthwise layers (they
 * would become thousands of groups), then the batch and the image, unless
 * the image is the flavour. One dimension at a time, so as not to overshoot. */
static void grow_to_two_threads(cc_conv2d_params *p, int flavour)
{
    const int groups = p->groups > 0 ? p->groups : 1;
    const bool depthwise = groups > 1 && p->in_channels == groups;
    const bool image_is_flavour = flavour == ONE_PIXEL_IMAGE || flavour == KERNEL_EQUALS_PADDED_INPUT;
    for (int step = 0; work_of(p) < (size_t)1 << 20; step++) {
        const int k = p->in_channels / groups * p->kernel_h * p->kernel_w;
        if (!depthwise && (k < 256 || image_is_flavour)) {
            if (step % 2)
                p->in_channels *= 2;
            else
                p->out_channels *= 2;
        } else if (p->batch < 16) {
            p->batch *= 2;
        } else if (step % 2) {
            p->in_h *= 2;
        } else {
            p->in_w *= 2;
        }
    }
}

/* Runs algo on `threads` threads into out, poisoned first; fails unless the
 * run really takes that many (cc_conv2d_num_threads: the count a run started
 * now hands its path). */
static void run_on_threads(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                           const float *input, tst_buffer *out, const char *desc, int threads)
{
    cc_set_num_threads(threads);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(p, algo, weights, NULL, &op), CC_OK);
    const int taken = cc_conv2d_num_threads(op);
    if (taken != threads) {
        cc_conv2d_destroy(op);
        fail_msg("%s [%s]: a run on %d thread(s) takes %d", cc_algo_name(algo), desc, threads,
                 taken);
    }
    assert_int_equal(op->isa, tst_isa());
    tst_buffer_poison(out);
    assert_int_equal(cc_conv2d_run(op, input, out->data), CC_OK);
    cc_conv2d_destroy(op);
    if (!tst_buffer_guards_intact(out))
        fail_msg("%s [%s]: wrote outside its output", cc_algo_name(algo), desc);
}

/* Outputs are bitwise identical run after run at a given thread count, and
 * within the contract's tolerance across thread counts (OpenBLAS's threaded
 * SGEMM may order the last few additions differently), on seeded shapes of
 * every flavour in both layouts, grown until their runs really take two
 * threads. */
static void deterministic_across_runs(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    const cc_algo algos[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    /* AUTO by its cost rule: a measured plan may take fewer threads. */
    const cc_planning planning = cc_get_planning();
    cc_set_planning(CC_PLAN_ESTIMATE);
    for (int i = 0; i < 2 * FLAVOURS; i++) {
        cc_conv2d_params p = random_params(&rng, i % FLAVOURS);
        p.layout = i < FLAVOURS ? CC_NCHW : CC_NHWC;
        grow_to_two_threads(&p, i % FLAVOURS);
        const tst_conv_counts counts = tst_conv_sizes(&p);
        const size_t in_count = counts.input, w_count = counts.weights, out_count = counts.output;
        float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
        assert_true(input && weights);
        tst_fill(&rng, input, in_count, false);
        tst_fill(&rng, weights, w_count, false);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        tst_buffer runs[4];
        for (int r = 0; r < 4; r++)
            runs[r] = tst_buffer_new(out_count);
        for (size_t a = 0; a < 3; a++) {
            for (int r = 0; r < 4; r++)
                run_on_threads(&p, algos[a], weights, input, &runs[r], desc, 1 + r / 2);
            if (memcmp(runs[0].data, runs[1].data, out_count * sizeof(float)) != 0 ||
                memcmp(runs[2].data, runs[3].data, out_count * sizeof(float)) != 0)
                fail_msg("%s [%s]: two runs differ", cc_algo_name(algos[a]), desc);
            const double tolerance = tst_conv_tolerance(runs[0].data, out_count);
            const size_t bad = tst_first_mismatch(runs[2].data, runs[0].data, out_count, tolerance);
            if (bad != out_count)
                fail_msg("%s [%s]: 2 threads differ from 1 at %zu: %.9g vs %.9g (tolerance %g)",
                         cc_algo_name(algos[a]), desc, bad, runs[2].data[bad], runs[0].data[bad],
                         tolerance);
        }
        for (int r = 0; r < 4; r++)
            tst_buffer_free(&runs[r]);
        free(input);
        free(weights);
    }
    cc_set_planning(planning);
    cc_set_num_threads(0);
}

/* Many output channels on images of fewer pixels than a panel of the
 * unpacked GEMM (ResNet's and GoogLeNet's 7x7 layers): on AVX-512 the GEMM
 * paths make the pixels the rows of their product (plan.pixel_rows), on
 * the input itself (1x1) or on the col tile, with K whole or in blocks
 * (the tiny tile budget), whole groups of 64+ channels or not. */
static const cc_conv2d_params pixel_rows_shapes[] = {
    /* batch, in c, h, w, out c, kh, kw, sh, sw, pads t b l r, dilation, groups */
    {1, 37, 7, 7, 64, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, CC_NCHW, CC_ACT_RELU},
    {2, 19, 7, 7, 80, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0, 0, CC_NCHW, CC_ACT_NONE},
    {1, 24, 13, 13, 65, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0, CC_NCHW, CC_ACT_RELU6},
    {1, 40, 14, 14, 96, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, CC_NCHW, CC_ACT_NONE},
    {1, 16, 1, 1, 70, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, CC_NCHW, CC_ACT_NONE},
    {1, 33, 5, 12, 128, 2, 3, 0, 0, 0, 1, 1, 0, 0, 0, 0, CC_NCHW, CC_ACT_RELU},
    {2, 10, 7, 7, 136, 3, 3, 0, 0, 1, 1, 1, 1, 0, 0, 2, CC_NCHW, CC_ACT_NONE},
};

static void pixel_rows_products(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 29);
    const size_t budgets[] = {0, 2048};
    cc__set_nhwc_inside(CC__NHWC_INSIDE_NEVER); /* the NCHW GEMM's own plan */
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        cc__set_tile_budget_bytes(budgets[b]);
        for (size_t i = 0; i < sizeof pixel_rows_shapes / sizeof pixel_rows_shapes[0]; i++) {
            const cc_conv2d_params *p = &pixel_rows_shapes[i];
            const size_t w_count = tst_conv_sizes(p).weights;
            float *weights = calloc(w_count, sizeof(float));
            assert_non_null(weights);
            cc_conv2d *op = NULL;
            assert_int_equal(cc_conv2d_create(p, CC_ALGO_IM2COL, weights, NULL, &op), CC_OK);
            assert_int_equal(op->plan.pixel_rows, cc__gemm_unpacked_wanted());
            cc_conv2d_destroy(op);
            free(weights);
            char what[64];
            snprintf(what, sizeof what, "pixel-rows shape %zu, budget %zu", i, budgets[b]);
            check_all_paths(*p, &rng, false, what);
            check_all_paths(*p, &rng, true, what);
        }
    }
    cc__set_tile_budget_bytes(0);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_RULE);
}

/* act(conv + bias + residual) through the network's entry points, with a
 * workspace the caller owns, against the reference without activation
 * followed by the add and activation in double. */
static void check_residual_path(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                                const float *bias, const float *input, const float *residual,
                                const float *expected, size_t out_count, const char *desc)
{
    cc_conv2d *op = NULL;
    assert_int_equal(cc__conv2d_create_ex(p, algo, weights, bias, true, &op), CC_OK);
    assert_int_equal(op->isa, tst_isa());
    assert_int_equal(cc_conv2d_workspace_size(op), 0);
    const size_t need = cc__conv2d_workspace_need(op, cc__conv_threads(op));
    float *workspace = need > 0 ? malloc(need) : NULL;
    if (need > 0) {
        float out_unused;
        assert_int_equal(cc__conv2d_run_ex(op, input, &out_unused, residual, NULL, 0),
                         CC_ERR_INVALID_ARG);
    }
    tst_buffer got = tst_buffer_new(out_count);
    assert_int_equal(cc__conv2d_run_ex(op, input, got.data, residual, workspace, 0), CC_OK);
    assert_true(tst_buffer_guards_intact(&got));
    const double tolerance = tst_conv_tolerance(expected, out_count);
    const size_t bad = tst_first_mismatch(got.data, expected, out_count, tolerance);
    if (bad != out_count)
        fail_msg("[%s] residual %s differs at %zu: %.9g vs %.9g", desc, cc_algo_name(algo), bad,
                 got.data[bad], expected[bad]);
    tst_buffer_free(&got);
    free(workspace);
    cc_conv2d_destroy(op);
}

/* act(the reference without activation + residual): what a run with a
 * fused residual must give. */
static void expected_with_residual(const cc_conv2d_params *p, const float *weights,
                                   const float *bias, const float *input, const float *residual,
                                   float *expected, size_t out_count, const char *desc)
{
    cc_conv2d_params plain = *p;
    plain.activation = CC_ACT_NONE;
    tst_buffer conv = run_path(&plain, CC_ALGO_REFERENCE, weights, bias, input, out_count, desc);
    for (size_t j = 0; j < out_count; j++)
        expected[j] =
            (float)cc__reference_activate((double)conv.data[j] + residual[j], p->activation);
    tst_buffer_free(&conv);
}

static void fused_residual_with_external_workspace(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 17);
    cc__set_tile_budget_bytes(1024);
    for (int i = 0; i < 120; i++) {
        cc_conv2d_params p = random_params(&rng, i % FLAVOURS);
        p.layout = i % 2 ? CC_NHWC : CC_NCHW;
        /* NCHW layers alternately in their own kernels and in NHWC, whose
         * residual is reordered too. */
        cc__set_nhwc_inside(i % 4 == 0 ? CC__NHWC_INSIDE_NEVER : CC__NHWC_INSIDE_ALWAYS);
        const tst_conv_counts counts = tst_conv_sizes(&p);
        const size_t in_count = counts.input, w_count = counts.weights, out_count = counts.output;
        float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
        float *bias = malloc((size_t)p.out_channels * sizeof(float));
        float *residual = malloc(out_count * sizeof(float)), *expected = malloc(out_count * sizeof(float));
        tst_fill(&rng, input, in_count, false);
        tst_fill(&rng, weights, w_count, false);
        tst_fill(&rng, bias, (size_t)p.out_channels, false);
        tst_fill(&rng, residual, out_count, false);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        expected_with_residual(&p, weights, bias, input, residual, expected, out_count, desc);
        const cc_algo algos[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1,
                                 CC_ALGO_WINOGRAD};
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
            if (applies(algos[a], &p))
                check_residual_path(&p, algos[a], weights, bias, input, residual, expected,
                                    out_count, desc);
        free(input);
        free(weights);
        free(bias);
        free(residual);
        free(expected);
    }
    cc__set_tile_budget_bytes(0);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_RULE);
}

/* NHWC outputs written as a slice of a wider tensor (a network's concat
 * computed in place): each path writes channels [offset, offset + OC) of
 * pixels `stride` floats apart, bit for bit what it writes to a tensor of
 * its own, and leaves every other float of the wider tensor as it was; a
 * stride below OC, NCHW, a residual and the reference path are refused. */
enum { SLICE_OFFSET = 3, SLICE_EXTRA = 5 };

static void check_strided(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                          const float *bias, const float *input, const char *desc, int threads)
{
    cc_conv2d *op = NULL;
    if (cc__conv2d_create_ex(p, algo, weights, bias, false, &op) != CC_OK)
        return; /* a path this layer cannot take */
    cc_set_num_threads(threads);
    const size_t oc = (size_t)p->out_channels, stride = oc + SLICE_EXTRA;
    const size_t pixels = tst_conv_sizes(p).output / oc;
    tst_buffer own = tst_buffer_new(pixels * oc), wide = tst_buffer_new(pixels * stride);
    tst_buffer_poison(&wide);
    float *poison = malloc(pixels * stride * sizeof(float));
    assert_non_null(poison);
    memcpy(poison, wide.data, pixels * stride * sizeof(float));
    assert_int_equal(cc__conv2d_run_ex(op, input, own.data, NULL, NULL, 0), CC_OK);
    assert_int_equal(cc__conv2d_run_ex(op, input, wide.data + SLICE_OFFSET, NULL, NULL, stride),
                     CC_OK);
    assert_true(tst_buffer_guards_intact(&wide));
    for (size_t px = 0; px < pixels; px++)
        for (size_t c = 0; c < stride; c++) {
            const size_t at = px * stride + c;
            const bool in_slice = c >= SLICE_OFFSET && c < SLICE_OFFSET + oc;
            const float want = in_slice ? own.data[px * oc + c - SLICE_OFFSET] : poison[at];
            if (memcmp(&wide.data[at], &want, sizeof want) != 0)
                fail_msg("%s [%s] %d thread(s): pixel %zu channel %zu of the wide tensor is "
                         "%.9g, want %.9g (%s)",
                         cc_algo_name(algo), desc, threads, px, c, (double)wide.data[at],
                         (double)want, in_slice ? "its slice" : "outside its slice");
        }
    /* Refused: a stride below the channels, and a residual. */
    if (oc > 1)
        assert_int_equal(cc__conv2d_run_ex(op, input, wide.data, NULL, NULL, oc - 1),
                         CC_ERR_INVALID_ARG);
    assert_int_equal(cc__conv2d_run_ex(op, input, wide.data, own.data, NULL, stride),
                     CC_ERR_INVALID_ARG);
    free(poison);
    tst_buffer_free(&own);
    tst_buffer_free(&wide);
    cc_conv2d_destroy(op);
    cc_set_num_threads(0);
}

/* The reference path and an NCHW layer refuse a pixel stride. */
static void check_strided_refused(cc_conv2d_params p, const float *weights, const float *input)
{
    const size_t stride = (size_t)p.out_channels + SLICE_EXTRA;
    float *out = malloc(tst_conv_sizes(&p).output / (size_t)p.out_channels * stride *
                        sizeof(float));
    assert_non_null(out);
    cc_conv2d *ref = NULL, *nchw = NULL;
    assert_int_equal(cc__conv2d_create_ex(&p, CC_ALGO_REFERENCE, weights, NULL, false, &ref),
                     CC_OK);
    assert_int_equal(cc__conv2d_run_ex(ref, input, out, NULL, NULL, stride), CC_ERR_INVALID_ARG);
    p.layout = CC_NCHW;
    assert_int_equal(cc__conv2d_create_ex(&p, CC_ALGO_DIRECT, weights, NULL, false, &nchw),
                     CC_OK);
    assert_int_equal(cc__conv2d_run_ex(nchw, input, out, NULL, NULL, stride), CC_ERR_INVALID_ARG);
    cc_conv2d_destroy(ref);
    cc_conv2d_destroy(nchw);
    free(out);
}

static void strided_nhwc_output(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 31);
    const cc_algo algos[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1, CC_ALGO_WINOGRAD,
                             CC_ALGO_WINOGRAD_F6X6};
    const size_t budgets[] = {0, 256};
    for (int i = 0; i < 4 * FLAVOURS; i++) {
        cc_conv2d_params p = random_params(&rng, i % FLAVOURS);
        p.layout = CC_NHWC;
        if (i % 3 == 0) { /* Winograd's shape too */
            p.kernel_h = p.kernel_w = 3;
            p.stride_h = p.stride_w = 1;
            p.dilation_h = p.dilation_w = 0;
            fit_input_to_kernel(&p);
        }
        if (i % 4 == 1)
            grow_to_two_threads(&p, i % FLAVOURS);
        const tst_conv_counts counts = tst_conv_sizes(&p);
        float *input = malloc(counts.input * sizeof(float));
        float *weights = malloc(counts.weights * sizeof(float));
        float *bias = malloc((size_t)p.out_channels * sizeof(float));
        assert_true(input && weights && bias);
        tst_fill(&rng, input, counts.input, false);
        tst_fill(&rng, weights, counts.weights, false);
        tst_fill(&rng, bias, (size_t)p.out_channels, false);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        cc__set_tile_budget_bytes(budgets[i % 2]);
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
            for (int threads = 1; threads <= 2; threads++)
                check_strided(&p, algos[a], weights, bias, input, desc, threads);
        check_strided_refused(p, weights, input);
        free(input);
        free(weights);
        free(bias);
    }
    cc__set_tile_budget_bytes(0);
}

/* NHWC layers of one input channel and few filters run on the direct
 * path's rows kind through NCHW planes in the workspace (direct.c): with
 * a residual against the reference, and into a slice of a wider tensor. */
static void one_input_nhwc_on_rows(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 43);
    const cc_conv2d_params shapes[] = {
        {2, 1, 12, 13, 6, 3, 5, 2, 1, 1, 0, 0, 0, 2, 1, 1, CC_NHWC, CC_ACT_RELU},
        {1, 1, 32, 32, 8, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, CC_NHWC, CC_ACT_NONE},
        {3, 1, 7, 40, 3, 2, 3, 1, 1, 2, 1, 0, 0, 1, 2, 1, CC_NHWC, CC_ACT_RELU6},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const cc_conv2d_params *p = &shapes[i];
        cc__conv_geom g;
        assert_int_equal(cc__conv_geom_init(p, &g), CC_OK);
        assert_int_equal(cc__direct_workspace_floats(&g, tst_isa(), 2),
                         2 * (size_t)g.oc * (size_t)g.ow);
        const tst_conv_counts counts = tst_conv_sizes(p);
        float *input = malloc(counts.input * sizeof(float));
        float *weights = malloc(counts.weights * sizeof(float));
        float *bias = malloc((size_t)p->out_channels * sizeof(float));
        float *residual = malloc(counts.output * sizeof(float));
        float *expected = malloc(counts.output * sizeof(float));
        assert_true(input && weights && bias && residual && expected);
        tst_fill(&rng, input, counts.input, false);
        tst_fill(&rng, weights, counts.weights, false);
        tst_fill(&rng, bias, (size_t)p->out_channels, false);
        tst_fill(&rng, residual, counts.output, false);
        char desc[256];
        tst_describe(p, desc, sizeof desc);
        expected_with_residual(p, weights, bias, input, residual, expected, counts.output, desc);
        check_residual_path(p, CC_ALGO_DIRECT, weights, bias, input, residual, expected,
                            counts.output, desc);
        for (int threads = 1; threads <= 2; threads++)
            check_strided(p, CC_ALGO_DIRECT, weights, bias, input, desc, threads);
        free(input);
        free(weights);
        free(bias);
        free(residual);
        free(expected);
    }
}

/* An NCHW layer computed in NHWC reports its inner operator's threading:
 * an im2col layer whose NHWC tiles make four units (AVX-512's 1 MiB tiles)
 * runs them on two threads (tiles), not one GEMM on BLAS's threads. */
static void nchw_in_nhwc_threading(void **state)
{
    (void)state;
    const cc_conv2d_params p = {1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, CC_NCHW,
                                CC_ACT_NONE};
    const size_t w_count = tst_conv_sizes(&p).weights;
    float *weights = calloc(w_count, sizeof(float));
    assert_non_null(weights);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_ALWAYS);
    cc_set_num_threads(2);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_IM2COL, weights, NULL, &op), CC_OK);
    assert_non_null(op->inner);
    assert_int_equal(cc_conv2d_num_threads(op), 2);
    assert_int_equal(cc_conv2d_threading(op),
                     cc__gemm_threading(&op->inner->plan, cc_conv2d_num_threads(op)));
    if (cc__gemm_unpacked_wanted())
        assert_int_equal(cc_conv2d_threading(op), CC_THREADS_TILES);
    cc_conv2d_destroy(op);
    cc_set_num_threads(0);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_RULE);
    free(weights);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nchw_reals),
        cmocka_unit_test(nhwc_reals),
        cmocka_unit_test(nchw_integers_exact),
        cmocka_unit_test(nhwc_integers_exact),
        cmocka_unit_test(nchw_reals_in_nhwc),
        cmocka_unit_test(nchw_integers_exact_in_nhwc),
        cmocka_unit_test(nchw_tiny_tiles),
        cmocka_unit_test(nhwc_tiny_tiles),
        cmocka_unit_test(split_gemm_calls),
        cmocka_unit_test(deterministic_across_runs),
        cmocka_unit_test(fused_residual_with_external_workspace),
        cmocka_unit_test(pixel_rows_products),
        cmocka_unit_test(strided_nhwc_output),
        cmocka_unit_test(one_input_nhwc_on_rows),
        cmocka_unit_test(nchw_in_nhwc_threading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void) { return tst_run_per_isa("test_conv_paths", run_group); }
