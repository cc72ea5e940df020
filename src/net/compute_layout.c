/* The layout a network's layers run in, and the reorders of its input and
 * output between that layout and the network's own. */
#include "net_internal.h"

/* AUTO's bound: fewer output channels per group fill too few lanes of the
 * NHWC kernels' channel vectors (LeNet-5's conv1, 6 filters over 1 input
 * channel: 0.041 ms in NHWC against 0.013 in NCHW on a Zen 5). */
#define NHWC_MIN_GROUP_OUTPUTS 16

/* Every conv fills the NHWC kernels' channel vectors. */
static bool convs_fill_channel_vectors(const cc_net *net)
{
    for (int i = 0; i < net->node_count; i++) {
        const cc__node *x = &net->nodes[i];
        if (x->kind != CC__NODE_CONV)
            continue;
        const int groups = x->u.conv.groups > 0 ? x->u.conv.groups : 1;
        const int in_channels = net->nodes[x->inputs[0]].out.c;
        const bool depthwise = groups == in_channels && groups == x->u.conv.out_channels;
        if (!depthwise && x->u.conv.out_channels / groups < NHWC_MIN_GROUP_OUTPUTS)
            return false;
    }
    return true;
}

/* AUTO: on an AMD EPYC Zen 5 with the AVX-512 kernels, the imported
 * torchvision networks ran as fast or faster with their layers in NHWC
 * (each layer's best of 10 runs summed, 1 / 2 threads, ms, NCHW -> NHWC):
 * ResNet-50 47-48 -> 43-44 / 25-26 -> 24, MobileNet-v2 6.1-6.3 -> 5.0-5.3
 * / 3.7-3.9 -> 3.0, DenseNet-121 36-37 -> 33 / 21 -> 19, AlexNet 16-17 ->
 * 16 / 10.5-10.7 -> 9.9, VGG-16, GoogLeNet and SqueezeNet within the noise.
 * With the AVX2 kernels on the same CPU (COLCONV_MAX_ISA=avx2) VGG-16
 * (152 -> 174) and MobileNet-v2 (9.4 -> 10.6) were slower in NHWC: AVX2
 * keeps the network's layout. */
static cc_layout auto_layout(const cc_net *net)
{
    if (net->layout == CC_NCHW && cc__cpu_isa() == CC__ISA_AVX512 &&
        convs_fill_channel_vectors(net))
        return CC_NHWC;
    return net->layout;
}

cc_status cc__net_choose_compute(cc_net *net, cc_compute_layout option)
{
    switch (option) {
    case CC_COMPUTE_AUTO:
        net->compute = auto_layout(net);
        return CC_OK;
    case CC_COMPUTE_NCHW:
        net->compute = CC_NCHW;
        return CC_OK;
    case CC_COMPUTE_NHWC:
        net->compute = CC_NHWC;
        return CC_OK;
    }
    return cc__fail(CC_ERR_INVALID_ARG,
                    "net_build: compute_layout %d is not a cc_compute_layout", (int)option);
}

bool cc__net_reorders(const cc_net *net, const cc__node *node)
{
    const cc__dims *d = &node->out;
    return net->compute != net->layout && !node->flat && d->c > 1 && (d->h > 1 || d->w > 1);
}

/* Elements a side of the blocks the transpose moves: a block's rows and
 * columns stay in L1 (two 4 KiB tiles). */
#define BLOCK 32

/* Up to this many rows (an RGB image's planes), the transpose writes each
 * output row whole from that many input streams: 3 x 224x224 in 28 us,
 * against 87 in blocks (AMD EPYC Zen 5). */
#define FEW_ROWS 4

/* out[p][r] = in[r][p] for r < rows, p < cols. */
static void transpose(const float *in, size_t rows, size_t cols, float *out)
{
    if (rows <= FEW_ROWS) {
        for (size_t p = 0; p < cols; p++)
            for (size_t r = 0; r < rows; r++)
                out[p * rows + r] = in[r * cols + p];
        return;
    }
    for (size_t r0 = 0; r0 < rows; r0 += BLOCK)
        for (size_t p0 = 0; p0 < cols; p0 += BLOCK) {
            const size_t r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
            const size_t p1 = p0 + BLOCK < cols ? p0 + BLOCK : cols;
            for (size_t r = r0; r < r1; r++)
                for (size_t p = p0; p < p1; p++)
                    out[p * rows + r] = in[r * cols + p];
        }
}

void cc__net_reorder(const cc__dims *d, cc_layout from, const float *in, float *out)
{
    const size_t pixels = (size_t)d->h * (size_t)d->w, channels = (size_t)d->c;
    const size_t image = pixels * channels;
    for (int n = 0; n < d->n; n++) {
        const float *src = in + (size_t)n * image;
        float *dst = out + (size_t)n * image;
        if (from == CC_NCHW)
            transpose(src, channels, pixels, dst);
        else
            transpose(src, pixels, channels, dst);
    }
}
