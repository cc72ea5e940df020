/* The direct convolution's AVX2 + FMA kernels (8 lanes): the vocabulary of
 * direct_body.h mapped to 256-bit intrinsics. Compiled with -mavx2 -mfma;
 * called only when the CPU has both. */
#include <immintrin.h>
#include <stdint.h>

#include "direct_kernels.h"

typedef __m256 dvec;
#define DV CC__DIRECT_LANES_AVX2

/* Lane masks for maskload/maskstore: the 8 ints from index 8 - n have their
 * first n set. */
static const int32_t lane_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i first_lanes(int n)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(lane_masks + 8 - n));
}

static inline dvec dv_zero(void) { return _mm256_setzero_ps(); }
static inline dvec dv_bcast(float x) { return _mm256_set1_ps(x); }
static inline dvec dv_load(const float *p) { return _mm256_loadu_ps(p); }
static inline dvec dv_load_n(const float *p, int n) { return _mm256_maskload_ps(p, first_lanes(n)); }
/* maskload puts q[0..hi-lo) in lanes 0..hi-lo-1 and zeros above; the
 * permutation moves lane i to lane i + lo, lanes below lo taking a zero
 * lane ((i - lo) & 7 >= hi - lo). */
static inline dvec dv_load_range(const float *q, int lo, int hi)
{
    const dvec packed = _mm256_maskload_ps(q, first_lanes(hi - lo));
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i from = _mm256_and_si256(_mm256_sub_epi32(iota, _mm256_set1_epi32(lo)),
                                          _mm256_set1_epi32(7));
    return _mm256_permutevar8x32_ps(packed, from);
}
static inline __m256i strided_lanes(int stride)
{
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                              _mm256_set1_epi32(stride));
}
static inline dvec dv_gather(const float *p, int stride)
{
    return _mm256_i32gather_ps(p, strided_lanes(stride), 4);
}
/* Lanes below lo get negative indices, but are masked off: nothing read. */
static inline dvec dv_gather_range(const float *q, int stride, int lo, int hi)
{
    const __m256i mask = _mm256_andnot_si256(first_lanes(lo), first_lanes(hi));
    const __m256i index = _mm256_sub_epi32(strided_lanes(stride), _mm256_set1_epi32(lo * stride));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), q, index, _mm256_castsi256_ps(mask), 4);
}
static inline void dv_store(float *p, dvec v) { _mm256_storeu_ps(p, v); }
static inline void dv_store_n(float *p, dvec v, int n) { _mm256_maskstore_ps(p, first_lanes(n), v); }
/* dst[j * dst_stride + i] = src[i * src_stride + j] for the first dst_rows
 * j; rows i >= src_rows read as zeros. Unpacks pair the rows within each
 * 128-bit lane, shuffles make 4 x 4 blocks, and the lane permutes put each
 * column's two blocks together. */
static inline void dv_transpose(const float *src, ptrdiff_t src_stride, int src_rows, float *dst,
                                ptrdiff_t dst_stride, int dst_rows)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = i < src_rows ? _mm256_loadu_ps(src + i * src_stride) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    /* r[4g + c], 128-bit lane k: rows 4g .. 4g + 3 of column 4k + c. */
    for (int g = 0; g < 8; g += 4) {
        r[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        r[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        r[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        r[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        t[c] = _mm256_permute2f128_ps(r[c], r[4 + c], 0x20);
        t[4 + c] = _mm256_permute2f128_ps(r[c], r[4 + c], 0x31);
    }
    for (int j = 0; j < dst_rows; j++)
        _mm256_storeu_ps(dst + j * dst_stride, t[j]);
}
static inline dvec dv_fma(dvec a, dvec b, dvec c) { return _mm256_fmadd_ps(a, b, c); }
static inline dvec dv_add(dvec a, dvec b) { return _mm256_add_ps(a, b); }
/* max(0, v) returns v when v is NaN (maxps returns its second operand). */
static inline dvec dv_relu(dvec v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
/* minps, like maxps, returns its second operand when one is NaN. */
static inline dvec dv_relu6(dvec v) { return _mm256_min_ps(_mm256_set1_ps(6.0f), dv_relu(v)); }

#define DB_ISA CC__ISA_AVX2
#define DB_OCVEC_P CC__DIRECT_OCVEC_PIXELS_AVX2
#define DB_DWC_P CC__DIRECT_DWC_PIXELS_AVX2
#define DB_ROWS_M CC__DIRECT_ROWS_OC_AVX2
#define DB_ROWS_W CC__DIRECT_ROWS_VECS_AVX2
#define DB_ROWS_DW_W CC__DIRECT_ROWS_DW_VECS
#define DB_OCVEC_ROW cc__direct_ocvec_row_avx2_6x16
#define DB_DWC_ROW cc__direct_dwc_row_avx2_8x8
#define DB_ROWS_ROW cc__direct_rows_row_avx2_6x16
#define DB_POINTWISE_UNIT cc__direct_pointwise_avx2_6x16
#define DB_DWC_NCHW_UNIT cc__direct_dwc_nchw_unit_avx2_8x8
#define DB_TRANSPOSE cc__direct_transpose_avx2

#include "direct_body.h"
