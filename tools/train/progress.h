/* colconv-train's progress on stderr. On a terminal: one line rewritten at
 * most ten times a second (bar, running loss and accuracy, images/s, time
 * left in the epoch). Otherwise (a log, CI): a plain line at each quarter
 * of the epoch. Nothing with quiet. */
#ifndef COLCONV_TRAIN_PROGRESS_H
#define COLCONV_TRAIN_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    bool tty, quiet;
    int epoch, epochs, steps, step, quarter;
    double start_s, shown_s;
    double loss_sum;
    long correct, images;
} train_progress;

/* Seconds on a monotonic clock. */
double train_now_s(void);

void progress_init(train_progress *p, FILE *out, bool quiet, int epochs);
/* An epoch of `steps` steps begins (epoch counts from 0). */
void progress_epoch_start(train_progress *p, int epoch, int steps);
/* A step is done: its mean loss, correct predictions and images. */
void progress_step(train_progress *p, float loss, int correct, int images);
/* Clears the terminal line before the epoch's summary prints. */
void progress_epoch_end(train_progress *p);

#endif
