/* The direct convolution's row kernels, written once over a small vector
 * vocabulary and instantiated per ISA: a file includes this after defining
 *
 *   dvec, DV                 the vector type and its lanes
 *   dv_zero() dv_bcast(x)    all lanes 0 / x
 *   dv_load(p) dv_store(p,v) DV floats, unaligned
 *   dv_load_n(p,n)           p[0..n) into lanes 0..n-1, other lanes 0; reads
 *                            nothing else (0 <= n <= DV)
 *   dv_store_n(p,v,n)        lanes 0..n-1 to p[0..n); writes nothing else
 *   dv_load_range(q,lo,hi)   lanes l in [lo, hi) = q[l - lo], others 0; reads
 *                            only q[0..hi-lo) (0 <= lo < hi <= DV)
 *   dv_gather(p,s)           lanes l = p[l*s]
 *   dv_gather_range(q,s,lo,hi) lanes l in [lo, hi) = q[(l - lo)*s], others 0;
 *                            reads only those
 *   dv_transpose(src,ss,sr,dst,ds,dr)  dst[j*ds + i] = src[i*ss + j] for
 *                            j < dr, i < DV; rows i >= sr read as 0 (reads
 *                            only rows i < sr, DV floats each)
 *   dv_fma(a,b,c) dv_add(a,b) dv_relu(v)   a*b+c, a+b, max(0, v) keeping NaN
 *   dv_relu6(v)              min(max(0, v), 6) keeping NaN
 *   DB_OCVEC_P               pixels of the ocvec tile
 *   DB_DWC_P                 pixels of the dwc tile
 *   DB_ROWS_M, DB_ROWS_W     channels and vectors of the rows tile
 *   DB_ROWS_DW_W             vectors of the depthwise rows tile (1 channel)
 *   DB_ISA                   the ISA family (cc__isa)
 *   DB_OCVEC_ROW DB_DWC_ROW DB_ROWS_ROW DB_POINTWISE_UNIT DB_DWC_NCHW_UNIT
 *   DB_TRANSPOSE             the entry points' names
 *
 * The kinds, their packed layouts and the entry points' contracts are in
 * direct_kernels.h. Tiles are always-inline functions whose size arguments
 * are constants at every call, so that their loops unroll into registers. */
#include "direct_kernels.h"
#include "epilogue.h"

#define DB_INLINE static inline __attribute__((always_inline))

static inline int db_min(int a, int b) { return a < b ? a : b; }

/* act(v) stored to out[0..count). Sigmoid and tanh are applied to the
 * just-stored, still cached values. */
DB_INLINE void db_store_act(float *out, dvec v, int count, cc_act act)
{
    if (act == CC_ACT_RELU)
        v = dv_relu(v);
    else if (act == CC_ACT_RELU6)
        v = dv_relu6(v);
    if (count == DV)
        dv_store(out, v);
    else
        dv_store_n(out, v, count);
    if (cc__act_is_curve(act))
        cc__activate_curve(out, (size_t)count, act, DB_ISA);
}

/* p[0..count), count <= DV, in one vector (masked when partial). */
DB_INLINE dvec db_load_count(const float *p, int count)
{
    return count == DV ? dv_load(p) : dv_load_n(p, count);
}

/* act(v + bias) for `count` consecutive channels of one output pixel: one
 * vector store when channels are contiguous (out_c == 1), else scattered. */
DB_INLINE void db_store_channels(const cc__direct_job *j, float *out, const float *bias, dvec v,
                                 int count)
{
    const cc_act act = j->g->act;
    if (j->out_c == 1) {
        if (bias != NULL)
            v = dv_add(v, db_load_count(bias, count));
        db_store_act(out, v, count, act);
        return;
    }
    const cc_act inline_act = cc__act_is_curve(act) ? CC_ACT_NONE : act;
    float lanes[DV];
    dv_store(lanes, v);
    for (int i = 0; i < count; i++)
        lanes[i] = cc__activate(lanes[i] + (bias != NULL ? bias[i] : 0.0f), inline_act);
    if (cc__act_is_curve(act))
        cc__activate_curve(lanes, (size_t)count, act, DB_ISA);
    for (int i = 0; i < count; i++)
        out[i * j->out_c] = lanes[i];
}

/* NHWC (out_c == 1): the tile's `pixels` x `nb` sums (count0 and count1
 * channels of its vectors) stored as act(sum + bias) (not sigmoid or tanh),
 * the bias vectors loaded once: through db_store_channels, each of the 24
 * stores of a 12-pixel tile tested the layout and the bias and loaded the
 * bias again, a third of the time of a 3-channel first layer (27
 * multiply-adds per sum). (An instance per activation ran no faster and
 * took the sanitizer builds of the direct kernels 30% longer.) */
DB_INLINE void db_store_tile_nhwc(const cc__direct_job *j, float *out, const float *bias,
                                  dvec acc[][2], int pixels, int nb, int count0, int count1,
                                  cc_act act)
{
    const dvec b0 = bias != NULL ? db_load_count(bias, count0) : dv_zero();
    const dvec b1 = bias != NULL && nb == 2 ? db_load_count(bias + DV, count1) : dv_zero();
#pragma GCC unroll 16
    for (int p = 0; p < pixels; p++) {
#pragma GCC unroll 2
        for (int k = 0; k < nb; k++) {
            dvec v = acc[p][k];
            if (bias != NULL)
                v = dv_add(v, k == 0 ? b0 : b1);
            db_store_act(out + p * j->out_x + k * DV, v, k == 0 ? count0 : count1, act);
        }
    }
}

/* NCHW (out_x == 1): `pixels` consecutive output pixels, channel vector
 * k of each (acc[p][k]), transposed through the stack so that each of the
 * `count` channels' pixels go out as one vector with bias and activation
 * (one scalar store per value otherwise: first layers such as MobileNet's
 * 3-channel stride-2 conv took twice as long). */
_Static_assert(DB_OCVEC_P <= DV, "a tile's pixels fit in one vector");

DB_INLINE void db_store_planar(const cc__direct_job *j, float *out, const float *bias,
                               dvec acc[][2], int k, int pixels, int count)
{
    float tile[DV * DV], planes[DV * DV];
    for (int p = 0; p < pixels; p++)
        dv_store(tile + p * DV, acc[p][k]);
    dv_transpose(tile, DV, pixels, planes, DV, count);
    for (int c = 0; c < count; c++) {
        dvec v = dv_load(planes + c * DV);
        if (bias != NULL)
            v = dv_add(v, dv_bcast(bias[c]));
        db_store_act(out + c * j->out_c, v, pixels, j->g->act);
    }
}

/* ---- ocvec: vectors over output channels ---------------------------------- */

/* How a tile walks the taps (kx, ci) of one ky in [kx_lo, kx_hi): an outer
 * loop over kx and an inner one over ci, fused into one inner loop when the
 * input holds them in that order contiguously, as the packed weights do
 * (NHWC, one group, dilation 1): few-channel layers then keep a long inner
 * loop. NCHW layers of fewer input channels per group than kernel columns
 * (first layers) swap the two: kx inner, along the input's row. in_inner,
 * w_inner: floats from one inner step to the next; in_outer, w_outer: from
 * one outer step to the next. Zen 5, ResNet-50's 3 -> 64 7x7/2 NCHW,
 * alternating runs, ms: ci inner (3 steps) 1.45-1.53, kx inner (7 steps)
 * 1.32-1.33 at 1 thread, 0.79 -> 0.70-0.74 at 2; AlexNet's 11x11/4
 * within the noise (1.04-1.11 either way). */
typedef struct {
    int inner, outer;
    ptrdiff_t in_inner, in_outer;
    size_t w_inner, w_outer;
} db_taps;

/* Floats from a block's packed weights to those of tap (ky, kx): the
 * weights of a block run [ky][kx][ci][DV]. */
DB_INLINE size_t db_tap_weights(const cc__conv_geom *g, int ky, int kx)
{
    return ((size_t)ky * g->kw + kx) * (size_t)g->cg * DV;
}

DB_INLINE db_taps db_taps_of(const cc__direct_job *j, int kx_lo, int kx_hi)
{
    const cc__conv_geom *g = j->g;
    const int columns = kx_hi - kx_lo;
    const ptrdiff_t in_kx = (ptrdiff_t)g->dw * j->in_x;
    const size_t w_kx = (size_t)g->cg * DV;
    if (j->in_c == 1 && in_kx == g->cg) {
        const db_taps fused = {columns * g->cg, 1, 1, in_kx, DV, w_kx};
        return fused;
    }
    if (j->in_x == 1 && columns > g->cg) {
        const db_taps kx_inner = {columns, g->cg, in_kx, j->in_c, w_kx, DV};
        return kx_inner;
    }
    const db_taps ci_inner = {g->cg, columns, j->in_c, in_kx, DV, w_kx};
    return ci_inner;
}

/* A tile's finished sums acc[p][k] (p < pixels, k < nb) to its outputs,
 * with bias and activation. */
DB_INLINE void db_ocvec_store(const cc__direct_job *j, float *out, const float *bias,
                              dvec acc[][2], int pixels, int nb, int count0, int count1)
{
    const cc__conv_geom *g = j->g;
    if (j->out_c == 1 && !cc__act_is_curve(g->act)) {
        db_store_tile_nhwc(j, out, bias, acc, pixels, nb, count0, count1, g->act);
        return;
    }
    if (j->out_c != 1 && j->out_x == 1 && pixels > 1) {
        db_store_planar(j, out, bias, acc, 0, pixels, count0);
        if (nb == 2)
            db_store_planar(j, out + DV * j->out_c, bias != NULL ? bias + DV : NULL, acc, 1,
                            pixels, count1);
        return;
    }
    for (int p = 0; p < pixels; p++) {
        float *o = out + p * j->out_x;
        db_store_channels(j, o, bias, acc[p][0], count0);
        if (nb == 2)
            db_store_channels(j, o + DV * j->out_c, bias != NULL ? bias + DV : NULL, acc[p][1],
                              count1);
    }
}

/* `pixels` consecutive output pixels (stride sw apart in the input) x `nb`
 * channel vectors, over taps ky in [ky_lo, ky_hi), kx in [kx_lo, kx_hi), all
 * inside the input. in: image n at the group's first channel; w: block ob;
 * w_next: floats from block ob to ob + 1; iy0, ix0: input coordinates of
 * tap (0, 0) for the first pixel; out: the first pixel's first channel. */
DB_INLINE void db_ocvec_tile(const cc__direct_job *j, const float *in, const float *w,
                             ptrdiff_t w_next, int ky_lo, int ky_hi, int kx_lo, int kx_hi,
                             ptrdiff_t iy0, ptrdiff_t ix0, int pixels, int nb, float *out,
                             const float *bias, int count0, int count1, const float *ahead)
{
    const cc__conv_geom *g = j->g;
    const ptrdiff_t step = (ptrdiff_t)g->sw * j->in_x;
    const db_taps taps = db_taps_of(j, kx_lo, kx_hi);
    dvec acc[DB_OCVEC_P][2];
#pragma GCC unroll 16
    for (int p = 0; p < pixels; p++) {
        acc[p][0] = dv_zero();
        acc[p][1] = dv_zero();
    }
    /* NHWC: the next tile's outputs, asked for (to write) while this one
     * computes: inside a network a layer's output buffer comes from memory,
     * and the stores of a tile, every line a miss, stalled the kernel (VGG's
     * conv1_1 in a network, 1 thread on a Zen 5: 2.6-2.75 -> 1.14-1.16 ms;
     * its runs on warm buffers 1.04-1.10 either way). */
    if (j->out_c == 1)
        for (int p = 0; p < pixels; p++) {
            __builtin_prefetch(out + (pixels + p) * j->out_x, 1, 3);
            if (nb == 2)
                __builtin_prefetch(out + (pixels + p) * j->out_x + DV, 1, 3);
        }
    for (int ky = ky_lo; ky < ky_hi; ky++) {
        const float *row = in + (iy0 + (ptrdiff_t)ky * g->dh) * j->in_y;
        const float *ip0 = row + (ix0 + (ptrdiff_t)kx_lo * g->dw) * j->in_x;
        const size_t w_at = db_tap_weights(g, ky, kx_lo);
        const float *wp0 = w + w_at;
        for (int u = 0; u < taps.outer; u++) {
            const float *ip = ip0 + u * taps.in_outer;
            const float *wp = wp0 + u * taps.w_outer;
            const float *ap = ahead != NULL ? ahead + w_at + u * taps.w_outer : NULL;
            for (int t = 0; t < taps.inner; t++) {
                const float *cp = ip + t * taps.in_inner;
                if (ap != NULL)
                    __builtin_prefetch(ap + (size_t)t * taps.w_inner);
                const dvec w0 = dv_load(wp + (size_t)t * taps.w_inner);
                const dvec w1 = nb == 2 ? dv_load(wp + (size_t)t * taps.w_inner + w_next) : w0;
#pragma GCC unroll 16
                for (int p = 0; p < pixels; p++) {
                    const dvec x = dv_bcast(cp[p * step]);
                    acc[p][0] = dv_fma(x, w0, acc[p][0]);
                    if (nb == 2)
                        acc[p][1] = dv_fma(x, w1, acc[p][1]);
                }
            }
        }
    }
    db_ocvec_store(j, out, bias, acc, pixels, nb, count0, count1);
}

/* The edge pixel's sums run as DB_PIXEL_SPLIT partial sums over the taps,
 * added at the end: with one sum a vector, each multiply-add waited on the
 * previous one's latency, and AlexNet's 5x5 conv2 (27x27, 2 edge pixels a
 * side) spent a third of its time on its edge pixels (perf, Zen 5). */
#define DB_PIXEL_SPLIT 4
_Static_assert(DB_PIXEL_SPLIT == 4, "db_ocvec_pixel adds four partial sums");

/* sum[k] += input tap t x its weights of vector k < nb. */
DB_INLINE void db_ocvec_step(const float *ip, const float *wp, int t, const db_taps *taps,
                             ptrdiff_t w_next, int nb, dvec sum[2])
{
    const dvec x = dv_bcast(ip[t * taps->in_inner]);
    sum[0] = dv_fma(x, dv_load(wp + (size_t)t * taps->w_inner), sum[0]);
    if (nb == 2)
        sum[1] = dv_fma(x, dv_load(wp + (size_t)t * taps->w_inner + w_next), sum[1]);
}

/* The edge tile: output pixel ox alone, its kx restricted to the input. */
DB_INLINE void db_ocvec_pixel(const cc__direct_job *j, const float *in, const float *w,
                              ptrdiff_t w_next, int ky_lo, int ky_hi, ptrdiff_t iy0, int ox,
                              int nb, float *out, const float *bias, int count0, int count1)
{
    const cc__conv_geom *g = j->g;
    int kx_lo, kx_hi;
    cc__direct_taps(ox, g->sw, g->pl, g->dw, g->kw, g->w, &kx_lo, &kx_hi);
    const db_taps taps = db_taps_of(j, kx_lo, kx_hi);
    const ptrdiff_t ix0 = (ptrdiff_t)ox * g->sw - g->pl;
    dvec part[DB_PIXEL_SPLIT][2];
#pragma GCC unroll 4
    for (int s = 0; s < DB_PIXEL_SPLIT; s++) {
        part[s][0] = dv_zero();
        part[s][1] = dv_zero();
    }
    for (int ky = ky_lo; ky < ky_hi; ky++) {
        const float *row = in + (iy0 + (ptrdiff_t)ky * g->dh) * j->in_y;
        const float *ip0 = row + (ix0 + (ptrdiff_t)kx_lo * g->dw) * j->in_x;
        const float *wp0 = w + db_tap_weights(g, ky, kx_lo);
        for (int u = 0; u < taps.outer; u++) {
            const float *ip = ip0 + u * taps.in_outer;
            const float *wp = wp0 + u * taps.w_outer;
            int t = 0;
            for (; t + DB_PIXEL_SPLIT <= taps.inner; t += DB_PIXEL_SPLIT)
#pragma GCC unroll 4
                for (int s = 0; s < DB_PIXEL_SPLIT; s++)
                    db_ocvec_step(ip, wp, t + s, &taps, w_next, nb, part[s]);
            for (; t < taps.inner; t++)
                db_ocvec_step(ip, wp, t, &taps, w_next, nb, part[0]);
        }
    }
    dvec acc[1][2];
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++)
        acc[0][k] = dv_add(dv_add(part[0][k], part[1][k]), dv_add(part[2][k], part[3][k]));
    db_ocvec_store(j, out + (ptrdiff_t)ox * j->out_x, bias, acc, 1, nb, count0, count1);
}

/* The ocvec kind's short tile: 2/3 of DB_OCVEC_P pixels. */
#define DB_OCVEC_S (DB_OCVEC_P * 2 / 3)

/* The full tiles over an interior of `width` pixels: *large of DB_OCVEC_P
 * pixels, then *small of DB_OCVEC_S (cc__direct_ocvec_tiles). */
static inline void db_ocvec_tiles(int width, int *large, int *small)
{
    cc__direct_ocvec_tiles(width, DB_OCVEC_P, large, small);
}

/* The block whose weights full tile k of a row prefetches: the next pair's
 * first block during the first tile, its second during the second, so that
 * the next pair's weights come from memory spread over two tiles' work
 * (Winograd's products on 14x14 images use each weight for 16 tiles, in
 * two tiles of 8: loaded in the first alone, the weights made it wait on
 * memory). `next` is the next pair's first block, or NULL; `nexts` its
 * blocks (1 or 2). */
static inline const float *db_ocvec_ahead(const float *next, int nexts, ptrdiff_t w_next, int k)
{
    return next != NULL && k < nexts ? next + k * w_next : NULL;
}

/* One output row: border pixels one by one, the interior in full tiles
 * (db_ocvec_tiles; a tile that would pass the interior's end ends there
 * instead: its first pixels are computed twice, to the same values), a
 * narrower interior one by one. */
DB_INLINE void db_ocvec_span(const cc__direct_job *j, const float *in, const float *w,
                             ptrdiff_t w_next, int ky_lo, int ky_hi, ptrdiff_t iy0, int nb,
                             float *out, const float *bias, int count0, int count1,
                             const float *next, int nexts)
{
    const cc__conv_geom *g = j->g;
    int x_lo, x_hi;
    cc__direct_interior(g, &x_lo, &x_hi);
    int ox = 0;
    for (; ox < x_lo; ox++)
        db_ocvec_pixel(j, in, w, w_next, ky_lo, ky_hi, iy0, ox, nb, out, bias, count0, count1);
    int large, small;
    db_ocvec_tiles(x_hi - x_lo, &large, &small);
    for (int t = 0; t < large; t++, ox += DB_OCVEC_P) {
        const int x = db_min(ox, x_hi - DB_OCVEC_P);
        db_ocvec_tile(j, in, w, w_next, ky_lo, ky_hi, 0, g->kw, iy0,
                      (ptrdiff_t)x * g->sw - g->pl, DB_OCVEC_P, nb,
                      out + (ptrdiff_t)x * j->out_x, bias, count0, count1,
                      db_ocvec_ahead(next, nexts, w_next, t));
    }
    for (int t = 0; t < small; t++, ox += DB_OCVEC_S) {
        const int x = db_min(ox, x_hi - DB_OCVEC_S);
        db_ocvec_tile(j, in, w, w_next, ky_lo, ky_hi, 0, g->kw, iy0,
                      (ptrdiff_t)x * g->sw - g->pl, DB_OCVEC_S, nb,
                      out + (ptrdiff_t)x * j->out_x, bias, count0, count1,
                      db_ocvec_ahead(next, nexts, w_next, large + t));
    }
    if (large + small > 0)
        ox = x_hi;
    for (; ox < g->ow; ox++)
        db_ocvec_pixel(j, in, w, w_next, ky_lo, ky_hi, iy0, ox, nb, out, bias, count0, count1);
}

void DB_OCVEC_ROW(const cc__direct_job *j, int n, int group, int ob, int oy)
{
    const cc__conv_geom *g = j->g;
    const bool two = ob + 1 < j->blocks;
    const int count0 = db_min(DV, g->ocg - ob * DV);
    const int count1 = two ? db_min(DV, g->ocg - (ob + 1) * DV) : 0;
    const size_t oc0 = (size_t)group * g->ocg + (size_t)ob * DV;
    const ptrdiff_t w_next = (ptrdiff_t)g->kh * g->kw * g->cg * DV;
    const float *in = j->input + n * j->in_n + (ptrdiff_t)group * g->cg * j->in_c;
    const float *w = j->packed + ((size_t)group * j->blocks + ob) * (size_t)w_next;
    float *out = j->output + n * j->out_n + (ptrdiff_t)oc0 * j->out_c + oy * j->out_y;
    const float *bias = j->bias != NULL ? j->bias + oc0 : NULL;
    int ky_lo, ky_hi;
    cc__direct_taps(oy, g->sh, g->pt, g->dh, g->kh, g->h, &ky_lo, &ky_hi);
    const ptrdiff_t iy0 = (ptrdiff_t)oy * g->sh - g->pt;
    int nexts = ob + 2 < j->blocks ? db_min(2, j->blocks - (ob + 2)) : 0;
    const float *next = nexts > 0 ? w + 2 * w_next : NULL;
    if (nexts == 0 && j->packed_after != NULL)
        next = j->packed_after, nexts = db_min(2, j->blocks);
    if (two)
        db_ocvec_span(j, in, w, w_next, ky_lo, ky_hi, iy0, 2, out, bias, count0, count1, next,
                      nexts);
    else
        db_ocvec_span(j, in, w, w_next, ky_lo, ky_hi, iy0, 1, out, bias, count0, count1, next,
                      nexts);
}

/* ---- dwc: NHWC depthwise, vectors over channels --------------------------- */

/* `pixels` consecutive output pixels x the `count` channels of one block
 * (loads masked unless full), taps as in db_ocvec_tile. in: image n at the
 * block's first channel; w: the block. */
DB_INLINE void db_dwc_tile(const cc__direct_job *j, const float *in, const float *w, int ky_lo,
                           int ky_hi, int kx_lo, int kx_hi, ptrdiff_t iy0, ptrdiff_t ix0,
                           int pixels, bool full, int count, float *out, const float *bias)
{
    const cc__conv_geom *g = j->g;
    const ptrdiff_t step = (ptrdiff_t)g->sw * j->in_x;
    dvec acc[DB_DWC_P];
#pragma GCC unroll 16
    for (int p = 0; p < pixels; p++)
        acc[p] = dv_zero();
    for (int ky = ky_lo; ky < ky_hi; ky++) {
        const float *row = in + (iy0 + (ptrdiff_t)ky * g->dh) * j->in_y;
        for (int kx = kx_lo; kx < kx_hi; kx++) {
            const float *ip = row + (ix0 + (ptrdiff_t)kx * g->dw) * j->in_x;
            const dvec wv = dv_load(w + ((size_t)ky * g->kw + kx) * DV);
#pragma GCC unroll 16
            for (int p = 0; p < pixels; p++) {
                const dvec x = full ? dv_load(ip + p * step) : dv_load_n(ip + p * step, count);
                acc[p] = dv_fma(x, wv, acc[p]);
            }
        }
    }
    for (int p = 0; p < pixels; p++)
        db_store_channels(j, out + p * j->out_x, bias, acc[p], count);
}

/* `pixels` output pixels of db_dwc3_interior, `at` floats from the rows'
 * starts, taps kx in [kx_lo, kx_hi): the pixels' sums interleaved, each
 * pixel's taps being a chain of dependent FMAs. */
#define DB_DWC3_GROUP 4
DB_INLINE void db_dwc3_pixels(const float *const rows[3], ptrdiff_t at, const dvec taps[9],
                              dvec b, int ky_lo, int ky_hi, int kx_lo, int kx_hi, ptrdiff_t step,
                              ptrdiff_t in_x, float *o, ptrdiff_t out_x, cc_act act, int pixels)
{
    dvec acc[DB_DWC3_GROUP];
#pragma GCC unroll 4
    for (int p = 0; p < pixels; p++)
        acc[p] = b;
#pragma GCC unroll 3
    for (int ky = ky_lo; ky < ky_hi; ky++)
#pragma GCC unroll 3
        for (int kx = kx_lo; kx < kx_hi; kx++)
#pragma GCC unroll 4
            for (int p = 0; p < pixels; p++)
                acc[p] = dv_fma(dv_load(rows[ky] + (at + p * step + kx * in_x)),
                                taps[ky * 3 + kx], acc[p]);
#pragma GCC unroll 4
    for (int p = 0; p < pixels; p++) {
        dvec v = acc[p];
        if (act == CC_ACT_RELU)
            v = dv_relu(v);
        else if (act == CC_ACT_RELU6)
            v = dv_relu6(v);
        dv_store(o + p * out_x, v);
    }
}

/* The pixels [x_lo, x_hi) of one output row of the common 3x3 case
 * (dilation 1, stride 1 or 2, a full channel block, channels contiguous in
 * the output, no curve), input rows [ky_lo, ky_hi) inside, stride `s`
 * (all four constant where it is inlined): the block's taps held in
 * registers, each pixel the bias plus its taps' products straight from
 * the input, then `act`. Pixel x_lo - 1 too when `left` (its taps kx >= 1
 * inside), and pixel x_hi when `right` (kx < 2 inside). It replaced tiles
 * of 8 pixels that loaded each input row's pixels once and shared them
 * among the taps: those reloaded the taps, took the edge tiles (half of a
 * 28-wide row's) with a run-time mask per load, and computed a row's last
 * tile over pixels already done. Zen 5, one thread, NHWC with ReLU6, this
 * one against those: 192 x 28x28 0.0445 -> 0.0371 ms, 144 x 56x56 0.112 ->
 * 0.104, 96 x 112x112 stride 2 0.105 -> 0.093, 960 x 7x7 0.0203 -> 0.0153;
 * on AVX2 0.068 -> 0.051, 0.158 -> 0.127, 0.165 -> 0.133, 0.033 -> 0.025. */
DB_INLINE void db_dwc3_interior(const cc__direct_job *j, const float *in, const float *w,
                                ptrdiff_t iy0, int x_lo, int x_hi, bool left, bool right,
                                float *out, const float *bias, int ky_lo, int ky_hi, int s,
                                cc_act act)
{
    const ptrdiff_t in_x = j->in_x, out_x = j->out_x, step = s * in_x;
    dvec taps[9];
    const float *rows[3];
#pragma GCC unroll 3
    for (int ky = ky_lo; ky < ky_hi; ky++) {
        rows[ky] = in + (iy0 + ky) * j->in_y + ((ptrdiff_t)x_lo * s - j->g->pl) * in_x;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++)
            taps[ky * 3 + kx] = dv_load(w + (size_t)(ky * 3 + kx) * DV);
    }
    const dvec b = bias != NULL ? dv_load(bias) : dv_zero();
    float *o = out + (ptrdiff_t)x_lo * out_x;
    if (left)
        db_dwc3_pixels(rows, -step, taps, b, ky_lo, ky_hi, 1, 3, step, in_x, o - out_x, out_x,
                       act, 1);
    int ox = x_lo;
    for (; ox + DB_DWC3_GROUP <= x_hi; ox += DB_DWC3_GROUP, o += DB_DWC3_GROUP * out_x)
        db_dwc3_pixels(rows, (ptrdiff_t)(ox - x_lo) * step, taps, b, ky_lo, ky_hi, 0, 3, step,
                       in_x, o, out_x, act, DB_DWC3_GROUP);
    for (; ox < x_hi; ox++, o += out_x)
        db_dwc3_pixels(rows, (ptrdiff_t)(ox - x_lo) * step, taps, b, ky_lo, ky_hi, 0, 3, step,
                       in_x, o, out_x, act, 1);
    if (right)
        db_dwc3_pixels(rows, (ptrdiff_t)(x_hi - x_lo) * step, taps, b, ky_lo, ky_hi, 0, 2, step,
                       in_x, o, out_x, act, 1);
}

/* db_dwc3_interior with its rows and stride constant, for one activation. */
DB_INLINE void db_dwc3_interior_act(const cc__direct_job *j, const float *in, const float *w,
                                    ptrdiff_t iy0, int x_lo, int x_hi, bool left, bool right,
                                    float *out, const float *bias, int ky_lo, int ky_hi,
                                    cc_act act)
{
    const bool s1 = j->g->sw == 1;
    if (ky_lo == 0 && ky_hi == 3 && s1)
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 0, 3, 1, act);
    else if (ky_lo == 0 && ky_hi == 3)
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 0, 3, 2, act);
    else if (ky_lo == 1 && s1)
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 1, 3, 1, act);
    else if (ky_lo == 1)
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 1, 3, 2, act);
    else if (s1)
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 0, 2, 1, act);
    else
        db_dwc3_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, 0, 2, 2, act);
}

/* One instance per activation, not inlined: its registers are its own.
 * Rows [ky_lo, ky_hi) are [0, 3), [1, 3) or [0, 2). */
static __attribute__((noinline)) void
db_dwc3_row_interior(const cc__direct_job *j, const float *in, const float *w, ptrdiff_t iy0,
                     int x_lo, int x_hi, bool left, bool right, float *out, const float *bias,
                     int ky_lo, int ky_hi)
{
    switch (j->g->act) {
    case CC_ACT_RELU:
        db_dwc3_interior_act(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, ky_lo, ky_hi,
                             CC_ACT_RELU);
        break;
    case CC_ACT_RELU6:
        db_dwc3_interior_act(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, ky_lo, ky_hi,
                             CC_ACT_RELU6);
        break;
    default:
        db_dwc3_interior_act(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, ky_lo, ky_hi,
                             CC_ACT_NONE);
        break;
    }
}

/* Whether a row goes through db_dwc3_span: the common 3x3 case, its input
 * rows [ky_lo, ky_hi) one of db_dwc3_row_interior's, on a vector family.
 * (In the portable family, whose vectors are arrays, its 18 instances took
 * gcc 6 minutes under the sanitizers, against 80 s for the whole file
 * without them; those CPUs take the general tile.) */
static inline bool db_dwc_row_is_3x3(const cc__direct_job *j, bool full, int ky_lo, int ky_hi)
{
    const cc__conv_geom *g = j->g;
    return DB_ISA != CC__ISA_SCALAR && full && g->kh == 3 && g->kw == 3 && g->dh == 1 &&
           g->dw == 1 &&
           (g->sw == 1 || g->sw == 2) && j->out_c == 1 && !cc__act_is_curve(g->act) &&
           ky_hi - ky_lo >= 2 && (ky_lo == 0 || ky_hi == 3);
}

/* The edge tile: output pixel ox alone, its kx restricted to the input. */
DB_INLINE void db_dwc_pixel(const cc__direct_job *j, const float *in, const float *w, int ky_lo,
                            int ky_hi, ptrdiff_t iy0, int ox, bool full, int count, float *out,
                            const float *bias)
{
    const cc__conv_geom *g = j->g;
    int kx_lo, kx_hi;
    cc__direct_taps(ox, g->sw, g->pl, g->dw, g->kw, g->w, &kx_lo, &kx_hi);
    db_dwc_tile(j, in, w, ky_lo, ky_hi, kx_lo, kx_hi, iy0, (ptrdiff_t)ox * g->sw - g->pl, 1,
                full, count, out + (ptrdiff_t)ox * j->out_x, bias);
}

DB_INLINE void db_dwc_span(const cc__direct_job *j, const float *in, const float *w, int ky_lo,
                           int ky_hi, ptrdiff_t iy0, bool full, int count, float *out,
                           const float *bias)
{
    const cc__conv_geom *g = j->g;
    int x_lo, x_hi;
    cc__direct_interior(g, &x_lo, &x_hi);
    int ox = 0;
    for (; ox < x_lo; ox++)
        db_dwc_pixel(j, in, w, ky_lo, ky_hi, iy0, ox, full, count, out, bias);
    for (; ox < x_hi; ox += DB_DWC_P) {
        if (ox + DB_DWC_P > x_hi) { /* as in db_ocvec_span */
            if (x_hi - x_lo < DB_DWC_P)
                break;
            ox = x_hi - DB_DWC_P;
        }
        db_dwc_tile(j, in, w, ky_lo, ky_hi, 0, g->kw, iy0, (ptrdiff_t)ox * g->sw - g->pl,
                    DB_DWC_P, full, count, out + (ptrdiff_t)ox * j->out_x, bias);
    }
    for (; ox < g->ow; ox++)
        db_dwc_pixel(j, in, w, ky_lo, ky_hi, iy0, ox, full, count, out, bias);
}

/* A row of the common 3x3 case: its edge pixels one by one through the
 * general tile, its interior through db_dwc3_row_interior. */
static void db_dwc3_span(const cc__direct_job *j, const float *in, const float *w, int ky_lo,
                         int ky_hi, ptrdiff_t iy0, float *out, const float *bias)
{
    const cc__conv_geom *g = j->g;
    int x_lo, x_hi;
    cc__direct_interior(g, &x_lo, &x_hi);
    if (x_hi <= x_lo) {
        for (int ox = 0; ox < g->ow; ox++)
            db_dwc_pixel(j, in, w, ky_lo, ky_hi, iy0, ox, true, DV, out, bias);
        return;
    }
    /* Edge pixels with two taps of the three inside go with the interior. */
    const bool left = x_lo == 1 && g->pl == 1;
    const bool right = x_hi == g->ow - 1 && g->w - ((ptrdiff_t)x_hi * g->sw - g->pl) == 2;
    for (int ox = 0; ox < x_lo - left; ox++)
        db_dwc_pixel(j, in, w, ky_lo, ky_hi, iy0, ox, true, DV, out, bias);
    db_dwc3_row_interior(j, in, w, iy0, x_lo, x_hi, left, right, out, bias, ky_lo, ky_hi);
    for (int ox = x_hi + right; ox < g->ow; ox++)
        db_dwc_pixel(j, in, w, ky_lo, ky_hi, iy0, ox, true, DV, out, bias);
}

void DB_DWC_ROW(const cc__direct_job *j, int n, int cb, int oy)
{
    const cc__conv_geom *g = j->g;
    const int count = db_min(DV, g->c - cb * DV);
    const ptrdiff_t c0 = (ptrdiff_t)cb * DV;
    const float *in = j->input + n * j->in_n + c0 * j->in_c;
    const float *w = j->packed + (size_t)cb * g->kh * g->kw * DV;
    float *out = j->output + n * j->out_n + c0 * j->out_c + oy * j->out_y;
    const float *bias = j->bias != NULL ? j->bias + c0 : NULL;
    int ky_lo, ky_hi;
    cc__direct_taps(oy, g->sh, g->pt, g->dh, g->kh, g->h, &ky_lo, &ky_hi);
    const ptrdiff_t iy0 = (ptrdiff_t)oy * g->sh - g->pt;
    if (db_dwc_row_is_3x3(j, count == DV, ky_lo, ky_hi))
        db_dwc3_span(j, in, w, ky_lo, ky_hi, iy0, out, bias);
    else if (count == DV)
        db_dwc_span(j, in, w, ky_lo, ky_hi, iy0, true, DV, out, bias);
    else
        db_dwc_span(j, in, w, ky_lo, ky_hi, iy0, false, count, out, bias);
}

/* ---- dwc over NCHW: planes gathered into channel vectors ----------------- */

/* Input rows [y_lo, y_hi) of the band are transposed from the block's
 * planes into the slot as [row][w][DV] (lanes past the block's channels
 * 0), the dwc row kernel computes the band's output rows into the slot
 * after them as [row][ow][DV], and those are transposed back into each
 * channel's output rows; a row's last DV - 1 pixels or fewer are gathered
 * instead. The row kernel runs on a geometry of the band: its input is the
 * transposed rows (pt moved so that output row oy0 + r is its row r) and
 * its block is the only one. */
DB_INLINE void db_dwc_rows_in(const float *in, ptrdiff_t plane, int count, int w, int rows,
                              float *dst)
{
    for (int y = 0; y < rows; y++) {
        const float *row = in + (ptrdiff_t)y * w;
        float *out = dst + (size_t)y * (size_t)w * DV;
        int x = 0;
        for (; x + DV <= w; x += DV)
            dv_transpose(row + x, plane, count, out + (size_t)x * DV, DV, DV);
        for (; x < w; x++)
            dv_store(out + (size_t)x * DV, dv_gather_range(row + x, (int)plane, 0, count));
    }
}

DB_INLINE void db_dwc_rows_out(const float *src, int count, int ow, int rows, float *out,
                               ptrdiff_t plane, ptrdiff_t row_stride)
{
    for (int r = 0; r < rows; r++) {
        const float *row = src + (size_t)r * (size_t)ow * DV;
        float *dst = out + r * row_stride;
        int x = 0;
        for (; x + DV <= ow; x += DV)
            dv_transpose(row + (size_t)x * DV, DV, DV, dst + x, plane, count);
        if (x < ow)
            for (int l = 0; l < count; l++)
                dv_store_n(dst + l * plane + x,
                           dv_gather_range(row + (size_t)x * DV + l, DV, 0, ow - x), ow - x);
    }
}

void DB_DWC_NCHW_UNIT(const cc__direct_job *j, float *slot, int n, int cb, int oy0, int oy1)
{
    const cc__conv_geom *g = j->g;
    const int count = db_min(DV, g->c - cb * DV);
    const ptrdiff_t c0 = (ptrdiff_t)cb * DV;
    int y_lo, y_hi;
    cc__direct_dwc_band(g, oy0, oy1, &y_lo, &y_hi);
    const int w = g->w, ow = g->ow;
    float *rows_in = slot, *rows_out = slot + (size_t)(y_hi - y_lo) * (size_t)w * DV;
    db_dwc_rows_in(j->input + n * j->in_n + c0 * j->in_c + (ptrdiff_t)y_lo * w, j->in_c, count,
                   w, y_hi - y_lo, rows_in);
    cc__conv_geom band = *g;
    band.n = 1, band.c = band.oc = count, band.h = y_hi - y_lo, band.oh = oy1 - oy0;
    band.pt = g->pt + y_lo - oy0 * g->sh;
    const cc__direct_job sub = {
        .g = &band, .packed = j->packed + (size_t)cb * g->kh * g->kw * DV,
        .bias = j->bias != NULL ? j->bias + c0 : NULL, .input = rows_in, .output = rows_out,
        .in_c = 1, .in_y = (ptrdiff_t)w * DV, .in_x = DV,
        .out_c = 1, .out_y = (ptrdiff_t)ow * DV, .out_x = DV, .blocks = 1, .rows_oc = 1};
    for (int r = 0; r < oy1 - oy0; r++)
        DB_DWC_ROW(&sub, 0, 0, r);
    db_dwc_rows_out(rows_out, count, ow, oy1 - oy0,
                    j->output + n * j->out_n + c0 * j->out_c + (ptrdiff_t)oy0 * j->out_y,
                    j->out_c, j->out_y);
}

/* ---- rows: NCHW, vectors over output width ------------------------------- */

#define DB_ROWS_MAX_W (DB_ROWS_DW_W > DB_ROWS_W ? DB_ROWS_DW_W : DB_ROWS_W)
_Static_assert(DB_ROWS_MAX_W <= 4, "db_rows_short dispatches up to 4 vectors");

/* The input vector of output pixels ox0 + l, l < DV, for tap kx, where every
 * lane's input is inside the row: contiguous for stride 1, gathered else. */
DB_INLINE dvec db_rows_load(const float *row, ptrdiff_t base, int stride, bool strided)
{
    return strided ? dv_gather(row + base, stride) : dv_load(row + base);
}

/* Like db_rows_load for lanes [0, count) (the others 0), every lane's
 * input inside the row. */
DB_INLINE dvec db_rows_load_n(const float *row, ptrdiff_t base, int stride, bool strided,
                              int count)
{
    if (count <= 0)
        return dv_zero();
    return strided ? dv_gather_range(row + base, stride, 0, count) : dv_load_n(row + base, count);
}

/* Like db_rows_load_n, but only lanes whose input lies in the row [0, w)
 * are loaded, the others are 0; base, the input column of lane 0, may lie
 * outside the row. */
DB_INLINE dvec db_rows_load_range(const float *row, ptrdiff_t base, int stride, int w,
                                  int count)
{
    const ptrdiff_t lo = base >= 0 ? 0 : (-base + stride - 1) / stride;
    const ptrdiff_t end = w - base > 0 ? (w - base + stride - 1) / stride : 0;
    const int hi = end < count ? (int)end : count;
    if (lo >= hi)
        return dv_zero();
    const float *first = row + base + lo * stride;
    return stride == 1 ? dv_load_range(first, (int)lo, hi)
                       : dv_gather_range(first, stride, (int)lo, hi);
}

/* How a rows tile loads its input: whole vectors (every pixel interior, all
 * nw * DV of them wanted), the first `pixels` lanes (interior pixels), or
 * lane ranges restricted to the input (border pixels). */
enum { DB_ROWS_FULL, DB_ROWS_PARTIAL, DB_ROWS_BORDER };

/* `me` channels x `nw` vectors of the `pixels` output pixels from ox0,
 * loading as `mode` says. in: image n at the group's first channel; w: the
 * channel block; out: (n, oc0, oy, 0). */
DB_INLINE void db_rows_tile(const cc__direct_job *j, const float *in, const float *w,
                            int ky_lo, int ky_hi, ptrdiff_t iy0, int ox0, int pixels, int me,
                            int nw, bool strided, int mode, float *out, const float *bias,
                            int mcount)
{
    const cc__conv_geom *g = j->g;
    dvec acc[DB_ROWS_M][DB_ROWS_MAX_W];
    int count[DB_ROWS_MAX_W];
#pragma GCC unroll 16
    for (int v = 0; v < nw; v++) {
        const int left = pixels - v * DV;
        count[v] = left < 0 ? 0 : db_min(left, DV);
#pragma GCC unroll 16
        for (int m = 0; m < me; m++)
            acc[m][v] = dv_zero();
    }
    const int sw = strided ? g->sw : 1;
    const ptrdiff_t ix0 = (ptrdiff_t)ox0 * sw - g->pl;
    for (int ci = 0; ci < g->cg; ci++) {
        const float *chan = in + (ptrdiff_t)ci * j->in_c;
        for (int ky = ky_lo; ky < ky_hi; ky++) {
            const float *row = chan + (iy0 + (ptrdiff_t)ky * g->dh) * j->in_y;
            const float *wrow = w + (((size_t)ci * g->kh + ky) * g->kw) * me;
            for (int kx = 0; kx < g->kw; kx++) {
                const ptrdiff_t base = ix0 + (ptrdiff_t)kx * g->dw;
                const float *wp = wrow + (size_t)kx * me;
                dvec x[DB_ROWS_MAX_W];
#pragma GCC unroll 16
                for (int v = 0; v < nw; v++) {
                    const ptrdiff_t at = base + (ptrdiff_t)v * DV * sw;
                    if (mode == DB_ROWS_FULL)
                        x[v] = db_rows_load(row, at, sw, strided);
                    else if (mode == DB_ROWS_PARTIAL)
                        x[v] = db_rows_load_n(row, at, sw, strided, count[v]);
                    else
                        x[v] = db_rows_load_range(row, at, sw, g->w, count[v]);
                }
#pragma GCC unroll 16
                for (int m = 0; m < me; m++) {
                    const dvec b = dv_bcast(wp[m]);
#pragma GCC unroll 16
                    for (int v = 0; v < nw; v++)
                        acc[m][v] = dv_fma(b, x[v], acc[m][v]);
                }
            }
        }
    }
    /* Unrolled over the constant me (not the run-time mcount), so that every
     * acc index is a constant and the accumulators stay in registers: with
     * a run-time index GCC kept them in memory and stored all of them after
     * every tap (LeNet-5's 1 -> 6 5x5 layer ran at 0.2 of the FMA peak). */
#pragma GCC unroll 16
    for (int m = 0; m < me; m++) {
        if (m >= mcount)
            break;
        float *o = out + (ptrdiff_t)m * j->out_c + ox0;
        const dvec b = bias != NULL ? dv_bcast(bias[m]) : dv_zero();
#pragma GCC unroll 16
        for (int v = 0; v < nw; v++)
            if (count[v] > 0)
                db_store_act(o + v * DV, dv_add(acc[m][v], b), count[v], g->act);
    }
}

/* `pixels` (< nw * DV) output pixels from ox0 on just the vectors they
 * need; mode DB_ROWS_PARTIAL or DB_ROWS_BORDER. */
DB_INLINE void db_rows_short(const cc__direct_job *j, const float *in, const float *w,
                             int ky_lo, int ky_hi, ptrdiff_t iy0, int ox0, int pixels, int me,
                             int nw, bool strided, int mode, float *out, const float *bias,
                             int mcount)
{
    const int need = (pixels + DV - 1) / DV;
    if (need == 1 || nw == 1)
        db_rows_tile(j, in, w, ky_lo, ky_hi, iy0, ox0, pixels, me, 1, strided, mode, out, bias,
                     mcount);
    else if (need == 2 || nw == 2)
        db_rows_tile(j, in, w, ky_lo, ky_hi, iy0, ox0, pixels, me, 2, strided, mode, out, bias,
                     mcount);
    else if (need == 3 || nw == 3)
        db_rows_tile(j, in, w, ky_lo, ky_hi, iy0, ox0, pixels, me, 3, strided, mode, out, bias,
                     mcount);
    else
        db_rows_tile(j, in, w, ky_lo, ky_hi, iy0, ox0, pixels, me, 4, strided, mode, out, bias,
                     mcount);
}

/* Output pixels [from, to) of a row in pieces of at most nw * DV. */
DB_INLINE void db_rows_pieces(const cc__direct_job *j, const float *in, const float *w,
                              int ky_lo, int ky_hi, ptrdiff_t iy0, int from, int to, int me,
                              int nw, bool strided, int mode, float *out, const float *bias,
                              int mcount)
{
    for (int ox = from; ox < to; ox += nw * DV) {
        const int pixels = db_min(to - ox, nw * DV);
        if (mode == DB_ROWS_FULL && pixels == nw * DV)
            db_rows_tile(j, in, w, ky_lo, ky_hi, iy0, ox, pixels, me, nw, strided, DB_ROWS_FULL,
                         out, bias, mcount);
        else
            db_rows_short(j, in, w, ky_lo, ky_hi, iy0, ox, pixels, me, nw, strided,
                          mode == DB_ROWS_FULL ? DB_ROWS_PARTIAL : mode, out, bias, mcount);
    }
}

/* One output row: the left border, the interior in tiles from its first
 * column (the last one partial), the right border. */
DB_INLINE void db_rows_span(const cc__direct_job *j, const float *in, const float *w,
                            int ky_lo, int ky_hi, ptrdiff_t iy0, int me, int nw, bool strided,
                            float *out, const float *bias, int mcount)
{
    const cc__conv_geom *g = j->g;
    int x_lo, x_hi;
    cc__direct_interior(g, &x_lo, &x_hi);
    if (x_lo == x_hi)
        x_lo = x_hi = g->ow;
    db_rows_pieces(j, in, w, ky_lo, ky_hi, iy0, 0, x_lo, me, nw, strided, DB_ROWS_BORDER, out,
                   bias, mcount);
    db_rows_pieces(j, in, w, ky_lo, ky_hi, iy0, x_lo, x_hi, me, nw, strided, DB_ROWS_FULL, out,
                   bias, mcount);
    db_rows_pieces(j, in, w, ky_lo, ky_hi, iy0, x_hi, g->ow, me, nw, strided, DB_ROWS_BORDER,
                   out, bias, mcount);
}

void DB_ROWS_ROW(const cc__direct_job *j, int n, int group, int mb, int oy)
{
    const cc__conv_geom *g = j->g;
    const int me = j->rows_oc;
    const int mcount = db_min(me, g->ocg - mb * me);
    const size_t oc0 = (size_t)group * g->ocg + (size_t)mb * me;
    const size_t block_floats = (size_t)g->cg * g->kh * g->kw * me;
    const float *in = j->input + n * j->in_n + (ptrdiff_t)group * g->cg * j->in_c;
    const float *w = j->packed + ((size_t)group * j->blocks + mb) * block_floats;
    float *out = j->output + n * j->out_n + (ptrdiff_t)oc0 * j->out_c + oy * j->out_y;
    const float *bias = j->bias != NULL ? j->bias + oc0 : NULL;
    int ky_lo, ky_hi;
    cc__direct_taps(oy, g->sh, g->pt, g->dh, g->kh, g->h, &ky_lo, &ky_hi);
    const ptrdiff_t iy0 = (ptrdiff_t)oy * g->sh - g->pt;
    if (me == 1 && g->sw > 1)
        db_rows_span(j, in, w, ky_lo, ky_hi, iy0, 1, DB_ROWS_DW_W, true, out, bias, mcount);
    else if (me == 1)
        db_rows_span(j, in, w, ky_lo, ky_hi, iy0, 1, DB_ROWS_DW_W, false, out, bias, mcount);
    else
        db_rows_span(j, in, w, ky_lo, ky_hi, iy0, DB_ROWS_M, DB_ROWS_W, false, out, bias,
                     mcount);
}

#include "direct_pointwise_body.h"
#include "direct_transpose_body.h"
