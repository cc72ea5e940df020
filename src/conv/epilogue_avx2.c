/* The epilogue's row sweeps compiled with AVX2 (8 lanes); called only when
 * the operator's ISA is AVX2. */
#define EP_NAME(x) x##_avx2
#define EP_ISA CC__ISA_AVX2
#include "epilogue_body.h"
