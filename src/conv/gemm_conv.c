/* The GEMM paths, im2col and 1x1: plan the tiles, pack the weights, and run
 * the units of work (see cc__gemm_plan in conv_internal.h for the layouts).
 *
 * Packed weights:
 *   NCHW: [group][k block][OCg][kc], kc the block's length: block b of a
 *         group is the OCg x kc row-major A operand (lda = kc). With one
 *         block this is OIHW unchanged.
 *   NCHW with pixel_rows: W^T, the B operand of out^T = col^T W^T (whose
 *         A, col^T, is the col tile or the input read transposed in
 *         place), per group in panels of 64 output channels
 *         (cc__gemm_unpacked_panels): [group][panel][K][width], so that
 *         each panel streams in order. The unpacked kernel's vectors run
 *         along a row of the product, 64 columns a panel on AVX-512: on
 *         images of fewer pixels than that (ResNet's and GoogLeNet's 7 x 7,
 *         49 pixels, padded to 64) they run along the output channels
 *         instead, and the product's tile [pixels][OCg] is transposed into
 *         the output. (ResNet-50's layer4 1x1, 2048 x 49 x 512 on one Zen 5
 *         core, operands in cache: 146 GFLOP/s as C = W col, 168 as C^T.)
 *   NHWC: [group][K][OCg] with K in (ky, kx, channel) order: the K x OCg
 *         row-major B operand; block b is rows [k0, k0 + kc). On the
 *         unpacked kernel (nhwc_panels) the same B in panels of 64 output
 *         channels, [group][panel][K][width], as NCHW's pixel_rows: a
 *         block's rows of a panel are one run of floats, where rows of
 *         OCg floats had the kernel read 256 bytes every OCg floats, a page
 *         apart on 1024 channels, which the hardware prefetchers do not
 *         follow (weights come from memory inside a network). */
#include <omp.h>

#include "../core/parallel.h"
#include "epilogue.h"
#include "gemm.h"
#include "im2col.h"

/* Default workspace of one thread: a 4 MiB col tile stays in L3 and holds a
 * 1024 x 1024 block, large enough on both sides for SGEMM to run at speed. */
#define DEFAULT_TILE_BUDGET ((size_t)4 << 20)
/* NHWC im2col on the unpacked kernel (AVX-512), which packs nothing per
 * call: a col tile of 1 MiB, an L2, at most. A layer's rows then make several
 * units, which threads take whole (each copying and multiplying its own
 * rows), where one 4 MiB tile left two threads splitting each product's
 * 64-column panels, each reading the col rows the other copied: Zen 5, 2
 * threads, 128 x 28x28 3x3 1.13 -> 0.57 ms, 128 x 56x56 3x3 stride 2 1.03
 * -> 0.58, 96 -> 256 5x5 at 27x27 2.9 -> 2.2 (1 thread within the noise
 * either way; 64 x 56x56 3x3, 2 tiles before, 7 now, 1.16 / 0.62 -> 1.23 /
 * 0.65, a layer that runs on Winograd). */
#define UNPACKED_TILE_BUDGET ((size_t)1 << 20)
/* NCHW on the unpacked kernel, layers of this many input channels per
 * group or fewer (first layers: K of 27 to 363) take the same 1 MiB: with
 * 4 MiB their col tiles (38836 pixels of VGG's conv1_1) went to L3 and
 * back between the copy and the product. Zen 5, 1 / 2 threads, medians of
 * the two in one process, ms: VGG's 3 -> 64 at 224x224 1.63 -> 1.40 / 0.89
 * -> 0.81, ResNet's 7x7/2 3.15 -> 3.00 / 1.62 -> 1.32, AlexNet's 11x11/4
 * 1.70 -> 1.70 / 1.24 -> 1.02; from 16 inputs (K 144 to 1152) within
 * 0.96-1.09x either way. */
#define UNPACKED_FIRST_LAYER_MAX_INPUTS 4
/* The narrowest tile worth a GEMM call. */
#define MIN_TILE 64
/* pixel_rows: images of fewer pixels than the unpacked kernel's panel, and
 * output channels for whole panels of it. */
#define PIXEL_ROWS_MAX_PIXELS 64
#define PIXEL_ROWS_MIN_CHANNELS 64

static size_t tile_budget = DEFAULT_TILE_BUDGET;

size_t cc__tile_budget_bytes(void) { return tile_budget; }

void cc__set_tile_budget_bytes(size_t bytes)
{
    tile_budget = bytes > 0 ? bytes : DEFAULT_TILE_BUDGET;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* The largest side s with s * s <= floats. */
static size_t square_side(size_t floats)
{
    size_t side = 1;
    while ((side + 1) * (side + 1) <= floats)
        side++;
    return side;
}

/* Cuts `total` into equal parts of at most `most`; a part below the total is
 * rounded up to a multiple of 16 (aligned starts for the kernels). */
static size_t balanced_part(size_t total, size_t most)
{
    const size_t part = ceil_div(total, ceil_div(total, most));
    return part < total ? cc__min_size(total, ceil_div(part, 16) * 16) : total;
}

/* The col tile is a k_block x tile block of `floats` at most. Each tile
 * repacks its slice of the weights inside SGEMM and each K block re-reads the
 * output tile, so both sides are kept large: K whole when it fits beside a
 * square tile, else square-ish blocks. */
static void choose_blocks(size_t k, size_t pixels, size_t floats, cc__gemm_plan *plan)
{
    const size_t side = square_side(floats);
    const size_t min_tile = cc__min_size(MIN_TILE, pixels);
    size_t k_block;
    if (k * cc__min_size(pixels, side) <= floats)
        k_block = k;
    else if (pixels <= side)
        k_block = floats / pixels;
    else
        k_block = side;
    k_block = balanced_part(k, k_block > 0 ? k_block : 1);
    if (k_block > floats / min_tile)
        k_block = floats / min_tile > 0 ? floats / min_tile : 1;
    size_t tile = floats / k_block;
    plan->k_block = k_block;
    plan->tile = balanced_part(pixels, tile > min_tile ? tile : min_tile);
}

void cc__gemm_plan_init(const cc__conv_geom *g, bool is_1x1_path, size_t budget,
                        cc__gemm_plan *plan)
{
    const size_t k = cc__geom_k(g);
    const size_t pixels = g->layout == CC_NCHW ? cc__geom_pixels(g)
                                               : (size_t)g->n * cc__geom_pixels(g);
    plan->copy_free = is_1x1_path && g->sh == 1 && g->sw == 1;
    plan->pixel_rows = g->layout == CC_NCHW && cc__gemm_unpacked_wanted() &&
                       pixels < PIXEL_ROWS_MAX_PIXELS && g->ocg >= PIXEL_ROWS_MIN_CHANNELS;
    plan->nhwc_panels = g->layout == CC_NHWC && cc__gemm_unpacked_wanted();
    const bool nchw_first_layer = g->layout == CC_NCHW && cc__gemm_unpacked_wanted() &&
                                  g->cg <= UNPACKED_FIRST_LAYER_MAX_INPUTS;
    if ((plan->nhwc_panels || nchw_first_layer) && !plan->copy_free)
        budget = cc__min_size(budget, UNPACKED_TILE_BUDGET);
    choose_blocks(k, pixels, budget / sizeof(float), plan);
    if (plan->copy_free)
        plan->k_block = k;
    plan->tiles = ceil_div(pixels, plan->tile);
    const size_t outer = plan->tiles * (size_t)g->groups * (g->layout == CC_NCHW ? (size_t)g->n : 1);
    plan->units = outer;
    plan->tile_bytes = plan->copy_free ? 0 : plan->k_block * plan->tile * sizeof(float);
    if (plan->pixel_rows)
        plan->tile_bytes += plan->tile * (size_t)g->ocg * sizeof(float);
}

/* Our threads over the units when there are enough to share evenly;
 * otherwise one GEMM at a time with OpenBLAS's threads. */
cc_threading cc__gemm_threading(const cc__gemm_plan *plan, int threads)
{
    const size_t t = (size_t)threads;
    if (threads > 1 && (plan->units >= 2 * t || (plan->units >= t && plan->units % t == 0)))
        return CC_THREADS_TILES;
    return CC_THREADS_BLAS;
}

static void pack_nchw(const cc__conv_geom *g, const cc__gemm_plan *plan, const float *oihw,
                      float *packed)
{
    const size_t k = cc__geom_k(g);
    float *dst = packed;
    for (int group = 0; group < g->groups; group++)
        for (size_t k0 = 0; k0 < k; k0 += plan->k_block) {
            const size_t kc = cc__min_size(plan->k_block, k - k0);
            for (int o = 0; o < g->ocg; o++) {
                const float *src = oihw + ((size_t)group * g->ocg + o) * k + k0;
                for (size_t i = 0; i < kc; i++)
                    *dst++ = src[i];
            }
        }
}

/* The index in a group's K x OCg B operand of row i, column o: row-major,
 * or in panels (cc__gemm_unpacked_panels). */
static size_t b_index(size_t i, size_t o, size_t k, size_t ocg, bool panels)
{
    if (!panels)
        return i * ocg + o;
    const size_t j0 = o / GEMM_PANEL_COLUMNS * GEMM_PANEL_COLUMNS;
    const size_t width = cc__min_size(GEMM_PANEL_COLUMNS, ocg - j0);
    return j0 * k + i * width + (o - j0);
}

/* pixel_rows: each group's OCg x K block of OIHW transposed, in panels. */
static void pack_nchw_panels(const cc__conv_geom *g, const float *oihw, float *packed)
{
    const size_t k = cc__geom_k(g), ocg = (size_t)g->ocg;
    for (int group = 0; group < g->groups; group++) {
        const float *w = oihw + (size_t)group * ocg * k;
        float *b = packed + (size_t)group * k * ocg;
        for (size_t o = 0; o < ocg; o++)
            for (size_t i = 0; i < k; i++)
                b[b_index(i, o, k, ocg, true)] = w[o * k + i];
    }
}

static void pack_nhwc(const cc__conv_geom *g, const float *oihw, bool panels, float *packed)
{
    const size_t k = cc__geom_k(g), taps = (size_t)g->kh * g->kw, ocg = (size_t)g->ocg;
    for (int group = 0; group < g->groups; group++) {
        float *b = packed + (size_t)group * k * ocg;
        for (size_t o = 0; o < ocg; o++)
            for (int ci = 0; ci < g->cg; ci++)
                for (size_t tap = 0; tap < taps; tap++) {
                    const float w = oihw[(((size_t)group * ocg + o) * g->cg + ci) * taps + tap];
                    b[b_index(tap * g->cg + ci, o, k, ocg, panels)] = w;
                }
    }
}

cc_status cc__gemm_pack_weights(const cc__conv_geom *g, const cc__gemm_plan *plan,
                                const float *oihw, float **packed)
{
    *packed = cc__alloc_array(cc__geom_weight_floats(g), sizeof(float), "conv2d: packed weights");
    if (*packed == NULL)
        return CC_ERR_NOMEM;
    if (g->layout == CC_NCHW && plan->pixel_rows)
        pack_nchw_panels(g, oihw, *packed);
    else if (g->layout == CC_NCHW)
        pack_nchw(g, plan, oihw, *packed);
    else
        pack_nhwc(g, oihw, plan->nhwc_panels, *packed);
    return CC_OK;
}

/* out[o][p] (rows ldo apart) = product[p][o], p < pixels, o < channels, in
 * blocks of channels over `threads` threads. */
static void transpose_into(const float *product, size_t pixels, size_t channels, float *out,
                           size_t ldo, int threads)
{
    const int team = omp_in_parallel() ? 1 : threads;
    const size_t blocks = ceil_div(channels, GEMM_PANEL_COLUMNS);
    CC__PARALLEL_FOR(size_t, block, blocks, team, {
        const size_t o0 = block * GEMM_PANEL_COLUMNS;
        const size_t o1 = cc__min_size(channels, o0 + GEMM_PANEL_COLUMNS);
        for (size_t o = o0; o < o1; o++)
            for (size_t p = 0; p < pixels; p++)
                out[o * ldo + p] = product[p * channels + o];
    });
}

/* One NCHW unit: image n, group, column tile. */
static void run_unit_nchw(const cc_conv2d *op, size_t unit, const cc__conv_io *io, float *col,
                          int threads, bool unpacked)
{
    const cc__conv_geom *g = &op->g;
    const cc__gemm_plan *plan = &op->plan;
    const size_t pixels = cc__geom_pixels(g), k = cc__geom_k(g);
    const size_t mc = (size_t)g->ocg;
    const size_t n = unit / (plan->tiles * g->groups);
    const int group = (int)(unit / plan->tiles % g->groups);
    const size_t p0 = unit % plan->tiles * plan->tile;
    const size_t pc = cc__min_size(plan->tile, pixels - p0);
    const size_t plane = (size_t)g->h * g->w;
    const float *image_group = io->input + (n * g->c + (size_t)group * g->cg) * plane;
    const size_t out_offset = (n * g->oc + (size_t)group * g->ocg) * pixels + p0;
    float *out = io->output + out_offset;
    const float *weights = op->weights + (size_t)group * g->ocg * k;
    /* pixel_rows: the product's [pc][OCg] tile after the col tile (col is
     * NULL for a copy-free layer without pixel_rows: no workspace). */
    float *product =
        plan->pixel_rows ? col + (plan->copy_free ? 0 : plan->k_block * plan->tile) : NULL;
    const float *bias = op->bias != NULL ? op->bias + (size_t)group * g->ocg : NULL;
    const float *residual = io->residual != NULL ? io->residual + out_offset : NULL;
    /* The unpacked kernel's rows are output channels here: bias per row. */
    const bool fused = unpacked && !plan->pixel_rows && !cc__act_is_curve(g->act);
    const cc__gemm_epilogue epilogue = {bias, true, residual, g->act};
    for (size_t k0 = 0; k0 < k; k0 += plan->k_block) {
        const size_t kc = cc__min_size(plan->k_block, k - k0);
        const bool last = k0 + kc == k;
        const float *b = image_group + k0 * plane + p0;
        size_t ldb = plane;
        if (!plan->copy_free) {
            cc__im2col_nchw(g, image_group, k0, kc, p0, pc, col, threads);
            b = col;
            ldb = pc;
        }
        if (plan->pixel_rows)
            cc__gemm_unpacked_panels(pc, mc, kc, b, 1, ldb, weights, k, k0, k0 > 0, product, mc,
                                     threads, true, NULL);
        else if (unpacked)
            cc__gemm_unpacked(mc, pc, kc, weights + k0 * g->ocg, kc, 1, b, ldb, k0 > 0, out,
                              pixels, threads, false, fused && last ? &epilogue : NULL);
        else
            cc__sgemm(mc, pc, kc, weights + k0 * g->ocg, kc, b, ldb, k0 == 0 ? 0.0f : 1.0f,
                      out, pixels);
    }
    if (plan->pixel_rows)
        transpose_into(product, pc, mc, out, pixels, threads);
    if (!fused)
        cc__epilogue_rows(out, mc, pc, pixels, bias, residual, g->act, op->isa, threads);
}

/* One NHWC unit: group, row tile over the batch's output pixels. */
static void run_unit_nhwc(const cc_conv2d *op, size_t unit, const cc__conv_io *io, float *col,
                          int threads, bool unpacked)
{
    const cc__conv_geom *g = &op->g;
    const cc__gemm_plan *plan = &op->plan;
    const size_t rows = (size_t)g->n * cc__geom_pixels(g), k = cc__geom_k(g);
    const size_t mc = (size_t)g->ocg;
    const int group = (int)(unit / plan->tiles);
    const size_t r0 = unit % plan->tiles * plan->tile;
    const size_t rc = cc__min_size(plan->tile, rows - r0);
    const size_t ldc = cc__io_pixel_stride(io, g);
    const size_t out_offset = r0 * ldc + (size_t)group * g->ocg;
    float *out = io->output + out_offset;
    const float *weights = op->weights + (size_t)group * k * g->ocg;
    const float *bias = op->bias != NULL ? op->bias + (size_t)group * g->ocg : NULL;
    const float *residual = io->residual != NULL ? io->residual + out_offset : NULL;
    /* The unpacked kernel applies the epilogue as it stores the last K
     * block's sums: a pass of its own over the output cost MobileNet-v2's
     * 16 -> 96 1x1 at 112x112 31% of its time (Zen 5, 1 thread). */
    const bool fused = plan->nhwc_panels && !cc__act_is_curve(g->act);
    const cc__gemm_epilogue epilogue = {bias, false, residual, g->act};
    for (size_t k0 = 0; k0 < k; k0 += plan->k_block) {
        const size_t kc = cc__min_size(plan->k_block, k - k0);
        const bool last = k0 + kc == k;
        const float *a = io->input + r0 * g->c + (size_t)group * g->cg + k0;
        size_t lda = (size_t)g->c;
        if (!plan->copy_free) {
            cc__im2col_nhwc(g, io->input, group, r0, rc, k0, kc, col, threads);
            a = col;
            lda = kc;
        }
        if (plan->nhwc_panels)
            cc__gemm_unpacked_panels(rc, mc, kc, a, lda, 1, weights, k, k0, k0 > 0, out, ldc,
                                     threads, true, fused && last ? &epilogue : NULL);
        else if (unpacked)
            cc__gemm_unpacked(rc, mc, kc, a, lda, 1, weights + k0 * g->ocg, (size_t)g->ocg,
                              k0 > 0, out, ldc, threads, true, NULL);
        else
            cc__sgemm(rc, mc, kc, a, lda, weights + k0 * g->ocg, (size_t)g->ocg,
                      k0 == 0 ? 0.0f : 1.0f, out, ldc);
    }
    if (!fused)
        cc__epilogue_cols(out, rc, mc, ldc, bias, residual, g->act, op->isa, threads);
}

static void run_unit(const cc_conv2d *op, size_t unit, const cc__conv_io *io, float *col,
                     int threads, bool unpacked)
{
    if (op->g.layout == CC_NCHW)
        run_unit_nchw(op, unit, io, col, threads, unpacked);
    else
        run_unit_nhwc(op, unit, io, col, threads, unpacked);
}

void cc__gemm_conv_run(const cc_conv2d *op, const cc__conv_io *io, float *workspace,
                       int tile_threads, int blas_threads)
{
    const size_t units = op->plan.units;
    const size_t tile_floats = op->plan.tile_bytes / sizeof(float);
    const bool unpacked = cc__gemm_unpacked_wanted();
    if (tile_threads > 1) {
        /* Inside this region OpenBLAS's OpenMP build runs each call on one thread. */
#pragma omp parallel num_threads(tile_threads)
        {
            float *col =
                tile_floats > 0 ? workspace + (size_t)omp_get_thread_num() * tile_floats : NULL;
#pragma omp for schedule(dynamic, 1)
            for (size_t unit = 0; unit < units; unit++)
                run_unit(op, unit, io, col, 1, unpacked);
        }
        return;
    }
    const int previous = cc__blas_threads_begin(blas_threads);
    for (size_t unit = 0; unit < units; unit++)
        run_unit(op, unit, io, workspace, blas_threads, unpacked);
    cc__blas_threads_end(previous);
}
