/* The seeded initialisers. The values are defined bit for bit (and written
 * down in docs/weights-format.md so that other tools can reproduce them):
 * one splitmix64 stream, seeded with the seed, runs over the weight tensors
 * (conv and FC weights) in tensor order, element by element; u = (next >> 40)
 * * 2^-24 is uniform in [0, 1) with 24 bits.
 *   Xavier: (float)((2u - 1) * sqrt(6 / (fan_in + fan_out))), one draw each.
 *   He:     (float)(sqrt(-2 ln(1 - u1)) * cos(2 pi u2) * sqrt(2 / fan_in)),
 *           two draws each (Box-Muller's cosine half), computed in double.
 * Other tensors take their neutral values. */
#include <math.h>

#include "net_internal.h"

typedef struct {
    uint64_t state;
} splitmix64;

static uint64_t next(splitmix64 *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double uniform(splitmix64 *rng) { return (double)(next(rng) >> 40) * 0x1p-24; }

static void fill_xavier(splitmix64 *rng, const cc__tensor *t, float *data)
{
    const double limit = sqrt(6.0 / (double)(t->fan_in + t->fan_out));
    for (size_t i = 0; i < t->count; i++)
        data[i] = (float)((2.0 * uniform(rng) - 1.0) * limit);
}

static void fill_he(splitmix64 *rng, const cc__tensor *t, float *data)
{
    const double pi = 3.14159265358979323846;
    const double deviation = sqrt(2.0 / (double)t->fan_in);
    for (size_t i = 0; i < t->count; i++) {
        const double u1 = 1.0 - uniform(rng), u2 = uniform(rng);
        data[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * pi * u2) * deviation);
    }
}

cc_status cc_net_init_weights(cc_net *net, cc_init init, uint64_t seed)
{
    if (net == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_init_weights: net is NULL");
    if (init != CC_INIT_HE && init != CC_INIT_XAVIER)
        return cc__fail(CC_ERR_INVALID_ARG, "net_init_weights: init %d is not a cc_init",
                        (int)init);
    float *weights = cc__weights_neutral(net);
    if (weights == NULL)
        return CC_ERR_NOMEM;
    splitmix64 rng = {seed};
    for (int i = 0; i < net->tensor_count; i++) {
        const cc__tensor *t = &net->tensors[i];
        if (t->role != CC__TENSOR_WEIGHT)
            continue;
        if (init == CC_INIT_HE)
            fill_he(&rng, t, weights + t->offset);
        else
            fill_xavier(&rng, t, weights + t->offset);
    }
    return cc__net_commit_weights(net, weights);
}
