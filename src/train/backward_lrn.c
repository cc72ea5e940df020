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

#include "backward.h"

#define PIXEL_BLOCK 16

size_t cc__lrn_backward_workspace(const cc__dims *in, int threads)
{
    return (size_t)(threads < 1 ? 1 : threads) * 2 * (size_t)in->c * PIXEL_BLOCK;
}

/* One unit: `len` pixels, element (ch, q) at ch * cs + q * ps. power and
 * term are [c][PIXEL_BLOCK]. The loops run over the unit's pixels
 * innermost (each pixel's window sums in a lane), so that they vectorise. */
typedef struct {
    const cc_lrn_params *p;
    int c;
    size_t cs, ps, len;
    float *power, *term;
} lrn_unit;

/* sum[q] += sign * v[q]^2 for the unit's pixels of channel ch. */
static void slide_squares(const lrn_unit *u, const float *x, int ch, double sign, double *sum)
{
    const float *v = x + (size_t)ch * u->cs;
    for (size_t q = 0; q < u->len; q++)
        sum[q] += sign * ((double)v[q * u->ps] * v[q * u->ps]);
}

/* out[q] = s[q]^-beta, q < n, by square roots for the common betas (as
 * the forward), powf otherwise; the choice outside the loops, which then
 * vectorise (double pow and divisions had taken nearly all the time). */
static void powers(const float *s, float beta, float *out, size_t n)
{
    if (beta == 0.75f)
        for (size_t q = 0; q < n; q++)
            out[q] = 1.0f / sqrtf(s[q] * sqrtf(s[q]));
    else if (beta == 0.5f)
        for (size_t q = 0; q < n; q++)
            out[q] = 1.0f / sqrtf(s[q]);
    else if (beta == 1.0f)
        for (size_t q = 0; q < n; q++)
            out[q] = 1.0f / s[q];
    else
        for (size_t q = 0; q < n; q++)
            out[q] = powf(s[q], -beta);
}

/* power = s^-beta and term = dy x s^(-beta-1) of every (channel, pixel). */
static void unit_terms(const lrn_unit *u, const float *x, const float *dy)
{
    const int c = u->c, before = u->p->size / 2, after = (u->p->size - 1) / 2;
    const double scale = (double)u->p->alpha / u->p->size, k = u->p->k;
    const float beta = u->p->beta;
    double sum[PIXEL_BLOCK] = {0};
    for (int ch = 0; ch < after && ch < c; ch++)
        slide_squares(u, x, ch, 1.0, sum);
    for (int ch = 0; ch < c; ch++) {
        /* Slide window(ch - 1) to window(ch): add ch + after, drop ch - before - 1. */
        if (ch + after < c)
            slide_squares(u, x, ch + after, 1.0, sum);
        if (ch - before - 1 >= 0)
            slide_squares(u, x, ch - before - 1, -1.0, sum);
        const float *xc = x + (size_t)ch * u->cs, *dc = dy + (size_t)ch * u->cs;
        float *power = u->power + (size_t)ch * PIXEL_BLOCK;
        float *term = u->term + (size_t)ch * PIXEL_BLOCK;
        float base[PIXEL_BLOCK];
        for (size_t q = 0; q < u->len; q++)
            base[q] = (float)(k + scale * sum[q]);
        powers(base, beta, power, u->len);
        for (size_t q = 0; q < u->len; q++)
            term[q] = dc[q * u->ps] * xc[q * u->ps] * (power[q] / base[q]);
    }
}

/* sum[q] += sign * term[ch][q]. */
static void slide_terms(const lrn_unit *u, int ch, double sign, double *sum)
{
    const float *t = u->term + (size_t)ch * PIXEL_BLOCK;
    for (size_t q = 0; q < u->len; q++)
        sum[q] += sign * t[q];
}

static void unit_gradient(const lrn_unit *u, const float *x, const float *dy, float *dx,
                          bool accumulate)
{
    const int c = u->c, before = u->p->size / 2, after = (u->p->size - 1) / 2;
    const double factor = 2.0 * u->p->alpha * u->p->beta / u->p->size;
    /* Sum of term over channels [j - after, j + before]. */
    double sum[PIXEL_BLOCK] = {0};
    for (int ch = 0; ch < before && ch < c; ch++)
        slide_terms(u, ch, 1.0, sum);
    for (int j = 0; j < c; j++) {
        if (j + before < c)
            slide_terms(u, j + before, 1.0, sum);
        if (j - after - 1 >= 0)
            slide_terms(u, j - after - 1, -1.0, sum);
        const float *xj = x + (size_t)j * u->cs, *dj = dy + (size_t)j * u->cs;
        float *out = dx + (size_t)j * u->cs;
        const float *power = u->power + (size_t)j * PIXEL_BLOCK;
        for (size_t q = 0; q < u->len; q++) {
            const float g = (float)((double)dj[q * u->ps] * power[q] -
                                    factor * xj[q * u->ps] * sum[q]);
            out[q * u->ps] = accumulate ? out[q * u->ps] + g : g;
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
    const int nt = cc__parallel_threads(threads, cc__dims_count(in) * (window + 16));
    CC__PARALLEL_FOR_SCHEDULE(size_t, u, units, thread, nt, static, {
        float *slice = workspace + (size_t)thread * 2 * c * PIXEL_BLOCK;
        const size_t p0 = (u % blocks) * PIXEL_BLOCK;
        const size_t first = nchw ? (u / blocks) * c * pixels + p0 : p0 * c;
        const lrn_unit unit = {p, in->c, nchw ? pixels : 1, nchw ? 1 : c,
                               cc__block_len(span, p0, PIXEL_BLOCK), slice,
                               slice + c * PIXEL_BLOCK};
        unit_terms(&unit, input + first, dy + first);
        unit_gradient(&unit, input + first, dy + first, dx + first, accumulate);
    });
}
