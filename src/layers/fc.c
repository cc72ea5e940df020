/* Fully connected layer: out[N x O] = in[N x I] * W^T + bias, then the
 * activation. cc__sgemm takes no transposes, so above batch 1 the weights are
 * stored transposed ([I][O], packed once by cc__fc_pack) and the product is
 * SGEMM writing out row-major. At batch 1 the untransposed W [O][I] goes to
 * the GEMV of kernels_body.h, which streams it once with no packing (at the
 * rate of a plain read of the weights; OpenBLAS's sgemv reached 60-70% of
 * it). Bias and activation are applied to each block of outputs right after
 * its product. */
#include <string.h>

#include "../conv/gemm.h"
#include "kernels.h"

/* Side of the square tiles the transpose copies: two tiles fit in L1. */
#define TRANSPOSE_TILE 32

/* packed[i][o] = weights[o][i] for rows o in [o0, o0 + TRANSPOSE_TILE). */
static void transpose_band(size_t inputs, size_t outputs, size_t o0, const float *weights,
                           float *packed)
{
    const size_t o1 = o0 + TRANSPOSE_TILE < outputs ? o0 + TRANSPOSE_TILE : outputs;
    for (size_t i0 = 0; i0 < inputs; i0 += TRANSPOSE_TILE) {
        const size_t i1 = i0 + TRANSPOSE_TILE < inputs ? i0 + TRANSPOSE_TILE : inputs;
        for (size_t i = i0; i < i1; i++)
            for (size_t o = o0; o < o1; o++)
                packed[i * outputs + o] = weights[o * inputs + i];
    }
}

void cc__fc_pack(int batch, int inputs, int outputs, const float *weights, float *packed,
                 int threads)
{
    const size_t in = (size_t)inputs, out = (size_t)outputs;
    if (batch == 1) {
        memcpy(packed, weights, in * out * sizeof(float));
        return;
    }
    const size_t bands = (out + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    const int nt = cc__parallel_threads(threads, in * out);
    CC__LAYER_FOR(b, bands, nt, {
        transpose_band(in, out, b * TRANSPOSE_TILE, weights, packed);
    });
}

/* Outputs per unit of work. Each unit is one single-threaded BLAS call on a
 * fixed block of outputs, so results do not depend on the thread count
 * (OpenBLAS's own rounding depends on how it partitions a matrix). Re-packing
 * the input per block costs 1 / (2 * FC_BLOCK) of the block's flops. */
#define FC_BLOCK 128

/* out[n][o0 .. o0 + len) for every n, then bias and activation while hot. */
static void fc_block(const cc__layer_kernels *k, size_t batch, size_t inputs, size_t outputs,
                     size_t o0, size_t len, const float *weights, const float *bias,
                     const cc_activation *act, const float *input, float *output)
{
    if (batch == 1)
        k->gemv(weights + o0 * inputs, inputs, input, output + o0, len);
    else
        cc__sgemm(batch, len, inputs, input, inputs, weights + o0, outputs, 0.0f, output + o0,
                  outputs);
    for (size_t n = 0; n < batch; n++) {
        float *row = output + n * outputs + o0;
        if (bias != NULL)
            for (size_t o = 0; o < len; o++)
                row[o] += bias[o0 + o];
        if (act != NULL)
            cc__activation_span(act, row, row, len);
    }
}

static void run_block(const cc__layer_kernels *k, size_t b, size_t n, size_t in, size_t out,
                      const float *weights, const float *bias, const cc_activation *act,
                      const float *input, float *output)
{
    const size_t o0 = b * FC_BLOCK;
    fc_block(k, n, in, out, o0, cc__block_len(out, o0, FC_BLOCK), weights, bias, act,
             input, output);
}

void cc__fc_run(int batch, int inputs, int outputs, const float *weights,
                const float *bias, const cc_activation *act, const float *input,
                float *output, int threads)
{
    const size_t n = (size_t)batch, in = (size_t)inputs, out = (size_t)outputs;
    const size_t blocks = cc__block_count(out, FC_BLOCK);
    const int nt = cc__parallel_threads(threads, n * in * out);
    const cc__layer_kernels *k = cc__layer_kernels_get();
    /* OpenBLAS runs each block on one thread (inside our region, and
     * outside it through this thread's setting), so that the result does not
     * depend on the thread count. */
    const int previous = cc__blas_threads_begin(1);
    CC__LAYER_FOR(b, blocks, nt, {
        run_block(k, b, n, in, out, weights, bias, act, input, output);
    });
    cc__blas_threads_end(previous);
}
