/* The conv operator's contract: hand-computed cases, "same" padding, every
 * bad input, allocation failure, threads and concurrent runs. */
#include "support.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/core.h"

static cc_conv2d_params textbook_params(void)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = p.in_channels = p.out_channels = 1;
    p.in_h = p.in_w = 4;
    p.kernel_h = p.kernel_w = 3;
    return p;
}

static const float textbook_input[16] = {1, 2, 3, 0, 0, 1, 2, 3, 3, 0, 1, 2, 2, 3, 0, 1};
static const float textbook_filter[9] = {2, 0, 1, 0, 1, 2, 1, 0, 2};

static void expect_output(const cc_conv2d_params *p, cc_algo algo, const float *bias,
                          const float *expected, size_t count)
{
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(p, algo, textbook_filter, bias, &op), CC_OK);
    tst_buffer out = tst_buffer_new(count);
    assert_int_equal(cc_conv2d_run(op, textbook_input, out.data), CC_OK);
    for (size_t i = 0; i < count; i++)
        if (out.data[i] != expected[i])
            fail_msg("%s: element %zu is %g, expected %g", cc_algo_name(algo), i, out.data[i],
                     expected[i]);
    assert_true(tst_buffer_guards_intact(&out));
    tst_buffer_free(&out);
    cc_conv2d_destroy(op);
}

/* The textbook example (one channel, so NCHW and NHWC are the same bytes). */
static void textbook_example(void **state)
{
    (void)state;
    const cc_algo algos[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    const float plain[4] = {15, 16, 6, 15};
    const float biased[4] = {18, 19, 9, 18};
    const float padded[16] = {7, 12, 10, 2, 4, 15, 16, 10, 10, 6, 15, 6, 8, 10, 4, 3};
    const float three = 3.0f;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
            cc_conv2d_params p = textbook_params();
            p.layout = (cc_layout)layout;
            expect_output(&p, algos[a], NULL, plain, 4);
            expect_output(&p, algos[a], &three, biased, 4);
            p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
            expect_output(&p, algos[a], NULL, padded, 16);
        }
}

static void output_size_follows_pytorch(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    int oh = 0, ow = 0;
    p.in_h = 10, p.in_w = 7, p.kernel_h = 3, p.kernel_w = 2;
    p.stride_h = 3, p.stride_w = 2, p.pad_top = 2, p.pad_bottom = 0, p.pad_left = 1;
    p.dilation_h = 2;
    /* (10 + 2 - 2*2 - 1) / 3 + 1 = 3; (7 + 1 - 1 - 1) / 2 + 1 = 4 */
    assert_int_equal(cc_conv2d_output_size(&p, &oh, &ow), CC_OK);
    assert_int_equal(oh, 3);
    assert_int_equal(ow, 4);
}

/* Keras Conv2D(32, 3, padding="same") on 28x28x1 keeps 28x28x32. */
static void same_padding_keras(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.in_h = p.in_w = 28, p.out_channels = 32;
    assert_int_equal(cc_conv2d_pad_same(&p), CC_OK);
    assert_int_equal(p.pad_top + p.pad_bottom + p.pad_left + p.pad_right, 4);
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(&p, &oh, &ow), CC_OK);
    assert_int_equal(oh, 28);
    assert_int_equal(ow, 28);
}

/* Stride 2, 3x3: TF gives 14 on 28 (pad 0+1, extra at the bottom/right) and
 * 14 on 27 (pad 1+1). */
static void same_padding_stride_two(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.in_h = 28, p.in_w = 27, p.stride_h = p.stride_w = 2;
    assert_int_equal(cc_conv2d_pad_same(&p), CC_OK);
    assert_int_equal(p.pad_top, 0);
    assert_int_equal(p.pad_bottom, 1);
    assert_int_equal(p.pad_left, 1);
    assert_int_equal(p.pad_right, 1);
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(&p, &oh, &ow), CC_OK);
    assert_int_equal(oh, 14);
    assert_int_equal(ow, 14);
    /* 2x2 stride 2 on an even size needs no padding at all. */
    p.kernel_h = p.kernel_w = 2, p.in_w = 28;
    assert_int_equal(cc_conv2d_pad_same(&p), CC_OK);
    assert_int_equal(p.pad_top + p.pad_bottom + p.pad_left + p.pad_right, 0);
}

static void pad_same_leaves_params_on_failure(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.pad_top = 7, p.stride_w = -1;
    const cc_conv2d_params before = p;
    assert_int_equal(cc_conv2d_pad_same(&p), CC_ERR_INVALID_ARG);
    assert_memory_equal(&p, &before, sizeof p);
    assert_int_equal(cc_conv2d_pad_same(NULL), CC_ERR_INVALID_ARG);
}

/* One bad field: create fails with status, *op is NULL, the message names the
 * field, and a good create afterwards works. */
static void expect_rejected(const cc_conv2d_params *p, cc_algo algo, cc_status status,
                            const char *field)
{
    cc_conv2d *op = (cc_conv2d *)&op;
    assert_int_equal(cc_conv2d_create(p, algo, textbook_filter, NULL, &op), status);
    assert_null(op);
    if (strstr(cc_last_error(), field) == NULL)
        fail_msg("message '%s' does not name '%s'", cc_last_error(), field);
    cc_conv2d_params good = textbook_params();
    assert_int_equal(cc_conv2d_create(&good, CC_ALGO_AUTO, textbook_filter, NULL, &op), CC_OK);
    cc_conv2d_destroy(op);
}

typedef struct {
    const char *field;
    int *(*select)(cc_conv2d_params *p);
    int value;
} bad_field;

#define FIELD(name)                                                       \
    static int *field_##name(cc_conv2d_params *p) { return &p->name; }
FIELD(batch)
FIELD(in_channels)
FIELD(in_h)
FIELD(in_w)
FIELD(out_channels)
FIELD(kernel_h)
FIELD(kernel_w)
FIELD(stride_h)
FIELD(stride_w)
FIELD(pad_top)
FIELD(pad_bottom)
FIELD(pad_left)
FIELD(pad_right)
FIELD(dilation_h)
FIELD(dilation_w)
FIELD(groups)

static void bad_fields_are_named(void **state)
{
    (void)state;
    const bad_field cases[] = {
        {"batch", field_batch, 0},           {"batch", field_batch, -1},
        {"in_channels", field_in_channels, 0}, {"in_channels", field_in_channels, -3},
        {"in_h", field_in_h, 0},             {"in_w", field_in_w, -1},
        {"out_channels", field_out_channels, 0}, {"kernel_h", field_kernel_h, 0},
        {"kernel_w", field_kernel_w, -2},    {"stride_h", field_stride_h, -1},
        {"stride_w", field_stride_w, -5},    {"pad_top", field_pad_top, -1},
        {"pad_bottom", field_pad_bottom, -1}, {"pad_left", field_pad_left, -1},
        {"pad_right", field_pad_right, -1},  {"dilation_h", field_dilation_h, -1},
        {"dilation_w", field_dilation_w, -1}, {"groups", field_groups, -1},
        {"groups", field_groups, 3},          /* 1 channel is not divisible by 3 */
        {"in_h", field_kernel_h, 5},          /* kernel larger than the input */
        {"in_w", field_dilation_w, 2},        /* dilated 3x3 spans 5 > 4 */
        {"in_h", field_pad_top, INT_MAX},     /* H + pads overflows int */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_conv2d_params p = textbook_params();
        *cases[i].select(&p) = cases[i].value;
        expect_rejected(&p, CC_ALGO_AUTO, CC_ERR_INVALID_ARG, cases[i].field);
        expect_rejected(&p, CC_ALGO_GEMM1X1, CC_ERR_INVALID_ARG, cases[i].field);
    }
    cc_conv2d_params p = textbook_params();
    p.out_channels = 2, p.in_channels = 2, p.groups = 2, p.out_channels = 3;
    expect_rejected(&p, CC_ALGO_IM2COL, CC_ERR_INVALID_ARG, "out_channels");
}

static void bad_enums_and_pointers(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.layout = (cc_layout)7;
    expect_rejected(&p, CC_ALGO_AUTO, CC_ERR_INVALID_ARG, "layout");
    p = textbook_params();
    p.activation = (cc_act)-1;
    expect_rejected(&p, CC_ALGO_AUTO, CC_ERR_INVALID_ARG, "activation");
    p = textbook_params();
    expect_rejected(&p, (cc_algo)42, CC_ERR_INVALID_ARG, "algo");
    expect_rejected(NULL, CC_ALGO_AUTO, CC_ERR_INVALID_ARG, "params");

    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, NULL, NULL, &op), CC_ERR_INVALID_ARG);
    assert_null(op);
    assert_non_null(strstr(cc_last_error(), "weights"));
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, textbook_filter, NULL, NULL),
                     CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "op"));

    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, textbook_filter, NULL, &op), CC_OK);
    float out[4];
    assert_int_equal(cc_conv2d_run(NULL, textbook_input, out), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_conv2d_run(op, NULL, out), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "input"));
    assert_int_equal(cc_conv2d_run(op, textbook_input, NULL), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "output"));
    cc_conv2d_destroy(op);

    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(NULL, &oh, &ow), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_conv2d_output_size(&p, NULL, &ow), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_conv2d_output_size(&p, &oh, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_conv2d_algo(NULL), CC_ALGO_AUTO);
    assert_int_equal(cc_conv2d_workspace_size(NULL), 0);
    cc_conv2d_destroy(NULL);
}

/* output_size checks only the spatial fields it uses. */
static void output_size_ignores_other_fields(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.batch = 0, p.in_channels = -1, p.groups = 5;
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(&p, &oh, &ow), CC_OK);
    assert_int_equal(oh, 2);
}

static void gemm1x1_rejects_other_kernels(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    expect_rejected(&p, CC_ALGO_GEMM1X1, CC_ERR_UNSUPPORTED, "GEMM1X1");
    p.kernel_h = p.kernel_w = 1, p.pad_left = 1;
    expect_rejected(&p, CC_ALGO_GEMM1X1, CC_ERR_UNSUPPORTED, "GEMM1X1");
    p.pad_left = 0, p.batch = 0; /* invalid and unsupported: invalid wins */
    p.kernel_h = 3;
    expect_rejected(&p, CC_ALGO_GEMM1X1, CC_ERR_INVALID_ARG, "batch");
}

/* Element counts that overflow size_t are invalid, not allocated. */
static void overflowing_sizes_are_invalid(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.batch = INT_MAX, p.in_channels = INT_MAX, p.in_h = INT_MAX / 2, p.in_w = INT_MAX / 2;
    p.kernel_h = p.kernel_w = 1;
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, textbook_filter, NULL, &op),
                     CC_ERR_INVALID_ARG);
    assert_null(op);
    assert_non_null(strstr(cc_last_error(), "overflow"));
    p = textbook_params();
    p.out_channels = INT_MAX, p.in_channels = INT_MAX, p.kernel_h = 1, p.kernel_w = INT_MAX / 4;
    p.in_w = INT_MAX / 4;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, textbook_filter, NULL, &op),
                     CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "overflow"));
}

/* VGG-16 conv1_2: the im2col workspace stays within 8 MiB per thread. */
static void im2col_workspace_is_bounded(void **state)
{
    (void)state;
    cc_conv2d_params p = textbook_params();
    p.in_channels = p.out_channels = 64;
    p.in_h = p.in_w = 224;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    const size_t w_count = 64 * 64 * 9;
    float *weights = calloc(w_count, sizeof(float));
    for (int threads = 1; threads <= 2; threads++) {
        cc_set_num_threads(threads);
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
            p.layout = (cc_layout)layout;
            cc_conv2d *op = NULL;
            assert_int_equal(cc_conv2d_create(&p, CC_ALGO_IM2COL, weights, NULL, &op), CC_OK);
            const size_t bytes = cc_conv2d_workspace_size(op);
            assert_true(bytes > 0);
            assert_true(bytes <= (size_t)threads * (8u << 20));
            cc_conv2d_destroy(op);
        }
    }
    cc_set_num_threads(0);
    free(weights);
}

static void *refusing_alloc(void *context, size_t alignment, size_t size)
{
    (void)context, (void)alignment, (void)size;
    return NULL;
}

/* Every allocation of every path, failed in turn: NOMEM, a message, *op NULL,
 * nothing leaked; the first k that succeeds runs correctly. */
static void allocation_failures_are_clean(void **state)
{
    (void)state;
    const cc_algo algos[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    int points = 0;
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        for (int k = 1;; k++) {
            tst_failing_allocator f;
            tst_failing_allocator_install(&f, k);
            cc_conv2d_params p = textbook_params();
            cc_conv2d *op = (cc_conv2d *)&op;
            const float bias = 3.0f;
            const cc_status status = cc_conv2d_create(&p, algos[a], textbook_filter, &bias, &op);
            if (status == CC_OK) {
                float out[4];
                assert_int_equal(cc_conv2d_run(op, textbook_input, out), CC_OK);
                assert_true(out[0] == 18.0f && out[3] == 18.0f);
                cc_conv2d_destroy(op);
                assert_int_equal(f.live, 0);
                assert_int_equal(cc_set_allocator(NULL), CC_OK);
                break;
            }
            points++;
            assert_int_equal(status, CC_ERR_NOMEM);
            assert_null(op);
            assert_true(strlen(cc_last_error()) > 0);
            assert_int_equal(f.live, 0);
            assert_int_equal(cc_set_allocator(NULL), CC_OK);
        }
    }
    assert_true(points >= 8);
    const cc_allocator incomplete = {NULL, refusing_alloc, NULL};
    assert_int_equal(cc_set_allocator(&incomplete), CC_ERR_INVALID_ARG);
}

static void status_strings_and_names(void **state)
{
    (void)state;
    for (int s = CC_OK; s <= CC_ERR_FORMAT; s++)
        assert_true(strlen(cc_status_str((cc_status)s)) > 0);
    assert_string_equal(cc_status_str((cc_status)99), "unknown status");
    assert_string_equal(cc_algo_name(CC_ALGO_IM2COL), "im2col");
    assert_string_equal(cc_algo_name((cc_algo)-4), "unknown");
    assert_string_equal(cc_threading_name(CC_THREADS_TILES), "tiles");
    assert_non_null(cc_cpu_isa());
    assert_string_equal(cc_version(), "0.1.0");
}

static void thread_count_contract(void **state)
{
    (void)state;
    assert_true(cc_get_num_threads() >= 1);
    cc_set_num_threads(3);
    assert_int_equal(cc_get_num_threads(), 3);
    cc_set_num_threads(0);
    assert_true(cc_get_num_threads() >= 1);
}

/* cc_conv2d_threading tells how a run uses threads, truthfully: the
 * reference path's loops have neither OpenMP nor BLAS, so it runs on the
 * calling thread whatever the thread count; direct and Winograd share tiles
 * over our threads; a GEMM path on one thread leaves its one GEMM to BLAS.
 * The enumerators keep their numbers (CC_THREADS_SINGLE came last). */
static void threading_is_truthful(void **state)
{
    (void)state;
    assert_int_equal(CC_THREADS_BLAS, 0);
    assert_int_equal(CC_THREADS_TILES, 1);
    assert_int_equal(CC_THREADS_SINGLE, 2);
    assert_string_equal(cc_threading_name(CC_THREADS_BLAS), "blas");
    assert_string_equal(cc_threading_name(CC_THREADS_SINGLE), "single");
    assert_string_equal(cc_threading_name((cc_threading)3), "unknown");
    assert_string_equal(cc_threading_name((cc_threading)-1), "unknown");
    assert_int_equal(cc_conv2d_threading(NULL), CC_THREADS_BLAS);
    const struct {
        cc_algo algo;
        int threads;
        cc_threading expected;
    } cases[] = {
        {CC_ALGO_REFERENCE, 1, CC_THREADS_SINGLE}, {CC_ALGO_REFERENCE, 4, CC_THREADS_SINGLE},
        {CC_ALGO_DIRECT, 4, CC_THREADS_TILES},     {CC_ALGO_WINOGRAD, 4, CC_THREADS_TILES},
        {CC_ALGO_IM2COL, 1, CC_THREADS_BLAS},
    };
    const cc_conv2d_params p = textbook_params();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_set_num_threads(cases[i].threads);
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(&p, cases[i].algo, textbook_filter, NULL, &op), CC_OK);
        if (cc_conv2d_threading(op) != cases[i].expected)
            fail_msg("%s on %d threads: threading %s, expected %s", cc_algo_name(cases[i].algo),
                     cases[i].threads, cc_threading_name(cc_conv2d_threading(op)),
                     cc_threading_name(cases[i].expected));
        cc_conv2d_destroy(op);
    }
    cc_set_num_threads(0);
}

/* Four host threads run one op at once on their own buffers. */
typedef struct {
    cc_conv2d *op;
    const float *input;
    float *output;
    size_t count;
    cc_status status;
} concurrent_run;

static void *run_many_times(void *argument)
{
    concurrent_run *run = argument;
    for (int i = 0; i < 20 && run->status == CC_OK; i++)
        run->status = cc_conv2d_run(run->op, run->input, run->output);
    return NULL;
}

static void one_op_from_four_threads(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, 7);
    cc_conv2d_params p = textbook_params();
    p.batch = 2, p.in_channels = 8, p.out_channels = 16, p.in_h = p.in_w = 30;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    const size_t in_count = 2 * 8 * 30 * 30, out_count = 2 * 16 * 30 * 30, w_count = 16 * 8 * 9;
    float *weights = malloc(w_count * sizeof(float));
    tst_fill(&rng, weights, w_count, false);
    const cc_algo algos[] = {CC_ALGO_IM2COL, CC_ALGO_DIRECT, CC_ALGO_AUTO};
    for (size_t a = 0; a < 3; a++) {
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(&p, algos[a], weights, NULL, &op), CC_OK);
        concurrent_run runs[4];
        float *expected = malloc(out_count * sizeof(float));
        pthread_t threads[4];
        for (int t = 0; t < 4; t++) {
            float *input = malloc(in_count * sizeof(float));
            tst_fill(&rng, input, in_count, false);
            runs[t] = (concurrent_run){op, input, malloc(out_count * sizeof(float)), out_count, CC_OK};
            assert_int_equal(pthread_create(&threads[t], NULL, run_many_times, &runs[t]), 0);
        }
        for (int t = 0; t < 4; t++)
            assert_int_equal(pthread_join(threads[t], NULL), 0);
        for (int t = 0; t < 4; t++) {
            assert_int_equal(runs[t].status, CC_OK);
            assert_int_equal(cc_conv2d_run(op, runs[t].input, expected), CC_OK);
            assert_memory_equal(expected, runs[t].output, out_count * sizeof(float));
            free((void *)runs[t].input);
            free(runs[t].output);
        }
        free(expected);
        cc_conv2d_destroy(op);
    }
    free(weights);
}

/* Inside the host's own OpenMP parallel region each run uses one thread and
 * gives the serial result. */
static void runs_inside_host_parallel_region(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, 11);
    cc_conv2d_params p = textbook_params();
    p.in_channels = 6, p.out_channels = 10, p.in_h = p.in_w = 17;
    const size_t in_count = 6 * 17 * 17, out_count = 10 * 15 * 15, w_count = 10 * 6 * 9;
    float *weights = malloc(w_count * sizeof(float)), *input = malloc(in_count * sizeof(float));
    tst_fill(&rng, weights, w_count, false);
    tst_fill(&rng, input, in_count, false);
    const cc_algo algos[] = {CC_ALGO_IM2COL, CC_ALGO_DIRECT, CC_ALGO_AUTO};
    for (size_t a = 0; a < 3; a++) {
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(&p, algos[a], weights, NULL, &op), CC_OK);
        float *expected = malloc(out_count * sizeof(float));
        cc_set_num_threads(1);
        assert_int_equal(cc_conv2d_run(op, input, expected), CC_OK);
        cc_set_num_threads(0);
        float *outputs = malloc(4 * out_count * sizeof(float));
        int failures = 0;
#pragma omp parallel for num_threads(4) reduction(+ : failures)
        for (int t = 0; t < 4; t++)
            failures += cc_conv2d_run(op, input, outputs + (size_t)t * out_count) != CC_OK;
        assert_int_equal(failures, 0);
        for (int t = 0; t < 4; t++)
            assert_memory_equal(expected, outputs + (size_t)t * out_count, out_count * sizeof(float));
        free(outputs);
        free(expected);
        cc_conv2d_destroy(op);
    }
    free(weights);
    free(input);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(textbook_example),
        cmocka_unit_test(output_size_follows_pytorch),
        cmocka_unit_test(same_padding_keras),
        cmocka_unit_test(same_padding_stride_two),
        cmocka_unit_test(pad_same_leaves_params_on_failure),
        cmocka_unit_test(bad_fields_are_named),
        cmocka_unit_test(bad_enums_and_pointers),
        cmocka_unit_test(output_size_ignores_other_fields),
        cmocka_unit_test(gemm1x1_rejects_other_kernels),
        cmocka_unit_test(overflowing_sizes_are_invalid),
        cmocka_unit_test(im2col_workspace_is_bounded),
        cmocka_unit_test(allocation_failures_are_clean),
        cmocka_unit_test(status_strings_and_names),
        cmocka_unit_test(thread_count_contract),
        cmocka_unit_test(threading_is_truthful),
        cmocka_unit_test(one_op_from_four_threads),
        cmocka_unit_test(runs_inside_host_parallel_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
