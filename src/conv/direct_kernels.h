/* The direct convolution's row kernels, one family per ISA.
 *
 * Every kernel computes one output row (oy) of one image for one block of
 * output channels, bias and activation included, and writes nothing else.
 * direct.c packs the weights, cuts a run into such rows and spreads them over
 * threads; the kernels are instantiated from direct_body.h once per family
 * (direct.c: portable, direct_avx2.c, direct_avx512.c) and an ISA's family
 * must only be called when the CPU has that ISA.
 *
 * Three kernel kinds, each with its own packed weight layout (V = lanes of
 * the family, M = output channels of the NCHW tile; blocks past the group's
 * last channel are zero-filled):
 *
 * ocvec (NHWC but depthwise; NCHW with many channels per group or a
 *   stride > 1): vectors over output channels. Packed [group][ob][kh][kw][cg][V],
 *   ob = ceil(ocg / V) blocks per group. A call covers blocks ob and ob + 1
 *   (when it exists) of one group. Full tile: P consecutive interior output
 *   pixels x 2V channels, input values broadcast; edge tile: one pixel, its
 *   taps restricted to the input (padding is never multiplied). Results go
 *   out as vectors (NHWC) or scattered to the channels' rows (NCHW).
 *
 * dwc (depthwise, cg == ocg == 1; NHWC, and NCHW unless a plane is too
 *   large for 32-bit gather offsets): vectors over channels. Packed
 *   [cb][kh][kw][V], cb = ceil(C / V). A call covers channel block cb. Full
 *   tile: P interior pixels x V channels; edge tile: one pixel. NCHW runs
 *   in bands of output rows, each gathered into a per-thread slot of the
 *   workspace in the NHWC kernel's layout (direct_body.h), because a plane
 *   row is as short as 7 pixels in late layers (a width vector mostly
 *   empty) while the channels are many.
 *
 * rows (NCHW with stride_w == 1, or with ocg == 1 and any stride): vectors
 *   over output width. Packed [group][mb][cg][kh][kw][Me], Me = 1 when
 *   ocg == 1 and M otherwise, mb = ceil(ocg / Me). A call covers channel
 *   block mb of one group. Full tile: Me channels x W vectors of
 *   consecutive interior output pixels (gathered when strided, Me = 1 only),
 *   weights broadcast; the interior's last tile loads only its pixels; the
 *   border pixels' tiles load, tap by tap, only the lanes whose input lies
 *   inside the row (zeros elsewhere, so partially padded vectors are the
 *   only place padding meets a multiplication).
 *
 * pointwise (NCHW 1x1 without padding, ocg > 1, any stride): a GEMM over
 *   the output plane (direct_pointwise_body.h). Packed as the rows kind
 *   with Me = M. A call covers channel blocks [mb_lo, mb_hi) of one group
 *   and output pixels [p_lo, p_hi) of one image's plane. Tile M channels x
 *   W*V pixels, weights broadcast; input channels in blocks whose panel of
 *   pixels (copied to the stack, CC__DIRECT_POINTWISE_PANEL_FLOATS floats)
 *   stays in L1. */
#ifndef COLCONV_DIRECT_KERNELS_H
#define COLCONV_DIRECT_KERNELS_H

#include <stddef.h>

#include "conv_internal.h"

/* Lanes V, NCHW tile channels M and the tile sizes of each family; the
 * packing in direct.c, the kernels and the tests agree through these. */
enum {
    CC__DIRECT_LANES_SCALAR = 8,
    CC__DIRECT_LANES_AVX2 = 8,
    CC__DIRECT_LANES_AVX512 = 16,
    CC__DIRECT_ROWS_OC_SCALAR = 4, /* M */
    CC__DIRECT_ROWS_OC_AVX2 = 6,
    CC__DIRECT_ROWS_OC_AVX512 = 8,
    CC__DIRECT_ROWS_VECS_SCALAR = 2, /* W */
    CC__DIRECT_ROWS_VECS_AVX2 = 2,
    CC__DIRECT_ROWS_VECS_AVX512 = 3,
    CC__DIRECT_ROWS_DW_VECS = 4,     /* W when Me = 1, every family */
    CC__DIRECT_OCVEC_PIXELS_SCALAR = 4, /* P of ocvec */
    CC__DIRECT_OCVEC_PIXELS_AVX2 = 6,
    CC__DIRECT_OCVEC_PIXELS_AVX512 = 12,
    CC__DIRECT_DWC_PIXELS_SCALAR = 4, /* P of dwc */
    CC__DIRECT_DWC_PIXELS_AVX2 = 8,
    CC__DIRECT_DWC_PIXELS_AVX512 = 8,
    CC__DIRECT_POINTWISE_PANEL_FLOATS = 4096 /* 16 KiB: half of an L1 */
};

/* One run: the tensors, their element strides (so that one kernel serves
 * both layouts) and the packing's block counts. */
typedef struct {
    const cc__conv_geom *g;
    const float *packed;
    const float *bias;   /* [OC] or NULL */
    const float *residual; /* as the output, or NULL; the pointwise kind only */
    const float *input;
    float *output;
    ptrdiff_t in_n, in_c, in_y, in_x;     /* input element strides */
    ptrdiff_t out_n, out_c, out_y, out_x; /* output element strides */
    int blocks;          /* ob per group (ocvec), cb (dwc) or mb per group (rows) */
    int rows_oc;         /* Me of the rows kind */
    /* The ocvec kind: packed weights the caller runs next (their first two
     * blocks prefetched during the last pair), or NULL. */
    const float *packed_after;
} cc__direct_job;

/* The taps k in [*lo, *hi) of a kernel of `size` taps, dilation `dil`, whose
 * input coordinate o*stride - pad + k*dil falls inside [0, extent). */
static inline void cc__direct_taps(long long o, int stride, int pad, int dil, int size,
                                   int extent, int *lo, int *hi)
{
    const long long base = o * stride - pad;
    long long first = base >= 0 ? 0 : (-base + dil - 1) / dil;
    long long end = base + (long long)(size - 1) * dil < extent
                        ? size
                        : (extent - 1 - base >= 0 ? (extent - 1 - base) / dil + 1 : 0);
    if (first > size)
        first = size;
    if (end < first)
        end = first;
    *lo = (int)first;
    *hi = (int)end;
}

/* The input rows [*lo, *hi) that output rows [oy0, oy1) read (clipped to
 * the input; empty when every tap falls in the padding). */
static inline void cc__direct_dwc_band(const cc__conv_geom *g, int oy0, int oy1, int *lo, int *hi)
{
    const long long first = (long long)oy0 * g->sh - g->pt;
    const long long last = (long long)(oy1 - 1) * g->sh - g->pt + (long long)(g->kh - 1) * g->dh;
    *lo = first < 0 ? 0 : first > g->h ? g->h : (int)first;
    *hi = last + 1 > g->h ? g->h : last + 1 < *lo ? *lo : (int)(last + 1);
}

/* The ocvec kind's full tiles over an interior of `width` pixels, for
 * tiles of `p` pixels: *large of p pixels, then *small of 2p/3, the fewest
 * pixel slots found this way (16 pixels, Winograd's tiles of a 14x14 image
 * on AVX-512: two short tiles, not a tile and a tile that computes 8
 * pixels again: 16 slots instead of 24). None when the interior is
 * narrower than a short tile. */
static inline int cc__direct_ocvec_short_pixels(int p) { return p * 2 / 3; }

static inline void cc__direct_ocvec_tiles(int width, int p, int *large, int *small)
{
    const int s = cc__direct_ocvec_short_pixels(p), q = width / p, r = width % p;
    *large = *small = 0;
    if (width < s)
        return;
    if (r == 0)
        *large = q;
    else if (r > s)
        *large = q > 0 ? q + 1 : 0, *small = q > 0 ? 0 : 2;
    else if (r > 2 * s - p || q == 0)
        *large = q, *small = 1;
    else
        *large = q - 1, *small = 2;
}

/* The output columns [*lo, *hi) whose every tap lies inside the input row
 * (the interior, where the full tiles run); empty (lo == hi) when none. */
static inline void cc__direct_interior(const cc__conv_geom *g, int *lo, int *hi)
{
    const long long first = ((long long)g->pl + g->sw - 1) / g->sw;
    const long long last_in = (long long)g->w - 1 + g->pl - (long long)(g->kw - 1) * g->dw;
    long long end = last_in >= 0 ? last_in / g->sw + 1 : 0;
    if (end > g->ow)
        end = g->ow;
    if (first >= end) {
        *lo = 0;
        *hi = 0;
        return;
    }
    *lo = (int)first;
    *hi = (int)end;
}

/* ocvec: output row oy of image n, group `group`, channel blocks ob and
 * ob + 1 (if ob + 1 < job->blocks). Tile P x 2V: 12 x 32 (AVX-512),
 * 6 x 16 (AVX2), 4 x 16 (portable). */
void cc__direct_ocvec_row_avx512_12x32(const cc__direct_job *job, int n, int group, int ob,
                                       int oy);
void cc__direct_ocvec_row_avx2_6x16(const cc__direct_job *job, int n, int group, int ob,
                                    int oy);
void cc__direct_ocvec_row_scalar_4x16(const cc__direct_job *job, int n, int group, int ob,
                                      int oy);

/* dwc: output row oy of image n, channel block cb. Tile P x V: 8 x 16
 * (AVX-512), 8 x 8 (AVX2), 4 x 8 (portable). */
void cc__direct_dwc_row_avx512_8x16(const cc__direct_job *job, int n, int cb, int oy);
void cc__direct_dwc_row_avx2_8x8(const cc__direct_job *job, int n, int cb, int oy);
void cc__direct_dwc_row_scalar_4x8(const cc__direct_job *job, int n, int cb, int oy);

/* dwc over NCHW: output rows [oy0, oy1) of image n, channel block cb,
 * through `slot` (its thread's share of cc__direct_workspace_floats: the
 * band's gathered input rows, then its output rows). */
void cc__direct_dwc_nchw_unit_avx512_8x16(const cc__direct_job *job, float *slot, int n, int cb,
                                          int oy0, int oy1);
void cc__direct_dwc_nchw_unit_avx2_8x8(const cc__direct_job *job, float *slot, int n, int cb,
                                       int oy0, int oy1);
void cc__direct_dwc_nchw_unit_scalar_4x8(const cc__direct_job *job, float *slot, int n, int cb,
                                         int oy0, int oy1);

/* rows: output row oy of image n, group `group`, channel block mb. Tile
 * Me x W*V: 8 x 48 (AVX-512), 6 x 16 (AVX2), 4 x 16 (portable); depthwise
 * (Me = 1) 1 x 64, 1 x 32, 1 x 32. */
void cc__direct_rows_row_avx512_8x48(const cc__direct_job *job, int n, int group, int mb,
                                     int oy);
void cc__direct_rows_row_avx2_6x16(const cc__direct_job *job, int n, int group, int mb,
                                   int oy);
void cc__direct_rows_row_scalar_4x16(const cc__direct_job *job, int n, int group, int mb,
                                     int oy);

/* pointwise: image n, group `group`, channel blocks [mb_lo, mb_hi), output
 * pixels [p_lo, p_hi) of the plane. Tile M x W*V as the rows kind's. */
void cc__direct_pointwise_avx512_8x48(const cc__direct_job *job, int n, int group, int mb_lo,
                                      int mb_hi, size_t p_lo, size_t p_hi);
void cc__direct_pointwise_avx2_6x16(const cc__direct_job *job, int n, int group, int mb_lo,
                                    int mb_hi, size_t p_lo, size_t p_hi);
void cc__direct_pointwise_scalar_4x16(const cc__direct_job *job, int n, int group, int mb_lo,
                                      int mb_hi, size_t p_lo, size_t p_hi);

/* transpose: out[j * out_ld + i] = in[i * in_ld + j] for i < rows, j < cols
 * (in and out do not overlap); reads and writes nothing else. */
void cc__direct_transpose_avx512(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols,
                                 float *out, ptrdiff_t out_ld);
void cc__direct_transpose_avx2(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols,
                               float *out, ptrdiff_t out_ld);
void cc__direct_transpose_scalar(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols,
                                 float *out, ptrdiff_t out_ld);

/* The kernels of one family. */
typedef struct {
    void (*ocvec_row)(const cc__direct_job *job, int n, int group, int ob, int oy);
    void (*dwc_row)(const cc__direct_job *job, int n, int cb, int oy);
    void (*rows_row)(const cc__direct_job *job, int n, int group, int mb, int oy);
    void (*pointwise)(const cc__direct_job *job, int n, int group, int mb_lo, int mb_hi,
                      size_t p_lo, size_t p_hi);
    void (*dwc_nchw_unit)(const cc__direct_job *job, float *slot, int n, int cb, int oy0,
                          int oy1);
    void (*transpose)(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols, float *out,
                      ptrdiff_t out_ld);
} cc__direct_family;

/* cc__direct_run with the kernels of `family` on weights packed for `isa`:
 * the tests run through it a portable emulation of a family whose ISA the
 * CPU lacks. */
void cc__direct_run_family(const cc__conv_geom *g, cc__isa isa,
                           const cc__direct_family *family, const float *packed,
                           const float *bias, const float *input, float *output,
                           const float *residual, float *workspace, int threads,
                           size_t out_pixel_stride);

#endif
