/* cc_net_run: every executing node in index order, on the buffers the plan
 * assigned; then the output node's values are copied to the caller. Runs of
 * one network hold its lock throughout: they share its activation buffers
 * and its conv workspace. */
#include <omp.h>
#include <string.h>

#include "../conv/conv_internal.h"
#include "../core/denormals.h"
#include "net_internal.h"

/* Where node i's output lives during this run (a concat input computed in
 * place: its slice of the concat's buffer). */
static const float *value(const cc_net *net, const float *input, int i)
{
    const int root = net->plan.storage[i];
    if (root == 0)
        return input;
    /* A concat gathered by its batch norm has no storage. */
    return net->plan.buffer[root] < 0 ? NULL
                                      : net->buffers[net->plan.buffer[root]] + net->plan.offset[i];
}

/* Where executing node i writes: never the caller's input (the plan roots
 * no written group there). */
static float *target(const cc_net *net, int i)
{
    return net->buffers[net->plan.buffer[net->plan.storage[i]]] + net->plan.offset[i];
}

/* Conv i into the shared workspace, grown first if the thread count rose
 * since the build; with the add fused into it, plus its residual. */
static cc_status run_conv(cc_net *net, const float *input, int i, const float *in, float *out)
{
    cc_conv2d *op = net->packed->ops[i];
    CC__NET_TRY(cc__net_workspace_reserve(net, cc__net_op_workspace_need(op)));
    const int residual = net->plan.residual[i];
    return cc__conv2d_run_ex(op, in, out, residual >= 0 ? value(net, input, residual) : NULL,
                             net->workspace, net->plan.pixel_stride[i]);
}

static void run_fc(const cc_net *net, int i, const float *in, float *out, int threads)
{
    const cc__node *x = &net->nodes[i];
    const cc__dims *d = &net->nodes[x->inputs[0]].out;
    const float *packed = net->packed->data[i];
    const float *weights =
        packed != NULL ? packed : net->weights + net->tensors[x->first_tensor].offset;
    const float *bias = net->weights + net->tensors[x->first_tensor + 1].offset;
    cc__fc_run(d->n, d->c * d->h * d->w, x->u.fc_outputs, weights, bias,
               net->plan.has_act[i] ? &net->plan.act[i] : NULL, in, out, threads);
}

/* Inputs the plan computed in their slice of the concat's buffer are left
 * as they are (NULL to cc__concat_run). */
static void run_concat(const cc_net *net, const float *input, int i, float *out, int threads)
{
    const cc__node *x = &net->nodes[i];
    const size_t per_channel = cc__concat_channel_floats(net, x);
    size_t offset = 0;
    for (int k = 0; k < x->input_count; k++) {
        const cc__node *in = &net->nodes[x->inputs[k]];
        const float *v = value(net, input, x->inputs[k]);
        const bool placed = v == out + offset;
        net->gather[k] = placed ? NULL : v;
        net->gather_channels[k] = in->out.c;
        offset += (size_t)in->out.c * per_channel;
    }
    cc__concat_run(&x->out, net->compute, x->input_count, net->gather, net->gather_channels, out,
                   threads);
}

/* Sums the inputs pairwise, starting from the one whose storage is the
 * output's (when in place) so it is read before it is overwritten. */
static void run_add(const cc_net *net, const float *input, int i, float *out, int threads)
{
    const cc__node *x = &net->nodes[i];
    int first = 0;
    for (int k = 0; k < x->input_count; k++)
        if (value(net, input, x->inputs[k]) == out)
            first = k;
    const size_t count = cc__dims_count(&x->out);
    const float *sum = value(net, input, x->inputs[first]);
    int added = 1;
    for (int k = 0; k < x->input_count; k++) {
        if (k == first)
            continue;
        const bool last = ++added == x->input_count;
        const cc_activation *act = last && net->plan.has_act[i] ? &net->plan.act[i] : NULL;
        cc__add_run(sum, value(net, input, x->inputs[k]), out, count, act, threads);
        sum = out;
    }
}

/* A batch norm, on its input or on the inputs of the concat it gathers. */
static void run_batchnorm(cc_net *net, const float *input, int i, float *out, int threads)
{
    const cc__node *x = &net->nodes[i];
    const cc__node *in = &net->nodes[x->inputs[0]];
    const float *mul = net->packed->data[i];
    const cc_activation *act = net->plan.has_act[i] ? &net->plan.act[i] : NULL;
    if (net->plan.exec[x->inputs[0]] != i) {
        cc__batchnorm_act_run(&in->out, net->compute, mul, mul + in->out.c, act,
                              value(net, input, x->inputs[0]), out, threads);
        return;
    }
    for (int k = 0; k < in->input_count; k++) {
        net->gather[k] = value(net, input, in->inputs[k]);
        net->gather_channels[k] = net->nodes[in->inputs[k]].out.c;
    }
    cc__batchnorm_act_gather_run(&in->out, net->compute, mul, mul + in->out.c, act,
                                 in->input_count, net->gather, net->gather_channels, out,
                                 threads);
}

static cc_status run_node(cc_net *net, const float *input, int i, int threads)
{
    const cc__node *x = &net->nodes[i];
    const cc__dims *d = x->input_count > 0 ? &net->nodes[x->inputs[0]].out : &x->out;
    const float *in = x->input_count > 0 ? value(net, input, x->inputs[0]) : input;
    float *out = target(net, i);
    switch (x->kind) {
    case CC__NODE_CONV:
        return run_conv(net, input, i, in, out);
    case CC__NODE_POOL:
        cc__pool_run(d, net->compute, &x->u.pool, in, out, threads);
        break;
    case CC__NODE_GLOBAL_POOL:
        cc__global_pool_run(d, net->compute, x->u.global_pool, in, out, threads);
        break;
    case CC__NODE_ACTIVATION:
        cc__activation_run(&x->u.act, in, out, cc__dims_count(d), threads);
        break;
    case CC__NODE_FC:
        run_fc(net, i, in, out, threads);
        break;
    case CC__NODE_SOFTMAX:
        cc__softmax_run(d, net->compute, in, out, threads);
        break;
    case CC__NODE_LRN:
        cc__lrn_run(d, net->compute, &x->u.lrn, in, out, threads);
        break;
    case CC__NODE_CONCAT:
        run_concat(net, input, i, out, threads);
        break;
    case CC__NODE_ADD:
        run_add(net, input, i, out, threads);
        break;
    case CC__NODE_BATCHNORM:
        run_batchnorm(net, input, i, out, threads);
        break;
    case CC__NODE_INPUT:
    case CC__NODE_DROPOUT:
        break;
    }
    return CC_OK;
}

/* The run proper, under the network's lock; layer_ms (or NULL) gets each
 * node's wall time. */
static cc_status run_locked(cc_net *net, const float *input, float *output, double *layer_ms)
{
    const int threads = cc__run_threads();
    if (net->reordered_input != NULL) {
        cc__net_reorder(&net->nodes[0].out, net->layout, input, net->reordered_input);
        input = net->reordered_input;
    }
    cc__team_lock(threads);
    const cc__flush_scope flush = cc__flush_begin(threads);
    cc_status status = CC_OK;
    for (int i = 1; i < net->node_count && status == CC_OK; i++) {
        if (net->plan.exec[i] != i)
            continue;
        const double start = layer_ms != NULL ? omp_get_wtime() : 0.0;
        status = run_node(net, input, i, threads);
        if (layer_ms != NULL)
            layer_ms[i] = (omp_get_wtime() - start) * 1e3;
        if (status != CC_OK)
            status = cc__net_fail_layer(status, net->nodes[i].name, cc__node_type(&net->nodes[i]));
    }
    cc__flush_end(flush);
    cc__team_unlock(threads);
    if (status != CC_OK)
        return status;
    const int last = net->node_count - 1;
    const float *result = value(net, input, last);
    if (cc__net_reorders(net, &net->nodes[last]))
        cc__net_reorder(&net->nodes[last].out, net->compute, result, output);
    else if (result != output)
        memmove(output, result, cc__node_bytes(&net->nodes[last]));
    return CC_OK;
}

static cc_status run_checked(cc_net *net, const float *input, float *output, double *layer_ms)
{
    if (net == NULL || input == NULL || output == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_run: %s is NULL",
                        net == NULL ? "net" : input == NULL ? "input" : "output");
    if (!net->built)
        return cc__fail(CC_ERR_INVALID_ARG, "net_run: the network is not built (cc_net_build)");
    if (layer_ms != NULL)
        for (int i = 0; i < net->node_count; i++)
            layer_ms[i] = 0.0;
    pthread_mutex_lock(&net->run_lock);
    const cc_status status = run_locked(net, input, output, layer_ms);
    pthread_mutex_unlock(&net->run_lock);
    return status;
}

cc_status cc_net_run(cc_net *net, const float *input, float *output)
{
    return run_checked(net, input, output, NULL);
}

cc_status cc_net_run_timed(cc_net *net, const float *input, float *output, double *layer_ms)
{
    if (layer_ms == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_run_timed: layer_ms is NULL");
    return run_checked(net, input, output, layer_ms);
}
