/* Text report. Columns: median ms, [min - max] over the repetitions, reps,
 * GFLOP/s, ratio to the SGEMM roof, fraction of the single-core FMA peak,
 * workspace bytes, threading, AUTO's pick, and the speed against oneDNN's
 * faster variant (>1: colconv is faster). '*' marks the fastest path; the
 * auto row of a layer where AUTO's pick is over 10% slower than the fastest
 * path it may pick says so. */
#include "report.h"

#include <string.h>

#include "rows.h"

/* The bar: AUTO's time over the fastest eligible path's time above
 * this is a miss, a bug to fix in the selection. */
static const double auto_miss_ratio = 1.10;

static bool auto_misses(double auto_vs_fastest)
{
    return auto_vs_fastest > auto_miss_ratio;
}

void bench_report_header(FILE *out, const bench_report_style *style, int threads)
{
    fprintf(out, "Conv layers on %d thread%s: ms = median [min - max] over reps; /sgemm = GFLOP/s "
                 "over cblas_sgemm alone on the layer's GEMM shape (the roof, >1 when a path beats "
                 "it); /peak1 = GFLOP/s over the single-core FMA peak",
            threads, threads == 1 ? "" : "s");
    if (style->peers)
        fprintf(out, "; vs_dnnl = oneDNN's faster time / this path's time (>1: colconv faster)");
    fprintf(out, "; * = fastest colconv path; 'auto Nx slower than P' = AUTO's time is N > %.2f "
                 "times that of P, the fastest eligible path (one AUTO may pick).\n",
            auto_miss_ratio);
    fprintf(out, "  %-12s %-22s %-13s %9s %23s %4s %8s %7s %7s %10s %7s %-8s%s\n", "net", "layer",
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

/* fastest_eligible names the path the auto row's note compares with. A
 * failed row says so, with its message, where the figures would be. */
static void print_row(FILE *out, const bench_report_style *style, const bench_row *row,
                      double dnnl_ms, const char *fastest_eligible)
{
    if (row->failed) {
        fprintf(out, "  %-12s %-22s %-13s %9s: %s\n", row->net, row->layer, row->path, "failed",
                row->error);
        return;
    }
    const bool bold = row->fastest && style->highlight;
    char workspace[24] = "-", peak[16] = "-";
    if (row->workspace_bytes >= 0)
        snprintf(workspace, sizeof workspace, "%lld", row->workspace_bytes);
    if (row->fraction_of_peak > 0)
        snprintf(peak, sizeof peak, "%.2f", row->fraction_of_peak);
    fprintf(out, "%s%c %-12s %-22s %-13s %9.3f [%9.3f - %9.3f] %4d %8.1f %7.2f %7s %10s %7s %-8s",
            bold ? "\033[1m" : "", row->fastest ? '*' : ' ', row->net, row->layer, row->path,
            row->ms_median, row->ms_min, row->ms_max, row->reps, row->gflops, row->ratio_to_sgemm,
            peak, workspace, row->threading[0] ? row->threading : "-",
            row->auto_pick[0] ? row->auto_pick : "");
    if (style->peers && row->threading[0] && dnnl_ms > 0)
        fprintf(out, " %7.2f", dnnl_ms / row->ms_median);
    else if (style->peers && row->impl[0])
        fprintf(out, " %7s  %s", "", row->impl);
    if (auto_misses(row->auto_vs_fastest))
        fprintf(out, "  auto %.2fx slower than %s", row->auto_vs_fastest, fastest_eligible);
    if (style->measured && row->auto_pick[0])
        fprintf(out, "  plan %s x%d in %.1f ms (estimate %s)", row->auto_pick, row->plan_threads,
                row->plan_ms, row->estimate_pick);
    fprintf(out, "%s\n", bold ? "\033[0m" : "");
}

/* "  0.235 MFLOP" below 0.01 GFLOP (LeNet's layers), "  3.699 GFLOP"
 * above: 13 characters, the width of the path column, up to 999.999. */
static void format_work(double gflop, char *text, size_t size)
{
    if (gflop < 0.01)
        snprintf(text, size, "%7.3f MFLOP", gflop * 1e3);
    else
        snprintf(text, size, "%7.3f GFLOP", gflop);
}

/* The layer's line above its rows: net and layer in their columns, the work
 * in the path column, then the descriptor (without the name, which the
 * layer column shows) from the ms column on. */
static void print_layer_line(FILE *out, const bench_layer_result *r)
{
    bench_layer unnamed = r->layer;
    unnamed.name[0] = '\0';
    char desc[192], work[32];
    bench_format_desc(&unnamed, desc, sizeof desc);
    format_work(r->gflop, work, sizeof work);
    fprintf(out, "  %-12s %-22s %-13s %s", r->net, r->layer.name, work, desc);
    if (r->count > 1)
        fprintf(out, ", x%d in the network", r->count);
    fprintf(out, "\n");
}

void bench_report_layer(FILE *out, const bench_report_style *style, const bench_layer_result *r)
{
    bench_row rows[BENCH_MAX_ROWS_PER_LAYER];
    const size_t n = bench_layer_rows(r, style->peak_gflops, rows);
    print_layer_line(out, r);
    const double dnnl_ms = onednn_best_ms(r);
    const int eligible = bench_fastest_eligible(r);
    const char *eligible_name = eligible >= 0 ? cc_algo_name((cc_algo)eligible) : "";
    for (size_t i = 0; i < n; i++)
        print_row(out, style, &rows[i], dnnl_ms, eligible_name);
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

/* How many layers AUTO's pick is within the bar on, and the misses; nothing
 * when no layer has both AUTO and an eligible path timed. */
static void report_auto_misses(FILE *out, const char *net, const bench_layer_result *layers,
                               size_t count)
{
    int compared = 0, within = 0;
    for (size_t i = 0; i < count; i++) {
        const double ratio = bench_auto_vs_fastest(&layers[i]);
        compared += ratio > 0;
        within += ratio > 0 && !auto_misses(ratio);
    }
    if (compared == 0)
        return;
    fprintf(out, "  %s auto within %.0f%% of the fastest eligible path on %d/%d layers",
            net, 100 * (auto_miss_ratio - 1), within, compared);
    const char *separator = "; misses: ";
    for (size_t i = 0; i < count; i++) {
        const double ratio = bench_auto_vs_fastest(&layers[i]);
        if (!auto_misses(ratio))
            continue;
        fprintf(out, "%s%s (%.2fx vs %s)", separator, layers[i].layer.name, ratio,
                cc_algo_name((cc_algo)bench_fastest_eligible(&layers[i])));
        separator = ", ";
    }
    fprintf(out, "\n");
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
    static const cc_algo paths[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_WINOGRAD,
                                    CC_ALGO_AUTO};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const double t = total_ms(layers, count, (int)paths[i]);
        if (t >= 0)
            fprintf(out, ", %s %.3f", cc_algo_name(paths[i]), t);
    }
    const double best = total_ms(layers, count, -1);
    if (best >= 0)
        fprintf(out, ", fastest path per layer %.3f", best);
    fprintf(out, "\n");
    report_auto_misses(out, net, layers, count);
}

void bench_report_planning(FILE *out, const char *net, const bench_layer_result *layers,
                           size_t count)
{
    double ms = 0;
    int planned = 0, differ = 0;
    for (size_t i = 0; i < count; i++) {
        const bench_path_result *a = &layers[i].paths[CC_ALGO_AUTO];
        ms += a->ran ? a->plan_ms : 0;
        planned += a->ran;
        differ += a->ran && a->picked != a->estimate;
    }
    if (planned == 0)
        return;
    fprintf(out, "  %s planning (measure): %.1f ms over %d layer%s (AUTO's creates, packing "
                 "included); the plan differs from the estimate on %d",
            net, ms, planned, planned == 1 ? "" : "s", differ);
    const char *separator = ": ";
    for (size_t i = 0; i < count; i++) {
        const bench_path_result *a = &layers[i].paths[CC_ALGO_AUTO];
        if (!a->ran || a->picked == a->estimate)
            continue;
        fprintf(out, "%s%s (%s, estimate %s)", separator, layers[i].layer.name,
                cc_algo_name(a->picked), cc_algo_name(a->estimate));
        separator = ", ";
    }
    fprintf(out, "\n");
}

/* An imported model's conv layers as the network runs them: each one's
 * fastest of the profiled runs (what is fused into it included). */
static void report_net_convs(FILE *out, const bench_net_result *n)
{
    double total = 0;
    for (int i = 0; i < n->conv_count; i++)
        total += n->convs[i].ms;
    fprintf(out, "  %s conv layers in the network (each one's fastest of %d timed runs, with "
                 "the layers fused into it), %.3f ms in all:\n", n->net, n->profile_runs, total);
    fprintf(out, "    %-36s %-16s %13s %9s %9s %5s\n", "layer", "output", "work", "ms",
            "GFLOP/s", "share");
    for (int i = 0; i < n->conv_count; i++) {
        const bench_conv_time *c = &n->convs[i];
        char shape[32], work[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", c->c, c->h, c->w);
        format_work(c->gflop, work, sizeof work);
        fprintf(out, "    %-36s %-16s %13s %9.3f %9.1f %4.0f%%\n", c->name, shape, work, c->ms,
                c->ms > 0 ? c->gflop / (c->ms * 1e-3) : 0.0, total > 0 ? 100 * c->ms / total : 0);
    }
}

/* The share of the copy rate a memory layer must reach (issue 12). */
#define MEMORY_TARGET 0.8

static void report_net_memory(FILE *out, const bench_net_result *n)
{
    int at_target = 0;
    for (int i = 0; i < n->memory_count; i++)
        at_target += bench_memory_ratio(&n->memory[i]) >= MEMORY_TARGET;
    fprintf(out, "  %s memory-bound layers in the network (each one's fastest of %d timed runs; "
                 "/copy = its GB/s over a memcpy of as many bytes on as many threads, timed "
                 "after; %d of %d at %.1f or more):\n",
            n->net, n->profile_runs, at_target, n->memory_count, MEMORY_TARGET);
    fprintf(out, "    %-36s %-20s %11s %9s %9s %9s %6s\n", "layer", "type", "bytes", "ms", "GB/s",
            "copy GB/s", "/copy");
    for (int i = 0; i < n->memory_count; i++) {
        const bench_memory_layer *m = &n->memory[i];
        const double ratio = bench_memory_ratio(m);
        fprintf(out, "    %-36s %-20s %11.0f %9.4f %9.1f %9.1f %6.2f%s\n", m->name, m->type,
                m->bytes, m->ms, m->ms > 0 ? m->bytes / (m->ms * 1e6) : 0.0,
                m->copy_ms > 0 ? m->bytes / (m->copy_ms * 1e6) : 0.0, ratio,
                ratio >= 0 && ratio < MEMORY_TARGET ? "  below" : "");
    }
}

void bench_report_net(FILE *out, const bench_net_result *n, const bench_layer_result *layers,
                      size_t count)
{
    bench_report_layer_totals(out, n->net, layers, count);
    if (n->failed) {
        fprintf(out, "  %s network, batch %d, %d thread%s: failed: %s\n\n", n->net, n->batch,
                n->threads, n->threads == 1 ? "" : "s", n->error);
        return;
    }
    char work[32];
    format_work(n->gflop, work, sizeof work);
    fprintf(out, "  %s network, batch %d, %d thread%s: %.2f images/s (%.3f ms [%.3f - %.3f] per "
                 "batch, %d reps; %s, %.1f GFLOP/s; %zu params, %zu activation bytes "
                 "planned, %zu conv workspace bytes; layers in %s)\n",
            n->net, n->batch, n->threads, n->threads == 1 ? "" : "s", n->images_per_s,
            n->times.median_ms, n->times.min_ms, n->times.max_ms, n->times.reps,
            work + strspn(work, " "), n->gflops, n->params, n->planned_activation_bytes,
            n->workspace_bytes, n->layers_layout != NULL ? n->layers_layout : "NCHW");
    if (n->type_count > 0) {
        fprintf(out, "  %s time per layer type:", n->net);
        for (int t = 0; t < n->type_count; t++)
            fprintf(out, "%s %s %.3f ms (%.0f%%)", t ? "," : "", n->types[t].type, n->types[t].ms,
                    n->times.median_ms > 0 ? 100.0 * n->types[t].ms / n->times.median_ms : 0.0);
        fprintf(out, "  [each layer's fastest of %d timed runs; fused layers count in "
                     "their host]\n", n->profile_runs);
    } else {
        fprintf(out, "  %s time per layer type: n/a (the profiled runs failed)\n", n->net);
    }
    if (n->planning == CC_PLAN_MEASURE)
        fprintf(out, "  %s network built in %.1f ms under --planning measure; %zu conv plans "
                     "measured by the build (the others were cached) in %.1f ms, %.2fx the "
                     "time of 20 runs (%.1f ms)\n",
                n->net, n->build_ms, n->plans_added, n->planning_ms,
                n->times.median_ms > 0 ? n->planning_ms / (20 * n->times.median_ms) : 0.0,
                20 * n->times.median_ms);
    if (n->imported && n->conv_count > 0)
        report_net_convs(out, n);
    if (n->memory_count > 0)
        report_net_memory(out, n);
    if (n->im2col_share >= 0)
        fprintf(out, "  %s share of conv time building im2col matrices: %.0f%% (estimated: on the "
                     "layers AUTO runs on im2col, im2col time - SGEMM alone on the same shape)\n",
                n->net, 100.0 * n->im2col_share);
    fprintf(out, "\n");
}
