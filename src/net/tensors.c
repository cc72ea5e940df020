/* The weight array: its neutral state, and access to one tensor by name. */
#include <string.h>

#include "net_internal.h"

float *cc__weights_neutral(const cc_net *net)
{
    float *weights = cc__alloc_array(net->weight_floats, sizeof(float), "net: weights");
    if (weights == NULL)
        return NULL;
    memset(weights, 0, net->weight_floats * sizeof(float));
    for (int i = 0; i < net->tensor_count; i++) {
        const cc__tensor *t = &net->tensors[i];
        if (t->role != CC__TENSOR_BN_SCALE && t->role != CC__TENSOR_BN_VAR)
            continue;
        for (size_t k = 0; k < t->count; k++)
            weights[t->offset + k] = 1.0f;
    }
    return weights;
}

/* The tensor `name` holding exactly `count` elements. */
static cc_status find(const cc_net *net, const char *name, const void *data, size_t count,
                      const char *what, int *index)
{
    if (net == NULL || name == NULL || data == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: %s is NULL", what,
                        net == NULL ? "net" : name == NULL ? "name" : "data");
    *index = cc__net_find_tensor(net, name);
    if (*index < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: the network has no tensor '%s'", what, name);
    if (net->tensors[*index].count != count)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: tensor '%s' has %zu elements, not %zu", what,
                        name, net->tensors[*index].count, count);
    return CC_OK;
}

/* After the build: writes the tensor in place and re-packs, restoring the
 * old values if re-packing fails. */
static cc_status set_built(cc_net *net, const cc__tensor *t, const float *data)
{
    float *old = cc__alloc_array(t->count, sizeof(float), "net_set_tensor: backup");
    if (old == NULL)
        return CC_ERR_NOMEM;
    float *values = net->weights + t->offset;
    memcpy(old, values, t->count * sizeof(float));
    memcpy(values, data, t->count * sizeof(float));
    cc__packed *fresh;
    cc_status status = cc__packed_make(net, &net->plan, net->weights, &fresh);
    if (status == CC_OK) {
        cc__packed_free(net, net->packed);
        net->packed = fresh;
    } else {
        memcpy(values, old, t->count * sizeof(float));
    }
    cc__free(old);
    return status;
}

cc_status cc_net_set_tensor(cc_net *net, const char *name, const float *data, size_t count)
{
    int index = -1;
    CC__NET_TRY(find(net, name, data, count, "net_set_tensor", &index));
    const cc__tensor *t = &net->tensors[index];
    if (net->built)
        return set_built(net, t, data);
    if (net->weights == NULL) {
        net->weights = cc__weights_neutral(net);
        if (net->weights == NULL)
            return CC_ERR_NOMEM;
    }
    memcpy(net->weights + t->offset, data, count * sizeof(float));
    return CC_OK;
}

cc_status cc_net_get_tensor(const cc_net *net, const char *name, float *data, size_t count)
{
    int index = -1;
    CC__NET_TRY(find(net, name, data, count, "net_get_tensor", &index));
    if (net->weights == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_get_tensor: the network has no weights yet");
    memcpy(data, net->weights + net->tensors[index].offset, count * sizeof(float));
    return CC_OK;
}
