/* benchdnn-style convolution descriptors, e.g. "mb1ic64ih56oc64kh3ph1n\"conv2_1\"".
 * Keys (2D, as benchdnn): mb g ic ih iw oc oh ow kh kw sh sw ph pw dh dw, and
 * n"name". As in benchdnn, dilation is 0-based (dh1 = dilation 2), missing
 * widths copy heights (iw = ih, kw = kh, sw = sh, pw = ph, dw = dh), mb and g
 * default to 1, strides to 1, pads and dilations to 0, and oh/ow, when
 * given, must equal the computed output size. Keys may come in any order
 * and be separated by '_' (oneDNN's verbose output, e.g.
 * "mb1_ic3oc96_ih227oh55kh11sh4dh0ph0_iw227ow55kw11sw4dw0pw0"), each once.
 *
 * Errors (the exact texts; AT is the rest of the text, up to 20 chars):
 *   unknown key at 'AT'         missing value at 'AT'      repeated key at 'AT'
 *   value out of range at 'AT'  unterminated name at 'AT'  name too long at 'AT'
 *   missing key ic|ih|oc|kh     KEY must be at least 0|1, not V
 *   icV and ocV must be multiples of gV
 *   inconsistent ohV: the output height is N   (likewise ow, width)
 *   no output: <cc_conv2d_output_size's message> */
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
