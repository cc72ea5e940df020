/* Softmax with cross-entropy, fused: for logits x of one image and its
 * label t, loss = logsumexp(x) - x[t] and dloss/dx = softmax(x) - onehot(t).
 * logsumexp is max + log(sum exp(x - max)) in double, so logits like 1e4
 * give a finite loss and gradient. The mean over the batch divides both by
 * N. The loss is summed over the images in order on the calling thread (a
 * fixed order whatever the thread count); the gradient rows are
 * independent and split over threads. */
#include <math.h>

#include "backward.h"

/* logsumexp of x[0 .. c). */
static double log_sum_exp(const float *x, size_t c)
{
    double max = x[0];
    for (size_t i = 1; i < c; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (size_t i = 0; i < c; i++)
        sum += exp((double)x[i] - max);
    return max + log(sum);
}

/* The index of the first largest of x[0 .. c) (NaN never wins). */
static size_t first_argmax(const float *x, size_t c)
{
    size_t best = 0;
    for (size_t i = 1; i < c; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void gradient_row(const float *x, size_t c, int32_t label, double inv_batch, float *dx)
{
    const double lse = log_sum_exp(x, c);
    for (size_t i = 0; i < c; i++) {
        const double p = exp((double)x[i] - lse);
        dx[i] = (float)((p - (i == (size_t)label ? 1.0 : 0.0)) * inv_batch);
    }
}

cc_status cc__softmax_xent(int batch, int classes, const float *logits, const int32_t *labels,
                           float *dlogits, float *loss, int *correct, int threads)
{
    for (int n = 0; n < batch; n++)
        if (labels[n] < 0 || labels[n] >= classes)
            return cc__fail(CC_ERR_INVALID_ARG,
                            "softmax cross-entropy: label of image %d is %d, not in [0, %d)", n,
                            (int)labels[n], classes);
    const size_t c = (size_t)classes;
    if (dlogits != NULL) {
        const double inv_batch = 1.0 / batch;
        const int nt = cc__parallel_threads(threads, (size_t)batch * c * 16);
        CC__LAYER_FOR(n, (size_t)batch, nt, {
            gradient_row(logits + n * c, c, labels[n], inv_batch, dlogits + n * c);
        });
    }
    double sum = 0.0;
    int hits = 0;
    for (size_t n = 0; n < (size_t)batch; n++) {
        const float *x = logits + n * c;
        sum += log_sum_exp(x, c) - (double)x[labels[n]];
        hits += first_argmax(x, c) == (size_t)labels[n];
    }
    if (loss != NULL)
        *loss = (float)(sum / batch);
    if (correct != NULL)
        *correct = hits;
    return CC_OK;
}
