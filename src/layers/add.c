/* Element-wise sum of two tensors (ResNet's shortcut), with the activation
 * applied to each block while it is still in cache. a, b and output may
 * alias, so nothing here is restrict. */
#include "kernels.h"

/* Elements per unit of parallel work; three blocks stay within L1. */
#define ADD_BLOCK 2048

void cc__add_run(const float *a, const float *b, float *output, size_t count,
                 const cc_activation *act, int threads)
{
    const cc__layer_kernels *k = cc__layer_kernels_get();
    /* ReLU in the same sweep as the sum; other activations after it. */
    const bool relu = act != NULL && act->kind == CC_ACTIVATION_RELU;
    const size_t blocks = cc__block_count(count, ADD_BLOCK);
    const int nt = cc__parallel_threads(threads, count);
    CC__LAYER_FOR(blk, blocks, nt, {
        const size_t begin = blk * ADD_BLOCK;
        const size_t len = cc__block_len(count, begin, ADD_BLOCK);
        float *out = output + begin;
        k->add(a + begin, b + begin, out, len, relu);
        if (act != NULL && !relu)
            cc__activation_span(act, out, out, len);
    });
}
