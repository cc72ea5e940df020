/* Tests of the non-convolution layer kernels (src/layers/).
 *
 * Every kernel is compared with an obvious reference written here (plain
 * loops over logical (n, c, y, x) indices, double accumulators) on tables of
 * odd shapes in both layouts. Each run poisons its output with NaN, checks
 * the guard floats on both sides of it, and is repeated on 1 and 2 threads
 * with bit-identical results. Hand-computed cases pin the semantics, and every
 * invalid parameter of the check functions must give CC_ERR_INVALID_ARG with a
 * message naming the field. The seed (COLCONV_TEST_SEED overrides it) is in
 * every failure message. The suite runs once per kernel family the CPU has
 * (src/layers/kernels.h: portable, AVX2, AVX-512), whose name is in every
 * failure message too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/layers/layers.h"
#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EPS ((double)FLT_EPSILON)

/* ---- Random data, buffers with guards, comparison ---------------------- */

static uint64_t base_seed = 0x1a7e45;

static void expect_guards(const tst_buffer *b, const char *name, uint64_t seed)
{
    if (!tst_buffer_guards_intact(b))
        fail_msg("%s: seed %llu: a guard float around the output was overwritten", name,
                 (unsigned long long)seed);
}

/* |got - want| <= rtol * scale + atol, with scale = |want| when NULL; a NaN
 * or infinite want must be matched exactly. */
static void expect_close(const char *name, uint64_t seed, const float *got, const double *want,
                         const double *scale, size_t count, double rtol, double atol)
{
    for (size_t i = 0; i < count; i++) {
        const double g = got[i], w = want[i];
        bool ok;
        if (isnan(w))
            ok = isnan(g);
        else if (isinf(w))
            ok = g == w;
        else
            ok = fabs(g - w) <= rtol * (scale != NULL ? scale[i] : fabs(w)) + atol;
        if (!ok)
            fail_msg("%s [%s]: seed %llu: element %zu: got %.9g, want %.9g", name,
                     cc__isa_name(tst_isa()), (unsigned long long)seed, i, g, w);
    }
}

/* A kernel under test: writes its whole output from the context. */
typedef void (*kernel_fn)(const void *ctx, float *output, int threads);

typedef struct {
    double rtol, atol;
    const double *scale;
} tolerance;

/* Runs the kernel on 1 and 2 threads into poisoned, guarded outputs: both
 * must match want and each other bit for bit. */
static void check_kernel(const char *name, uint64_t seed, kernel_fn run, const void *ctx,
                         const double *want, size_t count, tolerance tol)
{
    tst_buffer one = tst_buffer_new(count), two = tst_buffer_new(count);
    run(ctx, one.data, 1);
    expect_guards(&one, name, seed);
    expect_close(name, seed, one.data, want, tol.scale, count, tol.rtol, tol.atol);
    run(ctx, two.data, 2);
    expect_guards(&two, name, seed);
    if (memcmp(one.data, two.data, count * sizeof(float)) != 0)
        fail_msg("%s [%s]: seed %llu: results on 1 and 2 threads differ", name,
                 cc__isa_name(tst_isa()), (unsigned long long)seed);
    tst_buffer_free(&one);
    tst_buffer_free(&two);
}

/* Compares with hand-computed float values. */
static void check_pinned(const char *name, kernel_fn run, const void *ctx,
                         const float *expected, size_t count)
{
    double *want = tst_new_doubles(count);
    for (size_t i = 0; i < count; i++)
        want[i] = expected[i];
    check_kernel(name, 0, run, ctx, want, count, (tolerance){4 * EPS, 1e-7, NULL});
    free(want);
}

/* Offset of logical element (n, c, y, x) of a tensor of shape d in layout. */
static size_t offset_of(cc_layout layout, const cc__dims *d, int n, int c, int y, int x)
{
    if (layout == CC_NCHW)
        return (((size_t)n * d->c + c) * d->h + y) * d->w + x;
    return (((size_t)n * d->h + y) * d->w + x) * d->c + c;
}

static const char *layout_name(cc_layout layout) { return layout == CC_NCHW ? "NCHW" : "NHWC"; }

static void expect_invalid(cc_status status, const char *field)
{
    assert_int_equal(status, CC_ERR_INVALID_ARG);
    assert_true(cc_last_error()[0] != '\0');
    if (strstr(cc_last_error(), field) == NULL)
        fail_msg("error message \"%s\" does not name \"%s\"", cc_last_error(), field);
}

/* Clears the thread's last error so that a message must come from the next call. */
static void clear_error(void) { (void)cc__fail(CC_OK, "%s", ""); }

/* The shapes every tensor test runs on. */
static const int batches[] = {1, 3};
static const int channel_counts[] = {1, 3, 5, 17};
static const int spatial[][2] = {{1, 1}, {7, 5}, {13, 11}, {40, 33}};
static const cc_layout layouts[] = {CC_NCHW, CC_NHWC};

/* Calls visit(shape, layout, seed, ctx) for every shape of the table. */
typedef void (*shape_visitor)(const cc__dims *in, cc_layout layout, uint64_t seed, void *ctx);

static void for_each_shape(shape_visitor visit, void *ctx)
{
    uint64_t seed = base_seed;
    for (size_t b = 0; b < ARRAY_LEN(batches); b++)
        for (size_t c = 0; c < ARRAY_LEN(channel_counts); c++)
            for (size_t s = 0; s < ARRAY_LEN(spatial); s++)
                for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
                    const cc__dims in = {batches[b], channel_counts[c], spatial[s][0],
                                         spatial[s][1]};
                    visit(&in, layouts[l], seed++, ctx);
                }
}

static int shape_name(char *name, size_t size, const char *what, const cc__dims *in,
                      cc_layout layout)
{
    return snprintf(name, size, "%s n%d c%d %dx%d %s", what, in->n, in->c, in->h, in->w,
                    layout_name(layout));
}

/* ---- Pooling ------------------------------------------------------------ */

typedef struct {
    const cc__dims *in;
    cc_layout layout;
    const cc_pool2d_params *p;
    cc_pool_kind kind; /* global pooling */
    const float *x;
} pool_ctx;

static void run_pool(const void *ctx, float *output, int threads)
{
    const pool_ctx *c = ctx;
    cc__pool_run(c->in, c->layout, c->p, c->x, output, threads);
}

static void run_global_pool(const void *ctx, float *output, int threads)
{
    const pool_ctx *c = ctx;
    cc__global_pool_run(c->in, c->layout, c->kind, c->x, output, threads);
}

/* PyTorch's pooling_output_shape, written with floating division. */
static int ref_pooled(int size, int kernel, int stride, int pad_before, int pad_after, int ceil_mode)
{
    const double q = (double)(size + pad_before + pad_after - kernel) / stride;
    int out = (int)(ceil_mode ? ceil(q) : floor(q)) + 1;
    if (ceil_mode && (out - 1) * stride >= size + pad_before)
        out--;
    return out;
}

/* Values and error scales (sum |x| / divisor for averages) of the pooling. */
static void ref_pool(const cc__dims *in, cc_layout layout, const cc_pool2d_params *p,
                     const float *x, const cc__dims *out, double *want, double *scale)
{
    const int sh = p->stride_h ? p->stride_h : p->kernel_h;
    const int sw = p->stride_w ? p->stride_w : p->kernel_w;
    for (int n = 0; n < out->n; n++)
        for (int c = 0; c < out->c; c++)
            for (int oy = 0; oy < out->h; oy++)
                for (int ox = 0; ox < out->w; ox++) {
                    int y0 = oy * sh - p->pad_top, y1 = y0 + p->kernel_h;
                    int x0 = ox * sw - p->pad_left, x1 = x0 + p->kernel_w;
                    if (y1 > in->h + p->pad_bottom)
                        y1 = in->h + p->pad_bottom;
                    if (x1 > in->w + p->pad_right)
                        x1 = in->w + p->pad_right;
                    const int padded_cells = (y1 - y0) * (x1 - x0);
                    y0 = y0 < 0 ? 0 : y0;
                    x0 = x0 < 0 ? 0 : x0;
                    y1 = y1 > in->h ? in->h : y1;
                    x1 = x1 > in->w ? in->w : x1;
                    double max = -INFINITY, sum = 0.0, abs_sum = 0.0;
                    for (int y = y0; y < y1; y++)
                        for (int xx = x0; xx < x1; xx++) {
                            const double v = x[offset_of(layout, in, n, c, y, xx)];
                            max = isnan(v) || v > max ? v : max;
                            sum += v;
                            abs_sum += fabs(v);
                        }
                    const double d = p->count_include_pad ? padded_cells : (y1 - y0) * (x1 - x0);
                    const size_t o = offset_of(layout, out, n, c, oy, ox);
                    want[o] = p->kind == CC_POOL_MAX ? max : sum / d;
                    scale[o] = p->kind == CC_POOL_MAX ? 0.0 : abs_sum / d;
                }
}

typedef struct {
    const char *name;
    cc_pool2d_params p;
} pool_case;

/* kind, kernel h/w, stride h/w, pads top/bottom/left/right, ceil_mode,
 * count_include_pad */
static const pool_case pool_cases[] = {
    {"max 2x2 stride 0 (= kernel)", {CC_POOL_MAX, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"max 3x3 s2 p1 ceil", {CC_POOL_MAX, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}},
    {"avg 3x3 s2 p1 ceil include-pad", {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}},
    {"avg 3x3 s2 p1 ceil exclude-pad", {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}},
    {"avg 2x3 s3x4 stride>kernel asym pad include-pad", {CC_POOL_AVG, 2, 3, 3, 4, 0, 1, 1, 0, 0, 1}},
    {"max 3x2 s1 asym pad", {CC_POOL_MAX, 3, 2, 1, 1, 1, 0, 0, 1, 0, 0}},
    {"avg 5x5 s3 p2 ceil include-pad", {CC_POOL_AVG, 5, 5, 3, 3, 2, 2, 2, 2, 1, 1}},
    {"max 1x1 s2 ceil", {CC_POOL_MAX, 1, 1, 2, 2, 0, 0, 0, 0, 1, 0}},
    {"avg 3x3 s1 p1 exclude-pad", {CC_POOL_AVG, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}},
    {"avg 4x4 s3 asym pad ceil include-pad", {CC_POOL_AVG, 4, 4, 3, 3, 2, 1, 2, 1, 1, 1}},
    {"max 2x4 s3x5 asym pad ceil", {CC_POOL_MAX, 2, 4, 3, 5, 1, 0, 2, 2, 1, 0}},
    {"avg 2x2 s2 p1 ceil exclude-pad", {CC_POOL_AVG, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0}},
    {"max 3x3 s2 ceil", {CC_POOL_MAX, 3, 3, 2, 2, 0, 0, 0, 0, 1, 0}},
    {"max 3x3 s1", {CC_POOL_MAX, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0}},
    {"avg 3x3 s2 p0 p1 right include-pad", {CC_POOL_AVG, 3, 3, 2, 2, 0, 1, 0, 1, 0, 1}},
    {"max 2x2 s1 p1 left", {CC_POOL_MAX, 2, 2, 1, 1, 1, 0, 1, 0, 0, 0}},
};

static int pool_cases_run;

/* About one element in 40 becomes NaN, -inf or +inf: NaN must win a max
 * wherever it sits in a window (vector lanes, tails, padded borders). */
static void sprinkle_specials(tst_rng *rng, float *x, size_t count)
{
    static const float specials[] = {NAN, -INFINITY, INFINITY, -NAN};
    for (size_t i = 0; i < count; i++)
        if (tst_rng_int(rng, 0, 39) == 0)
            x[i] = specials[tst_rng_int(rng, 0, (int)ARRAY_LEN(specials) - 1)];
}

static void visit_pool(const cc__dims *in, cc_layout layout, uint64_t seed, void *unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(pool_cases); i++) {
        const cc_pool2d_params *p = &pool_cases[i].p;
        char name[160];
        shape_name(name, sizeof name, pool_cases[i].name, in, layout);
        const bool fits = p->kernel_h <= in->h + p->pad_top + p->pad_bottom &&
                          p->kernel_w <= in->w + p->pad_left + p->pad_right;
        cc__dims out;
        const cc_status status = cc__pool_output(in, p, &out);
        if (!fits) {
            expect_invalid(status, "kernel");
            continue;
        }
        assert_int_equal(status, CC_OK);
        const int sh = p->stride_h ? p->stride_h : p->kernel_h;
        const int sw = p->stride_w ? p->stride_w : p->kernel_w;
        assert_int_equal(out.h, ref_pooled(in->h, p->kernel_h, sh, p->pad_top, p->pad_bottom, p->ceil_mode));
        assert_int_equal(out.w, ref_pooled(in->w, p->kernel_w, sw, p->pad_left, p->pad_right, p->ceil_mode));
        assert_int_equal(out.n, in->n);
        assert_int_equal(out.c, in->c);
        tst_rng rng = {seed + i};
        float *x = tst_random_floats(&rng, cc__dims_count(in), -1.0f, 1.0f);
        if ((seed + i) % 2 == 1)
            sprinkle_specials(&rng, x, cc__dims_count(in));
        const size_t count = cc__dims_count(&out);
        double *want = tst_new_doubles(count), *scale = tst_new_doubles(count);
        ref_pool(in, layout, p, x, &out, want, scale);
        const pool_ctx ctx = {in, layout, p, CC_POOL_MAX, x};
        check_kernel(name, seed + i, run_pool, &ctx, want, count,
                     (tolerance){(p->kernel_h * p->kernel_w + 2) * EPS, 0.0, scale});
        free(x);
        free(want);
        free(scale);
        pool_cases_run++;
    }
}

/* Shapes at the edges of the kernels (kernels_body.h): rows wider than the
 * row buffer (CC__POOL_ROW_FLOATS, so several chunks of columns), planes of
 * several units of work and several passes of the buffer, widths and
 * channel counts around the vector widths (tails; NHWC blocks of 4
 * vectors), tiny planes stacked many to a pass. */
static const cc__dims pool_edge_shapes[] = {
    {1, 2, 4, 2100}, {3, 2, 300, 50}, {1, 70, 9, 17}, {2, 16, 16, 16},
    {1, 3, 31, 33},  {2, 5, 14, 14},  {1, 65, 3, 1},  {1, 1, 1, 1031},
};

static void test_pool_random(void **state)
{
    (void)state;
    pool_cases_run = 0;
    for_each_shape(visit_pool, NULL);
    for (size_t i = 0; i < ARRAY_LEN(pool_edge_shapes); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            visit_pool(&pool_edge_shapes[i], layouts[l], base_seed + 500 + i * 2 + l, NULL);
    print_message("pooling: %d random cases\n", pool_cases_run);
}

/* Kernels wider than the row buffer, a kernel the size of the input, and
 * the stride-1 "same" pools (Inception's) on planes of several units. */
static void test_pool_edges(void **state)
{
    (void)state;
    const struct {
        cc__dims in;
        cc_pool2d_params p;
    } cases[] = {
        {{1, 2, 3, 1500}, {CC_POOL_MAX, 1, 1100, 1, 150, 0, 0, 0, 0, 0, 0}},
        {{2, 3, 2, 1500}, {CC_POOL_AVG, 2, 1100, 1, 300, 0, 1, 500, 200, 1, 1}},
        {{2, 3, 2, 1500}, {CC_POOL_AVG, 2, 1100, 1, 300, 1, 0, 500, 200, 1, 0}},
        {{1, 3, 7, 9}, {CC_POOL_MAX, 7, 9, 1, 1, 0, 0, 0, 0, 0, 0}},
        {{1, 3, 7, 9}, {CC_POOL_AVG, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0}},
        {{1, 2, 90, 70}, {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}},
        {{1, 2, 90, 70}, {CC_POOL_AVG, 5, 3, 1, 1, 2, 2, 1, 1, 0, 0}},
        {{2, 3, 20, 1100}, {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0}},
        {{1, 2, 5, 3000}, {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
            const cc__dims *in = &cases[i].in;
            const cc_pool2d_params *p = &cases[i].p;
            cc__dims out;
            assert_int_equal(cc__pool_output(in, p, &out), CC_OK);
            const uint64_t seed = base_seed + 700 + i * 2 + l;
            tst_rng rng = {seed};
            float *x = tst_random_floats(&rng, cc__dims_count(in), -1.0f, 1.0f);
            sprinkle_specials(&rng, x, cc__dims_count(in));
            const size_t count = cc__dims_count(&out);
            double *want = tst_new_doubles(count), *scale = tst_new_doubles(count);
            ref_pool(in, layouts[l], p, x, &out, want, scale);
            char name[160];
            snprintf(name, sizeof name, "pool edge case %zu (%s %dx%d s%dx%d)", i,
                     p->kind == CC_POOL_MAX ? "max" : "avg", p->kernel_h, p->kernel_w,
                     p->stride_h, p->stride_w);
            char full[200];
            shape_name(full, sizeof full, name, in, layouts[l]);
            const pool_ctx ctx = {in, layouts[l], p, CC_POOL_MAX, x};
            check_kernel(full, seed, run_pool, &ctx, want, count,
                         (tolerance){(p->kernel_h * p->kernel_w + 2) * EPS, 0.0, scale});
            free(x);
            free(want);
            free(scale);
        }
}

static void visit_global_pool(const cc__dims *in, cc_layout layout, uint64_t seed, void *unused)
{
    (void)unused;
    const cc_pool_kind kinds[] = {CC_POOL_MAX, CC_POOL_AVG};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        char name[160];
        shape_name(name, sizeof name, kinds[k] == CC_POOL_MAX ? "global max" : "global avg",
                   in, layout);
        tst_rng rng = {seed + k};
        float *x = tst_random_floats(&rng, cc__dims_count(in), -1.0f, 1.0f);
        if ((seed + k) % 3 == 0)
            sprinkle_specials(&rng, x, cc__dims_count(in));
        const size_t count = (size_t)in->n * in->c, pixels = (size_t)in->h * in->w;
        double *want = tst_new_doubles(count), *scale = tst_new_doubles(count);
        for (int n = 0; n < in->n; n++)
            for (int c = 0; c < in->c; c++) {
                double max = -INFINITY, sum = 0.0, abs_sum = 0.0;
                for (int y = 0; y < in->h; y++)
                    for (int xx = 0; xx < in->w; xx++) {
                        const double v = x[offset_of(layout, in, n, c, y, xx)];
                        max = isnan(v) || v > max ? v : max;
                        sum += v;
                        abs_sum += fabs(v);
                    }
                want[(size_t)n * in->c + c] = kinds[k] == CC_POOL_MAX ? max : sum / pixels;
                scale[(size_t)n * in->c + c] = kinds[k] == CC_POOL_MAX ? 0.0 : abs_sum / pixels;
            }
        const pool_ctx ctx = {in, layout, NULL, kinds[k], x};
        check_kernel(name, seed + k, run_global_pool, &ctx, want, count,
                     (tolerance){(double)(pixels + 2) * EPS, 0.0, scale});
        free(x);
        free(want);
        free(scale);
    }
}

static void test_global_pool_random(void **state)
{
    (void)state;
    for_each_shape(visit_global_pool, NULL);
    /* Channel counts across the 64-channel blocks of the NHWC kernel and the
     * 4-vector blocks inside them; plane sizes around the vector widths
     * (whole vectors read past a plane, not past the tensor). */
    const cc__dims wide[] = {{1, 130, 7, 7}, {3, 200, 13, 11}, {2, 70, 4, 4},
                             {1, 9, 1, 17},  {2, 33, 2, 4},    {1, 65, 8, 2}};
    for (size_t i = 0; i < ARRAY_LEN(wide); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            visit_global_pool(&wide[i], layouts[l], base_seed + 1000 + i, NULL);
}

static const float ramp_4x4[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const float ramp_3x3[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

/* Pools a single-channel image (the same bytes in both layouts) and compares
 * with the expected output of the expected size. */
static void check_pool_pinned(const char *name, const cc_pool2d_params *p, int h, int w,
                              const float *x, int oh, int ow, const float *expected)
{
    const cc__dims in = {1, 1, h, w};
    cc__dims out;
    assert_int_equal(cc__pool_output(&in, p, &out), CC_OK);
    assert_int_equal(out.h, oh);
    assert_int_equal(out.w, ow);
    for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
        const pool_ctx ctx = {&in, layouts[l], p, CC_POOL_MAX, x};
        check_pinned(name, run_pool, &ctx, expected, (size_t)oh * ow);
    }
}

static void test_pool_pinned(void **state)
{
    (void)state;
    const cc_pool2d_params max2 = {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    check_pool_pinned("max 2x2 s2 on a 4x4 ramp", &max2, 4, 4, ramp_4x4, 2, 2,
                      (const float[]){5, 7, 13, 15});

    /* 3x3 s1 p1 on 1..9: corner windows hold 4 cells, edges 6, the centre 9. */
    cc_pool2d_params avg3 = {CC_POOL_AVG, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1};
    check_pool_pinned("avg 3x3 p1 include-pad", &avg3, 3, 3, ramp_3x3, 3, 3,
                      (const float[]){12.f / 9, 21.f / 9, 16.f / 9, 27.f / 9, 45.f / 9,
                                      33.f / 9, 24.f / 9, 39.f / 9, 28.f / 9});
    avg3.count_include_pad = 0;
    check_pool_pinned("avg 3x3 p1 exclude-pad", &avg3, 3, 3, ramp_3x3, 3, 3,
                      (const float[]){3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7});

    /* Ceil mode adds a last window hanging over the edge. */
    cc_pool2d_params ceil2 = {CC_POOL_MAX, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0};
    check_pool_pinned("max 2x2 s2 ceil on 3x3", &ceil2, 3, 3, ramp_3x3, 2, 2,
                      (const float[]){5, 6, 8, 9});
    ceil2.ceil_mode = 0;
    check_pool_pinned("max 2x2 s2 floor on 3x3", &ceil2, 3, 3, ramp_3x3, 1, 1,
                      (const float[]){5});
    /* Without padding, the divisor of a hanging window is clipped to the input. */
    const cc_pool2d_params avg_ceil = {CC_POOL_AVG, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1};
    check_pool_pinned("avg 2x2 s2 ceil include-pad on 3x3", &avg_ceil, 3, 3, ramp_3x3, 2, 2,
                      (const float[]){3, 4.5f, 7.5f, 9});

    /* 3x3 s2 p1 ceil on 4x4 ones: per axis the windows hold 2, 3, 1 input
     * cells of 3, 3, 2 cells of the padded input (the last one is clipped
     * at the padded edge), so include-pad gives the products of 2/3, 1, 1/2. */
    static const float ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    cc_pool2d_params hang = {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1};
    check_pool_pinned("avg 3x3 s2 p1 ceil include-pad on 4x4 ones", &hang, 4, 4, ones, 3, 3,
                      (const float[]){4.f / 9, 6.f / 9, 2.f / 6, 6.f / 9, 1, 3.f / 6, 2.f / 6,
                                      3.f / 6, 1.f / 4});
    hang.count_include_pad = 0;
    check_pool_pinned("avg 3x3 s2 p1 ceil exclude-pad on 4x4 ones", &hang, 4, 4, ones, 3, 3,
                      (const float[]){1, 1, 1, 1, 1, 1, 1, 1, 1});

    /* PyTorch drops a last window that would start in the trailing padding:
     * 3x3, 2x2 s2 p1 ceil gives 2, not 3 (and 5x5 without padding gives 3). */
    const cc_pool2d_params drop = {CC_POOL_MAX, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0};
    check_pool_pinned("max 2x2 s2 p1 ceil on 3x3", &drop, 3, 3, ramp_3x3, 2, 2,
                      (const float[]){1, 3, 7, 9});
    const cc__dims five = {1, 1, 5, 5};
    cc__dims out;
    assert_int_equal(cc__pool_output(&five, &ceil2, &out), CC_OK);
    assert_int_equal(out.h, 2);
    ceil2.ceil_mode = 1;
    assert_int_equal(cc__pool_output(&five, &ceil2, &out), CC_OK);
    assert_int_equal(out.h, 3);

    /* NaN wins a max window and spoils an average. */
    const float with_nan[4] = {1, NAN, 2, 3};
    const cc_pool2d_params max_all = {CC_POOL_MAX, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    check_pool_pinned("max with NaN", &max_all, 2, 2, with_nan, 1, 1, (const float[]){NAN});
    const cc_pool2d_params avg_all = {CC_POOL_AVG, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    check_pool_pinned("avg with NaN", &avg_all, 2, 2, with_nan, 1, 1, (const float[]){NAN});

    /* Global pooling of a 2x2 ramp per channel, two channels. */
    const float planes[8] = {0, 1, 2, 3, -4, -5, -6, -7};
    const cc__dims in = {1, 2, 2, 2};
    const pool_ctx gmax = {&in, CC_NCHW, NULL, CC_POOL_MAX, planes};
    check_pinned("global max", run_global_pool, &gmax, (const float[]){3, -4}, 2);
    const pool_ctx gavg = {&in, CC_NCHW, NULL, CC_POOL_AVG, planes};
    check_pinned("global avg", run_global_pool, &gavg, (const float[]){1.5f, -5.5f}, 2);
    const pool_ctx gavg_nhwc = {&in, CC_NHWC, NULL, CC_POOL_AVG, planes};
    check_pinned("global avg NHWC", run_global_pool, &gavg_nhwc, (const float[]){-2, -2}, 2);
}

static void test_pool_errors(void **state)
{
    (void)state;
    const cc_pool2d_params good = {CC_POOL_AVG, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0};
    const cc__dims in = {2, 3, 5, 5};
    cc__dims out;
    assert_int_equal(cc__pool_output(&in, &good, &out), CC_OK);

    typedef struct {
        const char *field;
        cc__dims in;
        cc_pool2d_params p;
    } bad_case;
    const bad_case cases[] = {
        {"kernel_h", in, {CC_POOL_MAX, 0, 3, 1, 1, 0, 0, 0, 0, 0, 0}},
        {"kernel_w", in, {CC_POOL_MAX, 3, -1, 1, 1, 0, 0, 0, 0, 0, 0}},
        {"stride_h", in, {CC_POOL_MAX, 3, 3, -1, 1, 0, 0, 0, 0, 0, 0}},
        {"stride_w", in, {CC_POOL_MAX, 3, 3, 1, -2, 0, 0, 0, 0, 0, 0}},
        {"pad_top", in, {CC_POOL_MAX, 3, 3, 1, 1, -1, 0, 0, 0, 0, 0}},
        {"pad_bottom", in, {CC_POOL_MAX, 3, 3, 1, 1, 0, 2, 0, 0, 0, 0}},
        {"pad_left", in, {CC_POOL_MAX, 3, 3, 1, 1, 0, 0, 2, 0, 0, 0}},
        {"pad_right", in, {CC_POOL_MAX, 3, 3, 1, 1, 0, 0, 0, -1, 0, 0}},
        {"pad_top", in, {CC_POOL_AVG, 2, 2, 1, 1, 2, 0, 0, 0, 1, 1}},
        {"pad_right", in, {CC_POOL_AVG, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0}},
        {"kind", in, {(cc_pool_kind)7, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0}},
        {"kernel_h", in, {CC_POOL_MAX, 8, 3, 1, 1, 1, 1, 0, 0, 0, 0}},
        {"kernel_w", {1, 1, 5, 4}, {CC_POOL_MAX, 3, 6, 1, 1, 0, 0, 1, 0, 1, 0}},
        {"height", {1, 1, 0, 5}, good},
        {"width", {1, 1, 5, -3}, good},
        {"batch", {0, 1, 5, 5}, good},
        {"channels", {1, -1, 5, 5}, good},
        {"INT_MAX", {1, 1, INT_MAX, 5}, {CC_POOL_MAX, 4, 1, 1, 1, 2, 2, 0, 0, 0, 0}},
        {"overflow", {INT_MAX, INT_MAX, INT_MAX, INT_MAX}, {CC_POOL_MAX, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        clear_error();
        expect_invalid(cc__pool_output(&cases[i].in, &cases[i].p, &out), cases[i].field);
    }
    clear_error();
    expect_invalid(cc__pool_output(NULL, &good, &out), "in");
    clear_error();
    expect_invalid(cc__pool_output(&in, NULL, &out), "params");
    clear_error();
    expect_invalid(cc__pool_output(&in, &good, NULL), "out");

    /* Edges that are valid: pad exactly kernel / 2, kernel equal to the
     * padded input, a ceil-mode window that only just starts inside. */
    const cc_pool2d_params half = {CC_POOL_MAX, 5, 5, 3, 3, 2, 2, 2, 2, 1, 0};
    assert_int_equal(cc__pool_output(&(cc__dims){1, 1, 1, 1}, &half, &out), CC_OK);
    assert_int_equal(out.h, 1);
    const cc_pool2d_params whole = {CC_POOL_AVG, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(cc__pool_output(&in, &whole, &out), CC_OK);
    assert_int_equal(out.h, 1);
}

/* ---- Activation and add ------------------------------------------------- */

/* t clamped to [0, 1]; NaN passes through. */
static double ref_unit_clamp(double t)
{
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static double ref_activate(const cc_activation *act, double x)
{
    switch (act->kind) {
    case CC_ACTIVATION_RELU:
        return x < 0 ? 0 : x;
    case CC_ACTIVATION_LEAKY_RELU:
        return x < 0 ? act->alpha * x : x;
    case CC_ACTIVATION_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case CC_ACTIVATION_TANH:
        return tanh(x);
    case CC_ACTIVATION_ELU:
        return x < 0 ? act->alpha * expm1(x) : x;
    case CC_ACTIVATION_RELU_CAP:
        return x < 0 ? 0 : x > act->alpha ? act->alpha : x;
    case CC_ACTIVATION_HARD_SIGMOID:
        return ref_unit_clamp(act->alpha * x + 0.5);
    case CC_ACTIVATION_HARD_SWISH:
        return x * ref_unit_clamp(x / 6 + 0.5);
    }
    return NAN;
}

static const cc_activation activations[] = {
    {CC_ACTIVATION_RELU, 0.0f},        {CC_ACTIVATION_LEAKY_RELU, 0.1f},
    {CC_ACTIVATION_LEAKY_RELU, -0.5f}, {CC_ACTIVATION_SIGMOID, 0.0f},
    {CC_ACTIVATION_TANH, 0.0f},        {CC_ACTIVATION_ELU, 1.0f},
    {CC_ACTIVATION_ELU, 0.3f},
};

static const char *activation_name(const cc_activation *act)
{
    static const char *const names[] = {"relu", "leaky relu", "sigmoid", "tanh", "elu"};
    return act == NULL ? "none" : names[act->kind];
}

typedef struct {
    const cc_activation *act;
    const float *x;
    size_t count;
    bool in_place;
} activation_ctx;

static void run_activation(const void *ctx, float *output, int threads)
{
    const activation_ctx *c = ctx;
    if (c->in_place) {
        memcpy(output, c->x, c->count * sizeof(float));
        cc__activation_run(c->act, output, output, c->count, threads);
    } else {
        cc__activation_run(c->act, c->x, output, c->count, threads);
    }
}

/* Random values in [-12, 12] with special values sprinkled in. */
static float *activation_input(tst_rng *rng, size_t count)
{
    static const float specials[] = {0.0f, -0.0f, 1000.0f, -1000.0f, INFINITY, -INFINITY,
                                     NAN, -90.0f, 90.0f, 1e-30f, -1e-30f};
    float *x = tst_random_floats(rng, count, -12.0f, 12.0f);
    for (size_t i = 0; i < count; i += 7)
        x[i] = specials[(i / 7) % ARRAY_LEN(specials)];
    return x;
}

static void test_activation_random(void **state)
{
    (void)state;
    const size_t counts[] = {1, 7, 4097, 70001};
    int cases = 0;
    for (size_t a = 0; a < ARRAY_LEN(activations); a++)
        for (size_t i = 0; i < ARRAY_LEN(counts); i++)
            for (int in_place = 0; in_place < 2; in_place++) {
                const uint64_t seed = base_seed + a * 100 + i;
                tst_rng rng = {seed};
                float *x = activation_input(&rng, counts[i]);
                double *want = tst_new_doubles(counts[i]);
                for (size_t j = 0; j < counts[i]; j++)
                    want[j] = (float)ref_activate(&activations[a], x[j]);
                char name[96];
                snprintf(name, sizeof name, "%s alpha %g, %zu values%s",
                         activation_name(&activations[a]), (double)activations[a].alpha,
                         counts[i], in_place ? ", in place" : "");
                const activation_ctx ctx = {&activations[a], x, counts[i], in_place != 0};
                check_kernel(name, seed, run_activation, &ctx, want, counts[i],
                             (tolerance){8 * EPS, 1e-37, NULL});
                free(x);
                free(want);
                cases++;
            }
    print_message("activation: %d random cases\n", cases);
}

static void test_activation_pinned(void **state)
{
    (void)state;
    const float x[] = {-2.0f, 0.0f, 3.0f, NAN, -INFINITY, -1000.0f, 1000.0f};
    const struct {
        cc_activation act;
        float expected[ARRAY_LEN(x)];
    } cases[] = {
        {{CC_ACTIVATION_RELU, 0}, {0, 0, 3, NAN, 0, 0, 1000}},
        {{CC_ACTIVATION_LEAKY_RELU, 0.1f}, {-0.2f, 0, 3, NAN, -INFINITY, -100, 1000}},
        {{CC_ACTIVATION_SIGMOID, 0}, {0.11920292f, 0.5f, 0.95257413f, NAN, 0, 0, 1}},
        {{CC_ACTIVATION_TANH, 0}, {-0.96402758f, 0, 0.99505475f, NAN, -1, -1, 1}},
        {{CC_ACTIVATION_ELU, 2.0f}, {-1.72932943f, 0, 3, NAN, -2, -2, 1000}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const activation_ctx ctx = {&cases[i].act, x, ARRAY_LEN(x), false};
        check_pinned(activation_name(&cases[i].act), run_activation, &ctx, cases[i].expected,
                     ARRAY_LEN(x));
    }
}

static void test_activation_errors(void **state)
{
    (void)state;
    const cc_activation bad[] = {
        {(cc_activation_kind)99, 0.0f},
        {(cc_activation_kind)-1, 0.0f},
        {CC_ACTIVATION_LEAKY_RELU, NAN},
        {CC_ACTIVATION_LEAKY_RELU, INFINITY},
        {CC_ACTIVATION_ELU, -INFINITY},
    };
    const char *fields[] = {"kind", "kind", "alpha", "alpha", "alpha"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        clear_error();
        expect_invalid(cc__activation_check(&bad[i]), fields[i]);
    }
    clear_error();
    expect_invalid(cc__activation_check(NULL), "act");
    for (size_t i = 0; i < ARRAY_LEN(activations); i++)
        assert_int_equal(cc__activation_check(&activations[i]), CC_OK);
    /* alpha is ignored, so not checked, where the function does not use it. */
    assert_int_equal(cc__activation_check(&(cc_activation){CC_ACTIVATION_RELU, NAN}), CC_OK);
}

typedef enum { ALIAS_NONE, ALIAS_A, ALIAS_B, ALIAS_ALL } alias_mode;

typedef struct {
    const float *a, *b;
    size_t count;
    const cc_activation *act;
    alias_mode alias;
} add_ctx;

static void run_add(const void *ctx, float *output, int threads)
{
    const add_ctx *c = ctx;
    const size_t bytes = c->count * sizeof(float);
    switch (c->alias) {
    case ALIAS_NONE:
        cc__add_run(c->a, c->b, output, c->count, c->act, threads);
        break;
    case ALIAS_A:
        memcpy(output, c->a, bytes);
        cc__add_run(output, c->b, output, c->count, c->act, threads);
        break;
    case ALIAS_B:
        memcpy(output, c->b, bytes);
        cc__add_run(c->a, output, output, c->count, c->act, threads);
        break;
    case ALIAS_ALL:
        memcpy(output, c->a, bytes);
        cc__add_run(output, output, output, c->count, c->act, threads);
        break;
    }
}

static void test_add_random(void **state)
{
    (void)state;
    const size_t counts[] = {1, 2049, 70001};
    const cc_activation *acts[] = {NULL, &activations[0], &activations[3], &activations[5]};
    static const char *const alias_names[] = {"separate", "out = a", "out = b", "a = b = out"};
    int cases = 0;
    for (size_t i = 0; i < ARRAY_LEN(counts); i++)
        for (size_t a = 0; a < ARRAY_LEN(acts); a++)
            for (int alias = ALIAS_NONE; alias <= ALIAS_ALL; alias++) {
                const uint64_t seed = base_seed + i * 10 + a;
                tst_rng rng = {seed};
                float *x = tst_random_floats(&rng, counts[i], -4.0f, 4.0f);
                float *y = tst_random_floats(&rng, counts[i], -4.0f, 4.0f);
                double *want = tst_new_doubles(counts[i]);
                for (size_t j = 0; j < counts[i]; j++) {
                    const float sum = x[j] + (alias == ALIAS_ALL ? x[j] : y[j]);
                    want[j] = acts[a] != NULL ? ref_activate(acts[a], sum) : sum;
                }
                char name[96];
                snprintf(name, sizeof name, "add %zu values, act %s, %s", counts[i],
                         activation_name(acts[a]), alias_names[alias]);
                const add_ctx ctx = {x, y, counts[i], acts[a], (alias_mode)alias};
                check_kernel(name, seed, run_add, &ctx, want, counts[i],
                             (tolerance){8 * EPS, 1e-37, NULL});
                free(x);
                free(y);
                free(want);
                cases++;
            }
    print_message("add: %d random cases\n", cases);
}

/* ---- Softmax ------------------------------------------------------------ */

typedef struct {
    const cc__dims *in;
    cc_layout layout;
    const float *x;
} tensor_ctx;

static void run_softmax(const void *ctx, float *output, int threads)
{
    const tensor_ctx *c = ctx;
    cc__softmax_run(c->in, c->layout, c->x, output, threads);
}

static void ref_softmax(const cc__dims *in, cc_layout layout, const float *x, double *want)
{
    for (int n = 0; n < in->n; n++)
        for (int y = 0; y < in->h; y++)
            for (int xx = 0; xx < in->w; xx++) {
                double max = -INFINITY, sum = 0.0;
                for (int c = 0; c < in->c; c++)
                    max = fmax(max, x[offset_of(layout, in, n, c, y, xx)]);
                for (int c = 0; c < in->c; c++)
                    sum += exp(x[offset_of(layout, in, n, c, y, xx)] - max);
                for (int c = 0; c < in->c; c++) {
                    const size_t o = offset_of(layout, in, n, c, y, xx);
                    want[o] = exp(x[o] - max) / sum;
                }
            }
}

static int softmax_cases_run;

static void visit_softmax(const cc__dims *in, cc_layout layout, uint64_t seed, void *unused)
{
    (void)unused;
    /* Offsets around 0, around +1000, around -1000, and +-1000 mixed. */
    const float centres[] = {0.0f, 1000.0f, -1000.0f, NAN, INFINITY};
    static const char *const names[] = {"softmax near 0", "softmax near +1000",
                                        "softmax near -1000", "softmax +-1000 mixed",
                                        "softmax with NaN and infinities"};
    const size_t count = cc__dims_count(in);
    for (size_t m = 0; m < ARRAY_LEN(centres); m++) {
        tst_rng rng = {seed * 8 + m};
        float *x = tst_random_floats(&rng, count, -6.0f, 6.0f);
        if (isinf(centres[m]))
            sprinkle_specials(&rng, x, count);
        else
            for (size_t i = 0; i < count; i++)
                x[i] += isnan(centres[m]) ? (tst_rng_next(&rng) & 1 ? 1000.0f : -1000.0f)
                                          : centres[m];
        double *want = tst_new_doubles(count);
        ref_softmax(in, layout, x, want);
        char name[160];
        shape_name(name, sizeof name, names[m], in, layout);
        const tensor_ctx ctx = {in, layout, x};
        check_kernel(name, seed * 8 + m, run_softmax, &ctx, want, count,
                     (tolerance){(in->c + 8) * EPS, 1e-37, NULL});
        free(x);
        free(want);
        softmax_cases_run++;
    }
}

static void test_softmax_random(void **state)
{
    (void)state;
    softmax_cases_run = 0;
    for_each_shape(visit_softmax, NULL);
    /* A classifier's output: 1000 classes at 1x1; channel counts around
     * the vector widths; NCHW pixel counts around the 64-pixel blocks. */
    const cc__dims shapes[] = {{3, 1000, 1, 1}, {2, 16, 1, 1}, {1, 33, 2, 3}, {1, 4, 5, 13},
                               {2, 3, 1, 64},   {1, 2, 1, 65}};
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            visit_softmax(&shapes[i], layouts[l], base_seed + 77 + i * 2 + l, NULL);
    print_message("softmax: %d random cases\n", softmax_cases_run);
}

static void test_softmax_pinned(void **state)
{
    (void)state;
    const float expected[3] = {0.0900306f, 0.2447285f, 0.6652409f};
    const float vectors[][3] = {{1, 2, 3}, {1001, 1002, 1003}, {-999, -998, -997}};
    const cc__dims one = {1, 3, 1, 1};
    for (size_t v = 0; v < ARRAY_LEN(vectors); v++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
            const tensor_ctx ctx = {&one, layouts[l], vectors[v]};
            check_pinned("softmax of [1, 2, 3] + offset", run_softmax, &ctx, expected, 3);
        }
    /* Two pixels in NCHW: channel c of pixel p at c * 2 + p. */
    const cc__dims two = {1, 3, 1, 2};
    const tensor_ctx nchw = {&two, CC_NCHW, (const float[]){1, 3, 2, 2, 3, 1}};
    check_pinned("softmax NCHW two pixels", run_softmax, &nchw,
                 (const float[]){0.0900306f, 0.6652409f, 0.2447285f, 0.2447285f, 0.6652409f,
                                 0.0900306f},
                 6);
    const tensor_ctx big = {&(cc__dims){1, 2, 1, 1}, CC_NHWC, (const float[]){1000, 1000}};
    check_pinned("softmax of [1000, 1000]", run_softmax, &big, (const float[]){0.5f, 0.5f}, 2);
    const tensor_ctx far = {&(cc__dims){1, 2, 1, 1}, CC_NHWC, (const float[]){-1000, 1000}};
    check_pinned("softmax of [-1000, 1000]", run_softmax, &far, (const float[]){0, 1}, 2);
    const tensor_ctx nan = {&(cc__dims){1, 3, 1, 1}, CC_NHWC, (const float[]){1, NAN, 2}};
    check_pinned("softmax with NaN", run_softmax, &nan, (const float[]){NAN, NAN, NAN}, 3);
}

/* ---- LRN ---------------------------------------------------------------- */

typedef struct {
    const cc__dims *in;
    cc_layout layout;
    const cc_lrn_params *p;
    const float *x;
} lrn_ctx;

static void run_lrn(const void *ctx, float *output, int threads)
{
    const lrn_ctx *c = ctx;
    cc__lrn_run(c->in, c->layout, c->p, c->x, output, threads);
}

static void ref_lrn(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                    const float *x, double *want)
{
    for (int n = 0; n < in->n; n++)
        for (int c = 0; c < in->c; c++)
            for (int y = 0; y < in->h; y++)
                for (int xx = 0; xx < in->w; xx++) {
                    double sum = 0.0;
                    for (int j = c - p->size / 2; j <= c + (p->size - 1) / 2; j++)
                        if (j >= 0 && j < in->c) {
                            const double v = x[offset_of(layout, in, n, j, y, xx)];
                            sum += v * v;
                        }
                    const size_t o = offset_of(layout, in, n, c, y, xx);
                    want[o] = x[o] / pow(p->k + p->alpha / p->size * sum, p->beta);
                }
}

static int lrn_cases_run;

static void visit_lrn(const cc__dims *in, cc_layout layout, uint64_t seed, void *unused)
{
    (void)unused;
    const cc_lrn_params params[] = {
        {5, 1e-4f, 0.75f, 2.0f}, /* AlexNet */
        {3, 1.0f, 0.75f, 1.0f},  {4, 2.0f, 0.75f, 1.0f},  {1, 0.5f, 1.5f, 0.5f},
        {2, 1.0f, 0.5f, 1.0f},   {40, 0.3f, 1.0f, 1.0f}, /* wider than the channels */
    };
    const size_t count = cc__dims_count(in);
    for (size_t i = 0; i < ARRAY_LEN(params); i++) {
        tst_rng rng = {seed * 8 + i};
        float *x = tst_random_floats(&rng, count, -3.0f, 3.0f);
        double *want = tst_new_doubles(count);
        ref_lrn(in, layout, &params[i], x, want);
        char what[64], name[160];
        snprintf(what, sizeof what, "lrn size %d alpha %g beta %g k %g", params[i].size,
                 (double)params[i].alpha, (double)params[i].beta, (double)params[i].k);
        shape_name(name, sizeof name, what, in, layout);
        const lrn_ctx ctx = {in, layout, &params[i], x};
        check_kernel(name, seed * 8 + i, run_lrn, &ctx, want, count,
                     (tolerance){64 * EPS, 1e-37, NULL});
        free(x);
        free(want);
        lrn_cases_run++;
    }
}

static void test_lrn_random(void **state)
{
    (void)state;
    lrn_cases_run = 0;
    for_each_shape(visit_lrn, NULL);
    /* NCHW pixel blocks and their tails; NHWC pixels in groups of several,
     * of two (1500 channels) and of one, and a pixel too wide for the
     * squares buffer with a window wider than the ring of NCHW rows (the
     * per-pixel and plain paths). */
    const cc__dims shapes[] = {{1, 6, 25, 24}, {2, 1500, 1, 3}, {1, 7, 3, 37}};
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        for (size_t l = 0; l < ARRAY_LEN(layouts); l++)
            visit_lrn(&shapes[i], layouts[l], base_seed + 300 + i * 2 + l, NULL);
    const cc_lrn_params wide = {2001, 0.5f, 0.75f, 1.0f};
    const cc__dims many = {2, 2100, 1, 2};
    for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
        tst_rng rng = {base_seed + 400 + l};
        const size_t count = cc__dims_count(&many);
        float *x = tst_random_floats(&rng, count, -3.0f, 3.0f);
        double *want = tst_new_doubles(count);
        ref_lrn(&many, layouts[l], &wide, x, want);
        char name[160];
        shape_name(name, sizeof name, "lrn size 2001", &many, layouts[l]);
        const lrn_ctx ctx = {&many, layouts[l], &wide, x};
        check_kernel(name, base_seed + 400 + l, run_lrn, &ctx, want, count,
                     (tolerance){64 * EPS, 1e-37, NULL});
        free(x);
        free(want);
        lrn_cases_run++;
    }
    print_message("lrn: %d random cases\n", lrn_cases_run);
}

static void test_lrn_pinned(void **state)
{
    (void)state;
    /* alpha / size = 1, beta = 1, k = 1: out = x / (1 + window sum of x^2).
     * [1, 2, 3], size 3: windows {0,1}, {0,1,2}, {1,2}: sums 5, 14, 13.
     * size 4 (window c-2 .. c+1): {0,1}, {0,1,2}, {0,1,2}: sums 5, 14, 14. */
    const cc__dims one = {1, 3, 1, 1};
    const float x[3] = {1, 2, 3};
    const cc_lrn_params size3 = {3, 3.0f, 1.0f, 1.0f}, size4 = {4, 4.0f, 1.0f, 1.0f};
    const cc_lrn_params size1 = {1, 1.0f, 0.5f, 1.0f}, alexnet = {5, 5e-4f, 0.75f, 2.0f};
    for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
        const lrn_ctx c3 = {&one, layouts[l], &size3, x};
        check_pinned("lrn size 3", run_lrn, &c3, (const float[]){1.f / 6, 2.f / 15, 3.f / 14}, 3);
        const lrn_ctx c4 = {&one, layouts[l], &size4, x};
        check_pinned("lrn size 4", run_lrn, &c4, (const float[]){1.f / 6, 2.f / 15, 3.f / 15}, 3);
        const lrn_ctx c1 = {&one, layouts[l], &size1, x};
        check_pinned("lrn size 1", run_lrn, &c1,
                     (const float[]){0.70710678f, 0.89442719f, 0.94868330f}, 3);
        /* AlexNet's k = 2, alpha / size = 1e-4: every size-5 window holds all
         * three channels, sum 14, so out = x * (2 + 0.0014)^-0.75. */
        const lrn_ctx ca = {&one, layouts[l], &alexnet, x};
        check_pinned("lrn AlexNet", run_lrn, &ca,
                     (const float[]){0.594291582f, 1.18858316f, 1.78287475f}, 3);
    }
    /* Two pixels, [1, 2, 3] and [3, 2, 1], in each layout's order. */
    const cc__dims two = {1, 3, 1, 2};
    const lrn_ctx nchw = {&two, CC_NCHW, &size3, (const float[]){1, 3, 2, 2, 3, 1}};
    check_pinned("lrn size 3 NCHW two pixels", run_lrn, &nchw,
                 (const float[]){1.f / 6, 3.f / 14, 2.f / 15, 2.f / 15, 3.f / 14, 1.f / 6}, 6);
    const lrn_ctx nhwc = {&two, CC_NHWC, &size3, (const float[]){1, 2, 3, 3, 2, 1}};
    check_pinned("lrn size 3 NHWC two pixels", run_lrn, &nhwc,
                 (const float[]){1.f / 6, 2.f / 15, 3.f / 14, 3.f / 14, 2.f / 15, 1.f / 6}, 6);
}

static void test_lrn_errors(void **state)
{
    (void)state;
    const struct {
        const char *field;
        cc_lrn_params p;
    } cases[] = {
        {"size", {0, 1e-4f, 0.75f, 1.0f}},       {"size", {-3, 1e-4f, 0.75f, 1.0f}},
        {"alpha", {5, NAN, 0.75f, 1.0f}},        {"alpha", {5, INFINITY, 0.75f, 1.0f}},
        {"alpha", {5, -1e-4f, 0.75f, 1.0f}},     {"beta", {5, 1e-4f, INFINITY, 1.0f}},
        {"beta", {5, 1e-4f, NAN, 1.0f}},         {"k", {5, 1e-4f, 0.75f, NAN}},
        {"k", {5, 1e-4f, 0.75f, 0.0f}},          {"k", {5, 1e-4f, 0.75f, -1.0f}},
        {"k", {5, 1e-4f, 0.75f, INFINITY}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        clear_error();
        expect_invalid(cc__lrn_check(&cases[i].p), cases[i].field);
    }
    clear_error();
    expect_invalid(cc__lrn_check(NULL), "params");
    assert_int_equal(cc__lrn_check(&(cc_lrn_params){5, 1e-4f, 0.75f, 2.0f}), CC_OK);
    assert_int_equal(cc__lrn_check(&(cc_lrn_params){4, 0.0f, -0.5f, 1.0f}), CC_OK);
}

/* ---- Concat ------------------------------------------------------------- */

typedef struct {
    const cc__dims *out;
    cc_layout layout;
    int count;
    const float *const *inputs;
    const int *channels;
} concat_ctx;

static void run_concat(const void *ctx, float *output, int threads)
{
    const concat_ctx *c = ctx;
    cc__concat_run(c->out, c->layout, c->count, c->inputs, c->channels, output, threads);
}

static void test_concat_random(void **state)
{
    (void)state;
    const struct {
        int count;
        int channels[3];
    } lists[] = {{1, {17}}, {2, {1, 3}}, {3, {3, 5, 17}}, {3, {5, 1, 1}}, {2, {17, 17}}};
    int cases = 0;
    for (size_t li = 0; li < ARRAY_LEN(lists); li++)
        for (size_t b = 0; b < ARRAY_LEN(batches); b++)
            for (size_t s = 0; s < ARRAY_LEN(spatial); s++)
                for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
                    const uint64_t seed = base_seed + (uint64_t)cases;
                    tst_rng rng = {seed};
                    cc__dims out = {batches[b], 0, spatial[s][0], spatial[s][1]};
                    float *inputs[3];
                    cc__dims dims[3];
                    for (int i = 0; i < lists[li].count; i++) {
                        dims[i] = (cc__dims){out.n, lists[li].channels[i], out.h, out.w};
                        inputs[i] = tst_random_floats(&rng, cc__dims_count(&dims[i]), -1.0f, 1.0f);
                        out.c += lists[li].channels[i];
                    }
                    double *want = tst_new_doubles(cc__dims_count(&out));
                    for (int n = 0; n < out.n; n++)
                        for (int y = 0; y < out.h; y++)
                            for (int x = 0; x < out.w; x++)
                                for (int i = 0, offset = 0; i < lists[li].count;
                                     offset += dims[i].c, i++)
                                    for (int c = 0; c < dims[i].c; c++)
                                        want[offset_of(layouts[l], &out, n, offset + c, y, x)] =
                                            inputs[i][offset_of(layouts[l], &dims[i], n, c, y, x)];
                    char name[160];
                    shape_name(name, sizeof name, "concat", &out, layouts[l]);
                    const concat_ctx ctx = {&out, layouts[l], lists[li].count,
                                            (const float *const *)inputs, lists[li].channels};
                    check_kernel(name, seed, run_concat, &ctx, want, cc__dims_count(&out),
                                 (tolerance){0.0, 0.0, NULL});
                    for (int i = 0; i < lists[li].count; i++)
                        free(inputs[i]);
                    free(want);
                    cases++;
                }
    print_message("concat: %d random cases\n", cases);
}

static void test_concat_pinned(void **state)
{
    (void)state;
    const cc__dims out = {1, 3, 1, 2};
    const float a[2] = {1, 2}, b[4] = {3, 4, 5, 6};
    const float *const inputs[2] = {a, b};
    const int channels[2] = {1, 2};
    const concat_ctx nchw = {&out, CC_NCHW, 2, inputs, channels};
    check_pinned("concat NCHW", run_concat, &nchw, (const float[]){1, 2, 3, 4, 5, 6}, 6);
    const concat_ctx nhwc = {&out, CC_NHWC, 2, inputs, channels};
    check_pinned("concat NHWC", run_concat, &nhwc, (const float[]){1, 3, 4, 2, 5, 6}, 6);
}

/* ---- Batch normalisation ------------------------------------------------ */

typedef struct {
    const cc__dims *in;
    cc_layout layout;
    const float *mul, *add, *x;
    bool in_place;
} batchnorm_ctx;

static void run_batchnorm(const void *ctx, float *output, int threads)
{
    const batchnorm_ctx *c = ctx;
    if (c->in_place) {
        memcpy(output, c->x, cc__dims_count(c->in) * sizeof(float));
        cc__batchnorm_run(c->in, c->layout, c->mul, c->add, output, output, threads);
    } else {
        cc__batchnorm_run(c->in, c->layout, c->mul, c->add, c->x, output, threads);
    }
}

static int batchnorm_cases_run;

static void visit_batchnorm(const cc__dims *in, cc_layout layout, uint64_t seed, void *unused)
{
    (void)unused;
    tst_rng rng = {seed};
    const size_t count = cc__dims_count(in), channels = (size_t)in->c;
    float *scale = tst_random_floats(&rng, channels, -2.0f, 2.0f);
    float *shift = tst_random_floats(&rng, channels, -1.0f, 1.0f);
    float *mean = tst_random_floats(&rng, channels, -1.0f, 1.0f);
    float *variance = tst_random_floats(&rng, channels, 0.0f, 2.0f);
    variance[0] = 0.0f;
    const cc_batchnorm_params p = {scale, shift, mean, variance, 1e-5f};
    assert_int_equal(cc__batchnorm_check(&p, in->c), CC_OK);
    float *mul = malloc(channels * sizeof(float)), *add = malloc(channels * sizeof(float));
    assert_true(mul != NULL && add != NULL);
    cc__batchnorm_coefficients(&p, in->c, mul, add);
    float *x = tst_random_floats(&rng, count, -3.0f, 3.0f);
    double *want = tst_new_doubles(count), *err = tst_new_doubles(count);
    for (int n = 0; n < in->n; n++)
        for (int c = 0; c < in->c; c++)
            for (int y = 0; y < in->h; y++)
                for (int xx = 0; xx < in->w; xx++) {
                    const size_t o = offset_of(layout, in, n, c, y, xx);
                    const double inv = 1.0 / sqrt((double)variance[c] + 1e-5f);
                    want[o] = (x[o] - (double)mean[c]) * inv * scale[c] + shift[c];
                    /* The folded form rounds x * mul and the sum. */
                    err[o] = fabs(x[o] * (double)scale[c] * inv) +
                             fabs(shift[c] - mean[c] * (double)scale[c] * inv) + fabs(want[o]);
                }
    for (int in_place = 0; in_place < 2; in_place++) {
        char name[160];
        shape_name(name, sizeof name, in_place ? "batchnorm in place" : "batchnorm", in, layout);
        const batchnorm_ctx ctx = {in, layout, mul, add, x, in_place != 0};
        check_kernel(name, seed, run_batchnorm, &ctx, want, count, (tolerance){4 * EPS, 0.0, err});
        batchnorm_cases_run++;
    }
    free(scale);
    free(shift);
    free(mean);
    free(variance);
    free(mul);
    free(add);
    free(x);
    free(want);
    free(err);
}

static void test_batchnorm_random(void **state)
{
    (void)state;
    batchnorm_cases_run = 0;
    for_each_shape(visit_batchnorm, NULL);
    print_message("batchnorm: %d random cases\n", batchnorm_cases_run);
}

static void test_batchnorm_pinned(void **state)
{
    (void)state;
    /* Channel 0: (x - 3) / sqrt(3.99 + 0.01) * 2 + 1 = x - 2.
     * Channel 1: (x - 0) / sqrt(0 + 0.25) * -1 + 0.5 = 0.5 - 2x. */
    const float scale[2] = {2, -1}, shift[2] = {1, 0.5f}, mean[2] = {3, 0}, var[2] = {3.99f, 0};
    const cc_batchnorm_params p0 = {scale, shift, mean, var, 0.01f};
    assert_int_equal(cc__batchnorm_check(&p0, 2), CC_OK);
    const float var1[2] = {3.75f, 0};
    const cc_batchnorm_params p = {scale, shift, mean, var1, 0.25f};
    float mul[2], add[2];
    cc__batchnorm_coefficients(&p, 2, mul, add);
    assert_true(mul[0] == 1.0f && add[0] == -2.0f && mul[1] == -2.0f && add[1] == 0.5f);
    const cc__dims in = {1, 2, 1, 2};
    const float x[4] = {5, 7, 1, -1};
    const batchnorm_ctx nchw = {&in, CC_NCHW, mul, add, x, false};
    check_pinned("batchnorm NCHW", run_batchnorm, &nchw, (const float[]){3, 5, -1.5f, 2.5f}, 4);
    const batchnorm_ctx nhwc = {&in, CC_NHWC, mul, add, x, true};
    check_pinned("batchnorm NHWC in place", run_batchnorm, &nhwc,
                 (const float[]){3, -13.5f, -1, 2.5f}, 4);
}

static void test_batchnorm_errors(void **state)
{
    (void)state;
    float scale[3] = {1, 1, 1}, shift[3] = {0, 0, 0}, mean[3] = {0, 0, 0}, var[3] = {1, 1, 1};
    const cc_batchnorm_params good = {scale, shift, mean, var, 1e-5f};
    assert_int_equal(cc__batchnorm_check(&good, 3), CC_OK);

    typedef struct {
        const char *field;
        cc_batchnorm_params p;
        int channels;
    } bad_case;
    const bad_case cases[] = {
        {"channels", good, 0},
        {"channels", good, -1},
        {"scale", {NULL, shift, mean, var, 1e-5f}, 3},
        {"shift", {scale, NULL, mean, var, 1e-5f}, 3},
        {"mean", {scale, shift, NULL, var, 1e-5f}, 3},
        {"variance", {scale, shift, mean, NULL, 1e-5f}, 3},
        {"epsilon", {scale, shift, mean, var, NAN}, 3},
        {"epsilon", {scale, shift, mean, var, -1e-5f}, 3},
        {"epsilon", {scale, shift, mean, var, INFINITY}, 3},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        clear_error();
        expect_invalid(cc__batchnorm_check(&cases[i].p, cases[i].channels), cases[i].field);
    }
    clear_error();
    expect_invalid(cc__batchnorm_check(NULL, 3), "params");

    /* One bad value in one array, the others valid. */
    const struct {
        float *array;
        int index;
        float value;
        const char *field;
    } values[] = {
        {scale, 1, INFINITY, "scale[1]"}, {shift, 2, NAN, "shift[2]"},
        {mean, 0, -INFINITY, "mean[0]"},  {var, 2, NAN, "variance[2]"},
        {var, 1, -1.0f, "variance[1] + epsilon"},
    };
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        const float saved = values[i].array[values[i].index];
        values[i].array[values[i].index] = values[i].value;
        clear_error();
        expect_invalid(cc__batchnorm_check(&good, 3), values[i].field);
        values[i].array[values[i].index] = saved;
    }
    /* variance + epsilon must be positive: 0 + 0 is not, 0 + eps and
     * -eps/2 + eps are. */
    var[1] = 0.0f;
    clear_error();
    expect_invalid(cc__batchnorm_check(&(cc_batchnorm_params){scale, shift, mean, var, 0.0f}, 3),
                   "variance[1] + epsilon");
    assert_int_equal(cc__batchnorm_check(&good, 3), CC_OK);
    var[1] = -0.5e-5f;
    assert_int_equal(cc__batchnorm_check(&good, 3), CC_OK);
}

/* ---- Fully connected ---------------------------------------------------- */

typedef struct {
    int batch, inputs, outputs;
    const float *packed, *bias;
    const cc_activation *act;
    const float *x;
} fc_ctx;

static void run_fc(const void *ctx, float *output, int threads)
{
    const fc_ctx *c = ctx;
    cc__fc_run(c->batch, c->inputs, c->outputs, c->packed, c->bias, c->act, c->x, output,
               threads);
}

static void check_fc(int batch, int inputs, int outputs, bool with_bias,
                     const cc_activation *act, uint64_t seed)
{
    tst_rng rng = {seed};
    const size_t weight_count = (size_t)inputs * outputs, count = (size_t)batch * outputs;
    float *w = tst_random_floats(&rng, weight_count, -1.0f, 1.0f);
    float *bias = with_bias ? tst_random_floats(&rng, (size_t)outputs, -1.0f, 1.0f) : NULL;
    float *x = tst_random_floats(&rng, (size_t)batch * inputs, -1.0f, 1.0f);
    tst_buffer packed = tst_buffer_new(weight_count);
    cc__fc_pack(batch, inputs, outputs, w, packed.data, 2);
    char name[128];
    snprintf(name, sizeof name, "fc batch %d, %d -> %d, %s bias, act %s", batch, inputs,
             outputs, with_bias ? "with" : "no", activation_name(act));
    expect_guards(&packed, name, seed);
    double *want = tst_new_doubles(count), *scale = tst_new_doubles(count);
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < outputs; o++) {
            double sum = with_bias ? bias[o] : 0.0, abs_sum = with_bias ? fabs(bias[o]) : 0.0;
            for (int i = 0; i < inputs; i++) {
                const double product = (double)x[(size_t)n * inputs + i] * w[(size_t)o * inputs + i];
                sum += product;
                abs_sum += fabs(product);
            }
            const size_t k = (size_t)n * outputs + o;
            want[k] = act != NULL ? ref_activate(act, sum) : sum;
            scale[k] = abs_sum + fabs(want[k]);
        }
    const fc_ctx ctx = {batch, inputs, outputs, packed.data, bias, act, x};
    check_kernel(name, seed, run_fc, &ctx, want, count, (tolerance){(inputs + 8) * EPS, 1e-37, scale});
    free(w);
    free(bias);
    free(x);
    tst_buffer_free(&packed);
    free(want);
    free(scale);
}

static void test_fc_random(void **state)
{
    (void)state;
    const int batch_sizes[] = {1, 3, 4};
    const int input_counts[] = {1, 7, 33, 129};
    const int output_counts[] = {1, 5, 17, 63};
    const cc_activation *acts[] = {NULL, &activations[0], &activations[1], &activations[3]};
    int cases = 0;
    for (size_t b = 0; b < ARRAY_LEN(batch_sizes); b++)
        for (size_t i = 0; i < ARRAY_LEN(input_counts); i++)
            for (size_t o = 0; o < ARRAY_LEN(output_counts); o++)
                for (int bias = 0; bias < 2; bias++)
                    for (size_t a = 0; a < ARRAY_LEN(acts); a++) {
                        check_fc(batch_sizes[b], input_counts[i], output_counts[o], bias != 0,
                                 acts[a], base_seed + (uint64_t)cases);
                        cases++;
                    }
    /* Large enough for threaded BLAS and a threaded epilogue. */
    check_fc(1, 1000, 777, true, &activations[0], base_seed + 9001);
    check_fc(64, 129, 517, true, &activations[3], base_seed + 9002);
    print_message("fc: %d random cases\n", cases + 2);
}

static void test_fc_pinned(void **state)
{
    (void)state;
    /* W = [[1, 2, 3], [4, 5, 6]], bias [0.5, -20]:
     * [1, 1, 1] -> [6.5, -5], [1, 0, -1] -> [-1.5, -22]. */
    const float w[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0.5f, -20}, x[6] = {1, 1, 1, 1, 0, -1};
    float packed1[6], packed2[6];
    cc__fc_pack(1, 3, 2, w, packed1, 1);
    cc__fc_pack(2, 3, 2, w, packed2, 1);
    const float transposed[6] = {1, 4, 2, 5, 3, 6};
    assert_memory_equal(packed1, w, sizeof w);
    assert_memory_equal(packed2, transposed, sizeof transposed);
    const fc_ctx one = {1, 3, 2, packed1, bias, NULL, x};
    check_pinned("fc batch 1", run_fc, &one, (const float[]){6.5f, -5}, 2);
    const fc_ctx two = {2, 3, 2, packed2, bias, NULL, x};
    check_pinned("fc batch 2", run_fc, &two, (const float[]){6.5f, -5, -1.5f, -22}, 4);
    const fc_ctx relu = {2, 3, 2, packed2, bias, &activations[0], x};
    check_pinned("fc batch 2 relu", run_fc, &relu, (const float[]){6.5f, 0, 0, 0}, 4);
    const fc_ctx plain = {2, 3, 2, packed2, NULL, NULL, x};
    check_pinned("fc batch 2 no bias", run_fc, &plain, (const float[]){6, 15, -2, -2}, 4);
}

static int run_group(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_pinned),       cmocka_unit_test(test_pool_random),
        cmocka_unit_test(test_pool_edges),
        cmocka_unit_test(test_global_pool_random), cmocka_unit_test(test_pool_errors),
        cmocka_unit_test(test_activation_pinned), cmocka_unit_test(test_activation_random),
        cmocka_unit_test(test_activation_errors), cmocka_unit_test(test_add_random),
        cmocka_unit_test(test_softmax_pinned),    cmocka_unit_test(test_softmax_random),
        cmocka_unit_test(test_lrn_pinned),        cmocka_unit_test(test_lrn_random),
        cmocka_unit_test(test_lrn_errors),        cmocka_unit_test(test_concat_pinned),
        cmocka_unit_test(test_concat_random),     cmocka_unit_test(test_batchnorm_pinned),
        cmocka_unit_test(test_batchnorm_random),  cmocka_unit_test(test_batchnorm_errors),
        cmocka_unit_test(test_fc_pinned),         cmocka_unit_test(test_fc_random),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}

/* The whole suite once per kernel family the CPU has (kernels.h). */
int main(void)
{
    const char *seed = getenv("COLCONV_TEST_SEED");
    if (seed != NULL && seed[0] != '\0')
        base_seed = strtoull(seed, NULL, 0);
    return tst_run_per_isa("test_layers", run_group);
}
