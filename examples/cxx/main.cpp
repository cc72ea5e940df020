// colconv from C++: the C handles held in std::unique_ptr, statuses turned
// into exceptions; one convolution run from four std::threads at once (one
// operator may be shared by threads), then GoogLeNet's Inception 3a block
// from the zoo. Exits 0 when the results are as expected.
#include <colconv.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

void check(cc_status status, const char *what)
{
    if (status != CC_OK)
        throw std::runtime_error(std::string(what) + ": " + cc_status_str(status) + ": " +
                                 cc_last_error());
}

struct ConvDeleter {
    void operator()(cc_conv2d *op) const { cc_conv2d_destroy(op); }
};
struct NetDeleter {
    void operator()(cc_net *net) const { cc_net_destroy(net); }
};
using Conv = std::unique_ptr<cc_conv2d, ConvDeleter>;
using Net = std::unique_ptr<cc_net, NetDeleter>;

std::vector<float> random_vector(size_t count, unsigned seed)
{
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(count);
    for (float &x : v)
        x = dist(gen);
    return v;
}

Conv make_conv(const cc_conv2d_params &p, cc_algo algo, const std::vector<float> &weights,
               const std::vector<float> &bias)
{
    cc_conv2d *op = nullptr;
    check(cc_conv2d_create(&p, algo, weights.data(), bias.data(), &op), "cc_conv2d_create");
    return Conv(op);
}

// A strided 3x3 conv, NHWC, 32 -> 64 channels; four threads share one
// operator, each with its own input and output, and must agree with the
// reference path.
void run_conv()
{
    cc_conv2d_params p{};
    p.batch = 1, p.in_channels = 32, p.in_h = 35, p.in_w = 35;
    p.out_channels = 64, p.kernel_h = 3, p.kernel_w = 3, p.stride_h = 2, p.stride_w = 2;
    p.layout = CC_NHWC, p.activation = CC_ACT_NONE;
    check(cc_conv2d_pad_same(&p), "cc_conv2d_pad_same");
    int oh = 0, ow = 0;
    check(cc_conv2d_output_size(&p, &oh, &ow), "cc_conv2d_output_size");

    const auto weights = random_vector(64 * 32 * 9, 1), bias = random_vector(64, 2);
    const Conv op = make_conv(p, CC_ALGO_AUTO, weights, bias);
    const Conv ref = make_conv(p, CC_ALGO_REFERENCE, weights, bias);
    const size_t n_in = size_t(35) * 35 * 32, n_out = size_t(oh) * ow * 64;

    std::vector<std::vector<float>> inputs, outputs(4, std::vector<float>(n_out));
    std::vector<cc_status> statuses(4, CC_OK);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; t++)
        inputs.push_back(random_vector(n_in, 10 + t));
    for (unsigned t = 0; t < 4; t++)
        threads.emplace_back([&, t] {
            statuses[t] = cc_conv2d_run(op.get(), inputs[t].data(), outputs[t].data());
        });
    for (auto &thread : threads)
        thread.join();

    double worst = 0.0;
    std::vector<float> expected(n_out);
    for (unsigned t = 0; t < 4; t++) {
        check(statuses[t], "cc_conv2d_run (thread)");
        check(cc_conv2d_run(ref.get(), inputs[t].data(), expected.data()), "cc_conv2d_run");
        for (size_t i = 0; i < n_out; i++)
            worst = std::fmax(worst, std::fabs(double(outputs[t][i]) - expected[i]));
    }
    std::printf("conv NHWC 35x35x32 -> %dx%dx64 (stride 2, same): path %s, 4 threads, "
                "max |auto - reference| = %.2g\n",
                oh, ow, cc_algo_name(cc_conv2d_algo(op.get())), worst);
    if (!(worst <= 1e-4 * 32 * 9))
        throw std::runtime_error("conv results differ from the reference");
}

// The Inception 3a block: 192 channels at 28x28 in, 64 + 128 + 32 + 32 out.
void run_net()
{
    cc_net *raw = nullptr;
    check(cc_net_zoo_create("inception3a", CC_NCHW, 1, &raw), "cc_net_zoo_create");
    const Net net(raw);
    check(cc_net_init_weights(net.get(), CC_INIT_XAVIER, 7), "cc_net_init_weights");
    check(cc_net_build(net.get(), nullptr), "cc_net_build");

    const auto input = random_vector(cc_net_input_count(net.get()), 3);
    std::vector<float> output(cc_net_output_count(net.get()));
    check(cc_net_run(net.get(), input.data(), output.data()), "cc_net_run");

    int n = 0, c = 0, h = 0, w = 0;
    check(cc_net_output_shape(net.get(), &n, &c, &h, &w), "cc_net_output_shape");
    cc_net_stats stats{};
    check(cc_net_get_stats(net.get(), &stats), "cc_net_get_stats");
    double sum = 0.0;
    for (float x : output) {
        if (!std::isfinite(x) || x < 0.0f) // every tower ends in a ReLU
            throw std::runtime_error("inception3a output out of range");
        sum += x;
    }
    std::printf("inception3a: output %dx%dx%dx%d, %zu parameters, %.3f GFLOP, mean %.4f\n", n, c,
                h, w, stats.params, double(stats.flops) * 1e-9, sum / double(output.size()));
    if (c != 256 || h != 28 || w != 28)
        throw std::runtime_error("inception3a output shape");
}

} // namespace

int main()
{
    std::printf("colconv %s (header %d.%d.%d), ISA %s, %d threads\n", cc_version(),
                CC_VERSION_MAJOR, CC_VERSION_MINOR, CC_VERSION_PATCH, cc_cpu_isa(),
                cc_get_num_threads());
    try {
        run_conv();
        run_net();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "example failed: %s\n", e.what());
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
