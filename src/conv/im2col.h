/* im2col tile builders for the GEMM paths. */
#ifndef COLCONV_IM2COL_H
#define COLCONV_IM2COL_H

#include "conv_internal.h"

/* NCHW: col is kcount x pcount, row-major: col[kk][j] is tap k0+kk (in
 * (channel, ky, kx) order, the order of OIHW weights) of output pixel p0+j
 * (p = oy*OW + ox) of one image; image_group points at the group's first
 * input channel of that image. Padding taps are 0. */
void cc__im2col_nchw(const cc__conv_geom *g, const float *image_group, size_t k0, size_t kcount,
                     size_t p0, size_t pcount, float *col, int threads);

/* NHWC: col is rcount x kcount, row-major: col[rr][kk] is tap k0+kk (in
 * (ky, kx, channel) order) of output pixel r0+rr of the whole batch
 * (r = (n*OH + oy)*OW + ox), for input channels of `group`. */
void cc__im2col_nhwc(const cc__conv_geom *g, const float *input, int group, size_t r0,
                     size_t rcount, size_t k0, size_t kcount, float *col, int threads);

/* col2im, the adjoints of the two above (the backward pass's input
 * gradient): each col entry is added into the input-gradient element its
 * tap reads (several taps may read one element); padding taps are dropped.
 * Same col layouts and arguments as cc__im2col_nchw / cc__im2col_nhwc.
 * They run on the calling thread: two taps may add into one element. */
void cc__col2im_nchw(const cc__conv_geom *g, float *image_group_grad, size_t k0, size_t kcount,
                     size_t p0, size_t pcount, const float *col);
void cc__col2im_nhwc(const cc__conv_geom *g, float *input_grad, int group, size_t r0,
                     size_t rcount, size_t k0, size_t kcount, const float *col);

#endif
