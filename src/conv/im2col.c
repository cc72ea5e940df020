/* im2col tiles: a bounded slice of the lowered input, built just before the
 * GEMM that consumes it. */
#include <string.h>

#include "../core/parallel.h"
#include "im2col.h"

/* Output positions [*lo, *hi) of a row whose tap o*stride + base lands inside
 * [0, size): the columns that read real input rather than padding. */
static void valid_span(int out_size, int size, int stride, long long base, int *lo, int *hi)
{
    long long first = base >= 0 ? 0 : (-base + stride - 1) / stride;
    long long last = size - 1 - base < 0 ? -1 : (size - 1 - base) / stride;
    if (first > out_size)
        first = out_size;
    if (last + 1 > out_size)
        last = out_size - 1;
    *lo = (int)first;
    *hi = last + 1 < first ? (int)first : (int)(last + 1);
}

/* Fills dst[0..count) with the taps of output row oy, columns ox0.., for
 * kernel offset (ky, kx) of one input plane. */
static void gather_row_segment(const cc__conv_geom *g, const float *plane, int oy, int ox0,
                               int count, int ky, int kx, float *dst)
{
    const long long iy = (long long)oy * g->sh - g->pt + (long long)ky * g->dh;
    if (iy < 0 || iy >= g->h) {
        memset(dst, 0, (size_t)count * sizeof *dst);
        return;
    }
    const long long base = (long long)kx * g->dw - g->pl;
    int lo, hi;
    valid_span(g->ow, g->w, g->sw, base, &lo, &hi);
    const int end = ox0 + count;
    const int copy_from = lo < ox0 ? ox0 : (lo > end ? end : lo);
    const int copy_to = hi < copy_from ? copy_from : (hi > end ? end : hi);
    const float *row = plane + (size_t)iy * g->w;
    memset(dst, 0, (size_t)(copy_from - ox0) * sizeof *dst);
    if (g->sw == 1) {
        memcpy(dst + (copy_from - ox0), row + (copy_from + base),
               (size_t)(copy_to - copy_from) * sizeof *dst);
    } else {
        for (int ox = copy_from; ox < copy_to; ox++)
            dst[ox - ox0] = row[(long long)ox * g->sw + base];
    }
    memset(dst + (copy_to - ox0), 0, (size_t)(end - copy_to) * sizeof *dst);
}

static long long clamp_ll(long long x, long long lo, long long hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Stride 1 and dilation 1 with output rows as wide as the input's ("same"
 * padding along x): output pixel p of tap (ky, kx) reads input pixel
 * p + shift of the plane, so a tap's row of the col is one shifted copy,
 * then zeros where the input row or column falls outside. Row by row, the
 * 7x7 images of ResNet-50 and DenseNet-121 spent 3/4 of their im2col time
 * in the calls to copy and fill 7 floats. */
static bool plane_shifts(const cc__conv_geom *g)
{
    return g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->ow == g->w;
}

/* Output pixels [lo, hi) of a col row that holds pixels from `first`: 0. */
static void zero_pixels(float *dst, long long first, long long lo, long long hi)
{
    if (hi > lo)
        memset(dst + (lo - first), 0, (size_t)(hi - lo) * sizeof *dst);
}

/* dst[0..pcount) = the taps (ky, kx) of output pixels p0.. (plane_shifts). */
static void gather_shifted_plane(const cc__conv_geom *g, const float *plane, int ky, int kx,
                                 size_t p0, size_t pcount, float *dst)
{
    const long long w = g->w, first = (long long)p0, end = first + (long long)pcount;
    const long long dy = (long long)ky - g->pt, dx = (long long)kx - g->pl;
    const long long shift = dy * w + dx;
    /* The pixels whose p + shift lies inside the plane. */
    const long long lo = clamp_ll(-shift, first, end);
    const long long hi = clamp_ll((long long)g->h * w - shift, lo, end);
    zero_pixels(dst, first, first, lo);
    memcpy(dst + (lo - first), plane + (lo + shift), (size_t)(hi - lo) * sizeof *dst);
    zero_pixels(dst, first, hi, end);
    /* Columns ox < -dx and ox >= w - dx read outside their input row. */
    const long long left_end = clamp_ll(-dx, 0, w), right_begin = clamp_ll(w - dx, 0, w);
    for (long long oy = first / w; oy * w < end; oy++) {
        const long long row_lo = oy * w < first ? first : oy * w;
        const long long row_hi = oy * w + w > end ? end : oy * w + w;
        const long long iy = oy + dy;
        if (iy < 0 || iy >= g->h) {
            zero_pixels(dst, first, row_lo, row_hi);
            continue;
        }
        zero_pixels(dst, first, row_lo, clamp_ll(oy * w + left_end, row_lo, row_hi));
        zero_pixels(dst, first, clamp_ll(oy * w + right_begin, row_lo, row_hi), row_hi);
    }
}

void cc__im2col_nchw(const cc__conv_geom *g, const float *image_group, size_t k0, size_t kcount,
                     size_t p0, size_t pcount, float *col, int threads)
{
    const bool shifts = plane_shifts(g);
    const size_t taps = (size_t)g->kh * g->kw;
    const size_t plane_size = (size_t)g->h * g->w;
    CC__PARALLEL_FOR(size_t, kk, kcount, threads, {
        const size_t k = k0 + kk;
        const size_t c = k / taps;
        const int ky = (int)(k % taps / g->kw), kx = (int)(k % taps % g->kw);
        const float *plane = image_group + c * plane_size;
        float *dst = col + kk * pcount;
        if (shifts) {
            gather_shifted_plane(g, plane, ky, kx, p0, pcount, dst);
            continue;
        }
        size_t done = 0;
        while (done < pcount) {
            const size_t p = p0 + done;
            const int oy = (int)(p / g->ow), ox = (int)(p % g->ow);
            size_t count = (size_t)(g->ow - ox);
            if (count > pcount - done)
                count = pcount - done;
            gather_row_segment(g, plane, oy, ox, (int)count, ky, kx, dst + done);
            done += count;
        }
    });
}

/* One row of the NHWC col: taps k0.. of output pixel (n, oy, ox), in
 * (ky, kx, channel) order so that each run of channels is one copy. */
static void gather_pixel_taps(const cc__conv_geom *g, const float *input, int group, size_t n,
                              int oy, int ox, size_t k0, size_t kcount, float *dst)
{
    const size_t per_ky = (size_t)g->kw * g->cg;
    size_t k = k0;
    const size_t end = k0 + kcount;
    while (k < end) {
        const int ky = (int)(k / per_ky);
        const int kx = (int)(k % per_ky / g->cg);
        const size_t ci = k % g->cg;
        size_t len = g->cg - ci;
        if (len > end - k)
            len = end - k;
        const long long iy = (long long)oy * g->sh - g->pt + (long long)ky * g->dh;
        const long long ix = (long long)ox * g->sw - g->pl + (long long)kx * g->dw;
        float *out = dst + (k - k0);
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
            memset(out, 0, len * sizeof *out);
        } else {
            const size_t pixel = (n * g->h + (size_t)iy) * g->w + (size_t)ix;
            memcpy(out, input + pixel * g->c + (size_t)group * g->cg + ci, len * sizeof *out);
        }
        k += len;
    }
}

void cc__im2col_nhwc(const cc__conv_geom *g, const float *input, int group, size_t r0,
                     size_t rcount, size_t k0, size_t kcount, float *col, int threads)
{
    const size_t pixels = (size_t)g->oh * g->ow;
    CC__PARALLEL_FOR(size_t, rr, rcount, threads, {
        const size_t r = r0 + rr;
        const size_t n = r / pixels, p = r % pixels;
        gather_pixel_taps(g, input, group, n, (int)(p / g->ow), (int)(p % g->ow), k0, kcount,
                          col + rr * kcount);
    });
}

/* The adjoint of gather_row_segment: adds src[0..count) into the taps of
 * output row oy, columns ox0.., for kernel offset (ky, kx) of one plane. */
static void scatter_row_segment(const cc__conv_geom *g, float *plane, int oy, int ox0, int count,
                                int ky, int kx, const float *src)
{
    const long long iy = (long long)oy * g->sh - g->pt + (long long)ky * g->dh;
    if (iy < 0 || iy >= g->h)
        return;
    const long long base = (long long)kx * g->dw - g->pl;
    int lo, hi;
    valid_span(g->ow, g->w, g->sw, base, &lo, &hi);
    const int end = ox0 + count;
    const int from = lo < ox0 ? ox0 : (lo > end ? end : lo);
    const int to = hi < from ? from : (hi > end ? end : hi);
    float *row = plane + (size_t)iy * g->w;
    for (int ox = from; ox < to; ox++)
        row[(long long)ox * g->sw + base] += src[ox - ox0];
}

void cc__col2im_nchw(const cc__conv_geom *g, float *image_group_grad, size_t k0, size_t kcount,
                     size_t p0, size_t pcount, const float *col)
{
    const size_t taps = (size_t)g->kh * g->kw;
    const size_t plane_size = (size_t)g->h * g->w;
    for (size_t kk = 0; kk < kcount; kk++) {
        const size_t k = k0 + kk;
        const size_t c = k / taps;
        const int ky = (int)(k % taps / g->kw), kx = (int)(k % taps % g->kw);
        float *plane = image_group_grad + c * plane_size;
        const float *src = col + kk * pcount;
        size_t done = 0;
        while (done < pcount) {
            const size_t p = p0 + done;
            const int oy = (int)(p / g->ow), ox = (int)(p % g->ow);
            size_t count = (size_t)(g->ow - ox);
            if (count > pcount - done)
                count = pcount - done;
            scatter_row_segment(g, plane, oy, ox, (int)count, ky, kx, src + done);
            done += count;
        }
    }
}

/* The adjoint of gather_pixel_taps. */
static void scatter_pixel_taps(const cc__conv_geom *g, float *input_grad, int group, size_t n,
                               int oy, int ox, size_t k0, size_t kcount, const float *src)
{
    const size_t per_ky = (size_t)g->kw * g->cg;
    size_t k = k0;
    const size_t end = k0 + kcount;
    while (k < end) {
        const int ky = (int)(k / per_ky);
        const int kx = (int)(k % per_ky / g->cg);
        const size_t ci = k % g->cg;
        size_t len = g->cg - ci;
        if (len > end - k)
            len = end - k;
        const long long iy = (long long)oy * g->sh - g->pt + (long long)ky * g->dh;
        const long long ix = (long long)ox * g->sw - g->pl + (long long)kx * g->dw;
        if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w) {
            const size_t pixel = (n * g->h + (size_t)iy) * g->w + (size_t)ix;
            float *dst = input_grad + pixel * g->c + (size_t)group * g->cg + ci;
            const float *from = src + (k - k0);
            for (size_t i = 0; i < len; i++)
                dst[i] += from[i];
        }
        k += len;
    }
}

void cc__col2im_nhwc(const cc__conv_geom *g, float *input_grad, int group, size_t r0,
                     size_t rcount, size_t k0, size_t kcount, const float *col)
{
    const size_t pixels = (size_t)g->oh * g->ow;
    for (size_t rr = 0; rr < rcount; rr++) {
        const size_t r = r0 + rr;
        const size_t n = r / pixels, p = r % pixels;
        scatter_pixel_taps(g, input_grad, group, n, (int)(p / g->ow), (int)(p % g->ow), k0,
                           kcount, col + rr * kcount);
    }
}
