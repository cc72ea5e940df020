/* The input and output transforms of winograd_transform.h, instantiated once
 * per ISA (winograd_transform.c: portable; winograd_transform_avx2.c and
 * winograd_transform_avx512.c): the includer defines WT_NAME(x) to suffix
 * the function names and WT_ISA. Every loop over the lanes has a constant
 * count, so the compiler vectorises it with the ISA the file is compiled
 * for. A line is alpha lines of lanes `stride` floats apart: a column of
 * the tile or a row, in a tile of lines or in the image itself (NHWC, whose
 * pixels hold the lanes side by side). */
#include <stdbool.h>
#include <stdint.h>

#include "epilogue.h"
#include "winograd_transform.h"

#define WT_L CC__WINO_LANES

/* r = B^T d for F(2x2,3x3). */
static inline void WT_NAME(input_line_f2)(const float *restrict d, ptrdiff_t ds,
                                          float *restrict r, ptrdiff_t rs)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float d0 = d[l], d1 = d[ds + l], d2 = d[2 * ds + l], d3 = d[3 * ds + l];
        r[l] = d0 - d2;
        r[rs + l] = d1 + d2;
        r[2 * rs + l] = d2 - d1;
        r[3 * rs + l] = d1 - d3;
    }
}

/* r = B^T d for F(4x4,3x3). */
static inline void WT_NAME(input_line_f4)(const float *restrict d, ptrdiff_t ds,
                                          float *restrict r, ptrdiff_t rs)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float d0 = d[l], d1 = d[ds + l], d2 = d[2 * ds + l];
        const float d3 = d[3 * ds + l], d4 = d[4 * ds + l], d5 = d[5 * ds + l];
        const float a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;
        const float c = d4 - d2, e = 2.0f * (d3 - d1);
        r[l] = 4.0f * d0 - 5.0f * d2 + d4;
        r[rs + l] = a + b;
        r[2 * rs + l] = a - b;
        r[3 * rs + l] = c + e;
        r[4 * rs + l] = c - e;
        r[5 * rs + l] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* r = B^T d for F(6x6,3x3). */
static inline void WT_NAME(input_line_f6)(const float *restrict d, ptrdiff_t ds,
                                          float *restrict r, ptrdiff_t rs)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float d0 = d[l], d1 = d[ds + l], d2 = d[2 * ds + l], d3 = d[3 * ds + l];
        const float d4 = d[4 * ds + l], d5 = d[5 * ds + l], d6 = d[6 * ds + l];
        const float d7 = d[7 * ds + l];
        const float a1 = d2 + d6 - 4.25f * d4, b1 = d1 + d5 - 4.25f * d3;
        const float a2 = 0.25f * d2 - 1.25f * d4 + d6, b2 = 0.5f * d1 - 2.5f * d3 + 2.0f * d5;
        const float a3 = 4.0f * d2 - 5.0f * d4 + d6, b3 = 2.0f * d1 - 2.5f * d3 + 0.5f * d5;
        r[l] = (d0 - d6) + 5.25f * (d4 - d2);
        r[rs + l] = a1 + b1;
        r[2 * rs + l] = a1 - b1;
        r[3 * rs + l] = a2 + b2;
        r[4 * rs + l] = a2 - b2;
        r[5 * rs + l] = a3 + b3;
        r[6 * rs + l] = a3 - b3;
        r[7 * rs + l] = (d7 - d1) + 5.25f * (d3 - d5);
    }
}

/* y = A^T x for F(2x2,3x3). */
static inline void WT_NAME(output_line_f2)(const float *restrict x, ptrdiff_t xs,
                                           float *restrict y, ptrdiff_t ys)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        y[l] = x[l] + x[xs + l] + x[2 * xs + l];
        y[ys + l] = x[xs + l] - x[2 * xs + l] - x[3 * xs + l];
    }
}

/* y = A^T x for F(4x4,3x3). */
static inline void WT_NAME(output_line_f4)(const float *restrict x, ptrdiff_t xs,
                                           float *restrict y, ptrdiff_t ys)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float a = x[xs + l] + x[2 * xs + l], b = x[xs + l] - x[2 * xs + l];
        const float c = x[3 * xs + l] + x[4 * xs + l], e = x[3 * xs + l] - x[4 * xs + l];
        y[l] = x[l] + a + c;
        y[ys + l] = b + 2.0f * e;
        y[2 * ys + l] = a + 4.0f * c;
        y[3 * ys + l] = b + 8.0f * e + x[5 * xs + l];
    }
}

/* y = A^T x for F(6x6,3x3). */
static inline void WT_NAME(output_line_f6)(const float *restrict x, ptrdiff_t xs,
                                           float *restrict y, ptrdiff_t ys)
{
#pragma omp simd
    for (int l = 0; l < WT_L; l++) {
        const float a1 = x[xs + l] + x[2 * xs + l], b1 = x[xs + l] - x[2 * xs + l];
        const float a2 = x[3 * xs + l] + x[4 * xs + l], b2 = x[3 * xs + l] - x[4 * xs + l];
        const float a3 = x[5 * xs + l] + x[6 * xs + l], b3 = x[5 * xs + l] - x[6 * xs + l];
        y[l] = x[l] + a1 + a2 + a3;
        y[ys + l] = b1 + 2.0f * b2 + 0.5f * b3;
        y[2 * ys + l] = a1 + 4.0f * a2 + 0.25f * a3;
        y[3 * ys + l] = b1 + 8.0f * b2 + 0.125f * b3;
        y[4 * ys + l] = a1 + 16.0f * a2 + 0.0625f * a3;
        y[5 * ys + l] = b1 + 32.0f * b2 + 0.03125f * b3 + x[7 * xs + l];
    }
}

static inline void WT_NAME(input_line)(int m, const float *d, ptrdiff_t ds, float *r, ptrdiff_t rs)
{
    if (m == 2)
        WT_NAME(input_line_f2)(d, ds, r, rs);
    else if (m == 4)
        WT_NAME(input_line_f4)(d, ds, r, rs);
    else
        WT_NAME(input_line_f6)(d, ds, r, rs);
}

static inline void WT_NAME(output_line)(int m, const float *x, ptrdiff_t xs, float *y, ptrdiff_t ys)
{
    if (m == 2)
        WT_NAME(output_line_f2)(x, xs, y, ys);
    else if (m == 4)
        WT_NAME(output_line_f4)(x, xs, y, ys);
    else
        WT_NAME(output_line_f6)(x, xs, y, ys);
}

/* v = B^T d B, columns first (into t), then rows. d's row i, column j is at
 * d + i * d_row + j * d_col, and v's point p at v + p * v_point (strides in
 * floats; each a line of WT_L lanes): d may be the image itself and v the
 * transform points' planes. */
static void WT_NAME(input_strided)(int m, const float *d, ptrdiff_t d_col, ptrdiff_t d_row,
                                   float *v, ptrdiff_t v_point)
{
    const int alpha = m + 2;
    _Alignas(64) float t[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA * WT_L];
    for (int j = 0; j < alpha; j++)
        WT_NAME(input_line)(m, d + j * d_col, d_row, t + j * WT_L, alpha * WT_L);
    for (int i = 0; i < alpha; i++)
        WT_NAME(input_line)(m, t + i * alpha * WT_L, WT_L, v + i * alpha * v_point, v_point);
}

/* y (m x m lines, row-major) = A^T x A, x's point p at x + p * x_point:
 * columns first (alpha columns of m values into t, m x alpha), then the m
 * rows of t. */
static void WT_NAME(output_strided)(int m, const float *x, ptrdiff_t x_point, float *y)
{
    const int alpha = m + 2;
    _Alignas(64) float t[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA * WT_L];
    for (int j = 0; j < alpha; j++)
        WT_NAME(output_line)(m, x + j * x_point, alpha * x_point, t + j * WT_L, alpha * WT_L);
    for (int i = 0; i < m; i++)
        WT_NAME(output_line)(m, t + i * alpha * WT_L, WT_L, y + i * m * WT_L, WT_L);
}

static void WT_NAME(input_planes)(int m, cc__wino_lanes *d, int lanes, float *v,
                                  ptrdiff_t v_point)
{
    const int alpha = m + 2;
    if (lanes == WT_L) {
        WT_NAME(input_strided)(m, d[0], WT_L, alpha * WT_L, v, v_point);
        return;
    }
    _Alignas(64) float r[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA * WT_L];
    WT_NAME(input_strided)(m, d[0], WT_L, alpha * WT_L, r, WT_L);
    for (int p = 0; p < alpha * alpha; p++)
        for (int l = 0; l < lanes; l++)
            v[p * v_point + l] = r[p * WT_L + l];
}

static void WT_NAME(input_nhwc)(int m, const cc__wino_patch *patch, float *v, ptrdiff_t v_point)
{
    const int alpha = m + 2;
    const cc__wino_window *w = &patch->window;
    const bool whole = w->y_lo == 0 && w->y_hi == alpha && w->x_lo == 0 && w->x_hi == alpha;
    if (whole && patch->lanes == WT_L) {
        WT_NAME(input_strided)(m, patch->first, patch->pixel, patch->row, v, v_point);
        /* The next tile's new columns, m pixels on (on the image's last
         * tile of a row, lines of the next rows, harmless). */
        const uintptr_t next =
            (uintptr_t)patch->first + (uintptr_t)(alpha * patch->pixel) * sizeof(float);
        for (int i = 0; i < alpha; i++)
            for (int j = 0; j < m; j++) {
                const ptrdiff_t floats = i * patch->row + j * patch->pixel;
                __builtin_prefetch((const void *)(next + (uintptr_t)floats * sizeof(float)));
            }
        return;
    }
    /* The patch's inside pixels, zeros around them and past its lanes. */
    _Alignas(64) cc__wino_lanes d[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA] = {{0}};
    for (int i = w->y_lo; i < w->y_hi; i++)
        for (int j = w->x_lo; j < w->x_hi; j++) {
            const float *pixel =
                patch->first + (i - w->y_lo) * patch->row + (j - w->x_lo) * patch->pixel;
            float *lanes = d[i * alpha + j];
            if (patch->lanes == WT_L) {
#pragma omp simd
                for (int l = 0; l < WT_L; l++)
                    lanes[l] = pixel[l];
            } else {
                for (int l = 0; l < patch->lanes; l++)
                    lanes[l] = pixel[l];
            }
        }
    WT_NAME(input_planes)(m, d, patch->lanes, v, v_point);
}

/* y[k] = act(y[k] + bias + residual) for a tile's m x m lines, as
 * cc__wino_finish says; only the tile's `rows` x `cols` outputs inside the
 * output read a residual. */
static void WT_NAME(finish_tile)(int m, const cc__wino_finish *f, int rows, int cols, float *y)
{
    const int values = m * m;
    for (int k = 0; k < values; k++) {
        float *lanes = y + k * WT_L;
#pragma omp simd
        for (int l = 0; l < WT_L; l++)
            lanes[l] += f->bias[l];
    }
    if (f->residual != NULL)
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                const float *r = f->residual + i * f->row + j * f->pixel;
                float *lanes = y + (i * m + j) * WT_L;
                for (int l = 0; l < f->lanes; l++)
                    lanes[l] += r[l];
            }
    if (f->act == CC_ACT_RELU) {
        for (int k = 0; k < values; k++) {
            float *lanes = y + k * WT_L;
#pragma omp simd
            for (int l = 0; l < WT_L; l++)
                lanes[l] = lanes[l] < 0.0f ? 0.0f : lanes[l];
        }
    } else if (f->act == CC_ACT_RELU6) {
        for (int k = 0; k < values; k++) {
            float *lanes = y + k * WT_L;
#pragma omp simd
            for (int l = 0; l < WT_L; l++)
                lanes[l] = lanes[l] < 0.0f ? 0.0f : lanes[l] > 6.0f ? 6.0f : lanes[l];
        }
    } else if (f->act == CC_ACT_SIGMOID || f->act == CC_ACT_TANH) {
        cc__activate_curve(y, (size_t)values * WT_L, f->act, WT_ISA);
    }
}

static void WT_NAME(output_planes)(int m, const float *x, ptrdiff_t x_point,
                                   const cc__wino_finish *f, int rows, int cols,
                                   cc__wino_lanes *y)
{
    const int alpha = m + 2;
    _Alignas(64) float xl[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA * WT_L];
    if (f->lanes < WT_L) {
        /* A part line: its lanes alone, as the next floats may lie past the planes. */
        for (int p = 0; p < alpha * alpha; p++)
            for (int l = 0; l < WT_L; l++)
                xl[p * WT_L + l] = l < f->lanes ? x[p * x_point + l] : 0.0f;
        x = xl;
        x_point = WT_L;
    }
    WT_NAME(output_strided)(m, x, x_point, y[0]);
    WT_NAME(finish_tile)(m, f, rows, cols, y[0]);
}

static void WT_NAME(output_nhwc)(int m, const float *x, ptrdiff_t x_point,
                                 const cc__wino_finish *f, float *out, int rows, int cols)
{
    _Alignas(64) cc__wino_lanes y[(CC__WINO_MAX_ALPHA - 2) * (CC__WINO_MAX_ALPHA - 2)];
    /* The next tile's outputs (and residual), m pixels on, to be written
     * (read) after this tile's transform. */
    const uintptr_t step = (uintptr_t)(m * f->pixel) * sizeof(float);
    const uintptr_t next = (uintptr_t)out + step;
    const uintptr_t next_residual = f->residual != NULL ? (uintptr_t)f->residual + step : 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            const uintptr_t at = (uintptr_t)(i * f->row + j * f->pixel) * sizeof(float);
            __builtin_prefetch((const void *)(next + at), 1);
            if (f->residual != NULL)
                __builtin_prefetch((const void *)(next_residual + at));
        }
    WT_NAME(output_planes)(m, x, x_point, f, rows, cols, y);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float *o = out + i * f->row + j * f->pixel;
            const float *lanes = y[i * m + j];
            if (f->lanes == WT_L) {
#pragma omp simd
                for (int l = 0; l < WT_L; l++)
                    o[l] = lanes[l];
            } else {
                for (int l = 0; l < f->lanes; l++)
                    o[l] = lanes[l];
            }
        }
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
    const cc__wino_transforms transforms = {WT_NAME(gather_run4),  WT_NAME(scatter_run4),
                                            WT_NAME(input_nhwc),   WT_NAME(output_nhwc),
                                            WT_NAME(input_planes), WT_NAME(output_planes)};
    return transforms;
}
