/* layer_speed: each non-convolution layer kernel (src/layers/) on the real
 * shapes of VGG-16, AlexNet, ResNet-50 and Inception 3a, beside a memcpy of
 * the same bytes measured in the same run (issue 12: "other layers at memory
 * speed"). Not a test and not run in CI: a measuring instrument to run by
 * hand on a quiet machine.
 *
 * For a layer that reads `in` bytes and writes `out` bytes in t seconds its
 * rate is (in + out) / t. The reference is memcpy of (in + out) / 2 bytes
 * (it reads and writes that many, the same traffic), split over the same
 * number of threads, at the same cache temperature (both run back to back
 * on buffers already touched). ratio = layer GB/s / memcpy GB/s; the target
 * is 0.8 (the ratio of the mins in brackets). Each figure is the median of --reps repetitions (min in brackets),
 * the layer's and the copy's alternating; a repetition calls the kernel
 * often enough to last at least 2 ms. On a loaded machine a team of
 * threads waits for a descheduled member at every join, so by default the
 * clock is CPU time (see now()); --clock wall for the wall clock.
 *
 * Usage: layer_speed [--reps N] [--threads 1,2] [--layout nchw|nhwc|both]
 *                    [--only SUBSTRING] [--clock cpu|wall]
 */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/layers/layers.h"

typedef enum {
    K_POOL, K_GLOBAL_POOL, K_LRN, K_SOFTMAX, K_RELU, K_ADD_RELU, K_BATCHNORM, K_CONCAT, K_FC
} kind;

/* One measured case: a kernel and its input shape (batch 1). */
typedef struct {
    const char *name;
    kind k;
    cc__dims in;
    cc_pool2d_params pool;  /* K_POOL */
    cc_pool_kind global;    /* K_GLOBAL_POOL */
    int parts[4];           /* K_CONCAT: channels of each input; K_FC: outputs in parts[0] */
} layer_case;

#define MAX2(k) {CC_POOL_MAX, k, k, 2, 2, 0, 0, 0, 0, 0, 0}

static const layer_case cases[] = {
    {"vgg16 pool1 max 2x2 s2", K_POOL, {1, 64, 224, 224}, MAX2(2), 0, {0}},
    {"vgg16 pool2 max 2x2 s2", K_POOL, {1, 128, 112, 112}, MAX2(2), 0, {0}},
    {"vgg16 pool3 max 2x2 s2", K_POOL, {1, 256, 56, 56}, MAX2(2), 0, {0}},
    {"vgg16 pool4 max 2x2 s2", K_POOL, {1, 512, 28, 28}, MAX2(2), 0, {0}},
    {"vgg16 pool5 max 2x2 s2", K_POOL, {1, 512, 14, 14}, MAX2(2), 0, {0}},
    {"vgg16 relu 64x224x224", K_RELU, {1, 64, 224, 224}, {0}, 0, {0}},
    {"vgg16 fc6 4096x25088", K_FC, {1, 512, 7, 7}, {0}, 0, {4096}},
    {"alexnet pool1 max 3x3 s2", K_POOL, {1, 96, 55, 55}, MAX2(3), 0, {0}},
    {"alexnet pool2 max 3x3 s2", K_POOL, {1, 256, 27, 27}, MAX2(3), 0, {0}},
    {"alexnet pool5 max 3x3 s2", K_POOL, {1, 256, 13, 13}, MAX2(3), 0, {0}},
    {"alexnet norm1 lrn 5", K_LRN, {1, 96, 55, 55}, {0}, 0, {0}},
    {"alexnet norm2 lrn 5", K_LRN, {1, 256, 27, 27}, {0}, 0, {0}},
    {"resnet50 maxpool 3x3 s2 p1", K_POOL, {1, 64, 112, 112},
     {CC_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0}, 0, {0}},
    {"resnet50 bn 64x112x112", K_BATCHNORM, {1, 64, 112, 112}, {0}, 0, {0}},
    {"resnet50 add+relu 256x56x56", K_ADD_RELU, {1, 256, 56, 56}, {0}, 0, {0}},
    {"resnet50 avgpool global 2048x7x7", K_GLOBAL_POOL, {1, 2048, 7, 7}, {0}, CC_POOL_AVG, {0}},
    {"inception3a pool 3x3 s1 p1", K_POOL, {1, 192, 28, 28},
     {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}, 0, {0}},
    {"inception3a avg 3x3 s1 p1", K_POOL, {1, 192, 28, 28},
     {CC_POOL_AVG, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1}, 0, {0}},
    {"inception3a concat 64+128+32+32", K_CONCAT, {1, 256, 28, 28}, {0}, 0, {64, 128, 32, 32}},
    {"softmax 1000", K_SOFTMAX, {1, 1000, 1, 1}, {0}, 0, {0}},
};

/* The buffers and parameters of one case, ready to run. */
typedef struct {
    const layer_case *c;
    cc_layout layout;
    cc__dims out;
    float *in, *in2, *out_buf, *weights, *mul, *add;
    const float *parts[4];
    size_t in_bytes, out_bytes;
} setup;

static const cc_lrn_params alexnet_lrn = {5, 1e-4f, 0.75f, 1.0f};
static const cc_activation relu = {CC_ACTIVATION_RELU, 0.0f};

static float *new_floats(size_t count)
{
    float *p = aligned_alloc(64, ((count * sizeof(float) + 63) / 64) * 64);
    if (p == NULL) {
        fprintf(stderr, "layer_speed: out of memory\n");
        exit(1);
    }
    unsigned state = 12345u;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        p[i] = (float)(state >> 8) / 8388608.0f - 1.0f;
    }
    return p;
}

static void run_case(const setup *s, int threads)
{
    const layer_case *c = s->c;
    const size_t count = cc__dims_count(&c->in);
    switch (c->k) {
    case K_POOL:
        cc__pool_run(&c->in, s->layout, &c->pool, s->in, s->out_buf, threads);
        break;
    case K_GLOBAL_POOL:
        cc__global_pool_run(&c->in, s->layout, c->global, s->in, s->out_buf, threads);
        break;
    case K_LRN:
        cc__lrn_run(&c->in, s->layout, &alexnet_lrn, s->in, s->out_buf, threads);
        break;
    case K_SOFTMAX:
        cc__softmax_run(&c->in, s->layout, s->in, s->out_buf, threads);
        break;
    case K_RELU:
        cc__activation_run(&relu, s->in, s->out_buf, count, threads);
        break;
    case K_ADD_RELU:
        cc__add_run(s->in, s->in2, s->out_buf, count, &relu, threads);
        break;
    case K_BATCHNORM:
        cc__batchnorm_run(&c->in, s->layout, s->mul, s->add, s->in, s->out_buf, threads);
        break;
    case K_CONCAT:
        cc__concat_run(&c->in, s->layout, 4, s->parts, c->parts, s->out_buf, threads);
        break;
    case K_FC:
        cc__fc_run(1, (int)count, c->parts[0], s->weights, NULL, NULL, s->in, s->out_buf,
                   threads);
        break;
    }
}

static setup make_setup(const layer_case *c, cc_layout layout)
{
    setup s = {.c = c, .layout = layout, .out = c->in};
    const size_t count = cc__dims_count(&c->in);
    switch (c->k) {
    case K_POOL:
        if (cc__pool_output(&c->in, &c->pool, &s.out) != CC_OK) {
            fprintf(stderr, "layer_speed: %s: %s\n", c->name, cc_last_error());
            exit(1);
        }
        break;
    case K_GLOBAL_POOL:
        s.out.h = s.out.w = 1;
        break;
    case K_FC:
        s.out = (cc__dims){1, c->parts[0], 1, 1};
        s.weights = new_floats(count * (size_t)c->parts[0]);
        break;
    case K_BATCHNORM:
        s.mul = new_floats((size_t)c->in.c);
        s.add = new_floats((size_t)c->in.c);
        break;
    default:
        break;
    }
    s.in = new_floats(count);
    s.out_buf = new_floats(cc__dims_count(&s.out));
    s.in_bytes = count * sizeof(float);
    s.out_bytes = cc__dims_count(&s.out) * sizeof(float);
    if (c->k == K_ADD_RELU) {
        s.in2 = new_floats(count);
        s.in_bytes *= 2;
    }
    if (c->k == K_FC)
        s.in_bytes += count * (size_t)c->parts[0] * sizeof(float);
    if (c->k == K_CONCAT) /* the input buffer holds the four parts back to back */
        for (int i = 0, offset = 0; i < 4; offset += c->parts[i], i++)
            s.parts[i] = s.in + (size_t)offset * c->in.h * c->in.w;
    return s;
}

static void free_setup(setup *s)
{
    free(s->in);
    free(s->in2);
    free(s->out_buf);
    free(s->weights);
    free(s->mul);
    free(s->add);
}

/* memcpy of `bytes` split over `threads` (one contiguous chunk each), on
 * one thread below the size at which the layers start a team (layers.h). */
static void copy_split(char *dst, const char *src, size_t bytes, int threads)
{
    if (threads == 1 || bytes / sizeof(float) < CC__PARALLEL_MIN_WORK) {
        memcpy(dst, src, bytes);
        return;
    }
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        const size_t chunk = (bytes / n + 63) / 64 * 64;
        const size_t begin = t * chunk < bytes ? t * chunk : bytes;
        const size_t end = begin + chunk < bytes ? begin + chunk : bytes;
        memcpy(dst + begin, src + begin, end - begin);
    }
}

typedef struct {
    double median_ms, min_ms;
} timing;

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MAX_REPS 101
#define MIN_REP_SECONDS 2e-3

typedef void (*call_fn)(void *ctx);

/* The clock. wall: omp_get_wtime. cpu (the default; this machine is
 * shared): CPU time, which does not run while another process has the core
 * -- the calling thread's for one thread, the process's divided by the
 * thread count for a team (its threads then sleep rather than spin when
 * idle: main() sets OMP_WAIT_POLICY=passive), an estimate of the wall time
 * on an idle machine. */
static bool cpu_clock = true;
static int clock_threads = 1;

static double now(void)
{
    if (!cpu_clock)
        return omp_get_wtime();
    struct timespec t;
    clock_gettime(clock_threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &t);
    return ((double)t.tv_sec + (double)t.tv_nsec * 1e-9) / clock_threads;
}

/* Back-to-back calls of fn(ctx) that last at least MIN_REP_SECONDS. */
static int calls_per_rep(call_fn fn, void *ctx)
{
    fn(ctx);
    const double start = now();
    fn(ctx);
    const double once = now() - start;
    return once >= MIN_REP_SECONDS ? 1 : (int)(MIN_REP_SECONDS / (once + 1e-9)) + 1;
}

static double rep_ms(call_fn fn, void *ctx, int calls)
{
    const double start = now();
    for (int i = 0; i < calls; i++)
        fn(ctx);
    return (now() - start) * 1e3 / calls;
}

static timing summarise(double *ms, int reps)
{
    qsort(ms, (size_t)reps, sizeof ms[0], compare_doubles);
    return (timing){ms[reps / 2], ms[0]};
}

/* Times a and b per call, alternating their repetitions so that both see
 * the same machine (other processes come and go on a shared one). */
static void time_pair(call_fn a, call_fn b, void *ctx, int reps, timing *ta, timing *tb)
{
    const int calls_a = calls_per_rep(a, ctx), calls_b = calls_per_rep(b, ctx);
    double ms_a[MAX_REPS], ms_b[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        ms_a[r] = rep_ms(a, ctx, calls_a);
        ms_b[r] = rep_ms(b, ctx, calls_b);
    }
    *ta = summarise(ms_a, reps);
    *tb = summarise(ms_b, reps);
}

typedef struct {
    const setup *s;
    int threads;
    char *dst;
    const char *src;
    size_t bytes;
} call_ctx;

static void call_layer(void *ctx)
{
    const call_ctx *c = ctx;
    run_case(c->s, c->threads);
}

static void call_copy(void *ctx)
{
    const call_ctx *c = ctx;
    copy_split(c->dst, c->src, c->bytes, c->threads);
}

static double gbps(size_t bytes, double ms) { return (double)bytes / (ms * 1e-3) * 1e-9; }

static void measure(const layer_case *c, cc_layout layout, int threads, int reps)
{
    clock_threads = threads;
    setup s = make_setup(c, layout);
    const size_t traffic = s.in_bytes + s.out_bytes;
    const size_t copy_bytes = traffic / 2;
    char *src = (char *)new_floats(copy_bytes / sizeof(float) + 1);
    char *dst = (char *)new_floats(copy_bytes / sizeof(float) + 1);
    call_ctx ctx = {&s, threads, dst, src, copy_bytes};
    timing copy, layer;
    time_pair(call_copy, call_layer, &ctx, reps, &copy, &layer);
    const double layer_rate = gbps(traffic, layer.median_ms);
    const double copy_rate = gbps(2 * copy_bytes, copy.median_ms);
    printf("%-34s %-4s %d %9.3f %9.3f  %9.4f (%9.4f) %7.2f  %9.4f (%9.4f) %7.2f  %5.2f (%5.2f)\n",
           c->name, layout == CC_NCHW ? "NCHW" : "NHWC", threads, s.in_bytes / 1e6,
           s.out_bytes / 1e6, layer.median_ms, layer.min_ms, layer_rate, copy.median_ms,
           copy.min_ms, copy_rate, layer_rate / copy_rate, copy.min_ms / layer.min_ms);
    fflush(stdout);
    free(src);
    free(dst);
    free_setup(&s);
}

/* Softmax, element-wise and FC shapes are the same bytes in both layouts. */
static bool layout_matters(kind k)
{
    return k == K_POOL || k == K_GLOBAL_POOL || k == K_LRN || k == K_BATCHNORM || k == K_CONCAT;
}

static void usage(void)
{
    fprintf(stderr, "usage: layer_speed [--reps N] [--threads 1,2] [--layout nchw|nhwc|both] "
                    "[--only SUBSTRING] [--clock cpu|wall]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    /* libgomp reads OMP_WAIT_POLICY when it loads: set it, then start again. */
    if (getenv("OMP_WAIT_POLICY") == NULL) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    int reps = 9, thread_counts[8] = {1, 2}, thread_count = 2;
    bool nchw = true, nhwc = true;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--reps") == 0) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > MAX_REPS)
                usage();
        } else if (strcmp(argv[i], "--threads") == 0) {
            thread_count = 0;
            for (char *t = strtok(argv[++i], ","); t != NULL && thread_count < 8;
                 t = strtok(NULL, ","))
                if ((thread_counts[thread_count++] = atoi(t)) < 1)
                    usage();
        } else if (strcmp(argv[i], "--layout") == 0) {
            const char *l = argv[++i];
            nchw = strcmp(l, "nchw") == 0 || strcmp(l, "both") == 0;
            nhwc = strcmp(l, "nhwc") == 0 || strcmp(l, "both") == 0;
            if (!nchw && !nhwc)
                usage();
        } else if (strcmp(argv[i], "--only") == 0) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--clock") == 0) {
            const char *clock = argv[++i];
            cpu_clock = strcmp(clock, "cpu") == 0;
            if (!cpu_clock && strcmp(clock, "wall") != 0)
                usage();
        } else {
            usage();
        }
    }
    printf("colconv %s, isa %s, median (min) of %d reps, %s clock, OMP_WAIT_POLICY=%s; copy = "
           "memcpy of (in + out) / 2 bytes on the same threads\n",
           cc_version(), cc_cpu_isa(), reps, cpu_clock ? "CPU-time" : "wall",
           getenv("OMP_WAIT_POLICY"));
    printf("%-34s %-4s %s %9s %9s  %9s %11s %7s  %9s %11s %7s  %5s %7s\n", "layer", "lay", "t",
           "in MB", "out MB", "ms", "(min)", "GB/s", "copy ms", "(min)", "GB/s", "ratio",
           "(mins)");
    for (int t = 0; t < thread_count; t++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (only != NULL && strstr(cases[i].name, only) == NULL)
                continue;
            if (nchw || !layout_matters(cases[i].k))
                measure(&cases[i], nchw ? CC_NCHW : CC_NHWC, thread_counts[t], reps);
            if (nhwc && nchw && layout_matters(cases[i].k))
                measure(&cases[i], CC_NHWC, thread_counts[t], reps);
        }
    return 0;
}
