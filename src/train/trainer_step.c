/* One training step (forward, loss, backward, optimiser update) and the
 * inference-mode evaluation, on the buffers planned at create: neither
 * allocates. */
#include <omp.h>
#include <string.h>

#include "../core/denormals.h"
#include "backward.h"
#include "trainer_internal.h"

/* Optimiser updates are cut into spans of this many weights, spread over
 * the threads (an update is element-wise once the step has begun). */
#define UPDATE_SPAN 16384

static cc_status check_labels(const cc_trainer *t, const int32_t *labels, int count,
                              const char *what)
{
    for (int n = 0; n < count; n++)
        if (labels[n] < 0 || labels[n] >= t->classes)
            return cc__fail(CC_ERR_INVALID_ARG, "%s: label %d of image %d is outside 0..%d",
                            what, (int)labels[n], n, t->classes - 1);
    return CC_OK;
}

static cc_status check_call(const cc_trainer *t, const float *input, const int32_t *labels,
                            int count, const char *what)
{
    if (t == NULL || input == NULL || labels == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: %s is NULL", what,
                        t == NULL ? "trainer" : input == NULL ? "input" : "labels");
    if (count < 1 || count > t->batch)
        return cc__fail(CC_ERR_INVALID_ARG, "%s: %d images, the trainer takes 1..%d", what,
                        count, t->batch);
    return check_labels(t, labels, count, what);
}

/* Span u of the trainable tensors' spans, numbered across the tensors in
 * order: its tensor, and its first element in *begin. */
static const cc__tensor *span_at(const cc_trainer *t, size_t u, size_t *begin)
{
    for (int k = 0; k < t->net->tensor_count; k++) {
        if (!t->trainable[k])
            continue;
        const size_t spans = cc__block_count(t->net->tensors[k].count, UPDATE_SPAN);
        if (u < spans) {
            *begin = u * UPDATE_SPAN;
            return &t->net->tensors[k];
        }
        u -= spans;
    }
    return NULL;
}

/* Every trainable span in one parallel loop: one fork and join per step,
 * not one per tensor. */
static void update_all(cc_trainer *t, float lr, int threads)
{
    size_t total = 0;
    for (int k = 0; k < t->net->tensor_count; k++)
        if (t->trainable[k])
            total += cc__block_count(t->net->tensors[k].count, UPDATE_SPAN);
    CC__LAYER_FOR(u, total, total > 1 ? threads : 1, {
        size_t begin = 0;
        const cc__tensor *tensor = span_at(t, u, &begin);
        const size_t offset = tensor->offset + begin;
        cc__optimizer_update(t->opt, t->net->weights + offset, t->grads + offset, offset,
                             cc__block_len(tensor->count, begin, UPDATE_SPAN), lr);
    });
}

static void optimizer_step(cc_trainer *t, int threads)
{
    const cc_net *net = t->net;
    double norm_squared = 0.0;
    for (int k = 0; k < net->tensor_count && cc__optimizer_clips(t->opt); k++)
        if (t->trainable[k])
            norm_squared += cc__sum_squares(t->grads + net->tensors[k].offset,
                                            net->tensors[k].count);
    cc__optimizer_begin_step(t->opt, norm_squared);
    update_all(t, cc__lr_at_epoch(cc__optimizer_params(t->opt), t->epoch), threads);
}

cc_status cc__trainer_gradients(cc_trainer *t, const float *input, const int32_t *labels,
                                bool gradients, float *loss, int *correct)
{
    const int threads = cc__trainer_threads(t);
    double start = omp_get_wtime();
    CC__NET_TRY(cc__trainer_forward(t, input, t->batch, true));
    float *dlogits = gradients ? t->grad[t->logits] : NULL;
    CC__NET_TRY(cc__softmax_xent(t->batch, t->classes, t->value[t->logits], labels, dlogits,
                                 loss, correct, threads));
    double now = omp_get_wtime();
    t->forward_ms += (now - start) * 1e3;
    if (!gradients)
        return CC_OK;
    start = now;
    memset(t->grads, 0, t->net->weight_floats * sizeof(float));
    memset(t->live, 0, (size_t)t->net->node_count * sizeof *t->live);
    t->live[t->logits] = dlogits != NULL;
    cc__trainer_backward(t);
    t->backward_ms += (omp_get_wtime() - start) * 1e3;
    return CC_OK;
}

/* Gradients, then the update, timed. */
static cc_status run_step(cc_trainer *t, const int32_t *labels, int threads, float *loss,
                          int *correct)
{
    CC__NET_TRY(cc__trainer_gradients(t, t->input, labels, true, loss, correct));
    const double start = omp_get_wtime();
    optimizer_step(t, threads);
    t->optimizer_ms += (omp_get_wtime() - start) * 1e3;
    t->steps++;
    return CC_OK;
}

/* Runs `body` under the settings of a colconv run: the team lock, the
 * denormal flushing, BLAS on the call's threads. */
#define IN_RUN(t, threads, status, body)                               \
    do {                                                               \
        const int threads = cc__trainer_threads(t);                    \
        cc__team_lock(threads);                                        \
        const cc__flush_scope flush = cc__flush_begin(threads);        \
        const int blas_previous = cc__blas_threads_begin(threads);     \
        status = (body);                                               \
        cc__blas_threads_end(blas_previous);                           \
        cc__flush_end(flush);                                          \
        cc__team_unlock(threads);                                      \
    } while (0)

cc_status cc_trainer_step(cc_trainer *t, const float *input, const int32_t *labels, float *loss,
                          int *correct)
{
    CC__NET_TRY(check_call(t, input, labels, t != NULL ? t->batch : 0, "trainer_step"));
    t->input = input;
    cc_status status;
    IN_RUN(t, threads, status, run_step(t, labels, threads, loss, correct));
    return status;
}

static cc_status run_evaluate(cc_trainer *t, const int32_t *labels, int count, int threads,
                              float *loss, int *correct)
{
    CC__NET_TRY(cc__trainer_forward(t, t->input, count, false));
    return cc__softmax_xent(count, t->classes, t->value[t->logits], labels, NULL, loss, correct,
                            threads);
}

cc_status cc_trainer_evaluate(cc_trainer *t, const float *input, const int32_t *labels,
                              int count, float *loss, int *correct)
{
    CC__NET_TRY(check_call(t, input, labels, count, "trainer_evaluate"));
    t->input = input;
    cc_status status;
    IN_RUN(t, threads, status, run_evaluate(t, labels, count, threads, loss, correct));
    return status;
}
