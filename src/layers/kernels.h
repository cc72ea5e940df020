/* The layer kernels that stream memory, one family per ISA.
 *
 * kernels_body.h holds them as plain C loops written to vectorise (no
 * branch per element; NaN handled by compare-and-select); kernels.c,
 * kernels_avx2.c and kernels_avx512.c each compile it once, with their ISA's
 * flags (CMakeLists.txt), into a cc__layer_kernels table. The layer files
 * (pool.c, ...) validate, split the work over threads and call the table of
 * cc__layer_kernels_get(); an ISA's table must only be used when the CPU has
 * that ISA. Every kernel writes only its own outputs and never allocates
 * (its scratch is on the stack, a few KB), so a kernel's result does not
 * depend on how a run was split over threads. */
#ifndef COLCONV_LAYER_KERNELS_H
#define COLCONV_LAYER_KERNELS_H

#include "layers.h"

/* What the GEMM kernel applies to C as it stores the finished sums:
 * C[i][j] = act(sum + bias + residual[i][j]), bias[j] (per column) or
 * bias[i] (bias_per_row), residual laid out as C (row stride ldc); bias
 * and residual may be NULL; act is NONE, RELU or RELU6 (a curve is a pass
 * of its own). The same additions, in the same order, as the conv
 * epilogue's sweeps (src/conv/epilogue.h), so either rounds alike. */
typedef struct {
    const float *bias;
    bool bias_per_row;
    const float *residual;
    cc_act act;
} cc__gemm_epilogue;

/* The same epilogue for the block of C at row i0, column j0 (C's rows ldc
 * floats apart). */
static inline cc__gemm_epilogue cc__gemm_epilogue_at(const cc__gemm_epilogue *e, size_t i0,
                                                     size_t j0, size_t ldc)
{
    return (cc__gemm_epilogue){e->bias == NULL ? NULL : e->bias + (e->bias_per_row ? i0 : j0),
                               e->bias_per_row,
                               e->residual == NULL ? NULL : e->residual + i0 * ldc + j0, e->act};
}

/* A GEMM kernel of the table (`gemm`, `gemm_last_rows_first`). */
typedef void (*cc__gemm_fn)(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                            size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
                            bool accumulate, const cc__gemm_epilogue *epilogue);

/* A pooling layer with its defaults resolved and its output size. */
typedef struct {
    int kh, kw, sh, sw, pt, pb, pl, pr;
    int oh, ow;
    bool is_max;
    bool include_pad;
} cc__pool_geom;

/* A window along one axis: [begin, end) inside the input, and its extent
 * clipped to the padded input (count_include_pad's divisor factor). */
typedef struct {
    int begin, end, padded;
} cc__window;

static inline cc__window cc__window_at(int o, int stride, int kernel, int pad_before,
                                       int pad_after, int size)
{
    const int64_t start = (int64_t)o * stride - pad_before;
    const int64_t stop = start + kernel;
    const int64_t padded_stop =
        stop < (int64_t)size + pad_after ? stop : (int64_t)size + pad_after;
    return (cc__window){start < 0 ? 0 : (int)start, stop > size ? size : (int)stop,
                        (int)(padded_stop - start)};
}

/* The divisor of an average over the window rows x cols. */
static inline float cc__pool_divisor(const cc__pool_geom *g, cc__window rows, cc__window cols)
{
    if (g->include_pad)
        return (float)rows.padded * (float)cols.padded;
    return (float)(rows.end - rows.begin) * (float)(cols.end - cols.begin);
}

/* Floats of the NCHW pooling row buffer (on the stack): one pass of the
 * vertical reduction holds this many padded input columns. */
#define CC__POOL_ROW_FLOATS 1024
/* Outputs per unit of NCHW pooling work: a plane's output rows go in blocks
 * of about this many outputs (at least one row), so that a small plane is
 * one unit and one large plane still spreads over threads. A unit of
 * stride-1 "same" pooling this size is reduced in one sweep (a stack
 * buffer of this many floats). */
#define CC__POOL_UNIT_OUTPUTS 4096

/* NCHW softmax: pixels per call of softmax_pixels (their max and sum on the
 * stack while the channel loops run over contiguous pixels). */
#define CC__SOFTMAX_PIXELS 64
/* NCHW LRN: pixels per call of lrn_nchw_block at most (a few rows of their
 * squares on the stack; more take a slower loop). */
#define CC__LRN_PIXELS 512

typedef struct {
    /* NCHW: output rows [oy0, oy1) of `planes` consecutive channel planes
     * [h][w] into as many out planes [oh][ow]. Max: NaN wins, padding
     * never does. */
    void (*pool_nchw_rows)(const cc__pool_geom *g, int h, int w, const float *planes_in,
                           float *planes_out, size_t planes, int oy0, int oy1);
    /* NHWC: output row oy of one image [h][w][c] into out_row [ow][c]. */
    void (*pool_nhwc_row)(const cc__pool_geom *g, int h, int w, int c, const float *image,
                          float *out_row, int oy);
    /* Global pooling, NCHW: out[u] = max or mean of input[u][0 .. pixels),
     * u < planes (a NaN wins a max). */
    void (*global_nchw)(bool is_max, const float *input, size_t planes, size_t pixels,
                        float *out);
    /* Global pooling, NHWC: channels [0, len) of one image [pixels][c]
     * (image points at the first of them) into out[len]. */
    void (*global_nhwc)(bool is_max, const float *image, size_t pixels, size_t c, size_t len,
                        float *out);
    /* out[i] = max(0, in[i]) (NaN and -0 kept), i < n; out may be in. */
    void (*relu)(const float *in, float *out, size_t n);
    /* out[i] = tanh(in[i]) and 1 / (1 + e^-in[i]), NaN kept, within 2 ulp;
     * out may be in. */
    void (*tanh)(const float *in, float *out, size_t n);
    void (*sigmoid)(const float *in, float *out, size_t n);
    /* out[i] = a[i] + b[i], then ReLU when relu; out may be a or b. */
    void (*add)(const float *a, const float *b, float *out, size_t n, bool relu);
    /* out[i] = x[i] * mul + add; out may be x. */
    void (*affine)(const float *x, float *out, size_t n, float mul, float add);
    /* out[p][i] = x[p][i] * mul[i] + add[i], p < pixels, i < c, the rows
     * x_stride and out_stride floats apart; out may be x (same strides). */
    void (*affine_channels)(const float *x, size_t x_stride, float *out, size_t out_stride,
                            size_t pixels, size_t c, const float *mul, const float *add);
    /* rows x cols floats from src to dst, rows src_stride and dst_stride
     * floats apart (no overlap). */
    void (*copy_rows)(const float *src, size_t src_stride, float *dst, size_t dst_stride,
                      size_t rows, size_t cols);
    /* y[r] = w[r] . x, r < rows, w [rows][in] row-major. */
    void (*gemv)(const float *w, size_t in, const float *x, float *y, size_t rows);
    /* C[i][j] = (accumulate ? C[i][j] : 0) + sum_p A(i, p) B[p][j], for
     * i < m, j < n, p < k, where A(i, p) = a[i * a_rs + p * a_cs] (A or its
     * transpose read in place) and the rows of B and C are ldb and ldc
     * floats apart (kernels_gemm_body.h; one thread); then `epilogue`
     * (NULL: none) on every element. */
    cc__gemm_fn gemm;
    /* gemm with each panel's blocks of rows from the last up. The first of
     * threads that split C's rows calls it: the hardware prefetchers, which
     * follow its stores along C's rows, then run past its first row, away
     * from the next thread's rows. Going down they fetched the rows the
     * next thread had just written, and it took them back on its next
     * store (src/conv/gemm_unpacked.c). */
    cc__gemm_fn gemm_last_rows_first;
    /* C[i][j] += sum over t < images and p < k of A_t[i][p] B_t[j][p], for
     * i < m, j < n: A_t = a + t * a_image with rows lda floats apart, B_t
     * likewise (one thread). */
    void (*gemm_nt_sum)(size_t m, size_t n, size_t k, size_t images, const float *a,
                        size_t lda, size_t a_image, const float *b, size_t ldb,
                        size_t b_image, float *c, size_t ldc);
    /* Softmax over c contiguous channels of each of `count` pixels. */
    void (*softmax_vectors)(const float *x, float *out, size_t c, size_t count);
    /* Softmax over channels (stride apart) of pixels [0, len) of an NCHW
     * image, len <= CC__SOFTMAX_PIXELS. */
    void (*softmax_pixels)(const float *x, float *out, size_t c, size_t stride, size_t len);
    /* LRN, NCHW: pixels [p0, p0 + len) of every channel of one image
     * [channels][pixels]. */
    void (*lrn_nchw_block)(const cc_lrn_params *p, const float *image, float *out, int channels,
                           size_t pixels, size_t p0, size_t len);
    /* LRN, NHWC: `count` pixels' channel vectors of `channels`. */
    void (*lrn_nhwc)(const cc_lrn_params *p, const float *x, float *out, int channels,
                     size_t count);
} cc__layer_kernels;

extern const cc__layer_kernels cc__layer_kernels_portable;
extern const cc__layer_kernels cc__layer_kernels_avx2;
extern const cc__layer_kernels cc__layer_kernels_avx512;

/* The table of the widest ISA cc__cpu_isa() allows now. */
const cc__layer_kernels *cc__layer_kernels_get(void);

/* The table of an ISA family (one the CPU has). */
const cc__layer_kernels *cc__layer_kernels_of(cc__isa isa);

#endif
