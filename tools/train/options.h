/* colconv-train's command line. */
#ifndef COLCONV_TRAIN_OPTIONS_H
#define COLCONV_TRAIN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colconv.h"
#include "colconv/train.h"

typedef struct {
    const char *net, *data, *out;
    cc_optimizer_params opt; /* kind, lr and the options given; the rest torch's defaults */
    int batch, epochs, threads;
    uint64_t seed;
    cc_layout layout;
    cc_init init;
    bool resume, quiet, help;
} train_options;

/* The defaults: the recipe `colconv-train --net lenet --out DIR` trains with. */
void train_options_defaults(train_options *o);

/* Parses argv (--name value or --name=value). False with a message in err
 * for an unknown option, a missing or malformed value, a value out of
 * range, or a missing --out. */
bool train_options_parse(int argc, char **argv, train_options *o, char *err, size_t err_size);

/* The usage text. */
extern const char train_usage[];

#endif
