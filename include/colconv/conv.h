/* colconv: the 2D convolution operator.
 *
 * Lifecycle (plan once, run many): cc_conv2d_create validates the parameters,
 * picks the path, copies and packs the weights and sizes the workspace;
 * cc_conv2d_run never allocates in the common case and may be called any
 * number of times; cc_conv2d_destroy frees everything.
 *
 * Thread safety: one operator may be run from several host threads at once,
 * each with its own input and output. The operator's workspace is guarded: a
 * run that finds it busy uses a private workspace of the same size for its
 * duration (the only case in which a run allocates; CC_ERR_NOMEM if that
 * fails). */
#ifndef COLCONV_CONV_H
#define COLCONV_CONV_H

#include <stddef.h>

#include "colconv/export.h"
#include "colconv/status.h"

CC_EXTERN_C_BEGIN

typedef enum { CC_NCHW = 0, CC_NHWC } cc_layout;

typedef enum {
    CC_ALGO_AUTO = 0,  /* the path predicted fastest for the layer; never REFERENCE */
    CC_ALGO_REFERENCE, /* naive loops with float64 sums: the tests' oracle, slow */
    CC_ALGO_DIRECT,    /* vectorised direct convolution (AVX-512, AVX2, portable) */
    CC_ALGO_IM2COL,    /* im2col tiles of bounded size, multiplied by SGEMM */
    CC_ALGO_GEMM1X1,   /* 1x1 kernels, no padding: the input is the GEMM operand */
    /* Winograd F(4x4,3x3), or F(2x2,3x3) on small images whose weights
     * outweigh their work (ResNet's 7x7 layers of 512 channels): 3x3
     * kernels, stride 1, dilation 1 (any padding, groups, batch). Within the
     * accuracy contract; a NaN or Inf anywhere in an input tile's window (or
     * a weight) may make every output of that tile NaN or Inf. */
    CC_ALGO_WINOGRAD,
    /* Winograd F(6x6,3x3): fewer multiply-adds, larger rounding error
     * (within 5e-4 x max(1, max |reference|) rather than 1e-4); opt-in,
     * AUTO never picks it. */
    CC_ALGO_WINOGRAD_F6X6
} cc_algo;

typedef enum {
    CC_ACT_NONE = 0,
    CC_ACT_RELU,
    CC_ACT_SIGMOID,
    CC_ACT_TANH,
    CC_ACT_RELU6 /* min(max(x, 0), 6): MobileNet's ReLU6 (PyTorch nn.ReLU6) */
} cc_act;

typedef struct {
    int batch, in_channels, in_h, in_w;
    int out_channels, kernel_h, kernel_w;
    int stride_h, stride_w;     /* 0 means 1 */
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w; /* 0 means 1 (1 = no dilation, as in PyTorch) */
    int groups;                 /* 0 means 1; groups == in_channels == out_channels: depthwise */
    cc_layout layout;
    cc_act activation;          /* applied after the bias */
} cc_conv2d_params;

typedef struct cc_conv2d cc_conv2d;

/* How a run spreads over threads, chosen per layer from its shape. New
 * values go last, so that the existing ones keep their numbers. */
typedef enum {
    CC_THREADS_BLAS = 0, /* one GEMM at a time, OpenBLAS uses all threads */
    CC_THREADS_TILES,    /* our OpenMP threads over images/tiles, 1-thread GEMMs */
    CC_THREADS_SINGLE    /* the calling thread alone, no BLAS (the reference path) */
} cc_threading;

/* OH = floor((H + pad_top + pad_bottom - dilation_h*(KH-1) - 1) / stride_h) + 1,
 * likewise OW (PyTorch's conv2d). Checks only the fields it uses.
 * CC_ERR_INVALID_ARG for NULL pointers, bad sizes, or a kernel larger than
 * the padded input. */
CC_API cc_status cc_conv2d_output_size(const cc_conv2d_params *p, int *out_h, int *out_w);

/* Sets the four pads as TensorFlow/Keras padding="same" does: OH = ceil(H/stride),
 * total pad max((OH-1)*stride + dilation*(K-1) + 1 - H, 0), the odd pixel at
 * the bottom/right. Leaves *p unchanged on failure. */
CC_API cc_status cc_conv2d_pad_same(cc_conv2d_params *p);

/* Creates an operator. weights are OIHW, [OC][IC/groups][KH][KW], whatever the
 * layout; bias is [OC] or NULL. Both are copied: the caller may free them on
 * return. On failure *op is set to NULL (when op is not NULL):
 * CC_ERR_INVALID_ARG for invalid parameters (the message names the field),
 * CC_ERR_UNSUPPORTED for GEMM1X1 on a kernel that is not 1x1 without padding,
 * CC_ERR_NOMEM when an allocation fails. */
CC_API cc_status cc_conv2d_create(const cc_conv2d_params *p, cc_algo algo,
                                  const float *weights, const float *bias,
                                  cc_conv2d **op);

/* output = activation(conv(input, weights) + bias). input is [N][C][H][W]
 * (NCHW) or [N][H][W][C] (NHWC); output is [N][OC][OH][OW] or [N][OH][OW][OC].
 * Overwrites output, leaves input unchanged, touches nothing outside them. */
CC_API cc_status cc_conv2d_run(cc_conv2d *op, const float *input, float *output);

/* The path actually used (never AUTO); CC_ALGO_AUTO for NULL. */
CC_API cc_algo cc_conv2d_algo(const cc_conv2d *op);

/* Bytes of scratch memory the operator holds; 0 for NULL. */
CC_API size_t cc_conv2d_workspace_size(const cc_conv2d *op);

/* How a run started now would use threads: CC_THREADS_SINGLE for the
 * reference path, which runs its loops on the calling thread whatever the
 * thread count; CC_THREADS_BLAS for NULL. */
CC_API cc_threading cc_conv2d_threading(const cc_conv2d *op);

/* NULL is fine. */
CC_API void cc_conv2d_destroy(cc_conv2d *op);

/* Names for reports: "auto", "reference", "direct", "im2col", "gemm1x1",
 * "winograd", "winograd-f6x6";
 * "blas", "tiles", "single"; never NULL. */
CC_API const char *cc_algo_name(cc_algo algo);
CC_API const char *cc_threading_name(cc_threading threading);

/* ---- Plans: measured path choice ----------------------------------------
 *
 * What CC_ALGO_AUTO runs is a plan: a path and how many threads its runs
 * use. A create with CC_ALGO_AUTO first looks in a process-wide plan cache;
 * on a hit it uses the cached plan, whatever the mode. On a miss:
 *   ESTIMATE (the default) picks the path by a cost rule (cc_conv2d_estimate)
 *     at no cost, and caches nothing;
 *   MEASURE creates every path that can run the layer (direct, im2col,
 *     gemm1x1, winograd; never reference nor winograd-f6x6) on scratch data
 *     of the layer's shapes, and with more than one thread each also on one
 *     thread (and half the threads) unless its warm-up on all of them took
 *     over 0.5 ms, times a warm-up and a few runs of each
 *     (time-boxed: planning a layer costs about 20 runs of its fastest
 *     path), caches the fastest path and thread count, and uses it. One
 *     layer is measured at a time in the process: concurrent creates of the
 *     same layer wait and then share one plan.
 * A create that names a path neither consults nor fills the cache. A
 * network build (cc_net_build) creates its convs this way, so a network
 * built under MEASURE runs on measured plans.
 *
 * A plan's key is the layer's geometry (every cc_conv2d_params field but
 * activation, with stride, dilation and groups of 0 read as 1), the thread
 * count a create sees (cc_get_num_threads(), 1 inside a host's OpenMP
 * parallel region), the ISA in use (cc_cpu_isa()) and the CPU model. The
 * plan's thread count is at most the key's; a run uses the smaller of it
 * and the threads it would use anyway.
 *
 * The cache holds measured and loaded plans only, at most CC_PLANS_MAX: the
 * oldest go first. All these functions may be called from several threads
 * at once. Its memory comes from the allocator (cc_set_allocator) in place
 * when it grows; cc_plans_clear frees it. */
typedef enum { CC_PLAN_ESTIMATE = 0, CC_PLAN_MEASURE } cc_planning;

#define CC_PLANS_MAX 4096

/* Process-wide. ESTIMATE (the default) chooses by a cost rule; MEASURE times the eligible
 * paths (and thread splits) of a layer once and keeps the fastest. The environment variable
 * COLCONV_PLANNING=estimate|measure sets the initial mode (anything else: estimate).
 * cc_set_planning ignores values outside cc_planning. */
CC_API void cc_set_planning(cc_planning mode);
CC_API cc_planning cc_get_planning(void);

/* The plan cache, keyed by a layer's geometry (every cc_conv2d_params field but activation),
 * the thread count a create sees, the ISA in use and the CPU model. */
CC_API size_t cc_plans_count(void);
CC_API void cc_plans_clear(void);
/* Writes every plan; CC_ERR_IO when the file cannot be written (nothing half-written is left).
 * The file is written beside path and renamed over it when complete (docs/plans-format.md).
 * CC_ERR_INVALID_ARG for a NULL path, CC_ERR_NOMEM when an allocation fails. */
CC_API cc_status cc_plans_save(const char *path);
/* Adds the file's plans to the cache. Plans made on another CPU model, ISA or library version
 * are skipped (not an error); *loaded (may be NULL) counts those added. CC_ERR_IO when the
 * file cannot be read; CC_ERR_FORMAT when it is truncated, has another magic, a bad checksum,
 * an unknown path or an impossible plan: then nothing is added.
 * A loaded plan replaces a cached one of the same key. CC_ERR_INVALID_ARG for a NULL path,
 * CC_ERR_NOMEM when an allocation fails (nothing added). *loaded is 0 on failure. */
CC_API cc_status cc_plans_load(const char *path, size_t *loaded);

/* The path ESTIMATE's cost rule picks for p on the current thread count
 * (cc_set_num_threads), whatever the mode and the cache hold (reports
 * compare it with measured plans). CC_ALGO_AUTO, with a
 * message for cc_last_error(), when p is invalid. */
CC_API cc_algo cc_conv2d_estimate(const cc_conv2d_params *p);

/* Milliseconds of wall time this process has spent measuring plans (MEASURE's
 * timed runs and the creates they need), summed over every layer measured:
 * what planning a network costs beyond its build (reports compare it with
 * the network's runs). cc_plans_clear does not reset it. */
CC_API double cc_plans_measuring_ms(void);

/* The threads a run of op started now would use: cc_get_num_threads() (1
 * inside a host's parallel region), fewer for a layer too small to share, or
 * when op's plan says so; 0 for NULL. */
CC_API int cc_conv2d_num_threads(const cc_conv2d *op);

CC_EXTERN_C_END

#endif
