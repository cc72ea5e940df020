/* Shared helpers of the cmocka suites: a seeded generator, guarded and
 * poisoned buffers, and tolerant comparisons that say where they failed. */
#ifndef COLCONV_TEST_SUPPORT_H
#define COLCONV_TEST_SUPPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "colconv.h"
#include "../src/core/core.h"

/* splitmix64: small, seedable, the same sequence on every machine. */
typedef struct {
    uint64_t state;
} tst_rng;

void tst_rng_seed(tst_rng *rng, uint64_t seed);
uint64_t tst_rng_next(tst_rng *rng);
/* Uniform integer in [lo, hi]. */
int tst_rng_int(tst_rng *rng, int lo, int hi);
/* Uniform float in [lo, hi). */
float tst_rng_float(tst_rng *rng, float lo, float hi);
/* Fills with uniform reals in [-1, 1), or small integers in [-3, 3] when
 * `integers` (sums of those are exact in float). */
void tst_fill(tst_rng *rng, float *data, size_t count, bool integers);
/* count floats uniform in [lo, hi), and count zeroed doubles: malloc'd
 * (free() them), room for one at least so that count 0 is fine. */
float *tst_random_floats(tst_rng *rng, size_t count, float lo, float hi);
double *tst_new_doubles(size_t count);

/* A buffer of `count` floats with GUARD floats of a known pattern on both
 * sides, so that writes out of bounds are caught. */
#define TST_GUARD 64
typedef struct {
    float *base;
    float *data;
    size_t count;
} tst_buffer;

tst_buffer tst_buffer_new(size_t count);
/* Sets the data to NaN and the guards to their pattern. */
void tst_buffer_poison(tst_buffer *b);
bool tst_buffer_guards_intact(const tst_buffer *b);
void tst_buffer_free(tst_buffer *b);

/* A whole file's bytes (free() them; *size gets their count), and a file
 * written with exactly `size` bytes; both fail the test on any error. */
unsigned char *tst_read_file(const char *path, size_t *size);
void tst_write_file(const char *path, const unsigned char *bytes, size_t size);

/* Largest |x| over the data. */
double tst_max_abs(const float *data, size_t count);

/* Index of the first element where |got - want| > tolerance (NaN in either
 * counts as a mismatch unless both are NaN), or count if none. */
size_t tst_first_mismatch(const float *got, const float *want, size_t count, double tolerance);

/* The accuracy contract of the conv core: 1e-4 * max(1, max |reference|). */
double tst_conv_tolerance(const float *reference, size_t count);

/* rel * max |reference|: a bound relative to the tensor's own largest
 * magnitude, however small (all zeros: equality). Where outputs peak far
 * below 1 (LeNet-5's at 0.09), 1e-4 * max(1, ...) is 0.1% of the largest
 * output, not 0.01%. */
double tst_relative_tolerance(const float *reference, size_t count, double rel);

/* An allocator for cc_set_allocator that fails its fail_at-th allocation
 * (0: never) and counts the blocks it has handed out and not had back. */
typedef struct {
    int fail_at;  /* 0: never fail */
    int calls;    /* allocations asked for */
    bool failed;  /* the fail_at-th happened (and returned NULL) */
    long live;    /* blocks handed out and not yet freed */
} tst_failing_allocator;

/* Resets f to fail at fail_at and installs it. */
void tst_failing_allocator_install(tst_failing_allocator *f, int fail_at);

/* Element counts of a valid parameter set's input, OIHW weights and output. */
typedef struct {
    size_t input, weights, output;
} tst_conv_counts;
tst_conv_counts tst_conv_sizes(const cc_conv2d_params *p);

/* Formats a parameter set as a benchdnn-style descriptor, for messages. */
void tst_describe(const cc_conv2d_params *p, char *text, size_t size);

/* ---- ISA coverage: a suite run once per kernel family ------------------ */

/* Runs run_group() once per ISA this process can run, narrowest first, with
 * the ISA cap set to it (cc__set_isa_cap) and cc__cpu_isa() checked to
 * equal it; the cap is lifted after. Prints to stdout a line per ISA before
 * its group, and at the end one per ISA: "ISA avx512: ran" or, e.g., "ISA
 * avx512: skipped, no AVX-512 on this CPU" (or "..., capped by
 * COLCONV_MAX_ISA=avx2"). Returns 0 when every group that ran passed and
 * every ISA the CPU has could be selected, else 1. */
int tst_run_per_isa(const char *suite, int (*run_group)(void));
/* The ISA tst_run_per_isa is running the group on (CC__ISA_AVX512 outside). */
cc__isa tst_isa(void);

#endif
