/* colconv internals of networks: the graph, the tensors, the build plan and
 * the packed state. Files: net.c (graph, queries), layers_add.c (each
 * layer's shape inference), builder.c (terse building, blocks), zoo.c,
 * plan.c (fusion and buffer planning), pack.c (conv operators and derived
 * weights), workspace.c (the convs' shared workspace), build.c, run.c,
 * init.c, tensors.c, weights_io.c, summary.c. */
#ifndef COLCONV_NET_INTERNAL_H
#define COLCONV_NET_INTERNAL_H

#include <pthread.h>

#include "../layers/layers.h"

#define CC__NET_NAME_MAX 200

typedef enum {
    CC__NODE_INPUT = 0,
    CC__NODE_CONV,
    CC__NODE_POOL,
    CC__NODE_GLOBAL_POOL,
    CC__NODE_ACTIVATION,
    CC__NODE_FC,
    CC__NODE_SOFTMAX,
    CC__NODE_LRN,
    CC__NODE_CONCAT,
    CC__NODE_ADD,
    CC__NODE_BATCHNORM,
    CC__NODE_DROPOUT
} cc__node_kind;

typedef struct {
    cc__node_kind kind;
    char *name;
    int *inputs;          /* input_count earlier nodes */
    int input_count;
    cc__dims out;         /* logical output shape */
    bool flat;            /* output is [N][C] (h = w = 1) */
    union {
        cc_net_conv_params conv;
        cc_pool2d_params pool;
        cc_pool_kind global_pool;
        cc_activation act;
        int fc_outputs;
        cc_lrn_params lrn;
        float bn_epsilon;
    } u;
    int first_tensor;     /* this node's tensors: [first_tensor, +tensor_count) */
    int tensor_count;
    size_t params;
    uint64_t flops;
} cc__node;

typedef enum {
    CC__TENSOR_WEIGHT = 0, /* conv or FC weight: random at init */
    CC__TENSOR_BIAS,       /* zeros at init */
    CC__TENSOR_BN_SCALE,   /* ones */
    CC__TENSOR_BN_SHIFT,   /* zeros */
    CC__TENSOR_BN_MEAN,    /* zeros */
    CC__TENSOR_BN_VAR      /* ones */
} cc__tensor_role;

typedef struct {
    char *name;
    int node;
    cc__tensor_role role;
    int rank;
    int shape[4];
    size_t count;          /* elements */
    size_t offset;         /* in floats, into the network's weight array */
    size_t fan_in, fan_out;
} cc__tensor;

/* Fusion and buffer decisions of one build; a pure function of the graph
 * and the options (plan.c). Arrays are per node. */
typedef struct {
    int *exec;             /* the node whose run computes this node's values */
    int *storage;          /* the node owning the buffer that holds its output */
    int *folded_bn;        /* conv: the batch norm folded into it, else -1 */
    bool *has_act;         /* conv, FC, add: applies act[] after its sweep */
    cc_activation *act;
    int *residual;         /* conv: the other input of an add fused into it
                            * (added before act[]), else -1 */
    size_t *offset;        /* floats into its storage at which a node's output
                            * starts: nonzero for a concat input computed in
                            * its slice of the concat's storage */
    size_t *pixel_stride;  /* conv: floats from one output pixel to the next
                            * when it writes its slice of an NHWC concat's
                            * storage (the concat's channels); else 0 */
    int *buffer;           /* storage roots: buffer index; -1 for the input */
    size_t *buffer_bytes;  /* buffer_count sizes */
    int buffer_count;
    size_t planned_bytes;  /* sum of buffer_bytes */
    size_t unplanned_bytes;/* sum of every layer's output bytes */
} cc__plan;

/* What a build derives from the weights (pack.c); swapped whole when the
 * weights change. Arrays are per node. */
typedef struct {
    cc_conv2d **ops;       /* conv nodes, created without a workspace */
    float **data;          /* FC: weights packed by cc__fc_pack (permuted for
                            * NHWC), or NULL at batch 1 when the tensor is
                            * used as is; standalone batch norm: mul[C] then
                            * add[C]; else NULL */
} cc__packed;

struct cc_net {
    cc_layout layout;      /* of the input and output */
    cc_layout compute;     /* the layers' (the build's choice; layout before) */
    float *reordered_input; /* the input in the compute layout, when they differ */
    cc__node *nodes;
    int node_count, node_capacity;
    cc__tensor *tensors;
    int tensor_count, tensor_capacity;
    size_t weight_floats;
    float *weights;        /* NULL until weights are given */
    bool built;
    cc__plan plan;
    cc__packed *packed;
    float **buffers;       /* plan.buffer_count activation buffers */
    const float **gather;  /* run-time scratch: concat input pointers */
    int *gather_channels;  /* and their channel counts */
    float *workspace;      /* one conv workspace shared by every conv */
    size_t workspace_bytes;
    pthread_mutex_t run_lock; /* held for a whole run: runs share the buffers */
};

/* Floats from one input's slice of a concat's output to the next, per
 * channel of the input: a plane in NCHW, one float in NHWC. */
static inline size_t cc__concat_channel_floats(const cc_net *net, const cc__node *concat)
{
    return net->compute == CC_NHWC ? 1 : (size_t)concat->out.h * (size_t)concat->out.w;
}

#define CC__NET_TRY(expression)                 \
    do {                                        \
        cc_status net_try_status = (expression); \
        if (net_try_status != CC_OK)            \
            return net_try_status;              \
    } while (0)

/* compute_layout.c */
/* Sets net->compute for the build's option (CC_ERR_INVALID_ARG for a value
 * outside the enum). */
cc_status cc__net_choose_compute(cc_net *net, cc_compute_layout option);
/* Whether node's output is laid out differently in the compute layout and
 * the network's (an image of several channels and pixels). */
bool cc__net_reorders(const cc_net *net, const cc__node *node);
/* out = in (dims d, layout from) in the other layout; out must not overlap in. */
void cc__net_reorder(const cc__dims *d, cc_layout from, const float *in, float *out);

/* net.c */
/* Appends a node of `kind` reading `inputs`, named `name` (or automatically
 * after `type`), with output shape `out`; the caller fills u, params, flops
 * and adds tensors. On failure nothing is appended. */
cc_status cc__net_append(cc_net *net, cc__node_kind kind, const char *name, const char *type,
                         const int *inputs, int input_count, const cc__dims *out, bool flat,
                         cc__node **node);
/* Appends a tensor "NODE_NAME.suffix" to the last node. On failure the
 * caller removes the node with cc__net_pop. */
cc_status cc__net_add_tensor(cc_net *net, const char *suffix, cc__tensor_role role, int rank,
                             const int *shape, size_t fan_in, size_t fan_out);
/* The cc_conv2d_params of a conv layer: its parameters p on an input of
 * dims `in` (but `batch` images), in `layout`, with activation `act`
 * (layers_add.c; for the builder's checks, the packing and training). */
cc_conv2d_params cc__net_conv2d_params(const cc_net_conv_params *p, const cc__dims *in,
                                       int batch, cc_layout layout, cc_act act);
/* Removes the last node and its tensors (undoing a failed add). */
void cc__net_pop(cc_net *net);
/* Frees what a build made and marks the network unbuilt. */
void cc__net_free_build(cc_net *net);
/* CC_ERR_INVALID_ARG unless the net is not built and `node` may be read. */
cc_status cc__net_check_input(const cc_net *net, cc_node node, const char *what);
/* Re-raises the current error with "layer 'NAME' (TYPE): " in front. */
cc_status cc__net_fail_layer(cc_status status, const char *name, const char *type);
/* Keras-style type name of a node. */
const char *cc__node_type(const cc__node *node);
/* The tensor named `name`, or -1. */
int cc__net_find_tensor(const cc_net *net, const char *name);
/* Bytes of a node's output; fits in size_t (checked when added). */
size_t cc__node_bytes(const cc__node *node);

/* layers_add.c */
/* Renames the last node and its tensors ("NAME.suffix") to name, which no
 * other node has (CC_ERR_INVALID_ARG otherwise): the ONNX importer learns
 * that a layer is the model's output only after adding it. Unbuilt nets. */
cc_status cc__net_rename_last(cc_net *net, const char *name);

/* plan.c */
cc_status cc__plan_make(const cc_net *net, const cc_net_build_options *options,
                        cc__plan *plan);
void cc__plan_free(cc__plan *plan);

/* pack.c: derives the packed state from a weight array. */
cc_status cc__packed_make(const cc_net *net, const cc__plan *plan, const float *weights,
                          cc__packed **packed);
void cc__packed_free(const cc_net *net, cc__packed *packed);
/* After the build, replaces the weight array by `weights` (taking it) and
 * re-packs; on failure frees `weights` and changes nothing. */
cc_status cc__net_commit_weights(cc_net *net, float *weights);

/* workspace.c */
/* Bytes conv `op` (NULL: none) needs for a run started now. */
size_t cc__net_op_workspace_need(const cc_conv2d *op);
/* For a run started now: the bytes the convs' shared workspace needs (the
 * largest need of one conv), and the sum of every conv's need (what one
 * workspace per conv would hold). After the build. */
size_t cc__net_workspace_need(const cc_net *net);
size_t cc__net_workspace_sum(const cc_net *net);
/* Grows the shared workspace to hold `need` bytes; on failure CC_ERR_NOMEM
 * and the workspace held is kept. */
cc_status cc__net_workspace_reserve(cc_net *net, size_t need);

/* init.c */
/* A weight array in the neutral state (zeros; batch norm scale and variance 1). */
float *cc__weights_neutral(const cc_net *net);

/* builder.c: terse graph building for blocks and the zoo. The first error
 * sticks: later calls do nothing and return -1, and cc__nb_finish undoes
 * every node added since `mark`. */
typedef struct {
    cc_net *net;
    cc_status status;
    int mark;                           /* node count when building started */
    char name[CC__NET_NAME_MAX + 64];   /* scratch for cc__nb_name */
} cc__nb;

void cc__nb_start(cc__nb *b, cc_net *net);
const char *cc__nb_name(cc__nb *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
cc_node cc__nb_conv(cc__nb *b, const char *name, cc_node in, int out_channels, int kernel,
                    int stride, int pad, int groups, bool bias);
cc_node cc__nb_act(cc__nb *b, const char *name, cc_node in, cc_activation_kind kind);
cc_node cc__nb_bn(cc__nb *b, const char *name, cc_node in);
cc_node cc__nb_pool(cc__nb *b, const char *name, cc_node in, cc_pool_kind kind, int kernel,
                    int stride, int pad);
cc_node cc__nb_global_pool(cc__nb *b, const char *name, cc_node in, cc_pool_kind kind);
cc_node cc__nb_fc(cc__nb *b, const char *name, cc_node in, int outputs);
cc_node cc__nb_lrn(cc__nb *b, const char *name, cc_node in, const cc_lrn_params *p);
cc_node cc__nb_dropout(cc__nb *b, const char *name, cc_node in);
cc_node cc__nb_softmax(cc__nb *b, const char *name, cc_node in);
cc_node cc__nb_add(cc__nb *b, const char *name, cc_node x, cc_node y);
cc_node cc__nb_concat(cc__nb *b, const char *name, const cc_node *inputs, int count);
cc_node cc__nb_bottleneck(cc__nb *b, const char *prefix, cc_node in, int mid, int out,
                          int stride);
cc_node cc__nb_inception(cc__nb *b, const char *prefix, cc_node in,
                         const cc_net_inception_params *p);
/* The sticky status; on failure removes the nodes added since the start. */
cc_status cc__nb_finish(cc__nb *b, cc_node last, cc_node *out);

#endif
