/* The layer kernels of kernels.h, instantiated once per ISA. The including
 * file defines the vocabulary below for its ISA and KB_KERNELS, the name of
 * its cc__layer_kernels table, and is compiled with that ISA's flags
 * (kernels.c: portable; kernels_avx2.c; kernels_avx512.c). Vectors are
 * written out, with masked loads and stores for partial vectors, so that no
 * loop ends in a scalar remainder (a scalar NaN-aware max compiles to
 * branches, and random data mispredicts half of them).
 *
 * Vocabulary (KV lanes; n < KV for the partial forms):
 *   kvec                       a vector of KV floats
 *   kv_set1(x)                 every lane x
 *   kv_load(p) kv_load_n(p, n) p[0 .. KV) / p[0 .. n), other lanes 0
 *   kv_store(p, v) kv_store_n(p, v, n)
 *   kv_even(p)                 p[0], p[2], ..., p[2 KV - 2] (reads p[0 .. 2 KV))
 *   kv_gather(p, s)            p[0], p[s], ..., p[(KV - 1) s]
 *   kv_max(m, v)               max where a NaN wins (m's when both are)
 *   kv_add kv_mul kv_div kv_sqrt
 * Plain IEEE operations throughout (no FMA contraction: ISO C), so every
 * family rounds alike wherever the order of operations is the same. */
#include <math.h>
#include <string.h>

#include "kernels.h"

#ifndef KB_KERNELS
#error "define the vocabulary and KB_KERNELS before including kernels_body.h"
#endif

#define KB_ALWAYS_INLINE static inline __attribute__((always_inline))

/* max(m, v) where a NaN v wins and a NaN m stays, for the rare scalar
 * paths (kernels wider than the row buffer, strides above 2). */
KB_ALWAYS_INLINE float kb_max(float m, float v) { return (v > m) | (v != v) ? v : m; }

KB_ALWAYS_INLINE float kb_pool(bool is_max, float acc, float v)
{
    return is_max ? kb_max(acc, v) : acc + v;
}

KB_ALWAYS_INLINE kvec kb_pool_v(bool is_max, kvec acc, kvec v)
{
    return is_max ? kv_max(acc, v) : kv_add(acc, v);
}

KB_ALWAYS_INLINE int kb_clamp(int64_t v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

/* Stores the first n lanes of v (all of them when n >= KV). */
KB_ALWAYS_INLINE void kb_store_upto(float *p, kvec v, int n)
{
    if (n >= KV)
        kv_store(p, v);
    else
        kv_store_n(p, v, n);
}

/* ---- Max and average pooling, NCHW ---------------------------------------
 * Separable: a vertical pass reduces each output row's window rows into a
 * row buffer of padded columns (contiguous loads, one store per vector),
 * then a horizontal pass reduces each output's kw buffer cells (stride 1:
 * shifted loads; stride 2: even lanes of two loads; other strides:
 * gathers). Columns outside the input hold -inf (max: never wins; every
 * window holds an input cell) or 0 (average: adds nothing; the divisor
 * comes from the geometry). The buffer holds as many output rows as fit,
 * all reduced vertically before any is swept horizontally: small planes
 * then pay no per-row set-up, and the horizontal loads do not wait on the
 * stores just made to the same lines (a load straddling a recent store
 * cannot be forwarded from it). When windows do not overlap (kw <= sw),
 * rows sit at pitch ow * sw and one horizontal sweep covers a pass (VGG's
 * 2x2/2 pools); otherwise each row is swept alone, in chunks of columns
 * when it is wider than the buffer. A kernel wider than the buffer takes a
 * scalar loop per output. */

/* Floats of slack after a buffer: a partial last vector is computed whole
 * (only its lanes in range are stored), reading up to 2 KV + kw floats
 * past the last window; the slack is zeroed, its values never stored. */
#define KB_SLACK 64

/* Input floats beyond which the vertical pass prefetches: about half the L2. */
#define KB_FAR_FLOATS ((size_t)1 << 18)

/* dst[i] = reduction over `rows` rows (first + r * stride) of column i,
 * i < n. Whole vectors are loaded while the last row has `readable` floats
 * from first + (rows - 1) * stride (beyond n, they are the next row's:
 * masked loads and stores cost this CPU twice as much), and always stored
 * whole: dst has room for n rounded up to KV. */
KB_ALWAYS_INLINE void pool_rows_kind(const float *first, size_t stride, int rows, size_t n,
                                     size_t readable, float *dst, bool is_max)
{
    /* The rows after the window, the next output row's at stride = kh,
     * asked for early when they come from beyond the caches (VGG's first
     * pool: the interleaved rows keep the hardware prefetcher behind). */
    const bool far = readable > KB_FAR_FLOATS;
    for (size_t i = 0; i < n; i += KV) {
        if (far)
            __builtin_prefetch(first + (size_t)rows * stride + i);
        kvec acc;
        if (i + KV <= readable) {
            acc = kv_load(first + i);
            for (int r = 1; r < rows; r++)
                acc = kb_pool_v(is_max, acc, kv_load(first + (size_t)r * stride + i));
        } else {
            const int m = (int)(n - i);
            acc = kv_load_n(first + i, m);
            for (int r = 1; r < rows; r++)
                acc = kb_pool_v(is_max, acc, kv_load_n(first + (size_t)r * stride + i, m));
        }
        kv_store(dst + i, acc);
    }
}

KB_ALWAYS_INLINE void pool_rows(const float *first, size_t stride, int rows, size_t n,
                                size_t readable, float *dst, bool is_max)
{
    if (rows == 2)
        pool_rows_kind(first, stride, 2, n, readable, dst, is_max);
    else if (rows == 3)
        pool_rows_kind(first, stride, 3, n, readable, dst, is_max);
    else
        pool_rows_kind(first, stride, rows, n, readable, dst, is_max);
}

/* dst[0 .. n) = value, in whole vectors (dst has room for them). */
KB_ALWAYS_INLINE void kb_fill(float *dst, float value, int n)
{
    const kvec v = kv_set1(value);
    for (int i = 0; i < n; i += KV)
        kv_store(dst + i, v);
}

/* out[j] = reduction of buf[j * sw + k], k in [0, kw), j in [0, n); sw and
 * kw are constants where it is inlined for the common pools. Reads up to
 * KB_SLACK floats past the last window; may write whole vectors up to
 * out[room) (room >= n: floats that are written again later). */
KB_ALWAYS_INLINE void pool_horizontal_kind(const float *buf, float *out, int n, int sw, int kw,
                                           int room, bool is_max)
{
    int j = 0;
    if (sw == 1) {
        for (; j < n; j += KV) {
            kvec acc = kv_load(buf + j);
            for (int k = 1; k < kw; k++)
                acc = kb_pool_v(is_max, acc, kv_load(buf + j + k));
            kb_store_upto(out + j, acc, room - j);
        }
    } else if (sw == 2) {
        for (; j < n; j += KV) {
            const float *cell = buf + 2 * (size_t)j;
            kvec acc = kv_even(cell);
            for (int k = 1; k < kw; k++)
                acc = kb_pool_v(is_max, acc, kv_even(cell + k));
            kb_store_upto(out + j, acc, room - j);
        }
    } else {
        for (; j + KV <= n; j += KV) {
            const float *cell = buf + (size_t)j * (size_t)sw;
            kvec acc = kv_gather(cell, sw);
            for (int k = 1; k < kw; k++)
                acc = kb_pool_v(is_max, acc, kv_gather(cell + k, sw));
            kv_store(out + j, acc);
        }
        for (; j < n; j++) {
            const float *cell = buf + (size_t)j * (size_t)sw;
            float acc = cell[0];
            for (int k = 1; k < kw; k++)
                acc = kb_pool(is_max, acc, cell[k]);
            out[j] = acc;
        }
    }
}

KB_ALWAYS_INLINE void pool_horizontal(const cc__pool_geom *g, const float *buf, float *out,
                                      int n, int room, bool is_max)
{
    if (g->sw == 2 && g->kw == 2)
        pool_horizontal_kind(buf, out, n, 2, 2, room, is_max);
    else if (g->sw == 2 && g->kw == 3)
        pool_horizontal_kind(buf, out, n, 2, 3, room, is_max);
    else if (g->sw == 1 && g->kw == 3)
        pool_horizontal_kind(buf, out, n, 1, 3, room, is_max);
    else
        pool_horizontal_kind(buf, out, n, g->sw, g->kw, room, is_max);
}

/* Average: out[j] (output column ox0 + j of row oy, j < n) divided by its
 * window's divisor; the windows inside the input share one. */
static void pool_divide(const cc__pool_geom *g, int h, int w, int oy, int ox0, int n,
                        float *out)
{
    const cc__window rows = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
    /* Output columns whose window lies inside the input: [lo, hi). */
    const int64_t lo = (g->pl + g->sw - 1) / g->sw;
    const int64_t last_start = (int64_t)w + g->pl - g->kw;
    const int64_t hi = last_start < 0 ? 0 : last_start / g->sw + 1;
    const int ja = kb_clamp(lo - ox0, 0, n), jb = kb_clamp(hi - ox0, ja, n);
    const float inside = g->include_pad ? (float)rows.padded * (float)g->kw
                                        : (float)(rows.end - rows.begin) * (float)g->kw;
    const kvec d = kv_set1(inside);
    for (int j = ja; j < jb; j += KV) {
        const int m = jb - j;
        kb_store_upto(out + j, kv_div(m >= KV ? kv_load(out + j) : kv_load_n(out + j, m), d), m);
    }
    for (int j = 0; j < n; j++)
        if (j < ja || j >= jb)
            out[j] /= cc__pool_divisor(g, rows,
                                       cc__window_at(ox0 + j, g->sw, g->kw, g->pl, g->pr, w));
}

/* A kernel wider than the row buffer: each output from its window. */
static void pool_row_direct(const cc__pool_geom *g, int h, int w, const float *plane,
                            float *out_row, int oy)
{
    const cc__window rows = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
    for (int ox = 0; ox < g->ow; ox++) {
        const cc__window cols = cc__window_at(ox, g->sw, g->kw, g->pl, g->pr, w);
        float acc = plane[(size_t)rows.begin * (size_t)w + (size_t)cols.begin];
        for (int y = rows.begin; y < rows.end; y++) {
            const float *line = plane + (size_t)y * (size_t)w;
            for (int x = y == rows.begin ? cols.begin + 1 : cols.begin; x < cols.end; x++)
                acc = kb_pool(g->is_max, acc, line[x]);
        }
        out_row[ox] = g->is_max ? acc : acc / cc__pool_divisor(g, rows, cols);
    }
}

/* Output rows [oy0, oy1) of one plane, with a row buffer of as many rows
 * as fit at `pitch` floats each: row r of a pass holds padded columns
 * [xs, xs + pitch) of the vertical reduction for output row oy + r.
 * Everything is stored in whole vectors, each row's left padding, columns
 * and right padding in that order, each spilling into what is written
 * next; outputs spill only into later rows of the same unit. Stacked, one
 * horizontal sweep covers the pass's rows; else each row of n outputs is
 * swept alone. */
KB_ALWAYS_INLINE void pool_nchw_passes(const cc__pool_geom *g, int h, int w, const float *plane,
                                       float *out_plane, int oy0, int oy1, int ox0, int n,
                                       bool stacked, bool is_max)
{
    float buf[CC__POOL_ROW_FLOATS + KB_SLACK];
    const int ow = g->ow, sw = g->sw;
    const int pitch = stacked ? ow * sw : (n - 1) * sw + g->kw;
    const int per_pass = CC__POOL_ROW_FLOATS / pitch;
    const int64_t xs = (int64_t)ox0 * sw - g->pl;
    const int a = kb_clamp(-xs, 0, pitch), b = kb_clamp(w - xs, a, pitch);
    const float pad = is_max ? -INFINITY : 0.0f;
    const size_t ws = (size_t)w, cols = (size_t)(b - a), plane_size = (size_t)h * ws;
    const size_t offset = (size_t)(xs + a);
    /* Outputs after a chunk of a row are the next chunk's, written later,
     * when they are not the next row's, written earlier. */
    const bool whole_rows = ox0 == 0 && n == ow;
    for (int oy = oy0; oy < oy1; oy += per_pass) {
        const int rows = oy1 - oy < per_pass ? oy1 - oy : per_pass;
        for (int r = 0; r < rows; r++) {
            float *row = buf + (size_t)r * (size_t)pitch;
            const int y0 = (oy + r) * g->sh - g->pt;
            const int top = y0 < 0 ? 0 : y0, bottom = y0 + g->kh > h ? h : y0 + g->kh;
            const size_t last = (size_t)(bottom - 1) * ws + offset;
            kb_fill(row, pad, a);
            pool_rows(plane + (size_t)top * ws + offset, ws, bottom - top, cols,
                      plane_size - last, row + a, is_max);
            kb_fill(row + b, pad, pitch - b);
        }
        kb_fill(buf + (size_t)rows * (size_t)pitch, 0.0f, KB_SLACK);
        float *out = out_plane + (size_t)oy * (size_t)ow + (size_t)ox0;
        if (stacked)
            pool_horizontal(g, buf, out, rows * ow, (oy1 - oy) * ow, is_max);
        else
            for (int r = 0; r < rows; r++)
                pool_horizontal(g, buf + (size_t)r * (size_t)pitch, out + (size_t)r * (size_t)ow,
                                n, whole_rows ? (oy1 - oy - r) * ow : n, is_max);
        for (int r = 0; r < rows && !is_max; r++)
            pool_divide(g, h, w, oy + r, ox0, n, out + (size_t)r * (size_t)ow);
    }
}

KB_ALWAYS_INLINE void pool_nchw_kind(const cc__pool_geom *g, int h, int w, const float *plane,
                                     float *out_plane, int oy0, int oy1, bool is_max)
{
    const int ow = g->ow, sw = g->sw, kw = g->kw;
    if (kw > CC__POOL_ROW_FLOATS) {
        for (int oy = oy0; oy < oy1; oy++)
            pool_row_direct(g, h, w, plane, out_plane + (size_t)oy * (size_t)ow, oy);
    } else if (kw <= sw && (int64_t)ow * sw <= CC__POOL_ROW_FLOATS) {
        pool_nchw_passes(g, h, w, plane, out_plane, oy0, oy1, 0, ow, true, is_max);
    } else {
        const int chunk = (CC__POOL_ROW_FLOATS - kw) / sw + 1;
        for (int ox0 = 0; ox0 < ow; ox0 += chunk)
            pool_nchw_passes(g, h, w, plane, out_plane, oy0, oy1, ox0,
                             ow - ox0 < chunk ? ow - ox0 : chunk, false, is_max);
    }
}

static void pool_nchw_rows(const cc__pool_geom *g, int h, int w, const float *plane,
                           float *out_plane, int oy0, int oy1)
{
    if (g->is_max)
        pool_nchw_kind(g, h, w, plane, out_plane, oy0, oy1, true);
    else
        pool_nchw_kind(g, h, w, plane, out_plane, oy0, oy1, false);
}

/* ---- Max and average pooling, NHWC ---------------------------------------
 * Channels are the vectors: each output pixel's channels, a few vectors at
 * a time held in registers, start as its window's first cell and take in
 * the others; an average is divided before the store. */

/* Channels [c0, c0 + nv * KV) (nv = 4 or 1), or [c0, c0 + tail) with
 * tail < KV, of one output pixel. */
KB_ALWAYS_INLINE void pool_pixel_block(const float *image, size_t w,
                                       size_t cs, cc__window rows, cc__window cols, float d,
                                       float *out, int nv, int tail, bool is_max)
{
    kvec acc[4];
    const float *first = image + ((size_t)rows.begin * w + (size_t)cols.begin) * cs;
    for (int v = 0; v < nv; v++)
        acc[v] = tail > 0 ? kv_load_n(first, tail) : kv_load(first + v * KV);
    for (int y = rows.begin; y < rows.end; y++)
        for (int x = y == rows.begin ? cols.begin + 1 : cols.begin; x < cols.end; x++) {
            const float *px = image + ((size_t)y * w + (size_t)x) * cs;
            for (int v = 0; v < nv; v++)
                acc[v] = kb_pool_v(is_max, acc[v],
                                   tail > 0 ? kv_load_n(px, tail) : kv_load(px + v * KV));
        }
    for (int v = 0; v < nv; v++) {
        const kvec r = is_max ? acc[v] : kv_div(acc[v], kv_set1(d));
        if (tail > 0)
            kv_store_n(out, r, tail);
        else
            kv_store(out + v * KV, r);
    }
}

KB_ALWAYS_INLINE void pool_nhwc_kind(const cc__pool_geom *g, int h, int w, int c,
                                     const float *image, float *out_row, int oy, bool is_max)
{
    const size_t cs = (size_t)c, ws = (size_t)w;
    const cc__window rows = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
    for (int ox = 0; ox < g->ow; ox++) {
        const cc__window cols = cc__window_at(ox, g->sw, g->kw, g->pl, g->pr, w);
        const float d = is_max ? 1.0f : cc__pool_divisor(g, rows, cols);
        float *out = out_row + (size_t)ox * cs;
        size_t c0 = 0;
        for (; c0 + 4 * KV <= cs; c0 += 4 * KV)
            pool_pixel_block(image + c0, ws, cs, rows, cols, d, out + c0, 4, 0, is_max);
        for (; c0 + KV <= cs; c0 += KV)
            pool_pixel_block(image + c0, ws, cs, rows, cols, d, out + c0, 1, 0, is_max);
        if (c0 < cs)
            pool_pixel_block(image + c0, ws, cs, rows, cols, d, out + c0, 1, (int)(cs - c0),
                             is_max);
    }
}

static void pool_nhwc_row(const cc__pool_geom *g, int h, int w, int c, const float *image,
                          float *out_row, int oy)
{
    if (g->is_max)
        pool_nhwc_kind(g, h, w, c, image, out_row, oy, true);
    else
        pool_nhwc_kind(g, h, w, c, image, out_row, oy, false);
}

const cc__layer_kernels KB_KERNELS = {
    .pool_nchw_rows = pool_nchw_rows,
    .pool_nhwc_row = pool_nhwc_row,
};
