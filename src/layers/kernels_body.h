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
 *   kv_even2(a, b) kv_odd2(a, b)   the even / odd lanes of a then b (2 KV)
 *   kv_next1(a, b) kv_next2(a, b)  a's lanes from 1 / 2 on, then b's first
 *   kv_prev1(a, b)                 a's last lane, then b's but its last
 *   kmask, kv_mask_lanes(lo, hi)   the lanes [lo, hi)
 *   kv_load_mask(a, m, f)          m's lanes from address a on, f elsewhere
 *   kv_max(m, v)               max where a NaN wins (v's when both are)
 *   kv_add kv_mul kv_div kv_sqrt
 *   kv_rsqrt_estimate(v)       about 1 / sqrt(v) (12 bits or more)
 *   kv_fma(a, b, c)            a * b + c (fused where the ISA has FMA)
 *   kv_relu(v)                 max(0, v), NaN and -0 kept
 *   kv_cap(v, hi)              min(v, hi), NaN kept
 *   kv_abs(v)                  |v|
 *   kv_below(x, lo, a, b)      x < lo ? a : b, per lane (NaN: b)
 *   kv_keep_n(v, n, fill)      the first n lanes of v, fill in the others
 *   kv_scale2(p, n)            p * 2^n for integer-valued n in [-126, 127]
 *   kv_hmax(v) kv_hsum(v)      across the lanes (the max NaN-aware)
 * Plain IEEE operations throughout (no FMA contraction: ISO C), so every
 * family rounds alike wherever the order of operations is the same, except
 * in the GEMV (kv_fma) and across lanes. */
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

/* Input floats beyond which the pools prefetch: about half the L2. */
#define KB_FAR_FLOATS ((size_t)1 << 18)
/* Floats of a cache line. */
#define KB_LINE_FLOATS 16

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

/* Average: cols[j] = the column factor of output column ox0 + j's divisor
 * (cc__pool_divisor: cells of the padded input or of the input), j < n;
 * cols has room for n rounded up to KV. */
static void pool_column_factors(const cc__pool_geom *g, int w, int ox0, int n, float *cols)
{
    for (int j = 0; j < n; j++) {
        const cc__window c = cc__window_at(ox0 + j, g->sw, g->kw, g->pl, g->pr, w);
        cols[j] = (float)(g->include_pad ? c.padded : c.end - c.begin);
    }
    for (int j = n; j % KV != 0; j++)
        cols[j] = 1.0f;
}

/* Average: out[j] /= row factor * cols[j] (the divisor, rounded as
 * cc__pool_divisor rounds it), j < n, for output row oy. */
static void pool_divide(const cc__pool_geom *g, int h, int oy, const float *cols, int n,
                        float *out)
{
    const cc__window rows = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
    const kvec r = kv_set1((float)(g->include_pad ? rows.padded : rows.end - rows.begin));
    for (int j = 0; j < n; j += KV) {
        const int m = n - j;
        const kvec d = kv_mul(r, kv_load(cols + j));
        kb_store_upto(out + j, kv_div(m >= KV ? kv_load(out + j) : kv_load_n(out + j, m), d), m);
    }
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
    float cols_factor[CC__POOL_ROW_FLOATS + 16];
    if (!is_max)
        pool_column_factors(g, w, ox0, n, cols_factor);
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
            pool_divide(g, h, oy + r, cols_factor, n, out + (size_t)r * (size_t)ow);
    }
}

/* ---- Register pooling, NCHW ---------------------------------------------
 * The common pools (kernel width up to 3, stride 1 or 2: VGG's, AlexNet's,
 * ResNet's, Inception's) skip the row buffer. Each input row is read as
 * blocks of KV columns from column 0 (block b: columns [b KV, b KV + KV)),
 * reduced down the window's rows in registers; the cells of a window
 * column offset d = k - pad_left (k < kw) come from the blocks by lane
 * shuffles. Stride 1: output vector v's cells at offset d are block v
 * moved by d lanes (d = -1 takes the previous block's last lane, d = 1, 2
 * the next block's first ones). Stride 2: blocks 2v, 2v + 1 give the even
 * columns E and the odd ones O; offset 0 is E, 1 is O, 2 is E moved by one
 * lane (the next pair's first even column), -1 is O moved back by one (the
 * previous pair's last odd column). Each block is loaded once; only the
 * row's last partial block is masked (padding past the row), and blocks
 * past it are padding. */

/* The blocks of every row of a plane: `whole` blocks read whole, then,
 * when `partial`, one of the lanes in `last` (padding in the others). */
typedef struct {
    size_t ws;
    int ow, pl, whole;
    bool partial;
    kmask last;
    const float *cols;
} pool_row_plan;

static void pool_row_plan_of(const cc__pool_geom *g, int w, const float *cols,
                             pool_row_plan *plan)
{
    *plan = (pool_row_plan){(size_t)w, g->ow, g->pl, w / KV, w % KV != 0,
                            kv_mask_lanes(0, w % KV), cols};
}

/* The reduction down `rows` rows from top (rows ws floats apart) of block
 * b; padding past the row. */
KB_ALWAYS_INLINE kvec pool_block(const float *top, size_t ws, int rows, int b, int whole,
                                 bool partial, kmask last, bool is_max)
{
    const float pad = is_max ? -INFINITY : 0.0f;
    const float *first = top + (size_t)b * KV;
    if (b < whole) {
        kvec acc = kv_load(first);
        for (int r = 1; r < rows; r++)
            acc = kb_pool_v(is_max, acc, kv_load(first + (size_t)r * ws));
        return acc;
    }
    if (b > whole || !partial)
        return kv_set1(pad);
    kvec acc = kv_load_mask((uintptr_t)first, last, pad);
    for (int r = 1; r < rows; r++)
        acc = kb_pool_v(is_max, acc, kv_load_mask((uintptr_t)(first + (size_t)r * ws), last, pad));
    return acc;
}

/* Stores output vector j of a row (whole while `room` floats from out may
 * be written: later rows' outputs, written again after), divided by
 * row_factor * cols[j] for an average. */
KB_ALWAYS_INLINE void pool_store(float *out, int j, int room, kvec acc, kvec row_factor,
                                 const float *cols, bool is_max)
{
    if (!is_max)
        acc = kv_div(acc, kv_mul(row_factor, kv_load(cols + j)));
    kb_store_upto(out + j, acc, room - j);
}

/* The window cells at column offset d of an output vector: from the
 * previous, current and next blocks (stride 1) or pairs' even and odd
 * columns (stride 2). */
KB_ALWAYS_INLINE kvec pool_cells_s1(int d, kvec prev, kvec cur, kvec next)
{
    return d < 0 ? kv_prev1(prev, cur) : d == 0 ? cur : d == 1 ? kv_next1(cur, next)
                                                               : kv_next2(cur, next);
}
KB_ALWAYS_INLINE kvec pool_cells_s2(int d, kvec odd_prev, kvec even, kvec odd, kvec even_next)
{
    return d < 0 ? kv_prev1(odd_prev, odd) : d == 0 ? even : d == 1 ? odd
                                                                    : kv_next1(even, even_next);
}

/* `count` output rows from out, the first one's window from top, each
 * next one top_step floats down, all of `rows` rows (a constant where
 * inlined); `room` floats from out may be written. The plan's fields are
 * read into locals first: through the pointer the compiler kept them in
 * memory across the loops. */
KB_ALWAYS_INLINE void pool_row_run(const pool_row_plan *plan, const float *top, size_t top_step,
                                   int rows, int count, float *out, int room, kvec row_factor,
                                   int sw, int kw, bool is_max)
{
    const size_t ws = plan->ws;
    const int ow = plan->ow, pl = plan->pl, whole = plan->whole;
    const bool partial = plan->partial;
    const kmask last = plan->last;
    const float *cols = plan->cols;
    const kvec pad = kv_set1(is_max ? -INFINITY : 0.0f);
    for (int r = 0; r < count; r++, top += top_step, out += ow, room -= ow) {
        if (sw == 1) {
            kvec prev = pad;
            kvec cur = pool_block(top, ws, rows, 0, whole, partial, last, is_max);
            for (int v = 0; v * KV < ow; v++) {
                const kvec next = pool_block(top, ws, rows, v + 1, whole, partial, last, is_max);
                kvec acc = pool_cells_s1(-pl, prev, cur, next);
                for (int k = 1; k < kw; k++)
                    acc = kb_pool_v(is_max, acc, pool_cells_s1(k - pl, prev, cur, next));
                pool_store(out, v * KV, room, acc, row_factor, cols, is_max);
                prev = cur;
                cur = next;
            }
        } else {
            kvec odd_prev = pad;
            kvec a = pool_block(top, ws, rows, 0, whole, partial, last, is_max);
            kvec b = pool_block(top, ws, rows, 1, whole, partial, last, is_max);
            kvec even = kv_even2(a, b), odd = kv_odd2(a, b);
            for (int v = 0; v * KV < ow; v++) {
                a = pool_block(top, ws, rows, 2 * v + 2, whole, partial, last, is_max);
                b = pool_block(top, ws, rows, 2 * v + 3, whole, partial, last, is_max);
                const kvec even_next = kv_even2(a, b);
                kvec acc = pool_cells_s2(-pl, odd_prev, even, odd, even_next);
                for (int k = 1; k < kw; k++)
                    acc = kb_pool_v(is_max, acc,
                                    pool_cells_s2(k - pl, odd_prev, even, odd, even_next));
                pool_store(out, v * KV, room, acc, row_factor, cols, is_max);
                odd_prev = odd;
                even = even_next;
                odd = kv_odd2(a, b);
            }
        }
    }
}

/* The register pools, one function per common geometry and kind, each
 * compiled on its own with sw and kw constants, and the window's rows too
 * when they are whole (kh = kw rows inside the input); other geometries
 * take the generic one. */
typedef void (*pool_run_fn)(const pool_row_plan *plan, const float *top, size_t top_step,
                            int rows, int count, float *out, int room, kvec row_factor, int sw,
                            int kw);
#define KB_POOL_RUN(name, SW, KW, is_max)                                                       \
    __attribute__((noinline)) static void name(const pool_row_plan *plan, const float *top,    \
                                               size_t top_step, int rows, int count,           \
                                               float *out, int room, kvec row_factor, int sw,  \
                                               int kw)                                         \
    {                                                                                          \
        (void)sw;                                                                              \
        (void)kw;                                                                              \
        if (rows == KW)                                                                        \
            pool_row_run(plan, top, top_step, KW, count, out, room, row_factor, SW, KW,        \
                         is_max);                                                              \
        else                                                                                   \
            pool_row_run(plan, top, top_step, rows, count, out, room, row_factor, SW, KW,      \
                         is_max);                                                              \
    }
KB_POOL_RUN(pool_max_s2k2, 2, 2, true)
KB_POOL_RUN(pool_max_s2k3, 2, 3, true)
KB_POOL_RUN(pool_max_s1k3, 1, 3, true)
KB_POOL_RUN(pool_max_other, sw, kw, true)
KB_POOL_RUN(pool_avg_s2k2, 2, 2, false)
KB_POOL_RUN(pool_avg_s2k3, 2, 3, false)
KB_POOL_RUN(pool_avg_s1k3, 1, 3, false)
KB_POOL_RUN(pool_avg_other, sw, kw, false)
#undef KB_POOL_RUN

static pool_run_fn pool_run_of(const cc__pool_geom *g)
{
    static const pool_run_fn runs[2][4] = {
        {pool_avg_s2k2, pool_avg_s2k3, pool_avg_s1k3, pool_avg_other},
        {pool_max_s2k2, pool_max_s2k3, pool_max_s1k3, pool_max_other}};
    const int shape = g->sw == 2 && g->kw == 2   ? 0
                      : g->sw == 2 && g->kw == 3 ? 1
                      : g->sw == 1 && g->kw == 3 ? 2
                                                 : 3;
    return runs[g->is_max][shape];
}

/* Output rows [oy0, oy1) of one plane: the rows whose windows lie inside
 * the input in one call, each clipped one alone. */
static void pool_plane_registers(const cc__pool_geom *g, int h, int w, const pool_row_plan *plan,
                                 pool_run_fn run, const float *plane, float *out_plane, int oy0,
                                 int oy1)
{
    const int ow = g->ow;
    const size_t top_step = (size_t)g->sh * (size_t)w;
    /* Output rows whose windows lie inside the input: [inner0, inner1). */
    const int inner0 = (g->pt + g->sh - 1) / g->sh;
    const int inner1 = h - g->kh + g->pt < 0 ? 0 : (h - g->kh + g->pt) / g->sh + 1;
    int oy = oy0;
    while (oy < oy1) {
        const cc__window win = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
        const int rows = win.end - win.begin;
        const bool inner = oy >= inner0 && oy < inner1;
        const int count = inner ? (oy1 < inner1 ? oy1 : inner1) - oy : 1;
        const kvec row_factor = kv_set1((float)(g->include_pad ? win.padded : rows));
        run(plan, plane + (size_t)win.begin * (size_t)w, top_step, rows, count,
            out_plane + (size_t)oy * (size_t)ow, (oy1 - oy) * ow, row_factor, g->sw, g->kw);
        oy += count;
    }
}

/* Output rows [oy0, oy1) of consecutive planes: in each, the rows whose
 * windows lie inside the input in one call, each clipped one alone. */
static void pool_nchw_registers(const cc__pool_geom *g, int h, int w, const float *planes_in,
                                float *planes_out, size_t planes, int oy0, int oy1)
{
    const int ow = g->ow;
    float cols[CC__POOL_ROW_FLOATS + 16];
    if (!g->is_max)
        pool_column_factors(g, w, 0, ow, cols);
    pool_row_plan plan;
    pool_row_plan_of(g, w, cols, &plan);
    const pool_run_fn run = pool_run_of(g);
    const size_t in_plane = (size_t)h * (size_t)w, out_plane = (size_t)g->oh * (size_t)ow;
    for (size_t p = 0; p < planes; p++) {
        const float *plane = planes_in + p * in_plane;
        float *out_plane_p = planes_out + p * out_plane;
        pool_plane_registers(g, h, w, &plan, run, plane, out_plane_p, oy0, oy1);
    }
}

/* Whether pool_nchw_registers takes g (average: the column factors fit). */
static bool pool_in_registers(const cc__pool_geom *g)
{
    return g->kw <= 3 && g->sw <= 2 && g->ow <= CC__POOL_ROW_FLOATS;
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

static void pool_nchw_rows(const cc__pool_geom *g, int h, int w, const float *planes_in,
                           float *planes_out, size_t planes, int oy0, int oy1)
{
    const size_t in_size = (size_t)h * (size_t)w, out_size = (size_t)g->oh * (size_t)g->ow;
    if (pool_in_registers(g)) {
        pool_nchw_registers(g, h, w, planes_in, planes_out, planes, oy0, oy1);
        return;
    }
    for (size_t p = 0; p < planes; p++) {
        const float *plane = planes_in + p * in_size;
        float *out_plane = planes_out + p * out_size;
        if (g->is_max)
            pool_nchw_kind(g, h, w, plane, out_plane, oy0, oy1, true);
        else
            pool_nchw_kind(g, h, w, plane, out_plane, oy0, oy1, false);
    }
}

/* ---- Max and average pooling, NHWC ---------------------------------------
 * Channels are the vectors: each output pixel's channels, a few vectors at
 * a time held in registers, start as its window's first cell and take in
 * the others; an average is divided before the store. */

/* Channel vectors of one output pixel held in registers at once: enough
 * independent max (or add) chains to keep the loads busy while each waits
 * on its previous cell. */
#define KB_POOL_VECTORS 8

/* Channels [c0, c0 + nv * KV) (nv <= KB_POOL_VECTORS; a constant where it
 * is inlined), or [c0, c0 + tail) with tail < KV (nv 1), of one output
 * pixel. */
KB_ALWAYS_INLINE void pool_pixel_block(const float *image, size_t w,
                                       size_t cs, cc__window rows, cc__window cols, float d,
                                       float *out, int nv, int tail, bool is_max)
{
    kvec acc[KB_POOL_VECTORS];
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

/* The whole channel vectors [c0, c0 + nv * KV) of one pixel, nv <
 * KB_POOL_VECTORS, with nv a constant in each call. */
KB_ALWAYS_INLINE void pool_pixel_rest(const float *image, size_t w, size_t cs,
                                      cc__window rows, cc__window cols, float d, float *out,
                                      int nv, bool is_max)
{
    switch (nv) {
    case 1: pool_pixel_block(image, w, cs, rows, cols, d, out, 1, 0, is_max); break;
    case 2: pool_pixel_block(image, w, cs, rows, cols, d, out, 2, 0, is_max); break;
    case 3: pool_pixel_block(image, w, cs, rows, cols, d, out, 3, 0, is_max); break;
    case 4: pool_pixel_block(image, w, cs, rows, cols, d, out, 4, 0, is_max); break;
    case 5: pool_pixel_block(image, w, cs, rows, cols, d, out, 5, 0, is_max); break;
    case 6: pool_pixel_block(image, w, cs, rows, cols, d, out, 6, 0, is_max); break;
    default: pool_pixel_block(image, w, cs, rows, cols, d, out, 7, 0, is_max); break;
    }
}

/* Channel vectors of one output pixel reduced together by pool_pixel_full:
 * with every cell of a 2x2 or 3x3 window unrolled, four keep 16-36 loads in
 * flight per step. */
#define KB_POOL_FULL_VECTORS 4

/* Channels [0, cs) of one output pixel whose kh x kw window lies inside the
 * image (kh, kw constants where inlined); first is its top-left cell, row
 * the floats from one image row to the next. */
KB_ALWAYS_INLINE void pool_pixel_full(const float *first, size_t row, size_t cs, float d,
                                      float *out, int kh, int kw, bool is_max)
{
    size_t c0 = 0;
    for (; c0 + KB_POOL_FULL_VECTORS * KV <= cs; c0 += KB_POOL_FULL_VECTORS * KV) {
        kvec acc[KB_POOL_FULL_VECTORS];
        for (int v = 0; v < KB_POOL_FULL_VECTORS; v++)
            acc[v] = kv_load(first + c0 + (size_t)v * KV);
        for (int y = 0; y < kh; y++)
            for (int x = y == 0 ? 1 : 0; x < kw; x++) {
                const float *px = first + (size_t)y * row + (size_t)x * cs + c0;
                for (int v = 0; v < KB_POOL_FULL_VECTORS; v++)
                    acc[v] = kb_pool_v(is_max, acc[v], kv_load(px + (size_t)v * KV));
            }
        for (int v = 0; v < KB_POOL_FULL_VECTORS; v++)
            kv_store(out + c0 + (size_t)v * KV,
                     is_max ? acc[v] : kv_div(acc[v], kv_set1(d)));
    }
    for (; c0 < cs; c0 += KV) {
        const int n = cs - c0 < KV ? (int)(cs - c0) : KV;
        kvec acc = kv_load_n(first + c0, n);
        for (int y = 0; y < kh; y++)
            for (int x = y == 0 ? 1 : 0; x < kw; x++)
                acc = kb_pool_v(is_max, acc,
                                kv_load_n(first + (size_t)y * row + (size_t)x * cs + c0, n));
        kv_store_n(out + c0, is_max ? acc : kv_div(acc, kv_set1(d)), n);
    }
}

/* Output pixels [ox0, ox1) of a row whose windows all lie inside the image,
 * the common windows' sizes as constants. Rows [ahead0, ahead1) below the
 * windows' first (the rows the next output row's windows add) are asked
 * for a pixel's columns at a time: inside a network an image larger than
 * the L2 comes from memory or the L3, and the hardware prefetchers kept
 * behind the row-pairs of VGG's 2x2 pools (Zen 5, layers' bests with and
 * without, run alternately in one process, 1 thread: VGG-16's first three
 * pools 0.65 / 0.43 / 0.18 -> 0.48 / 0.17 / 0.13 ms, ResNet-50's 0.097 ->
 * 0.086; 2 threads 3-8% slower: 0.27 / 0.13 / 0.06 -> 0.28 / 0.14 / 0.07,
 * 0.059 -> 0.062). */
KB_ALWAYS_INLINE void pool_nhwc_full(const cc__pool_geom *g, const float *first, size_t row,
                                     size_t cs, float d, float *out_row, int ox0, int ox1,
                                     int ahead0, int ahead1, bool is_max)
{
    const size_t step = (size_t)g->sw * cs;
    for (int ox = ox0; ox < ox1; ox++) {
        const float *cell = first + (size_t)(ox - ox0) * step;
        float *out = out_row + (size_t)ox * cs;
        for (int r = ahead0; r < ahead1; r++)
            for (size_t l = 0; l < step; l += KB_LINE_FLOATS)
                __builtin_prefetch(cell + (size_t)r * row + l);
        if (g->kh == 2 && g->kw == 2)
            pool_pixel_full(cell, row, cs, d, out, 2, 2, is_max);
        else if (g->kh == 3 && g->kw == 3)
            pool_pixel_full(cell, row, cs, d, out, 3, 3, is_max);
        else
            pool_pixel_full(cell, row, cs, d, out, g->kh, g->kw, is_max);
    }
}

/* The output columns [*ox0, *ox1) whose windows lie inside the image's
 * width (start at column 0 or later, end at column w or before); an empty
 * range at *ox0 when there are none. */
static inline void pool_full_columns(const cc__pool_geom *g, int w, int *ox0, int *ox1)
{
    const int first = (g->pl + g->sw - 1) / g->sw;
    const int last = w - g->kw + g->pl >= 0 ? (w - g->kw + g->pl) / g->sw + 1 : 0;
    *ox0 = first < g->ow ? first : g->ow;
    *ox1 = last < g->ow ? last : g->ow;
    if (*ox1 < *ox0)
        *ox1 = *ox0;
}

/* Output pixel ox of a row whose window (rows) may be clipped by the
 * image's edges: its channels in blocks of KB_POOL_VECTORS vectors, the
 * rest, then a partial vector. */
KB_ALWAYS_INLINE void pool_nhwc_pixel(const cc__pool_geom *g, int w, size_t cs,
                                      const float *image, cc__window rows, int ox,
                                      float *out_row, bool is_max)
{
    const size_t block = KB_POOL_VECTORS * KV;
    const int rest = (int)(cs % block / KV);
    const cc__window cols = cc__window_at(ox, g->sw, g->kw, g->pl, g->pr, w);
    const float d = is_max ? 1.0f : cc__pool_divisor(g, rows, cols);
    float *out = out_row + (size_t)ox * cs;
    size_t c0 = 0;
    for (; c0 + block <= cs; c0 += block)
        pool_pixel_block(image + c0, (size_t)w, cs, rows, cols, d, out + c0, KB_POOL_VECTORS, 0,
                         is_max);
    if (rest > 0) {
        pool_pixel_rest(image + c0, (size_t)w, cs, rows, cols, d, out + c0, rest, is_max);
        c0 += (size_t)rest * KV;
    }
    if (c0 < cs)
        pool_pixel_block(image + c0, (size_t)w, cs, rows, cols, d, out + c0, 1, (int)(cs - c0),
                         is_max);
}

/* Output row oy: the pixels whose windows lie inside the image through
 * pool_nhwc_full (1.5x faster than the clipped-window loops on VGG's 2x2
 * pools), the others one by one. */
KB_ALWAYS_INLINE void pool_nhwc_kind(const cc__pool_geom *g, int h, int w, int c,
                                     const float *image, float *out_row, int oy, bool is_max)
{
    const size_t cs = (size_t)c, ws = (size_t)w;
    const cc__window rows = cc__window_at(oy, g->sh, g->kh, g->pt, g->pb, h);
    int full0 = 0, full1 = 0;
    if (rows.end - rows.begin == g->kh)
        pool_full_columns(g, w, &full0, &full1);
    if (full1 > full0) {
        const cc__window cols = cc__window_at(full0, g->sw, g->kw, g->pl, g->pr, w);
        const float d = is_max ? 1.0f : cc__pool_divisor(g, rows, cols);
        const bool far = (size_t)h * ws * cs > KB_FAR_FLOATS;
        const int ahead0 = g->kh > g->sh ? g->kh : g->sh;
        const int below = h - rows.begin;
        const int ahead1 = !far ? 0 : g->sh + g->kh < below ? g->sh + g->kh : below;
        pool_nhwc_full(g, image + ((size_t)rows.begin * ws + (size_t)cols.begin) * cs, ws * cs,
                       cs, d, out_row, full0, full1, ahead0, ahead1, is_max);
    }
    for (int ox = 0; ox < full0; ox++)
        pool_nhwc_pixel(g, w, cs, image, rows, ox, out_row, is_max);
    for (int ox = full1; ox < g->ow; ox++)
        pool_nhwc_pixel(g, w, cs, image, rows, ox, out_row, is_max);
}

static void pool_nhwc_row(const cc__pool_geom *g, int h, int w, int c, const float *image,
                          float *out_row, int oy)
{
    if (g->is_max)
        pool_nhwc_kind(g, h, w, c, image, out_row, oy, true);
    else
        pool_nhwc_kind(g, h, w, c, image, out_row, oy, false);
}

/* ---- Global pooling -------------------------------------------------------
 * NCHW: each plane reduced in vectors, then across the lanes. Whole vectors
 * are loaded past a plane's end while the next plane follows (the lanes
 * past it replaced by the identity), so that only the tensor's last plane
 * pays masked loads. NHWC: channel vectors, four at a time in registers,
 * across the pixels. Averages divide the sum by the pixel count. */

KB_ALWAYS_INLINE void global_nchw_kind(const float *input, size_t planes, size_t pixels,
                                       float *out, bool is_max)
{
    const float identity = is_max ? -INFINITY : 0.0f;
    const size_t total = planes * pixels;
    for (size_t u = 0; u < planes; u++) {
        const float *plane = input + u * pixels;
        kvec acc = kv_set1(identity);
        size_t i = 0;
        for (; i + KV <= pixels; i += KV)
            acc = kb_pool_v(is_max, acc, kv_load(plane + i));
        if (i < pixels) {
            const int m = (int)(pixels - i);
            const bool whole = u * pixels + i + KV <= total;
            acc = kb_pool_v(is_max, acc,
                            kv_keep_n(whole ? kv_load(plane + i) : kv_load_n(plane + i, m), m,
                                      identity));
        }
        out[u] = is_max ? kv_hmax(acc) : kv_hsum(acc) / (float)pixels;
    }
}

static void global_nchw(bool is_max, const float *input, size_t planes, size_t pixels,
                        float *out)
{
    if (is_max)
        global_nchw_kind(input, planes, pixels, out, true);
    else
        global_nchw_kind(input, planes, pixels, out, false);
}

/* Channels [c0, c0 + nv * KV), or [c0, c0 + tail) with tail < KV. */
KB_ALWAYS_INLINE void global_nhwc_block(const float *image, size_t pixels, size_t c, float *out,
                                        int nv, int tail, bool is_max)
{
    kvec acc[4];
    for (int v = 0; v < nv; v++)
        acc[v] = kv_set1(is_max ? -INFINITY : 0.0f);
    for (size_t p = 0; p < pixels; p++) {
        const float *px = image + p * c;
        for (int v = 0; v < nv; v++)
            acc[v] = kb_pool_v(is_max, acc[v], tail > 0 ? kv_load_n(px, tail) : kv_load(px + v * KV));
    }
    const kvec d = kv_set1((float)pixels);
    for (int v = 0; v < nv; v++) {
        const kvec r = is_max ? acc[v] : kv_div(acc[v], d);
        if (tail > 0)
            kv_store_n(out, r, tail);
        else
            kv_store(out + v * KV, r);
    }
}

KB_ALWAYS_INLINE void global_nhwc_kind(const float *image, size_t pixels, size_t c, size_t len,
                                       float *out, bool is_max)
{
    size_t c0 = 0;
    for (; c0 + 4 * KV <= len; c0 += 4 * KV)
        global_nhwc_block(image + c0, pixels, c, out + c0, 4, 0, is_max);
    for (; c0 + KV <= len; c0 += KV)
        global_nhwc_block(image + c0, pixels, c, out + c0, 1, 0, is_max);
    if (c0 < len)
        global_nhwc_block(image + c0, pixels, c, out + c0, 1, (int)(len - c0), is_max);
}

static void global_nhwc(bool is_max, const float *image, size_t pixels, size_t c, size_t len,
                        float *out)
{
    if (is_max)
        global_nhwc_kind(image, pixels, c, len, out, true);
    else
        global_nhwc_kind(image, pixels, c, len, out, false);
}

/* ---- Element-wise ---------------------------------------------------------
 * out may be an input (every vector is loaded before its store). */

/* out[i] = f(i) for i < n in vectors, the last one masked. */
#define KB_SPAN(n, i, m, expr_whole, expr_part, out)                                           \
    do {                                                                                       \
        size_t i = 0;                                                                          \
        for (; i + KV <= (n); i += KV)                                                         \
            kv_store((out) + i, (expr_whole));                                                 \
        if (i < (n)) {                                                                         \
            const int m = (int)((n) - i);                                                      \
            kv_store_n((out) + i, (expr_part), m);                                             \
        }                                                                                      \
    } while (0)

static void relu_span(const float *in, float *out, size_t n)
{
    KB_SPAN(n, i, m, kv_relu(kv_load(in + i)), kv_relu(kv_load_n(in + i, m)), out);
}

static void add_span(const float *a, const float *b, float *out, size_t n, bool relu)
{
    if (relu)
        KB_SPAN(n, i, m, kv_relu(kv_add(kv_load(a + i), kv_load(b + i))),
                kv_relu(kv_add(kv_load_n(a + i, m), kv_load_n(b + i, m))), out);
    else
        KB_SPAN(n, i, m, kv_add(kv_load(a + i), kv_load(b + i)),
                kv_add(kv_load_n(a + i, m), kv_load_n(b + i, m)), out);
}

/* out[i] = x[i] * mul + add (a rounding after each). */
static void affine_span(const float *x, float *out, size_t n, float mul, float add)
{
    const kvec vm = kv_set1(mul), va = kv_set1(add);
    KB_SPAN(n, i, m, kv_add(kv_mul(kv_load(x + i), vm), va),
            kv_add(kv_mul(kv_load_n(x + i, m), vm), va), out);
}

/* `pixels` channel vectors of c, x_stride and out_stride floats apart:
 * out[p][i] = x[p][i] * mul[i] + add[i]. */
static void affine_channels(const float *x, size_t x_stride, float *out, size_t out_stride,
                            size_t pixels, size_t c, const float *mul, const float *add)
{
    for (size_t p = 0; p < pixels; p++) {
        const float *xp = x + p * x_stride;
        KB_SPAN(c, i, m, kv_add(kv_mul(kv_load(xp + i), kv_load(mul + i)), kv_load(add + i)),
                kv_add(kv_mul(kv_load_n(xp + i, m), kv_load_n(mul + i, m)),
                       kv_load_n(add + i, m)),
                out + p * out_stride);
    }
}

/* rows x cols floats from src (rows src_stride apart) to dst (dst_stride
 * apart): an NHWC concat's channel slices. */
static void copy_rows(const float *src, size_t src_stride, float *dst, size_t dst_stride,
                      size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        const float *in = src + r * src_stride;
        KB_SPAN(cols, i, m, kv_load(in + i), kv_load_n(in + i, m), dst + r * dst_stride);
    }
}

/* ---- Fully connected at batch 1 ------------------------------------------
 * y[r] = w[r][0 .. in) . x for r < rows, w row-major: four rows at a time,
 * two vectors of each per step in eight accumulators, so that the weights
 * stream from memory once (x stays in cache) with enough independent sums
 * to hide the FMA latency. OpenBLAS's sgemv read them at 60-70% of the rate
 * this reaches here. */
KB_ALWAYS_INLINE void gemv_rows_kind(const float *w, size_t in, const float *x, float *y,
                                     size_t rows, int nr)
{
    const size_t step = 2 * KV;
    const size_t whole = in / step * step;
    for (size_t r0 = 0; r0 < rows; r0 += (size_t)nr) {
        kvec a[4], b[4];
        for (int r = 0; r < nr; r++)
            a[r] = b[r] = kv_set1(0.0f);
        for (size_t i = 0; i < whole; i += step) {
            const kvec x0 = kv_load(x + i), x1 = kv_load(x + i + KV);
            for (int r = 0; r < nr; r++) {
                const float *row = w + (r0 + (size_t)r) * in + i;
                a[r] = kv_fma(kv_load(row), x0, a[r]);
                b[r] = kv_fma(kv_load(row + KV), x1, b[r]);
            }
        }
        for (size_t i = whole; i < in; i += KV) {
            const int m = in - i < KV ? (int)(in - i) : KV;
            const kvec xi = kv_load_n(x + i, m);
            for (int r = 0; r < nr; r++)
                a[r] = kv_fma(kv_load_n(w + (r0 + (size_t)r) * in + i, m), xi, a[r]);
        }
        for (int r = 0; r < nr; r++)
            y[r0 + (size_t)r] = kv_hsum(kv_add(a[r], b[r]));
    }
}

static void gemv_rows(const float *w, size_t in, const float *x, float *y, size_t rows)
{
    const size_t four = rows / 4 * 4;
    gemv_rows_kind(w, in, x, y, four, 4);
    gemv_rows_kind(w + four * in, in, x, y + four, rows - four, 1);
}

/* ---- exp and pow -------------------------------------------------------- */

/* e^x for x <= 0 (softmax's x - max), NaN kept: Cody-Waite reduction to
 * r in [-ln2/2, ln2/2] and Cephes's degree-7 expf polynomial (below 1 ulp
 * on [-87, 0], measured against exp in double), scaled by 2^n; below -87
 * the result is 0 (e^-87 = 1.6e-38). */
KB_ALWAYS_INLINE kvec kb_exp(kvec x)
{
    const kvec lo = kv_set1(-87.0f);
    const kvec clamped = kv_below(x, -87.0f, lo, x);
    const kvec shifter = kv_set1(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const kvec n =
        kv_add(kv_add(kv_mul(clamped, kv_set1(1.44269504088896341f)), shifter),
               kv_set1(-12582912.0f));
    const kvec r = kv_add(kv_add(clamped, kv_mul(n, kv_set1(-0.693359375f))),
                          kv_mul(n, kv_set1(2.12194440e-4f)));
    kvec p = kv_set1(1.9875691500e-4f);
    p = kv_add(kv_mul(p, r), kv_set1(1.3981999507e-3f));
    p = kv_add(kv_mul(p, r), kv_set1(8.3334519073e-3f));
    p = kv_add(kv_mul(p, r), kv_set1(4.1665795894e-2f));
    p = kv_add(kv_mul(p, r), kv_set1(1.6666665459e-1f));
    p = kv_add(kv_mul(p, r), kv_set1(5.0000001201e-1f));
    p = kv_add(kv_add(kv_mul(kv_mul(p, r), r), r), kv_set1(1.0f));
    return kv_below(x, -87.0f, kv_set1(0.0f), kv_scale2(p, n));
}

/* tanh, NaN kept: Cephes's tanhf, x + x^3 P(x^2) below |x| 0.625, else
 * 1 - 2 e / (1 + e) with e = e^(-2|x|) <= 1 (kb_exp) and x's sign; within
 * 2 ulp of tanh in double over the floats (libm's tanhf, one element at a
 * time, took 5 ns an element: LeNet-5's training forward spent half its
 * time in it). */
KB_ALWAYS_INLINE kvec kb_tanh(kvec x)
{
    const kvec a = kv_abs(x), s = kv_mul(x, x);
    kvec p = kv_set1(-5.70498872745e-3f);
    p = kv_add(kv_mul(p, s), kv_set1(2.06390887954e-2f));
    p = kv_add(kv_mul(p, s), kv_set1(-5.37397155531e-2f));
    p = kv_add(kv_mul(p, s), kv_set1(1.33314422036e-1f));
    p = kv_add(kv_mul(p, s), kv_set1(-3.33332819422e-1f));
    const kvec small = kv_add(kv_mul(kv_mul(p, s), x), x);
    const kvec e = kb_exp(kv_mul(a, kv_set1(-2.0f)));
    const kvec big = kv_add(kv_set1(1.0f),
                            kv_mul(kv_div(kv_add(e, e), kv_add(kv_set1(1.0f), e)), kv_set1(-1.0f)));
    const kvec signed_big = kv_below(x, 0.0f, kv_mul(big, kv_set1(-1.0f)), big);
    return kv_below(a, 0.625f, small, signed_big);
}

/* 1 / (1 + e^-x), NaN kept: with e = e^-|x| <= 1, 1 / (1 + e) for x >= 0
 * and e / (1 + e) below, so that nothing overflows. */
KB_ALWAYS_INLINE kvec kb_sigmoid(kvec x)
{
    const kvec e = kb_exp(kv_mul(kv_abs(x), kv_set1(-1.0f)));
    const kvec r = kv_div(kv_set1(1.0f), kv_add(kv_set1(1.0f), e));
    return kv_below(x, 0.0f, kv_mul(e, r), r);
}

static void tanh_span(const float *in, float *out, size_t n)
{
    KB_SPAN(n, i, m, kb_tanh(kv_load(in + i)), kb_tanh(kv_load_n(in + i, m)), out);
}

static void sigmoid_span(const float *in, float *out, size_t n)
{
    KB_SPAN(n, i, m, kb_sigmoid(kv_load(in + i)), kb_sigmoid(kv_load_n(in + i, m)), out);
}

/* 1 / sqrt(b) for b > 0: the estimate and a Newton step, within a few
 * ulp (the step squares the estimate's relative error: 2^-24 from 2^-12). */
KB_ALWAYS_INLINE kvec kb_rsqrt(kvec b)
{
    const kvec r = kv_rsqrt_estimate(b);
    const kvec minus_half_b_r2 = kv_mul(kv_mul(kv_set1(-0.5f), b), kv_mul(r, r));
    return kv_mul(r, kv_add(kv_set1(1.5f), minus_half_b_r2));
}

/* The powers kb_scale_pow knows, told apart once per call of a kernel
 * rather than once per vector. */
typedef enum { KB_POW_075, KB_POW_05, KB_POW_1, KB_POW_ANY } kb_pow_kind;

static kb_pow_kind kb_pow_kind_of(float beta)
{
    return beta == 0.75f ? KB_POW_075 : beta == 0.5f ? KB_POW_05 : beta == 1.0f ? KB_POW_1 : KB_POW_ANY;
}

/* Calls the always-inline kernel F(args..., kind) with beta's kind as a
 * constant, so that each power gets its own loop (with the kind a run-time
 * value, the NHWC LRN took 0.12 ms on 96 x 55x55 instead of 0.086). */
#define KB_WITH_POW_KIND(beta, F, ...)                                                          \
    do {                                                                                        \
        switch (kb_pow_kind_of(beta)) {                                                         \
        case KB_POW_075: F(__VA_ARGS__, KB_POW_075); break;                                     \
        case KB_POW_05: F(__VA_ARGS__, KB_POW_05); break;                                       \
        case KB_POW_1: F(__VA_ARGS__, KB_POW_1); break;                                         \
        default: F(__VA_ARGS__, KB_POW_ANY); break;                                             \
        }                                                                                       \
    } while (0)

/* x * base^-beta for base > 0 (kind = kb_pow_kind_of(beta)): beta 0.75
 * (AlexNet's and GoogLeNet's LRN) as x r^2 / sqrt(r) with r = base^-1/2
 * (r^-1/2 = base^1/4), 0.5 by the same reciprocal square root, within a
 * few ulp (the tests allow 64): the estimate instructions cost a fraction
 * of a square root or a division, which made LRN compute-bound. 1 by a
 * division, any other beta by powf. */
KB_ALWAYS_INLINE kvec kb_scale_pow(kvec x, kvec base, float beta, kb_pow_kind kind)
{
    if (kind == KB_POW_075) {
        const kvec r = kb_rsqrt(base);
        return kv_mul(kv_mul(x, kv_mul(r, r)), kb_rsqrt(r));
    }
    if (kind == KB_POW_05)
        return kv_mul(x, kb_rsqrt(base));
    if (kind == KB_POW_1)
        return kv_div(x, base);
    float b[KV], v[KV];
    kv_store(b, base);
    kv_store(v, x);
    for (int i = 0; i < KV; i++)
        v[i] *= powf(b[i], -beta);
    return kv_load(v);
}

/* ---- Softmax ---------------------------------------------------------------
 * out = exp(x - max) / sum, the max NaN-aware (a NaN gives NaN everywhere,
 * as in PyTorch). */

/* `count` pixels of c contiguous channels each (NHWC, or 1x1 NCHW). */
static void softmax_vectors(const float *x, float *out, size_t c, size_t count)
{
    for (size_t u = 0; u < count; u++) {
        const float *xp = x + u * c;
        float *op = out + u * c;
        kvec acc = kv_set1(-INFINITY);
        size_t i = 0;
        for (; i + KV <= c; i += KV)
            acc = kv_max(acc, kv_load(xp + i));
        if (i < c)
            acc = kv_max(acc, kv_keep_n(kv_load_n(xp + i, (int)(c - i)), (int)(c - i), -INFINITY));
        const kvec max = kv_set1(kv_hmax(acc));
        kvec sum = kv_set1(0.0f);
        for (i = 0; i + KV <= c; i += KV) {
            const kvec e = kb_exp(kv_add(kv_load(xp + i), kv_mul(max, kv_set1(-1.0f))));
            kv_store(op + i, e);
            sum = kv_add(sum, e);
        }
        if (i < c) {
            const int m = (int)(c - i);
            const kvec e = kv_keep_n(kb_exp(kv_add(kv_load_n(xp + i, m), kv_mul(max, kv_set1(-1.0f)))),
                                     m, 0.0f);
            kv_store_n(op + i, e, m);
            sum = kv_add(sum, e);
        }
        const kvec inv = kv_set1(1.0f / kv_hsum(sum));
        KB_SPAN(c, j, m, kv_mul(kv_load(op + j), inv), kv_mul(kv_load_n(op + j, m), inv), op);
    }
}

/* NCHW: pixels [0, len) (len <= CC__SOFTMAX_PIXELS) of one image whose
 * channel stride is `stride`, each pixel's max and sum in vectors. */
static void softmax_pixels(const float *x, float *out, size_t c, size_t stride, size_t len)
{
    float max[CC__SOFTMAX_PIXELS], sum[CC__SOFTMAX_PIXELS];
    for (size_t p0 = 0; p0 < len; p0 += KV) {
        const int m = len - p0 < KV ? (int)(len - p0) : KV;
        kvec vmax = kv_set1(-INFINITY);
        for (size_t i = 0; i < c; i++)
            vmax = kv_max(vmax, m == KV ? kv_load(x + i * stride + p0) : kv_load_n(x + i * stride + p0, m));
        kv_store(max + p0, vmax);
        kv_store(sum + p0, kv_set1(0.0f));
    }
    for (size_t i = 0; i < c; i++)
        for (size_t p0 = 0; p0 < len; p0 += KV) {
            const int m = len - p0 < KV ? (int)(len - p0) : KV;
            const float *xp = x + i * stride + p0;
            const kvec neg = kv_mul(kv_load(max + p0), kv_set1(-1.0f));
            const kvec e = kb_exp(kv_add(m == KV ? kv_load(xp) : kv_load_n(xp, m), neg));
            if (m == KV)
                kv_store(out + i * stride + p0, e);
            else
                kv_store_n(out + i * stride + p0, e, m);
            kv_store(sum + p0, kv_add(kv_load(sum + p0), e));
        }
    for (size_t p0 = 0; p0 < len; p0 += KV)
        kv_store(sum + p0, kv_div(kv_set1(1.0f), kv_load(sum + p0)));
    for (size_t i = 0; i < c; i++)
        for (size_t p0 = 0; p0 < len; p0 += KV) {
            const int m = len - p0 < KV ? (int)(len - p0) : KV;
            float *op = out + i * stride + p0;
            const kvec inv = kv_load(sum + p0);
            if (m == KV)
                kv_store(op, kv_mul(kv_load(op), inv));
            else
                kv_store_n(op, kv_mul(kv_load_n(op, m), inv), m);
        }
}

/* ---- LRN across channels ---------------------------------------------------
 * The window sums accumulate in ascending channel order from the window's
 * first square, as before vectorising: the sums are bit for bit those of
 * the scalar loops (a zero square for a channel outside the tensor adds
 * nothing); the power is vectorised (kb_scale_pow). Each square is computed
 * once, into a buffer on the stack that the sums read back; they read it
 * at the offsets it was written at (NCHW), or long after it was written
 * (NHWC), never through a store still in flight that the load straddles
 * (it cannot be forwarded, and a stall per load made LRN 5x slower). */

/* Rows of squares in the NCHW ring: windows of up to this many channels. */
#define KB_LRN_RING 8
/* Floats of the NHWC squares buffer: a group of pixels, each its channels'
 * squares between the window's halos of zeros. */
#define KB_LRN_FLOATS 4096

/* Windows of `channels` centred as cc_lrn_params says, clipped to the
 * tensor: the channels before and after the centre. */
static void lrn_window(const cc_lrn_params *p, int channels, int *before, int *after)
{
    *before = p->size / 2 < channels ? p->size / 2 : channels - 1;
    *after = (p->size - 1) / 2 < channels ? (p->size - 1) / 2 : channels - 1;
}

/* The terms of the normalisation, read once into registers: read through
 * the params pointer in the loops, alpha / size was recomputed for every
 * vector (a store to out may alias p's floats), and its int-to-float
 * conversion, merging into a register the loop had just written, chained
 * each vector to the one before (3x the time). */
typedef struct {
    kvec k, scale;
    float beta;
} lrn_terms;

static inline lrn_terms lrn_terms_of(const cc_lrn_params *p)
{
    return (lrn_terms){kv_set1(p->k), kv_set1(p->alpha / (float)p->size), p->beta};
}

/* out = x * (k + scale * sum)^-beta for one vector of m lanes. */
KB_ALWAYS_INLINE void lrn_store(lrn_terms t, kb_pow_kind kind, kvec sum, const float *x,
                                float *out, int m)
{
    const kvec base = kv_add(t.k, kv_mul(t.scale, sum));
    const kvec v = m == KV ? kv_load(x) : kv_load_n(x, m);
    kb_store_upto(out, kb_scale_pow(v, base, t.beta, kind), m);
}

/* NCHW, window wider than the ring: each sum from the input. */
static void lrn_nchw_plain(const cc_lrn_params *p, const float *image, float *out,
                           int channels, size_t pixels, size_t p0, size_t len)
{
    const lrn_terms terms = lrn_terms_of(p);
    const kb_pow_kind kind = kb_pow_kind_of(p->beta);
    int before, after;
    lrn_window(p, channels, &before, &after);
    for (int c = 0; c < channels; c++) {
        const int lo = c - before < 0 ? 0 : c - before;
        const int hi = c + after >= channels ? channels - 1 : c + after;
        for (size_t i = p0; i < p0 + len; i += KV) {
            const int m = p0 + len - i < KV ? (int)(p0 + len - i) : KV;
            kvec sum = kv_set1(0.0f);
            for (int j = lo; j <= hi; j++) {
                const float *q = image + (size_t)j * pixels + i;
                const kvec v = m == KV ? kv_load(q) : kv_load_n(q, m);
                sum = j == lo ? kv_mul(v, v) : kv_add(sum, kv_mul(v, v));
            }
            lrn_store(terms, kind, sum, image + (size_t)c * pixels + i,
                      out + (size_t)c * pixels + i, m);
        }
    }
}

/* One channel's outputs x[0 .. len) -> out from the window's `count` rows
 * of squares (a constant where inlined), two vectors at a time: with the
 * count a run-time value the adds and the power of each vector waited on
 * the vector before (AlexNet's 96 x 55x55: 0.127 -> 0.096 ms). */
KB_ALWAYS_INLINE void lrn_channel(lrn_terms terms, kb_pow_kind kind, const float *const *rows,
                                  int count, const float *x, float *out, size_t len)
{
    size_t i = 0;
    for (; i + 2 * KV <= len; i += 2 * KV) {
        kvec s0 = kv_load(rows[0] + i), s1 = kv_load(rows[0] + i + KV);
        for (int j = 1; j < count; j++) {
            s0 = kv_add(s0, kv_load(rows[j] + i));
            s1 = kv_add(s1, kv_load(rows[j] + i + KV));
        }
        lrn_store(terms, kind, s0, x + i, out + i, KV);
        lrn_store(terms, kind, s1, x + i + KV, out + i + KV, KV);
    }
    for (; i < len; i += KV) {
        kvec sum = kv_load(rows[0] + i);
        for (int j = 1; j < count; j++)
            sum = kv_add(sum, kv_load(rows[j] + i));
        lrn_store(terms, kind, sum, x + i, out + i, len - i < KV ? (int)(len - i) : KV);
    }
}

/* NCHW through a ring of squared rows: row j of the block (channel j's
 * pixels [p0, p0 + len)) in slot j % width, computed when the window
 * first reaches it. */
KB_ALWAYS_INLINE void lrn_nchw_ring(const cc_lrn_params *p, const float *image, float *out,
                                    int channels, size_t pixels, size_t p0, size_t len,
                                    kb_pow_kind kind)
{
    const lrn_terms terms = lrn_terms_of(p);
    float ring[KB_LRN_RING][CC__LRN_PIXELS];
    int before, after;
    lrn_window(p, channels, &before, &after);
    const int width = before + after + 1;
    int next = 0;
    for (int c = 0; c < channels; c++) {
        const int lo = c - before < 0 ? 0 : c - before;
        const int hi = c + after >= channels ? channels - 1 : c + after;
        for (; next <= hi; next++) {
            const float *row = image + (size_t)next * pixels + p0;
            float *slot = ring[next % width];
            for (size_t i = 0; i < len; i += KV) {
                const kvec v = i + KV <= len ? kv_load(row + i) : kv_load_n(row + i, (int)(len - i));
                kv_store(slot + i, kv_mul(v, v));
            }
        }
        const float *rows[KB_LRN_RING];
        for (int j = lo; j <= hi; j++)
            rows[j - lo] = ring[j % width];
        const int count = hi - lo + 1;
        const size_t at = (size_t)c * pixels + p0;
        if (count == 5)
            lrn_channel(terms, kind, rows, 5, image + at, out + at, len);
        else if (count == 3)
            lrn_channel(terms, kind, rows, 3, image + at, out + at, len);
        else
            lrn_channel(terms, kind, rows, count, image + at, out + at, len);
    }
}

/* NCHW: pixels [p0, p0 + len) of every channel of one image [channels][pixels]. */
static void lrn_nchw_block(const cc_lrn_params *p, const float *image, float *out, int channels,
                           size_t pixels, size_t p0, size_t len)
{
    int before, after;
    lrn_window(p, channels, &before, &after);
    if (before + after + 1 > KB_LRN_RING || len > CC__LRN_PIXELS) {
        lrn_nchw_plain(p, image, out, channels, pixels, p0, len);
        return;
    }
    KB_WITH_POW_KIND(p->beta, lrn_nchw_ring, p, image, out, channels, pixels, p0, len);
}

/* NHWC with a pixel too wide for the buffer: each pixel's sums
 * accumulated in out (ascending channels, clipped), then normalised in
 * place. */
static void lrn_nhwc_wide(const cc_lrn_params *p, const float *x, float *out, int channels,
                          size_t count, int before, int after)
{
    const lrn_terms terms = lrn_terms_of(p);
    const kb_pow_kind kind = kb_pow_kind_of(p->beta);
    for (size_t u = 0; u < count; u++) {
        const float *xp = x + u * (size_t)channels;
        float *op = out + u * (size_t)channels;
        for (int i = 0; i < channels; i++)
            op[i] = 0.0f;
        for (int d = -before; d <= after; d++) {
            const int begin = d < 0 ? -d : 0, end = d > 0 ? channels - d : channels;
            for (int i = begin; i < end; i++)
                op[i] += xp[i + d] * xp[i + d];
        }
        for (int i = 0; i < channels; i += KV) {
            const int m = channels - i < KV ? channels - i : KV;
            lrn_store(terms, kind, m == KV ? kv_load(op + i) : kv_load_n(op + i, m), xp + i, op + i, m);
        }
    }
}

/* NHWC in groups of pixels: first every pixel's squares, each row of the
 * buffer [before zeros][channels squares][after zeros], then every
 * pixel's sums (whole vectors, up to KV floats past a row's zeros: the
 * next row's, or the buffer's slack, never stored). */
KB_ALWAYS_INLINE void lrn_nhwc_groups(const cc_lrn_params *p, const float *x, float *out,
                                      int channels, size_t count, int before, int after,
                                      kb_pow_kind kind)
{
    const lrn_terms terms = lrn_terms_of(p);
    float buf[KB_LRN_FLOATS + 2 * KB_SLACK];
    const size_t row = (size_t)(before + channels + after + KV);
    const size_t group = KB_LRN_FLOATS / row, cs = (size_t)channels;
    for (size_t u0 = 0; u0 < count; u0 += group) {
        const size_t n = count - u0 < group ? count - u0 : group;
        for (size_t q = 0; q < n; q++) {
            const float *xp = x + (u0 + q) * cs;
            float *sq = buf + q * row;
            kb_fill(sq, 0.0f, before);
            for (int i = 0; i < channels; i += KV) {
                const int m = channels - i < KV ? channels - i : KV;
                const kvec v = m == KV ? kv_load(xp + i) : kv_load_n(xp + i, m);
                kb_store_upto(sq + before + i, kv_mul(v, v), m);
            }
            kb_fill(sq + before + channels, 0.0f, after + KV);
        }
        for (size_t q = 0; q < n; q++) {
            const float *sq = buf + q * row;
            const size_t at = (u0 + q) * cs;
            for (int i = 0; i < channels; i += KV) {
                kvec sum = kv_load(sq + i);
                for (int d = 1; d <= before + after; d++)
                    sum = kv_add(sum, kv_load(sq + i + d));
                lrn_store(terms, kind, sum, x + at + (size_t)i, out + at + (size_t)i,
                          channels - i < KV ? channels - i : KV);
            }
        }
    }
}

/* NHWC: `count` pixels' channel vectors. */
static void lrn_nhwc(const cc_lrn_params *p, const float *x, float *out, int channels,
                     size_t count)
{
    int before, after;
    lrn_window(p, channels, &before, &after);
    if ((size_t)(before + channels + after + KV) > KB_LRN_FLOATS) {
        lrn_nhwc_wide(p, x, out, channels, count, before, after);
        return;
    }
    KB_WITH_POW_KIND(p->beta, lrn_nhwc_groups, p, x, out, channels, count, before, after);
}

#include "kernels_gemm_body.h"

const cc__layer_kernels KB_KERNELS = {
    .pool_nchw_rows = pool_nchw_rows,
    .pool_nhwc_row = pool_nhwc_row,
    .global_nchw = global_nchw,
    .global_nhwc = global_nhwc,
    .relu = relu_span,
    .tanh = tanh_span,
    .sigmoid = sigmoid_span,
    .add = add_span,
    .affine = affine_span,
    .affine_channels = affine_channels,
    .copy_rows = copy_rows,
    .gemv = gemv_rows,
    .gemm = gemm_small,
    .gemm_last_rows_first = gemm_last_rows_first,
    .gemm_nt_sum = gemm_nt_sum,
    .softmax_vectors = softmax_vectors,
    .softmax_pixels = softmax_pixels,
    .lrn_nchw_block = lrn_nchw_block,
    .lrn_nhwc = lrn_nhwc,
};
