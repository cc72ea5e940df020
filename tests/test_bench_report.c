/* colconv-bench end to end: a --quick run into a temporary directory, its
 * JSON read back with libcjson and its CSV line by line, both checked
 * against the schema of bench/README.md; a 3x3 layer's Winograd rows; the
 * chart; --merge; exit statuses; AUTO's misses in the text report; the
 * layer line's format; failed runs, reported without a time; --planning
 * measure and --plans. */
#include "support.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "conv_bench.h"
#include "csv.h"
#include "desc.h"
#include "env.h"
#include "json.h"
#include "report.h"

static char dir[64];
static cJSON *report; /* the quick run's JSON */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, f) == (size_t)size)
        text[size] = '\0';
    fclose(f);
    return text;
}

/* A JSON file, parsed; fails the test when it cannot be. */
static cJSON *read_json(const char *path)
{
    char *text = read_file(path);
    cJSON *root = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    assert_non_null(root);
    return root;
}

static int run_bench(int argc, const char **argv)
{
    return bench_main(argc, (char **)argv);
}

static int quick_run(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/colconv-bench-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    const char *argv[] = {"colconv-bench", "--quick", "--quiet", "--threads", "1", "--out", dir};
    if (run_bench(7, argv) != 0)
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *text = read_file(path);
    report = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    return report != NULL ? 0 : -1;
}

static int remove_run(void **state)
{
    (void)state;
    cJSON_Delete(report);
    const char *files[] = {"report.json", "report.csv", "report.png", "report.gp", "w3x3.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
    return 0;
}

static const cJSON *field(const cJSON *o, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (item == NULL)
        fail_msg("field \"%s\" missing", name);
    return item;
}

static const char *string_field(const cJSON *o, const char *name)
{
    const cJSON *item = field(o, name);
    if (!cJSON_IsString(item))
        fail_msg("field \"%s\" is not a string", name);
    return item->valuestring;
}

static double number_field(const cJSON *o, const char *name)
{
    const cJSON *item = field(o, name);
    if (!cJSON_IsNumber(item))
        fail_msg("field \"%s\" is not a number", name);
    return item->valuedouble;
}

static void env_follows_schema(void **state)
{
    (void)state;
    assert_string_equal(string_field(report, "schema"), BENCH_JSON_SCHEMA);
    assert_string_equal(string_field(report, "tool"), "colconv-bench");
    const cJSON *env = field(report, "env");
    const char *strings[] = {"cpu_model", "cpu_flags", "isa", "openblas_version", "openblas_core",
                             "openblas_config", "openblas_threading", "openmp", "compiler",
                             "compiler_flags", "build_type", "colconv_version", "date",
                             "fma_peak_isa", "onednn_version"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        string_field(env, strings[i]);
    assert_string_equal(string_field(env, "colconv_version"), cc_version());
    assert_string_equal(string_field(env, "isa"), cc_cpu_isa());
    assert_true(number_field(env, "cores") >= 1);
    assert_true(number_field(env, "fma_peak_gflops") > 0);
    assert_true(cJSON_IsBool(field(env, "openblas_fallback")));
    const cJSON *threads = field(env, "threads");
    assert_true(cJSON_IsArray(threads));
    assert_int_equal(cJSON_GetArraySize(threads), 1);
    assert_int_equal(cJSON_GetArrayItem(threads, 0)->valueint, 1);
    assert_string_equal(string_field(env, "planning"), "estimate");
}

static bool known_path(const char *path)
{
    const char *paths[] = {"sgemm",    "reference",     "direct", "im2col",
                           "gemm1x1",  "winograd",      "winograd-f6x6", "auto",
                           "onednn_any", "onednn_nchw", "onednn_nhwc", "onednn_wino"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp(path, paths[i]) == 0)
            return true;
    return false;
}

static void check_layer_row(const cJSON *row)
{
    const char *net = string_field(row, "net"), *layer = string_field(row, "layer");
    const char *path = string_field(row, "path");
    if (!known_path(path))
        fail_msg("%s %s: unknown path %s", net, layer, path);
    bench_layer parsed;
    char error[160];
    if (bench_parse_desc(string_field(row, "desc"), &parsed, error, sizeof error) != 0)
        fail_msg("%s %s: desc does not parse: %s", net, layer, error);
    assert_string_equal(parsed.name, layer);
    const double gflop = number_field(row, "gflop"), ms = number_field(row, "ms_median");
    assert_true(fabs(gflop - bench_layer_gflop(&parsed.params)) <= 1e-9 + 1e-6 * gflop);
    assert_true(ms > 0);
    assert_true(number_field(row, "ms_min") <= ms && ms <= number_field(row, "ms_max"));
    const double gflops = number_field(row, "gflops");
    if (fabs(gflops - gflop / (ms * 1e-3)) > 1e-6 * gflops)
        fail_msg("%s %s %s: gflops %g is not gflop / seconds", net, layer, path, gflops);
    assert_true(number_field(row, "ratio_to_sgemm") > 0);
    if (strcmp(path, "sgemm") == 0)
        assert_true(fabs(number_field(row, "ratio_to_sgemm") - 1.0) < 1e-12);
    assert_true(number_field(row, "workspace_bytes") >= 0);
    assert_int_equal((int)number_field(row, "threads"), 1);
    assert_int_equal((int)number_field(row, "batch"), 1);
    assert_int_equal(parsed.params.batch, 1);
    assert_true(number_field(row, "reps") >= 1);
    assert_true(number_field(row, "count") >= 1);
    assert_true(cJSON_IsBool(field(row, "fastest")));
    string_field(row, "layout");
    string_field(row, "threading");
    if (strcmp(path, "auto") == 0 && !known_path(string_field(row, "auto_pick")))
        fail_msg("%s %s: auto picked '%s'", net, layer, string_field(row, "auto_pick"));
    if (strcmp(string_field(row, "status"), "ok") != 0)
        fail_msg("%s %s %s: status %s: %s", net, layer, path, string_field(row, "status"),
                 string_field(row, "error"));
    assert_string_equal(string_field(row, "error"), "");
    const double auto_vs_fastest = number_field(row, "auto_vs_fastest");
    if (strcmp(path, "auto") == 0 ? !(auto_vs_fastest > 0) : auto_vs_fastest != 0)
        fail_msg("%s %s %s: auto_vs_fastest %g", net, layer, path, auto_vs_fastest);
    const bool is_auto = strcmp(path, "auto") == 0;
    const char *estimate = string_field(row, "estimate_pick");
    if (is_auto ? !known_path(estimate) : estimate[0] != '\0')
        fail_msg("%s %s %s: estimate_pick '%s'", net, layer, path, estimate);
    const double plan_threads = number_field(row, "plan_threads");
    assert_true(is_auto ? plan_threads >= 1 : plan_threads == 0);
    assert_true(is_auto ? number_field(row, "plan_ms") > 0 : number_field(row, "plan_ms") == 0);
}

/* Per layer: one sgemm row, and exactly one fastest colconv path. */
static void check_layer_groups(const cJSON *layers)
{
    const int n = cJSON_GetArraySize(layers);
    for (int i = 0; i < n; i++) {
        const cJSON *row = cJSON_GetArrayItem(layers, i);
        if (strcmp(string_field(row, "path"), "sgemm") != 0)
            continue;
        int fastest = 0, paths = 0;
        for (int k = i + 1; k < n; k++) {
            const cJSON *other = cJSON_GetArrayItem(layers, k);
            if (strcmp(string_field(other, "path"), "sgemm") == 0)
                break;
            assert_string_equal(string_field(other, "layer"), string_field(row, "layer"));
            paths++;
            fastest += cJSON_IsTrue(field(other, "fastest"));
        }
        assert_true(paths >= 3); /* direct, im2col, auto at least */
        assert_int_equal(fastest, 1);
    }
}

static void layers_follow_schema(void **state)
{
    (void)state;
    const cJSON *layers = field(report, "layers");
    assert_true(cJSON_IsArray(layers));
    const cJSON *row;
    int rows = 0, gemm1x1 = 0, winograd = 0, sgemm = 0;
    bool nets[3] = {false, false, false};
    const char *expected_nets[3] = {"lenet5", "lenet", "googlenet1x1"};
    cJSON_ArrayForEach(row, layers)
    {
        check_layer_row(row);
        rows++;
        gemm1x1 += strcmp(string_field(row, "path"), "gemm1x1") == 0;
        winograd += strncmp(string_field(row, "path"), "winograd", 8) == 0;
        sgemm += strcmp(string_field(row, "path"), "sgemm") == 0;
        for (int k = 0; k < 3; k++)
            nets[k] |= strcmp(string_field(row, "net"), expected_nets[k]) == 0;
    }
    assert_int_equal(sgemm, 9); /* 2 + 2 + 5 layers */
    assert_int_equal(gemm1x1, 5);
    assert_int_equal(winograd, 0); /* 5x5 and 1x1 layers only: skipped */
    assert_true(nets[0] && nets[1] && nets[2]);
    assert_true(rows >= 9 * 4);
    check_layer_groups(layers);
}

static void networks_follow_schema(void **state)
{
    (void)state;
    const cJSON *nets = field(report, "networks");
    assert_true(cJSON_IsArray(nets));
    assert_int_equal(cJSON_GetArraySize(nets), 2); /* googlenet1x1 is not a zoo network */
    const cJSON *net;
    cJSON_ArrayForEach(net, nets)
    {
        const char *name = string_field(net, "net");
        assert_true(strcmp(name, "lenet5") == 0 || strcmp(name, "lenet") == 0);
        string_field(net, "layer");
        string_field(net, "desc");
        assert_string_equal(string_field(net, "path"), "auto");
        assert_true(number_field(net, "ms_median") > 0);
        assert_true(number_field(net, "gflops") > 0);
        assert_true(number_field(net, "images_per_s") > 0);
        assert_true(number_field(net, "workspace_bytes") >= 0);
        const char *layers = string_field(net, "layers_layout");
        assert_true(strcmp(layers, "NCHW") == 0 || strcmp(layers, "NHWC") == 0);
        assert_int_equal((int)number_field(net, "threads"), 1);
        assert_int_equal((int)number_field(net, "batch"), 1);
        const cJSON *ratio = field(net, "ratio_to_sgemm");
        assert_true(cJSON_IsNumber(ratio) && ratio->valuedouble > 0);
        const double conv = number_field(net, "conv_ms");
        const double share = number_field(net, "im2col_share");
        assert_true(conv > 0 && share >= 0 && share <= 1);
        const cJSON *types = field(net, "time_per_type_ms");
        assert_true(cJSON_IsObject(types));
        assert_true(fabs(number_field(types, "Conv2D") - conv) < 1e-9);
        for (const cJSON *t = types->child; t != NULL; t = t->next)
            assert_true(cJSON_IsNumber(t) && t->valuedouble >= 0);
        assert_true(cJSON_GetArraySize(types) >= 3); /* LeNet: conv, pooling, dense at least */
        assert_true(number_field(net, "build_ms") > 0);
        assert_true(number_field(net, "plans_added") == 0); /* ESTIMATE caches nothing */
    }
}

/* Splits one RFC 4180 line into at most max fields (quotes undone). */
static int split_csv(const char *line, char fields[][200], int max)
{
    int n = 0;
    const char *c = line;
    while (n < max) {
        size_t len = 0;
        if (*c == '"') {
            for (c++; *c != '\0' && !(c[0] == '"' && c[1] != '"'); c++) {
                c += c[0] == '"';
                if (len < 199)
                    fields[n][len++] = *c;
            }
            c += *c == '"';
        } else {
            while (*c != ',' && *c != '\0' && *c != '\n')
                if (len < 199)
                    fields[n][len++] = *c++;
                else
                    c++;
        }
        fields[n++][len] = '\0';
        if (*c != ',')
            break;
        c++;
    }
    return n;
}

static void csv_matches_json(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/report.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    assert_non_null(fgets(line, sizeof line, f));
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, bench_csv_header);
    enum { COLUMNS = 28 };
    char fields[COLUMNS + 1][200];
    const cJSON *layers = field(report, "layers");
    int i = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        const cJSON *row = cJSON_GetArrayItem(layers, i++);
        assert_non_null(row);
        assert_int_equal(split_csv(line, fields, COLUMNS + 1), COLUMNS);
        assert_string_equal(fields[0], string_field(row, "net"));
        assert_string_equal(fields[1], string_field(row, "layer"));
        assert_string_equal(fields[2], string_field(row, "desc"));
        assert_string_equal(fields[3], string_field(row, "path"));
        assert_int_equal(atoi(fields[4]), (int)number_field(row, "threads"));
        assert_int_equal(atoi(fields[5]), (int)number_field(row, "batch"));
        const double ms = number_field(row, "ms_median");
        assert_true(fabs(atof(fields[10]) - ms) <= 1e-6 + 1e-6 * ms);
        const double gflops = number_field(row, "gflops");
        assert_true(fabs(atof(fields[14]) - gflops) <= 1e-4 + 1e-4 * gflops);
        assert_int_equal(atoi(fields[21]), cJSON_IsTrue(field(row, "fastest")));
        const double ratio = number_field(row, "auto_vs_fastest");
        assert_true(fabs(atof(fields[22]) - ratio) <= 1e-4 + 1e-4 * ratio);
        assert_string_equal(fields[23], string_field(row, "status"));
        assert_string_equal(fields[24], string_field(row, "error"));
        assert_string_equal(fields[25], string_field(row, "estimate_pick"));
        assert_int_equal(atoi(fields[26]), (int)number_field(row, "plan_threads"));
        const double plan_ms = number_field(row, "plan_ms");
        assert_true(fabs(atof(fields[27]) - plan_ms) <= 1e-3 + 1e-6 * plan_ms);
    }
    fclose(f);
    assert_int_equal(i, cJSON_GetArraySize(layers));
}

/* The row of path in layers, or NULL. */
static const cJSON *row_of(const cJSON *layers, const char *path)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, layers)
    {
        if (strcmp(string_field(row, "path"), path) == 0)
            return row;
    }
    return NULL;
}

/* A 3x3 stride-1 layer gets both Winograd rows (no gemm1x1), and the auto
 * row's auto_vs_fastest is the picked path's time over the fastest of
 * direct, im2col and winograd: never reference or winograd-f6x6, which AUTO
 * does not pick. */
static void winograd_rows_on_a_3x3_layer(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/w3x3.json", dir);
    const char *argv[] = {"colconv-bench", "--layer", "mb1ic8ih12oc8kh3ph1n\"w3x3\"",
                          "--quiet",       "--threads", "1", "--reps", "3", "--warmup", "1",
                          "--with-reference", "--json", path};
    assert_int_equal(run_bench(13, argv), 0);
    cJSON *w3x3 = read_json(path);
    const cJSON *layers = field(w3x3, "layers");
    const cJSON *row;
    cJSON_ArrayForEach(row, layers) check_layer_row(row);
    assert_null(row_of(layers, "gemm1x1"));
    const char *eligible[] = {"direct", "im2col", "winograd"};
    double fastest = 0;
    for (size_t i = 0; i < sizeof eligible / sizeof eligible[0]; i++) {
        const cJSON *r = row_of(layers, eligible[i]);
        if (r == NULL)
            fail_msg("no %s row on a 3x3 stride-1 layer", eligible[i]);
        const double ms = number_field(r, "ms_median");
        fastest = fastest == 0 || ms < fastest ? ms : fastest;
    }
    assert_non_null(row_of(layers, "winograd-f6x6"));
    assert_non_null(row_of(layers, "reference"));
    /* The reference loops use neither BLAS nor our threads. */
    assert_string_equal(string_field(row_of(layers, "reference"), "threading"), "single");
    const cJSON *auto_row = row_of(layers, "auto");
    assert_non_null(auto_row);
    const char *pick = string_field(auto_row, "auto_pick");
    assert_true(strcmp(pick, "reference") != 0 && strcmp(pick, "winograd-f6x6") != 0);
    const double expected = number_field(row_of(layers, pick), "ms_median") / fastest;
    assert_true(fabs(number_field(auto_row, "auto_vs_fastest") - expected) <= 1e-9 * expected);
    cJSON_Delete(w3x3);
}

static bool have_gnuplot(void)
{
    return system("gnuplot --version > /dev/null 2>&1") == 0;
}

static void chart_is_drawn(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/report.gp", dir);
    assert_int_equal(access(path, R_OK), 0);
    if (!have_gnuplot()) {
        printf("gnuplot not installed: the chart itself is not checked\n");
        return;
    }
    snprintf(path, sizeof path, "%s/report.png", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char magic[8] = {0};
    assert_int_equal(fread(magic, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
}

static void merge_of_a_report_with_itself(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/report.json", dir);
    const char *argv[] = {"colconv-bench", "--merge", path, path};
    assert_int_equal(run_bench(4, argv), 0);
    const char *missing[] = {"colconv-bench", "--merge", path, "/nonexistent/report.json"};
    assert_int_equal(run_bench(4, missing), 1);
}

/* A layer result as if timed: median ms per path, 0 for paths not run. */
static bench_layer_result timed_layer(const char *desc, const double ms[BENCH_PATHS],
                                      cc_algo picked)
{
    bench_layer_result r = {0};
    char error[160];
    if (bench_parse_desc(desc, &r.layer, error, sizeof error) != 0)
        fail_msg("%s: %s", desc, error);
    r.net = "synthetic";
    r.count = 1;
    r.threads = 1;
    r.gflop = bench_layer_gflop(&r.layer.params);
    r.sgemm = (bench_times){0.5, 0.5, 0.5, 1};
    r.fastest = -1;
    for (int a = 0; a < BENCH_PATHS; a++) {
        r.paths[a].ran = ms[a] > 0;
        r.paths[a].times = (bench_times){ms[a], ms[a], ms[a], 1};
        r.paths[a].gflops = ms[a] > 0 ? r.gflop / (ms[a] * 1e-3) : 0;
    }
    r.paths[CC_ALGO_AUTO].picked = picked;
    return r;
}

/* What was written to f (a tmpfile), as one string; closes f (caller frees). */
static char *read_back(FILE *f)
{
    const long size = ftell(f);
    rewind(f);
    char *text = calloc((size_t)size + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* The text report's lines, as one string (caller frees). */
static char *report_text(const bench_layer_result *layers, size_t count)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    const bench_report_style style = {0, false, false, false};
    for (size_t i = 0; i < count; i++)
        bench_report_layer(f, &style, &layers[i]);
    bench_report_layer_totals(f, "synthetic", layers, count);
    return read_back(f);
}

/* The network section of n, as one string (caller frees). */
static char *net_text(const bench_net_result *n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    bench_report_net(f, n, NULL, 0);
    return read_back(f);
}

/* The line of text that contains needle, or NULL (into line). */
static const char *line_with(const char *text, const char *needle, char *line, size_t size)
{
    const char *hit = strstr(text, needle);
    if (hit == NULL)
        return NULL;
    const char *start = hit;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(line, size, "%.*s", (int)strcspn(start, "\n"), start);
    return line;
}

/* AUTO is measured against direct, im2col, gemm1x1 and winograd only: a
 * faster reference or winograd-f6x6 is no miss; more than 10% over the
 * fastest eligible path is, on the auto row and in the count. */
static void auto_misses_are_reported(void **state)
{
    (void)state;
    /* auto, reference, direct, im2col, gemm1x1, winograd, winograd-f6x6 */
    const double miss[BENCH_PATHS] = {1.0, 0.1, 1.0, 1.2, 0, 0.8, 0.5};
    const double near[BENCH_PATHS] = {1.05, 0.1, 1.0, 1.3, 0, 1.2, 0.5};
    const double alone[BENCH_PATHS] = {1.0, 0, 0, 0, 0, 0, 0};
    const bench_layer_result layers[] = {
        timed_layer("ic8ih12oc8kh3ph1n\"slow\"", miss, CC_ALGO_DIRECT),
        timed_layer("ic8ih12oc8kh3ph1n\"near\"", near, CC_ALGO_DIRECT),
        timed_layer("ic8ih12oc8kh3ph1n\"alone\"", alone, CC_ALGO_DIRECT),
    };
    assert_int_equal(bench_fastest_eligible(&layers[0]), CC_ALGO_WINOGRAD);
    assert_true(fabs(bench_auto_vs_fastest(&layers[0]) - 1.25) < 1e-12);
    assert_int_equal(bench_fastest_eligible(&layers[1]), CC_ALGO_DIRECT);
    /* AUTO ran direct, the fastest: its own 5% slower timing is noise. */
    assert_true(fabs(bench_auto_vs_fastest(&layers[1]) - 1.0) < 1e-12);
    assert_int_equal(bench_fastest_eligible(&layers[2]), -1);
    assert_true(bench_auto_vs_fastest(&layers[2]) == 0);
    char *text = report_text(layers, 3);
    char line[512];
    if (line_with(text, "slower than", line, sizeof line) == NULL)
        fail_msg("no auto note in:\n%s", text);
    assert_non_null(strstr(line, "slow"));
    assert_non_null(strstr(line, " auto "));
    assert_non_null(strstr(line, "auto 1.25x slower than winograd"));
    assert_null(strstr(strstr(text, line) + strlen(line), "slower than"));
    if (line_with(text, "within 10%", line, sizeof line) == NULL)
        fail_msg("no miss count in:\n%s", text);
    assert_string_equal(line, "  synthetic auto within 10% of the fastest eligible path on 1/2 "
                              "layers; misses: slow (1.25x vs winograd)");
    assert_null(strstr(text, ", winograd ")); /* not on every layer: no total */
    free(text);
    text = report_text(layers, 2);
    if (strstr(text, "total ms: sgemm roof 1.000, direct 2.000, im2col 2.500, winograd 2.000, "
                     "auto 2.050\n") == NULL)
        fail_msg("totals without winograd in:\n%s", text);
    free(text);
}

/* The line above a layer's rows: net and layer in their columns, the work
 * in the path column (MFLOP below 0.01 GFLOP, so LeNet's layers do not
 * read 0.000), the descriptor from the ms column on, without the name the
 * layer column shows; then the network line's work in the same units. */
static void layer_line_format(void **state)
{
    (void)state;
    const double direct[BENCH_PATHS] = {0, 0, 1.0, 0, 0, 0, 0};
    bench_layer_result layers[] = {
        timed_layer("mb1ic1ih32oc6kh5n\"conv1\"", direct, CC_ALGO_DIRECT),
        timed_layer("mb1ic256ih56oc256kh3ph1n\"conv3_2\"", direct, CC_ALGO_DIRECT),
    };
    layers[1].count = 2;
    char *text = report_text(layers, 2);
    char line[512], row[512];
    assert_non_null(line_with(text, "conv1 ", line, sizeof line));
    assert_string_equal(line, "  synthetic    conv1                    0.235 MFLOP "
                              "mb1ic1ih32iw32oc6oh28ow28kh5kw5");
    /* The descriptor starts where the rows' ms column does. */
    assert_non_null(line_with(text, " direct ", row, sizeof row)); /* conv1's */
    assert_int_equal(strstr(line, "mb1") - line, strstr(row, "    1.000") - row);
    assert_int_equal(strstr(line, "MFLOP") - line, strstr(row, "direct") - row + 8);
    assert_non_null(line_with(text, "conv3_2 ", line, sizeof line));
    assert_string_equal(line, "  synthetic    conv3_2                  3.699 GFLOP "
                              "mb1ic256ih56iw56oc256oh56ow56kh3kw3ph1pw1, x2 in the network");
    free(text);

    bench_net_result net = {0};
    net.net = "lenet5", net.batch = 1, net.threads = 1, net.gflop = 0.000846;
    net.times = (bench_times){0.1, 0.1, 0.1, 1};
    net.conv_ms = net.im2col_share = -1;
    text = net_text(&net);
    if (strstr(text, " per batch, 1 reps; 0.846 MFLOP, ") == NULL)
        fail_msg("the network's work is not in MFLOP: %s", text);
    free(text);
}

/* The memory-bound layers: each with its GB/s, its copy's and the ratio,
 * "below" under 0.8, and the count of those at 0.8 or more; an unknown
 * copy time gives no ratio (-1) and counts as below nothing. */
static void memory_layers_are_reported(void **state)
{
    (void)state;
    bench_net_result net = {0};
    net.net = "synthetic", net.batch = 1, net.threads = 2, net.profile_runs = 10;
    net.times = (bench_times){1.0, 1.0, 1.0, 1};
    net.conv_ms = net.im2col_share = -1;
    net.type_count = 1;
    snprintf(net.types[0].type, sizeof net.types[0].type, "MaxPooling2D");
    const bench_memory_layer layers[] = {
        {"pool1", "MaxPooling2D", 2e6, 0.02, 0.01},  /* 100 GB/s, copy 200: 0.50 */
        {"fc6", "Dense", 4e6, 0.1, 0.09},            /* 0.90 */
        {"prob", "Softmax", 8000, 0.001, -1},        /* copy not timed */
    };
    memcpy(net.memory, layers, sizeof layers);
    net.memory_count = 3;
    assert_true(fabs(bench_memory_ratio(&net.memory[0]) - 0.5) < 1e-12);
    assert_true(bench_memory_ratio(&net.memory[2]) == -1);
    char *text = net_text(&net);
    char line[512];
    if (line_with(text, "memory-bound layers", line, sizeof line) == NULL)
        fail_msg("no memory table in:\n%s", text);
    assert_non_null(strstr(line, "fastest of 10 timed runs"));
    assert_non_null(strstr(line, "1 of 3 at 0.8 or more"));
    assert_non_null(line_with(text, "pool1 ", line, sizeof line));
    assert_non_null(strstr(line, "   100.0     200.0   0.50  below"));
    assert_non_null(line_with(text, "fc6 ", line, sizeof line));
    assert_non_null(strstr(line, "0.90"));
    assert_null(strstr(line, "below"));
    assert_non_null(line_with(text, "prob ", line, sizeof line));
    assert_null(strstr(line, "below"));
    assert_null(strstr(text, "measured by the build")); /* built under ESTIMATE */
    free(text);
    /* Under MEASURE: the build's measuring time against 20 runs. */
    net.planning = CC_PLAN_MEASURE;
    net.build_ms = 100, net.plans_added = 3, net.planning_ms = 50;
    text = net_text(&net);
    if (line_with(text, "measured by the build", line, sizeof line) == NULL)
        fail_msg("no planning line in:\n%s", text);
    assert_non_null(strstr(line, "built in 100.0 ms under --planning measure; 3 conv plans"));
    assert_non_null(strstr(line, "in 50.0 ms, 2.50x the time of 20 runs (20.0 ms)"));
    free(text);
}

/* A run that fails on call fail_at (0: none), with status 7. */
typedef struct {
    int calls, fail_at;
} counted_run;

static int count_and_fail(void *context)
{
    counted_run *c = context;
    return ++c->calls == c->fail_at ? 7 : 0;
}

/* bench_time checks every run, warm-up included: the first failure ends
 * the timing, its status comes back, and there is no time. */
static void bench_time_checks_every_run(void **state)
{
    (void)state;
    const bench_plan plan = {2, 4, 0}; /* calls 1-2 warm up, 3-6 are timed */
    for (int fail_at = 1; fail_at <= 6; fail_at++) {
        counted_run c = {0, fail_at};
        bench_times t = {1, 1, 1, 1};
        const int status = bench_time(count_and_fail, &c, &plan, &t);
        if (status != 7 || c.calls != fail_at)
            fail_msg("run %d of 6 failed: bench_time returned %d after %d runs, not 7 after %d",
                     fail_at, status, c.calls, fail_at);
        if (t.reps != 0 || t.median_ms != 0 || t.min_ms != 0 || t.max_ms != 0)
            fail_msg("failure at call %d: a time was reported (%d reps, %g ms)", fail_at, t.reps,
                     t.median_ms);
    }
    counted_run ok = {0, 0};
    bench_times t;
    assert_int_equal(bench_time(count_and_fail, &ok, &plan, &t), 0);
    assert_int_equal(ok.calls, 6);
    assert_int_equal(t.reps, 4);
}

/* The bench's stand-in for cc_conv2d_run: direct's first run (a warm-up)
 * and im2col's third (its second timed run) are real failing runs of the
 * library (a NULL input), so cc_last_error() holds its message. */
static int conv_runs[BENCH_PATHS];

static cc_status failing_run(cc_conv2d *op, const float *input, float *output)
{
    const cc_algo algo = cc_conv2d_algo(op);
    const int call = ++conv_runs[algo];
    if ((algo == CC_ALGO_DIRECT && call == 1) || (algo == CC_ALGO_IM2COL && call == 3))
        return cc_conv2d_run(op, NULL, output);
    return cc_conv2d_run(op, input, output);
}

static const char run_error[] = "conv2d_run: input is NULL";

/* The row of path in a written report's layers (JSON), or fail. */
static const cJSON *written_row(const cJSON *layers, const char *path)
{
    const cJSON *row = row_of(layers, path);
    if (row == NULL)
        fail_msg("no %s row", path);
    return row;
}

static void failed_row_in_json(const bench_run *run)
{
    char path[128];
    snprintf(path, sizeof path, "%s/failed.json", dir);
    assert_int_equal(bench_write_json(run, path), 0);
    cJSON *root = read_json(path);
    remove(path);
    const cJSON *layers = field(root, "layers");
    assert_int_equal(cJSON_GetArraySize(layers), 4);
    const char *failed[] = {"direct", "im2col"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *row = written_row(layers, failed[i]);
        assert_string_equal(string_field(row, "status"), "failed");
        assert_string_equal(string_field(row, "error"), run_error);
        const char *unmeasured[] = {"ms_median", "ms_min", "ms_max", "gflops", "ratio_to_sgemm",
                                    "fraction_of_peak", "workspace_bytes"};
        for (size_t k = 0; k < sizeof unmeasured / sizeof unmeasured[0]; k++)
            if (!cJSON_IsNull(field(row, unmeasured[k])))
                fail_msg("failed %s row: %s is not null", failed[i], unmeasured[k]);
        assert_int_equal((int)number_field(row, "reps"), 0);
        assert_false(cJSON_IsTrue(field(row, "fastest")));
        assert_string_equal(string_field(row, "threading"), "");
    }
    const cJSON *ok = written_row(layers, "gemm1x1");
    assert_string_equal(string_field(ok, "status"), "ok");
    assert_true(number_field(ok, "ms_median") > 0);
    assert_true(cJSON_IsTrue(field(ok, "fastest")));
    cJSON_Delete(root);
}

static void failed_row_in_csv(const bench_run *run)
{
    char path[128];
    snprintf(path, sizeof path, "%s/failed.csv", dir);
    assert_int_equal(bench_write_csv(run, path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048], fields[29][200];
    int failed = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* the header */
    while (fgets(line, sizeof line, f) != NULL) {
        assert_int_equal(split_csv(line, fields, 29), 28);
        if (strcmp(fields[3], "direct") != 0 && strcmp(fields[3], "im2col") != 0) {
            assert_string_equal(fields[23], "ok");
            continue;
        }
        failed++;
        assert_string_equal(fields[23], "failed");
        assert_string_equal(fields[24], run_error);
        for (int k = 10; k <= 17; k++) /* ms_median .. workspace_bytes, reps (13) 0 */
            if (strcmp(fields[k], k == 13 ? "0" : "") != 0)
                fail_msg("failed %s row: column %d is '%s'", fields[3], k + 1, fields[k]);
    }
    fclose(f);
    remove(path);
    assert_int_equal(failed, 2);
}

/* A path whose run fails, in warm-up or while timed, is reported failed,
 * with the library's message and no time, in the result, the rows, the
 * text, the JSON and the CSV; the others are timed as usual. */
static void failed_runs_have_no_time(void **state)
{
    (void)state;
    bench_layer layer;
    char error[160];
    assert_int_equal(bench_parse_desc("mb1ic8ih6oc8kh1n\"pw\"", &layer, error, sizeof error), 0);
    bench_options o = {.plan = {1, 3, 0}, .run = failing_run};
    o.paths[CC_ALGO_DIRECT] = o.paths[CC_ALGO_IM2COL] = o.paths[CC_ALGO_GEMM1X1] = true;
    memset(conv_runs, 0, sizeof conv_runs);
    bench_layer_result r;
    assert_int_equal(bench_conv_layer("synthetic", &layer, 1, 1, &o, &r), 0);
    const cc_algo failed[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL};
    for (size_t i = 0; i < 2; i++) {
        const bench_path_result *p = &r.paths[failed[i]];
        if (p->ran || !p->failed || p->times.reps != 0 || p->times.median_ms != 0 ||
            p->gflops != 0)
            fail_msg("%s failed a run but has ran %d, failed %d, %d reps, %g ms, %g GFLOP/s",
                     cc_algo_name(failed[i]), p->ran, p->failed, p->times.reps,
                     p->times.median_ms, p->gflops);
        assert_string_equal(p->error, run_error);
    }
    /* Each failed path stopped at its failing run. */
    assert_int_equal(conv_runs[CC_ALGO_DIRECT], 1);
    assert_int_equal(conv_runs[CC_ALGO_IM2COL], 3);
    assert_int_equal(conv_runs[CC_ALGO_GEMM1X1], 4);
    assert_true(r.paths[CC_ALGO_GEMM1X1].ran && r.paths[CC_ALGO_GEMM1X1].times.reps == 3);
    assert_int_equal(r.fastest, CC_ALGO_GEMM1X1);
    assert_int_equal(bench_layer_failures(&r), 2);

    char *text = report_text(&r, 1);
    char line[512];
    assert_non_null(line_with(text, " direct ", line, sizeof line));
    assert_string_equal(line, "  synthetic    pw                     direct           failed: "
                              "conv2d_run: input is NULL");
    assert_non_null(line_with(text, " im2col ", line, sizeof line));
    assert_non_null(strstr(line, "   failed: conv2d_run: input is NULL"));
    assert_non_null(line_with(text, "total ms", line, sizeof line));
    if (strstr(line, "direct") != NULL || strstr(line, "im2col") != NULL)
        fail_msg("a failed path has a total: %s", line);
    free(text);

    bench_run run = {0};
    run.thread_count = 1, run.threads[0] = 1;
    run.layers = &r, run.layer_count = 1;
    assert_int_equal(bench_run_failures(&run), 2);
    failed_row_in_json(&run);
    failed_row_in_csv(&run);

    bench_net_result net = {0};
    net.net = "lenet5", net.batch = 1, net.threads = 1, net.failed = true;
    net.conv_ms = net.im2col_share = -1;
    snprintf(net.error, sizeof net.error, "%s", run_error);
    text = net_text(&net);
    assert_string_equal(text, "  lenet5 network, batch 1, 1 thread: failed: conv2d_run: input is "
                              "NULL\n\n");
    free(text);
}

static void *refusing_alloc(void *context, size_t alignment, size_t size)
{
    (void)context, (void)alignment, (void)size;
    return NULL;
}

static void no_free(void *context, void *pointer) { (void)context, (void)pointer; }

/* Through the whole program: with every colconv allocation refused, each
 * path's create fails; the JSON says so row by row (no times) and the exit
 * status is 1. */
static void failed_creates_exit_1(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/nomem.json", dir);
    const char *argv[] = {"colconv-bench", "--layer", "mb1ic8ih6oc8kh1n\"pw\"", "--quiet",
                          "--threads", "1", "--reps", "2", "--warmup", "0", "--json", path};
    const cc_allocator refusing = {NULL, refusing_alloc, no_free};
    assert_int_equal(cc_set_allocator(&refusing), CC_OK);
    const int status = run_bench(12, argv);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    if (status != 1)
        fail_msg("colconv-bench exited with %d when every create failed, not 1", status);
    cJSON *root = read_json(path);
    remove(path);
    const cJSON *layers = field(root, "layers");
    assert_string_equal(string_field(written_row(layers, "sgemm"), "status"), "ok");
    const char *paths[] = {"auto", "direct", "im2col", "gemm1x1"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        written_row(layers, paths[i]);
    const cJSON *row;
    cJSON_ArrayForEach(row, layers)
    {
        if (strcmp(string_field(row, "path"), "sgemm") == 0)
            continue;
        assert_string_equal(string_field(row, "status"), "failed");
        assert_true(strlen(string_field(row, "error")) > 0);
        assert_true(cJSON_IsNull(field(row, "ms_median")));
    }
    cJSON_Delete(root);
}

/* The auto row's plan and the planning line under --planning measure. */
static void planning_lines_format(void **state)
{
    (void)state;
    const double ms[BENCH_PATHS] = {[CC_ALGO_DIRECT] = 2, [CC_ALGO_WINOGRAD] = 3,
                                    [CC_ALGO_AUTO] = 2};
    bench_layer_result r = timed_layer("mb1ic8ih12oc8kh3ph1n\"m3\"", ms, CC_ALGO_DIRECT);
    r.paths[CC_ALGO_AUTO].estimate = CC_ALGO_WINOGRAD;
    r.paths[CC_ALGO_AUTO].plan_threads = 2;
    r.paths[CC_ALGO_AUTO].plan_ms = 12.5;
    FILE *f = tmpfile();
    assert_non_null(f);
    const bench_report_style measured = {0, false, false, true};
    bench_report_layer(f, &measured, &r);
    bench_report_planning(f, "synthetic", &r, 1);
    char *text = read_back(f);
    char line[512];
    assert_non_null(line_with(text, " auto ", line, sizeof line));
    const char *note = "  plan direct x2 in 12.5 ms (estimate winograd)";
    if (strlen(line) < strlen(note) || strcmp(line + strlen(line) - strlen(note), note) != 0)
        fail_msg("the auto row does not end with its plan: %s", line);
    assert_non_null(line_with(text, "planning", line, sizeof line));
    assert_string_equal(line, "  synthetic planning (measure): 12.5 ms over 1 layer (AUTO's "
                              "creates, packing included); the plan differs from the estimate "
                              "on 1: m3 (direct, estimate winograd)");
    free(text);
    /* Under ESTIMATE the rows say nothing of plans. */
    text = report_text(&r, 1);
    assert_null(strstr(text, "plan "));
    free(text);
    /* AUTO compared by the picked path's own row, unless its plan ran that
     * path on another thread count: then by its own row. */
    r.paths[CC_ALGO_AUTO].times.median_ms = 1.5;
    assert_true(fabs(bench_auto_vs_fastest(&r) - 1.0) < 1e-12);
    r.paths[CC_ALGO_AUTO].run_threads = 1;
    r.paths[CC_ALGO_DIRECT].run_threads = 2;
    assert_true(fabs(bench_auto_vs_fastest(&r) - 0.75) < 1e-12);
}

/* --planning measure --plans FILE: the auto row has a measured plan, the
 * rule's pick and the time planning took; the file is written; a run under
 * ESTIMATE with the file loads the plan and AUTO runs it. */
static void planning_measure_with_a_plans_file(void **state)
{
    (void)state;
    char json[128], plans[128];
    snprintf(json, sizeof json, "%s/measure.json", dir);
    snprintf(plans, sizeof plans, "%s/plans.ccp", dir);
    cc_plans_clear();
    const char *argv[] = {"colconv-bench", "--layer", "mb1ic8ih12oc8kh3ph1n\"m3\"", "--quiet",
                          "--threads", "1", "--reps", "2", "--warmup", "0", "--planning",
                          "measure", "--plans", plans, "--json", json};
    assert_int_equal(run_bench(16, argv), 0);
    cJSON *root = read_json(json);
    assert_string_equal(string_field(field(root, "env"), "planning"), "measure");
    const cJSON *layers = field(root, "layers"), *row;
    cJSON_ArrayForEach(row, layers) check_layer_row(row);
    const cJSON *auto_row = row_of(layers, "auto");
    assert_non_null(auto_row);
    char pick[16];
    snprintf(pick, sizeof pick, "%s", string_field(auto_row, "auto_pick"));
    bench_layer parsed;
    char error[160];
    assert_int_equal(bench_parse_desc(string_field(auto_row, "desc"), &parsed, error, sizeof error),
                     0);
    assert_string_equal(string_field(auto_row, "estimate_pick"),
                        cc_algo_name(cc_conv2d_estimate(&parsed.params)));
    assert_int_equal((int)number_field(auto_row, "plan_threads"), 1);
    cJSON_Delete(root);
    assert_int_equal(cc_plans_count(), 1);
    cc_plans_clear();
    size_t loaded = 0;
    assert_int_equal(cc_plans_load(plans, &loaded), CC_OK);
    assert_int_equal(loaded, 1);
    cc_plans_clear();

    const char *again[] = {"colconv-bench", "--layer", "mb1ic8ih12oc8kh3ph1n\"m3\"", "--quiet",
                           "--threads", "1", "--reps", "2", "--warmup", "0", "--plans", plans,
                           "--json", json};
    assert_int_equal(run_bench(14, again), 0);
    root = read_json(json);
    assert_string_equal(string_field(field(root, "env"), "planning"), "estimate");
    assert_string_equal(string_field(row_of(field(root, "layers"), "auto"), "auto_pick"), pick);
    cJSON_Delete(root);
    assert_int_equal(cc_plans_count(), 1);
    cc_plans_clear();
    /* A broken plan file stops the run before it starts. */
    FILE *f = fopen(plans, "wb");
    assert_non_null(f);
    fputs("not a plan file", f);
    fclose(f);
    assert_int_equal(run_bench(14, again), 1);
    remove(plans);
    remove(json);
}

/* An unknown COLCONV_MAX_ISA caps nothing; the header says so. */
static void unknown_isa_cap_is_reported(void **state)
{
    (void)state;
    const char *saved = getenv("COLCONV_MAX_ISA");
    char *saved_copy = saved != NULL ? strdup(saved) : NULL;
    const char *values[] = {"AVX2", "avx-512"};
    for (int i = 0; i < 2; i++) {
        setenv("COLCONV_MAX_ISA", values[i], 1);
        bench_env env;
        bench_env_read(&env);
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        assert_non_null(out);
        bench_env_print(&env, out);
        fclose(out);
        const bool warned = strstr(text, "warning: COLCONV_MAX_ISA='avx-512'") != NULL;
        if (warned != (i == 1))
            fail_msg("COLCONV_MAX_ISA=%s: %s in the header:\n%s", values[i],
                     warned ? "a warning" : "no warning", text);
        free(text);
    }
    if (saved_copy != NULL)
        setenv("COLCONV_MAX_ISA", saved_copy, 1);
    else
        unsetenv("COLCONV_MAX_ISA");
    free(saved_copy);
}

static void usage_errors_exit_2(void **state)
{
    (void)state;
    const char *cases[][4] = {
        {"--no-such-option", NULL},
        {"--net", NULL},
        {"--net", "nosuchnet"},
        {"--net", "lenet5,nosuchnet"},
        {"--layer", "ic3ih32xx5oc8kh3"},
        {"--layer", "ic3ih32oc8oh31kh3"},
        {"--threads", "0"},
        {"--threads", "1,x"},
        {"--batch", "0"},
        {"--layout", "nchwc"},
        {"--paths", "direct,fft"},
        {"--reps", "-1"},
        {"--warmup", "many"},
        {"--vs", "mkl"},
        {"--summary", NULL},
        {"--merge", "a.json"},
        {"--json", ""},
        {"--planning", "exhaustive"},
        {"--planning", NULL},
        {"--plans", NULL},
        {"--plans", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[4] = {"colconv-bench", cases[i][0], cases[i][1], NULL};
        const int argc = cases[i][1] != NULL ? 3 : 2;
        const int status = run_bench(argc, argv);
        if (status != 2)
            fail_msg("colconv-bench %s %s: exit status %d, expected 2", cases[i][0],
                     cases[i][1] ? cases[i][1] : "", status);
    }
    const char *help[] = {"colconv-bench", "--help"};
    assert_int_equal(run_bench(2, help), 0);
    const char *version[] = {"colconv-bench", "--version"};
    assert_int_equal(run_bench(2, version), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_follows_schema),
        cmocka_unit_test(layers_follow_schema),
        cmocka_unit_test(networks_follow_schema),
        cmocka_unit_test(csv_matches_json),
        cmocka_unit_test(winograd_rows_on_a_3x3_layer),
        cmocka_unit_test(chart_is_drawn),
        cmocka_unit_test(merge_of_a_report_with_itself),
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(unknown_isa_cap_is_reported),
        cmocka_unit_test(auto_misses_are_reported),
        cmocka_unit_test(layer_line_format),
        cmocka_unit_test(memory_layers_are_reported),
        cmocka_unit_test(bench_time_checks_every_run),
        cmocka_unit_test(failed_runs_have_no_time),
        cmocka_unit_test(failed_creates_exit_1),
        cmocka_unit_test(planning_lines_format),
        cmocka_unit_test(planning_measure_with_a_plans_file),
    };
    return cmocka_run_group_tests(tests, quick_run, remove_run);
}
