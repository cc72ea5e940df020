/* The trainer (include/colconv/train.h): whole-network gradients against
 * central finite differences of the training-mode loss, on a small network
 * with every layer kind, both layouts, batch 1 and 3; no allocation per
 * step after the first; trained weights saved and loaded into an inference
 * build give the trainer's evaluation outputs; trainer state saved and
 * loaded resumes bit for bit; a fixed batch is learnt; errors. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/train/backward.h"
#include "../src/train/trainer_internal.h"

#define SEED 20261206u

/* ---- networks ------------------------------------------------------------ */

static cc_node add_conv(cc_net *net, const char *name, cc_node in, int oc, int kh, int kw,
                        int stride, int pt, int pb, int pl, int pr, int groups, int no_bias)
{
    cc_net_conv_params p = {oc, kh, kw, stride, stride, pt, pb, pl, pr, 1, 1, groups, no_bias,
                            CC_ALGO_AUTO};
    cc_node out = -1;
    assert_int_equal(cc_net_add_conv(net, name, in, &p, &out), CC_OK);
    return out;
}

static cc_node add_act(cc_net *net, const char *name, cc_node in, cc_activation_kind kind,
                       float alpha)
{
    cc_activation a = {kind, alpha};
    cc_node out = -1;
    assert_int_equal(cc_net_add_activation(net, name, in, &a, &out), CC_OK);
    return out;
}

static cc_node add_pool(cc_net *net, const char *name, cc_node in, cc_pool_kind kind, int k,
                        int stride, int pad, int include_pad)
{
    cc_pool2d_params p = {kind, k, k, stride, stride, pad, pad, pad, pad, 0, include_pad};
    cc_node out = -1;
    assert_int_equal(cc_net_add_pool(net, name, in, &p, &out), CC_OK);
    return out;
}

/* Every layer kind: conv (asymmetric padding, groups, 1x1, no bias), batch
 * norm, ELU and tanh and sigmoid and ReLU, max and average pooling, concat
 * (of images and of flat vectors), LRN, add, dropout, global pooling, two
 * FCs (one reading an image), softmax. Input 3 x 9 x 8. */
static cc_net *every_kind_net(cc_layout layout, bool dropout)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, 3, 3, 9, 8, &net), CC_OK);
    cc_node x = add_conv(net, "conv_a", 0, 6, 3, 2, 1, 1, 0, 1, 1, 1, 1);   /* 6 x 8 x 9 */
    cc_node bn = -1;
    assert_int_equal(cc_net_add_batchnorm(net, "bn", x, 1e-5f, &bn), CC_OK);
    x = add_act(net, "elu", bn, CC_ACTIVATION_ELU, 1.0f);
    cc_node mx = add_pool(net, "maxpool", x, CC_POOL_MAX, 3, 2, 0, 0);     /* 6 x 3 x 4 */
    cc_node av = add_pool(net, "avgpool", x, CC_POOL_AVG, 2, 3, 1, 0);     /* 6 x 3 x 4 */
    cc_node parts[2] = {mx, av}, cat = -1, lrn = -1, sum = -1, drop = -1, g = -1;
    assert_int_equal(cc_net_add_concat(net, "concat", parts, 2, &cat), CC_OK);
    cc_lrn_params lp = {3, 1e-2f, 0.75f, 2.0f};
    assert_int_equal(cc_net_add_lrn(net, "lrn", cat, &lp, &lrn), CC_OK);
    cc_node y = add_conv(net, "conv_b", cat, 12, 1, 1, 1, 0, 0, 0, 0, 3, 0);
    y = add_act(net, "tanh", y, CC_ACTIVATION_TANH, 0.0f);
    cc_node pair[2] = {lrn, y};
    assert_int_equal(cc_net_add_add(net, "add", pair, 2, &sum), CC_OK);
    cc_node z = sum;
    if (dropout) {
        assert_int_equal(cc_net_add_dropout(net, "dropout", sum, &drop), CC_OK);
        z = drop;
    }
    cc_node fc1 = -1, fc2 = -1, flat = -1, out = -1;
    assert_int_equal(cc_net_add_fc(net, "fc1", z, 7, &fc1), CC_OK);
    fc1 = add_act(net, "sigmoid", fc1, CC_ACTIVATION_SIGMOID, 0.0f);
    assert_int_equal(cc_net_add_global_pool(net, "gpool", sum, CC_POOL_MAX, &g), CC_OK);
    g = add_act(net, "relu", g, CC_ACTIVATION_RELU, 0.0f);
    cc_node flats[2] = {fc1, g};
    assert_int_equal(cc_net_add_concat(net, "concat_flat", flats, 2, &flat), CC_OK);
    assert_int_equal(cc_net_add_fc(net, "fc2", flat, 5, &fc2), CC_OK);
    assert_int_equal(cc_net_add_softmax(net, "softmax", fc2, &out), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_XAVIER, SEED), CC_OK);
    return net;
}

static float *random_input(tst_rng *rng, size_t count)
{
    float *v = malloc(count * sizeof *v);
    assert_non_null(v);
    tst_fill(rng, v, count, false);
    return v;
}

static void random_labels(tst_rng *rng, int32_t *labels, int count, int classes)
{
    for (int n = 0; n < count; n++)
        labels[n] = tst_rng_int(rng, 0, classes - 1);
}

static cc_optimizer_params sgd(float lr)
{
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_SGD, lr, &p);
    return p;
}

/* ---- (a) gradients against finite differences ------------------------- */

/* Training-mode loss at the current weights: same batch statistics rule,
 * same dropout masks (the step counter does not move). */
static double loss_at(cc_trainer *t, const float *input, const int32_t *labels)
{
    float loss = 0.0f;
    assert_int_equal(cc__trainer_gradients(t, input, labels, false, &loss, NULL), CC_OK);
    return loss;
}

/* The central difference (L(w + h) - L(w - h)) / 2h at element w. */
static double difference(cc_trainer *t, float *w, float h, const float *input,
                         const int32_t *labels)
{
    const float keep = *w;
    *w = keep + h;
    const double up = loss_at(t, input, labels);
    *w = keep - h;
    const double down = loss_at(t, input, labels);
    *w = keep;
    return (up - down) / (2.0 * (double)h);
}

/* Up to `samples` elements of every trainable tensor: the analytic
 * gradient against central differences of the float loss, with h = 3e-3 *
 * max(1, |w|): rounding adds about 1e-7 / h to the quotient, curvature h^2.
 * The bound is 2e-3 of the tensor's largest gradient plus 2e-4. A window's
 * maximum (max pooling, ReLU) may change within +-h, putting a kink inside
 * the difference; so a miss is retried with h / 3, h / 10 and 3 h, and the
 * element fails only when all four miss (a wrong gradient misses at every
 * h). */
static void check_fd(cc_trainer *t, cc_net *net, const float *input, const int32_t *labels,
                     const char *what)
{
    float loss;
    assert_int_equal(cc__trainer_gradients(t, input, labels, true, &loss, NULL), CC_OK);
    const int samples = 12;
    for (int k = 0; k < net->tensor_count; k++) {
        if (!t->trainable[k])
            continue;
        const cc__tensor *tensor = &net->tensors[k];
        const float *grad = t->grads + tensor->offset;
        const double tolerance = 2e-3 * tst_max_abs(grad, tensor->count) + 2e-4;
        const size_t stride = tensor->count > (size_t)samples ? tensor->count / samples : 1;
        for (size_t i = 0; i < tensor->count; i += stride) {
            float *w = net->weights + tensor->offset + i;
            const float h = 3e-3f * fmaxf(1.0f, fabsf(*w));
            const float steps[4] = {h, h / 3.0f, h / 10.0f, 3.0f * h};
            double fd = 0.0;
            bool close = false;
            for (int s = 0; s < 4 && !close; s++) {
                fd = difference(t, w, steps[s], input, labels);
                close = fabs(fd - grad[i]) <= tolerance;
            }
            if (!close)
                fail_msg("%s: %s[%zu]: gradient %.6g, finite difference %.6g (tolerance %.3g, "
                         "seed %u)", what, tensor->name, i, (double)grad[i], fd, tolerance,
                         SEED);
        }
    }
}

static void check_net_fd(cc_layout layout, int batch, bool dropout)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED + (unsigned)batch);
    cc_net *net = every_kind_net(layout, dropout);
    const cc_optimizer_params p = sgd(0.1f);
    cc_trainer *t = NULL;
    assert_int_equal(cc_trainer_create(net, batch, &p, 7, &t), CC_OK);
    const size_t per_image = cc_net_input_count(net) / 3;
    float *input = random_input(&rng, per_image * (size_t)batch);
    int32_t labels[3];
    random_labels(&rng, labels, batch, 5);
    char what[64];
    snprintf(what, sizeof what, "%s batch %d%s", layout == CC_NCHW ? "nchw" : "nhwc", batch,
             dropout ? " dropout" : "");
    check_fd(t, net, input, labels, what);
    free(input);
    cc_trainer_destroy(t);
    cc_net_destroy(net);
}

static void test_gradients_fd(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++)
        for (int batch = 1; batch <= 3; batch += 2)
            for (int dropout = 0; dropout <= 1; dropout++)
                check_net_fd(layout == 0 ? CC_NCHW : CC_NHWC, batch, dropout);
}

/* ---- (b) no allocation per step ------------------------------------------ */

static void steps_allocate_nothing(cc_net *net, int batch, int threads)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED);
    cc_set_num_threads(threads);
    tst_failing_allocator counter;
    tst_failing_allocator_install(&counter, 0);
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAM, 1e-3f, &p);
    p.clip_norm = 1.0f;
    cc_trainer *t = NULL;
    assert_int_equal(cc_trainer_create(net, batch, &p, 3, &t), CC_OK);
    const size_t per_image = cc_net_input_count(net) / (size_t)net->nodes[0].out.n;
    float *input = random_input(&rng, per_image * (size_t)batch);
    int32_t labels[4];
    random_labels(&rng, labels, batch, t->classes);
    float loss;
    int correct;
    assert_int_equal(cc_trainer_step(t, input, labels, &loss, &correct), CC_OK);
    const int after_first = counter.calls;
    for (int i = 0; i < 3; i++)
        assert_int_equal(cc_trainer_step(t, input, labels, &loss, &correct), CC_OK);
    assert_int_equal(cc_trainer_evaluate(t, input, labels, batch, &loss, &correct), CC_OK);
    assert_int_equal(counter.calls, after_first);
    cc_trainer_destroy(t);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    free(input);
    cc_set_num_threads(1);
}

static void test_no_allocation_per_step(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++)
        for (int threads = 1; threads <= 2; threads++) {
            const cc_layout l = layout == 0 ? CC_NCHW : CC_NHWC;
            cc_net *net = every_kind_net(l, true);
            steps_allocate_nothing(net, 3, threads);
            cc_net_destroy(net);
            assert_int_equal(cc_net_zoo_create("lenet", l, 4, &net), CC_OK);
            assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, SEED), CC_OK);
            steps_allocate_nothing(net, 4, threads);
            cc_net_destroy(net);
        }
}

/* Every allocation of create failing in turn: CC_ERR_NOMEM, nothing leaked. */
static void test_create_out_of_memory(void **state)
{
    (void)state;
    cc_net *net = every_kind_net(CC_NHWC, true);
    const cc_optimizer_params p = sgd(0.1f);
    tst_failing_allocator counter;
    tst_failing_allocator_install(&counter, 0);
    cc_trainer *t = NULL;
    assert_int_equal(cc_trainer_create(net, 3, &p, 1, &t), CC_OK);
    cc_trainer_destroy(t);
    const int calls = counter.calls;
    assert_true(calls > 10);
    for (int fail_at = 1; fail_at <= calls; fail_at++) {
        tst_failing_allocator_install(&counter, fail_at);
        t = (cc_trainer *)&counter;
        assert_int_equal(cc_trainer_create(net, 3, &p, 1, &t), CC_ERR_NOMEM);
        assert_null(t);
        assert_int_equal(counter.live, 0);
    }
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    cc_net_destroy(net);
}

/* ---- (c) trained weights in an inference build ----------------------------
 * After Adam steps in training mode (batch norm's running statistics
 * updated, dropout on), the weights saved and loaded into an inference
 * build (batch norm folded, activations fused, dropout gone) give the
 * trainer's inference-mode softmax within 1e-4, and its losses over the
 * batch and over its first two images. */

static void softmax_rows(const float *logits, int rows, int classes, float *out)
{
    for (int n = 0; n < rows; n++) {
        double top = logits[n * classes], sum = 0.0;
        for (int c = 1; c < classes; c++)
            top = fmax(top, logits[n * classes + c]);
        for (int c = 0; c < classes; c++)
            sum += exp(logits[n * classes + c] - top);
        for (int c = 0; c < classes; c++)
            out[n * classes + c] = (float)(exp(logits[n * classes + c] - top) / sum);
    }
}

static void check_inference_build(cc_layout layout)
{
    tst_rng rng;
    tst_rng_seed(&rng, SEED + 3);
    cc_net *net = every_kind_net(layout, true);
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAM, 1e-2f, &p);
    cc_trainer *t = NULL;
    assert_int_equal(cc_trainer_create(net, 3, &p, 5, &t), CC_OK);
    const size_t inputs = cc_net_input_count(net);
    float *input = random_input(&rng, inputs);
    int32_t labels[3];
    for (int i = 0; i < 4; i++) {
        tst_fill(&rng, input, inputs, false);
        random_labels(&rng, labels, 3, 5);
        assert_int_equal(cc_trainer_step(t, input, labels, NULL, NULL), CC_OK);
    }
    float loss;
    int correct;
    assert_int_equal(cc_trainer_evaluate(t, input, labels, 3, &loss, &correct), CC_OK);
    float want[15], got[15];
    softmax_rows(t->value[t->logits], 3, 5, want);
    float loss2;
    assert_int_equal(cc_trainer_evaluate(t, input, labels, 2, &loss2, &correct), CC_OK);
    char path[] = "/tmp/colconv_trainer_XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cc_net_save_weights(net, path), CC_OK);
    cc_trainer_destroy(t);
    cc_net *inference = every_kind_net(layout, true);
    assert_int_equal(cc_net_load_weights(inference, path), CC_OK);
    assert_int_equal(cc_net_build(inference, NULL), CC_OK);
    assert_int_equal(cc_net_run(inference, input, got), CC_OK);
    const size_t bad = tst_first_mismatch(got, want, 15, 1e-4);
    if (bad < 15)
        fail_msg("%s: inference output %zu is %.7g, the trainer's %.7g",
                 layout == CC_NCHW ? "nchw" : "nhwc", bad, (double)got[bad], (double)want[bad]);
    double ce = 0.0;
    for (int n = 0; n < 3; n++)
        ce -= log(got[n * 5 + labels[n]]);
    assert_true(fabs(ce / 3 - loss) <= 1e-4 * fmax(1.0, loss));
    ce += log(got[2 * 5 + labels[2]]);
    assert_true(fabs(ce / 2 - loss2) <= 1e-4 * fmax(1.0, loss2));
    remove(path);
    free(input);
    cc_net_destroy(inference);
    cc_net_destroy(net);
}

static void test_inference_build_matches(void **state)
{
    (void)state;
    check_inference_build(CC_NCHW);
    check_inference_build(CC_NHWC);
}

/* ---- (d) resuming from a saved state -------------------------------------- */

/* `count` steps on the batches numbered from `first` (each drawn from its
 * number, so both runs see the same data). */
static void steps_from(cc_trainer *t, int first, int count)
{
    const size_t inputs = 3 * 3 * 9 * 8;
    float input[3 * 3 * 9 * 8];
    int32_t labels[3];
    for (int i = first; i < first + count; i++) {
        tst_rng rng;
        tst_rng_seed(&rng, SEED + 100 + (unsigned)i);
        tst_fill(&rng, input, inputs, false);
        random_labels(&rng, labels, 3, 5);
        assert_int_equal(cc_trainer_step(t, input, labels, NULL, NULL), CC_OK);
    }
}

static void test_state_resumes_exactly(void **state)
{
    (void)state;
    char path[] = "/tmp/colconv_trainer_XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAM, 1e-2f, &p);
    cc_net *a = every_kind_net(CC_NCHW, true), *b = every_kind_net(CC_NCHW, true);
    cc_trainer *ta = NULL, *tb = NULL;
    assert_int_equal(cc_trainer_create(a, 3, &p, 11, &ta), CC_OK);
    assert_int_equal(cc_trainer_create(b, 3, &p, 99, &tb), CC_OK);
    steps_from(ta, 0, 2);
    assert_int_equal(cc_trainer_set_epoch(ta, 4), CC_OK);
    assert_int_equal(cc_trainer_save(ta, path), CC_OK);
    steps_from(ta, 2, 2);
    assert_int_equal(cc_trainer_load(tb, path), CC_OK);
    assert_int_equal(tb->epoch, 4);
    steps_from(tb, 2, 2);
    assert_memory_equal(a->weights, b->weights, a->weight_floats * sizeof(float));
    float *sa = NULL, *sb = NULL;
    size_t floats = 0;
    cc__optimizer_state(ta->opt, &sa, &floats, NULL);
    cc__optimizer_state(tb->opt, &sb, NULL, NULL);
    assert_memory_equal(sa, sb, floats * sizeof(float));

    /* A damaged file: CC_ERR_FORMAT, and the trainer keeps its state. */
    size_t size;
    unsigned char *bytes = tst_read_file(path, &size);
    float *before = malloc(b->weight_floats * sizeof(float));
    assert_non_null(before);
    memcpy(before, b->weights, b->weight_floats * sizeof(float));
    const size_t flips[] = {0, 13, 70, size - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        bytes[flips[i]] ^= 0x10;
        tst_write_file(path, bytes, size);
        bytes[flips[i]] ^= 0x10;
        assert_int_equal(cc_trainer_load(tb, path), CC_ERR_FORMAT);
        assert_memory_equal(before, b->weights, b->weight_floats * sizeof(float));
    }
    tst_write_file(path, bytes, size - 5);
    assert_int_equal(cc_trainer_load(tb, path), CC_ERR_FORMAT);
    assert_non_null(strstr(cc_last_error(), "truncated"));
    assert_memory_equal(before, b->weights, b->weight_floats * sizeof(float));
    remove(path);
    assert_int_equal(cc_trainer_load(tb, path), CC_ERR_IO);
    assert_int_equal(tb->epoch, 4);
    free(bytes);
    free(before);
    cc_trainer_destroy(ta);
    cc_trainer_destroy(tb);
    cc_net_destroy(a);
    cc_net_destroy(b);
}

/* ---- learning -------------------------------------------------------------- */

/* A fixed batch is learnt: the loss falls to a tenth within 60 Adam steps
 * in both layouts, and the gradients read by name are the step's. */
static void test_learns_a_batch(void **state)
{
    (void)state;
    for (int layout = 0; layout < 2; layout++) {
        tst_rng rng;
        tst_rng_seed(&rng, SEED + 7);
        cc_net *net = every_kind_net(layout == 0 ? CC_NCHW : CC_NHWC, false);
        cc_optimizer_params p;
        cc_optimizer_defaults(CC_OPT_ADAM, 1e-2f, &p);
        cc_trainer *t = NULL;
        assert_int_equal(cc_trainer_create(net, 3, &p, 1, &t), CC_OK);
        float *input = random_input(&rng, cc_net_input_count(net));
        const int32_t labels[3] = {4, 0, 2};
        float first = 0.0f, loss = 0.0f;
        int correct = 0;
        for (int i = 0; i < 60; i++) {
            assert_int_equal(cc_trainer_step(t, input, labels, &loss, &correct), CC_OK);
            if (i == 0)
                first = loss;
        }
        assert_true(loss < 0.1f * first);
        assert_int_equal(correct, 3);
        float grad[5];
        assert_int_equal(cc_trainer_get_gradient(t, "fc2.bias", grad, 5), CC_OK);
        assert_memory_equal(grad, cc__trainer_tensor_grad(t, net->node_count - 2, 1),
                            sizeof grad);
        double f, b, o;
        assert_int_equal(cc_trainer_times(t, &f, &b, &o), CC_OK);
        assert_true(f > 0.0 && b > 0.0 && o > 0.0);
        free(input);
        cc_trainer_destroy(t);
        cc_net_destroy(net);
    }
}

/* ---- (e) errors ------------------------------------------------------------ */

static void test_errors(void **state)
{
    (void)state;
    const cc_optimizer_params p = sgd(0.1f);
    cc_trainer *t = (cc_trainer *)&p;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NCHW, 2, 1, 5, 5, &net), CC_OK);
    cc_node fc = -1, sm = -1;
    assert_int_equal(cc_net_add_fc(net, "fc", 0, 3, &fc), CC_OK);
    assert_int_equal(cc_trainer_create(net, 2, &p, 1, &t), CC_ERR_INVALID_ARG);
    assert_null(t);
    assert_non_null(strstr(cc_last_error(), "weights"));
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
    assert_int_equal(cc_trainer_create(net, 2, &p, 1, &t), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "softmax"));
    assert_int_equal(cc_net_add_softmax(net, "sm", fc, &sm), CC_OK);
    assert_int_equal(cc_trainer_create(NULL, 2, &p, 1, &t), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_create(net, 2, NULL, 1, &t), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_create(net, 2, &p, 1, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_create(net, 0, &p, 1, &t), CC_ERR_INVALID_ARG);
    cc_optimizer_params bad = p;
    bad.lr = -1.0f;
    assert_int_equal(cc_trainer_create(net, 2, &bad, 1, &t), CC_ERR_INVALID_ARG);
    assert_null(t);
    assert_int_equal(cc_trainer_create(net, 2, &p, 1, &t), CC_OK);

    float input[50] = {0}, g[3];
    int32_t labels[2] = {0, 3};
    float *before = malloc(net->weight_floats * sizeof(float));
    assert_non_null(before);
    memcpy(before, net->weights, net->weight_floats * sizeof(float));
    assert_int_equal(cc_trainer_step(t, input, labels, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_non_null(strstr(cc_last_error(), "label 3 of image 1"));
    labels[1] = -1;
    assert_int_equal(cc_trainer_evaluate(t, input, labels, 2, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_memory_equal(before, net->weights, net->weight_floats * sizeof(float));
    labels[1] = 2;
    assert_int_equal(cc_trainer_step(NULL, input, labels, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_step(t, NULL, labels, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_step(t, input, NULL, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_evaluate(t, input, labels, 3, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_evaluate(t, input, labels, 0, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_get_gradient(t, "fc.bias", g, 2), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_get_gradient(t, "nothing", g, 3), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_get_gradient(t, "fc.bias", NULL, 3), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_get_gradient(t, "fc.bias", g, 3), CC_OK);
    assert_int_equal(cc_trainer_set_epoch(t, -1), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_save(t, NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_save(t, "/nonexistent-dir/state"), CC_ERR_IO);
    assert_int_equal(cc_trainer_load(NULL, "x"), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_trainer_times(NULL, NULL, NULL, NULL), CC_ERR_INVALID_ARG);
    assert_true(cc_trainer_learning_rate(t) == 0.1f);
    cc_trainer_destroy(t);
    cc_trainer_destroy(NULL);
    free(before);

    /* a softmax in the middle cannot be trained */
    cc_net *mid = NULL;
    cc_node s1 = -1, f2 = -1, s2 = -1;
    assert_int_equal(cc_net_create(CC_NCHW, 1, 4, 1, 1, &mid), CC_OK);
    assert_int_equal(cc_net_add_softmax(mid, "s1", 0, &s1), CC_OK);
    assert_int_equal(cc_net_add_fc(mid, "f2", s1, 3, &f2), CC_OK);
    assert_int_equal(cc_net_add_softmax(mid, "s2", f2, &s2), CC_OK);
    assert_int_equal(cc_net_init_weights(mid, CC_INIT_HE, 1), CC_OK);
    assert_int_equal(cc_trainer_create(mid, 1, &p, 1, &t), CC_ERR_UNSUPPORTED);
    cc_net_destroy(mid);
    cc_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_fd),
        cmocka_unit_test(test_no_allocation_per_step),
        cmocka_unit_test(test_create_out_of_memory),
        cmocka_unit_test(test_inference_build_matches),
        cmocka_unit_test(test_state_resumes_exactly),
        cmocka_unit_test(test_learns_a_batch),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
