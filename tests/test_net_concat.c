/* Concats whose inputs are computed in place (src/net/plan.c): in NCHW at
 * batch 1, a concat input's group that only the concat reads and that
 * nothing writes after it is moved into its channel slice of the concat's
 * buffer, and the concat copies nothing for it; in NHWC, at any batch, the
 * same for a group that is one conv's sweep (no residual) read by the
 * concat alone, the conv writing its pixels the concat's channels apart.
 *
 * Each graph is built three ways (the default plan; no_buffer_reuse, where
 * every layer has its own buffer and nothing is placed; no_fusion) in both
 * layouts at batch 1 and 2, run on 1 and 2 threads, and every output must
 * equal the no_buffer_reuse one bit for bit. White-box: at batch 1 in NCHW
 * and at any batch in NHWC exactly the expected inputs share the concat's
 * storage, at their channel offset; elsewhere none does. Graphs:
 * Inception's four towers, an input read again after the concat, an input
 * given twice, the network's input among the inputs, a concat of a concat,
 * an activation in place on the concat, an add computed in place on one
 * input that reads another, a conv read by a pool before the concat, and
 * DenseNet's chain of concats each extending the one before (NCHW at
 * batch 1: one storage for the chain), also with an activation in place
 * on one of them (then not shared). A concat read only by a batch norm,
 * holding no input in place, is gathered by the batch norm (before any
 * input is placed in NHWC and in NCHW at batch 2; not without fusion or
 * buffer reuse). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/net_internal.h"
#include "support.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CONCAT 4

/* A graph under test: builds itself on net; sets the concats (and which
 * of their inputs should be placed) it expects at batch 1 in NCHW, and in
 * NHWC. */
typedef struct {
    cc_node concat[2];
    int concat_count;
    bool placed[2][MAX_CONCAT];
    bool placed_nhwc[2][MAX_CONCAT];
    bool gathered[2];       /* by the batch norm reading it: NHWC, NCHW batch 2 */
    bool gathered_nchw1[2]; /* NCHW at batch 1 */
} expectation;

/* The NHWC expectation is the NCHW one (every placed input a conv). */
static void same_in_nhwc(expectation *e)
{
    memcpy(e->placed_nhwc, e->placed, sizeof e->placed);
}

typedef void (*graph_fn)(cc_net *net, expectation *e);

static cc_node conv(cc_net *net, cc_node in, int out, int k, bool relu)
{
    const cc_net_conv_params p = {out, k, k, 1, 1, k / 2, k / 2, k / 2, k / 2, 1, 1, 1, 0,
                                  CC_ALGO_AUTO};
    cc_node node;
    assert_int_equal(cc_net_add_conv(net, NULL, in, &p, &node), CC_OK);
    if (relu) {
        const cc_activation act = {CC_ACTIVATION_RELU, 0.0f};
        assert_int_equal(cc_net_add_activation(net, NULL, node, &act, &node), CC_OK);
    }
    return node;
}

static cc_node concat(cc_net *net, const cc_node *inputs, int count)
{
    cc_node node;
    assert_int_equal(cc_net_add_concat(net, NULL, inputs, count, &node), CC_OK);
    return node;
}

static void inception_towers(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_pool2d_params pool = {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0};
    cc_node pooled;
    assert_int_equal(cc_net_add_pool(net, NULL, x, &pool, &pooled), CC_OK);
    const cc_node towers[4] = {conv(net, x, 3, 1, true), conv(net, conv(net, x, 2, 1, true), 5, 3, true),
                               conv(net, conv(net, x, 2, 1, true), 2, 5, true),
                               conv(net, pooled, 2, 1, true)};
    e->concat[e->concat_count++] = concat(net, towers, 4);
    for (int i = 0; i < 4; i++)
        e->placed[0][i] = true;
    conv(net, e->concat[0], 4, 1, false);
    same_in_nhwc(e);
}

static void read_after(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 2, 1, false);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b}, 2);
    e->placed[0][1] = true;
    const cc_node y = conv(net, e->concat[0], 3, 1, false);
    cc_node sum;
    assert_int_equal(cc_net_add_add(net, NULL, (const cc_node[]){y, a}, 2, &sum), CC_OK);
    same_in_nhwc(e);
}

static void repeated(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 2, 1, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b, a}, 3);
    e->placed[0][0] = e->placed[0][1] = true;
    /* NHWC: a strided slice would be read again as a tensor: a copied. */
    e->placed_nhwc[0][1] = true;
    conv(net, e->concat[0], 2, 1, false);
}

static void with_input(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 4, 3, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){x, a}, 2);
    e->placed[0][1] = true;
    conv(net, e->concat[0], 2, 3, false);
    same_in_nhwc(e);
}

static void nested(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 2, 1, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b}, 2);
    const cc_node d = conv(net, x, 5, 1, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){d, e->concat[0]}, 2);
    e->placed[0][0] = e->placed[0][1] = e->placed[1][0] = e->placed[1][1] = true;
    conv(net, e->concat[1], 3, 1, false);
    /* NHWC: the inner concat is written by no single conv: copied. */
    same_in_nhwc(e);
    e->placed_nhwc[1][1] = false;
}

static void relu_on_concat(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, false), b = conv(net, x, 2, 1, false);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b}, 2);
    e->placed[0][0] = e->placed[0][1] = true;
    const cc_activation act = {CC_ACTIVATION_SIGMOID, 0.0f};
    cc_node out;
    assert_int_equal(cc_net_add_activation(net, NULL, e->concat[0], &act, &out), CC_OK);
    same_in_nhwc(e);
}

static void add_in_place(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 3, 1, true);
    const cc_activation act = {CC_ACTIVATION_TANH, 0.0f};
    cc_node t, sum;
    assert_int_equal(cc_net_add_activation(net, NULL, a, &act, &t), CC_OK);
    assert_int_equal(cc_net_add_add(net, NULL, (const cc_node[]){t, b}, 2, &sum), CC_OK);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){sum, b}, 2);
    e->placed[0][0] = e->placed[0][1] = true;
    /* NHWC: sum is an add in place on the tanh's buffer (no conv's sweep
     * alone), and the add reads b too: both copied. */
    conv(net, e->concat[0], 2, 1, false);
}

/* a is read by a pool before the concat, and the pool is an input too:
 * NCHW places all three; NHWC only b (a has another reader, the pool is
 * no conv). */
static void read_before(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 2, 1, false);
    const cc_pool2d_params pool = {CC_POOL_MAX, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0};
    cc_node pooled;
    assert_int_equal(cc_net_add_pool(net, NULL, a, &pool, &pooled), CC_OK);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b, pooled}, 3);
    e->placed[0][0] = e->placed[0][1] = e->placed[0][2] = true;
    e->placed_nhwc[0][1] = true;
    conv(net, e->concat[0], 2, 1, false);
}

/* DenseNet's chain: each concat joins the one before's inputs and one
 * more, and each is read by a conv. NCHW (batch 1): the chain shares one
 * storage, every input at its channel offset in all; without the chain,
 * the last concat alone holds the inputs it reads last (not f1, read
 * again after it).
 * NHWC: only the last input, one conv's sweep read by the last concat
 * alone. */
static void dense_chain_graph(cc_net *net, expectation *e, bool relu_on_middle)
{
    const cc_node x = cc_net_input(net);
    const cc_node f0 = conv(net, x, 3, 3, true), f1 = conv(net, x, 2, 1, true);
    const cc_node g1 = conv(net, concat(net, (const cc_node[]){f0, f1}, 2), 2, 3, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){f0, f1, g1}, 3);
    cc_node middle = e->concat[0];
    if (relu_on_middle) {
        const cc_activation act = {CC_ACTIVATION_SIGMOID, 0.0f};
        assert_int_equal(cc_net_add_activation(net, NULL, middle, &act, &middle), CC_OK);
    }
    const cc_node g2 = conv(net, middle, 3, 1, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){f0, f1, g1, g2}, 4);
    /* f1 is read again after the chain. */
    const cc_node y = conv(net, e->concat[1], 2, 1, false), z = conv(net, f1, 2, 1, false);
    cc_node sum;
    assert_int_equal(cc_net_add_add(net, NULL, (const cc_node[]){y, z}, 2, &sum), CC_OK);
    e->placed_nhwc[1][3] = true;
    for (int k = 0; k < 4; k++) {
        e->placed[0][k] = k < 3 && !relu_on_middle;
        e->placed[1][k] = k != 1 || !relu_on_middle;
    }
}

static void dense_chain(cc_net *net, expectation *e) { dense_chain_graph(net, e, false); }

/* The same with an activation in place on the middle concat: it writes
 * the chain's storage after the concat, so the chain is not shared. */
static void dense_chain_written(cc_net *net, expectation *e) { dense_chain_graph(net, e, true); }

/* A concat of the network's input and a conv read again after it (no
 * input placed), read only by a batch norm with a ReLU: the batch norm
 * reads the two tensors where they are, and the concat is never written. */
static void batchnorm_gathers(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 4, 3, true);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){x, a}, 2);
    e->gathered[0] = e->gathered_nchw1[0] = true;
    cc_node normed, relu, sum;
    assert_int_equal(cc_net_add_batchnorm(net, NULL, e->concat[0], 1e-5f, &normed), CC_OK);
    const cc_activation act = {CC_ACTIVATION_RELU, 0.0f};
    assert_int_equal(cc_net_add_activation(net, NULL, normed, &act, &relu), CC_OK);
    const cc_node y = conv(net, relu, 2, 1, false), z = conv(net, a, 2, 1, false);
    assert_int_equal(cc_net_add_add(net, NULL, (const cc_node[]){y, z}, 2, &sum), CC_OK);
}

/* Two convs read by the concat alone, read by a batch norm: NCHW at
 * batch 1 computes them in place (nothing to gather); elsewhere the batch
 * norm gathers them (in NHWC rather than the convs writing strided). */
static void batchnorm_gathers_placeable(cc_net *net, expectation *e)
{
    const cc_node x = cc_net_input(net);
    const cc_node a = conv(net, x, 3, 3, true), b = conv(net, x, 2, 1, false);
    e->concat[e->concat_count++] = concat(net, (const cc_node[]){a, b}, 2);
    e->placed[0][0] = e->placed[0][1] = true;
    e->gathered[0] = true;
    cc_node normed;
    assert_int_equal(cc_net_add_batchnorm(net, NULL, e->concat[0], 1e-5f, &normed), CC_OK);
    conv(net, normed, 2, 1, false);
}

/* Each expected concat gathered by its batch norm when fusing. */
static void expect_gathered(const cc_net *net, const expectation *e, bool fusing,
                            const char *name)
{
    const bool nchw1 = net->compute == CC_NCHW && net->nodes[0].out.n == 1;
    for (int c = 0; c < e->concat_count; c++) {
        const bool gathered = net->plan.exec[e->concat[c]] != e->concat[c];
        const bool expected = nchw1 ? e->gathered_nchw1[c] : e->gathered[c];
        if (gathered != (fusing && expected))
            fail_msg("%s: concat %d is %sgathered", name, c, gathered ? "" : "not ");
    }
}

/* Biases and batch-norm tensors (rank 1), neutral at init, set to values
 * that differ from channel to channel (all positive: valid variances),
 * so that a channel given another's coefficients shows. */
static void vary_vectors(cc_net *net)
{
    for (int t = 0; t < cc_net_tensor_count(net); t++) {
        const char *name;
        int rank, shape[4];
        assert_int_equal(cc_net_tensor_info(net, t, &name, &rank, shape), CC_OK);
        if (rank != 1)
            continue;
        float values[64];
        assert_true(shape[0] <= 64);
        for (int i = 0; i < shape[0]; i++)
            values[i] = 0.5f + 0.125f * (float)((i * 5 + t) % 7);
        assert_int_equal(cc_net_set_tensor(net, name, values, (size_t)shape[0]), CC_OK);
    }
}

static cc_net *make(graph_fn graph, cc_layout layout, int batch, const cc_net_build_options *o,
                    expectation *e)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(layout, batch, 3, 7, 6, &net), CC_OK);
    memset(e, 0, sizeof *e);
    graph(net, e);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 7), CC_OK);
    vary_vectors(net);
    if (cc_net_build(net, o) != CC_OK)
        fail_msg("build: %s", cc_last_error());
    return net;
}

static float *run(cc_net *net, const float *x, int threads)
{
    cc_set_num_threads(threads);
    float *y = malloc(cc_net_output_count(net) * sizeof(float));
    assert_non_null(y);
    assert_int_equal(cc_net_run(net, x, y), CC_OK);
    cc_set_num_threads(0);
    return y;
}

/* The inputs of each concat that share its storage, at their offset
 * (placing: as e expects in the network's layout, else none). */
static void expect_placement(const cc_net *net, const expectation *e, bool placing,
                             const char *name)
{
    const bool nhwc = net->compute == CC_NHWC;
    for (int c = 0; c < e->concat_count; c++) {
        const cc__node *node = &net->nodes[e->concat[c]];
        const size_t per_channel = cc__concat_channel_floats(net, node);
        size_t offset = net->plan.offset[e->concat[c]];
        for (int k = 0; k < node->input_count; k++) {
            const int in = node->inputs[k];
            const bool shared = net->plan.storage[in] == net->plan.storage[e->concat[c]] &&
                                net->plan.offset[in] == offset;
            const bool expected = nhwc ? e->placed_nhwc[c][k] : e->placed[c][k];
            if (shared != (placing && expected))
                fail_msg("%s: concat %d input %d is %splaced", name, c, k, shared ? "" : "not ");
            offset += (size_t)net->nodes[in].out.c * per_channel;
        }
    }
}

static void check_graph(const char *name, graph_fn graph)
{
    const cc_net_build_options separate = {.no_buffer_reuse = 1}, unfused = {.no_fusion = 1};
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
        for (int batch = 1; batch <= 2; batch++) {
            char label[96];
            snprintf(label, sizeof label, "%s %s batch %d", name,
                     layout == CC_NCHW ? "NCHW" : "NHWC", batch);
            expectation e;
            cc_net *plain = make(graph, (cc_layout)layout, batch, &separate, &e);
            cc_net *placed = make(graph, (cc_layout)layout, batch, NULL, &e);
            cc_net *loose = make(graph, (cc_layout)layout, batch, &unfused, &e);
            expect_placement(placed, &e, layout == CC_NHWC || batch == 1, label);
            expect_placement(plain, &e, false, label);
            expect_gathered(placed, &e, true, label);
            expect_gathered(plain, &e, false, label);
            expect_gathered(loose, &e, false, label);
            const size_t in = cc_net_input_count(plain), out = cc_net_output_count(plain);
            tst_rng rng;
            tst_rng_seed(&rng, 11);
            float *x = malloc(in * sizeof(float));
            assert_non_null(x);
            tst_fill(&rng, x, in, false);
            float *want = run(plain, x, 1);
            cc_net *const nets[] = {placed, loose};
            for (size_t n = 0; n < ARRAY_LEN(nets); n++)
                for (int threads = 1; threads <= 2; threads++) {
                    float *got = run(nets[n], x, threads);
                    if (memcmp(got, want, out * sizeof(float)) != 0)
                        fail_msg("%s: %s plan on %d threads differs from separate buffers",
                                 label, n == 0 ? "default" : "unfused", threads);
                    free(got);
                }
            free(want);
            free(x);
            cc_net_destroy(plain);
            cc_net_destroy(placed);
            cc_net_destroy(loose);
        }
}

static void test_inception_towers(void **state)
{
    (void)state;
    check_graph("inception towers", inception_towers);
}

static void test_read_after_concat(void **state)
{
    (void)state;
    check_graph("input read after the concat", read_after);
}

static void test_repeated_input(void **state)
{
    (void)state;
    check_graph("input given twice", repeated);
}

static void test_network_input(void **state)
{
    (void)state;
    check_graph("network input in the concat", with_input);
}

static void test_nested(void **state)
{
    (void)state;
    check_graph("concat of a concat", nested);
}

static void test_activation_on_concat(void **state)
{
    (void)state;
    check_graph("activation in place on the concat", relu_on_concat);
}

static void test_add_in_place(void **state)
{
    (void)state;
    check_graph("add in place on an input", add_in_place);
}

static void test_read_before_concat(void **state)
{
    (void)state;
    check_graph("input read by a pool before the concat", read_before);
}

/* Inception 3a from the zoo at batch 1, its layers in NCHW: every tower is
 * computed in its slice. */
static void test_dense_chain(void **state)
{
    (void)state;
    check_graph("chain of concats", dense_chain);
    check_graph("chain of concats written in place", dense_chain_written);
}

static void test_batchnorm_gathers(void **state)
{
    (void)state;
    check_graph("batch norm gathering a concat", batchnorm_gathers);
    check_graph("batch norm gathering placeable inputs", batchnorm_gathers_placeable);
}

static void test_zoo_inception(void **state)
{
    (void)state;
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized("inception3a", CC_NCHW, 1, 9, 9, &net), CC_OK);
    assert_int_equal(cc_net_init_weights(net, CC_INIT_HE, 3), CC_OK);
    const cc_net_build_options nchw = {.compute_layout = CC_COMPUTE_NCHW};
    assert_int_equal(cc_net_build(net, &nchw), CC_OK);
    int concat = -1;
    for (int i = 0; i < cc_net_node_count(net); i++)
        if (net->nodes[i].kind == CC__NODE_CONCAT)
            concat = i;
    assert_true(concat > 0);
    for (int k = 0; k < net->nodes[concat].input_count; k++)
        assert_int_equal(net->plan.storage[net->nodes[concat].inputs[k]],
                         net->plan.storage[concat]);
    cc_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inception_towers),   cmocka_unit_test(test_read_after_concat),
        cmocka_unit_test(test_repeated_input),     cmocka_unit_test(test_network_input),
        cmocka_unit_test(test_nested),             cmocka_unit_test(test_activation_on_concat),
        cmocka_unit_test(test_add_in_place),
        cmocka_unit_test(test_dense_chain),
        cmocka_unit_test(test_batchnorm_gathers),
        cmocka_unit_test(test_read_before_concat),       cmocka_unit_test(test_zoo_inception),
    };
    return cmocka_run_group_tests_name("net_concat", tests, NULL, NULL);
}
