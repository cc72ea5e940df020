/* Concurrency and determinism.
 *
 * Concurrency: 4 host threads at once run one shared conv operator (each
 * path) and each its own instance of one network (a network must not be run
 * from two threads at once: its activation buffers are shared by its runs),
 * on their own buffers. With OpenMP parallelism off (1 thread per run: pure
 * host-thread concurrency, the configuration ThreadSanitizer would check,
 * see docs/robustness.md) every result must be bitwise the serial one.
 * With 2 threads per run too: colconv never changes OpenBLAS's process-wide
 * thread count during a run (lowering it freed the buffers of other host
 * threads' GEMMs in Debian's OpenBLAS 0.3.21: docs/robustness.md).
 *
 * Determinism: for a given build, thread count and input, every path gives
 * bitwise identical outputs run after run (outputs poisoned with NaN before
 * each run), for each kernel family the CPU has, with the K dimension cut
 * into blocks or not, and whole networks too. Across thread counts nothing
 * is promised; the test prints whether they happened to agree. */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"
#include "../src/core/fork_cost.h"
#include "../src/core/parallel.h"

#define HOST_THREADS 4
#define ITERATIONS 8

static long compared_runs, two_thread_mismatches;

typedef struct {
    cc_conv2d_params p;
    cc_algo algo;
} conv_case;

static cc_conv2d_params params(int c, int hw, int oc, int k, int stride, int pad, int groups,
                               cc_layout layout, cc_act act)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = 2, p.in_channels = c, p.in_h = p.in_w = hw, p.out_channels = oc;
    p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
    p.groups = groups, p.layout = layout, p.activation = act;
    return p;
}

static size_t in_count_of(const cc_conv2d_params *p)
{
    return (size_t)p->batch * p->in_channels * p->in_h * p->in_w;
}

static size_t out_count_of(const cc_conv2d_params *p)
{
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(p, &oh, &ow), CC_OK);
    return (size_t)p->batch * p->out_channels * oh * ow;
}

static size_t weight_count_of(const cc_conv2d_params *p)
{
    const int groups = p->groups > 0 ? p->groups : 1;
    return (size_t)p->out_channels * (p->in_channels / groups) * p->kernel_h * p->kernel_w;
}

static cc_conv2d *make_op(const conv_case *c, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    const size_t w_count = weight_count_of(&c->p);
    float *weights = malloc(w_count * sizeof(float)), bias[256];
    tst_fill(&rng, weights, w_count, false);
    tst_fill(&rng, bias, (size_t)c->p.out_channels, false);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&c->p, c->algo, weights, bias, &op), CC_OK);
    free(weights);
    return op;
}

static cc_net *make_net(const char *name, int size)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized(name, CC_NCHW, 2, size, size, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 42), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    return net;
}

/* ---- concurrency -------------------------------------------------------- */

typedef struct {
    cc_conv2d *op;
    cc_net *net;
    const float *op_input, *net_input;
    const float *op_expected, *net_expected;
    float *op_output, *net_output;
    size_t op_count, net_count;
    int mismatches, failures, runs;
} worker;

static void *work(void *argument)
{
    worker *w = argument;
    for (int i = 0; i < ITERATIONS; i++) {
        memset(w->op_output, 0xff, w->op_count * sizeof(float));
        w->failures += cc_conv2d_run(w->op, w->op_input, w->op_output) != CC_OK;
        w->mismatches += memcmp(w->op_output, w->op_expected, w->op_count * sizeof(float)) != 0;
        memset(w->net_output, 0xff, w->net_count * sizeof(float));
        w->failures += cc_net_run(w->net, w->net_input, w->net_output) != CC_OK;
        w->mismatches += memcmp(w->net_output, w->net_expected, w->net_count * sizeof(float)) != 0;
        w->runs += 2;
    }
    return NULL;
}

static float *random_floats(size_t count, uint64_t seed)
{
    float *data = malloc(count * sizeof(float));
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, data, count, false);
    return data;
}

static void concurrent_case(const conv_case *c, const char *net_name, int net_size)
{
    const int threads_now = cc_get_num_threads();
    cc_conv2d *op = make_op(c, 5);
    worker workers[HOST_THREADS];
    const size_t op_in = in_count_of(&c->p), op_out = out_count_of(&c->p);
    for (int t = 0; t < HOST_THREADS; t++) {
        worker *w = &workers[t];
        memset(w, 0, sizeof *w);
        w->op = op;
        w->net = make_net(net_name, net_size);
        w->op_count = op_out;
        w->net_count = cc_net_output_count(w->net);
        w->op_input = random_floats(op_in, 100 + (uint64_t)t);
        w->net_input = random_floats(cc_net_input_count(w->net), 200 + (uint64_t)t);
        float *op_expected = malloc(op_out * sizeof(float));
        float *net_expected = malloc(w->net_count * sizeof(float));
        assert_int_equal(cc_conv2d_run(op, w->op_input, op_expected), CC_OK);
        assert_int_equal(cc_net_run(w->net, w->net_input, net_expected), CC_OK);
        w->op_expected = op_expected, w->net_expected = net_expected;
        w->op_output = malloc(op_out * sizeof(float));
        w->net_output = malloc(w->net_count * sizeof(float));
    }
    pthread_t threads[HOST_THREADS];
    for (int t = 0; t < HOST_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, work, &workers[t]), 0);
    for (int t = 0; t < HOST_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < HOST_THREADS; t++) {
        worker *w = &workers[t];
        if (w->failures != 0 || w->mismatches != 0)
            fail_msg("%s + %s, %d threads per run: host thread %d: %d failures, %d of %d runs "
                     "differ from the serial result", cc_algo_name(c->algo), net_name,
                     cc_get_num_threads(), t, w->failures, w->mismatches, w->runs);
        compared_runs += w->runs;
        if (threads_now > 1)
            two_thread_mismatches += w->mismatches;
        cc_net_destroy(w->net);
        free((void *)w->op_input), free((void *)w->net_input);
        free((void *)w->op_expected), free((void *)w->net_expected);
        free(w->op_output), free(w->net_output);
    }
    cc_conv2d_destroy(op);
}

static void four_host_threads(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {params(16, 20, 24, 3, 1, 1, 1, CC_NCHW, CC_ACT_RELU), CC_ALGO_IM2COL},
        {params(16, 20, 24, 3, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_IM2COL},
        {params(8, 17, 16, 3, 2, 1, 1, CC_NCHW, CC_ACT_TANH), CC_ALGO_DIRECT},
        {params(8, 17, 8, 3, 1, 1, 8, CC_NHWC, CC_ACT_RELU), CC_ALGO_DIRECT},
        {params(32, 14, 16, 1, 1, 0, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_GEMM1X1},
        {params(32, 14, 16, 1, 2, 0, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_GEMM1X1},
        {params(3, 12, 5, 5, 1, 2, 1, CC_NCHW, CC_ACT_SIGMOID), CC_ALGO_REFERENCE},
        {params(6, 15, 12, 3, 1, 1, 1, CC_NHWC, CC_ACT_RELU), CC_ALGO_AUTO},
        {params(16, 20, 24, 3, 1, 1, 1, CC_NCHW, CC_ACT_RELU), CC_ALGO_WINOGRAD},
        {params(16, 20, 24, 3, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_WINOGRAD_F6X6},
    };
    const char *nets[] = {"lenet5", "inception3a"};
    const int sizes[] = {0, 7};
    for (int threads = 1; threads <= 2; threads++) {
        cc_set_num_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            concurrent_case(&cases[i], nets[(i + (size_t)threads) % 2],
                            sizes[(i + (size_t)threads) % 2]);
    }
    cc_set_num_threads(0);
    print_message("concurrency: %ld concurrent runs compared bitwise with serial runs; "
                  "%ld of the 2-thread ones differed\n",
                  compared_runs, two_thread_mismatches);
}

/* ---- determinism -------------------------------------------------------- */

#define REPEATS 6

static long determinism_runs;

/* Runs op REPEATS times on poisoned outputs; all must match the first. */
static void expect_repeatable(cc_conv2d *op, const conv_case *c, const float *input,
                              float *first, const char *what)
{
    const size_t count = out_count_of(&c->p);
    tst_buffer out = tst_buffer_new(count);
    assert_int_equal(cc_conv2d_run(op, input, first), CC_OK);
    for (int r = 1; r < REPEATS; r++) {
        tst_buffer_poison(&out);
        assert_int_equal(cc_conv2d_run(op, input, out.data), CC_OK);
        if (memcmp(out.data, first, count * sizeof(float)) != 0) {
            char text[256];
            tst_describe(&c->p, text, sizeof text);
            fail_msg("%s %s (%s, %d threads): run %d differs from run 0", what, text,
                     cc_algo_name(c->algo), cc_get_num_threads(), r);
        }
        assert_true(tst_buffer_guards_intact(&out));
        determinism_runs++;
    }
    tst_buffer_free(&out);
}

static void every_path_is_repeatable(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {params(16, 23, 24, 3, 1, 1, 1, CC_NCHW, CC_ACT_RELU), CC_ALGO_IM2COL},
        {params(16, 23, 24, 3, 1, 1, 1, CC_NHWC, CC_ACT_RELU), CC_ALGO_IM2COL},
        {params(12, 19, 12, 5, 2, 2, 3, CC_NCHW, CC_ACT_NONE), CC_ALGO_IM2COL},
        {params(64, 9, 40, 3, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_IM2COL},
        {params(16, 23, 24, 3, 1, 1, 1, CC_NCHW, CC_ACT_RELU), CC_ALGO_DIRECT},
        {params(16, 23, 24, 3, 2, 0, 1, CC_NCHW, CC_ACT_TANH), CC_ALGO_DIRECT},
        {params(16, 23, 24, 3, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_DIRECT},
        {params(16, 23, 16, 3, 1, 1, 16, CC_NHWC, CC_ACT_NONE), CC_ALGO_DIRECT},
        {params(16, 23, 16, 5, 2, 2, 16, CC_NCHW, CC_ACT_NONE), CC_ALGO_DIRECT},
        {params(48, 15, 32, 1, 1, 0, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_GEMM1X1},
        {params(48, 15, 32, 1, 2, 0, 1, CC_NHWC, CC_ACT_RELU), CC_ALGO_GEMM1X1},
        {params(3, 13, 4, 3, 1, 1, 1, CC_NCHW, CC_ACT_SIGMOID), CC_ALGO_REFERENCE},
        {params(3, 13, 4, 3, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_AUTO},
        {params(16, 23, 24, 3, 1, 1, 1, CC_NCHW, CC_ACT_RELU), CC_ALGO_WINOGRAD},
        {params(16, 23, 24, 3, 1, 1, 1, CC_NHWC, CC_ACT_NONE), CC_ALGO_WINOGRAD},
        {params(20, 30, 12, 3, 1, 1, 1, CC_NCHW, CC_ACT_NONE), CC_ALGO_WINOGRAD_F6X6},
    };
    const cc__isa widest = cc__cpu_isa();
    const size_t budgets[] = {0, 4096}; /* default tiles, and tiles cut small (K blocks) */
    int differ_across_threads = 0, compared_across_threads = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *c = &cases[i];
        const size_t count = out_count_of(&c->p);
        float *input = random_floats(in_count_of(&c->p), 7 + i);
        float *first = malloc(count * sizeof(float)), *one_thread = malloc(count * sizeof(float));
        for (int isa = CC__ISA_SCALAR; isa <= (int)widest; isa++) {
            if (c->algo != CC_ALGO_DIRECT && isa != (int)widest)
                continue;
            cc__set_isa_cap((cc__isa)isa);
            for (size_t b = 0; b < 2; b++) {
                if (b == 1 && c->algo != CC_ALGO_IM2COL && c->algo != CC_ALGO_GEMM1X1)
                    continue;
                cc__set_tile_budget_bytes(budgets[b]);
                for (int threads = 1; threads <= 3; threads++) {
                    cc_set_num_threads(threads);
                    cc_conv2d *op = make_op(c, 11 + i);
                    expect_repeatable(op, c, input, threads == 1 ? one_thread : first, "conv");
                    if (threads > 1) {
                        compared_across_threads++;
                        differ_across_threads +=
                            memcmp(first, one_thread, count * sizeof(float)) != 0;
                    }
                    cc_conv2d_destroy(op);
                }
            }
        }
        cc__set_isa_cap(CC__ISA_AVX512);
        cc__set_tile_budget_bytes(0);
        free(input), free(first), free(one_thread);
    }
    cc_set_num_threads(0);
    print_message("determinism: %ld conv runs identical to the first of their series; "
                  "%d of %d multi-threaded series differed from 1 thread (allowed)\n",
                  determinism_runs, differ_across_threads, compared_across_threads);
}

static void networks_are_repeatable(void **state)
{
    (void)state;
    const char *names[] = {"lenet5", "lenet", "inception3a", "bottleneck"};
    const int sizes[] = {0, 0, 9, 9};
    long runs = 0;
    for (int threads = 1; threads <= 2; threads++) {
        cc_set_num_threads(threads);
        for (size_t i = 0; i < 4; i++) {
            cc_net *net = make_net(names[i], sizes[i]);
            const size_t count = cc_net_output_count(net);
            float *input = random_floats(cc_net_input_count(net), 3);
            float *first = malloc(count * sizeof(float)), *again = malloc(count * sizeof(float));
            assert_int_equal(cc_net_run(net, input, first), CC_OK);
            for (int r = 1; r < REPEATS; r++) {
                memset(again, 0xff, count * sizeof(float));
                assert_int_equal(cc_net_run(net, input, again), CC_OK);
                if (memcmp(again, first, count * sizeof(float)) != 0)
                    fail_msg("%s (%d threads): run %d differs from run 0", names[i], threads, r);
                runs++;
            }
            cc_net_destroy(net);
            free(input), free(first), free(again);
        }
    }
    cc_set_num_threads(0);
    determinism_runs += runs;
    print_message("determinism: %ld network runs identical to the first of their series; "
                  "%ld runs compared in all\n", runs, determinism_runs);
}

/* ---- core/parallel.h ------------------------------------------------------ */

#define MOST_UNITS 100

/* Every unit runs once, on a thread whose index is below the team's size
 * (the index of the calling thread alone is 0), for teams of 1 to 3 and 0,
 * 1, a few and many units, static and dynamic; CC__PARALLEL runs its block
 * once per part. */
static void parallel_helpers_run_each_unit_once(void **state)
{
    (void)state;
    const size_t unit_counts[] = {0, 1, 2, 7, MOST_UNITS};
    for (int threads = 1; threads <= 3; threads++)
        for (size_t c = 0; c < sizeof unit_counts / sizeof unit_counts[0]; c++) {
            const size_t units = unit_counts[c];
            int runs[MOST_UNITS] = {0}, runs_dynamic[MOST_UNITS] = {0}, slots[MOST_UNITS];
            CC__PARALLEL_FOR(size_t, u, units, threads, { runs[u]++; });
            CC__PARALLEL_FOR_SCHEDULE(size_t, u, units, thread, threads, dynamic, {
                runs_dynamic[u]++;
                slots[u] = thread;
            });
            for (size_t u = 0; u < units; u++) {
                assert_int_equal(runs[u], 1);
                assert_int_equal(runs_dynamic[u], 1);
                assert_true(slots[u] >= 0 && slots[u] < threads);
                if (threads == 1 || units == 1)
                    assert_int_equal(slots[u], 0);
            }
        }
    for (int threads = 1; threads <= 3; threads++) {
        /* Each part writes its own entries only. */
        int parts_seen[3] = {0}, team_of[3] = {0};
        CC__PARALLEL(part, parts, threads, {
            parts_seen[part]++;
            team_of[part] = parts;
        });
        const int team = team_of[0];
        assert_true(team >= 1 && team <= threads);
        for (int part = 0; part < 3; part++) {
            assert_int_equal(parts_seen[part], part < team ? 1 : 0);
            assert_int_equal(team_of[part], part < team ? team : 0);
        }
    }
}

/* Called on one thread inside a host's parallel region, a loop's slot
 * index is 0 on each host thread, whatever the host thread's own number:
 * per-thread slots sized for one thread stay in bounds. */
static void parallel_helpers_inside_a_host_region(void **state)
{
    (void)state;
    int wrong = 0;
#pragma omp parallel num_threads(2) reduction(+ : wrong)
    {
        CC__PARALLEL_FOR_SCHEDULE(size_t, u, 5, thread, 1, static, { wrong += thread != 0; });
        CC__PARALLEL(part, parts, 1, { wrong += part != 0 || parts != 1; });
    }
    assert_int_equal(wrong, 0);
}

/* The fork cost is measured once per team size and kept; inside a
 * parallel region an unmeasured size gives the fixed fallback. */
static void fork_cost_measured_once(void **state)
{
    (void)state;
    cc__set_fork_cost_ns(2, 0);
    const double cost = cc__fork_cost_ns(2);
    assert_true(cost > 0 && cost < 1e9);
    assert_true(cc__fork_cost_ns(2) == cost);
    cc__set_fork_cost_ns(3, 0);
    double inside = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp master
        inside = cc__fork_cost_ns(3);
    }
    assert_true(inside == CC__FORK_COST_UNMEASURED_NS);
    cc__set_fork_cost_ns(2, 0);
}

/* The direct path forks a small layer where the fork is cheap for its
 * work, and keeps it on one thread where it is dear; other paths keep
 * their fixed bound (LeNet-5's 1 -> 6 5x5: 117600 multiply-adds). */
static int threads_of(cc_algo algo, double fork_ns)
{
    cc_conv2d_params p = {1, 1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, CC_NCHW,
                          CC_ACT_NONE};
    float weights[6 * 25] = {0};
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, algo, weights, NULL, &op), CC_OK);
    cc__set_fork_cost_ns(2, fork_ns);
    const int threads = cc_conv2d_num_threads(op);
    cc_conv2d_destroy(op);
    return threads;
}

static void direct_threads_follow_the_fork_cost(void **state)
{
    (void)state;
    const int saved = cc_get_num_threads();
    cc_set_num_threads(2);
    assert_int_equal(threads_of(CC_ALGO_DIRECT, 1000), 2);
    assert_int_equal(threads_of(CC_ALGO_DIRECT, 5000), 1);
    assert_int_equal(threads_of(CC_ALGO_IM2COL, 1000), 1);
    cc__set_fork_cost_ns(2, 0);
    cc_set_num_threads(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_host_threads),
        cmocka_unit_test(every_path_is_repeatable),
        cmocka_unit_test(networks_are_repeatable),
        cmocka_unit_test(parallel_helpers_run_each_unit_once),
        cmocka_unit_test(parallel_helpers_inside_a_host_region),
        cmocka_unit_test(fork_cost_measured_once),
        cmocka_unit_test(direct_threads_follow_the_fork_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
