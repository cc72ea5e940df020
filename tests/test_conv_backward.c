/* The training convolution (src/train/conv_backward.c): forward against a
 * float64 conv written here, and the input, weight and bias gradients
 * against central finite differences of that float64 conv, of the scalar
 * L = sum(dy * conv(x, w, b)) for a random dy. Odd shapes: sizes not
 * multiples of 8 or 16, asymmetric padding, stride larger than the kernel,
 * dilation, groups, depthwise, 1x1 with and without stride, batch 1 and 3;
 * both layouts; one and two threads (bit for bit equal to each other only
 * within a thread count: the weight gradient's sum order follows the
 * threads); the default col tile and one forced down to 64 pixels. The
 * float results must be within 1e-4 * max(1, max |expected|) of the float64
 * ones (the conv core's contract); the input gradient is also checked when
 * added onto existing values, through the col blocks the forward keeps
 * for the backward. Every output buffer is poisoned with NaN and guarded. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/conv_backward.h"

#define SEED 20261206u
#define FD_STEP 1e-2

typedef struct {
    const char *name;
    int n, c, h, w, oc, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups;
} shape;

static const shape shapes[] = {
    {"plain_3x3", 1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"batch3_asym_pad", 3, 2, 9, 7, 3, 3, 2, 1, 1, 1, 1, 2, 0, 1, 3, 1},
    {"stride_over_kernel", 3, 3, 11, 10, 4, 2, 2, 3, 3, 1, 1, 0, 1, 1, 0, 1},
    {"dilated", 1, 2, 11, 13, 3, 3, 3, 1, 2, 2, 3, 2, 1, 0, 3, 1},
    {"groups", 3, 6, 7, 6, 9, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 3},
    {"depthwise", 3, 5, 9, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},
    {"depthwise_multiplier", 1, 3, 8, 9, 6, 5, 3, 2, 1, 1, 1, 2, 2, 1, 1, 3},
    {"pointwise", 3, 7, 5, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_strided", 1, 5, 9, 7, 6, 1, 1, 2, 3, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_grouped", 3, 6, 5, 5, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},
    {"many_pixels", 3, 2, 13, 15, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 2, 1},
    {"lenet_conv2_small", 3, 5, 12, 12, 7, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    /* no padding, unit row stride: the whole-image runs */
    {"unpadded_one_channel", 3, 1, 11, 13, 4, 5, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"unpadded_strided_dilated", 1, 4, 12, 9, 6, 3, 2, 2, 1, 2, 1, 0, 0, 0, 0, 1},
    {"unpadded_groups_dilated", 3, 4, 9, 11, 6, 3, 2, 1, 1, 2, 3, 0, 0, 0, 0, 2},
};

static cc_conv2d_params params_of(const shape *s, cc_layout layout)
{
    cc_conv2d_params p = {s->n, s->c, s->h, s->w, s->oc, s->kh, s->kw, s->sh, s->sw,
                          s->pt, s->pb, s->pl, s->pr, s->dh, s->dw, s->groups, layout,
                          CC_ACT_NONE};
    return p;
}

/* Offset of logical element (n, c, y, x) of an [n][c][h][w] tensor. */
static size_t at(cc_layout layout, int c, int h, int w, int n, int ch, int y, int x)
{
    if (layout == CC_NCHW)
        return (((size_t)n * c + ch) * h + y) * w + x;
    return (((size_t)n * h + y) * w + x) * c + ch;
}

/* L = sum dy * (conv(x, w) + b), everything logical NCHW, in double. */
static double loss_d(const cc__conv_geom *g, const double *x, const double *w, const double *b,
                     const double *dy, double *out)
{
    double loss = 0.0;
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->oc; o++) {
            const int gr = o / g->ocg;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double sum = b[o];
                    for (int ci = 0; ci < g->cg; ci++)
                        for (int ky = 0; ky < g->kh; ky++)
                            for (int kx = 0; kx < g->kw; kx++) {
                                const int iy = oy * g->sh - g->pt + ky * g->dh;
                                const int ix = ox * g->sw - g->pl + kx * g->dw;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                sum += x[at(CC_NCHW, g->c, g->h, g->w, n, gr * g->cg + ci, iy,
                                            ix)] *
                                       w[(((size_t)o * g->cg + ci) * g->kh + ky) * g->kw + kx];
                            }
                    const size_t i = at(CC_NCHW, g->oc, g->oh, g->ow, n, o, oy, ox);
                    if (out != NULL)
                        out[i] = sum;
                    loss += dy[i] * sum;
                }
        }
    return loss;
}

/* Central differences of loss_d with respect to every element of v. */
static void finite_differences(const cc__conv_geom *g, double *x, double *w, double *b,
                               const double *dy, double *v, size_t count, double *grad)
{
    for (size_t i = 0; i < count; i++) {
        const double keep = v[i];
        v[i] = keep + FD_STEP;
        const double up = loss_d(g, x, w, b, dy, NULL);
        v[i] = keep - FD_STEP;
        const double down = loss_d(g, x, w, b, dy, NULL);
        v[i] = keep;
        grad[i] = (up - down) / (2.0 * FD_STEP);
    }
}

typedef struct {
    cc__conv_geom g;
    size_t in, wt, out;
    float *x, *w, *b, *dy, *dx_start; /* logical NCHW, float */
    double *want_out, *want_dx, *want_dw, *want_db;
} problem;

static double *to_double(const float *v, size_t count)
{
    double *d = malloc(count * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < count; i++)
        d[i] = v[i];
    return d;
}

static float *random_floats(tst_rng *rng, size_t count)
{
    float *v = malloc(count * sizeof *v);
    assert_non_null(v);
    tst_fill(rng, v, count, false);
    return v;
}

static void problem_make(const shape *s, tst_rng *rng, problem *pr)
{
    const cc_conv2d_params p = params_of(s, CC_NCHW);
    assert_int_equal(cc__conv_geom_init(&p, &pr->g), CC_OK);
    pr->in = cc__geom_input_floats(&pr->g);
    pr->wt = cc__geom_weight_floats(&pr->g);
    pr->out = cc__geom_output_floats(&pr->g);
    pr->x = random_floats(rng, pr->in);
    pr->w = random_floats(rng, pr->wt);
    pr->b = random_floats(rng, (size_t)s->oc);
    pr->dy = random_floats(rng, pr->out);
    pr->dx_start = random_floats(rng, pr->in);
    double *x = to_double(pr->x, pr->in), *w = to_double(pr->w, pr->wt);
    double *b = to_double(pr->b, (size_t)s->oc), *dy = to_double(pr->dy, pr->out);
    pr->want_out = malloc(pr->out * sizeof(double));
    pr->want_dx = malloc(pr->in * sizeof(double));
    pr->want_dw = malloc(pr->wt * sizeof(double));
    pr->want_db = malloc((size_t)s->oc * sizeof(double));
    assert_true(pr->want_out && pr->want_dx && pr->want_dw && pr->want_db);
    loss_d(&pr->g, x, w, b, dy, pr->want_out);
    finite_differences(&pr->g, x, w, b, dy, x, pr->in, pr->want_dx);
    finite_differences(&pr->g, x, w, b, dy, w, pr->wt, pr->want_dw);
    finite_differences(&pr->g, x, w, b, dy, b, (size_t)s->oc, pr->want_db);
    free(x);
    free(w);
    free(b);
    free(dy);
}

static void problem_free(problem *pr)
{
    free(pr->x);
    free(pr->w);
    free(pr->b);
    free(pr->dy);
    free(pr->dx_start);
    free(pr->want_out);
    free(pr->want_dx);
    free(pr->want_dw);
    free(pr->want_db);
}

/* A logical NCHW tensor [n][c][h][w] laid out in `layout`. */
static void relayout(cc_layout layout, int n, int c, int h, int w, const float *nchw, float *out)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    out[at(layout, c, h, w, i, ch, y, x)] = nchw[at(CC_NCHW, c, h, w, i, ch, y, x)];
}

/* got (in `layout`) against want (logical NCHW, minus `base` when given). */
static void expect_close(const char *what, const char *name, cc_layout layout, int n, int c, int h,
                         int w, const float *got, const double *want, const float *base)
{
    const size_t count = (size_t)n * c * h * w;
    float *logical = malloc(count * sizeof *logical);
    assert_non_null(logical);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const size_t j = at(CC_NCHW, c, h, w, i, ch, y, x);
                    const float v = got[at(layout, c, h, w, i, ch, y, x)];
                    logical[j] = base != NULL ? v - base[j] : v;
                }
    double peak = 1.0;
    for (size_t i = 0; i < count; i++)
        peak = fmax(peak, fabs(want[i]));
    const double tolerance = 1e-4 * peak;
    for (size_t i = 0; i < count; i++)
        if (!(fabs(logical[i] - want[i]) <= tolerance))
            fail_msg("%s %s (%s): element %zu is %.7g, want %.7g (tolerance %.3g, seed %u)", name,
                     what, layout == CC_NCHW ? "nchw" : "nhwc", i, (double)logical[i], want[i],
                     tolerance, SEED);
    free(logical);
}

typedef struct {
    tst_buffer out, dx, dw, db;
    float *x, *dy, *dx_start, *ws;
} run_buffers;

/* One forward and backward; with `save`, through the forward's kept col
 * blocks when the layer keeps them. */
static void run_case(const shape *s, const problem *pr, cc_layout layout, run_buffers *r,
                     bool add_dinput, bool save)
{
    const cc_conv2d_params p = params_of(s, layout);
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    cc__conv_train t;
    assert_int_equal(cc__conv_train_init(&g, cc_get_num_threads(), &t), CC_OK);
    tst_buffer ws = tst_buffer_new(t.workspace_bytes / sizeof(float));
    tst_buffer_poison(&ws);
    tst_buffer_poison(&r->out);
    tst_buffer_poison(&r->dw);
    tst_buffer_poison(&r->db);
    if (add_dinput)
        relayout(layout, s->n, s->c, s->h, s->w, pr->dx_start, r->dx.data);
    else
        tst_buffer_poison(&r->dx);
    tst_buffer saved = tst_buffer_new(save ? t.saved_floats : 0);
    tst_buffer_poison(&saved);
    float *keep = save && t.saved_floats > 0 ? saved.data : NULL;
    cc__conv_train_forward(&t, pr->w, pr->b, r->x, r->out.data, ws.data, s->n, keep);
    cc__conv_train_backward(&t, pr->w, r->x, keep, r->dy, r->dx.data, add_dinput, r->dw.data,
                            r->db.data, ws.data);
    assert_true(tst_buffer_guards_intact(&ws) && tst_buffer_guards_intact(&saved));
    tst_buffer_free(&saved);
    assert_true(tst_buffer_guards_intact(&r->out) && tst_buffer_guards_intact(&r->dx));
    assert_true(tst_buffer_guards_intact(&r->dw) && tst_buffer_guards_intact(&r->db));
    tst_buffer_free(&ws);
}

static void check_shape(const shape *s, const problem *pr, cc_layout layout)
{
    const cc__conv_geom *g = &pr->g;
    run_buffers r = {tst_buffer_new(pr->out), tst_buffer_new(pr->in), tst_buffer_new(pr->wt),
                     tst_buffer_new((size_t)s->oc), malloc(pr->in * sizeof(float)),
                     malloc(pr->out * sizeof(float)), NULL, NULL};
    assert_true(r.x != NULL && r.dy != NULL);
    relayout(layout, s->n, s->c, s->h, s->w, pr->x, r.x);
    relayout(layout, s->n, s->oc, g->oh, g->ow, pr->dy, r.dy);
    for (int mode = 0; mode < 4; mode++) {
        const bool add = mode & 1, save = mode & 2;
        run_case(s, pr, layout, &r, add, save);
        expect_close("output", s->name, layout, s->n, s->oc, g->oh, g->ow, r.out.data,
                     pr->want_out, NULL);
        expect_close(add ? "added input gradient" : "input gradient", s->name, layout, s->n,
                     s->c, s->h, s->w, r.dx.data, pr->want_dx, add ? pr->dx_start : NULL);
        expect_close("weight gradient", s->name, CC_NCHW, s->oc, g->cg, s->kh, s->kw, r.dw.data,
                     pr->want_dw, NULL);
        expect_close("bias gradient", s->name, CC_NCHW, 1, s->oc, 1, 1, r.db.data, pr->want_db,
                     NULL);
    }
    tst_buffer_free(&r.out);
    tst_buffer_free(&r.dx);
    tst_buffer_free(&r.dw);
    tst_buffer_free(&r.db);
    free(r.x);
    free(r.dy);
}

static void check_all(size_t tile_floats)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    cc__conv_train_set_tile_budget(tile_floats);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        problem pr;
        problem_make(&shapes[i], &rng, &pr);
        for (int threads = 1; threads <= 2; threads++) {
            cc_set_num_threads(threads);
            check_shape(&shapes[i], &pr, CC_NCHW);
            check_shape(&shapes[i], &pr, CC_NHWC);
        }
        problem_free(&pr);
    }
    cc__conv_train_set_tile_budget(0);
}

static void test_gradients_default_tiles(void **state)
{
    (void)state;
    check_all(0);
}

/* A 1-float budget gives the narrowest tile: 64 output pixels. */
static void test_gradients_small_tiles(void **state)
{
    (void)state;
    check_all(1);
}

/* Two runs at one thread count (1, then 2: images over threads, per-thread
 * accumulators) give the same gradients bit for bit. */
static void test_runs_repeat(void **state)
{
    (void)state;
    const shape *s = &shapes[10];
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 1);
    problem pr;
    problem_make(s, &rng, &pr);
    for (int threads = 1; threads <= 2; threads++) {
        cc_set_num_threads(threads);
        run_buffers a = {tst_buffer_new(pr.out), tst_buffer_new(pr.in), tst_buffer_new(pr.wt),
                         tst_buffer_new((size_t)s->oc), pr.x, pr.dy, NULL, NULL};
        run_buffers b = {tst_buffer_new(pr.out), tst_buffer_new(pr.in), tst_buffer_new(pr.wt),
                         tst_buffer_new((size_t)s->oc), pr.x, pr.dy, NULL, NULL};
        run_case(s, &pr, CC_NHWC, &a, false, true);
        run_case(s, &pr, CC_NHWC, &b, false, true);
        assert_memory_equal(a.dw.data, b.dw.data, pr.wt * sizeof(float));
        assert_memory_equal(a.dx.data, b.dx.data, pr.in * sizeof(float));
        tst_buffer_free(&a.out), tst_buffer_free(&a.dx), tst_buffer_free(&a.dw);
        tst_buffer_free(&a.db), tst_buffer_free(&b.out), tst_buffer_free(&b.dx);
        tst_buffer_free(&b.dw), tst_buffer_free(&b.db);
    }
    problem_free(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_default_tiles),
        cmocka_unit_test(test_gradients_small_tiles),
        cmocka_unit_test(test_runs_repeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
