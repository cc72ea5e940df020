/* benchdnn-style convolution descriptors, e.g. "mb1ic64ih56oc64kh3ph1n\"conv2_1\"".
 * Keys (2D, as benchdnn): mb g ic ih iw oc oh ow kh kw sh sw ph pw dh dw, and
 * n"name". As in benchdnn, dilation is 0-based (dh1 = dilation 2), missing
 * widths copy heights (iw = ih, kw = kh, sw = sh, pw = ph, dw = dh), mb and g
 * default to 1, strides to 1, pads and dilations to 0, and oh/ow, when
 * given, must equal the computed output size. */
#ifndef COLCONV_BENCH_DESC_H
#define COLCONV_BENCH_DESC_H

#include <stddef.h>

#include "colconv.h"

typedef struct {
    cc_conv2d_params params; /* PyTorch conventions: dilation 1 = none */
    char name[64];
} bench_layer;

/* Parses text into layer. Returns 0, or -1 with a one-line reason in error. */
int bench_parse_desc(const char *text, bench_layer *layer, char *error, size_t error_size);

/* Writes the canonical descriptor of layer (benchdnn's form). */
void bench_format_desc(const bench_layer *layer, char *text, size_t size);

#endif
