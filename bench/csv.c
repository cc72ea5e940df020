/* RFC 4180 CSV: a header line, then one line per row; a field with a comma,
 * quote or line break is quoted, quotes doubled (descriptors hold quotes).
 * New columns go last, so that readers by position keep working. A failed
 * row has status "failed", its message in error, and empty fields for every
 * figure it did not measure. */
#include "csv.h"

#include <string.h>

#include "rows.h"

const char bench_csv_header[] =
    "net,layer,desc,path,threads,batch,layout,count,index,gflop,ms_median,ms_min,ms_max,reps,"
    "gflops,ratio_to_sgemm,fraction_of_peak,workspace_bytes,threading,auto_pick,impl,fastest,"
    "auto_vs_fastest,status,error,estimate_pick,plan_threads,plan_ms";

static void put_field(FILE *f, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"')
            fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

/* ms_median through workspace_bytes, the figures a failed row leaves empty. */
static void put_figures(FILE *f, const bench_row *r)
{
    if (r->failed) {
        fprintf(f, ",,,%d,,,,", r->reps);
        return;
    }

    fprintf(f, "%.6f,%.6f,%.6f,%d,%.4f,%.4f,%.4f,%lld", r->ms_median, r->ms_min, r->ms_max,
            r->reps, r->gflops, r->ratio_to_sgemm, r->fraction_of_peak,
            r->workspace_bytes > 0 ? r->workspace_bytes : 0);
}

static void put_row(FILE *f, const bench_row *r)
{
    put_field(f, r->net);
    fputc(',', f);
    put_field(f, r->layer);
    fputc(',', f);
    put_field(f, r->desc);
    fprintf(f, ",%s,%d,%d,%s,%d,%d,%.6f,", r->path, r->threads, r->batch, r->layout, r->count,
            r->index, r->gflop);
    put_figures(f, r);
    fprintf(f, ",%s,%s,", r->threading, r->auto_pick);
    put_field(f, r->impl);
    fprintf(f, ",%d,%.4f,%s,", r->fastest ? 1 : 0, r->auto_vs_fastest,
            r->failed ? "failed" : "ok");
    put_field(f, r->error);
    fprintf(f, ",%s,%d,%.3f\n", r->estimate_pick, r->plan_threads, r->plan_ms);
}

int bench_write_csv(const bench_run *run, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "colconv-bench: cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "%s\n", bench_csv_header);
    for (size_t i = 0; i < run->layer_count; i++) {
        bench_row rows[BENCH_MAX_ROWS_PER_LAYER];
        const size_t n = bench_layer_rows(&run->layers[i], run->env.fma_peak_gflops, rows);
        for (size_t k = 0; k < n; k++)
            put_row(f, &rows[k]);
    }
    const int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        fprintf(stderr, "colconv-bench: cannot write %s\n", path);
        return -1;
    }
    return 0;
}
