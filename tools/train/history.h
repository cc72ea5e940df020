/* colconv-train's per-epoch record: train.csv (read back by --resume) and
 * the curves drawn from it by gnuplot. */
#ifndef COLCONV_TRAIN_HISTORY_H
#define COLCONV_TRAIN_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int epoch; /* from 1 */
    double train_loss, train_acc, test_loss, test_acc, seconds; /* accuracies in % */
} epoch_row;

typedef struct {
    epoch_row *rows;
    int count, capacity;
} train_history;

void history_free(train_history *h);
/* Appends a row; false when out of memory. */
bool history_add(train_history *h, const epoch_row *row);
/* The row with the best test accuracy, or NULL when there is none. */
const epoch_row *history_best(const train_history *h);

/* The CSV: a header line, then "epoch,train_loss,train_acc,test_loss,
 * test_acc,seconds" rows. Saving writes PATH.tmp and renames it over PATH
 * (a crash leaves the old file or the new one). Loading wants exactly what
 * saving writes, epochs 1, 2, ... in order. False with a message in err. */
bool history_save(const char *path, const train_history *h, char *err, size_t err_size);
bool history_load(const char *path, train_history *h, char *err, size_t err_size);

typedef enum { PLOT_DONE = 0, PLOT_NO_GNUPLOT, PLOT_FAILED } plot_result;

/* Draws loss and accuracy per epoch from the CSV at csv_path into png_path
 * with gnuplot (found on PATH; PLOT_NO_GNUPLOT when it is not there). */
plot_result history_plot(const char *csv_path, const char *png_path, const char *title);

#endif
