/* Tests of the backward passes of the non-convolution layers and of the
 * training-mode batch norm and dropout (src/train/backward.h).
 *
 * Every gradient is compared with central finite differences of a scalar
 * loss L = sum_j w_j y_j (w random, so dy = w), computed in double from a
 * double-precision forward written here (plain loops over logical indices,
 * not the library's forward), on odd shapes in both layouts. Functions with
 * kinks (max, ReLU and the other piecewise-linear activations) get inputs
 * kept a stated margin away from them, wider than the step. Each backward
 * also runs on 1 and 2 threads (identical results required), into a
 * NaN-poisoned, guarded buffer (overwrite mode must write everything), and
 * in accumulate mode onto random values (which must come out as base +
 * gradient). Larger shapes check the 2-thread split itself (the layers run
 * small shapes on one thread). The seed (COLCONV_TEST_SEED overrides it)
 * is in every failure message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/backward.h"
#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t base_seed = 0xbac4a2d;

static const cc_layout layouts[] = {CC_NCHW, CC_NHWC};
static const char *layout_name(cc_layout layout) { return layout == CC_NCHW ? "NCHW" : "NHWC"; }

static size_t at(const cc__dims *d, cc_layout layout, int n, int c, int y, int x)
{
    if (layout == CC_NCHW)
        return (((size_t)n * d->c + c) * d->h + y) * d->w + x;
    return (((size_t)n * d->h + y) * d->w + x) * d->c + c;
}

static double *to_doubles(const float *x, size_t count)
{
    double *d = tst_new_doubles(count);
    for (size_t i = 0; i < count; i++)
        d[i] = x[i];
    return d;
}

/* Distinct values 0.01 apart in random order, centred on 0: no window of
 * a max ever holds two values closer than 0.01, five times the step. */
static float *spaced_floats(tst_rng *rng, size_t count)
{
    float *x = malloc(count * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < count; i++)
        x[i] = 0.01f * ((float)i - (float)count / 2.0f);
    for (size_t i = count; i > 1; i--) {
        const size_t j = (size_t)tst_rng_int(rng, 0, (int)(i - 1));
        const float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    return x;
}

/* ---- Finite differences -------------------------------------------------- */

#define FD_STEP 1e-3
#define FD_MAX_VARS 3

/* A forward in double over variables var[0..): y[0 .. ny). A layer's
 * problem embeds this as its first member. */
typedef struct fd_problem fd_problem;
struct fd_problem {
    void (*forward)(const fd_problem *p, double *y);
    double *var[FD_MAX_VARS];
    size_t var_count[FD_MAX_VARS];
    size_t ny;
};

static double fd_loss(const fd_problem *p, const double *w, double *y)
{
    p->forward(p, y);
    double sum = 0.0;
    for (size_t j = 0; j < p->ny; j++)
        sum += w[j] * y[j];
    return sum;
}

/* dL/dvar[v] by central differences (free() it). */
static double *fd_gradient(fd_problem *p, int v, const double *w)
{
    double *y = tst_new_doubles(p->ny), *g = tst_new_doubles(p->var_count[v]);
    for (size_t i = 0; i < p->var_count[v]; i++) {
        const double saved = p->var[v][i];
        p->var[v][i] = saved + FD_STEP;
        const double plus = fd_loss(p, w, y);
        p->var[v][i] = saved - FD_STEP;
        const double minus = fd_loss(p, w, y);
        p->var[v][i] = saved;
        g[i] = (plus - minus) / (2.0 * FD_STEP);
    }
    free(y);
    return g;
}

/* The gradient must match to 1e-3 of its largest magnitude (float
 * backward against a double forward: the differences are exact to ~1e-8),
 * and must not be all zeros (such a test could not fail). */
static void expect_gradient(const char *what, uint64_t seed, const float *got, const double *want,
                            size_t count)
{
    double max = 0.0;
    for (size_t i = 0; i < count; i++)
        max = fmax(max, fabs(want[i]));
    if (!(max > 0.0))
        fail_msg("%s: seed %llu: the finite differences are all zero", what,
                 (unsigned long long)seed);
    const double tolerance = 1e-3 * max;
    for (size_t i = 0; i < count; i++)
        if (!(fabs((double)got[i] - want[i]) <= tolerance))
            fail_msg("%s: seed %llu: element %zu: got %.9g, finite differences %.9g "
                     "(tolerance %.3g)",
                     what, (unsigned long long)seed, i, (double)got[i], want[i], tolerance);
}

/* ---- Running a backward in every mode -------------------------------------- */

/* Writes the gradient(s) under test into g (overwriting or adding). */
typedef void (*grad_fn)(const void *ctx, int threads, bool accumulate, float *g);

/* Runs `run` into a NaN-poisoned guarded buffer on 1 and 2 threads (bit for
 * bit the same), then adding onto random values (base + gradient within
 * rounding). Returns the 1-thread gradient (free() it). */
static float *run_modes(const char *what, uint64_t seed, grad_fn run, const void *ctx,
                        size_t count, tst_rng *rng)
{
    tst_buffer one = tst_buffer_new(count), two = tst_buffer_new(count);
    tst_buffer sum = tst_buffer_new(count);
    tst_buffer_poison(&one);
    tst_buffer_poison(&two);
    run(ctx, 1, false, one.data);
    run(ctx, 2, false, two.data);
    if (!tst_buffer_guards_intact(&one) || !tst_buffer_guards_intact(&two))
        fail_msg("%s: seed %llu: a guard float was overwritten", what, (unsigned long long)seed);
    if (memcmp(one.data, two.data, count * sizeof(float)) != 0)
        fail_msg("%s: seed %llu: results on 1 and 2 threads differ", what,
                 (unsigned long long)seed);
    float *base = tst_random_floats(rng, count, -1.0f, 1.0f);
    memcpy(sum.data, base, count * sizeof(float));
    run(ctx, 1, true, sum.data);
    if (!tst_buffer_guards_intact(&sum))
        fail_msg("%s: seed %llu: a guard float was overwritten (accumulating)", what,
                 (unsigned long long)seed);
    for (size_t i = 0; i < count; i++) {
        const double want = (double)base[i] + one.data[i];
        if (!(fabs(sum.data[i] - want) <= 1e-5 * (fabs(base[i]) + fabs(one.data[i])) + 1e-6))
            fail_msg("%s: seed %llu: accumulating: element %zu: got %.9g, want %.9g + %.9g",
                     what, (unsigned long long)seed, i, (double)sum.data[i], (double)base[i],
                     (double)one.data[i]);
    }
    float *result = malloc(count * sizeof(float));
    assert_non_null(result);
    memcpy(result, one.data, count * sizeof(float));
    free(base);
    tst_buffer_free(&one);
    tst_buffer_free(&two);
    tst_buffer_free(&sum);
    return result;
}

/* Runs `run` on 1 and 2 threads (large shapes: both split) and requires
 * the same bits. */
static void expect_thread_independent(const char *what, grad_fn run, const void *ctx,
                                      size_t count)
{
    float *one = calloc(count, sizeof(float)), *two = calloc(count, sizeof(float));
    assert_non_null(one);
    assert_non_null(two);
    run(ctx, 1, false, one);
    run(ctx, 2, false, two);
    if (memcmp(one, two, count * sizeof(float)) != 0)
        fail_msg("%s: results on 1 and 2 threads differ", what);
    free(one);
    free(two);
}

/* ---- Pooling ------------------------------------------------------------- */

typedef struct {
    fd_problem fd;
    cc__dims in, out;
    cc_layout layout;
    cc_pool2d_params p;
    const float *x, *dy;
} pool_problem;

/* PyTorch's window on one axis: cells [begin, end) of the input, and the
 * extent clipped to the padded input (count_include_pad's divisor). */
static void window(int o, int stride, int kernel, int pad_before, int pad_after, int size,
                   int *begin, int *end, int *padded)
{
    const int start = o * stride - pad_before;
    const int stop = start + kernel;
    *begin = start < 0 ? 0 : start;
    *end = stop < size ? stop : size;
    *padded = (stop < size + pad_after ? stop : size + pad_after) - start;
}

static void pool_forward(const fd_problem *fp, double *y)
{
    const pool_problem *q = (const pool_problem *)fp;
    const cc_pool2d_params *p = &q->p;
    const int sh = p->stride_h ? p->stride_h : p->kernel_h;
    const int sw = p->stride_w ? p->stride_w : p->kernel_w;
    for (int n = 0; n < q->in.n; n++)
        for (int c = 0; c < q->in.c; c++)
            for (int oy = 0; oy < q->out.h; oy++)
                for (int ox = 0; ox < q->out.w; ox++) {
                    int y0, y1, py, x0, x1, px;
                    window(oy, sh, p->kernel_h, p->pad_top, p->pad_bottom, q->in.h, &y0, &y1, &py);
                    window(ox, sw, p->kernel_w, p->pad_left, p->pad_right, q->in.w, &x0, &x1, &px);
                    double acc = p->kind == CC_POOL_MAX ? -INFINITY : 0.0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            const double v = q->fd.var[0][at(&q->in, q->layout, n, c, iy, ix)];
                            acc = p->kind == CC_POOL_MAX ? fmax(acc, v) : acc + v;
                        }
                    if (p->kind == CC_POOL_AVG)
                        acc /= p->count_include_pad ? (double)py * px
                                                    : (double)(y1 - y0) * (x1 - x0);
                    y[at(&q->out, q->layout, n, c, oy, ox)] = acc;
                }
}

static void pool_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const pool_problem *q = ctx;
    cc__pool_backward(&q->in, q->layout, &q->p, q->x, q->dy, g, accumulate, threads);
}

typedef struct {
    const char *name;
    cc__dims in;
    cc_pool2d_params p;
} pool_case;

/* {kind, kh, kw, sh, sw, pt, pb, pl, pr, ceil_mode, count_include_pad} */
static const pool_case pool_cases[] = {
    {"max 3x3/2, pads 1 0 0 1, ceil", {3, 5, 11, 13}, {CC_POOL_MAX, 3, 3, 2, 2, 1, 0, 0, 1, 1, 0}},
    {"max 2x3, stride 4x5 (> kernel)", {1, 3, 13, 11}, {CC_POOL_MAX, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0}},
    {"max 3x3/1, pad 1 (overlapping)", {3, 2, 7, 9}, {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}},
    {"max 2x2 default stride, ceil", {1, 7, 9, 5}, {CC_POOL_MAX, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0}},
    {"max 3x2/1, pads 1 1 1 0, rows of 150 (chunks)", {1, 2, 4, 150},
     {CC_POOL_MAX, 3, 2, 1, 1, 1, 1, 1, 0, 0, 0}},
    {"max 2x3/3x2, pads 0 1 1 1, ceil, rows of 67", {3, 1, 5, 133},
     {CC_POOL_MAX, 2, 3, 3, 2, 0, 1, 1, 1, 1, 0}},
    {"avg 3x3/2, pads 1 1 1 0, ceil, include pad", {3, 5, 11, 13},
     {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1}},
    {"avg 3x3/2, pads 1 1 1 0, ceil, exclude pad", {3, 5, 11, 13},
     {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 0, 1, 0}},
    {"avg 5x3/2, pads 2 1 1 0, include pad", {1, 3, 9, 7},
     {CC_POOL_AVG, 5, 3, 2, 2, 2, 1, 1, 0, 0, 1}},
    {"avg 2x2, stride 3 (> kernel)", {3, 2, 10, 7}, {CC_POOL_AVG, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0}},
    /* 2x2/2 all inside (the AVX-512 path): 18 windows a row (16 and 2), the
     * last row and column of the input in no window. */
    {"max 2x2/2, odd sizes", {2, 3, 9, 37}, {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0}},
    {"max 2x2/2, rows of 64 windows", {1, 2, 4, 128}, {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0}},
    {"avg 2x2/2, odd sizes", {2, 3, 9, 37}, {CC_POOL_AVG, 2, 2, 2, 2, 0, 0, 0, 0, 0, 1}},
};

static void check_pool_case(const pool_case *pc, cc_layout layout, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    pool_problem q = {.in = pc->in, .layout = layout, .p = pc->p};
    assert_int_equal(cc__pool_output(&q.in, &q.p, &q.out), CC_OK);
    const size_t nx = cc__dims_count(&q.in), ny = cc__dims_count(&q.out);
    float *x = pc->p.kind == CC_POOL_MAX ? spaced_floats(&rng, nx)
                                         : tst_random_floats(&rng, nx, -1.0f, 1.0f);
    float *dy = tst_random_floats(&rng, ny, -1.0f, 1.0f);
    q.x = x;
    q.dy = dy;
    q.fd = (fd_problem){pool_forward, {to_doubles(x, nx)}, {nx}, ny};
    char what[160];
    snprintf(what, sizeof what, "pool %s, %s", pc->name, layout_name(layout));
    float *got = run_modes(what, seed, pool_grad, &q, nx, &rng);
    double *w = to_doubles(dy, ny);
    double *want = fd_gradient(&q.fd, 0, w);
    expect_gradient(what, seed, got, want, nx);
    free(want);
    free(w);
    free(got);
    free(q.fd.var[0]);
    free(dy);
    free(x);
}

/* Every case on the scalar path and, where the CPU has them, on AVX2's and
 * AVX-512's. */
static void test_pool_backward(void **state)
{
    (void)state;
    const cc__isa isas[] = {CC__ISA_SCALAR, CC__ISA_AVX2, CC__ISA_AVX512};
    for (size_t a = 0; a < ARRAY_LEN(isas); a++) {
        cc__set_isa_cap(isas[a]);
        if (cc__cpu_isa() == isas[a])
            for (size_t i = 0; i < ARRAY_LEN(pool_cases); i++)
                for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
                    check_pool_case(&pool_cases[i], layouts[l], base_seed + i);
        else
            print_message("pool backward: no %s on this CPU\n", cc__isa_name(isas[a]));
        cc__set_isa_cap(CC__ISA_AVX512);
    }
}

/* Ties go to the first maximum in (ky, kx) order; NaN wins (the last NaN of
 * the window, as PyTorch); padding never does. */
static void test_pool_max_ties(void **state)
{
    (void)state;
    const cc__dims in = {1, 1, 2, 3};
    const cc_pool2d_params p = {CC_POOL_MAX, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0};
    for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
        /* Windows: [0 1; 3 4] and [1 2; 4 5]. */
        const float x[6] = {5, 7, 7, 7, 2, NAN};
        const float dy[2] = {1.0f, 10.0f};
        float dx[6];
        cc__pool_backward(&in, layouts[l], &p, x, dy, dx, false, 1);
        const float want[6] = {0, 1, 0, 0, 0, 10};
        assert_memory_equal(dx, want, sizeof want);
    }
    /* Two NaNs in one window: the last one. */
    const float x2[4] = {NAN, 1, NAN, 0};
    const float dy2[1] = {3.0f};
    float dx2[4];
    const cc__dims in2 = {1, 1, 2, 2};
    const cc_pool2d_params p2 = {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    cc__pool_backward(&in2, CC_NCHW, &p2, x2, dy2, dx2, false, 1);
    const float want2[4] = {0, 0, 3, 0};
    assert_memory_equal(dx2, want2, sizeof want2);
    /* One NaN in each cell of a 2x2 window in turn, and ties: on the scalar
     * path and, where the CPU has them, on AVX2's and AVX-512's. Windows (a b; c d):
     * (N 9; 9 9) (1 N; 9 9) (1 2; N 9) (1 2; 0 N) (4 4; 4 4) (1 3; 3 2). */
    const cc__dims in4 = {1, 1, 2, 12};
    const float x4[24] = {NAN, 9, 1, NAN, 1, 2, 1, 2, 4, 4, 1, 3,
                          9,   9, 9, 9,   NAN, 9, 0, NAN, 4, 4, 3, 2};
    const float dy4[6] = {1, 2, 3, 4, 5, 6};
    const float want4[24] = {1, 0, 0, 2, 0, 0, 0, 0, 5, 0, 0, 6,
                             0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0};
    const cc__isa isas[] = {CC__ISA_SCALAR, CC__ISA_AVX2, CC__ISA_AVX512};
    for (size_t a = 0; a < ARRAY_LEN(isas); a++) {
        cc__set_isa_cap(isas[a]);
        float dx4[24];
        cc__pool_backward(&in4, CC_NCHW, &p2, x4, dy4, dx4, false, 1);
        assert_memory_equal(dx4, want4, sizeof want4);
        cc__set_isa_cap(CC__ISA_AVX512);
    }
    /* A window of padding and -inf: the -inf cell, never the padding. */
    const float x3[2] = {-INFINITY, -INFINITY};
    float dx3[2];
    const cc__dims in3 = {1, 1, 1, 2};
    const cc_pool2d_params p3 = {CC_POOL_MAX, 1, 3, 1, 2, 0, 0, 1, 0, 0, 0};
    cc__pool_backward(&in3, CC_NCHW, &p3, x3, dy2, dx3, false, 1);
    const float want3[2] = {3, 0};
    assert_memory_equal(dx3, want3, sizeof want3);
}

/* ---- Global pooling ------------------------------------------------------ */

typedef struct {
    fd_problem fd;
    cc__dims in;
    cc_layout layout;
    cc_pool_kind kind;
    const float *x, *dy;
} global_problem;

static void global_forward(const fd_problem *fp, double *y)
{
    const global_problem *q = (const global_problem *)fp;
    for (int n = 0; n < q->in.n; n++)
        for (int c = 0; c < q->in.c; c++) {
            double acc = q->kind == CC_POOL_MAX ? -INFINITY : 0.0;
            for (int iy = 0; iy < q->in.h; iy++)
                for (int ix = 0; ix < q->in.w; ix++) {
                    const double v = q->fd.var[0][at(&q->in, q->layout, n, c, iy, ix)];
                    acc = q->kind == CC_POOL_MAX ? fmax(acc, v) : acc + v;
                }
            y[(size_t)n * q->in.c + c] =
                q->kind == CC_POOL_MAX ? acc : acc / ((double)q->in.h * q->in.w);
        }
}

static void global_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const global_problem *q = ctx;
    cc__global_pool_backward(&q->in, q->layout, q->kind, q->x, q->dy, g, accumulate, threads);
}

static void test_global_pool_backward(void **state)
{
    (void)state;
    const cc__dims shapes[] = {{3, 7, 5, 3}, {1, 13, 1, 9}, {3, 2, 1, 1}};
    for (size_t s = 0; s < ARRAY_LEN(shapes); s++)
        for (int kind = 0; kind < 2; kind++)
            for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
                const uint64_t seed = base_seed + 100 + s;
                tst_rng rng;
                tst_rng_seed(&rng, seed);
                global_problem q = {.in = shapes[s], .layout = layouts[l],
                                    .kind = (cc_pool_kind)kind};
                const size_t nx = cc__dims_count(&q.in), ny = (size_t)q.in.n * q.in.c;
                float *x = kind == CC_POOL_MAX ? spaced_floats(&rng, nx)
                                               : tst_random_floats(&rng, nx, -1.0f, 1.0f);
                float *dy = tst_random_floats(&rng, ny, -1.0f, 1.0f);
                q.x = x;
                q.dy = dy;
                q.fd = (fd_problem){global_forward, {to_doubles(x, nx)}, {nx}, ny};
                char what[160];
                snprintf(what, sizeof what, "global %s pool %dx%dx%dx%d, %s",
                         kind == CC_POOL_MAX ? "max" : "avg", q.in.n, q.in.c, q.in.h, q.in.w,
                         layout_name(layouts[l]));
                float *got = run_modes(what, seed, global_grad, &q, nx, &rng);
                double *w = to_doubles(dy, ny);
                double *want = fd_gradient(&q.fd, 0, w);
                expect_gradient(what, seed, got, want, nx);
                free(want);
                free(w);
                free(got);
                free(q.fd.var[0]);
                free(dy);
                free(x);
            }
}

/* ---- Activations --------------------------------------------------------- */

typedef struct {
    fd_problem fd;
    cc_activation act;
    const float *x, *y, *dy;
    size_t count;
} act_problem;

static double act_value(const cc_activation *act, double x)
{
    const double a = act->alpha;
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
        return x > 0 ? x : 0;
    case CC_ACTIVATION_LEAKY_RELU:
        return x > 0 ? x : a * x;
    case CC_ACTIVATION_SIGMOID:
        return 1 / (1 + exp(-x));
    case CC_ACTIVATION_TANH:
        return tanh(x);
    case CC_ACTIVATION_ELU:
        return x > 0 ? x : a * expm1(x);
    case CC_ACTIVATION_RELU_CAP:
        return x < 0 ? 0 : x > a ? a : x;
    case CC_ACTIVATION_HARD_SIGMOID:
        return fmin(1, fmax(0, a * x + 0.5));
    case CC_ACTIVATION_HARD_SWISH:
        return x * fmin(1, fmax(0, x / 6 + 0.5));
    }
    fail_msg("unknown activation kind %d", (int)act->kind);
    return 0;
}

/* The kinks of each kind, which inputs stay 0.05 away from. */
static int act_kinks(const cc_activation *act, double kinks[2])
{
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
    case CC_ACTIVATION_LEAKY_RELU:
    case CC_ACTIVATION_ELU:
        kinks[0] = 0;
        return 1;
    case CC_ACTIVATION_RELU_CAP:
        kinks[0] = 0;
        kinks[1] = act->alpha;
        return 2;
    case CC_ACTIVATION_HARD_SIGMOID:
        kinks[0] = -0.5 / act->alpha;
        kinks[1] = 0.5 / act->alpha;
        return 2;
    case CC_ACTIVATION_HARD_SWISH:
        kinks[0] = -3;
        kinks[1] = 3;
        return 2;
    case CC_ACTIVATION_SIGMOID:
    case CC_ACTIVATION_TANH:
        return 0;
    }
    return 0;
}

static void act_forward(const fd_problem *fp, double *y)
{
    const act_problem *q = (const act_problem *)fp;
    for (size_t i = 0; i < q->count; i++)
        y[i] = act_value(&q->act, q->fd.var[0][i]);
}

static void act_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const act_problem *q = ctx;
    cc__activation_backward(&q->act, q->x, q->y, q->dy, g, q->count, accumulate, threads);
}

static const cc_activation activations[] = {
    {CC_ACTIVATION_RELU, 0},         {CC_ACTIVATION_LEAKY_RELU, 0.1f},
    {CC_ACTIVATION_LEAKY_RELU, -0.3f}, {CC_ACTIVATION_SIGMOID, 0},
    {CC_ACTIVATION_TANH, 0},         {CC_ACTIVATION_ELU, 1.0f},
    {CC_ACTIVATION_ELU, 0.4f},       {CC_ACTIVATION_RELU_CAP, 6.0f},
    {CC_ACTIVATION_HARD_SIGMOID, 1.0f / 6.0f}, {CC_ACTIVATION_HARD_SIGMOID, 0.2f},
    {CC_ACTIVATION_HARD_SWISH, 0},
};

/* Inputs in [-8, 8) at least 0.05 from every kink; the forward output in
 * float from the double forward (the library's output, up to rounding). */
static void act_inputs(tst_rng *rng, const cc_activation *act, float *x, float *y, size_t count)
{
    double kinks[2];
    const int k = act_kinks(act, kinks);
    for (size_t i = 0; i < count; i++) {
        bool near;
        do {
            x[i] = tst_rng_float(rng, -8.0f, 8.0f);
            near = false;
            for (int j = 0; j < k; j++)
                near = near || fabs((double)x[i] - kinks[j]) < 0.05;
        } while (near);
        y[i] = (float)act_value(act, x[i]);
    }
}

static void test_activation_backward(void **state)
{
    (void)state;
    const size_t count = 257;
    for (size_t a = 0; a < ARRAY_LEN(activations); a++) {
        const uint64_t seed = base_seed + 200 + a;
        tst_rng rng;
        tst_rng_seed(&rng, seed);
        act_problem q = {.act = activations[a], .count = count};
        float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float));
        assert_non_null(x);
        assert_non_null(y);
        act_inputs(&rng, &q.act, x, y, count);
        float *dy = tst_random_floats(&rng, count, -1.0f, 1.0f);
        q.x = x;
        q.y = y;
        q.dy = dy;
        q.fd = (fd_problem){act_forward, {to_doubles(x, count)}, {count}, count};
        char what[96];
        snprintf(what, sizeof what, "activation kind %d alpha %g", (int)q.act.kind,
                 (double)q.act.alpha);
        float *got = run_modes(what, seed, act_grad, &q, count, &rng);
        double *w = to_doubles(dy, count);
        double *want = fd_gradient(&q.fd, 0, w);
        expect_gradient(what, seed, got, want, count);
        /* In place: dx = dy. */
        float *inplace = malloc(count * sizeof(float));
        assert_non_null(inplace);
        memcpy(inplace, dy, count * sizeof(float));
        cc__activation_backward(&q.act, x, y, inplace, inplace, count, false, 1);
        assert_memory_equal(inplace, got, count * sizeof(float));
        free(inplace);
        free(want);
        free(w);
        free(got);
        free(q.fd.var[0]);
        free(dy);
        free(y);
        free(x);
    }
}

/* PyTorch's slopes at the kinks themselves (exact points). */
static void test_activation_kinks(void **state)
{
    (void)state;
    const struct {
        cc_activation act;
        float x, slope;
    } cases[] = {
        {{CC_ACTIVATION_RELU, 0}, 0.0f, 0.0f},
        {{CC_ACTIVATION_LEAKY_RELU, 0.1f}, 0.0f, 0.1f},
        {{CC_ACTIVATION_ELU, 0.5f}, 0.0f, 0.5f},
        {{CC_ACTIVATION_RELU_CAP, 6.0f}, 0.0f, 0.0f},
        {{CC_ACTIVATION_RELU_CAP, 6.0f}, 6.0f, 0.0f},
        {{CC_ACTIVATION_HARD_SIGMOID, 0.25f}, 2.0f, 0.0f},
        {{CC_ACTIVATION_HARD_SWISH, 0}, -3.0f, -0.5f},
        {{CC_ACTIVATION_HARD_SWISH, 0}, 3.0f, 1.5f},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const float y = (float)act_value(&cases[i].act, cases[i].x), dy = 2.0f;
        float dx;
        cc__activation_backward(&cases[i].act, &cases[i].x, &y, &dy, &dx, 1, false, 1);
        if (dx != 2.0f * cases[i].slope)
            fail_msg("activation kind %d at %g: dx %g, want %g", (int)cases[i].act.kind,
                     (double)cases[i].x, (double)dx, 2.0 * cases[i].slope);
    }
}

/* ---- Fully connected ----------------------------------------------------- */

typedef struct {
    fd_problem fd; /* var: x, weights, bias */
    cc__dims in;
    cc_layout layout;
    int outputs;
    const float *x, *weights, *dy;
    float *workspace;
    bool no_dx;
} fc_problem;

static void fc_forward(const fd_problem *fp, double *y)
{
    const fc_problem *q = (const fc_problem *)fp;
    const cc__dims *d = &q->in;
    const size_t inputs = (size_t)d->c * d->h * d->w;
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < q->outputs; o++) {
            double sum = q->fd.var[2][o];
            for (int c = 0; c < d->c; c++)
                for (int iy = 0; iy < d->h; iy++)
                    for (int ix = 0; ix < d->w; ix++)
                        sum += q->fd.var[0][at(d, q->layout, n, c, iy, ix)] *
                               q->fd.var[1][o * inputs + ((size_t)c * d->h + iy) * d->w + ix];
            y[(size_t)n * q->outputs + o] = sum;
        }
}

/* g = [dx | dweights | dbias]; the parameter gradients always add, so
 * overwrite mode starts them at zero. */
static void fc_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const fc_problem *q = ctx;
    const size_t nx = cc__dims_count(&q->in), nw = nx / q->in.n * q->outputs;
    float *dx = g, *dw = g + nx, *db = dw + nw;
    if (!accumulate) {
        memset(dw, 0, (nw + q->outputs) * sizeof(float));
        if (q->no_dx)
            memset(dx, 0, nx * sizeof(float));
    }
    cc__fc_backward(&q->in, q->layout, q->outputs, q->weights, q->x, q->dy,
                    q->no_dx ? NULL : dx, dw, db, accumulate, q->workspace, threads);
}

static void check_fc(cc__dims in, int outputs, cc_layout layout, bool no_dx, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    fc_problem q = {.in = in, .layout = layout, .outputs = outputs, .no_dx = no_dx};
    const size_t nx = cc__dims_count(&in), inputs = nx / in.n;
    const size_t nw = inputs * outputs, ny = (size_t)in.n * outputs;
    float *x = tst_random_floats(&rng, nx, -1.0f, 1.0f);
    float *weights = tst_random_floats(&rng, nw, -1.0f, 1.0f);
    float *bias = tst_random_floats(&rng, outputs, -1.0f, 1.0f);
    float *dy = tst_random_floats(&rng, ny, -1.0f, 1.0f);
    const size_t ws = cc__fc_backward_workspace(&in, layout);
    assert_int_equal(ws, layout == CC_NHWC && in.h * in.w > 1 ? nx : 0);
    q.workspace = ws > 0 ? malloc(ws * sizeof(float)) : NULL;
    q.x = x;
    q.weights = weights;
    q.dy = dy;
    q.fd = (fd_problem){fc_forward,
                        {to_doubles(x, nx), to_doubles(weights, nw), to_doubles(bias, outputs)},
                        {nx, nw, (size_t)outputs},
                        ny};
    char what[160];
    snprintf(what, sizeof what, "fc %dx%dx%dx%d -> %d, %s%s", in.n, in.c, in.h, in.w, outputs,
             layout_name(layout), no_dx ? ", no dx" : "");
    const size_t total = nx + nw + outputs;
    float *got = run_modes(what, seed, fc_grad, &q, total, &rng);
    double *w = to_doubles(dy, ny);
    const char *names[3] = {"dx", "dweights", "dbias"};
    const size_t offsets[3] = {0, nx, nx + nw};
    for (int v = no_dx ? 1 : 0; v < 3; v++) {
        double *want = fd_gradient(&q.fd, v, w);
        char part[200];
        snprintf(part, sizeof part, "%s: %s", what, names[v]);
        expect_gradient(part, seed, got + offsets[v], want, q.fd.var_count[v]);
        free(want);
    }
    if (no_dx)
        for (size_t i = 0; i < nx; i++)
            assert_true(got[i] == 0.0f);
    free(w);
    free(got);
    for (int v = 0; v < 3; v++)
        free(q.fd.var[v]);
    free(q.workspace);
    free(dy);
    free(bias);
    free(weights);
    free(x);
}

static void test_fc_backward(void **state)
{
    (void)state;
    const struct {
        cc__dims in;
        int outputs;
    } cases[] = {
        {{3, 5, 3, 3}, 7}, {{1, 7, 1, 1}, 13}, {{3, 11, 1, 1}, 5}, {{1, 3, 5, 2}, 9},
        {{3, 2, 3, 5}, 1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            check_fc(cases[i].in, cases[i].outputs, layouts[l], false, base_seed + 300 + i);
    check_fc(cases[0].in, cases[0].outputs, CC_NHWC, true, base_seed + 310);
}

/* ---- Softmax with cross-entropy ------------------------------------------ */

typedef struct {
    fd_problem fd;
    int batch, classes;
    const int32_t *labels;
    const float *x;
} xent_problem;

static double xent_image(const double *x, int classes, int label)
{
    double max = x[0];
    for (int i = 1; i < classes; i++)
        max = fmax(max, x[i]);
    double sum = 0.0;
    for (int i = 0; i < classes; i++)
        sum += exp(x[i] - max);
    return max + log(sum) - x[label];
}

static void xent_forward(const fd_problem *fp, double *y)
{
    const xent_problem *q = (const xent_problem *)fp;
    double sum = 0.0;
    for (int n = 0; n < q->batch; n++)
        sum += xent_image(q->fd.var[0] + (size_t)n * q->classes, q->classes, q->labels[n]);
    y[0] = sum / q->batch;
}

static void xent_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const xent_problem *q = ctx;
    /* The fused gradient always overwrites: accumulate mode adds it here. */
    const size_t count = (size_t)q->batch * q->classes;
    float *d = malloc(count * sizeof(float));
    assert_non_null(d);
    assert_int_equal(cc__softmax_xent(q->batch, q->classes, q->x, q->labels, d, NULL, NULL,
                                      threads),
                     CC_OK);
    for (size_t i = 0; i < count; i++)
        g[i] = accumulate ? g[i] + d[i] : d[i];
    free(d);
}

static void test_softmax_xent(void **state)
{
    (void)state;
    const int shapes[][2] = {{1, 10}, {3, 7}, {5, 1}, {3, 13}};
    for (size_t s = 0; s < ARRAY_LEN(shapes); s++) {
        const uint64_t seed = base_seed + 400 + s;
        tst_rng rng;
        tst_rng_seed(&rng, seed);
        xent_problem q = {.batch = shapes[s][0], .classes = shapes[s][1]};
        const size_t count = (size_t)q.batch * q.classes;
        float *x = tst_random_floats(&rng, count, -4.0f, 4.0f);
        int32_t *labels = malloc((size_t)q.batch * sizeof(int32_t));
        assert_non_null(labels);
        for (int n = 0; n < q.batch; n++)
            labels[n] = tst_rng_int(&rng, 0, q.classes - 1);
        q.x = x;
        q.labels = labels;
        q.fd = (fd_problem){xent_forward, {to_doubles(x, count)}, {count}, 1};
        char what[96];
        snprintf(what, sizeof what, "softmax cross-entropy %dx%d", q.batch, q.classes);
        float *got = run_modes(what, seed, xent_grad, &q, count, &rng);
        const double one = 1.0;
        double *want = fd_gradient(&q.fd, 0, &one);
        if (q.classes > 1)
            expect_gradient(what, seed, got, want, count);
        else
            for (size_t i = 0; i < count; i++)
                assert_true(got[i] == 0.0f);
        /* The loss and the count of first largest logits at their label. */
        double loss_want;
        xent_forward(&q.fd, &loss_want);
        int correct_want = 0;
        for (int n = 0; n < q.batch; n++) {
            int best = 0;
            for (int i = 1; i < q.classes; i++)
                if (x[(size_t)n * q.classes + i] > x[(size_t)n * q.classes + best])
                    best = i;
            correct_want += best == labels[n];
        }
        float loss;
        int correct;
        for (int threads = 1; threads <= 2; threads++) {
            assert_int_equal(cc__softmax_xent(q.batch, q.classes, x, labels, NULL, &loss,
                                              &correct, threads),
                             CC_OK);
            if (!(fabs(loss - loss_want) <= 1e-6 * fmax(1.0, fabs(loss_want))))
                fail_msg("%s: seed %llu: loss %.9g, want %.9g", what, (unsigned long long)seed,
                         (double)loss, loss_want);
            assert_int_equal(correct, correct_want);
        }
        free(want);
        free(got);
        free(q.fd.var[0]);
        free(labels);
        free(x);
    }
}

/* Logits of 1e4 (expf overflows at 89) give a finite loss and gradient:
 * image 0's logits [1e4, 0, -1e4] with label 1 lose 1e4 and get the
 * gradient [1, -1, 0] / 2; image 1's [1e4, 1e4, 1e4] lose log 3. Ties count
 * for the first largest only. */
static void test_softmax_xent_huge(void **state)
{
    (void)state;
    const float x[6] = {1e4f, 0.0f, -1e4f, 1e4f, 1e4f, 1e4f};
    const int32_t labels[2] = {1, 0};
    float d[6], loss;
    int correct;
    assert_int_equal(cc__softmax_xent(2, 3, x, labels, d, &loss, &correct, 1), CC_OK);
    const double want = (1e4 + log(3.0)) / 2.0;
    assert_true(fabs(loss - want) <= 1e-3);
    assert_int_equal(correct, 1);
    const float third = (float)(1.0 / 3.0 / 2.0);
    const float want_d[6] = {0.5f, -0.5f, 0.0f, third - 0.5f, third, third};
    for (int i = 0; i < 6; i++) {
        assert_true(isfinite(d[i]));
        assert_true(fabs(d[i] - want_d[i]) <= 1e-6);
    }
}

static void test_softmax_xent_bad_label(void **state)
{
    (void)state;
    const float x[6] = {0};
    float d[6] = {7, 7, 7, 7, 7, 7}, loss = 7.0f;
    const int32_t too_big[2] = {0, 3}, negative[2] = {-1, 0};
    assert_int_equal(cc__softmax_xent(2, 3, x, too_big, d, &loss, NULL, 1), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "image 1"));
    assert_int_equal(cc__softmax_xent(2, 3, x, negative, d, &loss, NULL, 2), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "image 0"));
    /* Nothing written. */
    assert_true(loss == 7.0f);
    for (int i = 0; i < 6; i++)
        assert_true(d[i] == 7.0f);
}

/* ---- Batch norm ---------------------------------------------------------- */

#define BN_EPS 1e-5f

typedef struct {
    fd_problem fd; /* var: x, scale, shift */
    cc__dims in;
    cc_layout layout;
    const float *x, *scale, *mean, *invstd, *dy;
} bn_problem;

/* Training forward in double: batch statistics, biased variance. mean and
 * var (may be NULL) get the statistics. */
static void bn_reference(const bn_problem *q, double *y, double *mean_out, double *var_out)
{
    const cc__dims *d = &q->in;
    const double count = (double)d->n * d->h * d->w;
    for (int c = 0; c < d->c; c++) {
        double mean = 0.0, var = 0.0;
        for (int n = 0; n < d->n; n++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++)
                    mean += q->fd.var[0][at(d, q->layout, n, c, iy, ix)];
        mean /= count;
        for (int n = 0; n < d->n; n++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    const double e = q->fd.var[0][at(d, q->layout, n, c, iy, ix)] - mean;
                    var += e * e;
                }
        var /= count;
        if (mean_out != NULL) {
            mean_out[c] = mean;
            var_out[c] = var;
        }
        const double invstd = 1.0 / sqrt(var + BN_EPS);
        for (int n = 0; n < d->n; n++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    const size_t i = at(d, q->layout, n, c, iy, ix);
                    y[i] = (q->fd.var[0][i] - mean) * invstd * q->fd.var[1][c] + q->fd.var[2][c];
                }
    }
}

static void bn_forward(const fd_problem *fp, double *y)
{
    bn_reference((const bn_problem *)fp, y, NULL, NULL);
}

/* g = [dx | dscale | dshift]. */
static void bn_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const bn_problem *q = ctx;
    const size_t nx = cc__dims_count(&q->in), c = (size_t)q->in.c;
    if (!accumulate)
        memset(g + nx, 0, 2 * c * sizeof(float));
    cc__batchnorm_backward(&q->in, q->layout, q->scale, q->mean, q->invstd, q->x, q->dy, g,
                           g + nx, g + nx + c, accumulate, threads);
}

static void check_batchnorm(cc__dims in, cc_layout layout, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    bn_problem q = {.in = in, .layout = layout};
    const size_t nx = cc__dims_count(&in), c = (size_t)in.c;
    float *x = tst_random_floats(&rng, nx, -2.0f, 3.0f);
    float *scale = tst_random_floats(&rng, c, 0.5f, 1.5f);
    float *shift = tst_random_floats(&rng, c, -1.0f, 1.0f);
    float *dy = tst_random_floats(&rng, nx, -1.0f, 1.0f);
    float *running_mean = tst_random_floats(&rng, c, -1.0f, 1.0f);
    float *running_var = tst_random_floats(&rng, c, 0.5f, 2.0f);
    float *rm_before = malloc(c * sizeof(float)), *rv_before = malloc(c * sizeof(float));
    float *save_mean = malloc(c * sizeof(float)), *save_invstd = malloc(c * sizeof(float));
    float *y = malloc(nx * sizeof(float));
    assert_non_null(rm_before);
    assert_non_null(rv_before);
    assert_non_null(save_mean);
    assert_non_null(save_invstd);
    assert_non_null(y);
    memcpy(rm_before, running_mean, c * sizeof(float));
    memcpy(rv_before, running_var, c * sizeof(float));
    q.fd = (fd_problem){bn_forward,
                        {to_doubles(x, nx), to_doubles(scale, c), to_doubles(shift, c)},
                        {nx, c, c},
                        nx};
    char what[160];
    snprintf(what, sizeof what, "batchnorm %dx%dx%dx%d, %s", in.n, in.c, in.h, in.w,
             layout_name(layout));
    /* The training forward: output, saved statistics, running estimates. */
    assert_int_equal(cc__batchnorm_train_forward(&in, layout, scale, shift, BN_EPS, 0.1f,
                                                 running_mean, running_var, x, y, save_mean,
                                                 save_invstd, 2),
                     CC_OK);
    double *y_want = tst_new_doubles(nx), *mean = tst_new_doubles(c), *var = tst_new_doubles(c);
    bn_reference(&q, y_want, mean, var);
    for (size_t i = 0; i < nx; i++)
        if (!(fabs(y[i] - y_want[i]) <= 1e-5 * fmax(1.0, fabs(y_want[i]))))
            fail_msg("%s: seed %llu: forward element %zu: got %.9g, want %.9g", what,
                     (unsigned long long)seed, i, (double)y[i], y_want[i]);
    const double count = (double)in.n * in.h * in.w;
    for (size_t ch = 0; ch < c; ch++) {
        const double rm = 0.9 * rm_before[ch] + 0.1 * mean[ch];
        const double rv = 0.9 * rv_before[ch] + 0.1 * var[ch] * count / (count - 1.0);
        assert_true(fabs(save_mean[ch] - mean[ch]) <= 1e-6 * fmax(1.0, fabs(mean[ch])));
        assert_true(fabs(save_invstd[ch] - 1.0 / sqrt(var[ch] + BN_EPS)) <=
                    1e-6 / sqrt(var[ch] + BN_EPS));
        if (!(fabs(running_mean[ch] - rm) <= 1e-6 && fabs(running_var[ch] - rv) <= 1e-6))
            fail_msg("%s: seed %llu: channel %zu: running mean %.9g var %.9g, want %.9g %.9g",
                     what, (unsigned long long)seed, ch, (double)running_mean[ch],
                     (double)running_var[ch], rm, rv);
    }
    q.x = x;
    q.scale = scale;
    q.mean = save_mean;
    q.invstd = save_invstd;
    q.dy = dy;
    float *got = run_modes(what, seed, bn_grad, &q, nx + 2 * c, &rng);
    double *w = to_doubles(dy, nx);
    const char *names[3] = {"dx", "dscale", "dshift"};
    const size_t offsets[3] = {0, nx, nx + c};
    for (int v = 0; v < 3; v++) {
        double *want = fd_gradient(&q.fd, v, w);
        char part[200];
        snprintf(part, sizeof part, "%s: %s", what, names[v]);
        expect_gradient(part, seed, got + offsets[v], want, q.fd.var_count[v]);
        free(want);
    }
    free(w);
    free(got);
    free(var);
    free(mean);
    free(y_want);
    for (int v = 0; v < 3; v++)
        free(q.fd.var[v]);
    free(y);
    free(save_invstd);
    free(save_mean);
    free(rv_before);
    free(rm_before);
    free(running_var);
    free(running_mean);
    free(dy);
    free(shift);
    free(scale);
    free(x);
}

static void test_batchnorm_backward(void **state)
{
    (void)state;
    const cc__dims shapes[] = {{3, 5, 3, 7}, {1, 3, 5, 3}, {3, 19, 1, 1}, {2, 1, 1, 2}};
    for (size_t s = 0; s < ARRAY_LEN(shapes); s++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            check_batchnorm(shapes[s], layouts[l], base_seed + 500 + s);
}

/* Running statistics by hand: one channel holding 1, 2, 3, 6 (mean 3,
 * biased variance 3.5, unbiased 14/3), from running mean 1 and variance 2:
 * 0.9 * 1 + 0.1 * 3 = 1.2 and 0.9 * 2 + 0.1 * 14/3 = 2.2666...; a single
 * value per channel is refused as PyTorch does. */
static void test_batchnorm_running_stats(void **state)
{
    (void)state;
    const float x[4] = {1, 2, 3, 6}, scale = 2.0f, shift = 1.0f;
    float y[4], rm = 1.0f, rv = 2.0f, mean, invstd;
    const cc__dims in = {2, 1, 1, 2};
    assert_int_equal(cc__batchnorm_train_forward(&in, CC_NCHW, &scale, &shift, 0.0f, 0.1f, &rm,
                                                 &rv, x, y, &mean, &invstd, 1),
                     CC_OK);
    assert_true(fabs(rm - 1.2) <= 1e-6);
    assert_true(fabs(rv - (1.8 + 1.4 / 3.0)) <= 1e-6);
    assert_true(mean == 3.0f);
    assert_true(fabs(invstd - 1.0 / sqrt(3.5)) <= 1e-7);
    assert_true(fabs(y[3] - (3.0 / sqrt(3.5) * 2.0 + 1.0)) <= 1e-6);
    const cc__dims single = {1, 1, 1, 1};
    assert_int_equal(cc__batchnorm_train_forward(&single, CC_NHWC, &scale, &shift, 1e-5f, 0.1f,
                                                 &rm, &rv, x, y, &mean, &invstd, 1),
                     CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "more than one value"));
}

/* ---- LRN ------------------------------------------------------------------ */

typedef struct {
    fd_problem fd;
    cc__dims in;
    cc_layout layout;
    cc_lrn_params p;
    const float *x, *dy;
    float *workspace;
} lrn_problem;

static void lrn_forward(const fd_problem *fp, double *y)
{
    const lrn_problem *q = (const lrn_problem *)fp;
    const cc__dims *d = &q->in;
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    double sum = 0.0;
                    for (int j = c - q->p.size / 2; j <= c + (q->p.size - 1) / 2; j++)
                        if (j >= 0 && j < d->c) {
                            const double v = q->fd.var[0][at(d, q->layout, n, j, iy, ix)];
                            sum += v * v;
                        }
                    const size_t i = at(d, q->layout, n, c, iy, ix);
                    y[i] = q->fd.var[0][i] *
                           pow(q->p.k + q->p.alpha / q->p.size * sum, -(double)q->p.beta);
                }
}

static void lrn_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const lrn_problem *q = ctx;
    cc__lrn_backward(&q->in, q->layout, &q->p, q->x, q->dy, g, accumulate, q->workspace,
                     threads);
}

static void test_lrn_backward(void **state)
{
    (void)state;
    /* alpha large enough that the cross-channel term matters. */
    const struct {
        cc__dims in;
        cc_lrn_params p;
    } cases[] = {
        {{3, 7, 3, 5}, {5, 0.9f, 0.75f, 1.5f}}, {{1, 6, 5, 3}, {4, 0.6f, 0.5f, 1.0f}},
        {{3, 5, 2, 3}, {9, 1.2f, 1.0f, 2.0f}},  {{1, 11, 3, 3}, {1, 0.5f, 0.75f, 1.0f}},
        {{3, 19, 1, 1}, {3, 0.8f, 1.3f, 1.2f}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
            const uint64_t seed = base_seed + 600 + i;
            tst_rng rng;
            tst_rng_seed(&rng, seed);
            lrn_problem q = {.in = cases[i].in, .layout = layouts[l], .p = cases[i].p};
            const size_t nx = cc__dims_count(&q.in);
            float *x = tst_random_floats(&rng, nx, -1.5f, 1.5f);
            float *dy = tst_random_floats(&rng, nx, -1.0f, 1.0f);
            q.workspace = malloc(cc__lrn_backward_workspace(&q.in, 2) * sizeof(float));
            assert_non_null(q.workspace);
            q.x = x;
            q.dy = dy;
            q.fd = (fd_problem){lrn_forward, {to_doubles(x, nx)}, {nx}, nx};
            char what[160];
            snprintf(what, sizeof what, "lrn size %d on %dx%dx%dx%d, %s", q.p.size, q.in.n,
                     q.in.c, q.in.h, q.in.w, layout_name(layouts[l]));
            float *got = run_modes(what, seed, lrn_grad, &q, nx, &rng);
            double *w = to_doubles(dy, nx);
            double *want = fd_gradient(&q.fd, 0, w);
            expect_gradient(what, seed, got, want, nx);
            free(want);
            free(w);
            free(got);
            free(q.fd.var[0]);
            free(q.workspace);
            free(dy);
            free(x);
        }
}

/* Called on one thread from inside a host's parallel region (as when a
 * trainer splits images over threads itself), LRN uses the first slice of
 * a workspace sized for one thread, whatever the caller's thread number:
 * each caller's workspace has room for four, and the three beyond the first
 * must stay as they were. */
static void test_lrn_inside_host_team(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, base_seed + 650);
    lrn_problem q = {.in = {1, 9, 4, 5}, .layout = CC_NHWC, .p = {5, 0.9f, 0.75f, 1.5f}};
    const size_t nx = cc__dims_count(&q.in), ws = cc__lrn_backward_workspace(&q.in, 1);
    float *x = tst_random_floats(&rng, nx, -1.0f, 1.0f), *dy = tst_random_floats(&rng, nx, -1.0f, 1.0f);
    float *want = malloc(nx * sizeof(float)), *serial = malloc(ws * sizeof(float));
    assert_non_null(want);
    assert_non_null(serial);
    cc__lrn_backward(&q.in, q.layout, &q.p, x, dy, want, false, serial, 1);
    float *workspaces[4], *dx[4];
    for (int t = 0; t < 4; t++) {
        workspaces[t] = malloc(4 * ws * sizeof(float));
        dx[t] = malloc(nx * sizeof(float));
        assert_non_null(workspaces[t]);
        assert_non_null(dx[t]);
        for (size_t i = 0; i < 4 * ws; i++)
            workspaces[t][i] = 12345.0f;
    }
    int ran = 0;
#pragma omp parallel num_threads(4) reduction(+ : ran)
    {
        const int t = omp_get_thread_num();
        cc__lrn_backward(&q.in, q.layout, &q.p, x, dy, dx[t], false, workspaces[t], 1);
        ran++;
    }
    assert_true(ran >= 1);
    for (int t = 0; t < ran; t++) {
        for (size_t i = ws; i < 4 * ws; i++)
            if (workspaces[t][i] != 12345.0f)
                fail_msg("lrn on host thread %d wrote workspace float %zu (of %zu)", t, i, ws);
        assert_memory_equal(dx[t], want, nx * sizeof(float));
    }
    for (int t = 0; t < 4; t++) {
        free(workspaces[t]);
        free(dx[t]);
    }
    free(serial);
    free(want);
    free(dy);
    free(x);
}

/* ---- Concat and add ------------------------------------------------------- */

#define CONCAT_INPUTS 3

typedef struct {
    fd_problem fd; /* var: the inputs, one after the other */
    cc__dims out;
    cc_layout layout;
    int channels[CONCAT_INPUTS];
    bool skip[CONCAT_INPUTS];
    const float *dy;
} concat_problem;

static size_t concat_input_count(const concat_problem *q, int i)
{
    return (size_t)q->out.n * q->channels[i] * q->out.h * q->out.w;
}

static void concat_forward(const fd_problem *fp, double *y)
{
    const concat_problem *q = (const concat_problem *)fp;
    const double *input = q->fd.var[0];
    int offset = 0;
    for (int i = 0; i < CONCAT_INPUTS; i++) {
        const cc__dims d = {q->out.n, q->channels[i], q->out.h, q->out.w};
        for (int n = 0; n < d.n; n++)
            for (int c = 0; c < d.c; c++)
                for (int iy = 0; iy < d.h; iy++)
                    for (int ix = 0; ix < d.w; ix++)
                        y[at(&q->out, q->layout, n, offset + c, iy, ix)] =
                            input[at(&d, q->layout, n, c, iy, ix)];
        input += concat_input_count(q, i);
        offset += d.c;
    }
}

/* g = the inputs' gradients one after the other; a skipped input's stay
 * as they were (zeroed in overwrite mode). */
static void concat_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const concat_problem *q = ctx;
    float *d[CONCAT_INPUTS];
    for (int i = 0; i < CONCAT_INPUTS; i++) {
        d[i] = q->skip[i] ? NULL : g;
        if (q->skip[i] && !accumulate)
            memset(g, 0, concat_input_count(q, i) * sizeof(float));
        g += concat_input_count(q, i);
    }
    cc__concat_backward(&q->out, q->layout, CONCAT_INPUTS, d, q->channels, q->dy, accumulate,
                        threads);
}

static void test_concat_backward(void **state)
{
    (void)state;
    const struct {
        int n, h, w;
        int channels[CONCAT_INPUTS];
        bool skip[CONCAT_INPUTS];
    } cases[] = {
        {3, 3, 5, {2, 5, 1}, {false, false, false}},
        {1, 7, 1, {3, 1, 4}, {false, true, false}},
        {3, 1, 1, {1, 7, 2}, {true, false, false}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
            const uint64_t seed = base_seed + 700 + i;
            tst_rng rng;
            tst_rng_seed(&rng, seed);
            concat_problem q = {.layout = layouts[l]};
            int c = 0;
            for (int j = 0; j < CONCAT_INPUTS; j++) {
                q.channels[j] = cases[i].channels[j];
                q.skip[j] = cases[i].skip[j];
                c += q.channels[j];
            }
            q.out = (cc__dims){cases[i].n, c, cases[i].h, cases[i].w};
            const size_t count = cc__dims_count(&q.out);
            float *x = tst_random_floats(&rng, count, -1.0f, 1.0f);
            float *dy = tst_random_floats(&rng, count, -1.0f, 1.0f);
            q.dy = dy;
            q.fd = (fd_problem){concat_forward, {to_doubles(x, count)}, {count}, count};
            char what[96];
            snprintf(what, sizeof what, "concat case %zu, %s", i, layout_name(layouts[l]));
            float *got = run_modes(what, seed, concat_grad, &q, count, &rng);
            double *w = to_doubles(dy, count);
            double *want = fd_gradient(&q.fd, 0, w);
            /* A skipped input's gradient is not computed: left at zero. */
            size_t offset = 0;
            for (int j = 0; j < CONCAT_INPUTS; j++) {
                const size_t m = concat_input_count(&q, j);
                for (size_t k = 0; q.skip[j] && k < m; k++) {
                    assert_true(got[offset + k] == 0.0f);
                    want[offset + k] = 0.0;
                }
                offset += m;
            }
            expect_gradient(what, seed, got, want, count);
            free(want);
            free(w);
            free(got);
            free(q.fd.var[0]);
            free(dy);
            free(x);
        }
}

typedef struct {
    fd_problem fd; /* var: a, b */
    size_t count;
    const float *dy;
} add_problem;

static void add_forward(const fd_problem *fp, double *y)
{
    const add_problem *q = (const add_problem *)fp;
    for (size_t i = 0; i < q->count; i++)
        y[i] = q->fd.var[0][i] + q->fd.var[1][i];
}

static void add_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const add_problem *q = ctx;
    cc__add_backward(q->dy, g, q->count, accumulate, threads);
    cc__add_backward(q->dy, g + q->count, q->count, accumulate, threads);
}

static void test_add_backward(void **state)
{
    (void)state;
    const uint64_t seed = base_seed + 800;
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    add_problem q = {.count = 301};
    float *a = tst_random_floats(&rng, q.count, -1.0f, 1.0f);
    float *b = tst_random_floats(&rng, q.count, -1.0f, 1.0f);
    float *dy = tst_random_floats(&rng, q.count, -1.0f, 1.0f);
    q.dy = dy;
    q.fd = (fd_problem){add_forward, {to_doubles(a, q.count), to_doubles(b, q.count)},
                        {q.count, q.count}, q.count};
    float *got = run_modes("add", seed, add_grad, &q, 2 * q.count, &rng);
    double *w = to_doubles(dy, q.count);
    for (int v = 0; v < 2; v++) {
        double *want = fd_gradient(&q.fd, v, w);
        expect_gradient(v == 0 ? "add: da" : "add: db", seed, got + v * q.count, want, q.count);
        free(want);
    }
    /* dx = dy in overwrite mode: nothing to do, dy unchanged. */
    float *same = malloc(q.count * sizeof(float));
    assert_non_null(same);
    memcpy(same, dy, q.count * sizeof(float));
    cc__add_backward(same, same, q.count, false, 2);
    assert_memory_equal(same, dy, q.count * sizeof(float));
    free(same);
    free(w);
    free(got);
    free(q.fd.var[1]);
    free(q.fd.var[0]);
    free(dy);
    free(b);
    free(a);
}

/* ---- Dropout -------------------------------------------------------------- */

/* The mask as backward.h specifies it, written again here: element i is
 * dropped when the i-th splitmix64 output after the key, as a 53-bit
 * fraction, is below p. */
static bool dropped(uint64_t key, size_t i, double p)
{
    uint64_t z = key + UINT64_C(0x9E3779B97F4A7C15) * ((uint64_t)i + 1);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < p;
}

typedef struct {
    fd_problem fd;
    float p;
    uint64_t key;
    size_t count;
    const float *dy;
} dropout_problem;

static void dropout_reference(const fd_problem *fp, double *y)
{
    const dropout_problem *q = (const dropout_problem *)fp;
    for (size_t i = 0; i < q->count; i++)
        y[i] = dropped(q->key, i, q->p) ? 0.0 : q->fd.var[0][i] / (1.0 - q->p);
}

static void dropout_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const dropout_problem *q = ctx;
    cc__dropout_backward(q->p, q->key, q->dy, g, q->count, accumulate, threads);
}

static void dropout_forward_grad(const void *ctx, int threads, bool accumulate, float *g)
{
    const dropout_problem *q = ctx;
    (void)accumulate;
    cc__dropout_forward(q->p, q->key, q->dy, g, q->count, threads);
}

static void test_dropout(void **state)
{
    (void)state;
    const float ps[] = {0.5f, 0.2f, 0.0f};
    for (size_t k = 0; k < ARRAY_LEN(ps); k++) {
        const uint64_t seed = base_seed + 900 + k;
        tst_rng rng;
        tst_rng_seed(&rng, seed);
        dropout_problem q = {.p = ps[k], .count = 1001};
        q.key = cc__dropout_key(seed, 3, 17);
        float *x = tst_random_floats(&rng, q.count, -1.0f, 1.0f);
        float *dy = tst_random_floats(&rng, q.count, -1.0f, 1.0f);
        q.dy = dy;
        q.fd = (fd_problem){dropout_reference, {to_doubles(x, q.count)}, {q.count}, q.count};
        /* The forward: the specified mask, scaled by 1 / (1 - p). */
        float *y = malloc(q.count * sizeof(float));
        double *y_want = tst_new_doubles(q.count);
        assert_non_null(y);
        cc__dropout_forward(q.p, q.key, x, y, q.count, 1);
        dropout_reference(&q.fd, y_want);
        for (size_t i = 0; i < q.count; i++)
            assert_true(fabs(y[i] - y_want[i]) <= 1e-6 * fabs(y_want[i]));
        char what[64];
        snprintf(what, sizeof what, "dropout p %g", (double)q.p);
        float *got = run_modes(what, seed, dropout_grad, &q, q.count, &rng);
        double *w = to_doubles(dy, q.count);
        double *want = fd_gradient(&q.fd, 0, w);
        expect_gradient(what, seed, got, want, q.count);
        /* In place. */
        memcpy(y, x, q.count * sizeof(float));
        cc__dropout_forward(q.p, q.key, y, y, q.count, 2);
        for (size_t i = 0; i < q.count; i++)
            assert_true(fabs(y[i] - y_want[i]) <= 1e-6 * fabs(y_want[i]));
        free(want);
        free(w);
        free(got);
        free(y_want);
        free(y);
        free(q.fd.var[0]);
        free(dy);
        free(x);
    }
}

/* The mask: the same for the same key on 1 and 2 threads, a different one
 * for another step or node, the share dropped near p, p = 1 drops all and
 * p outside [0, 1] is refused. */
static void test_dropout_mask(void **state)
{
    (void)state;
    const size_t count = 100000;
    float *ones = malloc(count * sizeof(float)), *a = malloc(count * sizeof(float));
    float *b = malloc(count * sizeof(float));
    assert_non_null(ones);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < count; i++)
        ones[i] = 1.0f;
    const uint64_t key = cc__dropout_key(42, 0, 5);
    assert_true(key == cc__dropout_key(42, 0, 5));
    cc__dropout_forward(0.3f, key, ones, a, count, 1);
    cc__dropout_forward(0.3f, key, ones, b, count, 2);
    assert_memory_equal(a, b, count * sizeof(float));
    size_t zeros = 0;
    for (size_t i = 0; i < count; i++) {
        assert_true(a[i] == 0.0f || a[i] == (float)(1.0 / 0.7));
        zeros += a[i] == 0.0f;
    }
    /* 30000 expected, standard deviation 145. */
    if (zeros < 29000 || zeros > 31000)
        fail_msg("dropout p 0.3 dropped %zu of %zu", zeros, count);
    const uint64_t others[] = {cc__dropout_key(42, 0, 6), cc__dropout_key(42, 1, 5),
                               cc__dropout_key(43, 0, 5)};
    for (size_t k = 0; k < ARRAY_LEN(others); k++) {
        assert_true(others[k] != key);
        cc__dropout_forward(0.3f, others[k], ones, b, count, 1);
        size_t same = 0;
        for (size_t i = 0; i < count; i++)
            same += (a[i] == 0.0f) == (b[i] == 0.0f);
        /* Independent masks agree on 0.7^2 + 0.3^2 = 58% of the elements. */
        if (same > 60000)
            fail_msg("dropout masks of two keys agree on %zu of %zu", same, count);
    }
    cc__dropout_forward(1.0f, key, ones, b, count, 2);
    for (size_t i = 0; i < count; i++)
        assert_true(b[i] == 0.0f);
    assert_int_equal(cc__dropout_check(1.0f), CC_OK);
    assert_int_equal(cc__dropout_check(0.0f), CC_OK);
    assert_int_equal(cc__dropout_check(-0.1f), CC_ERR_INVALID_ARG);
    assert_int_equal(cc__dropout_check(1.5f), CC_ERR_INVALID_ARG);
    assert_int_equal(cc__dropout_check(NAN), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "p must be in [0, 1]"));
    free(b);
    free(a);
    free(ones);
}

/* ---- Thread independence on shapes the layers split -------------------- */

static void test_threads_split(void **state)
{
    (void)state;
    tst_rng rng;
    tst_rng_seed(&rng, base_seed + 1000);
    const size_t big = 40000;
    float *x = tst_random_floats(&rng, big * 2, -1.0f, 1.0f);
    float *y = tst_random_floats(&rng, big * 2, 0.1f, 0.9f);
    float *dy = tst_random_floats(&rng, big * 2, -1.0f, 1.0f);

    for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
        pool_problem pool = {.in = {2, 19, 37, 29}, .layout = layouts[l],
                             .p = {CC_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}, .x = x, .dy = dy};
        expect_thread_independent("pool max", pool_grad, &pool, cc__dims_count(&pool.in));
        pool.p.kind = CC_POOL_AVG;
        expect_thread_independent("pool avg", pool_grad, &pool, cc__dims_count(&pool.in));
        global_problem global = {.in = {3, 67, 13, 15}, .layout = layouts[l],
                                 .kind = CC_POOL_MAX, .x = x, .dy = dy};
        expect_thread_independent("global max", global_grad, &global,
                                  cc__dims_count(&global.in));

        fc_problem fc = {.in = {9, 13, 7, 5}, .layout = layouts[l], .outputs = 150, .x = x,
                         .weights = y, .dy = dy};
        fc.workspace = malloc((cc__fc_backward_workspace(&fc.in, fc.layout) + 1) * sizeof(float));
        assert_non_null(fc.workspace);
        const size_t fc_inputs = cc__dims_count(&fc.in) / 9;
        expect_thread_independent("fc", fc_grad, &fc,
                                  cc__dims_count(&fc.in) + fc_inputs * 150 + 150);
        free(fc.workspace);

        bn_problem bn = {.in = {4, 21, 21, 23}, .layout = layouts[l], .x = x, .scale = y,
                         .mean = dy, .invstd = y, .dy = dy};
        expect_thread_independent("batchnorm", bn_grad, &bn, cc__dims_count(&bn.in) + 42);

        lrn_problem lrn = {.in = {2, 20, 20, 25}, .layout = layouts[l],
                           .p = {5, 0.9f, 0.75f, 1.5f}, .x = x, .dy = dy};
        lrn.workspace = malloc(cc__lrn_backward_workspace(&lrn.in, 2) * sizeof(float));
        assert_non_null(lrn.workspace);
        expect_thread_independent("lrn", lrn_grad, &lrn, cc__dims_count(&lrn.in));
        free(lrn.workspace);

        concat_problem concat = {.out = {4, 16, 25, 25}, .layout = layouts[l],
                                 .channels = {5, 3, 8}, .dy = dy};
        expect_thread_independent("concat", concat_grad, &concat, cc__dims_count(&concat.out));
    }
    act_problem act = {.act = {CC_ACTIVATION_ELU, 0.7f}, .x = x, .y = y, .dy = dy, .count = big};
    expect_thread_independent("activation", act_grad, &act, big);
    add_problem add = {.count = big, .dy = dy};
    expect_thread_independent("add", add_grad, &add, 2 * big);
    dropout_problem dropout = {.p = 0.5f, .key = 99, .count = big, .dy = dy};
    expect_thread_independent("dropout backward", dropout_grad, &dropout, big);
    expect_thread_independent("dropout forward", dropout_forward_grad, &dropout, big);
    int32_t *labels = malloc(8000 * sizeof(int32_t));
    assert_non_null(labels);
    for (int n = 0; n < 8000; n++)
        labels[n] = n % 10;
    xent_problem xent = {.batch = 8000, .classes = 10, .labels = labels, .x = x};
    expect_thread_independent("softmax cross-entropy", xent_grad, &xent, 80000);
    free(labels);
    free(dy);
    free(y);
    free(x);
}

int main(void)
{
    const char *seed = getenv("COLCONV_TEST_SEED");
    if (seed != NULL)
        base_seed = strtoull(seed, NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_backward),
        cmocka_unit_test(test_pool_max_ties),
        cmocka_unit_test(test_global_pool_backward),
        cmocka_unit_test(test_activation_backward),
        cmocka_unit_test(test_activation_kinks),
        cmocka_unit_test(test_fc_backward),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_softmax_xent_huge),
        cmocka_unit_test(test_softmax_xent_bad_label),
        cmocka_unit_test(test_batchnorm_backward),
        cmocka_unit_test(test_batchnorm_running_stats),
        cmocka_unit_test(test_lrn_backward),
        cmocka_unit_test(test_lrn_inside_host_team),
        cmocka_unit_test(test_concat_backward),
        cmocka_unit_test(test_add_backward),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_dropout_mask),
        cmocka_unit_test(test_threads_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
