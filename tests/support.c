/* Shared helpers of the cmocka suites. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tst_rng_seed(tst_rng *rng, uint64_t seed) { rng->state = seed; }

uint64_t tst_rng_next(tst_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int tst_rng_int(tst_rng *rng, int lo, int hi)
{
    return lo + (int)(tst_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

float tst_rng_float(tst_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)((tst_rng_next(rng) >> 40) * (1.0 / 16777216.0));
}

void tst_fill(tst_rng *rng, float *data, size_t count, bool integers)
{
    for (size_t i = 0; i < count; i++)
        data[i] = integers ? (float)tst_rng_int(rng, -3, 3) : tst_rng_float(rng, -1.0f, 1.0f);
}

float *tst_random_floats(tst_rng *rng, size_t count, float lo, float hi)
{
    float *x = malloc((count > 0 ? count : 1) * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < count; i++)
        x[i] = tst_rng_float(rng, lo, hi);
    return x;
}

double *tst_new_doubles(size_t count)
{
    double *x = calloc(count > 0 ? count : 1, sizeof(double));
    assert_non_null(x);
    return x;
}

static const float guard_value = 12345.678f;

tst_buffer tst_buffer_new(size_t count)
{
    tst_buffer b;
    b.count = count;
    b.base = malloc((count + 2 * TST_GUARD) * sizeof(float));
    assert_non_null(b.base);
    b.data = b.base + TST_GUARD;
    tst_buffer_poison(&b);
    return b;
}

void tst_buffer_poison(tst_buffer *b)
{
    for (size_t i = 0; i < b->count + 2 * TST_GUARD; i++)
        b->base[i] = guard_value;
    for (size_t i = 0; i < b->count; i++)
        b->data[i] = NAN;
}

bool tst_buffer_guards_intact(const tst_buffer *b)
{
    for (size_t i = 0; i < TST_GUARD; i++)
        if (b->base[i] != guard_value || b->data[b->count + i] != guard_value)
            return false;
    return true;
}

void tst_buffer_free(tst_buffer *b)
{
    free(b->base);
    b->base = b->data = NULL;
}

unsigned char *tst_read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    const long end = ftell(file);
    assert_true(end >= 0);
    assert_int_equal(fseek(file, 0, SEEK_SET), 0);
    *size = (size_t)end;
    unsigned char *bytes = malloc(*size > 0 ? *size : 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, *size, file), *size);
    fclose(file);
    return bytes;
}

void tst_write_file(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

double tst_max_abs(const float *data, size_t count)
{
    double m = 0.0;
    for (size_t i = 0; i < count; i++)
        if (fabs(data[i]) > m)
            m = fabs(data[i]);
    return m;
}

size_t tst_first_mismatch(const float *got, const float *want, size_t count, double tolerance)
{
    for (size_t i = 0; i < count; i++) {
        if (isnan(got[i]) && isnan(want[i]))
            continue;
        if (!(fabs((double)got[i] - (double)want[i]) <= tolerance))
            return i;
    }
    return count;
}

double tst_conv_tolerance(const float *reference, size_t count)
{
    const double m = tst_max_abs(reference, count);
    return 1e-4 * (m > 1.0 ? m : 1.0);
}

double tst_relative_tolerance(const float *reference, size_t count, double rel)
{
    return rel * tst_max_abs(reference, count);
}

tst_conv_counts tst_conv_sizes(const cc_conv2d_params *p)
{
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(p, &oh, &ow), CC_OK);
    const int groups = p->groups > 0 ? p->groups : 1;
    const tst_conv_counts counts = {
        (size_t)p->batch * p->in_channels * p->in_h * p->in_w,
        (size_t)p->out_channels * (p->in_channels / groups) * p->kernel_h * p->kernel_w,
        (size_t)p->batch * p->out_channels * oh * ow};
    return counts;
}

void tst_describe(const cc_conv2d_params *p, char *text, size_t size)
{
    snprintf(text, size,
             "mb%dic%dih%diw%doc%dkh%dkw%dsh%dsw%dpt%dpb%dpl%dpr%ddh%ddw%dg%d layout=%s act=%d",
             p->batch, p->in_channels, p->in_h, p->in_w, p->out_channels, p->kernel_h,
             p->kernel_w, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
             p->pad_right, p->dilation_h, p->dilation_w, p->groups,
             p->layout == CC_NCHW ? "nchw" : "nhwc", (int)p->activation);
}

static void *failing_alloc(void *context, size_t alignment, size_t size)
{
    tst_failing_allocator *f = context;
    if (++f->calls == f->fail_at) {
        f->failed = true;
        return NULL;
    }
    void *p = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p != NULL)
        f->live++;
    return p;
}

static void failing_free(void *context, void *pointer)
{
    tst_failing_allocator *f = context;
    if (pointer != NULL)
        f->live--;
    free(pointer);
}

void tst_failing_allocator_install(tst_failing_allocator *f, int fail_at)
{
    *f = (tst_failing_allocator){fail_at, 0, false, 0};
    const cc_allocator hook = {f, failing_alloc, failing_free};
    assert_int_equal(cc_set_allocator(&hook), CC_OK);
}

/* ---- ISA coverage ---------------------------------------------------------- */

static cc__isa current_isa = CC__ISA_AVX512;

cc__isa tst_isa(void) { return current_isa; }

/* Why this process cannot run isa, or NULL when it can. */
static const char *isa_missing(cc__isa isa, char *why, size_t size)
{
    static const char *const cpu_names[] = {"", "AVX2 and FMA", "AVX-512"};
    cc__isa env = CC__ISA_AVX512;
    const char *value = getenv("COLCONV_MAX_ISA");
    cc__isa_cap_from_env(value, &env);
    if (isa > cc__isa_from_features(cc__cpu_features()))
        snprintf(why, size, "no %s on this CPU", cpu_names[isa]);
    else if (isa > env)
        snprintf(why, size, "capped by COLCONV_MAX_ISA=%s", value);
    else
        return NULL;
    return why;
}

int tst_run_per_isa(const char *suite, int (*run_group)(void))
{
    char outcome[CC__ISA_AVX512 + 1][96];
    int failed = 0;
    const char *env = getenv("COLCONV_MAX_ISA");
    if (!cc__isa_cap_from_env(env, NULL))
        printf("COLCONV_MAX_ISA=%s is not an ISA name: it caps nothing\n", env);
    for (int i = CC__ISA_SCALAR; i <= CC__ISA_AVX512; i++) {
        const cc__isa isa = (cc__isa)i;
        const char *name = cc__isa_name(isa);
        char why[64];
        cc__set_isa_cap(isa);
        if (isa_missing(isa, why, sizeof why) != NULL) {
            snprintf(outcome[i], sizeof outcome[i], "skipped, %s", why);
        } else if (cc__cpu_isa() != isa) {
            snprintf(outcome[i], sizeof outcome[i], "FAILED: capped at %s, the library gives %s",
                     name, cc__isa_name(cc__cpu_isa()));
            failed = 1;
        } else {
            printf("ISA %s: running %s with the kernels capped at %s\n", name, suite, name);
            fflush(stdout);
            current_isa = isa;
            const bool group_failed = run_group() != 0;
            snprintf(outcome[i], sizeof outcome[i], "ran%s", group_failed ? ", FAILED" : "");
            failed |= group_failed;
        }
    }
    cc__set_isa_cap(CC__ISA_AVX512);
    current_isa = CC__ISA_AVX512;
    for (int i = CC__ISA_SCALAR; i <= CC__ISA_AVX512; i++)
        printf("ISA %s: %s\n", cc__isa_name((cc__isa)i), outcome[i]);
    return failed;
}
