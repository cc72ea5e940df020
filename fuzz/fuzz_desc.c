/* libFuzzer target: the bench's descriptor parser (bench/desc.c). The bytes
 * are a descriptor (NUL-terminated here). A parse either fails with a
 * reason or gives parameters that cc_conv2d_output_size accepts;
 * then formatting into a buffer of any size (the first byte picks it) stays
 * inside it, and a full-size format parses back to the same layer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what, const char *text)
{
    if (!ok) {
        fprintf(stderr, "fuzz_desc: %s: '%s'\n", what, text);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t format_size = 1 + data[0] % 160;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    bench_layer layer, again;
    char error[128];
    error[0] = '\0';
    if (bench_parse_desc(text, &layer, error, sizeof error) != 0) {
        require(strlen(error) > 0, "no error text", text);
        free(text);
        return 0;
    }
    int oh, ow;
    require(cc_conv2d_output_size(&layer.params, &oh, &ow) == CC_OK, "accepted, no output size",
            text);
    char *small = malloc(format_size);
    bench_format_desc(&layer, small, format_size);
    require(memchr(small, '\0', format_size) != NULL, "unterminated format", text);
    char full[512];
    bench_format_desc(&layer, full, sizeof full);
    require(bench_parse_desc(full, &again, error, sizeof error) == 0, "format does not parse", full);
    require(memcmp(&again.params, &layer.params, sizeof layer.params) == 0 &&
                strcmp(again.name, layer.name) == 0,
            "format does not round-trip", full);
    free(small);
    free(text);
    return 0;
}
