/* The direct convolution's AVX-512F kernels (16 lanes): the vocabulary of
 * direct_body.h mapped to 512-bit intrinsics, with mask registers for the
 * partial vectors. Compiled with -mavx512f; called only when the CPU has it. */
#include <immintrin.h>

#include "direct_kernels.h"

typedef __m512 dvec;
#define DV CC__DIRECT_LANES_AVX512

static inline __mmask16 first_lanes(int n) { return (__mmask16)((1u << n) - 1u); }

static inline dvec dv_zero(void) { return _mm512_setzero_ps(); }
static inline dvec dv_bcast(float x) { return _mm512_set1_ps(x); }
static inline dvec dv_load(const float *p) { return _mm512_loadu_ps(p); }
static inline dvec dv_load_n(const float *p, int n) { return _mm512_maskz_loadu_ps(first_lanes(n), p); }
static inline __mmask16 lane_range(int lo, int hi)
{
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
/* expandload fills the lanes of the mask, in order, from q[0..hi-lo). */
static inline dvec dv_load_range(const float *q, int lo, int hi)
{
    return _mm512_maskz_expandloadu_ps(lane_range(lo, hi), q);
}
static inline __m512i strided_lanes(int stride)
{
    return _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(stride));
}
static inline dvec dv_gather(const float *p, int stride)
{
    return _mm512_i32gather_ps(strided_lanes(stride), p, 4);
}
/* Lanes below lo get negative indices, but are masked off: nothing read. */
static inline dvec dv_gather_range(const float *q, int stride, int lo, int hi)
{
    const __m512i index = _mm512_sub_epi32(strided_lanes(stride), _mm512_set1_epi32(lo * stride));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lane_range(lo, hi), index, q, 4);
}
static inline void dv_store(float *p, dvec v) { _mm512_storeu_ps(p, v); }
static inline void dv_store_n(float *p, dvec v, int n) { _mm512_mask_storeu_ps(p, first_lanes(n), v); }
static inline dvec dv_fma(dvec a, dvec b, dvec c) { return _mm512_fmadd_ps(a, b, c); }
static inline dvec dv_add(dvec a, dvec b) { return _mm512_add_ps(a, b); }
/* max(0, v) returns v when v is NaN (maxps returns its second operand). */
static inline dvec dv_relu(dvec v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }

#define DB_OCVEC_P CC__DIRECT_OCVEC_PIXELS_AVX512
#define DB_DWC_P CC__DIRECT_DWC_PIXELS_AVX512
#define DB_ROWS_M CC__DIRECT_ROWS_OC_AVX512
#define DB_ROWS_W CC__DIRECT_ROWS_VECS_AVX512
#define DB_ROWS_DW_W CC__DIRECT_ROWS_DW_VECS
#define DB_OCVEC_ROW cc__direct_ocvec_row_avx512_12x32
#define DB_DWC_ROW cc__direct_dwc_row_avx512_8x16
#define DB_ROWS_ROW cc__direct_rows_row_avx512_8x48
#define DB_POINTWISE_UNIT cc__direct_pointwise_avx512_8x48
#define DB_DWC_NCHW_UNIT cc__direct_dwc_nchw_unit_avx512_8x16

#include "direct_body.h"
