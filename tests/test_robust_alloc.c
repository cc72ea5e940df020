/* Allocation failure, injected at every allocation colconv makes: creating
 * and running each conv path, each layer type through the network API, the
 * small zoo networks, and weights files.
 *
 * A script is a fixed sequence of API calls. It is first run with an
 * allocator that never fails, counting its allocations (N). Then, for each
 * k in 1..N, it runs again with an allocator that fails the k-th allocation
 * only: the call that made it must return CC_ERR_NOMEM with a message, and
 * calling it again (the network API promises that a failed call leaves the
 * network as it was) must succeed, so the script goes on to the end. Each
 * run must then give bitwise the output of the clean run, free every block
 * (the allocator counts live blocks), and leave objects made before the
 * loop working. Each failed allocation must be reported by exactly one call. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/conv/conv_internal.h"

/* ---- the failing allocator ---------------------------------------------- */

/* The injected allocator, and the CC_ERR_NOMEM statuses the script saw. */
static tst_failing_allocator inj;
static int reported;

static void injector_install(int fail_at)
{
    tst_failing_allocator_install(&inj, fail_at);
    reported = 0;
}

/* Runs `call`; a CC_ERR_NOMEM must come from the injected failure, carry a
 * message, and the same call made again must succeed. */
#define STEP(call)                                                                   \
    do {                                                                             \
        cc_status step_status = (call);                                              \
        if (step_status == CC_ERR_NOMEM) {                                           \
            if (!inj.failed || strlen(cc_last_error()) == 0)                         \
                fail_msg("%s: NOMEM without an injected failure or without a message", \
                         #call);                                                     \
            reported++;                                                          \
            step_status = (call);                                                    \
        }                                                                            \
        if (step_status != CC_OK)                                                    \
            fail_msg("%s (allocation %d failed): %s: %s", #call, inj.fail_at,        \
                     cc_status_str(step_status), cc_last_error());                   \
    } while (0)

/* ---- the driver --------------------------------------------------------- */

typedef void (*script_fn)(const void *arg, float *output);

/* Objects made with the default allocator before the loops; checked after
 * every injected failure. */
typedef struct {
    cc_conv2d *op;
    cc_net *net;
    float input[2 * 3 * 9 * 9], op_output[2 * 4 * 7 * 7], net_output[2 * 10];
} bystanders;

static bystanders *by;

static void bystanders_check(void)
{
    float now[2 * 4 * 7 * 7];
    assert_int_equal(cc_conv2d_run(by->op, by->input, now), CC_OK);
    assert_memory_equal(now, by->op_output, sizeof by->op_output);
    float net_now[2 * 10];
    assert_int_equal(cc_net_run(by->net, by->input, net_now), CC_OK);
    assert_memory_equal(net_now, by->net_output, sizeof by->net_output);
}

static int total_points;

/* Runs the script clean, then failing each of its allocations in turn. */
static int exercise(const char *what, script_fn script, const void *arg, size_t output_count)
{
    float *expected = malloc(output_count * sizeof(float));
    float *got = malloc(output_count * sizeof(float));
    assert_true(expected != NULL && got != NULL);
    injector_install(0);
    script(arg, expected);
    const int allocations = inj.calls;
    assert_int_equal(inj.live, 0);
    assert_int_equal(reported, 0);
    for (int k = 1; k <= allocations; k++) {
        injector_install(k);
        memset(got, 0xff, output_count * sizeof(float));
        script(arg, got);
        if (!inj.failed || reported != 1)
            fail_msg("%s: allocation %d of %d: failed %d, reported %d times", what, k,
                     allocations, inj.failed, reported);
        if (inj.live != 0)
            fail_msg("%s: allocation %d of %d failed: %ld blocks leaked", what, k, allocations,
                     inj.live);
        if (memcmp(got, expected, output_count * sizeof(float)) != 0)
            fail_msg("%s: allocation %d of %d failed: the output differs", what, k,
                     allocations);
        assert_int_equal(cc_set_allocator(NULL), CC_OK);
        bystanders_check();
    }
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    free(expected);
    free(got);
    total_points += allocations;
    return allocations;
}

static void fill(float *data, size_t count, uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    tst_fill(&rng, data, count, false);
}

/* ---- conv operators ----------------------------------------------------- */

typedef struct {
    cc_conv2d_params p;
    cc_algo algo;
} conv_case;

static size_t conv_output_count(const cc_conv2d_params *p)
{
    int oh, ow;
    assert_int_equal(cc_conv2d_output_size(p, &oh, &ow), CC_OK);
    return (size_t)p->batch * p->out_channels * oh * ow;
}

/* Create on one thread, run on two (the workspace grows), run while another
 * run holds the workspace (a private one is allocated), destroy. */
static void conv_script(const void *arg, float *output)
{
    const conv_case *c = arg;
    const cc_conv2d_params *p = &c->p;
    const size_t in_count = (size_t)p->batch * p->in_channels * p->in_h * p->in_w;
    const size_t w_count = (size_t)p->out_channels * (p->in_channels / (p->groups ? p->groups : 1)) *
                           p->kernel_h * p->kernel_w;
    float *input = malloc(in_count * sizeof(float)), *weights = malloc(w_count * sizeof(float));
    float bias[64];
    fill(input, in_count, 1);
    fill(weights, w_count, 2);
    fill(bias, (size_t)p->out_channels, 3);
    cc_set_num_threads(1);
    cc_conv2d *op = NULL;
    STEP(cc_conv2d_create(p, c->algo, weights, bias, &op));
    cc_set_num_threads(2);
    STEP(cc_conv2d_run(op, input, output));
    atomic_flag_test_and_set(&op->workspace_busy);
    STEP(cc_conv2d_run(op, input, output));
    atomic_flag_clear(&op->workspace_busy);
    cc_conv2d_destroy(op);
    cc_set_num_threads(0);
    free(input);
    free(weights);
}

static cc_conv2d_params conv_params(int c, int hw, int oc, int k, int stride, int pad, int groups,
                                    cc_layout layout)
{
    cc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.batch = 2, p.in_channels = c, p.in_h = p.in_w = hw, p.out_channels = oc;
    p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
    p.groups = groups, p.layout = layout, p.activation = CC_ACT_RELU;
    return p;
}

static void conv_paths(void **state)
{
    (void)state;
    const cc_algo algos[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL, CC_ALGO_AUTO};
    int points = 0;
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++) {
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
            conv_case c = {conv_params(6, 11, 8, 3, 1, 1, 2, (cc_layout)layout), algos[a]};
            points += exercise(cc_algo_name(algos[a]), conv_script, &c, conv_output_count(&c.p));
            c.p = conv_params(4, 9, 4, 3, 2, 1, 4, (cc_layout)layout); /* depthwise */
            points += exercise(cc_algo_name(algos[a]), conv_script, &c, conv_output_count(&c.p));
        }
        for (cc_algo a = CC_ALGO_WINOGRAD; a <= CC_ALGO_WINOGRAD_F6X6; a++) { /* 3x3 stride 1 */
            conv_case c = {conv_params(6, 11, 8, 3, 1, 1, 2, (cc_layout)layout), a};
            points += exercise(cc_algo_name(a), conv_script, &c, conv_output_count(&c.p));
        }
        for (int stride = 1; stride <= 2; stride++) { /* copy-free and gathering 1x1 */
            conv_case c = {conv_params(16, 10, 12, 1, stride, 0, 1, (cc_layout)layout),
                           CC_ALGO_GEMM1X1};
            points += exercise("gemm1x1", conv_script, &c, conv_output_count(&c.p));
        }
    }
    print_message("conv paths: %d allocation failure points exercised\n", points);
    assert_true(points >= 40);
}

/* ---- layers through the network API ------------------------------------- */

typedef struct {
    const char *what;
    cc_layout layout;
    int channels, size;
    void (*add)(cc_net *net);
    bool no_fusion;
} net_case;

static void add_conv_each_algo(cc_net *net)
{
    const cc_algo algos[] = {CC_ALGO_REFERENCE, CC_ALGO_DIRECT, CC_ALGO_IM2COL,
                             CC_ALGO_WINOGRAD,  CC_ALGO_AUTO};
    cc_node x = cc_net_input(net);
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        const cc_net_conv_params p = {.out_channels = 6, .kernel_h = 3, .kernel_w = 3,
                                      .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                                      .pad_right = 1, .algo = algos[a]};
        STEP(cc_net_add_conv(net, NULL, x, &p, &x));
    }
    const cc_net_conv_params one = {.out_channels = 5, .kernel_h = 1, .kernel_w = 1,
                                    .stride_h = 2, .stride_w = 2, .algo = CC_ALGO_GEMM1X1};
    STEP(cc_net_add_conv(net, "one_by_one", x, &one, &x));
}

static void add_pools(cc_net *net)
{
    cc_pool2d_params max = {.kind = CC_POOL_MAX, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                            .stride_w = 2, .pad_top = 1, .pad_left = 1, .ceil_mode = 1};
    cc_pool2d_params avg = {.kind = CC_POOL_AVG, .kernel_h = 2, .kernel_w = 2};
    cc_node x;
    STEP(cc_net_add_pool(net, "max", cc_net_input(net), &max, &x));
    STEP(cc_net_add_pool(net, "avg", x, &avg, &x));
    STEP(cc_net_add_global_pool(net, "global", x, CC_POOL_MAX, &x));
}

static void add_activations(cc_net *net)
{
    const cc_activation_kind kinds[] = {CC_ACTIVATION_RELU, CC_ACTIVATION_LEAKY_RELU,
                                        CC_ACTIVATION_SIGMOID, CC_ACTIVATION_TANH,
                                        CC_ACTIVATION_ELU};
    cc_node x = cc_net_input(net);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const cc_activation act = {kinds[i], 0.1f};
        STEP(cc_net_add_activation(net, NULL, x, &act, &x));
    }
}

static void add_fc_softmax(cc_net *net)
{
    cc_node x;
    STEP(cc_net_add_fc(net, "fc1", cc_net_input(net), 12, &x));
    STEP(cc_net_add_dropout(net, "drop", x, &x));
    STEP(cc_net_add_fc(net, "fc2", x, 7, &x));
    STEP(cc_net_add_softmax(net, "prob", x, &x));
}

static void add_lrn_softmax(cc_net *net)
{
    const cc_lrn_params lrn = {5, 1e-2f, 0.75f, 2.0f};
    cc_node x;
    STEP(cc_net_add_lrn(net, "lrn", cc_net_input(net), &lrn, &x));
    STEP(cc_net_add_softmax(net, "softmax", x, &x));
}

static void add_concat_add(cc_net *net)
{
    const cc_net_conv_params p = {.out_channels = 4, .kernel_h = 1, .kernel_w = 1};
    const cc_activation relu = {CC_ACTIVATION_RELU, 0.0f};
    cc_node a, b, c, sum, cat;
    STEP(cc_net_add_conv(net, "a", cc_net_input(net), &p, &a));
    STEP(cc_net_add_conv(net, "b", cc_net_input(net), &p, &b));
    STEP(cc_net_add_conv(net, "c", cc_net_input(net), &p, &c));
    const cc_node three[3] = {a, b, c};
    STEP(cc_net_add_add(net, "sum", three, 3, &sum));
    STEP(cc_net_add_activation(net, "relu", sum, &relu, &sum));
    const cc_node parts[4] = {a, sum, cc_net_input(net), c};
    STEP(cc_net_add_concat(net, "cat", parts, 4, &cat));
}

static void add_batchnorms(cc_net *net)
{
    const cc_net_conv_params p = {.out_channels = 5, .kernel_h = 3, .kernel_w = 3,
                                  .no_bias = 1};
    const cc_pool2d_params pool = {.kind = CC_POOL_AVG, .kernel_h = 2, .kernel_w = 2};
    cc_node x;
    STEP(cc_net_add_conv(net, "conv", cc_net_input(net), &p, &x));
    STEP(cc_net_add_batchnorm(net, "folded", x, 1e-5f, &x));
    STEP(cc_net_add_pool(net, "pool", x, &pool, &x));
    STEP(cc_net_add_batchnorm(net, "standalone", x, 1e-3f, &x));
}

static void add_blocks(cc_net *net)
{
    const cc_net_inception_params inception = {4, 3, 5, 2, 3, 2};
    cc_node x;
    STEP(cc_net_add_bottleneck(net, "block", cc_net_input(net), 4, 16, 2, &x));
    STEP(cc_net_add_inception(net, "mixed", x, &inception, &x));
}

/* Create, add, query, give weights, build, run, change a tensor after the
 * build (the operators are re-created), run again, destroy. */
static void net_script(const void *arg, float *output)
{
    const net_case *c = arg;
    cc_net *net = NULL;
    STEP(cc_net_create(c->layout, 2, c->channels, c->size, c->size, &net));
    c->add(net);
    cc_net_stats stats;
    STEP(cc_net_get_stats(net, &stats));
    STEP(cc_net_init_weights(net, CC_INIT_HE, 99));
    const cc_net_build_options options = {.no_fusion = c->no_fusion};
    STEP(cc_net_build(net, &options));
    const size_t in_count = cc_net_input_count(net), out_count = cc_net_output_count(net);
    float *input = malloc(in_count * sizeof(float));
    fill(input, in_count, 4);
    STEP(cc_net_run(net, input, output));
    if (cc_net_tensor_count(net) > 0) {
        const char *name;
        int rank, shape[4];
        STEP(cc_net_tensor_info(net, 0, &name, &rank, shape));
        size_t count = 1;
        for (int d = 0; d < rank; d++)
            count *= (size_t)shape[d];
        float *tensor = malloc(count * sizeof(float));
        fill(tensor, count, 5);
        STEP(cc_net_set_tensor(net, name, tensor, count));
        free(tensor);
    }
    STEP(cc_net_run(net, input, output + out_count));
    cc_net_destroy(net);
    free(input);
}

/* Output floats of a case (two runs' worth). */
static size_t net_output_count(const net_case *c)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_create(c->layout, 2, c->channels, c->size, c->size, &net), CC_OK);
    c->add(net);
    const size_t count = 2 * cc_net_output_count(net);
    cc_net_destroy(net);
    return count;
}

static void layer_types(void **state)
{
    (void)state;
    const net_case cases[] = {
        {"conv paths", CC_NCHW, 3, 9, add_conv_each_algo, true},
        {"pools", CC_NCHW, 3, 11, add_pools, false},
        {"activations", CC_NCHW, 2, 5, add_activations, true},
        {"fc, dropout, softmax", CC_NCHW, 3, 4, add_fc_softmax, false},
        {"lrn, softmax", CC_NCHW, 6, 4, add_lrn_softmax, false},
        {"concat, add", CC_NCHW, 3, 6, add_concat_add, false},
        {"batch norms", CC_NCHW, 3, 8, add_batchnorms, false},
        {"bottleneck, inception", CC_NCHW, 8, 8, add_blocks, false},
    };
    int points = 0;
    cc_set_num_threads(1); /* the same allocations, without fork/join costs */
    for (int layout = CC_NCHW; layout <= CC_NHWC; layout++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            net_case c = cases[i];
            c.layout = (cc_layout)layout;
            points += exercise(c.what, net_script, &c, net_output_count(&c));
        }
    cc_set_num_threads(0);
    print_message("layer types: %d allocation failure points exercised\n", points);
    assert_true(points >= 200);
}

/* ---- the zoo and weights files ------------------------------------------ */

typedef struct {
    const char *name;
    int size; /* 0: the network's own */
    cc_layout layout;
    const char *weights_path; /* loaded instead of initialised when not NULL */
    cc_compute_layout compute; /* the layers' layout */
} zoo_case;

static void zoo_script(const void *arg, float *output)
{
    const zoo_case *c = arg;
    cc_net *net = NULL;
    STEP(cc_net_zoo_create_sized(c->name, c->layout, 1, c->size, c->size, &net));
    if (c->weights_path != NULL)
        STEP(cc_net_load_weights(net, c->weights_path));
    else
        STEP(cc_net_init_weights(net, CC_INIT_XAVIER, 7));
    const cc_net_build_options options = {.compute_layout = c->compute};
    STEP(cc_net_build(net, &options));
    const size_t in_count = cc_net_input_count(net);
    float *input = malloc(in_count * sizeof(float));
    fill(input, in_count, 6);
    STEP(cc_net_run(net, input, output));
    if (c->weights_path != NULL) /* reloading a built network re-packs it */
        STEP(cc_net_load_weights(net, c->weights_path));
    STEP(cc_net_run(net, input, output));
    cc_net_destroy(net);
    free(input);
}

static size_t zoo_output_count(const zoo_case *c)
{
    cc_net *net = NULL;
    assert_int_equal(cc_net_zoo_create_sized(c->name, c->layout, 1, c->size, c->size, &net),
                     CC_OK);
    const size_t count = cc_net_output_count(net);
    cc_net_destroy(net);
    return count;
}

static void zoo_networks(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "/tmp/colconv_robust_alloc_%d.ccw", (int)getpid());
    cc_net *saved = NULL;
    assert_int_equal(cc_net_zoo_create("lenet5", CC_NCHW, 1, &saved), CC_OK);
    assert_int_equal(cc_net_init_weights(saved, CC_INIT_HE, 3), CC_OK);
    assert_int_equal(cc_net_save_weights(saved, path), CC_OK);
    cc_net_destroy(saved);
    const zoo_case cases[] = {
        {"lenet5", 0, CC_NCHW, NULL, CC_COMPUTE_AUTO},
        {"lenet5", 0, CC_NHWC, path, CC_COMPUTE_AUTO},
        {"lenet", 0, CC_NHWC, NULL, CC_COMPUTE_AUTO},
        {"inception3a", 8, CC_NCHW, NULL, CC_COMPUTE_AUTO},
        {"inception3a", 6, CC_NHWC, NULL, CC_COMPUTE_AUTO},
        {"bottleneck", 6, CC_NHWC, NULL, CC_COMPUTE_AUTO},
        /* Layers in NHWC under an NCHW network: its input reordered. */
        {"bottleneck", 6, CC_NCHW, NULL, CC_COMPUTE_NHWC},
    };
    int points = 0;
    cc_set_num_threads(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int n = exercise(cases[i].name, zoo_script, &cases[i], zoo_output_count(&cases[i]));
        print_message("  %s %d: %d\n", cases[i].name, cases[i].size, n);
        points += n;
    }
    cc_set_num_threads(0);
    remove(path);
    print_message("zoo networks and weights files: %d allocation failure points exercised\n",
                  points);
    assert_true(points >= 100);
}

/* ---- setup -------------------------------------------------------------- */

static int make_bystanders(void **state)
{
    (void)state;
    by = calloc(1, sizeof *by);
    fill(by->input, sizeof by->input / sizeof(float), 8);
    cc_conv2d_params p = conv_params(3, 9, 4, 3, 1, 0, 1, CC_NCHW);
    float weights[4 * 3 * 9];
    fill(weights, 4 * 3 * 9, 9);
    if (cc_conv2d_create(&p, CC_ALGO_IM2COL, weights, NULL, &by->op) != CC_OK ||
        cc_conv2d_run(by->op, by->input, by->op_output) != CC_OK)
        return -1;
    cc_node x;
    const cc_net_conv_params c = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3};
    if (cc_net_create(CC_NCHW, 2, 3, 9, 9, &by->net) != CC_OK ||
        cc_net_add_conv(by->net, "conv", 0, &c, &x) != CC_OK ||
        cc_net_add_fc(by->net, "fc", x, 10, &x) != CC_OK)
        return -1;
    if (cc_net_init_weights(by->net, CC_INIT_HE, 1) != CC_OK ||
        cc_net_build(by->net, NULL) != CC_OK ||
        cc_net_run(by->net, by->input, by->net_output) != CC_OK)
        return -1;
    return 0;
}

static int free_bystanders(void **state)
{
    (void)state;
    cc_conv2d_destroy(by->op);
    cc_net_destroy(by->net);
    free(by);
    print_message("total: %d allocation failure points exercised, each reported as "
                  "CC_ERR_NOMEM, nothing leaked\n", total_points);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_paths),
        cmocka_unit_test(layer_types),
        cmocka_unit_test(zoo_networks),
    };
    return cmocka_run_group_tests(tests, make_bystanders, free_bystanders);
}
