/* gnuplot script generation. The CSV columns used (see csv.c): 4 path,
 * 5 threads, 9 index (the layer's position in its thread count's run),
 * 15 gflops, 24 status (a failed row has no bar). The x tics are written
 * into the script from the run, so the script only filters the CSV. */
#include "plot.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rows.h"

extern char **environ;

/* colconv's paths in report order, then the peers. */
static const char *const path_order[] = {"reference", "direct", "im2col", "gemm1x1",
                                         "winograd", "winograd-f6x6", "auto", "onednn_any",
                                         "onednn_nchw", "onednn_nhwc", "onednn_wino"};
enum { MAX_PLOT_PATHS = sizeof path_order / sizeof path_order[0] };

/* A gnuplot single-quoted string: quotes are doubled. */
static void put_quoted(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\'')
            fputc('\'', f);
        fputc(*c, f);
    }
    fputc('\'', f);
}

/* The paths with at least one row that ran, the roof excluded, in path_order. */
static int plotted_paths(const bench_run *run, char paths[MAX_PLOT_PATHS][24])
{
    bool present[MAX_PLOT_PATHS] = {false};
    for (size_t i = 0; i < run->layer_count; i++) {
        bench_row rows[BENCH_MAX_ROWS_PER_LAYER];
        const size_t n = bench_layer_rows(&run->layers[i], 0, rows);
        for (size_t k = 0; k < n; k++)
            for (size_t p = 0; p < MAX_PLOT_PATHS; p++)
                present[p] |= !rows[k].failed && strcmp(path_order[p], rows[k].path) == 0;
    }
    int count = 0;
    for (size_t p = 0; p < MAX_PLOT_PATHS; p++)
        if (present[p])
            snprintf(paths[count++], sizeof paths[0], "%s", path_order[p]);
    return count;
}

static int layers_at(const bench_run *run, int threads)
{
    int n = 0;
    for (size_t i = 0; i < run->layer_count; i++)
        n += run->layers[i].threads == threads;
    return n;
}

static void put_xtics(FILE *f, const bench_run *run, int threads)
{
    fprintf(f, "set xtics (");
    int first = 1;
    for (size_t i = 0; i < run->layer_count; i++) {
        const bench_layer_result *l = &run->layers[i];
        if (l->threads != threads)
            continue;
        char label[128];
        snprintf(label, sizeof label, "%s %s", l->net, l->layer.name);
        fprintf(f, "%s", first ? "" : ", ");
        put_quoted(f, label);
        fprintf(f, " %d", l->index);
        first = 0;
    }
    fprintf(f, ")\n");
}

static void put_panel(FILE *f, const bench_run *run, int threads, int path_count,
                      const char *csv_path)
{
    const int n = layers_at(run, threads);
    fprintf(f, "set title 'GFLOP/s per conv layer and path, %d thread%s'\n", threads,
            threads == 1 ? "" : "s");
    fprintf(f, "set xrange [-0.6:%d.4]\n", n - 1);
    put_xtics(f, run, threads);
    fprintf(f, "file = ");
    put_quoted(f, csv_path);
    fprintf(f, "\nplot for [k=1:%d] file using (column(9) + offset(k)):"
               "((strcol(4) eq word(paths, k) && column(5) == %d && strcol(24) eq 'ok') ? "
               "column(15) : 1/0) "
               "with boxes title word(paths, k), \\\n",
            path_count, threads);
    fprintf(f, "  file using 9:((strcol(4) eq 'sgemm' && column(5) == %d) ? column(15) : 1/0) "
               "with points pt 5 ps 0.9 lc rgb 'black' title 'SGEMM roof (same GEMM shape)'",
            threads);
    const double peak = run->env.fma_peak_gflops;
    if (peak > 0) {
        fprintf(f, ", \\\n  %.3f with lines dt 2 lw 2 lc rgb 'red' title 'FMA peak, 1 core'", peak);
        if (threads > 1)
            fprintf(f, ", \\\n  %.3f with lines dt 3 lw 2 lc rgb 'dark-red' "
                       "title 'FMA peak x %d threads'",
                    peak * threads, threads);
    }
    fprintf(f, "\n");
}

static int write_script(const bench_run *run, const char *csv_path, const char *png_path,
                        const char *script_path)
{
    char paths[MAX_PLOT_PATHS][24];
    const int path_count = plotted_paths(run, paths);
    int most = 1;
    for (int t = 0; t < run->thread_count; t++)
        most = layers_at(run, run->threads[t]) > most ? layers_at(run, run->threads[t]) : most;
    FILE *f = fopen(script_path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "# colconv-bench chart: gnuplot %s\n", script_path);
    fprintf(f, "set terminal pngcairo size %d,%d noenhanced font ',9'\nset output ",
            most * 44 + 200 > 900 ? most * 44 + 200 : 900, 520 * run->thread_count + 60);
    put_quoted(f, png_path);
    fprintf(f, "\nset datafile separator comma\nset style fill solid 0.85 border -1\n"
               "set logscale y\nset ylabel 'GFLOP/s (log scale)'\nset grid ytics\n"
               "set key outside top center horizontal\nset xtics rotate by -50 nomirror\n"
               "set bmargin 12\n");
    fprintf(f, "paths = '");
    for (int p = 0; p < path_count; p++)
        fprintf(f, "%s%s", p ? " " : "", paths[p]);
    fprintf(f, "'\nwidth = 0.8 / %d\nset boxwidth width absolute\n"
               "offset(k) = (k - (%d + 1) / 2.0) * width\n",
            path_count > 0 ? path_count : 1, path_count);
    fprintf(f, "set multiplot layout %d,1 title 'colconv-bench %s on %s, %s'\n", run->thread_count,
            run->env.version, run->env.cpu_model, run->env.date);
    for (int t = 0; t < run->thread_count; t++)
        put_panel(f, run, run->threads[t], path_count, csv_path);
    fprintf(f, "unset multiplot\n");
    const int failed = ferror(f);
    return fclose(f) != 0 || failed ? -1 : 0;
}

int bench_plot(const bench_run *run, const char *csv_path, const char *png_path)
{
    char script[1024];
    const size_t len = strlen(png_path);
    const size_t stem = len > 4 && strcmp(png_path + len - 4, ".png") == 0 ? len - 4 : len;
    snprintf(script, sizeof script, "%.*s.gp", (int)stem, png_path);
    if (write_script(run, csv_path, png_path, script) != 0) {
        fprintf(stderr, "colconv-bench: cannot write %s\n", script);
        return -1;
    }
    char *argv[] = {"gnuplot", script, NULL};
    pid_t pid;
    const int spawned = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    int status = 0;
    if (spawned == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0)
        return 0;
    if (spawned == ENOENT || (spawned == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127))
        fprintf(stderr, "colconv-bench: gnuplot is not installed, so there is no chart "
                        "(apt-get install gnuplot-nox); the JSON and CSV reports are written, and "
                        "'gnuplot %s' draws %s later.\n",
                script, png_path);
    else
        fprintf(stderr, "colconv-bench: gnuplot failed on %s; no chart\n", script);
    return -1;
}
