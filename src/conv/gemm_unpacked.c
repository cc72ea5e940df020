/* The conv GEMM paths' products on colconv's own unpacked kernel (the
 * layer kernels' `gemm`, src/layers/kernels_gemm_body.h) on CPUs with
 * AVX-512, where OpenBLAS 0.3.21 runs its AVX2 kernels: the kernel reaches
 * 230-240 GFLOP/s on one Zen 5 core where OpenBLAS reaches 100-118 on the
 * same products (50x64x500 to 256x256x256, operands in cache). On several
 * threads each takes a share of C's columns, in whole 64-column panels, or
 * of its rows, whichever leaves the busiest thread the least work (a 14x14
 * image's 196 columns make panels of 64, 64, 64 and 4: rows then); but the
 * pixels' side (the caller says which) unless the other saves more than
 * PIXEL_SPLIT_SLACK: a thread then reads the input of its own pixels only,
 * which inside a network the same thread mostly wrote in the layer before,
 * instead of every pixel's. Zen 5, 2 threads, NHWC, ResNet-50 in a network:
 * layer2's 512 -> 128 1x1 at 28x28, 0.8% more work by rows, 0.37-0.39 ->
 * 0.25-0.27 ms; layer2.0.conv1 at 56x56 0.87-0.93 -> 0.50-0.54; layer4's
 * 7x7 layers, 10% more by rows, stay on columns (by rows 0.36 -> 0.46).
 * When the rows are split, the first thread runs its blocks of rows from
 * the last up (kernels.h `gemm_last_rows_first`): going down, the hardware
 * prefetchers that follow its stores fetched the first rows of the second
 * thread's share, which that thread had just written and had to take back
 * on its next store. Zen 5, 2 threads, 1x1 layers, alternating runs, ms:
 * NCHW 480 -> 192 at 14x14 0.106-0.108 -> 0.095-0.096, 1024 -> 256 at
 * 14x14 0.288 -> 0.270, 256 -> 1024 0.257-0.261 -> 0.252-0.253; NHWC 512
 * -> 128 at 28x28 0.270-0.294 -> 0.262-0.265; the two halves of the 480 ->
 * 192 product on their own (one parallel region, each thread timed) 87 /
 * 106 us -> 90 / 94. The effect comes and goes with the host: minutes
 * later the same runs gave 0.106-0.110 -> 0.106-0.107, halves 98 / 103 ->
 * 98 / 100. */
#include <omp.h>

#include "../layers/kernels.h"
#include "gemm.h"

/* The pixels' split may cost the busiest thread this much more work
 * (percent) than the other. */
#define PIXEL_SPLIT_SLACK 5
/* Columns of the kernel's panel on AVX-512, and rows of its blocks. */
#define PANEL_COLUMNS GEMM_PANEL_COLUMNS
#define BLOCK_ROWS 6
#define VECTOR_COLUMNS 16

bool cc__gemm_unpacked_wanted(void) { return cc__cpu_isa() == CC__ISA_AVX512; }

static size_t share(size_t total, size_t unit, int parts, int part)
{
    const size_t units = (total + unit - 1) / unit;
    const size_t begin = units * (size_t)part / (size_t)parts * unit;
    return begin < total ? begin : total;
}

static size_t round_up(size_t x, size_t unit) { return (x + unit - 1) / unit * unit; }

/* The largest of the shares that `parts` threads get of `total` items cut
 * in whole units. */
static size_t largest_share(size_t total, size_t unit, int parts)
{
    size_t most = 0;
    for (int part = 0; part < parts; part++) {
        const size_t length = share(total, unit, parts, part + 1) - share(total, unit, parts, part);
        most = length > most ? length : most;
    }
    return most;
}

/* The busiest thread's share of the kernel's work (C's rows x columns as
 * it computes them: blocks of BLOCK_ROWS rows, whole vectors of columns)
 * when the threads split the columns in panels, or the rows in blocks. */
static size_t column_split_work(size_t m, size_t n, int parts)
{
    return round_up(m, BLOCK_ROWS) *
           round_up(largest_share(n, PANEL_COLUMNS, parts), VECTOR_COLUMNS);
}

static size_t row_split_work(size_t m, size_t n, int parts)
{
    return round_up(largest_share(m, BLOCK_ROWS, parts), BLOCK_ROWS) *
           round_up(n, VECTOR_COLUMNS);
}

/* Whether threads split C's columns rather than its rows. */
static bool split_columns(size_t m, size_t n, int threads, bool pixels_are_rows)
{
    const size_t by_columns = column_split_work(m, n, threads);
    const size_t by_rows = row_split_work(m, n, threads);
    /* Work counts are below m n + blocks, far from SIZE_MAX / 100. */
    if (pixels_are_rows)
        return by_rows * 100 > by_columns * (100 + PIXEL_SPLIT_SLACK);
    return by_columns * 100 <= by_rows * (100 + PIXEL_SPLIT_SLACK);
}

/* The kernel for thread `part`'s share of C's rows: the first of several
 * runs its rows from the last up. */
static cc__gemm_fn row_share_gemm(const cc__layer_kernels *kernels, int part, int parts)
{
    return part == 0 && parts > 1 ? kernels->gemm_last_rows_first : kernels->gemm;
}

/* The epilogue of C's block at row i0, column j0, in `room`; NULL for
 * none. */
static const cc__gemm_epilogue *block_epilogue(const cc__gemm_epilogue *epilogue, size_t i0,
                                               size_t j0, size_t ldc, cc__gemm_epilogue *room)
{
    if (epilogue == NULL)
        return NULL;
    *room = cc__gemm_epilogue_at(epilogue, i0, j0, ldc);
    return room;
}

void cc__gemm_unpacked(size_t m, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
                       const float *b, size_t ldb, bool accumulate, float *c, size_t ldc,
                       int threads, bool pixels_are_rows, const cc__gemm_epilogue *epilogue)
{
    const cc__layer_kernels *kernels = cc__layer_kernels_get();
    if (threads <= 1 || omp_in_parallel()) {
        kernels->gemm(m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, epilogue);
        return;
    }
    const bool by_columns = split_columns(m, n, threads, pixels_are_rows);
#pragma omp parallel num_threads(threads)
    {
        const int parts = omp_get_num_threads(), part = omp_get_thread_num();
        const size_t unit = by_columns ? PANEL_COLUMNS : BLOCK_ROWS;
        const size_t total = by_columns ? n : m;
        const size_t begin = share(total, unit, parts, part);
        const size_t end = share(total, unit, parts, part + 1);
        cc__gemm_epilogue own;
        const cc__gemm_epilogue *ep = block_epilogue(epilogue, by_columns ? 0 : begin,
                                                     by_columns ? begin : 0, ldc, &own);
        if (end > begin && by_columns)
            kernels->gemm(m, end - begin, k, a, a_rs, a_cs, b + begin, ldb, c + begin, ldc,
                          accumulate, ep);
        else if (end > begin)
            row_share_gemm(kernels, part, parts)(end - begin, n, k, a + begin * a_rs, a_rs, a_cs,
                                                 b, ldb, c + begin * ldc, ldc, accumulate, ep);
    }
}

/* Panels [q0, q1) of the product (gemm.h's cc__gemm_unpacked_panels),
 * rows [i0, i1). */
static void run_panels(cc__gemm_fn gemm, size_t i0, size_t i1, size_t q0,
                       size_t q1, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
                       const float *b_panels, size_t k_total, size_t k0, bool accumulate,
                       float *c, size_t ldc, const cc__gemm_epilogue *epilogue)
{
    for (size_t q = q0; q < q1; q++) {
        const size_t j0 = q * PANEL_COLUMNS;
        const size_t width = n - j0 < PANEL_COLUMNS ? n - j0 : PANEL_COLUMNS;
        const float *b = b_panels + j0 * k_total + k0 * width;
        cc__gemm_epilogue room;
        gemm(i1 - i0, width, k, a + i0 * a_rs, a_rs, a_cs, b, width, c + i0 * ldc + j0, ldc,
             accumulate, block_epilogue(epilogue, i0, j0, ldc, &room));
    }
}

void cc__gemm_unpacked_panels(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                              size_t a_cs, const float *b_panels, size_t k_total, size_t k0,
                              bool accumulate, float *c, size_t ldc, int threads,
                              bool pixels_are_rows, const cc__gemm_epilogue *epilogue)
{
    const cc__layer_kernels *kernels = cc__layer_kernels_get();
    const size_t panels = (n + PANEL_COLUMNS - 1) / PANEL_COLUMNS;
    if (threads <= 1 || omp_in_parallel()) {
        run_panels(kernels->gemm, 0, m, 0, panels, n, k, a, a_rs, a_cs, b_panels, k_total, k0,
                   accumulate, c, ldc, epilogue);
        return;
    }
    const bool by_columns = split_columns(m, n, threads, pixels_are_rows);
#pragma omp parallel num_threads(threads)
    {
        const int parts = omp_get_num_threads(), part = omp_get_thread_num();
        if (by_columns)
            run_panels(kernels->gemm, 0, m, share(panels, 1, parts, part),
                       share(panels, 1, parts, part + 1), n, k, a, a_rs, a_cs, b_panels,
                       k_total, k0, accumulate, c, ldc, epilogue);
        else
            run_panels(row_share_gemm(kernels, part, parts), share(m, BLOCK_ROWS, parts, part),
                       share(m, BLOCK_ROWS, parts, part + 1), 0, panels, n, k, a, a_rs, a_cs,
                       b_panels, k_total, k0, accumulate, c, ldc, epilogue);
    }
}
