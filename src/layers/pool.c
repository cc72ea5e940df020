/* Max and average pooling (PyTorch's MaxPool2d / AvgPool2d) and global
 * pooling, in NCHW and NHWC.
 *
 * Geometry, per axis, in input coordinates: output o's window starts at
 * o * stride - pad_before and spans kernel cells. Validation guarantees every
 * window holds at least one input cell (pad <= kernel / 2, and in ceil mode
 * the last window starts before the end of the input), so a max is never
 * -inf by construction and an average never divides by zero. This file
 * validates and splits the work over threads; the loops are the kernels of
 * kernels_body.h, one family per ISA. */
#include <limits.h>
#include <math.h>

#include "kernels.h"

/* The field names of one axis, for error messages. */
typedef struct {
    const char *kernel, *stride, *pad_before, *pad_after, *extent;
} axis_names;

static const axis_names row_names = {"kernel_h", "stride_h", "pad_top", "pad_bottom", "height"};
static const axis_names col_names = {"kernel_w", "stride_w", "pad_left", "pad_right", "width"};

static int resolved_stride(int stride, int kernel) { return stride == 0 ? kernel : stride; }

/* PyTorch's pooling_output_shape with asymmetric padding. */
static int64_t pooled_extent(int64_t size, int64_t pad_before, int64_t pad_after,
                             int64_t kernel, int64_t stride, bool ceil_mode)
{
    const int64_t span = size + pad_before + pad_after - kernel;
    int64_t out = (ceil_mode ? span + stride - 1 : span) / stride + 1;
    /* Ceil mode: the last window must start inside the input or the leading pad. */
    if (ceil_mode && (out - 1) * stride >= size + pad_before)
        out--;
    return out;
}

static cc_status check_axis(const axis_names *names, int size, int kernel, int stride,
                            int pad_before, int pad_after, bool ceil_mode, int *out)
{
    if (size <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: input %s must be > 0 (got %d)",
                        names->extent, size);
    if (kernel <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: %s must be > 0 (got %d)", names->kernel,
                        kernel);
    if (stride < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: %s must be >= 0 (got %d)", names->stride,
                        stride);
    if (pad_before < 0 || pad_after < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: %s must be >= 0 (got %d)",
                        pad_before < 0 ? names->pad_before : names->pad_after,
                        pad_before < 0 ? pad_before : pad_after);
    if (pad_before > kernel / 2 || pad_after > kernel / 2)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: %s (%d) must be at most %s / 2 (%d)",
                        pad_before > kernel / 2 ? names->pad_before : names->pad_after,
                        pad_before > kernel / 2 ? pad_before : pad_after, names->kernel,
                        kernel / 2);
    const int64_t padded = (int64_t)size + pad_before + pad_after;
    if (kernel > padded)
        return cc__fail(CC_ERR_INVALID_ARG,
                        "pool: %s (%d) exceeds the padded input %s (%lld)", names->kernel,
                        kernel, names->extent, (long long)padded);
    const int64_t extent = pooled_extent(size, pad_before, pad_after, kernel,
                                         resolved_stride(stride, kernel), ceil_mode);
    if (extent > INT_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: output %s (%lld) exceeds INT_MAX",
                        names->extent, (long long)extent);
    *out = (int)extent;
    return CC_OK;
}

cc_status cc__pool_output(const cc__dims *in, const cc_pool2d_params *p, cc__dims *out)
{
    if (in == NULL || p == NULL || out == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: %s must not be NULL",
                        in == NULL ? "in" : p == NULL ? "params" : "out");
    if (p->kind != CC_POOL_MAX && p->kind != CC_POOL_AVG)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: kind %d is not a cc_pool_kind", (int)p->kind);
    if (in->n <= 0 || in->c <= 0)
        return cc__fail(CC_ERR_INVALID_ARG, "pool: input %s must be > 0 (got %d)",
                        in->n <= 0 ? "batch" : "channels", in->n <= 0 ? in->n : in->c);
    int oh, ow;
    cc_status status = check_axis(&row_names, in->h, p->kernel_h, p->stride_h, p->pad_top,
                                  p->pad_bottom, p->ceil_mode != 0, &oh);
    if (status != CC_OK)
        return status;
    status = check_axis(&col_names, in->w, p->kernel_w, p->stride_w, p->pad_left,
                        p->pad_right, p->ceil_mode != 0, &ow);
    if (status != CC_OK)
        return status;
    size_t in_count, out_count;
    if (!cc__mul_sizes(&in_count, 5, (size_t)in->n, (size_t)in->c, (size_t)in->h,
                       (size_t)in->w, sizeof(float)) ||
        !cc__mul_sizes(&out_count, 5, (size_t)in->n, (size_t)in->c, (size_t)oh, (size_t)ow,
                       sizeof(float)))
        return cc__fail(CC_ERR_INVALID_ARG, "pool: tensor size overflows size_t");
    *out = (cc__dims){in->n, in->c, oh, ow};
    return CC_OK;
}

static cc__pool_geom resolve(const cc__dims *in, const cc_pool2d_params *p)
{
    cc__pool_geom g = {p->kernel_h, p->kernel_w, resolved_stride(p->stride_h, p->kernel_h),
                       resolved_stride(p->stride_w, p->kernel_w), p->pad_top, p->pad_bottom,
                       p->pad_left, p->pad_right, 0, 0, p->kind == CC_POOL_MAX,
                       p->count_include_pad != 0};
    g.oh = (int)pooled_extent(in->h, g.pt, g.pb, g.kh, g.sh, p->ceil_mode != 0);
    g.ow = (int)pooled_extent(in->w, g.pl, g.pr, g.kw, g.sw, p->ceil_mode != 0);
    return g;
}

void cc__pool_run(const cc__dims *in, cc_layout layout, const cc_pool2d_params *p,
                  const float *input, float *output, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    const cc__pool_geom g = resolve(in, p);
    const size_t in_plane = (size_t)in->h * (size_t)in->w;
    const size_t out_plane = (size_t)g.oh * (size_t)g.ow;
    const size_t work = cc__dims_count(in) + (size_t)in->n * (size_t)in->c * out_plane;
    const int nt = cc__parallel_threads(threads, work);
    if (layout == CC_NCHW) {
        /* A unit is a block of output rows of one (image, channel) plane,
         * or a block of whole planes when a plane has fewer outputs. */
        const int rows = g.ow >= CC__POOL_UNIT_OUTPUTS ? 1 : CC__POOL_UNIT_OUTPUTS / g.ow;
        const size_t planes = (size_t)in->n * (size_t)in->c;
        if (rows >= g.oh) {
            /* At least 4 units a thread, so that they share the planes evenly. */
            const size_t fill = CC__POOL_UNIT_OUTPUTS / out_plane;
            const size_t even = planes / (4 * (size_t)nt);
            const size_t per_unit = fill < even ? fill : even > 0 ? even : 1;
            CC__LAYER_FOR(u, cc__block_count(planes, per_unit), nt, {
                const size_t p0 = u * per_unit;
                k->pool_nchw_rows(&g, in->h, in->w, input + p0 * in_plane,
                                  output + p0 * out_plane, cc__block_len(planes, p0, per_unit),
                                  0, g.oh);
            });
        } else {
            const size_t blocks = ((size_t)g.oh + (size_t)rows - 1) / (size_t)rows;
            CC__LAYER_FOR(u, planes * blocks, nt, {
                const size_t plane = u / blocks;
                const int oy0 = (int)(u % blocks) * rows;
                const int oy1 = g.oh - oy0 < rows ? g.oh : oy0 + rows;
                k->pool_nchw_rows(&g, in->h, in->w, input + plane * in_plane,
                                  output + plane * out_plane, 1, oy0, oy1);
            });
        }
    } else {
        /* A unit is one output row of one image, all channels. */
        const size_t units = (size_t)in->n * (size_t)g.oh;
        const size_t c = (size_t)in->c;
        CC__LAYER_FOR(u, units, nt, {
            const size_t n = u / (size_t)g.oh;
            const int oy = (int)(u % (size_t)g.oh);
            k->pool_nhwc_row(&g, in->h, in->w, in->c, input + n * in_plane * c,
                             output + (n * out_plane + (size_t)oy * (size_t)g.ow) * c, oy);
        });
    }
}

/* Channels per unit of global NHWC pooling: a block stays in L1 while every
 * pixel of the image streams past it. */
#define GLOBAL_CHANNEL_BLOCK 64
/* Planes per unit of global NCHW pooling. */
#define GLOBAL_PLANE_BLOCK 64

void cc__global_pool_run(const cc__dims *in, cc_layout layout, cc_pool_kind kind,
                         const float *input, float *output, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    const bool is_max = kind == CC_POOL_MAX;
    const size_t pixels = (size_t)in->h * (size_t)in->w;
    const size_t c = (size_t)in->c;
    const int nt = cc__parallel_threads(threads, cc__dims_count(in));
    if (layout == CC_NCHW) {
        const size_t planes = (size_t)in->n * c;
        const size_t units = cc__block_count(planes, GLOBAL_PLANE_BLOCK);
        CC__LAYER_FOR(u, units, nt, {
            const size_t p0 = u * GLOBAL_PLANE_BLOCK;
            const size_t len = cc__block_len(planes, p0, GLOBAL_PLANE_BLOCK);
            k->global_nchw(is_max, input + p0 * pixels, len, pixels, output + p0);
        });
    } else {
        const size_t blocks = cc__block_count(c, GLOBAL_CHANNEL_BLOCK);
        const size_t units = (size_t)in->n * blocks;
        CC__LAYER_FOR(u, units, nt, {
            const size_t n = u / blocks;
            const size_t c0 = (u % blocks) * GLOBAL_CHANNEL_BLOCK;
            const size_t len = cc__block_len(c, c0, GLOBAL_CHANNEL_BLOCK);
            k->global_nhwc(is_max, input + n * pixels * c + c0, pixels, c, len,
                           output + n * c + c0);
        });
    }
}
