/* ONNX models exported by PyTorch (tests/onnx/, made by
 * tools/make_onnx_models.py): each imported with cc_net_load_onnx in NCHW
 * and NHWC, built with fusion on and off, run on the committed input and
 * compared with PyTorch's output within 1e-4 * max(1, max |PyTorch|).
 * Also: the .npy reader the goldens are read with (tools/run/npy.c), on
 * broken files, and colconv-run (run_main) on LeNet-5 and on bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "run_app.h"
#include "support.h"

#define ONNX_DIR COLCONV_TEST_DATA_DIR "/onnx/"

/* Every committed model (tests/onnx/NAME.onnx with NAME.x.npy, NAME.y.npy). */
static const char *const models[] = {
    "lenet5", "squeezenet1_1", "op_conv_groups", "op_conv_depthwise", "op_conv_dilation",
    "op_conv_stride", "op_conv_asym_pad", "op_pad", "op_conv_same", "op_conv_same_pads",
    "op_conv_same_upper", "op_conv_same_lower", "op_gemm", "op_gemm_2d", "op_matmul_add",
    "op_relu", "op_leaky_relu", "op_relu6", "op_clip", "op_sigmoid", "op_tanh",
    "op_hardsigmoid", "op_hardswish", "op_maxpool_ceil", "op_maxpool_ceil_nopad",
    "op_avgpool_pad_incl", "op_avgpool_pad_excl", "op_global_avg", "op_global_max",
    "op_maxpool_global", "op_concat", "op_add", "op_mul_channel", "op_mul_scalar",
    "op_batchnorm", "op_batchnorm_input", "op_reshape", "op_reshape_dynamic", "op_softmax",
    "op_softmax_channels", "op_dropout", "op_lrn",
};

static void model_path(const char *name, const char *suffix, char *path, size_t size)
{
    snprintf(path, size, ONNX_DIR "%s%s", name, suffix);
}

static npy_array read_npy(const char *name, const char *suffix)
{
    char path[512], error[NPY_ERROR_SIZE];
    npy_array a;
    model_path(name, suffix, path, sizeof path);
    if (npy_read(path, &a, error) != 0)
        fail_msg("%s", error);
    return a;
}

/* [N][C][H][W] -> [N][H][W][C], or back (to_nhwc false). */
static void permute(const float *in, float *out, const int64_t s[4], bool to_nhwc)
{
    const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) {
                const int64_t nchw = (i * c + ch) * hw + p, nhwc = (i * hw + p) * c + ch;
                out[to_nhwc ? nhwc : nchw] = in[to_nhwc ? nchw : nhwc];
            }
}

/* One import, build and run with the layers in `compute`; the output in
 * NCHW (flat: [N][C]) order. */
static void run_model(const char *name, cc_layout layout, bool fusion, cc_layout compute,
                      const npy_array *x, const npy_array *y)
{
    char path[512], how[64];
    snprintf(how, sizeof how, "%s, %s, layers in %s", layout == CC_NCHW ? "nchw" : "nhwc",
             fusion ? "fusion" : "no fusion", compute == CC_NCHW ? "nchw" : "nhwc");
    model_path(name, ".onnx", path, sizeof path);
    const cc_onnx_options options = {layout, (int)x->shape[0]};
    cc_net *net = NULL;
    if (cc_net_load_onnx(path, &options, &net) != CC_OK)
        fail_msg("%s (%s): load: %s", name, how, cc_last_error());
    const cc_net_build_options build = {
        .no_fusion = !fusion, .compute_layout = compute == CC_NCHW ? CC_COMPUTE_NCHW : CC_COMPUTE_NHWC};
    if (cc_net_build(net, &build) != CC_OK)
        fail_msg("%s (%s): build: %s", name, how, cc_last_error());
    cc_net_stats stats;
    assert_int_equal(cc_net_get_stats(net, &stats), CC_OK);
    assert_int_equal(stats.compute_layout, compute);
    assert_int_equal(cc_net_input_count(net), x->count);
    assert_int_equal(cc_net_output_count(net), y->count);
    cc_net_layer_info out;
    assert_int_equal(cc_net_get_layer_info(net, cc_net_node_count(net) - 1, &out), CC_OK);
    assert_string_equal(out.name, "output");

    float *input = malloc(x->count * sizeof *input), *output = malloc(y->count * sizeof *output);
    float *nchw = malloc(y->count * sizeof *nchw);
    assert_non_null(input), assert_non_null(output), assert_non_null(nchw);
    if (layout == CC_NHWC && x->rank == 4)
        permute(x->data, input, x->shape, true);
    else
        memcpy(input, x->data, x->count * sizeof *input);
    for (size_t i = 0; i < y->count; i++)
        output[i] = NAN;
    if (cc_net_run(net, input, output) != CC_OK)
        fail_msg("%s (%s): run: %s", name, how, cc_last_error());
    if (layout == CC_NHWC && !out.flat && y->rank == 4)
        permute(output, nchw, y->shape, false);
    else
        memcpy(nchw, output, y->count * sizeof *nchw);

    const double tolerance = tst_conv_tolerance(y->data, y->count);
    const size_t bad = tst_first_mismatch(nchw, y->data, y->count, tolerance);
    if (bad != y->count)
        fail_msg("%s (%s): output[%zu] = %.7g, PyTorch %.7g (tolerance %.3g)", name, how, bad,
                 (double)nchw[bad], (double)y->data[bad], tolerance);
    free(input), free(output), free(nchw);
    cc_net_destroy(net);
}

static void model_matches_pytorch(void **state)
{
    const char *name = *state;
    npy_array x = read_npy(name, ".x.npy"), y = read_npy(name, ".y.npy");
    assert_true(x.rank == 2 || x.rank == 4);
    assert_true(y.rank == 2 || y.rank == 4);
    for (int layout = 0; layout < 2; layout++)
        for (int fusion = 0; fusion < 2; fusion++)
            for (int compute = 0; compute < 2; compute++)
                run_model(name, layout ? CC_NHWC : CC_NCHW, fusion,
                          compute ? CC_NHWC : CC_NCHW, &x, &y);
    npy_free(&x), npy_free(&y);
}

/* ---- the .npy reader ---------------------------------------------------- */

/* A version 1.0 file with the given header text and data bytes. */
static size_t make_npy(unsigned char *file, const char *header, size_t data_bytes)
{
    const size_t len = strlen(header);
    memcpy(file, "\x93NUMPY\x01\x00", 8);
    file[8] = (unsigned char)len, file[9] = (unsigned char)(len >> 8);
    memcpy(file + 10, header, len);
    for (size_t i = 0; i < data_bytes; i++)
        file[10 + len + i] = (unsigned char)i;
    return 10 + len + data_bytes;
}

static void expect_npy_error(const unsigned char *file, size_t size, const char *words)
{
    npy_array a;
    char error[NPY_ERROR_SIZE] = "";
    assert_int_equal(npy_parse(file, size, &a, error), -1);
    if (strstr(error, words) == NULL)
        fail_msg("expected an error with '%s', got '%s'", words, error);
    assert_null(a.data);
}

static void npy_rejects_broken_files(void **state)
{
    (void)state;
    unsigned char file[512];
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
    npy_array a;
    char error[NPY_ERROR_SIZE];
    size_t size = make_npy(file, good, 24);
    assert_int_equal(npy_parse(file, size, &a, error), 0);
    assert_int_equal(a.rank, 2), assert_int_equal(a.shape[1], 3), assert_int_equal(a.count, 6);
    npy_free(&a);
    expect_npy_error(file, size - 1, "data is 23 bytes");
    for (size_t cut = 0; cut < size - 24; cut++)
        expect_npy_error(file, cut, "");
    expect_npy_error(file, make_npy(file, good, 28), "data is 28 bytes");
    expect_npy_error(file, make_npy(file, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                    16), "not float32");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                                    8), "Fortran");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'shape': (2,), }", 8), "fortran_order");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': "
                                          "False, 'shape': (2,), }", 8), "repeated");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': "
                                          "(1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4), "more than 8");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': "
                                          "(1099511627776, 1099511627776), }", 4), "overflows");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': "
                                          "(-2,), }", 4), "bad dim");
    expect_npy_error(file, make_npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': (2",
                                    0), "expected");
    size = make_npy(file, good, 24);
    file[8] = 0xff, file[9] = 0xff;
    expect_npy_error(file, size, "past the end");
    file[6] = 4;
    expect_npy_error(file, size, "version 4");
    file[0] = 'x';
    expect_npy_error(file, size, "magic");
}

static void npy_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_onnx_npy_XXXXXX", path[64], error[NPY_ERROR_SIZE];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.npy", dir);
    const int64_t shape[3] = {3, 1, 5};
    float data[15];
    tst_rng rng;
    tst_rng_seed(&rng, 14);
    tst_fill(&rng, data, 15, false);
    assert_int_equal(npy_write(path, data, 3, shape, error), 0);
    npy_array a;
    assert_int_equal(npy_read(path, &a, error), 0);
    assert_int_equal(a.rank, 3), assert_int_equal(a.shape[0], 3), assert_int_equal(a.shape[2], 5);
    assert_memory_equal(a.data, data, sizeof data);
    npy_free(&a);
    remove(path);
    assert_int_equal(npy_read(path, &a, error), -1);
    assert_non_null(strstr(error, "cannot open"));
    rmdir(dir);
}

/* ---- colconv-run -------------------------------------------------------- */

/* run_main on argv (NULL-terminated); its stderr text in err (size bytes). */
static int run_tool(const char *const *argv, char *err, size_t size)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    FILE *out = tmpfile(), *errors = tmpfile();
    assert_non_null(out), assert_non_null(errors);
    const int status = run_main(argc, (char **)argv, out, errors);
    rewind(errors);
    const size_t n = fread(err, 1, size - 1, errors);
    err[n] = '\0';
    fclose(out), fclose(errors);
    return status;
}

/* LeNet-5 through colconv-run in both layouts: NHWC takes the input file
 * in NHWC (written here, shape (3, 32, 32, 1)). */
static void colconv_run_lenet5(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_onnx_run_XXXXXX", out[64], nhwc[64], err[4096], error[NPY_ERROR_SIZE];
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/y.npy", dir);
    snprintf(nhwc, sizeof nhwc, "%s/x_nhwc.npy", dir);
    npy_array want = read_npy("lenet5", ".y.npy"), x = read_npy("lenet5", ".x.npy");
    float *permuted = malloc(x.count * sizeof *permuted);
    assert_non_null(permuted);
    permute(x.data, permuted, x.shape, true);
    const int64_t shape[4] = {x.shape[0], x.shape[2], x.shape[3], x.shape[1]};
    assert_int_equal(npy_write(nhwc, permuted, 4, shape, error), 0);
    free(permuted);
    const char *layouts[2] = {"nchw", "nhwc"}, *inputs[2] = {ONNX_DIR "lenet5.x.npy", nhwc};
    for (int l = 0; l < 2; l++) {
        const char *argv[] = {"colconv-run", ONNX_DIR "lenet5.onnx", "--input", inputs[l],
                              "--output", out, "--threads", "2", "--layout", layouts[l], NULL};
        if (run_tool(argv, err, sizeof err) != 0)
            fail_msg("colconv-run (%s) failed: %s", layouts[l], err);
        npy_array got;
        assert_int_equal(npy_read(out, &got, error), 0);
        assert_int_equal(got.rank, 2);
        assert_int_equal(got.shape[0], 3), assert_int_equal(got.shape[1], 10);
        const double tolerance = tst_conv_tolerance(want.data, want.count);
        assert_int_equal(tst_first_mismatch(got.data, want.data, want.count, tolerance),
                         want.count);
        npy_free(&got);
        remove(out);
    }
    npy_free(&want), npy_free(&x);
    remove(nhwc);
    rmdir(dir);
}

static void expect_usage_error(const char *const *argv, const char *words)
{
    char err[8192];
    assert_int_equal(run_tool(argv, err, sizeof err), 2);
    if (strstr(err, words) == NULL)
        fail_msg("expected '%s' in colconv-run's message, got: %s", words, err);
}

static void colconv_run_bad_arguments(void **state)
{
    (void)state;
    const char *model = ONNX_DIR "lenet5.onnx", *x = ONNX_DIR "lenet5.x.npy";
    const char *no_input[] = {"colconv-run", model, "--output", "/tmp/y.npy", NULL};
    const char *no_model[] = {"colconv-run", "--input", x, "--output", "/tmp/y.npy", NULL};
    const char *layout[] = {"colconv-run", model, "--input", x, "--output", "/tmp/y.npy",
                            "--layout", "nwhc", NULL};
    const char *threads[] = {"colconv-run", model, "--input", x, "--output", "/tmp/y.npy",
                             "--threads", "0", NULL};
    const char *missing[] = {"colconv-run", model, "--input", "/nonexistent/x.npy", "--output",
                             "/tmp/y.npy", NULL};
    const char *not_model[] = {"colconv-run", x, "--input", x, "--output", "/tmp/y.npy", NULL};
    const char *shape[] = {"colconv-run", model, "--input", ONNX_DIR "op_relu.x.npy", "--output",
                           "/tmp/y.npy", NULL};
    const char *suffix[] = {"colconv-run", model, "--input", x, "--output", "/tmp/y.txt", NULL};
    const char *unknown[] = {"colconv-run", model, "--input", x, "--output", "/tmp/y.npy",
                             "--fast", NULL};
    expect_usage_error(no_input, "no --input");
    expect_usage_error(no_model, "no model");
    expect_usage_error(layout, "bad --layout");
    expect_usage_error(threads, "bad --threads");
    expect_usage_error(missing, "cannot open");
    expect_usage_error(not_model, "lenet5.x.npy");
    expect_usage_error(shape, "takes (2, 1, 32, 32)");
    expect_usage_error(suffix, "--output must name");
    expect_usage_error(unknown, "unknown option");
}

int main(void)
{
    enum { MODELS = sizeof models / sizeof models[0] };
    struct CMUnitTest tests[MODELS + 4];
    for (size_t i = 0; i < MODELS; i++)
        tests[i] = (struct CMUnitTest){models[i], model_matches_pytorch, NULL, NULL,
                                       (void *)models[i]};
    tests[MODELS] = (struct CMUnitTest)cmocka_unit_test(npy_rejects_broken_files);
    tests[MODELS + 1] = (struct CMUnitTest)cmocka_unit_test(npy_round_trip);
    tests[MODELS + 2] = (struct CMUnitTest)cmocka_unit_test(colconv_run_lenet5);
    tests[MODELS + 3] = (struct CMUnitTest)cmocka_unit_test(colconv_run_bad_arguments);
    return _cmocka_run_group_tests("test_onnx_models", tests, MODELS + 4, NULL, NULL);
}
