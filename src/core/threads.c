/* One thread count for colconv's OpenMP loops and OpenBLAS, kept in step. */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core.h"

/* 0 until cc_set_num_threads is called: then OpenMP's own default applies,
 * as it was at colconv's first look: OpenBLAS's OpenMP build changes the
 * calling thread's OpenMP setting whenever its own count is set. */
static atomic_int requested_threads;
static atomic_int default_threads;

void cc_set_num_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    atomic_store(&requested_threads, n);
    openblas_set_num_threads(n);
}

int cc_get_num_threads(void)
{
    const int n = atomic_load(&requested_threads);
    if (n > 0)
        return n;
    int expected = 0;
    atomic_compare_exchange_strong(&default_threads, &expected, omp_get_max_threads());
    return atomic_load(&default_threads);
}

int cc__run_threads(void)
{
    return omp_in_parallel() ? 1 : cc_get_num_threads();
}

int cc__blas_threads_begin(int n)
{
    const int previous = omp_get_max_threads();
    if (previous != n)
        omp_set_num_threads(n);
    return previous;
}

void cc__blas_threads_end(int previous)
{
    if (omp_get_max_threads() != previous)
        omp_set_num_threads(previous);
}

static pthread_mutex_t team_mutex;
static pthread_once_t team_mutex_once = PTHREAD_ONCE_INIT;

static void init_team_mutex(void)
{
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&team_mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
}

void cc__team_lock(int threads)
{
    if (threads <= 1)
        return;
    pthread_once(&team_mutex_once, init_team_mutex);
    pthread_mutex_lock(&team_mutex);
}

void cc__team_unlock(int threads)
{
    if (threads > 1)
        pthread_mutex_unlock(&team_mutex);
}
