/* colconv internals of measured plans (conv.h, "Plans"): the key, the
 * process-wide cache (plan_cache.c), the measurement (plan_measure.c), the
 * mode and AUTO's choice (plan_choose.c), the plan file (plan_file.c,
 * docs/plans-format.md). */
#ifndef COLCONV_PLAN_H
#define COLCONV_PLAN_H

#include "conv_internal.h"

/* A plan's key: the geometry in the order of cc_conv2d_params, with stride,
 * dilation and groups resolved (>= 1) and the activation left out, then the
 * thread count a create sees and the ISA in use. The CPU model is the
 * process's: plans of other models never enter the cache (plan_file.c). Only
 * int32_t fields, so keys compare with memcmp. */
typedef struct {
    int32_t batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w;
    int32_t stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right;
    int32_t dilation_h, dilation_w, groups, layout;
    int32_t threads; /* cc__run_threads() at create, >= 1 */
    int32_t isa;     /* a cc__isa */
} cc__plan_key;

enum { CC__PLAN_KEY_FIELDS = 19 };
_Static_assert(sizeof(cc__plan_key) == CC__PLAN_KEY_FIELDS * sizeof(int32_t),
               "a key has no padding");

/* A plan: what AUTO runs for its key. threads is 1..key.threads. */
typedef struct {
    cc__plan_key key;
    cc_algo algo;
    int threads;
} cc__conv_plan;

/* The most threads a plan may name (a plan file's bound). */
enum { CC__PLAN_MAX_THREADS = 1 << 16 };

void cc__plan_key_make(const cc__conv_geom *g, int threads, cc__isa isa, cc__plan_key *key);
/* The parameters of key's layer, activation none; of g's layer. */
cc_conv2d_params cc__plan_key_params(const cc__plan_key *key);
cc_conv2d_params cc__geom_params(const cc__conv_geom *g);
/* CC_OK when plan could have been made by this library: its geometry is
 * valid with stride, dilation and groups >= 1, its path one AUTO may pick
 * and can run the layer, its thread counts and ISA in range; else
 * CC_ERR_INVALID_ARG or CC_ERR_UNSUPPORTED with a message. */
cc_status cc__plan_check(const cc__conv_plan *plan);

/* ---- the cache (plan_cache.c), its own mutex inside each call ---- */

/* Copies the plan of key into *plan; false on a miss. */
bool cc__plans_lookup(const cc__plan_key *key, cc__conv_plan *plan);
/* Adds plan as the newest unless its key is cached already; *kept gets the
 * plan the cache holds for the key afterwards (the earlier one, if any).
 * CC_ERR_NOMEM, cache unchanged, when it cannot grow. */
cc_status cc__plans_store(const cc__conv_plan *plan, cc__conv_plan *kept);
/* Adds count plans (keys distinct) as the newest, in order, replacing the
 * cached plans of the same keys; all or nothing (CC_ERR_NOMEM). */
cc_status cc__plans_add(const cc__conv_plan *plans, size_t count);
/* A copy of every plan, oldest first (cc__free it; NULL when count is 0). */
cc_status cc__plans_snapshot(cc__conv_plan **plans, size_t *count);

/* ---- measuring (plan_measure.c) ---- */

/* Times every path that can run g (and thread splits below `threads`) on
 * scratch data, as conv.h says; the fastest goes to *choice (threads: the
 * split, never above `threads`); ties go to the cost rule's pick on `isa`. CC_ERR_NOMEM when scratch data or an
 * operator cannot be allocated. */
cc_status cc__plan_measure(const cc__conv_geom *g, cc__isa isa, int threads,
                           cc__conv_choice *choice);

/* Tests replace the measurement's clock: timer(algo, threads) is then the
 * milliseconds a run of that path on that many threads is taken to have
 * lasted (the run itself still happens). NULL: the wall clock. */
typedef double (*cc__plan_timer)(cc_algo algo, int threads);
void cc__plan_set_timer(cc__plan_timer timer);
/* The monotonic wall clock in milliseconds (what the screens and rounds time
 * by, and what cc_plans_measuring_ms sums). */
double cc__plan_now_ms(void);

/* ---- the mode (plan_choose.c) ---- */

/* COLCONV_PLANNING's value (NULL: unset) as a mode: "measure" in any ASCII
 * case is MEASURE; anything else, "" and NULL are ESTIMATE. Pure. */
cc_planning cc__planning_from_env(const char *value);

#endif
