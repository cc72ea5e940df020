/* Winograd's tile transforms (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016) for F(4x4,3x3) and F(6x6,3x3), on
 * CC__WINO_LANES independent tiles at once: lane l of every array belongs to
 * tile l, so the arithmetic vectorises whatever the lane count of the ISA.
 *
 * With alpha = m + 2 (4, 6 or 8):
 *   input:  v = B^T d B, d and v alpha x alpha rows of lanes (row-major)
 *   output: y = A^T x A, x alpha x alpha, y m x m
 *   weight: u = G w G^T, w 3x3 (row-major), u alpha x alpha, computed in
 *           double at create.
 * The matrices are the ones of wincnn for the points 0, +-1 (F2), 0, +-1,
 * +-2 (F4) and 0, +-1, +-2, +-1/2 (F6), and infinity; the input and output transforms
 * are written out with their zeros skipped and shared terms paired. */
#ifndef COLCONV_WINOGRAD_TRANSFORM_H
#define COLCONV_WINOGRAD_TRANSFORM_H

#include "../core/core.h"

#define CC__WINO_LANES 16
#define CC__WINO_MAX_ALPHA 8

typedef float cc__wino_lanes[CC__WINO_LANES];

/* gather_run4 and scatter_run4 serve NCHW F(4x4,3x3) runs of n tiles side
 * by side in a tile row, in lanes l0 .. l0 + n - 1, clear of the padding
 * (gather) or of the output's edges (scatter):
 *   gather_run4: d[j][l0 + k] = s[4 * k + j] for j < 6, k < n: one input
 *     row of the run's patches (s: 4 * n + 2 floats);
 *   scatter_run4: o[4 * k + j] = y[j][l0 + k] for j < 4, k < n: one output
 *     row of the run's tiles (o: 4 * n floats).
 * Both are interleaved accesses the compiler turns into permutes. */
/* Rows [y_lo, y_hi) and columns [x_lo, x_hi) of a tile's alpha x alpha
 * patch lie inside the input; the others are padding (zeros). */
typedef struct {
    int y_lo, y_hi, x_lo, x_hi;
} cc__wino_window;

/* NHWC: `lanes` (1 .. CC__WINO_LANES) consecutive channels of a tile's
 * patch, the lanes of its inside pixel (i, j) at
 * first + (i - y_lo) * row + (j - x_lo) * pixel (strides in floats). */
typedef struct {
    const float *first;
    ptrdiff_t pixel, row;
    cc__wino_window window;
    int lanes;
} cc__wino_patch;

/* What finishes an NHWC tile's `lanes` output channels: y + bias (bias
 * holds CC__WINO_LANES floats, zeros past `lanes`), + the residual (or
 * NULL) at the outputs' offsets, then act. Output and residual pixels are
 * `pixel` floats apart, their rows `row`. */
typedef struct {
    const float *bias;
    const float *residual;
    ptrdiff_t pixel, row;
    int lanes;
    cc_act act;
} cc__wino_finish;

/* input_planes: v = B^T d B (d from a gather), the first `lanes` of its
 * point p written at v + p * v_point;
 * output_planes: y = the finished A^T x A, x's point p at x + p * x_point
 * (its first f->lanes read), the residual (if any) read for the first
 * `rows` x `cols` outputs;
 * input_nhwc: v = B^T d B for the patch, v's point p at v + p * v_point;
 * output_nhwc: out = the finished A^T x A, x's point p at x + p * x_point
 * (each a line of the lanes), out at the tile's first output, its `rows` x
 * `cols` outputs inside the image written (both apart as f says). */
typedef struct {
    void (*gather_run4)(const float *s, int n, int l0, cc__wino_lanes *d);
    void (*scatter_run4)(cc__wino_lanes *y, int n, int l0, float *o);
    void (*input_nhwc)(int m, const cc__wino_patch *patch, float *v, ptrdiff_t v_point);
    void (*output_nhwc)(int m, const float *x, ptrdiff_t x_point, const cc__wino_finish *f,
                        float *out, int rows, int cols);
    void (*input_planes)(int m, cc__wino_lanes *d, int lanes, float *v, ptrdiff_t v_point);
    void (*output_planes)(int m, const float *x, ptrdiff_t x_point, const cc__wino_finish *f,
                          int rows, int cols, cc__wino_lanes *y);
} cc__wino_transforms;

/* The transforms compiled for `isa` (AVX-512, AVX2 + FMA, or portable). */
cc__wino_transforms cc__wino_transforms_for(cc__isa isa);
cc__wino_transforms cc__wino_transforms_portable(void);
cc__wino_transforms cc__wino_transforms_avx2(void);
cc__wino_transforms cc__wino_transforms_avx512(void);

/* u (alpha x alpha) = G w G^T for the 3x3 kernel w. */
void cc__wino_weight(int m, const float w[9], float *u);

#endif
