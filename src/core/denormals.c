/* Flush-to-zero for the duration of a run.
 *
 * x86 keeps the SSE/AVX rounding and denormal controls in MXCSR, one per
 * thread: FTZ (bit 15) writes 0 in place of a denormal result, DAZ (bit 6)
 * reads a denormal operand as 0. A run that flushes sets both on the calling
 * thread and on each OpenMP worker of its team, and puts every thread's FTZ
 * and DAZ back as it found them when the run ends.
 *
 * Only FTZ and DAZ are restored: the exception flags (MXCSR's sticky
 * status bits) stay as the run raised them, as they would without flushing.
 *
 * The workers are reached through one extra parallel region of the run's
 * thread count at each end. libgomp (and libomp) keep a team's threads in a
 * pool and hand the same threads the same team numbers for every
 * non-nested region of one master, so those two regions reach the threads
 * that colconv's own loops and OpenBLAS's OpenMP build run on in between. A
 * per-thread depth makes nested scopes (a network's run around its conv
 * operators' runs) set and restore once. Elsewhere than x86 the flag is kept
 * but changes nothing. */
#include <omp.h>
#include <stdatomic.h>

#include "denormals.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CC__HAS_MXCSR 1
#define CC__FLUSH_BITS 0x8040u /* FTZ | DAZ */
#else
#define CC__HAS_MXCSR 0
#endif

static atomic_int flush_requested;

void cc_set_flush_denormals(int on) { atomic_store(&flush_requested, on != 0); }

int cc_get_flush_denormals(void) { return atomic_load(&flush_requested); }

#if CC__HAS_MXCSR
/* This thread's scope depth and its MXCSR before the outermost scope. */
static _Thread_local int depth;
static _Thread_local unsigned int saved_mxcsr;

static void thread_enter(void)
{
    if (depth++ == 0) {
        saved_mxcsr = _mm_getcsr();
        _mm_setcsr(saved_mxcsr | CC__FLUSH_BITS);
    }
}

/* Puts back FTZ and DAZ as they were; the exception flags the run raised
 * stay raised, as they would without flushing. */
static void thread_leave(void)
{
    if (depth > 0 && --depth == 0)
        _mm_setcsr((_mm_getcsr() & ~CC__FLUSH_BITS) | (saved_mxcsr & CC__FLUSH_BITS));
}

/* Runs `step` on every thread of a team of `threads` (the caller included). */
static void on_team(void (*step)(void), int threads)
{
    if (threads <= 1) {
        step();
        return;
    }
#pragma omp parallel num_threads(threads)
    step();
}
#endif

cc__flush_scope cc__flush_begin(int threads)
{
    cc__flush_scope scope = {false, threads};
#if CC__HAS_MXCSR
    if (atomic_load(&flush_requested)) {
        scope.active = true;
        on_team(thread_enter, threads);
    }
#endif
    return scope;
}

void cc__flush_end(cc__flush_scope scope)
{
#if CC__HAS_MXCSR
    if (scope.active)
        on_team(thread_leave, scope.threads);
#else
    (void)scope;
#endif
}
