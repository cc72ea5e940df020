#include "copy_rate.h"

#include <stdlib.h>
#include <string.h>

#include "timing.h"

/* Timed copies: the fastest of at least MIN_COPIES, more while they take
 * under COPY_BUDGET_MS (small layers are timed at the clock's resolution
 * only when repeated). */
enum { MIN_COPIES = 5, MAX_COPIES = 2000, COLD_COPIES = 5 };
#define COPY_BUDGET_MS 40.0
/* Bytes written between cold copies: twice a 32 MiB last-level cache. */
#define FLUSH_BYTES ((size_t)64 << 20)

/* Below this many bytes a copy runs on one thread, as colconv's layers do
 * below 2^15 floats of work (CC__LAYER_PARALLEL_WORK): a fork would cost
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

/* flush NULL: warm copies, time-boxed; else COLD_COPIES, each after
 * writing flush (FLUSH_BYTES). */
static double time_copies(size_t bytes, int threads, char *flush)
{
    const size_t size = bytes / 2 > 64 ? bytes / 2 : 64;
    char *src = malloc(size), *dst = malloc(size);
    if (src == NULL || dst == NULL) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 1, size);
    memset(dst, 2, size);
    copy_split(dst, src, size, threads);
    double best = -1, spent = 0;
    const int most = flush != NULL ? COLD_COPIES : MAX_COPIES;
    for (int i = 0; i < most && (i < MIN_COPIES || spent < COPY_BUDGET_MS); i++) {
        if (flush != NULL)
            memset(flush, i, FLUSH_BYTES);
        const double start = bench_now_ms();
        copy_split(dst, src, size, threads);
        const double ms = bench_now_ms() - start;
        spent += ms;
        best = best < 0 || ms < best ? ms : best;
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
