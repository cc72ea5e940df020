/* {"schema", "tool", "env": {...}, "layers": [row...], "networks": [...]}.
 * cJSON builds the tree; numbers are doubles, unknown values null (so are
 * the figures of a failed row or network, "status": "failed"). */
#include "json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer_table.h"
#include "rows.h"

static void add_number_or_null(cJSON *object, const char *name, double value, bool known)
{
    if (known)
        cJSON_AddNumberToObject(object, name, value);
    else
        cJSON_AddNullToObject(object, name);
}

static cJSON *env_json(const bench_run *run)
{
    const bench_env *e = &run->env;
    cJSON *env = cJSON_CreateObject();
    cJSON_AddStringToObject(env, "cpu_model", e->cpu_model);
    cJSON_AddStringToObject(env, "cpu_flags", e->cpu_flags);
    cJSON_AddStringToObject(env, "isa", e->isa);
    cJSON_AddNumberToObject(env, "cores", e->cores);
    cJSON_AddItemToObject(env, "threads", cJSON_CreateIntArray(run->threads, run->thread_count));
    cJSON_AddStringToObject(env, "openblas_version", e->openblas_version);
    cJSON_AddStringToObject(env, "openblas_core", e->openblas_core);
    cJSON_AddStringToObject(env, "openblas_config", e->openblas_config);
    cJSON_AddStringToObject(env, "openblas_library", e->openblas_library);
    cJSON_AddStringToObject(env, "openblas_threading", e->openblas_threading);
    cJSON_AddBoolToObject(env, "openblas_fallback", e->openblas_fallback);
    cJSON_AddStringToObject(env, "openmp", e->openmp);
    cJSON_AddStringToObject(env, "compiler", e->compiler);
    cJSON_AddStringToObject(env, "compiler_flags", e->compiler_flags);
    cJSON_AddStringToObject(env, "build_type", e->build_type);
    cJSON_AddStringToObject(env, "colconv_version", e->version);
    cJSON_AddStringToObject(env, "onednn_version", e->onednn_version);
    cJSON_AddStringToObject(env, "date", e->date);
    add_number_or_null(env, "load_average", e->load_average, e->load_average >= 0);
    cJSON_AddStringToObject(env, "fma_peak_isa", e->fma_peak_isa);
    cJSON_AddNumberToObject(env, "fma_peak_gflops", e->fma_peak_gflops);
    cJSON_AddStringToObject(env, "planning", e->planning);
    return env;
}

/* A failed row: every figure it did not measure is null. */
static cJSON *row_json(const bench_row *row)
{
    const bool ok = !row->failed;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "net", row->net);
    cJSON_AddStringToObject(o, "layer", row->layer);
    cJSON_AddStringToObject(o, "desc", row->desc);
    cJSON_AddStringToObject(o, "path", row->path);
    cJSON_AddNumberToObject(o, "threads", row->threads);
    cJSON_AddNumberToObject(o, "batch", row->batch);
    cJSON_AddStringToObject(o, "layout", row->layout);
    cJSON_AddNumberToObject(o, "count", row->count);
    cJSON_AddNumberToObject(o, "index", row->index);
    cJSON_AddNumberToObject(o, "gflop", row->gflop);
    add_number_or_null(o, "ms_median", row->ms_median, ok);
    add_number_or_null(o, "ms_min", row->ms_min, ok);
    add_number_or_null(o, "ms_max", row->ms_max, ok);
    cJSON_AddNumberToObject(o, "reps", row->reps);
    add_number_or_null(o, "gflops", row->gflops, ok);
    add_number_or_null(o, "ratio_to_sgemm", row->ratio_to_sgemm, ok);
    add_number_or_null(o, "fraction_of_peak", row->fraction_of_peak, row->fraction_of_peak > 0);
    add_number_or_null(o, "workspace_bytes",
                       (double)(row->workspace_bytes > 0 ? row->workspace_bytes : 0), ok);
    cJSON_AddStringToObject(o, "threading", row->threading);
    cJSON_AddStringToObject(o, "auto_pick", row->auto_pick);
    cJSON_AddNumberToObject(o, "auto_vs_fastest", row->auto_vs_fastest);
    cJSON_AddStringToObject(o, "estimate_pick", row->estimate_pick);
    cJSON_AddNumberToObject(o, "plan_threads", row->plan_threads);
    cJSON_AddNumberToObject(o, "plan_ms", row->plan_ms);
    cJSON_AddStringToObject(o, "impl", row->impl);
    cJSON_AddBoolToObject(o, "fastest", row->fastest);
    cJSON_AddStringToObject(o, "status", ok ? "ok" : "failed");
    cJSON_AddStringToObject(o, "error", row->error);
    return o;
}

static cJSON *layers_json(const bench_run *run)
{
    cJSON *layers = cJSON_CreateArray();
    for (size_t i = 0; i < run->layer_count; i++) {
        bench_row rows[BENCH_MAX_ROWS_PER_LAYER];
        const size_t n = bench_layer_rows(&run->layers[i], run->env.fma_peak_gflops, rows);
        for (size_t k = 0; k < n; k++)
            cJSON_AddItemToArray(layers, row_json(&rows[k]));
    }
    return layers;
}

double bench_net_ratio_to_sgemm(const bench_net_result *n, const bench_run *run)
{
    if (n->failed || !bench_table_complete(n->net) || n->times.median_ms <= 0)
        return -1;
    double roof = 0;
    int found = 0;
    for (size_t i = 0; i < run->layer_count; i++) {
        const bench_layer_result *l = &run->layers[i];
        if (strcmp(l->net, n->net) == 0 && l->threads == n->threads) {
            roof += l->count * l->sgemm.median_ms;
            found = 1;
        }
    }
    return found ? roof / n->times.median_ms : -1;
}

/* Each conv layer's time inside the network (its fastest profiled run). */
static cJSON *convs_json(const bench_net_result *n)
{
    cJSON *convs = cJSON_CreateArray();
    for (int i = 0; i < n->conv_count; i++) {
        const bench_conv_time *c = &n->convs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "layer", c->name);
        const int shape[3] = {c->c, c->h, c->w};
        cJSON_AddItemToObject(o, "output_chw", cJSON_CreateIntArray(shape, 3));
        cJSON_AddNumberToObject(o, "gflop", c->gflop);
        cJSON_AddNumberToObject(o, "ms", c->ms);
        add_number_or_null(o, "gflops", c->ms > 0 ? c->gflop / (c->ms * 1e-3) : 0, c->ms > 0);
        cJSON_AddItemToArray(convs, o);
    }
    return convs;
}

static cJSON *memory_json(const bench_net_result *n)
{
    cJSON *layers = cJSON_CreateArray();
    for (int i = 0; i < n->memory_count; i++) {
        const bench_memory_layer *m = &n->memory[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "layer", m->name);
        cJSON_AddStringToObject(o, "type", m->type);
        cJSON_AddNumberToObject(o, "bytes", m->bytes);
        cJSON_AddNumberToObject(o, "ms", m->ms);
        add_number_or_null(o, "copy_ms", m->copy_ms, m->copy_ms > 0);
        const double ratio = bench_memory_ratio(m);
        add_number_or_null(o, "ratio_to_copy", ratio, ratio >= 0);
        cJSON_AddItemToArray(layers, o);
    }
    return layers;
}

static cJSON *net_json(const bench_net_result *n, const bench_run *run)
{
    cJSON *o = cJSON_CreateObject();
    char desc[96];
    snprintf(desc, sizeof desc, "mb%dic%dih%diw%d", n->batch, n->channels, n->height, n->width);
    cJSON_AddStringToObject(o, "net", n->net);
    cJSON_AddStringToObject(o, "source", n->imported ? "onnx" : "zoo");
    cJSON_AddStringToObject(o, "layer", "(network)");
    cJSON_AddStringToObject(o, "desc", desc);
    cJSON_AddStringToObject(o, "path", "auto");
    cJSON_AddNumberToObject(o, "threads", n->threads);
    cJSON_AddNumberToObject(o, "batch", n->batch);
    cJSON_AddStringToObject(o, "layout", n->layout == CC_NHWC ? "nhwc" : "nchw");
    const bool ok = !n->failed;
    add_number_or_null(o, "ms_median", n->times.median_ms, ok);
    add_number_or_null(o, "ms_min", n->times.min_ms, ok);
    add_number_or_null(o, "ms_max", n->times.max_ms, ok);
    cJSON_AddNumberToObject(o, "reps", n->times.reps);
    add_number_or_null(o, "images_per_s", n->images_per_s, ok);
    cJSON_AddNumberToObject(o, "gflop", n->gflop);
    add_number_or_null(o, "gflops", n->gflops, ok);
    const double ratio = bench_net_ratio_to_sgemm(n, run);
    add_number_or_null(o, "ratio_to_sgemm", ratio, ratio >= 0);
    cJSON_AddNumberToObject(o, "workspace_bytes", (double)n->workspace_bytes);
    cJSON_AddNumberToObject(o, "params", (double)n->params);
    cJSON_AddNumberToObject(o, "planned_activation_bytes", (double)n->planned_activation_bytes);
    cJSON_AddStringToObject(o, "layers_layout",
                            n->layers_layout != NULL ? n->layers_layout : "NCHW");
    add_number_or_null(o, "conv_ms", n->conv_ms, n->conv_ms >= 0);
    add_number_or_null(o, "im2col_share", n->im2col_share, n->im2col_share >= 0);
    cJSON_AddNumberToObject(o, "build_ms", n->build_ms);
    cJSON_AddNumberToObject(o, "plans_added", (double)n->plans_added);
    cJSON_AddNumberToObject(o, "planning_ms", n->planning_ms);
    cJSON *types = cJSON_AddObjectToObject(o, "time_per_type_ms");
    for (int t = 0; t < n->type_count; t++)
        cJSON_AddNumberToObject(types, n->types[t].type, n->types[t].ms);
    cJSON_AddStringToObject(o, "time_per_type_method",
                            n->type_count > 0 ? "cc_net_run_timed: each layer's fastest of the "
                                                "profile runs, summed by type (fused layers in "
                                                "their host)"
                                              : "");
    cJSON_AddNumberToObject(o, "profile_runs", n->profile_runs);
    cJSON_AddItemToObject(o, "memory_layers", memory_json(n));
    cJSON_AddItemToObject(o, "conv_layers", convs_json(n));
    cJSON_AddStringToObject(o, "status", ok ? "ok" : "failed");
    cJSON_AddStringToObject(o, "error", n->error);
    return o;
}

int bench_write_json(const bench_run *run, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", BENCH_JSON_SCHEMA);
    cJSON_AddStringToObject(root, "tool", "colconv-bench");
    cJSON_AddItemToObject(root, "env", env_json(run));
    cJSON_AddItemToObject(root, "layers", layers_json(run));
    cJSON *nets = cJSON_AddArrayToObject(root, "networks");
    for (size_t i = 0; i < run->net_count; i++)
        cJSON_AddItemToArray(nets, net_json(&run->nets[i], run));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = text != NULL ? fopen(path, "w") : NULL;
    int status = -1;
    if (f != NULL) {
        status = fputs(text, f) >= 0 && fputc('\n', f) != EOF ? 0 : -1;
        status = fclose(f) == 0 ? status : -1;
    }
    if (status != 0)
        fprintf(stderr, "colconv-bench: cannot write %s\n", path);
    cJSON_free(text);
    return status;
}
