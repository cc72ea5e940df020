/* The one place colconv calls BLAS. Row-major, no transposes, size_t sizes:
 * calls whose sizes or leading dimensions exceed OpenBLAS's 32-bit int are
 * split into calls that fit. */
#ifndef COLCONV_GEMM_H
#define COLCONV_GEMM_H

#include "../core/core.h"
#include "../layers/kernels.h"

/* C[m x n] = A[m x k] * B[k x n] + beta * C. beta == 0 overwrites C (NaN in C
 * does not leak through). Runs on OpenBLAS's current thread count, or on one
 * thread inside an OpenMP parallel region. */
void cc__sgemm(size_t m, size_t n, size_t k, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The same with op(A) = A^T when trans_a (A stored k x m, lda >= m) and
 * op(B) = B^T when trans_b (B stored n x k, ldb >= k): C = op(A) op(B) +
 * beta C (the backward passes' products). m, n and k are split like
 * cc__sgemm's; the leading dimensions must fit in an int (callers check). */
void cc__sgemm_trans(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, const float *a,
                     size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* gemm_unpacked.c: whether the conv GEMM paths run their products on
 * cc__gemm_unpacked (CPUs with AVX-512) rather than OpenBLAS. */
bool cc__gemm_unpacked_wanted(void);
/* C[m x n] = A[m x k] * B[k x n] (+ C when accumulate), B and C row-major,
 * A(i, p) = a[i a_rs + p a_cs] (A row-major: a_rs = lda, a_cs = 1; read
 * transposed in place: a_rs = 1, a_cs = lda), on colconv's unpacked
 * kernel, over `threads` threads (one inside an OpenMP parallel region),
 * which split the pixels (C's rows when pixels_are_rows, else its columns)
 * unless the other split saves work, then `epilogue` (NULL: none; for the
 * whole of C) as the kernel stores the finished sums. Correct on every
 * ISA; faster than OpenBLAS where cc__gemm_unpacked_wanted(). */
void cc__gemm_unpacked(size_t m, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
                       const float *b, size_t ldb, bool accumulate, float *c, size_t ldc,
                       int threads, bool pixels_are_rows, const cc__gemm_epilogue *epilogue);

/* The same with B in panels of GEMM_PANEL_COLUMNS columns: panel q, columns
 * [64 q, 64 q + w) with w = min(64, n - 64 q), is rows [k0, k0 + k) of a
 * [k_total][w] row-major block at b_panels + 64 q k_total; each streams
 * from memory as one run of floats (weights packed once, read with no
 * stride). Threads split C as cc__gemm_unpacked's do, columns in whole
 * panels, and apply `epilogue` as cc__gemm_unpacked does. */
#define GEMM_PANEL_COLUMNS 64
void cc__gemm_unpacked_panels(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                              size_t a_cs, const float *b_panels, size_t k_total, size_t k0,
                              bool accumulate, float *c, size_t ldc, int threads,
                              bool pixels_are_rows, const cc__gemm_epilogue *epilogue);

/* y[m] = A[m x n] * x[n] + beta * y (row-major A). */
void cc__sgemv(size_t m, size_t n, const float *a, size_t lda, const float *x,
               float beta, float *y);

/* The largest size passed to BLAS in one call (INT_MAX); tests lower it to
 * exercise the splitting on small matrices. */
void cc__gemm_set_int_limit(size_t limit);

#endif
