/* colconv internals shared by every source area: errors, memory, size
 * arithmetic, threads and CPU features. Names here start with cc__. */
#ifndef COLCONV_CORE_H
#define COLCONV_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colconv.h"

/* Records a formatted message for cc_last_error() and returns status. */
cc_status cc__fail(cc_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocates bytes (0 is allowed) aligned to CC__ALIGNMENT through the
 * installed allocator. On failure sets CC_ERR_NOMEM's message naming `what`
 * and returns NULL. */
#define CC__ALIGNMENT 64
void *cc__alloc(size_t bytes, const char *what);
/* Like cc__alloc for count * size bytes, failing (CC_ERR_NOMEM) on overflow. */
void *cc__alloc_array(size_t count, size_t size, const char *what);
void cc__free(void *pointer);

/* Overflow-checked size arithmetic: false when the result does not fit. */
static inline bool cc__mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool cc__add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
/* Product of n sizes; false on overflow. */
bool cc__mul_sizes(size_t *out, int n, ...);
static inline size_t cc__min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Threads a run started now may use: 1 inside a host's parallel region,
 * otherwise cc_get_num_threads(). */
int cc__run_threads(void);
/* Multi-threaded runs hold this process-wide lock (recursive: a network's
 * run holds it around its convs' runs). OpenBLAS's OpenMP build gives wrong
 * results when OpenMP teams of several host threads call it at once
 * (measured here: 4 host threads running 2-thread networks); one-thread
 * runs, which make no team, run concurrently. threads <= 1 does nothing. */
void cc__team_lock(int threads);
void cc__team_unlock(int threads);

/* OpenBLAS calls from this thread use n threads until cc__blas_threads_end.
 * OpenBLAS's OpenMP build follows the calling thread's OpenMP setting, so
 * that setting is what changes (thread-local); OpenBLAS's own process-wide
 * count is never changed during a run: lowering it frees the buffers of
 * GEMMs other host threads are running (Debian's 0.3.21, blas_server_omp.c).
 * Returns the previous setting, for cc__blas_threads_end. */
int cc__blas_threads_begin(int n);
void cc__blas_threads_end(int previous);

typedef enum { CC__ISA_SCALAR = 0, CC__ISA_AVX2, CC__ISA_AVX512 } cc__isa;
/* Widest ISA usable: the CPU's, capped by COLCONV_MAX_ISA and cc__set_isa_cap. */
cc__isa cc__cpu_isa(void);
/* Caps the ISA for later creates (tests cover every kernel on one machine). */
void cc__set_isa_cap(cc__isa cap);
/* "scalar", "avx2", "avx512" (the names cc_cpu_isa returns). */
const char *cc__isa_name(cc__isa isa);

/* The CPU features the ISA depends on, as bits of a mask: instructions the
 * CPU has (CPUID) and register state the OS saves (XCR0, read by XGETBV). */
enum {
    CC__CPU_AVX2 = 1 << 0,
    CC__CPU_FMA = 1 << 1,
    CC__CPU_AVX512F = 1 << 2,
    CC__CPU_AVX512VL = 1 << 3,
    CC__CPU_OS_YMM = 1 << 4, /* XCR0: xmm and ymm state */
    CC__CPU_OS_ZMM = 1 << 5  /* XCR0: opmask, upper halves of zmm0-15, zmm16-31 */
};
/* This CPU's features (detected once, then cached). */
unsigned cc__cpu_features(void);
/* The widest ISA whose files may run on a CPU with `features`: every
 * feature they are compiled for (CMakeLists.txt) and the state they use.
 * avx2 (-mavx2 -mfma): AVX2, FMA, OS_YMM. avx512 (-mavx512f -mavx512vl
 * -mavx2 -mfma; the compiler may use EVEX-encoded xmm/ymm16-31): all of
 * avx2's, AVX512F, AVX512VL, OS_ZMM. Pure. */
cc__isa cc__isa_from_features(unsigned features);
/* Reads a COLCONV_MAX_ISA value (NULL: unset) as a cap. "scalar", "avx2"
 * and "avx512" are recognised in any case (ASCII: "AVX2" caps at avx2); ""
 * and NULL mean no cap. Returns false for any other value, which caps
 * nothing: cc__cpu_isa ignores it (the library never prints), and callers
 * that may print (the bench) use this to say so. Sets *cap, when cap is not
 * NULL, to the cap: CC__ISA_AVX512 for none. */
bool cc__isa_cap_from_env(const char *value, cc__isa *cap);

#endif
