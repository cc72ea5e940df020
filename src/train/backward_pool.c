/* Pooling backward, NCHW and NHWC. Windows overlap when the stride is below
 * the kernel, so the gradient is scattered: a unit of work owns whole planes
 * (NCHW: one (image, channel) plane; NHWC: a block of channels of one image)
 * and visits its windows in output order, so every dx cell sums its
 * contributions in the same order whatever the thread count. The geometry
 * (cc__window_at, cc__pool_divisor) is the forward's. */
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
static inline bool takes_max(float v, float best) { return v > best || v != v; }

/* The offset (y * w + x) of the window's maximum in one plane. */
static size_t plane_argmax(const float *plane, int w, cc__window rows, cc__window cols)
{
    size_t best = (size_t)rows.begin * (size_t)w + (size_t)cols.begin;
    for (int y = rows.begin; y < rows.end; y++)
        for (int x = cols.begin; x < cols.end; x++) {
            const size_t at = (size_t)y * (size_t)w + (size_t)x;
            if (takes_max(plane[at], plane[best]))
                best = at;
        }
    return best;
}

/* One (image, channel) plane: dy_plane [oh][ow] into dx_plane [h][w]. */
static void plane_backward(const cc__pool_geom *g, int h, int w, const float *x_plane,
                           const float *dy_plane, float *dx_plane)
{
    for (int oy = 0; oy < g->oh; oy++) {
        const cc__window rows = row_window(g, h, oy);
        for (int ox = 0; ox < g->ow; ox++) {
            const cc__window cols = col_window(g, w, ox);
            const float d = dy_plane[(size_t)oy * (size_t)g->ow + (size_t)ox];
            if (g->is_max) {
                dx_plane[plane_argmax(x_plane, w, rows, cols)] += d;
                continue;
            }
            const float share = d / cc__pool_divisor(g, rows, cols);
            for (int y = rows.begin; y < rows.end; y++)
                for (int x = cols.begin; x < cols.end; x++)
                    dx_plane[(size_t)y * (size_t)w + (size_t)x] += share;
        }
    }
}

/* NHWC: channels [c0, c0 + len) of one window; pixel strides are c floats.
 * best[] holds each channel's argmax pixel. */
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
    size_t best[CHANNEL_BLOCK];
    const size_t first = (size_t)rows.begin * (size_t)w + (size_t)cols.begin;
    for (size_t ch = 0; ch < len; ch++)
        best[ch] = first;
    for (int y = rows.begin; y < rows.end; y++)
        for (int x = cols.begin; x < cols.end; x++) {
            const size_t at = (size_t)y * (size_t)w + (size_t)x;
            const float *cell = x_image + at * c;
            for (size_t ch = 0; ch < len; ch++)
                if (takes_max(cell[ch], x_image[best[ch] * c + ch]))
                    best[ch] = at;
        }
    for (size_t ch = 0; ch < len; ch++)
        dx_image[best[ch] * c + ch] += dy_pixel[ch];
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

/* Zeroes rows x len floats, rows stride apart (a unit's part of dx). */
static void zero_rows(float *dst, size_t stride, size_t rows, size_t len)
{
    for (size_t r = 0; r < rows; r++)
        memset(dst + r * stride, 0, len * sizeof(float));
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
    const int nt = cc__layer_threads(threads, cc__dims_count(in) +
                                                  (size_t)in->n * c * out_plane * window);
    if (layout == CC_NCHW) {
        CC__LAYER_FOR(u, (size_t)in->n * c, nt, {
            float *dx_plane = dx + u * in_plane;
            if (!accumulate)
                zero_rows(dx_plane, 0, 1, in_plane);
            plane_backward(&g, in->h, in->w, input == NULL ? NULL : input + u * in_plane,
                           dy + u * out_plane, dx_plane);
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
    const int nt = cc__layer_threads(threads, cc__dims_count(in));
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
