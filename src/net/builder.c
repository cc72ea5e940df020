/* Terse graph building with a sticky error, the ResNet bottleneck and the
 * Inception block, and their public entry points. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

void cc__nb_start(cc__nb *b, cc_net *net)
{
    b->net = net;
    b->status = CC_OK;
    b->mark = net->node_count;
}

const char *cc__nb_name(cc__nb *b, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(b->name, sizeof b->name, format, args);
    va_end(args);
    return b->name;
}

/* Records status; returns the node made, or -1 once anything failed. */
static cc_node done(cc__nb *b, cc_status status, cc_node node)
{
    if (status != CC_OK)
        b->status = status;
    return b->status == CC_OK ? node : -1;
}

cc_node cc__nb_conv(cc__nb *b, const char *name, cc_node in, int out_channels, int kernel,
                    int stride, int pad, int groups, bool bias)
{
    if (b->status != CC_OK)
        return -1;
    const cc_net_conv_params p = {
        .out_channels = out_channels, .kernel_h = kernel, .kernel_w = kernel,
        .stride_h = stride, .stride_w = stride,
        .pad_top = pad, .pad_bottom = pad, .pad_left = pad, .pad_right = pad,
        .groups = groups, .no_bias = !bias, .algo = CC_ALGO_AUTO,
    };
    cc_node node = -1;
    const cc_status status = cc_net_add_conv(b->net, name, in, &p, &node);
    return done(b, status, node);
}

cc_node cc__nb_act(cc__nb *b, const char *name, cc_node in, cc_activation_kind kind)
{
    if (b->status != CC_OK)
        return -1;
    const cc_activation act = {kind, 0.0f};
    cc_node node = -1;
    const cc_status status = cc_net_add_activation(b->net, name, in, &act, &node);
    return done(b, status, node);
}

cc_node cc__nb_bn(cc__nb *b, const char *name, cc_node in)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_batchnorm(b->net, name, in, 1e-5f, &node);
    return done(b, status, node);
}

cc_node cc__nb_pool(cc__nb *b, const char *name, cc_node in, cc_pool_kind kind, int kernel,
                    int stride, int pad)
{
    if (b->status != CC_OK)
        return -1;
    const cc_pool2d_params p = {
        .kind = kind, .kernel_h = kernel, .kernel_w = kernel,
        .stride_h = stride, .stride_w = stride,
        .pad_top = pad, .pad_bottom = pad, .pad_left = pad, .pad_right = pad,
    };
    cc_node node = -1;
    const cc_status status = cc_net_add_pool(b->net, name, in, &p, &node);
    return done(b, status, node);
}

cc_node cc__nb_global_pool(cc__nb *b, const char *name, cc_node in, cc_pool_kind kind)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_global_pool(b->net, name, in, kind, &node);
    return done(b, status, node);
}

cc_node cc__nb_fc(cc__nb *b, const char *name, cc_node in, int outputs)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_fc(b->net, name, in, outputs, &node);
    return done(b, status, node);
}

cc_node cc__nb_lrn(cc__nb *b, const char *name, cc_node in, const cc_lrn_params *p)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_lrn(b->net, name, in, p, &node);
    return done(b, status, node);
}

cc_node cc__nb_dropout(cc__nb *b, const char *name, cc_node in)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_dropout(b->net, name, in, &node);
    return done(b, status, node);
}

cc_node cc__nb_softmax(cc__nb *b, const char *name, cc_node in)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_softmax(b->net, name, in, &node);
    return done(b, status, node);
}

cc_node cc__nb_add(cc__nb *b, const char *name, cc_node x, cc_node y)
{
    if (b->status != CC_OK)
        return -1;
    const cc_node inputs[2] = {x, y};
    cc_node node = -1;
    const cc_status status = cc_net_add_add(b->net, name, inputs, 2, &node);
    return done(b, status, node);
}

cc_node cc__nb_concat(cc__nb *b, const char *name, const cc_node *inputs, int count)
{
    if (b->status != CC_OK)
        return -1;
    cc_node node = -1;
    const cc_status status = cc_net_add_concat(b->net, name, inputs, count, &node);
    return done(b, status, node);
}

cc_status cc__nb_finish(cc__nb *b, cc_node last, cc_node *out)
{
    if (b->status != CC_OK) {
        while (b->net->node_count > b->mark)
            cc__net_pop(b->net);
        return b->status;
    }
    *out = last;
    return CC_OK;
}

/* Names below are PREFIX.suffix; the prefix is checked by the callers. */
cc_node cc__nb_bottleneck(cc__nb *b, const char *prefix, cc_node in, int mid, int out,
                          int stride)
{
    if (b->status != CC_OK)
        return -1;
    const bool project = stride != 1 || b->net->nodes[in].out.c != out;
    cc_node x = cc__nb_conv(b, cc__nb_name(b, "%s.conv1", prefix), in, mid, 1, 1, 0, 1, false);
    x = cc__nb_bn(b, cc__nb_name(b, "%s.bn1", prefix), x);
    x = cc__nb_act(b, cc__nb_name(b, "%s.relu1", prefix), x, CC_ACTIVATION_RELU);
    x = cc__nb_conv(b, cc__nb_name(b, "%s.conv2", prefix), x, mid, 3, stride, 1, 1, false);
    x = cc__nb_bn(b, cc__nb_name(b, "%s.bn2", prefix), x);
    x = cc__nb_act(b, cc__nb_name(b, "%s.relu2", prefix), x, CC_ACTIVATION_RELU);
    x = cc__nb_conv(b, cc__nb_name(b, "%s.conv3", prefix), x, out, 1, 1, 0, 1, false);
    x = cc__nb_bn(b, cc__nb_name(b, "%s.bn3", prefix), x);
    cc_node shortcut = in;
    if (project) {
        shortcut = cc__nb_conv(b, cc__nb_name(b, "%s.downsample.0", prefix), in, out, 1, stride,
                               0, 1, false);
        shortcut = cc__nb_bn(b, cc__nb_name(b, "%s.downsample.1", prefix), shortcut);
    }
    x = cc__nb_add(b, cc__nb_name(b, "%s.add", prefix), x, shortcut);
    return cc__nb_act(b, cc__nb_name(b, "%s.relu", prefix), x, CC_ACTIVATION_RELU);
}

/* A conv and its ReLU, named NAME and NAME.relu. */
static cc_node conv_relu(cc__nb *b, const char *prefix, const char *conv, cc_node in,
                         int channels, int kernel)
{
    char name[CC__NET_NAME_MAX + 64];
    snprintf(name, sizeof name, "%s.%s", prefix, conv);
    cc_node x = cc__nb_conv(b, name, in, channels, kernel, 1, kernel / 2, 1, true);
    return cc__nb_act(b, cc__nb_name(b, "%s.relu", name), x, CC_ACTIVATION_RELU);
}

cc_node cc__nb_inception(cc__nb *b, const char *prefix, cc_node in,
                         const cc_net_inception_params *p)
{
    cc_node towers[4];
    towers[0] = conv_relu(b, prefix, "1x1", in, p->c1x1, 1);
    cc_node x = conv_relu(b, prefix, "3x3_reduce", in, p->c3x3_reduce, 1);
    towers[1] = conv_relu(b, prefix, "3x3", x, p->c3x3, 3);
    x = conv_relu(b, prefix, "5x5_reduce", in, p->c5x5_reduce, 1);
    towers[2] = conv_relu(b, prefix, "5x5", x, p->c5x5, 5);
    x = cc__nb_pool(b, cc__nb_name(b, "%s.pool", prefix), in, CC_POOL_MAX, 3, 1, 1);
    towers[3] = conv_relu(b, prefix, "pool_proj", x, p->pool_proj, 1);
    return cc__nb_concat(b, cc__nb_name(b, "%s.output", prefix), towers, 4);
}

static cc_status check_block(const cc_net *net, const char *prefix, cc_node input,
                             const void *params, const cc_node *out, const char *what)
{
    if (net == NULL || prefix == NULL || params == NULL || out == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: an argument is NULL", what);
    if (strlen(prefix) == 0 || strlen(prefix) > CC__NET_NAME_MAX - 20)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: the prefix must have 1 to %d bytes", what,
                        CC__NET_NAME_MAX - 20);
    return cc__net_check_input(net, input, what);
}

cc_status cc_net_add_bottleneck(cc_net *net, const char *prefix, cc_node input,
                                int mid_channels, int out_channels, int stride, cc_node *out)
{
    CC__NET_TRY(check_block(net, prefix, input, &stride, out, "net_add_bottleneck"));
    cc__nb b;
    cc__nb_start(&b, net);
    const cc_node last = cc__nb_bottleneck(&b, prefix, input, mid_channels, out_channels, stride);
    return cc__nb_finish(&b, last, out);
}

cc_status cc_net_add_inception(cc_net *net, const char *prefix, cc_node input,
                               const cc_net_inception_params *params, cc_node *out)
{
    CC__NET_TRY(check_block(net, prefix, input, params, out, "net_add_inception"));
    cc__nb b;
    cc__nb_start(&b, net);
    const cc_node last = cc__nb_inception(&b, prefix, input, params);
    return cc__nb_finish(&b, last, out);
}
