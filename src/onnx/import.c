/* cc_net_load_onnx: an ONNX graph mapped node by node, in the file's order
 * (ONNX requires a topological one), onto cc_net_add_* calls. Constants
 * (initializers, Constant nodes, shape arithmetic) live in the value table
 * until an operator consumes them; tensors are queued and given to the
 * network once every layer is added. The network's last layer must compute
 * the model's output, and is renamed after it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../net/net_internal.h"
#include "onnx_internal.h"

#define MIN_OPSET 7
#define MAX_OPSET 17

static cc_status fail_node(const cc__onnx_ctx *ctx, cc_status status, const char *format,
                           va_list args) __attribute__((format(printf, 3, 0)));

static cc_status fail_node(const cc__onnx_ctx *ctx, cc_status status, const char *format,
                           va_list args)
{
    char detail[384];
    vsnprintf(detail, sizeof detail, format, args);
    const CcOnnx__NodeProto *node = ctx->node;
    if (node == NULL)
        return cc__fail(status, "onnx: %s", detail);
    return cc__fail(status, "onnx: operator %s (node '%s', opset %lld)%s: %s",
                    cc__onnx_str(node->op_type), cc__onnx_str(node->name),
                    (long long)ctx->opset,
                    status == CC_ERR_UNSUPPORTED ? " is not supported as used" : "", detail);
}

cc_status cc__onnx_unsupported(const cc__onnx_ctx *ctx, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    const cc_status status = fail_node(ctx, CC_ERR_UNSUPPORTED, format, args);
    va_end(args);
    return status;
}

cc_status cc__onnx_bad(const cc__onnx_ctx *ctx, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    const cc_status status = fail_node(ctx, CC_ERR_FORMAT, format, args);
    va_end(args);
    return status;
}

cc_status cc__onnx_net_status(const cc__onnx_ctx *ctx, cc_status status)
{
    if (status != CC_ERR_INVALID_ARG)
        return status;
    char detail[384];
    snprintf(detail, sizeof detail, "%s", cc_last_error());
    return cc__onnx_unsupported(ctx, "%s", detail);
}

cc_status cc__onnx_output_layer(cc__onnx_ctx *ctx, cc_node node, int rank)
{
    cc__onnx_value v;
    CC__TRY_ONNX(cc__onnx_layer_value(ctx, node, &v));
    if (rank == 4) {
        v.rank = 4;
    } else if (v.rank == 4) {
        v.rank = 2;
        v.dims[1] *= v.dims[2] * v.dims[3];
        v.view = v.dims[2] * v.dims[3] > 1;
        v.dims[2] = v.dims[3] = 1;
    }
    return cc__onnx_output(ctx, &v);
}

/* ---- layer names and queued tensors -------------------------------------- */

static bool name_free(const cc__onnx_ctx *ctx, const char *name)
{
    if (name[0] == '\0' || strlen(name) > CC__NET_NAME_MAX)
        return false;
    const int count = cc_net_node_count(ctx->net);
    for (int i = 0; i < count; i++) {
        cc_net_layer_info info;
        if (cc_net_get_layer_info(ctx->net, i, &info) == CC_OK && strcmp(info.name, name) == 0)
            return false;
    }
    return true;
}

const char *cc__onnx_layer_name(cc__onnx_ctx *ctx, const char *prefix)
{
    if (prefix != NULL && prefix != ctx->layer_name) {
        snprintf(ctx->layer_name, sizeof ctx->layer_name, "%s", prefix);
    }
    if (prefix != NULL && name_free(ctx, ctx->layer_name))
        return ctx->layer_name;
    snprintf(ctx->layer_name, sizeof ctx->layer_name, "%s", cc__onnx_str(ctx->node->name));
    if (name_free(ctx, ctx->layer_name))
        return ctx->layer_name;
    /* Nodes that make several layers (Clip) number the later ones. */
    for (int k = 0;; k++) {
        snprintf(ctx->layer_name, sizeof ctx->layer_name, k == 0 ? "%.64s_%d" : "%.64s_%d_%d",
                 cc__onnx_str(ctx->node->op_type), ctx->node_index, k);
        if (name_free(ctx, ctx->layer_name))
            return ctx->layer_name;
    }
}

const char *cc__onnx_weight_prefix(cc__onnx_ctx *ctx, const cc__onnx_value *const *inputs,
                                   const char *const *suffixes, int n)
{
    const char *first = inputs[0] != NULL ? inputs[0]->origin : NULL;
    const size_t suffix0 = strlen(suffixes[0]);
    if (first == NULL || strlen(first) <= suffix0 + 1 ||
        strlen(first) - suffix0 - 1 >= sizeof ctx->layer_name)
        return NULL;
    const size_t len = strlen(first) - suffix0 - 1;
    if (first[len] != '.' || strcmp(first + len + 1, suffixes[0]) != 0)
        return NULL;
    for (int k = 1; k < n; k++) {
        const char *o = inputs[k] != NULL ? inputs[k]->origin : NULL;
        if (inputs[k] != NULL && (o == NULL || strncmp(o, first, len) != 0 || o[len] != '.' ||
                                  strcmp(o + len + 1, suffixes[k]) != 0))
            return NULL;
    }
    memcpy(ctx->layer_name, first, len);
    ctx->layer_name[len] = '\0';
    return ctx->layer_name;
}

cc_status cc__onnx_set(cc__onnx_ctx *ctx, cc_node node, const char *suffix, const float *data,
                       size_t count, bool owned)
{
    if (ctx->pending_count == ctx->pending_capacity) {
        const int capacity = ctx->pending_capacity > 0 ? 2 * ctx->pending_capacity : 64;
        cc__onnx_pending *grown =
            cc__alloc_array((size_t)capacity, sizeof *grown, "onnx: queued tensors");
        if (grown == NULL) {
            if (owned)
                cc__free((void *)data);
            return CC_ERR_NOMEM;
        }
        if (ctx->pending_count > 0)
            memcpy(grown, ctx->pending, (size_t)ctx->pending_count * sizeof *grown);
        cc__free(ctx->pending);
        ctx->pending = grown;
        ctx->pending_capacity = capacity;
    }
    cc__onnx_pending *p = &ctx->pending[ctx->pending_count++];
    memset(p, 0, sizeof *p);
    p->node = node;
    snprintf(p->suffix, sizeof p->suffix, "%s", suffix);
    p->data = data;
    p->count = count;
    p->owned = owned ? (float *)data : NULL;
    return CC_OK;
}

cc__onnx_pending *cc__onnx_pending_find(cc__onnx_ctx *ctx, cc_node node, const char *suffix)
{
    for (int k = ctx->pending_count - 1; k >= 0; k--)
        if (ctx->pending[k].node == node && strcmp(ctx->pending[k].suffix, suffix) == 0)
            return &ctx->pending[k];
    return NULL;
}

static cc_status set_pending(cc__onnx_ctx *ctx)
{
    /* Every tensor of every layer is queued: none means a network without
     * weights, which an empty weight array completes. */
    if (ctx->pending_count == 0)
        return cc_net_init_weights(ctx->net, CC_INIT_HE, 0);
    for (int k = 0; k < ctx->pending_count; k++) {
        const cc__onnx_pending *p = &ctx->pending[k];
        cc_net_layer_info info;
        CC__TRY_ONNX(cc_net_get_layer_info(ctx->net, p->node, &info));
        char name[CC__NET_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s.%s", info.name, p->suffix);
        CC__TRY_ONNX(cc_net_set_tensor(ctx->net, name, p->data, p->count));
    }
    return CC_OK;
}

static void ctx_free(cc__onnx_ctx *ctx)
{
    for (int k = 0; k < ctx->pending_count; k++)
        cc__free(ctx->pending[k].owned);
    cc__free(ctx->pending);
    cc__onnx_values_free(ctx);
}

/* ---- the graph's input and output ---------------------------------------- */

static bool is_initializer(const CcOnnx__GraphProto *g, const char *name)
{
    for (size_t k = 0; k < g->n_initializer; k++)
        if (strcmp(cc__onnx_str(g->initializer[k]->name), name) == 0)
            return true;
    return false;
}

/* The one graph input that is not an initializer. */
static cc_status find_input(const CcOnnx__GraphProto *g, const CcOnnx__ValueInfoProto **input)
{
    *input = NULL;
    for (size_t k = 0; k < g->n_input; k++) {
        if (is_initializer(g, cc__onnx_str(g->input[k]->name)))
            continue;
        if (*input != NULL)
            return cc__fail(CC_ERR_UNSUPPORTED,
                            "onnx: the model has several inputs ('%s', '%s'); one only",
                            cc__onnx_str((*input)->name), cc__onnx_str(g->input[k]->name));
        *input = g->input[k];
    }
    if (*input == NULL)
        return cc__fail(CC_ERR_FORMAT, "onnx: the graph has no input");
    return CC_OK;
}

/* The dims of a float32 graph input of rank 2 or 4 (-1: symbolic). */
static cc_status input_dims(const CcOnnx__ValueInfoProto *input, int *rank, int64_t dims[4])
{
    const char *name = cc__onnx_str(input->name);
    const CcOnnx__TypeProto *type = input->type;
    if (type == NULL || type->value_case != CC__ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        type->tensor_type == NULL || type->tensor_type->shape == NULL)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: input '%s' is not a tensor of known rank",
                        name);
    const CcOnnx__TypeProto__Tensor *t = type->tensor_type;
    if (!t->has_elem_type || t->elem_type != CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: input '%s' has element type %d, not float32",
                        name, t->has_elem_type ? (int)t->elem_type : 0);
    if (t->shape->n_dim != 4 && t->shape->n_dim != 2)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "onnx: input '%s' has rank %zu (4-D NCHW or 2-D only)", name,
                        t->shape->n_dim);
    *rank = (int)t->shape->n_dim;
    for (int d = 0; d < *rank; d++) {
        const CcOnnx__TensorShapeProto__Dimension *dim = t->shape->dim[d];
        const bool known = dim->value_case ==
                           CC__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[d] = known ? dim->dim_value : -1;
        if (known && (dim->dim_value <= 0 || dim->dim_value > INT32_MAX))
            return cc__fail(CC_ERR_FORMAT, "onnx: input '%s' has dim %d = %lld", name, d,
                            (long long)dim->dim_value);
        if (!known && d > 0)
            return cc__fail(CC_ERR_UNSUPPORTED,
                            "onnx: input '%s' has a symbolic dim %d (only the batch may be)",
                            name, d);
    }
    return CC_OK;
}

/* The node reading name, if exactly one node reads it and nothing else does. */
static const CcOnnx__NodeProto *sole_reader(const cc__onnx_ctx *ctx, const char *name)
{
    if (cc__onnx_use_count(ctx, name) != 1)
        return NULL;
    const CcOnnx__GraphProto *g = ctx->model->graph;
    for (size_t n = 0; n < g->n_node; n++)
        for (size_t i = 0; i < g->node[n]->n_input; i++)
            if (strcmp(cc__onnx_str(g->node[n]->input[i]), name) == 0)
                return g->node[n];
    return NULL;
}

/* True when node is a Transpose by perm (rank 4). */
static bool is_transpose(const CcOnnx__NodeProto *node, const int64_t perm[4])
{
    if (node == NULL || strcmp(cc__onnx_str(node->op_type), "Transpose") != 0)
        return false;
    const int64_t *p;
    size_t n;
    if (cc__onnx_attr_ints(node, "perm", &p, &n) != CC_OK || n != 4)
        return false;
    return memcmp(p, perm, sizeof(int64_t[4])) == 0;
}

static const int64_t TO_NCHW[4] = {0, 3, 1, 2}, TO_NHWC[4] = {0, 2, 3, 1};

/* Creates the network from the model's input and defines that input (or,
 * when an NHWC -> NCHW Transpose reads it alone, that Transpose's output)
 * as node 0. */
static cc_status make_net(cc__onnx_ctx *ctx, const cc_onnx_options *options)
{
    const CcOnnx__ValueInfoProto *input;
    CC__TRY_ONNX(find_input(ctx->model->graph, &input));
    int rank = 0;
    int64_t dims[4] = {1, 1, 1, 1};
    CC__TRY_ONNX(input_dims(input, &rank, dims));
    const char *name = cc__onnx_str(input->name);
    const CcOnnx__NodeProto *reader = sole_reader(ctx, name);
    const bool nhwc = rank == 4 && is_transpose(reader, TO_NCHW);
    if (nhwc) {
        const int64_t n = dims[0], h = dims[1], w = dims[2], c = dims[3];
        dims[0] = n, dims[1] = c, dims[2] = h, dims[3] = w;
        name = cc__onnx_str(reader->output[0]);
        if (reader->n_output < 1 || name[0] == '\0')
            return cc__fail(CC_ERR_FORMAT, "onnx: the input's Transpose has no output");
    }
    const int64_t batch = options->batch > 0 ? options->batch : dims[0] > 0 ? dims[0] : 1;
    CC__TRY_ONNX(cc_net_create(options->layout, (int)batch, (int)dims[1], (int)dims[2],
                               (int)dims[3], &ctx->net));
    cc__onnx_value v;
    CC__TRY_ONNX(cc__onnx_layer_value(ctx, cc_net_input(ctx->net), &v));
    v.rank = rank;
    if (rank == 2)
        v.dims[2] = v.dims[3] = 1;
    CC__TRY_ONNX(cc__onnx_define(ctx, name, &v));
    /* The absorbed Transpose is skipped by the node loop. */
    return CC_OK;
}

static cc_status load_initializers(cc__onnx_ctx *ctx)
{
    const CcOnnx__GraphProto *g = ctx->model->graph;
    for (size_t k = 0; k < g->n_initializer; k++) {
        cc__onnx_value v;
        memset(&v, 0, sizeof v);
        v.kind = CC__ONNX_VALUE_CONST;
        v.origin = cc__onnx_str(g->initializer[k]->name);
        CC__TRY_ONNX(cc__onnx_const_decode(g->initializer[k], ctx->model_dir, &v.c));
        const cc_status status = cc__onnx_define(ctx, v.origin, &v);
        if (status != CC_OK) {
            cc__onnx_const_free(&v.c);
            return status;
        }
    }
    return CC_OK;
}

/* The model's output: one, computed by the network's last layer (directly,
 * or through operators that alias it), which takes its name. */
static cc_status finish_output(cc__onnx_ctx *ctx)
{
    ctx->node = NULL;
    const CcOnnx__GraphProto *g = ctx->model->graph;
    if (g->n_output != 1)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: the model has %zu outputs (one only)",
                        g->n_output);
    const char *name = cc__onnx_str(g->output[0]->name);
    const cc__onnx_value *v = cc__onnx_find(ctx, name);
    if (v == NULL)
        return cc__fail(CC_ERR_FORMAT, "onnx: the output '%s' is computed by no node", name);
    if (v->kind != CC__ONNX_VALUE_LAYER || v->padded)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: the output '%s' is a constant or a bare Pad",
                        name);
    const int last = cc_net_node_count(ctx->net) - 1;
    if (v->node != last || last == 0)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "onnx: the output '%s' is not computed by the network's last layer "
                        "(layers computed after it would be wasted)",
                        name);
    cc_net_layer_info info;
    CC__TRY_ONNX(cc_net_get_layer_info(ctx->net, last, &info));
    if (strcmp(info.name, name) == 0)
        return CC_OK;
    const cc_status status = cc__net_rename_last(ctx->net, name);
    if (status == CC_ERR_INVALID_ARG)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "onnx: the output's name '%s' cannot name a layer (empty, over %d "
                        "bytes, or taken)",
                        name, CC__NET_NAME_MAX);
    return status;
}

/* ---- the node loop ------------------------------------------------------- */

static cc_status map_node(cc__onnx_ctx *ctx)
{
    const CcOnnx__NodeProto *node = ctx->node;
    const char *domain = cc__onnx_str(node->domain);
    const char *op = cc__onnx_str(node->op_type);
    if (domain[0] != '\0' && strcmp(domain, "ai.onnx") != 0)
        return cc__onnx_unsupported(ctx, "domain '%s' (only the default ai.onnx)", domain);
    /* The input's NHWC -> NCHW Transpose, absorbed by make_net. */
    if (is_transpose(node, TO_NCHW) && node->n_output >= 1 &&
        cc__onnx_find(ctx, cc__onnx_str(node->output[0])) != NULL)
        return CC_OK;
    cc__onnx_op_fn fn = cc__onnx_layer_op(op);
    if (fn == NULL)
        fn = cc__onnx_shape_op(op);
    if (fn == NULL)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "onnx: operator %s (node '%s', opset %lld) is not supported", op,
                        cc__onnx_str(node->name), (long long)ctx->opset);
    return fn(ctx);
}

bool cc__onnx_is_output_transpose(const cc__onnx_ctx *ctx)
{
    const CcOnnx__GraphProto *g = ctx->model->graph;
    return is_transpose(ctx->node, TO_NHWC) && ctx->node->n_output >= 1 && g->n_output == 1 &&
           strcmp(cc__onnx_str(ctx->node->output[0]), cc__onnx_str(g->output[0]->name)) == 0;
}

static cc_status map_graph(cc__onnx_ctx *ctx, const cc_onnx_options *options)
{
    CC__TRY_ONNX(load_initializers(ctx));
    CC__TRY_ONNX(make_net(ctx, options));
    const CcOnnx__GraphProto *g = ctx->model->graph;
    for (size_t n = 0; n < g->n_node; n++) {
        ctx->node = g->node[n];
        ctx->node_index = (int)n;
        CC__TRY_ONNX(map_node(ctx));
    }
    CC__TRY_ONNX(finish_output(ctx));
    return set_pending(ctx);
}

/* The directory of path ("." for a bare file name), into dir. */
static cc_status model_dir(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    const size_t len = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (len >= size)
        return cc__fail(CC_ERR_INVALID_ARG, "net_load_onnx: path too long");
    memcpy(dir, slash == NULL ? "." : path, len);
    dir[len] = '\0';
    return CC_OK;
}

cc_status cc_net_load_onnx(const char *path, const cc_onnx_options *options, cc_net **net)
{
    if (net != NULL)
        *net = NULL;
    if (path == NULL || net == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_load_onnx: %s is NULL",
                        path == NULL ? "path" : "net");
    const cc_onnx_options defaults = {CC_NCHW, 0};
    if (options == NULL)
        options = &defaults;
    if ((options->layout != CC_NCHW && options->layout != CC_NHWC) || options->batch < 0)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "net_load_onnx: layout must be CC_NCHW or CC_NHWC and batch >= 0 (got "
                        "%d, %d)",
                        (int)options->layout, options->batch);
    char dir[4096];
    CC__TRY_ONNX(model_dir(path, dir, sizeof dir));
    cc__onnx_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model_dir = dir;
    cc__onnx_model *model;
    CC__TRY_ONNX(cc__onnx_model_read(path, &model));
    ctx.model = model;
    ctx.opset = cc__onnx_opset(model);
    cc_status status;
    if (ctx.opset < 0)
        status = cc__fail(CC_ERR_FORMAT, "onnx: '%s' declares no opset for the default domain",
                          path);
    else if (ctx.opset < MIN_OPSET || ctx.opset > MAX_OPSET)
        status = cc__fail(CC_ERR_UNSUPPORTED, "onnx: '%s' uses opset %lld (%d to %d supported)",
                          path, (long long)ctx.opset, MIN_OPSET, MAX_OPSET);
    else
        status = map_graph(&ctx, options);
    ctx_free(&ctx);
    cc__onnx_model_free(model);
    if (status != CC_OK) {
        cc_net_destroy(ctx.net);
        return status;
    }
    *net = ctx.net;
    return CC_OK;
}
