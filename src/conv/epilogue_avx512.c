/* The epilogue's row sweeps compiled with AVX-512 (16 lanes); called only
 * when the operator's ISA is AVX-512. */
#define EP_NAME(x) x##_avx512
#define EP_ISA CC__ISA_AVX512
#include "epilogue_body.h"
