/* AUTO's cost rule: its pick on the layers it was fitted to (the default
 * report's networks, where the bench showed which path is fastest), and on
 * random shapes a path that runs them, never the reference or the opt-in
 * Winograd F(6x6,3x3), whatever the kernel family. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include "../src/conv/conv_internal.h"

typedef struct {
    const char *name;
    int batch, c, hw, oc, k, stride, pad, groups;
    cc_algo want;
} layer_case;

static cc__conv_geom geom_of(const layer_case *l)
{
    const cc_conv2d_params p = {.batch = l->batch, .in_channels = l->c, .in_h = l->hw,
                                .in_w = l->hw, .out_channels = l->oc, .kernel_h = l->k,
                                .kernel_w = l->k, .stride_h = l->stride, .stride_w = l->stride,
                                .pad_top = l->pad, .pad_bottom = l->pad, .pad_left = l->pad,
                                .pad_right = l->pad, .groups = l->groups};
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    return g;
}

static void picks_on_the_fitted_layers(void **state)
{
    (void)state;
    const layer_case layers[] = {
        {"vgg16 conv1_1", 1, 3, 224, 64, 3, 1, 1, 1, CC_ALGO_DIRECT},
        {"vgg16 conv1_2", 1, 64, 224, 64, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"vgg16 conv3_2", 1, 256, 56, 256, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"vgg16 conv4_2", 1, 512, 28, 512, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"vgg16 conv5_1", 1, 512, 14, 512, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"vgg16 conv5_1 at batch 2", 2, 512, 14, 512, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"alexnet conv1", 1, 3, 227, 96, 11, 4, 0, 1, CC_ALGO_DIRECT},
        {"alexnet conv2", 1, 96, 27, 256, 5, 1, 2, 2, CC_ALGO_DIRECT},
        {"alexnet conv3", 1, 256, 13, 384, 3, 1, 1, 1, CC_ALGO_DIRECT},
        {"alexnet conv4", 1, 384, 13, 384, 3, 1, 1, 2, CC_ALGO_DIRECT},
        {"lenet conv2", 1, 20, 12, 50, 5, 1, 0, 1, CC_ALGO_DIRECT},
        {"resnet50 conv1", 1, 3, 224, 64, 7, 2, 3, 1, CC_ALGO_DIRECT},
        {"resnet50 layer1 conv2", 1, 64, 56, 64, 3, 1, 1, 1, CC_ALGO_WINOGRAD},
        {"resnet50 layer2 conv1", 1, 256, 56, 128, 1, 1, 0, 1, CC_ALGO_DIRECT},
        {"resnet50 layer2 downsample", 1, 256, 56, 512, 1, 2, 0, 1, CC_ALGO_DIRECT},
        {"googlenet 4a 1x1", 1, 480, 14, 192, 1, 1, 0, 1, CC_ALGO_DIRECT},
        {"resnet50 layer2.0 conv2", 1, 128, 56, 128, 3, 2, 1, 1, CC_ALGO_DIRECT},
        {"resnet50 layer4 conv2", 1, 512, 7, 512, 3, 1, 1, 1, CC_ALGO_IM2COL},
        {"resnet50 layer4.0 conv2", 1, 512, 14, 512, 3, 2, 1, 1, CC_ALGO_DIRECT},
        {"depthwise 3x3", 1, 32, 56, 32, 3, 1, 1, 32, CC_ALGO_DIRECT},
    };
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const cc__conv_geom g = geom_of(&layers[i]);
        const cc_algo got = cc__auto_choose(&g, CC__ISA_AVX2);
        if (got != layers[i].want)
            fail_msg("%s: AUTO picks %s, the bench's fastest was %s", layers[i].name,
                     cc_algo_name(got), cc_algo_name(layers[i].want));
        assert_int_equal(cc__auto_choose(&g, CC__ISA_AVX512), got);
    }
    /* Without vector kernels the direct path is slow: GEMM paths instead. */
    const cc__conv_geom first = geom_of(&layers[0]);
    assert_int_equal(cc__auto_choose(&first, CC__ISA_SCALAR), CC_ALGO_IM2COL);
    /* 1x1 layers: SGEMM on the input itself in NHWC (no pointwise direct
     * kind there); depthwise ones have too few channels for a GEMM. */
    const layer_case pointwise = {"pointwise", 1, 256, 14, 64, 1, 1, 0, 1, CC_ALGO_AUTO};
    cc__conv_geom g = geom_of(&pointwise);
    assert_int_equal(cc__auto_choose(&g, CC__ISA_SCALAR), CC_ALGO_GEMM1X1);
    g.layout = CC_NHWC;
    assert_int_equal(cc__auto_choose(&g, CC__ISA_AVX2), CC_ALGO_GEMM1X1);
    const layer_case depthwise = {"depthwise 1x1", 1, 64, 14, 64, 1, 1, 0, 64, CC_ALGO_AUTO};
    g = geom_of(&depthwise);
    assert_int_equal(cc__auto_choose(&g, CC__ISA_AVX2), CC_ALGO_DIRECT);
}

/* Random valid shapes: the pick runs them through the public API. */
static void picks_run(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, 20261127u);
    for (int i = 0; i < 400; i++) {
        const int groups = tst_rng_int(&rng, 1, 3);
        const layer_case l = {"random", tst_rng_int(&rng, 1, 2), groups * tst_rng_int(&rng, 1, 24),
                              tst_rng_int(&rng, 3, 20), groups * tst_rng_int(&rng, 1, 24),
                              tst_rng_int(&rng, 1, 3), tst_rng_int(&rng, 1, 2),
                              tst_rng_int(&rng, 0, 1), groups, CC_ALGO_AUTO};
        const cc__conv_geom g = geom_of(&l);
        for (int isa = CC__ISA_SCALAR; isa <= CC__ISA_AVX512; isa++) {
            const cc_algo pick = cc__auto_choose(&g, (cc__isa)isa);
            assert_true(pick != CC_ALGO_AUTO && pick != CC_ALGO_REFERENCE &&
                        pick != CC_ALGO_WINOGRAD_F6X6);
            assert_int_equal(cc__conv_check_algo(&g, pick), CC_OK);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(picks_on_the_fitted_layers),
        cmocka_unit_test(picks_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
