/* One thread count for colconv's OpenMP loops and OpenBLAS, kept in step. */
#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>

#include "core.h"

/* 0 until cc_set_num_threads is called: then OpenMP's own default applies. */
static atomic_int requested_threads;
/* The count last handed to OpenBLAS, so runs only call into it on a change. */
static atomic_int blas_threads;

void cc_set_num_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    atomic_store(&requested_threads, n);
    cc__blas_threads(n);
}

int cc_get_num_threads(void)
{
    int n = atomic_load(&requested_threads);
    return n > 0 ? n : omp_get_max_threads();
}

int cc__run_threads(void)
{
    return omp_in_parallel() ? 1 : cc_get_num_threads();
}

void cc__blas_threads(int n)
{
    if (atomic_exchange(&blas_threads, n) != n)
        openblas_set_num_threads(n);
}
