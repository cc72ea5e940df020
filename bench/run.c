/* Growable arrays of results. */
#include "run.h"

#include <stdlib.h>

static int grow(void **items, size_t *capacity, size_t count, size_t item_size)
{
    if (count < *capacity)
        return 0;
    const size_t wanted = *capacity ? 2 * *capacity : 32;
    void *bigger = realloc(*items, wanted * item_size);
    if (bigger == NULL)
        return -1;
    *items = bigger;
    *capacity = wanted;
    return 0;
}

int bench_run_add_layer(bench_run *run, const bench_layer_result *layer)
{
    void *items = run->layers;
    if (grow(&items, &run->layer_capacity, run->layer_count, sizeof *layer) != 0)
        return -1;
    run->layers = items;
    run->layers[run->layer_count++] = *layer;
    return 0;
}

int bench_run_add_net(bench_run *run, const bench_net_result *net)
{
    void *items = run->nets;
    if (grow(&items, &run->net_capacity, run->net_count, sizeof *net) != 0)
        return -1;
    run->nets = items;
    run->nets[run->net_count++] = *net;
    return 0;
}

void bench_run_free(bench_run *run)
{
    free(run->layers);
    free(run->nets);
    run->layers = NULL, run->nets = NULL;
    run->layer_count = run->layer_capacity = run->net_count = run->net_capacity = 0;
}

int bench_run_failures(const bench_run *run)
{
    int failures = 0;
    for (size_t i = 0; i < run->layer_count; i++)
        failures += bench_layer_failures(&run->layers[i]);
    for (size_t i = 0; i < run->net_count; i++)
        failures += run->nets[i].failed;
    return failures;
}
