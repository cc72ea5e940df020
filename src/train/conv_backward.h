/* The convolution of a training run: forward on the current OIHW weights
 * (they change every step, so nothing is packed at create) and backward
 * (input, weight and bias gradients), both through im2col tiles and SGEMM.
 *
 * Units of work are images: an image's output pixels are cut into tiles of
 * at most `tile` pixels whose col block (K x tile, K = IC/groups * KH * KW)
 * is built just before the GEMM that reads it, so the workspace is bounded
 * whatever the layer. With several threads and at least as many images,
 * threads take whole images (static schedule) with one-thread GEMMs: an
 * image's input gradient is then written by one thread only, and each
 * thread sums its weight and bias gradients in its own accumulator, reduced
 * at the end in thread order (results depend on the thread count, not on
 * the run). Otherwise images run in order, GEMMs on BLAS threads.
 *
 * Per layout, for group gr of image n (OCg output channels):
 *   NCHW: col [K x pc] (taps in (c, ky, kx) order, as OIHW rows):
 *         out = W_g col;  dW_g += dY col^T;  dcol = W_g^T dY -> col2im.
 *   NHWC: col [pc x K] (taps in (ky, kx, c) order), Wp the weights permuted
 *         to [OC][K] in that order (in the workspace, every call):
 *         out = col Wp_g^T;  dWp_g += dY^T col;  dcol = dY Wp_g -> col2im.
 *
 * Small layers (saved_floats > 0) keep the forward's col blocks for the
 * backward's weight gradient. In NHWC with one group the kept blocks of the
 * batch form one [N*OH*OW x K] matrix: on one thread over the images, the
 * forward and the weight gradient are then one GEMM each over the batch. */
#ifndef COLCONV_TRAIN_CONV_BACKWARD_H
#define COLCONV_TRAIN_CONV_BACKWARD_H

#include "../conv/conv_internal.h"

typedef struct {
    cc__conv_geom g;       /* the whole batch; activation CC_ACT_NONE */
    size_t tile;           /* output pixels per col tile (<= OH * OW) */
    int threads;           /* the most threads a call uses (images in parallel when > 1) */
    size_t col_floats;     /* one col tile: K * tile */
    size_t acc_floats;     /* one thread's gradient accumulator: OC * K + OC */
    size_t packed_floats;  /* NHWC: the permuted weights, OC * K; NCHW: 0 */
    size_t dy_floats;      /* NCHW: a tile of one group's output gradient
                            * transposed, tile * OC/groups; NHWC: 0 */
    size_t saved_floats;   /* > 0: the forward may keep every image's col block
                            * (N * groups * K * OH * OW floats; tile = OH * OW)
                            * for the backward; 0: too large, or 1x1 copy-free */
    size_t workspace_bytes;
} cc__conv_train;

/* The most floats of one col tile (at least 64 output pixels' worth);
 * tests lower it to force many tiles. 0 restores the default (2 MiB). */
void cc__conv_train_set_tile_budget(size_t floats);

/* Plans a layer of geometry g (as validated by cc__conv_geom_init) for up to
 * `threads` threads. CC_ERR_UNSUPPORTED when a size passed to BLAS would not
 * fit in an int, CC_ERR_INVALID_ARG when the workspace size overflows. */
cc_status cc__conv_train_init(const cc__conv_geom *g, int threads, cc__conv_train *t);

/* output = conv(input, weights) + bias (bias may be NULL) for the first
 * `images` (<= g.n) images. workspace: t->workspace_bytes, 64-byte aligned.
 * saved: NULL, or (when t->saved_floats > 0) t->saved_floats floats that
 * receive the col blocks for cc__conv_train_backward. */
void cc__conv_train_forward(const cc__conv_train *t, const float *weights, const float *bias,
                            const float *input, float *output, float *workspace, int images,
                            float *saved);

/* For the whole batch (g.n images), from the output gradient dout (saved:
 * NULL, or the col blocks of a forward on this input and batch): dweights (OIHW, overwritten; NULL: not
 * wanted), dbias ([OC], overwritten; NULL: not wanted) and dinput (NULL:
 * not wanted; overwritten, or added to when add_dinput). */
void cc__conv_train_backward(const cc__conv_train *t, const float *weights, const float *input,
                             const float *saved, const float *dout, float *dinput,
                             bool add_dinput, float *dweights, float *dbias, float *workspace);

#endif
