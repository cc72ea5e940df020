/* The Winograd path: F(4x4,3x3) or F(6x6,3x3) (winograd_transform.h) with
 * the products in the transform domain done by SGEMM, one GEMM per
 * transform point p (alpha^2 of them) and group:
 *
 *   NCHW: M[p] (OCg x T) = U[p] (OCg x Cg) * V[p] (Cg x T)
 *   NHWC: M[p] (T x OCg) = V[p] (T x Cg) * U[p] (Cg x OCg)
 *
 * where T is a block of output tiles (the batch's tiles taken in order, so
 * images share a block at small sizes). Packed weights are
 * [group][p][OCg][Cg] (NCHW) or [group][p][Cg][OCg] (NHWC). The workspace
 * holds V and M of one block and one group: [p][Cg][block] and
 * [p][OCg][block] (NCHW; the tile index is last, so a lane group of 16
 * tiles is contiguous), or [p][block][Cg] and [p][block][OCg] (NHWC; the
 * channel is last, and lanes run over channels). The points' planes are
 * v_stride and m_stride floats apart: a multiple of 4 KiB plus one cache
 * line, because the transforms touch the same spot of all alpha^2 planes at
 * once, and planes a multiple of 4 KiB apart would all fall into the same
 * cache sets (measured: the transforms ran 5x slower).
 *
 * A run walks the blocks and groups in order; in each, all threads
 * transform the input, then split the GEMMs (each on one thread), then
 * transform the output with bias, residual and activation. The schedule is
 * static and every GEMM runs on one thread, so results do not depend on the
 * thread count. */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "conv_internal.h"
#include "epilogue.h"
#include "gemm.h"
#include "winograd_transform.h"

#define L CC__WINO_LANES
#define PAGE_FLOATS ((size_t)1024)
#define LINE_FLOATS ((size_t)16)

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
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

/* `floats` rounded up to a multiple of 4 KiB, plus one cache line. */
static size_t plane_stride(size_t floats)
{
    return ceil_div(floats, PAGE_FLOATS) * PAGE_FLOATS + LINE_FLOATS;
}

void cc__winograd_plan_init(const cc__conv_geom *g, int m, size_t budget, cc__winograd_plan *plan)
{
    plan->m = m;
    plan->alpha = m + 2;
    plan->tiles_h = ceil_div((size_t)g->oh, (size_t)m);
    plan->tiles_w = ceil_div((size_t)g->ow, (size_t)m);
    plan->tiles = (size_t)g->n * plan->tiles_h * plan->tiles_w;
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const size_t tile_bytes = points * ((size_t)g->cg + (size_t)g->ocg) * sizeof(float);
    /* The planes' padding comes out of the budget, unless it would take
     * more than half of it (budgets tests make small): then it comes on top. */
    const size_t padding_bytes = 2 * points * (PAGE_FLOATS + LINE_FLOATS) * sizeof(float);
    const size_t for_tiles = padding_bytes < budget / 2 ? budget - padding_bytes : budget / 2;
    size_t most = for_tiles / tile_bytes;
    if (most >= L)
        most -= most % L; /* whole lane groups of tiles (NCHW) */
    most = most > 0 ? most : 1;
    /* Equal blocks, rounded up to whole lane groups while within `most`. */
    size_t block = ceil_div(plan->tiles, ceil_div(plan->tiles, most));
    if (ceil_div(block, L) * L <= most)
        block = ceil_div(block, L) * L;
    plan->block = min_size(block, plan->tiles);
    plan->v_stride = plane_stride((size_t)g->cg * plan->block);
    plan->m_stride = plane_stride((size_t)g->ocg * plan->block);
    plan->bytes = points * (plan->v_stride + plan->m_stride) * sizeof(float);
}

cc_status cc__winograd_pack(const cc__conv_geom *g, const cc__winograd_plan *plan,
                            const float *oihw, float **packed)
{
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    size_t count;
    if (!cc__mul_sizes(&count, 2, points, (size_t)g->oc * (size_t)g->cg))
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: Winograd weights overflow size_t");
    *packed = cc__alloc_array(count, sizeof(float), "conv2d: Winograd weights");
    if (*packed == NULL)
        return CC_ERR_NOMEM;
    const size_t cg = (size_t)g->cg, ocg = (size_t)g->ocg;
    float u[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    for (size_t oc = 0; oc < (size_t)g->oc; oc++) {
        const size_t group = oc / ocg, o = oc % ocg;
        float *group_base = *packed + group * points * ocg * cg;
        for (size_t c = 0; c < cg; c++) {
            cc__wino_weight(plan->m, oihw + (oc * cg + c) * 9, u);
            for (size_t p = 0; p < points; p++) {
                const size_t at = g->layout == CC_NCHW ? (p * ocg + o) * cg + c
                                                       : (p * cg + c) * ocg + o;
                group_base[at] = u[p];
            }
        }
    }
    return CC_OK;
}

/* The first `lanes` of a lane group to memory (a constant-size copy when
 * the group is full, which compiles to vector moves). */
static inline void copy_lanes(float *to, const cc__wino_lanes from, size_t lanes)
{
    if (lanes == L)
        memcpy(to, from, L * sizeof(float));
    else
        memcpy(to, from, lanes * sizeof(float));
}

/* A lane group from memory, zeros past `lanes`. */
static inline void load_lanes(cc__wino_lanes to, const float *from, size_t lanes)
{
    if (lanes == L) {
        memcpy(to, from, L * sizeof(float));
    } else {
        memcpy(to, from, lanes * sizeof(float));
        memset(to + lanes, 0, (L - lanes) * sizeof(float));
    }
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
    float *v, *mm;       /* transformed input and output of the block */
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
        lt->rows[l] = (int)min_size((size_t)m, (size_t)g->oh - o.y0);
        lt->cols[l] = (int)min_size((size_t)m, (size_t)g->ow - o.x0);
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

/* NHWC: lanes are channels c0 .. c0 + lanes - 1 of tile t. */
static void gather_nhwc(const block_run *b, size_t t, size_t c0, size_t lanes, cc__wino_lanes *d)
{
    const cc__conv_geom *g = &b->op->g;
    const int alpha = b->op->wino.alpha;
    const tile_origin o = origin_of(&b->op->wino, t);
    const long y0 = (long)o.y0 - g->pt, x0 = (long)o.x0 - g->pl;
    const bool inside = y0 >= 0 && y0 + alpha <= g->h && x0 >= 0 && x0 + alpha <= g->w;
    if (!inside)
        memset(d, 0, (size_t)alpha * (size_t)alpha * sizeof *d);
    for (int i = 0; i < alpha; i++) {
        const long y = y0 + i;
        if (y < 0 || y >= g->h)
            continue;
        for (int j = 0; j < alpha; j++) {
            const long x = x0 + j;
            if (x < 0 || x >= g->w)
                continue;
            const float *pixel = b->io->input +
                                 ((o.n * (size_t)g->h + (size_t)y) * (size_t)g->w + (size_t)x) *
                                     (size_t)g->c +
                                 b->group * (size_t)g->cg + c0;
            load_lanes(d[i * alpha + j], pixel, lanes);
        }
    }
}

/* Channels an NCHW item covers: the tiles' locations are computed once for
 * all of them, and there are still enough items to share. */
#define CHANNELS_PER_ITEM ((size_t)16)

/* Input phase, one item: a lane group of tiles for CHANNELS_PER_ITEM
 * channels (NCHW), or one tile for a lane group of channels (NHWC). */
static void transform_input_item(const block_run *b, size_t item)
{
    const cc__conv_geom *g = &b->op->g;
    const int alpha = b->op->wino.alpha;
    const size_t points = (size_t)alpha * (size_t)alpha, block = b->op->wino.block;
    const size_t cg = (size_t)g->cg, v_stride = b->op->wino.v_stride;
    cc__wino_lanes d[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    cc__wino_lanes v[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    if (g->layout == CC_NCHW) {
        const size_t chunks = ceil_div(cg, CHANNELS_PER_ITEM);
        const size_t first = item / chunks * L, c_lo = item % chunks * CHANNELS_PER_ITEM;
        lane_tiles lt;
        locate_tiles(b, b->start + first, min_size(L, b->count - first), &lt);
        for (size_t c = c_lo; c < min_size(cg, c_lo + CHANNELS_PER_ITEM); c++) {
            const float *plane = b->io->input +
                                 (b->group * cg + c) * (size_t)g->h * (size_t)g->w;
            gather_nchw(b, &lt, plane, d);
            b->transforms.input(b->op->wino.m, d, v);
            for (size_t p = 0; p < points; p++)
                copy_lanes(b->v + p * v_stride + c * block + first, v[p], lt.lanes);
        }
    } else {
        const size_t groups_of_channels = ceil_div(cg, L);
        const size_t t = item / groups_of_channels, c0 = item % groups_of_channels * L;
        const size_t lanes = min_size(L, cg - c0);
        gather_nhwc(b, b->start + t, c0, lanes, d);
        b->transforms.input(b->op->wino.m, d, v);
        for (size_t p = 0; p < points; p++)
            copy_lanes(b->v + p * v_stride + t * cg + c0, v[p], lanes);
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

/* GEMM phase, one item: transform point p of the block's group. */
static void multiply_point(const block_run *b, size_t p, const float *weights)
{
    const cc__conv_geom *g = &b->op->g;
    const size_t points = (size_t)b->op->wino.alpha * (size_t)b->op->wino.alpha;
    const size_t cg = (size_t)g->cg, ocg = (size_t)g->ocg, block = b->op->wino.block;
    const float *u = weights + (b->group * points + p) * ocg * cg;
    if (g->layout == CC_NCHW)
        cc__sgemm(ocg, b->count, cg, u, cg, b->v + p * b->op->wino.v_stride, block, 0.0f,
                  b->mm + p * b->op->wino.m_stride, block);
    else
        cc__sgemm(b->count, ocg, cg, b->v + p * b->op->wino.v_stride, cg, u, ocg, 0.0f,
                  b->mm + p * b->op->wino.m_stride, ocg);
}

/* y[k][lane] += bias[lane] over a tile's m*m outputs, then the activation,
 * unless a residual is still to come (the scatter adds it, then activates). */
static void finish_lanes(const block_run *b, const cc__wino_lanes bias, cc__wino_lanes *y)
{
    const int values = b->op->wino.m * b->op->wino.m;
    const cc_act act = b->io->residual != NULL ? CC_ACT_NONE : b->op->g.act;
    for (int k = 0; k < values; k++)
        for (int l = 0; l < L; l++)
            y[k][l] += bias[l];
    if (act == CC_ACT_RELU) {
        for (int k = 0; k < values; k++)
            for (int l = 0; l < L; l++)
                y[k][l] = y[k][l] < 0.0f ? 0.0f : y[k][l];
    } else if (act != CC_ACT_NONE) {
        for (int k = 0; k < values; k++)
            for (int l = 0; l < L; l++)
                y[k][l] = cc__activate(y[k][l], act);
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

/* NHWC: tile t's outputs for channels o0 .. o0 + lanes - 1 of the group. */
static void scatter_nhwc(const block_run *b, size_t t, size_t o0, size_t lanes,
                         cc__wino_lanes *y)
{
    const cc__conv_geom *g = &b->op->g;
    const int m = b->op->wino.m;
    const tile_origin origin = origin_of(&b->op->wino, t);
    const size_t rows = min_size((size_t)m, (size_t)g->oh - origin.y0);
    const size_t cols = min_size((size_t)m, (size_t)g->ow - origin.x0);
    const size_t oc0 = b->group * (size_t)g->ocg + o0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            const size_t at =
                ((origin.n * (size_t)g->oh + origin.y0 + i) * (size_t)g->ow + origin.x0 + j) *
                    (size_t)g->oc + oc0;
            float *out = b->io->output + at;
            if (b->io->residual == NULL) {
                copy_lanes(out, y[i * (size_t)m + j], lanes);
                continue;
            }
            for (size_t l = 0; l < lanes; l++)
                out[l] = output_value(b, y[i * (size_t)m + j][l], at + l);
        }
}

/* Output phase, one item, cut as the input phase's. */
static void transform_output_item(const block_run *b, size_t item)
{
    const cc__conv_geom *g = &b->op->g;
    const int alpha = b->op->wino.alpha;
    const size_t points = (size_t)alpha * (size_t)alpha, block = b->op->wino.block;
    const size_t ocg = (size_t)g->ocg, m_stride = b->op->wino.m_stride;
    const float *bias = b->op->bias;
    cc__wino_lanes x[CC__WINO_MAX_ALPHA * CC__WINO_MAX_ALPHA];
    cc__wino_lanes y[(CC__WINO_MAX_ALPHA - 2) * (CC__WINO_MAX_ALPHA - 2)];
    cc__wino_lanes bias_lanes = {0};
    if (g->layout == CC_NCHW) {
        const size_t chunks = ceil_div(ocg, CHANNELS_PER_ITEM);
        const size_t first = item / chunks * L, o_lo = item % chunks * CHANNELS_PER_ITEM;
        lane_tiles lt;
        locate_tiles(b, b->start + first, min_size(L, b->count - first), &lt);
        for (size_t o = o_lo; o < min_size(ocg, o_lo + CHANNELS_PER_ITEM); o++) {
            const size_t oc = b->group * ocg + o;
            for (size_t p = 0; p < points; p++)
                load_lanes(x[p], b->mm + p * m_stride + o * block + first, lt.lanes);
            b->transforms.output(b->op->wino.m, x, y);
            for (int l = 0; l < L; l++)
                bias_lanes[l] = bias != NULL ? bias[oc] : 0.0f;
            finish_lanes(b, bias_lanes, y);
            scatter_nchw(b, &lt, oc * (size_t)g->oh * (size_t)g->ow, y);
        }
    } else {
        const size_t groups_of_channels = ceil_div(ocg, L);
        const size_t t = item / groups_of_channels, o0 = item % groups_of_channels * L;
        const size_t lanes = min_size(L, ocg - o0);
        for (size_t p = 0; p < points; p++)
            load_lanes(x[p], b->mm + p * m_stride + t * ocg + o0, lanes);
        b->transforms.output(b->op->wino.m, x, y);
        if (bias != NULL)
            memcpy(bias_lanes, bias + b->group * ocg + o0, lanes * sizeof(float));
        finish_lanes(b, bias_lanes, y);
        scatter_nhwc(b, b->start + t, o0, lanes, y);
    }
}

/* The three phases of one block and group, inside a parallel region: each
 * `omp for` ends with the barrier the next phase needs. */
static void run_block(const block_run *b)
{
    const size_t points = (size_t)b->op->wino.alpha * (size_t)b->op->wino.alpha;
    const size_t inputs = phase_items(b, (size_t)b->op->g.cg);
    const size_t outputs = phase_items(b, (size_t)b->op->g.ocg);
#pragma omp for schedule(static)
    for (size_t item = 0; item < inputs; item++)
        transform_input_item(b, item);
#pragma omp for schedule(static)
    for (size_t p = 0; p < points; p++)
        multiply_point(b, p, b->op->weights);
#pragma omp for schedule(static)
    for (size_t item = 0; item < outputs; item++)
        transform_output_item(b, item);
}

void cc__winograd_run(const cc_conv2d *op, const cc__conv_io *io, float *workspace, int threads)
{
    const cc__winograd_plan *plan = &op->wino;
    const size_t points = (size_t)plan->alpha * (size_t)plan->alpha;
    const cc__wino_transforms transforms = cc__wino_transforms_for(op->isa);
    float *v = workspace;
    float *mm = workspace + points * plan->v_stride;
    /* One-thread GEMMs also when this run has one thread (no region). */
    const int previous = cc__blas_threads_begin(1);
#pragma omp parallel num_threads(threads) if (threads > 1)
    for (size_t start = 0; start < plan->tiles; start += plan->block)
        for (size_t group = 0; group < (size_t)op->g.groups; group++) {
            const block_run b = {op,    io,    transforms, start, min_size(plan->block, plan->tiles - start),
                                 group, v,     mm};
            run_block(&b);
        }
    cc__blas_threads_end(previous);
}
