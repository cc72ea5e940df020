/* The time left is the epoch's elapsed time scaled by the steps left. */
#include "progress.h"

#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24

double train_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_init(train_progress *p, FILE *out, bool quiet, int epochs)
{
    *p = (train_progress){.out = out, .quiet = quiet, .epochs = epochs};
    p->tty = isatty(fileno(out)) == 1;
}

void progress_epoch_start(train_progress *p, int epoch, int steps)
{
    p->epoch = epoch;
    p->steps = steps;
    p->step = 0;
    p->quarter = 0;
    p->start_s = p->shown_s = train_now_s();
    p->loss_sum = 0.0;
    p->correct = p->images = 0;
}

static void show_bar(train_progress *p, double now)
{
    char bar[BAR_WIDTH + 1];
    const int filled = p->steps > 0 ? BAR_WIDTH * p->step / p->steps : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    const double elapsed = now - p->start_s;
    const double left = p->step > 0 ? elapsed * (p->steps - p->step) / p->step : 0.0;
    fprintf(p->out, "\r\033[Kepoch %d/%d [%s] %3d%% loss %.4f acc %.2f%% %.0f img/s %d:%02d left",
            p->epoch + 1, p->epochs, bar, p->steps > 0 ? 100 * p->step / p->steps : 100,
            p->loss_sum / (double)(p->images > 0 ? p->images : 1),
            100.0 * (double)p->correct / (double)(p->images > 0 ? p->images : 1),
            elapsed > 0 ? (double)p->images / elapsed : 0.0, (int)left / 60, (int)left % 60);
    fflush(p->out);
}

static void show_line(train_progress *p, double now)
{
    const double elapsed = now - p->start_s;
    fprintf(p->out, "epoch %d/%d: %d of %d steps, loss %.4f, acc %.2f%%, %.0f img/s\n",
            p->epoch + 1, p->epochs, p->step, p->steps,
            p->loss_sum / (double)(p->images > 0 ? p->images : 1),
            100.0 * (double)p->correct / (double)(p->images > 0 ? p->images : 1),
            elapsed > 0 ? (double)p->images / elapsed : 0.0);
    fflush(p->out);
}

void progress_step(train_progress *p, float loss, int correct, int images)
{
    p->step++;
    p->loss_sum += (double)loss * images;
    p->correct += correct;
    p->images += images;
    if (p->quiet)
        return;
    const double now = train_now_s();
    if (p->tty) {
        if (now - p->shown_s >= 0.1 || p->step == p->steps) {
            p->shown_s = now;
            show_bar(p, now);
        }
    } else if (p->steps >= 4 && p->step < p->steps && 4 * p->step >= (p->quarter + 1) * p->steps) {
        p->quarter++;
        show_line(p, now);
    }
}

void progress_epoch_end(train_progress *p)
{
    if (p->quiet || !p->tty)
        return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
}
