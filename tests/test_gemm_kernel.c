/* Tests of the layer kernels' unpacked GEMM and sums of row products
 * (src/layers/kernels_gemm_body.h, kernels.h `gemm`, `gemm_nt_sum`), once per
 * kernel family the CPU has.
 *
 * Every product is compared with a double-precision sum written here, on
 * shapes on both sides of the kernel's blocks (rows of 1 to 13 around its 4
 * and 6, columns around its 16-, 32- and 64-column panels, depths around its
 * 128-deep chunks, depth 0), with A read in place and transposed, with and
 * without accumulation, and with B and C rows wider than the product: the
 * columns of C beyond n keep their pattern, and a buffer's guards theirs.
 * The epilogue (bias per column or per row, a residual, ReLU or ReLU6) is
 * checked on the same shapes, with a NaN in the bias and in the residual
 * that must reach their outputs through either activation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/layers/kernels.h"
#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The value the columns of C beyond n hold before and after a product. */
#define UNTOUCHED 1234.5f

typedef struct {
    size_t m, n, k;
    bool transposed_a; /* A stored [k][m] and read as A(i, p) = a[p * m + i] */
    bool accumulate;
    size_t b_gap, c_gap; /* floats after each row of B and C */
    /* Epilogue: none (the kernel gets NULL) when every field is 0. */
    int bias_kind; /* 0 none, 1 per column, 2 per row */
    bool residual;
    cc_act act;
} gemm_case;

static bool has_epilogue(const gemm_case *gc)
{
    return gc->bias_kind != 0 || gc->residual || gc->act != CC_ACT_NONE;
}

static void describe(const gemm_case *gc, bool last_rows_first, char *text, size_t size)
{
    snprintf(text, size, "m%zu n%zu k%zu%s%s ldb+%zu ldc+%zu bias %d%s act %d%s (%s)", gc->m,
             gc->n, gc->k, gc->transposed_a ? " A^T" : "", gc->accumulate ? " accumulate" : "",
             gc->b_gap, gc->c_gap, gc->bias_kind, gc->residual ? " residual" : "", (int)gc->act,
             last_rows_first ? " last rows first" : "", cc__isa_name(tst_isa()));
}

static double a_at(const gemm_case *gc, const float *a, size_t i, size_t p)
{
    return gc->transposed_a ? a[p * gc->m + i] : a[i * gc->k + p];
}

/* gc through gemm, or gemm_last_rows_first. */
static void check_one_order(const gemm_case *gc, uint64_t seed, bool last_rows_first)
{
    char text[160];
    describe(gc, last_rows_first, text, sizeof text);
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    const size_t ldb = gc->n + gc->b_gap, ldc = gc->n + gc->c_gap;
    float *a = tst_random_floats(&rng, gc->m * gc->k, -1.0f, 1.0f);
    float *b = tst_random_floats(&rng, gc->k * ldb, -1.0f, 1.0f);
    float *start = tst_random_floats(&rng, gc->m * ldc, -1.0f, 1.0f);
    /* Large enough that ReLU6 clamps some sums at 6 and ReLU some at 0. */
    float *bias = tst_random_floats(&rng, gc->m > gc->n ? gc->m : gc->n, -8.0f, 8.0f);
    float *residual = tst_random_floats(&rng, gc->m * ldc, -4.0f, 4.0f);
    bias[gc->bias_kind == 2 ? gc->m - 1 : gc->n - 1] = NAN;
    residual[gc->m / 2 * ldc] = NAN;
    const cc__gemm_epilogue epilogue = {gc->bias_kind != 0 ? bias : NULL, gc->bias_kind == 2,
                                        gc->residual ? residual : NULL, gc->act};
    tst_buffer c = tst_buffer_new(gc->m * ldc);
    tst_buffer_poison(&c);
    for (size_t i = 0; i < gc->m; i++)
        for (size_t j = 0; j < ldc; j++)
            c.data[i * ldc + j] = j >= gc->n ? UNTOUCHED : gc->accumulate ? start[i * ldc + j]
                                                                          : NAN;
    const size_t a_rs = gc->transposed_a ? 1 : gc->k, a_cs = gc->transposed_a ? gc->m : 1;
    const cc__layer_kernels *kernels = cc__layer_kernels_get();
    (last_rows_first ? kernels->gemm_last_rows_first : kernels->gemm)(
        gc->m, gc->n, gc->k, a, a_rs, a_cs, b, ldb, c.data, ldc, gc->accumulate,
        has_epilogue(gc) ? &epilogue : NULL);
    if (!tst_buffer_guards_intact(&c))
        fail_msg("gemm %s seed %llu: a guard float was overwritten", text,
                 (unsigned long long)seed);
    for (size_t i = 0; i < gc->m; i++)
        for (size_t j = 0; j < ldc; j++) {
            const float got = c.data[i * ldc + j];
            if (j >= gc->n) {
                if (got != UNTOUCHED)
                    fail_msg("gemm %s seed %llu: C[%zu][%zu] beyond n written (%g)", text,
                             (unsigned long long)seed, i, j, (double)got);
                continue;
            }
            double want = gc->accumulate ? start[i * ldc + j] : 0.0, magnitude = fabs(want);
            for (size_t p = 0; p < gc->k; p++) {
                const double term = a_at(gc, a, i, p) * b[p * ldb + j];
                want += term;
                magnitude += fabs(term);
            }
            if (gc->bias_kind != 0) {
                want += bias[gc->bias_kind == 2 ? i : j];
                magnitude += fabs(bias[gc->bias_kind == 2 ? i : j]);
            }
            if (gc->residual) {
                want += residual[i * ldc + j];
                magnitude += fabs(residual[i * ldc + j]);
            }
            want = gc->act == CC_ACT_RELU    ? (want < 0.0 ? 0.0 : want)
                   : gc->act == CC_ACT_RELU6 ? (want < 0.0 ? 0.0 : want > 6.0 ? 6.0 : want)
                                             : want;
            if (isnan(want)) {
                if (!isnan(got))
                    fail_msg("gemm %s seed %llu: C[%zu][%zu] = %g, want the NaN of an operand",
                             text, (unsigned long long)seed, i, j, (double)got);
                continue;
            }
            /* Float sums of k + 3 terms in any order. */
            const double tolerance = 2.0 * (double)(gc->k + 3) * FLT_EPSILON * magnitude;
            if (!(fabs(got - want) <= tolerance))
                fail_msg("gemm %s seed %llu: C[%zu][%zu] = %.9g, want %.9g (tolerance %.3g)",
                         text, (unsigned long long)seed, i, j, (double)got, want, tolerance);
        }
    tst_buffer_free(&c);
    free(residual);
    free(bias);
    free(start);
    free(b);
    free(a);
}

/* The case through gemm and through gemm_last_rows_first: the same sums. */
static void check_case(const gemm_case *gc, uint64_t seed)
{
    check_one_order(gc, seed, false);
    check_one_order(gc, seed, true);
}

static void test_gemm_shapes(void **state)
{
    (void)state;
    const size_t rows[] = {1, 3, 4, 5, 6, 7, 13};
    const size_t columns[] = {1, 15, 16, 17, 31, 33, 50, 64, 65, 130, 196};
    const size_t depths[] = {0, 1, 7, 128, 129, 300};
    int cases = 0;
    for (size_t r = 0; r < ARRAY_LEN(rows); r++)
        for (size_t c = 0; c < ARRAY_LEN(columns); c++)
            for (size_t d = 0; d < ARRAY_LEN(depths); d++)
                for (int variant = 0; variant < 4; variant++) {
                    const gemm_case gc = {rows[r],         columns[c],
                                          depths[d],       (variant & 1) != 0,
                                          (variant & 2) != 0, (size_t)(variant * 3),
                                          (size_t)variant, 0,
                                          false,           CC_ACT_NONE};
                    check_case(&gc, 0x6e33u + (uint64_t)cases);
                    cases++;
                }
    print_message("gemm: %d shapes\n", cases);
}

/* Every epilogue on shapes around the blocks, chunks and narrow panels. */
static void test_gemm_epilogue(void **state)
{
    (void)state;
    const size_t rows[] = {1, 5, 6, 13};
    const size_t columns[] = {1, 17, 32, 49, 64, 96, 130};
    const size_t depths[] = {0, 7, 129, 300};
    const cc_act acts[] = {CC_ACT_NONE, CC_ACT_RELU, CC_ACT_RELU6};
    int cases = 0;
    for (size_t r = 0; r < ARRAY_LEN(rows); r++)
        for (size_t c = 0; c < ARRAY_LEN(columns); c++)
            for (size_t d = 0; d < ARRAY_LEN(depths); d++)
                for (int terms = 1; terms < 6; terms++)
                    for (size_t t = 0; t < ARRAY_LEN(acts); t++) {
                        const gemm_case gc = {rows[r],        columns[c], depths[d],
                                              (terms & 1) == 0, terms == 5, (size_t)terms,
                                              (size_t)(terms % 3), terms % 3,
                                              terms >= 3,     acts[t]};
                        check_case(&gc, 0xe9u + (uint64_t)cases);
                        cases++;
                    }
    print_message("gemm epilogue: %d shapes\n", cases);
}

/* The training convolution's products (LeNet's layers). */
static void test_gemm_conv_shapes(void **state)
{
    (void)state;
    const gemm_case shapes[] = {
        {50, 64, 500, false, false, 0, 0, 0, false, CC_ACT_NONE}, /* forward: W col */
        {500, 50, 64, false, true, 0, 0, 0, false, CC_ACT_NONE},  /* weight gradient */
        {500, 64, 50, true, false, 0, 0, 0, false, CC_ACT_NONE},  /* input gradient */
        {20, 576, 25, false, false, 0, 0, 0, false, CC_ACT_NONE}, /* first layer */
        {25, 576, 20, true, true, 0, 8, 0, false, CC_ACT_NONE},   /* into a wider image */
    };
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        check_case(&shapes[i], 0x1e4e7u + i);
}

/* Integer operands: every family and order gives the exact sum. */
static void test_gemm_exact(void **state)
{
    (void)state;
    const size_t m = 7, n = 70, k = 131;
    tst_rng rng;
    tst_rng_seed(&rng, 99);
    float *a = tst_random_floats(&rng, m * k, 0.0f, 1.0f);
    float *b = tst_random_floats(&rng, k * n, 0.0f, 1.0f);
    float *c = tst_random_floats(&rng, m * n, 0.0f, 1.0f);
    tst_fill(&rng, a, m * k, true);
    tst_fill(&rng, b, k * n, true);
    cc__layer_kernels_get()->gemm(m, n, k, a, k, 1, b, n, c, n, false, NULL);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float want = 0.0f;
            for (size_t p = 0; p < k; p++)
                want += a[i * k + p] * b[p * n + j];
            assert_true(c[i * n + j] == want);
        }
    free(c);
    free(b);
    free(a);
}

/* ---- gemm_nt_sum ---------------------------------------------------------- */

static void check_nt_case(size_t m, size_t n, size_t k, size_t images, uint64_t seed)
{
    char text[160];
    snprintf(text, sizeof text, "gemm_nt_sum m%zu n%zu k%zu images %zu (%s)", m, n, k, images,
             cc__isa_name(tst_isa()));
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    /* Rows with gaps after them, images with gaps between them, C with two
     * columns beyond n that must keep their value. */
    const size_t lda = k + 3, ldb = k + 1, ldc = n + 2;
    const size_t a_image = m * lda + 5, b_image = n * ldb + 7;
    float *a = tst_random_floats(&rng, images * a_image, -1.0f, 1.0f);
    float *b = tst_random_floats(&rng, images * b_image, -1.0f, 1.0f);
    float *start = tst_random_floats(&rng, m * ldc, -1.0f, 1.0f);
    tst_buffer c = tst_buffer_new(m * ldc);
    tst_buffer_poison(&c);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ldc; j++)
            c.data[i * ldc + j] = j >= n ? UNTOUCHED : start[i * ldc + j];
    cc__layer_kernels_get()->gemm_nt_sum(m, n, k, images, a, lda, a_image, b, ldb, b_image,
                                         c.data, ldc);
    if (!tst_buffer_guards_intact(&c))
        fail_msg("%s: a guard float was overwritten", text);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ldc; j++) {
            const float got = c.data[i * ldc + j];
            if (j >= n) {
                if (got != UNTOUCHED)
                    fail_msg("%s: C[%zu][%zu] beyond n written (%g)", text, i, j, (double)got);
                continue;
            }
            double want = start[i * ldc + j], magnitude = fabs(want);
            for (size_t t = 0; t < images; t++)
                for (size_t p = 0; p < k; p++) {
                    const double term = (double)a[t * a_image + i * lda + p] *
                                        (double)b[t * b_image + j * ldb + p];
                    want += term;
                    magnitude += fabs(term);
                }
            const double tolerance = 2.0 * (double)(images * k + 1) * FLT_EPSILON * magnitude;
            if (!(fabs(got - want) <= tolerance))
                fail_msg("%s: C[%zu][%zu] = %.9g, want %.9g (tolerance %.3g)", text, i, j,
                         (double)got, want, tolerance);
        }
    tst_buffer_free(&c);
    free(start);
    free(b);
    free(a);
}

static void test_gemm_nt_sum_shapes(void **state)
{
    (void)state;
    /* Every remainder of the blocks (up to 4 x 4) on both sides. */
    const size_t rows[] = {1, 2, 3, 4, 5, 6, 7, 9};
    const size_t columns[] = {1, 2, 3, 4, 5, 6, 7, 25};
    const size_t depths[] = {1, 7, 16, 17, 100};
    const size_t image_counts[] = {1, 3};
    int cases = 0;
    for (size_t r = 0; r < ARRAY_LEN(rows); r++)
        for (size_t c = 0; c < ARRAY_LEN(columns); c++)
            for (size_t d = 0; d < ARRAY_LEN(depths); d++)
                for (size_t i = 0; i < ARRAY_LEN(image_counts); i++) {
                    check_nt_case(rows[r], columns[c], depths[d], image_counts[i],
                                  0x47u + (uint64_t)cases);
                    cases++;
                }
    /* LeNet-5's weight gradients over 32 images: 6 x 25 x 784, 16 x 150 x 100. */
    check_nt_case(6, 25, 784, 32, 0x5a);
    check_nt_case(16, 150, 100, 32, 0x5b);
    print_message("gemm_nt_sum: %d shapes\n", cases + 2);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_shapes),
        cmocka_unit_test(test_gemm_epilogue),
        cmocka_unit_test(test_gemm_conv_shapes),
        cmocka_unit_test(test_gemm_exact),
        cmocka_unit_test(test_gemm_nt_sum_shapes),
    };
    return cmocka_run_group_tests_name("gemm_kernel", tests, NULL, NULL);
}

int main(void) { return tst_run_per_isa("test_gemm_kernel", run_group); }
