/* colconv: training a network: backward passes, optimisers, one step per call.
 *
 * Lifecycle: build a network's graph (cc_net_create + cc_net_add_*, or the
 * zoo) and give it weights as for inference (cc_net_build is not needed and
 * not used: a trainer makes its own unfused plan). cc_trainer_create plans
 * every buffer a step needs (activations kept for the backward pass, their
 * gradients, the weight gradients and the optimiser state) and allocates
 * them once; cc_trainer_step then allocates nothing. The network's last node
 * must be a softmax: the step computes softmax with cross-entropy fused
 * (log-sum-exp), the loss being the mean over the batch. The trainer updates
 * the network's weights in place, so cc_net_save_weights saves what it
 * learned and an inference build of the same network gives the same
 * outputs. While a trainer exists the network must not be built, run or
 * changed except through the trainer; destroy the trainer first.
 *
 * Modes: batch norm uses batch statistics and updates its running mean and
 * variance as PyTorch does (momentum 0.1, unbiased variance for the running
 * estimate); dropout drops with a mask drawn from the trainer's seed and
 * scales the kept values by 1 / (1 - p) (p = 0.5 for the zoo's dropouts).
 * cc_trainer_evaluate runs in inference mode (running statistics, no
 * dropout) and changes nothing.
 *
 * Optimisers follow torch.optim's update rules and defaults. */
#ifndef COLCONV_TRAIN_H
#define COLCONV_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "colconv/export.h"
#include "colconv/net.h"
#include "colconv/status.h"

CC_EXTERN_C_BEGIN

typedef enum {
    CC_OPT_SGD = 0,  /* with momentum > 0: PyTorch's momentum form; nesterov optional */
    CC_OPT_ADAGRAD,
    CC_OPT_RMSPROP,
    CC_OPT_ADADELTA,
    CC_OPT_ADAM,
    CC_OPT_ADAMW     /* Adam with decoupled weight decay */
} cc_optimizer_kind;

typedef enum {
    CC_LR_CONSTANT = 0,
    CC_LR_STEP,      /* lr * gamma^(epoch / step_size), as torch's StepLR */
    CC_LR_COSINE     /* eta_min + (lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2 */
} cc_lr_schedule;

/* Fields left 0 take torch.optim's default for the kind where it has a
 * non-zero one (cc_optimizer_defaults fills them all). */
typedef struct {
    cc_optimizer_kind kind;
    float lr;            /* required, > 0 (AdaDelta: PyTorch's default 1.0) */
    float weight_decay;  /* L2 added to the gradient; AdamW: decoupled */
    float momentum;      /* SGD and RMSProp */
    float dampening;     /* SGD */
    int nesterov;        /* SGD: needs momentum > 0 and dampening 0 */
    float beta1, beta2;  /* Adam, AdamW (0.9, 0.999) */
    float eps;           /* Adam(W) 1e-8, RMSProp 1e-8, Adagrad 1e-10, AdaDelta 1e-6 */
    float alpha;         /* RMSProp smoothing (0.99) */
    int centered;        /* RMSProp */
    float rho;           /* AdaDelta (0.9) */
    float lr_decay;      /* Adagrad */
    float initial_accumulator_value; /* Adagrad */
    cc_lr_schedule schedule;
    int step_size;       /* CC_LR_STEP: epochs per decay */
    float gamma;         /* CC_LR_STEP: factor (0.1) */
    int t_max;           /* CC_LR_COSINE: epochs of the half period */
    float eta_min;       /* CC_LR_COSINE */
    float clip_norm;     /* > 0: clip the gradients' global L2 norm to this */
} cc_optimizer_params;

/* Fills *params with torch.optim's defaults for `kind` and learning rate lr. */
CC_API void cc_optimizer_defaults(cc_optimizer_kind kind, float lr, cc_optimizer_params *params);

typedef struct cc_trainer cc_trainer;

/* Plans and allocates a training run of `net` (see the top) for batches of
 * `batch` images (the network's batch size is ignored). seed drives dropout
 * masks. CC_ERR_INVALID_ARG for a network without weights, whose last node
 * is not a softmax, bad optimiser parameters; CC_ERR_NOMEM. */
CC_API cc_status cc_trainer_create(cc_net *net, int batch, const cc_optimizer_params *params,
                                   uint64_t seed, cc_trainer **trainer);
CC_API void cc_trainer_destroy(cc_trainer *trainer);

/* One step on `batch` images (the network's input layout) and their labels
 * (0 <= label < classes): forward, loss, backward, optimiser update. *loss
 * (may be NULL) is the mean cross-entropy before the update; *correct (may
 * be NULL) counts the images whose largest output is their label.
 * CC_ERR_INVALID_ARG for a label out of range. Allocates nothing. */
CC_API cc_status cc_trainer_step(cc_trainer *trainer, const float *input, const int32_t *labels,
                                 float *loss, int *correct);

/* Inference-mode forward pass on up to `batch` images: mean loss and count of
 * correct predictions; nothing changes. */
CC_API cc_status cc_trainer_evaluate(cc_trainer *trainer, const float *input,
                                     const int32_t *labels, int count, float *loss, int *correct);

/* The gradient of the last step for tensor `name` (count = its element count). */
CC_API cc_status cc_trainer_get_gradient(const cc_trainer *trainer, const char *name,
                                         float *data, size_t count);

/* The learning-rate schedule's epoch (0 at creation); the rate now in use. */
CC_API cc_status cc_trainer_set_epoch(cc_trainer *trainer, int epoch);
CC_API float cc_trainer_learning_rate(const cc_trainer *trainer);

/* Milliseconds spent since creation in the forward passes (loss included),
 * the backward passes and the optimiser updates of cc_trainer_step. */
CC_API cc_status cc_trainer_times(const cc_trainer *trainer, double *forward_ms,
                                  double *backward_ms, double *optimizer_ms);

/* Saves / restores the weights, the optimiser state (moments, step count),
 * the epoch and the dropout generator, so that training resumes exactly.
 * Written atomically (a crash leaves the old file or the new one).
 * CC_ERR_IO / CC_ERR_FORMAT as for weights files; a failed load changes
 * nothing. The weights alone are saved with cc_net_save_weights. */
CC_API cc_status cc_trainer_save(const cc_trainer *trainer, const char *path);
CC_API cc_status cc_trainer_load(cc_trainer *trainer, const char *path);

CC_EXTERN_C_END

#endif
