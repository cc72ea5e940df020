/* Bad input: sizes that overflow int or size_t anywhere are rejected up
 * front with CC_ERR_INVALID_ARG (nothing allocated, nothing run), extreme
 * but valid shapes compute what the reference computes, and every public
 * call given a NULL, a bad value or a call in the wrong state fails with
 * the documented status and a message, leaving its object as it was. The
 * test prints how many bad inputs it tried. */
#include "support.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tried;

/* `call` must return `want` with a message. */
#define EXPECT(want, call)                                                            \
    do {                                                                              \
        const cc_status expect_status = (call);                                       \
        tried++;                                                                      \
        if (expect_status != (want) || strlen(cc_last_error()) == 0)                  \
            fail_msg("line %d: %s gave %s ('%s'), want %s", __LINE__, #call,           \
                     cc_status_str(expect_status), cc_last_error(), cc_status_str(want)); \
    } while (0)

/* An allocator that refuses everything: an overflow probe must be rejected
 * before any allocation is attempted. */
static int refused;

static void *refuse(void *context, size_t alignment, size_t size)
{
    (void)context, (void)alignment, (void)size;
    refused++;
    return NULL;
}

static void release(void *context, void *pointer)
{
    (void)context;
    free(pointer);
}

static cc_conv2d_params base_params(void)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = p.in_channels = p.out_channels = 1;
    p.in_h = p.in_w = 4;
    p.kernel_h = p.kernel_w = 1;
    return p;
}

typedef struct {
    const char *what;
    cc_conv2d_params p;
} probe;

/* Every conv size that overflows: element or byte counts of each tensor in
 * size_t, padded sizes in int, the dilated kernel. */
static void conv_overflow_probes(void **state)
{
    (void)state;
    probe probes[16];
    int n = 0;
    cc_conv2d_params p = base_params();
    p.batch = INT_MAX, p.in_channels = INT_MAX, p.in_h = p.in_w = INT_MAX / 2;
    probes[n++] = (probe){"input elements overflow size_t", p};
    p = base_params();
    p.batch = 1 << 20, p.in_channels = 1 << 20, p.in_h = p.in_w = 1 << 11;
    probes[n++] = (probe){"input bytes overflow size_t (elements fit)", p};
    p = base_params();
    p.in_h = p.in_w = 1, p.out_channels = 64;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1 << 29;
    probes[n++] = (probe){"output overflows size_t from a tiny input (padding)", p};
    p = base_params();
    p.in_channels = INT_MAX, p.out_channels = INT_MAX, p.kernel_h = p.kernel_w = 2;
    p.in_h = p.in_w = 2;
    probes[n++] = (probe){"weights overflow size_t", p};
    p = base_params();
    p.out_channels = INT_MAX, p.in_channels = 8, p.in_h = p.in_w = 1 << 15;
    p.batch = 1 << 14;
    probes[n++] = (probe){"output overflows size_t (batch x channels x pixels)", p};
    p = base_params();
    p.pad_top = INT_MAX - 2;
    probes[n++] = (probe){"in_h + pad_top overflows int", p};
    p = base_params();
    p.pad_bottom = INT_MAX;
    probes[n++] = (probe){"in_h + pad_bottom overflows int", p};
    p = base_params();
    p.pad_left = INT_MAX / 2 + 1, p.pad_right = INT_MAX / 2 + 1;
    probes[n++] = (probe){"in_w + pad_left + pad_right overflows int", p};
    p = base_params();
    p.kernel_h = 3, p.dilation_h = INT_MAX;
    probes[n++] = (probe){"dilation_h * (kernel_h - 1) overflows int", p};
    p = base_params();
    p.kernel_w = INT_MAX, p.dilation_w = INT_MAX, p.pad_left = 1 << 30;
    probes[n++] = (probe){"dilated kernel_w overflows int and size_t", p};
    p = base_params();
    p.in_h = INT_MAX, p.in_w = INT_MAX, p.in_channels = INT_MAX, p.batch = INT_MAX;
    probes[n++] = (probe){"every input field at INT_MAX", p};

    const cc_allocator hook = {NULL, refuse, release};
    const cc_algo algos[] = {CC_ALGO_AUTO,    CC_ALGO_REFERENCE, CC_ALGO_DIRECT,
                             CC_ALGO_IM2COL,  CC_ALGO_GEMM1X1,   CC_ALGO_WINOGRAD,
                             CC_ALGO_WINOGRAD_F6X6};
    const float weight = 1.0f;
    for (int i = 0; i < n; i++)
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
            for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
                probes[i].p.layout = (cc_layout)layout;
                cc_conv2d *op = (cc_conv2d *)&op;
                refused = 0;
                assert_int_equal(cc_set_allocator(&hook), CC_OK);
                const cc_status status = cc_conv2d_create(&probes[i].p, algos[a], &weight, NULL, &op);
                assert_int_equal(cc_set_allocator(NULL), CC_OK);
                tried++;
                if (status != CC_ERR_INVALID_ARG || op != NULL || refused != 0)
                    fail_msg("%s (%s): %s, %d allocations tried ('%s')", probes[i].what,
                             cc_algo_name(algos[a]), cc_status_str(status), refused,
                             cc_last_error());
            }
    print_message("conv overflow probes: %d shapes x layouts x paths rejected up front\n",
                  n * 2 * 5);
}

/* The im2col matrix of the whole layer (K x OH*OW) would overflow size_t,
 * but colconv never forms it: tiles of bounded size are. Such a layer is
 * accepted with a bounded workspace (it cannot be run here: the output
 * alone is 4 EiB), or rejected; never an overflowed allocation. */
static void whole_im2col_overflow_is_never_formed(void **state)
{
    (void)state;
    cc_conv2d_params p = base_params();
    p.in_channels = 32, p.in_h = p.in_w = 1; /* K * OH * OW * 4 bytes = 2^67 */
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1 << 29;
    float weights[32];
    for (int i = 0; i < 32; i++)
        weights[i] = 1.0f;
    const cc_algo algos[] = {CC_ALGO_IM2COL, CC_ALGO_DIRECT, CC_ALGO_AUTO};
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
        for (size_t a = 0; a < 3; a++) {
            p.layout = (cc_layout)layout;
            cc_conv2d *op = NULL;
            const cc_status status = cc_conv2d_create(&p, algos[a], weights, NULL, &op);
            tried++;
            if (status == CC_OK) {
                assert_true(cc_conv2d_workspace_size(op) <=
                            (size_t)cc_get_num_threads() * (8u << 20));
                cc_conv2d_destroy(op);
            } else {
                assert_int_equal(status, CC_ERR_INVALID_ARG);
            }
        }
}

/* Allocations up to 1 GiB, as the default; larger ones refused and counted. */
static void *up_to_a_gib(void *context, size_t alignment, size_t size)
{
    (void)context;
    if (size > ((size_t)1 << 30)) {
        refused++;
        return NULL;
    }
    return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

/* A one-input NHWC layer of few filters with a 2^31-pixel row: the direct
 * rows kind keeps a row of every filter per thread, so such rows must stay
 * on a kind whose workspace does not grow with the image (the fuzzer's
 * create asked 16 GiB here). */
static void wide_rows_keep_a_bounded_workspace(void **state)
{
    (void)state;
    cc_conv2d_params p = base_params();
    p.out_channels = 4, p.in_h = 1, p.in_w = INT_MAX - 1, p.kernel_w = 3, p.layout = CC_NHWC;
    const float weights[12] = {1.0f};
    const cc_allocator hook = {NULL, up_to_a_gib, release};
    const cc_algo algos[] = {CC_ALGO_DIRECT, CC_ALGO_AUTO};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t a = 0; a < 2; a++) {
            cc_set_num_threads(threads);
            refused = 0;
            cc_conv2d *op = NULL;
            assert_int_equal(cc_set_allocator(&hook), CC_OK);
            const cc_status status = cc_conv2d_create(&p, algos[a], weights, NULL, &op);
            assert_int_equal(cc_set_allocator(NULL), CC_OK);
            tried++;
            if (status != CC_OK || refused != 0)
                fail_msg("%s at %d threads: %s, %d allocations over 1 GiB ('%s')",
                         cc_algo_name(algos[a]), threads, cc_status_str(status), refused,
                         cc_last_error());
            assert_true(cc_conv2d_workspace_size(op) <= (size_t)threads * (8u << 20));
            cc_conv2d_destroy(op);
        }
    cc_set_num_threads(0);
}

/* Shapes at the edges that are valid: each path computes the reference. */
static void extreme_valid_shapes(void **state)
{
    (void)state;
    cc_conv2d_params cases[8];
    int n = 0;
    cc_conv2d_params p = base_params();
    p.in_channels = 3, p.out_channels = 5, p.in_h = p.in_w = 7, p.kernel_h = p.kernel_w = 3;
    p.stride_h = p.stride_w = INT_MAX;
    cases[n++] = p; /* one output pixel, a stride that would overflow any oy * stride */
    p.stride_h = p.stride_w = 1, p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 9;
    cases[n++] = p; /* padding wider than the input and the kernel */
    p = base_params();
    p.in_channels = 2, p.out_channels = 3, p.in_h = 1, p.in_w = 33, p.kernel_h = 1, p.kernel_w = 33;
    cases[n++] = p; /* the kernel is the whole input */
    p = base_params();
    p.in_channels = 4, p.out_channels = 4, p.in_h = p.in_w = 9, p.kernel_h = p.kernel_w = 3;
    p.dilation_h = p.dilation_w = 4;
    cases[n++] = p; /* the dilated kernel spans the input exactly */
    p.dilation_h = p.dilation_w = 1 << 20, p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1 << 20;
    cases[n++] = p; /* only the centre tap ever lands inside */
    p = base_params();
    p.in_channels = 1, p.out_channels = 70, p.in_h = 1, p.in_w = 1;
    cases[n++] = p; /* 1x1 image, many maps */
    const cc_algo algos[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    tst_rng rng;
    tst_rng_seed(&rng, 1);
    for (int i = 0; i < n; i++)
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            cases[i].layout = (cc_layout)layout;
            int oh, ow;
            assert_int_equal(cc_conv2d_output_size(&cases[i], &oh, &ow), CC_OK);
            const size_t in_count = (size_t)cases[i].in_channels * cases[i].in_h * cases[i].in_w;
            const size_t out_count = (size_t)cases[i].out_channels * oh * ow;
            const size_t w_count = (size_t)cases[i].out_channels * cases[i].in_channels *
                                   cases[i].kernel_h * cases[i].kernel_w;
            float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
            tst_fill(&rng, input, in_count, true);
            tst_fill(&rng, weights, w_count, true);
            float *want = malloc(out_count * sizeof(float));
            cc_conv2d *ref = NULL;
            assert_int_equal(cc_conv2d_create(&cases[i], CC_ALGO_REFERENCE, weights, NULL, &ref), CC_OK);
            assert_int_equal(cc_conv2d_run(ref, input, want), CC_OK);
            cc_conv2d_destroy(ref);
            for (size_t a = 0; a < 3; a++) {
                char text[256];
                tst_describe(&cases[i], text, sizeof text);
                cc_conv2d *op = NULL;
                assert_int_equal(cc_conv2d_create(&cases[i], algos[a], weights, NULL, &op), CC_OK);
                tst_buffer out = tst_buffer_new(out_count);
                assert_int_equal(cc_conv2d_run(op, input, out.data), CC_OK);
                if (memcmp(out.data, want, out_count * sizeof(float)) != 0)
                    fail_msg("%s (%s) differs from the reference", text, cc_algo_name(algos[a]));
                assert_true(tst_buffer_guards_intact(&out));
                tst_buffer_free(&out);
                cc_conv2d_destroy(op);
                tried++;
            }
            free(want);
            free(input);
            free(weights);
        }
}

/* ---- networks ----------------------------------------------------------- */

static cc_net *small_net(void)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NCHW, 1, 3, 8, 8, &net), CC_OK);
    return net;
}

static void net_overflow_probes(void **state)
{
    (void)state;
    cc_net *net = NULL;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_create(CC_NCHW, INT_MAX, INT_MAX, INT_MAX, INT_MAX, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_create(CC_NHWC, 1 << 20, 1 << 20, 1 << 11, 1 << 11, &net));
    assert_null(net);
    /* A huge but representable input: only the graph is allocated. */
    assert_int_equal(cc_net_create(CC_NCHW, 1, INT_MAX, 1, 1, &net), CC_OK);
    cc_node x;
    const cc_node twice[2] = {0, 0};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, "cat", twice, 2, &x));
    const cc_net_conv_params wide = {.out_channels = INT_MAX, .kernel_h = 1, .kernel_w = 1};
    const cc_net_conv_params padded = {.out_channels = 1 << 30, .kernel_h = 1, .kernel_w = 1,
                                       .pad_top = 1 << 29, .pad_bottom = 1 << 29,
                                       .pad_left = 1 << 29, .pad_right = 1 << 29};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, "padded", 0, &padded, &x));
    /* INT_MAX x INT_MAX weights fit in size_t bytes; two of them do not. */
    const cc_status first = cc_net_add_conv(net, "wide1", 0, &wide, &x);
    if (first == CC_OK) {
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, "wide2", 0, &wide, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_fc(net, "fc", 0, INT_MAX, &x));
    } else {
        assert_int_equal(first, CC_ERR_INVALID_ARG);
    }
    const cc_pool2d_params pool = {.kind = CC_POOL_MAX, .kernel_h = 1, .kernel_w = 1,
                                   .pad_top = INT_MAX, .pad_left = INT_MAX};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, "pool", 0, &pool, &x));
    /* Allocating the weights of what was accepted fails cleanly (an
     * allocator that refuses stands in for the C library's, which returns
     * NULL for ~2^64 bytes but which valgrind reports as a fishy request). */
    const cc_allocator hook = {NULL, refuse, release};
    assert_int_equal(cc_set_allocator(&hook), CC_OK);
    EXPECT(CC_ERR_NOMEM, cc_net_init_weights(net, CC_INIT_HE, 1));
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    cc_net_destroy(net);
    /* Weights whose total overflows size_t across layers. */
    assert_int_equal(cc_net_create(CC_NCHW, 1, 1 << 20, 1 << 10, 1 << 10, &net), CC_OK);
    const cc_net_conv_params big = {.out_channels = 1 << 20, .kernel_h = 1 << 10,
                                    .kernel_w = 1 << 10};
    cc_status status = CC_OK;
    for (int i = 0; i < 8 && status == CC_OK; i++)
        status = cc_net_add_conv(net, NULL, 0, &big, &x);
    tried++;
    assert_int_equal(status, CC_ERR_INVALID_ARG);
    cc_net_destroy(net);
}

/* Every call with a NULL, a bad value, or in the wrong state. */
static void net_bad_inputs(void **state)
{
    (void)state;
    cc_net *net = small_net();
    cc_node x = 0;
    const cc_net_conv_params conv = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3};
    const cc_pool2d_params pool = {.kind = CC_POOL_MAX, .kernel_h = 2, .kernel_w = 2};
    const cc_activation relu = {CC_ACTIVATION_RELU, 0.0f};
    const cc_lrn_params lrn = {3, 1e-4f, 0.75f, 1.0f};
    const cc_net_inception_params inc = {2, 2, 2, 2, 2, 2};
    const int bad_nodes[] = {-1, 1, 7, INT_MAX, INT_MIN};
    /* NULLs */
    EXPECT(CC_ERR_INVALID_ARG, cc_net_create(CC_NCHW, 1, 1, 1, 1, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(NULL, NULL, 0, &conv, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, NULL, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &conv, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, 0, NULL, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_activation(net, NULL, 0, NULL, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_lrn(net, NULL, 0, NULL, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, NULL, NULL, 2, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_add(net, NULL, NULL, 2, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_inception(net, "i", 0, NULL, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_bottleneck(net, NULL, 0, 4, 8, 1, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_softmax(NULL, NULL, 0, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_global_pool(net, NULL, 0, CC_POOL_MAX, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_dropout(net, NULL, 0, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_batchnorm(NULL, NULL, 0, 1e-5f, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_fc(net, NULL, 0, 4, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_init_weights(NULL, CC_INIT_HE, 1));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_load_weights(net, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_load_weights(NULL, "x"));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_save_weights(net, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_build(NULL, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_run(NULL, NULL, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_get_stats(net, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_summary(NULL, NULL, 0, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_output_shape(net, NULL, NULL, NULL, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_get_layer_info(net, 0, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_set_tensor(net, NULL, NULL, 0));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_get_tensor(NULL, "x", NULL, 0));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create(NULL, CC_NCHW, 1, &net));
    assert_int_equal(cc_net_node_count(net), 1); /* net was left alone */
    /* bad nodes, for every kind of layer */
    for (size_t i = 0; i < sizeof bad_nodes / sizeof bad_nodes[0]; i++) {
        const int b = bad_nodes[i];
        const cc_node pair[2] = {0, b};
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, b, &conv, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, b, &pool, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_global_pool(net, NULL, b, CC_POOL_AVG, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_activation(net, NULL, b, &relu, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_fc(net, NULL, b, 3, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_softmax(net, NULL, b, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_lrn(net, NULL, b, &lrn, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, NULL, pair, 2, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_add(net, NULL, pair, 2, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_batchnorm(net, NULL, b, 1e-5f, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_dropout(net, NULL, b, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_bottleneck(net, "blk", b, 2, 4, 1, &x));
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_inception(net, "inc", b, &inc, &x));
        cc_net_layer_info info;
        EXPECT(CC_ERR_INVALID_ARG, cc_net_get_layer_info(net, b, &info));
        const char *name;
        int rank, shape[4];
        EXPECT(CC_ERR_INVALID_ARG, cc_net_tensor_info(net, b, &name, &rank, shape));
    }
    assert_int_equal(cc_net_node_count(net), 1);
    /* bad values */
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, long_name, 0, &conv, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, "", 0, &conv, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, "input", 0, &conv, &x));
    cc_net_conv_params bad_conv = conv;
    bad_conv.algo = (cc_algo)77;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &bad_conv, &x));
    bad_conv = conv, bad_conv.kernel_h = 9;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &bad_conv, &x));
    bad_conv = conv, bad_conv.groups = 2;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &bad_conv, &x));
    bad_conv = conv, bad_conv.out_channels = -4;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &bad_conv, &x));
    bad_conv = conv, bad_conv.stride_w = -1;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_conv(net, NULL, 0, &bad_conv, &x));
    cc_pool2d_params bad_pool = pool;
    bad_pool.kind = (cc_pool_kind)9;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, 0, &bad_pool, &x));
    bad_pool = pool, bad_pool.kernel_w = 0;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, 0, &bad_pool, &x));
    bad_pool = pool, bad_pool.kernel_h = 20;
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, 0, &bad_pool, &x));
    bad_pool = pool, bad_pool.pad_top = 2; /* pad above half the kernel */
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_pool(net, NULL, 0, &bad_pool, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_global_pool(net, NULL, 0, (cc_pool_kind)-1, &x));
    const cc_activation bad_acts[] = {{(cc_activation_kind)42, 0.0f},
                                      {CC_ACTIVATION_ELU, -INFINITY}};
    for (size_t i = 0; i < 2; i++)
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_activation(net, NULL, 0, &bad_acts[i], &x));
    const cc_lrn_params bad_lrns[] = {{0, 1e-4f, 0.75f, 1.0f}, {3, -1.0f, 0.75f, 1.0f},
                                      {3, 1e-4f, 0.75f, 0.0f}, {3, 1e-4f, NAN, 1.0f}};
    for (size_t i = 0; i < 4; i++)
        EXPECT(CC_ERR_INVALID_ARG, cc_net_add_lrn(net, NULL, 0, &bad_lrns[i], &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_fc(net, NULL, 0, 0, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_fc(net, NULL, 0, -5, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_batchnorm(net, NULL, 0, 0.0f, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_batchnorm(net, NULL, 0, NAN, &x));
    const cc_node one[1] = {0};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_add(net, NULL, one, 1, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, NULL, one, 0, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, NULL, one, -3, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_bottleneck(net, "b", 0, 0, 4, 1, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_bottleneck(net, "b", 0, 4, 4, -1, &x));
    const cc_net_inception_params bad_inc = {0, 2, 2, 2, 2, 2};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_inception(net, "inc", 0, &bad_inc, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_init_weights(net, (cc_init)5, 1));
    assert_int_equal(cc_net_node_count(net), 1);
    /* mismatched shapes */
    const cc_pool2d_params halve = {.kind = CC_POOL_MAX, .kernel_h = 2, .kernel_w = 2};
    cc_node small;
    assert_int_equal(cc_net_add_pool(net, "half", 0, &halve, &small), CC_OK);
    const cc_node mismatched[2] = {0, small};
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_add(net, NULL, mismatched, 2, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_concat(net, NULL, mismatched, 2, &x));
    /* wrong state */
    float io[3 * 8 * 8];
    memset(io, 0, sizeof io);
    EXPECT(CC_ERR_INVALID_ARG, cc_net_run(net, io, io));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_build(net, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_save_weights(net, "/tmp/never_written.ccw"));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_get_tensor(net, "half.weight", io, 1));
    cc_node conv_node;
    assert_int_equal(cc_net_add_conv(net, "conv", 0, &conv, &conv_node), CC_OK);
    EXPECT(CC_ERR_INVALID_ARG, cc_net_set_tensor(net, "conv.weight", io, 3));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_set_tensor(net, "nope.weight", io, 1));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_set_tensor(net, "conv.weight", NULL, 4 * 3 * 9));
    EXPECT(CC_ERR_IO, cc_net_load_weights(net, "/nonexistent/dir/w.ccw"));
    EXPECT(CC_ERR_IO, cc_net_load_weights(net, "/"));
    assert_int_equal(cc_net_init_weights(net, CC_INIT_XAVIER, 1), CC_OK);
    EXPECT(CC_ERR_IO, cc_net_save_weights(net, "/nonexistent/dir/w.ccw"));
    EXPECT(CC_ERR_FORMAT, cc_net_load_weights(net, "/dev/null"));
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    EXPECT(CC_ERR_INVALID_ARG, cc_net_build(net, NULL));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_add_dropout(net, NULL, conv_node, &x));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_run(net, NULL, io));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_run(net, io, NULL));
    assert_int_equal(cc_net_node_count(net), 3);
    cc_net_destroy(net);
    /* the zoo */
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create("lenet6", CC_NCHW, 1, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create("lenet5", CC_NCHW, 0, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create("lenet5", (cc_layout)3, 1, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create_sized("lenet5", CC_NCHW, 1, 4, 4, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create_sized("vgg16", CC_NCHW, 1, 16, 16, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create_sized("resnet50", CC_NCHW, 1, -1, 224, &net));
    EXPECT(CC_ERR_INVALID_ARG, cc_net_zoo_create_sized("alexnet", CC_NCHW, INT_MAX, INT_MAX, INT_MAX, &net));
    assert_null(net);
    /* the allocator and the conv operator's remaining entry points */
    const cc_allocator half = {NULL, refuse, NULL};
    EXPECT(CC_ERR_INVALID_ARG, cc_set_allocator(&half));
    int oh, ow;
    EXPECT(CC_ERR_INVALID_ARG, cc_conv2d_output_size(NULL, &oh, &ow));
    EXPECT(CC_ERR_INVALID_ARG, cc_conv2d_pad_same(NULL));
    cc_conv2d_params p = base_params();
    p.in_h = INT_MAX, p.kernel_h = 3, p.stride_h = 1;
    EXPECT(CC_ERR_INVALID_ARG, cc_conv2d_pad_same(&p));
    print_message("bad inputs tried: %d, each rejected with its status and a message\n", tried);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_overflow_probes),
        cmocka_unit_test(whole_im2col_overflow_is_never_formed),
        cmocka_unit_test(wide_rows_keep_a_bounded_workspace),
        cmocka_unit_test(extreme_valid_shapes),
        cmocka_unit_test(net_overflow_probes),
        cmocka_unit_test(net_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
