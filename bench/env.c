/* CPU, ISA, OpenBLAS, OpenMP and build facts for the report header. */
#include "env.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include "colconv.h"
#include "onednn.h"

#ifndef COLCONV_BUILD_TYPE
#define COLCONV_BUILD_TYPE "unknown"
#endif
#ifndef COLCONV_C_COMPILER
#define COLCONV_C_COMPILER "cc " __VERSION__
#endif
#ifndef COLCONV_C_FLAGS
#define COLCONV_C_FLAGS ""
#endif

static void read_cpu_model(char *model, size_t size)
{
    snprintf(model, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(model, size, "%s", colon + (colon[1] == ' ' ? 2 : 1));
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

static void read_cpu_flags(char *flags, size_t size)
{
    __builtin_cpu_init();
    snprintf(flags, size, "%s%s%s", __builtin_cpu_supports("avx512f") ? "avx512f " : "",
             __builtin_cpu_supports("avx2") ? "avx2 " : "",
             __builtin_cpu_supports("fma") ? "fma" : "");
    if (flags[0] == '\0')
        snprintf(flags, size, "none of avx2, fma, avx512f");
}

/* The file name of the first mapped shared object whose name contains one
 * of the needles (Linux's /proc/self/maps), or "" if none. */
static void find_library(const char *const *needles, char *name, size_t size)
{
    name[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char line[512];
    while (name[0] == '\0' && fgets(line, sizeof line, f) != NULL) {
        const char *path = strchr(line, '/');
        if (path == NULL)
            continue;
        for (const char *const *n = needles; *n != NULL; n++)
            if (strstr(path, *n) != NULL) {
                snprintf(name, size, "%s", path);
                name[strcspn(name, "\n")] = '\0';
                break;
            }
    }
    fclose(f);
}

static void read_openmp(char *text, size_t size)
{
    static const char *const runtimes[] = {"libgomp", "libomp", "libiomp", NULL};
    char library[160];
    find_library(runtimes, library, sizeof library);
    snprintf(text, size, "_OPENMP %d, %s", _OPENMP,
             library[0] != '\0' ? library : "runtime linked statically");
}

/* A CPU with AVX2 or better on which OpenBLAS runs a core for older CPUs:
 * its DYNAMIC_ARCH dispatch did not recognise the model. */
static bool openblas_fell_back(const char *core, const char *cpu_flags)
{
    static const char *const old_cores[] = {"Prescott", "Core2",     "Penryn",  "Dunnington",
                                            "Nehalem",  "Atom",      "Sandybridge", "Barcelona",
                                            "Bulldozer", "Piledriver", "Opteron", "Katmai",
                                            "generic",  "Generic",   NULL};
    if (strstr(cpu_flags, "avx2") == NULL)
        return false;
    for (const char *const *c = old_cores; *c != NULL; c++)
        if (strstr(core, *c) != NULL)
            return true;
    return false;
}

static void read_openblas(bench_env *env)
{
    static const char *const names[] = {"libopenblas", "libblas.so", NULL};
    snprintf(env->openblas_core, sizeof env->openblas_core, "%s", openblas_get_corename());
    snprintf(env->openblas_config, sizeof env->openblas_config, "%s", openblas_get_config());
    /* The config starts "OpenBLAS 0.3.21 ...". */
    if (sscanf(env->openblas_config, "OpenBLAS %31s", env->openblas_version) != 1)
        snprintf(env->openblas_version, sizeof env->openblas_version, "unknown");
    const int parallel = openblas_get_parallel();
    snprintf(env->openblas_threading, sizeof env->openblas_threading, "%s",
             parallel == 2 ? "OpenMP" : parallel == 1 ? "pthreads" : "sequential");
    find_library(names, env->openblas_library, sizeof env->openblas_library);
    env->openblas_fallback = openblas_fell_back(env->openblas_core, env->cpu_flags);
}

/* Other processes running while we measure make timings noisy (on a busy
 * 2-core machine, 2-thread runs wait for a scheduler tick at barriers). */
static double read_load_average(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

void bench_env_read(bench_env *env)
{
    memset(env, 0, sizeof *env);
    read_cpu_model(env->cpu_model, sizeof env->cpu_model);
    read_cpu_flags(env->cpu_flags, sizeof env->cpu_flags);
    snprintf(env->isa, sizeof env->isa, "%s", cc_cpu_isa());
    if (cc_check_max_isa_env() != CC_OK)
        snprintf(env->isa_cap_problem, sizeof env->isa_cap_problem, "%s", cc_last_error());
    env->cores = omp_get_num_procs();
    read_openblas(env);
    read_openmp(env->openmp, sizeof env->openmp);
    snprintf(env->compiler, sizeof env->compiler, "%s", COLCONV_C_COMPILER);
    snprintf(env->compiler_flags, sizeof env->compiler_flags, "%s", COLCONV_C_FLAGS);
    snprintf(env->build_type, sizeof env->build_type, "%s", COLCONV_BUILD_TYPE);
    snprintf(env->version, sizeof env->version, "%s", cc_version());
    const char *onednn = bench_onednn_version();
    snprintf(env->onednn_version, sizeof env->onednn_version, "%s", onednn ? onednn : "");
    env->load_average = read_load_average();
    const time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(env->date, sizeof env->date, "%Y-%m-%d %H:%M:%S UTC", &utc);
}

void bench_env_print(const bench_env *env, FILE *out)
{
    fprintf(out, "colconv-bench %s, %s build; %s; flags: %s\n", env->version, env->build_type,
            env->compiler, env->compiler_flags[0] ? env->compiler_flags : "(none)");
    fprintf(out, "cpu: %s; has: %s; colconv kernels: %s; cores: %d; threads: %s\n",
            env->cpu_model, env->cpu_flags, env->isa, env->cores, env->threads);
    if (env->isa_cap_problem[0])
        fprintf(out, "warning: %s\n", env->isa_cap_problem);
    fprintf(out, "OpenBLAS %s, core %s, %s threads (%s); config: %s\n", env->openblas_version,
            env->openblas_core, env->openblas_threading,
            env->openblas_library[0] ? env->openblas_library : "linked statically",
            env->openblas_config);
    if (env->openblas_fallback)
        fprintf(out, "warning: OpenBLAS did not recognise this CPU and runs its %s core, made for "
                     "older CPUs: SGEMM is slower than it could be. Set OPENBLAS_CORETYPE to the "
                     "nearest core it knows (Haswell or Zen for AVX2, SkylakeX for AVX-512) and "
                     "run again.\n",
                env->openblas_core);
    fprintf(out, "OpenMP: %s\n", env->openmp);
    if (env->onednn_version[0])
        fprintf(out, "oneDNN: %s\n", env->onednn_version);
    if (env->fma_peak_gflops > 0)
        fprintf(out, "FMA peak, one core (%s loop): %.1f GFLOP/s\n", env->fma_peak_isa,
                env->fma_peak_gflops);
    if (env->planning[0])
        fprintf(out, "AUTO's planning: %s\n", env->planning);
    fprintf(out, "date: %s; load average before the run: %.2f\n", env->date, env->load_average);
    if (env->load_average >= 1.0)
        fprintf(out, "warning: load average %.1f on %d cores: other processes compete for the CPU, "
                     "so timings will be noisy, multi-threaded ones most (threads wait for the "
                     "scheduler at barriers)\n",
                env->load_average, env->cores);
}
