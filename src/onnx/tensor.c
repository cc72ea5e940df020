/* Constant tensors from TensorProto messages: dims checked (non-negative,
 * product without overflow) and the data's length checked against them,
 * whichever field holds it: raw_data (little-endian bytes), float_data,
 * int32_data, int64_data, or a data file beside the model (external.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

/* Bytes of one element of each kind as stored in raw_data. */
static size_t raw_width(int32_t data_type)
{
    return data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? 4
           : data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? 8
                                                                  : 4;
}

cc_status cc__onnx_const_make(cc__onnx_elem elem, int rank, const int64_t *dims,
                              cc__onnx_const *c)
{
    memset(c, 0, sizeof *c);
    if (rank < 0 || rank > CC__ONNX_MAX_RANK)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: a tensor of rank %d (at most %d)", rank,
                        CC__ONNX_MAX_RANK);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0 || (uint64_t)dims[d] > SIZE_MAX ||
            !cc__mul_size(count, (size_t)dims[d], &count))
            return cc__fail(CC_ERR_FORMAT, "onnx: tensor dim %d is %lld: negative or too large",
                            d, (long long)dims[d]);
        c->dims[d] = dims[d];
    }
    c->elem = elem;
    c->rank = rank;
    c->count = count;
    /* At least one element, so that the pointer is never NULL. */
    const size_t n = count > 0 ? count : 1;
    if (elem == CC__ONNX_FLOAT)
        c->f = cc__alloc_array(n, sizeof(float), "onnx: tensor");
    else
        c->i = cc__alloc_array(n, sizeof(int64_t), "onnx: tensor");
    if (c->f == NULL && c->i == NULL)
        return CC_ERR_NOMEM;
    if (c->f != NULL)
        memset(c->f, 0, n * sizeof(float));
    else
        memset(c->i, 0, n * sizeof(int64_t));
    return CC_OK;
}

void cc__onnx_const_free(cc__onnx_const *c)
{
    cc__free(c->f);
    cc__free(c->i);
    c->f = NULL;
    c->i = NULL;
}

double cc__onnx_const_get(const cc__onnx_const *c, size_t k)
{
    return c->elem == CC__ONNX_FLOAT ? (double)c->f[k] : (double)c->i[k];
}

int64_t cc__onnx_const_int(const cc__onnx_const *c, size_t k)
{
    if (c->elem == CC__ONNX_INT64)
        return c->i[k];
    const float v = c->f[k];
    /* Out-of-range floats are clamped, not undefined behaviour. */
    return v != v ? 0 : v >= 9.2e18f ? INT64_MAX : v <= -9.2e18f ? INT64_MIN : (int64_t)v;
}

/* Little-endian raw bytes into the constant's values. */
static void from_raw(const uint8_t *raw, int32_t data_type, cc__onnx_const *c)
{
    for (size_t k = 0; k < c->count; k++) {
        if (data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            uint32_t bits = 0;
            for (int b = 3; b >= 0; b--)
                bits = bits << 8 | raw[4 * k + (size_t)b];
            memcpy(&c->f[k], &bits, sizeof bits);
        } else if (data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
            uint32_t bits = 0;
            for (int b = 3; b >= 0; b--)
                bits = bits << 8 | raw[4 * k + (size_t)b];
            int32_t v;
            memcpy(&v, &bits, sizeof v);
            c->i[k] = v;
        } else {
            uint64_t bits = 0;
            for (int b = 7; b >= 0; b--)
                bits = bits << 8 | raw[8 * k + (size_t)b];
            memcpy(&c->i[k], &bits, sizeof bits);
        }
    }
}

/* The bytes of an external tensor ("location", "offset", "length" keys),
 * read once its size has been checked against its dims. */
static cc_status read_external(const CcOnnx__TensorProto *t, const char *model_dir,
                               size_t bytes, uint8_t **raw)
{
    const char *location = NULL;
    uint64_t offset = 0, length = UINT64_MAX;
    for (size_t k = 0; k < t->n_external_data; k++) {
        const char *key = cc__onnx_str(t->external_data[k]->key);
        const char *value = cc__onnx_str(t->external_data[k]->value);
        char *end = NULL;
        if (strcmp(key, "location") == 0) {
            location = value;
        } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
            errno = 0;
            const unsigned long long v = strtoull(value, &end, 10);
            if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0)
                return cc__fail(CC_ERR_FORMAT,
                                "onnx: tensor '%s': external %s '%s' is not a number",
                                cc__onnx_str(t->name), key, value);
            *(key[0] == 'o' ? &offset : &length) = v;
        }
    }
    if (location == NULL)
        return cc__fail(CC_ERR_FORMAT, "onnx: tensor '%s' is external but has no location",
                        cc__onnx_str(t->name));
    if (length != UINT64_MAX && length != bytes)
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: tensor '%s': its dims hold %zu bytes, its external length is %llu",
                        cc__onnx_str(t->name), bytes, (unsigned long long)length);
    return cc__onnx_external_read(model_dir, location, offset, bytes, cc__onnx_str(t->name),
                                  raw);
}

/* Typed values (float_data, int32_data, int64_data) into the constant. */
static void from_typed(const CcOnnx__TensorProto *t, int32_t data_type, cc__onnx_const *c)
{
    if (c->count == 0)
        return;
    if (data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        memcpy(c->f, t->float_data, c->count * sizeof(float));
    else if (data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
        for (size_t k = 0; k < c->count; k++)
            c->i[k] = t->int32_data[k];
    else
        memcpy(c->i, t->int64_data, c->count * sizeof(int64_t));
}

/* Elements the typed field of data_type holds. */
static size_t typed_count(const CcOnnx__TensorProto *t, int32_t data_type)
{
    return data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT   ? t->n_float_data
           : data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? t->n_int32_data
                                                                   : t->n_int64_data;
}

static const char *typed_field(int32_t data_type)
{
    return data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT   ? "float_data"
           : data_type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? "int32_data"
                                                                   : "int64_data";
}

/* The number of elements dims describe; CC_ERR_FORMAT if one is negative
 * or their product overflows. */
static cc_status dims_count(const CcOnnx__TensorProto *t, size_t *count)
{
    *count = 1;
    for (size_t d = 0; d < t->n_dims; d++)
        if (t->dims[d] < 0 || (uint64_t)t->dims[d] > SIZE_MAX ||
            !cc__mul_size(*count, (size_t)t->dims[d], count))
            return cc__fail(CC_ERR_FORMAT, "onnx: tensor '%s': dim %zu is %lld: negative or "
                                           "too large",
                            cc__onnx_str(t->name), d, (long long)t->dims[d]);
    return CC_OK;
}

cc_status cc__onnx_const_decode(const CcOnnx__TensorProto *t, const char *model_dir,
                                cc__onnx_const *c)
{
    memset(c, 0, sizeof *c);
    const int32_t type = t->has_data_type ? t->data_type : 0;
    if (type != CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
        type != CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32 &&
        type != CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return cc__fail(CC_ERR_UNSUPPORTED,
                        "onnx: tensor '%s' has data type %d (float32, int32 and int64 only)",
                        cc__onnx_str(t->name), (int)type);
    if (t->segment != NULL)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: tensor '%s' is a segment",
                        cc__onnx_str(t->name));
    if (t->n_dims > CC__ONNX_MAX_RANK)
        return cc__fail(CC_ERR_UNSUPPORTED, "onnx: tensor '%s' has rank %zu (at most %d)",
                        cc__onnx_str(t->name), t->n_dims, CC__ONNX_MAX_RANK);
    const cc__onnx_elem elem =
        type == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? CC__ONNX_FLOAT : CC__ONNX_INT64;
    size_t count;
    CC__TRY_ONNX(dims_count(t, &count));
    /* Inline data shorter than the dims is refused before the values are
     * allocated: a few bytes of dims must not cost gigabytes. External data
     * is checked against its file's size the same way, before it is read
     * (external.c). */
    const bool external =
        t->has_data_location && t->data_location == CC__ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t bytes;
    if (!cc__mul_size(count, raw_width(type), &bytes))
        return cc__fail(CC_ERR_FORMAT, "onnx: tensor '%s': its dims hold too many values",
                        cc__onnx_str(t->name));
    if (!external && t->has_raw_data && t->raw_data.len != bytes)
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: tensor '%s': its dims hold %zu bytes, its raw_data has %zu",
                        cc__onnx_str(t->name), bytes, t->raw_data.len);
    if (!external && !t->has_raw_data && typed_count(t, type) != count)
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: tensor '%s': its dims hold %zu values, its %s has %zu",
                        cc__onnx_str(t->name), count, typed_field(type), typed_count(t, type));
    uint8_t *raw = NULL;
    if (external)
        CC__TRY_ONNX(read_external(t, model_dir, bytes, &raw));
    const cc_status status = cc__onnx_const_make(elem, (int)t->n_dims, t->dims, c);
    if (status == CC_OK && external)
        from_raw(raw, type, c);
    else if (status == CC_OK && t->has_raw_data)
        from_raw(t->raw_data.data, type, c);
    else if (status == CC_OK)
        from_typed(t, type, c);
    cc__free(raw);
    return status;
}
