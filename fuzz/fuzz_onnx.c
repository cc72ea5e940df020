/* libFuzzer target: cc_net_load_onnx and cc_onnx_inspect. The bytes are an
 * ONNX model file (written to a private directory, so that external data
 * can only name files there). Each call must give a documented status with
 * a message, a network exactly when it succeeds, and a loaded network must
 * build and run; networks whose activations or work would be large (shapes
 * come from the file) are checked up to the build only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colconv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ACTIVATION_BYTES ((size_t)64 << 20)
#define MAX_RUN_FLOPS ((uint64_t)200 << 20)

static char dir[64], path[96];

static void require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_onnx: %s (%s)\n", what, cc_last_error());
        abort();
    }
}

static bool documented(cc_status s)
{
    return s == CC_OK || s == CC_ERR_FORMAT || s == CC_ERR_UNSUPPORTED || s == CC_ERR_IO ||
           s == CC_ERR_NOMEM;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_onnx.XXXXXX");
    require(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/model.onnx", dir);
}

/* Builds and, when small enough, runs a loaded network on a ramp. */
static void exercise(cc_net *net)
{
    cc_net_stats stats;
    require(cc_net_get_stats(net, &stats) == CC_OK, "stats");
    if (stats.activation_bytes > MAX_ACTIVATION_BYTES ||
        cc_net_input_count(net) > MAX_ACTIVATION_BYTES / sizeof(float))
        return;
    const cc_status built = cc_net_build(net, NULL);
    require(built == CC_OK || built == CC_ERR_NOMEM || built == CC_ERR_INVALID_ARG ||
                built == CC_ERR_UNSUPPORTED,
            "build status");
    if (built != CC_OK || stats.flops > MAX_RUN_FLOPS)
        return;
    const size_t in = cc_net_input_count(net), out = cc_net_output_count(net);
    float *x = malloc((in > 0 ? in : 1) * sizeof *x), *y = malloc((out > 0 ? out : 1) * sizeof *y);
    require(x != NULL && y != NULL, "malloc");
    for (size_t i = 0; i < in; i++)
        x[i] = (float)(i % 13) / 13.0f - 0.5f;
    require(cc_net_run(net, x, y) == CC_OK, "run");
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0')
        setup();
    FILE *f = fopen(path, "wb");
    require(f != NULL && (size == 0 || fwrite(data, 1, size, f) == size) && fclose(f) == 0,
            "write the model");
    const cc_onnx_options options = {size % 2 ? CC_NHWC : CC_NCHW, (int)(size % 3)};
    cc_net *net = (cc_net *)&net;
    const cc_status status = cc_net_load_onnx(path, &options, &net);
    require(documented(status), "load status");
    require((status == CC_OK) == (net != NULL), "a network exactly on success");
    require(status == CC_OK || cc_last_error()[0] != '\0', "a message on failure");
    if (net != NULL)
        exercise(net);
    cc_net_destroy(net);
    cc_onnx_model_info *info = (cc_onnx_model_info *)&info;
    const cc_status inspected = cc_onnx_inspect(path, &info);
    require(documented(inspected), "inspect status");
    require((inspected == CC_OK) == (info != NULL), "info exactly on success");
    for (int i = 0; info != NULL && i < info->input_count + info->output_count; i++) {
        const cc_onnx_value_info *v = i < info->input_count ? &info->inputs[i]
                                                            : &info->outputs[i - info->input_count];
        require(v->name != NULL && v->rank >= 0 && v->rank <= CC_ONNX_MAX_RANK, "value info");
    }
    cc_onnx_info_free(info);
    return 0;
}
