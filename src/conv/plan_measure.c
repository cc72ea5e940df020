/* Measuring a layer's plan: every path that can run it, created on scratch
 * data of its shapes (weights, bias and input in [-1, 1), so no denormals),
 * each at the thread counts worth trying (all, half, one: the splits), timed
 * on the wall clock.
 *
 * The cost is bounded so that planning a network costs about 20 runs of it:
 *   1. each path: one warm-up (page faults of its workspace, the OpenMP
 *      team's start), then one timed run per split: the screen; a path
 *      whose warm-up took WARMUP_CUTOFF times the fastest warm-up before
 *      it is left out there (it could not come within SCREEN_RATIO: its
 *      screen runs only cost time, 2-4x a fast path's on VGG's layers);
 *   2. the finalists, at most 3 candidates within 1.5x of the fastest
 *      screen time, and the cost rule's pick on all threads whatever its
 *      screen time (one run is one sample: a hiccup of the machine during
 *      it left AlexNet's conv4 on a path 4.7x slower than Winograd), run
 *      in rounds (one run each per round, so that a drift of the
 *      machine's speed hits them alike) until 5 rounds or, after 2,
 *      until the rounds have taken 8 times the fastest screen time (at
 *      least 1 ms, so that layers of microseconds get their 5 rounds); the
 *      warm-up and the screen run are a finalist's two warm-up runs, and
 *      its median is over its rounds only;
 *   3. the least median wins; ties go to the earlier candidate, and the cost
 *      rule's pick comes first.
 * With 3 paths and 2 splits that is 9 runs, then 2-3 finalists x 2-5
 * rounds: about 20 runs of the fastest path, plus what the slower paths'
 * single runs cost beyond it. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "plan.h"

enum {
    PATHS = 4,
    SPLITS = 3,
    MAX_CANDIDATES = PATHS * SPLITS,
    MAX_FINALISTS = 3,
    MIN_ROUNDS = 2,
    MAX_ROUNDS = 5
};
#define SCREEN_RATIO 1.5
#define WARMUP_CUTOFF 3.0
#define ROUNDS_BUDGET 8.0
#define ROUNDS_MIN_BUDGET_MS 1.0

typedef struct {
    float *weights, *bias, *input, *output;
} scratch;

typedef struct {
    cc_conv2d *op; /* one of the session's, shared by a path's splits */
    cc_algo algo;
    int threads;   /* what cc__conv_threads gives under this split */
    double screen_ms;
    double ms[MAX_ROUNDS];
    int runs;
} candidate;

typedef struct {
    const cc__conv_geom *g;
    scratch data;
    cc_conv2d *ops[PATHS];
    int op_count;
    candidate c[MAX_CANDIDATES];
    int count;
    double fastest_warmup_ms; /* 0 before the first */
    cc_algo estimate;         /* the cost rule's pick */
} session;

double cc__plan_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Values in [-1, 1) from a linear congruential generator. */
static void fill(float *data, size_t count, uint32_t state)
{
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        data[i] = (float)(state >> 8) / 8388608.0f - 1.0f;
    }
}

static cc_status scratch_alloc(const cc__conv_geom *g, scratch *s)
{
    const size_t weights = cc__geom_weight_floats(g), input = cc__geom_input_floats(g);
    const size_t output = cc__geom_output_floats(g);
    s->weights = cc__alloc_array(weights, sizeof(float), "plans: scratch weights");
    s->bias = cc__alloc_array((size_t)g->oc, sizeof(float), "plans: scratch bias");
    s->input = cc__alloc_array(input, sizeof(float), "plans: scratch input");
    s->output = cc__alloc_array(output, sizeof(float), "plans: scratch output");
    if (s->weights == NULL || s->bias == NULL || s->input == NULL || s->output == NULL)
        return CC_ERR_NOMEM;
    fill(s->weights, weights, 1u);
    fill(s->bias, (size_t)g->oc, 2u);
    fill(s->input, input, 3u);
    memset(s->output, 0, output * sizeof(float)); /* its pages are touched before timing */
    return CC_OK;
}

static void session_free(session *m)
{
    for (int i = 0; i < m->op_count; i++)
        cc_conv2d_destroy(m->ops[i]);
    cc__free(m->data.weights);
    cc__free(m->data.bias);
    cc__free(m->data.input);
    cc__free(m->data.output);
}

static _Atomic(cc__plan_timer) test_timer;

void cc__plan_set_timer(cc__plan_timer timer) { atomic_store(&test_timer, timer); }

/* One run of op on at most `cap` threads (0: all); *ms is its wall time, or
 * what the tests' timer says it took. */
static cc_status run(cc_conv2d *op, int cap, const scratch *s, double *ms)
{
    op->thread_cap = cap;
    const double start = cc__plan_now_ms();
    const cc_status status = cc__conv2d_run_ex(op, s->input, s->output, NULL, NULL, 0);
    *ms = cc__plan_now_ms() - start;
    const cc__plan_timer timer = atomic_load(&test_timer);
    if (timer != NULL)
        *ms = timer(op->algo, cc__conv_threads(op));
    return status;
}

/* The splits of an operator: all threads, half, one, each once by the
 * thread count it gives (a small layer runs on one thread whatever); only
 * all threads for a path whose warm-up on them took over
 * SPLITS_MAX_WARMUP_MS: a run of milliseconds spends microseconds forking
 * and joining, and fewer threads only lose. (Zen 5, 2 threads, the default
 * report's 50 layers: a one-thread plan only for LeNet's, of 6-17 us; the
 * one-thread screens of VGG-16's layers cost 2-10 ms each.) */
#define SPLITS_MAX_WARMUP_MS 0.5

static void add_splits(session *m, cc_conv2d *op, cc_algo algo, int threads, double warmup_ms)
{
    const int caps[SPLITS] = {threads, threads / 2, 1};
    const int splits = warmup_ms > SPLITS_MAX_WARMUP_MS ? 1 : SPLITS;
    const int first = m->count;
    for (int k = 0; k < splits; k++) {
        if (caps[k] < 1)
            continue;
        op->thread_cap = caps[k];
        const int used = cc__conv_threads(op);
        bool seen = false;
        for (int i = first; i < m->count; i++)
            seen = seen || m->c[i].threads == used;
        if (!seen)
            m->c[m->count++] = (candidate){.op = op, .algo = algo, .threads = used};
    }
}

/* Creates the path's operator on the scratch data, warms it up and adds its
 * splits. A path the layer cannot take, or whose warm-up is too slow, is
 * left out. */
static cc_status add_path(session *m, cc_algo algo, int threads)
{
    if (cc__conv_check_algo(m->g, algo) != CC_OK)
        return CC_OK;
    const cc_conv2d_params p = cc__geom_params(m->g);
    cc_conv2d *op = NULL;
    cc_status status = cc__conv2d_create_ex(&p, algo, m->data.weights, m->data.bias, false, &op);
    if (status != CC_OK)
        return status == CC_ERR_NOMEM ? status : CC_OK;
    m->ops[m->op_count++] = op;
    double warmup_ms;
    status = run(op, 0, &m->data, &warmup_ms);
    if (status != CC_OK)
        return status;
    if (m->fastest_warmup_ms > 0.0 && warmup_ms > WARMUP_CUTOFF * m->fastest_warmup_ms)
        return CC_OK;
    if (m->fastest_warmup_ms == 0.0 || warmup_ms < m->fastest_warmup_ms)
        m->fastest_warmup_ms = warmup_ms;
    add_splits(m, op, algo, threads, warmup_ms);
    return CC_OK;
}

/* The cost rule's pick first, then the other paths AUTO may pick. */
static cc_status add_paths(session *m, cc__isa isa, int threads)
{
    const cc_algo estimate = cc__auto_choose(m->g, isa, threads);
    m->estimate = estimate;
    const cc_algo others[PATHS] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1,
                                   CC_ALGO_WINOGRAD};
    cc_status status = add_path(m, estimate, threads);
    for (int i = 0; status == CC_OK && i < PATHS; i++)
        if (others[i] != estimate)
            status = add_path(m, others[i], threads);
    return status;
}

/* One timed run per candidate; then the finalists' indices, fastest first. */
static cc_status screen(session *m, int finalists[MAX_FINALISTS], int *count)
{
    for (int i = 0; i < m->count; i++) {
        const cc_status status = run(m->c[i].op, m->c[i].threads, &m->data, &m->c[i].screen_ms);
        if (status != CC_OK)
            return status;
    }
    int order[MAX_CANDIDATES];
    for (int i = 0; i < m->count; i++) {
        int k = i;
        for (; k > 0 && m->c[order[k - 1]].screen_ms > m->c[i].screen_ms; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
    const double best = m->c[order[0]].screen_ms;
    *count = 0;
    bool estimate_in = false;
    for (int k = 0; k < m->count && *count < MAX_FINALISTS; k++)
        if (m->c[order[k]].screen_ms <= SCREEN_RATIO * best) {
            estimate_in = estimate_in || order[k] == 0;
            finalists[(*count)++] = order[k];
        }
    /* Candidate 0 is the cost rule's pick on all threads (add_paths). */
    if (!estimate_in && m->c[0].algo == m->estimate)
        finalists[*count < MAX_FINALISTS ? (*count)++ : MAX_FINALISTS - 1] = 0;
    return CC_OK;
}

/* The time the rounds may take, from the fastest screen time. */
static double rounds_budget(double fastest_screen_ms)
{
    const double budget = ROUNDS_BUDGET * fastest_screen_ms;
    return budget > ROUNDS_MIN_BUDGET_MS ? budget : ROUNDS_MIN_BUDGET_MS;
}

static cc_status rounds(session *m, const int *finalists, int count, double budget_ms)
{
    const double start = cc__plan_now_ms();
    for (int r = 0; r < MAX_ROUNDS; r++) {
        for (int k = 0; k < count; k++) {
            candidate *c = &m->c[finalists[k]];
            const cc_status status = run(c->op, c->threads, &m->data, &c->ms[c->runs]);
            if (status != CC_OK)
                return status;
            c->runs++;
        }
        if (r + 1 >= MIN_ROUNDS && cc__plan_now_ms() - start > budget_ms)
            break;
    }
    return CC_OK;
}

static double median(const candidate *c)
{
    double v[MAX_ROUNDS];
    for (int i = 0; i < c->runs; i++) {
        int k = i;
        for (; k > 0 && v[k - 1] > c->ms[i]; k--)
            v[k] = v[k - 1];
        v[k] = c->ms[i];
    }
    return c->runs % 2 ? v[c->runs / 2] : 0.5 * (v[c->runs / 2 - 1] + v[c->runs / 2]);
}

/* The finalist with the least median; among equals the earliest candidate. */
static const candidate *fastest(const session *m, const int *finalists, int count)
{
    const candidate *best = &m->c[finalists[0]];
    for (int k = 1; k < count; k++) {
        const candidate *c = &m->c[finalists[k]];
        const double a = median(c), b = median(best);
        if (a < b || (a == b && c < best))
            best = c;
    }
    return best;
}

static cc_status measure(session *m, cc__isa isa, int threads, cc__conv_choice *choice)
{
    cc_status status = scratch_alloc(m->g, &m->data);
    if (status == CC_OK)
        status = add_paths(m, isa, threads);
    if (status != CC_OK || m->count == 0) {
        *choice = (cc__conv_choice){cc__auto_choose(m->g, isa, threads), 0};
        return status;
    }
    int finalists[MAX_FINALISTS], count = 0;
    status = screen(m, finalists, &count);
    if (status == CC_OK)
        status = rounds(m, finalists, count, rounds_budget(m->c[finalists[0]].screen_ms));
    if (status == CC_OK) {
        const candidate *best = fastest(m, finalists, count);
        *choice = (cc__conv_choice){best->algo, best->threads < threads ? best->threads : threads};
    }
    return status;
}

/* The paths left out record why in cc_last_error(); a measurement that
 * succeeds leaves the caller's message as it was. */
cc_status cc__plan_measure(const cc__conv_geom *g, cc__isa isa, int threads,
                           cc__conv_choice *choice)
{
    char message[512];
    snprintf(message, sizeof message, "%s", cc_last_error());
    session m = {.g = g};
    const cc_status status = measure(&m, isa, threads, choice);
    session_free(&m);
    if (status == CC_OK)
        cc__fail(CC_OK, "%s", message);
    return status;
}
