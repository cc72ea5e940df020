/* The run: environment and FMA peak, then per thread count, per network,
 * every conv layer of the table and the network end to end; the text report
 * as it goes, then the JSON, CSV and chart. */
#include "app.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "csv.h"
#include "fma_peak.h"
#include "json.h"
#include "layer_table.h"
#include "merge.h"
#include "onednn.h"
#include "plot.h"
#include "progress.h"
#include "report.h"

typedef struct {
    const bench_args *args;
    bench_run run;
    bench_progress progress;
    bench_report_style style;
} bench_session;

/* The next comma-separated name of list after *cursor, into name. */
static int next_name(const char **cursor, char *name, size_t size)
{
    if (*cursor == NULL || **cursor == '\0')
        return 0;
    const size_t len = strcspn(*cursor, ",");
    snprintf(name, size, "%.*s", (int)len, *cursor);
    *cursor += len + ((*cursor)[len] == ',');
    return 1;
}

/* A table entry made ready to run: batch and layout applied. */
static int table_layer(const bench_table_entry *e, const bench_args *a, bench_layer *layer)
{
    char error[160];
    if (bench_parse_desc(e->desc, layer, error, sizeof error) != 0) {
        fprintf(stderr, "colconv-bench: table entry %s: %s\n", e->desc, error);
        return -1;
    }
    layer->params.batch = a->batch > 0 ? a->batch : layer->params.batch;
    layer->params.layout = a->layout;
    return 0;
}

static int measure_layer(bench_session *s, const char *net, const bench_layer *layer, int count,
                         int threads, int index)
{
    bench_layer_result r;
    bench_progress_layer(&s->progress, net, layer->name);
    const int status = bench_conv_layer(net, layer, count, threads, &s->args->timing, &r);
    bench_progress_advance(&s->progress, bench_layer_gflop(&layer->params) + 0.05);
    bench_progress_clear(&s->progress);
    if (status != 0)
        return -1;
    r.index = index;
    bench_report_layer(stdout, &s->style, &r);
    fflush(stdout);
    return bench_run_add_layer(&s->run, &r) == 0 ? 0 : -1;
}

static int count_layers(const char *net)
{
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    int n = 0;
    for (size_t i = 0; i < count; i++)
        n += strcmp(table[i].net, net) == 0;
    return n;
}

/* One network (or layer set): its conv layers, then, for a zoo network,
 * the network end to end. */
static int measure_net(bench_session *s, const char *net, int threads, int *index)
{
    const bench_args *a = s->args;
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    const size_t first = s->run.layer_count;
    bench_progress_net(&s->progress, net, threads, count_layers(net));
    for (size_t i = 0; i < count; i++) {
        bench_layer layer;
        if (strcmp(table[i].net, net) != 0)
            continue;
        if (table_layer(&table[i], a, &layer) != 0 ||
            measure_layer(s, table[i].net, &layer, table[i].count, threads, (*index)++) != 0)
            return -1;
    }
    const bench_layer_result *layers = s->run.layers + first;
    const size_t n = s->run.layer_count - first;
    if (a->timing.planning == CC_PLAN_MEASURE)
        bench_report_planning(stdout, net, layers, n);
    if (!bench_is_zoo_net(net)) {
        bench_report_layer_totals(stdout, net, layers, n);
        printf("\n");
        return 0;
    }
    bench_net_result result;
    const int batch = a->batch > 0 ? a->batch : 1;
    if (bench_net(net, batch, a->layout, threads, &a->net_plan, layers, n, &result) != 0)
        return -1;
    bench_report_net(stdout, &result, layers, n);
    fflush(stdout);
    return bench_run_add_net(&s->run, &result);
}

/* An imported model (--model): end to end, with its conv layers' times
 * inside the network (there are no per-path layer rows: the public API does
 * not give an imported conv's geometry). */
static int measure_model(bench_session *s, int threads)
{
    const bench_args *a = s->args;
    bench_net_result result;
    bench_progress_net(&s->progress, a->model_name, threads, 0);
    if (bench_net_model(a->model, a->model_name, a->batch, a->layout, threads, &a->net_plan,
                        &result) != 0)
        return -1;
    bench_report_net(stdout, &result, NULL, 0);
    fflush(stdout);
    return bench_run_add_net(&s->run, &result);
}

/* The default report also runs every other zoo network end to end (no
 * per-layer table), so that each one's batch time is in it. */
static int measure_rest_of_zoo(bench_session *s, int threads)
{
    const bench_args *a = s->args;
    for (const char *const *zoo = cc_net_zoo_names(); *zoo != NULL; zoo++) {
        const char *cursor = a->nets;
        char net[64];
        bool listed = false;
        while (next_name(&cursor, net, sizeof net))
            listed = listed || strcmp(net, *zoo) == 0;
        if (listed)
            continue;
        bench_net_result result;
        if (bench_net(*zoo, a->batch > 0 ? a->batch : 1, a->layout, threads, &a->net_plan, NULL,
                      0, &result) != 0)
            return -1;
        bench_report_net(stdout, &result, NULL, 0);
        fflush(stdout);
        if (bench_run_add_net(&s->run, &result) != 0)
            return -1;
    }
    return 0;
}

static double planned_work(const bench_args *a, int *layers)
{
    double work = 0;
    *layers = 0;
    if (a->has_layer) {
        *layers = 1;
        return bench_layer_gflop(&a->layer.params) + 0.05;
    }
    if (a->model != NULL)
        return 0;
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    const char *cursor = a->nets;
    char net[64];
    while (next_name(&cursor, net, sizeof net))
        for (size_t i = 0; i < count; i++) {
            bench_layer layer;
            if (strcmp(table[i].net, net) == 0 && table_layer(&table[i], a, &layer) == 0) {
                work += bench_layer_gflop(&layer.params) + 0.05;
                (*layers)++;
            }
        }
    return work;
}

static int measure_threads(bench_session *s, int threads)
{
    const bench_args *a = s->args;
    cc_set_num_threads(threads);
    cc_set_flush_denormals(a->flush_denormals);
    if (a->model != NULL)
        printf("Imported model on %d thread%s: ms = median [min - max] of one batch over reps\n",
               threads, threads == 1 ? "" : "s");
    else
        bench_report_header(stdout, &s->style, threads);
    if (a->timing.tiny_inputs || a->flush_denormals)
        printf("inputs: %s; denormals: %s\n",
               a->timing.tiny_inputs ? "scaled by 1e-38 (denormal sums)" : "uniform in [0, 1)",
               a->flush_denormals ? "flushed to zero" : "kept (IEEE)");
    int index = 0;
    if (a->has_layer) {
        bench_layer layer = a->layer;
        layer.params.batch = a->batch > 0 ? a->batch : layer.params.batch;
        layer.params.layout = a->layout;
        const int status = measure_layer(s, "custom", &layer, 1, threads, 0);
        if (a->timing.planning == CC_PLAN_MEASURE && status == 0)
            bench_report_planning(stdout, "custom", s->run.layers + s->run.layer_count - 1, 1);
        printf("\n");
        return status;
    }
    if (a->model != NULL)
        return measure_model(s, threads);
    const char *cursor = a->nets;
    char net[64];
    while (next_name(&cursor, net, sizeof net))
        if (measure_net(s, net, threads, &index) != 0)
            return -1;
    return strcmp(a->nets, BENCH_DEFAULT_NETS) == 0 ? measure_rest_of_zoo(s, threads) : 0;
}

/* mkdir -p for the report directory. */
static int make_dir(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash != NULL)
            *slash = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "colconv-bench: cannot create %s: %s\n", path, strerror(errno));
            return -1;
        }
        if (slash == NULL)
            return 0;
        *slash = '/';
    }
}

/* Without --json/--csv/--plot, all three go to the report directory;
 * otherwise only those named (the CSV too for --plot: the chart is drawn
 * from it, in the report directory unless --csv names it). */
static int write_reports(const bench_session *s)
{
    const bench_args *a = s->args;
    char json[1024], csv[1024], png[1024];
    const bool named = a->json || a->csv || a->plot;
    snprintf(json, sizeof json, "%s", a->json ? a->json : "");
    snprintf(csv, sizeof csv, "%s", a->csv ? a->csv : "");
    snprintf(png, sizeof png, "%s", a->plot ? a->plot : "");
    if (!named)
        snprintf(json, sizeof json, "%s/report.json", a->out_dir);
    if (!named || (a->plot && !a->csv))
        snprintf(csv, sizeof csv, "%s/report.csv", a->out_dir);
    if (!named)
        snprintf(png, sizeof png, "%s/report.png", a->out_dir);
    if ((!named || (a->plot && !a->csv)) && make_dir(a->out_dir) != 0)
        return -1;
    if (json[0] && bench_write_json(&s->run, json) != 0)
        return -1;
    if (csv[0] && bench_write_csv(&s->run, csv) != 0)
        return -1;
    printf("Report files:%s%s%s%s\n", json[0] ? " " : "", json, csv[0] ? " " : "", csv);
    fflush(stdout);
    if (png[0] && s->run.layer_count == 0)
        printf("Chart: none (no layer rows to draw: --model lists its conv layers in the JSON's "
               "conv_layers)\n");
    else if (png[0] && bench_plot(&s->run, csv, png) == 0)
        printf("Chart: %s (its gnuplot script beside it)\n", png);
    return 0;
}

static void read_env(bench_session *s)
{
    bench_env *env = &s->run.env;
    bench_env_read(env);
    snprintf(env->planning, sizeof env->planning, "%s",
             s->args->timing.planning == CC_PLAN_MEASURE ? "measure" : "estimate");
    env->fma_peak_gflops = bench_fma_peak(env->fma_peak_isa, sizeof env->fma_peak_isa);
    int used = 0;
    for (int t = 0; t < s->run.thread_count; t++)
        used += snprintf(env->threads + used, sizeof env->threads - (size_t)used, "%s%d",
                         t ? "," : "", s->run.threads[t]);
}

/* --plans FILE: loaded before the run (a file not there yet is not an
 * error: the run makes it). */
static int load_plans(const char *path)
{
    if (access(path, F_OK) != 0) {
        printf("Plans: %s does not exist yet; it will be written after the run\n", path);
        return 0;
    }
    size_t loaded = 0;
    if (cc_plans_load(path, &loaded) != CC_OK) {
        fprintf(stderr, "colconv-bench: --plans %s: %s\n", path, cc_last_error());
        return -1;
    }
    printf("Plans: loaded %zu from %s (plans of another CPU, ISA or version are skipped)\n",
           loaded, path);
    return 0;
}

static int save_plans(const char *path)
{
    if (cc_plans_save(path) != CC_OK) {
        fprintf(stderr, "colconv-bench: --plans %s: %s\n", path, cc_last_error());
        return -1;
    }
    printf("Plans: saved %zu to %s\n", cc_plans_count(), path);
    return 0;
}

static int run_bench(const bench_args *a)
{
    bench_session s;
    memset(&s, 0, sizeof s);
    s.args = a;
    s.run.thread_count = a->thread_count > 0 ? a->thread_count : 1;
    for (int t = 0; t < s.run.thread_count; t++)
        s.run.threads[t] = a->thread_count > 0 ? a->threads[t] : cc_get_num_threads();
    read_env(&s);
    bench_env_print(&s.run.env, stdout);
    printf("\n");
    s.style = (bench_report_style){s.run.env.fma_peak_gflops, a->timing.onednn,
                                   isatty(fileno(stdout)) == 1,
                                   a->timing.planning == CC_PLAN_MEASURE};
    cc_set_planning(a->timing.planning);
    if (a->plans_file != NULL && load_plans(a->plans_file) != 0) {
        bench_run_free(&s.run);
        return 1;
    }
    int layers;
    const double work = planned_work(a, &layers);
    bench_progress_start(&s.progress, stderr, a->quiet, layers * s.run.thread_count,
                         work * s.run.thread_count);
    int status = 0;
    for (int t = 0; t < s.run.thread_count && status == 0; t++)
        status = measure_threads(&s, s.run.threads[t]);
    if (status == 0)
        status = write_reports(&s);
    if (a->plans_file != NULL && save_plans(a->plans_file) != 0)
        status = -1;
    /* Failed runs are in the report, and make the exit status 1. */
    const int failures = bench_run_failures(&s.run);
    if (failures > 0) {
        fprintf(stderr, "colconv-bench: %d measurement%s failed (marked failed in the report)\n",
                failures, failures == 1 ? "" : "s");
        status = -1;
    }
    bench_run_free(&s.run);
    return status == 0 ? 0 : 1;
}

static int summaries(const bench_args *a)
{
    if (a->model != NULL)
        return bench_net_summary(a->model, a->batch, a->layout, stdout) == 0 ? 0 : 1;
    const char *cursor = a->nets;
    char net[64];
    while (next_name(&cursor, net, sizeof net)) {
        if (bench_net_summary(net, a->batch > 0 ? a->batch : 1, a->layout, stdout) != 0)
            return 1;
        printf("\n");
    }
    return 0;
}

static void print_version(void)
{
    const char *onednn = bench_onednn_version();
    printf("colconv-bench %s (colconv %s; %s; %s%s)\n", cc_version(), cc_version(),
           openblas_get_config(), onednn ? "oneDNN " : "without oneDNN", onednn ? onednn : "");
}

int bench_main(int argc, char **argv)
{
    bench_args args;
    const int parsed = bench_parse_args(argc, argv, &args, stderr);
    if (parsed != 0)
        return parsed;
    switch (args.action) {
    case BENCH_HELP:
        bench_usage(stdout);
        return 0;
    case BENCH_VERSION:
        print_version();
        return 0;
    case BENCH_MERGE:
        return bench_merge(args.merge[0], args.merge[1], stdout) == 0 ? 0 : 1;
    case BENCH_SUMMARY:
        return summaries(&args);
    case BENCH_RUN:
        break;
    }
    return run_bench(&args);
}
