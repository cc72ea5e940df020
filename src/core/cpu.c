/* Runtime CPU feature detection, capped by COLCONV_MAX_ISA or the tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static cc__isa detected_isa(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return CC__ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CC__ISA_AVX2;
    return CC__ISA_SCALAR;
}

static cc__isa environment_cap(void)
{
    const char *cap = getenv("COLCONV_MAX_ISA");
    if (cap == NULL)
        return CC__ISA_AVX512;
    if (strcmp(cap, "scalar") == 0)
        return CC__ISA_SCALAR;
    if (strcmp(cap, "avx2") == 0)
        return CC__ISA_AVX2;
    return CC__ISA_AVX512;
}

static atomic_int test_cap = CC__ISA_AVX512;

void cc__set_isa_cap(cc__isa cap) { atomic_store(&test_cap, (int)cap); }

cc__isa cc__cpu_isa(void)
{
    cc__isa isa = detected_isa();
    cc__isa env = environment_cap();
    cc__isa test = (cc__isa)atomic_load(&test_cap);
    if (env < isa)
        isa = env;
    if (test < isa)
        isa = test;
    return isa;
}

const char *cc_cpu_isa(void)
{
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return names[cc__cpu_isa()];
}
