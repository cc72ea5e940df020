/* colconv: networks of layers, their weights, their summary and the zoo.
 *
 * Lifecycle (plan once, run many):
 *   1. cc_net_create (or cc_net_zoo_create) makes a network with one input
 *      node; cc_net_add_* append layers, each reading earlier nodes, so the
 *      nodes are always in a valid execution order. Shapes are inferred and
 *      checked as each layer is added. Adding allocates only the graph.
 *   2. Weights are given with cc_net_init_weights, cc_net_load_weights or
 *      cc_net_set_tensor (the first of them allocates the weight memory).
 *   3. cc_net_build fuses layers (batch norm folded into the preceding conv,
 *      ReLU/ReLU6/sigmoid/tanh into the preceding conv, any activation into
 *      the preceding fully connected layer, add or batch norm that is not
 *      folded (DenseNet's BN-ReLU), and an add of two inputs into
 *      the conv computing one of them when nothing else reads that conv and
 *      the other input is computed earlier: ResNet's residual add, with its
 *      ReLU), plans the activation buffers (a buffer is reused once no later
 *      layer reads it), creates the conv operators and allocates everything
 *      a run needs, among it one conv workspace shared by all the convs (as
 *      large as the largest conv needs at the thread count of the build).
 *   4. cc_net_run runs the network and allocates nothing, with one
 *      exception: if cc_set_num_threads raised the thread count after the
 *      build, a conv may need a larger workspace, and the run grows the
 *      shared workspace before that conv (once; later runs at that count
 *      allocate nothing). If that allocation fails the run returns
 *      CC_ERR_NOMEM and the network stays usable. Weights may still be
 *      changed after the build (the operators are then re-created).
 *   5. cc_net_destroy frees everything.
 *
 * The network's output is its last node. Tensors are float32, in the layout
 * given at creation (NCHW or NHWC); a "flat" tensor (after a fully connected
 * layer or a global pooling) is [N][C] in both layouts.
 *
 * Weights follow PyTorch: a conv's "NAME.weight" is [OC][IC/groups][KH][KW]
 * and "NAME.bias" is [OC]; a fully connected layer's "NAME.weight" is
 * [outputs][inputs] with the inputs in PyTorch's flatten order (c, h, w),
 * whatever the layout (NHWC networks permute a copy at build time), and
 * "NAME.bias" is [outputs]; a batch norm has "NAME.weight" (scale),
 * "NAME.bias" (shift), "NAME.running_mean" and "NAME.running_var", all [C].
 * The zoo names its layers as torchvision does where torchvision has the
 * network (VGG, ResNet-50), so a state_dict converts by name.
 *
 * Thread safety: different networks may be used from different threads.
 * One network may be run from several threads at once (each with its own
 * input and output), but its runs are serialised: they share its activation
 * buffers and conv workspace, so each run holds the network's lock from
 * start to end and the others wait (for parallel runs, build one network
 * per thread). One network must not be changed or built while another
 * thread uses it. Query functions on a network nobody is changing may be
 * called from any thread. cc_set_num_threads must not be called while a
 * network runs (the shared workspace is sized from the count a conv reads
 * when it starts).
 *
 * Errors: CC_ERR_INVALID_ARG for NULL pointers, bad parameters, shapes that
 * do not fit (the message names the layer) and calls in the wrong state
 * (adding after the build, running before it); CC_ERR_NOMEM when an
 * allocation fails (nothing is leaked and the network is left as it was);
 * CC_ERR_IO and CC_ERR_FORMAT for weights files. Details in cc_last_error(). */
#ifndef COLCONV_NET_H
#define COLCONV_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "colconv/conv.h"
#include "colconv/export.h"
#include "colconv/layers.h"
#include "colconv/status.h"

CC_EXTERN_C_BEGIN

typedef struct cc_net cc_net;

/* A node of a network: 0 is the input, each add returns the next number. */
typedef int cc_node;

/* A convolution inside a network: cc_conv2d_params without the input shape,
 * which is inferred from the input node, plus the path to use. */
typedef struct {
    int out_channels, kernel_h, kernel_w;
    int stride_h, stride_w;     /* 0 means 1 */
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w; /* 0 means 1 */
    int groups;                 /* 0 means 1 */
    int no_bias;                /* nonzero: no bias tensor (e.g. before a batch norm) */
    cc_algo algo;               /* CC_ALGO_AUTO lets the operator choose */
} cc_net_conv_params;

/* GoogLeNet's Inception block: four towers concatenated along channels,
 * 1x1 | 1x1 reduce -> 3x3 | 1x1 reduce -> 5x5 | 3x3 max pool -> 1x1 proj,
 * every conv followed by ReLU. Output channels: c1x1 + c3x3 + c5x5 + pool_proj. */
typedef struct {
    int c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj;
} cc_net_inception_params;

/* Creates an empty network whose input is [batch][channels][height][width]
 * (NCHW) or [batch][height][width][channels] (NHWC). *net is NULL on failure. */
CC_API cc_status cc_net_create(cc_layout layout, int batch, int channels, int height,
                               int width, cc_net **net);

/* NULL is fine. */
CC_API void cc_net_destroy(cc_net *net);

/* The input node (always 0). */
CC_API cc_node cc_net_input(const cc_net *net);

/* Layers. Each appends one node reading `input` (earlier nodes) and stores
 * its handle in *out. `name` is copied; it must be unique in the network,
 * at most 200 bytes, and names the layer's tensors ("conv1" -> "conv1.weight");
 * NULL gives "<type>_<node>" (e.g. "conv2d_3"). On failure nothing is added.
 * A conv reads an NCHW/NHWC tensor; a flat input is treated as [N][C][1][1]. */
CC_API cc_status cc_net_add_conv(cc_net *net, const char *name, cc_node input,
                                 const cc_net_conv_params *params, cc_node *out);
CC_API cc_status cc_net_add_pool(cc_net *net, const char *name, cc_node input,
                                 const cc_pool2d_params *params, cc_node *out);
/* Global average or max pooling: output is flat [N][C]. */
CC_API cc_status cc_net_add_global_pool(cc_net *net, const char *name, cc_node input,
                                        cc_pool_kind kind, cc_node *out);
CC_API cc_status cc_net_add_activation(cc_net *net, const char *name, cc_node input,
                                       const cc_activation *activation, cc_node *out);
/* Fully connected with bias; flattens its input (c, h, w order). Output flat. */
CC_API cc_status cc_net_add_fc(cc_net *net, const char *name, cc_node input, int outputs,
                               cc_node *out);
/* Softmax over channels at every pixel (over the features of a flat tensor). */
CC_API cc_status cc_net_add_softmax(cc_net *net, const char *name, cc_node input,
                                    cc_node *out);
CC_API cc_status cc_net_add_lrn(cc_net *net, const char *name, cc_node input,
                                const cc_lrn_params *params, cc_node *out);
/* Concatenation along channels of count >= 1 nodes with equal N, H, W. */
CC_API cc_status cc_net_add_concat(cc_net *net, const char *name, const cc_node *inputs,
                                   int count, cc_node *out);
/* Element-wise sum of count >= 2 nodes of one shape. */
CC_API cc_status cc_net_add_add(cc_net *net, const char *name, const cc_node *inputs,
                                int count, cc_node *out);
/* Inference batch norm (epsilon > 0, e.g. 1e-5); its four tensors are weights. */
CC_API cc_status cc_net_add_batchnorm(cc_net *net, const char *name, cc_node input,
                                      float epsilon, cc_node *out);
/* Identity at inference; costs neither a sweep nor a buffer. */
CC_API cc_status cc_net_add_dropout(cc_net *net, const char *name, cc_node input,
                                    cc_node *out);

/* Blocks built from the layers above. */
/* torchvision's ResNet bottleneck (v1.5, stride on the 3x3): conv1 1x1 to
 * mid_channels -> bn1 -> relu -> conv2 3x3/stride -> bn2 -> relu -> conv3 1x1
 * to out_channels -> bn3, plus the shortcut (identity, or when the stride is
 * not 1 or the channels change, downsample.0 1x1/stride conv -> downsample.1
 * bn), then add and ReLU. Convs have no bias. Layers are named PREFIX.conv1,
 * PREFIX.bn1, ..., PREFIX.downsample.0, PREFIX.downsample.1, PREFIX.add,
 * PREFIX.relu (prefix required, at most 180 bytes). */
CC_API cc_status cc_net_add_bottleneck(cc_net *net, const char *prefix, cc_node input,
                                       int mid_channels, int out_channels, int stride,
                                       cc_node *out);
/* Inception block; layers PREFIX.1x1, PREFIX.3x3_reduce, PREFIX.3x3,
 * PREFIX.5x5_reduce, PREFIX.5x5, PREFIX.pool, PREFIX.pool_proj (each conv
 * with PREFIX.<conv>.relu), PREFIX.output (the concat). */
CC_API cc_status cc_net_add_inception(cc_net *net, const char *prefix, cc_node input,
                                      const cc_net_inception_params *params, cc_node *out);

/* Weights. He: normal(0, sqrt(2 / fan_in)); Xavier: uniform(-a, a) with
 * a = sqrt(6 / (fan_in + fan_out)); fan_in = inputs per output (IC/groups *
 * KH * KW, or the FC's inputs), fan_out = outputs * KH * KW (PyTorch's
 * rule). Biases 0; batch norms scale 1, shift 0, mean 0, variance 1. The
 * values depend only on the seed and the network's tensors, on every
 * machine: see docs/weights-format.md for the generator. */
typedef enum { CC_INIT_HE = 0, CC_INIT_XAVIER } cc_init;

CC_API cc_status cc_net_init_weights(cc_net *net, cc_init init, uint64_t seed);

/* Loads every tensor from a weights file (docs/weights-format.md): the file
 * must hold exactly the network's tensors, by name, with the same shapes.
 * CC_ERR_IO when the file cannot be opened or read; CC_ERR_FORMAT when it
 * is truncated, has another magic or version, a bad checksum, a tensor
 * missing, unknown, repeated or of another shape, or bytes after the end.
 * On any failure the network is exactly as it was. */
CC_API cc_status cc_net_load_weights(cc_net *net, const char *path);
/* Writes every tensor; CC_ERR_IO if the file cannot be written,
 * CC_ERR_INVALID_ARG if the network has no weights yet. */
CC_API cc_status cc_net_save_weights(const cc_net *net, const char *path);

/* The network's tensors, in order: count, and name/shape of one (name owned
 * by the network; rank 1, 2 or 4; unused dims 0). */
CC_API int cc_net_tensor_count(const cc_net *net);
CC_API cc_status cc_net_tensor_info(const cc_net *net, int index, const char **name,
                                    int *rank, int shape[4]);
/* Copies `count` floats (exactly the tensor's element count) into or out of
 * the named tensor. Setting allocates the weights (neutral: zeros, batch
 * norm scale and variance 1) if nothing was given yet. Getting before any
 * weights are given is CC_ERR_INVALID_ARG. */
CC_API cc_status cc_net_set_tensor(cc_net *net, const char *name, const float *data,
                                   size_t count);
CC_API cc_status cc_net_get_tensor(const cc_net *net, const char *name, float *data,
                                   size_t count);

/* The layout the layers run in. The network's input and output keep the
 * network's layout whatever it is: an image is reordered on the way in
 * and out (a flat or 1x1 tensor is the same in both). */
typedef enum {
    /* Chosen for the CPU: an NCHW network runs in NHWC when the conv
     * kernels are AVX-512 and every conv has 16 or more output channels
     * per group or is depthwise (there the NHWC kernels were as fast or
     * faster on every network measured on an AMD EPYC Zen 5: ResNet-50 8%,
     * MobileNet-v2 15-20% faster); otherwise in the network's layout. */
    CC_COMPUTE_AUTO = 0,
    CC_COMPUTE_NCHW,
    CC_COMPUTE_NHWC
} cc_compute_layout;

typedef struct {
    int no_buffer_reuse; /* nonzero: every layer's output gets its own buffer */
    int no_fusion;       /* nonzero: every layer runs on its own (tests, timing) */
    cc_compute_layout compute_layout; /* 0: CC_COMPUTE_AUTO */
} cc_net_build_options;

/* Plans and allocates everything a run needs; options may be NULL (reuse and
 * fusion on, compute layout AUTO). Needs weights (CC_ERR_INVALID_ARG
 * otherwise; so is a compute_layout outside the enum); may be called once.
 * On failure the network stays unbuilt and may be built again. */
CC_API cc_status cc_net_build(cc_net *net, const cc_net_build_options *options);

/* output = network(input). input is the network's input tensor, output
 * holds cc_net_output_count floats; both caller-owned. input is not
 * modified. Runs of one network are serialised (see the top). Allocates
 * nothing unless the thread count rose since the build (the shared conv
 * workspace grows; CC_ERR_NOMEM if it cannot). CC_ERR_INVALID_ARG before
 * the build; a conv operator's status otherwise (CC_OK). */
CC_API cc_status cc_net_run(cc_net *net, const float *input, float *output);

/* As cc_net_run, and writes each node's wall time in milliseconds to
 * layer_ms[node] (cc_net_node_count entries): 0 for the input and for
 * layers computed in another's sweep (fused), whose time counts in that
 * layer's. For profiles; the timing itself costs a clock read per layer. */
CC_API cc_status cc_net_run_timed(cc_net *net, const float *input, float *output,
                                  double *layer_ms);

/* Logical shape of the output, [N][C][H][W] (H = W = 1 when flat). */
CC_API cc_status cc_net_output_shape(const cc_net *net, int *n, int *c, int *h, int *w);
CC_API size_t cc_net_output_count(const cc_net *net);
CC_API size_t cc_net_input_count(const cc_net *net);

/* One layer, for reports. Strings are owned by the network. */
typedef struct {
    const char *name;
    const char *type;    /* "Conv2D", "MaxPool2D", "Dense", ... (Keras's names) */
    int n, c, h, w;      /* output shape */
    int flat;            /* nonzero: the output is [N][C] */
    size_t params;       /* as published: a batch norm counts scale and shift */
    uint64_t flops;      /* multiply-add = 2 FLOPs; see cc_net_summary */
    size_t output_bytes;
    size_t input_bytes;  /* the output bytes of its inputs, summed (what it reads) */
    int fused;           /* nonzero after the build: computed in another layer's sweep
                          * (a fused add: in the conv computing one of its inputs) */
    int input_count;
} cc_net_layer_info;

/* Nodes in the network, input included. */
CC_API int cc_net_node_count(const cc_net *net);
CC_API cc_status cc_net_get_layer_info(const cc_net *net, cc_node node, cc_net_layer_info *info);

typedef struct {
    size_t params;                   /* total, as published */
    uint64_t flops;                  /* total of one run (the whole batch) */
    size_t weight_bytes;             /* every tensor, batch norm statistics included */
    size_t activation_bytes;         /* sum of every layer's output: one buffer each */
    size_t planned_activation_bytes; /* the buffers the plan allocates */
    /* After the build (0 before). The convs share one workspace: */
    size_t workspace_bytes;          /* the shared conv workspace as held now */
    size_t shared_workspace_bytes;   /* what it needs for a run started now: the
                                      * largest need of one conv (more than held
                                      * when the thread count rose; the next run
                                      * grows it) */
    int built;
    size_t per_conv_workspace_bytes; /* the sum of every conv's need: what one
                                      * workspace per conv would hold */
    cc_layout compute_layout;        /* the layout the layers run in (before the
                                      * build: the network's) */
} cc_net_stats;

/* Totals. Before the build the plan is the default build's (reuse, fusion)
 * and the workspace figures are 0. */
CC_API cc_status cc_net_get_stats(const cc_net *net, cc_net_stats *stats);

/* A Keras-style summary: one row per layer (name, type, output shape,
 * params, FLOPs; after the build "fused" on a layer computed in another's
 * sweep and "+add" on a conv that computes an add), then "Total params:
 * 61,706", total FLOPs, weight bytes, activation bytes without and with
 * buffer reuse and conv workspace bytes (as held, shared by the convs, and
 * the sum one workspace per conv would hold). FLOPs: conv and FC count 2
 * per multiply-add; pools one per window cell; other layers a few per
 * element (activation 1, batch norm 2, add 1 per extra input, softmax 4,
 * LRN size + 3).
 * cc_net_summary writes into text as snprintf does (at most size bytes with
 * the NUL; size 0 with text NULL is fine) and stores the full length in
 * *length (may be NULL). cc_net_print_summary writes to a FILE
 * (CC_ERR_IO if that fails). */
CC_API cc_status cc_net_summary(const cc_net *net, char *text, size_t size, size_t *length);
CC_API cc_status cc_net_print_summary(const cc_net *net, FILE *file);

/* The zoo: "lenet5", "lenet", "alexnet", "vgg11", "vgg16", "vgg19",
 * "inception3a", "resnet50", "bottleneck" (one 256-channel identity block of
 * ResNet-50's conv2_x, 256x56x56). Only the graph is made: give weights,
 * then build. cc_net_zoo_create_sized uses another input size (0 keeps the
 * default; FC sizes follow the input). CC_ERR_INVALID_ARG for an unknown
 * name, a bad batch, or a size the network cannot take. */
CC_API cc_status cc_net_zoo_create(const char *name, cc_layout layout, int batch,
                                   cc_net **net);
CC_API cc_status cc_net_zoo_create_sized(const char *name, cc_layout layout, int batch,
                                         int height, int width, cc_net **net);
/* The names above, NULL-terminated. */
CC_API const char *const *cc_net_zoo_names(void);

CC_EXTERN_C_END

#endif
