/* Pooling backward, NCHW and NHWC. Windows overlap when the stride is below
 * the kernel, so the gradient is scattered: a unit of work owns whole planes
 * (NCHW: one (image, channel) plane; NHWC: a block of channels of one image)
 * and visits its windows in output order, so every dx cell sums its
 * contributions in the same order whatever the thread count. The geometry
 * (cc__window_at, cc__pool_divisor) is the forward's. */
#include <stdint.h>
#include <string.h>

#include "../layers/kernels.h"
#include "backward.h"

/* NHWC channels per unit: the block's running maxima stay on the stack. */
#define CHANNEL_BLOCK 64

static cc__pool_geom resolve(const cc__dims *in, const cc_pool2d_params *p)
{
    cc__dims out;
    /* Validated by the forward; this only computes the output size again. */
    (void)cc__pool_output(in, p, &out);
    return (cc__pool_geom){p->kernel_h, p->kernel_w,
                           p->stride_h == 0 ? p->kernel_h : p->stride_h,
                           p->stride_w == 0 ? p->kernel_w : p->stride_w,
                           p->pad_top, p->pad_bottom, p->pad_left, p->pad_right, out.h, out.w,
                           p->kind == CC_POOL_MAX, p->count_include_pad != 0};
}

static cc__window row_window(const cc__pool_geom *g, int h, int oy)
{
    return cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
}
static cc__window col_window(const cc__pool_geom *g, int w, int ox)
{
    return cc__window_at(ox, g->sw, g->kw, g->pl, g->pr, w);
}

/* The forward's max (kb_max): a larger value or any NaN takes the place. */
static inline bool takes_max(float v, float best) { return (v > best) | (v != v); }

/* The pixel (y * w + x) of the window's maximum in one channel whose
 * pixels are `stride` floats apart (NCHW: 1; NHWC: c). */
static size_t window_argmax(const float *plane, int w, size_t stride, cc__window rows,
                            cc__window cols)
{
    size_t best = (size_t)rows.begin * (size_t)w + (size_t)cols.begin;
    for (int y = rows.begin; y < rows.end; y++)
        for (int x = cols.begin; x < cols.end; x++) {
            const size_t at = (size_t)y * (size_t)w + (size_t)x;
            if (takes_max(plane[at * stride], plane[best * stride]))
                best = at;
        }
    return best;
}

/* The vectorised paths number a window's cells in int32. */
static bool cells_fit_int32(const cc__pool_geom *g)
{
    return (int64_t)g->kh * (int64_t)g->kw <= INT32_MAX;
}

/* Output columns whose windows lie wholly inside the input: [*lo, *hi). */
static void interior_columns(const cc__pool_geom *g, int w, int *lo, int *hi)
{
    const int first = (g->pl + g->sw - 1) / g->sw;
    const int last = w + g->pl - g->kw < 0 ? -1 : (w + g->pl - g->kw) / g->sw;
    *lo = first < g->ow ? first : g->ow;
    *hi = last + 1 < *lo ? *lo : last + 1 < g->ow ? last + 1 : g->ow;
}

/* mask (all ones or zeros) ? a : b on the bits. */
static inline float select_float(uint32_t mask, float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t r = (ua & mask) | (ub & ~mask);
    float out;
    memcpy(&out, &r, sizeof out);
    return out;
}

/* Windows per pass of max_row_interior (their maxima on the stack). */
#define ROW_CHUNK 64

/* The max windows [ox0, ox0 + len) of one output row, all inside the
 * input: every window's argmax at once, one (ky, kx) cell at a time across
 * the windows. The winner is tracked as the cell's number in the window
 * (int32, as wide as the float lanes) with masks, not ?: (which gcc makes
 * branches): the scalar scan of each window mispredicted a branch per cell
 * on real data, 90% of the time (3 ms for LeNet's first pool at batch 64,
 * 30 times the forward; these selects vectorise). */
static void max_row_interior(const cc__pool_geom *g, int w, cc__window rows, int ox0, int len,
                             const float *plane, const float *dy_row, float *dx_plane)
{
    float best_value[ROW_CHUNK];
    int32_t best[ROW_CHUNK];
    const size_t sw = (size_t)g->sw, x0 = (size_t)ox0 * sw - (size_t)g->pl;
    const float *corner = plane + (size_t)rows.begin * (size_t)w + x0;
    for (int j = 0; j < len; j++) {
        best[j] = 0;
        best_value[j] = corner[(size_t)j * sw];
    }
    int32_t cell = 0;
    for (int y = rows.begin; y < rows.end; y++)
        for (int kx = 0; kx < g->kw; kx++, cell++) {
            const float *first = plane + (size_t)y * (size_t)w + x0 + (size_t)kx;
            for (int j = 0; j < len; j++) {
                const float v = first[(size_t)j * sw];
                const uint32_t take = 0u - (uint32_t)takes_max(v, best_value[j]);
                best_value[j] = select_float(take, v, best_value[j]);
                best[j] = (int32_t)(((uint32_t)best[j] & ~take) | ((uint32_t)cell & take));
            }
        }
    for (int j = 0; j < len; j++) {
        const size_t y = (size_t)rows.begin + (size_t)(best[j] / g->kw);
        const size_t x = x0 + (size_t)j * sw + (size_t)(best[j] % g->kw);
        dx_plane[y * (size_t)w + x] += dy_row[ox0 + j];
    }
}

/* An average plane: each output's share to every cell of its window. */
static void avg_plane_backward(const cc__pool_geom *g, int h, int w, const float *dy_plane,
                               float *dx_plane)
{
    for (int oy = 0; oy < g->oh; oy++) {
        const cc__window rows = row_window(g, h, oy);
        for (int ox = 0; ox < g->ow; ox++) {
            const cc__window cols = col_window(g, w, ox);
            const float share = dy_plane[(size_t)oy * (size_t)g->ow + (size_t)ox] /
                                cc__pool_divisor(g, rows, cols);
            for (int y = rows.begin; y < rows.end; y++)
                for (int x = cols.begin; x < cols.end; x++)
                    dx_plane[(size_t)y * (size_t)w + (size_t)x] += share;
        }
    }
}

/* Zeroes rows x len floats, rows stride apart (a unit's part of dx). */
static void zero_rows(float *dst, size_t stride, size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++)
        memset(dst + r * stride, 0, len * sizeof(float));
}

/* One pair of rows of a 2x2 stride-2 pooling's backward: see
 * cc__max2x2_rows_avx512 (x0 and x1 may be NULL for an average). */
typedef void (*rows_2x2)(const float *x0, const float *x1, const float *dy, float *d0,
                         float *d1, int n, bool accumulate);

/* An average's pair of rows: each output's quarter (no padding: every
 * divisor is 4) to its four cells. */
static void avg2x2_rows(const float *x0, const float *x1, const float *dy, float *d0, float *d1,
                        int n, bool accumulate)
{
    (void)x0;
    (void)x1;
    for (size_t x = 0; x < 2 * (size_t)n; x++) {
        const float share = dy[x / 2] / 4.0f;
        d0[x] = accumulate ? d0[x] + share : share;
        d1[x] = accumulate ? d1[x] + share : share;
    }
}

/* A plane of 2x2 windows at stride 2, all inside the input, a pair of rows
 * at a time; without accumulate, the cells in no window are zeroed. The
 * general loops, a window at a time with its divisor (and a zeroing pass
 * first), took 8% of a LeNet-5 training step for the averages and 8-10% of
 * a LeNet one for the maxima. */
static void tiled_2x2_plane(int h, int w, int oh, int ow, const float *x_plane,
                            const float *dy_plane, float *dx_plane, bool accumulate,
                            rows_2x2 rows)
{
    const size_t width = (size_t)w, covered = 2 * (size_t)ow;
    for (int oy = 0; oy < oh; oy++) {
        const size_t top = 2 * (size_t)oy * width;
        float *d0 = dx_plane + top, *d1 = d0 + width;
        rows(x_plane != NULL ? x_plane + top : NULL,
             x_plane != NULL ? x_plane + top + width : NULL, dy_plane + (size_t)oy * (size_t)ow,
             d0, d1, ow, accumulate);
        for (size_t x = covered; x < width && !accumulate; x++)
            d0[x] = d1[x] = 0.0f;
    }
    if (!accumulate && 2 * oh < h)
        zero_rows(dx_plane + 2 * (size_t)oh * width, 0, 1, (size_t)(h - 2 * oh) * width);
}

/* The row function for a 2x2 stride-2 pooling on this CPU, or NULL: max
 * pooling without AVX2 takes the general path. */
static rows_2x2 tiled_rows(bool is_max)
{
    if (!is_max)
        return avg2x2_rows;
    switch (cc__cpu_isa()) {
    case CC__ISA_AVX512:
        return cc__max2x2_rows_avx512;
    case CC__ISA_AVX2:
        return cc__max2x2_rows_avx2;
    case CC__ISA_SCALAR:
        break;
    }
    return NULL;
}

/* A max plane: the windows inside the input by rows (max_row_interior),
 * the others one by one, in output order either way, so that each dx cell
 * adds its terms in the same order. */
static void max_plane_backward(const cc__pool_geom *g, int h, int w, const float *x_plane,
                               const float *dy_plane, float *dx_plane)
{
    int lo = g->ow, hi = g->ow;
    if (cells_fit_int32(g))
        interior_columns(g, w, &lo, &hi);
    for (int oy = 0; oy < g->oh; oy++) {
        const cc__window rows = row_window(g, h, oy);
        const float *dy_row = dy_plane + (size_t)oy * (size_t)g->ow;
        for (int ox = 0; ox < lo; ox++)
            dx_plane[window_argmax(x_plane, w, 1, rows, col_window(g, w, ox))] += dy_row[ox];
        for (int ox0 = lo; ox0 < hi; ox0 += ROW_CHUNK)
            max_row_interior(g, w, rows, ox0, hi - ox0 < ROW_CHUNK ? hi - ox0 : ROW_CHUNK,
                             x_plane, dy_row, dx_plane);
        for (int ox = hi; ox < g->ow; ox++)
            dx_plane[window_argmax(x_plane, w, 1, rows, col_window(g, w, ox))] += dy_row[ox];
    }
}

/* 2x2 windows at stride 2, every one inside the input. */
static bool tiled_2x2(const cc__pool_geom *g, int h, int w)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->pt == 0 && g->pl == 0 &&
           2 * (int64_t)g->oh <= h && 2 * (int64_t)g->ow <= w;
}

/* NHWC: channels [c0, c0 + len) of one window; pixel strides are c floats. */
static void window_backward_nhwc(const cc__pool_geom *g, int w, size_t c, size_t len,
                                 cc__window rows, cc__window cols, const float *x_image,
                                 const float *dy_pixel, float *dx_image)
{
    if (!g->is_max) {
        const float divisor = cc__pool_divisor(g, rows, cols);
        for (int y = rows.begin; y < rows.end; y++)
            for (int x = cols.begin; x < cols.end; x++) {
                float *cell = dx_image + ((size_t)y * (size_t)w + (size_t)x) * c;
                for (size_t ch = 0; ch < len; ch++)
                    cell[ch] += dy_pixel[ch] / divisor;
            }
        return;
    }
    if (!cells_fit_int32(g)) {
        for (size_t ch = 0; ch < len; ch++)
            dx_image[window_argmax(x_image + ch, w, c, rows, cols) * c + ch] += dy_pixel[ch];
        return;
    }
    /* Each channel's winner as its cell number in the window, chosen by
     * masks across the channels (contiguous: the selects vectorise), as in
     * max_row_interior. */
    float best_value[CHANNEL_BLOCK];
    int32_t best[CHANNEL_BLOCK];
    const float *corner = x_image + ((size_t)rows.begin * (size_t)w + (size_t)cols.begin) * c;
    for (size_t ch = 0; ch < len; ch++) {
        best[ch] = 0;
        best_value[ch] = corner[ch];
    }
    const int span = cols.end - cols.begin;
    int32_t number = 0;
    for (int y = rows.begin; y < rows.end; y++)
        for (int x = cols.begin; x < cols.end; x++, number++) {
            const float *cell = x_image + ((size_t)y * (size_t)w + (size_t)x) * c;
            for (size_t ch = 0; ch < len; ch++) {
                const float v = cell[ch];
                const uint32_t take = 0u - (uint32_t)takes_max(v, best_value[ch]);
                best_value[ch] = select_float(take, v, best_value[ch]);
                best[ch] = (int32_t)(((uint32_t)best[ch] & ~take) | ((uint32_t)number & take));
            }
        }
    for (size_t ch = 0; ch < len; ch++) {
        const size_t y = (size_t)rows.begin + (size_t)(best[ch] / span);
        const size_t x = (size_t)cols.begin + (size_t)(best[ch] % span);
        dx_image[(y * (size_t)w + x) * c + ch] += dy_pixel[ch];
    }
}

/* NHWC: one image's channels [c0, c0 + len); the pointers are offset by c0. */
static void block_backward_nhwc(const cc__pool_geom *g, int h, int w, size_t c, size_t len,
                                const float *x_image, const float *dy_image, float *dx_image)
{
    for (int oy = 0; oy < g->oh; oy++) {
        const cc__window rows = row_window(g, h, oy);
        for (int ox = 0; ox < g->ow; ox++)
            window_backward_nhwc(g, w, c, len, rows, col_window(g, w, ox), x_image,
                                 dy_image + ((size_t)oy * (size_t)g->ow + (size_t)ox) * c,
                                 dx_image);
    }
}

void cc__pool_backward(const cc__dims *in, cc_layout layout, const cc_pool2d_params *p,
                       const float *input, const float *dy, float *dx, bool accumulate,
                       int threads)
{
    const cc__pool_geom g = resolve(in, p);
    const size_t in_plane = (size_t)in->h * (size_t)in->w;
    const size_t out_plane = (size_t)g.oh * (size_t)g.ow;
    const size_t c = (size_t)in->c;
    const size_t window = (size_t)g.kh * (size_t)g.kw;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in) +
                                                  (size_t)in->n * c * out_plane * window);
    const rows_2x2 rows =
        layout == CC_NCHW && tiled_2x2(&g, in->h, in->w) ? tiled_rows(g.is_max) : NULL;
    if (rows != NULL) {
        CC__LAYER_FOR(u, (size_t)in->n * c, nt, {
            tiled_2x2_plane(in->h, in->w, g.oh, g.ow, input == NULL ? NULL : input + u * in_plane,
                            dy + u * out_plane, dx + u * in_plane, accumulate, rows);
        });
    } else if (layout == CC_NCHW) {
        CC__LAYER_FOR(u, (size_t)in->n * c, nt, {
            float *dx_plane = dx + u * in_plane;
            if (!accumulate)
                zero_rows(dx_plane, 0, 1, in_plane);
            if (g.is_max)
                max_plane_backward(&g, in->h, in->w, input + u * in_plane, dy + u * out_plane,
                                   dx_plane);
            else
                avg_plane_backward(&g, in->h, in->w, dy + u * out_plane, dx_plane);
        });
    } else {
        const size_t blocks = cc__block_count(c, CHANNEL_BLOCK);
        CC__LAYER_FOR(u, (size_t)in->n * blocks, nt, {
            const size_t n = u / blocks, c0 = (u % blocks) * CHANNEL_BLOCK;
            const size_t len = cc__block_len(c, c0, CHANNEL_BLOCK);
            float *dx_image = dx + n * in_plane * c + c0;
            if (!accumulate)
                zero_rows(dx_image, c, in_plane, len);
            block_backward_nhwc(&g, in->h, in->w, c, len,
                                input == NULL ? NULL : input + n * in_plane * c + c0,
                                dy + n * out_plane * c + c0, dx_image);
        });
    }
}

/* Global max: the plane's argmax over `pixels` cells `stride` floats apart. */
static size_t global_argmax(const float *x, size_t pixels, size_t stride)
{
    size_t best = 0;
    for (size_t i = 1; i < pixels; i++)
        if (takes_max(x[i * stride], x[best * stride]))
            best = i;
    return best;
}

/* One (image, channel) of global pooling: its pixels `stride` floats apart. */
static void global_channel(bool is_max, const float *x, float d, size_t pixels, size_t stride,
                           float *dx)
{
    if (is_max) {
        dx[global_argmax(x, pixels, stride) * stride] += d;
        return;
    }
    const float share = d / (float)pixels;
    for (size_t i = 0; i < pixels; i++)
        dx[i * stride] += share;
}

void cc__global_pool_backward(const cc__dims *in, cc_layout layout, cc_pool_kind kind,
                              const float *input, const float *dy, float *dx, bool accumulate,
                              int threads)
{
    const bool is_max = kind == CC_POOL_MAX;
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in));
    const bool nchw = layout == CC_NCHW;
    /* A unit is one image: in NHWC its channels interleave. */
    CC__LAYER_FOR(n, (size_t)in->n, nt, {
        float *dx_image = dx + n * pixels * c;
        if (!accumulate)
            zero_rows(dx_image, 0, 1, pixels * c);
        for (size_t ch = 0; ch < c; ch++) {
            const size_t first = nchw ? ch * pixels : ch;
            global_channel(is_max, input == NULL ? NULL : input + n * pixels * c + first,
                           dy[n * c + ch], pixels, nchw ? 1 : c, dx_image + first);
        }
    });
}
