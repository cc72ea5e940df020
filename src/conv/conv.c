/* The conv operator's lifecycle: create (validate, choose the path, pack the
 * weights, size the workspace), run, queries, destroy. */
#include <string.h>

#include "../core/denormals.h"
#include "../core/fork_cost.h"
#include "conv_internal.h"
#include "epilogue.h"

static bool is_winograd(cc_algo algo)
{
    return algo == CC_ALGO_WINOGRAD || algo == CC_ALGO_WINOGRAD_F6X6;
}

static bool is_gemm(cc_algo algo) { return algo == CC_ALGO_IM2COL || algo == CC_ALGO_GEMM1X1; }

/* The most a Winograd workspace slot (one per thread) may take: four GEMM
 * tiles, 16 MiB by default; its blocks aim at L2 (winograd.c) and take
 * less, but tests lower this to force blocks of a few tiles. */
static size_t winograd_budget(void) { return 4 * cc__tile_budget_bytes(); }

cc_status cc__conv_check_algo(const cc__conv_geom *g, cc_algo algo)
{
    if (algo < CC_ALGO_AUTO || algo > CC_ALGO_WINOGRAD_F6X6)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: algo %d is not a cc_algo", (int)algo);
    if (is_winograd(algo))
        return cc__winograd_supported(g, algo);
    if (algo == CC_ALGO_GEMM1X1 && !cc__geom_is_pointwise(g))
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "conv2d: algo GEMM1X1 needs a 1x1 kernel without padding (kernel %dx%d)",
                        g->kh, g->kw);
    return CC_OK;
}

/* Copies the weights in the layout of op->algo and sizes the workspace. */
static cc_status prepare_path(cc_conv2d *op, const float *weights)
{
    const cc__conv_geom *g = &op->g;
    switch (op->algo) {
    case CC_ALGO_DIRECT:
        return cc__direct_pack(g, op->isa, weights, &op->weights);
    case CC_ALGO_IM2COL:
    case CC_ALGO_GEMM1X1:
        cc__gemm_plan_init(g, op->algo == CC_ALGO_GEMM1X1, cc__tile_budget_bytes(), &op->plan);
        return cc__gemm_pack_weights(g, &op->plan, weights, &op->weights);
    case CC_ALGO_WINOGRAD:
    case CC_ALGO_WINOGRAD_F6X6:
        cc__winograd_plan_init(g, op->isa,
                               op->algo == CC_ALGO_WINOGRAD ? cc__winograd_tile(g) : 6,
                               winograd_budget(), &op->wino);
        return cc__winograd_pack(g, op->isa, &op->wino, weights, &op->weights);
    default:
        op->weights = cc__alloc_array(cc__geom_weight_floats(g), sizeof(float), "conv2d: weights");
        if (op->weights == NULL)
            return CC_ERR_NOMEM;
        memcpy(op->weights, weights, cc__geom_weight_floats(g) * sizeof(float));
        return CC_OK;
    }
}

/* The bytes of one workspace slot, one per thread: a GEMM path's tile or
 * the Winograd path's block and chunk (the direct path sizes its own). */
static size_t slot_bytes(const cc_conv2d *op)
{
    return is_winograd(op->algo) ? op->wino.bytes : is_gemm(op->algo) ? op->plan.tile_bytes : 0;
}

/* The threads that take a GEMM path's units whole (1: one unit at a time,
 * each product on every thread). */
static int gemm_tile_threads(const cc_conv2d *op, int threads)
{
    if (cc__gemm_threading(&op->plan, threads) == CC_THREADS_BLAS)
        return 1;
    return op->plan.units < (size_t)threads ? (int)op->plan.units : threads;
}

/* Workspace slots a run with `threads` threads needs. */
static int slots_needed(const cc_conv2d *op, int threads)
{
    if (slot_bytes(op) == 0)
        return 0;
    if (is_winograd(op->algo))
        return threads;
    return gemm_tile_threads(op, threads);
}

/* Bytes of workspace a run on `threads` threads needs; SIZE_MAX when
 * that overflows (then no allocation succeeds). An NCHW layer computed in
 * NHWC: its reordered tensors, then its inner operator's. */
static size_t workspace_need(const cc_conv2d *op, int threads)
{
    size_t bytes;
    if (op->inner != NULL)
        return cc__add_size(cc__nhwc_inside_bytes(&op->g), workspace_need(op->inner, threads),
                            &bytes)
                   ? bytes
                   : SIZE_MAX;
    if (op->algo == CC_ALGO_DIRECT)
        return cc__mul_sizes(&bytes, 2, cc__direct_workspace_floats(&op->g, op->isa, threads),
                             sizeof(float))
                   ? bytes
                   : SIZE_MAX;
    return cc__mul_sizes(&bytes, 2, (size_t)slots_needed(op, threads), slot_bytes(op))
               ? bytes
               : SIZE_MAX;
}

/* The path's packed weights and the bias, in the op itself. */
static cc_status prepare_own(cc_conv2d *op, const float *weights, const float *bias)
{
    cc_status status = prepare_path(op, weights);
    if (status != CC_OK)
        return status;
    if (bias != NULL) {
        op->bias = cc__alloc_array((size_t)op->g.oc, sizeof(float), "conv2d: bias");
        if (op->bias == NULL)
            return CC_ERR_NOMEM;
        memcpy(op->bias, bias, (size_t)op->g.oc * sizeof(float));
    }
    return CC_OK;
}

/* An NCHW layer computed in NHWC: the same path's NHWC operator, which
 * holds the weights and the bias and runs in a workspace it is given. */
static cc_status prepare_inner(cc_conv2d *op, const cc_conv2d_params *p, const float *weights,
                               const float *bias)
{
    cc_conv2d_params nhwc = *p;
    nhwc.layout = CC_NHWC;
    return cc__conv2d_create_ex(&nhwc, op->algo, weights, bias, true, &op->inner);
}

static cc_status finish_create(cc_conv2d *op, const cc_conv2d_params *p, const float *weights,
                               const float *bias)
{
    const cc_status status = cc__nchw_in_nhwc(&op->g, op->algo, op->isa)
                                 ? prepare_inner(op, p, weights, bias)
                                 : prepare_own(op, weights, bias);
    if (status != CC_OK)
        return status;
    op->workspace_bytes = op->external_workspace ? 0 : workspace_need(op, cc__conv_threads(op));
    if (op->workspace_bytes > 0) {
        op->workspace = cc__alloc(op->workspace_bytes, "conv2d: workspace");
        if (op->workspace == NULL)
            return CC_ERR_NOMEM;
    }
    return CC_OK;
}

cc_status cc__conv2d_create_ex(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                               const float *bias, bool external_workspace, cc_conv2d **op)
{
    if (op == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_create: op is NULL");
    *op = NULL;
    cc__conv_geom g = {0};
    cc_status status = cc__conv_geom_init(p, &g);
    if (status != CC_OK)
        return status;
    if (weights == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_create: weights is NULL");
    status = cc__conv_check_algo(&g, algo);
    if (status != CC_OK)
        return status;
    const cc__isa isa = cc__cpu_isa();
    cc__conv_choice choice = {algo, 0};
    if (algo == CC_ALGO_AUTO && (status = cc__plan_choose(&g, isa, &choice)) != CC_OK)
        return status;
    cc_conv2d *created = cc__alloc(sizeof *created, "conv2d: operator");
    if (created == NULL)
        return CC_ERR_NOMEM;
    memset(created, 0, sizeof *created);
    atomic_flag_clear(&created->workspace_busy);
    created->g = g;
    created->isa = isa;
    created->algo = choice.algo;
    created->thread_cap = choice.threads;
    created->external_workspace = external_workspace;
    status = finish_create(created, p, weights, bias);
    if (status != CC_OK) {
        cc_conv2d_destroy(created);
        return status;
    }
    *op = created;
    return CC_OK;
}

cc_status cc_conv2d_create(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                           const float *bias, cc_conv2d **op)
{
    return cc__conv2d_create_ex(p, algo, weights, bias, false, op);
}

/* A run's work in multiply-adds; below this per thread a fork costs more
 * than it saves (LeNet-5's layers run on one thread). A plan's thread cap
 * (a measured split) lowers it further. */
#define MIN_WORK_PER_THREAD ((size_t)1 << 19)
/* Depthwise layers (direct kernels, rows split over the threads at no
 * other cost than the fork) take a thread per 1 << 17. At 1 << 19,
 * MobileNet-v2's depthwise layers at 14x14 and 7x7 ran on one thread
 * between layers on two, and read half their input from the other core's
 * cache (0.035 ms alone, 0.06 in the network at 2 threads); at 1 << 17 the
 * network's median went from 4.9-5.9 to 4.2-5.5 ms (Zen 5, 2 threads;
 * 1 << 15 no better). Other layers keep 1 << 19: LeNet's conv1 took 0.011
 * ms on im2col on one thread and 0.029 on two, and AUTO's rule was fitted
 * to the direct kernels' times at this split. */
#define MIN_DEPTHWISE_WORK_PER_THREAD ((size_t)1 << 17)
/* The other direct layers split their rows as freely; a thread pays there
 * once its share takes longer than the fork (cc__fork_cost_ns, measured on
 * the machine): at DIRECT_MACS_PER_NS, the direct kernels' rate on small
 * layers on one Zen 4 core (LeNet-5's 1 -> 6 5x5 at 25, its 6 -> 16 at 33,
 * VGG's 3 -> 64 at 37 multiply-adds a ns), within [1 << 14, 1 << 19].
 * Zen 4, 2-thread regions of 1.0 us: LeNet-5's 1 -> 6 5x5, NCHW, 0.0043
 * -> 0.0031 ms on two threads, its 6 -> 16 5x5 0.0080 -> 0.0057; on the
 * Zen 5 VM's 3.3 us the 1 -> 6 layer stays on one thread. */
#define DIRECT_MACS_PER_NS 32.0
#define MIN_DIRECT_WORK_PER_THREAD ((size_t)1 << 14)

static size_t min_work_per_thread(const cc_conv2d *op, int threads)
{
    if (op->g.cg == 1 && op->g.ocg == 1)
        return MIN_DEPTHWISE_WORK_PER_THREAD;
    if (op->algo != CC_ALGO_DIRECT || threads < 2)
        return MIN_WORK_PER_THREAD;
    const double fork = cc__fork_cost_ns(threads) * DIRECT_MACS_PER_NS;
    return fork < (double)MIN_DIRECT_WORK_PER_THREAD ? MIN_DIRECT_WORK_PER_THREAD
           : fork > (double)MIN_WORK_PER_THREAD      ? MIN_WORK_PER_THREAD
                                                     : (size_t)fork;
}

int cc__conv_threads(const cc_conv2d *op)
{
    const int threads = cc__run_threads();
    const size_t work = cc__geom_output_floats(&op->g) * cc__geom_k(&op->g);
    const size_t most = work / min_work_per_thread(op, threads);
    const int by_work = most < (size_t)threads ? (most > 0 ? (int)most : 1) : threads;
    return op->thread_cap > 0 && op->thread_cap < by_work ? op->thread_cap : by_work;
}

int cc_conv2d_num_threads(const cc_conv2d *op) { return op == NULL ? 0 : cc__conv_threads(op); }

size_t cc__conv2d_workspace_need(const cc_conv2d *op, int threads)
{
    return workspace_need(op, threads);
}

/* The op's own workspace, grown to `bytes` if the thread count rose since
 * create; if another thread is running the op, a private one for this run.
 * *shared tells which, for release_workspace. */
static cc_status acquire_workspace(cc_conv2d *op, size_t bytes, float **workspace, bool *shared)
{
    *shared = !atomic_flag_test_and_set(&op->workspace_busy);
    if (*shared && op->workspace_bytes >= bytes) {
        *workspace = op->workspace;
        return CC_OK;
    }
    float *fresh = cc__alloc(bytes, "conv2d: workspace");
    if (fresh == NULL) {
        if (*shared)
            atomic_flag_clear(&op->workspace_busy);
        return CC_ERR_NOMEM;
    }
    if (*shared) {
        cc__free(op->workspace);
        op->workspace = fresh;
        op->workspace_bytes = bytes;
    }
    *workspace = fresh;
    return CC_OK;
}

static void release_workspace(cc_conv2d *op, float *workspace, bool shared)
{
    if (shared)
        atomic_flag_clear(&op->workspace_busy);
    else
        cc__free(workspace);
}

static cc_status run_with_workspace(cc_conv2d *op, const cc__conv_io *io, float *given,
                                    int threads);

/* An NCHW layer computed in NHWC: the input (and the residual) reordered
 * into the workspace, the inner operator run there, and its output
 * reordered back. */
static void run_nhwc_inside(const cc_conv2d *op, const cc__conv_io *io, float *workspace,
                            int threads)
{
    const cc__conv_geom *g = &op->g;
    const cc__nhwc_inside_tensors t = cc__nhwc_inside_split(g, workspace);
    const size_t n = (size_t)g->n, in_pixels = (size_t)g->h * (size_t)g->w;
    const size_t out_pixels = cc__geom_pixels(g);
    cc__reorder_images(op->isa, io->input, t.input, n, (size_t)g->c, in_pixels, true, threads);
    if (io->residual != NULL)
        cc__reorder_images(op->isa, io->residual, t.residual, n, (size_t)g->oc, out_pixels, true,
                           threads);
    const cc__conv_io inside = {t.input, t.output, io->residual != NULL ? t.residual : NULL, 0};
    /* Given its workspace, the inner run allocates nothing and cannot fail. */
    (void)run_with_workspace(op->inner, &inside, t.rest, threads);
    cc__reorder_images(op->isa, t.output, io->output, n, (size_t)g->oc, out_pixels, false,
                       threads);
}

/* Runs a fast path in the workspace given, else in the op's own (none when
 * the path needs none). */
static cc_status run_with_workspace(cc_conv2d *op, const cc__conv_io *io, float *given,
                                    int threads)
{
    const size_t bytes = workspace_need(op, threads);
    float *workspace = given;
    bool shared = false;
    if (bytes > 0 && given == NULL) {
        const cc_status status = acquire_workspace(op, bytes, &workspace, &shared);
        if (status != CC_OK)
            return status;
    }
    if (op->inner != NULL) {
        run_nhwc_inside(op, io, workspace, threads);
    } else if (op->algo == CC_ALGO_DIRECT) {
        cc__direct_run(&op->g, op->isa, op->weights, op->bias, io->input, io->output,
                       io->residual, workspace, threads, io->out_pixel_stride);
    } else if (is_winograd(op->algo)) {
        cc__winograd_run(op, io, workspace, threads);
    } else {
        cc__gemm_conv_run(op, io, workspace, gemm_tile_threads(op, threads), threads);
    }
    if (bytes > 0 && given == NULL)
        release_workspace(op, workspace, shared);
    return CC_OK;
}

/* The reference runs without the activation, and the add and activation
 * follow in one sweep. */
static cc_status run_reference_path(const cc_conv2d *op, const cc__conv_io *io, int threads)
{
    cc__conv_geom g = op->g;
    if (io->residual != NULL)
        g.act = CC_ACT_NONE;
    cc__reference_run(&g, op->weights, op->bias, io->input, io->output);
    if (io->residual != NULL)
        cc__epilogue_residual(io->output, io->residual, cc__geom_output_floats(&g), op->g.act,
                              op->isa, threads);
    return CC_OK;
}

/* A strided output (a slice of a wider NHWC tensor): the paths but the
 * reference write it, without a residual (whose sweep assumes the output's
 * own layout). */
static cc_status check_pixel_stride(const cc_conv2d *op, const float *residual,
                                    size_t out_pixel_stride)
{
    if (out_pixel_stride == 0)
        return CC_OK;
    if (op->g.layout != CC_NHWC || out_pixel_stride < (size_t)op->g.oc || residual != NULL ||
        op->algo == CC_ALGO_REFERENCE)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "conv2d_run: an output pixel stride (%zu) needs an NHWC layer of at "
                        "most that many output channels (%d), no residual and a path other "
                        "than the reference",
                        out_pixel_stride, op->g.oc);
    return CC_OK;
}

cc_status cc__conv2d_run_ex(cc_conv2d *op, const float *input, float *output,
                            const float *residual, float *workspace, size_t out_pixel_stride)
{
    if (op == NULL || input == NULL || output == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_run: %s is NULL",
                        op == NULL ? "op" : input == NULL ? "input" : "output");
    const cc_status stride_status = check_pixel_stride(op, residual, out_pixel_stride);
    if (stride_status != CC_OK)
        return stride_status;
    const int threads = cc__conv_threads(op);
    if (op->external_workspace && workspace == NULL && cc__conv2d_workspace_need(op, threads) > 0)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_run: this operator needs a workspace");
    const cc__conv_io io = {input, output, residual, out_pixel_stride};
    cc__team_lock(threads);
    const cc__flush_scope flush = cc__flush_begin(threads);
    const cc_status status = op->algo == CC_ALGO_REFERENCE
                                 ? run_reference_path(op, &io, threads)
                                 : run_with_workspace(op, &io, workspace, threads);
    cc__flush_end(flush);
    cc__team_unlock(threads);
    return status;
}

cc_status cc_conv2d_run(cc_conv2d *op, const float *input, float *output)
{
    return cc__conv2d_run_ex(op, input, output, NULL, NULL, 0);
}

cc_algo cc_conv2d_algo(const cc_conv2d *op) { return op == NULL ? CC_ALGO_AUTO : op->algo; }

size_t cc_conv2d_workspace_size(const cc_conv2d *op)
{
    return op == NULL ? 0 : op->workspace_bytes;
}

/* The GEMM paths decide from their plan; direct and Winograd share their
 * tiles over our threads; the reference path's loops have neither OpenMP
 * nor BLAS: the calling thread alone. */
cc_threading cc_conv2d_threading(const cc_conv2d *op)
{
    if (op == NULL)
        return CC_THREADS_BLAS;
    /* An NCHW layer computed in NHWC runs its inner operator's plan. */
    const cc__gemm_plan *plan = op->inner != NULL ? &op->inner->plan : &op->plan;
    if (is_gemm(op->algo))
        return cc__gemm_threading(plan, cc__conv_threads(op));
    return op->algo == CC_ALGO_REFERENCE ? CC_THREADS_SINGLE : CC_THREADS_TILES;
}

void cc_conv2d_destroy(cc_conv2d *op)
{
    if (op == NULL)
        return;
    cc_conv2d_destroy(op->inner);
    cc__free(op->weights);
    cc__free(op->bias);
    cc__free(op->workspace);
    cc__free(op);
}

const char *cc_algo_name(cc_algo algo)
{
    static const char *const names[] = {"auto",    "reference", "direct",       "im2col",
                                        "gemm1x1", "winograd",  "winograd-f6x6"};
    return algo >= CC_ALGO_AUTO && algo <= CC_ALGO_WINOGRAD_F6X6 ? names[algo] : "unknown";
}

const char *cc_threading_name(cc_threading threading)
{
    static const char *const names[] = {"blas", "tiles", "single"};
    return threading >= CC_THREADS_BLAS && threading <= CC_THREADS_SINGLE ? names[threading]
                                                                          : "unknown";
}
