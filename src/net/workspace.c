/* The convs' shared workspace. Convs run one after another and a workspace
 * holds nothing from one run to the next, so one workspace as large as the
 * largest conv's need serves them all (issue 4: "shared, not summed").
 *
 * The need of a conv depends on the threads of its run (cc__conv_threads):
 * the build sizes the workspace for the thread count of the moment; after
 * cc_set_num_threads raised it, a run grows the workspace just before the
 * first conv that needs more (a run's only allocation). The check is made
 * right before each conv so that the count it sees is the one the conv's
 * run reads a moment later. */
#include "../conv/conv_internal.h"
#include "net_internal.h"

size_t cc__net_op_workspace_need(const cc_conv2d *op)
{
    return op != NULL ? cc__conv2d_workspace_need(op, cc__conv_threads(op)) : 0;
}

size_t cc__net_workspace_need(const cc_net *net)
{
    size_t need = 0;
    for (int i = 0; i < net->node_count; i++) {
        const size_t bytes = cc__net_op_workspace_need(net->packed->ops[i]);
        if (bytes > need)
            need = bytes;
    }
    return need;
}

/* Saturates: the sum is a report, never an allocation size. */
size_t cc__net_workspace_sum(const cc_net *net)
{
    size_t sum = 0;
    for (int i = 0; i < net->node_count; i++)
        if (!cc__add_size(sum, cc__net_op_workspace_need(net->packed->ops[i]), &sum))
            return SIZE_MAX;
    return sum;
}

cc_status cc__net_workspace_reserve(cc_net *net, size_t need)
{
    if (need <= net->workspace_bytes)
        return CC_OK;
    float *grown = cc__alloc(need, "net: conv workspace");
    if (grown == NULL)
        return CC_ERR_NOMEM;
    cc__free(net->workspace);
    net->workspace = grown;
    net->workspace_bytes = need;
    return CC_OK;
}
