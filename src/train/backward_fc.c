/* Fully connected backward. With dy [N][O], x [N][I] and W [O][I]:
 *   dx = dy W          (N x I: cc__sgemm in blocks of input columns)
 *   dW += dy^T x       (O x I: cc__sgemm_trans in blocks of output rows)
 *   db += column sums of dy
 * Each block is one single-threaded BLAS call, as in the forward, so the
 * result does not depend on the thread count. An NHWC image flattens in
 * (h, w, c) order while W's columns are in (c, h, w) order (src/net/pack.c
 * permutes W for the forward); here x is permuted to (c, h, w) in the
 * workspace instead, and dx computed in (c, h, w) order there, then
 * permuted back. */
#include "../conv/gemm.h"
#include "backward.h"

/* Rows (dW) or columns (dx) per unit of work. */
#define FC_BLOCK 128

static bool needs_permute(const cc__dims *in, cc_layout layout)
{
    return layout == CC_NHWC && (in->h > 1 || in->w > 1);
}

size_t cc__fc_backward_workspace(const cc__dims *in, cc_layout layout)
{
    return needs_permute(in, layout) ? cc__dims_count(in) : 0;
}

/* One image: [h][w][c] -> [c][h][w] (to_chw) or back, adding when accumulate. */
static void permute_image(const cc__dims *in, const float *src, float *dst, bool to_chw,
                          bool accumulate)
{
    const size_t c = (size_t)in->c, hw = (size_t)in->h * (size_t)in->w;
    for (size_t p = 0; p < hw; p++)
        for (size_t ch = 0; ch < c; ch++) {
            const size_t hwc = p * c + ch, chw = ch * hw + p;
            const float v = src[to_chw ? hwc : chw];
            float *d = dst + (to_chw ? chw : hwc);
            *d = accumulate ? *d + v : v;
        }
}

static void permute_batch(const cc__dims *in, const float *src, float *dst, bool to_chw,
                          bool accumulate, int nt)
{
    const size_t image = cc__dims_count(in) / (size_t)in->n;
    CC__LAYER_FOR(n, (size_t)in->n, nt, {
        permute_image(in, src + n * image, dst + n * image, to_chw, accumulate);
    });
}

/* dW rows [o0, o0 + len) += dy[:, o0 ..]^T x, and their bias sums. */
static void weight_block(size_t batch, size_t inputs, size_t outputs, size_t o0, size_t len,
                         const float *x, const float *dy, float *dweights, float *dbias)
{
    cc__sgemm_trans(true, false, len, inputs, batch, dy + o0, outputs, x, inputs, 1.0f,
                    dweights + o0 * inputs, inputs);
    if (dbias == NULL)
        return;
    for (size_t o = o0; o < o0 + len; o++) {
        float sum = 0.0f;
        for (size_t n = 0; n < batch; n++)
            sum += dy[n * outputs + o];
        dbias[o] += sum;
    }
}

void cc__fc_backward(const cc__dims *in, cc_layout layout, int outputs, const float *weights,
                     const float *input, const float *dy, float *dx, float *dweights,
                     float *dbias, bool accumulate, float *workspace, int threads)
{
    const size_t batch = (size_t)in->n, out = (size_t)outputs;
    const size_t inputs = cc__dims_count(in) / batch;
    const bool permute = needs_permute(in, layout);
    const int nt = cc__parallel_threads(threads, batch * inputs * out);
    const int previous = cc__blas_threads_begin(1);
    const float *x = input;
    if (permute) {
        permute_batch(in, input, workspace, true, false, nt);
        x = workspace;
    }
    CC__LAYER_FOR(b, cc__block_count(out, FC_BLOCK), nt, {
        const size_t o0 = b * FC_BLOCK;
        weight_block(batch, inputs, out, o0, cc__block_len(out, o0, FC_BLOCK), x, dy, dweights,
                     dbias);
    });
    if (dx != NULL) {
        /* Permuted: dx in (c, h, w) order into the workspace (x is no longer
         * needed), then into dx. */
        float *target = permute ? workspace : dx;
        const float beta = accumulate && !permute ? 1.0f : 0.0f;
        CC__LAYER_FOR(b, cc__block_count(inputs, FC_BLOCK), nt, {
            const size_t i0 = b * FC_BLOCK;
            cc__sgemm(batch, cc__block_len(inputs, i0, FC_BLOCK), out, dy, out, weights + i0,
                      inputs, beta, target + i0, inputs);
        });
        if (permute)
            permute_batch(in, workspace, dx, false, accumulate, nt);
    }
    cc__blas_threads_end(previous);
}
