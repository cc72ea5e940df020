/* colconv from C: one convolution checked against the reference path, then
 * Caffe's LeNet from the zoo on a batch of four random images.
 * Exits 0 when both give the expected results. */
#include <colconv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A small deterministic generator, so every run prints the same numbers. */
static float next_uniform(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void fill(float *data, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; i++)
        data[i] = next_uniform(&seed);
}

static int fail(const char *what, cc_status status)
{
    fprintf(stderr, "%s: %s: %s\n", what, cc_status_str(status), cc_last_error());
    return 1;
}

/* VGG-like 3x3 conv, 16 -> 32 channels on 28x28, "same" padding, ReLU. */
static int run_conv(void)
{
    cc_conv2d_params p = {
        .batch = 2, .in_channels = 16, .in_h = 28, .in_w = 28,
        .out_channels = 32, .kernel_h = 3, .kernel_w = 3,
        .layout = CC_NCHW, .activation = CC_ACT_RELU,
    };
    cc_status s = cc_conv2d_pad_same(&p);
    int oh = 0, ow = 0;
    if (s == CC_OK)
        s = cc_conv2d_output_size(&p, &oh, &ow);
    if (s != CC_OK)
        return fail("conv parameters", s);

    const size_t n_in = 2 * 16 * 28 * 28, n_w = 32 * 16 * 3 * 3, n_out = (size_t)2 * 32 * oh * ow;
    float *input = malloc(n_in * sizeof *input), *weights = malloc(n_w * sizeof *weights);
    float *bias = malloc(32 * sizeof *bias);
    float *fast = malloc(n_out * sizeof *fast), *slow = malloc(n_out * sizeof *slow);
    cc_conv2d *op = NULL, *ref = NULL;
    int rc = 1;
    if (!input || !weights || !bias || !fast || !slow)
        goto done;
    fill(input, n_in, 1), fill(weights, n_w, 2), fill(bias, 32, 3);

    if ((s = cc_conv2d_create(&p, CC_ALGO_AUTO, weights, bias, &op)) != CC_OK ||
        (s = cc_conv2d_create(&p, CC_ALGO_REFERENCE, weights, bias, &ref)) != CC_OK) {
        rc = fail("cc_conv2d_create", s);
        goto done;
    }
    if ((s = cc_conv2d_run(op, input, fast)) != CC_OK || (s = cc_conv2d_run(ref, input, slow)) != CC_OK) {
        rc = fail("cc_conv2d_run", s);
        goto done;
    }
    double worst = 0.0;
    for (size_t i = 0; i < n_out; i++)
        worst = fmax(worst, fabs((double)fast[i] - slow[i]));
    printf("conv 16x28x28 -> 32x%dx%d: path %s, threading %s, workspace %zu bytes, "
           "max |auto - reference| = %.2g\n",
           oh, ow, cc_algo_name(cc_conv2d_algo(op)), cc_threading_name(cc_conv2d_threading(op)),
           cc_conv2d_workspace_size(op), worst);
    rc = worst <= 1e-4 * 16 * 9 ? 0 : 1;
done:
    cc_conv2d_destroy(op);
    cc_conv2d_destroy(ref);
    free(input), free(weights), free(bias), free(fast), free(slow);
    return rc;
}

/* Caffe's LeNet ends in a softmax: each image's ten outputs sum to 1. */
static int run_net(void)
{
    cc_net *net = NULL;
    float *input = NULL, *output = NULL;
    int rc = 1;
    cc_status s = cc_net_zoo_create("lenet", CC_NCHW, 4, &net);
    if (s == CC_OK)
        s = cc_net_init_weights(net, CC_INIT_HE, 42);
    if (s == CC_OK)
        s = cc_net_build(net, NULL);
    if (s != CC_OK) {
        rc = fail("lenet", s);
        goto done;
    }
    const size_t n_in = cc_net_input_count(net), n_out = cc_net_output_count(net);
    input = malloc(n_in * sizeof *input), output = malloc(n_out * sizeof *output);
    if (!input || !output)
        goto done;
    fill(input, n_in, 4);
    if ((s = cc_net_run(net, input, output)) != CC_OK) {
        rc = fail("cc_net_run", s);
        goto done;
    }
    cc_net_stats stats;
    cc_net_get_stats(net, &stats);
    printf("lenet: %zu parameters, batch 4, classes:", stats.params);
    rc = 0;
    for (int image = 0; image < 4; image++) {
        const float *prob = output + image * 10;
        int best = 0;
        double sum = 0.0;
        for (int k = 0; k < 10; k++) {
            sum += prob[k];
            best = prob[k] > prob[best] ? k : best;
        }
        printf(" %d (p=%.3f)", best, prob[best]);
        rc |= fabs(sum - 1.0) > 1e-4;
    }
    printf("\n");
done:
    cc_net_destroy(net);
    free(input), free(output);
    return rc;
}

int main(void)
{
    printf("colconv %s (header %d.%d.%d), ISA %s, %d threads\n", cc_version(), CC_VERSION_MAJOR,
           CC_VERSION_MINOR, CC_VERSION_PATCH, cc_cpu_isa(), cc_get_num_threads());
    if (run_conv() != 0 || run_net() != 0) {
        fprintf(stderr, "example failed\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
