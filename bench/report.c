/* Text report. Columns: median ms, [min - max] over the repetitions, reps,
 * GFLOP/s, ratio to the SGEMM roof, fraction of the single-core FMA peak,
 * workspace bytes, threading, AUTO's pick, and the speed against oneDNN's
 * faster variant (>1: colconv is faster). '*' marks the fastest path. */
#include "report.h"

#include <string.h>

#include "rows.h"

void bench_report_header(FILE *out, const bench_report_style *style, int threads)
{
    fprintf(out, "Conv layers on %d thread%s: ms = median [min - max] over reps; /sgemm = GFLOP/s "
                 "over cblas_sgemm alone on the layer's GEMM shape (the roof, >1 when a path beats "
                 "it); /peak1 = GFLOP/s over the single-core FMA peak",
            threads, threads == 1 ? "" : "s");
    if (style->peers)
        fprintf(out, "; vs_dnnl = oneDNN's faster time / this path's time (>1: colconv faster)");
    fprintf(out, "; * = fastest colconv path.\n");
    fprintf(out, "  %-12s %-22s %-11s %9s %23s %4s %8s %7s %7s %10s %7s %-8s%s\n", "net", "layer",
            "path", "ms", "[min - max]", "reps", "GFLOP/s", "/sgemm", "/peak1", "workspace",
            "threads", "auto", style->peers ? " vs_dnnl  impl" : "");
}

/* oneDNN's faster variant on this layer, or 0. */
static double onednn_best_ms(const bench_layer_result *r)
{
    double best = 0;
    for (int peer = 0; peer < BENCH_PEERS; peer++)
        if (r->peers[peer].ran && (best == 0 || r->peers[peer].times.median_ms < best))
            best = r->peers[peer].times.median_ms;
    return best;
}

static void print_row(FILE *out, const bench_report_style *style, const bench_row *row,
                      double dnnl_ms)
{
    const bool bold = row->fastest && style->highlight;
    char workspace[24] = "-", peak[16] = "-";
    if (row->workspace_bytes >= 0)
        snprintf(workspace, sizeof workspace, "%lld", row->workspace_bytes);
    if (row->fraction_of_peak > 0)
        snprintf(peak, sizeof peak, "%.2f", row->fraction_of_peak);
    fprintf(out, "%s%c %-12s %-22s %-11s %9.3f [%9.3f - %9.3f] %4d %8.1f %7.2f %7s %10s %7s %-8s",
            bold ? "\033[1m" : "", row->fastest ? '*' : ' ', row->net, row->layer, row->path,
            row->ms_median, row->ms_min, row->ms_max, row->reps, row->gflops, row->ratio_to_sgemm,
            peak, workspace, row->threading[0] ? row->threading : "-",
            row->auto_pick[0] ? row->auto_pick : "");
    if (style->peers && row->threading[0] && dnnl_ms > 0)
        fprintf(out, " %7.2f", dnnl_ms / row->ms_median);
    else if (style->peers && row->impl[0])
        fprintf(out, " %7s  %s", "", row->impl);
    fprintf(out, "%s\n", bold ? "\033[0m" : "");
}

void bench_report_layer(FILE *out, const bench_report_style *style, const bench_layer_result *r)
{
    bench_row rows[BENCH_MAX_ROWS_PER_LAYER];
    const size_t n = bench_layer_rows(r, style->peak_gflops, rows);
    fprintf(out, "  %-12s %-22s %s: %.3f GFLOP%s", r->net, r->layer.name, rows[0].desc, r->gflop,
            r->count > 1 ? "" : "\n");
    if (r->count > 1)
        fprintf(out, ", x%d in the network\n", r->count);
    const double dnnl_ms = onednn_best_ms(r);
    for (size_t i = 0; i < n; i++)
        print_row(out, style, &rows[i], dnnl_ms);
}

/* Sum over the layers (times their count) of one path's median, or of the
 * fastest path's when path < 0; -1 if a layer lacks it. */
static double total_ms(const bench_layer_result *layers, size_t count, int path)
{
    double total = 0;
    for (size_t i = 0; i < count; i++) {
        const int p = path >= 0 ? path : layers[i].fastest;
        if (p < 0 || !layers[i].paths[p].ran)
            return -1;
        total += layers[i].count * layers[i].paths[p].times.median_ms;
    }
    return total;
}

void bench_report_layer_totals(FILE *out, const char *net, const bench_layer_result *layers,
                               size_t count)
{
    if (count == 0)
        return;
    double sgemm = 0;
    for (size_t i = 0; i < count; i++)
        sgemm += layers[i].count * layers[i].sgemm.median_ms;
    fprintf(out, "  %s conv layers, total ms: sgemm roof %.3f", net, sgemm);
    static const cc_algo paths[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const double t = total_ms(layers, count, (int)paths[i]);
        if (t >= 0)
            fprintf(out, ", %s %.3f", cc_algo_name(paths[i]), t);
    }
    const double best = total_ms(layers, count, -1);
    if (best >= 0)
        fprintf(out, ", fastest path per layer %.3f", best);
    fprintf(out, "\n");
}

void bench_report_net(FILE *out, const bench_net_result *n, const bench_layer_result *layers,
                      size_t count)
{
    bench_report_layer_totals(out, n->net, layers, count);
    fprintf(out, "  %s network, batch %d, %d thread%s: %.2f images/s (%.3f ms [%.3f - %.3f] per "
                 "batch, %d reps; %.3f GFLOP, %.1f GFLOP/s; %zu params, %zu activation bytes "
                 "planned, %zu conv workspace bytes)\n",
            n->net, n->batch, n->threads, n->threads == 1 ? "" : "s", n->images_per_s,
            n->times.median_ms, n->times.min_ms, n->times.max_ms, n->times.reps, n->gflop,
            n->gflops, n->params, n->planned_activation_bytes, n->workspace_bytes);
    if (n->type_count > 0) {
        fprintf(out, "  %s time per layer type:", n->net);
        for (int t = 0; t < n->type_count; t++)
            fprintf(out, "%s %s %.3f ms (%.0f%%)", t ? "," : "", n->types[t].type, n->types[t].ms,
                    n->times.median_ms > 0 ? 100.0 * n->types[t].ms / n->times.median_ms : 0.0);
        fprintf(out, "  [each layer's fastest of 3 timed runs; fused layers count in "
                     "their host]\n");
    } else {
        fprintf(out, "  %s time per layer type: n/a (the profiled runs failed)\n", n->net);
    }
    if (n->im2col_share >= 0)
        fprintf(out, "  %s share of conv time building im2col matrices: %.0f%% (estimated: on the "
                     "layers AUTO runs on im2col, im2col time - SGEMM alone on the same shape)\n",
                n->net, 100.0 * n->im2col_share);
    fprintf(out, "\n");
}
