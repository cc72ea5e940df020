/* The CPU model string: CPUID leaves 0x80000002-4 on x86 (48 bytes, padded
 * with blanks or NULs), /proc/cpuinfo elsewhere. */
#include "cpu_model.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static char model[CC__CPU_MODEL_MAX + 1];
static pthread_once_t model_once = PTHREAD_ONCE_INIT;

/* Copies text into model without leading and trailing blanks (and a line
 * break), truncated to CC__CPU_MODEL_MAX bytes. */
static void set_trimmed(const char *text, size_t length)
{
    while (length > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        length--;
    }
    while (length > 0 && strchr(" \t\r\n", text[length - 1]) != NULL)
        length--;
    if (length > CC__CPU_MODEL_MAX)
        length = CC__CPU_MODEL_MAX;
    memcpy(model, text, length);
    model[length] = '\0';
}

static void read_cpuid_brand(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned regs[12], top = __get_cpuid_max(0x80000000u, NULL);
    if (top < 0x80000004u)
        return;
    for (unsigned leaf = 0; leaf < 3; leaf++)
        __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1],
                    &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
    char brand[sizeof regs + 1];
    memcpy(brand, regs, sizeof regs);
    brand[sizeof regs] = '\0';
    set_trimmed(brand, strlen(brand));
#endif
}

static void read_proc_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (model[0] == '\0' && fgets(line, sizeof line, f) != NULL) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL)
            set_trimmed(colon + 1, strlen(colon + 1));
    }
    fclose(f);
}

static void detect(void)
{
    read_cpuid_brand();
    if (model[0] == '\0')
        read_proc_cpuinfo();
    if (model[0] == '\0')
        set_trimmed("unknown", 7);
}

const char *cc__cpu_model(void)
{
    pthread_once(&model_once, detect);
    return model;
}
