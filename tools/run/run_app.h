/* colconv-run as a function, so that the tests can run it. */
#ifndef COLCONV_RUN_APP_H
#define COLCONV_RUN_APP_H

#include <stdio.h>

/* Everything main() does: returns the exit status (0 done, 1 the network
 * failed to build or run, 2 bad arguments or files). Messages go to out
 * (the summary line) and err. */
int run_main(int argc, char **argv, FILE *out, FILE *err);

#endif
