/* Network weights: the seeded initialisers, tensor access, the weights file
 * (round trip and every kind of broken file: the documented status, and the
 * network exactly as it was), and allocation failures during a build. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* LeNet-5 built with He weights and its output for a fixed input. */
typedef struct {
    cc_net *net;
    float input[2 * 32 * 32];
    float output[2 * 10];
    char path[256]; /* a valid weights file of this network */
} fixture;

static void run(cc_net *net, const float *input, float *output)
{
    for (int i = 0; i < 20; i++)
        output[i] = NAN;
    assert_int_equal(cc_net_run(net, input, output), CC_OK);
}

static fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 2, &f->net), CC_OK);
    assert_int_equal(cc_net_init_weights(f->net, CC_INIT_HE, 2024), CC_OK);
    assert_int_equal(cc_net_build(f->net, NULL), CC_OK);
    tst_rng rng;
    tst_rng_seed(&rng, 11);
    tst_fill(&rng, f->input, sizeof f->input / sizeof(float), false);
    run(f->net, f->input, f->output);
    snprintf(f->path, sizeof f->path, "/tmp/colconv_test_net_%d.ccw", (int)getpid());
    assert_int_equal(cc_net_save_weights(f->net, f->path), CC_OK);
    return f;
}

static void fixture_free(fixture *f)
{
    remove(f->path);
    cc_net_destroy(f->net);
    free(f);
}

/* The network still computes exactly what it did. */
static void expect_unchanged(const fixture *f)
{
    float now[20];
    run(f->net, f->input, now);
    assert_memory_equal(now, f->output, sizeof now);
}

typedef struct {
    unsigned char *bytes;
    size_t size;
} blob;

static blob read_blob(const char *path)
{
    blob b;
    b.bytes = tst_read_file(path, &b.size);
    return b;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* zlib's CRC-32, bitwise. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1u ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

/* Offsets of record 0: its start, its data, its checksum. */
typedef struct {
    size_t start, data, crc;
} record;

static record first_record(const blob *b)
{
    record r = {16, 0, 0};
    const uint32_t name = get_u32(b->bytes + r.start);
    const size_t rank_at = r.start + 4 + name;
    const uint32_t rank = get_u32(b->bytes + rank_at);
    size_t count = 1;
    for (uint32_t d = 0; d < rank; d++)
        count *= get_u32(b->bytes + rank_at + 4 + 4 * d);
    r.data = rank_at + 4 + 4 * rank;
    r.crc = r.data + 4 * count;
    return r;
}

static void reseal(blob *b, const record *r)
{
    put_u32(b->bytes + r->crc, crc32(b->bytes + r->start, r->crc - r->start));
}

/* Loads `bytes` as a file: the status is `want`, the message says `says`,
 * and the network is unchanged. */
static void expect_load(fixture *f, const unsigned char *bytes, size_t size, cc_status want,
                        const char *says, const char *what)
{
    char path[300];
    snprintf(path, sizeof path, "%s.broken", f->path);
    tst_write_file(path, bytes, size);
    const cc_status got = cc_net_load_weights(f->net, path);
    remove(path);
    if (got != want)
        fail_msg("%s: status %s, want %s (%s)", what, cc_status_str(got), cc_status_str(want),
                 cc_last_error());
    if (says != NULL && strstr(cc_last_error(), says) == NULL)
        fail_msg("%s: message '%s' does not say '%s'", what, cc_last_error(), says);
    expect_unchanged(f);
}

static void round_trip(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    cc_net *other = NULL;
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NHWC, 2, &other), CC_OK);
    assert_int_equal(cc_net_load_weights(other, f->path), CC_OK);
    assert_int_equal(cc_net_build(other, NULL), CC_OK);
    float out[20];
    run(other, f->input, out);
    for (int i = 0; i < 20; i++)
        assert_true(fabsf(out[i] - f->output[i]) <= 1e-5f * (1.0f + fabsf(f->output[i])));
    /* Loading after the build re-packs: the output follows the weights. */
    assert_int_equal(cc_net_init_weights(f->net, CC_INIT_HE, 7), CC_OK);
    float changed[20];
    run(f->net, f->input, changed);
    assert_memory_not_equal(changed, f->output, sizeof changed);
    assert_int_equal(cc_net_load_weights(f->net, f->path), CC_OK);
    expect_unchanged(f);
    /* Saving what was loaded gives the same bytes. */
    char again[300];
    snprintf(again, sizeof again, "%s.again", f->path);
    assert_int_equal(cc_net_save_weights(other, again), CC_OK);
    blob a = read_blob(f->path), b = read_blob(again);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.bytes, b.bytes, a.size);
    remove(again);
    free(a.bytes);
    free(b.bytes);
    cc_net_destroy(other);
    fixture_free(f);
}

static void broken_files(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    blob good = read_blob(f->path);
    unsigned char *b = malloc(good.size + 1);
    assert_non_null(b);
    const record r = first_record(&good);

    assert_int_equal(cc_net_load_weights(f->net, "/nonexistent/colconv.ccw"), CC_ERR_IO);
    expect_unchanged(f);
    expect_load(f, good.bytes, 0, CC_ERR_FORMAT, "truncated", "empty");
    const size_t cuts[] = {3, 8, 12, 15, 17, r.data - 2, r.data + 9, r.crc + 2, good.size / 2,
                           good.size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu", cuts[i]);
        expect_load(f, good.bytes, cuts[i], CC_ERR_FORMAT, "truncated", what);
    }

    memcpy(b, good.bytes, good.size);
    b[0] = 'X';
    expect_load(f, b, good.size, CC_ERR_FORMAT, "magic", "bad magic");
    memcpy(b, good.bytes, good.size);
    put_u32(b + 8, 2);
    expect_load(f, b, good.size, CC_ERR_FORMAT, "version", "bad version");
    memcpy(b, good.bytes, good.size);
    put_u32(b + 12, get_u32(b + 12) - 1);
    expect_load(f, b, good.size, CC_ERR_FORMAT, "tensors", "bad count");
    memcpy(b, good.bytes, good.size);
    b[r.data + 37] ^= 0x10;
    expect_load(f, b, good.size, CC_ERR_FORMAT, "checksum", "flipped payload byte");
    memcpy(b, good.bytes, good.size);
    b[good.size - 30] ^= 0x01;
    expect_load(f, b, good.size, CC_ERR_FORMAT, "checksum", "flipped byte in the last tensor");
    memcpy(b, good.bytes, good.size);
    b[good.size] = 0;
    expect_load(f, b, good.size + 1, CC_ERR_FORMAT, "after", "trailing byte");

    /* Valid checksums, wrong contents. */
    blob patched = {b, good.size};
    memcpy(b, good.bytes, good.size);
    b[r.start + 4 + 4] = '7'; /* "conv1.weight" -> "conv7.weight" */
    reseal(&patched, &r);
    expect_load(f, b, good.size, CC_ERR_FORMAT, "conv7.weight", "wrong name");
    memcpy(b, good.bytes, good.size);
    put_u32(b + r.data - 16, 3); /* [6][1][5][5] -> [3][1][5][5]: short, then garbage */
    reseal(&patched, &r);
    expect_load(f, b, good.size, CC_ERR_FORMAT, "3x1x5x5", "wrong shape");
    memcpy(b, good.bytes, good.size);
    put_u32(b + r.start, 0);
    expect_load(f, b, good.size, CC_ERR_FORMAT, "name length", "empty name");
    free(b);
    free(good.bytes);
    fixture_free(f);
}

/* A file of another network of the same names: shapes differ. */
static void other_network_file(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    cc_net *wide = NULL;
    assert_int_equal(cc_net_zoo_create_sized("lenet5", CC_NCHW, 1, 36, 36, &wide), CC_OK);
    assert_int_equal(cc_net_init_weights(wide, CC_INIT_XAVIER, 1), CC_OK);
    char path[300];
    snprintf(path, sizeof path, "%s.wide", f->path);
    assert_int_equal(cc_net_save_weights(wide, path), CC_OK);
    assert_int_equal(cc_net_load_weights(f->net, path), CC_ERR_FORMAT);
    assert_non_null(strstr(cc_last_error(), "fc1.weight"));
    expect_unchanged(f);
    remove(path);
    cc_net_destroy(wide);
    fixture_free(f);
}

/* A batch norm variance that no network can use is a format error too. */
static void unusable_values(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(CC_NCHW, 1, 2, 4, 4, &net), CC_OK);
    const cc_net_conv_params p = {.out_channels = 3, .kernel_h = 3, .kernel_w = 3};
    cc_node x;
    assert_int_equal(cc_net_add_conv(net, "conv", 0, &p, &x), CC_OK);
    assert_int_equal(cc_net_add_batchnorm(net, "bn", x, 1e-5f, &x), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 3), CC_OK);
    assert_int_equal(cc_net_build(net, NULL), CC_OK);
    const float bad[3] = {1.0f, -2.0f, 1.0f};
    assert_int_equal(cc_net_set_tensor(net, "bn.running_var", bad, 3), CC_ERR_INVALID_ARG);
    float var[3];
    assert_int_equal(cc_net_get_tensor(net, "bn.running_var", var, 3), CC_OK);
    assert_true(var[1] == 1.0f);
    char path[128];
    snprintf(path, sizeof path, "/tmp/colconv_test_bn_%d.ccw", (int)getpid());
    assert_int_equal(cc_net_save_weights(net, path), CC_OK);
    blob b = read_blob(path);
    /* Records: conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean,
     * bn.running_var; the last is 4 + 14 + 4 + 4 + 12 + 4 bytes. */
    const size_t var_start = b.size - 42, var_data = b.size - 16;
    memcpy(b.bytes + var_data + 4, &bad[1], 4);
    put_u32(b.bytes + b.size - 4, crc32(b.bytes + var_start, b.size - 4 - var_start));
    tst_write_file(path, b.bytes, b.size);
    assert_int_equal(cc_net_load_weights(net, path), CC_ERR_FORMAT);
    assert_non_null(strstr(cc_last_error(), "variance"));
    remove(path);
    free(b.bytes);
    cc_net_destroy(net);
}

static void initialisers_are_seeded(void **state)
{
    (void)state;
    cc_net *a = NULL, *b = NULL;
    assert_int_equal(cc_net_zoo_create("lenet", CC_NCHW, 1, &a), CC_OK);
    assert_int_equal(cc_net_zoo_create("lenet", CC_NHWC, 1, &b), CC_OK);
    static float wa[400000], wb[400000];
    for (int init = CC_INIT_HE; init <= CC_INIT_XAVIER; init++) {
        assert_int_equal(cc_net_init_weights(a, (cc_init)init, 42), CC_OK);
        assert_int_equal(cc_net_init_weights(b, (cc_init)init, 42), CC_OK);
        assert_int_equal(cc_net_get_tensor(a, "ip1.weight", wa, 400000), CC_OK);
        assert_int_equal(cc_net_get_tensor(b, "ip1.weight", wb, 400000), CC_OK);
        assert_memory_equal(wa, wb, sizeof wa);
        /* Mean near 0; spread as the initialiser says (fan_in 800, fan_out 500). */
        double sum = 0, squares = 0;
        for (int i = 0; i < 400000; i++) {
            sum += wa[i];
            squares += (double)wa[i] * wa[i];
        }
        const double mean = sum / 400000, variance = squares / 400000 - mean * mean;
        const double want = init == CC_INIT_HE ? 2.0 / 800 : 2.0 / (800 + 500);
        assert_true(fabs(mean) < 1e-3);
        assert_true(fabs(variance / want - 1.0) < 0.02);
        assert_int_equal(cc_net_init_weights(b, (cc_init)init, 43), CC_OK);
        assert_int_equal(cc_net_get_tensor(b, "ip1.weight", wb, 400000), CC_OK);
        assert_memory_not_equal(wa, wb, sizeof wa);
        float bias[500];
        assert_int_equal(cc_net_get_tensor(a, "ip1.bias", bias, 500), CC_OK);
        for (int i = 0; i < 500; i++)
            assert_true(bias[i] == 0.0f);
    }
    assert_int_equal(cc_net_init_weights(a, (cc_init)7, 1), CC_ERR_INVALID_ARG);
    cc_net_destroy(a);
    cc_net_destroy(b);
}

static void tensor_access(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    assert_int_equal(cc_net_tensor_count(f->net), 10);
    const char *name;
    int rank, shape[4];
    assert_int_equal(cc_net_tensor_info(f->net, 6, &name, &rank, shape), CC_OK);
    assert_string_equal(name, "fc2.weight");
    assert_int_equal(rank, 2);
    assert_int_equal(shape[0], 84);
    assert_int_equal(shape[1], 120);
    assert_int_equal(cc_net_tensor_info(f->net, 10, &name, &rank, shape), CC_ERR_INVALID_ARG);
    float bias[10];
    assert_int_equal(cc_net_get_tensor(f->net, "fc3.bias", bias, 9), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_get_tensor(f->net, "fc4.bias", bias, 10), CC_ERR_INVALID_ARG);
    assert_int_equal(cc_net_get_tensor(f->net, "fc3.bias", bias, 10), CC_OK);
    bias[3] += 1.0f;
    assert_int_equal(cc_net_set_tensor(f->net, "fc3.bias", bias, 10), CC_OK);
    float out[20];
    run(f->net, f->input, out);
    for (int i = 0; i < 20; i++)
        assert_true(out[i] == f->output[i] + (i % 10 == 3 ? 1.0f : 0.0f) ||
                    fabsf(out[i] - f->output[i] - (i % 10 == 3 ? 1.0f : 0.0f)) < 1e-5f);
    fixture_free(f);
}

/* ---- allocation failures ---- */

typedef struct {
    int left; /* allocations that succeed before the failures start */
} failing;

static void *failing_alloc(void *context, size_t alignment, size_t size)
{
    failing *f = context;
    if (f->left-- <= 0)
        return NULL;
    return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

static void plain_free(void *context, void *pointer)
{
    (void)context;
    free(pointer);
}

/* Every allocation of create + init + build + run + load may fail: the
 * result is CC_ERR_NOMEM and nothing leaks (the sanitizer build checks). */
static void allocation_failures(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    for (int budget = 0;; budget++) {
        failing counter = {budget};
        const cc_allocator allocator = {&counter, failing_alloc, plain_free};
        assert_int_equal(cc_set_allocator(&allocator), CC_OK);
        cc_net *net = NULL;
        cc_status s = cc_net_zoo_create("lenet5", CC_NHWC, 2, &net);
        if (s == CC_OK)
            s = cc_net_init_weights(net, CC_INIT_XAVIER, 1);
        if (s == CC_OK)
            s = cc_net_build(net, NULL);
        if (s == CC_OK)
            s = cc_net_load_weights(net, f->path);
        if (s == CC_OK) {
            float out[20];
            s = cc_net_run(net, f->input, out);
        }
        assert_int_equal(cc_set_allocator(NULL), CC_OK);
        cc_net_destroy(net);
        if (s == CC_OK)
            break;
        if (s != CC_ERR_NOMEM)
            fail_msg("budget %d: %s (%s)", budget, cc_status_str(s), cc_last_error());
        assert_true(budget < 10000);
    }
    /* A load that runs out of memory leaves the network as it was. */
    failing none = {0};
    const cc_allocator allocator = {&none, failing_alloc, plain_free};
    assert_int_equal(cc_net_init_weights(f->net, CC_INIT_HE, 5), CC_OK);
    float before[20];
    run(f->net, f->input, before);
    assert_int_equal(cc_set_allocator(&allocator), CC_OK);
    const cc_status s = cc_net_load_weights(f->net, f->path);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(s, CC_ERR_NOMEM);
    float after[20];
    run(f->net, f->input, after);
    assert_memory_equal(before, after, sizeof before);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(broken_files),
        cmocka_unit_test(other_network_file),
        cmocka_unit_test(unusable_values),
        cmocka_unit_test(initialisers_are_seeded),
        cmocka_unit_test(tensor_access),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
