/* colconv-bench: times every conv path on the conv layers of the classic
 * networks, beside cblas_sgemm alone on the same GEMM shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colconv.h"
#include "conv_bench.h"
#include "env.h"
#include "layer_table.h"
#include "report.h"

#define DEFAULT_NETS "lenet5,lenet,alexnet,vgg16"
#define MAX_LAYERS 256

typedef struct {
    char nets[256];
    const char *layer_desc;
    int threads;
    cc_layout layout;
    bench_options timing;
} bench_args;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: colconv-bench [options]\n"
            "  --net NAME[,NAME]   networks (lenet5 lenet alexnet vgg16 googlenet1x1 resnet50);\n"
            "                      default " DEFAULT_NETS "\n"
            "  --layer DESC        one convolution as a benchdnn descriptor (mb1ic64ih56oc64kh3ph1)\n"
            "  --threads N         threads (default: all cores)\n"
            "  --layout nchw|nhwc  tensor layout (default nchw)\n"
            "  --paths LIST        of direct,im2col,gemm1x1,auto (default all)\n"
            "  --reps N            timed repetitions (default 7)\n"
            "  --warmup N          untimed runs first (default 2)\n"
            "  --with-reference    also time the (slow) reference path\n"
            "  --quick             small and fast: LeNet layers, 3 repetitions\n"
            "  --version, --help\n");
}

static int bad_usage(const char *what, const char *value)
{
    fprintf(stderr, "colconv-bench: %s '%s'\n", what, value != NULL ? value : "");
    usage(stderr);
    return 2;
}

static int parse_int(const char *text, int lo, int *out)
{
    char *end;
    const long v = text != NULL ? strtol(text, &end, 10) : 0;
    if (text == NULL || *text == '\0' || *end != '\0' || v < lo || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_paths(const char *list, bench_options *o)
{
    char copy[128];
    if (list == NULL || strlen(list) >= sizeof copy)
        return -1;
    snprintf(copy, sizeof copy, "%s", list);
    memset(o->paths, 0, sizeof o->paths);
    for (char *name = strtok(copy, ","); name != NULL; name = strtok(NULL, ",")) {
        int found = 0;
        for (int a = CC_ALGO_AUTO; a < BENCH_PATHS; a++)
            if (strcmp(name, cc_algo_name((cc_algo)a)) == 0)
                o->paths[a] = true, found = 1;
        if (!found)
            return -1;
    }
    return 0;
}

/* Returns -1 to run, or the exit status. */
static int parse_args(int argc, char **argv, bench_args *args)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(opt, "--version") == 0) {
            printf("colconv-bench %s\n", cc_version());
            return 0;
        } else if (strcmp(opt, "--with-reference") == 0) {
            args->timing.with_reference = true;
            args->timing.paths[CC_ALGO_REFERENCE] = true;
        } else if (strcmp(opt, "--quick") == 0) {
            snprintf(args->nets, sizeof args->nets, "lenet5,lenet");
            args->timing.reps = 3, args->timing.warmup = 1;
        } else if (strcmp(opt, "--net") == 0 && value != NULL && strlen(value) < sizeof args->nets) {
            snprintf(args->nets, sizeof args->nets, "%s", value), i++;
        } else if (strcmp(opt, "--layer") == 0 && value != NULL) {
            args->layer_desc = value, i++;
        } else if (strcmp(opt, "--threads") == 0) {
            if (parse_int(value, 1, &args->threads) != 0)
                return bad_usage("bad --threads", value);
            i++;
        } else if (strcmp(opt, "--reps") == 0) {
            if (parse_int(value, 1, &args->timing.reps) != 0)
                return bad_usage("bad --reps", value);
            i++;
        } else if (strcmp(opt, "--warmup") == 0) {
            if (parse_int(value, 0, &args->timing.warmup) != 0)
                return bad_usage("bad --warmup", value);
            i++;
        } else if (strcmp(opt, "--layout") == 0 && value != NULL &&
                   (strcmp(value, "nchw") == 0 || strcmp(value, "nhwc") == 0)) {
            args->layout = strcmp(value, "nchw") == 0 ? CC_NCHW : CC_NHWC, i++;
        } else if (strcmp(opt, "--paths") == 0) {
            if (parse_paths(value, &args->timing) != 0)
                return bad_usage("bad --paths", value);
            i++;
        } else {
            return bad_usage("unknown or incomplete option", opt);
        }
    }
    return -1;
}

static bool net_selected(const char *nets, const char *net)
{
    const size_t len = strlen(net);
    for (const char *s = strstr(nets, net); s != NULL; s = strstr(s + 1, net))
        if ((s == nets || s[-1] == ',') && (s[len] == ',' || s[len] == '\0'))
            return true;
    return false;
}

static int check_nets(const char *nets)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", nets);
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    for (char *name = strtok(copy, ","); name != NULL; name = strtok(NULL, ",")) {
        bool known = false;
        for (size_t i = 0; i < count; i++)
            known = known || strcmp(table[i].net, name) == 0;
        if (!known)
            return bad_usage("unknown network", name);
    }
    return -1;
}

/* Runs the layers of one net (or the single --layer) and prints them. */
static int bench_net(const char *net, const bench_args *args, bench_layer_result *results)
{
    size_t count, done = 0;
    const bench_table_entry *table = bench_table(&count);
    for (size_t i = 0; i < count && done < MAX_LAYERS; i++) {
        if (strcmp(table[i].net, net) != 0)
            continue;
        bench_layer layer;
        char error[160];
        if (bench_parse_desc(table[i].desc, &layer, error, sizeof error) != 0) {
            fprintf(stderr, "colconv-bench: table entry %s: %s\n", table[i].desc, error);
            return 1;
        }
        if (bench_conv_layer(net, &layer, args->layout, &args->timing, &results[done]) != 0)
            return 1;
        bench_report_layer(stdout, &results[done]);
        fflush(stdout);
        done++;
    }
    bench_report_net(stdout, net, results, done);
    printf("\n");
    return 0;
}

static int run(const bench_args *args)
{
    static bench_layer_result results[MAX_LAYERS];
    bench_env env;
    bench_env_read(&env, args->threads);
    bench_env_print(&env, stdout);
    printf("\n");
    bench_report_header(stdout);
    if (args->layer_desc != NULL) {
        bench_layer layer;
        char error[160];
        if (bench_parse_desc(args->layer_desc, &layer, error, sizeof error) != 0)
            return bad_usage(error, args->layer_desc);
        if (layer.name[0] == '\0')
            snprintf(layer.name, sizeof layer.name, "layer");
        if (bench_conv_layer("custom", &layer, args->layout, &args->timing, &results[0]) != 0)
            return 1;
        bench_report_layer(stdout, &results[0]);
        return 0;
    }
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    for (size_t i = 0; i < count; i++) {
        const bool first = i == 0 || strcmp(table[i - 1].net, table[i].net) != 0;
        if (first && net_selected(args->nets, table[i].net) && bench_net(table[i].net, args, results) != 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_args args;
    memset(&args, 0, sizeof args);
    snprintf(args.nets, sizeof args.nets, DEFAULT_NETS);
    args.timing.reps = 7;
    args.timing.warmup = 2;
    for (int a = CC_ALGO_AUTO; a < BENCH_PATHS; a++)
        args.timing.paths[a] = a != CC_ALGO_REFERENCE;
    const int parsed = parse_args(argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    const int checked = check_nets(args.nets);
    if (checked >= 0)
        return checked;
    if (args.threads == 0)
        args.threads = cc_get_num_threads();
    cc_set_num_threads(args.threads);
    return run(&args);
}
