/* The environment a report was measured in: the header of every report. */
#ifndef COLCONV_BENCH_ENV_H
#define COLCONV_BENCH_ENV_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    char cpu_model[128];
    char cpu_flags[64];      /* what the CPU has: "avx512f avx2 fma", "avx2 fma" */
    char isa[16];            /* what colconv's kernels use: cc_cpu_isa() */
    char isa_cap_problem[160]; /* cc_check_max_isa_env's message, or "" */
    int cores;               /* omp_get_num_procs() */
    char threads[64];        /* the thread counts measured, "1,2" */
    char openblas_version[32];
    char openblas_core[64];
    char openblas_config[256];
    char openblas_library[160];  /* the shared object loaded */
    char openblas_threading[16]; /* "OpenMP", "pthreads", "sequential" */
    bool openblas_fallback;      /* a generic or older core on a newer CPU */
    char openmp[192];            /* spec version and runtime library */
    char compiler[64];
    char compiler_flags[192];
    char build_type[32];
    char version[16];
    char onednn_version[16];     /* "" when built without oneDNN */
    char date[32];
    double load_average;         /* /proc/loadavg, 1 minute, at start; -1 if unknown */
    char fma_peak_isa[16];       /* the loop that measured the peak */
    double fma_peak_gflops;      /* one core; 0 when not measured */
    char planning[16];           /* how AUTO chose: "estimate" or "measure" (--planning) */
} bench_env;

/* Reads everything but the FMA peak and the thread list. */
void bench_env_read(bench_env *env);
void bench_env_print(const bench_env *env, FILE *out);

#endif
