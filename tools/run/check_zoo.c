/* check_zoo_vs_onnx NAME DIR: the zoo's network NAME (vgg16 or resnet50)
 * with torchvision's weights (DIR/NAME.ccw) against the same torchvision
 * network exported to ONNX (DIR/NAME.onnx) and imported, on DIR/NAME.x.npy,
 * and against PyTorch's output DIR/NAME.y.npy. The files come from
 * tools/make_onnx_models.py --models vgg16,resnet50 --zoo-weights --out DIR.
 * The zoo ends in a softmax that torchvision's networks do not have, so the
 * three are compared as probabilities: softmax of the import's and of
 * PyTorch's logits, within 1e-4; and the import's logits against PyTorch's,
 * within 1e-4 * max(1, max |PyTorch's|). Exit 0 when all agree, 1 when not, 2 on
 * bad arguments or files. Too big for CI: run by hand. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colconv.h"
#include "npy.h"

/* Softmax of each row of a [rows][cols] array, in place, in double. */
static void softmax_rows(float *data, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float *row = data + r * cols;
        double peak = row[0], sum = 0;
        for (size_t c = 1; c < cols; c++)
            peak = row[c] > peak ? row[c] : peak;
        for (size_t c = 0; c < cols; c++)
            sum += exp((double)row[c] - peak);
        for (size_t c = 0; c < cols; c++)
            row[c] = (float)(exp((double)row[c] - peak) / sum);
    }
}

static double max_abs(const float *data, size_t count)
{
    double m = 0;
    for (size_t i = 0; i < count; i++)
        m = fabs(data[i]) > m ? fabs(data[i]) : m;
    return m;
}

/* max |a - b| (infinite on a NaN). */
static double max_diff(const float *a, const float *b, size_t count)
{
    double m = 0;
    for (size_t i = 0; i < count; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (isnan(d))
            return INFINITY;
        m = d > m ? d : m;
    }
    return m;
}

/* Builds and runs net on x into a new array of its output count; NULL with
 * a message when any step fails (net is destroyed either way). */
static float *run_net(cc_net *net, cc_status status, const char *what, const npy_array *x)
{
    float *y = NULL;
    if (status == CC_OK)
        status = cc_net_build(net, NULL);
    if (status == CC_OK && cc_net_input_count(net) != x->count) {
        fprintf(stderr, "check_zoo_vs_onnx: %s takes %zu floats, the input has %zu\n", what,
                cc_net_input_count(net), x->count);
        cc_net_destroy(net);
        return NULL;
    }
    if (status == CC_OK && (y = malloc(cc_net_output_count(net) * sizeof *y)) == NULL)
        status = CC_ERR_NOMEM;
    if (status == CC_OK)
        status = cc_net_run(net, x->data, y);
    if (status != CC_OK) {
        fprintf(stderr, "check_zoo_vs_onnx: %s: %s\n", what, cc_last_error());
        free(y);
        y = NULL;
    }
    cc_net_destroy(net);
    return y;
}

static bool report(const char *what, double diff, double tolerance)
{
    const bool ok = diff <= tolerance;
    printf("  %-44s max |difference| %.3g (tolerance %.3g): %s\n", what, diff, tolerance,
           ok ? "ok" : "DIFFERENT");
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "vgg16") != 0 && strcmp(argv[1], "resnet50") != 0)) {
        fprintf(stderr, "usage: check_zoo_vs_onnx vgg16|resnet50 DIR (DIR holding NAME.onnx, "
                        "NAME.ccw, NAME.x.npy, NAME.y.npy)\n");
        return 2;
    }
    const char *name = argv[1];
    char path[4][1024], error[NPY_ERROR_SIZE];
    static const char *const suffix[4] = {".onnx", ".ccw", ".x.npy", ".y.npy"};
    for (int i = 0; i < 4; i++)
        snprintf(path[i], sizeof path[i], "%s/%s%s", argv[2], name, suffix[i]);
    npy_array x = {0}, y = {0};
    if (npy_read(path[2], &x, error) != 0 || npy_read(path[3], &y, error) != 0 || y.rank != 2) {
        fprintf(stderr, "check_zoo_vs_onnx: %s\n", y.data != NULL ? "y is not [N][classes]" : error);
        npy_free(&x), npy_free(&y);
        return 2;
    }
    cc_net *zoo = NULL, *imported = NULL;
    cc_status status = cc_net_zoo_create(name, CC_NCHW, (int)x.shape[0], &zoo);
    if (status == CC_OK)
        status = cc_net_load_weights(zoo, path[1]);
    float *p_zoo = run_net(zoo, status, "the zoo's network", &x);
    const cc_onnx_options options = {CC_NCHW, (int)x.shape[0]};
    status = cc_net_load_onnx(path[0], &options, &imported);
    float *logits = run_net(imported, status, "the ONNX import", &x);
    int code = 2;
    if (p_zoo != NULL && logits != NULL) {
        const size_t count = y.count;
        const double tolerance = 1e-4 * fmax(1.0, max_abs(y.data, count));
        printf("%s, batch %lld, %lld classes:\n", name, (long long)y.shape[0],
               (long long)y.shape[1]);
        bool ok = report("import's logits vs PyTorch's", max_diff(logits, y.data, count),
                         tolerance);
        softmax_rows(logits, (size_t)y.shape[0], (size_t)y.shape[1]);
        softmax_rows(y.data, (size_t)y.shape[0], (size_t)y.shape[1]);
        /* Probabilities are at most 1: the bound is 1e-4. */
        ok &= report("zoo's probabilities vs the import's", max_diff(p_zoo, logits, count), 1e-4);
        ok &= report("zoo's probabilities vs PyTorch's", max_diff(p_zoo, y.data, count), 1e-4);
        code = ok ? 0 : 1;
    }
    free(p_zoo);
    free(logits);
    npy_free(&x);
    npy_free(&y);
    return code;
}
