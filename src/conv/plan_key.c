/* A plan's key (plan.h) made from a layer and turned back into one, and the
 * check that a plan is one this library could have made. */
#include "plan.h"

void cc__plan_key_make(const cc__conv_geom *g, int threads, cc__isa isa, cc__plan_key *key)
{
    *key = (cc__plan_key){
        .batch = g->n, .in_channels = g->c, .in_h = g->h, .in_w = g->w,
        .out_channels = g->oc, .kernel_h = g->kh, .kernel_w = g->kw,
        .stride_h = g->sh, .stride_w = g->sw,
        .pad_top = g->pt, .pad_bottom = g->pb, .pad_left = g->pl, .pad_right = g->pr,
        .dilation_h = g->dh, .dilation_w = g->dw, .groups = g->groups, .layout = (int32_t)g->layout,
        .threads = threads, .isa = (int32_t)isa,
    };
}

cc_conv2d_params cc__plan_key_params(const cc__plan_key *key)
{
    return (cc_conv2d_params){
        .batch = key->batch, .in_channels = key->in_channels, .in_h = key->in_h,
        .in_w = key->in_w, .out_channels = key->out_channels, .kernel_h = key->kernel_h,
        .kernel_w = key->kernel_w, .stride_h = key->stride_h, .stride_w = key->stride_w,
        .pad_top = key->pad_top, .pad_bottom = key->pad_bottom, .pad_left = key->pad_left,
        .pad_right = key->pad_right, .dilation_h = key->dilation_h,
        .dilation_w = key->dilation_w, .groups = key->groups,
        .layout = key->layout == CC_NHWC ? CC_NHWC : CC_NCHW, .activation = CC_ACT_NONE,
    };
}

cc_conv2d_params cc__geom_params(const cc__conv_geom *g)
{
    cc__plan_key key;
    cc__plan_key_make(g, 1, CC__ISA_SCALAR, &key);
    cc_conv2d_params p = cc__plan_key_params(&key);
    p.activation = g->act;
    return p;
}

/* The paths a plan may name: those AUTO may pick (conv.h). */
static bool plannable(cc_algo algo)
{
    return algo == CC_ALGO_DIRECT || algo == CC_ALGO_IM2COL || algo == CC_ALGO_GEMM1X1 ||
           algo == CC_ALGO_WINOGRAD;
}

/* Fields cc__conv_geom_init reads loosely (0 means 1, any layout number is
 * checked there as a cc_layout) must be in their resolved form in a key. */
static cc_status check_resolved(const cc__plan_key *key)
{
    if (key->stride_h < 1 || key->stride_w < 1 || key->dilation_h < 1 || key->dilation_w < 1 ||
        key->groups < 1)
        return cc__fail(CC_ERR_INVALID_ARG, "plan: stride %dx%d, dilation %dx%d, groups %d: "
                        "each must be at least 1", key->stride_h, key->stride_w,
                        key->dilation_h, key->dilation_w, key->groups);
    if (key->layout != CC_NCHW && key->layout != CC_NHWC)
        return cc__fail(CC_ERR_INVALID_ARG, "plan: layout %d is not a cc_layout", key->layout);
    return CC_OK;
}

cc_status cc__plan_check(const cc__conv_plan *plan)
{
    const cc__plan_key *key = &plan->key;
    cc_status status = check_resolved(key);
    if (status != CC_OK)
        return status;
    const cc_conv2d_params p = cc__plan_key_params(key);
    cc__conv_geom g;
    status = cc__conv_geom_init(&p, &g);
    if (status != CC_OK)
        return status;
    if (key->threads < 1 || key->threads > CC__PLAN_MAX_THREADS)
        return cc__fail(CC_ERR_INVALID_ARG, "plan: %d threads is outside 1..%d", key->threads,
                        CC__PLAN_MAX_THREADS);
    if (plan->threads < 1 || plan->threads > key->threads)
        return cc__fail(CC_ERR_INVALID_ARG, "plan: a split of %d threads is outside 1..%d",
                        plan->threads, key->threads);
    if (key->isa < CC__ISA_SCALAR || key->isa > CC__ISA_AVX512)
        return cc__fail(CC_ERR_INVALID_ARG, "plan: ISA %d is not one colconv knows", key->isa);
    if (!plannable(plan->algo))
        return cc__fail(CC_ERR_INVALID_ARG, "plan: path %d is not one AUTO may pick",
                        (int)plan->algo);
    return cc__conv_check_algo(&g, plan->algo);
}
