/* colconv internals: the kernels of the non-convolution layers. Each runs on
 * up to `threads` OpenMP threads (1 when small), never allocates, and reads
 * and writes only the buffers it is given. Shapes are validated by the
 * caller (the network builder) with the *_output functions. */
#ifndef COLCONV_LAYERS_INTERNAL_H
#define COLCONV_LAYERS_INTERNAL_H

#include "../core/core.h"
#include "../core/parallel.h"
#include "colconv/layers.h"

/* An activation tensor's logical shape; its layout is passed beside it. */
typedef struct {
    int n, c, h, w;
} cc__dims;

static inline size_t cc__dims_count(const cc__dims *d)
{
    return (size_t)d->n * (size_t)d->c * (size_t)d->h * (size_t)d->w;
}

/* Work cut into blocks of `block` items: how many, and the length of the
 * one that starts at `begin` (the last may be short). */
static inline size_t cc__block_count(size_t total, size_t block)
{
    return (total + block - 1) / block;
}
static inline size_t cc__block_len(size_t total, size_t begin, size_t block)
{
    return total - begin < block ? total - begin : block;
}

/* Runs the block { ... } for u = 0 .. units - 1 over `threads` OpenMP
 * threads, or in a plain loop on the calling thread (core/parallel.h). */
#define CC__LAYER_FOR(u, units, threads, ...)                                                   \
    CC__PARALLEL_FOR(size_t, u, units, threads, __VA_ARGS__)

/* Pooling: validates p against in (CC_ERR_INVALID_ARG naming the field) and
 * gives the output shape. */
cc_status cc__pool_output(const cc__dims *in, const cc_pool2d_params *p, cc__dims *out);
void cc__pool_run(const cc__dims *in, cc_layout layout, const cc_pool2d_params *p,
                  const float *input, float *output, int threads);
/* Global pooling: output is [n][c] (1x1 spatial, same in both layouts). */
void cc__global_pool_run(const cc__dims *in, cc_layout layout, cc_pool_kind kind,
                         const float *input, float *output, int threads);

/* Element-wise activation; input == output is allowed. */
cc_status cc__activation_check(const cc_activation *act);
void cc__activation_run(const cc_activation *act, const float *input, float *output,
                        size_t count, int threads);
/* The same on the calling thread, for a block another kernel just wrote. */
void cc__activation_span(const cc_activation *act, const float *input, float *output,
                         size_t count);

/* Softmax over channels at every (n, h, w), max-subtracted. */
void cc__softmax_run(const cc__dims *in, cc_layout layout, const float *input,
                     float *output, int threads);

cc_status cc__lrn_check(const cc_lrn_params *p);
void cc__lrn_run(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                 const float *input, float *output, int threads);

/* Concatenation along channels of `count` inputs with the same n, h, w;
 * channels[i] is input i's channel count, out has their sum. inputs[i] NULL:
 * input i is already in its place in output (left as it is). */
void cc__concat_run(const cc__dims *out, cc_layout layout, int count,
                    const float *const *inputs, const int *channels, float *output,
                    int threads);

/* out = a + b, then the optional activation (NULL for none); out may alias a or b. */
void cc__add_run(const float *a, const float *b, float *output, size_t count,
                 const cc_activation *act, int threads);

/* Batch norm folded to out = x * mul[c] + add[c]; input == output is allowed. */
cc_status cc__batchnorm_check(const cc_batchnorm_params *p, int channels);
void cc__batchnorm_coefficients(const cc_batchnorm_params *p, int channels, float *mul,
                                float *add);
void cc__batchnorm_run(const cc__dims *in, cc_layout layout, const float *mul,
                       const float *add, const float *input, float *output, int threads);
/* The same, then act (NULL: none) on each block while it is in cache: a
 * network's standalone batch norm with the activation after it (DenseNet's
 * BN-ReLU before each conv) in one sweep. */
void cc__batchnorm_act_run(const cc__dims *in, cc_layout layout, const float *mul,
                           const float *add, const cc_activation *act, const float *input,
                           float *output, int threads);
/* The same on the concatenation along channels of `count` tensors
 * (inputs[k] of channels[k] channels, the other dims in's), read where
 * they are: a concat read by nothing but this batch norm is never
 * written. */
void cc__batchnorm_act_gather_run(const cc__dims *in, cc_layout layout, const float *mul,
                                  const float *add, const cc_activation *act, int count,
                                  const float *const *inputs, const int *channels,
                                  float *output, int threads);

/* Fully connected: out[n][o] = act(sum_i in[n][i] * weights[o][i] + bias[o]).
 * weights are [outputs][inputs] (PyTorch's Linear) as packed by cc__fc_pack
 * for this batch; bias may be NULL; act may be NULL. Uses SGEMM, or a GEMV
 * kernel at batch 1. */
void cc__fc_run(int batch, int inputs, int outputs, const float *weights,
                const float *bias, const cc_activation *act, const float *input,
                float *output, int threads);
/* Lays weights [outputs][inputs] out for cc__fc_run at this batch (once, at
 * create): a copy at batch 1 (the GEMV multiplies W by x), the transpose
 * [inputs][outputs] above (SGEMM multiplies in by W^T and takes no
 * transposes). packed holds outputs * inputs floats, apart from weights. */
void cc__fc_pack(int batch, int inputs, int outputs, const float *weights, float *packed,
                 int threads);

#endif
