/* colconv internals of training: the backward passes of every layer but
 * convolution, and the training-mode forward passes of batch norm and
 * dropout (the other layers train with their inference forward, layers.h).
 *
 * Conventions, shared by every function here:
 * - Shapes and layouts are the forward's (layers.h): cc__dims {n, c, h, w}
 *   with a cc_layout; a flat [N][C] tensor is {n, c, 1, 1} (same memory in
 *   both layouts). Every gradient has the layout and shape of the value it
 *   is the gradient of. Shapes and parameters are the ones the forward was
 *   validated with (cc__pool_output, cc__lrn_check, ...); the functions that
 *   can still fail on data return a cc_status.
 * - Input gradients (dx): `accumulate` false overwrites dx, true adds to it
 *   (a tensor read by several layers sums their gradients). Parameter
 *   gradients (dweights, dbias, dscale, dshift) are always added to: the
 *   trainer zeroes them before a step.
 * - `threads` as in the forward kernels (1 when small). Results do not
 *   depend on the thread count: each output value is reduced in a fixed
 *   order whatever the split. Nothing allocates; the scratch that LRN and FC
 *   need is the caller's workspace, sized by their *_workspace functions.
 * - dy and dx must not overlap unless a function says so. */
#ifndef COLCONV_TRAIN_BACKWARD_H
#define COLCONV_TRAIN_BACKWARD_H

#include "../layers/layers.h"

/* ---- Pooling (backward_pool.c) ------------------------------------------
 * Max: the gradient of each output goes to the FIRST maximum of its window
 * in scan order (ky, then kx), as PyTorch does; a NaN wins as in the
 * forward (the last NaN of the window, as PyTorch's kernel picks). The
 * maximum is found again from `input` (the forward's input): no argmax is
 * recorded, so the forward needs no training variant and no memory; the
 * cost is a second sweep of the windows.
 * Average: each output's gradient / the forward's divisor (count_include_pad
 * or not, cc__pool_divisor) goes to every input cell of its window; `input`
 * is not read (may be NULL). Overlapping windows (stride < kernel) add up. */
void cc__pool_backward(const cc__dims *in, cc_layout layout, const cc_pool2d_params *p,
                       const float *input, const float *dy, float *dx, bool accumulate,
                       int threads);

/* Max pooling's backward for 2x2 windows at stride 2 over one pair of NCHW
 * input rows x0 and x1 (the windows [0, n), all inside the input): dy[n]
 * to each window's maximum, as cc__pool_backward, written into the
 * gradient rows d0 and d1 (cells [0, 2n); the rest is the caller's) or
 * added to them when accumulate. AVX-512 (backward_pool_avx512.c) and AVX2
 * (backward_pool_avx2.c): only when the CPU has them. */
void cc__max2x2_rows_avx512(const float *x0, const float *x1, const float *dy, float *d0,
                            float *d1, int n, bool accumulate);
void cc__max2x2_rows_avx2(const float *x0, const float *x1, const float *dy, float *d0,
                          float *d1, int n, bool accumulate);
/* Global pooling: dy is [n][c]. Max: to the first maximum of the plane
 * (the last NaN), found from `input`; average: dy / (h * w) to every cell
 * (`input` may be NULL). */
void cc__global_pool_backward(const cc__dims *in, cc_layout layout, cc_pool_kind kind,
                              const float *input, const float *dy, float *dx, bool accumulate,
                              int threads);

/* ---- Activations (backward_activation.c) --------------------------------
 * dx = dy * f'(x) for every cc_activation_kind, from the forward's input x
 * and output y, both kept (an activation that trains does not run in
 * place): the piecewise-linear kinds (ReLU, leaky ReLU, capped ReLU, hard
 * sigmoid, hard swish) from x, sigmoid y (1 - y) and tanh 1 - y^2 from y,
 * ELU x > 0 ? 1 : y + alpha. At a kink (x = 0 for ReLU) the slope is the
 * one PyTorch takes. dx may be dy when !accumulate. */
void cc__activation_backward(const cc_activation *act, const float *input, const float *output,
                             const float *dy, float *dx, size_t count, bool accumulate,
                             int threads);

/* ---- Fully connected (backward_fc.c) -------------------------------------
 * Forward: y[n][o] = sum_i x[n][i] * W[o][i] + b[o], W = weights [outputs]
 * [inputs] in the tensor's (c, h, w) order whatever the layout (an NHWC
 * image flattens in (h, w, c) order: permuted here as src/net/pack.c does).
 * `in` is the FC's input shape (flat: {n, c, 1, 1}); dy is [n][outputs].
 *   dx[n][i]   (+)= sum_o dy[n][o] W[o][i]      (skipped when dx is NULL)
 *   dweights[o][i] += sum_n dy[n][o] x[n][i]
 *   dbias[o]       += sum_n dy[n][o]            (skipped when dbias is NULL)
 * through cc__sgemm in fixed blocks, one BLAS thread each. workspace holds
 * cc__fc_backward_workspace(in, layout) floats (NULL when that is 0). */
size_t cc__fc_backward_workspace(const cc__dims *in, cc_layout layout);
void cc__fc_backward(const cc__dims *in, cc_layout layout, int outputs, const float *weights,
                     const float *input, const float *dy, float *dx, float *dweights,
                     float *dbias, bool accumulate, float *workspace, int threads);

/* ---- Softmax with cross-entropy, fused (backward_softmax.c) ---------------
 * logits [batch][classes] (the softmax node's input; a [N][C][1][1] tensor is
 * the same memory), labels[batch] in [0, classes). *loss = mean over the
 * batch of logsumexp(x) - x[label] (max-subtracted, in double: finite for
 * logits like 1e4); *correct = the images whose first largest logit is at
 * their label; dlogits (NULL: not computed) = (softmax - onehot) / batch,
 * overwritten. CC_ERR_INVALID_ARG naming the image for a label out of range,
 * before anything is written. loss and correct may be NULL. */
cc_status cc__softmax_xent(int batch, int classes, const float *logits, const int32_t *labels,
                           float *dlogits, float *loss, int *correct, int threads);

/* ---- Batch norm, training mode (backward_batchnorm.c) --------------------
 * Forward with the batch's statistics per channel over (N, H, W): y =
 * (x - mean) * invstd * scale + shift, invstd = 1 / sqrt(biased var + eps);
 * then, as PyTorch: running_mean = (1 - momentum) running_mean + momentum
 * mean, running_var likewise with the UNBIASED variance (count / (count-1));
 * momentum 0.1 for PyTorch's default. save_mean and save_invstd [c] keep
 * what the backward needs. Statistics in double. output may be input (but
 * the backward needs the input: keep it). CC_ERR_INVALID_ARG when a channel
 * has a single value (n * h * w == 1), as PyTorch. */
cc_status cc__batchnorm_train_forward(const cc__dims *in, cc_layout layout, const float *scale,
                                      const float *shift, float epsilon, float momentum,
                                      float *running_mean, float *running_var,
                                      const float *input, float *output, float *save_mean,
                                      float *save_invstd, int threads);
/* From the forward's input and saved statistics: dscale[c] += sum dy * xhat,
 * dshift[c] += sum dy, dx (+)= scale * invstd * (dy - mean(dy) - xhat *
 * mean(dy * xhat)) with xhat = (x - mean) * invstd. */
void cc__batchnorm_backward(const cc__dims *in, cc_layout layout, const float *scale,
                            const float *save_mean, const float *save_invstd, const float *input,
                            const float *dy, float *dx, float *dscale, float *dshift,
                            bool accumulate, int threads);

/* ---- LRN (backward_lrn.c) --------------------------------------------------
 * From the forward's input, for out_j = x_j s_j^-beta, s_j = k + alpha/size
 * sum_{window(j)} x^2 (layers.h's window): dx_j (+)= dy_j s_j^-beta -
 * 2 alpha beta / size x_j sum_{c: j in window(c)} dy_c x_c s_c^(-beta-1).
 * workspace holds cc__lrn_backward_workspace(in, threads) floats. */
size_t cc__lrn_backward_workspace(const cc__dims *in, int threads);
void cc__lrn_backward(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                      const float *input, const float *dy, float *dx, bool accumulate,
                      float *workspace, int threads);

/* ---- Concat and add (backward_concat_add.c) -------------------------------
 * Concat: dy has the output's shape `out`; input i (channels[i] channels)
 * gets its slice in dinputs[i] (its own shape), or nothing when dinputs[i] is
 * NULL. */
void cc__concat_backward(const cc__dims *out, cc_layout layout, int count,
                         float *const *dinputs, const int *channels, const float *dy,
                         bool accumulate, int threads);
/* Add: each input's gradient is dy; call once per input. dx may be dy when
 * !accumulate (nothing to do then). */
void cc__add_backward(const float *dy, float *dx, size_t count, bool accumulate, int threads);

/* ---- Dropout, training mode (backward_dropout.c) ---------------------------
 * Element i is dropped when u(key, i) < p, u uniform in [0, 1) from
 * splitmix64 of (key, i): the mask is a pure function of the key and the
 * index, so it is reproducible, independent of the thread count, and the
 * backward draws it again (nothing stored). Kept values are scaled by
 * 1 / (1 - p); p = 1 drops everything. The key of one dropout node at one
 * step: */
uint64_t cc__dropout_key(uint64_t seed, uint64_t node, uint64_t step);
/* CC_ERR_INVALID_ARG unless 0 <= p <= 1. */
cc_status cc__dropout_check(float p);
/* y = mask * x / (1 - p); output may be input. */
void cc__dropout_forward(float p, uint64_t key, const float *input, float *output, size_t count,
                         int threads);
/* dx (+)= mask * dy / (1 - p); dx may be dy when !accumulate. */
void cc__dropout_backward(float p, uint64_t key, const float *dy, float *dx, size_t count,
                          bool accumulate, int threads);

#endif
