/* The layout a network's layers run in (cc_net_build_options.compute_layout,
 * src/net/compute_layout.c). The input and output keep the network's
 * layout: zoo networks built with their layers in NCHW and in NHWC give the
 * same outputs (within the conv tolerance) from the same input, in both
 * network layouts, at batch 1 and 2, on 1 and 2 threads; among them
 * Inception 3a, whose output is an image (reordered on the way out), and
 * LeNet-5, whose output is flat, and a ResNet bottleneck block (a residual
 * add fused into a conv). AUTO's rule, and an out-of-range value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/core/core.h"
#include "support.h"

static cc_net *zoo_net(const char *name, cc_layout layout, int batch, int size)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized(name, layout, batch, size, size, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 5), CC_OK);
    return net;
}

static cc_layout built_layout(const cc_net *net)
{
    cc_net_stats stats;
    assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
    return stats.compute_layout;
}

/* The output of `name` with its layers in `compute`, from input x. */
static float *output_with(const char *name, cc_layout layout, int batch, int size,
                          cc_compute_layout compute, const float *x)
{
    cc_net *net = zoo_net(name, layout, batch, size);
    const cc_net_build_options options = {.compute_layout = compute};
    assert_int_equal(cc_net_build(net, &options), CC_OK);
    assert_int_equal(built_layout(net), compute == CC_COMPUTE_NCHW ? CC_NCHW : CC_NHWC);
    float *y = malloc(cc_net_output_count(net) * sizeof *y);
    assert_non_null(y);
    assert_int_equal(cc_net_run(net, x, y), CC_OK);
    cc_net_destroy(net);
    return y;
}

static void layouts_agree(const char *name, int size)
{
    for (int layout = 0; layout < 2; layout++)
        for (int batch = 1; batch <= 2; batch++)
            for (int threads = 1; threads <= 2; threads++) {
                cc_set_num_threads(threads);
                const cc_layout net_layout = layout ? CC_NHWC : CC_NCHW;
                cc_net *probe = zoo_net(name, net_layout, batch, size);
                const size_t in_count = cc_net_input_count(probe);
                const size_t out_count = cc_net_output_count(probe);
                cc_net_destroy(probe);
                float *x = malloc(in_count * sizeof *x);
                assert_non_null(x);
                tst_rng rng;
                tst_rng_seed(&rng, 11);
                tst_fill(&rng, x, in_count, false);
                float *nchw = output_with(name, net_layout, batch, size, CC_COMPUTE_NCHW, x);
                float *nhwc = output_with(name, net_layout, batch, size, CC_COMPUTE_NHWC, x);
                const double tolerance = tst_conv_tolerance(nchw, out_count);
                const size_t bad = tst_first_mismatch(nhwc, nchw, out_count, tolerance);
                if (bad != out_count)
                    fail_msg("%s (%s, batch %d, %d threads): output[%zu] %.7g with the layers "
                             "in NHWC, %.7g in NCHW",
                             name, layout ? "nhwc" : "nchw", batch, threads, bad,
                             (double)nhwc[bad], (double)nchw[bad]);
                free(x), free(nchw), free(nhwc);
            }
    cc_set_num_threads(0);
}

static void inception_image_output(void **state)
{
    (void)state;
    layouts_agree("inception3a", 9);
}

static void lenet_flat_output(void **state)
{
    (void)state;
    layouts_agree("lenet5", 0);
}

static void bottleneck_block(void **state)
{
    (void)state;
    layouts_agree("bottleneck", 9);
}

/* AUTO before and after the build, with the kernels capped at AVX2 and not. */
static void auto_rule(void **state)
{
    (void)state;
    const bool avx512 = cc__cpu_isa() == CC__ISA_AVX512;
    cc_net *wide = zoo_net("inception3a", CC_NCHW, 1, 9);
    assert_int_equal(built_layout(wide), CC_NCHW);
    assert_int_equal(cc_net_build(wide, NULL), CC_OK);
    assert_int_equal(built_layout(wide), avx512 ? CC_NHWC : CC_NCHW);
    cc_net_destroy(wide);

    cc__set_isa_cap(CC__ISA_AVX2);
    wide = zoo_net("inception3a", CC_NCHW, 1, 9);
    assert_int_equal(cc_net_build(wide, NULL), CC_OK);
    assert_int_equal(built_layout(wide), CC_NCHW);
    cc_net_destroy(wide);
    cc__set_isa_cap(CC__ISA_AVX512);

    /* LeNet-5's conv1 has 6 filters: its layers keep NCHW. */
    cc_net *narrow = zoo_net("lenet5", CC_NCHW, 1, 0);
    assert_int_equal(cc_net_build(narrow, NULL), CC_OK);
    assert_int_equal(built_layout(narrow), CC_NCHW);
    cc_net_destroy(narrow);

    /* An NHWC network stays NHWC. */
    cc_net *nhwc = zoo_net("inception3a", CC_NHWC, 1, 9);
    assert_int_equal(cc_net_build(nhwc, NULL), CC_OK);
    assert_int_equal(built_layout(nhwc), CC_NHWC);
    cc_net_destroy(nhwc);
}

static void bad_value(void **state)
{
    (void)state;
    cc_net *net = zoo_net("lenet5", CC_NCHW, 1, 0);
    const cc_net_build_options bad = {.compute_layout = (cc_compute_layout)7};
    assert_int_equal(cc_net_build(net, &bad), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "compute_layout 7"));
    const cc_net_build_options nhwc = {.compute_layout = CC_COMPUTE_NHWC};
    assert_int_equal(cc_net_build(net, &nhwc), CC_OK);
    assert_int_equal(built_layout(net), CC_NHWC);
    cc_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inception_image_output), cmocka_unit_test(lenet_flat_output),
        cmocka_unit_test(bottleneck_block),          cmocka_unit_test(auto_rule),
        cmocka_unit_test(bad_value),
    };
    return cmocka_run_group_tests_name("net_layout", tests, NULL, NULL);
}
