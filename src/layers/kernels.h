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

typedef struct {
    /* NCHW: output rows [oy0, oy1) of one channel plane [h][w] into
     * out_plane [oh][ow]. Max: NaN wins, padding never does. */
    void (*pool_nchw_rows)(const cc__pool_geom *g, int h, int w, const float *plane,
                           float *out_plane, int oy0, int oy1);
    /* NHWC: output row oy of one image [h][w][c] into out_row [ow][c]. */
    void (*pool_nhwc_row)(const cc__pool_geom *g, int h, int w, int c, const float *image,
                          float *out_row, int oy);
} cc__layer_kernels;

extern const cc__layer_kernels cc__layer_kernels_portable;
extern const cc__layer_kernels cc__layer_kernels_avx2;
extern const cc__layer_kernels cc__layer_kernels_avx512;

/* The table of the widest ISA cc__cpu_isa() allows now. */
const cc__layer_kernels *cc__layer_kernels_get(void);

#endif
