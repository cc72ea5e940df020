/* The Winograd paths, F(4x4,3x3) and F(6x6,3x3), against the float64
 * reference on a seeded table of 3x3 stride-1 shapes: images smaller than a
 * tile, sizes that are not multiples of the tile, asymmetric and large
 * padding, groups, depthwise, channel counts on both sides of the 16-lane
 * groups, batch 1 and > 1, both layouts, blocks of one tile and of many;
 * plus determinism across runs and thread counts, the fused residual with a
 * caller's workspace, the bounded workspace, and the shapes the path
 * refuses. The whole suite runs once per ISA the CPU has (tst_run_per_isa
 * says which ran), with NCHW layers in the path's own NCHW kernels
 * (test_conv_paths checks them computed in NHWC too). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"

#define SHAPES 120
#define SEED 20261128u

/* The core's contract on the sums before the activation (an error in a
 * large sum that the activation maps near 0 is still that error; every
 * cc_act has a slope of at most 1); F(6x6,3x3)'s stated tolerance is 5x
 * that (errors up to about 1.1x the contract were seen on this table). */
static double tolerance_of(cc_algo algo, double contract)
{
    return contract * (algo == CC_ALGO_WINOGRAD_F6X6 ? 5.0 : 1.0);
}

/* sums (the reference without its activation) activated in place as the
 * reference does it (in double, rounded once; the sums are rounded to
 * float first, far below any tolerance here); returns the contract's
 * tolerance of the sums. */
static double activate_sums(tst_buffer *sums, size_t count, cc_act act)
{
    const double contract = tst_conv_tolerance(sums->data, count);
    for (size_t j = 0; j < count; j++)
        sums->data[j] = (float)cc__reference_activate((double)sums->data[j], act);
    return contract;
}

static cc_conv2d_params random_params(tst_rng *rng, int i)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = tst_rng_int(rng, 1, 3);
    p.in_channels = tst_rng_int(rng, 1, 40);
    p.out_channels = tst_rng_int(rng, 1, 40);
    p.in_h = tst_rng_int(rng, 1, 26);
    p.in_w = tst_rng_int(rng, 1, 26);
    p.kernel_h = p.kernel_w = 3;
    p.stride_h = p.stride_w = tst_rng_int(rng, 0, 1); /* 0 means 1 */
    p.dilation_h = p.dilation_w = tst_rng_int(rng, 0, 1);
    p.pad_top = tst_rng_int(rng, 0, 3);
    p.pad_bottom = tst_rng_int(rng, 0, 3);
    p.pad_left = tst_rng_int(rng, 0, 3);
    p.pad_right = tst_rng_int(rng, 0, 3);
    p.activation = (cc_act)tst_rng_int(rng, CC_ACT_NONE, CC_ACT_RELU6);
    if (i % 5 == 1) {
        const int groups = tst_rng_int(rng, 2, 4);
        p.groups = groups;
        p.in_channels = groups * tst_rng_int(rng, 1, 18);
        p.out_channels = groups * tst_rng_int(rng, 1, 18);
    } else if (i % 5 == 2) {
        p.in_channels = p.out_channels = p.groups = tst_rng_int(rng, 1, 20);
    } else if (i % 5 == 3) {
        p.in_h = p.in_w = tst_rng_int(rng, 1, 3); /* one tile, mostly padding */
    }
    /* The padded input must hold the kernel. */
    if (p.in_h + p.pad_top + p.pad_bottom < 3)
        p.pad_bottom = 3 - p.in_h - p.pad_top;
    if (p.in_w + p.pad_left + p.pad_right < 3)
        p.pad_right = 3 - p.in_w - p.pad_left;
    return p;
}

/* The output of algo, in a poisoned guarded buffer. */
static tst_buffer run_path(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                           const float *bias, const float *input, const char *desc)
{
    cc_conv2d *op = NULL;
    const cc_status status = cc_conv2d_create(p, algo, weights, bias, &op);
    if (status != CC_OK)
        fail_msg("[%s] create %s: %s (%s)", desc, cc_algo_name(algo), cc_status_str(status),
                 cc_last_error());
    assert_int_equal(cc_conv2d_algo(op), algo);
    if (op->isa != tst_isa())
        fail_msg("[%s] %s was created for %s, not %s", desc, cc_algo_name(algo),
                 cc__isa_name(op->isa), cc__isa_name(tst_isa()));
    tst_buffer out = tst_buffer_new(tst_conv_sizes(p).output);
    assert_int_equal(cc_conv2d_run(op, input, out.data), CC_OK);
    if (!tst_buffer_guards_intact(&out))
        fail_msg("[%s] %s wrote outside its output", desc, cc_algo_name(algo));
    cc_conv2d_destroy(op);
    return out;
}

typedef struct {
    tst_conv_counts n;
    float *input, *weights, *bias;
} conv_data;

static conv_data new_data(const cc_conv2d_params *p, tst_rng *rng)
{
    conv_data d = {tst_conv_sizes(p), NULL, NULL, NULL};
    d.input = malloc(d.n.input * sizeof(float));
    d.weights = malloc(d.n.weights * sizeof(float));
    d.bias = malloc((size_t)p->out_channels * sizeof(float));
    assert_true(d.input && d.weights && d.bias);
    tst_fill(rng, d.input, d.n.input, false);
    tst_fill(rng, d.weights, d.n.weights, false);
    tst_fill(rng, d.bias, (size_t)p->out_channels, false);
    return d;
}

static void free_data(conv_data *d)
{
    free(d->input);
    free(d->weights);
    free(d->bias);
}

static void expect_close(const tst_buffer *got, const tst_buffer *want, double contract,
                         size_t count, cc_algo algo, const char *desc)
{
    const double tolerance = tolerance_of(algo, contract);
    const size_t bad = tst_first_mismatch(got->data, want->data, count, tolerance);
    if (bad != count)
        fail_msg("[%s] seed %u: %s differs at %zu: %.9g vs reference %.9g (tolerance %g)", desc,
                 SEED, cc_algo_name(algo), bad, got->data[bad], want->data[bad], tolerance);
}

/* Reference outputs by table and case. They do not depend on the ISA, and
 * every pass draws the same cases, so the first pass computes them and the
 * next reuse them (the reference took most of the suite's time). */
enum { LARGE_LAYER = 6, ONE_CHANNEL_LEFT = 7, F2_LAYERS = 8, TABLES };
static tst_buffer references[TABLES][SHAPES];
static double contracts[TABLES][SHAPES];

/* The reference output of case i of a table, and in *contract the
 * tolerance of its sums before the activation. */
static const tst_buffer *reference_of(int table, int i, const cc_conv2d_params *p,
                                      const conv_data *d, const float *bias, const char *desc,
                                      double *contract)
{
    tst_buffer *want = &references[table][i];
    if (want->data == NULL) {
        cc_conv2d_params linear = *p;
        linear.activation = CC_ACT_NONE;
        *want = run_path(&linear, CC_ALGO_REFERENCE, d->weights, bias, d->input, desc);
        contracts[table][i] = activate_sums(want, d->n.output, p->activation);
    }
    *contract = contracts[table][i];
    return want;
}

/* Both Winograd paths on the whole table, with the tile budget given. */
static void run_table(int table, cc_layout layout, size_t tile_budget)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED + (uint64_t)layout * 31u + tile_budget);
    cc__set_tile_budget_bytes(tile_budget);
    for (int i = 0; i < SHAPES; i++) {
        cc_conv2d_params p = random_params(&rng, i);
        p.layout = layout;
        conv_data d = new_data(&p, &rng);
        const float *bias = i % 2 ? d.bias : NULL;
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        double contract;
        const tst_buffer *want = reference_of(table, i, &p, &d, bias, desc, &contract);
        const cc_algo algos[] = {CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD_F6X6};
        for (size_t a = 0; a < 2; a++) {
            tst_buffer got = run_path(&p, algos[a], d.weights, bias, d.input, desc);
            expect_close(&got, want, contract, d.n.output, algos[a], desc);
            tst_buffer_free(&got);
        }
        free_data(&d);
    }
    cc__set_tile_budget_bytes(0);
}

static void nchw(void **state) { (void)state; run_table(0, CC_NCHW, 0); }
static void nhwc(void **state) { (void)state; run_table(1, CC_NHWC, 0); }
/* Budgets below one tile's transforms: blocks of one tile. */
static void nchw_one_tile_blocks(void **state) { (void)state; run_table(2, CC_NCHW, 64); }
static void nhwc_one_tile_blocks(void **state) { (void)state; run_table(3, CC_NHWC, 64); }
/* Budgets of a few tiles (a Winograd block gets 4 x 40000 bytes, half of
 * it for tiles: 2 to 15 tiles here): several blocks per image, and images
 * sharing a block. */
static void nchw_small_blocks(void **state) { (void)state; run_table(4, CC_NCHW, 40000); }
static void nhwc_small_blocks(void **state) { (void)state; run_table(5, CC_NHWC, 40000); }

/* A VGG-like layer, 64 and 72 channels, 480 tiles: one block at the
 * default budget, three of whole lane groups at a 1 MiB one. */
static void large_layer(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 5);
    for (int run = 0; run < 4; run++) {
        const int layout = run % 2;
        cc__set_tile_budget_bytes(run < 2 ? 0 : (size_t)1 << 20);
        const cc_conv2d_params p = {.batch = 2, .in_channels = 64, .in_h = 58, .in_w = 61,
                                    .out_channels = 72, .kernel_h = 3, .kernel_w = 3,
                                    .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
                                    .layout = (cc_layout)layout, .activation = CC_ACT_RELU};
        conv_data d = new_data(&p, &rng);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        double contract;
        const tst_buffer *want = reference_of(LARGE_LAYER, run, &p, &d, d.bias, desc, &contract);
        for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++) {
            tst_buffer got = run_path(&p, a, d.weights, d.bias, d.input, desc);
            expect_close(&got, want, contract, d.n.output, a, desc);
            tst_buffer_free(&got);
        }
        free_data(&d);
    }
    cc__set_tile_budget_bytes(0);
}

/* Output channels cut so that one is left alone, on one block of tiles, at
 * 1 and 2 threads, both layouts: the plan's chunks of 193 channels (96, 96
 * and 1), and the two threads' shares of 7 (AVX2's blocks of 6 rows: 6 and
 * 1) and of 9 (AVX-512's blocks of 8: 8 and 1). A chunk of one channel
 * still reads weights packed in the layer's blocks of rows. */
static void one_channel_left(void **state)
{
    (void)state;
    const int channels[] = {193, 7, 9};
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 7);
    for (int i = 0; i < 6; i++) {
        const cc_conv2d_params p = {.batch = 1, .in_channels = 64, .in_h = 16, .in_w = 16,
                                    .out_channels = channels[i / 2], .kernel_h = 3,
                                    .kernel_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                                    .pad_right = 1, .layout = (cc_layout)(i % 2)};
        conv_data d = new_data(&p, &rng);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        double contract;
        const tst_buffer *want = reference_of(ONE_CHANNEL_LEFT, i, &p, &d, d.bias, desc,
                                              &contract);
        for (int threads = 1; threads <= 2; threads++) {
            cc_set_num_threads(threads);
            for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++) {
                tst_buffer got = run_path(&p, a, d.weights, d.bias, d.input, desc);
                expect_close(&got, want, contract, d.n.output, a, desc);
                tst_buffer_free(&got);
            }
        }
        cc_set_num_threads(0);
        free_data(&d);
    }
}

/* Small images whose transformed weights outweigh their work run
 * F(2x2,3x3) under CC_ALGO_WINOGRAD (cc__winograd_tile): ResNet's 7x7
 * layers, a batch of two 5x6 images with uneven padding and channels that
 * fill no lane group, and groups, at 1 and 2 threads, both layouts. */
static void small_images_take_f2x2(void **state)
{
    (void)state;
    const cc_conv2d_params layers[] = {
        {.batch = 1, .in_channels = 192, .in_h = 7, .in_w = 7, .out_channels = 160,
         .kernel_h = 3, .kernel_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
         .pad_right = 1, .activation = CC_ACT_RELU},
        {.batch = 2, .in_channels = 161, .in_h = 5, .in_w = 6, .out_channels = 203,
         .kernel_h = 3, .kernel_w = 3, .pad_top = 0, .pad_bottom = 2, .pad_left = 1,
         .pad_right = 0, .activation = CC_ACT_RELU6},
        {.batch = 1, .in_channels = 352, .in_h = 3, .in_w = 3, .out_channels = 352,
         .kernel_h = 3, .kernel_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
         .pad_right = 1, .groups = 2},
    };
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 8);
    for (int i = 0; i < 6; i++) {
        cc_conv2d_params p = layers[i / 2];
        p.layout = (cc_layout)(i % 2);
        conv_data d = new_data(&p, &rng);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        double contract;
        const tst_buffer *want = reference_of(F2_LAYERS, i, &p, &d, d.bias, desc, &contract);
        for (int threads = 1; threads <= 2; threads++) {
            cc_set_num_threads(threads);
            cc_conv2d *op = NULL;
            assert_int_equal(cc_conv2d_create(&p, CC_ALGO_WINOGRAD, d.weights, d.bias, &op),
                             CC_OK);
            if (op->wino.m != 2)
                fail_msg("[%s] Winograd took F(%dx%d,3x3), not F(2x2,3x3)", desc, op->wino.m,
                         op->wino.m);
            cc_conv2d_destroy(op);
            tst_buffer got = run_path(&p, CC_ALGO_WINOGRAD, d.weights, d.bias, d.input, desc);
            expect_close(&got, want, contract, d.n.output, CC_ALGO_WINOGRAD, desc);
            tst_buffer_free(&got);
        }
        cc_set_num_threads(0);
        free_data(&d);
    }
}

/* Grows p until a run takes two threads (one per 2^19 multiply-adds,
 * conv.c): the image, or the channels of the images of one tile. */
static void grow_to_two_threads(cc_conv2d_params *p, bool one_tile)
{
    for (;;) {
        int oh = 0, ow = 0;
        assert_int_equal(cc_conv2d_output_size(p, &oh, &ow), CC_OK);
        const int groups = p->groups > 0 ? p->groups : 1;
        if ((size_t)p->batch * p->out_channels * oh * ow * (p->in_channels / groups) * 9 >=
            (size_t)1 << 20)
            return;
        if (one_tile) {
            p->in_channels *= 2;
            p->out_channels *= 2;
        } else {
            p->in_h *= 2;
            p->in_w *= 2;
        }
    }
}

/* p's runs with `algo` bitwise identical run after run and across thread
 * counts, each run really taking its threads. */
static void check_deterministic(const cc_conv2d_params *p, cc_algo algo, tst_rng *rng)
{
    conv_data d = new_data(p, rng);
    char desc[256];
    tst_describe(p, desc, sizeof desc);
    tst_buffer runs[4];
    for (int r = 0; r < 4; r++) {
        const int threads = 1 + r / 2;
        cc_set_num_threads(threads);
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(p, algo, d.weights, d.bias, &op), CC_OK);
        const int taken = cc_conv2d_num_threads(op);
        if (taken != threads) {
            cc_conv2d_destroy(op);
            fail_msg("[%s] %s: a run on %d thread(s) takes %d", desc, cc_algo_name(algo),
                     threads, taken);
        }
        assert_int_equal(op->isa, tst_isa());
        runs[r] = tst_buffer_new(d.n.output);
        assert_int_equal(cc_conv2d_run(op, d.input, runs[r].data), CC_OK);
        assert_true(tst_buffer_guards_intact(&runs[r]));
        cc_conv2d_destroy(op);
    }
    for (int r = 1; r < 4; r++)
        if (memcmp(runs[0].data, runs[r].data, d.n.output * sizeof(float)) != 0)
            fail_msg("[%s] %s: run %d (%d thread(s)) differs from run 0 (1 thread)", desc,
                     cc_algo_name(algo), r, 1 + r / 2);
    for (int r = 0; r < 4; r++)
        tst_buffer_free(&runs[r]);
    free_data(&d);
    cc_set_num_threads(0);
}

/* Bitwise identical run after run and across thread counts (the schedule
 * is static and every GEMM runs on one thread), on shapes whose runs really
 * take two threads: random ones in small blocks, and NHWC layers of one
 * block at the default budget whose threads each take a block of half the
 * tiles (winograd.c's ONE_BLOCK_MIN_TILES; 30x30: 64 tiles, 28x28: 49). */
static void deterministic_across_threads(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 11);
    cc__set_tile_budget_bytes(40000);
    for (int i = 0; i < 24; i++) {
        cc_conv2d_params p = random_params(&rng, i);
        p.layout = i % 2 ? CC_NHWC : CC_NCHW;
        p.batch = 3;
        grow_to_two_threads(&p, i % 5 == 3);
        check_deterministic(&p, i % 3 ? CC_ALGO_WINOGRAD : CC_ALGO_WINOGRAD_F6X6, &rng);
    }
    cc__set_tile_budget_bytes(0);
    const cc_conv2d_params halves[] = {
        {1, 16, 30, 30, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, CC_NHWC, CC_ACT_RELU},
        {1, 37, 28, 28, 45, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE},
        {2, 19, 20, 22, 33, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 1, CC_NHWC, CC_ACT_RELU6},
    };
    for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++)
        check_deterministic(&halves[i], CC_ALGO_WINOGRAD, &rng);
}

/* act(conv + bias + residual) through the network's entry points, with a
 * workspace the caller owns. */
static void fused_residual(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 13);
    cc__set_tile_budget_bytes(40000);
    for (int i = 0; i < 30; i++) {
        cc_conv2d_params p = random_params(&rng, i);
        p.layout = i % 2 ? CC_NHWC : CC_NCHW;
        conv_data d = new_data(&p, &rng);
        float *residual = malloc(d.n.output * sizeof(float));
        tst_fill(&rng, residual, d.n.output, false);
        char desc[256];
        tst_describe(&p, desc, sizeof desc);
        cc_conv2d_params plain = p;
        plain.activation = CC_ACT_NONE;
        tst_buffer want = run_path(&plain, CC_ALGO_REFERENCE, d.weights, d.bias, d.input, desc);
        for (size_t j = 0; j < d.n.output; j++)
            want.data[j] += residual[j];
        const double contract = activate_sums(&want, d.n.output, p.activation);
        cc_conv2d *op = NULL;
        assert_int_equal(cc__conv2d_create_ex(&p, CC_ALGO_WINOGRAD, d.weights, d.bias, true, &op),
                         CC_OK);
        assert_int_equal(op->isa, tst_isa());
        assert_int_equal(cc_conv2d_workspace_size(op), 0);
        const size_t need = cc__conv2d_workspace_need(op, cc__conv_threads(op));
        assert_true(need > 0);
        tst_buffer got = tst_buffer_new(d.n.output);
        assert_int_equal(cc__conv2d_run_ex(op, d.input, got.data, residual, NULL, 0),
                         CC_ERR_INVALID_ARG);
        float *workspace = malloc(need);
        assert_int_equal(cc__conv2d_run_ex(op, d.input, got.data, residual, workspace, 0), CC_OK);
        assert_true(tst_buffer_guards_intact(&got));
        expect_close(&got, &want, contract, d.n.output, CC_ALGO_WINOGRAD, desc);
        free(workspace);
        cc_conv2d_destroy(op);
        tst_buffer_free(&got);
        tst_buffer_free(&want);
        free(residual);
        free_data(&d);
    }
    cc__set_tile_budget_bytes(0);
}

/* The transformed input and output of one block stay within four times the
 * GEMM paths' per-thread budget, whatever the layer (one tile's at least). */
static void workspace_is_bounded(void **state)
{
    (void)state;
    const cc_conv2d_params p = {.batch = 8, .in_channels = 256, .in_h = 112, .in_w = 112,
                                .out_channels = 256, .kernel_h = 3, .kernel_w = 3,
                                .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    float *weights = calloc(tst_conv_sizes(&p).weights, sizeof(float));
    assert_non_null(weights);
    for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++) {
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(&p, a, weights, NULL, &op), CC_OK);
        const size_t bytes = cc_conv2d_workspace_size(op);
        assert_true(bytes > 0 && bytes <= 4 * cc__tile_budget_bytes());
        cc_conv2d_destroy(op);
    }
    free(weights);
}

static void expect_unsupported(cc_conv2d_params p, const char *what)
{
    float weights[4 * 4 * 5 * 5] = {0};
    for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++) {
        cc_conv2d *op = (cc_conv2d *)weights;
        assert_int_equal(cc_conv2d_create(&p, a, weights, NULL, &op), CC_ERR_UNSUPPORTED);
        assert_null(op);
        if (strstr(cc_last_error(), what) == NULL)
            fail_msg("%s: message '%s' does not name it", what, cc_last_error());
    }
}

static void refuses_other_shapes(void **state)
{
    (void)state;
    const cc_conv2d_params base = {.batch = 1, .in_channels = 4, .in_h = 9, .in_w = 9,
                                   .out_channels = 4, .kernel_h = 3, .kernel_w = 3};
    cc_conv2d_params p = base;
    p.kernel_h = p.kernel_w = 5;
    expect_unsupported(p, "3x3 kernel");
    p = base;
    p.kernel_w = 1;
    expect_unsupported(p, "3x3 kernel");
    p = base;
    p.stride_w = 2;
    expect_unsupported(p, "stride 1");
    p = base;
    p.dilation_h = 2;
    expect_unsupported(p, "dilation 1");
    /* Invalid parameters stay invalid, whatever the path. */
    p = base;
    p.in_channels = 0;
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_WINOGRAD, (float[1]){0}, NULL, &op),
                     CC_ERR_INVALID_ARG);
    assert_string_equal(cc_algo_name(CC_ALGO_WINOGRAD), "winograd");
    assert_string_equal(cc_algo_name(CC_ALGO_WINOGRAD_F6X6), "winograd-f6x6");
    assert_string_equal(cc_algo_name((cc_algo)(CC_ALGO_WINOGRAD_F6X6 + 1)), "unknown");
}

/* Output (n, oc, oy, ox) of p's output, either layout. */
static size_t output_at(const cc_conv2d_params *p, int oh, int ow, int oc, int oy, int ox)
{
    return p->layout == CC_NCHW ? ((size_t)oc * oh + oy) * ow + ox
                                : ((size_t)oy * ow + ox) * p->out_channels + oc;
}

/* NaN and Inf: an output the reference gives as non-finite is non-finite
 * here too; an output whose tile's input patch holds no poisoned pixel, of
 * a channel whose weights and bias are finite, is finite and within the
 * tolerance (the latitude conv.h states: a poisoned pixel may spoil its
 * whole tile, a poisoned weight its whole output channel). */
static void non_finite_values_stay_within_their_tiles(void **state)
{
    (void)state;
    const float poisons[] = {NAN, INFINITY, -INFINITY};
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 19);
    for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++)
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
            for (int where = 0; where < 3; where++) /* input, weight, bias */
                for (size_t k = 0; k < 3; k++) {
                    const cc_conv2d_params p = {.batch = 1, .in_channels = 8, .in_h = 13,
                                                .in_w = 14, .out_channels = 6, .kernel_h = 3,
                                                .kernel_w = 3, .pad_top = 1, .pad_bottom = 1,
                                                .pad_left = 1, .pad_right = 1,
                                                .layout = (cc_layout)layout};
                    conv_data d = new_data(&p, &rng);
                    const int m = a == CC_ALGO_WINOGRAD ? 4 : 6, py = 6, px = 9, poc = 2;
                    if (where == 0)
                        d.input[layout == CC_NCHW ? (3 * 13 + py) * 14 + px
                                                  : (py * 14 + px) * 8 + 3] = poisons[k];
                    else if (where == 1)
                        d.weights[(poc * 8 + 5) * 9 + 4] = poisons[k];
                    else
                        d.bias[poc] = poisons[k];
                    char desc[256];
                    tst_describe(&p, desc, sizeof desc);
                    tst_buffer want = run_path(&p, CC_ALGO_REFERENCE, d.weights, d.bias, d.input, desc);
                    tst_buffer got = run_path(&p, a, d.weights, d.bias, d.input, desc);
                    double largest = 1.0; /* over the finite outputs */
                    for (size_t i = 0; i < d.n.output; i++)
                        largest = isfinite(want.data[i]) ? fmax(largest, fabs(want.data[i])) : largest;
                    const double tolerance = 1e-4 * largest * (a == CC_ALGO_WINOGRAD ? 1.0 : 5.0);
                    for (int oc = 0; oc < 6; oc++)
                        for (int oy = 0; oy < 13; oy++)
                            for (int ox = 0; ox < 14; ox++) {
                                const size_t at = output_at(&p, 13, 14, oc, oy, ox);
                                const float w = want.data[at], g = got.data[at];
                                if (!isfinite(w) && isfinite(g))
                                    fail_msg("[%s] %s: poison %d lost at %zu", desc,
                                             cc_algo_name(a), where, at);
                                /* The tile's input patch: rows y0 - 1 .. y0 + m. */
                                const int y0 = oy / m * m - 1, x0 = ox / m * m - 1;
                                const bool patch_poisoned = where == 0 && py >= y0 &&
                                                            py <= y0 + m + 1 && px >= x0 &&
                                                            px <= x0 + m + 1;
                                if (patch_poisoned || (where > 0 && oc == poc))
                                    continue;
                                if (!(fabs((double)g - w) <= tolerance))
                                    fail_msg("[%s] %s: poison %d spread to %zu: %g vs %g", desc,
                                             cc_algo_name(a), where, at, g, w);
                            }
                    tst_buffer_free(&want);
                    tst_buffer_free(&got);
                    free_data(&d);
                }
}

/* Every allocation of create and run failing in turn: CC_ERR_NOMEM with a
 * message, nothing leaked. */
static void allocation_failures(void **state)
{
    (void)state;
    const cc_conv2d_params p = {.batch = 2, .in_channels = 5, .in_h = 9, .in_w = 7,
                                .out_channels = 6, .kernel_h = 3, .kernel_w = 3,
                                .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 3);
    conv_data d = new_data(&p, &rng);
    float *out = malloc(d.n.output * sizeof(float));
    int failures = 0;
    for (int k = 1;; k++) {
        tst_failing_allocator f;
        tst_failing_allocator_install(&f, k);
        cc_conv2d *op = NULL;
        cc_status status = cc_conv2d_create(&p, CC_ALGO_WINOGRAD, d.weights, d.bias, &op);
        if (status == CC_OK)
            status = cc_conv2d_run(op, d.input, out);
        cc_conv2d_destroy(op);
        cc_set_allocator(NULL);
        assert_int_equal(f.live, 0);
        if (!f.failed) {
            assert_int_equal(status, CC_OK);
            break;
        }
        assert_int_equal(status, CC_ERR_NOMEM);
        assert_true(strlen(cc_last_error()) > 0);
        failures++;
    }
    assert_true(failures >= 3); /* operator, weights, workspace (and bias) */
    free(out);
    free_data(&d);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nchw),
        cmocka_unit_test(nhwc),
        cmocka_unit_test(nchw_one_tile_blocks),
        cmocka_unit_test(nhwc_one_tile_blocks),
        cmocka_unit_test(nchw_small_blocks),
        cmocka_unit_test(nhwc_small_blocks),
        cmocka_unit_test(large_layer),
        cmocka_unit_test(one_channel_left),
        cmocka_unit_test(small_images_take_f2x2),
        cmocka_unit_test(deterministic_across_threads),
        cmocka_unit_test(fused_residual),
        cmocka_unit_test(workspace_is_bounded),
        cmocka_unit_test(refuses_other_shapes),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(non_finite_values_stay_within_their_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Products on the layer kernels' GEMM, which AVX-512 CPUs take (NHWC,
 * and NCHW from 32 tiles), on the AVX2 family as well: so that CPUs
 * without AVX-512 run that path too (on the other families the group has
 * nothing new to run). */
static int run_gemm_products_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nchw),
        cmocka_unit_test(nchw_one_tile_blocks),
        cmocka_unit_test(nchw_small_blocks),
        cmocka_unit_test(nhwc),
        cmocka_unit_test(nhwc_one_tile_blocks),
        cmocka_unit_test(nhwc_small_blocks),
        cmocka_unit_test(large_layer),
        cmocka_unit_test(one_channel_left),
        cmocka_unit_test(deterministic_across_threads),
        cmocka_unit_test(fused_residual),
    };
    if (tst_isa() != CC__ISA_AVX2)
        return 0;
    cc__winograd_set_gemm_on_avx2(true);
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cc__winograd_set_gemm_on_avx2(false);
    return failed;
}

int main(void)
{
    cc__set_nhwc_inside(CC__NHWC_INSIDE_NEVER);
    int failed = tst_run_per_isa("test_winograd", run_group);
    failed |= tst_run_per_isa("test_winograd (GEMM products on AVX2)", run_gemm_products_group);
    for (int table = 0; table < TABLES; table++)
        for (int i = 0; i < SHAPES; i++)
            tst_buffer_free(&references[table][i]);
    return failed;
}
