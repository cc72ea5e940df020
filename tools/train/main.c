/* colconv-train: trains a zoo network on an MNIST-style dataset. See
 * train_usage (options.c) and README.md. */
#include <stdio.h>

#include "run.h"

int main(int argc, char **argv) { return train_main(argc, argv, stdout, stderr); }
