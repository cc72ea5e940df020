/* colconv internals of the ONNX importer. Files: file.c (reading a model
 * file: size, nesting depth, protobuf-c with colconv's allocator), wire.c
 * (the nesting-depth scan), tensor.c (initializers and Constant values:
 * dims against data), external.c (tensors in a data file beside the model),
 * attrs.c (typed attribute getters), values.c (the table of ONNX value
 * names), import.c (the graph walk and cc_net_load_onnx), ops_layers.c
 * (operators that become layers), ops_shape.c (operators that alias,
 * reshape or fold to constants), inspect.c (cc_onnx_inspect).
 *
 * The generated parser names its types CcOnnx__* (third_party/onnx). */
#ifndef COLCONV_ONNX_INTERNAL_H
#define COLCONV_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"
#include "onnx.pb-c.h"

/* Files larger than this are refused (protobuf's own limit). */
#define CC__ONNX_MAX_FILE_BYTES ((size_t)INT32_MAX)
/* Messages nested deeper than this are refused before unpacking: protobuf-c
 * unpacks recursively, and a graph inside an attribute inside a graph ...
 * costs a few bytes a level. ONNX models nest a handful of levels. */
#define CC__ONNX_MAX_DEPTH 32
/* Rank of any tensor the importer handles. */
#define CC__ONNX_MAX_RANK 8

#define CC__TRY_ONNX(expression)                 \
    do {                                         \
        cc_status onnx_try_status = (expression); \
        if (onnx_try_status != CC_OK)            \
            return onnx_try_status;              \
    } while (0)

typedef CcOnnx__ModelProto cc__onnx_model;

/* Reads and unpacks the model file at path (CC_ERR_IO, CC_ERR_FORMAT).
 * Free with cc__onnx_model_free. */
cc_status cc__onnx_model_read(const char *path, cc__onnx_model **model);
void cc__onnx_model_free(cc__onnx_model *model);
/* CC_ERR_FORMAT unless the protobuf message in data parses as a `descriptor`
 * message at the wire level with every nested message at most max_depth deep. */
cc_status cc__onnx_wire_check(const ProtobufCMessageDescriptor *descriptor,
                              const uint8_t *data, size_t size, int max_depth);
/* The default domain's opset of a model, or -1 if it declares none. */
int64_t cc__onnx_opset(const cc__onnx_model *model);
/* s, or "" for NULL (protobuf-c leaves absent strings NULL). */
static inline const char *cc__onnx_str(const char *s) { return s != NULL ? s : ""; }

/* A constant tensor: float32 or int64 values (int32 is widened to int64). */
typedef enum { CC__ONNX_FLOAT = 0, CC__ONNX_INT64 } cc__onnx_elem;
typedef struct {
    cc__onnx_elem elem;
    int rank;
    int64_t dims[CC__ONNX_MAX_RANK];
    size_t count;
    float *f;   /* count floats (elem FLOAT), through cc__alloc */
    int64_t *i; /* count int64 (elem INT64), through cc__alloc */
} cc__onnx_const;

/* Decodes tensor (an initializer or a Constant's value) into c, reading
 * external data relative to model_dir. CC_ERR_FORMAT when its data does
 * not match its dims; CC_ERR_UNSUPPORTED for other element types. */
cc_status cc__onnx_const_decode(const CcOnnx__TensorProto *tensor, const char *model_dir,
                                cc__onnx_const *c);
/* Makes c an empty constant of elem and dims (values zeroed). */
cc_status cc__onnx_const_make(cc__onnx_elem elem, int rank, const int64_t *dims,
                              cc__onnx_const *c);
void cc__onnx_const_free(cc__onnx_const *c);
/* Element k as a double / as an int64 (floats truncated). */
double cc__onnx_const_get(const cc__onnx_const *c, size_t k);
int64_t cc__onnx_const_int(const cc__onnx_const *c, size_t k);

/* Reads `bytes` bytes at `offset` of the file `location` into *out (a new
 * cc__alloc'd block), after checking that location is a relative path
 * inside model_dir without ".." and that the range lies inside the file.
 * CC_ERR_FORMAT for a bad location or range, CC_ERR_IO when it cannot be
 * read; messages name tensor. */
cc_status cc__onnx_external_read(const char *model_dir, const char *location, uint64_t offset,
                                 size_t bytes, const char *tensor, uint8_t **out);

/* Typed attribute getters on a node: *out gets the attribute's value, or
 * the default when the node does not have it. CC_ERR_FORMAT when it has it
 * with another type. Lists point into the node (count in *n). */
cc_status cc__onnx_attr_int(const CcOnnx__NodeProto *node, const char *name, int64_t fallback,
                            int64_t *out);
cc_status cc__onnx_attr_float(const CcOnnx__NodeProto *node, const char *name, float fallback,
                              float *out);
cc_status cc__onnx_attr_ints(const CcOnnx__NodeProto *node, const char *name,
                             const int64_t **values, size_t *n);
/* A STRING attribute, NUL-terminated into text (at most size - 1 bytes;
 * longer is CC_ERR_FORMAT); fallback when absent. */
cc_status cc__onnx_attr_string(const CcOnnx__NodeProto *node, const char *name,
                               const char *fallback, char *text, size_t size);
/* The TENSOR attribute `name`, or NULL. */
cc_status cc__onnx_attr_tensor(const CcOnnx__NodeProto *node, const char *name,
                               const CcOnnx__TensorProto **tensor);
/* True when the node has attribute `name`. */
bool cc__onnx_attr_has(const CcOnnx__NodeProto *node, const char *name);

/* ---- the graph walk ------------------------------------------------------ */

/* What an ONNX value name stands for while the graph is mapped. */
typedef enum {
    CC__ONNX_VALUE_CONST = 0, /* a constant tensor (initializer, Constant, folded) */
    CC__ONNX_VALUE_LAYER      /* the output of a network node */
} cc__onnx_value_kind;

typedef struct {
    const char *name;          /* owned by the model */
    cc__onnx_value_kind kind;
    cc__onnx_const c;          /* CONST */
    const char *origin;        /* CONST: the initializer's name, or NULL */
    /* LAYER: the node and the shape ONNX sees. A 4-D [N][C][H][W] node seen
     * as 2-D after a Flatten has rank 2, dims {N, C*H*W}. */
    int node;
    int rank;
    int64_t dims[4];
    int pads[4];               /* a folded Pad waiting for its conv or pool:
                                * top, left, bottom, right (rank 4 only) */
    bool padded;
    bool view;                 /* rank 2 seen of a 4-D node with H*W > 1 (a
                                * Flatten's output): only an FC may read it */
    bool from_matmul;          /* an FC made from a MatMul whose bias is 0 yet */
} cc__onnx_value;

/* A tensor to give the network once every layer is added (the weight array
 * is allocated by the first cc_net_set_tensor, after which no layer may be
 * added). data points into a constant, or into `owned`. */
typedef struct {
    int node;
    char suffix[16];
    const float *data;
    size_t count;
    float *owned;
} cc__onnx_pending;

typedef struct {
    cc_net *net;
    const cc__onnx_model *model;
    const char *model_dir;
    int64_t opset;
    cc__onnx_value *values;
    int value_count, value_capacity;
    cc__onnx_pending *pending;
    int pending_count, pending_capacity;
    const CcOnnx__NodeProto *node; /* the node being mapped, for messages */
    int node_index;
    char layer_name[256];      /* scratch for cc__onnx_layer_name */
} cc__onnx_ctx;

/* values.c */
/* The value named name (NULL: none). */
cc__onnx_value *cc__onnx_find(cc__onnx_ctx *ctx, const char *name);
/* Appends a value named name (copying *v); CC_ERR_FORMAT if the name is
 * defined already. */
cc_status cc__onnx_define(cc__onnx_ctx *ctx, const char *name, const cc__onnx_value *v);
/* How many node inputs and graph outputs read the value named name. */
int cc__onnx_use_count(const cc__onnx_ctx *ctx, const char *name);
void cc__onnx_values_free(cc__onnx_ctx *ctx);
/* Input i of the current node (CC_ERR_FORMAT if i is beyond its inputs or
 * names no value defined earlier; *v NULL for an optional input left empty
 * when optional). */
cc_status cc__onnx_input(cc__onnx_ctx *ctx, size_t i, bool optional, cc__onnx_value **v);
/* The same, requiring a LAYER / a CONST value (CC_ERR_UNSUPPORTED otherwise).
 * A LAYER input must not be a pending Pad (only Conv and AveragePool, which
 * use cc__onnx_input, absorb one). */
cc_status cc__onnx_input_layer(cc__onnx_ctx *ctx, size_t i, cc__onnx_value **v);
cc_status cc__onnx_input_const(cc__onnx_ctx *ctx, size_t i, bool optional,
                               cc__onnx_value **v);
/* Defines the current node's output 0 as v (later outputs must be unused:
 * CC_ERR_UNSUPPORTED otherwise). */
cc_status cc__onnx_output(cc__onnx_ctx *ctx, const cc__onnx_value *v);
/* A LAYER value for network node `node`, its shape read from the network. */
cc_status cc__onnx_layer_value(cc__onnx_ctx *ctx, cc_node node, cc__onnx_value *v);

/* import.c */
/* CC_ERR_UNSUPPORTED / CC_ERR_FORMAT naming the current node, its type and
 * the opset, then the formatted detail. */
cc_status cc__onnx_unsupported(const cc__onnx_ctx *ctx, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
cc_status cc__onnx_bad(const cc__onnx_ctx *ctx, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A unique name for the next network layer: prefix (NULL: none) if free,
 * else the ONNX node's name, else "<op_type>_<node index>". */
const char *cc__onnx_layer_name(cc__onnx_ctx *ctx, const char *prefix);
/* The prefix P when every constant input i in inputs[0..n) is named
 * "P.<suffixes[i]>" (initializers as PyTorch names them: "conv1.weight",
 * "conv1.bias"); NULL otherwise. Written into ctx->layer_name's scratch, so
 * use it before the next call. */
const char *cc__onnx_weight_prefix(cc__onnx_ctx *ctx, const cc__onnx_value *const *inputs,
                                   const char *const *suffixes, int n);
/* Queues tensor "LAYER.suffix" of network node `node` to be set to count
 * floats at data (owned: data is a cc__alloc'd block the queue frees). */
cc_status cc__onnx_set(cc__onnx_ctx *ctx, cc_node node, const char *suffix, const float *data,
                       size_t count, bool owned);
/* The last queued tensor of node `node` named suffix, or NULL. */
cc__onnx_pending *cc__onnx_pending_find(cc__onnx_ctx *ctx, cc_node node, const char *suffix);

/* True when the current node is a Transpose NCHW -> NHWC computing the
 * model's output (absorbed: the output is given in the chosen layout). */
bool cc__onnx_is_output_transpose(const cc__onnx_ctx *ctx);
/* status, with CC_ERR_INVALID_ARG from a cc_net_add_* call (a shape or
 * parameter the network refuses) turned into CC_ERR_UNSUPPORTED naming the
 * node. */
cc_status cc__onnx_net_status(const cc__onnx_ctx *ctx, cc_status status);
/* Defines the current node's output as LAYER node `node` with the given
 * ONNX-view rank (2 or 4). */
cc_status cc__onnx_output_layer(cc__onnx_ctx *ctx, cc_node node, int rank);

/* ops_shape.c: an element-wise Add, Sub, Mul or Div (the current node's
 * op_type) of two constants, and a Concat of constants, folded. */
cc_status cc__onnx_fold_binary(cc__onnx_ctx *ctx, const cc__onnx_value *a,
                               const cc__onnx_value *b);
cc_status cc__onnx_fold_concat(cc__onnx_ctx *ctx);

/* ops_layers.c and ops_shape.c: one function per operator type. */
typedef cc_status (*cc__onnx_op_fn)(cc__onnx_ctx *ctx);
/* The mapper of an operator type, or NULL. */
cc__onnx_op_fn cc__onnx_layer_op(const char *op_type);
cc__onnx_op_fn cc__onnx_shape_op(const char *op_type);

#endif
