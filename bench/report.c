/* Text report: one row per layer and path, the fastest marked with '*'. */
#include "report.h"

#include <stdlib.h>

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_report_header(FILE *out)
{
    fprintf(out, "%-12s %-16s %-9s %9s %19s %8s %7s %10s %7s %s\n", "net", "layer", "path",
            "ms", "[min - max]", "GFLOP/s", "/sgemm", "workspace", "threads", "auto picks");
}

static void print_row(FILE *out, const bench_layer_result *r, const char *path,
                      const bench_times *t, double gflops, const bench_path_result *pr, bool best)
{
    fprintf(out, "%-12s %-16s %-9s %9.3f [%7.3f - %7.3f] %8.1f %7.2f", r->net, r->layer.name, path,
            t->median_ms, t->min_ms, t->max_ms, gflops, gflops / r->sgemm_gflops);
    if (pr != NULL) {
        fprintf(out, " %10zu %7s", pr->workspace_bytes, cc_threading_name(pr->threading));
        if (pr->algo == CC_ALGO_AUTO)
            fprintf(out, " %s", cc_algo_name(pr->picked));
    }
    fprintf(out, "%s\n", best ? "  *" : "");
}

void bench_report_layer(FILE *out, const bench_layer_result *r)
{
    char desc[160];
    bench_format_desc(&r->layer, desc, sizeof desc);
    fprintf(out, "%-12s %-16s %s (%.3f GFLOP, %s)\n", r->net, r->layer.name, desc, r->gflop,
            r->layout == CC_NCHW ? "nchw" : "nhwc");
    print_row(out, r, "sgemm", &r->sgemm, r->sgemm_gflops, NULL, false);
    for (int a = CC_ALGO_REFERENCE; a < BENCH_PATHS; a++)
        if (r->paths[a].ran)
            print_row(out, r, cc_algo_name((cc_algo)a), &r->paths[a].times, r->paths[a].gflops,
                      &r->paths[a], a == r->fastest);
    if (r->paths[CC_ALGO_AUTO].ran)
        print_row(out, r, "auto", &r->paths[CC_ALGO_AUTO].times, r->paths[CC_ALGO_AUTO].gflops,
                  &r->paths[CC_ALGO_AUTO], false);
}

void bench_report_net(FILE *out, const char *net, const bench_layer_result *results, size_t count)
{
    double totals[BENCH_PATHS] = {0}, sgemm_total = 0, best_total = 0;
    double *ratios = malloc((count > 0 ? count : 1) * sizeof *ratios);
    size_t ratio_count = 0;
    for (size_t i = 0; i < count; i++) {
        const bench_layer_result *r = &results[i];
        sgemm_total += r->sgemm.median_ms;
        for (int a = 0; a < BENCH_PATHS; a++)
            totals[a] += r->paths[a].ran ? r->paths[a].times.median_ms : 0.0;
        if (r->fastest >= 0)
            best_total += r->paths[r->fastest].times.median_ms;
        if (r->paths[CC_ALGO_IM2COL].ran && ratios != NULL)
            ratios[ratio_count++] = r->paths[CC_ALGO_IM2COL].gflops / r->sgemm_gflops;
    }
    fprintf(out, "%s total ms: sgemm %.3f, direct %.3f, im2col %.3f, auto %.3f, fastest per layer %.3f\n",
            net, sgemm_total, totals[CC_ALGO_DIRECT], totals[CC_ALGO_IM2COL],
            totals[CC_ALGO_AUTO], best_total);
    if (ratio_count > 0) {
        qsort(ratios, ratio_count, sizeof *ratios, compare_doubles);
        const double median = ratio_count % 2 ? ratios[ratio_count / 2]
                                              : 0.5 * (ratios[ratio_count / 2 - 1] + ratios[ratio_count / 2]);
        fprintf(out, "%s im2col GFLOP/s / sgemm GFLOP/s: median %.3f over %zu layers (min %.3f, max %.3f)\n",
                net, median, ratio_count, ratios[0], ratios[ratio_count - 1]);
    }
    free(ratios);
}
