/* Networks: the zoo's parameter counts, summaries, shape errors, buffer
 * planning and fusion, and whole networks against PyTorch (golden files
 * made by tools/make_golden.py) in both layouts.
 *
 * Whole outputs (ours against PyTorch's, fused against unfused, NHWC
 * against NCHW) agree within NET_TOLERANCE of the expected tensor's own
 * largest magnitude, torch computing in float64 from the same float32
 * weights and input. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_DIR COLCONV_TEST_DATA_DIR "/golden/"
/* max |ours - expected| <= NET_TOLERANCE * max |expected|: 20 times the
 * worst error measured on the goldens (4.7e-7 relative, inception3a),
 * under every ISA cap, at 1 and 2 threads, with OpenBLAS' own kernels and
 * its Haswell ones. Relative to the tensor, not to max(1, ...): LeNet-5's outputs
 * peak at 0.09. */
#define NET_TOLERANCE 1e-5

/* ---- helpers ---- */

static cc_net *zoo(const char *name, cc_layout layout, int batch)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create(name, layout, batch, &net), CC_OK);
    return net;
}

static size_t params_of(const cc_net *net)
{
    cc_net_stats stats;
    assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
    return stats.params;
}

static float *read_floats(const char *file, size_t count)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", GOLDEN_DIR, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    float *data = malloc(count * sizeof(float));
    assert_non_null(data);
    assert_int_equal(fread(data, sizeof(float), count, f), count);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    return data;
}

/* [n][c][hw] <-> [n][hw][c]. */
static void nchw_to_nhwc(const float *in, float *out, int n, int c, int hw)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < hw; p++)
                out[((size_t)i * hw + p) * c + ch] = in[((size_t)i * c + ch) * hw + p];
}

static void nhwc_to_nchw(const float *in, float *out, int n, int c, int hw)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < hw; p++)
                out[((size_t)i * c + ch) * hw + p] = in[((size_t)i * hw + p) * c + ch];
}

/* Runs a built network on an NCHW input and returns its output in NCHW. */
static float *run_nchw(cc_net *net, cc_layout layout, const float *input)
{
    int n, c, h, w;
    assert_int_equal(cc_net_output_shape(net, &n, &c, &h, &w), CC_OK);
    cc_net_layer_info in;
    assert_int_equal(cc_net_get_layer_info(net, cc_net_input(net), &in), CC_OK);
    const size_t in_count = cc_net_input_count(net), out_count = cc_net_output_count(net);
    float *x = malloc(in_count * sizeof(float));
    float *y = malloc(out_count * sizeof(float));
    float *result = malloc(out_count * sizeof(float));
    assert_true(x != NULL && y != NULL && result != NULL);
    if (layout == CC_NHWC)
        nchw_to_nhwc(input, x, in.n, in.c, in.h * in.w);
    else
        memcpy(x, input, in_count * sizeof(float));
    for (size_t i = 0; i < out_count; i++)
        y[i] = NAN;
    assert_int_equal(cc_net_run(net, x, y), CC_OK);
    if (layout == CC_NHWC)
        nhwc_to_nchw(y, result, n, c, h * w);
    else
        memcpy(result, y, out_count * sizeof(float));
    free(x);
    free(y);
    return result;
}

static void expect_close(const float *got, const float *want, size_t count, const char *what)
{
    const double tolerance = tst_relative_tolerance(want, count, NET_TOLERANCE);
    const size_t bad = tst_first_mismatch(got, want, count, tolerance);
    if (bad != count)
        fail_msg("%s: element %zu is %.7g, want %.7g (tolerance %.3g: %g of max |want|)", what,
                 bad, (double)got[bad], (double)want[bad], tolerance, NET_TOLERANCE);
}

/* ---- the zoo ---- */

static void zoo_parameter_counts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t params;
    } expected[] = {
        {"lenet5", 61706},         {"lenet", 431080},        {"alexnet", 60965224},
        {"vgg11", 132863336},      {"vgg16", 138357544},     {"vgg19", 143667240},
        {"inception3a", 163696},   {"resnet50", 25557032},   {"bottleneck", 70400},
    };
    const char *const *names = cc_net_zoo_names();
    size_t listed = 0;
    while (names[listed] != NULL)
        listed++;
    assert_int_equal(listed, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < listed; i++) {
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            cc_net *net = zoo(expected[i].name, (cc_layout)layout, 1);
            if (params_of(net) != expected[i].params)
                fail_msg("%s: %zu params, want %zu", expected[i].name, params_of(net),
                         expected[i].params);
            cc_net_destroy(net);
        }
    }
}

static void zoo_output_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int c, h, w;
    } expected[] = {
        {"lenet5", 10, 1, 1},  {"lenet", 10, 1, 1},          {"alexnet", 1000, 1, 1},
        {"vgg16", 1000, 1, 1}, {"inception3a", 256, 28, 28}, {"resnet50", 1000, 1, 1},
        {"bottleneck", 256, 56, 56},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        cc_net *net = zoo(expected[i].name, CC_NCHW, 3);
        int n, c, h, w;
        assert_int_equal(cc_net_output_shape(net, &n, &c, &h, &w), CC_OK);
        assert_int_equal(n, 3);
        assert_int_equal(c, expected[i].c);
        assert_int_equal(h, expected[i].h);
        assert_int_equal(w, expected[i].w);
        cc_net_destroy(net);
    }
}

static void zoo_rejects_bad_requests(void **state)
{
    (void)state;
    cc_net *net = (cc_net *)&net;
    assert_int_equal(cc_net_zoo_create("lenet6", CC_NCHW, 1, &net), CC_ERR_INVALID_ARG);
    assert_null(net);
    assert_non_null(strstr(cc_last_error(), "lenet6"));
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 0, &net), CC_ERR_INVALID_ARG);
    /* LeNet-5 cannot take 8x8: conv2's 5x5 kernel does not fit its 2x2 input. */
    assert_int_equal(cc_net_zoo_create_sized("lenet5", CC_NCHW, 1, 8, 8, &net),
                     CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "conv2"));
    assert_null(net);
}

/* ---- summaries ---- */

static void summary_total_params(void **state)
{
    (void)state;
    static const struct {
        const char *name, *line;
    } expected[] = {
        {"lenet5", "Total params: 61,706\n"},
        {"lenet", "Total params: 431,080\n"},
        {"alexnet", "Total params: 60,965,224\n"},
        {"vgg19", "Total params: 143,667,240\n"},
        {"inception3a", "Total params: 163,696\n"},
        {"resnet50", "Total params: 25,557,032\n"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        cc_net *net = zoo(expected[i].name, CC_NHWC, 1);
        size_t length = 0;
        assert_int_equal(cc_net_summary(net, NULL, 0, &length), CC_OK);
        char *text = malloc(length + 1);
        assert_non_null(text);
        size_t again = 0;
        assert_int_equal(cc_net_summary(net, text, length + 1, &again), CC_OK);
        assert_int_equal(again, length);
        assert_int_equal(strlen(text), length);
        if (strstr(text, expected[i].line) == NULL)
            fail_msg("%s: no '%s' in\n%s", expected[i].name, expected[i].line, text);
        assert_non_null(strstr(text, "Layer (type)"));
        assert_non_null(strstr(text, "Activation bytes:"));
        free(text);
        cc_net_destroy(net);
    }
}

static void summary_truncates_like_snprintf(void **state)
{
    (void)state;
    cc_net *net = zoo("lenet5", CC_NCHW, 1);
    char small[40];
    memset(small, 'x', sizeof small);
    size_t length = 0;
    assert_int_equal(cc_net_summary(net, small, sizeof small, &length), CC_OK);
    assert_true(length > sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    FILE *sink = tmpfile();
    assert_non_null(sink);
    assert_int_equal(cc_net_print_summary(net, sink), CC_OK);
    assert_int_equal((size_t)ftell(sink), length);
    fclose(sink);
    cc_net_destroy(net);
}

/* The textbook conv: 200 5x5 filters on a 150x100 RGB image. */
static void summary_textbook_conv(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NCHW, 1, 3, 150, 100, &net), CC_OK);
    const cc_net_conv_params p = {.out_channels = 200, .kernel_h = 5, .kernel_w = 5,
                                  .pad_top = 2, .pad_bottom = 2, .pad_left = 2, .pad_right = 2};
    cc_node conv;
    assert_int_equal(cc_net_add_conv(net, "conv", cc_net_input(net), &p, &conv), CC_OK);
    cc_net_layer_info info;
    assert_int_equal(cc_net_get_layer_info(net, conv, &info), CC_OK);
    assert_int_equal(info.params, (5 * 5 * 3 + 1) * 200);
    assert_int_equal(info.output_bytes, 200 * 150 * 100 * 4);
    assert_int_equal(info.input_bytes, 3 * 150 * 100 * 4);
    assert_int_equal(info.flops, 2ull * 200 * 150 * 100 * 5 * 5 * 3);
    cc_net_stats stats;
    assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
    assert_int_equal(stats.activation_bytes, 12000000);
    char text[4096];
    assert_int_equal(cc_net_summary(net, text, sizeof text, NULL), CC_OK);
    assert_non_null(strstr(text, "Total params: 15,200\n"));
    assert_non_null(strstr(text, "(1, 200, 150, 100)"));
    assert_non_null(strstr(text, "12,000,000 without buffer reuse"));
    const cc_node both[2] = {conv, conv};
    cc_node sum;
    assert_int_equal(cc_net_add_add(net, "sum", both, 2, &sum), CC_OK);
    assert_int_equal(cc_net_get_layer_info(net, sum, &info), CC_OK);
    assert_int_equal(info.input_bytes, 2 * 200 * 150 * 100 * 4);
    assert_int_equal(cc_net_get_layer_info(net, cc_net_input(net), &info), CC_OK);
    assert_int_equal(info.input_bytes, 0);
    cc_net_destroy(net);
}

/* ---- shape errors name the layer and add nothing ---- */

static void expect_layer_error(cc_status status, const cc_net *net, int nodes, const char *name)
{
    assert_int_equal(status, CC_ERR_INVALID_ARG);
    if (strstr(cc_last_error(), name) == NULL)
        fail_msg("message '%s' does not name '%s'", cc_last_error(), name);
    assert_int_equal(cc_net_node_count(net), nodes);
}

static void shape_errors_name_the_layer(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NHWC, 2, 3, 9, 9, &net), CC_OK);
    cc_node conv, pool, out;
    const cc_net_conv_params small = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3};
    assert_int_equal(cc_net_add_conv(net, "conv_a", 0, &small, &conv), CC_OK);
    const cc_pool2d_params p = {.kind = CC_POOL_MAX, .kernel_h = 2, .kernel_w = 2};
    assert_int_equal(cc_net_add_pool(net, "pool_a", conv, &p, &pool), CC_OK);
    const int nodes = cc_net_node_count(net);

    const cc_net_conv_params huge = {.out_channels = 4, .kernel_h = 5, .kernel_w = 5};
    expect_layer_error(cc_net_add_conv(net, "too_big", pool, &huge, &out), net, nodes, "too_big");
    const cc_net_conv_params grouped = {.out_channels = 4, .kernel_h = 1, .kernel_w = 1, .groups = 3};
    expect_layer_error(cc_net_add_conv(net, "bad_groups", pool, &grouped, &out), net, nodes,
                       "bad_groups");
    const cc_pool2d_params wide = {.kind = CC_POOL_AVG, .kernel_h = 9, .kernel_w = 9};
    expect_layer_error(cc_net_add_pool(net, "wide_pool", pool, &wide, &out), net, nodes, "wide_pool");
    const cc_node pair[2] = {conv, pool};
    expect_layer_error(cc_net_add_concat(net, "joined", pair, 2, &out), net, nodes, "joined");
    expect_layer_error(cc_net_add_add(net, "summed", pair, 2, &out), net, nodes, "summed");
    expect_layer_error(cc_net_add_fc(net, "dense", pool, 0, &out), net, nodes, "dense");
    expect_layer_error(cc_net_add_batchnorm(net, "norm", pool, 0.0f, &out), net, nodes, "norm");
    const cc_lrn_params lrn = {0, 1e-4f, 0.75f, 1.0f};
    expect_layer_error(cc_net_add_lrn(net, "lrn", pool, &lrn, &out), net, nodes, "lrn");
    /* An automatic name is named too. */
    expect_layer_error(cc_net_add_conv(net, NULL, pool, &huge, &out), net, nodes, "conv2d_3");
    /* Names are unique; nodes must exist. */
    expect_layer_error(cc_net_add_dropout(net, "conv_a", pool, &out), net, nodes, "conv_a");
    assert_int_equal(cc_net_add_dropout(net, "d", 17, &out), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_add_dropout(net, "d", -1, &out), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_node_count(net), nodes);
    cc_net_destroy(net);
}

static void wrong_state_is_invalid(void **state)
{
    (void)state;
    cc_net *net = zoo("lenet5", CC_NCHW, 1);
    float in[1024] = {0}, out[10];
    assert_int_equal(cc_net_run(net, in, out), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_build(net, NULL), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "weights"));
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_ERR_INVALID_ARG);
    cc_node node;
    assert_int_equal(cc_net_add_dropout(net, "late", 1, &node), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_run(net, NULL, out), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_run(net, in, out), CC_OK);
    cc_net_destroy(net);
    cc_net_destroy(NULL);
}

/* ---- planning and fusion ---- */

static void plan_beats_sum_on_big_networks(void **state)
{
    (void)state;
    const char *names[] = {"vgg16", "resnet50", "alexnet", "inception3a"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cc_net *net = zoo(names[i], CC_NCHW, 1);
        cc_net_stats stats;
        assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
        if (!(stats.planned_activation_bytes < stats.activation_bytes))
            fail_msg("%s: planned %zu, sum %zu", names[i], stats.planned_activation_bytes,
                     stats.activation_bytes);
        cc_net_destroy(net);
    }
}

/* ResNet-50 built for real (not run): the plan after the build is the one
 * reported before it, and the convs share one workspace, the largest need. */
static void resnet50_builds(void **state)
{
    (void)state;
    cc_net *net = zoo("resnet50", CC_NHWC, 1);
    cc_net_stats before, after;
    assert_int_equal(cc_net_get_stats(net, &before), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 50), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    assert_int_equal(cc_net_get_stats(net, &after), CC_OK);
    assert_int_equal(after.planned_activation_bytes, before.planned_activation_bytes);
    assert_int_equal(after.activation_bytes, before.activation_bytes);
    assert_true(after.planned_activation_bytes < after.activation_bytes / 4);
    assert_int_equal(before.workspace_bytes, 0);
    assert_int_equal(after.workspace_bytes, after.shared_workspace_bytes);
    assert_true(after.workspace_bytes < after.per_conv_workspace_bytes);
    /* Every batch norm folds, every ReLU fuses (into a conv or an add). */
    int standalone = 0;
    for (cc_node i = 1; i < cc_net_node_count(net); i++) {
        cc_net_layer_info info;
        assert_int_equal(cc_net_get_layer_info(net, i, &info), CC_OK);
        const bool folds = !strcmp(info.type, "BatchNormalization") || !strcmp(info.type, "ReLU");
        standalone += folds && !info.fused;
    }
    assert_int_equal(standalone, 0);
    cc_net_destroy(net);
}

/* A small network with every layer kind, branches, a residual, dropout on
 * the input, in-place candidates and a flattened FC. */
static cc_net *mixed_net(cc_layout layout, int batch)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, batch, 6, 13, 11, &net), CC_OK);
    cc_node x, a, b, c, d, e;
    const cc_activation relu = {CC_ACTIVATION_RELU, 0}, leaky = {CC_ACTIVATION_LEAKY_RELU, 0.1f},
                        elu = {CC_ACTIVATION_ELU, 1.0f}, sigmoid = {CC_ACTIVATION_SIGMOID, 0};
    const cc_net_conv_params c3 = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3, .pad_top = 1,
                                   .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .groups = 2};
    const cc_net_conv_params c1 = {.out_channels = 8, .kernel_h = 1, .kernel_w = 1, .no_bias = 1};
    const cc_pool2d_params pool = {.kind = CC_POOL_AVG, .kernel_h = 3, .kernel_w = 3,
                                   .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_bottom = 1,
                                   .pad_left = 1, .pad_right = 1, .ceil_mode = 1};
    const cc_lrn_params lrn = {3, 1e-2f, 0.75f, 2.0f};
    assert_int_equal(cc_net_add_dropout(net, "in_drop", 0, &x), CC_OK);
    assert_int_equal(cc_net_add_conv(net, "c1", x, &c3, &a), CC_OK);
    assert_int_equal(cc_net_add_batchnorm(net, "bn1", a, 1e-3f, &a), CC_OK);
    assert_int_equal(cc_net_add_activation(net, "r1", a, &relu, &a), CC_OK);
    assert_int_equal(cc_net_add_conv(net, "c2", x, &c1, &b), CC_OK);
    assert_int_equal(cc_net_add_activation(net, "l2", b, &leaky, &b), CC_OK);
    const cc_node pair[2] = {a, b};
    assert_int_equal(cc_net_add_add(net, "sum", pair, 2, &c), CC_OK);
    assert_int_equal(cc_net_add_activation(net, "e3", c, &elu, &c), CC_OK);
    assert_int_equal(cc_net_add_batchnorm(net, "bn_alone", c, 1e-5f, &d), CC_OK);
    assert_int_equal(cc_net_add_lrn(net, "lrn", d, &lrn, &d), CC_OK);
    const cc_node three[3] = {d, c, a};
    assert_int_equal(cc_net_add_add(net, "sum3", three, 3, &e), CC_OK);
    const cc_node cat[2] = {e, b};
    assert_int_equal(cc_net_add_concat(net, "cat", cat, 2, &e), CC_OK);
    assert_int_equal(cc_net_add_pool(net, "pool", e, &pool, &e), CC_OK);
    assert_int_equal(cc_net_add_fc(net, "fc1", e, 12, &e), CC_OK);
    assert_int_equal(cc_net_add_activation(net, "s1", e, &sigmoid, &e), CC_OK);
    assert_int_equal(cc_net_add_dropout(net, "drop", e, &e), CC_OK);
    assert_int_equal(cc_net_add_fc(net, "fc2", e, 5, &e), CC_OK);
    assert_int_equal(cc_net_add_softmax(net, "prob", e, &e), CC_OK);
    return net;
}

/* Random batch norm statistics so that folding is exercised for real. */
static void randomise_batchnorm(cc_net *net, const char *name, int channels, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    float values[64];
    static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int t = 0; t < 4; t++) {
        for (int c = 0; c < channels; c++)
            values[c] = t == 3 || t == 0 ? tst_rng_float(&rng, 0.5f, 1.5f)
                                         : tst_rng_float(&rng, -0.3f, 0.3f);
        char full[64];
        snprintf(full, sizeof full, "%s.%s", name, suffix[t]);
        assert_int_equal(cc_net_set_tensor(net, full, values, (size_t)channels), CC_OK);
    }
}

static cc_net *mixed_built(cc_layout layout, int batch, const cc_net_build_options *o)
{
    cc_net *net = mixed_net(layout, batch);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_XAVIER, 99), CC_OK);
    randomise_batchnorm(net, "bn1", 8, 1);
    randomise_batchnorm(net, "bn_alone", 8, 2);
    assert_int_equal(cc_net_build(net, o), CC_OK);
    return net;
}

static float *random_input(size_t count, uint64_t seed)
{
    float *x = malloc(count * sizeof(float));
    assert_non_null(x);
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, x, count, false);
    return x;
}

static void reuse_changes_nothing(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        const cc_net_build_options plain = {0}, no_reuse = {.no_buffer_reuse = 1},
                                  nothing = {.no_buffer_reuse = 1, .no_fusion = 1};
        cc_net *planned = mixed_built((cc_layout)layout, 3, &plain);
        cc_net *separate = mixed_built((cc_layout)layout, 3, &no_reuse);
        cc_net *unfused = mixed_built((cc_layout)layout, 3, &nothing);
        const size_t in_count = cc_net_input_count(planned), out_count = cc_net_output_count(planned);
        float *x = random_input(in_count, 5);
        float *copy = malloc(in_count * sizeof(float));
        assert_non_null(copy);
        memcpy(copy, x, in_count * sizeof(float));
        float *y = run_nchw(planned, CC_NCHW, x), *z = run_nchw(separate, CC_NCHW, x);
        float *u = run_nchw(unfused, CC_NCHW, x);
        assert_memory_equal(x, copy, in_count * sizeof(float));
        assert_memory_equal(y, z, out_count * sizeof(float));
        expect_close(u, y, out_count, "fused vs unfused");
        cc_net_stats a, b;
        assert_int_equal(cc_net_get_stats(planned, &a), CC_OK);
        assert_int_equal(cc_net_get_stats(separate, &b), CC_OK);
        assert_true(a.planned_activation_bytes < b.planned_activation_bytes);
        assert_int_equal(a.activation_bytes, b.activation_bytes);
        /* Runs repeat exactly. */
        float *again = run_nchw(planned, CC_NCHW, x);
        assert_memory_equal(again, y, out_count * sizeof(float));
        free(again);
        free(x);
        free(copy);
        free(y);
        free(z);
        free(u);
        cc_net_destroy(planned);
        cc_net_destroy(separate);
        cc_net_destroy(unfused);
    }
}

/* The same weights give the same results in NCHW and NHWC (FC weights are
 * permuted for NHWC), at one and two threads. */
static void layouts_agree(void **state)
{
    (void)state;
    const int threads = cc_get_num_threads();
    cc_net *nchw = mixed_built(CC_NCHW, 2, NULL), *nhwc = mixed_built(CC_NHWC, 2, NULL);
    const size_t in_count = cc_net_input_count(nchw), out_count = cc_net_output_count(nchw);
    float *x = random_input(in_count, 8);
    for (int t = 1; t <= 2; t++) {
        cc_set_num_threads(t);
        float *a = run_nchw(nchw, CC_NCHW, x), *b = run_nchw(nhwc, CC_NHWC, x);
        expect_close(b, a, out_count, "NHWC vs NCHW");
        free(a);
        free(b);
    }
    cc_set_num_threads(threads);
    free(x);
    cc_net_destroy(nchw);
    cc_net_destroy(nhwc);
}

/* ---- golden comparisons against PyTorch ---- */

static void golden_compare(cc_net *net, cc_layout layout, const char *name)
{
    char file[256];
    snprintf(file, sizeof file, "%s.input.f32", name);
    float *x = read_floats(file, cc_net_input_count(net));
    snprintf(file, sizeof file, "%s.output.f32", name);
    float *want = read_floats(file, cc_net_output_count(net));
    float *got = run_nchw(net, layout, x);
    expect_close(got, want, cc_net_output_count(net), name);
    free(x);
    free(want);
    free(got);
}

static void golden_lenet5(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        cc_net *net = zoo("lenet5", (cc_layout)layout, 2);
        assert_int_equal(cc_net_load_weights(net, GOLDEN_DIR "lenet5.ccw"), CC_OK);
        assert_int_equal(cc_net_build(net, NULL), CC_OK);
        golden_compare(net, (cc_layout)layout, "lenet5");
        cc_net_destroy(net);
    }
}

/* At batch 1 the FC layers read the network's tensors as they are (NCHW)
 * or a permuted copy (NHWC's first FC): the first golden image alone. */
static void golden_lenet5_batch1(void **state)
{
    (void)state;
    float *x = read_floats("lenet5.input.f32", 2 * 32 * 32);
    float *want = read_floats("lenet5.output.f32", 2 * 10);
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        cc_net *net = zoo("lenet5", (cc_layout)layout, 1);
        assert_int_equal(cc_net_load_weights(net, GOLDEN_DIR "lenet5.ccw"), CC_OK);
        assert_int_equal(cc_net_build(net, NULL), CC_OK);
        float *got = run_nchw(net, (cc_layout)layout, x);
        expect_close(got, want, 10, "lenet5 at batch 1");
        free(got);
        cc_net_destroy(net);
    }
    free(x);
    free(want);
}

static void golden_inception3a(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        cc_net *net = NULL;
        assert_int_equal(cc_net_zoo_create_sized("inception3a", (cc_layout)layout, 1, 9, 9, &net),
                         CC_OK);
        assert_int_equal(cc_net_init_weights(net, CC_INIT_XAVIER, 3), CC_OK);
        assert_int_equal(cc_net_build(net, NULL), CC_OK);
        golden_compare(net, (cc_layout)layout, "inception3a");
        cc_net_destroy(net);
    }
}

static cc_net *two_bottlenecks(cc_layout layout)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 2, 32, 8, 8, &net), CC_OK);
    cc_node x;
    assert_int_equal(cc_net_add_bottleneck(net, "block1", 0, 16, 64, 2, &x), CC_OK);
    assert_int_equal(cc_net_add_bottleneck(net, "block2", x, 16, 64, 1, &x), CC_OK);
    return net;
}

static void golden_bottleneck(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        for (int fusion = 0; fusion <= 1; fusion++) {
            cc_net *net = two_bottlenecks((cc_layout)layout);
            assert_int_equal(cc_net_load_weights(net, GOLDEN_DIR "bottleneck.ccw"), CC_OK);
            const cc_net_build_options o = {.no_fusion = !fusion};
            assert_int_equal(cc_net_build(net, &o), CC_OK);
            golden_compare(net, (cc_layout)layout, "bottleneck");
            cc_net_destroy(net);
        }
    }
}

static void bottleneck_block_errors(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NCHW, 1, 32, 8, 8, &net), CC_OK);
    cc_node x;
    assert_int_equal(cc_net_add_bottleneck(net, "b", 0, 0, 64, 1, &x), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "b.conv1"));
    assert_int_equal(cc_net_node_count(net), 1);
    assert_int_equal(cc_net_add_bottleneck(net, NULL, 0, 16, 64, 1, &x), CC_ERR_INVALID_ARG);
    const cc_net_inception_params p = {8, 8, 8, 4, 4, 4};
    assert_int_equal(cc_net_add_inception(net, "inc", 0, &p, &x), CC_OK);
    int n, c, h, w;
    assert_int_equal(cc_net_output_shape(net, &n, &c, &h, &w), CC_OK);
    assert_int_equal(c, 24);
    assert_int_equal(h, 8);
    cc_net_destroy(net);
}

/* ---- a run allocates nothing ---- */

static void *refuse(void *context, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    ++*(int *)context;
    return NULL;
}

static void release(void *context, void *pointer)
{
    (void)context;
    free(pointer);
}

static void runs_allocate_nothing(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        cc_net *mixed = mixed_built((cc_layout)layout, 2, NULL);
        cc_net *blocks = two_bottlenecks((cc_layout)layout);
        assert_int_equal(cc_net_init_weights(blocks, CC_INIT_HE, 4), CC_OK);
        assert_int_equal(cc_net_build(blocks, NULL), CC_OK);
        float *x = random_input(cc_net_input_count(blocks), 3);
        float *y = malloc(cc_net_output_count(blocks) * sizeof(float));
        float *u = random_input(cc_net_input_count(mixed), 4);
        float *v = malloc(cc_net_output_count(mixed) * sizeof(float));
        assert_true(y != NULL && v != NULL);
        int attempts = 0;
        const cc_allocator none = {&attempts, refuse, release};
        assert_int_equal(cc_set_allocator(&none), CC_OK);
        const cc_status a = cc_net_run(blocks, x, y), b = cc_net_run(mixed, u, v);
        assert_int_equal(cc_set_allocator(NULL), CC_OK);
        assert_int_equal(a, CC_OK);
        assert_int_equal(b, CC_OK);
        assert_int_equal(attempts, 0);
        free(x);
        free(y);
        free(u);
        free(v);
        cc_net_destroy(mixed);
        cc_net_destroy(blocks);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zoo_parameter_counts),
        cmocka_unit_test(zoo_output_shapes),
        cmocka_unit_test(zoo_rejects_bad_requests),
        cmocka_unit_test(summary_total_params),
        cmocka_unit_test(summary_truncates_like_snprintf),
        cmocka_unit_test(summary_textbook_conv),
        cmocka_unit_test(shape_errors_name_the_layer),
        cmocka_unit_test(wrong_state_is_invalid),
        cmocka_unit_test(plan_beats_sum_on_big_networks),
        cmocka_unit_test(resnet50_builds),
        cmocka_unit_test(reuse_changes_nothing),
        cmocka_unit_test(layouts_agree),
        cmocka_unit_test(golden_lenet5),
        cmocka_unit_test(golden_lenet5_batch1),
        cmocka_unit_test(golden_inception3a),
        cmocka_unit_test(golden_bottleneck),
        cmocka_unit_test(bottleneck_block_errors),
        cmocka_unit_test(runs_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
