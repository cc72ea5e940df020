/* The portable vocabulary of kernels_body.h: a vector is a struct of KV
 * floats and every operation a loop over its lanes, which the compiler
 * vectorises for whatever the build targets. */
#ifndef COLCONV_LAYER_KERNELS_PORTABLE_H
#define COLCONV_LAYER_KERNELS_PORTABLE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define KV 4

typedef struct {
    float lane[KV];
} kvec;

static inline kvec kv_set1(float x)
{
    kvec r;
    for (int i = 0; i < KV; i++)
        r.lane[i] = x;
    return r;
}
static inline kvec kv_load_n(const float *p, int n)
{
    kvec r = kv_set1(0.0f);
    for (int i = 0; i < n; i++)
        r.lane[i] = p[i];
    return r;
}
static inline kvec kv_load(const float *p) { return kv_load_n(p, KV); }
static inline void kv_store_n(float *p, kvec v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = v.lane[i];
}
static inline void kv_store(float *p, kvec v) { kv_store_n(p, v, KV); }
static inline kvec kv_gather(const float *p, int stride)
{
    kvec r;
    for (int i = 0; i < KV; i++)
        r.lane[i] = p[(ptrdiff_t)i * stride];
    return r;
}
static inline kvec kv_even(const float *p) { return kv_gather(p, 2); }
/* Lanes `from`, from + step, ... of the 2 KV lanes of a then b. */
static inline kvec kv_pick2(kvec a, kvec b, int from, int step)
{
    kvec r;
    for (int i = 0; i < KV; i++) {
        const int k = from + i * step;
        r.lane[i] = k < KV ? a.lane[k] : b.lane[k - KV];
    }
    return r;
}
static inline kvec kv_even2(kvec a, kvec b) { return kv_pick2(a, b, 0, 2); }
static inline kvec kv_odd2(kvec a, kvec b) { return kv_pick2(a, b, 1, 2); }
static inline kvec kv_next1(kvec a, kvec b) { return kv_pick2(a, b, 1, 1); }
static inline kvec kv_next2(kvec a, kvec b) { return kv_pick2(a, b, 2, 1); }
static inline kvec kv_prev1(kvec a, kvec b) { return kv_pick2(a, b, KV - 1, 1); }
typedef struct {
    int lo, hi;
} kmask;
static inline kmask kv_mask_lanes(int lo, int hi) { return (kmask){lo, hi}; }
static inline kvec kv_load_mask(uintptr_t lane0, kmask m, float fill)
{
    kvec r = kv_set1(fill);
    for (int i = m.lo; i < m.hi; i++)
        r.lane[i] = *(const float *)(lane0 + (uintptr_t)i * sizeof(float));
    return r;
}
/* A NaN v wins, a NaN m stays. */
static inline kvec kv_max(kvec m, kvec v)
{
    for (int i = 0; i < KV; i++)
        m.lane[i] = (v.lane[i] > m.lane[i]) | (v.lane[i] != v.lane[i]) ? v.lane[i] : m.lane[i];
    return m;
}
static inline kvec kv_add(kvec a, kvec b)
{
    for (int i = 0; i < KV; i++)
        a.lane[i] += b.lane[i];
    return a;
}
static inline kvec kv_mul(kvec a, kvec b)
{
    for (int i = 0; i < KV; i++)
        a.lane[i] *= b.lane[i];
    return a;
}
static inline kvec kv_fma(kvec a, kvec b, kvec c)
{
    for (int i = 0; i < KV; i++)
        c.lane[i] += a.lane[i] * b.lane[i];
    return c;
}
static inline kvec kv_div(kvec a, kvec b)
{
    for (int i = 0; i < KV; i++)
        a.lane[i] /= b.lane[i];
    return a;
}
static inline kvec kv_sqrt(kvec a)
{
    for (int i = 0; i < KV; i++)
        a.lane[i] = sqrtf(a.lane[i]);
    return a;
}

static inline kvec kv_rsqrt_estimate(kvec a)
{
    for (int i = 0; i < KV; i++)
        a.lane[i] = 1.0f / sqrtf(a.lane[i]);
    return a;
}

static inline kvec kv_relu(kvec v)
{
    for (int i = 0; i < KV; i++)
        v.lane[i] = v.lane[i] < 0.0f ? 0.0f : v.lane[i];
    return v;
}
static inline kvec kv_cap(kvec v, float hi)
{
    for (int i = 0; i < KV; i++)
        v.lane[i] = v.lane[i] > hi ? hi : v.lane[i];
    return v;
}
static inline kvec kv_abs(kvec v)
{
    for (int i = 0; i < KV; i++)
        v.lane[i] = fabsf(v.lane[i]);
    return v;
}
static inline kvec kv_below(kvec x, float lo, kvec a, kvec b)
{
    for (int i = 0; i < KV; i++)
        b.lane[i] = x.lane[i] < lo ? a.lane[i] : b.lane[i];
    return b;
}
static inline kvec kv_keep_n(kvec v, int n, float fill)
{
    for (int i = n; i < KV; i++)
        v.lane[i] = fill;
    return v;
}
/* p * 2^n for integer-valued n in [-126, 127] (n NaN: p unscaled). */
static inline kvec kv_scale2(kvec p, kvec n)
{
    for (int i = 0; i < KV; i++)
        p.lane[i] = n.lane[i] == n.lane[i] ? ldexpf(p.lane[i], (int)n.lane[i]) : p.lane[i];
    return p;
}
static inline float kv_hmax(kvec v)
{
    float m = v.lane[0];
    for (int i = 1; i < KV; i++)
        m = (v.lane[i] > m) | (v.lane[i] != v.lane[i]) ? v.lane[i] : m;
    return m;
}
static inline float kv_hsum(kvec v)
{
    float s = v.lane[0];
    for (int i = 1; i < KV; i++)
        s += v.lane[i];
    return s;
}

#endif
