/* A team's fork and join cost, measured with empty regions. */
#include <float.h>
#include <omp.h>
#include <stdatomic.h>
#include <time.h>

#include "fork_cost.h"

/* Measured costs in ns by team size (index threads), 0 when not yet
 * measured. Two first callers may both measure; either result is kept. */
static _Atomic double costs[CC__FORK_COST_MAX_THREADS + 1];

/* Rounds of REGIONS regions each; the cheapest round's mean is the cost,
 * so that a round in which the host took a core away does not count. */
#define ROUNDS 8
#define REGIONS 12

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double measure(int threads)
{
    volatile int sink = 0;
    double best = DBL_MAX;
    for (int round = -1; round < ROUNDS; round++) { /* round -1 warms the team up */
        const double start = now_ns();
        for (int r = 0; r < REGIONS; r++) {
#pragma omp parallel num_threads(threads)
            {
                if (omp_get_thread_num() == 0)
                    sink = r;
            }
        }
        const double mean = (now_ns() - start) / REGIONS;
        if (round >= 0 && mean < best)
            best = mean;
    }
    (void)sink;
    return best;
}

static int slot_of(int threads)
{
    return threads < 2 ? 2 : threads > CC__FORK_COST_MAX_THREADS ? CC__FORK_COST_MAX_THREADS
                                                                  : threads;
}

double cc__fork_cost_ns(int threads)
{
    const int slot = slot_of(threads);
    const double known = atomic_load(&costs[slot]);
    if (known > 0)
        return known;
    if (omp_in_parallel())
        return CC__FORK_COST_UNMEASURED_NS;
    const double measured = measure(slot);
    atomic_store(&costs[slot], measured > 0 ? measured : DBL_MIN);
    return atomic_load(&costs[slot]);
}

void cc__set_fork_cost_ns(int threads, double ns)
{
    atomic_store(&costs[slot_of(threads)], ns > 0 ? ns : 0);
}
