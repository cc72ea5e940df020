/* Typed access to a node's attributes: an attribute present with the wrong
 * type is a malformed file (CC_ERR_FORMAT naming the node and attribute),
 * never a value read from the wrong field. */
#include <string.h>

#include "onnx_internal.h"

#define TYPE(name) CC__ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##name

static const CcOnnx__AttributeProto *find(const CcOnnx__NodeProto *node, const char *name)
{
    for (size_t k = 0; k < node->n_attribute; k++)
        if (strcmp(cc__onnx_str(node->attribute[k]->name), name) == 0)
            return node->attribute[k];
    return NULL;
}

bool cc__onnx_attr_has(const CcOnnx__NodeProto *node, const char *name)
{
    return find(node, name) != NULL;
}

/* The attribute `name` if present with type `type`; CC_ERR_FORMAT if
 * present with another. */
static cc_status typed(const CcOnnx__NodeProto *node, const char *name, int type,
                       const char *type_name, const CcOnnx__AttributeProto **attr)
{
    *attr = find(node, name);
    if (*attr == NULL)
        return CC_OK;
    /* Files before IR version 0.0.2 carry no type; the field set tells it. */
    const int declared = (*attr)->has_type ? (int)(*attr)->type : type;
    if (declared != type)
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: node '%s' (%s): attribute '%s' must be of type %s (has type %d)",
                        cc__onnx_str(node->name), cc__onnx_str(node->op_type), name, type_name,
                        declared);
    return CC_OK;
}

cc_status cc__onnx_attr_int(const CcOnnx__NodeProto *node, const char *name, int64_t fallback,
                            int64_t *out)
{
    const CcOnnx__AttributeProto *a;
    CC__TRY_ONNX(typed(node, name, TYPE(INT), "INT", &a));
    *out = a != NULL ? a->i : fallback;
    return CC_OK;
}

cc_status cc__onnx_attr_float(const CcOnnx__NodeProto *node, const char *name, float fallback,
                              float *out)
{
    const CcOnnx__AttributeProto *a;
    CC__TRY_ONNX(typed(node, name, TYPE(FLOAT), "FLOAT", &a));
    *out = a != NULL ? a->f : fallback;
    return CC_OK;
}

cc_status cc__onnx_attr_ints(const CcOnnx__NodeProto *node, const char *name,
                             const int64_t **values, size_t *n)
{
    const CcOnnx__AttributeProto *a;
    CC__TRY_ONNX(typed(node, name, TYPE(INTS), "INTS", &a));
    *values = a != NULL ? a->ints : NULL;
    *n = a != NULL ? a->n_ints : 0;
    return CC_OK;
}

cc_status cc__onnx_attr_string(const CcOnnx__NodeProto *node, const char *name,
                               const char *fallback, char *text, size_t size)
{
    const CcOnnx__AttributeProto *a;
    CC__TRY_ONNX(typed(node, name, TYPE(STRING), "STRING", &a));
    const char *s = a != NULL ? (const char *)a->s.data : fallback;
    const size_t len = a != NULL ? a->s.len : strlen(fallback);
    if (len >= size || (a != NULL && len > 0 && memchr(s, '\0', len) != NULL))
        return cc__fail(CC_ERR_FORMAT, "onnx: node '%s' (%s): attribute '%s' is not a short "
                                       "string",
                        cc__onnx_str(node->name), cc__onnx_str(node->op_type), name);
    if (len > 0)
        memcpy(text, s, len);
    text[len] = '\0';
    return CC_OK;
}

cc_status cc__onnx_attr_tensor(const CcOnnx__NodeProto *node, const char *name,
                               const CcOnnx__TensorProto **tensor)
{
    const CcOnnx__AttributeProto *a;
    CC__TRY_ONNX(typed(node, name, TYPE(TENSOR), "TENSOR", &a));
    *tensor = a != NULL ? a->t : NULL;
    if (a != NULL && a->t == NULL)
        return cc__fail(CC_ERR_FORMAT, "onnx: node '%s' (%s): attribute '%s' holds no tensor",
                        cc__onnx_str(node->name), cc__onnx_str(node->op_type), name);
    return CC_OK;
}
