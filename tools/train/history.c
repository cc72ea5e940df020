/* The CSV's columns are fixed; the plot reads them by number. */
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char csv_header[] = "epoch,train_loss,train_acc,test_loss,test_acc,seconds";

void history_free(train_history *h)
{
    free(h->rows);
    *h = (train_history){NULL, 0, 0};
}

bool history_add(train_history *h, const epoch_row *row)
{
    if (h->count == h->capacity) {
        const int capacity = h->capacity > 0 ? 2 * h->capacity : 16;
        epoch_row *rows = realloc(h->rows, (size_t)capacity * sizeof *rows);
        if (rows == NULL)
            return false;
        h->rows = rows;
        h->capacity = capacity;
    }
    h->rows[h->count++] = *row;
    return true;
}

const epoch_row *history_best(const train_history *h)
{
    const epoch_row *best = NULL;
    for (int i = 0; i < h->count; i++)
        if (best == NULL || h->rows[i].test_acc > best->test_acc)
            best = &h->rows[i];
    return best;
}

bool history_save(const char *path, const train_history *h, char *err, size_t err_size)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, err_size, "%s: cannot create: %s", tmp, strerror(errno));
        return false;
    }
    fprintf(f, "%s\n", csv_header);
    for (int i = 0; i < h->count; i++) {
        const epoch_row *r = &h->rows[i];
        fprintf(f, "%d,%.6f,%.4f,%.6f,%.4f,%.3f\n", r->epoch, r->train_loss, r->train_acc,
                r->test_loss, r->test_acc, r->seconds);
    }
    const bool written = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !written || rename(tmp, path) != 0) {
        snprintf(err, err_size, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

bool history_load(const char *path, train_history *h, char *err, size_t err_size)
{
    *h = (train_history){NULL, 0, 0};
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    char line[512];
    bool ok = fgets(line, sizeof line, f) != NULL && strncmp(line, csv_header,
                                                              sizeof csv_header - 1) == 0;
    while (ok && fgets(line, sizeof line, f) != NULL) {
        epoch_row r;
        int used = 0;
        ok = sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf%n", &r.epoch, &r.train_loss, &r.train_acc,
                    &r.test_loss, &r.test_acc, &r.seconds, &used) == 6 &&
             (line[used] == '\n' || line[used] == '\0') && r.epoch == h->count + 1 &&
             history_add(h, &r);
    }
    fclose(f);
    if (!ok) {
        snprintf(err, err_size, "%s: not a colconv-train CSV (line %d)", path, h->count + 2);
        history_free(h);
    }
    return ok;
}

/* gnuplot's path when an executable of that name is on PATH. */
static bool gnuplot_on_path(void)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    while (*path != '\0') {
        const size_t len = strcspn(path, ":");
        char candidate[4200];
        snprintf(candidate, sizeof candidate, "%.*s/gnuplot", (int)len, path);
        if (len > 0 && access(candidate, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

plot_result history_plot(const char *csv_path, const char *png_path, const char *title)
{
    if (!gnuplot_on_path())
        return PLOT_NO_GNUPLOT;
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return PLOT_FAILED;
    fprintf(g,
            "set terminal pngcairo size 1000,420 noenhanced\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set key autotitle columnhead\n"
            "set multiplot layout 1,2 title '%s'\n"
            "set xlabel 'epoch'\nset grid\nset xrange [0:*]\n"
            "set title 'loss'\n"
            "plot '%s' using 1:2 with linespoints title 'train', '' using 1:4 with "
            "linespoints title 'test'\n"
            "set title 'accuracy (%%)'\n"
            "plot '%s' using 1:3 with linespoints title 'train', '' using 1:5 with "
            "linespoints title 'test'\n"
            "unset multiplot\n",
            png_path, title, csv_path, csv_path);
    return pclose(g) == 0 ? PLOT_DONE : PLOT_FAILED;
}
