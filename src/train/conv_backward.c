/* The training run's convolution, forward and backward, over im2col tiles
 * and SGEMM; see conv_backward.h for the products and the threading.
 *
 * Workspace: [Wp: packed_floats (NHWC)] then one slot per thread, each a
 * col tile (col_floats), a gradient accumulator (acc_floats: OC * K in the
 * layout's tap order, or K * OC (NCHW, transposed) when the products run on
 * the unpacked kernel, then OC for the bias) and a tile of the output
 * gradient transposed (dy_floats), every part rounded up to 16 floats so
 * that each starts 64-byte aligned. */
#include <limits.h>
#include <omp.h>
#include <string.h>

#include "../conv/gemm.h"
#include "../conv/im2col.h"
#include "../core/core.h"
#include "../core/parallel.h"
#include "../layers/kernels.h"
#include "conv_backward.h"

/* One col tile holds at most this many floats (2 MiB): it stays in L2/L3
 * beside the GEMM's packed operands. */
#define TILE_BUDGET_FLOATS ((size_t)1 << 19)

static size_t tile_budget = TILE_BUDGET_FLOATS;

void cc__conv_train_set_tile_budget(size_t floats)
{
    tile_budget = floats > 0 ? floats : TILE_BUDGET_FLOATS;
}
/* A layer keeps its whole batch's col blocks from the forward for the
 * backward's weight gradient (one im2col instead of two) when an image's
 * block is one tile and the batch's fit in this many floats (64 MiB):
 * small layers, such as LeNet's, whose im2col costs as much as their
 * GEMMs. */
#define SAVE_BUDGET_FLOATS ((size_t)1 << 24)
/* The narrowest tile worth a GEMM call. */
#define MIN_TILE 64

static size_t round16(size_t floats) { return (floats + 15) / 16 * 16; }

static size_t slot_floats(const cc__conv_train *t)
{
    return round16(t->col_floats) + round16(t->acc_floats) + round16(t->dy_floats);
}

/* 1x1, stride 1, no padding: the input itself is the col operand. */
static bool copy_free(const cc__conv_geom *g)
{
    return cc__geom_is_pointwise(g) && g->sh == 1 && g->sw == 1;
}

cc_status cc__conv_train_init(const cc__conv_geom *g, int threads, cc__conv_train *t)
{
    memset(t, 0, sizeof *t);
    t->g = *g;
    t->g.act = CC_ACT_NONE;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g);
    if (k > INT_MAX || pixels > INT_MAX || (size_t)g->c * g->h * g->w > INT_MAX)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "conv training: a GEMM size (K = %zu, pixels = %zu) exceeds an int", k,
                        pixels);
    const size_t fit = tile_budget / k;
    t->tile = cc__min_size(pixels, fit > MIN_TILE ? fit : MIN_TILE);
    size_t saved;
    if (!copy_free(g) && t->tile == pixels &&
        cc__mul_sizes(&saved, 4, k, pixels, (size_t)g->n, (size_t)g->groups) &&
        saved <= SAVE_BUDGET_FLOATS) {
        t->saved_floats = saved;
    }
    t->threads = threads > 1 ? threads : 1;
    size_t weights = cc__geom_weight_floats(g), slot, all;
    t->col_floats = k * t->tile;
    t->acc_floats = weights + (size_t)g->oc;
    t->packed_floats = g->layout == CC_NHWC ? weights : 0;
    t->dy_floats = g->layout == CC_NCHW ? (size_t)g->ocg * t->tile : 0;
    slot = slot_floats(t);
    if (!cc__mul_size(slot, (size_t)t->threads, &all) ||
        !cc__add_size(all, round16(t->packed_floats), &all) ||
        !cc__mul_size(all, sizeof(float), &t->workspace_bytes))
        return cc__fail(CC_ERR_INVALID_ARG, "conv training: the workspace size overflows");
    return CC_OK;
}

/* Threads over images for a call on `images` images now: > 1 only when
 * each thread gets at least one image. */
static int image_threads(const cc__conv_train *t, int images)
{
    int threads = cc__run_threads();
    if (threads > t->threads)
        threads = t->threads;
    return threads > 1 && images >= threads ? threads : 1;
}

static int blas_threads(const cc__conv_train *t)
{
    const int threads = cc__run_threads();
    return threads < t->threads ? threads : t->threads;
}

/* ---- the products ---------------------------------------------------------
 * A product that runs on one thread (images over threads, or one thread in
 * all) goes to the layer kernels' unpacked GEMM (kernels.h) on CPUs with
 * AVX2 or AVX-512: OpenBLAS runs its AVX2 kernels on both and packs both
 * operands on every call, which for these per-image products costs as much
 * as the product (LeNet's second layer, forward 50 x 64 x 500, one Zen 5
 * core, quiet: the AVX-512 kernel 239 GFLOP/s, the AVX2 one 115, OpenBLAS
 * 100-103; input gradient 500 x 64 x 50: 231, 119 and 112-115). The weight
 * gradient takes the unpacked kernel on AVX-512 only (its AVX2 family, 8
 * accumulators, 80 against OpenBLAS's 107 on 500 x 50 x 64). Its panels are
 * 64 columns wide: with fewer output channels per group than half that, a
 * weight gradient goes to the sums of row products instead (LeNet's first
 * layer, 25 x 20 x 576: the GEMM 23-29 GFLOP/s, OpenBLAS 46-67). */
#define UNPACKED_MIN_COLUMNS 32

static const cc__layer_kernels *unpacked_kernels(const cc__conv_train *t, int team)
{
    if (cc__cpu_isa() == CC__ISA_SCALAR || (team == 1 && blas_threads(t) > 1))
        return NULL;
    return cc__layer_kernels_get();
}

/* NCHW on AVX-512: the weight gradient is accumulated transposed,
 * [K][OC/groups] per group, by the unpacked kernel (its columns are the
 * output channels). */
static bool transposed_accumulator(const cc__conv_train *t, const cc__layer_kernels *kernels)
{
    return kernels != NULL && cc__cpu_isa() == CC__ISA_AVX512 && t->g.layout == CC_NCHW &&
           t->g.ocg >= UNPACKED_MIN_COLUMNS;
}

/* dst [cols][rows] = src [rows][cols] (src rows src_stride apart). */
static void transpose(const float *src, size_t src_stride, size_t rows, size_t cols, float *dst)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * src_stride + c];
}

/* ---- whole-image col blocks without padding ------------------------------
 * With no padding and unit stride along rows, an image's col block is made
 * of runs of input that need no bounds: NCHW, each (channel, ky, kx, oy) row
 * is OW consecutive floats; NHWC with one group, each (pixel, ky) holds KW *
 * C consecutive floats (dilation 1 along rows). The general im2col's span
 * arithmetic and zero fills cost more than these short copies (LeNet's rows
 * are 8 and 24 floats; its first layer has one channel). */
static bool dense_nchw(const cc__conv_train *t)
{
    const cc__conv_geom *g = &t->g;
    return t->tile == cc__geom_pixels(g) && g->sw == 1 && g->pt == 0 && g->pb == 0 &&
           g->pl == 0 && g->pr == 0;
}

static bool dense_nhwc(const cc__conv_train *t)
{
    return dense_nchw(t) && t->g.dw == 1 && t->g.groups == 1;
}

/* Where the run of (c, ky, kx, oy) starts in an NCHW image's group. */
static size_t nchw_run(const cc__conv_geom *g, int c, int ky, int kx, int oy)
{
    return (size_t)c * g->h * g->w + (size_t)(oy * g->sh + ky * g->dh) * g->w +
           (size_t)kx * g->dw;
}

/* col [K x OH*OW] of one image's group (NCHW). */
static void dense_gather_nchw(const cc__conv_geom *g, const float *image_group, float *col)
{
    for (int c = 0; c < g->cg; c++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++)
                for (int oy = 0; oy < g->oh; oy++, col += g->ow) {
                    const float *in = image_group + nchw_run(g, c, ky, kx, oy);
                    for (int ox = 0; ox < g->ow; ox++)
                        col[ox] = in[ox];
                }
}

/* Its adjoint: col added into the image group's gradient. */
static void dense_scatter_nchw(const cc__conv_geom *g, const float *col, float *grad_group)
{
    for (int c = 0; c < g->cg; c++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++)
                for (int oy = 0; oy < g->oh; oy++, col += g->ow) {
                    float *in = grad_group + nchw_run(g, c, ky, kx, oy);
                    for (int ox = 0; ox < g->ow; ox++)
                        in[ox] += col[ox];
                }
}

/* Where the run of (oy, ox, ky) starts in an NHWC image; KW * C floats. */
static size_t nhwc_run(const cc__conv_geom *g, int oy, int ox, int ky)
{
    return ((size_t)(oy * g->sh + ky * g->dh) * g->w + (size_t)ox * g->sw) * g->c;
}

/* col [OH*OW x K] of one NHWC image (one group). */
static void dense_gather_nhwc(const cc__conv_geom *g, const float *image, float *col)
{
    const size_t run = (size_t)g->kw * g->c;
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox = 0; ox < g->ow; ox++)
            for (int ky = 0; ky < g->kh; ky++, col += run) {
                const float *in = image + nhwc_run(g, oy, ox, ky);
                for (size_t i = 0; i < run; i++)
                    col[i] = in[i];
            }
}

static void dense_scatter_nhwc(const cc__conv_geom *g, const float *col, float *grad_image)
{
    const size_t run = (size_t)g->kw * g->c;
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox = 0; ox < g->ow; ox++)
            for (int ky = 0; ky < g->kh; ky++, col += run) {
                float *in = grad_image + nhwc_run(g, oy, ox, ky);
                for (size_t i = 0; i < run; i++)
                    in[i] += col[i];
            }
}

/* OIHW [OC][C/g][KH][KW] -> [OC][KH][KW][C/g]: the NHWC col's tap order. */
static void pack_taps_last(const cc__conv_geom *g, const float *oihw, float *packed)
{
    const size_t taps = (size_t)g->kh * g->kw, k = cc__geom_k(g);
    for (int o = 0; o < g->oc; o++)
        for (int ci = 0; ci < g->cg; ci++)
            for (size_t tap = 0; tap < taps; tap++)
                packed[o * k + tap * g->cg + ci] = oihw[o * k + (size_t)ci * taps + tap];
}

/* The adjoint of pack_taps_last, added into oihw. */
static void add_taps_first(const cc__conv_geom *g, const float *packed, float *oihw)
{
    const size_t taps = (size_t)g->kh * g->kw, k = cc__geom_k(g);
    for (int o = 0; o < g->oc; o++)
        for (int ci = 0; ci < g->cg; ci++)
            for (size_t tap = 0; tap < taps; tap++)
                oihw[o * k + (size_t)ci * taps + tap] += packed[o * k + tap * g->cg + ci];
}

/* ---- forward ------------------------------------------------------------ */

/* Image n's col block of group gr: its place in `saved`, or the slot's. */
static float *col_block(const cc__conv_train *t, float *saved, float *col, size_t n, int gr)
{
    if (saved == NULL)
        return col;
    return saved + (n * t->g.groups + (size_t)gr) * cc__geom_k(&t->g) * cc__geom_pixels(&t->g);
}

static void forward_image_nchw(const cc__conv_train *t, const cc__layer_kernels *kernels,
                               const float *weights, const float *bias, const float *input,
                               float *output, size_t n, float *slot, float *saved)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g), plane = (size_t)g->h * g->w;
    for (int gr = 0; gr < g->groups; gr++) {
        const float *image_group = input + (n * g->c + (size_t)gr * g->cg) * plane;
        const float *w = weights + (size_t)gr * g->ocg * k;
        for (size_t p0 = 0; p0 < pixels; p0 += t->tile) {
            const size_t pc = cc__min_size(t->tile, pixels - p0);
            float *out = output + (n * g->oc + (size_t)gr * g->ocg) * pixels + p0;
            const float *b = image_group + p0;
            size_t ldb = plane;
            if (!copy_free(g)) {
                float *col = col_block(t, saved, slot, n, gr);
                if (dense_nchw(t))
                    dense_gather_nchw(g, image_group, col);
                else
                    cc__im2col_nchw(g, image_group, 0, k, p0, pc, col, 1);
                b = col;
                ldb = pc;
            }
            if (kernels != NULL)
                kernels->gemm(g->ocg, pc, k, w, k, 1, b, ldb, out, pixels, false, NULL);
            else
                cc__sgemm(g->ocg, pc, k, w, k, b, ldb, 0.0f, out, pixels);
            for (int o = 0; bias != NULL && o < g->ocg; o++) {
                const float add = bias[gr * g->ocg + o];
                for (size_t j = 0; j < pc; j++)
                    out[o * pixels + j] += add;
            }
        }
    }
}

static void forward_image_nhwc(const cc__conv_train *t, const float *packed, const float *bias,
                               const float *input, float *output, size_t n, float *slot,
                               float *saved)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g);
    for (int gr = 0; gr < g->groups; gr++) {
        const float *w = packed + (size_t)gr * g->ocg * k;
        for (size_t r0 = n * pixels; r0 < (n + 1) * pixels; r0 += t->tile) {
            const size_t rc = cc__min_size(t->tile, (n + 1) * pixels - r0);
            float *out = output + r0 * g->oc + (size_t)gr * g->ocg;
            const float *a = input + r0 * g->c + (size_t)gr * g->cg;
            size_t lda = (size_t)g->c;
            if (!copy_free(g)) {
                float *col = col_block(t, saved, slot, n, gr);
                if (dense_nhwc(t))
                    dense_gather_nhwc(g, input + n * (size_t)g->h * g->w * g->c, col);
                else
                    cc__im2col_nhwc(g, input, gr, r0, rc, 0, k, col, 1);
                a = col;
                lda = k;
            }
            cc__sgemm_trans(false, true, rc, g->ocg, k, a, lda, w, k, 0.0f, out, g->oc);
            for (size_t r = 0; bias != NULL && r < rc; r++)
                for (int o = 0; o < g->ocg; o++)
                    out[r * g->oc + o] += bias[gr * g->ocg + o];
        }
    }
}

static void forward_image(const cc__conv_train *t, const cc__layer_kernels *kernels,
                          const float *weights, const float *bias, const float *input,
                          float *output, size_t n, float *slot, float *saved)
{
    if (t->g.layout == CC_NCHW)
        forward_image_nchw(t, kernels, weights, bias, input, output, n, slot, saved);
    else
        forward_image_nhwc(t, weights, bias, input, output, n, slot, saved);
}

/* NHWC, one group, col blocks kept, one thread over the images: the kept
 * blocks of the batch are one [N*OH*OW x K] matrix, so the batch's product
 * is one GEMM writing the output in place (no copy), instead of one per
 * image. With threads over the images the per-image path is faster (LeNet
 * NHWC batch 64, 2 threads: 12.0 ms per step this way, 8.0 per image). */
static bool batch_gemm(const cc__conv_train *t, const float *saved)
{
    return t->g.layout == CC_NHWC && t->g.groups == 1 && saved != NULL &&
           image_threads(t, t->g.n) == 1;
}

static void gather_batch_nhwc(const cc__conv_train *t, const float *input, float *saved)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g);
    const size_t image = (size_t)g->h * g->w * g->c;
    const int team = image_threads(t, g->n);
    CC__PARALLEL_FOR(int, n, g->n, team, {
        float *col = saved + (size_t)n * pixels * k;
        if (dense_nhwc(t))
            dense_gather_nhwc(g, input + (size_t)n * image, col);
        else
            cc__im2col_nhwc(g, input, 0, (size_t)n * pixels, pixels, 0, k, col, 1);
    });
}

static void forward_batch_nhwc(const cc__conv_train *t, const float *packed, const float *bias,
                               const float *input, float *output, float *saved)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), rows = (size_t)g->n * cc__geom_pixels(g);
    gather_batch_nhwc(t, input, saved);
    const int previous = cc__blas_threads_begin(blas_threads(t));
    cc__sgemm_trans(false, true, rows, g->oc, k, saved, k, packed, k, 0.0f, output, g->oc);
    cc__blas_threads_end(previous);
    for (size_t r = 0; bias != NULL && r < rows; r++)
        for (int o = 0; o < g->oc; o++)
            output[r * g->oc + o] += bias[o];
}

void cc__conv_train_forward(const cc__conv_train *t, const float *weights, const float *bias,
                            const float *input, float *output, float *workspace, int images,
                            float *saved)
{
    if (batch_gemm(t, saved) && images == t->g.n) {
        pack_taps_last(&t->g, weights, workspace);
        forward_batch_nhwc(t, workspace, bias, input, output, saved);
        return;
    }
    if (batch_gemm(t, saved))
        saved = NULL; /* kept for a forward of the whole batch only */
    const float *w = weights;
    if (t->g.layout == CC_NHWC) {
        pack_taps_last(&t->g, weights, workspace);
        w = workspace;
    }
    float *slots = workspace + round16(t->packed_floats);
    const size_t stride = slot_floats(t);
    const int team = image_threads(t, images);
    const cc__layer_kernels *kernels = unpacked_kernels(t, team);
    if (team > 1) {
#pragma omp parallel for num_threads(team) schedule(static)
        for (int n = 0; n < images; n++)
            forward_image(t, kernels, w, bias, input, output, (size_t)n,
                          slots + (size_t)omp_get_thread_num() * stride, saved);
        return;
    }
    const int previous = cc__blas_threads_begin(blas_threads(t));
    for (int n = 0; n < images; n++)
        forward_image(t, kernels, w, bias, input, output, (size_t)n, slots, saved);
    cc__blas_threads_end(previous);
}

/* ---- backward ----------------------------------------------------------- */

/* What one backward call wants, shared by the images. */
typedef struct {
    const float *weights;  /* OIHW (NCHW) or packed taps last (NHWC) */
    const float *input, *dout;
    const float *saved;    /* the forward's col blocks, or NULL */
    float *dinput;         /* NULL: not wanted */
    bool add_dinput;
    bool want_dweights, want_dbias;
    const cc__layer_kernels *kernels; /* the unpacked GEMM, or NULL: OpenBLAS */
    bool transposed_acc;              /* transposed_accumulator() */
    bool summed_dweights;             /* summed_weight_gradient() */
} backward_job;

/* NCHW on AVX-512 with the forward's col blocks kept, and too few output
 * channels for the transposed accumulator: each thread's
 * weight gradient is one sum of row products over its images
 * (add_weight_gradient_summed) instead of a GEMM per image on OpenBLAS,
 * whose packing for LeNet-5's 6 x 25 x 784 and 16 x 150 x 100 products
 * cost more than they do. */
static bool summed_weight_gradient(const cc__conv_train *t, const backward_job *job)
{
    return job->want_dweights && job->kernels != NULL && cc__cpu_isa() == CC__ISA_AVX512 &&
           !job->transposed_acc &&
           job->saved != NULL && t->g.layout == CC_NCHW;
}

/* acc_g += sum over images [begin, begin + count) of dY_g col_g^T. */
static void add_weight_gradient_summed(const cc__conv_train *t, const backward_job *job,
                                       size_t begin, size_t count, float *acc)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g), ocg = (size_t)g->ocg;
    const size_t groups = (size_t)g->groups, oc = (size_t)g->oc;
    for (size_t gr = 0; gr < groups; gr++)
        job->kernels->gemm_nt_sum(ocg, k, pixels, count,
                                  job->dout + (begin * oc + gr * ocg) * pixels, pixels,
                                  oc * pixels, job->saved + (begin * groups + gr) * k * pixels,
                                  pixels, groups * k * pixels, acc + gr * ocg * k, k);
}

/* acc_g += dY_g col^T: acc_g [OC/groups][K], or its transpose [K][OC/groups]
 * += col dY_g^T through dyt (a tile of dY_g transposed) when
 * job->transposed_acc. col [K][pc] rows ldb apart; dy rows `pixels` apart. */
static void add_weight_gradient_nchw(const cc__conv_train *t, const backward_job *job,
                                     const float *dy, const float *col, size_t ldb, size_t pc,
                                     float *dyt, float *acc_g)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g), ocg = (size_t)g->ocg;
    if (job->transposed_acc) {
        transpose(dy, pixels, ocg, pc, dyt);
        job->kernels->gemm(k, ocg, pc, col, ldb, 1, dyt, ocg, acc_g, ocg, true, NULL);
    } else {
        cc__sgemm_trans(false, true, ocg, k, pc, dy, pixels, col, ldb, 1.0f, acc_g, k);
    }
}

/* dcol [K][pc] (rows ldc apart) = W_g^T dY_g, or += when add. */
static void input_gradient_nchw(const cc__conv_train *t, const backward_job *job,
                                const float *w, const float *dy, size_t pc, float *dcol,
                                size_t ldc, bool add)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g), ocg = (size_t)g->ocg;
    if (job->kernels != NULL)
        job->kernels->gemm(k, pc, ocg, w, 1, k, dy, pixels, dcol, ldc, add, NULL);
    else
        cc__sgemm_trans(true, false, k, pc, ocg, w, k, dy, pixels, add ? 1.0f : 0.0f, dcol,
                        ldc);
}

static void backward_image_nchw(const cc__conv_train *t, const backward_job *job, size_t n,
                                float *col, float *acc, float *dyt)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g), plane = (size_t)g->h * g->w;
    float *acc_bias = acc + cc__geom_weight_floats(g);
    for (int gr = 0; gr < g->groups; gr++) {
        const size_t group_in = (n * g->c + (size_t)gr * g->cg) * plane;
        const float *image_group = job->input + group_in;
        const float *w = job->weights + (size_t)gr * g->ocg * k;
        for (size_t p0 = 0; p0 < pixels; p0 += t->tile) {
            const size_t pc = cc__min_size(t->tile, pixels - p0);
            const float *dy = job->dout + (n * g->oc + (size_t)gr * g->ocg) * pixels + p0;
            if (job->want_dweights && !job->summed_dweights) {
                const float *b = image_group + p0;
                size_t ldb = plane;
                if (job->saved != NULL) {
                    b = job->saved + (n * g->groups + (size_t)gr) * k * pixels;
                    ldb = pc;
                } else if (dense_nchw(t)) {
                    dense_gather_nchw(g, image_group, col);
                    b = col;
                    ldb = pc;
                } else if (!copy_free(g)) {
                    cc__im2col_nchw(g, image_group, 0, k, p0, pc, col, 1);
                    b = col;
                    ldb = pc;
                }
                add_weight_gradient_nchw(t, job, dy, b, ldb, pc, dyt,
                                         acc + (size_t)gr * g->ocg * k);
            }
            for (int o = 0; job->want_dbias && o < g->ocg; o++) {
                float sum = 0.0f;
                for (size_t j = 0; j < pc; j++)
                    sum += dy[o * pixels + j];
                acc_bias[gr * g->ocg + o] += sum;
            }
            if (job->dinput == NULL)
                continue;
            float *dimage = job->dinput + group_in;
            if (copy_free(g)) {
                input_gradient_nchw(t, job, w, dy, pc, dimage + p0, plane, true);
            } else {
                input_gradient_nchw(t, job, w, dy, pc, col, pc, false);
                if (dense_nchw(t))
                    dense_scatter_nchw(g, col, dimage);
                else
                    cc__col2im_nchw(g, dimage, 0, k, p0, pc, col);
            }
        }
    }
}

static void backward_image_nhwc(const cc__conv_train *t, const backward_job *job, size_t n,
                                float *col, float *acc)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), pixels = cc__geom_pixels(g);
    float *acc_bias = acc + cc__geom_weight_floats(g);
    for (int gr = 0; gr < g->groups; gr++) {
        const float *w = job->weights + (size_t)gr * g->ocg * k;
        for (size_t r0 = n * pixels; r0 < (n + 1) * pixels; r0 += t->tile) {
            const size_t rc = cc__min_size(t->tile, (n + 1) * pixels - r0);
            const float *dy = job->dout + r0 * g->oc + (size_t)gr * g->ocg;
            const size_t group_in = r0 * g->c + (size_t)gr * g->cg;
            if (job->want_dweights) {
                const float *a = job->input + group_in;
                size_t lda = (size_t)g->c;
                if (job->saved != NULL) {
                    a = job->saved + (n * g->groups + (size_t)gr) * k * pixels;
                    lda = k;
                } else if (dense_nhwc(t)) {
                    dense_gather_nhwc(g, job->input + n * (size_t)g->h * g->w * g->c, col);
                    a = col;
                    lda = k;
                } else if (!copy_free(g)) {
                    cc__im2col_nhwc(g, job->input, gr, r0, rc, 0, k, col, 1);
                    a = col;
                    lda = k;
                }
                cc__sgemm_trans(true, false, g->ocg, k, rc, dy, g->oc, a, lda, 1.0f,
                                acc + (size_t)gr * g->ocg * k, k);
            }
            for (size_t r = 0; job->want_dbias && r < rc; r++)
                for (int o = 0; o < g->ocg; o++)
                    acc_bias[gr * g->ocg + o] += dy[r * g->oc + o];
            if (job->dinput == NULL)
                continue;
            if (copy_free(g)) {
                cc__sgemm(rc, k, g->ocg, dy, g->oc, w, k, 1.0f, job->dinput + group_in, g->c);
            } else {
                cc__sgemm(rc, k, g->ocg, dy, g->oc, w, k, 0.0f, col, k);
                if (dense_nhwc(t))
                    dense_scatter_nhwc(g, col, job->dinput + n * (size_t)g->h * g->w * g->c);
                else
                    cc__col2im_nhwc(g, job->dinput, gr, r0, rc, 0, k, col);
            }
        }
    }
}

static void backward_image(const cc__conv_train *t, const backward_job *job, size_t n,
                           float *slot)
{
    const cc__conv_geom *g = &t->g;
    if (job->dinput != NULL && !job->add_dinput) {
        const size_t floats = (size_t)g->c * g->h * g->w;
        memset(job->dinput + n * floats, 0, floats * sizeof(float));
    }
    float *acc = slot + round16(t->col_floats);
    if (g->layout == CC_NCHW)
        backward_image_nchw(t, job, n, slot, acc, acc + round16(t->acc_floats));
    else
        backward_image_nhwc(t, job, n, slot, acc);
}

/* Images [begin, end) of a thread's share: the team's threads take
 * contiguous runs in order, so that each sums its weight gradient over one
 * run (the results depend on the team's size, not on the run). */
static void backward_share(const cc__conv_train *t, const backward_job *job, int images,
                           int team, int part, float *slot)
{
    const size_t begin = (size_t)images * (size_t)part / (size_t)team;
    const size_t end = (size_t)images * (size_t)(part + 1) / (size_t)team;
    float *acc = slot + round16(t->col_floats);
    memset(acc, 0, t->acc_floats * sizeof(float));
    for (size_t n = begin; n < end; n++)
        backward_image(t, job, n, slot);
    if (job->summed_dweights && end > begin)
        add_weight_gradient_summed(t, job, begin, end - begin, acc);
}

/* Runs images [0, images) over `team` threads, thread i on slot i (its
 * accumulator zeroed first). */
static void backward_images(const cc__conv_train *t, const backward_job *job, float *slots,
                            int images, int team)
{
    const size_t stride = slot_floats(t);
    if (team > 1) {
#pragma omp parallel num_threads(team)
        backward_share(t, job, images, omp_get_num_threads(), omp_get_thread_num(),
                       slots + (size_t)omp_get_thread_num() * stride);
        return;
    }
    const int previous = cc__blas_threads_begin(blas_threads(t));
    backward_share(t, job, images, 1, 0, slots);
    cc__blas_threads_end(previous);
}

/* The adjoint of a transposed accumulator, [group][K][OC/groups], added
 * into the OIHW gradient. */
static void add_transposed(const cc__conv_geom *g, const float *acc, float *oihw)
{
    const size_t k = cc__geom_k(g), ocg = (size_t)g->ocg;
    for (size_t gr = 0; gr < (size_t)g->groups; gr++)
        for (size_t o = 0; o < ocg; o++)
            for (size_t p = 0; p < k; p++)
                oihw[(gr * ocg + o) * k + p] += acc[gr * ocg * k + p * ocg + o];
}

/* dweights and dbias = the sum of the team's accumulators, in thread order. */
static void reduce_gradients(const cc__conv_train *t, const float *slots, int team,
                             bool transposed_acc, float *dweights, float *dbias)
{
    const cc__conv_geom *g = &t->g;
    const size_t weights = cc__geom_weight_floats(g), stride = slot_floats(t);
    const size_t acc_offset = round16(t->col_floats);
    if (dweights != NULL)
        memset(dweights, 0, weights * sizeof(float));
    if (dbias != NULL)
        memset(dbias, 0, (size_t)g->oc * sizeof(float));
    for (int i = 0; i < team; i++) {
        const float *acc = slots + (size_t)i * stride + acc_offset;
        if (dweights != NULL && g->layout == CC_NHWC) {
            add_taps_first(g, acc, dweights);
        } else if (dweights != NULL && transposed_acc) {
            add_transposed(g, acc, dweights);
        } else if (dweights != NULL) {
            for (size_t j = 0; j < weights; j++)
                dweights[j] += acc[j];
        }
        for (int o = 0; dbias != NULL && o < g->oc; o++)
            dbias[o] += acc[weights + (size_t)o];
    }
}

/* batch_gemm's backward: the input gradient per image as usual, then the
 * weight gradient as one GEMM over the batch, dWp = dY^T col, and the bias
 * gradient from dY's columns, in slot 0's accumulator. */
static void backward_batch_nhwc(const cc__conv_train *t, backward_job *job, float *slots,
                                float *dweights, float *dbias)
{
    const cc__conv_geom *g = &t->g;
    const size_t k = cc__geom_k(g), rows = (size_t)g->n * cc__geom_pixels(g);
    const bool want_dweights = job->want_dweights, want_dbias = job->want_dbias;
    job->want_dweights = job->want_dbias = false;
    if (job->dinput != NULL)
        backward_images(t, job, slots, g->n, image_threads(t, g->n));
    float *acc = slots + round16(t->col_floats);
    memset(acc, 0, t->acc_floats * sizeof(float));
    if (want_dweights) {
        const int previous = cc__blas_threads_begin(blas_threads(t));
        cc__sgemm_trans(true, false, g->oc, k, rows, job->dout, g->oc, job->saved, k, 0.0f, acc,
                        k);
        cc__blas_threads_end(previous);
    }
    float *acc_bias = acc + cc__geom_weight_floats(g);
    for (size_t r = 0; want_dbias && r < rows; r++)
        for (int o = 0; o < g->oc; o++)
            acc_bias[o] += job->dout[r * g->oc + o];
    reduce_gradients(t, slots, 1, false, dweights, dbias);
}

void cc__conv_train_backward(const cc__conv_train *t, const float *weights, const float *input,
                             const float *saved, const float *dout, float *dinput,
                             bool add_dinput, float *dweights, float *dbias, float *workspace)
{
    backward_job job = {weights, input, dout, saved, dinput, add_dinput, dweights != NULL,
                        dbias != NULL, NULL, false, false};
    if (t->g.layout == CC_NHWC) {
        pack_taps_last(&t->g, weights, workspace);
        job.weights = workspace;
    }
    float *slots = workspace + round16(t->packed_floats);
    if (batch_gemm(t, saved)) {
        backward_batch_nhwc(t, &job, slots, dweights, dbias);
        return;
    }
    const int team = image_threads(t, t->g.n);
    job.kernels = unpacked_kernels(t, team);
    job.transposed_acc = transposed_accumulator(t, job.kernels);
    job.summed_dweights = summed_weight_gradient(t, &job);
    backward_images(t, &job, slots, t->g.n, team);
    reduce_gradients(t, slots, team, job.transposed_acc, dweights, dbias);
}
