/* Dropout in training mode (inverted: kept values scaled by 1 / (1 - p)).
 * The mask is counter-based: element i's draw is the i-th output of
 * splitmix64 started at the key (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", 2014), so any element's draw is computed
 * on its own: threads split the work freely, and the backward draws the mask
 * again instead of storing it. */
#include "backward.h"

#define GOLDEN_GAMMA UINT64_C(0x9E3779B97F4A7C15)
/* Elements per unit of parallel work. */
#define DROPOUT_BLOCK 4096

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t cc__dropout_key(uint64_t seed, uint64_t node, uint64_t step)
{
    return mix64(mix64(mix64(seed + GOLDEN_GAMMA) ^ node) + GOLDEN_GAMMA * (step + 1));
}

cc_status cc__dropout_check(float p)
{
    if (!(p >= 0.0f && p <= 1.0f))
        return cc__fail(CC_ERR_INVALID_ARG, "dropout: p must be in [0, 1] (got %g)", (double)p);
    return CC_OK;
}

/* The factor of element i: 0 when dropped, else scale. */
static inline float mask_at(uint64_t key, size_t i, double p, float scale)
{
    const uint64_t r = mix64(key + GOLDEN_GAMMA * ((uint64_t)i + 1));
    const double u = (double)(r >> 11) * 0x1.0p-53;
    return u < p ? 0.0f : scale;
}

/* out[i] (+)= mask(begin + i) * in[i], i < len. */
static void apply_mask(double p, uint64_t key, size_t begin, const float *in, float *out,
                       size_t len, bool accumulate)
{
    /* p = 1 drops everything (1 / (1 - p) would be inf, and inf * 0 NaN). */
    const float scale = p >= 1.0 ? 0.0f : (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < len; i++) {
        const float v = mask_at(key, begin + i, p, scale) * in[i];
        out[i] = accumulate ? out[i] + v : v;
    }
}

static void masked(float p, uint64_t key, const float *in, float *out, size_t count,
                   bool accumulate, int threads)
{
    const size_t blocks = cc__block_count(count, DROPOUT_BLOCK);
    const int nt = cc__parallel_threads(threads, count * 8);
    CC__LAYER_FOR(b, blocks, nt, {
        const size_t begin = b * DROPOUT_BLOCK;
        apply_mask((double)p, key, begin, in + begin, out + begin,
                   cc__block_len(count, begin, DROPOUT_BLOCK), accumulate);
    });
}

void cc__dropout_forward(float p, uint64_t key, const float *input, float *output, size_t count,
                         int threads)
{
    masked(p, key, input, output, count, false, threads);
}

void cc__dropout_backward(float p, uint64_t key, const float *dy, float *dx, size_t count,
                          bool accumulate, int threads)
{
    masked(p, key, dy, dx, count, accumulate, threads);
}
