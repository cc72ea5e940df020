/* A zoo network end to end through the public API: create, He weights,
 * build (fusion and buffer reuse on, as users run it), then cc_net_run
 * timed like a conv path. An ONNX model the same way, imported with
 * cc_net_load_onnx (its own weights) instead of created. */
#include "net_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_rate.h"
#include "layer_table.h"

/* The zoo's own (static) copy of name, or NULL. */
static const char *zoo_name(const char *name)
{
    for (const char *const *z = cc_net_zoo_names(); *z != NULL; z++)
        if (strcmp(*z, name) == 0)
            return *z;
    return NULL;
}

int bench_is_zoo_net(const char *name) { return zoo_name(name) != NULL; }

static bool is_model_path(const char *source)
{
    const size_t len = strlen(source);
    return len > 5 && strcmp(source + len - 5, ".onnx") == 0;
}

/* The ONNX model at source (a path ending in ".onnx"), or the zoo network
 * of that name with He weights (seed 1); not built. */
static cc_status make_net(const char *source, int batch, cc_layout layout, cc_net **n)
{
    if (is_model_path(source)) {
        const cc_onnx_options options = {layout, batch};
        return cc_net_load_onnx(source, &options, n);
    }
    cc_status status = cc_net_zoo_create(source, layout, batch, n);
    if (status == CC_OK)
        status = cc_net_init_weights(*n, CC_INIT_HE, 1);
    return status;
}

/* result (may be NULL) gets the build's time and the plans it added. */
static cc_net *build_net(const char *net, int batch, cc_layout layout, bench_net_result *result)
{
    cc_net *n = NULL;
    cc_status status = make_net(net, batch, layout, &n);
    const size_t plans = cc_plans_count();
    const double measuring = cc_plans_measuring_ms();
    const double start = bench_now_ms();
    if (status == CC_OK)
        status = cc_net_build(n, NULL);
    if (status != CC_OK) {
        fprintf(stderr, "colconv-bench: %s: %s\n", net, cc_last_error());
        cc_net_destroy(n);
        return NULL;
    }
    if (result != NULL) {
        result->build_ms = bench_now_ms() - start;
        result->planning_ms = cc_plans_measuring_ms() - measuring;
        const size_t now = cc_plans_count();
        result->plans_added = now > plans ? now - plans : 0;
    }
    return n;
}

typedef struct {
    cc_net *net;
    const float *input;
    float *output;
} net_call;

static int run_net(void *context)
{
    net_call *call = context;
    return cc_net_run(call->net, call->input, call->output) == CC_OK ? 0 : -1;
}

static void fill_random(float *data, size_t count)
{
    unsigned state = 2024u;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        data[i] = (float)(state >> 8) / 16777216.0f;
    }
}

/* The time AUTO's path takes on a layer (if AUTO was not timed, the fastest
 * path it may pick: the network never runs reference or winograd-f6x6), or
 * -1. */
static double auto_ms(const bench_layer_result *r)
{
    if (r->paths[CC_ALGO_AUTO].ran)
        return r->paths[CC_ALGO_AUTO].times.median_ms;
    const int best = bench_fastest_eligible(r);
    return best >= 0 ? r->paths[best].times.median_ms : -1.0;
}

/* Time per layer type from cc_net_run_timed: each node's fastest of
 * PROFILE_RUNS runs (fewer when they take over PROFILE_BUDGET_MS, 3 at
 * least), summed by the layer's type (a fused layer's time is in the layer
 * that computes it). */
#define PROFILE_RUNS 10
#define PROFILE_MIN_RUNS 3
#define PROFILE_BUDGET_MS 1000.0

static void add_type_time(bench_net_result *r, const char *type, double ms)
{
    for (int t = 0; t < r->type_count; t++)
        if (strcmp(r->types[t].type, type) == 0) {
            r->types[t].ms += ms;
            return;
        }
    if (r->type_count == BENCH_MAX_TYPES)
        return;
    snprintf(r->types[r->type_count].type, sizeof r->types[0].type, "%s", type);
    r->types[r->type_count++].ms = ms;
}

static void add_conv_time(bench_net_result *r, const cc_net_layer_info *info, double ms)
{
    bench_conv_time *c = &r->convs[r->conv_count++];
    snprintf(c->name, sizeof c->name, "%s", info->name);
    c->c = info->c, c->h = info->h, c->w = info->w;
    c->gflop = (double)info->flops * 1e-9;
    c->ms = ms;
}

double bench_memory_ratio(const bench_memory_layer *layer)
{
    return layer->ms > 0 && layer->copy_ms > 0 ? layer->copy_ms / layer->ms : -1.0;
}

static bool is_memory_layer(const cc_net_layer_info *info)
{
    return strcmp(info->type, "Conv2D") != 0 && strcmp(info->type, "Dropout") != 0;
}

static void add_memory_layer(bench_net_result *r, const cc_net_layer_info *info, double ms)
{
    bench_memory_layer *m = &r->memory[r->memory_count++];
    snprintf(m->name, sizeof m->name, "%s", info->name);
    snprintf(m->type, sizeof m->type, "%s", info->type);
    const double weight_bytes =
        strcmp(info->type, "Dense") == 0 ? (double)info->params * sizeof(float) : 0.0;
    m->bytes = (double)info->input_bytes + (double)info->output_bytes + weight_bytes;
    m->ms = ms;
    m->copy_ms = -1;
}

/* Times the copy that is each memory layer's yardstick (after the network's
 * runs, so that the layer times are not disturbed): from memory for a Dense
 * layer, whose weights come from there in every run, else warm. */
static void time_yardsticks(bench_net_result *r)
{
    for (int i = 0; i < r->memory_count; i++) {
        bench_memory_layer *m = &r->memory[i];
        m->copy_ms = strcmp(m->type, "Dense") == 0
                         ? bench_copy_cold_ms((size_t)m->bytes, r->threads)
                         : bench_copy_ms((size_t)m->bytes, r->threads);
    }
}

static void profile_types(cc_net *n, const float *input, float *output, bench_net_result *r)
{
    const int nodes = cc_net_node_count(n);
    double *best = malloc((size_t)nodes * sizeof *best), *run = malloc((size_t)nodes * sizeof *run);
    r->type_count = 0;
    r->conv_ms = -1;
    if (best == NULL || run == NULL) {
        free(best);
        free(run);
        return;
    }
    int profiled = 0;
    bool failed = false;
    const double start = bench_now_ms();
    for (; profiled < PROFILE_RUNS; profiled++) {
        if (profiled >= PROFILE_MIN_RUNS && bench_now_ms() - start > PROFILE_BUDGET_MS)
            break;
        if (cc_net_run_timed(n, input, output, run) != CC_OK) {
            failed = true;
            break;
        }
        for (int i = 0; i < nodes; i++)
            best[i] = profiled == 0 || run[i] < best[i] ? run[i] : best[i];
    }
    r->conv_count = r->memory_count = 0;
    r->profile_runs = profiled;
    for (int i = 0; i < nodes && !failed; i++) {
        cc_net_layer_info info;
        if (cc_net_get_layer_info(n, i, &info) != CC_OK || info.fused || i == cc_net_input(n))
            continue;
        add_type_time(r, info.type, best[i]);
        if (strcmp(info.type, "Conv2D") == 0 && r->conv_count < BENCH_MAX_CONVS)
            add_conv_time(r, &info, best[i]);
        else if (is_memory_layer(&info) && r->memory_count < BENCH_MAX_MEMORY_LAYERS)
            add_memory_layer(r, &info, best[i]);
    }
    if (!failed)
        time_yardsticks(r);
    r->conv_ms = failed ? -1 : 0;
    for (int t = 0; t < r->type_count; t++)
        if (strcmp(r->types[t].type, "Conv2D") == 0)
            r->conv_ms = r->types[t].ms;
    free(best);
    free(run);
}

/* Share of conv time spent building im2col matrices, estimated over the
 * layers AUTO runs on im2col as (im2col time - SGEMM alone on the shape). */
static void estimate_im2col_share(const bench_layer_result *layers, size_t count,
                                  bench_net_result *r)
{
    r->im2col_share = -1;
    if (count == 0 || !bench_table_complete(r->net))
        return;
    double conv = 0, im2col = 0;
    for (size_t i = 0; i < count; i++) {
        const double ms = auto_ms(&layers[i]);
        if (ms < 0)
            return;
        conv += layers[i].count * ms;
        const bench_path_result *a = &layers[i].paths[CC_ALGO_AUTO];
        if (a->ran && a->picked == CC_ALGO_IM2COL && ms > layers[i].sgemm.median_ms)
            im2col += layers[i].count * (ms - layers[i].sgemm.median_ms);
    }
    r->im2col_share = conv > 0 ? im2col / conv : 0;
}

static void read_stats(cc_net *n, bench_net_result *r)
{
    cc_net_layer_info input;
    if (cc_net_get_layer_info(n, cc_net_input(n), &input) == CC_OK)
        r->channels = input.c, r->height = input.h, r->width = input.w;
    cc_net_stats stats;
    if (cc_net_get_stats(n, &stats) != CC_OK)
        return;
    r->gflop = (double)stats.flops * 1e-9;
    r->params = stats.params;
    r->planned_activation_bytes = stats.planned_activation_bytes;
    r->workspace_bytes = stats.workspace_bytes;
    r->layers_layout = stats.compute_layout == CC_NHWC ? "NHWC" : "NCHW";
}

/* Times the built network n (r->batch images) and profiles it; frees n.
 * Returns 0 (r->failed when a run failed), or -1 when out of memory. */
static int time_net(cc_net *n, const bench_plan *plan, const bench_layer_result *layers,
                    size_t count, bench_net_result *r)
{
    float *input = malloc(cc_net_input_count(n) * sizeof(float));
    float *output = malloc(cc_net_output_count(n) * sizeof(float));
    int status = -1;
    if (input != NULL && output != NULL) {
        fill_random(input, cc_net_input_count(n));
        net_call call = {n, input, output};
        read_stats(n, r);
        if (bench_time(run_net, &call, plan, &r->times) == 0) {
            r->images_per_s = r->batch / (r->times.median_ms * 1e-3);
            r->gflops = r->gflop / (r->times.median_ms * 1e-3);
            profile_types(n, input, output, r);
            estimate_im2col_share(layers, count, r);
        } else {
            r->failed = true;
            snprintf(r->error, sizeof r->error, "%s", cc_last_error());
            fprintf(stderr, "colconv-bench: %s: %s\n", r->net, r->error);
            r->conv_ms = r->im2col_share = -1;
        }
        status = 0;
    } else {
        fprintf(stderr, "colconv-bench: %s: out of memory\n", r->net);
    }
    free(input);
    free(output);
    cc_net_destroy(n);
    return status;
}

int bench_net(const char *net, int batch, cc_layout layout, int threads, const bench_plan *plan,
              const bench_layer_result *layers, size_t count, bench_net_result *r)
{
    memset(r, 0, sizeof *r);
    r->net = zoo_name(net);
    if (r->net == NULL) {
        fprintf(stderr, "colconv-bench: %s is not a zoo network\n", net);
        return -1;
    }
    r->batch = batch, r->layout = layout, r->threads = threads;
    r->planning = cc_get_planning();
    cc_net *n = build_net(net, batch, layout, r);
    return n != NULL ? time_net(n, plan, layers, count, r) : -1;
}

int bench_net_model(const char *path, const char *name, int batch, cc_layout layout, int threads,
                    const bench_plan *plan, bench_net_result *r)
{
    memset(r, 0, sizeof *r);
    r->net = name, r->imported = true;
    r->layout = layout, r->threads = threads;
    r->planning = cc_get_planning();
    cc_net *n = build_net(path, batch, layout, r);
    if (n == NULL)
        return -1;
    cc_net_layer_info input;
    r->batch = cc_net_get_layer_info(n, cc_net_input(n), &input) == CC_OK ? input.n : batch;
    return time_net(n, plan, NULL, 0, r);
}

int bench_net_summary(const char *net, int batch, cc_layout layout, FILE *out)
{
    cc_net *n = build_net(net, batch, layout, NULL);
    if (n == NULL)
        return -1;
    const int status = cc_net_print_summary(n, out) == CC_OK ? 0 : -1;
    if (status != 0)
        fprintf(stderr, "colconv-bench: %s: %s\n", net, cc_last_error());
    cc_net_destroy(n);
    return status;
}
