/* colconv-bench: times every conv path on the conv layers of the classic
 * networks beside cblas_sgemm alone on the same GEMM shapes, runs the
 * networks end to end, and writes the report (see bench/README.md). */
#include "app.h"

int main(int argc, char **argv) { return bench_main(argc, argv); }
