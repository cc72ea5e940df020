/* ONNX operators that make no layer: aliases (Identity, Dropout, Flatten,
 * Reshape, Squeeze, Unsqueeze and Transpose where they only relabel a
 * computed tensor's dims, a Cast to float), a Pad waiting to be folded into
 * the next Conv or AveragePool, and constant folding: Constant, Shape,
 * Gather, Unsqueeze, Squeeze, Concat, Cast, Reshape, Flatten and Add, Sub,
 * Mul, Div over constants (the shape arithmetic exporters write before a
 * Reshape). Folded constants are small: their sizes follow the model's
 * own tensors, which have been read whole already. */
#include <string.h>

#include "onnx_internal.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Defines the node's output as the constant c (taken: freed on failure). */
static cc_status output_const(cc__onnx_ctx *ctx, cc__onnx_const *c)
{
    cc__onnx_value v;
    memset(&v, 0, sizeof v);
    v.kind = CC__ONNX_VALUE_CONST;
    v.c = *c;
    const cc_status status = cc__onnx_output(ctx, &v);
    if (status != CC_OK)
        cc__onnx_const_free(c);
    return status;
}

/* A copy of constant src with other dims (the same element count). */
static cc_status reshaped(const cc__onnx_const *src, int rank, const int64_t *dims,
                          cc__onnx_const *out)
{
    CC__TRY_ONNX(cc__onnx_const_make(src->elem, rank, dims, out));
    if (out->count != src->count) {
        cc__onnx_const_free(out);
        return cc__fail(CC_ERR_FORMAT, "onnx: a reshape from %zu to %zu values", src->count,
                        out->count);
    }
    if (src->count > 0)
        memcpy(src->elem == CC__ONNX_FLOAT ? (void *)out->f : (void *)out->i,
               src->elem == CC__ONNX_FLOAT ? (const void *)src->f : (const void *)src->i,
               src->count * (src->elem == CC__ONNX_FLOAT ? sizeof(float) : sizeof(int64_t)));
    return CC_OK;
}

static cc_status output_reshaped(cc__onnx_ctx *ctx, const cc__onnx_const *src, int rank,
                                 const int64_t *dims)
{
    cc__onnx_const c;
    const cc_status status = reshaped(src, rank, dims, &c);
    if (status == CC_ERR_FORMAT)
        return cc__onnx_bad(ctx, "%s", cc_last_error());
    CC__TRY_ONNX(status);
    return output_const(ctx, &c);
}

/* Defines the output as the computed tensor x seen with another rank and
 * dims: 4-D as is, or 2-D [N][C*H*W]. */
static cc_status output_alias(cc__onnx_ctx *ctx, const cc__onnx_value *x, int rank)
{
    cc__onnx_value v = *x;
    v.from_matmul = false;
    if (rank == 2 && x->rank == 4) {
        v.rank = 2;
        v.view = x->dims[2] * x->dims[3] > 1;
        v.dims[1] = x->dims[1] * x->dims[2] * x->dims[3];
        v.dims[2] = v.dims[3] = 1;
    } else if (rank == 4 && x->rank == 2) {
        if (x->view)
            return cc__onnx_unsupported(ctx, "a flattened image made 4-D again");
        v.rank = 4;
    }
    return cc__onnx_output(ctx, &v);
}

/* An axes list from an attribute (before opset 13) or a constant input. */
static cc_status read_axes(cc__onnx_ctx *ctx, int rank, int64_t *axes, size_t *n)
{
    const int64_t *values = NULL;
    cc__onnx_value *k = NULL;
    if (ctx->opset < 13) {
        CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, "axes", &values, n));
    } else {
        CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, true, &k));
        if (k != NULL && (k->c.elem != CC__ONNX_INT64 || k->c.rank > 1))
            return cc__onnx_unsupported(ctx, "axes that are not a list of integers");
        *n = k != NULL ? k->c.count : 0;
        values = k != NULL ? k->c.i : NULL;
    }
    if (*n > CC__ONNX_MAX_RANK)
        return cc__onnx_unsupported(ctx, "%zu axes", *n);
    for (size_t a = 0; a < *n; a++) {
        axes[a] = values[a] < 0 ? values[a] + rank : values[a];
        if (axes[a] < 0 || axes[a] >= rank)
            return cc__onnx_bad(ctx, "axis %lld out of range for rank %d", (long long)values[a],
                                rank);
    }
    return CC_OK;
}

static bool has_axis(const int64_t *axes, size_t n, int64_t axis)
{
    for (size_t a = 0; a < n; a++)
        if (axes[a] == axis)
            return true;
    return false;
}

/* ---- aliases -------------------------------------------------------------- */

static cc_status op_identity(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    if (x->kind == CC__ONNX_VALUE_CONST)
        return output_reshaped(ctx, &x->c, x->c.rank, x->c.dims);
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    return output_alias(ctx, x, x->rank);
}

/* Dropout is the identity at inference; a training_mode input must be a
 * false constant. */
static cc_status op_dropout(cc__onnx_ctx *ctx)
{
    cc__onnx_value *training;
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 2, true, &training));
    if (training != NULL && training->c.count == 1 && cc__onnx_const_get(&training->c, 0) != 0)
        return cc__onnx_unsupported(ctx, "training_mode is true");
    return op_identity(ctx);
}

static cc_status op_flatten(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    int64_t axis;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "axis", 1, &axis));
    if (x->kind == CC__ONNX_VALUE_CONST) {
        const int rank = x->c.rank;
        axis = axis < 0 ? axis + rank : axis;
        if (axis < 0 || axis > rank)
            return cc__onnx_bad(ctx, "axis out of range");
        int64_t dims[2] = {1, 1};
        for (int d = 0; d < rank; d++)
            dims[d >= axis] *= x->c.dims[d];
        return output_reshaped(ctx, &x->c, 2, dims);
    }
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    if (axis != 1 && axis != 1 - x->rank)
        return cc__onnx_unsupported(ctx, "axis %lld (1 only: [N][features])", (long long)axis);
    return output_alias(ctx, x, 2);
}

/* Reshape to constant dims: folded for a constant; for a computed tensor,
 * only to its own dims or to [N][features] (a flatten). */
static cc_status op_reshape(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x, *shape;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &shape));
    int64_t allowzero;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "allowzero", 0, &allowzero));
    if (shape->c.elem != CC__ONNX_INT64 || shape->c.rank != 1 ||
        shape->c.count > CC__ONNX_MAX_RANK)
        return cc__onnx_unsupported(ctx, "a shape that is not a short list of integers");
    const int rank = (int)shape->c.count;
    const int in_rank = x->kind == CC__ONNX_VALUE_CONST ? x->c.rank : x->rank;
    const int64_t *in_dims = x->kind == CC__ONNX_VALUE_CONST ? x->c.dims : x->dims;
    size_t total = 1, known = 1;
    for (int d = 0; d < in_rank; d++)
        if (!cc__mul_size(total, (size_t)in_dims[d], &total))
            return cc__onnx_bad(ctx, "input too large");
    int64_t dims[CC__ONNX_MAX_RANK];
    int infer = -1;
    for (int d = 0; d < rank; d++) {
        dims[d] = shape->c.i[d];
        if (dims[d] == 0 && !allowzero) {
            if (d >= in_rank)
                return cc__onnx_bad(ctx, "shape copies dim %d of a rank %d input", d, in_rank);
            dims[d] = in_dims[d];
        }
        if (dims[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (dims[d] < 0 || !cc__mul_size(known, (size_t)dims[d], &known))
            return cc__onnx_bad(ctx, "shape dim %d is %lld", d, (long long)shape->c.i[d]);
    }
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return cc__onnx_bad(ctx, "%zu values do not reshape with a -1", total);
        dims[infer] = (int64_t)(total / known);
    } else if (known != total) {
        return cc__onnx_bad(ctx, "%zu values reshaped to %zu", total, known);
    }
    if (x->kind == CC__ONNX_VALUE_CONST)
        return output_reshaped(ctx, &x->c, rank, dims);
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    if (rank == x->rank && memcmp(dims, x->dims, (size_t)rank * sizeof *dims) == 0)
        return output_alias(ctx, x, rank);
    if (rank == 2 && dims[0] == x->dims[0])
        return output_alias(ctx, x, 2);
    if (rank == 4 && x->rank == 2 && dims[0] == x->dims[0] && dims[1] == x->dims[1] &&
        dims[2] == 1 && dims[3] == 1)
        return output_alias(ctx, x, 4);
    return cc__onnx_unsupported(ctx, "a reshape of a computed tensor other than a flatten "
                                     "to [batch][features] (a constant batch differing from "
                                     "the one loaded, or a change of channels)");
}

/* Squeeze/Unsqueeze of a computed tensor: [N][C][1][1] <-> [N][C]. */
static cc_status squeeze_layer(cc__onnx_ctx *ctx, bool unsqueeze)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    int64_t axes[CC__ONNX_MAX_RANK];
    size_t n;
    CC__TRY_ONNX(read_axes(ctx, unsqueeze ? x->rank + 2 : x->rank, axes, &n));
    const bool spatial = n == 2 && has_axis(axes, n, 2) && has_axis(axes, n, 3);
    if (unsqueeze && x->rank == 2 && spatial && !x->view)
        return output_alias(ctx, x, 4);
    if (!unsqueeze && x->rank == 4 && x->dims[2] == 1 && x->dims[3] == 1 &&
        (spatial || n == 0))
        return output_alias(ctx, x, 2);
    return cc__onnx_unsupported(ctx, "axes other than [2, 3] between [N][C][1][1] and [N][C]");
}

static cc_status op_squeeze_unsqueeze(cc__onnx_ctx *ctx, bool unsqueeze)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    if (x->kind == CC__ONNX_VALUE_LAYER)
        return squeeze_layer(ctx, unsqueeze);
    const cc__onnx_const *c = &x->c;
    int64_t axes[CC__ONNX_MAX_RANK], dims[CC__ONNX_MAX_RANK];
    size_t n;
    const int rank = c->rank;
    if (unsqueeze) {
        /* Negative axes count from the end of the output: its rank first. */
        CC__TRY_ONNX(read_axes(ctx, CC__ONNX_MAX_RANK, axes, &n));
        const int out_rank = c->rank + (int)n;
        if (out_rank > CC__ONNX_MAX_RANK)
            return cc__onnx_unsupported(ctx, "rank %d", out_rank);
        CC__TRY_ONNX(read_axes(ctx, out_rank, axes, &n));
        for (size_t a = 0; a < n; a++)
            if (axes[a] >= out_rank)
                return cc__onnx_bad(ctx, "axis %lld beyond rank %d", (long long)axes[a],
                                    out_rank);
        for (int d = 0, from = 0; d < out_rank; d++)
            dims[d] = has_axis(axes, n, d) ? 1 : c->dims[from++];
        return output_reshaped(ctx, c, out_rank, dims);
    }
    CC__TRY_ONNX(read_axes(ctx, rank, axes, &n));
    int out_rank = 0;
    for (int d = 0; d < rank; d++) {
        const bool drop = n == 0 ? c->dims[d] == 1 : has_axis(axes, n, d);
        if (drop && c->dims[d] != 1)
            return cc__onnx_bad(ctx, "squeezing dim %d of size %lld", d, (long long)c->dims[d]);
        if (!drop)
            dims[out_rank++] = c->dims[d];
    }
    return output_reshaped(ctx, c, out_rank, dims);
}

static cc_status op_squeeze(cc__onnx_ctx *ctx) { return op_squeeze_unsqueeze(ctx, false); }
static cc_status op_unsqueeze(cc__onnx_ctx *ctx) { return op_squeeze_unsqueeze(ctx, true); }

/* Transpose: the identity permutation, or the model's output turned NHWC
 * (absorbed: the network gives its output in the layout chosen at load). */
/* Row-major strides of dims. */
static void strides_of(int rank, const int64_t *dims, size_t *strides)
{
    size_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= (size_t)dims[d];
    }
}

/* Fills c (made with its dims) from in: the element at index idx of c is
 * in's element first + sum over d of idx[d] * steps[d] (steps in elements,
 * negative for a reversed slice): a transpose or a slice of a constant. */
static void gather_strided(const cc__onnx_const *in, int64_t first, const int64_t *steps,
                           cc__onnx_const *c)
{
    int64_t idx[CC__ONNX_MAX_RANK] = {0};
    for (size_t k = 0; k < c->count; k++) {
        int64_t from = first;
        for (int d = 0; d < c->rank; d++)
            from += idx[d] * steps[d];
        if (c->elem == CC__ONNX_FLOAT)
            c->f[k] = in->f[from];
        else
            c->i[k] = in->i[from];
        for (int d = c->rank - 1; d >= 0 && ++idx[d] == c->dims[d]; d--)
            idx[d] = 0;
    }
}

/* out[idx] = in[permuted idx], over every element, any rank. */
static cc_status transpose_const(cc__onnx_ctx *ctx, const cc__onnx_const *in,
                                 const int64_t *perm, size_t n)
{
    const int rank = in->rank;
    if (perm != NULL && n != (size_t)rank)
        return cc__onnx_bad(ctx, "perm has %zu values for rank %d", n, rank);
    int64_t p[CC__ONNX_MAX_RANK], dims[CC__ONNX_MAX_RANK] = {0};
    bool seen[CC__ONNX_MAX_RANK] = {false};
    for (int d = 0; d < rank; d++) {
        p[d] = perm != NULL ? perm[d] : rank - 1 - d;
        if (p[d] < 0 || p[d] >= rank || seen[p[d]])
            return cc__onnx_bad(ctx, "perm is not a permutation");
        seen[p[d]] = true;
        dims[d] = in->dims[p[d]];
    }
    size_t in_strides[CC__ONNX_MAX_RANK];
    strides_of(rank, in->dims, in_strides);
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(in->elem, rank, dims, &c));
    int64_t steps[CC__ONNX_MAX_RANK];
    for (int d = 0; d < rank; d++)
        steps[d] = (int64_t)in_strides[p[d]];
    gather_strided(in, 0, steps, &c);
    return output_const(ctx, &c);
}

static cc_status op_transpose(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    const int64_t *perm;
    size_t n;
    CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, "perm", &perm, &n));
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    if (x->kind == CC__ONNX_VALUE_CONST)
        return transpose_const(ctx, &x->c, perm, n);
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    bool identity = perm != NULL && n == (size_t)x->rank;
    for (size_t d = 0; identity && d < n; d++)
        identity = perm[d] == (int64_t)d;
    if (identity || (x->rank == 4 && cc__onnx_is_output_transpose(ctx)))
        return output_alias(ctx, x, x->rank);
    return cc__onnx_unsupported(ctx, "a transpose other than the input's NHWC -> NCHW or the "
                                     "output's NCHW -> NHWC");
}

/* Cast: of a constant (to float32, int32 or int64), or of a float tensor to
 * float32 (the identity). */
static cc_status op_cast(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    int64_t to;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "to", 0, &to));
    const bool to_float = to == CC__ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    const bool to_int = to == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
                        to == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (x->kind == CC__ONNX_VALUE_LAYER) {
        if (!to_float)
            return cc__onnx_unsupported(ctx, "a cast of a computed tensor to type %lld",
                                        (long long)to);
        return op_identity(ctx);
    }
    if (!to_float && !to_int)
        return cc__onnx_unsupported(ctx, "a cast to type %lld", (long long)to);
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(to_float ? CC__ONNX_FLOAT : CC__ONNX_INT64, x->c.rank,
                                     x->c.dims, &c));
    for (size_t k = 0; k < c.count; k++) {
        if (to_float)
            c.f[k] = (float)cc__onnx_const_get(&x->c, k);
        else
            c.i[k] = cc__onnx_const_int(&x->c, k);
        if (to == CC__ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
            c.i[k] = (int32_t)(uint32_t)(uint64_t)c.i[k];
    }
    return output_const(ctx, &c);
}

/* Pad with zeros, on H and W: recorded on the value for the next Conv or
 * AveragePool (values.c refuses it anywhere else). */
static cc_status op_pad(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    if (x->kind != CC__ONNX_VALUE_LAYER || x->rank != 4)
        return cc__onnx_unsupported(ctx, "a pad of a constant or of a tensor not 4-D");
    char mode[32];
    CC__TRY_ONNX(cc__onnx_attr_string(ctx->node, "mode", "constant", mode, sizeof mode));
    const int64_t *pads;
    size_t n;
    float value = 0.0f;
    if (ctx->opset < 11) {
        CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, "pads", &pads, &n));
        CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "value", 0.0f, &value));
    } else {
        cc__onnx_value *p, *v;
        CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &p));
        CC__TRY_ONNX(cc__onnx_input_const(ctx, 2, true, &v));
        if (p->c.elem != CC__ONNX_INT64)
            return cc__onnx_bad(ctx, "pads are not integers");
        if (v != NULL && v->c.count != 1)
            return cc__onnx_bad(ctx, "constant_value is not one value");
        pads = p->c.i;
        n = p->c.count;
        value = v != NULL ? (float)cc__onnx_const_get(&v->c, 0) : 0.0f;
    }
    if (strcmp(mode, "constant") != 0 || value != 0.0f)
        return cc__onnx_unsupported(ctx, "mode '%s' with value %g (zeros only)", mode,
                                    (double)value);
    if (pads == NULL || n != 8)
        return cc__onnx_bad(ctx, "pads has %zu values (8 for a 4-D tensor)", pads ? n : 0);
    if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
        return cc__onnx_unsupported(ctx, "padding of the batch or channels");
    cc__onnx_value out = *x;
    static const int at[4] = {2, 6, 3, 7}; /* top, bottom, left, right */
    for (int k = 0; k < 4; k++) {
        const int64_t sum = (int64_t)x->pads[k] + pads[at[k]];
        if (pads[at[k]] < 0 || sum > 1 << 20)
            return cc__onnx_unsupported(ctx, "a pad of %lld", (long long)pads[at[k]]);
        out.pads[k] = (int)sum;
    }
    out.padded = true;
    out.from_matmul = false;
    return cc__onnx_output(ctx, &out);
}

/* ---- constants ------------------------------------------------------------ */

static cc_status op_constant(cc__onnx_ctx *ctx)
{
    const CcOnnx__TensorProto *tensor;
    CC__TRY_ONNX(cc__onnx_attr_tensor(ctx->node, "value", &tensor));
    cc__onnx_const c;
    if (tensor != NULL) {
        const cc_status status = cc__onnx_const_decode(tensor, ctx->model_dir, &c);
        if (status != CC_OK)
            return status;
        return output_const(ctx, &c);
    }
    const int64_t *ints;
    size_t n;
    int64_t one_int;
    float one_float;
    CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, "value_ints", &ints, &n));
    if (ints != NULL || cc__onnx_attr_has(ctx->node, "value_int")) {
        CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "value_int", 0, &one_int));
        const int64_t dims[1] = {ints != NULL ? (int64_t)n : 1};
        CC__TRY_ONNX(cc__onnx_const_make(CC__ONNX_INT64, ints != NULL, dims, &c));
        for (size_t k = 0; k < c.count; k++)
            c.i[k] = ints != NULL ? ints[k] : one_int;
        return output_const(ctx, &c);
    }
    if (cc__onnx_attr_has(ctx->node, "value_float")) {
        CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "value_float", 0.0f, &one_float));
        CC__TRY_ONNX(cc__onnx_const_make(CC__ONNX_FLOAT, 0, NULL, &c));
        c.f[0] = one_float;
        return output_const(ctx, &c);
    }
    return cc__onnx_unsupported(ctx, "a Constant without a value, value_int(s) or value_float");
}

/* Shape: the dims as ONNX sees them (the network's, at the batch loaded). */
static cc_status op_shape(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &x));
    const int rank = x->kind == CC__ONNX_VALUE_CONST ? x->c.rank : x->rank;
    const int64_t *dims = x->kind == CC__ONNX_VALUE_CONST ? x->c.dims : x->dims;
    int64_t start, end;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "start", 0, &start));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "end", rank, &end));
    start = start < 0 ? start + rank : start;
    end = end < 0 ? end + rank : end;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < start ? start : end > rank ? rank : end;
    const int64_t n[1] = {end - start};
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(CC__ONNX_INT64, 1, n, &c));
    for (int64_t d = start; d < end; d++)
        c.i[d - start] = dims[d];
    return output_const(ctx, &c);
}

/* ConstantOfShape: a constant of the given dims filled with one value. */
static cc_status op_constant_of_shape(cc__onnx_ctx *ctx)
{
    cc__onnx_value *shape;
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 0, false, &shape));
    const CcOnnx__TensorProto *tensor;
    CC__TRY_ONNX(cc__onnx_attr_tensor(ctx->node, "value", &tensor));
    cc__onnx_const value;
    memset(&value, 0, sizeof value);
    if (tensor != NULL) {
        CC__TRY_ONNX(cc__onnx_const_decode(tensor, ctx->model_dir, &value));
        if (value.count != 1) {
            cc__onnx_const_free(&value);
            return cc__onnx_bad(ctx, "value holds %zu values, not 1", value.count);
        }
    }
    if (shape->c.elem != CC__ONNX_INT64 || shape->c.rank != 1 ||
        shape->c.count > CC__ONNX_MAX_RANK) {
        cc__onnx_const_free(&value);
        return cc__onnx_unsupported(ctx, "a shape that is not a short list of integers");
    }
    /* The folded constant's size is bounded: it must not exceed what the
     * file itself could describe (it only feeds shape arithmetic here). */
    size_t count = 1;
    for (size_t d = 0; d < shape->c.count; d++)
        if (shape->c.i[d] < 0 || !cc__mul_size(count, (size_t)shape->c.i[d], &count) ||
            count > ((size_t)1 << 20)) {
            cc__onnx_const_free(&value);
            return cc__onnx_unsupported(ctx, "a constant of over 2^20 values or a negative dim");
        }
    cc__onnx_const c;
    const cc__onnx_elem elem = tensor != NULL ? value.elem : CC__ONNX_FLOAT;
    const cc_status status = cc__onnx_const_make(elem, (int)shape->c.count, shape->c.i, &c);
    for (size_t k = 0; status == CC_OK && k < c.count; k++)
        if (elem == CC__ONNX_FLOAT)
            c.f[k] = tensor != NULL ? value.f[0] : 0.0f;
        else
            c.i[k] = value.i[0];
    cc__onnx_const_free(&value);
    CC__TRY_ONNX(status);
    return output_const(ctx, &c);
}

/* Slice of a constant: starts, ends, axes and steps as inputs (opset 10+)
 * or attributes (before). */
static cc_status slice_params(cc__onnx_ctx *ctx, const int64_t **lists, size_t *counts)
{
    static const char *const names[4] = {"starts", "ends", "axes", "steps"};
    for (int k = 0; k < 4; k++) {
        lists[k] = NULL;
        counts[k] = 0;
        if (ctx->opset < 10) {
            if (k < 3)
                CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, names[k], &lists[k], &counts[k]));
            continue;
        }
        cc__onnx_value *v;
        CC__TRY_ONNX(cc__onnx_input_const(ctx, (size_t)k + 1, k >= 2, &v));
        if (v != NULL && (v->c.elem != CC__ONNX_INT64 || v->c.rank != 1))
            return cc__onnx_unsupported(ctx, "%s that are not a list of integers", names[k]);
        lists[k] = v != NULL ? v->c.i : NULL;
        counts[k] = v != NULL ? v->c.count : 0;
    }
    if (lists[0] == NULL || lists[1] == NULL || counts[0] != counts[1] ||
        (lists[2] != NULL && counts[2] != counts[0]) ||
        (lists[3] != NULL && counts[3] != counts[0]))
        return cc__onnx_bad(ctx, "starts, ends, axes and steps differ in length");
    return CC_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static cc_status op_slice(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 0, false, &x));
    const int64_t *lists[4];
    size_t counts[4];
    CC__TRY_ONNX(slice_params(ctx, lists, counts));
    const cc__onnx_const *in = &x->c;
    const int rank = in->rank;
    int64_t start[CC__ONNX_MAX_RANK], step[CC__ONNX_MAX_RANK], dims[CC__ONNX_MAX_RANK];
    for (int d = 0; d < rank; d++)
        start[d] = 0, step[d] = 1, dims[d] = in->dims[d];
    for (size_t k = 0; k < counts[0]; k++) {
        int64_t axis = lists[2] != NULL ? lists[2][k] : (int64_t)k;
        axis = axis < 0 ? axis + rank : axis;
        const int64_t s = lists[3] != NULL ? lists[3][k] : 1;
        if (axis < 0 || axis >= rank || s == 0 || s == INT64_MIN)
            return cc__onnx_bad(ctx, "axis %lld or step %lld out of range", (long long)axis,
                                (long long)s);
        const int64_t n = in->dims[axis];
        /* A step longer than the dim takes one element, as the dim's own
         * length would: clamping it keeps the arithmetic below in range. */
        const int64_t st = s > 0 ? (s > n ? n + 1 : s) : (s < -n ? -n - 1 : s);
        int64_t b = lists[0][k], e = lists[1][k];
        b = b < 0 ? b + n : b;
        e = e < 0 ? e + n : e;
        if (n == 0) {
            b = 0;
            dims[axis] = 0;
        } else if (st > 0) {
            b = clamp64(b, 0, n);
            e = clamp64(e, 0, n);
            dims[axis] = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = clamp64(b, 0, n - 1);
            e = clamp64(e, -1, n - 1);
            dims[axis] = b > e ? (b - e - st - 1) / -st : 0;
        }
        start[axis] = b;
        step[axis] = st;
    }
    size_t in_strides[CC__ONNX_MAX_RANK];
    strides_of(rank, in->dims, in_strides);
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(in->elem, rank, dims, &c));
    int64_t first = 0, steps[CC__ONNX_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        first += start[d] * (int64_t)in_strides[d];
        steps[d] = step[d] * (int64_t)in_strides[d];
    }
    gather_strided(in, first, steps, &c);
    return output_const(ctx, &c);
}

/* Gather on axis 0 of a rank-1 constant (a shape vector). */
static cc_status op_gather(cc__onnx_ctx *ctx)
{
    cc__onnx_value *data, *indices;
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 0, false, &data));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &indices));
    int64_t axis;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "axis", 0, &axis));
    if (data->c.rank != 1 || axis != 0 || indices->c.elem != CC__ONNX_INT64)
        return cc__onnx_unsupported(ctx, "a gather other than integer indices into a list");
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(data->c.elem, indices->c.rank, indices->c.dims, &c));
    const int64_t n = (int64_t)data->c.count;
    for (size_t k = 0; k < c.count; k++) {
        int64_t at = indices->c.i[k];
        at = at < 0 ? at + n : at;
        if (at < 0 || at >= n) {
            cc__onnx_const_free(&c);
            return cc__onnx_bad(ctx, "index %lld out of range (%lld values)",
                                (long long)indices->c.i[k], (long long)n);
        }
        if (c.elem == CC__ONNX_FLOAT)
            c.f[k] = data->c.f[at];
        else
            c.i[k] = data->c.i[at];
    }
    return output_const(ctx, &c);
}

cc_status cc__onnx_fold_concat(cc__onnx_ctx *ctx)
{
    int64_t axis;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "axis", 0, &axis));
    int64_t total[1] = {0};
    cc__onnx_elem elem = CC__ONNX_INT64;
    for (size_t i = 0; i < ctx->node->n_input; i++) {
        cc__onnx_value *x;
        CC__TRY_ONNX(cc__onnx_input_const(ctx, i, false, &x));
        if (x->c.rank != 1 || (axis != 0 && axis != -1))
            return cc__onnx_unsupported(ctx, "a concat of constants other than lists");
        elem = i == 0 ? x->c.elem : elem;
        if (x->c.elem != elem)
            return cc__onnx_bad(ctx, "inputs of different types");
        total[0] += x->c.dims[0];
    }
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(elem, 1, total, &c));
    size_t at = 0;
    for (size_t i = 0; i < ctx->node->n_input; i++) {
        cc__onnx_value *x;
        CC__TRY_ONNX(cc__onnx_input_const(ctx, i, false, &x));
        for (size_t k = 0; k < x->c.count; k++, at++)
            if (elem == CC__ONNX_FLOAT)
                c.f[at] = x->c.f[k];
            else
                c.i[at] = x->c.i[k];
    }
    return output_const(ctx, &c);
}

/* Element-wise arithmetic of two constants of one shape, or of a constant
 * and a single value. Integer division by zero is refused. */
cc_status cc__onnx_fold_binary(cc__onnx_ctx *ctx, const cc__onnx_value *a,
                               const cc__onnx_value *b)
{
    const cc__onnx_const *x = &a->c, *y = &b->c;
    const bool same = x->rank == y->rank &&
                      memcmp(x->dims, y->dims, (size_t)x->rank * sizeof *x->dims) == 0;
    if (x->elem != y->elem || (!same && x->count != 1 && y->count != 1))
        return cc__onnx_unsupported(ctx, "constants of different types or shapes");
    const cc__onnx_const *shape = x->count >= y->count && (same || y->count == 1) ? x : y;
    const char op = cc__onnx_str(ctx->node->op_type)[0]; /* A, S, M or D */
    cc__onnx_const c;
    CC__TRY_ONNX(cc__onnx_const_make(x->elem, shape->rank, shape->dims, &c));
    for (size_t k = 0; k < c.count; k++) {
        const size_t i = x->count == 1 ? 0 : k, j = y->count == 1 ? 0 : k;
        if (c.elem == CC__ONNX_FLOAT) {
            const float p = x->f[i], q = y->f[j];
            c.f[k] = op == 'A' ? p + q : op == 'S' ? p - q : op == 'M' ? p * q : p / q;
            continue;
        }
        const int64_t p = x->i[i], q = y->i[j];
        int64_t r = 0;
        const bool overflow = op == 'A'   ? __builtin_add_overflow(p, q, &r)
                              : op == 'S' ? __builtin_sub_overflow(p, q, &r)
                              : op == 'M' ? __builtin_mul_overflow(p, q, &r)
                                          : q == 0 || (p == INT64_MIN && q == -1);
        if (overflow) {
            cc__onnx_const_free(&c);
            return cc__onnx_bad(ctx, "integer overflow or division by zero");
        }
        c.i[k] = op == 'D' ? p / q : r;
    }
    return output_const(ctx, &c);
}

static cc_status op_sub_div(cc__onnx_ctx *ctx)
{
    cc__onnx_value *a, *b;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &a));
    CC__TRY_ONNX(cc__onnx_input(ctx, 1, false, &b));
    if (a->kind != CC__ONNX_VALUE_CONST || b->kind != CC__ONNX_VALUE_CONST)
        return cc__onnx_unsupported(ctx, "on computed tensors (constants only)");
    return cc__onnx_fold_binary(ctx, a, b);
}

static const struct {
    const char *op_type;
    cc__onnx_op_fn fn;
} ops[] = {
    {"Identity", op_identity},   {"Dropout", op_dropout},     {"Flatten", op_flatten},
    {"Reshape", op_reshape},     {"Squeeze", op_squeeze},     {"Unsqueeze", op_unsqueeze},
    {"Transpose", op_transpose}, {"Cast", op_cast},           {"Pad", op_pad},
    {"Constant", op_constant},   {"Shape", op_shape},         {"Gather", op_gather},
    {"Sub", op_sub_div},         {"Div", op_sub_div},         {"Slice", op_slice},
    {"ConstantOfShape", op_constant_of_shape},
};

cc__onnx_op_fn cc__onnx_shape_op(const char *op_type)
{
    for (size_t k = 0; k < ARRAY_LEN(ops); k++)
        if (strcmp(ops[k].op_type, op_type) == 0)
            return ops[k].fn;
    return NULL;
}
