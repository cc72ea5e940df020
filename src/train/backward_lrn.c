/* LRN backward. With s_j = k + alpha/size sum_{c in window(j)} x_c^2 and
 * out_j = x_j s_j^-beta (window(j) = [j - size/2, j + (size-1)/2] clipped,
 * layers.h):
 *   dx_j = dy_j s_j^-beta
 *        - 2 alpha beta / size * x_j * sum_{c: j in window(c)} dy_c x_c s_c^(-beta-1)
 * and j is in window(c) exactly when c is in [j - (size-1)/2, j + size/2].
 * Both window sums slide along the channels in double. A unit of work is
 * PIXEL_BLOCK pixels; its s^-beta and dy x s^(-beta-1) per (channel, pixel)
 * go to the calling thread's slice of the workspace. */
#include <math.h>
#include <omp.h>

#include "backward.h"

#define PIXEL_BLOCK 16

size_t cc__lrn_backward_workspace(const cc__dims *in, int threads)
{
    return (size_t)(threads < 1 ? 1 : threads) * 2 * (size_t)in->c * PIXEL_BLOCK;
}

/* One unit: `len` pixels, element (ch, p) at ch * cs + p * ps. power and
 * term are [c][PIXEL_BLOCK]. */
typedef struct {
    const cc_lrn_params *p;
    int c;
    size_t cs, ps, len;
    float *power, *term;
} lrn_unit;

static void unit_terms(const lrn_unit *u, const float *x, const float *dy)
{
    const int c = u->c, before = u->p->size / 2, after = (u->p->size - 1) / 2;
    const double scale = (double)u->p->alpha / u->p->size, beta = u->p->beta;
    for (size_t q = 0; q < u->len; q++) {
        double sum = 0.0;
        for (int ch = 0; ch < after && ch < c; ch++)
            sum += (double)x[ch * u->cs + q * u->ps] * x[ch * u->cs + q * u->ps];
        for (int ch = 0; ch < c; ch++) {
            /* Slide window(ch - 1) to window(ch): add ch + after, drop ch - before - 1. */
            if (ch + after < c) {
                const double v = x[(size_t)(ch + after) * u->cs + q * u->ps];
                sum += v * v;
            }
            if (ch - before - 1 >= 0) {
                const double v = x[(size_t)(ch - before - 1) * u->cs + q * u->ps];
                sum -= v * v;
            }
            const double s = (double)u->p->k + scale * sum;
            const size_t i = (size_t)ch * u->cs + q * u->ps;
            const double power = pow(s, -beta);
            u->power[(size_t)ch * PIXEL_BLOCK + q] = (float)power;
            u->term[(size_t)ch * PIXEL_BLOCK + q] = (float)((double)dy[i] * x[i] * power / s);
        }
    }
}

static void unit_gradient(const lrn_unit *u, const float *x, const float *dy, float *dx,
                          bool accumulate)
{
    const int c = u->c, before = u->p->size / 2, after = (u->p->size - 1) / 2;
    const double factor = 2.0 * u->p->alpha * u->p->beta / u->p->size;
    for (size_t q = 0; q < u->len; q++) {
        /* Sum of term over channels [j - after, j + before]. */
        double sum = 0.0;
        for (int ch = 0; ch < before && ch < c; ch++)
            sum += u->term[(size_t)ch * PIXEL_BLOCK + q];
        for (int j = 0; j < c; j++) {
            if (j + before < c)
                sum += u->term[(size_t)(j + before) * PIXEL_BLOCK + q];
            if (j - after - 1 >= 0)
                sum -= u->term[(size_t)(j - after - 1) * PIXEL_BLOCK + q];
            const size_t i = (size_t)j * u->cs + q * u->ps;
            const float g = (float)((double)dy[i] * u->power[(size_t)j * PIXEL_BLOCK + q] -
                                    factor * x[i] * sum);
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }
}

void cc__lrn_backward(const cc__dims *in, cc_layout layout, const cc_lrn_params *p,
                      const float *input, const float *dy, float *dx, bool accumulate,
                      float *workspace, int threads)
{
    const size_t pixels = (size_t)in->h * (size_t)in->w, c = (size_t)in->c;
    const bool nchw = layout == CC_NCHW;
    /* NCHW: units of pixels of one image; NHWC: of the whole batch's pixels. */
    const size_t span = nchw ? pixels : (size_t)in->n * pixels;
    const size_t blocks = cc__block_count(span, PIXEL_BLOCK);
    const size_t units = nchw ? (size_t)in->n * blocks : blocks;
    const size_t window = (size_t)p->size < c ? (size_t)p->size : c;
    const int nt = cc__layer_threads(threads, cc__dims_count(in) * (window + 16));
    CC__LAYER_FOR(u, units, nt, {
        /* On one thread the loop runs on the caller's, whose number in a
         * host's team may exceed the workspace's slices. */
        const size_t slot = nt > 1 ? (size_t)omp_get_thread_num() : 0;
        float *slice = workspace + slot * 2 * c * PIXEL_BLOCK;
        const size_t p0 = (u % blocks) * PIXEL_BLOCK;
        const size_t first = nchw ? (u / blocks) * c * pixels + p0 : p0 * c;
        const lrn_unit unit = {p, in->c, nchw ? pixels : 1, nchw ? 1 : c,
                               cc__block_len(span, p0, PIXEL_BLOCK), slice,
                               slice + c * PIXEL_BLOCK};
        unit_terms(&unit, input + first, dy + first);
        unit_gradient(&unit, input + first, dy + first, dx + first, accumulate);
    });
}
