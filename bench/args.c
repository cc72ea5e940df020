/* Option parsing. Every option is checked as it is read; the first problem
 * is printed with the usage, and colconv-bench exits with status 2. */
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include "layer_table.h"
#include "net_bench.h"
#include "onednn.h"

void bench_usage(FILE *out)
{
    fprintf(out,
        "usage: colconv-bench [options]\n"
        "With no options: the default report (" BENCH_DEFAULT_NETS ")\n"
        "at batch 1 on all cores, printed and written to ./" BENCH_DEFAULT_OUT "/\n"
        "(report.json, report.csv, report.png).\n"
        "  --net NAME[,NAME]    networks: any zoo name (lenet5 lenet alexnet vgg11 vgg16 vgg19\n"
        "                       inception3a resnet50 bottleneck) or googlenet1x1 (layers only)\n"
        "  --model FILE.onnx    an ONNX model (cc_net_load_onnx) instead of --net: end to end,\n"
        "                       and each conv layer's time inside the network (--reps and\n"
        "                       --warmup then set the network's runs)\n"
        "  --layer DESC         one convolution, as a benchdnn descriptor, e.g.\n"
        "                       mb1ic64ih56oc64kh3ph1n\"conv\" (keys: mb g ic ih iw oc oh ow kh kw\n"
        "                       sh sw ph pw dh dw, n\"name\"; dh/dw 0-based as in benchdnn)\n"
        "  --batch N            images per run (default 1; --layer: the descriptor's mb)\n"
        "  --threads N[,N...]   thread counts to measure, e.g. 1,2 (default: all cores)\n"
        "  --layout nchw|nhwc   tensor layout (default nchw)\n"
        "  --paths LIST         of direct,im2col,gemm1x1,winograd,winograd-f6x6,auto,reference\n"
        "                       (default all but reference)\n"
        "  --with-reference     also time the (slow) reference path\n"
        "  --reps N             timed repetitions, exactly (default: up to 25, ~1 s per path)\n"
        "  --warmup N           untimed runs first (default 3)\n"
        "  --planning estimate|measure  how AUTO chooses (default estimate, whatever\n"
        "                       COLCONV_PLANNING says): by its cost rule, or by timing the\n"
        "                       eligible paths once per layer (the auto row then gives the plan,\n"
        "                       the rule's pick and the time planning took)\n"
        "  --plans FILE         load this plan file before the run, save the plans after\n"
        "  --vs onednn          time oneDNN on the same layers, side by side (needs a build\n"
        "                       with -DCOLCONV_WITH_ONEDNN=ON)\n"
        "  --out DIR            where report.json/.csv/.png go (default ./" BENCH_DEFAULT_OUT ")\n"
        "  --json FILE, --csv FILE, --plot FILE.png   name the report files one by one\n"
        "  --quick              a seconds-long run: " BENCH_QUICK_NETS ", few repetitions\n"
        "  --summary            with --net or --model: Keras-style summaries, no timing\n"
        "  --merge A.json B.json  two reports side by side (e.g. with bench/vs_torch.py's)\n"
        "  --quiet              no progress on stderr\n"
        "  --tiny-inputs        inputs and bias scaled by 1e-38, so that sums are denormal\n"
        "  --flush-denormals    flush denormals to zero during runs (cc_set_flush_denormals)\n"
        "  --version, --help\n"
        "Exit status: 0 done, 1 a run failed (a failed path is marked in the report),\n"
        "2 bad usage.\n");
}

static int bad(FILE *err, const char *what, const char *value)
{
    fprintf(err, "colconv-bench: %s%s%s%s\n", what, value ? " '" : "", value ? value : "",
            value ? "'" : "");
    bench_usage(err);
    return 2;
}

static int parse_int(const char *text, int lo, int hi, int *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end;
    const long v = strtol(text, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_threads(const char *list, bench_args *a)
{
    char copy[128];
    if (list == NULL || strlen(list) >= sizeof copy || list[0] == '\0')
        return -1;
    snprintf(copy, sizeof copy, "%s", list);
    a->thread_count = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (a->thread_count == BENCH_MAX_THREAD_COUNTS ||
            parse_int(t, 1, 4096, &a->threads[a->thread_count]) != 0)
            return -1;
        a->thread_count++;
    }
    return a->thread_count > 0 ? 0 : -1;
}

static int parse_paths(const char *list, bench_options *o)
{
    char copy[128];
    if (list == NULL || strlen(list) >= sizeof copy || list[0] == '\0')
        return -1;
    snprintf(copy, sizeof copy, "%s", list);
    memset(o->paths, 0, sizeof o->paths);
    char *save = NULL;
    for (char *name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int a = CC_ALGO_AUTO; a < BENCH_PATHS; a++)
            if (strcmp(name, cc_algo_name((cc_algo)a)) == 0)
                o->paths[a] = true, found = 1;
        if (!found)
            return -1;
    }
    return 0;
}

/* Each name a zoo network or a layer set of the table. */
static const char *unknown_net(const char *nets)
{
    static char name[64];
    char copy[256];
    snprintf(copy, sizeof copy, "%s", nets);
    char *save = NULL;
    for (char *n = strtok_r(copy, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save))
        if (!bench_is_zoo_net(n) && !bench_table_has(n)) {
            snprintf(name, sizeof name, "%s", n);
            return name;
        }
    return nets[0] == '\0' ? "" : NULL;
}

static void set_defaults(bench_args *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->nets, sizeof a->nets, "%s", BENCH_DEFAULT_NETS);
    a->layout = CC_NCHW;
    a->timing.plan = (bench_plan){3, 25, 1000.0};
    a->net_plan = (bench_plan){1, 15, 2000.0};
    for (int p = CC_ALGO_AUTO; p < BENCH_PATHS; p++)
        a->timing.paths[p] = p != CC_ALGO_REFERENCE;
    a->out_dir = BENCH_DEFAULT_OUT;
}

typedef struct {
    bool nets, reps, warmup, batch;
} given_flags;

/* Options without a value. Returns 1 if opt was one. */
static int parse_flag(const char *opt, bench_args *a)
{
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
        a->action = BENCH_HELP;
    else if (strcmp(opt, "--version") == 0)
        a->action = BENCH_VERSION;
    else if (strcmp(opt, "--summary") == 0)
        a->action = BENCH_SUMMARY;
    else if (strcmp(opt, "--with-reference") == 0)
        a->timing.paths[CC_ALGO_REFERENCE] = true;
    else if (strcmp(opt, "--quick") == 0)
        a->quick = true;
    else if (strcmp(opt, "--quiet") == 0)
        a->quiet = true;
    else if (strcmp(opt, "--tiny-inputs") == 0)
        a->timing.tiny_inputs = true;
    else if (strcmp(opt, "--flush-denormals") == 0)
        a->flush_denormals = true;
    else
        return 0;
    return 1;
}

static int parse_layer(const char *value, bench_args *a, FILE *err)
{
    char error[160], what[200];
    if (bench_parse_desc(value, &a->layer, error, sizeof error) != 0) {
        snprintf(what, sizeof what, "bad descriptor: %s, in", error);
        return bad(err, what, value);
    }
    if (a->layer.name[0] == '\0')
        snprintf(a->layer.name, sizeof a->layer.name, "layer");
    a->has_layer = true;
    return 0;
}

/* --model FILE.onnx; its name in the report is the file's name. */
static int parse_model(const char *value, bench_args *a, FILE *err)
{
    const size_t len = strlen(value);
    if (len <= 5 || strcmp(value + len - 5, ".onnx") != 0)
        return bad(err, "bad --model (an ONNX file, FILE.onnx)", value);
    const char *slash = strrchr(value, '/');
    snprintf(a->model_name, sizeof a->model_name, "%s", slash ? slash + 1 : value);
    a->model = value;
    return 0;
}

/* Options with a value (argv[*i + 1]). Returns 0, 2 (bad), or -1 if opt is
 * not one of them. */
static int parse_option(int argc, char **argv, int *i, bench_args *a, given_flags *g, FILE *err)
{
    const char *opt = argv[*i];
    static const char *const with_value[] = {"--net", "--model", "--layer", "--batch", "--threads",
                                             "--layout", "--paths", "--reps", "--warmup",
                                             "--json", "--csv", "--plot", "--out", "--vs",
                                             "--merge", "--planning", "--plans", NULL};
    int known = 0;
    for (const char *const *w = with_value; *w != NULL; w++)
        known |= strcmp(opt, *w) == 0;
    if (!known)
        return -1;
    if (*i + 1 >= argc || (strcmp(opt, "--merge") == 0 && *i + 2 >= argc))
        return bad(err, "missing value after", opt);
    const char *value = argv[++*i];
    if (strcmp(opt, "--net") == 0) {
        const char *unknown = strlen(value) < sizeof a->nets ? unknown_net(value) : value;
        if (unknown != NULL)
            return bad(err, "unknown network", unknown);
        snprintf(a->nets, sizeof a->nets, "%s", value), g->nets = true;
    } else if (strcmp(opt, "--layer") == 0) {
        return parse_layer(value, a, err);
    } else if (strcmp(opt, "--model") == 0) {
        return parse_model(value, a, err);
    } else if (strcmp(opt, "--batch") == 0) {
        if (parse_int(value, 1, 4096, &a->batch) != 0)
            return bad(err, "bad --batch (an integer from 1 to 4096)", value);
    } else if (strcmp(opt, "--threads") == 0) {
        if (parse_threads(value, a) != 0)
            return bad(err, "bad --threads (N or a list N,N,... of up to 8 counts)", value);
    } else if (strcmp(opt, "--layout") == 0) {
        if (strcmp(value, "nchw") != 0 && strcmp(value, "nhwc") != 0)
            return bad(err, "bad --layout (nchw or nhwc)", value);
        a->layout = strcmp(value, "nchw") == 0 ? CC_NCHW : CC_NHWC;
    } else if (strcmp(opt, "--paths") == 0) {
        if (parse_paths(value, &a->timing) != 0)
            return bad(err, "bad --paths (of direct,im2col,gemm1x1,winograd,winograd-f6x6,auto,"
                            "reference)", value);
    } else if (strcmp(opt, "--reps") == 0) {
        if (parse_int(value, 1, BENCH_MAX_REPS, &a->timing.plan.reps) != 0)
            return bad(err, "bad --reps (an integer from 1 to 1000)", value);
        g->reps = true;
    } else if (strcmp(opt, "--warmup") == 0) {
        if (parse_int(value, 0, 1000, &a->timing.plan.warmup) != 0)
            return bad(err, "bad --warmup (an integer from 0 to 1000)", value);
        g->warmup = true;
    } else if (strcmp(opt, "--vs") == 0) {
        if (strcmp(value, "onednn") != 0)
            return bad(err, "bad --vs (the one peer built in is onednn)", value);
        if (bench_onednn_version() == NULL)
            return bad(err, "--vs onednn: this colconv-bench was built without oneDNN "
                            "(apt-get install libdnnl-dev; configure with "
                            "-DCOLCONV_WITH_ONEDNN=ON)", NULL);
        a->timing.onednn = true;
    } else if (strcmp(opt, "--planning") == 0) {
        if (strcmp(value, "estimate") != 0 && strcmp(value, "measure") != 0)
            return bad(err, "bad --planning (estimate or measure)", value);
        a->timing.planning = value[0] == 'm' ? CC_PLAN_MEASURE : CC_PLAN_ESTIMATE;
    } else if (strcmp(opt, "--merge") == 0) {
        a->merge[0] = value, a->merge[1] = argv[++*i], a->action = BENCH_MERGE;
    } else if (value[0] == '\0') {
        return bad(err, "empty value after", opt);
    } else if (strcmp(opt, "--plans") == 0) {
        a->plans_file = value;
    } else if (strcmp(opt, "--json") == 0) {
        a->json = value;
    } else if (strcmp(opt, "--csv") == 0) {
        a->csv = value;
    } else if (strcmp(opt, "--plot") == 0) {
        a->plot = value;
    } else {
        a->out_dir = value;
    }
    return 0;
}

/* --quick shortens whatever was not set explicitly; --reps N means exactly
 * N (no time box). */
static void apply_modes(bench_args *a, const given_flags *g)
{
    if (a->quick) {
        if (!g->nets)
            snprintf(a->nets, sizeof a->nets, "%s", BENCH_QUICK_NETS);
        if (!g->reps)
            a->timing.plan.reps = 5;
        if (!g->warmup)
            a->timing.plan.warmup = 1;
        a->timing.plan.budget_ms = 100.0;
        a->net_plan = (bench_plan){1, 5, 200.0};
    }
    if (g->reps)
        a->timing.plan.budget_ms = 0;
    /* --model times no conv path: --reps and --warmup are the network's. */
    if (a->model != NULL && g->reps)
        a->net_plan.reps = a->timing.plan.reps, a->net_plan.budget_ms = 0;
    if (a->model != NULL && g->warmup)
        a->net_plan.warmup = a->timing.plan.warmup;
}

int bench_parse_args(int argc, char **argv, bench_args *a, FILE *err)
{
    set_defaults(a);
    given_flags g = {0};
    for (int i = 1; i < argc; i++) {
        if (parse_flag(argv[i], a))
            continue;
        const int status = parse_option(argc, argv, &i, a, &g, err);
        if (status > 0)
            return status;
        if (status < 0)
            return bad(err, "unknown option", argv[i]);
    }
    if (a->model != NULL && (g.nets || a->has_layer))
        return bad(err, "--model with --net or --layer: one or the other", NULL);
    if (a->action == BENCH_SUMMARY && a->model == NULL && (!g.nets || a->has_layer))
        return bad(err, "--summary needs --net NAME (a zoo network) or --model FILE.onnx", NULL);
    if (a->action == BENCH_SUMMARY && a->model == NULL)
        for (char *n = a->nets; n != NULL; n = strchr(n, ',') ? strchr(n, ',') + 1 : NULL) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(n, ","), n);
            if (!bench_is_zoo_net(name))
                return bad(err, "--summary: not a zoo network", name);
        }
    apply_modes(a, &g);
    return 0;
}
