/* Measured plans (conv.h, "Plans"): the mode and COLCONV_PLANNING's parser;
 * measured plans that compute what the reference computes and survive a
 * save, clear and load; files of another CPU model, library version or ISA
 * skipped; truncated, bit-flipped and hostile files refused whole; the IO
 * errors; the cache's bound; concurrent creates under MEASURE; named paths
 * and ESTIMATE leaving the cache alone; a network built under MEASURE;
 * allocation failures. No test asserts a speed. */
#include "support.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/conv/plan.h"
#include "../src/core/cpu_model.h"
#include "../src/core/crc32.h"

/* The file's layout (docs/plans-format.md). */
enum { OFFSET_PATCH = 20, OFFSET_ISA = 24, OFFSET_MODEL_LENGTH = 28, OFFSET_MODEL = 32 };
enum { RECORD_FIELDS = CC__PLAN_KEY_FIELDS + 2, RECORD_BYTES = 4 * RECORD_FIELDS };
enum { FIELD_THREADS = 17, FIELD_ISA = 18, FIELD_PATH = 19, FIELD_SPLIT = 20 };

static char *tmp_path(const char *name)
{
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "/tmp/colconv_test_plans_%d_%s", (int)getpid(), name);
    return path;
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static size_t records_at(const unsigned char *data)
{
    return OFFSET_MODEL + get_u32(data + OFFSET_MODEL_LENGTH) + 4;
}

static unsigned char *field_at(unsigned char *data, size_t record, int field)
{
    return data + records_at(data) + record * RECORD_BYTES + 4 * (size_t)field;
}

/* The checksum of everything before it, rewritten. */
static void fix_crc(unsigned char *data, size_t size)
{
    put_u32(data + size - 4, cc__crc32(0, data, size - 4));
}

/* ---- layers ---- */

static cc_conv2d_params layer(int c, int hw, int oc, int k, int stride, int pad, cc_layout layout)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = 1, p.in_channels = c, p.in_h = p.in_w = hw, p.out_channels = oc;
    p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
    p.layout = layout;
    p.activation = CC_ACT_RELU;
    return p;
}

/* Small, so that measuring them is quick under the sanitizers too; the
 * first has work enough for two threads (so its splits are timed), the
 * others cover 1x1, strides, NHWC and depthwise. */
static cc_conv2d_params test_layer(int i)
{
    switch (i) {
    case 0:
        return layer(32, 20, 32, 3, 1, 1, CC_NCHW);
    case 1:
        return layer(24, 9, 16, 1, 1, 0, CC_NCHW);
    case 2:
        return layer(8, 11, 12, 5, 2, 2, CC_NCHW);
    case 3:
        return layer(16, 10, 16, 3, 1, 1, CC_NHWC);
    default: {
        cc_conv2d_params p = layer(8, 9, 8, 3, 1, 1, CC_NCHW);
        p.groups = 8;
        return p;
    }
    }
}
enum { TEST_LAYERS = 5 };

typedef struct {
    float *weights, *bias, *input;
    size_t outputs;
} layer_data;

static layer_data layer_data_new(const cc_conv2d_params *p, uint64_t seed)
{
    const tst_conv_counts n = tst_conv_sizes(p);
    layer_data d = {malloc(n.weights * sizeof(float)), malloc((size_t)p->out_channels * sizeof(float)),
                    malloc(n.input * sizeof(float)), n.output};
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, d.weights, n.weights, false);
    tst_fill(&rng, d.bias, (size_t)p->out_channels, false);
    tst_fill(&rng, d.input, n.input, false);
    return d;
}

static void layer_data_free(layer_data *d)
{
    free(d->weights);
    free(d->bias);
    free(d->input);
}

/* Creates p with AUTO; returns its path and thread count; checks its output
 * against the reference's. */
static cc_algo create_auto(const cc_conv2d_params *p, int *threads)
{
    layer_data d = layer_data_new(p, 7);
    cc_conv2d *op = NULL, *ref = NULL;
    assert_int_equal(cc_conv2d_create(p, CC_ALGO_AUTO, d.weights, d.bias, &op), CC_OK);
    assert_int_equal(cc_conv2d_create(p, CC_ALGO_REFERENCE, d.weights, d.bias, &ref), CC_OK);
    tst_buffer got = tst_buffer_new(d.outputs), want = tst_buffer_new(d.outputs);
    tst_buffer_poison(&got);
    assert_int_equal(cc_conv2d_run(op, d.input, got.data), CC_OK);
    assert_int_equal(cc_conv2d_run(ref, d.input, want.data), CC_OK);
    const double tolerance = tst_conv_tolerance(want.data, d.outputs);
    const size_t bad = tst_first_mismatch(got.data, want.data, d.outputs, tolerance);
    if (bad < d.outputs) {
        char text[192];
        tst_describe(p, text, sizeof text);
        fail_msg("%s on %s: output %zu is %g, the reference's %g", cc_algo_name(cc_conv2d_algo(op)),
                 text, bad, got.data[bad], want.data[bad]);
    }
    assert_true(tst_buffer_guards_intact(&got));
    const cc_algo algo = cc_conv2d_algo(op);
    if (threads != NULL)
        *threads = cc_conv2d_num_threads(op);
    tst_buffer_free(&got);
    tst_buffer_free(&want);
    cc_conv2d_destroy(op);
    cc_conv2d_destroy(ref);
    layer_data_free(&d);
    return algo;
}

static bool auto_may_pick(cc_algo a)
{
    return a == CC_ALGO_DIRECT || a == CC_ALGO_IM2COL || a == CC_ALGO_GEMM1X1 ||
           a == CC_ALGO_WINOGRAD;
}

static int reset(void **state)
{
    (void)state;
    cc_plans_clear();
    cc_set_planning(CC_PLAN_ESTIMATE);
    cc_set_num_threads(2);
    return 0;
}

/* ---- the mode ---- */

static void env_values_parse(void **state)
{
    (void)state;
    assert_int_equal(cc__planning_from_env(NULL), CC_PLAN_ESTIMATE);
    assert_int_equal(cc__planning_from_env(""), CC_PLAN_ESTIMATE);
    assert_int_equal(cc__planning_from_env("estimate"), CC_PLAN_ESTIMATE);
    assert_int_equal(cc__planning_from_env("measure"), CC_PLAN_MEASURE);
    assert_int_equal(cc__planning_from_env("MEASURE"), CC_PLAN_MEASURE);
    assert_int_equal(cc__planning_from_env("Measure"), CC_PLAN_MEASURE);
    const char *others[] = {"measured", "measur", " measure", "measure ", "1", "exhaustive"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(cc__planning_from_env(others[i]), CC_PLAN_ESTIMATE);
}

static void mode_set_and_get(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    assert_int_equal(cc_get_planning(), CC_PLAN_MEASURE);
    cc_set_planning((cc_planning)7);
    assert_int_equal(cc_get_planning(), CC_PLAN_MEASURE);
    cc_set_planning(CC_PLAN_ESTIMATE);
    assert_int_equal(cc_get_planning(), CC_PLAN_ESTIMATE);
}

/* ---- measuring, saving, loading ---- */

/* Measure, save, clear, load, create under ESTIMATE: the same plans. */
static void plans_round_trip(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    cc_algo measured[TEST_LAYERS];
    int threads[TEST_LAYERS];
    for (int i = 0; i < TEST_LAYERS; i++) {
        const cc_conv2d_params p = test_layer(i);
        measured[i] = create_auto(&p, &threads[i]);
        assert_true(auto_may_pick(measured[i]));
        assert_true(threads[i] >= 1 && threads[i] <= 2);
        assert_int_equal(cc_plans_count(), (size_t)i + 1);
    }
    const char *path = tmp_path("round_trip.ccp");
    assert_int_equal(cc_plans_save(path), CC_OK);
    cc_plans_clear();
    assert_int_equal(cc_plans_count(), 0);
    cc_set_planning(CC_PLAN_ESTIMATE);
    size_t loaded = 99;
    assert_int_equal(cc_plans_load(path, &loaded), CC_OK);
    assert_int_equal(loaded, TEST_LAYERS);
    assert_int_equal(cc_plans_count(), TEST_LAYERS);
    for (int i = 0; i < TEST_LAYERS; i++) {
        const cc_conv2d_params p = test_layer(i);
        int again;
        assert_int_equal(create_auto(&p, &again), measured[i]);
        assert_int_equal(again, threads[i]);
    }
    /* Loading the same file again replaces each plan by itself. */
    assert_int_equal(cc_plans_load(path, NULL), CC_OK);
    assert_int_equal(cc_plans_count(), TEST_LAYERS);
    remove(path);
}

/* The layer the faked clocks below time: every path but GEMM1X1 takes it. */
static cc_conv2d_params timed_layer(void)
{
    const cc_conv2d_params p = {.batch = 2, .in_channels = 48, .in_h = 20, .in_w = 20,
                                .out_channels = 40, .kernel_h = 3, .kernel_w = 3,
                                .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    return p;
}

/* The plan MEASURE makes for timed_layer() with the clock faked by timer. */
static cc_algo measured_with(cc__plan_timer timer, int *threads)
{
    const cc_conv2d_params p = timed_layer();
    cc_plans_clear();
    cc_set_planning(CC_PLAN_MEASURE);
    cc__plan_set_timer(timer);
    const cc_algo picked = create_auto(&p, threads);
    cc__plan_set_timer(NULL);
    return picked;
}

/* The timer of picks_the_fastest_timed: `fastest` on `fastest_threads`
 * threads takes 0.1 ms, everything else 0.12 or 0.13 ms (so that several
 * finalists reach the rounds and their medians decide; runs this short
 * have every split screened). */
static cc_algo fastest;
static int fastest_threads;

static double fake_timer(cc_algo algo, int threads)
{
    if (algo == fastest)
        return threads == fastest_threads ? 0.10 : 0.12;
    return 0.13;
}

/* MEASURE keeps the fastest of the paths and splits it timed, whichever it
 * is (the clock faked, so nothing here depends on this machine's speed). */
static void picks_the_fastest_timed(void **state)
{
    (void)state;
    const cc_algo paths[] = {CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_WINOGRAD};
    for (int i = 0; i < 3; i++)
        for (int threads = 1; threads <= 2; threads++) {
            fastest = paths[i];
            fastest_threads = threads;
            int used = 0;
            const cc_algo picked = measured_with(fake_timer, &used);
            if (picked != fastest || used != threads)
                fail_msg("%s on %d thread(s) timed fastest; the plan runs %s on %d",
                         cc_algo_name(fastest), threads, cc_algo_name(picked), used);
        }
}

/* The timer of long_runs_keep_all_threads: every run on one thread takes
 * 0.9 of the 2 ms a run on all threads takes, and runs on one thread are
 * counted. */
static int one_thread_runs;

static double long_runs_timer(cc_algo algo, int threads)
{
    (void)algo;
    if (threads == 1) {
        one_thread_runs++;
        return 1.8;
    }
    return 2.0;
}

/* Paths whose warm-up on all threads took milliseconds are screened on all
 * threads only (fewer threads cannot win there, and their runs would cost
 * planning time): the plan runs on both threads though one would have
 * timed faster, and no run on one thread was made. */
static void long_runs_keep_all_threads(void **state)
{
    (void)state;
    one_thread_runs = 0;
    int used = 0;
    measured_with(long_runs_timer, &used);
    assert_int_equal(used, 2);
    assert_int_equal(one_thread_runs, 0);
}

/* The timer of leaves_out_slow_warmups: `slow` takes 4 ms, the others 1,
 * and its calls are counted. */
static cc_algo slow;
static int slow_runs;

static double slow_path_timer(cc_algo algo, int threads)
{
    (void)threads;
    if (algo != slow)
        return 1.0;
    slow_runs++;
    return 4.0;
}

/* A path whose warm-up took 4x the first path's is timed no further (its
 * screen runs only cost planning time), and the plan is another path. */
static void leaves_out_slow_warmups(void **state)
{
    (void)state;
    const cc_conv2d_params p = timed_layer();
    const cc_algo estimate = cc_conv2d_estimate(&p);
    slow = estimate == CC_ALGO_WINOGRAD ? CC_ALGO_IM2COL : CC_ALGO_WINOGRAD;
    slow_runs = 0;
    assert_int_not_equal(measured_with(slow_path_timer, NULL), slow);
    assert_int_equal(slow_runs, 1);
}

/* The timer of keeps_the_estimate_in_the_rounds: the cost rule's pick
 * takes 10 ms in its first two runs (the warm-up and the screen: a hiccup
 * of the machine), 1 ms after; every other path 1.2 ms. */
static cc_algo hiccup_path;
static int hiccup_runs;

static double hiccup_timer(cc_algo algo, int threads)
{
    (void)threads;
    if (algo != hiccup_path)
        return 1.2;
    return ++hiccup_runs <= 2 ? 10.0 : 1.0;
}

/* The cost rule's pick stays a finalist whatever its one screen run took,
 * and wins on its rounds. */
static void keeps_the_estimate_in_the_rounds(void **state)
{
    (void)state;
    const cc_conv2d_params p = timed_layer();
    hiccup_path = cc_conv2d_estimate(&p);
    hiccup_runs = 0;
    cc_set_num_threads(1);
    assert_int_equal(measured_with(hiccup_timer, NULL), hiccup_path);
    assert_true(hiccup_runs > 2);
}

/* A plan's thread count is part of its key: one thread is another plan. */
static void thread_count_is_in_the_key(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    const cc_conv2d_params p = test_layer(0);
    create_auto(&p, NULL);
    cc_set_num_threads(1);
    int threads;
    create_auto(&p, &threads);
    assert_int_equal(threads, 1);
    assert_int_equal(cc_plans_count(), 2);
    cc_set_planning(CC_PLAN_ESTIMATE);
    create_auto(&p, NULL);
    assert_int_equal(cc_plans_count(), 2);
}

static void estimate_caches_nothing(void **state)
{
    (void)state;
    const double measuring = cc_plans_measuring_ms();
    for (int i = 0; i < TEST_LAYERS; i++) {
        const cc_conv2d_params p = test_layer(i);
        assert_int_equal(create_auto(&p, NULL), cc_conv2d_estimate(&p));
    }
    assert_int_equal(cc_plans_count(), 0);
    assert_true(cc_plans_measuring_ms() == measuring);
    cc_conv2d_params bad = test_layer(0);
    bad.kernel_h = 0;
    assert_int_equal(cc_conv2d_estimate(&bad), CC_ALGO_AUTO);
    assert_true(strlen(cc_last_error()) > 0);
    assert_int_equal(cc_conv2d_estimate(NULL), CC_ALGO_AUTO);
}

/* cc_plans_measuring_ms grows by the time a MEASURE create spends
 * measuring, and not when the plan is cached or the path named. */
static void measuring_time_is_summed(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    const cc_conv2d_params p = test_layer(0);
    const double before = cc_plans_measuring_ms();
    const double start = cc__plan_now_ms();
    create_auto(&p, NULL);
    const double elapsed = cc__plan_now_ms() - start, measured = cc_plans_measuring_ms() - before;
    if (!(measured > 0 && measured <= elapsed))
        fail_msg("a measured create took %g ms, of which %g measuring", elapsed, measured);
    create_auto(&p, NULL);
    layer_data d = layer_data_new(&p, 3);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_DIRECT, d.weights, d.bias, &op), CC_OK);
    cc_conv2d_destroy(op);
    layer_data_free(&d);
    assert_true(cc_plans_measuring_ms() - before == measured);
}

/* A create that names a path neither fills nor consults the cache. */
static void named_paths_leave_the_cache(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    const cc_conv2d_params p = test_layer(1);
    const cc_algo named[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_GEMM1X1};
    layer_data d = layer_data_new(&p, 3);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        cc_conv2d *op = NULL;
        assert_int_equal(cc_conv2d_create(&p, named[i], d.weights, d.bias, &op), CC_OK);
        assert_int_equal(cc_conv2d_algo(op), named[i]);
        cc_conv2d_destroy(op);
    }
    assert_int_equal(cc_plans_count(), 0);
    /* A plan naming the direct path; a create naming im2col still gets it. */
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    cc__conv_plan plan, kept;
    cc__plan_key_make(&g, cc__run_threads(), cc__cpu_isa(), &plan.key);
    plan.algo = CC_ALGO_DIRECT, plan.threads = 1;
    assert_int_equal(cc__plans_store(&plan, &kept), CC_OK);
    cc_conv2d *op = NULL;
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_IM2COL, d.weights, d.bias, &op), CC_OK);
    assert_int_equal(cc_conv2d_algo(op), CC_ALGO_IM2COL);
    cc_conv2d_destroy(op);
    /* AUTO uses the plan, whatever the mode. */
    assert_int_equal(cc_conv2d_create(&p, CC_ALGO_AUTO, d.weights, d.bias, &op), CC_OK);
    assert_int_equal(cc_conv2d_algo(op), CC_ALGO_DIRECT);
    assert_int_equal(cc_conv2d_num_threads(op), 1);
    cc_conv2d_destroy(op);
    cc_set_planning(CC_PLAN_ESTIMATE);
    assert_int_equal(create_auto(&p, NULL), CC_ALGO_DIRECT);
    assert_int_equal(cc_plans_count(), 1);
    layer_data_free(&d);
}

/* ---- synthetic plans, for the file tests ---- */

/* A valid plan of a 1x1 layer whose batch is `id` (ids make keys distinct). */
static cc__conv_plan synthetic_plan(int id)
{
    const cc_conv2d_params p = layer(3, 4, 2, 1, 1, 0, CC_NCHW);
    cc__conv_geom g;
    assert_int_equal(cc__conv_geom_init(&p, &g), CC_OK);
    g.n = id;
    cc__conv_plan plan;
    cc__plan_key_make(&g, 1, cc__cpu_isa(), &plan.key);
    plan.algo = id % 2 ? CC_ALGO_DIRECT : CC_ALGO_GEMM1X1;
    plan.threads = 1;
    return plan;
}

static void store_synthetic(int first, int count)
{
    for (int id = first; id < first + count; id++) {
        const cc__conv_plan plan = synthetic_plan(id);
        cc__conv_plan kept;
        assert_int_equal(cc__plans_store(&plan, &kept), CC_OK);
        assert_memory_equal(&kept, &plan, sizeof plan);
    }
}

static bool cached(int id)
{
    const cc__conv_plan plan = synthetic_plan(id);
    cc__conv_plan found;
    return cc__plans_lookup(&plan.key, &found) && found.algo == plan.algo;
}

/* A file of plans 1..count, its bytes in *size. */
static unsigned char *synthetic_file(const char *path, int count, size_t *size)
{
    cc_plans_clear();
    store_synthetic(1, count);
    assert_int_equal(cc_plans_save(path), CC_OK);
    cc_plans_clear();
    return tst_read_file(path, size);
}

/* Loads data as a file into a cache holding plans 100..102: status, and
 * the cache must be as it was unless the status is CC_OK. */
static cc_status load_bytes(const unsigned char *data, size_t size, size_t *loaded)
{
    cc_plans_clear();
    store_synthetic(100, 3);
    const char *path = tmp_path("bytes.ccp");
    tst_write_file(path, data, size);
    *loaded = 12345;
    const cc_status status = cc_plans_load(path, loaded);
    remove(path);
    if (status != CC_OK) {
        assert_int_equal(*loaded, 0);
        assert_int_equal(cc_plans_count(), 3);
        assert_true(cached(100) && cached(101) && cached(102));
        assert_true(strlen(cc_last_error()) > 0);
    }
    return status;
}

static void expect_format_error(const unsigned char *data, size_t size, const char *what)
{
    size_t loaded;
    const cc_status status = load_bytes(data, size, &loaded);
    if (status != CC_ERR_FORMAT)
        fail_msg("%s: status %s, expected bad file format", what, cc_status_str(status));
}

static void synthetic_round_trip(void **state)
{
    (void)state;
    size_t size, loaded;
    const char *path = tmp_path("synthetic.ccp");
    unsigned char *data = synthetic_file(path, 4, &size);
    assert_int_equal(size, records_at(data) + 4 * RECORD_BYTES + 4);
    assert_memory_equal(data, "COLCPLAN", 8);
    assert_int_equal(get_u32(data + 8), 1);
    assert_int_equal(get_u32(data + OFFSET_ISA), (uint32_t)cc__cpu_isa());
    assert_int_equal(get_u32(data + OFFSET_MODEL_LENGTH), strlen(cc__cpu_model()));
    assert_memory_equal(data + OFFSET_MODEL, cc__cpu_model(), strlen(cc__cpu_model()));
    assert_int_equal(load_bytes(data, size, &loaded), CC_OK);
    assert_int_equal(loaded, 4);
    assert_int_equal(cc_plans_count(), 7);
    for (int id = 1; id <= 4; id++)
        assert_true(cached(id));
    /* An empty cache saves a valid file of no plans. */
    cc_plans_clear();
    assert_int_equal(cc_plans_save(path), CC_OK);
    assert_int_equal(cc_plans_load(path, &loaded), CC_OK);
    assert_int_equal(loaded, 0);
    remove(path);
    free(data);
}

/* Another CPU model, library version or ISA: skipped, not an error. */
static void other_machines_are_skipped(void **state)
{
    (void)state;
    size_t size, loaded;
    unsigned char *data = synthetic_file(tmp_path("other.ccp"), 2, &size);
    remove(tmp_path("other.ccp"));
    unsigned char *copy = malloc(size);
    memcpy(copy, data, size);
    copy[OFFSET_MODEL] ^= 0x20; /* another model of the same length */
    fix_crc(copy, size);
    assert_int_equal(load_bytes(copy, size, &loaded), CC_OK);
    assert_int_equal(loaded, 0);
    assert_int_equal(cc_plans_count(), 3);
    memcpy(copy, data, size);
    put_u32(copy + OFFSET_PATCH, CC_VERSION_PATCH + 1);
    fix_crc(copy, size);
    assert_int_equal(load_bytes(copy, size, &loaded), CC_OK);
    assert_int_equal(loaded, 0);
    /* Another library version's records are not read at all. */
    put_u32(field_at(copy, 0, FIELD_PATH), 99);
    fix_crc(copy, size);
    assert_int_equal(load_bytes(copy, size, &loaded), CC_OK);
    assert_int_equal(loaded, 0);
    /* One record of another ISA: the other one loads. */
    memcpy(copy, data, size);
    put_u32(field_at(copy, 0, FIELD_ISA), cc__cpu_isa() == CC__ISA_SCALAR ? 1 : 0);
    fix_crc(copy, size);
    assert_int_equal(load_bytes(copy, size, &loaded), CC_OK);
    assert_int_equal(loaded, 1);
    assert_int_equal(cc_plans_count(), 4);
    assert_false(cached(1));
    assert_true(cached(2));
    free(copy);
    free(data);
}

static void truncated_files_are_refused(void **state)
{
    (void)state;
    size_t size;
    unsigned char *data = synthetic_file(tmp_path("truncated.ccp"), 2, &size);
    remove(tmp_path("truncated.ccp"));
    for (size_t cut = 0; cut < size; cut++) {
        char what[64];
        snprintf(what, sizeof what, "the first %zu of %zu bytes", cut, size);
        expect_format_error(data, cut, what);
    }
    free(data);
}

/* Every single-bit change anywhere: the checksum (or the structure) fails. */
static void bit_flips_are_refused(void **state)
{
    (void)state;
    size_t size;
    unsigned char *data = synthetic_file(tmp_path("flips.ccp"), 2, &size);
    remove(tmp_path("flips.ccp"));
    for (size_t byte = 0; byte < size; byte++)
        for (int bit = 0; bit < 8; bit++) {
            data[byte] ^= (unsigned char)(1u << bit);
            char what[64];
            snprintf(what, sizeof what, "byte %zu bit %d flipped", byte, bit);
            expect_format_error(data, size, what);
            data[byte] ^= (unsigned char)(1u << bit);
        }
    free(data);
}

typedef struct {
    const char *what;
    int record, field;
    uint32_t value;
} field_change;

/* Files with a valid checksum whose contents are impossible: refused whole,
 * also when the bad record follows a good one. */
static void hostile_records_are_refused(void **state)
{
    (void)state;
    const field_change changes[] = {
        {"path auto", 1, FIELD_PATH, CC_ALGO_AUTO},
        {"path reference", 1, FIELD_PATH, CC_ALGO_REFERENCE},
        {"path winograd-f6x6", 1, FIELD_PATH, CC_ALGO_WINOGRAD_F6X6},
        {"unknown path 7", 1, FIELD_PATH, 7},
        {"unknown path 2^31", 1, FIELD_PATH, 0x80000000u},
        {"winograd on a 1x1 layer", 1, FIELD_PATH, CC_ALGO_WINOGRAD},
        {"gemm1x1 on a 3x3 kernel", 1, 5, 3},
        {"batch 0", 1, 0, 0},
        {"batch above INT32_MAX", 1, 0, 0x80000000u},
        {"kernel beyond the padded input", 1, 6, 9},
        {"stride 0", 1, 7, 0},
        {"dilation 0", 1, 13, 0},
        {"groups 0", 1, 15, 0},
        {"groups not dividing the channels", 1, 15, 2},
        {"layout 2", 1, 16, 2},
        {"threads 0", 1, FIELD_THREADS, 0},
        {"threads 2^20", 1, FIELD_THREADS, 1u << 20},
        {"split 0", 1, FIELD_SPLIT, 0},
        {"split above the threads", 1, FIELD_SPLIT, 2},
        {"ISA 3", 1, FIELD_ISA, 3},
        {"a repeated key", 1, 0, 1},
    };
    size_t size;
    unsigned char *data = synthetic_file(tmp_path("hostile.ccp"), 2, &size);
    remove(tmp_path("hostile.ccp"));
    unsigned char *copy = malloc(size);
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        memcpy(copy, data, size);
        const field_change *c = &changes[i];
        put_u32(field_at(copy, (size_t)c->record, c->field), c->value);
        if (c->field == 5) /* a 3x3 kernel: both sides */
            put_u32(field_at(copy, (size_t)c->record, 6), c->value);
        fix_crc(copy, size);
        expect_format_error(copy, size, c->what);
    }
    free(copy);
    free(data);
}

static void hostile_headers_are_refused(void **state)
{
    (void)state;
    size_t size;
    unsigned char *data = synthetic_file(tmp_path("headers.ccp"), 2, &size);
    remove(tmp_path("headers.ccp"));
    unsigned char *copy = malloc(size + 16);
    const size_t count_at = records_at(data) - 4;
    const struct {
        const char *what;
        size_t offset;
        uint32_t value;
    } changes[] = {
        {"format version 2", 8, 2},           {"format version 0", 8, 0},
        {"header ISA 3", OFFSET_ISA, 3},      {"model length 0", OFFSET_MODEL_LENGTH, 0},
        {"model length 256", OFFSET_MODEL_LENGTH, 256},
        {"model length past the end", OFFSET_MODEL_LENGTH, 100000},
        {"count 3 (one missing)", count_at, 3}, {"count 1 (one extra)", count_at, 1},
        {"count 4097", count_at, CC_PLANS_MAX + 1}, {"count 2^32-1", count_at, 0xffffffffu},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        memcpy(copy, data, size);
        put_u32(copy + changes[i].offset, changes[i].value);
        fix_crc(copy, size);
        expect_format_error(copy, size, changes[i].what);
    }
    memcpy(copy, data, size);
    copy[0] = 'X';
    expect_format_error(copy, size, "another magic");
    memcpy(copy, data, size);
    memcpy(copy + size, "trailing", 8);
    expect_format_error(copy, size + 8, "bytes after the checksum");
    fix_crc(copy, size + 8);
    expect_format_error(copy, size + 8, "bytes after the checksum, checksum moved");
    expect_format_error((const unsigned char *)"COLCPLAN", 8, "a magic alone");
    free(copy);
    free(data);
    /* Larger than any plan file. */
    const size_t huge = 2u << 20;
    unsigned char *big = calloc(huge, 1);
    memcpy(big, "COLCPLAN", 8);
    expect_format_error(big, huge, "2 MiB");
    free(big);
}

static void io_errors(void **state)
{
    (void)state;
    size_t loaded = 7;
    assert_int_equal(cc_plans_load("/nonexistent/colconv/plans.ccp", &loaded), CC_ERR_IO);
    assert_int_equal(loaded, 0);
    assert_int_equal(cc_plans_load("/tmp", &loaded), CC_ERR_IO);
    assert_int_equal(cc_plans_save(NULL), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_plans_load(NULL, &loaded), CC_ERR_INVALID_ARG);
    store_synthetic(1, 2);
    assert_int_equal(cc_plans_save("/nonexistent/colconv/plans.ccp"), CC_ERR_IO);
    assert_true(strlen(cc_last_error()) > 0);
    /* A folder that is a file; a target that is a folder (the rename fails):
     * no file, and no temporary file, is left. */
    const char *file = tmp_path("a_file");
    tst_write_file(file, (const unsigned char *)"x", 1);
    char inside[300];
    snprintf(inside, sizeof inside, "%s/plans.ccp", file);
    assert_int_equal(cc_plans_save(inside), CC_ERR_IO);
    remove(file);
    char folder[300];
    snprintf(folder, sizeof folder, "%s", tmp_path("a_folder"));
    assert_int_equal(mkdir(folder, 0700), 0);
    assert_int_equal(cc_plans_save(folder), CC_ERR_IO);
    rmdir(folder);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "colconv_test_plans_%d_", (int)getpid());
    DIR *tmp = opendir("/tmp");
    assert_non_null(tmp);
    for (struct dirent *e = readdir(tmp); e != NULL; e = readdir(tmp))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            fail_msg("left behind: /tmp/%s", e->d_name);
    closedir(tmp);
}

/* ---- the bound ---- */

static void cache_is_bounded(void **state)
{
    (void)state;
    store_synthetic(1, CC_PLANS_MAX + 5);
    assert_int_equal(cc_plans_count(), CC_PLANS_MAX);
    for (int id = 1; id <= 5; id++)
        assert_false(cached(id));
    assert_true(cached(6));
    assert_true(cached(CC_PLANS_MAX + 5));
    /* A full cache saves, and loads back whole into a full cache of others. */
    const char *path = tmp_path("full.ccp");
    assert_int_equal(cc_plans_save(path), CC_OK);
    cc_plans_clear();
    store_synthetic(100000, CC_PLANS_MAX);
    size_t loaded;
    assert_int_equal(cc_plans_load(path, &loaded), CC_OK);
    assert_int_equal(loaded, CC_PLANS_MAX);
    assert_int_equal(cc_plans_count(), CC_PLANS_MAX);
    assert_false(cached(100000 + CC_PLANS_MAX - 1));
    assert_true(cached(6) && cached(CC_PLANS_MAX + 5));
    remove(path);
}

/* A load puts its plans last, the replaced ones included; the oldest go. */
static void loads_are_newest(void **state)
{
    (void)state;
    const char *path = tmp_path("newest.ccp");
    store_synthetic(1, 2);
    assert_int_equal(cc_plans_save(path), CC_OK);
    cc_plans_clear();
    store_synthetic(1, CC_PLANS_MAX); /* 1 and 2 are the oldest */
    assert_int_equal(cc_plans_load(path, NULL), CC_OK);
    store_synthetic(CC_PLANS_MAX + 1, 2);
    assert_int_equal(cc_plans_count(), CC_PLANS_MAX);
    assert_true(cached(1) && cached(2));
    assert_false(cached(3) || cached(4));
    remove(path);
}

/* ---- threads ---- */

enum { CREATORS = 4 };

typedef struct {
    int first;
    cc_algo algo[TEST_LAYERS];
    int threads[TEST_LAYERS];
} creator;

static void *create_layers(void *arg)
{
    creator *c = arg;
    for (int k = 0; k < TEST_LAYERS; k++) {
        const int i = (c->first + k) % TEST_LAYERS;
        const cc_conv2d_params p = test_layer(i);
        layer_data d = layer_data_new(&p, 5);
        cc_conv2d *op = NULL;
        if (cc_conv2d_create(&p, CC_ALGO_AUTO, d.weights, d.bias, &op) == CC_OK) {
            c->algo[i] = cc_conv2d_algo(op);
            c->threads[i] = cc_conv2d_num_threads(op);
        }
        cc_conv2d_destroy(op);
        layer_data_free(&d);
    }
    return NULL;
}

/* Creates under MEASURE from several threads at once, each in its own
 * order: one plan per layer, which every create got. */
static void concurrent_creates_agree(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    pthread_t threads[CREATORS];
    creator creators[CREATORS];
    memset(creators, 0, sizeof creators);
    for (int t = 0; t < CREATORS; t++) {
        creators[t].first = t;
        assert_int_equal(pthread_create(&threads[t], NULL, create_layers, &creators[t]), 0);
    }
    for (int t = 0; t < CREATORS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(cc_plans_count(), TEST_LAYERS);
    for (int i = 0; i < TEST_LAYERS; i++) {
        assert_true(auto_may_pick(creators[0].algo[i]));
        for (int t = 1; t < CREATORS; t++) {
            assert_int_equal(creators[t].algo[i], creators[0].algo[i]);
            assert_int_equal(creators[t].threads[i], creators[0].threads[i]);
        }
    }
}

/* ---- networks ---- */

static void net_build_measures(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 1, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    const size_t plans = cc_plans_count();
    assert_true(plans >= 2); /* LeNet-5's conv layers */
    float *input = calloc(cc_net_input_count(net), sizeof(float));
    float *output = malloc(cc_net_output_count(net) * sizeof(float));
    assert_int_equal(cc_net_run(net, input, output), CC_OK);
    cc_net_destroy(net);
    /* Built again under ESTIMATE: the same plans, none added. */
    cc_set_planning(CC_PLAN_ESTIMATE);
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 1, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 1), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    assert_int_equal(cc_net_run(net, input, output), CC_OK);
    assert_int_equal(cc_plans_count(), plans);
    cc_net_destroy(net);
    free(input);
    free(output);
}

/* ---- allocation failure ---- */

/* Fails each allocation of call() in turn: CC_ERR_NOMEM, nothing leaked,
 * the cache empty as it was (or, when `keeps_plan`, holding the plan the
 * call measured before a later allocation failed); until call() succeeds. */
static void fail_each_allocation(cc_status (*call)(void), size_t count_after, bool keeps_plan)
{
    for (int fail_at = 1;; fail_at++) {
        cc_plans_clear();
        tst_failing_allocator f;
        tst_failing_allocator_install(&f, fail_at);
        const cc_status status = call();
        const size_t count = cc_plans_count();
        cc_plans_clear(); /* the cache's block is the test allocator's */
        const long live = f.live;
        assert_int_equal(cc_set_allocator(NULL), CC_OK);
        if (live != 0)
            fail_msg("allocation %d failed: %ld blocks leaked", fail_at, live);
        if (!f.failed) {
            assert_int_equal(status, CC_OK);
            assert_int_equal(count, count_after);
            return;
        }
        assert_int_equal(status, CC_ERR_NOMEM);
        assert_true(count == 0 || (keeps_plan && count == 1));
        assert_true(fail_at < 1000);
    }
}

static cc_status measured_create(void)
{
    const cc_conv2d_params p = test_layer(1);
    layer_data d = layer_data_new(&p, 11);
    cc_conv2d *op = NULL;
    const cc_status status = cc_conv2d_create(&p, CC_ALGO_AUTO, d.weights, d.bias, &op);
    cc_conv2d_destroy(op);
    layer_data_free(&d);
    return status;
}

static cc_status load_two(void)
{
    return cc_plans_load(tmp_path("alloc.ccp"), NULL);
}

static void allocation_failures(void **state)
{
    (void)state;
    cc_set_planning(CC_PLAN_MEASURE);
    fail_each_allocation(measured_create, 1, true);
    size_t size;
    free(synthetic_file(tmp_path("alloc.ccp"), 2, &size));
    fail_each_allocation(load_two, 2, false);
    remove(tmp_path("alloc.ccp"));
    for (int fail_at = 1; fail_at < 100; fail_at++) {
        cc_plans_clear();
        store_synthetic(1, 2);
        tst_failing_allocator f;
        tst_failing_allocator_install(&f, fail_at);
        const cc_status status = cc_plans_save(tmp_path("alloc.ccp"));
        assert_int_equal(cc_set_allocator(NULL), CC_OK);
        assert_int_equal(f.live, 0);
        if (!f.failed) {
            assert_int_equal(status, CC_OK);
            cc_plans_clear();
            assert_int_equal(cc_plans_load(tmp_path("alloc.ccp"), NULL), CC_OK);
            assert_int_equal(cc_plans_count(), 2);
            break;
        }
        assert_int_equal(status, CC_ERR_NOMEM);
        assert_int_equal(access(tmp_path("alloc.ccp"), F_OK), -1);
    }
    remove(tmp_path("alloc.ccp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(env_values_parse, reset),
        cmocka_unit_test_setup(mode_set_and_get, reset),
        cmocka_unit_test_setup(plans_round_trip, reset),
        cmocka_unit_test_setup(thread_count_is_in_the_key, reset),
        cmocka_unit_test_setup(picks_the_fastest_timed, reset),
        cmocka_unit_test_setup(long_runs_keep_all_threads, reset),
        cmocka_unit_test_setup(leaves_out_slow_warmups, reset),
        cmocka_unit_test_setup(keeps_the_estimate_in_the_rounds, reset),
        cmocka_unit_test_setup(estimate_caches_nothing, reset),
        cmocka_unit_test_setup(measuring_time_is_summed, reset),
        cmocka_unit_test_setup(named_paths_leave_the_cache, reset),
        cmocka_unit_test_setup(synthetic_round_trip, reset),
        cmocka_unit_test_setup(other_machines_are_skipped, reset),
        cmocka_unit_test_setup(truncated_files_are_refused, reset),
        cmocka_unit_test_setup(bit_flips_are_refused, reset),
        cmocka_unit_test_setup(hostile_records_are_refused, reset),
        cmocka_unit_test_setup(hostile_headers_are_refused, reset),
        cmocka_unit_test_setup(io_errors, reset),
        cmocka_unit_test_setup(cache_is_bounded, reset),
        cmocka_unit_test_setup(loads_are_newest, reset),
        cmocka_unit_test_setup(concurrent_creates_agree, reset),
        cmocka_unit_test_setup(net_build_measures, reset),
        cmocka_unit_test_setup(allocation_failures, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
