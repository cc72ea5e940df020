/* colconv-bench as a function, so the tests can run it. */
#ifndef COLCONV_BENCH_APP_H
#define COLCONV_BENCH_APP_H

/* Everything main() does; returns the exit status (0, 1 failed, 2 usage). */
int bench_main(int argc, char **argv);

#endif
