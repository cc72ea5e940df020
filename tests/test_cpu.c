/* CPU dispatch: the ISA a mask of features allows, the features this CPU
 * reports, the caps (cc__set_isa_cap, COLCONV_MAX_ISA) and the names. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/core.h"

#define OS (CC__CPU_OS_YMM | CC__CPU_OS_ZMM)
#define AVX2_ALL (CC__CPU_AVX2 | CC__CPU_FMA | CC__CPU_OS_YMM)
#define AVX512_ALL (AVX2_ALL | CC__CPU_AVX512F | CC__CPU_AVX512VL | CC__CPU_OS_ZMM)
#define ALL_FEATURES 0x3fu

static void isa_from_named_masks(void **state)
{
    (void)state;
    const struct {
        const char *what;
        unsigned features;
        cc__isa isa;
    } cases[] = {
        {"nothing", 0, CC__ISA_SCALAR},
        {"OS state only", OS, CC__ISA_SCALAR},
        {"avx2+fma+ymm", AVX2_ALL, CC__ISA_AVX2},
        {"avx2 without fma", AVX2_ALL & ~CC__CPU_FMA, CC__ISA_SCALAR},
        {"fma without avx2", AVX2_ALL & ~CC__CPU_AVX2, CC__ISA_SCALAR},
        {"avx2+fma, OS without ymm state", CC__CPU_AVX2 | CC__CPU_FMA, CC__ISA_SCALAR},
        {"every feature", AVX512_ALL, CC__ISA_AVX512},
        {"avx512f without vl", AVX512_ALL & ~CC__CPU_AVX512VL, CC__ISA_AVX2},
        {"avx512vl without f", AVX512_ALL & ~CC__CPU_AVX512F, CC__ISA_AVX2},
        {"avx512f+vl, OS without zmm state", AVX512_ALL & ~CC__CPU_OS_ZMM, CC__ISA_AVX2},
        {"avx512 without fma", AVX512_ALL & ~CC__CPU_FMA, CC__ISA_SCALAR},
        {"avx512 without avx2", AVX512_ALL & ~CC__CPU_AVX2, CC__ISA_SCALAR},
        {"avx512, OS without ymm state", AVX512_ALL & ~CC__CPU_OS_YMM, CC__ISA_SCALAR},
        {"avx512f+vl+zmm alone", CC__CPU_AVX512F | CC__CPU_AVX512VL | OS, CC__ISA_SCALAR},
        {"unknown bits ignored", AVX2_ALL | 0xffffff00u, CC__ISA_AVX2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cc__isa got = cc__isa_from_features(cases[i].features);
        if (got != cases[i].isa)
            fail_msg("%s (0x%x): %s, want %s", cases[i].what, cases[i].features,
                     cc__isa_name(got), cc__isa_name(cases[i].isa));
    }
}

/* Over every mask: an ISA is given only with every feature its files are
 * compiled for, and a feature more never narrows the ISA. */
static void isa_requires_every_feature(void **state)
{
    (void)state;
    for (unsigned m = 0; m <= ALL_FEATURES; m++) {
        const cc__isa isa = cc__isa_from_features(m);
        if (isa == CC__ISA_AVX512 && (m & AVX512_ALL) != AVX512_ALL)
            fail_msg("0x%x: avx512 without all of 0x%x", m, AVX512_ALL);
        if (isa == CC__ISA_AVX2 && (m & AVX2_ALL) != AVX2_ALL)
            fail_msg("0x%x: avx2 without all of 0x%x", m, AVX2_ALL);
        for (unsigned bit = 1; bit <= ALL_FEATURES; bit <<= 1)
            if (cc__isa_from_features(m | bit) < isa)
                fail_msg("0x%x: adding 0x%x narrows %s", m, bit, cc__isa_name(isa));
    }
}

/* The features read from CPUID and XCR0 agree with the compiler's own
 * detection (GCC's and clang's count an extension only when the OS saves
 * its registers). */
static void features_agree_with_the_compiler(void **state)
{
    (void)state;
    const unsigned f = cc__cpu_features();
    __builtin_cpu_init();
    const bool ymm = f & CC__CPU_OS_YMM, zmm = ymm && (f & CC__CPU_OS_ZMM);
    const struct {
        const char *name;
        bool ours, compilers;
    } features[] = {
        {"avx2", ymm && (f & CC__CPU_AVX2), __builtin_cpu_supports("avx2")},
        {"fma", ymm && (f & CC__CPU_FMA), __builtin_cpu_supports("fma")},
        {"avx512f", zmm && (f & CC__CPU_AVX512F), __builtin_cpu_supports("avx512f")},
        {"avx512vl", zmm && (f & CC__CPU_AVX512VL), __builtin_cpu_supports("avx512vl")},
    };
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        if (features[i].ours != features[i].compilers)
            fail_msg("%s: cc__cpu_features (0x%x) says %s, __builtin_cpu_supports says %s",
                     features[i].name, f, features[i].ours ? "usable" : "not usable",
                     features[i].compilers ? "usable" : "not usable");
    assert_int_equal(f & ~ALL_FEATURES, 0);
    assert_int_equal(cc__cpu_features(), f);
    printf("CPU features 0x%x: this CPU runs %s\n", f, cc__isa_name(cc__isa_from_features(f)));
}

static void env_values(void **state)
{
    (void)state;
    const struct {
        const char *value;
        bool known;
        cc__isa cap;
    } cases[] = {
        {NULL, true, CC__ISA_AVX512},     {"", true, CC__ISA_AVX512},
        {"scalar", true, CC__ISA_SCALAR}, {"avx2", true, CC__ISA_AVX2},
        {"avx512", true, CC__ISA_AVX512}, {"AVX2", true, CC__ISA_AVX2},
        {"Scalar", true, CC__ISA_SCALAR}, {"AVX512", true, CC__ISA_AVX512},
        {"avx", false, CC__ISA_AVX512},   {"avx2 ", false, CC__ISA_AVX512},
        {" avx2", false, CC__ISA_AVX512}, {"avx-512", false, CC__ISA_AVX512},
        {"avx5122", false, CC__ISA_AVX512}, {"sse", false, CC__ISA_AVX512},
        {"none", false, CC__ISA_AVX512},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc__isa cap = (cc__isa)-1;
        const bool known = cc__isa_cap_from_env(cases[i].value, &cap);
        const char *v = cases[i].value ? cases[i].value : "(unset)";
        if (known != cases[i].known || cap != cases[i].cap)
            fail_msg("'%s': %s, cap %s; want %s, cap %s", v, known ? "known" : "unknown",
                     cc__isa_name(cap), cases[i].known ? "known" : "unknown",
                     cc__isa_name(cases[i].cap));
        assert_int_equal(cc__isa_cap_from_env(cases[i].value, NULL), cases[i].known);
    }
}

/* COLCONV_MAX_ISA and cc__set_isa_cap both cap cc__cpu_isa, whichever is
 * lower wins, and an unknown value caps nothing. */
static void caps(void **state)
{
    (void)state;
    const char *saved = getenv("COLCONV_MAX_ISA");
    char *saved_copy = saved ? strdup(saved) : NULL;
    unsetenv("COLCONV_MAX_ISA");
    const cc__isa cpu = cc__isa_from_features(cc__cpu_features());
    assert_int_equal(cc__cpu_isa(), cpu);
    assert_string_equal(cc_cpu_isa(), cc__isa_name(cpu));
    for (int test = CC__ISA_SCALAR; test <= CC__ISA_AVX512; test++) {
        cc__set_isa_cap((cc__isa)test);
        const cc__isa want = (cc__isa)test < cpu ? (cc__isa)test : cpu;
        assert_int_equal(cc__cpu_isa(), want);
        for (int env = CC__ISA_SCALAR; env <= CC__ISA_AVX512; env++) {
            const char *upper[] = {"SCALAR", "AVX2", "AVX512"};
            setenv("COLCONV_MAX_ISA", env % 2 ? upper[env] : cc__isa_name((cc__isa)env), 1);
            assert_int_equal(cc__cpu_isa(), (cc__isa)env < want ? (cc__isa)env : want);
        }
        assert_int_equal(cc_check_max_isa_env(), CC_OK);
        setenv("COLCONV_MAX_ISA", "avx3", 1);
        assert_int_equal(cc__cpu_isa(), want);
        assert_int_equal(cc_check_max_isa_env(), CC_ERR_INVALID_ARG);
        assert_non_null(strstr(cc_last_error(), "'avx3'"));
        unsetenv("COLCONV_MAX_ISA");
        assert_int_equal(cc_check_max_isa_env(), CC_OK);
    }
    cc__set_isa_cap(CC__ISA_AVX512);
    assert_int_equal(cc__cpu_isa(), cpu);
    if (saved_copy != NULL)
        setenv("COLCONV_MAX_ISA", saved_copy, 1);
    free(saved_copy);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(cc__isa_name(CC__ISA_SCALAR), "scalar");
    assert_string_equal(cc__isa_name(CC__ISA_AVX2), "avx2");
    assert_string_equal(cc__isa_name(CC__ISA_AVX512), "avx512");
    assert_string_equal(cc__isa_name((cc__isa)3), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(isa_from_named_masks),
        cmocka_unit_test(isa_requires_every_feature),
        cmocka_unit_test(features_agree_with_the_compiler),
        cmocka_unit_test(env_values),
        cmocka_unit_test(caps),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
