/* colconv internals of the convolution operator: the validated geometry, the
 * operator struct, and the contract of each path. */
#ifndef COLCONV_CONV_INTERNAL_H
#define COLCONV_CONV_INTERNAL_H

#include <stdatomic.h>

#include "../core/core.h"

/* A validated parameter set with every default resolved (stride, dilation
 * and groups >= 1) and the output size computed. All counts are > 0 and every
 * tensor's byte count fits in size_t, so products of these fields, taken in
 * size_t, never overflow. */
typedef struct {
    int n, c, h, w;             /* input batch, channels, height, width */
    int oc, kh, kw;             /* output channels, kernel height, width */
    int sh, sw, dh, dw;         /* strides and dilations */
    int pt, pb, pl, pr;         /* padding: top, bottom, left, right */
    int groups, cg, ocg;        /* groups; input and output channels per group */
    int oh, ow;                 /* output height and width */
    cc_layout layout;
    cc_act act;
} cc__conv_geom;

/* Validates p completely and fills g; CC_ERR_INVALID_ARG naming the field. */
cc_status cc__conv_geom_init(const cc_conv2d_params *p, cc__conv_geom *g);

/* Padding on any side. */
static inline bool cc__geom_is_padded(const cc__conv_geom *g)
{
    return g->pt > 0 || g->pb > 0 || g->pl > 0 || g->pr > 0;
}
/* 1x1 without padding: the GEMM1X1 path's layers. */
static inline bool cc__geom_is_pointwise(const cc__conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && !cc__geom_is_padded(g);
}
/* 3x3, stride 1, dilation 1: the Winograd paths' layers. */
static inline bool cc__geom_is_winograd_shape(const cc__conv_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1;
}
static inline size_t cc__geom_pixels(const cc__conv_geom *g) { return (size_t)g->oh * (size_t)g->ow; }
/* The reduction length of one output value: IC/groups * KH * KW. */
static inline size_t cc__geom_k(const cc__conv_geom *g)
{
    return (size_t)g->cg * (size_t)g->kh * (size_t)g->kw;
}
static inline size_t cc__geom_input_floats(const cc__conv_geom *g)
{
    return (size_t)g->n * g->c * (size_t)g->h * (size_t)g->w;
}
static inline size_t cc__geom_output_floats(const cc__conv_geom *g)
{
    return (size_t)g->n * g->oc * cc__geom_pixels(g);
}
static inline size_t cc__geom_weight_floats(const cc__conv_geom *g)
{
    return (size_t)g->oc * cc__geom_k(g);
}

/* How the GEMM-based paths (im2col and 1x1) cut a layer into units of work.
 * NCHW: a unit is (image, group, column tile); its GEMM is
 *   out[OCg x cols] (ldc = OH*OW) = W[OCg x K] * col[K x cols].
 * NHWC: a unit is (group, row tile over the batch's N*OH*OW output pixels):
 *   out[rows x OCg] (ldc = OC) = col[rows x K] * Wt[K x OCg].
 * Output channels are never cut: each cut would pack the same B operand
 * again (measured: copy-free 1x1 layers cut into channel blocks for two
 * threads ran 1.3-1.5x slower than one GEMM on OpenBLAS's two threads). 
 * K is cut into blocks of at most k_block, so a col tile is at most
 * k_block x tile floats whatever the layer; blocks after the first
 * accumulate (beta = 1), the epilogue runs after the last. */
typedef struct {
    size_t k_block;     /* rows of K per GEMM (<= K) */
    size_t tile;        /* output pixels per unit */
    size_t tiles;       /* tiles per image (NCHW) or per batch (NHWC), per group */
    size_t units;       /* total units of the layer */
    bool copy_free;     /* 1x1 stride 1: the input is the operand, no col */
    bool pixel_rows;    /* NCHW, fewer pixels than a panel of the unpacked kernel:
                         * pixels as the rows of the product (gemm_conv.c) */
    bool nhwc_panels;   /* NHWC on the unpacked kernel: weights in panels */
    size_t tile_bytes;  /* workspace of one thread: the col tile (none when
                         * copy_free), then with pixel_rows the product's tile */
} cc__gemm_plan;

/* How the Winograd path cuts a layer: F(m x m, 3x3) output tiles over the
 * whole batch, taken `block` tiles at a time, and each block's output
 * channels `chunk` at a time; see winograd.c for the layouts of the packed
 * weights and of the workspace. */
typedef struct {
    int m;              /* output tile side: 4 or 6 */
    int alpha;          /* input tile side, m + 2 */
    size_t tiles_h, tiles_w; /* tiles per image */
    size_t tiles;       /* tiles of the batch */
    size_t block;       /* tiles per block (<= tiles) */
    size_t chunk;       /* output channels per chunk (<= OCg) */
    size_t chunks;      /* chunks per group */
    size_t unit;        /* chunks start on multiples of it: the product kernels' channel block */
    size_t v_stride;    /* floats from one point's transformed input to the next */
    size_t m_stride;    /* the same for a chunk's transformed output */
    size_t bytes;       /* one workspace slot: a block's transformed input and a chunk's output */
    size_t point_floats; /* packed weights of one group and transform point */
    bool gemm_products; /* the products on the layer kernels' GEMM (NHWC: weights in panels) */
} cc__winograd_plan;

struct cc_conv2d {
    cc__conv_geom g;
    bool external_workspace;  /* runs are given a workspace (a network's, shared) */
    cc_algo algo;
    float *weights;           /* packed for the path; see each path's file */
    float *bias;              /* [OC], or NULL */
    cc__gemm_plan plan;       /* IM2COL and GEMM1X1 only */
    cc__winograd_plan wino;   /* WINOGRAD and WINOGRAD_F6X6 only */
    float *workspace;         /* the op's own: workspace_bytes */
    size_t workspace_bytes;
    struct cc_conv2d *inner;  /* an NCHW layer computed in NHWC: that operator, which
                               * holds the weights (nhwc_inside.c); else NULL */
    atomic_flag workspace_busy;
    cc__isa isa;              /* DIRECT, WINOGRAD: the kernel family chosen at create */
    int thread_cap;           /* runs use at most this many threads (a plan's); 0: no cap */
};

/* Reference: naive loops accumulating in double, rounded once. Needs no
 * packing (weights are OIHW) and no workspace. */
/* The reference's activation: every cc_act in double; NaN stays NaN (relu
 * keeps it too). The tests' expected act(conv + bias + residual) uses it. */
double cc__reference_activate(double x, cc_act act);
void cc__reference_run(const cc__conv_geom *g, const float *weights, const float *bias,
                       const float *input, float *output);

/* GEMM paths (im2col and 1x1): plan, pack and run. */
void cc__gemm_plan_init(const cc__conv_geom *g, bool is_1x1_path, size_t tile_budget_bytes,
                        cc__gemm_plan *plan);
cc_status cc__gemm_pack_weights(const cc__conv_geom *g, const cc__gemm_plan *plan,
                                const float *oihw, float **packed);
/* The tensors of one run. residual, when not NULL, has the output's shape
 * and layout, does not alias it, and is added after the bias, before the
 * activation (a fused residual add). out_pixel_stride (NHWC only, no
 * residual): the floats from one output pixel to the next when the output
 * is a slice of a wider tensor's channels (a network's concat computed in
 * place); 0 for a tensor of its own. */
typedef struct {
    const float *input;
    float *output;
    const float *residual;
    size_t out_pixel_stride;
} cc__conv_io;

/* The floats from one NHWC output pixel to the next in io. */
static inline size_t cc__io_pixel_stride(const cc__conv_io *io, const cc__conv_geom *g)
{
    return io->out_pixel_stride != 0 ? io->out_pixel_stride : (size_t)g->oc;
}

/* tile_threads > 1 spreads units over that many OpenMP threads, each with
 * its own tile_bytes of workspace; 1 runs units in order with BLAS on
 * blas_threads threads. */
void cc__gemm_conv_run(const cc_conv2d *op, const cc__conv_io *io, float *workspace,
                       int tile_threads, int blas_threads);
/* The threading a run with `threads` threads uses for this plan. */
cc_threading cc__gemm_threading(const cc__gemm_plan *plan, int threads);
/* Workspace per thread for the tiles; tests lower it to force many tiles. */
size_t cc__tile_budget_bytes(void);
void cc__set_tile_budget_bytes(size_t bytes);

/* Direct path (direct.c and its ISA kernels).
 * cc__direct_pack: packs OIHW weights into the layout of the kernel family
 * `isa` (allocated with cc__alloc; CC_ERR_NOMEM on failure).
 * cc__direct_run: output = act(conv(input) + bias + residual) for the whole
 * batch, in g->layout, on up to `threads` OpenMP threads; residual (NULL
 * for none) as in cc__conv_io; workspace holds
 * cc__direct_workspace_floats(g, isa, threads) floats (NULL when that is
 * 0: NCHW depthwise layers keep a slot a thread there, NHWC layers of one
 * input channel and few filters an output row a thread as NCHW, NHWC layers
 * that cc__direct_pads_input a copy of the input padded left and right; a
 * NULL workspace runs the last without the copy); no allocation, no read or write
 * outside input, output, residual, packed, bias and workspace (vector
 * loads included). */
cc_status cc__direct_pack(const cc__conv_geom *g, cc__isa isa, const float *oihw,
                          float **packed);
void cc__direct_run(const cc__conv_geom *g, cc__isa isa, const float *packed,
                    const float *bias, const float *input, float *output,
                    const float *residual, float *workspace, int threads,
                    size_t out_pixel_stride);
size_t cc__direct_workspace_floats(const cc__conv_geom *g, cc__isa isa, int threads);
bool cc__direct_pads_input(const cc__conv_geom *g, cc__isa isa);
/* cc__direct_packed_floats: the floats cc__direct_pack_into writes (0 when
 * that overflows size_t); cc__direct_pack_into: cc__direct_pack into the
 * caller's array.
 * cc__direct_run_1x1_rows: cc__direct_run, on the calling thread, of a 1x1
 * layer without padding, stride 1, one image of one row (h == oh == 1, no
 * bias, no activation) whose rows of values (channel planes in NCHW,
 * pixels in NHWC) are in_rows and out_rows floats apart instead of
 * packed: the Winograd path's products in the transform domain. The
 * weights were packed for packed_as, a layer as g with as many or more
 * output channels (g's are its first, or a slice of its weights from a
 * channel block's start). packed_after (or NULL): the weights of the
 * caller's next call, whose first blocks the ocvec kind prefetches. */
size_t cc__direct_packed_floats(const cc__conv_geom *g, cc__isa isa);
/* out[j * out_ld + i] = in[i * in_ld + j] for i < rows, j < cols, with the
 * kernels of `isa`. */
void cc__direct_transpose(cc__isa isa, const float *in, ptrdiff_t in_ld, size_t rows,
                          size_t cols, float *out, ptrdiff_t out_ld);
int cc__direct_channel_block(const cc__conv_geom *g, cc__isa isa);
/* Output channels [o_lo, o_lo + count) of a one-group layer packed_as (not
 * depthwise), from their OIHW weights, into their place in its packing
 * (o_lo a multiple of cc__direct_channel_block): packed in parts, a layer's
 * packing is the same as packed whole. */
void cc__direct_pack_channels(const cc__conv_geom *packed_as, cc__isa isa, const float *oihw,
                              int o_lo, int count, float *packed);
void cc__direct_pack_into(const cc__conv_geom *g, cc__isa isa, const float *oihw, float *packed);
/* The output pixels of the pointwise kind's tile (its W vectors), whose
 * rows it reads in place when they are whole and contiguous. */
int cc__direct_pointwise_pixels(cc__isa isa);
void cc__direct_run_1x1_rows(const cc__conv_geom *g, const cc__conv_geom *packed_as,
                             cc__isa isa, const float *packed, const float *packed_after,
                             const float *input, ptrdiff_t in_rows, float *output,
                             ptrdiff_t out_rows);

/* Winograd path (winograd.c), 3x3 kernels with stride and dilation 1:
 * cc__winograd_supported: CC_OK, or CC_ERR_UNSUPPORTED with a message.
 * cc__winograd_tile: the output tile m of CC_ALGO_WINOGRAD for g (2 or 4).
 * cc__winograd_plan_init: the tiles, and the block and chunk of a workspace
 * slot (one per thread) sized for L2 and at most about `budget` bytes (at
 * least one tile's, whatever the budget).
 * cc__winograd_pack: the transformed weights, packed for the product
 * kernels of `isa` (their floats per group and point go to
 * plan->point_floats, the channel block of a share to plan->unit),
 * allocated with cc__alloc.
 * cc__winograd_run: the whole batch on up to `threads` OpenMP threads, bias,
 * residual and activation included, in `workspace` (plan->bytes). */
cc_status cc__winograd_supported(const cc__conv_geom *g, cc_algo algo);
/* Tests: NHWC products on the layer kernels' GEMM on AVX2 as on AVX-512
 * (plans made after the call; false: AVX-512 alone, the default). */
void cc__winograd_set_gemm_on_avx2(bool on);
int cc__winograd_tile(const cc__conv_geom *g);
void cc__winograd_plan_init(const cc__conv_geom *g, cc__isa isa, int m, size_t budget,
                            cc__winograd_plan *plan);
cc_status cc__winograd_pack(const cc__conv_geom *g, cc__isa isa, cc__winograd_plan *plan,
                            const float *oihw, float **packed);
void cc__winograd_run(const cc_conv2d *op, const cc__conv_io *io, float *workspace, int threads);

/* NCHW layers computed in NHWC (nhwc_inside.c): where the NHWC kernels are
 * enough faster than the NCHW ones to pay for reordering the tensors, an
 * NCHW operator holds an NHWC one of the same path (cc_conv2d.inner) and
 * its runs reorder the input (and residual) into the workspace, run it
 * there, and reorder its output back.
 * cc__nchw_in_nhwc: whether `algo` (a path, not AUTO) computes g that way
 * on `isa` (the rule, or a test's mode).
 * cc__nhwc_inside_bytes: the workspace of the reordered tensors (SIZE_MAX
 * on overflow), before the inner operator's; cc__nhwc_inside_split: where
 * each lies in it.
 * cc__reorder_images: each of n images from [channels][pixels] (NCHW) to
 * [pixels][channels] (NHWC), or back, on up to `threads` threads. */
typedef enum {
    CC__NHWC_INSIDE_RULE = 0, /* the default */
    CC__NHWC_INSIDE_NEVER,
    CC__NHWC_INSIDE_ALWAYS    /* every eligible layer, whatever the ISA and size */
} cc__nhwc_inside_mode;
void cc__set_nhwc_inside(cc__nhwc_inside_mode mode);
bool cc__nchw_in_nhwc(const cc__conv_geom *g, cc_algo algo, cc__isa isa);
size_t cc__nhwc_inside_bytes(const cc__conv_geom *g);
typedef struct {
    float *input, *output, *residual; /* NHWC */
    float *rest;                      /* the inner operator's workspace */
} cc__nhwc_inside_tensors;
cc__nhwc_inside_tensors cc__nhwc_inside_split(const cc__conv_geom *g, float *workspace);
void cc__reorder_images(cc__isa isa, const float *from, float *to, size_t n, size_t channels,
                        size_t pixels, bool to_nhwc, int threads);

/* The network's entry points into the operator.
 * cc__conv2d_create_ex: as cc_conv2d_create; with external_workspace the op
 * holds no workspace and every run must be given one.
 * cc__conv2d_workspace_need: bytes a run on `threads` threads needs.
 * cc__conv2d_run_ex: as cc_conv2d_run, plus a fused residual (NULL for
 * none, see cc__conv_io), a workspace of at least
 * cc__conv2d_workspace_need(op, cc__conv_threads(op)) bytes (NULL: the
 * op's own; required when the op was created with external_workspace) and
 * the output's pixel stride (cc__conv_io; 0: its own tensor; else NHWC, at
 * least oc, without a residual, on any path but the reference:
 * CC_ERR_INVALID_ARG otherwise).
 * cc__conv_threads: the threads a run started now uses: cc__run_threads(),
 * fewer for small layers whose work does not pay for a fork. */
cc_status cc__conv2d_create_ex(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                               const float *bias, bool external_workspace, cc_conv2d **op);
size_t cc__conv2d_workspace_need(const cc_conv2d *op, int threads);
cc_status cc__conv2d_run_ex(cc_conv2d *op, const float *input, float *output,
                            const float *residual, float *workspace, size_t out_pixel_stride);
int cc__conv_threads(const cc_conv2d *op);

/* CC_OK when `algo` is a cc_algo that can run g; else CC_ERR_INVALID_ARG
 * or CC_ERR_UNSUPPORTED with a message. */
cc_status cc__conv_check_algo(const cc__conv_geom *g, cc_algo algo);

/* AUTO: the path predicted fastest for runs on `threads` threads. Pure:
 * depends only on g, the ISA and the threads. */
cc_algo cc__auto_choose(const cc__conv_geom *g, cc__isa isa, int threads);

/* What CC_ALGO_AUTO runs for a layer: a path and a thread cap (0: none). */
typedef struct {
    cc_algo algo;
    int threads;
} cc__conv_choice;

/* CC_ALGO_AUTO's choice for g on `isa`: the cached plan, else by the
 * planning mode (conv.h, plan_choose.c). CC_ERR_NOMEM when measuring or
 * caching runs out of memory. */
cc_status cc__plan_choose(const cc__conv_geom *g, cc__isa isa, cc__conv_choice *choice);

#endif
