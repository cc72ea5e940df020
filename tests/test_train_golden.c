/* The trainer against PyTorch 1.13's autograd and torch.optim
 * (tests/golden/train/, made by tools/make_train_golden.py): for LeNet-5
 * (the zoo's "lenet5" with a softmax appended), Caffe's LeNet ("lenet") and
 * a ResNet bottleneck block with batch norm in training mode, one fixed
 * batch of 3: the loss and every tensor's gradient of the first step, and
 * every tensor (batch norm running statistics included) after three Adam
 * and three SGD-momentum steps, within 1e-4 of each tensor's largest value,
 * in NCHW and NHWC. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colconv/train.h"

#define GOLDEN_DIR COLCONV_TEST_DATA_DIR "/golden/train/"
#define BATCH 3
#define TOLERANCE 1e-4

/* ---- the colconv weights format (docs/weights-format.md), read back ---- */

typedef struct {
    char name[256];
    size_t count;
    float *data;
} named_tensor;

typedef struct {
    int count;
    named_tensor *tensors;
} tensor_file;

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads every record; the checksums are the library's business, not here. */
static tensor_file read_tensors(const char *path)
{
    size_t size, at = 16;
    unsigned char *bytes = tst_read_file(path, &size);
    assert_true(size >= 16 && memcmp(bytes, "CCWEIGHT", 8) == 0);
    tensor_file f = {(int)get_u32(bytes + 12), NULL};
    f.tensors = calloc((size_t)f.count, sizeof *f.tensors);
    assert_non_null(f.tensors);
    for (int t = 0; t < f.count; t++) {
        named_tensor *nt = &f.tensors[t];
        const uint32_t len = get_u32(bytes + at);
        assert_true(len < sizeof nt->name && at + 4 + len + 4 <= size);
        memcpy(nt->name, bytes + at + 4, len);
        at += 4 + len;
        const uint32_t rank = get_u32(bytes + at);
        at += 4;
        nt->count = 1;
        for (uint32_t d = 0; d < rank; d++, at += 4)
            nt->count *= get_u32(bytes + at);
        assert_true(at + nt->count * 4 + 4 <= size);
        nt->data = malloc(nt->count * sizeof(float));
        assert_non_null(nt->data);
        memcpy(nt->data, bytes + at, nt->count * sizeof(float)); /* little-endian host */
        at += nt->count * 4 + 4;
    }
    assert_int_equal(at, size);
    free(bytes);
    return f;
}

static void free_tensors(tensor_file *f)
{
    for (int t = 0; t < f->count; t++)
        free(f->tensors[t].data);
    free(f->tensors);
}

/* ---- the networks ---- */

static cc_net *bottleneck_net(cc_layout layout)
{
    cc_net *net;
    cc_node x;
    assert_int_equal(cc_net_create(layout, BATCH, 16, 7, 7, &net), CC_OK);
    assert_int_equal(cc_net_add_bottleneck(net, "block", cc_net_input(net), 8, 32, 2, &x), CC_OK);
    assert_int_equal(cc_net_add_global_pool(net, "pool", x, CC_POOL_AVG, &x), CC_OK);
    assert_int_equal(cc_net_add_fc(net, "fc", x, 10, &x), CC_OK);
    assert_int_equal(cc_net_add_softmax(net, "prob", x, &x), CC_OK);
    return net;
}

/* The network with the golden's starting weights. */
static cc_net *make_net(const char *name, cc_layout layout)
{
    cc_net *net;
    if (strcmp(name, "bottleneck") == 0) {
        net = bottleneck_net(layout);
    } else {
        assert_int_equal(cc_net_zoo_create(name, layout, BATCH, &net), CC_OK);
        if (strcmp(name, "lenet5") == 0) { /* its logits, then the softmax */
            cc_node prob;
            assert_int_equal(
                cc_net_add_softmax(net, "prob", cc_net_node_count(net) - 1, &prob), CC_OK);
        }
    }
    char path[512];
    snprintf(path, sizeof path, GOLDEN_DIR "%s.ccw", name);
    if (cc_net_load_weights(net, path) != CC_OK)
        fail_msg("%s: %s", path, cc_last_error());
    return net;
}

/* The batch in the network's layout, and its labels. */
static float *read_input(const char *name, cc_net *net, cc_layout layout, int32_t *labels)
{
    char path[512];
    size_t size;
    snprintf(path, sizeof path, GOLDEN_DIR "%s.labels.i32", name);
    unsigned char *bytes = tst_read_file(path, &size);
    assert_int_equal(size, BATCH * sizeof(int32_t));
    memcpy(labels, bytes, size);
    free(bytes);
    snprintf(path, sizeof path, GOLDEN_DIR "%s.input.f32", name);
    float *nchw = (float *)tst_read_file(path, &size);
    const size_t count = cc_net_input_count(net);
    assert_int_equal(size, count * sizeof(float));
    if (layout == CC_NCHW)
        return nchw;
    cc_net_layer_info in;
    assert_int_equal(cc_net_get_layer_info(net, cc_net_input(net), &in), CC_OK);
    const size_t hw = (size_t)in.h * (size_t)in.w;
    float *nhwc = malloc(size);
    assert_non_null(nhwc);
    for (size_t n = 0; n < BATCH; n++)
        for (size_t c = 0; c < (size_t)in.c; c++)
            for (size_t p = 0; p < hw; p++)
                nhwc[(n * hw + p) * (size_t)in.c + c] = nchw[(n * (size_t)in.c + c) * hw + p];
    free(nchw);
    return nhwc;
}

static void expect_close(const char *what, const char *tensor, const float *got,
                         const float *want, size_t count)
{
    const double tol = TOLERANCE * tst_max_abs(want, count);
    const size_t bad = tst_first_mismatch(got, want, count, tol);
    if (bad != count)
        fail_msg("%s %s[%zu] = %.8g, torch %.8g (tolerance %.3g)", what, tensor, bad,
                 (double)got[bad], (double)want[bad], tol);
}

typedef enum { GOLDEN_ADAM, GOLDEN_SGD } golden_optimizer;

/* The recipe of tools/make_train_golden.py's OPTIMIZERS. */
static cc_optimizer_params golden_params(golden_optimizer which)
{
    cc_optimizer_params p;
    if (which == GOLDEN_ADAM) {
        cc_optimizer_defaults(CC_OPT_ADAM, 1e-3f, &p);
        p.eps = 1e-5f;
    } else {
        cc_optimizer_defaults(CC_OPT_SGD, 0.01f, &p);
        p.momentum = 0.9f;
    }
    return p;
}

static void check_network(const char *name, cc_layout layout, golden_optimizer which)
{
    char what[128], path[512];
    snprintf(what, sizeof what, "%s %s %s:", name, layout == CC_NCHW ? "NCHW" : "NHWC",
             which == GOLDEN_ADAM ? "adam" : "sgd");
    cc_net *net = make_net(name, layout);
    int32_t labels[BATCH];
    float *input = read_input(name, net, layout, labels);
    const cc_optimizer_params params = golden_params(which);
    cc_trainer *trainer;
    if (cc_trainer_create(net, BATCH, &params, 1, &trainer) != CC_OK)
        fail_msg("%s cc_trainer_create: %s", what, cc_last_error());

    float loss = NAN, want_loss;
    size_t size;
    assert_int_equal(cc_trainer_step(trainer, input, labels, &loss, NULL), CC_OK);
    snprintf(path, sizeof path, GOLDEN_DIR "%s.loss.f32", name);
    unsigned char *bytes = tst_read_file(path, &size);
    assert_int_equal(size, sizeof want_loss);
    memcpy(&want_loss, bytes, sizeof want_loss);
    free(bytes);
    expect_close(what, "loss", &loss, &want_loss, 1);

    snprintf(path, sizeof path, GOLDEN_DIR "%s.grads.ccw", name);
    tensor_file grads = read_tensors(path);
    assert_true(grads.count > 0);
    for (int t = 0; t < grads.count; t++) {
        const named_tensor *g = &grads.tensors[t];
        float *got = malloc(g->count * sizeof(float));
        assert_non_null(got);
        if (cc_trainer_get_gradient(trainer, g->name, got, g->count) != CC_OK)
            fail_msg("%s gradient %s: %s", what, g->name, cc_last_error());
        expect_close(what, g->name, got, g->data, g->count);
        free(got);
    }
    free_tensors(&grads);

    for (int s = 0; s < 2; s++)
        assert_int_equal(cc_trainer_step(trainer, input, labels, NULL, NULL), CC_OK);
    snprintf(path, sizeof path, GOLDEN_DIR "%s.%s.ccw", name,
             which == GOLDEN_ADAM ? "adam3" : "sgd3");
    tensor_file after = read_tensors(path);
    assert_int_equal(after.count, cc_net_tensor_count(net));
    for (int t = 0; t < after.count; t++) {
        const named_tensor *w = &after.tensors[t];
        float *got = malloc(w->count * sizeof(float));
        assert_non_null(got);
        assert_int_equal(cc_net_get_tensor(net, w->name, got, w->count), CC_OK);
        expect_close(what, w->name, got, w->data, w->count);
        free(got);
    }
    free_tensors(&after);
    cc_trainer_destroy(trainer);
    cc_net_destroy(net);
    free(input);
}

static void check_both(const char *name)
{
    const cc_layout layouts[] = {CC_NCHW, CC_NHWC};
    for (int l = 0; l < 2; l++) {
        check_network(name, layouts[l], GOLDEN_ADAM);
        check_network(name, layouts[l], GOLDEN_SGD);
    }
}

static void test_lenet5(void **state)
{
    (void)state;
    check_both("lenet5");
}

static void test_lenet(void **state)
{
    (void)state;
    check_both("lenet");
}

static void test_bottleneck(void **state)
{
    (void)state;
    check_both("bottleneck");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenet5),
        cmocka_unit_test(test_lenet),
        cmocka_unit_test(test_bottleneck),
    };
    return cmocka_run_group_tests_name("train_golden", tests, NULL, NULL);
}
