/* ONNX operators that become network layers: Conv, Gemm, MatMul (+ Add),
 * the pools, LRN, BatchNormalization, the activations, Softmax, Concat, and
 * Add/Mul of a tensor with a per-channel constant (a batch norm layer with
 * mean 0, variance 1 and epsilon 1e-30, exact: 1 + 1e-30 rounds to 1 in
 * the double arithmetic that folds it, so mul = scale and add = shift). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "onnx_internal.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EXACT_EPSILON 1e-30f

/* v as an int in [lo, INT32_MAX]. */
static cc_status to_int(const cc__onnx_ctx *ctx, int64_t v, int lo, const char *what, int *out)
{
    if (v < lo || v > INT32_MAX)
        return cc__onnx_unsupported(ctx, "%s is %lld", what, (long long)v);
    *out = (int)v;
    return CC_OK;
}

/* An INTS attribute of exactly n values, or all `fallback` when absent. */
static cc_status ints_n(const cc__onnx_ctx *ctx, const char *name, size_t n, int64_t fallback,
                        int64_t *out)
{
    const int64_t *values;
    size_t count;
    CC__TRY_ONNX(cc__onnx_attr_ints(ctx->node, name, &values, &count));
    if (values == NULL) {
        for (size_t k = 0; k < n; k++)
            out[k] = fallback;
        return CC_OK;
    }
    if (count != n)
        return cc__onnx_unsupported(ctx, "attribute '%s' has %zu values (2-D: %zu)", name,
                                    count, n);
    memcpy(out, values, n * sizeof *out);
    return CC_OK;
}

/* ---- spatial geometry shared by Conv and the pools ---------------------- */

typedef struct {
    int kernel[2], stride[2], dilation[2];
    int pads[4]; /* top, left, bottom, right (ONNX's order) */
} geometry;

/* auto_pad SAME_UPPER / SAME_LOWER: the output is ceil(in / stride), the
 * padding total split with the odd cell at the end (UPPER) or start. */
static cc_status same_pads(const cc__onnx_ctx *ctx, const geometry *g, const int64_t in[2],
                           bool upper, int pads[4])
{
    for (int a = 0; a < 2; a++) {
        /* in, kernel, dilation and stride are below 2^31: no overflow. */
        const int64_t out = (in[a] + g->stride[a] - 1) / g->stride[a];
        const int64_t span = (int64_t)(g->kernel[a] - 1) * g->dilation[a] + 1;
        int64_t total = (out - 1) * g->stride[a] + span - in[a];
        total = total > 0 ? total : 0;
        if (total > INT32_MAX)
            return cc__onnx_unsupported(ctx, "auto_pad needs %lld cells of padding",
                                        (long long)total);
        const int64_t small = total / 2, large = total - small;
        pads[a] = (int)(upper ? small : large);
        pads[a + 2] = (int)(upper ? large : small);
    }
    return CC_OK;
}

/* Reads strides, dilations (fallback 1), pads and auto_pad into g, whose
 * kernel is set; in is the input's H and W. */
static cc_status read_geometry(const cc__onnx_ctx *ctx, const int64_t in[2], geometry *g)
{
    int64_t strides[2], dilations[2], pads[4];
    CC__TRY_ONNX(ints_n(ctx, "strides", 2, 1, strides));
    CC__TRY_ONNX(ints_n(ctx, "dilations", 2, 1, dilations));
    CC__TRY_ONNX(ints_n(ctx, "pads", 4, 0, pads));
    for (int a = 0; a < 2; a++) {
        CC__TRY_ONNX(to_int(ctx, strides[a], 1, "a stride", &g->stride[a]));
        CC__TRY_ONNX(to_int(ctx, dilations[a], 1, "a dilation", &g->dilation[a]));
    }
    for (int k = 0; k < 4; k++)
        CC__TRY_ONNX(to_int(ctx, pads[k], 0, "a pad", &g->pads[k]));
    char auto_pad[32];
    CC__TRY_ONNX(cc__onnx_attr_string(ctx->node, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad));
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0)
        CC__TRY_ONNX(same_pads(ctx, g, in, auto_pad[5] == 'U', g->pads));
    else if (strcmp(auto_pad, "VALID") == 0)
        memset(g->pads, 0, sizeof g->pads);
    else if (strcmp(auto_pad, "NOTSET") != 0)
        return cc__onnx_bad(ctx, "auto_pad is '%s'", auto_pad);
    return CC_OK;
}

/* Adds a folded Pad's cells to g's padding. */
static cc_status add_pad(const cc__onnx_ctx *ctx, const cc__onnx_value *x, geometry *g)
{
    if (!x->padded)
        return CC_OK;
    static const int order[4] = {0, 2, 1, 3}; /* x->pads: top, bottom, left, right */
    for (int k = 0; k < 4; k++) {
        const int64_t sum = (int64_t)g->pads[order[k]] + x->pads[k];
        CC__TRY_ONNX(to_int(ctx, sum, 0, "a pad with the Pad folded in", &g->pads[order[k]]));
    }
    return CC_OK;
}

/* The input of a Conv or pool: a 4-D layer, maybe a pending Pad. */
static cc_status spatial_input(cc__onnx_ctx *ctx, cc__onnx_value **x)
{
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, x));
    if ((*x)->kind != CC__ONNX_VALUE_LAYER || (*x)->rank != 4)
        return cc__onnx_unsupported(ctx, "the input must be a computed 4-D tensor");
    return CC_OK;
}

/* ---- Conv ----------------------------------------------------------------- */

static cc_status check_float(const cc__onnx_ctx *ctx, const cc__onnx_value *c, int rank,
                             const char *what)
{
    if (c->c.elem != CC__ONNX_FLOAT || (rank >= 0 && c->c.rank != rank))
        return cc__onnx_unsupported(ctx, "the %s must be a float32 tensor of rank %d", what,
                                    rank);
    return CC_OK;
}

/* A per-output vector (a bias): count n, of rank 1 (or [1][n] when allow_row). */
static cc_status check_vector(const cc__onnx_ctx *ctx, const cc__onnx_value *c, int64_t n,
                              const char *what)
{
    if (c->c.elem != CC__ONNX_FLOAT || c->c.count != (size_t)n ||
        (c->c.rank != 1 && !(c->c.rank == 2 && c->c.dims[0] == 1)))
        return cc__onnx_unsupported(ctx, "the %s must hold %lld float32 values", what,
                                    (long long)n);
    return CC_OK;
}

static cc_status op_conv(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x, *w, *b;
    CC__TRY_ONNX(spatial_input(ctx, &x));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &w));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 2, true, &b));
    CC__TRY_ONNX(check_float(ctx, w, 4, "weight (2-D convolutions only)"));
    if (b != NULL)
        CC__TRY_ONNX(check_vector(ctx, b, w->c.dims[0], "bias"));
    geometry g;
    CC__TRY_ONNX(to_int(ctx, w->c.dims[2], 1, "the kernel height", &g.kernel[0]));
    CC__TRY_ONNX(to_int(ctx, w->c.dims[3], 1, "the kernel width", &g.kernel[1]));
    int64_t kernel_shape[2];
    CC__TRY_ONNX(ints_n(ctx, "kernel_shape", 2, 0, kernel_shape));
    if (kernel_shape[0] != 0 && (kernel_shape[0] != g.kernel[0] || kernel_shape[1] != g.kernel[1]))
        return cc__onnx_bad(ctx, "kernel_shape differs from the weight's");
    CC__TRY_ONNX(read_geometry(ctx, x->dims + 2, &g));
    CC__TRY_ONNX(add_pad(ctx, x, &g));
    int64_t group;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "group", 1, &group));
    cc_net_conv_params p;
    memset(&p, 0, sizeof p);
    CC__TRY_ONNX(to_int(ctx, w->c.dims[0], 1, "the output channel count", &p.out_channels));
    CC__TRY_ONNX(to_int(ctx, group, 1, "group", &p.groups));
    if (w->c.dims[1] * group != x->dims[1])
        return cc__onnx_bad(ctx, "the weight takes %lld x %lld input channels, the input has %lld",
                            (long long)w->c.dims[1], (long long)group, (long long)x->dims[1]);
    p.kernel_h = g.kernel[0], p.kernel_w = g.kernel[1];
    p.stride_h = g.stride[0], p.stride_w = g.stride[1];
    p.dilation_h = g.dilation[0], p.dilation_w = g.dilation[1];
    p.pad_top = g.pads[0], p.pad_left = g.pads[1], p.pad_bottom = g.pads[2],
    p.pad_right = g.pads[3];
    p.no_bias = b == NULL;
    p.algo = CC_ALGO_AUTO;
    const cc__onnx_value *named[2] = {w, b};
    static const char *const suffixes[2] = {"weight", "bias"};
    const char *name = cc__onnx_layer_name(ctx, cc__onnx_weight_prefix(ctx, named, suffixes, 2));
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(ctx, cc_net_add_conv(ctx->net, name, x->node, &p, &out)));
    CC__TRY_ONNX(cc__onnx_set(ctx, out, "weight", w->c.f, w->c.count, false));
    if (b != NULL)
        CC__TRY_ONNX(cc__onnx_set(ctx, out, "bias", b->c.f, b->c.count, false));
    return cc__onnx_output_layer(ctx, out, 4);
}

/* ---- Gemm and MatMul: fully connected layers ------------------------------ */

/* An owned [rows][cols] copy of a [cols][rows] matrix, times scale. */
static float *transposed(const float *m, int64_t rows, int64_t cols, float scale)
{
    float *t = cc__alloc_array((size_t)rows * (size_t)cols, sizeof(float), "onnx: weights");
    if (t == NULL)
        return NULL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            t[r * cols + c] = m[c * rows + r] * scale;
    return t;
}

/* An FC of `outputs` reading x (rank 2) with weight [outputs][inputs] and
 * bias (both owned or not as said). */
static cc_status add_fc(cc__onnx_ctx *ctx, const cc__onnx_value *x, const char *name,
                        int64_t outputs, const float *weight, bool weight_owned,
                        const float *bias, bool bias_owned, cc_node *out)
{
    int n = 0;
    cc_status status = to_int(ctx, outputs, 1, "the output count", &n);
    if (status == CC_OK)
        status = cc__onnx_net_status(ctx, cc_net_add_fc(ctx->net, name, x->node, n, out));
    const size_t inputs = (size_t)x->dims[1];
    if (status == CC_OK) {
        status = cc__onnx_set(ctx, *out, "weight", weight, (size_t)n * inputs, weight_owned);
        weight_owned = false;
    }
    if (status == CC_OK) {
        status = cc__onnx_set(ctx, *out, "bias", bias, (size_t)n, bias_owned);
        bias_owned = false;
    }
    if (weight_owned)
        cc__free((void *)weight);
    if (bias_owned)
        cc__free((void *)bias);
    return status;
}

/* An FC's input: rank 2 (Flatten's output, or a flat layer). */
static cc_status fc_input(cc__onnx_ctx *ctx, cc__onnx_value **x)
{
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, x));
    if ((*x)->rank != 2)
        return cc__onnx_unsupported(ctx, "the input has rank %d (2-D only: Flatten first)",
                                    (*x)->rank);
    return CC_OK;
}

static cc_status op_gemm(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x, *w, *c;
    CC__TRY_ONNX(fc_input(ctx, &x));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &w));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 2, true, &c));
    CC__TRY_ONNX(check_float(ctx, w, 2, "B matrix"));
    int64_t trans_a, trans_b;
    float alpha, beta;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "transA", 0, &trans_a));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "transB", 0, &trans_b));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "alpha", 1.0f, &alpha));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "beta", 1.0f, &beta));
    if (trans_a != 0)
        return cc__onnx_unsupported(ctx, "transA = %lld", (long long)trans_a);
    const int64_t outputs = trans_b ? w->c.dims[0] : w->c.dims[1];
    const int64_t inputs = trans_b ? w->c.dims[1] : w->c.dims[0];
    if (inputs != x->dims[1])
        return cc__onnx_bad(ctx, "B takes %lld inputs, the input has %lld", (long long)inputs,
                            (long long)x->dims[1]);
    if (c != NULL && c->c.count != 1)
        CC__TRY_ONNX(check_vector(ctx, c, outputs, "C vector"));
    if (c != NULL && c->c.elem != CC__ONNX_FLOAT)
        return cc__onnx_unsupported(ctx, "C must be float32");
    const bool weight_as_is = trans_b && alpha == 1.0f;
    const float *weight = w->c.f;
    if (!trans_b) {
        weight = transposed(w->c.f, outputs, inputs, alpha);
    } else if (!weight_as_is) {
        float *scaled = cc__alloc_array(w->c.count, sizeof(float), "onnx: weights");
        for (size_t k = 0; scaled != NULL && k < w->c.count; k++)
            scaled[k] = w->c.f[k] * alpha;
        weight = scaled;
    }
    if (weight == NULL)
        return CC_ERR_NOMEM;
    const bool bias_as_is = c != NULL && c->c.count == (size_t)outputs && beta == 1.0f;
    float *bias = NULL;
    if (!bias_as_is) {
        bias = cc__alloc_array((size_t)outputs, sizeof(float), "onnx: bias");
        if (bias == NULL) {
            if (!weight_as_is)
                cc__free((void *)weight);
            return CC_ERR_NOMEM;
        }
        for (int64_t o = 0; o < outputs; o++)
            bias[o] = c == NULL ? 0.0f : beta * c->c.f[c->c.count == 1 ? 0 : o];
    }
    const cc__onnx_value *named[2] = {w, c};
    static const char *const suffixes[2] = {"weight", "bias"};
    const char *name = cc__onnx_layer_name(ctx, cc__onnx_weight_prefix(ctx, named, suffixes, 2));
    cc_node out;
    CC__TRY_ONNX(add_fc(ctx, x, name, outputs, weight, !weight_as_is,
                        bias_as_is ? c->c.f : bias, !bias_as_is, &out));
    return cc__onnx_output_layer(ctx, out, 2);
}

/* MatMul by a constant [inputs][outputs]: an FC with bias 0, which an Add
 * of a constant right after it (its only reader) fills in (op_add). */
static cc_status op_matmul(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x, *w;
    CC__TRY_ONNX(fc_input(ctx, &x));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1, false, &w));
    CC__TRY_ONNX(check_float(ctx, w, 2, "second operand"));
    const int64_t inputs = w->c.dims[0], outputs = w->c.dims[1];
    if (inputs != x->dims[1])
        return cc__onnx_bad(ctx, "the matrix takes %lld inputs, the input has %lld",
                            (long long)inputs, (long long)x->dims[1]);
    float *weight = transposed(w->c.f, outputs, inputs, 1.0f);
    float *bias = cc__alloc_array(outputs > 0 ? (size_t)outputs : 1, sizeof(float), "onnx: bias");
    if (weight == NULL || bias == NULL) {
        cc__free(weight);
        cc__free(bias);
        return CC_ERR_NOMEM;
    }
    memset(bias, 0, (size_t)outputs * sizeof(float));
    const cc__onnx_value *named[1] = {w};
    static const char *const suffixes[1] = {"weight"};
    const char *name = cc__onnx_layer_name(ctx, cc__onnx_weight_prefix(ctx, named, suffixes, 1));
    cc_node out;
    CC__TRY_ONNX(add_fc(ctx, x, name, outputs, weight, true, bias, true, &out));
    cc__onnx_value v;
    CC__TRY_ONNX(cc__onnx_layer_value(ctx, out, &v));
    v.from_matmul = true;
    return cc__onnx_output(ctx, &v);
}

/* ---- pools, LRN ---------------------------------------------------------- */

/* ONNX's pooled size: floor or ceil of (in + pads - kernel) / stride, + 1. */
static int64_t onnx_pooled(int64_t in, int pad, int kernel, int stride, bool ceil_mode)
{
    const int64_t span = in + pad - kernel;
    return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

static cc_status op_pool(cc__onnx_ctx *ctx, cc_pool_kind kind)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(spatial_input(ctx, &x));
    int64_t kernel[2], ceil_mode, count_include_pad, storage_order;
    CC__TRY_ONNX(ints_n(ctx, "kernel_shape", 2, 0, kernel));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "ceil_mode", 0, &ceil_mode));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "count_include_pad", 0, &count_include_pad));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "storage_order", 0, &storage_order));
    geometry g;
    CC__TRY_ONNX(to_int(ctx, kernel[0], 1, "kernel_shape[0]", &g.kernel[0]));
    CC__TRY_ONNX(to_int(ctx, kernel[1], 1, "kernel_shape[1]", &g.kernel[1]));
    CC__TRY_ONNX(read_geometry(ctx, x->dims + 2, &g));
    if (g.dilation[0] != 1 || g.dilation[1] != 1 || storage_order != 0)
        return cc__onnx_unsupported(ctx, "dilations other than 1 or storage_order 1");
    /* A Pad's zeros are input cells an average counts: folded into the
     * pool's padding, which it then counts too. That is right when the pool
     * has no padding of its own (PyTorch's AvgPool2d with padding and
     * count_include_pad exports so) or counts its padding anyway. A max
     * would let a zero win over negative values: refused. */
    const bool own_pads = g.pads[0] || g.pads[1] || g.pads[2] || g.pads[3];
    if (x->padded && (kind == CC_POOL_MAX || (own_pads && !count_include_pad)))
        return cc__onnx_unsupported(ctx, "a Pad before a MaxPool, or before an AveragePool "
                                         "with pads of its own and no count_include_pad");
    if (x->padded)
        count_include_pad = 1;
    CC__TRY_ONNX(add_pad(ctx, x, &g));
    const cc_pool2d_params p = {
        .kind = kind, .kernel_h = g.kernel[0], .kernel_w = g.kernel[1],
        .stride_h = g.stride[0], .stride_w = g.stride[1],
        .pad_top = g.pads[0], .pad_left = g.pads[1], .pad_bottom = g.pads[2],
        .pad_right = g.pads[3], .ceil_mode = ceil_mode != 0,
        .count_include_pad = count_include_pad != 0};
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(
        ctx, cc_net_add_pool(ctx->net, cc__onnx_layer_name(ctx, NULL), x->node, &p, &out)));
    /* colconv drops a ceil-mode window that would start in the end padding
     * (PyTorch's rule); ONNX keeps it. Refuse the rare shapes where they differ. */
    cc__onnx_value v;
    CC__TRY_ONNX(cc__onnx_layer_value(ctx, out, &v));
    if (v.dims[2] != onnx_pooled(x->dims[2], g.pads[0] + g.pads[2], g.kernel[0], g.stride[0],
                                 ceil_mode != 0) ||
        v.dims[3] != onnx_pooled(x->dims[3], g.pads[1] + g.pads[3], g.kernel[1], g.stride[1],
                                 ceil_mode != 0))
        return cc__onnx_unsupported(ctx, "with ceil_mode, a last window would start in the "
                                         "padding (ONNX keeps it, colconv and PyTorch do not)");
    return cc__onnx_output(ctx, &v);
}

static cc_status op_max_pool(cc__onnx_ctx *ctx) { return op_pool(ctx, CC_POOL_MAX); }
static cc_status op_average_pool(cc__onnx_ctx *ctx) { return op_pool(ctx, CC_POOL_AVG); }

static cc_status op_global_pool(cc__onnx_ctx *ctx, cc_pool_kind kind)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    if (x->rank != 4)
        return cc__onnx_unsupported(ctx, "the input must be 4-D");
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(ctx, cc_net_add_global_pool(ctx->net,
                                                                  cc__onnx_layer_name(ctx, NULL),
                                                                  x->node, kind, &out)));
    return cc__onnx_output_layer(ctx, out, 4);
}

static cc_status op_global_average_pool(cc__onnx_ctx *ctx)
{
    return op_global_pool(ctx, CC_POOL_AVG);
}
static cc_status op_global_max_pool(cc__onnx_ctx *ctx) { return op_global_pool(ctx, CC_POOL_MAX); }

static cc_status op_lrn(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    int64_t size;
    cc_lrn_params p;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "size", 0, &size));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "alpha", 1e-4f, &p.alpha));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "beta", 0.75f, &p.beta));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "bias", 1.0f, &p.k));
    /* An even window is centred differently by ONNX and PyTorch. */
    if (size <= 0 || size % 2 == 0 || size > INT32_MAX || x->rank != 4)
        return cc__onnx_unsupported(ctx, "size %lld on rank %d (odd sizes on 4-D tensors only)",
                                    (long long)size, x->rank);
    p.size = (int)size;
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(
        ctx, cc_net_add_lrn(ctx->net, cc__onnx_layer_name(ctx, NULL), x->node, &p, &out)));
    return cc__onnx_output_layer(ctx, out, 4);
}

/* ---- batch norm and per-channel affine ------------------------------------ */

/* A batch norm layer on x with its four [C] tensors (owned or not: a set
 * of flags, bit k for tensor k). */
static cc_status add_batchnorm(cc__onnx_ctx *ctx, const cc__onnx_value *x, const char *name,
                               float epsilon, const float *const tensors[4], unsigned owned)
{
    static const char *const suffixes[4] = {"weight", "bias", "running_mean", "running_var"};
    cc_node out;
    cc_status status = cc__onnx_net_status(
        ctx, cc_net_add_batchnorm(ctx->net, name, x->node, epsilon, &out));
    for (int k = 0; k < 4; k++) {
        const bool own = (owned >> k) & 1u;
        if (status == CC_OK)
            status = cc__onnx_set(ctx, out, suffixes[k], tensors[k], (size_t)x->dims[1], own);
        else if (own)
            cc__free((void *)tensors[k]);
    }
    if (status != CC_OK)
        return status;
    return cc__onnx_output_layer(ctx, out, x->rank);
}

static cc_status channel_input(cc__onnx_ctx *ctx, cc__onnx_value **x)
{
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, x));
    if ((*x)->view)
        return cc__onnx_unsupported(ctx, "the input is a flattened image (per channel ops "
                                         "need its channels)");
    return CC_OK;
}

static cc_status op_batchnorm(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x, *in[4];
    CC__TRY_ONNX(channel_input(ctx, &x));
    for (int k = 0; k < 4; k++) {
        CC__TRY_ONNX(cc__onnx_input_const(ctx, (size_t)k + 1, false, &in[k]));
        CC__TRY_ONNX(check_vector(ctx, in[k], x->dims[1], "scale, bias, mean and variance"));
    }
    int64_t training, spatial;
    float epsilon;
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "epsilon", 1e-5f, &epsilon));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "training_mode", 0, &training));
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "spatial", 1, &spatial));
    if (training != 0 || spatial != 1)
        return cc__onnx_unsupported(ctx, "training_mode or spatial = 0");
    static const char *const suffixes[4] = {"weight", "bias", "running_mean", "running_var"};
    const cc__onnx_value *named[4] = {in[0], in[1], in[2], in[3]};
    const char *name = cc__onnx_layer_name(ctx, cc__onnx_weight_prefix(ctx, named, suffixes, 4));
    const float *const tensors[4] = {in[0]->c.f, in[1]->c.f, in[2]->c.f, in[3]->c.f};
    return add_batchnorm(ctx, x, name, epsilon, tensors, 0);
}

/* True when a constant of dims k broadcasts against x as one value per
 * channel (dim 1) or one value for all: every dim of k, aligned right on
 * x's, is 1 but the channel's. */
static bool per_channel(const cc__onnx_value *x, const cc__onnx_const *k)
{
    if (k->count == 1)
        return true;
    if (k->rank > x->rank || x->view)
        return false;
    for (int d = 0; d < k->rank; d++) {
        const int axis = x->rank - k->rank + d;
        if (k->dims[d] != (axis == 1 ? x->dims[1] : 1))
            return false;
    }
    return true;
}

/* x * scale + shift per channel, one of them from k (the other neutral). */
static cc_status add_affine(cc__onnx_ctx *ctx, const cc__onnx_value *x, const cc__onnx_const *k,
                            bool multiply)
{
    const size_t channels = (size_t)x->dims[1];
    float *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cc__alloc_array(channels, sizeof(float), "onnx: affine");
    if (t[0] == NULL || t[1] == NULL || t[2] == NULL || t[3] == NULL) {
        for (int i = 0; i < 4; i++)
            cc__free(t[i]);
        return CC_ERR_NOMEM;
    }
    for (size_t c = 0; c < channels; c++) {
        const float v = k->f[k->count == 1 ? 0 : c];
        t[0][c] = multiply ? v : 1.0f;
        t[1][c] = multiply ? 0.0f : v;
        t[2][c] = 0.0f;
        t[3][c] = 1.0f;
    }
    const float *const tensors[4] = {t[0], t[1], t[2], t[3]};
    return add_batchnorm(ctx, x, cc__onnx_layer_name(ctx, NULL), EXACT_EPSILON, tensors, 15u);
}

static cc_status op_add_mul(cc__onnx_ctx *ctx, bool multiply)
{
    cc__onnx_value *a, *b;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &a));
    CC__TRY_ONNX(cc__onnx_input(ctx, 1, false, &b));
    if (a->kind == CC__ONNX_VALUE_CONST && b->kind == CC__ONNX_VALUE_CONST)
        return cc__onnx_fold_binary(ctx, a, b);
    if (a->kind == CC__ONNX_VALUE_LAYER && b->kind == CC__ONNX_VALUE_LAYER) {
        if (multiply)
            return cc__onnx_unsupported(ctx, "a product of two computed tensors");
        CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &a));
        CC__TRY_ONNX(cc__onnx_input_layer(ctx, 1, &b));
        if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof a->dims) != 0)
            return cc__onnx_unsupported(ctx, "a sum of tensors of different shapes (no "
                                             "broadcasting)");
        const cc_node inputs[2] = {a->node, b->node};
        cc_node out;
        CC__TRY_ONNX(cc__onnx_net_status(
            ctx, cc_net_add_add(ctx->net, cc__onnx_layer_name(ctx, NULL), inputs, 2, &out)));
        return cc__onnx_output_layer(ctx, out, a->rank);
    }
    const size_t layer_at = a->kind == CC__ONNX_VALUE_LAYER ? 0 : 1;
    cc__onnx_value *x, *k;
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, layer_at, &x));
    CC__TRY_ONNX(cc__onnx_input_const(ctx, 1 - layer_at, false, &k));
    if (k->c.elem != CC__ONNX_FLOAT)
        return cc__onnx_unsupported(ctx, "an integer constant");
    /* MatMul + Add: the constant becomes the FC's bias. */
    cc__onnx_pending *bias = cc__onnx_pending_find(ctx, x->node, "bias");
    if (!multiply && x->from_matmul && bias != NULL && bias->owned != NULL &&
        cc__onnx_use_count(ctx, x->name) == 1 &&
        (k->c.count == 1 || (k->c.count == (size_t)x->dims[1] && per_channel(x, &k->c)))) {
        for (size_t o = 0; o < bias->count; o++)
            bias->owned[o] = k->c.f[k->c.count == 1 ? 0 : o];
        cc__onnx_value v = *x;
        v.from_matmul = false;
        return cc__onnx_output(ctx, &v);
    }
    if (!per_channel(x, &k->c))
        return cc__onnx_unsupported(ctx, "a constant of rank %d that is not one value per "
                                         "channel",
                                    k->c.rank);
    return add_affine(ctx, x, &k->c, multiply);
}

static cc_status op_add(cc__onnx_ctx *ctx) { return op_add_mul(ctx, false); }
static cc_status op_mul(cc__onnx_ctx *ctx) { return op_add_mul(ctx, true); }

/* ---- activations, softmax, concat ---------------------------------------- */

static cc_status add_activation(cc__onnx_ctx *ctx, cc_activation_kind kind, float alpha)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(cc__onnx_input_layer(ctx, 0, &x));
    const cc_activation act = {kind, alpha};
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(ctx, cc_net_add_activation(ctx->net,
                                                                cc__onnx_layer_name(ctx, NULL),
                                                                x->node, &act, &out)));
    cc__onnx_value v = *x;
    v.node = out;
    v.from_matmul = false;
    return cc__onnx_output(ctx, &v);
}

static cc_status op_relu(cc__onnx_ctx *ctx) { return add_activation(ctx, CC_ACTIVATION_RELU, 0); }
static cc_status op_sigmoid(cc__onnx_ctx *ctx)
{
    return add_activation(ctx, CC_ACTIVATION_SIGMOID, 0);
}
static cc_status op_tanh(cc__onnx_ctx *ctx) { return add_activation(ctx, CC_ACTIVATION_TANH, 0); }
static cc_status op_hard_swish(cc__onnx_ctx *ctx)
{
    return add_activation(ctx, CC_ACTIVATION_HARD_SWISH, 0);
}

static cc_status op_leaky_relu(cc__onnx_ctx *ctx)
{
    float alpha;
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "alpha", 0.01f, &alpha));
    return add_activation(ctx, CC_ACTIVATION_LEAKY_RELU, alpha);
}

static cc_status op_elu(cc__onnx_ctx *ctx)
{
    float alpha;
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "alpha", 1.0f, &alpha));
    return add_activation(ctx, CC_ACTIVATION_ELU, alpha);
}

static cc_status op_hard_sigmoid(cc__onnx_ctx *ctx)
{
    float alpha, beta;
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "alpha", 0.2f, &alpha));
    CC__TRY_ONNX(cc__onnx_attr_float(ctx->node, "beta", 0.5f, &beta));
    if (beta != 0.5f)
        return cc__onnx_unsupported(ctx, "beta %g (0.5 only)", (double)beta);
    return add_activation(ctx, CC_ACTIVATION_HARD_SIGMOID, alpha);
}

/* Clip's bound from an attribute (opset < 11) or an optional scalar input. */
static cc_status clip_bound(cc__onnx_ctx *ctx, const char *attr, size_t input, float fallback,
                            float *out)
{
    if (ctx->opset < 11)
        return cc__onnx_attr_float(ctx->node, attr, fallback, out);
    cc__onnx_value *k;
    CC__TRY_ONNX(cc__onnx_input_const(ctx, input, true, &k));
    if (k != NULL && (k->c.count != 1 || k->c.elem != CC__ONNX_FLOAT))
        return cc__onnx_unsupported(ctx, "a %s bound that is not one float32", attr);
    *out = k != NULL ? k->c.f[0] : fallback;
    return CC_OK;
}

/* A shift of every value by `shift` (a batch norm layer, exact) on the
 * layer value x, redefined in place as the shifted tensor's. */
static cc_status shift_layer(cc__onnx_ctx *ctx, cc__onnx_value *x, float shift)
{
    const size_t channels = (size_t)x->dims[1];
    float *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cc__alloc_array(channels, sizeof(float), "onnx: clip shift");
    if (t[0] == NULL || t[1] == NULL || t[2] == NULL || t[3] == NULL) {
        for (int i = 0; i < 4; i++)
            cc__free(t[i]);
        return CC_ERR_NOMEM;
    }
    for (size_t c = 0; c < channels; c++)
        t[0][c] = 1.0f, t[1][c] = shift, t[2][c] = 0.0f, t[3][c] = 1.0f;
    static const char *const suffixes[4] = {"weight", "bias", "running_mean", "running_var"};
    cc_node out;
    cc_status status = cc__onnx_net_status(
        ctx, cc_net_add_batchnorm(ctx->net, cc__onnx_layer_name(ctx, NULL), x->node,
                                  EXACT_EPSILON, &out));
    for (int i = 0; i < 4; i++) {
        if (status == CC_OK)
            status = cc__onnx_set(ctx, out, suffixes[i], t[i], channels, true);
        else
            cc__free(t[i]);
    }
    x->node = out;
    return status;
}

/* Clip(0, max) is ReLU6 and its kin, Clip(0) a ReLU. Another finite min
 * shifts the values to 0 and back around a capped ReLU: min + capReLU(x -
 * min, max - min), within a rounding of x - min + min of the exact clip. */
static cc_status op_clip(cc__onnx_ctx *ctx)
{
    float low, high;
    CC__TRY_ONNX(clip_bound(ctx, "min", 1, -FLT_MAX, &low));
    CC__TRY_ONNX(clip_bound(ctx, "max", 2, FLT_MAX, &high));
    if (!(low > -FLT_MAX) || !(high > low) || !isfinite(high - low))
        return cc__onnx_unsupported(ctx, "min %g, max %g (a finite min below max only)",
                                    (double)low, (double)high);
    if (low == 0.0f && high >= FLT_MAX)
        return add_activation(ctx, CC_ACTIVATION_RELU, 0);
    if (low == 0.0f)
        return add_activation(ctx, CC_ACTIVATION_RELU_CAP, high);
    cc__onnx_value *x;
    CC__TRY_ONNX(channel_input(ctx, &x));
    cc__onnx_value v = *x;
    v.from_matmul = false;
    CC__TRY_ONNX(shift_layer(ctx, &v, -low));
    const cc_activation act = {high >= FLT_MAX ? CC_ACTIVATION_RELU : CC_ACTIVATION_RELU_CAP,
                               high - low};
    cc_node capped;
    CC__TRY_ONNX(cc__onnx_net_status(ctx, cc_net_add_activation(ctx->net,
                                                                cc__onnx_layer_name(ctx, NULL),
                                                                v.node, &act, &capped)));
    v.node = capped;
    CC__TRY_ONNX(shift_layer(ctx, &v, low));
    return cc__onnx_output(ctx, &v);
}

/* Softmax over channels: opset 13's axis 1 on any tensor; before 13, axis 1
 * flattens what follows, which is the channels only when H = W = 1. */
static cc_status op_softmax(cc__onnx_ctx *ctx)
{
    cc__onnx_value *x;
    CC__TRY_ONNX(channel_input(ctx, &x));
    int64_t axis;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "axis", ctx->opset < 13 ? 1 : -1, &axis));
    if (axis < 0)
        axis += x->rank;
    const bool point = x->dims[2] * x->dims[3] == 1;
    const bool channels = axis == 1 && (ctx->opset >= 13 || point);
    if (!channels)
        return cc__onnx_unsupported(ctx, "axis %lld on a rank %d tensor (channels only)",
                                    (long long)axis, x->rank);
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(
        ctx, cc_net_add_softmax(ctx->net, cc__onnx_layer_name(ctx, NULL), x->node, &out)));
    return cc__onnx_output_layer(ctx, out, x->rank);
}

static cc_status op_concat(cc__onnx_ctx *ctx)
{
    cc__onnx_value *first;
    CC__TRY_ONNX(cc__onnx_input(ctx, 0, false, &first));
    if (first->kind == CC__ONNX_VALUE_CONST)
        return cc__onnx_fold_concat(ctx);
    int64_t axis;
    CC__TRY_ONNX(cc__onnx_attr_int(ctx->node, "axis", 1, &axis));
    const size_t count = ctx->node->n_input;
    if (count > 4096)
        return cc__onnx_unsupported(ctx, "%zu inputs", count);
    cc_node inputs[4096];
    int rank = 0;
    for (size_t i = 0; i < count; i++) {
        cc__onnx_value *x;
        CC__TRY_ONNX(cc__onnx_input_layer(ctx, i, &x));
        if (x->view)
            return cc__onnx_unsupported(ctx, "a flattened image among the inputs");
        rank = i == 0 ? x->rank : rank;
        if (x->rank != rank)
            return cc__onnx_unsupported(ctx, "inputs of different ranks");
        inputs[i] = x->node;
    }
    if (axis != 1 && axis != 1 - rank)
        return cc__onnx_unsupported(ctx, "axis %lld (channels only)", (long long)axis);
    cc_node out;
    CC__TRY_ONNX(cc__onnx_net_status(ctx, cc_net_add_concat(ctx->net,
                                                            cc__onnx_layer_name(ctx, NULL),
                                                            inputs, (int)count, &out)));
    return cc__onnx_output_layer(ctx, out, rank);
}

/* ---- the table ------------------------------------------------------------ */

static const struct {
    const char *op_type;
    cc__onnx_op_fn fn;
} ops[] = {
    {"Conv", op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"MaxPool", op_max_pool},
    {"AveragePool", op_average_pool},
    {"GlobalAveragePool", op_global_average_pool},
    {"GlobalMaxPool", op_global_max_pool},
    {"LRN", op_lrn},
    {"BatchNormalization", op_batchnorm},
    {"Add", op_add},
    {"Mul", op_mul},
    {"Relu", op_relu},
    {"LeakyRelu", op_leaky_relu},
    {"Sigmoid", op_sigmoid},
    {"Tanh", op_tanh},
    {"Elu", op_elu},
    {"HardSigmoid", op_hard_sigmoid},
    {"HardSwish", op_hard_swish},
    {"Clip", op_clip},
    {"Softmax", op_softmax},
    {"Concat", op_concat},
};

cc__onnx_op_fn cc__onnx_layer_op(const char *op_type)
{
    for (size_t k = 0; k < ARRAY_LEN(ops); k++)
        if (strcmp(ops[k].op_type, op_type) == 0)
            return ops[k].fn;
    return NULL;
}
