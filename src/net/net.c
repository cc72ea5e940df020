/* A network's graph: nodes, their tensors, creation, destruction and the
 * queries on shapes and layers. */
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

/* Grows *array (of *capacity elements of `size` bytes) to hold `needed`. */
static cc_status grow(void **array, int *capacity, int needed, size_t size, const char *what)
{
    if (needed <= *capacity)
        return CC_OK;
    int wanted = *capacity < 8 ? 8 : *capacity;
    while (wanted < needed)
        wanted *= 2;
    void *grown = cc__alloc_array((size_t)wanted, size, what);
    if (grown == NULL)
        return CC_ERR_NOMEM;
    if (*array != NULL)
        memcpy(grown, *array, (size_t)*capacity * size);
    cc__free(*array);
    *array = grown;
    *capacity = wanted;
    return CC_OK;
}

static char *copy_string(const char *text, const char *what)
{
    const size_t length = strlen(text);
    char *copy = cc__alloc(length + 1, what);
    if (copy != NULL)
        memcpy(copy, text, length + 1);
    return copy;
}

size_t cc__node_bytes(const cc__node *node) { return cc__dims_count(&node->out) * sizeof(float); }

static bool dims_fit(const cc__dims *d)
{
    size_t bytes;
    return d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0 &&
           cc__mul_sizes(&bytes, 5, (size_t)d->n, (size_t)d->c, (size_t)d->h, (size_t)d->w,
                         sizeof(float));
}

cc_status cc_net_create(cc_layout layout, int batch, int channels, int height, int width,
                        cc_net **net)
{
    if (net == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_create: net is NULL");
    *net = NULL;
    if (layout != CC_NCHW && layout != CC_NHWC)
        return cc__fail(CC_ERR_INVALID_ARG, "net_create: layout %d is not a cc_layout",
                        (int)layout);
    const cc__dims in = {batch, channels, height, width};
    if (!dims_fit(&in))
        return cc__fail(CC_ERR_INVALID_ARG,
                        "net_create: input %dx%dx%dx%d must be positive and fit in memory",
                        batch, channels, height, width);
    cc_net *created = cc__alloc(sizeof *created, "net_create: network");
    if (created == NULL)
        return CC_ERR_NOMEM;
    memset(created, 0, sizeof *created);
    if (pthread_mutex_init(&created->run_lock, NULL) != 0) {
        cc__free(created);
        return cc__fail(CC_ERR_NOMEM, "net_create: cannot make the run lock");
    }
    created->layout = layout;
    created->compute = layout;
    cc__node *input;
    cc_status status = cc__net_append(created, CC__NODE_INPUT, "input", "input", NULL, 0, &in,
                                      false, &input);
    if (status != CC_OK) {
        cc_net_destroy(created);
        return status;
    }
    *net = created;
    return CC_OK;
}

void cc__net_free_build(cc_net *net)
{
    for (int b = 0; net->buffers != NULL && b < net->plan.buffer_count; b++)
        cc__free(net->buffers[b]);
    cc__free(net->buffers);
    net->buffers = NULL;
    cc__packed_free(net, net->packed);
    net->packed = NULL;
    cc__plan_free(&net->plan);
    cc__free(net->gather);
    net->gather = NULL;
    cc__free(net->gather_channels);
    net->gather_channels = NULL;
    cc__free(net->workspace);
    net->workspace = NULL;
    net->workspace_bytes = 0;
    cc__free(net->reordered_input);
    net->reordered_input = NULL;
    net->compute = net->layout;
    net->built = false;
}

void cc_net_destroy(cc_net *net)
{
    if (net == NULL)
        return;
    cc__net_free_build(net);
    while (net->node_count > 0)
        cc__net_pop(net);
    cc__free(net->nodes);
    cc__free(net->tensors);
    cc__free(net->weights);
    pthread_mutex_destroy(&net->run_lock);
    cc__free(net);
}


cc_node cc_net_input(const cc_net *net)
{
    (void)net;
    return 0;
}

static bool name_taken(const cc_net *net, const char *name)
{
    for (int i = 0; i < net->node_count; i++)
        if (strcmp(net->nodes[i].name, name) == 0)
            return true;
    return false;
}

static cc_status check_name(const cc_net *net, const char *name, const char *type)
{
    if (strlen(name) == 0 || strlen(name) > CC__NET_NAME_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: a layer name must have 1 to %d bytes", type,
                        CC__NET_NAME_MAX);
    if (name_taken(net, name))
        return cc__fail(CC_ERR_INVALID_ARG, "%s: the name '%s' is already used", type, name);
    return CC_OK;
}

static cc_status make_name(const cc_net *net, const char *name, const char *type, char **out)
{
    char automatic[64];
    if (name == NULL) {
        snprintf(automatic, sizeof automatic, "%s_%d", type, net->node_count);
        name = automatic;
    }
    CC__NET_TRY(check_name(net, name, type));
    *out = copy_string(name, "net: layer name");
    return *out == NULL ? CC_ERR_NOMEM : CC_OK;
}

cc_status cc__net_append(cc_net *net, cc__node_kind kind, const char *name, const char *type,
                         const int *inputs, int input_count, const cc__dims *out, bool flat,
                         cc__node **node)
{
    const cc__dims dims = *out; /* out may point into the nodes, which may move */
    if (!dims_fit(&dims))
        return cc__fail(CC_ERR_INVALID_ARG, "%s: output %dx%dx%dx%d does not fit in memory",
                        name != NULL ? name : type, dims.n, dims.c, dims.h, dims.w);
    void *nodes = net->nodes;
    CC__NET_TRY(grow(&nodes, &net->node_capacity, net->node_count + 1, sizeof(cc__node),
                     "net: nodes"));
    net->nodes = nodes;
    cc__node fresh = {0};
    fresh.kind = kind;
    fresh.out = dims;
    fresh.flat = flat;
    fresh.first_tensor = net->tensor_count;
    CC__NET_TRY(make_name(net, name, type, &fresh.name));
    if (input_count > 0) {
        fresh.inputs = cc__alloc_array((size_t)input_count, sizeof(int), "net: layer inputs");
        if (fresh.inputs == NULL) {
            cc__free(fresh.name);
            return CC_ERR_NOMEM;
        }
        memcpy(fresh.inputs, inputs, (size_t)input_count * sizeof(int));
    }
    fresh.input_count = input_count;
    net->nodes[net->node_count] = fresh;
    *node = &net->nodes[net->node_count++];
    return CC_OK;
}

cc_status cc__net_add_tensor(cc_net *net, const char *suffix, cc__tensor_role role, int rank,
                             const int *shape, size_t fan_in, size_t fan_out)
{
    cc__node *node = &net->nodes[net->node_count - 1];
    void *tensors = net->tensors;
    CC__NET_TRY(grow(&tensors, &net->tensor_capacity, net->tensor_count + 1,
                     sizeof(cc__tensor), "net: tensors"));
    net->tensors = tensors;
    cc__tensor t = {0};
    t.node = net->node_count - 1;
    t.role = role;
    t.rank = rank;
    t.count = 1;
    for (int d = 0; d < rank; d++) {
        t.shape[d] = shape[d];
        if (!cc__mul_size(t.count, (size_t)shape[d], &t.count))
            return cc__fail(CC_ERR_INVALID_ARG, "layer '%s': tensor %s is too large",
                            node->name, suffix);
    }
    size_t end, bytes;
    if (!cc__add_size(net->weight_floats, t.count, &end) ||
        !cc__mul_size(end, sizeof(float), &bytes))
        return cc__fail(CC_ERR_INVALID_ARG, "layer '%s': the weights do not fit in memory",
                        node->name);
    t.offset = net->weight_floats;
    t.fan_in = fan_in;
    t.fan_out = fan_out;
    char full[CC__NET_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s.%s", node->name, suffix);
    t.name = copy_string(full, "net: tensor name");
    if (t.name == NULL)
        return CC_ERR_NOMEM;
    net->tensors[net->tensor_count++] = t;
    net->weight_floats = end;
    node->tensor_count++;
    return CC_OK;
}

void cc__net_pop(cc_net *net)
{
    cc__node *node = &net->nodes[net->node_count - 1];
    for (int t = 0; t < node->tensor_count; t++) {
        cc__tensor *tensor = &net->tensors[--net->tensor_count];
        net->weight_floats -= tensor->count;
        cc__free(tensor->name);
    }
    cc__free(node->name);
    cc__free(node->inputs);
    net->node_count--;
}

cc_status cc__net_check_input(const cc_net *net, cc_node node, const char *what)
{
    if (net->built)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: the network is already built", what);
    if (node < 0 || node >= net->node_count)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: input node %d does not exist (the network has %d)",
                        what, node, net->node_count);
    return CC_OK;
}

cc_status cc__net_fail_layer(cc_status status, const char *name, const char *type)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s", cc_last_error());
    return cc__fail(status, "layer '%s' (%s): %s", name != NULL ? name : "(unnamed)", type,
                    detail);
}

const char *cc__node_type(const cc__node *node)
{
    static const char *const activations[] = {"ReLU",         "LeakyReLU", "Sigmoid",
                                              "Tanh",         "ELU",       "ReLUCap",
                                              "HardSigmoid",  "HardSwish"};
    switch (node->kind) {
    case CC__NODE_INPUT:
        return "InputLayer";
    case CC__NODE_CONV:
        return "Conv2D";
    case CC__NODE_POOL:
        return node->u.pool.kind == CC_POOL_MAX ? "MaxPooling2D" : "AveragePooling2D";
    case CC__NODE_GLOBAL_POOL:
        return node->u.global_pool == CC_POOL_MAX ? "GlobalMaxPooling2D"
                                                  : "GlobalAveragePooling2D";
    case CC__NODE_ACTIVATION:
        return activations[node->u.act.kind];
    case CC__NODE_FC:
        return "Dense";
    case CC__NODE_SOFTMAX:
        return "Softmax";
    case CC__NODE_LRN:
        return "LRN";
    case CC__NODE_CONCAT:
        return "Concatenate";
    case CC__NODE_ADD:
        return "Add";
    case CC__NODE_BATCHNORM:
        return "BatchNormalization";
    case CC__NODE_DROPOUT:
        return "Dropout";
    }
    return "Unknown";
}

int cc__net_find_tensor(const cc_net *net, const char *name)
{
    for (int t = 0; t < net->tensor_count; t++)
        if (strcmp(net->tensors[t].name, name) == 0)
            return t;
    return -1;
}

int cc_net_node_count(const cc_net *net) { return net == NULL ? 0 : net->node_count; }

static const cc__node *output_node(const cc_net *net)
{
    return &net->nodes[net->node_count - 1];
}

cc_status cc_net_output_shape(const cc_net *net, int *n, int *c, int *h, int *w)
{
    if (net == NULL || n == NULL || c == NULL || h == NULL || w == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_output_shape: an argument is NULL");
    const cc__dims *d = &output_node(net)->out;
    *n = d->n;
    *c = d->c;
    *h = d->h;
    *w = d->w;
    return CC_OK;
}

size_t cc_net_output_count(const cc_net *net)
{
    return net == NULL ? 0 : cc__dims_count(&output_node(net)->out);
}

size_t cc_net_input_count(const cc_net *net)
{
    return net == NULL ? 0 : cc__dims_count(&net->nodes[0].out);
}

cc_status cc_net_get_layer_info(const cc_net *net, cc_node node, cc_net_layer_info *info)
{
    if (net == NULL || info == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_get_layer_info: %s is NULL",
                        net == NULL ? "net" : "info");
    if (node < 0 || node >= net->node_count)
        return cc__fail(CC_ERR_INVALID_ARG, "net_get_layer_info: node %d does not exist", node);
    const cc__node *x = &net->nodes[node];
    size_t input_bytes = 0;
    for (int i = 0; i < x->input_count; i++)
        input_bytes += cc__node_bytes(&net->nodes[x->inputs[i]]);
    *info = (cc_net_layer_info){
        .name = x->name,
        .type = cc__node_type(x),
        .n = x->out.n,
        .c = x->out.c,
        .h = x->out.h,
        .w = x->out.w,
        .flat = x->flat,
        .params = x->params,
        .flops = x->flops,
        .output_bytes = cc__node_bytes(x),
        .input_bytes = input_bytes,
        .fused = net->built && net->plan.exec[node] != node,
        .input_count = x->input_count,
    };
    return CC_OK;
}

int cc_net_tensor_count(const cc_net *net) { return net == NULL ? 0 : net->tensor_count; }

cc_status cc_net_tensor_info(const cc_net *net, int index, const char **name, int *rank,
                             int shape[4])
{
    if (net == NULL || name == NULL || rank == NULL || shape == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_tensor_info: an argument is NULL");
    if (index < 0 || index >= net->tensor_count)
        return cc__fail(CC_ERR_INVALID_ARG, "net_tensor_info: tensor %d does not exist", index);
    const cc__tensor *t = &net->tensors[index];
    *name = t->name;
    *rank = t->rank;
    for (int d = 0; d < 4; d++)
        shape[d] = d < t->rank ? t->shape[d] : 0;
    return CC_OK;
}
