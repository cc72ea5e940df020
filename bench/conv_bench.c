/* One layer, every applicable path, and the SGEMM roof: cblas_sgemm alone on
 * the GEMM the im2col path lowers the layer to (M = OC/g, N = OH*OW*batch,
 * K = IC/g*KH*KW, once per group), with the operands already in place. */
#include "conv_bench.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "onednn.h"

double bench_layer_gflop(const cc_conv2d_params *p)
{
    int oh = 0, ow = 0;
    if (cc_conv2d_output_size(p, &oh, &ow) != CC_OK)
        return 0.0;
    const int groups = p->groups > 0 ? p->groups : 1;
    return 2.0 * p->batch * p->out_channels * oh * ow * (double)(p->in_channels / groups) *
           p->kernel_h * p->kernel_w * 1e-9;
}

const char *bench_peer_name(int peer, cc_layout layout)
{
    if (peer == BENCH_ONEDNN_ANY)
        return "onednn_any";
    if (peer == BENCH_ONEDNN_WINOGRAD)
        return "onednn_wino";
    return layout == CC_NHWC ? "onednn_nhwc" : "onednn_nchw";
}

typedef struct {
    cc_conv2d *op;
    const float *input;
    float *output;
    bench_conv_run_fn run;
} conv_call;

static int run_conv(void *context)
{
    conv_call *call = context;
    return call->run(call->op, call->input, call->output) == CC_OK ? 0 : -1;
}

typedef struct {
    int groups, m, n, k;
    const float *a, *b;
    float *c;
} sgemm_call;

/* cblas_sgemm reports no status: this run cannot fail. */
static int run_sgemm(void *context)
{
    sgemm_call *s = context;
    for (int g = 0; g < s->groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f,
                    s->a + (size_t)g * s->m * s->k, s->k, s->b + (size_t)g * s->k * s->n, s->n,
                    0.0f, s->c + (size_t)g * s->m * s->n, s->n);
    return 0;
}

/* Inputs and bias of the order of 1e-38 times weights below 1: the products
 * and sums are denormal floats (below 1.18e-38), which cost extra cycles
 * unless flushed to zero (cc_set_flush_denormals). */
static void scale_to_denormals(float *input, size_t input_count, float *bias, size_t bias_count)
{
    for (size_t i = 0; i < input_count; i++)
        input[i] *= 1e-38f;
    for (size_t i = 0; i < bias_count; i++)
        bias[i] *= 1e-38f;
}

static float *random_floats(size_t count)
{
    float *data = malloc((count > 0 ? count : 1) * sizeof(float));
    if (data == NULL)
        return NULL;
    unsigned state = 12345u;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        data[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
    }
    return data;
}

/* The roof. Fully connected layers and other BLAS users may have changed
 * OpenBLAS's thread count since the last cc_set_num_threads: set it again. */
static int time_sgemm(const cc_conv2d_params *p, const bench_options *o, bench_layer_result *r)
{
    int oh, ow;
    cc_conv2d_output_size(p, &oh, &ow);
    sgemm_call s;
    s.groups = p->groups > 0 ? p->groups : 1;
    s.m = p->out_channels / s.groups;
    s.n = oh * ow * p->batch;
    s.k = p->in_channels / s.groups * p->kernel_h * p->kernel_w;
    float *a = random_floats((size_t)s.groups * s.m * s.k);
    float *b = random_floats((size_t)s.groups * s.k * s.n);
    float *c = malloc((size_t)s.groups * s.m * s.n * sizeof(float));
    int status = -1;
    if (a != NULL && b != NULL && c != NULL) {
        s.a = a, s.b = b, s.c = c;
        openblas_set_num_threads(r->threads);
        status = bench_time(run_sgemm, &s, &o->plan, &r->sgemm);
        r->sgemm_gflops = r->gflop / (r->sgemm.median_ms * 1e-3);
    }
    free(a);
    free(b);
    free(c);
    return status;
}

/* The reference path is slow: one run, no warm-up. */
static bench_plan path_plan(cc_algo algo, const bench_plan *plan)
{
    if (algo != CC_ALGO_REFERENCE)
        return *plan;
    return (bench_plan){0, 1, plan->budget_ms};
}

/* A failed path: cc_last_error()'s message, no measurement. */
static void mark_failed(const bench_layer_result *r, cc_algo algo, bench_path_result *pr)
{
    *pr = (bench_path_result){.failed = true};
    snprintf(pr->error, sizeof pr->error, "%s", cc_last_error());
    fprintf(stderr, "colconv-bench: %s %s: %s\n", r->layer.name, cc_algo_name(algo), pr->error);
}

static void time_path(const cc_conv2d_params *p, cc_algo algo, const float *weights,
                      const float *bias, const float *input, float *output,
                      const bench_options *o, bench_layer_result *r)
{
    bench_path_result *pr = &r->paths[algo];
    conv_call call = {NULL, input, output, o->run != NULL ? o->run : cc_conv2d_run};
    const double start = bench_now_ms();
    const cc_status status = cc_conv2d_create(p, algo, weights, bias, &call.op);
    const double create_ms = bench_now_ms() - start;
    if (status == CC_ERR_UNSUPPORTED)
        return; /* the path does not apply to this layer */
    if (status != CC_OK) {
        mark_failed(r, algo, pr);
        return;
    }
    const bench_plan plan = path_plan(algo, &o->plan);
    if (bench_time(run_conv, &call, &plan, &pr->times) != 0) {
        mark_failed(r, algo, pr);
        cc_conv2d_destroy(call.op);
        return;
    }
    pr->gflops = r->gflop / (pr->times.median_ms * 1e-3);
    pr->workspace_bytes = cc_conv2d_workspace_size(call.op);
    pr->threading = cc_conv2d_threading(call.op);
    pr->picked = cc_conv2d_algo(call.op);
    pr->run_threads = cc_conv2d_num_threads(call.op);
    if (algo == CC_ALGO_AUTO) {
        pr->estimate = cc_conv2d_estimate(p);
        pr->plan_threads = pr->run_threads;
        pr->plan_ms = create_ms;
    }
    pr->ran = true;
    cc_conv2d_destroy(call.op);
}

int bench_layer_failures(const bench_layer_result *r)
{
    int failures = 0;
    for (int a = 0; a < BENCH_PATHS; a++)
        failures += r->paths[a].failed;
    for (int peer = 0; peer < BENCH_PEERS; peer++)
        failures += r->peers[peer].failed;
    return failures;
}

static void mark_fastest(bench_layer_result *r)
{
    r->fastest = -1;
    for (int a = CC_ALGO_REFERENCE; a < BENCH_PATHS; a++)
        if (r->paths[a].ran &&
            (r->fastest < 0 || r->paths[a].times.median_ms < r->paths[r->fastest].times.median_ms))
            r->fastest = a;
}

/* conv.h: AUTO never picks REFERENCE (the oracle) nor WINOGRAD_F6X6 (its
 * looser tolerance is opt-in). */
static bool auto_may_pick(cc_algo a)
{
    return a != CC_ALGO_AUTO && a != CC_ALGO_REFERENCE && a != CC_ALGO_WINOGRAD_F6X6;
}

int bench_fastest_eligible(const bench_layer_result *r)
{
    int best = -1;
    for (int a = CC_ALGO_AUTO; a < BENCH_PATHS; a++)
        if (auto_may_pick((cc_algo)a) && r->paths[a].ran &&
            (best < 0 || r->paths[a].times.median_ms < r->paths[best].times.median_ms))
            best = a;
    return best;
}

/* The picked path's own row is the figure compared when it was timed: AUTO
 * runs that very path, and timing it twice would count noise as a miss
 * (here two timings of one path differ by 10% and more under load). */
double bench_auto_vs_fastest(const bench_layer_result *r)
{
    const int best = bench_fastest_eligible(r);
    if (!r->paths[CC_ALGO_AUTO].ran || best < 0)
        return 0;
    const bench_path_result *automatic = &r->paths[CC_ALGO_AUTO];
    const bench_path_result *picked = &r->paths[automatic->picked];
    const bool same = picked->ran && picked->run_threads == automatic->run_threads;
    const double auto_ms = same ? picked->times.median_ms : automatic->times.median_ms;
    return auto_ms / r->paths[best].times.median_ms;
}

static void time_peers(const bench_options *o, bench_layer_result *r)
{
    for (int peer = 0; peer < BENCH_PEERS; peer++) {
        bench_peer_result *pr = &r->peers[peer];
        char error[BENCH_ERROR_SIZE];
        const int status =
            bench_onednn_time(&r->layer.params, peer, r->threads, &o->plan, pr, error, sizeof error);
        if (status == BENCH_ONEDNN_NOT_IMPLEMENTED) {
            *pr = (bench_peer_result){0};
            continue;
        }
        if (status != 0) {
            fprintf(stderr, "colconv-bench: %s %s: %s\n", r->layer.name,
                    bench_peer_name(peer, r->layer.params.layout), error);
            *pr = (bench_peer_result){.failed = true};
            snprintf(pr->error, sizeof pr->error, "%s", error);
            continue;
        }
        pr->gflops = r->gflop / (pr->times.median_ms * 1e-3);
        pr->ran = true;
    }
}

int bench_conv_layer(const char *net, const bench_layer *layer, int count, int threads,
                     const bench_options *o, bench_layer_result *r)
{
    *r = (bench_layer_result){0};
    r->net = net;
    r->layer = *layer;
    r->count = count;
    r->threads = threads;
    r->fastest = -1;
    const cc_conv2d_params *p = &r->layer.params;
    int oh, ow;
    if (cc_conv2d_output_size(p, &oh, &ow) != CC_OK) {
        fprintf(stderr, "colconv-bench: %s: %s\n", layer->name, cc_last_error());
        return -1;
    }
    r->gflop = bench_layer_gflop(p);
    const int groups = p->groups > 0 ? p->groups : 1;
    const size_t w_count = (size_t)p->out_channels * (p->in_channels / groups) * p->kernel_h * p->kernel_w;
    float *weights = random_floats(w_count);
    float *bias = random_floats((size_t)p->out_channels);
    float *input = random_floats((size_t)p->batch * p->in_channels * p->in_h * p->in_w);
    float *output = malloc((size_t)p->batch * p->out_channels * oh * ow * sizeof(float));
    int status = -1;
    if (o->tiny_inputs && bias && input)
        scale_to_denormals(input, (size_t)p->batch * p->in_channels * p->in_h * p->in_w, bias,
                           (size_t)p->out_channels);
    if (weights && bias && input && output && time_sgemm(p, o, r) == 0) {
        for (int a = CC_ALGO_AUTO; a < BENCH_PATHS; a++)
            if (o->paths[a])
                time_path(p, (cc_algo)a, weights, bias, input, output, o, r);
        mark_fastest(r);
        if (o->onednn)
            time_peers(o, r);
        status = 0;
    } else {
        fprintf(stderr, "colconv-bench: %s: out of memory\n", layer->name);
    }
    free(weights);
    free(bias);
    free(input);
    free(output);
    return status;
}
