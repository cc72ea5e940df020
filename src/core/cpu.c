/* Runtime CPU feature detection, capped by COLCONV_MAX_ISA or the tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core.h"

cc__isa cc__isa_from_features(unsigned features)
{
    const unsigned avx2 = CC__CPU_AVX2 | CC__CPU_FMA | CC__CPU_OS_YMM;
    const unsigned avx512 = avx2 | CC__CPU_AVX512F | CC__CPU_AVX512VL | CC__CPU_OS_ZMM;
    if ((features & avx512) == avx512)
        return CC__ISA_AVX512;
    if ((features & avx2) == avx2)
        return CC__ISA_AVX2;
    return CC__ISA_SCALAR;
}

#if defined(__x86_64__) || defined(__i386__)
/* CPUID.1:ECX and CPUID.(7,0):EBX bits, XCR0 bits (Intel SDM vol. 1, 13.3). */
#define CPUID1_FMA (1u << 12)
#define CPUID1_OSXSAVE (1u << 27)
#define CPUID7_AVX2 (1u << 5)
#define CPUID7_AVX512F (1u << 16)
#define CPUID7_AVX512VL (1u << 31)
#define XCR0_YMM 0x06u  /* SSE, AVX */
#define XCR0_ZMM 0xe0u  /* opmask, ZMM_Hi256, Hi16_ZMM */

static unsigned read_features(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    unsigned features = c & CPUID1_FMA ? CC__CPU_FMA : 0;
    /* XGETBV exists only when the OS has enabled XSAVE. */
    if (c & CPUID1_OSXSAVE) {
        unsigned xcr0, xcr0_high;
        __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
        features |= (xcr0 & XCR0_YMM) == XCR0_YMM ? CC__CPU_OS_YMM : 0;
        features |= (xcr0 & XCR0_ZMM) == XCR0_ZMM ? CC__CPU_OS_ZMM : 0;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        features |= b & CPUID7_AVX2 ? CC__CPU_AVX2 : 0;
        features |= b & CPUID7_AVX512F ? CC__CPU_AVX512F : 0;
        features |= b & CPUID7_AVX512VL ? CC__CPU_AVX512VL : 0;
    }
    return features;
}
#else
static unsigned read_features(void) { return 0; }
#endif

/* The features, plus FEATURES_KNOWN once read (CPUID is slow in a VM). */
#define FEATURES_KNOWN (1u << 31)
static atomic_uint cached_features;

unsigned cc__cpu_features(void)
{
    unsigned features = atomic_load(&cached_features);
    if (!(features & FEATURES_KNOWN)) {
        features = read_features() | FEATURES_KNOWN;
        atomic_store(&cached_features, features);
    }
    return features & ~FEATURES_KNOWN;
}

/* ASCII case-insensitive equality. */
static bool same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        const char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        const char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

bool cc__isa_cap_from_env(const char *value, cc__isa *cap)
{
    cc__isa found = CC__ISA_AVX512;
    bool known = value == NULL || value[0] == '\0';
    for (int isa = CC__ISA_SCALAR; !known && isa <= CC__ISA_AVX512; isa++)
        if (same_name(value, cc__isa_name((cc__isa)isa))) {
            found = (cc__isa)isa;
            known = true;
        }
    if (cap != NULL)
        *cap = found;
    return known;
}

static atomic_int test_cap = CC__ISA_AVX512;

void cc__set_isa_cap(cc__isa cap) { atomic_store(&test_cap, (int)cap); }

cc__isa cc__cpu_isa(void)
{
    cc__isa isa = cc__isa_from_features(cc__cpu_features());
    cc__isa env;
    cc__isa_cap_from_env(getenv("COLCONV_MAX_ISA"), &env);
    const cc__isa test = (cc__isa)atomic_load(&test_cap);
    if (env < isa)
        isa = env;
    if (test < isa)
        isa = test;
    return isa;
}

const char *cc__isa_name(cc__isa isa)
{
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return (unsigned)isa <= CC__ISA_AVX512 ? names[isa] : "unknown";
}

const char *cc_cpu_isa(void) { return cc__isa_name(cc__cpu_isa()); }

cc_status cc_check_max_isa_env(void)
{
    const char *value = getenv("COLCONV_MAX_ISA");
    if (cc__isa_cap_from_env(value, NULL))
        return CC_OK;
    return cc__fail(CC_ERR_INVALID_ARG,
                    "COLCONV_MAX_ISA='%s' is not scalar, avx2 or avx512: it caps nothing", value);
}
