/* Bias, residual and activation over a block of output in one pass per
 * row (the row sweeps of the operator's ISA, epilogue_body.h), split over
 * the unit's threads. */
#define EP_NAME(x) x##_portable
#define EP_ISA CC__ISA_SCALAR
#include "epilogue_body.h"

#include "../core/parallel.h"
#include "../layers/kernels.h"

/* One row: x[i] = act(x[i] + bias[0] or bias[i] + residual[i]). */
typedef void (*row_sweep)(float *x, const float *bias, const float *residual, size_t n,
                          cc_act act);

/* An ISA family's sweeps: bias per row (NCHW) and per column (NHWC). */
typedef struct {
    row_sweep row_bias, col_bias;
} sweeps;

static sweeps sweeps_of(cc__isa isa)
{
    switch (isa) {
    case CC__ISA_AVX512:
        return (sweeps){cc__epilogue_row_bias_avx512, cc__epilogue_col_bias_avx512};
    case CC__ISA_AVX2:
        return (sweeps){cc__epilogue_row_bias_avx2, cc__epilogue_col_bias_avx2};
    case CC__ISA_SCALAR:
        break;
    }
    return (sweeps){cc__epilogue_row_bias_portable, cc__epilogue_col_bias_portable};
}

void cc__activate_curve(float *x, size_t n, cc_act act, cc__isa isa)
{
    if (act == CC_ACT_TANH)
        cc__layer_kernels_of(isa)->tanh(x, x, n);
    else if (act == CC_ACT_SIGMOID)
        cc__layer_kernels_of(isa)->sigmoid(x, x, n);
}

void cc__epilogue_rows(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act, cc__isa isa, int threads)
{
    if (bias == NULL && residual == NULL && act == CC_ACT_NONE)
        return;
    const row_sweep row = sweeps_of(isa).row_bias;
    CC__PARALLEL_FOR(size_t, r, rows, cc__parallel_threads(threads, rows * cols), {
        row(block + r * ld, bias != NULL ? bias + r : NULL,
            residual != NULL ? residual + r * ld : NULL, cols, act);
    });
}

void cc__epilogue_cols(float *block, size_t rows, size_t cols, size_t ld, const float *bias,
                       const float *residual, cc_act act, cc__isa isa, int threads)
{
    if (bias == NULL && residual == NULL && act == CC_ACT_NONE)
        return;
    const row_sweep row = sweeps_of(isa).col_bias;
    CC__PARALLEL_FOR(size_t, r, rows, cc__parallel_threads(threads, rows * cols), {
        row(block + r * ld, bias, residual != NULL ? residual + r * ld : NULL, cols, act);
    });
}

/* Chunks of the residual sweep: large enough to amortise a fork. */
#define RESIDUAL_CHUNK ((size_t)1 << 16)

void cc__epilogue_residual(float *out, const float *residual, size_t count, cc_act act,
                           cc__isa isa, int threads)
{
    const size_t chunks = (count + RESIDUAL_CHUNK - 1) / RESIDUAL_CHUNK;
    const row_sweep row = sweeps_of(isa).row_bias;
    CC__PARALLEL_FOR(size_t, chunk, chunks, threads, {
        const size_t start = chunk * RESIDUAL_CHUNK;
        const size_t length = count - start < RESIDUAL_CHUNK ? count - start : RESIDUAL_CHUNK;
        row(out + start, NULL, residual + start, length, act);
    });
}
