/* The trainer's backward pass: the nodes in reverse order, each from the
 * gradient of its output (summed over every layer that reads it) to the
 * gradients of its inputs and tensors. A node whose output gradient nothing
 * produced (no path to the loss) is skipped; an input that needs no
 * gradient (the network's input, or nothing trainable upstream) gets none. */
#include "backward.h"
#include "trainer_internal.h"

/* Where input k of node i takes its gradient: its buffer, *accumulate when
 * an earlier-visited reader already wrote a part of the sum. NULL when the
 * input needs no gradient. */
static float *input_grad(cc_trainer *t, int i, int k, bool *accumulate)
{
    const int j = t->net->nodes[i].inputs[k];
    *accumulate = false;
    if (!t->needs_grad[j])
        return NULL;
    *accumulate = t->live[j];
    t->live[j] = true;
    return t->grad[j];
}

static void backward_conv(cc_trainer *t, int i)
{
    const cc__node *x = &t->net->nodes[i];
    bool accumulate;
    float *dx = input_grad(t, i, 0, &accumulate);
    float *dbias = x->u.conv.no_bias ? NULL : cc__trainer_tensor_grad(t, i, 1);
    cc__conv_train_backward(&t->conv[i], cc__trainer_tensor(t, i, 0),
                            cc__trainer_value(t, x->inputs[0]), t->saved_col[i], t->grad[i],
                            dx, accumulate,
                            cc__trainer_tensor_grad(t, i, 0), dbias, t->workspace);
}

static void backward_fc(cc_trainer *t, int i, const cc__dims *in, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    bool accumulate;
    float *dx = input_grad(t, i, 0, &accumulate);
    cc__fc_backward(in, t->net->layout, x->u.fc_outputs, cc__trainer_tensor(t, i, 0),
                    cc__trainer_value(t, x->inputs[0]), t->grad[i], dx,
                    cc__trainer_tensor_grad(t, i, 0), cc__trainer_tensor_grad(t, i, 1),
                    accumulate, t->workspace, threads);
}

/* Batch norm's backward always writes dx: an input that needs no gradient
 * gets the workspace as a sink (sized for it at create). */
static void backward_batchnorm(cc_trainer *t, int i, const cc__dims *in, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    bool accumulate;
    float *dx = input_grad(t, i, 0, &accumulate);
    if (dx == NULL)
        dx = t->workspace;
    cc__batchnorm_backward(in, t->net->layout, cc__trainer_tensor(t, i, 0), t->bn_saved[i],
                           t->bn_saved[i] + in->c, cc__trainer_value(t, x->inputs[0]),
                           t->grad[i], dx, cc__trainer_tensor_grad(t, i, 0),
                           cc__trainer_tensor_grad(t, i, 1), accumulate, threads);
}

/* One input at a time: each has its own accumulate flag. */
static void backward_concat(cc_trainer *t, int i, const cc__dims *out, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    for (int k = 0; k < x->input_count; k++) {
        t->scatter[k] = NULL;
        t->channels[k] = t->net->nodes[x->inputs[k]].out.c;
    }
    for (int k = 0; k < x->input_count; k++) {
        bool accumulate;
        float *dx = input_grad(t, i, k, &accumulate);
        if (dx == NULL)
            continue;
        t->scatter[k] = dx;
        cc__concat_backward(out, t->net->layout, x->input_count, t->scatter, t->channels,
                            t->grad[i], accumulate, threads);
        t->scatter[k] = NULL;
    }
}

static void backward_add(cc_trainer *t, int i, size_t count, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    for (int k = 0; k < x->input_count; k++) {
        bool accumulate;
        float *dx = input_grad(t, i, k, &accumulate);
        if (dx != NULL)
            cc__add_backward(t->grad[i], dx, count, accumulate, threads);
    }
}

/* The layers whose only gradient is their input's. */
static void backward_simple(cc_trainer *t, int i, const cc__dims *in, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    bool accumulate;
    float *dx = input_grad(t, i, 0, &accumulate);
    if (dx == NULL)
        return;
    const cc_layout layout = t->net->layout;
    const float *v = cc__trainer_value(t, x->inputs[0]), *dy = t->grad[i];
    const size_t count = cc__dims_count(in);
    switch (x->kind) {
    case CC__NODE_POOL:
        cc__pool_backward(in, layout, &x->u.pool, v, dy, dx, accumulate, threads);
        break;
    case CC__NODE_GLOBAL_POOL:
        cc__global_pool_backward(in, layout, x->u.global_pool, v, dy, dx, accumulate, threads);
        break;
    case CC__NODE_ACTIVATION:
        cc__activation_backward(&x->u.act, v, t->value[i], dy, dx, count, accumulate,
                                threads);
        break;
    case CC__NODE_LRN:
        cc__lrn_backward(in, layout, &x->u.lrn, v, dy, dx, accumulate, t->workspace, threads);
        break;
    case CC__NODE_DROPOUT:
        cc__dropout_backward(CC__TRAIN_DROPOUT_P, cc__dropout_key(t->seed, (uint64_t)i, t->steps),
                             dy, dx, count, accumulate, threads);
        break;
    default:
        break;
    }
}

static void backward_node(cc_trainer *t, int i, int threads)
{
    const cc__node *x = &t->net->nodes[i];
    const cc__dims in = cc__trainer_dims(t, x->inputs[0], t->batch);
    switch (x->kind) {
    case CC__NODE_CONV:
        backward_conv(t, i);
        break;
    case CC__NODE_FC:
        backward_fc(t, i, &in, threads);
        break;
    case CC__NODE_BATCHNORM:
        backward_batchnorm(t, i, &in, threads);
        break;
    case CC__NODE_CONCAT: {
        const cc__dims out = cc__trainer_dims(t, i, t->batch);
        backward_concat(t, i, &out, threads);
        break;
    }
    case CC__NODE_ADD: {
        const cc__dims out = cc__trainer_dims(t, i, t->batch);
        backward_add(t, i, cc__dims_count(&out), threads);
        break;
    }
    default:
        backward_simple(t, i, &in, threads);
        break;
    }
}

void cc__trainer_backward(cc_trainer *t)
{
    const int threads = cc__trainer_threads(t);
    for (int i = t->net->node_count - 2; i >= 1; i--)
        if (t->live[i])
            backward_node(t, i, threads);
}
