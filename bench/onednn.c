/* oneDNN 2.x C API: one forward-inference convolution, timed like colconv's
 * paths. Inputs are made in plain layout (NCHW or NHWC, OIHW weights) and,
 * for the "any" variant, reordered once into the formats oneDNN prefers
 * before timing; the output stays in oneDNN's format (no reorder back). */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "onednn.h"

const char *bench_onednn_version(void)
{
    static char text[32];
    const dnnl_version_t *v = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    return text;
}

enum { SRC = 0, WEI, BIA, DST, TENSORS };

/* Everything one measurement holds; destroyed by release(). */
typedef struct {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t conv;
    dnnl_memory_t user[TENSORS]; /* plain tensors */
    dnnl_memory_t used[TENSORS]; /* what the convolution reads and writes */
    dnnl_memory_t scratchpad;
    dnnl_exec_arg_t args[TENSORS + 1];
    int nargs;
    dnnl_status_t run_status; /* of the last run, warm-up or timed */
    const char *failed_call;  /* the call that failed it */
} onednn_conv;

static void destroy_memory(dnnl_memory_t memory)
{
    if (memory != NULL)
        dnnl_memory_destroy(memory);
}

static void release(onednn_conv *c)
{
    for (int t = 0; t < TENSORS; t++) {
        if (c->used[t] != c->user[t])
            destroy_memory(c->used[t]);
        destroy_memory(c->user[t]);
    }
    destroy_memory(c->scratchpad);
    if (c->conv != NULL)
        dnnl_primitive_destroy(c->conv);
    if (c->pd != NULL)
        dnnl_primitive_desc_destroy(c->pd);
    if (c->stream != NULL)
        dnnl_stream_destroy(c->stream);
    if (c->engine != NULL)
        dnnl_engine_destroy(c->engine);
}

#define TRY(call)                                                               \
    do {                                                                        \
        const dnnl_status_t try_status = (call);                                \
        if (try_status != dnnl_success) {                                       \
            snprintf(error, error_size, "oneDNN: %s failed (status %d)", #call, \
                     (int)try_status);                                          \
            return -1;                                                          \
        }                                                                       \
    } while (0)

/* Plain memory descriptors: src/dst NCHW or NHWC, weights OIHW or GOIHW. */
static int plain_descs(const cc_conv2d_params *p, dnnl_memory_desc_t md[TENSORS], char *error,
                       size_t error_size)
{
    int oh, ow;
    cc_conv2d_output_size(p, &oh, &ow);
    const int g = p->groups > 0 ? p->groups : 1;
    const dnnl_format_tag_t act = p->layout == CC_NHWC ? dnnl_nhwc : dnnl_nchw;
    const dnnl_dims_t src = {p->batch, p->in_channels, p->in_h, p->in_w};
    const dnnl_dims_t dst = {p->batch, p->out_channels, oh, ow};
    const dnnl_dims_t bias = {p->out_channels};
    TRY(dnnl_memory_desc_init_by_tag(&md[SRC], 4, src, dnnl_f32, act));
    TRY(dnnl_memory_desc_init_by_tag(&md[DST], 4, dst, dnnl_f32, act));
    TRY(dnnl_memory_desc_init_by_tag(&md[BIA], 1, bias, dnnl_f32, dnnl_x));
    if (g == 1) {
        const dnnl_dims_t w = {p->out_channels, p->in_channels, p->kernel_h, p->kernel_w};
        TRY(dnnl_memory_desc_init_by_tag(&md[WEI], 4, w, dnnl_f32, dnnl_oihw));
    } else {
        const dnnl_dims_t w = {g, p->out_channels / g, p->in_channels / g, p->kernel_h, p->kernel_w};
        TRY(dnnl_memory_desc_init_by_tag(&md[WEI], 5, w, dnnl_f32, dnnl_goihw));
    }
    return 0;
}

static int make_primitive_desc(const cc_conv2d_params *p, const dnnl_memory_desc_t plain[TENSORS],
                               bool any_format, dnnl_alg_kind_t algorithm, onednn_conv *c,
                               char *error, size_t error_size)
{
    dnnl_memory_desc_t md[TENSORS];
    memcpy(md, plain, sizeof md);
    if (any_format)
        for (int t = 0; t < TENSORS; t++)
            if (t != BIA)
                TRY(dnnl_memory_desc_init_by_tag(&md[t], plain[t].ndims, plain[t].dims, dnnl_f32,
                                                 dnnl_format_tag_any));
    const dnnl_dims_t strides = {p->stride_h > 0 ? p->stride_h : 1, p->stride_w > 0 ? p->stride_w : 1};
    /* oneDNN's dilation is 0-based; colconv's (PyTorch's) 1-based. */
    const dnnl_dims_t dilates = {p->dilation_h > 1 ? p->dilation_h - 1 : 0,
                                 p->dilation_w > 1 ? p->dilation_w - 1 : 0};
    const dnnl_dims_t pad_l = {p->pad_top, p->pad_left}, pad_r = {p->pad_bottom, p->pad_right};
    dnnl_convolution_desc_t desc;
    TRY(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                   algorithm, &md[SRC], &md[WEI],
                                                   &md[BIA], &md[DST], strides, dilates, pad_l,
                                                   pad_r));
    dnnl_primitive_attr_t attr;
    TRY(dnnl_primitive_attr_create(&attr));
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    const dnnl_status_t status = dnnl_primitive_desc_create(&c->pd, &desc, attr, c->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (status == dnnl_unimplemented && algorithm != dnnl_convolution_direct)
        return BENCH_ONEDNN_NOT_IMPLEMENTED;
    TRY(status);
    /* oneDNN 2.6 has no optimised kernel for plain NHWC f32 on AVX-512 and
     * falls back to its reference loops (1.3 s for one VGG layer): not a
     * peer worth minutes of the run. */
    const char *impl = NULL;
    dnnl_primitive_desc_query(c->pd, dnnl_query_impl_info_str, 0, &impl);
    if (!any_format && impl != NULL && strncmp(impl, "ref", 3) == 0)
        return BENCH_ONEDNN_NOT_IMPLEMENTED;
    return 0;
}

static void fill(dnnl_memory_t memory, const dnnl_memory_desc_t *md)
{
    float *data = NULL;
    dnnl_memory_get_data_handle(memory, (void **)&data);
    const size_t count = dnnl_memory_desc_get_size(md) / sizeof(float);
    unsigned state = 12345u;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        data[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
    }
}

/* user[t] in the plain format; used[t] in the primitive's, reordered from
 * user[t] when they differ (once, here, outside any timing). */
static int make_memory(onednn_conv *c, int t, const dnnl_memory_desc_t *plain, dnnl_query_t what,
                       char *error, size_t error_size)
{
    const dnnl_memory_desc_t *wanted = dnnl_primitive_desc_query_md(c->pd, what, 0);
    TRY(dnnl_memory_create(&c->user[t], plain, c->engine, DNNL_MEMORY_ALLOCATE));
    fill(c->user[t], plain);
    if (dnnl_memory_desc_equal(wanted, plain)) {
        c->used[t] = c->user[t];
        return 0;
    }
    TRY(dnnl_memory_create(&c->used[t], wanted, c->engine, DNNL_MEMORY_ALLOCATE));
    if (t == DST)
        return 0;
    dnnl_primitive_desc_t reorder_pd;
    TRY(dnnl_reorder_primitive_desc_create(&reorder_pd, plain, c->engine, wanted, c->engine, NULL));
    dnnl_primitive_t reorder;
    const dnnl_status_t status = dnnl_primitive_create(&reorder, reorder_pd);
    dnnl_primitive_desc_destroy(reorder_pd);
    TRY(status);
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, c->user[t]}, {DNNL_ARG_TO, c->used[t]}};
    dnnl_status_t ran = dnnl_primitive_execute(reorder, c->stream, 2, args);
    if (ran == dnnl_success)
        ran = dnnl_stream_wait(c->stream);
    dnnl_primitive_destroy(reorder);
    TRY(ran);
    return 0;
}

static int prepare(const cc_conv2d_params *p, int peer, onednn_conv *c, char *error,
                   size_t error_size)
{
    const bool any_format = peer != BENCH_ONEDNN_NCHW;
    const dnnl_alg_kind_t algorithm =
        peer == BENCH_ONEDNN_WINOGRAD ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_memory_desc_t plain[TENSORS];
    if (plain_descs(p, plain, error, error_size) != 0)
        return -1;
    TRY(dnnl_engine_create(&c->engine, dnnl_cpu, 0));
    TRY(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags));
    const int made = make_primitive_desc(p, plain, any_format, algorithm, c, error, error_size);
    if (made != 0)
        return made;
    /* The bias stays plain (format "x"): only SRC, WEI and DST were "any". */
    const dnnl_query_t queries[TENSORS] = {dnnl_query_src_md, dnnl_query_weights_md,
                                           dnnl_query_undef, dnnl_query_dst_md};
    const int arg_names[TENSORS] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    for (int t = 0; t < TENSORS; t++) {
        if (t == BIA) {
            TRY(dnnl_memory_create(&c->user[t], &plain[BIA], c->engine, DNNL_MEMORY_ALLOCATE));
            fill(c->user[t], &plain[BIA]);
            c->used[t] = c->user[t];
        } else if (make_memory(c, t, &plain[t], queries[t], error, error_size) != 0) {
            return -1;
        }
        c->args[c->nargs++] = (dnnl_exec_arg_t){arg_names[t], c->used[t]};
    }
    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(c->pd, dnnl_query_scratchpad_md, 0);
    TRY(dnnl_memory_create(&c->scratchpad, scratch, c->engine, DNNL_MEMORY_ALLOCATE));
    c->args[c->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, c->scratchpad};
    TRY(dnnl_primitive_create(&c->conv, c->pd));
    return 0;
}

static int run(void *context)
{
    onednn_conv *c = context;
    c->failed_call = "dnnl_primitive_execute";
    c->run_status = dnnl_primitive_execute(c->conv, c->stream, c->nargs, c->args);
    if (c->run_status == dnnl_success) {
        c->failed_call = "dnnl_stream_wait";
        c->run_status = dnnl_stream_wait(c->stream);
    }
    return c->run_status == dnnl_success ? 0 : -1;
}

int bench_onednn_time(const cc_conv2d_params *p, int peer, int threads, const bench_plan *plan,
                      bench_peer_result *result, char *error, size_t error_size)
{
    onednn_conv c;
    memset(&c, 0, sizeof c);
    omp_set_num_threads(threads); /* oneDNN's runtime is OpenMP, shared with colconv */
    int status = prepare(p, peer, &c, error, error_size);
    if (status == 0 && bench_time(run, &c, plan, &result->times) != 0) {
        snprintf(error, error_size, "oneDNN: %s failed (status %d)", c.failed_call,
                 (int)c.run_status);
        status = -1;
    }
    if (status == 0) {
        result->workspace_bytes =
            dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(c.pd, dnnl_query_scratchpad_md, 0));
        const char *impl = NULL;
        dnnl_primitive_desc_query(c.pd, dnnl_query_impl_info_str, 0, &impl);
        snprintf(result->impl, sizeof result->impl, "%s", impl != NULL ? impl : "?");
    }
    release(&c);
    return status;
}
