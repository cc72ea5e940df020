/* colconv-bench's descriptors: the benchdnn grammar, every bad form with its
 * exact message, the canonical form, the layer table and GFLOP counts. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conv_bench.h"
#include "desc.h"
#include "layer_table.h"

static bench_layer parse_ok(const char *text)
{
    bench_layer layer;
    char error[160] = "";
    if (bench_parse_desc(text, &layer, error, sizeof error) != 0)
        fail_msg("'%s' rejected: %s", text, error);
    return layer;
}

static void defaults_and_copies(void **state)
{
    (void)state;
    const bench_layer l = parse_ok("ic64ih56oc64kh3ph1");
    const cc_conv2d_params *p = &l.params;
    assert_int_equal(p->batch, 1);
    assert_int_equal(p->groups, 1);
    assert_int_equal(p->in_channels, 64);
    assert_int_equal(p->in_h, 56);
    assert_int_equal(p->in_w, 56);       /* iw = ih */
    assert_int_equal(p->kernel_w, 3);    /* kw = kh */
    assert_int_equal(p->stride_h, 1);
    assert_int_equal(p->stride_w, 1);
    assert_int_equal(p->pad_top, 1);
    assert_int_equal(p->pad_bottom, 1);
    assert_int_equal(p->pad_left, 1);    /* pw = ph */
    assert_int_equal(p->pad_right, 1);
    assert_int_equal(p->dilation_h, 1);  /* dh0: no dilation */
    assert_int_equal(p->dilation_w, 1);
    assert_string_equal(l.name, "");
}

static void every_key(void **state)
{
    (void)state;
    const bench_layer l =
        parse_ok("mb2g2ic8ih20iw30oc4oh9ow15kh3kw5sh2sw2ph1pw2dh1dw0n\"all keys\"");
    const cc_conv2d_params *p = &l.params;
    assert_int_equal(p->batch, 2);
    assert_int_equal(p->groups, 2);
    assert_int_equal(p->in_w, 30);
    assert_int_equal(p->out_channels, 4);
    assert_int_equal(p->kernel_h, 3);
    assert_int_equal(p->kernel_w, 5);
    assert_int_equal(p->stride_h, 2);
    assert_int_equal(p->pad_left, 2);
    assert_int_equal(p->dilation_h, 2);  /* benchdnn's dh1 is PyTorch's dilation 2 */
    assert_int_equal(p->dilation_w, 1);
    assert_string_equal(l.name, "all keys");
}

/* oneDNN's verbose output: '_' separators, keys in another order. */
static void onednn_verbose_form(void **state)
{
    (void)state;
    const bench_layer l = parse_ok("g2mb1_ic96oc256_ih27oh27kh5sh1dh0ph2_iw27ow27kw5sw1dw0pw2");
    assert_int_equal(l.params.groups, 2);
    assert_int_equal(l.params.in_channels, 96);
    assert_int_equal(l.params.out_channels, 256);
    assert_int_equal(l.params.pad_left, 2);
}

static void expect_error(const char *text, const char *message)
{
    bench_layer layer;
    char error[160] = "";
    if (bench_parse_desc(text, &layer, error, sizeof error) == 0)
        fail_msg("'%s' accepted, expected: %s", text, message);
    if (strcmp(error, message) != 0)
        fail_msg("'%s': got \"%s\", expected \"%s\"", text, error, message);
}

static void bad_forms(void **state)
{
    (void)state;
    expect_error("mb1ic3ih32xx5oc8kh3", "unknown key at 'xx5oc8kh3'");
    expect_error("ic3ih32oc8kh3id4", "unknown key at 'id4'");
    expect_error("ic3ih32oc8kh3 ", "unknown key at ' '");
    expect_error("mb1icih32oc8kh3", "missing value at 'ih32oc8kh3'");
    expect_error("ic3ih32oc8kh", "missing value at ''");
    expect_error("ic3ih-2oc8kh3", "missing value at '-2oc8kh3'");
    expect_error("ic3ic4ih32oc8kh3", "repeated key at 'ic4ih32oc8kh3'");
    expect_error("ic3ih32oc8kh3kh3", "repeated key at 'kh3'");
    expect_error("ic3ih32oc8kh3ph1ph1", "repeated key at 'ph1'");
    expect_error("ic3ih32oc8oh31kh3", "inconsistent oh31: the output height is 30");
    expect_error("ic3ih32iw16oc8ow16kh3", "inconsistent ow16: the output width is 14");
    expect_error("ic3ih32oc8oh30ow29kh3", "inconsistent ow29: the output width is 30");
    expect_error("ih32oc8kh3", "missing key ic");
    expect_error("ic3oc8kh3", "missing key ih");
    expect_error("ic3ih32kh3", "missing key oc");
    expect_error("ic3ih32oc8", "missing key kh");
    expect_error("", "missing key ic");
    expect_error("mb0ic3ih32oc8kh3", "mb must be at least 1, not 0");
    expect_error("ic3ih32oc8kh3sh0", "sh must be at least 1, not 0");
    expect_error("g2ic3ih32oc8kh3", "ic3 and oc8 must be multiples of g2");
    expect_error("ic99999999999ih32oc8kh3", "value out of range at '99999999999ih32oc8kh'");
    expect_error("ic3ih32oc8kh3n\"open", "unterminated name at 'n\"open'");
}

/* A kernel that does not fit: the library's own message, after "no output: ". */
static void kernel_larger_than_input(void **state)
{
    (void)state;
    bench_layer layer;
    char error[160] = "";
    assert_int_equal(bench_parse_desc("ic3ih2oc8kh3", &layer, error, sizeof error), -1);
    assert_memory_equal(error, "no output: ", strlen("no output: "));
    assert_true(strlen(error) > strlen("no output: "));
}

static void canonical_form_round_trips(void **state)
{
    (void)state;
    const char *texts[] = {"mb1ic64ih224oc64kh3ph1n\"conv1_2\"", "mb4g2ic96ih27oc256kh5ph2",
                           "ic3ih224iw200oc64kh7kw3sh2sw1ph3pw1dh1", "ic8ih9oc8kh1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const bench_layer a = parse_ok(texts[i]);
        char canonical[192];
        bench_format_desc(&a, canonical, sizeof canonical);
        const bench_layer b = parse_ok(canonical);
        if (memcmp(&a.params, &b.params, sizeof a.params) != 0 || strcmp(a.name, b.name) != 0)
            fail_msg("'%s' -> '%s' does not round-trip", texts[i], canonical);
    }
    char text[192];
    bench_format_desc((bench_layer[]){parse_ok("mb1ic64ih224oc64kh3ph1n\"conv1_2\"")}, text,
                      sizeof text);
    assert_string_equal(text, "mb1ic64ih224iw224oc64oh224ow224kh3kw3ph1pw1n\"conv1_2\"");
}

static void assert_gflop(const char *desc, double expected)
{
    const bench_layer l = parse_ok(desc);
    const double got = bench_layer_gflop(&l.params);
    if (fabs(got - expected) > 5e-4 * expected)
        fail_msg("%s: %.6f GFLOP, expected %.6f", desc, got, expected);
}

static void known_gflop_counts(void **state)
{
    (void)state;
    /* VGG-16 conv1_2: 2 * 64 * 64 * 9 * 224 * 224 = 3.70 GFLOP. */
    assert_gflop("mb1ic64ih224oc64kh3ph1", 3.699376128);
    assert_gflop("mb1ic64ih224oc64kh3ph1", 3.70);
    /* AlexNet conv1 (55x55 out) and grouped conv2 (half the MACs of ungrouped). */
    assert_gflop("mb1ic3ih227oc96kh11sh4", 2.0 * 96 * 55 * 55 * 3 * 121 * 1e-9);
    assert_gflop("mb1g2ic96ih27oc256kh5ph2", 2.0 * 256 * 27 * 27 * 48 * 25 * 1e-9);
    /* LeNet-5 C1, batch 8 scales linearly. */
    assert_gflop("mb8ic1ih32oc6kh5", 8 * 2.0 * 6 * 28 * 28 * 25 * 1e-9);
    /* ResNet-50 res5 projection, 1x1 stride 2. */
    assert_gflop("mb1ic1024ih14oc2048kh1sh2", 2.0 * 2048 * 7 * 7 * 1024 * 1e-9);
}

/* The table parses, its counts are positive, and the networks it claims to
 * list completely have the zoo's number of conv layers. */
static void table_is_consistent(void **state)
{
    (void)state;
    size_t count;
    const bench_table_entry *table = bench_table(&count);
    assert_true(count > 30);
    for (size_t i = 0; i < count; i++) {
        const bench_layer l = parse_ok(table[i].desc);
        assert_true(table[i].count >= 1);
        assert_int_equal(l.params.batch, 1);
        assert_true(l.name[0] != '\0');
    }
    for (const char *const *z = cc_net_zoo_names(); *z != NULL; z++) {
        if (!bench_table_complete(*z))
            continue;
        int listed = 0;
        double table_gflop = 0;
        for (size_t i = 0; i < count; i++)
            if (strcmp(table[i].net, *z) == 0) {
                const bench_layer l = parse_ok(table[i].desc);
                listed += table[i].count;
                table_gflop += table[i].count * bench_layer_gflop(&l.params);
            }
        cc_net *net = NULL;
        assert_int_equal(cc_net_zoo_create(*z, CC_NCHW, 1, &net), CC_OK);
        int convs = 0;
        double zoo_gflop = 0;
        for (int node = 1; node < cc_net_node_count(net); node++) {
            cc_net_layer_info info;
            assert_int_equal(cc_net_get_layer_info(net, node, &info), CC_OK);
            if (strcmp(info.type, "Conv2D") == 0) {
                convs++;
                zoo_gflop += (double)info.flops * 1e-9;
            }
        }
        cc_net_destroy(net);
        if (listed != convs)
            fail_msg("%s: the table lists %d conv layers, the zoo has %d", *z, listed, convs);
        if (fabs(table_gflop - zoo_gflop) > 1e-6 * zoo_gflop)
            fail_msg("%s: the table's conv layers make %.6f GFLOP, the zoo's %.6f", *z,
                     table_gflop, zoo_gflop);
    }
    assert_true(bench_table_complete("vgg16"));
    assert_false(bench_table_complete("googlenet1x1"));
    assert_true(bench_table_has("googlenet1x1"));
    assert_false(bench_table_has("nosuchnet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_copies),
        cmocka_unit_test(every_key),
        cmocka_unit_test(onednn_verbose_form),
        cmocka_unit_test(bad_forms),
        cmocka_unit_test(kernel_larger_than_input),
        cmocka_unit_test(canonical_form_round_trips),
        cmocka_unit_test(known_gflop_counts),
        cmocka_unit_test(table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
