/* colconv: importing ONNX models (the files torch.onnx.export and tf2onnx
 * write) as colconv networks.
 *
 * cc_net_load_onnx reads a model file (protobuf, opsets 7 to 17) and builds
 * the same cc_net the net API builds by hand: one cc_net_add_* call per
 * operator (some operators fold away: Identity, Dropout, Constant, shape
 * arithmetic on constants, a Pad into the next conv or pool, a
 * BatchNormalization stays a batch norm layer that the build folds into its
 * conv), with the model's initializers set as its tensors. The network is
 * NOT built: the caller calls cc_net_build with its own options (fusion on
 * or off), then cc_net_run. Weights named by their initializers where the
 * net API's naming allows it (a Conv whose weight is "features.0.weight"
 * becomes layer "features.0"); otherwise layers are named after their ONNX
 * node (or "<op>_<index>" when the node has no name).
 *
 * The model must have one float32 input, 4-D [N][C][H][W] (a 2-D [N][F]
 * input is taken as [N][F][1][1]), and one output; initializers are float32
 * (int64 only for shapes, axes and pads). The network's input is given in
 * the layout chosen at load: NCHW as the model has it, or NHWC (the caller
 * passes the same values permuted; a flat output is [N][C] either way). The
 * network's last node is the model's output and carries its name
 * (cc_net_get_layer_info). A Transpose that only changes the layout right
 * after the input (NHWC -> NCHW, as tf2onnx writes) or right before the
 * output is absorbed: the network's input is always the image in the layout
 * chosen at load; the shapes cc_onnx_inspect reports are the model's own.
 *
 * Operators: Conv, Gemm, MatMul + Add, Relu, LeakyRelu, Elu, Clip (a finite
 * min; min 0 is exact, another min within a rounding), Sigmoid, Tanh,
 * HardSigmoid (beta 0.5), HardSwish, MaxPool, AveragePool, GlobalAveragePool,
 * GlobalMaxPool, LRN (odd sizes), Concat (channels), Add (two tensors, or a
 * constant per channel), Mul (by a constant per channel), BatchNormalization,
 * Flatten, Reshape/Squeeze/Unsqueeze with constant shapes that only flatten
 * or change nothing, Pad (constant zero, before a Conv or AveragePool),
 * Softmax (channels), Dropout, Identity, Constant, and the shape arithmetic
 * exporters write (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Slice,
 * Reshape, ConstantOfShape, Add/Sub/Mul/Div on constants), folded. colconv never runs a model it does not fully understand:
 * anything else is CC_ERR_UNSUPPORTED, whose message names the operator
 * type, the node's name and the model's opset.
 *
 * External data (models over 2 GB: tensors whose data_location is EXTERNAL)
 * is read from the file named by the tensor's "location", which must be a
 * relative path inside the model's directory (no "..", not absolute), at
 * "offset" for "length" bytes.
 *
 * Errors: CC_ERR_INVALID_ARG for NULL arguments or bad options; CC_ERR_IO
 * when the model or a data file cannot be opened or read; CC_ERR_FORMAT for a
 * file that is not a valid ONNX model (truncated, corrupt protobuf, a tensor
 * whose data is shorter or longer than its dims, a node reading a name
 * nothing defines, an attribute of the wrong type, a file over 2 GB);
 * CC_ERR_UNSUPPORTED for a valid model colconv cannot run; CC_ERR_NOMEM.
 * Details in cc_last_error(). Hostile files never make colconv crash, read
 * out of bounds or allocate more than a bounded multiple of the file size.
 *
 * Thread safety: the functions here share no state; each may run on several
 * threads at once. */
#ifndef COLCONV_ONNX_H
#define COLCONV_ONNX_H

#include <stdint.h>

#include "colconv/conv.h"
#include "colconv/export.h"
#include "colconv/net.h"
#include "colconv/status.h"

CC_EXTERN_C_BEGIN

typedef struct {
    cc_layout layout; /* the network's layout (CC_NCHW or CC_NHWC) */
    int batch;        /* 0: the model's batch, or 1 when it is symbolic */
} cc_onnx_options;

/* Reads the model at path and makes *net (weights set, not built). options
 * may be NULL: NCHW and batch 0. A batch given that differs from a fixed
 * batch in the model is accepted only where nothing in the graph depends
 * on it (a Reshape to a constant batch fails with CC_ERR_UNSUPPORTED). *net
 * is NULL on failure. */
CC_API cc_status cc_net_load_onnx(const char *path, const cc_onnx_options *options,
                                  cc_net **net);

/* A graph input or output as the model declares it. */
#define CC_ONNX_MAX_RANK 8
typedef struct {
    const char *name;
    int elem_type;                 /* ONNX TensorProto.DataType: 1 is float32 */
    int rank;                      /* number of dims (0..CC_ONNX_MAX_RANK) */
    int64_t dims[CC_ONNX_MAX_RANK]; /* -1 for a symbolic or unknown dim */
    const char *dim_params[CC_ONNX_MAX_RANK]; /* the symbol ("batch_size"), or NULL */
} cc_onnx_value_info;

/* What a model file declares: its graph inputs (initializers excluded, as
 * opset 9+ exporters may list them as inputs too) and outputs. */
typedef struct {
    int input_count, output_count;
    const cc_onnx_value_info *inputs, *outputs;
    int64_t ir_version;
    int64_t opset;            /* the default ("ai.onnx") domain's opset */
    const char *producer;     /* producer_name, e.g. "pytorch" ("" if absent) */
    const char *graph_name;   /* "" if absent */
} cc_onnx_model_info;

/* Reads the model at path (without its external data) and makes *info,
 * which owns every string it points to; free it with cc_onnx_info_free.
 * Errors as cc_net_load_onnx for the file itself (a model with unsupported
 * operators is inspected fine). *info is NULL on failure. */
CC_API cc_status cc_onnx_inspect(const char *path, cc_onnx_model_info **info);
/* NULL is fine. */
CC_API void cc_onnx_info_free(cc_onnx_model_info *info);

CC_EXTERN_C_END

#endif
