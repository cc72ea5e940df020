/* The estimate left is elapsed * (work left / work done), work being each
 * layer's GFLOP plus a constant (so small layers count too). */
#include "progress.h"

#include <unistd.h>

#include "timing.h"

void bench_progress_start(bench_progress *p, FILE *out, bool quiet, int layers, double work)
{
    p->out = out;
    p->quiet = quiet;
    p->tty = isatty(fileno(out)) == 1;
    p->start_ms = bench_now_ms();
    p->total_work = work;
    p->done_work = 0;
    p->layer = 0;
    p->layers = layers;
}

static void format_seconds(double s, char *text, size_t size)
{
    if (s < 90)
        snprintf(text, size, "%.0f s", s);
    else
        snprintf(text, size, "%d min %02d s", (int)(s + 0.5) / 60, (int)(s + 0.5) % 60);
}

void bench_progress_net(bench_progress *p, const char *net, int threads, int layers)
{
    if (p->quiet || p->tty)
        return;
    char elapsed[32];
    format_seconds((bench_now_ms() - p->start_ms) * 1e-3, elapsed, sizeof elapsed);
    fprintf(p->out, "colconv-bench: %s on %d thread%s (%d conv layer%s), %s elapsed\n", net,
            threads, threads == 1 ? "" : "s", layers, layers == 1 ? "" : "s", elapsed);
    fflush(p->out);
}

void bench_progress_layer(bench_progress *p, const char *net, const char *layer)
{
    p->layer++;
    if (p->quiet || !p->tty)
        return;
    const double elapsed = (bench_now_ms() - p->start_ms) * 1e-3;
    char spent[32], left[32] = "?";
    format_seconds(elapsed, spent, sizeof spent);
    if (p->done_work > 0 && p->total_work > p->done_work)
        format_seconds(elapsed * (p->total_work - p->done_work) / p->done_work, left, sizeof left);
    fprintf(p->out, "\r\033[K[%d/%d] %s %s: %s elapsed, ~%s left", p->layer, p->layers, net,
            layer, spent, left);
    fflush(p->out);
}

void bench_progress_advance(bench_progress *p, double work) { p->done_work += work; }

void bench_progress_clear(bench_progress *p)
{
    if (p->quiet || !p->tty)
        return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
}
