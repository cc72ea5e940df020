/* libFuzzer target: cc_plans_load. The first byte says how the rest is read:
 *   even: a plan file, as is;
 *   odd:  the records of a plan file (84 bytes each; a partial last one is
 *         dropped), put between a header of this machine (library version,
 *         CPU model, ISA) and a correct checksum, so that the checks of the
 *         records are reached rather than the checksum's.
 * The cache holds two plans before each load. A load must return CC_OK or
 * CC_ERR_FORMAT (with a message); a failed load must leave the cache as it
 * was (its saved file byte for byte); a successful one must survive a save
 * and a reload into an empty cache, and every loaded plan of this thread
 * count on a small layer must create with CC_ALGO_AUTO on its own path and
 * run. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/conv/plan.h"
#include "../src/core/cpu_model.h"
#include "../src/core/crc32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { RECORD_BYTES = 4 * (CC__PLAN_KEY_FIELDS + 2) };
/* Layers whose plans are created and run: tensors up to this many floats,
 * runs up to this many multiply-adds (fast under the sanitizers). */
#define MAX_FLOATS ((size_t)1 << 14)
#define MAX_MULTIPLY_ADDS ((size_t)1 << 22)

static char path[64], before_path[64], after_path[64];
static uint8_t *image;
static cc__conv_plan seeds[2];

static void require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_plans: %s (%s)\n", what, cc_last_error());
        abort();
    }
}

static void put_u32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Odd mode: a header of this machine, the whole records, the checksum. */
static size_t wrap_records(const uint8_t *records, size_t size)
{
    const char *model = cc__cpu_model();
    const size_t count = size / RECORD_BYTES, model_length = strlen(model);
    const uint32_t head[6] = {1, CC_VERSION_MAJOR, CC_VERSION_MINOR, CC_VERSION_PATCH,
                              (uint32_t)cc__cpu_isa(), (uint32_t)model_length};
    size_t at = 0;
    memcpy(image, "COLCPLAN", 8);
    at += 8;
    for (int i = 0; i < 6; i++, at += 4)
        put_u32(image + at, head[i]);
    memcpy(image + at, model, model_length);
    at += model_length;
    put_u32(image + at, (uint32_t)count);
    at += 4;
    memcpy(image + at, records, count * RECORD_BYTES);
    at += count * RECORD_BYTES;
    put_u32(image + at, cc__crc32(0, image, at));
    return at + 4;
}

static void write_file(const char *name, const uint8_t *bytes, size_t size)
{
    FILE *f = fopen(name, "wb");
    require(f != NULL, "cannot write the file to load");
    require(fwrite(bytes, 1, size, f) == size && fclose(f) == 0, "cannot write the file to load");
}

static bool same_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    require(fa != NULL && fb != NULL, "cannot read a saved cache");
    int ca, cb;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
    } while (ca == cb && ca != EOF);
    fclose(fa);
    fclose(fb);
    return ca == cb;
}

/* The cache before each load (saved once, to before_path): two plans of a small 3x3 layer (direct,
 * winograd). */
static void seed_cache(void)
{
    cc_plans_clear();
    for (int i = 0; i < 2; i++) {
        cc__conv_plan kept;
        require(cc__plans_store(&seeds[i], &kept) == CC_OK, "seed plans");
    }
}

static void make_seeds(void)
{
    const cc_conv2d_params p = {.batch = 1, .in_channels = 2, .in_h = 6, .in_w = 6,
                                .out_channels = 2, .kernel_h = 3, .kernel_w = 3};
    cc__conv_geom g;
    require(cc__conv_geom_init(&p, &g) == CC_OK, "seed layer");
    for (int i = 0; i < 2; i++) {
        g.n = 1 + i;
        cc__plan_key_make(&g, 1, cc__cpu_isa(), &seeds[i].key);
        seeds[i].algo = i == 0 ? CC_ALGO_DIRECT : CC_ALGO_WINOGRAD;
        seeds[i].threads = 1;
    }
}

static bool is_seed(const cc__conv_plan *plan)
{
    for (int i = 0; i < 2; i++)
        if (memcmp(plan, &seeds[i], sizeof *plan) == 0)
            return true;
    return false;
}

/* A plan of this thread count on a small layer creates on its own path and runs. */
static void try_plan(const cc__conv_plan *plan)
{
    const cc_conv2d_params p = cc__plan_key_params(&plan->key);
    cc__conv_geom g;
    require(cc__conv_geom_init(&p, &g) == CC_OK, "a loaded plan has an invalid layer");
    if (plan->key.threads != cc__run_threads() || plan->key.isa != (int32_t)cc__cpu_isa() ||
        cc__geom_input_floats(&g) > MAX_FLOATS || cc__geom_output_floats(&g) > MAX_FLOATS ||
        cc__geom_weight_floats(&g) > MAX_FLOATS ||
        cc__geom_output_floats(&g) * cc__geom_k(&g) > MAX_MULTIPLY_ADDS)
        return;
    float *weights = calloc(cc__geom_weight_floats(&g), sizeof(float));
    float *input = calloc(cc__geom_input_floats(&g), sizeof(float));
    float *output = malloc(cc__geom_output_floats(&g) * sizeof(float));
    require(weights != NULL && input != NULL && output != NULL, "memory");
    cc_conv2d *op = NULL;
    require(cc_conv2d_create(&p, CC_ALGO_AUTO, weights, NULL, &op) == CC_OK,
            "a loaded plan does not create");
    require(cc_conv2d_algo(op) == plan->algo, "AUTO did not take the loaded plan's path");
    require(cc_conv2d_num_threads(op) <= plan->threads, "more threads than the plan's");
    require(cc_conv2d_run(op, input, output) == CC_OK, "a loaded plan does not run");
    for (size_t i = 0; i < cc__geom_output_floats(&g); i++)
        require(output[i] == 0.0f, "zeros in, zero weights: not zeros out");
    cc_conv2d_destroy(op);
    free(weights);
    free(input);
    free(output);
}

static void check_loaded(size_t loaded)
{
    cc__conv_plan *plans;
    size_t count;
    require(cc__plans_snapshot(&plans, &count) == CC_OK, "snapshot");
    require(count >= loaded && count <= 2 + loaded, "the count after a load");
    for (size_t i = 0; i < count; i++) {
        require(cc__plan_check(&plans[i]) == CC_OK, "an impossible plan was loaded");
        if (!is_seed(&plans[i]))
            try_plan(&plans[i]);
    }
    cc__free(plans);
    require(cc_plans_save(after_path) == CC_OK, "save after a load");
    cc_plans_clear();
    size_t reloaded = 0;
    require(cc_plans_load(after_path, &reloaded) == CC_OK, "reload");
    require(reloaded == count && cc_plans_count() == count, "a reload lost plans");
}

static void setup(void)
{
    cc_set_num_threads(1);
    snprintf(path, sizeof path, "/tmp/fuzz_plans_%d.ccp", (int)getpid());
    snprintf(before_path, sizeof before_path, "/tmp/fuzz_plans_%d.before.ccp", (int)getpid());
    snprintf(after_path, sizeof after_path, "/tmp/fuzz_plans_%d.after.ccp", (int)getpid());
    image = malloc(1 << 20);
    require(image != NULL, "memory");
    make_seeds();
    seed_cache();
    require(cc_plans_save(before_path) == CC_OK, "save the cache before a load");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (image == NULL)
        setup();
    if (size == 0)
        return 0;
    const bool wrap = data[0] & 1u;
    if (wrap && size - 1 > (size_t)CC_PLANS_MAX * RECORD_BYTES)
        return 0;
    const size_t length = wrap ? wrap_records(data + 1, size - 1) : size - 1;
    write_file(path, wrap ? image : data + 1, length);
    seed_cache();
    size_t loaded = 99;
    const cc_status status = cc_plans_load(path, &loaded);
    if (status != CC_OK) {
        require(status == CC_ERR_FORMAT, "a status other than CC_OK and CC_ERR_FORMAT");
        require(loaded == 0 && strlen(cc_last_error()) > 0, "a failure without a message");
        require(cc_plans_save(after_path) == CC_OK, "save after a failed load");
        require(same_files(before_path, after_path), "a failed load changed the cache");
    } else {
        check_loaded(loaded);
    }
    remove(path);
    remove(after_path);
    return 0;
}
