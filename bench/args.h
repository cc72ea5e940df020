/* colconv-bench's command line. */
#ifndef COLCONV_BENCH_ARGS_H
#define COLCONV_BENCH_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "conv_bench.h"
#include "desc.h"
#include "run.h"

#define BENCH_DEFAULT_NETS "lenet5,lenet,alexnet,vgg16,googlenet1x1,resnet50"
#define BENCH_QUICK_NETS "lenet5,lenet,googlenet1x1"
#define BENCH_DEFAULT_OUT "colconv-report"

typedef enum { BENCH_RUN = 0, BENCH_HELP, BENCH_VERSION, BENCH_SUMMARY, BENCH_MERGE } bench_action;

typedef struct {
    bench_action action;
    char nets[256];           /* comma-separated */
    bool has_layer;           /* --layer: this one convolution instead of nets */
    const char *model;        /* --model: this ONNX file instead of nets, or NULL */
    char model_name[64];      /* its file name ("resnet50.onnx"): its name in the report */
    bench_layer layer;
    int batch;                /* 0: the table's (1), or the descriptor's mb */
    int threads[BENCH_MAX_THREAD_COUNTS];
    int thread_count;         /* 0: all cores */
    cc_layout layout;
    bench_options timing;
    bench_plan net_plan;      /* end-to-end network runs */
    const char *plans_file;   /* --plans: loaded before the run, saved after; or NULL */
    bool quick, quiet;
    bool flush_denormals;     /* cc_set_flush_denormals(1) for every run */
    const char *out_dir;      /* report files go here ... */
    const char *json, *csv, *plot; /* ... unless named one by one */
    const char *merge[2];
} bench_args;

/* Parses argv into args (defaults applied). Returns 0, or 2 after printing
 * what is wrong and the usage to err. */
int bench_parse_args(int argc, char **argv, bench_args *args, FILE *err);

void bench_usage(FILE *out);

#endif
