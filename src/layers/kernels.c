/* The portable family of the layer kernels (kernels_body.h over the
 * vocabulary of kernels_portable.h) and the choice of family at run time. */
#include "kernels_portable.h"
#define KB_KERNELS cc__layer_kernels_portable
#include "kernels_body.h"

const cc__layer_kernels *cc__layer_kernels_get(void) { return cc__layer_kernels_of(cc__cpu_isa()); }

const cc__layer_kernels *cc__layer_kernels_of(cc__isa isa)
{
    switch (isa) {
    case CC__ISA_AVX512:
        return &cc__layer_kernels_avx512;
    case CC__ISA_AVX2:
        return &cc__layer_kernels_avx2;
    case CC__ISA_SCALAR:
        break;
    }
    return &cc__layer_kernels_portable;
}
