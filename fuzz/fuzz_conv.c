/* libFuzzer target: the conv operator. The bytes choose the parameters
 * (small valid ranges, or raw values from a table of extremes), the path,
 * the kernel family, the tile budget, OpenBLAS's int limit (to exercise the
 * call splitting), the thread count, an allocation to fail, and the data
 * (small integers, reals, or reals with NaN/Inf/denormals/huge values).
 * cc_conv2d_create + cc_conv2d_run must either succeed and match the
 * reference path (exactly for integers, within the test tolerance for
 * reals; only "no crash" with special values) or return a documented error
 * with a message, leaking nothing. Buffers are sized exactly, so
 * AddressSanitizer sees any access outside them. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/conv_internal.h"
#include "../src/conv/gemm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest tensors a run is attempted on (floats). */
#define MAX_FLOATS ((size_t)1 << 18)
/* Largest multiply-add count a run is attempted on: the reference path sums
 * in double under ASan + UBSan, so a 3x65536x1 image through a 1000x2 kernel
 * (4e8 multiply-adds, within MAX_FLOATS) took over 30 s, libFuzzer's timeout.
 * Larger shapes still go through validation and create. */
#define MAX_MULTIPLY_ADDS ((size_t)1 << 22)

typedef struct {
    const uint8_t *data;
    size_t size;
} bytes;

static unsigned take(bytes *b)
{
    if (b->size == 0)
        return 0;
    b->size--;
    return *b->data++;
}

/* A small value in [lo, hi], or from the table of extremes in raw mode. */
static int pick(bytes *b, bool raw, int lo, int hi)
{
    static const int extremes[] = {0, -1, 1, 2, 3, 7, 64, 1000, 65536, 1 << 20, 1 << 29,
                                   INT_MAX / 2, INT_MAX - 1, INT_MAX, INT_MIN, -65536};
    const unsigned v = take(b);
    if (raw && (v & 0x80u))
        return extremes[v % (sizeof extremes / sizeof extremes[0])];
    return lo + (int)(v % (unsigned)(hi - lo + 1));
}

static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }

/* An allocator that fails the fail_at-th allocation and counts live blocks. */
typedef struct {
    unsigned fail_at, calls;
    long live;
} injector;

static void *injecting_alloc(void *context, size_t alignment, size_t size)
{
    injector *f = context;
    if (++f->calls == f->fail_at)
        return NULL;
    void *p = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (p != NULL)
        f->live++;
    return p;
}

static void injecting_free(void *context, void *pointer)
{
    injector *f = context;
    if (pointer != NULL)
        f->live--;
    free(pointer);
}

typedef enum { DATA_INTEGERS, DATA_REALS, DATA_SPECIAL } data_kind;

static float value(bytes *b, data_kind kind)
{
    const unsigned v = take(b);
    switch (kind) {
    case DATA_INTEGERS:
        return (float)((int)(v % 7) - 3);
    case DATA_REALS:
        return ((float)v - 127.5f) / 128.0f;
    case DATA_SPECIAL:
        break;
    }
    static const float specials[] = {NAN, INFINITY, -INFINITY, 1e-40f, -3e-39f, 3e38f, -0.0f};
    if (v >= 0xF0u)
        return specials[v % (sizeof specials / sizeof specials[0])];
    return ((float)v - 127.5f) / 16.0f;
}

static float *fill(bytes *b, size_t count, data_kind kind)
{
    float *data = malloc((count > 0 ? count : 1) * sizeof(float));
    if (data == NULL)
        abort();
    for (size_t i = 0; i < count; i++)
        data[i] = value(b, kind);
    return data;
}

static void check(bool ok, const char *what, const cc_conv2d_params *p, cc_algo algo)
{
    if (ok)
        return;
    fprintf(stderr,
            "fuzz_conv: %s: mb%d ic%d ih%d iw%d oc%d kh%d kw%d sh%d sw%d pads %d %d %d %d "
            "dh%d dw%d g%d layout %d act %d algo %s: %s\n",
            what, p->batch, p->in_channels, p->in_h, p->in_w, p->out_channels, p->kernel_h,
            p->kernel_w, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
            p->pad_right, p->dilation_h, p->dilation_w, p->groups, (int)p->layout,
            (int)p->activation, cc_algo_name(algo), cc_last_error());
    abort();
}

static cc_conv2d_params choose_params(bytes *b, bool raw)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = pick(b, raw, 1, 2);
    p.in_channels = pick(b, raw, 1, 8);
    p.in_h = pick(b, raw, 1, 12);
    p.in_w = pick(b, raw, 1, 12);
    p.out_channels = pick(b, raw, 1, 8);
    p.kernel_h = pick(b, raw, 1, 5);
    p.kernel_w = pick(b, raw, 1, 5);
    p.stride_h = pick(b, raw, 0, 3);
    p.stride_w = pick(b, raw, 0, 3);
    p.pad_top = pick(b, raw, 0, 3);
    p.pad_bottom = pick(b, raw, 0, 3);
    p.pad_left = pick(b, raw, 0, 3);
    p.pad_right = pick(b, raw, 0, 3);
    p.dilation_h = pick(b, raw, 0, 3);
    p.dilation_w = pick(b, raw, 0, 3);
    const unsigned g = take(b);
    if (raw && (g & 0x80u)) {
        p.groups = pick(b, true, 0, 8);
    } else if (p.in_channels > 0 && p.out_channels > 0) {
        /* A divisor of both channel counts (depthwise included). */
        const int common = gcd(p.in_channels, p.out_channels);
        int divisors[64], n = 0;
        for (int d = 1; d <= common && d <= 4096 && n < 63; d++)
            if (common % d == 0)
                divisors[n++] = d;
        if (divisors[n - 1] != common)
            divisors[n++] = common;
        p.groups = divisors[g % (unsigned)n];
    }
    const unsigned enums = take(b);
    p.layout = raw && (enums & 0x80u) ? (cc_layout)(enums % 5) - 1 : (cc_layout)(enums & 1u);
    p.activation = raw && (enums & 0x40u) ? (cc_act)((enums >> 1) % 7) - 1
                                          : (cc_act)((enums >> 1) % 4);
    return p;
}

/* The weights create reads when the parameters are valid (1 when they are
 * not: create then fails before reading any), or SIZE_MAX if too many. */
static size_t weight_count(const cc_conv2d_params *p)
{
    if (p->in_channels <= 0 || p->out_channels <= 0 || p->kernel_h <= 0 || p->kernel_w <= 0 ||
        p->groups < 0 || (p->groups > 0 && p->in_channels % p->groups != 0))
        return 1;
    const size_t cg = (size_t)p->in_channels / (size_t)(p->groups > 0 ? p->groups : 1);
    size_t count;
    if (!cc__mul_sizes(&count, 4, (size_t)p->out_channels, cg, (size_t)p->kernel_h,
                       (size_t)p->kernel_w) || count > MAX_FLOATS)
        return SIZE_MAX;
    return count;
}

/* Input and output element counts; false when a run is not possible here
 * (too large, or too much work for the reference within the time limit). */
static bool io_counts(const cc_conv2d_params *p, size_t w_count, size_t *in, size_t *out)
{
    int oh, ow;
    if (p->batch <= 0 || p->in_channels <= 0 || p->out_channels <= 0 ||
        cc_conv2d_output_size(p, &oh, &ow) != CC_OK)
        return false;
    size_t multiply_adds;
    return cc__mul_sizes(in, 4, (size_t)p->batch, (size_t)p->in_channels, (size_t)p->in_h,
                         (size_t)p->in_w) &&
           cc__mul_sizes(out, 4, (size_t)p->batch, (size_t)p->out_channels, (size_t)oh,
                         (size_t)ow) &&
           *in <= MAX_FLOATS && *out <= MAX_FLOATS &&
           cc__mul_sizes(&multiply_adds, 2, *out / (size_t)p->out_channels, w_count) &&
           multiply_adds <= MAX_MULTIPLY_ADDS;
}

static bool is_winograd(cc_algo algo)
{
    return algo == CC_ALGO_WINOGRAD || algo == CC_ALGO_WINOGRAD_F6X6;
}

static void compare(const float *got, const float *want, size_t count, data_kind kind,
                    const cc_conv2d_params *p, cc_algo algo)
{
    if (kind == DATA_SPECIAL)
        return;
    double largest = 1.0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(want[i]));
    /* Winograd's transforms have fractions (never exact), F(6x6,3x3) its own
     * tolerance; AUTO may pick Winograd. */
    const bool exact = kind == DATA_INTEGERS && p->activation == CC_ACT_NONE &&
                       !is_winograd(algo) && algo != CC_ALGO_AUTO;
    const double tolerance =
        exact ? 0.0 : (algo == CC_ALGO_WINOGRAD_F6X6 ? 5e-4 : 1e-4) * largest;
    for (size_t i = 0; i < count; i++)
        if (!(fabs((double)got[i] - want[i]) <= tolerance)) {
            fprintf(stderr, "fuzz_conv: output %zu is %.9g, the reference %.9g (tolerance %g)\n",
                    i, (double)got[i], (double)want[i], tolerance);
            check(false, "mismatch", p, algo);
        }
}

static void run_case(bytes *b, const cc_conv2d_params *p, cc_algo algo, unsigned fail_at,
                     data_kind kind)
{
    size_t in_count = 0, out_count = 0;
    const size_t w_count = weight_count(p);
    if (w_count == SIZE_MAX)
        return; /* create would read more weights than we give */
    const bool runnable = io_counts(p, w_count, &in_count, &out_count);
    float *weights = fill(b, w_count, kind);
    const bool bias_fits = p->out_channels > 0 && p->out_channels <= 4096;
    float *bias = fill(b, bias_fits ? (size_t)p->out_channels : 1, kind);
    const bool with_bias = (take(b) & 1u) && bias_fits;
    if (!runnable) {
        /* Validation, and shapes too large to run here: a create that fails
         * must say why and give NULL. */
        cc_conv2d *op = (cc_conv2d *)&op;
        const cc_status status = cc_conv2d_create(p, algo, weights, with_bias ? bias : NULL, &op);
        check(status == CC_OK || (op == NULL && strlen(cc_last_error()) > 0),
              "failed create without NULL or message", p, algo);
        check(status == CC_OK || status == CC_ERR_INVALID_ARG || status == CC_ERR_UNSUPPORTED,
              "unexpected status", p, algo);
        cc_conv2d_destroy(status == CC_OK ? op : NULL);
        free(weights), free(bias);
        return;
    }
    float *input = fill(b, in_count, kind);
    float *output = malloc(out_count * sizeof(float));
    float *want = malloc(out_count * sizeof(float));
    injector f = {fail_at, 0, 0};
    const cc_allocator hook = {&f, injecting_alloc, injecting_free};
    cc_set_allocator(&hook);
    cc_conv2d *op = NULL;
    cc_status status = cc_conv2d_create(p, algo, weights, with_bias ? bias : NULL, &op);
    if (status == CC_OK) {
        for (size_t i = 0; i < out_count; i++)
            output[i] = NAN;
        status = cc_conv2d_run(op, input, output);
    }
    cc_conv2d_destroy(op);
    cc_set_allocator(NULL);
    check(f.live == 0, "leak", p, algo);
    if (status != CC_OK) {
        check(strlen(cc_last_error()) > 0, "error without a message", p, algo);
        check(status == CC_ERR_INVALID_ARG || status == CC_ERR_UNSUPPORTED ||
                  (status == CC_ERR_NOMEM && f.calls >= fail_at && fail_at > 0),
              "unexpected status", p, algo);
        check(status != CC_ERR_UNSUPPORTED || algo == CC_ALGO_GEMM1X1 || is_winograd(algo),
              "unsupported", p, algo);
    } else {
        cc_conv2d *ref = NULL;
        check(cc_conv2d_create(p, CC_ALGO_REFERENCE, weights, with_bias ? bias : NULL, &ref) ==
                  CC_OK, "reference create", p, algo);
        check(cc_conv2d_run(ref, input, want) == CC_OK, "reference run", p, algo);
        cc_conv2d_destroy(ref);
        compare(output, want, out_count, kind, p, algo);
    }
    free(input), free(output), free(want), free(weights), free(bias);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes b = {data, size};
    const unsigned mode = take(&b);
    const bool raw = (mode & 1u) != 0;
    const data_kind kind = (data_kind)((mode >> 1) % 3);
    const cc_algo algo = (cc_algo)(take(&b) % (CC_ALGO_WINOGRAD_F6X6 + 1));
    const unsigned tuning = take(&b);
    const unsigned fail_at = take(&b) % 8; /* 0: none */
    cc__set_isa_cap((cc__isa)(tuning % 3));
    cc__set_tile_budget_bytes((tuning >> 2) % 4 == 0 ? 0 : (size_t)64 << ((tuning >> 2) % 4 * 3));
    cc__gemm_set_int_limit((tuning & 0x40u) ? 1 + (tuning >> 4) % 3 * 7 : 0);
    cc_set_num_threads((tuning & 0x80u) ? 2 : 1);
    const cc_conv2d_params p = choose_params(&b, raw);
    /* The shape helpers must not misbehave on any parameters either. */
    int oh, ow;
    (void)cc_conv2d_output_size(&p, &oh, &ow);
    cc_conv2d_params same = p;
    (void)cc_conv2d_pad_same(&same);
    run_case(&b, &p, algo, fail_at, kind);
    cc__set_isa_cap(CC__ISA_AVX512);
    cc__set_tile_budget_bytes(0);
    cc__gemm_set_int_limit(0);
    return 0;
}
