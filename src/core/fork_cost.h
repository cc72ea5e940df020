/* What opening an OpenMP team costs on the machine at hand, measured once
 * per team size: thread counts chosen by work must weigh the fork against
 * the time it saves, and that cost differs between CPUs and hosts (a
 * 2-thread region took about 1 us on a Zen 4 VM and 3.3 us on a Zen 5 VM
 * this project ran on). */
#ifndef COLCONV_FORK_COST_H
#define COLCONV_FORK_COST_H

/* Team sizes measured one by one; a larger team is charged as this many. */
#define CC__FORK_COST_MAX_THREADS 64

/* The wall time in ns of opening and joining a region of `threads` threads
 * (2 or more; clamped to CC__FORK_COST_MAX_THREADS), measured the first
 * time it is asked (about 100 regions) and kept. Called inside a parallel
 * region before any measurement, it measures nothing and gives
 * CC__FORK_COST_UNMEASURED_NS. */
#define CC__FORK_COST_UNMEASURED_NS 5000.0
double cc__fork_cost_ns(int threads);

/* Tests: set the cost of a team size (0 forgets it: measured again when
 * next asked). */
void cc__set_fork_cost_ns(int threads, double ns);

#endif
