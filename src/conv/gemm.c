/* The one place that calls BLAS. OpenBLAS takes 32-bit int sizes and leading
 * dimensions, so a call that does not fit is split into calls that do:
 * m, n and k in chunks (k chunks accumulate with beta = 1), then, if a
 * leading dimension is still too large, A and C row by row (m = 1 needs no
 * meaningful lda/ldc) and B one row of k at a time. */
#include <cblas.h>
#include <limits.h>

#include "gemm.h"

static size_t int_limit = INT_MAX;

void cc__gemm_set_int_limit(size_t limit) { int_limit = limit > 0 ? limit : INT_MAX; }

static void sgemm_fits(size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* k == 0 still has to apply beta to C (BLAS does that for us when k fits). */
static void sgemm_split(size_t m, size_t n, size_t k, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    const size_t limit = int_limit;
    if (m > limit) {
        for (size_t i = 0; i < m; i += limit)
            sgemm_split(m - i < limit ? m - i : limit, n, k, a + i * lda, lda, b, ldb, beta,
                        c + i * ldc, ldc);
    } else if (n > limit) {
        for (size_t j = 0; j < n; j += limit)
            sgemm_split(m, n - j < limit ? n - j : limit, k, a, lda, b + j, ldb, beta, c + j, ldc);
    } else if (k > limit) {
        for (size_t p = 0; p < k; p += limit)
            sgemm_split(m, n, k - p < limit ? k - p : limit, a + p, lda, b + p * ldb, ldb,
                        p == 0 ? beta : 1.0f, c, ldc);
    } else if ((lda > limit || ldc > limit) && m > 1) {
        for (size_t i = 0; i < m; i++)
            sgemm_split(1, n, k, a + i * lda, k > 0 ? k : 1, b, ldb, beta, c + i * ldc,
                        n > 0 ? n : 1);
    } else if (ldb > limit && k > 1) {
        for (size_t p = 0; p < k; p++)
            sgemm_split(m, n, 1, a + p, lda, b + p * ldb, n > 0 ? n : 1, p == 0 ? beta : 1.0f,
                        c, ldc);
    } else {
        /* Only reached with m == 1 when lda or ldc is too large, and with
         * k == 1 when ldb is: the replaced leading dimension is never used. */
        sgemm_fits(m, n, k, a, lda > limit ? (k > 0 ? k : 1) : lda, b, ldb > limit ? n : ldb,
                   beta, c, ldc > limit ? n : ldc);
    }
}

void cc__sgemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
               size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    sgemm_split(m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void cc__sgemm_trans(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, const float *a,
                     size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    const size_t limit = int_limit;
    if (m == 0 || n == 0)
        return;
    if (m > limit) {
        for (size_t i = 0; i < m; i += limit)
            cc__sgemm_trans(trans_a, trans_b, m - i < limit ? m - i : limit, n, k,
                            a + (trans_a ? i : i * lda), lda, b, ldb, beta, c + i * ldc, ldc);
    } else if (n > limit) {
        for (size_t j = 0; j < n; j += limit)
            cc__sgemm_trans(trans_a, trans_b, m, n - j < limit ? n - j : limit, k, a, lda,
                            b + (trans_b ? j * ldb : j), ldb, beta, c + j, ldc);
    } else if (k > limit) {
        for (size_t p = 0; p < k; p += limit)
            cc__sgemm_trans(trans_a, trans_b, m, n, k - p < limit ? k - p : limit,
                            a + (trans_a ? p * lda : p), lda, b + (trans_b ? p : p * ldb), ldb,
                            p == 0 ? beta : 1.0f, c, ldc);
    } else {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)lda, b, (int)ldb, beta, c, (int)ldc);
    }
}

void cc__sgemv(size_t m, size_t n, const float *a, size_t lda, const float *x, float beta,
               float *y)
{
    if (m <= int_limit && n <= int_limit && lda <= int_limit) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0f, a, (int)lda, x, 1, beta,
                    y, 1);
        return;
    }
    cc__sgemm(m, 1, n, a, lda, x, 1, beta, y, 1);
}
