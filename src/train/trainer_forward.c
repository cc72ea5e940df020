/* The trainer's forward pass: every node on its own (no fusion), each into
 * its own value buffer, in index order, on the network's current weights.
 * Training mode uses batch statistics (and updates the running ones) and
 * drops with the step's masks; inference mode uses the running statistics
 * and passes dropout through. */
#include <string.h>

#include "../conv/gemm.h"
#include "backward.h"
#include "trainer_internal.h"

static void forward_conv(cc_trainer *t, int i, int images, bool training)
{
    const cc__node *x = &t->net->nodes[i];
    const float *bias = x->u.conv.no_bias ? NULL : cc__trainer_tensor(t, i, 1);
    cc__conv_train_forward(&t->conv[i], cc__trainer_tensor(t, i, 0), bias,
                           cc__trainer_value(t, x->inputs[0]), t->value[i], t->workspace,
                           images, training ? t->saved_col[i] : NULL);
}

/* out[n][o] = bias[o] + sum_i in[n][i] W[o][i], the inputs in PyTorch's
 * (c, h, w) order: an NHWC image is permuted into the workspace first. */
static void forward_fc(cc_trainer *t, int i, int images)
{
    const cc__node *x = &t->net->nodes[i];
    const cc__dims d = cc__trainer_dims(t, x->inputs[0], images);
    const size_t pixels = (size_t)d.h * d.w, inputs = (size_t)d.c * pixels;
    const size_t outputs = (size_t)x->u.fc_outputs;
    const float *in = cc__trainer_value(t, x->inputs[0]);
    if (t->net->layout == CC_NHWC && pixels > 1) {
        for (size_t n = 0; n < (size_t)d.n; n++)
            for (size_t p = 0; p < pixels; p++)
                for (size_t c = 0; c < (size_t)d.c; c++)
                    t->workspace[(n * d.c + c) * pixels + p] = in[(n * pixels + p) * d.c + c];
        in = t->workspace;
    }
    float *out = t->value[i];
    const float *bias = cc__trainer_tensor(t, i, 1);
    for (size_t n = 0; n < (size_t)d.n; n++)
        memcpy(out + n * outputs, bias, outputs * sizeof(float));
    cc__sgemm_trans(false, true, (size_t)d.n, outputs, inputs, in, inputs,
                    cc__trainer_tensor(t, i, 0), inputs, 1.0f, out, outputs);
}

static void forward_concat(cc_trainer *t, int i, int images, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    for (int k = 0; k < x->input_count; k++) {
        t->gather[k] = cc__trainer_value(t, x->inputs[k]);
        t->channels[k] = t->net->nodes[x->inputs[k]].out.c;
    }
    const cc__dims d = cc__trainer_dims(t, i, images);
    cc__concat_run(&d, t->net->layout, x->input_count, t->gather, t->channels, t->value[i],
                   threads);
}

static void forward_add(cc_trainer *t, int i, size_t count, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    cc__add_run(cc__trainer_value(t, x->inputs[0]), cc__trainer_value(t, x->inputs[1]),
                t->value[i], count, NULL, threads);
    for (int k = 2; k < x->input_count; k++)
        cc__add_run(t->value[i], cc__trainer_value(t, x->inputs[k]), t->value[i], count, NULL,
                    threads);
}

static cc_status forward_batchnorm(cc_trainer *t, int i, const cc__dims *d, bool training,
                                   int threads)
{
    const cc__node *x = &t->net->nodes[i];
    const float *in = cc__trainer_value(t, x->inputs[0]);
    float *scale = cc__trainer_tensor(t, i, 0), *shift = cc__trainer_tensor(t, i, 1);
    float *mean = cc__trainer_tensor(t, i, 2), *var = cc__trainer_tensor(t, i, 3);
    if (training)
        return cc__batchnorm_train_forward(d, t->net->layout, scale, shift, x->u.bn_epsilon,
                                           CC__TRAIN_BN_MOMENTUM, mean, var, in, t->value[i],
                                           t->bn_saved[i], t->bn_saved[i] + d->c, threads);
    const cc_batchnorm_params p = {scale, shift, mean, var, x->u.bn_epsilon};
    float *mul = t->workspace, *add = t->workspace + d->c;
    cc__batchnorm_coefficients(&p, d->c, mul, add);
    cc__batchnorm_run(d, t->net->layout, mul, add, in, t->value[i], threads);
    return CC_OK;
}

static void forward_dropout(cc_trainer *t, int i, size_t count, bool training, int threads)
{
    const float *in = cc__trainer_value(t, t->net->nodes[i].inputs[0]);
    if (!training) {
        memcpy(t->value[i], in, count * sizeof(float));
        return;
    }
    const uint64_t key = cc__dropout_key(t->seed, (uint64_t)i, t->steps);
    cc__dropout_forward(CC__TRAIN_DROPOUT_P, key, in, t->value[i], count, threads);
}

static cc_status forward_node(cc_trainer *t, int i, int images, bool training, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    const cc__dims in = cc__trainer_dims(t, x->inputs[0], images);
    const cc__dims out = cc__trainer_dims(t, i, images);
    const float *v = cc__trainer_value(t, x->inputs[0]);
    const cc_layout layout = t->net->layout;
    switch (x->kind) {
    case CC__NODE_CONV:
        forward_conv(t, i, images, training);
        break;
    case CC__NODE_POOL:
        cc__pool_run(&in, layout, &x->u.pool, v, t->value[i], threads);
        break;
    case CC__NODE_GLOBAL_POOL:
        cc__global_pool_run(&in, layout, x->u.global_pool, v, t->value[i], threads);
        break;
    case CC__NODE_ACTIVATION:
        cc__activation_run(&x->u.act, v, t->value[i], cc__dims_count(&in), threads);
        break;
    case CC__NODE_FC:
        forward_fc(t, i, images);
        break;
    case CC__NODE_LRN:
        cc__lrn_run(&in, layout, &x->u.lrn, v, t->value[i], threads);
        break;
    case CC__NODE_CONCAT:
        forward_concat(t, i, images, threads);
        break;
    case CC__NODE_ADD:
        forward_add(t, i, cc__dims_count(&out), threads);
        break;
    case CC__NODE_BATCHNORM:
        return forward_batchnorm(t, i, &in, training, threads);
    case CC__NODE_DROPOUT:
        forward_dropout(t, i, cc__dims_count(&out), training, threads);
        break;
    case CC__NODE_INPUT:
    case CC__NODE_SOFTMAX:
        break;
    }
    return CC_OK;
}

cc_status cc__trainer_forward(cc_trainer *t, const float *input, int images, bool training)
{
    const int threads = cc__trainer_threads(t);
    t->input = input;
    for (int i = 1; i < t->net->node_count - 1; i++) {
        const cc_status status = forward_node(t, i, images, training, threads);
        if (status != CC_OK)
            return cc__net_fail_layer(status, t->net->nodes[i].name,
                                      cc__node_type(&t->net->nodes[i]));
    }
    return CC_OK;
}
