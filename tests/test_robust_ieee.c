/* IEEE special values and denormals.
 *
 * NaN and +-Inf in an input pixel, a weight or a bias propagate as IEEE
 * arithmetic says, on every path and kernel family: each output is NaN,
 * +-Inf or finite exactly when the reference's (float64 sums of the same
 * products) is, and finite ones agree within the usual tolerance. One
 * latitude, for a NaN or Inf weight only: where its tap falls in the
 * padding, paths that multiply the padding's zeros (im2col) give NaN
 * (0 * Inf) while paths that skip the padding (reference, direct) do not.
 * Networks of every layer type run to the end on such inputs.
 *
 * Denormals: with cc_set_flush_denormals(1) a run reads and writes
 * denormals as zero on every thread it uses (a layer fed only denormals
 * gives exact zeros, on every path, multi-threaded), and leaves the MXCSR
 * of the caller and of the OpenMP workers as it found them. */
#include "support.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAS_MXCSR 1
#define FTZ_DAZ 0x8040u
#define EXCEPTION_FLAGS 0x3fu /* sticky status bits, raised by any arithmetic */
#else
#define HAS_MXCSR 0
#endif

typedef struct {
    cc_conv2d_params p;
    cc_algo algo;
} conv_case;

static cc_conv2d_params params(int c, int hw, int oc, int k, int stride, int pad, int dilation,
                               int groups, cc_layout layout, cc_act act)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = 2, p.in_channels = c, p.in_h = p.in_w = hw, p.out_channels = oc;
    p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
    p.dilation_h = p.dilation_w = dilation;
    p.groups = groups, p.layout = layout, p.activation = act;
    return p;
}

static size_t out_count_of(const cc_conv2d_params *p, int *oh, int *ow)
{
    assert_int_equal(cc_conv2d_output_size(p, oh, ow), CC_OK);
    return (size_t)p->batch * p->out_channels * *oh * *ow;
}

static size_t input_index(const cc_conv2d_params *p, int n, int c, int y, int x)
{
    if (p->layout == CC_NCHW)
        return (((size_t)n * p->in_channels + c) * p->in_h + y) * p->in_w + x;
    return (((size_t)n * p->in_h + y) * p->in_w + x) * p->in_channels + c;
}

/* A poisoned value and where it goes. */
typedef enum { AT_INPUT, AT_WEIGHT, AT_BIAS } poison_site;

typedef struct {
    poison_site site;
    float value;
} poison;

/* The output (n, m, oy, ox) in the output's layout order, from a flat index. */
static void output_coords(const cc_conv2d_params *p, int oh, int ow, size_t i, int *m, int *oy,
                          int *ox)
{
    if (p->layout == CC_NCHW) {
        *ox = (int)(i % ow), *oy = (int)(i / ow % oh), *m = (int)(i / ((size_t)ow * oh) % p->out_channels);
    } else {
        *m = (int)(i % p->out_channels), *ox = (int)(i / p->out_channels % ow);
        *oy = (int)(i / ((size_t)p->out_channels * ow) % oh);
    }
}

/* Does the poisoned weight's tap (ky, kx) of output (oy, ox) fall in the padding? */
static bool tap_in_padding(const cc_conv2d_params *p, int oy, int ox, int ky, int kx)
{
    const int sh = p->stride_h ? p->stride_h : 1, sw = p->stride_w ? p->stride_w : 1;
    const int dh = p->dilation_h ? p->dilation_h : 1, dw = p->dilation_w ? p->dilation_w : 1;
    const int y = oy * sh - p->pad_top + ky * dh, x = ox * sw - p->pad_left + kx * dw;
    return y < 0 || y >= p->in_h || x < 0 || x >= p->in_w;
}

static bool same_class(float got, float want, double tolerance)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs((double)got - want) <= tolerance;
}

static long special_runs;

static void check_poison(const conv_case *c, const poison *z, const char *family)
{
    const cc_conv2d_params *p = &c->p;
    const int groups = p->groups ? p->groups : 1;
    const size_t in_count = (size_t)p->batch * p->in_channels * p->in_h * p->in_w;
    const size_t w_per_oc = (size_t)(p->in_channels / groups) * p->kernel_h * p->kernel_w;
    const size_t w_count = (size_t)p->out_channels * w_per_oc;
    int oh, ow;
    const size_t out_count = out_count_of(p, &oh, &ow);
    tst_rng rng;
    tst_rng_seed(&rng, 77);
    float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
    float bias[64];
    tst_fill(&rng, input, in_count, false);
    tst_fill(&rng, weights, w_count, false);
    tst_fill(&rng, bias, (size_t)p->out_channels, false);
    /* The poisoned spot: the input pixel that the centre tap of the centre
     * output reads, in the last channel of image 1; the weight of output
     * channel 1, input channel 0, tap (0, KW-1); the bias of channel 1. */
    const int m0 = 1 % p->out_channels, ky0 = 0, kx0 = p->kernel_w - 1;
    const int sh = p->stride_h ? p->stride_h : 1, sw = p->stride_w ? p->stride_w : 1;
    const int dh = p->dilation_h ? p->dilation_h : 1, dw = p->dilation_w ? p->dilation_w : 1;
    const int y0 = oh / 2 * sh - p->pad_top + p->kernel_h / 2 * dh;
    const int x0 = ow / 2 * sw - p->pad_left + p->kernel_w / 2 * dw;
    assert_true(y0 >= 0 && y0 < p->in_h && x0 >= 0 && x0 < p->in_w);
    switch (z->site) {
    case AT_INPUT:
        input[input_index(p, 1, p->in_channels - 1, y0, x0)] = z->value;
        break;
    case AT_WEIGHT:
        weights[(size_t)m0 * w_per_oc + (size_t)kx0] = z->value;
        break;
    case AT_BIAS:
        bias[m0] = z->value;
        break;
    }
    float *want = malloc(out_count * sizeof(float));
    cc_conv2d *ref = NULL, *op = NULL;
    assert_int_equal(cc_conv2d_create(p, CC_ALGO_REFERENCE, weights, bias, &ref), CC_OK);
    assert_int_equal(cc_conv2d_run(ref, input, want), CC_OK);
    assert_int_equal(cc_conv2d_create(p, c->algo, weights, bias, &op), CC_OK);
    tst_buffer got = tst_buffer_new(out_count);
    assert_int_equal(cc_conv2d_run(op, input, got.data), CC_OK);
    assert_true(tst_buffer_guards_intact(&got));
    size_t special = 0;
    for (size_t i = 0; i < out_count; i++) {
        special += !isfinite(want[i]);
        if (same_class(got.data[i], want[i], 1e-4 * 16))
            continue;
        int m, oy, ox;
        output_coords(p, oh, ow, i, &m, &oy, &ox);
        if (z->site == AT_WEIGHT && m == m0 && isnan(got.data[i]) && isfinite(want[i]) &&
            tap_in_padding(p, oy, ox, ky0, kx0))
            continue;
        char text[256];
        tst_describe(p, text, sizeof text);
        fail_msg("%s %s (%s): %g at site %d: output %zu (map %d, %d, %d) is %g, reference %g",
                 text, cc_algo_name(cc_conv2d_algo(op)), family, (double)z->value, (int)z->site,
                 i, m, oy, ox, (double)got.data[i], (double)want[i]);
    }
    /* The poison must reach the output (activations map an Inf to finite values). */
    if (special == 0 && (isnan(z->value) || p->activation == CC_ACT_NONE))
        fail_msg("%s: %g at site %d reached no output", cc_algo_name(c->algo),
                 (double)z->value, (int)z->site);
    special_runs++;
    tst_buffer_free(&got);
    cc_conv2d_destroy(op);
    cc_conv2d_destroy(ref);
    free(want), free(input), free(weights);
}

static void nan_and_inf_propagate(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {params(5, 9, 9, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_IM2COL},
        {params(5, 9, 9, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_IM2COL},
        {params(6, 11, 8, 3, 2, 2, 2, 2, CC_NCHW, CC_ACT_RELU), CC_ALGO_IM2COL},
        {params(5, 9, 9, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_DIRECT},
        {params(5, 9, 9, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_TANH), CC_ALGO_DIRECT},
        {params(6, 11, 8, 3, 2, 2, 2, 2, CC_NCHW, CC_ACT_RELU), CC_ALGO_DIRECT},
        {params(6, 11, 8, 3, 2, 0, 1, 2, CC_NHWC, CC_ACT_SIGMOID), CC_ALGO_DIRECT},
        {params(6, 10, 6, 3, 1, 1, 1, 6, CC_NHWC, CC_ACT_NONE), CC_ALGO_DIRECT},
        {params(6, 10, 6, 5, 2, 2, 1, 6, CC_NCHW, CC_ACT_RELU), CC_ALGO_DIRECT},
        {params(24, 7, 20, 1, 1, 0, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_GEMM1X1},
        {params(24, 7, 20, 1, 2, 0, 1, 1, CC_NHWC, CC_ACT_RELU), CC_ALGO_GEMM1X1},
        {params(3, 8, 4, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_AUTO},
    };
    const poison poisons[] = {
        {AT_INPUT, NAN},  {AT_INPUT, INFINITY},  {AT_INPUT, -INFINITY},
        {AT_WEIGHT, NAN}, {AT_WEIGHT, INFINITY}, {AT_WEIGHT, -INFINITY},
        {AT_BIAS, NAN},   {AT_BIAS, INFINITY},
    };
    static const char *const families[] = {"scalar", "avx2", "avx512"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int isa = CC__ISA_SCALAR; isa <= (int)cc__cpu_isa(); isa++) {
            if (cases[i].algo != CC_ALGO_DIRECT && isa != (int)cc__cpu_isa())
                continue;
            cc__set_isa_cap((cc__isa)isa);
            for (size_t z = 0; z < sizeof poisons / sizeof poisons[0]; z++)
                check_poison(&cases[i], &poisons[z], families[isa]);
            cc__set_isa_cap(CC__ISA_AVX512);
        }
    print_message("NaN/Inf: %ld poisoned runs matched the reference's IEEE classes\n",
                  special_runs);
}

/* One network with every layer type, fed a NaN and an Inf. */
static void networks_run_through_specials(void **state)
{
    (void)state;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        cc_net *net = NULL;
        assert_int_equal(cc_net_create((cc_layout)layout, 1, 4, 12, 12, &net), CC_OK);
        const cc_net_conv_params conv = {.out_channels = 8, .kernel_h = 3, .kernel_w = 3,
                                         .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                                         .pad_right = 1};
        const cc_pool2d_params max = {.kind = CC_POOL_MAX, .kernel_h = 2, .kernel_w = 2};
        const cc_pool2d_params avg = {.kind = CC_POOL_AVG, .kernel_h = 3, .kernel_w = 3,
                                      .stride_h = 1, .stride_w = 1, .pad_top = 1,
                                      .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
        const cc_lrn_params lrn = {3, 1e-2f, 0.75f, 1.0f};
        const cc_activation elu = {CC_ACTIVATION_ELU, 1.0f};
        cc_node a, b, x;
        assert_int_equal(cc_net_add_conv(net, "conv", 0, &conv, &a), CC_OK);
        assert_int_equal(cc_net_add_batchnorm(net, "bn", a, 1e-5f, &a), CC_OK);
        assert_int_equal(cc_net_add_activation(net, "elu", a, &elu, &a), CC_OK);
        assert_int_equal(cc_net_add_lrn(net, "lrn", a, &lrn, &b), CC_OK);
        const cc_node pair[2] = {a, b};
        assert_int_equal(cc_net_add_add(net, "add", pair, 2, &x), CC_OK);
        assert_int_equal(cc_net_add_pool(net, "avg", x, &avg, &x), CC_OK);
        const cc_node cat[2] = {x, b};
        assert_int_equal(cc_net_add_concat(net, "cat", cat, 2, &x), CC_OK);
        assert_int_equal(cc_net_add_pool(net, "max", x, &max, &x), CC_OK);
        assert_int_equal(cc_net_add_softmax(net, "softmax", x, &x), CC_OK);
        assert_int_equal(cc_net_add_global_pool(net, "gap", x, CC_POOL_MAX, &b), CC_OK);
        assert_int_equal(cc_net_add_fc(net, "fc", x, 10, &x), CC_OK);
        assert_int_equal(cc_net_add_softmax(net, "prob", x, &x), CC_OK);
        assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
        assert_int_equal(cc_net_build(net, NULL), CC_OK);
        const float specials[] = {NAN, INFINITY, -INFINITY};
        for (size_t s = 0; s < 3; s++) {
            float input[4 * 12 * 12];
            tst_rng rng;
            tst_rng_seed(&rng, 5);
            tst_fill(&rng, input, 4 * 12 * 12, false);
            input[100] = specials[s];
            tst_buffer out = tst_buffer_new(cc_net_output_count(net));
            assert_int_equal(cc_net_run(net, input, out.data), CC_OK);
            assert_true(tst_buffer_guards_intact(&out));
            /* The FC mixes every feature: a NaN anywhere before it is everywhere after. */
            if (isnan(specials[s]))
                for (size_t i = 0; i < out.count; i++)
                    if (!isnan(out.data[i]))
                        fail_msg("layout %d: output %zu is %g, not NaN", layout, i,
                                 (double)out.data[i]);
            tst_buffer_free(&out);
        }
        cc_net_destroy(net);
    }
}

/* ---- denormals ---------------------------------------------------------- */

static void flush_flag(void **state)
{
    (void)state;
    assert_int_equal(cc_get_flush_denormals(), 0);
    cc_set_flush_denormals(7);
    assert_int_equal(cc_get_flush_denormals(), 1);
    cc_set_flush_denormals(0);
    assert_int_equal(cc_get_flush_denormals(), 0);
}

#if HAS_MXCSR
/* Every OpenMP worker of a team of `threads`: FTZ/DAZ bits found. */
static unsigned workers_flush_bits(int threads)
{
    unsigned bits = 0;
#pragma omp parallel num_threads(threads) reduction(| : bits)
    bits |= _mm_getcsr() & FTZ_DAZ;
    return bits;
}

typedef struct {
    conv_case c;
    const char *what;
} denormal_case;

static void expect_flushed(const denormal_case *d, bool flush)
{
    const cc_conv2d_params *p = &d->c.p;
    const int groups = p->groups ? p->groups : 1;
    const size_t in_count = (size_t)p->batch * p->in_channels * p->in_h * p->in_w;
    const size_t w_count =
        (size_t)p->out_channels * (p->in_channels / groups) * p->kernel_h * p->kernel_w;
    int oh, ow;
    const size_t out_count = out_count_of(p, &oh, &ow);
    float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
    for (size_t i = 0; i < in_count; i++)
        input[i] = 1e-39f * (float)(1 + i % 7); /* denormal */
    for (size_t i = 0; i < w_count; i++)
        weights[i] = 0.5f + (float)(i % 3);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(p, d->c.algo, weights, NULL, &op), CC_OK);
    float *out = malloc(out_count * sizeof(float));
    const unsigned caller_states[] = {0x1f80u, 0x1f80u | 0x40u, 0x1f80u | 0x6000u};
    const unsigned before = _mm_getcsr();
    for (size_t s = 0; s < 3; s++) {
        _mm_setcsr(caller_states[s]);
        cc_set_flush_denormals(flush);
        const cc_status status = cc_conv2d_run(op, input, out);
        const unsigned after = _mm_getcsr();
        cc_set_flush_denormals(0);
        _mm_setcsr(before);
        assert_int_equal(status, CC_OK);
        if ((after & ~EXCEPTION_FLAGS) != caller_states[s])
            fail_msg("%s: the caller's MXCSR was %#x, is %#x after the run", d->what,
                     caller_states[s], after);
        if (s != 0)
            continue; /* DAZ or round-to-zero set by the caller change the sums */
        size_t nonzero = 0;
        for (size_t i = 0; i < out_count; i++)
            nonzero += out[i] != 0.0f;
        if (flush && nonzero != 0)
            fail_msg("%s (%s, %s): %zu of %zu outputs are not flushed to zero", d->what,
                     cc_algo_name(cc_conv2d_algo(op)), cc_threading_name(cc_conv2d_threading(op)),
                     nonzero, out_count);
        if (!flush && nonzero == 0)
            fail_msg("%s: denormals were flushed with flushing off", d->what);
    }
    assert_int_equal(workers_flush_bits(cc_get_num_threads()), 0);
    cc_conv2d_destroy(op);
    free(out), free(input), free(weights);
}

static void flush_denormals_every_thread(void **state)
{
    (void)state;
    if (getenv("COLCONV_TEST_NO_DAZ") != NULL)
        skip(); /* valgrind does not emulate FTZ/DAZ (.ci/robustness.sh sets this) */
    const denormal_case cases[] = {
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_DIRECT}, "direct nchw"},
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_DIRECT}, "direct nhwc"},
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_IM2COL}, "im2col nchw"},
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_IM2COL}, "im2col nhwc"},
        {{params(64, 32, 64, 1, 1, 0, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_GEMM1X1}, "gemm1x1"},
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_WINOGRAD}, "winograd nchw"},
        {{params(16, 48, 16, 3, 1, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_WINOGRAD}, "winograd nhwc"},
        {{params(4, 12, 4, 3, 1, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_REFERENCE}, "reference"},
    };
    for (int threads = 1; threads <= 2; threads++) {
        cc_set_num_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            expect_flushed(&cases[i], true);
            expect_flushed(&cases[i], false);
        }
    }
    /* Tiles small enough for the tile threading (one GEMM per thread). */
    cc_set_num_threads(2);
    cc__set_tile_budget_bytes(4096);
    for (size_t i = 2; i < 4; i++)
        expect_flushed(&cases[i], true);
    cc__set_tile_budget_bytes(0);
    cc_set_num_threads(0);
}

static void flush_denormals_in_networks(void **state)
{
    (void)state;
    if (getenv("COLCONV_TEST_NO_DAZ") != NULL)
        skip(); /* valgrind does not emulate FTZ/DAZ (.ci/robustness.sh sets this) */
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized("inception3a", CC_NHWC, 1, 12, 12, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 3), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    const size_t in_count = cc_net_input_count(net), out_count = cc_net_output_count(net);
    float *input = malloc(in_count * sizeof(float)), *out = malloc(out_count * sizeof(float));
    for (size_t i = 0; i < in_count; i++)
        input[i] = 3e-39f;
    cc_set_num_threads(2);
    for (int flush = 1; flush >= 0; flush--) {
        cc_set_flush_denormals(flush);
        const unsigned before = _mm_getcsr() & ~EXCEPTION_FLAGS;
        assert_int_equal(cc_net_run(net, input, out), CC_OK);
        assert_int_equal(_mm_getcsr() & ~EXCEPTION_FLAGS, before);
        cc_set_flush_denormals(0);
        assert_int_equal(workers_flush_bits(2), 0);
        size_t nonzero = 0;
        for (size_t i = 0; i < out_count; i++)
            nonzero += out[i] != 0.0f;
        if (flush ? nonzero != 0 : nonzero == 0)
            fail_msg("flush %d: %zu of %zu network outputs are nonzero", flush, nonzero,
                     out_count);
    }
    /* Runs inside the host's parallel region: each host thread flushes and
     * is restored on its own. */
    cc_set_flush_denormals(1);
    int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
    {
        float *mine = malloc(out_count * sizeof(float));
        const unsigned before = _mm_getcsr() & ~EXCEPTION_FLAGS;
        bad += cc_net_run(net, input, mine) != CC_OK;
        bad += (_mm_getcsr() & ~EXCEPTION_FLAGS) != before;
        for (size_t i = 0; i < out_count; i++)
            bad += mine[i] != 0.0f;
        free(mine);
    }
    cc_set_flush_denormals(0);
    assert_int_equal(bad, 0);
    cc_set_num_threads(0);
    cc_net_destroy(net);
    free(input), free(out);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nan_and_inf_propagate),
        cmocka_unit_test(networks_run_through_specials),
        cmocka_unit_test(flush_flag),
#if HAS_MXCSR
        cmocka_unit_test(flush_denormals_every_thread),
        cmocka_unit_test(flush_denormals_in_networks),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
