/* The table of ONNX value names met so far: graph input, initializers,
 * constants and the outputs of mapped nodes. A linear search: graphs have
 * hundreds of values, not millions, and each is looked up a few times. */
#include <string.h>

#include "onnx_internal.h"

cc__onnx_value *cc__onnx_find(cc__onnx_ctx *ctx, const char *name)
{
    for (int k = ctx->value_count - 1; k >= 0; k--)
        if (strcmp(ctx->values[k].name, name) == 0)
            return &ctx->values[k];
    return NULL;
}

cc_status cc__onnx_define(cc__onnx_ctx *ctx, const char *name, const cc__onnx_value *v)
{
    if (name[0] == '\0' || cc__onnx_find(ctx, name) != NULL)
        return cc__onnx_bad(ctx, "value name '%s' is empty or defined twice", name);
    if (ctx->value_count == ctx->value_capacity) {
        const int capacity = ctx->value_capacity > 0 ? 2 * ctx->value_capacity : 64;
        cc__onnx_value *grown =
            cc__alloc_array((size_t)capacity, sizeof *grown, "onnx: value table");
        if (grown == NULL)
            return CC_ERR_NOMEM;
        if (ctx->value_count > 0)
            memcpy(grown, ctx->values, (size_t)ctx->value_count * sizeof *grown);
        cc__free(ctx->values);
        ctx->values = grown;
        ctx->value_capacity = capacity;
    }
    ctx->values[ctx->value_count] = *v;
    ctx->values[ctx->value_count].name = name;
    ctx->value_count++;
    return CC_OK;
}

int cc__onnx_use_count(const cc__onnx_ctx *ctx, const char *name)
{
    const CcOnnx__GraphProto *g = ctx->model->graph;
    int uses = 0;
    for (size_t n = 0; n < g->n_node; n++)
        for (size_t i = 0; i < g->node[n]->n_input; i++)
            uses += strcmp(cc__onnx_str(g->node[n]->input[i]), name) == 0;
    for (size_t o = 0; o < g->n_output; o++)
        uses += strcmp(cc__onnx_str(g->output[o]->name), name) == 0;
    return uses;
}

void cc__onnx_values_free(cc__onnx_ctx *ctx)
{
    for (int k = 0; k < ctx->value_count; k++)
        cc__onnx_const_free(&ctx->values[k].c);
    cc__free(ctx->values);
    ctx->values = NULL;
    ctx->value_count = ctx->value_capacity = 0;
}

cc_status cc__onnx_input(cc__onnx_ctx *ctx, size_t i, bool optional, cc__onnx_value **v)
{
    *v = NULL;
    const CcOnnx__NodeProto *node = ctx->node;
    const char *name = i < node->n_input ? cc__onnx_str(node->input[i]) : "";
    if (name[0] == '\0') {
        if (optional)
            return CC_OK;
        return cc__onnx_bad(ctx, "input %zu is missing (the node has %zu)", i, node->n_input);
    }
    *v = cc__onnx_find(ctx, name);
    if (*v == NULL)
        return cc__onnx_bad(ctx, "input '%s' is not defined by the graph's inputs, its "
                                 "initializers or an earlier node",
                            name);
    return CC_OK;
}

cc_status cc__onnx_input_layer(cc__onnx_ctx *ctx, size_t i, cc__onnx_value **v)
{
    CC__TRY_ONNX(cc__onnx_input(ctx, i, false, v));
    if ((*v)->kind != CC__ONNX_VALUE_LAYER)
        return cc__onnx_unsupported(ctx, "input %zu ('%s') is a constant, not a computed tensor",
                                    i, (*v)->name);
    if ((*v)->padded)
        return cc__onnx_unsupported(ctx, "input %zu ('%s') is a Pad's output; a Pad is folded "
                                         "only into a following Conv or AveragePool with "
                                         "count_include_pad",
                                    i, (*v)->name);
    return CC_OK;
}

cc_status cc__onnx_input_const(cc__onnx_ctx *ctx, size_t i, bool optional, cc__onnx_value **v)
{
    CC__TRY_ONNX(cc__onnx_input(ctx, i, optional, v));
    if (*v != NULL && (*v)->kind != CC__ONNX_VALUE_CONST)
        return cc__onnx_unsupported(ctx, "input %zu ('%s') must be a constant", i, (*v)->name);
    return CC_OK;
}

cc_status cc__onnx_output(cc__onnx_ctx *ctx, const cc__onnx_value *v)
{
    const CcOnnx__NodeProto *node = ctx->node;
    if (node->n_output < 1 || cc__onnx_str(node->output[0])[0] == '\0')
        return cc__onnx_bad(ctx, "the node has no output");
    for (size_t o = 1; o < node->n_output; o++) {
        const char *extra = cc__onnx_str(node->output[o]);
        if (extra[0] != '\0' && cc__onnx_use_count(ctx, extra) > 0)
            return cc__onnx_unsupported(ctx, "output %zu ('%s') is read; only output 0 is "
                                             "computed",
                                        o, extra);
    }
    return cc__onnx_define(ctx, node->output[0], v);
}

cc_status cc__onnx_layer_value(cc__onnx_ctx *ctx, cc_node node, cc__onnx_value *v)
{
    memset(v, 0, sizeof *v);
    cc_net_layer_info info;
    CC__TRY_ONNX(cc_net_get_layer_info(ctx->net, node, &info));
    v->kind = CC__ONNX_VALUE_LAYER;
    v->node = node;
    v->rank = info.flat ? 2 : 4;
    v->dims[0] = info.n;
    v->dims[1] = info.c;
    v->dims[2] = info.h;
    v->dims[3] = info.w;
    return CC_OK;
}
