/* Optimisers for the trainer: torch.optim's update rules (PyTorch 1.13,
 * the single-tensor forms of torch/optim/) over spans of one flat weight
 * array, learning-rate schedules and clipping by global norm.
 *
 * State layout: an optimiser created for `floats` weights owns
 * slots * floats floats of state, slot s of weight i at s * floats + i, so
 * a tensor's span [offset, offset + count) of the network's weight array
 * uses the same offsets in every slot. Slots per kind, in order:
 *   SGD       momentum buffer (only when momentum > 0)
 *   Adagrad   sum of squares (starts at initial_accumulator_value)
 *   RMSProp   square average, momentum buffer (momentum > 0), grad average
 *             (centered)
 *   AdaDelta  square average, accumulated delta
 *   Adam(W)   exp_avg, exp_avg_sq
 * Every slot starts at 0 except Adagrad's. The step counter counts
 * cc__optimizer_begin_step calls (torch's state['step']); SGD's first step
 * copies the gradient into the momentum buffer, as torch does when the
 * buffer is None.
 *
 * One step of the trainer: cc__optimizer_begin_step once, then
 * cc__optimizer_update on every trainable span (any order, each once).
 * Updates allocate nothing; spans may be updated from different threads at
 * once when they do not overlap. */
#ifndef COLCONV_TRAIN_OPTIMIZER_H
#define COLCONV_TRAIN_OPTIMIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colconv/train.h"

typedef struct cc__optimizer cc__optimizer;

/* *out = *in with every field left 0 that has a non-zero torch default for
 * the kind filled in (AdaDelta's lr 1.0, AdamW's weight_decay 0.01, betas,
 * eps, alpha, rho, gamma), then validated: CC_ERR_INVALID_ARG naming the field for an unknown kind or
 * schedule, lr <= 0, a negative or non-finite field, momentum, dampening,
 * alpha, rho, beta1 or beta2 outside [0, 1), nesterov without momentum or
 * with dampening, step_size <= 0 for CC_LR_STEP, t_max <= 0 for
 * CC_LR_COSINE. in and out may be the same. */
cc_status cc__optimizer_resolve(const cc_optimizer_params *in, cc_optimizer_params *out);

/* Resolves and validates *params, allocates and initialises the state for
 * `floats` weights. CC_ERR_INVALID_ARG as above, CC_ERR_NOMEM. */
cc_status cc__optimizer_create(const cc_optimizer_params *params, size_t floats,
                               cc__optimizer **opt);
void cc__optimizer_destroy(cc__optimizer *opt);

/* The resolved parameters (defaults filled in). */
const cc_optimizer_params *cc__optimizer_params(const cc__optimizer *opt);

/* Whether the parameters ask for clipping (clip_norm > 0): the trainer then
 * passes the gradients' global sum of squares to cc__optimizer_begin_step. */
bool cc__optimizer_clips(const cc__optimizer *opt);

/* Starts a step: counts it, and when clipping, takes the sum of the squares
 * of every gradient of the step (cc__sum_squares over the spans; ignored
 * otherwise) so that updates scale the gradients by
 * cc__clip_scale(grad_norm_squared, clip_norm). */
void cc__optimizer_begin_step(cc__optimizer *opt, double grad_norm_squared);

/* Updates weights[0, count) from grads[0, count) with state span
 * [offset, offset + count), at learning rate lr (cc__lr_at_epoch). The
 * caller guarantees offset + count <= floats. */
void cc__optimizer_update(cc__optimizer *opt, float *weights, const float *grads, size_t offset,
                          size_t count, float lr);

/* The learning rate at `epoch` (>= 0) of resolved params' schedule:
 * constant lr; StepLR lr * gamma^(epoch / step_size) (integer division);
 * cosine eta_min + (lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2, the
 * closed form of torch's CosineAnnealingLR. */
float cc__lr_at_epoch(const cc_optimizer_params *params, int epoch);

/* torch.nn.utils.clip_grad_norm_'s factor: min(1, clip_norm / (norm +
 * 1e-6)) with norm = sqrt(grad_norm_squared); 1 when clip_norm <= 0. */
float cc__clip_scale(double grad_norm_squared, float clip_norm);

/* Sum of x[i]^2 in double (the global norm is the root of the sum over
 * every span). */
double cc__sum_squares(const float *x, size_t count);

/* The state for saving and restoring: *state (slots * floats floats, see
 * the top; NULL when there are none), *floats its length, *step the step
 * counter (writable, for a load). Any output may be NULL. */
void cc__optimizer_state(cc__optimizer *opt, float **state, size_t *floats, int64_t **step);

#endif
