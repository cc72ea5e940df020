/* OpenMP regions opened only where a team forks. libgomp runs a region of
 * one thread (num_threads(1), or an `if` clause that is false) as a team
 * of one that it allocates and whose closing barrier still makes a futex
 * system call: 1.2-1.5 us a region on the Zen 5 VM this was measured on
 * (a loop of empty regions), a fifth of LeNet-5's 5x5 conv2 at one
 * thread, and a region that forks for a single unit of work keeps the
 * other threads waiting on it. These run their body in a plain loop on
 * the calling thread instead. */
#ifndef COLCONV_PARALLEL_H
#define COLCONV_PARALLEL_H

#include <omp.h>
#include <stddef.h>

#define CC__PRAGMA(text) _Pragma(#text)

/* Below this many scalar operations (or floats moved) a loop runs on one
 * thread: a fork and join costs more than it saves (about 3 us for two
 * threads on the Zen 5 VM). */
#define CC__PARALLEL_MIN_WORK ((size_t)1 << 15)

/* The threads for a parallel loop over `work` scalar operations. */
static inline int cc__parallel_threads(int threads, size_t work)
{
    return threads > 1 && work >= CC__PARALLEL_MIN_WORK ? threads : 1;
}

/* for (type u = 0; u < units; u++) { ... }: the units split among `threads`
 * threads by OpenMP's schedule `kind` (static or dynamic), or in order on
 * the calling thread when threads <= 1 or units <= 1. The block may read
 * `thread`, the running thread's index in the team (0 on the calling
 * thread alone), for a per-thread slot. */
#define CC__PARALLEL_FOR_SCHEDULE(type, u, units, thread, threads, kind, ...)                  \
    do {                                                                                       \
        const int cc__pf_threads = (threads);                                                  \
        const type cc__pf_units = (units);                                                     \
        if (cc__pf_threads <= 1 || cc__pf_units <= 1) {                                        \
            const int thread = 0;                                                              \
            (void)thread;                                                                      \
            for (type u = 0; u < cc__pf_units; u++)                                            \
                __VA_ARGS__                                                                    \
        } else {                                                                               \
            CC__PRAGMA(omp parallel num_threads(cc__pf_threads))                               \
            {                                                                                  \
                const int thread = omp_get_thread_num();                                       \
                (void)thread;                                                                  \
                CC__PRAGMA(omp for schedule(kind))                                             \
                for (type u = 0; u < cc__pf_units; u++)                                        \
                    __VA_ARGS__                                                                \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* The same with the static schedule and no use for the thread's index. */
#define CC__PARALLEL_FOR(type, u, units, threads, ...)                                         \
    CC__PARALLEL_FOR_SCHEDULE(type, u, units, cc__pf_thread, threads, static, __VA_ARGS__)

/* { ... } on each of `threads` threads, `part` naming the thread's index
 * and `parts` the team's size (a team may be smaller than asked); once, on
 * the calling thread (part 0 of 1), when threads <= 1. */
#define CC__PARALLEL(part, parts, threads, ...)                                                \
    do {                                                                                       \
        const int cc__p_threads = (threads);                                                   \
        if (cc__p_threads <= 1) {                                                              \
            const int part = 0, parts = 1;                                                     \
            (void)part, (void)parts;                                                           \
            __VA_ARGS__                                                                        \
        } else {                                                                               \
            CC__PRAGMA(omp parallel num_threads(cc__p_threads))                                \
            {                                                                                  \
                const int part = omp_get_thread_num(), parts = omp_get_num_threads();          \
                (void)part, (void)parts;                                                       \
                __VA_ARGS__                                                                    \
            }                                                                                  \
        }                                                                                      \
    } while (0)

#endif
