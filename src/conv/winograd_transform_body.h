/* The input and output transforms of winograd_transform.h, instantiated once
 * per ISA (winograd_transform.c: portable; winograd_transform_avx2.c and
 * winograd_transform_avx512.c): the
 * includer defines WT_NAME(x) to suffix the function names. Every loop runs
 * over the lanes with a constant count, so the compiler vectorises it with
 * the ISA the file is compiled for. A line is alpha rows of lanes `stride`
 * rows apart: a column of the tile (stride alpha) or a row (stride 1). */
#include "winograd_transform.h"

#define WT_L CC__WINO_LANES

/* r = B^T d for F(4x4,3x3). */
static void WT_NAME(input_line_f4)(cc__wino_lanes *d, int ds, cc__wino_lanes *r, int rs)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float d0 = d[0][l], d1 = d[ds][l], d2 = d[2 * ds][l];
        const float d3 = d[3 * ds][l], d4 = d[4 * ds][l], d5 = d[5 * ds][l];
        const float a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;
        const float c = d4 - d2, e = 2.0f * (d3 - d1);
        r[0][l] = 4.0f * d0 - 5.0f * d2 + d4;
        r[rs][l] = a + b;
        r[2 * rs][l] = a - b;
        r[3 * rs][l] = c + e;
        r[4 * rs][l] = c - e;
        r[5 * rs][l] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* r = B^T d for F(6x6,3x3). */
static void WT_NAME(input_line_f6)(cc__wino_lanes *d, int ds, cc__wino_lanes *r, int rs)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float d0 = d[0][l], d1 = d[ds][l], d2 = d[2 * ds][l], d3 = d[3 * ds][l];
        const float d4 = d[4 * ds][l], d5 = d[5 * ds][l], d6 = d[6 * ds][l];
        const float d7 = d[7 * ds][l];
        const float a1 = d2 + d6 - 4.25f * d4, b1 = d1 + d5 - 4.25f * d3;
        const float a2 = 0.25f * d2 - 1.25f * d4 + d6, b2 = 0.5f * d1 - 2.5f * d3 + 2.0f * d5;
        const float a3 = 4.0f * d2 - 5.0f * d4 + d6, b3 = 2.0f * d1 - 2.5f * d3 + 0.5f * d5;
        r[0][l] = (d0 - d6) + 5.25f * (d4 - d2);
        r[rs][l] = a1 + b1;
        r[2 * rs][l] = a1 - b1;
        r[3 * rs][l] = a2 + b2;
        r[4 * rs][l] = a2 - b2;
        r[5 * rs][l] = a3 + b3;
        r[6 * rs][l] = a3 - b3;
        r[7 * rs][l] = (d7 - d1) + 5.25f * (d3 - d5);
    }
}

/* y = A^T x for F(4x4,3x3). */
static void WT_NAME(output_line_f4)(cc__wino_lanes *x, int xs, cc__wino_lanes *y, int ys)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float a = x[xs][l] + x[2 * xs][l], b = x[xs][l] - x[2 * xs][l];
        const float c = x[3 * xs][l] + x[4 * xs][l], e = x[3 * xs][l] - x[4 * xs][l];
        y[0][l] = x[0][l] + a + c;
        y[ys][l] = b + 2.0f * e;
        y[2 * ys][l] = a + 4.0f * c;
        y[3 * ys][l] = b + 8.0f * e + x[5 * xs][l];
    }
}

/* y = A^T x for F(6x6,3x3). */
static void WT_NAME(output_line_f6)(cc__wino_lanes *x, int xs, cc__wino_lanes *y, int ys)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float a1 = x[xs][l] + x[2 * xs][l], b1 = x[xs][l] - x[2 * xs][l];
        const float a2 = x[3 * xs][l] + x[4 * xs][l], b2 = x[3 * xs][l] - x[4 * xs][l];
        const float a3 = x[5 * xs][l] + x[6 * xs][l], b3 = x[5 * xs][l] - x[6 * xs][l];
        y[0][l] = x[0][l] + a1 + a2 + a3;
        y[ys][l] = b1 + 2.0f * b2 + 0.5f * b3;
        y[2 * ys][l] = a1 + 4.0f * a2 + 0.25f * a3;
        y[3 * ys][l] = b1 + 8.0f * b2 + 0.125f * b3;
        y[4 * ys][l] = a1 + 16.0f * a2 + 0.0625f * a3;
        y[5 * ys][l] = b1 + 32.0f * b2 + 0.03125f * b3 + x[7 * xs][l];
    }
}

/* v = B^T d B: columns first (into t), then rows. */
static void WT_NAME(input)(int m, cc__wino_lanes *d, cc__wino_lanes *v)
{
    const int alpha = m + 2;
    cc__wino_lanes t[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    for (int j = 0; j < alpha; j++)
        (m == 4 ? WT_NAME(input_line_f4) : WT_NAME(input_line_f6))(d + j, alpha, t + j, alpha);
    for (int i = 0; i < alpha; i++)
        (m == 4 ? WT_NAME(input_line_f4) : WT_NAME(input_line_f6))(t + i * alpha, 1,
                                                                   v + i * alpha, 1);
}

/* y = A^T x A: columns first (alpha columns of m values into t, m x alpha),
 * then the m rows of t. */
static void WT_NAME(output)(int m, cc__wino_lanes *x, cc__wino_lanes *y)
{
    const int alpha = m + 2;
    cc__wino_lanes t[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    for (int j = 0; j < alpha; j++)
        (m == 4 ? WT_NAME(output_line_f4) : WT_NAME(output_line_f6))(x + j, alpha, t + j, alpha);
    for (int i = 0; i < m; i++)
        (m == 4 ? WT_NAME(output_line_f4) : WT_NAME(output_line_f6))(t + i * alpha, 1, y + i * m,
                                                                    1);
}

static void WT_NAME(gather_run4)(const float *restrict s, int n, int l0,
                                 cc__wino_lanes *restrict d)
{
    for (int k = 0; k < n; k++) {
        d[0][l0 + k] = s[4 * k];
        d[1][l0 + k] = s[4 * k + 1];
        d[2][l0 + k] = s[4 * k + 2];
        d[3][l0 + k] = s[4 * k + 3];
        d[4][l0 + k] = s[4 * k + 4];
        d[5][l0 + k] = s[4 * k + 5];
    }
}

static void WT_NAME(scatter_run4)(cc__wino_lanes *restrict y, int n, int l0, float *restrict o)
{
    for (int k = 0; k < n; k++) {
        o[4 * k] = y[0][l0 + k];
        o[4 * k + 1] = y[1][l0 + k];
        o[4 * k + 2] = y[2][l0 + k];
        o[4 * k + 3] = y[3][l0 + k];
    }
}

cc__wino_transforms WT_NAME(cc__wino_transforms)(void)
{
    const cc__wino_transforms transforms = {WT_NAME(input), WT_NAME(output), WT_NAME(gather_run4),
                                            WT_NAME(scatter_run4)};
    return transforms;
}
