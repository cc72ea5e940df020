/* Networks: the residual add fused into the conv that computes one of its
 * inputs. Which adds fuse (and into which conv), fused against unfused
 * results on every conv path and both layouts, ResNet's bottleneck blocks
 * (identity and projection) and ResNet-50, and the buffer plan's promise
 * that a fused conv's output aliases neither its input nor its residual.
 *
 * Tolerance: max |fused - unfused| <= 1e-5 * max |unfused|, relative to the
 * tensor's own largest magnitude: 25 times the worst difference measured
 * (4.0e-7, im2col 3x3 with tanh, whose outputs peak below 1). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/net_internal.h"

#define SEED 4242u

/* ---- helpers ---- */

static float *random_floats(size_t count, uint64_t seed)
{
    float *x = malloc(count * sizeof(float));
    assert_non_null(x);
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, x, count, false);
    return x;
}

/* Random statistics for every batch norm (white box: tensor roles), so
 * that folding them into the convs is exercised for real. */
static void randomise_batchnorms(cc_net *net, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    for (int t = 0; t < net->tensor_count; t++) {
        const cc__tensor *tensor = &net->tensors[t];
        if (tensor->role == CC__TENSOR_WEIGHT || tensor->role == CC__TENSOR_BIAS)
            continue;
        const bool positive =
            tensor->role == CC__TENSOR_BN_SCALE || tensor->role == CC__TENSOR_BN_VAR;
        float *values = malloc(tensor->count * sizeof(float));
        assert_non_null(values);
        for (size_t c = 0; c < tensor->count; c++)
            values[c] = positive ? tst_rng_float(&rng, 0.5f, 1.5f) : tst_rng_float(&rng, -0.3f, 0.3f);
        assert_int_equal(cc_net_set_tensor(net, tensor->name, values, tensor->count), CC_OK);
        free(values);
    }
}

/* Weights (Xavier, seed 7, random batch norms) and a build with or
 * without fusion. */
static void give_weights_and_build(cc_net *net, bool fusion)
{
    assert_int_equal(cc_net_init_weights(net, CC_INIT_XAVIER, 7), CC_OK);
    randomise_batchnorms(net, 11);
    const cc_net_build_options o = {.no_fusion = !fusion};
    assert_int_equal(cc_net_build(net, &o), CC_OK);
}

static float *run(cc_net *net, const float *input)
{
    const size_t count = cc_net_output_count(net);
    float *y = malloc(count * sizeof(float));
    assert_non_null(y);
    for (size_t i = 0; i < count; i++)
        y[i] = NAN;
    assert_int_equal(cc_net_run(net, input, y), CC_OK);
    return y;
}

/* Builds make(layout) twice, fused and unfused, runs both on one random
 * input and compares. Returns the fused network (built) for more checks. */
static cc_net *expect_fusion_changes_nothing(cc_net *(*make)(cc_layout, const void *),
                                             const void *arg, cc_layout layout,
                                             const char *what)
{
    cc_net *fused = make(layout, arg), *unfused = make(layout, arg);
    give_weights_and_build(fused, true);
    give_weights_and_build(unfused, false);
    float *x = random_floats(cc_net_input_count(fused), SEED);
    float *a = run(fused, x), *b = run(unfused, x);
    const size_t count = cc_net_output_count(fused);
    const double tolerance = tst_relative_tolerance(b, count, 1e-5);
    const size_t bad = tst_first_mismatch(a, b, count, tolerance);
    if (bad != count)
        fail_msg("%s (%s): element %zu fused %.7g, unfused %.7g (tolerance %.3g, seed %u)", what,
                 layout == CC_NCHW ? "NCHW" : "NHWC", bad, (double)a[bad], (double)b[bad],
                 tolerance, SEED);
    free(x);
    free(a);
    free(b);
    cc_net_destroy(unfused);
    return fused;
}

static cc_node node_named(const cc_net *net, const char *name)
{
    for (cc_node i = 0; i < cc_net_node_count(net); i++) {
        cc_net_layer_info info;
        assert_int_equal(cc_net_get_layer_info(net, i, &info), CC_OK);
        if (strcmp(info.name, name) == 0)
            return i;
    }
    fail_msg("no layer '%s'", name);
    return -1;
}

static bool is_fused(const cc_net *net, const char *name)
{
    cc_net_layer_info info;
    assert_int_equal(cc_net_get_layer_info(net, node_named(net, name), &info), CC_OK);
    return info.fused != 0;
}

/* The node whose sweep computes `name` (white box: the build's plan). */
static const char *computed_by(const cc_net *net, const char *name)
{
    return net->nodes[net->plan.exec[node_named(net, name)]].name;
}

/* ---- one residual layer on every conv path ---- */

/* x -> conv (algo, bias) -> bn -> add(bn, x) -> activation. */
typedef struct {
    const char *name;
    cc_algo algo;
    int kernel;
    cc_activation_kind act; /* -1: no activation after the add */
    bool add_fuses;
    bool act_fuses;
    float alpha; /* the activation's; 0 means 0.1 */
} residual_case;

static cc_net *residual_net(cc_layout layout, const void *arg)
{
    const residual_case *rc = arg;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 2, 6, 9, 7, &net), CC_OK);
    const int pad = rc->kernel / 2;
    const cc_net_conv_params p = {.out_channels = 6, .kernel_h = rc->kernel,
                                  .kernel_w = rc->kernel, .pad_top = pad, .pad_bottom = pad,
                                  .pad_left = pad, .pad_right = pad, .algo = rc->algo};
    cc_node x, sum;
    assert_int_equal(cc_net_add_conv(net, "conv", 0, &p, &x), CC_OK);
    assert_int_equal(cc_net_add_batchnorm(net, "bn", x, 1e-5f, &x), CC_OK);
    const cc_node pair[2] = {x, 0};
    assert_int_equal(cc_net_add_add(net, "add", pair, 2, &sum), CC_OK);
    if ((int)rc->act >= 0) {
        const cc_activation act = {rc->act, rc->alpha != 0.0f ? rc->alpha : 0.1f};
        assert_int_equal(cc_net_add_activation(net, "act", sum, &act, &sum), CC_OK);
    }
    return net;
}

static void residual_on_every_path(void **state)
{
    (void)state;
    static const residual_case cases[] = {
        {"reference 3x3, relu", CC_ALGO_REFERENCE, 3, CC_ACTIVATION_RELU, true, true, 0.0f},
        {"direct 3x3, relu", CC_ALGO_DIRECT, 3, CC_ACTIVATION_RELU, true, true, 0.0f},
        {"direct 3x3, sigmoid", CC_ALGO_DIRECT, 3, CC_ACTIVATION_SIGMOID, true, true, 0.0f},
        {"im2col 3x3, tanh", CC_ALGO_IM2COL, 3, CC_ACTIVATION_TANH, true, true, 0.0f},
        {"im2col 5x5, none", CC_ALGO_IM2COL, 5, (cc_activation_kind)-1, true, false, 0.0f},
        {"gemm1x1, relu", CC_ALGO_GEMM1X1, 1, CC_ACTIVATION_RELU, true, true, 0.0f},
        {"auto 3x3, relu", CC_ALGO_AUTO, 3, CC_ACTIVATION_RELU, true, true, 0.0f},
        /* A conv cannot apply leaky ReLU or ELU: the add stays on its own
         * and takes the activation into its sweep. */
        {"direct 3x3, leaky", CC_ALGO_DIRECT, 3, CC_ACTIVATION_LEAKY_RELU, false, true, 0.0f},
        {"gemm1x1, elu", CC_ALGO_GEMM1X1, 1, CC_ACTIVATION_ELU, false, true, 0.0f},
        /* ReLU6 is a cc_act; other caps are not. */
        {"direct 3x3, relu6", CC_ALGO_DIRECT, 3, CC_ACTIVATION_RELU_CAP, true, true, 6.0f},
        {"winograd 3x3, relu6", CC_ALGO_WINOGRAD, 3, CC_ACTIVATION_RELU_CAP, true, true, 6.0f},
        {"im2col 3x3, relu6", CC_ALGO_IM2COL, 3, CC_ACTIVATION_RELU_CAP, true, true, 6.0f},
        {"gemm1x1, relu cap 4", CC_ALGO_GEMM1X1, 1, CC_ACTIVATION_RELU_CAP, false, true, 4.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const residual_case *rc = &cases[i];
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            cc_net *net = expect_fusion_changes_nothing(residual_net, rc, (cc_layout)layout,
                                                        rc->name);
            if (is_fused(net, "add") != rc->add_fuses)
                fail_msg("%s: add fused %d, expected %d", rc->name, !rc->add_fuses,
                         rc->add_fuses);
            assert_true(is_fused(net, "bn"));
            if ((int)rc->act >= 0 && is_fused(net, "act") != rc->act_fuses)
                fail_msg("%s: activation fused %d, expected %d", rc->name, !rc->act_fuses,
                         rc->act_fuses);
            if (rc->add_fuses)
                assert_string_equal(computed_by(net, "add"), "conv");
            cc_net_destroy(net);
        }
    }
}

/* ---- a batch norm on its own takes the activation after it ---- */

/* x -> bn -> activation -> conv: the batch norm reads the network's input,
 * so it cannot fold into a conv; the activation joins its sweep. */
static cc_net *bn_act_net(cc_layout layout, const void *arg)
{
    const cc_activation *act = arg;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 2, 5, 7, 6, &net), CC_OK);
    const cc_net_conv_params p = {.out_channels = 3, .kernel_h = 3, .kernel_w = 3};
    cc_node x;
    assert_int_equal(cc_net_add_batchnorm(net, "bn", 0, 1e-5f, &x), CC_OK);
    assert_int_equal(cc_net_add_activation(net, "act", x, act, &x), CC_OK);
    assert_int_equal(cc_net_add_conv(net, "conv", x, &p, &x), CC_OK);
    return net;
}

static void batchnorm_takes_activation(void **state)
{
    (void)state;
    const cc_activation acts[] = {{CC_ACTIVATION_RELU, 0.0f},
                                  {CC_ACTIVATION_RELU_CAP, 6.0f},
                                  {CC_ACTIVATION_LEAKY_RELU, 0.1f}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            cc_net *net = expect_fusion_changes_nothing(bn_act_net, &acts[i],
                                                        (cc_layout)layout, "bn + act");
            assert_false(is_fused(net, "bn"));
            assert_true(is_fused(net, "act"));
            assert_string_equal(computed_by(net, "act"), "bn");
            cc_net_destroy(net);
        }
}

/* ---- which adds fuse ---- */

/* Two convs of the input, each of which may be the add's: `first` then
 * `second` in execution order; a leaky ReLU after a conv keeps that conv
 * from taking the add (its output would not be the conv's own). */
typedef struct {
    bool first_leaky, second_leaky;
    bool batchnorm_after; /* a batch norm after the add: never folded into a conv with a residual */
    const char *computes_add; /* NULL: the add stays on its own */
} order_case;

static cc_net *two_branch_net(cc_layout layout, const void *arg)
{
    const order_case *oc = arg;
    const cc_activation leaky = {CC_ACTIVATION_LEAKY_RELU, 0.2f};
    const cc_net_conv_params p = {.out_channels = 5, .kernel_h = 3, .kernel_w = 3,
                                  .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 1, 4, 8, 6, &net), CC_OK);
    cc_node a, b, sum;
    assert_int_equal(cc_net_add_conv(net, "first", 0, &p, &a), CC_OK);
    if (oc->first_leaky)
        assert_int_equal(cc_net_add_activation(net, "first.leaky", a, &leaky, &a), CC_OK);
    assert_int_equal(cc_net_add_conv(net, "second", 0, &p, &b), CC_OK);
    if (oc->second_leaky)
        assert_int_equal(cc_net_add_activation(net, "second.leaky", b, &leaky, &b), CC_OK);
    const cc_node pair[2] = {a, b};
    assert_int_equal(cc_net_add_add(net, "add", pair, 2, &sum), CC_OK);
    if (oc->batchnorm_after)
        assert_int_equal(cc_net_add_batchnorm(net, "bn", sum, 1e-5f, &sum), CC_OK);
    return net;
}

static void fusion_follows_execution_order(void **state)
{
    (void)state;
    static const order_case cases[] = {
        /* Both qualify: the later conv, whose residual is ready. */
        {false, false, false, "second"},
        /* Only the first conv's output is its own; its residual (the
         * second branch) is computed after it: no fusion. */
        {false, true, false, NULL},
        /* Only the second conv qualifies, and the first branch is ready. */
        {true, false, false, "second"},
        {true, true, false, NULL},
        /* The batch norm stays on its own after an add fused into a conv. */
        {false, false, true, "second"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const order_case *oc = &cases[i];
        char what[64];
        snprintf(what, sizeof what, "order case %zu", i);
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            cc_net *net =
                expect_fusion_changes_nothing(two_branch_net, oc, (cc_layout)layout, what);
            if (oc->computes_add == NULL) {
                assert_false(is_fused(net, "add"));
            } else {
                assert_true(is_fused(net, "add"));
                assert_string_equal(computed_by(net, "add"), oc->computes_add);
            }
            if (oc->batchnorm_after)
                assert_false(is_fused(net, "bn"));
            cc_net_destroy(net);
        }
    }
}

/* ---- ResNet ---- */

typedef struct {
    int channels, mid, out, stride;
    const char *computes_add;
} block_case;

static cc_net *block_net(cc_layout layout, const void *arg)
{
    const block_case *bc = arg;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 2, bc->channels, 11, 9, &net), CC_OK);
    cc_node x;
    assert_int_equal(cc_net_add_bottleneck(net, "b", 0, bc->mid, bc->out, bc->stride, &x),
                     CC_OK);
    return net;
}

/* Identity and projection shortcuts: in torchvision's order the projection
 * (downsample.0) comes after conv3, so it computes the add, with conv3's
 * output as its residual; the block's ReLU joins it. */
static void bottleneck_blocks_fuse(void **state)
{
    (void)state;
    static const block_case cases[] = {
        {24, 8, 24, 1, "b.conv3"},
        {16, 8, 32, 1, "b.downsample.0"},
        {16, 8, 32, 2, "b.downsample.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            char what[64];
            snprintf(what, sizeof what, "bottleneck %d->%d stride %d", cases[i].channels,
                     cases[i].out, cases[i].stride);
            cc_net *net = expect_fusion_changes_nothing(block_net, &cases[i], (cc_layout)layout,
                                                        what);
            assert_true(is_fused(net, "b.add"));
            assert_true(is_fused(net, "b.relu"));
            assert_string_equal(computed_by(net, "b.add"), cases[i].computes_add);
            assert_string_equal(computed_by(net, "b.relu"), cases[i].computes_add);
            char text[8192];
            assert_int_equal(cc_net_summary(net, text, sizeof text, NULL), CC_OK);
            const char *row = strstr(text, cases[i].computes_add);
            assert_non_null(row);
            const char *end = strchr(row, '\n');
            const char *mark = strstr(row, "+add");
            assert_true(mark != NULL && mark < end);
            cc_net_destroy(net);
        }
    }
}

/* White box, on the plan alone: a conv that computes an add writes a
 * buffer that is neither its input's nor its residual's. */
static void expect_fused_outputs_alias_nothing(const cc_net *net, const cc__plan *plan,
                                               const char *what)
{
    for (int i = 0; i < net->node_count; i++) {
        const int residual = plan->residual[i];
        if (residual < 0)
            continue;
        const int out = plan->buffer[plan->storage[i]];
        const int in_root = plan->storage[net->nodes[i].inputs[0]];
        const int residual_root = plan->storage[residual];
        assert_true(out >= 0);
        if (in_root != 0 && plan->buffer[in_root] == out)
            fail_msg("%s: %s writes its input's buffer", what, net->nodes[i].name);
        if (residual_root != 0 && plan->buffer[residual_root] == out)
            fail_msg("%s: %s writes its residual's buffer", what, net->nodes[i].name);
    }
}

/* Every one of ResNet-50's 16 adds is computed by a conv (with its ReLU),
 * the summary marks 16 convs "+add", and no fused conv's output aliases. */
static void resnet50_adds_all_fuse(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create("resnet50", CC_NHWC, 1, &net), CC_OK);
    for (int reuse = 0; reuse <= 1; reuse++) {
        cc__plan plan;
        const cc_net_build_options o = {.no_buffer_reuse = !reuse};
        assert_int_equal(cc__plan_make(net, &o, &plan), CC_OK);
        expect_fused_outputs_alias_nothing(net, &plan, reuse ? "reuse" : "no reuse");
        cc__plan_free(&plan);
    }
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 50), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    int adds = 0, fused = 0;
    for (cc_node i = 1; i < cc_net_node_count(net); i++) {
        cc_net_layer_info info;
        assert_int_equal(cc_net_get_layer_info(net, i, &info), CC_OK);
        if (strcmp(info.type, "Add") != 0)
            continue;
        adds++;
        fused += info.fused != 0 && net->nodes[net->plan.exec[i]].kind == CC__NODE_CONV;
    }
    assert_int_equal(adds, 16);
    assert_int_equal(fused, 16);
    size_t length = 0;
    assert_int_equal(cc_net_summary(net, NULL, 0, &length), CC_OK);
    char *text = malloc(length + 1);
    assert_non_null(text);
    assert_int_equal(cc_net_summary(net, text, length + 1, NULL), CC_OK);
    int marks = 0;
    for (const char *at = text; (at = strstr(at, "  +add\n")) != NULL; at++)
        marks++;
    assert_int_equal(marks, 16);
    free(text);
    cc_net_destroy(net);
}

/* no_fusion: every add runs on its own. */
static void no_fusion_keeps_adds(void **state)
{
    (void)state;
    const block_case bc = {16, 8, 32, 2, NULL};
    cc_net *net = block_net(CC_NCHW, &bc);
    give_weights_and_build(net, false);
    assert_false(is_fused(net, "b.add"));
    for (int i = 0; i < net->node_count; i++)
        assert_int_equal(net->plan.residual[i], -1);
    cc_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(residual_on_every_path),
        cmocka_unit_test(batchnorm_takes_activation),
        cmocka_unit_test(fusion_follows_execution_order),
        cmocka_unit_test(bottleneck_blocks_fuse),
        cmocka_unit_test(resnet50_adds_all_fuse),
        cmocka_unit_test(no_fusion_keeps_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
