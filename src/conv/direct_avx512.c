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
/* dst[j * dst_stride + i] = src[i * src_stride + j] for the first dst_rows
 * j; rows i >= src_rows read as zeros. Unpacks pair the rows within each
 * 128-bit lane, shuffles make 4 x 4 blocks, and the 128-bit lane shuffles
 * put each column's four blocks together. */
static inline void dv_transpose(const float *src, ptrdiff_t src_stride, int src_rows, float *dst,
                                ptrdiff_t dst_stride, int dst_rows)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < src_rows ? _mm512_loadu_ps(src + i * src_stride) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* r[4g + c], 128-bit lane k: rows 4g .. 4g + 3 of column 4k + c. */
    for (int g = 0; g < 16; g += 4) {
        r[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        r[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        r[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        r[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        const __m512 x0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        const __m512 x1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        const __m512 x2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        const __m512 x3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        t[c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
        t[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
    }
    for (int j = 0; j < dst_rows; j++)
        _mm512_storeu_ps(dst + j * dst_stride, t[j]);
}
static inline dvec dv_fma(dvec a, dvec b, dvec c) { return _mm512_fmadd_ps(a, b, c); }
static inline dvec dv_add(dvec a, dvec b) { return _mm512_add_ps(a, b); }
/* max(0, v) returns v when v is NaN (maxps returns its second operand). */
static inline dvec dv_relu(dvec v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
/* minps, like maxps, returns its second operand when one is NaN. */
static inline dvec dv_relu6(dvec v) { return _mm512_min_ps(_mm512_set1_ps(6.0f), dv_relu(v)); }

#define DB_ISA CC__ISA_AVX512
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
#define DB_TRANSPOSE cc__direct_transpose_avx512

#include "direct_body.h"
