/* colconv internals of the trainer (include/colconv/train.h).
 * Files: trainer.c (create: the plan of every buffer; destroy; queries),
 * trainer_forward.c (the unfused forward, training and inference modes),
 * trainer_backward.c (the reverse walk), trainer_step.c (step, evaluate,
 * optimiser), trainer_state.c (save and load).
 *
 * The plan, made once at create for `batch` images: every node but the
 * input gets its own value buffer (nothing is reused: the backward pass
 * reads the forward's values) and, when a gradient flows through it, its
 * own gradient buffer; node 0's value is the caller's input during a call.
 * Weight gradients sit in one array with the network's weight offsets. One
 * workspace, as large as the largest need of one node (conv tiles, LRN and
 * FC scratch, an NHWC FC's permuted input, batch norm's inference
 * coefficients), serves the nodes one after the other. */
#ifndef COLCONV_TRAIN_TRAINER_INTERNAL_H
#define COLCONV_TRAIN_TRAINER_INTERNAL_H

#include "../net/net_internal.h"
#include "conv_backward.h"
#include "optimizer.h"

/* The zoo's dropout rate (cc_net_add_dropout takes none). */
#define CC__TRAIN_DROPOUT_P 0.5f
/* PyTorch's batch norm momentum. */
#define CC__TRAIN_BN_MOMENTUM 0.1f

struct cc_trainer {
    cc_net *net;
    int batch;
    int threads;            /* planned at create: the most a call uses */
    int logits;             /* the node the last (softmax) node reads */
    int classes;
    float **value;          /* per node but the input: [batch] outputs */
    const float *input;     /* node 0's value during a call: the caller's */
    float **grad;           /* per node: gradient of its output, or NULL */
    bool *live;             /* per node, during a backward: grad holds a sum */
    bool *needs_grad;       /* per node: a trainable tensor lies upstream */
    cc__conv_train *conv;   /* per node (conv nodes only) */
    float **saved_col;      /* per conv node: the forward's col blocks, or NULL */
    float **bn_saved;       /* per batch norm node: mean[C] then invstd[C] */
    const float **gather;   /* concat scratch: input pointers */
    int *channels;          /*   and their channel counts */
    float **scatter;        /* concat backward scratch: input gradients */
    float *grads;           /* net->weight_floats: gradients at the weights' offsets */
    bool *trainable;        /* per tensor: updated by the optimiser */
    float *workspace;
    size_t workspace_floats;
    cc__optimizer *opt;
    uint64_t seed;
    uint64_t steps;         /* steps taken: the dropout masks' counter */
    int epoch;
    double forward_ms, backward_ms, optimizer_ms;
};

/* Threads a call started now uses: the run's, at most the planned count
 * (the workspace is sized for it). */
static inline int cc__trainer_threads(const cc_trainer *t)
{
    const int threads = cc__run_threads();
    return threads < t->threads ? threads : t->threads;
}

/* Node j's output during a call. */
static inline const float *cc__trainer_value(const cc_trainer *t, int j)
{
    return j == 0 ? t->input : t->value[j];
}

/* Node i's tensor k (0: weight or scale, 1: bias or shift, 2: running mean,
 * 3: running variance) and its gradient. */
static inline float *cc__trainer_tensor(const cc_trainer *t, int i, int k)
{
    return t->net->weights + t->net->tensors[t->net->nodes[i].first_tensor + k].offset;
}
static inline float *cc__trainer_tensor_grad(const cc_trainer *t, int i, int k)
{
    return t->grads + t->net->tensors[t->net->nodes[i].first_tensor + k].offset;
}

/* The output shape of node i for a call on `images` images. */
cc__dims cc__trainer_dims(const cc_trainer *t, int i, int images);

/* Forward over every node but the last (the softmax, whose input are the
 * logits) on `images` images of input; training mode (batch statistics,
 * dropout) or inference mode. */
cc_status cc__trainer_forward(cc_trainer *t, const float *input, int images, bool training);

/* Training-mode forward and loss on a batch (labels checked by the
 * caller), then, when `gradients`, the backward pass into t->grads (the
 * weights and t->steps are left as they are). */
cc_status cc__trainer_gradients(cc_trainer *t, const float *input, const int32_t *labels,
                                bool gradients, float *loss, int *correct);

/* Backward from grad[t->logits] (set by the loss, live) to every weight
 * gradient; grads must be zeroed first. */
void cc__trainer_backward(cc_trainer *t);

/* The workspace floats node i needs (forward and backward). */
size_t cc__trainer_node_workspace(const cc_trainer *t, int i);

#endif
