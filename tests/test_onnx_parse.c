/* The ONNX importer's parsing and mapping (issue 14), on the small files
 * tools/make_onnx_parse_cases.py writes to tests/onnx/parse/ (the golden
 * tests of exported torchvision models are tests/test_onnx_models.c).
 *
 * Each valid file is compared with the same network built by hand through
 * the net API, weights recomputed here from the script's formula
 * (onnx_value): raw_data, float_data and external data must give the very
 * same outputs; auto_pad SAME_UPPER / SAME_LOWER / VALID the pads worked out
 * by hand below; a Pad folded into the next conv its pads; a Shape ->
 * Gather -> Unsqueeze -> Concat -> Reshape chain a flatten before the FC.
 * Both layouts, a symbolic batch loaded at 1 and 3, seeded odd-sized
 * inputs, outputs compared bit for bit (same layers, same arithmetic).
 *
 * Every error path gives its status and a message naming the cause and no
 * network: data shorter than its dims, dims that would need 4 TB, external
 * data outside the model's directory, missing or too short, an unknown
 * operator (named with its node and opset), an undefined input, an
 * attribute of the wrong type, an opset out of range, a missing file, every
 * truncation of a valid file, seeded byte corruptions, messages nested
 * 1000 deep, and every allocation failing in turn (nothing leaked). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SEED 1414u
#define DIR COLCONV_TEST_DATA_DIR "/onnx/parse/"

/* The script's weights: element k of a tensor with salt s. */
static float onnx_value(size_t k, int salt)
{
    return (float)((int)((37 * k + 11 * (size_t)salt) % 17) - 8) / 16.0f;
}

static float *onnx_values(size_t count, int salt)
{
    float *v = malloc(count * sizeof *v);
    assert_non_null(v);
    for (size_t k = 0; k < count; k++)
        v[k] = onnx_value(k, salt);
    return v;
}

static void set_tensor(cc_net *net, const char *name, size_t count, int salt)
{
    float *v = onnx_values(count, salt);
    assert_int_equal(cc_net_set_tensor(net, name, v, count), CC_OK);
    free(v);
}

/* ---- the hand-built twins ---------------------------------------------- */

typedef struct {
    int kernel, stride;
    int pads[4]; /* top, bottom, left, right */
    bool bias, relu;
    int fc;      /* > 0: then an FC to this many outputs (fc.weight salt 4, bias 5) */
    int weight_salt;
} twin;

static cc_net *make_twin(const twin *t, cc_layout layout, int batch)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, batch, 3, 7, 5, &net), CC_OK);
    const cc_net_conv_params p = {.out_channels = 4, .kernel_h = t->kernel,
                                  .kernel_w = t->kernel, .stride_h = t->stride,
                                  .stride_w = t->stride, .pad_top = t->pads[0],
                                  .pad_bottom = t->pads[1], .pad_left = t->pads[2],
                                  .pad_right = t->pads[3], .no_bias = !t->bias};
    cc_node node;
    assert_int_equal(cc_net_add_conv(net, "conv", 0, &p, &node), CC_OK);
    if (t->relu) {
        const cc_activation relu = {CC_ACTIVATION_RELU, 0};
        assert_int_equal(cc_net_add_activation(net, "relu", node, &relu, &node), CC_OK);
    }
    if (t->fc > 0)
        assert_int_equal(cc_net_add_fc(net, "fc", node, t->fc, &node), CC_OK);
    set_tensor(net, "conv.weight", (size_t)4 * 3 * t->kernel * t->kernel, t->weight_salt);
    if (t->bias)
        set_tensor(net, "conv.bias", 4, 2);
    if (t->fc > 0) {
        set_tensor(net, "fc.weight", (size_t)t->fc * 4 * 7 * 5, 4);
        set_tensor(net, "fc.bias", (size_t)t->fc, 5);
    }
    return net;
}

static cc_net *load(const char *file, cc_layout layout, int batch)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", DIR, file);
    const cc_onnx_options options = {layout, batch};
    cc_net *net = NULL;
    const cc_status status = cc_net_load_onnx(path, &options, &net);
    if (status != CC_OK)
        fail_msg("%s: %s: %s", file, cc_status_str(status), cc_last_error());
    return net;
}

/* Runs both networks (built with and without fusion) on one seeded input;
 * outputs must be equal bit for bit, and the shapes the same. */
static void expect_twins(const char *file, const twin *t, const char *output_name)
{
    for (int layout = 0; layout < 2; layout++)
        for (int batch = 1; batch <= 3; batch += 2)
            for (int fusion = 0; fusion < 2; fusion++) {
                cc_net *got = load(file, (cc_layout)layout, batch);
                cc_net *want = make_twin(t, (cc_layout)layout, batch);
                const cc_net_build_options options = {.no_fusion = !fusion};
                assert_int_equal(cc_net_build(got, &options), CC_OK);
                assert_int_equal(cc_net_build(want, &options), CC_OK);
                int gn, gc, gh, gw, wn, wc, wh, ww;
                assert_int_equal(cc_net_output_shape(got, &gn, &gc, &gh, &gw), CC_OK);
                assert_int_equal(cc_net_output_shape(want, &wn, &wc, &wh, &ww), CC_OK);
                assert_true(gn == wn && gc == wc && gh == wh && gw == ww);
                const size_t in_count = cc_net_input_count(want);
                const size_t out_count = cc_net_output_count(want);
                assert_int_equal(cc_net_input_count(got), in_count);
                tst_buffer in = tst_buffer_new(in_count);
                tst_buffer a = tst_buffer_new(out_count), b = tst_buffer_new(out_count);
                tst_rng rng;
                tst_rng_seed(&rng, SEED + (uint64_t)batch);
                tst_fill(&rng, in.data, in_count, false);
                tst_buffer_poison(&a);
                tst_buffer_poison(&b);
                assert_int_equal(cc_net_run(got, in.data, a.data), CC_OK);
                assert_int_equal(cc_net_run(want, in.data, b.data), CC_OK);
                const size_t bad = tst_first_mismatch(a.data, b.data, out_count, 0.0);
                if (bad != out_count)
                    fail_msg("%s, layout %d, batch %d, fusion %d: output %zu is %g, by hand %g "
                             "(seed %u)",
                             file, layout, batch, fusion, bad, (double)a.data[bad],
                             (double)b.data[bad], SEED);
                assert_true(tst_buffer_guards_intact(&a));
                cc_net_layer_info info;
                assert_int_equal(
                    cc_net_get_layer_info(got, cc_net_node_count(got) - 1, &info), CC_OK);
                assert_string_equal(info.name, output_name);
                tst_buffer_free(&in);
                tst_buffer_free(&a);
                tst_buffer_free(&b);
                cc_net_destroy(got);
                cc_net_destroy(want);
            }
}

static const twin conv_relu = {3, 1, {1, 1, 1, 1}, true, true, 0, 1};

/* raw_data, float_data and external data: one network, named by PyTorch's
 * initializer names. */
static void test_storage(void **state)
{
    (void)state;
    static const char *const files[] = {"conv_raw.onnx", "conv_float.onnx",
                                        "conv_external.onnx"};
    for (size_t f = 0; f < ARRAY_LEN(files); f++) {
        expect_twins(files[f], &conv_relu, "y");
        cc_net *net = load(files[f], CC_NCHW, 0);
        float weight[4 * 3 * 3 * 3];
        assert_int_equal(cc_net_get_tensor(net, "conv1.weight", weight, ARRAY_LEN(weight)),
                         CC_OK);
        for (size_t k = 0; k < ARRAY_LEN(weight); k++)
            assert_true(weight[k] == onnx_value(k, 1));
        assert_int_equal(cc_net_input_count(net), (size_t)3 * 7 * 5); /* symbolic batch: 1 */
        cc_net_destroy(net);
    }
}

/* In 7 x 5, kernel 4, stride 2: SAME gives 4 x 3, padding 3 in each
 * direction ((4 - 1) * 2 + 4 - 7 and (3 - 1) * 2 + 4 - 5); UPPER puts the
 * odd cell at the end, LOWER at the start. */
static void test_auto_pad(void **state)
{
    (void)state;
    const twin upper = {4, 2, {1, 2, 1, 2}, false, false, 0, 3};
    const twin lower = {4, 2, {2, 1, 2, 1}, false, false, 0, 3};
    const twin valid = {4, 2, {0, 0, 0, 0}, false, false, 0, 3};
    expect_twins("same_upper.onnx", &upper, "y");
    expect_twins("same_lower.onnx", &lower, "y");
    expect_twins("valid.onnx", &valid, "y");
}

static void test_shape_chain(void **state)
{
    (void)state;
    const twin t = {3, 1, {1, 1, 1, 1}, true, false, 6, 1};
    expect_twins("shape_chain.onnx", &t, "logits");
}

/* Pad 1 / 2 on H and 0 / 1 on W before a conv without padding. */
static void test_pad_folded(void **state)
{
    (void)state;
    const twin t = {3, 1, {1, 2, 0, 1}, true, false, 0, 1};
    expect_twins("pad_conv.onnx", &t, "y");
}

/* ---- errors ---------------------------------------------------------------- */

typedef struct {
    const char *file;
    cc_status status;
    const char *words[3]; /* in the message */
} error_case;

static const error_case errors[] = {
    {"short_raw.onnx", CC_ERR_FORMAT, {"conv1.weight", "raw_data", NULL}},
    {"short_float.onnx", CC_ERR_FORMAT, {"conv1.weight", "float_data", NULL}},
    {"huge_dims.onnx", CC_ERR_FORMAT, {"conv1.weight", NULL}},
    {"ext_escape.onnx", CC_ERR_FORMAT, {"conv1.weight", "../conv_external.bin", ".."}},
    {"ext_absolute.onnx", CC_ERR_FORMAT, {"/etc/hostname", "relative", NULL}},
    {"ext_missing.onnx", CC_ERR_IO, {"absent.bin", NULL}},
    {"ext_beyond.onnx", CC_ERR_FORMAT, {"beyond the end", "conv1.weight", NULL}},
    {"unknown_op.onnx", CC_ERR_UNSUPPORTED, {"FooBar", "'mystery'", "opset 13"}},
    {"undefined_input.onnx", CC_ERR_FORMAT, {"'nowhere'", "relu1", NULL}},
    {"bad_attr_type.onnx", CC_ERR_FORMAT, {"strides", "conv1", "INTS"}},
    {"old_opset.onnx", CC_ERR_UNSUPPORTED, {"opset 6", NULL}},
    {"pad_maxpool.onnx", CC_ERR_UNSUPPORTED, {"MaxPool", "Pad", NULL}},
    {"does_not_exist.onnx", CC_ERR_IO, {"does_not_exist.onnx", NULL}},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(errors); k++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", DIR, errors[k].file);
        cc_net *net = (cc_net *)&net; /* must be reset to NULL */
        const cc_status status = cc_net_load_onnx(path, NULL, &net);
        if (status != errors[k].status)
            fail_msg("%s: %s (%s), expected %s", errors[k].file, cc_status_str(status),
                     cc_last_error(), cc_status_str(errors[k].status));
        assert_null(net);
        for (int w = 0; w < 3 && errors[k].words[w] != NULL; w++)
            if (strstr(cc_last_error(), errors[k].words[w]) == NULL)
                fail_msg("%s: the message '%s' lacks '%s'", errors[k].file, cc_last_error(),
                         errors[k].words[w]);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_load_onnx(NULL, NULL, &net), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_load_onnx(DIR "conv_raw.onnx", NULL, NULL), CC_ERR_INVALID_ARG);
    const cc_onnx_options bad_layout = {(cc_layout)7, 0}, bad_batch = {CC_NCHW, -1};
    assert_int_equal(cc_net_load_onnx(DIR "conv_raw.onnx", &bad_layout, &net),
                     CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_load_onnx(DIR "conv_raw.onnx", &bad_batch, &net),
                     CC_ERR_INVALID_ARG);
    assert_null(net);
    cc_onnx_model_info *info = NULL;
    assert_int_equal(cc_onnx_inspect(NULL, &info), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_onnx_inspect(DIR "conv_raw.onnx", NULL), CC_ERR_INVALID_ARG);
    cc_onnx_info_free(NULL);
}

/* A scratch directory for rewritten files. */
static char scratch[64];

static int make_scratch(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "/tmp/colconv_onnx_parse.XXXXXX");
    return mkdtemp(scratch) == NULL;
}

static int remove_scratch(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/model.onnx", scratch);
    unlink(path);
    return rmdir(scratch);
}

/* Loads bytes written as a model file; returns the status (no crash, no
 * leak: ASan watches), destroying the network if one was made. */
static cc_status load_bytes(const unsigned char *bytes, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/model.onnx", scratch);
    tst_write_file(path, bytes, size);
    cc_net *net = NULL;
    const cc_status status = cc_net_load_onnx(path, NULL, &net);
    assert_true((status == CC_OK) == (net != NULL));
    if (net != NULL)
        assert_int_equal(cc_net_build(net, NULL), CC_OK);
    cc_net_destroy(net);
    cc_onnx_model_info *info = NULL;
    const cc_status inspected = cc_onnx_inspect(path, &info);
    assert_true((inspected == CC_OK) == (info != NULL));
    cc_onnx_info_free(info);
    return status;
}

/* Every prefix of a valid file is refused as malformed or incomplete. */
static void test_truncated(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = tst_read_file(DIR "shape_chain.onnx", &size);
    for (size_t len = 0; len < size; len++) {
        const cc_status status = load_bytes(bytes, len);
        if (status != CC_ERR_FORMAT && status != CC_ERR_UNSUPPORTED)
            fail_msg("the first %zu of %zu bytes: %s (%s)", len, size, cc_status_str(status),
                     cc_last_error());
    }
    assert_int_equal(load_bytes(bytes, size), CC_OK);
    free(bytes);
}

/* Seeded corruptions: one to four bytes overwritten; any status but a crash. */
static void test_corrupted(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = tst_read_file(DIR "shape_chain.onnx", &size);
    unsigned char *copy = malloc(size);
    assert_non_null(copy);
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    int refused = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(copy, bytes, size);
        const int changes = tst_rng_int(&rng, 1, 4);
        for (int c = 0; c < changes; c++)
            copy[tst_rng_int(&rng, 0, (int)size - 1)] = (unsigned char)tst_rng_int(&rng, 0, 255);
        refused += load_bytes(copy, size) != CC_OK;
    }
    assert_true(refused > 0);
    free(copy);
    free(bytes);
}

/* A varint's bytes at out; returns their count. */
static size_t varint(uint64_t v, unsigned char *out)
{
    size_t n = 0;
    do {
        out[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

/* Graphs nested `depth` deep through attributes: ModelProto.graph (7) ->
 * GraphProto.node (1) -> NodeProto.attribute (5) -> AttributeProto.g (6) ->
 * GraphProto.node ... Built from the inside out. */
static unsigned char *nested(int depth, size_t *size)
{
    const size_t capacity = (size_t)depth * 64 + 64;
    unsigned char *a = calloc(capacity, 1), *b = calloc(capacity, 1);
    assert_true(a != NULL && b != NULL);
    size_t len = 0;
    static const unsigned char fields[3] = {6, 5, 1}; /* g, attribute, node: inside out */
    for (int level = 0; level < depth; level++)
        for (int f = 0; f < 3; f++) {
            size_t n = 0;
            b[n++] = (unsigned char)(fields[f] << 3 | 2);
            n += varint(len, b + n);
            memcpy(b + n, a, len);
            len += n;
            unsigned char *t = a;
            a = b;
            b = t;
        }
    b[0] = 7 << 3 | 2;
    size_t n = 1 + varint(len, b + 1);
    memcpy(b + n, a, len);
    *size = n + len;
    free(a);
    return b;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = nested(1000, &size);
    assert_int_equal(load_bytes(bytes, size), CC_ERR_FORMAT);
    assert_non_null(strstr(cc_last_error(), "nested"));
    free(bytes);
    /* A few levels parse, and fail later for want of an input. */
    bytes = nested(3, &size);
    assert_int_equal(load_bytes(bytes, size), CC_ERR_FORMAT);
    assert_null(strstr(cc_last_error(), "nested"));
    free(bytes);
}

static void test_inspect(void **state)
{
    (void)state;
    cc_onnx_model_info *info = NULL;
    assert_int_equal(cc_onnx_inspect(DIR "shape_chain.onnx", &info), CC_OK);
    assert_int_equal(info->input_count, 1);
    assert_int_equal(info->output_count, 1);
    assert_string_equal(info->inputs[0].name, "x");
    assert_int_equal(info->inputs[0].elem_type, 1);
    assert_int_equal(info->inputs[0].rank, 4);
    assert_true(info->inputs[0].dims[0] == -1);
    assert_string_equal(info->inputs[0].dim_params[0], "N");
    assert_true(info->inputs[0].dims[1] == 3 && info->inputs[0].dims[2] == 7 &&
                info->inputs[0].dims[3] == 5);
    assert_null(info->inputs[0].dim_params[1]);
    assert_string_equal(info->outputs[0].name, "logits");
    assert_int_equal(info->outputs[0].rank, 2);
    assert_true(info->outputs[0].dims[1] == 6);
    assert_true(info->opset == 13 && info->ir_version == 7);
    assert_string_equal(info->producer, "make_onnx_parse_cases");
    assert_string_equal(info->graph_name, "parse");
    cc_onnx_info_free(info);
    /* A model colconv cannot run still inspects. */
    assert_int_equal(cc_onnx_inspect(DIR "unknown_op.onnx", &info), CC_OK);
    assert_string_equal(info->outputs[0].name, "y");
    cc_onnx_info_free(info);
    assert_int_equal(cc_onnx_inspect(DIR "does_not_exist.onnx", &info), CC_ERR_IO);
    assert_null(info);
}

/* Every allocation of a load failing in turn: CC_ERR_NOMEM, nothing leaked,
 * until the load needs no more and succeeds. */
static void test_allocation_failures(void **state)
{
    (void)state;
    tst_failing_allocator f;
    for (int fail_at = 1;; fail_at++) {
        tst_failing_allocator_install(&f, fail_at);
        cc_net *net = NULL;
        const cc_status status = cc_net_load_onnx(DIR "conv_external.onnx", NULL, &net);
        if (!f.failed) {
            assert_int_equal(status, CC_OK);
            cc_net_destroy(net);
            cc_set_allocator(NULL);
            assert_int_equal(f.live, 0);
            assert_true(fail_at > 10);
            break;
        }
        if (status != CC_ERR_NOMEM)
            fail_msg("allocation %d failing gave %s (%s)", fail_at, cc_status_str(status),
                     cc_last_error());
        assert_null(net);
        cc_set_allocator(NULL);
        if (f.live != 0)
            fail_msg("allocation %d failing leaked %ld blocks", fail_at, f.live);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage),
        cmocka_unit_test(test_auto_pad),
        cmocka_unit_test(test_shape_chain),
        cmocka_unit_test(test_pad_folded),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, make_scratch, remove_scratch);
}
