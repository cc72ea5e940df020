/* The per-network section: a zoo network or an imported ONNX model end to
 * end, and where its time goes. */
#ifndef COLCONV_BENCH_NET_BENCH_H
#define COLCONV_BENCH_NET_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "conv_bench.h"

enum { BENCH_MAX_TYPES = 16, BENCH_MAX_CONVS = 256, BENCH_MAX_MEMORY_LAYERS = 512 };

typedef struct {
    char type[32]; /* Keras's layer type: "Conv2D", "MaxPooling2D", "Dense", ... */
    double ms;
} bench_type_time;

/* One conv layer's time inside the network, from cc_net_run_timed (its
 * fastest of the profiled runs; what is fused into it included). */
typedef struct {
    char name[64];
    int c, h, w;  /* its output, per image */
    double gflop; /* the whole batch */
    double ms;
} bench_conv_time;

/* A layer that only streams memory (every type but Conv2D, Dropout and the
 * input), timed inside the network beside a memcpy of as many bytes on as
 * many threads (copy_rate.h). bytes: its inputs and output, and a Dense
 * layer's weights and bias. */
typedef struct {
    char name[64];
    char type[32];
    double bytes;
    double ms;      /* its fastest of the profiled runs */
    double copy_ms; /* bench_copy_ms(bytes, threads), or for a Dense layer
                     * bench_copy_cold_ms; -1 when unknown */
} bench_memory_layer;

/* The share of the copy rate a memory layer reaches: copy_ms / ms (1: as
 * fast as memcpy), or -1 when unknown. */
double bench_memory_ratio(const bench_memory_layer *layer);

typedef struct {
    const char *net; /* a zoo name (static), or an imported model's file name
                      * (bench_args' copy, "resnet50.onnx") */
    bool imported;   /* an ONNX model (bench_net_model) */
    int threads, batch;
    cc_layout layout;
    int channels, height, width; /* the input, per image */
    /* A cc_net_run that failed (warm-up or timed): error says why, and
     * times, gflops, images_per_s, the types and im2col_share are not
     * measured (zero, -1). */
    bool failed;
    char error[BENCH_ERROR_SIZE];
    bench_times times;       /* one cc_net_run of the whole batch */
    double gflop, gflops, images_per_s;
    size_t params, planned_activation_bytes, workspace_bytes;
    const char *layers_layout; /* "NCHW" or "NHWC": the layout the layers ran in */
    /* Time per layer type, from cc_net_run_timed (each layer's fastest of
     * a few runs); conv_ms is the Conv2D entry, -1 when unknown. */
    bench_type_time types[BENCH_MAX_TYPES];
    int type_count;
    int profile_runs; /* the cc_net_run_timed runs each layer's time is the fastest of */
    double conv_ms;
    /* Every conv layer that runs its own sweep, in network order (the
     * first BENCH_MAX_CONVS), from the same profiled runs; 0 when they
     * failed. */
    bench_conv_time convs[BENCH_MAX_CONVS];
    int conv_count;
    /* Every memory-bound layer that runs its own sweep, in network order
     * (the first BENCH_MAX_MEMORY_LAYERS), from the same profiled runs. */
    bench_memory_layer memory[BENCH_MAX_MEMORY_LAYERS];
    int memory_count;
    /* Share of conv time spent building im2col matrices, estimated per
     * layer AUTO runs on im2col as (im2col time - SGEMM alone on the same
     * shape); -1 when unknown. */
    double im2col_share;
    /* cc_net_build's wall time (under --planning measure it measures the
     * convs whose plans are not cached yet) and the plans it added. */
    double build_ms;
    size_t plans_added;
    double planning_ms; /* of build_ms, measuring (cc_plans_measuring_ms) */
    cc_planning planning; /* the mode it was built under */
} bench_net_result;

/* Nonzero when `name` is a zoo network. */
int bench_is_zoo_net(const char *name);

/* Builds the zoo network `net` (He weights, seed 1), times cc_net_run with
 * `plan`, profiles the time per layer type, and estimates the im2col share
 * from `layers` (this net's conv layer results at the same threads and
 * batch; may be count 0). Returns 0 (result->failed when a run failed), or
 * -1 with a message on stderr when the network cannot be built. */
int bench_net(const char *net, int batch, cc_layout layout, int threads, const bench_plan *plan,
              const bench_layer_result *layers, size_t count, bench_net_result *result);

/* As bench_net for the ONNX model at path (cc_net_load_onnx at `batch`,
 * 0: the model's), reported under `name` (a string that outlives the
 * result). No layer results: the im2col share is unknown. */
int bench_net_model(const char *path, const char *name, int batch, cc_layout layout, int threads,
                    const bench_plan *plan, bench_net_result *result);

/* Prints the Keras-style summary of the zoo network `net`, or with a path
 * ending in ".onnx" of that imported model (built, so the workspace figures
 * are in). Returns 0, or -1 with a message on stderr. */
int bench_net_summary(const char *net, int batch, cc_layout layout, FILE *out);

#endif
