/* The process-wide plan cache: an array of plans in the order they were
 * added, oldest first, behind one mutex. It grows by doubling up to
 * CC_PLANS_MAX; beyond that the oldest plan goes first. A lookup scans from
 * the newest (a few microseconds for a full cache, against a create's
 * milliseconds). */
#include <pthread.h>
#include <string.h>

#include "plan.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cc__conv_plan *plans; /* [capacity], the first `count` in use */
static size_t count, capacity;

enum { FIRST_CAPACITY = 64 };

_Static_assert(FIRST_CAPACITY <= CC_PLANS_MAX, "the first block fits the bound");

/* Index of key's plan, or count. Under the lock. */
static size_t find(const cc__plan_key *key)
{
    for (size_t i = count; i-- > 0;)
        if (memcmp(&plans[i].key, key, sizeof *key) == 0)
            return i;
    return count;
}

/* Room for `wanted` plans (<= CC_PLANS_MAX). Under the lock. */
static cc_status reserve(size_t wanted)
{
    if (wanted <= capacity)
        return CC_OK;
    size_t grown = capacity > 0 ? capacity : FIRST_CAPACITY;
    while (grown < wanted)
        grown *= 2;
    if (grown > CC_PLANS_MAX)
        grown = CC_PLANS_MAX;
    cc__conv_plan *moved = cc__alloc_array(grown, sizeof *moved, "plans: cache");
    if (moved == NULL)
        return CC_ERR_NOMEM;
    if (count > 0)
        memcpy(moved, plans, count * sizeof *moved);
    cc__free(plans);
    plans = moved;
    capacity = grown;
    return CC_OK;
}

/* Appends plan as the newest, the oldest leaving a full cache. Room is
 * reserved. Under the lock. */
static void append(const cc__conv_plan *plan)
{
    if (count == CC_PLANS_MAX) {
        memmove(plans, plans + 1, (count - 1) * sizeof *plans);
        count--;
    }
    plans[count++] = *plan;
}

bool cc__plans_lookup(const cc__plan_key *key, cc__conv_plan *plan)
{
    pthread_mutex_lock(&lock);
    const size_t i = find(key);
    const bool hit = i < count;
    if (hit)
        *plan = plans[i];
    pthread_mutex_unlock(&lock);
    return hit;
}

cc_status cc__plans_store(const cc__conv_plan *plan, cc__conv_plan *kept)
{
    pthread_mutex_lock(&lock);
    const size_t i = find(&plan->key);
    cc_status status = CC_OK;
    if (i < count) {
        *kept = plans[i];
    } else {
        status = reserve(count < CC_PLANS_MAX ? count + 1 : count);
        if (status == CC_OK)
            append(plan);
        *kept = *plan;
    }
    pthread_mutex_unlock(&lock);
    return status;
}

/* Whether key is among n plans. */
static bool among(const cc__plan_key *key, const cc__conv_plan *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(&list[k].key, key, sizeof *key) == 0)
            return true;
    return false;
}

/* The cache after a load, made aside and swapped in: the cached plans whose
 * keys the load does not replace, oldest first, then the loaded ones in
 * file order, and of all that the newest CC_PLANS_MAX (never a plan just
 * loaded: a load holds at most CC_PLANS_MAX). */
cc_status cc__plans_add(const cc__conv_plan *added, size_t n)
{
    if (n > CC_PLANS_MAX)
        return cc__fail(CC_ERR_INVALID_ARG, "plans: %zu plans exceed the cache's %d", n,
                        CC_PLANS_MAX);
    if (n == 0)
        return CC_OK;
    pthread_mutex_lock(&lock);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        kept += !among(&plans[i].key, added, n);
    const size_t drop = kept + n > CC_PLANS_MAX ? kept + n - CC_PLANS_MAX : 0;
    size_t room = FIRST_CAPACITY;
    while (room < kept + n - drop)
        room *= 2;
    room = room < CC_PLANS_MAX ? room : CC_PLANS_MAX;
    cc__conv_plan *next = cc__alloc_array(room, sizeof *next, "plans: cache");
    if (next != NULL) {
        size_t used = 0, skipped = 0;
        for (size_t i = 0; i < count; i++)
            if (!among(&plans[i].key, added, n) && skipped++ >= drop)
                next[used++] = plans[i];
        memcpy(next + used, added, n * sizeof *next);
        cc__free(plans);
        plans = next;
        count = used + n;
        capacity = room;
    }
    pthread_mutex_unlock(&lock);
    return next != NULL ? CC_OK : CC_ERR_NOMEM;
}

cc_status cc__plans_snapshot(cc__conv_plan **copy, size_t *copied)
{
    *copy = NULL;
    pthread_mutex_lock(&lock);
    *copied = count;
    cc_status status = CC_OK;
    if (count > 0) {
        *copy = cc__alloc_array(count, sizeof **copy, "plans: copy of the cache");
        if (*copy != NULL)
            memcpy(*copy, plans, count * sizeof **copy);
        else
            status = CC_ERR_NOMEM;
    }
    pthread_mutex_unlock(&lock);
    if (status != CC_OK)
        *copied = 0;
    return status;
}

size_t cc_plans_count(void)
{
    pthread_mutex_lock(&lock);
    const size_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

void cc_plans_clear(void)
{
    pthread_mutex_lock(&lock);
    cc__free(plans);
    plans = NULL;
    count = capacity = 0;
    pthread_mutex_unlock(&lock);
}
