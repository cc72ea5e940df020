/* The direct convolution path: weight packing, the cut of a run into output
 * rows spread over threads, the dispatch to the ISA's kernels, and the
 * portable family (direct_body.h over direct_portable.h's arrays of 8
 * floats, which the compiler vectorises for whatever the build targets).
 * Kernel kinds and packed layouts: direct_kernels.h. */
#include <limits.h>
#include <string.h>

#include "../core/parallel.h"
#include "direct_kernels.h"

/* ---- the portable family ------------------------------------------------- */

#define DV CC__DIRECT_LANES_SCALAR
#include "direct_portable.h"

#define DB_ISA CC__ISA_SCALAR
#define DB_OCVEC_P CC__DIRECT_OCVEC_PIXELS_SCALAR
#define DB_DWC_P CC__DIRECT_DWC_PIXELS_SCALAR
#define DB_ROWS_M CC__DIRECT_ROWS_OC_SCALAR
#define DB_ROWS_W CC__DIRECT_ROWS_VECS_SCALAR
#define DB_ROWS_DW_W CC__DIRECT_ROWS_DW_VECS
#define DB_OCVEC_ROW cc__direct_ocvec_row_scalar_4x16
#define DB_DWC_ROW cc__direct_dwc_row_scalar_4x8
#define DB_ROWS_ROW cc__direct_rows_row_scalar_4x16
#define DB_POINTWISE_UNIT cc__direct_pointwise_scalar_4x16
#define DB_DWC_NCHW_UNIT cc__direct_dwc_nchw_unit_scalar_4x8
#define DB_TRANSPOSE cc__direct_transpose_scalar

#include "direct_body.h"

/* ---- kinds and packing ---------------------------------------------------- */

typedef enum { KIND_OCVEC, KIND_DWC, KIND_ROWS, KIND_POINTWISE } direct_kind;

/* NHWC: channels are contiguous, so vectors run over them (over input
 * channels for depthwise, output channels otherwise). NCHW: depthwise
 * vectorises over output width (gathered for stride > 1); otherwise width
 * vectors win for few input channels per group (first layers: VGG conv1_1
 * 3-channel 2.5x, LeNet 1-channel 1-1.8x, measured), where output-channel
 * vectors have a short inner loop over channels and scatter their results
 * to NCHW rows; with more channels (and for any stride > 1) output-channel
 * vectors win (1.4-1.8x on LeNet conv2, AlexNet conv2, VGG conv3_1).
 * NCHW pointwise layers are GEMMs over the plane: the pointwise kind, but
 * for depthwise ones (one output channel per group: nothing to share). */
enum { ROWS_MAX_CHANNELS = 8 };

/* NCHW depthwise gathers a block's channels a plane apart with 32-bit
 * offsets (up to 15 planes, the widest family's lanes less one). */
static bool planes_gatherable(const cc__conv_geom *g)
{
    const long long limit = INT_MAX / CC__DIRECT_LANES_AVX512;
    return (long long)g->h * g->w <= limit && (long long)g->oh * g->ow <= limit;
}

/* NHWC layers of one input channel and few filters, stride 1 along rows
 * and no padding left or right (LeNet-5's 1 -> 6 5x5): output-channel
 * vectors would leave most lanes empty, so the rows kind runs them as NCHW
 * (with one channel the input is the same tensor) into the workspace, and
 * each image's planes are transposed to its output pixels. Zen 4, 1
 * thread, LeNet-5's conv1: 0.014 ms on output-channel vectors, 0.005 on
 * rows. A thread's slot holds an output row of every filter, so rows wider
 * than ROWS_MAX_WIDTH stay on output-channel vectors: the slot stays within
 * 128 KiB a thread rather than growing with the image (a 2^31-pixel row
 * asked 16 GiB). */
enum { ROWS_MAX_WIDTH = 4096 };

static bool nhwc_rows(const cc__conv_geom *g)
{
    return g->layout == CC_NHWC && g->c == 1 && g->oc <= ROWS_MAX_CHANNELS && g->sw == 1 &&
           g->pl == 0 && g->pr == 0 && g->ow <= ROWS_MAX_WIDTH && !cc__geom_is_pointwise(g);
}

static direct_kind kind_of(const cc__conv_geom *g)
{
    const bool depthwise = g->cg == 1 && g->ocg == 1;
    if (g->layout == CC_NHWC)
        return depthwise ? KIND_DWC : nhwc_rows(g) ? KIND_ROWS : KIND_OCVEC;
    if (depthwise && !cc__geom_is_pointwise(g) && planes_gatherable(g))
        return KIND_DWC;
    if (cc__geom_is_pointwise(g) && g->ocg > 1)
        return KIND_POINTWISE;
    if (g->ocg == 1 || (g->sw == 1 && g->cg < ROWS_MAX_CHANNELS))
        return KIND_ROWS;
    return KIND_OCVEC;
}

/* Each family's vector lanes and ocvec tile pixels, by ISA. */
static const struct {
    int lanes, ocvec_pixels;
} family_sizes[] = {
    [CC__ISA_SCALAR] = {CC__DIRECT_LANES_SCALAR, CC__DIRECT_OCVEC_PIXELS_SCALAR},
    [CC__ISA_AVX2] = {CC__DIRECT_LANES_AVX2, CC__DIRECT_OCVEC_PIXELS_AVX2},
    [CC__ISA_AVX512] = {CC__DIRECT_LANES_AVX512, CC__DIRECT_OCVEC_PIXELS_AVX512},
};

static int lanes_of(cc__isa isa) { return family_sizes[isa].lanes; }

/* Me of the rows kind: 1 for depthwise, else the family's M. */
static int rows_oc_of(const cc__conv_geom *g, cc__isa isa)
{
    if (g->ocg == 1)
        return 1;
    switch (isa) {
    case CC__ISA_AVX512:
        return CC__DIRECT_ROWS_OC_AVX512;
    case CC__ISA_AVX2:
        return CC__DIRECT_ROWS_OC_AVX2;
    case CC__ISA_SCALAR:
        break;
    }
    return CC__DIRECT_ROWS_OC_SCALAR;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Blocks of the packing: ob per group, cb, or mb per group (see
 * direct_kernels.h). */
static int blocks_of(const cc__conv_geom *g, cc__isa isa)
{
    switch (kind_of(g)) {
    case KIND_DWC:
        return ceil_div(g->c, lanes_of(isa));
    case KIND_ROWS:
    case KIND_POINTWISE:
        return ceil_div(g->ocg, rows_oc_of(g, isa));
    case KIND_OCVEC:
        break;
    }
    return ceil_div(g->ocg, lanes_of(isa));
}

static size_t oihw_index(const cc__conv_geom *g, size_t oc, int ci, int ky, int kx)
{
    return ((oc * g->cg + (size_t)ci) * g->kh + (size_t)ky) * g->kw + (size_t)kx;
}

/* ocvec: [group][ob][kh][kw][cg][V]. */
static void pack_ocvec(const cc__conv_geom *g, int lanes, int blocks, const float *oihw,
                       float *packed)
{
    size_t at = 0;
    for (int group = 0; group < g->groups; group++)
        for (int ob = 0; ob < blocks; ob++)
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++)
                    for (int ci = 0; ci < g->cg; ci++)
                        for (int lane = 0; lane < lanes; lane++, at++) {
                            const int o = ob * lanes + lane;
                            if (o < g->ocg)
                                packed[at] = oihw[oihw_index(
                                    g, (size_t)group * g->ocg + (size_t)o, ci, ky, kx)];
                        }
}

/* dwc: [cb][kh][kw][V]. */
static void pack_dwc(const cc__conv_geom *g, int lanes, int blocks, const float *oihw,
                     float *packed)
{
    size_t at = 0;
    for (int cb = 0; cb < blocks; cb++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++)
                for (int lane = 0; lane < lanes; lane++, at++) {
                    const int c = cb * lanes + lane;
                    if (c < g->c)
                        packed[at] = oihw[oihw_index(g, (size_t)c, 0, ky, kx)];
                }
}

/* rows: [group][mb][cg][kh][kw][Me]. */
static void pack_rows(const cc__conv_geom *g, int me, int blocks, const float *oihw,
                      float *packed)
{
    size_t at = 0;
    for (int group = 0; group < g->groups; group++)
        for (int mb = 0; mb < blocks; mb++)
            for (int ci = 0; ci < g->cg; ci++)
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++)
                        for (int m = 0; m < me; m++, at++) {
                            const int o = mb * me + m;
                            if (o < g->ocg)
                                packed[at] = oihw[oihw_index(
                                    g, (size_t)group * g->ocg + (size_t)o, ci, ky, kx)];
                        }
}

int cc__direct_channel_block(const cc__conv_geom *g, cc__isa isa)
{
    const direct_kind kind = kind_of(g);
    return kind == KIND_ROWS || kind == KIND_POINTWISE ? rows_oc_of(g, isa) : lanes_of(isa);
}

size_t cc__direct_packed_floats(const cc__conv_geom *g, cc__isa isa)
{
    const direct_kind kind = kind_of(g);
    const int width = cc__direct_channel_block(g, isa);
    const size_t groups = kind == KIND_DWC ? 1 : (size_t)g->groups;
    const size_t taps_per_block = kind == KIND_DWC ? (size_t)g->kh * g->kw : cc__geom_k(g);
    size_t floats;
    if (!cc__mul_sizes(&floats, 4, groups, (size_t)blocks_of(g, isa), taps_per_block,
                       (size_t)width))
        return 0;
    return floats;
}

void cc__direct_pack_into(const cc__conv_geom *g, cc__isa isa, const float *oihw, float *packed)
{
    const direct_kind kind = kind_of(g);
    const int blocks = blocks_of(g, isa);
    memset(packed, 0, cc__direct_packed_floats(g, isa) * sizeof(float));
    switch (kind) {
    case KIND_OCVEC:
        pack_ocvec(g, lanes_of(isa), blocks, oihw, packed);
        break;
    case KIND_DWC:
        pack_dwc(g, lanes_of(isa), blocks, oihw, packed);
        break;
    case KIND_ROWS:
    case KIND_POINTWISE:
        pack_rows(g, rows_oc_of(g, isa), blocks, oihw, packed);
        break;
    }
}

void cc__direct_pack_channels(const cc__conv_geom *packed_as, cc__isa isa, const float *oihw,
                              int o_lo, int count, float *packed)
{
    const direct_kind kind = kind_of(packed_as);
    const int width = cc__direct_channel_block(packed_as, isa);
    cc__conv_geom part = *packed_as;
    part.oc = part.ocg = count;
    const int blocks = ceil_div(count, width);
    float *to = packed + (size_t)o_lo * cc__geom_k(packed_as);
    memset(to, 0, (size_t)blocks * cc__geom_k(packed_as) * (size_t)width * sizeof(float));
    if (kind == KIND_ROWS || kind == KIND_POINTWISE)
        pack_rows(&part, width, blocks, oihw, to);
    else
        pack_ocvec(&part, width, blocks, oihw, to);
}

cc_status cc__direct_pack(const cc__conv_geom *g, cc__isa isa, const float *oihw,
                          float **packed)
{
    const size_t floats = cc__direct_packed_floats(g, isa);
    *packed = NULL;
    if (floats == 0)
        return cc__fail(CC_ERR_NOMEM, "direct weights: size overflows size_t");
    *packed = cc__alloc_array(floats, sizeof(float), "direct weights");
    if (*packed == NULL)
        return CC_ERR_NOMEM;
    cc__direct_pack_into(g, isa, oihw, *packed);
    return CC_OK;
}

/* ---- running: rows over threads ------------------------------------------- */

typedef void (*group_row_fn)(const cc__direct_job *job, int n, int group, int block, int oy);

/* out_pixel_stride: NHWC, the floats from one output pixel to the next (0:
 * oc, a tensor of its own). */
static cc__direct_job make_job(const cc__conv_geom *g, cc__isa isa, const float *packed,
                               const float *bias, const float *input, float *output,
                               size_t out_pixel_stride)
{
    const ptrdiff_t in_plane = (ptrdiff_t)g->h * g->w, out_plane = (ptrdiff_t)g->oh * g->ow;
    cc__direct_job j = {.g = g, .packed = packed, .bias = bias, .input = input,
                        .output = output, .blocks = blocks_of(g, isa),
                        .rows_oc = rows_oc_of(g, isa)};
    j.in_n = (ptrdiff_t)g->c * in_plane;
    j.out_n = (ptrdiff_t)g->oc * out_plane;
    if (g->layout == CC_NCHW) {
        j.in_c = in_plane, j.in_y = g->w, j.in_x = 1;
        j.out_c = out_plane, j.out_y = g->ow, j.out_x = 1;
    } else {
        j.in_c = 1, j.in_y = (ptrdiff_t)g->w * g->c, j.in_x = g->c;
        const ptrdiff_t pixel = out_pixel_stride != 0 ? (ptrdiff_t)out_pixel_stride : g->oc;
        j.out_c = 1, j.out_y = (ptrdiff_t)g->ow * pixel, j.out_x = pixel;
        j.out_n = out_plane * pixel;
    }
    return j;
}

/* Units (image, group, block step, output row). NCHW: the row varies
 * fastest, so that a thread's consecutive units share weights while each
 * writes whole output rows. NHWC: the block step varies fastest, so that
 * the channels of one output pixel, which share cache lines, are written
 * together rather than in one pass over the output per block. */
static void run_group_rows(const cc__direct_job *j, group_row_fn row, int step, int threads)
{
    const cc__conv_geom *g = j->g;
    const ptrdiff_t steps = ceil_div(j->blocks, step);
    const ptrdiff_t units = (ptrdiff_t)g->n * g->groups * steps * g->oh;
    const bool rows_fastest = g->layout == CC_NCHW;
    CC__PARALLEL_FOR(ptrdiff_t, u, units, threads, {
        ptrdiff_t rest = u, oy, block_step;
        if (rows_fastest) {
            oy = rest % g->oh, rest /= g->oh;
            block_step = rest % steps, rest /= steps;
        } else {
            block_step = rest % steps, rest /= steps;
            const ptrdiff_t group = rest % g->groups;
            rest = rest / g->groups;
            oy = rest % g->oh;
            rest = rest / g->oh * g->groups + group;
        }
        /* rest is now image * groups + group */
        row(j, (int)(rest / g->groups), (int)(rest % g->groups), (int)block_step * step,
            (int)oy);
    });
}

/* Units (image, output row, channel block), the block fastest (NHWC). */
static void run_dwc_rows(const cc__direct_job *j,
                         void (*row)(const cc__direct_job *, int, int, int), int threads)
{
    const cc__conv_geom *g = j->g;
    const ptrdiff_t units = (ptrdiff_t)g->n * j->blocks * g->oh;
    CC__PARALLEL_FOR(ptrdiff_t, u, units, threads, {
        const ptrdiff_t rest = u / j->blocks;
        row(j, (int)(rest / g->oh), (int)(u % j->blocks), (int)(rest % g->oh));
    });
}

/* NCHW depthwise: the floats of a slot for bands of `rows` output rows
 * (their input rows, then the output rows, each row `lanes` channels wide). */
static size_t dwc_slot_floats_for(const cc__conv_geom *g, int lanes, int rows)
{
    int lo, hi;
    cc__direct_dwc_band(g, 0, rows, &lo, &hi);
    const size_t in_rows = (size_t)rows * (size_t)g->sh + (size_t)(g->kh - 1) * (size_t)g->dh;
    const size_t span = in_rows < (size_t)g->h ? in_rows : (size_t)g->h;
    return (span * (size_t)g->w + (size_t)rows * (size_t)g->ow) * (size_t)lanes;
}

/* Output rows per band: as many as keep a slot within 128 KiB (an eighth of
 * this L2: the slot stays there between the gathers and the row kernel),
 * at least one. */
enum { DWC_SLOT_TARGET_FLOATS = 32 * 1024 };

static int dwc_band_rows(const cc__conv_geom *g, int lanes)
{
    int rows = 1;
    while (rows < g->oh && dwc_slot_floats_for(g, lanes, rows + 1) <= DWC_SLOT_TARGET_FLOATS)
        rows++;
    return rows;
}

/* ---- NHWC ocvec layers on a copy of the input padded left and right ------ */

/* A pixel whose kx the left or right padding cuts runs alone (the edge
 * tile) at about this many times the cost of a pixel of a full tile, and
 * a copy of the input with those pads as zeros gives every pixel full
 * tiles when that saves this much at least (Zen 5, AVX-512, NHWC, the
 * edge pixels' four partial sums, medians, 1 / 2 threads, ms, edges ->
 * padded copy: AlexNet's 5x5 conv2 27x27 2.72 -> 2.43 / 1.42 -> 1.26,
 * 256 -> 384 3x3 at 13x13 2.25 -> 1.89 / 1.21 -> 1.04, 256 3x3/2 from
 * 28x28 1.51 -> 1.38 / 0.81 -> 0.74; where the tiles gain no pixels within
 * 2-3%: ResNet's 7x7/2 conv1, 128 3x3/2 from 56x56, 64 3x3 at 56x56; 256 3x3
 * at 14x14, 12 interior pixels, one tile, against two short tiles padded,
 * 1.33 -> 1.35 / 0.69 -> 0.71). The copy is at most PADDED_MAX_FLOATS. */
#define EDGE_PIXEL_COST 1.5
#define PADDED_MIN_GAIN 1.05
#define PADDED_MAX_FLOATS ((size_t)4 << 20)

/* A row's cost in tile pixels: its interior of `width` pixels in full
 * tiles (pixels one by one where it has none), and `edges` pixels alone. */
static double ocvec_row_cost(int width, int edges, int p)
{
    int large, small;
    cc__direct_ocvec_tiles(width, p, &large, &small);
    const int slots = large * p + small * cc__direct_ocvec_short_pixels(p);
    const double tiled = large + small > 0 ? (double)slots : EDGE_PIXEL_COST * width;
    return tiled + EDGE_PIXEL_COST * edges;
}

/* The floats of the input padded left and right (0 when over the bound). */
static size_t padded_floats(const cc__conv_geom *g)
{
    size_t floats;
    const size_t width = (size_t)g->w + (size_t)g->pl + (size_t)g->pr;
    if (!cc__mul_sizes(&floats, 4, (size_t)g->n, (size_t)g->h, width, (size_t)g->c) ||
        floats > PADDED_MAX_FLOATS)
        return 0;
    return floats;
}

static cc__conv_geom widened(const cc__conv_geom *g);

bool cc__direct_pads_input(const cc__conv_geom *g, cc__isa isa)
{
    if (g->layout != CC_NHWC || kind_of(g) != KIND_OCVEC || (g->pl == 0 && g->pr == 0) ||
        padded_floats(g) == 0)
        return false;
    /* The copy's geometry must keep the kind the weights were packed for
     * (without its padding a one-input layer would be nhwc_rows'). */
    const cc__conv_geom wide = widened(g);
    if (kind_of(&wide) != KIND_OCVEC)
        return false;
    int lo, hi;
    cc__direct_interior(g, &lo, &hi);
    const int p = family_sizes[isa].ocvec_pixels;
    return ocvec_row_cost(g->ow, 0, p) * PADDED_MIN_GAIN <=
           ocvec_row_cost(hi - lo, g->ow - (hi - lo), p);
}

/* The input rows with pl and pr zero pixels on either side, into `padded`. */
static void pad_columns(const cc__conv_geom *g, const float *input, float *padded, int threads)
{
    const size_t c = (size_t)g->c, width = (size_t)g->w + (size_t)g->pl + (size_t)g->pr;
    const ptrdiff_t rows = (ptrdiff_t)g->n * g->h;
    CC__PARALLEL_FOR(ptrdiff_t, r, rows, threads, {
        float *to = padded + (size_t)r * width * c;
        memset(to, 0, (size_t)g->pl * c * sizeof(float));
        memcpy(to + (size_t)g->pl * c, input + (size_t)r * (size_t)g->w * c,
               (size_t)g->w * c * sizeof(float));
        memset(to + ((size_t)g->pl + (size_t)g->w) * c, 0, (size_t)g->pr * c * sizeof(float));
    });
}

/* The layer's geometry on the padded copy. */
static cc__conv_geom widened(const cc__conv_geom *g)
{
    cc__conv_geom wide = *g;
    wide.w = g->w + g->pl + g->pr;
    wide.pl = wide.pr = 0;
    return wide;
}

size_t cc__direct_workspace_floats(const cc__conv_geom *g, cc__isa isa, int threads)
{
    if (cc__direct_pads_input(g, isa))
        return padded_floats(g);
    if (nhwc_rows(g))
        return (size_t)g->oc * (size_t)g->ow * (size_t)(threads > 1 ? threads : 1);
    if (g->layout != CC_NCHW || kind_of(g) != KIND_DWC)
        return 0;
    const size_t slot = dwc_slot_floats_for(g, lanes_of(isa), dwc_band_rows(g, lanes_of(isa)));
    return slot * (size_t)(threads > 1 ? threads : 1);
}

typedef void (*dwc_nchw_fn)(const cc__direct_job *job, float *slot, int n, int cb, int oy0,
                            int oy1);

/* Units (image, channel block, band of output rows), the band fastest;
 * each thread works in its own slot of the workspace. */
static void run_dwc_nchw(const cc__direct_job *j, dwc_nchw_fn unit, int lanes, float *workspace,
                         int threads)
{
    const cc__conv_geom *g = j->g;
    const int rows = dwc_band_rows(g, lanes);
    const size_t slot_floats = dwc_slot_floats_for(g, lanes, rows);
    const ptrdiff_t bands = ceil_div(g->oh, rows);
    const ptrdiff_t units = (ptrdiff_t)g->n * j->blocks * bands;
    CC__PARALLEL_FOR_SCHEDULE(ptrdiff_t, u, units, thread, threads, static, {
        const int oy0 = (int)(u % bands) * rows;
        const ptrdiff_t rest = u / bands;
        unit(j, workspace + (size_t)thread * slot_floats, (int)(rest / j->blocks),
             (int)(rest % j->blocks), oy0, db_min(g->oh, oy0 + rows));
    });
}

int cc__direct_pointwise_pixels(cc__isa isa)
{
    switch (isa) {
    case CC__ISA_AVX512:
        return CC__DIRECT_ROWS_VECS_AVX512 * CC__DIRECT_LANES_AVX512;
    case CC__ISA_AVX2:
        return CC__DIRECT_ROWS_VECS_AVX2 * CC__DIRECT_LANES_AVX2;
    case CC__ISA_SCALAR:
        break;
    }
    return CC__DIRECT_ROWS_VECS_SCALAR * CC__DIRECT_LANES_SCALAR;
}

/* A pointwise unit covers up to 16 tiles of pixels by as many channel
 * blocks as keep one block of K of their weights within 192 KiB of L2
 * (AVX2: 32 blocks, 192 channels; a layer's input is then read once for
 * up to that many channels); smaller when that leaves fewer than 4 units
 * per thread, pixels halved first (channel blocks then keep sharing each
 * panel). */
enum {
    POINTWISE_UNIT_TILES = 16,
    POINTWISE_UNIT_WEIGHT_FLOATS = 48 * 1024,
    POINTWISE_UNITS_PER_THREAD = 4
};

typedef void (*pointwise_fn)(const cc__direct_job *job, int n, int group, int mb_lo,
                             int mb_hi, size_t p_lo, size_t p_hi);

static void run_pointwise(const cc__direct_job *j, pointwise_fn unit, int tile_pixels,
                          int threads)
{
    const int panel_k = CC__DIRECT_POINTWISE_PANEL_FLOATS / tile_pixels;
    const cc__conv_geom *g = j->g;
    const size_t pixels = cc__geom_pixels(g);
    const size_t tiles = (pixels + (size_t)tile_pixels - 1) / (size_t)tile_pixels;
    const size_t images = (size_t)g->n * (size_t)g->groups;
    size_t chunk_tiles = tiles < POINTWISE_UNIT_TILES ? tiles : POINTWISE_UNIT_TILES;
    int chunk_blocks = db_min(j->blocks, POINTWISE_UNIT_WEIGHT_FLOATS / (panel_k * j->rows_oc));
    for (;;) {
        const size_t units = images * ((tiles + chunk_tiles - 1) / chunk_tiles) *
                             (size_t)ceil_div(j->blocks, chunk_blocks);
        if (units >= (size_t)threads * POINTWISE_UNITS_PER_THREAD)
            break;
        if (chunk_tiles > 1)
            chunk_tiles = (chunk_tiles + 1) / 2;
        else if (chunk_blocks > 1)
            chunk_blocks = (chunk_blocks + 1) / 2;
        else
            break;
    }
    /* Chunks of even sizes: 49 tiles in 4 chunks of 13, not 16+16+16+1. */
    const size_t tile_steps = (tiles + chunk_tiles - 1) / chunk_tiles;
    chunk_tiles = (tiles + tile_steps - 1) / tile_steps;
    chunk_blocks = ceil_div(j->blocks, ceil_div(j->blocks, chunk_blocks));
    const size_t chunk_pixels = chunk_tiles * (size_t)tile_pixels;
    const ptrdiff_t block_steps = ceil_div(j->blocks, chunk_blocks);
    const ptrdiff_t pixel_steps = (ptrdiff_t)((pixels + chunk_pixels - 1) / chunk_pixels);
    const ptrdiff_t units = (ptrdiff_t)images * pixel_steps * block_steps;
    CC__PARALLEL_FOR(ptrdiff_t, u, units, threads, {
        const ptrdiff_t block_step = u % block_steps, rest = u / block_steps;
        const size_t p_lo = (size_t)(rest % pixel_steps) * chunk_pixels;
        const size_t p_hi = pixels - p_lo < chunk_pixels ? pixels : p_lo + chunk_pixels;
        const ptrdiff_t image = rest / pixel_steps;
        const int mb_lo = (int)block_step * chunk_blocks;
        unit(j, (int)(image / g->groups), (int)(image % g->groups), mb_lo,
             db_min(j->blocks, mb_lo + chunk_blocks), p_lo, p_hi);
    });
}

/* nhwc_rows: units (image, output row); each computes its row of every
 * channel as NCHW into its thread's slot of the workspace ([oc][ow]) and
 * transposes it to the row's output pixels while it is in L1. */
static void run_nhwc_rows(const cc__direct_job *j, const cc__direct_family *family,
                          float *slots, int threads)
{
    const cc__conv_geom *g = j->g;
    const size_t slot_floats = (size_t)g->oc * (size_t)g->ow;
    const ptrdiff_t units = (ptrdiff_t)g->n * g->oh;
    CC__PARALLEL_FOR_SCHEDULE(ptrdiff_t, u, units, thread, threads, static, {
        const int n = (int)(u / g->oh), oy = (int)(u % g->oh);
        cc__direct_job row = *j;
        row.output = slots + (size_t)thread * slot_floats;
        row.out_n = 0, row.out_c = g->ow, row.out_y = 0, row.out_x = 1;
        for (int mb = 0; mb < j->blocks; mb++)
            family->rows_row(&row, n, 0, mb, oy);
        family->transpose(row.output, g->ow, (size_t)g->oc, (size_t)g->ow,
                          j->output + n * j->out_n + oy * j->out_y, j->out_x);
    });
}

/* The kernels of `family` over the units of job j (its geometry's act
 * already cleared when a residual is to be swept). */
static void run_job(cc__direct_job *j, cc__isa isa, const cc__direct_family *family,
                    const float *residual, float *workspace, int threads)
{
    switch (kind_of(j->g)) {
    case KIND_OCVEC:
        run_group_rows(j, family->ocvec_row, 2, threads);
        break;
    case KIND_ROWS:
        if (j->g->layout == CC_NHWC)
            run_nhwc_rows(j, family, workspace, threads);
        else
            run_group_rows(j, family->rows_row, 1, threads);
        break;
    case KIND_DWC:
        if (j->g->layout == CC_NCHW)
            run_dwc_nchw(j, family->dwc_nchw_unit, lanes_of(isa), workspace, threads);
        else
            run_dwc_rows(j, family->dwc_row, threads);
        break;
    case KIND_POINTWISE:
        j->residual = residual;
        run_pointwise(j, family->pointwise, cc__direct_pointwise_pixels(isa), threads);
        break;
    }
}

void cc__direct_run_family(const cc__conv_geom *g, cc__isa isa,
                           const cc__direct_family *family, const float *packed,
                           const float *bias, const float *input, float *output,
                           const float *residual, float *workspace, int threads,
                           size_t out_pixel_stride)
{
    if (threads < 1)
        threads = 1;
    const bool pointwise = kind_of(g) == KIND_POINTWISE;
    /* The pointwise kind adds the residual in its tiles; the row kinds run
     * without the activation and a sweep adds it and activates. */
    cc__conv_geom row_geom = *g;
    if (residual != NULL && !pointwise)
        row_geom.act = CC_ACT_NONE;
    if (workspace != NULL && cc__direct_pads_input(g, isa)) {
        pad_columns(g, input, workspace, threads);
        row_geom = widened(&row_geom);
        input = workspace;
    }
    cc__direct_job j = make_job(&row_geom, isa, packed, bias, input, output, out_pixel_stride);
    run_job(&j, isa, family, residual, workspace, threads);
    if (residual != NULL && !pointwise)
        cc__epilogue_residual(output, residual, cc__geom_output_floats(g), g->act, isa, threads);
}

static const cc__direct_family *family_of(cc__isa isa)
{
    static const cc__direct_family families[] = {
        {cc__direct_ocvec_row_scalar_4x16, cc__direct_dwc_row_scalar_4x8,
         cc__direct_rows_row_scalar_4x16, cc__direct_pointwise_scalar_4x16,
         cc__direct_dwc_nchw_unit_scalar_4x8, cc__direct_transpose_scalar},
        {cc__direct_ocvec_row_avx2_6x16, cc__direct_dwc_row_avx2_8x8,
         cc__direct_rows_row_avx2_6x16, cc__direct_pointwise_avx2_6x16,
         cc__direct_dwc_nchw_unit_avx2_8x8, cc__direct_transpose_avx2},
        {cc__direct_ocvec_row_avx512_12x32, cc__direct_dwc_row_avx512_8x16,
         cc__direct_rows_row_avx512_8x48, cc__direct_pointwise_avx512_8x48,
         cc__direct_dwc_nchw_unit_avx512_8x16, cc__direct_transpose_avx512},
    };
    return &families[isa];
}

void cc__direct_run(const cc__conv_geom *g, cc__isa isa, const float *packed,
                    const float *bias, const float *input, float *output,
                    const float *residual, float *workspace, int threads,
                    size_t out_pixel_stride)
{
    cc__direct_run_family(g, isa, family_of(isa), packed, bias, input, output, residual,
                          workspace, threads, out_pixel_stride);
}

void cc__direct_transpose(cc__isa isa, const float *in, ptrdiff_t in_ld, size_t rows,
                          size_t cols, float *out, ptrdiff_t out_ld)
{
    family_of(isa)->transpose(in, in_ld, rows, cols, out, out_ld);
}

/* One image of one row: its units are the channel blocks, run here one
 * after the other (no OpenMP construct: the Winograd path calls this inside
 * its own parallel region, where even a one-thread region costs a team). */
void cc__direct_run_1x1_rows(const cc__conv_geom *g, const cc__conv_geom *packed_as,
                             cc__isa isa, const float *packed, const float *packed_after,
                             const float *input, ptrdiff_t in_rows, float *output,
                             ptrdiff_t out_rows)
{
    const cc__direct_family *family = family_of(isa);
    const direct_kind kind = kind_of(packed_as);
    cc__direct_job j = make_job(g, isa, packed, NULL, input, output, 0);
    /* The packing's kind and channel block, not g's: one output channel of
     * a many-channel layer is packed in the layer's blocks of rows. */
    j.rows_oc = rows_oc_of(packed_as, isa);
    j.packed_after = packed_after;
    if (kind != KIND_DWC)
        j.blocks = ceil_div(g->ocg, cc__direct_channel_block(packed_as, isa));
    if (g->layout == CC_NCHW) {
        j.in_c = in_rows, j.out_c = out_rows;
    } else {
        j.in_x = in_rows, j.out_x = out_rows;
        j.in_y = in_rows * g->w, j.out_y = out_rows * g->ow;
    }
    switch (kind) {
    case KIND_POINTWISE:
        family->pointwise(&j, 0, 0, 0, j.blocks, 0, cc__geom_pixels(g));
        break;
    case KIND_OCVEC:
        for (int ob = 0; ob < j.blocks; ob += 2)
            family->ocvec_row(&j, 0, 0, ob, 0);
        break;
    case KIND_ROWS:
        for (int mb = 0; mb < j.blocks; mb++)
            family->rows_row(&j, 0, 0, mb, 0);
        break;
    case KIND_DWC:
        for (int cb = 0; cb < j.blocks; cb++)
            family->dwc_row(&j, 0, cb, 0);
        break;
    }
}
