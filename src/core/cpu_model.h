/* The CPU model, as a person would name it: plans measured on one model are
 * kept apart from other models' (src/conv/plan_file.c). */
#ifndef COLCONV_CPU_MODEL_H
#define COLCONV_CPU_MODEL_H

enum { CC__CPU_MODEL_MAX = 127 };

/* The brand string from CPUID (x86: "AMD EPYC 7B13 64-Core Processor"),
 * else /proc/cpuinfo's "model name", else "unknown": never NULL nor empty,
 * at most CC__CPU_MODEL_MAX bytes, no leading or trailing blanks. Read
 * once, then cached; thread-safe. */
const char *cc__cpu_model(void);

#endif
