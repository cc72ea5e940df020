/* Flattens a layer result into rows. */
#include "rows.h"

#include <stdio.h>
#include <string.h>

static void fill_common(const bench_layer_result *r, double peak, const char *path,
                        const bench_times *t, double gflops, bench_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->net, sizeof row->net, "%s", r->net);
    snprintf(row->layer, sizeof row->layer, "%s", r->layer.name);
    bench_format_desc(&r->layer, row->desc, sizeof row->desc);
    snprintf(row->path, sizeof row->path, "%s", path);
    snprintf(row->layout, sizeof row->layout, "%s",
             r->layer.params.layout == CC_NHWC ? "nhwc" : "nchw");
    row->threads = r->threads;
    row->batch = r->layer.params.batch;
    row->count = r->count;
    row->index = r->index;
    row->gflop = r->gflop;
    row->reps = t->reps;
    row->ms_median = t->median_ms, row->ms_min = t->min_ms, row->ms_max = t->max_ms;
    row->gflops = gflops;
    row->ratio_to_sgemm = r->sgemm_gflops > 0 ? gflops / r->sgemm_gflops : 0;
    row->fraction_of_peak = peak > 0 ? gflops / peak : 0;
    row->workspace_bytes = -1;
}

/* A path or peer that failed: the layer's fields, the message, no figures. */
static void fill_failed(const bench_layer_result *r, const char *path, const char *error,
                        bench_row *row)
{
    const bench_times none = {0};
    fill_common(r, 0, path, &none, 0, row);
    row->failed = true;
    snprintf(row->error, sizeof row->error, "%s", error);
}

size_t bench_layer_rows(const bench_layer_result *r, double peak,
                        bench_row rows[BENCH_MAX_ROWS_PER_LAYER])
{
    size_t n = 0;
    fill_common(r, peak, "sgemm", &r->sgemm, r->sgemm_gflops, &rows[n++]);
    static const cc_algo order[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL,
                                    CC_ALGO_GEMM1X1, CC_ALGO_WINOGRAD, CC_ALGO_WINOGRAD_F6X6,
                                    CC_ALGO_AUTO};
    _Static_assert(sizeof order / sizeof order[0] == BENCH_PATHS, "every path has a row");
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const bench_path_result *p = &r->paths[order[i]];
        if (p->failed)
            fill_failed(r, cc_algo_name(order[i]), p->error, &rows[n++]);
        if (!p->ran)
            continue;
        bench_row *row = &rows[n++];
        fill_common(r, peak, cc_algo_name(order[i]), &p->times, p->gflops, row);
        row->workspace_bytes = (long long)p->workspace_bytes;
        snprintf(row->threading, sizeof row->threading, "%s", cc_threading_name(p->threading));
        if (order[i] == CC_ALGO_AUTO) {
            snprintf(row->auto_pick, sizeof row->auto_pick, "%s", cc_algo_name(p->picked));
            snprintf(row->estimate_pick, sizeof row->estimate_pick, "%s",
                     cc_algo_name(p->estimate));
            row->auto_vs_fastest = bench_auto_vs_fastest(r);
            row->plan_threads = p->plan_threads;
            row->plan_ms = p->plan_ms;
        }
        row->fastest = (int)order[i] == r->fastest;
    }
    for (int peer = 0; peer < BENCH_PEERS; peer++) {
        const bench_peer_result *p = &r->peers[peer];
        if (p->failed)
            fill_failed(r, bench_peer_name(peer, r->layer.params.layout), p->error, &rows[n++]);
        if (!p->ran)
            continue;
        bench_row *row = &rows[n++];
        fill_common(r, peak, bench_peer_name(peer, r->layer.params.layout), &p->times, p->gflops,
                    row);
        row->workspace_bytes = (long long)p->workspace_bytes;
        snprintf(row->impl, sizeof row->impl, "%s", p->impl);
    }
    return n;
}

int bench_row_is_roof(const bench_row *row)
{
    return strcmp(row->path, "sgemm") == 0 || strcmp(row->path, "torch_mm") == 0;
}
