/* Winograd's tile transforms compiled with -mavx512f (one 16-lane vector per
 * line of 16 lanes); called only when the CPU has AVX-512. */
#define WT_NAME(x) x##_avx512
#define WT_ISA CC__ISA_AVX512
#include "winograd_transform_body.h"
