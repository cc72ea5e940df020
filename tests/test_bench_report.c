/* colconv-bench end to end: a --quick run into a temporary directory, its
 * JSON read back with libcjson and its CSV line by line, both checked
 * against the schema of bench/README.md; a 3x3 layer's Winograd rows; the
 * chart; --merge; exit statuses; AUTO's misses in the text report. */
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
}

static bool known_path(const char *path)
{
    const char *paths[] = {"sgemm",    "reference",     "direct", "im2col",
                           "gemm1x1",  "winograd",      "winograd-f6x6", "auto",
                           "onednn_any", "onednn_nchw", "onednn_nhwc"};
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
    const double auto_vs_fastest = number_field(row, "auto_vs_fastest");
    if (strcmp(path, "auto") == 0 ? !(auto_vs_fastest > 0) : auto_vs_fastest != 0)
        fail_msg("%s %s %s: auto_vs_fastest %g", net, layer, path, auto_vs_fastest);
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
    enum { COLUMNS = 23 };
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
    char *text = read_file(path);
    cJSON *w3x3 = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    assert_non_null(w3x3);
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

/* The text report's lines, as one string (caller frees). */
static char *report_text(const bench_layer_result *layers, size_t count)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    const bench_report_style style = {0, false, false};
    for (size_t i = 0; i < count; i++)
        bench_report_layer(f, &style, &layers[i]);
    bench_report_layer_totals(f, "synthetic", layers, count);
    const long size = ftell(f);
    rewind(f);
    char *text = calloc((size_t)size + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
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
        cmocka_unit_test(auto_misses_are_reported),
    };
    return cmocka_run_group_tests(tests, quick_run, remove_run);
}
