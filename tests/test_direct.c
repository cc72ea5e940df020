/* The direct path (cc__direct_pack + cc__direct_run) against the float64
 * reference, for every kernel family the CPU has, and for a portable
 * emulation of the AVX-512 family (its 16 lanes, tiles and packing; only
 * the intrinsics differ) so that its tiling is checked on any CPU. Named
 * layer-like shapes
 * plus a seeded table of random odd ones, both layouts, every activation,
 * with and without bias, output poisoned with NaN and guarded on both sides,
 * one and two threads (which must agree bit for bit). The pointwise kind's
 * residual add, in its tiles, is checked the same way for every family. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/direct_kernels.h"

/* The AVX-512 family's tiles over portable 16-float vectors. */
#define DV CC__DIRECT_LANES_AVX512
#include "../src/conv/direct_portable.h"
/* Compiled without AVX-512: its curves (sigmoid, tanh) are the portable ones. */
#define DB_ISA CC__ISA_SCALAR
#define DB_OCVEC_P CC__DIRECT_OCVEC_PIXELS_AVX512
#define DB_DWC_P CC__DIRECT_DWC_PIXELS_AVX512
#define DB_ROWS_M CC__DIRECT_ROWS_OC_AVX512
#define DB_ROWS_W CC__DIRECT_ROWS_VECS_AVX512
#define DB_ROWS_DW_W CC__DIRECT_ROWS_DW_VECS
#define DB_OCVEC_ROW emulated_avx512_ocvec_row
#define DB_DWC_ROW emulated_avx512_dwc_row
#define DB_ROWS_ROW emulated_avx512_rows_row
#define DB_POINTWISE_UNIT emulated_avx512_pointwise
#define DB_DWC_NCHW_UNIT emulated_avx512_dwc_nchw_unit
#define DB_TRANSPOSE emulated_avx512_transpose
void emulated_avx512_ocvec_row(const cc__direct_job *job, int n, int group, int ob, int oy);
void emulated_avx512_dwc_row(const cc__direct_job *job, int n, int cb, int oy);
void emulated_avx512_rows_row(const cc__direct_job *job, int n, int group, int mb, int oy);
void emulated_avx512_pointwise(const cc__direct_job *job, int n, int group, int mb_lo,
                               int mb_hi, size_t p_lo, size_t p_hi);
void emulated_avx512_dwc_nchw_unit(const cc__direct_job *job, float *slot, int n, int cb,
                                   int oy0, int oy1);
void emulated_avx512_transpose(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols,
                               float *out, ptrdiff_t out_ld);
#include "../src/conv/direct_body.h"

static const cc__direct_family emulated_avx512 = {
    emulated_avx512_ocvec_row, emulated_avx512_dwc_row, emulated_avx512_rows_row,
    emulated_avx512_pointwise, emulated_avx512_dwc_nchw_unit, emulated_avx512_transpose};

#define SEED 20261201u
#define RANDOM_SHAPES 90

typedef struct {
    const char *name;
    int n, c, h, w, oc, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups;
} shape;

/* Layers and corner cases, shrunk where the reference would be slow. */
static const shape named_shapes[] = {
    {"lenet_conv1", 1, 1, 28, 28, 20, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"caffe_lenet_conv2", 1, 20, 12, 12, 50, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"lenet5_conv1", 2, 1, 32, 32, 6, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"alexnet_conv1_small", 1, 3, 39, 43, 10, 11, 11, 4, 4, 1, 1, 0, 0, 0, 0, 1},
    {"alexnet_conv1_padded", 1, 3, 30, 30, 17, 11, 11, 4, 4, 1, 1, 2, 2, 2, 2, 1},
    {"vgg_conv1_1_small", 1, 3, 20, 70, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise_3x3", 2, 19, 9, 11, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 19},
    {"depthwise_3x3_s2", 1, 33, 13, 12, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 33},
    {"depthwise_wide", 1, 3, 5, 150, 3, 5, 3, 1, 1, 1, 2, 2, 2, 1, 3, 3},
    /* The NHWC 3x3 tile of whole channel blocks (MobileNet's): rows of 8 or
     * more outputs, the last tile overlapping, strides 1 and 2 each way,
     * padding of 0 to 3, a part block after whole ones. */
    {"depthwise_3x3_blocks", 2, 32, 6, 19, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32},
    {"depthwise_3x3_s2_blocks", 1, 48, 9, 23, 48, 3, 3, 2, 2, 1, 1, 0, 1, 0, 1, 48},
    {"depthwise_3x3_part_block", 1, 40, 5, 8, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40},
    {"depthwise_3x3_s2_rows", 1, 16, 7, 17, 16, 3, 3, 2, 1, 1, 1, 2, 0, 2, 3, 16},
    {"depthwise_3x3_s2_columns", 1, 16, 6, 30, 16, 3, 3, 1, 2, 1, 1, 3, 2, 2, 0, 16},
    {"depthwise_multiplier", 1, 5, 7, 8, 15, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},
    /* Rows of 4 to 7 outputs: the 3x3 kernel's narrow tiles (NHWC). */
    {"depthwise_3x3_narrow", 1, 32, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32},
    {"depthwise_3x3_s2_narrow", 2, 48, 14, 13, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48},
    {"depthwise_3x3_narrow_pads", 1, 16, 6, 5, 16, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 16},
    /* NCHW depthwise in several bands of output rows (wide rows fill a slot). */
    {"depthwise_bands", 1, 21, 37, 130, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 21},
    {"depthwise_bands_s2", 2, 17, 41, 120, 17, 5, 5, 2, 2, 1, 1, 2, 1, 2, 1, 17},
    {"depthwise_bands_dilated", 1, 9, 30, 200, 9, 3, 3, 1, 1, 2, 2, 0, 3, 2, 2, 9},
    {"grouped_dilated", 2, 12, 11, 13, 18, 5, 3, 2, 1, 2, 3, 1, 2, 3, 0, 3},
    {"one_pixel_image", 1, 4, 1, 1, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"kernel_is_padded_input", 1, 3, 5, 4, 7, 7, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"padding_over_kernel", 1, 2, 6, 7, 5, 3, 3, 1, 1, 1, 1, 4, 5, 6, 3, 1},
    {"pointwise_strided", 3, 7, 9, 9, 37, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},
    /* The pointwise kind's input-channel blocks, unit chunks and edges. */
    {"pointwise_k_blocks", 2, 300, 5, 7, 50, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_three_k_blocks", 1, 520, 4, 5, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_chunks", 1, 20, 23, 29, 101, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_grouped_strided", 2, 12, 10, 11, 20, 1, 1, 3, 2, 1, 1, 0, 0, 0, 0, 4},
    {"pointwise_grouped_k_blocks", 1, 600, 3, 3, 14, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},
    {"pointwise_one_pixel", 1, 17, 1, 1, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"pointwise_two_outputs", 3, 33, 7, 3, 2, 1, 1, 2, 3, 1, 1, 0, 0, 0, 0, 1},
    {"rectangular", 1, 5, 17, 23, 33, 2, 7, 3, 1, 1, 1, 0, 1, 3, 2, 1},
    {"wide_rows", 1, 2, 4, 101, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    /* NHWC rows with many edge pixels: the input padded left and right in
     * the workspace (cc__direct_pads_input), on every family. */
    {"edge_heavy_5x5_groups", 2, 32, 13, 13, 40, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2},
    {"edge_heavy_dilated_strided", 1, 19, 9, 17, 23, 3, 3, 2, 1, 1, 2, 0, 1, 3, 1, 1},
};

/* NCHW 1x1 layers (the pointwise kind) run with a residual, which the
 * kernel adds in its last input-channel block: 1, 2 and 3 or more of those
 * blocks (256 channels for the 8-lane families' 16-pixel tiles, 85 for
 * AVX-512's 48), output channels per group that no family's register tile
 * (4, 6, 8 rows) divides, strides, groups and planes of many tiles. */
static const shape residual_shapes[] = {
    {"residual_one_k_block", 2, 40, 6, 7, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"residual_two_k_blocks", 1, 300, 5, 7, 23, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"residual_three_k_blocks", 1, 520, 4, 5, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"residual_strided_k_blocks", 2, 260, 9, 9, 37, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},
    {"residual_grouped_k_blocks", 1, 540, 3, 3, 22, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},
    {"residual_wide_plane", 1, 513, 23, 29, 19, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"residual_two_outputs", 3, 600, 7, 3, 2, 1, 1, 2, 3, 1, 1, 0, 0, 0, 0, 1},
};

static int output_extent(int in, int pad0, int pad1, int dil, int k, int stride)
{
    return (in + pad0 + pad1 - dil * (k - 1) - 1) / stride + 1;
}

static bool shape_valid(const shape *s)
{
    return s->h + s->pt + s->pb >= s->dh * (s->kh - 1) + 1 &&
           s->w + s->pl + s->pr >= s->dw * (s->kw - 1) + 1;
}

static cc__conv_geom geom_of(const shape *s, cc_layout layout, cc_act act)
{
    cc__conv_geom g = {.n = s->n, .c = s->c, .h = s->h, .w = s->w, .oc = s->oc,
                       .kh = s->kh, .kw = s->kw, .sh = s->sh, .sw = s->sw, .dh = s->dh,
                       .dw = s->dw, .pt = s->pt, .pb = s->pb, .pl = s->pl, .pr = s->pr,
                       .groups = s->groups, .cg = s->c / s->groups,
                       .ocg = s->oc / s->groups, .layout = layout, .act = act};
    g.oh = output_extent(s->h, s->pt, s->pb, s->dh, s->kh, s->sh);
    g.ow = output_extent(s->w, s->pl, s->pr, s->dw, s->kw, s->sw);
    return g;
}

static void describe(const shape *s, cc_layout layout, cc_act act, bool bias, bool residual,
                     char *text, size_t size)
{
    snprintf(text, size,
             "%s mb%dic%dih%diw%doc%dkh%dkw%dsh%dsw%ddh%ddw%dpt%dpb%dpl%dpr%dg%d %s act%d%s%s",
             s->name, s->n, s->c, s->h, s->w, s->oc, s->kh, s->kw, s->sh, s->sw, s->dh, s->dw,
             s->pt, s->pb, s->pl, s->pr, s->groups, layout == CC_NCHW ? "nchw" : "nhwc",
             (int)act, bias ? " bias" : "", residual ? " residual" : "");
}

/* cc__direct_run, or the emulated family when `family` is not NULL, in a
 * workspace of exactly the slots asked for, guarded and poisoned. */
static void run(const cc__conv_geom *g, cc__isa isa, const cc__direct_family *family,
                const float *packed, const float *bias, const float *input, float *output,
                const float *residual, int threads)
{
    const size_t floats = cc__direct_workspace_floats(g, isa, threads);
    tst_buffer workspace = tst_buffer_new(floats > 0 ? floats : 1);
    tst_buffer_poison(&workspace);
    float *slots = floats > 0 ? workspace.data : NULL;
    if (family == NULL)
        cc__direct_run(g, isa, packed, bias, input, output, residual, slots, threads, 0);
    else
        cc__direct_run_family(g, isa, family, packed, bias, input, output, residual, slots,
                              threads, 0);
    assert_true(tst_buffer_guards_intact(&workspace));
    tst_buffer_free(&workspace);
}


/* want = act(conv + bias (+ residual)): the reference, then, with a
 * residual, the reference without activation, the add and the activation
 * in double. */
static void expected_output(const cc__conv_geom *g, const float *weights, const float *bias,
                            const float *input, const float *residual, float *want)
{
    if (residual == NULL) {
        cc__reference_run(g, weights, bias, input, want);
        return;
    }
    cc__conv_geom plain = *g;
    plain.act = CC_ACT_NONE;
    cc__reference_run(&plain, weights, bias, input, want);
    for (size_t i = 0; i < cc__geom_output_floats(g); i++)
        want[i] = (float)cc__reference_activate((double)want[i] + (double)residual[i], g->act);
}

/* Runs one case on `isa`, with a random residual when `residual`; fails the
 * test with the seed and shape on a mismatch, a write outside the output or
 * a thread-count difference. */
static void check_case(tst_rng *rng, const shape *s, cc_layout layout, cc_act act, bool bias,
                       bool residual, cc__isa isa, const cc__direct_family *family)
{
    const cc__conv_geom g = geom_of(s, layout, act);
    const size_t in_count = cc__geom_input_floats(&g), out_count = cc__geom_output_floats(&g);
    float *input = malloc(in_count * sizeof(float));
    float *weights = malloc(cc__geom_weight_floats(&g) * sizeof(float));
    float *bias_data = malloc((size_t)g.oc * sizeof(float));
    float *residual_data = residual ? malloc(out_count * sizeof(float)) : NULL;
    float *want = malloc(out_count * sizeof(float));
    assert_non_null(input);
    assert_non_null(weights);
    assert_non_null(bias_data);
    assert_true(!residual || residual_data != NULL);
    assert_non_null(want);
    tst_fill(rng, input, in_count, false);
    tst_fill(rng, weights, cc__geom_weight_floats(&g), false);
    tst_fill(rng, bias_data, (size_t)g.oc, false);
    if (residual)
        tst_fill(rng, residual_data, out_count, false);
    const float *b = bias ? bias_data : NULL;
    expected_output(&g, weights, b, input, residual_data, want);

    float *packed = NULL;
    assert_int_equal(cc__direct_pack(&g, isa, weights, &packed), CC_OK);
    tst_buffer one = tst_buffer_new(out_count), two = tst_buffer_new(out_count);
    tst_buffer_poison(&one);
    tst_buffer_poison(&two);
    run(&g, isa, family, packed, b, input, one.data, residual_data, 1);
    run(&g, isa, family, packed, b, input, two.data, residual_data, 2);

    char text[256];
    describe(s, layout, act, bias, residual, text, sizeof text);
    const double tolerance = tst_conv_tolerance(want, out_count);
    const size_t bad = tst_first_mismatch(one.data, want, out_count, tolerance);
    if (bad != out_count || !tst_buffer_guards_intact(&one) ||
        memcmp(one.data, two.data, out_count * sizeof(float)) != 0 ||
        !tst_buffer_guards_intact(&two)) {
        print_error("seed %u isa %d%s %s: ", SEED, (int)isa, family ? " emulated" : "", text);
        if (bad != out_count)
            print_error("output[%zu] = %g, reference %g (tolerance %g)\n", bad,
                        (double)one.data[bad], (double)want[bad], tolerance);
        else
            print_error("guard overwritten or 1 vs 2 threads differ\n");
        fail();
    }
    tst_buffer_free(&one);
    tst_buffer_free(&two);
    cc__free(packed);
    free(input);
    free(weights);
    free(bias_data);
    free(residual_data);
    free(want);
}

/* A random valid shape; `i` picks the groups flavour so that every kind of
 * grouping shows up. */
static shape random_shape(tst_rng *rng, int i)
{
    shape s;
    do {
        s = (shape){.name = "random", .n = tst_rng_int(rng, 1, 3),
                    .h = tst_rng_int(rng, 1, 14), .w = tst_rng_int(rng, 1, 40),
                    .kh = tst_rng_int(rng, 1, 5), .kw = tst_rng_int(rng, 1, 5),
                    .sh = tst_rng_int(rng, 1, 3), .sw = tst_rng_int(rng, 1, 3),
                    .dh = tst_rng_int(rng, 1, 3), .dw = tst_rng_int(rng, 1, 3),
                    .pt = tst_rng_int(rng, 0, 4), .pb = tst_rng_int(rng, 0, 4),
                    .pl = tst_rng_int(rng, 0, 4), .pr = tst_rng_int(rng, 0, 4)};
        if (i % 4 == 0 || i % 7 == 0)
            s.sw = 1; /* the NCHW width kernel */
        switch (i % 3) {
        case 0:
            s.groups = 1;
            s.c = tst_rng_int(rng, 1, 9);
            s.oc = tst_rng_int(rng, 1, 40);
            break;
        case 1:
            s.groups = tst_rng_int(rng, 2, 4);
            s.c = s.groups * tst_rng_int(rng, 1, 4);
            s.oc = s.groups * tst_rng_int(rng, 1, 9);
            break;
        default: /* depthwise, with a channel multiplier one time in three */
            s.groups = s.c = tst_rng_int(rng, 1, 40);
            s.oc = s.c * (i % 9 == 2 ? tst_rng_int(rng, 2, 3) : 1);
            break;
        }
        if (i % 5 == 4) { /* pointwise, with more channels than above */
            s.kh = s.kw = 1;
            s.pt = s.pb = s.pl = s.pr = 0;
            if (s.groups == 1) {
                s.c = tst_rng_int(rng, 1, 300);
                s.oc = tst_rng_int(rng, 2, 70);
            }
        }
    } while (!shape_valid(&s));
    return s;
}

/* Returns false (and skips) when the CPU lacks `isa`. */
static bool use_isa(cc__isa isa)
{
    cc__set_isa_cap(isa);
    const bool available = cc__cpu_isa() == isa;
    cc__set_isa_cap(CC__ISA_AVX512);
    return available;
}

static void check_all_shapes(cc__isa isa, const cc__direct_family *family)
{
    if (family == NULL && !use_isa(isa))
        skip();
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    const size_t named = sizeof named_shapes / sizeof named_shapes[0];
    int case_index = 0;
    for (size_t i = 0; i < named + RANDOM_SHAPES; i++) {
        const shape s = i < named ? named_shapes[i] : random_shape(&rng, (int)(i - named));
        for (int layout = CC_NCHW; layout <= CC_NHWC; layout++, case_index++) {
            const cc_act act = (cc_act)(case_index % 4);
            check_case(&rng, &s, (cc_layout)layout, act, case_index % 3 != 0, false, isa,
                       family);
        }
    }
}

/* The residual shapes, NCHW, every activation, with and without bias. */
static void check_residual_shapes(cc__isa isa, const cc__direct_family *family)
{
    if (family == NULL && !use_isa(isa))
        skip();
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    for (size_t i = 0; i < sizeof residual_shapes / sizeof residual_shapes[0]; i++)
        for (int act = CC_ACT_NONE; act <= CC_ACT_RELU6; act++)
            for (int bias = 0; bias <= 1; bias++)
                check_case(&rng, &residual_shapes[i], CC_NCHW, (cc_act)act, bias, true, isa,
                           family);
}

/* The family's transpose on blocks of every kind (whole, part rows, part
 * columns, both), in and out rows longer than the block, out's rows also
 * 256 floats apart (the blocks then go along out's rows): every value
 * where it belongs, nothing else of out written. */
static void check_transposes(cc__isa isa, const cc__direct_family *family)
{
    if (family == NULL && !use_isa(isa))
        skip();
    static const size_t sizes[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 50};
    const size_t count = sizeof sizes / sizeof sizes[0];
    enum { IN_EXTRA = 3, OUT_EXTRA = 5 };
    for (size_t a = 0; a < count; a++)
        for (size_t b = 0; b < count * 2; b++) {
            const size_t rows = sizes[a], cols = sizes[b % count];
            const ptrdiff_t in_ld = (ptrdiff_t)(cols + IN_EXTRA);
            const ptrdiff_t out_ld = b < count ? (ptrdiff_t)(rows + OUT_EXTRA) : 256;
            float *in = malloc(rows * (size_t)in_ld * sizeof(float));
            float *out = malloc(cols * (size_t)out_ld * sizeof(float));
            assert_true(in != NULL && out != NULL);
            for (size_t i = 0; i < rows * (size_t)in_ld; i++)
                in[i] = (float)i;
            for (size_t i = 0; i < cols * (size_t)out_ld; i++)
                out[i] = -1.0f;
            if (family != NULL)
                family->transpose(in, in_ld, rows, cols, out, out_ld);
            else
                cc__direct_transpose(isa, in, in_ld, rows, cols, out, out_ld);
            for (size_t j = 0; j < cols; j++)
                for (size_t i = 0; i < (size_t)out_ld; i++) {
                    const float want = i < rows ? in[i * (size_t)in_ld + j] : -1.0f;
                    if (out[j * (size_t)out_ld + i] != want)
                        fail_msg("%zu x %zu transpose: out[%zu][%zu] is %g, not %g", rows,
                                 cols, j, i, (double)out[j * (size_t)out_ld + i], (double)want);
                }
            free(in);
            free(out);
        }
}

/* NCHW <-> NHWC reorders of whole images (the NCHW layers computed in
 * NHWC), on each ISA the CPU has, at 1 and 2 threads: units cut along the
 * pixels and the channels (fewer pixels than a unit, more channels than
 * one, both, neither); every value where it belongs, nothing past the
 * tensor written. */
static void test_reorder_images(void **state)
{
    (void)state;
    static const size_t channel_counts[] = {1, 17, 256, 257, 600};
    static const size_t pixel_counts[] = {1, 49, 64, 65, 196};
    static const cc__isa isas[] = {CC__ISA_SCALAR, CC__ISA_AVX2, CC__ISA_AVX512};
    enum { GUARD = 16 };
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        if (!use_isa(isas[s]))
            continue;
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 5; b++)
                for (int threads = 1; threads <= 2; threads++) {
                    const size_t n = 2, c = channel_counts[a], p = pixel_counts[b];
                    const size_t count = n * c * p;
                    float *nchw = malloc(count * sizeof(float));
                    float *nhwc = malloc((count + GUARD) * sizeof(float));
                    float *back = malloc((count + GUARD) * sizeof(float));
                    assert_true(nchw != NULL && nhwc != NULL && back != NULL);
                    for (size_t i = 0; i < count; i++)
                        nchw[i] = (float)i;
                    for (size_t i = 0; i < count + GUARD; i++)
                        nhwc[i] = back[i] = -1.0f;
                    cc__reorder_images(isas[s], nchw, nhwc, n, c, p, true, threads);
                    cc__reorder_images(isas[s], nhwc, back, n, c, p, false, threads);
                    for (size_t i = 0; i < n; i++)
                        for (size_t ch = 0; ch < c; ch++)
                            for (size_t px = 0; px < p; px++) {
                                const float want = nchw[(i * c + ch) * p + px];
                                if (nhwc[(i * p + px) * c + ch] != want ||
                                    back[(i * c + ch) * p + px] != want)
                                    fail_msg("isa %d, %zu channels x %zu pixels, %d threads: "
                                             "image %zu channel %zu pixel %zu",
                                             (int)isas[s], c, p, threads, i, ch, px);
                            }
                    for (size_t i = count; i < count + GUARD; i++)
                        assert_true(nhwc[i] == -1.0f && back[i] == -1.0f);
                    free(nchw);
                    free(nhwc);
                    free(back);
                }
    }
}

/* The kernel families the tests run: each ISA's own (skipped where the CPU
 * lacks it), and AVX-512's emulated on any CPU. */
typedef struct {
    cc__isa isa;
    const cc__direct_family *family; /* NULL: the ISA's own */
} family_case;

static family_case scalar_family = {CC__ISA_SCALAR, NULL};
static family_case avx2_family = {CC__ISA_AVX2, NULL};
static family_case avx512_family = {CC__ISA_AVX512, NULL};
static family_case emulated_family = {CC__ISA_AVX512, &emulated_avx512};

static void test_shapes(void **state)
{
    const family_case *f = *state;
    check_all_shapes(f->isa, f->family);
}

static void test_residual(void **state)
{
    const family_case *f = *state;
    check_residual_shapes(f->isa, f->family);
}

static void test_transpose(void **state)
{
    const family_case *f = *state;
    check_transposes(f->isa, f->family);
}

/* The named shapes include layers each family runs on a padded copy of
 * the input, and padded layers it runs without one. */
static void test_padded_copy_covered(void **state)
{
    (void)state;
    static const struct {
        cc__isa isa;
        const char *name;
    } isas[] = {{CC__ISA_SCALAR, "scalar"}, {CC__ISA_AVX2, "avx2"}, {CC__ISA_AVX512, "avx512"}};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        int padded = 0, not_padded = 0;
        for (size_t k = 0; k < sizeof named_shapes / sizeof named_shapes[0]; k++) {
            const cc__conv_geom g = geom_of(&named_shapes[k], CC_NHWC, CC_ACT_NONE);
            const bool has_pads = g.pl > 0 || g.pr > 0;
            const bool pads = cc__direct_pads_input(&g, isas[i].isa);
            padded += pads;
            not_padded += has_pads && !pads;
            if (pads)
                assert_int_equal(cc__direct_workspace_floats(&g, isas[i].isa, 2),
                                 (size_t)g.n * g.h * (g.w + g.pl + g.pr) * g.c);
        }
        if (padded == 0 || not_padded == 0)
            fail_msg("%s: %d shapes on a padded copy, %d padded ones without", isas[i].name,
                     padded, not_padded);
    }
}

static void *failing_alloc(void *context, size_t alignment, size_t size)
{
    (void)context;
    (void)alignment;
    (void)size;
    return NULL;
}

static void failing_free(void *context, void *pointer)
{
    (void)context;
    (void)pointer;
}

/* Packing reports CC_ERR_NOMEM and leaves NULL when allocation fails. */
static void test_pack_nomem(void **state)
{
    (void)state;
    const cc__conv_geom g = geom_of(&named_shapes[0], CC_NHWC, CC_ACT_NONE);
    float weights[20 * 25] = {0};
    float *packed = weights;
    const cc_allocator failing = {NULL, failing_alloc, failing_free};
    assert_int_equal(cc_set_allocator(&failing), CC_OK);
    const cc_status status = cc__direct_pack(&g, CC__ISA_SCALAR, weights, &packed);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(status, CC_ERR_NOMEM);
    assert_null(packed);
}

/* test on each kernel family, named "name, family". */
#define FAMILY_TESTS(test, name)                                                                \
    {name ", scalar", test, NULL, NULL, &scalar_family},                                        \
        {name ", avx2", test, NULL, NULL, &avx2_family},                                        \
        {name ", avx512", test, NULL, NULL, &avx512_family},                                    \
        {name ", avx512 emulated", test, NULL, NULL, &emulated_family}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAMILY_TESTS(test_shapes, "every shape"),
        FAMILY_TESTS(test_residual, "fused residual"),
        FAMILY_TESTS(test_transpose, "transposes"),
        cmocka_unit_test(test_reorder_images),
        cmocka_unit_test(test_pack_nomem),
        cmocka_unit_test(test_padded_copy_covered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
