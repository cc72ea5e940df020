/* The Winograd path: F(4x4,3x3), F(2x2,3x3) or F(6x6,3x3)
 * (winograd_transform.h) with
 * the products in the transform domain done as 1x1 layers on the direct
 * path's kernels, one product per transform point p (alpha^2 of them),
 * group and chunk of output channels:
 *
 *   NCHW: Mc[p] (R x T) = U[p] (R x Cg) * V[p] (Cg x T)
 *   NHWC: Mc[p] (T x R) = V[p] (T x Cg) * U[p] (Cg x R)
 *
 * where T is a block of output tiles (the batch's tiles taken in order, so
 * images share a block at small sizes) and R a chunk of the group's output
 * channels. Packed weights are, per group and point, U[p] as the weights of
 * a 1x1 layer packed for the direct kernels of the operator's ISA
 * (point_floats floats each), so a run never packs weights (OpenBLAS, which
 * did the products before, packed each point's weights again on every
 * call); on AVX-512 the layer kernels' GEMM multiplies them instead, U[p]
 * in its panels in NHWC (gemm_points), as OCg x Cg rows in NCHW blocks of
 * NCHW_GEMM_MIN_TILES tiles or more.
 *
 * A block's transformed input V ([p][Cg][T] in NCHW: the tile index last,
 * so a lane group of 16 tiles is contiguous; [p][T][Cg] in NHWC: lanes run
 * over channels) is sized for L2; for each chunk the products fill Mc
 * ([p][R][T] or [p][T][R]) and the output transform (bias, residual and
 * activation) empties it while it is still in cache: nothing transformed
 * goes through memory. The points' planes are an odd number of cache lines
 * apart (plane_stride).
 *
 * Threads: with at least BLOCKS_PER_THREAD blocks per thread, each thread
 * takes whole blocks in its own workspace slot; with fewer, each thread
 * transforms a block's input into its own slot and takes an equal share of
 * its output channels (in whole channel blocks of the product kernels).
 * Every value is computed by the same operations in the same order
 * whichever thread does it, so results do not depend on the thread count. */
#include <stddef.h>
#include <string.h>

#include "../core/parallel.h"
#include "conv_internal.h"
#include "epilogue.h"
#include "../layers/kernels.h"
#include "gemm.h"
#include "winograd_transform.h"

#define L CC__WINO_LANES
#define LINE_FLOATS ((size_t)16)
/* Targets of the block and chunk sizes: together within a 1 MiB L2. */
#define BLOCK_INPUT_BYTES ((size_t)512 * 1024)
#define CHUNK_OUTPUT_BYTES ((size_t)192 * 1024)
/* Output channels of a chunk come in multiples of this: of every kernel
 * family's channel block (4, 6 or 8 rows; 8 or 16 lanes), so that a
 * chunk's packed weights are a slice of the point's. */
#define CHUNK_UNIT ((size_t)48)
#define MIN_BLOCK_TILES ((size_t)64)

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

cc_status cc__winograd_supported(const cc__conv_geom *g, cc_algo algo)
{
    if (!cc__geom_is_winograd_shape(g))
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "conv2d: algo %s needs a 3x3 kernel with stride 1 and dilation 1 "
                        "(kernel %dx%d, stride %dx%d, dilation %dx%d)",
                        cc_algo_name(algo), g->kh, g->kw, g->sh, g->sw, g->dh, g->dw);
    return CC_OK;
}

/* F(4x4,3x3) tiles over a batch below which the product of a tile point
 * uses each weight too few times to hide reading it from memory (2 flops a
 * tile, against the 6 flops a byte of one core's FMA peak over its memory
 * bandwidth here), and F(4x4)'s transformed weights (floats) from which
 * they come from memory: then F(2x2,3x3), with 16 points instead of 36 and
 * more tiles, is faster (ResNet-50's 512 x 7x7 layers: 4 tiles and 37.7 MB
 * of weights against 16 tiles and 16.8 MB). */
#define F2_MAX_F4_TILES ((size_t)8)
#define F2_MIN_F4_WEIGHT_FLOATS ((size_t)1 << 20)

int cc__winograd_tile(const cc__conv_geom *g)
{
    const size_t tiles = (size_t)g->n * ceil_div((size_t)g->oh, 4) * ceil_div((size_t)g->ow, 4);
    const size_t weights = (size_t)36 * (size_t)g->cg * (size_t)g->ocg * (size_t)g->groups;
    return tiles <= F2_MAX_F4_TILES && weights >= F2_MIN_F4_WEIGHT_FLOATS ? 2 : 4;
}

/* `floats` rounded up to an odd number of cache lines: the transforms
 * touch the same spot of all alpha^2 planes at once, and planes a multiple
 * of 4 KiB apart would all fall into the same cache sets (measured: the
 * transforms ran 5x slower); an odd number of lines apart, plane i's spot
 * falls i sets further, so up to 64 planes use 64 different sets. */
static size_t plane_stride(size_t floats)
{
    const size_t lines = ceil_div(floats, LINE_FLOATS);
    return (lines % 2 == 0 ? lines + 1 : lines) * LINE_FLOATS;
}

/* Equal blocks of at most `most` items (most >= 1) over `count`, rounded
 * up to a multiple of `unit` while that stays within `most`. */
static size_t even_block(size_t count, size_t most, size_t unit)
{
    if (most >= unit)
        most -= most % unit;
    size_t block = ceil_div(count, ceil_div(count, most));
    if (ceil_div(block, unit) * unit <= most)
        block = ceil_div(block, unit) * unit;
    return cc__min_size(block, count);
}

/* Products on the direct kernels, or SGEMM on CPUs without AVX2 + FMA:
 * OpenBLAS has kernels for those, and the portable family, with a multiply
 * and an add rounded apart, took F(4x4,3x3) beyond its 1e-4 tolerance. */
static bool products_on_sgemm(cc__isa isa) { return isa == CC__ISA_SCALAR; }

/* Products on the layer kernels' GEMM (kernels_gemm_body.h, 6 x 64
 * blocks on AVX-512) rather than the direct pointwise kernel (12 x 32).
 * NHWC, U[p] in the GEMM's panels: Zen 5, one thread, the two in one
 * process: 10-30% faster on SqueezeNet's, GoogLeNet's, DenseNet's and ResNet-50's layers
 * (16 -> 64 at 55x55 0.227 -> 0.159 ms, 64 -> 256 at 13x13 0.153 -> 0.121,
 * 128 x 28x28 0.429 -> 0.360, 128 -> 32 at 56x56 0.56 -> 0.50), as fast
 * on 160 -> 320 at 7x7, 7% slower on 512 x 7x7 (F(2x2): 16 MB of weights
 * from memory); on AVX2, whose GEMM blocks are 4 x 16, slower (128 x
 * 28x28 0.70 -> 0.80). Tests set it on AVX2 too, to run the path on CPUs
 * without AVX-512.
 * NCHW, from this many tiles, with U[p] as the GEMM's A (rows of output
 * channels) and V[p]'s tiles its columns; fewer tiles make fewer than two
 * vectors of columns, and the direct kernel's 12-row blocks win. Zen 5,
 * two plans in one process, runs alternating, NCHW kept (the layers of up
 * to 32 MiB go through NHWC, nhwc_inside.c), GEMM / direct time, 1 / 2
 * threads: 64 x 224x224 (VGG's conv1_2) 0.95 / 0.99, 128 x 112x112 0.98 /
 * 0.92, 256 x 56x56 0.97 / 0.92, 512 x 28x28 0.87 / 0.88, 128 x 28x28 (49
 * tiles) 0.83 / 0.91, 128 x 32x32 (64) 0.90 / 0.93, 128 x 24x24 (36) 0.89
 * / 0.93; 64 x 20x20 (25 tiles) 1.01 / 1.25, 256 x 14x14 (16) 1.02 /
 * 1.07, 384 x 13x13 (16) 1.17 / 1.11, 512 x 7x7 (F(2x2), 16) 1.16 /
 * 1.22. */
#define NCHW_GEMM_MIN_TILES ((size_t)32)

static bool gemm_on_avx2;

void cc__winograd_set_gemm_on_avx2(bool on) { gemm_on_avx2 = on; }

static bool products_on_gemm(const cc__conv_geom *g, cc__isa isa, size_t tiles)
{
    const bool wide = g->layout == CC_NHWC || tiles >= NCHW_GEMM_MIN_TILES;
    return wide && (isa == CC__ISA_AVX512 || (isa == CC__ISA_AVX2 && gemm_on_avx2));
}
/* Whether U[p] lies in the GEMM's panels (NHWC products on the GEMM;
 * NCHW ones read it as OCg x Cg rows). */
static bool weights_in_panels(const cc__winograd_plan *plan, const cc__conv_geom *g)
{
    return plan->gemm_products && g->layout == CC_NHWC;
}

/* Share boundaries of the GEMM products: whole vectors on every family. */
#define GEMM_SHARE_UNIT ((size_t)16)

/* NCHW blocks of at most `most` tiles: whole lane groups for the
 * transforms, and where that leaves fewer narrow panels (of one vector)
 * to the pointwise kernel without adding a block, or adding one while a
 * pass over the weights stays within the L3, whole pixel panels, which it
 * reads in place (Zen 5, 1 thread: VGG's 128 x 112x112 layer 9.2 -> 8.4
 * ms, 256 x 56x56 6.9 -> 6.5 with blocks of 48 instead of 64, whose last
 * 16 tiles went through the narrow kernel; 512 x 28x28, with 37.7 MB of
 * weights read once a block: 8.6 -> 11.0 with two blocks, 48 + 1, instead
 * of one of 49). */
#define WEIGHTS_IN_L3_BYTES ((size_t)16 << 20)

static size_t nchw_panel(cc__isa isa, bool gemm)
{
    const size_t panel = products_on_sgemm(isa) ? L
                         : gemm                 ? GEMM_PANEL_COLUMNS
                                                : (size_t)cc__direct_pointwise_pixels(isa);
    return panel % L == 0 ? panel : L;
}

/* Blocks of `block` tiles over `tiles` whose last panel is narrow. */
static size_t narrow_panels(size_t tiles, size_t block, size_t panel)
{
    const size_t full = tiles / block, last = tiles % block;
    const bool block_narrow = block % panel > 0 && block % panel <= L;
    const bool last_narrow = last % panel > 0 && last % panel <= L;
    return (block_narrow ? full : 0) + (last_narrow ? 1 : 0);
}

static size_t nchw_block(const cc__conv_geom *g, cc__isa isa, bool gemm, size_t tiles,
                         size_t points, size_t most)
{
    const size_t panel = nchw_panel(isa, gemm);
    const size_t by_lanes = even_block(tiles, most, L);
    const size_t by_panels = even_block(tiles, most, panel);
    const size_t weight_bytes = points * (size_t)g->cg * (size_t)g->ocg * sizeof(float);
    const bool fewer_narrow =
        narrow_panels(tiles, by_panels, panel) < narrow_panels(tiles, by_lanes, panel);
    const bool more_blocks = ceil_div(tiles, by_panels) > ceil_div(tiles, by_lanes);
    return fewer_narrow && (!more_blocks || weight_bytes <= WEIGHTS_IN_L3_BYTES) ? by_panels
                                                                                 : by_lanes;
}

void cc__winograd_plan_init(const cc__conv_geom *g, cc__isa isa, int m, size_t budget,
                            cc__winograd_plan *plan)
{
    plan->m = m;
    plan->alpha = m + 2;
    plan->tiles_h = ceil_div((size_t)g->oh, (size_t)m);
    plan->tiles_w = ceil_div((size_t)g->ow, (size_t)m);
    plan->tiles = (size_t)g->n * plan->tiles_h * plan->tiles_w;
    plan->gemm_products = products_on_gemm(g, isa, plan->tiles);
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t point_bytes = points * sizeof(float);
    const size_t ocg = (size_t)g->ocg;
    /* A block's transformed input, and a chunk's transformed output, in L2
     * (and within the budget, which tests make small). */
    const size_t input_bytes = cc__min_size(budget / 2, BLOCK_INPUT_BYTES);
    const size_t output_bytes = cc__min_size(budget / 2, CHUNK_OUTPUT_BYTES);
    const size_t tile_input_bytes = point_bytes * (size_t)g->cg;
    size_t most = input_bytes / tile_input_bytes;
    /* But at least MIN_BLOCK_TILES tiles within the budget: the kernels'
     * pixel panel is 48 wide (AVX-512), and the weights are read once per
     * block (512-channel layers had 6-tile blocks at the L2 target and ran
     * 2x slower). */
    const size_t fewest = cc__min_size(MIN_BLOCK_TILES, budget / 2 / tile_input_bytes);
    most = most > fewest ? most : fewest;
    /* NCHW blocks in whole panels of tiles; NHWC tiles are rows of the
     * products, in any number. */
    most = most > 0 ? most : 1;
    plan->block = g->layout == CC_NCHW
                      ? nchw_block(g, isa, plan->gemm_products, plan->tiles, points, most)
                      : even_block(plan->tiles, most, 1);
    /* Chunks: whole packing blocks of every kernel family (CHUNK_UNIT
     * channels), or whole panels of the GEMM, and at least 4 of them where
     * the channels allow, for the threads that share a block. (Chunks of
     * 48 made the GEMM's blocks 3 vectors wide: 4-9% slower.) */
    const size_t unit = weights_in_panels(plan, g) ? GEMM_PANEL_COLUMNS : CHUNK_UNIT;
    most = output_bytes / (point_bytes * plan->block);
    most = most > unit ? most : unit;
    if (ocg > 4 * unit)
        most = cc__min_size(most, ceil_div(ceil_div(ocg, 4), unit) * unit);
    plan->chunk = most >= ocg ? ocg : most - most % unit;
    plan->chunks = ceil_div(ocg, plan->chunk);
    plan->v_stride = plane_stride((size_t)g->cg * plan->block);
    plan->m_stride = plane_stride(plan->chunk * plan->block);
    plan->bytes = points * (plan->v_stride + plan->m_stride) * sizeof(float);
}

/* The product of one transform point and group as a 1x1 layer of one
 * image of one row of `tiles` pixels: Cg channels in, OCg out. */
static cc__conv_geom point_geom(const cc__conv_geom *g, size_t tiles)
{
    const cc__conv_geom p = {.n = 1, .c = g->cg, .h = 1, .w = (int)tiles, .oc = g->ocg,
                             .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                             .groups = 1, .cg = g->cg, .ocg = g->ocg, .oh = 1,
                             .ow = (int)tiles, .layout = g->layout, .act = CC_ACT_NONE};
    return p;
}

/* Output channels transformed and packed at a time: whole channel blocks
 * of every kernel family (as chunks), few enough that their transformed
 * weights stay in cache until they are packed. */
#define PACK_CHANNELS CHUNK_UNIT

/* u[p][count][Cg]: every transform point's 1x1 weights (OIHW) of output
 * channels [o_lo, o_lo + count) of the group. */
static void transform_channels(const cc__conv_geom *g, const cc__winograd_plan *plan,
                               const float *oihw, size_t group, size_t o_lo, size_t count,
                               float *u)
{
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha, cg = (size_t)g->cg;
    float point_values[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    for (size_t o = 0; o < count; o++) {
        const float *w = oihw + (group * (size_t)g->ocg + o_lo + o) * cg * 9;
        for (size_t c = 0; c < cg; c++) {
            cc__wino_weight(plan->m, w + c * 9, point_values);
            for (size_t p = 0; p < points; p++)
                u[(p * count + o) * cg + c] = point_values[p];
        }
    }
}

/* The same channels' slice of point p's packed weights, from its u (the
 * group's packed weights from group_packed): for the layer kernels' GEMM,
 * Cg x OCg in panels of GEMM_PANEL_COLUMNS columns, and for each panel the
 * points' blocks one after the other: panel q, of width w, is a
 * [point][Cg][w] block from 64 q Cg points floats (gemm_points); for the
 * direct kernels; for SGEMM and the NCHW GEMM, OCg x Cg rows (NCHW) or
 * their transpose, Cg x OCg (NHWC). */
static void pack_channels(const cc__conv_geom *g, cc__isa isa, const cc__winograd_plan *plan,
                          const float *u, size_t o_lo, size_t count, float *group_packed,
                          size_t p)
{
    const size_t cg = (size_t)g->cg, ocg = (size_t)g->ocg;
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    float *point_packed = group_packed + p * plan->point_floats;
    if (weights_in_panels(plan, g)) {
        for (size_t o = 0; o < count; o++) {
            const size_t column = o_lo + o, first = column - column % GEMM_PANEL_COLUMNS;
            const size_t width = cc__min_size(GEMM_PANEL_COLUMNS, ocg - first);
            float *block = group_packed + first * cg * points + p * width * cg;
            for (size_t c = 0; c < cg; c++)
                block[c * width + column - first] = u[o * cg + c];
        }
    } else if (!products_on_sgemm(isa) && !plan->gemm_products) {
        const cc__conv_geom pg = point_geom(g, plan->block);
        cc__direct_pack_channels(&pg, isa, u, (int)o_lo, (int)count, point_packed);
    } else if (g->layout == CC_NHWC) {
        for (size_t o = 0; o < count; o++)
            for (size_t c = 0; c < cg; c++)
                point_packed[c * ocg + o_lo + o] = u[o * cg + c];
    } else {
        memcpy(point_packed + o_lo * cg, u, count * cg * sizeof(float));
    }
}

cc_status cc__winograd_pack(const cc__conv_geom *g, cc__isa isa, cc__winograd_plan *plan,
                            const float *oihw, float **packed)
{
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t slices = points * (size_t)g->groups, slice = (size_t)g->ocg * (size_t)g->cg;
    const size_t cg = (size_t)g->cg, ocg = (size_t)g->ocg;
    const cc__conv_geom pg = point_geom(g, plan->block);
    size_t count, u_floats;
    *packed = NULL;
    plan->point_floats = products_on_sgemm(isa) || plan->gemm_products
                             ? slice
                             : cc__direct_packed_floats(&pg, isa);
    /* SGEMM's results depend on its blocking, so shares of a block are
     * whole chunks there: the same products whatever the thread count. */
    plan->unit = plan->gemm_products    ? GEMM_SHARE_UNIT
                 : products_on_sgemm(isa) ? plan->chunk
                                          : (size_t)cc__direct_channel_block(&pg, isa);
    if (plan->point_floats == 0 || !cc__mul_sizes(&count, 2, slices, plan->point_floats) ||
        !cc__mul_sizes(&u_floats, 3, points, PACK_CHANNELS, cg))
        return cc__fail(CC_ERR_NOMEM, "conv2d: Winograd weights overflow size_t");
    /* The blocks of channels on the run's threads, each with its own u. */
    const int threads = cc__run_threads();
    const size_t blocks = ceil_div(ocg, PACK_CHANNELS), items = (size_t)g->groups * blocks;
    float *u = cc__alloc_array(u_floats, (size_t)threads * sizeof(float),
                               "conv2d: Winograd weights");
    *packed = cc__alloc_array(count, sizeof(float), "conv2d: Winograd weights");
    if (u == NULL || *packed == NULL) {
        cc__free(u);
        cc__free(*packed);
        *packed = NULL;
        return CC_ERR_NOMEM;
    }
    float *all = *packed;
    CC__PARALLEL_FOR_SCHEDULE(size_t, item, items, thread, threads, dynamic, {
        const size_t group = item / blocks, o_lo = item % blocks * PACK_CHANNELS;
        const size_t n = cc__min_size(PACK_CHANNELS, ocg - o_lo);
        float *mine = u + (size_t)thread * u_floats;
        transform_channels(g, plan, oihw, group, o_lo, n, mine);
        for (size_t p = 0; p < points; p++)
            pack_channels(g, isa, plan, mine + p * n * cg, o_lo, n,
                          all + group * points * plan->point_floats, p);
    });
    cc__free(u);
    return CC_OK;
}

/* Where the batch's tiles are: tile t is image t / (th * tw), then tile row
 * and column within the image. */
typedef struct {
    size_t n, y0, x0; /* image, first output row and column of the tile */
} tile_origin;

static tile_origin origin_of(const cc__winograd_plan *plan, size_t t)
{
    const size_t per_image = plan->tiles_h * plan->tiles_w;
    const size_t r = t % per_image;
    const tile_origin o = {t / per_image, r / plan->tiles_w * (size_t)plan->m,
                           r % plan->tiles_w * (size_t)plan->m};
    return o;
}

/* The tile after o, without dividing. */
static tile_origin next_origin(const cc__winograd_plan *plan, tile_origin o)
{
    o.x0 += (size_t)plan->m;
    if (o.x0 < plan->tiles_w * (size_t)plan->m)
        return o;
    o.x0 = 0;
    o.y0 += (size_t)plan->m;
    if (o.y0 < plan->tiles_h * (size_t)plan->m)
        return o;
    o.y0 = 0;
    o.n++;
    return o;
}

/* The state of one block and group, shared by the phases. */
typedef struct {
    const cc_conv2d *op;
    const cc__conv_io *io;
    cc__wino_transforms transforms;
    size_t start, count; /* the block's first tile and its tile count */
    size_t group;
    float *v;            /* the block's transformed input */
} block_run;

/* NCHW: a lane group of up to L consecutive tiles, located once for all the
 * channels an item covers. Offsets are from the first channel plane of the
 * lane's image (input: of its patch's top-left corner, which may lie in the
 * padding; output: of its tile's top-left output). */
typedef struct {
    size_t lanes;
    ptrdiff_t in_at[L];
    int y_lo[L], y_hi[L], x_lo[L], x_hi[L]; /* rows and columns of the patch inside the input */
    bool inside[L];                         /* the whole patch is inside */
    size_t out_at[L];
    int rows[L], cols[L];                   /* outputs of the tile inside the output */
    /* F(4x4,3x3): the lanes from l on that are side by side in one tile
     * row with their patches inside the input (inside_run), or their tiles
     * inside the output (full_run); 0 where lane l is not such. Their rows
     * are moved a run at a time. */
    int inside_run[L], full_run[L];
} lane_tiles;

static int clamp_int(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

static void locate_tiles(const block_run *b, size_t first, size_t lanes, lane_tiles *lt)
{
    const cc__conv_geom *g = &b->op->g;
    const int alpha = b->op->wino.alpha, m = b->op->wino.m;
    lt->lanes = lanes;
    tile_origin o = origin_of(&b->op->wino, first);
    for (size_t l = 0; l < lanes; l++, o = next_origin(&b->op->wino, o)) {
        const long y = (long)o.y0 - g->pt, x = (long)o.x0 - g->pl;
        lt->in_at[l] = (ptrdiff_t)(o.n * (size_t)g->c * (size_t)g->h * (size_t)g->w) +
                       (ptrdiff_t)(y * g->w + x);
        lt->y_lo[l] = clamp_int(-y, 0, alpha), lt->y_hi[l] = clamp_int(g->h - y, 0, alpha);
        lt->x_lo[l] = clamp_int(-x, 0, alpha), lt->x_hi[l] = clamp_int(g->w - x, 0, alpha);
        lt->inside[l] = lt->y_lo[l] == 0 && lt->y_hi[l] == alpha && lt->x_lo[l] == 0 &&
                        lt->x_hi[l] == alpha;
        lt->out_at[l] = (o.n * (size_t)g->oc * (size_t)g->oh + o.y0) * (size_t)g->ow + o.x0;
        lt->rows[l] = (int)cc__min_size((size_t)m, (size_t)g->oh - o.y0);
        lt->cols[l] = (int)cc__min_size((size_t)m, (size_t)g->ow - o.x0);
    }
    /* Runs, from the last lane back: lane l extends lane l + 1's run when
     * its tile is the one just left of it. */
    for (size_t l = lanes; l-- > 0;) {
        const bool next = l + 1 < lanes && lt->out_at[l + 1] == lt->out_at[l] + (size_t)m;
        const bool full = lt->rows[l] == m && lt->cols[l] == m;
        lt->inside_run[l] = m == 4 && lt->inside[l] ? 1 + (next ? lt->inside_run[l + 1] : 0) : 0;
        lt->full_run[l] = m == 4 && full ? 1 + (next ? lt->full_run[l + 1] : 0) : 0;
    }
}

/* d[i][j][lane] = the input at row i, column j of the lane's patch in the
 * channel plane `plane` (NCHW), zero in the padding and in unused lanes. */
static void gather_nchw(const block_run *b, const lane_tiles *lt, const float *plane,
                        cc__wino_lanes *d)
{
    const int alpha = b->op->wino.alpha;
    const ptrdiff_t w = b->op->g.w;
    if (lt->lanes < L)
        memset(d, 0, (size_t)alpha * (size_t)alpha * sizeof *d);
    for (size_t l = 0; l < lt->lanes; l++) {
        if (lt->inside_run[l] > 0) {
            const int run = lt->inside_run[l];
            for (int i = 0; i < alpha; i++)
                b->transforms.gather_run4(plane + lt->in_at[l] + i * w, run, (int)l, d + i * alpha);
            l += (size_t)run - 1;
            continue;
        }
        if (lt->inside[l]) {
            const float *patch = plane + lt->in_at[l];
            for (int i = 0; i < alpha; i++)
                for (int j = 0; j < alpha; j++)
                    d[i * alpha + j][l] = patch[i * w + j];
            continue;
        }
        for (int i = 0; i < alpha; i++)
            for (int j = 0; j < alpha; j++) {
                const bool in = i >= lt->y_lo[l] && i < lt->y_hi[l] && j >= lt->x_lo[l] &&
                                j < lt->x_hi[l];
                d[i * alpha + j][l] = in ? plane[lt->in_at[l] + i * w + j] : 0.0f;
            }
    }
}

/* NHWC: channels c0 .. c0 + lanes - 1 of tile t's patch, as the
 * transforms read it from the image. */
static cc__wino_patch patch_nhwc(const block_run *b, size_t t, size_t c0, size_t lanes)
{
    const cc__conv_geom *g = &b->op->g;
    const int alpha = b->op->wino.alpha;
    const tile_origin o = origin_of(&b->op->wino, t);
    const long y0 = (long)o.y0 - g->pt, x0 = (long)o.x0 - g->pl;
    cc__wino_patch patch = {.first = b->io->input,
                            .pixel = (ptrdiff_t)g->c,
                            .row = (ptrdiff_t)g->w * g->c,
                            .window = {clamp_int(-y0, 0, alpha), clamp_int(g->h - y0, 0, alpha),
                                       clamp_int(-x0, 0, alpha), clamp_int(g->w - x0, 0, alpha)},
                            .lanes = (int)lanes};
    const cc__wino_window *w = &patch.window;
    if (w->y_lo < w->y_hi && w->x_lo < w->x_hi)
        patch.first += ((o.n * (size_t)g->h + (size_t)(y0 + w->y_lo)) * (size_t)g->w +
                        (size_t)(x0 + w->x_lo)) *
                           (size_t)g->c +
                       b->group * (size_t)g->cg + c0;
    return patch;
}

/* Channels an NCHW item covers: the tiles' locations are computed once for
 * all of them. */
#define CHANNELS_PER_ITEM ((size_t)16)

/* Input phase, one item: a lane group of tiles for CHANNELS_PER_ITEM
 * channels (NCHW), or one tile for a lane group of channels (NHWC). */
static void transform_input_item(const block_run *b, size_t item)
{
    const cc__conv_geom *g = &b->op->g;
    const size_t block = b->op->wino.block;
    const size_t cg = (size_t)g->cg, v_stride = b->op->wino.v_stride;
    cc__wino_lanes d[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    if (g->layout == CC_NCHW) {
        const size_t chunks = ceil_div(cg, CHANNELS_PER_ITEM);
        const size_t first = item / chunks * L, c_lo = item % chunks * CHANNELS_PER_ITEM;
        lane_tiles lt;
        locate_tiles(b, b->start + first, cc__min_size(L, b->count - first), &lt);
        for (size_t c = c_lo; c < cc__min_size(cg, c_lo + CHANNELS_PER_ITEM); c++) {
            const float *plane = b->io->input +
                                 (b->group * cg + c) * (size_t)g->h * (size_t)g->w;
            gather_nchw(b, &lt, plane, d);
            b->transforms.input_planes(b->op->wino.m, d, (int)lt.lanes,
                                       b->v + c * block + first, (ptrdiff_t)v_stride);
        }
    } else {
        const size_t groups_of_channels = ceil_div(cg, L);
        const size_t t = item / groups_of_channels, c0 = item % groups_of_channels * L;
        const cc__wino_patch patch = patch_nhwc(b, b->start + t, c0, cc__min_size(L, cg - c0));
        b->transforms.input_nhwc(b->op->wino.m, &patch, b->v + t * cg + c0, (ptrdiff_t)v_stride);
    }
}

/* Items of a phase over `channels` channels (Cg for the input, OCg for the
 * output): lane groups of tiles x channel chunks (NCHW), or tiles x lane
 * groups of channels (NHWC). */
static size_t phase_items(const block_run *b, size_t channels)
{
    return b->op->g.layout == CC_NCHW
               ? ceil_div(channels, CHANNELS_PER_ITEM) * ceil_div(b->count, L)
               : b->count * ceil_div(channels, L);
}

/* `rows` runs of `floats` floats, `stride` apart, asked for into the L2. */
static void prefetch_rows(const float *first, size_t rows, size_t stride, size_t floats)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t f = 0; f < floats; f += LINE_FLOATS)
            __builtin_prefetch(first + r * stride + f, 0, 2);
}

/* NHWC on the layer kernels' GEMM: for every point p, Mc[p] (count x
 * chunk) = V[p] (count x Cg) * columns [o_lo, o_lo + chunk) of U[p], a
 * GEMM call for each panel the columns cross and each point, panel by
 * panel: the next call's weights are the memory after this call's, which
 * the GEMM asks for as it ends (gemm_next_chunk), or for part of a panel,
 * which it does not, asked for here. (Point by point, a thread's next call
 * read the panel after its share, or one of the next point's, from memory:
 * Zen 5, SqueezeNet's 64 -> 256 at 13x13 after 64 MB of other traffic, 2
 * threads, 0.16-0.18 ms on the direct kernels, 0.18 point by point, 0.12
 * panel by panel.) */
static void gemm_points(const block_run *b, size_t o_lo, size_t chunk, float *mc)
{
    const cc__winograd_plan *plan = &b->op->wino;
    const cc__layer_kernels *kernels = cc__layer_kernels_of(b->op->isa);
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t cg = (size_t)b->op->g.cg, ocg = (size_t)b->op->g.ocg;
    const float *group_u = b->op->weights + b->group * points * plan->point_floats;
    for (size_t j = o_lo; j < o_lo + chunk;) {
        const size_t first = j - j % GEMM_PANEL_COLUMNS;
        const size_t width = cc__min_size(GEMM_PANEL_COLUMNS, ocg - first);
        const size_t end = cc__min_size(first + width, o_lo + chunk);
        const float *panel = group_u + first * cg * points + (j - first);
        for (size_t p = 0; p < points; p++) {
            if (end - j < width && p + 1 < points)
                prefetch_rows(panel + (p + 1) * width * cg, cg, width, end - j);
            kernels->gemm(b->count, end - j, cg, b->v + p * plan->v_stride, cg, 1,
                          panel + p * width * cg, width,
                          mc + p * plan->m_stride + (j - o_lo), chunk, false, NULL);
        }
        j = end;
    }
}

/* The products of output channels [o_lo, o_lo + chunk) of the block's
 * group, every transform point p, into mc:
 *   NCHW: Mc[p] (chunk x count, rows block apart) = U[p] (chunk x Cg) * V[p] (Cg x count, rows block apart)
 *   NHWC: Mc[p] (count x chunk) = V[p] (count x Cg) * U[p] (Cg x chunk)
 * each a 1x1 layer on the direct kernels, U[p] packed for them at create;
 * the chunk's packed weights are the slice of the point's from o_lo * Cg
 * (o_lo is a multiple of every family's channel block). On the layer
 * kernels' GEMM or SGEMM, U[p] is Cg x OCg (NHWC: in panels for the GEMM)
 * or OCg x Cg (NCHW: the GEMM's A, read in place). */
static void multiply_chunk(const block_run *b, size_t o_lo, size_t chunk, float *mc)
{
    if (weights_in_panels(&b->op->wino, &b->op->g)) {
        gemm_points(b, o_lo, chunk, mc);
        return;
    }
    const cc__conv_geom *g = &b->op->g;
    const cc__winograd_plan *plan = &b->op->wino;
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t cg = (size_t)g->cg, ocg = (size_t)g->ocg, block = plan->block;
    const cc__conv_geom packed_as = point_geom(g, b->count);
    cc__conv_geom pg = packed_as;
    pg.oc = pg.ocg = (int)chunk;
    const bool nchw = g->layout == CC_NCHW;
    for (size_t p = 0; p < points; p++) {
        const float *u = b->op->weights + (b->group * points + p) * plan->point_floats;
        const float *v = b->v + p * plan->v_stride;
        float *m = mc + p * plan->m_stride;
        /* The next point's weights of the same channels, to prefetch. */
        const float *u_after = p + 1 < points ? u + plan->point_floats + o_lo * cg : NULL;
        /* The GEMM reads A where it is: the next point's rows asked for
         * (two plans in one process, 1 thread: 256 x 56x56 0.92x the time
         * without, 512 x 28x28 0.95x, VGG's conv1_2 1.01x). */
        if (b->op->wino.gemm_products && u_after != NULL)
            prefetch_rows(u_after, 1, 0, chunk * cg);
        if (b->op->wino.gemm_products)
            cc__layer_kernels_of(b->op->isa)
                ->gemm(chunk, b->count, cg, u + o_lo * cg, cg, 1, v, block, m, block, false,
                       NULL);
        else if (!products_on_sgemm(b->op->isa))
            cc__direct_run_1x1_rows(&pg, &packed_as, b->op->isa, u + o_lo * cg, u_after, v,
                                    nchw ? (ptrdiff_t)block : (ptrdiff_t)cg, m,
                                    nchw ? (ptrdiff_t)block : (ptrdiff_t)chunk);
        else if (nchw)
            cc__sgemm(chunk, b->count, cg, u + o_lo * cg, cg, v, block, 0.0f, m, block);
        else
            cc__sgemm(b->count, chunk, cg, v, cg, u + o_lo, ocg, 0.0f, m, chunk);
    }
}

/* One output value: y already finished, or act(y + residual). */
static inline float output_value(const block_run *b, float y, size_t at)
{
    if (b->io->residual == NULL)
        return y;
    return cc__activate(y + b->io->residual[at], b->op->g.act);
}

/* NCHW: y[i][j][lane] to row i, column j of the lane's tile in the output
 * plane of channel oc (offset oc_at). */
static void scatter_nchw(const block_run *b, const lane_tiles *lt, size_t oc_at,
                         cc__wino_lanes *y)
{
    const int m = b->op->wino.m;
    const size_t ow = (size_t)b->op->g.ow;
    for (size_t l = 0; l < lt->lanes; l++) {
        if (lt->full_run[l] > 0 && b->io->residual == NULL) {
            const int run = lt->full_run[l];
            for (int i = 0; i < m; i++)
                b->transforms.scatter_run4(y + i * m, run, (int)l,
                                           b->io->output + oc_at + lt->out_at[l] + (size_t)i * ow);
            l += (size_t)run - 1;
            continue;
        }
        for (int i = 0; i < lt->rows[l]; i++)
            for (int j = 0; j < lt->cols[l]; j++) {
                const size_t at = oc_at + lt->out_at[l] + (size_t)i * ow + (size_t)j;
                b->io->output[at] = output_value(b, y[i * m + j][l], at);
            }
    }
}

/* NHWC: the output transform of tile t's channels o0 .. o0 + lanes - 1
 * of the group (x: their first point's line), finished and stored. */
static void transform_output_nhwc(const block_run *b, size_t t, size_t o0, size_t lanes,
                                  const float *x)
{
    const cc__conv_geom *g = &b->op->g;
    const int m = b->op->wino.m;
    const tile_origin origin = origin_of(&b->op->wino, t);
    const size_t oc0 = b->group * (size_t)g->ocg + o0;
    const size_t pixel = cc__io_pixel_stride(b->io, g);
    const size_t at =
        ((origin.n * (size_t)g->oh + origin.y0) * (size_t)g->ow + origin.x0) * pixel + oc0;
    _Alignas(64) cc__wino_lanes bias = {0};
    if (b->op->bias != NULL)
        memcpy(bias, b->op->bias + oc0, lanes * sizeof(float));
    const cc__wino_finish f = {.bias = bias,
                               .residual = b->io->residual != NULL ? b->io->residual + at : NULL,
                               .pixel = (ptrdiff_t)pixel,
                               .row = (ptrdiff_t)(g->ow * pixel),
                               .lanes = (int)lanes,
                               .act = g->act};
    b->transforms.output_nhwc(m, x, (ptrdiff_t)b->op->wino.m_stride, &f, b->io->output + at,
                              (int)cc__min_size((size_t)m, (size_t)g->oh - origin.y0),
                              (int)cc__min_size((size_t)m, (size_t)g->ow - origin.x0));
}

/* The output transform of output channels [o_lo, o_lo + chunk) of the
 * block's group from mc (multiply_chunk's), with bias, residual and
 * activation. */
static void transform_output_chunk(const block_run *b, size_t o_lo, size_t chunk,
                                   const float *mc)
{
    const cc__conv_geom *g = &b->op->g;
    const size_t block = b->op->wino.block;
    const size_t ocg = (size_t)g->ocg, m_stride = b->op->wino.m_stride;
    const float *bias = b->op->bias;
    cc__wino_lanes y[(CC__WINO_MAX_ALPHA - 2) * (CC__WINO_MAX_ALPHA - 2)];
    cc__wino_lanes bias_lanes = {0};
    if (g->layout == CC_NCHW) {
        for (size_t first = 0; first < b->count; first += L) {
            lane_tiles lt;
            locate_tiles(b, b->start + first, cc__min_size(L, b->count - first), &lt);
            for (size_t o = 0; o < chunk; o++) {
                const size_t oc = b->group * ocg + o_lo + o;
                for (int l = 0; l < L; l++)
                    bias_lanes[l] = bias != NULL ? bias[oc] : 0.0f;
                /* A residual is added by the scatter, which then activates. */
                const cc__wino_finish f = {
                    .bias = bias_lanes,
                    .lanes = (int)lt.lanes,
                    .act = b->io->residual != NULL ? CC_ACT_NONE : g->act};
                b->transforms.output_planes(b->op->wino.m, mc + o * block + first,
                                            (ptrdiff_t)m_stride, &f, 0, 0, y);
                scatter_nchw(b, &lt, oc * (size_t)g->oh * (size_t)g->ow, y);
            }
        }
        return;
    }
    for (size_t t = 0; t < b->count; t++)
        for (size_t o0 = 0; o0 < chunk; o0 += L)
            transform_output_nhwc(b, b->start + t, o_lo + o0, cc__min_size(L, chunk - o0),
                                  mc + t * chunk + o0);
}

/* Output channels [o_lo, o_lo + chunk) of the block: their products, then
 * their output transform. */
static void finish_channels(const block_run *b, size_t o_lo, size_t chunk, float *mc)
{
    multiply_chunk(b, o_lo, chunk, mc);
    transform_output_chunk(b, o_lo, chunk, mc);
}

/* Chunk k of the block. */
static void finish_chunk(const block_run *b, size_t k, float *mc)
{
    const size_t o_lo = k * b->op->wino.chunk;
    finish_channels(b, o_lo, cc__min_size(b->op->wino.chunk, (size_t)b->op->g.ocg - o_lo), mc);
}

/* The share of the group's output channels of `thread` of `threads` that
 * share a block, [o_lo, o_hi): equal shares in whole channel blocks of the
 * product kernels, done in equal chunks of at most plan->chunk channels.
 * (The plan's chunks taken in turn gave ResNet's 128-channel layers chunks
 * of 48, 48 and 32: 96 channels to one thread and 32 to the other.) */
static void finish_share(const block_run *b, int thread, int threads, float *mc)
{
    const cc__winograd_plan *plan = &b->op->wino;
    const size_t ocg = (size_t)b->op->g.ocg, units = ceil_div(ocg, plan->unit);
    const size_t o_lo =
        cc__min_size(ocg, units * (size_t)thread / (size_t)threads * plan->unit);
    const size_t o_hi =
        cc__min_size(ocg, units * (size_t)(thread + 1) / (size_t)threads * plan->unit);
    if (o_lo >= o_hi)
        return;
    if (weights_in_panels(plan, &b->op->g)) {
        /* Chunks of at most the plan's that end on the GEMM's panels where
         * they can: a panel split between two chunks is read twice. */
        for (size_t o = o_lo; o < o_hi;) {
            size_t end = cc__min_size(o_hi, o + plan->chunk);
            if (end < o_hi && end - end % GEMM_PANEL_COLUMNS > o)
                end -= end % GEMM_PANEL_COLUMNS;
            finish_channels(b, o, end - o, mc);
            o = end;
        }
        return;
    }
    const size_t chunks = ceil_div(o_hi - o_lo, plan->chunk);
    const size_t chunk = ceil_div(ceil_div(o_hi - o_lo, chunks), plan->unit) * plan->unit;
    for (size_t o = o_lo; o < o_hi; o += chunk)
        finish_channels(b, o, cc__min_size(chunk, o_hi - o), mc);
}

/* The workspace slot of `thread`: a block's V, then a chunk's Mc. */
static float *slot_v(const cc_conv2d *op, float *workspace, int thread)
{
    return workspace + (size_t)thread * op->wino.bytes / sizeof(float);
}
static float *slot_mc(const cc_conv2d *op, float *workspace, int thread)
{
    const size_t points = (size_t)op->wino.alpha * (size_t)op->wino.alpha;
    return slot_v(op, workspace, thread) + points * op->wino.v_stride;
}

/* A block on the calling thread alone, in its own slot. */
static void run_block_alone(const block_run *b, float *mc)
{
    const size_t inputs = phase_items(b, (size_t)b->op->g.cg);
    for (size_t item = 0; item < inputs; item++)
        transform_input_item(b, item);
    for (size_t k = 0; k < b->op->wino.chunks; k++)
        finish_chunk(b, k, mc);
}

/* A block split by output channels between the threads of the region:
 * each transforms all of its input into its own slot's V, then finishes
 * its share of the output channels in its own slot's Mc. Transforming it
 * once between them instead (each half of it, into one V) cost a barrier
 * and reading lines the other core wrote, more than the transform of the
 * other half, 1 / OCg of the products' work: Zen 5, 2 threads, SqueezeNet's
 * 64 -> 256 at 13x13 (16 tiles) 0.156 -> 0.134 ms. */
static void run_block_split(const block_run *b, float *mc, int thread, int threads)
{
    const size_t inputs = phase_items(b, (size_t)b->op->g.cg);
    for (size_t item = 0; item < inputs; item++)
        transform_input_item(b, item);
    finish_share(b, thread, threads, mc);
}

/* Blocks per thread from which each thread takes whole blocks in its own
 * slot; with fewer, the threads split each block (run_block_split). */
#define BLOCKS_PER_THREAD 2
/* Transformed weights (all points, floats) up to which threads that would
 * split a block take smaller blocks of their own instead: each reads all
 * the weights, but computes whole product blocks (DenseNet's 128 -> 32
 * layers on 16 and 49 tiles: 2 threads on one block took 2x one thread's
 * time when they also shared its transform, each reading the other core's
 * half). */
#define OWN_BLOCKS_MAX_WEIGHT_FLOATS ((size_t)512 * 1024)
/* But no fewer tiles than the product kernels' short tile of rows (8 on
 * AVX-512): 16 tiles in 4 blocks took 1.5x the time of 2 blocks. */
#define OWN_BLOCK_MIN_TILES ((size_t)8)
/* NHWC, where a block is any run of tiles: when each thread's share holds
 * this many tiles, one block a thread, which reads the weights once, up to
 * this many weights. Zen 5, 2 threads, in the network: sharing each
 * block's transform, ResNet-50's 128 x 28x28 layers (49 tiles, 590K
 * weights) took 0.40-0.52 ms (alone and warm 0.47, at one thread 0.41); in blocks of
 * their own, two a thread, 0.38-0.48; one a thread, 0.30-0.32. With 16
 * tiles (256 x 14x14, 2.4M weights) blocks of their own took 1.3x as long
 * as sharing: each thread read all the weights from memory for a few
 * tiles. (Only a block smaller than the plan's: the workspace holds that
 * much, and a run of the plan's blocks is split, which left SqueezeNet's
 * 24 -> 64 at 56x56, 2 blocks of 98 tiles, at one thread's speed.) */
#define ONE_BLOCK_MIN_TILES ((size_t)24)
#define ONE_BLOCK_MAX_WEIGHT_FLOATS ((size_t)1024 * 1024)

/* The tiles a block holds in this run: the plan's, or fewer, so that each
 * of `threads` threads has blocks of its own (above). */
static size_t run_block(const cc_conv2d *op, int threads)
{
    const cc__winograd_plan *plan = &op->wino;
    const size_t groups = (size_t)op->g.groups, wanted = (size_t)threads * BLOCKS_PER_THREAD;
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t weights = points * (size_t)op->g.cg * (size_t)op->g.ocg;
    const size_t blocks = ceil_div(plan->tiles, plan->block), units = blocks * groups;
    /* SGEMM's results depend on the tile count of a call: the plan's
     * blocks whatever the threads, so that results do not depend on them. */
    if (threads == 1 || products_on_sgemm(op->isa))
        return plan->block;
    if (units >= wanted) {
        /* Few blocks: as many for each thread (VGG's 56x56 layers, 196
         * tiles in 4 blocks of 49, 2 threads: 3 blocks of 64 and one of 4
         * left a thread waiting 15% of the time). */
        const size_t even_units = ceil_div(units, (size_t)threads) * (size_t)threads;
        size_t even = ceil_div(plan->tiles, ceil_div(even_units, groups));
        /* NCHW: in whole panels still (VGG's 256 x 56x56 layer, 2 threads:
         * 196 tiles in 4 blocks of 48 and one of 4, 4.1 ms; in 6 of 33,
         * each a panel one third empty, 5.3). */
        if (op->g.layout == CC_NCHW) {
            const size_t panel = nchw_panel(op->isa, plan->gemm_products);
            even = cc__min_size(ceil_div(even, panel) * panel, plan->block);
        }
        return units < 4 * wanted && even >= OWN_BLOCK_MIN_TILES ? even : plan->block;
    }
    const size_t half = ceil_div(plan->tiles, ceil_div((size_t)threads, groups));
    if (op->g.layout == CC_NHWC && weights <= ONE_BLOCK_MAX_WEIGHT_FLOATS &&
        plan->tiles / (size_t)threads >= ONE_BLOCK_MIN_TILES && half < plan->block)
        return half;
    if (weights > OWN_BLOCKS_MAX_WEIGHT_FLOATS)
        return plan->block;
    const size_t own = ceil_div(plan->tiles, ceil_div(wanted, groups));
    return own > OWN_BLOCK_MIN_TILES ? own : cc__min_size(OWN_BLOCK_MIN_TILES, plan->block);
}

/* The first tile of `thread`'s share when each of `threads` threads takes
 * blocks of its own: equal shares of consecutive tiles (NCHW: in whole
 * panels of the product kernels), the rows of the image a thread mostly
 * wrote in the layer before and reads in the next; on SGEMM, whole blocks
 * of the plan, whose results depend on a call's tile count. (Static turns
 * over blocks instead gave VGG's NCHW 256 x 56x56, 196 tiles in blocks of
 * 48, 48, 48, 48 and 4, 144 tiles to one thread and 52 to the other;
 * dynamic turns, the other core's rows.) */
static size_t own_tiles(const cc_conv2d *op, size_t block, int thread, int threads)
{
    const size_t unit = products_on_sgemm(op->isa) ? block
                        : op->g.layout == CC_NCHW  ? nchw_panel(op->isa, op->wino.gemm_products)
                                                   : 1;
    const size_t units = ceil_div(op->wino.tiles, unit);
    return cc__min_size(op->wino.tiles, units * (size_t)thread / (size_t)threads * unit);
}

void cc__winograd_run(const cc_conv2d *op, const cc__conv_io *io, float *workspace, int threads)
{
    const cc__winograd_plan *plan = &op->wino;
    const cc__wino_transforms transforms = cc__wino_transforms_for(op->isa);
    const size_t block = run_block(op, threads);
    const size_t groups = (size_t)op->g.groups, blocks = ceil_div(plan->tiles, block);
    const size_t units = blocks * groups;
    const bool alone = threads == 1 || units >= (size_t)threads * BLOCKS_PER_THREAD ||
                       block < plan->block;
    /* One-thread SGEMMs also when this run has one thread (no region). */
    const int previous = cc__blas_threads_begin(1);
    CC__PARALLEL(thread, parts, threads, {
        if (alone) {
            const size_t first = own_tiles(op, block, thread, parts);
            const size_t end = own_tiles(op, block, thread + 1, parts);
            for (size_t start = first; start < end; start += block)
                for (size_t group = 0; group < groups; group++) {
                    const block_run b = {op, io, transforms, start,
                                         cc__min_size(block, end - start), group,
                                         slot_v(op, workspace, thread)};
                    run_block_alone(&b, slot_mc(op, workspace, thread));
                }
        } else {
            for (size_t u = 0; u < units; u++) {
                const size_t start = u / groups * plan->block;
                const block_run b = {op, io, transforms, start,
                                     cc__min_size(plan->block, plan->tiles - start), u % groups,
                                     slot_v(op, workspace, thread)};
                run_block_split(&b, slot_mc(op, workspace, thread), thread, parts);
            }
        }
    });
    cc__blas_threads_end(previous);
}
