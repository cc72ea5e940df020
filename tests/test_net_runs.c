/* What a built network holds and how it runs: one conv workspace shared by
 * all the convs (sized at the build, grown by a run after the thread count
 * rose, CC_ERR_NOMEM when that fails), no copy of FC weights at batch 1,
 * and runs of one network from several host threads at once, serialised,
 * giving the serial results bit for bit. */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"
#include "../src/net/net_internal.h"

#define SEED 777u

/* ---- helpers ---- */

/* A zoo network, weights initialised, its convs on the im2col path, which
 * holds a workspace on every layer (AUTO's picks change as paths improve). */
static cc_net *im2col_zoo(const char *name, cc_layout layout, int batch, int size)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized(name, layout, batch, size, size, &net), CC_OK);
    for (int i = 0; i < net->node_count; i++)
        if (net->nodes[i].kind == CC__NODE_CONV)
            net->nodes[i].u.conv.algo = CC_ALGO_IM2COL;
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
    return net;
}

/* Layers in the network's layout: the figures these tests expect are its
 * (the workspace of NCHW tiles). */
static cc_net *built_zoo(const char *name, cc_layout layout, int batch, int size)
{
    cc_net *net = im2col_zoo(name, layout, batch, size);
    const cc_net_build_options keep = {
        .compute_layout = layout == CC_NCHW ? CC_COMPUTE_NCHW : CC_COMPUTE_NHWC};
    assert_int_equal(cc_net_build(net, &keep), CC_OK);
    return net;
}

static float *random_input(const cc_net *net, uint64_t seed)
{
    const size_t count = cc_net_input_count(net);
    float *x = malloc(count * sizeof(float));
    assert_non_null(x);
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, x, count, false);
    return x;
}

static float *output_of(cc_net *net, const float *input)
{
    float *y = malloc(cc_net_output_count(net) * sizeof(float));
    assert_non_null(y);
    assert_int_equal(cc_net_run(net, input, y), CC_OK);
    return y;
}

static cc_net_stats stats_of(const cc_net *net)
{
    cc_net_stats stats;
    assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
    return stats;
}

/* The summary's workspace line holds "N held" with N as held now. */
static void expect_summary_holds(const cc_net *net, size_t bytes)
{
    char digits[32], grouped[48], want[96];
    const int n = snprintf(digits, sizeof digits, "%zu", bytes);
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[out++] = ',';
        grouped[out++] = digits[i];
    }
    grouped[out] = '\0';
    snprintf(want, sizeof want, "Conv workspace bytes: %s held", grouped);
    char text[16384];
    assert_int_equal(cc_net_summary(net, text, sizeof text, NULL), CC_OK);
    if (strstr(text, want) == NULL)
        fail_msg("no '%s' in\n%s", want, text);
}

/* An allocator refusing blocks of exactly `size` bytes (as cc__alloc asks:
 * header included), or every block when size is 0. */
typedef struct {
    size_t size;
    int refused;
} refusal;

static void *refuse(void *context, size_t alignment, size_t size)
{
    refusal *r = context;
    if (r->size == 0 || r->size == size) {
        r->refused++;
        return NULL;
    }
    return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

static void release(void *context, void *pointer)
{
    (void)context;
    free(pointer);
}

/* ---- one shared workspace ---- */

/* Inception 3a's 3x3 and 5x5 convs both need a workspace: the network
 * holds one, the larger need, and no operator holds its own. */
static void workspace_is_shared(void **state)
{
    (void)state;
    cc_set_num_threads(2);
    cc_net *net = built_zoo("inception3a", CC_NCHW, 1, 0);
    const cc_net_stats s = stats_of(net);
    size_t largest = 0, sum = 0, needing = 0;
    for (int i = 0; i < net->node_count; i++) {
        const cc_conv2d *op = net->packed->ops[i];
        if (op == NULL)
            continue;
        assert_int_equal(cc_conv2d_workspace_size(op), 0);
        const size_t need = cc__conv2d_workspace_need(op, cc__conv_threads(op));
        largest = need > largest ? need : largest;
        sum += need;
        needing += need > 0;
    }
    assert_true(needing >= 2);
    assert_int_equal(s.workspace_bytes, largest);
    assert_int_equal(s.shared_workspace_bytes, largest);
    assert_int_equal(s.per_conv_workspace_bytes, sum);
    assert_true(s.workspace_bytes < s.per_conv_workspace_bytes);
    expect_summary_holds(net, s.workspace_bytes);
    cc_net_destroy(net);
    cc_set_num_threads(0);
}

/* A build that cannot allocate the workspace fails with CC_ERR_NOMEM
 * naming it, leaves the network unbuilt, and may be tried again. */
static void workspace_nomem_at_build(void **state)
{
    (void)state;
    cc_set_num_threads(2);
    cc_net *probe = built_zoo("inception3a", CC_NHWC, 1, 0);
    const size_t bytes = stats_of(probe).workspace_bytes;
    cc_net_destroy(probe);
    assert_true(bytes > 0);

    cc_net *net = im2col_zoo("inception3a", CC_NHWC, 1, 0);
    refusal r = {bytes + CC__ALIGNMENT, 0};
    const cc_allocator refusing = {&r, refuse, release};
    assert_int_equal(cc_set_allocator(&refusing), CC_OK);
    const cc_status status = cc_net_build(net, NULL);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(status, CC_ERR_NOMEM);
    assert_int_equal(r.refused, 1);
    assert_non_null(strstr(cc_last_error(), "workspace"));
    assert_false(stats_of(net).built);
    float *x = random_input(net, SEED);
    float y[1];
    assert_int_equal(cc_net_run(net, x, y), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    assert_int_equal(stats_of(net).workspace_bytes, bytes);
    free(x);
    cc_net_destroy(net);
    cc_set_num_threads(0);
}

/* Built at 1 thread, run at 4: Caffe's LeNet at batch 4 in NCHW spreads
 * its convs' tiles over the threads, each with its own part of the
 * workspace, so the run grows it (CC_ERR_NOMEM when it cannot, the network
 * still usable); then runs allocate nothing again. Results agree with the
 * 1-thread run. Its conv2 in its NCHW kernels: in NHWC (AVX-512) its
 * GEMM would run on BLAS's threads, in one tile. */
static void workspace_grows_when_threads_rise(void **state)
{
    (void)state;
    cc__set_nhwc_inside(CC__NHWC_INSIDE_NEVER);
    cc_set_num_threads(1);
    cc_net *net = built_zoo("lenet", CC_NCHW, 4, 0);
    float *x = random_input(net, SEED);
    float *alone = output_of(net, x);
    const size_t held = stats_of(net).workspace_bytes;

    cc_set_num_threads(4);
    const cc_net_stats risen = stats_of(net);
    assert_int_equal(risen.workspace_bytes, held);
    assert_true(risen.shared_workspace_bytes > held);

    const size_t count = cc_net_output_count(net);
    float *y = malloc(count * sizeof(float));
    assert_non_null(y);
    refusal none = {0, 0};
    const cc_allocator refusing = {&none, refuse, release};
    assert_int_equal(cc_set_allocator(&refusing), CC_OK);
    const cc_status refused = cc_net_run(net, x, y);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(refused, CC_ERR_NOMEM);
    assert_int_equal(none.refused, 1);
    assert_non_null(strstr(cc_last_error(), "workspace"));
    assert_int_equal(stats_of(net).workspace_bytes, held);

    assert_int_equal(cc_net_run(net, x, y), CC_OK);
    const cc_net_stats grown = stats_of(net);
    assert_int_equal(grown.workspace_bytes, risen.shared_workspace_bytes);
    expect_summary_holds(net, grown.workspace_bytes);
    const size_t bad = tst_first_mismatch(y, alone, count, tst_conv_tolerance(alone, count));
    if (bad != count)
        fail_msg("4 threads: element %zu is %g, 1 thread gave %g (seed %u)", bad, (double)y[bad],
                 (double)alone[bad], SEED);

    none.refused = 0;
    assert_int_equal(cc_set_allocator(&refusing), CC_OK);
    const cc_status again = cc_net_run(net, x, y);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(again, CC_OK);
    assert_int_equal(none.refused, 0);
    free(x);
    free(y);
    free(alone);
    cc_net_destroy(net);
    cc_set_num_threads(0);
    cc__set_nhwc_inside(CC__NHWC_INSIDE_RULE);
}

/* ---- FC weights at batch 1 ---- */

static const float *fc_packed(const cc_net *net, const char *name)
{
    for (int i = 0; i < net->node_count; i++)
        if (strcmp(net->nodes[i].name, name) == 0)
            return net->packed->data[i];
    fail_msg("no layer '%s'", name);
    return NULL;
}

/* At batch 1 an FC needs its [outputs][inputs] tensor as it is, so the
 * build keeps no copy, except a permuted one for an NHWC image input (only
 * LeNet-5's fc1); above batch 1 every FC has its transposed copy. A tensor
 * set after the build is what the next run uses. */
static void fc_at_batch1_reads_the_tensor(void **state)
{
    (void)state;
    static const char *const fcs[3] = {"fc1", "fc2", "fc3"};
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        for (int batch = 1; batch <= 2; batch++) {
            cc_net *net = built_zoo("lenet5", (cc_layout)layout, batch, 0);
            for (int k = 0; k < 3; k++) {
                const bool copied = batch > 1 || (layout == CC_NHWC && k == 0);
                if ((fc_packed(net, fcs[k]) != NULL) != copied)
                    fail_msg("%s, batch %d, %s: copy %s", layout == CC_NCHW ? "NCHW" : "NHWC",
                             batch, fcs[k], copied ? "missing" : "held");
            }
            float zeros[10 * 84] = {0}, bias[10];
            for (int o = 0; o < 10; o++)
                bias[o] = (float)o - 4.5f;
            assert_int_equal(cc_net_set_tensor(net, "fc3.weight", zeros, 10 * 84), CC_OK);
            assert_int_equal(cc_net_set_tensor(net, "fc3.bias", bias, 10), CC_OK);
            float *x = random_input(net, SEED);
            float *y = output_of(net, x);
            for (int n = 0; n < batch; n++)
                assert_memory_equal(y + n * 10, bias, sizeof bias);
            free(x);
            free(y);
            cc_net_destroy(net);
        }
    }
}

/* ---- runs of one network from several host threads ---- */

#define INPUTS 3
#define HOST_THREADS 4
#define RUNS_PER_THREAD 5

typedef struct {
    cc_net *net;
    const float *const *inputs;   /* INPUTS inputs */
    const float *const *expected; /* their serial outputs */
    int index;                    /* this thread's number */
    cc_status status;
    int mismatches;
} host_job;

/* Runs the shared network on inputs index, index + 1, ... and compares
 * each output with the serial one, bit for bit. */
static void *host_job_main(void *argument)
{
    host_job *job = argument;
    const size_t count = cc_net_output_count(job->net);
    float *y = malloc(count * sizeof(float));
    job->status = y != NULL ? CC_OK : CC_ERR_NOMEM;
    for (int r = 0; r < RUNS_PER_THREAD && job->status == CC_OK; r++) {
        const int k = (job->index + r) % INPUTS;
        job->status = cc_net_run(job->net, job->inputs[k], y);
        job->mismatches += job->status == CC_OK &&
                           memcmp(y, job->expected[k], count * sizeof(float)) != 0;
    }
    free(y);
    return NULL;
}

static void expect_concurrent_runs_match_serial(cc_net *net, const char *what)
{
    float *inputs[INPUTS], *expected[INPUTS];
    for (int k = 0; k < INPUTS; k++) {
        inputs[k] = random_input(net, SEED + (uint64_t)k);
        expected[k] = output_of(net, inputs[k]);
    }
    host_job jobs[HOST_THREADS];
    pthread_t threads[HOST_THREADS];
    for (int t = 0; t < HOST_THREADS; t++) {
        jobs[t] = (host_job){net, (const float *const *)inputs, (const float *const *)expected,
                             t, CC_OK, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, host_job_main, &jobs[t]), 0);
    }
    for (int t = 0; t < HOST_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < HOST_THREADS; t++) {
        if (jobs[t].status != CC_OK)
            fail_msg("%s, host thread %d: %s", what, t, cc_status_str(jobs[t].status));
        if (jobs[t].mismatches != 0)
            fail_msg("%s, host thread %d: %d of %d runs differ from the serial ones (seed %u)",
                     what, t, jobs[t].mismatches, RUNS_PER_THREAD, SEED);
    }
    for (int k = 0; k < INPUTS; k++) {
        free(inputs[k]);
        free(expected[k]);
    }
}

/* LeNet-5 and a bottleneck block (its add fused, its 3x3 conv on two
 * threads with the shared workspace), each run by 4 host threads at once.
 * One network at a time: OpenBLAS's thread count is process-wide, so two
 * networks running at once could partition a GEMM differently. */
static void concurrent_runs_match_serial(void **state)
{
    (void)state;
    cc_set_num_threads(2);
    cc_net *lenet5 = built_zoo("lenet5", CC_NCHW, 2, 0);
    expect_concurrent_runs_match_serial(lenet5, "lenet5");
    cc_net_destroy(lenet5);
    cc_net *block = built_zoo("bottleneck", CC_NHWC, 1, 14);
    assert_true(stats_of(block).workspace_bytes > 0);
    expect_concurrent_runs_match_serial(block, "bottleneck");
    cc_net_destroy(block);
    cc_set_num_threads(0);
}

/* cc_net_run_timed gives the same output as cc_net_run, a time for every
 * layer that runs, 0 for the input and for fused layers. */
static void timed_run_profiles_each_layer(void **state)
{
    (void)state;
    cc_net *net = built_zoo("lenet5", CC_NCHW, 2, 0);
    float *input = random_input(net, SEED);
    const size_t count = cc_net_output_count(net);
    float *plain = malloc(count * sizeof(float)), *timed = malloc(count * sizeof(float));
    const int nodes = cc_net_node_count(net);
    double *layer_ms = malloc((size_t)nodes * sizeof(double));
    assert_int_equal(cc_net_run(net, input, plain), CC_OK);
    assert_int_equal(cc_net_run_timed(net, input, timed, layer_ms), CC_OK);
    assert_memory_equal(plain, timed, count * sizeof(float));
    int timed_layers = 0;
    for (int i = 0; i < nodes; i++) {
        cc_net_layer_info info;
        assert_int_equal(cc_net_get_layer_info(net, i, &info), CC_OK);
        if (i == cc_net_input(net) || info.fused)
            assert_true(layer_ms[i] == 0.0);
        else
            assert_true(layer_ms[i] >= 0.0), timed_layers++;
    }
    assert_true(timed_layers >= 5); /* 2 conv, 2 pool, 3 dense; tanh fused */
    assert_int_equal(cc_net_run_timed(net, input, timed, NULL), CC_ERR_INVALID_ARG);
    free(layer_ms);
    free(plain);
    free(timed);
    free(input);
    cc_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workspace_is_shared),
        cmocka_unit_test(workspace_nomem_at_build),
        cmocka_unit_test(workspace_grows_when_threads_rise),
        cmocka_unit_test(fc_at_batch1_reads_the_tensor),
        cmocka_unit_test(concurrent_runs_match_serial),
        cmocka_unit_test(timed_run_profiles_each_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
