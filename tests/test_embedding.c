/* colconv inside a host application: networks run from several host
 * pthreads at once, networks run from inside the host's own OpenMP parallel
 * region (one thread each, no nested teams even when the host enables
 * nesting), the thread count shared with OpenBLAS, and an allocator hook
 * that sees every allocation of a network's whole life. */
#include "support.h"

#include <cblas.h>
#include <dirent.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20240611u

/* ---- helpers ---- */

/* A built zoo network with He weights (seed 1) and its buffers. */
typedef struct {
    cc_net *net;
    float *output;
    size_t output_count;
    cc_status status;
} net_run;

static cc_status make_net(const char *name, cc_layout layout, int batch, net_run *run)
{
    memset(run, 0, sizeof *run);
    cc_status s = cc_net_zoo_create(name, layout, batch, &run->net);
    if (s == CC_OK)
        s = cc_net_init_weights(run->net, CC_INIT_HE, 1);
    if (s == CC_OK)
        s = cc_net_build(run->net, NULL);
    if (s == CC_OK) {
        run->output_count = cc_net_output_count(run->net);
        run->output = malloc(run->output_count * sizeof(float));
        s = run->output != NULL ? CC_OK : CC_ERR_NOMEM;
    }
    return s;
}

static void free_net(net_run *run)
{
    cc_net_destroy(run->net);
    free(run->output);
}

static float *random_input(const cc_net *net, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    const size_t count = cc_net_input_count(net);
    float *input = malloc(count * sizeof(float));
    assert_non_null(input);
    tst_fill(&rng, input, count, false);
    return input;
}

/* Threads of this process, from /proc/self/task (Linux). */
static int process_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    assert_non_null(dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;)
        count += entry->d_name[0] != '.';
    closedir(dir);
    return count;
}

static void assert_close(const float *got, const float *want, size_t count, const char *what)
{
    const size_t at = tst_first_mismatch(got, want, count, tst_conv_tolerance(want, count));
    if (at != count)
        fail_msg("%s: element %zu is %g, expected %g (seed %u)", what, at, (double)got[at],
                 (double)want[at], SEED);
}

/* ---- several host pthreads ---- */

typedef struct {
    net_run run;
    const char *name;
    cc_layout layout;
    const float *input;
} pthread_job;

/* Each host thread creates, builds and runs its own network five times. */
static void *pthread_job_main(void *argument)
{
    pthread_job *job = argument;
    job->run.status = make_net(job->name, job->layout, 2, &job->run);
    for (int i = 0; i < 5 && job->run.status == CC_OK; i++)
        job->run.status = cc_net_run(job->run.net, job->input, job->run.output);
    return NULL;
}

/* Four pthreads, two networks in two layouts, each thread running an
 * OpenMP team of cc_get_num_threads() threads: results as computed alone. */
static void networks_from_four_pthreads(void **state)
{
    (void)state;
    static const char *const names[2] = {"lenet5", "lenet"};
    static const cc_layout layouts[2] = {CC_NCHW, CC_NHWC};
    net_run alone[2];
    float *inputs[2];
    cc_set_num_threads(1);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(make_net(names[k], layouts[k], 2, &alone[k]), CC_OK);
        inputs[k] = random_input(alone[k].net, SEED + (uint64_t)k);
        assert_int_equal(cc_net_run(alone[k].net, inputs[k], alone[k].output), CC_OK);
    }

    cc_set_num_threads(2);
    pthread_job jobs[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (pthread_job){.name = names[t % 2], .layout = layouts[t % 2], .input = inputs[t % 2]};
        assert_int_equal(pthread_create(&threads[t], NULL, pthread_job_main, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < 4; t++) {
        if (jobs[t].run.status != CC_OK)
            fail_msg("thread %d: %s", t, cc_status_str(jobs[t].run.status));
        assert_int_equal(jobs[t].run.output_count, alone[t % 2].output_count);
        assert_close(jobs[t].run.output, alone[t % 2].output, alone[t % 2].output_count,
                     names[t % 2]);
        free_net(&jobs[t].run);
    }
    for (int k = 0; k < 2; k++) {
        free_net(&alone[k]);
        free(inputs[k]);
    }
    cc_set_num_threads(0);
}

/* ---- inside the host's OpenMP parallel region ---- */

/* The host enables nested parallelism and asks colconv for 4 threads, then
 * runs one network per thread of its own 2-thread region: each run uses one
 * thread (no team is nested inside the host's, so the process gains no
 * threads) and gives the one-thread result. The last step checks that a
 * nested team would have been seen. */
static void runs_inside_host_region_use_one_thread(void **state)
{
    (void)state;
    net_run nets[2];
    float *expected = NULL;
    for (int t = 0; t < 2; t++)
        assert_int_equal(make_net("lenet", CC_NCHW, 4, &nets[t]), CC_OK);
    float *input = random_input(nets[0].net, SEED);
    const size_t count = nets[0].output_count;
    expected = malloc(count * sizeof(float));
    assert_non_null(expected);

    cc_set_num_threads(1);
    assert_int_equal(cc_net_run(nets[0].net, input, expected), CC_OK);
    /* A 4-thread run outside any region: OpenMP's thread pool now holds the
     * threads a top-level team of 4 needs. */
    cc_set_num_threads(4);
    assert_int_equal(cc_net_run(nets[0].net, input, nets[0].output), CC_OK);
    assert_close(nets[0].output, expected, count, "4 threads");

    const int saved_levels = omp_get_max_active_levels();
    omp_set_max_active_levels(4);
    const int before = process_threads();
    cc_status status[2] = {CC_ERR_INVALID_ARG, CC_ERR_INVALID_ARG};
#pragma omp parallel num_threads(2)
    {
        const int t = omp_get_thread_num();
        for (int i = 0; i < 3; i++)
            status[t] = cc_net_run(nets[t].net, input, nets[t].output);
    }
    const int after = process_threads();
    for (int t = 0; t < 2; t++) {
        assert_int_equal(status[t], CC_OK);
        assert_memory_equal(nets[t].output, expected, count * sizeof(float));
    }
    if (after > before)
        fail_msg("runs inside the host's region started %d threads", after - before);

    int nested_threads = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp parallel num_threads(4)
#pragma omp single
        {
            const int seen = process_threads();
#pragma omp critical
            nested_threads = seen > nested_threads ? seen : nested_threads;
        }
    }
    assert_true(nested_threads > before);
    omp_set_max_active_levels(saved_levels);

    for (int t = 0; t < 2; t++)
        free_net(&nets[t]);
    free(input);
    free(expected);
    cc_set_num_threads(0);
}

/* cc_set_num_threads sets OpenBLAS's count with colconv's. */
static void openblas_thread_count_follows(void **state)
{
    (void)state;
    cc_set_num_threads(3);
    assert_int_equal(cc_get_num_threads(), 3);
    assert_int_equal(openblas_get_num_threads(), 3);
    cc_set_num_threads(1);
    assert_int_equal(openblas_get_num_threads(), 1);
    cc_set_num_threads(0);
    assert_int_equal(cc_get_num_threads(), omp_get_num_procs());
    assert_int_equal(openblas_get_num_threads(), omp_get_num_procs());
}

/* ---- the allocator hook ---- */

typedef struct {
    long calls, frees, live;
    size_t bytes;
    int fail;
} counting_allocator;

static void *counting_alloc(void *context, size_t alignment, size_t size)
{
    counting_allocator *c = context;
    c->calls++;
    if (c->fail)
        return NULL;
    void *p = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p != NULL) {
        c->live++;
        c->bytes += size;
    }
    return p;
}

static void counting_free(void *context, void *pointer)
{
    counting_allocator *c = context;
    if (pointer != NULL) {
        c->frees++;
        c->live--;
    }
    free(pointer);
}

/* A network's whole life goes through the hook: the graph, the weights, the
 * plan, the operators, their workspaces; the run allocates nothing; destroy
 * returns every block. A hook that always fails makes creation fail
 * cleanly. (That nothing bypasses the hook is also checked on the library's
 * symbols by .ci/packaging.sh: only alloc.c references the C allocator.) */
static void allocator_sees_a_whole_network(void **state)
{
    (void)state;
    counting_allocator c = {0};
    const cc_allocator hook = {&c, counting_alloc, counting_free};
    assert_int_equal(cc_set_allocator(&hook), CC_OK);
    net_run run;
    assert_int_equal(make_net("inception3a", CC_NHWC, 1, &run), CC_OK);
    float *input = random_input(run.net, SEED);
    const long calls_before_run = c.calls;
    assert_true(c.bytes >= 163696 * sizeof(float)); /* at least the weights */
    assert_int_equal(cc_net_run(run.net, input, run.output), CC_OK);
    assert_int_equal(c.calls, calls_before_run);
    free_net(&run);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.frees, c.calls);

    c.fail = 1;
    cc_net *net = (cc_net *)&net;
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 1, &net), CC_ERR_NOMEM);
    assert_null(net);
    assert_true(c.calls > calls_before_run);
    assert_int_equal(c.live, 0);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    free(input);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(networks_from_four_pthreads),
        cmocka_unit_test(runs_inside_host_region_use_one_thread),
        cmocka_unit_test(openblas_thread_count_follows),
        cmocka_unit_test(allocator_sees_a_whole_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
