/* colconv: the thread count shared by colconv's loops and OpenBLAS.
 *
 * colconv and Debian's OpenMP build of OpenBLAS share one OpenMP runtime
 * (libgomp with gcc), so their threads never compete with each other. In a
 * host application:
 *   - A run (cc_conv2d_run, cc_net_run) started inside an OpenMP parallel
 *     region of the host uses one thread, OpenBLAS included, even when the
 *     host enabled nested parallelism: it never starts a team inside the
 *     host's team, so the host's own threads are all the threads there are.
 *   - A run started from a host thread outside any parallel region (the main
 *     thread or any pthread) uses an OpenMP team of cc_get_num_threads()
 *     threads, its own: N host threads running at once use up to N times
 *     that many. Such runs (more than one thread) are serialised
 *     process-wide, since OpenBLAS's OpenMP build is not safe when teams of
 *     several host threads call it at once; one-thread runs are not. A host
 *     that spreads work over its own threads should call
 *     cc_set_num_threads(1) (or cores / N).
 * What may run concurrently is said with each object: conv.h, net.h. */
#ifndef COLCONV_THREADS_H
#define COLCONV_THREADS_H

#include "colconv/export.h"

CC_EXTERN_C_BEGIN

/* Sets the number of threads every later run uses, of existing operators too,
 * and OpenBLAS's count with it. n <= 0 means all cores. A run that starts
 * inside an OpenMP parallel region of the host uses one thread. Process-wide.
 * Side effect of OpenBLAS's OpenMP build: the calling thread's OpenMP
 * default team size becomes n as well (as if by omp_set_num_threads). */
CC_API void cc_set_num_threads(int n);

/* The count in force; before any cc_set_num_threads call, the number of
 * threads OpenMP may use (omp_get_max_threads, so OMP_NUM_THREADS applies). */
CC_API int cc_get_num_threads(void);

/* The widest instruction set colconv's kernels use on this CPU:
 * "avx512", "avx2" or "scalar". COLCONV_MAX_ISA (the same names, in any
 * case) caps it. */
CC_API const char *cc_cpu_isa(void);

/* CC_OK when COLCONV_MAX_ISA is unset, empty or a name cc_cpu_isa gives (in
 * any case); otherwise CC_ERR_INVALID_ARG, with a message naming the value:
 * such a value caps nothing, and a program that reports its setup (as
 * colconv-bench does) should say so. */
CC_API cc_status cc_check_max_isa_env(void);

/* Nonzero: every later run (conv operator or network) flushes denormals to
 * zero, setting FTZ and DAZ in MXCSR on each thread it uses, its OpenMP
 * workers included, and putting each thread's FTZ and DAZ back as they were
 * when it returns (exception flags the run raised stay raised). Off by
 * default (IEEE gradual underflow). Process-wide; no effect on CPUs other
 * than x86. See docs/robustness.md. */
CC_API void cc_set_flush_denormals(int on);
CC_API int cc_get_flush_denormals(void);

CC_EXTERN_C_END

#endif
