/* The trainer's plan: checks the network, sizes and allocates every buffer
 * a step needs (see trainer_internal.h), once; destroy; the queries. */
#include <string.h>

#include "backward.h"
#include "trainer_internal.h"

cc__dims cc__trainer_dims(const cc_trainer *t, int i, int images)
{
    cc__dims d = t->net->nodes[i].out;
    d.n = images;
    return d;
}

static bool role_trainable(cc__tensor_role role)
{
    return role == CC__TENSOR_WEIGHT || role == CC__TENSOR_BIAS || role == CC__TENSOR_BN_SCALE ||
           role == CC__TENSOR_BN_SHIFT;
}

/* The network's shape: its last node a softmax over flat logits, no other
 * softmax. */
static cc_status check_graph(const cc_net *net)
{
    const int last = net->node_count - 1;
    if (last < 1 || net->nodes[last].kind != CC__NODE_SOFTMAX)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "trainer_create: the network's last node must be a softmax "
                        "(the loss is softmax with cross-entropy)");
    const cc__dims *logits = &net->nodes[net->nodes[last].inputs[0]].out;
    if (logits->h != 1 || logits->w != 1)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "trainer_create: the softmax must read one vector per image, not "
                        "%dx%d pixels", logits->h, logits->w);
    for (int i = 1; i < last; i++) {
        const cc__node *x = &net->nodes[i];
        if (x->kind == CC__NODE_SOFTMAX)
            return cc__fail(CC_ERR_UNSUPPORTED,
                            "trainer_create: softmax '%s' is not the last node: only the loss's "
                            "softmax can be trained", x->name);
    }
    return CC_OK;
}

static cc_status check_args(const cc_net *net, int batch, const cc_optimizer_params *params,
                            cc_trainer **trainer)
{
    if (trainer == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_create: trainer is NULL");
    *trainer = NULL;
    if (net == NULL || params == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_create: %s is NULL",
                        net == NULL ? "net" : "params");
    if (batch <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_create: batch %d must be > 0", batch);
    if (net->weights == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_create: the network has no weights yet "
                        "(cc_net_init_weights, cc_net_load_weights or cc_net_set_tensor)");
    return check_graph(net);
}

/* needs_grad[i]: a trainable tensor at i or upstream, so i's output
 * gradient is wanted. */
static void mark_needs_grad(cc_trainer *t)
{
    const cc_net *net = t->net;
    for (int i = 1; i < net->node_count; i++) {
        const cc__node *x = &net->nodes[i];
        bool needs = false;
        for (int k = 0; k < x->tensor_count; k++)
            needs = needs || t->trainable[x->first_tensor + k];
        for (int k = 0; k < x->input_count; k++)
            needs = needs || t->needs_grad[x->inputs[k]];
        t->needs_grad[i] = needs;
    }
}

static cc_status conv_plan(cc_trainer *t, int i)
{
    const cc_net *net = t->net;
    const cc__node *x = &net->nodes[i];
    const cc__dims *in = &net->nodes[x->inputs[0]].out;
    const cc_conv2d_params params =
        cc__net_conv2d_params(&x->u.conv, in, t->batch, net->layout, CC_ACT_NONE);
    cc__conv_geom g;
    CC__NET_TRY(cc__conv_geom_init(&params, &g));
    return cc__conv_train_init(&g, t->threads, &t->conv[i]);
}

size_t cc__trainer_node_workspace(const cc_trainer *t, int i)
{
    const cc_net *net = t->net;
    const cc__node *x = &net->nodes[i];
    if (x->input_count == 0)
        return 0;
    const cc__dims in = cc__trainer_dims(t, x->inputs[0], t->batch);
    const size_t in_count = cc__dims_count(&in);
    size_t need = 0;
    switch (x->kind) {
    case CC__NODE_CONV:
        need = t->conv[i].workspace_bytes / sizeof(float);
        break;
    case CC__NODE_FC: {
        const size_t back = cc__fc_backward_workspace(&in, net->layout);
        need = net->layout == CC_NHWC && !net->nodes[x->inputs[0]].flat ? in_count : 0;
        need = back > need ? back : need;
        break;
    }
    case CC__NODE_LRN:
        need = cc__lrn_backward_workspace(&in, t->threads);
        break;
    case CC__NODE_BATCHNORM:
        /* inference coefficients; a gradient sink for an input needing none */
        need = t->needs_grad[x->inputs[0]] ? 2 * (size_t)in.c : in_count;
        if (need < 2 * (size_t)in.c)
            need = 2 * (size_t)in.c;
        break;
    default:
        break;
    }
    return need;
}

/* A zeroed array (so that destroy may free its entries after a failure). */
static void *alloc_zeroed(size_t count, size_t size, const char *what)
{
    void *p = cc__alloc_array(count, size, what);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

static cc_status alloc_node_arrays(cc_trainer *t)
{
    const size_t nodes = (size_t)t->net->node_count;
    t->value = alloc_zeroed(nodes, sizeof *t->value, "trainer: value table");
    t->grad = alloc_zeroed(nodes, sizeof *t->grad, "trainer: gradient table");
    t->live = alloc_zeroed(nodes, sizeof *t->live, "trainer: flags");
    t->needs_grad = alloc_zeroed(nodes, sizeof *t->needs_grad, "trainer: flags");
    t->conv = alloc_zeroed(nodes, sizeof *t->conv, "trainer: conv plans");
    t->saved_col = alloc_zeroed(nodes, sizeof *t->saved_col, "trainer: col table");
    t->bn_saved = alloc_zeroed(nodes, sizeof *t->bn_saved, "trainer: batch norm table");
    t->gather = alloc_zeroed(nodes, sizeof *t->gather, "trainer: concat inputs");
    t->channels = alloc_zeroed(nodes, sizeof *t->channels, "trainer: concat channels");
    t->scatter = alloc_zeroed(nodes, sizeof *t->scatter, "trainer: concat gradients");
    t->trainable = alloc_zeroed((size_t)t->net->tensor_count, sizeof *t->trainable,
                                "trainer: tensor flags");
    if (!t->value || !t->grad || !t->live || !t->needs_grad || !t->conv || !t->saved_col ||
        !t->bn_saved ||
        !t->gather || !t->channels || !t->scatter || !t->trainable)
        return CC_ERR_NOMEM;
    for (int k = 0; k < t->net->tensor_count; k++)
        t->trainable[k] = role_trainable(t->net->tensors[k].role);
    return CC_OK;
}

/* A node's value, gradient, saved statistics and conv plan. */
static cc_status plan_node(cc_trainer *t, int i)
{
    const cc__node *x = &t->net->nodes[i];
    const cc__dims d = cc__trainer_dims(t, i, t->batch);
    size_t count;
    if (!cc__mul_sizes(&count, 4, (size_t)d.n, (size_t)d.c, (size_t)d.h, (size_t)d.w))
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_create: layer '%s' is too large at batch %d",
                        x->name, t->batch);
    if (x->kind == CC__NODE_CONV) {
        const cc_status status = conv_plan(t, i);
        if (status != CC_OK)
            return cc__net_fail_layer(status, x->name, cc__node_type(x));
        if (t->conv[i].saved_floats > 0) {
            t->saved_col[i] = cc__alloc_array(t->conv[i].saved_floats, sizeof(float),
                                              "trainer: saved col blocks");
            if (t->saved_col[i] == NULL)
                return CC_ERR_NOMEM;
        }
    }
    if (i == t->net->node_count - 1)
        return CC_OK;
    t->value[i] = cc__alloc_array(count, sizeof(float), "trainer: activations");
    if (t->value[i] == NULL)
        return CC_ERR_NOMEM;
    if (t->needs_grad[i]) {
        t->grad[i] = cc__alloc_array(count, sizeof(float), "trainer: activation gradients");
        if (t->grad[i] == NULL)
            return CC_ERR_NOMEM;
    }
    if (x->kind == CC__NODE_BATCHNORM) {
        t->bn_saved[i] = cc__alloc_array(2 * (size_t)d.c, sizeof(float),
                                         "trainer: batch norm statistics");
        if (t->bn_saved[i] == NULL)
            return CC_ERR_NOMEM;
    }
    return CC_OK;
}

static cc_status plan_all(cc_trainer *t, const cc_optimizer_params *params)
{
    CC__NET_TRY(alloc_node_arrays(t));
    mark_needs_grad(t);
    for (int i = 1; i < t->net->node_count; i++)
        CC__NET_TRY(plan_node(t, i));
    for (int i = 1; i < t->net->node_count; i++) {
        const size_t need = cc__trainer_node_workspace(t, i);
        if (need > t->workspace_floats)
            t->workspace_floats = need;
    }
    t->workspace = cc__alloc_array(t->workspace_floats, sizeof(float), "trainer: workspace");
    t->grads = cc__alloc_array(t->net->weight_floats, sizeof(float), "trainer: weight gradients");
    if (t->workspace == NULL || t->grads == NULL)
        return CC_ERR_NOMEM;
    memset(t->grads, 0, t->net->weight_floats * sizeof(float));
    return cc__optimizer_create(params, t->net->weight_floats, &t->opt);
}

cc_status cc_trainer_create(cc_net *net, int batch, const cc_optimizer_params *params,
                            uint64_t seed, cc_trainer **trainer)
{
    CC__NET_TRY(check_args(net, batch, params, trainer));
    cc_optimizer_params resolved;
    CC__NET_TRY(cc__optimizer_resolve(params, &resolved));
    cc_trainer *t = cc__alloc(sizeof *t, "trainer");
    if (t == NULL)
        return CC_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->net = net;
    t->batch = batch;
    t->threads = cc_get_num_threads();
    t->seed = seed;
    const int last = net->node_count - 1;
    t->logits = net->nodes[last].inputs[0];
    t->classes = net->nodes[t->logits].out.c;
    const cc_status status = plan_all(t, &resolved);
    if (status != CC_OK) {
        cc_trainer_destroy(t);
        return status;
    }
    *trainer = t;
    return CC_OK;
}

void cc_trainer_destroy(cc_trainer *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->net->node_count; i++) {
        if (t->value != NULL && i > 0)
            cc__free(t->value[i]);
        if (t->grad != NULL)
            cc__free(t->grad[i]);
        if (t->bn_saved != NULL)
            cc__free(t->bn_saved[i]);
        if (t->saved_col != NULL)
            cc__free(t->saved_col[i]);
    }
    cc__free(t->value);
    cc__free(t->grad);
    cc__free(t->live);
    cc__free(t->needs_grad);
    cc__free(t->conv);
    cc__free(t->saved_col);
    cc__free(t->bn_saved);
    cc__free(t->gather);
    cc__free(t->channels);
    cc__free(t->scatter);
    cc__free(t->trainable);
    cc__free(t->workspace);
    cc__free(t->grads);
    cc__optimizer_destroy(t->opt);
    cc__free(t);
}

cc_status cc_trainer_get_gradient(const cc_trainer *t, const char *name, float *data,
                                  size_t count)
{
    if (t == NULL || name == NULL || data == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_get_gradient: %s is NULL",
                        t == NULL ? "trainer" : name == NULL ? "name" : "data");
    const int k = cc__net_find_tensor(t->net, name);
    if (k < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_get_gradient: no tensor '%s'", name);
    const cc__tensor *tensor = &t->net->tensors[k];
    if (!t->trainable[k])
        return cc__fail(CC_ERR_INVALID_ARG,
                        "trainer_get_gradient: '%s' is a running statistic, not trained", name);
    if (count != tensor->count)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "trainer_get_gradient: '%s' has %zu elements, count is %zu", name,
                        tensor->count, count);
    memcpy(data, t->grads + tensor->offset, count * sizeof(float));
    return CC_OK;
}

cc_status cc_trainer_set_epoch(cc_trainer *t, int epoch)
{
    if (t == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_set_epoch: trainer is NULL");
    if (epoch < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_set_epoch: epoch %d must be >= 0", epoch);
    t->epoch = epoch;
    return CC_OK;
}

float cc_trainer_learning_rate(const cc_trainer *t)
{
    return t == NULL ? 0.0f : cc__lr_at_epoch(cc__optimizer_params(t->opt), t->epoch);
}

cc_status cc_trainer_times(const cc_trainer *t, double *forward_ms, double *backward_ms,
                           double *optimizer_ms)
{
    if (t == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_times: trainer is NULL");
    if (forward_ms != NULL)
        *forward_ms = t->forward_ms;
    if (backward_ms != NULL)
        *backward_ms = t->backward_ms;
    if (optimizer_ms != NULL)
        *optimizer_ms = t->optimizer_ms;
    return CC_OK;
}
