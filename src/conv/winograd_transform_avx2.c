/* Winograd's tile transforms compiled with -mavx2 -mfma (two 8-lane vectors
 * per line of 16 lanes); called only when the CPU has both. */
#define WT_NAME(x) x##_avx2
#define WT_ISA CC__ISA_AVX2
#include "winograd_transform_body.h"
