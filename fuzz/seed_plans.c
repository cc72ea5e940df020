/* Writes the seed corpus of fuzz_plans into the folder argv[1]. Each seed is
 * a mode byte and bytes (fuzz_plans.c): 0 and a plan file of this machine
 * (valid, and broken in one way each), or 1 and records (valid, and broken
 * in one way each) that the fuzzer wraps in a valid header and checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/conv/plan.h"
#include "../src/core/crc32.h"

enum { RECORD_BYTES = 4 * (CC__PLAN_KEY_FIELDS + 2), FIELD_ISA = 18, FIELD_PATH = 19 };

static int write_seed(const char *dir, const char *name, int mode, const unsigned char *data,
                      size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    const unsigned char byte = (unsigned char)mode;
    if (f == NULL || fwrite(&byte, 1, 1, f) != 1 || fwrite(data, 1, size, f) != size ||
        fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Plans of a few layer kinds: 3x3 direct and winograd, NHWC 1x1 gemm1x1,
 * strided 5x5 im2col, depthwise direct; one thread, the ISA in use. */
static void store_plans(void)
{
    const struct {
        cc_conv2d_params p;
        cc_algo algo;
    } plans[] = {
        {{.batch = 1, .in_channels = 4, .in_h = 8, .in_w = 8, .out_channels = 4, .kernel_h = 3,
          .kernel_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
         CC_ALGO_DIRECT},
        {{.batch = 1, .in_channels = 4, .in_h = 9, .in_w = 7, .out_channels = 8, .kernel_h = 3,
          .kernel_w = 3}, CC_ALGO_WINOGRAD},
        {{.batch = 2, .in_channels = 8, .in_h = 5, .in_w = 5, .out_channels = 6, .kernel_h = 1,
          .kernel_w = 1, .layout = CC_NHWC}, CC_ALGO_GEMM1X1},
        {{.batch = 1, .in_channels = 3, .in_h = 11, .in_w = 11, .out_channels = 4, .kernel_h = 5,
          .kernel_w = 5, .stride_h = 2, .stride_w = 2, .pad_top = 2, .pad_bottom = 2,
          .pad_left = 2, .pad_right = 2}, CC_ALGO_IM2COL},
        {{.batch = 1, .in_channels = 6, .in_h = 7, .in_w = 7, .out_channels = 6, .kernel_h = 3,
          .kernel_w = 3, .dilation_h = 2, .dilation_w = 2, .pad_top = 2, .pad_bottom = 2,
          .pad_left = 2, .pad_right = 2, .groups = 6}, CC_ALGO_DIRECT},
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        cc__conv_geom g;
        cc__conv_plan plan, kept;
        if (cc__conv_geom_init(&plans[i].p, &g) != CC_OK)
            abort();
        cc__plan_key_make(&g, 1, cc__cpu_isa(), &plan.key);
        plan.algo = plans[i].algo;
        plan.threads = 1;
        if (cc__plans_store(&plan, &kept) != CC_OK)
            abort();
    }
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = malloc(1 << 16);
    if (f == NULL || data == NULL)
        abort();
    *size = fread(data, 1, 1 << 16, f);
    fclose(f);
    return data;
}

static void fix_crc(unsigned char *data, size_t size)
{
    put_u32(data + size - 4, cc__crc32(0, data, size - 4));
}

/* The file seeds: valid, and broken one way each. */
static int file_seeds(const char *dir, unsigned char *valid, size_t size, size_t records)
{
    unsigned char *copy = malloc(size + 8);
    int failures = write_seed(dir, "file_valid", 0, valid, size);
    failures += write_seed(dir, "file_truncated", 0, valid, size - 10);
    failures += write_seed(dir, "file_header_only", 0, valid, records);
    memcpy(copy, valid, size);
    copy[0] = 'X';
    failures += write_seed(dir, "file_bad_magic", 0, copy, size);
    memcpy(copy, valid, size);
    copy[size - 1] ^= 0x10;
    failures += write_seed(dir, "file_bad_crc", 0, copy, size);
    memcpy(copy, valid, size);
    copy[32] ^= 0x20; /* the CPU model's first byte */
    fix_crc(copy, size);
    failures += write_seed(dir, "file_other_model", 0, copy, size);
    memcpy(copy, valid, size);
    put_u32(copy + 20, CC_VERSION_PATCH + 1);
    fix_crc(copy, size);
    failures += write_seed(dir, "file_other_version", 0, copy, size);
    memcpy(copy, valid, size);
    memcpy(copy + size, "trailing", 8);
    failures += write_seed(dir, "file_trailing", 0, copy, size + 8);
    free(copy);
    return failures;
}

/* The record seeds: valid, and one record broken one way each. */
static int record_seeds(const char *dir, const unsigned char *records, size_t size)
{
    unsigned char *copy = malloc(size);
    int failures = write_seed(dir, "records_valid", 1, records, size);
    const struct {
        const char *name;
        int record, field;
        uint32_t value;
    } changes[] = {
        {"records_unknown_path", 1, FIELD_PATH, 9},
        {"records_reference_path", 0, FIELD_PATH, CC_ALGO_REFERENCE},
        {"records_gemm1x1_on_3x3", 0, FIELD_PATH, CC_ALGO_GEMM1X1},
        {"records_winograd_strided", 3, FIELD_PATH, CC_ALGO_WINOGRAD},
        {"records_other_isa", 2, FIELD_ISA, 0},
        {"records_split_too_wide", 2, 20, 2},
        {"records_batch_0", 4, 0, 0},
        {"records_negative_pad", 0, 9, 0xffffffffu},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        memcpy(copy, records, size);
        put_u32(copy + (size_t)changes[i].record * RECORD_BYTES + 4 * (size_t)changes[i].field,
                changes[i].value);
        failures += write_seed(dir, changes[i].name, 1, copy, size);
    }
    memcpy(copy, records, size);
    memcpy(copy + RECORD_BYTES, copy, RECORD_BYTES);
    failures += write_seed(dir, "records_duplicate", 1, copy, size);
    failures += write_seed(dir, "records_partial", 1, records, size - 5);
    free(copy);
    return failures;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seed_plans DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/valid.ccp.tmp", argv[1]);
    store_plans();
    if (cc_plans_save(path) != CC_OK) {
        fprintf(stderr, "cannot save %s: %s\n", path, cc_last_error());
        return 1;
    }
    size_t size;
    unsigned char *valid = read_all(path, &size);
    remove(path);
    const size_t records = size - 4 - (size_t)cc_plans_count() * RECORD_BYTES;
    int failures = file_seeds(argv[1], valid, size, records);
    failures += record_seeds(argv[1], valid + records, size - records - 4);
    free(valid);
    return failures != 0;
}
