/* Times every path of one conv layer, SGEMM alone on its GEMM shape (the
 * roof), and, when asked, oneDNN on the same layer. */
#ifndef COLCONV_BENCH_CONV_BENCH_H
#define COLCONV_BENCH_CONV_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "desc.h"
#include "timing.h"

enum { BENCH_PATHS = 7 }; /* colconv's paths, indexed by cc_algo */

/* The message a failed row carries (cc_last_error()'s, truncated). */
enum { BENCH_ERROR_SIZE = 256 };

/* A path is in one of three states: not timed (ran and failed false: not
 * asked for, or CC_ERR_UNSUPPORTED for this layer), timed (ran), or failed
 * (its create or one of its runs, warm-up included, returned an error:
 * error says why, and nothing else is measured). */
typedef struct {
    bool ran;
    bool failed;
    char error[BENCH_ERROR_SIZE];
    bench_times times;
    double gflops;
    size_t workspace_bytes;
    cc_threading threading;
    cc_algo picked; /* the path AUTO chose (meaningful for the auto row) */
    /* The auto row: the cost rule's pick (cc_conv2d_estimate), the threads
     * AUTO's plan runs on (cc_conv2d_num_threads) and the wall time of its
     * create, which under --planning measure includes measuring the layer
     * (a plan already cached, or ESTIMATE: the create alone). */
    cc_algo estimate;
    int plan_threads;
    double plan_ms;
    int run_threads; /* every path: the threads its runs used (cc_conv2d_num_threads) */
} bench_path_result;

/* Another library timed on the same layer. */
/* ANY: oneDNN's direct algorithm on the formats it prefers; NCHW: the same on
 * plain tensors; WINOGRAD: its Winograd algorithm on the formats it prefers
 * (oneDNN 2.6 has one only on AVX-512, for 3x3 stride-1 layers: elsewhere the
 * row is left out, neither run nor failed). */
enum { BENCH_ONEDNN_ANY = 0, BENCH_ONEDNN_NCHW, BENCH_ONEDNN_WINOGRAD, BENCH_PEERS };

typedef struct {
    bool ran;
    bool failed; /* as for a path: error says why */
    char error[BENCH_ERROR_SIZE];
    bench_times times;
    double gflops;
    size_t workspace_bytes; /* its scratchpad */
    char impl[64];          /* the implementation it chose, e.g. "jit:avx2" */
} bench_peer_result;

typedef struct {
    const char *net;           /* a static string: the table's, or "custom" */
    bench_layer layer;
    int count;                 /* times the layer occurs in its network */
    int threads;
    int index;                 /* position among the layers of its thread count */
    double gflop;              /* 2 * MACs, in GFLOP */
    bench_times sgemm;         /* cblas_sgemm alone on the lowered shape(s) */
    double sgemm_gflops;
    bench_path_result paths[BENCH_PATHS];
    int fastest;               /* index into paths of the fastest that ran, or -1 */
    bench_peer_result peers[BENCH_PEERS];
} bench_layer_result;

/* How a path is run: cc_conv2d_run, or in the tests a stand-in that fails. */
typedef cc_status (*bench_conv_run_fn)(cc_conv2d *op, const float *input, float *output);

typedef struct {
    bench_plan plan;
    bool paths[BENCH_PATHS]; /* indexed by cc_algo: which to time */
    bool onednn;             /* also time oneDNN (BENCH_ONEDNN_*) */
    bool tiny_inputs;        /* inputs and bias scaled by 1e-38: denormal sums */
    cc_planning planning;    /* how AUTO chooses (cc_set_planning, set by the app) */
    bench_conv_run_fn run;   /* NULL: cc_conv2d_run */
} bench_options;

/* 2 * N * OC * OH * OW * IC/g * KH * KW, in GFLOP. */
double bench_layer_gflop(const cc_conv2d_params *p);

/* The names of the BENCH_ONEDNN_* rows: "onednn_any" (oneDNN's preferred
 * formats, reorders outside the timed loop) and "onednn_nchw" (or
 * "onednn_nhwc": plain tensors in the layout measured). */
const char *bench_peer_name(int peer, cc_layout layout);

/* Times the layer (its params' layout and batch as given) on `threads`
 * threads; returns 0, or -1 with a message on stderr. Paths a layer cannot
 * take (GEMM1X1 on a 3x3, WINOGRAD on a 1x1) are skipped; a path whose
 * create or any run fails is marked failed (message on stderr too), and
 * bench_conv_layer still returns 0. */
int bench_conv_layer(const char *net, const bench_layer *layer, int count, int threads,
                     const bench_options *options, bench_layer_result *result);

/* The number of paths and peers of r that failed. */
int bench_layer_failures(const bench_layer_result *r);

/* The fastest path that ran among those AUTO may pick (direct, im2col,
 * gemm1x1, winograd: not reference, not winograd-f6x6), or -1. */
int bench_fastest_eligible(const bench_layer_result *r);

/* The median of the path AUTO picked (its own row; AUTO's if that path was
 * not timed or ran on another thread count than AUTO's plan gave) over the
 * fastest eligible path's (>1: AUTO picked a slower path); 0 when AUTO or
 * every eligible path did not run. */
double bench_auto_vs_fastest(const bench_layer_result *r);

#endif
