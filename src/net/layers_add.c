/* cc_net_add_*: shape inference and validation of each layer kind, its
 * tensors, parameter count and FLOPs. Every function either appends one
 * complete node or leaves the network unchanged. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../conv/conv_internal.h"
#include "net_internal.h"

/* The name a layer will have, for messages: its own or the automatic one. */
typedef struct {
    char text[CC__NET_NAME_MAX + 64];
} display_name;

static display_name name_of(const cc_net *net, const char *name, const char *prefix)
{
    display_name d;
    if (name != NULL)
        snprintf(d.text, sizeof d.text, "%s", name);
    else
        snprintf(d.text, sizeof d.text, "%s_%d", prefix, net->node_count);
    return d;
}

/* The common checks of a one-input layer. */
static cc_status check_call(const cc_net *net, cc_node input, const void *params,
                            const cc_node *out, const char *what)
{
    if (net == NULL || out == NULL || params == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: %s is NULL", what,
                        net == NULL ? "net" : out == NULL ? "out" : "params");
    return cc__net_check_input(net, input, what);
}

static const cc__dims *dims_of(const cc_net *net, cc_node node) { return &net->nodes[node].out; }

static uint64_t elements(const cc__dims *d) { return (uint64_t)cc__dims_count(d); }

/* Appends a tensorless node with one input and finishes it. */
static cc_status append_simple(cc_net *net, cc__node_kind kind, const char *name,
                               const char *prefix, cc_node input, const cc__dims *out,
                               bool flat, uint64_t flops, cc__node **node)
{
    CC__NET_TRY(cc__net_append(net, kind, name, prefix, &input, 1, out, flat, node));
    (*node)->flops = flops;
    return CC_OK;
}

/* Adds the tensors of the node just appended; pops it on failure. */
static cc_status add_tensors_or_pop(cc_net *net, cc_status status)
{
    if (status != CC_OK)
        cc__net_pop(net);
    return status;
}

cc_conv2d_params cc__net_conv2d_params(const cc_net_conv_params *p, const cc__dims *in,
                                       int batch, cc_layout layout, cc_act act)
{
    return (cc_conv2d_params){
        .batch = batch, .in_channels = in->c, .in_h = in->h, .in_w = in->w,
        .out_channels = p->out_channels, .kernel_h = p->kernel_h, .kernel_w = p->kernel_w,
        .stride_h = p->stride_h, .stride_w = p->stride_w,
        .pad_top = p->pad_top, .pad_bottom = p->pad_bottom,
        .pad_left = p->pad_left, .pad_right = p->pad_right,
        .dilation_h = p->dilation_h, .dilation_w = p->dilation_w,
        .groups = p->groups, .layout = layout, .activation = act,
    };
}

static cc_status conv_geometry(const cc_net *net, cc_node input, const cc_net_conv_params *p,
                               cc__conv_geom *g)
{
    const cc__dims *in = dims_of(net, input);
    const cc_conv2d_params full = cc__net_conv2d_params(p, in, in->n, net->layout, CC_ACT_NONE);
    CC__NET_TRY(cc__conv_geom_init(&full, g));
    return cc__conv_check_algo(g, p->algo);
}

static cc_status conv_tensors(cc_net *net, const cc__conv_geom *g, bool bias)
{
    const int shape[4] = {g->oc, g->cg, g->kh, g->kw};
    const size_t taps = (size_t)g->kh * (size_t)g->kw;
    CC__NET_TRY(cc__net_add_tensor(net, "weight", CC__TENSOR_WEIGHT, 4, shape,
                                   (size_t)g->cg * taps, (size_t)g->oc * taps));
    if (bias)
        CC__NET_TRY(cc__net_add_tensor(net, "bias", CC__TENSOR_BIAS, 1, shape, 0, 0));
    return CC_OK;
}

cc_status cc_net_add_conv(cc_net *net, const char *name, cc_node input,
                          const cc_net_conv_params *params, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, params, out, "net_add_conv"));
    const display_name shown = name_of(net, name, "conv2d");
    cc__conv_geom g;
    cc_status status = conv_geometry(net, input, params, &g);
    if (status != CC_OK)
        return cc__net_fail_layer(status, shown.text, "Conv2D");
    const cc__dims dims = {g.n, g.oc, g.oh, g.ow};
    const uint64_t flops = 2 * (uint64_t)g.n * (uint64_t)g.oc * g.oh * g.ow * cc__geom_k(&g);
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_CONV, name, "conv2d", input, &dims, false, flops,
                              &node));
    node->u.conv = *params;
    node->params = cc__geom_weight_floats(&g) + (params->no_bias ? 0 : (size_t)g.oc);
    CC__NET_TRY(add_tensors_or_pop(net, conv_tensors(net, &g, !params->no_bias)));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_pool(cc_net *net, const char *name, cc_node input,
                          const cc_pool2d_params *params, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, params, out, "net_add_pool"));
    const char *prefix = params->kind == CC_POOL_MAX ? "max_pooling2d" : "average_pooling2d";
    const char *type = params->kind == CC_POOL_MAX ? "MaxPooling2D" : "AveragePooling2D";
    if (params->kind != CC_POOL_MAX && params->kind != CC_POOL_AVG)
        return cc__fail(CC_ERR_INVALID_ARG, "layer '%s': kind %d is not a cc_pool_kind",
                        name_of(net, name, "pooling2d").text, (int)params->kind);
    cc__dims dims;
    cc_status status = cc__pool_output(dims_of(net, input), params, &dims);
    if (status != CC_OK)
        return cc__net_fail_layer(status, name_of(net, name, prefix).text, type);
    const uint64_t window = (uint64_t)params->kernel_h * (uint64_t)params->kernel_w;
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_POOL, name, prefix, input, &dims, false,
                              elements(&dims) * window, &node));
    node->u.pool = *params;
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_global_pool(cc_net *net, const char *name, cc_node input,
                                 cc_pool_kind kind, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, &kind, out, "net_add_global_pool"));
    if (kind != CC_POOL_MAX && kind != CC_POOL_AVG)
        return cc__fail(CC_ERR_INVALID_ARG, "layer '%s': kind %d is not a cc_pool_kind",
                        name_of(net, name, "global_pooling2d").text, (int)kind);
    const cc__dims *in = dims_of(net, input);
    const cc__dims dims = {in->n, in->c, 1, 1};
    const char *prefix = kind == CC_POOL_MAX ? "global_max_pooling2d" : "global_average_pooling2d";
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_GLOBAL_POOL, name, prefix, input, &dims, true,
                              elements(in), &node));
    node->u.global_pool = kind;
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_activation(cc_net *net, const char *name, cc_node input,
                                const cc_activation *activation, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, activation, out, "net_add_activation"));
    cc_status status = cc__activation_check(activation);
    if (status != CC_OK)
        return cc__net_fail_layer(status, name_of(net, name, "activation").text, "Activation");
    const cc__node *in = &net->nodes[input];
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_ACTIVATION, name, "activation", input, &in->out,
                              in->flat, elements(&in->out), &node));
    node->u.act = *activation;
    *out = net->node_count - 1;
    return CC_OK;
}

static cc_status fc_tensors(cc_net *net, int inputs, int outputs)
{
    const int shape[2] = {outputs, inputs};
    CC__NET_TRY(cc__net_add_tensor(net, "weight", CC__TENSOR_WEIGHT, 2, shape, (size_t)inputs,
                                   (size_t)outputs));
    return cc__net_add_tensor(net, "bias", CC__TENSOR_BIAS, 1, shape, 0, 0);
}

cc_status cc_net_add_fc(cc_net *net, const char *name, cc_node input, int outputs,
                        cc_node *out)
{
    CC__NET_TRY(check_call(net, input, &outputs, out, "net_add_fc"));
    const display_name shown = name_of(net, name, "dense");
    const cc__dims *in = dims_of(net, input);
    const size_t features = (size_t)in->c * (size_t)in->h * (size_t)in->w;
    if (outputs <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "layer '%s' (Dense): outputs must be > 0 (got %d)",
                        shown.text, outputs);
    if (features > (size_t)INT32_MAX)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "layer '%s' (Dense): %zu input features exceed the int range", shown.text,
                        features);
    const cc__dims dims = {in->n, outputs, 1, 1};
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_FC, name, "dense", input, &dims, true,
                              2 * (uint64_t)in->n * features * (uint64_t)outputs, &node));
    node->u.fc_outputs = outputs;
    node->params = (features + 1) * (size_t)outputs;
    CC__NET_TRY(add_tensors_or_pop(net, fc_tensors(net, (int)features, outputs)));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_softmax(cc_net *net, const char *name, cc_node input, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, &input, out, "net_add_softmax"));
    const cc__node *in = &net->nodes[input];
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_SOFTMAX, name, "softmax", input, &in->out,
                              in->flat, 4 * elements(&in->out), &node));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_lrn(cc_net *net, const char *name, cc_node input,
                         const cc_lrn_params *params, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, params, out, "net_add_lrn"));
    cc_status status = cc__lrn_check(params);
    if (status != CC_OK)
        return cc__net_fail_layer(status, name_of(net, name, "lrn").text, "LRN");
    const cc__node *in = &net->nodes[input];
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_LRN, name, "lrn", input, &in->out, in->flat,
                              (uint64_t)(params->size + 3) * elements(&in->out), &node));
    node->u.lrn = *params;
    *out = net->node_count - 1;
    return CC_OK;
}

/* Checks a multi-input call: every node exists. */
static cc_status check_inputs(const cc_net *net, const cc_node *inputs, int count, int minimum,
                              const cc_node *out, const char *what)
{
    if (net == NULL || inputs == NULL || out == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: %s is NULL", what,
                        net == NULL ? "net" : inputs == NULL ? "inputs" : "out");
    if (count < minimum)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: needs at least %d inputs (got %d)", what,
                        minimum, count);
    for (int i = 0; i < count; i++)
        CC__NET_TRY(cc__net_check_input(net, inputs[i], what));
    return CC_OK;
}

/* The concat's output shape; CC_ERR_INVALID_ARG when N, H or W differ. */
static cc_status concat_dims(const cc_net *net, const cc_node *inputs, int count,
                             const char *shown, cc__dims *dims, bool *flat)
{
    *dims = *dims_of(net, inputs[0]);
    *flat = net->nodes[inputs[0]].flat;
    int64_t channels = 0;
    for (int i = 0; i < count; i++) {
        const cc__dims *d = dims_of(net, inputs[i]);
        if (d->n != dims->n || d->h != dims->h || d->w != dims->w)
            return cc__fail(CC_ERR_INVALID_ARG,
                            "layer '%s' (Concatenate): input '%s' is %dx%dx%d (NxHxW), "
                            "input '%s' is %dx%dx%d",
                            shown, net->nodes[inputs[0]].name, dims->n, dims->h, dims->w,
                            net->nodes[inputs[i]].name, d->n, d->h, d->w);
        channels += d->c;
        *flat = *flat && net->nodes[inputs[i]].flat;
    }
    if (channels > INT32_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "layer '%s' (Concatenate): too many channels", shown);
    dims->c = (int)channels;
    return CC_OK;
}

cc_status cc_net_add_concat(cc_net *net, const char *name, const cc_node *inputs, int count,
                            cc_node *out)
{
    CC__NET_TRY(check_inputs(net, inputs, count, 1, out, "net_add_concat"));
    cc__dims dims;
    bool flat;
    CC__NET_TRY(concat_dims(net, inputs, count, name_of(net, name, "concatenate").text, &dims,
                            &flat));
    cc__node *node;
    CC__NET_TRY(cc__net_append(net, CC__NODE_CONCAT, name, "concatenate", inputs, count, &dims,
                               flat, &node));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_add(cc_net *net, const char *name, const cc_node *inputs, int count,
                         cc_node *out)
{
    CC__NET_TRY(check_inputs(net, inputs, count, 2, out, "net_add_add"));
    const cc__node *first = &net->nodes[inputs[0]];
    bool flat = first->flat;
    for (int i = 1; i < count; i++) {
        const cc__node *other = &net->nodes[inputs[i]];
        const cc__dims *a = &first->out, *b = &other->out;
        if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w)
            return cc__fail(CC_ERR_INVALID_ARG,
                            "layer '%s' (Add): input '%s' is %dx%dx%dx%d, input '%s' is "
                            "%dx%dx%dx%d",
                            name_of(net, name, "add").text, first->name, a->n, a->c, a->h,
                            a->w, other->name, b->n, b->c, b->h, b->w);
        flat = flat && other->flat;
    }
    const cc__dims dims = first->out;
    cc__node *node;
    CC__NET_TRY(cc__net_append(net, CC__NODE_ADD, name, "add", inputs, count, &dims, flat,
                               &node));
    node->flops = (uint64_t)(count - 1) * elements(&dims);
    *out = net->node_count - 1;
    return CC_OK;
}

static cc_status batchnorm_tensors(cc_net *net, int channels)
{
    const int shape[1] = {channels};
    CC__NET_TRY(cc__net_add_tensor(net, "weight", CC__TENSOR_BN_SCALE, 1, shape, 0, 0));
    CC__NET_TRY(cc__net_add_tensor(net, "bias", CC__TENSOR_BN_SHIFT, 1, shape, 0, 0));
    CC__NET_TRY(cc__net_add_tensor(net, "running_mean", CC__TENSOR_BN_MEAN, 1, shape, 0, 0));
    return cc__net_add_tensor(net, "running_var", CC__TENSOR_BN_VAR, 1, shape, 0, 0);
}

cc_status cc_net_add_batchnorm(cc_net *net, const char *name, cc_node input, float epsilon,
                               cc_node *out)
{
    CC__NET_TRY(check_call(net, input, &epsilon, out, "net_add_batchnorm"));
    if (!isfinite(epsilon) || epsilon <= 0.0f)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "layer '%s' (BatchNormalization): epsilon must be finite and > 0 (got %g)",
                        name_of(net, name, "batch_normalization").text, (double)epsilon);
    const cc__node *in = &net->nodes[input];
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_BATCHNORM, name, "batch_normalization", input,
                              &in->out, in->flat, 2 * elements(&in->out), &node));
    node->u.bn_epsilon = epsilon;
    node->params = 2 * (size_t)node->out.c;
    CC__NET_TRY(add_tensors_or_pop(net, batchnorm_tensors(net, node->out.c)));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc_net_add_dropout(cc_net *net, const char *name, cc_node input, cc_node *out)
{
    CC__NET_TRY(check_call(net, input, &input, out, "net_add_dropout"));
    const cc__node *in = &net->nodes[input];
    cc__node *node;
    CC__NET_TRY(append_simple(net, CC__NODE_DROPOUT, name, "dropout", input, &in->out,
                              in->flat, 0, &node));
    *out = net->node_count - 1;
    return CC_OK;
}

cc_status cc__net_rename_last(cc_net *net, const char *name)
{
    const size_t len = strlen(name);
    if (net->node_count < 2 || len == 0 || len > CC__NET_NAME_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "net: cannot name the last layer '%s'", name);
    cc__node *node = &net->nodes[net->node_count - 1];
    for (int i = 0; i < net->node_count - 1; i++)
        if (strcmp(net->nodes[i].name, name) == 0)
            return cc__fail(CC_ERR_INVALID_ARG, "net: the name '%s' is already used", name);
    /* Every new string first, so that running out of memory changes nothing. */
    const int count = 1 + node->tensor_count;
    char **fresh = cc__alloc_array((size_t)count, sizeof(char *), "net: rename");
    if (fresh == NULL)
        return CC_ERR_NOMEM;
    const size_t old_len = strlen(node->name);
    bool ok = true;
    for (int k = 0; k < count; k++) {
        const char *suffix = k == 0 ? "" : net->tensors[node->first_tensor + k - 1].name + old_len;
        const size_t bytes = len + strlen(suffix) + 1;
        fresh[k] = cc__alloc(bytes, "net: rename");
        ok = ok && fresh[k] != NULL;
        if (fresh[k] != NULL)
            snprintf(fresh[k], bytes, "%s%s", name, suffix);
    }
    if (!ok) {
        for (int k = 0; k < count; k++)
            cc__free(fresh[k]);
        cc__free(fresh);
        return CC_ERR_NOMEM;
    }
    cc__free(node->name);
    node->name = fresh[0];
    for (int k = 1; k < count; k++) {
        cc__free(net->tensors[node->first_tensor + k - 1].name);
        net->tensors[node->first_tensor + k - 1].name = fresh[k];
    }
    cc__free(fresh);
    return CC_OK;
}
