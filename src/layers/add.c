/* Element-wise sum of two tensors (ResNet's shortcut), with the activation
 * applied to each block while it is still in cache. a, b and output may
 * alias, so nothing here is restrict. */
#include "layers.h"

/* Elements per unit of parallel work; three blocks stay within L1. */
#define ADD_BLOCK 2048

void cc__add_run(const float *a, const float *b, float *output, size_t count,
                 const cc_activation *act, int threads)
{
    const size_t blocks = (count + ADD_BLOCK - 1) / ADD_BLOCK;
    const int nt = cc__layer_threads(threads, count);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        const size_t begin = blk * ADD_BLOCK;
        const size_t len = count - begin < ADD_BLOCK ? count - begin : ADD_BLOCK;
        float *out = output + begin;
        for (size_t i = 0; i < len; i++)
            out[i] = a[begin + i] + b[begin + i];
        if (act != NULL)
            cc__activation_span(act, out, out, len);
    }
}
