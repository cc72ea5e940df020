/* CPU, ISA, OpenBLAS core and build facts for the report header. */
#include "env.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include "colconv.h"

#ifndef COLCONV_BUILD_TYPE
#define COLCONV_BUILD_TYPE "unknown"
#endif

static void read_cpu_model(char *model, size_t size)
{
    snprintf(model, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *colon = strchr(line, ':');
            if (colon != NULL) {
                snprintf(model, size, "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

void bench_env_read(bench_env *env, int threads)
{
    memset(env, 0, sizeof *env);
    read_cpu_model(env->cpu_model, sizeof env->cpu_model);
    snprintf(env->isa, sizeof env->isa, "%s", cc_cpu_isa());
    snprintf(env->openblas_core, sizeof env->openblas_core, "%s", openblas_get_corename());
    snprintf(env->openblas_config, sizeof env->openblas_config, "%s", openblas_get_config());
    snprintf(env->compiler, sizeof env->compiler, "%s", __VERSION__);
    snprintf(env->build_type, sizeof env->build_type, "%s", COLCONV_BUILD_TYPE);
    snprintf(env->version, sizeof env->version, "%s", cc_version());
    const time_t now = time(NULL);
    strftime(env->date, sizeof env->date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    env->cores = omp_get_num_procs();
    env->threads = threads;
    /* A CPU with AVX2 or better on which OpenBLAS picked a pre-Haswell core. */
    const char *core = env->openblas_core;
    env->openblas_fallback = strcmp(env->isa, "scalar") != 0 &&
                             (strstr(core, "Prescott") || strstr(core, "Nehalem") ||
                              strstr(core, "Sandybridge") || strstr(core, "Core2") ||
                              strstr(core, "generic") || strstr(core, "Generic"));
}

void bench_env_print(const bench_env *env, FILE *out)
{
    fprintf(out, "colconv-bench %s (%s build, %s)\n", env->version, env->build_type, env->compiler);
    fprintf(out, "cpu: %s; ISA used: %s; cores: %d; threads: %d\n", env->cpu_model, env->isa,
            env->cores, env->threads);
    fprintf(out, "OpenBLAS core: %s; config: %s\n", env->openblas_core, env->openblas_config);
    if (env->openblas_fallback)
        fprintf(out, "warning: OpenBLAS did not recognise this CPU and runs its slow %s core; "
                     "try OPENBLAS_CORETYPE=Haswell (or SkylakeX)\n",
                env->openblas_core);
    fprintf(out, "date: %s\n", env->date);
}
