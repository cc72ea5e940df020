/* colconv-run: runs an ONNX model once on an input file and writes its
 * output (usage: colconv-run --help). */
#include <stdio.h>

#include "run_app.h"

int main(int argc, char **argv) { return run_main(argc, argv, stdout, stderr); }
