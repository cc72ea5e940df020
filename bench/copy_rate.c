#include "copy_rate.h"

#include <stdlib.h>
#include <string.h>

#include "timing.h"

/* Warm copies: the fastest over COPY_BUDGET_MS (bench_time's budget; the
 * small layers' copies are timed at the clock's resolution only when
 * repeated). Cold ones: the fastest of COLD_COPIES, each after writing
 * FLUSH_BYTES, twice a 32 MiB last-level cache. */
enum { COLD_COPIES = 5 };
#define COPY_BUDGET_MS 40.0
#define FLUSH_BYTES ((size_t)64 << 20)

/* Below this many bytes a copy runs on one thread, as colconv's layers do
 * below 2^15 floats of work (CC__PARALLEL_MIN_WORK): a fork would cost
 * more than the copy. */
#define PARALLEL_BYTES ((size_t)128 << 10)

static void copy_split(char *dst, const char *src, size_t size, int threads)
{
    if (threads <= 1 || size < PARALLEL_BYTES) {
        memcpy(dst, src, size);
        return;
    }
    /* Parts of whole cache lines, one per thread. */
    const size_t part = (size / (size_t)threads + 63) & ~(size_t)63;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; t++) {
        const size_t begin = (size_t)t * part < size ? (size_t)t * part : size;
        const size_t end = begin + part < size ? begin + part : size;
        memcpy(dst + begin, src + begin, end - begin);
    }
}

typedef struct {
    char *dst;
    const char *src;
    size_t size;
    int threads;
} copy_call;

static int run_copy(void *context)
{
    const copy_call *c = context;
    copy_split(c->dst, c->src, c->size, c->threads);
    return 0;
}

/* flush NULL: warm copies (bench_time); else cold ones. */
static double time_copies(size_t bytes, int threads, char *flush)
{
    const size_t size = bytes / 2 > 64 ? bytes / 2 : 64;
    char *src = malloc(size), *dst = malloc(size);
    double best = -1;
    if (src != NULL && dst != NULL) {
        memset(src, 1, size);
        memset(dst, 2, size);
        copy_call call = {dst, src, size, threads};
        if (flush == NULL) {
            const bench_plan plan = {1, BENCH_MAX_REPS, COPY_BUDGET_MS};
            bench_times times;
            best = bench_time(run_copy, &call, &plan, &times) == 0 ? times.min_ms : -1;
        } else {
            run_copy(&call);
            for (int i = 0; i < COLD_COPIES; i++) {
                memset(flush, i, FLUSH_BYTES);
                const double start = bench_now_ms();
                run_copy(&call);
                const double ms = bench_now_ms() - start;
                best = best < 0 || ms < best ? ms : best;
            }
        }
    }
    free(src);
    free(dst);
    return best;
}
double bench_copy_ms(size_t bytes, int threads) { return time_copies(bytes, threads, NULL); }

double bench_copy_cold_ms(size_t bytes, int threads)
{
    char *flush = malloc(FLUSH_BYTES);
    const double ms = flush != NULL ? time_copies(bytes, threads, flush) : -1.0;
    free(flush);
    return ms;
}
