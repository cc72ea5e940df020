/* cc_net_build: plan, pack, allocate; and the network's totals. */
#include <string.h>

#include "net_internal.h"

static cc_status alloc_buffers(cc_net *net)
{
    const cc__plan *plan = &net->plan;
    net->buffers = cc__alloc_array((size_t)plan->buffer_count + 1, sizeof(float *),
                                   "net_build: buffer table");
    if (net->buffers == NULL)
        return CC_ERR_NOMEM;
    memset(net->buffers, 0, ((size_t)plan->buffer_count + 1) * sizeof(float *));
    for (int b = 0; b < plan->buffer_count; b++) {
        net->buffers[b] = cc__alloc(plan->buffer_bytes[b], "net_build: activation buffer");
        if (net->buffers[b] == NULL)
            return CC_ERR_NOMEM;
    }
    return CC_OK;
}

/* Room for the input pointers and channel counts of the widest concat. */
static cc_status alloc_gather(cc_net *net)
{
    int widest = 1;
    for (int i = 0; i < net->node_count; i++)
        if (net->nodes[i].kind == CC__NODE_CONCAT && net->nodes[i].input_count > widest)
            widest = net->nodes[i].input_count;
    net->gather = cc__alloc_array((size_t)widest, sizeof(float *), "net_build: concat inputs");
    net->gather_channels = cc__alloc_array((size_t)widest, sizeof(int), "net_build: concat inputs");
    return net->gather != NULL && net->gather_channels != NULL ? CC_OK : CC_ERR_NOMEM;
}

/* The input in the compute layout, when it differs from the network's. */
static cc_status alloc_reordered_input(cc_net *net)
{
    if (!cc__net_reorders(net, &net->nodes[0]))
        return CC_OK;
    net->reordered_input =
        cc__alloc_array(cc__dims_count(&net->nodes[0].out), sizeof(float), "net_build: input");
    return net->reordered_input != NULL ? CC_OK : CC_ERR_NOMEM;
}

static cc_status build_parts(cc_net *net, const cc_net_build_options *options)
{
    CC__NET_TRY(cc__net_choose_compute(net, options != NULL ? options->compute_layout
                                                             : CC_COMPUTE_AUTO));
    CC__NET_TRY(alloc_reordered_input(net));
    CC__NET_TRY(cc__plan_make(net, options, &net->plan));
    CC__NET_TRY(cc__packed_make(net, &net->plan, net->weights, &net->packed));
    CC__NET_TRY(cc__net_workspace_reserve(net, cc__net_workspace_need(net)));
    CC__NET_TRY(alloc_buffers(net));
    return alloc_gather(net);
}

cc_status cc_net_build(cc_net *net, const cc_net_build_options *options)
{
    if (net == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_build: net is NULL");
    if (net->built)
        return cc__fail(CC_ERR_INVALID_ARG, "net_build: the network is already built");
    if (net->weights == NULL)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "net_build: no weights (call cc_net_init_weights, cc_net_load_weights "
                        "or cc_net_set_tensor first)");
    cc_status status = build_parts(net, options);
    if (status != CC_OK) {
        cc__net_free_build(net);
        return status;
    }
    net->built = true;
    return CC_OK;
}

static void workspace_bytes(const cc_net *net, cc_net_stats *stats)
{
    stats->workspace_bytes = net->workspace_bytes;
    stats->shared_workspace_bytes = cc__net_workspace_need(net);
    stats->per_conv_workspace_bytes = cc__net_workspace_sum(net);
}

cc_status cc_net_get_stats(const cc_net *net, cc_net_stats *stats)
{
    if (net == NULL || stats == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_get_stats: %s is NULL",
                        net == NULL ? "net" : "stats");
    memset(stats, 0, sizeof *stats);
    for (int i = 0; i < net->node_count; i++) {
        stats->params += net->nodes[i].params;
        stats->flops += net->nodes[i].flops;
    }
    stats->weight_bytes = net->weight_floats * sizeof(float);
    stats->built = net->built;
    stats->compute_layout = net->compute;
    if (net->built) {
        stats->activation_bytes = net->plan.unplanned_bytes;
        stats->planned_activation_bytes = net->plan.planned_bytes;
        workspace_bytes(net, stats);
        return CC_OK;
    }
    cc__plan plan;
    CC__NET_TRY(cc__plan_make(net, NULL, &plan));
    stats->activation_bytes = plan.unplanned_bytes;
    stats->planned_activation_bytes = plan.planned_bytes;
    cc__plan_free(&plan);
    return CC_OK;
}
