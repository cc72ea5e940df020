/* Validation of cc_conv2d_params, the output size and Keras "same" padding.
 * Sizes are checked in 64-bit arithmetic before anything is narrowed. */
#include <limits.h>

#include "conv_internal.h"

static cc_status require_positive(int value, const char *field)
{
    if (value <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: %s must be > 0 (got %d)", field, value);
    return CC_OK;
}

static cc_status require_non_negative(int value, const char *field)
{
    if (value < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: %s must be >= 0 (got %d)", field, value);
    return CC_OK;
}

/* Fields where 0 means 1 (stride, dilation, groups); negative is invalid. */
static cc_status resolve_default_one(int value, const char *field, int *resolved)
{
    if (value < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: %s must be >= 0 (got %d; 0 means 1)", field,
                        value);
    *resolved = value == 0 ? 1 : value;
    return CC_OK;
}

#define CC__TRY(call)                     \
    do {                                  \
        const cc_status status_ = (call); \
        if (status_ != CC_OK)             \
            return status_;               \
    } while (0)

/* Output size along one axis; checks the padded size fits in int and that
 * the dilated kernel fits inside it. */
static cc_status axis_output(int size, int kernel, int stride, int dilation, int pad_before,
                             int pad_after, const char *size_field, int *out)
{
    const long long padded = (long long)size + pad_before + pad_after;
    if (padded > INT_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: %s plus its padding overflows int", size_field);
    const long long extent = (long long)dilation * (kernel - 1) + 1;
    if (extent > padded)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "conv2d: %s: the dilated kernel (%lld) is larger than the padded input (%lld)",
                        size_field, extent, padded);
    *out = (int)((padded - extent) / stride + 1);
    return CC_OK;
}

/* The spatial fields only: what cc_conv2d_output_size uses. */
static cc_status spatial_geometry(const cc_conv2d_params *p, cc__conv_geom *g)
{
    CC__TRY(require_positive(p->in_h, "in_h"));
    CC__TRY(require_positive(p->in_w, "in_w"));
    CC__TRY(require_positive(p->kernel_h, "kernel_h"));
    CC__TRY(require_positive(p->kernel_w, "kernel_w"));
    CC__TRY(resolve_default_one(p->stride_h, "stride_h", &g->sh));
    CC__TRY(resolve_default_one(p->stride_w, "stride_w", &g->sw));
    CC__TRY(resolve_default_one(p->dilation_h, "dilation_h", &g->dh));
    CC__TRY(resolve_default_one(p->dilation_w, "dilation_w", &g->dw));
    CC__TRY(require_non_negative(p->pad_top, "pad_top"));
    CC__TRY(require_non_negative(p->pad_bottom, "pad_bottom"));
    CC__TRY(require_non_negative(p->pad_left, "pad_left"));
    CC__TRY(require_non_negative(p->pad_right, "pad_right"));
    g->h = p->in_h, g->w = p->in_w, g->kh = p->kernel_h, g->kw = p->kernel_w;
    g->pt = p->pad_top, g->pb = p->pad_bottom, g->pl = p->pad_left, g->pr = p->pad_right;
    CC__TRY(axis_output(g->h, g->kh, g->sh, g->dh, g->pt, g->pb, "in_h", &g->oh));
    return axis_output(g->w, g->kw, g->sw, g->dw, g->pl, g->pr, "in_w", &g->ow);
}

static cc_status channels_and_enums(const cc_conv2d_params *p, cc__conv_geom *g)
{
    CC__TRY(require_positive(p->batch, "batch"));
    CC__TRY(require_positive(p->in_channels, "in_channels"));
    CC__TRY(require_positive(p->out_channels, "out_channels"));
    CC__TRY(resolve_default_one(p->groups, "groups", &g->groups));
    if (p->in_channels % g->groups != 0)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: in_channels (%d) is not divisible by groups (%d)",
                        p->in_channels, g->groups);
    if (p->out_channels % g->groups != 0)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "conv2d: out_channels (%d) is not divisible by groups (%d)",
                        p->out_channels, g->groups);
    if (p->layout != CC_NCHW && p->layout != CC_NHWC)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: layout %d is not a cc_layout", (int)p->layout);
    if (p->activation < CC_ACT_NONE || p->activation > CC_ACT_RELU6)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: activation %d is not a cc_act",
                        (int)p->activation);
    g->n = p->batch, g->c = p->in_channels, g->oc = p->out_channels;
    g->cg = g->c / g->groups, g->ocg = g->oc / g->groups;
    g->layout = p->layout, g->act = p->activation;
    return CC_OK;
}

/* Every tensor's element and byte count must fit in size_t. */
static cc_status check_tensor_sizes(const cc__conv_geom *g)
{
    size_t bytes;
    if (!cc__mul_sizes(&bytes, 5, (size_t)g->n, (size_t)g->c, (size_t)g->h, (size_t)g->w,
                       sizeof(float)))
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: the input (batch*in_channels*in_h*in_w) overflows size_t");
    if (!cc__mul_sizes(&bytes, 5, (size_t)g->n, (size_t)g->oc, (size_t)g->oh, (size_t)g->ow,
                       sizeof(float)))
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: the output (batch*out_channels*OH*OW) overflows size_t");
    if (!cc__mul_sizes(&bytes, 5, (size_t)g->oc, (size_t)g->cg, (size_t)g->kh, (size_t)g->kw,
                       sizeof(float)))
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: the weights (out_channels*in_channels/groups*kernel) overflow size_t");
    return CC_OK;
}

cc_status cc__conv_geom_init(const cc_conv2d_params *p, cc__conv_geom *g)
{
    if (p == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d: params is NULL");
    CC__TRY(channels_and_enums(p, g));
    CC__TRY(spatial_geometry(p, g));
    return check_tensor_sizes(g);
}

cc_status cc_conv2d_output_size(const cc_conv2d_params *p, int *out_h, int *out_w)
{
    if (p == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_output_size: params is NULL");
    if (out_h == NULL || out_w == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_output_size: %s is NULL",
                        out_h == NULL ? "out_h" : "out_w");
    cc__conv_geom g = {0};
    CC__TRY(spatial_geometry(p, &g));
    *out_h = g.oh;
    *out_w = g.ow;
    return CC_OK;
}

/* TensorFlow's rule along one axis: out = ceil(size / stride), total pad
 * max((out-1)*stride + dilated kernel - size, 0), the odd pixel after. */
static cc_status same_axis(int size, int kernel, int stride, int dilation, const char *size_field,
                           int *before, int *after)
{
    const long long out = ((long long)size + stride - 1) / stride;
    long long total = (out - 1) * stride + (long long)dilation * (kernel - 1) + 1 - size;
    if (total < 0)
        total = 0;
    if (total + size > INT_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_pad_same: %s plus its padding overflows int",
                        size_field);
    *before = (int)(total / 2);
    *after = (int)(total - total / 2);
    return CC_OK;
}

cc_status cc_conv2d_pad_same(cc_conv2d_params *p)
{
    if (p == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "conv2d_pad_same: params is NULL");
    cc__conv_geom g = {0};
    CC__TRY(require_positive(p->in_h, "in_h"));
    CC__TRY(require_positive(p->in_w, "in_w"));
    CC__TRY(require_positive(p->kernel_h, "kernel_h"));
    CC__TRY(require_positive(p->kernel_w, "kernel_w"));
    CC__TRY(resolve_default_one(p->stride_h, "stride_h", &g.sh));
    CC__TRY(resolve_default_one(p->stride_w, "stride_w", &g.sw));
    CC__TRY(resolve_default_one(p->dilation_h, "dilation_h", &g.dh));
    CC__TRY(resolve_default_one(p->dilation_w, "dilation_w", &g.dw));
    int top = 0, bottom = 0, left = 0, right = 0;
    CC__TRY(same_axis(p->in_h, p->kernel_h, g.sh, g.dh, "in_h", &top, &bottom));
    CC__TRY(same_axis(p->in_w, p->kernel_w, g.sw, g.dw, "in_w", &left, &right));
    p->pad_top = top, p->pad_bottom = bottom, p->pad_left = left, p->pad_right = right;
    return CC_OK;
}
