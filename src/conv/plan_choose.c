/* The planning mode and CC_ALGO_AUTO's choice: the cached plan, else the
 * cost rule (ESTIMATE), else a measurement (MEASURE), cached. One layer is
 * measured at a time in the process (the `measuring` mutex): timings taken
 * side by side would disturb each other, and two creates of one layer
 * racing to measure it get the first one's plan (looked up again under the
 * mutex), so concurrent creates agree. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* -1 until cc_set_planning or the first read of COLCONV_PLANNING. */
static atomic_int mode = -1;
static pthread_mutex_t measuring = PTHREAD_MUTEX_INITIALIZER;
/* Under `measuring`: the time spent in cc__plan_measure. */
static double measured_ms;

double cc_plans_measuring_ms(void)
{
    pthread_mutex_lock(&measuring);
    const double ms = measured_ms;
    pthread_mutex_unlock(&measuring);
    return ms;
}

cc_planning cc__planning_from_env(const char *value)
{
    static const char measure[] = "measure";
    if (value == NULL || strlen(value) != sizeof measure - 1)
        return CC_PLAN_ESTIMATE;
    for (size_t i = 0; i < sizeof measure - 1; i++) {
        const char c = value[i] >= 'A' && value[i] <= 'Z' ? (char)(value[i] - 'A' + 'a') : value[i];
        if (c != measure[i])
            return CC_PLAN_ESTIMATE;
    }
    return CC_PLAN_MEASURE;
}

void cc_set_planning(cc_planning value)
{
    if (value == CC_PLAN_ESTIMATE || value == CC_PLAN_MEASURE)
        atomic_store(&mode, (int)value);
}

cc_planning cc_get_planning(void)
{
    int current = atomic_load(&mode);
    if (current < 0) {
        const int initial = (int)cc__planning_from_env(getenv("COLCONV_PLANNING"));
        atomic_compare_exchange_strong(&mode, &current, initial);
        current = atomic_load(&mode);
    }
    return (cc_planning)current;
}

static void use(const cc__conv_plan *plan, cc__conv_choice *choice)
{
    *choice = (cc__conv_choice){plan->algo, plan->threads};
}

/* Under the measuring mutex: another create may have measured the layer
 * while this one waited. */
static cc_status measure_and_store(const cc__conv_geom *g, const cc__plan_key *key,
                                   cc__conv_choice *choice)
{
    cc__conv_plan plan;
    if (cc__plans_lookup(key, &plan)) {
        use(&plan, choice);
        return CC_OK;
    }
    const double start = cc__plan_now_ms();
    cc_status status = cc__plan_measure(g, (cc__isa)key->isa, key->threads, choice);
    measured_ms += cc__plan_now_ms() - start;
    if (status != CC_OK)
        return status;
    plan = (cc__conv_plan){*key, choice->algo, choice->threads > 0 ? choice->threads : key->threads};
    cc__conv_plan kept;
    status = cc__plans_store(&plan, &kept);
    if (status == CC_OK)
        use(&kept, choice);
    return status;
}

cc_status cc__plan_choose(const cc__conv_geom *g, cc__isa isa, cc__conv_choice *choice)
{
    cc__plan_key key;
    cc__plan_key_make(g, cc__run_threads(), isa, &key);
    cc__conv_plan plan;
    if (cc__plans_lookup(&key, &plan)) {
        use(&plan, choice);
        return CC_OK;
    }
    if (cc_get_planning() != CC_PLAN_MEASURE) {
        *choice = (cc__conv_choice){cc__auto_choose(g, isa, cc__run_threads()), 0};
        return CC_OK;
    }
    pthread_mutex_lock(&measuring);
    const cc_status status = measure_and_store(g, &key, choice);
    pthread_mutex_unlock(&measuring);
    return status;
}

cc_algo cc_conv2d_estimate(const cc_conv2d_params *p)
{
    if (p == NULL) {
        cc__fail(CC_ERR_INVALID_ARG, "conv2d_estimate: p is NULL");
        return CC_ALGO_AUTO;
    }
    cc__conv_geom g;
    if (cc__conv_geom_init(p, &g) != CC_OK)
        return CC_ALGO_AUTO;
    return cc__auto_choose(&g, cc__cpu_isa(), cc__run_threads());
}
