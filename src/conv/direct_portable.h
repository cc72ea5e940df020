/* The portable vocabulary of direct_body.h: a vector is a struct of DV
 * floats (DV defined by the includer) and every operation a loop over its
 * lanes, which the compiler vectorises for whatever the build targets. Used
 * by direct.c for the portable family and by the tests to emulate the
 * AVX-512 family's tiles on CPUs without AVX-512. */
#ifndef COLCONV_DIRECT_PORTABLE_H
#define COLCONV_DIRECT_PORTABLE_H

#include <stddef.h>

typedef struct {
    float lane[DV];
} dvec;

static inline dvec dv_bcast(float x)
{
    dvec r;
    for (int i = 0; i < DV; i++)
        r.lane[i] = x;
    return r;
}
static inline dvec dv_zero(void) { return dv_bcast(0.0f); }
static inline dvec dv_load_n(const float *p, int n)
{
    dvec r = dv_zero();
    for (int i = 0; i < n; i++)
        r.lane[i] = p[i];
    return r;
}
static inline dvec dv_load(const float *p) { return dv_load_n(p, DV); }
static inline dvec dv_load_range(const float *q, int lo, int hi)
{
    dvec r = dv_zero();
    for (int i = lo; i < hi; i++)
        r.lane[i] = q[i - lo];
    return r;
}
static inline dvec dv_gather_range(const float *q, int stride, int lo, int hi)
{
    dvec r = dv_zero();
    for (int i = lo; i < hi; i++)
        r.lane[i] = q[(ptrdiff_t)(i - lo) * stride];
    return r;
}
static inline dvec dv_gather(const float *p, int stride) { return dv_gather_range(p, stride, 0, DV); }
static inline void dv_store_n(float *p, dvec v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = v.lane[i];
}
static inline void dv_store(float *p, dvec v) { dv_store_n(p, v, DV); }
/* dst[j * dst_stride + i] = src[i * src_stride + j] for the first dst_rows
 * j; rows i >= src_rows read as zeros. */
static inline void dv_transpose(const float *src, ptrdiff_t src_stride, int src_rows, float *dst,
                                ptrdiff_t dst_stride, int dst_rows)
{
    for (int j = 0; j < dst_rows; j++)
        for (int i = 0; i < DV; i++)
            dst[j * dst_stride + i] = i < src_rows ? src[i * src_stride + j] : 0.0f;
}
static inline dvec dv_fma(dvec a, dvec b, dvec c)
{
    for (int i = 0; i < DV; i++)
        c.lane[i] += a.lane[i] * b.lane[i];
    return c;
}
static inline dvec dv_add(dvec a, dvec b)
{
    for (int i = 0; i < DV; i++)
        a.lane[i] += b.lane[i];
    return a;
}
static inline dvec dv_relu(dvec v)
{
    for (int i = 0; i < DV; i++)
        v.lane[i] = v.lane[i] < 0.0f ? 0.0f : v.lane[i];
    return v;
}
static inline dvec dv_relu6(dvec v)
{
    for (int i = 0; i < DV; i++)
        v.lane[i] = v.lane[i] < 0.0f ? 0.0f : v.lane[i] > 6.0f ? 6.0f : v.lane[i];
    return v;
}

#endif
