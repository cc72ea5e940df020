/* colconv-train's run: validate everything, then train, evaluate and write
 * the outputs after each epoch. */
#ifndef COLCONV_TRAIN_RUN_H
#define COLCONV_TRAIN_RUN_H

#include <stdio.h>

#include "options.h"

/* colconv-train's exit status: 0 done; 2 a bad network, option
 * value (one the library rejects), dataset or --resume directory, found
 * before anything is written; 1 a failure after that (I/O, memory).
 * Progress and results go to `out`, messages to `err`. */
enum { TRAIN_EXIT_OK = 0, TRAIN_EXIT_FAILED = 1, TRAIN_EXIT_USAGE = 2 };
int train_run(const train_options *o, FILE *out, FILE *err);

/* The whole program: parses argv (a bad command line: 2), prints the usage
 * for --help, runs. */
int train_main(int argc, char **argv, FILE *out, FILE *err);

#endif
