/* colconv: the thread count shared by colconv's loops and OpenBLAS. */
#ifndef COLCONV_THREADS_H
#define COLCONV_THREADS_H

#include "colconv/export.h"

CC_EXTERN_C_BEGIN

/* Sets the number of threads every later run uses, of existing operators too,
 * and OpenBLAS's count with it. n <= 0 means all cores. A run that starts
 * inside an OpenMP parallel region of the host uses one thread. */
CC_API void cc_set_num_threads(int n);

/* The count in force; before any cc_set_num_threads call, the number of
 * threads OpenMP may use (omp_get_max_threads, so OMP_NUM_THREADS applies). */
CC_API int cc_get_num_threads(void);

/* The widest instruction set colconv's kernels use on this CPU:
 * "avx512", "avx2" or "scalar". COLCONV_MAX_ISA (same names) caps it. */
CC_API const char *cc_cpu_isa(void);

CC_EXTERN_C_END

#endif
