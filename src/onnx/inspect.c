/* cc_onnx_inspect: a model's declared inputs and outputs, copied out of the
 * parsed file into one block the caller frees. */
#include <string.h>

#include "onnx_internal.h"

/* What one allocation holds: the info, its value arrays, then the strings. */
typedef struct {
    cc_onnx_model_info info;
    cc_onnx_value_info *values;
    char *strings; /* where the next string goes */
} info_block;

static size_t string_bytes(const char *s) { return strlen(cc__onnx_str(s)) + 1; }

static const char *copy(info_block *b, const char *s)
{
    const size_t n = string_bytes(s);
    char *out = b->strings;
    memcpy(out, cc__onnx_str(s), n);
    b->strings += n;
    return out;
}

static bool is_initializer(const CcOnnx__GraphProto *g, const char *name)
{
    for (size_t k = 0; k < g->n_initializer; k++)
        if (strcmp(cc__onnx_str(g->initializer[k]->name), name) == 0)
            return true;
    return false;
}

static const CcOnnx__TensorShapeProto *shape_of(const CcOnnx__ValueInfoProto *v)
{
    const CcOnnx__TypeProto *t = v->type;
    if (t == NULL || t->value_case != CC__ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        t->tensor_type == NULL)
        return NULL;
    return t->tensor_type->shape;
}

/* Bytes of the strings one value brings: its name and dim symbols. */
static bool value_bytes(const CcOnnx__ValueInfoProto *v, size_t *bytes)
{
    size_t n = string_bytes(v->name);
    const CcOnnx__TensorShapeProto *shape = shape_of(v);
    for (size_t d = 0; shape != NULL && d < shape->n_dim && d < CC_ONNX_MAX_RANK; d++)
        if (shape->dim[d]->value_case == CC__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            n += string_bytes(shape->dim[d]->dim_param);
    return cc__add_size(*bytes, n, bytes);
}

static cc_status fill_value(info_block *b, const CcOnnx__ValueInfoProto *v,
                            cc_onnx_value_info *out)
{
    memset(out, 0, sizeof *out);
    out->name = copy(b, v->name);
    const CcOnnx__TypeProto *t = v->type;
    if (t != NULL && t->value_case == CC__ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        t->tensor_type != NULL && t->tensor_type->has_elem_type)
        out->elem_type = t->tensor_type->elem_type;
    const CcOnnx__TensorShapeProto *shape = shape_of(v);
    if (shape == NULL)
        return CC_OK;
    if (shape->n_dim > CC_ONNX_MAX_RANK)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: '%s' has rank %zu (at most %d)",
                        out->name, shape->n_dim, CC_ONNX_MAX_RANK);
    out->rank = (int)shape->n_dim;
    for (int d = 0; d < out->rank; d++) {
        const CcOnnx__TensorShapeProto__Dimension *dim = shape->dim[d];
        const bool known =
            dim->value_case == CC__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        out->dims[d] = known && dim->dim_value >= 0 ? dim->dim_value : -1;
        if (dim->value_case == CC__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            out->dim_params[d] = copy(b, dim->dim_param);
    }
    return CC_OK;
}

static cc_status fill(const cc__onnx_model *model, info_block *b)
{
    const CcOnnx__GraphProto *g = model->graph;
    int k = 0;
    for (size_t i = 0; i < g->n_input; i++)
        if (!is_initializer(g, cc__onnx_str(g->input[i]->name)))
            CC__TRY_ONNX(fill_value(b, g->input[i], &b->values[k++]));
    for (size_t o = 0; o < g->n_output; o++)
        CC__TRY_ONNX(fill_value(b, g->output[o], &b->values[k++]));
    b->info.ir_version = model->has_ir_version ? model->ir_version : 0;
    b->info.opset = cc__onnx_opset(model);
    b->info.producer = copy(b, model->producer_name);
    b->info.graph_name = copy(b, g->name);
    return CC_OK;
}

cc_status cc_onnx_inspect(const char *path, cc_onnx_model_info **info)
{
    if (info != NULL)
        *info = NULL;
    if (path == NULL || info == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "onnx_inspect: %s is NULL",
                        path == NULL ? "path" : "info");
    cc__onnx_model *model;
    CC__TRY_ONNX(cc__onnx_model_read(path, &model));
    const CcOnnx__GraphProto *g = model->graph;
    size_t inputs = 0, strings = string_bytes(model->producer_name) + string_bytes(g->name);
    bool fits = g->n_output <= INT32_MAX && g->n_input <= INT32_MAX;
    for (size_t i = 0; i < g->n_input; i++)
        if (!is_initializer(g, cc__onnx_str(g->input[i]->name))) {
            inputs++;
            fits = fits && value_bytes(g->input[i], &strings);
        }
    for (size_t o = 0; o < g->n_output; o++)
        fits = fits && value_bytes(g->output[o], &strings);
    size_t values_bytes = 0, total = 0;
    fits = fits && cc__mul_size(inputs + g->n_output, sizeof(cc_onnx_value_info), &values_bytes) &&
           cc__add_size(sizeof(info_block), values_bytes, &total) &&
           cc__add_size(total, strings, &total);
    info_block *b = NULL;
    cc_status status = CC_OK;
    if (!fits) {
        status = cc__fail(CC_ERR_FORMAT, "onnx_inspect: too many values");
    } else if ((b = cc__alloc(total, "onnx_inspect: info")) == NULL) {
        status = CC_ERR_NOMEM;
    } else {
        memset(b, 0, sizeof *b);
        b->values = (cc_onnx_value_info *)(b + 1);
        b->strings = (char *)b->values + values_bytes;
        b->info.input_count = (int)inputs;
        b->info.output_count = (int)g->n_output;
        b->info.inputs = b->values;
        b->info.outputs = b->values + inputs;
        status = fill(model, b);
    }
    cc__onnx_model_free(model);
    if (status != CC_OK) {
        cc__free(b);
        return status;
    }
    *info = &b->info;
    return CC_OK;
}

void cc_onnx_info_free(cc_onnx_model_info *info)
{
    /* info is the first member of its block. */
    cc__free(info);
}
