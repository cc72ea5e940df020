/* The environment a report was measured in. */
#ifndef COLCONV_BENCH_ENV_H
#define COLCONV_BENCH_ENV_H

#include <stdio.h>

typedef struct {
    char cpu_model[128];
    char isa[16];
    char openblas_core[64];
    char openblas_config[256];
    char compiler[64];
    char build_type[32];
    char version[16];
    char date[32];
    int cores, threads;
    int openblas_fallback; /* OpenBLAS runs a generic core on a known CPU */
} bench_env;

void bench_env_read(bench_env *env, int threads);
void bench_env_print(const bench_env *env, FILE *out);

#endif
