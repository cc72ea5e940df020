/* Reads reports back with libcjson and lines their layers up. */
#include "merge.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t size = 0, capacity = 1 << 16;
    char *text = malloc(capacity);
    while (text != NULL) {
        size += fread(text + size, 1, capacity - size - 1, f);
        if (size < capacity - 1)
            break;
        char *bigger = realloc(text, capacity * 2);
        if (bigger == NULL)
            free(text);
        text = bigger, capacity *= 2;
    }
    if (text != NULL)
        text[size] = '\0';
    fclose(f);
    return text;
}

static void get_string(const cJSON *o, const char *name, char *out, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    snprintf(out, size, "%s", cJSON_IsString(item) ? item->valuestring : "");
}

static double get_number(const cJSON *o, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(item) ? item->valuedouble : 0.0;
}

static void read_row(const cJSON *o, bench_row *r)
{
    memset(r, 0, sizeof *r);
    get_string(o, "net", r->net, sizeof r->net);
    get_string(o, "layer", r->layer, sizeof r->layer);
    get_string(o, "desc", r->desc, sizeof r->desc);
    get_string(o, "path", r->path, sizeof r->path);
    get_string(o, "layout", r->layout, sizeof r->layout);
    get_string(o, "threading", r->threading, sizeof r->threading);
    get_string(o, "auto_pick", r->auto_pick, sizeof r->auto_pick);
    get_string(o, "impl", r->impl, sizeof r->impl);
    r->threads = (int)get_number(o, "threads");
    r->batch = (int)get_number(o, "batch");
    r->count = (int)get_number(o, "count");
    r->reps = (int)get_number(o, "reps");
    r->index = (int)get_number(o, "index");
    r->gflop = get_number(o, "gflop");
    r->ms_median = get_number(o, "ms_median");
    r->ms_min = get_number(o, "ms_min");
    r->ms_max = get_number(o, "ms_max");
    r->gflops = get_number(o, "gflops");
    r->ratio_to_sgemm = get_number(o, "ratio_to_sgemm");
    r->fraction_of_peak = get_number(o, "fraction_of_peak");
    r->auto_vs_fastest = get_number(o, "auto_vs_fastest");
    r->workspace_bytes = (long long)get_number(o, "workspace_bytes");
    r->fastest = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "fastest"));
    /* No "status" (vs_torch.py before it had one): a row that ran. */
    char status[16];
    get_string(o, "status", status, sizeof status);
    r->failed = strcmp(status, "failed") == 0;
    get_string(o, "error", r->error, sizeof r->error);
}

static void read_label(const cJSON *root, bench_report_file *file)
{
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "env");
    char version[32] = "", torch[32] = "", date[40] = "";
    get_string(root, "tool", file->tool, sizeof file->tool);
    get_string(env, "colconv_version", version, sizeof version);
    get_string(env, "torch_version", torch, sizeof torch);
    get_string(env, "date", date, sizeof date);
    snprintf(file->label, sizeof file->label, "%s %s%s, %s", file->tool,
             torch[0] ? "torch " : "", torch[0] ? torch : version, date);
}

int bench_read_report(const char *path, bench_report_file *file, char *error, size_t error_size)
{
    memset(file, 0, sizeof *file);
    char *text = read_text(path);
    if (text == NULL) {
        snprintf(error, error_size, "cannot read %s", path);
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers)) {
        snprintf(error, error_size, "%s: not a colconv-bench report (no \"layers\" array)", path);
        cJSON_Delete(root);
        return -1;
    }
    read_label(root, file);
    const int count = cJSON_GetArraySize(layers);
    file->rows = calloc(count > 0 ? (size_t)count : 1, sizeof *file->rows);
    if (file->rows == NULL) {
        snprintf(error, error_size, "out of memory");
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, layers) read_row(item, &file->rows[file->count++]);
    cJSON_Delete(root);
    return 0;
}

void bench_report_file_free(bench_report_file *file)
{
    free(file->rows);
    file->rows = NULL;
    file->count = 0;
}

static int same_layer(const bench_row *a, const bench_row *b)
{
    return strcmp(a->net, b->net) == 0 && strcmp(a->layer, b->layer) == 0 &&
           a->threads == b->threads && a->batch == b->batch;
}

/* The row a report marks fastest for the layer of `key` (colconv: its
 * fastest path, peers excluded; vs_torch.py: "torch"); failing that, its
 * fastest convolution row (roofs, auto and failed rows excluded); NULL if
 * none. */
static const bench_row *fastest(const bench_report_file *file, const bench_row *key)
{
    const bench_row *best = NULL;
    for (size_t i = 0; i < file->count; i++) {
        const bench_row *r = &file->rows[i];
        if (same_layer(r, key) && r->fastest && !r->failed)
            return r;
    }
    for (size_t i = 0; i < file->count; i++) {
        const bench_row *r = &file->rows[i];
        if (same_layer(r, key) && !r->failed && !bench_row_is_roof(r) &&
            strcmp(r->path, "auto") != 0 && (best == NULL || r->ms_median < best->ms_median))
            best = r;
    }
    return best;
}

/* Whether an earlier row of file is of the same layer (print each once). */
static int seen_before(const bench_report_file *file, size_t index)
{
    for (size_t i = 0; i < index; i++)
        if (same_layer(&file->rows[i], &file->rows[index]))
            return 1;
    return 0;
}

static void print_side_by_side(const bench_report_file *a, const bench_report_file *b, FILE *out)
{
    fprintf(out, "%-12s %-24s %3s %5s | %-12s %9s %8s | %-12s %9s %8s | %7s\n", "net", "layer",
            "thr", "batch", "A path", "A ms", "GFLOP/s", "B path", "B ms", "GFLOP/s", "A/B");
    double log_sum = 0;
    int matched = 0, only_a = 0;
    for (size_t i = 0; i < a->count; i++) {
        if (seen_before(a, i))
            continue;
        const bench_row *ra = fastest(a, &a->rows[i]), *rb = fastest(b, &a->rows[i]);
        if (ra == NULL)
            continue;
        if (rb == NULL) {
            only_a++;
            continue;
        }
        if (strcmp(ra->desc, rb->desc) != 0)
            fprintf(out, "warning: %s %s: A has %s, B has %s\n", ra->net, ra->layer, ra->desc,
                    rb->desc);
        const double speed = rb->ms_median / ra->ms_median;
        fprintf(out, "%-12s %-24s %3d %5d | %-12s %9.3f %8.1f | %-12s %9.3f %8.1f | %7.2f\n",
                ra->net, ra->layer, ra->threads, ra->batch, ra->path, ra->ms_median, ra->gflops,
                rb->path, rb->ms_median, rb->gflops, speed);
        log_sum += log(speed);
        matched++;
    }
    if (matched > 0)
        fprintf(out, "A/B = B's time / A's time (>1: A faster); geometric mean over %d layer%s: "
                     "%.2f\n",
                matched, matched == 1 ? "" : "s", exp(log_sum / matched));
    else
        fprintf(out, "no layer (net, layer, threads, batch) is in both reports\n");
    if (only_a > 0)
        fprintf(out, "%d layer%s of A not in B\n", only_a, only_a == 1 ? "" : "s");
}

int bench_merge(const char *path_a, const char *path_b, FILE *out)
{
    bench_report_file a, b;
    char error[512];
    if (bench_read_report(path_a, &a, error, sizeof error) != 0) {
        fprintf(stderr, "colconv-bench: --merge: %s\n", error);
        return -1;
    }
    if (bench_read_report(path_b, &b, error, sizeof error) != 0) {
        fprintf(stderr, "colconv-bench: --merge: %s\n", error);
        bench_report_file_free(&a);
        return -1;
    }
    fprintf(out, "A: %s (%s)\nB: %s (%s)\n\n", path_a, a.label, path_b, b.label);
    print_side_by_side(&a, &b, out);
    bench_report_file_free(&a);
    bench_report_file_free(&b);
    return 0;
}
