/* The layers ONNX import added to the net API (issue 14): the capped ReLU
 * (ReLU6), hard sigmoid and hard swish activations.
 *
 * Each runs on its own over an odd-sized [2][3][5][7] tensor of seeded
 * values in [-8, 8) plus hand-placed edge values (the caps, 0, +-3, NaN,
 * +-inf) in both layouts, compared with the float64 formulas below; after an
 * FC, where the build fuses any activation into the FC's sweep, fused and
 * unfused runs must agree with that same reference. Parameters out of range
 * are refused with the layer's name in the message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SEED 1414u

/* t clamped to [lo, hi]; NaN passes through. */
static double clamp(double t, double lo, double hi)
{
    return t < lo ? lo : t > hi ? hi : t;
}

static double reference(const cc_activation *act, double x)
{
    switch (act->kind) {
    case CC_ACTIVATION_RELU_CAP:
        return clamp(x, 0, act->alpha);
    case CC_ACTIVATION_HARD_SIGMOID:
        return clamp((double)act->alpha * x + 0.5, 0, 1);
    case CC_ACTIVATION_HARD_SWISH:
        return x * clamp(x / 6 + 0.5, 0, 1);
    default:
        fail_msg("no reference for kind %d", (int)act->kind);
    }
    return NAN;
}

static const cc_activation cases[] = {
    {CC_ACTIVATION_RELU_CAP, 6.0f},
    {CC_ACTIVATION_RELU_CAP, 0.75f},
    {CC_ACTIVATION_HARD_SIGMOID, 1.0f / 6.0f},
    {CC_ACTIVATION_HARD_SIGMOID, 0.2f},
    {CC_ACTIVATION_HARD_SIGMOID, -0.3f},
    {CC_ACTIVATION_HARD_SWISH, 0.0f},
};

/* Seeded values with the edges written over the first few. */
static void fill_input(float *x, size_t count)
{
    static const float edges[] = {0.0f,  -0.0f, 6.0f,  -6.0f, 3.0f,      -3.0f,     0.75f,
                                  2.5f,  -2.5f, 1e-8f, NAN,   INFINITY, -INFINITY, 7.0f};
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    for (size_t i = 0; i < count; i++)
        x[i] = i < ARRAY_LEN(edges) ? edges[i] : tst_rng_float(&rng, -8.0f, 8.0f);
}

/* |got - want| within 2 ulp-ish of float rounding; NaN only against NaN. */
static void expect_close(const cc_activation *act, float x, float got, double want,
                         const char *where, size_t i)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s: kind %d alpha %g: x %g at %zu gave %g, want NaN", where,
                     (int)act->kind, (double)act->alpha, (double)x, i, (double)got);
        return;
    }
    const double tolerance = isinf(want) ? 0 : 1e-6 * fmax(1, fabs(want));
    if (!(fabs((double)got - want) <= tolerance) && !((double)got == want))
        fail_msg("%s: kind %d alpha %g: x %g at %zu gave %.9g, want %.9g", where,
                 (int)act->kind, (double)act->alpha, (double)x, i, (double)got, want);
}

static void test_standalone(void **state)
{
    (void)state;
    const int n = 2, c = 3, h = 5, w = 7;
    const size_t count = (size_t)n * c * h * w;
    for (size_t k = 0; k < ARRAY_LEN(cases); k++)
        for (int layout = 0; layout < 2; layout++) {
            cc_net *net = NULL;
            assert_int_equal(cc_net_create((cc_layout)layout, n, c, h, w, &net), CC_OK);
            cc_node out;
            assert_int_equal(cc_net_add_activation(net, "act", 0, &cases[k], &out), CC_OK);
            assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, SEED), CC_OK);
            assert_int_equal(cc_net_build(net, NULL), CC_OK);
            tst_buffer in = tst_buffer_new(count), got = tst_buffer_new(count);
            fill_input(in.data, count);
            tst_buffer_poison(&got);
            assert_int_equal(cc_net_run(net, in.data, got.data), CC_OK);
            assert_true(tst_buffer_guards_intact(&got));
            for (size_t i = 0; i < count; i++)
                expect_close(&cases[k], in.data[i], got.data[i],
                             reference(&cases[k], (double)in.data[i]), "standalone", i);
            tst_buffer_free(&in);
            tst_buffer_free(&got);
            cc_net_destroy(net);
        }
}

/* FC (weights of small integers, so its sums are exact) then the activation:
 * fused into the FC's sweep by default, on its own with no_fusion. */
static void test_after_fc(void **state)
{
    (void)state;
    const int batch = 3, inputs = 13, outputs = 11;
    for (size_t k = 0; k < ARRAY_LEN(cases); k++)
        for (int fusion = 0; fusion < 2; fusion++) {
            cc_net *net = NULL;
            assert_int_equal(cc_net_create(CC_NCHW, batch, inputs, 1, 1, &net), CC_OK);
            cc_node fc, out;
            assert_int_equal(cc_net_add_fc(net, "fc", 0, outputs, &fc), CC_OK);
            assert_int_equal(cc_net_add_activation(net, "act", fc, &cases[k], &out), CC_OK);
            float weight[11 * 13], bias[11], x[3 * 13], y[3 * 11];
            tst_rng rng;
            tst_rng_seed(&rng, SEED + k);
            tst_fill(&rng, weight, ARRAY_LEN(weight), true);
            tst_fill(&rng, bias, ARRAY_LEN(bias), true);
            tst_fill(&rng, x, ARRAY_LEN(x), true);
            assert_int_equal(cc_net_set_tensor(net, "fc.weight", weight, ARRAY_LEN(weight)),
                             CC_OK);
            assert_int_equal(cc_net_set_tensor(net, "fc.bias", bias, ARRAY_LEN(bias)), CC_OK);
            const cc_net_build_options options = {.no_fusion = !fusion};
            assert_int_equal(cc_net_build(net, &options), CC_OK);
            cc_net_layer_info info;
            assert_int_equal(cc_net_get_layer_info(net, out, &info), CC_OK);
            assert_int_equal(info.fused, fusion);
            assert_int_equal(cc_net_run(net, x, y), CC_OK);
            for (int b = 0; b < batch; b++)
                for (int o = 0; o < outputs; o++) {
                    double sum = bias[o];
                    for (int i = 0; i < inputs; i++)
                        sum += (double)weight[o * inputs + i] * x[b * inputs + i];
                    expect_close(&cases[k], (float)sum, y[b * outputs + o],
                                 reference(&cases[k], sum), fusion ? "fused" : "unfused",
                                 (size_t)(b * outputs + o));
                }
            cc_net_destroy(net);
        }
}

static void test_type_names(void **state)
{
    (void)state;
    static const struct {
        cc_activation act;
        const char *type;
    } names[] = {{{CC_ACTIVATION_RELU_CAP, 6.0f}, "ReLUCap"},
                 {{CC_ACTIVATION_HARD_SIGMOID, 0.2f}, "HardSigmoid"},
                 {{CC_ACTIVATION_HARD_SWISH, 0.0f}, "HardSwish"}};
    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        cc_net *net = NULL;
        assert_int_equal(cc_net_create(CC_NHWC, 1, 2, 3, 3, &net), CC_OK);
        cc_node out;
        assert_int_equal(cc_net_add_activation(net, NULL, 0, &names[k].act, &out), CC_OK);
        cc_net_layer_info info;
        assert_int_equal(cc_net_get_layer_info(net, out, &info), CC_OK);
        assert_string_equal(info.type, names[k].type);
        cc_net_destroy(net);
    }
}

static void test_bad_parameters(void **state)
{
    (void)state;
    static const cc_activation bad[] = {
        {CC_ACTIVATION_RELU_CAP, 0.0f},       {CC_ACTIVATION_RELU_CAP, -1.0f},
        {CC_ACTIVATION_RELU_CAP, INFINITY},   {CC_ACTIVATION_RELU_CAP, NAN},
        {CC_ACTIVATION_HARD_SIGMOID, NAN},    {CC_ACTIVATION_HARD_SIGMOID, -INFINITY},
        {(cc_activation_kind)99, 1.0f},
    };
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        cc_net *net = NULL;
        assert_int_equal(cc_net_create(CC_NCHW, 1, 2, 3, 3, &net), CC_OK);
        cc_node out = -7;
        assert_int_equal(cc_net_add_activation(net, "capped", 0, &bad[k], &out),
                         CC_ERR_INVALID_ARG);
        assert_non_null(strstr(cc_last_error(), "capped"));
        assert_int_equal(cc_net_node_count(net), 1);
        cc_net_destroy(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standalone),
        cmocka_unit_test(test_after_fc),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
