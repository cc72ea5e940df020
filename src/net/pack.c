/* What a build derives from the weights: a conv operator per conv (with its
 * batch norm folded in and its activation fused; without a workspace of its
 * own, the network's shared one is given to each run), FC weights packed
 * for the batch (permuted first for NHWC; at batch 1 the tensor is used as
 * is when no permutation is needed), and the per-channel coefficients of
 * batch norms left standalone.
 *
 * Folding: a batch norm is out = x * mul[c] + add[c] with
 * mul = scale / sqrt(var + eps) and add = shift - mean * mul, so
 * bn(conv(x) + b) = conv_{W * mul}(x) + (b * mul + add): each output
 * channel's filter is scaled by mul[oc] and its bias becomes b * mul + add. */
#include <string.h>

#include "../conv/conv_internal.h"
#include "net_internal.h"

static const float *tensor_data(const cc_net *net, const float *weights, int tensor)
{
    return weights + net->tensors[tensor].offset;
}

static cc_batchnorm_params batchnorm_of(const cc_net *net, const float *weights, int node)
{
    const cc__node *bn = &net->nodes[node];
    const int t = bn->first_tensor;
    return (cc_batchnorm_params){
        .scale = tensor_data(net, weights, t),
        .shift = tensor_data(net, weights, t + 1),
        .mean = tensor_data(net, weights, t + 2),
        .variance = tensor_data(net, weights, t + 3),
        .epsilon = bn->u.bn_epsilon,
    };
}

/* mul[C] then add[C] of a batch norm node, checked. */
static cc_status batchnorm_coefficients(const cc_net *net, const float *weights, int node,
                                        float *mul_add)
{
    const cc_batchnorm_params p = batchnorm_of(net, weights, node);
    const int channels = net->nodes[node].out.c;
    CC__NET_TRY(cc__batchnorm_check(&p, channels));
    cc__batchnorm_coefficients(&p, channels, mul_add, mul_add + channels);
    return CC_OK;
}

static cc_act conv_act(const cc__plan *plan, int node)
{
    if (!plan->has_act[node])
        return CC_ACT_NONE;
    /* plan.c fuses only the activations that have a cc_act. */
    switch (plan->act[node].kind) {
    case CC_ACTIVATION_RELU:
        return CC_ACT_RELU;
    case CC_ACTIVATION_SIGMOID:
        return CC_ACT_SIGMOID;
    case CC_ACTIVATION_RELU_CAP:
        return CC_ACT_RELU6;
    default:
        return CC_ACT_TANH;
    }
}

static cc_conv2d_params conv_params(const cc_net *net, const cc__plan *plan, int node)
{
    const cc__node *x = &net->nodes[node];
    const cc__dims *in = &net->nodes[x->inputs[0]].out;
    return cc__net_conv2d_params(&x->u.conv, in, in->n, net->compute, conv_act(plan, node));
}

/* Scales each output channel's filter and rewrites the bias (see the top). */
static void fold(const float *weight, const float *bias, const float *mul_add, int channels,
                 size_t per_channel, float *folded, float *folded_bias)
{
    for (int oc = 0; oc < channels; oc++) {
        const float mul = mul_add[oc];
        for (size_t k = 0; k < per_channel; k++)
            folded[(size_t)oc * per_channel + k] = weight[(size_t)oc * per_channel + k] * mul;
        folded_bias[oc] = (bias != NULL ? bias[oc] : 0.0f) * mul + mul_add[channels + oc];
    }
}

/* Creates the operator of conv `node` with its batch norm folded in. */
static cc_status create_folded(const cc_net *net, const cc__plan *plan, const float *weights,
                               int node, cc_conv2d **op)
{
    const cc__node *x = &net->nodes[node];
    const cc__tensor *w = &net->tensors[x->first_tensor];
    const float *bias = x->u.conv.no_bias ? NULL : tensor_data(net, weights, x->first_tensor + 1);
    const int channels = x->out.c;
    const cc_conv2d_params p = conv_params(net, plan, node);
    float *scratch = cc__alloc_array(w->count + 3 * (size_t)channels, sizeof(float),
                                     "net_build: batch norm folding");
    if (scratch == NULL)
        return CC_ERR_NOMEM;
    float *folded_bias = scratch + w->count, *mul_add = folded_bias + channels;
    cc_status status = batchnorm_coefficients(net, weights, plan->folded_bn[node], mul_add);
    if (status == CC_OK) {
        fold(weights + w->offset, bias, mul_add, channels, w->count / (size_t)channels, scratch,
             folded_bias);
        status = cc__conv2d_create_ex(&p, x->u.conv.algo, scratch, folded_bias, true, op);
    }
    cc__free(scratch);
    return status;
}

static cc_status create_conv(const cc_net *net, const cc__plan *plan, const float *weights,
                             int node, cc_conv2d **op)
{
    const cc__node *x = &net->nodes[node];
    if (plan->folded_bn[node] >= 0)
        return create_folded(net, plan, weights, node, op);
    const cc_conv2d_params p = conv_params(net, plan, node);
    const float *bias = x->u.conv.no_bias ? NULL : tensor_data(net, weights, x->first_tensor + 1);
    return cc__conv2d_create_ex(&p, x->u.conv.algo, tensor_data(net, weights, x->first_tensor),
                                bias, true, op);
}

/* [outputs][c][h][w] -> [outputs][h][w][c]: an NHWC input flattens in
 * (h, w, c) order, so the permuted weights give the NCHW network's sums. */
static void permute_fc(const cc__dims *in, int outputs, const float *w, float *out)
{
    const size_t c = (size_t)in->c, hw = (size_t)in->h * (size_t)in->w;
    for (size_t o = 0; o < (size_t)outputs; o++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t p = 0; p < hw; p++)
                out[(o * hw + p) * c + ch] = w[(o * c + ch) * hw + p];
}

/* Above batch 1: the FC weights transposed by cc__fc_pack into `out`, from
 * a permuted copy when the input is an NHWC image. */
static cc_status transpose_fc(const cc__node *x, const cc__dims *in, bool permute,
                              const float *weights, size_t count, float *out)
{
    float *permuted = NULL;
    if (permute) {
        permuted = cc__alloc_array(count, sizeof(float), "net_build: fc weights");
        if (permuted == NULL)
            return CC_ERR_NOMEM;
        permute_fc(in, x->u.fc_outputs, weights, permuted);
        weights = permuted;
    }
    cc__fc_pack(in->n, in->c * in->h * in->w, x->u.fc_outputs, weights, out, cc__run_threads());
    cc__free(permuted);
    return CC_OK;
}

/* The FC weights as cc__fc_run wants them for this batch, in *packed. At
 * batch 1 it takes [outputs][inputs] as the tensor holds them: *packed
 * stays NULL and the run reads the network's tensor, unless the input is
 * an NHWC image, which needs a permuted copy. */
static cc_status pack_fc(const cc_net *net, const float *weights, int node, float **packed)
{
    const cc__node *x = &net->nodes[node];
    const cc__dims *in = &net->nodes[x->inputs[0]].out;
    const cc__tensor *t = &net->tensors[x->first_tensor];
    const bool permute = net->compute == CC_NHWC && (in->h > 1 || in->w > 1);
    *packed = NULL;
    if (in->n == 1 && !permute)
        return CC_OK;
    float *out = cc__alloc_array(t->count, sizeof(float), "net_build: fc weights");
    if (out == NULL)
        return CC_ERR_NOMEM;
    const float *source = weights + t->offset;
    if (in->n == 1) {
        permute_fc(in, x->u.fc_outputs, source, out);
    } else {
        const cc_status status = transpose_fc(x, in, permute, source, t->count, out);
        if (status != CC_OK) {
            cc__free(out);
            return status;
        }
    }
    *packed = out;
    return CC_OK;
}

/* The derived state of one node. */
static cc_status pack_node(const cc_net *net, const cc__plan *plan, const float *weights,
                           int node, cc__packed *packed)
{
    const cc__node *x = &net->nodes[node];
    if (plan->exec[node] != node)
        return CC_OK;
    if (x->kind == CC__NODE_CONV)
        return create_conv(net, plan, weights, node, &packed->ops[node]);
    if (x->kind == CC__NODE_FC)
        return pack_fc(net, weights, node, &packed->data[node]);
    if (x->kind == CC__NODE_BATCHNORM) {
        packed->data[node] = cc__alloc_array(2 * (size_t)x->out.c, sizeof(float),
                                             "net_build: batch norm coefficients");
        if (packed->data[node] == NULL)
            return CC_ERR_NOMEM;
        return batchnorm_coefficients(net, weights, node, packed->data[node]);
    }
    return CC_OK;
}

void cc__packed_free(const cc_net *net, cc__packed *packed)
{
    if (packed == NULL)
        return;
    for (int i = 0; i < net->node_count; i++) {
        if (packed->ops != NULL)
            cc_conv2d_destroy(packed->ops[i]);
        if (packed->data != NULL)
            cc__free(packed->data[i]);
    }
    cc__free(packed->ops);
    cc__free(packed->data);
    cc__free(packed);
}

cc_status cc__packed_make(const cc_net *net, const cc__plan *plan, const float *weights,
                          cc__packed **packed)
{
    *packed = NULL;
    cc__packed *made = cc__alloc(sizeof *made, "net_build: packed state");
    if (made == NULL)
        return CC_ERR_NOMEM;
    const size_t n = (size_t)net->node_count;
    made->ops = cc__alloc_array(n, sizeof(cc_conv2d *), "net_build: operators");
    made->data = cc__alloc_array(n, sizeof(float *), "net_build: derived weights");
    if (made->ops != NULL)
        memset(made->ops, 0, n * sizeof(cc_conv2d *));
    if (made->data != NULL)
        memset(made->data, 0, n * sizeof(float *));
    cc_status status = made->ops != NULL && made->data != NULL ? CC_OK : CC_ERR_NOMEM;
    for (int i = 0; i < net->node_count && status == CC_OK; i++) {
        status = pack_node(net, plan, weights, i, made);
        if (status != CC_OK)
            status = cc__net_fail_layer(status, net->nodes[i].name,
                                        cc__node_type(&net->nodes[i]));
    }
    if (status != CC_OK) {
        cc__packed_free(net, made);
        return status;
    }
    *packed = made;
    return CC_OK;
}

cc_status cc__net_commit_weights(cc_net *net, float *weights)
{
    if (net->built) {
        cc__packed *fresh;
        cc_status status = cc__packed_make(net, &net->plan, weights, &fresh);
        if (status != CC_OK) {
            cc__free(weights);
            return status;
        }
        cc__packed_free(net, net->packed);
        net->packed = fresh;
    }
    cc__free(net->weights);
    net->weights = weights;
    return CC_OK;
}
