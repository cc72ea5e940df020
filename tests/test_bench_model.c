/* colconv-bench --model: an imported ONNX model (tests/onnx/lenet5.onnx)
 * timed end to end into a temporary directory, its JSON read back and
 * checked against bench/README.md (a "networks" entry of source "onnx",
 * named by the file, with its conv layers as the network runs them), and
 * the statuses of bad --model uses. */
#include "support.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

#define LENET5 COLCONV_TEST_DATA_DIR "/onnx/lenet5.onnx"

static int run_bench(int argc, const char **argv) { return bench_main(argc, (char **)argv); }

static cJSON *read_json(const char *path)
{
    size_t size = 0;
    unsigned char *bytes = tst_read_file(path, &size);
    cJSON *root = cJSON_ParseWithLength((const char *)bytes, size);
    free(bytes);
    assert_non_null(root);
    return root;
}

static const cJSON *item(const cJSON *object, const char *name)
{
    const cJSON *found = cJSON_GetObjectItemCaseSensitive(object, name);
    if (found == NULL)
        fail_msg("no \"%s\" in the report", name);
    return found;
}

static void check_network(const cJSON *net, int threads)
{
    assert_string_equal(item(net, "net")->valuestring, "lenet5.onnx");
    assert_string_equal(item(net, "source")->valuestring, "onnx");
    assert_string_equal(item(net, "status")->valuestring, "ok");
    assert_int_equal(item(net, "threads")->valueint, threads);
    assert_int_equal(item(net, "batch")->valueint, 1); /* the symbolic batch: 1 */
    assert_string_equal(item(net, "desc")->valuestring, "mb1ic1ih32iw32");
    assert_int_equal(item(net, "reps")->valueint, 4);
    assert_true(item(net, "ms_median")->valuedouble > 0);
    assert_int_equal(item(net, "params")->valueint, 61706);
    assert_true(cJSON_IsNull(item(net, "im2col_share")));
    /* LeNet-5's two convs, in order, with their outputs and work. */
    const cJSON *convs = item(net, "conv_layers");
    assert_int_equal(cJSON_GetArraySize(convs), 2);
    static const int shapes[2][3] = {{6, 28, 28}, {16, 10, 10}};
    static const double gflop[2] = {2 * 6 * 28 * 28 * 25e-9, 2 * 16 * 10 * 10 * 150e-9};
    for (int i = 0; i < 2; i++) {
        const cJSON *c = cJSON_GetArrayItem(convs, i);
        const cJSON *shape = item(c, "output_chw");
        for (int d = 0; d < 3; d++)
            assert_int_equal(cJSON_GetArrayItem(shape, d)->valueint, shapes[i][d]);
        assert_float_equal(item(c, "gflop")->valuedouble, gflop[i], 1e-12);
        assert_true(item(c, "ms")->valuedouble > 0);
        assert_true(item(c, "ms")->valuedouble <= item(net, "ms_max")->valuedouble);
    }
}

static void model_report(void **state)
{
    (void)state;
    char dir[] = "/tmp/colconv-bench-model-XXXXXX", json[64];
    assert_non_null(mkdtemp(dir));
    snprintf(json, sizeof json, "%s/model.json", dir);
    const char *argv[] = {"colconv-bench", "--model", LENET5, "--threads", "1,2", "--reps", "4",
                          "--warmup", "1", "--quiet", "--json", json};
    assert_int_equal(run_bench(12, argv), 0);
    cJSON *root = read_json(json);
    const cJSON *nets = item(root, "networks");
    assert_int_equal(cJSON_GetArraySize(nets), 2);
    check_network(cJSON_GetArrayItem(nets, 0), 1);
    check_network(cJSON_GetArrayItem(nets, 1), 2);
    assert_int_equal(cJSON_GetArraySize(item(root, "layers")), 0);
    cJSON_Delete(root);
    remove(json);
    rmdir(dir);
}

static void bad_model_uses(void **state)
{
    (void)state;
    const char *not_onnx[] = {"colconv-bench", "--model", "lenet5.npy"};
    const char *with_net[] = {"colconv-bench", "--model", LENET5, "--net", "lenet5"};
    const char *with_layer[] = {"colconv-bench", "--layer", "mb1ic3ih9oc4kh3", "--model", LENET5};
    const char *missing[] = {"colconv-bench", "--model", "/nonexistent/m.onnx", "--quiet",
                             "--json", "/nonexistent/r.json"};
    assert_int_equal(run_bench(3, not_onnx), 2);
    assert_int_equal(run_bench(5, with_net), 2);
    assert_int_equal(run_bench(5, with_layer), 2);
    assert_int_equal(run_bench(6, missing), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_report),
        cmocka_unit_test(bad_model_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
